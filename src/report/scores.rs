//! 综合评价: the zones' scores under the catalogue's scheme, best first, each
//! part a formula over the zone's figure, the target and the weight (shown in
//! the second table), the total their sum.

use rust_xlsxwriter::Worksheet;

use super::layout::{Num, Res, Setup, Sheet, Tone, a1, fmt};
use super::{Ctx, SCORES};
use crate::model::Cell;

fn abs(row: u32, col: u16) -> String {
    format!("${}${}", Cell::column_name(col as u32), row + 1)
}

/// How a measure's figure is shown: percentages for growth and ratios, the
/// indicator's own unit for a value.
fn measure_num(ctx: &Ctx, source: &str) -> (Num, String) {
    match source.split_once(':') {
        Some(("value", code)) => match ctx.cat.indicator(code) {
            Some((_, i)) => (Num::of_unit(ctx.cat, &i.unit), i.unit.clone()),
            None => (Num::Amount, String::new()),
        },
        Some(("ratio_change", _)) => (Num::Pct, "百分点".into()),
        _ => (Num::Pct, "%".into()),
    }
}

/// A measure's source in words: `growth:A01` → `A01 同比增长（%）`.
fn measure_basis(ctx: &Ctx, source: &str) -> String {
    let (what, code) = source.split_once(':').unwrap_or(("", source));
    let (_, unit) = measure_num(ctx, source);
    let how = match what {
        "growth" => "同比增长",
        "ratio" => "本期比重",
        "ratio_change" => "比重增减",
        _ => "本期数",
    };
    format!("{code} {how}（{unit}）")
}

pub(super) fn sheet(ctx: &Ctx) -> Res<Worksheet> {
    let cat = ctx.cat;
    let h = ctx.columns();
    let scheme = &cat.scoring;
    let m = scheme.measures.len() as u16;
    let total_col = 2 + m;
    let note_col = total_col + 1;
    let mut s = Sheet::new(SCORES)?;
    s.fix(0, 10.0);
    s.fix(1, 12.0);
    for c in 2..total_col {
        s.fix(c, 11.5);
    }
    s.fix(total_col, 9.0);
    s.fix(note_col, 30.0);
    s.title(0, note_col, &format!("开发区综合评价（{}）", ctx.label()))?;
    let weights: f64 = scheme.measures.iter().map(|x| x.weight).sum();
    let mut note = format!(
        "评价方案：{}（可在计划目录文件中修改）。每项得分 = 权重 × 实际值 ÷ 目标值，最低 0 分，最高为权重的 {} 倍；各项权重合计 {} 分。缺少数据的项目按 0 分计（灰色）；报表未全部采用的开发区不参与排名。得分和总分以公式计算。",
        scheme.name, scheme.cap, weights
    );
    if !ctx.c.annual {
        note.push_str(&format!(
            "本期为月度数据，评价结果是按{}累计数的试算。",
            ctx.c.period.label()
        ));
    }
    s.merged(1, 0, note_col, &note, &fmt::note(), true)?;

    // Layout: table 1 (scores) rows 3.., table 2 (figures) after it.
    let zones = &cat.zones;
    let head1 = 3;
    let first1 = head1 + 1;
    let title2 = first1 + zones.len() as u32 + 1;
    let head2 = title2 + 1;
    let basis_row = head2 + 1;
    let target_row = basis_row + 1;
    let weight_row = target_row + 1;
    let first2 = weight_row + 1;
    let actual_row = |zi: usize| first2 + zi as u32;

    s.merged(
        head1 - 1,
        0,
        note_col,
        "一、得分与排名",
        &fmt::section(),
        false,
    )?;
    s.headers(head1, 0, &[&h.rank, &h.zone])?;
    for (k, x) in scheme.measures.iter().enumerate() {
        s.header(
            head1,
            2 + k as u16,
            &format!("{}（{}分）", x.label, x.weight),
        )?;
    }
    s.header(head1, total_col, &h.total)?;
    s.header(head1, note_col, &h.note)?;

    let mut order: Vec<usize> = (0..ctx.scores.len()).collect();
    order.sort_by_key(|&i| (ctx.scores[i].rank.is_none(), ctx.scores[i].rank, i));
    for (k, &i) in order.iter().enumerate() {
        let z = &ctx.scores[i];
        let row = first1 + k as u32;
        match z.rank {
            Some(r) => s.number(
                row,
                0,
                Some(f64::from(r)),
                Num::Count,
                if r == 1 { Tone::Good } else { Tone::Plain },
            )?,
            None => s.text(row, 0, "不参与排名", &fmt::toned(fmt::center(), Tone::Grey))?,
        }
        s.text(row, 1, ctx.short(&z.zone), &fmt::text())?;
        // A zone that is not ranked and lacks figures has no score: "—".
        let unscored = z.excluded.is_some() && !z.flagged().is_empty();
        for (p, part) in z.parts.iter().enumerate() {
            let col = 2 + p as u16;
            if part.flag.is_some() {
                let shown = (!unscored).then_some(part.score);
                s.number(row, col, shown, Num::Pct, Tone::Grey)?;
            } else {
                let f = format!(
                    "={}*MIN(MAX({}/{},0),{})",
                    abs(weight_row, col),
                    a1(actual_row(i), col),
                    abs(target_row, col),
                    scheme.cap
                );
                s.formula(row, col, &f, part.score, Num::Pct, Tone::Plain)?;
            }
        }
        if unscored {
            s.number(row, total_col, None, Num::Pct, Tone::Grey)?;
        } else {
            let sum = format!("=SUM({}:{})", a1(row, 2), a1(row, total_col - 1));
            let tone = if z.rank == Some(1) {
                Tone::Good
            } else {
                Tone::Plain
            };
            s.formula(row, total_col, &sum, z.total, Num::Pct, tone)?;
        }
        let mut notes = Vec::new();
        if let Some(r) = z.rank {
            let full = z
                .parts
                .iter()
                .zip(&scheme.measures)
                .filter(|(p, m)| p.flag.is_none() && p.score >= m.weight - 1e-9)
                .map(|(p, _)| p.label.as_str())
                .collect::<Vec<_>>();
            let mut line = format!("第 {r} 名，总分 {:.2} 分", z.total);
            if !full.is_empty() {
                line.push_str(&format!("；达到目标值的项目：{}", full.join("、")));
            }
            notes.push(line);
        }
        if let Some(why) = &z.excluded {
            notes.push(format!("不参与排名：{why}"));
        }
        let flagged = z.flagged();
        if flagged.len() == z.parts.len() {
            notes.push("各项均缺少数据".to_string());
        } else if !flagged.is_empty() {
            let how = if unscored {
                "缺少数据"
            } else {
                "缺少数据，按 0 分计"
            };
            notes.push(format!("{how}：{}", flagged.join("、")));
        }
        s.wrapped(row, note_col, &notes.join("。"), &fmt::wrap())?;
    }

    s.merged(
        title2,
        0,
        note_col,
        "二、评价指标、目标值、权重和各开发区实际值",
        &fmt::section(),
        false,
    )?;
    s.ws.merge_range(head2, 0, head2, 1, &h.item, &fmt::header())?;
    for (k, x) in scheme.measures.iter().enumerate() {
        s.header(head2, 2 + k as u16, &x.label)?;
    }
    s.header(head2, total_col, "")?;
    s.header(head2, note_col, &h.note)?;
    let rows = [
        (
            basis_row,
            "计算依据",
            "取自本期各开发区的数值、增速和比重".to_string(),
        ),
        (
            target_row,
            "目标值",
            "实际值达到目标值得满分（权重）".to_string(),
        ),
        (
            weight_row,
            "权重（分）",
            format!("单项最高 = 权重 × {}", scheme.cap),
        ),
    ];
    for (row, label, note) in rows {
        s.merged(row, 0, 1, label, &fmt::label(), false)?;
        s.blank(row, total_col)?;
        s.wrapped(row, note_col, &note, &fmt::wrap())?;
    }
    for (k, x) in scheme.measures.iter().enumerate() {
        let col = 2 + k as u16;
        s.wrapped(basis_row, col, &measure_basis(ctx, &x.source), &fmt::wrap())?;
        s.number(target_row, col, Some(x.target), Num::General, Tone::Plain)?;
        s.number(weight_row, col, Some(x.weight), Num::General, Tone::Plain)?;
    }
    for (zi, z) in ctx.scores.iter().enumerate() {
        let row = actual_row(zi);
        s.text(row, 0, "实际值", &fmt::label())?;
        s.text(row, 1, ctx.short(&z.zone), &fmt::text())?;
        for (k, part) in z.parts.iter().enumerate() {
            let (num, _) = measure_num(ctx, &scheme.measures[k].source);
            s.number(row, 2 + k as u16, part.actual, num, Tone::Plain)?;
        }
        s.blank(row, total_col)?;
        let flagged = z.flagged();
        let note = if flagged.is_empty() {
            "本期报表数".to_string()
        } else {
            format!("缺少数据：{}", flagged.join("、"))
        };
        s.wrapped(row, note_col, &note, &fmt::wrap())?;
    }

    s.finish(
        &ctx.page_header(),
        Setup {
            freeze_row: head1 + 1,
            freeze_col: 2,
            repeat: Some((head1, head1)),
            repeat_cols: None,
            one_page: false,
        },
    )
}
