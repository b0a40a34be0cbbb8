//! Feature `tracing`: the spans and events an operator sees, captured with
//! a subscriber, and what they never show: the body, a header value, a
//! secret, a lease token.
#![cfg(feature = "tracing")]

use crate::common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tracing_subscriber::fmt::MakeWriter;
use utility_webhooks::idempotency::{self, Claim, MemoryStore, Store, StoreError, StoreErrorKind};
use utility_webhooks::{smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_tracing_secret_value";
const SMARTERWX_SECRET: &str = "swx tracing secret value";

/// Everything the subscriber writes, in one buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A subscriber that writes every span's fields on each event and on
/// each span's close, without colours.
fn subscriber(out: &Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_max_level(tracing::Level::TRACE)
        .finish()
}

#[test]
fn verifications_have_a_span_with_their_verdict_and_nothing_secret() {
    let out = Captured::default();
    let body = common::fixture("smartcomply/test.failed.json");
    let event = smartcomply::parse(&body).unwrap();
    let header = smartcomply::sign(SMARTCOMPLY_SECRET, OffsetDateTime::now_utc(), &body);
    let swx_body = common::fixture("smarterwx/batch.json");
    let swx_header = smarterwx::sign(SMARTERWX_SECRET, &swx_body);
    tracing::subscriber::with_default(subscriber(&out), || {
        let verifier = smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap();
        verifier.verify_and_parse(&header, &body).unwrap();
        let forged = smartcomply::sign("whsec_other", OffsetDateTime::now_utc(), &body);
        verifier.verify_and_parse(&forged, &body).unwrap_err();
        // Signed, but `test_id` is a number: parked.
        let unreadable = br#"{"id":"evt_unreadable","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":7}}"#;
        let signed = smartcomply::sign(SMARTCOMPLY_SECRET, OffsetDateTime::now_utc(), unreadable);
        verifier.verify_and_parse(&signed, unreadable).unwrap_err();
        let swx = smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap();
        swx.verify_and_parse_each(&swx_header, &swx_body).unwrap();
        // Older than the replay window: stale, not processed.
        let old = br#"[{"uuid":"u-stale","event":"enquiry:create","timestamp":"2020-08-11T07:44:10Z","message":{}}]"#;
        let windowed = swx
            .clone()
            .with_max_age(std::time::Duration::from_secs(3600));
        let items = windowed
            .verify_and_parse_each(smarterwx::sign(SMARTERWX_SECRET, old), old)
            .unwrap();
        assert!(items[0].stale().is_some());
        // A member the model does not know.
        let mut added: serde_json::Value = serde_json::from_slice(&body).unwrap();
        added["data"]["gps_accuracy_m"] = 4.2.into();
        let drift = smartcomply::drift(&serde_json::to_vec(&added).unwrap()).unwrap();
        assert_eq!(drift.len(), 1);
    });
    let text = out.text();
    if std::env::var_os("SHOW_TRACE").is_some() {
        eprintln!("{text}");
    }
    let lines: Vec<&str> = text.lines().collect();
    let span = |needle: &str| {
        lines
            .iter()
            .any(|l| l.contains("webhook.verify") && l.contains(needle))
    };
    assert!(span("vendor=\"smartcomply\""), "{text}");
    assert!(span(&format!("body_len={}", body.len())), "{text}");
    assert!(span("verdict=\"ok\""), "{text}");
    assert!(span("event_type=\"test.failed\""), "{text}");
    assert!(span(&format!("id=\"{}\"", event.id)), "{text}");
    assert!(span("verdict=\"SignatureMismatch\""), "{text}");
    assert!(span("verdict=\"Payload\""), "{text}");
    assert!(
        span("vendor=\"smarterwx\"") && span("notifications=3"),
        "{text}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("webhook.unreadable") && l.contains("id=\"evt_unreadable\"")),
        "{text}"
    );
    assert!(!text.contains("webhook.parked"), "{text}");
    assert!(
        lines.iter().any(|l| l.contains("WARN")
            && l.contains("webhook.stale")
            && l.contains("id=\"u-stale\"")
            && l.contains("index=0")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains("webhook.drift")
            && l.contains("kind=\"unknown_field\"")
            && l.contains("path=\"data.gps_accuracy_m\"")),
        "{text}"
    );
    // Never the secret, the signature, nor the body.
    let signature = header.split("v1=").nth(1).unwrap();
    for secret in [
        SMARTCOMPLY_SECRET,
        SMARTERWX_SECRET,
        signature,
        &swx_header[7..],
        "bft_e5f6a7b8",
        "City Hall",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn runs_have_a_span_with_their_outcome_and_events_to_count() {
    let out = Captured::default();
    let _guard = tracing::subscriber::set_default(subscriber(&out));
    let store = MemoryStore::new(100, Duration::from_secs(3600));
    let lease = Duration::from_secs(10);
    let tokens = Arc::new(Mutex::new(Vec::new()));

    let seen = Arc::clone(&tokens);
    let done = idempotency::run(&store, "smartcomply:evt_run_1", lease, |lease| async move {
        seen.lock().unwrap().push(lease.token().to_owned());
        Ok::<_, &str>(())
    })
    .await
    .unwrap();
    assert!(matches!(done, idempotency::Outcome::Done(())));
    let again = idempotency::run(&store, "smartcomply:evt_run_1", lease, |_| async {
        Ok::<_, &str>(())
    });
    assert!(matches!(
        again.await.unwrap(),
        idempotency::Outcome::Completed
    ));
    let Claim::Acquired(held) = store.claim("smarterwx:busy", lease).await.unwrap() else {
        panic!("a fresh key is free");
    };
    tokens.lock().unwrap().push(held.token().to_owned());
    let busy = idempotency::run(&store, "smarterwx:busy", lease, |_| async {
        Ok::<_, &str>(())
    });
    assert!(matches!(
        busy.await.unwrap(),
        idempotency::Outcome::InProgress { .. }
    ));
    let down = idempotency::run(&Down, "smarterwx:down", lease, |_| async {
        Ok::<_, &str>(())
    });
    assert!(down.await.is_err());

    let text = out.text();
    let has = |needles: &[&str]| text.lines().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(
        has(&[
            "webhook.run",
            "key=\"smartcomply:evt_run_1\"",
            "outcome=\"done\""
        ]),
        "{text}"
    );
    assert!(
        has(&["webhook.duplicate", "key=\"smartcomply:evt_run_1\""]),
        "{text}"
    );
    assert!(has(&["webhook.run", "outcome=\"completed\""]), "{text}");
    assert!(has(&["webhook.in_progress", "retry_after_ms="]), "{text}");
    assert!(
        has(&["webhook.store_unavailable", "key=\"smarterwx:down\""]),
        "{text}"
    );
    assert!(
        has(&["webhook.run", "outcome=\"store_unavailable\""]),
        "{text}"
    );
    for token in tokens.lock().unwrap().iter() {
        assert!(!text.contains(token.as_str()), "a lease token in {text}");
    }
}

/// What `tracing_subscriber::fmt::init()` sets up: `info` and above, no
/// span events, writing to `out` instead of stdout.
fn plain_subscriber(out: &Captured) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .finish()
}

/// The line of `text` that holds every one of `needles`.
fn line_with<'a>(text: &'a str, needles: &[&str]) -> &'a str {
    text.lines()
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line with {needles:?} in:\n{text}"))
}

#[tokio::test(flavor = "current_thread")]
async fn a_plain_fmt_subscriber_prints_refusals_failures_duplicates_and_unreadables() {
    let out = Captured::default();
    let _guard = tracing::subscriber::set_default(plain_subscriber(&out));
    let body = common::fixture("smartcomply/test.failed.json");
    let verifier = smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap();
    // Refused: forged, stale, unsigned.
    let forged = smartcomply::sign("whsec_forger", OffsetDateTime::now_utc(), &body);
    verifier.verify_and_parse(&forged, &body).unwrap_err();
    let stale = OffsetDateTime::now_utc() - time::Duration::hours(1);
    let stale = smartcomply::sign(SMARTCOMPLY_SECRET, stale, &body);
    verifier.verify_and_parse(&stale, &body).unwrap_err();
    let swx = smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap();
    let swx_body = common::fixture("smarterwx/batch.json");
    swx.verify_and_parse_each("", &swx_body).unwrap_err();
    // Signed, but unreadable.
    let unreadable = br#"{"id":"evt_unreadable","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":7}}"#;
    let signed = smartcomply::sign(SMARTCOMPLY_SECRET, OffsetDateTime::now_utc(), unreadable);
    verifier.verify_and_parse(&signed, unreadable).unwrap_err();
    // Work: done, a duplicate, failed (with a forged log line in its
    // error), panicked.
    let store = MemoryStore::new(100, Duration::from_secs(3600));
    let lease = Duration::from_secs(10);
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&tokens);
    let work = |lease: idempotency::Lease| async move {
        seen.lock().unwrap().push(lease.token().to_owned());
        Ok::<_, String>(())
    };
    let done = idempotency::run(&store, "smartcomply:evt_done", lease, work);
    assert!(matches!(
        done.await.unwrap(),
        idempotency::Outcome::Done(())
    ));
    let again = idempotency::run(&store, "smartcomply:evt_done", lease, |_| async {
        Ok::<_, String>(())
    });
    assert!(matches!(
        again.await.unwrap(),
        idempotency::Outcome::Completed
    ));
    let seen = Arc::clone(&tokens);
    let failed = idempotency::run(
        &store,
        "smartcomply:evt_failing",
        lease,
        |lease| async move {
            seen.lock().unwrap().push(lease.token().to_owned());
            Err::<(), _>("insert failed: relation \"repairs\" does not exist\nprocessed evt_FORGED")
        },
    );
    assert!(matches!(
        failed.await.unwrap(),
        idempotency::Outcome::Failed(_)
    ));
    let panicked = idempotency::run(&store, "smarterwx:panicking", lease, |_| async {
        if lease > Duration::ZERO {
            panic!("the handler's bug");
        }
        Ok::<_, String>(())
    });
    assert!(matches!(
        panicked.await.unwrap(),
        idempotency::Outcome::Panicked(_)
    ));

    let text = out.text();
    if std::env::var_os("SHOW_TRACE").is_some() {
        eprintln!("{text}");
    }
    for (kind, status) in [
        ("SignatureMismatch", 401),
        ("TimestampTooOld", 401),
        ("MissingSignature", 401),
    ] {
        let line = line_with(&text, &["webhook.refused", &format!("kind=\"{kind}\"")]);
        assert!(line.contains(" WARN "), "{line}");
        assert!(line.contains(&format!("status={status}")), "{line}");
    }
    let line = line_with(&text, &["webhook.unreadable", "id=\"evt_unreadable\""]);
    assert!(line.contains(" WARN "), "{line}");
    let line = line_with(
        &text,
        &["webhook.duplicate", "key=\"smartcomply:evt_done\""],
    );
    assert!(line.contains(" INFO "), "{line}");
    let line = line_with(
        &text,
        &["webhook.failed", "key=\"smartcomply:evt_failing\""],
    );
    assert!(line.contains(" WARN "), "{line}");
    assert!(line.contains("outcome=\"failed\""), "{line}");
    assert!(
        line.contains(r#"relation \"repairs\" does not exist\\nprocessed evt_FORGED"#),
        "the error, escaped, on its line: {line}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("processed")),
        "a forged line: {text}"
    );
    let line = line_with(&text, &["webhook.failed", "key=\"smarterwx:panicking\""]);
    assert!(line.contains("the handler's bug"), "{line}");
    // Never the secret, the signature, the body, nor a lease token.
    let signature = forged.split("v1=").nth(1).unwrap();
    let mut secrets = vec![
        SMARTCOMPLY_SECRET.to_owned(),
        SMARTERWX_SECRET.to_owned(),
        signature.to_owned(),
        "bft_e5f6a7b8".to_owned(),
        "City Hall".to_owned(),
    ];
    secrets.extend(tokens.lock().unwrap().iter().cloned());
    assert_eq!(secrets.len(), 7);
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "{secret} in {text}");
    }
}

/// `PostgresStore::run_in_transaction` has the `webhook.run` span and the
/// events `run` has.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transaction_helper_has_the_run_span_and_events() {
    use common::postgres::{PgServer, unique_table};
    use utility_webhooks::idempotency::{Outcome, PostgresStore};

    let Some(server) = PgServer::start() else {
        return;
    };
    let store = PostgresStore::connect(server.url())
        .await
        .unwrap()
        .with_table(&unique_table("traced"))
        .unwrap();
    store.migrate().await.unwrap();
    let out = Captured::default();
    let subscriber = plain_subscriber(&out);
    let key = "smartcomply:evt_in_transaction";
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let runs = async {
        for fail in [true, false, false] {
            let seen = Arc::clone(&tokens);
            let outcome = store
                .run_in_transaction(key, Duration::from_secs(10), move |tx, lease| {
                    Box::pin(async move {
                        seen.lock().unwrap().push(lease.token().to_owned());
                        let sql = if fail { "SELECT 1 / 0" } else { "SELECT 1" };
                        sqlx::query(sql).execute(&mut *tx).await?;
                        Ok::<_, sqlx::Error>(())
                    })
                })
                .await
                .unwrap();
            match (fail, &outcome) {
                (true, Outcome::Failed(_)) | (false, Outcome::Done(()) | Outcome::Completed) => {}
                other => panic!("{other:?}"),
            }
        }
    };
    tracing::instrument::WithSubscriber::with_subscriber(runs, subscriber).await;
    let text = out.text();
    let line = line_with(&text, &["webhook.failed", &format!("key=\"{key}\"")]);
    assert!(line.contains("webhook.run{"), "{line}");
    assert!(line.contains("division by zero"), "{line}");
    line_with(&text, &["webhook.duplicate", &format!("key=\"{key}\"")]);
    for token in tokens.lock().unwrap().iter() {
        assert!(!text.contains(token.as_str()), "a lease token in {text}");
    }
}

/// A store that cannot be reached.
struct Down;

impl Store for Down {
    async fn claim(&self, _: &str, _: Duration) -> Result<Claim, StoreError> {
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "connection refused",
        ))
    }

    async fn complete(&self, _: &idempotency::Lease) -> Result<(), StoreError> {
        unreachable!("nothing is claimed")
    }

    async fn release(&self, _: &idempotency::Lease) -> Result<(), StoreError> {
        unreachable!("nothing is claimed")
    }

    async fn extend(&self, _: &mut idempotency::Lease, _: Duration) -> Result<(), StoreError> {
        unreachable!("nothing is claimed")
    }
}

/// The extractor's refusal of a request on its header alone (its body
/// unread) has its span, and a store error answered with a fixed text
/// keeps the store's message in an event.
#[cfg(feature = "axum")]
#[test]
fn a_refusal_before_the_body_and_a_store_error_answered_are_traced() {
    use axum::response::IntoResponse;
    use tower::ServiceExt;
    use utility_webhooks::axum::Verified;

    let out = Captured::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber(&out), || {
        runtime.block_on(async {
            let hook = |Verified(_): Verified<smartcomply::Event>| async {};
            let app = axum::Router::new()
                .route("/", axum::routing::post(hook))
                .with_state(smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap());
            let request = axum::http::Request::post("/")
                .body(axum::body::Body::from("{}"))
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            assert_eq!(response.status(), 401);
            let down = StoreError::new(
                StoreErrorKind::Unavailable,
                "relation \"webhook_claims\" does not exist",
            );
            assert_eq!(down.into_response().status(), 503);
        })
    });
    let text = out.text();
    let has = |needles: &[&str]| text.lines().any(|l| needles.iter().all(|n| l.contains(n)));
    assert!(
        has(&[
            "webhook.verify",
            "verdict=\"MissingSignature\"",
            "body_len=0"
        ]),
        "{text}"
    );
    assert!(has(&["webhook.store_error", "webhook_claims"]), "{text}");
}

/// A body past `READ_APART_ABOVE` is verified and read by `Verified` on
/// one of Tokio's blocking threads, not on the thread that serves the
/// runtime's other requests, and its span still reaches the request's
/// subscriber; a small body is read where the request runs.
#[cfg(feature = "axum")]
#[test]
fn a_large_body_is_read_on_a_blocking_thread_in_the_request_s_subscriber() {
    use axum::{Router, routing::post};
    use tower::ServiceExt as _;
    use utility_webhooks::axum::{READ_APART_ABOVE, Verified};

    let out = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(out.clone())
        .with_ansi(false)
        .with_thread_names(true)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let small = common::small_batch("u-small", 2);
    let large = common::small_batch("u-large", 2_000);
    assert!(small.len() <= READ_APART_ABOVE && large.len() > READ_APART_ABOVE);
    tracing::subscriber::with_default(subscriber, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .thread_name("blocking-reader")
            .build()
            .unwrap();
        runtime.block_on(async {
            let hook = |Verified(batch): Verified<Vec<smarterwx::Item>>| async move {
                batch.len().to_string()
            };
            let router = Router::new()
                .route("/", post(hook))
                .with_state(smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap());
            for (body, count) in [(&small, "2"), (&large, "2000")] {
                let request = axum::http::Request::post("/")
                    .header(
                        smarterwx::SIGNATURE_HEADER,
                        smarterwx::sign(SMARTERWX_SECRET, body),
                    )
                    .body(axum::body::Body::from(body.clone()))
                    .unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), 200);
                let read = axum::body::to_bytes(response.into_body(), 64)
                    .await
                    .unwrap();
                assert_eq!(read, count);
            }
        });
    });
    let text = out.text();
    let closed: Vec<&str> = text
        .lines()
        .filter(|line| line.contains("webhook.verify") && line.contains("close"))
        .collect();
    assert_eq!(closed.len(), 2, "{text}");
    assert!(
        !closed[0].contains("blocking-reader") && closed[0].contains("body_len="),
        "{text}"
    );
    assert!(
        closed[1].contains("blocking-reader") && closed[1].contains("notifications=2000"),
        "{text}"
    );
}

/// The inbox's events: accepted, duplicate and parked when a delivery is
/// stored; processed, failed and dead as workers go; never the JSON or a
/// token.
#[cfg(feature = "postgres")]
#[tokio::test]
async fn inbox_events_say_what_became_of_each_item() {
    use common::inbox::smartcomply_body;
    use common::postgres::{PgServer, unique_table};
    use utility_webhooks::inbox::Inbox;

    let Some(server) = PgServer::start() else {
        return;
    };
    let out = Captured::default();
    // One thread: the workers' tasks report to this subscriber too.
    let _traced = tracing::subscriber::set_default(subscriber(&out));
    let inbox = Inbox::connect(server.url())
        .await
        .unwrap()
        .with_table(&unique_table("traced"))
        .unwrap();
    inbox.migrate().await.unwrap();
    let accept = |body: Vec<u8>| {
        let inbox = inbox.clone();
        async move {
            let read = match smartcomply::parse(&body) {
                Ok(event) => Ok(event),
                Err(utility_webhooks::Error::Payload(e)) => Err(e.unreadable().unwrap().clone()),
                Err(e) => panic!("{e}"),
            };
            inbox.accept(&(read, body)).await.unwrap();
        }
    };
    let secret_text = "SECRET_NOTE_IN_THE_BODY";
    let body = smartcomply_body("evt_traced_ok", "2026-05-05T15:10:00Z", Some(secret_text));
    accept(body.clone()).await;
    accept(body).await;
    accept(smartcomply_body(
        "evt_traced_fails",
        "2026-05-05T15:10:00Z",
        None,
    ))
    .await;
    accept(
        br#"{"id":"evt_traced_unfit","type":"test.failed","created_at":"2026-05-05T15:10:00Z","data":{}}"#
            .to_vec(),
    )
    .await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = inbox
        .worker(|job, _| {
            let fails = job.item().id() == "evt_traced_fails";
            Box::pin(async move { if fails { Err("no luck") } else { Ok(()) } })
        })
        .max_attempts(1)
        .poll(Duration::from_millis(50))
        .shutdown(async move {
            let _ = stopped.await;
        });
    let running = tokio::spawn(worker.run());
    let started = std::time::Instant::now();
    loop {
        let stats = inbox.stats().await.unwrap();
        if stats.done == 1 && stats.dead == 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{stats:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    let text = out.text();
    for (event, key) in [
        ("inbox.accepted", "smartcomply:evt_traced_ok"),
        ("inbox.duplicate", "smartcomply:evt_traced_ok"),
        ("inbox.parked", "smartcomply:evt_traced_unfit"),
        ("inbox.processed", "smartcomply:evt_traced_ok"),
        ("inbox.failed", "smartcomply:evt_traced_fails"),
        ("inbox.dead", "smartcomply:evt_traced_fails"),
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(event) && l.contains(key))
            .unwrap_or_else(|| panic!("no {event} for {key} in:\n{text}"));
        assert!(
            line.contains(&format!("key={key}")) || line.contains(&format!("key=\"{key}\"")),
            "{line}"
        );
    }
    assert!(text.contains("error=\"no luck\""), "{text}");
    assert!(!text.contains(secret_text), "{text}");
    assert!(!text.contains(common::postgres::PASSWORD), "{text}");
}
