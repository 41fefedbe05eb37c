//! The floor of a consolidation's cost: open every workbook under the given
//! folders with calamine and touch every cell of every sheet, on one core,
//! with nothing else (no limits, no validation, no report). The benchmark
//! script compares `zonestat consolidate` with this.
//!
//! ```sh
//! cargo run --release --example floor -- /tmp/zs1000/data
//! ```

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::time::Instant;

use calamine::{Data, Reader, open_workbook_auto_from_rs};

fn workbooks(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            workbooks(&p, out)?;
            continue;
        }
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let workbook = [".xlsx", ".xls", ".ods"].iter().any(|e| name.ends_with(e));
        if workbook && !name.starts_with("~$") {
            out.push(p);
        }
    }
    Ok(())
}

/// Opens one workbook and touches every cell; returns (cells, a checksum).
fn touch(path: &Path) -> Result<(u64, u64), String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut book = open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let (mut cells, mut sum) = (0u64, 0u64);
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).map_err(|e| e.to_string())?;
        for (_, _, v) in range.used_cells() {
            cells += 1;
            sum = sum.wrapping_add(match v {
                Data::String(s) => s.len() as u64,
                Data::Float(f) => f.to_bits() & 0xFF,
                Data::Int(i) => *i as u64,
                _ => 1,
            });
        }
    }
    Ok((cells, sum))
}

fn main() {
    let dirs: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        eprintln!("usage: floor DIR...");
        std::process::exit(2);
    }
    let mut files = Vec::new();
    for d in &dirs {
        if let Err(e) = workbooks(d, &mut files) {
            eprintln!("floor: {}: {e}", d.display());
            std::process::exit(2);
        }
    }
    let start = Instant::now();
    let (mut cells, mut sum, mut failed) = (0u64, 0u64, 0usize);
    for f in &files {
        match touch(f) {
            Ok((c, s)) => {
                cells += c;
                sum = sum.wrapping_add(s);
            }
            Err(_) => failed += 1,
        }
    }
    let secs = start.elapsed().as_secs_f64();
    // One line: workbooks, cells, seconds (the script parses it), checksum.
    println!(
        "{} workbooks, {cells} cells, {secs:.4} s, checksum {sum:x}, {failed} failed",
        files.len()
    );
}
