//! `zonestat serve`: the portal started ([`crate::serve`]).

use crate::catalog::Catalogue;

/// `zonestat serve`: runs until stopped.
///
/// # Errors
/// An address that cannot be listened on, a database that cannot be opened.
pub fn serve(config: crate::serve::Config, cat: Catalogue) -> anyhow::Result<u8> {
    crate::serve::run(config, cat)?;
    Ok(0)
}
