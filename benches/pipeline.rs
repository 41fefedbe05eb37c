//! `cargo bench`: the stages of a run on synthetic data (examples/generate)
//! — reading one form, validating it, aggregating a period of 100 zones,
//! writing the workbook, and a whole consolidation of 100 zones with three
//! years of December history. Plain `std::time`: each bench is run in samples
//! of enough iterations to take ~20 ms, and the median, fastest and slowest
//! sample are printed per iteration. `cargo bench -- read` runs the benches
//! whose name contains `read`.
//!
//! The end-to-end numbers for 5, 100 and 1,000 zones are `bench/run.sh`'s.

#[path = "../examples/generate/synth.rs"]
mod synth;

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use zonestat::aggregate::aggregate;
use zonestat::catalog::Catalogue;
use zonestat::consolidate::consolidate;
use zonestat::folder::{check_files, list_files};
use zonestat::model::Period;
use zonestat::read::read_bytes;
use zonestat::read::workbook::{FileType, parse, sniff};
use zonestat::report::{MadeAt, workbook_bytes};
use zonestat::validate::check_form;

const SAMPLES: usize = 15;
const SAMPLE_TIME: Duration = Duration::from_millis(20);

struct Bencher {
    filter: Vec<String>,
}

impl Bencher {
    fn run<T>(&self, name: &str, mut f: impl FnMut() -> T) {
        if !self.filter.is_empty() && !self.filter.iter().any(|w| name.contains(w.as_str())) {
            return;
        }
        // Warm up, and find how many iterations make a sample.
        let start = Instant::now();
        black_box(f());
        let once = start.elapsed().max(Duration::from_nanos(1));
        let iters = (SAMPLE_TIME.as_nanos() / once.as_nanos()).clamp(1, 1_000_000) as u32;
        let mut per_iter: Vec<f64> = (0..SAMPLES)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(f());
                }
                start.elapsed().as_secs_f64() / f64::from(iters)
            })
            .collect();
        per_iter.sort_by(f64::total_cmp);
        println!(
            "{name:<44} median {:>10}   min {:>10}   max {:>10}   ({SAMPLES} × {iters})",
            shown(per_iter[SAMPLES / 2]),
            shown(per_iter[0]),
            shown(per_iter[SAMPLES - 1])
        );
    }
}

fn shown(secs: f64) -> String {
    if secs >= 1.0 {
        format!("{secs:.3} s")
    } else if secs >= 1e-3 {
        format!("{:.3} ms", secs * 1e3)
    } else {
        format!("{:.2} µs", secs * 1e6)
    }
}

fn main() {
    // `cargo bench` passes `--bench`; other words filter the benches.
    let filter = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let b = Bencher { filter };
    // Workbooks are parsed in worker processes of the binary, as in a run.
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));

    let dir = tempfile::tempdir().expect("temporary folder");
    let period: Period = "2020-06".parse().expect("period");
    let spec = synth::Spec {
        zones: 100,
        seed: 1,
        period,
    };
    let w = synth::generate(&spec, dir.path()).expect("generated data");
    let cat = Catalogue::load(&w.catalogue).expect("generated catalogue");
    let folder = w.data.join(period.to_string());
    let files = list_files(&folder).expect("period folder");
    let shown_name = |p: &Path| p.display().to_string();

    // One zone's monthly form, as a file holds it.
    let one = files
        .iter()
        .find(|p| {
            let bytes = std::fs::read(p).expect("file");
            let name = p.display().to_string();
            let read = read_bytes(bytes, &name, &name, &cat);
            read.forms.len() == 1 && read.forms[0].form == "湖开统1表"
        })
        .expect("a file with one monthly form");
    let bytes = std::fs::read(one).expect("file");
    let name = one.display().to_string();
    b.run("read: one monthly form (read_bytes)", || {
        read_bytes(bytes.clone(), &name, &name, &cat)
    });
    // What the worker does, in this process; the difference to the line
    // above is the round trip (pipes, serialising the sheets).
    let kind = sniff(&bytes);
    b.run("read: parse one form in process", || {
        parse(&bytes, kind, &cat.limits)
    });
    let pool = zonestat::read::pool::shared().expect("workers");
    b.run("read: worker round trip (1-byte file)", || {
        pool.parse(b"x", FileType::Other, &cat.limits)
    });

    let read = read_bytes(bytes.clone(), &name, &name, &cat);
    let form = &read.forms[0];
    b.run("validate: one monthly form (check_form)", || {
        check_form(form.clone(), &name, &read.sha256, Some(period), &cat)
    });

    let batch = check_files(&files, &shown_name, Some(period), &cat);
    assert_eq!(batch.errors(), 0, "the generated data has no error");
    b.run("aggregate: one period, 100 zones", || {
        aggregate(&batch, period, &cat)
    });

    b.run("folder: read + check 101 files (parallel)", || {
        check_files(&files, &shown_name, Some(period), &cat)
    });

    let c = consolidate(&w.data, period, &cat).expect("consolidation");
    let made = MadeAt::from_unix(synth::CREATED_UNIX);
    b.run("report: workbook of 100 zones", || {
        workbook_bytes(&c, &cat, made).expect("workbook")
    });

    b.run("consolidate: 100 zones, 3 Decembers", || {
        consolidate(&w.data, period, &cat).expect("consolidation")
    });
}
