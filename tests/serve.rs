//! The portal as a browser or a script meets it: the real binary serving on a
//! free loopback port, accounts made with `zonestat user`, and plain HTTP/1.1
//! requests (so every header, cookie and origin is the test's own choice).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls;

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_zonestat");
const EPOCH: &str = "1593561600";

/// A work folder with the sample data and a server running on it.
struct Portal {
    dir: tempfile::TempDir,
    child: Option<Child>,
    port: u16,
    /// Speaks https, trusting this configuration's roots.
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Portal {
    fn new() -> Portal {
        let mut p = Portal::unstarted();
        p.start();
        p
    }

    /// The work folder with the sample data, the server not yet started.
    fn unstarted() -> Portal {
        let dir = tempfile::tempdir().unwrap();
        for p in common::PERIODS {
            let to = dir.path().join("数据").join(p);
            std::fs::create_dir_all(&to).unwrap();
            for f in std::fs::read_dir(common::data(p)).unwrap() {
                let f = f.unwrap().path();
                std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
            }
        }
        Portal {
            dir,
            child: None,
            port: 0,
            tls: None,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("数据")
    }

    /// Starts the server on a free port and waits for its first line.
    fn start(&mut self) {
        let mut child = Command::new(BIN)
            .current_dir(self.dir.path())
            .args(["serve", "--port", "0"])
            // The workbook's timestamps, as for the command line's in the tests.
            .env("SOURCE_DATE_EPOCH", EPOCH)
            .env_remove("ZONESTAT_SMTP_PASSWORD")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .rsplit_once("127.0.0.1:")
            .and_then(|(_, rest)| rest.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in “{line}”"));
        self.port = port;
        self.child = Some(child);
    }

    /// Stops the server with SIGTERM and waits for it to end cleanly.
    fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        let pid = child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "server ended with {status}");
        let mut rest = String::new();
        child.stdout.unwrap().read_to_string(&mut rest).unwrap();
        assert!(rest.contains("已停止"), "{rest}");
    }

    /// Makes an account with `zonestat user add`; returns its first password.
    fn user(&self, name: &str, role: &str, zone: Option<&str>) -> String {
        self.user_at(name, role, zone, "")
    }

    /// Makes an account with an email address; returns its first password.
    fn user_at(&self, name: &str, role: &str, zone: Option<&str>, email: &str) -> String {
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .args(["user", "add", name, "--role", role, "--email", email]);
        if let Some(z) = zone {
            cmd.args(["--zone", z]);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("初始密码："))
            .unwrap_or_else(|| panic!("no password in {text}"))
            .to_string()
    }

    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        self.send(method, path, headers, body.as_bytes())
    }

    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut s: Box<dyn ReadWrite> = match &self.tls {
            None => Box::new(tcp),
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let conn = rustls::ClientConnection::new(config.clone(), name).unwrap();
                Box::new(rustls::StreamOwned::new(conn, tcp))
            }
        };
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        if let Err(e) = s.read_to_end(&mut raw) {
            // A TLS peer that closes without its close_notify: what came is the answer.
            assert!(self.tls.is_some() && !raw.is_empty(), "{e}");
        }
        Answer::parse(&raw)
    }

    fn json(&self, method: &str, path: &str, cookie: Option<&str>, body: Value) -> Answer {
        let cookie = cookie.map(|c| format!("zonestat_session={c}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(c) = &cookie {
            headers.push(("Cookie", c));
        }
        let body = if body.is_null() {
            String::new()
        } else {
            body.to_string()
        };
        self.request(method, path, &headers, &body)
    }

    /// Uploads `bytes` as `name` through the API.
    fn upload(&self, token: &str, name: &str, bytes: &[u8]) -> Answer {
        let boundary = "zonestat-test-boundary-7f3a";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let cookie = format!("zonestat_session={token}");
        let ctype = format!("multipart/form-data; boundary={boundary}");
        self.send(
            "POST",
            "/api/v1/uploads",
            &[("Cookie", &cookie), ("Content-Type", &ctype)],
            &body,
        )
    }

    /// Opens `period` for uploads (as a fresh office account).
    fn open(&self, period: &str) -> String {
        let office = self.ready("office-open", "office", None, "Office-Pass-2020");
        let a = self.json(
            "POST",
            "/api/v1/periods",
            Some(&office),
            json!({"period": period, "deadline": "2099-12-31"}),
        );
        assert_eq!(a.status, 201, "{}", a.body);
        office
    }

    /// `GET path` as the holder of `token`.
    fn get(&self, token: &str, path: &str) -> Answer {
        self.json("GET", path, Some(token), Value::Null)
    }

    /// The office's word on a submission: `POST …/submissions/{id}/{verb}`.
    fn review(&self, token: &str, id: i64, verb: &str, body: Value) -> Answer {
        let path = format!("/api/v1/submissions/{id}/{verb}");
        self.json("POST", &path, Some(token), body)
    }

    /// Logs in and returns the session token.
    fn login(&self, user: &str, password: &str) -> (String, Value) {
        let a = self.json(
            "POST",
            "/api/v1/login",
            None,
            json!({"user": user, "password": password}),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        (a.session().expect("a session cookie"), a.value())
    }

    /// An account past its first password: logs in, sets `new`, returns the new session.
    fn ready(&self, name: &str, role: &str, zone: Option<&str>, new: &str) -> String {
        self.ready_at(name, role, zone, new, "")
    }

    /// As `ready`, with an email address.
    fn ready_at(
        &self,
        name: &str,
        role: &str,
        zone: Option<&str>,
        new: &str,
        email: &str,
    ) -> String {
        let first = self.user_at(name, role, zone, email);
        let (token, _) = self.login(name, &first);
        let a = self.json(
            "POST",
            "/api/v1/password",
            Some(&token),
            json!({"old": first, "new": new}),
        );
        assert_eq!(a.status, 204, "{}", a.body);
        a.session().unwrap()
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    raw: Vec<u8>,
}

impl Answer {
    fn parse(raw: &[u8]) -> Answer {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
            .collect();
        let at = raw.windows(4).position(|w| w == b"\r\n\r\n");
        Answer {
            status,
            headers,
            body: body.to_string(),
            raw: at.map_or(Vec::new(), |i| raw[i + 4..].to_vec()),
        }
    }

    /// The body as received, byte for byte.
    fn body_bytes(&self) -> Vec<u8> {
        self.raw.clone()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn value(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    /// The session token the answer sets, if it sets a live one.
    fn session(&self) -> Option<String> {
        let c = self.header("set-cookie")?;
        let token = c.strip_prefix("zonestat_session=")?.split(';').next()?;
        (!token.is_empty()).then(|| token.to_string())
    }
}

#[test]
fn a_first_password_must_be_changed_before_anything_else() {
    let p = Portal::new();
    let first = p.user("hz1", "zone", Some("HZ"));
    let (token, who) = p.login("hz1", &first);
    assert_eq!(
        who,
        json!({"user": "hz1", "role": "zone", "zone": "HZ", "must_change_password": true})
    );
    let a = p.get(&token, "/api/v1/periods");
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (403, Some("password_change_required"))
    );
    // Too weak, then the same as the old one: refused with the reason.
    for new in ["short", first.as_str()] {
        let a = p.json(
            "POST",
            "/api/v1/password",
            Some(&token),
            json!({"old": first, "new": new}),
        );
        assert_eq!(a.status, 400, "{}", a.body);
        assert!(!a.value()["message"].as_str().unwrap().is_empty());
    }
    let a = p.json(
        "POST",
        "/api/v1/password",
        Some(&token),
        json!({"old": first, "new": "Taihu-Lake-2020"}),
    );
    assert_eq!(a.status, 204, "{}", a.body);
    let fresh = a.session().unwrap();
    assert_ne!(fresh, token, "a new session id after the change");
    // The old session is gone; the new one works; the new password logs in.
    assert_eq!(p.get(&token, "/api/v1/periods").status, 401);
    assert_eq!(p.get(&fresh, "/api/v1/periods").status, 200);
    let (_, who) = p.login("hz1", "Taihu-Lake-2020");
    assert_eq!(who["must_change_password"], false);
}

#[test]
fn wrong_passwords_get_one_answer_and_are_throttled_and_audited() {
    let p = Portal::new();
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let first = p.user("hz1", "zone", Some("HZ"));
    let unknown = p.json(
        "POST",
        "/api/v1/login",
        None,
        json!({"user": "nobody", "password": "x"}),
    );
    let wrong = p.json(
        "POST",
        "/api/v1/login",
        None,
        json!({"user": "hz1", "password": "x"}),
    );
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert_eq!(
        unknown.body, wrong.body,
        "the same answer for a wrong name and a wrong password"
    );
    for _ in 0..4 {
        let a = p.json(
            "POST",
            "/api/v1/login",
            None,
            json!({"user": "hz1", "password": "x"}),
        );
        assert_eq!(a.status, 401);
    }
    // Five failures: even the right password waits now.
    let a = p.json(
        "POST",
        "/api/v1/login",
        None,
        json!({"user": "hz1", "password": first}),
    );
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (429, Some("throttled"))
    );
    let log = p.get(&office, "/api/v1/audit");
    assert_eq!(log.status, 200);
    let rows = log.value();
    let outcomes: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["user"] == "hz1" && r["action"] == "login")
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        [
            "failed",
            "failed",
            "failed",
            "failed",
            "failed",
            "throttled"
        ]
    );
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .all(|r| r["ip"] == "127.0.0.1")
    );
    assert!(rows[0]["at"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn cross_site_posts_are_refused_and_answers_carry_the_security_headers() {
    let p = Portal::new();
    let first = p.user("hz1", "zone", Some("HZ"));
    let body = json!({"user": "hz1", "password": first}).to_string();
    for headers in [
        [
            ("Content-Type", "application/json"),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        [
            ("Content-Type", "application/json"),
            ("Origin", "http://evil.example"),
        ],
    ] {
        let a = p.request("POST", "/api/v1/login", &headers, &body);
        assert_eq!(
            (a.status, a.value()["error"].as_str()),
            (403, Some("cross_site"))
        );
        assert!(a.session().is_none());
    }
    let same = p.request(
        "POST",
        "/api/v1/login",
        &[
            ("Content-Type", "application/json"),
            ("Sec-Fetch-Site", "same-origin"),
        ],
        &body,
    );
    assert_eq!(same.status, 200);
    let cookie = same.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert_eq!(same.session().unwrap().len(), 32, "128 random bits in hex");
    assert!(
        same.header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(same.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn only_the_office_opens_periods_and_each_zone_sees_its_own_row() {
    let p = Portal::new();
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let open = json!({"period": "2020-06", "deadline": "2020-07-10"});
    let a = p.json("POST", "/api/v1/periods", Some(&hz), open.clone());
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (403, Some("forbidden"))
    );
    assert_eq!(
        p.json("POST", "/api/v1/periods", Some(&office), open)
            .status,
        201
    );
    let bad = json!({"period": "2020-13", "deadline": "2020-07-10"});
    assert_eq!(
        p.json("POST", "/api/v1/periods", Some(&office), bad).status,
        400
    );
    let periods = p
        .json("GET", "/api/v1/periods", Some(&hz), Value::Null)
        .value();
    assert_eq!(
        periods,
        json!([{"period": "2020-06", "deadline": "2020-07-10", "open": true, "annual": false}])
    );
    let mine = p
        .json(
            "GET",
            "/api/v1/status?period=2020-06",
            Some(&hz),
            Value::Null,
        )
        .value();
    let zones: Vec<&str> = mine["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["zone"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["HZ"]);
    assert_eq!(mine["cells"][0]["state"], "accepted");
    assert_eq!(mine["deadline"], "2020-07-10");
    let all = p
        .json(
            "GET",
            "/api/v1/status?period=2020-06",
            Some(&office),
            Value::Null,
        )
        .value();
    assert_eq!(
        all["cells"].as_array().unwrap().len(),
        6,
        "five zones and the city"
    );
    // A zone may not read the audit log; the office may close the period.
    assert_eq!(p.get(&hz, "/api/v1/audit").status, 403);
    let close = p.json(
        "POST",
        "/api/v1/periods/2020-06/close",
        Some(&office),
        Value::Null,
    );
    assert_eq!(close.status, 204);
    let periods = p
        .json("GET", "/api/v1/periods", Some(&hz), Value::Null)
        .value();
    assert_eq!(periods[0]["open"], false);
}

#[test]
fn a_restarted_server_keeps_its_accounts_sessions_and_periods() {
    let mut p = Portal::new();
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let open = json!({"period": "2020-12", "deadline": "2021-01-15"});
    assert_eq!(
        p.json("POST", "/api/v1/periods", Some(&office), open)
            .status,
        201
    );
    p.stop();
    assert!(p.data().join("zonestat.sqlite").is_file());
    p.start();
    let periods = p.get(&office, "/api/v1/periods");
    assert_eq!(periods.status, 200, "the session outlives the restart");
    assert_eq!(periods.value()[0]["period"], "2020-12");
    let a = p.json("POST", "/api/v1/logout", Some(&office), Value::Null);
    assert_eq!(a.status, 204);
    assert_eq!(p.get(&office, "/api/v1/periods").status, 401);
}

#[test]
fn the_pages_log_in_ask_for_a_new_password_and_show_the_grid() {
    let p = Portal::new();
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let open = json!({"period": "2020-06", "deadline": "2020-07-10"});
    assert_eq!(
        p.json("POST", "/api/v1/periods", Some(&office), open)
            .status,
        201
    );
    let home = p.request("GET", "/", &[], "");
    assert_eq!(
        (home.status, home.header("location")),
        (303, Some("/login"))
    );
    let login = p.request("GET", "/login", &[], "");
    assert!(login.body.contains("账户名") && login.body.contains("<form"));
    let first = p.user("nx1", "zone", Some("NX"));
    let form = format!("user=nx1&password={first}");
    let a = p.request(
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form,
    );
    assert_eq!((a.status, a.header("location")), (303, Some("/password")));
    let cookie = format!("zonestat_session={}", a.session().unwrap());
    let home = p.request("GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(home.header("location"), Some("/password"));
    let change = format!("old={first}&new=Nanxun-2020-ok&again=Nanxun-2020-ok");
    let a = p.request(
        "POST",
        "/password",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
        ],
        &change,
    );
    assert_eq!((a.status, a.header("location")), (303, Some("/")));
    let cookie = format!("zonestat_session={}", a.session().unwrap());
    let home = p.request("GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("南浔开发区报送情况"), "{}", home.body);
    assert!(home.body.contains("已报送"));
    assert!(
        !home.body.contains("湖州开发区"),
        "a zone sees only its own row"
    );
    let office_home = p.request(
        "GET",
        "/",
        &[("Cookie", &format!("zonestat_session={office}"))],
        "",
    );
    assert!(office_home.body.contains("各单位报送情况"));
    assert!(office_home.body.contains("湖州开发区") && office_home.body.contains("湖州市统计局"));
}

#[test]
fn user_commands_list_reset_and_disable_accounts() {
    let p = Portal::new();
    let first = p.user("hz1", "zone", Some("HZ"));
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .current_dir(p.dir.path())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, _) = run(&["user", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("hz1") && out.contains("湖州开发区") && out.contains("待修改初始密码"));
    let (code, _, err) = run(&["user", "add", "x", "--role", "zone", "--zone", "ZZ"]);
    assert_eq!(code, 2);
    assert!(err.contains("ZZ"), "{err}");
    let (code, _, err) = run(&["user", "add", "hz1", "--role", "office"]);
    assert_eq!(code, 2);
    assert!(err.contains("已存在"), "{err}");
    let (code, out, _) = run(&["user", "passwd", "hz1"]);
    assert_eq!(code, 0);
    let new = out
        .lines()
        .find_map(|l| l.split_once("重设密码：").map(|(_, p)| p.to_string()))
        .unwrap();
    let old = p.json(
        "POST",
        "/api/v1/login",
        None,
        json!({"user": "hz1", "password": first}),
    );
    assert_eq!(old.status, 401);
    let (token, _) = p.login("hz1", &new);
    assert_eq!(run(&["user", "disable", "hz1"]).0, 0);
    assert_eq!(p.get(&token, "/api/v1/periods").status, 401);
    let a = p.json(
        "POST",
        "/api/v1/login",
        None,
        json!({"user": "hz1", "password": new}),
    );
    assert_eq!(a.status, 401, "a disabled account cannot log in");
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_zones_own_form_is_filed_and_another_zones_is_refused() {
    let p = Portal::new();
    p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let june = p.data().join("2020-06");
    let before = files_in(&june);
    // 南浔's form uploaded by 湖州: refused, nothing filed.
    let nx = common::form1("南浔经济开发区", "2020年1-6月").xlsx();
    let a = p.upload(&hz, "南浔6月.xlsx", &nx);
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.value();
    assert_eq!(v["status"], "refused", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("南浔"), "{v}");
    assert_eq!(files_in(&june), before);
    // Its own form: accepted, filed under the canonical name, the old copy superseded.
    let a = p.upload(&hz, "湖州6月（更正）.xlsx", &common::hz().xlsx());
    let v = a.value();
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(
        (v["zone"].as_str(), v["period"].as_str()),
        (Some("HZ"), Some("2020-06"))
    );
    assert_eq!(v["forms"], json!(["湖开统1表"]));
    assert!(files_in(&june).contains(&"湖开统1表-湖州开发区-2020-06.xlsx".to_string()));
    assert!(!files_in(&june).contains(&"湖州开发区6月报表.xlsx".to_string()));
    assert_eq!(files_in(&june.join("_superseded")).len(), 1);
    let log = std::fs::read_to_string(p.data().join("intake.log")).unwrap();
    assert!(log.contains("湖州6月（更正）.xlsx"), "{log}");
    // The zone's list holds both uploads, newest first; the office sees them too.
    let mine = p
        .json(
            "GET",
            "/api/v1/submissions?period=2020-06",
            Some(&hz),
            Value::Null,
        )
        .value();
    let states: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["accepted", "refused"]);
    let grid = p
        .json(
            "GET",
            "/api/v1/status?period=2020-06",
            Some(&hz),
            Value::Null,
        )
        .value();
    assert_eq!(grid["cells"][0]["submission"], mine[0]["submission"]);
}

#[test]
fn a_form_with_an_error_is_rejected_at_its_cell_with_a_feedback_workbook() {
    let p = Portal::new();
    p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let bad = common::hz().set("E12", common::n(-5.0)).xlsx();
    let v = p.upload(&hz, "湖州6月.xlsx", &bad).value();
    assert_eq!(v["status"], "rejected", "{v}");
    let errors: Vec<&Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!(
        (errors[0]["rule"].as_str(), errors[0]["cell"].as_str()),
        (Some("value.negative"), Some("E12"))
    );
    assert_eq!(
        errors[0]["file"], "湖州6月.xlsx",
        "the zone's own file name"
    );
    let url = v["feedback"].as_str().unwrap();
    let cookie = format!("zonestat_session={hz}");
    let fb = p.send("GET", url, &[("Cookie", &cookie)], b"");
    assert_eq!(fb.status, 200);
    let disposition = fb.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    // The archive still has the zone's earlier form, untouched.
    assert!(files_in(&p.data().join("2020-06")).contains(&"湖州开发区6月报表.xlsx".to_string()));
}

#[test]
fn another_zones_record_answers_404_and_a_closed_period_refuses() {
    let p = Portal::new();
    let office = p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let nx = p.ready("nx1", "zone", Some("NX"), "Nanxun-Lake-2020");
    let v = p
        .upload(
            &hz,
            "湖州6月.xlsx",
            &common::hz().set("E12", common::n(-5.0)).xlsx(),
        )
        .value();
    let id = v["submission"].as_i64().unwrap();
    for path in [
        format!("/api/v1/submissions/{id}"),
        format!("/api/v1/submissions/{id}/file"),
        format!("/api/v1/submissions/{id}/feedback"),
        format!("/submissions/{id}"),
    ] {
        let cookie = format!("zonestat_session={nx}");
        let a = p.send("GET", &path, &[("Cookie", &cookie)], b"");
        assert_eq!(a.status, 404, "{path}: {}", a.body);
        assert!(!a.body.contains("湖州"), "{path}");
        let cookie = format!("zonestat_session={office}");
        assert_eq!(
            p.send("GET", &path, &[("Cookie", &cookie)], b"").status,
            200,
            "{path}"
        );
    }
    let close = p.json(
        "POST",
        "/api/v1/periods/2020-06/close",
        Some(&office),
        Value::Null,
    );
    assert_eq!(close.status, 204);
    let v = p.upload(&hz, "湖州6月.xlsx", &common::hz().xlsx()).value();
    assert_eq!(v["status"], "refused");
    assert!(v["reason"].as_str().unwrap().contains("2020-06"), "{v}");
}

#[test]
fn hostile_and_oversized_uploads_get_their_answer_and_the_server_goes_on() {
    let p = Portal::new();
    p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let hostile = common::fixtures().join("hostile");
    for name in [
        "zip-bomb.xlsx",
        "random-bytes.xlsx",
        "truncated.xlsx",
        "ods-unclosed-table.ods",
    ] {
        let bytes = std::fs::read(hostile.join(name)).unwrap();
        let v = p.upload(&hz, name, &bytes).value();
        assert_eq!(v["status"], "refused", "{name}: {v}");
        assert!(
            v["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["severity"] == "error"),
            "{name}: {v}"
        );
    }
    let big = vec![b'x'; 51 * 1024 * 1024];
    let a = p.upload(&hz, "大文件.xlsx", &big);
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (413, Some("too_large"))
    );
    let v = p.upload(&hz, "湖州6月.xlsx", &common::hz().xlsx()).value();
    assert_eq!(v["status"], "accepted", "{v}");
}

/// A crafted file keeps a reader worker busy up to its CPU limit: the same
/// account's next upload is refused (429) until that one has its verdict,
/// so one account cannot hold every worker; another account is not held up.
#[test]
fn an_accounts_next_upload_waits_for_the_verdict_on_its_last() {
    let mut p = Portal::unstarted();
    // A shorter CPU limit than the bundled 10 s, for a shorter test.
    let plan = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/plan.toml"),
    )
    .unwrap()
    .replace("max_cpu_seconds = 10", "max_cpu_seconds = 3");
    std::fs::write(p.dir.path().join("plan.toml"), plan).unwrap();
    std::fs::write(
        p.dir.path().join("zonestat.toml"),
        "catalogue = \"plan.toml\"\n",
    )
    .unwrap();
    p.start();
    p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let aj = p.ready("aj1", "zone", Some("AJ"), "Anji-Bamboo-2020");
    let crafted = std::fs::read(common::fixtures().join("hostile/ods-unclosed-table.ods")).unwrap();
    let form = common::hz().xlsx();
    let aj_form = common::form1("安吉经济开发区", "2020年1-6月").xlsx();
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| {
            // (retried while one of the uploads below holds the account's turn)
            loop {
                let a = p.upload(&hz, "ods-unclosed-table.ods", &crafted);
                if a.status != 429 {
                    return a;
                }
            }
        });
        let mut busy = None;
        while !slow.is_finished() {
            std::thread::sleep(Duration::from_millis(150));
            let a = p.upload(&hz, "湖州6月.xlsx", &form);
            if a.status == 429 && busy.is_none() {
                busy = Some(a.value());
                // Another zone's upload is read meanwhile.
                let other = p.upload(&aj, "安吉6月.xlsx", &aj_form).value();
                assert_eq!(other["status"], "accepted", "{other}");
            }
        }
        let busy = busy.expect("no upload of the same account was refused while one was read");
        assert_eq!(busy["error"], "upload_in_progress", "{busy}");
        assert!(
            busy["message"]
                .as_str()
                .unwrap()
                .contains("上一个文件还在检查中"),
            "{busy}"
        );
        let slow = slow.join().unwrap().value();
        assert_eq!(slow["status"], "refused", "{slow}");
        assert!(slow.to_string().contains("file.reader_limit"), "{slow}");
    });
    // The account's turn is back once the verdict is in.
    let a = p.upload(&hz, "湖州6月.xlsx", &form).value();
    assert_eq!(a["status"], "accepted", "{a}");
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let refused = audit_rows(&p, &office, "upload")
        .into_iter()
        .filter(|r| r["outcome"] == "refused: busy")
        .count();
    assert!(refused >= 1, "the refusal is audited");
}

// ---------------------------------------------------------------------------
// The office's side (issue 18)

/// A page's body as the caller with session `token` sees it.
fn page(p: &Portal, token: &str, path: &str) -> Answer {
    p.request(
        "GET",
        path,
        &[("Cookie", &format!("zonestat_session={token}"))],
        "",
    )
}

/// The cell of `zone` (and the first form) in the grid of `period`.
fn cell(p: &Portal, token: &str, period: &str, zone: &str) -> Value {
    let grid = p
        .json(
            "GET",
            &format!("/api/v1/status?period={period}"),
            Some(token),
            Value::Null,
        )
        .value();
    grid["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["zone"] == zone)
        .cloned()
        .unwrap_or_else(|| panic!("no {zone} in {grid}"))
}

fn audit_rows(p: &Portal, office: &str, action: &str) -> Vec<Value> {
    p.json("GET", "/api/v1/audit", Some(office), Value::Null)
        .value()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == action)
        .cloned()
        .collect()
}

#[test]
fn an_approved_form_is_locked_until_unlocked_and_a_returned_one_is_shown_to_its_zone() {
    let p = Portal::new();
    let office = p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let v = p.upload(&hz, "湖州6月.xlsx", &common::hz().xlsx()).value();
    assert_eq!(v["status"], "accepted", "{v}");
    let id = v["submission"].as_i64().unwrap();
    assert_eq!(
        cell(&p, &office, "2020-06", "HZ")["label"],
        "已报送（待审核）"
    );
    // A zone may not approve, return or unlock (403); the office needs a reason.
    for verb in ["approve", "return", "unlock"] {
        let a = p.review(&hz, id, verb, json!({"reason": "x"}));
        assert_eq!(
            (a.status, a.value()["error"].as_str()),
            (403, Some("forbidden")),
            "{verb}"
        );
    }
    for verb in ["return", "unlock"] {
        let a = p.review(&office, id, verb, json!({"reason": "  "}));
        assert_eq!(
            (a.status, a.value()["error"].as_str()),
            (400, Some("reason_required")),
            "{verb}"
        );
    }
    let a = p.review(&office, id, "approve", Value::Null);
    assert_eq!(a.status, 204, "{}", a.body);
    let c = cell(&p, &hz, "2020-06", "HZ");
    assert_eq!(
        (c["review"].as_str(), c["label"].as_str()),
        (Some("approved"), Some("已审核"))
    );
    // Locked: a new upload is refused with 409 and says whom to ask; nothing is filed.
    let june = p.data().join("2020-06");
    let before = files_in(&june);
    let a = p.upload(&hz, "湖州6月（二）.xlsx", &common::hz().xlsx());
    assert_eq!(a.status, 409, "{}", a.body);
    let v = a.value();
    assert_eq!(
        (v["status"].as_str(), v["error"].as_str()),
        (Some("refused"), Some("locked"))
    );
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("office-open") && reason.contains("解锁"),
        "{reason}"
    );
    assert_eq!(files_in(&june), before);
    // Unlocked with a reason: uploads are taken again.
    let a = p.review(
        &office,
        id,
        "unlock",
        json!({"reason": "湖州开发区申请更正工业产值"}),
    );
    assert_eq!(a.status, 204, "{}", a.body);
    let v = p
        .upload(&hz, "湖州6月（更正）.xlsx", &common::hz().xlsx())
        .value();
    assert_eq!(v["status"], "accepted", "{v}");
    let second = v["submission"].as_i64().unwrap();
    // The old one cannot be approved any more; the new one is returned.
    let a = p.review(&office, id, "approve", Value::Null);
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (409, Some("superseded"))
    );
    let a = p.review(
        &office,
        second,
        "return",
        json!({"reason": "营业收入与快报不符，请核实"}),
    );
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(cell(&p, &office, "2020-06", "HZ")["label"], "已退回");
    let v = p
        .json(
            "GET",
            &format!("/api/v1/submissions/{second}"),
            Some(&hz),
            Value::Null,
        )
        .value();
    assert_eq!(v["review"][0]["state"], "returned");
    assert_eq!(v["review"][0]["reason"], "营业收入与快报不符，请核实");
    let home = page(&p, &hz, "/?period=2020-06");
    assert!(
        home.body.contains("营业收入与快报不符，请核实"),
        "{}",
        home.body
    );
    assert!(home.body.contains("已退回"));
    let mine = page(&p, &hz, &format!("/submissions/{second}"));
    assert!(mine.body.contains("营业收入与快报不符，请核实"));
    assert!(
        !mine.body.contains("id=\"approve\""),
        "no office buttons for a zone"
    );
    // A re-upload waits for review again; the office's page has the buttons.
    let v = p
        .upload(&hz, "湖州6月（再更正）.xlsx", &common::hz().xlsx())
        .value();
    assert_eq!(v["status"], "accepted", "{v}");
    assert_eq!(
        cell(&p, &office, "2020-06", "HZ")["label"],
        "已报送（待审核）"
    );
    let third = v["submission"].as_i64().unwrap();
    let theirs = page(&p, &office, &format!("/submissions/{third}"));
    assert!(theirs.body.contains("id=\"approve\"") && theirs.body.contains("退回原因"));
    // Every word of the office is in the audit log with its reason.
    let outcomes = |action: &str| -> Vec<String> {
        audit_rows(&p, &office, action)
            .iter()
            .map(|r| r["outcome"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        outcomes("approve"),
        ["forbidden", "ok", "refused: superseded"]
    );
    assert_eq!(
        outcomes("return"),
        [
            "forbidden",
            "refused: no reason",
            "ok: 营业收入与快报不符，请核实"
        ]
    );
    assert_eq!(
        outcomes("unlock"),
        [
            "forbidden",
            "refused: no reason",
            "ok: 湖州开发区申请更正工业产值"
        ]
    );
    assert!(outcomes("upload").contains(&"refused: locked".to_string()));
}

#[test]
fn the_office_opens_and_closes_periods_from_its_page_and_the_grid_marks_overdue_forms() {
    let p = Portal::new();
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let cookie = format!("zonestat_session={office}");
    let form = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Cookie", cookie.as_str()),
    ];
    // A deadline long past: whatever arrives now is late, whatever is missing overdue.
    let a = p.request(
        "POST",
        "/periods",
        &form,
        "period=2020-07&deadline=2020-08-10",
    );
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/?period=2020-07"))
    );
    let home = page(&p, &office, "/?period=2020-07");
    assert!(home.body.contains("截止日期 2020-08-10") && home.body.contains("id=\"close-period\""));
    assert!(home.body.contains("未报送（逾期）"), "{}", home.body);
    let july = common::form1("湖州经济技术开发区", "2020年1-7月").xlsx();
    let v = p.upload(&hz, "湖州7月.xlsx", &july).value();
    assert_eq!(
        (v["status"].as_str(), v["late"].as_bool()),
        (Some("accepted"), Some(true)),
        "{v}"
    );
    assert_eq!(cell(&p, &office, "2020-07", "HZ")["late"], true);
    assert_eq!(cell(&p, &office, "2020-07", "HZ")["overdue"], false);
    let nx = cell(&p, &office, "2020-07", "NX");
    assert_eq!(
        (nx["late"].as_bool(), nx["overdue"].as_bool()),
        (Some(false), Some(true))
    );
    // A zone cannot open a period from the page either.
    let theirs = format!("zonestat_session={hz}");
    let a = p.request(
        "POST",
        "/periods",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &theirs),
        ],
        "period=2020-08&deadline=2020-09-10",
    );
    assert_eq!(a.status, 403);
    let a = p.request("POST", "/periods/2020-07/close", &form, "");
    assert_eq!(a.status, 303);
    let periods = p
        .json("GET", "/api/v1/periods", Some(&hz), Value::Null)
        .value();
    assert_eq!(
        periods[0],
        json!({"period": "2020-07", "deadline": "2020-08-10", "open": false, "annual": false})
    );
    // On-time reporting over the year: 湖州 was late in July.
    let home = page(&p, &office, "/?period=2020-07");
    assert!(home.body.contains("2020 年按时报送"), "{}", home.body);
    assert!(home.body.contains("0 / 1 期"));
    let log: Vec<String> = audit_rows(&p, &office, "period_open")
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["target"].as_str().unwrap(),
                r["outcome"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(log, ["2020-07 截止 2020-08-10 ok", "2020-08 forbidden"]);
}

#[test]
fn a_zone_explains_a_warning_the_office_accepts_it_and_the_consolidation_carries_it() {
    let p = Portal::new();
    let office = p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let nx = p.ready("nx1", "zone", Some("NX"), "Nanxun-Lake-2020");
    let steep = common::hz()
        .set("E7", common::n(129.4))
        .set("G7", common::n(60.0));
    let v = p.upload(&hz, "湖州6月.xlsx", &steep.xlsx()).value();
    assert_eq!(v["status"], "accepted", "{v}");
    let id = v["submission"].as_i64().unwrap();
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "growth.extreme" && f["cell"] == "E7"),
        "{v}"
    );
    let url = format!("/api/v1/submissions/{id}/explanations");
    let body = json!({"rule": "growth.extreme", "cell": "E7", "text": "新项目投产，产值大增"});
    assert_eq!(
        p.json("POST", &url, Some(&nx), body.clone()).status,
        404,
        "another zone's"
    );
    assert_eq!(
        p.json("POST", &url, Some(&office), body.clone()).status,
        403,
        "the owner explains"
    );
    let wrong = json!({"rule": "growth.extreme", "cell": "E8", "text": "x"});
    let a = p.json("POST", &url, Some(&hz), wrong);
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (400, Some("no_such_warning"))
    );
    let a = p.json("POST", &url, Some(&hz), body);
    assert_eq!(a.status, 201, "{}", a.body);
    let eid = a.value()["explanation"].as_i64().unwrap();
    // The office sees it beside the warning and accepts it.
    let theirs = page(&p, &office, &format!("/submissions/{id}"));
    assert!(theirs.body.contains("新项目投产，产值大增") && theirs.body.contains("认可"));
    let accept = format!("/api/v1/submissions/{id}/explanations/{eid}/accept");
    assert_eq!(p.json("POST", &accept, Some(&hz), Value::Null).status, 403);
    assert_eq!(
        p.json("POST", &accept, Some(&office), Value::Null).status,
        204
    );
    let v = p
        .json(
            "GET",
            &format!("/api/v1/submissions/{id}"),
            Some(&hz),
            Value::Null,
        )
        .value();
    assert_eq!(v["explanations"][0]["text"], "新项目投产，产值大增");
    assert_eq!(v["explanations"][0]["accepted"], true);
    // The consolidation's findings carry it, in the JSON and on 数据问题.
    let a = p.json(
        "POST",
        "/api/v1/consolidations",
        Some(&office),
        json!({"period": "2020-06"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let summary = &a.value()["summary"];
    let f = summary["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "growth.extreme" && f["zone"] == "HZ")
        .cloned()
        .unwrap_or_else(|| panic!("{summary}"));
    assert_eq!(
        f["explanation"],
        json!({"text": "新项目投产，产值大增", "accepted": true})
    );
    let cookie = format!("zonestat_session={office}");
    let book = p.send(
        "GET",
        "/api/v1/consolidations/2020-06/workbook",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(book.status, 200);
    let bytes = std::fs::read(
        p.data()
            .join("_portal/consolidations/2020-06/开发区考核汇总表-2020年1-6月.xlsx"),
    )
    .unwrap();
    use calamine::Reader as _;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = wb.worksheet_range("数据问题").unwrap();
    assert!(
        sheet.cells().any(|(_, _, c)| c
            .to_string()
            .contains("单位说明：新项目投产，产值大增（统计科已认可）")),
        "the 数据问题 page carries the explanation"
    );
}

#[test]
fn the_portals_consolidation_is_the_command_lines_byte_for_byte() {
    let p = Portal::new();
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let body = json!({"period": "2020-06"});
    let a = p.json("POST", "/api/v1/consolidations", Some(&hz), body.clone());
    assert_eq!(a.status, 403);
    let cookie = format!("zonestat_session={office}");
    let none = p.send(
        "GET",
        "/api/v1/consolidations/2020-06/workbook",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(
        (none.status, none.value()["error"].as_str()),
        (404, Some("not_consolidated"))
    );
    let a = p.json("POST", "/api/v1/consolidations", Some(&office), body);
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.value();
    assert_eq!(v["workbook"], "/api/v1/consolidations/2020-06/workbook");
    let theirs = format!("zonestat_session={hz}");
    assert_eq!(
        p.send(
            "GET",
            "/api/v1/consolidations/2020-06/workbook",
            &[("Cookie", &theirs)],
            b""
        )
        .status,
        403
    );
    let portal = p.send(
        "GET",
        "/api/v1/consolidations/2020-06/workbook",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(portal.status, 200);
    assert!(
        portal
            .header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    // The command line on the same data folder, under the same SOURCE_DATE_EPOCH.
    let out = p.dir.path().join("命令行");
    std::fs::create_dir(&out).unwrap();
    let run = Command::new(BIN)
        .current_dir(p.dir.path())
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args([
            "consolidate",
            "数据",
            "--period",
            "2020-06",
            "-o",
            "命令行/汇总.xlsx",
            "--json",
            "命令行/汇总.json",
        ])
        .output()
        .unwrap();
    assert!(
        run.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let cli = std::fs::read(out.join("汇总.xlsx")).unwrap();
    let served = portal.body_bytes();
    assert!(
        served == cli,
        "the workbooks differ ({} and {} bytes)",
        served.len(),
        cli.len()
    );
    let cli_json: Value =
        serde_json::from_slice(&std::fs::read(out.join("汇总.json")).unwrap()).unwrap();
    assert_eq!(v["summary"], cli_json);
    // The office's page shows it and links the download.
    let home = page(&p, &office, "/?period=2020-06");
    assert!(
        home.body.contains("id=\"workbook\"") && home.body.contains("目标完成情况"),
        "{}",
        home.body
    );
}

/// The messages a test SMTP server received: each one's RCPT TO addresses and text.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(Vec<String>, String)>>>;

/// A loopback SMTP server for the portal's mails: every connection served in
/// turn (no login, no TLS), each message's envelope kept. It stops with the test.
struct Smtp {
    port: u16,
    /// Each message: its RCPT TO addresses and its text.
    seen: Received,
}

impl Smtp {
    fn start() -> Smtp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Received::default();
        let keep = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                conn.set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let _ = Smtp::session(conn, &keep);
            }
        });
        Smtp { port, seen }
    }

    fn session(
        conn: TcpStream,
        seen: &std::sync::Mutex<Vec<(Vec<String>, String)>>,
    ) -> std::io::Result<()> {
        let mut out = conn.try_clone()?;
        let mut lines = BufReader::new(conn);
        out.write_all(b"220 test.local ESMTP\r\n")?;
        let mut rcpt = Vec::new();
        loop {
            let mut line = String::new();
            if lines.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let upper = line.to_ascii_uppercase();
            if upper.starts_with("EHLO") {
                out.write_all(b"250-test.local\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
            } else if upper.starts_with("RCPT TO:") {
                let addr = line[8..].trim().trim_start_matches('<');
                let addr = addr.split('>').next().unwrap_or("").to_string();
                rcpt.push(addr);
                out.write_all(b"250 2.1.5 Ok\r\n")?;
            } else if upper.starts_with("DATA") {
                out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
                let mut text = String::new();
                loop {
                    let mut l = String::new();
                    lines.read_line(&mut l)?;
                    if l == ".\r\n" || l.is_empty() {
                        break;
                    }
                    text.push_str(&l);
                }
                seen.lock().unwrap().push((std::mem::take(&mut rcpt), text));
                out.write_all(b"250 2.0.0 Ok: queued\r\n")?;
            } else if upper.starts_with("QUIT") {
                out.write_all(b"221 2.0.0 Bye\r\n")?;
                return Ok(());
            } else {
                out.write_all(b"250 Ok\r\n")?;
            }
        }
    }

    /// Every recipient of every message so far, sorted.
    fn recipients(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .seen
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(r, _)| r.clone())
            .collect();
        all.sort();
        all
    }
}

impl Portal {
    /// A portal whose `[mail]` points at the test server.
    fn mailing(smtp: &Smtp) -> Portal {
        let mut p = Portal::unstarted();
        p.mail_to(smtp);
        p.start();
        p
    }

    fn mail_to(&mut self, smtp: &Smtp) {
        let text = format!(
            "[mail]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"湖州市商务局统计科 <tongji@example.com>\"\nto = [\"boss@example.com\"]\ndeadline_seconds = 30\n",
            smtp.port
        );
        std::fs::write(self.dir.path().join("zonestat.toml"), text).unwrap();
    }
}

#[test]
fn reminders_mail_only_the_units_that_owe_forms_and_are_logged_and_shown() {
    let smtp = Smtp::start();
    let mut p = Portal::mailing(&smtp);
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    let hz = p.ready_at(
        "hz1",
        "zone",
        Some("HZ"),
        "Taihu-Lake-2020",
        "hz@example.com",
    );
    p.ready_at(
        "nx1",
        "zone",
        Some("NX"),
        "Nanxun-Lake-2020",
        "nx@example.com",
    );
    p.ready_at(
        "city1",
        "city",
        None,
        "City-Bureau-2020",
        "city@example.com",
    );
    let open = json!({"period": "2020-07", "deadline": "2099-08-10"});
    assert_eq!(
        p.json("POST", "/api/v1/periods", Some(&office), open)
            .status,
        201
    );
    // 湖州 reports; 南浔 and the city bureau do not.
    let july = common::form1("湖州经济技术开发区", "2020年1-7月").xlsx();
    assert_eq!(
        p.upload(&hz, "湖州7月.xlsx", &july).value()["status"],
        "accepted"
    );
    let body = json!({"period": "2020-07"});
    assert_eq!(
        p.json("POST", "/api/v1/reminders", Some(&hz), body.clone())
            .status,
        403
    );
    let a = p.json("POST", "/api/v1/reminders", Some(&office), body);
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.value();
    let sent: Vec<(String, String)> = v["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["zone"].as_str().unwrap().into(),
                s["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            ("NX".to_string(), "nx@example.com".to_string()),
            ("city".to_string(), "city@example.com".to_string())
        ]
    );
    // The zones without an address are failures, 湖州 is not among them.
    let failed: Vec<&str> = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["zone"].as_str().unwrap())
        .collect();
    assert!(!failed.is_empty() && !failed.contains(&"HZ"), "{v}");
    assert_eq!(smtp.recipients(), ["city@example.com", "nx@example.com"]);
    let texts: Vec<String> = smtp
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, t)| t.clone())
        .collect();
    assert!(
        texts
            .iter()
            .all(|t| t.contains("Subject: =?utf-8?") || t.contains("Subject:"))
    );
    // Each mail is in the audit log and on the office's page.
    let rows = audit_rows(&p, &office, "reminder");
    let sent_rows: Vec<&str> = rows
        .iter()
        .filter(|r| r["outcome"] == "sent")
        .map(|r| r["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        sent_rows,
        ["2020-07 NX nx@example.com", "2020-07 city city@example.com"]
    );
    assert!(
        rows.iter()
            .any(|r| r["outcome"].as_str().unwrap().starts_with("failed"))
    );
    let home = page(&p, &office, "/?period=2020-07");
    assert!(home.body.contains("2020-07 NX nx@example.com") && home.body.contains("已发送"));
    p.stop();
}

#[test]
fn a_return_is_mailed_to_the_zone_and_the_workbook_is_sent_as_run_send() {
    let smtp = Smtp::start();
    let mut p = Portal::mailing(&smtp);
    let office = p.open("2020-06");
    let hz = p.ready_at(
        "hz1",
        "zone",
        Some("HZ"),
        "Taihu-Lake-2020",
        "hz@example.com",
    );
    let v = p.upload(&hz, "湖州6月.xlsx", &common::hz().xlsx()).value();
    let id = v["submission"].as_i64().unwrap();
    let a = p.review(&office, id, "return", json!({"reason": "请补填备注栏"}));
    assert_eq!(a.status, 204);
    assert_eq!(smtp.recipients(), ["hz@example.com"]);
    assert_eq!(audit_rows(&p, &office, "return_mail")[0]["outcome"], "sent");
    // Sending needs a consolidation; an incomplete one only when asked.
    let send = "/api/v1/consolidations/2020-06/send";
    let a = p.json("POST", send, Some(&office), Value::Null);
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (404, Some("not_consolidated"))
    );
    let c = p.json(
        "POST",
        "/api/v1/consolidations",
        Some(&office),
        json!({"period": "2020-06"}),
    );
    assert_eq!(c.status, 200);
    assert_eq!(c.value()["summary"]["complete"], true);
    let a = p.json("POST", send, Some(&hz), Value::Null);
    assert_eq!(a.status, 403);
    // July has no forms at all: not sent unless asked, as `run --send`.
    let c = p.json(
        "POST",
        "/api/v1/consolidations",
        Some(&office),
        json!({"period": "2020-07"}),
    );
    assert_eq!(
        (c.status, c.value()["summary"]["complete"].as_bool()),
        (200, Some(false))
    );
    let july = "/api/v1/consolidations/2020-07/send";
    let a = p.json("POST", july, Some(&office), Value::Null);
    assert_eq!(
        (a.status, a.value()["error"].as_str()),
        (409, Some("incomplete"))
    );
    assert_eq!(smtp.recipients(), ["hz@example.com"], "nothing sent");
    let a = p.json(
        "POST",
        july,
        Some(&office),
        json!({"to": ["leader@example.com"], "incomplete": true}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    // June is complete: sent to [mail] to.
    let a = p.json("POST", send, Some(&office), Value::Null);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.value()["sent"], true);
    assert_eq!(
        smtp.recipients(),
        ["boss@example.com", "hz@example.com", "leader@example.com"]
    );
    let last = smtp.seen.lock().unwrap().last().unwrap().1.clone();
    assert!(last.contains("spreadsheetml"), "the workbook is attached");
    assert_eq!(
        audit_rows(&p, &office, "send").last().unwrap()["outcome"],
        "sent"
    );
    p.stop();
}

#[test]
fn the_office_dashboard_draws_its_charts_inline_and_lists_every_period() {
    let p = Portal::new();
    let office = p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let a = p.json(
        "POST",
        "/api/v1/consolidations",
        Some(&office),
        json!({"period": "2020-06"}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let d = page(&p, &office, "/dashboard?period=2020-06");
    assert_eq!(d.status, 200, "{}", d.body);
    for id in [
        "chart-completeness",
        "chart-targets",
        "chart-month-0",
        "chart-year-0",
    ] {
        assert!(
            d.body.contains(&format!("<svg id=\"{id}\"")),
            "{id}: {}",
            d.body
        );
    }
    assert!(
        d.body.contains("2019年") && d.body.contains("6月"),
        "{}",
        d.body
    );
    assert!(d.body.contains("id=\"history\"") && d.body.contains("数据完整"));
    // Nothing from elsewhere: the only URL is the SVG namespace.
    let outside = d.body.matches("http").count();
    assert_eq!(
        outside,
        d.body.matches("http://www.w3.org/2000/svg").count()
    );
    assert_eq!(page(&p, &hz, "/dashboard").status, 403);
}

#[test]
fn the_office_forms_on_the_pages_work_without_javascript_and_refuse_as_the_api_does() {
    let p = Portal::new();
    let office = p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    let steep = common::hz()
        .set("E7", common::n(129.4))
        .set("G7", common::n(60.0));
    let id = p.upload(&hz, "湖州6月.xlsx", &steep.xlsx()).value()["submission"]
        .as_i64()
        .unwrap();
    let post = |token: &str, path: &str, body: &str| {
        let cookie = format!("zonestat_session={token}");
        p.request(
            "POST",
            path,
            &[
                ("Content-Type", "application/x-www-form-urlencoded"),
                ("Cookie", &cookie),
                ("Sec-Fetch-Site", "same-origin"),
            ],
            body,
        )
    };
    let back = format!("/submissions/{id}");
    // The zone explains its warning from its page; the office accepts it there.
    let a = post(
        &hz,
        &format!("/submissions/{id}/explanations"),
        "rule=growth.extreme&cell=E7&text=%E6%96%B0%E9%A1%B9%E7%9B%AE%E6%8A%95%E4%BA%A7",
    );
    assert_eq!((a.status, a.header("location")), (303, Some(back.as_str())));
    let theirs = page(&p, &office, &back);
    assert!(theirs.body.contains("新项目投产"), "{}", theirs.body);
    let eid = p
        .json(
            "GET",
            &format!("/api/v1/submissions/{id}"),
            Some(&office),
            Value::Null,
        )
        .value()["explanations"][0]["id"]
        .as_i64()
        .unwrap();
    let a = post(
        &office,
        &format!("/submissions/{id}/explanations/{eid}/accept"),
        "",
    );
    assert_eq!(a.status, 303);
    assert!(page(&p, &hz, &back).body.contains("统计科已认可"));
    // A return without a reason is refused on the page, with the reason why.
    let a = post(&office, &format!("/submissions/{id}/return"), "reason=");
    assert_eq!(a.status, 400);
    assert!(a.body.contains("退回时请写明原因"), "{}", a.body);
    let a = post(&hz, &format!("/submissions/{id}/approve"), "");
    assert_eq!(a.status, 403);
    let a = post(&office, &format!("/submissions/{id}/approve"), "");
    assert_eq!((a.status, a.header("location")), (303, Some(back.as_str())));
    assert!(page(&p, &hz, &back).body.contains("已审核通过（已锁定）"));
    let a = post(
        &office,
        &format!("/submissions/{id}/unlock"),
        "reason=%E6%9B%B4%E6%AD%A3",
    );
    assert_eq!(a.status, 303);
    // A cross-site form post is refused before it reaches the office's forms.
    let cookie = format!("zonestat_session={office}");
    let a = p.request(
        "POST",
        &format!("/submissions/{id}/approve"),
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &cookie),
            ("Sec-Fetch-Site", "cross-site"),
        ],
        "",
    );
    assert_eq!(a.status, 403);
    assert_eq!(
        cell(&p, &office, "2020-06", "HZ")["review"],
        Value::Null,
        "unlocked, and the cross-site approval did nothing"
    );
}

#[test]
fn reminders_go_out_by_themselves_before_the_deadline_once_a_period() {
    let smtp = Smtp::start();
    let mut p = Portal::unstarted();
    p.mail_to(&smtp);
    let toml = p.dir.path().join("zonestat.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n[serve]\nremind_days_before = 3\n")).unwrap();
    p.start();
    let office = p.ready("office1", "office", None, "Office-Pass-2020");
    p.ready_at(
        "nx1",
        "zone",
        Some("NX"),
        "Nanxun-Lake-2020",
        "nx@example.com",
    );
    // A deadline the day after tomorrow (Beijing time).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (y, m, d) = zonestat::model::civil_date((now + 8 * 3600) / 86_400 + 2);
    let deadline = format!("{y:04}-{m:02}-{d:02}");
    let open = json!({"period": "2020-07", "deadline": deadline});
    assert_eq!(
        p.json("POST", "/api/v1/periods", Some(&office), open)
            .status,
        201
    );
    // The check runs when the portal starts (and every hour).
    p.stop();
    p.start();
    let started = std::time::Instant::now();
    while smtp.recipients().is_empty() && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(smtp.recipients(), ["nx@example.com"]);
    // The audit line follows the end of the mail's conversation.
    let sent = |rows: &[Value]| {
        rows.iter()
            .any(|r| r["user"] == "门户自动催报" && r["outcome"] == "sent")
    };
    let mut rows = audit_rows(&p, &office, "reminder");
    while !sent(&rows) && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(100));
        rows = audit_rows(&p, &office, "reminder");
    }
    assert!(sent(&rows), "{rows:?}");
    // Started again: nothing is sent twice.
    p.stop();
    p.start();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(smtp.recipients(), ["nx@example.com"]);
    let auto: Vec<Value> = audit_rows(&p, &office, "reminder_auto");
    assert_eq!(auto.len(), 2, "started and done, once: {auto:?}");
}

/// A self-signed certificate for `localhost`, written into `dir` as
/// `portal.crt` and `portal.key`; returns a client configuration that trusts it.
fn self_signed(dir: &std::path::Path) -> Arc<rustls::ClientConfig> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("portal.crt"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("portal.key"), made.signing_key.serialize_pem()).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

#[test]
fn with_a_certificate_the_portal_speaks_https_and_its_cookies_are_secure() {
    let mut p = Portal::unstarted();
    let client = self_signed(&p.dir.path().join("证书"));
    std::fs::write(
        p.dir.path().join("zonestat.toml"),
        "[serve]\ntls_cert = \"证书/portal.crt\"\ntls_key = \"证书/portal.key\"\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .current_dir(p.dir.path())
        .args(["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("https://127.0.0.1:"), "{line}");
    p.port = line
        .rsplit_once("127.0.0.1:")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|x| x.parse().ok())
        .unwrap();
    p.child = Some(child);
    // Plain http to the https port gets no page, and the server goes on.
    let plain = {
        let mut s = TcpStream::connect(("127.0.0.1", p.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        s.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        String::from_utf8_lossy(&raw).into_owned()
    };
    assert!(
        !plain.contains("HTTP/1.1") && !plain.contains("登录"),
        "{plain}"
    );
    p.tls = Some(client);
    let page = p.request("GET", "/login", &[], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("账户名"), "{}", page.body);
    let first = p.user("hz1", "zone", Some("HZ"));
    let a = p.json(
        "POST",
        "/api/v1/login",
        None,
        json!({"user": "hz1", "password": first}),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a.header("set-cookie").unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    p.stop();
}

#[test]
fn a_missing_or_bad_certificate_stops_the_portal_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("证书");
    self_signed(&certs);
    let try_serve = |settings: &str| {
        std::fs::write(dir.path().join("zonestat.toml"), settings).unwrap();
        let out = Command::new(BIN)
            .current_dir(dir.path())
            .args(["serve", "--port", "0"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) =
        try_serve("[serve]\ntls_cert = \"证书/没有.crt\"\ntls_key = \"证书/portal.key\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("没有.crt") && err.contains("tls_cert"),
        "{err}"
    );
    std::fs::write(certs.join("坏.crt"), "not a certificate").unwrap();
    let (code, err) =
        try_serve("[serve]\ntls_cert = \"证书/坏.crt\"\ntls_key = \"证书/portal.key\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("坏.crt") && err.contains("证书"), "{err}");
    // A key that is not the certificate's.
    let other = tempfile::tempdir().unwrap();
    self_signed(other.path());
    std::fs::copy(other.path().join("portal.key"), certs.join("别的.key")).unwrap();
    let (code, err) =
        try_serve("[serve]\ntls_cert = \"证书/portal.crt\"\ntls_key = \"证书/别的.key\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("别的.key"), "{err}");
    let (code, err) = try_serve("[serve]\ntls_cert = \"证书/portal.crt\"\n");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("tls_key"), "{err}");
}

#[test]
fn a_form_filed_from_the_inbox_shows_in_the_grid_with_its_source_and_time() {
    let p = Portal::new();
    let office = p.open("2020-06");
    let hz = p.ready("hz1", "zone", Some("HZ"), "Taihu-Lake-2020");
    // A mail attachment saved into the inbox, filed by `zonestat intake`
    // while the server runs.
    let inbox = p.dir.path().join("收件箱");
    std::fs::create_dir_all(&inbox).unwrap();
    let saved = inbox.join("附件-湖州开发区6月.xlsx");
    std::fs::write(&saved, common::hz().xlsx()).unwrap();
    let settled = std::time::SystemTime::now() - Duration::from_secs(600);
    std::fs::File::options()
        .write(true)
        .open(&saved)
        .unwrap()
        .set_modified(settled)
        .unwrap();
    let out = Command::new(BIN)
        .current_dir(p.dir.path())
        .arg("intake")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!saved.exists(), "filed and taken out of the inbox");
    for token in [&office, &hz] {
        let grid = p
            .json(
                "GET",
                "/api/v1/status?period=2020-06",
                Some(token),
                Value::Null,
            )
            .value();
        let cell = grid["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["zone"] == "HZ" && c["form"] == "湖开统1表")
            .unwrap_or_else(|| panic!("{grid}"))
            .clone();
        assert_eq!(cell["source"], "inbox", "{cell}");
        assert_eq!(cell["submission"], Value::Null, "{cell}");
        assert_eq!(
            cell["filed_as"],
            "2020-06/湖开统1表-湖州开发区-2020-06.xlsx"
        );
        let at = cell["filed_at"].as_str().unwrap();
        assert!(at.len() == 20 && at.ends_with('Z'), "{cell}");
        // Another zone's forms, filed before the portal kept a log, have no source.
        if token == &office {
            let nx = grid["cells"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["zone"] == "NX")
                .unwrap()
                .clone();
            assert_eq!(nx["source"], Value::Null, "{nx}");
        }
        let cookie = format!("zonestat_session={token}");
        let home = p.send("GET", "/?period=2020-06", &[("Cookie", &cookie)], b"");
        assert_eq!(home.status, 200);
        assert!(home.body.contains("邮件（收件箱）"), "{}", home.body);
        assert!(
            home.body.contains("附件-湖州开发区6月.xlsx"),
            "{}",
            home.body
        );
    }
    // Nothing was written to the portal's records: the zone has no uploads.
    let mine = p
        .json(
            "GET",
            "/api/v1/submissions?period=2020-06",
            Some(&hz),
            Value::Null,
        )
        .value();
    assert_eq!(mine, json!([]));
}

#[test]
fn many_uploads_at_once_each_get_their_verdict_and_each_form_is_filed_once() {
    let p = Portal::new();
    p.open("2020-07");
    // The five zones (by the names they write in 填报单位), each its own account.
    let zones = [
        ("HZ", "湖州经济技术开发区", "湖州开发区"),
        ("CX", "长兴经济开发区", "长兴开发区"),
        ("WX", "吴兴开发区", "吴兴开发区"),
        ("NX", "南浔经济开发区", "南浔开发区"),
        ("AJ", "安吉开发区", "安吉开发区"),
    ];
    // (an account's uploads are read one at a time: each upload of the
    // burst comes from its own account, five a zone)
    let tokens: Vec<Vec<String>> = zones
        .iter()
        .map(|(code, _, _)| {
            (0..5)
                .map(|k| {
                    p.ready(
                        &format!("{code}-{k}"),
                        "zone",
                        Some(code),
                        "Many-Uploads-2020",
                    )
                })
                .collect()
        })
        .collect();
    // Each zone's form four times (the same bytes: a workbook written again
    // a second later would be a newer version), and three hostile files, all at once.
    let forms: Vec<Vec<u8>> = zones
        .iter()
        .map(|(_, reporter, _)| common::form1(reporter, "2020年1-7月").xlsx())
        .collect();
    let mut jobs: Vec<(usize, usize, String, Vec<u8>, bool)> = Vec::new();
    for round in 0..4 {
        for (i, (_, reporter, _)) in zones.iter().enumerate() {
            jobs.push((
                i,
                round,
                format!("{reporter}7月-{round}.xlsx"),
                forms[i].clone(),
                false,
            ));
        }
    }
    let hostile = common::fixtures().join("hostile");
    for (i, name) in ["zip-bomb.xlsx", "random-bytes.xlsx", "truncated.xlsx"]
        .iter()
        .enumerate()
    {
        let bytes = std::fs::read(hostile.join(name)).unwrap();
        jobs.insert(i * 7, (i, 4, name.to_string(), bytes, true));
    }
    let barrier = std::sync::Barrier::new(jobs.len());
    let answers: Vec<(usize, bool, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(zone, account, name, bytes, bad)| {
                let (p, tokens, barrier) = (&p, &tokens, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let a = p.upload(&tokens[*zone][*account], name, bytes);
                    assert_eq!(a.status, 200, "{name}: {}", a.body);
                    (*zone, *bad, a.value())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers.len(), 23);
    for (zone, bad, v) in &answers {
        if *bad {
            assert_eq!(v["status"], "refused", "{v}");
        } else {
            assert_eq!(v["status"], "accepted", "{v}");
            assert_eq!(v["zone"], zones[*zone].0, "{v}");
        }
    }
    // The archive holds each zone's form once, under its canonical name.
    let july = p.data().join("2020-07");
    let expected: Vec<String> = {
        let mut v: Vec<String> = zones
            .iter()
            .map(|(_, _, short)| format!("湖开统1表-{short}-2020-07.xlsx"))
            .collect();
        v.sort();
        v
    };
    let filed: Vec<String> = files_in(&july)
        .into_iter()
        .filter(|f| f.ends_with(".xlsx"))
        .collect();
    assert_eq!(filed, expected);
    assert!(files_in(&july.join("_superseded")).is_empty());
    let log = zonestat::archive::log::read(&p.data().join("intake.log"));
    for (code, _, _) in zones {
        let actions: Vec<&str> = log
            .records
            .iter()
            .filter(|r| r["zone"] == code && r["period"] == "2020-07")
            .filter_map(|r| r["action"].as_str())
            .collect();
        assert_eq!(
            actions.iter().filter(|a| **a == "filed").count(),
            1,
            "{code}: {actions:?}"
        );
        assert!(
            actions.iter().all(|a| matches!(*a, "filed" | "duplicate")),
            "{code}: {actions:?}"
        );
    }
    // Every upload is on record: 20 accepted, 3 refused.
    let office = p.ready("office-2", "office", None, "Office-Pass-2021");
    let all = p
        .json(
            "GET",
            "/api/v1/submissions?period=2020-07",
            Some(&office),
            Value::Null,
        )
        .value();
    let accepted = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "accepted")
        .count();
    assert_eq!(accepted, 20, "{all}");
}
