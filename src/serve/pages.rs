//! The pages people use: log in, change the first password, the zone's own
//! page (the open periods and the forms it owes) and the office's status
//! grid (`grid`; the office's forms are in `desk`). Server-rendered HTML that
//! works without JavaScript; the style sheet is embedded in the binary (the
//! office's intranet has no internet).

use std::fmt::Write as _;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::error::Error;
use crate::model::Period;
use crate::serve::db::Role;
use crate::serve::grid::grid;
use crate::serve::session::{self, Caller, Who};
use crate::serve::view::{Page, bare, esc, failure, page, require, signed_in};
use crate::serve::{App, Refusal, Shared, desk, upload, view};

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("upload.js");

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(password))
        .route(
            "/assets/style.css",
            get(|| asset("text/css; charset=utf-8", STYLE)),
        )
        .route(
            "/assets/upload.js",
            get(|| asset("text/javascript; charset=utf-8", SCRIPT)),
        )
        .route(
            "/upload",
            post(upload).layer(DefaultBodyLimit::max(upload::LIMIT_SLACK)),
        )
        .route("/submissions/{id}", get(submission))
        .merge(desk::routes())
}

/// A file of the binary's own, which browsers may keep for an hour.
async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn upload(who: Who, form: Multipart) -> Page {
    let c = require(&who)?;
    let refused = |r: Refusal| {
        // The API's answer gives the refusal's own message; the page says in
        // place what may have gone wrong.
        (
            r.status,
            page(
                "上传未完成",
                Some(&c),
                r#"<p class="error" role="alert">上传未完成：文件太大、不完整或没有选择文件。请检查后重新上传。</p><p><a href="/">返回</a></p>"#,
            ),
        )
            .into_response()
    };
    let (name, bytes) = upload::file_field(&who.app, form).await.map_err(refused)?;
    let s = upload::take(&who.app, &c, name, bytes)
        .await
        .map_err(refused)?;
    Ok(Redirect::to(&format!("/submissions/{}", s.id)).into_response())
}

async fn submission(who: Who, Path(id): Path<i64>) -> Page {
    let c = require(&who)?;
    let app = &who.app;
    let Ok(s) = upload::visible_submission(app, &c, id) else {
        return Ok(bare(StatusCode::NOT_FOUND, "没有这份报送记录", &c));
    };
    let (verdict, class) = view::verdict(&s);
    let mut body = format!(
        r#"<div class="verdict {class}" role="status">{}</div>"#,
        esc(verdict)
    );
    if !s.reason.is_empty() {
        let _ = write!(body, r#"<p>{}</p>"#, esc(&s.reason));
    }
    let _ = write!(
        body,
        r#"<p class="small">文件 {}（{} 字节，SHA-256 {}）· {} · {} 上传于 {}{}</p>"#,
        esc(&s.file_name),
        s.size,
        esc(&s.sha256[..s.sha256.len().min(12)]),
        esc(&view::reporter_name(&s, &app.cat)),
        esc(&s.user_name),
        esc(&view::local_time(s.uploaded_at)),
        if s.late { "（逾期）" } else { "" }
    );
    if !s.forms.is_empty() {
        let _ = write!(
            body,
            "<p>报表：{}　期别：{}</p>",
            esc(&s.forms.join("、")),
            esc(s.period.as_deref().unwrap_or("（未识别）"))
        );
    }
    if let Some(to) = &s.filed_as {
        let _ = write!(body, r#"<p class="small">已归档为 {}</p>"#, esc(to));
    }
    let review = desk::review_box(app, &c, &s).map_err(failure)?;
    let explained = desk::explanations_box(app, &c, &s).map_err(failure)?;
    body.push_str(&review);
    body.push_str("<h2>检查结果</h2>");
    body.push_str(&view::findings_table(&s));
    body.push_str(&explained);
    body.push_str("<p>");
    if s.feedback.is_some() {
        let _ = write!(
            body,
            r#"<a href="/api/v1/submissions/{id}/feedback" id="feedback">下载反馈表（问题单元格已标红并附批注）</a>　"#
        );
    }
    let _ = write!(
        body,
        r#"<a href="/api/v1/submissions/{id}/file">下载上传的原文件</a>　<a href="/">返回</a></p>"#
    );
    Ok(page(&format!("报送记录 #{id}"), Some(&c), &body).into_response())
}

/// A form's refusal above it, when there is one.
fn alert(message: Option<&str>) -> String {
    message.map_or(String::new(), |m| {
        format!(r#"<p class="error" role="alert">{}</p>"#, esc(m))
    })
}

fn login_form(message: Option<&str>) -> Html<String> {
    let note = alert(message);
    page(
        "登录",
        None,
        &format!(
            r#"{note}<form method="post" action="/login" class="box">
<label>账户名 <input name="user" autocomplete="username" required autofocus></label>
<label>密码 <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">登录</button></form>
<p class="hint">没有账户或忘记密码，请联系统计科。</p>"#
        ),
    )
}

async fn login_page() -> Html<String> {
    login_form(None)
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
}

async fn login(who: Who, Form(f): Form<LoginForm>) -> Page {
    match session::login(&who.app, &f.user, &f.password, &who.ip).map_err(failure)? {
        Err(r) => Ok((r.status, login_form(Some(&r.message))).into_response()),
        Ok((user, cookie)) => {
            let to = if user.must_change { "/password" } else { "/" };
            Ok(([(header::SET_COOKIE, cookie)], Redirect::to(to)).into_response())
        }
    }
}

async fn logout(who: Who) -> Page {
    let c = signed_in(&who)?;
    let cookie = session::logout(&who.app, &c).map_err(failure)?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response())
}

fn password_form(c: &Caller, message: Option<&str>) -> Html<String> {
    let first = if c.user.must_change {
        r#"<p class="notice">这是管理员为您设置的初始密码，请先改成只有您知道的新密码。</p>"#
    } else {
        ""
    };
    let note = alert(message);
    page(
        "修改密码",
        Some(c),
        &format!(
            r#"{first}{note}<form method="post" action="/password" class="box">
<label>原密码 <input name="old" type="password" autocomplete="current-password" required></label>
<label>新密码 <input name="new" type="password" autocomplete="new-password" required minlength="{min}"></label>
<label>再输入一次新密码 <input name="again" type="password" autocomplete="new-password" required></label>
<button type="submit">修改密码</button></form>
<p class="hint">新密码至少 {min} 个字符，混用字母、数字或符号中的至少两种，不能包含账户名。</p>"#,
            min = crate::serve::accounts::MIN_PASSWORD_CHARS
        ),
    )
}

async fn password_page(who: Who) -> Page {
    let c = signed_in(&who)?;
    Ok(password_form(&c, None).into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    old: String,
    new: String,
    again: String,
}

async fn password(who: Who, Form(f): Form<PasswordForm>) -> Page {
    let c = signed_in(&who)?;
    let refused =
        |why: &str| (StatusCode::BAD_REQUEST, password_form(&c, Some(why))).into_response();
    if f.new != f.again {
        return Ok(refused("两次输入的新密码不一致。"));
    }
    match session::change_password(&who.app, &c, &f.old, &f.new).map_err(failure)? {
        Ok(cookie) => Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()),
        Err(why) => Ok(refused(&why)),
    }
}

const UPLOAD_FORM: &str = r#"<h2>上传报表</h2>
<form id="upload" method="post" action="/upload" enctype="multipart/form-data">
<div id="drop"><p>把填好的报表（xlsx、xls、ods、xlsb）拖到这里，或者</p>
<label>选择文件 <input type="file" name="file" required accept=".xlsx,.xlsm,.xls,.ods,.xlsb,.et"></label>
<p id="chosen" class="small"></p>
<button type="submit">上传并检查</button></div></form>
<script src="/assets/upload.js"></script>"#;

#[derive(Deserialize)]
struct HomeQuery {
    period: Option<String>,
}

async fn home(who: Who, Query(q): Query<HomeQuery>) -> Page {
    let c = require(&who)?;
    let (title, body) = home_body(&who.app, &c, q.period.as_deref()).map_err(failure)?;
    Ok(page(&title, Some(&c), &body).into_response())
}

fn home_body(app: &App, c: &Caller, asked: Option<&str>) -> Result<(String, String), Error> {
    let periods = app.db.periods()?;
    let mut body = String::new();
    let chosen: Option<Period> = asked
        .and_then(|p| p.parse().ok())
        .or_else(|| {
            periods
                .iter()
                .find(|p| p.open)
                .and_then(|p| p.period.parse().ok())
        })
        .or_else(|| periods.first().and_then(|p| p.period.parse().ok()));
    if periods.is_empty() {
        body.push_str(r#"<p class="notice">统计科还没有开放任何一期的报送。</p>"#);
    } else {
        body.push_str(r#"<nav class="periods" aria-label="期别">"#);
        for p in &periods {
            let current = chosen.is_some_and(|x| x.to_string() == p.period);
            let _ = write!(
                body,
                r#"<a href="/?period={0}"{1}>{0}{2}</a> "#,
                esc(&p.period),
                if current {
                    r#" aria-current="page""#
                } else {
                    ""
                },
                if p.open {
                    "（报送中）"
                } else {
                    "（已截止）"
                }
            );
        }
        body.push_str("</nav>");
    }
    let Some(period) = chosen else {
        if c.user.role == Role::Office {
            body.push_str(&desk::office_box(app, None, false)?);
        }
        return Ok(("报送情况".into(), body));
    };
    let grid = grid(app, c, period)?;
    let _ = write!(
        body,
        r#"<p>期别 <strong>{}</strong>（{}），截止日期 {}，{}。</p>"#,
        period,
        period.label(),
        grid.deadline.as_deref().map_or("未设".into(), esc),
        if grid.open {
            "正在报送"
        } else {
            "不接受报送"
        }
    );
    body.push_str(r#"<table class="grid"><thead><tr><th scope="col">填报单位</th>"#);
    for f in &grid.forms {
        let _ = write!(body, r#"<th scope="col">{}</th>"#, esc(f));
    }
    body.push_str("</tr></thead><tbody>");
    let mut rows: Vec<(&str, &str)> = Vec::new();
    for cell in &grid.cells {
        if !rows.iter().any(|(code, _)| *code == cell.code) {
            rows.push((&cell.code, &cell.name));
        }
    }
    for (code, name) in rows {
        let _ = write!(body, r#"<tr><th scope="row">{}</th>"#, esc(name));
        for f in &grid.forms {
            match grid.cells.iter().find(|x| x.code == code && &x.form == f) {
                Some(cell) => {
                    let (label, class) = cell.label();
                    let late = if cell.late(grid.deadline.as_deref()) {
                        "（逾期）"
                    } else {
                        ""
                    };
                    match (cell.by_inbox(), &cell.latest) {
                        (Some(f), _) => {
                            let _ = write!(
                                body,
                                r#"<td class="{class}">{label}{late}<br><span class="small" title="{}">{} {}</span></td>"#,
                                esc(&f.file),
                                esc(&view::local_time(f.at)),
                                f.source.label()
                            );
                        }
                        (None, Some((id, at, who, _))) => {
                            let _ = write!(
                                body,
                                r#"<td class="{class}"><a href="/submissions/{id}">{label}</a>{late}<br><span class="small">{} {}</span></td>"#,
                                esc(&view::local_time(*at)),
                                esc(who)
                            );
                        }
                        (None, None) => {
                            let _ = write!(
                                body,
                                r#"<td class="{class}">{label}{}</td>"#,
                                if cell.overdue { "（逾期）" } else { "" }
                            );
                        }
                    }
                }
                None => body.push_str(r#"<td class="none">—</td>"#),
            }
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table>");
    if c.user.role != Role::Office && grid.open {
        body.push_str(UPLOAD_FORM);
    }
    if c.user.role == Role::Office {
        body.push_str(&desk::office_box(app, Some(period), grid.open)?);
    } else {
        body.insert_str(0, &desk::returned_notice(app, c, period)?);
    }
    let own = upload::own_zone(c);
    let history = app
        .db
        .submissions(own.as_deref(), Some(&period.to_string()))?;
    body.push_str("<h2>上传记录</h2>");
    body.push_str(&view::history_table(
        &history,
        &app.cat,
        c.user.role == Role::Office,
    ));
    body.push_str(&crate::serve::grid::inbox_table(
        &grid.cells,
        c.user.role == Role::Office,
    ));
    let title = match c.user.role {
        Role::Office => "各单位报送情况".to_string(),
        Role::Zone => {
            let zone = c
                .user
                .zone
                .as_deref()
                .and_then(|z| app.cat.zone(z))
                .map_or(String::new(), |z| z.short.clone());
            format!("{zone}报送情况")
        }
        Role::City => format!("{}报送情况", app.cat.city.reporter),
    };
    Ok((title, body))
}
