//! The portal under load (issue 17's goals): `zonestat serve` on a generated
//! catalogue of N zones, one account per zone, the period opened, then
//!
//! 1. one zone's real form uploaded SEQ times, one after another, each timed
//!    from connecting to the verdict's last byte (goal: p95 under 100 ms);
//! 2. every zone's form uploaded at once, each by its own zone's account
//!    (goal: all accepted, p95 under 1 s, the server and its reader workers
//!    together under 300 MB);
//! 3. the same with hostile files (`tests/fixtures/hostile/`) among them,
//!    uploaded by second accounts of the first zones (an account's uploads
//!    are read one at a time): each must be refused or
//!    rejected, every valid form still accepted.
//!
//! Between the phases the period folder is emptied, so every valid upload of
//! a burst is a new filing. Memory is sampled from `/proc` every millisecond
//! for the server and its descendants, as `bench/peak.py` does: the largest
//! sum of resident sizes in one sample, and the sum of each process's own
//! peak (`VmHWM`), an upper bound. Loopback only; every count is bounded.
//! Not part of the tool; `bench/portal.sh` builds and runs it.
//!
//! ```sh
//! cargo run --release --example generate -- --zones 100 --seed 1 --period 2020-06 --out /tmp/zsp
//! target/release/examples/upload_load target/release/zonestat /tmp/zsp tests/fixtures/hostile
//! ```
//! Settings (environment): SEQ=50 sequential uploads, HOSTILE=10 hostile
//! files (the first of the list below), HOSTILE_FILES=a.xlsx,b.ods to name
//! them instead, PERIOD=2020-06, PEAKS=1 to print each process's peak.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The hostile files of the third phase, in this order (the first HOSTILE).
const HOSTILE: [&str; 12] = [
    "zip-bomb.xlsx",
    "random-bytes.xlsx",
    "truncated.xlsx",
    "ods-unclosed-table.ods",
    "deep-nesting.xlsx",
    "lying-size.xlsx",
    "styles-amplification.xlsx",
    "xls-sector-loop.xls",
    "shared-string-per-cell.xlsx",
    "sst-unique-count.xlsx",
    "ods-text-s-bomb.ods",
    "zip-many-entries.xlsx",
];

const PASSWORD: &str = "Bench-Portal-2020";

struct Server {
    child: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn value(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn session(&self) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let v = l
                .strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))?;
            let token = v.strip_prefix("zonestat_session=")?.split(';').next()?;
            (!token.is_empty()).then(|| token.to_string())
        })
    }
}

fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Answer {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}

fn post_json(port: u16, path: &str, token: Option<&str>, body: &Value) -> Answer {
    let cookie = token.map(|t| format!("zonestat_session={t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(c) = &cookie {
        headers.push(("Cookie", c));
    }
    send(port, "POST", path, &headers, body.to_string().as_bytes())
}

fn upload(port: u16, token: &str, name: &str, bytes: &[u8]) -> Answer {
    let boundary = "zonestat-bench-boundary-51c2";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let cookie = format!("zonestat_session={token}");
    let ctype = format!("multipart/form-data; boundary={boundary}");
    send(
        port,
        "POST",
        "/api/v1/uploads",
        &[("Cookie", &cookie), ("Content-Type", &ctype)],
        &body,
    )
}

fn zonestat(bin: &Path, catalogue: &Path, args: &[&str]) -> String {
    let out = Command::new(bin)
        .arg("--catalogue")
        .arg(catalogue)
        .args(args)
        .output()
        .expect("zonestat");
    assert!(
        out.status.success(),
        "zonestat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Makes an account and logs it in past its first password; the session.
fn account(bin: &Path, cat: &Path, data: &Path, port: u16, name: &str, role: &[&str]) -> String {
    let mut args = vec!["user", "--data", data.to_str().unwrap(), "add", name];
    args.extend_from_slice(role);
    let text = zonestat(bin, cat, &args);
    let first = text
        .lines()
        .find_map(|l| l.strip_prefix("初始密码："))
        .expect("a first password")
        .to_string();
    let a = post_json(
        port,
        "/api/v1/login",
        None,
        &json!({"user": name, "password": first}),
    );
    assert_eq!(a.status, 200, "login {name}: {}", a.body);
    let a = post_json(
        port,
        "/api/v1/password",
        a.session().as_deref(),
        &json!({"old": first, "new": PASSWORD}),
    );
    assert_eq!(a.status, 204, "password {name}: {}", a.body);
    a.session().expect("a new session")
}

/// The largest sum of resident sizes, the sum of the processes' own peaks,
/// and each process's peak (KB).
type Peaks = (u64, u64, Vec<(u32, u64)>);

/// Peak memory of a process and its descendants, sampled until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<Peaks>,
}

fn kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| {
            v.trim_start_matches(':')
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.filter_map(Result::ok) {
                if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                    tree.extend(c.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
                }
            }
        }
        i += 1;
    }
    tree
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let (mut top, mut hwm) = (0u64, BTreeMap::<u32, u64>::new());
            while !flag.load(Ordering::Relaxed) {
                let mut total = 0;
                for p in descendants(pid) {
                    total += kb(p, "VmRSS").unwrap_or(0);
                    if let Some(h) = kb(p, "VmHWM") {
                        hwm.insert(p, h);
                    }
                }
                top = top.max(total);
                std::thread::sleep(Duration::from_millis(1));
            }
            (top, hwm.values().sum(), hwm.into_iter().collect())
        });
        Sampler { stop, handle }
    }

    /// (simultaneous, bound) in MB; with `PEAKS=1` in the environment
    /// each process's own peak is printed too.
    fn finish(self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        let (top, bound, each) = self.handle.join().unwrap();
        if std::env::var_os("PEAKS").is_some() {
            let each: Vec<String> = each
                .iter()
                .map(|(p, h)| format!("{p}: {:.0} MB", *h as f64 / 1024.0))
                .collect();
            eprintln!("peaks: {}", each.join(", "));
        }
        (top as f64 / 1024.0, bound as f64 / 1024.0)
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

struct Outcome {
    ms: f64,
    status: String,
    hostile: bool,
}

/// Every job at once, one thread each, released together.
fn burst(port: u16, jobs: Vec<(String, String, Vec<u8>, bool)>) -> (Vec<Outcome>, f64) {
    let barrier = Arc::new(Barrier::new(jobs.len() + 1));
    let out = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = jobs
        .into_iter()
        .map(|(token, name, bytes, hostile)| {
            let (barrier, out) = (barrier.clone(), out.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let t = Instant::now();
                let a = upload(port, &token, &name, &bytes);
                let ms = t.elapsed().as_secs_f64() * 1e3;
                let status = if a.status == 200 {
                    a.value()["status"].as_str().unwrap_or("?").to_string()
                } else {
                    format!("HTTP {}", a.status)
                };
                out.lock().unwrap().push(Outcome {
                    ms,
                    status,
                    hostile,
                });
            })
        })
        .collect();
    barrier.wait();
    let t = Instant::now();
    for th in threads {
        th.join().unwrap();
    }
    let wall = t.elapsed().as_secs_f64();
    let v = std::mem::take(&mut *out.lock().unwrap());
    (v, wall)
}

fn summary(label: &str, outs: &[Outcome], wall: f64, mem: (f64, f64)) -> bool {
    let mut all: Vec<f64> = outs.iter().map(|o| o.ms).collect();
    all.sort_by(f64::total_cmp);
    let mut valid: Vec<f64> = outs.iter().filter(|o| !o.hostile).map(|o| o.ms).collect();
    valid.sort_by(f64::total_cmp);
    let wrong: Vec<String> = outs
        .iter()
        .filter(|o| {
            if o.hostile {
                !matches!(o.status.as_str(), "refused" | "rejected")
            } else {
                o.status != "accepted"
            }
        })
        .map(|o| o.status.clone())
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outs {
        *counts.entry(o.status.as_str()).or_default() += 1;
    }
    println!(
        "| {label} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {:.0} | {:.0} | {} |",
        outs.len(),
        percentile(&all, 50.0),
        percentile(&all, 95.0),
        percentile(&all, 100.0),
        percentile(&valid, 95.0),
        wall,
        mem.0,
        mem.1,
        counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !wrong.is_empty() {
        eprintln!("{label}: wrong answers: {wrong:?}");
    }
    wrong.is_empty()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [bin, generated, hostile_dir] = args.as_slice() else {
        eprintln!("usage: upload_load ZONESTAT_BINARY GENERATED_FOLDER HOSTILE_FOLDER");
        std::process::exit(2);
    };
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (seq, n_hostile) = (env("SEQ", 50), env("HOSTILE", 10).min(HOSTILE.len()));
    let period = std::env::var("PERIOD").unwrap_or_else(|_| "2020-06".into());
    let bin = std::fs::canonicalize(bin).expect("zonestat binary");
    let generated = PathBuf::from(generated);
    let cat_path = generated.join("plan.toml");
    zonestat::read::use_workers(&bin);
    let cat = zonestat::catalog::Catalogue::load(&cat_path).expect("catalogue");

    // The forms to upload: the generated period's files, by zone.
    let period_dir = generated.join("data").join(&period);
    let files = zonestat::folder::list_files(&period_dir).expect("period folder");
    let batch = zonestat::folder::check_files(&files, &|p| p.display().to_string(), None, &cat);
    let mut by_zone: BTreeMap<String, (String, Vec<u8>)> = BTreeMap::new();
    for (file, forms) in batch.by_file() {
        if let Some(z) = forms.first().and_then(|f| f.zone())
            && !by_zone.contains_key(z)
        {
            let path = PathBuf::from(&file.file);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            by_zone.insert(z.to_string(), (name, std::fs::read(&path).unwrap()));
        }
    }
    assert!(
        !by_zone.is_empty(),
        "no zone forms in {}",
        period_dir.display()
    );

    // The server's data folder: the generated history without this period.
    let work = tempfile::tempdir().expect("temp folder");
    let data = work.path().join("data");
    for entry in std::fs::read_dir(generated.join("data")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == period.as_str() || !entry.path().is_dir() {
            continue;
        }
        let to = data.join(entry.file_name());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(entry.path()).unwrap() {
            let f = f.unwrap();
            if f.path().is_file() {
                std::fs::copy(f.path(), to.join(f.file_name())).unwrap();
            }
        }
    }

    let mut child = Command::new(&bin)
        .current_dir(work.path())
        .arg("--catalogue")
        .arg(&cat_path)
        .args(["serve", "--port", "0", "--data"])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("zonestat serve");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line
        .rsplit_once("127.0.0.1:")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in “{line}”"));
    let server = Server { child };
    let pid = server.child.id();

    let t = Instant::now();
    let office = account(
        &bin,
        &cat_path,
        &data,
        port,
        "bench-office",
        &["--role", "office"],
    );
    let a = post_json(
        port,
        "/api/v1/periods",
        Some(&office),
        &json!({"period": period, "deadline": "2099-12-31"}),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    // One account per zone, made two at a time (Argon2 is slow by design).
    let codes: Vec<String> = by_zone.keys().cloned().collect();
    let tokens: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    std::thread::scope(|s| {
        for half in codes.chunks(codes.len().div_ceil(2)) {
            let (bin, cat_path, data, tokens) = (&bin, &cat_path, &data, tokens.clone());
            s.spawn(move || {
                for code in half {
                    let name = format!("bench-{code}");
                    let token = account(
                        bin,
                        cat_path,
                        data,
                        port,
                        &name,
                        &["--role", "zone", "--zone", code],
                    );
                    tokens.lock().unwrap().insert(code.clone(), token);
                }
            });
        }
    });
    let tokens = std::mem::take(&mut *tokens.lock().unwrap());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{} zones, {} accounts made in {:.1} s; load average {}",
        codes.len(),
        tokens.len() + 1,
        t.elapsed().as_secs_f64(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();
    println!(
        "| phase | uploads | p50 (ms) | p95 (ms) | max (ms) | p95 valid (ms) | wall (s) | peak, all processes (MB) | bound (MB) | answers |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    let mut ok = true;

    // 1. One form, one upload after another.
    let first = &codes[0];
    let (name, bytes) = &by_zone[first];
    let sampler = Sampler::start(pid);
    let t = Instant::now();
    let mut outs = Vec::new();
    for _ in 0..seq {
        let s = Instant::now();
        let a = upload(port, &tokens[first], name, bytes);
        outs.push(Outcome {
            ms: s.elapsed().as_secs_f64() * 1e3,
            status: a.value()["status"].as_str().unwrap_or("?").to_string(),
            hostile: false,
        });
    }
    let wall = t.elapsed().as_secs_f64();
    ok &= summary("sequential, one form", &outs, wall, sampler.finish());

    // 2. Every zone's form at once.
    let empty_period = || {
        let _ = std::fs::remove_dir_all(data.join(&period));
    };
    empty_period();
    let valid_jobs = || -> Vec<(String, String, Vec<u8>, bool)> {
        codes
            .iter()
            .map(|c| {
                let (n, b) = &by_zone[c];
                (tokens[c].clone(), n.clone(), b.clone(), false)
            })
            .collect()
    };
    let sampler = Sampler::start(pid);
    let (outs, wall) = burst(port, valid_jobs());
    ok &= summary(
        &format!("{} at once", codes.len()),
        &outs,
        wall,
        sampler.finish(),
    );

    // 3. The same with hostile files among them.
    empty_period();
    let mut jobs = valid_jobs();
    let named: Vec<String> = match std::env::var("HOSTILE_FILES") {
        Ok(list) => list.split(',').map(str::to_string).collect(),
        Err(_) => HOSTILE
            .iter()
            .take(n_hostile)
            .map(|h| h.to_string())
            .collect(),
    };
    let n_hostile = named.len();
    for (i, h) in named.iter().enumerate() {
        let bytes = std::fs::read(Path::new(hostile_dir).join(h)).expect("hostile file");
        let code = &codes[i % codes.len()];
        // A second account of the zone: an account's uploads are read one
        // at a time, and its first account is sending its valid form.
        let token = account(
            &bin,
            &cat_path,
            &data,
            port,
            &format!("bench-{code}-h{i}"),
            &["--role", "zone", "--zone", code],
        );
        jobs.insert(
            (i * jobs.len()) / n_hostile.max(1),
            (token, h.to_string(), bytes, true),
        );
    }
    let sampler = Sampler::start(pid);
    let (outs, wall) = burst(port, jobs);
    ok &= summary(
        &format!("{} at once + {n_hostile} hostile", codes.len()),
        &outs,
        wall,
        sampler.finish(),
    );

    // Each accepted form filed exactly once.
    let filed = zonestat::folder::list_files(&data.join(&period)).map_or(0, |f| f.len());
    println!();
    println!(
        "period folder after the last burst: {filed} files for {} zones",
        codes.len()
    );
    ok &= filed == codes.len();
    drop(server);
    if !ok {
        eprintln!("some answers were not as expected");
        std::process::exit(1);
    }
}
