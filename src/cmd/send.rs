//! `zonestat send`: an assessment workbook mailed (the message and SMTP are
//! [`crate::mail`]).

use std::path::Path;

use crate::catalog::Catalogue;
use crate::mail::MailOptions;

/// `zonestat send`, or with `dry_run` the message written to a file.
///
/// # Errors
/// A workbook or summary that cannot be read or do not belong together, a
/// mail server that refuses.
pub fn send(
    report: &Path,
    summary: Option<&Path>,
    dry_run: Option<&Path>,
    options: &MailOptions,
    cat: &Catalogue,
) -> anyhow::Result<u8> {
    let outcome = crate::mail::send_file(report, summary, options, dry_run, cat)?;
    out!("{}", crate::mail::outcome_text(&outcome));
    Ok(0)
}
