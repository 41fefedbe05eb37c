//! The other periods a run looks back on, loaded once, in one place: the
//! December figures of the plan's earlier years (for annual growth and the
//! cumulative targets) and the forms the cross-period checks compare a form
//! with (the same period a year earlier, the month before). The checks
//! themselves (`crossperiod`) only read what is here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::aggregate::{PeriodFigures, read_period};
use crate::catalog::{Catalogue, Frequency, Reporter};
use crate::error::Error;
use crate::folder::{self, display_name};
use crate::model::{Finding, Period, Severity};
use crate::validate::CheckedForm;

/// The December figures of the plan's earlier years, by year (None: folder absent).
pub type Decembers = BTreeMap<i32, Option<PeriodFigures>>;

/// The December folders of the plan's years before `period`, read one after
/// another and aggregated: their figures, the findings the run reports about
/// them (a folder missing, errors in the monthly zone forms the sums come
/// from), and the forms the checks of a form of `period` compare with (the
/// rest are let go: with many zones the forms are most of a run's memory).
///
/// # Errors
/// [`Error::Input`] when a December folder exists but cannot be listed.
pub fn read_decembers(
    data_dir: &Path,
    period: Period,
    cat: &Catalogue,
) -> Result<(Decembers, History, Vec<Finding>), Error> {
    let likely: BTreeSet<Period> = compared_with(period, true).collect();
    let years: Vec<Period> = (cat.plan.start.year..period.year)
        .map(|year| Period { year, month: 12 })
        .collect();
    let mut decembers = Decembers::new();
    let mut history = History::default();
    let mut findings = Vec::new();
    // One December at a time (each is read in parallel, file by file): the
    // forms of one are let go before the next is read.
    for p in years {
        if !data_dir.join(p.to_string()).is_dir() {
            findings.push(Finding::file(
                Severity::Warning,
                "history.missing",
                &p.to_string(),
                format!("找不到 {p} 文件夹（{} 年 12 月的报表）：需要历年数据的累计和年均增长目标将显示为数据缺失。", p.year),
            ));
            decembers.insert(p.year, None);
            continue;
        }
        let past = read_period(data_dir, p, cat, false)?;
        findings.extend(past.findings);
        decembers.insert(p.year, Some(past.figures));
        if likely.contains(&p) {
            history.insert(p, past.forms);
        }
    }
    Ok((decembers, history, findings))
}

/// Other periods' forms, as the cross-period checks need them.
#[derive(Debug, Clone, Default)]
pub struct History {
    forms: BTreeMap<Period, Vec<CheckedForm>>,
}

impl History {
    /// The forms of every period that `forms` are compared with, read from the
    /// data folder `data` (a period whose folder is absent has none).
    pub fn for_forms(data: &Path, forms: &[CheckedForm], cat: &Catalogue) -> History {
        let mut h = History::default();
        h.load_missing(data, forms, cat);
        h
    }

    /// Adds the forms of a period already read.
    pub fn insert(&mut self, period: Period, forms: Vec<CheckedForm>) {
        self.forms.insert(period, forms);
    }

    /// Reads the periods `forms` are compared with that are not here yet.
    pub fn load_missing(&mut self, data: &Path, forms: &[CheckedForm], cat: &Catalogue) {
        for period in compared_periods(forms, cat) {
            if self.forms.contains_key(&period) {
                continue;
            }
            let files = folder::period_files(data, period).unwrap_or_default();
            let batch = folder::check_files(&files, &display_name, Some(period), cat);
            self.forms.insert(period, batch.forms);
        }
    }

    /// The error-free form `form` of `who` for `period`, when it was read.
    pub fn form(&self, period: Period, form: &str, who: &Reporter) -> Option<&CheckedForm> {
        self.forms.get(&period)?.iter().find(|f| {
            f.form == form
                && f.reporter.as_ref() == Some(who)
                && f.period == Some(period)
                && !f.has_errors()
        })
    }
}

/// The periods the cross-period checks look up for `forms`.
pub fn compared_periods(forms: &[CheckedForm], cat: &Catalogue) -> BTreeSet<Period> {
    let mut out = BTreeSet::new();
    for f in forms {
        let Some(p) = f.period else { continue };
        let monthly = cat
            .form(&f.form)
            .is_some_and(|x| x.frequency == Frequency::Monthly);
        out.extend(compared_with(p, monthly));
    }
    out
}

/// The periods a form of period `p` is compared with: the same period a year
/// earlier, and the month before for a monthly (year-to-date) form.
pub fn compared_with(p: Period, monthly: bool) -> impl Iterator<Item = Period> {
    let month_before = (monthly && p.month > 1).then(|| p.previous());
    std::iter::once(p.year_before()).chain(month_before)
}
