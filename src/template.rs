//! The zones' forms written out in the layout of docs/forms.md: blank forms to send
//! to the zones (`zonestat template`), and the same layout filled with a zone's
//! own values for feedback workbooks. With the report module, the only place
//! that writes workbooks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, DataValidationRule, DocProperties,
    ExcelDateTime, Format, FormatAlign, FormatBorder, Formula, Note, Workbook, Worksheet,
    XlsxError,
};

use crate::catalog::{Catalogue, FilledBy, Form, Frequency, Indicator, Kind, Role};
use crate::error::Error;
use crate::model::{Cell, Period};
use crate::output::write_atomic;
use crate::text::display_width;

/// Rows of the layout (0-based): title, form number, issuer, reporter and
/// period, header, column letters, first indicator.
const TITLE_ROW: u32 = 0;
const NUMBER_ROW: u32 = 1;
const ISSUER_ROW: u32 = 2;
const REPORTER_ROW: u32 = 3;
const HEADER_ROW: u32 = 4;
const LETTERS_ROW: u32 = 5;
const FIRST_ROW: u32 = 6;

/// A value to put into a form cell, as the zone wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum FillValue {
    Number(f64),
    Text(String),
}

/// What a form is filled with: empty for a blank form.
#[derive(Debug, Clone, Default)]
pub struct Fill {
    /// 填报单位 (a zone's full name, or the statistics bureau).
    pub reporter: Option<String>,
    /// The period as written on the form (`2020年1-6月`, `2020年`).
    pub period: Option<String>,
    /// Values by indicator code and column.
    pub values: BTreeMap<(String, Role), FillValue>,
    /// A growth figure typed over the growth column's formula (`12.5%`), by
    /// indicator code, as some zones do.
    pub typed_growth: BTreeMap<String, FillValue>,
    /// A unit written instead of the canonical one, by indicator code.
    pub units: BTreeMap<String, String>,
    /// 备注 by indicator code.
    pub notes: BTreeMap<String, String>,
}

/// Where a problem is on the redrawn form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Spot {
    Value(String, Role),
    Unit(String),
    Name(String),
    Reporter,
    Period,
    Title,
}

/// A problem to highlight, with its note text.
#[derive(Debug, Clone)]
pub struct Mark {
    pub spot: Spot,
    pub text: String,
}

struct Formats {
    title: Format,
    /// The lines above the table, outside the grid.
    above: Format,
    header: Format,
    /// The column letters, and the dash in a cell that is not filled in.
    letters: Format,
    text: Format,
    center: Format,
    amount_in: Format,
    count_in: Format,
    text_in: Format,
    growth: Format,
    foot: Format,
    marked: Format,
}

impl Formats {
    /// The formats in the catalogue's fonts (宋体 for text, 黑体 for the title).
    fn new(cat: &Catalogue) -> Formats {
        let font = cat.report.font.as_str();
        let font_new = || Format::new().set_font_name(font);
        let border = |f: Format| f.set_border(FormatBorder::Thin).set_font_size(10.5);
        let input = |f: Format| {
            border(f)
                .set_unlocked()
                .set_background_color(Color::RGB(0xFFFDE7))
        };
        Formats {
            title: Format::new()
                .set_font_name(&cat.report.title_font)
                .set_bold()
                .set_font_size(16)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            above: font_new().set_align(FormatAlign::Left).set_font_size(10.5),
            header: border(font_new())
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            letters: border(font_new()).set_align(FormatAlign::Center),
            text: border(font_new()).set_align(FormatAlign::VerticalCenter),
            center: border(font_new())
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            amount_in: input(font_new()).set_num_format("0.00##"),
            count_in: input(font_new()).set_num_format("0"),
            text_in: input(font_new()).set_align(FormatAlign::Center),
            growth: border(font_new()).set_num_format("0.0"),
            foot: font_new().set_font_size(10),
            marked: border(font_new())
                .set_background_color(Color::RGB(0xFFC7CE))
                .set_font_color(Color::RGB(0x9C0006))
                .set_bold(),
        }
    }
}

/// The value columns of a form, in order, with the sheet column of each.
fn value_columns(form: &Form) -> Vec<(Role, u32)> {
    form.columns
        .iter()
        .enumerate()
        .map(|(i, c)| (c.role, 4 + i as u32))
        .collect()
}

fn input_cell(ind: &Indicator, role: Role) -> bool {
    match role {
        Role::Current | Role::Prior => true,
        Role::Cumulative => ind.kind == Kind::NewInYear,
        Role::ReportedGrowth => false,
    }
}

fn xe(e: XlsxError) -> Error {
    Error::Output {
        path: String::new(),
        message: e.to_string(),
    }
}

/// Adds a worksheet holding `form` in the standard layout, filled with `fill`,
/// with `marks` highlighted and explained in notes. Input cells are unlocked,
/// everything else protected (no password); input cells carry data validation.
///
/// # Errors
/// rust_xlsxwriter's error when the sheet cannot be built (e.g. a bad sheet name).
pub fn add_form_sheet(
    wb: &mut Workbook,
    form: &Form,
    cat: &Catalogue,
    sheet_name: &str,
    fill: &Fill,
    marks: &[Mark],
) -> Result<(), XlsxError> {
    let f = Formats::new(cat);
    let ws = wb.add_worksheet();
    ws.set_name(sheet_name)?;
    // An empty growth formula result is stored as an empty string, not 0.
    ws.set_formula_result_default("");
    let cols = value_columns(form);
    // The 备注 column, the last.
    let last = 4 + form.columns.len() as u32;
    // Where things land, for the marks.
    let mut cells = BTreeMap::new();

    // Column widths from the longest text each column holds.
    let name_width = form
        .indicators
        .iter()
        .map(|i| display_width(&i.name))
        .fold(10.0, f64::max);
    ws.set_column_width(0, 5)?;
    ws.set_column_width(1, name_width.min(46.0) + 2.0)?;
    ws.set_column_width(2, 6)?;
    ws.set_column_width(3, 8)?;
    for (i, c) in form.columns.iter().enumerate() {
        ws.set_column_width(4 + i as u16, (display_width(&c.label) + 2.0).max(12.0))?;
    }
    ws.set_column_width(last as u16, 14)?;

    ws.set_row_height(TITLE_ROW, 30)?;
    ws.merge_range(TITLE_ROW, 0, TITLE_ROW, last as u16, &form.title, &f.title)?;
    cells.insert(Spot::Title, Cell::new(TITLE_ROW, 0));
    for (row, text) in [
        (NUMBER_ROW, format!("表    号：{}", form.number)),
        (
            ISSUER_ROW,
            format!("{}：{}", cat.layout.issuer, form.issuer),
        ),
    ] {
        ws.merge_range(row, (last - 1) as u16, row, last as u16, &text, &f.above)?;
    }
    let reporter = fill.reporter.as_deref().unwrap_or_default();
    let reporter = format!("{}：{reporter}", cat.layout.reporter);
    let period = fill.period.as_deref().unwrap_or("    年  月");
    ws.merge_range(REPORTER_ROW, 0, REPORTER_ROW, 2, &reporter, &f.above)?;
    ws.merge_range(
        REPORTER_ROW,
        3,
        REPORTER_ROW,
        (last - 2).max(4) as u16,
        period,
        &f.above,
    )?;
    cells.insert(Spot::Reporter, Cell::new(REPORTER_ROW, 0));
    cells.insert(Spot::Period, Cell::new(REPORTER_ROW, 3));

    // (the catalogue's check makes sure every list has its first word and
    // there are four letters)
    let words = &cat.layout;
    let mut headers = vec![
        words.serial.clone(),
        words.name[0].clone(),
        words.code[0].clone(),
        words.unit[0].clone(),
    ];
    headers.extend(form.columns.iter().map(|c| c.label.clone()));
    headers.push(words.note[0].clone());
    let mut letters = vec![String::new()];
    letters.extend(words.letters[..3].iter().cloned());
    letters.extend((1..=form.columns.len()).map(|i| i.to_string()));
    letters.push(words.letters[3].clone());
    ws.set_row_height(HEADER_ROW, 28)?;
    for (c, (h, l)) in headers.iter().zip(&letters).enumerate() {
        ws.write_string_with_format(HEADER_ROW, c as u16, h, &f.header)?;
        ws.write_string_with_format(LETTERS_ROW, c as u16, l, &f.letters)?;
    }

    for (n, ind) in form.indicators.iter().enumerate() {
        let row = FIRST_ROW + n as u32;
        ws.set_row_height(row, 18)?;
        ws.write_number_with_format(row, 0, (n + 1) as f64, &f.center)?;
        ws.write_string_with_format(row, 1, &ind.name, &f.text)?;
        cells.insert(Spot::Name(ind.code.clone()), Cell::new(row, 1));
        ws.write_string_with_format(row, 2, &ind.code, &f.center)?;
        let unit = fill.units.get(&ind.code).unwrap_or(&ind.unit);
        ws.write_string_with_format(row, 3, unit, &f.center)?;
        cells.insert(Spot::Unit(ind.code.clone()), Cell::new(row, 3));
        let is_count = ind.is_count(cat);
        for (role, col) in &cols {
            let at = Cell::new(row, *col);
            cells.insert(Spot::Value(ind.code.clone(), *role), at);
            if *role == Role::ReportedGrowth {
                write_growth(ws, &cols, ind, at, fill, &f)?;
                continue;
            }
            if !input_cell(ind, *role) {
                ws.write_string_with_format(row, *col as u16, "—", &f.letters)?;
                continue;
            }
            let fmt = if ind.kind == Kind::YesNo {
                &f.text_in
            } else if is_count {
                &f.count_in
            } else {
                &f.amount_in
            };
            let value = fill.values.get(&(ind.code.clone(), *role));
            write_value(ws, at, value, fmt)?;
            ws.add_data_validation(
                row,
                *col as u16,
                row,
                *col as u16,
                &validation(ind, unit, is_count),
            )?;
        }
        let note = fill.notes.get(&ind.code).cloned().unwrap_or_default();
        ws.write_string_with_format(row, last as u16, crate::text::fit_cell(&note), &f.text_in)?;
    }
    let after = FIRST_ROW + form.indicators.len() as u32 + 1;
    ws.merge_range(after, 0, after, last as u16, &cat.plan.signature, &f.foot)?;
    ws.merge_range(after + 1, 0, after + 1, last as u16, &form.notes, &f.foot)?;

    for m in marks {
        let Some(at) = cells.get(&m.spot).copied() else {
            continue;
        };
        let note = Note::new(crate::text::fit_cell(&m.text))
            .set_author("zonestat")
            .set_width(320)
            .set_height(120);
        ws.insert_note(at.row, at.col as u16, &note)?;
        // Redraw the cell with the highlight, keeping its content.
        let ind = |code: &str| form.indicators.iter().find(|i| i.code == code);
        let content = match &m.spot {
            Spot::Value(code, role) => fill.values.get(&(code.clone(), *role)).cloned(),
            Spot::Unit(code) => {
                ind(code).map(|i| FillValue::Text(fill.units.get(code).unwrap_or(&i.unit).clone()))
            }
            Spot::Name(code) => ind(code).map(|i| FillValue::Text(i.name.clone())),
            Spot::Reporter | Spot::Period | Spot::Title => continue,
        };
        let content = content.map(|v| match v {
            FillValue::Text(t) => FillValue::Text(crate::text::fit_cell(&t).into_owned()),
            number => number,
        });
        write_value(ws, at, content.as_ref(), &f.marked.clone().set_unlocked())?;
    }

    ws.protect();
    ws.set_paper_size(9);
    ws.set_portrait();
    ws.set_print_fit_to_pages(1, 1);
    ws.set_print_center_horizontally(true);
    ws.set_footer("&C第 &P 页 共 &N 页");
    Ok(())
}

/// The growth column: the figure the zone typed over the formula, else the
/// formula on the row's current and prior values, with its result.
fn write_growth(
    ws: &mut Worksheet,
    cols: &[(Role, u32)],
    ind: &Indicator,
    at: Cell,
    fill: &Fill,
    f: &Formats,
) -> Result<(), XlsxError> {
    let col_of = |role: Role| cols.iter().find(|(r, _)| *r == role).map(|(_, c)| *c);
    let (Some(cur), Some(prior)) = (col_of(Role::Current), col_of(Role::Prior)) else {
        return write_value(ws, at, None, &f.growth);
    };
    // A growth figure the zone typed over the formula (`12.5%`, `12.5`).
    if let Some(typed) = fill.typed_growth.get(&ind.code) {
        return write_value(ws, at, Some(typed), &f.growth);
    }
    let (c, p) = (
        Cell::new(at.row, cur).to_string(),
        Cell::new(at.row, prior).to_string(),
    );
    // Blank unless both are numbers: text typed into a value cell leaves the
    // growth empty instead of showing #VALUE!.
    let formula = format!(
        "IF(AND(ISNUMBER({c}),ISNUMBER({p})),IF({p}=0,\"\",ROUND(({c}-{p})/{p}*100,1)),\"\")"
    );
    let number = |role: Role| match fill.values.get(&(ind.code.clone(), role)) {
        Some(FillValue::Number(v)) => Some(*v),
        _ => None,
    };
    // Store the result a spreadsheet program would compute, so readers that do not calculate see it.
    let result = match (number(Role::Current), number(Role::Prior)) {
        (Some(c), Some(p)) if p != 0.0 => format!("{}", ((c - p) / p * 1000.0).round() / 10.0),
        _ => String::new(),
    };
    ws.write_formula_with_format(
        at.row,
        at.col as u16,
        Formula::new(formula).set_result(result),
        &f.growth,
    )?;
    Ok(())
}

/// A value in its cell; None leaves the cell blank, in its format.
fn write_value(
    ws: &mut Worksheet,
    at: Cell,
    value: Option<&FillValue>,
    fmt: &Format,
) -> Result<(), XlsxError> {
    let col = at.col as u16;
    match value {
        Some(FillValue::Number(v)) => ws.write_number_with_format(at.row, col, *v, fmt)?,
        Some(FillValue::Text(t)) => ws.write_string_with_format(at.row, col, t, fmt)?,
        None => ws.write_blank(at.row, col, fmt)?,
    };
    Ok(())
}

fn validation(ind: &Indicator, unit: &str, is_count: bool) -> DataValidation {
    let v = DataValidation::new();
    let (v, input, error) = if ind.kind == Kind::YesNo {
        (
            v.allow_list_strings(&["是", "否"])
                .expect("two short strings"),
            "请从下拉列表中选择“是”或“否”。".to_string(),
            "只能填“是”或“否”。".to_string(),
        )
    } else if is_count {
        (
            v.allow_whole_number(DataValidationRule::GreaterThanOrEqualTo(0)),
            format!("请填写大于或等于 0 的整数（{unit}）。"),
            format!("本项应为大于或等于 0 的整数（{unit}）。"),
        )
    } else {
        (
            v.allow_decimal_number(DataValidationRule::GreaterThanOrEqualTo(0.0)),
            format!("请填写大于或等于 0 的数值，单位：{unit}。"),
            format!("本项应为大于或等于 0 的数值，单位：{unit}。"),
        )
    };
    v.set_input_message(input)
        .expect("short")
        .set_error_message(error)
        .expect("short")
        .set_input_title(&ind.code)
        .expect("short")
        .set_error_title("输入有误")
        .expect("short")
        .set_error_style(DataValidationErrorStyle::Stop)
}

/// Adds a sheet of plain text lines (a 填表说明 sheet, as some zones send
/// along with their form), one line a row in column A.
///
/// # Errors
/// rust_xlsxwriter's error when the sheet cannot be built (e.g. a bad sheet name).
pub fn add_text_sheet(
    wb: &mut Workbook,
    sheet_name: &str,
    lines: &[&str],
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(sheet_name)?;
    ws.set_column_width(0, 80)?;
    for (row, line) in (0u32..).zip(lines) {
        ws.write_string(row, 0, *line)?;
    }
    Ok(())
}

/// The timestamp written into a workbook's properties: `SOURCE_DATE_EPOCH`
/// when set (reproducible builds), else now.
pub fn creation_time() -> ExcelDateTime {
    ExcelDateTime::from_timestamp(crate::report::MadeAt::from_env().unix())
        // (a time the workbook cannot hold: the Unix epoch)
        .unwrap_or_else(|_| ExcelDateTime::from_ymd(1970, 1, 1).expect("valid date"))
}

/// A workbook with document properties set for a zone form.
pub fn new_workbook(title: &str, created: &ExcelDateTime) -> Workbook {
    let mut wb = Workbook::new();
    let props = DocProperties::new()
        .set_title(title)
        .set_author("zonestat")
        .set_creation_datetime(created);
    wb.set_properties(&props);
    wb
}

/// Which blank forms to write.
#[derive(Debug, Clone)]
pub struct TemplateRequest {
    pub period: Option<Period>,
    /// Zone codes; the city bureau's form is written when `city` is set.
    pub zones: Vec<String>,
    pub city: bool,
    /// Form numbers; empty for every form the period needs.
    pub forms: Vec<String>,
    pub out_dir: PathBuf,
}

/// The file name of a form: `湖开统1表-湖州开发区-2020-06.xlsx`.
pub fn form_file_name(form: &Form, who: &str, period: Option<Period>) -> String {
    match period {
        Some(p) => format!("{}-{}-{}.xlsx", form.number, sanitize(who), p),
        None => format!("{}.xlsx", form.number),
    }
}

/// Keeps a name safe as a file name on every system.
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect::<String>()
        .trim_matches(['.', ' '])
        .to_string()
}

/// Writes the requested blank forms; returns the files written.
///
/// # Errors
/// [`Error::Output`] when a file cannot be written.
pub fn write_templates(
    req: &TemplateRequest,
    cat: &Catalogue,
    created: &ExcelDateTime,
) -> Result<Vec<PathBuf>, Error> {
    crate::output::create_dir(&req.out_dir)?;
    let wanted = |f: &Form| {
        if !req.forms.is_empty() {
            return req.forms.contains(&f.number);
        }
        req.period
            .is_none_or(|p| f.frequency == Frequency::Monthly || p.is_december())
    };
    let mut written = Vec::new();
    for form in cat.forms.iter().filter(|f| wanted(f)) {
        let reporters: Vec<(String, String)> = match form.filled_by {
            FilledBy::Zone if req.period.is_some() => req
                .zones
                .iter()
                .filter_map(|code| cat.zone(code))
                .map(|z| (z.short.clone(), z.full.clone()))
                .collect(),
            FilledBy::City if req.period.is_some() && req.city => {
                vec![(cat.city.reporter.clone(), cat.city.reporter.clone())]
            }
            FilledBy::City if req.period.is_some() => Vec::new(),
            // Without a period: one generic blank per form.
            _ => vec![(String::new(), String::new())],
        };
        for (short, full) in reporters {
            let fill = Fill {
                reporter: (!full.is_empty()).then(|| full.clone()),
                period: req.period.map(|p| form.period_text(p)),
                ..Fill::default()
            };
            let mut wb = new_workbook(&form.title, created);
            add_form_sheet(&mut wb, form, cat, &form.number, &fill, &[]).map_err(xe)?;
            let name = form_file_name(form, &short, req.period.filter(|_| !short.is_empty()));
            let path = req.out_dir.join(name);
            let bytes = wb.save_to_buffer().map_err(xe)?;
            write_atomic(&path, &bytes)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// The folder of the bundled blank forms, made by `zonestat template -o templates/forms`.
pub fn bundled_forms_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/forms"))
}

/// Builds a request from the command line's words.
///
/// # Errors
/// [`Error::Input`] for an unknown zone code or form.
pub fn request(
    cat: &Catalogue,
    period: Option<Period>,
    zone: &str,
    form: Option<&str>,
    out_dir: PathBuf,
) -> Result<TemplateRequest, Error> {
    let (zones, city) = match zone {
        "all" => (cat.zones.iter().map(|z| z.code.clone()).collect(), true),
        "city" => (Vec::new(), true),
        code => match cat
            .zones
            .iter()
            .find(|z| z.code.eq_ignore_ascii_case(code) || z.short == code)
        {
            Some(z) => (vec![z.code.clone()], false),
            None => {
                let known: Vec<&str> = cat.zones.iter().map(|z| z.code.as_str()).collect();
                return Err(Error::Input {
                    path: format!("--zone {code}"),
                    message: format!("未知的开发区代码，应为 {}、all 或 city", known.join("、")),
                });
            }
        },
    };
    let forms = match form {
        None => Vec::new(),
        Some(f) => {
            let by_index = f
                .parse::<usize>()
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| cat.forms.get(i));
            let found = by_index
                .or_else(|| cat.form(f))
                .ok_or_else(|| Error::Input {
                    path: format!("--form {f}"),
                    message: format!("未知的报表，应为 1-{} 或表号", cat.forms.len()),
                })?;
            vec![found.number.clone()]
        }
    };
    Ok(TemplateRequest {
        period,
        zones,
        city,
        forms,
        out_dir,
    })
}
