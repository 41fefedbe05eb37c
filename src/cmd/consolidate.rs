//! `zonestat consolidate`: one period through the pipeline
//! ([`crate::consolidate`]), the workbook and JSON summary written, the
//! summary on the terminal.

use std::path::Path;

use crate::catalog::Catalogue;
use crate::model::Period;

/// `zonestat consolidate`: exit code 1 when data are missing or rejected.
///
/// # Errors
/// A data folder that does not exist, an output that cannot be written.
pub fn consolidate(
    data: &Path,
    period: Period,
    output: &Path,
    json: Option<&Path>,
    feedback: Option<&Path>,
    cat: &Catalogue,
) -> anyhow::Result<u8> {
    let c = crate::consolidate::consolidate(data, period, cat)?;
    if let Some(dir) = feedback {
        super::feedback(&c.forms, Some(period), cat, dir)?;
    }
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            anyhow::anyhow!(
                "无法建立输出文件夹 {}：{}",
                dir.display(),
                crate::error::io_message(&e)
            )
        })?;
    }
    crate::report::write_pair(&c, cat, output, json)?;
    out!("{}", crate::report::summary_text(&c, cat, output));
    let code = if c.has_gaps() { 1 } else { 0 };
    // The process ends here and the system takes its memory back at
    // once; freeing a thousand zones' forms one by one takes a while.
    std::mem::forget(c);
    Ok(code)
}
