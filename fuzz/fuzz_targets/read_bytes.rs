//! Bytes in, findings out: `zonestat::read::read_bytes` must never panic,
//! hang or abort, whatever the bytes, under each of the names a mailed file
//! may have.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zonestat::catalog::Catalogue;
use zonestat::read::{Outcome, read_bytes};

fn catalogue() -> &'static Catalogue {
    static CAT: OnceLock<Catalogue> = OnceLock::new();
    CAT.get_or_init(Catalogue::bundled)
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the name, so one input is tried as each format
    // whatever its content says.
    let (name, bytes) = match data.split_first() {
        Some((b, rest)) => (["a.xlsx", "a.xls", "a.ods", "a.txt"][*b as usize % 4], rest),
        None => ("a.xlsx", data),
    };
    let file = read_bytes(bytes.to_vec(), name, name, catalogue());
    // Every file that is not read gets a reason.
    if file.outcome != Outcome::Read {
        assert!(!file.findings.is_empty());
    }
});
