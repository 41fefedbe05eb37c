//! 来源清单: every file the run looked at (unit, form, sheet, what became of
//! it, SHA-256), then the December files the cumulative and average-growth
//! targets used. The last sheet, printed small: it is for checking, not for
//! reading, and keeps the cover to one page.

use rust_xlsxwriter::{Color, Format, Worksheet};

use super::layout::{Res, SMALL_PT, Setup, Sheet, Tone, fmt};
use super::{Ctx, SOURCES};
use crate::aggregate::Source;

const LAST: u16 = 5;
const HEAD: u32 = 2;

pub(super) fn sheet(ctx: &Ctx) -> Res<Worksheet> {
    let c = ctx.c;
    let cat = ctx.cat;
    let h = ctx.columns();
    let mut s = Sheet::new(SOURCES)?;
    s.fix_all(&[
        (0, 44.0),
        (1, 12.0),
        (2, 10.0),
        (3, 12.0),
        (4, 11.0),
        (5, 50.0),
    ]);
    s.title(0, LAST, &format!("数据来源清单（{}）", ctx.label()))?;
    s.merged_sized(
        1,
        0,
        LAST,
        "本期文件夹中的每个文件及其 SHA-256 校验值（可用于核对收到的文件是否就是汇总所用的文件），以及累计数和年均增长所用的历年 12 月文件。",
        &fmt::note(),
        super::layout::NOTE_PT,
    )?;
    let small = small();
    let heads = [
        &h.file,
        &h.reporter,
        &h.form,
        &h.sheet,
        &h.status,
        &h.sha256,
    ];
    for (col, head) in (0..).zip(heads) {
        s.ws.write_string_with_format(HEAD, col, head, &header())?;
    }
    let mut row = HEAD + 1;
    for f in &c.files {
        let status = match f.status {
            "used" => "采用",
            "rejected" => "有错误未采用",
            "unreadable" => "无法读取",
            _ => "未使用",
        };
        let tone = match f.status {
            "used" => Tone::Plain,
            "ignored" => Tone::Grey,
            _ => Tone::Bad,
        };
        let forms: Vec<(String, String, String)> = if f.forms.is_empty() {
            vec![("—".into(), "—".into(), "—".into())]
        } else {
            f.forms
                .iter()
                .map(|x| {
                    (
                        x.reporter.clone().unwrap_or_else(|| "—".into()),
                        x.form.clone(),
                        x.sheet.clone(),
                    )
                })
                .collect()
        };
        for (who, form, sheet) in forms {
            let cells = [f.file.as_str(), &who, &form, &sheet, status, &f.sha256];
            source_row(&mut s, row, cells, tone, &small)?;
            row += 1;
        }
    }
    let history: Vec<Vec<Source>> = c
        .history
        .values()
        .filter_map(|h| h.as_ref())
        .map(|h| {
            let mut list: Vec<Source> = h
                .zones
                .iter()
                .flat_map(|z| z.sources.iter().cloned())
                .collect();
            list.extend(h.city.sources.iter().cloned());
            list.sort_by(|a, b| a.file.cmp(&b.file).then(a.form.cmp(&b.form)));
            list
        })
        .collect();
    if history.iter().any(|l| !l.is_empty()) {
        s.merged(
            row,
            0,
            LAST,
            "历年 12 月数据（用于累计数和年均增长）",
            &fmt::label().set_font_size(SMALL_PT),
            false,
        )?;
        row += 1;
        for x in history.into_iter().flatten() {
            let who = match &x.zone {
                Some(z) => ctx.short(z).to_string(),
                None => cat.city.reporter.clone(),
            };
            let cells = [x.file.as_str(), &who, &x.form, &x.sheet, "采用", &x.sha256];
            source_row(&mut s, row, cells, Tone::Plain, &small)?;
            row += 1;
        }
    }
    s.finish(
        &ctx.page_header(),
        Setup {
            freeze_row: HEAD + 1,
            freeze_col: 0,
            repeat: Some((HEAD, HEAD)),
            repeat_cols: None,
            one_page: false,
        },
    )
}

fn small() -> Format {
    fmt::wrap().set_font_size(SMALL_PT)
}

fn header() -> Format {
    fmt::header().set_font_size(SMALL_PT)
}

fn source_row(s: &mut Sheet, row: u32, cells: [&str; 6], tone: Tone, small: &Format) -> Res<()> {
    let [file, who, form, sheet, status, sha] = cells;
    s.merged_sized(row, 0, 0, file, small, SMALL_PT)?;
    s.merged_sized(row, 1, 1, who, small, SMALL_PT)?;
    s.merged_sized(row, 2, 2, form, small, SMALL_PT)?;
    s.merged_sized(row, 3, 3, sheet, small, SMALL_PT)?;
    s.merged_sized(
        row,
        4,
        4,
        status,
        &fmt::toned(small.clone(), tone),
        SMALL_PT,
    )?;
    let hash = small
        .clone()
        .set_font_name("Consolas")
        .set_font_color(Color::RGB(0x404040));
    s.merged_sized(row, LAST, LAST, sha, &hash, SMALL_PT)?;
    Ok(())
}
