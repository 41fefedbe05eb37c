//! The status grid of a period: each reporting unit × each form it owes,
//! what arrived (an upload or a form filed from the inbox), the office's
//! review that holds, and who is late — from the database and the archive,
//! as the caller may see it.

use std::fmt::Write as _;

use crate::aggregate::FormState;
use crate::error::Error;
use crate::model::Period;
use crate::serve::db::{Role, current_review};
use crate::serve::filed::Filing;
use crate::serve::session::Caller;
use crate::serve::view::{esc, local_date, local_time};
use crate::serve::{App, filed, upload};

/// One cell of the status grid: a reporter × a form.
#[derive(Debug, Clone)]
pub struct GridCell {
    /// Zone code, or `city`.
    pub code: String,
    pub name: String,
    pub form: String,
    pub state: FormState,
    /// The latest upload of this form: id, time, uploader, late.
    pub latest: Option<(i64, i64, String, bool)>,
    /// The office's word on it that holds now (approved or returned).
    pub review: Option<crate::serve::db::Review>,
    /// Nothing arrived and the deadline has passed.
    pub overdue: bool,
    /// The latest filing of this form into the archive, however it came
    /// (the archive's log: a form filed from the inbox has no upload).
    pub filed: Option<filed::Filing>,
}

impl GridCell {
    /// The state as PORTAL.md names it: 未报送, 有错误, 已报送（待审核）, 已审核, 已退回.
    pub fn label(&self) -> (&'static str, &'static str) {
        match self.review.as_ref().map(|r| r.state.as_str()) {
            Some("approved") => ("已审核", "approved"),
            Some("returned") => ("已退回", "returned"),
            _ => state_label(self.state),
        }
    }

    /// The review state for the API: approved, returned, or None.
    pub fn review_state(&self) -> Option<&str> {
        self.review.as_ref().map(|r| r.state.as_str())
    }

    /// The unit still owes this form: not reported, with errors, or returned.
    pub fn needs_reminder(&self) -> bool {
        self.state != FormState::Accepted || self.review_state() == Some("returned")
    }

    /// The form in the archive came from the inbox, after any upload.
    pub fn by_inbox(&self) -> Option<&filed::Filing> {
        self.filed.as_ref().filter(|f| {
            f.source == filed::Source::Inbox && self.latest.as_ref().is_none_or(|l| f.at >= l.1)
        })
    }

    /// Arrived after the deadline.
    pub fn late(&self, deadline: Option<&str>) -> bool {
        match self.by_inbox() {
            Some(f) => deadline.is_some_and(|d| local_date(f.at).as_str() > d),
            None => self.latest.as_ref().is_some_and(|l| l.3),
        }
    }
}

/// The status grid of a period as the caller may see it: the office every
/// row, a zone its own row, the city bureau the city's.
#[derive(Debug, Clone)]
pub struct Grid {
    pub deadline: Option<String>,
    pub open: bool,
    pub forms: Vec<String>,
    pub cells: Vec<GridCell>,
}

/// The grid of `period` for `c`.
///
/// # Errors
/// [`Error::Database`], or [`Error::Input`] when the period's folder cannot be read.
pub fn grid(app: &App, c: &Caller, period: Period) -> Result<Grid, Error> {
    let table = crate::status::status(&app.config.data, period, &app.cat)?;
    let row = app
        .db
        .periods()?
        .into_iter()
        .find(|p| p.period == period.to_string());
    let mine = |code: &str| match c.user.role {
        Role::Office => true,
        Role::Zone => c.user.zone.as_deref() == Some(code),
        Role::City => code == "city",
    };
    let subs = app
        .db
        .submissions(upload::own_zone(c).as_deref(), Some(&period.to_string()))?;
    let reviews = app.db.reviews(&period.to_string())?;
    let today = local_date(crate::model::unix_now());
    let past_deadline = row.as_ref().is_some_and(|p| p.deadline < today);
    let (subs, reviews) = (&subs, &reviews);
    let filings = &filed::latest(&app.config.data, period);
    let cells = table
        .rows
        .iter()
        .filter(|r| mine(&r.code))
        .flat_map(|r| {
            let latest = |form: &str| {
                subs.iter()
                    .find(|s| {
                        s.zone.as_deref() == Some(r.code.as_str())
                            && s.forms.iter().any(|f| f == form)
                    })
                    .map(|s| (s.id, s.uploaded_at, s.user_name.clone(), s.late))
            };
            r.forms.iter().map(move |(form, state)| GridCell {
                code: r.code.clone(),
                name: r.name.clone(),
                form: form.clone(),
                state: *state,
                latest: latest(form),
                review: current_review(reviews, subs, &r.code, form).cloned(),
                overdue: past_deadline && *state == FormState::Missing,
                filed: filings.get(&(r.code.clone(), form.clone())).cloned(),
            })
        })
        .collect();
    Ok(Grid {
        deadline: row.as_ref().map(|p| p.deadline.clone()),
        open: row.is_some_and(|p| p.open),
        forms: table.forms,
        cells,
    })
}

/// How a cell's state reads in the grid.
fn state_label(s: FormState) -> (&'static str, &'static str) {
    match s {
        FormState::Missing => ("未报送", "missing"),
        FormState::Rejected => ("有错误", "rejected"),
        FormState::Accepted => ("已报送（待审核）", "accepted"),
    }
}

/// The forms of the grid whose filed copy came from the inbox (mail
/// attachments filed by `zonestat intake` or `run`), newest first; nothing
/// when there are none.
pub fn inbox_table(cells: &[GridCell], show_zone: bool) -> String {
    let mut rows: Vec<(&GridCell, &Filing)> = cells
        .iter()
        .filter_map(|c| c.by_inbox().map(|f| (c, f)))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.at));
    let mut out = String::from(
        r#"<h2>经邮件（收件箱）归档的报表</h2><table class="findings"><thead><tr><th scope="col">归档时间</th>"#,
    );
    if show_zone {
        out.push_str(r#"<th scope="col">填报单位</th>"#);
    }
    out.push_str(r#"<th scope="col">报表</th><th scope="col">收到的文件</th><th scope="col">归档为</th></tr></thead><tbody>"#);
    for (c, f) in rows {
        let _ = write!(out, "<tr><td>{}</td>", esc(&local_time(f.at)));
        if show_zone {
            let _ = write!(out, "<td>{}</td>", esc(&c.name));
        }
        let received = f.file.rsplit(['/', '\\']).next().unwrap_or(&f.file);
        let _ = write!(
            out,
            "<td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.form),
            esc(received),
            esc(&f.to)
        );
    }
    out.push_str("</tbody></table>");
    out
}
