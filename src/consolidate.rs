//! `zonestat consolidate`: a period's folder and the December history → the
//! zones' and city's figures, the assessed targets and every finding.

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::aggregate::{FormState, IndicatorFigure, PeriodFigures, PeriodRead, read_period};
use crate::assess::{TargetRow, assess};
use crate::catalog::{Catalogue, Kind};
use crate::crossperiod::cross_checks;
use crate::error::Error;
use crate::folder::FileReport;
use crate::history::{Decembers, read_decembers};
use crate::model::{Finding, Period, sort_findings};
use crate::score::{ZoneScore, score};
use crate::validate::{CheckedForm, Val};

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

fn num(v: Option<f64>) -> Value {
    v.map(Value::from).unwrap_or(Value::Null)
}

fn val(v: Option<Val>) -> Value {
    match v {
        Some(Val::Number(n)) => Value::from(n),
        Some(Val::Bool(b)) => Value::Bool(b),
        None => Value::Null,
    }
}

fn indicator_json(f: &IndicatorFigure, kind: Kind) -> Value {
    let mut m = Map::new();
    m.insert("current".into(), val(f.current));
    m.insert("prior".into(), val(f.prior));
    match kind {
        Kind::Flow => {
            m.insert("growth".into(), num(f.growth));
        }
        Kind::NewInYear | Kind::Stock => {
            m.insert("cumulative".into(), num(f.cumulative));
        }
        Kind::YesNo | Kind::Reference => {}
    }
    Value::Object(m)
}

/// The JSON summary (SUMMARY.md).
/// The key of the JSON summary that records the SHA-256 of the workbook
/// written with it (by `run` and `consolidate --json`, after the workbook is
/// in place): `send` refuses a summary that names another workbook.
pub const WORKBOOK_SHA256: &str = "workbook_sha256";

pub fn summary_json(c: &Consolidation, cat: &Catalogue) -> Value {
    let kind = |code: &str| {
        cat.indicator(code)
            .map(|(_, i)| i.kind)
            .unwrap_or(Kind::Flow)
    };
    let indicators = |m: &std::collections::BTreeMap<String, IndicatorFigure>| -> Value {
        Value::Object(
            m.iter()
                .map(|(k, f)| (k.clone(), indicator_json(f, kind(k))))
                .collect(),
        )
    };
    let mut zones = Map::new();
    for z in &c.figures.zones {
        zones.insert(
            z.code.clone(),
            json!({
                "status": z.status,
                "forms": z.forms.iter().map(|(f, s)| json!({"form": f, "status": s})).collect::<Vec<_>>(),
                "sources": z.sources,
                "indicators": indicators(&z.figures.indicators),
                "ratios": z.figures.ratios,
            }),
        );
    }
    json!({
        "period": c.period,
        "annual": c.annual,
        "complete": c.complete,
        "zones": zones,
        "city": {
            "indicators": indicators(&c.figures.city.figures.indicators),
            "ratios": c.figures.city.figures.ratios,
            "reference": indicators(&c.figures.city.reference),
            "sources": c.figures.city.sources,
        },
        "targets": c.targets,
        "scores": c.scores,
        "files": c.files,
        "findings": c.findings,
    })
}
