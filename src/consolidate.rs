//! The pipeline's entry: a period's folder → [`read_period`] (read, validate,
//! the folder accounted for) → the history (Decembers, last month, loaded
//! once) → the cross-period checks → aggregate → assess → score, gathered in
//! one [`Consolidation`] that the report, the JSON summary ([`crate::summary`]),
//! the mail and the portal read. The `consolidate` command is in
//! `cmd/consolidate.rs`.

use std::path::Path;

use crate::aggregate::{FormState, PeriodFigures, PeriodRead, read_period};
use crate::assess::{TargetRow, assess};
use crate::catalog::Catalogue;
use crate::crossperiod::cross_checks;
use crate::error::Error;
use crate::folder::FileReport;
use crate::history::{Decembers, read_decembers};
use crate::model::{Finding, Period, sort_findings};
use crate::score::{ZoneScore, score};
use crate::validate::CheckedForm;

/// Everything a consolidation run found and computed.
#[derive(Debug, Clone)]
pub struct Consolidation {
    pub period: Period,
    pub annual: bool,
    /// Every zone's forms and the city form were accepted.
    pub complete: bool,
    pub figures: PeriodFigures,
    /// The December figures of earlier plan years (None: folder absent).
    pub history: Decembers,
    pub targets: Vec<TargetRow>,
    /// The 综合评价: every zone's score and rank, in catalogue order.
    pub scores: Vec<ZoneScore>,
    /// Files of the period's folder, each accounted for.
    pub files: Vec<FileReport>,
    /// Findings of the period's files, of the history files used, and of
    /// missing data, sorted.
    pub findings: Vec<Finding>,
    /// The period's forms as checked (for feedback workbooks).
    pub forms: Vec<CheckedForm>,
}

impl Consolidation {
    /// Whether data is missing or rejected anywhere the targets need it.
    pub fn has_gaps(&self) -> bool {
        !self.complete
            || self.findings.iter().any(Finding::is_error)
            || self
                .targets
                .iter()
                .any(|t| t.status == crate::assess::Status::DataMissing)
    }
}

/// Runs the consolidation of `period` over the data folder `data_dir`
/// (which holds one `YYYY-MM` folder a period).
///
/// # Errors
/// [`Error::Input`] when the data folder does not exist. A missing period
/// folder is not an error: every zone is then missing.
pub fn consolidate(
    data_dir: &Path,
    period: Period,
    cat: &Catalogue,
) -> Result<Consolidation, Error> {
    if !data_dir.is_dir() {
        return Err(Error::Input {
            path: data_dir.display().to_string(),
            message: "数据文件夹不存在".into(),
        });
    }
    // The period and the December folders before it are read side by side.
    let (current, past) = rayon::join(
        || read_period(data_dir, period, cat, true),
        || read_decembers(data_dir, period, cat),
    );
    let PeriodRead {
        files,
        mut findings,
        figures,
        forms,
    } = current?;
    let (history, mut compared, past_findings) = past?;
    findings.extend(past_findings);
    // A form stating another period is compared with that period's neighbours.
    compared.load_missing(data_dir, &forms, cat);
    findings.extend(cross_checks(&forms, &compared, cat));
    let targets = assess(&figures, &history, cat);
    let complete = figures
        .zones
        .iter()
        .all(|z| z.status == FormState::Accepted)
        && figures
            .city
            .forms
            .iter()
            .all(|(_, s)| *s == FormState::Accepted);
    sort_findings(&mut findings);
    let scores = score(&figures, &findings, cat);
    Ok(Consolidation {
        period,
        annual: period.is_december(),
        complete,
        figures,
        history,
        targets,
        scores,
        files,
        findings,
        forms,
    })
}

/// The default workbook name: `开发区考核汇总表-2020年1-6月.xlsx`, `…-2020年度.xlsx`.
pub fn default_report_name(period: Period, cat: &Catalogue) -> String {
    format!("{}-{}.xlsx", cat.plan.report_file, period.run_label())
}
