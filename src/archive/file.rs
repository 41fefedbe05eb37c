//! Crash-safe changes to the data folder. Temporary files live in
//! `.zonestat-tmp/` inside the data folder (the same file system, so a rename
//! is atomic), which no folder scan reads; each holder of the lock first
//! empties it. A file is stored by copy → sync → rename into place → sync of
//! the folder; a filed file is moved, never deleted.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The folder of temporary files, in the data folder.
pub const TMP_DIR: &str = ".zonestat-tmp";

pub use crate::folder::is_own;

pub use crate::output::sync_dir;

/// Removes what an interrupted run left: everything in `.zonestat-tmp/`, and
/// temporary output files (`.zonestat-*.tmp`) in the data folder and its
/// period folders. Returns how many were removed.
pub fn clean_leftovers(data: &Path) -> usize {
    let mut removed = 0;
    let tmp = data.join(TMP_DIR);
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for e in entries.flatten() {
            if std::fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
    }
    let mut dirs = vec![data.to_path_buf()];
    if let Ok(entries) = std::fs::read_dir(data) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) && !is_own(&e.file_name().to_string_lossy())
            {
                dirs.push(e.path().join(super::SUPERSEDED));
                dirs.push(e.path());
            }
        }
    }
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".zonestat-")
                && name.ends_with(".tmp")
                && e.file_type().is_ok_and(|t| t.is_file())
                && std::fs::remove_file(e.path()).is_ok()
            {
                removed += 1;
            }
        }
    }
    if removed > 0 {
        let _ = sync_dir(&tmp);
    }
    removed
}

/// Stores `bytes` at `target` (which must not exist): a temporary copy in
/// `.zonestat-tmp/`, synced, renamed into place, the folder synced.
///
/// # Errors
/// The I/O error of the step that failed; `target` then does not exist
/// (at worst a temporary file is left for the next run to remove).
pub fn store(data: &Path, bytes: &[u8], target: &Path) -> std::io::Result<()> {
    if target.exists() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    let tmp_dir = data.join(TMP_DIR);
    std::fs::create_dir_all(&tmp_dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix("filing-")
        .suffix(".tmp")
        .tempfile_in(&tmp_dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    if let Some(dir) = target.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Moves a filed file into `<its folder>/_superseded/` under its name with
/// `stamp` (and a number when taken); both folders are synced.
///
/// # Errors
/// The I/O error when the folder cannot be made or the rename fails.
pub fn supersede(old: &Path, stamp: &str) -> std::io::Result<PathBuf> {
    let dir = old.parent().unwrap_or(Path::new("."));
    let to_dir = dir.join(super::SUPERSEDED);
    std::fs::create_dir_all(&to_dir)?;
    let stem = old
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = old
        .extension()
        .map(|s| format!(".{}", s.to_string_lossy()))
        .unwrap_or_default();
    let mut to = to_dir.join(format!("{stem}-{stamp}{ext}"));
    let mut n = 2;
    while to.exists() {
        to = to_dir.join(format!("{stem}-{stamp}-{n}{ext}"));
        n += 1;
    }
    std::fs::rename(old, &to)?;
    sync_dir(&to_dir)?;
    sync_dir(dir)?;
    Ok(to)
}

/// Removes a file (from the inbox) and syncs its folder.
///
/// # Errors
/// The I/O error of the removal.
pub fn remove(path: &Path) -> std::io::Result<()> {
    std::fs::remove_file(path)?;
    if let Some(dir) = path.parent() {
        let _ = sync_dir(dir);
    }
    Ok(())
}
