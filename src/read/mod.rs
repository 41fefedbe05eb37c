//! Workbook files → the forms they hold, as written. Files are recognised by
//! their content; every file gets an outcome, and problems that concern a
//! whole file (unreadable, password, too large, no form) are findings here.
//!
//! Files arrive from outside and may be damaged or crafted. Their bytes are
//! parsed (calamine, `workbook.rs`) in worker processes under the
//! operating system's limits (`pool.rs`): whatever a file makes the parser
//! do, it ends as findings about that file, and the next file is read. The
//! form is then found on the sheets here, in the calling process, inside a
//! panic guard of its own.

pub mod form;
pub mod guard;
pub mod pool;
pub mod workbook;

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::catalog::{Catalogue, Limits};
use crate::model::{Finding, Severity};
pub use form::{FormRead, Located, RawValue, RowRead};
pub use pool::{Failure, Pool, use_workers};
pub use workbook::{CellValue, FileType, LimitHit, Sheet, Stored};

/// What became of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A workbook with at least one form.
    Read,
    /// Not a workbook, or a lock file: left alone, with the reason.
    Ignored,
    /// Claims to be a workbook but cannot be read, or holds no form.
    Unreadable,
}

/// A file and the forms found in it.
#[derive(Debug, Clone)]
pub struct FileRead {
    /// The path shown to users (relative to the data folder where there is one).
    pub display: String,
    pub sha256: String,
    pub kind: FileType,
    pub outcome: Outcome,
    pub forms: Vec<FormRead>,
    pub findings: Vec<Finding>,
}

impl FileRead {
    fn new(display: &str, sha256: String, kind: FileType) -> FileRead {
        FileRead {
            display: display.to_string(),
            sha256,
            kind,
            outcome: Outcome::Ignored,
            forms: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// Ends the file's reading with a finding; an error makes it unreadable.
    fn end(mut self, finding: Finding) -> FileRead {
        if finding.is_error() {
            self.outcome = Outcome::Unreadable;
        }
        self.findings.push(finding);
        self
    }
}

/// Reads one file from disk. Never fails: a file that cannot be read gets a
/// finding. A file larger than `limits.max_file_mb` is not read into memory.
pub fn read_file(path: &Path, display: &str, cat: &Catalogue) -> FileRead {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let unreadable = |e: std::io::Error| {
        FileRead::new(display, String::new(), FileType::Other).end(Finding::file(
            Severity::Error,
            "file.unreadable",
            display,
            format!(
                "无法打开文件：{}。请确认文件没有被其他程序占用。",
                crate::error::io_message(&e)
            ),
        ))
    };
    // A file that is (or grows) larger than the limit is read no further.
    let limit = cat.limits.max_file_bytes();
    let mut bytes = Vec::new();
    let read = std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes));
    if let Err(e) = read {
        return unreadable(e);
    }
    if bytes.len() as u64 <= limit {
        return read_bytes(bytes, &name, display, cat);
    }
    // Too large to read: hash it as a stream, and say what it seems to be.
    match hash_file(path) {
        Ok((size, sha256)) => oversized(&bytes, size, sha256, &name, display, &cat.limits),
        Err(e) => unreadable(e),
    }
}

/// The SHA-256 of bytes, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Bytes in lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The size and SHA-256 of a file, read in pieces.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let (mut hasher, mut buf, mut size) = (Sha256::new(), vec![0u8; 1 << 16], 0u64);
    loop {
        let n = match f.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            read => read?,
        };
        if n == 0 {
            return Ok((size, hex(&hasher.finalize())));
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
}

/// A file over the size limit: ignored when it is not a workbook (by name or
/// by its first bytes), else an error.
fn oversized(
    head: &[u8],
    size: u64,
    sha256: String,
    name: &str,
    display: &str,
    limits: &Limits,
) -> FileRead {
    let kind = workbook::sniff(&head[..head.len().min(512)]);
    let out = FileRead::new(display, sha256, kind);
    let (ext, claims_workbook) = extension(name);
    match screen(name, kind, false, display) {
        Some(ignored) if !ignored.is_error() => out.end(ignored),
        _ => {
            let what = claims_workbook.then(|| format!("扩展名为 .{ext} 的"));
            let what = what.unwrap_or_default();
            out.end(Finding::file(
                Severity::Error,
                "file.too_large",
                display,
                format!(
                    "{what}文件有 {} MB，超过上限 {} MB（目录 limits.max_file_mb），未读取。报表文件通常只有几十 KB，请确认是否发错了文件。",
                    size.div_ceil(Limits::MIB),
                    limits.max_file_mb
                ),
            ))
        }
    }
}

/// The lower-case extension of a file name, and whether it claims a workbook.
fn extension(name: &str) -> (String, bool) {
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let workbook = ["xlsx", "xlsm", "xlsb", "xls", "ods", "et", "xlt", "xltx"];
    let claims = workbook.contains(&ext.as_str());
    (ext, claims)
}

/// What a file's name and type say before it is parsed: the finding that
/// ends it there (a lock file, not a workbook), if any.
fn screen(name: &str, kind: FileType, empty: bool, display: &str) -> Option<Finding> {
    let (ext, claims_workbook) = extension(name);
    let (severity, rule, message) = match kind {
        _ if name.starts_with("~$") || name.starts_with(".~lock.") => (
            Severity::Info,
            "file.lock",
            "电子表格程序的临时锁定文件，已忽略。".to_string(),
        ),
        FileType::Other | FileType::OtherZip if !claims_workbook => (
            Severity::Info,
            "file.ignored",
            "不是电子表格文件，已忽略。".to_string(),
        ),
        FileType::Other => (
            Severity::Error,
            "file.not_workbook",
            format!(
                "扩展名是 .{ext}，但{}，可能在传输中损坏。请让报送单位重新发送。",
                if empty {
                    "文件是空的（0 字节）"
                } else {
                    "文件内容不是电子表格"
                }
            ),
        ),
        _ => return None,
    };
    Some(Finding::file(severity, rule, display, message))
}

/// Reads a file's bytes; `name` is its file name (for the lock-file and
/// extension checks), `display` the path shown in findings.
///
/// Never panics and never fails: a damaged, crafted or oversized file gets
/// findings (each with a stable rule id) and [`Outcome::Unreadable`]; a file
/// that is not a workbook gets [`Outcome::Ignored`]. The bytes are parsed in
/// the shared worker pool ([`pool::shared`]); only when no worker executable
/// is named (the library's own tests) in this process.
///
/// # Examples
/// ```
/// use zonestat::catalog::Catalogue;
/// use zonestat::read::{read_bytes, Outcome};
/// let file = read_bytes(b"PK\x03\x04garbage".to_vec(), "a.xlsx", "a.xlsx", &Catalogue::bundled());
/// assert_eq!(file.outcome, Outcome::Unreadable);
/// assert_eq!(file.findings[0].rule, "file.unreadable");
/// ```
pub fn read_bytes(bytes: Vec<u8>, name: &str, display: &str, cat: &Catalogue) -> FileRead {
    match pool::shared() {
        Some(pool) => pool.read(bytes, name, display, cat),
        None => read_with(bytes, name, display, cat, &|b, k, l| {
            Ok(pool::guarded(b, k, l))
        }),
    }
}

/// How the bytes of a workbook are parsed: in a worker, or in process.
type Parse<'a> = dyn Fn(&[u8], FileType, &Limits) -> Result<pool::Parsed, Failure> + 'a;

/// [`read_bytes`] with the parser given.
fn read_with(
    bytes: Vec<u8>,
    name: &str,
    display: &str,
    cat: &Catalogue,
    parse: &Parse,
) -> FileRead {
    let sha256 = sha256_hex(&bytes);
    let limits = &cat.limits;
    if bytes.len() as u64 > limits.max_file_bytes() {
        return oversized(&bytes, bytes.len() as u64, sha256, name, display, limits);
    }
    let kind = workbook::sniff(&bytes);
    let mut out = FileRead::new(display, sha256, kind);
    if let Some(end) = screen(name, kind, bytes.is_empty(), display) {
        return out.end(end);
    }
    // (.xlsx and .xlsm are one format; the name may say either)
    let family = |e: &str| if e == "xlsm" { "xlsx" } else { e }.to_string();
    let (ext, claims_workbook) = extension(name);
    if let Some(true_ext) = kind.extension()
        && claims_workbook
        && family(&ext) != family(true_ext)
    {
        out.findings.push(Finding::file(
            Severity::Info,
            "file.extension_mismatch",
            display,
            format!("扩展名是 .{ext}，但内容是 .{true_ext} 格式，已按实际格式读取。"),
        ));
    }
    let opened = match parse(&bytes, kind, limits) {
        Ok(Ok(opened)) => opened,
        Ok(Err(e)) => return out.end(open_error(display, e)),
        Err(failure) => return out.end(reader_limit(display, failure, limits)),
    };
    drop(bytes);
    if opened.macro_enabled {
        out.kind = FileType::Xlsm;
    }
    let notes = opened.notes.iter().cloned();
    out.findings
        .extend(notes.map(|hit| limit_finding(Severity::Warning, display, hit)));
    // Our own code, on sheets already read: a panic here is ours.
    let forms = guard::isolate(|| {
        opened
            .sheets
            .iter()
            .filter_map(|sheet| {
                form::find_form(sheet, cat)
                    .map(|(form, at)| form::read_form(sheet, form, at, &cat.layout))
            })
            .collect::<Vec<_>>()
    });
    match forms {
        Err(panic) => {
            let mut f = Finding::file(
                Severity::Error,
                "file.reader_panic",
                display,
                "读取该文件时解析程序出错，文件可能已损坏或被恶意构造，已跳过。请让报送单位用电子表格程序重新保存后发送。",
            );
            f.found = Some(panic);
            out.end(f)
        }
        Ok(forms) if forms.is_empty() => {
            let numbers: Vec<&str> = cat.forms.iter().map(|f| f.number.as_str()).collect();
            out.end(Finding::file(
                Severity::Error,
                "form.not_found",
                display,
                format!(
                    "工作簿中找不到报表：各工作表前几行都没有表号（{}）或表名。",
                    numbers.join("、")
                ),
            ))
        }
        Ok(forms) => {
            out.forms = forms;
            out.outcome = Outcome::Read;
            out
        }
    }
}

fn limit_finding(severity: Severity, display: &str, hit: LimitHit) -> Finding {
    let rule = crate::model::rule_id(&hit.rule).unwrap_or("file.reader_limit");
    let mut f = Finding::file(severity, rule, display, hit.message);
    f.sheet = hit.sheet;
    f.cell = hit.cell.map(|(row, col)| crate::model::Cell::new(row, col));
    f
}

/// The parser's answer when it read no sheets.
fn open_error(display: &str, e: workbook::OpenError) -> Finding {
    use workbook::OpenError;
    match e {
        OpenError::Password => Finding::file(
            Severity::Error,
            "file.password",
            display,
            "工作簿设有打开密码，无法读取。请让报送单位取消密码后重新发送。",
        ),
        OpenError::Limit(hit) => limit_finding(Severity::Error, display, hit),
        // The parser gave up on the file (or, panicking, on its structure:
        // a truncated record, an index past the end): the file is damaged.
        OpenError::Damaged(why) | OpenError::Panic(why) => {
            let mut f = Finding::file(
                Severity::Error,
                "file.unreadable",
                display,
                "无法读取工作簿，文件可能已损坏或不完整。请让报送单位用电子表格程序打开、重新保存后发送。",
            );
            f.found = Some(why);
            f
        }
    }
}

/// `file.reader_limit`: the worker reading the file was stopped or died.
fn reader_limit(display: &str, failure: Failure, limits: &Limits) -> Finding {
    let what = match &failure {
        Failure::Memory => format!(
            "读取该文件所需内存超过上限 {} MB（limits.max_memory_mb），读取已中止",
            limits.max_memory_mb
        ),
        Failure::Cpu => format!(
            "读取该文件的计算时间超过上限 {} 秒（limits.max_cpu_seconds），读取已中止",
            limits.max_cpu_seconds
        ),
        Failure::Deadline => format!(
            "读取该文件超过 {} 秒仍未完成（limits.deadline_seconds），读取已中止",
            limits.deadline_seconds
        ),
        Failure::Crashed(_) => "读取该文件的进程意外终止（崩溃）".to_string(),
    };
    let mut f = Finding::file(
        Severity::Error,
        "file.reader_limit",
        display,
        format!(
            "{what}。文件可能已损坏或被恶意构造，已跳过，其他文件照常处理。请让报送单位用电子表格程序打开、重新保存后发送。"
        ),
    );
    if let Failure::Crashed(how) = failure {
        f.found = Some(how);
    }
    f
}
