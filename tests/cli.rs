//! `zonestat check` end to end: the built binary on a period folder holding
//! good forms and every kind of bad file a statistics clerk receives.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use serde_json::Value;

fn zonestat(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .args(args)
        .output()
        .expect("run zonestat")
}

/// stdout and stderr, for failure messages.
fn shown(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn check(dir: &Path, json: Option<&Path>) -> Output {
    let mut args = vec!["check".as_ref(), dir.as_os_str()];
    if let Some(j) = json {
        args.extend(["--json".as_ref(), j.as_os_str()]);
    }
    zonestat(&args)
}

/// The good 2020-06 forms except HZ's, HZ's form with a formula that has no
/// saved result, a truncated workbook, HZ's December form, a lock file and a
/// text file.
fn mixed_folder() -> PeriodDir {
    let dir = PeriodDir::new("2020-06");
    for name in [
        "全市对比基数2020年6月.xlsx",
        "南浔6月.ods",
        "吴兴开发区主要指标202006.xls",
        "安吉开发区统计月报2020-6.xlsx",
        "附件1-长兴2020年6月.xlsx",
    ] {
        dir.copy(&data("2020-06").join(name), name);
    }
    dir.write(
        "湖州开发区6月报表.xlsx",
        &hz().set("E8", W::Formula("219.5161+146.344".into())).xlsx(),
    );
    let good = std::fs::read(data("2020-06").join("湖州开发区6月报表.xlsx")).unwrap();
    dir.write("附件2.xlsx", &good[..good.len() / 2]);
    dir.copy(
        &data("2020-12").join("湖州开发区12月报表.xlsx"),
        "湖州开发区12月报表.xlsx",
    );
    dir.write("~$lock.xlsx", b"\x05clerk");
    dir.write("readme.txt", "请查收各开发区报表。".as_bytes());
    dir
}

#[test]
fn mixed_folder_lists_every_file_and_pins_each_error() {
    let dir = mixed_folder();
    let json_path = dir.path.parent().unwrap().join("out.json");
    let out = check(&dir.path, Some(&json_path));
    let ctx = shown(&out);
    assert_eq!(out.status.code(), Some(1), "{ctx}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let names: Vec<String> = std::fs::read_dir(&dir.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 10, "{names:?}");
    for name in &names {
        assert!(
            stdout.contains(&format!("2020-06/{name}")),
            "{name} not listed\n{ctx}"
        );
    }

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("JSON written")).unwrap();
    let files = report["files"].as_array().expect("files");
    assert_eq!(files.len(), names.len(), "{ctx}");
    let status = |name: &str| -> &str {
        let f = files
            .iter()
            .find(|f| f["file"] == format!("2020-06/{name}"))
            .unwrap_or_else(|| panic!("{name}"));
        f["status"].as_str().unwrap()
    };
    for good in [
        "全市对比基数2020年6月.xlsx",
        "南浔6月.ods",
        "吴兴开发区主要指标202006.xls",
        "安吉开发区统计月报2020-6.xlsx",
        "附件1-长兴2020年6月.xlsx",
    ] {
        assert_eq!(status(good), "used", "{good}\n{ctx}");
    }
    assert_eq!(status("湖州开发区6月报表.xlsx"), "rejected", "{ctx}");
    assert_eq!(status("附件2.xlsx"), "unreadable", "{ctx}");
    assert_eq!(status("湖州开发区12月报表.xlsx"), "rejected", "{ctx}");
    assert_eq!(status("~$lock.xlsx"), "ignored", "{ctx}");
    assert_eq!(status("readme.txt"), "ignored", "{ctx}");
    for f in files {
        assert!(f["sha256"].as_str().is_some_and(|s| s.len() == 64), "{f}");
    }

    let findings = report["findings"].as_array().expect("findings");
    for f in findings {
        for field in [
            "severity",
            "rule",
            "file",
            "sheet",
            "cell",
            "zone",
            "indicator",
            "message",
        ] {
            assert!(f.get(field).is_some(), "finding without {field}: {f}");
        }
    }
    let errors: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    let got: Vec<(&str, &str, &Value, &Value, &Value, &Value)> = errors
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap(),
                f["rule"].as_str().unwrap(),
                &f["sheet"],
                &f["cell"],
                &f["zone"],
                &f["indicator"],
            )
        })
        .collect();
    let s = |v: &str| Value::String(v.to_string());
    assert_eq!(
        got,
        [
            (
                "2020-06/湖州开发区12月报表.xlsx",
                "form.period_mismatch",
                &s("湖开统1表"),
                &s("D4"),
                &s("HZ"),
                &Value::Null
            ),
            (
                "2020-06/湖州开发区6月报表.xlsx",
                "value.formula_no_result",
                &s("湖开统1表"),
                &s("E8"),
                &s("HZ"),
                &s("A02")
            ),
            (
                "2020-06/附件2.xlsx",
                "file.unreadable",
                &Value::Null,
                &Value::Null,
                &Value::Null,
                &Value::Null
            ),
        ],
        "{ctx}"
    );
    for e in &errors {
        let message = e["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.is_ascii(),
            "message in Chinese: {message}"
        );
    }
    // The lock file and the text file are noted, not errors.
    let rules = |file: &str| -> Vec<&str> {
        findings
            .iter()
            .filter(|f| f["file"] == file)
            .map(|f| f["rule"].as_str().unwrap())
            .collect()
    };
    assert_eq!(rules("2020-06/~$lock.xlsx"), ["file.lock"]);
    assert_eq!(rules("2020-06/readme.txt"), ["file.ignored"]);
    // The terminal listing carries the same.
    assert!(stdout.contains("湖开统1表!E8"), "{ctx}");
    assert!(stdout.contains("value.formula_no_result"), "{ctx}");
}

#[test]
fn good_folders_pass() {
    for p in ["2020-06", "2020-12"] {
        let out = check(&data(p), None);
        let ctx = shown(&out);
        assert_eq!(out.status.code(), Some(0), "{p}\n{ctx}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("[错误]"), "{p}\n{ctx}");
        for e in std::fs::read_dir(data(p)).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                stdout.contains(&format!("[可用] {p}/{name}")),
                "{p}/{name} not used\n{ctx}"
            );
        }
    }
}

#[test]
fn period_option_overrides_the_folder_name() {
    let out = zonestat(&[
        "check".as_ref(),
        data("2020-06").as_os_str(),
        "--period".as_ref(),
        "2020-05".as_ref(),
    ]);
    let ctx = shown(&out);
    assert_eq!(out.status.code(), Some(1), "{ctx}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("form.period_mismatch"),
        "{ctx}"
    );
}

#[test]
fn single_file_is_checked_against_its_folder() {
    let out = check(&data("2020-06").join("南浔6月.ods"), None);
    let ctx = shown(&out);
    assert_eq!(out.status.code(), Some(0), "{ctx}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("[可用] 2020-06/南浔6月.ods"),
        "{ctx}"
    );
}

#[test]
fn missing_path_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("2020-06");
    let out = check(&missing, None);
    let ctx = shown(&out);
    assert_eq!(out.status.code(), Some(2), "{ctx}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&missing.display().to_string()), "{ctx}");
}

/// Regression: `zonestat check .` inside the period folder took no period
/// from `.`, so a form of another month passed as usable.
#[test]
fn dot_inside_the_period_folder_is_that_period() {
    let dir = PeriodDir::new("2020-06");
    dir.copy(&data("2020-06").join("南浔6月.ods"), "南浔6月.ods");
    dir.copy(
        &data("2020-12").join("湖州开发区12月报表.xlsx"),
        "湖州开发区12月报表.xlsx",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .current_dir(&dir.path)
        .args(["check", "."])
        .output()
        .expect("run zonestat");
    let ctx = shown(&out);
    assert_eq!(out.status.code(), Some(1), "{ctx}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("[可用] 2020-06/南浔6月.ods"), "{ctx}");
    assert!(
        stdout.contains("[有错误] 2020-06/湖州开发区12月报表.xlsx"),
        "{ctx}"
    );
    assert!(stdout.contains("form.period_mismatch"), "{ctx}");
}

/// Runs the binary in `dir`.
fn zonestat_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run zonestat")
}

/// Words of clap's English screens that must not reach a clerk.
const ENGLISH: [&str; 12] = [
    "Usage",
    "Options",
    "Arguments",
    "Commands",
    "Print",
    "default:",
    "[OPTIONS]",
    "possible values",
    "error:",
    "For more information",
    "tip:",
    "help for",
];

fn assert_chinese(what: &str, text: &str) {
    for word in ENGLISH {
        assert!(!text.contains(word), "{what} shows {word:?}:\n{text}");
    }
}

const COMMANDS: [&str; 9] = [
    "check",
    "template",
    "init",
    "intake",
    "status",
    "run",
    "consolidate",
    "send",
    "help",
];

#[test]
fn every_help_screen_is_chinese_with_examples_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut screens = vec![("--help".to_string(), vec!["--help"])];
    screens.push(("-h".into(), vec!["-h"]));
    screens.push(("help".into(), vec!["help"]));
    for c in COMMANDS {
        screens.push((format!("{c} --help"), vec![c, "--help"]));
        screens.push((format!("help {c}"), vec!["help", c]));
    }
    for (what, args) in screens {
        let out = zonestat_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", shown(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert_chinese(&what, &text);
        assert!(text.contains("用法："), "{what}:\n{text}");
        assert!(text.contains("例如："), "{what}:\n{text}");
        assert!(text.contains("退出码："), "{what}:\n{text}");
    }
    // Asking for help creates nothing.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn command_line_mistakes_are_explained_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    for (args, words) in [
        (vec!["check"], vec!["缺少", "zonestat check --help"]),
        (vec!["chek", "x"], vec!["没有“chek”这个命令", "check"]),
        (
            vec!["check", "x", "--perod", "2020-06"],
            vec!["不认识的参数", "--period"],
        ),
        (
            vec!["check", "x", "--period", "2020-13"],
            vec!["2020-13", "YYYY-MM"],
        ),
        (
            vec!["send", "r.xlsx", "--security", "foo"],
            vec!["foo", "starttls"],
        ),
        (vec![], vec!["缺少命令"]),
        (vec!["help", "nothing"], vec!["没有“nothing”这个命令"]),
    ] {
        let out = zonestat_in(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", shown(&out));
        let text = String::from_utf8_lossy(&out.stderr);
        assert_chinese(&format!("{args:?}"), &text);
        assert!(text.starts_with("错误："), "{args:?}: {text}");
        for w in words {
            assert!(text.contains(w), "{args:?} lacks {w:?}: {text}");
        }
    }
}

#[test]
fn run_outside_a_work_folder_says_so_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = zonestat_in(dir.path(), &["run"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("zonestat.toml"), "{text}");
    assert!(text.contains("zonestat init"), "{text}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "run created {left:?}");
}

#[test]
fn consolidate_in_a_work_folder_takes_the_settings_and_the_latest_period() {
    let dir = tempfile::tempdir().unwrap();
    let out = zonestat_in(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let june = dir.path().join("数据/2020-06");
    std::fs::create_dir_all(&june).unwrap();
    for f in std::fs::read_dir(data("2020-06")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, june.join(f.file_name().unwrap())).unwrap();
    }
    let out = zonestat_in(dir.path(), &["consolidate"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2020年1-6月"), "{}", shown(&out));
    assert!(
        dir.path()
            .join("汇总表/开发区考核汇总表-2020年1-6月.xlsx")
            .is_file(),
        "{}",
        shown(&out)
    );
    // Outside a work folder the data folder must be named.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = zonestat_in(elsewhere.path(), &["consolidate"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("数据文件夹"));
}

#[test]
fn a_malformed_settings_file_is_explained_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    // A Windows path in double quotes: the backslash starts an escape.
    std::fs::write(
        dir.path().join("zonestat.toml"),
        "# 设置\ndata = \"D:\\数据\"\n",
    )
    .unwrap();
    let out = zonestat_in(dir.path(), &["status"]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("zonestat.toml") && text.contains("第 2 行"),
        "{text}"
    );
    assert!(text.contains("单引号"), "{text}");
    for english in ["invalid", "escape", "expected", "TOML"] {
        assert!(!text.contains(english), "{text}");
    }
}

#[test]
fn closed_pipe_ends_quietly() {
    // `zonestat check DIR | head -1`: the reader is gone before the listing is written.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .arg("check")
        .arg(data("2020-06"))
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let bad = mixed_folder();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .arg("check")
        .arg(&bad.path)
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the exit status of the table");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn many_stray_files_are_summarised_by_kind_and_each_in_the_json() {
    let dir = PeriodDir::new("2020-06");
    dir.copy(&data("2020-06").join("南浔6月.ods"), "南浔6月.ods");
    for i in 0..300 {
        let ext = ["txt", "pdf", "jpg"][i % 3];
        dir.write(&format!("附件-{i:04}.{ext}"), b"not a workbook");
    }
    let json = dir.path.parent().unwrap().join("out.json");
    let out = check(&dir.path, Some(&json));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    assert!(
        text.contains("另有 300 个不是电子表格的文件：.jpg 100 个、.pdf 100 个、.txt 100 个"),
        "{text}"
    );
    assert!(text.lines().count() < 20, "{text}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 301);
    // One finding stands for them all.
    let ignored: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "file.ignored")
        .collect();
    assert_eq!(ignored.len(), 1, "{ignored:?}");
    assert_eq!(ignored[0]["found"], "300 个文件");
}
