//! Feedback workbooks for the zones: a zone whose forms have problems gets its
//! own forms back, redrawn in the standard layout with its own values, each
//! problem cell highlighted and explained in a note, plus a list of every
//! problem with its place in the original file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatAlign, FormatBorder, XlsxError};

use crate::catalog::Catalogue;
use crate::error::Error;
use crate::model::{Finding, Period, Severity, rule_text};
use crate::output::write_atomic;
use crate::read::CellValue;
use crate::template::{Fill, FillValue, Mark, Spot, add_form_sheet, new_workbook, sanitize};
use crate::text::{TextValue, display_width, normalize_name, parse_text_value};
use crate::validate::CheckedForm;

/// The feedback file name: `反馈-湖州开发区-2020-06.xlsx`.
pub fn feedback_file_name(zone_short: &str, period: Option<Period>) -> String {
    let p = period.map_or("期别未识别".into(), |p| p.to_string());
    format!("反馈-{}-{}.xlsx", sanitize(zone_short), p)
}

/// Writes a feedback workbook for each zone (and period) whose forms have
/// errors or warnings. `period` names the files when a form's own period is
/// unreadable. Returns the files written.
///
/// # Errors
/// [`Error::Output`] when the folder or a file cannot be written.
pub fn write_feedback(
    forms: &[CheckedForm],
    period: Option<Period>,
    cat: &Catalogue,
    dir: &Path,
    created: &ExcelDateTime,
) -> Result<Vec<PathBuf>, Error> {
    let mut groups: BTreeMap<(usize, Option<Period>), Vec<&CheckedForm>> = BTreeMap::new();
    for f in forms {
        let Some(zone) = f.zone() else { continue };
        if f.findings.iter().all(|x| x.severity == Severity::Info) {
            continue;
        }
        let index = cat.zones.iter().position(|z| z.code == zone);
        groups
            .entry((index.unwrap_or(usize::MAX), f.period.or(period)))
            .or_default()
            .push(f);
    }
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    crate::output::create_dir(dir)?;
    let mut written = Vec::new();
    for ((index, p), group) in groups {
        let Some(zone) = cat.zones.get(index) else {
            continue;
        };
        let path = dir.join(feedback_file_name(&zone.short, p));
        let bytes = build(&group, cat, created).map_err(|e| Error::Output {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

fn build(
    group: &[&CheckedForm],
    cat: &Catalogue,
    created: &ExcelDateTime,
) -> Result<Vec<u8>, XlsxError> {
    let mut wb = new_workbook("报表问题反馈", created);
    let mut used_names: Vec<String> = Vec::new();
    for f in group {
        let Some(form) = cat.form(&f.form) else {
            continue;
        };
        let mut name = form.number.clone();
        let mut n = 2;
        while used_names.contains(&name) {
            name = format!("{}({n})", form.number);
            n += 1;
        }
        used_names.push(name.clone());
        let (fill, texts) = fill_of(f);
        let marks = marks_of(f, form, texts);
        add_form_sheet(&mut wb, form, cat, &name, &fill, &marks)?;
    }
    list_sheet(&mut wb, group, cat)?;
    wb.save_to_buffer()
}

/// The zone's values as written, numbers typed as text (`1 234`) redrawn as
/// the numbers they were read as, with a note for each of those.
fn fill_of(f: &CheckedForm) -> (Fill, Vec<(Spot, String)>) {
    let mut texts = Vec::new();
    let raw = &f.raw;
    let mut fill = Fill {
        reporter: raw.reporter.as_ref().map(|l| l.text.clone()),
        period: raw.period.as_ref().map(|l| l.text.clone()),
        ..Fill::default()
    };
    for row in &raw.rows {
        for (role, v) in &row.values {
            let value = match v.value.undated().as_ref() {
                CellValue::Number(n) => FillValue::Number(*n),
                CellValue::Text(t) => match parse_text_value(t) {
                    TextValue::Number {
                        value,
                        percent: false,
                    } => {
                        texts.push((
                            Spot::Value(row.code.clone(), *role),
                            format!("提示：原表此格是文字“{t}”，已按数值 {value} 读取；请填写数值，不要填写文字。"),
                        ));
                        FillValue::Number(value)
                    }
                    _ => FillValue::Text(t.clone()),
                },
                CellValue::Bool(b) => FillValue::Text(if *b { "TRUE" } else { "FALSE" }.into()),
                CellValue::Error(e) => FillValue::Text(e.clone()),
                CellValue::Empty | CellValue::Date { .. } => continue,
            };
            fill.values.insert((row.code.clone(), *role), value);
        }
        if let Some(unit) = &row.unit {
            fill.units.insert(row.code.clone(), unit.text.clone());
        }
        if let Some(note) = &row.note {
            fill.notes.insert(row.code.clone(), note.clone());
        }
    }
    (fill, texts)
}

/// Where each finding goes on the redrawn form, then the notes of [`fill_of`];
/// all on one spot share a note.
fn marks_of(f: &CheckedForm, form: &crate::catalog::Form, notes: Vec<(Spot, String)>) -> Vec<Mark> {
    let mut by_spot: BTreeMap<Spot, Vec<String>> = BTreeMap::new();
    for x in f.findings.iter().filter(|x| x.severity != Severity::Info) {
        let role = x.column.as_deref().and_then(|label| {
            form.columns
                .iter()
                .find(|c| normalize_name(&c.label) == normalize_name(label))
                .map(|c| c.role)
        });
        let spot = match (&x.indicator, role) {
            (Some(code), _) if x.rule.starts_with("unit.") => Spot::Unit(code.clone()),
            (Some(code), Some(role)) => Spot::Value(code.clone(), role),
            (Some(code), None) => Spot::Name(code.clone()),
            (None, _) if x.rule.starts_with("form.period") => Spot::Period,
            (None, _) if x.rule.starts_with("form.zone") || x.rule.starts_with("form.reporter") => {
                Spot::Reporter
            }
            _ => Spot::Title,
        };
        let place = match (&x.sheet, &x.cell) {
            (Some(s), Some(c)) => format!("（原表 {s}!{c}）"),
            _ => String::new(),
        };
        by_spot.entry(spot).or_default().push(format!(
            "{}：{}{}",
            x.severity.label(),
            x.message,
            place
        ));
    }
    for (spot, text) in notes {
        by_spot.entry(spot).or_default().push(text);
    }
    by_spot
        .into_iter()
        .map(|(spot, texts)| Mark {
            spot,
            text: texts.join("\n"),
        })
        .collect()
}

/// The widest each column of the list may be: the whole list is printed one
/// page wide at a readable size.
const CAPS: [f64; 10] = [5.0, 6.0, 16.0, 22.0, 12.0, 20.0, 10.0, 12.0, 12.0, 44.0];
/// The rule id, for whoever looks a finding up in the JSON.
const RULE_WIDTH: f64 = 10.0;

/// 问题清单: every finding with its place in the original file.
fn list_sheet(
    wb: &mut rust_xlsxwriter::Workbook,
    group: &[&CheckedForm],
    cat: &Catalogue,
) -> Result<(), XlsxError> {
    let font = cat.report.font.as_str();
    let ws = wb.add_worksheet();
    ws.set_name("问题清单")?;
    let plain = Format::new().set_font_name(font).set_font_size(10.5);
    let head = plain
        .clone()
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_background_color(Color::RGB(0xDDEBF7))
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap();
    let cell = plain
        .clone()
        .set_border(FormatBorder::Thin)
        .set_text_wrap()
        .set_align(FormatAlign::Top);
    let small = cell.clone().set_font_size(8);
    let error = cell.clone().set_font_color(Color::RGB(0x9C0006)).set_bold();
    let title = Format::new()
        .set_font_name(&cat.report.title_font)
        .set_font_size(14);
    let zone_name = group
        .first()
        .and_then(|f| f.raw.reporter.as_ref())
        .map(|l| l.text.clone())
        .unwrap_or_default();
    ws.write_string_with_format(0, 0, format!("报表问题清单：{zone_name}"), &title)?;
    ws.write_string_with_format(1, 0, "请按下表逐项修改原报表后重新报送。前面的工作表是按标准表样重绘的原报表，有问题的单元格已标红并附批注。", &plain)?;
    let headers = [
        "序号",
        "级别",
        "问题",
        "原文件",
        "位置",
        "指标",
        "数值列",
        "发现",
        "应为",
        "说明",
        "规则代码",
    ];
    let mut widths: Vec<f64> = headers.iter().map(|h| display_width(h) + 2.0).collect();
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(3, c as u16, *h, &head)?;
    }
    let findings: Vec<&Finding> = group
        .iter()
        .flat_map(|f| f.findings.iter())
        .filter(|x| x.severity != Severity::Info)
        .collect();
    for (i, x) in findings.iter().enumerate() {
        let row = 4 + i as u32;
        let indicator = match (&x.indicator, &x.indicator_name) {
            (Some(c), Some(n)) => format!("{c} {n}"),
            (Some(c), None) => c.clone(),
            _ => String::new(),
        };
        // The zone's own file name: the folder it sits in here means nothing there.
        let file = Path::new(&x.file)
            .file_name()
            .map_or(x.file.clone(), |n| n.to_string_lossy().into_owned());
        let place = match (&x.sheet, &x.cell) {
            (Some(s), Some(c)) => format!("{s}!{c}"),
            (Some(s), None) => s.clone(),
            _ => String::new(),
        };
        let values = [
            (i + 1).to_string(),
            x.severity.label().to_string(),
            rule_text(x.rule).to_string(),
            file,
            place,
            indicator,
            x.column.clone().unwrap_or_default(),
            x.found.clone().unwrap_or_default(),
            x.expected.clone().unwrap_or_default(),
            x.message.clone(),
        ];
        let mut lines: f64 = 1.0;
        for (c, v) in values.iter().enumerate() {
            let fmt = if c == 1 && x.is_error() {
                &error
            } else {
                &cell
            };
            // Text from the forms is written as text, never as a formula.
            let v = &*crate::text::fit_cell(v);
            ws.write_string_with_format(row, c as u16, v, fmt)?;
            widths[c] = widths[c].max(display_width(v) * 10.5 / 11.0 + 2.0);
            lines = lines.max((display_width(v) / (CAPS[c] - 1.5)).ceil());
        }
        ws.write_string_with_format(row, CAPS.len() as u16, x.rule, &small)?;
        // Wrapped text needs its rows made tall enough: programs do not all do it.
        ws.set_row_height(row, 10.5 * 1.3 * lines + 3.0)?;
    }
    for (c, w) in widths.iter().take(CAPS.len()).enumerate() {
        ws.set_column_width(c as u16, w.min(CAPS[c]))?;
    }
    ws.set_column_width(CAPS.len() as u16, RULE_WIDTH)?;
    ws.set_row_height(3, 30.0)?;
    ws.set_freeze_panes(4, 0)?;
    ws.set_paper_size(9);
    ws.set_landscape();
    ws.set_margins(0.5, 0.5, 0.7, 0.7, 0.3, 0.3);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(3, 3)?;
    ws.set_footer("&C第 &P 页 共 &N 页");
    Ok(())
}
