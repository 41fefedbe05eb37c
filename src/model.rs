//! Domain types shared by every stage: periods, cell addresses, findings.

use std::fmt;

use serde::{Serialize, Serializer};

/// A reporting period: a year and the last month of the year-to-date span.
/// A `1-2月` form is period `YYYY-02`; an annual form is `YYYY-12`.
///
/// # Examples
/// ```
/// use zonestat::model::Period;
/// let p: Period = "2020-06".parse().unwrap();
/// assert_eq!(p.to_string(), "2020-06");
/// assert_eq!(p.label(), "2020年1-6月");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    pub year: i32,
    pub month: u32,
}

impl Period {
    /// Builds a period, `None` when the month is not 1..=12.
    pub fn new(year: i32, month: u32) -> Option<Period> {
        ((1..=12).contains(&month) && (1900..=2999).contains(&year))
            .then_some(Period { year, month })
    }

    pub fn is_december(self) -> bool {
        self.month == 12
    }

    /// The month before: `2020-06` → `2020-05`, `2020-01` → `2019-12`.
    pub fn previous(self) -> Period {
        match self.month {
            1 => Period {
                year: self.year - 1,
                month: 12,
            },
            m => Period {
                year: self.year,
                month: m - 1,
            },
        }
    }

    /// The same month a year earlier.
    pub fn year_before(self) -> Period {
        Period {
            year: self.year - 1,
            month: self.month,
        }
    }

    /// The month a moment (Unix seconds) falls in, in Beijing time (UTC+8).
    pub fn of_time(secs: i64) -> Period {
        let (year, month, _) = civil_date((secs + 8 * 3600).div_euclid(86_400));
        Period {
            year: year as i32,
            month,
        }
    }

    /// Months from `start` (inclusive) to `self` (inclusive); 0 when before `start`.
    pub fn months_since(self, start: Period) -> i64 {
        let n = (self.year as i64 - start.year as i64) * 12 + self.month as i64
            - start.month as i64
            + 1;
        n.max(0)
    }

    /// The period as people write it: `2020年1-6月`, `2020年1月`, or for a
    /// December `2020年度` when `annual`.
    pub fn label(self) -> String {
        match self.month {
            1 => format!("{}年1月", self.year),
            m => format!("{}年1-{}月", self.year, m),
        }
    }

    /// `2020年度` for an annual run, else [`Period::label`].
    pub fn run_label(self) -> String {
        if self.is_december() {
            format!("{}年度", self.year)
        } else {
            self.label()
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for Period {
    type Err = String;

    /// Parses `YYYY-MM`.
    fn from_str(s: &str) -> Result<Period, String> {
        let bad = || format!("期别“{s}”应写成 YYYY-MM（四位年份-两位月份，如 6 月为 YYYY-06）");
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.is_empty() || m.len() > 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Period::new(year, month).ok_or_else(bad)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A cell position on a sheet, 0-based, as the sheet has it (not relative to
/// the used range).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    pub row: u32,
    pub col: u32,
}

impl Cell {
    pub fn new(row: u32, col: u32) -> Cell {
        Cell { row, col }
    }

    /// The column letters: 0 → `A`, 25 → `Z`, 26 → `AA`.
    pub fn column_name(col: u32) -> String {
        let mut n = col + 1;
        let mut out = Vec::new();
        while n > 0 {
            let r = (n - 1) % 26;
            out.push(b'A' + r as u8);
            n = (n - 1) / 26;
        }
        out.reverse();
        String::from_utf8(out).expect("ASCII letters")
    }
}

impl fmt::Display for Cell {
    /// The A1 address a spreadsheet program shows.
    ///
    /// ```
    /// use zonestat::model::Cell;
    /// assert_eq!(Cell::new(6, 4).to_string(), "E7");
    /// assert_eq!(Cell::new(0, 27).to_string(), "AB1");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", Cell::column_name(self.col), self.row + 1)
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How serious a finding is. Errors reject the form; warnings and notes do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    /// The word shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "错误",
            Severity::Warning => "警告",
            Severity::Info => "提示",
        }
    }
}

/// Unix seconds now (0 on a clock set before 1970).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The calendar date (year, month, day) of a day counted from 1970-01-01
/// (Howard Hinnant's algorithm).
pub fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m as u32, d as u32)
}

/// One problem (or note) about an input, pinned to where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// Stable rule id, e.g. `value.negative`.
    pub rule: &'static str,
    /// Path shown to users: relative to the data folder where there is one.
    pub file: String,
    pub sheet: Option<String>,
    pub cell: Option<Cell>,
    pub zone: Option<String>,
    pub form: Option<String>,
    pub indicator: Option<String>,
    /// Indicator name, for messages and reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub indicator_name: Option<String>,
    /// The value column (its label), when the finding is about one column.
    pub column: Option<String>,
    /// The value found, as written.
    pub found: Option<String>,
    /// What was expected.
    pub expected: Option<String>,
    /// The whole message, in Chinese.
    pub message: String,
    /// The reporting unit's written explanation of a warning (the portal's
    /// 说明), and whether the office accepted it; absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// A unit's explanation of a warning, as the portal recorded it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Explanation {
    pub text: String,
    /// Accepted by the office (统计科已认可).
    pub accepted: bool,
}

impl Finding {
    /// A finding about a whole file.
    pub fn file(
        severity: Severity,
        rule: &'static str,
        file: &str,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            severity,
            rule,
            file: file.to_string(),
            sheet: None,
            cell: None,
            zone: None,
            form: None,
            indicator: None,
            indicator_name: None,
            column: None,
            found: None,
            expected: None,
            message: message.into(),
            explanation: None,
        }
    }

    /// Sets the cell (builder style, on a finding just made).
    pub fn at(&mut self, cell: impl Into<Option<Cell>>) -> &mut Finding {
        self.cell = cell.into();
        self
    }

    /// Sets the value column, by its label.
    pub fn column(&mut self, label: &str) -> &mut Finding {
        self.column = Some(label.to_string());
        self
    }

    /// Sets the value found, as written.
    pub fn found(&mut self, found: impl Into<Option<String>>) -> &mut Finding {
        self.found = found.into();
        self
    }

    /// Sets what was expected.
    pub fn expected(&mut self, expected: impl Into<String>) -> &mut Finding {
        self.expected = Some(expected.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The location as `文件 sheet!A1`.
    pub fn location(&self) -> String {
        match (&self.sheet, &self.cell) {
            (Some(s), Some(c)) => format!("{} {}!{}", self.file, s, c),
            (Some(s), None) => format!("{} {}", self.file, s),
            _ => self.file.clone(),
        }
    }

    /// The sort key of listings: file, sheet, row, column, then rule.
    pub fn sort_key(&self) -> (&str, &str, u32, u32, &str) {
        let (r, c) = self.cell.map(|c| (c.row, c.col)).unwrap_or((0, 0));
        (
            &self.file,
            self.sheet.as_deref().unwrap_or(""),
            r,
            c,
            self.rule,
        )
    }
}

/// Sorts findings by file, sheet, row, column (stable for equal keys).
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
}

/// Every rule id with the short Chinese description that everything printed
/// for people shows in its place (the README's table of rules says the same).
/// The id stays in the JSON, where programs read it.
pub const RULES: &[(&str, &str)] = &[
    ("file.lock", "Excel 临时锁定文件，已忽略"),
    ("file.ignored", "不是电子表格，已忽略"),
    ("file.directory", "子文件夹，未读取"),
    ("file.symlink", "符号链接，未读取"),
    ("file.special", "命名管道或设备文件，未读取"),
    ("file.extension_mismatch", "扩展名与实际格式不符"),
    ("file.not_workbook", "不是电子表格"),
    ("file.unreadable", "文件损坏或不完整"),
    ("file.password", "设有打开密码"),
    ("file.reader_panic", "报表识别程序出错"),
    ("file.too_large", "文件过大"),
    ("file.too_large_unzipped", "解压后过大"),
    ("file.zip_bomb", "压缩比异常（压缩炸弹）"),
    ("file.zip_entries", "压缩包内文件过多"),
    ("file.too_many_cells", "单元格过多"),
    ("file.too_many_sheets", "工作表过多"),
    ("file.too_much_text", "文字过多"),
    (
        "file.reader_limit",
        "读取进程超过上限或崩溃，文件可能已损坏",
    ),
    ("cell.text_cut", "单元格文字过长，只读取了前面部分"),
    ("sheet.cells_ignored", "报表区域外的单元格已忽略"),
    ("form.not_found", "找不到报表"),
    ("form.zone_unknown", "填报单位不认识"),
    ("form.reporter_missing", "没有填报单位"),
    ("form.reporter_mismatch", "报表不该由该单位填报"),
    ("form.period_missing", "没有报告期"),
    ("form.period_unreadable", "报告期无法识别"),
    ("form.period_mismatch", "报告期与期别不符"),
    ("form.header_missing", "找不到表头"),
    ("form.column_missing", "缺少数值列"),
    ("form.duplicate", "同一张表收到两份"),
    ("form.other_period", "其他月份的报表，未使用"),
    ("file.identical_copy", "同一文件存了两份，只计一次"),
    ("row.missing", "缺少指标行"),
    ("row.duplicate", "指标行重复"),
    ("row.unknown", "不是本表的指标"),
    ("value.required", "必填数值没填"),
    ("value.not_number", "不是数值"),
    ("value.error", "是错误值"),
    ("value.negative", "出现负数"),
    ("value.not_whole", "不是整数"),
    ("value.part_exceeds_total", "“其中”项大于总数"),
    ("value.cumulative_below_year", "累计数小于本年数"),
    ("value.not_yes_no", "不是“是”或“否”"),
    ("value.formula_no_result", "公式没有保存计算结果"),
    ("unit.unknown", "计量单位不认识"),
    ("unit.mismatch", "计量单位与指标不符"),
    ("unit.missing", "计量单位为空"),
    ("growth.mismatch", "同比增长与数值不符"),
    ("growth.extreme", "增速超过 ±50%"),
    ("zone.form_missing", "报表未报送"),
    ("city.form_missing", "市统计局报表未报送"),
    ("period.folder_missing", "期别文件夹不存在"),
    ("history.missing", "缺少以往年份 12 月数据"),
    ("cross.prior_differs", "上年同期数与去年所报不符"),
    ("cross.ytd_decreased", "累计数比上月少"),
    ("cross.cumulative_chain", "累计数接不上"),
];

/// The rule id of [`RULES`] spelled `rule`.
pub fn rule_id(rule: &str) -> Option<&'static str> {
    RULES.iter().map(|(id, _)| *id).find(|id| *id == rule)
}

/// The Chinese description of a rule id; the id itself for one not in [`RULES`].
///
/// # Examples
/// ```
/// assert_eq!(zonestat::model::rule_text("value.not_number"), "不是数值");
/// ```
pub fn rule_text(rule: &str) -> &str {
    RULES
        .iter()
        .find(|(id, _)| *id == rule)
        .map_or(rule, |(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_of_the_readme_has_a_chinese_description() {
        let readme = include_str!("../README.md");
        let table = &readme[readme.find("| 规则 | 级别 | 含义 |").unwrap()..];
        let mut seen = 0;
        for line in table.lines().skip(2).take_while(|l| l.starts_with('|')) {
            let ids = line.split('|').nth(1).unwrap();
            for id in ids.split('/').map(str::trim) {
                assert_ne!(rule_text(id), id, "{id} has no description in RULES");
                seen += 1;
            }
        }
        assert!(seen > 40, "{seen} rules in the README");
    }

    #[test]
    fn column_names() {
        assert_eq!(Cell::column_name(0), "A");
        assert_eq!(Cell::column_name(25), "Z");
        assert_eq!(Cell::column_name(26), "AA");
        assert_eq!(Cell::column_name(16383), "XFD");
    }

    #[test]
    fn period_parse_and_months() {
        let p: Period = "2020-06".parse().unwrap();
        assert_eq!(p.months_since("2017-01".parse().unwrap()), 42);
        assert!("2020-13".parse::<Period>().is_err());
        assert!("2020/06".parse::<Period>().is_err());
        assert_eq!("2020-12".parse::<Period>().unwrap().run_label(), "2020年度");
        assert_eq!("2020-02".parse::<Period>().unwrap().label(), "2020年1-2月");
    }
}
