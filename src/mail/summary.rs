//! What the mail's body says about a run: period, completeness, targets by
//! status, the zones missing or rejected and the targets behind schedule or
//! not met. Built from the in-memory [`Consolidation`] right after a run, or
//! from the JSON summary `consolidate --json` wrote; both give the same text.

use std::fmt::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aggregate::FormState;
use crate::assess::{Status, TargetRow};
use crate::catalog::{Catalogue, FilledBy, TargetScope};
use crate::consolidate::Consolidation;
use crate::error::Error;
use crate::model::{Period, Severity};
use crate::score::ZoneScore;

/// The facts the mail's body reports, with the catalogue's names resolved.
/// Serialised (as JSON in the workbook's document properties) field by
/// field, so that a field added here is kept there too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    #[serde(deserialize_with = "period_from_text")]
    pub period: Period,
    /// The workbook's title, e.g. 湖州市开发区转型升级创新发展考核汇总表.
    pub title: String,
    /// The mail's subject before the period (the catalogue's
    /// `plan.mail_subject`).
    #[serde(default)]
    pub subject: String,
    /// Who fills in the city forms (湖州市统计局).
    pub city_reporter: String,
    /// Zones in the catalogue, and those whose forms were all accepted.
    pub zones: usize,
    pub accepted: usize,
    /// Whatever keeps the results from being whole, one item a line:
    /// `长兴开发区：湖开统1表未报送`.
    pub gaps: Vec<String>,
    /// Every form accepted, no error anywhere, no target without data.
    pub whole: bool,
    /// City-level target rows by status, in [`Status::ALL`] order, zeros left out.
    #[serde(deserialize_with = "counts_from_labels")]
    pub counts: Vec<(Status, usize)>,
    /// City-level target rows assessed.
    pub targets: usize,
    /// One line a target behind schedule, not met, or without data.
    pub behind: Vec<String>,
    pub not_met: Vec<String>,
    pub data_missing: Vec<String>,
    pub errors: usize,
    pub warnings: usize,
    /// The 综合评价, best first: `第1名 湖州开发区 86.52 分`; then the zones
    /// not ranked, with the reason.
    pub ranking: Vec<String>,
}

/// One finding, reduced to what the summary counts.
struct Found {
    severity: Severity,
    rule: String,
    zone: Option<String>,
    form: Option<String>,
}

/// The run's facts before names are resolved.
struct Facts {
    period: Period,
    /// Zone code → each needed form and its state.
    zones: Vec<(String, Vec<(String, FormState)>)>,
    /// City forms not accepted, with their state.
    city: Vec<(String, FormState)>,
    /// Target rows and 综合评价 as the run has them; from the JSON without
    /// what the summary does not use (each year's growth, the scoring parts).
    rows: Vec<TargetRow>,
    findings: Vec<Found>,
    scores: Vec<ZoneScore>,
    complete: bool,
}

impl Summary {
    /// The summary of a consolidation just run.
    pub fn from_run(c: &Consolidation, cat: &Catalogue) -> Summary {
        let facts = Facts {
            period: c.period,
            zones: c
                .figures
                .zones
                .iter()
                .map(|z| (z.code.clone(), z.forms.clone()))
                .collect(),
            city: c
                .figures
                .city
                .forms
                .iter()
                .filter(|(_, s)| *s != FormState::Accepted)
                .cloned()
                .collect(),
            rows: c.targets.clone(),
            findings: c
                .findings
                .iter()
                .map(|f| Found {
                    severity: f.severity,
                    rule: f.rule.to_string(),
                    zone: f.zone.clone(),
                    form: f.form.clone(),
                })
                .collect(),
            scores: c.scores.clone(),
            complete: c.complete,
        };
        facts.summary(cat)
    }

    /// Reads the JSON summary that `consolidate --json` wrote.
    ///
    /// # Errors
    /// [`Error::Input`] naming the file when it cannot be read or is not a
    /// zonestat summary.
    pub fn load(path: &Path, cat: &Catalogue) -> Result<Summary, Error> {
        let err = |message: String| Error::Input {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(crate::error::io_message(&e)))?;
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            err(format!(
                "不是有效的 JSON 文件（第 {} 行第 {} 列写法不对）",
                e.line(),
                e.column()
            ))
        })?;
        Summary::from_json(&value, cat).map_err(|m| {
            err(format!(
                "不是 zonestat consolidate --json 写出的汇总结果：{m}"
            ))
        })
    }

    /// Reads the summary from the JSON value [`crate::summary::summary_json`] makes.
    fn from_json(v: &Value, cat: &Catalogue) -> Result<Summary, String> {
        let period: Period = v["period"].as_str().ok_or("缺少 period")?.parse()?;
        let complete = v["complete"].as_bool().ok_or("缺少 complete")?;
        let state = |s: &Value| -> Result<FormState, String> {
            match s.as_str() {
                Some("accepted") => Ok(FormState::Accepted),
                Some("missing") => Ok(FormState::Missing),
                Some("rejected") => Ok(FormState::Rejected),
                _ => Err(format!("报表状态 {s} 不可识别")),
            }
        };
        let text = |x: &Value| x.as_str().map(str::to_string);
        let mut zones = Vec::new();
        let zone_map = v["zones"].as_object().ok_or("缺少 zones")?;
        // Catalogue order first, as the run has them; codes the catalogue does not know after.
        let mut codes: Vec<&String> = cat
            .zones
            .iter()
            .filter_map(|z| zone_map.get_key_value(&z.code).map(|(k, _)| k))
            .collect();
        codes.extend(zone_map.keys().filter(|k| cat.zone(k).is_none()));
        for code in codes {
            let forms = zone_map[code]["forms"]
                .as_array()
                .ok_or("开发区缺少 forms")?
                .iter()
                .map(|f| Ok((text(&f["form"]).ok_or("缺少 form")?, state(&f["status"])?)))
                .collect::<Result<Vec<_>, String>>()?;
            zones.push((code.clone(), forms));
        }
        let findings = v["findings"]
            .as_array()
            .ok_or("缺少 findings")?
            .iter()
            .map(|f| {
                let severity = match f["severity"].as_str() {
                    Some("error") => Severity::Error,
                    Some("warning") => Severity::Warning,
                    _ => Severity::Info,
                };
                Found {
                    severity,
                    rule: text(&f["rule"]).unwrap_or_default(),
                    zone: text(&f["zone"]),
                    form: text(&f["form"]),
                }
            })
            .collect::<Vec<_>>();
        // The JSON has no state for city forms: a form the period needs is
        // missing when its `city.form_missing` finding is there, rejected when
        // it has another error.
        let city = cat
            .forms_for(period)
            .filter(|f| f.filled_by == FilledBy::City)
            .filter_map(|f| {
                let errors: Vec<&Found> = findings
                    .iter()
                    .filter(|x| {
                        x.severity == Severity::Error
                            && x.zone.is_none()
                            && x.form.as_deref() == Some(f.number.as_str())
                    })
                    .collect();
                if errors.iter().any(|x| x.rule == "city.form_missing") {
                    Some((f.number.clone(), FormState::Missing))
                } else if !errors.is_empty() {
                    Some((f.number.clone(), FormState::Rejected))
                } else {
                    None
                }
            })
            .collect();
        let number = |x: &Value| x.as_f64();
        let rows = v["targets"]
            .as_array()
            .ok_or("缺少 targets")?
            .iter()
            .map(|t| {
                let status = status_of(t["status"].as_str().unwrap_or_default())?;
                Ok(TargetRow {
                    id: text(&t["id"]).ok_or("目标缺少 id")?,
                    zone: text(&t["zone"]),
                    actual: number(&t["actual"]),
                    target: number(&t["target"]).unwrap_or(f64::NAN),
                    completion: number(&t["completion"]),
                    schedule: number(&t["schedule"]),
                    status,
                    note: text(&t["note"]).unwrap_or_default(),
                    yearly: Vec::new(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        // A summary from before the 综合评价 was in the JSON has none.
        let scores = v["scores"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|z| {
                Ok(ZoneScore {
                    zone: text(&z["zone"]).ok_or("综合评价缺少 zone")?,
                    parts: Vec::new(),
                    total: number(&z["total"]).ok_or("综合评价缺少 total")?,
                    rank: z["rank"].as_u64().map(|r| r as u32),
                    excluded: text(&z["excluded"]),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Facts {
            period,
            zones,
            city,
            rows,
            findings,
            scores,
            complete,
        }
        .summary(cat))
    }

    /// The period as people write it: `2020年1-6月`, `2020年度`.
    pub fn label(&self) -> String {
        self.period.run_label()
    }

    /// The mail's body: a few lines a person reads before opening the
    /// workbook `file_name`.
    pub fn body(&self, file_name: &str) -> String {
        let mut out = String::from("您好：\n\n");
        let _ = writeln!(
            out,
            "附件是{}（{}，期别 {}），请查收。\n",
            self.title,
            self.label(),
            self.period
        );
        out.push_str("一、数据情况\n");
        if self.whole {
            let _ = writeln!(
                out,
                "数据完整：{}/{} 个开发区和{}本期应报的报表均已收到并通过检查。",
                self.accepted, self.zones, self.city_reporter
            );
        } else {
            let _ = writeln!(
                out,
                "数据不完整，考核结果仅供参考：{}/{} 个开发区的报表已采用，全市合计只含这些开发区。",
                self.accepted, self.zones
            );
            for g in &self.gaps {
                let _ = writeln!(out, "  · {g}");
            }
        }
        let _ = writeln!(
            out,
            "数据问题：错误 {} 条，警告 {} 条。\n",
            self.errors, self.warnings
        );
        let _ = writeln!(out, "二、目标考核（共 {} 项）", self.targets);
        if self.counts.is_empty() {
            out.push_str("本期没有需要考核的目标。\n");
        } else {
            let counts: Vec<String> = self
                .counts
                .iter()
                .map(|(s, n)| format!("{} {n} 项", s.label()))
                .collect();
            let _ = writeln!(out, "{}。", counts.join("，"));
        }
        for (status, lines) in [
            (Status::Behind, &self.behind),
            (Status::NotMet, &self.not_met),
            (Status::DataMissing, &self.data_missing),
        ] {
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(out, "{}（{} 项）：", status.label(), lines.len());
            for l in lines {
                let _ = writeln!(out, "  · {l}");
            }
        }
        if !self.ranking.is_empty() {
            out.push_str("\n三、综合评价\n");
            for l in &self.ranking {
                let _ = writeln!(out, "  · {l}");
            }
        }
        let _ = writeln!(
            out,
            "\n各项目标的完成情况、各开发区对比、综合评价和数据问题详见附件“{file_name}”。\n"
        );
        out.push_str(&signature());
        out
    }
}

/// The body when there is no summary: it names the attachment and says where
/// the results are.
pub fn plain_body(file_name: &str) -> String {
    format!(
        "您好：\n\n附件是考核汇总表“{file_name}”，请查收。\n\n数据完整性和各项目标的完成情况请见附件的“封面”和“目标考核”工作表。\n\n{}",
        signature()
    )
}

fn signature() -> String {
    format!(
        "（本邮件由 {} 根据考核汇总结果自动生成。）\n",
        crate::output::MADE_BY
    )
}

impl Facts {
    fn summary(self, cat: &Catalogue) -> Summary {
        let errors_of = |zone: &str, form: &str| {
            self.findings
                .iter()
                .filter(|f| {
                    f.severity == Severity::Error
                        && f.zone.as_deref() == Some(zone)
                        && f.form.as_deref() == Some(form)
                })
                .count()
        };
        let mut gaps = Vec::new();
        let mut accepted = 0;
        for (code, forms) in &self.zones {
            let parts: Vec<String> = forms
                .iter()
                .filter(|(_, s)| *s != FormState::Accepted)
                .map(|(form, s)| match (s, errors_of(code, form)) {
                    (FormState::Rejected, n) if n > 0 => {
                        format!("{form}{}（{n} 处错误）", s.label())
                    }
                    _ => format!("{form}{}", s.label()),
                })
                .collect();
            if parts.is_empty() {
                accepted += 1;
            } else {
                gaps.push(format!("{}：{}", cat.zone_short(code), parts.join("；")));
            }
        }
        for (form, s) in &self.city {
            gaps.push(format!("{}：{form}{}", cat.city.reporter, s.label()));
        }
        let city_rows: Vec<&TargetRow> = self.rows.iter().filter(|r| r.zone.is_none()).collect();
        let counts = Status::ALL
            .into_iter()
            .map(|s| (s, city_rows.iter().filter(|r| r.status == s).count()))
            .filter(|(_, n)| *n > 0)
            .collect();
        let lines = |status: Status| -> Vec<String> {
            city_rows
                .iter()
                .filter(|r| r.status == status)
                .map(|r| self.target_line(r, cat))
                .collect()
        };
        let count = |severity| {
            self.findings
                .iter()
                .filter(|f| f.severity == severity)
                .count()
        };
        let errors = count(Severity::Error);
        let data_missing = lines(Status::DataMissing);
        // Ranked best first, then the zones not ranked in their order (the sort is stable).
        let mut standings: Vec<&ZoneScore> = self.scores.iter().collect();
        standings.sort_by_key(|z| (z.rank.is_none(), z.rank));
        let ranking = standings
            .iter()
            .map(|z| match z.rank {
                Some(rank) => format!("第{rank}名 {} {:.2} 分", cat.zone_short(&z.zone), z.total),
                None => format!(
                    "{} 不参与排名（{}）",
                    cat.zone_short(&z.zone),
                    z.excluded.as_deref().unwrap_or("数据不全")
                ),
            })
            .collect();
        Summary {
            period: self.period,
            title: cat.plan.report_title.clone(),
            subject: cat.plan.mail_subject().to_string(),
            city_reporter: cat.city.reporter.clone(),
            zones: self.zones.len(),
            accepted,
            whole: self.complete && gaps.is_empty() && errors == 0 && data_missing.is_empty(),
            gaps,
            targets: city_rows.len(),
            counts,
            behind: lines(Status::Behind),
            not_met: lines(Status::NotMet),
            data_missing,
            errors,
            warnings: count(Severity::Warning),
            ranking,
        }
    }

    /// `T03 到2020年进出口总额达到51亿美元以上：完成 57.9%，序时进度 50%`.
    fn target_line(&self, r: &TargetRow, cat: &Catalogue) -> String {
        let t = cat.targets.iter().find(|t| t.id == r.id);
        let name = match t {
            Some(t) => format!("{} {}", r.id, t.text),
            None => r.id.clone(),
        };
        let unit = t.map_or("", |t| t.unit.as_str());
        let each_zone = t.is_some_and(|t| t.scope == TargetScope::EachZone);
        let mut facts = Vec::new();
        if (each_zone || r.status == Status::DataMissing) && !r.note.is_empty() {
            facts.push(r.note.clone());
        }
        if each_zone {
            for (status, what) in [
                (Status::NotMet, "未达标"),
                (Status::Behind, "进度滞后"),
                (Status::DataMissing, "数据缺失"),
            ] {
                let zones: Vec<String> = self
                    .rows
                    .iter()
                    .filter(|z| z.id == r.id && z.status == status)
                    .filter_map(|z| z.zone.as_deref().map(|code| cat.zone_short(code)))
                    .collect();
                if !zones.is_empty() {
                    facts.push(format!("{what}：{}", zones.join("、")));
                }
            }
        } else if r.status != Status::DataMissing {
            if let Some(a) = r.actual {
                facts.push(format!("实际 {}{unit}", number(a)));
            }
            if r.target.is_finite() {
                facts.push(format!("目标 {}{unit}", number(r.target)));
            }
            if let Some(c) = r.completion {
                facts.push(format!("完成 {}%", number(c)));
            }
            if let Some(s) = r.schedule {
                facts.push(format!("序时进度 {}%", number(s)));
            }
        }
        if facts.is_empty() {
            name
        } else {
            format!("{name}：{}", facts.join("，"))
        }
    }
}

/// A figure as the body prints it: at most two decimals, no trailing zeros.
fn number(v: f64) -> String {
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// The names of the workbook's custom document properties that hold its
/// period and its summary, so that `send` needs nothing beside the workbook
/// (it may have been renamed, or mailed on without its JSON).
pub const PERIOD_PROPERTY: &str = "zonestat.period";
const SUMMARY_PROPERTY: &str = "zonestat.summary";
/// Programs show and edit text properties of at most 255 characters: the
/// summary is stored in parts of that size, `zonestat.summary.1`, `.2` …
const PART_CHARS: usize = 255;

/// A period from its text, `2020-06` (it is written by `Period`'s `Serialize`).
fn period_from_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(serde::de::Error::custom)
}

/// Target counts by status, the status by its label (`达标`), as `Status`'s
/// `Serialize` writes it.
fn counts_from_labels<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<(Status, usize)>, D::Error> {
    let labelled: Vec<(String, usize)> = Vec::deserialize(d)?;
    labelled
        .into_iter()
        .map(|(label, n)| Ok((status_of(&label).map_err(serde::de::Error::custom)?, n)))
        .collect()
}

/// The status of a label (`达标`).
fn status_of(label: &str) -> Result<Status, String> {
    Status::ALL
        .into_iter()
        .find(|s| s.label() == label)
        .ok_or_else(|| format!("目标状态“{label}”不可识别"))
}

impl Summary {
    /// The summary as custom document properties (name, text): the period,
    /// and the summary as JSON in parts.
    pub fn to_properties(&self) -> Vec<(String, String)> {
        let json = serde_json::to_string(self).expect("serialisable");
        let chars: Vec<char> = json.chars().collect();
        let mut out = vec![(PERIOD_PROPERTY.to_string(), self.period.to_string())];
        for (i, part) in chars.chunks(PART_CHARS).enumerate() {
            out.push((
                format!("{SUMMARY_PROPERTY}.{}", i + 1),
                part.iter().collect(),
            ));
        }
        out
    }

    /// The summary stored in custom document properties by
    /// [`Summary::to_properties`]; None when they are not there or not whole.
    pub fn from_properties(props: &[(String, String)]) -> Option<Summary> {
        let get = |name: &str| props.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        let mut json = String::new();
        for i in 1.. {
            match get(&format!("{SUMMARY_PROPERTY}.{i}")) {
                Some(part) => json.push_str(part),
                None => break,
            }
        }
        let summary: Summary = serde_json::from_str(&json).ok()?;
        (get(PERIOD_PROPERTY) == Some(&summary.period.to_string())).then_some(summary)
    }
}

/// The custom document properties of an xlsx workbook (`docProps/custom.xml`),
/// text ones only; empty when it has none or is not an xlsx.
pub fn workbook_properties(path: &Path) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let Some(xml) = custom_xml(path) else {
        return Vec::new();
    };
    let mut reader = quick_xml::Reader::from_str(&xml);
    let v10 = quick_xml::XmlVersion::Implicit1_0;
    let mut out: Vec<(String, String)> = Vec::new();
    let mut name: Option<String> = None;
    let mut in_text = false;
    let add = |name: &Option<String>, text: &str, out: &mut Vec<(String, String)>| {
        if let Some(n) = name {
            match out.last_mut() {
                Some((last, value)) if last == n => value.push_str(text),
                _ => out.push((n.clone(), text.to_string())),
            }
        }
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "property" => {
                name = e
                    .try_get_attribute("name")
                    .ok()
                    .flatten()
                    .and_then(|a| a.normalized_value(v10).ok().map(|v| v.into_owned()));
            }
            Ok(Event::Start(e)) if e.local_name().as_ref() == "lpwstr" => {
                in_text = true;
                add(&name, "", &mut out);
            }
            Ok(Event::Text(t)) if in_text => add(&name, &t.xml_content(v10), &mut out),
            Ok(Event::GeneralRef(r)) if in_text => {
                let text = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    quick_xml::escape::resolve_predefined_entity(&r.xml_content(v10))
                        .map(str::to_string)
                };
                add(&name, &text.unwrap_or_default(), &mut out);
            }
            Ok(Event::End(e)) if e.local_name().as_ref() == "lpwstr" => in_text = false,
            Ok(Event::End(e)) if e.local_name().as_ref() == "property" => name = None,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// `docProps/custom.xml` of a workbook, if it has one of a sensible size.
fn custom_xml(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).ok()?).ok()?;
    // A summary is a few kilobytes; a part far larger is not ours.
    let part = zip
        .by_name("docProps/custom.xml")
        .ok()
        .filter(|p| p.size() < 4 << 20)?;
    let mut xml = String::new();
    part.take(4 << 20).read_to_string(&mut xml).ok()?;
    Some(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_lose_trailing_zeros() {
        assert_eq!(number(50.0), "50");
        assert_eq!(number(57.873), "57.87");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(-0.0461), "-0.05");
        assert_eq!(number(-0.001), "0");
    }
}
