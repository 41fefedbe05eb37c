//! Cell formats, column widths measured for Chinese text, the page setup
//! every sheet shares (A4 landscape, one page wide, page numbers), and the
//! pieces of a table: header rows, row labels, a section title that starts
//! a new page when its table would not begin on this one.

use std::borrow::BorrowMut;
use std::collections::{BTreeMap, HashMap};

use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Formula, Worksheet, XlsxError};

use crate::assess::Status;
use crate::catalog::{Catalogue, Ratio};
use crate::model::Severity;

pub(super) type Res<T> = Result<T, XlsxError>;

/// The body font: the usual one of Chinese office documents. A program that
/// lacks it substitutes its own CJK font.
const FONT: &str = "宋体";
const FONT_SIZE: f64 = 11.0;
/// What a missing value shows.
pub(super) const MISSING: &str = "—";
/// Width units of a CJK character and of an ASCII one at the body font
/// (a unit is the width of a digit of the default font).
#[cfg(test)]
const WIDE: f64 = 2.1;
const NARROW: f64 = 1.1;
const PADDING: f64 = 1.6;
/// Header texts wider than this wrap onto a second line instead of widening the column.
const HEADER_MAX: f64 = 13.0;
/// Points a line of text takes, per point of font size: CJK fonts set
/// their lines about 1.3 em apart.
const LINE_SPACING: f64 = 1.3;
/// Points above and below the lines of a cell.
const ROW_PADDING: f64 = 3.0;
/// Font sizes of the formats below that are not the body's.
pub(super) const ALARM_PT: f64 = 12.0;
pub(super) const NOTE_PT: f64 = 10.0;
pub(super) const SMALL_PT: f64 = 8.0;
/// The height of a row nothing sets (rust_xlsxwriter's default).
pub(super) const ROW_DEFAULT: f64 = 15.0;
/// The printable height and width of an A4 landscape page within the
/// margins `finish` sets, in points.
const PAGE_HEIGHT: f64 = 595.0 - 2.0 * 0.7 * 72.0;
const PAGE_WIDTH: f64 = 842.0 - 2.0 * 0.5 * 72.0;
/// What part of a page the pagination below fills: spreadsheet programs
/// substitute fonts and round heights, so the estimate keeps a margin.
const PAGE_FILL: f64 = 0.92;
/// A column's width when nothing sets it.
const DEFAULT_WIDTH: f64 = 8.43;
/// A table starts on a new page unless its title, header and two rows fit.
const TABLE_START: f64 = 4.0 * 18.0;

/// How a number is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Num {
    /// Money and other amounts: two decimals with thousands separators.
    Amount,
    /// Things counted (the 计数 dimension): whole numbers.
    Count,
    /// Percentages and percentage points: two decimals.
    Pct,
    /// Completion and schedule: one decimal.
    Pct1,
    /// As written (target values: 10, 8.5, 0.5).
    General,
}

impl Num {
    fn code(self) -> &'static str {
        match self {
            Num::Amount => "#,##0.00",
            Num::Count => "#,##0",
            Num::Pct => "0.00",
            Num::Pct1 => "0.0",
            Num::General => "General",
        }
    }

    /// The format for a value in `unit`: counts whole, percentages and
    /// percentage points (units not in the catalogue) as percentages,
    /// everything else as an amount.
    pub(super) fn of_unit(cat: &Catalogue, unit: &str) -> Num {
        match cat.unit(unit).map(|u| u.dimension.as_str()) {
            Some("计数") => Num::Count,
            Some("人民币") | Some("美元") => Num::Amount,
            _ => Num::Pct,
        }
    }

    /// How many characters a spreadsheet shows for `v` (digits, sign,
    /// decimal point and thousands separators), for measuring; counted
    /// without writing the number out, since a big workbook measures every
    /// cell it writes.
    fn shown_len(self, v: f64) -> usize {
        let decimals: i32 = match self {
            Num::Amount | Num::Pct => 2,
            Num::Count => 0,
            Num::Pct1 => 1,
            Num::General => return format!("{v}").len(),
        };
        let scale = 10f64.powi(decimals);
        let int = ((v.abs() * scale).round() / scale).trunc();
        // at least one digit; `log10` of a huge number is still finite
        let digits = if int < 1.0 {
            1
        } else {
            int.log10().floor() as usize + 1
        };
        let commas = if matches!(self, Num::Amount | Num::Count) {
            (digits - 1) / 3
        } else {
            0
        };
        let point = if decimals > 0 {
            1 + decimals as usize
        } else {
            0
        };
        usize::from(v < 0.0) + digits + commas + point
    }
}

/// A cell's colour, by what it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Tone {
    Plain,
    Good,
    Bad,
    Warn,
    Grey,
}

impl Tone {
    pub(super) fn of(status: Status) -> Tone {
        match status {
            Status::Met => Tone::Good,
            Status::NotMet | Status::Behind => Tone::Bad,
            Status::DataMissing => Tone::Grey,
            Status::OnSchedule | Status::NotDue => Tone::Plain,
        }
    }

    pub(super) fn of_severity(s: Severity) -> Tone {
        match s {
            Severity::Error => Tone::Bad,
            Severity::Warning => Tone::Warn,
            Severity::Info => Tone::Plain,
        }
    }

    /// Excel's own "good", "bad", "neutral" cell styles, and a grey.
    fn apply(self, f: Format) -> Format {
        let (fill, font) = match self {
            Tone::Plain => return f,
            Tone::Good => (0xC6EFCE, 0x006100),
            Tone::Bad => (0xFFC7CE, 0x9C0006),
            Tone::Warn => (0xFFEB9C, 0x9C5700),
            Tone::Grey => (0xD9D9D9, 0x404040),
        };
        f.set_background_color(Color::RGB(fill))
            .set_font_color(Color::RGB(font))
    }
}

/// The formats, built on demand (rust_xlsxwriter shares equal formats).
pub(super) mod fmt {
    use super::*;

    pub fn base() -> Format {
        Format::new()
            .set_font_name(FONT)
            .set_font_size(FONT_SIZE)
            .set_align(FormatAlign::VerticalCenter)
    }

    /// A table cell: thin grey borders.
    pub fn cell() -> Format {
        base()
            .set_border(FormatBorder::Thin)
            .set_border_color(Color::RGB(0x999999))
    }

    pub fn text() -> Format {
        cell()
    }

    pub fn wrap() -> Format {
        cell().set_text_wrap()
    }

    pub fn center() -> Format {
        cell().set_align(FormatAlign::Center)
    }

    pub fn toned(f: Format, tone: Tone) -> Format {
        tone.apply(f)
    }

    /// A status word: centred, bold, coloured.
    pub fn status(s: Status) -> Format {
        Tone::of(s).apply(center().set_bold())
    }

    pub fn number(n: Num) -> Format {
        cell()
            .set_num_format(n.code())
            .set_align(FormatAlign::Right)
    }

    pub fn missing() -> Format {
        cell()
            .set_align(FormatAlign::Center)
            .set_font_color(Color::RGB(0x808080))
    }

    pub fn header() -> Format {
        cell()
            .set_bold()
            .set_background_color(Color::RGB(0xDDEBF7))
            .set_align(FormatAlign::Center)
            .set_text_wrap()
    }

    /// A row label in a key-value block.
    pub fn label() -> Format {
        cell().set_bold().set_background_color(Color::RGB(0xF2F2F2))
    }

    /// A heading: the sheet's title, a table's section title.
    fn heading(size: f64) -> Format {
        base().set_font_name("黑体").set_font_size(size).set_bold()
    }

    pub fn title() -> Format {
        heading(16.0).set_align(FormatAlign::Center)
    }

    /// The signature block under the cover: no borders, room to sign.
    pub fn signature() -> Format {
        base().set_text_wrap().set_align(FormatAlign::Bottom)
    }

    pub fn section() -> Format {
        heading(12.0)
    }

    /// A remark under a table.
    pub fn note() -> Format {
        base()
            .set_font_size(10)
            .set_font_color(Color::RGB(0x404040))
            .set_text_wrap()
            .set_align(FormatAlign::Top)
    }

    /// A line that says whether the data are whole, bold and coloured.
    fn banner() -> Format {
        base().set_bold().set_font_size(ALARM_PT).set_text_wrap()
    }

    /// The red line of an incomplete run.
    pub fn alarm() -> Format {
        banner()
            .set_font_color(Color::White)
            .set_background_color(Color::RGB(0xC00000))
    }

    /// The green line of a complete run: Excel's "good" colours.
    pub fn fine() -> Format {
        Tone::Good.apply(banner())
    }
}

/// Display width of a text in column-width units; the widest line counts.
pub(super) fn text_width(s: &str) -> f64 {
    crate::text::display_width(s)
}

/// The A1 address of a cell on a sheet.
pub(super) fn a1(row: u32, col: u16) -> String {
    crate::model::Cell::new(row, col as u32).to_string()
}

/// A formula term summing the cells of some indicators in one column:
/// `E7` or `(E7+E8)`; None when an indicator has no row.
pub(super) fn sum_expr(codes: &[String], rows: &BTreeMap<String, u32>, col: u16) -> Option<String> {
    let cells: Option<Vec<String>> = codes
        .iter()
        .map(|c| rows.get(c).map(|r| a1(*r, col)))
        .collect();
    let cells = cells?;
    Some(if cells.len() == 1 {
        cells[0].clone()
    } else {
        format!("({})", cells.join("+"))
    })
}

/// The terms of a ratio's formula in one column: numerator and
/// denominator (see [`sum_expr`]); None when an indicator has no row.
pub(super) fn ratio_terms(
    r: &Ratio,
    rows: &BTreeMap<String, u32>,
    col: u16,
) -> Option<(String, String)> {
    sum_expr(&r.numerator, rows, col).zip(sum_expr(&r.denominator, rows, col))
}

/// Lines a text takes when wrapped in `width` units (a rough count, on the safe side).
pub(super) fn lines_in(s: &str, width: f64) -> usize {
    lines_at(s, width, FONT_SIZE)
}

/// Lines a text in a font of `size` points takes when wrapped in `width` units.
pub(super) fn lines_at(s: &str, width: f64, size: f64) -> usize {
    let usable = (width - 0.8).max(1.0);
    let scale = size / FONT_SIZE;
    s.lines()
        .map(|l| ((text_width(l) * scale / usable).ceil() as usize).max(1))
        .sum::<usize>()
        .max(1)
}

/// The height in points of a row that holds `lines` lines of a font of `size` points.
pub(super) fn row_height(lines: usize, size: f64) -> f64 {
    lines as f64 * size * LINE_SPACING + ROW_PADDING
}

/// The points a column of `width` units takes (Excel's pixel rule at the
/// default font: 7 pixels a unit and 5 of padding, 0.75 points a pixel).
fn column_points(width: f64) -> f64 {
    ((width * 7.0 + 5.0).trunc()) * 0.75
}

/// Lays `items` out in lines of at most `width` units joined by `sep`,
/// breaking only between items, so that no code (`T22`) is split.
pub(super) fn item_lines(items: &[&str], sep: &str, width: f64) -> String {
    let usable = (width - 1.0).max(1.0);
    let mut out = String::new();
    let mut line = 0.0;
    for (i, item) in items.iter().enumerate() {
        let w = text_width(item)
            + if i + 1 < items.len() {
                text_width(sep)
            } else {
                0.0
            };
        if line > 0.0 && line + w > usable {
            out.push('\n');
            line = 0.0;
        }
        out.push_str(item);
        if i + 1 < items.len() {
            out.push_str(sep);
        }
        line += w;
    }
    out
}

/// A header text broken before a bracket when it is too wide for one line
/// of `width` units, so that a spreadsheet program does not break inside
/// the bracket (`经济增长（15分）` → `经济增长` / `（15分）`).
pub(super) fn header_lines(s: &str, width: f64) -> String {
    if s.contains('\n') || text_width(s) <= width - 0.8 {
        return s.to_string();
    }
    match s.find(['（', '(']) {
        Some(i) if i > 0 => format!("{}\n{}", &s[..i], &s[i..]),
        _ => s.to_string(),
    }
}

/// How a sheet is printed and frozen.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Setup {
    /// Rows above this one (and columns left of `freeze_col`) stay in view.
    pub freeze_row: u32,
    pub freeze_col: u16,
    /// Rows repeated at the top of every printed page.
    pub repeat: Option<(u32, u32)>,
    /// Columns repeated at the left of every printed page. A sheet that has
    /// them is too wide for one page: it is printed across pages at full
    /// size instead of being shrunk to one page wide.
    pub repeat_cols: Option<(u16, u16)>,
    /// Shrunk to one page tall as well as wide (the cover).
    pub one_page: bool,
}

/// A worksheet being written, with the widest content of each column.
///
/// It owns its worksheet (pushed into the workbook when finished), or writes
/// into one the workbook holds in constant-memory mode ([`Sheet::streamed`]).
/// Such a sheet writes rows to a temporary file as it goes, so it must be
/// written top to bottom and every row's height is set while the row is the
/// current one: wrapped text is measured against the set column widths at
/// once instead of when the sheet is finished.
pub(super) struct Sheet<W: BorrowMut<Worksheet> = Worksheet> {
    pub ws: W,
    measured: BTreeMap<u16, f64>,
    fixed: BTreeMap<u16, f64>,
    heights: BTreeMap<u32, f64>,
    /// Merged wrapped texts, sized once the widths are known.
    spans: Vec<(u32, u16, u16, String, f64)>,
    breaks: Vec<u32>,
    /// Row ranges printed on one page when they fit on one.
    keeps: Vec<(u32, u32)>,
    /// Texts merged down rows of a set-width column, sized when finished.
    downs: Vec<(u32, u32, u16, String)>,
    /// The last row written.
    bottom: u32,
    /// Row heights are set as rows are written (constant-memory mode).
    streamed: bool,
    /// Number formats by kind and tone, built once: a big sheet writes
    /// tens of thousands of numbers in a handful of formats.
    numbers: HashMap<(Num, Tone), Format>,
}

/// The number format of a kind and tone, built the first time it is asked for.
fn number_format(numbers: &mut HashMap<(Num, Tone), Format>, n: Num, tone: Tone) -> &Format {
    numbers
        .entry((n, tone))
        .or_insert_with(|| tone.apply(fmt::number(n)))
}

impl Sheet {
    pub fn new(name: &str) -> Res<Sheet> {
        let mut ws = Worksheet::new();
        ws.set_name(name)?;
        Ok(Sheet::around(ws, false))
    }
}

impl<'a> Sheet<&'a mut Worksheet> {
    /// A sheet written straight into a constant-memory worksheet of the
    /// workbook, top to bottom.
    pub fn streamed(ws: &'a mut Worksheet, name: &str) -> Res<Sheet<&'a mut Worksheet>> {
        ws.set_name(name)?;
        Ok(Sheet::around(ws, true))
    }
}

impl<W: BorrowMut<Worksheet>> Sheet<W> {
    fn around(ws: W, streamed: bool) -> Sheet<W> {
        Sheet {
            ws,
            measured: BTreeMap::new(),
            fixed: BTreeMap::new(),
            heights: BTreeMap::new(),
            spans: Vec::new(),
            breaks: Vec::new(),
            keeps: Vec::new(),
            downs: Vec::new(),
            bottom: 0,
            streamed,
            numbers: HashMap::new(),
        }
    }

    fn sheet(&mut self) -> &mut Worksheet {
        self.ws.borrow_mut()
    }

    /// A column's width as far as it is known now.
    fn width(&self, col: u16) -> f64 {
        self.fixed
            .get(&col)
            .or(self.measured.get(&col))
            .copied()
            .unwrap_or(DEFAULT_WIDTH)
            .clamp(4.0, 80.0)
    }

    /// Records a wrapped text across `c1..=c2`: measured now on a streamed
    /// sheet, when the sheet is finished otherwise.
    fn span(&mut self, row: u32, c1: u16, c2: u16, s: &str, size: f64) -> Res<()> {
        self.bottom = self.bottom.max(row);
        let known = (c1..=c2).all(|c| self.fixed.contains_key(&c));
        if !self.streamed && !known {
            self.spans.push((row, c1, c2, s.to_string(), size));
            return Ok(());
        }
        let width: f64 = (c1..=c2).map(|c| self.width(c)).sum();
        let lines = lines_at(s, width, size);
        if c1 < c2 || lines > 1 {
            self.lines_sized(row, lines, size);
        }
        Ok(())
    }

    /// Keeps rows `r1..=r2` on one page when they fit on one (a target's
    /// rows, a table's title and header with its first rows).
    pub fn keep(&mut self, r1: u32, r2: u32) {
        self.keeps.push((r1, r2));
    }

    /// The points of the sheet's rows a printed page holds below its
    /// repeated rows: the page's height over the shrink that fitting the
    /// columns to one page wide takes.
    fn page_points(&self, widths: &BTreeMap<u16, f64>, repeat: Option<(u32, u32)>) -> f64 {
        let total: f64 = widths
            .values()
            .map(|w| column_points(w.clamp(4.0, 80.0)))
            .sum();
        let scale = if total > PAGE_WIDTH {
            PAGE_WIDTH / total
        } else {
            1.0
        };
        let repeated: f64 = repeat.map_or(0.0, |(a, b)| (a..=b).map(|r| self.row_points(r)).sum());
        PAGE_HEIGHT / scale * PAGE_FILL - repeated
    }

    fn row_points(&self, row: u32) -> f64 {
        self.heights.get(&row).copied().unwrap_or(ROW_DEFAULT)
    }

    /// The widths the sheet has now, set or measured.
    fn widths(&self) -> BTreeMap<u16, f64> {
        let mut widths = self.measured.clone();
        widths.extend(self.fixed.iter().map(|(c, w)| (*c, *w)));
        widths
    }

    /// Whether `points` more fit on the page that row `row` would start on,
    /// for a sheet that repeats rows `repeat` and breaks its pages only by
    /// [`Sheet::page_break`] (the caller starts a new page when not, writing
    /// the table's header again). Every width must be set by then.
    pub fn fits(&self, row: u32, points: f64, repeat: Option<(u32, u32)>) -> bool {
        let page = self.page_points(&self.widths(), repeat);
        let from = self.breaks.iter().copied().filter(|b| *b <= row).max();
        let used: f64 = match from {
            Some(b) => (b..row).map(|r| self.row_points(r)).sum(),
            None => (repeat.map_or(0, |(_, b)| b + 1)..row)
                .map(|r| self.row_points(r))
                .sum(),
        };
        used + points <= page
    }

    /// Starts a new page at `row` when `points` more do not fit on the page
    /// (see [`Sheet::fits`]), writing a table's header `heads` again at the
    /// top of the new page when there are any; returns the row to go on at.
    pub fn room<S: AsRef<str>>(
        &mut self,
        row: u32,
        points: f64,
        repeat: Option<(u32, u32)>,
        heads: &[S],
    ) -> Res<u32> {
        if self.fits(row, points, repeat) {
            return Ok(row);
        }
        self.page_break(row);
        if heads.is_empty() {
            return Ok(row);
        }
        self.headers(row, 0, heads)?;
        Ok(row + 1)
    }

    /// A new table's section title across columns `0..=last`, after the
    /// blank row `row` (the first free one); at the top of a new page when
    /// the title, the header and two rows would not fit below it
    /// ([`TABLE_START`], see [`Sheet::fits`]). Returns the row below the title.
    pub fn table_title(
        &mut self,
        row: u32,
        last: u16,
        title: &str,
        repeat: Option<(u32, u32)>,
    ) -> Res<u32> {
        let row = self.room::<&str>(row + 1, TABLE_START, repeat, &[])?;
        self.merged(row, 0, last, title, &fmt::section(), false)?;
        Ok(row + 1)
    }

    /// The height a row will take that holds `s` in the set-width column `col`.
    pub fn height_of(&self, col: u16, s: &str) -> f64 {
        row_height(lines_in(s, self.width(col)), FONT_SIZE).max(ROW_DEFAULT)
    }

    /// Page breaks before the kept ranges that would otherwise be split,
    /// following the pages as the program fills them.
    fn paginate(&mut self, widths: &BTreeMap<u16, f64>, repeat: Option<(u32, u32)>) {
        if self.keeps.is_empty() {
            return;
        }
        let page = self.page_points(widths, repeat);
        let start = repeat.map_or(0, |(_, b)| b + 1);
        let mut keeps = self.keeps.clone();
        keeps.sort();
        let mut used = (0..start).map(|r| self.row_points(r)).sum::<f64>()
            - repeat.map_or(0.0, |(a, b)| (a..=b).map(|r| self.row_points(r)).sum());
        let mut row = start;
        while row <= self.bottom {
            if self.breaks.contains(&row) {
                used = 0.0;
            }
            if let Some(&(_, r2)) = keeps.iter().find(|(r1, _)| *r1 == row) {
                let block: f64 = (row..=r2).map(|r| self.row_points(r)).sum();
                if used > 0.0 && used + block > page && block <= page {
                    self.breaks.push(row);
                    used = 0.0;
                }
            }
            let h = self.row_points(row);
            if used > 0.0 && used + h > page {
                used = 0.0;
            }
            used += h;
            row += 1;
        }
    }

    /// Gives a column a set width (for wrapped text) instead of a measured one.
    pub fn fix(&mut self, col: u16, width: f64) {
        self.fixed.insert(col, width);
    }

    /// Sets the widths of several columns (see [`Sheet::fix`]).
    pub fn fix_all(&mut self, widths: &[(u16, f64)]) {
        for &(col, width) in widths {
            self.fix(col, width);
        }
    }

    fn measure(&mut self, col: u16, w: f64) {
        let w = w + PADDING;
        let e = self.measured.entry(col).or_insert(0.0);
        if w > *e {
            *e = w;
        }
    }

    /// Asks for a row at least `lines` lines high.
    pub fn lines(&mut self, row: u32, lines: usize) {
        self.height(row, row_height(lines, FONT_SIZE));
    }

    /// Asks for a row at least `lines` lines of a `size`-point font high.
    pub fn lines_sized(&mut self, row: u32, lines: usize, size: f64) {
        self.height(row, row_height(lines, size));
    }

    fn height(&mut self, row: u32, h: f64) {
        let e = self.heights.entry(row).or_insert(0.0);
        if h > *e {
            *e = h;
            if self.streamed {
                // Only the current row can still take it.
                let _ = self.sheet().set_row_height(row, h);
            }
        }
    }

    pub fn page_break(&mut self, row: u32) {
        self.breaks.push(row);
    }

    pub fn text(&mut self, row: u32, col: u16, s: &str, f: &Format) -> Res<()> {
        self.bottom = self.bottom.max(row);
        let s = &*crate::text::fit_cell(s);
        self.sheet().write_string_with_format(row, col, s, f)?;
        if !self.fixed.contains_key(&col) {
            self.measure(col, text_width(s));
        }
        Ok(())
    }

    /// Text in a column of set width that wraps; the row is made high enough
    /// to hold it (LibreOffice does not size rows of a file on opening).
    pub fn wrapped(&mut self, row: u32, col: u16, s: &str, f: &Format) -> Res<()> {
        self.bottom = self.bottom.max(row);
        let s = &*crate::text::fit_cell(s);
        self.sheet().write_string_with_format(row, col, s, f)?;
        match self.fixed.get(&col).copied() {
            Some(w) => {
                let lines = lines_in(s, w);
                if lines > 1 {
                    self.lines(row, lines);
                }
            }
            None => self.measure(col, text_width(s)),
        }
        Ok(())
    }

    /// A header cell: long headers wrap rather than widen the column.
    pub fn header(&mut self, row: u32, col: u16, s: &str) -> Res<()> {
        let width = self
            .fixed
            .get(&col)
            .copied()
            .unwrap_or(HEADER_MAX + PADDING);
        let s = header_lines(s, width);
        self.sheet()
            .write_string_with_format(row, col, &s, &fmt::header())?;
        if !self.fixed.contains_key(&col) {
            self.measure(col, text_width(&s).min(HEADER_MAX));
        }
        self.span(row, col, col, &s, FONT_SIZE)
    }

    /// A header row from `col` on.
    pub fn headers<S: AsRef<str>>(&mut self, row: u32, col: u16, names: &[S]) -> Res<()> {
        for (i, s) in names.iter().enumerate() {
            self.header(row, col + i as u16, s.as_ref())?;
        }
        Ok(())
    }

    /// The first cells of a row of indicators, ratios or ranks in columns
    /// 0 to 2: the code centred, the name wrapped, the unit centred.
    pub fn row_labels(&mut self, row: u32, code: &str, name: &str, unit: &str) -> Res<()> {
        self.text(row, 0, code, &fmt::center())?;
        self.wrapped(row, 1, name, &fmt::wrap())?;
        self.text(row, 2, unit, &fmt::center())
    }

    /// A number, or "—" when it is missing (never 0).
    pub fn number(&mut self, row: u32, col: u16, v: Option<f64>, n: Num, tone: Tone) -> Res<()> {
        match v {
            Some(v) if v.is_finite() => {
                self.bottom = self.bottom.max(row);
                let format = number_format(&mut self.numbers, n, tone);
                self.ws
                    .borrow_mut()
                    .write_number_with_format(row, col, v, format)?;
                self.measure(col, n.shown_len(v) as f64 * NARROW);
                Ok(())
            }
            _ => self.text(row, col, MISSING, &tone.apply(fmt::missing())),
        }
    }

    /// An empty bordered cell (a value that does not apply).
    pub fn blank(&mut self, row: u32, col: u16) -> Res<()> {
        self.bottom = self.bottom.max(row);
        self.sheet().write_blank(row, col, &fmt::cell())?;
        Ok(())
    }

    /// A formula with its computed result stored, so that a reader which
    /// does not recalculate still shows the number.
    pub fn formula(
        &mut self,
        row: u32,
        col: u16,
        formula: &str,
        result: f64,
        n: Num,
        tone: Tone,
    ) -> Res<()> {
        self.bottom = self.bottom.max(row);
        let f = Formula::new(formula).set_result(format!("{result}"));
        let format = number_format(&mut self.numbers, n, tone);
        self.ws
            .borrow_mut()
            .write_formula_with_format(row, col, f, format)?;
        self.measure(col, n.shown_len(result) as f64 * NARROW);
        Ok(())
    }

    /// A formula in a custom number format (e.g. a count of "是").
    pub fn formula_custom(
        &mut self,
        row: u32,
        col: u16,
        formula: &str,
        result: f64,
        code: &str,
        shown: &str,
    ) -> Res<()> {
        let f = Formula::new(formula).set_result(format!("{result}"));
        let format = fmt::number(Num::Count).set_num_format(code);
        self.sheet()
            .write_formula_with_format(row, col, f, &format)?;
        self.measure(col, text_width(shown));
        Ok(())
    }

    /// Text across columns `c1..=c2`; when `wrap`, the row grows to hold it
    /// (spreadsheet programs do not size rows for merged cells).
    pub fn merged(
        &mut self,
        row: u32,
        c1: u16,
        c2: u16,
        s: &str,
        f: &Format,
        wrap: bool,
    ) -> Res<()> {
        if c1 == c2 && !wrap {
            return self.text(row, c1, s, f);
        }
        if wrap {
            return self.merged_sized(row, c1, c2, s, f, FONT_SIZE);
        }
        self.bottom = self.bottom.max(row);
        self.sheet().merge_range(row, c1, row, c2, s, f)?;
        Ok(())
    }

    /// Wrapped text across columns `c1..=c2` in a format whose font is
    /// `size` points: the row grows to hold its lines at that size.
    pub fn merged_sized(
        &mut self,
        row: u32,
        c1: u16,
        c2: u16,
        s: &str,
        f: &Format,
        size: f64,
    ) -> Res<()> {
        if c1 == c2 {
            self.sheet().write_string_with_format(row, c1, s, f)?;
        } else {
            self.sheet().merge_range(row, c1, row, c2, s, f)?;
        }
        self.span(row, c1, c2, s, size)
    }

    /// Text down rows `r1..=r2` of one column (a group's shared label).
    pub fn merged_down(&mut self, r1: u32, r2: u32, col: u16, s: &str, f: &Format) -> Res<()> {
        if r1 == r2 {
            return self.wrapped(r1, col, s, f);
        }
        self.bottom = self.bottom.max(r2);
        self.sheet().merge_range(r1, col, r2, col, s, f)?;
        if !self.streamed {
            self.downs.push((r1, r2, col, s.to_string()));
        }
        Ok(())
    }

    /// A title line across `c1..=c2`.
    pub fn title(&mut self, row: u32, c2: u16, s: &str) -> Res<()> {
        self.sheet()
            .merge_range(row, 0, row, c2, s, &fmt::title())?;
        self.height(row, 30.0);
        Ok(())
    }

    /// Applies widths, row heights and the page setup.
    pub fn finish(mut self, header: &str, setup: Setup) -> Res<W> {
        let mut widths = self.measured.clone();
        widths.extend(self.fixed.iter().map(|(c, w)| (*c, *w)));
        for (col, w) in &widths {
            self.sheet().set_column_width(*col, w.clamp(4.0, 80.0))?;
        }
        for (row, c1, c2, text, size) in std::mem::take(&mut self.spans) {
            let width: f64 = (c1..=c2)
                .map(|c| {
                    widths
                        .get(&c)
                        .copied()
                        .unwrap_or(DEFAULT_WIDTH)
                        .clamp(4.0, 80.0)
                })
                .sum();
            let lines = lines_at(&text, width, size);
            if c1 < c2 || lines > 1 {
                self.lines_sized(row, lines, size);
            }
        }
        // A text merged down several rows needs their heights together;
        // what they lack goes to the last one.
        for (r1, r2, col, text) in std::mem::take(&mut self.downs) {
            let width = widths.get(&col).copied().unwrap_or(DEFAULT_WIDTH);
            let need = row_height(lines_in(&text, width.clamp(4.0, 80.0)), FONT_SIZE);
            let have: f64 = (r1..=r2).map(|r| self.row_points(r)).sum();
            if need > have {
                let last = self.row_points(r2) + need - have;
                self.height(r2, last);
            }
        }
        self.paginate(&widths, setup.repeat);
        if !self.streamed {
            // Every row gets its height, so that programs which size rows
            // to their own fonts print the pages the pagination counted.
            for row in 0..=self.bottom {
                self.heights.entry(row).or_insert(ROW_DEFAULT);
            }
            for (row, h) in std::mem::take(&mut self.heights) {
                self.sheet().set_row_height(row, h)?;
            }
        }
        let breaks = self.breaks.clone();
        let ws = self.sheet();
        ws.set_paper_size(9);
        ws.set_landscape();
        if setup.one_page {
            ws.set_print_fit_to_pages(1, 1);
        } else if setup.repeat_cols.is_none() {
            ws.set_print_fit_to_pages(1, 0);
        }
        ws.set_print_center_horizontally(true);
        ws.set_margins(0.5, 0.5, 0.7, 0.7, 0.3, 0.3);
        ws.set_header(format!("&L&9{}", header.replace('&', "&&")));
        ws.set_footer(format!("&C第 &P 页 共 &N 页&R&7{}", super::MADE_BY));
        if setup.freeze_row > 0 || setup.freeze_col > 0 {
            ws.set_freeze_panes(setup.freeze_row, setup.freeze_col)?;
        }
        if let Some((a, b)) = setup.repeat {
            ws.set_repeat_rows(a, b)?;
        }
        if let Some((a, b)) = setup.repeat_cols {
            ws.set_repeat_columns(a, b)?;
        }
        let mut breaks = breaks;
        breaks.sort();
        breaks.dedup();
        if !breaks.is_empty() {
            ws.set_page_breaks(&breaks)?;
        }
        Ok(self.ws)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_is_measured_wide() {
        assert!((text_width("规上工业增加值") - 7.0 * WIDE).abs() < 1e-9);
        assert!((text_width("A01") - 3.0 * NARROW).abs() < 1e-9);
        assert!((text_width("R&D经费") - (3.0 * NARROW + 2.0 * WIDE)).abs() < 1e-9);
        assert_eq!(lines_in("短", 10.0), 1);
        assert_eq!(lines_in(&"字".repeat(20), 12.0), 4);
    }

    #[test]
    fn numbers_are_measured_as_shown() {
        // as shown: 1,209.00  5  133.1  -12.35  1,000,000  9.9  0.00
        assert_eq!(Num::Amount.shown_len(1209.0), 8);
        assert_eq!(Num::Count.shown_len(5.0), 1);
        assert_eq!(Num::Pct1.shown_len(133.14), 5);
        assert_eq!(Num::Pct.shown_len(-12.345), 6);
        assert_eq!(Num::Count.shown_len(999_999.6), 9);
        assert_eq!(Num::Pct1.shown_len(9.94), 3);
        assert_eq!(Num::Amount.shown_len(0.001), 4);
        assert_eq!(Num::General.shown_len(0.5), 3);
    }
}
