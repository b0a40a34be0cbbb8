//! `examples/send.rs`, run as a process against the receiver over real
//! HTTP: the receiver processes what was sent, and the sender prints each
//! attempt, stops at the first `2xx` (exit 0), or gives up (exit 1).
#![cfg(all(feature = "testing", feature = "axum"))]

use crate::{common, receiver};

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use receiver::{Line, Receiver, router};
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
    .on_line(move |line: Line| sink.lock().unwrap().push(line.to_string()));
    Server {
        base: serve(router(receiver)).await,
        log,
    }
}

/// `router` on a loopback port; its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}")
}

/// What a run of the example did.
struct Run {
    /// It exited 0.
    success: bool,
    stdout: String,
    stderr: String,
}

/// Run the example with `args`, with `secret` as both vendors' secret,
/// while this test's servers go on answering.
async fn run(args: &[&str], secret: &str) -> Run {
    let mut command = Command::new(common::example::binary("send", "testing"));
    command
        .args(args)
        .env("SMARTCOMPLY_WEBHOOK_SECRET", secret)
        .env("SMARTERWX_WEBHOOK_SECRET", secret);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_smartcomply_sample_is_processed_at_the_first_attempt() {
    let server = start(0, Duration::ZERO).await;
    let url = format!("{}/webhooks/smartcomply", server.base);
    let run = run(&[&url, "test.failed"], SMARTCOMPLY_SECRET).await;
    let out = &run.stdout;
    assert!(run.success, "{out}{}", run.stderr);
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
    let run = run(&[&url, "referral:create"], SMARTERWX_SECRET).await;
    let out = &run.stdout;
    assert!(run.success, "{out}{}", run.stderr);
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
    let run = run(
        &["--backoff-ms", "10", &url, "assembly.due_soon"],
        SMARTCOMPLY_SECRET,
    )
    .await;
    let out = &run.stdout;
    assert!(run.success, "{out}{}", run.stderr);
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
    let run = run(
        &["--attempts", "2", "--backoff-ms", "1", &url, "webhook.test"],
        "whsec_wrong",
    )
    .await;
    let out = &run.stdout;
    assert!(!run.success, "{out}");
    assert!(
        run.stderr.starts_with("send: no 2xx after 2 attempt(s)"),
        "{}",
        run.stderr
    );
    assert!(out.contains("attempt 1: 401 Unauthorized"), "{out}");
    assert!(out.contains("attempt 2: 401 Unauthorized"), "{out}");
    assert!(!out.contains("attempt 3"), "{out}");
    assert!(server.log.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_file_is_sent_byte_for_byte_and_signed_as_its_vendor_signs() {
    // A server that keeps what it received.
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    let keep = move |headers: HeaderMap, body: Bytes| async move {
        sink.lock().unwrap().push((headers, body));
        axum::http::StatusCode::NO_CONTENT
    };
    let base = serve(axum::Router::new().route("/", axum::routing::post(keep))).await;
    for name in [
        "smartcomply/iu.exceedance_detected.json",
        "smarterwx/batch.json",
    ] {
        let file = common::fixtures_dir().join(name);
        let run = run(&[&base, file.to_str().unwrap()], "whsec_file").await;
        assert!(run.success, "{}{}", run.stdout, run.stderr);
        let (headers, body) = received.lock().unwrap().pop().unwrap();
        assert_eq!(body, common::fixture(name), "{name}");
        // The vendor is told from the body: its header is the one sent.
        let smartcomply = headers.get(smartcomply::SIGNATURE_HEADER);
        let smarterwx = headers.get(smarterwx::SIGNATURE_HEADER);
        if name.starts_with("smartcomply") {
            assert!(smarterwx.is_none());
            smartcomply::Verifier::new("whsec_file")
                .unwrap()
                .verify(smartcomply.unwrap().as_bytes(), &body)
                .unwrap();
        } else {
            assert!(smartcomply.is_none());
            smarterwx::Verifier::new("whsec_file")
                .unwrap()
                .verify(smarterwx.unwrap().as_bytes(), &body)
                .unwrap();
        }
        assert_eq!(headers["content-type"], "application/json");
    }
}

#[tokio::test]
async fn smarterwx_stops_waiting_and_sends_again() {
    // The work outlasts the sender's patience: the first attempt gets no
    // answer in time; the resends find it in progress (409), then done.
    let server = start(0, Duration::from_millis(600)).await;
    let url = format!("{}/webhooks/smarterwx", server.base);
    let run = run(
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
    let out = &run.stdout;
    assert!(run.success, "{out}{}", run.stderr);
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

#[tokio::test]
async fn smarterwx_waits_three_seconds_by_default() {
    // A server that takes the request and never answers.
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            held.push(listener.accept().await.unwrap());
        }
    });
    let run = run(
        &["--attempts", "1", &url, "referral:create"],
        SMARTERWX_SECRET,
    )
    .await;
    silent.abort();
    assert!(!run.success);
    let waited: u64 = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("attempt 1: no answer within "))
        .and_then(|rest| rest.strip_suffix(" ms"))
        .unwrap_or_else(|| panic!("{}", run.stdout))
        .parse()
        .unwrap();
    assert!((3000..4000).contains(&waited), "{}", run.stdout);
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

#[tokio::test]
async fn the_command_line_is_read_strictly() {
    for bad in [
        vec![],
        vec!["http://x"],
        vec!["--attempts", "many", "http://x", "test.failed"],
        vec!["--vendor", "acme", "http://x", "test.failed"],
        vec!["http://x", "test.failed", "extra"],
        vec!["http://x", "missing-file.json"],
    ] {
        let run = run(&bad, "whsec_x").await;
        assert!(!run.success, "{bad:?}");
        assert!(run.stdout.is_empty(), "{bad:?}: {}", run.stdout);
        assert!(run.stderr.starts_with("send: "), "{bad:?}: {}", run.stderr);
    }
    // Nothing listens: each attempt fails at once. The vendor comes from
    // the type's name (or `--vendor`), `--attempts` bounds the attempts.
    let url = format!("http://127.0.0.1:{}/", closed_port());
    for (vendor_flag, what, vendor) in [
        (None, "permit.expiring", "smartcomply"),
        (None, "referral:update", "smarterwx"),
        (Some("smarterwx"), "test.failed", "smarterwx"),
    ] {
        let mut args = vec!["--attempts", "2", "--backoff-ms", "1"];
        args.extend(vendor_flag.map(|v| ["--vendor", v]).into_iter().flatten());
        args.extend([url.as_str(), what]);
        let run = run(&args, "whsec_x").await;
        assert!(!run.success);
        let lines: Vec<&str> = run.stdout.lines().collect();
        assert!(
            lines[0].starts_with(&format!("sending {what} ({vendor}, ")),
            "{}",
            run.stdout
        );
        assert_eq!(lines.len(), 3, "{}", run.stdout);
        assert!(lines[2].starts_with("attempt 2: "), "{}", run.stdout);
        assert!(
            run.stderr.starts_with("send: no 2xx after 2 attempt(s)"),
            "{}",
            run.stderr
        );
    }
}
