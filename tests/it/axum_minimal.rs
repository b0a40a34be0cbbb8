//! `examples/axum_minimal.rs`, run as a process on a real `redis-server`,
//! and driven over HTTP through every answer it gives.
#![cfg(all(feature = "axum", feature = "redis"))]

use crate::common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use common::example::{self, Example, smartcomply_event};
use common::redis::RedisServer;
use reqwest::StatusCode;
use time::OffsetDateTime;
use utility_webhooks::idempotency::{Claim, RedisStore, Store};
use utility_webhooks::{smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_minimal";
const SMARTERWX_SECRET: &str = "swx minimal";

/// The example on a free port with `env` besides its secrets (claims in
/// memory without `REDIS_URL`); its stdout lines kept, unless
/// `keep_stdout` is false. `AXUM_MINIMAL_BINARY` names another build of
/// it, to measure that one.
fn start_with(env: &[(&str, &str)], keep_stdout: bool) -> Example {
    let binary = std::env::var_os("AXUM_MINIMAL_BINARY").map_or_else(
        || example::binary("axum_minimal", "axum,redis"),
        PathBuf::from,
    );
    let mut all = vec![
        ("SMARTCOMPLY_WEBHOOK_SECRET", SMARTCOMPLY_SECRET),
        ("SMARTERWX_WEBHOOK_SECRET", SMARTERWX_SECRET),
    ];
    all.extend_from_slice(env);
    Example::start(&binary, &all, keep_stdout)
}

/// The example on a free port, claiming in Redis at `redis_url`.
fn start(redis_url: &str, keep_stdout: bool) -> Example {
    start_with(&[("REDIS_URL", redis_url)], keep_stdout)
}

fn signed(body: &[u8]) -> (&'static str, String) {
    example::smartcomply_signed(SMARTCOMPLY_SECRET, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_minimal_receiver_gives_every_answer() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let receiver = start(&redis.url(), true);
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
        receiver.post(sc, signed(&event), &event).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(receiver.line(), "processed evt_minimal_1");
    assert_eq!(
        receiver.post(sc, signed(&event), &event).await.0,
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
        receiver.post("/webhooks/smarterwx", header, &batch).await.0,
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
    let (status, retry_after) = receiver.post(sc, signed(&held), &held).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let seconds: u64 = retry_after.unwrap().parse().unwrap();
    assert!((1..=5).contains(&seconds), "{seconds}");
    store.release(&lease).await.unwrap();
    assert_eq!(
        receiver.post(sc, signed(&held), &held).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(receiver.line(), "processed evt_minimal_held");

    // Parked: signed, unreadable, acknowledged once, kept as one line.
    let unreadable = br#"{"id":"evt_minimal_bad","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":7}}"#;
    assert_eq!(
        receiver.post(sc, signed(unreadable), unreadable).await.0,
        StatusCode::NO_CONTENT
    );
    let parked = receiver.line();
    let json = parked.strip_prefix("parked ").unwrap();
    assert!(!json.contains('\n'));
    let parked: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(parked["vendor"], "smartcomply");
    assert_eq!(parked["key"], "smartcomply:evt_minimal_bad");
    assert_eq!(parked["raw"].as_str().unwrap().as_bytes(), unreadable);
    // Its resend is parked once; a readable resend of the same id (after
    // an upgrade of the model) does the work.
    assert_eq!(
        receiver.post(sc, signed(unreadable), unreadable).await.0,
        StatusCode::NO_CONTENT
    );
    receiver.quiet();
    let readable = smartcomply_event("evt_minimal_bad");
    assert_eq!(
        receiver.post(sc, signed(&readable), &readable).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(receiver.line(), "processed evt_minimal_bad");

    // 401 forged, 400 signed junk, 413 too large: nothing done.
    let forged = (
        smartcomply::SIGNATURE_HEADER,
        smartcomply::sign("whsec_forged", OffsetDateTime::now_utc(), &event),
    );
    assert_eq!(
        receiver.post(sc, forged, &event).await.0,
        StatusCode::UNAUTHORIZED
    );
    let junk = b"[1, 2]";
    assert_eq!(
        receiver.post(sc, signed(junk), junk).await.0,
        StatusCode::BAD_REQUEST
    );
    let huge = vec![b' '; 2 << 20];
    assert_eq!(
        receiver.post(sc, signed(&huge), &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    receiver.quiet();

    // 500: the work fails (here its stdout is closed) and is released.
    let broken = start(&redis.url(), false);
    let failing = smartcomply_event("evt_minimal_fails");
    assert_eq!(
        broken.post(sc, signed(&failing), &failing).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // Released: the other instance does it.
    assert_eq!(
        receiver.post(sc, signed(&failing), &failing).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(receiver.line(), "processed evt_minimal_fails");

    // 503: the store is down, and nothing is done.
    redis.stop();
    let later = smartcomply_event("evt_minimal_later");
    assert_eq!(
        receiver.post(sc, signed(&later), &later).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    receiver.quiet();
}

fn swx_signed(body: &[u8]) -> (&'static str, String) {
    (
        smarterwx::SIGNATURE_HEADER,
        smarterwx::sign(SMARTERWX_SECRET, body),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_notifications_without_ids_are_each_kept_once() {
    let receiver = start_with(&[], true);
    let swx = "/webhooks/smarterwx";
    // No readable uuid, different content: two deliveries, two parked.
    let first = br#"[{"uuid":5,"event":"referral:create","timestamp":"2023-11-20T01:00:00Z","message":{"id":"x"}}]"#;
    let second = br#"[{"uuid":6,"event":"referral:create","timestamp":"2023-11-20T01:00:00Z","message":{"id":"y"}}]"#;
    let mut keys = Vec::new();
    for body in [&first[..], &second[..]] {
        let (status, _) = receiver.post(swx, swx_signed(body), body).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let line = receiver.line();
        let parked: serde_json::Value =
            serde_json::from_str(line.strip_prefix("parked ").unwrap()).unwrap();
        assert_eq!(parked["id"], serde_json::Value::Null);
        assert_eq!(
            parked["raw"].as_str().unwrap().as_bytes(),
            &body[1..body.len() - 1]
        );
        keys.push(parked["key"].as_str().unwrap().to_owned());
    }
    assert_ne!(keys[0], keys[1]);
    assert!(
        keys.iter().all(|k| k.starts_with("smarterwx:sha256:")),
        "{keys:?}"
    );
    // The same content again is a duplicate: acknowledged, not kept twice.
    let (status, _) = receiver.post(swx, swx_signed(first), first).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    receiver.quiet();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_id_cannot_forge_a_line() {
    let receiver = start_with(&[], true);
    let forged = smartcomply_event("evt_1\nprocessed evt_FORGED");
    let sc = "/webhooks/smartcomply";
    let (status, _) = receiver.post(sc, signed(&forged), &forged).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(receiver.line(), r"processed evt_1\nprocessed evt_FORGED");
    receiver.quiet();
    // The same in a SmarterWX batch, a bidi override too.
    let mut notification: serde_json::Value =
        serde_json::from_slice(&common::fixture("smarterwx/referral_create.json")).unwrap();
    if notification.is_array() {
        notification = notification[0].take();
    }
    notification["uuid"] = "u-1\r\nprocessed u-FORGED\u{202e}".into();
    let batch = serde_json::to_vec(&[notification]).unwrap();
    let swx = "/webhooks/smarterwx";
    let (status, _) = receiver.post(swx, swx_signed(&batch), &batch).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        receiver.line(),
        r"processed u-1\r\nprocessed u-FORGED\u{202e}"
    );
    receiver.quiet();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_is_processed_whole_a_few_at_a_time() {
    let receiver = start_with(&[], true);
    const COUNT: usize = 500;
    let body = common::small_batch("u-large", COUNT);
    let swx = "/webhooks/smarterwx";
    let (status, _) = receiver.post(swx, swx_signed(&body), &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut lines: Vec<String> = (0..COUNT).map(|_| receiver.line()).collect();
    lines.sort();
    let mut want: Vec<String> = (0..COUNT)
        .map(|i| format!("processed u-large-{i}"))
        .collect();
    want.sort();
    assert_eq!(lines, want);
    receiver.quiet();
}

/// The peak resident memory of process `pid` so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// What one request got: its status line, and whether that came while
/// the client held back the second half of the body.
struct Refused {
    status: String,
    before_the_end: bool,
}

/// POST `len` bytes to `address`'s SmartComply route with the signature
/// header `signature` (none if empty), in chunks of `chunk` bytes (chunked
/// transfer encoding): the first half, then (when `pause`) up to 10 s for
/// an answer, then the rest unless an answer came.
fn chunked(address: &str, signature: &str, len: usize, chunk: usize, pause: bool) -> Refused {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut head = format!(
        "POST /webhooks/smartcomply HTTP/1.1\r\nhost: {address}\r\ntransfer-encoding: chunked\r\n"
    );
    if !signature.is_empty() {
        head.push_str(&format!(
            "{}: {signature}\r\n",
            smartcomply::SIGNATURE_HEADER
        ));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let (answer, answered) = mpsc::channel();
    let mut reader = stream.try_clone().unwrap();
    reader
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    std::thread::spawn(move || {
        let mut head = Vec::new();
        let mut buffer = [0; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match reader.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let _ = answer.send(head.lines().next().unwrap_or_default().to_owned());
    });
    // Chunks written about 64 KiB at a time: the server still reads each
    // chunk as a frame of its own.
    let chunks = |from: usize, to: usize| {
        let mut bytes = Vec::new();
        let mut at = from;
        while at < to {
            let size = chunk.min(to - at);
            bytes.extend_from_slice(format!("{size:x}\r\n").as_bytes());
            bytes.resize(bytes.len() + size, b' ');
            bytes.extend_from_slice(b"\r\n");
            at += size;
        }
        bytes
    };
    let send = |stream: &mut TcpStream, from: usize, to: usize| {
        let step = (64 * 1024 / chunk).max(1) * chunk;
        (from..to)
            .step_by(step)
            .all(|at| stream.write_all(&chunks(at, (at + step).min(to))).is_ok())
    };
    let half = len / 2 / chunk * chunk;
    send(&mut stream, 0, half);
    let wait = Duration::from_secs(if pause { 10 } else { 0 });
    match answered.recv_timeout(wait) {
        Ok(status) => Refused {
            status,
            before_the_end: true,
        },
        Err(_) => {
            if send(&mut stream, half, len) {
                let _ = stream.write_all(b"0\r\n\r\n");
            }
            Refused {
                status: answered.recv().unwrap_or_default(),
                before_the_end: false,
            }
        }
    }
}

/// Requests of 1 MiB - 1 at once: eight unsigned, in 1-byte and in 64 KiB
/// chunks, each answered `401` before its body is sent; two with a
/// well-formed forged signature, in 1-byte chunks, `401` once read.
/// The example's peak memory for each is printed (`-- --nocapture`; with
/// `AXUM_MINIMAL_BINARY` naming another build of the example, that
/// build's figures, whatever it answers).
#[test]
fn unsigned_requests_are_refused_before_their_bodies_are_read() {
    const LEN: usize = (1 << 20) - 1;
    const IN_FLIGHT: usize = 8;
    let forged = smartcomply::sign("whsec_forged", OffsetDateTime::now_utc(), b"");
    let mut refused = Vec::new();
    // A forged body is read whole, in a debug build at a few microseconds
    // a chunk: two of them.
    let cases = [
        ("unsigned", "", 1, IN_FLIGHT),
        ("unsigned", "", 64 * 1024, IN_FLIGHT),
        ("forged", forged.as_str(), 1, 2),
    ];
    for (what, signature, chunk, in_flight) in cases {
        let unsigned = what == "unsigned";
        let receiver = start_with(&[], false);
        let address = receiver.base.strip_prefix("http://").unwrap().to_owned();
        let requests: Vec<_> = (0..in_flight)
            .map(|_| {
                let (address, signature) = (address.clone(), signature.to_owned());
                std::thread::spawn(move || chunked(&address, &signature, LEN, chunk, unsigned))
            })
            .collect();
        let answers: Vec<Refused> = requests.into_iter().map(|r| r.join().unwrap()).collect();
        let peak = peak_rss(receiver.id()) as f64 / 1e6;
        println!(
            "axum_minimal peak RSS, {in_flight} in flight x {LEN} bytes {what} \
             in {chunk}-byte chunks: {peak:.1} MB"
        );
        refused.push((what, chunk, answers));
    }
    for (what, chunk, answers) in refused {
        for answer in answers {
            let label = format!("{what}, {chunk}-byte chunks");
            assert!(
                answer.status.starts_with("HTTP/1.1 401"),
                "{label}: {}",
                answer.status
            );
            assert_eq!(answer.before_the_end, what == "unsigned", "{label}");
        }
    }
}
