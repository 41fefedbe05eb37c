//! Intake (`zonestat intake`, `run`): files the workbooks dropped into an inbox into the data
//! folder under canonical names, without ever losing a byte. A file leaves the
//! inbox only after its copy is on disk and verified; a re-sent form replaces
//! the filed one, which moves to `_superseded/`; a file with errors stays in
//! the inbox. Every action is appended to `intake.log` (JSON lines).
//!
//! The filing itself is [`crate::archive`]'s: intake holds the data folder's
//! lock for the whole run, files oldest first (so the newer of two versions
//! stays), leaves a file still being written for the next run, and turns one
//! file's trouble into that file's entry ([`Action::Failed`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::archive::{self, Archive};
pub use crate::archive::{Action, Entry, LOG_NAME, SUPERSEDED, canonical_name, utc_stamp};
use crate::catalog::Catalogue;
use crate::crossperiod::cross_checks;
use crate::error::Error;
use crate::folder;
use crate::history::History;
use crate::model::{Finding, Period, Severity};
use crate::text::escape_controls;
use crate::validate::CheckedForm;

/// How intake treats the inbox and the data folder (`[archive]` in zonestat.toml).
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// A file changed more recently than this is left for the next run.
    pub settle: Duration,
    /// How long to wait for another zonestat filing into the same data folder.
    pub lock_wait: Duration,
    /// The month intake runs in: a form for a period after the one being
    /// collected (see [`archive::collecting_period`]) is held, not filed.
    pub today: Period,
}

impl IntakeOptions {
    pub fn from_settings(s: &crate::settings::ArchiveSettings) -> IntakeOptions {
        IntakeOptions {
            settle: Duration::from_secs(s.settle_seconds),
            lock_wait: Duration::from_secs(s.lock_wait_seconds),
            today: Period::of_time(crate::model::unix_now()),
        }
    }
}

impl Default for IntakeOptions {
    fn default() -> IntakeOptions {
        IntakeOptions::from_settings(&crate::settings::ArchiveSettings::default())
    }
}

/// What an intake run did.
#[derive(Debug, Clone, Default)]
pub struct IntakeReport {
    pub entries: Vec<Entry>,
    /// The findings of the files held in the inbox, and the cross-period
    /// warnings of the files filed.
    pub findings: Vec<Finding>,
    /// The forms of held files (for feedback workbooks).
    pub held_forms: Vec<CheckedForm>,
    /// Periods that received a file.
    pub periods: Vec<Period>,
    /// What was repaired on the way in: leftovers of an interrupted run, a torn log line.
    pub notes: Vec<String>,
}

impl IntakeReport {
    /// Whether a file needs a person: held, conflicting or failed (exit status 1).
    pub fn needs_attention(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e.action, Action::Held | Action::Conflict | Action::Failed))
    }
}

/// Why a file may still be being written, if it may.
fn still_written(path: &Path, meta: &std::fs::Metadata, settle: Duration) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let dir = path.parent()?;
    // Excel's owner file: `~$` and the name (its first two characters
    // replaced for long names); LibreOffice's `.~lock.name#`.
    let rest: String = name.chars().skip(2).collect();
    let beside = [
        format!("~${name}"),
        format!("~${rest}"),
        format!(".~lock.{name}#"),
    ];
    if let Some(lock) = beside.iter().find(|l| dir.join(l).exists()) {
        return Some(format!(
            "旁边有锁定文件 {lock}，这个文件可能正在 Excel 或 LibreOffice 中打开：请关闭后再运行"
        ));
    }
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or(Duration::ZERO);
    (age < settle).then(|| {
        format!(
            "文件在最近 {} 秒内还有变化（可能还在保存），留待下次处理（设置 [archive] settle_seconds）",
            settle.as_secs()
        )
    })
}

/// Files every workbook of `inbox` into `data`, holding the data folder's
/// lock meanwhile (`say` hears when it has to wait for another zonestat).
/// Files are taken oldest first (by modification time, then name), so of
/// two versions of one form the newer is filed last and stays.
///
/// # Errors
/// [`Error::Input`] when the inbox cannot be listed; [`Error::ArchiveBusy`]
/// when the data folder stays locked; [`Error::Output`] when it cannot be
/// made. Trouble with one file is that file's entry ([`Action::Failed`]).
pub fn intake(
    inbox: &Path,
    data: &Path,
    cat: &Catalogue,
    opts: &IntakeOptions,
    say: &mut dyn FnMut(&str),
) -> Result<IntakeReport, Error> {
    let mut archive = Archive::open(data, opts.lock_wait, say)?;
    let mut report = IntakeReport::default();
    let collecting = archive::collecting_period(data, opts.today);
    if archive.cleaned() > 0 {
        report.notes.push(format!(
            "已清除上次运行中断时留下的 {} 个临时文件。",
            archive.cleaned()
        ));
    }
    report.notes.extend(archive.log_note());
    let inbox_name = file_name(inbox);
    let show = |path: &Path| format!("{inbox_name}/{}", file_name(path));
    let (time, _) = utc_stamp(crate::model::unix_now());
    let bare = |file: String, action: Action, reason: String| Entry {
        time: time.clone(),
        file,
        sha256: String::new(),
        form: None,
        zone: None,
        period: None,
        action,
        to: None,
        reason: Some(reason),
    };
    let mut files: Vec<(Option<SystemTime>, PathBuf)> = folder::list_files(inbox)?
        .into_iter()
        .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).ok(), p))
        .collect();
    files.sort();
    // Where each form filed in this run went, and from which inbox file.
    let mut filed_now: BTreeMap<String, String> = BTreeMap::new();
    // Folders, symlinks and special files in the inbox are listed, never read.
    let (others, _) = folder::account_others(&folder::list_others(inbox), &show);
    for o in others {
        let reason = o.reason.unwrap_or_default();
        report.entries.push(bare(o.file, Action::Ignored, reason));
    }
    for (_, path) in files {
        let shown = show(&path);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                report
                    .entries
                    .push(bare(shown, Action::Failed, vanished(&e)));
                continue;
            }
        };
        let lock_file = shown.contains("/~$") || shown.contains("/.~lock.");
        if !lock_file && let Some(why) = still_written(&path, &meta, opts.settle) {
            report.entries.push(bare(shown, Action::Waiting, why));
            continue;
        }
        // The bytes filed are the bytes checked, read once. A file too large
        // to be a form is checked from disk (it is not read whole, nor filed).
        let too_large = meta.len() > cat.limits.max_file_bytes();
        let (bytes, batch) = if too_large {
            let b = folder::check_files(std::slice::from_ref(&path), &|_| shown.clone(), None, cat);
            (Vec::new(), b)
        } else {
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) => {
                    report
                        .entries
                        .push(bare(shown, Action::Failed, vanished(&e)));
                    continue;
                }
            };
            let b = folder::check_bytes(bytes.clone(), &file_name(&path), &shown, None, cat);
            (bytes, b)
        };
        // A file that changed while it was read is still being written.
        let unchanged = std::fs::metadata(&path).is_ok_and(|m| {
            m.len() == meta.len()
                && (too_large || m.len() == bytes.len() as u64)
                && m.modified().ok() == meta.modified().ok()
        });
        if !unchanged {
            report.entries.push(bare(
                shown,
                Action::Waiting,
                "文件在读取过程中有变化（可能还在保存），留待下次处理".into(),
            ));
            continue;
        }
        let file = &batch.files[0];
        // A month typed wrong opens no new period: the form waits in the inbox.
        let period = batch.forms.iter().find_map(|f| f.period);
        if let Some(p) = period.filter(|p| *p > collecting && batch.errors() == 0) {
            let mut entry = bare(
                shown,
                Action::Held,
                format!(
                    "报告期是 {}（{p}），晚于正在收集的 {}（{collecting}）：是否填错了月份？未归档，留在收件箱。确是下一期的报表，请到该期开始收集时再处理。",
                    p.label(),
                    collecting.label()
                ),
            );
            entry.sha256 = file.sha256.clone();
            let forms: Vec<&str> = batch.forms.iter().map(|f| f.form.as_str()).collect();
            entry.form = Some(forms.join("+"));
            entry.zone = batch
                .forms
                .iter()
                .find_map(|f| f.zone().map(str::to_string));
            entry.period = Some(p);
            if let Err(e) = archive.log_once(&entry) {
                entry.action = Action::Failed;
                entry.reason = Some(format!("无法写入归档日志：{e}"));
            }
            report.held_forms.extend(batch.forms.iter().cloned());
            report.entries.push(entry);
            continue;
        }
        let filing = match archive.file(&shown, &bytes, &batch, cat) {
            Ok(f) => f,
            Err(e) => {
                let mut entry = bare(shown, Action::Failed, format!("未能归档：{e}"));
                entry.sha256 = file.sha256.clone();
                report.entries.push(entry);
                continue;
            }
        };
        let mut entries = filing.entries.clone();
        let main = entries.last_mut().expect("a filing has its entry");
        match main.action {
            Action::Held | Action::Conflict => {
                report.findings.extend(batch.findings.iter().cloned());
                report.held_forms.extend(batch.forms.iter().cloned());
            }
            Action::Filed | Action::Replaced => {
                let history = History::for_forms(data, &batch.forms, cat);
                report
                    .findings
                    .extend(cross_checks(&batch.forms, &history, cat));
            }
            _ => {}
        }
        // Two versions in this inbox: say which one was kept.
        let older: Vec<String> = filing
            .entries
            .iter()
            .filter(|e| e.action == Action::Superseded)
            .filter_map(|e| filed_now.get(&e.file).cloned())
            .collect();
        if !older.is_empty() {
            main.reason = Some(format!(
                "收件箱中同时收到 {} 份同一报表：按修改时间保留较新的 {}，较旧的 {} 已移入 _superseded",
                older.len() + 1,
                main.file,
                older.join("、")
            ));
        }
        if let Some(to) = &main.to
            && matches!(main.action, Action::Filed | Action::Replaced)
        {
            filed_now.insert(to.clone(), main.file.clone());
            // A late or corrected form for an earlier period: said plainly.
            if let Some(p) = period.filter(|p| *p < collecting) {
                let earlier = format!(
                    "已归档到往期 {p}（正在收集的是 {collecting}），请留意这是迟报或更正的报表"
                );
                main.reason = Some(match main.reason.take() {
                    Some(r) => format!("{earlier}；{r}"),
                    None => earlier,
                });
            }
        }
        if filing.done()
            && let Err(e) = archive::file::remove(&path)
        {
            let action = main.action;
            main.action = Action::Failed;
            main.reason = Some(format!(
                "{}，但无法从收件箱删除：{}。请手工删除这个文件",
                action.label(),
                crate::error::io_message(&e)
            ));
        }
        report.entries.extend(entries);
        report.periods.extend(filing.period);
    }
    report.periods.sort();
    report.periods.dedup();
    Ok(report)
}

/// The last part of a path, as text.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn vanished(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        "文件在处理过程中不见了（可能被其他程序移走或删除）".into()
    } else {
        format!("无法读取：{}", crate::error::io_message(e))
    }
}

/// The report as text.
pub fn render(r: &IntakeReport, cat: &Catalogue) -> String {
    let mut out = String::new();
    for n in &r.notes {
        let _ = writeln!(out, "  {n}");
    }
    if r.entries.is_empty() {
        out.push_str("收件箱中没有文件。\n");
    }
    for e in &r.entries {
        // Zones by name, as every other line names them.
        let zone = e
            .zone
            .as_deref()
            .map(|z| cat.zone(z).map_or(z, |x| x.short.as_str()))
            .unwrap_or("");
        let what = match (&e.form, &e.period) {
            (Some(f), Some(p)) => format!(" {f} {zone} {p}"),
            _ => String::new(),
        };
        let to =
            e.to.as_ref()
                .map(|to| format!(" → {to}"))
                .unwrap_or_default();
        let file = escape_controls(&e.file);
        let _ = writeln!(out, "  [{}] {file}{what}{to}", e.action.label());
        // A held file's problems are counted here and listed once, below.
        let count = |sev: Severity| {
            r.findings
                .iter()
                .filter(|f| f.file == e.file && f.severity == sev)
                .count()
        };
        let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
        if e.action == Action::Held && errors + warnings > 0 {
            let warned = match warnings {
                0 => String::new(),
                n => format!("、{n} 处警告"),
            };
            let _ = writeln!(out, "      {errors} 处错误{warned}，见下文");
        } else if let Some(r) = &e.reason {
            let _ = writeln!(out, "      {}", escape_controls(r));
        }
    }
    if !r.findings.is_empty() {
        let _ = writeln!(out, "\n问题 {} 条：", r.findings.len());
        for f in &r.findings {
            out.push_str(&crate::check::render_finding(f));
        }
    }
    out
}
