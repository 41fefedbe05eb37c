//! Every rule, one broken cell at a time: a valid form is written with
//! rust_xlsxwriter in the FORMS.md layout, one cell is changed, and the
//! findings must be exactly the expected rule, severity and A1 cell.

mod common;

use common::*;
use zonestat::folder::check_files;
use zonestat::folder::display_name;
use zonestat::model::Severity::{self, Error, Info, Warning};
use zonestat::read::Outcome;
use zonestat::validate::Val;

/// One case: a workbook, the period it is checked against, and the findings
/// it must give (rule, severity, cell), nothing more.
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    file: &'static str,
    period: &'static str,
    expect: Vec<(&'static str, Severity, Option<&'static str>)>,
}

fn case(
    name: &'static str,
    g: Grid,
    expect: &[(&'static str, Severity, Option<&'static str>)],
) -> Case {
    let period = if g.sheet == "湖开统2表" {
        "2020-12"
    } else {
        "2020-06"
    };
    Case {
        name,
        bytes: g.xlsx(),
        file: "附件.xlsx",
        period,
        expect: expect.to_vec(),
    }
}

fn file_case(
    name: &'static str,
    file: &'static str,
    bytes: Vec<u8>,
    expect: &[(&'static str, Severity, Option<&'static str>)],
) -> Case {
    Case {
        name,
        bytes,
        file,
        period: "2020-06",
        expect: expect.to_vec(),
    }
}

/// Runs every case and reports all that fail at once.
fn run(cases: Vec<Case>) {
    let mut failed = Vec::new();
    for c in cases {
        let checked = check_bytes(c.bytes, c.file, Some(c.period));
        let got = keys(checked.findings());
        let mut want: Vec<(String, Severity, Option<String>)> = c
            .expect
            .iter()
            .map(|(r, s, cell)| (r.to_string(), *s, cell.map(str::to_string)))
            .collect();
        want.sort();
        if got != want {
            failed.push(format!(
                "case `{}`:\n  expected {:?}\n  got {:?}\n{}",
                c.name,
                want,
                got,
                describe(checked.findings())
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "{} case(s) failed:\n\n{}",
        failed.len(),
        failed.join("\n\n")
    );
}

#[test]
fn valid_forms_give_no_finding() {
    run(vec![
        case("1表", hz(), &[]),
        case("2表", aj2(), &[]),
        case("3表", form3("2020年1-6月"), &[]),
        case(
            "1表 as 1-2月",
            form1("湖州经济技术开发区", "2020年1-2月"),
            &[],
        )
        .with_period("2020-02"),
        case(
            "reporter with 管委会 and half-width colon",
            hz().set("A4", t("填报单位:湖州开发区管委会")),
            &[],
        ),
        case(
            "reporter after 填报单位（盖章）",
            hz().set("A4", t("填报单位（盖章）：湖州经济技术开发区")),
            &[],
        ),
        case(
            "reporter in the next cell",
            hz().set("A4", t("填报单位："))
                .set("B4", t("湖州经济技术开发区")),
            &[],
        ),
        case("period 2020年6月", hz().set("D4", t("2020年6月")), &[]),
        case("period 2020.6", hz().set("D4", t("2020.6")), &[]),
        case(
            "period 2020年1~6月份",
            hz().set("D4", t("2020年1~6月份")),
            &[],
        ),
        case(
            "form number with half-width colon",
            hz().set("G2", t("表号:湖开统1表")),
            &[],
        ),
        case(
            "form found by its title alone",
            hz().set("G2", None).set("G3", None),
            &[],
        ),
        case("renamed sheet", hz().renamed("6月"), &[]),
        case(
            "rows reordered",
            hz().swap_rows(7, 22).swap_rows(9, 14),
            &[],
        ),
        case("blank row inside the table", hz().insert_row(13), &[]),
        case(
            "shifted down two rows and right one column",
            hz().shifted(2, 1),
            &[],
        ),
        case(
            "no 代码 column: names with half-width colon, spaces, full-width brackets",
            hz().clear_col("C")
                .set("B9", t("其中:高新技术产业增加值"))
                .set("B8", t("规模以上 工业总产值"))
                .set("B18", t("规上工业企业研究与试验发展（R&D）经费支出")),
            &[],
        ),
        case("old header 本期", hz().set("E5", t("本期")), &[]),
        case(
            "growth column left out",
            hz().clear_col("G").set("G2", t("表    号：湖开统1表")),
            &[],
        ),
        case("growth as text percent", hz().set("G7", t("10.6%")), &[]),
        case(
            "growth not a number is ignored",
            hz().set("G7", t("约10")),
            &[],
        ),
        case(
            "growth formulas without result",
            growth_formulas(hz(), None),
            &[],
        ),
        case(
            "growth formulas with error result",
            growth_formulas(hz(), Some("#DIV/0!")),
            &[],
        ),
        case(
            "formula with saved result",
            hz().set(
                "E8",
                W::FormulaWith("219.5161+146.344".into(), "365.8601".into()),
            ),
            &[],
        ),
        case(
            "yes/no as √ and ×",
            aj2().set("E19", t("√")).set("F20", t("×")),
            &[],
        ),
        case("2表 stock with blank 累计", aj2().set("G9", None), &[]),
        case(
            "3表 percentage as text with %",
            form3("2020年1-6月").set("E7", t("2.114%")),
            &[],
        ),
        case(
            "3表 C02 not required",
            form3("2020年1-6月").set("E8", t("-")),
            &[],
        ),
    ]);
}

impl Case {
    fn with_period(mut self, p: &'static str) -> Case {
        self.period = p;
        self
    }
}

/// The growth column as formulas, with no saved result or with `result`.
fn growth_formulas(mut g: Grid, result: Option<&str>) -> Grid {
    for r in 7..=22 {
        let f = format!("ROUND((E{r}-F{r})/F{r}*100,1)");
        let w = match result {
            None => W::Formula(f),
            Some(res) => W::FormulaWith(f, res.to_string()),
        };
        g = g.set(&format!("G{r}"), w);
    }
    g
}

#[test]
fn file_rules() {
    let good = hz().xlsx();
    let half = good[..good.len() / 2].to_vec();
    let xls = std::fs::read(data("2020-06").join("吴兴开发区主要指标202006.xls")).unwrap();
    let ods = std::fs::read(data("2020-06").join("南浔6月.ods")).unwrap();
    let password = std::fs::read(fixtures().join("bad/password-1234.xlsx")).unwrap();
    // A zip package that is not a workbook: the .ods with its content renamed away.
    let zip_not_workbook = replace_all(
        &replace_all(&ods, b"content.xml", b"contenu.xml"),
        b"opendocument.spreadsheet",
        b"opendocument.text_______",
    );
    let no_form = Grid::new("Sheet1")
        .set("A1", t("会议通知"))
        .set("A2", t("请于周五前报送报表。"))
        .xlsx();
    run(vec![
        file_case(
            "text under an .xlsx name",
            "附件.xlsx",
            b"hello".to_vec(),
            &[("file.not_workbook", Error, None)],
        ),
        file_case(
            "empty .xls",
            "附件.xls",
            Vec::new(),
            &[("file.not_workbook", Error, None)],
        ),
        file_case(
            "truncated .xlsx",
            "附件.xlsx",
            half.clone(),
            &[("file.unreadable", Error, None)],
        ),
        file_case(
            "truncated .ods",
            "南浔6月.ods",
            ods[..ods.len() / 2].to_vec(),
            &[("file.unreadable", Error, None)],
        ),
        file_case(
            "truncated .xls",
            "附件.xls",
            xls[..xls.len() / 2].to_vec(),
            &[("file.unreadable", Error, None)],
        ),
        // Regression: calamine panicked on an .xls cut inside its first sectors.
        file_case(
            "truncated .xls header",
            "附件.xls",
            xls[..600].to_vec(),
            &[("file.unreadable", Error, None)],
        ),
        file_case(
            "truncated .xls end",
            "附件.xls",
            xls[..8300].to_vec(),
            &[("file.unreadable", Error, None)],
        ),
        file_case(
            "truncated .xls under an .xlsx name",
            "附件.xlsx",
            xls[..600].to_vec(),
            &[
                ("file.extension_mismatch", Info, None),
                ("file.unreadable", Error, None),
            ],
        ),
        file_case(
            "not a workbook, not claiming to be",
            "readme.txt",
            b"see attached".to_vec(),
            &[("file.ignored", Info, None)],
        ),
        file_case(
            "mail leftover",
            "邮件.eml",
            b"From: a@b\r\n\r\nhi".to_vec(),
            &[("file.ignored", Info, None)],
        ),
        file_case(
            "other zip",
            "附件.zip",
            zip_not_workbook.clone(),
            &[("file.ignored", Info, None)],
        ),
        file_case(
            "zip under a workbook name",
            "附件.xlsx",
            zip_not_workbook,
            &[("file.unreadable", Error, None)],
        ),
        file_case(
            "Excel lock file",
            "~$附件.xlsx",
            b"\x05user".to_vec(),
            &[("file.lock", Info, None)],
        ),
        file_case(
            "LibreOffice lock file",
            ".~lock.附件.xlsx#",
            b"user,host".to_vec(),
            &[("file.lock", Info, None)],
        ),
        file_case(
            "password",
            "附件.xlsx",
            password,
            &[("file.password", Error, None)],
        ),
        file_case(
            "workbook with no form",
            "通知.xlsx",
            no_form,
            &[("form.not_found", Error, None)],
        ),
        file_case(
            "ods under an .xls name",
            "南浔6月.xls",
            ods,
            &[("file.extension_mismatch", Info, None)],
        ),
    ]);
}

/// `bytes` with every `from` replaced by `to` (of the same length).
fn replace_all(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let mut out = bytes.to_vec();
    let mut i = 0;
    while i + from.len() <= out.len() {
        if &out[i..i + from.len()] == from {
            out[i..i + from.len()].copy_from_slice(to);
            i += from.len();
        } else {
            i += 1;
        }
    }
    out
}

#[test]
fn file_outcomes() {
    let cat = cat();
    let read =
        |bytes: Vec<u8>, name: &str| zonestat::read::read_bytes(bytes, name, name, &cat).outcome;
    assert_eq!(read(hz().xlsx(), "a.xlsx"), Outcome::Read);
    assert_eq!(read(b"x".to_vec(), "readme.txt"), Outcome::Ignored);
    assert_eq!(read(b"x".to_vec(), "~$a.xlsx"), Outcome::Ignored);
    assert_eq!(read(b"x".to_vec(), "a.xlsx"), Outcome::Unreadable);
    let no_form = Grid::new("Sheet1").set("A1", t("hello")).xlsx();
    assert_eq!(read(no_form, "a.xlsx"), Outcome::Unreadable);
}

#[test]
fn head_rules() {
    run(vec![
        case(
            "unknown zone",
            hz().set("A4", t("填报单位：德清经济开发区")),
            &[("form.zone_unknown", Error, Some("A4"))],
        ),
        case(
            "reporter missing",
            hz().set("A4", None),
            &[("form.reporter_missing", Error, None)],
        ),
        case(
            "reporter blank after the label",
            hz().set("A4", t("填报单位：")),
            &[("form.reporter_missing", Error, None)],
        ),
        case(
            "zone form from the city",
            hz().set("A4", t("填报单位：湖州市统计局")),
            &[("form.reporter_mismatch", Error, Some("A4"))],
        ),
        case(
            "city form from a zone",
            form3("2020年1-6月").set("A4", t("填报单位：湖州经济技术开发区")),
            &[("form.reporter_mismatch", Error, Some("A4"))],
        ),
        case(
            "period missing",
            hz().set("D4", None),
            &[("form.period_missing", Error, None)],
        ),
        case(
            "period unreadable",
            hz().set("D4", t("2020年3-6月")),
            &[("form.period_unreadable", Error, Some("D4"))],
        ),
        case(
            "period unreadable, labelled",
            hz().set("D4", t("报告期：六月")),
            &[("form.period_unreadable", Error, Some("D4"))],
        ),
        case(
            "period of another month",
            hz().set("D4", t("2020年1-5月")),
            &[("form.period_mismatch", Error, Some("D4"))],
        ),
        case(
            "period of another year",
            hz().set("D4", t("2019年1-6月")),
            &[("form.period_mismatch", Error, Some("D4"))],
        ),
        case(
            "annual form in a June folder",
            aj2(),
            &[("form.period_mismatch", Error, Some("D4"))],
        )
        .with_period("2020-06"),
        case(
            "header row missing",
            hz().set("B5", t("名称")),
            &[("form.header_missing", Error, Some("G2"))],
        ),
        case(
            "上年同期 column missing",
            hz().set("F5", t("去年")),
            &[("form.column_missing", Error, Some("B5"))],
        ),
        case(
            "累计 column missing",
            aj2().set("G5", None),
            &[("form.column_missing", Error, Some("B5"))],
        ),
        case(
            "shifted form: unknown zone",
            hz().set("A4", t("填报单位：德清经济开发区")).shifted(2, 1),
            &[("form.zone_unknown", Error, Some("B6"))],
        ),
    ]);
}

#[test]
fn row_rules() {
    run(vec![
        case(
            "row missing",
            hz().clear_row(11),
            &[("row.missing", Error, None)],
        ),
        case(
            "row missing by name, no code column",
            hz().clear_col("C").set("B11", t("高新企业产值")),
            &[
                ("row.missing", Error, None),
                ("row.unknown", Warning, Some("B11")),
            ],
        ),
        case(
            "row twice",
            hz().copy_row(11, 23),
            &[("row.duplicate", Error, Some("B23"))],
        ),
        case(
            "row unknown",
            hz().set("B23", t("其他收入")).set("E23", n(5.0)),
            &[("row.unknown", Warning, Some("B23"))],
        ),
        case(
            "shifted form: row twice",
            hz().copy_row(11, 23).shifted(2, 1),
            &[("row.duplicate", Error, Some("C25"))],
        ),
    ]);
}

#[test]
fn value_rules() {
    run(vec![
        case(
            "required blank",
            hz().set("E9", None),
            &[("value.required", Error, Some("E9"))],
        ),
        case(
            "required not applicable —",
            hz().set("F9", t("—")),
            &[("value.required", Error, Some("F9"))],
        ),
        case(
            "required not applicable -",
            hz().set("E10", t("-")),
            &[("value.required", Error, Some("E10"))],
        ),
        case(
            "required not applicable /",
            hz().set("E10", t("/")),
            &[("value.required", Error, Some("E10"))],
        ),
        case(
            "required not applicable －",
            hz().set("E10", t("－")),
            &[("value.required", Error, Some("E10"))],
        ),
        case(
            "required space only",
            hz().set("E10", t("  ")),
            &[("value.required", Error, Some("E10"))],
        ),
        case(
            "not a number",
            hz().set("E10", t("约200")),
            &[("value.not_number", Error, Some("E10"))],
        ),
        case(
            "bad thousands separator",
            hz().set("E10", t("20,42")),
            &[("value.not_number", Error, Some("E10"))],
        ),
        case(
            "logical value",
            hz().set("E10", W::Bool(true)),
            &[("value.not_number", Error, Some("E10"))],
        ),
        case(
            "percent in a value column",
            hz().set("E11", t("12.5%")),
            &[("value.not_number", Error, Some("E11"))],
        ),
        case(
            "negative",
            hz().set("E11", n(-5.0)).set("G11", None),
            &[("value.negative", Error, Some("E11"))],
        ),
        case(
            "negative as text",
            hz().set("F11", t("-114.4131")).set("G11", None),
            &[("value.negative", Error, Some("F11"))],
        ),
        case(
            "not whole",
            hz().set("E20", n(137.5)).set("G20", None),
            &[("value.not_whole", Error, Some("E20"))],
        ),
        case(
            "formula without result",
            hz().set("E8", W::Formula("219.5161+146.344".into())),
            &[("value.formula_no_result", Error, Some("E8"))],
        ),
        case(
            "formula with error result",
            hz().set("E8", W::FormulaWith("1/0".into(), "#DIV/0!".into())),
            &[("value.error", Error, Some("E8"))],
        ),
        case(
            "shifted form: negative",
            hz().set("E11", n(-5.0)).set("G11", None).shifted(2, 1),
            &[("value.negative", Error, Some("F13"))],
        ),
    ]);
}

#[test]
fn part_exceeds_total_in_each_column() {
    run(vec![
        case(
            "A03 > A01 本期",
            hz().set("E9", n(100.0)).set("G9", None),
            &[("value.part_exceeds_total", Error, Some("E9"))],
        ),
        case(
            "A04 > A02 上年同期",
            hz().set("F10", n(400.0)).set("G10", None),
            &[("value.part_exceeds_total", Error, Some("F10"))],
        ),
        case(
            "A08 > A07 本期",
            hz().set("E14", n(7.0)).set("G14", None),
            &[("value.part_exceeds_total", Error, Some("E14"))],
        ),
        case(
            "A09 > A08 上年同期",
            hz().set("F15", n(6.0)).set("G15", None),
            &[("value.part_exceeds_total", Error, Some("F15"))],
        ),
        case(
            "A12 > A13 本期",
            hz().set("E18", n(400.0)).set("G18", None),
            &[("value.part_exceeds_total", Error, Some("E18"))],
        ),
        case(
            "part equal to total is fine",
            hz().set("E9", n(89.4134)).set("G9", None),
            &[],
        ),
        case(
            "B02 > B01 本年",
            aj2().set("E8", n(3.0)),
            &[("value.part_exceeds_total", Error, Some("E8"))],
        ),
        case(
            "B02 > B01 上年",
            aj2().set("F8", n(3.0)),
            &[("value.part_exceeds_total", Error, Some("F8"))],
        ),
        case(
            "B02 > B01 累计",
            aj2().set("G8", n(9.0)),
            &[("value.part_exceeds_total", Error, Some("G8"))],
        ),
        case(
            "B04 > B03 本年",
            aj2().set("E10", n(11.0)),
            &[("value.part_exceeds_total", Error, Some("E10"))],
        ),
    ]);
}

#[test]
fn annual_form_rules() {
    run(vec![
        case(
            "累计 below 本年",
            aj2().set("G11", n(2.0)),
            &[("value.cumulative_below_year", Error, Some("G11"))],
        ),
        case(
            "累计 required, not applicable",
            aj2().set("G7", t("—")),
            &[("value.required", Error, Some("G7"))],
        ),
        case(
            "累计 required, blank",
            aj2().set("G18", None),
            &[("value.required", Error, Some("G18"))],
        ),
        case(
            "yes/no as other text",
            aj2().set("E19", t("不是")),
            &[("value.not_yes_no", Error, Some("E19"))],
        ),
        case(
            "yes/no as a number",
            aj2().set("F20", n(1.0)),
            &[("value.not_yes_no", Error, Some("F20"))],
        ),
        case(
            "yes/no required",
            aj2().set("E19", None),
            &[("value.required", Error, Some("E19"))],
        ),
        case(
            "yes/no not applicable",
            aj2().set("E19", t("—")),
            &[("value.required", Error, Some("E19"))],
        ),
        case(
            "count not whole",
            aj2().set("E15", n(2.5)),
            &[("value.not_whole", Error, Some("E15"))],
        ),
        case(
            "stock negative",
            aj2().set("E17", n(-1.0)),
            &[("value.negative", Error, Some("E17"))],
        ),
    ]);
}

#[test]
fn unit_rules() {
    run(vec![
        case(
            "unit unknown",
            hz().set("D7", t("亿")),
            &[("unit.unknown", Error, Some("D7"))],
        ),
        case(
            "unit of another dimension",
            hz().set("D7", t("亿美元")),
            &[("unit.mismatch", Error, Some("D7"))],
        ),
        case(
            "count unit on money",
            hz().set("D13", t("个")),
            &[("unit.mismatch", Error, Some("D13"))],
        ),
        case(
            "unit blank",
            hz().set("D7", None),
            &[("unit.missing", Warning, Some("D7"))],
        ),
        case(
            "万元",
            hz().set("D12", t("万元"))
                .set("E12", n(101716.0))
                .set("F12", n(88912.0)),
            &[],
        ),
        case(
            "万美元",
            hz().set("D13", t("万美元"))
                .set("E13", n(66635.0))
                .set("F13", n(58469.0)),
            &[],
        ),
        case(
            "元",
            hz().set("D12", t("元"))
                .set("E12", n(1017160000.0))
                .set("F12", n(889120000.0)),
            &[],
        ),
        case(
            "sign checked after conversion",
            hz().set("D12", t("万元"))
                .set("E12", n(-101716.0))
                .set("F12", n(88912.0))
                .set("G12", None),
            &[("value.negative", Error, Some("E12"))],
        ),
    ]);
}

#[test]
fn units_convert_exactly_to_the_canonical_unit() {
    let c = check_bytes(
        hz().set("D12", t("万元"))
            .set("E12", n(287481.0))
            .set("F12", t("267,942"))
            .set("G12", None)
            .set("D13", t("万美元"))
            .set("E13", n(66635.0))
            .set("F13", n(58469.0))
            .set("D19", t("元"))
            .set("E19", n(33608050000.0))
            .set("F19", t("28,549,690,000"))
            .xlsx(),
        "a.xlsx",
        Some("2020-06"),
    );
    let f = c.form();
    assert!(f.findings.is_empty(), "{}", describe(&f.findings));
    assert_eq!(f.values["A06"].current, Some(Val::Number(28.7481)));
    assert_eq!(f.values["A06"].prior, Some(Val::Number(26.7942)));
    assert_eq!(f.values["A07"].current, Some(Val::Number(6.6635)));
    assert_eq!(f.values["A07"].prior, Some(Val::Number(5.8469)));
    assert_eq!(f.values["A13"].current, Some(Val::Number(336.0805)));
    assert_eq!(f.values["A13"].prior, Some(Val::Number(285.4969)));
}

#[test]
fn growth_rules() {
    run(vec![
        case(
            "growth disagrees",
            hz().set("G7", n(20.0)),
            &[("growth.mismatch", Warning, Some("G7"))],
        ),
        case(
            "growth as text disagrees",
            hz().set("G7", t("20%")),
            &[("growth.mismatch", Warning, Some("G7"))],
        ),
        case("growth within 0.1 point", hz().set("G7", n(10.5)), &[]),
        // Excel stores `10.6%` typed into a cell as 0.106 shown as a percentage.
        case(
            "growth as a percentage-formatted number",
            hz().set("G7", W::Formatted(0.106, "0.0%".into())),
            &[],
        ),
        case(
            "growth as a percentage-formatted number disagrees",
            hz().set("G7", W::Formatted(0.2, "0%".into())),
            &[("growth.mismatch", Warning, Some("G7"))],
        ),
        case(
            "growth with prior 0 is not checked",
            hz().set("F20", n(0.0)).set("G20", n(5.0)),
            &[],
        ),
    ]);
}

#[test]
fn percentage_formatted_growth_is_read_in_percent() {
    let c = check_bytes(
        hz().set("G7", W::Formatted(0.106, "0.0%".into())).xlsx(),
        "a.xlsx",
        Some("2020-06"),
    );
    let f = c.form();
    assert!(f.findings.is_empty(), "{}", describe(&f.findings));
    assert_eq!(f.values["A01"].reported_growth, Some(10.6));
}

#[test]
fn values_written_as_text_are_read() {
    let c = check_bytes(
        hz().set("E7", t(" 89.4134 "))
            .set("F7", t("８０．８６８２"))
            .set("E8", t("1,365.8601"))
            .set("F8", t("1,307.8185"))
            .set("G8", None)
            .set("E20", t("１３７"))
            .set("F20", t("\u{3000}121\u{3000}"))
            .set("G20", t("13.2%"))
            .xlsx(),
        "a.xlsx",
        Some("2020-06"),
    );
    let f = c.form();
    assert!(f.findings.is_empty(), "{}", describe(&f.findings));
    let v = |code: &str| &f.values[code];
    assert_eq!(v("A01").current, Some(Val::Number(89.4134)));
    assert_eq!(v("A01").prior, Some(Val::Number(80.8682)));
    assert_eq!(v("A02").current, Some(Val::Number(1365.8601)));
    assert_eq!(v("A02").prior, Some(Val::Number(1307.8185)));
    assert_eq!(v("A14").current, Some(Val::Number(137.0)));
    assert_eq!(v("A14").prior, Some(Val::Number(121.0)));
    assert_eq!(v("A14").reported_growth, Some(13.2));
}

#[test]
fn not_applicable_marks_read_as_no_value() {
    for mark in ["—", "-", "/", "－", "——"] {
        let c = check_bytes(
            form3("2020年1-6月").set("F8", t(mark)).xlsx(),
            "a.xlsx",
            Some("2020-06"),
        );
        let f = c.form();
        assert!(f.findings.is_empty(), "{mark}: {}", describe(&f.findings));
        assert_eq!(f.values["C02"].prior, None, "{mark}");
        assert_eq!(f.values["C02"].current, Some(Val::Number(272.0)), "{mark}");
    }
}

#[test]
fn findings_name_the_zone_indicator_and_column() {
    let c = check_bytes(
        hz().set("E11", n(-5.0)).set("G11", None).xlsx(),
        "湖州.xlsx",
        Some("2020-06"),
    );
    let f = &c.form().findings[0];
    assert_eq!(f.rule, "value.negative");
    assert_eq!(f.file, "湖州.xlsx");
    assert_eq!(f.sheet.as_deref(), Some("湖开统1表"));
    assert_eq!(f.zone.as_deref(), Some("HZ"));
    assert_eq!(f.form.as_deref(), Some("湖开统1表"));
    assert_eq!(f.indicator.as_deref(), Some("A05"));
    assert_eq!(f.column.as_deref(), Some("1-本月累计"));
    assert_eq!(f.found.as_deref(), Some("-5"));
    assert!(
        f.message.contains("A05") && f.message.contains("负数"),
        "{}",
        f.message
    );
}

#[test]
fn all_problems_of_a_form_are_reported_at_once() {
    let g = hz()
        .set("D4", t("2020年1-5月"))
        .set("E9", None)
        .set("E10", t("约200"))
        .set("E20", n(137.5))
        .set("G20", None)
        .set("D7", t("亿"));
    let c = check_bytes(g.xlsx(), "a.xlsx", Some("2020-06"));
    assert_eq!(
        keys(c.findings()),
        [
            (
                "form.period_mismatch".to_string(),
                Error,
                Some("D4".to_string())
            ),
            ("unit.unknown".to_string(), Error, Some("D7".to_string())),
            (
                "value.not_number".to_string(),
                Error,
                Some("E10".to_string())
            ),
            (
                "value.not_whole".to_string(),
                Error,
                Some("E20".to_string())
            ),
            ("value.required".to_string(), Error, Some("E9".to_string())),
        ],
        "{}",
        describe(c.findings())
    );
}

#[test]
fn same_form_twice_in_a_folder_is_an_error_on_both() {
    let dir = PeriodDir::new("2020-06");
    let a = dir.write("湖州开发区6月报表.xlsx", &hz().xlsx());
    let b = dir.write(
        "湖州开发区6月报表(修改).xlsx",
        &hz().set("E7", n(89.5)).set("G7", None).xlsx(),
    );
    let other = dir.write("安吉.xlsx", &form1("安吉经济开发区", "2020年1-6月").xlsx());
    let batch = check_files(
        &[a, b, other],
        &display_name,
        Some(period("2020-06")),
        &cat(),
    );
    assert_eq!(
        keys(&batch.findings),
        [
            ("form.duplicate".to_string(), Error, None),
            ("form.duplicate".to_string(), Error, None),
        ],
        "{}",
        describe(&batch.findings)
    );
    let first = batch
        .findings
        .iter()
        .find(|f| f.file == "2020-06/湖州开发区6月报表.xlsx")
        .unwrap();
    let second = batch
        .findings
        .iter()
        .find(|f| f.file == "2020-06/湖州开发区6月报表(修改).xlsx")
        .unwrap();
    assert!(
        first.message.contains("湖州开发区6月报表(修改).xlsx"),
        "{}",
        first.message
    );
    assert!(
        second.message.contains("2020-06/湖州开发区6月报表.xlsx"),
        "{}",
        second.message
    );
    assert_eq!(first.zone.as_deref(), Some("HZ"));
    assert_eq!(first.sheet.as_deref(), Some("湖开统1表"));
    let status: Vec<&str> = batch.files.iter().map(|f| f.status).collect();
    assert_eq!(status, ["rejected", "rejected", "used"]);
}

#[test]
fn same_zone_different_forms_or_periods_are_not_duplicates() {
    let dir = PeriodDir::new("2020-12");
    let monthly = dir.write("a.xlsx", &form1("安吉经济开发区", "2020年1-12月").xlsx());
    let annual = dir.write("b.xlsx", &aj2().xlsx());
    let batch = check_files(
        &[monthly, annual],
        &display_name,
        Some(period("2020-12")),
        &cat(),
    );
    assert!(batch.findings.is_empty(), "{}", describe(&batch.findings));
}

#[test]
fn unreadable_file_report_gives_the_error_as_reason() {
    let dir = PeriodDir::new("2020-06");
    let xls = std::fs::read(data("2020-06").join("吴兴开发区主要指标202006.xls")).unwrap();
    let cut = dir.write("附件1.xlsx", &xls[..600]);
    let batch = check_files(&[cut], &display_name, Some(period("2020-06")), &cat());
    let report = &batch.files[0];
    assert_eq!(report.status, "unreadable");
    let error = batch
        .findings
        .iter()
        .find(|f| f.is_error())
        .expect("an error");
    assert_eq!(error.rule, "file.unreadable");
    assert_eq!(report.reason.as_deref(), Some(error.message.as_str()));
}
