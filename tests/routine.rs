//! The routine: intake of an inbox into the data folder, who has reported,
//! cross-period warnings, and `zonestat run` in a folder made by `zonestat init`.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{cat, data, fixtures, form1, form2, inventory, n, t};
use zonestat::intake::{Action, IntakeOptions, intake};
use zonestat::read::sha256_hex;

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Intake that files what was just written (tests do not wait for files to settle).
fn at_once() -> IntakeOptions {
    IntakeOptions {
        settle: Duration::ZERO,
        ..IntakeOptions::default()
    }
}

fn drop_into(inbox: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(inbox.join(name), bytes).unwrap();
}

#[test]
fn intake_files_replaces_and_holds_without_losing_a_byte() {
    let cat = cat();
    let work = tempfile::tempdir().unwrap();
    let (inbox, store) = (work.path().join("收件箱"), work.path().join("数据"));
    std::fs::create_dir(&inbox).unwrap();
    let mut came_in: BTreeSet<String> = BTreeSet::new();
    let mut drop = |name: &str, bytes: Vec<u8>| {
        came_in.insert(sha256_hex(&bytes));
        drop_into(&inbox, name, &bytes);
    };
    // Round one: the six June forms, a lock file, a note, a truncated workbook, a faulty form.
    for f in std::fs::read_dir(data("2020-06")).unwrap() {
        let p = f.unwrap().path();
        drop(
            &p.file_name().unwrap().to_string_lossy(),
            std::fs::read(&p).unwrap(),
        );
    }
    drop("~$他表.xlsx", b"lock".to_vec());
    drop("说明.txt", "请查收".as_bytes().to_vec());
    let good = std::fs::read(data("2020-06").join("附件1-长兴2020年6月.xlsx")).unwrap();
    drop("坏文件.xlsx", good[..good.len() / 2].to_vec());
    drop(
        "南浔6月(有错).ods",
        std::fs::read(fixtures().join("bad/nx-2020-06-negative.ods")).unwrap(),
    );

    let r = intake(&inbox, &store, &cat, &at_once(), &mut |_| {}).unwrap();
    let count = |a: Action| r.entries.iter().filter(|e| e.action == a).count();
    assert_eq!(
        (
            count(Action::Filed),
            count(Action::Held),
            count(Action::Ignored)
        ),
        (6, 2, 2),
        "{:#?}",
        r.entries
    );
    let june = store.join("2020-06");
    assert_eq!(
        names(&june),
        BTreeSet::from(
            [
                "湖开统1表-湖州开发区-2020-06.xlsx",
                "湖开统1表-长兴开发区-2020-06.xlsx",
                "湖开统1表-吴兴开发区-2020-06.xls",
                "湖开统1表-南浔开发区-2020-06.ods",
                "湖开统1表-安吉开发区-2020-06.xlsx",
                "湖开统3表-湖州市统计局-2020-06.xlsx",
            ]
            .map(String::from)
        )
    );
    assert_eq!(
        names(&inbox),
        BTreeSet::from(
            [
                "~$他表.xlsx",
                "说明.txt",
                "坏文件.xlsx",
                "南浔6月(有错).ods"
            ]
            .map(String::from)
        )
    );
    let held = r
        .entries
        .iter()
        .find(|e| e.file.ends_with("南浔6月(有错).ods"))
        .unwrap();
    assert!(held.reason.as_deref().unwrap().contains("负数"), "{held:?}");

    // Round two: a corrected HZ form and an identical copy of CX's.
    let corrected = form1("湖州经济技术开发区", "2020年1-6月")
        .set("E7", n(89.5))
        .set("G7", n(10.7))
        .xlsx();
    drop("湖州开发区6月报表(更正).xlsx", corrected.clone());
    drop("长兴6月(重发).xlsx", good.clone());
    let r = intake(&inbox, &store, &cat, &at_once(), &mut |_| {}).unwrap();
    let actions: Vec<Action> = r.entries.iter().map(|e| e.action).collect();
    assert!(
        actions.contains(&Action::Superseded)
            && actions.contains(&Action::Replaced)
            && actions.contains(&Action::Duplicate),
        "{actions:?}"
    );
    assert_eq!(
        std::fs::read(june.join("湖开统1表-湖州开发区-2020-06.xlsx")).unwrap(),
        corrected
    );
    let superseded = names(&june.join("_superseded"));
    assert_eq!(superseded.len(), 1);
    assert!(
        superseded
            .iter()
            .next()
            .unwrap()
            .starts_with("湖开统1表-湖州开发区-2020-06-")
    );
    assert!(
        !names(&inbox).contains("长兴6月(重发).xlsx"),
        "the identical copy leaves the inbox"
    );

    // Every byte stream that came in still exists somewhere.
    let mut now: BTreeSet<String> = inventory(&store).into_values().collect();
    now.extend(inventory(&inbox).into_values());
    for h in &came_in {
        assert!(now.contains(h), "lost a file with SHA-256 {h}");
    }
    // The log has a line per action, as JSON.
    let log = std::fs::read_to_string(store.join("intake.log")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6 + 2 + 3, "{log}");
    for l in &lines {
        for k in ["time", "file", "sha256", "form", "zone", "period", "action"] {
            assert!(l.get(k).is_some(), "{k} in {l}");
        }
    }

    // Running intake again changes nothing.
    let (before_store, before_inbox) = (inventory(&store), inventory(&inbox));
    intake(&inbox, &store, &cat, &at_once(), &mut |_| {}).unwrap();
    assert_eq!(inventory(&store), before_store);
    assert_eq!(inventory(&inbox), before_inbox);
}

#[test]
fn a_workbook_that_holds_more_than_the_resent_file_is_not_replaced() {
    let cat = cat();
    let work = tempfile::tempdir().unwrap();
    let (inbox, store) = (work.path().join("in"), work.path().join("data"));
    std::fs::create_dir(&inbox).unwrap();
    // 安吉's December workbook holds both its forms.
    std::fs::copy(
        data("2020-12").join("安吉开发区统计月报2020-12.xlsx"),
        inbox.join("安吉.xlsx"),
    )
    .unwrap();
    intake(&inbox, &store, &cat, &at_once(), &mut |_| {}).unwrap();
    assert!(
        store
            .join("2020-12/湖开统1表+湖开统2表-安吉开发区-2020-12.xlsx")
            .is_file()
    );
    // A re-sent 2表 alone cannot replace the workbook without losing the 1表.
    std::fs::write(
        inbox.join("安吉2表.xlsx"),
        form2("安吉经济开发区", "2020年").xlsx(),
    )
    .unwrap();
    let r = intake(&inbox, &store, &cat, &at_once(), &mut |_| {}).unwrap();
    assert_eq!(r.entries[0].action, Action::Conflict, "{:?}", r.entries);
    assert!(inbox.join("安吉2表.xlsx").is_file());
}

#[test]
fn status_says_who_has_not_reported() {
    let cat = cat();
    let work = tempfile::tempdir().unwrap();
    let june = work.path().join("2020-06");
    std::fs::create_dir(&june).unwrap();
    for f in ["湖州开发区6月报表.xlsx", "南浔6月.ods"] {
        std::fs::copy(data("2020-06").join(f), june.join(f)).unwrap();
    }
    std::fs::copy(
        fixtures().join("bad/nx-2020-06-negative.ods"),
        june.join("南浔6月(二).ods"),
    )
    .unwrap();
    let table = zonestat::status::status(work.path(), "2020-06".parse().unwrap(), &cat).unwrap();
    let text = zonestat::status::render(&table);
    let row = |name: &str| text.lines().find(|l| l.contains(name)).unwrap().to_string();
    assert!(row("湖州开发区").contains("已收到"), "{text}");
    assert!(row("长兴开发区").contains("未报送"), "{text}");
    assert!(row("南浔开发区").contains("有错误"), "{text}");
    assert!(row("湖州市统计局").contains("未报送"), "{text}");
    assert!(
        text.contains(
            "需催报或退回修改：长兴开发区、吴兴开发区、南浔开发区、安吉开发区、湖州市统计局"
        ),
        "{text}"
    );
}

/// Checks a folder made of (period, file name, bytes) and returns `rule cell` of each warning.
fn warnings(files: &[(&str, &str, Vec<u8>)], checked: &str) -> Vec<String> {
    let work = tempfile::tempdir().unwrap();
    for (p, name, bytes) in files {
        std::fs::create_dir_all(work.path().join(p)).unwrap();
        std::fs::write(work.path().join(p).join(name), bytes).unwrap();
    }
    let report = zonestat::check::check(&[work.path().join(checked)], None, &cat()).unwrap();
    assert_eq!(report.errors(), 0, "{:#?}", report.findings);
    report
        .findings
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f.rule,
                f.cell.map(|c| c.to_string()).unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn cross_period_warnings_each_from_a_pair_of_periods() {
    let hz = |period: &str| form1("湖州经济技术开发区", period);
    // Last year's form reported this year's 上年同期, but for A01 79.0 where 80.8682 is now written: 2.4 % apart.
    let mut last_year = hz("2019年1-6月");
    for (i, (_, prior)) in common::FORM1_VALUES.iter().enumerate() {
        let r = 7 + i;
        let (cur, before) = (if i == 0 { 79.0 } else { *prior }, (prior * 0.9).round());
        last_year = last_year
            .set(&format!("E{r}"), n(cur))
            .set(&format!("F{r}"), n(before))
            .set(&format!("G{r}"), n(common::growth(cur, before)));
    }
    let last_year = last_year.xlsx();
    let w = warnings(
        &[
            ("2019-06", "hz.xlsx", last_year),
            ("2020-06", "hz.xlsx", hz("2020年1-6月").xlsx()),
        ],
        "2020-06",
    );
    assert_eq!(w, ["cross.prior_differs F7"]);

    // May's year-to-date A06 above June's.
    let may = hz("2020年1-5月")
        .set("E12", n(10.5))
        .set("G12", n(18.1))
        .xlsx();
    let w = warnings(
        &[
            ("2020-05", "hz.xlsx", may),
            ("2020-06", "hz.xlsx", hz("2020年1-6月").xlsx()),
        ],
        "2020-06",
    );
    assert_eq!(w, ["cross.ytd_decreased E12"]);

    // 2020's 累计 of B01 (8) is not 2019's 累计 (5) + 2020's 本年 (2).
    let aj = |period: &str| form2("安吉经济开发区", period);
    let y2019 = aj("2019年")
        .set("E7", n(2.0))
        .set("F7", n(1.0))
        .set("G7", n(5.0))
        .xlsx();
    let w = warnings(
        &[
            ("2019-12", "aj.xlsx", y2019),
            ("2020-12", "aj.xlsx", aj("2020年").xlsx()),
        ],
        "2020-12",
    );
    assert!(
        w.contains(&"cross.cumulative_chain G7".to_string()),
        "{w:?}"
    );

    // A growth of +60 % asks for an explanation, and carries it when given.
    let steep = hz("2020年1-6月").set("E7", n(129.4)).set("G7", n(60.0));
    let w = warnings(&[("2020-06", "hz.xlsx", steep.clone().xlsx())], "2020-06");
    assert_eq!(w, ["growth.extreme E7"]);
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("2020-06")).unwrap();
    std::fs::write(
        work.path().join("2020-06/hz.xlsx"),
        steep.set("H7", t("新项目投产")).xlsx(),
    )
    .unwrap();
    let report = zonestat::check::check(&[work.path().join("2020-06")], None, &cat()).unwrap();
    assert!(
        report.findings[0]
            .message
            .contains("备注说明：“新项目投产”"),
        "{:?}",
        report.findings
    );
}

#[test]
fn run_in_a_folder_made_by_init_produces_the_workbook() {
    let work = tempfile::tempdir().unwrap();
    let zonestat = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
            .args(args)
            .current_dir(work.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = zonestat(&["init"]);
    assert_eq!(code, Some(0), "{text}");
    // The clerk drops every received workbook into the inbox, the history first.
    inbox_everything(work.path());
    let (code, text) = zonestat(&["run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("全部报齐"), "{text}");
    let out = work.path().join("汇总表");
    assert!(
        out.join("开发区考核汇总表-2020年1-6月.xlsx").is_file(),
        "{text}"
    );
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("开发区考核汇总表-2020年1-6月.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["complete"], true);
    assert!(names(&work.path().join("收件箱")).is_empty());
    // Again: nothing new in the inbox, the same period, the same result.
    let (code, text) = zonestat(&["run"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("收件箱中没有文件"), "{text}");

    // 南浔 sends a correction that has errors, and a lock file comes along:
    // the filed version is still used, and run says so and exits 1.
    std::fs::copy(
        fixtures().join("bad/nx-2020-06-negative.ods"),
        work.path().join("收件箱/南浔6月更正.ods"),
    )
    .unwrap();
    std::fs::write(work.path().join("收件箱/~$南浔6月更正.xlsx"), b"lock").unwrap();
    let (code, text) = zonestat(&["run"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("南浔开发区 湖开统1表：收件箱中的新版本")
            && text.contains("南浔6月更正.ods 有错误未采用，汇总使用的是已归档的旧版本"),
        "{text}"
    );
    // The intake lines: zone names, the count of problems listed below, the
    // lock file said as check says it.
    assert!(text.contains("湖开统1表 南浔开发区 2020-06"), "{text}");
    assert!(!text.contains(" NX "), "{text}");
    assert!(text.contains("1 处错误、1 处警告，见下文"), "{text}");
    assert!(
        text.contains(
            "[已忽略] 收件箱/~$南浔6月更正.xlsx\n      电子表格程序的临时锁定文件，已忽略。"
        ),
        "{text}"
    );
    let (_, checked) = zonestat(&["check", "收件箱"]);
    assert!(
        checked.contains(
            "[已忽略] 收件箱/~$南浔6月更正.xlsx\n      电子表格程序的临时锁定文件，已忽略。"
        ),
        "{checked}"
    );
}

#[test]
fn run_finishes_its_work_when_its_pipe_closes() {
    let work = tempfile::tempdir().unwrap();
    zonestat::cmd::init::init(work.path()).unwrap();
    inbox_everything(work.path());
    // `zonestat run | head -1` with the reader gone at once.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .arg("run")
        .current_dir(work.path())
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        names(&work.path().join("收件箱")).is_empty(),
        "the inbox is filed"
    );
    let out_dir = work.path().join("汇总表");
    assert!(
        out_dir.join("开发区考核汇总表-2020年1-6月.xlsx").is_file(),
        "{err}"
    );
    assert!(
        out_dir.join("开发区考核汇总表-2020年1-6月.json").is_file(),
        "{err}"
    );
}

/// Whether any part of a package holds `needle`.
fn package_contains(bytes: &[u8], needle: &str) -> bool {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len()).any(|i| {
        let mut text = String::new();
        let mut part = zip.by_index(i).unwrap();
        std::io::Read::read_to_string(&mut part, &mut text).is_ok() && text.contains(needle)
    })
}

#[test]
fn overlong_text_cell_is_cut_and_workbook_written() {
    let cat = cat();
    let work = tempfile::tempdir().unwrap();
    let june = work.path().join("2020-06");
    std::fs::create_dir(&june).unwrap();
    for f in std::fs::read_dir(data("2020-06")).unwrap() {
        let f = f.unwrap().path();
        if !f.ends_with("湖州开发区6月报表.xlsx") {
            std::fs::copy(&f, june.join(f.file_name().unwrap())).unwrap();
        }
    }
    // A remark longer than a cell holds (cut by the reader, with a warning
    // naming its cell), on a row whose growth asks for one (so it is quoted
    // in a message too, which a cell cannot hold whole), and a negative
    // value: HZ gets feedback.
    let remark = "新项目投产".repeat(8_000);
    let hz = form1("湖州经济技术开发区", "2020年1-6月")
        .set("E7", n(129.4))
        .set("G7", n(60.0))
        .set("H7", t("REMARK-PLACEHOLDER"))
        .set("E12", n(-5.0));
    let bytes = common::replace_in_package(&hz.xlsx(), "REMARK-PLACEHOLDER", &remark);
    std::fs::write(june.join("湖州.xlsx"), bytes).unwrap();
    let c =
        zonestat::consolidate::consolidate(work.path(), "2020-06".parse().unwrap(), &cat).unwrap();
    let long = c
        .findings
        .iter()
        .find(|f| f.rule == "cell.text_cut")
        .unwrap_or_else(|| panic!("{:#?}", c.findings));
    assert_eq!(long.file, "2020-06/湖州.xlsx");
    assert_eq!(long.cell.map(|c| c.to_string()).as_deref(), Some("H7"));
    assert_eq!(long.severity, zonestat::model::Severity::Warning);
    let out = work.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let book = out.join("汇总.xlsx");
    zonestat::report::write_pair(&c, &cat, &book, Some(&out.join("汇总.json"))).unwrap();
    assert!(package_contains(
        &std::fs::read(&book).unwrap(),
        zonestat::text::CUT_MARK
    ));
    let created = zonestat::template::creation_time();
    let feedback = zonestat::feedback::write_feedback(
        &c.forms,
        Some(c.period),
        &cat,
        &out.join("反馈"),
        &created,
    )
    .unwrap();
    assert_eq!(feedback.len(), 1, "{feedback:?}");
    // The remark as read (cut to a cell's 32,767 characters) is redrawn.
    assert!(package_contains(
        &std::fs::read(&feedback[0]).unwrap(),
        &remark[..300]
    ));
}

#[test]
fn json_is_not_replaced_when_the_workbook_cannot_be_written() {
    let work = tempfile::tempdir().unwrap();
    // The workbook goes where no file can be made, even by root (/proc).
    std::fs::write(work.path().join("汇总.json"), "{\"old\": true}").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .args(["consolidate"])
        .arg(fixtures().join("data"))
        .args([
            "--period",
            "2020-06",
            "-o",
            "/proc/汇总.xlsx",
            "--json",
            "汇总.json",
        ])
        .current_dir(work.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("汇总.json")).unwrap(),
        "{\"old\": true}",
        "the old summary stays beside the old workbook"
    );
}

/// Every sample workbook, the history first, copied into the work folder's
/// inbox just now: filed without waiting for them to settle.
fn inbox_everything(work: &std::path::Path) {
    let toml = work.join("zonestat.toml");
    let settings = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        settings.replace("settle_seconds = 5", "settle_seconds = 0"),
    )
    .unwrap();
    for p in ["2017-12", "2018-12", "2019-12", "2020-06"] {
        for f in std::fs::read_dir(data(p)).unwrap() {
            let f = f.unwrap().path();
            let name = format!("{p}-{}", f.file_name().unwrap().to_string_lossy());
            std::fs::copy(&f, work.join("收件箱").join(name)).unwrap();
        }
    }
}
