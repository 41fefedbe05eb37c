//! The synthetic data of the benchmarks (`examples/generate`): the same seed
//! writes the same bytes, and what it writes consolidates with no error and
//! no warning, in a monthly and in an annual run, while carrying the
//! variations of FORMS.md.

#[path = "../examples/generate/synth.rs"]
mod synth;

use std::collections::BTreeMap;
use std::path::Path;

use zonestat::catalog::Catalogue;
use zonestat::consolidate::consolidate;
use zonestat::model::{Period, Severity};
use zonestat::read::CellValue;

fn spec(zones: usize, seed: u64) -> synth::Spec {
    synth::Spec {
        zones,
        seed,
        period: "2020-06".parse().unwrap(),
    }
}

/// Every file under `dir` by its path relative to `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn the_same_seed_writes_the_same_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    synth::generate(&spec(4, 11), a.path()).unwrap();
    synth::generate(&spec(4, 11), b.path()).unwrap();
    synth::generate(&spec(4, 12), c.path()).unwrap();
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    assert!(fa.len() > 15, "{} files", fa.len());
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between two runs");
    }
    assert_ne!(fa, fc, "another seed, other data");
}

#[test]
fn generated_data_consolidates_without_errors_or_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let w = synth::generate(&spec(7, 5), dir.path()).unwrap();
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::load(&w.catalogue).unwrap();
    assert_eq!(cat.zones.len(), 7);
    let folders: Vec<String> = w.folders.iter().map(Period::to_string).collect();
    assert_eq!(folders, ["2017-12", "2018-12", "2019-12", "2020-06"]);

    // The run's period, and a December (annual forms, 2017 and 2018 as history).
    for period in ["2020-06", "2019-12"] {
        let c = consolidate(&w.data, period.parse().unwrap(), &cat).unwrap();
        let shown: Vec<String> = c
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| format!("{} {} {}: {}", f.rule, f.file, f.location(), f.message))
            .collect();
        assert!(shown.is_empty(), "{period}:\n{}", shown.join("\n"));
        assert!(c.complete, "{period}: every zone and the city accepted");
        assert!(!c.has_gaps(), "{period}");
    }

    // The forms carry the variations the generator claims (over all folders).
    let mut forms = Vec::new();
    let mut reports = Vec::new();
    for p in &w.folders {
        let paths = zonestat::folder::list_files(&w.data.join(p.to_string())).unwrap();
        let batch =
            zonestat::folder::check_files(&paths, &|x| x.display().to_string(), Some(*p), &cat);
        forms.extend(batch.forms);
        reports.extend(batch.files);
    }
    let rows = || forms.iter().flat_map(|f| f.raw.rows.iter());
    let text = |pred: &dyn Fn(&str) -> bool| {
        rows()
            .flat_map(|r| r.values.iter())
            .any(|(_, v)| matches!(&v.value, CellValue::Text(t) if pred(t)))
    };
    assert!(text(&|t| t.contains(',')), "thousands separators");
    assert!(
        text(&|t| t.contains('．') || t.contains('１')),
        "full-width digits"
    );
    assert!(text(&|t| t.starts_with(' ')), "spaces around numbers");
    assert!(text(&|t| t.ends_with('%')), "growth typed as 12.5%");
    assert!(
        rows().any(|r| r.unit.as_ref().is_some_and(|u| u.text.starts_with('万'))),
        "a row in 万元"
    );
    assert!(forms.iter().any(|f| f.sheet != f.form), "a renamed sheet");
    let periods: Vec<&str> = forms
        .iter()
        .filter_map(|f| f.raw.period.as_ref().map(|p| p.text.as_str()))
        .collect();
    assert!(periods.iter().any(|p| p.ends_with("年度")), "{periods:?}");
    assert!(
        periods.iter().any(|p| p.contains('—') || p.contains('.')),
        "{periods:?}"
    );
    assert!(
        reports.iter().any(|f| f.forms.len() == 2),
        "monthly and annual forms in one workbook"
    );
    let instructions = reports.iter().filter(|f| f.status == "used").any(|f| {
        let path = w.data.join(&f.file);
        let book = calamine::open_workbook_auto(&path).unwrap();
        calamine::Reader::sheet_names(&book)
            .iter()
            .any(|n| n == "填表说明")
    });
    assert!(instructions, "an extra 填表说明 sheet");
    assert!(
        reports.iter().any(|f| f.status == "ignored"),
        "a lock file or a mail leftover beside the forms"
    );
}

#[test]
fn many_zones_get_no_sheet_each_but_every_zone_is_compared() {
    use calamine::{Data, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    // 2017-12: the plan's first December, so no history to write.
    let spec = synth::Spec {
        zones: 4,
        seed: 3,
        period: "2017-12".parse().unwrap(),
    };
    let w = synth::generate(&spec, dir.path()).unwrap();
    // one zone more than the catalogue gives sheets to
    let text = std::fs::read_to_string(&w.catalogue).unwrap();
    assert!(text.contains("zone_sheets_max = 30"));
    let text = text.replace("zone_sheets_max = 30", "zone_sheets_max = 3");
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::parse(&text, "plan.toml").unwrap();
    assert_eq!(cat.report.zone_sheets_max, 3);
    let n = cat.zones.len();
    let c = consolidate(&w.data, spec.period, &cat).unwrap();
    assert!(c.complete);
    let made = zonestat::report::MadeAt::from_unix(synth::CREATED_UNIX);
    let bytes = zonestat::report::workbook_bytes(&c, &cat, made).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "封面",
            "目标考核",
            "图表",
            "全市汇总",
            "分区对比",
            "综合评价",
            "数据问题",
            "来源清单"
        ]
    );
    let cover = book.worksheet_range("封面").unwrap();
    let says = cover
        .rows()
        .flatten()
        .any(|v| matches!(v, Data::String(s) if s.contains(&format!("开发区共 {n} 个"))));
    assert!(says, "the cover says why there is no sheet a zone");
    let compare = book.worksheet_range("分区对比").unwrap();
    let header: Vec<String> = compare
        .rows()
        .find(|r| r.first().is_some_and(|v| v == &Data::String("代码".into())))
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect();
    for z in &cat.zones {
        assert!(header.contains(&z.short), "{} on 分区对比", z.short);
    }
    assert_eq!(header.last().map(String::as_str), Some("全市合计"));
}
