//! `zonestat consolidate`: a period's folder and the December history → the
//! zones' and city's figures, the assessed targets and every finding.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{Map, Value, json};

use crate::aggregate::{FormState, IndicatorFigure, PeriodFigures, aggregate};
use crate::assess::{History, TargetRow, assess};
use crate::catalog::{Catalogue, FilledBy, Frequency, Kind};
use crate::check::display_name;
use crate::crossperiod::{OtherPeriods, cross_checks};
use crate::error::Error;
use crate::folder::{self, FileReport};
use crate::model::{Finding, Period, Severity, sort_findings};
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
    pub history: History,
    pub targets: Vec<TargetRow>,
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
    // The period and the December folders before it are read at once; each
    // is aggregated, and its files let go, while the others are still read.
    // Of the Decembers' forms only those the cross-period checks will look up
    // for forms of this period are kept (with many zones the forms are most
    // of the memory a run takes); one looked up all the same (a form stating
    // another period) is read again when asked.
    let likely: BTreeSet<Period> = looked_up(period, true).collect();
    let years: Vec<i32> = (cat.plan.start.year..period.year).collect();
    let (current, past) = rayon::join(
        || read_period(data_dir, period, cat, true),
        || {
            years
                .par_iter()
                .map(|&year| {
                    let p = Period { year, month: 12 };
                    if !data_dir.join(p.to_string()).is_dir() {
                        return Ok(None);
                    }
                    let mut read = read_period(data_dir, p, cat, false)?;
                    if !likely.contains(&p) {
                        read.forms = Vec::new();
                    }
                    Ok(Some(read))
                })
                .collect::<Vec<Result<Option<PeriodRead>, Error>>>()
        },
    );
    let PeriodRead {
        files,
        mut findings,
        figures,
        forms,
    } = current?;
    let mut others = OtherPeriods::new(data_dir, cat);
    let asked = cross_periods(&forms, cat);
    let mut history = History::new();
    for (year, past) in years.into_iter().zip(past) {
        let p = Period { year, month: 12 };
        let Some(past) = past? else {
            findings.push(Finding::file(
                Severity::Warning,
                "history.missing",
                &p.to_string(),
                format!("找不到 {p} 文件夹（{year} 年 12 月的报表）：需要历年数据的累计和年均增长目标将显示为数据缺失。"),
            ));
            history.insert(year, None);
            continue;
        };
        findings.extend(past.findings);
        history.insert(year, Some(past.figures));
        if asked.contains(&p) && likely.contains(&p) {
            others.insert(p, past.forms);
        }
    }
    findings.extend(cross_checks(&forms, &mut others, cat));
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
    Ok(Consolidation {
        period,
        annual: period.is_december(),
        complete,
        figures,
        history,
        targets,
        files,
        findings,
        forms,
    })
}

/// The periods the cross-period checks look up for `forms`: the same period a
/// year earlier, and the month before for a monthly form. A period left out
/// here would only be read a second time, never checked wrongly.
fn cross_periods(forms: &[CheckedForm], cat: &Catalogue) -> BTreeSet<Period> {
    let mut out = BTreeSet::new();
    for f in forms {
        let Some(p) = f.period else { continue };
        let monthly = cat
            .form(&f.form)
            .is_some_and(|x| x.frequency == Frequency::Monthly);
        out.extend(looked_up(p, monthly));
    }
    out
}

/// The periods the cross-period checks look up for a form of period `p`.
fn looked_up(p: Period, monthly: bool) -> impl Iterator<Item = Period> {
    let year_before = Period {
        year: p.year - 1,
        month: p.month,
    };
    let month_before = (monthly && p.month > 1).then_some(Period {
        year: p.year,
        month: p.month - 1,
    });
    std::iter::once(year_before).chain(month_before)
}

/// One period folder, read.
struct PeriodRead {
    files: Vec<FileReport>,
    findings: Vec<Finding>,
    figures: PeriodFigures,
    forms: Vec<CheckedForm>,
}

/// Reads one period folder. For the run's own period every finding is kept
/// and missing forms become findings; for history only what the run uses.
fn read_period(
    data_dir: &Path,
    period: Period,
    cat: &Catalogue,
    main: bool,
) -> Result<PeriodRead, Error> {
    let dir = data_dir.join(period.to_string());
    let paths: Vec<PathBuf> = if dir.is_dir() {
        folder::list_files(&dir)?
    } else {
        Vec::new()
    };
    let batch = folder::check_files(&paths, &display_name, Some(period), cat);
    let figures = aggregate(&batch, period, cat);
    let mut findings: Vec<Finding> = if main {
        batch.findings.clone()
    } else {
        // History: the errors of the monthly zone forms it takes its sums from.
        batch
            .findings
            .iter()
            .filter(|f| f.is_error())
            .filter(|f| {
                f.form
                    .as_deref()
                    .is_none_or(|n| cat.form(n).is_some_and(|x| x.filled_by == FilledBy::Zone))
            })
            .cloned()
            .collect()
    };
    if main && !dir.is_dir() {
        findings.push(Finding::file(
            Severity::Error,
            "period.folder_missing",
            &period.to_string(),
            format!("数据文件夹中没有 {period} 文件夹：本期没有收到任何报表。"),
        ));
    }
    for z in &figures.zones {
        for (form, state) in &z.forms {
            let needed_here = main
                || cat
                    .form(form)
                    .is_some_and(|f| f.frequency == Frequency::Monthly);
            if *state == FormState::Missing && needed_here {
                let short = cat
                    .zone(&z.code)
                    .map(|x| x.short.as_str())
                    .unwrap_or(&z.code);
                let mut f = Finding::file(
                    Severity::Error,
                    "zone.form_missing",
                    &period.to_string(),
                    format!(
                        "{period} 文件夹中没有{short}的 {form}（{}）：{short}按未报送处理。",
                        period.label()
                    ),
                );
                f.zone = Some(z.code.clone());
                f.form = Some(form.clone());
                findings.push(f);
            }
        }
    }
    if main {
        for (form, state) in &figures.city.forms {
            if *state == FormState::Missing {
                let mut f = Finding::file(
                    Severity::Error,
                    "city.form_missing",
                    &period.to_string(),
                    format!(
                        "{period} 文件夹中没有{}的 {form}：需要全市对比基数的目标将显示为数据缺失。",
                        cat.city.reporter
                    ),
                );
                f.form = Some(form.clone());
                findings.push(f);
            }
        }
    }
    Ok(PeriodRead {
        files: batch.files,
        findings,
        figures,
        forms: batch.forms,
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
        "files": c.files,
        "findings": c.findings,
    })
}
