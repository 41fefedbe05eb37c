//! A zip-based workbook (xlsx, xlsm, xlsb, ods) looked at in the worker
//! before calamine opens it, for what deserves a specific message to the
//! clerk: how many parts it declares, how large they say they inflate and
//! how much, whether they are encrypted (the `zip` crate's metadata; only
//! `[Content_Types].xml` is inflated, to tell an xlsm). What the parts then
//! make calamine do is the worker's limits' business.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::catalog::Limits;
use crate::read::workbook::OpenError;

/// Parts smaller than this are not held to the compression ratio: a sheet of
/// repeated markup compresses very well, and a few MB harm nobody (the total
/// is bounded by `max_unzipped_mb` anyway).
pub const RATIO_FLOOR: u64 = 10 << 20;

/// Checks a zip package's directory against the limits.
///
/// # Errors
/// [`OpenError::Limit`] naming the limit passed, [`OpenError::Password`] for
/// encrypted parts. A package the `zip` crate cannot open is let through:
/// calamine then reports it as damaged.
pub fn check(bytes: &[u8], limits: &Limits) -> Result<(), OpenError> {
    let declared = declared_entries(bytes);
    if declared > limits.max_zip_entries {
        return Err(OpenError::limit(
            "file.zip_entries",
            None,
            format!(
                "工作簿声明包含 {declared} 个部件，超过上限 {}（limits.max_zip_entries），文件可能被恶意构造，未读取。",
                limits.max_zip_entries
            ),
        ));
    }
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        if entry.encrypted() {
            return Err(OpenError::Password);
        }
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if size > RATIO_FLOOR && size / packed.max(1) > limits.max_compression_ratio {
            return Err(OpenError::limit(
                "file.zip_bomb",
                None,
                format!(
                    "工作簿中的部件“{}”从 {} 字节解压后达 {} MB，压缩比约 {}:1，超过上限 {}:1（limits.max_compression_ratio），疑似“压缩炸弹”，未读取。",
                    String::from_utf8_lossy(entry.name_raw()),
                    packed,
                    size.div_ceil(Limits::MIB),
                    size / packed.max(1),
                    limits.max_compression_ratio
                ),
            ));
        }
    }
    if total > limits.max_unzipped_bytes() {
        return Err(OpenError::limit(
            "file.too_large_unzipped",
            None,
            format!(
                "工作簿解压后共 {} MB，超过上限 {} MB（limits.max_unzipped_mb），未读取。报表文件解压后通常不足 1 MB，文件可能夹带了大量其他内容或被恶意构造。",
                total.div_ceil(Limits::MIB),
                limits.max_unzipped_mb
            ),
        ));
    }
    Ok(())
}

/// Whether an OOXML package's `[Content_Types].xml` declares a macro-enabled
/// workbook (an .xlsm). The part is small; one larger than 1 MB is not read.
/// (In the worker, after [`check`].)
pub fn macro_enabled(bytes: &[u8]) -> bool {
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else {
        return false;
    };
    let Ok(part) = zip.by_name("[Content_Types].xml") else {
        return false;
    };
    let mut text = Vec::new();
    part.take(1 << 20).read_to_end(&mut text).is_ok()
        && memchr::memmem::find(&text, b"macroEnabled").is_some()
}

/// The most entries any end-of-central-directory record near the end of the
/// file declares (zip64 ones included). The `zip` crate reads as many central
/// headers as the record it settles on declares, so this bounds its work.
fn declared_entries(bytes: &[u8]) -> u64 {
    const EOCD: [u8; 4] = [0x50, 0x4B, 0x05, 0x06];
    const LOCATOR: [u8; 4] = [0x50, 0x4B, 0x06, 0x07];
    const EOCD64: [u8; 4] = [0x50, 0x4B, 0x06, 0x06];
    // (0 where the file ends first)
    let u16_at = |at: usize| {
        let b = bytes.get(at..at + 2);
        b.map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u64_at = |at: usize| {
        let b = bytes.get(at..at + 8);
        b.map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let from = bytes.len().saturating_sub(22 + 65_535 + 20);
    let mut most = 0;
    let end = bytes.len().saturating_sub(21).max(from);
    for at in memchr::memmem::find_iter(&bytes[from..], &EOCD).map(|k| from + k) {
        if at >= end {
            break;
        }
        most = most.max(u16_at(at + 8)).max(u16_at(at + 10));
        if at >= 20
            && bytes[at - 20..at - 16] == LOCATOR
            && let Ok(off) = usize::try_from(u64_at(at - 20 + 8))
            && bytes.get(off..off + 4) == Some(&EOCD64[..])
        {
            most = most.max(u64_at(off + 24)).max(u64_at(off + 32));
        }
    }
    // A zip64 record may also be found by searching back from the end.
    let from64 = bytes.len().saturating_sub(1 << 20);
    let end64 = bytes.len().saturating_sub(55).max(from64);
    for at in memchr::memmem::find_iter(&bytes[from64..], &EOCD64).map(|k| from64 + k) {
        if at < end64 {
            most = most.max(u64_at(at + 24)).max(u64_at(at + 32));
        }
    }
    most
}
