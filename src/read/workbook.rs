//! Bytes → sheets of cells. The only place that knows calamine.
//!
//! What calamine is handed has been checked first (`package.rs` for xlsx and
//! ods, `xls.rs` for xls). An xlsx sheet is streamed cell by cell, from the
//! parts the checks inflated (`ooxml.rs`, which reads as calamine does) or,
//! when that reader steps aside, by calamine; xls and ods sheets come as
//! calamine's ranges. Either way only the region a form can
//! occupy (the first `max_rows` × `max_columns` of the catalogue's limits) is
//! kept; cells outside it are counted and reported.

use std::borrow::Cow;
use std::collections::HashMap;

use rustc_hash::FxHashMap;
use std::io::Cursor;

use calamine::{
    Data, DataRef, Ods, Range, Reader, Xls, Xlsx, XlsxError, XlsxFormulaMetadata,
    expand_shared_formula, open_workbook_from_rs,
};

use crate::catalog::Limits;
use crate::model::Cell;
use crate::read::{guard, ooxml, package, xls};

/// What the bytes of a file are, by content (never by extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// Office Open XML (.xlsx), a zip package.
    Xlsx,
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
            FileType::Xls => Some("xls"),
            FileType::Ods => Some("ods"),
            _ => None,
        }
    }
}

const OLE2_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Tells a workbook's type from its first bytes.
pub fn sniff(bytes: &[u8]) -> FileType {
    if bytes.starts_with(&OLE2_MAGIC) {
        // An encrypted OOXML package is an OLE2 file with an EncryptionInfo stream.
        let needle: Vec<u8> = "EncryptionInfo"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
            return FileType::EncryptedXlsx;
        }
        return FileType::Xls;
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let head = &bytes[..bytes.len().min(200)];
        if head.windows(8).any(|w| w == b"mimetype")
            && head.windows(24).any(|w| w == b"opendocument.spreadsheet")
        {
            return FileType::Ods;
        }
        let has = |name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
        if has(b"xl/workbook.xml") || has(b"[Content_Types].xml") {
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
#[derive(Debug, Clone, PartialEq, Default)]
pub enum CellValue {
    #[default]
    Empty,
    Number(f64),
    Text(String),
    Bool(bool),
    /// A spreadsheet error value such as `#DIV/0!`.
    Error(String),
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
        }
    }

    pub fn is_empty(&self) -> bool {
        match self {
            CellValue::Empty => true,
            CellValue::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// A number without float noise: `12.5`, `3`, not `3.0000000001`.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        let s = format!("{:.10}", n);
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// One worksheet: the cells that hold something, at their sheet positions,
/// and its formulas. Only the cells of the region read are here.
#[derive(Debug, Clone, PartialEq)]
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
    /// Builds a sheet from rows of values starting at A1 (for tests).
    pub fn from_rows(name: &str, rows: Vec<Vec<CellValue>>) -> Sheet {
        let width = rows.iter().map(Vec::len).max().unwrap_or(0) as u32;
        let height = rows.len() as u32;
        let mut cells = FxHashMap::default();
        for (r, row) in rows.into_iter().enumerate() {
            for (c, v) in row.into_iter().enumerate() {
                if v != CellValue::Empty {
                    cells.insert((r as u32, c as u32), v);
                }
            }
        }
        let end = if width == 0 || height == 0 {
            (0, 0)
        } else {
            (height, width)
        };
        Sheet {
            name: name.to_string(),
            origin: (0, 0),
            end,
            cells,
            formulas: FxHashMap::default(),
        }
    }

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

    /// The formula in a cell, if it holds one.
    pub fn formula(&self, at: Cell) -> Option<&str> {
        self.formulas
            .get(&(at.row, at.col))
            .map(String::as_str)
            .filter(|f| !f.is_empty())
    }

    /// Text of a cell, trimmed; empty for non-text cells.
    pub fn text(&self, at: Cell) -> String {
        self.text_ref(at).into_owned()
    }

    /// [`Sheet::text`], borrowed when the cell holds text.
    pub fn text_ref(&self, at: Cell) -> Cow<'_, str> {
        match self.get(at) {
            CellValue::Text(s) => Cow::Borrowed(s.trim()),
            CellValue::Number(n) => Cow::Owned(format_number(*n)),
            _ => Cow::Borrowed(""),
        }
    }
}

/// A limit a file reached: the rule it breaks and a message for the clerk.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitHit {
    pub rule: &'static str,
    pub sheet: Option<String>,
    pub cell: Option<Cell>,
    pub message: String,
}

/// Why a workbook could not be opened.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenError {
    Password,
    Damaged(String),
    /// Reading it would pass one of the catalogue's limits.
    Limit(LimitHit),
    /// The parser panicked (the message says where).
    Panic(String),
}

/// The sheets of a workbook, and notes about what was left out of them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Opened {
    pub sheets: Vec<Sheet>,
    /// Warnings: cells outside the region read.
    pub notes: Vec<LimitHit>,
}

/// Opens workbook bytes of a known type and reads every sheet, within the
/// limits. Formulas are read too, so a formula cell with no saved result can
/// be told from an empty cell.
///
/// # Errors
/// [`OpenError::Password`] for protected workbooks, [`OpenError::Limit`] when
/// the file asks for more than the limits allow, [`OpenError::Damaged`] with
/// the parser's words for anything it cannot read, [`OpenError::Panic`] when
/// the parser panicked.
pub fn open(bytes: Vec<u8>, kind: FileType, limits: &Limits) -> Result<Opened, OpenError> {
    guard::isolate(|| open_unguarded(bytes, kind, limits, true))
        .unwrap_or_else(|m| Err(OpenError::Panic(m)))
}

/// [`open`] with calamine reading every xlsx, as it does when the reader of
/// `ooxml.rs` steps aside: the reference that reader is held to (tests, fuzz
/// target).
#[doc(hidden)]
pub fn open_with_calamine(
    bytes: Vec<u8>,
    kind: FileType,
    limits: &Limits,
) -> Result<Opened, OpenError> {
    guard::isolate(|| open_unguarded(bytes, kind, limits, false))
        .unwrap_or_else(|m| Err(OpenError::Panic(m)))
}

/// Whether [`open`] reads these xlsx bytes without calamine (the checks pass
/// and `ooxml.rs` vouches for the result).
#[doc(hidden)]
pub fn read_directly(bytes: &[u8], limits: &Limits) -> bool {
    package::check(bytes, FileType::Xlsx, limits).is_ok_and(|checked| {
        checked
            .inflated
            .is_some_and(|parts| ooxml::open(&parts, limits, checked.held).is_ok())
    })
}

/// Before calamine parses a package: the parts the checks left for their
/// readers are checked, and the package is made again with its XML parts
/// stored as they were inflated, to be parsed instead of the original
/// (`None` when it cannot be).
fn for_calamine(
    inflated: Option<package::Inflated<'_>>,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, OpenError> {
    let Some(parts) = inflated else {
        return Ok(None);
    };
    if !parts.check_rest(limits)? {
        return Ok(None);
    }
    Ok(parts.repack())
}

fn open_unguarded(
    bytes: Vec<u8>,
    kind: FileType,
    limits: &Limits,
    direct: bool,
) -> Result<Opened, OpenError> {
    match kind {
        FileType::Xlsx | FileType::OtherZip => {
            let checked = package::check(&bytes, kind, limits)?;
            if direct
                && let Some(parts) = &checked.inflated
                && let Ok(opened) = ooxml::open(parts, limits, checked.held)
            {
                return opened;
            }
            let held = checked.held;
            let repacked = for_calamine(checked.inflated, limits)?;
            open_xlsx(repacked.unwrap_or(bytes), limits, held)
        }
        FileType::Ods => {
            let checked = package::check(&bytes, kind, limits)?;
            let bytes = for_calamine(checked.inflated, limits)?.unwrap_or(bytes);
            let book = open_workbook_from_rs::<Ods<_>, _>(Cursor::new(bytes))
                .map_err(|e| classify(e.to_string()))?;
            from_ranges(book, limits)
        }
        FileType::Xls => {
            xls::check(&bytes, limits)?;
            let book = open_workbook_from_rs::<Xls<_>, _>(Cursor::new(bytes))
                .map_err(|e| classify(e.to_string()))?;
            from_ranges(book, limits)
        }
        FileType::EncryptedXlsx => Err(OpenError::Password),
        FileType::Other => Err(OpenError::Damaged("不是电子表格文件".into())),
    }
}

fn classify(message: String) -> OpenError {
    if message.to_lowercase().contains("password") {
        OpenError::Password
    } else {
        OpenError::Damaged(message)
    }
}

/// An xlsx, streamed: cells outside the region are counted, never stored.
/// `held`: what calamine holds of the workbook already (its shared strings and
/// styles); the cells' text may take the rest of `max_unzipped_mb`.
fn open_xlsx(bytes: Vec<u8>, limits: &Limits, held: u64) -> Result<Opened, OpenError> {
    let mut book = open_workbook_from_rs::<Xlsx<_>, _>(Cursor::new(bytes))
        .map_err(|e| classify(e.to_string()))?;
    let mut out = Opened::default();
    let mut stored = Budget::new(limits);
    stored.text = held;
    for name in book.sheet_names() {
        let mut sheet = StreamedSheet::new(&name, limits);
        let mut cells = match book.worksheet_cells_reader(&name) {
            Ok(r) => r,
            // A chart sheet: no cells.
            Err(XlsxError::NotAWorksheet(_)) => {
                out.sheets.push(sheet.finish(&mut out.notes));
                continue;
            }
            Err(XlsxError::WorksheetNotFound(_)) => {
                return Err(OpenError::Damaged(format!("工作表“{name}”的内容缺失")));
            }
            Err(e) => return Err(classify(e.to_string())),
        };
        while let Some(c) = cells
            .next_cell_with_formula_metadata()
            .map_err(|e| classify(e.to_string()))?
        {
            sheet.cell(c.pos, c.value, c.formula, &mut stored)?;
        }
        out.sheets.push(sheet.finish(&mut out.notes));
    }
    Ok(out)
}

/// An xlsx sheet read cell by cell, in the order of its part, with the
/// shared formulas seen so far.
pub(crate) struct StreamedSheet<'l> {
    builder: Builder,
    limits: &'l Limits,
    /// Shared formulas by index: their text and the cell they were written for.
    shared: HashMap<usize, (String, (u32, u32))>,
}

impl<'l> StreamedSheet<'l> {
    pub(crate) fn new(name: &str, limits: &'l Limits) -> StreamedSheet<'l> {
        StreamedSheet {
            builder: Builder::new(name, limits),
            limits,
            shared: HashMap::new(),
        }
    }

    /// The next cell: its position, value and formula as calamine gives them.
    pub(crate) fn cell(
        &mut self,
        at: (u32, u32),
        value: DataRef<'_>,
        formula: Option<XlsxFormulaMetadata>,
        stored: &mut Budget,
    ) -> Result<(), OpenError> {
        let inside = self.builder.inside(at);
        let limits = self.limits;
        let formula = match formula {
            Some(XlsxFormulaMetadata::Normal { formula }) => Some(formula),
            Some(XlsxFormulaMetadata::Shared {
                shared_index,
                range,
                formula,
            }) => {
                let start = range.map(|r| r.start).unwrap_or(at);
                let reaches = range
                    .is_none_or(|r| r.start.0 < limits.max_rows && r.start.1 < limits.max_columns);
                if reaches {
                    self.shared.insert(shared_index, (formula.clone(), start));
                }
                Some(formula)
            }
            Some(XlsxFormulaMetadata::SharedDerived { shared_index }) if inside => self
                .shared
                .get(&shared_index)
                .and_then(|(f, start)| expand_shared_formula(f, *start, at).ok()),
            _ => None,
        };
        self.builder.put(at, Incoming::Ref(value), formula, stored)
    }

    pub(crate) fn finish(self, notes: &mut Vec<LimitHit>) -> Sheet {
        self.builder.finish(notes)
    }
}

/// An xls or ods, whose sheets calamine has already read whole (their size was
/// checked before).
fn from_ranges<R: Reader<Cursor<Vec<u8>>>>(
    mut book: R,
    limits: &Limits,
) -> Result<Opened, OpenError>
where
    R::Error: std::fmt::Display,
{
    let mut out = Opened::default();
    let mut stored = Budget::new(limits);
    for name in book.sheet_names() {
        let range = book
            .worksheet_range(&name)
            .map_err(|e| classify(e.to_string()))?;
        let formulas = book.worksheet_formula(&name).unwrap_or_default();
        let mut sheet = Builder::new(&name, limits);
        put_range(&range, &mut sheet, &mut stored, |s, at, v, n| {
            s.put(at, Incoming::Data(v), None, n)
        })?;
        drop(range);
        // (a formula outside the region was counted with its value)
        put_range(&formulas, &mut sheet, &mut stored, |s, at, f, n| {
            if !s.inside(at) {
                return Ok(());
            }
            s.put(at, Incoming::Data(&Data::Empty), Some(f.clone()), n)
        })?;
        out.sheets.push(sheet.finish(&mut out.notes));
    }
    Ok(out)
}

fn put_range<T: calamine::CellType>(
    range: &Range<T>,
    sheet: &mut Builder,
    stored: &mut Budget,
    mut put: impl FnMut(&mut Builder, (u32, u32), &T, &mut Budget) -> Result<(), OpenError>,
) -> Result<(), OpenError> {
    let Some((r0, c0)) = range.start() else {
        return Ok(());
    };
    for (r, c, v) in range.used_cells() {
        put(sheet, (r0 + r as u32, c0 + c as u32), v, stored)?;
    }
    Ok(())
}

/// A sheet being read: keeps the cells of the region, counts the others.
struct Builder {
    sheet: Sheet,
    rows: u32,
    columns: u32,
    /// Cells left out, the first of them and the farthest row and column.
    ignored: u64,
    first_ignored: Option<Cell>,
    far: (u32, u32),
}

impl Builder {
    fn new(name: &str, limits: &Limits) -> Builder {
        Builder {
            sheet: Sheet {
                name: name.to_string(),
                origin: (0, 0),
                end: (0, 0),
                cells: FxHashMap::default(),
                formulas: FxHashMap::default(),
            },
            rows: limits.max_rows,
            columns: limits.max_columns,
            ignored: 0,
            first_ignored: None,
            far: (0, 0),
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
        value: Incoming<'_>,
        formula: Option<String>,
        stored: &mut Budget,
    ) -> Result<(), OpenError> {
        let formula = formula.filter(|f| !f.is_empty());
        let has_value = !value.is_empty();
        if !has_value && formula.is_none() {
            return Ok(());
        }
        if !self.inside(at) {
            // (a crafted address may be u32::MAX, which has no A1 form)
            let at = (at.0.min(u32::MAX - 1), at.1.min(u32::MAX - 1));
            self.ignored += 1;
            self.first_ignored.get_or_insert(Cell::new(at.0, at.1));
            self.far = (self.far.0.max(at.0), self.far.1.max(at.1));
            return Ok(());
        }
        let text = value.text_len() + formula.as_ref().map_or(0, String::len);
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
            let v = value.into_value();
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
        if self.ignored > 0 {
            let name = &self.sheet.name;
            let corner = Cell::new(self.rows.saturating_sub(1), self.columns.saturating_sub(1));
            let far = Cell::new(self.far.0, self.far.1);
            notes.push(LimitHit {
                rule: "sheet.cells_ignored",
                sheet: Some(name.clone()),
                cell: self.first_ignored,
                message: format!(
                    "工作表“{name}”在读取范围 A1:{corner}（前 {} 行、前 {} 列）以外还有 {} 个非空单元格（最远到 {far}），这些单元格未读取。报表应在读取范围之内；多余的内容请删除，确需更大范围请调整目录的 limits.max_rows / max_columns。",
                    self.rows, self.columns, self.ignored
                ),
            });
        }
        self.sheet
    }
}

/// What a workbook may keep: cells and the bytes of their text.
pub(crate) struct Budget {
    cells: u64,
    pub(crate) text: u64,
    max_cells: u64,
    max_text: u64,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Budget {
        Budget {
            cells: 0,
            text: 0,
            max_cells: limits.max_cells,
            max_text: limits.max_unzipped_bytes(),
        }
    }

    /// Counts one more cell of `text` bytes, before it is stored (a shared
    /// string is copied into every cell that uses it).
    fn take(&mut self, text: u64, sheet: &str) -> Result<(), OpenError> {
        self.cells += 1;
        self.text += text;
        let hit = |rule, message| {
            Err(OpenError::Limit(LimitHit {
                rule,
                sheet: Some(sheet.to_string()),
                cell: None,
                message,
            }))
        };
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
                "file.too_large_unzipped",
                format!(
                    "工作簿各单元格的文字（连同共享字符串和格式）超过 {} MB（limits.max_unzipped_mb），未读取。",
                    self.max_text / Limits::MIB
                ),
            );
        }
        Ok(())
    }
}

/// A cell's value as calamine hands it over: borrowed from a streamed xlsx
/// (a shared string is not copied until it is known to be kept) or from a
/// range.
enum Incoming<'a> {
    Ref(DataRef<'a>),
    Data(&'a Data),
}

impl Incoming<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Incoming::Ref(d) => *d == DataRef::Empty,
            Incoming::Data(d) => **d == Data::Empty,
        }
    }

    /// Bytes of text the value holds.
    fn text_len(&self) -> usize {
        match self {
            Incoming::Ref(
                DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s),
            ) => s.len(),
            Incoming::Ref(DataRef::SharedString(s)) => s.len(),
            Incoming::Data(Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s)) => {
                s.len()
            }
            _ => 0,
        }
    }

    fn into_value(self) -> CellValue {
        match self {
            Incoming::Ref(DataRef::SharedString(s)) => cell_value(Data::String(s.to_string())),
            Incoming::Ref(d) => cell_value(Data::from(d)),
            Incoming::Data(d) => cell_value(d.clone()),
        }
    }
}

fn cell_value(d: Data) -> CellValue {
    match d {
        Data::Empty => CellValue::Empty,
        Data::Int(i) => CellValue::Number(i as f64),
        Data::Float(f) => CellValue::Number(f),
        Data::String(s) => {
            if s.is_empty() {
                CellValue::Empty
            } else {
                CellValue::Text(s)
            }
        }
        Data::Bool(b) => CellValue::Bool(b),
        Data::DateTime(d) => CellValue::Number(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => CellValue::Text(s),
        Data::Error(e) => CellValue::Error(e.to_string()),
    }
}
