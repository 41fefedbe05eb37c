//! `zonestat check`: the files and folders checked, what was recognised and
//! every finding on the terminal, optionally the JSON and feedback workbooks.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::catalog::Catalogue;
use crate::check::{CheckReport, render_finding, write_json};
use crate::folder::{self, FileReport};
use crate::model::{Period, Severity};
use crate::text::escape_controls;

/// `zonestat check`: exit code 1 when any file has an error.
///
/// # Errors
/// A path that does not exist, an output that cannot be written.
pub fn check(
    paths: &[PathBuf],
    period: Option<Period>,
    json: Option<&Path>,
    feedback: Option<&Path>,
    cat: &Catalogue,
) -> anyhow::Result<u8> {
    let report = crate::check::check(paths, period, cat)?;
    out!("{}", render(&report));
    if let Some(path) = json {
        write_json(&report, path)?;
    }
    if let Some(dir) = feedback {
        super::feedback(&report.forms, period, cat, dir)?;
    }
    Ok(if report.errors() > 0 { 1 } else { 0 })
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
