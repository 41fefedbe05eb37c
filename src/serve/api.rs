//! The JSON interface under `/api/v1` (PORTAL.md), for scripts and other
//! systems; the same sessions and rules as the pages. Every answer that is
//! not a success is `{"error": "<stable id>", "message": "<Chinese text>"}`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::model::Period;
use crate::serve::accounts::now;
use crate::serve::db::{AuditEntry, Role, Submission};
use crate::serve::office::{self, Refusal, Verdict};
use crate::serve::session::{self, Caller, Login};
use crate::serve::upload;
use crate::serve::{App, Shared};

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
            post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT_SLACK)),
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

/// The body limit of an upload request: far above any form; the catalogue's
/// `max_file_mb` is checked on the file itself (413 with its message).
pub const UPLOAD_LIMIT_SLACK: usize = 512 * 1024 * 1024;

/// An error answer.
pub fn error(status: StatusCode, id: &str, message: &str) -> Response {
    (status, Json(json!({"error": id, "message": message}))).into_response()
}

/// A failure of the server itself (the database): logged, and a plain answer.
fn internal(e: Error) -> Response {
    eprintln!("门户内部错误：{e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "服务器内部错误，请稍后再试；若一再出现，请联系管理员。",
    )
}

/// The signed-in caller, or the answer to give instead. A caller who must
/// change the first password may do only that (and log out).
pub fn require(
    app: &App,
    headers: &HeaderMap,
    peer: SocketAddr,
    allow_first_password: bool,
) -> Result<Caller, Response> {
    match session::caller(app, headers, &session::address(peer)) {
        Err(e) => Err(internal(e)),
        Ok(None) => Err(error(
            StatusCode::UNAUTHORIZED,
            "not_logged_in",
            "尚未登录或登录已过期，请重新登录。",
        )),
        Ok(Some(c)) if c.user.must_change && !allow_first_password => Err(error(
            StatusCode::FORBIDDEN,
            "password_change_required",
            "请先修改初始密码。",
        )),
        Ok(Some(c)) => Ok(c),
    }
}

/// The caller, who must be of the office.
fn require_office(app: &App, headers: &HeaderMap, peer: SocketAddr) -> Result<Caller, Response> {
    let c = require(app, headers, peer, false)?;
    if c.user.role != Role::Office {
        audit(app, &c, "forbidden", "", "refused");
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "只有统计科的账户可以这样做。",
        ));
    }
    Ok(c)
}

/// Appends to the audit log; a failure to write it is reported, not hidden.
pub fn audit(app: &App, c: &Caller, action: &str, target: &str, outcome: &str) {
    let entry = AuditEntry {
        at: now(),
        user: c.user.name.clone(),
        action: action.into(),
        target: target.into(),
        ip: c.ip.clone(),
        outcome: outcome.into(),
    };
    if let Err(e) = app.db.audit(&entry) {
        eprintln!("无法写审计日志：{e}");
    }
}

#[derive(Deserialize)]
struct LoginBody {
    user: String,
    password: String,
}

async fn login(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<LoginBody>,
) -> Response {
    match session::login(&app, &body.user, &body.password, &session::address(peer)) {
        Err(e) => internal(e),
        Ok(Login::Throttled) => error(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "登录失败次数过多，请 15 分钟后再试。",
        ),
        Ok(Login::Refused) => error(
            StatusCode::UNAUTHORIZED,
            "bad_login",
            "账户名或密码不正确。",
        ),
        Ok(Login::Ok(user, cookie)) => (
            [(header::SET_COOKIE, cookie)],
            Json(json!({
                "user": user.name,
                "role": user.role,
                "zone": user.zone,
                "must_change_password": user.must_change,
            })),
        )
            .into_response(),
    }
}

async fn logout(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let c = match require(&app, &headers, peer, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match session::logout(&app, &c) {
        Ok(cookie) => (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response(),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct PasswordBody {
    old: String,
    new: String,
}

async fn password(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<PasswordBody>,
) -> Response {
    let c = match require(&app, &headers, peer, true) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match session::change_password(&app, &c, &body.old, &body.new) {
        Err(e) => internal(e),
        Ok(Err(why)) => error(StatusCode::BAD_REQUEST, "weak_password", &why),
        Ok(Ok(cookie)) => (StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response(),
    }
}

async fn periods(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = require(&app, &headers, peer, false) {
        return r;
    }
    match app.db.periods() {
        Err(e) => internal(e),
        Ok(rows) => Json(
            rows.iter()
                .map(|p| {
                    json!({
                        "period": p.period,
                        "deadline": p.deadline,
                        "open": p.open,
                        "annual": p.period.ends_with("-12"),
                    })
                })
                .collect::<Vec<Value>>(),
        )
        .into_response(),
    }
}

#[derive(Deserialize)]
struct OpenBody {
    period: String,
    deadline: String,
}

async fn open_period(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<OpenBody>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match office::open_period(&app, &c, &body.period, &body.deadline) {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(r) => r.api(),
    }
}

async fn close_period(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(period): Path<String>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match office::close_period(&app, &c, &period) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r.api(),
    }
}

#[derive(Deserialize)]
struct PeriodQuery {
    period: Option<String>,
}

async fn status(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PeriodQuery>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(period) = q.period.as_deref().and_then(|p| p.parse::<Period>().ok()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_period",
            "请用 ?period=YYYY-MM 指定期别，例如 ?period=2020-06。",
        );
    };
    let grid = match crate::serve::pages::grid(&app, &c, period) {
        Ok(g) => g,
        Err(e) => return internal(e),
    };
    Json(json!({
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
    }))
    .into_response()
}

#[derive(Deserialize)]
struct AuditQuery {
    since: Option<i64>,
}

fn audit_log(
    app: &App,
    headers: &HeaderMap,
    peer: SocketAddr,
    since: i64,
) -> Result<Response, Response> {
    let c = require_office(app, headers, peer)?;
    audit(app, &c, "audit_read", "", "ok");
    let rows = app.db.audit_since(since).map_err(internal)?;
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
            .collect::<Vec<Value>>(),
    )
    .into_response())
}

async fn audit_get(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    audit_log(&app, &headers, peer, q.since.unwrap_or(0)).unwrap_or_else(|r| r)
}

/// The file of a multipart upload (field `file`), within the catalogue's
/// size limit: its name and bytes, or the answer to give.
pub async fn upload_field(app: &App, mut form: Multipart) -> Result<(String, Vec<u8>), Response> {
    let limit = app.cat.limits.max_file_bytes();
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!(
                "文件超过 {} MB 的上限。报表文件通常只有几十 KB，请确认是否选错了文件。",
                app.cat.limits.max_file_mb
            ),
        )
    };
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "no_file",
                    "请求中没有文件（表单字段 file）。",
                ));
            }
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => {
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "bad_upload",
                    "上传的内容不完整，请重新上传。",
                ));
            }
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_string();
        let mut field = field;
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > limit {
                        return Err(too_large());
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "bad_upload",
                        "上传的内容不完整，请重新上传。",
                    ));
                }
            }
        }
        return Ok((name, bytes));
    }
}

/// Receives an upload off the event loop; the submission or the answer to give.
pub async fn take_upload(
    app: &Shared,
    c: &Caller,
    name: String,
    bytes: Vec<u8>,
) -> Result<Submission, Response> {
    let (app2, c2) = (app.clone(), c.clone());
    let done =
        tokio::task::spawn_blocking(move || upload::receive(&app2, &c2, &name, &bytes)).await;
    match done {
        Ok(Ok(s)) => {
            let outcome = if s.locked_by.is_some() {
                "refused: locked"
            } else {
                &s.status
            };
            audit(app, c, "upload", &format!("submission {}", s.id), outcome);
            Ok(s)
        }
        Ok(Err(Error::ArchiveBusy { .. })) => Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "统计科正在归档报表，请过一两分钟重新上传。",
        )),
        Ok(Err(e)) => Err(internal(e)),
        Err(_) => Err(internal(Error::Serve("上传处理中断".into()))),
    }
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

async fn upload(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (name, bytes) = match upload_field(&app, form).await {
        Ok(x) => x,
        Err(r) => {
            audit(&app, &c, "upload", "", "refused");
            return r;
        }
    };
    match take_upload(&app, &c, name, bytes).await {
        // A locked form: the refusal with the error of PORTAL.md (409).
        Ok(s) if s.locked_by.is_some() => {
            let mut v = submission_json(&s, true);
            v["error"] = "locked".into();
            v["message"] = s.reason.clone().into();
            (StatusCode::CONFLICT, Json(v)).into_response()
        }
        Ok(s) => Json(submission_json(&s, true)).into_response(),
        Err(r) => r,
    }
}

async fn submissions(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PeriodQuery>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app
        .db
        .submissions(upload::own_zone(&c).as_deref(), q.period.as_deref())
    {
        Err(e) => internal(e),
        Ok(rows) => Json(
            rows.iter()
                .map(|s| submission_json(s, false))
                .collect::<Vec<_>>(),
        )
        .into_response(),
    }
}

/// The submission `id` if the caller may see it; another zone's answers 404,
/// exactly as one that does not exist.
pub fn visible_submission(app: &App, c: &Caller, id: i64) -> Result<Submission, Response> {
    match app.db.submission(id) {
        Err(e) => Err(internal(e)),
        Ok(Some(s)) if upload::visible(c, &s) => Ok(s),
        Ok(_) => {
            audit(
                app,
                c,
                "submission_read",
                &format!("submission {id}"),
                "not_found",
            );
            Err(error(
                StatusCode::NOT_FOUND,
                "not_found",
                "没有这份报送记录。",
            ))
        }
    }
}

async fn submission(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match visible_submission(&app, &c, id) {
        Ok(s) => {
            let mut v = submission_json(&s, true);
            match app.db.explanations(Some(s.id), None) {
                Ok(rows) => {
                    v["explanations"] = rows
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
                }
                Err(e) => return internal(e),
            }
            match office::reviews_of(&app, &s) {
                Ok(rows) => {
                    v["review"] = rows
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
                }
                Err(e) => return internal(e),
            }
            Json(v).into_response()
        }
        Err(r) => r,
    }
}

/// A download of a stored file with a safe Chinese file name.
pub fn download(
    app: &App,
    c: &Caller,
    rel: &str,
    name: &str,
    what: &str,
    target: &str,
) -> Response {
    let Some(path) = upload::portal_file(&app.config.data, rel) else {
        return error(StatusCode::NOT_FOUND, "not_found", "文件不存在。");
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            audit(app, c, what, target, "ok");
            let disposition = upload::attachment(name);
            (
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                bytes,
            )
                .into_response()
        }
        Err(_) => error(StatusCode::NOT_FOUND, "not_found", "文件不存在。"),
    }
}

async fn submission_file(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match visible_submission(&app, &c, id) {
        Ok(s) => download(
            &app,
            &c,
            &s.stored,
            &s.file_name,
            "download_file",
            &format!("submission {id}"),
        ),
        Err(r) => r,
    }
}

async fn submission_feedback(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match visible_submission(&app, &c, id) {
        Ok(s) => match &s.feedback {
            Some(rel) => {
                let name = rel.rsplit('/').next().unwrap_or("反馈.xlsx").to_string();
                download(
                    &app,
                    &c,
                    rel,
                    &name,
                    "download_feedback",
                    &format!("submission {id}"),
                )
            }
            None => error(
                StatusCode::NOT_FOUND,
                "no_feedback",
                "这份报送没有反馈表（没有错误）。",
            ),
        },
        Err(r) => r,
    }
}

/// Runs blocking office work off the event loop.
async fn blocking<T: Send + 'static>(
    app: &Shared,
    c: &Caller,
    f: impl FnOnce(&App, &Caller) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    let (app, c) = (app.clone(), c.clone());
    tokio::task::spawn_blocking(move || f(&app, &c))
        .await
        .unwrap_or_else(|_| Err(Error::Serve("处理中断".into()).into()))
}

/// An optional JSON body: none (or empty) is the default.
fn optional_body<T: Default + serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Response> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|_| {
        error(
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

async fn verdict(
    app: Shared,
    peer: SocketAddr,
    headers: HeaderMap,
    id: i64,
    verdict: Verdict,
    body: axum::body::Bytes,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let reason = match optional_body::<ReasonBody>(&body) {
        Ok(b) => b.reason,
        Err(r) => return r,
    };
    match blocking(&app, &c, move |app, c| {
        office::review(app, c, id, verdict, &reason)
    })
    .await
    {
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r.api(),
    }
}

async fn approve(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    verdict(app, peer, headers, id, Verdict::Approve, body).await
}

async fn return_(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    verdict(app, peer, headers, id, Verdict::Return, body).await
}

async fn unlock(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Response {
    verdict(app, peer, headers, id, Verdict::Unlock, body).await
}

#[derive(Deserialize)]
struct ExplainBody {
    rule: String,
    #[serde(default)]
    cell: String,
    text: String,
}

async fn explain(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(body): Json<ExplainBody>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match office::explain(&app, &c, id, &body.rule, &body.cell, &body.text) {
        Ok(eid) => (StatusCode::CREATED, Json(json!({"explanation": eid}))).into_response(),
        Err(r) => r.api(),
    }
}

async fn accept_explanation(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, eid)): Path<(i64, i64)>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match office::accept(&app, &c, id, eid) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(r) => r.api(),
    }
}

#[derive(Deserialize)]
struct PeriodBody {
    period: String,
}

async fn reminders(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<PeriodBody>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match blocking(&app, &c, move |app, c| office::remind(app, c, &body.period)).await {
        Ok(r) => Json(r).into_response(),
        Err(r) => r.api(),
    }
}

async fn consolidate(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(body): Json<PeriodBody>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match blocking(&app, &c, move |app, c| {
        office::consolidate(app, c, &body.period)
    })
    .await
    {
        Ok((summary, row)) => Json(json!({
            "summary": summary,
            "workbook": format!("/api/v1/consolidations/{}/workbook", row.period),
        }))
        .into_response(),
        Err(r) => r.api(),
    }
}

async fn workbook(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(period): Path<String>,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match office::workbook(&app, &c, &period) {
        Ok((rel, name)) => download(&app, &c, &rel, &name, "download_workbook", &period),
        Err(r) => r.api(),
    }
}

#[derive(Deserialize, Default)]
struct SendBody {
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    incomplete: bool,
}

async fn send(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(period): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let c = match require(&app, &headers, peer, false) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let body = match optional_body::<SendBody>(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match blocking(&app, &c, move |app, c| {
        office::send(app, c, &period, body.to, body.incomplete)
    })
    .await
    {
        Ok(o) => Json(json!({"sent": true, "to": o.to, "cc": o.cc, "subject": o.subject}))
            .into_response(),
        Err(r) => r.api(),
    }
}
