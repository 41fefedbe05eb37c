//! Blank forms: written from the catalogue, recognised by `check`, filled as a
//! zone fills them (values typed into the input cells) and read back exactly.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rust_xlsxwriter::ExcelDateTime;
use zonestat::catalog::{Catalogue, Kind, Role};
use zonestat::folder::check_files;
use zonestat::model::{Cell, Period};
use zonestat::template::{TemplateRequest, write_templates};
use zonestat::validate::Val;

/// 2017-01-01, the time stamp of the bundled blank forms.
const BUNDLED_EPOCH: i64 = 1_483_228_800;

fn stamp() -> ExcelDateTime {
    ExcelDateTime::from_timestamp(BUNDLED_EPOCH).unwrap()
}

fn write(period: Option<Period>, dir: &Path) -> Vec<PathBuf> {
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let req = TemplateRequest {
        period,
        zones: cat.zones.iter().map(|z| z.code.clone()).collect(),
        city: true,
        forms: Vec::new(),
        out_dir: dir.to_path_buf(),
    };
    write_templates(&req, &cat, &stamp()).unwrap()
}

/// The files inside an xlsx package.
fn unzip(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        out.insert(f.name().unwrap().to_string(), bytes);
    }
    out
}

fn rezip(parts: &BTreeMap<String, Vec<u8>>, path: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    // [Content_Types].xml first, as spreadsheet programs write it.
    let mut names: Vec<&String> = parts.keys().collect();
    names.sort_by_key(|n| (n.as_str() != "[Content_Types].xml", n.to_string()));
    for name in names {
        zip.start_file(name.as_str(), opts).unwrap();
        zip.write_all(&parts[name]).unwrap();
    }
    zip.finish().unwrap();
}

/// Types a value into a cell of the first sheet, the way a spreadsheet program stores it.
fn type_into(sheet_xml: &mut String, cell: Cell, value: &str) {
    let addr = cell.to_string();
    let start = sheet_xml
        .find(&format!("<c r=\"{addr}\""))
        .unwrap_or_else(|| panic!("no cell {addr}"));
    let end = start + sheet_xml[start..].find('>').unwrap();
    let self_closing = sheet_xml[..end].ends_with('/');
    let open = sheet_xml[start..if self_closing { end - 1 } else { end }].to_string();
    let close_at = if self_closing {
        end + 1
    } else {
        end + 1 + sheet_xml[end + 1..].find("</c>").unwrap() + 4
    };
    let new = match value.parse::<f64>() {
        Ok(_) => format!("{open}><v>{value}</v></c>"),
        Err(_) => format!("{open} t=\"inlineStr\"><is><t>{value}</t></is></c>"),
    };
    sheet_xml.replace_range(start..close_at, &new);
}

#[test]
fn blank_forms_are_recognised_with_only_the_missing_values_reported() {
    let dir = tempfile::tempdir().unwrap();
    let period: Period = "2020-12".parse().unwrap();
    let files = write(Some(period), dir.path());
    assert_eq!(files.len(), 11, "5 zones × 2 forms + the city form");
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let batch = check_files(
        &files,
        &|p: &Path| p.file_name().unwrap().to_string_lossy().into_owned(),
        Some(period),
        &cat,
    );
    assert_eq!(batch.forms.len(), 11);
    for f in &batch.forms {
        assert_eq!(f.period, Some(period), "{}", f.file);
        assert!(f.reporter.is_some(), "{}", f.file);
    }
    let other: Vec<_> = batch
        .findings
        .iter()
        .filter(|f| f.rule != "value.required")
        .collect();
    assert!(other.is_empty(), "{other:#?}");
}

/// A value for each indicator that keeps every 其中 below its total.
fn base_value(form: &zonestat::catalog::Form, ind: &zonestat::catalog::Indicator) -> f64 {
    match &ind.part_of {
        Some(total) => (base_value(
            form,
            form.indicators.iter().find(|i| &i.code == total).unwrap(),
        ) / 2.0)
            .floor(),
        None => {
            1000.0
                + 10.0
                    * form
                        .indicators
                        .iter()
                        .position(|i| i.code == ind.code)
                        .unwrap() as f64
        }
    }
}

#[test]
fn a_filled_template_passes_check_and_reads_back_exactly() {
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let dir = tempfile::tempdir().unwrap();
    let period: Period = "2020-12".parse().unwrap();
    let files = write(Some(period), dir.path());
    let filled_dir = dir.path().join("2020-12");
    std::fs::create_dir(&filled_dir).unwrap();
    let mut typed: BTreeMap<(String, String, Role), String> = BTreeMap::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let form = cat
            .forms
            .iter()
            .find(|f| name.starts_with(&f.number))
            .unwrap();
        let mut parts = unzip(path);
        let mut xml = String::from_utf8(parts["xl/worksheets/sheet1.xml"].clone()).unwrap();
        for (n, ind) in form.indicators.iter().enumerate() {
            let row = 6 + n as u32;
            for (k, col) in form.columns.iter().enumerate() {
                let input = match col.role {
                    Role::Current | Role::Prior => true,
                    Role::Cumulative => ind.kind == Kind::NewInYear,
                    Role::ReportedGrowth => false,
                };
                if !input {
                    continue;
                }
                // Parts half their totals, cumulative larger than the year.
                let base = base_value(form, ind)
                    + if col.role == Role::Cumulative {
                        500.0
                    } else {
                        0.0
                    };
                let v = match ind.kind {
                    Kind::YesNo => if col.role == Role::Current {
                        "是"
                    } else {
                        "否"
                    }
                    .to_string(),
                    _ if ind.is_count(&cat) => format!("{}", base as i64),
                    _ => format!("{:.4}", base + 0.1234 + k as f64),
                };
                type_into(&mut xml, Cell::new(row, 4 + k as u32), &v);
                typed.insert((name.clone(), ind.code.clone(), col.role), v);
            }
        }
        parts.insert("xl/worksheets/sheet1.xml".into(), xml.into_bytes());
        rezip(&parts, &filled_dir.join(&name));
    }
    let filled: Vec<PathBuf> = files
        .iter()
        .map(|p| filled_dir.join(p.file_name().unwrap()))
        .collect();
    let batch = check_files(
        &filled,
        &|p: &Path| p.file_name().unwrap().to_string_lossy().into_owned(),
        Some(period),
        &cat,
    );
    assert!(batch.findings.is_empty(), "{:#?}", batch.findings);
    for f in &batch.forms {
        for ((file, code, role), v) in typed.iter().filter(|(k, _)| k.0 == f.file) {
            let got = f.values[code]
                .get(*role)
                .unwrap_or_else(|| panic!("{file} {code} {role:?}"));
            let want = match v.as_str() {
                "是" => Val::Bool(true),
                "否" => Val::Bool(false),
                n => Val::Number(n.parse().unwrap()),
            };
            assert_eq!(got, want, "{file} {code} {role:?}");
        }
    }
}

#[test]
fn templates_carry_validation_protection_and_growth_formulas() {
    let dir = tempfile::tempdir().unwrap();
    let files = write(Some("2020-12".parse().unwrap()), dir.path());
    let monthly = files
        .iter()
        .find(|p| p.to_string_lossy().contains("湖开统1表-湖州开发区"))
        .unwrap();
    let parts = unzip(monthly);
    let sheet = String::from_utf8(parts["xl/worksheets/sheet1.xml"].clone()).unwrap();
    assert!(sheet.contains("<sheetProtection"), "protected");
    assert!(!sheet.contains("password="), "no password");
    assert!(sheet.contains("<dataValidations"));
    assert!(
        sheet.contains("type=\"decimal\"") && sheet.contains("operator=\"greaterThanOrEqual\"")
    );
    assert!(sheet.contains("type=\"whole\""), "A14 is a count");
    assert!(sheet.contains("promptTitle=\"A01\"") && sheet.contains("请填写大于或等于 0 的数值"));
    assert!(
        sheet.contains(
            "<f>IF(AND(ISNUMBER(E7),ISNUMBER(F7)),IF(F7=0,\"\",ROUND((E7-F7)/F7*100,1)),\"\")</f>"
        ),
        "growth formula"
    );
    let styles = String::from_utf8(parts["xl/styles.xml"].clone()).unwrap();
    // The report's Chinese fonts: 宋体 for text, 黑体 for the title; Calibri
    // only as the workbook's default of cells nothing formats.
    assert!(styles.contains("<name val=\"宋体\"/>"), "{styles}");
    assert!(styles.contains("<name val=\"黑体\"/>"), "{styles}");
    assert_eq!(
        styles.matches("<name val=\"Calibri\"/>").count(),
        1,
        "{styles}"
    );
    assert!(
        styles.contains("<protection locked=\"0\"/>"),
        "input cells unlocked"
    );
    assert!(
        sheet.contains("<pageSetup paperSize=\"9\"") && sheet.contains("fitToPage=\"1\""),
        "A4, one page"
    );
    let annual = files
        .iter()
        .find(|p| p.to_string_lossy().contains("湖开统2表-湖州开发区"))
        .unwrap();
    let sheet = String::from_utf8(unzip(annual)["xl/worksheets/sheet1.xml"].clone()).unwrap();
    assert!(
        sheet.contains("type=\"list\"") && sheet.contains("\"是,否\""),
        "yes/no list"
    );
}

#[test]
fn bundled_blank_forms_are_up_to_date() {
    // Regenerate with: SOURCE_DATE_EPOCH=1483228800 cargo run -- template -o templates/forms
    let dir = tempfile::tempdir().unwrap();
    let fresh = write(None, dir.path());
    let bundled = zonestat::template::bundled_forms_dir();
    assert_eq!(fresh.len(), 3);
    for f in &fresh {
        let name = f.file_name().unwrap();
        let old = std::fs::read(bundled.join(name)).unwrap_or_default();
        assert!(
            old == std::fs::read(f).unwrap(),
            "templates/forms/{} is out of date: SOURCE_DATE_EPOCH=1483228800 cargo run -- template -o templates/forms",
            name.to_string_lossy()
        );
    }
}
