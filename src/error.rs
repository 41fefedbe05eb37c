//! Failures that stop a command. Problems with single input files are not
//! errors but [`crate::model::Finding`]s: they never stop the other files.

use thiserror::Error;

/// An error that stops a run (exit status 2).
#[derive(Debug, Error)]
pub enum Error {
    /// The catalogue file cannot be read or does not describe a valid plan.
    #[error("计划目录文件 {file} 有误：{message}")]
    Catalogue { file: String, message: String },
    /// A path given on the command line does not exist or cannot be listed.
    #[error("无法读取 {path}：{message}")]
    Input { path: String, message: String },
    /// The period could not be told (no `--period`, and the folder name is not `YYYY-MM`).
    #[error("{0}")]
    Period(String),
    /// The settings file `zonestat.toml` cannot be read or is malformed.
    #[error("设置文件 {file} 有误：{message}")]
    Settings { file: String, message: String },
    /// The portal's database cannot be opened or written.
    #[error("数据库 {path} 出错：{message}")]
    Database { path: String, message: String },
    /// An account cannot be made or changed as asked (a name taken, an
    /// unknown zone, a password too weak).
    #[error("{0}")]
    Account(String),
    /// The portal cannot start or stopped with an error.
    #[error("{0}")]
    Serve(String),
    /// Another zonestat kept the data folder's lock (it was filing) for
    /// longer than `[archive] lock_wait_seconds`. Nothing was changed.
    #[error(
        "另一个 zonestat 正在归档到数据文件夹 {path}，已等待 {seconds} 秒仍未结束：请等它完成后再运行（等待时间见 zonestat.toml 的 [archive] lock_wait_seconds）。本次没有改动任何文件。"
    )]
    ArchiveBusy { path: String, seconds: u64 },
    /// An output file could not be written.
    #[error("无法写出 {path}：{message}")]
    Output { path: String, message: String },
    /// The mail settings cannot make a message: no SMTP server, sender or
    /// recipients, an address that does not parse, a login name without a
    /// password (or the reverse), or no period for the subject. Checked
    /// before any connection is made, so nothing was sent.
    #[error("邮件设置有误：{0}")]
    MailSettings(String),
    /// The SMTP server cannot be reached: the name does not resolve, the
    /// connection is refused or times out, or the server turns the session
    /// away. Nothing was sent.
    #[error(
        "无法连接邮件服务器 {server}：{message}。请检查 zonestat.toml 中 [mail] 的 host 和 port（或 --smtp-host、--smtp-port）、网络连接和防火墙。邮件没有发出。"
    )]
    MailConnect { server: String, message: String },
    /// The encrypted connection failed: TLS handshake refused or garbled
    /// (often `security = "tls"` against a plain port, or the reverse), a
    /// certificate that does not verify, or no STARTTLS offered. Nothing was
    /// sent, and no password left the machine.
    #[error(
        "与邮件服务器 {server} 建立加密连接失败：{message}。请检查 [mail] 的 security 与端口是否相配（tls 通常用 465 端口，starttls 通常用 587 端口，none 不加密）以及服务器名称是否与证书一致。邮件没有发出。"
    )]
    MailTls { server: String, message: String },
    /// The server refused the login (or wants one that was not given).
    /// Nothing was sent.
    #[error(
        "邮件服务器 {server} 拒绝登录（用户 {user}）：{message}。请检查 [mail] 的 user（或 --user）和环境变量 ZONESTAT_SMTP_PASSWORD 中的密码；有的邮箱要用“授权码”代替登录密码。邮件没有发出。"
    )]
    MailAuth {
        server: String,
        user: String,
        message: String,
    },
    /// The server refused one recipient. The transaction was abandoned
    /// before the message was handed over, so no recipient got it.
    #[error(
        "邮件服务器 {server} 拒绝了收件人 {address}：{message}。请检查这个地址（[mail] 的 to、cc 或 --to、--cc）。邮件没有发给任何人。"
    )]
    MailRecipient {
        server: String,
        address: String,
        message: String,
    },
    /// The server refused the sender or the message itself (size, content,
    /// policy). Nothing was sent.
    #[error("邮件服务器 {server} 拒收：{message}。邮件没有发出。")]
    MailRefused { server: String, message: String },
    /// The connection broke after the whole message was handed over but
    /// before the server confirmed it: it may or may not have been
    /// delivered, so the program does not send it again by itself.
    #[error(
        "邮件已交给服务器 {server}，但没有收到确认：{message}。邮件可能已经发出，也可能没有：请先向收件人确认是否收到，再决定是否重新发送。"
    )]
    MailUncertain { server: String, message: String },
}

/// An operating-system error in words a clerk reads: the common cases in
/// Chinese, others with the system's own text.
pub fn io_message(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let what = match e.kind() {
        NotFound => "文件或文件夹不存在",
        PermissionDenied => "没有访问权限（文件可能被其他程序占用，或只读）",
        AlreadyExists => "文件已存在",
        StorageFull => "磁盘已满",
        ReadOnlyFilesystem => "磁盘或文件夹是只读的",
        IsADirectory => "这是一个文件夹，不是文件",
        NotADirectory => "这是一个文件，不是文件夹",
        _ => return format!("{e}"),
    };
    what.to_string()
}

/// A TOML file's syntax or type error in words a clerk reads: the line, what
/// is written there and what is wrong, in Chinese. The toml crate's own
/// English words are left out.
pub fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let raw = e.message();
    let quoted = |s: &str| -> Option<String> {
        let start = s.find('`')? + 1;
        let end = start + s[start..].find('`')?;
        Some(s[start..end].to_string())
    };
    let has = |words: &[&str]| words.iter().any(|w| raw.contains(w));
    // The names toml lists after "expected", for unknown fields and variants.
    let known = |before: &str, after: &str| -> String {
        raw.split_once("expected")
            .map(|(_, k)| {
                let k = k
                    .replace('`', "")
                    .replace(" one of", "")
                    .replace(" or ", ", ");
                format!(
                    "{before}可以写的有：{}{after}",
                    k.trim().trim_end_matches('.')
                )
            })
            .unwrap_or_default()
    };
    let why = if raw.contains("unknown field") {
        format!(
            "不认识的设置项“{}”{}",
            quoted(raw).unwrap_or_default(),
            known("（", "）")
        )
    } else if raw.contains("missing field") {
        format!("缺少必须写的设置项“{}”", quoted(raw).unwrap_or_default())
    } else if raw.contains("escape") {
        "字符串中的反斜杠“\\”后面不能跟这个字符：Windows 路径请把“\\”写成“\\\\”或“/”，或把整个路径放在单引号里（如 'D:\\数据'）".to_string()
    } else if has(&["invalid basic string", "invalid literal string"]) {
        "引号里的文字写得不对（不能换行，也不能有制表符等控制字符）".to_string()
    } else if has(&["unterminated", "unclosed", "missing closing"]) {
        "引号或括号没有配对：少了结尾的引号或括号".to_string()
    } else if raw.contains("duplicate") {
        "同一个设置项写了两次".to_string()
    } else if has(&["invalid type", "invalid value"]) {
        let expected = if has(&["expected a sequence", "expected an array"]) {
            "应写成方括号里的列表，如 [\"a\", \"b\"]"
        } else if has(&["expected a string", "expected a path"]) {
            "应写成引号里的文字"
        } else if has(&["integer", "u16", "usize", "f64", "number"]) {
            "应写成数字"
        } else if raw.contains("bool") {
            "应写成 true 或 false"
        } else {
            "类型不对"
        };
        format!("值的写法不对：{expected}")
    } else if raw.contains("unknown variant") {
        format!(
            "“{}”不是可用的值{}",
            quoted(raw).unwrap_or_default(),
            known("，", "")
        )
    } else {
        "这一行的写法不对（应为“名称 = 值”，文字要加引号，如 data = \"数据\"）".to_string()
    };
    match e.span() {
        Some(span) => {
            let at = span.start.min(text.len());
            let line_no = text[..at].matches('\n').count() + 1;
            let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
            format!("第 {line_no} 行“{line}”：{why}")
        }
        None => why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_read_in_chinese() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct S {
            data: Option<String>,
            port: Option<u16>,
            to: Option<Vec<String>>,
        }
        for (text, words) in [
            ("data = \"D:\\数据\"\n", vec!["第 1 行", "反斜杠", "单引号"]),
            ("\n\ndata = \"数据\n", vec!["第 3 行", "引号"]),
            (
                "dat = \"数据\"\n",
                vec!["第 1 行", "不认识的设置项“dat”", "data"],
            ),
            ("port = \"25\"\n", vec!["第 1 行", "数字"]),
            ("to = \"a@b\"\n", vec!["列表"]),
            ("data 数据\n", vec!["第 1 行", "名称 = 值"]),
            ("data = \"a\"\ndata = \"b\"\n", vec!["第 2 行", "两次"]),
        ] {
            let e = toml::from_str::<S>(text).unwrap_err();
            let m = toml_message(text, &e);
            for w in words {
                assert!(m.contains(w), "{text:?}: {m} (toml: {})", e.message());
            }
            for english in ["invalid", "expected", "string", "key", "TOML", "parse"] {
                assert!(!m.contains(english), "{m}");
            }
        }
    }

    #[test]
    fn common_io_errors_read_in_chinese() {
        let e = std::fs::read("/没有这个文件").unwrap_err();
        assert_eq!(io_message(&e), "文件或文件夹不存在");
    }
}
