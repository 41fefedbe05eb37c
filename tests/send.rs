//! `zonestat send`: real SMTP conversations with a small server started by
//! each test on 127.0.0.1 (one connection, bounded in time, then it stops),
//! failures that must say what to check, and dry-run messages parsed back.
//! The workbook is the real one made from tests/fixtures/data.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use zonestat::catalog::Catalogue;
use zonestat::consolidate::{consolidate, default_report_name};
use zonestat::mail::{self, Delivery, MailOptions, MailOverrides, Summary};
use zonestat::model::Period;
use zonestat::read::sha256_hex;
use zonestat::report::{MadeAt, write_report};
use zonestat::settings::Security;
use zonestat::summary::summary_json;

const NAME: &str = "开发区考核汇总表-2020年1-6月.xlsx";
const SUBJECT: &str = "湖州市开发区考核汇总表（2020年1-6月）";
const USER: &str = "tongji@example.com";
const PASSWORD: &str = "正确的授权码-1";

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data")
}

fn period(p: &str) -> Period {
    p.parse().unwrap()
}

/// The 2020-06 workbook and its JSON summary, under their default names in
/// `dir`; the workbook's bytes.
fn workbook(dir: &Path) -> (PathBuf, Vec<u8>) {
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let c = consolidate(&data_dir(), period("2020-06"), &cat).unwrap();
    let xlsx = dir.join(default_report_name(c.period, &cat));
    assert_eq!(xlsx.file_name().unwrap(), NAME);
    let json = serde_json::to_string_pretty(&summary_json(&c, &cat)).unwrap();
    std::fs::write(xlsx.with_extension("json"), json).unwrap();
    write_report(&c, &cat, &xlsx, MadeAt::from_unix(1_593_561_600)).unwrap();
    let bytes = std::fs::read(&xlsx).unwrap();
    (xlsx, bytes)
}

/// A `zonestat.toml` with a `[mail]` table for the test server.
fn settings(dir: &Path, port: u16, security: &str, user: &str) {
    let text = format!(
        r#"[mail]
host = "127.0.0.1"
port = {port}
security = "{security}"
user = "{user}"
from = "湖州市商务局统计科 <{USER}>"
to = ["领导 <boss@example.com>", "office@example.com"]
cc = ["archive@example.com"]
"#
    );
    std::fs::write(dir.join("zonestat.toml"), text).unwrap();
}

/// Runs the binary in `dir`, with `password` as ZONESTAT_SMTP_PASSWORD.
fn zonestat(dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_zonestat"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove(mail::PASSWORD_VAR);
    if let Some(p) = password {
        cmd.env(mail::PASSWORD_VAR, p);
    }
    cmd.output().unwrap()
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Exit status 2 and every `words` in the error message.
fn assert_fails_with(o: &Output, words: &[&str]) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", show(o));
    for w in words {
        assert!(stderr.contains(w), "missing “{w}”:\n{}", show(o));
    }
}

// ---------------------------------------------------------------------------
// The test SMTP server

/// How the test server behaves.
#[derive(Clone)]
struct Plan {
    /// The AUTH mechanisms offered after EHLO; empty for no AUTH (then no login is needed).
    auth: &'static str,
    user: &'static str,
    password: &'static str,
    /// Recipients refused at RCPT TO.
    refuse: Vec<String>,
    /// Offer STARTTLS, say yes to it, then answer the handshake with plain text.
    bad_starttls: bool,
    /// After the message: `Some(reply)` answers with it, None hangs up without a word.
    after_data: Option<&'static str>,
    /// Answer the greeting a byte every 200 ms, never finishing it.
    trickle: bool,
}

impl Default for Plan {
    fn default() -> Plan {
        Plan {
            auth: "PLAIN LOGIN",
            user: USER,
            password: PASSWORD,
            refuse: Vec::new(),
            bad_starttls: false,
            after_data: Some("250 2.0.0 Ok: queued as TEST1"),
            trickle: false,
        }
    }
}

/// What the test server saw.
#[derive(Debug, Default)]
struct Seen {
    commands: Vec<String>,
    /// Logins tried: mechanism, user, password.
    logins: Vec<(String, String, String)>,
    mail_from: Vec<String>,
    rcpt_to: Vec<String>,
    /// Each message received after DATA, dot-stuffing undone.
    messages: Vec<Vec<u8>>,
    quit: bool,
}

impl Seen {
    fn count(&self, verb: &str) -> usize {
        self.commands
            .iter()
            .filter(|c| c.to_ascii_uppercase().starts_with(verb))
            .count()
    }
}

struct Server {
    port: u16,
    handle: JoinHandle<Seen>,
}

impl Server {
    /// Listens on 127.0.0.1 for one connection for at most 30 s; each read
    /// waits at most 10 s. The thread ends with the session.
    fn start(plan: Plan) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let handle = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut seen = Seen::default();
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = session(stream, &plan, &mut seen);
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                        thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => break,
                }
            }
            seen
        });
        Server { port, handle }
    }

    fn finish(self) -> Seen {
        self.handle.join().unwrap()
    }
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    if r.read_until(b'\n', &mut buf)? == 0 {
        return Ok(None);
    }
    let s = String::from_utf8_lossy(&buf);
    Ok(Some(s.trim_end_matches(['\r', '\n']).to_string()))
}

fn session(stream: TcpStream, plan: &Plan, seen: &mut Seen) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut r = BufReader::new(stream.try_clone()?);
    let mut w = stream;
    if plan.trickle {
        // A multi-line greeting that never ends, each byte well within the read timeout.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            for b in b"220-test.local slow\r\n" {
                w.write_all(&[*b])?;
                thread::sleep(Duration::from_millis(200));
            }
        }
        return Ok(());
    }
    w.write_all(b"220 test.local ESMTP ready\r\n")?;
    let mut logged_in = false;
    let mut rcpts = 0;
    while let Some(line) = read_line(&mut r)? {
        seen.commands.push(line.clone());
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut s = String::from("250-test.local\r\n");
            if !plan.auth.is_empty() {
                s += &format!("250-AUTH {}\r\n", plan.auth);
            }
            if plan.bad_starttls {
                s += "250-STARTTLS\r\n";
            }
            s + "250 8BITMIME\r\n"
        } else if upper.starts_with("AUTH PLAIN") && plan.auth.contains("PLAIN") {
            let mut arg = line[10..].trim().to_string();
            if arg.is_empty() {
                w.write_all(b"334 \r\n")?;
                arg = read_line(&mut r)?.unwrap_or_default();
            }
            let decoded = String::from_utf8_lossy(&base64_decode(&arg)).to_string();
            let parts: Vec<&str> = decoded.split('\0').collect();
            let (user, password) = (
                parts.get(1).copied().unwrap_or_default(),
                parts.get(2).copied().unwrap_or_default(),
            );
            seen.logins
                .push(("PLAIN".into(), user.to_string(), password.to_string()));
            logged_in = user == plan.user && password == plan.password;
            if logged_in {
                "235 2.7.0 Authentication successful\r\n".into()
            } else {
                "535 5.7.8 Authentication credentials invalid\r\n".into()
            }
        } else if upper.starts_with("AUTH LOGIN") && plan.auth.contains("LOGIN") {
            w.write_all(b"334 VXNlcm5hbWU6\r\n")?;
            let user = base64_decode(&read_line(&mut r)?.unwrap_or_default());
            w.write_all(b"334 UGFzc3dvcmQ6\r\n")?;
            let password = base64_decode(&read_line(&mut r)?.unwrap_or_default());
            let (user, password) = (
                String::from_utf8_lossy(&user).to_string(),
                String::from_utf8_lossy(&password).to_string(),
            );
            logged_in = user == plan.user && password == plan.password;
            seen.logins.push(("LOGIN".into(), user, password));
            if logged_in {
                "235 2.7.0 Authentication successful\r\n".into()
            } else {
                "535 5.7.8 Authentication credentials invalid\r\n".into()
            }
        } else if upper.starts_with("MAIL FROM:") {
            if !plan.auth.is_empty() && !logged_in {
                "530 5.7.0 Authentication required\r\n".into()
            } else {
                seen.mail_from.push(address(&line));
                "250 2.1.0 Ok\r\n".into()
            }
        } else if upper.starts_with("RCPT TO:") {
            let a = address(&line);
            if plan.refuse.contains(&a) {
                format!("550 5.1.1 <{a}>: Recipient address rejected: User unknown\r\n")
            } else {
                seen.rcpt_to.push(a);
                rcpts += 1;
                "250 2.1.5 Ok\r\n".into()
            }
        } else if upper == "DATA" {
            if rcpts == 0 {
                "503 5.5.1 Error: need RCPT command\r\n".into()
            } else {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut message = Vec::new();
                loop {
                    let mut buf = Vec::new();
                    if r.read_until(b'\n', &mut buf)? == 0 {
                        return Ok(());
                    }
                    if buf == b".\r\n" {
                        break;
                    }
                    let body = if buf.starts_with(b"..") {
                        &buf[1..]
                    } else {
                        &buf[..]
                    };
                    message.extend_from_slice(body);
                }
                seen.messages.push(message);
                match plan.after_data {
                    Some(reply) => format!("{reply}\r\n"),
                    None => return Ok(()),
                }
            }
        } else if upper == "STARTTLS" && plan.bad_starttls {
            w.write_all(b"220 2.0.0 Ready to start TLS\r\n")?;
            w.write_all(b"this is not a TLS handshake\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 Ok\r\n".into()
        } else if upper == "QUIT" {
            seen.quit = true;
            w.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else {
            "502 5.5.2 Error: command not recognized\r\n".into()
        };
        w.write_all(reply.as_bytes())?;
    }
    Ok(())
}

/// `MAIL FROM:<a@b> SIZE=1` → `a@b`.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}

fn base64_decode(s: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes() {
        let Some(v) = ABC.iter().position(|&x| x == c) else {
            continue;
        };
        acc = acc << 6 | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The received or written message, parsed: subject, body text, the
/// attachment's name (from Content-Disposition and from Content-Type), its
/// MIME type and bytes.
struct Parsed {
    subject: String,
    from: String,
    to: Vec<String>,
    cc: Vec<String>,
    body: String,
    filename: String,
    name: String,
    mime: String,
    attachment: Vec<u8>,
}

fn parse(raw: &[u8]) -> Parsed {
    let m = MessageParser::default().parse(raw).expect("a MIME message");
    let addrs = |a: Option<&mail_parser::Address>| -> Vec<String> {
        a.map(|a| {
            a.iter()
                .filter_map(|x| x.address())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
    };
    assert_eq!(m.attachment_count(), 1);
    let att = m.attachment(0).unwrap();
    let ct = att.content_type().unwrap();
    Parsed {
        subject: m.subject().unwrap_or_default().to_string(),
        from: addrs(m.from()).join(","),
        to: addrs(m.to()),
        cc: addrs(m.cc()),
        body: m.body_text(0).unwrap_or_default().to_string(),
        filename: att
            .content_disposition()
            .and_then(|d| d.attribute("filename"))
            .unwrap_or_default()
            .to_string(),
        name: ct.attribute("name").unwrap_or_default().to_string(),
        mime: format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()),
        attachment: att.contents().to_vec(),
    }
}

fn assert_is_the_report(p: &Parsed, workbook: &[u8]) {
    assert_eq!(p.subject, SUBJECT);
    assert_eq!(p.filename, NAME, "Content-Disposition filename*");
    assert_eq!(p.name, NAME, "Content-Type name= fallback");
    assert_eq!(p.mime, mail::XLSX);
    assert!(p.attachment == workbook, "the attachment's bytes differ");
}

// ---------------------------------------------------------------------------
// Sending

#[test]
fn send_delivers_the_workbook_to_every_recipient_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = workbook(dir.path());
    let server = Server::start(Plan::default());
    settings(dir.path(), server.port, "none", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    let seen = server.finish();
    assert_eq!(out.status.code(), Some(0), "{}\n{seen:#?}", show(&out));

    assert_eq!(
        seen.logins,
        [("PLAIN".to_string(), USER.to_string(), PASSWORD.to_string())]
    );
    assert_eq!(seen.mail_from, [USER]);
    assert_eq!(
        seen.rcpt_to,
        [
            "boss@example.com",
            "office@example.com",
            "archive@example.com"
        ]
    );
    assert_eq!((seen.count("MAIL"), seen.count("DATA")), (1, 1));
    assert!(seen.quit);
    let p = parse(&seen.messages[0]);
    assert_is_the_report(&p, &bytes);
    assert_eq!(p.from, USER);
    assert_eq!(p.to, ["boss@example.com", "office@example.com"]);
    assert_eq!(p.cc, ["archive@example.com"]);
    for words in [
        "2020年1-6月",
        "数据完整：5/5 个开发区",
        "达标 5 项，进度正常 2 项，未达标 5 项",
        "T26 服务贸易占开发区对外贸易的比重达到15%以上：实际 14.25%，目标 15%",
        NAME,
    ] {
        assert!(p.body.contains(words), "body lacks “{words}”:\n{}", p.body);
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("已发送：{SUBJECT}"))
            && stdout.contains("queued as TEST1")
            && stdout.contains("取自"),
        "{stdout}"
    );
}

#[test]
fn flags_replace_the_settings_and_login_works_with_auth_login() {
    let dir = tempfile::tempdir().unwrap();
    let (xlsx, bytes) = workbook(dir.path());
    // The file names a dead port, TLS and other people; the flags win.
    settings(dir.path(), closed_port(), "tls", "nobody@example.com");
    let server = Server::start(Plan {
        auth: "LOGIN",
        ..Plan::default()
    });
    let port = server.port.to_string();
    let report = xlsx.to_str().unwrap();
    let out = zonestat(
        dir.path(),
        &[
            "send",
            report,
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &port,
            "--security",
            "none",
            "--user",
            USER,
            "--from",
            "other@example.com",
            "--to",
            "a@example.com",
            "--to",
            "张三 <b@example.com>",
            "--cc",
            "c@example.com",
            "--subject",
            "六月考核汇总表",
        ],
        Some(PASSWORD),
    );
    let seen = server.finish();
    assert_eq!(out.status.code(), Some(0), "{}\n{seen:#?}", show(&out));
    assert_eq!(seen.logins[0].0, "LOGIN");
    assert_eq!(seen.mail_from, ["other@example.com"]);
    assert_eq!(
        seen.rcpt_to,
        ["a@example.com", "b@example.com", "c@example.com"]
    );
    let p = parse(&seen.messages[0]);
    assert_eq!(p.subject, "六月考核汇总表");
    assert_eq!(p.filename, NAME);
    assert!(p.attachment == bytes);
}

#[test]
fn send_report_takes_the_summary_of_a_run_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let c = consolidate(&data_dir(), period("2020-06"), &cat).unwrap();
    let xlsx = dir.path().join(NAME);
    write_report(&c, &cat, &xlsx, MadeAt::from_unix(1_593_561_600)).unwrap();
    let server = Server::start(Plan {
        auth: "",
        ..Plan::default()
    });
    let settings = zonestat::settings::Mail {
        host: "127.0.0.1".into(),
        port: Some(server.port),
        security: Security::None,
        from: USER.into(),
        to: vec!["boss@example.com".into()],
        ..Default::default()
    };
    let mut options = MailOptions::new(&settings, MailOverrides::default());
    options.password = None;
    let summary = Summary::from_run(&c, &cat);
    let sent = mail::send_report(&xlsx, Some(&summary), &options).unwrap();
    let seen = server.finish();
    assert!(seen.logins.is_empty(), "no login without a user");
    assert_eq!(seen.rcpt_to, ["boss@example.com"]);
    let p = parse(&seen.messages[0]);
    assert_is_the_report(&p, &std::fs::read(&xlsx).unwrap());
    assert_eq!(p.body.replace("\r\n", "\n"), summary.body(NAME));
    assert_eq!(sent.subject, SUBJECT);
    assert!(
        matches!(&sent.delivery, Delivery::Sent { reply, .. } if reply.contains("queued as TEST1")),
        "{sent:?}"
    );
}

// ---------------------------------------------------------------------------
// Failures: exit 2, a message that says what to check, nothing sent

#[test]
fn a_wrong_password_is_refused_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan::default());
    settings(dir.path(), server.port, "none", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some("错误的密码"));
    let seen = server.finish();
    assert_fails_with(
        &out,
        &[
            "拒绝登录",
            USER,
            "535",
            "ZONESTAT_SMTP_PASSWORD",
            "授权码",
            "邮件没有发出",
        ],
    );
    assert_eq!(seen.logins.len(), 1, "one try, no retry");
    assert_eq!((seen.count("MAIL"), seen.count("DATA")), (0, 0));
    assert!(seen.quit, "the session is closed with QUIT");
}

#[test]
fn a_server_that_wants_a_login_says_so() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan::default());
    settings(dir.path(), server.port, "none", "");
    let out = zonestat(dir.path(), &["send", NAME], None);
    let seen = server.finish();
    assert_fails_with(
        &out,
        &["530", "要求先登录", "user", "ZONESTAT_SMTP_PASSWORD"],
    );
    assert_eq!(seen.count("DATA"), 0);
}

#[test]
fn a_refused_connection_names_the_server_and_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let port = closed_port();
    settings(dir.path(), port, "none", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    assert_fails_with(
        &out,
        &[
            &format!("无法连接邮件服务器 127.0.0.1:{port}"),
            "连接被拒绝",
            "host 和 port",
            "邮件没有发出",
        ],
    );
}

#[test]
fn tls_against_a_plain_server_fails_with_the_tls_message() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan::default());
    settings(dir.path(), server.port, "tls", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    let seen = server.finish();
    assert_fails_with(
        &out,
        &["建立加密连接失败", "security", "465", "邮件没有发出"],
    );
    assert!(seen.logins.is_empty() && seen.mail_from.is_empty());
}

#[test]
fn starttls_that_the_server_does_not_offer_stops_before_the_password() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan::default());
    settings(dir.path(), server.port, "starttls", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    let seen = server.finish();
    assert_fails_with(&out, &["加密连接失败", "STARTTLS"]);
    assert!(
        seen.logins.is_empty(),
        "the password never went out in the clear"
    );
    assert_eq!(seen.count("MAIL"), 0);
}

#[test]
fn a_failed_starttls_handshake_stops_before_the_password() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan {
        bad_starttls: true,
        ..Plan::default()
    });
    settings(dir.path(), server.port, "starttls", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    let seen = server.finish();
    assert_fails_with(&out, &["建立加密连接失败", "security"]);
    assert_eq!(seen.count("STARTTLS"), 1);
    assert!(seen.logins.is_empty() && seen.mail_from.is_empty());
}

#[test]
fn a_message_refused_after_data_is_not_sent_again() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan {
        after_data: Some("554 5.7.1 Message rejected by policy"),
        ..Plan::default()
    });
    settings(dir.path(), server.port, "none", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    let seen = server.finish();
    assert_fails_with(&out, &["拒收", "554", "邮件没有发出"]);
    assert_eq!((seen.count("MAIL"), seen.count("DATA")), (1, 1));
}

#[test]
fn a_connection_lost_after_the_message_is_reported_as_uncertain_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan {
        after_data: None,
        ..Plan::default()
    });
    settings(dir.path(), server.port, "none", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    let seen = server.finish();
    assert_fails_with(&out, &["没有收到确认", "可能已经发出", "先向收件人确认"]);
    assert_eq!(seen.messages.len(), 1);
    assert_eq!((seen.count("MAIL"), seen.count("DATA")), (1, 1));
}

#[test]
fn a_refused_recipient_sends_to_nobody() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    let server = Server::start(Plan {
        refuse: vec!["archive@example.com".into()],
        ..Plan::default()
    });
    settings(dir.path(), server.port, "none", USER);
    let out = zonestat(dir.path(), &["send", NAME], Some(PASSWORD));
    let seen = server.finish();
    assert_fails_with(
        &out,
        &["拒绝了收件人 archive@example.com", "550", "没有发给任何人"],
    );
    assert_eq!(seen.count("DATA"), 0, "the transaction stopped before DATA");
    assert!(seen.messages.is_empty());
}

#[test]
fn missing_settings_say_what_to_fill_in_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    // No zonestat.toml at all.
    let out = zonestat(dir.path(), &["send", NAME], None);
    assert_fails_with(&out, &["没有邮件服务器", "host", "--smtp-host"]);
    let out = zonestat(
        dir.path(),
        &["send", NAME, "--smtp-host", "127.0.0.1"],
        None,
    );
    assert_fails_with(&out, &["没有发件人", "from", "--from"]);
    let args = ["send", NAME, "--smtp-host", "127.0.0.1", "--from", USER];
    let out = zonestat(dir.path(), &args, None);
    assert_fails_with(&out, &["没有收件人", "to", "--to"]);
    let out = zonestat(
        dir.path(),
        &[&args[..], &["--to", "not an address"]].concat(),
        None,
    );
    assert_fails_with(&out, &["收件人地址“not an address”写得不对"]);
    let out = zonestat(
        dir.path(),
        &[&args[..], &["--to", "a@example.com", "--user", USER]].concat(),
        None,
    );
    assert_fails_with(&out, &["没有密码", "ZONESTAT_SMTP_PASSWORD"]);
    let out = zonestat(
        dir.path(),
        &[&args[..], &["--to", "a@example.com"]].concat(),
        Some("x"),
    );
    assert_fails_with(&out, &["没有登录用户名", "user"]);
    let out = zonestat(dir.path(), &["send", "没有这个文件.xlsx"], None);
    assert_fails_with(&out, &["没有这个文件.xlsx", "找不到"]);
}

#[test]
fn a_password_in_the_settings_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    workbook(dir.path());
    std::fs::write(
        dir.path().join("zonestat.toml"),
        "[mail]\nhost = \"127.0.0.1\"\npassword = \"secret\"\n",
    )
    .unwrap();
    let out = zonestat(dir.path(), &["send", NAME, "--dry-run", "x.eml"], None);
    assert_fails_with(&out, &["zonestat.toml"]);
    assert!(!dir.path().join("x.eml").exists());
}

// ---------------------------------------------------------------------------
// Dry runs and the body's summary

#[test]
fn a_dry_run_writes_a_message_that_parses_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = workbook(dir.path());
    settings(dir.path(), closed_port(), "none", "");
    let out = zonestat(dir.path(), &["send", NAME, "--dry-run", "邮件.eml"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("未发送") && stdout.contains("邮件.eml"),
        "{stdout}"
    );
    let raw = std::fs::read(dir.path().join("邮件.eml")).unwrap();
    let p = parse(&raw);
    assert_is_the_report(&p, &bytes);
    assert_eq!(p.to, ["boss@example.com", "office@example.com"]);
    assert_eq!(p.cc, ["archive@example.com"]);
    assert!(p.body.contains("未达标（5 项）"), "{}", p.body);

    // The headers as written: RFC 2231 in one parameter, RFC 2047 as fallback.
    let text = String::from_utf8(raw.clone()).expect("an ASCII message");
    assert!(text.is_ascii());
    assert!(text.contains(
        "Content-Disposition: attachment;\r\n filename*=UTF-8''%E5%BC%80%E5%8F%91%E5%8C%BA"
    ));
    assert!(text.contains(&format!(
        "Content-Type: {};\r\n name=\"=?UTF-8?B?",
        mail::XLSX
    )));
    assert!(text.lines().all(|l| l.len() <= 998));

    // A reader that ignores Content-Disposition still gets the name from Content-Type.
    let without = text.replace(
        "Content-Disposition: attachment;\r\n filename*=",
        "X-Removed: attachment;\r\n x=",
    );
    let m = MessageParser::default().parse(without.as_bytes()).unwrap();
    assert_eq!(m.attachment(0).unwrap().attachment_name(), Some(NAME));
}

#[test]
fn a_renamed_workbook_without_its_json_sends_its_own_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (xlsx, bytes) = workbook(dir.path());
    settings(dir.path(), closed_port(), "none", "");
    // With the JSON beside it, as consolidate --json leaves it.
    let out = zonestat(dir.path(), &["send", NAME, "--dry-run", "with.eml"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let with = parse(&std::fs::read(dir.path().join("with.eml")).unwrap());

    // Renamed, and no JSON anywhere: the workbook's document properties
    // hold its period and its summary.
    std::fs::remove_file(xlsx.with_extension("json")).unwrap();
    std::fs::rename(&xlsx, dir.path().join("r.xlsx")).unwrap();
    let out = zonestat(dir.path(), &["send", "r.xlsx", "--dry-run", "x.eml"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("取自考核汇总表自身记录的汇总结果"),
        "{stdout}"
    );
    let p = parse(&std::fs::read(dir.path().join("x.eml")).unwrap());
    assert!(p.attachment == bytes, "the attachment's bytes differ");
    assert_eq!(p.subject, with.subject);
    assert!(p.subject.contains("2020年1-6月"), "{}", p.subject);
    assert_eq!(
        p.body.replace("r.xlsx", NAME),
        with.body,
        "the same body as from the JSON"
    );
    assert!(p.body.contains("未达标（5 项）"), "{}", p.body);
}

#[test]
fn a_workbook_without_a_summary_gets_a_body_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A workbook another program wrote: no summary in its properties.
    let other = data_dir().join("2020-06/湖州开发区6月报表.xlsx");
    std::fs::copy(&other, dir.path().join(NAME)).unwrap();
    let bytes = std::fs::read(&other).unwrap();
    settings(dir.path(), closed_port(), "none", "");
    let out = zonestat(dir.path(), &["send", NAME, "--dry-run", "x.eml"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("正文只写了附件名"));
    let p = parse(&std::fs::read(dir.path().join("x.eml")).unwrap());
    assert!(p.attachment == bytes, "the attachment's bytes differ");
    assert!(p.subject.contains("2020年1-6月"), "{}", p.subject);
    assert!(
        p.body.contains(NAME) && p.body.contains("封面"),
        "{}",
        p.body
    );

    // Renamed, it has no period to tell: ask for --summary or --subject.
    std::fs::rename(dir.path().join(NAME), dir.path().join("汇总.xlsx")).unwrap();
    let out = zonestat(
        dir.path(),
        &["send", "汇总.xlsx", "--dry-run", "y.eml"],
        None,
    );
    assert_fails_with(&out, &["看不出", "--summary", "--subject"]);
    let out = zonestat(
        dir.path(),
        &[
            "send",
            "汇总.xlsx",
            "--dry-run",
            "y.eml",
            "--subject",
            "六月汇总",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn a_summary_of_another_period_or_an_older_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (xlsx, _) = workbook(dir.path());
    settings(dir.path(), closed_port(), "none", "");
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let december = consolidate(&data_dir(), period("2020-12"), &cat).unwrap();
    let other = dir.path().join("2020-12.json");
    std::fs::write(&other, summary_json(&december, &cat).to_string()).unwrap();
    let out = zonestat(
        dir.path(),
        &[
            "send",
            NAME,
            "--summary",
            "2020-12.json",
            "--dry-run",
            "x.eml",
        ],
        None,
    );
    assert_fails_with(&out, &["2020年度", "2020年1-6月", "--summary"]);

    // The JSON beside the workbook is an hour older than it.
    let json = std::fs::File::options()
        .write(true)
        .open(xlsx.with_extension("json"))
        .unwrap();
    json.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let out = zonestat(dir.path(), &["send", NAME, "--dry-run", "x.eml"], None);
    assert_fails_with(&out, &["早写出十分钟以上", "consolidate --json"]);
    assert!(!dir.path().join("x.eml").exists());

    let out = zonestat(
        dir.path(),
        &[
            "send",
            NAME,
            "--summary",
            "missing.json",
            "--dry-run",
            "x.eml",
        ],
        None,
    );
    assert_fails_with(&out, &["missing.json"]);
}

/// Copies the sample data, then drops and damages 2020-06 files.
fn incomplete_data(dir: &Path) -> PathBuf {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &to.join(e.file_name()));
            } else {
                std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
            }
        }
    }
    let data = dir.join("data");
    copy(&data_dir(), &data);
    let june = data.join("2020-06");
    std::fs::remove_file(june.join("附件1-长兴2020年6月.xlsx")).unwrap();
    std::fs::remove_file(june.join("全市对比基数2020年6月.xlsx")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/nx-2020-06-negative.ods"),
        june.join("南浔6月.ods"),
    )
    .unwrap();
    data
}

#[test]
fn the_summary_from_json_equals_the_summary_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let broken = incomplete_data(dir.path());
    for (data, p) in [
        (data_dir(), "2020-06"),
        (data_dir(), "2020-12"),
        (broken, "2020-06"),
    ] {
        let c = consolidate(&data, period(p), &cat).unwrap();
        let json = dir.path().join(format!("{p}.json"));
        std::fs::write(&json, summary_json(&c, &cat).to_string()).unwrap();
        let from_file = Summary::load(&json, &cat).unwrap();
        assert_eq!(from_file, Summary::from_run(&c, &cat), "{}", data.display());
    }
}

#[test]
fn an_incomplete_run_says_so_and_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    // workbooks are parsed in worker processes, as by the binary
    zonestat::read::use_workers(env!("CARGO_BIN_EXE_zonestat"));
    let cat = Catalogue::bundled();
    let c = consolidate(&incomplete_data(dir.path()), period("2020-06"), &cat).unwrap();
    let s = Summary::from_run(&c, &cat);
    assert!(!s.whole);
    let body = s.body(NAME);
    for words in [
        "数据不完整，考核结果仅供参考：3/5 个开发区的报表已采用",
        "长兴开发区：湖开统1表未报送",
        "南浔开发区：湖开统1表有错误未采用（",
        "湖州市统计局：湖开统3表未报送",
        "数据缺失（",
        "三、综合评价",
        "第1名 ",
        "长兴开发区 不参与排名（湖开统1表未报送）",
    ] {
        assert!(body.contains(words), "body lacks “{words}”:\n{body}");
    }
    // The ranking is the run's: best first, as many ranked as accepted zones.
    let ranked: Vec<&str> = body
        .lines()
        .filter(|l| l.contains("名 ") && l.ends_with(" 分"))
        .collect();
    assert_eq!(ranked.len(), 3, "{body}");
    let best = c.scores.iter().find(|z| z.rank == Some(1)).unwrap();
    let short = &cat.zone(&best.zone).unwrap().short;
    assert!(
        ranked[0].contains(&format!("第1名 {short} {:.2} 分", best.total)),
        "{body}"
    );
}

/// A working folder whose data folder holds the sample forms (less `without`).
fn working_folder(without: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let from = entry.unwrap().path();
        let to = dir.path().join("数据").join(from.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&from).unwrap() {
            let f = f.unwrap().path();
            if Some(f.file_name().unwrap().to_str().unwrap()) != without {
                std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
            }
        }
    }
    dir
}

#[test]
fn run_send_mails_a_complete_consolidation() {
    let dir = working_folder(None);
    let server = Server::start(Plan::default());
    settings(dir.path(), server.port, "none", USER);
    let out = zonestat(
        dir.path(),
        &["run", "--period", "2020-06", "--send"],
        Some(PASSWORD),
    );
    let seen = server.finish();
    assert_eq!(out.status.code(), Some(0), "{}\n{seen:#?}", show(&out));
    let bytes = std::fs::read(dir.path().join("汇总表").join(NAME)).unwrap();
    assert_eq!((seen.count("MAIL"), seen.count("DATA")), (1, 1));
    assert_is_the_report(&parse(&seen.messages[0]), &bytes);
}

#[test]
fn run_send_holds_back_an_incomplete_consolidation_unless_told() {
    let dir = working_folder(Some("南浔6月.ods"));
    // A closed port: any attempt to send would fail with exit status 2.
    settings(dir.path(), closed_port(), "none", USER);
    let out = zonestat(
        dir.path(),
        &["run", "--period", "2020-06", "--send"],
        Some(PASSWORD),
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("考核汇总表没有发送"),
        "{}",
        show(&out)
    );
    assert!(dir.path().join("汇总表").join(NAME).is_file());

    let server = Server::start(Plan::default());
    settings(dir.path(), server.port, "none", USER);
    let out = zonestat(
        dir.path(),
        &["run", "--period", "2020-06", "--send-incomplete"],
        Some(PASSWORD),
    );
    let seen = server.finish();
    assert_eq!(out.status.code(), Some(1), "{}\n{seen:#?}", show(&out));
    let p = parse(&seen.messages[0]);
    assert!(
        p.body.contains("南浔开发区"),
        "the body names the missing zone:\n{}",
        p.body
    );
}

#[test]
fn the_summary_round_trips_through_the_workbook_properties() {
    let cat = Catalogue::bundled();
    for p in ["2020-06", "2020-12"] {
        let c = consolidate(&data_dir(), period(p), &cat).unwrap();
        let summary = mail::Summary::from_run(&c, &cat);
        let dir = tempfile::tempdir().unwrap();
        let xlsx = dir.path().join("r.xlsx");
        write_report(&c, &cat, &xlsx, MadeAt::from_unix(1_593_561_600)).unwrap();
        let props = mail::workbook_properties(&xlsx);
        assert!(props.iter().all(|(_, v)| v.chars().count() <= 255));
        assert_eq!(mail::Summary::from_properties(&props), Some(summary), "{p}");
    }
}

#[test]
fn smtp_trickle_hits_overall_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let (xlsx, _) = workbook(dir.path());
    let server = Server::start(Plan {
        trickle: true,
        ..Plan::default()
    });
    settings(dir.path(), server.port, "none", USER);
    let text = std::fs::read_to_string(dir.path().join("zonestat.toml")).unwrap();
    std::fs::write(
        dir.path().join("zonestat.toml"),
        text + "deadline_seconds = 2\n",
    )
    .unwrap();
    let started = Instant::now();
    let out = zonestat(
        dir.path(),
        &["send", xlsx.to_str().unwrap()],
        Some(PASSWORD),
    );
    let took = started.elapsed();
    assert_fails_with(&out, &["超过 2 秒", "deadline_seconds", "邮件没有发出"]);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let seen = server.finish();
    assert_eq!(seen.count("MAIL"), 0);
}

#[test]
fn a_summary_written_with_another_workbook_is_refused() {
    let dir = working_folder(None);
    settings(dir.path(), closed_port(), "none", "");
    let out = zonestat(
        dir.path(),
        &[
            "consolidate",
            "数据",
            "--period",
            "2020-06",
            "-o",
            NAME,
            "--json",
            "开发区考核汇总表-2020年1-6月.json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("开发区考核汇总表-2020年1-6月.json")).unwrap(),
    )
    .unwrap();
    let xlsx = std::fs::read(dir.path().join(NAME)).unwrap();
    assert_eq!(json["workbook_sha256"], sha256_hex(&xlsx));
    // The pair as written goes out (as a dry run).
    let out = zonestat(dir.path(), &["send", NAME, "--dry-run", "a.eml"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // A workbook that is not the one the summary was written with is refused.
    let mut other = xlsx.clone();
    other.extend_from_slice(b"\0");
    std::fs::write(dir.path().join(NAME), other).unwrap();
    let out = zonestat(dir.path(), &["send", NAME, "--dry-run", "b.eml"], None);
    assert_fails_with(&out, &["SHA-256 不符", "zonestat run"]);
}
