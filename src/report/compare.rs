//! 分区对比: the zones side by side under one header row — values, prior
//! values, growth, ratios, ranks and the each-zone targets — with the city
//! column as formulas over the zone cells (their results stored).

use std::collections::BTreeMap;

use rust_xlsxwriter::Worksheet;

use super::layout::{Num, Res, Setup, Sheet, Tone, a1, fmt, ratio_terms};
use super::{COMPARE, Ctx};
use crate::aggregate::{Figures, IndicatorFigure};
use crate::assess::Status;
use crate::catalog::{Kind, RatioScope, TargetKind, TargetScope};
use crate::model::Cell;
use crate::validate::Val;

const FIRST_ZONE_COL: u16 = 3;

/// Where the city figures stand on 分区对比, for formulas on other sheets.
#[derive(Debug, Default)]
pub(crate) struct Places {
    pub current: BTreeMap<String, u32>,
    pub prior: BTreeMap<String, u32>,
    pub cumulative: BTreeMap<String, u32>,
    /// Rows of the growth of each flow indicator.
    pub growth: BTreeMap<String, u32>,
    /// The row of zone names (chart categories).
    pub header_row: u32,
    pub first_zone_col: u16,
    pub city_col: u16,
}

impl Places {
    /// `'分区对比'!I5`, the city cell of a row.
    pub fn city_ref(&self, row: u32) -> String {
        format!("'{}'!{}", COMPARE, Cell::new(row, self.city_col as u32))
    }
}

/// The measures the zones are ranked on: the city growth targets' indicators.
pub(crate) fn growth_measures(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in &ctx.cat.targets {
        if t.kind == TargetKind::Growth && !out.contains(&t.measure) {
            out.push(t.measure.clone());
        }
    }
    out
}

/// Ranks (1 = highest; ties share) of the values that exist.
pub(crate) fn ranks(values: &[Option<f64>]) -> Vec<Option<u32>> {
    values
        .iter()
        .map(|v| v.map(|v| 1 + values.iter().flatten().filter(|&&o| o > v).count() as u32))
        .collect()
}

/// A row's values by column: each zone's (None: no figures), then the city's.
fn by_column(
    zone_figs: &[Option<&Figures>],
    city: &Figures,
    city_col: u16,
    pick: impl Fn(&Figures) -> Option<f64>,
) -> Vec<(u16, Option<f64>)> {
    let zones = (FIRST_ZONE_COL..).zip(zone_figs.iter().map(|f| f.and_then(&pick)));
    zones.chain([(city_col, pick(city))]).collect()
}

pub(super) fn sheet(ctx: &Ctx) -> Res<(Worksheet, Places)> {
    let cat = ctx.cat;
    let h = ctx.columns();
    let zones = &cat.zones;
    let city_col = FIRST_ZONE_COL + zones.len() as u16;
    let mut s = Sheet::new(COMPARE)?;
    s.fix(1, 30.0);
    s.fix(2, 9.0);
    for c in FIRST_ZONE_COL..=city_col {
        s.fix(c, 11.0);
    }
    s.title(
        0,
        city_col,
        &format!("各开发区主要指标对比（{}）", ctx.label()),
    )?;
    let accepted = ctx.accepted();
    let subtitle = format!(
        "全市合计为已采用报表的开发区之和（{accepted}/{} 个开发区），以公式计算；比重由合计数计算，不是各开发区比重的平均。“—”表示无数据。",
        zones.len()
    );
    s.merged(1, 0, city_col, &subtitle, &fmt::note(), true)?;
    let header_row = 2;
    s.headers(header_row, 0, &[&h.code, &h.indicator, &h.unit])?;
    for (i, z) in zones.iter().enumerate() {
        s.header(header_row, FIRST_ZONE_COL + i as u16, &z.short)?;
    }
    s.header(header_row, city_col, &h.city_total)?;

    let mut places = Places {
        city_col,
        header_row,
        first_zone_col: FIRST_ZONE_COL,
        ..Places::default()
    };
    let mut row = header_row + 1;
    let indicators = ctx.zone_indicators();
    let zone_figs: Vec<Option<&Figures>> = zones
        .iter()
        .map(|z| ctx.zone(&z.code).map(|r| &r.figures))
        .collect();
    let city = &ctx.c.figures.city.figures;

    let section = |s: &mut Sheet, row: &mut u32, text: &str| -> Res<()> {
        s.merged(*row, 0, city_col, text, &fmt::section(), false)?;
        *row += 1;
        Ok(())
    };

    // Values: current, prior, cumulative.
    type Pick = fn(&IndicatorFigure) -> Option<Val>;
    let current_label = if ctx.c.annual {
        "本年"
    } else {
        "1-本月累计"
    };
    let mut blocks: Vec<(String, Pick, bool)> = vec![
        (
            format!("一、本期数（{}，{current_label}）", ctx.c.period.label()),
            |f| f.current,
            false,
        ),
        ("二、上年同期数".to_string(), |f| f.prior, false),
    ];
    if ctx.c.annual {
        blocks.push((
            format!("三、{}年以来累计数", cat.plan.start.year),
            |f| f.cumulative.map(Val::Number),
            true,
        ));
    }
    for (bi, (title, pick, cumulative_only)) in blocks.iter().enumerate() {
        section(&mut s, &mut row, title)?;
        for (_, ind) in &indicators {
            if *cumulative_only && ind.kind != Kind::NewInYear {
                continue;
            }
            s.row_labels(row, &ind.code, &ind.name, &ind.unit)?;
            let n = Num::of_unit(cat, &ind.unit);
            let mut any = false;
            for (i, figs) in zone_figs.iter().enumerate() {
                let v = figs
                    .and_then(|f| f.indicators.get(&ind.code))
                    .and_then(pick);
                let col = FIRST_ZONE_COL + i as u16;
                match v {
                    Some(Val::Bool(b)) => {
                        s.text(row, col, if b { "是" } else { "否" }, &fmt::center())?
                    }
                    Some(Val::Number(x)) => s.number(row, col, Some(x), n, Tone::Plain)?,
                    None => s.number(row, col, None, n, Tone::Plain)?,
                }
                any |= v.is_some();
            }
            let range = format!("{}:{}", a1(row, FIRST_ZONE_COL), a1(row, city_col - 1));
            if ind.kind == Kind::YesNo {
                let count = zone_figs
                    .iter()
                    .filter(|f| {
                        matches!(
                            f.and_then(|f| f.indicators.get(&ind.code)).and_then(pick),
                            Some(Val::Bool(true))
                        )
                    })
                    .count() as f64;
                if any {
                    let shown = format!("是 {count} 个");
                    s.formula_custom(
                        row,
                        city_col,
                        &format!("=COUNTIF({range},\"是\")"),
                        count,
                        "\"是 \"0\" 个\"",
                        &shown,
                    )?;
                } else {
                    s.number(row, city_col, None, n, Tone::Plain)?;
                }
            } else {
                let total = city
                    .indicators
                    .get(&ind.code)
                    .and_then(pick)
                    .and_then(Val::number);
                match total {
                    Some(t) if any => {
                        s.formula(row, city_col, &format!("=SUM({range})"), t, n, Tone::Plain)?
                    }
                    _ => s.number(row, city_col, None, n, Tone::Plain)?,
                }
            }
            let map = match bi {
                0 => &mut places.current,
                1 => &mut places.prior,
                _ => &mut places.cumulative,
            };
            map.insert(ind.code.clone(), row);
            row += 1;
        }
    }
    let mut n_section = blocks.len();
    let mut next_title = |t: &str| {
        n_section += 1;
        format!("{}、{t}", chinese_number(n_section))
    };

    // Growth, as formulas over the current and prior cells.
    section(&mut s, &mut row, &next_title("同比增长（%）"))?;
    for (_, ind) in indicators.iter().filter(|(_, i)| i.kind == Kind::Flow) {
        s.row_labels(row, &ind.code, &ind.name, "%")?;
        let (cur, prior) = (places.current[&ind.code], places.prior[&ind.code]);
        let cols = by_column(&zone_figs, city, city_col, |f| {
            f.indicators.get(&ind.code).and_then(|x| x.growth)
        });
        for (col, g) in cols {
            match g {
                Some(g) => s.formula(
                    row,
                    col,
                    &format!("=({}/{}-1)*100", a1(cur, col), a1(prior, col)),
                    g,
                    Num::Pct1,
                    Tone::Plain,
                )?,
                None => s.number(row, col, None, Num::Pct1, Tone::Plain)?,
            }
        }
        places.growth.insert(ind.code.clone(), row);
        row += 1;
    }

    // Ratios and their change, as formulas over the value cells.
    let ratios: Vec<_> = cat
        .ratios
        .iter()
        .filter(|r| r.scope == RatioScope::All)
        .collect();
    section(&mut s, &mut row, &next_title("比重（%）"))?;
    let mut ratio_rows = BTreeMap::new();
    for r in &ratios {
        s.row_labels(row, &r.id, &r.name, "%")?;
        let cols = by_column(&zone_figs, city, city_col, |f| {
            f.ratios.get(&r.id).and_then(|x| x.current)
        });
        for (col, v) in cols {
            match (v, ratio_terms(r, &places.current, col)) {
                (Some(v), Some((n, d))) => {
                    s.formula(row, col, &format!("={n}/{d}*100"), v, Num::Pct, Tone::Plain)?
                }
                (v, _) => s.number(row, col, v, Num::Pct, Tone::Plain)?,
            }
        }
        ratio_rows.insert(r.id.clone(), row);
        row += 1;
    }
    section(
        &mut s,
        &mut row,
        &next_title("比重比上年同期增减（百分点）"),
    )?;
    for r in &ratios {
        s.row_labels(row, &r.id, &r.name, "百分点")?;
        let cols = by_column(&zone_figs, city, city_col, |f| {
            f.ratios.get(&r.id).and_then(|x| x.change)
        });
        for (col, v) in cols {
            match (v, ratio_terms(r, &places.prior, col)) {
                (Some(v), Some((n, d))) => {
                    let f = format!("={}-{n}/{d}*100", a1(ratio_rows[&r.id], col));
                    s.formula(row, col, &f, v, Num::Pct, Tone::Plain)?
                }
                (v, _) => s.number(row, col, v, Num::Pct, Tone::Plain)?,
            }
        }
        row += 1;
    }

    // Ranks among the zones (1 = highest).
    section(
        &mut s,
        &mut row,
        &next_title("各开发区排名（1 为最高，并列同名次）"),
    )?;
    let mut rank_rows: Vec<(String, String, Vec<Option<f64>>)> = Vec::new();
    for code in growth_measures(ctx) {
        let Some((_, ind)) = cat.indicator(&code) else {
            continue;
        };
        let values = zone_figs
            .iter()
            .map(|f| {
                f.and_then(|f| f.indicators.get(&code))
                    .and_then(|x| x.growth)
            })
            .collect();
        rank_rows.push((code.clone(), format!("{}增速", ind.short_name()), values));
    }
    for r in &ratios {
        let values = zone_figs
            .iter()
            .map(|f| f.and_then(|f| f.ratios.get(&r.id)).and_then(|x| x.current))
            .collect();
        rank_rows.push((r.id.clone(), r.name.clone(), values));
    }
    for (code, name, values) in rank_rows {
        s.row_labels(row, &code, &name, &h.rank_unit)?;
        for (i, r) in ranks(&values).into_iter().enumerate() {
            let tone = if r == Some(1) {
                Tone::Good
            } else {
                Tone::Plain
            };
            s.number(
                row,
                FIRST_ZONE_COL + i as u16,
                r.map(f64::from),
                Num::Count,
                tone,
            )?;
        }
        s.blank(row, city_col)?;
        row += 1;
    }

    // The each-zone targets side by side.
    let each: Vec<_> = cat
        .targets
        .iter()
        .filter(|t| t.scope == TargetScope::EachZone)
        .collect();
    let assessed: Vec<_> = each
        .iter()
        .filter(|t| ctx.c.targets.iter().any(|r| r.id == t.id))
        .collect();
    if !assessed.is_empty() {
        section(
            &mut s,
            &mut row,
            &next_title("各开发区目标（实际值；绿色达标，红色未达标，全市列为达标个数）"),
        )?;
        for t in assessed {
            s.text(row, 0, &t.id, &fmt::center())?;
            s.wrapped(row, 1, &t.text, &fmt::wrap())?;
            s.wrapped(
                row,
                2,
                &format!("{}{}", t.value, t.unit),
                &fmt::wrap().set_align(rust_xlsxwriter::FormatAlign::Center),
            )?;
            let n = Num::of_unit(cat, &t.unit);
            for (i, z) in zones.iter().enumerate() {
                let col = FIRST_ZONE_COL + i as u16;
                match ctx.target_row(&t.id, Some(&z.code)) {
                    Some(r) => s.number(row, col, r.actual, n, Tone::of(r.status))?,
                    None => s.number(row, col, None, n, Tone::Plain)?,
                }
            }
            match ctx.target_row(&t.id, None) {
                Some(r) => {
                    let met = r
                        .actual
                        .map_or(String::from("—"), |a| format!("{a:.0}/{}", zones.len()));
                    let shown = if r.status == Status::DataMissing {
                        format!("{met}（数据缺失）")
                    } else {
                        met
                    };
                    s.text(
                        row,
                        city_col,
                        &shown,
                        &fmt::toned(fmt::center(), Tone::of(r.status)),
                    )?
                }
                None => s.blank(row, city_col)?,
            }
            row += 1;
        }
    }

    let ws = s.finish(
        &ctx.page_header(),
        Setup {
            freeze_row: header_row + 1,
            freeze_col: 2,
            repeat: Some((header_row, header_row)),
            // Many zones: print across pages, the labels on each.
            repeat_cols: (!ctx.zone_sheets()).then_some((0, 2)),
            one_page: false,
        },
    )?;
    Ok((ws, places))
}

/// 1 → 一 … 10 → 十 (section numbers).
pub(crate) fn chinese_number(n: usize) -> String {
    const D: [&str; 11] = [
        "〇", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    ];
    match n {
        0..=10 => D[n].to_string(),
        11..=19 => format!("十{}", D[n - 10]),
        _ => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank() {
        let r = ranks(&[Some(5.0), None, Some(7.0), Some(5.0), Some(1.0)]);
        assert_eq!(r, [Some(2), None, Some(1), Some(2), Some(4)]);
    }

    #[test]
    fn section_numbers() {
        assert_eq!(chinese_number(3), "三");
        assert_eq!(chinese_number(12), "十二");
    }
}
