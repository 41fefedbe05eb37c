//! 综合评价: the zones' scores and ranks under the catalogue's `[scoring]`
//! scheme. Each measure is a zone figure scored as
//! weight × clamp(actual / target, 0, cap); the parts add up to the total.
//! Only zones whose forms were all accepted are ranked.

use serde::Serialize;

use crate::aggregate::{FormState, PeriodFigures, ZoneResult};
use crate::catalog::{Catalogue, ScoreMeasure};
use crate::model::Finding;
use crate::validate::Val;

/// One measure's score for one zone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartScore {
    /// The measure's label from the catalogue.
    pub label: String,
    /// The zone's figure (growth %, ratio %, change in pp or value); None when missing.
    pub actual: Option<f64>,
    pub target: f64,
    pub weight: f64,
    /// weight × clamp(actual / target, 0, cap); 0 when `actual` is missing.
    pub score: f64,
    /// Why the part scored 0 without a figure (e.g. the figure is missing).
    pub flag: Option<String>,
}

/// A zone's standing in the 综合评价.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneScore {
    /// Zone code from the catalogue.
    pub zone: String,
    /// One part per scoring measure, in catalogue order.
    pub parts: Vec<PartScore>,
    /// The sum of the parts.
    pub total: f64,
    /// 1 = best; zones with equal totals (to 0.01 point, as printed) share a
    /// rank. None for a zone that is not ranked.
    pub rank: Option<u32>,
    /// Why the zone is not ranked (不参与排名), e.g. a form missing or rejected.
    pub excluded: Option<String>,
}

impl ZoneScore {
    /// The labels of the measures that scored 0 for want of a figure.
    pub fn flagged(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter(|p| p.flag.is_some())
            .map(|p| p.label.as_str())
            .collect()
    }
}

/// Scores every zone of the catalogue, in catalogue order, from the
/// period's figures; `findings` (the run's) name why a zone is not ranked.
/// The consolidation runs this stage: its result is `Consolidation::scores`.
///
/// # Examples
/// ```no_run
/// use zonestat::{catalog::Catalogue, consolidate::consolidate};
/// let cat = Catalogue::bundled();
/// let c = consolidate("data".as_ref(), "2020-12".parse().unwrap(), &cat).unwrap();
/// for z in &c.scores {
///     println!("{} {:.2} {:?}", z.zone, z.total, z.rank);
/// }
/// ```
pub fn score(figures: &PeriodFigures, findings: &[Finding], cat: &Catalogue) -> Vec<ZoneScore> {
    let mut scores: Vec<ZoneScore> = cat
        .zones
        .iter()
        .map(|z| {
            let result = figures.zone(&z.code);
            let parts: Vec<PartScore> = cat
                .scoring
                .measures
                .iter()
                .map(|m| part(m, result, cat.scoring.cap))
                .collect();
            let total = parts.iter().map(|p| p.score).sum();
            ZoneScore {
                zone: z.code.clone(),
                parts,
                total,
                rank: None,
                excluded: exclusion_reason(figures, findings, &z.code),
            }
        })
        .collect();
    // Rank on the total as printed (two decimals), best first; ties share a
    // rank and keep catalogue order.
    let key = |s: &ZoneScore| (s.total * 100.0).round() as i64;
    let mut order: Vec<usize> = (0..scores.len())
        .filter(|&i| scores[i].excluded.is_none())
        .collect();
    order.sort_by_key(|&i| std::cmp::Reverse(key(&scores[i])));
    for (position, &i) in order.iter().enumerate() {
        scores[i].rank = match position.checked_sub(1).map(|p| order[p]) {
            Some(before) if key(&scores[before]) == key(&scores[i]) => scores[before].rank,
            _ => Some(position as u32 + 1),
        };
    }
    scores
}

/// The zone's figure for a measure source (`growth:CODE`, `ratio:ID`,
/// `ratio_change:ID`, `value:CODE`). A yes/no value counts as 1 or 0.
pub fn measure_value(source: &str, zone: &ZoneResult) -> Option<f64> {
    let (what, code) = source.split_once(':')?;
    let figs = &zone.figures;
    match what {
        "growth" => figs.indicators.get(code)?.growth,
        "ratio" => figs.ratios.get(code)?.current,
        "ratio_change" => figs.ratios.get(code)?.change,
        "value" => match figs.indicators.get(code)?.current? {
            Val::Number(n) => Some(n),
            Val::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
        },
        _ => None,
    }
}

fn part(m: &ScoreMeasure, zone: Option<&ZoneResult>, cap: f64) -> PartScore {
    let actual = zone.and_then(|z| measure_value(&m.source, z));
    let (score, flag) = match actual {
        None => (0.0, Some("缺少数据，按 0 分计".to_string())),
        Some(_) if m.target <= 0.0 => (0.0, Some("目标值不大于 0，无法计分".to_string())),
        Some(a) => (m.weight * (a / m.target).clamp(0.0, cap), None),
    };
    PartScore {
        label: m.label.clone(),
        actual,
        target: m.target,
        weight: m.weight,
        score,
        flag,
    }
}

/// Why a zone's data are not whole for the run, or None when every form it
/// owes was accepted: each form missing or rejected, with its error count.
///
/// # Examples
/// For a zone whose monthly form was not received: `湖开统1表未报送`.
pub fn exclusion_reason(
    figures: &PeriodFigures,
    findings: &[Finding],
    zone: &str,
) -> Option<String> {
    let z = figures.zone(zone)?;
    if z.status == FormState::Accepted {
        return None;
    }
    let parts: Vec<String> = z
        .forms
        .iter()
        .filter(|(_, s)| *s != FormState::Accepted)
        .map(|(form, s)| {
            let errors = findings
                .iter()
                .filter(|f| {
                    f.is_error()
                        && f.zone.as_deref() == Some(zone)
                        && f.form.as_deref() == Some(form)
                })
                .count();
            match s {
                FormState::Rejected if errors > 0 => {
                    format!("{form}{}（{errors} 处错误）", s.label())
                }
                _ => format!("{form}{}", s.label()),
            }
        })
        .collect();
    Some(parts.join("；"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consolidate::Consolidation;
    use std::path::PathBuf;

    fn data() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data")
    }

    fn run(period: &str) -> (Consolidation, Catalogue) {
        let cat = Catalogue::bundled();
        let c = crate::consolidate::consolidate(&data(), period.parse().unwrap(), &cat).unwrap();
        (c, cat)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn parts_follow_the_scheme_on_the_2020_figures() {
        let (c, cat) = run("2020-12");
        let scores = score(&c.figures, &c.findings, &cat);
        assert_eq!(scores.len(), 5);
        let hz = &scores[0];
        assert_eq!(hz.zone, "HZ");
        // 湖州开发区 2020: A01 178.3735 / 165.5916 → growth 7.71893 %, target 10, weight 20.
        let a01 = &hz.parts[0];
        assert_eq!(a01.label, "规上工业增加值增速");
        assert!(close(
            a01.actual.unwrap(),
            (178.3735 / 165.5916 - 1.0) * 100.0
        ));
        assert!(close(
            a01.score,
            20.0 * (178.3735 / 165.5916 - 1.0) * 100.0 / 10.0
        ));
        // A06 20.2916 / 18.2062 → 11.4543 %, above 8.5: capped at 1.2 × 15.
        let a06 = &hz.parts[1];
        assert!(close(
            a06.actual.unwrap(),
            (20.2916 / 18.2062 - 1.0) * 100.0
        ));
        assert!(close(a06.score, 15.0 * 1.2));
        // R4 direct financing 48.6667 / (48.6667 + 21.191), target 70, weight 10.
        let r4 = hz.parts.iter().find(|p| p.label == "直接融资比重").unwrap();
        let share = 48.6667 / (48.6667 + 21.191) * 100.0;
        assert!(close(r4.actual.unwrap(), share));
        assert!(close(r4.score, 10.0 * share / 70.0));
        assert!(close(hz.total, hz.parts.iter().map(|p| p.score).sum()));
        assert!(hz.flagged().is_empty());
    }

    #[test]
    fn every_accepted_zone_is_ranked_best_first() {
        let (c, cat) = run("2020-12");
        let scores = score(&c.figures, &c.findings, &cat);
        let mut ranks: Vec<u32> = scores.iter().map(|s| s.rank.unwrap()).collect();
        ranks.sort();
        assert_eq!(ranks, [1, 2, 3, 4, 5]);
        for a in &scores {
            for b in &scores {
                if a.rank < b.rank {
                    assert!(
                        a.total >= b.total,
                        "{} {} vs {} {}",
                        a.zone,
                        a.total,
                        b.zone,
                        b.total
                    );
                }
            }
        }
    }

    #[test]
    fn ties_share_a_rank_and_missing_zones_are_not_ranked() {
        let (mut c, cat) = run("2020-06");
        // 长兴 as if its form had not come: no figures, status missing.
        let cx = c.figures.zones.iter_mut().find(|z| z.code == "CX").unwrap();
        cx.status = FormState::Missing;
        cx.forms = vec![("湖开统1表".into(), FormState::Missing)];
        cx.figures = Default::default();
        // 安吉 with 湖州's figures: the same total.
        let hz = c.figures.zone("HZ").unwrap().figures.clone();
        c.figures
            .zones
            .iter_mut()
            .find(|z| z.code == "AJ")
            .unwrap()
            .figures = hz;
        let scores = score(&c.figures, &c.findings, &cat);
        let by = |code: &str| scores.iter().find(|s| s.zone == code).unwrap();
        assert_eq!(by("CX").rank, None);
        assert_eq!(by("CX").excluded.as_deref(), Some("湖开统1表未报送"));
        assert_eq!(by("CX").flagged().len(), cat.scoring.measures.len());
        assert_eq!(by("CX").total, 0.0);
        assert_eq!(by("HZ").rank, by("AJ").rank);
        let mut ranks: Vec<u32> = scores.iter().filter_map(|s| s.rank).collect();
        ranks.sort();
        // Four ranked zones, two of them tied: 1,2,2,4 or 1,1,3,4 or 1,2,3,3.
        assert_eq!(ranks.len(), 4);
        assert!(
            matches!(ranks.as_slice(), [1, 2, 2, 4] | [1, 1, 3, 4] | [1, 2, 3, 3]),
            "{ranks:?}"
        );
    }

    #[test]
    fn a_negative_growth_scores_zero_not_below() {
        let m = ScoreMeasure {
            source: "growth:A01".into(),
            label: "x".into(),
            target: 10.0,
            weight: 20.0,
        };
        let (c, _) = run("2020-06");
        let mut z = c.figures.zone("HZ").unwrap().clone();
        z.figures.indicators.get_mut("A01").unwrap().growth = Some(-3.0);
        let p = part(&m, Some(&z), 1.2);
        assert_eq!(p.score, 0.0);
        assert_eq!(p.actual, Some(-3.0));
        assert!(p.flag.is_none());
    }
}
