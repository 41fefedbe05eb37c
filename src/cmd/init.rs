//! `zonestat init`: a work folder made (its settings file `zonestat.toml`
//! and the data, inbox and output folders).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::output::write_atomic;
use crate::settings::{FILE_NAME, Settings, TEMPLATE};

/// Writes a commented `zonestat.toml` and the folders it names into `dir`.
/// An existing settings file is kept.
///
/// # Errors
/// [`Error::Output`] when a folder or the file cannot be made.
pub fn init(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let err = |p: &Path| {
        let p = p.display().to_string();
        move |e: std::io::Error| Error::Output {
            path: p.clone(),
            message: crate::error::io_message(&e),
        }
    };
    std::fs::create_dir_all(dir).map_err(err(dir))?;
    let mut made = Vec::new();
    let file = dir.join(FILE_NAME);
    if !file.exists() {
        write_atomic(&file, TEMPLATE.as_bytes())?;
        made.push(file);
    }
    let s = Settings::load(dir)?;
    for folder in [&s.data, &s.inbox, &s.output] {
        if !folder.exists() {
            std::fs::create_dir_all(folder).map_err(err(folder))?;
            made.push(folder.clone());
        }
    }
    Ok(made)
}

/// `zonestat init`: names what was made and what to do next.
///
/// # Errors
/// A folder or the settings file that cannot be made.
pub fn init_command(dir: &Path) -> anyhow::Result<u8> {
    let made = init(dir)?;
    for p in &made {
        outln!("已建立 {}", p.display());
    }
    if made.is_empty() {
        outln!("{} 已有设置文件和文件夹，未作改动。", dir.display());
    }
    outln!("下一步：把收到的报表放进收件箱，然后运行 zonestat run。");
    Ok(0)
}
