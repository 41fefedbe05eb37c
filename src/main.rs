//! The command line: parse arguments, call the library, map the outcome to an
//! exit code (0 all good, 1 ran but found errors or missing data, 2 could not run).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zonestat::catalog::Catalogue;
use zonestat::model::Period;
use zonestat::settings::Settings;

#[derive(Parser)]
#[command(
    name = "zonestat",
    version,
    about = "湖州市开发区统计报表检查、汇总与考核"
)]
struct Cli {
    /// 计划目录文件（开发区、报表、指标、目标）；默认使用内置的 2017-2020 年计划
    #[arg(long, global = true, value_name = "FILE")]
    catalogue: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// 检查报表文件或期别文件夹（YYYY-MM），列出识别结果和所有问题
    Check {
        /// 报表文件或期别文件夹
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// 应报的期别 YYYY-MM（默认取文件夹名）
        #[arg(long)]
        period: Option<Period>,
        /// 另将结果写成 JSON 文件
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// 为有问题的开发区在此文件夹写出反馈表（反馈-开发区-期别.xlsx），可直接发回
        #[arg(long, value_name = "DIR")]
        feedback: Option<PathBuf>,
    },
    /// 生成空白报表（按计划目录的表样），发给各开发区填报
    Template {
        /// 期别 YYYY-MM（填入报告期和填报单位）；不写则生成通用空白表
        #[arg(long)]
        period: Option<Period>,
        /// 开发区代码（如 HZ）、all（全部开发区和市统计局）或 city（市统计局）
        #[arg(long, default_value = "all")]
        zone: String,
        /// 只生成某张表：序号（1、2、3）或表号（湖开统1表）
        #[arg(long)]
        form: Option<String>,
        /// 输出文件夹
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        output: PathBuf,
    },
    /// 在当前文件夹（或指定文件夹）建立工作环境：设置文件 zonestat.toml、数据、收件箱和输出文件夹
    Init {
        /// 工作文件夹
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// 把收件箱里的报表识别后归档到数据文件夹（YYYY-MM/湖开统1表-开发区-期别.xlsx）
    Intake {
        /// 收件箱文件夹（默认取 zonestat.toml 的 inbox）
        inbox: Option<PathBuf>,
        /// 数据文件夹（默认取 zonestat.toml 的 data）
        #[arg(long)]
        data: Option<PathBuf>,
        /// 为留在收件箱的有错报表写出反馈表的文件夹
        #[arg(long, value_name = "DIR")]
        feedback: Option<PathBuf>,
    },
    /// 查看一期的报送情况：各开发区和市统计局的各张报表已收到、未报送或有错误
    Status {
        /// 数据文件夹（默认取 zonestat.toml 的 data）
        data: Option<PathBuf>,
        /// 期别 YYYY-MM（默认为最近一期）
        #[arg(long)]
        period: Option<Period>,
    },
    /// 日常一条命令：收件箱归档 → 报送情况 → 汇总考核 → 写出汇总表、JSON 和反馈表
    Run {
        /// 期别 YYYY-MM（默认为数据文件夹中最近一期）
        #[arg(long)]
        period: Option<Period>,
        /// 数据文件夹（默认取 zonestat.toml 的 data）
        #[arg(long)]
        data: Option<PathBuf>,
        /// 收件箱（默认取 zonestat.toml 的 inbox）
        #[arg(long)]
        inbox: Option<PathBuf>,
        /// 输出文件夹（默认取 zonestat.toml 的 output）
        #[arg(long)]
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
        /// 数据文件夹（内含各期 YYYY-MM 文件夹）
        data_dir: PathBuf,
        /// 期别 YYYY-MM；12 月为年度考核
        #[arg(long)]
        period: Period,
        /// 考核汇总表的文件名（默认：当前文件夹下的“开发区考核汇总表-2020年1-6月.xlsx”）
        #[arg(short, long, value_name = "FILE.xlsx")]
        output: Option<PathBuf>,
        /// 另将汇总结果写成 JSON 文件
        #[arg(long, value_name = "FILE.json")]
        json: Option<PathBuf>,
        /// 为有问题的开发区在此文件夹写出反馈表（反馈-开发区-期别.xlsx）
        #[arg(long, value_name = "DIR")]
        feedback: Option<PathBuf>,
    },
    /// 用电子邮件发送考核汇总表（收件人和邮件服务器取自 zonestat.toml 的 [mail]，密码取自环境变量 ZONESTAT_SMTP_PASSWORD）
    Send {
        /// 考核汇总表（xlsx）
        report: PathBuf,
        /// 汇总结果 JSON（consolidate --json 写出的），用来写邮件正文；默认取考核汇总表旁边的同名 .json 文件
        #[arg(long, value_name = "FILE.json")]
        summary: Option<PathBuf>,
        /// 不发送，把完整的邮件写到这个文件（.eml，可用邮件程序打开检查）
        #[arg(long, value_name = "FILE.eml")]
        dry_run: Option<PathBuf>,
        #[command(flatten)]
        mail: MailArgs,
    },
}

/// The mail flags; each replaces its `[mail]` setting in zonestat.toml.
#[derive(clap::Args)]
struct MailArgs {
    /// 收件人（可写多次；写了就不用设置文件里的 to）
    #[arg(long, value_name = "ADDR")]
    to: Vec<String>,
    /// 抄送（可写多次；写了就不用设置文件里的 cc）
    #[arg(long, value_name = "ADDR")]
    cc: Vec<String>,
    /// 邮件主题（默认：湖州市开发区考核汇总表（2020年1-6月））
    #[arg(long, value_name = "TEXT")]
    subject: Option<String>,
    /// 邮件服务器（SMTP）
    #[arg(long, value_name = "HOST")]
    smtp_host: Option<String>,
    /// 邮件服务器端口（默认 tls 465、starttls 587、none 25）
    #[arg(long, value_name = "PORT")]
    smtp_port: Option<u16>,
    /// 加密方式：starttls、tls 或 none
    #[arg(long, value_name = "starttls|tls|none")]
    security: Option<zonestat::settings::Security>,
    /// 登录用户名（密码只从环境变量 ZONESTAT_SMTP_PASSWORD 读取）
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// 发件人
    #[arg(long, value_name = "ADDR")]
    from: Option<String>,
}

impl MailArgs {
    fn overrides(self) -> zonestat::mail::MailOverrides {
        zonestat::mail::MailOverrides {
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

fn main() -> ExitCode {
    // A worker process reads workbooks for its parent and never gets here.
    zonestat::read::pool::serve_if_worker();
    if let Ok(me) = std::env::current_exe() {
        zonestat::read::use_workers(me);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("错误：{e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let settings = Settings::load(Path::new("."))?;
    let cat = match cli.catalogue.as_ref().or(settings.catalogue.as_ref()) {
        Some(path) => Catalogue::load(path)?,
        None => Catalogue::bundled(),
    };
    match cli.command {
        Command::Check {
            paths,
            period,
            json,
            feedback,
        } => {
            let report = zonestat::check::check(&paths, period, &cat)?;
            print!("{}", zonestat::check::render(&report));
            if let Some(path) = json {
                zonestat::check::write_json(&report, &path)?;
            }
            if let Some(dir) = feedback {
                let created = zonestat::template::creation_time();
                for path in
                    zonestat::feedback::write_feedback(&report.forms, period, &cat, &dir, &created)?
                {
                    println!("已写出反馈表 {}", path.display());
                }
            }
            Ok(if report.errors() > 0 { 1 } else { 0 })
        }
        Command::Template {
            period,
            zone,
            form,
            output,
        } => {
            let req = zonestat::template::request(&cat, period, &zone, form.as_deref(), output)?;
            let created = zonestat::template::creation_time();
            for path in zonestat::template::write_templates(&req, &cat, &created)? {
                println!("已生成 {}", path.display());
            }
            Ok(0)
        }
        Command::Init { dir } => {
            let made = zonestat::routine::init(&dir)?;
            for p in &made {
                println!("已建立 {}", p.display());
            }
            if made.is_empty() {
                println!("{} 已有设置文件和文件夹，未作改动。", dir.display());
            }
            println!("下一步：把收到的报表放进收件箱，然后运行 zonestat run。");
            Ok(0)
        }
        Command::Intake {
            inbox,
            data,
            feedback,
        } => {
            let inbox = inbox.unwrap_or(settings.inbox);
            let data = data.unwrap_or(settings.data);
            let report = zonestat::intake::intake(&inbox, &data, &cat)?;
            print!("{}", zonestat::intake::render(&report));
            for p in &report.periods {
                print!(
                    "{}",
                    zonestat::status::render(&zonestat::status::status(&data, *p, &cat)?)
                );
            }
            if let Some(dir) = feedback {
                let created = zonestat::template::creation_time();
                for path in zonestat::feedback::write_feedback(
                    &report.held_forms,
                    None,
                    &cat,
                    &dir,
                    &created,
                )? {
                    println!("已写出反馈表 {}", path.display());
                }
            }
            let held = report.entries.iter().any(|e| {
                matches!(
                    e.action,
                    zonestat::intake::Action::Held | zonestat::intake::Action::Conflict
                )
            });
            Ok(if held { 1 } else { 0 })
        }
        Command::Status { data, period } => {
            let data = data.unwrap_or(settings.data);
            let period = period
                .or_else(|| zonestat::routine::latest_period(&data))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{} 中没有任何一期的报表，请用 --period 指定期别",
                        data.display()
                    )
                })?;
            let table = zonestat::status::status(&data, period, &cat)?;
            print!("{}", zonestat::status::render(&table));
            Ok(if table.outstanding().next().is_some() {
                1
            } else {
                0
            })
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
            let mut s = settings;
            s.data = data.unwrap_or(s.data);
            s.inbox = inbox.unwrap_or(s.inbox);
            s.output = output.unwrap_or(s.output);
            let outcome = zonestat::routine::run(&s, period, &cat, &mut |line| println!("{line}"))?;
            if send || send_incomplete {
                let options = zonestat::mail::MailOptions::new(&s.mail, mail.overrides());
                let sent = zonestat::routine::send(&outcome, &options, send_incomplete, &cat)?;
                match sent {
                    Some(o) => print!("{}", zonestat::mail::outcome_text(&o)),
                    None => println!(
                        "数据不完整，考核汇总表没有发送。补齐数据后重新运行；确需先发送请加 --send-incomplete。"
                    ),
                }
            }
            Ok(if outcome.consolidation.has_gaps() {
                1
            } else {
                0
            })
        }
        Command::Consolidate {
            data_dir,
            period,
            output,
            json,
            feedback,
        } => {
            let c = zonestat::consolidate::consolidate(&data_dir, period, &cat)?;
            if let Some(dir) = feedback {
                let created = zonestat::template::creation_time();
                for path in zonestat::feedback::write_feedback(
                    &c.forms,
                    Some(period),
                    &cat,
                    &dir,
                    &created,
                )? {
                    println!("已写出反馈表 {}", path.display());
                }
            }
            if let Some(path) = json {
                let text =
                    serde_json::to_string_pretty(&zonestat::consolidate::summary_json(&c, &cat))?;
                zonestat::output::write_atomic(&path, text.as_bytes())?;
            }
            let path = output.unwrap_or_else(|| {
                PathBuf::from(zonestat::consolidate::default_report_name(period, &cat))
            });
            let made_at = zonestat::report::MadeAt::from_env();
            zonestat::report::write_report(&c, &cat, &path, made_at)?;
            print!("{}", zonestat::report::summary_text(&c, &cat, &path));
            let code = if c.has_gaps() { 1 } else { 0 };
            // The process ends here and the system takes its memory back at
            // once; freeing a thousand zones' forms one by one takes a while.
            std::mem::forget(c);
            Ok(code)
        }
        Command::Send {
            report,
            summary,
            dry_run,
            mail,
        } => {
            let options = zonestat::mail::MailOptions::new(&settings.mail, mail.overrides());
            let outcome = zonestat::mail::send_file(
                &report,
                summary.as_deref(),
                &options,
                dry_run.as_deref(),
                &cat,
            )?;
            print!("{}", zonestat::mail::outcome_text(&outcome));
            Ok(0)
        }
    }
}
