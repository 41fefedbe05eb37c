//! The data folder as an archive of record: the lock ([`lock`]), crash-safe
//! storing and superseding ([`file`]) and the log ([`log`]). Whatever files
//! a workbook into the data folder (`zonestat intake`, `run`, later the
//! portal's upload) opens an [`Archive`] and calls [`Archive::file`].
//!
//! A long-running server files an upload the same way: check the bytes with
//! [`crate::folder::check_bytes`], open the archive (the lock is held while the
//! `Archive` lives, so keep it for one filing) and call [`Archive::file`].
//!
//! A filing is: copy to a temporary file, sync, rename into place, sync the
//! folder, append one log line (one write, synced); the caller removes the
//! inbox copy only after that. After a crash at any step the next filing of
//! the same bytes completes it: bytes already in place are recognised as
//! filed (a duplicate), leftovers in `.zonestat-tmp/` are removed when the
//! archive is opened, and a torn log line is ended and skipped.

pub mod file;
pub mod lock;
pub mod log;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::catalog::{Catalogue, Reporter};
use crate::error::Error;
use crate::folder::{self, Batch};
use crate::model::Period;
use crate::validate::CheckedForm;
pub use file::{TMP_DIR, is_own};
pub use lock::{ArchiveLock, LOCK_NAME, WAITING};
pub use log::{LOG_NAME, LogRead};

pub use crate::folder::SUPERSEDED;

/// What became of one incoming file.
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
    /// Still being written (changed a moment ago, or open in Excel): left for the next run.
    Waiting,
    /// Could not be filed or removed (or vanished): left where it was, the others go on.
    Failed,
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
            Action::Waiting => "文件可能还在写入，留待下次处理",
            Action::Failed => "处理失败，留在收件箱",
        }
    }

    /// The word in `intake.log`.
    pub fn word(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
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

/// UTC time as `2020-07-10T08:30:00Z` and as a file-name stamp `20200710T083000Z`.
pub fn utc_stamp(secs: i64) -> (String, String) {
    let (y, m, d) = crate::model::civil_date(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let (h, mi, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    (
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"),
        format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z"),
    )
}

/// Who filled a form in, as a short name for file names.
fn reporter_name(f: &CheckedForm, cat: &Catalogue) -> Option<String> {
    match f.reporter.as_ref()? {
        Reporter::Zone(z) => cat.zone(z).map(|z| z.short.clone()),
        Reporter::City => Some(cat.city.reporter.clone()),
    }
}

/// The canonical name: `湖开统1表-湖州开发区-2020-06.xlsx`; a workbook with two
/// forms: `湖开统1表+湖开统2表-安吉开发区-2020-12.xlsx`. The extension is
/// the content's ([`crate::read::FileType::extension`]: an xlsx package whose
/// `[Content_Types].xml` declares macros is filed as `.xlsm`, which Excel
/// refuses to open under an `.xlsx` name).
pub fn canonical_name(forms: &[&CheckedForm], who: &str, period: Period, ext: &str) -> String {
    let mut numbers: Vec<&str> = forms.iter().map(|f| f.form.as_str()).collect();
    numbers.sort();
    numbers.dedup();
    format!(
        "{}-{}-{}.{}",
        numbers.join("+"),
        crate::template::sanitize(who),
        period,
        ext
    )
}

/// The latest period folder (`YYYY-MM`) of the data folder that holds a file.
pub fn latest_period(data: &Path) -> Option<Period> {
    std::fs::read_dir(data)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let p: Period = e.file_name().to_str()?.parse().ok()?;
            let has_file = std::fs::read_dir(e.path())
                .ok()?
                .filter_map(Result::ok)
                .any(|f| {
                    f.file_type().is_ok_and(|t| t.is_file())
                        && !is_own(&f.file_name().to_string_lossy())
                });
            has_file.then_some(p)
        })
        .max()
}

/// The period being collected: the latest period already in the archive, or
/// the month before `today` (forms for a month come in the month after),
/// whichever is later. A form for a later period is a mistyped month, not
/// the start of a new period.
pub fn collecting_period(data: &Path, today: Period) -> Period {
    let before = today.previous();
    latest_period(data).map_or(before, |p| p.max(before))
}

/// A form's identity: form number, reporter, period.
type Key = (String, Option<Reporter>, Option<Period>);

fn key(f: &CheckedForm) -> Key {
    (f.form.clone(), f.reporter.clone(), f.period)
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// What [`Archive::file`] did with one workbook: the superseded files'
/// entries, then the workbook's own (all logged).
#[derive(Debug, Clone)]
pub struct Filing {
    pub entries: Vec<Entry>,
    /// The period that received a file.
    pub period: Option<Period>,
}

impl Filing {
    /// The workbook's own entry.
    pub fn entry(&self) -> &Entry {
        self.entries.last().expect("a filing has its entry")
    }

    /// Whether the incoming copy may now be removed (its bytes are filed and logged).
    pub fn done(&self) -> bool {
        matches!(
            self.entry().action,
            Action::Filed | Action::Replaced | Action::Duplicate
        )
    }
}

/// The data folder, locked for changes while this lives.
#[derive(Debug)]
pub struct Archive {
    data: PathBuf,
    _lock: ArchiveLock,
    log: LogRead,
    /// What was said about the log's unreadable lines on opening.
    torn: Option<String>,
    cleaned: usize,
    /// Each period folder as last read.
    filed: BTreeMap<Period, Batch>,
}

impl Archive {
    /// Locks `data` (waiting up to `wait`, telling `say` once), removes what
    /// an interrupted run left there and reads the log.
    ///
    /// # Errors
    /// [`Error::ArchiveBusy`] when another process keeps the lock beyond
    /// `wait`; [`Error::Output`] when the folder cannot be made.
    pub fn open(data: &Path, wait: Duration, say: &mut dyn FnMut(&str)) -> Result<Archive, Error> {
        let lock = ArchiveLock::acquire(data, wait, say)?;
        let cleaned = file::clean_leftovers(data);
        let path = data.join(LOG_NAME);
        // What a reader would skip is said before the torn line is repaired.
        let torn = log::read(&path).note(&path);
        let repaired = log::repair(&path, &utc_stamp(crate::model::unix_now()).0).map_err(|e| {
            Error::Output {
                path: path.display().to_string(),
                message: crate::error::io_message(&e),
            }
        })?;
        let torn = match (torn, repaired) {
            (Some(note), Some(line)) => Some(format!(
                "{note}第 {line} 行已原样保存为一条 \"torn\" 记录。"
            )),
            (note, _) => note,
        };
        Ok(Archive {
            data: data.to_path_buf(),
            _lock: lock,
            log: log::read(&path),
            torn,
            cleaned,
            filed: BTreeMap::new(),
        })
    }

    pub fn data(&self) -> &Path {
        &self.data
    }

    /// How many temporary files of an interrupted run were removed on opening.
    pub fn cleaned(&self) -> usize {
        self.cleaned
    }

    /// What to tell about the log's torn or unreadable lines, as found on
    /// opening (a torn last line is then kept as a `torn` record).
    pub fn log_note(&self) -> Option<String> {
        self.torn.clone()
    }

    /// Appends `e` to the log.
    ///
    /// # Errors
    /// [`Error::Output`] naming the log when it cannot be written.
    pub fn log(&mut self, e: &Entry) -> Result<(), Error> {
        let path = self.data.join(LOG_NAME);
        log::append(&path, e).map_err(|err| Error::Output {
            path: path.display().to_string(),
            message: crate::error::io_message(&err),
        })?;
        if let Ok(v) = serde_json::to_value(e) {
            self.log.records.push(v);
        }
        Ok(())
    }

    /// Logs a file left where it is once, not again at every run.
    ///
    /// # Errors
    /// As [`Archive::log`].
    pub fn log_once(&mut self, e: &Entry) -> Result<(), Error> {
        if self.log.has(&e.sha256, &e.action.word()) {
            Ok(())
        } else {
            self.log(e)
        }
    }

    /// Files one workbook: `bytes` as read, `batch` the result of checking
    /// exactly those bytes (one file), `shown` its name for the log. A form
    /// with errors, or one that overlaps a filed workbook only in part, is
    /// not filed; a re-sent form replaces the filed one, which moves to
    /// `_superseded/`; bytes already filed are a duplicate. Every outcome is
    /// logged before this returns (held and conflicting files once).
    ///
    /// # Errors
    /// [`Error::Output`] (or [`Error::Input`]) when a step fails; whatever was
    /// done before it is complete and logged, and the incoming copy must stay.
    pub fn file(
        &mut self,
        shown: &str,
        bytes: &[u8],
        batch: &Batch,
        cat: &Catalogue,
    ) -> Result<Filing, Error> {
        let data = self.data.clone();
        let io_err = |path: &Path| {
            let path = path.display().to_string();
            move |e: std::io::Error| Error::Output {
                path: path.clone(),
                message: crate::error::io_message(&e),
            }
        };
        let file = &batch.files[0];
        let (time, stamp) = utc_stamp(crate::model::unix_now());
        let forms: Vec<&CheckedForm> = batch.forms.iter().collect();
        let mut entry = Entry {
            time,
            file: shown.to_string(),
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
        let mut filing = Filing {
            entries: Vec::new(),
            period: None,
        };
        if file.status == "ignored" {
            // Said as `check` says it (a lock file, not a workbook).
            entry.reason = file.reason.clone();
            filing.entries.push(entry);
            return Ok(filing);
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
            self.log_once(&entry)?;
            filing.entries.push(entry);
            return Ok(filing);
        }
        let period = forms[0].period.expect("checked above");
        let who = reporter_name(forms[0], cat).unwrap_or_default();
        let dir = data.join(period.to_string());
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let filed = match self.filed.entry(period) {
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
        let new_keys: Vec<Key> = forms.iter().map(|f| key(f)).collect();
        // Filed files that hold any of the same forms.
        let mut overlapping: Vec<PathBuf> = Vec::new();
        for (fr, theirs) in filed.by_file() {
            if theirs.iter().any(|f| new_keys.contains(&key(f))) {
                overlapping.push(PathBuf::from(&fr.file));
                if fr.sha256 == file.sha256 {
                    entry.action = Action::Duplicate;
                    entry.to = Some(relative(&data, Path::new(&fr.file)));
                }
                if !theirs.iter().all(|f| new_keys.contains(&key(f))) {
                    entry.action = Action::Conflict;
                    entry.reason = Some(format!(
                        "已归档的 {} 还含有本文件没有的报表，不能整份替换",
                        relative(&data, Path::new(&fr.file))
                    ));
                }
            }
        }
        match entry.action {
            Action::Duplicate => {
                self.log(&entry)?;
                filing.entries.push(entry);
                return Ok(filing);
            }
            Action::Conflict => {
                self.log_once(&entry)?;
                filing.entries.push(entry);
                return Ok(filing);
            }
            _ => {}
        }
        // From here on the folder changes: read it again next time.
        self.filed.remove(&period);
        for old in &overlapping {
            let old_bytes = std::fs::read(old).map_err(io_err(old))?;
            let moved = file::supersede(old, &stamp).map_err(io_err(old))?;
            let mut e = entry.clone();
            e.file = relative(&data, old);
            e.sha256 = crate::read::sha256_hex(&old_bytes);
            e.action = Action::Superseded;
            e.to = Some(relative(&data, &moved));
            self.log(&e)?;
            filing.entries.push(e);
        }
        let target = dir.join(canonical_name(
            &forms,
            &who,
            period,
            file.kind.extension().unwrap_or("xlsx"),
        ));
        file::store(&data, bytes, &target).map_err(io_err(&target))?;
        let back = std::fs::read(&target).map_err(io_err(&target))?;
        if crate::read::sha256_hex(&back) != file.sha256 {
            return Err(Error::Output {
                path: target.display().to_string(),
                message: "写入后校验 SHA-256 不一致，收件箱中的原文件未删除".into(),
            });
        }
        entry.action = if overlapping.is_empty() {
            Action::Filed
        } else {
            Action::Replaced
        };
        entry.to = Some(relative(&data, &target));
        self.log(&entry)?;
        filing.entries.push(entry);
        filing.period = Some(period);
        Ok(filing)
    }
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
