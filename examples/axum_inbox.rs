//! A webhook receiver for both vendors on axum that answers as soon as the
//! delivery is committed to PostgreSQL, and does the work in workers,
//! exactly once, with retries, a dead state and order per key.
//!
//! ```text
//! DATABASE_URL=postgres://user:password@127.0.0.1/db \
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... SMARTERWX_WEBHOOK_SECRET=... \
//!   cargo run --example axum_inbox --features axum,postgres
//! ```
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `DATABASE_URL`, `PORT`, `SMARTCOMPLY_WEBHOOK_SECRET`, `SMARTERWX_WEBHOOK_SECRET` | the database, the port on 127.0.0.1, the signing secrets | port 3000 |
//! | `INBOX_ROLE` | `accept` (HTTP only, no worker), `work` (workers; still serves the console and `GET /`), `both` | `both` |
//! | `INBOX_CONCURRENCY`, `INBOX_LEASE_MS`, `INBOX_MAX_ATTEMPTS`, `INBOX_BACKOFF_MS` | worker settings (backoff: the first delay) | 8, 30000, 10, 1000 |
//! | `WORK_DELAY_MS` | simulated work time inside the handler's transaction | 0 |
//! | `FAIL_IDS` | comma-separated event ids or uuids whose work always fails | none |
//! | `FLAKY_IDS` | ids whose first two attempts fail | none |
//! | `INBOX_ADMIN_TOKEN` | enables the console, guarded by it; unset means no console | unset |
//!
//! Routes: `POST /webhooks/smartcomply` and `POST /webhooks/smarterwx`
//! (roles `accept` and `both`: `202` once committed, `401` unsigned, `400`
//! unreadable as a whole, `413` over 1 MiB, `503` when the database is
//! down), `GET /webhooks/smarterwx` (the vendor's reachability check) and
//! `GET /` (`200`); with `INBOX_ADMIN_TOKEN`, the console under `/inbox/`
//! (`inbox::console`), in every role.
//!
//! The work inserts one row into `receiver_effects(key, order_key,
//! event_time, attempt, processed_at)` (created at start if missing, no
//! unique constraint, so that work done twice would show as two rows),
//! waits `WORK_DELAY_MS`, and returns; the row and the item's completion
//! commit together. Items are ordered by SmarterWX referral and by
//! SmartComply assembly (`inbox::by_subject`).
//!
//! Stdout has one line per item and event: `accepted <id>`,
//! `duplicate <id>`, `parked <id>`, `processed <id>`,
//! `failed <id> attempt <n>`, `dead <id>`; everything else goes to
//! stderr.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRef, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use utility_webhooks::axum::Verified;
use utility_webhooks::idempotency::StoreError;
use utility_webhooks::inbox::{self, Backoff, Inbox, Receipt, WorkerEvent};
use utility_webhooks::{Escaped, Unreadable, smartcomply, smarterwx};

/// What the routes share.
#[derive(Clone, FromRef)]
struct App {
    inbox: Inbox,
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
}

/// A SmartComply delivery: the event (or the signed event the model
/// cannot read), and its body as received.
type SmartComply = (Result<smartcomply::Event, Unreadable>, Bytes);
/// A SmarterWX delivery read notification by notification, and its body.
type SmarterWx = (Vec<smarterwx::Item>, Bytes);

async fn smartcomply_hook(
    State(inbox): State<Inbox>,
    Verified(delivery): Verified<SmartComply>,
) -> Result<Receipt, StoreError> {
    printed(inbox.accept(&delivery).await)
}

async fn smarterwx_hook(
    State(inbox): State<Inbox>,
    Verified(delivery): Verified<SmarterWx>,
) -> Result<Receipt, StoreError> {
    printed(inbox.accept(&delivery).await)
}

/// Print a line per item of the receipt: `accepted`, `duplicate` or
/// `parked`, and its id.
fn printed(receipt: Result<Receipt, StoreError>) -> Result<Receipt, StoreError> {
    match &receipt {
        Ok(receipt) => {
            for item in receipt.items() {
                println!("{} {}", item.admission().as_str(), Escaped(item.label()));
            }
        }
        Err(e) => eprintln!("503: {e}"),
    }
    receipt
}

async fn reachable() -> StatusCode {
    StatusCode::OK
}

/// Which parts run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Accept,
    Work,
    Both,
}

/// The work's table.
const EFFECTS: &str = "\
BEGIN;
SELECT pg_advisory_xact_lock(hashtext('receiver_effects'));
CREATE TABLE IF NOT EXISTS receiver_effects (
    key          text,
    order_key    text,
    event_time   timestamptz,
    attempt      int,
    processed_at timestamptz DEFAULT clock_timestamp()
);
COMMIT;";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("axum_inbox: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `var`, or `None` when it is unset or empty.
fn env(var: &str) -> Option<String> {
    std::env::var(var).ok().filter(|value| !value.is_empty())
}

/// `var` read as a number, or `default`.
fn number<T: std::str::FromStr>(var: &str, default: T) -> Result<T, String> {
    match env(var) {
        Some(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{var} must be a whole number, not {text:?}")),
        None => Ok(default),
    }
}

/// `var` as a set of comma-separated ids.
fn ids(var: &str) -> Arc<HashSet<String>> {
    let text = env(var).unwrap_or_default();
    Arc::new(
        text.split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

async fn run() -> Result<(), String> {
    let secret = |var: &str| env(var).ok_or_else(|| format!("set {var} to the signing secret"));
    let smartcomply = smartcomply::Verifier::new(secret("SMARTCOMPLY_WEBHOOK_SECRET")?)
        .map_err(|e| format!("SMARTCOMPLY_WEBHOOK_SECRET: {e}"))?;
    let smarterwx = smarterwx::Verifier::new(secret("SMARTERWX_WEBHOOK_SECRET")?)
        .map_err(|e| format!("SMARTERWX_WEBHOOK_SECRET: {e}"))?;
    let url = env("DATABASE_URL").ok_or("set DATABASE_URL to postgres://user:password@host/db")?;
    let port: u16 = number("PORT", 3000)?;
    let role = match env("INBOX_ROLE").as_deref() {
        None | Some("both") => Role::Both,
        Some("accept") => Role::Accept,
        Some("work") => Role::Work,
        Some(other) => {
            return Err(format!(
                "INBOX_ROLE must be accept, work or both, not {other:?}"
            ));
        }
    };
    let concurrency: usize = number("INBOX_CONCURRENCY", 8)?;
    let lease = Duration::from_millis(number("INBOX_LEASE_MS", 30_000)?);
    let max_attempts: u32 = number("INBOX_MAX_ATTEMPTS", 10)?;
    let backoff = Duration::from_millis(number("INBOX_BACKOFF_MS", 1000)?);
    let work_delay = Duration::from_millis(number("WORK_DELAY_MS", 0)?);
    let (fail_ids, flaky_ids) = (ids("FAIL_IDS"), ids("FLAKY_IDS"));

    let inbox = Inbox::connect(&url)
        .await
        .map_err(|e| format!("DATABASE_URL: {e}"))?
        .with_order_key(inbox::by_subject);
    inbox.migrate().await.map_err(|e| e.to_string())?;
    sqlx::raw_sql(EFFECTS)
        .execute(inbox.pool())
        .await
        .map_err(|e| format!("creating receiver_effects: {e}"))?;

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;

    let mut app = Router::new().route("/", get(reachable));
    if role != Role::Work {
        app = app
            .route("/webhooks/smartcomply", post(smartcomply_hook))
            .route("/webhooks/smarterwx", get(reachable).post(smarterwx_hook));
    }
    if let Some(token) = env("INBOX_ADMIN_TOKEN") {
        app = app.merge(console(&inbox, &token));
    }
    let app = app
        .layer(DefaultBodyLimit::max(1024 * 1024))
        .with_state(App {
            inbox: inbox.clone(),
            smartcomply,
            smarterwx,
        });

    let workers = (role != Role::Accept).then(|| {
        let worker = inbox
            .worker(move |job, tx| {
                let (fail_ids, flaky_ids) = (Arc::clone(&fail_ids), Arc::clone(&flaky_ids));
                Box::pin(async move {
                    let item = job.item();
                    let event_time = item.event_time().unix_timestamp_nanos() as f64 / 1e9;
                    sqlx::query(
                        "INSERT INTO receiver_effects (key, order_key, event_time, attempt) \
                         VALUES ($1, $2, to_timestamp($3), $4)",
                    )
                    .bind(job.key())
                    .bind(job.order_key())
                    .bind(event_time)
                    .bind(i32::try_from(job.attempt()).unwrap_or(i32::MAX))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| format!("insert: {e}"))?;
                    tokio::time::sleep(work_delay).await;
                    // Failing after the insert: the rollback takes it back.
                    if fail_ids.contains(item.id()) {
                        return Err("FAIL_IDS: this work always fails".to_owned());
                    }
                    if flaky_ids.contains(item.id()) && job.attempt() <= 2 {
                        return Err(format!("FLAKY_IDS: attempt {} fails", job.attempt()));
                    }
                    Ok(())
                })
            })
            .concurrency(concurrency)
            .lease(lease)
            .max_attempts(max_attempts)
            .backoff(Backoff::exponential(backoff))
            .on_event(|event| match event {
                WorkerEvent::Processed { .. }
                | WorkerEvent::Failed { .. }
                | WorkerEvent::Dead { .. }
                | WorkerEvent::Parked { .. } => println!("{event}"),
                other => eprintln!("{other}"),
            })
            .shutdown(stopped());
        tokio::spawn(worker.run())
    });

    eprintln!("listening on http://{address} ({role:?})");
    axum::serve(listener, app)
        .with_graceful_shutdown(stopped())
        .await
        .map_err(|e| e.to_string())?;
    if let Some(workers) = workers {
        match workers.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

/// The operators' console at `/inbox/` (its page, and its JSON under
/// `/inbox/api/`), guarded by `INBOX_ADMIN_TOKEN`: a bearer token, or the
/// HTTP Basic password with any user name.
fn console(inbox: &Inbox, token: &str) -> Router<App> {
    match inbox::console::AdminToken::new(token) {
        Some(token) => {
            Router::new().nest_service("/inbox", token.guard(inbox::console::router(inbox.clone())))
        }
        None => Router::new(),
    }
}

/// Completes on Ctrl-C (or SIGTERM on Unix).
async fn stopped() {
    let interrupted = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminated =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupted.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupted => {}
            _ = terminated.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupted.await;
}
