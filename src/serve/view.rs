//! How things read for people: the page frame (a page around a body, text
//! made safe for HTML, refusals and failures as pages), a submission's
//! verdict, its findings with sheet and A1 cell, and the zone's history (the
//! API answers the same records as JSON); and the units' names and the
//! Beijing times that the office's mails and the uploads' reasons say too.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::Value;

use crate::catalog::Catalogue;
use crate::error::Error;
use crate::serve::db::Submission;
use crate::serve::session::{Caller, NoCaller, Who};

/// The verdict as a sentence and its CSS class.
pub fn verdict(s: &Submission) -> (&'static str, &'static str) {
    match s.status.as_str() {
        "accepted" => ("已通过检查并归档", "accepted"),
        "rejected" => ("有错误，未采用：请按下面的问题修改后重新上传", "rejected"),
        _ => ("未受理", "refused"),
    }
}

/// The name shown for a zone code or `city`.
pub fn unit_name(cat: &Catalogue, code: &str) -> String {
    if code == "city" {
        return cat.city.reporter.clone();
    }
    cat.zone_short(code)
}

/// Who filled in a submission's forms, as a name.
pub fn reporter_name(s: &Submission, cat: &Catalogue) -> String {
    s.zone
        .as_deref()
        .map_or("（未识别）".into(), |code| unit_name(cat, code))
}

/// The findings table of a submission (errors and warnings first, as stored).
pub fn findings_table(s: &Submission) -> String {
    let findings: Vec<Value> = serde_json::from_str(&s.findings).unwrap_or_default();
    if findings.is_empty() {
        return r#"<p class="small">没有发现问题。</p>"#.into();
    }
    let mut out = String::from(
        r#"<table class="findings"><thead><tr><th scope="col">级别</th><th scope="col">位置</th><th scope="col">指标</th><th scope="col">发现</th><th scope="col">应为</th><th scope="col">说明</th></tr></thead><tbody>"#,
    );
    let text = |v: &Value| v.as_str().map(esc).unwrap_or_default();
    for f in &findings {
        let (label, class) = match f["severity"].as_str() {
            Some("error") => ("错误", "sev-error"),
            Some("warning") => ("警告", "sev-warning"),
            _ => ("提示", "sev-info"),
        };
        let place = match (f["sheet"].as_str(), f["cell"].as_str()) {
            (Some(sheet), Some(cell)) => format!("{}!{}", esc(sheet), esc(cell)),
            (Some(sheet), None) => esc(sheet),
            _ => String::new(),
        };
        let mut indicator = text(&f["indicator"]);
        if let Some(n) = f["indicator_name"].as_str() {
            let _ = write!(indicator, " {}", esc(n));
        }
        if let Some(c) = f["column"].as_str() {
            let _ = write!(indicator, "「{}」", esc(c));
        }
        let _ = write!(
            out,
            r#"<tr><td class="{class}">{label}</td><td class="cell">{place}</td><td>{indicator}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            text(&f["found"]),
            text(&f["expected"]),
            text(&f["message"])
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// The history table: one row a submission, newest first, each linking to its page.
pub fn history_table(subs: &[Submission], cat: &Catalogue, show_zone: bool) -> String {
    if subs.is_empty() {
        return r#"<p class="small">还没有上传过报表。</p>"#.into();
    }
    let mut out =
        String::from(r#"<table class="findings"><thead><tr><th scope="col">上传时间</th>"#);
    if show_zone {
        out.push_str(r#"<th scope="col">填报单位</th>"#);
    }
    out.push_str(r#"<th scope="col">文件</th><th scope="col">报表</th><th scope="col">期别</th><th scope="col">结果</th><th scope="col">上传人</th></tr></thead><tbody>"#);
    for s in subs {
        let (label, class) = verdict(s);
        let _ = write!(out, r#"<tr><td>{}</td>"#, esc(&local_time(s.uploaded_at)));
        if show_zone {
            let _ = write!(out, "<td>{}</td>", esc(&reporter_name(s, cat)));
        }
        let _ = write!(
            out,
            r#"<td><a href="/submissions/{id}">{}</a></td><td>{}</td><td>{}</td><td class="{class}">{}</td><td>{}</td></tr>"#,
            esc(&s.file_name),
            esc(&s.forms.join("、")),
            esc(s.period.as_deref().unwrap_or("—")),
            if class == "accepted" {
                "已通过"
            } else if class == "rejected" {
                "有错误"
            } else {
                label
            },
            esc(&s.user_name),
            id = s.id,
        );
    }
    out.push_str("</tbody></table>");
    out
}

/// Unix seconds as Beijing time, `YYYY-MM-DD hh:mm`.
pub fn local_time(secs: i64) -> String {
    let (iso, _) = crate::intake::utc_stamp(secs + 8 * 3600);
    format!("{} {}", &iso[..10], &iso[11..16])
}

/// The Beijing date of a moment, `YYYY-MM-DD` (deadlines are dates there).
pub fn local_date(secs: i64) -> String {
    crate::intake::utc_stamp(secs + 8 * 3600).0[..10].to_string()
}

/// Text made safe for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A page with only a way back: a refusal by its title.
pub fn bare(status: StatusCode, title: &str, c: &Caller) -> Response {
    let body = r#"<p><a href="/">返回</a></p>"#;
    (status, page(title, Some(c), body)).into_response()
}

/// A whole page: the header with who is signed in, then `body`.
pub fn page(title: &str, caller: Option<&Caller>, body: &str) -> Html<String> {
    let who = caller.map_or(String::new(), |c| {
        format!(
            r#"<span class="who">{}（{}）</span><form method="post" action="/logout" class="inline"><button type="submit">退出</button></form>"#,
            esc(&c.user.name),
            c.user.role.label()
        )
    });
    Html(format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} · 开发区统计报表收集门户</title><link rel="stylesheet" href="/assets/style.css"></head>
<body><header><a href="/" class="brand">开发区统计报表收集门户</a><nav>{who}</nav></header>
<main><h1>{}</h1>
{body}
</main></body></html>"#,
        esc(title),
        esc(title)
    ))
}

/// A page's answer: the page, or where the request goes instead (a refusal,
/// the login page).
pub type Page = Result<Response, Response>;

/// No caller, as the pages say it: to the login page without a live
/// session, to the password page before the first password is changed.
fn away(n: NoCaller) -> Response {
    match n {
        NoCaller::Failed(e) => failure(e),
        NoCaller::SignedOut => Redirect::to("/login").into_response(),
        NoCaller::FirstPassword => Redirect::to("/password").into_response(),
    }
}

/// The caller of a live session (who may still have to change the first
/// password), or a redirect to the login page.
pub fn signed_in(who: &Who) -> Result<Caller, Response> {
    who.signed_in().map_err(away)
}

/// The caller past the first password, or a redirect to the login or the
/// password page.
pub fn require(who: &Who) -> Result<Caller, Response> {
    who.caller().map_err(away)
}

pub fn failure(e: Error) -> Response {
    eprintln!("门户内部错误：{e}");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        page(
            "出错了",
            None,
            "<p>服务器内部错误，请稍后再试；若一再出现，请联系管理员。</p>",
        ),
    )
        .into_response()
}
