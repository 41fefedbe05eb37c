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
    /// An output file could not be written.
    #[error("无法写出 {path}：{message}")]
    Output { path: String, message: String },
}
