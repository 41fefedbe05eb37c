//! 数据问题: every finding of the run, one a row, where it is and what it
//! says; or a line saying there are none.

use std::borrow::BorrowMut;

use rust_xlsxwriter::{Workbook, Worksheet};

use super::layout::{Num, Res, Setup, Sheet, Tone, fmt};
use super::{Ctx, FINDINGS};
use crate::model::{Severity, rule_text};

const LAST: u16 = 8;
/// The rule id, for whoever looks a finding up in the JSON: narrow and small.
const RULE: u16 = 9;

/// Adds the sheet to the workbook, the last one. A run may have thousands of
/// findings, so the sheet is written in constant-memory mode, row by row to a
/// temporary file; when no temporary file can be made, in memory.
pub(super) fn add(ctx: &Ctx, wb: &mut Workbook) -> Res<()> {
    match wb.add_worksheet_with_low_memory() {
        Ok(ws) => {
            let mut s = Sheet::streamed(ws, FINDINGS)?;
            write(ctx, &mut s)?;
            finish(ctx, s)?;
        }
        Err(_) => {
            let mut s = Sheet::new(FINDINGS)?;
            write(ctx, &mut s)?;
            wb.push_worksheet(finish(ctx, s)?);
        }
    }
    Ok(())
}

fn finish<W: BorrowMut<Worksheet>>(ctx: &Ctx, s: Sheet<W>) -> Res<W> {
    let head = HEAD;
    s.finish(
        &ctx.page_header(),
        Setup {
            freeze_row: head + 1,
            freeze_col: 0,
            repeat: Some((head, head)),
            repeat_cols: None,
            one_page: false,
        },
    )
}

/// The header row.
const HEAD: u32 = 2;

/// Writes the rows, top to bottom (as a streamed sheet requires).
fn write<W: BorrowMut<Worksheet>>(ctx: &Ctx, s: &mut Sheet<W>) -> Res<()> {
    let findings = &ctx.c.findings;
    let h = ctx.columns();
    s.fix(3, 30.0);
    s.fix(7, 20.0);
    s.fix(2, 16.0);
    s.fix(LAST, 52.0);
    s.fix(RULE, 12.0);
    s.title(0, RULE, &format!("数据问题（{}）", ctx.label()))?;
    let count = |sev: Severity| findings.iter().filter(|f| f.severity == sev).count();
    let summary = format!(
        "共 {} 条：错误 {} 条（有错误的报表不予采用），警告 {} 条（报表照常采用，请核实），提示 {} 条。按文件、工作表、单元格排列。",
        findings.len(),
        count(Severity::Error),
        count(Severity::Warning),
        count(Severity::Info)
    );
    s.merged_sized(1, 0, RULE, &summary, &fmt::note(), super::layout::NOTE_PT)?;
    let head = HEAD;
    s.headers(
        head,
        0,
        &[
            &h.serial,
            &h.severity,
            &h.problem,
            &h.file,
            &h.sheet,
            &h.cell,
            &h.zone,
            &h.indicator,
            &h.note,
            &h.rule,
        ],
    )?;
    if findings.is_empty() {
        s.merged(
            head + 1,
            0,
            RULE,
            "本期没有发现数据问题。",
            &fmt::text(),
            false,
        )?;
    }
    for (row, (i, f)) in (head + 1..).zip(findings.iter().enumerate()) {
        s.number(row, 0, Some(i as f64 + 1.0), Num::Count, Tone::Plain)?;
        s.text(
            row,
            1,
            f.severity.label(),
            &fmt::toned(fmt::center(), Tone::of_severity(f.severity)),
        )?;
        s.wrapped(row, 2, rule_text(f.rule), &fmt::wrap())?;
        s.wrapped(row, 3, &f.file, &fmt::wrap())?;
        s.text(row, 4, f.sheet.as_deref().unwrap_or(""), &fmt::text())?;
        s.text(
            row,
            5,
            &f.cell.map(|c| c.to_string()).unwrap_or_default(),
            &fmt::center(),
        )?;
        s.text(
            row,
            6,
            f.zone.as_deref().map(|z| ctx.short(z)).unwrap_or(""),
            &fmt::text(),
        )?;
        let indicator = match (&f.indicator, &f.indicator_name) {
            (Some(c), Some(n)) => format!("{c} {n}"),
            (Some(c), None) => c.clone(),
            _ => String::new(),
        };
        s.wrapped(row, 7, &indicator, &fmt::wrap())?;
        let message = match &f.explanation {
            Some(e) => format!(
                "{}\n单位说明：{}{}",
                f.message,
                e.text,
                if e.accepted {
                    "（统计科已认可）"
                } else {
                    ""
                }
            ),
            None => f.message.clone(),
        };
        s.wrapped(row, LAST, &message, &fmt::wrap())?;
        s.text(
            row,
            RULE,
            f.rule,
            &fmt::text().set_font_size(super::layout::SMALL_PT),
        )?;
    }
    Ok(())
}
