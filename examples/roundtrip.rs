//! The worker round trip per file: every workbook under a folder parsed on
//! one core, once in this process (`read::workbook::parse`, what a worker
//! runs) and once through a pool of one worker process (the same parse, plus
//! the bytes sent down a pipe and the sheets sent back, serialised). The
//! difference per file is what the process boundary costs (the fastest of
//! five alternating rounds each). `bench/run.sh`
//! shows it beside the end-to-end times.
//!
//! ```sh
//! cargo build --release --bin zonestat --example roundtrip
//! target/release/examples/roundtrip target/release/zonestat /tmp/zs1000/data
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use zonestat::catalog::Limits;
use zonestat::read::Pool;
use zonestat::read::workbook::{parse, sniff};

fn workbooks(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir)
        .expect("folder")
        .filter_map(Result::ok)
    {
        let p = entry.path();
        if p.is_dir() {
            workbooks(&p, out);
        } else if p
            .extension()
            .is_some_and(|e| e == "xlsx" || e == "xls" || e == "ods")
        {
            out.push(p);
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [exe, dir] = args.as_slice() else {
        eprintln!("usage: roundtrip ZONESTAT_BINARY DATA_FOLDER");
        std::process::exit(2);
    };
    let mut files = Vec::new();
    workbooks(Path::new(dir), &mut files);
    let files: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).expect("file"))
        .collect();
    let limits = Limits::default();
    let pool = Pool::new(exe, 1);
    // warm-up: the worker started, the files in the cache
    let _ = pool.parse(&files[0], sniff(&files[0]), &limits);
    // Five rounds, the two ways alternating; the fastest round of each (the
    // least disturbed by other work on the machine).
    let (mut here, mut there) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let start = Instant::now();
        for bytes in &files {
            let _ = parse(bytes, sniff(bytes), &limits);
        }
        here = here.min(start.elapsed().as_secs_f64());
        let start = Instant::now();
        for bytes in &files {
            let _ = pool.parse(bytes, sniff(bytes), &limits);
        }
        there = there.min(start.elapsed().as_secs_f64());
    }
    let n = files.len() as f64;
    println!(
        "{} files: in process {:.3} ms a file, in a worker {:.3} ms a file, round trip {:.3} ms a file",
        files.len(),
        1000.0 * here / n,
        1000.0 * there / n,
        1000.0 * (there - here) / n
    );
}
