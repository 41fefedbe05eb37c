//! The assessment workbook (考核汇总表): a consolidation → an xlsx file for
//! people who read on screen and print, and [`write_pair`], the workbook with
//! its JSON summary. With `template.rs` and `feedback.rs` (the forms
//! themselves), the only code that knows rust_xlsxwriter.
//!
//! Sheets, in order: 封面 (cover: period, plan, completeness, target counts,
//! sources), 目标考核 (one row a target and zone), 图表, 全市汇总,
//! 分区对比 (zones side by side; city totals and ratios as formulas), 综合评价,
//! one sheet a zone (up to the catalogue's `[report] zone_sheets_max` zones:
//! a province's hundreds of sheets could not be used), 数据问题. Formulas
//! carry their computed results, so a reader that does not recalculate still
//! shows every number. The same inputs and the same [`MadeAt`] give the same
//! bytes.

mod charts;
mod city;
mod compare;
mod cover;
mod findings;
mod layout;
mod scores;
mod sources;
mod targets;
mod zone;

use std::collections::HashMap;
use std::path::Path;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Workbook, XlsxError};

use crate::aggregate::{FormState, ZoneResult};
use crate::assess::TargetRow;
use crate::catalog::{Catalogue, FilledBy, Form, Indicator, ReportColumns, Zone};
use crate::consolidate::Consolidation;
use crate::error::Error;
use crate::score::ZoneScore;
use layout::Res;

pub use crate::output::MADE_BY;

/// Names of the fixed sheets.
pub(crate) const COVER: &str = "封面";
pub(crate) const TARGETS: &str = "目标考核";
pub(crate) const CHARTS: &str = "图表";
pub(crate) const CITY: &str = "全市汇总";
pub(crate) const COMPARE: &str = "分区对比";
pub(crate) const SCORES: &str = "综合评价";
pub(crate) const FINDINGS: &str = "数据问题";
pub(crate) const SOURCES: &str = "来源清单";

/// When a workbook was made: printed on the cover and stored as the file's
/// creation time. Taken from `SOURCE_DATE_EPOCH` when set, so that a run can
/// be repeated byte for byte.
///
/// # Examples
/// ```
/// use zonestat::report::MadeAt;
/// let t = MadeAt::from_unix(1_609_459_200); // 2021-01-01 00:00 UTC
/// assert_eq!(t.label(), "2021年1月1日 08:00（北京时间）");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MadeAt {
    unix: i64,
}

impl MadeAt {
    /// Seconds since 1970-01-01 00:00 UTC.
    pub fn from_unix(unix: i64) -> MadeAt {
        MadeAt { unix }
    }

    /// `SOURCE_DATE_EPOCH` (seconds since 1970, UTC) when it is set to a
    /// number, else the current time.
    pub fn from_env() -> MadeAt {
        let fixed = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        match fixed {
            Some(unix) => MadeAt { unix },
            None => MadeAt::now(),
        }
    }

    pub fn now() -> MadeAt {
        MadeAt {
            unix: crate::model::unix_now(),
        }
    }

    pub fn unix(self) -> i64 {
        self.unix
    }

    /// The time as printed on the cover, in Beijing time (UTC+8), where the
    /// workbook is read.
    pub fn label(self) -> String {
        let local = self.unix + 8 * 3600;
        let (y, m, d) = crate::model::civil_date(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        format!(
            "{y}年{m}月{d}日 {:02}:{:02}（北京时间）",
            secs / 3600,
            secs % 3600 / 60
        )
    }
}

/// Writes the assessment workbook of a consolidation to `path`, atomically.
///
/// # Errors
/// [`Error::Output`] naming `path` when the workbook cannot be built or the
/// file cannot be written.
///
/// # Examples
/// ```no_run
/// use zonestat::{catalog::Catalogue, consolidate, report};
/// let cat = Catalogue::bundled();
/// let c = consolidate::consolidate("data".as_ref(), "2020-12".parse().unwrap(), &cat).unwrap();
/// report::write_report(&c, &cat, "考核汇总表.xlsx".as_ref(), report::MadeAt::from_env()).unwrap();
/// ```
pub fn write_report(
    c: &Consolidation,
    cat: &Catalogue,
    path: &Path,
    made_at: MadeAt,
) -> Result<(), Error> {
    let bytes = build(c, cat, made_at).map_err(|e| Error::Output {
        path: path.display().to_string(),
        message: format!("无法生成工作簿：{e}"),
    })?;
    crate::output::write_atomic(path, &bytes)
}

/// The workbook's bytes.
///
/// # Errors
/// [`Error::Output`] when the workbook cannot be built (e.g. a catalogue name
/// that is not a valid sheet name).
pub fn workbook_bytes(
    c: &Consolidation,
    cat: &Catalogue,
    made_at: MadeAt,
) -> Result<Vec<u8>, Error> {
    build(c, cat, made_at).map_err(|e| Error::Output {
        path: cat.plan.report_file.clone(),
        message: format!("无法生成工作簿：{e}"),
    })
}

/// The short Chinese summary printed after a run: period, zones accepted,
/// targets by status, the workbook's path and the count of problems.
pub fn summary_text(c: &Consolidation, cat: &Catalogue, path: &Path) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let accepted = c
        .figures
        .zones
        .iter()
        .filter(|z| z.status == FormState::Accepted)
        .count();
    let _ = writeln!(
        out,
        "{}：{}（期别 {}）",
        cat.plan.report_title,
        c.period.run_label(),
        c.period
    );
    let _ = writeln!(out, "开发区报表：{accepted}/{} 个已采用", cat.zones.len());
    for state in [FormState::Missing, FormState::Rejected] {
        for z in c.figures.zones.iter().filter(|z| z.status == state) {
            let short = cat
                .zone(&z.code)
                .map_or(z.code.as_str(), |x| x.short.as_str());
            // The reason names the form and its state: `湖开统1表有错误未采用（2 处错误）`.
            let why = crate::score::exclusion_reason(&c.figures, &c.findings, &z.code)
                .unwrap_or_default();
            let _ = writeln!(out, "  {short}：{why}");
        }
    }
    for (form, st) in c
        .figures
        .city
        .forms
        .iter()
        .filter(|(_, s)| *s != FormState::Accepted)
    {
        let _ = writeln!(out, "  {}：{form}{}", cat.city.reporter, st.label());
    }
    let city_rows: Vec<_> = c.targets.iter().filter(|t| t.zone.is_none()).collect();
    let counts: Vec<String> = crate::assess::Status::ALL
        .iter()
        .map(|s| (s, city_rows.iter().filter(|t| t.status == *s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{} {n}", s.label()))
        .collect();
    let _ = writeln!(
        out,
        "目标考核（{} 项）：{}",
        city_rows.len(),
        counts.join("，")
    );
    let errors = c.findings.iter().filter(|f| f.is_error()).count();
    let warnings = c
        .findings
        .iter()
        .filter(|f| f.severity == crate::model::Severity::Warning)
        .count();
    let _ = writeln!(out, "数据问题：错误 {errors} 条，警告 {warnings} 条");
    let _ = writeln!(out, "考核汇总表：{}", path.display());
    if c.has_gaps() {
        let _ = writeln!(
            out,
            "注意：数据不完整，考核结果仅供参考（详见汇总表“封面”和“数据问题”）。"
        );
    }
    out
}

/// What every sheet writer reads.
pub(crate) struct Ctx<'a> {
    pub c: &'a Consolidation,
    pub cat: &'a Catalogue,
    pub scores: Vec<ZoneScore>,
    pub made_at: MadeAt,
    /// Zones by code, and the run's zone results by code: sheets look zones
    /// up once a row, which must not cost a scan of every zone.
    zones: HashMap<&'a str, &'a Zone>,
    results: HashMap<&'a str, &'a ZoneResult>,
    /// Target rows by target and zone (None: the city row).
    target_rows: HashMap<(&'a str, Option<&'a str>), &'a TargetRow>,
}

impl<'a> Ctx<'a> {
    fn new(c: &'a Consolidation, cat: &'a Catalogue, made_at: MadeAt) -> Ctx<'a> {
        Ctx {
            c,
            cat,
            scores: c.scores.clone(),
            made_at,
            zones: cat.zones.iter().map(|z| (z.code.as_str(), z)).collect(),
            results: c
                .figures
                .zones
                .iter()
                .map(|z| (z.code.as_str(), z))
                .collect(),
            target_rows: c
                .targets
                .iter()
                .map(|r| ((r.id.as_str(), r.zone.as_deref()), r))
                .collect(),
        }
    }

    /// The zone's short name (its sheet name too).
    pub fn short<'b>(&'b self, code: &'b str) -> &'b str {
        self.zones
            .get(code)
            .map(|z| z.short.as_str())
            .unwrap_or(code)
    }

    /// The row of a target for a zone, or its city row.
    pub fn target_row(&self, id: &str, zone: Option<&str>) -> Option<&'a TargetRow> {
        self.target_rows.get(&(id, zone)).copied()
    }

    /// Whether every zone gets a sheet of its own.
    pub fn zone_sheets(&self) -> bool {
        self.cat.zones.len() <= self.cat.report.zone_sheets_max
    }

    /// The period as people write it: `2020年1-6月`, `2020年度`.
    pub fn label(&self) -> String {
        self.c.period.run_label()
    }

    /// The zones' forms the run needs, in catalogue order.
    pub fn zone_forms(&self) -> Vec<&Form> {
        self.cat
            .forms_for(self.c.period)
            .filter(|f| f.filled_by == FilledBy::Zone)
            .collect()
    }

    /// The indicators of the zones' forms the run needs.
    pub fn zone_indicators(&self) -> Vec<(&Form, &Indicator)> {
        self.zone_forms()
            .into_iter()
            .flat_map(|f| f.indicators.iter().map(move |i| (f, i)))
            .collect()
    }

    pub fn zone(&self, code: &str) -> Option<&'a ZoneResult> {
        self.results.get(code).copied()
    }

    /// Zones whose forms were all accepted.
    pub fn accepted(&self) -> usize {
        self.c
            .figures
            .zones
            .iter()
            .filter(|z| z.status == FormState::Accepted)
            .count()
    }

    /// The column headers of the tables (the catalogue's `[report.columns]`).
    pub fn columns(&self) -> &'a ReportColumns {
        &self.cat.report.columns
    }

    /// The header of a table of indicators (全市汇总, each zone's sheet):
    /// code, name, unit, this period, last year, growth, and in an annual
    /// run the total since the plan began.
    pub fn indicator_heads(&self) -> Vec<String> {
        let h = self.columns();
        let mut heads = [
            &h.code,
            &h.indicator,
            &h.unit,
            &h.current,
            &h.prior,
            &h.growth,
        ]
        .map(String::clone)
        .to_vec();
        if self.c.annual {
            heads.push(format!("{}{}", self.cat.plan.start.year, h.since_start));
        }
        heads
    }

    /// The header of a table of ratios (全市汇总, each zone's sheet).
    pub fn ratio_heads(&self) -> [&'a str; 6] {
        let h = self.columns();
        [
            &h.id,
            &h.ratio,
            &h.unit,
            &h.current,
            &h.prior,
            &h.ratio_change,
        ]
        .map(String::as_str)
    }

    /// The page header: title and period.
    pub fn page_header(&self) -> String {
        format!("{}（{}）", self.cat.plan.report_title, self.label())
    }
}

/// A valid sheet name from a zone's short name.
pub(crate) fn sheet_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .collect();
    cleaned.trim_matches('\'').chars().take(31).collect()
}

fn build(c: &Consolidation, cat: &Catalogue, made_at: MadeAt) -> Result<Vec<u8>, XlsxError> {
    let ctx = Ctx::new(c, cat, made_at);
    let mut wb = Workbook::new();
    // Compressing the sheets is the longest step after reading; level 3 takes
    // two thirds of the default's time for a file 5 % larger (1,000 zones:
    // 135 ms instead of 185 ms, 1.9 MB instead of 1.8 MB).
    wb.set_zip_compression_level(3);
    let created = ExcelDateTime::from_timestamp(made_at.unix())?;
    let author = if cat.report.office.is_empty() {
        MADE_BY
    } else {
        cat.report.office.as_str()
    };
    let props = DocProperties::new()
        .set_title(format!("{}（{}）", cat.plan.report_title, ctx.label()))
        .set_subject(&cat.plan.name)
        .set_author(author)
        .set_company(&cat.report.office)
        .set_manager(MADE_BY)
        .set_comment(format!("由 {} 生成，依据{}", MADE_BY, cat.plan.document))
        .set_creation_datetime(&created);
    // The period and the mail's summary, so that `send` needs nothing but
    // the workbook, whatever it is called.
    let props = crate::mail::Summary::from_run(c, cat)
        .to_properties()
        .into_iter()
        .fold(props, |p, (name, value)| p.set_custom_property(name, value));
    wb.set_properties(&props);

    // The sheets are independent but for 全市汇总 and 图表, which refer to
    // the city cells of 分区对比: with many zones 分区对比 is the largest, so
    // it is built beside the others, on another core.
    let (compared, others) = rayon::join(
        || compare::sheet(&ctx),
        || -> Res<_> {
            let zones: Vec<&str> = if ctx.zone_sheets() {
                cat.zones.iter().map(|z| z.code.as_str()).collect()
            } else {
                Vec::new()
            };
            Ok((
                cover::sheet(&ctx)?,
                targets::sheet(&ctx)?,
                scores::sheet(&ctx)?,
                zones
                    .into_iter()
                    .map(|z| zone::sheet(&ctx, z))
                    .collect::<Res<Vec<_>>>()?,
            ))
        },
    );
    let (compare, places) = compared?;
    let (cover, targets, scores, zones) = others?;
    let sheets = [
        cover,
        targets,
        charts::sheet(&ctx, &places)?,
        city::sheet(&ctx, &places)?,
        compare,
        scores,
    ];
    for ws in sheets.into_iter().chain(zones) {
        wb.push_worksheet(ws);
    }
    findings::add(&ctx, &mut wb)?;
    wb.push_worksheet(sources::sheet(&ctx)?);
    wb.save_to_buffer()
}

/// Writes one run's outputs as a pair: the workbook first, then (when asked)
/// the JSON summary with the workbook's SHA-256 in it. When the workbook
/// cannot be written the old JSON stays beside the old workbook.
///
/// # Errors
/// [`Error::Output`] when either cannot be written.
pub fn write_pair(
    c: &Consolidation,
    cat: &Catalogue,
    workbook: &Path,
    json: Option<&Path>,
) -> Result<(), Error> {
    write_report(c, cat, workbook, MadeAt::from_env())?;
    let Some(json) = json else { return Ok(()) };
    let written = std::fs::read(workbook).map_err(|e| Error::Output {
        path: workbook.display().to_string(),
        message: crate::error::io_message(&e),
    })?;
    let mut value = crate::summary::summary_json(c, cat);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            crate::summary::WORKBOOK_SHA256.into(),
            serde_json::Value::String(crate::read::sha256_hex(&written)),
        );
    }
    let text = serde_json::to_string_pretty(&value).expect("serialisable");
    crate::output::write_atomic(json, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_at_prints_beijing_time() {
        assert_eq!(
            MadeAt::from_unix(0).label(),
            "1970年1月1日 08:00（北京时间）"
        );
        // 2020-02-29 23:59:59 UTC is 1 March in Beijing.
        assert_eq!(
            MadeAt::from_unix(1_583_020_799).label(),
            "2020年3月1日 07:59（北京时间）"
        );
    }

    #[test]
    fn zone_names_make_valid_sheet_names() {
        assert_eq!(sheet_name("湖州开发区"), "湖州开发区");
        assert_eq!(sheet_name("A/B:C"), "A_B_C");
    }
}
