//! 全市汇总: every indicator of the city (the zones' sums, taken by formula
//! from 分区对比), the statistics bureau's reference values, and every city
//! ratio as a formula over them.

use std::collections::BTreeMap;

use rust_xlsxwriter::Worksheet;

use super::compare::Places;
use super::layout::{ALARM_PT, NOTE_PT, Num, Res, Setup, Sheet, Tone, a1, fmt, ratio_terms};
use super::{CITY, Ctx};
use crate::catalog::Kind;
use crate::validate::Val;

const CUR: u16 = 3;
const PRIOR: u16 = 4;
const CHANGE: u16 = 5;
const CUMULATIVE: u16 = 6;
/// Only the title repeats: each table writes its header again on a new page.
const REPEAT: Option<(u32, u32)> = Some((0, 0));

pub(super) fn sheet(ctx: &Ctx, places: &Places) -> Res<Worksheet> {
    let cat = ctx.cat;
    let city = &ctx.c.figures.city;
    let h = ctx.columns();
    let last = if ctx.c.annual { CUMULATIVE } else { CHANGE };
    let mut s = Sheet::new(CITY)?;
    // Every width is set, so that the pages are known as the rows are
    // written: a table that goes on to another page gets its header again,
    // and a table that does not fit where it would start starts a page.
    s.fix_all(&[
        (0, 7.0),
        (1, 34.0),
        (2, 9.0),
        (CUR, 15.0),
        (PRIOR, 15.0),
        (CHANGE, 13.0),
        (CUMULATIVE, 15.0),
    ]);
    s.title(
        0,
        last,
        &format!("{}主要指标汇总（{}）", cat.city.name, ctx.label()),
    )?;
    let accepted = ctx.accepted();
    let n = cat.zones.len();
    let mut note = format!(
        "本期数、上年同期数为已采用报表的开发区之和（{accepted}/{n} 个开发区），取自“分区对比”表的全市合计；增长、增减和比重以公式计算。“—”表示无数据。"
    );
    if accepted < n {
        note = format!(
            "数据不完整：只有 {accepted}/{n} 个开发区的报表已采用，全市数偏小，不宜直接使用。{note}"
        );
    }
    let note_fmt = if accepted < n {
        fmt::alarm()
    } else {
        fmt::note()
    };
    let size = if accepted < n { ALARM_PT } else { NOTE_PT };
    s.merged_sized(1, 0, last, &note, &note_fmt, size)?;

    let mut row = 3;
    let mut rows: BTreeMap<String, u32> = BTreeMap::new();

    // 一、主要指标
    s.merged(row - 1, 0, last, "一、主要指标", &fmt::section(), false)?;
    let header_row = row;
    let heads = ctx.indicator_heads();
    s.headers(row, 0, &heads)?;
    row += 1;
    for (_, ind) in ctx.zone_indicators() {
        row = s.room(row, s.height_of(1, &ind.name), REPEAT, &heads)?;
        s.row_labels(row, &ind.code, &ind.name, &ind.unit)?;
        let num = Num::of_unit(cat, &ind.unit);
        if ind.kind == Kind::YesNo {
            for (col, map, pick) in [
                (
                    CUR,
                    &places.current,
                    (|f| f.current) as fn(&crate::aggregate::IndicatorFigure) -> Option<Val>,
                ),
                (PRIOR, &places.prior, |f| f.prior),
            ] {
                let values: Vec<Option<Val>> = ctx
                    .c
                    .figures
                    .zones
                    .iter()
                    .map(|z| z.figures.indicators.get(&ind.code).and_then(pick))
                    .collect();
                let count = values
                    .iter()
                    .filter(|v| matches!(v, Some(Val::Bool(true))))
                    .count() as f64;
                match map.get(&ind.code) {
                    Some(r) if values.iter().any(Option::is_some) => s.formula_custom(
                        row,
                        col,
                        &format!("={}", places.city_ref(*r)),
                        count,
                        "\"是 \"0\" 个\"",
                        &format!("是 {count} 个"),
                    )?,
                    _ => s.number(row, col, None, num, Tone::Plain)?,
                }
            }
            s.blank(row, CHANGE)?;
        } else {
            let fig = city
                .figures
                .indicators
                .get(&ind.code)
                .copied()
                .unwrap_or_default();
            for (col, map, v) in [
                (CUR, &places.current, fig.current_number()),
                (PRIOR, &places.prior, fig.prior_number()),
            ] {
                match (v, map.get(&ind.code)) {
                    (Some(v), Some(r)) => s.formula(
                        row,
                        col,
                        &format!("={}", places.city_ref(*r)),
                        v,
                        num,
                        Tone::Plain,
                    )?,
                    (v, _) => s.number(row, col, v, num, Tone::Plain)?,
                }
            }
            if ind.kind == Kind::Flow {
                match fig.growth {
                    Some(g) => {
                        let f = format!("=({}/{}-1)*100", a1(row, CUR), a1(row, PRIOR));
                        s.formula(row, CHANGE, &f, g, Num::Pct1, Tone::Plain)?
                    }
                    None => s.number(row, CHANGE, None, Num::Pct1, Tone::Plain)?,
                }
            } else {
                s.blank(row, CHANGE)?;
            }
        }
        if ctx.c.annual {
            let fig = city.figures.indicators.get(&ind.code);
            match (
                ind.kind,
                fig.and_then(|f| f.cumulative),
                places.cumulative.get(&ind.code),
            ) {
                (Kind::NewInYear, Some(v), Some(r)) => s.formula(
                    row,
                    CUMULATIVE,
                    &format!("={}", places.city_ref(*r)),
                    v,
                    num,
                    Tone::Plain,
                )?,
                (Kind::NewInYear, None, _) => s.number(row, CUMULATIVE, None, num, Tone::Plain)?,
                _ => s.blank(row, CUMULATIVE)?,
            }
        }
        rows.insert(ind.code.clone(), row);
        row += 1;
    }

    // 二、全市对比基数 (the statistics bureau's form)
    let city_forms: Vec<_> = cat
        .forms_for(ctx.c.period)
        .filter(|f| f.filled_by == crate::catalog::FilledBy::City)
        .collect();
    for form in &city_forms {
        let title = format!("二、全市对比基数（{}，{}）", form.number, cat.city.reporter);
        row = s.table_title(row, last, &title, REPEAT)?;
        let heads = [&h.code, &h.name, &h.unit, &h.current, &h.prior, &h.change];
        s.headers(row, 0, &heads)?;
        row += 1;
        for ind in &form.indicators {
            row = s.room(row, s.height_of(1, &ind.name), REPEAT, &heads)?;
            s.row_labels(row, &ind.code, &ind.name, &ind.unit)?;
            let num = Num::of_unit(cat, &ind.unit);
            let fig = city.reference.get(&ind.code).copied().unwrap_or_default();
            let (cur, prior) = (fig.current_number(), fig.prior_number());
            s.number(row, CUR, cur, num, Tone::Plain)?;
            s.number(row, PRIOR, prior, num, Tone::Plain)?;
            match cur.zip(prior) {
                Some((c, p)) => {
                    let f = format!("={}-{}", a1(row, CUR), a1(row, PRIOR));
                    s.formula(
                        row,
                        CHANGE,
                        &f,
                        c - p,
                        if num == Num::Count {
                            Num::Count
                        } else {
                            Num::Pct
                        },
                        Tone::Plain,
                    )?
                }
                None => s.number(row, CHANGE, None, Num::Pct, Tone::Plain)?,
            }
            if ctx.c.annual {
                s.blank(row, CUMULATIVE)?;
            }
            rows.insert(ind.code.clone(), row);
            row += 1;
        }
    }

    // 三、比重
    row = s.table_title(row, last, "三、比重（由全市合计数计算）", REPEAT)?;
    let heads = ctx.ratio_heads();
    s.headers(row, 0, &heads)?;
    row += 1;
    for r in &cat.ratios {
        let Some(fig) = city.figures.ratios.get(&r.id) else {
            continue;
        };
        row = s.room(row, s.height_of(1, &r.name), REPEAT, &heads)?;
        s.row_labels(row, &r.id, &r.name, "%")?;
        for (col, v) in [(CUR, fig.current), (PRIOR, fig.prior)] {
            match (v, ratio_terms(r, &rows, col)) {
                (Some(v), Some((n, d))) => {
                    s.formula(row, col, &format!("={n}/{d}*100"), v, Num::Pct, Tone::Plain)?
                }
                (v, _) => s.number(row, col, v, Num::Pct, Tone::Plain)?,
            }
        }
        match fig.change {
            Some(c) if fig.current.is_some() && fig.prior.is_some() => {
                let f = format!("={}-{}", a1(row, CUR), a1(row, PRIOR));
                s.formula(row, CHANGE, &f, c, Num::Pct, Tone::Plain)?
            }
            c => s.number(row, CHANGE, c, Num::Pct, Tone::Plain)?,
        }
        if ctx.c.annual {
            s.blank(row, CUMULATIVE)?;
        }
        row += 1;
    }

    s.finish(
        &ctx.page_header(),
        Setup {
            freeze_row: header_row + 1,
            freeze_col: 0,
            repeat: REPEAT,
            repeat_cols: None,
            one_page: false,
        },
    )
}
