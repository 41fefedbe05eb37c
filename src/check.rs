//! Checking files and period folders without consolidating: every file read
//! and validated, each folder accounted for against its period, the
//! cross-period checks against the history; the [`CheckReport`] and its JSON,
//! and [`render_finding`], the two lines a finding takes on a terminal (also
//! used by intake). The `check` command is `cmd/check.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::Catalogue;
use crate::crossperiod::cross_checks;
use crate::error::Error;
use crate::folder::{self, FileReport, display_name, folder_period};
use crate::history::History;
use crate::model::{Finding, Period, sort_findings};
use crate::text::escape_controls;

/// The result of `check`.
#[derive(Debug, Default, Serialize)]
pub struct CheckReport {
    pub files: Vec<FileReport>,
    pub findings: Vec<Finding>,
    /// Every form read, for feedback workbooks.
    #[serde(skip)]
    pub forms: Vec<crate::validate::CheckedForm>,
}

impl CheckReport {
    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.is_error()).count()
    }
}

/// Checks the given files and period folders. Each folder is checked against
/// its own period (`YYYY-MM` name) unless `period` is given.
///
/// # Errors
/// [`Error::Input`] when a path does not exist or a folder cannot be listed.
pub fn check(
    paths: &[PathBuf],
    period: Option<Period>,
    cat: &Catalogue,
) -> Result<CheckReport, Error> {
    let mut report = CheckReport::default();
    for given in paths {
        // `.` or `..` has no name to take the period from: use the folder's own.
        let path = &given.canonicalize().unwrap_or_else(|_| given.clone());
        let mut others = Vec::new();
        let (files, folder_p) = if path.is_dir() {
            others = folder::list_others(path);
            (folder::list_files(path)?, folder_period(path))
        } else if path.is_file() {
            (vec![path.clone()], path.parent().and_then(folder_period))
        } else {
            return Err(Error::Input {
                path: path.display().to_string(),
                message: "文件或文件夹不存在".into(),
            });
        };
        let mut batch = folder::check_files(&files, &display_name, period.or(folder_p), cat);
        // The folder's neighbours (same month last year, last month) sit beside it.
        let data_dir = if path.is_dir() {
            path.parent()
        } else {
            path.parent().and_then(Path::parent)
        };
        if let Some(data_dir) = data_dir {
            let history = History::for_forms(data_dir, &batch.forms, cat);
            batch
                .findings
                .extend(cross_checks(&batch.forms, &history, cat));
        }
        // Entries that are not read still each get a line, after the files.
        let (other_files, other_findings) = folder::account_others(&others, &display_name);
        batch.files.extend(other_files);
        batch.findings.extend(other_findings);
        sort_findings(&mut batch.findings);
        // Moved, not copied, when there is one path: a folder may hold 100,000 files.
        append(&mut report.files, batch.files);
        append(&mut report.forms, batch.forms);
        append(&mut report.findings, batch.findings);
    }
    // Duplicates across separately named files of one folder are found per
    // folder; the listing stays in the order given.
    Ok(report)
}

fn append<T>(to: &mut Vec<T>, more: Vec<T>) {
    if to.is_empty() {
        *to = more;
    } else {
        to.extend(more);
    }
}

/// One finding as two lines: where and what, then the message.
pub fn render_finding(f: &Finding) -> String {
    let mut head = format!(
        "  [{}] {}",
        f.severity.label(),
        escape_controls(&f.location())
    );
    if let Some(code) = &f.indicator {
        let _ = write!(head, "  {code}");
        if let Some(n) = &f.indicator_name {
            let _ = write!(head, " {n}");
        }
    }
    if let Some(c) = &f.column {
        let _ = write!(head, "「{c}」");
    }
    if let Some(v) = &f.found {
        let _ = write!(head, "  发现：{}", if v.is_empty() { "（空）" } else { v });
    }
    if let Some(e) = &f.expected {
        let _ = write!(head, "  应为：{e}");
    }
    format!("{head}  （{}）\n      {}\n", f.rule, f.message)
}

/// Writes the report as JSON.
///
/// # Errors
/// [`Error::Output`] when the file cannot be written.
pub fn write_json(report: &CheckReport, path: &Path) -> Result<(), Error> {
    // Written as it is serialised: the JSON of a large folder is never whole in memory.
    crate::output::write_atomic_with(path, &mut |w| {
        serde_json::to_writer_pretty(&mut *w, report).map_err(std::io::Error::other)
    })
}
