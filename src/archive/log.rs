//! `intake.log`: one JSON object a line, appended in one write and synced.
//! A crash (a power cut mid-write) can leave at most the last line torn; a
//! reader skips a line that does not parse and says which; the next holder of
//! the lock keeps the fragment as a `torn` record of its own ([`repair`]), and
//! an append never glues a record onto a torn line.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// The log's file name, in the data folder.
pub const LOG_NAME: &str = "intake.log";

/// The log as read: every record that parses, and the lines that did not.
#[derive(Debug, Default)]
pub struct LogRead {
    pub records: Vec<Value>,
    /// 1-based numbers of the lines skipped (torn by a crash, or edited by hand).
    pub skipped: Vec<usize>,
}

impl LogRead {
    /// Whether some record has `sha256` and `action` (as serialised).
    pub fn has(&self, sha256: &str, action: &str) -> bool {
        self.records.iter().any(|r| {
            r.get("sha256").and_then(Value::as_str) == Some(sha256)
                && r.get("action").and_then(Value::as_str) == Some(action)
        })
    }

    /// What a reader says about the skipped lines, if any.
    pub fn note(&self, log: &Path) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let lines: Vec<String> = self.skipped.iter().map(usize::to_string).collect();
        Some(format!(
            "{} 第 {} 行不完整（可能是上次运行中断时写了一半），已跳过；归档的文件不受影响。",
            log.display(),
            lines.join("、")
        ))
    }
}

/// Reads the log; a missing log is empty.
pub fn read(log: &Path) -> LogRead {
    let Ok(bytes) = std::fs::read(log) else {
        return LogRead::default();
    };
    let mut out = LogRead::default();
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Value>(line) {
            Ok(v) if v.is_object() => out.records.push(v),
            _ => out.skipped.push(i + 1),
        }
    }
    out
}

/// Repairs a log whose last line was torn by a crash (no newline at the
/// end): the fragment is taken off and appended again as a whole record
/// `{"time", "action": "torn", "fragment"}`, so that every line parses and
/// nothing written is lost. Returns the torn line's number, if there was one.
/// Only the holder of the archive's lock may call this.
///
/// # Errors
/// The I/O error when the log cannot be read or rewritten.
pub fn repair(log: &Path, time: &str) -> std::io::Result<Option<usize>> {
    let bytes = match std::fs::read(log) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(None);
    }
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = bytes[..start].iter().filter(|&&b| b == b'\n').count() + 1;
    let fragment = String::from_utf8_lossy(&bytes[start..]).into_owned();
    let f = std::fs::OpenOptions::new().write(true).open(log)?;
    f.set_len(start as u64)?;
    f.sync_data()?;
    append(
        log,
        &serde_json::json!({"time": time, "action": "torn", "fragment": fragment}),
    )?;
    Ok(Some(line))
}

/// Appends one record as one line: a single write, then a sync. A torn last
/// line (no newline at the end of the file) is ended first.
///
/// # Errors
/// The I/O error when the log cannot be opened, written or synced.
pub fn append(log: &Path, record: &impl Serialize) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(log)?;
    let mut line = Vec::with_capacity(256);
    let len = f.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        f.seek(SeekFrom::Start(len - 1))?;
        f.read_exact(&mut last)?;
        if last[0] != b'\n' {
            line.push(b'\n');
        }
    }
    serde_json::to_writer(&mut line, record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    f.write_all(&line)?;
    f.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_line_is_ended_before_the_next_record_and_skipped_by_readers() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_NAME);
        append(&log, &serde_json::json!({"sha256": "a", "action": "filed"})).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"{\"sha256\":\"b\",\"act").unwrap();
        append(&log, &serde_json::json!({"sha256": "c", "action": "held"})).unwrap();
        let r = read(&log);
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.skipped, [2]);
        assert!(r.has("c", "held") && !r.has("a", "held"));
        assert!(r.note(&log).unwrap().contains("第 2 行"));
    }

    #[test]
    fn a_torn_last_line_is_kept_as_a_record_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_NAME);
        append(&log, &serde_json::json!({"sha256": "a", "action": "filed"})).unwrap();
        assert_eq!(repair(&log, "t").unwrap(), None);
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        f.write_all(b"{\"sha256\":\"b\",\"act").unwrap();
        assert_eq!(repair(&log, "t").unwrap(), Some(2));
        let r = read(&log);
        assert!(r.skipped.is_empty());
        assert_eq!(r.records[1]["action"], "torn");
        assert_eq!(r.records[1]["fragment"], "{\"sha256\":\"b\",\"act");
    }
}
