//! `zonestat init` and `zonestat run`: the clerk's routine in one command —
//! intake → who has reported → consolidate the period → workbook, summary and
//! feedback in the output folder.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::aggregate::FormState;
pub use crate::archive::latest_period;
use crate::catalog::Catalogue;
use crate::consolidate::{
    Consolidation, WORKBOOK_SHA256, consolidate, default_report_name, summary_json,
};
use crate::error::Error;
use crate::intake::{IntakeOptions, IntakeReport, intake};
use crate::model::Period;
use crate::output::write_atomic;
use crate::read::sha256_hex;
use crate::settings::{FILE_NAME, Settings, TEMPLATE};
use crate::status::StatusTable;

/// Writes a commented `zonestat.toml` and the folders it names into `dir`.
/// An existing settings file is kept.
///
/// # Errors
/// [`Error::Output`] when a folder or the file cannot be made.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let err = |p: &Path| {
        let p = p.display().to_string();
        move |e: std::io::Error| Error::Output {
            path: p.clone(),
            message: crate::error::io_message(&e),
        }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let mut made = Vec::new();
    let file = dir.join(FILE_NAME);
    if !file.exists() {
        write_atomic(&file, TEMPLATE.as_bytes())?;
        made.push(file);
    }
    let s = Settings::load(dir)?;
    for folder in [&s.data, &s.inbox, &s.output] {
        if !folder.exists() {
            std::fs::create_dir_all(folder).map_err(err(folder))?;
            made.push(folder.clone());
        }
    }
    Ok(made)
}

/// What `run` did.
#[derive(Debug)]
pub struct RunOutcome {
    pub intake: IntakeReport,
    pub status: StatusTable,
    pub consolidation: Consolidation,
    pub workbook: PathBuf,
    pub summary: PathBuf,
    pub feedback: Vec<PathBuf>,
}

impl RunOutcome {
    /// The forms a zone sent again with errors (held in the inbox) while an
    /// earlier copy is filed and used: the run is not whole although every
    /// zone counts as reported.
    pub fn rejected_corrections(&self, cat: &Catalogue) -> Vec<String> {
        let c = &self.consolidation;
        self.intake
            .entries
            .iter()
            .filter(|e| e.action == crate::intake::Action::Held && e.period == Some(c.period))
            .filter_map(|e| {
                let code = e.zone.as_deref()?;
                let zone = c.figures.zone(code)?;
                let used: Vec<&str> = e
                    .form
                    .as_deref()?
                    .split('+')
                    .filter(|f| {
                        zone.forms
                            .iter()
                            .any(|(form, st)| form == f && *st == FormState::Accepted)
                    })
                    .collect();
                (!used.is_empty()).then(|| {
                    let short = cat.zone(code).map_or(code, |z| z.short.as_str());
                    format!(
                        "{short} {}：收件箱中的新版本 {} 有错误未采用，汇总使用的是已归档的旧版本",
                        used.join("、"),
                        e.file
                    )
                })
            })
            .collect()
    }
}

/// The bar of a run: cleared from the terminal when the run ends, however it ends.
struct Bar(ProgressBar);

impl std::ops::Deref for Bar {
    type Target = ProgressBar;
    fn deref(&self) -> &ProgressBar {
        &self.0
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// A bar on the terminal while work goes on; nothing when output is redirected.
fn bar(len: u64) -> Bar {
    let pb = ProgressBar::new(len);
    pb.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    Bar(pb)
}

/// Runs the routine with the settings given (flags already merged in).
/// `say` receives the plain progress lines.
///
/// # Errors
/// [`Error`] when a folder cannot be read or an output cannot be written.
pub fn run(
    s: &Settings,
    period: Option<Period>,
    cat: &Catalogue,
    say: &mut dyn FnMut(&str),
) -> Result<RunOutcome, Error> {
    let pb = bar(4);
    pb.set_message("收件箱归档");
    pb.suspend(|| say(&format!("一、收件箱归档：{}", s.inbox.display())));
    std::fs::create_dir_all(&s.inbox).map_err(|e| Error::Output {
        path: s.inbox.display().to_string(),
        message: crate::error::io_message(&e),
    })?;
    let report = {
        let mut quiet = |line: &str| pb.suspend(|| say(line));
        intake(
            &s.inbox,
            &s.data,
            cat,
            &IntakeOptions::from_settings(&s.archive),
            &mut quiet,
        )?
    };
    pb.suspend(|| say(&crate::intake::render(&report, cat)));
    pb.inc(1);

    let Some(period) = period.or_else(|| latest_period(&s.data)) else {
        pb.finish_and_clear();
        return Err(Error::Period(format!(
            "数据文件夹 {} 中还没有任何一期的报表；请先把报表放进收件箱，或用 --period 指定期别。",
            s.data.display()
        )));
    };
    pb.set_message("汇总考核");
    let c = consolidate(&s.data, period, cat)?;
    pb.inc(1);
    pb.set_message("报送情况");
    let table = crate::status::table(&c.figures, cat);
    pb.suspend(|| say(&format!("二、{}", crate::status::render(&table))));
    pb.inc(1);

    pb.set_message("写出汇总表");
    std::fs::create_dir_all(&s.output).map_err(|e| Error::Output {
        path: s.output.display().to_string(),
        message: crate::error::io_message(&e),
    })?;
    let workbook = s.output.join(default_report_name(period, cat));
    let summary = workbook.with_extension("json");
    write_pair(&c, cat, &workbook, Some(&summary))?;
    let created = crate::template::creation_time();
    let mut forms = c.forms.clone();
    forms.extend(report.held_forms.iter().cloned());
    let feedback = crate::feedback::write_feedback(
        &forms,
        Some(period),
        cat,
        &s.output.join("反馈"),
        &created,
    )?;
    pb.inc(1);
    pb.finish_and_clear();
    say(&format!(
        "三、{}",
        crate::report::summary_text(&c, cat, &workbook)
    ));
    say(&format!("JSON 汇总：{}", summary.display()));
    for f in &feedback {
        say(&format!("反馈表：{}", f.display()));
    }
    let outcome = RunOutcome {
        intake: report,
        status: table,
        consolidation: c,
        workbook,
        summary,
        feedback,
    };
    let corrections = outcome.rejected_corrections(cat);
    if !corrections.is_empty() {
        say("注意：以下报表重新报来的新版本有错误未采用，汇总使用的是已归档的旧版本，请退回修改：");
        for line in &corrections {
            say(&format!("  {line}"));
        }
    }
    Ok(outcome)
}

/// Writes one run's outputs as a pair: the workbook first, then (when asked)
/// the JSON summary with the workbook's SHA-256 in it. When the workbook
/// cannot be written the old JSON stays beside the old workbook.
///
/// # Errors
/// [`Error::Output`] when either cannot be written.
pub fn write_pair(
    c: &Consolidation,
    cat: &Catalogue,
    workbook: &Path,
    json: Option<&Path>,
) -> Result<(), Error> {
    crate::report::write_report(c, cat, workbook, crate::report::MadeAt::from_env())?;
    let Some(json) = json else { return Ok(()) };
    let written = std::fs::read(workbook).map_err(|e| Error::Output {
        path: workbook.display().to_string(),
        message: crate::error::io_message(&e),
    })?;
    let mut value = summary_json(c, cat);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            WORKBOOK_SHA256.into(),
            serde_json::Value::String(sha256_hex(&written)),
        );
    }
    let text = serde_json::to_string_pretty(&value).expect("serialisable");
    write_atomic(json, text.as_bytes())
}

/// Mails the run's workbook: only a run without gaps, unless `incomplete` is
/// allowed. Returns None when it was not sent for being incomplete.
///
/// # Errors
/// The mail errors of [`crate::mail::send_report`]; nothing is sent twice.
pub fn send(
    outcome: &RunOutcome,
    options: &crate::mail::MailOptions,
    incomplete: bool,
    cat: &Catalogue,
) -> Result<Option<crate::mail::SendOutcome>, Error> {
    if outcome.consolidation.has_gaps() && !incomplete {
        return Ok(None);
    }
    let summary = crate::mail::Summary::from_run(&outcome.consolidation, cat);
    crate::mail::send_report(&outcome.workbook, Some(&summary), options).map(Some)
}
