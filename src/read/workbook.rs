//! Bytes → sheets of cells: what a worker process runs on a file
//! ([`parse`]), and the types it hands back. The only place that knows
//! calamine, the one reader: an xlsx (or xlsm) sheet is streamed cell by
//! cell, xls, xlsb and ods sheets come as ranges. Only the region a form can
//! occupy (the catalogue's `max_rows` × `max_columns`) is kept, cells outside
//! it are counted and reported, and a text longer than `max_cell_chars` is
//! cut. A zip package's directory is checked first (declared parts, sizes,
//! compression, encryption), for messages a clerk can act on. Whatever else a
//! crafted file makes calamine do (abort, loop, allocate without end) is
//! contained by the worker's limits (`pool.rs`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{Cursor, Read};

use calamine::{
    Data, Ods, Range, Reader, Xls, Xlsb, Xlsx, XlsxError, XlsxFormulaMetadata,
    expand_shared_formula, open_workbook_from_rs,
};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use zip::ZipArchive;

use crate::catalog::Limits;
use crate::model::Cell;
use crate::text::format_number;

/// What the bytes of a file are, by content (never by extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FileType {
    /// Office Open XML (.xlsx), a zip package.
    Xlsx,
    /// Office Open XML with macros (.xlsm): read like an xlsx (macros are not run).
    Xlsm,
    /// Excel binary workbook (.xlsb), a zip package of binary parts.
    Xlsb,
    /// Excel 97-2003 (.xls), an OLE2 compound file.
    Xls,
    /// OpenDocument spreadsheet (.ods), a zip package.
    Ods,
    /// An OLE2 file holding an encrypted (password-protected) xlsx package.
    EncryptedXlsx,
    /// A zip package that is neither (or damaged).
    OtherZip,
    /// Anything else.
    Other,
}

impl FileType {
    /// The extension that matches the content.
    pub fn extension(self) -> Option<&'static str> {
        match self {
            FileType::Xlsx | FileType::EncryptedXlsx => Some("xlsx"),
            FileType::Xlsm => Some("xlsm"),
            FileType::Xlsb => Some("xlsb"),
            FileType::Xls => Some("xls"),
            FileType::Ods => Some("ods"),
            _ => None,
        }
    }
}

const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Tells a workbook's type from its bytes (the names in a zip package's
/// headers), without parsing them. An xlsm is told from an xlsx by what
/// its package declares, in the worker ([`Opened::macro_enabled`]).
pub fn sniff(bytes: &[u8]) -> FileType {
    let has = |name: &[u8]| memchr::memmem::find(bytes, name).is_some();
    if bytes.starts_with(&OLE2_MAGIC) {
        // An encrypted OOXML package is an OLE2 file with an EncryptionInfo stream.
        if has(b"E\0n\0c\0r\0y\0p\0t\0i\0o\0n\0I\0n\0f\0o\0") {
            return FileType::EncryptedXlsx;
        }
        return FileType::Xls;
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let head = &bytes[..bytes.len().min(200)];
        let head_has = |name: &[u8]| memchr::memmem::find(head, name).is_some();
        if head_has(b"mimetype") && head_has(b"opendocument.spreadsheet") {
            return FileType::Ods;
        }
        if has(b"xl/workbook.bin") {
            return FileType::Xlsb;
        }
        if has(b"xl/workbook.xml") || has(b"[Content_Types].xml") {
            // (or an xlsm: the worker looks into the package)
            return FileType::Xlsx;
        }
        if has(b"content.xml") {
            return FileType::Ods;
        }
        return FileType::OtherZip;
    }
    FileType::Other
}

/// A sheet's cell as the forms need it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub enum CellValue {
    #[default]
    Empty,
    Number(f64),
    Text(String),
    Bool(bool),
    /// A spreadsheet error value such as `#DIV/0!`.
    Error(String),
    /// A date-typed cell (a serial number with a date format in xlsx, xls
    /// and xlsb, a date value in ods): the day it shows, and what it stores.
    Date {
        year: u16,
        month: u8,
        day: u8,
        stored: Stored,
    },
}

/// What a date cell stores in the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Stored {
    /// The serial number (days since 1900 or 1904).
    Serial(f64),
    /// The ISO 8601 text of an ods date value.
    Iso(String),
}

impl CellValue {
    /// The value as a person reads it in the cell.
    pub fn display(&self) -> String {
        match self {
            CellValue::Empty => String::new(),
            CellValue::Number(n) => format_number(*n),
            CellValue::Text(s) => s.clone(),
            CellValue::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
            CellValue::Error(e) => e.clone(),
            CellValue::Date { .. } => self.undated().display(),
        }
    }

    /// Empty, or text of spaces only.
    pub fn is_empty(&self) -> bool {
        match self {
            CellValue::Text(s) => s.trim().is_empty(),
            other => *other == CellValue::Empty,
        }
    }

    /// A date cell as the number or text it stores (the other cells as they
    /// are): where a value is read, a date format changes nothing.
    pub fn undated(&self) -> Cow<'_, CellValue> {
        match self {
            CellValue::Date {
                stored: Stored::Serial(n),
                ..
            } => Cow::Owned(CellValue::Number(*n)),
            CellValue::Date {
                stored: Stored::Iso(s),
                ..
            } => Cow::Owned(CellValue::Text(s.clone())),
            other => Cow::Borrowed(other),
        }
    }
}

/// One worksheet: the cells that hold something, at their sheet positions,
/// and its formulas. Only the cells of the region read are here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sheet {
    pub name: String,
    /// First row and column of the cells with a value.
    origin: (u32, u32),
    /// One past the last row and column with a value (equal to `origin` when none).
    end: (u32, u32),
    cells: FxHashMap<(u32, u32), CellValue>,
    formulas: FxHashMap<(u32, u32), String>,
}

impl Sheet {
    /// The first row past the used area.
    pub fn end_row(&self) -> u32 {
        self.end.0
    }

    /// The first column past the used area.
    pub fn end_col(&self) -> u32 {
        self.end.1
    }

    pub fn first_row(&self) -> u32 {
        self.origin.0
    }

    /// The cell at a sheet position (Empty outside the used area).
    pub fn get(&self, at: Cell) -> &CellValue {
        static EMPTY: CellValue = CellValue::Empty;
        self.cells.get(&(at.row, at.col)).unwrap_or(&EMPTY)
    }

    /// The cells that hold something, in no particular order.
    pub fn cells(&self) -> impl Iterator<Item = (Cell, &CellValue)> {
        self.cells.iter().map(|(&(r, c), v)| (Cell::new(r, c), v))
    }

    /// The formula in a cell, if it holds one.
    pub fn formula(&self, at: Cell) -> Option<&str> {
        self.formulas.get(&(at.row, at.col)).map(String::as_str)
    }

    /// Text of a cell, trimmed (a number as it reads); empty for other cells.
    pub fn text(&self, at: Cell) -> Cow<'_, str> {
        // (a date cell as the number or text it stores, as before dates were told apart)
        match self.get(at) {
            CellValue::Text(s)
            | CellValue::Date {
                stored: Stored::Iso(s),
                ..
            } => Cow::Borrowed(s.trim()),
            CellValue::Number(n)
            | CellValue::Date {
                stored: Stored::Serial(n),
                ..
            } => Cow::Owned(format_number(*n)),
            _ => Cow::Borrowed(""),
        }
    }
}

/// A limit a file reached: the rule it breaks and a message for the clerk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitHit {
    /// One of [`crate::model::RULES`].
    pub rule: String,
    pub sheet: Option<String>,
    /// Row and column, from 0.
    pub cell: Option<(u32, u32)>,
    pub message: String,
}

/// Why a workbook could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpenError {
    Password,
    /// calamine (or the zip crate) could not read it: their words.
    Damaged(String),
    /// Reading it would pass one of the catalogue's limits.
    Limit(LimitHit),
    /// The parser panicked (the message says where).
    Panic(String),
}

impl OpenError {
    /// A limit the workbook passed (on `sheet`, where it is known).
    pub fn limit(rule: &str, sheet: Option<&str>, message: String) -> OpenError {
        OpenError::Limit(LimitHit {
            rule: rule.to_string(),
            sheet: sheet.map(str::to_string),
            cell: None,
            message,
        })
    }
}

/// The sheets of a workbook, and notes about what was left out of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    pub sheets: Vec<Sheet>,
    /// Warnings: cells outside the region read, texts cut.
    pub notes: Vec<LimitHit>,
    /// An xlsx package whose `[Content_Types].xml` declares macros (an .xlsm).
    pub macro_enabled: bool,
}

/// Reads workbook bytes of a known type: every sheet, within the limits.
/// This is what a worker process runs on a file; formulas are read too, so a
/// formula cell with no saved result can be told from an empty cell.
///
/// It may panic, abort, loop or allocate without end on a crafted file
/// (calamine does on some): run it in a worker (`read::Pool`), or inside
/// `guard::isolate` where a panic is all that is feared (the fuzz target).
///
/// # Errors
/// [`OpenError::Password`] for protected workbooks, [`OpenError::Limit`] when
/// the file asks for more than the limits allow, [`OpenError::Damaged`] with
/// the parser's words for anything it cannot read.
///
/// # Examples
/// ```
/// use zonestat::catalog::Limits;
/// use zonestat::read::workbook::{FileType, OpenError, parse};
/// let e = parse(b"PK\x03\x04garbage", FileType::Xlsx, &Limits::default()).unwrap_err();
/// assert!(matches!(e, OpenError::Damaged(_)));
/// ```
pub fn parse(bytes: &[u8], kind: FileType, limits: &Limits) -> Result<Opened, OpenError> {
    let book = || Cursor::new(bytes);
    match kind {
        FileType::Xlsx | FileType::Xlsm | FileType::OtherZip => {
            check_package(bytes, limits)?;
            let book = open_workbook_from_rs::<Xlsx<_>, _>(book()).map_err(damaged)?;
            let mut opened = open_xlsx(book, limits)?;
            opened.macro_enabled = macro_enabled(bytes);
            Ok(opened)
        }
        FileType::Xlsb => {
            check_package(bytes, limits)?;
            from_ranges(
                open_workbook_from_rs::<Xlsb<_>, _>(book()).map_err(damaged)?,
                limits,
            )
        }
        FileType::Ods => {
            check_package(bytes, limits)?;
            from_ranges(
                open_workbook_from_rs::<Ods<_>, _>(book()).map_err(damaged)?,
                limits,
            )
        }
        FileType::Xls => from_ranges(
            open_workbook_from_rs::<Xls<_>, _>(book()).map_err(damaged)?,
            limits,
        ),
        FileType::EncryptedXlsx => Err(OpenError::Password),
        FileType::Other => Err(OpenError::Damaged("not a spreadsheet".into())),
    }
}

fn damaged(e: impl std::fmt::Display) -> OpenError {
    let message = e.to_string();
    if message.to_lowercase().contains("password") {
        return OpenError::Password;
    }
    OpenError::Damaged(message)
}

fn too_many_sheets(count: usize, limits: &Limits) -> Result<(), OpenError> {
    if count as u64 <= limits.max_sheets {
        return Ok(());
    }
    Err(OpenError::limit(
        "file.too_many_sheets",
        None,
        format!(
            "工作簿有 {count} 个工作表，超过上限 {} 个（limits.max_sheets），未读取。请只保留报表所在的工作表后重新保存发送。",
            limits.max_sheets
        ),
    ))
}

/// An xlsx, streamed: cells outside the region are counted, never stored.
fn open_xlsx(mut book: Xlsx<Cursor<&[u8]>>, limits: &Limits) -> Result<Opened, OpenError> {
    let names = book.sheet_names();
    too_many_sheets(names.len(), limits)?;
    let mut out = Opened::default();
    let mut stored = Budget::new(limits);
    for name in names {
        let mut sheet = Builder::new(&name, limits);
        let mut cells = match book.worksheet_cells_reader(&name) {
            Ok(r) => r,
            // A chart sheet: no cells.
            Err(XlsxError::NotAWorksheet(_)) => {
                out.sheets.push(sheet.finish(&mut out.notes));
                continue;
            }
            Err(e) => return Err(damaged(e)),
        };
        // Shared formulas by index: their text and the cell they were written for.
        let mut shared: HashMap<usize, (String, (u32, u32))> = HashMap::new();
        while let Some(c) = cells.next_cell_with_formula_metadata().map_err(damaged)? {
            let at = c.pos;
            let formula = match c.formula {
                Some(XlsxFormulaMetadata::Normal { formula }) => Some(formula),
                Some(XlsxFormulaMetadata::Shared {
                    shared_index,
                    range,
                    formula,
                }) => {
                    let start = range.map(|r| r.start).unwrap_or(at);
                    if sheet.inside(start) || range.is_none() {
                        shared.insert(shared_index, (formula.clone(), start));
                    }
                    Some(formula)
                }
                Some(XlsxFormulaMetadata::SharedDerived { shared_index }) if sheet.inside(at) => {
                    shared
                        .get(&shared_index)
                        .and_then(|(f, start)| expand_shared_formula(f, *start, at).ok())
                }
                _ => None,
            };
            sheet.put(at, Data::from(c.value), formula, &mut stored)?;
        }
        out.sheets.push(sheet.finish(&mut out.notes));
    }
    Ok(out)
}

/// An xls, xlsb or ods, whose sheets calamine reads whole, as ranges.
fn from_ranges<'b, R: Reader<Cursor<&'b [u8]>>>(
    mut book: R,
    limits: &Limits,
) -> Result<Opened, OpenError>
where
    R::Error: std::fmt::Display,
{
    let names = book.sheet_names();
    too_many_sheets(names.len(), limits)?;
    let mut out = Opened::default();
    let mut stored = Budget::new(limits);
    for name in names {
        let range = book.worksheet_range(&name).map_err(damaged)?;
        let formulas = book.worksheet_formula(&name).unwrap_or_default();
        let mut sheet = Builder::new(&name, limits);
        for (at, v) in placed(&range) {
            sheet.put(at, v.clone(), None, &mut stored)?;
        }
        drop(range);
        // (a formula outside the region was counted with its value)
        for (at, f) in placed(&formulas) {
            if sheet.inside(at) {
                sheet.put(at, Data::Empty, Some(f.clone()), &mut stored)?;
            }
        }
        out.sheets.push(sheet.finish(&mut out.notes));
    }
    Ok(out)
}

/// A range's cells that hold something, at their sheet positions.
fn placed<T: calamine::CellType>(range: &Range<T>) -> impl Iterator<Item = ((u32, u32), &T)> {
    let (r0, c0) = range.start().unwrap_or((0, 0));
    range
        .used_cells()
        .map(move |(r, c, v)| ((r0 + r as u32, c0 + c as u32), v))
}

/// A sheet being read: keeps the cells of the region, counts the others.
#[derive(Default)]
struct Builder {
    sheet: Sheet,
    rows: u32,
    columns: u32,
    max_chars: usize,
    /// Cells left out, the first of them and the farthest row and column.
    ignored: u64,
    first_ignored: Option<(u32, u32)>,
    far: (u32, u32),
    /// Texts cut to `max_chars`, and the first of them.
    cut: u64,
    first_cut: Option<(u32, u32)>,
}

impl Builder {
    fn new(name: &str, limits: &Limits) -> Builder {
        Builder {
            sheet: Sheet {
                name: name.to_string(),
                ..Sheet::default()
            },
            rows: limits.max_rows,
            columns: limits.max_columns,
            max_chars: usize::try_from(limits.max_cell_chars).unwrap_or(usize::MAX),
            ..Builder::default()
        }
    }

    fn inside(&self, (row, col): (u32, u32)) -> bool {
        row < self.rows && col < self.columns
    }

    /// One cell as the parser gives it; `stored` counts what the whole
    /// workbook keeps.
    fn put(
        &mut self,
        at: (u32, u32),
        value: Data,
        formula: Option<String>,
        stored: &mut Budget,
    ) -> Result<(), OpenError> {
        let formula = formula.filter(|f| !f.is_empty());
        let has_value = value != Data::Empty;
        if !has_value && formula.is_none() {
            return Ok(());
        }
        if !self.inside(at) {
            // (a crafted address may be u32::MAX, which has no A1 form)
            let at = (at.0.min(u32::MAX - 1), at.1.min(u32::MAX - 1));
            self.ignored += 1;
            self.first_ignored.get_or_insert(at);
            self.far = (self.far.0.max(at.0), self.far.1.max(at.1));
            return Ok(());
        }
        let (v, cut) = cell_value(value, self.max_chars);
        if cut {
            self.cut += 1;
            self.first_cut.get_or_insert(at);
        }
        let text = match &v {
            CellValue::Text(s) | CellValue::Error(s) => s.len(),
            _ => 0,
        } + formula.as_ref().map_or(0, String::len);
        stored.take(text as u64, &self.sheet.name)?;
        let s = &mut self.sheet;
        if has_value {
            if s.end == s.origin {
                s.origin = at;
                s.end = (at.0 + 1, at.1 + 1);
            } else {
                s.origin = (s.origin.0.min(at.0), s.origin.1.min(at.1));
                s.end = (s.end.0.max(at.0 + 1), s.end.1.max(at.1 + 1));
            }
            if v == CellValue::Empty {
                s.cells.remove(&at);
            } else {
                s.cells.insert(at, v);
            }
        }
        if let Some(f) = formula {
            s.formulas.insert(at, f);
        }
        Ok(())
    }

    fn finish(self, notes: &mut Vec<LimitHit>) -> Sheet {
        let name = &self.sheet.name;
        if self.ignored > 0 {
            let corner = Cell::new(self.rows.saturating_sub(1), self.columns.saturating_sub(1));
            let far = Cell::new(self.far.0, self.far.1);
            notes.push(LimitHit {
                rule: "sheet.cells_ignored".into(),
                sheet: Some(name.clone()),
                cell: self.first_ignored,
                message: format!(
                    "工作表“{name}”在读取范围 A1:{corner}（前 {} 行、前 {} 列）以外还有 {} 个非空单元格（最远到 {far}），这些单元格未读取。报表应在读取范围之内；多余的内容请删除，确需更大范围请调整目录的 limits.max_rows / max_columns。",
                    self.rows, self.columns, self.ignored
                ),
            });
        }
        if let Some((row, col)) = self.first_cut {
            let others = match self.cut {
                1 => String::new(),
                n => format!("（本表共 {n} 个单元格如此）"),
            };
            notes.push(LimitHit {
                rule: "cell.text_cut".into(),
                sheet: Some(name.clone()),
                cell: Some((row, col)),
                message: format!(
                    "工作表“{name}”的单元格 {} 中的文字超过 {} 个字符（limits.max_cell_chars），只读取了前 {} 个字符{others}。",
                    Cell::new(row, col),
                    self.max_chars,
                    self.max_chars
                ),
            });
        }
        self.sheet
    }
}

/// What a workbook may keep: cells and the bytes of their text.
struct Budget {
    cells: u64,
    text: u64,
    max_cells: u64,
    max_text: u64,
}

impl Budget {
    fn new(limits: &Limits) -> Budget {
        Budget {
            cells: 0,
            text: 0,
            max_cells: limits.max_cells,
            max_text: limits.max_text_mb.saturating_mul(Limits::MIB),
        }
    }

    /// Counts one more cell kept, of `text` bytes.
    fn take(&mut self, text: u64, sheet: &str) -> Result<(), OpenError> {
        self.cells += 1;
        self.text += text;
        let hit = |rule, message| Err(OpenError::limit(rule, Some(sheet), message));
        if self.cells > self.max_cells {
            return hit(
                "file.too_many_cells",
                format!(
                    "工作簿的非空单元格超过上限 {} 个（limits.max_cells），未读取。请只保留报表所在的工作表后重新保存发送。",
                    self.max_cells
                ),
            );
        }
        if self.text > self.max_text {
            return hit(
                "file.too_much_text",
                format!(
                    "工作簿读取范围内各单元格的文字共超过 {} MB（limits.max_text_mb），未读取。报表的文字通常只有几 KB，文件可能夹带了大量其他内容或被恶意构造。",
                    self.max_text / Limits::MIB
                ),
            );
        }
        Ok(())
    }
}

/// At most `max` characters of `s`, and whether any were left out.
fn cut_text(s: &str, max: usize) -> (&str, bool) {
    match s.char_indices().nth(max) {
        Some((at, _)) => (&s[..at], true),
        None => (s, false),
    }
}

/// An ods date (`2020-06-01`, maybe with a time) as a date; a duration or
/// anything else as its text.
fn iso_value(s: &str, max: usize) -> CellValue {
    let date = || {
        let b = s.as_bytes();
        if b.len() < 10 || b[4] != b'-' || b[7] != b'-' || (b.len() > 10 && b[10] != b'T') {
            return None;
        }
        let year = s.get(0..4)?.parse().ok()?;
        let month = s.get(5..7)?.parse().ok().filter(|m| (1..=12).contains(m))?;
        let day = s
            .get(8..10)?
            .parse()
            .ok()
            .filter(|d| (1..=31).contains(d))?;
        Some(CellValue::Date {
            year,
            month,
            day,
            stored: Stored::Iso(s.to_string()),
        })
    };
    date().unwrap_or_else(|| CellValue::Text(cut_text(s, max).0.to_string()))
}

/// The value to keep, its text cut to `max` characters; whether it was cut.
fn cell_value(d: Data, max: usize) -> (CellValue, bool) {
    let v = match d {
        Data::Empty => CellValue::Empty,
        Data::Int(i) => CellValue::Number(i as f64),
        Data::Float(f) => CellValue::Number(f),
        Data::String(s) => {
            let (kept, cut) = cut_text(&s, max);
            let v = match kept {
                "" => CellValue::Empty,
                kept => CellValue::Text(kept.to_string()),
            };
            return (v, cut);
        }
        Data::Bool(b) => CellValue::Bool(b),
        Data::DateTime(d) if d.is_datetime() => {
            let (year, month, day, ..) = d.to_ymd_hms_milli();
            CellValue::Date {
                year,
                month,
                day,
                stored: Stored::Serial(d.as_f64()),
            }
        }
        Data::DateTime(d) => CellValue::Number(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => iso_value(&s, max),
        Data::Error(e) => CellValue::Error(e.to_string()),
    };
    (v, false)
}

// The zip package (xlsx, xlsm, xlsb, ods), looked at before calamine opens
// it, for what deserves a specific message to the clerk: how many parts it
// declares, how large they say they inflate and how much, whether they are
// encrypted (the zip crate's metadata; only `[Content_Types].xml` is
// inflated, to tell an xlsm).

/// Parts smaller than this are not held to the compression ratio: a sheet of
/// repeated markup compresses very well, and a few MB harm nobody (the total
/// is bounded by `max_unzipped_mb` anyway).
const RATIO_FLOOR: u64 = 10 << 20;

/// Checks a zip package's directory against the limits.
///
/// # Errors
/// [`OpenError::Limit`] naming the limit passed, [`OpenError::Password`] for
/// encrypted parts. A package the `zip` crate cannot open is let through:
/// calamine then reports it as damaged.
fn check_package(bytes: &[u8], limits: &Limits) -> Result<(), OpenError> {
    let declared = declared_entries(bytes);
    if declared > limits.max_zip_entries {
        return Err(OpenError::limit(
            "file.zip_entries",
            None,
            format!(
                "工作簿声明包含 {declared} 个部件，超过上限 {}（limits.max_zip_entries），文件可能被恶意构造，未读取。",
                limits.max_zip_entries
            ),
        ));
    }
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        if entry.encrypted() {
            return Err(OpenError::Password);
        }
        let (size, packed) = (entry.size(), entry.compressed_size());
        total = total.saturating_add(size);
        if size > RATIO_FLOOR && size / packed.max(1) > limits.max_compression_ratio {
            return Err(OpenError::limit(
                "file.zip_bomb",
                None,
                format!(
                    "工作簿中的部件“{}”从 {} 字节解压后达 {} MB，压缩比约 {}:1，超过上限 {}:1（limits.max_compression_ratio），疑似“压缩炸弹”，未读取。",
                    String::from_utf8_lossy(entry.name_raw()),
                    packed,
                    size.div_ceil(Limits::MIB),
                    size / packed.max(1),
                    limits.max_compression_ratio
                ),
            ));
        }
    }
    if total > limits.max_unzipped_bytes() {
        return Err(OpenError::limit(
            "file.too_large_unzipped",
            None,
            format!(
                "工作簿解压后共 {} MB，超过上限 {} MB（limits.max_unzipped_mb），未读取。报表文件解压后通常不足 1 MB，文件可能夹带了大量其他内容或被恶意构造。",
                total.div_ceil(Limits::MIB),
                limits.max_unzipped_mb
            ),
        ));
    }
    Ok(())
}

/// Whether an OOXML package's `[Content_Types].xml` declares a macro-enabled
/// workbook (an .xlsm). The part is small; one larger than 1 MB is not read.
/// (After [`check_package`].)
fn macro_enabled(bytes: &[u8]) -> bool {
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else {
        return false;
    };
    let Ok(part) = zip.by_name("[Content_Types].xml") else {
        return false;
    };
    let mut text = Vec::new();
    part.take(1 << 20).read_to_end(&mut text).is_ok()
        && memchr::memmem::find(&text, b"macroEnabled").is_some()
}

/// The most entries any end-of-central-directory record near the end of the
/// file declares (zip64 ones included). The `zip` crate reads as many central
/// headers as the record it settles on declares, so this bounds its work.
fn declared_entries(bytes: &[u8]) -> u64 {
    const EOCD: [u8; 4] = [0x50, 0x4B, 0x05, 0x06];
    const LOCATOR: [u8; 4] = [0x50, 0x4B, 0x06, 0x07];
    const EOCD64: [u8; 4] = [0x50, 0x4B, 0x06, 0x06];
    // (0 where the file ends first)
    let u16_at = |at: usize| {
        let b = bytes.get(at..at + 2);
        b.map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u64_at = |at: usize| {
        let b = bytes.get(at..at + 8);
        b.map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let from = bytes.len().saturating_sub(22 + 65_535 + 20);
    let mut most = 0;
    let end = bytes.len().saturating_sub(21).max(from);
    for at in memchr::memmem::find_iter(&bytes[from..], &EOCD).map(|k| from + k) {
        if at >= end {
            break;
        }
        most = most.max(u16_at(at + 8)).max(u16_at(at + 10));
        if at >= 20
            && bytes[at - 20..at - 16] == LOCATOR
            && let Ok(off) = usize::try_from(u64_at(at - 20 + 8))
            && bytes.get(off..off + 4) == Some(&EOCD64[..])
        {
            most = most.max(u64_at(off + 24)).max(u64_at(off + 32));
        }
    }
    // A zip64 record may also be found by searching back from the end.
    let from64 = bytes.len().saturating_sub(1 << 20);
    let end64 = bytes.len().saturating_sub(55).max(from64);
    for at in memchr::memmem::find_iter(&bytes[from64..], &EOCD64).map(|k| from64 + k) {
        if at < end64 {
            most = most.max(u64_at(at + 24)).max(u64_at(at + 32));
        }
    }
    most
}
