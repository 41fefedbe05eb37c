//! 封面: what the workbook is (title, period, plan), when and by what it was
//! made, whether the data are complete (a red line when not, naming each zone
//! missing or rejected and why), the targets by status, and the sources.

use std::collections::HashMap;

use rust_xlsxwriter::Worksheet;

use super::layout::{ALARM_PT, Num, Res, Setup, Sheet, Tone, fmt, item_lines};
use super::{COMPARE, COVER, Ctx, FINDINGS, SOURCES, TARGETS};
use crate::aggregate::{FormState, Source};
use crate::assess::Status;
use crate::model::{Finding, Severity};

const LAST: u16 = 5;

/// A reporting unit on the cover: name, forms and their state, forms used, zone code.
type Unit = (
    String,
    Vec<(String, FormState)>,
    Vec<Source>,
    Option<String>,
);

fn state_tone(s: FormState) -> Tone {
    match s {
        FormState::Accepted => Tone::Good,
        FormState::Rejected => Tone::Bad,
        FormState::Missing => Tone::Grey,
    }
}

/// What is missing or wrong, one item a line; empty when the run is whole.
pub(crate) fn gaps(ctx: &Ctx) -> Vec<String> {
    let c = ctx.c;
    let mut out = Vec::new();
    for z in &c.figures.zones {
        if let Some(why) = crate::score::exclusion_reason(&c.figures, &c.findings, &z.code) {
            out.push(format!("{}：{why}", ctx.short(&z.code)));
        }
    }
    for (form, st) in &c.figures.city.forms {
        if *st != FormState::Accepted {
            out.push(format!("{}：{form}{}", ctx.cat.city.reporter, st.label()));
        }
    }
    let unreadable: Vec<&str> = c
        .files
        .iter()
        .filter(|f| f.status == "unreadable")
        .map(|f| f.file.as_str())
        .collect();
    if !unreadable.is_empty() {
        out.push(format!("无法读取的文件：{}", unreadable.join("、")));
    }
    let missing: Vec<&str> = c
        .targets
        .iter()
        .filter(|t| t.zone.is_none() && t.status == Status::DataMissing)
        .map(|t| t.id.as_str())
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "数据缺失的目标 {} 项：{}",
            missing.len(),
            missing.join("、")
        ));
    }
    let errors = c.findings.iter().filter(|f| f.is_error()).count();
    if errors > 0 && out.is_empty() {
        out.push(format!("数据错误 {errors} 条"));
    }
    out
}

pub(super) fn sheet(ctx: &Ctx) -> Res<Worksheet> {
    let c = ctx.c;
    let cat = ctx.cat;
    let h = ctx.columns();
    let mut s = Sheet::new(COVER)?;
    s.fix_all(&[
        (0, 38.0),
        (1, 14.0),
        (2, 11.0),
        (3, 11.0),
        (4, 13.0),
        (5, 36.0),
    ]);
    let big = fmt::title().set_font_size(20);
    s.ws.merge_range(0, 0, 0, LAST, &cat.plan.report_title, &big)?;
    s.ws.set_row_height(0, 40)?;
    s.ws.merge_range(1, 0, 1, LAST, &ctx.label(), &fmt::title())?;
    s.ws.set_row_height(1, 30)?;

    let mut row = 3;
    let n = cat.zones.len();
    let accepted = ctx.accepted();
    let kind = if c.annual {
        "年度考核：月报表和年报表，考核全部目标".to_string()
    } else {
        "月度考核：只考核月报表能够计算的目标".to_string()
    };
    let gaps = gaps(ctx);
    let whole = gaps.is_empty() && !c.has_gaps();
    let completeness = if whole {
        format!(
            "完整：{accepted}/{n} 个开发区的报表均已采用，{}的对比基数表已采用。",
            cat.city.reporter
        )
    } else {
        format!("不完整：{accepted}/{n} 个开发区的报表已采用。")
    };
    let office = (!cat.report.office.is_empty()).then(|| ("编制单位", cat.report.office.clone()));
    let kv = [
        (
            "考核期",
            format!("{}（期别 {}；{kind}）", ctx.label(), c.period),
        ),
        (
            "考核依据",
            format!("{}《{}》", cat.plan.document, cat.plan.name),
        ),
        (
            "计划期",
            format!(
                "{}年{}月至{}年{}月",
                cat.plan.start.year, cat.plan.start.month, cat.plan.end.year, cat.plan.end.month
            ),
        ),
        ("生成时间", ctx.made_at.label()),
        ("数据完整性", completeness),
    ];
    let paging = (!ctx.zone_sheets()).then(|| {
        let max = ctx.cat.report.zone_sheets_max;
        (
            "各开发区分页",
            format!(
                "开发区共 {n} 个（超过 {max} 个），不逐区分页：各区数值见“{COMPARE}”表，分区目标见“{TARGETS}”表，各区问题见“{FINDINGS}”表。"
            ),
        )
    });
    for (k, v) in office.into_iter().chain(kv).chain(paging) {
        s.text(row, 0, k, &fmt::label())?;
        s.merged(row, 1, LAST, &v, &fmt::wrap(), true)?;
        row += 1;
    }
    row += 1;
    if whole {
        s.merged_sized(
            row,
            0,
            LAST,
            "数据完整：各开发区和市统计局本期应报的报表均已收到并通过检查。",
            &fmt::fine(),
            ALARM_PT,
        )?;
    } else {
        let text = format!(
            "数据不完整，考核结果仅供参考，不能作为正式考核结果。\n{}\n全市合计只含已采用报表的开发区；缺少数据的目标显示为“数据缺失”。",
            gaps.iter()
                .map(|g| format!("· {g}"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        s.merged_sized(row, 0, LAST, &text, &fmt::alarm(), ALARM_PT)?;
    }
    row += 2;

    // 一、报表采用情况
    s.merged(row, 0, LAST, "一、报表采用情况", &fmt::section(), false)?;
    row += 1;
    s.headers(row, 0, &[&h.reporter, &h.form, &h.status])?;
    s.ws.merge_range(row, 3, row, LAST, &h.note, &fmt::header())?;
    row += 1;
    let mut units: Vec<Unit> = c
        .figures
        .zones
        .iter()
        .map(|z| {
            (
                ctx.short(&z.code).to_string(),
                z.forms.clone(),
                z.sources.clone(),
                Some(z.code.clone()),
            )
        })
        .collect();
    units.push((
        cat.city.reporter.clone(),
        c.figures.city.forms.clone(),
        c.figures.city.sources.clone(),
        None,
    ));
    // Each unit's errors by form, gathered once (a run may have thousands).
    let mut errors_of: HashMap<(Option<&str>, &str), Vec<&Finding>> = HashMap::new();
    for f in c.findings.iter().filter(|f| f.is_error()) {
        if let Some(form) = f.form.as_deref() {
            errors_of
                .entry((f.zone.as_deref(), form))
                .or_default()
                .push(f);
        }
    }
    for (name, forms, sources, zone) in units {
        let first = row;
        for (form, st) in &forms {
            s.text(row, 1, form, &fmt::text())?;
            s.text(
                row,
                2,
                st.label(),
                &fmt::toned(fmt::center(), state_tone(*st)),
            )?;
            let errors = errors_of
                .get(&(zone.as_deref(), form.as_str()))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let why = match st {
                FormState::Accepted => sources
                    .iter()
                    .find(|x| &x.form == form)
                    .map(|x| format!("{}（工作表 {}）", x.file, x.sheet))
                    .unwrap_or_default(),
                FormState::Missing => "未收到本期报表".to_string(),
                FormState::Rejected => match errors.first() {
                    Some(e) => format!("{} 处错误，如：{}", errors.len(), e.message),
                    None => "有错误".to_string(),
                },
            };
            s.merged(row, 3, LAST, &why, &fmt::wrap(), true)?;
            row += 1;
        }
        if row > first {
            s.merged_down(first, row - 1, 0, &name, &fmt::text())?;
        }
    }
    row += 1;

    // 二、目标考核结果
    s.merged(row, 0, LAST, "二、目标考核结果", &fmt::section(), false)?;
    row += 1;
    s.headers(row, 0, &[&h.status, &h.target_count])?;
    s.ws.merge_range(row, 2, row, LAST, &h.target_ids, &fmt::header())?;
    row += 1;
    let city_rows: Vec<_> = c.targets.iter().filter(|t| t.zone.is_none()).collect();
    for st in Status::ALL {
        let ids: Vec<&str> = city_rows
            .iter()
            .filter(|t| t.status == st)
            .map(|t| t.id.as_str())
            .collect();
        s.text(row, 0, st.label(), &fmt::status(st))?;
        s.number(row, 1, Some(ids.len() as f64), Num::Count, Tone::Plain)?;
        // Broken between codes only, never inside one (`T20、T` / `22`).
        let width = 11.0 + 11.0 + 13.0 + 36.0;
        s.merged(
            row,
            2,
            LAST,
            &item_lines(&ids, "、", width),
            &fmt::wrap(),
            true,
        )?;
        row += 1;
    }
    s.text(row, 0, "合计", &fmt::label())?;
    s.number(
        row,
        1,
        Some(city_rows.len() as f64),
        Num::Count,
        Tone::Plain,
    )?;
    let scope = if c.annual {
        "年度考核全部目标"
    } else {
        "本期考核的月度目标"
    };
    s.merged(
        row,
        2,
        LAST,
        &format!("{scope}；各开发区分别考核的目标按全市行（达标个数）计，详见“目标考核”表"),
        &fmt::wrap(),
        true,
    )?;
    row += 2;

    // 三、数据问题
    s.merged(row, 0, LAST, "三、数据问题", &fmt::section(), false)?;
    row += 1;
    let count = |sev: Severity| c.findings.iter().filter(|f| f.severity == sev).count();
    let problems = format!(
        "错误 {} 条，警告 {} 条，提示 {} 条。详见“{FINDINGS}”表；所用文件及其 SHA-256 校验值见“{SOURCES}”表。",
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    let tone = if count(Severity::Error) > 0 {
        Tone::Bad
    } else {
        Tone::Plain
    };
    s.merged(
        row,
        0,
        LAST,
        &problems,
        &fmt::toned(fmt::text(), tone),
        false,
    )?;
    row += 2;

    // The signature block: the office signs the printed cover.
    if !cat.report.signature.is_empty() {
        row += 1;
        let line = cat
            .report
            .signature
            .iter()
            .map(|label| {
                if label.contains("日期") {
                    format!("{label}：　　　　年　　月　　日")
                } else {
                    format!("{label}：　　　　　　　　")
                }
            })
            .collect::<Vec<_>>()
            .join("　　");
        s.merged(row, 0, LAST, &line, &fmt::signature(), true)?;
        s.lines(row, 2);
    }

    s.finish(
        &ctx.page_header(),
        Setup {
            // One page for the office to sign; a province's hundreds of
            // zones would shrink to nothing, so they print at full size.
            one_page: ctx.zone_sheets(),
            ..Setup::default()
        },
    )
}
