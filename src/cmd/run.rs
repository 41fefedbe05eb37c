//! `zonestat run`: the clerk's routine in one command — intake → who has
//! reported → consolidate the period → workbook, summary and feedback in the
//! output folder, optionally mailed.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};

use crate::aggregate::FormState;
use crate::archive::latest_period;
use crate::catalog::Catalogue;
use crate::consolidate::{Consolidation, consolidate, default_report_name};
use crate::error::Error;
use crate::intake::{IntakeOptions, IntakeReport, intake};
use crate::mail::MailOptions;
use crate::model::Period;
use crate::report::write_pair;
use crate::settings::Settings;
use crate::status::StatusTable;

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
    crate::output::create_dir(&s.inbox)?;
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
    crate::output::create_dir(&s.output)?;
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

/// `zonestat run`: exit code 1 when data are missing, a correction was held
/// or a file could not be filed. `send`: mail the workbook, `Some(true)` even
/// when data are missing.
///
/// # Errors
/// What stops the routine (see [`run`]) or the mail.
pub fn run_command(
    s: &Settings,
    period: Option<Period>,
    send_it: Option<bool>,
    mail: &MailOptions,
    cat: &Catalogue,
) -> anyhow::Result<u8> {
    super::ignore_hangup();
    let outcome = run(s, period, cat, &mut |line| outln!("{line}"))?;
    if let Some(incomplete) = send_it {
        match send(&outcome, mail, incomplete, cat)? {
            Some(o) => out!("{}", crate::mail::outcome_text(&o)),
            None => outln!(
                "数据不完整，考核汇总表没有发送。补齐数据后重新运行；确需先发送请加 --send-incomplete。"
            ),
        }
    }
    let held = !outcome.rejected_corrections(cat).is_empty();
    let failed = outcome
        .intake
        .entries
        .iter()
        .any(|e| e.action == crate::intake::Action::Failed);
    Ok(if outcome.consolidation.has_gaps() || held || failed {
        1
    } else {
        0
    })
}
