//! The assessment workbook, read back: its sheets, its numbers against the
//! JSON summary, formulas with their results stored, repeatable bytes, a
//! run with a zone missing and another's file corrupt, and a real spreadsheet
//! program (LibreOffice) opening it.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use calamine::{Data, Range, Reader, Xlsx};
use serde_json::Value;
use zonestat::assess::Status;
use zonestat::catalog::{BUNDLED, Catalogue};
use zonestat::consolidate::{Consolidation, consolidate};
use zonestat::report::{MadeAt, summary_text, workbook_bytes, write_report};
use zonestat::summary::summary_json;

/// 2021-01-01 00:00 UTC.
const MADE: i64 = 1_609_459_200;

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data")
}

fn run(dir: &Path, period: &str) -> (Consolidation, Catalogue) {
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let c = consolidate(dir, period.parse().unwrap(), &cat).unwrap();
    (c, cat)
}

struct Book {
    xlsx: Xlsx<Cursor<Vec<u8>>>,
}

impl Book {
    fn new(bytes: Vec<u8>) -> Book {
        Book {
            xlsx: Xlsx::new(Cursor::new(bytes)).expect("the workbook opens"),
        }
    }

    fn values(&mut self, sheet: &str) -> Range<Data> {
        self.xlsx
            .worksheet_range(sheet)
            .unwrap_or_else(|e| panic!("sheet {sheet}: {e}"))
    }

    fn formulas(&mut self, sheet: &str) -> Range<String> {
        self.xlsx.worksheet_formula(sheet).unwrap()
    }
}

fn text(r: &Range<Data>, row: u32, col: u32) -> String {
    match r.get_value((row, col)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Empty) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn number(r: &Range<Data>, row: u32, col: u32) -> f64 {
    match r.get_value((row, col)) {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(i)) => *i as f64,
        other => panic!("no number at ({row}, {col}): {other:?}"),
    }
}

/// Rows whose cell in `col` is exactly `s`, top down.
fn rows_with(r: &Range<Data>, col: u32, s: &str) -> Vec<u32> {
    let (top, _) = r.start().unwrap();
    let (bottom, _) = r.end().unwrap();
    (top..=bottom)
        .filter(|&row| text(r, row, col) == s)
        .collect()
}

/// Every text of a sheet, joined.
fn all_text(r: &Range<Data>) -> String {
    r.cells()
        .filter_map(|(_, _, d)| match d {
            Data::String(s) => Some(s.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn json(c: &Consolidation, cat: &Catalogue) -> Value {
    summary_json(c, cat)
}

#[test]
fn the_sheets_are_there_in_order() {
    let (c, cat) = run(&data(), "2020-12");
    let book = Book::new(workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap());
    let names = book.xlsx.sheet_names();
    let mut expected: Vec<String> = [
        "封面",
        "目标考核",
        "图表",
        "全市汇总",
        "分区对比",
        "综合评价",
    ]
    .map(String::from)
    .to_vec();
    expected.extend(cat.zones.iter().map(|z| z.short.clone()));
    expected.push("数据问题".into());
    expected.push("来源清单".into());
    assert_eq!(names, expected);
}

#[test]
fn key_cells_equal_the_json_summary() {
    let (c, cat) = run(&data(), "2020-12");
    let j = json(&c, &cat);
    let mut book = Book::new(workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap());

    // 目标考核: T01's actual (the 2017-2020 average growth) and status.
    let t = book.values("目标考核");
    let t01 = rows_with(&t, 0, "T01")[0];
    let expected = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "T01")
        .unwrap();
    assert!(close(
        number(&t, t01, 5),
        expected["actual"].as_f64().unwrap()
    ));
    assert_eq!(text(&t, t01, 8), "达标");
    // T04: completion and schedule.
    let t04 = rows_with(&t, 0, "T04")[0];
    let e04 = j["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == "T04")
        .unwrap();
    assert!(close(
        number(&t, t04, 6),
        e04["completion"].as_f64().unwrap()
    ));
    assert!(close(number(&t, t04, 7), e04["schedule"].as_f64().unwrap()));
    // T19's city row says how many zones meet it.
    assert!(all_text(&t).contains("1/5"));

    // 分区对比: a zone's value, the city total (a formula) and its result.
    let cmp = book.values("分区对比");
    let a01 = rows_with(&cmp, 0, "A01");
    assert!(a01.len() >= 3, "current, prior and growth rows of A01");
    assert_eq!(text(&cmp, 2, 3), "湖州开发区");
    assert_eq!(text(&cmp, 2, 8), "全市合计");
    let hz = j["zones"]["HZ"]["indicators"]["A01"]["current"]
        .as_f64()
        .unwrap();
    assert!(close(number(&cmp, a01[0], 3), hz));
    let city_a01 = j["city"]["indicators"]["A01"]["current"].as_f64().unwrap();
    assert!(close(number(&cmp, a01[0], 8), city_a01));
    let city_prior = j["city"]["indicators"]["A01"]["prior"].as_f64().unwrap();
    assert!(close(number(&cmp, a01[1], 8), city_prior));
    let city_growth = j["city"]["indicators"]["A01"]["growth"].as_f64().unwrap();
    assert!(close(number(&cmp, a01[2], 8), city_growth));
    let f = book.formulas("分区对比");
    let formula = |row: u32, col: u32| f.get_value((row, col)).cloned().unwrap_or_default();
    assert_eq!(formula(a01[0], 8), format!("SUM(D{0}:H{0})", a01[0] + 1));
    assert_eq!(
        formula(a01[2], 8),
        format!("(I{}/I{}-1)*100", a01[0] + 1, a01[1] + 1)
    );
    // A city ratio from the sums, as a formula with its result.
    let r4 = rows_with(&cmp, 0, "R4")[0];
    let city_r4 = j["city"]["ratios"]["R4"]["current"].as_f64().unwrap();
    assert!(close(number(&cmp, r4, 8), city_r4));
    assert!(formula(r4, 8).contains("*100"), "{}", formula(r4, 8));

    // 全市汇总: the city value by formula from 分区对比, result stored.
    let city = book.values("全市汇总");
    let row = rows_with(&city, 0, "A01")[0];
    assert!(close(number(&city, row, 3), city_a01));
    assert!(close(number(&city, row, 5), city_growth));
    let cf = book.formulas("全市汇总");
    assert!(
        cf.get_value((row, 3)).unwrap().contains("分区对比"),
        "{:?}",
        cf.get_value((row, 3))
    );
    let r7 = rows_with(&city, 0, "R7")[0];
    assert!(close(
        number(&city, r7, 3),
        j["city"]["ratios"]["R7"]["current"].as_f64().unwrap()
    ));
    let c01 = rows_with(&city, 0, "C01")[0];
    assert!(close(number(&city, c01, 3), 2.114));

    // 一个开发区的表: its own value.
    let zone = book.values("长兴开发区");
    let row = rows_with(&zone, 0, "A06")[0];
    let cx = j["zones"]["CX"]["indicators"]["A06"]["current"]
        .as_f64()
        .unwrap();
    assert!(close(number(&zone, row, 3), cx));
}

#[test]
fn the_scores_sheet_holds_the_scores_as_formulas() {
    let (c, cat) = run(&data(), "2020-12");
    let scores = &c.scores;
    let mut book = Book::new(workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap());
    let s = book.values("综合评价");
    assert!(all_text(&s).contains(&cat.scoring.name));
    assert!(all_text(&s).contains("可在计划目录文件中修改"));
    let f = book.formulas("综合评价");
    let total_col = 2 + cat.scoring.measures.len() as u32;
    for z in scores {
        let short = &cat.zone(&z.zone).unwrap().short;
        let row = rows_with(&s, 1, short)[0];
        assert_eq!(number(&s, row, 0) as u32, z.rank.unwrap(), "{short}");
        assert!(close(number(&s, row, total_col), z.total), "{short}");
        assert!(f.get_value((row, total_col)).unwrap().starts_with("SUM("));
        assert!(close(number(&s, row, 2), z.parts[0].score));
    }
}

#[test]
fn the_cover_says_when_and_by_what_and_that_the_data_are_complete() {
    let (c, cat) = run(&data(), "2020-12");
    let mut book = Book::new(workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap());
    let cover = all_text(&book.values("封面"));
    assert!(cover.contains(&cat.plan.report_title));
    assert!(cover.contains("2020年度"));
    assert!(cover.contains(&cat.plan.document));
    assert!(cover.contains("2021年1月1日 08:00"), "{cover}");
    // The program is named in the document properties and the footer, not the cover.
    assert!(!cover.contains("zonestat"), "{cover}");
    assert!(cover.contains("5/5"));
    assert!(cover.contains("数据完整"));
    assert!(!cover.contains("数据不完整"));
    // The sources, with their hashes, are on a sheet of their own, the last.
    let sources = all_text(&book.values("来源清单"));
    for f in &c.files {
        assert!(sources.contains(&f.sha256), "{}", f.file);
        assert!(!cover.contains(&f.sha256), "{}", f.file);
    }
    assert_eq!(book.xlsx.sheet_names().last().unwrap(), "来源清单");
}

#[test]
fn the_same_inputs_and_time_give_the_same_bytes() {
    let (c, cat) = run(&data(), "2020-12");
    let a = workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap();
    let (c2, _) = run(&data(), "2020-12");
    let b = workbook_bytes(&c2, &cat, MadeAt::from_unix(MADE)).unwrap();
    assert!(a == b, "two runs differ");
    let later = workbook_bytes(&c, &cat, MadeAt::from_unix(MADE + 60)).unwrap();
    assert!(a != later, "the time is in the file");
}

#[test]
fn a_monthly_run_has_no_yearly_chart_and_lists_the_monthly_targets() {
    let (c, cat) = run(&data(), "2020-06");
    let mut book = Book::new(workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap());
    let t = book.values("目标考核");
    assert!(rows_with(&t, 0, "T05").is_empty());
    let t03 = rows_with(&t, 0, "T03")[0];
    assert_eq!(text(&t, t03, 8), "进度正常");
    let charts = all_text(&book.values("图表"));
    assert!(charts.contains("完成率与时间进度"));
    assert!(!charts.contains("各年增长"));
    assert!(all_text(&book.values("封面")).contains("2020年1-6月"));
}

/// Copies the sample data into a temporary folder.
fn copy_data(to: &Path) {
    for entry in std::fs::read_dir(data()).unwrap() {
        let dir = entry.unwrap().path();
        let target = to.join(dir.file_name().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, target.join(f.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn a_missing_zone_and_a_corrupt_file_make_an_incomplete_workbook() {
    let tmp = tempfile::tempdir().unwrap();
    copy_data(tmp.path());
    let dir = tmp.path().join("2020-12");
    std::fs::remove_file(dir.join("附件1-长兴2020年12月.xlsx")).unwrap();
    let corrupt = dir.join("吴兴开发区主要指标202012.xls");
    let bytes = std::fs::read(&corrupt).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 3]).unwrap();

    let (c, cat) = run(tmp.path(), "2020-12");
    assert!(c.has_gaps());
    let state = |code: &str| c.figures.zone(code).unwrap().status;
    use zonestat::aggregate::FormState;
    assert_eq!(state("CX"), FormState::Missing);
    assert_ne!(state("WX"), FormState::Accepted);
    assert_eq!(state("HZ"), FormState::Accepted);
    for id in ["T01", "T02", "T03", "T18"] {
        let row = c
            .targets
            .iter()
            .find(|t| t.id == id && t.zone.is_none())
            .unwrap();
        assert_eq!(row.status, Status::DataMissing, "{id}");
    }

    let path = tmp.path().join("考核汇总表.xlsx");
    write_report(&c, &cat, &path, MadeAt::from_unix(MADE)).unwrap();
    let mut book = Book::new(std::fs::read(&path).unwrap());
    let cover = all_text(&book.values("封面"));
    assert!(cover.contains("数据不完整"), "{cover}");
    assert!(cover.contains("3/5"));
    assert!(cover.contains("长兴开发区：湖开统1表未报送"), "{cover}");
    assert!(cover.contains("吴兴开发区："), "{cover}");
    assert!(
        cover.contains("吴兴开发区主要指标202012.xls"),
        "the unreadable file is named"
    );

    let t = book.values("目标考核");
    let t01 = rows_with(&t, 0, "T01")[0];
    assert_eq!(text(&t, t01, 8), "数据缺失");
    assert_eq!(text(&t, t01, 5), "—", "a missing actual is not 0");

    // The city column sums the zones that were accepted; the missing ones show "—".
    let cmp = book.values("分区对比");
    let a01 = rows_with(&cmp, 0, "A01")[0];
    assert_eq!(text(&cmp, a01, 4), "—");
    let accepted: f64 = ["HZ", "NX", "AJ"]
        .iter()
        .map(|z| {
            c.figures.zone(z).unwrap().figures.indicators["A01"]
                .current_number()
                .unwrap()
        })
        .sum();
    assert!(close(number(&cmp, a01, 8), accepted));

    let scores = book.values("综合评价");
    assert!(all_text(&scores).contains("不参与排名"));
    let problems = all_text(&book.values("数据问题"));
    assert!(problems.contains("file.unreadable"));

    let summary = summary_text(&c, &cat, &path);
    assert!(summary.contains("3/5"), "{summary}");
    assert!(summary.contains("长兴开发区"), "{summary}");
    assert!(summary.contains("数据缺失"), "{summary}");
    assert!(summary.contains("长兴开发区：湖开统1表未报送"), "{summary}");
    assert!(
        !summary.contains("））") && !summary.contains("）（"),
        "{summary}"
    );
}

#[test]
fn libreoffice_opens_the_workbook() {
    let soffice = ["soffice", "libreoffice"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(soffice) = soffice else {
        // CI installs LibreOffice (.ci/run): there, its absence is a failure, not a skip.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have LibreOffice: .ci/run installs it"
        );
        eprintln!("skipped: LibreOffice (soffice) is not installed; .ci/run installs it");
        return;
    };
    let (c, cat) = run(&data(), "2020-12");
    let tmp = tempfile::tempdir().unwrap();
    let xlsx = tmp.path().join("report.xlsx");
    write_report(&c, &cat, &xlsx, MadeAt::from_unix(MADE)).unwrap();
    // A profile of its own, so that a LibreOffice already running does not interfere.
    let profile = format!(
        "-env:UserInstallation=file://{}",
        tmp.path().join("profile").display()
    );
    let out = Command::new(soffice)
        .arg(&profile)
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(tmp.path())
        .arg(&xlsx)
        .output()
        .unwrap();
    let pdf = tmp.path().join("report.pdf");
    let size = std::fs::metadata(&pdf).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "no PDF ({size} bytes)\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"));

    // The cover prints on one page: the same workbook with every other sheet
    // hidden (hidden sheets are not printed) makes a PDF of one page.
    let cover = tmp.path().join("cover.xlsx");
    std::fs::write(&cover, only_the_cover(&std::fs::read(&xlsx).unwrap())).unwrap();
    Command::new(soffice)
        .arg(&profile)
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(tmp.path())
        .arg(&cover)
        .output()
        .unwrap();
    let pdf = std::fs::read(tmp.path().join("cover.pdf")).unwrap();
    assert_eq!(pdf_pages(&pdf), 1, "the cover's pages");
}

/// A copy of a workbook whose sheets but the first are hidden.
fn only_the_cover(bytes: &[u8]) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        if name == "xl/workbook.xml" {
            let xml = String::from_utf8(data).unwrap();
            let mut parts = xml.split("<sheet ");
            let mut text = parts.next().unwrap().to_string();
            for (k, part) in parts.enumerate() {
                text.push_str("<sheet ");
                if k > 0 {
                    text.push_str("state=\"hidden\" ");
                }
                text.push_str(part);
            }
            data = text.into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// The pages of a PDF: its page objects.
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.matches("/Type/Page").count() + text.matches("/Type /Page").count()
        - text.matches("/Type/Pages").count()
        - text.matches("/Type /Pages").count()
}

/// The parts of a workbook by name.
fn parts(bytes: &[u8]) -> std::collections::HashMap<String, String> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    let mut out = std::collections::HashMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut s = String::new();
        if f.read_to_string(&mut s).is_ok() {
            out.insert(f.name().unwrap().to_string(), s);
        }
    }
    out
}

/// The XML of a sheet (rust_xlsxwriter numbers the parts in sheet order).
fn sheet_xml<'a>(
    parts: &'a std::collections::HashMap<String, String>,
    names: &[String],
    sheet: &str,
) -> &'a str {
    let i = names.iter().position(|n| n == sheet).unwrap() + 1;
    &parts[&format!("xl/worksheets/sheet{i}.xml")]
}

/// Row heights (0-based row → points) that a sheet sets.
fn row_heights(xml: &str) -> std::collections::HashMap<u32, f64> {
    xml.split("<row ")
        .skip(1)
        .filter_map(|r| {
            let tag = &r[..r.find('>')?];
            let attr = |name: &str| {
                let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
                Some(&tag[at..at + tag[at..].find('"')?])
            };
            let row: u32 = attr("r")?.parse().ok()?;
            Some((row - 1, attr("ht").map_or(15.0, |h| h.parse().unwrap())))
        })
        .collect()
}

/// The rows at which a sheet's manual page breaks start a new page.
fn row_breaks(xml: &str) -> Vec<u32> {
    xml.split("<brk id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

#[test]
fn row_heights_hold_the_lines_of_text_they_hold() {
    // The incomplete run: the cover's red banner has eight lines.
    let tmp = tempfile::tempdir().unwrap();
    copy_data(tmp.path());
    let dir = tmp.path().join("2020-12");
    std::fs::remove_file(dir.join("附件1-长兴2020年12月.xlsx")).unwrap();
    let (c, cat) = run(tmp.path(), "2020-12");
    let bytes = workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap();
    let parts = parts(&bytes);
    let mut book = Book::new(bytes);
    let names = book.xlsx.sheet_names();
    let mut checked = 0;
    for name in &names {
        let heights = row_heights(sheet_xml(&parts, &names, name));
        // The smallest font a sheet uses for text on several lines.
        let (font, spacing) = if name == "来源清单" {
            (8.0, 1.2)
        } else {
            (11.0, 1.2)
        };
        let values = book.values(name);
        for (row, _, d) in values.used_cells() {
            let Data::String(s) = d else { continue };
            let lines = s.lines().count();
            if lines < 2 {
                continue;
            }
            let row = row as u32 + values.start().unwrap().0;
            let ht = heights.get(&row).copied().unwrap_or(15.0);
            assert!(
                ht >= lines as f64 * font * spacing,
                "{name} row {}: {ht} pt for {lines} lines: {s}",
                row + 1
            );
            checked += 1;
        }
    }
    assert!(checked > 5, "only {checked} texts of several lines");
    // The banner, at its own 12-point font.
    let cover = book.values("封面");
    let (r, _, banner) = cover
        .used_cells()
        .find(|(_, _, d)| matches!(d, Data::String(s) if s.starts_with("数据不完整，考核结果仅供参考")))
        .expect("the red banner");
    let lines = banner.to_string().lines().count();
    assert!(lines >= 4, "{banner}");
    let ht = row_heights(sheet_xml(&parts, &names, "封面"))[&(r as u32 + cover.start().unwrap().0)];
    assert!(
        ht >= lines as f64 * 12.0 * 1.25,
        "{ht} pt for {lines} lines at 12 pt"
    );
}

#[test]
fn the_cover_carries_the_office_and_its_signature_block() {
    let (c, cat) = run(&data(), "2020-12");
    assert!(!cat.report.office.is_empty());
    let bytes = workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap();
    let parts = parts(&bytes);
    let mut book = Book::new(bytes);
    let cover = all_text(&book.values("封面"));
    assert!(
        cover.contains(&format!("编制单位\n{}", cat.report.office)),
        "{cover}"
    );
    for label in &cat.report.signature {
        assert!(cover.contains(&format!("{label}：")), "{label}: {cover}");
    }
    // The program: in the document properties and the footer.
    let core = &parts["docProps/core.xml"];
    assert!(core.contains(&cat.report.office), "{core}");
    let made_by = concat!("zonestat ", env!("CARGO_PKG_VERSION"));
    assert!(parts["docProps/app.xml"].contains(made_by) || core.contains(made_by));
    assert!(parts["xl/worksheets/sheet1.xml"].contains(made_by));
}

#[test]
fn every_sheet_repeats_its_header_and_no_page_break_splits_a_target() {
    for period in ["2020-12", "2020-06"] {
        let (c, cat) = run(&data(), period);
        let bytes = workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap();
        let parts = parts(&bytes);
        let mut book = Book::new(bytes);
        let names = book.xlsx.sheet_names();
        let workbook = &parts["xl/workbook.xml"];
        for name in names.iter().filter(|n| *n != "封面") {
            assert!(
                workbook.contains(&format!(
                    "Print_Titles\" localSheetId=\"{}\">{name}!",
                    names.iter().position(|n| n == name).unwrap()
                )),
                "{period} {name} has no print titles"
            );
        }
        // 目标考核: a target's rows (an each-zone target's zones and city row) on one page.
        let t = book.values("目标考核");
        let breaks = row_breaks(sheet_xml(&parts, &names, "目标考核"));
        let ids: Vec<u32> = (3..=t.end().unwrap().0)
            .filter(|&r| !text(&t, r, 0).is_empty())
            .collect();
        for (k, &first) in ids.iter().enumerate() {
            let next = ids.get(k + 1).copied().unwrap_or(t.end().unwrap().0 + 1);
            for b in &breaks {
                assert!(
                    !(first < *b && *b < next),
                    "{period}: a page break at row {} splits {}",
                    b + 1,
                    text(&t, first, 0)
                );
            }
        }
        if period == "2020-12" {
            assert!(!breaks.is_empty(), "目标考核 takes more than a page");
        }
        // Sheets of several tables: a new page starts with a table's header
        // or its title, never in the middle of a table without its header.
        let mut sheets = vec!["全市汇总".to_string()];
        sheets.extend(cat.zones.iter().map(|z| z.short.clone()));
        let mut broken = 0;
        for name in &sheets {
            let v = book.values(name);
            for b in row_breaks(sheet_xml(&parts, &names, name)) {
                let first = text(&v, b, 0);
                assert!(
                    ["代码", "编号", "级别"].contains(&first.as_str()) || first.contains('、'),
                    "{period} {name}: page at row {} starts with {first:?}",
                    b + 1
                );
                broken += 1;
            }
            // Only the title repeats: not 主要指标's header above the 比重 table.
            assert!(workbook.contains(&format!(">{name}!$1:$1<")), "{name}");
        }
        if period == "2020-12" {
            assert!(broken > 0, "the zone sheets take more than a page");
        }
    }
}

#[test]
fn the_column_labels_come_from_the_catalogue() {
    let edited = [
        ("id = \"编号\"", "id = \"序列\""),
        ("note = \"说明\"", "note = \"备考\""),
        ("city_total = \"全市合计\"", "city_total = \"五区合计\""),
        ("since_start = \"年以来累计\"", "since_start = \"年起累计\""),
    ]
    .iter()
    .fold(BUNDLED.to_string(), |t, (from, to)| {
        assert!(t.contains(from), "{from}");
        t.replacen(from, to, 1)
    });
    let cat = Catalogue::parse(&edited, "labels.toml").unwrap();
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let c = consolidate(&data(), "2020-12".parse().unwrap(), &cat).unwrap();
    let mut book = Book::new(workbook_bytes(&c, &cat, MadeAt::from_unix(MADE)).unwrap());
    let header = |r: &Range<Data>, row: u32| -> Vec<String> {
        let (_, right) = r.end().unwrap();
        (0..=right).map(|col| text(r, row, col)).collect()
    };
    let targets = book.values("目标考核");
    let head = header(&targets, 2);
    assert_eq!(
        (head[0].as_str(), head[9].as_str()),
        ("序列", "备考"),
        "{head:?}"
    );
    let compare = header(&book.values("分区对比"), 2);
    assert!(
        compare.contains(&"五区合计".to_string()) && !compare.contains(&"全市合计".to_string()),
        "{compare:?}"
    );
    let city = all_text(&book.values("全市汇总"));
    assert!(
        city.contains(&format!("{}年起累计", cat.plan.start.year)) && !city.contains("年以来累计"),
        "{city}"
    );
}
