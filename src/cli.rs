//! The command line, in two stages (ripgrep's low and high arguments): clap
//! parses the flags ([`Cli`], dressed in Chinese by `help.rs`); then
//! [`Config::resolve`] joins them with `zonestat.toml` ([`crate::settings`])
//! into one checked configuration — paths chosen, catalogue loaded, period
//! known — before any workbook is opened. The commands themselves are in
//! [`crate::cmd`].

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::archive::latest_period;
use crate::catalog::Catalogue;
use crate::mail::MailOptions;
use crate::model::Period;
use crate::settings::{FILE_NAME, Settings};
use crate::template::TemplateRequest;

#[derive(Parser)]
#[command(
    name = "zonestat",
    version,
    about = "开发区统计报表检查、汇总与考核",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// 计划目录文件（开发区、报表、指标、目标）；默认使用内置的计划
    #[arg(long, global = true, value_name = "文件")]
    pub catalogue: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// 检查报表文件或期别文件夹（YYYY-MM），列出识别结果和所有问题
    Check {
        /// 报表文件或期别文件夹
        #[arg(required = true, value_name = "文件或文件夹")]
        paths: Vec<PathBuf>,
        /// 应报的期别 YYYY-MM（默认取文件夹名）
        #[arg(long, value_name = "YYYY-MM")]
        period: Option<Period>,
        /// 另将结果写成 JSON 文件
        #[arg(long, value_name = "文件")]
        json: Option<PathBuf>,
        /// 为有问题的开发区在此文件夹写出反馈表（反馈-开发区-期别.xlsx），可直接发回
        #[arg(long, value_name = "文件夹")]
        feedback: Option<PathBuf>,
    },
    /// 生成空白报表（按计划目录的表样），发给各开发区填报
    Template {
        /// 期别 YYYY-MM（填入报告期和填报单位）；不写则生成通用空白表
        #[arg(long, value_name = "YYYY-MM")]
        period: Option<Period>,
        /// 开发区代码（如 HZ）、all（全部开发区和市统计局，默认）或 city（市统计局）
        #[arg(long, default_value = "all", value_name = "开发区")]
        zone: String,
        /// 只生成某张表：序号（1、2、3）或表号（湖开统1表）
        #[arg(long, value_name = "表")]
        form: Option<String>,
        /// 输出文件夹（默认为当前文件夹）
        #[arg(short, long, value_name = "文件夹", default_value = ".")]
        output: PathBuf,
    },
    /// 在当前文件夹（或指定文件夹）建立工作环境：设置文件 zonestat.toml、数据、收件箱和输出文件夹
    Init {
        /// 工作文件夹（默认为当前文件夹）
        #[arg(default_value = ".", value_name = "工作文件夹")]
        dir: PathBuf,
    },
    /// 把收件箱里的报表识别后归档到数据文件夹（YYYY-MM/湖开统1表-开发区-期别.xlsx）
    Intake {
        /// 收件箱文件夹（默认取 zonestat.toml 的 inbox）
        #[arg(value_name = "收件箱")]
        inbox: Option<PathBuf>,
        /// 数据文件夹（默认取 zonestat.toml 的 data）
        #[arg(long, value_name = "文件夹")]
        data: Option<PathBuf>,
        /// 为留在收件箱的有错报表写出反馈表的文件夹
        #[arg(long, value_name = "文件夹")]
        feedback: Option<PathBuf>,
    },
    /// 查看一期的报送情况：各开发区和市统计局的各张报表已收到、未报送或有错误
    Status {
        /// 数据文件夹（默认取 zonestat.toml 的 data）
        #[arg(value_name = "数据文件夹")]
        data: Option<PathBuf>,
        /// 期别 YYYY-MM（默认为最近一期）
        #[arg(long, value_name = "YYYY-MM")]
        period: Option<Period>,
    },
    /// 日常一条命令：收件箱归档 → 报送情况 → 汇总考核 → 写出汇总表、JSON 和反馈表
    Run {
        /// 期别 YYYY-MM（默认为数据文件夹中最近一期）
        #[arg(long, value_name = "YYYY-MM")]
        period: Option<Period>,
        /// 数据文件夹（默认取 zonestat.toml 的 data）
        #[arg(long, value_name = "文件夹")]
        data: Option<PathBuf>,
        /// 收件箱（默认取 zonestat.toml 的 inbox）
        #[arg(long, value_name = "文件夹")]
        inbox: Option<PathBuf>,
        /// 输出文件夹（默认取 zonestat.toml 的 output）
        #[arg(long, value_name = "文件夹")]
        output: Option<PathBuf>,
        /// 汇总完整时，用电子邮件发送考核汇总表（设置见 zonestat.toml 的 [mail]）
        #[arg(long)]
        send: bool,
        /// 数据不完整时也发送（邮件正文会写明缺报和有错误的单位）
        #[arg(long)]
        send_incomplete: bool,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// 汇总一期的报表，考核计划目标，写出考核汇总表（xlsx）
    Consolidate {
        /// 数据文件夹（内含各期 YYYY-MM 文件夹；默认取 zonestat.toml 的 data）
        #[arg(value_name = "数据文件夹")]
        data_dir: Option<PathBuf>,
        /// 期别 YYYY-MM，12 月为年度考核（默认为数据文件夹中最近一期）
        #[arg(long, value_name = "YYYY-MM")]
        period: Option<Period>,
        /// 考核汇总表的文件名（默认：工作文件夹中为输出文件夹下、否则为当前文件夹下的“开发区考核汇总表-期别.xlsx”）
        #[arg(short, long, value_name = "文件.xlsx")]
        output: Option<PathBuf>,
        /// 另将汇总结果写成 JSON 文件
        #[arg(long, value_name = "文件.json")]
        json: Option<PathBuf>,
        /// 为有问题的开发区在此文件夹写出反馈表（反馈-开发区-期别.xlsx）
        #[arg(long, value_name = "文件夹")]
        feedback: Option<PathBuf>,
    },
    /// 用电子邮件发送考核汇总表（收件人和邮件服务器取自 zonestat.toml 的 [mail]，密码取自环境变量 ZONESTAT_SMTP_PASSWORD）
    Send {
        /// 考核汇总表（xlsx）
        #[arg(value_name = "考核汇总表.xlsx")]
        report: PathBuf,
        /// 汇总结果 JSON（consolidate --json 写出的），用来写邮件正文；默认取考核汇总表旁边的同名 .json 文件，没有时取汇总表自身记录的汇总结果
        #[arg(long, value_name = "文件.json")]
        summary: Option<PathBuf>,
        /// 不发送，把完整的邮件写到这个文件（.eml，可用邮件程序打开检查）
        #[arg(long, value_name = "文件.eml")]
        dry_run: Option<PathBuf>,
        #[command(flatten)]
        mail: MailArgs,
    },
    /// 启动报表收集门户：各开发区上传报表、当场看到检查结果，统计科查看报送情况（设置见 zonestat.toml 的 [serve]）
    Serve {
        /// 数据文件夹（默认取 zonestat.toml 的 data）
        #[arg(long)]
        data: Option<PathBuf>,
        /// 监听地址（默认取 [serve] 的 address，通常为 127.0.0.1）
        #[arg(long)]
        address: Option<String>,
        /// 端口（默认取 [serve] 的 port，通常为 8080；0 表示任选一个空闲端口）
        #[arg(long)]
        port: Option<u16>,
    },
    /// 管理门户账户：建立、列出、重设密码、停用
    User {
        /// 数据文件夹（默认取 zonestat.toml 的 data；账户保存在其中的 zonestat.sqlite）
        #[arg(long, global = true)]
        data: Option<PathBuf>,
        #[command(subcommand)]
        action: UserAction,
    },
    /// 显示某个命令的说明（同 zonestat 命令 --help）
    Help {
        /// 命令名，如 check；不写则显示全部命令
        #[arg(value_name = "命令")]
        command: Option<String>,
    },
}

/// `zonestat user …`
#[derive(Subcommand)]
pub enum UserAction {
    /// 建立账户，显示一次随机初始密码（首次登录时必须修改）
    Add {
        /// 账户名（登录用）
        name: String,
        /// 角色：zone（开发区填报员）、city（市统计局）或 office（统计科）
        #[arg(long, value_name = "zone|city|office")]
        role: String,
        /// 开发区代码（zone 账户必填，如 HZ）
        #[arg(long)]
        zone: Option<String>,
        /// 电子邮箱（催报和退回通知用）
        #[arg(long, default_value = "")]
        email: String,
    },
    /// 列出全部账户
    List,
    /// 为账户重设一个随机密码（下次登录时必须修改），并让它的所有登录失效
    Passwd {
        /// 账户名
        name: String,
    },
    /// 停用账户（--enable 重新启用）
    Disable {
        /// 账户名
        name: String,
        /// 重新启用
        #[arg(long)]
        enable: bool,
    },
}

/// The mail flags; each replaces its `[mail]` setting in zonestat.toml.
#[derive(clap::Args)]
pub struct MailArgs {
    /// 收件人（可写多次；写了就不用设置文件里的 to）
    #[arg(long, value_name = "地址")]
    pub to: Vec<String>,
    /// 抄送（可写多次；写了就不用设置文件里的 cc）
    #[arg(long, value_name = "地址")]
    pub cc: Vec<String>,
    /// 邮件主题（默认：计划目录的邮件主题加期别，如“…考核汇总表（某年1-6月）”）
    #[arg(long, value_name = "主题")]
    pub subject: Option<String>,
    /// 邮件服务器（SMTP）
    #[arg(long, value_name = "服务器")]
    pub smtp_host: Option<String>,
    /// 邮件服务器端口（默认 tls 465、starttls 587、none 25）
    #[arg(long, value_name = "端口")]
    pub smtp_port: Option<u16>,
    /// 加密方式：starttls、tls 或 none
    #[arg(long, value_name = "starttls|tls|none")]
    pub security: Option<crate::settings::Security>,
    /// 登录用户名（密码只从环境变量 ZONESTAT_SMTP_PASSWORD 读取）
    #[arg(long, value_name = "用户名")]
    pub user: Option<String>,
    /// 发件人
    #[arg(long, value_name = "地址")]
    pub from: Option<String>,
}

impl MailArgs {
    pub fn overrides(self) -> crate::mail::MailOverrides {
        crate::mail::MailOverrides {
            host: self.smtp_host,
            port: self.smtp_port,
            security: self.security,
            user: self.user,
            from: self.from,
            to: self.to,
            cc: self.cc,
            subject: self.subject,
        }
    }
}

/// The command line with its help screens and errors in Chinese.
pub fn command() -> clap::Command {
    crate::help::dress(Cli::command(), &Catalogue::bundled())
}

/// Parses the arguments (the program's name first).
///
/// # Errors
/// The exit code when there is nothing to run: 0 after a help or version
/// screen, 2 after a command-line error (both already printed).
pub fn parse(args: &[OsString]) -> Result<Cli, u8> {
    let parsed = command()
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m));
    parsed.map_err(|e| {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                0
            }
            _ => {
                // The command the error is about: the first word that names one.
                let names: Vec<String> = command()
                    .get_subcommands()
                    .map(|c| c.get_name().to_string())
                    .collect();
                let sub = args
                    .iter()
                    .skip(1)
                    .filter_map(|a| a.to_str())
                    .find(|a| names.iter().any(|n| n == a))
                    .unwrap_or("");
                eprint!("{}", crate::help::error_text(&e, sub));
                2
            }
        }
    })
}

/// One checked configuration: what to do, with every path and period
/// decided and the catalogue loaded.
pub struct Config {
    pub cat: Catalogue,
    pub task: Task,
}

/// A command with its flags and settings resolved.
pub enum Task {
    Check {
        paths: Vec<PathBuf>,
        period: Option<Period>,
        json: Option<PathBuf>,
        feedback: Option<PathBuf>,
    },
    Template(TemplateRequest),
    Init {
        dir: PathBuf,
    },
    Intake {
        inbox: PathBuf,
        data: PathBuf,
        feedback: Option<PathBuf>,
        options: crate::intake::IntakeOptions,
    },
    Status {
        data: PathBuf,
        period: Period,
    },
    Run {
        /// The settings with the flags' folders in place.
        settings: Box<Settings>,
        period: Option<Period>,
        /// Mail the workbook: `Some(true)` even when data are missing.
        send: Option<bool>,
        mail: Box<MailOptions>,
    },
    Consolidate {
        data: PathBuf,
        period: Period,
        /// The workbook to write.
        output: PathBuf,
        json: Option<PathBuf>,
        feedback: Option<PathBuf>,
    },
    Send {
        report: PathBuf,
        summary: Option<PathBuf>,
        dry_run: Option<PathBuf>,
        mail: Box<MailOptions>,
    },
    Serve(crate::serve::Config),
    User {
        data: PathBuf,
        action: UserAction,
    },
    Help {
        command: Option<String>,
    },
}

/// The latest period of a data folder, or the error that asks for `--period`.
fn period_or_latest(period: Option<Period>, data: &Path) -> anyhow::Result<Period> {
    period.or_else(|| latest_period(data)).ok_or_else(|| {
        anyhow::anyhow!(
            "{} 中没有任何一期的报表，请用 --period 指定期别",
            data.display()
        )
    })
}

impl Config {
    /// Joins the flags with `zonestat.toml` of the current folder.
    ///
    /// # Errors
    /// A settings or catalogue file that cannot be read or is wrong, a flag
    /// that names nothing usable, a missing period: nothing has run yet.
    pub fn resolve(cli: Cli) -> anyhow::Result<Config> {
        let settings = Settings::load(Path::new("."))?;
        // A work folder is one with a settings file (made by `zonestat init`).
        let work_folder = Path::new(FILE_NAME).is_file();
        let cat = match cli.catalogue.as_ref().or(settings.catalogue.as_ref()) {
            Some(path) => Catalogue::load(path)?,
            None => Catalogue::bundled(),
        };
        let task = match cli.command {
            Command::Check {
                paths,
                period,
                json,
                feedback,
            } => Task::Check {
                paths,
                period,
                json,
                feedback,
            },
            Command::Template {
                period,
                zone,
                form,
                output,
            } => Task::Template(crate::template::request(
                &cat,
                period,
                &zone,
                form.as_deref(),
                output,
            )?),
            Command::Init { dir } => Task::Init { dir },
            Command::Intake {
                inbox,
                data,
                feedback,
            } => Task::Intake {
                inbox: inbox.unwrap_or(settings.inbox.clone()),
                data: data.unwrap_or(settings.data.clone()),
                feedback,
                options: crate::intake::IntakeOptions::from_settings(&settings.archive),
            },
            Command::Status { data, period } => {
                let data = data.unwrap_or(settings.data.clone());
                let period = period_or_latest(period, &data)?;
                Task::Status { data, period }
            }
            Command::Run {
                period,
                data,
                inbox,
                output,
                send,
                send_incomplete,
                mail,
            } => {
                if !work_folder && (data.is_none() || inbox.is_none() || output.is_none()) {
                    anyhow::bail!(
                        "当前文件夹不是工作文件夹（这里没有设置文件 {}），未作任何改动。请先用 zonestat init 建立工作文件夹（如 zonestat init 开发区统计，再 cd 开发区统计），或用 --data、--inbox 和 --output 指定三个文件夹。",
                        FILE_NAME
                    );
                }
                let mut s = settings;
                s.data = data.unwrap_or(s.data);
                s.inbox = inbox.unwrap_or(s.inbox);
                s.output = output.unwrap_or(s.output);
                let mail = Box::new(MailOptions::new(&s.mail, mail.overrides()));
                Task::Run {
                    settings: Box::new(s),
                    period,
                    send: (send || send_incomplete).then_some(send_incomplete),
                    mail,
                }
            }
            Command::Consolidate {
                data_dir,
                period,
                output,
                json,
                feedback,
            } => {
                // In a work folder the settings' data folder and the latest period
                // are the defaults, as for status, intake and run.
                let data = match data_dir {
                    Some(d) => d,
                    None if work_folder => settings.data.clone(),
                    None => anyhow::bail!(
                        "请写出数据文件夹，例如 zonestat consolidate 数据 --period {}（在有 {} 的工作文件夹中可以不写）",
                        cat.example_period(),
                        FILE_NAME
                    ),
                };
                let period = period_or_latest(period, &data)?;
                let name = crate::consolidate::default_report_name(period, &cat);
                // `-o 文件夹/` (or an existing folder) takes the default name inside it;
                // in a work folder the default is its output folder.
                let output = match output {
                    Some(o) if o.is_dir() || o.to_string_lossy().ends_with(['/', '\\']) => {
                        o.join(name)
                    }
                    Some(o) => o,
                    None if work_folder => settings.output.join(name),
                    None => PathBuf::from(name),
                };
                Task::Consolidate {
                    data,
                    period,
                    output,
                    json,
                    feedback,
                }
            }
            Command::Send {
                report,
                summary,
                dry_run,
                mail,
            } => Task::Send {
                report,
                summary,
                dry_run,
                mail: Box::new(MailOptions::new(&settings.mail, mail.overrides())),
            },
            Command::Serve {
                data,
                address,
                port,
            } => {
                let serve = &settings.serve;
                let address = address.unwrap_or_else(|| serve.address.clone());
                let port = port.unwrap_or(serve.port);
                let listen: std::net::SocketAddr = format!("{address}:{port}")
                    .parse()
                    .or_else(|_| format!("[{address}]:{port}").parse())
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "监听地址“{address}”无法识别，应为 IP 地址，如 127.0.0.1 或 0.0.0.0"
                        )
                    })?;
                Task::Serve(crate::serve::Config {
                    data: data.unwrap_or(settings.data.clone()),
                    listen,
                    idle_timeout: i64::from(serve.idle_minutes) * 60,
                    absolute_timeout: i64::from(serve.session_hours) * 3600,
                    secure_cookies: serve.secure_cookies,
                    mail: settings.mail.clone(),
                    remind_days_before: serve.remind_days_before,
                    tls_cert: serve.tls_cert.clone(),
                    tls_key: serve.tls_key.clone(),
                })
            }
            Command::User { data, action } => Task::User {
                data: data.unwrap_or(settings.data.clone()),
                action,
            },
            Command::Help { command } => Task::Help { command },
        };
        Ok(Config { cat, task })
    }
}
