//! Figures → one row per target (and per zone for each-zone targets) with the
//! actual value, completion, schedule and status, as docs/targets.md describes them.

use serde::{Serialize, Serializer};

use crate::aggregate::{Figures, FormState, IndicatorFigure, PeriodFigures, growth};
use crate::catalog::{
    Catalogue, Compare, FilledBy, Form, Frequency, Target, TargetKind, TargetScope,
};
use crate::history::Decembers;
use crate::validate::Val;

/// A target's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    Met,
    NotMet,
    OnSchedule,
    Behind,
    NotDue,
    DataMissing,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Met,
        Status::OnSchedule,
        Status::Behind,
        Status::NotMet,
        Status::NotDue,
        Status::DataMissing,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Status::Met => "达标",
            Status::NotMet => "未达标",
            Status::OnSchedule => "进度正常",
            Status::Behind => "进度滞后",
            Status::NotDue => "未到考核期",
            Status::DataMissing => "数据缺失",
        }
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

/// One assessed target (or one zone's row of an each-zone target).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetRow {
    pub id: String,
    pub zone: Option<String>,
    pub actual: Option<f64>,
    pub target: f64,
    pub completion: Option<f64>,
    pub schedule: Option<f64>,
    pub status: Status,
    /// What else the reader needs: this year's growth beside the average, what is missing.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// For growth targets in annual runs: each year's growth, 2017…Y.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub yearly: Vec<(i32, Option<f64>)>,
}

/// Assesses every target that applies to the run's period.
pub fn assess(now: &PeriodFigures, history: &Decembers, cat: &Catalogue) -> Vec<TargetRow> {
    let annual = now.period.is_december();
    let mut rows = Vec::new();
    for t in &cat.targets {
        if !annual && !cat.target_is_monthly(t) {
            continue;
        }
        let a = Assessor {
            t,
            now,
            history,
            cat,
            forms: cat.target_forms(t),
        };
        match t.scope {
            TargetScope::City => rows.push(a.row(None)),
            TargetScope::EachZone => {
                let zone_rows: Vec<TargetRow> =
                    cat.zones.iter().map(|z| a.row(Some(&z.code))).collect();
                let met = zone_rows.iter().filter(|r| r.status == Status::Met).count();
                let missing = zone_rows.iter().any(|r| r.status == Status::DataMissing);
                let status = if missing {
                    Status::DataMissing
                } else if met == zone_rows.len() {
                    Status::Met
                } else {
                    Status::NotMet
                };
                let note = format!("{}/{} 个开发区达标", met, zone_rows.len());
                rows.extend(zone_rows);
                rows.push(TargetRow {
                    id: t.id.clone(),
                    zone: None,
                    actual: Some(met as f64),
                    target: cat.zones.len() as f64,
                    completion: None,
                    schedule: None,
                    status,
                    note,
                    yearly: Vec::new(),
                });
            }
        }
    }
    rows
}

struct Assessor<'a> {
    t: &'a Target,
    now: &'a PeriodFigures,
    history: &'a Decembers,
    cat: &'a Catalogue,
    forms: Vec<&'a Form>,
}

impl Assessor<'_> {
    /// The row of the city (zone None) or of a zone.
    fn row(&self, zone: Option<&str>) -> TargetRow {
        let mut row = TargetRow {
            id: self.t.id.clone(),
            zone: zone.map(str::to_string),
            actual: None,
            target: self.t.value,
            completion: None,
            schedule: None,
            status: Status::DataMissing,
            note: String::new(),
            yearly: Vec::new(),
        };
        let assessed = match zone {
            None => match self.missing_city() {
                Some(why) => Err(why),
                None => self.fill(&mut row, &self.now.city.figures, None),
            },
            Some(z) => match self.missing_zone(z) {
                Some(why) => Err(why),
                None => {
                    let figs = &self
                        .now
                        .zone(z)
                        .expect("zones come from the catalogue")
                        .figures;
                    self.fill(&mut row, figs, zone)
                }
            },
        };
        if let Err(why) = assessed {
            row.status = Status::DataMissing;
            row.note = format!("数据缺失：{why}");
        }
        row
    }

    /// Why the data are not whole, or None when they are.
    fn missing_city(&self) -> Option<String> {
        let missing: Vec<&str> = self
            .forms
            .iter()
            .filter(|f| !self.now.form_complete(&f.number))
            .map(|f| f.number.as_str())
            .collect();
        (!missing.is_empty()).then(|| format!("{} 不全", missing.join("、")))
    }

    fn missing_zone(&self, zone: &str) -> Option<String> {
        let z = self.now.zone(zone)?;
        let mut all: Vec<String> = self
            .forms
            .iter()
            .filter(|f| f.filled_by == FilledBy::Zone)
            .filter_map(|f| {
                z.forms
                    .iter()
                    .find(|(n, _)| n == &f.number)
                    .filter(|(_, s)| *s != FormState::Accepted)
                    .map(|(n, s)| format!("{n}{}", s.label()))
            })
            .collect();
        all.extend(
            self.forms
                .iter()
                .filter(|f| f.filled_by == FilledBy::City && !self.now.form_complete(&f.number))
                .map(|f| format!("{}缺失", f.number)),
        );
        (!all.is_empty()).then(|| all.join("、"))
    }

    fn value_of(&self, figs: &Figures, code: &str) -> Option<IndicatorFigure> {
        figs.indicators
            .get(code)
            .copied()
            .or_else(|| self.now.city.reference.get(code).copied())
    }

    /// Fills in the row from the figures; Err says which data are missing.
    fn fill(&self, row: &mut TargetRow, figs: &Figures, zone: Option<&str>) -> Result<(), String> {
        let t = self.t;
        let p = self.now.period;
        let value = t.value;
        let start = self.cat.plan.start.year;
        let measure = || self.value_of(figs, &t.measure);
        match t.kind {
            TargetKind::Growth if !p.is_december() => {
                let g = measure().and_then(|f| f.growth).ok_or("无法计算增速")?;
                row.actual = Some(g);
                row.status = reached(g >= value);
            }
            TargetKind::Growth => {
                // Annual: geometric mean of the yearly growths since the plan started.
                let mut product = 1.0;
                let mut gaps = Vec::new();
                for year in start..=p.year {
                    let g = if year == p.year {
                        measure().and_then(|f| f.growth)
                    } else {
                        self.history_figures(year, zone)
                            .and_then(|f| f.indicators.get(&t.measure).and_then(|i| i.growth))
                    };
                    row.yearly.push((year, g));
                    match g {
                        Some(g) => product *= 1.0 + g / 100.0,
                        None => gaps.push(format!("{year}-12")),
                    }
                }
                if !gaps.is_empty() {
                    return Err(format!("缺少 {} 的年度数据", gaps.join("、")));
                }
                let years = (p.year - start + 1) as f64;
                let avg = (product.powf(1.0 / years) - 1.0) * 100.0;
                row.actual = Some(avg);
                if let Some(g) = row.yearly.last().and_then(|(_, g)| *g) {
                    row.note = format!("本年增长 {g:.2}%");
                }
                row.status = reached(avg >= value);
            }
            TargetKind::AnnualTotal | TargetKind::DeadlineTotal => {
                let actual = measure()
                    .and_then(|f| f.current_number())
                    .ok_or("本期数缺失")?;
                row.actual = Some(actual);
                row.completion = Some(actual / value * 100.0);
                let before_deadline =
                    t.kind == TargetKind::DeadlineTotal && t.deadline.is_some_and(|d| p.year < d);
                if before_deadline {
                    row.status = Status::NotDue;
                    row.note = format!("{} 年考核", t.deadline.unwrap_or_default());
                    return Ok(());
                }
                row.schedule = Some(p.month as f64 / 12.0 * 100.0);
                row.status = if p.is_december() {
                    reached(actual >= value)
                } else if row.completion >= row.schedule {
                    Status::OnSchedule
                } else {
                    Status::Behind
                };
            }
            TargetKind::PlanCumulative => {
                let monthly = self.forms.iter().all(|f| f.frequency == Frequency::Monthly);
                let cumulative = if monthly {
                    // Decembers of the earlier plan years plus this period's year-to-date.
                    let mut sum = measure().and_then(|f| f.current_number());
                    let mut gaps = Vec::new();
                    for year in start..p.year {
                        let v = self.history_figures(year, zone).and_then(|f| {
                            f.indicators
                                .get(&t.measure)
                                .and_then(|i| i.current_number())
                        });
                        if v.is_none() {
                            gaps.push(format!("{year}-12"));
                        }
                        sum = sum.zip(v).map(|(a, b)| a + b);
                    }
                    if !gaps.is_empty() {
                        return Err(format!("缺少 {} 的年度数据", gaps.join("、")));
                    }
                    sum
                } else {
                    measure().and_then(|f| f.cumulative)
                };
                let c = cumulative.ok_or("累计数缺失")?;
                row.actual = Some(c);
                row.completion = Some(c / value * 100.0);
                let elapsed = p.months_since(self.cat.plan.start) as f64;
                let schedule = (elapsed / self.cat.plan_months() as f64 * 100.0).min(100.0);
                row.schedule = Some(schedule);
                row.status = if c >= value {
                    Status::Met
                } else if p >= self.cat.plan.end {
                    Status::NotMet
                } else if row.completion.unwrap_or(0.0) >= schedule {
                    Status::OnSchedule
                } else {
                    Status::Behind
                };
            }
            TargetKind::Stock => {
                let v = measure()
                    .and_then(|f| f.current_number())
                    .ok_or("年末数缺失")?;
                row.actual = Some(v);
                row.status = reached(v >= value);
            }
            TargetKind::Ratio => {
                let v = figs
                    .ratios
                    .get(&t.measure)
                    .and_then(|r| r.current)
                    .ok_or("比重无法计算（分母为 0 或数据缺失）")?;
                row.actual = Some(v);
                row.status = reached(v >= value);
            }
            TargetKind::AboveCity => {
                let r = figs.ratios.get(&t.measure).copied().unwrap_or_default();
                let reference = t
                    .reference
                    .as_deref()
                    .and_then(|c| self.now.city.reference.get(c))
                    .copied();
                let ref_cur = reference.and_then(|f| f.current_number());
                let ref_prior = reference.and_then(|f| f.prior_number());
                let margin = match t.compare {
                    Some(Compare::Change) => r
                        .change
                        .zip(ref_cur.zip(ref_prior).map(|(c, p)| c - p))
                        .map(|(a, b)| a - b),
                    _ => r.current.zip(ref_cur).map(|(a, b)| a - b),
                };
                let m = margin.ok_or("比重或全市对比基数缺失")?;
                row.actual = Some(m);
                row.status = reached(m >= value);
            }
            TargetKind::ZoneCount => {
                let mut count = 0;
                for z in &self.cat.zones {
                    if t.exclude_level.as_deref() == Some(z.level_at_start.as_str()) {
                        continue;
                    }
                    let v = self
                        .now
                        .zone(&z.code)
                        .and_then(|r| r.figures.indicators.get(&t.measure))
                        .and_then(|f| f.current);
                    match v {
                        Some(Val::Bool(true)) => count += 1,
                        Some(_) => {}
                        None => return Err(format!("{} 的数据缺失", z.short)),
                    }
                }
                row.actual = Some(count as f64);
                row.status = reached(count as f64 >= value);
            }
        }
        Ok(())
    }

    /// A past December's figures for the city (zone None) or a zone, when whole.
    fn history_figures(&self, year: i32, zone: Option<&str>) -> Option<&Figures> {
        let h = self.history.get(&year)?.as_ref()?;
        match zone {
            None => self
                .forms
                .iter()
                .all(|f| h.form_complete(&f.number))
                .then_some(&h.city.figures),
            Some(z) => {
                let zr = h.zone(z)?;
                let whole = self.forms.iter().all(|f| zr.accepted(&f.number));
                whole.then_some(&zr.figures)
            }
        }
    }
}

fn reached(met: bool) -> Status {
    if met { Status::Met } else { Status::NotMet }
}

/// The yearly growth of an indicator for the city from a period's figures.
pub fn city_growth(f: &PeriodFigures, code: &str) -> Option<f64> {
    let i = f.city.figures.indicators.get(code)?;
    growth(i.current_number(), i.prior_number())
}
