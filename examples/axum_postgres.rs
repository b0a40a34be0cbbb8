//! A receiver for both vendors on PostgreSQL, in sixty lines: the
//! extractor verifies, and `PostgresStore::run_in_transaction` writes each
//! event's effect in the transaction that records it done, so that it is
//! done exactly once, a crash included.
//!
//! ```text
//! DATABASE_URL=postgres://user:password@127.0.0.1/db SMARTCOMPLY_WEBHOOK_SECRET=whsec_... \
//!   SMARTERWX_WEBHOOK_SECRET=... PORT=3000 cargo run --example axum_postgres --features axum,postgres
//! ```
//!
//! Each SmartComply event, and each notification of a SmarterWX batch (one
//! at a time, so that a batch holds one connection), inserts one row into
//! `webhook_effects` and answers `204`; a resend does nothing and answers
//! `204` again; a failure rolls back and answers `500`, and the database
//! down `503`. A signed delivery the model cannot read is kept in
//! `webhook_parked` with its JSON as sent, and acknowledged, to be
//! processed after an upgrade; its key stays free for that.
//! `GET /webhooks/smarterwx` answers `200`, as SmarterWX checks.

use std::{env::var, time::Duration};

use axum::{Router, extract::FromRef, extract::State, routing::get, routing::post};
use utility_webhooks::idempotency::{Answer, PostgresStore};
use utility_webhooks::{Unreadable, axum::Verified, smartcomply, smarterwx, sqlx};

#[derive(Clone, FromRef)]
struct App {
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
    store: PostgresStore,
}

type Event = Result<smartcomply::Event, Unreadable>;
type Batch = Vec<smarterwx::Item>;

const TABLES: &str = "CREATE TABLE IF NOT EXISTS webhook_parked (raw text NOT NULL);
    CREATE TABLE IF NOT EXISTS webhook_effects (key text NOT NULL, done_at timestamptz DEFAULT now())";

const INSERT: &str = "INSERT INTO webhook_effects (key) VALUES ($1)";
const PARK: &str = "INSERT INTO webhook_parked (raw) VALUES ($1)";

/// One event or notification done once for its key, in a task of its own,
/// so that a vendor that hangs up does not cancel it. One the model cannot
/// read is parked once, under a key of its own: its own key stays free.
async fn once(store: PostgresStore, unit: Result<String, Unreadable>) -> Answer {
    let task = tokio::spawn(async move {
        let (key, sql, value) = match unit {
            Ok(key) => (key.clone(), INSERT, key),
            Err(unreadable) => (unreadable.parked_key(), PARK, unreadable.into_raw()),
        };
        let ran = store.run_in_transaction(&key, Duration::from_secs(10), move |tx, _| {
            Box::pin(sqlx::query(sql).bind(value).execute(tx))
        });
        Answer::of(&ran.await)
    });
    task.await.unwrap_or(Answer::FAILED)
}

async fn smartcomply_hook(State(app): State<App>, Verified(event): Verified<Event>) -> Answer {
    once(app.store, event.map(|e| e.idempotency_key())).await
}

async fn smarterwx_hook(State(app): State<App>, Verified(batch): Verified<Batch>) -> Answer {
    let mut answer = Answer::ACKNOWLEDGE; // the most serious of the batch's answers
    for n in batch.into_iter().filter_map(smarterwx::Item::into_readable) {
        answer = answer.worst(once(app.store.clone(), n.map(|n| n.idempotency_key())).await);
    }
    answer
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = PostgresStore::connect(&var("DATABASE_URL")?).await?;
    store.migrate().await?;
    sqlx::raw_sql(TABLES).execute(store.pool()).await?;
    let app = App {
        smartcomply: smartcomply::Verifier::new(var("SMARTCOMPLY_WEBHOOK_SECRET")?)?,
        smarterwx: smarterwx::Verifier::new(var("SMARTERWX_WEBHOOK_SECRET")?)?,
        store,
    };
    let router = Router::new() // SmarterWX checks that its endpoint answers a GET
        .route("/webhooks/smartcomply", post(smartcomply_hook))
        .route("/webhooks/smarterwx", get(|| async {}).post(smarterwx_hook))
        .with_state(app);
    let port = var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    Ok(axum::serve(listener, router).await?)
}
