//! `zonestat serve`: the collection portal (PORTAL.md). A library with a
//! door: the handlers are thin and call the same functions as the commands;
//! state lives in the database (`db`) and the archive, never only in memory.
//! The only place that knows axum.
//!
//! - `db`: the SQLite records (accounts, sessions, periods, audit)
//! - `accounts`: passwords and the `zonestat user` commands
//! - `session`: who is asking: the session cookie, timeouts, throttling, the
//!   audit log's lines of a caller
//! - `office`: what the statistics office does: periods, approval, return,
//!   unlock, explanations, reminders, consolidation and sending
//! - `upload`: what happens to an uploaded file, for the API and the pages;
//!   `filed`: how each form came into the archive
//! - `api`: the JSON interface under `/api/v1`
//! - `pages`: the server-rendered pages for people; `desk`: the office's forms on them;
//!   `dashboard`: the office's charts and the history of every period;
//!   `view`: how a submission reads on them
//! - `tls`: https with rustls, when `[serve]` names a certificate and key
//!
//! Every handler takes a `session::Who` and says which caller it needs; a
//! request the portal says no to is a [`Refusal`], which the API answers as
//! JSON and the pages as a page.

// A refusal is an HTTP answer like any other: handlers pass a `Refusal` (the
// API) or a `Response` (the pages) back as errors, and their size does not
// matter beside the network.
#![allow(clippy::result_large_err)]

pub mod accounts;
mod api;
mod dashboard;
pub mod db;
mod desk;
mod filed;
mod grid;
mod office;
mod pages;
mod session;
mod tls;
mod upload;
mod view;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};

use crate::catalog::Catalogue;
use crate::error::Error;
use db::Db;

/// A request the portal says no to: the status, a stable id and a message
/// for a person. The API answers it as JSON (`api`), the pages as a page.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub id: &'static str,
    pub message: String,
}

impl Refusal {
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            id,
            message: message.into(),
        }
    }
}

/// A failure of the server itself (the database, the archive): logged, and
/// a plain answer.
impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        eprintln!("门户内部错误：{e}");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，请稍后再试；若一再出现，请联系管理员。",
        )
    }
}

/// How the portal runs (the `[serve]` settings, resolved).
#[derive(Debug, Clone)]
pub struct Config {
    /// The data folder: the archive, and the database in it.
    pub data: PathBuf,
    /// Where to listen, e.g. 127.0.0.1:8080.
    pub listen: SocketAddr,
    /// A session unused this long ends (seconds).
    pub idle_timeout: i64,
    /// A session ends this long after login whatever happens (seconds).
    pub absolute_timeout: i64,
    /// Cookies marked `Secure` (the portal is served over TLS, or behind a
    /// proxy that is). Always under TLS.
    pub secure_cookies: bool,
    /// `[mail]`: reminders, return notices and the workbook go out through
    /// it, as with `zonestat send` (password from `ZONESTAT_SMTP_PASSWORD`).
    pub mail: crate::settings::Mail,
    /// Reminders go out by themselves this many days before a deadline.
    pub remind_days_before: Option<u32>,
    /// The certificate chain and private key (PEM files): both given, the
    /// portal serves https.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Config {
    /// The TLS configuration, when a certificate and a key are given.
    ///
    /// # Errors
    /// [`Error::Serve`] naming the file when one is missing, unreadable or
    /// unusable, or when only one of the two is given.
    fn tls(&self) -> Result<Option<Arc<tokio_rustls::rustls::ServerConfig>>, Error> {
        match (&self.tls_cert, &self.tls_key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => tls::load(cert, key).map(Some),
            (Some(cert), None) => Err(Error::Serve(format!(
                "[serve] 设置了 tls_cert（{}）但没有设置 tls_key：https 需要证书和私钥两个文件，请补上 tls_key，或把两项都去掉。",
                cert.display()
            ))),
            (None, Some(key)) => Err(Error::Serve(format!(
                "[serve] 设置了 tls_key（{}）但没有设置 tls_cert：https 需要证书和私钥两个文件，请补上 tls_cert，或把两项都去掉。",
                key.display()
            ))),
        }
    }
}

/// What every handler shares.
pub struct App {
    pub db: Db,
    pub cat: Catalogue,
    pub config: Config,
    /// The accounts whose upload is being read now: one at a time each, so
    /// that one account's crafted files cannot hold every reader worker.
    pub uploading: upload::InFlight,
}

type Shared = Arc<App>;

/// The portal's routes, with the security layers around them.
pub fn router(app: Shared) -> Router {
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .layer(middleware::from_fn(refuse_cross_site))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// Opens the database and serves until Ctrl-C or SIGTERM. Prints the
/// address once it listens (a test or a service manager may wait for it).
///
/// # Errors
/// [`Error::Database`] when the database cannot be opened, [`Error::Serve`]
/// when the address cannot be listened on.
pub fn run(mut config: Config, cat: Catalogue) -> Result<(), Error> {
    let tls = config.tls()?;
    if tls.is_some() {
        config.secure_cookies = true;
    }
    let db = Db::open(&config.data)?;
    // Every upload reads its period's folder (under the archive's lock) and
    // the periods it is compared with: files unchanged since the last
    // upload are not read again.
    crate::folder::cache::enable();
    return_large_allocations();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Serve(format!("无法启动服务：{e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| {
                Error::Serve(format!(
                    "无法在 {} 上监听：{}。请检查 [serve] 的 address 和 port，或该端口是否已被占用。",
                    config.listen,
                    crate::error::io_message(&e)
                ))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Serve(crate::error::io_message(&e)))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("报表收集门户已启动：{scheme}://{addr}/ （按 Ctrl-C 停止）");
        let app = Arc::new(App {
            db,
            cat,
            config,
            uploading: upload::InFlight::default(),
        });
        if let Some(days) = app.config.remind_days_before {
            tokio::spawn(office::remind_by_themselves(app.clone(), days));
        }
        let routes = router(app).into_make_service_with_connect_info::<SocketAddr>();
        let served = match tls {
            Some(tls) => {
                use axum::serve::ListenerExt;
                let listener = tls::TlsListener::new(listener, tls)
                    .map_err(|e| Error::Serve(crate::error::io_message(&e)))?
                    // (`tap_io` also gives the peer's address to the handlers.)
                    .tap_io(|_| {});
                axum::serve(listener, routes)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }
            None => {
                axum::serve(listener, routes)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }
        };
        served.map_err(|e| Error::Serve(format!("服务出错：{e}")))?;
        println!("报表收集门户已停止。");
        Ok(())
    })
}

/// A server lives long and its threads take turns: glibc's malloc would keep
/// each thread's large freed blocks (an Argon2 hash's 19 MB, an upload's
/// bytes) in that thread's arena, raising its threshold for giving memory
/// back as it goes, until the process held hundreds of MB it no longer
/// uses. A fixed threshold hands blocks of 256 KB and more back to the
/// system when freed; fewer arenas keep less aside.
fn return_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before
    // the server's threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Headers on every answer: no framing, no sniffing, scripts and styles only
/// from the portal itself, nothing cached.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::REFERRER_POLICY, "no-referrer");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    res
}

/// A state-changing request from another site is refused: browsers say where
/// a request comes from in `Sec-Fetch-Site` (or at least `Origin`).
async fn refuse_cross_site(req: Request, next: Next) -> Response {
    if req.method() == Method::GET || req.method() == Method::HEAD {
        return next.run(req).await;
    }
    let headers = req.headers();
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let cross = match site {
        Some(s) => !matches!(s, "same-origin" | "none"),
        None => match (
            headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
            headers.get(header::HOST).and_then(|v| v.to_str().ok()),
        ) {
            (Some(origin), Some(host)) => {
                let bare = origin
                    .strip_prefix("https://")
                    .or_else(|| origin.strip_prefix("http://"))
                    .unwrap_or(origin);
                bare != host
            }
            // No browser headers: a script or another system, which needs a
            // session cookie of its own.
            _ => false,
        },
    };
    if cross {
        return Refusal::new(
            StatusCode::FORBIDDEN,
            "cross_site",
            "来自其他网站的请求已拒绝。请直接在本门户的页面上操作。",
        )
        .into_response();
    }
    next.run(req).await
}
