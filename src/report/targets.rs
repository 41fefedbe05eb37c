//! 目标考核: one row a target (and a zone, for the each-zone targets, then
//! their city row "3/5"), the status by colour.

use rust_xlsxwriter::Worksheet;

use super::layout::{NOTE_PT, Num, Res, Setup, Sheet, Tone, fmt};
use super::{Ctx, TARGETS};
use crate::assess::{Status, TargetRow};
use crate::catalog::{Target, TargetKind, TargetScope};

const COLS: u16 = 10;

/// Whether a target's rows have completion and schedule.
pub(super) fn has_completion(t: &Target) -> bool {
    matches!(
        t.kind,
        TargetKind::AnnualTotal | TargetKind::DeadlineTotal | TargetKind::PlanCumulative
    )
}

/// The remark of a row: the assessment's note, and for an average growth
/// the growth of each year.
fn remark(ctx: &Ctx, t: &Target, row: &TargetRow) -> String {
    let mut parts = Vec::new();
    // A monthly run shows an average-growth target's growth so far this year.
    if t.kind == TargetKind::Growth && !ctx.c.annual && row.actual.is_some() {
        parts.push(format!(
            "本年{}累计增速；年均增长在年度考核中计算",
            ctx.c
                .period
                .label()
                .trim_start_matches(&format!("{}年", ctx.c.period.year))
        ));
    }
    if !row.yearly.is_empty() {
        let years: Vec<String> = row
            .yearly
            .iter()
            .map(|(y, g)| match g {
                Some(g) => format!("{y}年 {g:.1}%"),
                None => format!("{y}年 —"),
            })
            .collect();
        parts.push(format!(
            "实际值为 {}—{} 年年均增长；各年增长：{}",
            row.yearly[0].0,
            row.yearly[row.yearly.len() - 1].0,
            years.join("，")
        ));
    }
    // "本年增长" repeats what the yearly list already says.
    let repeats = row.note.starts_with("本年增长") && !row.yearly.is_empty();
    if !row.note.is_empty() && !repeats {
        parts.push(row.note.clone());
    }
    parts.join("。")
}

pub(super) fn sheet(ctx: &Ctx) -> Res<Worksheet> {
    let cat = ctx.cat;
    let c = ctx.c;
    let h = ctx.columns();
    let mut s = Sheet::new(TARGETS)?;
    s.fix(0, 6.0);
    s.fix(1, 32.0);
    s.fix(9, 34.0);
    s.title(0, COLS - 1, &format!("计划目标考核情况（{}）", ctx.label()))?;
    let growth = if c.annual {
        format!(
            "年均增长为 {} 年以来各年增长的几何平均。",
            cat.plan.start.year
        )
    } else {
        "月度考核中年均增长目标的实际值为本年累计增速，年均增长在年度考核中计算。".to_string()
    };
    let note = format!(
        "依据{}《{}》。完成率 = 实际值 ÷ 目标值；时间进度：累计目标为已过月数 ÷ 计划期 {} 个月，年度目标为已过月数 ÷ 12。{growth}颜色：绿色达标，红色未达标或进度滞后，灰色数据缺失。",
        cat.plan.document,
        cat.plan.name,
        cat.plan_months(),
    );
    s.merged_sized(1, 0, COLS - 1, &note, &fmt::note(), NOTE_PT)?;
    let header_row = 2;
    s.headers(
        header_row,
        0,
        &[
            &h.id,
            &h.target_text,
            &h.scope,
            &h.target_value,
            &h.unit,
            &h.actual,
            &h.completion,
            &h.schedule,
            &h.status,
            &h.note,
        ],
    )?;

    let mut row = header_row + 1;
    let mut i = 0;
    while i < c.targets.len() {
        let id = &c.targets[i].id;
        let group: Vec<&TargetRow> = c.targets[i..].iter().take_while(|r| &r.id == id).collect();
        let Some(t) = cat.targets.iter().find(|t| &t.id == id) else {
            i += group.len();
            continue;
        };
        let first = row;
        for r in &group {
            let city_of_each = t.scope == TargetScope::EachZone && r.zone.is_none();
            let scope = match &r.zone {
                Some(z) => ctx.short(z).to_string(),
                None if city_of_each => "全市（达标个数）".to_string(),
                None => "全市".to_string(),
            };
            s.text(row, 2, &scope, &fmt::text())?;
            let num = match t.kind {
                // Growth as the forms show it: one decimal.
                TargetKind::Growth => Num::Pct1,
                _ => Num::of_unit(cat, &t.unit),
            };
            if city_of_each {
                s.number(row, 3, Some(r.target), Num::General, Tone::Plain)?;
                s.text(row, 4, "个开发区", &fmt::center())?;
                let shown = r
                    .actual
                    .map_or("—".to_string(), |a| format!("{a:.0}/{}", r.target));
                s.text(
                    row,
                    5,
                    &shown,
                    &fmt::text().set_align(rust_xlsxwriter::FormatAlign::Right),
                )?;
            } else {
                s.number(row, 3, Some(r.target), Num::General, Tone::Plain)?;
                s.text(row, 4, &t.unit, &fmt::center())?;
                s.number(row, 5, r.actual, num, Tone::Plain)?;
            }
            if has_completion(t) && !city_of_each {
                s.number(row, 6, r.completion, Num::Pct1, Tone::Plain)?;
                match (r.schedule, r.status) {
                    (None, Status::NotDue) => s.text(row, 7, "未到期", &fmt::center())?,
                    (v, _) => s.number(row, 7, v, Num::Pct1, Tone::Plain)?,
                }
            } else {
                s.blank(row, 6)?;
                s.blank(row, 7)?;
            }
            s.text(row, 8, r.status.label(), &fmt::status(r.status))?;
            s.wrapped(row, 9, &remark(ctx, t, r), &fmt::wrap())?;
            row += 1;
        }
        // A target's rows (an each-zone target's zones and city row) print together.
        s.keep(first, row - 1);
        s.merged_down(first, row - 1, 0, &t.id, &fmt::center())?;
        s.merged_down(first, row - 1, 1, &t.text, &fmt::wrap())?;
        i += group.len();
    }
    s.finish(
        &ctx.page_header(),
        Setup {
            freeze_row: header_row + 1,
            freeze_col: 0,
            repeat: Some((header_row, header_row)),
            repeat_cols: None,
            one_page: false,
        },
    )
}
