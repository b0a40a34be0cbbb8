//! A complete receiver for both vendors, on one shared store, in sixty
//! lines: the extractor verifies, `idempotency::run` does each delivery's
//! work once in a task of its own, and `Answer` says what to reply.
//!
//! ```text
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... SMARTERWX_WEBHOOK_SECRET=... PORT=3000 \
//!   cargo run --example axum_minimal --features axum,redis
//! ```
//!
//! Claims are in memory, or in Redis with `REDIS_URL`, so that several
//! instances share the load. Each line on stdout is one unit of work:
//! `processed <id>` (the id escaped: sender text stays on one line) or
//! `parked {..}` (one JSON line). `examples/axum_receiver.rs` adds what a
//! service tunes: the lease, a dead-letter file, simulated work time.

use std::{env::var, io::Write, sync::Arc, time::Duration};

use axum::{Router, extract::FromRef, extract::State, routing::get, routing::post};
use futures_util::{StreamExt, stream};
use serde_json::json;
use utility_webhooks::idempotency::{self, Answer, DynStore, MemoryStore, RedisStore};
use utility_webhooks::{Unreadable, axum::Verified, smartcomply, smarterwx};

/// How many units of one delivery run at once: a batch of thousands of
/// notifications waits its turn rather than take every store connection.
const PER_DELIVERY: usize = 8;

#[derive(Clone, FromRef)]
struct App {
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
    store: Arc<dyn DynStore>,
}

type Event = Result<smartcomply::Event, Unreadable>;
type Batch = Vec<smarterwx::Item>;
/// One event or notification: its key and its id (escaped by `Display`),
/// or unreadable.
type Unit = Result<(String, String), Unreadable>;

/// The work for one unit, done once for its key, in a task of its own, so
/// that a vendor that hangs up does not cancel it. One the model cannot
/// read is parked under a key of its own (`parked:<key>`): its key stays
/// free for the day a newer model reads it.
async fn once(store: Arc<dyn DynStore>, unit: Unit) -> Answer {
    let (key, line) = match unit {
        Ok((key, id)) => (key, format!("processed {id}")),
        Err(u) => (u.parked_key(), format!("parked {}", json!(u))),
    };
    let task = tokio::spawn(async move {
        // The work: a line on stdout here, a database write in a service.
        let work = |_| async move { writeln!(std::io::stdout(), "{line}") };
        Answer::of(&idempotency::run(&store, &key, Duration::from_secs(10), work).await)
    });
    task.await.unwrap_or(Answer::FAILED)
}

/// Each unit of a delivery, at most `PER_DELIVERY` at once; the answer is
/// the most serious of theirs.
async fn each(app: &App, units: impl IntoIterator<Item = Unit>) -> Answer {
    let runs = stream::iter(units).map(|unit| once(Arc::clone(&app.store), unit));
    let answers: Vec<Answer> = runs.buffer_unordered(PER_DELIVERY).collect().await;
    answers.into_iter().collect()
}

async fn smartcomply_hook(State(app): State<App>, Verified(event): Verified<Event>) -> Answer {
    let unit = event.map(|e| (e.idempotency_key(), e.id.to_string()));
    each(&app, [unit]).await
}

async fn smarterwx_hook(State(app): State<App>, Verified(batch): Verified<Batch>) -> Answer {
    let unit = |n: smarterwx::Notification| (n.idempotency_key(), n.uuid.to_string());
    let units = batch.into_iter().filter_map(smarterwx::Item::into_readable); // stale: never
    each(&app, units.map(|n| n.map(unit))).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = App {
        smartcomply: smartcomply::Verifier::new(var("SMARTCOMPLY_WEBHOOK_SECRET")?)?,
        smarterwx: smarterwx::Verifier::new(var("SMARTERWX_WEBHOOK_SECRET")?)?,
        store: match var("REDIS_URL") {
            Ok(url) => Arc::new(RedisStore::connect(&url).await?),
            Err(_) => Arc::new(MemoryStore::new(100_000, Duration::from_secs(24 * 3600))),
        },
    };
    let router = Router::new() // SmarterWX checks that its endpoint answers a GET
        .route("/", get(|| async {}))
        .route("/webhooks/smartcomply", post(smartcomply_hook))
        .route("/webhooks/smarterwx", get(|| async {}).post(smarterwx_hook))
        .with_state(app);
    let port = var("PORT").unwrap_or_else(|_| "3000".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    Ok(axum::serve(listener, router).await?)
}
