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
use utility_webhooks::{Vendor, smartcomply, smarterwx};

use receiver::{BODY_LIMIT, Job, Line, Parked, Receiver, WorkFuture, router};
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
    log: Arc<Mutex<Vec<Line>>>,
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
    let verifier = smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap();
    start_with_verifier(store, lease, verifier, work).await
}

/// [`start_with_lease`], with `smarterwx` as the SmarterWX verifier.
async fn start_with_verifier<S: Store + 'static>(
    store: S,
    lease: Duration,
    smarterwx: smarterwx::Verifier,
    work: impl Fn(Job, Lease) -> WorkFuture + Send + Sync + 'static,
) -> Server {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    let parked = Arc::new(Mutex::new(Vec::new()));
    let dead_letters = Arc::clone(&parked);
    let receiver = Receiver::new(
        smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap(),
        smarterwx,
        store,
    )
    .with_lease(lease)
    .with_work(work)
    .with_parking(move |p| {
        dead_letters.lock().unwrap().push(p);
        Box::pin(async { Ok(()) })
    })
    .on_line(move |line| sink.lock().unwrap().push(line));
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
    fn take(&self) -> Vec<Line> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn sorted(mut lines: Vec<Line>) -> Vec<String> {
    let mut lines: Vec<String> = lines.drain(..).map(|d| d.to_string()).collect();
    lines.sort();
    lines
}

fn processed(ids: &[&str]) -> Vec<Line> {
    ids.iter()
        .map(|id| Line::Processed(id.to_string()))
        .collect()
}

fn duplicate(ids: &[&str]) -> Vec<Line> {
    ids.iter()
        .map(|id| Line::Duplicate(id.to_string()))
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
    assert_eq!(server.take(), [Line::Parked("evt_unreadable_1".into())]);
    {
        let parked = server.parked.lock().unwrap();
        assert_eq!(parked.len(), 1);
        let p = &parked[0];
        assert_eq!(p.vendor(), Vendor::SmartComply);
        assert_eq!(p.idempotency_key(), "smartcomply:evt_unreadable_1");
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
    assert_eq!(server.take(), [Line::Duplicate("evt_unreadable_1".into())]);
    assert_eq!(server.parked.lock().unwrap().len(), 1);
    // Forged, it is still refused.
    let status = server
        .smartcomply("whsec_forged", now(), body.as_bytes())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Parking left the event's own key free: once it reads (a resend
    // after an upgrade of the model, here the value fixed), its work is
    // done, not answered as done before.
    let mut readable: serde_json::Value =
        serde_json::from_slice(&common::fixture("smartcomply/iu.exceedance_detected.json"))
            .unwrap();
    readable["id"] = "evt_unreadable_1".into();
    let readable = readable.to_string();
    let status = server
        .smartcomply(SMARTCOMPLY_SECRET, now(), readable.as_bytes())
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(server.take(), processed(&["evt_unreadable_1"]));
    // And the stored raw JSON, parsed again, runs under the same key.
    let stored = server.parked.lock().unwrap()[0].clone();
    let again = smartcomply::parse(readable.as_bytes()).unwrap();
    assert_eq!(again.idempotency_key(), stored.idempotency_key());
    assert_ne!(stored.parked_key(), stored.idempotency_key());
}

#[tokio::test]
async fn a_batch_runs_a_few_notifications_at_a_time_and_all_of_them() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (now_running, peak) = (Arc::clone(&running), Arc::clone(&most));
    let server = start_with(memory(), move |_, _| {
        let (running, most) = (Arc::clone(&now_running), Arc::clone(&peak));
        Box::pin(async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
    })
    .await;
    const COUNT: usize = 200;
    let body = common::small_batch("u-batch", COUNT);
    let status = server.smarterwx(SMARTERWX_SECRET, &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let ids: Vec<String> = (0..COUNT).map(|i| format!("u-batch-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    assert_eq!(sorted(server.take()), sorted(processed(&ids)));
    let most = most.load(Ordering::SeqCst);
    assert!(most <= receiver::PER_DELIVERY, "{most} at once");
    assert!(most > 1, "run one at a time");
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
        Line::Processed(uuid(0)),
        Line::Parked(uuid(1)),
        Line::Processed(uuid(2)),
    ];
    assert_eq!(sorted(server.take()), sorted(want));
    {
        let parked = server.parked.lock().unwrap();
        assert_eq!(parked.len(), 1);
        let p = &parked[0];
        assert_eq!(p.vendor(), Vendor::SmarterWx);
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
    let want: Vec<Line> = (0..3).map(|i| Line::Duplicate(uuid(i))).collect();
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
    assert_eq!(server.take(), [Line::Failed(id.to_string())]);
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
    assert_eq!(server.take(), [Line::InProgress(event.id.to_string())]);

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
    assert_eq!(server.take(), [Line::Unavailable(id.to_string())]);
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
    let mut want = vec![Line::Failed(bad.clone())];
    want.extend(others.iter().cloned().map(Line::Processed));
    assert_eq!(sorted(server.take()), sorted(want));

    let status = server.smarterwx(SMARTERWX_SECRET, &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let mut want = vec![Line::Processed(bad.clone())];
    want.extend(others.iter().cloned().map(Line::Duplicate));
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

/// A batch of 300 against a pool of 4 connections that waits at most 1 s
/// for one, each notification's work holding a connection for 20 ms in
/// its transaction: all processed once, none refused for want of a
/// connection.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_batch_on_a_small_pool_is_processed_whole() {
    use crate::common::postgres::{PgServer, unique_table};
    use sqlx::postgres::PgPoolOptions;
    use utility_webhooks::idempotency::PostgresStore;

    let Some(server) = PgServer::start() else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(1))
        .connect(server.url())
        .await
        .unwrap();
    let store = PostgresStore::new(pool.clone())
        .with_table(&unique_table("claims"))
        .unwrap();
    store.migrate().await.unwrap();
    sqlx::raw_sql(receiver::postgres::EFFECTS_TABLE)
        .execute(&pool)
        .await
        .unwrap();
    let work = receiver::postgres::work(store.clone(), Duration::from_millis(20));
    let server_under_test = start_with(store, work).await;
    const COUNT: usize = 300;
    let prefix = unique_table("u_pool");
    let body = common::small_batch(&prefix, COUNT);
    let status = server_under_test.smarterwx(SMARTERWX_SECRET, &body).await;
    let lines = server_under_test.take();
    let refused: Vec<&Line> = lines
        .iter()
        .filter(|d| !matches!(d, Line::Processed(_)))
        .collect();
    assert!(
        refused.is_empty(),
        "{} refused: {:?}",
        refused.len(),
        &refused[..refused.len().min(3)]
    );
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (rows, keys): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT key) FROM receiver_effects WHERE key LIKE $1",
    )
    .bind(format!("smarterwx:{prefix}-%"))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((rows, keys), (COUNT as i64, COUNT as i64));
}

/// A notification of `uuid` at `timestamp` (RFC 3339, nanoseconds kept),
/// of an event the model keeps as it is.
fn notification_at(uuid: &str, timestamp: OffsetDateTime) -> String {
    use time::format_description::well_known::Rfc3339;
    let timestamp = timestamp.format(&Rfc3339).unwrap();
    format!(
        r#"{{"uuid":"{uuid}","event":"enquiry:create","timestamp":"{timestamp}","message":{{"note":"x"}}}}"#
    )
}

/// Work that records the id of each job it does.
fn recording(done: &Arc<Mutex<Vec<String>>>) -> impl Fn(Job, Lease) -> WorkFuture + use<> {
    let done = Arc::clone(done);
    move |job, _| {
        done.lock().unwrap().push(job.id().to_owned());
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test]
async fn a_batch_replayed_after_its_keys_expired_is_refused_with_a_window_and_done_again_without() {
    // Completed keys are kept 2 s; the window is 1 s, and half a second
    // ahead: the retention holds it (1.5 s).
    let retention = Duration::from_secs(2);
    let window = smarterwx::Verifier::new(SMARTERWX_SECRET)
        .unwrap()
        .with_max_age(Duration::from_secs(1))
        .with_clock_skew(Duration::from_millis(500));
    window.check_retention(retention).unwrap();
    let (with, without) = (
        Arc::new(Mutex::new(Vec::new())),
        Arc::new(Mutex::new(Vec::new())),
    );
    let store = || Arc::new(MemoryStore::new(1000, retention));
    let lease = Duration::from_secs(5);
    let guarded = start_with_verifier(store(), lease, window, recording(&with)).await;
    let open = start_with_lease(store(), lease, recording(&without)).await;
    // A delivery captured on its way, stamped a little ahead so that it is
    // fresh when first sent however slow the machine.
    let body = format!(
        "[{}]",
        notification_at("u-replayed", now() + Duration::from_millis(400))
    );
    for server in [&guarded, &open] {
        let status = server.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(server.take(), processed(&["u-replayed"]));
    }
    // Sent again while the key is kept: a duplicate, either way.
    for server in [&guarded, &open] {
        server.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
        assert_eq!(server.take(), duplicate(&["u-replayed"]));
    }
    // Sent again once the stores forgot the key.
    tokio::time::sleep(retention + Duration::from_millis(300)).await;
    let status = guarded.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
    assert_eq!(
        status,
        StatusCode::NO_CONTENT,
        "acknowledged, not processed"
    );
    assert_eq!(guarded.take(), [Line::Stale("u-replayed".into())]);
    assert_eq!(*with.lock().unwrap(), ["u-replayed"], "done once");
    // Without a window (the default), the replay is done again.
    let status = open.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(open.take(), processed(&["u-replayed"]));
    assert_eq!(
        *without.lock().unwrap(),
        ["u-replayed", "u-replayed"],
        "done twice"
    );
}

#[tokio::test]
async fn a_mixed_batch_processes_the_fresh_parks_the_unreadable_and_drops_the_stale() {
    let day = Duration::from_secs(24 * 3600);
    let old = notification_at("u-old", now() - 10 * day);
    let ahead = notification_at("u-ahead", now() + Duration::from_secs(3600));
    let unreadable = r#"{"uuid":"u-bad","event":"referral:create","timestamp":"2020-08-11T07:44:10Z","message":{"id":"x"}}"#;
    // Small, and past `READ_APART_ABOVE`, which is read on a blocking
    // thread: the same answers.
    let padded = notification_at("u-2", now()).replacen(
        r#""note":"x""#,
        &format!(
            r#""note":"{}""#,
            "x".repeat(utility_webhooks::axum::READ_APART_ABOVE)
        ),
        1,
    );
    for last in [notification_at("u-2", now()), padded] {
        let done = Arc::new(Mutex::new(Vec::new()));
        let verifier = smarterwx::Verifier::new(SMARTERWX_SECRET)
            .unwrap()
            .with_max_age(day);
        let server =
            start_with_verifier(memory(), Duration::from_secs(5), verifier, recording(&done)).await;
        let body = format!(
            "[{},{old},\n {unreadable},{ahead},{last}]",
            notification_at("u-1", now() - day / 2),
        );
        let status = server.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let want = vec![
            Line::Processed("u-1".into()),
            Line::Stale("u-old".into()),
            Line::Parked("u-bad".into()),
            Line::Stale("u-ahead".into()),
            Line::Processed("u-2".into()),
        ];
        assert_eq!(sorted(server.take()), sorted(want), "{} B", body.len());
        let mut work = done.lock().unwrap().clone();
        work.sort();
        assert_eq!(work, ["u-1", "u-2"], "the stale ones are never processed");
        // Its resend: the fresh ones are duplicates, the stale ones still
        // stale, and nothing more is done.
        let status = server.smarterwx(SMARTERWX_SECRET, body.as_bytes()).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let lines = sorted(server.take());
        assert_eq!(
            lines,
            [
                "duplicate u-1",
                "duplicate u-2",
                "duplicate u-bad",
                "stale u-ahead",
                "stale u-old"
            ]
        );
        assert_eq!(done.lock().unwrap().len(), 2);
        // Forged: refused whole, small or large.
        let status = server.smarterwx("not the secret", body.as_bytes()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

/// `examples/axum_receiver.rs` as a process with `env` (on a port of its
/// choosing, a memory store), its standard output and error piped.
fn receiver_process(env: &[(&str, &str)]) -> std::process::Child {
    let mut command = std::process::Command::new(common::example::binary("axum_receiver", "axum"));
    command
        .env("PORT", "0") // it prints the port it listens on
        .env("SMARTCOMPLY_WEBHOOK_SECRET", SMARTCOMPLY_SECRET)
        .env("SMARTERWX_WEBHOOK_SECRET", SMARTERWX_SECRET)
        .env_remove("REDIS_URL")
        .env_remove("DATABASE_URL")
        .env_remove("SMARTERWX_MAX_AGE_S")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    command.spawn().unwrap()
}

#[test]
fn the_example_refuses_a_window_its_store_cannot_hold_at_start() {
    for (max_age, message) in [
        // The memory store keeps keys a day: a day's window, plus the
        // skew, is longer.
        (
            "86400",
            "axum_receiver: SMARTERWX_MAX_AGE_S: idempotency retention of 86400s is shorter than the replay window needs (86700s: the maximum age plus the clock skew): a delivery replayed after its key expired would be done again",
        ),
        (
            "3 days",
            r#"axum_receiver: SMARTERWX_MAX_AGE_S must be a whole number of seconds, not "3 days""#,
        ),
    ] {
        let child = receiver_process(&[("SMARTERWX_MAX_AGE_S", max_age)]);
        let output = child.wait_with_output().unwrap();
        assert!(!output.status.success(), "{max_age}: {:?}", output.status);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end(), message, "{max_age}");
    }
}

#[test]
fn the_example_with_a_window_drops_stale_notifications() {
    use std::io::{BufRead, BufReader};

    let mut child = receiver_process(&[("SMARTERWX_MAX_AGE_S", "3600")]);
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || stdout.next().unwrap().unwrap();
    assert_eq!(next(), "claims in memory, lease 10s");
    assert_eq!(next(), "smarterwx max age 3600s");
    let base = next().strip_prefix("listening on ").unwrap().to_owned();
    let body = format!(
        "[{},{}]",
        notification_at("u-fresh", now()),
        notification_at("u-stale", now() - Duration::from_secs(7200)),
    );
    let header = smarterwx::sign(SMARTERWX_SECRET, body.as_bytes());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
            .post(format!("{base}{SMARTERWX}"))
            .header("X-SWX-Signature", header)
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Each delivery's line; the drift report's lines aside.
    let mut lines: Vec<String> = std::iter::repeat_with(next)
        .filter(|line| !line.starts_with("drift "))
        .take(2)
        .collect();
    lines.sort();
    assert_eq!(lines, ["processed u-fresh", "stale u-stale"]);
    let _ = child.kill();
    let _ = child.wait();
}
