//! Synthetic data for benchmarks and tests: a catalogue of N zones (the
//! bundled plan with its zones replaced) and a data folder holding their filled
//! forms for one period and the December of every earlier plan year, written
//! by the project's own form writer (`template::add_form_sheet`).
//!
//! The forms carry the variations of FORMS.md the writer can produce: numbers
//! as text (thousands separators, full-width digits, spaces), rows in 万元 or
//! 万美元 with converted values, renamed sheets, an extra 填表说明 sheet,
//! growth typed over the formula (`12.5%`), the period and the reporting unit
//! in their several spellings, monthly and annual forms in one workbook, notes,
//! and a lock file and a mail leftover beside the workbooks.
//!
//! The values are consistent, so that a consolidation finds no error and no
//! cross-period warning: parts never exceed their totals, counts are whole,
//! 上年同期 is what the zone reported a year earlier, 2017年以来累计 is last
//! year's plus this year's, growth stays within ±50 %.
//!
//! Everything follows from the seed (a splitmix64 generator, one stream per
//! zone and per file), and workbooks get a fixed creation time, so the same
//! seed gives the same bytes. Files are written in parallel.

// Shared by the generate example, the benchmarks and tests/generate.rs; each
// uses a part.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use rust_xlsxwriter::ExcelDateTime;
use zonestat::catalog::{BUNDLED, Catalogue, FilledBy, Form, Frequency, Kind, Role};
use zonestat::model::Period;
use zonestat::template::{Fill, FillValue, add_form_sheet, add_text_sheet, new_workbook};

/// The workbooks' creation time: 2021-01-01 00:00 UTC.
pub const CREATED_UNIX: i64 = 1_609_459_200;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    pub zones: usize,
    pub seed: u64,
    /// The period of the run; the December folders of the plan years before
    /// it are written too.
    pub period: Period,
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct Written {
    pub catalogue: PathBuf,
    pub data: PathBuf,
    /// Period folders, in order.
    pub folders: Vec<Period>,
    pub workbooks: usize,
    pub other_files: usize,
    pub bytes: u64,
}

/// splitmix64: small, fast and good enough for test data.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for one thing (a zone, a file), from the seed
    /// and the thing's coordinates.
    pub fn derive(seed: u64, parts: &[u64]) -> Rng {
        let mut r = Rng(seed ^ 0x05EE_D0F2_0170);
        for p in parts {
            r.0 ^= p.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            r.next_u64();
        }
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

// ---------------------------------------------------------------------------
// The catalogue
// ---------------------------------------------------------------------------

const FIRST: [&str; 45] = [
    "东", "西", "南", "北", "青", "白", "金", "玉", "长", "安", "平", "新", "永", "广", "凤", "龙",
    "临", "清", "宁", "泰", "丰", "嘉", "华", "兴", "和", "云", "松", "梅", "桐", "江", "海", "山",
    "湖", "溪", "德", "定", "宜", "昌", "建", "福", "通", "柳", "石", "林", "光",
];
const SECOND: [&str; 45] = [
    "阳", "城", "江", "山", "湖", "泉", "桥", "浦", "川", "州", "溪", "港", "源", "岭", "田", "原",
    "林", "台", "塘", "川", "岗", "陵", "宁", "安", "丰", "河", "口", "湾", "坪", "峰", "谷", "渡",
    "洲", "坝", "关", "门", "亭", "庄", "堡", "寨", "沙", "滨", "屿", "圩", "埠",
];

/// A zone of the generated catalogue.
#[derive(Debug, Clone)]
pub struct ZoneName {
    pub code: String,
    pub short: String,
    pub full: String,
    pub alias: String,
    pub national: bool,
}

/// The N zones: unique codes (`Z0001`…) and unique place names, about one in
/// five a national-level zone.
pub fn zone_names(n: usize, seed: u64) -> Vec<ZoneName> {
    let combos = FIRST.len() * SECOND.len();
    // A seeded shuffle of the place names, so that zone 1 is not always 东阳.
    let mut order: Vec<usize> = (0..combos).collect();
    let mut rng = Rng::derive(seed, &[1]);
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(n);
    let mut k = 0usize;
    while out.len() < n {
        let c = order[k % combos];
        let round = k / combos;
        k += 1;
        let (a, b) = (FIRST[c / SECOND.len()], SECOND[c % SECOND.len()]);
        if a == b {
            continue;
        }
        let place = if round == 0 {
            format!("{a}{b}")
        } else {
            format!("{a}{b}{}", round + 1)
        };
        if !seen.insert(place.clone()) {
            continue;
        }
        let i = out.len() + 1;
        let national = Rng::derive(seed, &[2, i as u64]).chance(0.2);
        let full = if national {
            format!("{place}经济技术开发区")
        } else {
            format!("{place}经济开发区")
        };
        out.push(ZoneName {
            code: format!("Z{i:04}"),
            short: format!("{place}开发区"),
            full,
            alias: format!("{place}经开区"),
            national,
        });
    }
    out
}

/// The bundled plan with its `[[zones]]` replaced by `n` generated ones.
pub fn catalogue_text(n: usize, seed: u64) -> String {
    let mut zones = String::new();
    for z in zone_names(n, seed) {
        zones.push_str(&format!(
            "[[zones]]\ncode = \"{}\"\nshort = \"{}\"\nfull = \"{}\"\naliases = [\"{}\"]\nlevel_at_start = \"{}\"\n\n",
            z.code,
            z.short,
            z.full,
            z.alias,
            if z.national { "国家级" } else { "省级" }
        ));
    }
    let mut out = String::with_capacity(BUNDLED.len() + zones.len());
    let mut lines = BUNDLED.lines().peekable();
    let mut inserted = false;
    while let Some(line) = lines.next() {
        if line.trim() != "[[zones]]" {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // Skip the block: its key lines and the blank line after it.
        while lines
            .peek()
            .is_some_and(|l| !l.trim().is_empty() && !l.starts_with('[') && !l.starts_with('#'))
        {
            lines.next();
        }
        while lines.peek().is_some_and(|l| l.trim().is_empty()) {
            lines.next();
        }
        if !inserted {
            out.push_str(&zones);
            inserted = true;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// The values
// ---------------------------------------------------------------------------

/// The first year values are made for: the year before the plan starts, so
/// that the first plan year has a 上年 to report.
fn base_year(cat: &Catalogue) -> i32 {
    cat.plan.start.year - 1
}

/// One zone's annual figures, by year: the monthly form's indicators (full
/// year amounts, canonical units) and the annual form's.
#[derive(Debug, Clone)]
pub struct ZoneData {
    pub annual: BTreeMap<i32, BTreeMap<String, f64>>,
    pub yes_no: BTreeMap<i32, BTreeMap<String, bool>>,
    /// 2017年以来累计 of the new-in-year indicators, by year.
    pub cumulative: BTreeMap<i32, BTreeMap<String, f64>>,
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// Decimals kept of amounts: 4, i.e. whole 万元 in a 亿元 row.
const DECIMALS: i32 = 4;

/// A zone's figures from its own stream of numbers.
pub fn zone_data(
    cat: &Catalogue,
    seed: u64,
    zone: usize,
    national: bool,
    last_year: i32,
) -> ZoneData {
    let mut rng = Rng::derive(seed, &[3, zone as u64]);
    let first = base_year(cat);
    let scale = rng.range(0.3, 3.0);
    let trend = rng.range(0.02, 0.14);
    let mut level: BTreeMap<&str, f64> = BTreeMap::new();
    for (code, base) in [
        ("A01", 80.0),
        ("A06", 12.0),
        ("A07", 10.0),
        ("A11", 2.0),
        ("A14", 200.0),
        ("A15", 20.0),
        ("A16", 10.0),
    ] {
        level.insert(code, base * scale * rng.range(0.7, 1.3));
    }
    let a02_per_a01 = rng.range(3.5, 4.5);
    let a05_per_a02 = rng.range(0.3, 0.5);
    let a10_per_a07 = rng.range(0.08, 0.2);
    let a13_per_a02 = rng.range(0.9, 1.05);
    let mut share: BTreeMap<&str, f64> = BTreeMap::from([
        ("A03", rng.range(0.35, 0.6)),
        ("A04", rng.range(0.55, 0.8)),
        ("A08", rng.range(0.55, 0.8)),
        ("A09", rng.range(0.4, 0.7)),
        ("A12", rng.range(0.01, 0.03)),
    ]);
    // The annual form's counts: stocks and their starting levels.
    let mut stock: BTreeMap<&str, f64> = BTreeMap::from([
        ("B03", (1 + rng.below(8)) as f64),
        ("B08", (5 + rng.below(36)) as f64),
        ("B10", rng.below(2) as f64),
        ("B11", rng.below(2) as f64),
    ]);
    stock.insert("B04", rng.below(stock["B03"] as u64 + 1).min(2) as f64);
    let mut national_now = national;
    let mut green = rng.chance(0.1);

    let mut out = ZoneData {
        annual: BTreeMap::new(),
        yes_no: BTreeMap::new(),
        cumulative: BTreeMap::new(),
    };
    let mut cum: BTreeMap<String, f64> = BTreeMap::new();
    for year in first..=last_year {
        if year > first {
            for (code, v) in level.iter_mut() {
                let g = trend + rng.range(-0.03, 0.03);
                // Counts grow too, but stay whole.
                *v *= 1.0 + g;
                if *code == "A14" {
                    *v = v.round();
                }
            }
            for s in share.values_mut() {
                *s = (*s * rng.range(0.97, 1.03)).min(0.95);
            }
        }
        let mut a = BTreeMap::new();
        let amount = |v: f64| round_to(v, DECIMALS);
        let a01 = level["A01"];
        let a02 = a01 * a02_per_a01;
        let a07 = level["A07"];
        let a08 = a07 * share["A08"];
        let a13 = a02 * a13_per_a02;
        a.insert("A01".into(), amount(a01));
        a.insert("A02".into(), amount(a02));
        a.insert("A03".into(), amount(a01 * share["A03"]));
        a.insert("A04".into(), amount(a02 * share["A04"]));
        a.insert("A05".into(), amount(a02 * a05_per_a02));
        a.insert("A06".into(), amount(level["A06"]));
        a.insert("A07".into(), amount(a07));
        a.insert("A08".into(), amount(a08));
        a.insert("A09".into(), amount(a08 * share["A09"]));
        a.insert("A10".into(), amount(a07 * a10_per_a07));
        a.insert("A11".into(), amount(level["A11"]));
        a.insert("A12".into(), amount(a13 * share["A12"]));
        a.insert("A13".into(), amount(a13));
        a.insert("A14".into(), level["A14"].round().max(120.0));
        a.insert("A15".into(), amount(level["A15"]));
        a.insert("A16".into(), amount(level["A16"]));

        // New in the year.
        let b01 = rng.below(3) as f64;
        let b02 = if b01 > 0.0 && rng.chance(0.3) {
            1.0
        } else {
            0.0
        };
        let new = [
            ("B01", b01),
            ("B02", b02),
            ("B05", rng.below(4) as f64),
            ("B06", rng.below(7) as f64),
            ("B07", rng.below(6) as f64),
            ("B09", (2 + rng.below(14)) as f64),
            ("B12", rng.below(3) as f64),
        ];
        if year > first {
            *stock.get_mut("B03").expect("B03") += rng.below(2) as f64;
            if rng.chance(0.2) && stock["B04"] < stock["B03"] {
                *stock.get_mut("B04").expect("B04") += 1.0;
            }
            *stock.get_mut("B08").expect("B08") += new[4].1;
            if rng.chance(0.15) {
                *stock.get_mut("B10").expect("B10") += 1.0;
            }
            if rng.chance(0.15) {
                *stock.get_mut("B11").expect("B11") += 1.0;
            }
            national_now |= rng.chance(0.05);
            green |= rng.chance(0.1);
        }
        for (code, v) in new {
            a.insert(code.to_string(), v);
            if year >= cat.plan.start.year {
                *cum.entry(code.to_string()).or_insert(0.0) += v;
            }
        }
        for (code, v) in &stock {
            a.insert(code.to_string(), *v);
        }
        out.annual.insert(year, a);
        out.yes_no.insert(
            year,
            BTreeMap::from([
                ("B13".to_string(), national_now),
                ("B14".to_string(), green),
            ]),
        );
        if year >= cat.plan.start.year {
            out.cumulative.insert(year, cum.clone());
        }
    }
    out
}

/// Year-to-date of a flow: the year's amount times months/12.
fn ytd(annual: f64, month: u32, whole: bool) -> f64 {
    let v = annual * f64::from(month) / 12.0;
    if whole {
        v.round()
    } else {
        round_to(v, DECIMALS)
    }
}

// ---------------------------------------------------------------------------
// Writing values the way zones write them
// ---------------------------------------------------------------------------

/// How a file writes its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumberStyle {
    /// Numbers stored as numbers.
    Plain,
    /// Some cells as text `1,234.5`.
    Commas,
    /// Some cells as full-width text `１２３．４`.
    FullWidth,
    /// Some cells as text with spaces ` 56.7 `.
    Spaces,
}

fn plain_text(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn with_commas(v: f64) -> String {
    let s = plain_text(v);
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i.to_string(), Some(f.to_string())),
        None => (s.clone(), None),
    };
    let digits: Vec<char> = int.chars().collect();
    let mut grouped = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(*c);
    }
    match frac {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    }
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
            '.' => '．',
            ',' => '，',
            _ => c,
        })
        .collect()
}

fn written(v: f64, style: NumberStyle, rng: &mut Rng) -> FillValue {
    if style == NumberStyle::Plain || rng.chance(0.5) {
        return FillValue::Number(v);
    }
    FillValue::Text(match style {
        NumberStyle::Commas => with_commas(v),
        NumberStyle::FullWidth => full_width(&plain_text(v)),
        NumberStyle::Spaces => format!(" {} ", plain_text(v)),
        NumberStyle::Plain => unreachable!(),
    })
}

/// The period text of a monthly form, in one of its spellings.
fn monthly_period_text(p: Period, rng: &mut Rng) -> String {
    let (y, m) = (p.year, p.month);
    if m == 1 {
        return rng.pick(&[format!("{y}年1月"), format!("{y}.1")]).clone();
    }
    rng.pick(&[
        format!("{y}年1-{m}月"),
        format!("{y}年1-{m}月"),
        format!("{y}年1—{m}月"),
        format!("{y}年1~{m}月"),
        format!("{y}年{m}月"),
        format!("{y}年1-{m}月份"),
        format!("{y}.{m}"),
    ])
    .clone()
}

fn reporter_text(z: &ZoneName, rng: &mut Rng) -> String {
    let spaced: String = {
        let chars: Vec<char> = z.short.chars().collect();
        let mut s: String = chars[..2].iter().collect();
        s.push(' ');
        s.extend(&chars[2..]);
        s
    };
    rng.pick(&[
        z.full.clone(),
        z.full.clone(),
        z.short.clone(),
        format!("{}管委会", z.short),
        format!("{}管理委员会", z.full),
        spaced,
        z.alias.clone(),
    ])
    .clone()
}

const NOTES: [&str; 4] = [
    "含新并入园区企业",
    "按可比口径调整",
    "数据来自税务部门",
    "快报数",
];

const INSTRUCTIONS: [&str; 5] = [
    "填表说明",
    "1. 请在黄色单元格内填报，其余单元格请勿改动。",
    "2. 金额类指标可按万元填报，请同时修改计量单位。",
    "3. 不适用的项目填“—”，未发生填 0。",
    "4. 如有疑问请联系市商务局统计科。",
];

/// One zone form's fill for a period: values from the zone's figures, written
/// in the file's style.
fn zone_fill(
    form: &Form,
    cat: &Catalogue,
    z: &ZoneName,
    d: &ZoneData,
    period: Period,
    rng: &mut Rng,
) -> Fill {
    let style = *rng.pick(&[
        NumberStyle::Plain,
        NumberStyle::Plain,
        NumberStyle::Plain,
        NumberStyle::Commas,
        NumberStyle::FullWidth,
        NumberStyle::Spaces,
    ]);
    let ten_thousands = rng.chance(0.2);
    let typed_growth = rng.chance(0.2);
    let mut fill = Fill {
        reporter: Some(reporter_text(z, rng)),
        period: Some(match form.frequency {
            Frequency::Monthly => monthly_period_text(period, rng),
            Frequency::Annual => rng
                .pick(&[format!("{}年", period.year), format!("{}年度", period.year)])
                .clone(),
        }),
        ..Fill::default()
    };
    let year = period.year;
    for ind in &form.indicators {
        let whole = ind.whole;
        let (current, prior): (Option<f64>, Option<f64>) = match ind.kind {
            Kind::YesNo => {
                let yes = d.yes_no[&year][&ind.code];
                let before = d.yes_no[&(year - 1)][&ind.code];
                let word = |b: bool| FillValue::Text(if b { "是" } else { "否" }.into());
                fill.values
                    .insert((ind.code.clone(), Role::Current), word(yes));
                fill.values
                    .insert((ind.code.clone(), Role::Prior), word(before));
                continue;
            }
            Kind::Flow => (
                Some(ytd(d.annual[&year][&ind.code], period.month, whole)),
                Some(ytd(d.annual[&(year - 1)][&ind.code], period.month, whole)),
            ),
            _ => (
                Some(d.annual[&year][&ind.code]),
                Some(d.annual[&(year - 1)][&ind.code]),
            ),
        };
        // Rows of amounts in 万元 / 万美元, values converted.
        let unit = cat.unit(&ind.unit);
        let big = unit.is_some_and(|u| u.factor >= 1e8);
        let factor = if ten_thousands && big && rng.chance(0.5) {
            fill.units
                .insert(ind.code.clone(), ind.unit.replace('亿', "万"));
            1e4
        } else {
            1.0
        };
        let shown = |v: f64| {
            if factor == 1.0 {
                v
            } else {
                (v * factor).round()
            }
        };
        if let Some(c) = current {
            let v = written(shown(c), style, rng);
            fill.values.insert((ind.code.clone(), Role::Current), v);
        }
        if let Some(p) = prior {
            let v = written(shown(p), style, rng);
            fill.values.insert((ind.code.clone(), Role::Prior), v);
        }
        if ind.kind == Kind::NewInYear {
            let c = d.cumulative[&year][&ind.code];
            let v = written(c, style, rng);
            fill.values.insert((ind.code.clone(), Role::Cumulative), v);
        }
        if typed_growth
            && ind.kind == Kind::Flow
            && form.columns.iter().any(|c| c.role == Role::ReportedGrowth)
            && let (Some(c), Some(p)) = (current, prior)
            && p > 0.0
        {
            let g = (c / p - 1.0) * 100.0;
            let v = if rng.chance(0.5) {
                FillValue::Text(format!("{g:.1}%"))
            } else {
                FillValue::Number(round_to(g, 1))
            };
            fill.typed_growth.insert(ind.code.clone(), v);
        }
        if rng.chance(0.03) {
            fill.notes
                .insert(ind.code.clone(), rng.pick(&NOTES).to_string());
        }
    }
    fill
}

/// The city bureau's reference values for a period. Each value is a function
/// of its year and month, so 上年同期 is what was reported a year earlier.
fn city_fill(form: &Form, seed: u64, period: Period, talents: &BTreeMap<i32, f64>) -> Fill {
    let value = |year: i32, row: usize, code: &str| -> f64 {
        let mut r = Rng::derive(seed, &[4, year as u64, u64::from(period.month), row as u64]);
        match code {
            "C01" => round_to(r.range(1.6, 2.4), 2),
            "C03" => round_to(r.range(40.0, 55.0), 2),
            // A city stock of talents larger than the zones' together.
            _ => (talents.get(&year).copied().unwrap_or(100.0) * 1.7).round(),
        }
    };
    let mut fill = Fill {
        reporter: Some("湖州市统计局".into()),
        period: Some(period.label()),
        ..Fill::default()
    };
    for (row, ind) in form.indicators.iter().enumerate() {
        for (role, year) in [(Role::Current, period.year), (Role::Prior, period.year - 1)] {
            fill.values.insert(
                (ind.code.clone(), role),
                FillValue::Number(value(year, row, &ind.code)),
            );
        }
    }
    fill
}

// ---------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------

/// A workbook to write: its folder, file name and the forms on it.
struct Job {
    period: Period,
    file: String,
    /// (form number, zone index or None for the city, sheet name)
    sheets: Vec<(String, Option<usize>, String)>,
    instructions: Option<bool>,
    seed: u64,
}

fn zone_file_name(z: &ZoneName, forms: &[&Form], period: Period, rng: &mut Rng) -> String {
    let numbers: Vec<&str> = forms.iter().map(|f| f.number.as_str()).collect();
    let (y, m) = (period.year, period.month);
    match rng.below(4) {
        0 => format!("{}-{}-{}.xlsx", numbers.join("+"), z.short, period),
        1 => format!("附件{}-{}{y}年{m}月.xlsx", rng.below(9) + 1, z.short),
        2 if forms.len() > 1 => format!("{}{y}年报表（月报+年报）.xlsx", z.short),
        2 => format!("{}{m}月报表.xlsx", z.short),
        _ => format!("{}_{}_{y}{m:02}.xlsx", z.code, numbers.join("_")),
    }
}

fn sheet_name_for(form: &Form, period: Period, z: Option<&ZoneName>, rng: &mut Rng) -> String {
    let mut names = vec![
        form.number.clone(),
        form.number.clone(),
        "Sheet1".to_string(),
    ];
    names.push(match form.frequency {
        Frequency::Monthly => format!("{}月", period.month),
        Frequency::Annual => format!("{}年报", period.year),
    });
    if let Some(z) = z {
        // 东阳开发区1表
        let tail: String = form
            .number
            .chars()
            .rev()
            .take(2)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        names.push(format!("{}{tail}", z.short));
    }
    rng.pick(&names).clone()
}

fn jobs(cat: &Catalogue, spec: &Spec, zones: &[ZoneName]) -> Vec<Job> {
    let mut out = Vec::new();
    let mut periods: Vec<Period> = (cat.plan.start.year..spec.period.year)
        .map(|y| Period { year: y, month: 12 })
        .collect();
    periods.push(spec.period);
    for (pi, &period) in periods.iter().enumerate() {
        let needed: Vec<&Form> = cat.forms_for(period).collect();
        let zone_forms: Vec<&Form> = needed
            .iter()
            .copied()
            .filter(|f| f.filled_by == FilledBy::Zone)
            .collect();
        for (i, z) in zones.iter().enumerate() {
            let mut rng = Rng::derive(spec.seed, &[5, pi as u64, i as u64]);
            // Monthly and annual forms in one workbook (most zones), or one each.
            let groups: Vec<Vec<&Form>> = if zone_forms.len() > 1 && rng.chance(0.9) {
                vec![zone_forms.clone()]
            } else {
                zone_forms.iter().map(|f| vec![*f]).collect()
            };
            for (gi, group) in groups.into_iter().enumerate() {
                let mut file = zone_file_name(z, &group, period, &mut rng);
                if gi > 0 {
                    // Distinct names for a zone's separate files.
                    file = file.replace(".xlsx", &format!("-{}.xlsx", gi + 1));
                }
                let mut sheets = Vec::new();
                for f in &group {
                    let mut name = sheet_name_for(f, period, Some(z), &mut rng);
                    if sheets
                        .iter()
                        .any(|(_, _, n): &(String, Option<usize>, String)| n == &name)
                    {
                        name = f.number.clone();
                    }
                    sheets.push((f.number.clone(), Some(i), name));
                }
                let instructions = rng.chance(0.15).then(|| rng.chance(0.5));
                out.push(Job {
                    period,
                    file,
                    sheets,
                    instructions,
                    seed: rng.next_u64(),
                });
            }
        }
        for f in needed.iter().filter(|f| f.filled_by == FilledBy::City) {
            out.push(Job {
                period,
                file: format!("{}-湖州市统计局-{}.xlsx", f.number, period),
                sheets: vec![(f.number.clone(), None, f.number.clone())],
                instructions: None,
                seed: Rng::derive(spec.seed, &[6, pi as u64]).next_u64(),
            });
        }
    }
    out
}

/// Writes `plan.toml` and `data/YYYY-MM/…` under `out`.
///
/// # Errors
/// An I/O error, or a workbook the writer could not build.
pub fn generate(
    spec: &Spec,
    out: &Path,
) -> Result<Written, Box<dyn std::error::Error + Send + Sync>> {
    let text = catalogue_text(spec.zones, spec.seed);
    let cat = Catalogue::parse(&text, "plan.toml")?;
    std::fs::create_dir_all(out)?;
    let catalogue = out.join("plan.toml");
    std::fs::write(&catalogue, &text)?;
    let data = out.join("data");
    let zones = zone_names(spec.zones, spec.seed);
    let last_year = spec.period.year;
    let figures: Vec<ZoneData> = (0..zones.len())
        .into_par_iter()
        .map(|i| zone_data(&cat, spec.seed, i, zones[i].national, last_year))
        .collect();
    // The zones' talent stock together, for the city's reference figure.
    let mut talents: BTreeMap<i32, f64> = BTreeMap::new();
    for d in &figures {
        for (y, a) in &d.annual {
            *talents.entry(*y).or_insert(0.0) += a["B08"];
        }
    }
    let jobs = jobs(&cat, spec, &zones);
    let mut folders: Vec<Period> = jobs.iter().map(|j| j.period).collect();
    folders.dedup();
    for p in &folders {
        std::fs::create_dir_all(data.join(p.to_string()))?;
    }
    let created = ExcelDateTime::from_timestamp(CREATED_UNIX)?;
    let sizes: Vec<u64> = jobs
        .par_iter()
        .map(
            |job| -> Result<u64, Box<dyn std::error::Error + Send + Sync>> {
                let mut rng = Rng::new(job.seed);
                let first = cat.form(&job.sheets[0].0).expect("catalogue form");
                let mut wb = new_workbook(&first.title, &created);
                if job.instructions == Some(true) {
                    add_text_sheet(&mut wb, "填表说明", &INSTRUCTIONS)?;
                }
                for (number, zone, sheet) in &job.sheets {
                    let form = cat.form(number).expect("catalogue form");
                    let fill = match zone {
                        Some(i) => {
                            zone_fill(form, &cat, &zones[*i], &figures[*i], job.period, &mut rng)
                        }
                        None => city_fill(form, spec.seed, job.period, &talents),
                    };
                    add_form_sheet(&mut wb, form, &cat, sheet, &fill, &[])?;
                }
                if job.instructions == Some(false) {
                    add_text_sheet(&mut wb, "填表说明", &INSTRUCTIONS)?;
                }
                let bytes = wb.save_to_buffer()?;
                std::fs::write(data.join(job.period.to_string()).join(&job.file), &bytes)?;
                Ok(bytes.len() as u64)
            },
        )
        .collect::<Result<_, _>>()?;
    // What else lands in a period folder: a lock file and a mail leftover.
    let folder = data.join(spec.period.to_string());
    std::fs::write(folder.join("~$汇总.xlsx"), b"\x00lock")?;
    std::fs::write(
        folder.join("邮件正文.txt"),
        "各开发区：请于次月10日前报送报表。\n".as_bytes(),
    )?;
    Ok(Written {
        catalogue,
        data,
        folders,
        workbooks: sizes.len(),
        other_files: 2,
        bytes: sizes.iter().sum(),
    })
}
