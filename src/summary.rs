//! The JSON summary of a consolidation (SUMMARY.md): what `consolidate
//! --json` and `run` write beside the workbook, and what the mail reads back.

use serde_json::{Map, Value, json};

use crate::aggregate::IndicatorFigure;
use crate::catalog::{Catalogue, Kind};
use crate::consolidate::Consolidation;
use crate::validate::Val;

fn num(v: Option<f64>) -> Value {
    v.map(Value::from).unwrap_or(Value::Null)
}

fn val(v: Option<Val>) -> Value {
    match v {
        Some(Val::Number(n)) => Value::from(n),
        Some(Val::Bool(b)) => Value::Bool(b),
        None => Value::Null,
    }
}

fn indicator_json(f: &IndicatorFigure, kind: Kind) -> Value {
    let mut m = Map::new();
    m.insert("current".into(), val(f.current));
    m.insert("prior".into(), val(f.prior));
    match kind {
        Kind::Flow => {
            m.insert("growth".into(), num(f.growth));
        }
        Kind::NewInYear | Kind::Stock => {
            m.insert("cumulative".into(), num(f.cumulative));
        }
        Kind::YesNo | Kind::Reference => {}
    }
    Value::Object(m)
}

/// The JSON summary (SUMMARY.md).
/// The key of the JSON summary that records the SHA-256 of the workbook
/// written with it (by `run` and `consolidate --json`, after the workbook is
/// in place): `send` refuses a summary that names another workbook.
pub const WORKBOOK_SHA256: &str = "workbook_sha256";

pub fn summary_json(c: &Consolidation, cat: &Catalogue) -> Value {
    let kind = |code: &str| {
        cat.indicator(code)
            .map(|(_, i)| i.kind)
            .unwrap_or(Kind::Flow)
    };
    let indicators = |m: &std::collections::BTreeMap<String, IndicatorFigure>| -> Value {
        Value::Object(
            m.iter()
                .map(|(k, f)| (k.clone(), indicator_json(f, kind(k))))
                .collect(),
        )
    };
    let mut zones = Map::new();
    for z in &c.figures.zones {
        zones.insert(
            z.code.clone(),
            json!({
                "status": z.status,
                "forms": z.forms.iter().map(|(f, s)| json!({"form": f, "status": s})).collect::<Vec<_>>(),
                "sources": z.sources,
                "indicators": indicators(&z.figures.indicators),
                "ratios": z.figures.ratios,
            }),
        );
    }
    json!({
        "period": c.period,
        "annual": c.annual,
        "complete": c.complete,
        "zones": zones,
        "city": {
            "indicators": indicators(&c.figures.city.figures.indicators),
            "ratios": c.figures.city.figures.ratios,
            "reference": indicators(&c.figures.city.reference),
            "sources": c.figures.city.sources,
        },
        "targets": c.targets,
        "scores": c.scores,
        "files": c.files,
        "findings": c.findings,
    })
}
