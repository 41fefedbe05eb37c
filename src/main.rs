//! The command line: parse arguments, call the library, map the outcome to an
//! exit code (0 all good, 1 ran but found errors or missing data, 2 could not run).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zonestat::catalog::Catalogue;
use zonestat::model::Period;

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
}

fn main() -> ExitCode {
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
    let cat = match &cli.catalogue {
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
            Ok(if c.has_gaps() { 1 } else { 0 })
        }
    }
}
