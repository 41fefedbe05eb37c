//! Hostile and broken files (tests/fixtures/hostile, written by its make.py):
//! each gets a finding naming it, the good files beside them are read as if
//! they were alone, nothing panics, and no command changes an input.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::Value;
use zonestat::catalog::{BUNDLED, Catalogue};
use zonestat::folder::{self, Batch};
use zonestat::model::{Cell, Severity};
use zonestat::read::{self, FileRead, Outcome};

fn hostile() -> PathBuf {
    fixtures().join("hostile")
}

/// Every file of the corpus (not the generator, its notes or the fuzz folder).
fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(hostile())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| !matches!(p.extension().and_then(|e| e.to_str()), Some("py" | "md")))
        .collect();
    files.sort();
    files
}

fn name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn read(p: &Path) -> FileRead {
    read::read_file(p, &name(p), &cat())
}

fn shown(f: &FileRead) -> String {
    f.findings
        .iter()
        .map(|x| {
            format!(
                "  {} {:?} {}: {}",
                x.rule,
                x.severity,
                x.location(),
                x.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What each file of the corpus must produce: its outcome and a finding of
/// this rule and severity.
const EXPECTED: [(&str, Outcome, &str, Severity); 23] = [
    (
        "empty.xlsx",
        Outcome::Unreadable,
        "file.not_workbook",
        Severity::Error,
    ),
    (
        "random-bytes.xlsx",
        Outcome::Unreadable,
        "file.not_workbook",
        Severity::Error,
    ),
    (
        "truncated.xlsx",
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
    (
        "missing-sheet-part.xlsx",
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
    (
        "far-corner-cell.xlsx",
        Outcome::Read,
        "sheet.cells_ignored",
        Severity::Warning,
    ),
    (
        "zip-bomb.xlsx",
        Outcome::Unreadable,
        "file.zip_bomb",
        Severity::Error,
    ),
    (
        "deep-nesting.xlsx",
        Outcome::Unreadable,
        "file.xml_depth",
        Severity::Error,
    ),
    (
        "rows-100000.xlsx",
        Outcome::Unreadable,
        "sheet.cells_ignored",
        Severity::Warning,
    ),
    (
        "zip-many-entries.xlsx",
        Outcome::Unreadable,
        "file.zip_entries",
        Severity::Error,
    ),
    (
        "lying-size.xlsx",
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
    (
        "xls-flipped-bytes.xls",
        Outcome::Unreadable,
        "sheet.too_large",
        Severity::Error,
    ),
    (
        "xls-sector-loop.xls",
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
    (
        "ods-text-s-bomb.ods",
        Outcome::Unreadable,
        "file.too_large_unzipped",
        Severity::Error,
    ),
    (
        "ods-far-corner.ods",
        Outcome::Unreadable,
        "sheet.too_large",
        Severity::Error,
    ),
    (
        "ods-unclosed-table.ods",
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
    (
        "ods-unclosed-annotation.ods",
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
    (
        "styles-amplification.xlsx",
        Outcome::Unreadable,
        "file.too_large_unzipped",
        Severity::Error,
    ),
    (
        "sst-unique-count.xlsx",
        Outcome::Unreadable,
        "file.too_large_unzipped",
        Severity::Error,
    ),
    (
        "sheets-naming-one-part.xlsx",
        Outcome::Unreadable,
        "file.too_large_unzipped",
        Severity::Error,
    ),
    (
        "many-sheets.xlsx",
        Outcome::Unreadable,
        "file.too_many_sheets",
        Severity::Error,
    ),
    (
        "shared-string-per-cell.xlsx",
        Outcome::Unreadable,
        "file.too_large_unzipped",
        Severity::Error,
    ),
    (
        "xls-sheet-past-end.xls",
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
    (
        UNUSUAL,
        Outcome::Unreadable,
        "file.unreadable",
        Severity::Error,
    ),
];

/// The file name with unusual characters: a right-to-left override that makes
/// it look like `.xlsx`, spaces, an emoji and shell metacharacters.
const UNUSUAL: &str = "-- \u{202e}xslx.报表 (1) #%&;'$!~😀.xls";

#[test]
fn each_hostile_file_gets_its_finding() {
    let files = corpus();
    assert_eq!(files.len(), EXPECTED.len(), "corpus: {files:?}");
    let mut failures = Vec::new();
    for (file, outcome, rule, severity) in EXPECTED {
        let path = hostile().join(file);
        let got = read(&path);
        let ok = got.outcome == outcome
            && got
                .findings
                .iter()
                .any(|f| f.rule == rule && f.severity == severity && f.file == file);
        if !ok {
            failures.push(format!(
                "{file}: expected {outcome:?} with {rule} ({severity:?}), got {:?}\n{}",
                got.outcome,
                shown(&got)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_stray_far_corner_cell_leaves_the_form_readable() {
    let far = read(&hostile().join("far-corner-cell.xlsx"));
    let good = read(&data("2020-06").join("湖州开发区6月报表.xlsx"));
    let ignored = far
        .findings
        .iter()
        .find(|f| f.rule == "sheet.cells_ignored")
        .unwrap_or_else(|| panic!("{}", shown(&far)));
    assert_eq!(ignored.cell, Some(Cell::new(1_048_575, 16_383)));
    assert_eq!(ignored.cell.unwrap().to_string(), "XFD1048576");
    assert!(
        ignored.message.contains("XFD1048576"),
        "{}",
        ignored.message
    );
    assert_eq!(far.forms.len(), 1);
    let (f, g) = (&far.forms[0], &good.forms[0]);
    assert_eq!(
        f.rows, g.rows,
        "the values are those of the form it was made from"
    );
    assert_eq!(f.reporter.as_ref().unwrap().text, "测试经济开发区");
}

#[test]
fn a_sheet_of_100000_rows_keeps_only_the_region_read() {
    let f = read(&hostile().join("rows-100000.xlsx"));
    let ignored = f
        .findings
        .iter()
        .find(|x| x.rule == "sheet.cells_ignored")
        .unwrap_or_else(|| panic!("{}", shown(&f)));
    assert!(ignored.message.contains("99000 个"), "{}", ignored.message);
    assert_eq!(ignored.cell, Some(Cell::new(1000, 0)));
    assert!(f.findings.iter().any(|x| x.rule == "form.not_found"));
}

#[test]
fn the_xls_that_aborted_the_process_is_refused_by_its_dimensions() {
    // calamine 0.38 asks for 1.2 TB for this file and the process aborts; the
    // DIMENSIONS record is read first and the file refused.
    let f = read(&hostile().join("xls-flipped-bytes.xls"));
    let hit = f
        .findings
        .iter()
        .find(|x| x.rule == "sheet.too_large")
        .unwrap();
    assert!(hit.message.contains("DIMENSIONS"), "{}", hit.message);
    assert!(hit.sheet.is_some());
}

#[test]
fn a_panic_in_the_parser_is_a_finding_with_its_message() {
    // calamine 0.38 slices the workbook stream at the sheet's offset
    // unchecked: the panic is caught, and said where it happened.
    let f = read(&hostile().join("xls-sheet-past-end.xls"));
    let hit = &f.findings[0];
    assert_eq!(
        (f.outcome, hit.rule),
        (Outcome::Unreadable, "file.unreadable")
    );
    let found = hit.found.as_deref().unwrap_or_default();
    assert!(found.contains("out of range"), "{found}");
    assert!(found.contains("calamine-0.38.0/src/xls.rs:"), "{found}");
    assert!(!found.contains(".cargo"), "{found}");
}

#[test]
fn limits_come_from_the_catalogue() {
    let start = BUNDLED.find("[limits]").unwrap();
    let with = |limits: &str| {
        Catalogue::parse(
            &format!("{}\n[limits]\n{limits}\n", &BUNDLED[..start]),
            "t.toml",
        )
        .unwrap()
    };
    // A file over the size limit is not read; one that is not a workbook is
    // still just ignored.
    let dir = PeriodDir::new("2020-06");
    let big = vec![b'x'; 1_100_000];
    let mut workbook = std::fs::read(data("2020-06").join("湖州开发区6月报表.xlsx")).unwrap();
    workbook.extend(&big);
    let cat = with("max_file_mb = 1");
    let f = read::read_file(&dir.write("big.xlsx", &workbook), "big.xlsx", &cat);
    assert_eq!(
        (f.outcome, f.findings[0].rule),
        (Outcome::Unreadable, "file.too_large")
    );
    assert_eq!(f.sha256, read::sha256_hex(&workbook));
    let f = read::read_file(&dir.write("scan.pdf", &big), "scan.pdf", &cat);
    assert_eq!(
        (f.outcome, f.findings[0].rule),
        (Outcome::Ignored, "file.ignored")
    );
    let f = read::read_bytes(workbook.clone(), "big.xlsx", "big.xlsx", &cat);
    assert_eq!(f.findings[0].rule, "file.too_large");

    // A smaller region: the form's lower rows are reported, not read.
    let cat = with("max_rows = 12\nmax_columns = 5");
    let f = read::read_file(
        &data("2020-06").join("湖州开发区6月报表.xlsx"),
        "hz.xlsx",
        &cat,
    );
    let hit = f
        .findings
        .iter()
        .find(|x| x.rule == "sheet.cells_ignored")
        .unwrap();
    assert!(hit.message.contains("A1:E12"), "{}", hit.message);

    // Fewer cells than an .xls form needs.
    let cat = with("max_cells = 50");
    let f = read::read_file(
        &data("2020-06").join("吴兴开发区主要指标202006.xls"),
        "wx.xls",
        &cat,
    );
    assert!(
        f.findings
            .iter()
            .any(|x| x.rule == "sheet.too_large" || x.rule == "file.too_many_cells"),
        "{}",
        shown(&f)
    );
    let cat = with("max_xml_depth = 3");
    let f = read::read_file(&data("2020-06").join("南浔6月.ods"), "nx.ods", &cat);
    assert_eq!(f.findings[0].rule, "file.xml_depth", "{}", shown(&f));
}

/// The good 2020-06 forms, each read as in a folder of its own.
fn good_files(dir: &PeriodDir) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(data("2020-06")).unwrap() {
        let p = e.unwrap().path();
        files.push(dir.copy(&p, &name(&p)));
    }
    files
}

fn by_file(batch: &Batch) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for f in &batch.files {
        let findings: Vec<String> = batch
            .findings
            .iter()
            .filter(|x| x.file == f.file)
            .map(|x| format!("{} {:?} {}", x.rule, x.severity, x.location()))
            .collect();
        out.insert(
            f.file.clone(),
            format!("{} {:?}\n{}", f.status, f.forms, findings.join("\n")),
        );
    }
    out
}

#[test]
fn a_folder_of_hostile_files_next_to_good_ones() {
    let alone = PeriodDir::new("2020-06");
    let good = good_files(&alone);
    let display = |p: &Path| name(p);
    let period = Some(period("2020-06"));
    let baseline = by_file(&folder::check_files(&good, &display, period, &cat()));

    let mixed = PeriodDir::new("2020-06");
    good_files(&mixed);
    for p in corpus() {
        mixed.copy(&p, &name(&p));
    }
    let files = folder::list_files(&mixed.path).unwrap();
    assert_eq!(files.len(), good.len() + EXPECTED.len());
    let batch = folder::check_files(&files, &display, period, &cat());
    let got = by_file(&batch);
    for (file, report) in &baseline {
        assert_eq!(
            got.get(file),
            Some(report),
            "{file} read differently beside the hostile files"
        );
    }
    for (file, ..) in EXPECTED {
        assert!(
            batch.findings.iter().any(|f| f.file == file),
            "{file}: no finding"
        );
    }
}

fn zonestat(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .args(args)
        .output()
        .expect("run zonestat")
}

fn output(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_binary_checks_the_hostile_folder_quietly() {
    let dir = PeriodDir::new("2020-06");
    good_files(&dir);
    for p in corpus() {
        dir.copy(&p, &name(&p));
    }
    // A truncated .xls makes calamine panic: the panic is a finding, not a
    // message on the terminal.
    let wx = std::fs::read(data("2020-06").join("吴兴开发区主要指标202006.xls")).unwrap();
    dir.write("truncated.xls", &wx[..wx.len() - 700]);
    let json = dir.path.parent().unwrap().join("check.json");
    let out = zonestat(&[
        "check".as_ref(),
        dir.path.as_os_str(),
        "--json".as_ref(),
        json.as_os_str(),
    ]);
    let ctx = output(&out);
    assert_eq!(out.status.code(), Some(1), "{ctx}");
    assert!(!ctx.contains("panicked"), "{ctx}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (file, _, rule, _) in EXPECTED {
        assert!(stdout.contains(file), "{file} not listed\n{ctx}");
        assert!(stdout.contains(rule), "{rule} not listed\n{ctx}");
    }
    let v: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let text = v.to_string();
    for (file, ..) in EXPECTED {
        assert!(
            text.contains(&serde_json::to_string(file).unwrap()[1..file.len()]),
            "{file} not in JSON"
        );
    }
}

#[test]
fn no_command_modifies_an_input() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");
    for p in PERIODS {
        let to = data_dir.join(p);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(data(p)).unwrap() {
            let from = e.unwrap().path();
            std::fs::copy(&from, to.join(name(&from))).unwrap();
        }
    }
    for p in corpus() {
        std::fs::copy(&p, data_dir.join("2020-06").join(name(&p))).unwrap();
    }
    let catalogue = root.path().join("plan.toml");
    std::fs::write(&catalogue, BUNDLED).unwrap();
    let out_dir = root.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let before = common::inventory(&data_dir);
    let cat_before = read::sha256_hex(&std::fs::read(&catalogue).unwrap());
    let os = |s: &Path| s.as_os_str().to_owned();
    let runs: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "check".into(),
            os(&data_dir.join("2020-06")),
            "--json".into(),
            os(&out_dir.join("c.json")),
        ],
        vec![
            "consolidate".into(),
            os(&data_dir),
            "--period".into(),
            "2020-06".into(),
            "-o".into(),
            os(&out_dir.join("r.xlsx")),
            "--json".into(),
            os(&out_dir.join("r.json")),
        ],
        vec![
            "consolidate".into(),
            os(&data_dir),
            "--period".into(),
            "2020-12".into(),
            "-o".into(),
            os(&out_dir.join("y.xlsx")),
        ],
        vec![
            "template".into(),
            "--period".into(),
            "2020-06".into(),
            "-o".into(),
            os(&out_dir),
        ],
    ];
    for args in runs {
        let mut full: Vec<std::ffi::OsString> = vec!["--catalogue".into(), os(&catalogue)];
        full.extend(args);
        let refs: Vec<&std::ffi::OsStr> = full.iter().map(|a| a.as_os_str()).collect();
        let out = zonestat(&refs);
        let ctx = output(&out);
        assert!(matches!(out.status.code(), Some(0 | 1)), "{full:?}\n{ctx}");
        assert!(!ctx.contains("panicked"), "{ctx}");
        assert_eq!(
            common::inventory(&data_dir),
            before,
            "{full:?} changed an input"
        );
        assert_eq!(
            read::sha256_hex(&std::fs::read(&catalogue).unwrap()),
            cat_before
        );
    }
    // and the outputs were written
    assert!(out_dir.join("r.xlsx").is_file() && out_dir.join("c.json").is_file());
}

/// A small xorshift generator, so the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The good 2020-06 files with a few random bytes changed, 150 times each
/// (the way the .xls that aborted the process was found): every one ends as
/// findings. A fixed seed keeps it repeatable; `cargo fuzz` goes further.
#[test]
fn good_files_with_random_bytes_changed_never_escape() {
    let cat = cat();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for e in std::fs::read_dir(data("2020-06")).unwrap() {
        let path = e.unwrap().path();
        let good = std::fs::read(&path).unwrap();
        let name = name(&path);
        for round in 0..150 {
            let mut bytes = good.clone();
            for _ in 0..1 + rng.next() % 8 {
                let at = (rng.next() % bytes.len() as u64) as usize;
                bytes[at] = rng.next() as u8;
            }
            let f = read::read_bytes(bytes, &name, &name, &cat);
            assert!(
                f.outcome == Outcome::Read || !f.findings.is_empty(),
                "{name} round {round}: {:?} without a finding",
                f.outcome
            );
            assert!(
                f.findings.iter().all(|x| x.rule != "file.reader_panic"),
                "{name} round {round}: the form reader panicked\n{}",
                shown(&f)
            );
        }
    }
}
