//! Accepted forms → zone and city figures: values in canonical units, growth
//! from values, ratios from sums. Missing data stays missing (`None`): it is
//! never a zero. [`read_period`] reads one period folder and aggregates it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::catalog::{Catalogue, FilledBy, Frequency, Kind, RatioScope, Reporter, Role};
use crate::error::Error;
use crate::folder::{self, Batch, FileReport, display_name};
use crate::model::{Finding, Period, Severity};
use crate::validate::{CheckedForm, Val};

/// One indicator's figures for a zone or the city.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IndicatorFigure {
    pub current: Option<Val>,
    pub prior: Option<Val>,
    /// Growth in percent, from the values (flows and references only).
    pub growth: Option<f64>,
    /// The 2017年以来累计 column (new-in-year indicators of the annual form).
    pub cumulative: Option<f64>,
}

impl IndicatorFigure {
    pub fn current_number(&self) -> Option<f64> {
        self.current.and_then(Val::number)
    }
    pub fn prior_number(&self) -> Option<f64> {
        self.prior.and_then(Val::number)
    }
}

/// A ratio in percent, now and a year earlier, and the change in percentage points.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct RatioFigure {
    pub current: Option<f64>,
    pub prior: Option<f64>,
    pub change: Option<f64>,
}

/// Everything known about a zone or the city for one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub indicators: BTreeMap<String, IndicatorFigure>,
    pub ratios: BTreeMap<String, RatioFigure>,
}

/// Growth in percent: (current / prior − 1) × 100; none when prior is 0 or missing.
pub fn growth(current: Option<f64>, prior: Option<f64>) -> Option<f64> {
    match (current, prior) {
        (Some(c), Some(p)) if p != 0.0 => Some((c / p - 1.0) * 100.0),
        _ => None,
    }
}

/// Whether a zone's (or the city's) form was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FormState {
    Accepted,
    Missing,
    Rejected,
}

impl FormState {
    pub fn label(self) -> &'static str {
        match self {
            FormState::Accepted => "已采用",
            FormState::Missing => "未报送",
            FormState::Rejected => "有错误未采用",
        }
    }
}

/// A form used in the run, for the sources list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    pub file: String,
    pub sha256: String,
    pub form: String,
    pub sheet: String,
    #[serde(skip)]
    pub zone: Option<String>,
}

impl Source {
    fn of(f: &CheckedForm) -> Source {
        Source {
            file: f.file.clone(),
            sha256: f.sha256.clone(),
            form: f.form.clone(),
            sheet: f.sheet.clone(),
            zone: f.zone().map(str::to_string),
        }
    }
}

/// A zone's standing in the run.
#[derive(Debug, Clone)]
pub struct ZoneResult {
    pub code: String,
    /// Accepted when every form the period needs was accepted; rejected when
    /// one was received with errors; missing when one was not received.
    pub status: FormState,
    /// Each needed form's state, in catalogue order.
    pub forms: Vec<(String, FormState)>,
    pub sources: Vec<Source>,
    pub figures: Figures,
}

impl ZoneResult {
    /// Whether the zone's `form` was accepted.
    pub fn accepted(&self, form: &str) -> bool {
        self.forms
            .iter()
            .any(|(n, s)| n == form && *s == FormState::Accepted)
    }
}

/// The city's figures: sums over the zones whose forms were accepted, and the
/// statistics bureau's reference values.
#[derive(Debug, Clone, Default)]
pub struct CityResult {
    pub figures: Figures,
    pub reference: BTreeMap<String, IndicatorFigure>,
    /// Per form: every zone's form (or the bureau's) was accepted, so the sums are whole.
    pub complete: BTreeMap<String, bool>,
    pub sources: Vec<Source>,
    /// State of each city-filled form.
    pub forms: Vec<(String, FormState)>,
}

impl CityResult {
    /// The figure for an indicator: a zone sum, or a reference value.
    pub fn indicator(&self, code: &str) -> Option<&IndicatorFigure> {
        self.figures
            .indicators
            .get(code)
            .or_else(|| self.reference.get(code))
    }
}

/// The figures of one period.
#[derive(Debug, Clone)]
pub struct PeriodFigures {
    pub period: Period,
    pub zones: Vec<ZoneResult>,
    pub city: CityResult,
    /// Zone codes → position in `zones`: every sheet and check looks zones
    /// up by code, and there may be a thousand of them.
    positions: HashMap<String, usize>,
}

impl PeriodFigures {
    pub fn zone(&self, code: &str) -> Option<&ZoneResult> {
        self.positions.get(code).map(|&at| &self.zones[at])
    }
    /// Whether all the data of a form is on hand for the city.
    pub fn form_complete(&self, form: &str) -> bool {
        self.city.complete.get(form).copied().unwrap_or(false)
    }
}

/// Aggregates a checked batch of one period. Only forms without errors for the
/// period are used; a form that is not needed for the period is left out.
pub fn aggregate(batch: &Batch, period: Period, cat: &Catalogue) -> PeriodFigures {
    let needed: Vec<&str> = cat.forms_for(period).map(|f| f.number.as_str()).collect();
    // The batch's forms by form and reporter (None: the city), in batch
    // order: one pass, so a run with many zones stays linear.
    let mut by_reporter: HashMap<(&str, Option<&str>), Vec<&CheckedForm>> = HashMap::new();
    for f in &batch.forms {
        let who = match &f.reporter {
            Some(Reporter::Zone(z)) => Some(z.as_str()),
            Some(Reporter::City) => None,
            None => continue,
        };
        by_reporter.entry((&f.form, who)).or_default().push(f);
    }
    // A reporter's form: its forms for the period or, when there are none,
    // its forms that state another period (or none): received, but with an
    // error. Accepted when it is one form, without errors, for the period.
    let take = |form: &str, who: Option<&str>| -> (FormState, Option<&CheckedForm>) {
        let theirs = by_reporter
            .get(&(form, who))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let exact: Vec<&CheckedForm> = theirs
            .iter()
            .copied()
            .filter(|f| f.period == Some(period))
            .collect();
        match if exact.is_empty() { theirs } else { &exact } {
            [] => (FormState::Missing, None),
            [one] if !one.has_errors() && one.period == Some(period) => {
                (FormState::Accepted, Some(*one))
            }
            _ => (FormState::Rejected, None),
        }
    };
    // Each indicator's kind by code, looked up once per value.
    let kinds: HashMap<&str, Kind> = cat
        .forms
        .iter()
        .flat_map(|f| f.indicators.iter())
        .map(|i| (i.code.as_str(), i.kind))
        .collect();
    let mut zones = Vec::new();
    for z in &cat.zones {
        let mut forms = Vec::new();
        let mut sources = Vec::new();
        let mut figures = Figures::default();
        for f in cat
            .forms
            .iter()
            .filter(|f| f.filled_by == FilledBy::Zone && needed.contains(&f.number.as_str()))
        {
            let (st, got) = take(&f.number, Some(&z.code));
            if let Some(got) = got {
                sources.push(Source::of(got));
                for (code, e) in &got.values {
                    let fig = zone_figure(e.current, e.prior, e.cumulative, kinds[code.as_str()]);
                    figures.indicators.insert(code.clone(), fig);
                }
            }
            forms.push((f.number.clone(), st));
        }
        let status = if forms.iter().all(|(_, s)| *s == FormState::Accepted) {
            FormState::Accepted
        } else if forms.iter().any(|(_, s)| *s == FormState::Rejected) {
            FormState::Rejected
        } else {
            FormState::Missing
        };
        figures.ratios = ratios(&figures.indicators, &BTreeMap::new(), cat, false);
        zones.push(ZoneResult {
            code: z.code.clone(),
            status,
            forms,
            sources,
            figures,
        });
    }
    let mut city = CityResult::default();
    for f in cat
        .forms
        .iter()
        .filter(|f| needed.contains(&f.number.as_str()))
    {
        match f.filled_by {
            FilledBy::Zone => {
                let accepted: Vec<&ZoneResult> =
                    zones.iter().filter(|z| z.accepted(&f.number)).collect();
                city.complete
                    .insert(f.number.clone(), accepted.len() == zones.len());
                for ind in f.indicators.iter().filter(|i| i.kind != Kind::YesNo) {
                    let figs: Vec<&IndicatorFigure> = accepted
                        .iter()
                        .filter_map(|z| z.figures.indicators.get(&ind.code))
                        .collect();
                    let sum = |get: fn(&IndicatorFigure) -> Option<f64>| -> Option<Val> {
                        if figs.is_empty() {
                            return None;
                        }
                        figs.iter()
                            .map(|f| get(f))
                            .sum::<Option<f64>>()
                            .map(Val::Number)
                    };
                    let fig = zone_figure(
                        sum(IndicatorFigure::current_number),
                        sum(IndicatorFigure::prior_number),
                        sum(|f| f.cumulative),
                        ind.kind,
                    );
                    city.figures.indicators.insert(ind.code.clone(), fig);
                }
            }
            FilledBy::City => {
                let (st, got) = take(&f.number, None);
                city.complete
                    .insert(f.number.clone(), st == FormState::Accepted);
                city.forms.push((f.number.clone(), st));
                if let Some(got) = got {
                    city.sources.push(Source::of(got));
                    for (code, e) in &got.values {
                        city.reference.insert(
                            code.clone(),
                            zone_figure(e.current, e.prior, None, Kind::Reference),
                        );
                    }
                }
            }
        }
    }
    city.figures.ratios = ratios(&city.figures.indicators, &city.reference, cat, true);
    let mut positions = HashMap::with_capacity(zones.len());
    for (at, z) in zones.iter().enumerate() {
        positions.entry(z.code.clone()).or_insert(at);
    }
    PeriodFigures {
        period,
        zones,
        city,
        positions,
    }
}

fn zone_figure(
    current: Option<Val>,
    prior: Option<Val>,
    cumulative: Option<Val>,
    kind: Kind,
) -> IndicatorFigure {
    let growth = match kind {
        Kind::Flow | Kind::Reference => {
            growth(current.and_then(Val::number), prior.and_then(Val::number))
        }
        _ => None,
    };
    let cumulative = match kind {
        Kind::NewInYear => cumulative.and_then(Val::number),
        _ => None,
    };
    IndicatorFigure {
        current,
        prior,
        growth,
        cumulative,
    }
}

/// The ratios from sums of numerator and denominator indicators.
fn ratios(
    ind: &BTreeMap<String, IndicatorFigure>,
    reference: &BTreeMap<String, IndicatorFigure>,
    cat: &Catalogue,
    city: bool,
) -> BTreeMap<String, RatioFigure> {
    let mut out = BTreeMap::new();
    for r in &cat.ratios {
        if r.scope == RatioScope::City && !city {
            continue;
        }
        let get = |code: &String, role: Role| -> Option<f64> {
            let f = ind.get(code).or_else(|| reference.get(code))?;
            match role {
                Role::Prior => f.prior_number(),
                _ => f.current_number(),
            }
        };
        let value = |role: Role| -> Option<f64> {
            let num: Option<f64> = r.numerator.iter().map(|c| get(c, role)).sum();
            let den: Option<f64> = r.denominator.iter().map(|c| get(c, role)).sum();
            match (num, den) {
                (Some(n), Some(d)) if d != 0.0 => Some(n / d * 100.0),
                _ => None,
            }
        };
        let (current, prior) = (value(Role::Current), value(Role::Prior));
        let change = current.zip(prior).map(|(c, p)| c - p);
        // A ratio with no data at all (e.g. R7 in a monthly run) is left out.
        if current.is_some()
            || prior.is_some()
            || r.numerator
                .iter()
                .chain(&r.denominator)
                .all(|c| ind.contains_key(c) || reference.contains_key(c))
        {
            out.insert(
                r.id.clone(),
                RatioFigure {
                    current,
                    prior,
                    change,
                },
            );
        }
    }
    out
}

/// One period folder, read.
pub struct PeriodRead {
    pub files: Vec<FileReport>,
    pub findings: Vec<Finding>,
    pub figures: PeriodFigures,
    pub forms: Vec<CheckedForm>,
}

/// Reads one period folder. For the run's own period every finding is kept
/// and missing forms become findings; for history only what the run uses.
///
/// # Errors
/// [`Error::Input`] when the period's folder exists but cannot be listed.
pub fn read_period(
    data_dir: &Path,
    period: Period,
    cat: &Catalogue,
    main: bool,
) -> Result<PeriodRead, Error> {
    let paths = folder::period_files(data_dir, period)?;
    let batch = folder::check_files(&paths, &display_name, Some(period), cat);
    let figures = aggregate(&batch, period, cat);
    let mut findings = batch.findings;
    if !main {
        // History: the errors of the monthly zone forms it takes its sums from.
        findings.retain(|f| {
            f.is_error()
                && f.form
                    .as_deref()
                    .is_none_or(|n| cat.form(n).is_some_and(|x| x.filled_by == FilledBy::Zone))
        });
    }
    if main && !data_dir.join(period.to_string()).is_dir() {
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
                let short = cat.zone(&z.code).map_or(z.code.as_str(), |x| &x.short);
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
    for (form, state) in &figures.city.forms {
        if main && *state == FormState::Missing {
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
    Ok(PeriodRead {
        files: batch.files,
        findings,
        figures,
        forms: batch.forms,
    })
}
