//! Who has reported for a period (`zonestat status`, the portal) — a table of zones (and
//! the statistics bureau) × forms, each received, missing or rejected — so the
//! clerk knows whom to chase (催报).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::aggregate::{FormState, PeriodFigures, aggregate};
use crate::catalog::{Catalogue, FilledBy};
use crate::error::Error;
use crate::folder::{self, display_name};
use crate::model::Period;

/// One reporter's row.
#[derive(Debug, Clone, Serialize)]
pub struct StatusRow {
    /// Zone code, or `city`.
    pub code: String,
    pub name: String,
    /// (form number, state) for each form it must send this period.
    pub forms: Vec<(String, FormState)>,
}

/// The table for one period.
#[derive(Debug, Clone, Serialize)]
pub struct StatusTable {
    pub period: Period,
    pub forms: Vec<String>,
    pub rows: Vec<StatusRow>,
}

impl StatusTable {
    /// Rows with a form not yet accepted.
    pub fn outstanding(&self) -> impl Iterator<Item = &StatusRow> {
        self.rows
            .iter()
            .filter(|r| r.forms.iter().any(|(_, s)| *s != FormState::Accepted))
    }
}

/// Reads a period's folder and says who has reported.
///
/// # Errors
/// [`Error::Input`] when the folder exists but cannot be listed.
pub fn status(data: &Path, period: Period, cat: &Catalogue) -> Result<StatusTable, Error> {
    let files = folder::period_files(data, period)?;
    let batch = folder::check_files(&files, &display_name, Some(period), cat);
    Ok(table(&aggregate(&batch, period, cat), cat))
}

/// The table from a period's figures (a consolidation has them already).
pub fn table(figures: &PeriodFigures, cat: &Catalogue) -> StatusTable {
    let period = figures.period;
    let forms: Vec<String> = cat.forms_for(period).map(|f| f.number.clone()).collect();
    let mut rows: Vec<StatusRow> = figures
        .zones
        .iter()
        .map(|z| StatusRow {
            code: z.code.clone(),
            name: cat
                .zone(&z.code)
                .map(|x| x.short.clone())
                .unwrap_or_default(),
            forms: z.forms.clone(),
        })
        .collect();
    if cat.forms_for(period).any(|f| f.filled_by == FilledBy::City) {
        rows.push(StatusRow {
            code: "city".into(),
            name: cat.city.reporter.clone(),
            forms: figures.city.forms.clone(),
        });
    }
    StatusTable {
        period,
        forms,
        rows,
    }
}

/// The table as text: a column per form, `—` where a reporter does not send that form.
pub fn render(t: &StatusTable) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}（{}）报送情况：", t.period, t.period.label());
    let _ = write!(out, "  {}", pad("填报单位", 12));
    for f in &t.forms {
        let _ = write!(out, "  {}", pad(f, 10));
    }
    out.push('\n');
    for r in &t.rows {
        let _ = write!(out, "  {}", pad(&r.name, 12));
        for f in &t.forms {
            let cell = match r.forms.iter().find(|(n, _)| n == f) {
                Some((_, FormState::Accepted)) => "已收到",
                Some((_, FormState::Missing)) => "未报送",
                Some((_, FormState::Rejected)) => "有错误",
                None => "—",
            };
            let _ = write!(out, "  {}", pad(cell, 10));
        }
        out.push('\n');
    }
    let chase: Vec<&str> = t.outstanding().map(|r| r.name.as_str()).collect();
    if chase.is_empty() {
        let _ = writeln!(out, "全部报齐。");
    } else {
        let _ = writeln!(out, "需催报或退回修改：{}", chase.join("、"));
    }
    out
}

/// Pads text to a display width, counting a CJK character as two columns.
fn pad(s: &str, width: usize) -> String {
    let w: usize = s
        .chars()
        .map(|c| if (c as u32) < 0x2E80 { 1 } else { 2 })
        .sum();
    format!("{s}{}", " ".repeat(width.saturating_sub(w)))
}
