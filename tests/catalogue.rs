//! The domain is data: a sixth zone is an edit of the catalogue, and a
//! malformed catalogue stops the run with a message naming the file and key.

mod common;

use std::process::Command;

use common::{data, form1};
use zonestat::catalog::{BUNDLED, Catalogue};
use zonestat::consolidate::consolidate;
use zonestat::summary::summary_json;

const DEQING: &str = r#"
[[zones]]
code = "DQ"
short = "德清开发区"
full = "德清经济开发区"
aliases = []
level_at_start = "省级"
"#;

/// The bundled plan with a sixth zone inserted after the five.
fn six_zones() -> String {
    let at = BUNDLED.find("\n[[forms]]").unwrap();
    let before_forms = BUNDLED[..at].rfind("# ----").unwrap();
    format!(
        "{}{DEQING}\n{}",
        &BUNDLED[..before_forms],
        &BUNDLED[before_forms..]
    )
}

#[test]
fn a_sixth_zone_needs_only_a_catalogue_entry() {
    let cat = Catalogue::parse(&six_zones(), "six.toml").unwrap();
    assert_eq!(cat.zones.len(), 6);
    let work = tempfile::tempdir().unwrap();
    let june = work.path().join("2020-06");
    std::fs::create_dir(&june).unwrap();
    for f in std::fs::read_dir(data("2020-06")).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, june.join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        june.join("德清6月.xlsx"),
        form1("德清经济开发区", "2020年1-6月").xlsx(),
    )
    .unwrap();

    let c = consolidate(work.path(), "2020-06".parse().unwrap(), &cat).unwrap();
    let json = summary_json(&c, &cat);
    assert_eq!(
        json["zones"]["DQ"]["status"], "accepted",
        "{:#?}",
        c.findings
    );
    let zones_sum: f64 = ["HZ", "CX", "WX", "NX", "AJ", "DQ"]
        .iter()
        .map(|z| {
            json["zones"][*z]["indicators"]["A01"]["current"]
                .as_f64()
                .unwrap()
        })
        .sum();
    let city = json["city"]["indicators"]["A01"]["current"]
        .as_f64()
        .unwrap();
    assert!((city - zones_sum).abs() < 1e-9, "{city} {zones_sum}");
    let t19 = json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "T19" && t["zone"].is_null())
        .unwrap();
    assert_eq!(t19["target"], 6.0);
    // The history folders are absent here: cumulative targets say so, nothing breaks.
    assert!(c.findings.iter().any(|f| f.rule == "history.missing"));
}

#[test]
fn a_malformed_catalogue_stops_the_run_naming_file_and_key() {
    let work = tempfile::tempdir().unwrap();
    let bad = work.path().join("坏目录.toml");
    std::fs::write(
        &bad,
        BUNDLED.replace("level_at_start = \"省级\"", "level = \"省级\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zonestat"))
        .args([
            "--catalogue",
            bad.to_str().unwrap(),
            "check",
            data("2020-06").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("坏目录.toml") && stderr.contains("level"),
        "{stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing is read with a bad catalogue"
    );
}

/// The bundled plan with one edit; the error it must give.
fn refused(from: &str, to: &str) -> String {
    assert!(BUNDLED.contains(from), "{from}");
    let text = BUNDLED.replacen(from, to, 1);
    match Catalogue::parse(&text, "改过的目录.toml") {
        Ok(_) => panic!("accepted: {from} → {to}"),
        Err(e) => {
            let e = e.to_string();
            assert!(e.contains("改过的目录.toml"), "{e}");
            e
        }
    }
}

#[test]
fn catalogue_rejects_nan_target() {
    let e = refused("value = 10\n", "value = nan\n");
    assert!(
        e.contains("targets（T01）.value") && e.contains("有限"),
        "{e}"
    );
    let e = refused("value = 8.5\n", "value = inf\n");
    assert!(e.contains("targets（T02）.value"), "{e}");
}

#[test]
fn catalogue_rejects_ids_given_twice() {
    let e = refused("id = \"T02\"", "id = \"T01\"");
    assert!(e.contains("targets.id") && e.contains("“T01”重复"), "{e}");
    let e = refused("id = \"R2\"", "id = \"R1\"");
    assert!(e.contains("ratios.id") && e.contains("“R1”重复"), "{e}");
    let e = refused("short = \"长兴开发区\"", "short = \"湖州开发区\"");
    assert!(e.contains("zones.short") && e.contains("湖州开发区"), "{e}");
}

#[test]
fn catalogue_rejects_a_ratio_with_an_empty_denominator() {
    let e = refused("denominator = [\"A01\"]", "denominator = []");
    assert!(
        e.contains("ratios（R1）.denominator") && e.contains("分母"),
        "{e}"
    );
    let e = refused("numerator = [\"A04\"]", "numerator = []");
    assert!(e.contains("ratios（R2）.numerator"), "{e}");
}

#[test]
fn the_layout_words_are_the_catalogues_and_default_to_the_bundled_ones() {
    // A catalogue without [layout] reads forms with the words the bundled one spells out.
    let start = BUNDLED.find("\n[layout]").unwrap();
    let end = start + BUNDLED[start..].find("\n# ----").unwrap();
    let without = format!("{}{}", &BUNDLED[..start], &BUNDLED[end..]);
    let (a, b) = (
        Catalogue::parse(&without, "x.toml").unwrap(),
        Catalogue::bundled(),
    );
    assert_eq!(format!("{:?}", a.layout), format!("{:?}", b.layout));
    assert_eq!(b.layout.name[0], "指标名称");
    assert_eq!(b.plan.mail_subject(), "湖州市开发区考核汇总表");
    // A word the reader could never match, and letters that do not fit the columns.
    let e = refused("note = [\"备注\"]", "note = [\"备 注\"]");
    assert!(e.contains("layout.note") && e.contains("“备注”"), "{e}");
    let e = refused(
        "letters = [\"甲\", \"乙\", \"丙\", \"丁\"]",
        "letters = [\"甲\", \"乙\"]",
    );
    assert!(e.contains("layout.letters"), "{e}");
    let e = refused("yes = [\"是\", \"√\"]", "yes = []");
    assert!(e.contains("layout.yes"), "{e}");
}

#[test]
fn the_first_charts_growth_must_be_a_growth_targets_measure() {
    let e = refused("chart_growth = \"A01\"", "chart_growth = \"A03\"");
    assert!(
        e.contains("report.chart_growth") && e.contains("A03"),
        "{e}"
    );
    let text = BUNDLED.replacen("chart_growth = \"A01\"", "chart_growth = \"A06\"", 1);
    let cat = Catalogue::parse(&text, "x.toml").unwrap();
    assert_eq!(cat.report.chart_growth, "A06");
}

#[test]
fn the_report_column_labels_default_to_the_bundled_ones_and_none_may_be_empty() {
    // A catalogue without [report.columns] labels the tables as the bundled one does.
    let start = BUNDLED.find("\n[report.columns]").unwrap();
    let end = start + BUNDLED[start..].find("\n# ----").unwrap();
    let without = format!("{}{}", &BUNDLED[..start], &BUNDLED[end..]);
    let (a, b) = (
        Catalogue::parse(&without, "x.toml").unwrap(),
        Catalogue::bundled(),
    );
    assert_eq!(
        format!("{:?}", a.report.columns),
        format!("{:?}", b.report.columns)
    );
    assert_eq!(b.report.columns.city_total, "全市合计");
    // An empty label would leave a column unnamed; a misspelt key is not ignored.
    let e = refused("status = \"状态\"", "status = \"\"");
    assert!(
        e.contains("report.columns.status") && e.contains("列标题不能为空"),
        "{e}"
    );
    let e = refused("sha256 = \"SHA-256\"", "sha256 = \"  \"");
    assert!(e.contains("report.columns.sha256"), "{e}");
    let e = refused("city_total = \"全市合计\"", "city_totl = \"全市合计\"");
    assert!(e.contains("city_totl"), "{e}");
}
