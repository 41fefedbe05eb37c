//! `zonestat status`: who has reported for a period (the table is
//! [`crate::status`], shared with the portal).

use std::path::Path;

use crate::catalog::Catalogue;
use crate::model::Period;

/// `zonestat status`: exit code 1 while a form is outstanding.
///
/// # Errors
/// A data folder that cannot be listed.
pub fn status(data: &Path, period: Period, cat: &Catalogue) -> anyhow::Result<u8> {
    let table = crate::status::status(data, period, cat)?;
    out!("{}", crate::status::render(&table));
    Ok(if table.outstanding().next().is_some() {
        1
    } else {
        0
    })
}
