//! A period's folder (or a list of files) → every file accounted for, every
//! form checked, and duplicates found. Files are read in name order so that
//! output is the same whatever the file system returns.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::catalog::{Catalogue, Reporter};
use crate::error::Error;
use crate::model::{Finding, Period, Severity, sort_findings};
use crate::read::{self, FileType, Outcome};
use crate::validate::{CheckedForm, check_form};

/// Where the archive puts replaced files, inside a period folder: listed
/// apart, never taken for the period's forms.
pub const SUPERSEDED: &str = "_superseded";

/// Whether a directory entry is zonestat's own bookkeeping (the archive's
/// lock, its temporary folder, a temporary output file): never a form, never
/// listed.
pub fn is_own(name: &str) -> bool {
    name.starts_with(".zonestat")
}

/// What became of one file, for listings and the JSON.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub file: String,
    pub sha256: String,
    /// used | ignored | rejected | unreadable
    pub status: &'static str,
    pub forms: Vec<FormSummary>,
    /// Why it was ignored, rejected or unreadable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the content is (the archive files a workbook under its extension).
    #[serde(skip)]
    pub kind: FileType,
}

/// A form found in a file.
#[derive(Debug, Clone, Serialize)]
pub struct FormSummary {
    pub form: String,
    pub sheet: String,
    pub zone: Option<String>,
    /// Who filled it in, as a name: the zone's short name or the city bureau.
    pub reporter: Option<String>,
    pub period: Option<Period>,
    pub errors: usize,
    pub warnings: usize,
}

/// The files of one period, read and checked.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub files: Vec<FileReport>,
    pub forms: Vec<CheckedForm>,
    /// File-level findings and every form's findings, sorted.
    pub findings: Vec<Finding>,
}

impl Batch {
    /// Each file with the forms read from it.
    pub fn by_file(&self) -> impl Iterator<Item = (&FileReport, &[CheckedForm])> {
        self.files
            .iter()
            .zip(form_offsets(&self.files))
            .map(|(f, start)| (f, &self.forms[start..start + f.forms.len()]))
    }

    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }
}

/// The period a folder stands for, from its name `YYYY-MM`.
pub fn folder_period(dir: &Path) -> Option<Period> {
    dir.file_name()?.to_str()?.parse().ok()
}

/// The name shown for a file: `2020-06/附件1.xlsx` (its folder and name).
pub fn display_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match path.parent().and_then(|p| p.file_name()) {
        Some(dir) => format!("{}/{}", dir.to_string_lossy(), name),
        None => name,
    }
}

/// The regular files directly in a folder, sorted by name. Sub-folders,
/// symlinks and special files are not read (see [`list_others`]), and
/// zonestat's own files (the archive's lock, its temporary folder, an
/// output's temporary file) are never taken for a form.
///
/// # Errors
/// [`Error::Input`] when the folder cannot be listed.
pub fn list_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Input {
        path: dir.display().to_string(),
        message: crate::error::io_message(&e),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !is_own(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// The files of the data folder's `period` folder (see [`list_files`]);
/// none when there is no such folder.
///
/// # Errors
/// [`Error::Input`] when the folder exists but cannot be listed.
pub fn period_files(data: &Path, period: Period) -> Result<Vec<PathBuf>, Error> {
    let dir = data.join(period.to_string());
    if dir.is_dir() {
        list_files(&dir)
    } else {
        Ok(Vec::new())
    }
}

/// An entry of a folder that is not a regular file, and so is not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Other {
    Directory,
    /// A symbolic link, with where it points (never followed).
    Symlink(String),
    /// A FIFO, socket or device.
    Special(&'static str),
}

/// The entries of a folder that [`list_files`] does not read, sorted by
/// name: sub-folders (but not `_superseded`), symlinks, FIFOs, sockets and
/// devices. zonestat's own entries are left out.
pub fn list_others(dir: &Path) -> Vec<(PathBuf, Other)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Other)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let t = e.file_type().ok()?;
            if t.is_file() || is_own(&name) {
                return None;
            }
            let what = if t.is_symlink() {
                let to = std::fs::read_link(e.path())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                Other::Symlink(to)
            } else if t.is_dir() {
                if name == SUPERSEDED {
                    return None;
                }
                Other::Directory
            } else {
                Other::Special(special_kind(&t))
            };
            Some((e.path(), what))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn special_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "命名管道（FIFO）";
        }
        if t.is_socket() {
            return "套接字";
        }
        if t.is_block_device() || t.is_char_device() {
            return "设备文件";
        }
    }
    let _ = t;
    "特殊文件"
}

/// The listing line and the info finding of each entry that is not read.
pub fn account_others(
    others: &[(PathBuf, Other)],
    display: &dyn Fn(&Path) -> String,
) -> (Vec<FileReport>, Vec<Finding>) {
    let mut files = Vec::new();
    let mut findings = Vec::new();
    for (path, what) in others {
        let shown = display(path);
        let (rule, reason) = match what {
            Other::Directory => (
                "file.directory",
                "这是一个文件夹，不是文件：未读取（报表请直接放在期别文件夹里）。".to_string(),
            ),
            Other::Symlink(to) => (
                "file.symlink",
                format!(
                    "这是一个符号链接（指向 {}）：为安全起见不跟随读取，请放入文件本身。",
                    crate::text::escape_controls(to)
                ),
            ),
            Other::Special(kind) => (
                "file.special",
                format!("这是{kind}，不是普通文件：未读取。"),
            ),
        };
        findings.push(Finding::file(Severity::Info, rule, &shown, reason.clone()));
        files.push(FileReport {
            file: shown,
            sha256: String::new(),
            status: "ignored",
            forms: Vec::new(),
            reason: Some(reason),
            kind: FileType::Other,
        });
    }
    (files, findings)
}

/// Files that are not workbooks each get a finding up to this many; more
/// get one finding for them all, and listings summarise them by kind.
pub const STRAYS_LISTED: usize = 50;

/// Reads and checks files. `display` turns a path into the name shown to
/// users; `period` is the period the files must be for, when known.
pub fn check_files(
    files: &[PathBuf],
    display: &(dyn Fn(&Path) -> String + Sync),
    period: Option<Period>,
    cat: &Catalogue,
) -> Batch {
    // Files are read in parallel; results come back in the files' order.
    // One file a task: a core that finishes its own work (another period's
    // sums, say) can always take files over, instead of waiting while the
    // other core reads a long run of them alone.
    let read: Vec<Accounted> = files
        .par_iter()
        .with_max_len(1)
        .map(|path| {
            let shown = display(path);
            let seen = cache::look(path, &shown, period);
            if let Some((_, Some(hit))) = &seen {
                return hit.clone();
            }
            let done = account(read::read_file(path, &shown, cat), &shown, period, cat);
            if let Some((stamp, None)) = seen {
                cache::keep(path, &shown, period, stamp, &done);
            }
            done
        })
        .collect();
    assemble(read)
}

/// Files already read and checked, for a long-running process (the portal)
/// that reads the same period folders for every upload: an entry is used
/// while the file's size, modification and change times and inode are as
/// they were (the archive files by renaming a new file into place, so a
/// filed or replaced file is always new). Off unless [`cache::enable`] is
/// called; one catalogue a process.
pub mod cache {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::{Mutex, OnceLock};
    use std::time::SystemTime;

    use super::Accounted;
    use crate::model::Period;

    /// What identifies a file's content without reading it.
    pub(super) type Stamp = (u64, Option<SystemTime>, i64, i64, u64);

    type Key = (PathBuf, String, Option<Period>);

    /// More entries than this and the cache starts again (a few periods of
    /// a thousand zones fit).
    const MAX_ENTRIES: usize = 20_000;

    static CACHE: OnceLock<Mutex<HashMap<Key, (Stamp, Accounted)>>> = OnceLock::new();

    /// Keeps what [`super::check_files`] reads from now on, in this process.
    pub fn enable() {
        let _ = CACHE.set(Mutex::new(HashMap::new()));
    }

    fn stamp(path: &Path) -> Option<Stamp> {
        let m = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let (ctime, ctime_ns, ino) = {
            use std::os::unix::fs::MetadataExt;
            (m.ctime(), m.ctime_nsec(), m.ino())
        };
        #[cfg(not(unix))]
        let (ctime, ctime_ns, ino) = (0, 0, 0);
        Some((m.len(), m.modified().ok(), ctime, ctime_ns, ino))
    }

    /// None: the cache is off. Otherwise the file's stamp, and what was
    /// kept for it if that is still it.
    pub(super) fn look(
        path: &Path,
        shown: &str,
        period: Option<Period>,
    ) -> Option<(Stamp, Option<Accounted>)> {
        let cache = CACHE.get()?;
        let now = stamp(path)?;
        let key = (path.to_path_buf(), shown.to_string(), period);
        let map = cache.lock().unwrap_or_else(|e| e.into_inner());
        let hit = map
            .get(&key)
            .filter(|(was, _)| *was == now)
            .map(|(_, a)| a.clone());
        Some((now, hit))
    }

    /// Keeps `done` for the file as it was when `look` saw it.
    pub(super) fn keep(
        path: &Path,
        shown: &str,
        period: Option<Period>,
        was: Stamp,
        done: &Accounted,
    ) {
        let Some(cache) = CACHE.get() else { return };
        // Changed while it was being read, or stopped by the reader's
        // limits (which a busy machine may reach sooner): not kept.
        if stamp(path) != Some(was) || done.1.iter().any(|f| f.rule == "file.reader_limit") {
            return;
        }
        let mut map = cache.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert(
            (path.to_path_buf(), shown.to_string(), period),
            (was, done.clone()),
        );
    }
}

/// Checks one workbook's bytes as they arrived (an upload, an inbox file
/// read once): `name` is its file name, `shown` the name for users. The
/// batch of that one file, as [`check_files`] makes it.
pub fn check_bytes(
    bytes: Vec<u8>,
    name: &str,
    shown: &str,
    period: Option<Period>,
    cat: &Catalogue,
) -> Batch {
    let file = read::read_bytes(bytes, name, shown, cat);
    assemble(vec![account(file, shown, period, cat)])
}

/// One file read: its report, its file-level findings, its forms checked,
/// and whether it is a stray (not a workbook, nothing else to say).
type Accounted = (FileReport, Vec<Finding>, Vec<CheckedForm>, bool);

fn account(
    mut file: read::FileRead,
    shown: &str,
    period: Option<Period>,
    cat: &Catalogue,
) -> Accounted {
    let mut report = FileReport {
        file: shown.to_string(),
        sha256: file.sha256.clone(),
        kind: file.kind,
        status: match file.outcome {
            Outcome::Read => "used",
            Outcome::Ignored => "ignored",
            Outcome::Unreadable => "unreadable",
        },
        forms: Vec::new(),
        // The error that stopped the file, not a note before it (such as
        // the extension not matching); a file that was read has none.
        reason: match file.outcome {
            Outcome::Read => None,
            _ => file
                .findings
                .iter()
                .find(|f| f.is_error())
                .or(file.findings.first())
                .map(|f| f.message.clone()),
        },
    };
    let checked: Vec<CheckedForm> = std::mem::take(&mut file.forms)
        .into_iter()
        .map(|fr| check_form(fr, shown, &file.sha256, period, cat))
        .collect();
    let (forms, aside) = set_aside_other_periods(checked, period);
    file.findings.extend(aside);
    report.forms = forms.iter().map(|f| summary(f, cat)).collect();
    // A file that is not a workbook keeps its reason in its report;
    // its one finding is made again in `assemble`, or summarised.
    let stray = file.outcome == Outcome::Ignored
        && file.findings.len() == 1
        && file.findings[0].rule == "file.ignored";
    let findings = if stray { Vec::new() } else { file.findings };
    (report, findings, forms, stray)
}

/// The batch of files read: duplicates marked, findings sorted.
fn assemble(read: Vec<Accounted>) -> Batch {
    let mut batch = Batch::default();
    let strays = read.iter().filter(|r| r.3).count();
    batch.files.reserve_exact(read.len());
    // A file saved twice under two names counts once: the first in name order.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (report, findings, forms, stray) in read {
        if stray && strays <= STRAYS_LISTED {
            let reason = report.reason.clone().unwrap_or_default();
            batch.findings.push(Finding::file(
                Severity::Info,
                "file.ignored",
                &report.file,
                reason,
            ));
        }
        if report.status == "used" {
            if let Some(first) = seen.get(&report.sha256) {
                let (report, note) = identical_copy(report, first);
                batch.findings.push(note);
                batch.files.push(report);
                continue;
            }
            seen.insert(report.sha256.clone(), report.file.clone());
        }
        batch.findings.extend(findings);
        batch.forms.extend(forms);
        batch.files.push(report);
    }
    if strays > STRAYS_LISTED {
        // One finding for them all: a folder of 100,000 stray files stays small.
        let first = batch.files.iter().find(|f| f.status == "ignored");
        let folder = first
            .and_then(|f| f.file.rsplit_once('/'))
            .map(|(dir, _)| dir.to_string())
            .unwrap_or_default();
        let mut f = Finding::file(
            Severity::Info,
            "file.ignored",
            &folder,
            format!("{strays} 个文件不是电子表格文件，已忽略（逐个列在文件清单中）。"),
        );
        f.found = Some(format!("{strays} 个文件"));
        batch.findings.push(f);
    }
    mark_duplicates(&mut batch.forms);
    let offsets = form_offsets(&batch.files);
    for (report, start) in batch.files.iter_mut().zip(offsets) {
        let forms = &batch.forms[start..start + report.forms.len()];
        for (s, f) in report.forms.iter_mut().zip(forms) {
            s.errors = f.findings.iter().filter(|x| x.is_error()).count();
            s.warnings = f
                .findings
                .iter()
                .filter(|x| x.severity == Severity::Warning)
                .count();
        }
        if report.status == "used" && report.forms.iter().any(|s| s.errors > 0) {
            report.status = "rejected";
            report.reason = Some("报表有错误，未予采用".into());
        }
    }
    for f in &batch.forms {
        batch.findings.extend(f.findings.iter().cloned());
    }
    sort_findings(&mut batch.findings);
    batch
}

/// A later byte-identical copy of a file already read: listed, not used.
fn identical_copy(mut report: FileReport, first: &str) -> (FileReport, Finding) {
    let message = format!("与 {first} 完全相同（同一文件存了两份），只计一次，本文件未重复使用。");
    let mut note = Finding::file(
        Severity::Info,
        "file.identical_copy",
        &report.file,
        &message,
    );
    note.found = Some(first.to_string());
    report.status = "ignored";
    report.forms.clear();
    report.reason = Some(message);
    (report, note)
}

/// In a workbook holding forms of several periods (a sheet per month), the
/// form of the period being processed counts and the others are set aside
/// with a note: the folder's or `--period`'s period when one of the forms has
/// it, else (no period given) the latest. A workbook with no form of the
/// expected period keeps its forms, and so its `form.period_mismatch` errors.
fn set_aside_other_periods(
    forms: Vec<CheckedForm>,
    expected: Option<Period>,
) -> (Vec<CheckedForm>, Vec<Finding>) {
    let periods: std::collections::BTreeSet<Period> =
        forms.iter().filter_map(|f| f.period).collect();
    let chosen = match expected {
        _ if periods.len() < 2 => None,
        Some(p) => periods.contains(&p).then_some(p),
        None => periods.last().copied(),
    };
    let Some(chosen) = chosen else {
        return (forms, Vec::new());
    };
    let mut notes = Vec::new();
    let mut kept = Vec::new();
    for f in forms {
        match f.period {
            Some(p) if p != chosen => {
                let mut note = Finding::file(
                    Severity::Info,
                    "form.other_period",
                    &f.file,
                    format!(
                        "工作表“{}”是 {} 的{}，不是本期（{}）的报表，未使用。",
                        f.sheet,
                        p.label(),
                        f.form,
                        chosen.label()
                    ),
                );
                note.sheet = Some(f.sheet.clone());
                note.zone = f.zone().map(str::to_string);
                note.form = Some(f.form.clone());
                note.at(f.raw.period.as_ref().map(|l| l.cell))
                    .found(p.label())
                    .expected(chosen.label());
                notes.push(note);
            }
            _ => kept.push(f),
        }
    }
    (kept, notes)
}

/// Where each file's forms start in the batch's list of forms.
pub fn form_offsets(files: &[FileReport]) -> Vec<usize> {
    let mut at = 0;
    files
        .iter()
        .map(|f| {
            let s = at;
            at += f.forms.len();
            s
        })
        .collect()
}

fn summary(f: &CheckedForm, cat: &Catalogue) -> FormSummary {
    FormSummary {
        form: f.form.clone(),
        sheet: f.sheet.clone(),
        zone: f.zone().map(str::to_string),
        reporter: f.reporter.as_ref().map(|r| match r {
            Reporter::Zone(z) => cat.zone(z).map_or(z, |x| &x.short).clone(),
            Reporter::City => cat.city.reporter.clone(),
        }),
        period: f.period,
        errors: 0,
        warnings: 0,
    }
}

/// The same form from the same reporter for the same period twice: an error on
/// each copy, naming the other file. Neither can be used until one is removed.
fn mark_duplicates(forms: &mut [CheckedForm]) {
    let mut groups: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for (i, f) in forms.iter().enumerate() {
        if f.reporter.is_some() {
            groups
                .entry((&f.form, f.zone(), f.period))
                .or_default()
                .push(i);
        }
    }
    let groups: Vec<Vec<usize>> = groups.into_values().filter(|v| v.len() > 1).collect();
    for idx in &groups {
        for &i in idx {
            let others: Vec<String> = idx
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| format!("{}（工作表 {}）", forms[j].file, forms[j].sheet))
                .collect();
            let f = &forms[i];
            let mut finding = Finding::file(
                Severity::Error,
                "form.duplicate",
                &f.file,
                format!(
                    "同一单位同一期的 {} 收到了不止一份：本文件与 {} 重复。请删去或移走其中一份后再处理。",
                    f.form,
                    others.join("、")
                ),
            );
            finding.sheet = Some(f.sheet.clone());
            finding.zone = f.zone().map(str::to_string);
            finding.form = Some(f.form.clone());
            finding
                .found(others.join("、"))
                .expected("每个单位每期每张表只报一份");
            forms[i].findings.push(finding);
        }
    }
}
