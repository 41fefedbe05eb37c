//! One sheet a zone, named by its short name: its forms' standing, values,
//! ratios, its rows of the each-zone targets, and its findings.

use rust_xlsxwriter::Worksheet;

use super::layout::{ALARM_PT, Num, Res, Setup, Sheet, Tone, fmt};
use super::{Ctx, sheet_name};
use crate::aggregate::FormState;
use crate::catalog::{Kind, RatioScope};
use crate::validate::Val;

const LAST: u16 = 6;
/// The title repeats on every page; each table's header is written again
/// where the table goes on to a new page.
const REPEAT: Option<(u32, u32)> = Some((0, 0));

pub(super) fn sheet(ctx: &Ctx, code: &str) -> Res<Worksheet> {
    let cat = ctx.cat;
    let h = ctx.columns();
    let zone = cat.zone(code).expect("zones come from the catalogue");
    let result = ctx.zone(code);
    let mut s = Sheet::new(&sheet_name(&zone.short))?;
    // Every width is set, so that the pages are known as the rows are
    // written: a table that goes on to another page gets its header again.
    s.fix_all(&[
        (0, 8.0),
        (1, 36.0),
        (2, 9.0),
        (3, 15.0),
        (4, 15.0),
        (5, 12.0),
        (LAST, 26.0),
    ]);
    s.title(
        0,
        LAST,
        &format!("{}（{}）主要指标（{}）", zone.short, zone.full, ctx.label()),
    )?;

    let forms: Vec<String> = result
        .map(|z| {
            z.forms
                .iter()
                .map(|(f, st)| format!("{f}{}", st.label()))
                .collect()
        })
        .unwrap_or_default();
    let score = ctx.scores.iter().find(|x| x.zone == code);
    let standing = match score {
        Some(x) => match x.rank {
            Some(r) => format!("综合评价第 {r} 名，总分 {:.2}。", x.total),
            None => "不参与综合评价排名。".to_string(),
        },
        None => String::new(),
    };
    let accepted = result.is_some_and(|z| z.status == FormState::Accepted);
    let line = if accepted {
        format!("报表：{}。{standing}", forms.join("；"))
    } else {
        format!(
            "数据不完整：{}。本开发区缺少的数据显示为“—”，不计入全市合计。{standing}",
            forms.join("；")
        )
    };
    s.merged_sized(
        1,
        0,
        LAST,
        &line,
        &if accepted { fmt::fine() } else { fmt::alarm() },
        ALARM_PT,
    )?;

    // 一、主要指标
    let mut row = 3;
    s.merged(row, 0, LAST, "一、主要指标", &fmt::section(), false)?;
    row += 1;
    let heads = ctx.indicator_heads();
    s.headers(row, 0, &heads)?;
    row += 1;
    for (_, ind) in ctx.zone_indicators() {
        row = s.room(row, s.height_of(1, &ind.name), REPEAT, &heads)?;
        let fig = result
            .and_then(|z| z.figures.indicators.get(&ind.code))
            .copied()
            .unwrap_or_default();
        s.row_labels(row, &ind.code, &ind.name, &ind.unit)?;
        let num = Num::of_unit(cat, &ind.unit);
        for (col, v) in [(3u16, fig.current), (4, fig.prior)] {
            match v {
                Some(Val::Bool(b)) => {
                    s.text(row, col, if b { "是" } else { "否" }, &fmt::center())?
                }
                v => s.number(row, col, v.and_then(Val::number), num, Tone::Plain)?,
            }
        }
        if ind.kind == Kind::Flow {
            s.number(row, 5, fig.growth, Num::Pct1, Tone::Plain)?;
        } else {
            s.blank(row, 5)?;
        }
        if ctx.c.annual {
            if ind.kind == Kind::NewInYear {
                s.number(row, 6, fig.cumulative, num, Tone::Plain)?;
            } else {
                s.blank(row, 6)?;
            }
        }
        row += 1;
    }

    // 二、比重
    row = s.table_title(row, LAST, "二、比重", REPEAT)?;
    let heads = ctx.ratio_heads();
    s.headers(row, 0, &heads)?;
    row += 1;
    for r in cat.ratios.iter().filter(|r| r.scope == RatioScope::All) {
        row = s.room(row, s.height_of(1, &r.name), REPEAT, &heads)?;
        let fig = result
            .and_then(|z| z.figures.ratios.get(&r.id))
            .copied()
            .unwrap_or_default();
        s.row_labels(row, &r.id, &r.name, "%")?;
        s.number(row, 3, fig.current, Num::Pct, Tone::Plain)?;
        s.number(row, 4, fig.prior, Num::Pct, Tone::Plain)?;
        s.number(row, 5, fig.change, Num::Pct, Tone::Plain)?;
        row += 1;
    }

    // 三、考核目标
    let rows: Vec<_> = ctx
        .c
        .targets
        .iter()
        .filter(|r| r.zone.as_deref() == Some(code))
        .collect();
    if !rows.is_empty() {
        row = s.table_title(row, LAST, "三、各开发区考核目标", REPEAT)?;
        let heads = [
            &h.id,
            &h.target_text,
            &h.target_value,
            &h.actual,
            &h.unit,
            &h.status,
            &h.note,
        ];
        s.headers(row, 0, &heads)?;
        row += 1;
        for r in rows {
            let Some(t) = cat.targets.iter().find(|t| t.id == r.id) else {
                continue;
            };
            let h = s.height_of(1, &t.text).max(s.height_of(LAST, &r.note));
            row = s.room(row, h, REPEAT, &heads)?;
            s.text(row, 0, &t.id, &fmt::center())?;
            s.wrapped(row, 1, &t.text, &fmt::wrap())?;
            s.number(row, 2, Some(r.target), Num::General, Tone::Plain)?;
            s.number(row, 3, r.actual, Num::of_unit(cat, &t.unit), Tone::Plain)?;
            s.text(row, 4, &t.unit, &fmt::center())?;
            s.text(row, 5, r.status.label(), &fmt::status(r.status))?;
            s.wrapped(row, 6, &r.note, &fmt::wrap())?;
            row += 1;
        }
    }

    // 四、数据问题
    row = s.table_title(row, LAST, "四、数据问题", REPEAT)?;
    let findings: Vec<_> = ctx
        .c
        .findings
        .iter()
        .filter(|f| f.zone.as_deref() == Some(code))
        .collect();
    if findings.is_empty() {
        s.merged(
            row,
            0,
            LAST,
            "本开发区报表没有发现数据问题。",
            &fmt::text(),
            false,
        )?;
    } else {
        // The rule spans the columns to the right edge.
        let header = |s: &mut Sheet, row: u32| -> Res<()> {
            s.headers(row, 0, &[&h.severity, &h.note_and_place, &h.indicator])?;
            s.ws.merge_range(row, 3, row, LAST, &h.problem, &fmt::header())?;
            Ok(())
        };
        header(&mut s, row)?;
        row += 1;
        for f in findings {
            let text = format!("{}\n位置：{}", f.message, f.location());
            if !s.fits(row, s.height_of(1, &text), REPEAT) {
                s.page_break(row);
                header(&mut s, row)?;
                row += 1;
            }
            s.text(
                row,
                0,
                f.severity.label(),
                &fmt::toned(fmt::center(), Tone::of_severity(f.severity)),
            )?;
            s.wrapped(row, 1, &text, &fmt::wrap())?;
            s.text(row, 2, f.indicator.as_deref().unwrap_or(""), &fmt::center())?;
            s.merged(
                row,
                3,
                LAST,
                crate::model::rule_text(f.rule),
                &fmt::wrap(),
                true,
            )?;
            row += 1;
        }
    }

    s.finish(
        &ctx.page_header(),
        Setup {
            freeze_row: 0,
            freeze_col: 0,
            repeat: REPEAT,
            repeat_cols: None,
            one_page: false,
        },
    )
}
