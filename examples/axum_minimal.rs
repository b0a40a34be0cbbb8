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
//! instances share the load. `examples/axum_receiver.rs` adds what a
//! service tunes: the lease, a dead-letter file, simulated work time.

use std::{env::var, future::Future, io::Write, sync::Arc, time::Duration};

use axum::Router;
use axum::extract::{FromRef, State};
use axum::routing::{get, post};
use serde_json::json;
use utility_webhooks::idempotency::{self, Answer, DynStore, MemoryStore, RedisStore};
use utility_webhooks::{Unreadable, axum::Verified, smartcomply, smarterwx};

#[derive(Clone, FromRef)]
struct App {
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
    store: Arc<dyn DynStore>,
}

type Event = Result<smartcomply::Event, Unreadable>;
type Batch = Vec<smarterwx::Item>;

/// The work for one event or notification, done once for its key (one
/// the model cannot read is parked: printed as a JSON line), in a task of
/// its own, so that a vendor that hangs up does not cancel it.
fn once(app: &App, unit: Result<(String, String), Unreadable>) -> impl Future<Output = Answer> {
    let (key, line) = match unit {
        Ok((key, id)) => (Some(key), format!("processed {id}")),
        Err(u) => (u.idempotency_key(), format!("parked {}", json!(u))),
    };
    let store = Arc::clone(&app.store);
    let task = tokio::spawn(async move {
        // The work: a line on stdout here, a database write in a service.
        let work = |_| async move { writeln!(std::io::stdout(), "{line}") };
        let key = key.unwrap_or_default(); // an unreadable delivery may have no id
        Answer::of(&idempotency::run(&store, &key, Duration::from_secs(10), work).await)
    });
    async move { task.await.unwrap_or(Answer::FAILED) }
}

async fn smartcomply_hook(State(app): State<App>, Verified(event): Verified<Event>) -> Answer {
    once(&app, event.map(|e| (e.idempotency_key(), e.id.to_string()))).await
}

async fn smarterwx_hook(State(app): State<App>, Verified(batch): Verified<Batch>) -> Answer {
    let units = batch.into_iter().filter_map(|item| match item {
        smarterwx::Item::Notification(n) => Some(Ok((n.idempotency_key(), n.uuid.to_string()))),
        smarterwx::Item::Unreadable(u) => Some(Err(u)),
        _ => None, // stale: none here, since no replay window (`with_max_age`) is set
    });
    let tasks: Vec<_> = units.map(|unit| once(&app, unit)).collect();
    let mut answer = Answer::ACKNOWLEDGE; // the most serious of the batch's answers
    for task in tasks {
        answer = answer.worst(task.await);
    }
    answer
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
