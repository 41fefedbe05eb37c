//! The archive's lock: one exclusive lock on `.zonestat.lock` in the data
//! folder, held by whoever changes the folder (intake, run, the portal). A
//! second one waits, saying so once, up to a limit.
//!
//! Readers (check, consolidate, status) take no lock: every change is a
//! rename of a whole file, so they see the old file or the new one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;

/// The lock file's name, in the data folder.
pub const LOCK_NAME: &str = ".zonestat.lock";

/// What a waiting process says, once.
pub const WAITING: &str = "另一个 zonestat 正在归档，等待……";

/// The exclusive lock on a data folder; released when dropped (and by the
/// system when the process ends, however it ends).
#[derive(Debug)]
pub struct ArchiveLock {
    _file: File,
    path: PathBuf,
}

impl ArchiveLock {
    /// Takes the lock of `data` (made when missing), waiting up to `wait`;
    /// `say` hears [`WAITING`] once when another process holds it.
    ///
    /// # Errors
    /// [`Error::Output`] when the lock file cannot be made;
    /// [`Error::ArchiveBusy`] when the lock is still held after `wait`.
    pub fn acquire(
        data: &Path,
        wait: Duration,
        say: &mut dyn FnMut(&str),
    ) -> Result<ArchiveLock, Error> {
        let path = data.join(LOCK_NAME);
        let io = |e: std::io::Error| Error::Output {
            path: path.display().to_string(),
            message: crate::error::io_message(&e),
        };
        std::fs::create_dir_all(data).map_err(io)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let start = Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(ArchiveLock { _file: file, path }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
            if start.elapsed() >= wait {
                return Err(Error::ArchiveBusy {
                    path: data.display().to_string(),
                    seconds: wait.as_secs(),
                });
            }
            if !said {
                say(WAITING);
                said = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_waits_then_gives_up() {
        let dir = tempfile::tempdir().unwrap();
        let first = ArchiveLock::acquire(dir.path(), Duration::ZERO, &mut |_| {}).unwrap();
        let mut heard = Vec::new();
        let e = ArchiveLock::acquire(dir.path(), Duration::from_millis(120), &mut |s| {
            heard.push(s.to_string())
        })
        .unwrap_err();
        assert!(matches!(e, Error::ArchiveBusy { .. }), "{e}");
        assert_eq!(heard, [WAITING]);
        drop(first);
        ArchiveLock::acquire(dir.path(), Duration::ZERO, &mut |_| {}).unwrap();
    }
}
