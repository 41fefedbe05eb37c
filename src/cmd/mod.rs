//! One module a command: each takes its part of the checked configuration
//! ([`crate::cli::Config`]), calls the library and writes what the clerk
//! reads on the terminal; each returns the exit code (0 all good, 1 ran but
//! found errors or missing data). The library logic the portal shares stays
//! outside this folder.

use crate::cli::{Config, Task};

/// Writes to standard output. A closed pipe (`zonestat check DIR | head -1`)
/// or a terminal that went away is not an error: the command finishes its
/// work and ends with its own exit status.
macro_rules! out {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($t)*);
    }};
}

/// [`out!`] with a newline.
macro_rules! outln {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

pub mod check;
pub mod consolidate;
pub mod help;
pub mod init;
pub mod intake;
pub mod run;
pub mod send;
pub mod serve;
pub mod status;
pub mod template;
pub mod user;

/// Runs the configured command.
///
/// # Errors
/// What stops the command (exit code 2).
pub fn run(config: Config) -> anyhow::Result<u8> {
    let cat = config.cat;
    match config.task {
        Task::Check {
            paths,
            period,
            json,
            feedback,
        } => check::check(&paths, period, json.as_deref(), feedback.as_deref(), &cat),
        Task::Template(req) => template::template(&req, &cat),
        Task::Init { dir } => init::init_command(&dir),
        Task::Intake {
            inbox,
            data,
            feedback,
            options,
        } => intake::intake(&inbox, &data, feedback.as_deref(), &options, &cat),
        Task::Status { data, period } => status::status(&data, period, &cat),
        Task::Run {
            settings,
            period,
            send,
            mail,
        } => run::run_command(&settings, period, send, &mail, &cat),
        Task::Consolidate {
            data,
            period,
            output,
            json,
            feedback,
        } => consolidate::consolidate(
            &data,
            period,
            &output,
            json.as_deref(),
            feedback.as_deref(),
            &cat,
        ),
        Task::Send {
            report,
            summary,
            dry_run,
            mail,
        } => send::send(&report, summary.as_deref(), dry_run.as_deref(), &mail, &cat),
        Task::Serve(config) => serve::serve(config, cat),
        Task::User { data, action } => user::user(&data, action, &cat),
        Task::Help { command } => help::help(command.as_deref()),
    }
}

/// A line for standard error (such as waiting for the archive's lock).
pub fn say_err(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A command that changes the archive finishes its work when its terminal
/// goes away (a closed window sends SIGHUP), as it does when its pipe closes.
fn ignore_hangup() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN installs no handler
    // code; it is done before any thread of ours is started.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
}

/// Writes the feedback workbooks of `forms` into `dir` and names them.
fn feedback(
    forms: &[crate::validate::CheckedForm],
    period: Option<crate::model::Period>,
    cat: &crate::catalog::Catalogue,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let created = crate::template::creation_time();
    for path in crate::feedback::write_feedback(forms, period, cat, dir, &created)? {
        outln!("已写出反馈表 {}", path.display());
    }
    Ok(())
}
