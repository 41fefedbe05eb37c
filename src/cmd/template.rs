//! `zonestat template`: the blank forms of the catalogue written for the zones.

use crate::catalog::Catalogue;
use crate::template::{TemplateRequest, creation_time, write_templates};

/// `zonestat template`: names every workbook written.
///
/// # Errors
/// A workbook that cannot be written.
pub fn template(req: &TemplateRequest, cat: &Catalogue) -> anyhow::Result<u8> {
    let created = creation_time();
    for path in write_templates(req, cat, &created)? {
        outln!("已生成 {}", path.display());
    }
    Ok(0)
}
