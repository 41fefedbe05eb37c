//! The command line in Chinese: help screens (headings, usage lines, examples
//! and exit codes) and clap's own errors, for clerks who read no English.
//! clap builds the screens from the commands declared in `cli.rs`; this
//! module only dresses them. The examples' periods and file names come from
//! the catalogue's plan.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};

use crate::catalog::Catalogue;
use crate::model::Period;

/// The layout of every help screen.
const TEMPLATE: &str = "\
{about-with-newline}
用法：{usage}

{all-args}{after-help}
";

/// The exit codes, the same for every command.
const EXIT_CODES: &str = "退出码：0 没有问题；1 已运行，但有错误、缺报或缺少数据；2 无法运行（路径不存在、设置或计划目录文件有误、命令行有误）。";

/// Usage line and examples of each command, by name. In the examples `{月}`
/// stands for a month of the plan's last year (`YYYY-06`), `{下月}` for the
/// month after, `{年}` for its December and `{汇总表}` for the workbook
/// `consolidate` writes for `{月}`.
const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "",
        "zonestat [--catalogue 文件] <命令> [选项]",
        "例如：\n  zonestat init 开发区统计      建立工作文件夹\n  zonestat run                  在工作文件夹中：归档、汇总、写出汇总表\n  zonestat check --help         查看 check 命令的说明",
    ),
    (
        "check",
        "zonestat check <文件或文件夹>... [选项]",
        "例如：\n  zonestat check 数据/{月}\n  zonestat check 附件1.xlsx --period {月}\n  zonestat check 数据/{月} --json 检查结果.json --feedback 反馈",
    ),
    (
        "template",
        "zonestat template [选项]",
        "例如：\n  zonestat template --period {下月} -o 空白表\n  zonestat template --period {年} --zone HZ -o 空白表",
    ),
    (
        "init",
        "zonestat init [工作文件夹]",
        "例如：\n  zonestat init 开发区统计\n  zonestat init                 在当前文件夹建立",
    ),
    (
        "intake",
        "zonestat intake [收件箱] [选项]",
        "例如：\n  zonestat intake                              在工作文件夹中按 zonestat.toml 归档\n  zonestat intake 收件箱 --data 数据 --feedback 反馈",
    ),
    (
        "status",
        "zonestat status [数据文件夹] [选项]",
        "例如：\n  zonestat status\n  zonestat status 数据 --period {月}",
    ),
    (
        "run",
        "zonestat run [选项]",
        "例如：\n  zonestat run\n  zonestat run --period {年}\n  zonestat run --send",
    ),
    (
        "consolidate",
        "zonestat consolidate [数据文件夹] [选项]",
        "例如：\n  zonestat consolidate                              在工作文件夹中：最近一期，写到输出文件夹\n  zonestat consolidate 数据 --period {月}\n  zonestat consolidate 数据 --period {年} -o 年度汇总.xlsx --json 汇总.json",
    ),
    (
        "send",
        "zonestat send <考核汇总表.xlsx> [选项]",
        "例如：\n  zonestat send 汇总表/{汇总表} --dry-run 试发.eml\n  zonestat send 汇总表/{汇总表}",
    ),
    (
        "help",
        "zonestat help [命令]",
        "例如：\n  zonestat help\n  zonestat help check",
    ),
];

fn entry(name: &str) -> Option<&'static (&'static str, &'static str, &'static str)> {
    COMMANDS.iter().find(|(n, _, _)| *n == name)
}

/// The usage line of a command (`""` for the program itself).
pub fn usage(name: &str) -> &'static str {
    entry(name).map_or("zonestat <命令> [选项]", |e| e.1)
}

/// The command line dressed in Chinese: every command's help screen has
/// the template above, Chinese headings, its usage line, its examples and
/// the exit codes, and `-h`/`--help` and `-V`/`--version` say what they do
/// in Chinese.
pub fn dress(cmd: Command, cat: &Catalogue) -> Command {
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let about = format!(
        "{about}\n内置计划：{}（{}）",
        cat.plan.name, cat.plan.document
    );
    let month = cat.example_period();
    let examples = |text: &str| {
        text.replace("{月}", &month.to_string())
            .replace(
                "{下月}",
                &Period {
                    month: month.month + 1,
                    ..month
                }
                .to_string(),
            )
            .replace(
                "{年}",
                &Period {
                    year: month.year,
                    month: 12,
                }
                .to_string(),
            )
            .replace(
                "{汇总表}",
                &crate::consolidate::default_report_name(month, cat),
            )
    };
    let cmd = dress_one(cmd, "", &examples)
        .about(about)
        .disable_version_flag(true)
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("显示版本号")
                .help_heading("选项"),
        )
        .subcommand_help_heading("命令")
        .subcommand_value_name("命令");
    cmd.mut_subcommands(|sub| {
        let name = sub.get_name().to_string();
        dress_one(sub, &name, &examples)
    })
}

fn dress_one(cmd: Command, name: &str, fill: &dyn Fn(&str) -> String) -> Command {
    let (usage, examples) = entry(name).map_or(("", ""), |e| (e.1, e.2));
    let examples = fill(examples);
    let mut cmd = cmd
        .help_template(TEMPLATE)
        .disable_help_flag(true)
        .after_help(format!("{examples}\n\n{EXIT_CODES}"))
        .mut_args(|a| {
            let heading = if a.is_positional() {
                "参数"
            } else {
                "选项"
            };
            let a = a.help_heading(heading);
            if a.get_action().takes_values() {
                a.hide_default_value(true).hide_possible_values(true)
            } else {
                a
            }
        })
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("显示本说明")
                .help_heading("选项"),
        );
    if !usage.is_empty() {
        cmd = cmd.override_usage(usage);
    }
    cmd
}

/// A clap error in Chinese, with the usage line of the command it is about.
pub fn error_text(e: &clap::Error, command: &str) -> String {
    let get = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join("、"),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let arg = get(ContextKind::InvalidArg);
    let value = get(ContextKind::InvalidValue);
    let suggestion = |what: ContextKind| {
        let s = get(what);
        if s.is_empty() {
            String::new()
        } else {
            format!("，是不是要写 {s}？")
        }
    };
    let why = match e.kind() {
        ErrorKind::InvalidValue => {
            let valid = get(ContextKind::ValidValue);
            if valid.is_empty() {
                format!("{arg} 的值“{value}”无效")
            } else {
                format!("{arg} 的值“{value}”无效，应为以下之一：{valid}")
            }
        }
        ErrorKind::ValueValidation => {
            let source = std::error::Error::source(e)
                .map(|s| format!("：{s}"))
                .unwrap_or_default();
            format!("{arg} 的值“{value}”无效{source}")
        }
        ErrorKind::UnknownArgument => format!(
            "不认识的参数“{arg}”{}",
            suggestion(ContextKind::SuggestedArg)
        ),
        ErrorKind::InvalidSubcommand => format!(
            "没有“{}”这个命令{}",
            get(ContextKind::InvalidSubcommand),
            suggestion(ContextKind::SuggestedSubcommand)
        ),
        ErrorKind::MissingRequiredArgument => format!("缺少必须写的参数：{arg}"),
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            "缺少命令".to_string()
        }
        ErrorKind::ArgumentConflict => {
            format!("{arg} 不能与 {} 同时使用", get(ContextKind::PriorArg))
        }
        ErrorKind::NoEquals => format!("{arg} 的值要用等号写在后面，如 {arg}=值"),
        ErrorKind::TooManyValues => format!("{arg} 后面的值太多：“{value}”"),
        ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("{arg} 后面的值的个数不对")
        }
        ErrorKind::InvalidUtf8 => "命令行中有无法识别的字符（不是 UTF-8 编码）".to_string(),
        _ => "命令行有误".to_string(),
    };
    let help = if command.is_empty() {
        "zonestat --help".to_string()
    } else {
        format!("zonestat {command} --help")
    };
    format!(
        "错误：{why}\n\n用法：{}\n\n详细说明请运行 {help}。\n",
        usage(command)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_usage_line_and_examples() {
        for (name, usage, examples) in COMMANDS {
            assert!(usage.starts_with("zonestat"), "{name}");
            assert!(examples.starts_with("例如"), "{name}");
        }
    }
}
