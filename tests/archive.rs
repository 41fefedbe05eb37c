//! The data folder as an archive of record: `intake` killed at every write,
//! sync, rename and unlink (strace fault injection on the real binary), two
//! intakes at once, and one test for each way an inbox went wrong before.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use common::{cat, data, fixtures, form1, inventory, n};
use zonestat::intake::{Action, IntakeOptions, IntakeReport, intake};
use zonestat::read::sha256_hex;

/// A working folder: `收件箱/`, `数据/` and a zonestat.toml that files at once.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("收件箱")).unwrap();
        std::fs::write(
            dir.path().join("zonestat.toml"),
            "[archive]\nsettle_seconds = 0\nlock_wait_seconds = 60\n",
        )
        .unwrap();
        Work { dir }
    }

    fn inbox(&self) -> PathBuf {
        self.dir.path().join("收件箱")
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("数据")
    }

    /// Drops `bytes` into the inbox, last modified `age` ago.
    fn drop(&self, name: &str, bytes: &[u8], age: Duration) -> PathBuf {
        let p = self.inbox().join(name);
        std::fs::write(&p, bytes).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
        p
    }

    fn intake(&self) -> IntakeReport {
        intake(
            &self.inbox(),
            &self.store(),
            &cat(),
            &at_once(),
            &mut |_| {},
        )
        .unwrap()
    }

    /// `zonestat intake` in this folder, optionally under `prefix` (strace).
    fn run(&self, prefix: &[&str]) -> Output {
        let bin = env!("CARGO_BIN_EXE_zonestat");
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(["intake", "收件箱", "--data", "数据"])
            .current_dir(self.dir.path())
            .output()
            .unwrap()
    }

    /// Every byte stream in the inbox and the data folder.
    fn streams(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = inventory(&self.inbox()).into_values().collect();
        if self.store().exists() {
            all.extend(inventory(&self.store()).into_values());
        }
        all
    }
}

fn at_once() -> IntakeOptions {
    IntakeOptions {
        settle: Duration::ZERO,
        ..IntakeOptions::default()
    }
}

fn shown(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The June forms, HZ's twice (the corrected one newer), a faulty form, a note.
fn mixed_inbox(w: &Work) -> BTreeSet<String> {
    let mut came_in = BTreeSet::new();
    let old = Duration::from_secs(600);
    for f in std::fs::read_dir(data("2020-06")).unwrap() {
        let p = f.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        came_in.insert(sha256_hex(&bytes));
        w.drop(&p.file_name().unwrap().to_string_lossy(), &bytes, old);
    }
    let corrected = form1("湖州经济技术开发区", "2020年1-6月")
        .set("E7", n(89.5))
        .set("G7", n(10.7))
        .xlsx();
    came_in.insert(sha256_hex(&corrected));
    w.drop("湖州6月(更正).xlsx", &corrected, Duration::from_secs(300));
    let faulty = std::fs::read(fixtures().join("bad/nx-2020-06-negative.ods")).unwrap();
    came_in.insert(sha256_hex(&faulty));
    w.drop("南浔(有错).ods", &faulty, old);
    came_in.insert(sha256_hex("请查收".as_bytes()));
    w.drop("说明.txt", "请查收".as_bytes(), old);
    came_in
}

/// A canonical archive name: `湖开统1表-湖州开发区-2020-06.xlsx`, in
/// `_superseded/` with a time stamp before the extension.
fn canonical(name: &str, superseded: bool) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let stem = if superseded {
        match stem.rsplit_once("-20") {
            Some((s, stamp)) if stamp.contains('T') && stamp.ends_with('Z') => s,
            _ => return false,
        }
    } else {
        stem
    };
    ["xlsx", "xlsm", "xls", "ods"].contains(&ext)
        && stem.starts_with("湖开统")
        && stem.ends_with("-2020-06")
        && !name.starts_with('.')
}

/// What must hold after any run that ended (killed or not) and a run after it.
fn assert_archive_whole(w: &Work, came_in: &BTreeSet<String>, what: &str) {
    let now = w.streams();
    for h in came_in {
        assert!(now.contains(h), "{what}: lost the byte stream {h}");
    }
    let store = w.store();
    for name in names(&store) {
        assert!(
            ["2020-06", "intake.log", ".zonestat.lock", ".zonestat-tmp"].contains(&name.as_str()),
            "{what}: unexpected {name} in the data folder"
        );
    }
    assert!(
        names(&store.join(".zonestat-tmp")).is_empty(),
        "{what}: temporary files left"
    );
    let june = store.join("2020-06");
    for name in names(&june) {
        if name != "_superseded" {
            assert!(canonical(&name, false), "{what}: filed as {name}");
        }
    }
    for name in names(&june.join("_superseded")) {
        assert!(canonical(&name, true), "{what}: superseded as {name}");
    }
    let report = zonestat::check::check(std::slice::from_ref(&june), None, &cat()).unwrap();
    for f in &report.files {
        assert!(
            !f.file.contains("/.") && !f.file.ends_with(".tmp"),
            "{what}: check lists {}",
            f.file
        );
    }
    let log = std::fs::read_to_string(store.join("intake.log")).unwrap_or_default();
    for line in log.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{what}: log line {line:?} does not parse: {e}"));
        let text = v.to_string();
        assert!(
            !text.contains(".zonestat") && !text.contains(".tmp"),
            "{what}: a temporary file logged: {line}"
        );
    }
}

/// Names in the period folder and how many were superseded, for comparing runs.
fn outcome(w: &Work) -> (BTreeSet<String>, usize, BTreeSet<String>) {
    let june = w.store().join("2020-06");
    let mut filed = names(&june);
    filed.remove("_superseded");
    (
        filed,
        names(&june.join("_superseded")).len(),
        names(&w.inbox()),
    )
}

#[test]
fn intake_killed_at_every_write_sync_rename_and_unlink_loses_nothing() {
    if Command::new("strace").arg("-V").output().is_err() {
        println!("SKIPPED: strace is not installed (bash .ci/run installs it)");
        return;
    }
    // The outcome of an uninterrupted run. Only intake itself is killed:
    // strace lets go of the reader workers when they start (`-b execve`),
    // so which process makes the Nth call never depends on scheduling.
    let w = Work::new();
    let came_in = mixed_inbox(&w);
    let out = w.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    let reference = outcome(&w);
    assert_eq!(reference.0.len(), 6, "{reference:?}");
    assert_eq!(reference.1, 1, "{reference:?}");
    assert_archive_whole(&w, &came_in, "uninterrupted");

    let mut kills = 0;
    for syscall in [
        "write",
        "fsync",
        "fdatasync",
        "rename,renameat,renameat2",
        "unlink,unlinkat",
        "mkdir,mkdirat",
    ] {
        for when in 1.. {
            let w = Work::new();
            let came_in = mixed_inbox(&w);
            let inject = format!("inject={syscall}:signal=KILL:when={when}");
            let out = w.run(&[
                "strace",
                "-f",
                "-b",
                "execve",
                "-qq",
                "-o",
                "/dev/null",
                "-e",
                &inject,
            ]);
            let killed = out.status.code().is_none() || out.status.code() == Some(137);
            let what = format!("{syscall} #{when}");
            if !killed {
                assert_eq!(out.status.code(), Some(1), "{what}: {}", shown(&out));
                assert_eq!(outcome(&w), reference, "{what}");
                println!("{syscall}: killed at each of {} calls", when - 1);
                break;
            }
            kills += 1;
            // The next run completes or undoes what was interrupted.
            let again = w.run(&[]);
            assert_eq!(again.status.code(), Some(1), "{what}: {}", shown(&again));
            assert_archive_whole(&w, &came_in, &what);
            assert_eq!(outcome(&w), reference, "{what}: after the next run");
            // And a further run changes nothing.
            let before = (inventory(&w.store()), inventory(&w.inbox()));
            w.intake();
            let after = (inventory(&w.store()), inventory(&w.inbox()));
            assert_eq!(before, after, "{what}: a further run changed something");
        }
    }
    assert!(kills > 20, "only {kills} injection points were reached");
}

#[test]
fn two_intakes_at_once_file_each_form_once() {
    for round in 0..10 {
        let w = Work::new();
        let came_in = mixed_inbox(&w);
        let bin = env!("CARGO_BIN_EXE_zonestat");
        let spawn = || {
            Command::new(bin)
                .args(["intake", "收件箱", "--data", "数据"])
                .current_dir(w.dir.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        for out in [&a, &b] {
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "round {round}: {}",
                shown(out)
            );
        }
        let what = format!("round {round}");
        assert_archive_whole(&w, &came_in, &what);
        let (filed, superseded, _) = outcome(&w);
        assert_eq!((filed.len(), superseded), (6, 1), "{what}: {filed:?}");
        // Each byte stream filed once: no copy under two names.
        let june: Vec<String> = inventory(&w.store().join("2020-06"))
            .into_values()
            .collect();
        let unique: BTreeSet<&String> = june.iter().collect();
        assert_eq!(unique.len(), june.len(), "{what}: a file filed twice");
        let log = std::fs::read_to_string(w.store().join("intake.log")).unwrap();
        let filed_lines = log
            .lines()
            .filter(|l| l.contains("\"action\":\"filed\"") || l.contains("\"action\":\"replaced\""))
            .count();
        assert_eq!(filed_lines, 7, "{what}:\n{log}");
    }
}

#[test]
fn a_second_intake_waits_for_the_lock_then_gives_up() {
    let w = Work::new();
    std::fs::write(
        w.dir.path().join("zonestat.toml"),
        "[archive]\nsettle_seconds = 0\nlock_wait_seconds = 1\n",
    )
    .unwrap();
    let held =
        zonestat::archive::ArchiveLock::acquire(&w.store(), Duration::ZERO, &mut |_| {}).unwrap();
    let out = w.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(zonestat::archive::WAITING), "{}", shown(&out));
    assert!(err.contains("lock_wait_seconds"), "{}", shown(&out));
    drop(held);
    assert_eq!(w.run(&[]).status.code(), Some(0));
}

#[test]
fn leftover_temporary_files_are_removed_and_never_filed() {
    let w = Work::new();
    let june = w.store().join("2020-06");
    let tmp = w.store().join(".zonestat-tmp");
    std::fs::create_dir_all(&june).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let hz = std::fs::read(data("2020-06").join("湖州开发区6月报表.xlsx")).unwrap();
    // What a crash left: a whole temporary copy, an empty one, an output's temporary file.
    std::fs::write(tmp.join("filing-abc.tmp"), &hz).unwrap();
    std::fs::write(tmp.join("filing-empty.tmp"), b"").unwrap();
    std::fs::write(june.join(".zonestat-x1.tmp"), &hz).unwrap();
    let listed = zonestat::check::check(std::slice::from_ref(&june), None, &cat()).unwrap();
    assert!(listed.files.is_empty(), "{:?}", listed.files);
    w.drop("湖州.xlsx", &hz, Duration::from_secs(60));
    let r = w.intake();
    assert_eq!(r.entries[0].action, Action::Filed, "{:?}", r.entries);
    assert!(r.notes[0].contains("3 个临时文件"), "{:?}", r.notes);
    assert!(names(&tmp).is_empty());
    assert_eq!(
        names(&june),
        BTreeSet::from(["湖开统1表-湖州开发区-2020-06.xlsx".to_string()])
    );
}

#[test]
fn torn_log_line_is_skipped_and_reported() {
    let w = Work::new();
    std::fs::create_dir_all(w.store()).unwrap();
    let log = w.store().join("intake.log");
    std::fs::write(
        &log,
        "{\"time\":\"2020-07-10T08:30:00Z\",\"file\":\"收件箱/x.xlsx\",\"sha2",
    )
    .unwrap();
    let hz = std::fs::read(data("2020-06").join("湖州开发区6月报表.xlsx")).unwrap();
    w.drop("湖州.xlsx", &hz, Duration::from_secs(60));
    let r = w.intake();
    assert!(
        r.notes.iter().any(|n| n.contains("第 1 行不完整")),
        "{:?}",
        r.notes
    );
    assert!(
        zonestat::intake::render(&r, &zonestat::catalog::Catalogue::bundled())
            .contains("第 1 行不完整")
    );
    // The fragment is kept as a record of its own, then the filing: every line parses.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0]["action"], "torn");
    assert!(lines[0]["fragment"].as_str().unwrap().ends_with("\"sha2"));
    assert_eq!(lines[1]["action"], "filed");
    // Said once: the next run finds nothing to say.
    assert!(w.intake().notes.is_empty());
}

#[test]
fn inbox_file_still_being_written_is_left() {
    let w = Work::new();
    let hz = std::fs::read(data("2020-06").join("湖州开发区6月报表.xlsx")).unwrap();
    let cx = std::fs::read(data("2020-06").join("附件1-长兴2020年6月.xlsx")).unwrap();
    let nx = std::fs::read(data("2020-06").join("南浔6月.ods")).unwrap();
    let aj = std::fs::read(data("2020-06").join("安吉开发区统计月报2020-6.xlsx")).unwrap();
    // Still being saved by the mail program (changed just now).
    w.drop("湖州.xlsx", &hz, Duration::ZERO);
    // Open in Excel, open in LibreOffice.
    w.drop("长兴.xlsx", &cx, Duration::from_secs(60));
    w.drop("~$长兴.xlsx", b"owner", Duration::from_secs(60));
    w.drop("南浔.ods", &nx, Duration::from_secs(60));
    w.drop(".~lock.南浔.ods#", b"lock", Duration::from_secs(60));
    // Settled.
    w.drop("安吉.xlsx", &aj, Duration::from_secs(60));
    let opts = IntakeOptions {
        settle: Duration::from_secs(5),
        ..IntakeOptions::default()
    };
    let r = intake(&w.inbox(), &w.store(), &cat(), &opts, &mut |_| {}).unwrap();
    let action = |name: &str| {
        r.entries
            .iter()
            .find(|e| e.file.ends_with(name))
            .map(|e| (e.action, e.reason.clone().unwrap_or_default()))
            .unwrap()
    };
    assert_eq!(action("/湖州.xlsx").0, Action::Waiting, "{:?}", r.entries);
    assert!(action("/湖州.xlsx").1.contains("5 秒"));
    assert_eq!(action("/长兴.xlsx").0, Action::Waiting);
    assert!(action("/长兴.xlsx").1.contains("~$长兴.xlsx"));
    assert_eq!(action("/南浔.ods").0, Action::Waiting);
    assert_eq!(action("/安吉.xlsx").0, Action::Filed);
    assert!(!r.needs_attention(), "waiting is not a problem");
    for name in ["湖州.xlsx", "长兴.xlsx", "南浔.ods"] {
        assert!(w.inbox().join(name).is_file(), "{name} stays");
    }
    // Nothing about waiting files goes into the archive's log.
    let log = std::fs::read_to_string(w.store().join("intake.log")).unwrap();
    assert_eq!(log.lines().count(), 1, "{log}");
}

#[test]
fn newer_of_two_versions_in_the_inbox_is_kept() {
    let w = Work::new();
    let original = std::fs::read(data("2020-06").join("湖州开发区6月报表.xlsx")).unwrap();
    let corrected = form1("湖州经济技术开发区", "2020年1-6月")
        .set("E7", n(89.5))
        .set("G7", n(10.7))
        .xlsx();
    // The newer one sorts first by name: the names must not decide.
    w.drop("a-湖州(更正).xlsx", &corrected, Duration::from_secs(60));
    w.drop("z-湖州.xlsx", &original, Duration::from_secs(600));
    let r = w.intake();
    let june = w.store().join("2020-06");
    assert_eq!(
        std::fs::read(june.join("湖开统1表-湖州开发区-2020-06.xlsx")).unwrap(),
        corrected
    );
    let kept = r
        .entries
        .iter()
        .find(|e| e.action == Action::Replaced)
        .unwrap();
    let reason = kept.reason.as_deref().unwrap();
    assert!(
        reason.contains("保留较新的 收件箱/a-湖州(更正).xlsx")
            && reason.contains("收件箱/z-湖州.xlsx"),
        "{reason}"
    );
    let superseded: Vec<String> = inventory(&june.join("_superseded")).into_values().collect();
    assert_eq!(superseded, [sha256_hex(&original)]);
    assert!(names(&w.inbox()).is_empty());
}

#[test]
fn one_inbox_file_that_cannot_be_filed_or_removed_leaves_the_others_filed() {
    if Command::new("strace").arg("-V").output().is_err() {
        println!("SKIPPED: strace is not installed (bash .ci/run installs it)");
        return;
    }
    for (inject, says) in [
        // The first removal from the inbox fails.
        (
            "inject=unlink,unlinkat:error=EACCES:when=1",
            "无法从收件箱删除",
        ),
        // The first temporary copy cannot be synced (a failing disk).
        ("inject=fsync:error=EIO:when=1", "未能归档"),
    ] {
        let w = Work::new();
        let came_in = mixed_inbox(&w);
        let out = w.run(&[
            "strace",
            "-f",
            "-b",
            "execve",
            "-qq",
            "-o",
            "/dev/null",
            "-e",
            inject,
        ]);
        assert_eq!(out.status.code(), Some(1), "{inject}: {}", shown(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(says), "{inject}: {}", shown(&out));
        let failed = text
            .lines()
            .filter(|l| l.contains("[处理失败，留在收件箱]"))
            .count();
        assert_eq!(failed, 1, "{inject}: {}", shown(&out));
        // Every other form was filed; the one left goes in on the next run.
        let (filed, _, inbox) = outcome(&w);
        assert!(filed.len() >= 5, "{inject}: {filed:?}");
        assert_eq!(inbox.len(), 3, "{inject}: {inbox:?}");
        let again = w.run(&[]);
        assert_eq!(again.status.code(), Some(1), "{}", shown(&again));
        assert_archive_whole(&w, &came_in, inject);
        assert_eq!(outcome(&w).0.len(), 6);
    }
}

#[test]
fn xlsm_content_is_filed_under_an_xlsm_name() {
    let w = Work::new();
    let xlsx = std::fs::read(data("2020-06").join("湖州开发区6月报表.xlsx")).unwrap();
    // The same workbook declared macro-enabled, as Excel saves an .xlsm.
    let xlsm = common::replace_in_package(
        &xlsx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        "application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    );
    assert_ne!(xlsm, xlsx);
    w.drop("湖州.xlsx", &xlsm, Duration::from_secs(60));
    let r = w.intake();
    assert_eq!(r.entries[0].action, Action::Filed, "{:?}", r.entries);
    assert_eq!(
        r.entries[0].to.as_deref(),
        Some("2020-06/湖开统1表-湖州开发区-2020-06.xlsm")
    );
}

#[test]
fn fifo_symlinks_and_folders_are_listed_not_read() {
    let dir = common::PeriodDir::new("2020-06");
    dir.copy(&data("2020-06").join("南浔6月.ods"), "南浔6月.ods");
    let p = &dir.path;
    assert!(
        Command::new("mkfifo")
            .arg(p.join("管道.xlsx"))
            .status()
            .unwrap()
            .success()
    );
    std::os::unix::fs::symlink("/dev/zero", p.join("零.xlsx")).unwrap();
    std::os::unix::fs::symlink("环2.xlsx", p.join("环1.xlsx")).unwrap();
    std::os::unix::fs::symlink("环1.xlsx", p.join("环2.xlsx")).unwrap();
    std::os::unix::fs::symlink(
        data("2020-06").join("湖州开发区6月报表.xlsx"),
        p.join("外面.xlsx"),
    )
    .unwrap();
    std::fs::create_dir(p.join("x.xlsx")).unwrap();
    dir.write("a\u{1b}[2Jb\n[可用] 伪造.txt", b"note");
    let json = dir.path.parent().unwrap().join("check.json");
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .arg("check")
        .arg(p)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", shown(&out));
    assert!(!text.contains('\u{1b}'), "raw escape printed: {text}");
    assert!(text.contains("a\\u{1b}[2Jb\\n[可用] 伪造.txt"), "{text}");
    for (name, rule) in [
        ("管道.xlsx", "file.special"),
        ("零.xlsx", "file.symlink"),
        ("环1.xlsx", "file.symlink"),
        ("环2.xlsx", "file.symlink"),
        ("外面.xlsx", "file.symlink"),
        ("x.xlsx", "file.directory"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(&format!("2020-06/{name}")) && l.contains(rule)),
            "{name} {rule}:\n{text}"
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let files: Vec<&str> = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 8, "{files:?}");
    assert!(files.contains(&"2020-06/a\u{1b}[2Jb\n[可用] 伪造.txt"));
}
