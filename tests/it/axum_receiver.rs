//! The `axum_receiver` example's router, served on a loopback port and
//! driven over HTTP: every fixture, retries, every answer of the
//! idempotency store, and every way a delivery is refused.
#![cfg(feature = "axum")]

use crate::receiver;

use crate::common;

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

use receiver::{BODY_LIMIT, Delivery, Job, Parked, Receiver, WorkFuture, router};
use utility_webhooks::idempotency::{Claim, Lease, MemoryStore, Store, StoreError, StoreErrorKind};

const SMARTCOMPLY_SECRET: &str = "whsec_receiver_test";
const SMARTERWX_SECRET: &str = "swx receiver test";
const SMARTCOMPLY: &str = "/webhooks/smartcomply";
const SMARTERWX: &str = "/webhooks/smarterwx";

/// A receiver on an ephemeral loopback port, the deliveries it recorded,
/// and a client whose every request is bounded in time.
struct Server {
    base: String,
    client: reqwest::Client,
    log: Arc<Mutex<Vec<Delivery>>>,
    parked: Arc<Mutex<Vec<Parked>>>,
}

async fn start() -> Server {
    start_with(memory(), |_, _| Box::pin(async { Ok(()) })).await
}

fn memory() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new(1000, Duration::from_secs(3600)))
}

/// A receiver on `store` doing `work`, on an ephemeral loopback port.
async fn start_with<S: Store + 'static>(
    store: S,
    work: impl Fn(Job, Lease) -> WorkFuture + Send + Sync + 'static,
) -> Server {
    start_with_lease(store, Duration::from_secs(5), work).await
}

/// [`start_with`], claiming each job for `lease`.
async fn start_with_lease<S: Store + 'static>(
    store: S,
    lease: Duration,
    work: impl Fn(Job, Lease) -> WorkFuture + Send + Sync + 'static,
) -> Server {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let parked = Arc::new(Mutex::new(Vec::new()));
    let dead_letters = Arc::clone(&parked);
    let receiver = Receiver::new(
        smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap(),
        smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap(),
        store,
    )
    .with_lease(lease)
    .with_work(work)
    .with_parking(move |p| {
        dead_letters.lock().unwrap().push(p);
        Box::pin(async { Ok(()) })
    })
    .on_delivery(move |delivery| sink.lock().unwrap().push(delivery));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(receiver)).await.unwrap() });
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Server {
        base: format!("http://{address}"),
        client,
        log,
        parked,
    }
}

impl Server {
    /// POST `body` to `path` with `headers`; the status and the answer's
    /// body.
    async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    async fn get(&self, path: &str) -> StatusCode {
        let url = format!("{}{path}", self.base);
        self.client.get(url).send().await.unwrap().status()
    }

    /// A SmartComply delivery of `body`, signed at `at` with `secret`.
    async fn smartcomply(&self, secret: &str, at: OffsetDateTime, body: &[u8]) -> StatusCode {
        let header = smartcomply::sign(secret, at, body);
        let headers = [(smartcomply::SIGNATURE_HEADER, header.as_str())];
        self.post(SMARTCOMPLY, &headers, body).await.0
    }

    /// A SmarterWX delivery of `body`, signed with `secret`.
    async fn smarterwx(&self, secret: &str, body: &[u8]) -> StatusCode {
        let header = smarterwx::sign(secret, body);
        // As SmarterWX spells it; names are case-insensitive.
        self.post(SMARTERWX, &[("X-SWX-Signature", &header)], body)
            .await
            .0
    }

    /// What was recorded since the last call.
    fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn sorted(mut lines: Vec<Delivery>) -> Vec<String> {
    let mut lines: Vec<String> = lines.drain(..).map(|d| d.to_string()).collect();
    lines.sort();
    lines
}

fn processed(ids: &[&str]) -> Vec<Delivery> {
    ids.iter()
        .map(|id| Delivery::Processed(id.to_string()))
        .collect()
}

fn duplicate(ids: &[&str]) -> Vec<Delivery> {
    ids.iter()
        .map(|id| Delivery::Duplicate(id.to_string()))
        .collect()
}

#[tokio::test]
async fn every_smartcomply_fixture_is_processed_once() {
    let server = start().await;
    let fixtures = common::fixtures_in("smartcomply");
    assert_eq!(fixtures.len(), 12);
    for (name, body) in &fixtures {
        let id = smartcomply::parse(body).unwrap().id;
        let status = server.smartcomply(SMARTCOMPLY_SECRET, now(), body).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        assert_eq!(server.take(), processed(&[id.as_str()]), "{name}");
    }
    // Each retry (signed anew, as a resend is) is acknowledged, not redone.
    for (name, body) in &fixtures {
        let id = smartcomply::parse(body).unwrap().id;
        let status = server.smartcomply(SMARTCOMPLY_SECRET, now(), body).await;
        assert!(status.is_success(), "{name}: {status}");
        assert_eq!(server.take(), duplicate(&[id.as_str()]), "{name}");
    }
}

#[tokio::test]
async fn every_smarterwx_notification_is_processed_once() {
    let server = start().await;
    let fixtures = common::fixtures_in("smarterwx");
    assert_eq!(fixtures.len(), 5);
    let mut total = 0;
    for (name, body) in &fixtures {
        let uuids: Vec<String> = smarterwx::parse(body)
            .unwrap()
            .iter()
            .map(|n| n.uuid.as_str().to_owned())
            .collect();
        let uuids: Vec<&str> = uuids.iter().map(String::as_str).collect();
        total += uuids.len();
        // A batch's notifications are processed concurrently: compare
        // the lines in any order.
        let status = server.smarterwx(SMARTERWX_SECRET, body).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{name}");
        assert_eq!(sorted(server.take()), sorted(processed(&uuids)), "{name}");

        let status = server.smarterwx(SMARTERWX_SECRET, body).await;
        assert!(status.is_success(), "{name}: {status}");
        assert_eq!(sorted(server.take()), sorted(duplicate(&uuids)), "{name}");
    }
    assert_eq!(total, 7, "the batch holds three notifications");
}

#[tokio::test]
async fn vendors_are_deduplicated_apart() {
    let server = start().await;
    let sc = br#"{"id":"same-id","type":"x.new","created_at":"2026-05-05T14:00:00Z","data":{}}"#;
    let swx =
        br#"{"uuid":"same-id","event":"x:new","timestamp":"2026-05-05T14:00:00Z","message":{}}"#;
    assert!(
        server
            .smartcomply(SMARTCOMPLY_SECRET, now(), sc)
            .await
            .is_success()
    );
    assert!(server.smarterwx(SMARTERWX_SECRET, swx).await.is_success());
    assert_eq!(server.take(), processed(&["same-id", "same-id"]));
}

#[tokio::test]
async fn bad_signatures_are_401() {
    let server = start().await;
    let sc = common::fixture("smartcomply/test.failed.json");
    let swx = common::fixture("smarterwx/referral_create.json");
    let status = server.smartcomply("whsec_other", now(), &sc).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let status = server.smarterwx("other", &swx).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Signed, then changed on the way.
    let header = smarterwx::sign(SMARTERWX_SECRET, &swx);
    let mut tampered = swx.clone();
    tampered.push(b' ');
    let headers = [(smarterwx::SIGNATURE_HEADER, header.as_str())];
    let (status, text) = server.post(SMARTERWX, &headers, &tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        text.starts_with("webhook signature does not match: the body must be the exact bytes sent"),
        "{text}"
    );
    assert!(!text.contains(&header[7..]));

    let headers = [(smartcomply::SIGNATURE_HEADER, "t=1,v1=zz")];
    let (status, _) = server.post(SMARTCOMPLY, &headers, &sc).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.take(), []);
}

#[tokio::test]
async fn replayed_old_timestamp_is_401() {
    let server = start().await;
    let body = common::fixture("smartcomply/test.submitted.json");
    let old = now() - time::Duration::minutes(10);
    let header = smartcomply::sign(SMARTCOMPLY_SECRET, old, &body);
    let headers = [(smartcomply::SIGNATURE_HEADER, header.as_str())];
    let (status, text) = server.post(SMARTCOMPLY, &headers, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, "webhook timestamp is older than the tolerance");
    let future = now() + time::Duration::minutes(10);
    let status = server.smartcomply(SMARTCOMPLY_SECRET, future, &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.take(), []);
}

#[tokio::test]
async fn signed_bodies_that_are_not_json_are_400() {
    let server = start().await;
    for body in [
        &br#"{"id":"evt_1","type":"test.failed","#[..],
        // No envelope to keep: no id, so nothing to park it under.
        br#"{"type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{}}"#,
        b"\xff not json",
    ] {
        let header = smartcomply::sign(SMARTCOMPLY_SECRET, now(), body);
        let headers = [(smartcomply::SIGNATURE_HEADER, header.as_str())];
        let (status, text) = server.post(SMARTCOMPLY, &headers, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.starts_with("invalid webhook payload"), "{text}");
    }
    for body in [&b"[{\"uuid\":"[..], b"\"a string\"", b"[1] trailing"] {
        assert_eq!(
            server.smarterwx(SMARTERWX_SECRET, body).await,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(server.take(), []);
    assert!(server.parked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_smartcomply_event_the_model_cannot_read_is_parked_and_acknowledged() {
    let server = start().await;
    // `result_value` is a string where the model reads a number.
    let data = r#"{ "permit_id": "prm_1", "facility_id": "fac_1",
        "exceedances": [ { "parameter": "zinc", "result_value": "high", "limit": 2.61, "unit": "mg/L" } ] }"#;
    let body = format!(
        r#"{{"id":"evt_unreadable_1","type":"iu.exceedance_detected","created_at":"2026-05-05T14:00:00Z","data":{data}}}"#
    );
    let status = server
        .smartcomply(SMARTCOMPLY_SECRET, now(), body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.take(), [Delivery::Parked("evt_unreadable_1".into())]);
    {
        let parked = server.parked.lock().unwrap();
        assert_eq!(parked.len(), 1);
        let p = &parked[0];
        assert_eq!(p.vendor(), "smartcomply");
        assert_eq!(
            p.idempotency_key().as_deref(),
            Some("smartcomply:evt_unreadable_1")
        );
        assert_eq!(p.event_type(), Some("iu.exceedance_detected"));
        assert_eq!(p.raw(), body, "the event, byte for byte");
        assert!(p.raw().contains(data));
        let error = p.error().to_string();
        assert!(error.contains("result_value"), "{error}");
    }
    // Its retry is acknowledged and parked only once.
    let status = server
        .smartcomply(SMARTCOMPLY_SECRET, now(), body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        server.take(),
        [Delivery::Duplicate("evt_unreadable_1".into())]
    );
    assert_eq!(server.parked.lock().unwrap().len(), 1);
    // Forged, it is still refused.
    let status = server
        .smartcomply("whsec_forged", now(), body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_batch_with_one_unreadable_notification_processes_two_and_parks_one() {
    let server = start().await;
    let batch = String::from_utf8(common::fixture("smarterwx/batch.json")).unwrap();
    let notifications = smarterwx::parse(batch.as_bytes()).unwrap();
    assert_eq!(notifications.len(), 3);
    // Make the middle notification's `message.id` a string.
    let middle = serde_json::to_string(&notifications[1]).unwrap();
    let bad = middle.replacen(
        r#""message":{"id":"#,
        r#""message":{"id":"not a number","was":"#,
        1,
    );
    assert_ne!(bad, middle);
    let body = format!(
        "[{},\n  {bad},\n{}]",
        serde_json::to_string(&notifications[0]).unwrap(),
        serde_json::to_string(&notifications[2]).unwrap()
    );
    let status = server.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let uuid = |i: usize| notifications[i].uuid.to_string();
    let want = vec![
        Delivery::Processed(uuid(0)),
        Delivery::Parked(uuid(1)),
        Delivery::Processed(uuid(2)),
    ];
    assert_eq!(sorted(server.take()), sorted(want));
    {
        let parked = server.parked.lock().unwrap();
        assert_eq!(parked.len(), 1);
        let p = &parked[0];
        assert_eq!(p.vendor(), "smarterwx");
        assert_eq!(p.index(), Some(1));
        assert_eq!(p.id(), Some(uuid(1).as_str()));
        assert_eq!(p.event_type(), Some(notifications[1].event_type()));
        assert_eq!(p.raw(), bad, "the notification, byte for byte");
        let error = p.error().to_string();
        assert!(error.contains("[1].message.id"), "{error}");
    }
    // The retry finds all three done.
    let status = server.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let want: Vec<Delivery> = (0..3).map(|i| Delivery::Duplicate(uuid(i))).collect();
    assert_eq!(sorted(server.take()), sorted(want));
    assert_eq!(server.parked.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn missing_empty_or_repeated_headers_are_401() {
    let server = start().await;
    let sc = common::fixture("smartcomply/webhook.test.json");
    let swx = common::fixture("smarterwx/nulls.json");
    let (status, text) = server.post(SMARTCOMPLY, &[], &sc).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(text, "webhook signature header is missing or empty");
    let (status, _) = server.post(SMARTERWX, &[], &swx).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server
        .post(SMARTERWX, &[(smarterwx::SIGNATURE_HEADER, "")], &swx)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A valid signature in the other vendor's header is no signature.
    let header = smarterwx::sign(SMARTCOMPLY_SECRET, &sc);
    let headers = [(smarterwx::SIGNATURE_HEADER, header.as_str())];
    let (status, _) = server.post(SMARTCOMPLY, &headers, &sc).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Two headers, even both valid: one was added on the way.
    let header = smarterwx::sign(SMARTERWX_SECRET, &swx);
    let headers = [
        (smarterwx::SIGNATURE_HEADER, header.as_str()),
        (smarterwx::SIGNATURE_HEADER, header.as_str()),
    ];
    let (status, text) = server.post(SMARTERWX, &headers, &swx).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(text.starts_with("webhook signature header is malformed: SmartComply sends `t=<unix seconds>,v1=<64 hex digits>`, SmarterWX `sha256=<64 hex digits>`"), "{text}");
    assert_eq!(server.take(), []);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let server = start().await;
    let mut body = b"[".to_vec();
    body.resize(BODY_LIMIT + 1, b' ');
    let status = server.smarterwx(SMARTERWX_SECRET, &body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(server.take(), []);
}

#[tokio::test]
async fn reachability_checks_are_200() {
    let server = start().await;
    assert_eq!(server.get("/").await, StatusCode::OK);
    assert_eq!(server.get(SMARTERWX).await, StatusCode::OK);
    assert_eq!(
        server.get(SMARTCOMPLY).await,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(server.get("/webhooks/other").await, StatusCode::NOT_FOUND);
}

/// A store that cannot be reached.
struct Down;

impl Store for Down {
    async fn claim(&self, _: &str, _: Duration) -> Result<Claim, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "connecting: connection refused",
        ))
    }

    async fn complete(&self, _: &Lease) -> Result<(), StoreError> {
        unreachable!("nothing is claimed")
    }

    async fn release(&self, _: &Lease) -> Result<(), StoreError> {
        unreachable!("nothing is claimed")
    }

    async fn extend(&self, _: &mut Lease, _: Duration) -> Result<(), StoreError> {
        unreachable!("nothing is claimed")
    }
}

#[tokio::test]
async fn failed_work_is_500_and_its_retry_runs_it_again() {
    let attempts = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&attempts);
    let server = start_with(memory(), move |job, _| {
        let mut attempts = counter.lock().unwrap();
        *attempts += 1;
        let first = *attempts == 1;
        let id = job.id().to_owned();
        Box::pin(async move {
            if first {
                Err(format!("database down while storing {id}"))
            } else {
                Ok(())
            }
        })
    })
    .await;
    let body = common::fixture("smartcomply/test.failed.json");
    let id = smartcomply::parse(&body).unwrap().id;
    let status = server.smartcomply(SMARTCOMPLY_SECRET, now(), &body).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(server.take(), [Delivery::Failed(id.to_string())]);
    // The vendor's retry claims the released key and does the work.
    let status = server.smartcomply(SMARTCOMPLY_SECRET, now(), &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.take(), processed(&[id.as_str()]));
    assert_eq!(*attempts.lock().unwrap(), 2);
}

#[tokio::test]
async fn a_retry_during_the_first_attempt_is_409_with_retry_after() {
    let store = memory();
    let server = start_with(Arc::clone(&store), |_, _| Box::pin(async { Ok(()) })).await;
    let body = common::fixture("smartcomply/assembly.due_soon.json");
    let event = smartcomply::parse(&body).unwrap();
    // Another instance holds the claim for 3 s.
    let Claim::Acquired(held) = store
        .claim(&event.idempotency_key(), Duration::from_secs(3))
        .await
        .unwrap()
    else {
        panic!("a fresh key is free");
    };
    let header = smartcomply::sign(SMARTCOMPLY_SECRET, now(), &body);
    let response = server
        .client
        .post(format!("{}{SMARTCOMPLY}", server.base))
        .header(smartcomply::SIGNATURE_HEADER, header)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CONFLICT);
    // What is left of the 3 s, rounded up to whole seconds.
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    assert_eq!(server.take(), [Delivery::InProgress(event.id.to_string())]);

    // The first attempt fails and releases: the retry does the work.
    store.release(&held).await.unwrap();
    let status = server.smartcomply(SMARTCOMPLY_SECRET, now(), &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.take(), processed(&[event.id.as_str()]));
}

#[tokio::test]
async fn a_store_that_is_down_is_503_and_nothing_is_done() {
    let server = start_with(Down, |_, _| panic!("no work without a claim")).await;
    let body = common::fixture("smartcomply/permit.expiring.json");
    let id = smartcomply::parse(&body).unwrap().id;
    let header = smartcomply::sign(SMARTCOMPLY_SECRET, now(), &body);
    let headers = [(smartcomply::SIGNATURE_HEADER, header.as_str())];
    let (status, text) = server.post(SMARTCOMPLY, &headers, &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // A fixed text: the store's own message stays in the receiver's logs.
    assert_eq!(text, utility_webhooks::axum::STORE_UNAVAILABLE);
    assert!(!text.contains("refused"), "{text}");
    assert_eq!(server.take(), [Delivery::Unavailable(id.to_string())]);
    // Forged deliveries are still refused before the store is asked.
    let status = server.smartcomply("whsec_forged", now(), &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(server.take(), []);
}

#[tokio::test]
async fn a_batch_that_half_failed_is_finished_not_redone_by_its_retry() {
    let body = common::fixture("smarterwx/batch.json");
    let notifications = smarterwx::parse(&body).unwrap();
    assert_eq!(notifications.len(), 3);
    let bad = notifications[1].uuid.to_string();
    let runs = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&runs);
    let failing = bad.clone();
    let server = start_with(memory(), move |job, _| {
        let id = job.id().to_owned();
        let mut runs = log.lock().unwrap();
        let fail = id == failing && !runs.contains(&id);
        runs.push(id);
        Box::pin(async move { if fail { Err("no".into()) } else { Ok(()) } })
    })
    .await;

    let others = [&notifications[0], &notifications[2]].map(|n| n.uuid.to_string());
    let status = server.smarterwx(SMARTERWX_SECRET, &body).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let mut want = vec![Delivery::Failed(bad.clone())];
    want.extend(others.iter().cloned().map(Delivery::Processed));
    assert_eq!(sorted(server.take()), sorted(want));

    let status = server.smarterwx(SMARTERWX_SECRET, &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut want = vec![Delivery::Processed(bad.clone())];
    want.extend(others.iter().cloned().map(Delivery::Duplicate));
    assert_eq!(sorted(server.take()), sorted(want));
    // Each notification's work ran once, the failed one twice.
    assert_eq!(runs.lock().unwrap().len(), 4);
}

/// Sends `body` as the vendor would, with a client that stops waiting
/// after 3 s, once a second until it gets a `2xx`; the statuses it got
/// (`None` for an attempt it gave up on).
async fn impatient_vendor(
    server: &Server,
    path: &str,
    header: (&str, String),
    body: &[u8],
) -> Vec<Option<StatusCode>> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let mut answers = Vec::new();
    while answers.len() < 12 {
        let sent = client
            .post(format!("{}{path}", server.base))
            .header(header.0, &header.1)
            .body(body.to_vec())
            .send()
            .await;
        let status = sent.ok().map(|r| r.status());
        answers.push(status);
        if status.is_some_and(|s| s.is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vendor_that_stops_waiting_does_not_cancel_the_work() {
    // Each job takes 4 s, four times its lease (renewed while it runs),
    // and more than the vendors wait (SmarterWX: 3 s).
    let done = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&done);
    let server = start_with_lease(memory(), Duration::from_secs(1), move |job, _| {
        let record = Arc::clone(&record);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(4)).await;
            record.lock().unwrap().push(job.id().to_owned());
            Ok(())
        })
    })
    .await;
    let batch = common::fixture("smarterwx/referral_create.json");
    let uuid = smarterwx::parse(&batch).unwrap()[0].uuid.to_string();
    let event = common::fixture("smartcomply/test.failed.json");
    let id = smartcomply::parse(&event).unwrap().id.to_string();
    let (swx, sc) = tokio::join!(
        impatient_vendor(
            &server,
            SMARTERWX,
            ("X-SWX-Signature", smarterwx::sign(SMARTERWX_SECRET, &batch)),
            &batch
        ),
        impatient_vendor(
            &server,
            SMARTCOMPLY,
            (
                smartcomply::SIGNATURE_HEADER,
                smartcomply::sign(SMARTCOMPLY_SECRET, now(), &event)
            ),
            &event
        ),
    );
    for answers in [&swx, &sc] {
        // The first attempt was given up on; resends found the work in
        // progress, then done.
        assert_eq!(answers[0], None, "{answers:?}");
        assert_eq!(
            answers.last(),
            Some(&Some(StatusCode::NO_CONTENT)),
            "{answers:?}"
        );
        assert!(
            answers[1..answers.len() - 1]
                .iter()
                .all(|a| *a == Some(StatusCode::CONFLICT)),
            "{answers:?}"
        );
    }
    // Done exactly once each, and the resends that found it done say so.
    let mut done = done.lock().unwrap().clone();
    done.sort();
    let mut want = vec![id.clone(), uuid.clone()];
    want.sort();
    assert_eq!(done, want);
    let lines = sorted(server.take());
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("processed")).count(),
        2,
        "{lines:?}"
    );
    assert!(lines.contains(&format!("duplicate {id}")), "{lines:?}");
    assert!(lines.contains(&format!("duplicate {uuid}")), "{lines:?}");
}
