//! The assessment workbook by email (`zonestat send`, `run --send`). The only module that
//! knows lettre.
//!
//! The server and the recipients come from `[mail]` in `zonestat.toml`, each
//! overridable by a flag ([`MailOptions::new`]); the password only from the
//! environment variable `ZONESTAT_SMTP_PASSWORD`. The body is a short Chinese
//! summary of the run ([`Summary`]): made from the in-memory consolidation
//! when called right after one (`run --send`), else read from the JSON
//! summary `consolidate --json` wrote beside the workbook ([`find_summary`]).
//! Without one the body only names the attachment. The workbook's cover
//! sheet is deliberately not read back: it is laid out for people, the JSON
//! is the stable record of a run.
//!
//! Everything is checked before the first byte goes out; then one SMTP
//! transaction, no retry ([`smtp`]).

mod message;
mod smtp;
mod summary;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use lettre::message::Mailbox;

pub use message::XLSX;
pub use summary::{PERIOD_PROPERTY, Summary, plain_body, workbook_properties};

use crate::catalog::Catalogue;
use crate::error::Error;
use crate::settings::{Mail, Security};

/// The environment variable that holds the SMTP password.
pub const PASSWORD_VAR: &str = "ZONESTAT_SMTP_PASSWORD";

/// Everything needed to send: the settings file's `[mail]` with the flags
/// applied, and the password from the environment.
#[derive(Clone)]
pub struct MailOptions {
    pub host: String,
    /// None: the usual port for `security` (465 tls, 587 starttls, 25 none).
    pub port: Option<u16>,
    pub security: Security,
    /// Login name; empty for a server that needs no login.
    pub user: String,
    /// From `ZONESTAT_SMTP_PASSWORD`; never from a file or the command line.
    pub password: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// None: the catalogue's subject (`plan.mail_subject`) and the period,
    /// in full-width brackets.
    pub subject: Option<String>,
    /// For connecting and for each reply of the server.
    pub timeout: Duration,
    /// For the whole conversation (`[mail] deadline_seconds`): a server that
    /// answers a byte at a time cannot keep `send` running.
    pub deadline: Duration,
}

impl std::fmt::Debug for MailOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("cc", &self.cc)
            .field("subject", &self.subject)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// The command line's mail flags; each given one replaces the file's setting
/// (a `--to` replaces the whole `to` list).
#[derive(Debug, Clone, Default)]
pub struct MailOverrides {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<Security>,
    pub user: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<String>,
}

impl MailOptions {
    /// The settings file's `[mail]` with `flags` applied, and the password
    /// from `ZONESTAT_SMTP_PASSWORD` (an empty value counts as none).
    pub fn new(mail: &Mail, flags: MailOverrides) -> MailOptions {
        let password = std::env::var(PASSWORD_VAR).ok().filter(|p| !p.is_empty());
        MailOptions {
            host: flags.host.unwrap_or_else(|| mail.host.clone()),
            port: flags.port.or(mail.port),
            security: flags.security.unwrap_or(mail.security),
            user: flags.user.unwrap_or_else(|| mail.user.clone()),
            password,
            from: flags.from.unwrap_or_else(|| mail.from.clone()),
            to: or_file(flags.to, &mail.to),
            cc: or_file(flags.cc, &mail.cc),
            subject: flags.subject,
            timeout: Duration::from_secs(60),
            deadline: Duration::from_secs(mail.deadline_seconds),
        }
    }

    /// The port to use.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            Security::Tls => 465,
            Security::Starttls => 587,
            Security::None => 25,
        })
    }

    /// `host:port`, as the errors and the outcome name the server.
    pub fn server(&self) -> String {
        format!("{}:{}", self.host, self.port())
    }
}

/// A list flag replaces the file's list when given.
fn or_file(flag: Vec<String>, file: &[String]) -> Vec<String> {
    if flag.is_empty() { file.to_vec() } else { flag }
}

/// `--security starttls|tls|none`: the same words as in the settings file.
impl FromStr for Security {
    type Err = String;

    fn from_str(s: &str) -> Result<Security, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "starttls" => Ok(Security::Starttls),
            "tls" | "ssl" => Ok(Security::Tls),
            "none" => Ok(Security::None),
            _ => Err(format!("加密方式“{s}”应为 starttls、tls 或 none")),
        }
    }
}

/// What was sent, or written instead.
#[derive(Debug, Clone, PartialEq)]
pub struct SendOutcome {
    pub subject: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// The attachment's file name.
    pub attachment: String,
    /// The whole message's size in bytes.
    pub size: usize,
    /// What the body was made from.
    pub body: BodySource,
    pub delivery: Delivery,
}

/// What the body was made from.
#[derive(Debug, Clone, PartialEq)]
pub enum BodySource {
    /// The summary of a consolidation run in memory.
    Run,
    /// The JSON summary in this file.
    File(PathBuf),
    /// The summary the workbook holds in its own document properties.
    Workbook,
    /// No summary: the body only names the attachment.
    FileNameOnly,
}

/// Where the message went.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Accepted by the server `host:port`, which replied `reply`.
    Sent { server: String, reply: String },
    /// Written to an .eml file (`--dry-run`), not sent.
    Written(PathBuf),
}

/// Sends the workbook `report` by email over one SMTP session.
///
/// `summary` makes the body: [`Summary::from_run`] right after a
/// consolidation, [`find_summary`] for a workbook on disk; None gives
/// [`plain_body`]. Everything (recipients, sender, server, the period for
/// the subject, the attachment) is checked before connecting.
///
/// # Errors
/// [`Error::Input`] when the workbook cannot be read; [`Error::MailSettings`]
/// when something needed is missing or malformed; [`Error::MailConnect`],
/// [`Error::MailTls`], [`Error::MailAuth`], [`Error::MailRecipient`],
/// [`Error::MailRefused`] when the server cannot be reached or says no (then
/// nothing was sent); [`Error::MailUncertain`] when the connection broke
/// after the message was handed over.
///
/// # Examples
/// ```no_run
/// use std::path::Path;
/// use zonestat::{catalog::Catalogue, consolidate, mail, settings::Settings};
/// let cat = Catalogue::bundled();
/// let c = consolidate::consolidate("data".as_ref(), "2020-06".parse().unwrap(), &cat).unwrap();
/// let report = Path::new("开发区考核汇总表-2020年1-6月.xlsx");
/// // … write the workbook, then:
/// let settings = Settings::load(Path::new(".")).unwrap();
/// let options = mail::MailOptions::new(&settings.mail, mail::MailOverrides::default());
/// let summary = mail::Summary::from_run(&c, &cat);
/// let sent = mail::send_report(report, Some(&summary), &options).unwrap();
/// print!("{}", mail::outcome_text(&sent));
/// ```
pub fn send_report(
    report: &Path,
    summary: Option<&Summary>,
    mail: &MailOptions,
) -> Result<SendOutcome, Error> {
    check_server(mail)?;
    let (outcome, composed) = prepare(report, summary, mail)?;
    let reply = smtp::deliver_within(mail, composed)?;
    Ok(SendOutcome {
        delivery: Delivery::Sent {
            server: mail.server(),
            reply,
        },
        ..outcome
    })
}

/// Sends a short text message without attachment to `to` over one SMTP
/// session, with the same server settings as [`send_report`]: the portal's
/// reminders (催报) and return notices (退回). Returns the server's reply.
///
/// # Errors
/// As [`send_report`].
pub fn send_notice(
    mail: &MailOptions,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<String, Error> {
    check_server(mail)?;
    let from = required(
        &mail.from,
        "发件人",
        "没有发件人：请在 zonestat.toml 的 [mail] 中填写 from",
    )?;
    let to = required(to, "收件人", "没有收件人地址")?;
    let composed = message::compose_text(&from, &to, subject, body)?;
    smtp::deliver_within(mail, composed)
}

/// The server and login settings, checked before connecting.
fn check_server(mail: &MailOptions) -> Result<(), Error> {
    if mail.host.trim().is_empty() {
        return Err(Error::MailSettings(
            "没有邮件服务器：请在 zonestat.toml 的 [mail] 中填写 host，或用 --smtp-host 指定"
                .into(),
        ));
    }
    match (mail.user.trim().is_empty(), mail.password.is_some()) {
        (false, false) => Err(Error::MailSettings(format!(
            "已设置登录用户名 {}，但没有密码：请设置环境变量 {PASSWORD_VAR}（密码不能写在设置文件或命令行里）",
            mail.user
        ))),
        (true, true) => Err(Error::MailSettings(format!(
            "设置了环境变量 {PASSWORD_VAR}，但没有登录用户名：请在 [mail] 中填写 user（通常就是邮箱地址），或用 --user 指定"
        ))),
        _ => Ok(()),
    }
}

/// Writes the message [`send_report`] would send to `eml` instead
/// (atomically), for `--dry-run`. No server setting is needed.
///
/// # Errors
/// As [`send_report`] before connecting, and [`Error::Output`] when the file
/// cannot be written.
pub fn write_message(
    report: &Path,
    summary: Option<&Summary>,
    mail: &MailOptions,
    eml: &Path,
) -> Result<SendOutcome, Error> {
    let (outcome, composed) = prepare(report, summary, mail)?;
    crate::output::write_atomic(eml, &composed.bytes)?;
    Ok(SendOutcome {
        delivery: Delivery::Written(eml.to_path_buf()),
        ..outcome
    })
}

/// `zonestat send`: a workbook on disk, its summary found by
/// [`find_summary`], sent by [`send_report`] or, with `dry_run`, written by
/// [`write_message`]. Without a summary the subject takes the period from
/// the workbook's default file name.
///
/// # Errors
/// As [`find_summary`], [`send_report`] and [`write_message`].
pub fn send_file(
    report: &Path,
    summary: Option<&Path>,
    mail: &MailOptions,
    dry_run: Option<&Path>,
    cat: &Catalogue,
) -> Result<SendOutcome, Error> {
    if !report.is_file() {
        return Err(Error::Input {
            path: report.display().to_string(),
            message: "找不到这个考核汇总表文件".into(),
        });
    }
    // A workbook zonestat wrote knows its own period and summary, renamed or
    // mailed on without its JSON.
    let (found, body) = match find_summary(report, summary, cat)? {
        Some((path, s)) => (Some(s), Some(BodySource::File(path))),
        None => match Summary::from_properties(&workbook_properties(report)) {
            Some(s) => (Some(s), Some(BodySource::Workbook)),
            None => (None, None),
        },
    };
    let mut mail = mail.clone();
    if found.is_none()
        && mail.subject.is_none()
        && let Some(label) = label_from_file_name(report, cat)
    {
        mail.subject = Some(format!("{}（{label}）", cat.plan.mail_subject()));
    }
    let mut outcome = match dry_run {
        Some(eml) => write_message(report, found.as_ref(), &mail, eml)?,
        None => send_report(report, found.as_ref(), &mail)?,
    };
    if let Some(body) = body {
        outcome.body = body;
    }
    Ok(outcome)
}

/// The summary for a workbook on disk: `explicit` (`--summary`), else the
/// JSON file of the same name beside it (`x.xlsx` → `x.json`), else None.
/// Returns the file read with the summary.
///
/// A summary whose period is not the one in the workbook's default file name
/// is refused, and so is a JSON beside the workbook that was written more
/// than ten minutes before it: it is then probably from an earlier run, and
/// the body would describe other data than the attachment. A summary that
/// records its workbook's SHA-256 (`workbook_sha256`, written by `run` and
/// `consolidate --json` once the workbook is in place) must name this one.
///
/// # Errors
/// [`Error::Input`] when `explicit` is missing or either file is not a
/// zonestat summary; [`Error::MailSettings`] for a summary that does not
/// belong to the workbook.
pub fn find_summary(
    report: &Path,
    explicit: Option<&Path>,
    cat: &Catalogue,
) -> Result<Option<(PathBuf, Summary)>, Error> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => {
            let beside = report.with_extension("json");
            if !beside.is_file() {
                return Ok(None);
            }
            let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
            if let (Some(json), Some(xlsx)) = (modified(&beside), modified(report))
                && xlsx
                    .duration_since(json)
                    .is_ok_and(|d| d > Duration::from_secs(600))
            {
                return Err(Error::MailSettings(format!(
                    "{} 比考核汇总表 {} 早写出十分钟以上，可能不是同一次汇总的结果：请重新运行 consolidate --json，或用 --summary 明确指定汇总结果",
                    beside.display(),
                    report.display()
                )));
            }
            beside
        }
    };
    let summary = Summary::load(&path, cat)?;
    // A summary written with its workbook names it by SHA-256.
    let recorded = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| {
            v.get(crate::summary::WORKBOOK_SHA256)?
                .as_str()
                .map(str::to_string)
        });
    if let Some(recorded) = recorded {
        let actual = std::fs::read(report)
            .map(|b| crate::read::sha256_hex(&b))
            .unwrap_or_default();
        if recorded != actual {
            return Err(Error::MailSettings(format!(
                "汇总结果 {} 是与另一份考核汇总表一同写出的，不是 {} 的（SHA-256 不符）：考核汇总表可能没有写成功或被改动过。请重新运行 zonestat run（或 consolidate --json），或用 --summary 指定同一次汇总的结果",
                path.display(),
                report.display()
            )));
        }
    }
    if let Some(label) = label_from_file_name(report, cat)
        && label != summary.label()
    {
        return Err(Error::MailSettings(format!(
            "汇总结果 {} 是 {} 的，而考核汇总表 {} 是 {label} 的：请用 --summary 指定同一期的汇总结果",
            path.display(),
            summary.label(),
            report.display()
        )));
    }
    Ok(Some((path, summary)))
}

/// The period label in a workbook's default name
/// (`开发区考核汇总表-2020年1-6月.xlsx` → `2020年1-6月`), None for another name.
pub fn label_from_file_name(report: &Path, cat: &Catalogue) -> Option<String> {
    let name = report.file_name()?.to_str()?;
    let label = name
        .strip_suffix(".xlsx")?
        .strip_prefix(&cat.plan.report_file)?
        .strip_prefix('-')?;
    let year: i32 = label.get(..4)?.parse().ok()?;
    (1..=12)
        .filter_map(|m| crate::model::Period::new(year, m))
        .map(|p| p.run_label())
        .find(|l| l == label)
}

/// The short Chinese report printed after `send`.
pub fn outcome_text(o: &SendOutcome) -> String {
    let mut lines = Vec::new();
    match &o.delivery {
        Delivery::Sent { .. } => lines.push(format!("已发送：{}", o.subject)),
        Delivery::Written(path) => {
            lines.push(format!(
                "未发送（试运行）：邮件已写到 {}，可用邮件程序打开检查",
                path.display()
            ));
            lines.push(format!("主题：{}", o.subject));
        }
    }
    lines.push(format!("发件人：{}", o.from));
    lines.push(format!("收件人：{}", o.to.join("、")));
    if !o.cc.is_empty() {
        lines.push(format!("抄送：{}", o.cc.join("、")));
    }
    lines.push(format!(
        "附件：{}（邮件共 {} KB）",
        o.attachment,
        o.size.div_ceil(1024)
    ));
    match &o.body {
        BodySource::Run => {}
        BodySource::File(path) => lines.push(format!("正文摘要：取自 {}", path.display())),
        BodySource::Workbook => lines.push("正文摘要：取自考核汇总表自身记录的汇总结果".into()),
        BodySource::FileNameOnly => lines.push(
            "正文：没有找到本次汇总的 JSON 结果，正文只写了附件名（可用 --summary 指定 consolidate --json 写出的文件）".into(),
        ),
    }
    if let Delivery::Sent { server, reply } = &o.delivery {
        lines.push(format!("邮件服务器 {server} 回复：{reply}"));
    }
    lines.join("\n") + "\n"
}

/// Checks everything and builds the message.
fn prepare(
    report: &Path,
    summary: Option<&Summary>,
    mail: &MailOptions,
) -> Result<(SendOutcome, message::Composed), Error> {
    let file_name = report
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::Input {
            path: report.display().to_string(),
            message: "不是文件".into(),
        })?
        .to_string();
    if !file_name.to_ascii_lowercase().ends_with(".xlsx") {
        return Err(Error::MailSettings(format!(
            "附件应是考核汇总表（.xlsx 文件），而不是 {file_name}"
        )));
    }
    let from = required(
        &mail.from,
        "发件人",
        "没有发件人：请在 zonestat.toml 的 [mail] 中填写 from，或用 --from 指定",
    )?;
    let to = mailboxes(&mail.to, "收件人")?;
    let cc = mailboxes(&mail.cc, "抄送")?;
    if to.is_empty() {
        return Err(Error::MailSettings(
            "没有收件人：请在 zonestat.toml 的 [mail] 中填写 to，或用 --to 指定".into(),
        ));
    }
    let subject = match (&mail.subject, summary) {
        (Some(s), _) if !s.trim().is_empty() => s.trim().to_string(),
        (_, Some(s)) => format!("{}（{}）", s.subject, s.label()),
        (_, None) => {
            return Err(Error::MailSettings(format!(
                "看不出 {file_name} 是哪一期的考核汇总表：请用 --summary 指定 consolidate --json 写出的汇总结果，或用 --subject 写明邮件主题"
            )));
        }
    };
    let (body, source) = match summary {
        Some(s) => (s.body(&file_name), BodySource::Run),
        None => (plain_body(&file_name), BodySource::FileNameOnly),
    };
    let attachment = std::fs::read(report).map_err(|e| Error::Input {
        path: report.display().to_string(),
        message: e.to_string(),
    })?;
    let composed = message::compose(message::Parts {
        from: &from,
        to: &to,
        cc: &cc,
        subject: &subject,
        body: &body,
        file_name: &file_name,
        attachment,
    })?;
    let outcome = SendOutcome {
        subject,
        from: from.to_string(),
        to: to.iter().map(ToString::to_string).collect(),
        cc: cc.iter().map(ToString::to_string).collect(),
        attachment: file_name,
        size: composed.bytes.len(),
        body: source,
        delivery: Delivery::Written(PathBuf::new()),
    };
    Ok((outcome, composed))
}

/// One address, None when blank.
fn mailbox(text: &str, what: &str) -> Result<Option<Mailbox>, Error> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse::<Mailbox>().map(Some).map_err(|_| {
        Error::MailSettings(format!(
            "{what}地址“{t}”写得不对：应为 name@example.com 或 名称 <name@example.com>"
        ))
    })
}

/// One address that must be there: `missing` when blank.
fn required(text: &str, what: &str, missing: &str) -> Result<Mailbox, Error> {
    mailbox(text, what)?.ok_or_else(|| Error::MailSettings(missing.into()))
}

/// The addresses of a list, blank ones left out.
fn mailboxes(list: &[String], what: &str) -> Result<Vec<Mailbox>, Error> {
    list.iter()
        .filter_map(|t| mailbox(t, what).transpose())
        .collect()
}
