//! `examples/axum_minimal.rs`, run as a process on a real `redis-server`,
//! and driven over HTTP through every answer it gives.
#![cfg(all(feature = "axum", feature = "redis"))]

use crate::common;

use std::time::Duration;

use common::example::{self, Example, smartcomply_event};
use common::redis::RedisServer;
use reqwest::StatusCode;
use time::OffsetDateTime;
use utility_webhooks::idempotency::{Claim, RedisStore, Store};
use utility_webhooks::{smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_minimal";
const SMARTERWX_SECRET: &str = "swx minimal";

/// The example on a free port, claiming in Redis at `redis_url`; its
/// stdout lines kept, unless `keep_stdout` is false.
fn start(redis_url: &str, keep_stdout: bool) -> Example {
    let binary = example::binary("axum_minimal", "axum,redis");
    let env = [
        ("SMARTCOMPLY_WEBHOOK_SECRET", SMARTCOMPLY_SECRET),
        ("SMARTERWX_WEBHOOK_SECRET", SMARTERWX_SECRET),
        ("REDIS_URL", redis_url),
    ];
    Example::start(&binary, &env, keep_stdout)
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
