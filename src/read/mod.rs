//! Workbook files → the forms they hold, as written. Files are recognised by
//! their content; every file gets an outcome, and problems that concern a
//! whole file (unreadable, password, no form) are findings here.

pub mod form;
pub mod workbook;

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::catalog::Catalogue;
use crate::model::{Finding, Severity};
pub use form::{FormRead, Located, RawValue, RowRead};
pub use workbook::{CellValue, FileType, Sheet};

/// Extensions that claim to be a workbook.
const WORKBOOK_EXTENSIONS: [&str; 7] = ["xlsx", "xlsm", "xls", "ods", "et", "xlt", "xltx"];

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

/// Reads one file from disk. Never fails: a file that cannot be read gets a finding.
pub fn read_file(path: &Path, display: &str, cat: &Catalogue) -> FileRead {
    match std::fs::read(path) {
        Ok(bytes) => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            read_bytes(bytes, &name, display, cat)
        }
        Err(e) => FileRead {
            display: display.to_string(),
            sha256: String::new(),
            kind: FileType::Other,
            outcome: Outcome::Unreadable,
            forms: Vec::new(),
            findings: vec![Finding::file(
                Severity::Error,
                "file.unreadable",
                display,
                format!("无法打开文件：{e}。请确认文件没有被其他程序占用。"),
            )],
        },
    }
}

/// The SHA-256 of bytes, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a file's bytes; `name` is its file name (for the lock-file and
/// extension checks), `display` the path shown in findings.
pub fn read_bytes(bytes: Vec<u8>, name: &str, display: &str, cat: &Catalogue) -> FileRead {
    let sha256 = sha256_hex(&bytes);
    let kind = workbook::sniff(&bytes);
    let mut out = FileRead {
        display: display.to_string(),
        sha256,
        kind,
        outcome: Outcome::Ignored,
        forms: Vec::new(),
        findings: Vec::new(),
    };
    let ext = Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let claims_workbook = WORKBOOK_EXTENSIONS.contains(&ext.as_str());
    let note = |out: &mut FileRead, severity, rule, message: String| {
        out.findings.push(Finding::file(severity, rule, display, message));
    };
    if name.starts_with("~$") || name.starts_with(".~lock.") {
        note(&mut out, Severity::Info, "file.lock", "电子表格程序的临时锁定文件，已忽略。".into());
        return out;
    }
    match kind {
        FileType::Other | FileType::OtherZip if !claims_workbook => {
            note(&mut out, Severity::Info, "file.ignored", "不是电子表格文件，已忽略。".into());
            return out;
        }
        FileType::Other => {
            out.outcome = Outcome::Unreadable;
            let what = if bytes.is_empty() { "文件是空的（0 字节）" } else { "文件内容不是电子表格" };
            note(
                &mut out,
                Severity::Error,
                "file.not_workbook",
                format!("扩展名是 .{ext}，但{what}，可能在传输中损坏。请让报送单位重新发送。"),
            );
            return out;
        }
        _ => {}
    }
    if let Some(true_ext) = kind.extension() {
        if claims_workbook && ext != true_ext && !(true_ext == "xlsx" && ext == "xlsm") {
            note(
                &mut out,
                Severity::Info,
                "file.extension_mismatch",
                format!("扩展名是 .{ext}，但内容是 .{true_ext} 格式，已按实际格式读取。"),
            );
        }
    }
    let sheets = match workbook::open(bytes, kind) {
        Ok(s) => s,
        Err(workbook::OpenError::Password) => {
            out.outcome = Outcome::Unreadable;
            note(
                &mut out,
                Severity::Error,
                "file.password",
                "工作簿设有打开密码，无法读取。请让报送单位取消密码后重新发送。".into(),
            );
            return out;
        }
        Err(workbook::OpenError::Damaged(why)) => {
            out.outcome = Outcome::Unreadable;
            note(
                &mut out,
                Severity::Error,
                "file.unreadable",
                format!("无法读取工作簿（{why}），文件可能已损坏或不完整。请让报送单位重新发送。"),
            );
            return out;
        }
    };
    for sheet in &sheets {
        if let Some((form, at)) = form::find_form(sheet, cat) {
            out.forms.push(form::read_form(sheet, form, at));
        }
    }
    if out.forms.is_empty() {
        out.outcome = Outcome::Unreadable;
        let numbers: Vec<&str> = cat.forms.iter().map(|f| f.number.as_str()).collect();
        note(
            &mut out,
            Severity::Error,
            "form.not_found",
            format!(
                "工作簿中找不到报表：各工作表前几行都没有表号（{}）或表名。",
                numbers.join("、")
            ),
        );
    } else {
        out.outcome = Outcome::Read;
    }
    out
}
