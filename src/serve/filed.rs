//! How each form of a period came into the archive, as the archive's own log
//! (`intake.log`) tells it: the latest filing (`filed` or `replaced`) of each
//! reporter's form, and whether it came through the portal or through the
//! inbox (mail attachments filed by `zonestat intake` or `run`). Read, never
//! written: the portal keeps no copy of it in its database, so a form filed
//! from the inbox while the server runs shows at the next look.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use crate::archive::LOG_NAME;
use crate::model::Period;

/// What the log's `file` of a portal upload starts with (see `upload::receive`).
pub const PORTAL_PREFIX: &str = "门户/";

/// Where a filed form came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Uploaded through the portal.
    Portal,
    /// Filed from the inbox by `zonestat intake` or `run` (a mail attachment).
    Inbox,
}

impl Source {
    /// As the API says it.
    pub fn id(self) -> &'static str {
        match self {
            Source::Portal => "portal",
            Source::Inbox => "inbox",
        }
    }

    /// As a page says it.
    pub fn label(self) -> &'static str {
        match self {
            Source::Portal => "门户上传",
            Source::Inbox => "邮件（收件箱）",
        }
    }
}

/// The latest filing of one reporter's form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filing {
    pub source: Source,
    /// When it was filed, as logged (UTC, `YYYY-MM-DDThh:mm:ssZ`).
    pub time: String,
    /// The same moment in Unix seconds.
    pub at: i64,
    /// The file as it arrived (inbox path, or the portal's `门户/user/name`).
    pub file: String,
    /// Where it was filed, relative to the data folder.
    pub to: String,
}

/// The latest filing of every (reporter, form) of `period`: the reporter a
/// zone code, or `city` for the city bureau's form.
pub fn latest(data: &Path, period: Period) -> HashMap<(String, String), Filing> {
    let log = crate::archive::log::read(&data.join(LOG_NAME));
    let period = period.to_string();
    let mut out = HashMap::new();
    for r in &log.records {
        let text = |k: &str| r.get(k).and_then(Value::as_str);
        if !matches!(text("action"), Some("filed" | "replaced")) || text("period") != Some(&period)
        {
            continue;
        }
        let (Some(time), Some(file), Some(to), Some(forms)) =
            (text("time"), text("file"), text("to"), text("form"))
        else {
            continue;
        };
        let Some(at) = iso_secs(time) else { continue };
        let who = text("zone").unwrap_or("city");
        let filing = Filing {
            source: if file.starts_with(PORTAL_PREFIX) {
                Source::Portal
            } else {
                Source::Inbox
            },
            time: time.to_string(),
            at,
            file: file.to_string(),
            to: to.to_string(),
        };
        // The log is in the order things happened: a later line wins.
        for form in forms.split('+') {
            out.insert((who.to_string(), form.to_string()), filing.clone());
        }
    }
    out
}

/// `YYYY-MM-DDThh:mm:ssZ` (UTC) as Unix seconds.
fn iso_secs(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_times_read_back_as_they_were_written() {
        for secs in [0, 1_594_369_800, 1_798_761_599, 951_782_400] {
            assert_eq!(iso_secs(&crate::intake::utc_stamp(secs).0), Some(secs));
        }
        assert_eq!(iso_secs("2020-07-10 08:30:00"), None);
    }

    #[test]
    fn the_latest_filing_of_each_form_says_where_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(LOG_NAME);
        let line = |time: &str, file: &str, action: &str, zone: Value, form: &str| {
            serde_json::json!({"time": time, "file": file, "sha256": "x", "form": form,
                "zone": zone, "period": "2020-06", "action": action, "to": "2020-06/a.xlsx"})
        };
        for r in [
            line(
                "2020-07-01T00:00:00Z",
                "门户/hz1/a.xlsx",
                "filed",
                "HZ".into(),
                "湖开统1表",
            ),
            line(
                "2020-07-02T00:00:00Z",
                "收件箱/b.xlsx",
                "replaced",
                "HZ".into(),
                "湖开统1表+湖开统2表",
            ),
            line(
                "2020-07-03T00:00:00Z",
                "收件箱/c.xlsx",
                "held",
                "HZ".into(),
                "湖开统1表",
            ),
            line(
                "2020-07-04T00:00:00Z",
                "收件箱/d.xlsx",
                "filed",
                Value::Null,
                "湖开统3表",
            ),
        ] {
            crate::archive::log::append(&log, &r).unwrap();
        }
        let got = latest(dir.path(), "2020-06".parse().unwrap());
        let hz1 = &got[&("HZ".to_string(), "湖开统1表".to_string())];
        assert_eq!(
            (hz1.source, hz1.file.as_str()),
            (Source::Inbox, "收件箱/b.xlsx")
        );
        assert!(got.contains_key(&("HZ".to_string(), "湖开统2表".to_string())));
        assert_eq!(
            got[&("city".to_string(), "湖开统3表".to_string())].time,
            "2020-07-04T00:00:00Z"
        );
        assert!(latest(dir.path(), "2020-12".parse().unwrap()).is_empty());
    }
}
