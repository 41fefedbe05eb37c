//! The JSON interface under `/api/v1` (PORTAL.md), for scripts and other
//! systems; the same sessions and rules as the pages, and the same `office`
//! functions behind them. Every answer that is not a success is a
//! [`Refusal`]: `{"error": "<stable id>", "message": "<Chinese text>"}`.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::Period;
use crate::serve::db::{Role, Submission};
use crate::serve::office::{self, Verdict, blocking};
use crate::serve::session::{self, Caller, NoCaller, Who, audit};
use crate::serve::upload;
use crate::serve::{App, Refusal, Shared};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/password", post(password))
        .route("/periods", get(periods).post(open_period))
        .route("/periods/{period}/close", post(close_period))
        .route("/status", get(status))
        .route("/audit", get(audit_get))
        .route(
            "/uploads",
            post(upload).layer(DefaultBodyLimit::max(upload::LIMIT_SLACK)),
        )
        .route("/submissions", get(submissions))
        .route("/submissions/{id}", get(submission))
        .route("/submissions/{id}/file", get(submission_file))
        .route("/submissions/{id}/feedback", get(submission_feedback))
        .route("/submissions/{id}/approve", post(approve))
        .route("/submissions/{id}/return", post(return_))
        .route("/submissions/{id}/unlock", post(unlock))
        .route("/submissions/{id}/explanations", post(explain))
        .route(
            "/submissions/{id}/explanations/{eid}/accept",
            post(accept_explanation),
        )
        .route("/reminders", post(reminders))
        .route("/consolidations", post(consolidate))
        .route("/consolidations/{period}/workbook", get(workbook))
        .route("/consolidations/{period}/send", post(send))
}

/// The API's answer to a refusal: its status, and its id and message as JSON.
impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let body = json!({"error": self.id, "message": self.message});
        (self.status, Json(body)).into_response()
    }
}

/// No caller, as the API says it: 401 without a live session, 403 before
/// the first password is changed.
impl From<NoCaller> for Refusal {
    fn from(n: NoCaller) -> Refusal {
        match n {
            NoCaller::Failed(e) => e.into(),
            NoCaller::SignedOut => Refusal::new(
                StatusCode::UNAUTHORIZED,
                "not_logged_in",
                "尚未登录或登录已过期，请重新登录。",
            ),
            NoCaller::FirstPassword => Refusal::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "请先修改初始密码。",
            ),
        }
    }
}

#[derive(Deserialize)]
struct LoginBody {
    user: String,
    password: String,
}

async fn login(who: Who, Json(body): Json<LoginBody>) -> Result<Response, Refusal> {
    // A failure of the database, or the login refused.
    let (user, cookie) = session::login(&who.app, &body.user, &body.password, &who.ip)??;
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({
            "user": user.name,
            "role": user.role,
            "zone": user.zone,
            "must_change_password": user.must_change,
        })),
    )
        .into_response())
}

async fn logout(who: Who) -> Result<Response, Refusal> {
    let c = who.signed_in()?;
    let cookie = session::logout(&who.app, &c)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

#[derive(Deserialize)]
struct PasswordBody {
    old: String,
    new: String,
}

async fn password(who: Who, Json(body): Json<PasswordBody>) -> Result<Response, Refusal> {
    let c = who.signed_in()?;
    match session::change_password(&who.app, &c, &body.old, &body.new)? {
        Err(why) => Err(Refusal::new(StatusCode::BAD_REQUEST, "weak_password", why)),
        Ok(cookie) => Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response()),
    }
}

async fn periods(who: Who) -> Result<Json<Vec<Value>>, Refusal> {
    who.caller()?;
    let rows = who.app.db.periods()?;
    Ok(Json(
        rows.iter()
            .map(|p| {
                json!({
                    "period": p.period,
                    "deadline": p.deadline,
                    "open": p.open,
                    "annual": p.period.ends_with("-12"),
                })
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
struct OpenBody {
    period: String,
    deadline: String,
}

async fn open_period(who: Who, Json(body): Json<OpenBody>) -> Result<StatusCode, Refusal> {
    let c = who.caller()?;
    office::open_period(&who.app, &c, &body.period, &body.deadline)?;
    Ok(StatusCode::CREATED)
}

async fn close_period(who: Who, Path(period): Path<String>) -> Result<StatusCode, Refusal> {
    let c = who.caller()?;
    office::close_period(&who.app, &c, &period)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

async fn status(who: Who, Query(q): Query<PeriodQuery>) -> Result<Json<Value>, Refusal> {
    let c = who.caller()?;
    let Some(period) = q.period.as_deref().and_then(|p| p.parse::<Period>().ok()) else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_period",
            format!(
                "请用 ?period=YYYY-MM 指定期别，例如 ?period={}。",
                office::example_period(&who.app)
            ),
        ));
    };
    let grid = crate::serve::grid::grid(&who.app, &c, period)?;
    Ok(Json(json!({
        "period": period,
        "deadline": grid.deadline,
        "cells": grid.cells.iter().map(|cell| json!({
            "zone": cell.code,
            "form": cell.form,
            "state": cell.state,
            "review": cell.review_state(),
            "label": cell.label().0,
            "submission": cell.latest.as_ref().map(|l| l.0),
            "late": cell.late(grid.deadline.as_deref()),
            "overdue": cell.overdue,
            "source": cell.filed.as_ref().map(|f| f.source.id()),
            "filed_at": cell.filed.as_ref().map(|f| f.time.as_str()),
            "filed_as": cell.filed.as_ref().map(|f| f.to.as_str()),
        })).collect::<Vec<Value>>(),
    })))
}

#[derive(Deserialize)]
struct AuditQuery {
    since: Option<i64>,
}

async fn audit_get(who: Who, Query(q): Query<AuditQuery>) -> Result<Json<Vec<Value>>, Refusal> {
    let c = who.caller()?;
    let app = &who.app;
    // Only the office reads the log; an attempt of others is a line of it.
    if c.user.role != Role::Office {
        audit(app, &c, "forbidden", "", "refused");
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "只有统计科的账户可以这样做。",
        ));
    }
    audit(app, &c, "audit_read", "", "ok");
    let rows = app.db.audit_since(q.since.unwrap_or(0))?;
    Ok(Json(
        rows.iter()
            .map(|e| {
                json!({
                    "at": crate::intake::utc_stamp(e.at).0,
                    "user": e.user,
                    "action": e.action,
                    "target": e.target,
                    "ip": e.ip,
                    "outcome": e.outcome,
                })
            })
            .collect(),
    ))
}

fn submission_json(s: &Submission, with_findings: bool) -> Value {
    let mut v = json!({
        "submission": s.id,
        "zone": s.zone,
        "forms": s.forms,
        "period": s.period,
        "status": s.status,
        "reason": s.reason,
        "state": match s.status.as_str() {
            "accepted" => "submitted",
            "rejected" => "errors",
            _ => "refused",
        },
        "uploaded_at": crate::intake::utc_stamp(s.uploaded_at).0,
        "uploaded_by": s.user_name,
        "file": s.file_name,
        "sha256": s.sha256,
        "late": s.late,
        "feedback": s.feedback.as_ref().map(|_| format!("/api/v1/submissions/{}/feedback", s.id)),
    });
    if with_findings {
        v["findings"] = serde_json::from_str(&s.findings).unwrap_or(Value::Array(Vec::new()));
    }
    v
}

async fn upload(who: Who, form: Multipart) -> Result<Response, Refusal> {
    let c = who.caller()?;
    let (name, bytes) = upload::file_field(&who.app, form)
        .await
        .inspect_err(|_| audit(&who.app, &c, "upload", "", "refused"))?;
    let s = upload::take(&who.app, &c, name, bytes).await?;
    let mut v = submission_json(&s, true);
    if s.locked_by.is_none() {
        return Ok(Json(v).into_response());
    }
    // A locked form: the refusal with the error of PORTAL.md (409).
    v["error"] = "locked".into();
    v["message"] = s.reason.clone().into();
    Ok((StatusCode::CONFLICT, Json(v)).into_response())
}

async fn submissions(who: Who, Query(q): Query<PeriodQuery>) -> Result<Json<Vec<Value>>, Refusal> {
    let c = who.caller()?;
    let zone = upload::own_zone(&c);
    let rows = who
        .app
        .db
        .submissions(zone.as_deref(), q.period.as_deref())?;
    Ok(Json(
        rows.iter().map(|s| submission_json(s, false)).collect(),
    ))
}

async fn submission(who: Who, Path(id): Path<i64>) -> Result<Json<Value>, Refusal> {
    let c = who.caller()?;
    let s = upload::visible_submission(&who.app, &c, id)?;
    let mut v = submission_json(&s, true);
    let explanations = who.app.db.explanations(Some(s.id), None)?;
    v["explanations"] = explanations
        .iter()
        .map(|e| {
            json!({
                "id": e.id,
                "rule": e.rule,
                "cell": e.cell,
                "text": e.text,
                "by": e.by_user,
                "at": crate::intake::utc_stamp(e.at).0,
                "accepted": e.accepted_by.is_some(),
                "accepted_by": e.accepted_by,
            })
        })
        .collect();
    v["review"] = office::reviews_of(&who.app, &s)?
        .iter()
        .map(|r| {
            json!({
                "form": r.form,
                "state": r.state,
                "reason": r.reason,
                "by": r.by_user,
                "at": crate::intake::utc_stamp(r.at).0,
            })
        })
        .collect();
    Ok(Json(v))
}

/// A download of a stored file with a safe Chinese file name.
fn download(
    app: &App,
    c: &Caller,
    rel: &str,
    name: &str,
    what: &str,
    target: &str,
) -> Result<Response, Refusal> {
    let bytes = upload::portal_file(&app.config.data, rel)
        .and_then(|path| std::fs::read(path).ok())
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "not_found", "文件不存在。"))?;
    audit(app, c, what, target, "ok");
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_string()),
        (header::CONTENT_DISPOSITION, upload::attachment(name)),
    ];
    Ok((headers, bytes).into_response())
}

async fn submission_file(who: Who, Path(id): Path<i64>) -> Result<Response, Refusal> {
    let c = who.caller()?;
    let s = upload::visible_submission(&who.app, &c, id)?;
    let target = format!("submission {id}");
    download(
        &who.app,
        &c,
        &s.stored,
        &s.file_name,
        "download_file",
        &target,
    )
}

async fn submission_feedback(who: Who, Path(id): Path<i64>) -> Result<Response, Refusal> {
    let c = who.caller()?;
    let s = upload::visible_submission(&who.app, &c, id)?;
    let Some(rel) = &s.feedback else {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "no_feedback",
            "这份报送没有反馈表（没有错误）。",
        ));
    };
    let name = rel.rsplit('/').next().unwrap_or("反馈.xlsx");
    let target = format!("submission {id}");
    download(&who.app, &c, rel, name, "download_feedback", &target)
}

/// An optional JSON body: none (or empty) is the default.
fn optional_body<T: Default + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Refusal> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|_| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            "请求内容应为 JSON，例如 {\"reason\": \"……\"}。",
        )
    })
}

#[derive(Deserialize, Default)]
struct ReasonBody {
    #[serde(default)]
    reason: String,
}

async fn verdict(who: Who, id: i64, verdict: Verdict, body: Bytes) -> Result<StatusCode, Refusal> {
    let c = who.caller()?;
    let reason = optional_body::<ReasonBody>(&body)?.reason;
    blocking(&who.app, &c, move |app, c| {
        office::review(app, c, id, verdict, &reason)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn approve(who: Who, Path(id): Path<i64>, body: Bytes) -> Result<StatusCode, Refusal> {
    verdict(who, id, Verdict::Approve, body).await
}

async fn return_(who: Who, Path(id): Path<i64>, body: Bytes) -> Result<StatusCode, Refusal> {
    verdict(who, id, Verdict::Return, body).await
}

async fn unlock(who: Who, Path(id): Path<i64>, body: Bytes) -> Result<StatusCode, Refusal> {
    verdict(who, id, Verdict::Unlock, body).await
}

#[derive(Deserialize)]
struct ExplainBody {
    rule: String,
    #[serde(default)]
    cell: String,
    text: String,
}

async fn explain(
    who: Who,
    Path(id): Path<i64>,
    Json(body): Json<ExplainBody>,
) -> Result<Response, Refusal> {
    let c = who.caller()?;
    let eid = office::explain(&who.app, &c, id, &body.rule, &body.cell, &body.text)?;
    Ok((StatusCode::CREATED, Json(json!({"explanation": eid}))).into_response())
}

async fn accept_explanation(
    who: Who,
    Path((id, eid)): Path<(i64, i64)>,
) -> Result<StatusCode, Refusal> {
    let c = who.caller()?;
    office::accept(&who.app, &c, id, eid)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct PeriodBody {
    period: String,
}

async fn reminders(
    who: Who,
    Json(body): Json<PeriodBody>,
) -> Result<Json<office::Reminders>, Refusal> {
    let c = who.caller()?;
    let sent = blocking(&who.app, &c, move |app, c| {
        office::remind(app, c, &body.period)
    })
    .await?;
    Ok(Json(sent))
}

async fn consolidate(who: Who, Json(body): Json<PeriodBody>) -> Result<Json<Value>, Refusal> {
    let c = who.caller()?;
    let (summary, row) = blocking(&who.app, &c, move |app, c| {
        office::consolidate(app, c, &body.period)
    })
    .await?;
    Ok(Json(json!({
        "summary": summary,
        "workbook": format!("/api/v1/consolidations/{}/workbook", row.period),
    })))
}

async fn workbook(who: Who, Path(period): Path<String>) -> Result<Response, Refusal> {
    let c = who.caller()?;
    let (rel, name) = office::workbook(&who.app, &c, &period)?;
    download(&who.app, &c, &rel, &name, "download_workbook", &period)
}

#[derive(Deserialize, Default)]
struct SendBody {
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    incomplete: bool,
}

async fn send(who: Who, Path(period): Path<String>, body: Bytes) -> Result<Json<Value>, Refusal> {
    let c = who.caller()?;
    let body = optional_body::<SendBody>(&body)?;
    let o = blocking(&who.app, &c, move |app, c| {
        office::send(app, c, &period, body.to, body.incomplete)
    })
    .await?;
    Ok(Json(
        json!({"sent": true, "to": o.to, "cc": o.cc, "subject": o.subject}),
    ))
}
