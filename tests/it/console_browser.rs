//! The inbox console in a real headless Chromium, driven through
//! chromedriver (WebDriver): `examples/axum_inbox.rs` runs as processes on
//! a real PostgreSQL, a worker with `FAIL_IDS` leaves a SmarterWX referral
//! whose enquiry `notes` holds `<img src=x onerror=...>` dead, and the
//! browser, with the admin token as its HTTP Basic password, checks that
//! the page shows the counts and who waits for whom, that the detail
//! shows the notes as text and the `onerror` never runs, that the retry
//! button moves the delivery out of `dead` (seen through the API), and
//! that the page refreshes itself without a reload once a worker has done
//! it. Screenshots: `target/console-screenshot.png` (the list) and
//! `target/console-detail-screenshot.png`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`,
//! `chromium-driver`); without them it prints one skip line, and under
//! `CI=true` it fails.
#![cfg(all(feature = "axum", feature = "postgres"))]

use crate::common;
use crate::inbox_process::{Example, client, post_smartcomply, post_smarterwx};

use std::io::Write as _;
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::inbox::{batch_body, notification, smartcomply_body};
use common::postgres::{PgServer, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{Value, json};

const TOKEN: &str = "browser-admin-token";

/// The line printed when the test is skipped for want of a browser.
const SKIP_LINE: &str = "skipped: chromium or chromedriver not found (install them: apt-get install -y chromium chromium-driver); set CI=true to make this a failure";

/// What `onerror` would do, were the notes ever read as markup.
const HOSTILE_NOTES: &str = "<img src=x onerror=\"document.title='pwned';window.pwned=1\"> </script><script>window.pwned=2</script>";

/// `name` in `/usr/bin` or on `PATH`.
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(PathBuf::from("/usr/bin"))
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|file| file.is_file())
}

/// Chromium and chromedriver, or `None` after the skip line (a failure
/// under `CI=true`).
fn browser() -> Option<(PathBuf, PathBuf)> {
    if let (Some(chromium), Some(driver)) = (program("chromium"), program("chromedriver")) {
        return Some((chromium, driver));
    }
    if std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
        panic!(
            "chromium or chromedriver not found, and CI=true: \
             install them (apt-get install -y chromium chromium-driver)"
        );
    }
    let _ = writeln!(std::io::stderr(), "{SKIP_LINE}");
    None
}

/// chromedriver on a free port, in a process group of its own with the
/// browsers it starts: all of it is killed on drop, a failed test
/// included. Chromium keeps its profile in a fresh folder, removed then.
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Driver {
    fn start(driver: &Path) -> Driver {
        let port = free_port();
        let profile =
            std::env::temp_dir().join(format!("utility-webhooks-chromium-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver is not listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            profile,
        }
    }

    /// A session of headless Chromium, as root may run it.
    async fn session(&self, chromium: &Path) -> Client {
        let profile = format!("--user-data-dir={}", self.profile.display());
        let capabilities = json!({
            "browserName": "chrome",
            "timeouts": {"pageLoad": 20000, "script": 10000},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", profile,
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group: chromedriver and every browser process it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Wait until `script` returns `expected` in the page, or fail after
/// `within`.
async fn until_script(browser: &Client, script: &str, expected: Value, within: Duration) {
    let started = Instant::now();
    loop {
        let now = browser.execute(script, vec![]).await.unwrap();
        if now == expected {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{script}: {now} after {within:?}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET /inbox/api/<path>` with the token as a bearer.
async fn api(http: &reqwest::Client, base: &str, path: &str) -> Value {
    let response = http
        .get(format!("{base}/inbox/api/{path}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

/// The console's page as a browser sees it: the counts, the hostile text
/// as text, the retry button, the refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_console_shows_acts_and_never_runs_sender_text() {
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let Some(server) = PgServer::start() else {
        return;
    };
    let within = Duration::from_secs(240);
    tokio::time::timeout(within, in_chromium(&server, &chromium, &driver))
        .await
        .expect("the browser test finishes within 4 minutes");
}

async fn in_chromium(server: &PgServer, chromium: &Path, driver: &Path) {
    let token = ("INBOX_ADMIN_TOKEN", TOKEN);
    // Vendors post to an accepting process; a worker with `FAIL_IDS`
    // makes the referral dead, and serves the console too.
    let accept = Example::start(server.url(), &[("INBOX_ROLE", "accept"), token]);
    let mut failing = Example::start(
        server.url(),
        &[
            ("INBOX_ROLE", "work"),
            ("FAIL_IDS", "u-hostile"),
            ("INBOX_MAX_ATTEMPTS", "1"),
            token,
        ],
    );
    let http = client(Duration::from_secs(10));
    let base = accept.base.clone();
    for (id, assembly) in [("evt_fine_1", Some("asm_1")), ("evt_fine_2", None)] {
        let body = smartcomply_body(id, "2026-05-05T15:10:00Z", assembly);
        let status = post_smartcomply(&http, &base, &body, None).await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let mut hostile = notification("u-hostile", "2024-01-01T00:00:00Z", 77, "referral:create");
    hostile["message"]["Enquiry"]["notes"] = json!(HOSTILE_NOTES);
    let after = notification("u-after", "2024-01-02T00:00:00Z", 77, "referral:update");
    let parked = json!({"uuid": "u-parked", "event": "referral:create",
        "timestamp": "2024-01-03T00:00:00Z", "message": {"id": "not a number"}});
    let body = batch_body(&[hostile, after, parked]);
    let status = post_smarterwx(&http, &base, &body).await.unwrap();
    assert_eq!(status, StatusCode::ACCEPTED);
    for line in [
        "processed evt_fine_1",
        "processed evt_fine_2",
        "dead u-hostile",
    ] {
        failing.line(line).await;
    }
    // The work role serves the console as well.
    let stats = api(&http, &failing.base, "stats").await;
    assert_eq!(stats["dead"], 1);
    failing.kill();

    let driver = Driver::start(driver);
    let browser = driver.session(chromium).await;
    let port = base.rsplit(':').next().unwrap();
    let console = format!("http://admin:{TOKEN}@127.0.0.1:{port}/inbox/");
    browser.goto(&console).await.unwrap();

    // The counts, the oldest pending age, who waits for whom.
    let count = |state: &str| {
        let css = format!("[data-count='{state}']");
        let browser = &browser;
        async move {
            browser
                .find(Locator::Css(&css))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    for (state, n) in [
        ("pending", "1"),
        ("done", "2"),
        ("dead", "1"),
        ("parked", "1"),
    ] {
        assert_eq!(count(state).await, n, "{state}");
    }
    let oldest = browser
        .find(Locator::Css("#oldest-pending"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(oldest.ends_with(" s") || oldest.contains("min"), "{oldest}");
    let waits = browser
        .find(Locator::Css(".waits"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let waits: Vec<&str> = waits.split_whitespace().collect();
    assert_eq!(waits, ["waiting", "for", "smarterwx:u-hostile"]);
    // The script runs under the CSP: it says when it refreshes.
    until_script(
        &browser,
        "return document.getElementById('refreshed').textContent",
        json!("Updates every 5 s"),
        Duration::from_secs(5),
    )
    .await;
    save(&browser, "console-screenshot.png", Some("body")).await;

    // The detail: the notes as text, and no handler ever ran.
    browser
        .find(Locator::Css(
            "td.key a[href='deliveries/smarterwx%3Au-hostile']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let raw = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("pre.raw"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains(r#""notes": "<img src=x onerror=\"document.title='pwned';window.pwned=1\"> </script><script>window.pwned=2</script>""#),
        "{raw}"
    );
    let seen = browser
        .execute(
            "return [document.title, typeof window.pwned, document.images.length, \
             document.scripts.length]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        seen,
        json!(["smarterwx:u-hostile · inbox", "undefined", 0, 1])
    );
    // The notes in view, for the screenshot.
    browser
        .execute(
            "const pre = document.querySelector('pre.raw'); \
             window.scrollTo(0, pre.offsetTop - 16); \
             const line = pre.textContent.split('\\n').findIndex(l => l.includes('notes')); \
             pre.scrollTop = Math.max(0, line - 8) * 19; return null",
            vec![],
        )
        .await
        .unwrap();
    save(&browser, "console-detail-screenshot.png", None).await;

    // Retry: out of dead (no worker runs now, so it stays pending).
    browser
        .find(Locator::Css("form[action$='/retry'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let notice = browser
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(".notice"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(notice, "Retried: it is due now.");
    let retried = api(&http, &base, "deliveries/smarterwx%3Au-hostile").await;
    assert_eq!(retried["state"], "pending");
    assert_eq!(retried["attempts"], 0);
    assert_eq!(api(&http, &base, "stats").await["dead"], 0);

    // A worker without the failure does it; the page, marked so that a
    // reload would show, refreshes itself to say so.
    browser
        .execute("window.notReloaded = true; return null", vec![])
        .await
        .unwrap();
    let working = Example::start(server.url(), &[("INBOX_ROLE", "work")]);
    working.line("processed u-hostile").await;
    until_script(
        &browser,
        "return document.querySelector('#live .state').textContent",
        json!("done"),
        Duration::from_secs(20),
    )
    .await;
    let kept = browser
        .execute("return window.notReloaded === true", vec![])
        .await
        .unwrap();
    assert_eq!(kept, json!(true), "refreshed without a reload");
    assert_eq!(
        api(&http, &base, "deliveries/smarterwx%3Au-hostile").await["state"],
        "done"
    );
    browser.close().await.unwrap();
}

/// A screenshot as `target/<name>`, kept as the run's artifact: of the
/// element `css` when given (the page's content, without the empty window
/// below it), else of the window.
async fn save(browser: &Client, name: &str, css: Option<&str>) {
    let png = match css {
        Some(css) => browser
            .find(Locator::Css(css))
            .await
            .unwrap()
            .screenshot()
            .await
            .unwrap(),
        None => browser.screenshot().await.unwrap(),
    };
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    std::fs::create_dir_all(&target).unwrap();
    let path = target.join(name);
    std::fs::write(&path, png).unwrap();
    eprintln!("screenshot: {}", path.display());
}
