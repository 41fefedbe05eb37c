//! Feedback workbooks: a zone's faulty form comes back redrawn with a note at
//! each problem cell and a list of every problem.

use std::io::Read;
use std::path::{Path, PathBuf};

use calamine::{Reader, Xlsx, open_workbook};
use zonestat::catalog::Catalogue;
use zonestat::feedback::write_feedback;
use zonestat::folder::check_files;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn part(path: &Path, name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut text = String::new();
    zip.by_name(name)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    text
}

#[test]
fn a_faulty_form_comes_back_with_notes_at_its_problem_cells() {
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    // 南浔's June form with A05 made negative: an error on E13 and a growth warning on G13.
    let bad = fixtures().join("bad/nx-2020-06-negative.ods");
    let good = fixtures().join("data/2020-06/湖州开发区6月报表.xlsx");
    let period = "2020-06".parse().unwrap();
    // Shown with the office's inbox folder, as intake shows it.
    let batch = check_files(
        &[bad, good],
        &|p: &Path| format!("收件箱/{}", p.file_name().unwrap().to_string_lossy()),
        Some(period),
        &cat,
    );
    let out = tempfile::tempdir().unwrap();
    let stamp = rust_xlsxwriter::ExcelDateTime::from_timestamp(1_600_000_000).unwrap();
    let written = write_feedback(&batch.forms, Some(period), &cat, out.path(), &stamp).unwrap();
    // Only the zone with problems gets a workbook.
    assert_eq!(
        written,
        vec![out.path().join("反馈-南浔开发区-2020-06.xlsx")]
    );
    let path = &written[0];

    // The notes: A05 is the 5th indicator, on row 11 of the redrawn form.
    let comments = part(path, "xl/comments1.xml");
    assert!(comments.contains("ref=\"E11\""), "{comments}");
    assert!(comments.contains("ref=\"G11\""), "{comments}");
    assert!(
        comments.contains("为负数") && comments.contains("原表 湖开统1表!E13"),
        "{comments}"
    );
    // Two problem cells, and notes at the numbers typed as text.
    assert_eq!(
        comments.matches("<comment ").count() - comments.matches("已按数值").count(),
        2
    );

    // The redrawn form holds the zone's own values, and the list names every finding.
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    assert_eq!(wb.sheet_names(), ["湖开统1表", "问题清单"]);
    let form = wb.worksheet_range("湖开统1表").unwrap();
    assert_eq!(
        form.get_value((10, 4)),
        Some(&calamine::Data::Float(-105.5882))
    );
    assert_eq!(
        form.get_value((3, 0)),
        Some(&calamine::Data::String("填报单位：南浔经济开发区".into()))
    );
    let list = wb.worksheet_range("问题清单").unwrap();
    let findings: Vec<&zonestat::model::Finding> = batch
        .findings
        .iter()
        .filter(|f| f.zone.as_deref() == Some("NX"))
        .collect();
    assert_eq!(findings.len(), 2);
    let s = |v: &str| Some(calamine::Data::String(v.to_string()));
    for (i, f) in findings.iter().enumerate() {
        let row = 4 + i as u32;
        // The rule in words for people; its id only in the narrow last column.
        assert_eq!(
            list.get_value((row, 2)).cloned(),
            s(zonestat::model::rule_text(f.rule))
        );
        assert_ne!(zonestat::model::rule_text(f.rule), f.rule);
        // The zone's own file name, not the office's inbox path.
        assert_eq!(
            list.get_value((row, 3)).cloned(),
            s("nx-2020-06-negative.ods")
        );
        assert_eq!(
            list.get_value((row, 4)).cloned(),
            s(&format!(
                "{}!{}",
                f.sheet.as_deref().unwrap(),
                f.cell.unwrap()
            ))
        );
        assert_eq!(list.get_value((row, 9)).cloned(), s(&f.message));
        assert_eq!(list.get_value((row, 10)).cloned(), s(f.rule));
    }
    // Printed one page wide at a readable size: the columns fit an A4
    // landscape page with little shrinking.
    let sheet = part(path, "xl/worksheets/sheet2.xml");
    let total: f64 = sheet
        .split("width=\"")
        .skip(1)
        .map(|w| w[..w.find('"').unwrap()].parse::<f64>().unwrap())
        .sum();
    assert!(total < 190.0, "the list is {total} characters wide");
    // The growth formula never shows #VALUE! next to a value that is not a number.
    let form_xml = part(path, "xl/worksheets/sheet1.xml");
    assert!(form_xml.contains("IF(AND(ISNUMBER(E"), "growth formula");
}

#[test]
fn numbers_typed_as_text_are_redrawn_as_numbers_with_a_note() {
    let cat = Catalogue::bundled();
    // 长兴 types its numbers as text.
    let cx = fixtures().join("data/2020-06/附件1-长兴2020年6月.xlsx");
    let period = "2020-06".parse().unwrap();
    let mut batch = check_files(
        &[cx, fixtures().join("bad/nx-2020-06-negative.ods")],
        &|p: &Path| p.file_name().unwrap().to_string_lossy().into_owned(),
        Some(period),
        &cat,
    );
    // Give 长兴's form a problem, so that it gets a feedback workbook.
    let problem = batch.forms[1].findings[0].clone();
    batch.forms[0].findings.push(zonestat::model::Finding {
        zone: Some("CX".into()),
        ..problem
    });
    let texts: Vec<(String, String)> = batch.forms[0]
        .raw
        .rows
        .iter()
        .flat_map(|r| {
            r.values.iter().filter_map(move |(_, v)| match &v.value {
                zonestat::read::CellValue::Text(t) => Some((r.code.clone(), t.clone())),
                _ => None,
            })
        })
        .collect();
    assert!(!texts.is_empty(), "长兴's sample has numbers as text");
    let out = tempfile::tempdir().unwrap();
    let stamp = rust_xlsxwriter::ExcelDateTime::from_timestamp(1_600_000_000).unwrap();
    let written = write_feedback(&batch.forms, Some(period), &cat, out.path(), &stamp).unwrap();
    let path = written
        .iter()
        .find(|p| p.to_string_lossy().contains("长兴"))
        .unwrap();
    let mut wb: Xlsx<_> = open_workbook(path).unwrap();
    let form = wb.worksheet_range("湖开统1表").unwrap();
    let numbers = form
        .used_cells()
        .filter(|(r, c, d)| *r >= 6 && *c == 4 && matches!(d, calamine::Data::Float(_)))
        .count();
    let strings = form
        .used_cells()
        .filter(|(r, c, d)| *r >= 6 && (4..6).contains(c) && matches!(d, calamine::Data::String(s) if zonestat::text::parse_text_value(s) != zonestat::text::TextValue::Invalid && !s.trim().is_empty() && s.trim() != "—"))
        .count();
    assert!(numbers > 5, "values redrawn as numbers: {numbers}");
    assert_eq!(strings, 0, "no number left as text");
    let comments = part(path, "xl/comments1.xml");
    assert!(comments.contains("已按数值"), "{comments}");
}

#[test]
fn check_writes_feedback_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let june = dir.path().join("2020-06");
    std::fs::create_dir(&june).unwrap();
    for f in std::fs::read_dir(fixtures().join("data/2020-06")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, june.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        fixtures().join("bad/nx-2020-06-negative.ods"),
        june.join("南浔6月.ods"),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .args([
            "check",
            june.to_str().unwrap(),
            "--feedback",
            dir.path().join("反馈").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("已写出反馈表") && stdout.contains("反馈-南浔开发区-2020-06.xlsx"),
        "{stdout}"
    );
    let files: Vec<_> = std::fs::read_dir(dir.path().join("反馈"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1);
}
