//! Helpers shared by the integration tests: fixture paths, a writer for forms
//! in the FORMS.md layout (so each test can break one cell), and the read +
//! check pipeline on bytes.

// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rust_xlsxwriter::{Format, Formula, Workbook};
use zonestat::catalog::Catalogue;
use zonestat::model::{Cell, Finding, Period, Severity};
use zonestat::read::{self, FileRead};
use zonestat::validate::{CheckedForm, check_form};

/// `tests/fixtures`.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A period folder of the sample data, e.g. `data("2020-06")`.
pub fn data(period: &str) -> PathBuf {
    fixtures().join("data").join(period)
}

/// The period folders of the sample data.
pub const PERIODS: [&str; 5] = ["2017-12", "2018-12", "2019-12", "2020-06", "2020-12"];

/// The bundled catalogue; first, workbooks are set to be parsed in worker
/// processes of the zonestat binary, as the binary parses them.
pub fn cat() -> Catalogue {
    workers();
    Catalogue::bundled()
}

/// Names the zonestat binary as the reader's worker executable (before any
/// workbook is read: every integration test reads through workers).
pub fn workers() {
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
}

pub fn period(p: &str) -> Period {
    p.parse().expect("test period")
}

/// A cell to write.
#[derive(Debug, Clone, PartialEq)]
pub enum W {
    Num(f64),
    /// A number shown with a number format, e.g. 0.106 as `0.0%`.
    Formatted(f64, String),
    Text(String),
    Bool(bool),
    /// A formula with no saved result, as written by a program that does not calculate.
    Formula(String),
    /// A formula and its saved result (a number, `TRUE`/`FALSE` or an error such as `#DIV/0!`).
    FormulaWith(String, String),
    /// A number shown with a built-in number format, e.g. 14 (a date, `m/d/yyyy`).
    Builtin(f64, u8),
}

pub fn t(s: &str) -> W {
    W::Text(s.to_string())
}

pub fn n(v: f64) -> W {
    W::Num(v)
}

/// `"E7"` → (row 6, col 4), 0-based.
pub fn a1(s: &str) -> (u32, u32) {
    let letters: String = s.chars().take_while(char::is_ascii_alphabetic).collect();
    let col = letters.bytes().fold(0u32, |acc, b| {
        acc * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1)
    }) - 1;
    let row: u32 = s[letters.len()..].parse().expect("A1 address");
    (row - 1, col)
}

/// One worksheet's cells, addressed as on the form layout.
#[derive(Debug, Clone)]
pub struct Grid {
    pub sheet: String,
    cells: BTreeMap<(u32, u32), W>,
}

impl Grid {
    pub fn new(sheet: &str) -> Grid {
        Grid {
            sheet: sheet.to_string(),
            cells: BTreeMap::new(),
        }
    }

    /// Sets a cell (`None` clears it).
    pub fn set(mut self, at: &str, v: impl Into<Option<W>>) -> Grid {
        let key = a1(at);
        match v.into() {
            Some(v) => self.cells.insert(key, v),
            None => self.cells.remove(&key),
        };
        self
    }

    pub fn get(&self, at: &str) -> Option<&W> {
        self.cells.get(&a1(at))
    }

    /// Clears a whole row (1-based, as spreadsheet programs number them).
    pub fn clear_row(mut self, row1: u32) -> Grid {
        self.cells.retain(|(r, _), _| *r != row1 - 1);
        self
    }

    /// Clears a whole column (`"C"`).
    pub fn clear_col(mut self, col: &str) -> Grid {
        let (_, c) = a1(&format!("{col}1"));
        self.cells.retain(|(_, cc), _| *cc != c);
        self
    }

    /// Copies row `from` onto row `to` (1-based).
    pub fn copy_row(mut self, from: u32, to: u32) -> Grid {
        let row: Vec<(u32, W)> = self
            .cells
            .iter()
            .filter(|((r, _), _)| *r == from - 1)
            .map(|((_, c), v)| (*c, v.clone()))
            .collect();
        for (c, v) in row {
            self.cells.insert((to - 1, c), v);
        }
        self
    }

    /// Swaps rows `a` and `b` (1-based).
    pub fn swap_rows(mut self, a: u32, b: u32) -> Grid {
        let mut moved = BTreeMap::new();
        for ((r, c), v) in std::mem::take(&mut self.cells) {
            let r = if r == a - 1 {
                b - 1
            } else if r == b - 1 {
                a - 1
            } else {
                r
            };
            moved.insert((r, c), v);
        }
        self.cells = moved;
        self
    }

    /// Inserts a blank row before row `at` (1-based).
    pub fn insert_row(mut self, at: u32) -> Grid {
        self.cells = std::mem::take(&mut self.cells)
            .into_iter()
            .map(|((r, c), v)| ((if r + 1 >= at { r + 1 } else { r }, c), v))
            .collect();
        self
    }

    /// The whole layout moved down `rows` and right `cols` (blank rows and
    /// columns inserted at the top left).
    pub fn shifted(mut self, rows: u32, cols: u32) -> Grid {
        self.cells = std::mem::take(&mut self.cells)
            .into_iter()
            .map(|((r, c), v)| ((r + rows, c + cols), v))
            .collect();
        self
    }

    pub fn renamed(mut self, sheet: &str) -> Grid {
        self.sheet = sheet.to_string();
        self
    }

    /// This sheet alone as an .xlsx workbook.
    pub fn xlsx(&self) -> Vec<u8> {
        xlsx(&[self])
    }
}

/// Sheets as an .xlsx workbook, written by rust_xlsxwriter.
pub fn xlsx(sheets: &[&Grid]) -> Vec<u8> {
    let mut book = Workbook::new();
    for g in sheets {
        let ws = book.add_worksheet();
        ws.set_name(&g.sheet).expect("sheet name");
        // Without this rust_xlsxwriter saves 0 as every formula's result; ""
        // leaves the result out, as programs that do not calculate do.
        ws.set_formula_result_default("");
        for (&(r, c), v) in &g.cells {
            let c = c as u16;
            match v {
                W::Num(x) => ws.write_number(r, c, *x).map(|_| ()),
                W::Formatted(x, f) => ws
                    .write_number_with_format(r, c, *x, &Format::new().set_num_format(f))
                    .map(|_| ()),
                W::Builtin(x, id) => ws
                    .write_number_with_format(r, c, *x, &Format::new().set_num_format_index(*id))
                    .map(|_| ()),
                W::Text(s) => ws.write_string(r, c, s).map(|_| ()),
                W::Bool(b) => ws.write_boolean(r, c, *b).map(|_| ()),
                W::Formula(f) => ws.write_formula(r, c, Formula::new(f)).map(|_| ()),
                W::FormulaWith(f, res) => ws
                    .write_formula(r, c, Formula::new(f).set_result(res))
                    .map(|_| ()),
            }
            .expect("write cell");
        }
    }
    book.save_to_buffer().expect("xlsx in memory")
}

/// HZ's 2020-06 values (亿元 / 亿美元 / 件): a valid 湖开统1表.
pub const FORM1_VALUES: [(f64, f64); 16] = [
    (89.4134, 80.8682),
    (365.8601, 307.8185),
    (40.8993, 33.2569),
    (204.2668, 185.3693),
    (124.1856, 114.4131),
    (10.1716, 8.8912),
    (6.6635, 5.8469),
    (5.9971, 5.2623),
    (3.0893, 2.6545),
    (1.2955, 1.1967),
    (1.3737, 1.2666),
    (7.8455, 7.124),
    (336.0805, 285.4969),
    (137.0, 121.0),
    (24.3952, 21.0805),
    (10.6224, 9.3376),
];

/// AJ's 2020 values: 本年, 上年, 2017年以来累计 (`—` where not applicable).
pub const FORM2_VALUES: [(&str, &str, &str); 14] = [
    ("2", "2", "8"),
    ("0", "0", "3"),
    ("10", "10", "—"),
    ("3", "2", "—"),
    ("3", "1", "7"),
    ("4", "4", "13"),
    ("4", "4", "13"),
    ("28", "24", "—"),
    ("6", "5", "33"),
    ("2", "1", "—"),
    ("1", "1", "—"),
    ("1", "0", "2"),
    ("否", "否", "—"),
    ("是", "否", "—"),
];

/// The city's 2020-06 reference values: 本期, 上年同期.
pub const FORM3_VALUES: [(&str, &str); 3] =
    [("2.114", "1.994"), ("272", "—"), ("42.102", "41.702")];

fn cell_of(s: &str) -> W {
    s.parse::<f64>().map(W::Num).unwrap_or_else(|_| t(s))
}

/// The top of every form: title, form number, issuing office, reporter,
/// period, header and column-letter rows.
fn head(form: &str, number_col: &str, reporter: &str, period: &str, headers: &[&str]) -> Grid {
    let c = cat();
    let f = c.form(form).expect("form in catalogue");
    let mut g = Grid::new(form)
        .set("A1", t(&f.title))
        .set(&format!("{number_col}2"), t(&format!("表    号：{form}")))
        .set(&format!("{number_col}3"), t("制定机关：湖州市商务局"))
        .set("A4", t(&format!("填报单位：{reporter}")))
        .set("D4", t(period));
    let letters = ["", "甲", "乙", "丙", "1", "2", "3", "丁"];
    for (i, h) in headers.iter().enumerate() {
        let col = Cell::column_name(i as u32);
        g = g.set(&format!("{col}5"), t(h));
        let letter = if i + 1 == headers.len() {
            "丁"
        } else {
            letters[i]
        };
        if !letter.is_empty() {
            g = g.set(&format!("{col}6"), t(letter));
        }
    }
    g
}

/// Rows `first..` of indicators: 序号, name, code, unit from the catalogue.
fn indicator_rows(mut g: Grid, form: &str) -> Grid {
    let c = cat();
    let f = c.form(form).expect("form in catalogue");
    for (i, ind) in f.indicators.iter().enumerate() {
        let r = 7 + i as u32;
        g = g
            .set(&format!("A{r}"), n(i as f64 + 1.0))
            .set(&format!("B{r}"), t(&ind.name))
            .set(&format!("C{r}"), t(&ind.code))
            .set(&format!("D{r}"), t(&ind.unit));
    }
    let end = 7 + f.indicators.len() as u32;
    g.set(
        &format!("A{}", end + 1),
        t("单位负责人：陈明    统计负责人：刘芳    填表人：周婷    联系电话：0572-2100000    报出日期：2020年7月10日"),
    )
    .set(&format!("A{}", end + 2), t("说明：1.本表数据为1-本月累计数；2.上年同期数按可比口径填报。"))
}

/// The growth a zone writes: one decimal.
pub fn growth(cur: f64, prior: f64) -> f64 {
    ((cur - prior) / prior * 1000.0).round() / 10.0
}

/// A valid 湖开统1表 (rows 7-22, values E/F, growth G) for `reporter` and `period`.
pub fn form1(reporter: &str, period: &str) -> Grid {
    let headers = [
        "序号",
        "指标名称",
        "代码",
        "计量单位",
        "1-本月累计",
        "上年同期",
        "同比增长(%)",
        "备注",
    ];
    let mut g = indicator_rows(
        head("湖开统1表", "G", reporter, period, &headers),
        "湖开统1表",
    );
    for (i, (cur, prior)) in FORM1_VALUES.iter().enumerate() {
        let r = 7 + i;
        g = g
            .set(&format!("E{r}"), n(*cur))
            .set(&format!("F{r}"), n(*prior))
            .set(&format!("G{r}"), n(growth(*cur, *prior)));
    }
    g
}

/// The HZ 2020-06 form.
pub fn hz() -> Grid {
    form1("湖州经济技术开发区", "2020年1-6月")
}

/// A valid 湖开统2表 (rows 7-20, values E/F/G) for `reporter` and `period`.
pub fn form2(reporter: &str, period: &str) -> Grid {
    let headers = [
        "序号",
        "指标名称",
        "代码",
        "计量单位",
        "本年",
        "上年",
        "2017年以来累计",
        "备注",
    ];
    let mut g = indicator_rows(
        head("湖开统2表", "G", reporter, period, &headers),
        "湖开统2表",
    );
    for (i, (cur, prior, cum)) in FORM2_VALUES.iter().enumerate() {
        let r = 7 + i;
        g = g
            .set(&format!("E{r}"), cell_of(cur))
            .set(&format!("F{r}"), cell_of(prior))
            .set(&format!("G{r}"), cell_of(cum));
    }
    g
}

/// AJ's 2020 annual form.
pub fn aj2() -> Grid {
    form2("安吉经济开发区", "2020年")
}

/// A valid 湖开统3表 (rows 7-9, values E/F) for `period`.
pub fn form3(period: &str) -> Grid {
    let headers = [
        "序号",
        "指标名称",
        "代码",
        "计量单位",
        "本期",
        "上年同期",
        "备注",
    ];
    let mut g = indicator_rows(
        head("湖开统3表", "F", "湖州市统计局", period, &headers),
        "湖开统3表",
    );
    for (i, (cur, prior)) in FORM3_VALUES.iter().enumerate() {
        let r = 7 + i;
        g = g
            .set(&format!("E{r}"), cell_of(cur))
            .set(&format!("F{r}"), cell_of(prior));
    }
    g
}

/// A file read and every form in it checked.
pub struct Checked {
    pub file: FileRead,
    pub forms: Vec<CheckedForm>,
}

impl Checked {
    /// File-level findings, then each form's.
    pub fn findings(&self) -> Vec<&Finding> {
        self.file
            .findings
            .iter()
            .chain(self.forms.iter().flat_map(|f| &f.findings))
            .collect()
    }

    /// The only form in the file.
    pub fn form(&self) -> &CheckedForm {
        assert_eq!(
            self.forms.len(),
            1,
            "one form expected:\n{}",
            describe(self.findings())
        );
        &self.forms[0]
    }
}

/// Reads bytes as a file called `name` and checks its forms against `expected`.
pub fn check_bytes(bytes: Vec<u8>, name: &str, expected: Option<&str>) -> Checked {
    let cat = cat();
    let file = read::read_bytes(bytes, name, name, &cat);
    let forms = file
        .forms
        .iter()
        .map(|fr| check_form(fr.clone(), name, &file.sha256, expected.map(period), &cat))
        .collect();
    Checked { file, forms }
}

/// A finding in one line: rule, severity, location and message.
pub fn line(f: &Finding) -> String {
    let cell = f.cell.map(|c| c.to_string()).unwrap_or_else(|| "-".into());
    format!(
        "{} {:?} {} {} {}: {}",
        f.rule,
        f.severity,
        f.file,
        f.sheet.as_deref().unwrap_or("-"),
        cell,
        f.message
    )
}

/// Findings, one a line, for failure messages.
pub fn describe<'a>(findings: impl IntoIterator<Item = &'a Finding>) -> String {
    let lines: Vec<String> = findings.into_iter().map(line).collect();
    if lines.is_empty() {
        "(no findings)".into()
    } else {
        lines.join("\n")
    }
}

/// (rule, severity, cell) of each finding, sorted.
pub fn keys<'a>(
    findings: impl IntoIterator<Item = &'a Finding>,
) -> Vec<(String, Severity, Option<String>)> {
    let mut k: Vec<_> = findings
        .into_iter()
        .map(|f| {
            (
                f.rule.to_string(),
                f.severity,
                f.cell.map(|c| c.to_string()),
            )
        })
        .collect();
    k.sort();
    k
}

/// A temporary folder named like a period, e.g. `…/2020-06`.
pub struct PeriodDir {
    _root: tempfile::TempDir,
    pub path: PathBuf,
}

impl PeriodDir {
    pub fn new(name: &str) -> PeriodDir {
        let root = tempfile::tempdir().expect("temp dir");
        let path = root.path().join(name);
        std::fs::create_dir(&path).expect("period dir");
        PeriodDir { _root: root, path }
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path.join(name);
        std::fs::write(&p, bytes).expect("write file");
        p
    }

    /// Copies a fixture in (fixtures are read-only: the copy is made writable).
    pub fn copy(&self, from: &Path, name: &str) -> PathBuf {
        self.write(name, &std::fs::read(from).expect("read fixture"))
    }
}

/// Every file below `dir` (recursively) with its SHA-256.
pub fn inventory(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    zonestat::read::sha256_hex(&std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

/// A copy of a zip package (xlsx) with `from` replaced by `to` in every
/// part, e.g. to write a text longer than the xlsx writer allows.
pub fn replace_in_package(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip package");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).expect("part");
        let name = part.name().expect("part name").to_string();
        let mut body = Vec::new();
        part.read_to_end(&mut body).expect("read part");
        if let Ok(text) = std::str::from_utf8(&body)
            && text.contains(from)
        {
            body = text.replace(from, to).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start part");
        out.write_all(&body).expect("write part");
    }
    out.finish().expect("finish package").into_inner()
}
