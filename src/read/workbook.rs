//! Bytes → sheets of cells. The only place that knows calamine.

use std::io::Cursor;

use calamine::{Data, Ods, Range, Reader, Sheets, Xls, Xlsx, open_workbook_from_rs};

use crate::model::Cell;

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

/// One worksheet: its cells at their sheet positions, and its formulas.
#[derive(Debug, Clone)]
pub struct Sheet {
    pub name: String,
    origin: (u32, u32),
    width: usize,
    height: usize,
    cells: Vec<CellValue>,
    formula_origin: (u32, u32),
    formula_width: usize,
    formulas: Vec<String>,
}

impl Sheet {
    /// Builds a sheet from rows of values starting at A1 (for tests).
    pub fn from_rows(name: &str, rows: Vec<Vec<CellValue>>) -> Sheet {
        let width = rows.iter().map(Vec::len).max().unwrap_or(0);
        let height = rows.len();
        let mut cells = Vec::with_capacity(width * height);
        for mut r in rows {
            r.resize(width, CellValue::Empty);
            cells.extend(r);
        }
        Sheet {
            name: name.to_string(),
            origin: (0, 0),
            width,
            height,
            cells,
            formula_origin: (0, 0),
            formula_width: 0,
            formulas: Vec::new(),
        }
    }

    /// The first row past the used area.
    pub fn end_row(&self) -> u32 {
        self.origin.0 + self.height as u32
    }

    /// The first column past the used area.
    pub fn end_col(&self) -> u32 {
        self.origin.1 + self.width as u32
    }

    pub fn first_row(&self) -> u32 {
        self.origin.0
    }

    /// The cell at a sheet position (Empty outside the used area).
    pub fn get(&self, at: Cell) -> &CellValue {
        static EMPTY: CellValue = CellValue::Empty;
        let (r0, c0) = self.origin;
        if at.row < r0 || at.col < c0 {
            return &EMPTY;
        }
        let (r, c) = ((at.row - r0) as usize, (at.col - c0) as usize);
        if r >= self.height || c >= self.width {
            return &EMPTY;
        }
        &self.cells[r * self.width + c]
    }

    /// The formula in a cell, if it holds one.
    pub fn formula(&self, at: Cell) -> Option<&str> {
        let (r0, c0) = self.formula_origin;
        if self.formula_width == 0 || at.row < r0 || at.col < c0 {
            return None;
        }
        let (r, c) = ((at.row - r0) as usize, (at.col - c0) as usize);
        if c >= self.formula_width {
            return None;
        }
        self.formulas
            .get(r * self.formula_width + c)
            .map(String::as_str)
            .filter(|f| !f.is_empty())
    }

    /// Text of a cell, trimmed; empty for non-text cells.
    pub fn text(&self, at: Cell) -> String {
        match self.get(at) {
            CellValue::Text(s) => s.trim().to_string(),
            CellValue::Number(n) => format_number(*n),
            _ => String::new(),
        }
    }
}

/// Why a workbook could not be opened.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenError {
    Password,
    Damaged(String),
}

/// Opens workbook bytes of a known type and reads every sheet.
/// Formulas are read too, so a formula cell with no saved result can be told
/// from an empty cell.
///
/// # Errors
/// [`OpenError::Password`] for protected workbooks, [`OpenError::Damaged`] with
/// the parser's words for anything it cannot read.
pub fn open(bytes: Vec<u8>, kind: FileType) -> Result<Vec<Sheet>, OpenError> {
    // calamine panics on some damaged files (a truncated .xls trips an assertion
    // in its compound-file reader); one bad file must not stop the run.
    std::panic::catch_unwind(|| open_unguarded(bytes, kind))
        .unwrap_or_else(|_| Err(OpenError::Damaged("文件结构不完整".into())))
}

fn open_unguarded(bytes: Vec<u8>, kind: FileType) -> Result<Vec<Sheet>, OpenError> {
    let cursor = Cursor::new(bytes);
    let mut book: Sheets<Cursor<Vec<u8>>> = match kind {
        FileType::Xlsx | FileType::OtherZip => Sheets::Xlsx(
            open_workbook_from_rs::<Xlsx<_>, _>(cursor).map_err(|e| classify(e.to_string()))?,
        ),
        FileType::Xls => Sheets::Xls(
            open_workbook_from_rs::<Xls<_>, _>(cursor).map_err(|e| classify(e.to_string()))?,
        ),
        FileType::Ods => Sheets::Ods(
            open_workbook_from_rs::<Ods<_>, _>(cursor).map_err(|e| classify(e.to_string()))?,
        ),
        FileType::EncryptedXlsx => return Err(OpenError::Password),
        FileType::Other => return Err(OpenError::Damaged("不是电子表格文件".into())),
    };
    let mut sheets = Vec::new();
    for name in book.sheet_names() {
        let range = book
            .worksheet_range(&name)
            .map_err(|e| classify(e.to_string()))?;
        let formulas = book.worksheet_formula(&name).unwrap_or_default();
        sheets.push(convert(name, &range, &formulas));
    }
    Ok(sheets)
}

fn classify(message: String) -> OpenError {
    if message.to_lowercase().contains("password") {
        OpenError::Password
    } else {
        OpenError::Damaged(message)
    }
}

fn convert(name: String, range: &Range<Data>, formulas: &Range<String>) -> Sheet {
    let origin = range.start().unwrap_or((0, 0));
    let cells = range
        .rows()
        .flat_map(|r| r.iter())
        .map(|d| match d {
            Data::Empty => CellValue::Empty,
            Data::Int(i) => CellValue::Number(*i as f64),
            Data::Float(f) => CellValue::Number(*f),
            Data::String(s) => {
                if s.is_empty() {
                    CellValue::Empty
                } else {
                    CellValue::Text(s.clone())
                }
            }
            Data::Bool(b) => CellValue::Bool(*b),
            Data::DateTime(d) => CellValue::Number(d.as_f64()),
            Data::DateTimeIso(s) | Data::DurationIso(s) => CellValue::Text(s.clone()),
            Data::Error(e) => CellValue::Error(e.to_string()),
        })
        .collect();
    let formula_origin = formulas.start().unwrap_or((0, 0));
    Sheet {
        name,
        origin,
        width: range.width(),
        height: range.height(),
        cells,
        formula_origin,
        formula_width: formulas.width(),
        formulas: formulas.rows().flat_map(|r| r.iter().cloned()).collect(),
    }
}
