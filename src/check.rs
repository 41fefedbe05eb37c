//! `zonestat check`: read and check files or period folders, list what was
//! recognised and every finding.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::Catalogue;
use crate::crossperiod::cross_checks;
use crate::error::Error;
use crate::folder::{self, Batch, FileReport, display_name, folder_period};
use crate::history::History;
use crate::model::{Finding, Period, Severity};
use crate::text::escape_controls;

/// The result of `check`.
#[derive(Debug, Serialize)]
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
    let mut report = CheckReport {
        files: Vec::new(),
        findings: Vec::new(),
        forms: Vec::new(),
    };
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
        let mut batch: Batch = folder::check_files(&files, &display_name, period.or(folder_p), cat);
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
            crate::model::sort_findings(&mut batch.findings);
        }
        // Entries that are not read still each get a line, after the files.
        let (other_files, other_findings) = folder::account_others(&others, &display_name);
        batch.files.extend(other_files);
        batch.findings.extend(other_findings);
        crate::model::sort_findings(&mut batch.findings);
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

/// The report as text for the terminal.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "共 {} 个文件：", report.files.len());
    // Many files that are not workbooks are summarised by kind (all are in the JSON).
    // (Entries that are not files, such as folders, have no SHA-256 and keep their lines.)
    let stray =
        |f: &&FileReport| f.status == "ignored" && !f.sha256.is_empty() && f.forms.is_empty();
    let strays = report.files.iter().filter(stray).count();
    let summarise = strays > folder::STRAYS_LISTED;
    for f in &report.files {
        if summarise && stray(&f) {
            continue;
        }
        let status = match f.status {
            "used" => "可用",
            "rejected" => "有错误",
            "ignored" => "已忽略",
            _ => "无法读取",
        };
        let _ = writeln!(out, "  [{status}] {}", escape_controls(&f.file));
        for s in &f.forms {
            let who = s
                .reporter
                .clone()
                .unwrap_or_else(|| "（填报单位未识别）".into());
            let when = s
                .period
                .map(|p| p.to_string())
                .unwrap_or_else(|| "（报告期未识别）".into());
            let tally = match (s.errors, s.warnings) {
                (0, 0) => "无问题".to_string(),
                (e, w) => format!("错误 {e} 条，警告 {w} 条"),
            };
            let _ = writeln!(
                out,
                "      {} {} {} 工作表“{}”：{}",
                s.form, who, when, s.sheet, tally
            );
        }
        if f.forms.is_empty()
            && let Some(r) = &f.reason
        {
            let _ = writeln!(out, "      {}", escape_controls(r));
        }
    }
    if summarise {
        let _ = writeln!(
            out,
            "  [已忽略] 另有 {strays} 个不是电子表格的文件：{}（逐个列在 --json 结果的 files 中）",
            kinds(report.files.iter().filter(stray).map(|f| f.file.as_str()))
        );
    }
    let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
    if report.findings.is_empty() {
        let _ = writeln!(out, "\n没有发现问题。");
        return out;
    }
    let _ = writeln!(
        out,
        "\n发现问题 {} 条（错误 {}，警告 {}，提示 {}）：",
        report.findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    for f in &report.findings {
        out.push_str(&render_finding(f));
    }
    out
}

/// `.txt 3 个、.pdf 2 个、无扩展名 1 个`, the most frequent first.
fn kinds<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let mut by: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for n in names {
        let base = n.rsplit('/').next().unwrap_or(n);
        let kind = match base.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => format!(".{}", ext.to_lowercase()),
            _ => "无扩展名".to_string(),
        };
        *by.entry(kind).or_default() += 1;
    }
    let mut v: Vec<(String, usize)> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v.iter()
        .map(|(k, n)| format!("{} {n} 个", escape_controls(k)))
        .collect::<Vec<_>>()
        .join("、")
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
