//! The working folder's settings, `zonestat.toml`: where the data folder, the
//! inbox and the outputs are, which catalogue to use, and how to send mail.
//! Every setting can also be given as a flag, which wins over the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;

/// The settings file's name, looked for in the current folder.
pub const FILE_NAME: &str = "zonestat.toml";

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The data folder: one `YYYY-MM` folder a period.
    pub data: PathBuf,
    /// Where received workbooks are dropped.
    pub inbox: PathBuf,
    /// Where workbooks, summaries and feedback are written.
    pub output: PathBuf,
    /// Another plan catalogue; empty for the bundled one.
    pub catalogue: Option<PathBuf>,
    pub archive: ArchiveSettings,
    pub mail: Mail,
    pub serve: Serve,
}

/// `[serve]`: where the portal listens and how long its sessions last.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Serve {
    /// The address to listen on; 127.0.0.1 is this computer only, 0.0.0.0
    /// every network the computer is on.
    pub address: String,
    pub port: u16,
    /// A session unused this many minutes ends.
    pub idle_minutes: u32,
    /// A session ends this many hours after login whatever happens.
    pub session_hours: u32,
    /// Mark cookies `Secure`: set when the portal is reached over https
    /// (through a proxy that holds the certificate).
    pub secure_cookies: bool,
    /// Mail the reminders (催报) by themselves this many days before a
    /// period's deadline, once a period; None: only when the office asks.
    pub remind_days_before: Option<u32>,
    /// The portal's own https: certificate chain and private key, PEM files.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

impl Default for Serve {
    fn default() -> Serve {
        Serve {
            address: "127.0.0.1".into(),
            port: 8080,
            idle_minutes: 30,
            session_hours: 8,
            secure_cookies: false,
            remind_days_before: None,
            tls_cert: None,
            tls_key: None,
        }
    }
}

/// `[archive]`: how intake treats the data folder and the inbox.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ArchiveSettings {
    /// A file changed less than this many seconds ago may still be being
    /// written (a mail program saving an attachment): it waits for the next run.
    pub settle_seconds: u64,
    /// How long to wait for another zonestat that is filing into the same
    /// data folder before giving up.
    pub lock_wait_seconds: u64,
}

impl Default for ArchiveSettings {
    fn default() -> ArchiveSettings {
        ArchiveSettings {
            settle_seconds: 5,
            lock_wait_seconds: 120,
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            data: PathBuf::from("数据"),
            inbox: PathBuf::from("收件箱"),
            output: PathBuf::from("汇总表"),
            catalogue: None,
            archive: ArchiveSettings::default(),
            mail: Mail::default(),
            serve: Serve::default(),
        }
    }
}

/// How the connection to the mail server is secured.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain connection upgraded with STARTTLS (usually port 587 or 25).
    #[default]
    Starttls,
    /// TLS from the start (usually port 465).
    Tls,
    /// No encryption (only for a server on the local network).
    None,
}

/// `[mail]`: the SMTP server and the recipients. The password is never stored
/// here: it comes from the environment variable `ZONESTAT_SMTP_PASSWORD`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Mail {
    pub host: String,
    pub port: Option<u16>,
    pub security: Security,
    pub user: String,
    pub from: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// The whole SMTP conversation must end within this many seconds.
    pub deadline_seconds: u64,
}

impl Default for Mail {
    fn default() -> Mail {
        Mail {
            host: String::new(),
            port: None,
            security: Security::default(),
            user: String::new(),
            from: String::new(),
            to: Vec::new(),
            cc: Vec::new(),
            deadline_seconds: 120,
        }
    }
}

impl Settings {
    /// Reads `zonestat.toml` from `dir` when it exists; defaults otherwise.
    /// Relative paths in the file are taken from `dir`.
    ///
    /// # Errors
    /// [`Error::Settings`] naming the file and the key when it is malformed.
    pub fn load(dir: &Path) -> Result<Settings, Error> {
        let path = dir.join(FILE_NAME);
        if !path.is_file() {
            return Ok(Settings::default().relative_to(dir));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Settings {
            file: path.display().to_string(),
            message: crate::error::io_message(&e),
        })?;
        let s: Settings = toml::from_str(&text).map_err(|e| Error::Settings {
            file: path.display().to_string(),
            message: crate::error::toml_message(&text, &e),
        })?;
        if text.contains("password") {
            return Err(Error::Settings {
                file: path.display().to_string(),
                message: "不要把邮箱密码写在设置文件里：请用环境变量 ZONESTAT_SMTP_PASSWORD 提供"
                    .into(),
            });
        }
        Ok(s.relative_to(dir))
    }

    fn relative_to(mut self, dir: &Path) -> Settings {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() && dir != Path::new("") && dir != Path::new(".") {
                *p = dir.join(&*p);
            }
        };
        fix(&mut self.data);
        fix(&mut self.inbox);
        fix(&mut self.output);
        for p in [
            &mut self.catalogue,
            &mut self.serve.tls_cert,
            &mut self.serve.tls_key,
        ]
        .into_iter()
        .flatten()
        {
            fix(p);
        }
        self
    }
}

/// The commented settings file `zonestat init` writes.
pub const TEMPLATE: &str = r#"# zonestat 设置文件。命令行参数优先于这里的设置。
# 路径可以是相对路径（相对于本文件所在的文件夹）。

# 数据文件夹：每期一个 YYYY-MM 子文件夹，存放已归档的报表
data = "数据"
# 收件箱：把邮件附件（各开发区报来的报表）放到这里，zonestat intake / run 会识别并归档
inbox = "收件箱"
# 输出文件夹：考核汇总表、JSON 汇总和反馈表写到这里
output = "汇总表"
# 另用一份计划目录文件时填写，例如 catalogue = "plan-2021.toml"
# catalogue = ""

[archive]
# 收件箱里的文件在最近这么多秒内还有变化（邮件程序可能正在保存），本次不归档，留待下次
settle_seconds = 5
# 另一个 zonestat 正在归档同一个数据文件夹时，最多等待这么多秒，然后放弃（退出码 2）
lock_wait_seconds = 120

[mail]
# 发送考核汇总表的邮件服务器（zonestat send / run --send）
host = ""
# 端口：tls 通常为 465，starttls 通常为 587
# port = 465
# 加密方式：starttls、tls 或 none
security = "starttls"
# 登录用户名；密码不要写在这里，请设置环境变量 ZONESTAT_SMTP_PASSWORD
user = ""
# 发件人，例如 "市商务局统计科 <tongji@example.com>"
from = ""
# 收件人和抄送
to = []
cc = []
# 整个发送过程（连接、登录、传送）最多这么多秒，超过即放弃
deadline_seconds = 120

[serve]
# 报表收集门户（zonestat serve）监听的地址和端口。
# 127.0.0.1 只允许本机访问；要让各开发区从单位内网访问，改为 0.0.0.0（或本机的内网地址）
address = "127.0.0.1"
port = 8080
# 登录后闲置多少分钟自动退出；登录多少小时后无论如何都要重新登录
idle_minutes = 30
session_hours = 8
# 门户经由 https（例如前面有一台持有证书的反向代理）访问时设为 true
secure_cookies = false
# 截止日期前几天自动给未报送、有错误或被退回的单位发催报邮件（每期一次，用 [mail] 的设置）；
# 不写则只在统计科点“催报”时发送
# remind_days_before = 3
# 由门户自己提供 https：填写证书和私钥文件（PEM 格式，可以是相对于本文件的路径），
# 两项都填才生效；此时登录 Cookie 自动只经 https 传送，访问地址变为 https://…
# tls_cert = "证书/portal.crt"
# tls_key = "证书/portal.key"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_init_template_parses_to_the_defaults() {
        let s: Settings = toml::from_str(TEMPLATE).unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn malformed_settings_name_the_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "[mail]\nhots = \"x\"\n").unwrap();
        let e = Settings::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("zonestat.toml") && e.contains("hots"), "{e}");
        std::fs::write(
            dir.path().join(FILE_NAME),
            "[mail]\nhost = \"x\"\n# password = \"1\"\n",
        )
        .unwrap();
        assert!(
            Settings::load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("ZONESTAT_SMTP_PASSWORD")
        );
    }

    #[test]
    fn relative_paths_are_taken_from_the_settings_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), "data = \"d\"\n").unwrap();
        let s = Settings::load(dir.path()).unwrap();
        assert_eq!(s.data, dir.path().join("d"));
        assert_eq!(s.inbox, dir.path().join("收件箱"));
    }
}
