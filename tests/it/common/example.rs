//! An example of the crate run as a process, as outside checks run it:
//! its binary (built by `cargo test` beside the tests'), started on a
//! free loopback port with the environment given, its stdout lines, and
//! requests to it over HTTP.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use time::OffsetDateTime;
use utility_webhooks::smartcomply;

/// The `test.failed` fixture with `id` for its id, as bytes.
pub fn smartcomply_event(id: &str) -> Vec<u8> {
    let mut event: serde_json::Value =
        serde_json::from_slice(&super::fixture("smartcomply/test.failed.json")).unwrap();
    event["id"] = id.into();
    serde_json::to_vec(&event).unwrap()
}

/// The SmartComply signature header for `body`, signed now with `secret`.
pub fn smartcomply_signed(secret: &str, body: &[u8]) -> (&'static str, String) {
    let header = smartcomply::sign(secret, OffsetDateTime::now_utc(), body);
    (smartcomply::SIGNATURE_HEADER, header)
}

/// The binary of `examples/<name>.rs`, built with `features`; panics if it
/// is missing or older than its source.
pub fn binary(name: &str, features: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let binary = dir.join("examples").join(name);
    let rebuild = format!(
        "`cargo test --all-features` builds it, as does \
         `cargo build --example {name} --features {features}`"
    );
    let built = std::fs::metadata(&binary).and_then(|m| m.modified());
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("examples/{name}.rs"));
    let changed = std::fs::metadata(source).unwrap().modified().unwrap();
    match built {
        Ok(built) => assert!(
            built >= changed,
            "{} is older than its source: {rebuild}",
            binary.display()
        ),
        Err(_) => panic!("{} is missing: {rebuild}", binary.display()),
    }
    binary
}

/// An example listening on a free port; its stdout lines arrive on
/// `lines`, unless its stdout was closed.
pub struct Example {
    child: Child,
    pub base: String,
    lines: Option<mpsc::Receiver<String>>,
}

impl Example {
    /// Start `binary` with `PORT` and `env`, and wait until it listens.
    pub fn start(binary: &PathBuf, env: &[(&str, &str)], keep_stdout: bool) -> Self {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let mut child = Command::new(binary)
            .env("PORT", port.to_string())
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = keep_stdout.then(|| {
            let (send, receive) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    let _ = send.send(line);
                }
            });
            receive
        });
        // Otherwise `stdout` is dropped here: every write to it fails.
        let started = Instant::now();
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{} exited with {status}", binary.display());
            }
            assert!(started.elapsed() < Duration::from_secs(20), "not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Example {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lines,
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The next line on its stdout.
    pub fn line(&self) -> String {
        let lines = self.lines.as_ref().unwrap();
        lines.recv_timeout(Duration::from_secs(10)).unwrap()
    }

    /// No line came within a moment.
    pub fn quiet(&self) {
        let lines = self.lines.as_ref().unwrap();
        assert!(lines.recv_timeout(Duration::from_millis(300)).is_err());
    }

    /// `POST` `body` to `path` with `header`: the status and any
    /// `Retry-After`.
    pub async fn post(
        &self,
        path: &str,
        header: (&str, String),
        body: &[u8],
    ) -> (StatusCode, Option<String>) {
        let response = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
            .post(format!("{}{path}", self.base))
            .header(header.0, header.1)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status(), retry_after)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
