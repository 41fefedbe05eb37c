//! Plausibility checks that look beyond one form: against what the zone
//! reported for the same period last year, for the previous month, and for
//! last year's cumulative column; and growth rates too large to pass without
//! an explanation. Pure functions over the forms and the [`History`] loaded
//! before them ([`cross_checks`] is the entry): nothing here reads a file. All
//! are warnings: they never reject a form.

use crate::catalog::{Catalogue, Form, Frequency, Indicator, Kind, Role};
use crate::history::History;
use crate::model::{Finding, Period, Severity};
use crate::text::format_number;
use crate::validate::{CheckedForm, Ctx, Entry, Subject, Val};

fn number(e: Option<&Entry>, role: Role) -> Option<f64> {
    e.and_then(|e| e.get(role)).and_then(Val::number)
}

/// One form's warnings: the form, its catalogue entry, the findings so far.
struct Out<'f> {
    f: &'f CheckedForm,
    form: &'f Form,
    ctx: Ctx<'f>,
}

impl Out<'_> {
    /// A warning about `ind`, at the form's cell in the column of `role`.
    fn warn(
        &mut self,
        rule: &'static str,
        ind: &Indicator,
        role: Role,
        message: String,
    ) -> &mut Finding {
        let cell = self
            .f
            .values
            .get(&ind.code)
            .and_then(|e| e.cells.get(&role).copied());
        self.ctx
            .push(Severity::Warning, rule, Some(ind), message)
            .at(cell)
            .column(self.form.column_label(role))
    }
}

/// The warnings for `forms` (one period's forms), comparing each with the
/// forms of other periods in `history` (see [`History::for_forms`]).
pub fn cross_checks(forms: &[CheckedForm], history: &History, cat: &Catalogue) -> Vec<Finding> {
    let mut all = Vec::new();
    for f in forms {
        let (Some(period), Some(who)) = (f.period, f.reporter.clone()) else {
            continue;
        };
        let Some(form) = cat.form(&f.form) else {
            continue;
        };
        let mut out = Out {
            f,
            form,
            ctx: Ctx {
                file: &f.file,
                sheet: &f.sheet,
                form: &f.form,
                zone: f.zone().map(str::to_string),
                out: Vec::new(),
            },
        };
        growth_alerts(cat, &mut out);
        // Last year's form for the same period.
        let last_year = period.year_before();
        if let Some(last) = history.form(last_year, &f.form, &who) {
            prior_differs(last, cat, last_year, &mut out);
            if form.frequency == Frequency::Annual {
                cumulative_chain(Some(last), &mut out);
            }
        } else if form.frequency == Frequency::Annual && period.year == cat.plan.start.year {
            cumulative_chain(None, &mut out);
        }
        // The previous month of a year-to-date form.
        if form.frequency == Frequency::Monthly && period.month > 1 {
            let before = period.previous();
            if let Some(prev) = history.form(before, &f.form, &who) {
                ytd_decreased(prev, before, &mut out);
            }
        }
        all.extend(out.ctx.out);
    }
    all
}

fn growth_alerts(cat: &Catalogue, out: &mut Out) {
    let (f, form) = (out.f, out.form);
    let limit = cat.checks.growth_alert_pct;
    for ind in form.indicators.iter().filter(|i| i.kind == Kind::Flow) {
        let e = f.values.get(&ind.code);
        let (Some(c), Some(p)) = (number(e, Role::Current), number(e, Role::Prior)) else {
            continue;
        };
        if p == 0.0 {
            continue;
        }
        let g = (c / p - 1.0) * 100.0;
        if g.abs() <= limit {
            continue;
        }
        let why = match e.and_then(|e| e.note.as_ref()) {
            Some(n) => format!("备注说明：“{n}”。"),
            None => "请核对数据，并在备注栏说明原因。".to_string(),
        };
        let message = format!(
            "{} {} 同比增长 {g:.1}%，超出 ±{limit}%。{why}",
            ind.code, ind.name
        );
        out.warn("growth.extreme", ind, Role::Current, message)
            .found(format!("{g:.1}%"))
            .expected(format!("增速在 ±{limit}% 以内，或有说明"));
    }
}

fn prior_differs(last: &CheckedForm, cat: &Catalogue, when: Period, out: &mut Out) {
    let (f, form) = (out.f, out.form);
    let tol = cat.checks.prior_tolerance_pct;
    for ind in form.indicators.iter().filter(|i| i.kind != Kind::YesNo) {
        let prior = number(f.values.get(&ind.code), Role::Prior);
        let reported = number(last.values.get(&ind.code), Role::Current);
        let (Some(p), Some(r)) = (prior, reported) else {
            continue;
        };
        let diff = if r == 0.0 {
            if p == 0.0 { 0.0 } else { f64::INFINITY }
        } else {
            (p - r).abs() / r.abs() * 100.0
        };
        if diff <= tol + 1e-9 {
            continue;
        }
        let when_label = if form.frequency == Frequency::Annual {
            format!("{} 年", when.year)
        } else {
            when.label()
        };
        let message = format!(
            "{}为 {}，与去年报送的 {}（{}）相差 {:.1}%，超过 {}%。如按可比口径调整过，请在备注中说明。",
            Subject(ind, form.column_label(Role::Prior)),
            format_number(p),
            format_number(r),
            when_label,
            diff,
            tol
        );
        out.warn("cross.prior_differs", ind, Role::Prior, message)
            .found(format_number(p))
            .expected(format!(
                "{}（{} 报送的{}）",
                format_number(r),
                when_label,
                form.column_label(Role::Current)
            ));
    }
}

fn cumulative_chain(last: Option<&CheckedForm>, out: &mut Out) {
    let (f, form) = (out.f, out.form);
    for ind in form.indicators.iter().filter(|i| i.kind == Kind::NewInYear) {
        let e = f.values.get(&ind.code);
        let (Some(cum), Some(year)) = (number(e, Role::Cumulative), number(e, Role::Current))
        else {
            continue;
        };
        let before = match last {
            Some(l) => match number(l.values.get(&ind.code), Role::Cumulative) {
                Some(b) => b,
                None => continue,
            },
            None => 0.0,
        };
        let want = before + year;
        if (cum - want).abs() <= 1e-9 * want.abs().max(1.0) {
            continue;
        }
        let how = match last {
            Some(_) => format!(
                "去年累计 {} + 本年 {}",
                format_number(before),
                format_number(year)
            ),
            None => format!("计划第一年，累计应等于本年 {}", format_number(year)),
        };
        let message = format!(
            "{}为 {}，应为 {}（{how}）。请核对累计数。",
            Subject(ind, form.column_label(Role::Cumulative)),
            format_number(cum),
            format_number(want)
        );
        out.warn("cross.cumulative_chain", ind, Role::Cumulative, message)
            .found(format_number(cum))
            .expected(format!("{}（{how}）", format_number(want)));
    }
}

fn ytd_decreased(prev: &CheckedForm, before: Period, out: &mut Out) {
    let (f, form) = (out.f, out.form);
    for ind in form.indicators.iter().filter(|i| i.kind == Kind::Flow) {
        let now = number(f.values.get(&ind.code), Role::Current);
        let then = number(prev.values.get(&ind.code), Role::Current);
        let (Some(n), Some(t)) = (now, then) else {
            continue;
        };
        if n + 1e-9 >= t {
            continue;
        }
        let message = format!(
            "{}为 {}，小于上月报送的 {}（{}）；累计数一般不会减少，请核对。",
            Subject(ind, form.column_label(Role::Current)),
            format_number(n),
            format_number(t),
            before.label()
        );
        out.warn("cross.ytd_decreased", ind, Role::Current, message)
            .found(format_number(n))
            .expected(format!("≥ {}（{}）", format_number(t), before.label()));
    }
}
