//! Consolidation against the independent reference summaries in
//! tests/fixtures/expected, and with zones, files and history missing.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;
use zonestat::catalog::Catalogue;
use zonestat::consolidate::consolidate;
use zonestat::summary::summary_json;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-9)
        }
        (Value::String(x), Value::String(y)) => x == y,
        _ => false,
    }
}

/// Every number and status of `expected` that `actual` does not match.
fn differences(actual: &Value, expected: &Value) -> Vec<String> {
    let mut diffs = Vec::new();
    for k in ["period", "annual", "complete"] {
        if actual[k] != expected[k] {
            diffs.push(format!("{k}: {} != {}", actual[k], expected[k]));
        }
    }
    for (z, ez) in expected["zones"].as_object().unwrap() {
        let az = &actual["zones"][z];
        if az["status"] != ez["status"] {
            diffs.push(format!(
                "zone {z} status {} != {}",
                az["status"], ez["status"]
            ));
        }
        for sect in ["indicators", "ratios"] {
            for (code, ev) in ez[sect].as_object().into_iter().flatten() {
                for (f, x) in ev.as_object().unwrap() {
                    let a = &az[sect][code][f];
                    if !close(a, x) {
                        diffs.push(format!("{z}.{code}.{f}: {a} != {x}"));
                    }
                }
            }
        }
    }
    for sect in ["indicators", "ratios"] {
        for (code, ev) in expected["city"][sect].as_object().unwrap() {
            for (f, x) in ev.as_object().unwrap() {
                let a = &actual["city"][sect][code][f];
                if !close(a, x) {
                    diffs.push(format!("city.{code}.{f}: {a} != {x}"));
                }
            }
        }
    }
    let targets = actual["targets"].as_array().unwrap();
    for et in expected["targets"].as_array().unwrap() {
        let Some(at) = targets
            .iter()
            .find(|t| t["id"] == et["id"] && t["zone"] == et["zone"])
        else {
            diffs.push(format!("target {} {} absent", et["id"], et["zone"]));
            continue;
        };
        for f in ["status", "actual", "target", "completion", "schedule"] {
            if !close(&at[f], &et[f]) {
                diffs.push(format!(
                    "target {} {} {f}: {} != {}",
                    et["id"], et["zone"], at[f], et[f]
                ));
            }
        }
    }
    if targets.len() != expected["targets"].as_array().unwrap().len() {
        diffs.push(format!(
            "{} targets, expected {}",
            targets.len(),
            expected["targets"].as_array().unwrap().len()
        ));
    }
    diffs
}

fn run(data: &Path, period: &str) -> (zonestat::consolidate::Consolidation, Value) {
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let c = consolidate(data, period.parse().unwrap(), &cat).unwrap();
    let json = summary_json(&c, &cat);
    (c, json)
}

#[test]
fn reproduces_the_independent_reference_summaries() {
    for period in ["2019-12", "2020-06", "2020-12"] {
        let (c, actual) = run(&fixtures().join("data"), period);
        let text =
            std::fs::read_to_string(fixtures().join(format!("expected/{period}.json"))).unwrap();
        let expected: Value = serde_json::from_str(&text).unwrap();
        let diffs = differences(&actual, &expected);
        assert!(
            diffs.is_empty(),
            "{period}: {} differences:\n{}",
            diffs.len(),
            diffs.join("\n")
        );
        assert!(!c.has_gaps(), "{period}: {:?}", c.findings);
    }
}

#[test]
fn sources_name_every_used_form_with_its_hash() {
    let (_, json) = run(&fixtures().join("data"), "2020-12");
    let aj = json["zones"]["AJ"]["sources"].as_array().unwrap();
    // 安吉 keeps its monthly and annual forms in one workbook.
    assert_eq!(aj.len(), 2);
    assert_eq!(aj[0]["file"], aj[1]["file"]);
    assert_eq!(aj[0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(json["city"]["sources"][0]["sheet"], "基数");
    assert_eq!(json["city"]["reference"]["C01"]["current"], 2.114);
}

/// Copies the fixture data folder into a temporary folder.
fn copy_data() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixtures().join("data")).unwrap() {
        let dir = entry.unwrap().path();
        let to = tmp.path().join(dir.file_name().unwrap());
        std::fs::create_dir(&to).unwrap();
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    tmp
}

fn target<'a>(json: &'a Value, id: &str, zone: Option<&str>) -> &'a Value {
    json["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id && t["zone"].as_str() == zone)
        .unwrap_or_else(|| panic!("target {id} {zone:?}"))
}

#[test]
fn a_missing_and_a_corrupted_zone_make_city_targets_data_missing() {
    let tmp = copy_data();
    let dir = tmp.path().join("2020-06");
    std::fs::remove_file(dir.join("南浔6月.ods")).unwrap();
    let cx = dir.join("附件1-长兴2020年6月.xlsx");
    let bytes = std::fs::read(&cx).unwrap();
    std::fs::write(&cx, &bytes[..bytes.len() / 2]).unwrap();

    let (c, json) = run(tmp.path(), "2020-06");
    assert!(c.has_gaps());
    assert_eq!(json["complete"], false);
    assert_eq!(json["zones"]["NX"]["status"], "missing");
    // A file that cannot be read is no form: the zone has sent nothing usable.
    assert_eq!(json["zones"]["CX"]["status"], "missing");
    assert_eq!(json["zones"]["HZ"]["status"], "accepted");
    for id in ["T01", "T02", "T03", "T04", "T13", "T18", "T26", "T12"] {
        assert_eq!(target(&json, id, None)["status"], "数据缺失", "{id}");
    }
    // Each-zone targets: the zones still on hand are assessed, the city row is missing.
    assert_eq!(target(&json, "T19", Some("WX"))["status"], "达标");
    assert_eq!(target(&json, "T19", Some("NX"))["status"], "数据缺失");
    assert_eq!(target(&json, "T19", None)["status"], "数据缺失");
    let rules: Vec<(&str, &str)> = c
        .findings
        .iter()
        .map(|f| (f.rule, f.file.as_str()))
        .collect();
    assert!(
        rules.contains(&("file.unreadable", "2020-06/附件1-长兴2020年6月.xlsx")),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|(r, _)| *r == "zone.form_missing"),
        "{rules:?}"
    );
    let truncated = c
        .files
        .iter()
        .find(|f| f.file.ends_with("附件1-长兴2020年6月.xlsx"))
        .unwrap();
    assert_eq!(truncated.status, "unreadable");
}

#[test]
fn a_zone_form_with_an_error_is_rejected_not_summed() {
    let tmp = copy_data();
    // The same form sent twice, with other figures: neither copy can be
    // trusted until one is removed. (A byte-identical copy counts once: see
    // tests/habits.rs.)
    let dir = tmp.path().join("2020-06");
    std::fs::write(
        dir.join("湖州开发区6月报表(重发).xlsx"),
        common::hz().xlsx(),
    )
    .unwrap();
    let (c, json) = run(tmp.path(), "2020-06");
    assert_eq!(json["zones"]["HZ"]["status"], "rejected");
    assert!(
        json["zones"]["HZ"]["indicators"]
            .as_object()
            .unwrap()
            .is_empty()
    );
    let city_a01 = json["city"]["indicators"]["A01"]["current"]
        .as_f64()
        .unwrap();
    let others: f64 = ["CX", "WX", "NX", "AJ"]
        .iter()
        .map(|z| {
            json["zones"][*z]["indicators"]["A01"]["current"]
                .as_f64()
                .unwrap()
        })
        .sum();
    assert!((city_a01 - others).abs() < 1e-9, "{city_a01} {others}");
    let dups: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.rule == "form.duplicate")
        .collect();
    assert_eq!(dups.len(), 2);
    assert!(dups[0].message.contains("湖州开发区6月报表"));
    assert_eq!(target(&json, "T01", None)["status"], "数据缺失");
}

#[test]
fn a_missing_december_folder_leaves_cumulative_targets_without_data() {
    let tmp = copy_data();
    std::fs::remove_dir_all(tmp.path().join("2018-12")).unwrap();
    let (c, json) = run(tmp.path(), "2020-06");
    // The period itself is complete; the history is not.
    assert_eq!(json["complete"], true);
    assert!(c.has_gaps());
    let t04 = target(&json, "T04", None);
    assert_eq!(t04["status"], "数据缺失");
    assert!(t04["note"].as_str().unwrap().contains("2018-12"), "{t04}");
    // Year-to-date targets do not need the history.
    assert_eq!(target(&json, "T01", None)["status"], "达标");
    assert!(
        c.findings
            .iter()
            .any(|f| f.rule == "history.missing" && f.file == "2018-12")
    );

    let (_, annual) = run(tmp.path(), "2020-12");
    assert_eq!(target(&annual, "T01", None)["status"], "数据缺失");
    // Annual-form cumulative targets read the 累计 column and stay assessed.
    assert_eq!(target(&annual, "T05", None)["status"], "达标");
}

#[test]
fn a_missing_city_form_only_affects_targets_that_need_it() {
    let tmp = copy_data();
    std::fs::remove_file(tmp.path().join("2020-06/全市对比基数2020年6月.xlsx")).unwrap();
    let (c, json) = run(tmp.path(), "2020-06");
    assert_eq!(json["complete"], false);
    assert_eq!(target(&json, "T12", None)["status"], "数据缺失");
    assert_eq!(target(&json, "T25", Some("HZ"))["status"], "数据缺失");
    assert_eq!(target(&json, "T01", None)["status"], "达标");
    assert!(c.findings.iter().any(|f| f.rule == "city.form_missing"));
}

#[test]
fn a_form_for_another_month_rejects_the_zone_instead_of_hiding_it() {
    let tmp = copy_data();
    let june = tmp.path().join("2020-06");
    std::fs::remove_file(june.join("湖州开发区6月报表.xlsx")).unwrap();
    std::fs::copy(
        tmp.path().join("2020-12/湖州开发区12月报表.xlsx"),
        june.join("湖州开发区12月报表.xlsx"),
    )
    .unwrap();
    let (c, json) = run(tmp.path(), "2020-06");
    assert_eq!(json["zones"]["HZ"]["status"], "rejected");
    let f = c
        .findings
        .iter()
        .find(|f| f.rule == "form.period_mismatch")
        .expect("period finding");
    assert_eq!(f.file, "2020-06/湖州开发区12月报表.xlsx");
    assert_eq!(f.cell.map(|c| c.to_string()).as_deref(), Some("D4"));
    assert_eq!(f.zone.as_deref(), Some("HZ"));
}

#[test]
fn the_json_summary_carries_the_scores_of_the_run() {
    let (c, json) = run(&fixtures().join("data"), "2020-12");
    let scores = json["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 5);
    for (z, j) in c.scores.iter().zip(scores) {
        assert_eq!(j["zone"], z.zone.as_str());
        assert_eq!(j["total"].as_f64().unwrap(), z.total);
        assert_eq!(j["rank"].as_u64().map(|r| r as u32), z.rank);
        assert_eq!(j["parts"].as_array().unwrap().len(), z.parts.len());
    }
    let mut ranks: Vec<u64> = scores.iter().map(|j| j["rank"].as_u64().unwrap()).collect();
    ranks.sort();
    assert_eq!(ranks, [1, 2, 3, 4, 5]);
}
