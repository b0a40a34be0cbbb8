//! The `send` example against the `axum_receiver` example, over real HTTP:
//! the receiver processes what was sent, and the sender prints each
//! attempt and stops at the first `2xx`.
#![cfg(all(feature = "testing", feature = "axum"))]

use crate::receiver;
#[path = "../../examples/send.rs"]
mod sender;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use receiver::{Delivery, Receiver, router};
use sender::{Vendor, options};
use utility_webhooks::idempotency::MemoryStore;
use utility_webhooks::{smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_send_test";
const SMARTERWX_SECRET: &str = "swx send test";

struct Server {
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

/// The receiver example's router on a loopback port; its work fails for
/// the first `failures` jobs and waits `delay` in each.
async fn start(failures: usize, delay: Duration) -> Server {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let failed = Arc::new(AtomicUsize::new(0));
    let receiver = Receiver::new(
        smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap(),
        smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap(),
        Arc::new(MemoryStore::new(100, Duration::from_secs(60))),
    )
    .with_work(move |_, _| {
        let fail = failed.fetch_add(1, Ordering::SeqCst) < failures;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            if fail {
                Err("the database is down".into())
            } else {
                Ok(())
            }
        })
    })
    .on_delivery(move |delivery: Delivery| sink.lock().unwrap().push(delivery.to_string()));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(receiver)).await.unwrap() });
    Server {
        base: format!("http://{address}"),
        log,
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Run `send` with `list` as its command line; its result and output.
async fn run(list: &[&str], secret: &str) -> (Result<u16, String>, String) {
    let options = options(&args(list)).unwrap();
    let mut out = Vec::new();
    let result = sender::send(&options, secret, &mut out).await;
    (result, String::from_utf8(out).unwrap())
}

#[tokio::test]
async fn a_smartcomply_sample_is_processed_at_the_first_attempt() {
    let server = start(0, Duration::ZERO).await;
    let url = format!("{}/webhooks/smartcomply", server.base);
    let (result, out) = run(&[&url, "test.failed"], SMARTCOMPLY_SECRET).await;
    assert_eq!(result, Ok(204), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("sending test.failed (smartcomply, "),
        "{out}"
    );
    assert!(
        lines[1].starts_with("attempt 1: 204 No Content in "),
        "{out}"
    );
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        *server.log.lock().unwrap(),
        ["processed evt_c4d5e6f7a8b90123"]
    );
}

#[tokio::test]
async fn a_smarterwx_sample_is_processed() {
    let server = start(0, Duration::ZERO).await;
    let url = format!("{}/webhooks/smarterwx", server.base);
    let (result, out) = run(&[&url, "referral:create"], SMARTERWX_SECRET).await;
    assert_eq!(result, Ok(204), "{out}");
    assert!(out.contains("(smarterwx, "), "{out}");
    assert!(out.contains("attempt 1: 204 No Content"), "{out}");
    assert_eq!(
        *server.log.lock().unwrap(),
        ["processed fd07b9f3-dd85-4615-a1e8-8fced35ef2e5"]
    );
}

#[tokio::test]
async fn smartcomply_retries_until_the_work_succeeds() {
    let server = start(2, Duration::ZERO).await;
    let url = format!("{}/webhooks/smartcomply", server.base);
    let (result, out) = run(
        &["--backoff-ms", "10", &url, "assembly.due_soon"],
        SMARTCOMPLY_SECRET,
    )
    .await;
    assert_eq!(result, Ok(204), "{out}");
    let attempts: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(attempts.len(), 3, "{out}");
    assert!(
        attempts[0].starts_with("attempt 1: 500 Internal Server Error"),
        "{out}"
    );
    assert!(
        attempts[1].starts_with("attempt 2: 500 Internal Server Error"),
        "{out}"
    );
    assert!(
        attempts[2].starts_with("attempt 3: 204 No Content"),
        "{out}"
    );
    assert_eq!(
        *server.log.lock().unwrap(),
        [
            "failed evt_1a2b3c4d5e6f7890",
            "failed evt_1a2b3c4d5e6f7890",
            "processed evt_1a2b3c4d5e6f7890"
        ]
    );
}

#[tokio::test]
async fn a_wrong_secret_gives_up_after_the_attempts() {
    let server = start(0, Duration::ZERO).await;
    let url = format!("{}/webhooks/smartcomply", server.base);
    let (result, out) = run(
        &["--attempts", "2", "--backoff-ms", "1", &url, "webhook.test"],
        "whsec_wrong",
    )
    .await;
    assert!(result.unwrap_err().contains("no 2xx after 2 attempt(s)"));
    assert!(out.contains("attempt 1: 401 Unauthorized"), "{out}");
    assert!(out.contains("attempt 2: 401 Unauthorized"), "{out}");
    assert!(!out.contains("attempt 3"), "{out}");
    assert!(server.log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_file_is_sent_byte_for_byte() {
    let server = start(0, Duration::ZERO).await;
    for (name, vendor, id) in [
        (
            "smartcomply/iu.exceedance_detected.json",
            "smartcomply",
            "evt_f0e1d2c3b4a59687",
        ),
        (
            "smarterwx/batch.json",
            "smarterwx",
            "9e2d4b61-0c3a-4f7e-8b15-a6c9d8e7f402",
        ),
    ] {
        let file = format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let url = format!("{}/webhooks/{vendor}", server.base);
        let options = options(&args(&[&url, &file])).unwrap();
        assert_eq!(options.body, std::fs::read(&file).unwrap());
        let secret = match options.vendor {
            Vendor::SmartComply => SMARTCOMPLY_SECRET,
            Vendor::SmarterWx => SMARTERWX_SECRET,
        };
        assert!(name.starts_with(vendor));
        let (result, out) = run(&[&url, &file], secret).await;
        assert_eq!(result, Ok(204), "{out}");
        assert!(
            server
                .log
                .lock()
                .unwrap()
                .contains(&format!("processed {id}")),
            "{:?}",
            server.log
        );
    }
}

#[tokio::test]
async fn smarterwx_stops_waiting_and_sends_again() {
    // The work outlasts the sender's patience: the first attempt gets no
    // answer in time; the resends find it in progress (409), then done.
    let server = start(0, Duration::from_millis(600)).await;
    let url = format!("{}/webhooks/smarterwx", server.base);
    let (result, out) = run(
        &[
            "--timeout-ms",
            "200",
            "--backoff-ms",
            "100",
            "--attempts",
            "10",
            &url,
            "referral:update",
        ],
        SMARTERWX_SECRET,
    )
    .await;
    assert_eq!(result, Ok(204), "{out}");
    assert!(out.contains("attempt 1: no answer within "), "{out}");
    assert!(
        out.lines().last().unwrap().contains(": 204 No Content"),
        "{out}"
    );
    let log = server.log.lock().unwrap();
    assert!(
        log.contains(&"processed 3b9c2e4a-7f1d-4c8e-9a6b-5d2f0e1c7a93".to_string()),
        "{log:?}"
    );
}

#[test]
fn the_receiver_logs_each_drift_path_once() {
    let body = br#"{"id":"evt_d1","type":"assembly.due_soon","created_at":"2026-04-05T08:00:00Z",
        "data":{"assembly_id":"asm_1","facility_id":"fac_1","due_date":"2026-05-05",
        "days_remaining":30,"assembly_type":"SVB","gps_accuracy_m":4.2}}"#;
    assert_eq!(
        receiver::new_drift("smartcomply", body),
        [
            "drift smartcomply unknown_value data.assembly_type \"SVB\"",
            "drift smartcomply unknown_field data.gps_accuracy_m",
        ]
    );
    assert!(receiver::new_drift("smartcomply", body).is_empty());
    // The same field in another notification of a batch is the same path.
    let mut batch: serde_json::Value = serde_json::from_slice(
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/smarterwx/referral_create.json"
        ))
        .unwrap(),
    )
    .unwrap();
    batch[0]["message"]["Enquiry"]["region"] = "Metro".into();
    let second = batch[0].clone();
    batch.as_array_mut().unwrap().push(second);
    let body = serde_json::to_vec(&batch).unwrap();
    assert_eq!(
        receiver::new_drift("smarterwx", &body),
        ["drift smarterwx unknown_field [0].message.Enquiry.region"]
    );
    assert!(receiver::new_drift("smarterwx", &body).is_empty());
    assert!(receiver::new_drift("smarterwx", b"not json").is_empty());
}

#[test]
fn the_command_line_is_read_strictly() {
    for bad in [
        vec![],
        vec!["http://x"],
        vec!["--attempts", "many", "http://x", "test.failed"],
        vec!["--vendor", "acme", "http://x", "test.failed"],
        vec!["http://x", "test.failed", "extra"],
        vec!["http://x", "missing-file.json"],
    ] {
        assert!(options(&args(&bad)).is_err(), "{bad:?}");
    }
    let o = options(&args(&["http://x", "referral:update"])).unwrap();
    assert_eq!(o.vendor, Vendor::SmarterWx);
    assert_eq!(o.timeout, Duration::from_secs(3));
    assert_eq!(o.attempts, 5);
    let o = options(&args(&["--attempts", "2", "http://x", "permit.expiring"])).unwrap();
    assert_eq!(o.vendor, Vendor::SmartComply);
    assert_eq!(o.attempts, 2);
    let event = smartcomply::parse(&o.body).unwrap();
    assert_eq!(event.event_type(), "permit.expiring");
}
