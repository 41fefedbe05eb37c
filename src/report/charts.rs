//! 图表: the charts, one a printed page — the zones' growth on the catalogue's
//! `report.chart_growth` (by default the first growth target's measure) (column chart, data on 分区对比), completion against
//! schedule of the totals and cumulative targets (clustered bar chart), and in
//! annual runs each year's growth behind the average-growth targets (line
//! chart). Charts are spreadsheet charts over cells, not pictures.

use rust_xlsxwriter::{
    Chart, ChartAxisCrossing, ChartDataLabel, ChartFormat, ChartLegendPosition, ChartLine,
    ChartMarker, ChartMarkerType, ChartSolidFill, ChartType, Worksheet,
};

use super::compare::{Places, growth_measures};
use super::layout::{Num, Res, Setup, Sheet, Tone, fmt};
use super::targets::has_completion;
use super::{CHARTS, COMPARE, Ctx};
use crate::assess::TargetRow;
use crate::catalog::{Catalogue, Target, TargetScope};

const LAST: u16 = 7;
/// Chart size in pixels: a landscape A4 page across.
const WIDTH: u32 = 940;
const BLUE: u32 = 0x4472C4;
const GREY: u32 = 0xA5A5A5;

fn blocks_title(s: &mut Sheet, row: u32, text: &str) -> Res<()> {
    s.merged(row, 0, LAST, text, &fmt::section(), false)
}

/// The city rows of the targets, with their targets.
fn city_rows<'a>(ctx: &Ctx<'a>) -> impl Iterator<Item = (&'a Target, &'a TargetRow)> {
    let cat = ctx.cat;
    ctx.c
        .targets
        .iter()
        .filter(|r| r.zone.is_none())
        .filter_map(move |r| cat.targets.iter().find(|t| t.id == r.id).map(|t| (t, r)))
}

/// A target by its indicator's short name; by its text when it has none.
fn target_name<'a>(cat: &'a Catalogue, t: &'a Target) -> &'a str {
    cat.indicator(&t.measure)
        .map_or(t.text.as_str(), |(_, i)| i.short_name())
}

pub(super) fn sheet(ctx: &Ctx, places: &Places) -> Res<Worksheet> {
    let cat = ctx.cat;
    let c = ctx.c;
    let h = ctx.columns();
    let mut s = Sheet::new(CHARTS)?;
    s.fix(0, 7.0);
    s.fix(1, 44.0);
    for col in 2..=LAST {
        s.fix(col, 12.0);
    }
    s.title(0, LAST, &format!("图表（{}）", ctx.label()))?;
    let mut row = 2;
    let mut section = 0;
    let mut next = |t: &str| {
        section += 1;
        format!("{}、{t}", super::compare::chinese_number(section))
    };

    // The zones' growth on the catalogue's chart indicator, or the first
    // growth target's.
    let chosen = &cat.report.chart_growth;
    let first = growth_measures(ctx)
        .into_iter()
        .find(|m| chosen.is_empty() || m == chosen);
    if let Some((code, grow_row)) =
        first.and_then(|code| places.growth.get(&code).map(|r| (code, *r)))
    {
        let name = cat
            .indicator(&code)
            .map_or(code.as_str(), |(_, i)| i.short_name());
        blocks_title(
            &mut s,
            row,
            &next(&format!("各开发区{name}增速（%，数据见“{COMPARE}”表）")),
        )?;
        row += 1;
        let mut chart = Chart::new(ChartType::Column);
        chart.title().set_name(&format!("各开发区{name}增速（%）"));
        let series = chart
            .add_series()
            .set_name(&format!("{name}增速"))
            .set_categories((
                COMPARE,
                places.header_row,
                places.first_zone_col,
                places.header_row,
                places.city_col,
            ))
            .set_values((
                COMPARE,
                grow_row,
                places.first_zone_col,
                grow_row,
                places.city_col,
            ))
            .set_format(ChartFormat::new().set_solid_fill(ChartSolidFill::new().set_color(BLUE)));
        // A label on each of hundreds of columns would be a black smear.
        if ctx.zone_sheets() {
            series.set_data_label(ChartDataLabel::new().show_value().set_num_format("0.00"));
        }
        chart.legend().set_hidden();
        chart.y_axis().set_num_format("0.0");
        chart.set_width(WIDTH).set_height(400);
        chart.set_alt_text(format!("各开发区{name}增速柱形图"));
        s.ws.insert_chart(row, 0, &chart)?;
        row += 22;
    }

    // Completion against schedule.
    let done: Vec<(&Target, &TargetRow)> = city_rows(ctx)
        .filter(|(t, _)| has_completion(t) && t.scope == TargetScope::City)
        .collect();
    if !done.is_empty() {
        s.page_break(row);
        blocks_title(&mut s, row, &next("总量和累计目标：完成率与时间进度（%）"))?;
        row += 1;
        let head = row;
        s.headers(row, 0, &[&h.id, &h.target, &h.completion, &h.schedule])?;
        row += 1;
        let first = row;
        for (t, r) in &done {
            s.text(row, 0, &t.id, &fmt::center())?;
            let name = target_name(cat, t);
            s.text(row, 1, &format!("{} {}", t.id, name), &fmt::text())?;
            s.number(row, 2, r.completion, Num::Pct1, Tone::Plain)?;
            s.number(row, 3, r.schedule, Num::Pct1, Tone::Plain)?;
            row += 1;
        }
        let last = row - 1;
        row += 1;
        let mut chart = Chart::new(ChartType::Bar);
        chart.title().set_name("完成率与时间进度（%）");
        for (col, color) in [(2u16, BLUE), (3, GREY)] {
            let series = chart
                .add_series()
                .set_name((CHARTS, head, col))
                .set_categories((CHARTS, first, 1, last, 1))
                .set_values((CHARTS, first, col, last, col))
                .set_format(
                    ChartFormat::new().set_solid_fill(ChartSolidFill::new().set_color(color)),
                );
            if col == 2 {
                series.set_data_label(ChartDataLabel::new().show_value().set_num_format("0.0"));
            }
        }
        // Categories top down, the value axis at the bottom.
        chart
            .y_axis()
            .set_reverse()
            .set_crossing(ChartAxisCrossing::Max);
        chart.x_axis().set_num_format("0").set_min(0);
        chart.legend().set_position(ChartLegendPosition::Bottom);
        let height = (120 + 30 * done.len() as u32).clamp(280, 390);
        chart.set_width(WIDTH).set_height(height);
        chart.set_alt_text("总量和累计目标的完成率与时间进度条形图");
        s.ws.insert_chart(row, 0, &chart)?;
        row += height / 20 + 2;
    }

    // Each year's growth behind the average-growth targets.
    let growth: Vec<(&Target, &TargetRow)> = city_rows(ctx)
        .filter(|(_, r)| !r.yearly.is_empty())
        .collect();
    if c.annual && !growth.is_empty() {
        s.page_break(row);
        blocks_title(&mut s, row, &next("年均增长目标：各年增长（%）"))?;
        row += 1;
        let head = row;
        let years: Vec<i32> = growth[0].1.yearly.iter().map(|(y, _)| *y).collect();
        s.headers(row, 0, &[&h.id, &h.indicator])?;
        for (k, y) in years.iter().enumerate() {
            s.header(row, 2 + k as u16, &format!("{y}年"))?;
        }
        let avg_col = 2 + years.len() as u16;
        s.headers(row, avg_col, &[&h.average_growth, &h.target])?;
        row += 1;
        let first = row;
        for (t, r) in &growth {
            s.text(row, 0, &t.id, &fmt::center())?;
            s.text(row, 1, target_name(cat, t), &fmt::text())?;
            for (k, y) in years.iter().enumerate() {
                let g = r
                    .yearly
                    .iter()
                    .find(|(yy, _)| yy == y)
                    .and_then(|(_, g)| *g);
                s.number(row, 2 + k as u16, g, Num::Pct1, Tone::Plain)?;
            }
            s.number(row, avg_col, r.actual, Num::Pct1, Tone::of(r.status))?;
            s.number(row, avg_col + 1, Some(t.value), Num::General, Tone::Plain)?;
            row += 1;
        }
        let last = row - 1;
        row += 1;
        let mut chart = Chart::new(ChartType::Line);
        chart.title().set_name(&format!(
            "各年增长（%，{}—{}年）",
            years[0],
            years[years.len() - 1]
        ));
        let colors = [BLUE, 0xED7D31, 0x70AD47, 0x7030A0, 0xC00000];
        for (k, r) in (first..=last).enumerate() {
            let color = colors[k % colors.len()];
            chart
                .add_series()
                .set_name((CHARTS, r, 1))
                .set_categories((CHARTS, head, 2, head, avg_col - 1))
                .set_values((CHARTS, r, 2, r, avg_col - 1))
                .set_format(
                    ChartFormat::new().set_line(ChartLine::new().set_color(color).set_width(2.25)),
                )
                .set_marker(
                    ChartMarker::new()
                        .set_type(ChartMarkerType::Circle)
                        .set_size(7)
                        .set_format(
                            ChartFormat::new()
                                .set_solid_fill(ChartSolidFill::new().set_color(color)),
                        ),
                );
        }
        chart.y_axis().set_num_format("0.0");
        chart.legend().set_position(ChartLegendPosition::Bottom);
        chart.set_width(WIDTH).set_height(380);
        chart.set_alt_text("年均增长目标各年增长折线图");
        s.ws.insert_chart(row, 0, &chart)?;
    }

    s.finish(
        &ctx.page_header(),
        Setup {
            // The title on every page: each chart has its own heading.
            repeat: Some((0, 0)),
            ..Setup::default()
        },
    )
}
