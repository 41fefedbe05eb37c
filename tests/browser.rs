//! The portal in a real browser: Debian's chromium driven through
//! chromedriver (both installed by `.ci/run`). A zone logs in, changes its
//! first password, uploads a form with an error, sees the error at its cell,
//! downloads the feedback, uploads the corrected form and sees it accepted;
//! the office sees the grid change. And the office's month: it opens a period
//! on its page, a zone uploads late, the office returns the form with a
//! reason, the zone sees it and uploads again, the office approves,
//! consolidates and downloads the workbook. With `ZONESTAT_SCREENSHOTS=DIR`
//! the main pages are saved there as PNG (the README's pictures).

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use thirtyfour::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_zonestat");

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tool(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        let found = Command::new("which").arg(n).output().ok()?;
        found
            .status
            .success()
            .then(|| String::from_utf8_lossy(&found.stdout).trim().to_string())
    })
}

fn run(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn first_password(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("初始密码："))
        .unwrap()
        .to_string()
}

async fn shot(driver: &WebDriver, name: &str) {
    if let Some(dir) = std::env::var_os("ZONESTAT_SCREENSHOTS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        driver.screenshot(&dir.join(name)).await.unwrap();
    }
}

async fn login(driver: &WebDriver, base: &str, user: &str, password: &str) {
    driver.goto(format!("{base}/login")).await.unwrap();
    type_into(driver, By::Name("user"), user).await;
    type_into(driver, By::Name("password"), password).await;
    click(driver, "form.box button").await;
}

async fn set_password(driver: &WebDriver, old: &str, new: &str) {
    for (field, value) in [("old", old), ("new", new), ("again", new)] {
        type_into(driver, By::Name(field), value).await;
    }
    click(driver, "form.box button").await;
}

async fn upload(driver: &WebDriver, file: &Path) {
    type_into(
        driver,
        By::Css("input[type=file]"),
        file.display().to_string(),
    )
    .await;
    click(driver, "#upload button").await;
}

/// Waits (up to 20 s) until the page's path is `path`.
async fn wait_path(driver: &WebDriver, path: &str) {
    let started = Instant::now();
    loop {
        let now = driver.current_url().await.unwrap();
        if now.path() == path {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still at {now}, waiting for {path}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (up to 20 s) until the page's path starts with `prefix`.
async fn wait_path_prefix(driver: &WebDriver, prefix: &str) {
    let started = Instant::now();
    loop {
        let now = driver.current_url().await.unwrap();
        if now.path().starts_with(prefix) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still at {now}, waiting for {prefix}…"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn body_text(driver: &WebDriver) -> String {
    driver
        .find(By::Tag("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A work folder with the sample data, the portal serving it and a headless
/// chromium driven by chromedriver, downloading into `downloads`.
struct Browser {
    work: tempfile::TempDir,
    base: String,
    downloads: PathBuf,
    driver: WebDriver,
    _server: Killed,
    _chromedriver: Killed,
}

impl Browser {
    async fn finish(self) {
        self.driver.quit().await.unwrap();
    }
}

/// The browser and the portal, or None when chromium is not installed
/// (outside CI).
async fn browser() -> Option<Browser> {
    let (Some(chromium), Some(chromedriver)) = (
        tool(&["chromium", "chromium-browser"]),
        tool(&["chromedriver"]),
    ) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have chromium and chromedriver: .ci/run installs them"
        );
        eprintln!("skipped: chromium or chromedriver is not installed; .ci/run installs them");
        return None;
    };
    let work = tempfile::tempdir().unwrap();
    for p in common::PERIODS {
        let to = work.path().join("数据").join(p);
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(common::data(p)).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    let port = free_port();
    let mut server = Killed(
        Command::new(BIN)
            .current_dir(work.path())
            .args(["serve", "--port", &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(server.0.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let driver_port = free_port();
    let chromedriver = Killed(
        Command::new(&chromedriver)
            .arg(format!("--port={driver_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(&chromium).unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
        "--lang=zh-CN",
    ] {
        caps.add_arg(arg).unwrap();
    }
    let downloads = work.path().join("下载");
    std::fs::create_dir_all(&downloads).unwrap();
    caps.add_experimental_option(
        "prefs",
        serde_json::json!({"download.default_directory": downloads.display().to_string(),
                           "download.prompt_for_download": false}),
    )
    .unwrap();
    let started = Instant::now();
    let driver = loop {
        match WebDriver::new(format!("http://127.0.0.1:{driver_port}"), caps.clone()).await {
            Ok(d) => break d,
            Err(e) if started.elapsed() < Duration::from_secs(20) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("chromedriver did not start: {e}"),
        }
    };
    Some(Browser {
        work,
        base,
        downloads,
        driver,
        _server: server,
        _chromedriver: chromedriver,
    })
}

/// Waits (up to 20 s) for the first downloaded `.xlsx` in `dir`.
async fn downloaded(dir: &Path) -> PathBuf {
    let started = Instant::now();
    loop {
        let done: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "xlsx"))
            .collect();
        if let Some(p) = done.into_iter().next() {
            return p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "nothing downloaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (up to 20 s) until the page says `needle` (a form that comes back
/// to the same page changes no path); the page's text.
async fn wait_text(driver: &WebDriver, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let text = match driver.find(By::Tag("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return text;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the page never said “{needle}”: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(driver: &WebDriver, css: &str) {
    driver
        .find(By::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Types `text` into the element `by` finds.
async fn type_into(driver: &WebDriver, by: By, text: impl Into<String>) {
    let field = driver.find(by).await.unwrap();
    field.send_keys(text.into()).await.unwrap();
}

async fn logout(driver: &WebDriver) {
    click(driver, "header button").await;
    wait_path(driver, "/login").await;
}

/// The office's and 湖州's accounts, made with `zonestat user add`: their
/// first passwords.
fn office_and_zone(work: &std::path::Path) -> (String, String) {
    let office = first_password(&run(work, &["user", "add", "office1", "--role", "office"]));
    let zone = first_password(&run(
        work,
        &["user", "add", "hz1", "--role", "zone", "--zone", "HZ"],
    ));
    (office, zone)
}

/// Logs in with a first password and changes it, ending on the home page.
async fn first_login(driver: &WebDriver, base: &str, user: &str, first: &str, new: &str) {
    login(driver, base, user, first).await;
    wait_path(driver, "/password").await;
    set_password(driver, first, new).await;
    wait_path(driver, "/").await;
}

/// Logs in with a changed password, ending on the home page.
async fn login_home(driver: &WebDriver, base: &str, user: &str, password: &str) {
    login(driver, base, user, password).await;
    wait_path(driver, "/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_corrects_its_form_in_the_browser_and_the_office_sees_it() {
    let Some(b) = browser().await else { return };
    let (work, base, downloads, driver) = (&b.work, &b.base, &b.downloads, &b.driver);
    let (office_pw, zone_pw) = office_and_zone(work.path());

    // The office opens the period in the API (its page comes with the office's issue).
    first_login(driver, base, "office1", &office_pw, "Office-Pass-2020").await;
    let opened: serde_json::Value = driver
        .execute(
            r#"return fetch('/api/v1/periods', {method: 'POST', headers: {'Content-Type': 'application/json'},
                 body: JSON.stringify({period: '2020-06', deadline: '2099-07-10'})}).then(r => r.status);"#,
            Vec::new(),
        )
        .await
        .unwrap()
        .json()
        .clone();
    assert_eq!(opened, 201);
    driver.goto(format!("{base}/")).await.unwrap();
    shot(driver, "portal-office.png").await;
    logout(driver).await;

    // The zone logs in and must change its first password.
    login(driver, base, "hz1", &zone_pw).await;
    wait_path(driver, "/password").await;
    shot(driver, "portal-password.png").await;
    set_password(driver, &zone_pw, "Taihu-Lake-2020").await;
    wait_path(driver, "/").await;
    assert!(body_text(driver).await.contains("湖州开发区报送情况"));

    // A form with an error: the verdict names the cell.
    let bad = work.path().join("湖州6月.xlsx");
    std::fs::write(&bad, common::hz().set("E12", common::n(-5.0)).xlsx()).unwrap();
    upload(driver, &bad).await;
    wait_path_prefix(driver, "/submissions/").await;
    let text = body_text(driver).await;
    assert!(text.contains("有错误"), "{text}");
    assert!(text.contains("湖开统1表!E12"), "{text}");
    assert!(text.contains("-5"), "{text}");
    shot(driver, "portal-rejected.png").await;
    click(driver, "#feedback").await;
    let feedback = downloaded(downloads).await;
    let name = feedback.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("反馈-湖州开发区"), "{name}");

    // The corrected form is accepted.
    driver.goto(format!("{base}/")).await.unwrap();
    let good = work.path().join("湖州6月（更正）.xlsx");
    std::fs::write(&good, common::hz().xlsx()).unwrap();
    upload(driver, &good).await;
    wait_path_prefix(driver, "/submissions/").await;
    let text = body_text(driver).await;
    assert!(text.contains("已通过检查并归档"), "{text}");
    shot(driver, "portal-accepted.png").await;
    logout(driver).await;

    // The office's grid shows the upload, linked to its record.
    login_home(driver, base, "office1", "Office-Pass-2020").await;
    shot(driver, "portal-office-after.png").await;
    let cell = driver
        .find(By::Css("table.grid td.accepted a"))
        .await
        .unwrap();
    let row = body_text(driver).await;
    assert!(row.contains("hz1"), "{row}");
    cell.click().await.unwrap();
    wait_path_prefix(driver, "/submissions/").await;
    assert!(body_text(driver).await.contains("湖州6月（更正）.xlsx"));
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_office_runs_a_month_in_the_browser() {
    let Some(b) = browser().await else { return };
    let (work, base, downloads, driver) = (&b.work, &b.base, &b.downloads, &b.driver);
    let (office_pw, zone_pw) = office_and_zone(work.path());
    // The office opens July on its page, with a deadline already past.
    first_login(driver, base, "office1", &office_pw, "Office-Pass-2020").await;
    type_into(
        driver,
        By::Css("#open-period input[name=period]"),
        "2020-07",
    )
    .await;
    // A date field's typing depends on the locale: set its value.
    driver
        .execute(
            "document.querySelector('#open-period input[name=deadline]').value = '2020-08-10';",
            Vec::new(),
        )
        .await
        .unwrap();
    click(driver, "#open-period button").await;
    let text = wait_text(driver, "截止日期 2020-08-10").await;
    assert!(text.contains("未报送（逾期）"), "{text}");
    logout(driver).await;

    // 湖州 uploads late.
    first_login(driver, base, "hz1", &zone_pw, "Taihu-Lake-2020").await;
    let july = work.path().join("湖州7月.xlsx");
    std::fs::write(
        &july,
        common::form1("湖州经济技术开发区", "2020年1-7月").xlsx(),
    )
    .unwrap();
    upload(driver, &july).await;
    wait_path_prefix(driver, "/submissions/").await;
    let text = body_text(driver).await;
    assert!(
        text.contains("已通过检查并归档") && text.contains("逾期"),
        "{text}"
    );
    logout(driver).await;

    // The office returns it with a reason.
    login_home(driver, base, "office1", "Office-Pass-2020").await;
    let text = body_text(driver).await;
    assert!(text.contains("已报送（待审核）（逾期）"), "{text}");
    click(driver, "table.grid td.accepted a").await;
    wait_path_prefix(driver, "/submissions/").await;
    type_into(
        driver,
        By::Css("form[action$='/return'] input[name=reason]"),
        "营业收入与快报不符，请核实后重报",
    )
    .await;
    click(driver, "#return").await;
    let text = wait_text(driver, "已退回：").await;
    assert!(text.contains("营业收入与快报不符"), "{text}");
    shot(driver, "portal-office-review.png").await;
    logout(driver).await;

    // 湖州 sees the reason and uploads again.
    login_home(driver, base, "hz1", "Taihu-Lake-2020").await;
    let text = body_text(driver).await;
    assert!(
        text.contains("统计科退回了") && text.contains("营业收入与快报不符"),
        "{text}"
    );
    let again = work.path().join("湖州7月（重报）.xlsx");
    std::fs::write(
        &again,
        common::form1("湖州经济技术开发区", "2020年1-7月").xlsx(),
    )
    .unwrap();
    upload(driver, &again).await;
    wait_path_prefix(driver, "/submissions/").await;
    assert!(body_text(driver).await.contains("已通过检查并归档"));
    logout(driver).await;

    // The office approves, consolidates and downloads the workbook.
    login_home(driver, base, "office1", "Office-Pass-2020").await;
    click(driver, "table.grid td.accepted a").await;
    wait_path_prefix(driver, "/submissions/").await;
    assert!(body_text(driver).await.contains("湖州7月（重报）.xlsx"));
    click(driver, "#approve").await;
    wait_text(driver, "已审核通过（已锁定）").await;
    driver
        .goto(format!("{base}/?period=2020-07"))
        .await
        .unwrap();
    assert!(body_text(driver).await.contains("已审核"));
    click(driver, "#consolidate").await;
    wait_text(driver, "数据不完整，考核结果仅供参考").await;
    shot(driver, "portal-office-consolidated.png").await;
    click(driver, "#workbook").await;
    let book = downloaded(downloads).await;
    assert_eq!(
        book.file_name().unwrap().to_string_lossy(),
        "开发区考核汇总表-2020年1-7月.xlsx"
    );
    // The dashboard draws its charts without anything from outside.
    click(driver, "#dashboard").await;
    wait_text(driver, "报送完整性").await;
    let charts = driver.find_all(By::Css("svg.chart")).await.unwrap();
    assert!(charts.len() >= 4, "{} charts", charts.len());
    shot(driver, "portal-dashboard.png").await;
    b.finish().await;
}
