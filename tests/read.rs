//! Reading the sample forms: every form of every sample period is read
//! without an error, its values equal the reference summaries, and the layouts
//! that vary (shifted header, renamed sheet, two forms in a workbook, no 代码
//! column, .xls content under an .xlsx name) are read at the right cells.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::Value;
use zonestat::catalog::Role;
use zonestat::folder::{Batch, check_files, list_files};
use zonestat::folder::{display_name, folder_period};
use zonestat::model::Severity;
use zonestat::validate::{Entry, Val};

fn batch(p: &str) -> Batch {
    let dir = data(p);
    let files = list_files(&dir).expect("fixture folder");
    check_files(&files, &display_name, folder_period(&dir), &cat())
}

fn check_path(path: &Path, expected: Option<&str>) -> Checked {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    check_bytes(std::fs::read(path).expect("fixture"), &name, expected)
}

fn expected(p: &str) -> Value {
    let path = fixtures().join("expected").join(format!("{p}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("expected summary")).expect("JSON")
}

fn same(got: Option<Val>, want: &Value) -> bool {
    match (got, want) {
        (None, Value::Null) => true,
        (Some(Val::Bool(b)), Value::Bool(w)) => b == *w,
        (Some(Val::Number(x)), Value::Number(w)) => {
            let w = w.as_f64().expect("number");
            x == w || (x - w).abs() <= 1e-9 * w.abs()
        }
        _ => false,
    }
}

#[test]
fn every_sample_form_reads_without_error() {
    for p in PERIODS {
        let b = batch(p);
        let problems: Vec<_> = b
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .collect();
        assert!(problems.is_empty(), "{p}:\n{}", describe(problems));
        for f in &b.files {
            assert_eq!(f.status, "used", "{p}: {}", f.file);
            assert_eq!(f.reason, None, "{p}: {}", f.file);
        }
        let mut got: Vec<(String, String)> = b
            .forms
            .iter()
            .map(|f| (f.form.clone(), f.zone().unwrap_or("city").to_string()))
            .collect();
        got.sort();
        let mut want: Vec<(String, String)> = vec![("湖开统3表".into(), "city".into())];
        for z in ["HZ", "CX", "WX", "NX", "AJ"] {
            want.push(("湖开统1表".into(), z.into()));
            if p.ends_with("-12") {
                want.push(("湖开统2表".into(), z.into()));
            }
        }
        want.sort();
        assert_eq!(got, want, "{p}: forms found");
        for f in &b.forms {
            assert_eq!(f.period, Some(period(p)), "{p}: {} {}", f.file, f.form);
            let expected_rows = cat().form(&f.form).unwrap().indicators.len();
            assert_eq!(f.values.len(), expected_rows, "{p}: {} {}", f.file, f.form);
        }
    }
}

#[test]
fn zone_values_equal_the_reference_summaries() {
    for p in ["2019-12", "2020-06", "2020-12"] {
        let b = batch(p);
        let exp = expected(p);
        let mut wrong = Vec::new();
        for (zone, ez) in exp["zones"].as_object().expect("zones") {
            let ours: BTreeMap<&str, &Entry> = b
                .forms
                .iter()
                .filter(|f| f.zone() == Some(zone.as_str()))
                .flat_map(|f| f.values.iter().map(|(k, v)| (k.as_str(), v)))
                .collect();
            let want = ez["indicators"].as_object().expect("indicators");
            let codes: Vec<&str> = want.keys().map(String::as_str).collect();
            assert_eq!(
                ours.keys().copied().collect::<Vec<_>>(),
                codes,
                "{p} {zone}: indicators read"
            );
            for (code, ev) in want {
                let e = ours[code.as_str()];
                for (field, got) in [
                    ("current", e.current),
                    ("prior", e.prior),
                    ("cumulative", e.cumulative),
                ] {
                    let w = ev.get(field).unwrap_or(&Value::Null);
                    if !same(got, w) {
                        wrong.push(format!(
                            "{p} {zone} {code}.{field}: read {got:?}, expected {w}"
                        ));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

#[test]
fn city_reference_form_reads_not_applicable_as_absent() {
    let c = check_path(
        &data("2020-06").join("全市对比基数2020年6月.xlsx"),
        Some("2020-06"),
    );
    let f = c.form();
    assert!(f.findings.is_empty(), "{}", describe(&f.findings));
    assert_eq!(f.reporter, Some(zonestat::catalog::Reporter::City));
    assert_eq!(f.values["C01"].current, Some(Val::Number(2.114)));
    assert_eq!(f.values["C02"].current, Some(Val::Number(272.0)));
    // `—` in 上年同期: not applicable, and C02 is not required.
    assert_eq!(f.values["C02"].prior, None);
    assert_eq!(f.values["C03"].prior, Some(Val::Number(41.702)));
}

#[test]
fn xls_content_under_an_xlsx_name_reads_the_same_values() {
    let src = data("2020-06").join("吴兴开发区主要指标202006.xls");
    let dir = PeriodDir::new("2020-06");
    let renamed = dir.copy(&src, "附件1.xlsx");
    let cat = cat();
    let p = Some(period("2020-06"));
    let original = check_files(std::slice::from_ref(&src), &display_name, p, &cat);
    let b = check_files(&[renamed], &display_name, p, &cat);
    assert_eq!(
        keys(&b.findings),
        [("file.extension_mismatch".to_string(), Severity::Info, None)],
        "{}",
        describe(&b.findings)
    );
    assert_eq!(b.findings[0].file, "2020-06/附件1.xlsx");
    assert_eq!(b.files[0].status, "used");
    // A note is no reason: the file is used.
    assert_eq!(b.files[0].reason, None);
    assert_eq!(b.forms.len(), 1);
    assert_eq!(b.forms[0].zone(), Some("WX"));
    assert_eq!(b.forms[0].values, original.forms[0].values);
    assert_eq!(b.forms[0].values.len(), 16);
}

/// The .ods sample has two blank rows above the form: every address must
/// count them.
#[test]
fn shifted_header_is_found_and_addressed_on_the_sheet() {
    let c = check_path(&data("2020-06").join("南浔6月.ods"), Some("2020-06"));
    assert!(c.findings().is_empty(), "{}", describe(c.findings()));
    let fr = &c.file.forms[0];
    assert_eq!(fr.form_cell.to_string(), "G4");
    assert_eq!(fr.header_row, Some(6));
    let reporter = fr.reporter.as_ref().expect("reporter");
    assert_eq!(
        (reporter.text.as_str(), reporter.cell.to_string()),
        ("南浔经济开发区", "A6".to_string())
    );
    let written = fr.period.as_ref().expect("period");
    assert_eq!(
        (written.text.as_str(), written.cell.to_string()),
        ("2020年6月", "D6".to_string())
    );
    let f = c.form();
    assert_eq!(f.values["A01"].cells[&Role::Current].to_string(), "E9");
    assert_eq!(f.values["A16"].cells[&Role::Prior].to_string(), "F24");
    assert_eq!(f.values["A01"].reported_growth, Some(11.4));
    // Full-width digits written as text.
    assert_eq!(f.values["A14"].current, Some(Val::Number(99.0)));
    assert_eq!(f.values["A14"].prior, Some(Val::Number(92.0)));

    // Checked against another month, the finding points at the period cell.
    let c = check_path(&data("2020-06").join("南浔6月.ods"), Some("2020-05"));
    assert_eq!(
        keys(c.findings()),
        [(
            "form.period_mismatch".to_string(),
            Severity::Error,
            Some("D6".to_string())
        )]
    );
}

/// `bad/nx-2020-06-negative.ods` is the .ods sample with A05 本期 made negative.
#[test]
fn value_finding_in_a_shifted_form_points_at_its_cell() {
    let c = check_path(
        &fixtures().join("bad/nx-2020-06-negative.ods"),
        Some("2020-06"),
    );
    assert_eq!(
        keys(c.findings()),
        [
            (
                "growth.mismatch".to_string(),
                Severity::Warning,
                Some("G13".to_string())
            ),
            (
                "value.negative".to_string(),
                Severity::Error,
                Some("E13".to_string())
            ),
        ],
        "{}",
        describe(c.findings())
    );
    let neg = c
        .findings()
        .into_iter()
        .find(|f| f.rule == "value.negative")
        .unwrap();
    assert_eq!(neg.sheet.as_deref(), Some("湖开统1表"));
    assert_eq!(neg.zone.as_deref(), Some("NX"));
    assert_eq!(neg.indicator.as_deref(), Some("A05"));
    assert_eq!(neg.location(), "nx-2020-06-negative.ods 湖开统1表!E13");
}

#[test]
fn renamed_sheet_beside_an_instructions_sheet() {
    let c = check_path(
        &data("2020-06").join("附件1-长兴2020年6月.xlsx"),
        Some("2020-06"),
    );
    assert!(c.findings().is_empty(), "{}", describe(c.findings()));
    let f = c.form();
    assert_eq!(f.sheet, "Sheet1");
    assert_eq!(f.zone(), Some("CX"));
    assert_eq!(c.file.forms[0].form_cell.to_string(), "G2");
    // 144106 万元 → 亿元.
    assert_eq!(f.values["A06"].current, Some(Val::Number(14.4106)));
    // Numbers written as text.
    assert_eq!(f.values["A02"].current, Some(Val::Number(382.7629)));
    // The growth column holds formulas with no saved result: no value, no finding.
    let row = c.file.forms[0]
        .rows
        .iter()
        .find(|r| r.code == "A01")
        .unwrap();
    let (_, growth) = row
        .values
        .iter()
        .find(|(r, _)| *r == Role::ReportedGrowth)
        .unwrap();
    assert_eq!(growth.formula.as_deref(), Some("ROUND((E7-F7)/F7*100,1)"));
    assert_eq!(f.values["A01"].reported_growth, None);
}

#[test]
fn workbook_with_two_forms() {
    let c = check_path(
        &data("2020-12").join("安吉开发区统计月报2020-12.xlsx"),
        Some("2020-12"),
    );
    assert!(c.findings().is_empty(), "{}", describe(c.findings()));
    let got: Vec<(&str, &str, Option<&str>)> = c
        .forms
        .iter()
        .map(|f| (f.sheet.as_str(), f.form.as_str(), f.zone()))
        .collect();
    assert_eq!(
        got,
        [
            ("湖开统1表", "湖开统1表", Some("AJ")),
            ("湖开统2表", "湖开统2表", Some("AJ"))
        ]
    );
    for f in &c.forms {
        assert_eq!(f.period, Some(period("2020-12")));
    }
    // 1表: a blank row inside the table, a blank column E, text with spaces, growth as `13.4%`.
    let m = &c.forms[0].values;
    assert_eq!(m["A07"].cells[&Role::Current].to_string(), "F14");
    assert_eq!(m["A11"].current, Some(Val::Number(1.685)));
    assert_eq!(m["A01"].reported_growth, Some(13.4));
    // 2表: yes/no rows and `—` in 累计.
    let a = &c.forms[1].values;
    assert_eq!(a["B13"].current, Some(Val::Bool(false)));
    assert_eq!(a["B14"].current, Some(Val::Bool(true)));
    assert_eq!(a["B03"].cumulative, None);
    assert_eq!(a["B09"].cumulative, Some(Val::Number(33.0)));
}

#[test]
fn rows_without_code_column_are_matched_by_name_in_any_order() {
    let c = check_path(
        &data("2020-06").join("吴兴开发区主要指标202006.xls"),
        Some("2020-06"),
    );
    assert!(c.findings().is_empty(), "{}", describe(c.findings()));
    let fr = &c.file.forms[0];
    assert!(!fr.has_code_column);
    assert_eq!(fr.rows.len(), 16);
    let f = c.form();
    assert_eq!(f.values["A13"].cells[&Role::Current].to_string(), "D7");
    assert_eq!(f.values["A01"].cells[&Role::Current].to_string(), "D16");
    assert_eq!(f.values["A01"].current, Some(Val::Number(46.22)));
}

#[test]
fn formula_with_saved_result_reads_its_result() {
    let c = check_path(
        &data("2020-06").join("湖州开发区6月报表.xlsx"),
        Some("2020-06"),
    );
    assert!(c.findings().is_empty(), "{}", describe(c.findings()));
    let row = c.file.forms[0]
        .rows
        .iter()
        .find(|r| r.code == "A02")
        .unwrap();
    let (_, cur) = row
        .values
        .iter()
        .find(|(r, _)| *r == Role::Current)
        .unwrap();
    assert_eq!(cur.formula.as_deref(), Some("219.5161+146.344"));
    let f = c.form();
    assert_eq!(f.values["A02"].current, Some(Val::Number(365.8601)));
    assert_eq!(f.values["A01"].reported_growth, Some(10.6));
}

#[test]
fn unit_written_as_wan_yuan_is_converted_exactly() {
    let c = check_path(
        &data("2020-12").join("附件1-长兴2020年12月.xlsx"),
        Some("2020-12"),
    );
    let f = c.form();
    assert!(f.findings.is_empty(), "{}", describe(&f.findings));
    // 287481 万元 = 28.7481 亿元, to the last bit.
    assert_eq!(f.values["A06"].current, Some(Val::Number(28.7481)));
}

/// 2020-06-01 as an Excel serial number (1900 date system).
const JUNE_2020: f64 = 43983.0;

/// HZ's form with its period (D4) typed as a date, as Excel makes `2020年6月`.
fn hz_dated(how: W) -> Grid {
    hz().set("D4", how)
}

#[test]
fn a_period_typed_as_a_date_reads_as_that_month() {
    for how in [
        W::Builtin(JUNE_2020, 14),
        W::Formatted(JUNE_2020, "yyyy\"年\"m\"月\"".into()),
    ] {
        let c = check_bytes(hz_dated(how.clone()).xlsx(), "hz.xlsx", Some("2020-06"));
        let f = c.form();
        assert!(f.findings.is_empty(), "{how:?}: {}", describe(&f.findings));
        assert_eq!(f.period, Some(period("2020-06")), "{how:?}");
        let at = f.raw.period.as_ref().unwrap();
        assert_eq!(
            (at.cell.to_string(), at.text.as_str()),
            ("D4".into(), "2020年6月")
        );
    }
}

/// `soffice` (or `libreoffice`) when installed.
fn soffice() -> Option<&'static str> {
    ["soffice", "libreoffice"].into_iter().find(|p| {
        std::process::Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// `bytes` saved by LibreOffice as `ext` (`ods`, `xls`).
fn through_libreoffice(soffice: &str, bytes: &[u8], ext: &str) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let xlsx = tmp.path().join("hz.xlsx");
    std::fs::write(&xlsx, bytes).unwrap();
    let profile = format!(
        "-env:UserInstallation=file://{}",
        tmp.path().join("profile").display()
    );
    let out = std::process::Command::new(soffice)
        .arg(&profile)
        .args(["--headless", "--convert-to", ext, "--outdir"])
        .arg(tmp.path())
        .arg(&xlsx)
        .output()
        .unwrap();
    std::fs::read(tmp.path().join(format!("hz.{ext}"))).unwrap_or_else(|_| {
        panic!(
            "LibreOffice wrote no .{ext}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_period_typed_as_a_date_by_libreoffice_reads_as_that_month() {
    let Some(soffice) = soffice() else {
        assert!(std::env::var_os("CI").is_none(), "CI must have LibreOffice");
        eprintln!("skipped: LibreOffice (soffice) is not installed");
        return;
    };
    let xlsx = hz_dated(W::Formatted(JUNE_2020, "yyyy\"年\"m\"月\"".into())).xlsx();
    for ext in ["ods", "xls"] {
        let bytes = through_libreoffice(soffice, &xlsx, ext);
        let name = format!("hz.{ext}");
        let c = check_bytes(bytes.clone(), &name, Some("2020-06"));
        let f = c.form();
        assert!(f.findings.is_empty(), "{ext}: {}", describe(&f.findings));
        assert_eq!(f.period, Some(period("2020-06")), "{ext}");
        assert_eq!(f.raw.period.as_ref().unwrap().cell.to_string(), "D4");
        // and the zone's figures are those of the text period
        let text = through_libreoffice(soffice, &hz().xlsx(), ext);
        assert_eq!(hz_json(&bytes, &name), hz_json(&text, &name), "{ext}");
    }
}

/// The JSON summary of zone HZ for 2020-06 when its form is the file `name`
/// holding `bytes` (the sample data otherwise), without its sources (the
/// file's hash differs, of course).
fn hz_json(bytes: &[u8], name: &str) -> Value {
    use zonestat::consolidate::consolidate;
    use zonestat::summary::summary_json;
    let root = tempfile::tempdir().unwrap();
    for p in PERIODS {
        let to = root.path().join(p);
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(data(p)).unwrap() {
            let from = e.unwrap().path();
            if p == "2020-06" && from.ends_with("湖州开发区6月报表.xlsx") {
                continue;
            }
            std::fs::copy(&from, to.join(from.file_name().unwrap())).unwrap();
        }
    }
    std::fs::write(root.path().join("2020-06").join(name), bytes).unwrap();
    let cat = cat();
    let c = consolidate(root.path(), period("2020-06"), &cat).unwrap();
    let mut zone = summary_json(&c, &cat)["zones"]["HZ"].clone();
    if let Some(z) = zone.as_object_mut() {
        z.remove("sources");
    }
    zone
}

#[test]
fn consolidating_a_dated_period_gives_the_zone_the_text_periods_figures() {
    let text = hz_json(&hz().xlsx(), "hz.xlsx");
    assert!(
        text["indicators"]
            .as_object()
            .is_some_and(|i| !i.is_empty()),
        "{text}"
    );
    for how in [
        W::Builtin(JUNE_2020, 14),
        W::Formatted(JUNE_2020, "yyyy\"年\"m\"月\"".into()),
    ] {
        assert_eq!(
            hz_json(&hz_dated(how.clone()).xlsx(), "hz.xlsx"),
            text,
            "{how:?}"
        );
    }
}

/// Real .xlsb files from calamine's test suite (MIT licence, see
/// tests/fixtures/xlsb/README.md): recognised by content, read in the
/// workers, and their date cells typed as dates.
#[test]
fn xlsb_files_are_read_by_calamine_in_the_workers() {
    use zonestat::read::{CellValue, FileType, Outcome, read_file};
    let dir = fixtures().join("xlsb");
    let cat = cat();
    for name in ["date.xlsb", "issues.xlsb"] {
        let path = dir.join(name);
        let f = read_file(&path, name, &cat);
        assert_eq!(f.kind, FileType::Xlsb, "{name}");
        // not a statistics form, but read: no file-level error but that
        assert_eq!(f.outcome, Outcome::Unreadable, "{name}");
        let rules: Vec<&str> = f.findings.iter().map(|x| x.rule).collect();
        assert_eq!(rules, ["form.not_found"], "{name}");
    }
    // Under a .xlsx name it is still read as what it is.
    let bytes = std::fs::read(dir.join("date.xlsb")).unwrap();
    let f = zonestat::read::read_bytes(bytes.clone(), "date.xlsx", "date.xlsx", &cat);
    assert!(
        f.findings
            .iter()
            .any(|x| x.rule == "file.extension_mismatch")
    );
    let sheets = zonestat::read::workbook::parse(&bytes, FileType::Xlsb, &cat.limits).unwrap();
    let dates = sheets.sheets[0]
        .cells()
        .filter(|(_, v)| matches!(v, CellValue::Date { .. }))
        .count();
    assert!(dates > 0, "{:?}", sheets.sheets[0]);
}

/// An .xlsm (its `[Content_Types].xml` names a macro-enabled workbook) is
/// told apart from an .xlsx and read like one; under either name.
#[test]
fn a_macro_enabled_workbook_is_read_like_an_xlsx() {
    use std::io::{Read, Write};
    use zonestat::read::{FileType, Outcome, read_bytes};
    let xlsx = hz().xlsx();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(&xlsx)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).unwrap();
        let name = String::from_utf8_lossy(part.name_raw()).into_owned();
        let mut data = Vec::new();
        part.read_to_end(&mut data).unwrap();
        if name == "[Content_Types].xml" {
            data = String::from_utf8(data)
                .unwrap()
                .replace(
                    "spreadsheetml.sheet.main+xml",
                    "ms-excel.sheet.macroEnabled.main+xml",
                )
                .into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&data).unwrap();
    }
    let xlsm = out.finish().unwrap().into_inner();
    for name in ["hz.xlsm", "hz.xlsx"] {
        let f = read_bytes(xlsm.clone(), name, name, &cat());
        assert_eq!(f.kind, FileType::Xlsm, "{name}");
        assert_eq!(f.outcome, Outcome::Read, "{name}");
        assert!(f.findings.is_empty(), "{name}: {:?}", f.findings);
    }
    assert_eq!(
        read_bytes(xlsx, "hz.xlsx", "hz.xlsx", &cat()).kind,
        FileType::Xlsx
    );
}

/// An .ods of one row: a date cell, a duration cell and a long text.
fn ods_row() -> Vec<u8> {
    use std::io::Write;
    let content = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="S"><table:table-row><table:table-cell office:value-type="date" office:date-value="2020-06-01"><text:p>2020-06-01</text:p></table:table-cell><table:table-cell office:value-type="time" office:time-value="PT12H"><text:p>12:00</text:p></table:table-cell><table:table-cell office:value-type="string"><text:p>报告期报告期</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#).unwrap();
    zip.start_file("content.xml", stored).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.finish().unwrap().into_inner()
}

// (moved from read/workbook.rs's unit tests, through the public parse)

#[test]
fn an_ods_date_value_is_a_date_and_a_duration_is_text() {
    use zonestat::model::Cell;
    use zonestat::read::CellValue;
    use zonestat::read::workbook::{FileType, parse};
    let bytes = ods_row();
    assert_eq!(zonestat::read::workbook::sniff(&bytes), FileType::Ods);
    let opened = parse(&bytes, FileType::Ods, &cat().limits).unwrap();
    let s = &opened.sheets[0];
    let d = s.get(Cell::new(0, 0));
    assert!(matches!(
        d,
        CellValue::Date {
            year: 2020,
            month: 6,
            day: 1,
            ..
        }
    ));
    assert_eq!(d.display(), "2020-06-01");
    assert_eq!(s.get(Cell::new(0, 1)), &CellValue::Text("PT12H".into()));
}

#[test]
fn a_long_text_is_cut_at_a_character() {
    use zonestat::model::Cell;
    use zonestat::read::CellValue;
    use zonestat::read::workbook::{FileType, parse};
    let bytes = ods_row();
    let mut limits = cat().limits.clone();
    for (max, kept, cut) in [(2, "报告", true), (6, "报告期报告期", false)] {
        limits.max_cell_chars = max;
        let opened = parse(&bytes, FileType::Ods, &limits).unwrap();
        let text = opened.sheets[0].get(Cell::new(0, 2));
        assert_eq!(text, &CellValue::Text(kept.into()), "{max}");
        let noted = opened.notes.iter().any(|n| n.rule == "cell.text_cut");
        assert_eq!(noted, cut, "{max}");
    }
}

#[test]
fn a_serial_date_reads_as_the_number_it_stores() {
    use zonestat::model::Cell;
    use zonestat::read::CellValue;
    use zonestat::read::workbook::{FileType, parse};
    let bytes = hz_dated(W::Builtin(JUNE_2020, 14)).xlsx();
    let opened = parse(&bytes, FileType::Xlsx, &cat().limits).unwrap();
    let d = opened.sheets[0].get(Cell::new(3, 3));
    assert!(matches!(
        d,
        CellValue::Date {
            year: 2020,
            month: 6,
            day: 1,
            ..
        }
    ));
    assert_eq!(d.undated().as_ref(), &CellValue::Number(JUNE_2020));
}
