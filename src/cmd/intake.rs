//! `zonestat intake`: the inbox filed into the data folder (the filing loop
//! is [`crate::intake`], shared with the portal), then each period's status.

use std::path::Path;

use crate::catalog::Catalogue;
use crate::intake::IntakeOptions;

/// `zonestat intake`: exit code 1 when a file was held or could not be filed.
///
/// # Errors
/// The archive's lock, a folder that cannot be listed or written.
pub fn intake(
    inbox: &Path,
    data: &Path,
    feedback: Option<&Path>,
    options: &IntakeOptions,
    cat: &Catalogue,
) -> anyhow::Result<u8> {
    super::ignore_hangup();
    let report = crate::intake::intake(inbox, data, cat, options, &mut super::say_err)?;
    out!("{}", crate::intake::render(&report, cat));
    for p in &report.periods {
        out!(
            "{}",
            crate::status::render(&crate::status::status(data, *p, cat)?)
        );
    }
    if let Some(dir) = feedback {
        super::feedback(&report.held_forms, None, cat, dir)?;
    }
    Ok(if report.needs_attention() { 1 } else { 0 })
}
