//! `examples/axum_minimal.rs`, run as a process on a real `redis-server`,
//! and driven over HTTP through every answer it gives.
#![cfg(all(feature = "axum", feature = "redis"))]

use crate::common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::redis::{RedisServer, free_port};
use reqwest::StatusCode;
use time::OffsetDateTime;
use utility_webhooks::idempotency::{Claim, RedisStore, Store};
use utility_webhooks::{smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_minimal";
const SMARTERWX_SECRET: &str = "swx minimal";

/// The example's binary, built by `cargo test` beside this test's.
fn example() -> PathBuf {
    common::example("axum_minimal", "axum,redis")
}

/// The example on a free port, claiming in Redis at `redis_url`; its
/// stdout lines arrive on the receiver, unless `stdout` is closed.
struct Receiver {
    child: Child,
    base: String,
    lines: Option<mpsc::Receiver<String>>,
}

impl Receiver {
    fn start(redis_url: &str, keep_stdout: bool) -> Self {
        let port = free_port();
        let mut child = Command::new(example())
            .env("PORT", port.to_string())
            .env("SMARTCOMPLY_WEBHOOK_SECRET", SMARTCOMPLY_SECRET)
            .env("SMARTERWX_WEBHOOK_SECRET", SMARTERWX_SECRET)
            .env("REDIS_URL", redis_url)
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
            assert!(started.elapsed() < Duration::from_secs(20), "not listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        Receiver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            lines,
        }
    }

    /// The next line on its stdout.
    fn line(&self) -> String {
        let lines = self.lines.as_ref().unwrap();
        lines.recv_timeout(Duration::from_secs(10)).unwrap()
    }

    /// No line came within a moment.
    fn quiet(&self) {
        let lines = self.lines.as_ref().unwrap();
        assert!(lines.recv_timeout(Duration::from_millis(300)).is_err());
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn post(
    base: &str,
    path: &str,
    header: (&str, String),
    body: &[u8],
) -> (StatusCode, Option<String>) {
    let response = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .post(format!("{base}{path}"))
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

fn smartcomply_event(id: &str) -> Vec<u8> {
    let mut event: serde_json::Value =
        serde_json::from_slice(&common::fixture("smartcomply/test.failed.json")).unwrap();
    event["id"] = id.into();
    serde_json::to_vec(&event).unwrap()
}

fn signed(body: &[u8]) -> (&'static str, String) {
    let header = smartcomply::sign(SMARTCOMPLY_SECRET, OffsetDateTime::now_utc(), body);
    (smartcomply::SIGNATURE_HEADER, header)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minimal_receiver_gives_every_answer() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let receiver = Receiver::start(&redis.url(), true);
    let base = receiver.base.clone();
    let get = |path: &str| reqwest::get(format!("{base}{path}"));
    assert_eq!(get("/").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        get("/webhooks/smarterwx").await.unwrap().status(),
        StatusCode::OK
    );

    // 204, once; its resend 204 with nothing done.
    let event = smartcomply_event("evt_minimal_1");
    let sc = "/webhooks/smartcomply";
    assert_eq!(
        post(&base, sc, signed(&event), &event).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(receiver.line(), "processed evt_minimal_1");
    assert_eq!(
        post(&base, sc, signed(&event), &event).await.0,
        StatusCode::NO_CONTENT
    );
    receiver.quiet();

    // A batch: each notification once.
    let batch = common::fixture("smarterwx/batch.json");
    let uuids: Vec<String> = smarterwx::parse(&batch)
        .unwrap()
        .iter()
        .map(|n| n.uuid.to_string())
        .collect();
    let header = ("X-SWX-Signature", smarterwx::sign(SMARTERWX_SECRET, &batch));
    assert_eq!(
        post(&base, "/webhooks/smarterwx", header, &batch).await.0,
        StatusCode::NO_CONTENT
    );
    let mut lines: Vec<String> = (0..uuids.len()).map(|_| receiver.line()).collect();
    lines.sort();
    let mut want: Vec<String> = uuids.iter().map(|u| format!("processed {u}")).collect();
    want.sort();
    assert_eq!(lines, want);

    // 409 with Retry-After while another instance holds the claim.
    let store = RedisStore::connect(&redis.url()).await.unwrap();
    let held = smartcomply_event("evt_minimal_held");
    let Claim::Acquired(lease) = store
        .claim("smartcomply:evt_minimal_held", Duration::from_secs(5))
        .await
        .unwrap()
    else {
        panic!("a fresh key is free");
    };
    let (status, retry_after) = post(&base, sc, signed(&held), &held).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let seconds: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=5).contains(&seconds), "{seconds}");
    store.release(&lease).await.unwrap();
    assert_eq!(
        post(&base, sc, signed(&held), &held).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(receiver.line(), "processed evt_minimal_held");

    // Parked: signed, unreadable, acknowledged once, kept as one line.
    let unreadable = br#"{"id":"evt_minimal_bad","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":7}}"#;
    assert_eq!(
        post(&base, sc, signed(unreadable), unreadable).await.0,
        StatusCode::NO_CONTENT
    );
    let parked = receiver.line();
    let json = parked.strip_prefix("parked ").unwrap();
    assert!(!json.contains('\n'));
    let parked: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(parked["vendor"], "smartcomply");
    assert_eq!(parked["key"], "smartcomply:evt_minimal_bad");
    assert_eq!(parked["raw"].as_str().unwrap().as_bytes(), unreadable);

    // 401 forged, 400 signed junk, 413 too large: nothing done.
    let forged = (
        smartcomply::SIGNATURE_HEADER,
        smartcomply::sign("whsec_forged", OffsetDateTime::now_utc(), &event),
    );
    assert_eq!(
        post(&base, sc, forged, &event).await.0,
        StatusCode::UNAUTHORIZED
    );
    let junk = b"[1, 2]";
    assert_eq!(
        post(&base, sc, signed(junk), junk).await.0,
        StatusCode::BAD_REQUEST
    );
    let huge = vec![b' '; 2 << 20];
    assert_eq!(
        post(&base, sc, signed(&huge), &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    receiver.quiet();

    // 500: the work fails (here its stdout is closed) and is released.
    let broken = Receiver::start(&redis.url(), false);
    let failing = smartcomply_event("evt_minimal_fails");
    assert_eq!(
        post(&broken.base, sc, signed(&failing), &failing).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // Released: the other instance does it.
    assert_eq!(
        post(&base, sc, signed(&failing), &failing).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(receiver.line(), "processed evt_minimal_fails");

    // 503: the store is down, and nothing is done.
    redis.stop();
    let later = smartcomply_event("evt_minimal_later");
    assert_eq!(
        post(&base, sc, signed(&later), &later).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    receiver.quiet();
}
