//! `zonestat intake`: files the workbooks dropped into an inbox into the data
//! folder under canonical names, without ever losing a byte. A file leaves the
//! inbox only after its copy is on disk and verified; a re-sent form replaces
//! the filed one, which moves to `_superseded/`; a file with errors stays in
//! the inbox. Every action is appended to `intake.log` (JSON lines).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::{Catalogue, Reporter};
use crate::crossperiod::cross_checks;
use crate::error::Error;
use crate::folder::{self, Batch};
use crate::history::History;
use crate::model::{Finding, Period, Severity};
use crate::read::{FileType, sha256_hex};
use crate::validate::CheckedForm;

/// The log's file name, in the data folder.
pub const LOG_NAME: &str = "intake.log";
/// Where replaced files go, inside a period folder.
pub const SUPERSEDED: &str = "_superseded";

/// What intake did with one inbox file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Copied into the data folder and removed from the inbox.
    Filed,
    /// Filed in place of an earlier copy of the same forms.
    Replaced,
    /// An earlier filed copy, moved to `_superseded/`.
    Superseded,
    /// The same bytes were already filed: removed from the inbox only.
    Duplicate,
    /// Has errors (or cannot be read): left in the inbox.
    Held,
    /// Overlaps a filed file in a way that needs a person: left in the inbox.
    Conflict,
    /// A lock file or not a workbook: left alone.
    Ignored,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Filed => "已归档",
            Action::Replaced => "已归档（替换旧版）",
            Action::Superseded => "旧版移入 _superseded",
            Action::Duplicate => "与已归档文件相同，已从收件箱移除",
            Action::Held => "有错误，留在收件箱",
            Action::Conflict => "与已归档文件部分重复，留在收件箱待人工处理",
            Action::Ignored => "已忽略",
        }
    }
}

/// One line of `intake.log`, and of intake's report.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub time: String,
    pub file: String,
    pub sha256: String,
    pub form: Option<String>,
    pub zone: Option<String>,
    pub period: Option<Period>,
    pub action: Action,
    /// Where the file went (relative to the data folder), when it moved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Why, for held and conflicting files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
}

/// UTC time as `2020-07-10T08:30:00Z` and as a file-name stamp `20200710T083000Z`.
pub fn utc_stamp(secs: i64) -> (String, String) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
    )
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Output {
        path: path.display().to_string(),
        message: crate::error::io_message(&e),
    }
}

/// Who filled a form in, as a short name for file names.
fn reporter_name(f: &CheckedForm, cat: &Catalogue) -> Option<String> {
    match f.reporter.as_ref()? {
        Reporter::Zone(z) => cat.zone(z).map(|z| z.short.clone()),
        Reporter::City => Some(cat.city.reporter.clone()),
    }
}

/// The canonical name: `湖开统1表-湖州开发区-2020-06.xlsx`; a workbook with two
/// forms: `湖开统1表+湖开统2表-安吉开发区-2020-12.xlsx`.
pub fn canonical_name(forms: &[&CheckedForm], who: &str, period: Period, kind: FileType) -> String {
    let mut numbers: Vec<&str> = forms.iter().map(|f| f.form.as_str()).collect();
    numbers.sort();
    numbers.dedup();
    let ext = kind.extension().unwrap_or("xlsx");
    format!(
        "{}-{}-{}.{}",
        numbers.join("+"),
        crate::template::sanitize(who),
        period,
        ext
    )
}

/// A form's identity: form number, reporter, period.
type Key = (String, Option<Reporter>, Option<Period>);

fn key(f: &CheckedForm) -> Key {
    (f.form.clone(), f.reporter.clone(), f.period)
}

/// Files every workbook of `inbox` into `data`.
///
/// # Errors
/// [`Error::Input`] when the inbox cannot be listed; [`Error::Output`] when
/// the data folder cannot be written (the inbox file then stays where it is).
pub fn intake(inbox: &Path, data: &Path, cat: &Catalogue) -> Result<IntakeReport, Error> {
    std::fs::create_dir_all(data).map_err(io_err(data))?;
    let log_path = data.join(LOG_NAME);
    let logged = std::fs::read_to_string(&log_path).unwrap_or_default();
    let mut report = IntakeReport::default();
    let mut filed_cache: BTreeMap<Period, Batch> = BTreeMap::new();
    for path in folder::list_files(inbox)? {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let shown = format!(
            "{}/{}",
            inbox
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            name
        );
        let batch = folder::check_files(std::slice::from_ref(&path), &|_| shown.clone(), None, cat);
        let file = &batch.files[0];
        let (time, stamp) = utc_stamp(now_secs());
        let forms: Vec<&CheckedForm> = batch.forms.iter().collect();
        let mut entry = Entry {
            time,
            file: shown.clone(),
            sha256: file.sha256.clone(),
            form: (!forms.is_empty()).then(|| {
                forms
                    .iter()
                    .map(|f| f.form.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            }),
            zone: forms.first().and_then(|f| f.zone().map(str::to_string)),
            period: forms.first().and_then(|f| f.period),
            action: Action::Ignored,
            to: None,
            reason: None,
        };
        if file.status == "ignored" {
            // Said as `check` says it (a lock file, not a workbook).
            entry.reason = file.reason.clone();
            report.entries.push(entry);
            continue;
        }
        let one_reporter = forms
            .iter()
            .all(|f| f.reporter.is_some() && f.reporter == forms[0].reporter);
        let one_period = forms
            .iter()
            .all(|f| f.period.is_some() && f.period == forms[0].period);
        if batch.errors() > 0 || forms.is_empty() || !one_reporter || !one_period {
            entry.action = Action::Held;
            entry.reason = Some(match batch.findings.iter().find(|f| f.is_error()) {
                Some(f) => f.message.clone(),
                None => "工作簿中的报表不属于同一单位同一期".into(),
            });
            report.findings.extend(batch.findings.iter().cloned());
            report.held_forms.extend(batch.forms.iter().cloned());
            log_once(&log_path, &logged, &entry)?;
            report.entries.push(entry);
            continue;
        }
        let period = forms[0].period.expect("checked above");
        let who = reporter_name(forms[0], cat).unwrap_or_default();
        let dir = data.join(period.to_string());
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let filed = match filed_cache.entry(period) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let files = folder::list_files(&dir)?;
                e.insert(folder::check_files(
                    &files,
                    &|p| p.display().to_string(),
                    None,
                    cat,
                ))
            }
        };
        let filed: &Batch = filed;
        let bytes = std::fs::read(&path).map_err(|e| Error::Input {
            path: path.display().to_string(),
            message: crate::error::io_message(&e),
        })?;
        let new_keys: Vec<Key> = forms.iter().map(|f| key(f)).collect();
        // Filed files that hold any of the same forms.
        let mut overlapping: Vec<PathBuf> = Vec::new();
        for (fr, theirs) in filed.by_file() {
            if theirs.iter().any(|f| new_keys.contains(&key(f))) {
                overlapping.push(PathBuf::from(&fr.file));
                if fr.sha256 == file.sha256 {
                    entry.action = Action::Duplicate;
                    entry.to = Some(relative(data, Path::new(&fr.file)));
                }
                if !theirs.iter().all(|f| new_keys.contains(&key(f))) {
                    entry.action = Action::Conflict;
                    entry.reason = Some(format!(
                        "已归档的 {} 还含有本文件没有的报表，不能整份替换",
                        fr.file
                    ));
                }
            }
        }
        match entry.action {
            Action::Duplicate => {
                remove_from_inbox(&path)?;
                append_log(&log_path, &entry)?;
                report.entries.push(entry);
                continue;
            }
            Action::Conflict => {
                log_once(&log_path, &logged, &entry)?;
                report.entries.push(entry);
                continue;
            }
            _ => {}
        }
        for old in &overlapping {
            let moved = supersede(old, &dir, &stamp)?;
            let mut e = entry.clone();
            e.file = relative(data, old);
            e.sha256 = sha256_hex(&std::fs::read(&moved).map_err(io_err(&moved))?);
            e.action = Action::Superseded;
            e.to = Some(relative(data, &moved));
            append_log(&log_path, &e)?;
            report.entries.push(e);
        }
        let target = dir.join(canonical_name(&forms, &who, period, batch_kind(&bytes)));
        store_verified(&bytes, &file.sha256, &target)?;
        remove_from_inbox(&path)?;
        // Plausibility against the periods already filed (warnings only).
        let history = History::for_forms(data, &batch.forms, cat);
        report
            .findings
            .extend(cross_checks(&batch.forms, &history, cat));
        entry.action = if overlapping.is_empty() {
            Action::Filed
        } else {
            Action::Replaced
        };
        entry.to = Some(relative(data, &target));
        append_log(&log_path, &entry)?;
        report.entries.push(entry);
        if !report.periods.contains(&period) {
            report.periods.push(period);
        }
        // The folder changed: read it again for the next file.
        filed_cache.remove(&period);
    }
    report.periods.sort();
    Ok(report)
}

fn batch_kind(bytes: &[u8]) -> FileType {
    crate::read::workbook::sniff(bytes)
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Writes `bytes` to `target` through a temporary file, flushes it, renames it
/// into place and reads it back to compare hashes.
fn store_verified(bytes: &[u8], sha: &str, target: &Path) -> Result<(), Error> {
    crate::output::write_atomic(target, bytes)?;
    let back = std::fs::read(target).map_err(io_err(target))?;
    if sha256_hex(&back) != sha {
        return Err(Error::Output {
            path: target.display().to_string(),
            message: "写入后校验 SHA-256 不一致，收件箱中的原文件未删除".into(),
        });
    }
    if let Some(dir) = target.parent() {
        // Make the rename durable before the inbox copy goes.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Moves a filed file into `_superseded/` with a time stamp in its name.
fn supersede(old: &Path, dir: &Path, stamp: &str) -> Result<PathBuf, Error> {
    let to_dir = dir.join(SUPERSEDED);
    std::fs::create_dir_all(&to_dir).map_err(io_err(&to_dir))?;
    let stem = old
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = old
        .extension()
        .map(|s| format!(".{}", s.to_string_lossy()))
        .unwrap_or_default();
    let mut to = to_dir.join(format!("{stem}-{stamp}{ext}"));
    let mut n = 2;
    while to.exists() {
        to = to_dir.join(format!("{stem}-{stamp}-{n}{ext}"));
        n += 1;
    }
    std::fs::rename(old, &to).map_err(io_err(old))?;
    Ok(to)
}

fn remove_from_inbox(path: &Path) -> Result<(), Error> {
    std::fs::remove_file(path).map_err(io_err(path))
}

fn append_log(log: &Path, e: &Entry) -> Result<(), Error> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(io_err(log))?;
    let line = serde_json::to_string(e).expect("serialisable");
    writeln!(f, "{line}").map_err(io_err(log))?;
    f.sync_all().map_err(io_err(log))
}

/// Logs a file left in the inbox once, not again at every run.
fn log_once(log: &Path, logged: &str, e: &Entry) -> Result<(), Error> {
    let action = serde_json::to_string(&e.action).expect("serialisable");
    let seen = logged.lines().any(|l| {
        l.contains(&format!("\"sha256\":\"{}\"", e.sha256))
            && l.contains(&format!("\"action\":{action}"))
    });
    if seen { Ok(()) } else { append_log(log, e) }
}

/// The report as text.
pub fn render(r: &IntakeReport, cat: &Catalogue) -> String {
    let mut out = String::new();
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
        out.push_str(&format!("  [{}] {}{}", e.action.label(), e.file, what));
        if let Some(to) = &e.to {
            out.push_str(&format!(" → {to}"));
        }
        out.push('\n');
        // A held file's problems are counted here and listed once, below.
        let count = |sev: Severity| {
            r.findings
                .iter()
                .filter(|f| f.file == e.file && f.severity == sev)
                .count()
        };
        let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
        if e.action == Action::Held && errors + warnings > 0 {
            let mut parts = vec![format!("{errors} 处错误")];
            if warnings > 0 {
                parts.push(format!("{warnings} 处警告"));
            }
            out.push_str(&format!("      {}，见下文\n", parts.join("、")));
        } else if let Some(r) = &e.reason {
            out.push_str(&format!("      {r}\n"));
        }
    }
    if !r.findings.is_empty() {
        out.push_str(&format!("\n问题 {} 条：\n", r.findings.len()));
        for f in &r.findings {
            out.push_str(&crate::check::render_finding(f));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_stamps() {
        assert_eq!(utc_stamp(0).0, "1970-01-01T00:00:00Z");
        assert_eq!(utc_stamp(1_594_369_800).0, "2020-07-10T08:30:00Z");
        assert_eq!(utc_stamp(1_582_934_400).1, "20200229T000000Z");
    }
}
