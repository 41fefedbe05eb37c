//! Writing outputs safely: a temporary file in the target folder, then a rename,
//! so a reader never sees half a file and an interrupted run leaves the old one.
//! The temporary file is named `.zonestat-….tmp`: folder scans never take it
//! for a form, and one left in the data folder by a crash is removed the next
//! time the archive is opened ([`crate::archive`]).

use std::io::Write;
use std::path::Path;

use crate::error::Error;

/// The program and version written into every output (workbook properties,
/// page footers, the mail).
pub const MADE_BY: &str = concat!("zonestat ", env!("CARGO_PKG_VERSION"));

/// Makes a folder and those above it.
///
/// # Errors
/// [`Error::Output`] naming the folder.
pub fn create_dir(dir: &Path) -> Result<(), Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Output {
        path: dir.display().to_string(),
        message: crate::error::io_message(&e),
    })
}

/// Writes `bytes` to `path` atomically.
///
/// # Errors
/// [`Error::Output`] naming the path when the folder is missing or not writable.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_with(path, &mut |w| w.write_all(bytes))
}

/// Writes what `write` produces to `path` atomically (through a buffer), so
/// that a large output need not be built in memory first.
///
/// # Errors
/// [`Error::Output`] naming the path when the folder is missing or not
/// writable, or when `write` fails.
pub fn write_atomic_with(
    path: &Path,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), Error> {
    let err = |e: std::io::Error| Error::Output {
        path: path.display().to_string(),
        message: crate::error::io_message(&e),
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".zonestat-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(err)?;
    {
        let mut buffered = std::io::BufWriter::new(tmp.as_file_mut());
        write(&mut buffered).map_err(err)?;
        buffered.flush().map_err(err)?;
    }
    // The temporary file is private (0600); the output is an ordinary file others may read.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode())
            .unwrap_or(0o644);
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(mode & 0o777))
            .map_err(err)?;
    }
    tmp.as_file().sync_all().map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    // The rename itself survives a power cut only once the folder is synced.
    sync_dir(dir).map_err(err)?;
    Ok(())
}

/// Syncs a folder, so that a rename or removal in it survives a power cut.
///
/// # Errors
/// The I/O error when the folder cannot be opened or synced.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_whole_files_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("汇总.json");
        write_atomic(&path, b"{}").unwrap();
        write_atomic(&path, b"{\"a\": 1}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\": 1}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        let missing = dir.path().join("没有的文件夹/x.json");
        assert!(matches!(
            write_atomic(&missing, b"x"),
            Err(Error::Output { .. })
        ));
    }
}
