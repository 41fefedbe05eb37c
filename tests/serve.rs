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
        let mut cmd = Command::new(BIN);
        cmd.current_dir(self.dir.path())
            .args(["user", "add", name, "--role", role]);
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
        let first = self.user(name, role, zone);
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
        Answer {
            status,
            headers,
            body: body.to_string(),
        }
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
    let a = p.json("GET", "/api/v1/periods", Some(&token), Value::Null);
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
    assert_eq!(
        p.json("GET", "/api/v1/periods", Some(&token), Value::Null)
            .status,
        401
    );
    assert_eq!(
        p.json("GET", "/api/v1/periods", Some(&fresh), Value::Null)
            .status,
        200
    );
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
    let log = p.json("GET", "/api/v1/audit", Some(&office), Value::Null);
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
    assert_eq!(
        p.json("GET", "/api/v1/audit", Some(&hz), Value::Null)
            .status,
        403
    );
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
    let periods = p.json("GET", "/api/v1/periods", Some(&office), Value::Null);
    assert_eq!(periods.status, 200, "the session outlives the restart");
    assert_eq!(periods.value()[0]["period"], "2020-12");
    let a = p.json("POST", "/api/v1/logout", Some(&office), Value::Null);
    assert_eq!(a.status, 204);
    assert_eq!(
        p.json("GET", "/api/v1/periods", Some(&office), Value::Null)
            .status,
        401
    );
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
    assert_eq!(
        p.json("GET", "/api/v1/periods", Some(&token), Value::Null)
            .status,
        401
    );
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
    let tokens: Vec<String> = zones
        .iter()
        .map(|(code, _, _)| {
            p.ready(
                &format!("{code}-1"),
                "zone",
                Some(code),
                "Many-Uploads-2020",
            )
        })
        .collect();
    // Each zone's form four times, and three hostile files, all at once.
    let mut jobs: Vec<(usize, String, Vec<u8>, bool)> = Vec::new();
    for round in 0..4 {
        for (i, (_, reporter, _)) in zones.iter().enumerate() {
            let bytes = common::form1(reporter, "2020年1-7月").xlsx();
            jobs.push((i, format!("{reporter}7月-{round}.xlsx"), bytes, false));
        }
    }
    let hostile = common::fixtures().join("hostile");
    for (i, name) in ["zip-bomb.xlsx", "random-bytes.xlsx", "truncated.xlsx"]
        .iter()
        .enumerate()
    {
        let bytes = std::fs::read(hostile.join(name)).unwrap();
        jobs.insert(i * 7, (i, name.to_string(), bytes, true));
    }
    let barrier = std::sync::Barrier::new(jobs.len());
    let answers: Vec<(usize, bool, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|(zone, name, bytes, bad)| {
                let (p, tokens, barrier) = (&p, &tokens, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let a = p.upload(&tokens[*zone], name, bytes);
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
