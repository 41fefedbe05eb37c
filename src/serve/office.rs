//! What the statistics office does in the portal (PORTAL.md, issue 18):
//! open and close periods, approve (审核通过, which locks a unit's form for
//! the period), return with a reason (退回), unlock with a reason, accept
//! explanations of warnings, remind the units that owe forms (催报), run the
//! consolidation and send its workbook. The API and the pages both call
//! these functions (the slow ones through [`blocking`]); each checks who may
//! do it, and each step is audited.
//!
//! Consolidation is the command line's: `consolidate::consolidate` and
//! `routine::write_pair` on the same data folder, so the workbook is the same
//! byte for byte under the same `SOURCE_DATE_EPOCH`; the only addition is the
//! units' explanations, carried into the findings they explain.

use std::path::Path;

use axum::http::StatusCode;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::mail::{MailOptions, MailOverrides, SendOutcome};
use crate::model::unix_now;
use crate::model::{Explanation, Period};
use crate::serve::db::current_review;
use crate::serve::db::{ConsolidationRow, Review, Role, Submission};
use crate::serve::session::{Caller, audit};
use crate::serve::{App, Refusal, Shared, upload, view};

/// Where the portal writes its consolidations, in the data folder.
pub const CONSOLIDATIONS: &str = "_portal/consolidations";

/// Only the office may: others are refused (403) and the attempt audited.
pub fn office_only(app: &App, c: &Caller, action: &str, target: &str) -> Result<(), Refusal> {
    if c.user.role == Role::Office {
        return Ok(());
    }
    audit(app, c, action, target, "forbidden");
    Err(Refusal::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "只有统计科的账户可以这样做。",
    ))
}

/// Runs blocking office work off the event loop.
pub async fn blocking<T: Send + 'static>(
    app: &Shared,
    c: &Caller,
    f: impl FnOnce(&App, &Caller) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let (app, c) = (app.clone(), c.clone());
    tokio::task::spawn_blocking(move || f(&app, &c))
        .await
        .unwrap_or_else(|_| Err(Error::Serve("处理中断".into()).into()))
}

/// The period the messages give as an example: the one being collected now.
pub fn example_period(app: &App) -> Period {
    crate::archive::collecting_period(&app.config.data, Period::of_time(unix_now()))
}

fn parse_period(app: &App, p: &str) -> Result<Period, Refusal> {
    p.parse::<Period>().map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_period",
            format!("期别应写成 YYYY-MM，例如 {}。", example_period(app)),
        )
    })
}

/// Opens `period` for uploads with its deadline (or moves the deadline).
///
/// # Errors
/// 403 for others than the office, 400 for a malformed period or date.
pub fn open_period(app: &App, c: &Caller, period: &str, deadline: &str) -> Result<(), Refusal> {
    office_only(app, c, "period_open", period)?;
    let period = parse_period(app, period.trim())?;
    let deadline = deadline.trim();
    if !is_date(deadline) {
        // The example: the 10th of the month after the period being collected.
        let p = example_period(app);
        let (year, month) = if p.month == 12 {
            (p.year + 1, 1)
        } else {
            (p.year, p.month + 1)
        };
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_deadline",
            format!("截止日期应写成 YYYY-MM-DD，例如 {year:04}-{month:02}-10。"),
        ));
    }
    app.db
        .open_period(&period.to_string(), deadline, unix_now())?;
    audit(
        app,
        c,
        "period_open",
        &format!("{period} 截止 {deadline}"),
        "ok",
    );
    Ok(())
}

/// Closes `period`: it takes no more uploads.
///
/// # Errors
/// 403 for others than the office, 404 for a period never opened.
pub fn close_period(app: &App, c: &Caller, period: &str) -> Result<(), Refusal> {
    office_only(app, c, "period_close", period)?;
    if !app.db.close_period(period)? {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "no_period",
            "没有这一期。",
        ));
    }
    audit(app, c, "period_close", period, "ok");
    Ok(())
}

/// `YYYY-MM-DD` with a real month and day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    matches!(
        (num(0..4), num(5..7), num(8..10)),
        (Some(_), Some(1..=12), Some(1..=31))
    )
}

/// The office's three words on a submission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 审核通过: locks the unit's forms of the submission for the period.
    Approve,
    /// 退回: the unit must correct and upload again.
    Return,
    /// 解锁: an approval withdrawn, uploads taken again.
    Unlock,
}

impl Verdict {
    pub fn action(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Return => "return",
            Verdict::Unlock => "unlock",
        }
    }

    fn state(self) -> &'static str {
        match self {
            Verdict::Approve => "approved",
            Verdict::Return => "returned",
            Verdict::Unlock => "unlocked",
        }
    }
}

/// The reviews that hold now for the forms of submission `s` and are about it.
///
/// # Errors
/// [`Error::Database`].
pub fn reviews_of(app: &App, s: &Submission) -> Result<Vec<Review>, Error> {
    let (Some(zone), Some(period)) = (&s.zone, &s.period) else {
        return Ok(Vec::new());
    };
    let reviews = app.db.reviews(period)?;
    let subs = app.db.submissions(Some(zone), Some(period))?;
    Ok(s.forms
        .iter()
        .filter_map(|f| current_review(&reviews, &subs, zone, f))
        .filter(|r| r.submission == s.id)
        .cloned()
        .collect())
}

/// Approves, returns or unlocks submission `id`. A reason is needed to
/// return or unlock. A return is mailed to the unit's accounts when `[mail]`
/// is set (the outcome audited, a failure does not undo the return).
///
/// # Errors
/// 403 for others than the office, 404 for no such submission, 400 without a
/// reason, 409 when the submission cannot take this word (not accepted, a
/// later upload exists, nothing to unlock).
pub fn review(
    app: &App,
    c: &Caller,
    id: i64,
    verdict: Verdict,
    reason: &str,
) -> Result<Submission, Refusal> {
    let target = format!("submission {id}");
    office_only(app, c, verdict.action(), &target)?;
    let reason = reason.trim();
    if verdict != Verdict::Approve && reason.is_empty() {
        audit(app, c, verdict.action(), &target, "refused: no reason");
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "reason_required",
            match verdict {
                Verdict::Return => "退回时请写明原因，填报单位会看到它。",
                _ => "解锁时请写明原因，它会记入审计日志。",
            },
        ));
    }
    if reason.chars().count() > 1000 {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "reason_too_long",
            "原因请写在 1000 字以内。",
        ));
    }
    let Some(s) = app.db.submission(id)? else {
        return Err(upload::no_submission());
    };
    let (Some(zone), Some(period)) = (s.zone.clone(), s.period.clone()) else {
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "not_reviewable",
            "这份上传没有识别出填报单位和期别，无需审核。",
        ));
    };
    let refuse = |id: &'static str, message: &str| {
        audit(app, c, verdict.action(), &target, &format!("refused: {id}"));
        Err(Refusal::new(StatusCode::CONFLICT, id, message))
    };
    let reviews = app.db.reviews(&period)?;
    let subs = app.db.submissions(Some(&zone), Some(&period))?;
    let current: Vec<Option<&Review>> = s
        .forms
        .iter()
        .map(|f| current_review(&reviews, &subs, &zone, f))
        .collect();
    match verdict {
        Verdict::Approve | Verdict::Return => {
            if verdict == Verdict::Approve && s.status != "accepted" {
                return refuse(
                    "not_accepted",
                    "只能审核通过已通过检查并归档的报送；有错误或未受理的请退回或等待重新上传。",
                );
            }
            if s.status == "refused" {
                return refuse("not_accepted", "未受理的上传无需退回。");
            }
            let later = subs.iter().any(|x| {
                x.id > s.id && x.status != "refused" && x.forms.iter().any(|f| s.forms.contains(f))
            });
            if later {
                return refuse(
                    "superseded",
                    "这份报送之后，该单位又上传了新的版本：请审核最新的一份。",
                );
            }
            if verdict == Verdict::Return && current.iter().flatten().any(|r| r.state == "approved")
            {
                return refuse(
                    "locked",
                    "这份报表已审核通过并锁定：请先解锁（写明原因）再退回。",
                );
            }
        }
        Verdict::Unlock => {
            if !current.iter().flatten().any(|r| r.state == "approved") {
                return refuse("not_locked", "这份报表没有被审核锁定，无需解锁。");
            }
        }
    }
    let r = Review {
        zone: zone.clone(),
        period: period.clone(),
        form: String::new(),
        state: verdict.state().into(),
        submission: s.id,
        reason: reason.to_string(),
        by_user: c.user.name.clone(),
        at: unix_now(),
    };
    app.db.set_review(&r, &s.forms)?;
    let outcome = if reason.is_empty() {
        "ok".to_string()
    } else {
        format!("ok: {reason}")
    };
    audit(
        app,
        c,
        verdict.action(),
        &format!("{target} {zone} {period} {}", s.forms.join("+")),
        &outcome,
    );
    if verdict == Verdict::Return && !app.config.mail.host.trim().is_empty() {
        let name = view::unit_name(&app.cat, &zone);
        let subject = format!("统计报表退回：{} {period}", s.forms.join("、"));
        let body = format!(
            "{name}：\n\n统计科退回了贵单位 {period} 期的 {}（{}），原因：\n\n{reason}\n\n请修改后登录开发区统计报表收集门户重新上传。\n\n统计科 {}\n",
            s.forms.join("、"),
            s.file_name,
            c.user.name
        );
        // A failure does not undo the return: it is in the audit log.
        mail_unit(app, c, "return_mail", &target, &zone, &subject, &body)?;
    }
    Ok(s)
}

/// Mails every address of a unit's accounts, each mail audited as `action`
/// on "`target` `unit` `address`", and returns what came of each. A unit
/// without an address is one failure, audited on "`target` `unit`".
fn mail_unit(
    app: &App,
    c: &Caller,
    action: &str,
    target: &str,
    unit: &str,
    subject: &str,
    body: &str,
) -> Result<Vec<Reminder>, Error> {
    let to = addresses(app, unit)?;
    if to.is_empty() {
        let message = "该单位的账户没有登记邮箱地址".to_string();
        let outcome = format!("failed: {message}");
        audit(app, c, action, &format!("{target} {unit}"), &outcome);
        return Ok(vec![Reminder {
            zone: unit.to_string(),
            to: String::new(),
            message: Some(message),
        }]);
    }
    let options = mail_options(app, Vec::new());
    let mut out = Vec::new();
    for addr in to {
        let sent = crate::mail::send_notice(&options, &addr, subject, body);
        let message = sent.err().map(|e| e.to_string());
        let outcome = message
            .as_ref()
            .map_or("sent".to_string(), |e| format!("failed: {e}"));
        audit(app, c, action, &format!("{target} {unit} {addr}"), &outcome);
        out.push(Reminder {
            zone: unit.to_string(),
            to: addr,
            message,
        });
    }
    Ok(out)
}

/// The mail settings of `[mail]`, the password from the environment, and
/// `to` when given.
fn mail_options(app: &App, to: Vec<String>) -> MailOptions {
    MailOptions::new(
        &app.config.mail,
        MailOverrides {
            to,
            ..MailOverrides::default()
        },
    )
}

/// The addresses of a unit's enabled accounts (`city`: the city bureau's).
fn addresses(app: &App, unit: &str) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for u in app.db.users()? {
        let theirs = match u.role {
            Role::Zone => u.zone.as_deref() == Some(unit),
            Role::City => unit == "city",
            Role::Office => false,
        };
        let email = u.email.trim().to_string();
        if theirs && !u.disabled && !email.is_empty() && !out.contains(&email) {
            out.push(email);
        }
    }
    Ok(out)
}

/// A unit's explanation of one warning of its own submission.
///
/// # Errors
/// 403 for the office (the unit explains), 404 for another unit's
/// submission, 400 for an empty or too long text or a warning the
/// submission does not have.
pub fn explain(
    app: &App,
    c: &Caller,
    id: i64,
    rule: &str,
    cell: &str,
    text: &str,
) -> Result<i64, Refusal> {
    let target = format!("submission {id}");
    if c.user.role == Role::Office {
        audit(app, c, "explain", &target, "forbidden");
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "说明由填报单位填写；统计科可以认可它。",
        ));
    }
    let s = match app.db.submission(id)? {
        Some(s) if upload::visible(c, &s) => s,
        _ => return Err(upload::no_submission()),
    };
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_text",
            "请写明说明（2000 字以内）：例如数据变动的原因。",
        ));
    }
    let findings: Vec<Value> = serde_json::from_str(&s.findings).unwrap_or_default();
    let warned = findings.iter().any(|f| {
        f["severity"] == "warning"
            && f["rule"].as_str() == Some(rule)
            && f["cell"].as_str().unwrap_or("") == cell
    });
    if !warned {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "no_such_warning",
            "这份报送在这个单元格没有这条警告：只能说明检查结果中列出的警告。",
        ));
    }
    let eid = app
        .db
        .add_explanation(s.id, rule, cell, text, &c.user.name, unix_now())?;
    audit(app, c, "explain", &format!("{target} {rule} {cell}"), "ok");
    Ok(eid)
}

/// The office accepts explanation `eid` of submission `id`.
///
/// # Errors
/// 403 for others than the office, 404 for no such explanation.
pub fn accept(app: &App, c: &Caller, id: i64, eid: i64) -> Result<(), Refusal> {
    let target = format!("submission {id} explanation {eid}");
    office_only(app, c, "explanation_accept", &target)?;
    if !app
        .db
        .accept_explanation(id, eid, &c.user.name, unix_now())?
    {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "没有这条说明。",
        ));
    }
    audit(app, c, "explanation_accept", &target, "ok");
    Ok(())
}

/// One mail to a unit (a reminder, a return notice): the unit and the
/// address, and why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct Reminder {
    pub zone: String,
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What `remind` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Reminders {
    pub sent: Vec<Reminder>,
    pub failed: Vec<Reminder>,
}

/// 催报: mails every unit that has not reported `period`, or whose form
/// has errors or was returned, at every address of its accounts; a unit
/// without an address is a failure. Each mail is audited. Blocking.
///
/// # Errors
/// 403 for others than the office, 400 for a malformed period.
pub fn remind(app: &App, c: &Caller, period: &str) -> Result<Reminders, Refusal> {
    office_only(app, c, "reminder", period)?;
    let period = parse_period(app, period)?;
    let grid = crate::serve::grid::grid(app, c, period)?;
    let mut owed: Vec<(String, Vec<String>)> = Vec::new();
    for cell in &grid.cells {
        if cell.needs_reminder() {
            match owed.iter_mut().find(|(code, _)| code == &cell.code) {
                Some((_, forms)) => forms.push(cell.form.clone()),
                None => owed.push((cell.code.clone(), vec![cell.form.clone()])),
            }
        }
    }
    let mut out = Reminders::default();
    for (code, forms) in owed {
        let name = view::unit_name(&app.cat, &code);
        let subject = format!("催报：{} {} 统计报表", name, period.label());
        let body = format!(
            "{name}：\n\n{period} 期（{}）的 {} 尚未报送或有错误、被退回，截止日期 {}。\n请登录开发区统计报表收集门户上传；已经报送的请查看页面上的检查结果并修改后重新上传。\n\n统计科\n",
            period.label(),
            forms.join("、"),
            grid.deadline.as_deref().unwrap_or("（未设）"),
        );
        let mails = mail_unit(
            app,
            c,
            "reminder",
            &period.to_string(),
            &code,
            &subject,
            &body,
        )?;
        for m in mails {
            match m.message {
                None => out.sent.push(m),
                Some(_) => out.failed.push(m),
            }
        }
    }
    Ok(out)
}

/// Where the portal's consolidation of a period is written: the workbook
/// under the command line's default name, and its JSON beside it.
fn consolidation_paths(app: &App, period: Period) -> (String, String) {
    let name = crate::consolidate::default_report_name(period, &app.cat);
    let workbook = format!("{CONSOLIDATIONS}/{period}/{name}");
    let summary = Path::new(&workbook)
        .with_extension("json")
        .to_string_lossy()
        .into_owned();
    (workbook, summary)
}

/// Runs the consolidation of `period` on the archive, as `zonestat
/// consolidate --json` does, with the units' explanations in the findings
/// they explain; writes the workbook and JSON into `_portal/consolidations/`
/// and returns the JSON summary. Blocking.
///
/// # Errors
/// 403 for others than the office, 400 for a malformed period; a failure to
/// read the archive or write the outputs is internal.
pub fn consolidate(
    app: &App,
    c: &Caller,
    period: &str,
) -> Result<(Value, ConsolidationRow), Refusal> {
    office_only(app, c, "consolidate", period)?;
    let period = parse_period(app, period)?;
    let data = &app.config.data;
    let mut run = crate::consolidate::consolidate(data, period, &app.cat)?;
    explain_findings(app, period, &mut run.findings)?;
    let (workbook, summary) = consolidation_paths(app, period);
    crate::output::create_dir(&data.join(CONSOLIDATIONS).join(period.to_string()))?;
    crate::report::write_pair(
        &run,
        &app.cat,
        &data.join(&workbook),
        Some(&data.join(&summary)),
    )?;
    let text = std::fs::read(data.join(&summary)).map_err(|e| Error::Output {
        path: summary.clone(),
        message: crate::error::io_message(&e),
    })?;
    let value: Value = serde_json::from_slice(&text).unwrap_or(Value::Null);
    let row = ConsolidationRow {
        period: period.to_string(),
        workbook,
        summary,
        gaps: run.has_gaps(),
        by_user: c.user.name.clone(),
        at: unix_now(),
    };
    app.db.set_consolidation(&row)?;
    audit(
        app,
        c,
        "consolidate",
        &period.to_string(),
        if row.gaps { "ok: incomplete" } else { "ok" },
    );
    Ok((value, row))
}

/// The JSON summary of a consolidation; None when it cannot be read.
pub fn summary_of(app: &App, row: &ConsolidationRow) -> Option<Value> {
    std::fs::read(app.config.data.join(&row.summary))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

/// How many of a summary's targets have each status, in the order the
/// statuses first come.
pub fn target_statuses(summary: &Value) -> Vec<(String, usize)> {
    tally(
        summary["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| t["status"].as_str().unwrap_or("").to_string()),
    )
}

/// How often each item comes, in the order the items first come.
pub fn tally<K: PartialEq>(items: impl IntoIterator<Item = K>) -> Vec<(K, usize)> {
    let mut out: Vec<(K, usize)> = Vec::new();
    for k in items {
        match out.iter_mut().find(|(x, _)| *x == k) {
            Some((_, n)) => *n += 1,
            None => out.push((k, 1)),
        }
    }
    out
}

/// Puts each explanation of the period's submissions on the warning it
/// explains (same unit, rule and cell); an accepted one says so.
fn explain_findings(
    app: &App,
    period: Period,
    findings: &mut [crate::model::Finding],
) -> Result<(), Error> {
    let p = period.to_string();
    let explanations = app.db.explanations(None, Some(&p))?;
    if explanations.is_empty() {
        return Ok(());
    }
    let subs = app.db.submissions(None, Some(&p))?;
    for e in &explanations {
        let Some(zone) = subs
            .iter()
            .find(|s| s.id == e.submission)
            .and_then(|s| s.zone.clone())
        else {
            continue;
        };
        for f in findings.iter_mut() {
            // The city bureau's form names no zone.
            let unit = f.zone.as_deref().unwrap_or("city");
            if f.severity == crate::model::Severity::Warning
                && unit == zone.as_str()
                && f.rule == e.rule
                && f.cell.map(|c| c.to_string()).unwrap_or_default() == e.cell
            {
                // The latest explanation wins; an accepted one over one not yet.
                let accepted = e.accepted_by.is_some();
                if f.explanation
                    .as_ref()
                    .is_none_or(|x| accepted || !x.accepted)
                {
                    f.explanation = Some(Explanation {
                        text: e.text.clone(),
                        accepted,
                    });
                }
            }
        }
    }
    Ok(())
}

/// The workbook of the portal's latest consolidation of `period`: its path
/// relative to the data folder and its file name.
///
/// # Errors
/// 403 for others than the office, 404 when the period was not consolidated.
pub fn workbook(app: &App, c: &Caller, period: &str) -> Result<(String, String), Refusal> {
    office_only(app, c, "download_workbook", period)?;
    let (period, row) = consolidated(app, period)?;
    let name = crate::consolidate::default_report_name(period, &app.cat);
    Ok((row.workbook, name))
}

/// The period and the portal's latest consolidation of it.
///
/// # Errors
/// 400 for a malformed period, 404 when the period was not consolidated.
fn consolidated(app: &App, period: &str) -> Result<(Period, ConsolidationRow), Refusal> {
    let period = parse_period(app, period)?;
    match app.db.consolidation(&period.to_string())? {
        Some(row) => Ok((period, row)),
        None => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_consolidated",
            "这一期还没有在门户中汇总：请先点“汇总”。",
        )),
    }
}

/// Sends the workbook of the latest consolidation of `period` by mail, as
/// `run --send`: to `to` when given, else to `[mail] to`; a run with gaps
/// only when `incomplete`. Blocking.
///
/// # Errors
/// 403 for others than the office, 404 when not consolidated, 409 for a run
/// with gaps not allowed, 502 with the mail module's message when sending fails.
pub fn send(
    app: &App,
    c: &Caller,
    period: &str,
    to: Vec<String>,
    incomplete: bool,
) -> Result<SendOutcome, Refusal> {
    office_only(app, c, "send", period)?;
    let (period, row) = consolidated(app, period)?;
    if row.gaps && !incomplete {
        audit(app, c, "send", &period.to_string(), "refused: incomplete");
        return Err(Refusal::new(
            StatusCode::CONFLICT,
            "incomplete",
            "数据不完整，考核汇总表没有发送。补齐数据后重新汇总；确需先发送请勾选“数据不完整也发送”（API：\"incomplete\": true）。",
        ));
    }
    let data = &app.config.data;
    let options = mail_options(app, to);
    match crate::mail::send_file(
        &data.join(&row.workbook),
        Some(&data.join(&row.summary)),
        &options,
        None,
        &app.cat,
    ) {
        Ok(o) => {
            audit(
                app,
                c,
                "send",
                &format!("{period} {}", o.to.join(",")),
                "sent",
            );
            Ok(o)
        }
        Err(e) => {
            audit(app, c, "send", &period.to_string(), &format!("failed: {e}"));
            Err(Refusal::new(StatusCode::BAD_GATEWAY, "mail", e.to_string()))
        }
    }
}

/// On-time reporting over a year: for each unit, the periods of `year` the
/// office opened whose deadline has passed, and in how many of them the
/// unit's first accepted upload came by the deadline.
///
/// # Errors
/// [`Error::Database`].
pub fn on_time(app: &App, year: i32) -> Result<Vec<(String, String, usize, usize)>, Error> {
    let today = view::local_date(unix_now());
    let periods: Vec<_> = app
        .db
        .periods()?
        .into_iter()
        .filter(|p| p.period.starts_with(&format!("{year}-")))
        .filter(|p| !p.open || p.deadline < today)
        .collect();
    let mut units: Vec<(String, String)> = app
        .cat
        .zones
        .iter()
        .map(|z| (z.code.clone(), z.short.clone()))
        .collect();
    units.push(("city".into(), app.cat.city.reporter.clone()));
    let mut out = Vec::new();
    for (code, name) in units {
        let mut good = 0;
        for p in &periods {
            let subs = app.db.submissions(Some(&code), Some(&p.period))?;
            let first = subs
                .iter()
                .filter(|s| s.status == "accepted")
                .min_by_key(|s| s.id);
            if first.is_some_and(|s| !s.late) {
                good += 1;
            }
        }
        out.push((code, name, good, periods.len()));
    }
    Ok(out)
}

/// The audit action of a period's automatic reminders: its presence says
/// they went out (state in the database, so a restart sends nothing twice).
const AUTO: &str = "reminder_auto";

/// The automatic 催报: at start and then every hour, for each open period
/// whose deadline is within `days` days and whose reminders did not go out
/// by themselves yet, [`remind`] as the portal itself.
pub async fn remind_by_themselves(app: std::sync::Arc<App>, days: u32) {
    loop {
        let a = app.clone();
        let done = tokio::task::spawn_blocking(move || remind_due(&a, days, unix_now())).await;
        if let Ok(Err(e)) = done {
            eprintln!("自动催报出错：{e}");
        }
        tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
    }
}

/// The periods whose automatic reminders are due at `at`, each reminded
/// once; returns them.
///
/// # Errors
/// [`Error::Database`].
pub fn remind_due(app: &App, days: u32, at: i64) -> Result<Vec<String>, Error> {
    let day = view::local_date;
    let (today, horizon) = (day(at), day(at + i64::from(days) * 86_400));
    let done = app.db.audit_of(AUTO)?;
    let portal = Caller {
        user: crate::serve::db::User {
            id: 0,
            name: "门户自动催报".into(),
            role: Role::Office,
            zone: None,
            email: String::new(),
            password: String::new(),
            must_change: false,
            disabled: false,
        },
        token_hash: String::new(),
        ip: "-".into(),
    };
    let mut reminded = Vec::new();
    for p in app.db.periods()? {
        let due = p.open && p.deadline >= today && p.deadline <= horizon;
        if !due
            || done
                .iter()
                .any(|e| e.action == AUTO && e.target == p.period)
        {
            continue;
        }
        // Recorded first: a failing mail server is not asked again every hour.
        audit(app, &portal, AUTO, &p.period, "started");
        match remind(app, &portal, &p.period) {
            Ok(r) => {
                let outcome = format!("ok: {} sent, {} failed", r.sent.len(), r.failed.len());
                audit(app, &portal, AUTO, &format!("{} done", p.period), &outcome);
            }
            Err(r) => eprintln!("自动催报 {} 未完成：{}", p.period, r.message),
        }
        reminded.push(p.period);
    }
    Ok(reminded)
}
