//! What happens to an upload (PORTAL.md): its bytes are kept as received,
//! read like every other workbook, checked with the catalogue, refused when
//! its forms are not the uploader's, their period is not open or the office
//! approved (locked) them, and filed
//! into the archive exactly as `intake` files an inbox file (same lock,
//! canonical name, `_superseded/`, log). Every upload, accepted or not, is
//! recorded with its verdict and findings. The API and the pages take the
//! file from the request ([`file_field`]) and hand it over ([`take`]) alike,
//! and show a submission only to whom may see it ([`visible_submission`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::Multipart;
use axum::http::StatusCode;

use crate::archive::{Action, Archive};
use crate::catalog::Reporter;
use crate::crossperiod::cross_checks;
use crate::error::Error;
use crate::folder;
use crate::history::History;
use crate::model::sort_findings;
use crate::model::unix_now;
use crate::serve::accounts::random_hex;
use crate::serve::db::{Role, Submission};
use crate::serve::session::{Caller, audit};
use crate::serve::view::{local_date, unit_name};
use crate::serve::{App, Refusal, Shared};

/// Where uploads are kept as received, in the data folder.
pub const UPLOADS: &str = "_portal/uploads";
/// Where their feedback workbooks are written, in the data folder.
pub const FEEDBACK: &str = "_portal/feedback";

/// The body limit of an upload request: far above any form; the catalogue's
/// `max_file_mb` is checked on the file itself (413 with its message).
pub const LIMIT_SLACK: usize = 512 * 1024 * 1024;

/// How long an upload waits for another filing (an `intake`, another upload).
const LOCK_WAIT: Duration = Duration::from_secs(60);

/// Uploads of this server queue here for the archive, one at a time, so
/// that the next one starts the moment the last is filed. The archive's own
/// lock (a file lock, polled) then only keeps out other processes (`intake`,
/// `run`); without this every waiting upload would poll it too, and the lock
/// would stand free up to a polling interval between two filings.
static FILING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes one uploaded file: keeps it, checks it, files it when it is the
/// caller's and has no error, and records the verdict. Blocking: run it off
/// the server's event loop.
///
/// # Errors
/// [`Error::Output`] when the upload cannot be kept or filed, [`Error::Database`]
/// when it cannot be recorded, [`Error::ArchiveBusy`] when the archive stays locked.
pub fn receive(app: &App, caller: &Caller, name: &str, bytes: &[u8]) -> Result<Submission, Error> {
    let data = &app.config.data;
    let cat = &app.cat;
    let at = unix_now();
    let tag = format!("{}-{}", crate::intake::utc_stamp(at).1, random_hex::<4>());
    // The name keeps its extension: the reader notes one that does not match.
    let shown = display_name(name);
    let stored_rel = format!("{UPLOADS}/{tag}-{}", crate::template::sanitize(&shown));
    let stored = data.join(&stored_rel);
    crate::output::create_dir(stored.parent().unwrap_or(data))?;
    crate::output::write_atomic(&stored, bytes)?;

    let batch = folder::check_bytes(bytes.to_vec(), &shown, &shown, None, cat);
    let file = &batch.files[0];
    let mut findings = batch.findings.clone();
    let own_zone = match caller.user.role {
        Role::Zone => caller.user.zone.clone(),
        Role::City => Some("city".into()),
        Role::Office => None,
    };
    let reporters: Vec<Option<String>> = batch
        .forms
        .iter()
        .map(|f| match &f.reporter {
            Some(Reporter::Zone(z)) => Some(z.clone()),
            Some(Reporter::City) => Some("city".into()),
            None => None,
        })
        .collect();
    let told = reporters.iter().flatten().next().cloned();
    let period = batch.forms.iter().find_map(|f| f.period);
    let mut s = Submission {
        id: 0,
        user_name: caller.user.name.clone(),
        zone: told.clone().or(own_zone.clone()),
        period: period.map(|p| p.to_string()),
        forms: batch.forms.iter().map(|f| f.form.clone()).collect(),
        status: String::new(),
        reason: String::new(),
        file_name: shown.clone(),
        stored: stored_rel,
        sha256: file.sha256.clone(),
        size: bytes.len() as i64,
        uploaded_at: at,
        findings: String::new(),
        feedback: None,
        filed_as: None,
        late: false,
        locked_by: None,
    };
    let open = app.db.periods()?;
    let period_row = s
        .period
        .as_ref()
        .and_then(|p| open.iter().find(|r| &r.period == p));
    s.late = period_row.is_some_and(|r| local_date(at) > r.deadline);
    let not_mine = match (&caller.user.role, &told) {
        (Role::Office, _) | (_, None) => None,
        (_, Some(who)) => (Some(who) != own_zone.as_ref()
            || reporters.iter().any(|r| r != &Some(who.clone())))
        .then(|| who.clone()),
    };
    if batch.forms.is_empty() {
        s.status = "refused".into();
        s.reason = file.reason.clone().unwrap_or_else(|| "不是报表文件".into());
    } else if let Some(who) = not_mine {
        // The record is the uploader's: another zone never sees it.
        s.zone = own_zone.clone();
        s.status = "refused".into();
        s.reason = format!(
            "这是{}的报表（文件中的填报单位），您只能上传{}的报表。请确认是否选错了文件；由其他单位报送的报表请由该单位上传。",
            unit_name(cat, &who),
            own_zone
                .as_deref()
                .map_or("本单位".into(), |z| unit_name(cat, z))
        );
    } else if let Some(p) = &s.period
        && !period_row.is_some_and(|r| r.open)
    {
        s.status = "refused".into();
        s.reason = format!(
            "{p} 期现在不接受报送（统计科尚未开放这一期，或已经截止）。请确认报告期是否填对；确需报送请联系统计科。"
        );
    } else if let Some(lock) = locked(app, &s)? {
        s.status = "refused".into();
        s.reason = format!(
            "{} {} 期已由统计科审核通过（{}，{}）并锁定，不再接受新的上传。如需更正，请联系统计科（{}）说明原因并解锁后再上传。",
            lock.form,
            lock.period,
            lock.by_user,
            crate::serve::view::local_time(lock.at),
            lock.by_user
        );
        s.locked_by = Some(lock.by_user);
    } else if batch.errors() > 0 {
        s.status = "rejected".into();
        s.reason = format!("发现 {} 处错误，未予采用。", batch.errors());
        s.feedback = feedback(app, &batch.forms, &tag)?;
    } else {
        let queued = FILING.lock().unwrap_or_else(|e| e.into_inner());
        let mut archive = Archive::open(data, LOCK_WAIT, &mut |_| {})?;
        let filing = archive.file(
            &format!(
                "{}{}/{shown}",
                crate::serve::filed::PORTAL_PREFIX,
                caller.user.name
            ),
            bytes,
            &batch,
            cat,
        )?;
        drop(archive);
        drop(queued);
        let entry = filing.entry();
        match entry.action {
            Action::Filed | Action::Replaced | Action::Duplicate => {
                s.status = "accepted".into();
                s.filed_as = entry.to.clone();
                let history = History::for_forms(data, &batch.forms, cat);
                findings.extend(cross_checks(&batch.forms, &history, cat));
                sort_findings(&mut findings);
            }
            _ => {
                s.status = "rejected".into();
                s.reason = entry
                    .reason
                    .clone()
                    .unwrap_or_else(|| "与已归档的报表冲突，未予采用。请联系统计科。".into());
            }
        }
    }
    s.findings = serde_json::to_string(&findings).expect("findings serialise");
    s.id = app.db.add_submission(&s, caller.user.id)?;
    Ok(s)
}

/// The file of a multipart upload (field `file`), within the catalogue's
/// size limit: its name and bytes, or why not.
pub async fn file_field(app: &App, mut form: Multipart) -> Result<(String, Vec<u8>), Refusal> {
    let limit = app.cat.limits.max_file_bytes();
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!(
                "文件超过 {} MB 的上限。报表文件通常只有几十 KB，请确认是否选错了文件。",
                app.cat.limits.max_file_mb
            ),
        )
    };
    let incomplete = || {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_upload",
            "上传的内容不完整，请重新上传。",
        )
    };
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Err(Refusal::new(
                    StatusCode::BAD_REQUEST,
                    "no_file",
                    "请求中没有文件（表单字段 file）。",
                ));
            }
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err(incomplete()),
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("").to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(|_| incomplete())? {
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok((name, bytes));
    }
}

/// The accounts with an upload being read (their user ids).
#[derive(Debug, Default)]
pub struct InFlight(Mutex<HashSet<i64>>);

/// An account's place in [`InFlight`], given up when dropped.
struct Slot(Shared, i64);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut ids = self.0.uploading.0.lock().unwrap_or_else(|e| e.into_inner());
        ids.remove(&self.1);
    }
}

/// Receives an upload off the event loop: the submission, or why not. An
/// account's next upload waits for the verdict on its last one: it is
/// refused (429) while that one is still being read, even when the browser
/// has given up on it.
pub async fn take(
    app: &Shared,
    c: &Caller,
    name: String,
    bytes: Vec<u8>,
) -> Result<Submission, Refusal> {
    let fresh = (app.uploading.0.lock())
        .unwrap_or_else(|e| e.into_inner())
        .insert(c.user.id);
    if !fresh {
        audit(app, c, "upload", &display_name(&name), "refused: busy");
        return Err(Refusal::new(
            StatusCode::TOO_MANY_REQUESTS,
            "upload_in_progress",
            "您上一个文件还在检查中，请等它有了结果再上传下一个。",
        ));
    }
    let slot = Slot(app.clone(), c.user.id);
    let (app2, c2) = (app.clone(), c.clone());
    let done = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        receive(&app2, &c2, &name, &bytes)
    })
    .await;
    match done {
        Ok(Ok(s)) => {
            let outcome = if s.locked_by.is_some() {
                "refused: locked"
            } else {
                &s.status
            };
            audit(app, c, "upload", &format!("submission {}", s.id), outcome);
            Ok(s)
        }
        Ok(Err(Error::ArchiveBusy { .. })) => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "统计科正在归档报表，请过一两分钟重新上传。",
        )),
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(Error::Serve("上传处理中断".into()).into()),
    }
}

/// The approval that locks one of the forms of `s` for its unit and period.
fn locked(app: &App, s: &Submission) -> Result<Option<crate::serve::db::Review>, Error> {
    let (Some(zone), Some(period)) = (&s.zone, &s.period) else {
        return Ok(None);
    };
    Ok(app
        .db
        .reviews(period)?
        .into_iter()
        .find(|r| &r.zone == zone && r.state == "approved" && s.forms.iter().any(|f| f == &r.form)))
}

/// The feedback workbook of a rejected upload, relative to the data folder.
fn feedback(
    app: &App,
    forms: &[crate::validate::CheckedForm],
    tag: &str,
) -> Result<Option<String>, Error> {
    let rel = format!("{FEEDBACK}/{tag}");
    let dir = app.config.data.join(&rel);
    crate::output::create_dir(&dir)?;
    let created = crate::template::creation_time();
    let written = crate::feedback::write_feedback(forms, None, &app.cat, &dir, &created)?;
    Ok(written.first().and_then(|p| {
        p.file_name()
            .map(|n| format!("{rel}/{}", n.to_string_lossy()))
    }))
}

/// The file name an upload gave, without any folder a browser put before it.
fn display_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name).trim();
    if base.is_empty() {
        "上传的文件".into()
    } else {
        base.to_string()
    }
}

/// Where a stored path (relative to the data folder) is, refusing anything
/// that would leave the portal's own folder.
pub fn portal_file(data: &Path, rel: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let inside = rel.starts_with("_portal/")
        && p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    inside.then(|| data.join(p))
}

/// The submission `id` if the caller may see it; another zone's answers 404,
/// exactly as one that does not exist.
pub fn visible_submission(app: &App, c: &Caller, id: i64) -> Result<Submission, Refusal> {
    match app.db.submission(id)? {
        Some(s) if visible(c, &s) => Ok(s),
        _ => {
            let target = format!("submission {id}");
            audit(app, c, "submission_read", &target, "not_found");
            Err(no_submission())
        }
    }
}

/// No such submission, or one of another unit (the same answer).
pub fn no_submission() -> Refusal {
    Refusal::new(StatusCode::NOT_FOUND, "not_found", "没有这份报送记录。")
}

/// Whether `c` may see submission `s`: the office every one, a zone (or the
/// city bureau) its own.
pub fn visible(c: &Caller, s: &Submission) -> bool {
    match c.user.role {
        Role::Office => true,
        Role::Zone => s.zone.is_some() && s.zone == c.user.zone,
        Role::City => s.zone.as_deref() == Some("city"),
    }
}

/// The zone whose submissions `c` sees (None: every zone's).
pub fn own_zone(c: &Caller) -> Option<String> {
    match c.user.role {
        Role::Office => None,
        Role::Zone => Some(c.user.zone.clone().unwrap_or_default()),
        Role::City => Some("city".into()),
    }
}

/// `Content-Disposition` for a download: `attachment`, an ASCII fallback
/// name and the UTF-8 name (RFC 6266 / RFC 5987).
pub fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}
