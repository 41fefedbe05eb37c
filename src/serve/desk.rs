//! The office's side of the pages (issue 18): the forms that open and close
//! periods, approve, return and unlock a submission, explain a warning and
//! accept an explanation, send reminders, consolidate and send. Plain POST
//! forms (no JavaScript); each calls the same `office` function as the API
//! and comes back to the page it was sent from.

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{Form, Path};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::model::Period;
use crate::serve::db::{Role, Submission};
use crate::serve::office::{self, Verdict, blocking};
use crate::serve::session::{Caller, Who};
use crate::serve::view::{Page, esc, page, require};
use crate::serve::{App, Refusal, Shared, view};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/periods", post(open_period))
        .route("/periods/{period}/close", post(close_period))
        .route("/submissions/{id}/approve", post(approve))
        .route("/submissions/{id}/return", post(return_))
        .route("/submissions/{id}/unlock", post(unlock))
        .route("/submissions/{id}/explanations", post(explain))
        .route("/submissions/{id}/explanations/{eid}/accept", post(accept))
        .route("/reminders", post(remind))
        .route("/consolidations", post(consolidate))
        .route("/consolidations/{period}/send", post(send))
        .route("/dashboard", get(crate::serve::dashboard::dashboard))
}

/// Back to `to`, or the refusal as a page with its status.
fn done<T>(c: &Caller, result: Result<T, Refusal>, to: &str) -> Page {
    match result {
        Ok(_) => Ok(Redirect::to(to).into_response()),
        Err(r) => {
            let body = format!(
                r#"<p class="error" role="alert">{}</p><p><a href="{}">返回</a></p>"#,
                esc(&r.message),
                esc(to)
            );
            Ok((r.status, page("未能完成", Some(c), &body)).into_response())
        }
    }
}

#[derive(Deserialize)]
struct OpenForm {
    period: String,
    deadline: String,
}

async fn open_period(who: Who, Form(f): Form<OpenForm>) -> Page {
    let c = require(&who)?;
    let r = office::open_period(&who.app, &c, &f.period, &f.deadline);
    done(&c, r, &format!("/?period={}", f.period.trim()))
}

async fn close_period(who: Who, Path(period): Path<String>) -> Page {
    let c = require(&who)?;
    let r = office::close_period(&who.app, &c, &period);
    done(&c, r, &format!("/?period={period}"))
}

#[derive(Deserialize, Default)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
}

async fn verdict(who: Who, id: i64, verdict: Verdict, reason: String) -> Page {
    let c = require(&who)?;
    let r = blocking(&who.app, &c, move |app, c| {
        office::review(app, c, id, verdict, &reason)
    })
    .await;
    done(&c, r, &format!("/submissions/{id}"))
}

async fn approve(who: Who, Path(id): Path<i64>) -> Page {
    verdict(who, id, Verdict::Approve, String::new()).await
}

async fn return_(who: Who, Path(id): Path<i64>, Form(f): Form<ReasonForm>) -> Page {
    verdict(who, id, Verdict::Return, f.reason).await
}

async fn unlock(who: Who, Path(id): Path<i64>, Form(f): Form<ReasonForm>) -> Page {
    verdict(who, id, Verdict::Unlock, f.reason).await
}

#[derive(Deserialize)]
struct ExplainForm {
    rule: String,
    #[serde(default)]
    cell: String,
    text: String,
}

async fn explain(who: Who, Path(id): Path<i64>, Form(f): Form<ExplainForm>) -> Page {
    let c = require(&who)?;
    let r = office::explain(&who.app, &c, id, &f.rule, &f.cell, &f.text);
    done(&c, r, &format!("/submissions/{id}"))
}

async fn accept(who: Who, Path((id, eid)): Path<(i64, i64)>) -> Page {
    let c = require(&who)?;
    let r = office::accept(&who.app, &c, id, eid);
    done(&c, r, &format!("/submissions/{id}"))
}

#[derive(Deserialize)]
struct PeriodForm {
    period: String,
}

async fn remind(who: Who, Form(f): Form<PeriodForm>) -> Page {
    let c = require(&who)?;
    let period = f.period.clone();
    let r = blocking(&who.app, &c, move |app, c| office::remind(app, c, &period)).await;
    done(&c, r, &format!("/?period={}#reminders", f.period))
}

async fn consolidate(who: Who, Form(f): Form<PeriodForm>) -> Page {
    let c = require(&who)?;
    let period = f.period.clone();
    let r = blocking(&who.app, &c, move |app, c| {
        office::consolidate(app, c, &period)
    })
    .await;
    done(&c, r, &format!("/?period={}#consolidation", f.period))
}

#[derive(Deserialize)]
struct SendForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    incomplete: Option<String>,
}

async fn send(who: Who, Path(period): Path<String>, Form(f): Form<SendForm>) -> Page {
    let c = require(&who)?;
    let to: Vec<String> =
        f.to.split([',', '，', ';', '；', '\n'])
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect();
    let incomplete = f.incomplete.is_some();
    let p = period.clone();
    let r = blocking(&who.app, &c, move |app, c| {
        office::send(app, c, &p, to, incomplete)
    })
    .await;
    done(&c, r, &format!("/?period={period}#consolidation"))
}

/// The office's part of a submission's page: the review that holds and the
/// buttons (approve; return or unlock with a reason). Everyone sees the
/// review; only the office the buttons.
pub fn review_box(app: &App, c: &Caller, s: &Submission) -> Result<String, Error> {
    let mut out = String::new();
    if s.zone.is_none() || s.period.is_none() {
        return Ok(out);
    }
    let current = office::reviews_of(app, s)?;
    let approved = current.iter().any(|r| r.state == "approved");
    for r in &current {
        let (label, class) = if r.state == "approved" {
            ("已审核通过（已锁定）", "accepted")
        } else {
            ("已退回", "rejected")
        };
        let _ = write!(
            out,
            r#"<div class="verdict {class}" id="review">{label}：{} {}，{}{}</div>"#,
            esc(&r.form),
            esc(&r.by_user),
            esc(&view::local_time(r.at)),
            if r.reason.is_empty() {
                String::new()
            } else {
                format!("。原因：{}", esc(&r.reason))
            }
        );
    }
    if c.user.role != Role::Office || s.status == "refused" {
        return Ok(out);
    }
    let id = s.id;
    out.push_str(r#"<h2>审核</h2><div class="box">"#);
    if approved {
        let _ = write!(
            out,
            r#"<form method="post" action="/submissions/{id}/unlock"><label>解锁原因 <input name="reason" required></label> <button type="submit" id="unlock">解锁</button></form>"#
        );
    } else {
        if s.status == "accepted" {
            let _ = write!(
                out,
                r#"<form method="post" action="/submissions/{id}/approve" class="inline"><button type="submit" id="approve">审核通过</button></form>"#
            );
        }
        let _ = write!(
            out,
            r#"<form method="post" action="/submissions/{id}/return"><label>退回原因 <input name="reason" required></label> <button type="submit" id="return">退回</button></form>"#
        );
    }
    out.push_str("</div>");
    Ok(out)
}

/// The warnings of a submission with their explanations: the unit writes
/// one, the office accepts it.
pub fn explanations_box(app: &App, c: &Caller, s: &Submission) -> Result<String, Error> {
    let findings: Vec<Value> = serde_json::from_str(&s.findings).unwrap_or_default();
    let warnings: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "warning")
        .collect();
    if warnings.is_empty() {
        return Ok(String::new());
    }
    let explanations = app.db.explanations(Some(s.id), None)?;
    let id = s.id;
    let mut out = String::from(
        r#"<h2>警告的说明</h2><p class="small">增长超过 ±50%、上年同期与去年报表不一致等警告不影响采用；请填报单位写明原因，统计科核实后认可。</p><table class="findings"><thead><tr><th scope="col">位置</th><th scope="col">警告</th><th scope="col">说明</th></tr></thead><tbody>"#,
    );
    for f in warnings {
        let rule = f["rule"].as_str().unwrap_or("");
        let cell = f["cell"].as_str().unwrap_or("");
        let _ = write!(
            out,
            r#"<tr><td class="cell">{}</td><td>{}</td><td>"#,
            esc(cell),
            esc(f["message"].as_str().unwrap_or(""))
        );
        for e in explanations
            .iter()
            .filter(|e| e.rule == rule && e.cell == cell)
        {
            let _ = write!(
                out,
                r#"<p class="explanation">{}（{}，{}）"#,
                esc(&e.text),
                esc(&e.by_user),
                esc(&view::local_time(e.at))
            );
            match &e.accepted_by {
                Some(by) => {
                    let _ = write!(out, r#" <strong>统计科已认可（{}）</strong>"#, esc(by));
                }
                None if c.user.role == Role::Office => {
                    let _ = write!(
                        out,
                        r#" <form method="post" action="/submissions/{id}/explanations/{}/accept" class="inline"><button type="submit">认可</button></form>"#,
                        e.id
                    );
                }
                None => out.push_str("（待统计科认可）"),
            }
            out.push_str("</p>");
        }
        if c.user.role != Role::Office {
            let _ = write!(
                out,
                r#"<form method="post" action="/submissions/{id}/explanations"><input type="hidden" name="rule" value="{}"><input type="hidden" name="cell" value="{}"><label>说明 <input name="text" required maxlength="2000"></label> <button type="submit">提交说明</button></form>"#,
                esc(rule),
                esc(cell)
            );
        }
        out.push_str("</td></tr>");
    }
    out.push_str("</tbody></table>");
    Ok(out)
}

/// The office's part of the home page for `period`: open or close it, the
/// reminders and their log, the consolidation, on-time reporting.
pub fn office_box(app: &App, period: Option<Period>, open: bool) -> Result<String, Error> {
    let mut out = String::from(
        r#"<p><a href="/dashboard" id="dashboard">统计科看板：完整性、目标完成情况、主要指标图表、各期历史</a></p>"#,
    );
    let _ = write!(
        out,
        r#"<h2>开放报送</h2><form method="post" action="/periods" class="box" id="open-period"><label>期别 <input name="period" placeholder="{}" required pattern="\d{{4}}-\d{{2}}"></label> <label>截止日期 <input name="deadline" type="date" required></label> <button type="submit">开放这一期</button></form>"#,
        office::example_period(app)
    );
    let Some(period) = period else {
        return Ok(out);
    };
    if open {
        let _ = write!(
            out,
            r#"<form method="post" action="/periods/{period}/close" class="inline"><button type="submit" id="close-period">截止 {period} 期的报送</button></form>"#
        );
    }
    // 催报 and its log.
    let _ = write!(
        out,
        r#"<h2 id="reminders">催报</h2><form method="post" action="/reminders" class="inline"><input type="hidden" name="period" value="{period}"><button type="submit" id="remind">给未报送、有错误或被退回的单位发催报邮件</button></form>"#
    );
    let p = period.to_string();
    let mails: Vec<_> = app
        .db
        .audit_of("reminder")?
        .into_iter()
        .filter(|e| e.target.starts_with(&format!("{p} ")))
        .collect();
    if !mails.is_empty() {
        out.push_str(r#"<table class="findings"><thead><tr><th scope="col">时间</th><th scope="col">发件人</th><th scope="col">单位与地址</th><th scope="col">结果</th></tr></thead><tbody>"#);
        for e in mails.iter().rev().take(50) {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&view::local_time(e.at)),
                esc(&e.user),
                esc(&e.target),
                if e.outcome == "sent" {
                    "已发送".to_string()
                } else {
                    esc(&e.outcome)
                }
            );
        }
        out.push_str("</tbody></table>");
    }
    // The consolidation.
    let _ = write!(
        out,
        r#"<h2 id="consolidation">汇总考核</h2><form method="post" action="/consolidations" class="inline"><input type="hidden" name="period" value="{period}"><button type="submit" id="consolidate">汇总 {period} 期</button></form>"#
    );
    if let Some(row) = app.db.consolidation(&p)? {
        let summary = office::summary_of(app, &row).unwrap_or(Value::Null);
        let _ = write!(
            out,
            r#"<p id="consolidated">{} 于 {} 汇总：{}。<a href="/api/v1/consolidations/{period}/workbook" id="workbook">下载考核汇总表</a></p>"#,
            esc(&row.by_user),
            esc(&view::local_time(row.at)),
            if row.gaps {
                "数据不完整，考核结果仅供参考"
            } else {
                "数据完整"
            }
        );
        let counts = office::target_statuses(&summary);
        if !counts.is_empty() {
            out.push_str(r#"<p class="small">目标完成情况："#);
            for (st, n) in &counts {
                let _ = write!(out, "{} {n} 项　", esc(st));
            }
            out.push_str("</p>");
        }
        let _ = write!(
            out,
            r#"<form method="post" action="/consolidations/{period}/send" class="box"><label>收件人（不填则用设置文件 [mail] 中的 to，多个用逗号分隔） <input name="to"></label> <label><input type="checkbox" name="incomplete" value="1"> 数据不完整也发送</label> <button type="submit" id="send">发送考核汇总表</button></form>"#
        );
    }
    // On-time reporting over the year.
    let rows = office::on_time(app, period.year)?;
    if rows.iter().any(|r| r.3 > 0) {
        let _ = write!(
            out,
            r#"<h2>{} 年按时报送</h2><table class="findings" id="on-time"><thead><tr><th scope="col">填报单位</th><th scope="col">按时报送</th></tr></thead><tbody>"#,
            period.year
        );
        for (_, name, good, all) in rows {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{good} / {all} 期</td></tr>",
                esc(&name)
            );
        }
        out.push_str("</tbody></table>");
    }
    Ok(out)
}

/// A zone's notice of its forms the office returned in `period`.
pub fn returned_notice(app: &App, c: &Caller, period: Period) -> Result<String, Error> {
    let Some(zone) = crate::serve::upload::own_zone(c) else {
        return Ok(String::new());
    };
    let p = period.to_string();
    let reviews = app.db.reviews(&p)?;
    let subs = app.db.submissions(Some(&zone), Some(&p))?;
    let mut out = String::new();
    for r in reviews.iter().filter(|r| r.zone == zone) {
        if crate::serve::db::current_review(&reviews, &subs, &zone, &r.form).is_some_and(|x| x == r)
            && r.state == "returned"
        {
            let _ = write!(
                out,
                r#"<p class="error" role="alert">统计科退回了 {} 期的 {}（{}）：{}。请修改后重新上传。<a href="/submissions/{}">查看</a></p>"#,
                esc(&p),
                esc(&r.form),
                esc(&view::local_time(r.at)),
                esc(&r.reason),
                r.submission
            );
        }
    }
    Ok(out)
}
