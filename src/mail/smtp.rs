//! One SMTP session, driven step by step so that a failure can say which
//! step failed and what to check: connect (and TLS) → STARTTLS → login →
//! MAIL FROM → RCPT TO each → DATA → message → QUIT.
//!
//! There is exactly one transaction and no retry: a refused recipient
//! abandons the transaction before DATA (so nobody gets the message), and a
//! connection lost after the message was handed over is reported as
//! uncertain rather than sent again.

use std::io::ErrorKind;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailParameter};
use lettre::transport::smtp::response::Response;

use super::MailOptions;
use super::message::Composed;
use crate::error::Error;
use crate::settings::Security;

type SmtpError = lettre::transport::smtp::Error;

/// [`deliver`] within `o.deadline` for the whole conversation. The session
/// runs on its own thread; when the deadline passes first it is abandoned
/// (its socket closes when the process ends, or at the server's next silence
/// longer than `o.timeout`) and the send fails: nothing was sent, unless the
/// message itself was already being handed over (then it is uncertain).
pub(crate) fn deliver_within(o: &MailOptions, m: Composed) -> Result<String, Error> {
    let handed_over = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let (options, flag) = (o.clone(), Arc::clone(&handed_over));
    std::thread::spawn(move || {
        let _ = tx.send(deliver(&options, &m, &flag));
    });
    let server = o.server();
    match rx.recv_timeout(o.deadline) {
        Ok(result) => result,
        Err(_) if handed_over.load(Ordering::SeqCst) => Err(Error::MailUncertain {
            server,
            message: format!(
                "传送邮件内容时超过总时限 {} 秒（[mail] deadline_seconds）",
                o.deadline.as_secs()
            ),
        }),
        Err(_) => Err(Error::MailConnect {
            server,
            message: format!(
                "整个发送过程超过 {} 秒仍未完成（服务器回应太慢），已放弃；可在 [mail] 的 deadline_seconds 中调整时限",
                o.deadline.as_secs()
            ),
        }),
    }
}

/// Sends `m` over one SMTP session; the server's reply to the message.
/// `handed_over` is set when the message itself starts to go out.
fn deliver(o: &MailOptions, m: &Composed, handed_over: &AtomicBool) -> Result<String, Error> {
    let server = o.server();
    let addrs: Vec<SocketAddr> = (o.host.as_str(), o.port())
        .to_socket_addrs()
        .map_err(|e| connect_failed(&server, format!("找不到这台服务器（{e}）")))?
        .collect();
    if addrs.is_empty() {
        return Err(connect_failed(&server, "找不到这台服务器".into()));
    }
    let hello = ClientId::default();
    let tls = match o.security {
        Security::None => None,
        Security::Tls | Security::Starttls => Some(
            TlsParameters::new(o.host.clone())
                .map_err(|e| tls_failed(&server, format!("无法准备加密连接（{}）", reply(&e))))?,
        ),
    };
    let wrapper = tls.as_ref().filter(|_| o.security == Security::Tls);
    let mut conn = SmtpConnection::connect(&addrs[..], Some(o.timeout), &hello, wrapper, None)
        .map_err(|e| classify_connect(&server, o.security, &e))?;
    // Nothing half-done stays open: a failure says QUIT and closes.
    match session(&mut conn, o, m, &server, tls.as_ref(), &hello, handed_over) {
        Ok(r) => {
            // Sent: a failing QUIT changes nothing.
            let _ = conn.quit();
            Ok(response_text(&r))
        }
        Err(e) => {
            conn.abort();
            Err(e)
        }
    }
}

/// The session on an open connection: STARTTLS, login, the transaction.
fn session(
    conn: &mut SmtpConnection,
    o: &MailOptions,
    m: &Composed,
    server: &str,
    tls: Option<&TlsParameters>,
    hello: &ClientId,
    handed_over: &AtomicBool,
) -> Result<Response, Error> {
    if o.security == Security::Starttls {
        if !conn.can_starttls() {
            return Err(tls_failed(
                server,
                "服务器没有提供 STARTTLS（它可能只接受 tls，或不支持加密）".into(),
            ));
        }
        conn.starttls(tls.expect("TLS parameters"), hello)
            .map_err(|e| tls_failed(server, reply(&e)))?;
    }
    let auth_failed = |message: String| Error::MailAuth {
        server: server.to_string(),
        user: o.user.clone(),
        message,
    };
    if let Some(password) = &o.password {
        let creds = Credentials::new(o.user.clone(), password.clone());
        conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds)
            .map_err(|e| {
                auth_failed(if e.status().is_some() {
                    format!("服务器回复 {}", reply(&e))
                } else if e.is_client() {
                    "服务器不接受 PLAIN 或 LOGIN 登录方式（有的服务器只在加密连接上提供登录）"
                        .into()
                } else {
                    reply(&e)
                })
            })?;
    }

    let mut params = Vec::new();
    let non_ascii =
        !m.from.to_string().is_ascii() || m.recipients.iter().any(|a| !a.to_string().is_ascii());
    if non_ascii {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(Error::MailSettings(format!(
                "服务器 {server} 不支持含中文的邮件地址（SMTPUTF8）：请改用英文地址"
            )));
        }
        params.push(MailParameter::SmtpUtfEight);
    }
    let refused = |message: String| Error::MailRefused {
        server: server.to_string(),
        message,
    };
    conn.command(Mail::new(Some(m.from.clone()), params))
        .map_err(|e| {
            if e.status().is_some_and(|c| c.to_string() == "530") {
                auth_failed(format!(
                    "服务器要求先登录（{}）：请在 [mail] 的 user 中填写用户名并设置 ZONESTAT_SMTP_PASSWORD",
                    reply(&e)
                ))
            } else {
                refused(format!(
                    "不接受发件人 {}（{}）：请检查 [mail] 的 from 是否是这个账号的地址",
                    m.from,
                    reply(&e)
                ))
            }
        })?;
    for to in &m.recipients {
        conn.command(Rcpt::new(to.clone(), vec![]))
            .map_err(|e| Error::MailRecipient {
                server: server.to_string(),
                address: to.to_string(),
                message: reply(&e),
            })?;
    }
    conn.command(Data)
        .map_err(|e| refused(format!("不接受邮件内容（{}）", reply(&e))))?;
    handed_over.store(true, Ordering::SeqCst);
    conn.message(&m.bytes).map_err(|e| {
        if e.status().is_some() {
            refused(format!("拒收了这封邮件（{}）", reply(&e)))
        } else {
            Error::MailUncertain {
                server: server.to_string(),
                message: reply(&e),
            }
        }
    })
}

fn connect_failed(server: &str, message: String) -> Error {
    Error::MailConnect {
        server: server.to_string(),
        message,
    }
}

fn tls_failed(server: &str, message: String) -> Error {
    Error::MailTls {
        server: server.to_string(),
        message,
    }
}

/// What went wrong before the session was open. With TLS from the start the
/// handshake is the first exchange, so a garbled or refused handshake after
/// a good TCP connection is a TLS failure.
fn classify_connect(server: &str, security: Security, e: &SmtpError) -> Error {
    let connect = |message: String| connect_failed(server, message);
    if e.status().is_some() {
        return connect(format!("服务器拒绝了连接（{}）", reply(e)));
    }
    match io_kind(e) {
        Some(ErrorKind::ConnectionRefused) => connect(format!(
            "连接被拒绝，这个端口上没有邮件服务（{}）",
            reply(e)
        )),
        Some(ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            connect(format!("服务器没有回应（{}）", reply(e)))
        }
        Some(
            ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::AddrNotAvailable
            | ErrorKind::NetworkDown,
        ) => connect(format!("网络不通（{}）", reply(e))),
        Some(ErrorKind::InvalidData) if security != Security::None => tls_failed(server, reply(e)),
        _ if security == Security::Tls => tls_failed(server, reply(e)),
        _ => connect(format!("服务器没有按 SMTP 协议回应（{}）", reply(e))),
    }
}

/// The innermost I/O error kind behind an SMTP error.
fn io_kind(e: &SmtpError) -> Option<ErrorKind> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut kind = None;
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            kind = Some(io.kind());
        }
        source = s.source();
    }
    kind
}

/// An SMTP error as a user reads it: the server's code and words when it
/// answered, else the failure itself.
fn reply(e: &SmtpError) -> String {
    match (e.status(), std::error::Error::source(e)) {
        (Some(code), Some(text)) => format!("{code} {text}"),
        (Some(code), None) => code.to_string(),
        (None, Some(inner)) => inner.to_string(),
        (None, None) => e.to_string(),
    }
}

fn response_text(r: &Response) -> String {
    let words: Vec<&str> = r.message().collect();
    format!("{} {}", r.code(), words.join(" "))
        .trim()
        .to_string()
}
