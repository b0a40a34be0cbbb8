//! The `Verified` extractor over real HTTP: the handler runs only for a
//! good delivery, and every other request is answered as the crate's
//! error says.
#![cfg(feature = "axum")]

use crate::common;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::FromRef;
use axum::routing::post;
use reqwest::StatusCode;
use time::OffsetDateTime;
use utility_webhooks::axum::Verified;
use utility_webhooks::idempotency::Answer;
use utility_webhooks::{Error, Unreadable, smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_extractor";
const SMARTERWX_SECRET: &str = "swx extractor";

#[derive(Clone, FromRef)]
struct AppState {
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
    /// What the handlers were given.
    seen: Arc<Mutex<Vec<String>>>,
}

async fn smartcomply_hook(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<String>>>>,
    Verified(event): Verified<smartcomply::Event>,
) -> Answer {
    seen.lock().unwrap().push(format!("event {}", event.id));
    Answer::default()
}

async fn parking_hook(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<String>>>>,
    Verified(event): Verified<Result<smartcomply::Event, Unreadable>>,
) -> Answer {
    let line = match event {
        Ok(event) => format!("event {}", event.id),
        Err(unreadable) => format!("parked {}", unreadable.id().unwrap_or("?")),
    };
    seen.lock().unwrap().push(line);
    Answer::default()
}

async fn smarterwx_hook(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<String>>>>,
    Verified(batch): Verified<Vec<Result<smarterwx::Notification, Unreadable>>>,
) -> Answer {
    for notification in batch {
        let line = match notification {
            Ok(n) => format!("notification {}", n.uuid),
            Err(u) => format!("unreadable #{}", u.index().unwrap_or(0)),
        };
        seen.lock().unwrap().push(line);
    }
    Answer::default()
}

/// The body as received, beside the event or the unreadable delivery.
async fn raw_hook(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<String>>>>,
    Verified((event, body)): Verified<(Result<smartcomply::Event, Unreadable>, Bytes)>,
) -> Answer {
    let id = match event {
        Ok(event) => event.id.to_string(),
        Err(unreadable) => format!("parked {}", unreadable.id().unwrap_or("?")),
    };
    let body = String::from_utf8(body.to_vec()).unwrap();
    seen.lock().unwrap().push(format!("{id} {body}"));
    Answer::default()
}

async fn raw_batch_hook(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Vec<String>>>>,
    Verified((batch, body)): Verified<(Vec<smarterwx::Notification>, Bytes)>,
) -> Answer {
    let body = String::from_utf8(body.to_vec()).unwrap();
    seen.lock().unwrap().push(format!("{} {body}", batch.len()));
    Answer::default()
}

struct Server {
    base: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<String>>>,
}

async fn start(limit: Option<usize>) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = AppState {
        smartcomply: smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap(),
        smarterwx: smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap(),
        seen: Arc::clone(&seen),
    };
    let mut app = Router::new()
        .route("/smartcomply", post(smartcomply_hook))
        .route("/parking", post(parking_hook))
        .route("/smarterwx", post(smarterwx_hook))
        .route("/raw", post(raw_hook))
        .route("/raw-batch", post(raw_batch_hook));
    if let Some(limit) = limit {
        app = app.layer(axum::extract::DefaultBodyLimit::max(limit));
    }
    let app = app.with_state(state);
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Server { base, client, seen }
}

impl Server {
    /// POST `body` to `path` with `header` (name, value) if any; the
    /// status and the answer's text.
    async fn post(
        &self,
        path: &str,
        header: Option<(&str, &str)>,
        body: Vec<u8>,
    ) -> (StatusCode, String) {
        let mut request = self.client.post(format!("{}{path}", self.base)).body(body);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    fn seen(&self) -> Vec<String> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn signed(body: &[u8], at: OffsetDateTime) -> String {
    smartcomply::sign(SMARTCOMPLY_SECRET, at, body)
}

#[tokio::test]
async fn a_good_delivery_reaches_the_handler_and_every_bad_one_is_refused() {
    let server = start(None).await;
    let body = common::fixture("smartcomply/test.failed.json");
    let id = smartcomply::parse(&body).unwrap().id.to_string();
    let now = OffsetDateTime::now_utc();
    let name = smartcomply::SIGNATURE_HEADER;

    let good = signed(&body, now);
    let answer = server
        .post("/smartcomply", Some((name, &good)), body.clone())
        .await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT, "{}", answer.1);
    assert_eq!(server.seen(), [format!("event {id}")]);

    let forged = smartcomply::sign("whsec_forged", now, &body);
    let stale = signed(&body, now - time::Duration::hours(1));
    let mut tampered = body.clone();
    tampered.push(b' ');
    let junk = b"{\"not\": \"an event\"}".to_vec();
    let signed_junk = signed(&junk, now);
    type Case<'a> = (
        &'a str,
        Option<(&'a str, &'a str)>,
        Vec<u8>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "forged",
            Some((name, &forged)),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "webhook signature does not match",
        ),
        (
            "stale",
            Some((name, &stale)),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "webhook timestamp is older",
        ),
        (
            "missing header",
            None,
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "webhook signature header is missing",
        ),
        (
            "the other vendor's header",
            Some((name, "sha256=00")),
            body.clone(),
            StatusCode::UNAUTHORIZED,
            "webhook signature header is malformed",
        ),
        (
            "tampered",
            Some((name, &good)),
            tampered,
            StatusCode::UNAUTHORIZED,
            "webhook signature does not match",
        ),
        (
            "signed junk",
            Some((name, &signed_junk)),
            junk,
            StatusCode::BAD_REQUEST,
            "invalid webhook payload",
        ),
    ];
    for (label, header, body, status, text) in cases {
        let (got, answer) = server.post("/smartcomply", header, body).await;
        assert_eq!(got, status, "{label}: {answer}");
        assert!(answer.starts_with(text), "{label}: {answer}");
        assert!(!answer.contains(SMARTCOMPLY_SECRET), "{label}: {answer}");
        assert!(
            !answer.contains("evt_"),
            "{label}: no body in the answer: {answer}"
        );
    }
    assert_eq!(server.seen(), Vec::<String>::new(), "the handler never ran");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_the_router_sets_the_limit() {
    let server = start(None).await;
    let big = vec![b' '; 1024 * 1024 + 1];
    let header = signed(&big, OffsetDateTime::now_utc());
    let (status, text) = server
        .post(
            "/smartcomply",
            Some((smartcomply::SIGNATURE_HEADER, &header)),
            big,
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(text, "webhook body is larger than 1048576 bytes");

    // A router that sets 1 KiB refuses a 2 KiB referral batch.
    let small = start(Some(1024)).await;
    let batch = common::fixture("smarterwx/referral_create.json");
    assert!(batch.len() > 1024);
    let header = smarterwx::sign(SMARTERWX_SECRET, &batch);
    let (status, _) = small
        .post(
            "/smarterwx",
            Some(("X-SWX-Signature", &header)),
            batch.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(small.seen().is_empty());
    // The default takes it.
    let (status, _) = server
        .post("/smarterwx", Some(("X-SWX-Signature", &header)), batch)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.seen().len(), 1);

    // A router that sets 4 MiB reads 2 MiB (signed, not an event: 400).
    let large = start(Some(4 << 20)).await;
    let body = vec![b' '; 2 << 20];
    let header = signed(&body, OffsetDateTime::now_utc());
    let name = smartcomply::SIGNATURE_HEADER;
    let (status, text) = large
        .post("/smartcomply", Some((name, &header)), body)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
}

/// Send the head of a POST to `/smartcomply` and `sent` bytes of a body
/// that declares `declared` bytes, then wait for the answer: the status
/// line and the text, read while the rest of the body is still unsent.
async fn answer_before_the_body(
    base: &str,
    header: Option<&str>,
    declared: usize,
    sent: usize,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.strip_prefix("http://").unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut head =
        format!("POST /smartcomply HTTP/1.1\r\nhost: {address}\r\ncontent-length: {declared}\r\n");
    if let Some(value) = header {
        head.push_str(&format!("{}: {value}\r\n", smartcomply::SIGNATURE_HEADER));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b' '; sent]).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0; 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buffer[..n]),
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer while the body was unsent");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_that_cannot_be_signed_is_refused_before_its_body_is_read() {
    let server = start(None).await;
    // No header, a malformed one, the other vendor's: 401 with the same
    // error as after a whole body, and only 10 bytes of 1 MiB - 1 sent.
    for (header, error) in [
        (None, Error::MissingSignature),
        (Some("t=1,v1=zz"), Error::MalformedSignature),
        (Some("sha256=00"), Error::MalformedSignature),
        (Some(""), Error::MissingSignature),
    ] {
        let answer = answer_before_the_body(&server.base, header, (1 << 20) - 1, 10).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{header:?}: {answer}");
        let (status, text) = server
            .post(
                "/smartcomply",
                header.map(|h| (smartcomply::SIGNATURE_HEADER, h)),
                Vec::new(),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(text, error.to_string());
    }
    // A declared length past the limit: 413 before the body too.
    let header = signed(b"{}", OffsetDateTime::now_utc());
    let answer = answer_before_the_body(&server.base, Some(&header), (1 << 20) + 1, 10).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(server.seen().is_empty());
}

#[tokio::test]
async fn unreadable_deliveries_reach_the_handlers_that_take_them() {
    let server = start(None).await;
    // `result_value` is a string where the model reads a number.
    let body = br#"{"id":"evt_x","type":"iu.exceedance_detected","created_at":"2026-05-05T14:00:00Z","data":{"exceedances":[{"result_value":"high"}]}}"#.to_vec();
    let header = signed(&body, OffsetDateTime::now_utc());
    let name = smartcomply::SIGNATURE_HEADER;
    let (status, text) = server
        .post("/smartcomply", Some((name, &header)), body.clone())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    let (status, _) = server.post("/parking", Some((name, &header)), body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.seen(), ["parked evt_x"]);

    let batch = br#"[{"uuid":"u-1","event":"referral:create","timestamp":"2023-11-20T01:00:00Z","message":{"id":"x"}}]"#.to_vec();
    let header = smarterwx::sign(SMARTERWX_SECRET, &batch);
    let (status, _) = server
        .post("/smarterwx", Some(("x-swx-signature", &header)), batch)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.seen(), ["unreadable #0"]);
}

#[tokio::test]
async fn the_body_as_received_comes_beside_what_was_read() {
    let server = start(None).await;
    let name = smartcomply::SIGNATURE_HEADER;
    // White space and member order the model does not keep.
    let body = br#"{ "type":"test.failed", "id":"evt_raw",  "created_at":"2026-05-05T14:00:00Z","data":{"test_id":"bft_1","assembly_id":"asm_1","tester_id":"tst_1","result":"fail","test_date":"2026-05-05"} }"#.to_vec();
    let header = signed(&body, OffsetDateTime::now_utc());
    let (status, text) = server
        .post("/raw", Some((name, &header)), body.clone())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    let want = format!("evt_raw {}", String::from_utf8(body).unwrap());
    assert_eq!(server.seen(), [want]);

    let unreadable = br#"{"id":"evt_odd","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":7}}"#.to_vec();
    let header = signed(&unreadable, OffsetDateTime::now_utc());
    let (status, _) = server
        .post("/raw", Some((name, &header)), unreadable.clone())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let want = format!("parked evt_odd {}", String::from_utf8(unreadable).unwrap());
    assert_eq!(server.seen(), [want]);

    // A forged one is refused as without the body.
    let forged = smartcomply::sign("whsec_forged", OffsetDateTime::now_utc(), b"{}");
    let (status, text) = server
        .post("/raw", Some((name, &forged)), b"{}".to_vec())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        text.starts_with("webhook signature does not match"),
        "{text}"
    );

    let batch = common::fixture("smarterwx/batch.json");
    let header = smarterwx::sign(SMARTERWX_SECRET, &batch);
    let (status, _) = server
        .post(
            "/raw-batch",
            Some(("X-SWX-Signature", &header)),
            batch.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let count = smarterwx::parse(&batch).unwrap().len();
    let want = format!("{count} {}", String::from_utf8(batch).unwrap());
    assert_eq!(server.seen(), [want]);
}
