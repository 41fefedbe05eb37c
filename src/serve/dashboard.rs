//! The office's dashboard (`/dashboard`): a period's completeness, its
//! targets by status (from the portal's latest consolidation), the main
//! indicators over the months of the year and the Decembers of the plan, and
//! the history of every period. Charts are SVG drawn here, inline in the
//! page: no script, no external asset (the intranet has no internet), and
//! only presentation attributes, which the portal's CSP allows.

use std::fmt::Write as _;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use crate::catalog::Kind;
use crate::error::Error;
use crate::model::Period;
use crate::serve::App;
use crate::serve::grid::grid;
use crate::serve::office::{self, office_only, tally};
use crate::serve::session::{Caller, Who};
use crate::serve::view::{Page, bare, esc, failure, page, require};
use crate::validate::Val;

/// How many indicators the dashboard charts: the catalogue's first flows.
const MAIN_INDICATORS: usize = 3;

#[derive(Deserialize)]
pub struct DashboardQuery {
    period: Option<String>,
}

pub async fn dashboard(who: Who, Query(q): Query<DashboardQuery>) -> Page {
    let c = require(&who)?;
    // Only the office's: the attempt of another is audited and refused.
    if office_only(&who.app, &c, "dashboard", "").is_err() {
        return Ok(bare(StatusCode::FORBIDDEN, "只有统计科可以查看", &c));
    }
    let (app, c2) = (who.app.clone(), c.clone());
    let built = tokio::task::spawn_blocking(move || body(&app, &c2, q.period.as_deref())).await;
    match built {
        Ok(Ok(body)) => Ok(page("统计科看板", Some(&c), &body).into_response()),
        Ok(Err(e)) => Err(failure(e)),
        Err(_) => Err(failure(Error::Serve("看板生成中断".into()))),
    }
}

fn body(app: &App, c: &Caller, asked: Option<&str>) -> Result<String, Error> {
    let periods = app.db.periods()?;
    let period: Option<Period> = asked
        .and_then(|p| p.parse().ok())
        .or_else(|| periods.first().and_then(|p| p.period.parse().ok()));
    let mut out = String::new();
    let Some(period) = period else {
        out.push_str(r#"<p class="notice">还没有开放任何一期。</p><p><a href="/">返回</a></p>"#);
        return Ok(out);
    };
    let _ = write!(
        out,
        r#"<p>期别 <strong>{period}</strong>（{}）　<a href="/?period={period}">报送情况</a></p>"#,
        esc(&period.label())
    );

    // Completeness.
    let g = grid(app, c, period)?;
    let mut counts = tally(g.cells.iter().map(|cell| cell.label().0));
    let order = ["已审核", "已报送（待审核）", "已退回", "有错误", "未报送"];
    counts.sort_by_key(|(l, _)| order.iter().position(|o| o == l).unwrap_or(order.len()));
    let done = counts
        .iter()
        .filter(|(l, _)| matches!(*l, "已审核" | "已报送（待审核）"))
        .map(|(_, n)| n)
        .sum::<usize>();
    let _ = write!(
        out,
        r#"<h2>报送完整性</h2><p>{} 张报表中已报送 {done} 张。</p>"#,
        g.cells.len()
    );
    out.push_str(&bars(
        "completeness",
        &counts
            .iter()
            .map(|(l, n)| (l.to_string(), *n as f64))
            .collect::<Vec<_>>(),
        "张",
    ));

    // Targets by status.
    out.push_str("<h2>目标完成情况</h2>");
    let summary = app
        .db
        .consolidation(&period.to_string())?
        .and_then(|row| office::summary_of(app, &row));
    match &summary {
        Some(s) => {
            let by: Vec<(String, f64)> = office::target_statuses(s)
                .into_iter()
                .map(|(st, n)| (st, n as f64))
                .collect();
            out.push_str(&bars("targets", &by, "项"));
        }
        None => out.push_str(
            r#"<p class="small">这一期还没有在门户中汇总（在报送情况页面点“汇总”）。</p>"#,
        ),
    }

    // The main indicators over the months and the Decembers.
    let main: Vec<(String, String, String)> = app
        .cat
        .indicators()
        .filter(|(_, i)| i.kind == Kind::Flow)
        .take(MAIN_INDICATORS)
        .map(|(_, i)| (i.code.clone(), i.name.clone(), i.unit.clone()))
        .collect();
    let city_values = |p: Period| -> Result<Vec<Option<f64>>, Error> {
        let read = crate::aggregate::read_period(&app.config.data, p, &app.cat, false)?;
        Ok(main
            .iter()
            .map(
                |(code, _, _)| match read.figures.city.indicator(code)?.current {
                    Some(Val::Number(n)) => Some(n),
                    _ => None,
                },
            )
            .collect())
    };
    let in_archive = |p: &Period| app.config.data.join(p.to_string()).is_dir();
    let by_month = (1..=period.month)
        .filter_map(|m| Period::new(period.year, m))
        .filter(in_archive)
        .map(|p| Ok((format!("{}月", p.month), city_values(p)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    let by_year = (app.cat.plan.start.year..=period.year)
        .filter_map(|y| Period::new(y, 12))
        .filter(in_archive)
        .map(|p| Ok((format!("{}年", p.year), city_values(p)?)))
        .collect::<Result<Vec<_>, Error>>()?;
    out.push_str("<h2>主要指标（全市合计）</h2>");
    for (k, (_, name, unit)) in main.iter().enumerate() {
        let _ = write!(out, "<h3>{}（{}）</h3>", esc(name), esc(unit));
        let series = |rows: &[(String, Vec<Option<f64>>)]| -> Vec<(String, f64)> {
            rows.iter()
                .filter_map(|(l, v)| v[k].map(|x| (l.clone(), x)))
                .collect()
        };
        let _ = write!(
            out,
            r#"<div class="charts"><figure><figcaption>{} 年各月累计</figcaption>{}</figure><figure><figcaption>规划各年</figcaption>{}</figure></div>"#,
            period.year,
            bars(&format!("month-{k}"), &series(&by_month), unit),
            bars(&format!("year-{k}"), &series(&by_year), unit)
        );
    }

    // Every period's history.
    out.push_str(r#"<h2>各期历史</h2><table class="findings" id="history"><thead><tr><th scope="col">期别</th><th scope="col">截止日期</th><th scope="col">状态</th><th scope="col">门户汇总</th></tr></thead><tbody>"#);
    for p in &periods {
        let run = app.db.consolidation(&p.period)?;
        let _ = write!(
            out,
            r#"<tr><td><a href="/dashboard?period={0}">{0}</a></td><td>{1}</td><td>{2}</td><td>{3}</td></tr>"#,
            esc(&p.period),
            esc(&p.deadline),
            if p.open { "报送中" } else { "已截止" },
            match run {
                Some(r) => format!(
                    r#"{}，{} <a href="/api/v1/consolidations/{}/workbook">下载</a>"#,
                    esc(&crate::serve::view::local_time(r.at)),
                    if r.gaps {
                        "数据不完整"
                    } else {
                        "数据完整"
                    },
                    esc(&p.period)
                ),
                None => "—".into(),
            }
        );
    }
    out.push_str("</tbody></table>");
    Ok(out)
}

/// A horizontal bar chart as inline SVG: one bar a row, the value written
/// beside it. Nothing to draw gives a short note.
pub fn bars(id: &str, rows: &[(String, f64)], unit: &str) -> String {
    if rows.is_empty() {
        return r#"<p class="small">没有数据。</p>"#.into();
    }
    let (label_w, bar_w, row_h) = (150.0, 360.0, 26.0);
    let max = rows
        .iter()
        .map(|(_, v)| v.abs())
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let height = row_h * rows.len() as f64 + 8.0;
    let width = label_w + bar_w + 140.0;
    let mut svg = format!(
        r#"<svg id="chart-{}" class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">"#,
        esc(id)
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 4.0 + row_h * i as f64;
        let w = (value.abs() / max * bar_w).max(1.0);
        let _ = write!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="13" fill="#333">{}</text><rect x="{label_w}" y="{}" width="{w:.1}" height="{}" fill="#1f4e79"><title>{} {} {}</title></rect><text x="{}" y="{}" font-size="13" fill="#333">{} {}</text>"##,
            label_w - 8.0,
            y + 17.0,
            esc(label),
            y + 4.0,
            row_h - 8.0,
            esc(label),
            number(*value),
            esc(unit),
            label_w + w + 6.0,
            y + 17.0,
            number(*value),
            esc(unit)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A value as people read it: whole numbers without decimals, others with two.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
