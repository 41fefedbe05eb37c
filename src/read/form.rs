//! A sheet → the form on it: which form, the reporting unit and period as
//! written, the value columns found by their headers, and each indicator row
//! found by its code or, when the 代码 column is gone, by its name. The
//! period may be text (`2020年1-6月`) or a date-typed cell.

use crate::catalog::{Catalogue, Form, FormWords, Indicator, Role};
use crate::model::Cell;
use crate::read::workbook::{CellValue, Sheet};
use crate::text::{normalize_name, parse_period};

/// How far down a sheet the form number, title and header are looked for.
const HEAD_ROWS: u32 = 20;

/// A text found at a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub text: String,
    pub cell: Cell,
}

impl Located {
    /// The text of a sheet's cell, trimmed.
    fn at(sheet: &Sheet, cell: Cell) -> Located {
        Located {
            text: sheet.text(cell).into_owned(),
            cell,
        }
    }
}

/// A value cell as read: what it holds, and its formula if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct RawValue {
    pub cell: Cell,
    pub value: CellValue,
    pub formula: Option<String>,
}

/// One indicator row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowRead {
    pub code: String,
    pub row: u32,
    /// The unit written in the row (None when there is no unit column or it is blank).
    pub unit: Option<Located>,
    /// The unit column's cell, when the form has one (for messages about a blank unit).
    pub unit_cell: Option<Cell>,
    pub values: Vec<(Role, RawValue)>,
    /// 备注, when written.
    pub note: Option<String>,
    /// The 备注 cell, when the form has a 备注 column.
    pub note_cell: Option<Cell>,
}

/// The form found on a sheet, as written, before any rule is applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormRead {
    pub sheet: String,
    pub form: String,
    /// Where the form number (or title) was found.
    pub form_cell: Cell,
    /// The 填报单位 text.
    pub reporter: Option<Located>,
    /// The period text.
    pub period: Option<Located>,
    /// The header row (None when not found: then nothing below was read).
    pub header_row: Option<u32>,
    /// Where the table's first cell is, for messages about the header.
    pub header_anchor: Cell,
    pub columns: Vec<(Role, u32)>,
    pub has_code_column: bool,
    pub rows: Vec<RowRead>,
    /// Rows with values whose indicator is not on the form: (row, name as written).
    pub unknown_rows: Vec<(u32, String)>,
    /// Indicator codes found on two rows: (code, first row, second row).
    pub duplicate_rows: Vec<(String, u32, u32)>,
}

/// Finds the form on a sheet, if there is one: by its number in the top rows,
/// failing that by its title.
pub fn find_form<'c>(sheet: &Sheet, cat: &'c Catalogue) -> Option<(&'c Form, Cell)> {
    let top = sheet.first_row();
    let last = sheet.end_row().min(top + HEAD_ROWS);
    let mut by_title = None;
    for row in top..last {
        for col in 0..sheet.end_col() {
            let at = Cell::new(row, col);
            let CellValue::Text(t) = sheet.get(at) else {
                continue;
            };
            let n = normalize_name(t);
            for f in &cat.forms {
                if n.contains(f.number_key()) {
                    return Some((f, at));
                }
                if by_title.is_none() && n.contains(f.title_key()) {
                    by_title = Some((f, at));
                }
            }
        }
    }
    by_title
}

/// Reads a form's layout and rows from a sheet.
pub fn read_form(sheet: &Sheet, form: &Form, form_cell: Cell, words: &FormWords) -> FormRead {
    let mut out = FormRead {
        sheet: sheet.name.clone(),
        form: form.number.clone(),
        form_cell,
        header_anchor: Cell::new(sheet.first_row(), 0),
        ..FormRead::default()
    };
    let header = find_header(sheet, form, words);
    let head_end = header
        .as_ref()
        .map(|h| h.row)
        .unwrap_or(sheet.end_row().min(sheet.first_row() + HEAD_ROWS));
    read_head(sheet, form, head_end, words, &mut out);
    let Some(h) = header else { return out };
    out.header_row = Some(h.row);
    out.header_anchor = Cell::new(h.row, h.name_col.unwrap_or(0));
    out.columns = h.values.clone();
    out.has_code_column = h.code_col.is_some();
    read_rows(sheet, form, &h, &mut out);
    out
}

struct Header {
    row: u32,
    name_col: Option<u32>,
    code_col: Option<u32>,
    unit_col: Option<u32>,
    note_col: Option<u32>,
    values: Vec<(Role, u32)>,
}

/// The first row that names the indicator column and a value column.
fn find_header(sheet: &Sheet, form: &Form, words: &FormWords) -> Option<Header> {
    let top = sheet.first_row();
    (top..sheet.end_row().min(top + HEAD_ROWS + 5)).find_map(|row| {
        let mut h = Header {
            row,
            name_col: None,
            code_col: None,
            unit_col: None,
            note_col: None,
            values: Vec::new(),
        };
        for col in 0..sheet.end_col() {
            let n = normalize_name(&sheet.text(Cell::new(row, col)));
            if n.is_empty() {
                continue;
            }
            let is = |spellings: &[String]| spellings.contains(&n);
            if is(&words.name) {
                h.name_col = h.name_col.or(Some(col));
            } else if is(&words.code) {
                h.code_col = h.code_col.or(Some(col));
            } else if is(&words.unit) {
                h.unit_col = h.unit_col.or(Some(col));
            } else if is(&words.note) {
                h.note_col = h.note_col.or(Some(col));
            } else {
                for c in &form.columns {
                    if c.is_named(&n) && !h.values.iter().any(|(r, _)| *r == c.role) {
                        h.values.push((c.role, col));
                    }
                }
            }
        }
        (h.name_col.is_some() && !h.values.is_empty()).then_some(h)
    })
}

/// The reporting unit and the period, above the header.
fn read_head(sheet: &Sheet, form: &Form, head_end: u32, words: &FormWords, out: &mut FormRead) {
    for at in head_cells(sheet, head_end) {
        let text = sheet.text(at);
        if text.is_empty() {
            continue;
        }
        let n = normalize_name(&text);
        if let Some(rest) = n.strip_prefix(words.reporter.as_str()) {
            let rest = rest.trim_start_matches([':', '：']);
            if out.reporter.is_none() {
                out.reporter = if rest.is_empty() {
                    // The name may stand in the next filled cell; when that
                    // is the period, the name was left out.
                    (at.col + 1..sheet.end_col())
                        .map(|c| Cell::new(at.row, c))
                        .find(|c| !sheet.text(*c).is_empty())
                        .map(|c| Located::at(sheet, c))
                        .filter(|l| !looks_like_period(&normalize_name(&l.text)))
                } else {
                    let raw = text.split_once([':', '：']).map_or(rest, |(_, r)| r.trim());
                    Some(Located {
                        text: raw.to_string(),
                        cell: at,
                    })
                };
            }
            continue;
        }
        if n.contains(form.title_key())
            || n.contains(form.number_key())
            || n.starts_with(words.issuer.as_str())
        {
            continue;
        }
        if out.period.is_none() && looks_like_period(&n) {
            out.period = Some(Located::at(sheet, at));
        }
    }
    // A period typed as a date (Excel turns `2020年6月` into one): its year
    // and month, with the meaning of `2020年6月`.
    if out.period.is_none() {
        out.period = head_cells(sheet, head_end).find_map(|at| match sheet.get(at) {
            CellValue::Date { year, month, .. } => Some(Located {
                text: format!("{year}年{month}月"),
                cell: at,
            }),
            _ => None,
        });
    }
    // A period written but unreadable is still reported as written.
    if out.period.is_none() {
        out.period = head_cells(sheet, head_end)
            .find(|at| {
                let n = normalize_name(&sheet.text(*at));
                words.period.iter().any(|w| n.starts_with(w.as_str()))
            })
            .map(|at| Located::at(sheet, at));
    }
}

/// The cells above the header, row by row.
fn head_cells(sheet: &Sheet, head_end: u32) -> impl Iterator<Item = Cell> + '_ {
    (sheet.first_row()..head_end)
        .flat_map(move |row| (0..sheet.end_col()).map(move |col| Cell::new(row, col)))
}

fn looks_like_period(n: &str) -> bool {
    parse_period(n).is_ok()
        || (n.contains('年')
            && n.chars().filter(|c| c.is_ascii_digit()).count() >= 4
            && n.chars().count() < 30)
}

fn read_rows(sheet: &Sheet, form: &Form, h: &Header, out: &mut FormRead) {
    let mut seen: Vec<(String, u32)> = Vec::new();
    for row in h.row + 1..sheet.end_row() {
        let text_in = |col: Option<u32>| {
            col.map(|c| sheet.text(Cell::new(row, c)))
                .unwrap_or_default()
        };
        let (code_text, name_text) = (text_in(h.code_col), text_in(h.name_col));
        let by_code = indicator_by(form, &code_text, Indicator::code_key);
        let Some(code) = by_code.or_else(|| indicator_by(form, &name_text, Indicator::name_key))
        else {
            let has_value = h
                .values
                .iter()
                .any(|(_, c)| matches!(sheet.get(Cell::new(row, *c)), CellValue::Number(_)));
            if has_value && !name_text.is_empty() {
                out.unknown_rows.push((row, name_text.into_owned()));
            }
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(c, _)| c == code) {
            out.duplicate_rows.push((code.to_string(), *first, row));
            continue;
        }
        seen.push((code.to_string(), row));
        let unit_cell = h.unit_col.map(|c| Cell::new(row, c));
        let unit = unit_cell
            .map(|c| Located::at(sheet, c))
            .filter(|l| !l.text.is_empty());
        let values = h
            .values
            .iter()
            .map(|(role, col)| {
                let cell = Cell::new(row, *col);
                let raw = RawValue {
                    cell,
                    value: sheet.get(cell).clone(),
                    formula: sheet.formula(cell).map(str::to_string),
                };
                (*role, raw)
            })
            .collect();
        let note = h
            .note_col
            .map(|c| sheet.text(Cell::new(row, c)).into_owned())
            .filter(|t| !t.is_empty());
        out.rows.push(RowRead {
            code: code.to_string(),
            row,
            unit,
            unit_cell,
            values,
            note,
            note_cell: h.note_col.map(|c| Cell::new(row, c)),
        });
    }
}

/// The code of the form's indicator whose reduced code or name (`key`) is
/// `written` reduced by [`normalize_name`]; none for an empty cell.
fn indicator_by<'f>(form: &'f Form, written: &str, key: fn(&Indicator) -> &str) -> Option<&'f str> {
    let n = normalize_name(written);
    if n.is_empty() {
        return None;
    }
    form.indicators
        .iter()
        .find(|i| key(i) == n)
        .map(|i| i.code.as_str())
}
