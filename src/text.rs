//! Text as the forms write it: names, numbers and periods in their many spellings.

use crate::model::Period;

/// Folds a full-width ASCII form, the ideographic space and typographic
/// quotes and dashes to ASCII.
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' | '\u{00A0}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '“' | '”' | '„' | '″' => '"',
        '‘' | '’' => '\'',
        '—' | '–' | '―' | '〜' => '-',
        '。' => '.',
        _ => c,
    }
}

/// A name reduced for matching: half-width, no white space, ASCII lower case,
/// no leading `其中:`. Two spellings of one indicator name are equal after this.
///
/// ```
/// use zonestat::text::normalize_name;
/// assert_eq!(normalize_name("其中： 高新技术产业增加值"), normalize_name("高新技术产业增加值"));
/// assert_eq!(normalize_name("新增＂国千＂“省千”人才"), normalize_name("新增\"国千\"\"省千\"人才"));
/// ```
pub fn normalize_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().map(half_width) {
        if !c.is_whitespace() {
            out.push(c.to_ascii_lowercase());
        }
    }
    const OF_WHICH: &str = "其中:";
    if out.starts_with(OF_WHICH) {
        out.drain(..OF_WHICH.len());
    }
    out
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

/// A text cell's meaning as a value.
#[derive(Debug, Clone, PartialEq)]
pub enum TextValue {
    /// A number; `percent` when it was written with a trailing `%`.
    Number { value: f64, percent: bool },
    /// `—`, `-`, `/`, `－`: not applicable.
    NotApplicable,
    /// Blank or white space only.
    Blank,
    /// Anything else.
    Invalid,
}

/// Parses a number written as text: `1,234.5`, `１２３．４`, ` 56.7 `, `12.5%`.
///
/// ```
/// use zonestat::text::{parse_text_value, TextValue};
/// assert_eq!(parse_text_value("１２３．４"), TextValue::Number { value: 123.4, percent: false });
/// assert_eq!(parse_text_value(" 1,234.5 "), TextValue::Number { value: 1234.5, percent: false });
/// assert_eq!(parse_text_value("—"), TextValue::NotApplicable);
/// ```
pub fn parse_text_value(s: &str) -> TextValue {
    let t: String = s
        .chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace())
        .collect();
    if t.is_empty() {
        return TextValue::Blank;
    }
    if t.chars().all(|c| matches!(c, '-' | '/' | '\\')) {
        return TextValue::NotApplicable;
    }
    let (body, percent) = match t.strip_suffix('%') {
        Some(b) => (b, true),
        None => (t.as_str(), false),
    };
    // Thousands separators only between digit groups.
    let body = if body.contains(',') {
        let int_part = body.split('.').next().unwrap_or("");
        let groups: Vec<&str> = int_part.trim_start_matches(['-', '+']).split(',').collect();
        let ok = groups.len() > 1
            && !groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3);
        if !ok {
            return TextValue::Invalid;
        }
        body.replace(',', "")
    } else {
        body.to_string()
    };
    let plain = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'));
    if !plain || !body.chars().any(|c| c.is_ascii_digit()) {
        return TextValue::Invalid;
    }
    match body.parse::<f64>() {
        Ok(v) if v.is_finite() => TextValue::Number { value: v, percent },
        _ => TextValue::Invalid,
    }
}

/// Reads the period a form states: `2020年1-6月`, `2020年1—6月`, `2020年1~6月`,
/// `2020年6月`, `2020年1-6月份`, `2020.6`, `2020年` / `2020年度` (annual: December).
///
/// # Errors
/// A Chinese message saying why the text is not a period.
///
/// ```
/// use zonestat::text::parse_period;
/// assert_eq!(parse_period("2020年1—6月").unwrap().to_string(), "2020-06");
/// assert_eq!(parse_period("2020年").unwrap().to_string(), "2020-12");
/// assert_eq!(parse_period("2020.6").unwrap().to_string(), "2020-06");
/// ```
pub fn parse_period(text: &str) -> Result<Period, String> {
    let t: String = text
        .chars()
        .map(half_width)
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '~' { '-' } else { c })
        .collect();
    let bad = || format!("无法识别的报告期“{}”", text.trim());
    let chars: Vec<char> = t.chars().collect();
    // Find a four-digit year followed by 年 or '.'.
    for i in 0..chars.len().saturating_sub(4) {
        let digits = &chars[i..i + 4];
        if digits.iter().all(|c| c.is_ascii_digit())
            && (i == 0 || !chars[i - 1].is_ascii_digit())
            && matches!(chars[i + 4], '年' | '.')
        {
            let year: i32 = digits
                .iter()
                .collect::<String>()
                .parse()
                .map_err(|_| bad())?;
            let rest: String = chars[i + 5..].iter().collect();
            return period_after_year(year, chars[i + 4], &rest).ok_or_else(bad);
        }
    }
    Err(bad())
}

fn period_after_year(year: i32, sep: char, rest: &str) -> Option<Period> {
    let digits = |s: &str| -> Option<(u32, usize)> {
        let n: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        if n.is_empty() || n.len() > 2 {
            return None;
        }
        Some((n.parse().ok()?, n.len()))
    };
    if sep == '.' {
        let (m, _) = digits(rest)?;
        return Period::new(year, m);
    }
    let rest = rest.trim_end_matches(['份', ')', ']']);
    if rest.is_empty() || rest.starts_with('度') || rest == "全年" {
        return Period::new(year, 12);
    }
    let (first, len) = digits(rest)?;
    let after = &rest[len..];
    if let Some(range) = after.strip_prefix('-') {
        let (last, len2) = digits(range)?;
        let tail = &range[len2..];
        if first != 1 || !tail.starts_with('月') {
            return None;
        }
        return Period::new(year, last);
    }
    if after.starts_with('月') {
        return Period::new(year, first);
    }
    None
}

/// The width of text in spreadsheet column units: a CJK (full-width) character
/// counts about twice an ASCII one. rust_xlsxwriter's autofit counts CJK as
/// narrow, so column widths for Chinese text are computed with this.
///
/// ```
/// use zonestat::text::display_width;
/// assert!(display_width("规模以上工业增加值") > 2.0 * display_width("A01 12.5"));
/// ```
pub fn display_width(s: &str) -> f64 {
    s.lines()
        .map(|line| {
            line.chars()
                .map(|c| {
                    if (c as u32) < 0x1100 && c != '—' {
                        1.1
                    } else {
                        2.1
                    }
                })
                .sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// A name as printed to a terminal: control characters (ESC, newline, …)
/// are shown as escapes (`\n`, `\u{1b}`) so that a crafted file name can
/// neither move the cursor nor forge a line of the listing.
///
/// # Examples
/// ```
/// assert_eq!(zonestat::text::escape_controls("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
/// assert_eq!(zonestat::text::escape_controls("南浔6月.ods"), "南浔6月.ods");
/// ```
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The most characters a spreadsheet cell holds (Excel's limit, which
/// rust_xlsxwriter enforces).
pub const CELL_MAX_CHARS: usize = 32_767;

/// The mark that ends a text cut to fit one cell.
pub const CUT_MARK: &str = "……（超出单元格上限 32767 字，以下已截去）";

/// A text as it fits in one cell: unchanged when it fits, else cut with
/// [`CUT_MARK`] at the end, so that a workbook is always written.
///
/// # Examples
/// ```
/// use zonestat::text::{CELL_MAX_CHARS, fit_cell};
/// assert_eq!(fit_cell("备注"), "备注");
/// let long = "字".repeat(40_000);
/// let cut = fit_cell(&long);
/// assert_eq!(cut.chars().count(), CELL_MAX_CHARS);
/// assert!(cut.ends_with("以下已截去）"));
/// ```
pub fn fit_cell(s: &str) -> std::borrow::Cow<'_, str> {
    // Counting stops early: only a text longer than a cell is walked past the limit.
    if s.len() <= CELL_MAX_CHARS || s.chars().nth(CELL_MAX_CHARS).is_none() {
        return std::borrow::Cow::Borrowed(s);
    }
    let keep = CELL_MAX_CHARS - CUT_MARK.chars().count();
    let end = s.char_indices().nth(keep).map_or(s.len(), |(i, _)| i);
    std::borrow::Cow::Owned(format!("{}{CUT_MARK}", &s[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_in_every_spelling() {
        for (text, want) in [
            ("2020年1-6月", "2020-06"),
            ("2020年1—6月", "2020-06"),
            ("2020年1~6月", "2020-06"),
            ("2020年1～6月", "2020-06"),
            ("2020年6月", "2020-06"),
            ("2020年1-6月份", "2020-06"),
            ("2020.6", "2020-06"),
            ("2020年1-2月", "2020-02"),
            ("２０２０年１－６月", "2020-06"),
            ("2020年", "2020-12"),
            ("2020年度", "2020-12"),
            ("时间：2020年1-12月", "2020-12"),
        ] {
            assert_eq!(
                parse_period(text).map(|p| p.to_string()),
                Ok(want.to_string()),
                "{text}"
            );
        }
        for bad in ["", "六月", "2020年3-6月", "2020年13月", "20年6月"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_as_text() {
        use TextValue::*;
        assert_eq!(
            parse_text_value("12.5%"),
            Number {
                value: 12.5,
                percent: true
            }
        );
        assert_eq!(
            parse_text_value("１２３"),
            Number {
                value: 123.0,
                percent: false
            }
        );
        assert_eq!(
            parse_text_value("-3.5"),
            Number {
                value: -3.5,
                percent: false
            }
        );
        assert_eq!(
            parse_text_value("1,234,567"),
            Number {
                value: 1234567.0,
                percent: false
            }
        );
        for na in ["-", "—", "/", "－", "——", "--"] {
            assert_eq!(parse_text_value(na), NotApplicable, "{na}");
        }
        assert_eq!(parse_text_value("   "), Blank);
        for bad in ["约12", "12,34", "abc", "1.2.3", "N/A", "12元"] {
            assert_eq!(parse_text_value(bad), Invalid, "{bad}");
        }
    }
}
