//! Forms as written → typed values in canonical units, and findings for every
//! rule of docs/forms.md. A form with an error finding is rejected by consolidation;
//! warnings and notes do not reject.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::{Catalogue, FilledBy, Form, Indicator, Kind, Reporter, Role};
use crate::model::{Cell, Finding, Period, Severity};
use crate::read::{CellValue, FormRead, RawValue, RowRead};
use crate::text::format_number;
use crate::text::{TextValue, normalize_name, parse_period, parse_text_value};

/// How far a zone's own growth figure may stray from the computed one, in
/// percentage points, before a warning.
pub const GROWTH_TOLERANCE_PP: f64 = 0.1;

/// A value after parsing and unit conversion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Val {
    Number(f64),
    Bool(bool),
}

impl Val {
    pub fn number(self) -> Option<f64> {
        match self {
            Val::Number(n) => Some(n),
            Val::Bool(_) => None,
        }
    }
}

/// One indicator's values on a form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub current: Option<Val>,
    pub prior: Option<Val>,
    pub cumulative: Option<Val>,
    /// The zone's own growth figure, in percent.
    pub reported_growth: Option<f64>,
    /// Where each value stands.
    pub cells: BTreeMap<Role, Cell>,
    pub note: Option<String>,
}

impl Entry {
    pub fn get(&self, role: Role) -> Option<Val> {
        match role {
            Role::Current => self.current,
            Role::Prior => self.prior,
            Role::Cumulative => self.cumulative,
            Role::ReportedGrowth => self.reported_growth.map(Val::Number),
        }
    }
    fn set(&mut self, role: Role, v: Option<Val>) {
        match role {
            Role::Current => self.current = v,
            Role::Prior => self.prior = v,
            Role::Cumulative => self.cumulative = v,
            Role::ReportedGrowth => self.reported_growth = v.and_then(Val::number),
        }
    }
}

/// A form after the rules: who sent it, for which period, its values, and
/// what is wrong with it.
#[derive(Debug, Clone)]
pub struct CheckedForm {
    pub file: String,
    pub sha256: String,
    pub sheet: String,
    pub form: String,
    pub reporter: Option<Reporter>,
    pub period: Option<Period>,
    pub values: BTreeMap<String, Entry>,
    pub findings: Vec<Finding>,
    /// The form as written, for feedback workbooks that show the zone its own values.
    pub raw: FormRead,
}

impl CheckedForm {
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }

    /// The zone code, for a zone's form.
    pub fn zone(&self) -> Option<&str> {
        match &self.reporter {
            Some(Reporter::Zone(z)) => Some(z),
            _ => None,
        }
    }
}

/// Makes the findings about one form, with its file, sheet, form and zone
/// filled in; the cell, column, value found and value expected are set on
/// the finding it returns (see [`Finding::at`]). Also the cross-period checks'.
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub sheet: &'a str,
    pub form: &'a str,
    pub zone: Option<String>,
    pub out: Vec<Finding>,
}

impl Ctx<'_> {
    pub fn push(
        &mut self,
        severity: Severity,
        rule: &'static str,
        indicator: Option<&Indicator>,
        message: impl Into<String>,
    ) -> &mut Finding {
        let mut f = Finding::file(severity, rule, self.file, message);
        f.sheet = Some(self.sheet.to_string());
        f.zone = self.zone.clone();
        f.form = Some(self.form.to_string());
        f.indicator = indicator.map(|i| i.code.clone());
        f.indicator_name = indicator.map(|i| i.name.clone());
        self.out.push(f);
        self.out.last_mut().expect("just pushed")
    }

    fn error(
        &mut self,
        rule: &'static str,
        indicator: Option<&Indicator>,
        message: impl Into<String>,
    ) -> &mut Finding {
        self.push(Severity::Error, rule, indicator, message)
    }
}

/// Applies every rule to a form read from `file`. `expected_period` is the
/// folder's period (or `--period`); a form for another period is an error.
/// The form as read is kept in the result.
pub fn check_form(
    read: FormRead,
    file: &str,
    sha256: &str,
    expected_period: Option<Period>,
    cat: &Catalogue,
) -> CheckedForm {
    let form = cat
        .form(&read.form)
        .expect("forms are found from the catalogue");
    let mut ctx = Ctx {
        file,
        sheet: &read.sheet,
        form: &form.number,
        zone: None,
        out: Vec::new(),
    };
    let reporter = check_reporter(&read, form, cat, &mut ctx);
    if let Some(Reporter::Zone(z)) = &reporter {
        ctx.zone = Some(z.clone());
    }
    let period = check_period(&read, form, expected_period, cat, &mut ctx);
    let mut values = BTreeMap::new();
    if read.header_row.is_none() {
        let message = format!(
            "{} 找不到表头行（应有“指标名称”“{}”等列），无法读取数据。",
            form.number, form.columns[0].label
        );
        ctx.error("form.header_missing", None, message)
            .at(read.form_cell)
            .expected("表头行含“指标名称”和各数值列");
    } else {
        check_columns(&read, form, &mut ctx);
        for (code, first, second) in &read.duplicate_rows {
            let ind = form.indicators.iter().find(|i| &i.code == code);
            let message = format!(
                "指标 {code} 出现了两次（第 {} 行和第 {} 行），无法确定以哪一行为准。",
                first + 1,
                second + 1
            );
            ctx.error("row.duplicate", ind, message)
                .at(Cell::new(*second, read.header_anchor.col))
                .expected("每个指标只填一行");
        }
        for (row, name) in &read.unknown_rows {
            let message = format!(
                "“{name}”不是 {} 的指标，这一行的数据未被使用。请核对指标名称是否被改动。",
                form.number
            );
            ctx.push(Severity::Warning, "row.unknown", None, message)
                .at(Cell::new(*row, read.header_anchor.col))
                .found(name.clone())
                .expected(format!("{} 的指标", form.number));
        }
        for ind in &form.indicators {
            match read.rows.iter().find(|r| r.code == ind.code) {
                None => {
                    let message = format!(
                        "表中找不到指标 {} {}（按代码和名称都未找到）。请按表样补上这一行。",
                        ind.code, ind.name
                    );
                    ctx.error("row.missing", Some(ind), message)
                        .expected(format!("{} {} 这一行", ind.code, ind.name));
                }
                Some(row) => {
                    let entry = check_row(row, ind, form, cat, &mut ctx);
                    values.insert(ind.code.clone(), entry);
                }
            }
        }
        check_parts(form, &values, &mut ctx);
    }
    CheckedForm {
        file: file.to_string(),
        sha256: sha256.to_string(),
        sheet: read.sheet.clone(),
        form: form.number.clone(),
        reporter,
        period,
        values,
        findings: ctx.out,
        raw: read,
    }
}

fn check_reporter(
    read: &FormRead,
    form: &Form,
    cat: &Catalogue,
    ctx: &mut Ctx,
) -> Option<Reporter> {
    let Some(written) = &read.reporter else {
        ctx.error(
            "form.reporter_missing",
            None,
            "表头找不到“填报单位”，无法确定是哪个开发区的报表。",
        )
        .expected("填报单位：开发区全称");
        return None;
    };
    let Some(r) = cat.reporter(&written.text) else {
        let names = cat
            .zones
            .iter()
            .map(|z| z.full.as_str())
            .chain([cat.city.reporter.as_str()])
            .collect::<Vec<_>>()
            .join("、");
        let message = format!(
            "填报单位“{}”不是已知的开发区或统计局。应为：{names}。",
            written.text
        );
        ctx.error("form.zone_unknown", None, message)
            .at(written.cell)
            .found(written.text.clone())
            .expected(names);
        return None;
    };
    let who = match (&r, form.filled_by) {
        (Reporter::Zone(_), FilledBy::Zone) | (Reporter::City, FilledBy::City) => return Some(r),
        (_, FilledBy::Zone) => "各开发区",
        (_, FilledBy::City) => cat.city.reporter.as_str(),
    };
    let message = format!(
        "{} 应由{}填报，但填报单位是“{}”。",
        form.number, who, written.text
    );
    ctx.error("form.reporter_mismatch", None, message)
        .at(written.cell)
        .found(written.text.clone())
        .expected(who);
    None
}

fn check_period(
    read: &FormRead,
    form: &Form,
    expected: Option<Period>,
    cat: &Catalogue,
    ctx: &mut Ctx,
) -> Option<Period> {
    // The period the clerk is shown as an example: the one expected, else
    // the middle of the plan's last year.
    let example = format!(
        "如“{}”",
        form.period_text(expected.unwrap_or(cat.example_period()))
    );
    let Some(written) = &read.period else {
        let message = format!("{} 表头找不到报告期（{example}）。", form.number);
        ctx.error("form.period_missing", None, message)
            .expected(example);
        return None;
    };
    let p = match parse_period(&written.text) {
        Ok(p) => p,
        Err(message) => {
            ctx.error(
                "form.period_unreadable",
                None,
                format!("{message}，应写成{example}"),
            )
            .at(written.cell)
            .found(written.text.clone())
            .expected(example);
            return None;
        }
    };
    if let Some(want) = expected
        && p != want
    {
        let message = format!(
            "报告期是“{}”（{}），但本次处理的是 {}（{}）。是否放错了文件夹或填错了月份？",
            written.text,
            p,
            want,
            want.label()
        );
        ctx.error("form.period_mismatch", None, message)
            .at(written.cell)
            .found(written.text.clone())
            .expected(want.label());
    }
    Some(p)
}

fn check_columns(read: &FormRead, form: &Form, ctx: &mut Ctx) {
    for c in &form.columns {
        if c.role == Role::ReportedGrowth || read.columns.iter().any(|(r, _)| *r == c.role) {
            continue;
        }
        let message = format!(
            "表头第 {} 行找不到“{}”列，这一列的数据无法读取。",
            read.header_anchor.row + 1,
            c.label
        );
        ctx.error("form.column_missing", None, message)
            .at(read.header_anchor)
            .column(&c.label)
            .expected(c.headers.join(" 或 "));
    }
}

/// The unit conversion factor from the unit written in the row to the canonical unit.
fn row_factor(row: &RowRead, ind: &Indicator, cat: &Catalogue, ctx: &mut Ctx) -> Option<f64> {
    let canonical = cat.unit(&ind.unit).expect("catalogue units are checked");
    let Some(written) = &row.unit else {
        if let Some(cell) = row.unit_cell {
            let message = format!(
                "{} {} 的计量单位是空的，已按“{}”读取。",
                ind.code, ind.name, ind.unit
            );
            ctx.push(Severity::Warning, "unit.missing", Some(ind), message)
                .at(cell)
                .expected(ind.unit.clone());
        }
        return Some(1.0);
    };
    let (rule, message) = match cat.unit(&written.text) {
        None => (
            "unit.unknown",
            format!(
                "{} {} 的计量单位“{}”无法识别，应为“{}”。",
                ind.code, ind.name, written.text, ind.unit
            ),
        ),
        Some(unit) if unit.dimension != canonical.dimension => (
            "unit.mismatch",
            format!(
                "{} {} 的计量单位“{}”与指标不符（应为{}单位，如“{}”）。",
                ind.code, ind.name, written.text, canonical.dimension, ind.unit
            ),
        ),
        // Multiply by an exact integer ratio, or divide by one: 287481 万元 / 10000 = 28.7481 亿元 exactly rounded.
        Some(unit) => return Some(unit.factor / canonical.factor),
    };
    ctx.error(rule, Some(ind), message)
        .at(written.cell)
        .found(written.text.clone())
        .expected(ind.unit.clone());
    None
}

fn convert(v: f64, factor: f64) -> f64 {
    if factor >= 1.0 {
        v * factor
    } else {
        v / (1.0 / factor).round()
    }
}

fn check_row(row: &RowRead, ind: &Indicator, form: &Form, cat: &Catalogue, ctx: &mut Ctx) -> Entry {
    let mut entry = Entry {
        note: row.note.clone(),
        ..Entry::default()
    };
    let factor = row_factor(row, ind, cat, ctx);
    for (role, raw) in &row.values {
        entry.cells.insert(*role, raw.cell);
        let label = form.column_label(*role);
        let v = check_value(raw, *role, label, ind, cat, factor, ctx);
        entry.set(*role, v);
    }
    // Whole-number and sign rules on the converted values.
    for role in [Role::Current, Role::Prior, Role::Cumulative] {
        let (Some(Val::Number(n)), Some(&cell)) = (entry.get(role), entry.cells.get(&role)) else {
            continue;
        };
        let label = form.column_label(role);
        let subject = Subject(ind, label);
        // the value as written, for a message
        let written = || {
            row.values
                .iter()
                .find(|(r, _)| *r == role)
                .map(|(_, v)| v.value.display())
        };
        if ind.non_negative && n < 0.0 {
            let raw = written();
            let message = format!(
                "{subject}为负数（{}），应大于或等于 0。",
                raw.clone().unwrap_or_default()
            );
            ctx.error("value.negative", Some(ind), message)
                .at(cell)
                .column(label)
                .found(raw)
                .expected("≥ 0");
        }
        if ind.whole && (n - n.round()).abs() > 1e-9 {
            let raw = written();
            let message = format!(
                "{subject}应为整数（{}），但填的是 {}。",
                ind.unit,
                raw.clone().unwrap_or_default()
            );
            ctx.error("value.not_whole", Some(ind), message)
                .at(cell)
                .column(label)
                .found(raw)
                .expected(format!("整数（单位：{}）", ind.unit));
        }
    }
    // Required values.
    for role in [Role::Current, Role::Prior, Role::Cumulative] {
        let needed = match role {
            Role::Cumulative => ind.cumulative_required,
            _ => ind.required,
        };
        let Some(raw) = row.values.iter().find(|(r, _)| *r == role).map(|(_, v)| v) else {
            continue;
        };
        if !needed || entry.get(role).is_some() || !is_blank_or_na(raw) {
            continue;
        }
        let label = form.column_label(role);
        let found = raw.value.display();
        let what = if found.trim().is_empty() {
            "没有填写".to_string()
        } else {
            format!("填的是“{}”（不适用）", found.trim())
        };
        let expected = if ind.kind == Kind::YesNo {
            "“是”或“否”".to_string()
        } else {
            format!("数值（{}）", ind.unit)
        };
        let message = format!("{}{what}，此项必须填报{expected}。", Subject(ind, label));
        ctx.error("value.required", Some(ind), message)
            .at(raw.cell)
            .column(label)
            .found(found)
            .expected(expected);
    }
    // 累计 ≥ 本年.
    if ind.kind == Kind::NewInYear
        && let (Some(Val::Number(year)), Some(Val::Number(cum))) = (entry.current, entry.cumulative)
        && cum + 1e-9 < year
    {
        let label = form.column_label(Role::Cumulative);
        let message = format!(
            "{}为 {}，小于本年的 {}；累计数应不小于本年数。",
            Subject(ind, label),
            format_number(cum),
            format_number(year)
        );
        ctx.error("value.cumulative_below_year", Some(ind), message)
            .at(entry.cells.get(&Role::Cumulative).copied())
            .column(label)
            .found(format_number(cum))
            .expected(format!("≥ 本年 {}", format_number(year)));
    }
    // The zone's own growth figure against the one computed from the values.
    if let (Some(reported), Some(Val::Number(cur)), Some(Val::Number(prior))) =
        (entry.reported_growth, entry.current, entry.prior)
        && prior != 0.0
    {
        let computed = (cur - prior) / prior * 100.0;
        let off = |r: f64| (r - computed).abs() > GROWTH_TOLERANCE_PP + 1e-9;
        // `10.6%` typed into a cell is kept as 0.106 shown as a percentage:
        // a figure that agrees once taken as a fraction is that.
        if off(reported) && !off(reported * 100.0) {
            entry.reported_growth = Some(reported * 100.0);
        } else if off(reported) {
            let message = format!(
                "{} {} 填报的同比增长 {}% 与按本期、上年同期计算的 {:.1}% 相差超过 {} 个百分点，请核对。",
                ind.code,
                ind.name,
                format_number(reported),
                computed,
                GROWTH_TOLERANCE_PP
            );
            ctx.push(Severity::Warning, "growth.mismatch", Some(ind), message)
                .at(entry.cells.get(&Role::ReportedGrowth).copied())
                .column(form.column_label(Role::ReportedGrowth))
                .found(format_number(reported))
                .expected(format!("{computed:.1}"));
        }
    }
    entry
}

/// How a message names a value: `A06 地方财政收入“1-本月累计”`; written
/// out only when there is a message.
pub(crate) struct Subject<'a>(pub &'a Indicator, pub &'a str);

impl std::fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}“{}”", self.0.code, self.0.name, self.1)
    }
}

fn is_blank_or_na(raw: &RawValue) -> bool {
    match raw.value.undated().as_ref() {
        CellValue::Empty => raw.formula.is_none(),
        CellValue::Text(t) => matches!(
            parse_text_value(t),
            TextValue::Blank | TextValue::NotApplicable
        ),
        _ => false,
    }
}

/// Parses one value cell. `None` for blank, not applicable, or invalid (with a finding).
fn check_value(
    raw: &RawValue,
    role: Role,
    label: &str,
    ind: &Indicator,
    cat: &Catalogue,
    factor: Option<f64>,
    ctx: &mut Ctx,
) -> Option<Val> {
    let growth = role == Role::ReportedGrowth;
    let found = || raw.value.display();
    let subject = Subject(ind, label);
    // The zone's own growth figure is only compared with the computed one
    // (growth.mismatch): one that does not read is left out, unremarked.
    let mut bad = |rule: &'static str, expected: String, message: String| -> Option<Val> {
        if !growth {
            ctx.error(rule, Some(ind), message)
                .at(raw.cell)
                .column(label)
                .found(found())
                .expected(expected);
        }
        None
    };
    let yes_no = ind.kind == Kind::YesNo && !growth && role != Role::Cumulative;
    let words = &cat.layout;
    let yes_or_no = || format!("“{}”或“{}”", words.yes[0], words.no[0]);
    let a_number = || format!("数值（{}）", ind.unit);
    let percent_unit = cat.unit(&ind.unit).is_some_and(|u| u.dimension == "百分比");
    // a date format on a value cell changes nothing: its number is read
    let value = raw.value.undated();
    let number = match value.as_ref() {
        CellValue::Empty => {
            let f = raw.formula.as_ref()?;
            return bad(
                "value.formula_no_result",
                "公式的计算结果".into(),
                format!(
                    "{subject}是公式（={}），但文件中没有保存计算结果。请用电子表格程序打开该文件，保存后重新报送。",
                    f.trim_start_matches('=')
                ),
            );
        }
        CellValue::Error(e) => {
            return bad(
                "value.error",
                "数值".into(),
                format!("{subject}是错误值 {e}，请修正公式或数据。"),
            );
        }
        CellValue::Bool(b) if yes_no => return Some(Val::Bool(*b)),
        CellValue::Text(t) if yes_no => {
            let n = normalize_name(t);
            return match n.as_str() {
                _ if words.yes.contains(&n) => Some(Val::Bool(true)),
                _ if words.no.contains(&n) => Some(Val::Bool(false)),
                "" | "-" | "/" => None,
                _ => bad(
                    "value.not_yes_no",
                    yes_or_no(),
                    format!("{subject}应填{}，但填的是“{}”。", yes_or_no(), t.trim()),
                ),
            };
        }
        _ if yes_no => {
            return bad(
                "value.not_yes_no",
                yes_or_no(),
                format!("{subject}应填{}，但填的是“{}”。", yes_or_no(), found()),
            );
        }
        CellValue::Number(n) => *n,
        // (undated above: a date is its number or text by now)
        CellValue::Date { .. } => return None,
        CellValue::Bool(_) => {
            return bad(
                "value.not_number",
                a_number(),
                format!("{subject}应为数值，但填的是逻辑值 {}。", found()),
            );
        }
        CellValue::Text(t) => match parse_text_value(t) {
            TextValue::Blank | TextValue::NotApplicable => return None,
            TextValue::Number { percent: true, .. } if !growth && !percent_unit => {
                return bad(
                    "value.not_number",
                    a_number(),
                    format!(
                        "{subject}填的是百分数“{}”，应填{}为单位的数值。",
                        t.trim(),
                        ind.unit
                    ),
                );
            }
            TextValue::Number { value, .. } => value,
            TextValue::Invalid => {
                return bad(
                    "value.not_number",
                    a_number(),
                    format!(
                        "{subject}填的“{}”不是数值，应填{}为单位的数字。",
                        t.trim(),
                        ind.unit
                    ),
                );
            }
        },
    };
    if growth {
        return Some(Val::Number(number));
    }
    factor.map(|f| Val::Number(convert(number, f)))
}

/// 其中 ≤ its total, in each column.
fn check_parts(form: &Form, values: &BTreeMap<String, Entry>, ctx: &mut Ctx) {
    for ind in &form.indicators {
        let Some(total_code) = &ind.part_of else {
            continue;
        };
        let (Some(part), Some(total)) = (values.get(&ind.code), values.get(total_code)) else {
            continue;
        };
        let total_ind = form
            .indicators
            .iter()
            .find(|i| &i.code == total_code)
            .expect("checked catalogue");
        for role in [Role::Current, Role::Prior, Role::Cumulative] {
            let (Some(Val::Number(p)), Some(Val::Number(t))) = (part.get(role), total.get(role))
            else {
                continue;
            };
            if p > t + 1e-9 * t.abs().max(1.0) {
                let label = form.column_label(role);
                let message = format!(
                    "{} {}“{}”为 {}，大于其总数 {} {} 的 {}（{}）；“其中”项不能大于总数。",
                    ind.code,
                    ind.short_name(),
                    label,
                    format_number(p),
                    total_ind.code,
                    total_ind.short_name(),
                    format_number(t),
                    ind.unit
                );
                ctx.error("value.part_exceeds_total", Some(ind), message)
                    .at(part.cells.get(&role).copied())
                    .column(label)
                    .found(format_number(p))
                    .expected(format!(
                        "≤ {} {} 的 {}",
                        total_ind.code,
                        total_ind.short_name(),
                        format_number(t)
                    ));
            }
        }
    }
}
