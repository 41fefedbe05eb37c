//! The program: parse the arguments, build the checked configuration, run
//! the command, map the outcome to an exit code — 0 all good, 1 ran but found
//! errors or missing data, 2 could not run.

use std::process::ExitCode;

fn main() -> ExitCode {
    // A worker process reads workbooks for its parent and never gets here.
    zonestat::read::pool::serve_if_worker();
    if let Ok(me) = std::env::current_exe() {
        zonestat::read::use_workers(me);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let cli = match zonestat::cli::parse(&args) {
        Ok(cli) => cli,
        Err(code) => return ExitCode::from(code),
    };
    match zonestat::cli::Config::resolve(cli).and_then(zonestat::cmd::run) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            zonestat::cmd::say_err(&format!("错误：{e:#}"));
            ExitCode::from(2)
        }
    }
}
