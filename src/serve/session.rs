//! Who is asking. A session is a random 128-bit token in an `HttpOnly`,
//! `SameSite=Strict` cookie; the server keeps only its SHA-256, with the time
//! it was made and last used, and ends it after the idle or the absolute
//! timeout. Logins are throttled per account and per address, and every
//! attempt is in the audit log, as is what a caller does ([`audit`]).
//! Handlers take a [`Who`] and say which check they need of it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::model::unix_now;
use crate::read::sha256_hex;
use crate::serve::accounts;
use crate::serve::db::{AuditEntry, User};
use crate::serve::{App, Refusal, Shared};

/// The session cookie's name.
pub const COOKIE: &str = "zonestat_session";

/// Failed logins of one account within [`WINDOW`] before it is throttled.
pub const MAX_ACCOUNT_FAILURES: u32 = 5;
/// Failed logins from one address within [`WINDOW`] before it is throttled.
pub const MAX_ADDRESS_FAILURES: u32 = 20;
/// The throttling window, in seconds.
pub const WINDOW: i64 = 15 * 60;

/// The signed-in user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// The SHA-256 of the session token.
    pub token_hash: String,
    pub ip: String,
}

/// A request as a handler takes it: the portal, the request's cookies and
/// the address it came from. Taking it checks nothing; the handler asks for
/// the caller it needs ([`Who::signed_in`], [`Who::caller`]).
pub struct Who {
    pub app: Shared,
    headers: HeaderMap,
    /// The address the request came from.
    pub ip: String,
}

impl FromRequestParts<Shared> for Who {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Who, Response> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, app)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(Who {
            app: app.clone(),
            headers: parts.headers.clone(),
            ip: peer.ip().to_string(),
        })
    }
}

/// Why a request has no caller to act for; the API and the pages each say
/// it their way.
pub enum NoCaller {
    /// The database failed.
    Failed(Error),
    /// No live session: never logged in, logged out, or timed out.
    SignedOut,
    /// Signed in with a first password, which must be changed before anything else.
    FirstPassword,
}

impl Who {
    /// The caller of a live session, who may still have to change the first
    /// password (to do that, or to log out).
    pub fn signed_in(&self) -> Result<Caller, NoCaller> {
        match caller(&self.app, &self.headers, &self.ip) {
            Err(e) => Err(NoCaller::Failed(e)),
            Ok(None) => Err(NoCaller::SignedOut),
            Ok(Some(c)) => Ok(c),
        }
    }

    /// The caller past the first password: who may use the portal.
    pub fn caller(&self) -> Result<Caller, NoCaller> {
        let c = self.signed_in()?;
        if c.user.must_change {
            return Err(NoCaller::FirstPassword);
        }
        Ok(c)
    }
}

/// The session token of a request's cookie.
fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The caller of a request with a live session, or None.
///
/// # Errors
/// [`Error::Database`].
fn caller(app: &App, headers: &HeaderMap, ip: &str) -> Result<Option<Caller>, Error> {
    let Some(token) = token(headers) else {
        return Ok(None);
    };
    let hash = sha256_hex(token.as_bytes());
    let Some((user_id, created, seen)) = app.db.session(&hash)? else {
        return Ok(None);
    };
    let t = unix_now();
    let expired = t - seen > app.config.idle_timeout || t - created > app.config.absolute_timeout;
    let user = app.db.user(user_id)?;
    match user {
        Some(user) if !expired && !user.disabled => {
            app.db.touch_session(&hash, t)?;
            Ok(Some(Caller {
                user,
                token_hash: hash,
                ip: ip.to_string(),
            }))
        }
        _ => {
            app.db.remove_session(&hash)?;
            Ok(None)
        }
    }
}

/// A login: the account and its new session's cookie header, or why not.
pub type Login = Result<(User, HeaderValue), Refusal>;

/// Checks a name and password; on success starts a new session (a fresh
/// token, whatever the request carried) and gives the account and the
/// session's cookie header. `Ok(Err(_))` when the login is refused: 429
/// after too many failures lately, for the account or the address; 401 for
/// a wrong name or password (the same answer for both). Every attempt is
/// audited.
///
/// # Errors
/// [`Error::Database`].
pub fn login(app: &App, name: &str, password: &str, ip: &str) -> Result<Login, Error> {
    let t = unix_now();
    let audit = |outcome: &str| {
        app.db.audit(&AuditEntry {
            at: t,
            user: name.to_string(),
            action: "login".into(),
            target: String::new(),
            ip: ip.to_string(),
            outcome: outcome.to_string(),
        })
    };
    let (by_name, by_ip) = app.db.failures_since(name, ip, t - WINDOW)?;
    if by_name >= MAX_ACCOUNT_FAILURES || by_ip >= MAX_ADDRESS_FAILURES {
        audit("throttled")?;
        return Ok(Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            "登录失败次数过多，请 15 分钟后再试。",
        )));
    }
    let user = app.db.user_by_name(name)?;
    let hash = user
        .as_ref()
        .map_or(accounts::dummy_hash(), |u| u.password.as_str());
    let good = slow(|| accounts::verify_password(password, hash));
    match user {
        Some(user) if good && !user.disabled => {
            app.db.clear_failures(name)?;
            let cookie = new_session(app, user.id, t)?;
            audit("ok")?;
            Ok(Ok((user, cookie)))
        }
        _ => {
            app.db.add_failure(name, ip, t)?;
            audit("failed")?;
            Ok(Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "bad_login",
                "账户名或密码不正确。",
            )))
        }
    }
}

/// Ends the caller's session.
///
/// # Errors
/// [`Error::Database`].
pub fn logout(app: &App, caller: &Caller) -> Result<HeaderValue, Error> {
    app.db.remove_session(&caller.token_hash)?;
    record(app, caller, "logout", "", "ok")?;
    Ok(cookie(app, "", 0))
}

/// Changes the caller's password after checking the old one and the new
/// one's strength. Every session of the account ends; the caller gets a new
/// one (its cookie is returned). `Ok(Err(why))` when the change is refused.
///
/// # Errors
/// [`Error::Database`].
pub fn change_password(
    app: &App,
    caller: &Caller,
    old: &str,
    new: &str,
) -> Result<Result<HeaderValue, String>, Error> {
    let refuse = |why: String| {
        record(app, caller, "password", "", "refused")?;
        Ok(Err(why))
    };
    if !slow(|| accounts::verify_password(old, &caller.user.password)) {
        return refuse("原密码不正确".into());
    }
    if old == new {
        return refuse("新密码不能与原密码相同".into());
    }
    if let Some(why) = accounts::weakness(new, &caller.user.name) {
        return refuse(why);
    }
    app.db.set_password(
        caller.user.id,
        &slow(|| accounts::hash_password(new))?,
        false,
    )?;
    let cookie = new_session(app, caller.user.id, unix_now())?;
    record(app, caller, "password", "", "ok")?;
    Ok(Ok(cookie))
}

/// Starts a session of account `user_id` with a fresh token: its cookie.
fn new_session(app: &App, user_id: i64, at: i64) -> Result<HeaderValue, Error> {
    let token = accounts::random_hex::<16>();
    app.db
        .add_session(&sha256_hex(token.as_bytes()), user_id, at)?;
    Ok(cookie(app, &token, app.config.absolute_timeout))
}

/// Appends what `caller` did to the audit log.
///
/// # Errors
/// [`Error::Database`].
fn record(
    app: &App,
    caller: &Caller,
    action: &str,
    target: &str,
    outcome: &str,
) -> Result<(), Error> {
    app.db.audit(&AuditEntry {
        at: unix_now(),
        user: caller.user.name.clone(),
        action: action.into(),
        target: target.into(),
        ip: caller.ip.clone(),
        outcome: outcome.into(),
    })
}

/// Appends what `caller` did to the audit log; a failure to write it is
/// reported, not hidden (what was done stands).
pub fn audit(app: &App, caller: &Caller, action: &str, target: &str, outcome: &str) {
    if let Err(e) = record(app, caller, action, target, outcome) {
        eprintln!("无法写审计日志：{e}");
    }
}

/// The `Set-Cookie` value for a token (an empty token with age 0 clears it).
fn cookie(app: &App, token: &str, max_age: i64) -> HeaderValue {
    let secure = if app.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .expect("cookie of hex and ASCII words")
}

/// Argon2 takes tens of milliseconds by design: on the server's event loop,
/// the other requests of that thread are handed to the others meanwhile.
fn slow<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
