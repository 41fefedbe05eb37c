//! Forms as zones really keep them (issue 15): a workbook with a sheet per
//! month, and the same file saved twice. Each habit is written by
//! rust_xlsxwriter and, where it matters, converted by LibreOffice, and must
//! get the same verdict from `check`, `consolidate` and the status.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;
use zonestat::aggregate::FormState;
use zonestat::consolidate::consolidate;
use zonestat::folder::display_name;
use zonestat::folder::{check_files, list_files};
use zonestat::model::Severity;
use zonestat::summary::summary_json;

/// The sample data folder copied, with 湖州's June workbook replaced by `name`.
fn data_with_hz(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for p in PERIODS {
        let to = tmp.path().join(p);
        std::fs::create_dir(&to).unwrap();
        for f in std::fs::read_dir(data(p)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    let june = tmp.path().join("2020-06");
    std::fs::remove_file(june.join("湖州开发区6月报表.xlsx")).unwrap();
    std::fs::write(june.join(name), bytes).unwrap();
    tmp
}

/// 湖州's workbook for the year: one complete 湖开统1表 a month, April to June.
fn hz_by_month() -> Vec<u8> {
    let april = form1("湖州经济技术开发区", "2020年1-4月").renamed("4月");
    let may = form1("湖州经济技术开发区", "2020年1-5月").renamed("5月");
    let june = hz().renamed("6月");
    xlsx(&[&april, &may, &june])
}

fn soffice() -> Option<&'static str> {
    let found = ["soffice", "libreoffice"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        // CI installs LibreOffice (.ci/run): there, its absence is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have LibreOffice: .ci/run installs it"
        );
        eprintln!("skipped: LibreOffice (soffice) is not installed; .ci/run installs it");
    }
    found
}

/// `bytes` saved again by LibreOffice as `ext` (e.g. "ods").
fn through_libreoffice(soffice: &str, bytes: &[u8], ext: &str) -> Vec<u8> {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("book.xlsx");
    std::fs::write(&src, bytes).unwrap();
    let profile = format!(
        "-env:UserInstallation=file://{}",
        tmp.path().join("profile").display()
    );
    let out = Command::new(soffice)
        .arg(&profile)
        .args(["--headless", "--convert-to", ext, "--outdir"])
        .arg(tmp.path())
        .arg(&src)
        .output()
        .unwrap();
    let converted = tmp.path().join(format!("book.{ext}"));
    std::fs::read(&converted).unwrap_or_else(|_| {
        panic!(
            "LibreOffice wrote no .{ext}: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn check_folder(dir: &Path, period: &str) -> zonestat::folder::Batch {
    let files = list_files(dir).unwrap();
    check_files(&files, &display_name, Some(common::period(period)), &cat())
}

fn run_check(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .arg("check")
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn hz_state(data: &Path, period: &str) -> Vec<(String, FormState)> {
    let table = zonestat::status::status(data, common::period(period), &cat()).unwrap();
    table
        .rows
        .into_iter()
        .find(|r| r.code == "HZ")
        .unwrap()
        .forms
}

fn summary(data: &Path, period: &str) -> Value {
    let cat = cat();
    let c = consolidate(data, common::period(period), &cat).unwrap();
    summary_json(&c, &cat)
}

/// Asserts the sheet-per-month workbook `name` gives the verdict of a
/// workbook holding June alone, in every command.
fn assert_months_counted_as_june(name: &str, bytes: &[u8]) {
    let data = data_with_hz(name, bytes);
    let june = data.path().join("2020-06");
    let batch = check_folder(&june, "2020-06");
    let notes: Vec<(String, String)> = batch
        .findings
        .iter()
        .filter(|f| f.rule == "form.other_period")
        .map(|f| {
            assert_eq!(f.severity, Severity::Info, "{f:?}");
            (f.sheet.clone().unwrap(), f.cell.unwrap().to_string())
        })
        .collect();
    assert_eq!(
        notes,
        [
            ("4月".to_string(), "D4".to_string()),
            ("5月".into(), "D4".into())
        ],
        "{name}: {:#?}",
        batch.findings
    );
    assert_eq!(batch.errors(), 0, "{name}: {:#?}", batch.findings);
    let file = batch.files.iter().find(|f| f.file.ends_with(name)).unwrap();
    assert_eq!(file.status, "used");
    assert_eq!(file.forms.len(), 1);
    assert_eq!(file.forms[0].sheet, "6月");

    let (code, out) = run_check(&june);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("4月") && out.contains("未使用"), "{out}");

    assert_eq!(
        hz_state(data.path(), "2020-06"),
        [("湖开统1表".to_string(), FormState::Accepted)]
    );

    // The same figures as a workbook with June alone.
    let alone = data_with_hz("湖州6月.xlsx", &hz().xlsx());
    let got = summary(data.path(), "2020-06");
    let want = summary(alone.path(), "2020-06");
    assert_eq!(got["zones"]["HZ"]["status"], "accepted");
    assert_eq!(
        got["zones"]["HZ"]["indicators"],
        want["zones"]["HZ"]["indicators"]
    );
    assert_eq!(got["city"], want["city"]);
    assert_eq!(got["targets"], want["targets"]);
}

#[test]
fn a_sheet_per_month_counts_the_periods_sheet_and_notes_the_others() {
    assert_months_counted_as_june("湖州开发区2020年报表.xlsx", &hz_by_month());
}

#[test]
fn a_sheet_per_month_saved_by_libreoffice_counts_the_periods_sheet() {
    let Some(soffice) = soffice() else { return };
    let ods = through_libreoffice(soffice, &hz_by_month(), "ods");
    assert_months_counted_as_june("湖州开发区2020年报表.ods", &ods);
}

#[test]
fn a_december_workbook_with_earlier_months_uses_decembers_forms() {
    let nov = form1("安吉经济开发区", "2020年1-11月").renamed("11月");
    let dec = form1("安吉经济开发区", "2020年1-12月").renamed("12月");
    let annual = aj2();
    let dir = PeriodDir::new("2020-12");
    dir.write("安吉2020.xlsx", &xlsx(&[&nov, &dec, &annual]));
    let batch = check_folder(&dir.path, "2020-12");
    assert_eq!(batch.errors(), 0, "{:#?}", batch.findings);
    let sheets: Vec<&str> = batch.files[0]
        .forms
        .iter()
        .map(|f| f.sheet.as_str())
        .collect();
    assert_eq!(sheets, ["12月", "湖开统2表"]);
    let notes: Vec<&str> = batch
        .findings
        .iter()
        .filter(|f| f.rule == "form.other_period")
        .map(|f| f.sheet.as_deref().unwrap())
        .collect();
    assert_eq!(notes, ["11月"]);
}

#[test]
fn a_workbook_without_the_periods_form_is_still_a_period_mismatch() {
    let april = form1("湖州经济技术开发区", "2020年1-4月").renamed("4月");
    let may = form1("湖州经济技术开发区", "2020年1-5月").renamed("5月");
    let dir = PeriodDir::new("2020-06");
    dir.write("湖州.xlsx", &xlsx(&[&april, &may]));
    let batch = check_folder(&dir.path, "2020-06");
    let rules: Vec<(&str, Severity)> = batch
        .findings
        .iter()
        .map(|f| (f.rule, f.severity))
        .collect();
    assert_eq!(
        rules,
        [
            ("form.period_mismatch", Severity::Error),
            ("form.period_mismatch", Severity::Error)
        ]
    );
    assert_eq!(batch.files[0].status, "rejected");
}

#[test]
fn a_file_saved_twice_counts_once() {
    let june = data("2020-06").join("湖州开发区6月报表.xlsx");
    let bytes = std::fs::read(&june).unwrap();
    let data = data_with_hz("湖州开发区6月报表.xlsx", &bytes);
    let copy: PathBuf = data.path().join("2020-06/湖州开发区6月报表 - 副本.xlsx");
    std::fs::write(&copy, &bytes).unwrap();

    let batch = check_folder(&data.path().join("2020-06"), "2020-06");
    assert_eq!(batch.errors(), 0, "{:#?}", batch.findings);
    let note = batch
        .findings
        .iter()
        .find(|f| f.rule == "file.identical_copy")
        .expect("a note names both files");
    assert_eq!(note.severity, Severity::Info);
    assert_eq!(note.file, "2020-06/湖州开发区6月报表.xlsx");
    assert!(
        note.message.contains("湖州开发区6月报表 - 副本.xlsx"),
        "{note:?}"
    );

    let (code, out) = run_check(&data.path().join("2020-06"));
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        hz_state(data.path(), "2020-06"),
        [("湖开统1表".to_string(), FormState::Accepted)]
    );
    let json = summary(data.path(), "2020-06");
    assert_eq!(json["zones"]["HZ"]["status"], "accepted");
    assert_eq!(json["complete"], true);
}

#[test]
fn copies_that_differ_stay_duplicates() {
    let dir = PeriodDir::new("2020-06");
    dir.write("湖州.xlsx", &hz().xlsx());
    dir.write("湖州-改.xlsx", &hz().set("E7", n(1.0)).xlsx());
    let batch = check_folder(&dir.path, "2020-06");
    let dups = batch
        .findings
        .iter()
        .filter(|f| f.rule == "form.duplicate")
        .count();
    assert_eq!(dups, 2, "{:#?}", batch.findings);
}

/// Intake as on 2020-07-10: June's forms are being collected.
fn intake_in_july(inbox: &Path, data: &Path) -> zonestat::intake::IntakeReport {
    let opts = zonestat::intake::IntakeOptions {
        settle: std::time::Duration::ZERO,
        today: common::period("2020-07"),
        ..Default::default()
    };
    zonestat::intake::intake(inbox, data, &cat(), &opts, &mut |_| {}).unwrap()
}

/// A data folder holding 2020-05 and 2020-06 (the sample June forms), and an empty inbox.
fn archive_with_june() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("数据");
    let june = data.join("2020-06");
    std::fs::create_dir_all(&june).unwrap();
    for f in std::fs::read_dir(common::data("2020-06")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, june.join(f.file_name().unwrap())).unwrap();
    }
    let inbox = tmp.path().join("收件箱");
    std::fs::create_dir_all(&inbox).unwrap();
    (tmp, data, inbox)
}

#[test]
fn a_mistyped_future_month_stays_in_the_inbox_and_opens_no_period() {
    let (_tmp, data, inbox) = archive_with_june();
    let july = form1("湖州经济技术开发区", "2020年1-7月").xlsx();
    std::fs::write(inbox.join("湖州7月.xlsx"), &july).unwrap();
    let r = intake_in_july(&inbox, &data);
    let e = r
        .entries
        .iter()
        .find(|e| e.file.ends_with("湖州7月.xlsx"))
        .unwrap();
    assert_eq!(e.action, zonestat::intake::Action::Held, "{e:?}");
    let why = e.reason.as_deref().unwrap();
    assert!(
        why.contains("2020年1-7月") && why.contains("填错了月份"),
        "{why}"
    );
    assert!(inbox.join("湖州7月.xlsx").is_file(), "left in the inbox");
    assert!(
        !data.join("2020-07").exists(),
        "no folder for the mistyped month"
    );
    assert_eq!(
        zonestat::archive::latest_period(&data),
        Some(common::period("2020-06"))
    );
    let log = std::fs::read_to_string(data.join("intake.log")).unwrap();
    assert!(log.contains("\"action\":\"held\""), "{log}");
    // The month after, the same form is the period being collected: filed.
    let opts = zonestat::intake::IntakeOptions {
        settle: std::time::Duration::ZERO,
        today: common::period("2020-08"),
        ..Default::default()
    };
    let r = zonestat::intake::intake(&inbox, &data, &cat(), &opts, &mut |_| {}).unwrap();
    assert_eq!(
        r.entries[0].action,
        zonestat::intake::Action::Filed,
        "{:?}",
        r.entries
    );
    assert!(data.join("2020-07").is_dir());
}

#[test]
fn a_late_form_for_an_earlier_month_is_filed_there_and_said_so() {
    let (_tmp, data, inbox) = archive_with_june();
    let may = form1("南浔经济开发区", "2020年1-5月").xlsx();
    std::fs::write(inbox.join("南浔5月.xlsx"), &may).unwrap();
    let r = intake_in_july(&inbox, &data);
    let e = r
        .entries
        .iter()
        .find(|e| e.file.ends_with("南浔5月.xlsx"))
        .unwrap();
    assert_eq!(e.action, zonestat::intake::Action::Filed, "{e:?}");
    assert!(
        e.reason
            .as_deref()
            .unwrap()
            .contains("已归档到往期 2020-05"),
        "{e:?}"
    );
    assert!(
        files_named(&data.join("2020-05"))
            .contains(&"湖开统1表-南浔开发区-2020-05.xlsx".to_string())
    );
    let shown = zonestat::intake::render(&r, &cat());
    assert!(shown.contains("已归档到往期 2020-05"), "{shown}");
}

#[test]
fn a_sheet_per_month_workbook_in_the_inbox_is_filed_under_its_latest_month() {
    let (_tmp, data, inbox) = archive_with_june();
    std::fs::remove_file(data.join("2020-06/湖州开发区6月报表.xlsx")).unwrap();
    std::fs::write(inbox.join("湖州2020.xlsx"), hz_by_month()).unwrap();
    let r = intake_in_july(&inbox, &data);
    let e = r
        .entries
        .iter()
        .find(|e| e.file.ends_with("湖州2020.xlsx"))
        .unwrap();
    assert_eq!(
        e.action,
        zonestat::intake::Action::Filed,
        "{e:?} {:?}",
        r.findings
    );
    assert_eq!(e.period, Some(common::period("2020-06")));
    let june = check_folder(&data.join("2020-06"), "2020-06");
    assert_eq!(june.errors(), 0, "{:#?}", june.findings);
}

fn files_named(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
