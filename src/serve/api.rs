//! The JSON interface under `/api/v1` (PORTAL.md), for scripts and other
//! systems; the same sessions and rules as the pages. Every answer that is
//! not a success is `{"error": "<stable id>", "message": "<Chinese text>"}`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::model::Period;
use crate::serve::accounts::now;
use crate::serve::db::{AuditEntry, Role};
use crate::serve::session::{self, Caller, Login};
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
}

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
    let c = match require_office(&app, &headers, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Ok(period) = body.period.parse::<Period>() else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_period",
            "期别应写成 YYYY-MM，例如 2020-06。",
        );
    };
    if !is_date(&body.deadline) {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_deadline",
            "截止日期应写成 YYYY-MM-DD，例如 2020-07-10。",
        );
    }
    match app
        .db
        .open_period(&period.to_string(), &body.deadline, now())
    {
        Err(e) => internal(e),
        Ok(()) => {
            audit(&app, &c, "period_open", &period.to_string(), "ok");
            StatusCode::CREATED.into_response()
        }
    }
}

async fn close_period(
    State(app): State<Shared>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(period): Path<String>,
) -> Response {
    let c = match require_office(&app, &headers, peer) {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.db.close_period(&period) {
        Err(e) => internal(e),
        Ok(false) => error(StatusCode::NOT_FOUND, "no_period", "没有这一期。"),
        Ok(true) => {
            audit(&app, &c, "period_close", &period, "ok");
            StatusCode::NO_CONTENT.into_response()
        }
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
            "submission": null,
            "late": false,
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

/// `YYYY-MM-DD` with a real month and day.
fn is_date(s: &str) -> bool {
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
