//! The portal's records: one SQLite file in the data folder
//! (`zonestat.sqlite`, WAL) for accounts, sessions, failed logins, periods,
//! uploads, the office's reviews, explanations, consolidations and the
//! audit log. Every statement goes through here; nothing is kept only in
//! memory, so a restarted server has everything it had.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Params, Row, params};
use serde::Serialize;

use crate::error::Error;

/// The database file's name, in the data folder.
pub const FILE_NAME: &str = "zonestat.sqlite";

/// Schema migrations, applied in order; `PRAGMA user_version` counts them.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('zone', 'city', 'office')),
    zone TEXT,
    email TEXT NOT NULL DEFAULT '',
    password TEXT NOT NULL,
    must_change INTEGER NOT NULL DEFAULT 1,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
    token TEXT PRIMARY KEY,          -- SHA-256 of the cookie value, never the value
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    seen_at INTEGER NOT NULL
);
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    ip TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX login_failures_name ON login_failures(name, at);
CREATE INDEX login_failures_ip ON login_failures(ip, at);
CREATE TABLE periods (
    period TEXT PRIMARY KEY,         -- YYYY-MM
    deadline TEXT NOT NULL,          -- YYYY-MM-DD, the last day forms are on time
    open INTEGER NOT NULL DEFAULT 1,
    opened_at INTEGER NOT NULL
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    ip TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX audit_at ON audit(at);
"#,
    r#"
CREATE TABLE submissions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    user_name TEXT NOT NULL,
    zone TEXT,                        -- zone code, 'city', or NULL when not told
    period TEXT,                      -- YYYY-MM, NULL when not told
    forms TEXT NOT NULL DEFAULT '',   -- form numbers joined by '+'
    status TEXT NOT NULL CHECK (status IN ('accepted', 'rejected', 'refused')),
    reason TEXT NOT NULL DEFAULT '',
    file_name TEXT NOT NULL,          -- the name the uploader's file had
    stored TEXT NOT NULL,             -- where its bytes are, relative to the data folder
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    uploaded_at INTEGER NOT NULL,
    findings TEXT NOT NULL DEFAULT '[]',  -- JSON, the shape of SUMMARY.md's findings
    feedback TEXT,                    -- the feedback workbook, relative to the data folder
    filed_as TEXT,                    -- the archived copy, relative to the data folder
    late INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX submissions_zone ON submissions(zone, period);
"#,
    r#"
CREATE TABLE reviews (                -- the office's last word on a unit's form of a period
    zone TEXT NOT NULL,               -- zone code or 'city'
    period TEXT NOT NULL,             -- YYYY-MM
    form TEXT NOT NULL,               -- form number
    state TEXT NOT NULL CHECK (state IN ('approved', 'returned', 'unlocked')),
    submission INTEGER NOT NULL REFERENCES submissions(id),
    reason TEXT NOT NULL DEFAULT '',
    by_user TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (zone, period, form)
);
CREATE TABLE explanations (
    id INTEGER PRIMARY KEY,
    submission INTEGER NOT NULL REFERENCES submissions(id),
    rule TEXT NOT NULL,
    cell TEXT NOT NULL,
    text TEXT NOT NULL,
    by_user TEXT NOT NULL,
    at INTEGER NOT NULL,
    accepted_by TEXT,                 -- the office account that accepted it
    accepted_at INTEGER
);
CREATE INDEX explanations_submission ON explanations(submission);
CREATE INDEX audit_action ON audit(action);
CREATE TABLE consolidations (         -- the latest portal run of a period
    period TEXT PRIMARY KEY,
    workbook TEXT NOT NULL,           -- relative to the data folder
    summary TEXT NOT NULL,            -- the JSON summary, relative to the data folder
    gaps INTEGER NOT NULL,            -- data missing or rejected: not sent unless asked
    by_user TEXT NOT NULL,
    at INTEGER NOT NULL
);
"#,
];

/// Who may do what (PORTAL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A zone's 填报员: its own zone's forms.
    Zone,
    /// The city statistics bureau: the city's form.
    City,
    /// The statistics office: everything.
    Office,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Zone => "zone",
            Role::City => "city",
            Role::Office => "office",
        }
    }

    /// The role for its name on the command line and in the database.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "zone" => Some(Role::Zone),
            "city" => Some(Role::City),
            "office" => Some(Role::Office),
            _ => None,
        }
    }

    /// The role as people call it.
    pub fn label(self) -> &'static str {
        match self {
            Role::Zone => "开发区填报员",
            Role::City => "市统计局",
            Role::Office => "统计科",
        }
    }
}

/// An account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    /// The zone code, for a zone account.
    pub zone: Option<String>,
    pub email: String,
    /// The PHC string of the password's Argon2id hash.
    #[serde(skip)]
    pub password: String,
    /// The password was set by someone else and must be changed at login.
    pub must_change: bool,
    pub disabled: bool,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Unix seconds.
    pub at: i64,
    pub user: String,
    pub action: String,
    pub target: String,
    pub ip: String,
    pub outcome: String,
}

/// One upload and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Submission {
    pub id: i64,
    pub user_name: String,
    /// Zone code, `city`, or None when the file did not tell.
    pub zone: Option<String>,
    pub period: Option<String>,
    pub forms: Vec<String>,
    /// accepted | rejected | refused
    pub status: String,
    pub reason: String,
    pub file_name: String,
    #[serde(skip)]
    pub stored: String,
    pub sha256: String,
    pub size: i64,
    pub uploaded_at: i64,
    /// The findings as JSON (SUMMARY.md's shape).
    #[serde(skip)]
    pub findings: String,
    #[serde(skip)]
    pub feedback: Option<String>,
    pub filed_as: Option<String>,
    pub late: bool,
    /// Refused because the office approved the form: who did (not stored).
    #[serde(skip)]
    pub locked_by: Option<String>,
}

/// A period the office opened for uploads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodRow {
    pub period: String,
    pub deadline: String,
    pub open: bool,
}

/// The office's word on a unit's form of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Review {
    pub zone: String,
    pub period: String,
    pub form: String,
    /// approved | returned | unlocked
    pub state: String,
    pub submission: i64,
    pub reason: String,
    pub by_user: String,
    pub at: i64,
}

/// A unit's explanation of a warning of its submission.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExplanationRow {
    pub id: i64,
    pub submission: i64,
    pub rule: String,
    pub cell: String,
    pub text: String,
    pub by_user: String,
    pub at: i64,
    pub accepted_by: Option<String>,
}

/// The latest consolidation the portal ran for a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsolidationRow {
    pub period: String,
    pub workbook: String,
    pub summary: String,
    pub gaps: bool,
    pub by_user: String,
    pub at: i64,
}

/// The portal's database.
pub struct Db {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (and creates or upgrades) the database in the data folder `data`.
    ///
    /// # Errors
    /// [`Error::Database`] naming the file when it cannot be opened or is not
    /// a zonestat database.
    pub fn open(data: &Path) -> Result<Db, Error> {
        let path = data.join(FILE_NAME);
        let err = db_error(&path);
        crate::output::create_dir(data)?;
        let conn = Connection::open(&path).map_err(&err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(&err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(&err)?;
        let version = usize::try_from(version).unwrap_or(usize::MAX);
        if version > MIGRATIONS.len() {
            return Err(Error::Database {
                path: path.display().to_string(),
                message: "数据库由更新版本的 zonestat 建立，请升级程序".into(),
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = conn.unchecked_transaction().map_err(&err)?;
            tx.execute_batch(sql).map_err(&err)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(&err)?;
            tx.commit().map_err(&err)?;
        }
        drop(err);
        Ok(Db {
            path,
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (each
        // statement is atomic): keep using it.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        db_error(&self.path)
    }

    /// Runs one statement; how many rows it changed.
    fn execute(&self, sql: &str, params: impl Params) -> Result<usize, Error> {
        self.conn().execute(sql, params).map_err(self.err())
    }

    /// The row a query finds, if any, as `map` reads it.
    fn row<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, Error> {
        self.conn()
            .query_row(sql, params, map)
            .optional()
            .map_err(self.err())
    }

    /// Every row a query finds, as `map` reads it.
    fn rows<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, Error> {
        let conn = self.conn();
        let mut st = conn.prepare(sql).map_err(self.err())?;
        let rows = st.query_map(params, map).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Adds an account; its name must be new.
    ///
    /// # Errors
    /// [`Error::Database`]; a name already taken is [`Error::Account`].
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        zone: Option<&str>,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<User, Error> {
        if self.user_by_name(name)?.is_some() {
            return Err(Error::Account(format!("账户“{name}”已存在")));
        }
        self.execute(
            "INSERT INTO users (name, role, zone, email, password, must_change, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
            params![name, role.as_str(), zone, email, password_hash, now],
        )?;
        self.user_by_name(name)?
            .ok_or_else(|| Error::Account(format!("账户“{name}”写入后读不到")))
    }

    /// The account of this name.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn user_by_name(&self, name: &str) -> Result<Option<User>, Error> {
        self.row(
            &format!("{USER_COLUMNS} WHERE name = ?1"),
            params![name],
            user_row,
        )
    }

    /// The account with this id.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn user(&self, id: i64) -> Result<Option<User>, Error> {
        self.row(
            &format!("{USER_COLUMNS} WHERE id = ?1"),
            params![id],
            user_row,
        )
    }

    /// Every account, by name.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn users(&self) -> Result<Vec<User>, Error> {
        self.rows(&format!("{USER_COLUMNS} ORDER BY name"), [], user_row)
    }

    /// Sets an account's password hash; `must_change` when someone else set it.
    /// Every session of the account ends.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn set_password(&self, id: i64, hash: &str, must_change: bool) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err())?;
        tx.execute(
            "UPDATE users SET password = ?1, must_change = ?2 WHERE id = ?3",
            params![hash, must_change, id],
        )
        .map_err(self.err())?;
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", params![id])
            .map_err(self.err())?;
        tx.commit().map_err(self.err())
    }

    /// Disables (or enables again) an account; a disabled one loses its sessions.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), Error> {
        let conn = self.conn();
        conn.execute(
            "UPDATE users SET disabled = ?1 WHERE id = ?2",
            params![disabled, id],
        )
        .map_err(self.err())?;
        if disabled {
            conn.execute("DELETE FROM sessions WHERE user_id = ?1", params![id])
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Stores a new session under the hash of its token.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn add_session(&self, token_hash: &str, user_id: i64, now: i64) -> Result<(), Error> {
        self.execute(
            "INSERT INTO sessions (token, user_id, created_at, seen_at) VALUES (?1, ?2, ?3, ?3)",
            params![token_hash, user_id, now],
        )
        .map(|_| ())
    }

    /// The session stored under `token_hash`: its user id, creation and last use.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn session(&self, token_hash: &str) -> Result<Option<(i64, i64, i64)>, Error> {
        self.row(
            "SELECT user_id, created_at, seen_at FROM sessions WHERE token = ?1",
            params![token_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    }

    /// Records that a session was used now.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn touch_session(&self, token_hash: &str, now: i64) -> Result<(), Error> {
        self.execute(
            "UPDATE sessions SET seen_at = ?1 WHERE token = ?2",
            params![now, token_hash],
        )
        .map(|_| ())
    }

    /// Ends a session.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn remove_session(&self, token_hash: &str) -> Result<(), Error> {
        self.execute("DELETE FROM sessions WHERE token = ?1", params![token_hash])
            .map(|_| ())
    }

    /// Records a failed login of `name` from `ip`.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn add_failure(&self, name: &str, ip: &str, now: i64) -> Result<(), Error> {
        self.execute(
            "INSERT INTO login_failures (name, ip, at) VALUES (?1, ?2, ?3)",
            params![name, ip, now],
        )
        .map(|_| ())
    }

    /// Failed logins since `since` for this account name and from this address.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn failures_since(&self, name: &str, ip: &str, since: i64) -> Result<(u32, u32), Error> {
        let conn = self.conn();
        let count = |sql: &str, key: &str| -> Result<u32, Error> {
            conn.query_row(sql, params![key, since], |r| r.get(0))
                .map_err(self.err())
        };
        Ok((
            count(
                "SELECT count(*) FROM login_failures WHERE name = ?1 AND at >= ?2",
                name,
            )?,
            count(
                "SELECT count(*) FROM login_failures WHERE ip = ?1 AND at >= ?2",
                ip,
            )?,
        ))
    }

    /// Forgets an account's failed logins (after a successful one).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn clear_failures(&self, name: &str) -> Result<(), Error> {
        self.execute("DELETE FROM login_failures WHERE name = ?1", params![name])
            .map(|_| ())
    }

    /// Appends a line to the audit log.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn audit(&self, e: &AuditEntry) -> Result<(), Error> {
        self.execute(
            "INSERT INTO audit (at, user, action, target, ip, outcome) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.at, e.user, e.action, e.target, e.ip, e.outcome],
        )
        .map(|_| ())
    }

    /// The audit log since `since` (Unix seconds), oldest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn audit_since(&self, since: i64) -> Result<Vec<AuditEntry>, Error> {
        self.rows(
            &format!("{AUDIT_COLUMNS} WHERE at >= ?1 ORDER BY id"),
            params![since],
            audit_row,
        )
    }

    /// The audit log's lines of one action, oldest first (the reminders
    /// shown on the office's page, the automatic reminders already sent).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn audit_of(&self, action: &str) -> Result<Vec<AuditEntry>, Error> {
        self.rows(
            &format!("{AUDIT_COLUMNS} WHERE action = ?1 ORDER BY id"),
            params![action],
            audit_row,
        )
    }

    /// Opens a period for uploads (or moves its deadline).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn open_period(&self, period: &str, deadline: &str, now: i64) -> Result<(), Error> {
        self.execute(
            "INSERT INTO periods (period, deadline, open, opened_at) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT(period) DO UPDATE SET deadline = ?2, open = 1",
            params![period, deadline, now],
        )
        .map(|_| ())
    }

    /// Closes a period: it takes no more uploads. False when it was never opened.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn close_period(&self, period: &str) -> Result<bool, Error> {
        self.execute(
            "UPDATE periods SET open = 0 WHERE period = ?1",
            params![period],
        )
        .map(|n| n > 0)
    }

    /// Every period the office opened, newest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn periods(&self) -> Result<Vec<PeriodRow>, Error> {
        self.rows(
            "SELECT period, deadline, open FROM periods ORDER BY period DESC",
            [],
            |r| {
                Ok(PeriodRow {
                    period: r.get(0)?,
                    deadline: r.get(1)?,
                    open: r.get(2)?,
                })
            },
        )
    }
}

impl Db {
    /// Records an upload and its verdict; returns its id.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn add_submission(&self, s: &Submission, user_id: i64) -> Result<i64, Error> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO submissions (user_id, user_name, zone, period, forms, status, reason,
                file_name, stored, sha256, size, uploaded_at, findings, feedback, filed_as, late)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
            params![
                user_id,
                s.user_name,
                s.zone,
                s.period,
                s.forms.join("+"),
                s.status,
                s.reason,
                s.file_name,
                s.stored,
                s.sha256,
                s.size,
                s.uploaded_at,
                s.findings,
                s.feedback,
                s.filed_as,
                s.late
            ],
        )
        .map_err(self.err())?;
        Ok(conn.last_insert_rowid())
    }

    /// One submission by id.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn submission(&self, id: i64) -> Result<Option<Submission>, Error> {
        self.row(
            &format!("{SUBMISSION_COLUMNS} WHERE id = ?1"),
            params![id],
            submission_row,
        )
    }

    /// Submissions newest first: of one zone (`Some(code)`, `city` for the
    /// city bureau) or of all (None), of one period or of all.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn submissions(
        &self,
        zone: Option<&str>,
        period: Option<&str>,
    ) -> Result<Vec<Submission>, Error> {
        self.rows(
            &format!(
                "{SUBMISSION_COLUMNS} WHERE (?1 IS NULL OR zone = ?1) AND (?2 IS NULL OR period = ?2)
                 ORDER BY id DESC"
            ),
            params![zone, period],
            submission_row,
        )
    }
}

impl Db {
    /// Records the office's word on each of `forms` of a unit's period
    /// (replacing the earlier one).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn set_review(&self, r: &Review, forms: &[String]) -> Result<(), Error> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err())?;
        for form in forms {
            tx.execute(
                "INSERT INTO reviews (zone, period, form, state, submission, reason, by_user, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(zone, period, form) DO UPDATE SET state = ?4, submission = ?5,
                    reason = ?6, by_user = ?7, at = ?8",
                params![
                    r.zone,
                    r.period,
                    form,
                    r.state,
                    r.submission,
                    r.reason,
                    r.by_user,
                    r.at
                ],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// The office's word on every form of a period (all units).
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn reviews(&self, period: &str) -> Result<Vec<Review>, Error> {
        self.rows(
            "SELECT zone, period, form, state, submission, reason, by_user, at
             FROM reviews WHERE period = ?1 ORDER BY zone, form",
            params![period],
            |r| {
                Ok(Review {
                    zone: r.get(0)?,
                    period: r.get(1)?,
                    form: r.get(2)?,
                    state: r.get(3)?,
                    submission: r.get(4)?,
                    reason: r.get(5)?,
                    by_user: r.get(6)?,
                    at: r.get(7)?,
                })
            },
        )
    }

    /// Adds an explanation; returns its id.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn add_explanation(
        &self,
        submission: i64,
        rule: &str,
        cell: &str,
        text: &str,
        by_user: &str,
        at: i64,
    ) -> Result<i64, Error> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO explanations (submission, rule, cell, text, by_user, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![submission, rule, cell, text, by_user, at],
        )
        .map_err(self.err())?;
        Ok(conn.last_insert_rowid())
    }

    /// Marks an explanation of `submission` accepted; false when there is none of that id.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn accept_explanation(
        &self,
        submission: i64,
        id: i64,
        by_user: &str,
        at: i64,
    ) -> Result<bool, Error> {
        self.execute(
            "UPDATE explanations SET accepted_by = ?1, accepted_at = ?2
             WHERE id = ?3 AND submission = ?4",
            params![by_user, at, id, submission],
        )
        .map(|n| n > 0)
    }

    /// The explanations of one submission (`Some(id)`) or of every
    /// submission of a period, oldest first.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn explanations(
        &self,
        submission: Option<i64>,
        period: Option<&str>,
    ) -> Result<Vec<ExplanationRow>, Error> {
        self.rows(
            "SELECT e.id, e.submission, e.rule, e.cell, e.text, e.by_user, e.at, e.accepted_by
             FROM explanations e JOIN submissions s ON s.id = e.submission
             WHERE (?1 IS NULL OR e.submission = ?1) AND (?2 IS NULL OR s.period = ?2)
             ORDER BY e.id",
            params![submission, period],
            |r| {
                Ok(ExplanationRow {
                    id: r.get(0)?,
                    submission: r.get(1)?,
                    rule: r.get(2)?,
                    cell: r.get(3)?,
                    text: r.get(4)?,
                    by_user: r.get(5)?,
                    at: r.get(6)?,
                    accepted_by: r.get(7)?,
                })
            },
        )
    }

    /// Records the latest consolidation of a period.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn set_consolidation(&self, c: &ConsolidationRow) -> Result<(), Error> {
        self.execute(
            "INSERT INTO consolidations (period, workbook, summary, gaps, by_user, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(period) DO UPDATE SET workbook = ?2, summary = ?3, gaps = ?4,
                by_user = ?5, at = ?6",
            params![c.period, c.workbook, c.summary, c.gaps, c.by_user, c.at],
        )
        .map(|_| ())
    }

    /// The latest consolidation of a period.
    ///
    /// # Errors
    /// [`Error::Database`].
    pub fn consolidation(&self, period: &str) -> Result<Option<ConsolidationRow>, Error> {
        self.row(
            "SELECT period, workbook, summary, gaps, by_user, at FROM consolidations
             WHERE period = ?1",
            params![period],
            |r| {
                Ok(ConsolidationRow {
                    period: r.get(0)?,
                    workbook: r.get(1)?,
                    summary: r.get(2)?,
                    gaps: r.get(3)?,
                    by_user: r.get(4)?,
                    at: r.get(5)?,
                })
            },
        )
    }
}

const SUBMISSION_COLUMNS: &str =
    "SELECT id, user_name, zone, period, forms, status, reason, file_name,
    stored, sha256, size, uploaded_at, findings, feedback, filed_as, late FROM submissions";

fn submission_row(r: &Row<'_>) -> rusqlite::Result<Submission> {
    let forms: String = r.get(4)?;
    Ok(Submission {
        id: r.get(0)?,
        user_name: r.get(1)?,
        zone: r.get(2)?,
        period: r.get(3)?,
        forms: forms
            .split('+')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        status: r.get(5)?,
        reason: r.get(6)?,
        file_name: r.get(7)?,
        stored: r.get(8)?,
        sha256: r.get(9)?,
        size: r.get(10)?,
        uploaded_at: r.get(11)?,
        findings: r.get(12)?,
        feedback: r.get(13)?,
        filed_as: r.get(14)?,
        late: r.get(15)?,
        locked_by: None,
    })
}

const AUDIT_COLUMNS: &str = "SELECT at, user, action, target, ip, outcome FROM audit";

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        at: r.get(0)?,
        user: r.get(1)?,
        action: r.get(2)?,
        target: r.get(3)?,
        ip: r.get(4)?,
        outcome: r.get(5)?,
    })
}

const USER_COLUMNS: &str =
    "SELECT id, name, role, zone, email, password, must_change, disabled FROM users";

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = r.get(2)?;
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: Role::parse(&role).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown role {role}").into(),
            )
        })?,
        zone: r.get(3)?,
        email: r.get(4)?,
        password: r.get(5)?,
        must_change: r.get(6)?,
        disabled: r.get(7)?,
    })
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::Database {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// The review that holds for a submission's unit, period and form now: the
/// office's word on this submission or a later one, not undone by a later
/// upload (a re-upload after 退回 is waiting for review again).
pub fn current_review<'a>(
    reviews: &'a [Review],
    subs: &[Submission],
    zone: &str,
    form: &str,
) -> Option<&'a Review> {
    let latest = subs
        .iter()
        .filter(|s| s.status != "refused" && s.zone.as_deref() == Some(zone))
        .filter(|s| s.forms.iter().any(|f| f == form))
        .map(|s| s.id)
        .max();
    reviews.iter().find(|r| {
        r.zone == zone
            && r.form == form
            && r.state != "unlocked"
            && latest.is_none_or(|l| r.submission >= l)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restarted_database_keeps_accounts_sessions_and_audit() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = Db::open(dir.path()).unwrap();
            let u = db
                .add_user("hz1", Role::Zone, Some("HZ"), "a@b.c", "$hash", 10)
                .unwrap();
            db.add_session("t", u.id, 10).unwrap();
            db.audit(&AuditEntry {
                at: 11,
                user: "hz1".into(),
                action: "login".into(),
                target: String::new(),
                ip: "127.0.0.1".into(),
                outcome: "ok".into(),
            })
            .unwrap();
            assert!(matches!(
                db.add_user("hz1", Role::Office, None, "", "$h", 12),
                Err(Error::Account(_))
            ));
        }
        let db = Db::open(dir.path()).unwrap();
        let u = db.user_by_name("hz1").unwrap().unwrap();
        assert_eq!(
            (u.role, u.zone.as_deref(), u.must_change),
            (Role::Zone, Some("HZ"), true)
        );
        assert_eq!(db.session("t").unwrap(), Some((u.id, 10, 10)));
        assert_eq!(db.audit_since(0).unwrap().len(), 1);
        // A new password ends every session of the account.
        db.set_password(u.id, "$new", false).unwrap();
        assert_eq!(db.session("t").unwrap(), None);
        let mode: String = db
            .conn()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
}
