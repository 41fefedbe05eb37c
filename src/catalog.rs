//! The plan catalogue: zones, forms, indicators, units, ratios, targets, the
//! scoring scheme and the words of the forms and of the workbook's columns,
//! loaded from `templates/plan.toml` (or `--catalogue FILE`).
//! No zone, form, indicator or target is known to the program except through it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;
use crate::model::Period;
use crate::text::normalize_name;

/// The plan bundled with the program.
pub const BUNDLED: &str = include_str!("../templates/plan.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub plan: Plan,
    pub city: City,
    pub units: Vec<Unit>,
    pub zones: Vec<Zone>,
    pub forms: Vec<Form>,
    pub ratios: Vec<Ratio>,
    pub targets: Vec<Target>,
    pub scoring: Scoring,
    /// How much a workbook may ask of the reader; absent in older catalogues.
    #[serde(default)]
    pub limits: Limits,
    /// Thresholds of the plausibility checks across periods.
    #[serde(default)]
    pub checks: Checks,
    /// How the assessment workbook is laid out.
    #[serde(default)]
    pub report: ReportLayout,
    /// The words of the forms' layout (headers, head lines, yes and no).
    #[serde(default)]
    pub layout: FormWords,
    /// Lookups built once when the catalogue is loaded: every form names its
    /// reporter and units, and a catalogue may have a thousand zones.
    #[serde(skip)]
    index: Index,
}

/// The catalogue's names as [`normalize_name`] reduces them, and its zones
/// by code, so that reading a form never reduces a catalogue name again.
#[derive(Debug, Clone, Default)]
struct Index {
    /// 填报单位 keys → whom they name.
    reporters: HashMap<String, Reporter>,
    /// Unit names and aliases, reduced → position in `units`.
    units: HashMap<String, usize>,
    /// Zone codes → position in `zones`.
    zones: HashMap<String, usize>,
}

/// Thresholds of the cross-period and plausibility warnings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Checks {
    /// How far (in %) a 上年同期 value may differ from what the zone reported
    /// for that period last year.
    pub prior_tolerance_pct: f64,
    /// A growth rate beyond ± this (in %) is flagged for an explanation.
    pub growth_alert_pct: f64,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks {
            prior_tolerance_pct: 0.5,
            growth_alert_pct: 50.0,
        }
    }
}

/// The words the forms are laid out with, shared by the form reader
/// (`read/form.rs`), the template writer and validation. Where a list is
/// given, every spelling is read and the first is written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormWords {
    /// The header of the indicator name column (指标名称).
    pub name: Vec<String>,
    /// The header of the indicator code column (代码).
    pub code: Vec<String>,
    /// The header of the unit column (计量单位).
    pub unit: Vec<String>,
    /// The header of the remarks column (备注).
    pub note: Vec<String>,
    /// The header of the row number column the blank forms have (序号).
    pub serial: String,
    /// The head line naming the reporting unit (填报单位：…).
    pub reporter: String,
    /// The head line naming who issued the form (制定机关：…).
    pub issuer: String,
    /// The words a head line stating the period begins with (报告期, 时间 …).
    pub period: Vec<String>,
    /// The letters under the name, code and unit headers and under the
    /// remarks header (甲 乙 丙 … 丁); the value columns are numbered.
    pub letters: Vec<String>,
    /// How a yes/no indicator says yes (是, √) and no (否, ×).
    pub yes: Vec<String>,
    pub no: Vec<String>,
    /// Endings of a reporting unit's name that do not tell it apart
    /// (管理委员会, 管委会): 湖州开发区管委会 is 湖州开发区.
    pub reporter_suffixes: Vec<String>,
}

impl Default for FormWords {
    fn default() -> FormWords {
        let v = |words: &[&str]| words.iter().map(|w| w.to_string()).collect();
        FormWords {
            name: v(&["指标名称", "指标", "项目"]),
            code: v(&["代码", "指标代码"]),
            unit: v(&["计量单位", "单位"]),
            note: v(&["备注"]),
            serial: "序号".into(),
            reporter: "填报单位".into(),
            issuer: "制定机关".into(),
            period: v(&["报告期", "时间", "期别"]),
            letters: v(&["甲", "乙", "丙", "丁"]),
            yes: v(&["是", "√"]),
            no: v(&["否", "×"]),
            reporter_suffixes: v(&["管理委员会", "管委会"]),
        }
    }
}

impl FormWords {
    /// Every word is there and written as the reader compares it (no spaces,
    /// half-width): a form is read by these words, so a wrong one would make
    /// every form unreadable.
    fn check(&self) -> Result<(), String> {
        let lists: [(&str, &[String]); 8] = [
            ("name", &self.name),
            ("code", &self.code),
            ("unit", &self.unit),
            ("note", &self.note),
            ("period", &self.period),
            ("yes", &self.yes),
            ("no", &self.no),
            ("reporter_suffixes", &self.reporter_suffixes),
        ];
        for (key, words) in lists {
            if words.is_empty() {
                return Err(format!("layout.{key}：至少要写一种写法"));
            }
        }
        if self.letters.len() != 4 {
            return Err(
                "layout.letters：应写四个字，依次标在指标名称、代码、计量单位和备注列下（如 甲 乙 丙 丁）"
                    .into(),
            );
        }
        let singles = [
            ("serial", &self.serial),
            ("reporter", &self.reporter),
            ("issuer", &self.issuer),
        ];
        let all = lists
            .iter()
            .flat_map(|(key, words)| words.iter().map(move |w| (*key, w)))
            .chain(singles.iter().map(|(key, w)| (*key, *w)));
        for (key, w) in all {
            let n = normalize_name(w);
            if n.is_empty() || n != *w {
                return Err(format!(
                    "layout.{key}：“{w}”应写成“{n}”（不含空格，字母和标点用半角）"
                ));
            }
        }
        Ok(())
    }
}

/// How the assessment workbook is laid out.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportLayout {
    /// The most zones that get a sheet each; with more, 分区对比, 目标考核,
    /// 综合评价 and 数据问题 cover them all and there is no sheet a zone.
    pub zone_sheets_max: usize,
    /// The office that compiles and signs the workbook (编制单位), printed on
    /// the cover and stored as the file's author.
    pub office: String,
    /// The signature block of the cover, one label a blank to sign or fill
    /// in by hand (审核人, 制表人, 报出日期 …).
    pub signature: Vec<String>,
    /// The fonts of the blank forms and feedback workbooks: body text and
    /// titles. (The assessment workbook keeps 宋体 and 黑体: its layout
    /// measures their widths, `report/layout.rs`.)
    pub font: String,
    pub title_font: String,
    /// The indicator whose growth the first chart (图表) shows, zone by zone:
    /// the measure of a growth target; empty: the first growth target's.
    pub chart_growth: String,
    /// The column headers of the workbook's tables (`[report.columns]`).
    pub columns: ReportColumns,
}

impl Default for ReportLayout {
    fn default() -> ReportLayout {
        ReportLayout {
            zone_sheets_max: 30,
            office: String::new(),
            signature: Vec::new(),
            font: "宋体".into(),
            title_font: "黑体".into(),
            chart_growth: String::new(),
            columns: ReportColumns::default(),
        }
    }
}

/// Declares the column labels once: each key, what it heads and its bundled
/// word make the field, its default and its entry in [`ReportColumns::labels`],
/// so that the check cannot miss a key.
macro_rules! report_columns {
    ($($(#[doc = $doc:literal])+ $key:ident = $word:literal,)+) => {
        /// The column headers of the assessment workbook's tables, one key a
        /// label: a label several sheets share is one key. Every key may be
        /// left out (the bundled words are the defaults); none may be empty.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct ReportColumns {
            $($(#[doc = $doc])+ pub $key: String,)+
        }

        impl Default for ReportColumns {
            fn default() -> ReportColumns {
                ReportColumns {
                    $($key: $word.into(),)+
                }
            }
        }

        impl ReportColumns {
            /// Every label with its key.
            fn labels(&self) -> Vec<(&'static str, &str)> {
                vec![$((stringify!($key), self.$key.as_str()),)+]
            }
        }
    };
}

report_columns! {
    /// Indicator code (全市汇总, 各开发区, 分区对比).
    code = "代码",
    /// Indicator name; in 数据问题 the indicator a finding is about.
    indicator = "指标",
    /// Unit of measure.
    unit = "单位",
    /// This period's value.
    current = "本期",
    /// The value of the same period last year.
    prior = "上年同期",
    /// Growth on last year, in %.
    growth = "同比增长(%)",
    /// The total since the plan began, written after its first year
    /// (`2017年以来累计`); annual runs only.
    since_start = "年以来累计",
    /// Indicator name on the statistics bureau's form (全市汇总).
    name = "名称",
    /// The change of a reference value on last year (全市汇总).
    change = "增减",
    /// Ratio or target id.
    id = "编号",
    /// Ratio name.
    ratio = "比重",
    /// The change of a ratio on last year, in percentage points.
    ratio_change = "增减(百分点)",
    /// The city column of 分区对比.
    city_total = "全市合计",
    /// What the unit column of 分区对比 says on the rows of ranks.
    rank_unit = "名次",
    /// The target as the plan words it.
    target_text = "目标（计划原文）",
    /// The target in the charts' tables: which one, or its value beside the
    /// average growth.
    target = "目标",
    /// The target's value.
    target_value = "目标值",
    /// The value achieved.
    actual = "实际值",
    /// Whom a row of 目标考核 is about: a zone or the city.
    scope = "范围",
    /// Completion, in % of the target.
    completion = "完成率(%)",
    /// Time elapsed, in % of the target's time.
    schedule = "时间进度(%)",
    /// The average growth behind an average-growth target (图表).
    average_growth = "年均增长",
    /// A target's, form's or file's status.
    status = "状态",
    /// The remarks column.
    note = "说明",
    /// The reporting unit (封面, 来源清单).
    reporter = "填报单位",
    /// The form (封面, 来源清单).
    form = "报表",
    /// How many targets have a status (封面).
    target_count = "目标数",
    /// The ids of those targets (封面).
    target_ids = "目标编号",
    /// A zone's place in the 综合评价.
    rank = "排名",
    /// The zone (综合评价, 数据问题).
    zone = "开发区",
    /// A zone's total score.
    total = "总分",
    /// The row labels of the table of measures (综合评价).
    item = "项目",
    /// Row number (数据问题).
    serial = "序号",
    /// Error, warning or note.
    severity = "级别",
    /// What rule a finding breaks.
    problem = "问题",
    /// A finding's message and where it is (each zone's sheet).
    note_and_place = "说明及位置",
    /// The file (数据问题, 来源清单).
    file = "文件",
    /// The sheet of a workbook (数据问题, 来源清单).
    sheet = "工作表",
    /// A cell's address (数据问题).
    cell = "单元格",
    /// A finding's rule id (数据问题).
    rule = "规则代码",
    /// A file's SHA-256 checksum (来源清单).
    sha256 = "SHA-256",
}

impl ReportColumns {
    /// Every label has a word: an empty one would leave a column unnamed.
    fn check(&self) -> Result<(), String> {
        match self.labels().into_iter().find(|(_, w)| w.trim().is_empty()) {
            Some((key, _)) => Err(format!("report.columns.{key}：列标题不能为空")),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub document: String,
    pub name: String,
    pub report_title: String,
    pub report_file: String,
    #[serde(deserialize_with = "de_period")]
    pub start: Period,
    #[serde(deserialize_with = "de_period")]
    pub end: Period,
    /// The signature line printed under every form.
    #[serde(default)]
    pub signature: String,
    /// The mail's subject, before the period in brackets; empty: the
    /// workbook's title.
    #[serde(default)]
    pub mail_subject: String,
}

impl Plan {
    /// The mail's subject before the period: `mail_subject`, else the title.
    pub fn mail_subject(&self) -> &str {
        if self.mail_subject.is_empty() {
            &self.report_title
        } else {
            &self.mail_subject
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct City {
    pub name: String,
    pub reporter: String,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    pub name: String,
    pub dimension: String,
    pub factor: f64,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Zone {
    pub code: String,
    pub short: String,
    pub full: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub level_at_start: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Monthly,
    Annual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilledBy {
    Zone,
    City,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Current,
    Prior,
    Cumulative,
    ReportedGrowth,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub role: Role,
    pub label: String,
    pub headers: Vec<String>,
    /// `headers`, reduced by [`normalize_name`].
    #[serde(skip)]
    header_keys: Vec<String>,
}

impl Column {
    /// Whether a header text, reduced by [`normalize_name`], names this column.
    pub fn is_named(&self, key: &str) -> bool {
        self.header_keys.iter().any(|h| h == key)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    pub number: String,
    pub title: String,
    pub frequency: Frequency,
    pub filled_by: FilledBy,
    /// 制定机关, printed under the form number.
    #[serde(default)]
    pub issuer: String,
    /// The 说明 line at the foot of the form.
    #[serde(default)]
    pub notes: String,
    pub columns: Vec<Column>,
    pub indicators: Vec<Indicator>,
    /// `number` and `title`, reduced by [`normalize_name`].
    #[serde(skip)]
    keys: (String, String),
}

impl Form {
    /// The period as the zones write it on this form: `2020年1-6月` for a
    /// monthly form, `2020年` for an annual one.
    pub fn period_text(&self, period: Period) -> String {
        match self.frequency {
            Frequency::Annual => format!("{}年", period.year),
            Frequency::Monthly => period.label(),
        }
    }

    /// The label of the value column of `role`; empty when the form has none.
    pub fn column_label(&self, role: Role) -> &str {
        self.columns
            .iter()
            .find(|c| c.role == role)
            .map_or("", |c| c.label.as_str())
    }
}

impl Form {
    /// The form number as [`normalize_name`] reduces it.
    pub fn number_key(&self) -> &str {
        &self.keys.0
    }

    /// The title as [`normalize_name`] reduces it.
    pub fn title_key(&self) -> &str {
        &self.keys.1
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Flow,
    NewInYear,
    Stock,
    YesNo,
    Reference,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicator {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub kind: Kind,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub non_negative: bool,
    #[serde(default)]
    pub whole: bool,
    #[serde(default)]
    pub part_of: Option<String>,
    #[serde(default)]
    pub cumulative_required: bool,
    /// `code` and `name`, reduced by [`normalize_name`].
    #[serde(skip)]
    keys: (String, String),
}

impl Indicator {
    /// The code as [`normalize_name`] reduces it.
    pub fn code_key(&self) -> &str {
        &self.keys.0
    }

    /// The name as [`normalize_name`] reduces it.
    pub fn name_key(&self) -> &str {
        &self.keys.1
    }

    /// The name without a leading `其中：`, for tables.
    pub fn short_name(&self) -> &str {
        self.name
            .strip_prefix("其中：")
            .or_else(|| self.name.strip_prefix("其中:"))
            .unwrap_or(&self.name)
    }

    pub fn is_count(&self, cat: &Catalogue) -> bool {
        cat.unit(&self.unit).is_some_and(|u| u.dimension == "计数")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioScope {
    #[default]
    All,
    City,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    pub id: String,
    pub name: String,
    pub numerator: Vec<String>,
    pub denominator: Vec<String>,
    #[serde(default)]
    pub scope: RatioScope,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetScope {
    City,
    EachZone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Growth,
    AnnualTotal,
    DeadlineTotal,
    PlanCumulative,
    Stock,
    Ratio,
    AboveCity,
    ZoneCount,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    Level,
    Change,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: String,
    pub text: String,
    pub scope: TargetScope,
    pub measure: String,
    pub kind: TargetKind,
    pub value: f64,
    pub unit: String,
    #[serde(default)]
    pub deadline: Option<i32>,
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub compare: Option<Compare>,
    #[serde(default)]
    pub exclude_level: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    pub name: String,
    pub cap: f64,
    pub measures: Vec<ScoreMeasure>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreMeasure {
    pub source: String,
    pub label: String,
    pub target: f64,
    pub weight: f64,
}

/// Limits on what one input file may ask of the reader, checked before and
/// while it is parsed; the worker process that parses it runs under the
/// memory, CPU and time limits. Each has a default, so `[limits]` and any of
/// its keys may be left out. Sizes are in MiB (1 MiB = 1,048,576 bytes).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The largest file read at all.
    pub max_file_mb: u64,
    /// The most a workbook may expand to: for an xlsx/ods package the total
    /// uncompressed size of its parts; for an xls the text it holds.
    pub max_unzipped_mb: u64,
    /// The highest compression ratio of a package part larger than 10 MiB
    /// uncompressed (a "zip bomb" is a small file that inflates enormously).
    pub max_compression_ratio: u64,
    /// The most parts (files) a package may hold.
    pub max_zip_entries: u64,
    /// Rows read from each sheet, counted from row 1; cells below are counted
    /// and reported, not read.
    pub max_rows: u32,
    /// Columns read from each sheet, counted from column A.
    pub max_columns: u32,
    /// The most cells a workbook may hold once read. For xls and ods this is the
    /// rectangular range the parser allocates, empty cells included.
    pub max_cells: u64,
    /// No longer checked (calamine's XML reader keeps no stack per level);
    /// accepted so that older catalogues still load.
    pub max_xml_depth: u32,
    /// The most sheets a workbook may have (each may hold a form, and every
    /// form read is held until the run ends).
    pub max_sheets: u64,
    /// The characters kept of one text cell; a longer text is cut (with a
    /// warning). Excel itself allows 32,767.
    pub max_cell_chars: u64,
    /// The text all kept cells of a workbook may hold together, in MiB.
    pub max_text_mb: u64,
    /// The memory (address space) of a worker process reading a file.
    pub max_memory_mb: u64,
    /// The CPU time a worker may spend on one file, in seconds.
    pub max_cpu_seconds: u64,
    /// The wall-clock time one file may take in a worker, in seconds.
    pub deadline_seconds: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_mb: 50,
            max_unzipped_mb: 100,
            max_compression_ratio: 100,
            max_zip_entries: 10_000,
            max_rows: 1_000,
            max_columns: 100,
            max_cells: 1_000_000,
            max_xml_depth: 100,
            max_sheets: 100,
            max_cell_chars: 32_767,
            max_text_mb: 16,
            max_memory_mb: 180,
            max_cpu_seconds: 10,
            deadline_seconds: 20,
        }
    }
}

impl Limits {
    pub const MIB: u64 = 1 << 20;

    pub fn max_file_bytes(&self) -> u64 {
        self.max_file_mb.saturating_mul(Limits::MIB)
    }

    pub fn max_unzipped_bytes(&self) -> u64 {
        self.max_unzipped_mb.saturating_mul(Limits::MIB)
    }

    fn check(&self) -> Result<(), String> {
        let fields = [
            ("max_file_mb", self.max_file_mb),
            ("max_unzipped_mb", self.max_unzipped_mb),
            ("max_compression_ratio", self.max_compression_ratio),
            ("max_zip_entries", self.max_zip_entries),
            ("max_rows", u64::from(self.max_rows)),
            ("max_columns", u64::from(self.max_columns)),
            ("max_cells", self.max_cells),
            ("max_xml_depth", u64::from(self.max_xml_depth)),
            ("max_sheets", self.max_sheets),
            ("max_cell_chars", self.max_cell_chars),
            ("max_text_mb", self.max_text_mb),
            ("max_memory_mb", self.max_memory_mb),
            ("max_cpu_seconds", self.max_cpu_seconds),
            ("deadline_seconds", self.deadline_seconds),
        ];
        match fields.iter().find(|(_, v)| *v == 0) {
            Some((name, _)) => Err(format!("limits.{name}：必须大于 0")),
            None => Ok(()),
        }
    }
}

fn de_period<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Period, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// What a name written on a form (填报单位) stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reporter {
    Zone(String),
    City,
}

impl Catalogue {
    /// The bundled plan.
    pub fn bundled() -> Catalogue {
        Catalogue::parse(BUNDLED, "templates/plan.toml").expect("the bundled catalogue is valid")
    }

    /// Loads and checks a catalogue file.
    ///
    /// # Errors
    /// [`Error::Catalogue`] naming the file, the key and what is wrong.
    pub fn load(path: &Path) -> Result<Catalogue, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Catalogue {
            file: path.display().to_string(),
            message: format!("无法读取：{}", crate::error::io_message(&e)),
        })?;
        Catalogue::parse(&text, &path.display().to_string())
    }

    /// Parses and checks catalogue text; `file` names it in errors.
    ///
    /// # Errors
    /// [`Error::Catalogue`] on a syntax error, an unknown or missing key, or a
    /// reference to an unknown zone, indicator, unit or ratio.
    pub fn parse(text: &str, file: &str) -> Result<Catalogue, Error> {
        let err = |message: String| Error::Catalogue {
            file: file.to_string(),
            message,
        };
        let mut cat: Catalogue =
            toml::from_str(text).map_err(|e| err(crate::error::toml_message(text, &e)))?;
        cat.build_index();
        cat.check().map_err(err)?;
        Ok(cat)
    }

    /// Fills the lookups and the reduced names. The first zone or unit with a
    /// name wins, and any zone before the city.
    fn build_index(&mut self) {
        for f in &mut self.forms {
            f.keys = (normalize_name(&f.number), normalize_name(&f.title));
            for c in &mut f.columns {
                c.header_keys = c.headers.iter().map(|h| normalize_name(h)).collect();
            }
            for i in &mut f.indicators {
                i.keys = (normalize_name(&i.code), normalize_name(&i.name));
            }
        }
        let mut index = Index::default();
        for (at, u) in self.units.iter().enumerate() {
            for n in [&u.name].into_iter().chain(&u.aliases) {
                index.units.entry(normalize_name(n)).or_insert(at);
            }
        }
        for (at, z) in self.zones.iter().enumerate() {
            index.zones.entry(z.code.clone()).or_insert(at);
            for n in [&z.full, &z.short].into_iter().chain(&z.aliases) {
                index
                    .reporters
                    .entry(reporter_key(n, &self.layout.reporter_suffixes))
                    .or_insert_with(|| Reporter::Zone(z.code.clone()));
            }
        }
        for n in [&self.city.reporter].into_iter().chain(&self.city.aliases) {
            index
                .reporters
                .entry(reporter_key(n, &self.layout.reporter_suffixes))
                .or_insert(Reporter::City);
        }
        self.index = index;
    }

    /// Every number is finite (a `nan` or `inf` target would be compared as
    /// if it were a number), named by its key.
    fn check_numbers(&self) -> Result<(), String> {
        let mut numbers: Vec<(String, f64)> = vec![
            (
                "checks.prior_tolerance_pct".into(),
                self.checks.prior_tolerance_pct,
            ),
            (
                "checks.growth_alert_pct".into(),
                self.checks.growth_alert_pct,
            ),
            ("scoring.cap".into(), self.scoring.cap),
        ];
        for u in &self.units {
            numbers.push((format!("units（{}）.factor", u.name), u.factor));
        }
        for t in &self.targets {
            numbers.push((format!("targets（{}）.value", t.id), t.value));
        }
        for m in &self.scoring.measures {
            numbers.push((format!("scoring.measures（{}）.target", m.source), m.target));
            numbers.push((format!("scoring.measures（{}）.weight", m.source), m.weight));
        }
        match numbers.iter().find(|(_, v)| !v.is_finite()) {
            Some((key, v)) => Err(format!("{key}：“{v}”不是有限的数值，请写一个普通数字")),
            None => Ok(()),
        }
    }

    /// Ids that name one thing each: zone codes and short names, indicator
    /// codes (checked with the forms), ratio ids, target ids.
    fn check_unique(&self) -> Result<(), String> {
        fn once<'a>(
            key: &str,
            what: &str,
            ids: impl IntoIterator<Item = &'a String>,
        ) -> Result<(), String> {
            let mut seen = HashSet::new();
            for id in ids {
                if id.trim().is_empty() {
                    return Err(format!("{key}：{what}不能为空"));
                }
                if !seen.insert(id.as_str()) {
                    return Err(format!("{key}：{what}“{id}”重复"));
                }
            }
            Ok(())
        }
        once(
            "zones.code",
            "开发区代码",
            self.zones.iter().map(|z| &z.code),
        )?;
        once(
            "zones.short",
            "开发区简称",
            self.zones.iter().map(|z| &z.short),
        )?;
        once("ratios.id", "比重编号", self.ratios.iter().map(|r| &r.id))?;
        once("targets.id", "目标编号", self.targets.iter().map(|t| &t.id))?;
        for r in &self.ratios {
            if r.numerator.is_empty() {
                return Err(format!("ratios（{}）.numerator：分子不能为空", r.id));
            }
            if r.denominator.is_empty() {
                return Err(format!("ratios（{}）.denominator：分母不能为空", r.id));
            }
        }
        Ok(())
    }

    /// Cross-checks references inside the catalogue.
    fn check(&self) -> Result<(), String> {
        self.check_numbers()?;
        self.layout.check()?;
        self.report.columns.check()?;
        let chart = &self.report.chart_growth;
        if !chart.is_empty()
            && !self
                .targets
                .iter()
                .any(|t| t.kind == TargetKind::Growth && t.measure == *chart)
        {
            return Err(format!(
                "report.chart_growth：“{chart}”不是任何增长目标（kind = \"growth\"）的 measure"
            ));
        }
        for u in &self.units {
            if u.factor <= 0.0 {
                return Err(format!("units：单位“{}”的 factor 必须大于 0", u.name));
            }
        }
        if self.zones.is_empty() {
            return Err("zones：至少要有一个开发区".into());
        }
        self.check_unique()?;
        let mut codes = HashMap::new();
        for f in &self.forms {
            if !f.columns.iter().any(|c| c.role == Role::Current) {
                return Err(format!(
                    "forms（{}）.columns：缺少 role = \"current\" 的列",
                    f.number
                ));
            }
            for i in &f.indicators {
                if codes.insert(i.code.clone(), f.number.clone()).is_some() {
                    return Err(format!(
                        "forms（{}）.indicators.code：指标代码“{}”重复",
                        f.number, i.code
                    ));
                }
                if self.unit(&i.unit).is_none() {
                    return Err(format!(
                        "forms（{}）.indicators（{}）.unit：未知单位“{}”，应为 units 中的一个",
                        f.number, i.code, i.unit
                    ));
                }
            }
            for i in &f.indicators {
                if let Some(p) = &i.part_of
                    && !f.indicators.iter().any(|j| &j.code == p)
                {
                    return Err(format!(
                        "forms（{}）.indicators（{}）.part_of：“{}”不是本表的指标",
                        f.number, i.code, p
                    ));
                }
            }
        }
        for r in &self.ratios {
            for c in r.numerator.iter().chain(&r.denominator) {
                if !codes.contains_key(c) {
                    return Err(format!("ratios（{}）：未知指标代码“{}”", r.id, c));
                }
            }
        }
        for t in &self.targets {
            let known = codes.contains_key(&t.measure) || self.ratio(&t.measure).is_some();
            if !known {
                return Err(format!(
                    "targets（{}）.measure：未知指标或比重“{}”",
                    t.id, t.measure
                ));
            }
            if let Some(r) = &t.reference
                && !codes.contains_key(r)
            {
                return Err(format!(
                    "targets（{}）.reference：未知指标代码“{}”",
                    t.id, r
                ));
            }
            if t.kind == TargetKind::AboveCity && (t.reference.is_none() || t.compare.is_none()) {
                return Err(format!(
                    "targets（{}）：above_city 目标需要 reference 和 compare",
                    t.id
                ));
            }
            if t.kind == TargetKind::DeadlineTotal && t.deadline.is_none() {
                return Err(format!(
                    "targets（{}）：deadline_total 目标需要 deadline",
                    t.id
                ));
            }
        }
        for m in &self.scoring.measures {
            let (what, code) = m.source.split_once(':').unwrap_or(("", ""));
            let ok = match what {
                "growth" | "value" => codes.contains_key(code),
                "ratio" | "ratio_change" => self.ratio(code).is_some(),
                _ => false,
            };
            if !ok {
                return Err(format!(
                    "scoring.measures.source：“{}”无效，应为 growth:代码、value:代码、ratio:比重 或 ratio_change:比重",
                    m.source
                ));
            }
        }
        self.limits.check()?;
        if self.plan.end < self.plan.start {
            return Err("plan.end：计划结束早于开始".into());
        }
        Ok(())
    }

    pub fn zone(&self, code: &str) -> Option<&Zone> {
        self.index.zones.get(code).map(|&at| &self.zones[at])
    }

    /// A zone's short name (湖州开发区); the code itself when no zone has it.
    pub fn zone_short(&self, code: &str) -> String {
        self.zone(code)
            .map_or(code.to_string(), |z| z.short.clone())
    }

    pub fn form(&self, number: &str) -> Option<&Form> {
        self.forms.iter().find(|f| f.number == number)
    }

    pub fn ratio(&self, id: &str) -> Option<&Ratio> {
        self.ratios.iter().find(|r| r.id == id)
    }

    pub fn unit(&self, name: &str) -> Option<&Unit> {
        // Names already in reduced form (the catalogue's own) skip reducing.
        let units = &self.index.units;
        units
            .get(name)
            .or_else(|| units.get(&normalize_name(name)))
            .map(|&at| &self.units[at])
    }

    /// The indicator with this code and the form it is on.
    pub fn indicator(&self, code: &str) -> Option<(&Form, &Indicator)> {
        self.forms
            .iter()
            .find_map(|f| f.indicators.iter().find(|i| i.code == code).map(|i| (f, i)))
    }

    /// Every indicator, in form order.
    pub fn indicators(&self) -> impl Iterator<Item = (&Form, &Indicator)> {
        self.forms
            .iter()
            .flat_map(|f| f.indicators.iter().map(move |i| (f, i)))
    }

    /// The forms a run for `period` needs: monthly forms always, annual forms
    /// in December.
    pub fn forms_for(&self, period: Period) -> impl Iterator<Item = &Form> {
        self.forms
            .iter()
            .filter(move |f| f.frequency == Frequency::Monthly || period.is_december())
    }

    /// Who a 填报单位 text names: a zone (by full or short name or an alias,
    /// ignoring spaces, punctuation width and a trailing 管委会 / 管理委员会) or
    /// the city statistics bureau.
    pub fn reporter(&self, written: &str) -> Option<Reporter> {
        let key = reporter_key(written, &self.layout.reporter_suffixes);
        if key.is_empty() {
            return None;
        }
        self.index.reporters.get(&key).cloned()
    }

    /// The forms a target's data come from.
    pub fn target_forms(&self, t: &Target) -> Vec<&Form> {
        let mut codes = Vec::new();
        match self.ratio(&t.measure) {
            Some(r) => codes.extend(r.numerator.iter().chain(&r.denominator)),
            None => codes.push(&t.measure),
        }
        codes.extend(&t.reference);
        let mut forms: Vec<&Form> = Vec::new();
        for c in codes {
            if let Some((f, _)) = self.indicator(c)
                && !forms.iter().any(|g| g.number == f.number)
            {
                forms.push(f);
            }
        }
        forms
    }

    /// Whether a target is assessed in a monthly run: all its data come from
    /// monthly forms.
    pub fn target_is_monthly(&self, t: &Target) -> bool {
        self.target_forms(t)
            .iter()
            .all(|f| f.frequency == Frequency::Monthly)
    }

    /// The period examples use: June of the plan's last year.
    pub fn example_period(&self) -> Period {
        Period {
            year: self.plan.end.year,
            month: 6,
        }
    }

    /// Months in the plan, e.g. 48 for 2017-01..2020-12.
    pub fn plan_months(&self) -> i64 {
        self.plan.end.months_since(self.plan.start)
    }
}

/// A 填报单位 reduced for comparison.
fn reporter_key(s: &str, suffixes: &[String]) -> String {
    let mut n = normalize_name(s);
    for suffix in suffixes {
        if let Some(stripped) = n.strip_suffix(suffix) {
            n = stripped.to_string();
        }
    }
    n.chars()
        .filter(|c| !matches!(c, '(' | ')' | '·' | '.' | ',' | '、' | '-'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_catalogue_loads() {
        let c = Catalogue::bundled();
        assert_eq!(c.zones.len(), 5);
        assert_eq!(c.forms.len(), 3);
        assert_eq!(c.targets.len(), 27);
        assert_eq!(c.plan_months(), 48);
    }

    #[test]
    fn zone_names_in_every_spelling() {
        let c = Catalogue::bundled();
        for written in [
            "长兴开发区管委会",
            "长兴经济技术开发区",
            " 长兴 开发区 ",
            "长兴开发区管理委员会",
        ] {
            assert_eq!(
                c.reporter(written),
                Some(Reporter::Zone("CX".into())),
                "{written}"
            );
        }
        assert_eq!(c.reporter("湖州市统计局"), Some(Reporter::City));
        assert_eq!(c.reporter("德清开发区"), None);
    }

    #[test]
    fn monthly_targets_are_derived_from_their_forms() {
        let c = Catalogue::bundled();
        let monthly: Vec<&str> = c
            .targets
            .iter()
            .filter(|t| c.target_is_monthly(t))
            .map(|t| t.id.as_str())
            .collect();
        assert_eq!(
            monthly,
            [
                "T01", "T02", "T03", "T04", "T10", "T12", "T13", "T18", "T19", "T21", "T25", "T26"
            ]
        );
    }

    #[test]
    fn limits_default_when_absent_and_are_checked() {
        let c = Catalogue::bundled();
        assert_eq!(c.limits, Limits::default());
        let start = BUNDLED.find("[limits]").expect("bundled [limits]");
        let without = &BUNDLED[..start];
        assert_eq!(
            Catalogue::parse(without, "old.toml").unwrap().limits,
            Limits::default()
        );
        let some = format!("{without}\n[limits]\nmax_rows = 50\n");
        let c = Catalogue::parse(&some, "x.toml").unwrap();
        assert_eq!((c.limits.max_rows, c.limits.max_file_mb), (50, 50));
        let e = Catalogue::parse(&format!("{without}\n[limits]\nmax_cells = 0\n"), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("limits.max_cells"), "{e}");
        let e = Catalogue::parse(&format!("{without}\n[limits]\nmax_pages = 3\n"), "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_pages"), "{e}");
    }

    #[test]
    fn malformed_catalogue_names_file_and_key() {
        let text = BUNDLED.replace("unit = \"亿美元\", kind = \"flow\", required = true, non_negative = true, part_of = \"A07\"", "unit = \"亿卢布\", kind = \"flow\"");
        let e = Catalogue::parse(&text, "my.toml").unwrap_err().to_string();
        assert!(
            e.contains("my.toml") && e.contains("A08") && e.contains("亿卢布"),
            "{e}"
        );
        let e = Catalogue::parse("[plan]\nnme = 1", "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("x.toml") && e.contains("nme"), "{e}");
    }
}
