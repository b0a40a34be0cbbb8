//! `examples/axum_postgres.rs`, run as a process on a real PostgreSQL, and
//! driven over HTTP through every answer it gives: the effect written once
//! in the work's transaction, a failure rolled back and recorded, an
//! unreadable delivery parked with its key left free, the database down
//! and back.
#![cfg(all(feature = "axum", feature = "postgres"))]

use crate::common;

use std::time::Duration;

use common::example::{self, Example, smartcomply_event};
use common::postgres::PgServer;
use reqwest::StatusCode;
use sqlx::PgPool;
use time::OffsetDateTime;
use utility_webhooks::idempotency::{Claim, KeyState, PostgresStore, Store};
use utility_webhooks::{smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_postgres_example";
const SMARTERWX_SECRET: &str = "swx postgres example";
const SC: &str = "/webhooks/smartcomply";
const SWX: &str = "/webhooks/smarterwx";

fn signed(body: &[u8]) -> (&'static str, String) {
    example::smartcomply_signed(SMARTCOMPLY_SECRET, body)
}

/// How many rows of `webhook_effects` hold `key`.
async fn effects(pool: &PgPool, key: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_effects WHERE key = $1")
        .bind(key)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_example_does_each_delivery_once_and_gives_every_answer() {
    let Some(mut server) = PgServer::own() else {
        return;
    };
    let binary = example::binary("axum_postgres", "axum,postgres");
    let env = [
        ("DATABASE_URL", server.url()),
        ("SMARTCOMPLY_WEBHOOK_SECRET", SMARTCOMPLY_SECRET),
        ("SMARTERWX_WEBHOOK_SECRET", SMARTERWX_SECRET),
    ];
    let receiver = Example::start(&binary, &env, true);
    let store = PostgresStore::connect(server.url()).await.unwrap();
    let pool = store.pool().clone();
    let get = reqwest::get(format!("{}{SWX}", receiver.base));
    assert_eq!(get.await.unwrap().status(), StatusCode::OK);

    // 204 with its effect, once; the resend 204 with nothing done.
    let event = smartcomply_event("evt_pg_example_1");
    for _ in 0..2 {
        let (status, _) = receiver.post(SC, signed(&event), &event).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    assert_eq!(effects(&pool, "smartcomply:evt_pg_example_1").await, 1);

    // A batch: each notification once, also when it is sent again.
    let batch = common::fixture("smarterwx/batch.json");
    let header = || ("X-SWX-Signature", smarterwx::sign(SMARTERWX_SECRET, &batch));
    for _ in 0..2 {
        let (status, _) = receiver.post(SWX, header(), &batch).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let notifications = smarterwx::parse(&batch).unwrap();
    assert_eq!(notifications.len(), 3);
    for n in &notifications {
        assert_eq!(effects(&pool, &n.idempotency_key()).await, 1);
    }

    // 401 forged: nothing done.
    let forged = smartcomply_event("evt_pg_example_forged");
    let header = (
        smartcomply::SIGNATURE_HEADER,
        smartcomply::sign("whsec_forger", OffsetDateTime::now_utc(), &forged),
    );
    let (status, _) = receiver.post(SC, header, &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(effects(&pool, "smartcomply:evt_pg_example_forged").await, 0);

    // Parked: signed but unreadable, kept as sent, acknowledged, and its
    // key left free for a version that can read it.
    let unreadable = br#"{"id":"evt_pg_example_bad","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":7}}"#;
    let (status, _) = receiver.post(SC, signed(unreadable), unreadable).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let parked: Vec<String> = sqlx::query_scalar("SELECT raw FROM webhook_parked")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(parked, [std::str::from_utf8(unreadable).unwrap()]);
    let later = store
        .claim("smartcomply:evt_pg_example_bad", Duration::from_secs(5))
        .await
        .unwrap();
    let Claim::Acquired(lease) = later else {
        panic!("parking left the key free: {later:?}");
    };
    store.release(&lease).await.unwrap();

    // 500: the work's SQL fails (its table is gone), is rolled back and
    // released, and the error stays with the key; once the table is back,
    // the resend does it, once.
    sqlx::raw_sql("ALTER TABLE webhook_effects RENAME TO webhook_effects_away")
        .execute(&pool)
        .await
        .unwrap();
    let failing = smartcomply_event("evt_pg_example_fails");
    let (status, _) = receiver.post(SC, signed(&failing), &failing).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let status = store.status("smartcomply:evt_pg_example_fails").await;
    let status = status.unwrap().unwrap();
    assert_eq!((status.state, status.attempts), (KeyState::Free, 1));
    let error = status.last_error.unwrap();
    assert!(error.contains("webhook_effects"), "{error}");
    sqlx::raw_sql("ALTER TABLE webhook_effects_away RENAME TO webhook_effects")
        .execute(&pool)
        .await
        .unwrap();
    let (status, _) = receiver.post(SC, signed(&failing), &failing).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(effects(&pool, "smartcomply:evt_pg_example_fails").await, 1);

    // 503: the database is down, and nothing is done; once it is back,
    // the first resend is done.
    server.stop();
    let down = smartcomply_event("evt_pg_example_down");
    let (status, _) = receiver.post(SC, signed(&down), &down).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    server.restart();
    let (status, _) = receiver.post(SC, signed(&down), &down).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let pool = PgPool::connect(server.url()).await.unwrap();
    assert_eq!(effects(&pool, "smartcomply:evt_pg_example_down").await, 1);
    receiver.quiet();
}
