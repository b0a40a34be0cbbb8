//! A webhook receiver for both vendors on axum, that does each delivery's
//! work once and never acknowledges work that did not happen: the one
//! that the crate's tests and benchmarks drive, with the knobs a service
//! tunes. `examples/axum_minimal.rs` and `examples/axum_postgres.rs` are
//! the short ones to start from.
//!
//! ```text
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... SMARTERWX_WEBHOOK_SECRET=... PORT=3000 \
//!   cargo run --example axum_receiver --features axum
//! ```
//!
//! Where claims live:
//!
//! - by default, in this process's memory;
//! - with `REDIS_URL=redis://127.0.0.1:6379/` (and `--features axum,redis`),
//!   in Redis, so that several instances share the load;
//! - with `DATABASE_URL=postgres://..` (and `--features axum,postgres`), in
//!   PostgreSQL, where each job's work inserts a row into
//!   `receiver_effects` (`key`, `token`, `processed_at`) in the same
//!   transaction as its completion (`PostgresStore::complete_in`): exactly
//!   once, a crash included.
//!
//! `WEBHOOK_LEASE_MS` sets the lease (default 10 000 ms: the work renews it
//! while it runs, so it bounds how long a crashed instance holds a key,
//! not how long the work may take). `WORK_DELAY_MS` (default 0) makes each
//! delivery's work take that long, so that anyone can watch what happens
//! when the vendor stops waiting. `DEAD_LETTER_FILE` names a file that
//! parked deliveries are appended to, one JSON line each (default: a
//! `dead letter {..}` line on stderr).
//!
//! `SMARTERWX_MAX_AGE_S` sets a replay window for SmarterWX (off when
//! unset): a notification whose signed `timestamp` is older than that many
//! seconds, or more than 5 minutes ahead, is never processed (`stale <id>`,
//! acknowledged with its batch). The store must keep completed keys at
//! least that long plus the 5 minutes; a window its retention cannot hold
//! (the memory store keeps keys a day, Redis and PostgreSQL 7 days) stops
//! the receiver at start, with the reason.
//!
//! Each delivery's work runs in a task of its own, which the request
//! awaits: when the vendor hangs up (SmarterWX waits 3 s) and the server
//! drops the request, the work goes on, and the vendor's resend is
//! answered `409` while it runs and `204` once it is done.
//!
//! Listens on 127.0.0.1:`PORT` (default 3000):
//!
//! - `POST /webhooks/smartcomply` and `POST /webhooks/smarterwx`: verify
//!   the raw body against the signature header, then claim each SmartComply
//!   event, and each notification of a SmarterWX batch on its own, and do
//!   its work under the claim. Per delivered id it prints one line on
//!   stdout and answers:
//!
//!   | what happened | line | answer |
//!   | --- | --- | --- |
//!   | work done and recorded | `processed <id>` | `204` |
//!   | work done before (a resend) | `duplicate <id>` | `204` |
//!   | work failed, panicked or lost its lease | `failed <id>` | `500` |
//!   | another attempt is still running | `in progress <id>` | `409` + `Retry-After` |
//!   | the store could not be reached | `unavailable <id>` | `503` |
//!   | signed, but the model cannot read it: kept aside with its raw JSON | `parked <id>` | `204` |
//!
//!   A batch gets the most serious of its notifications' answers, so that
//!   the vendor resends it until every part is done; the parts already
//!   done answer `duplicate` then. A forged or unsigned delivery gets
//!   `401`, and a signed body that is not JSON of either vendor's envelope
//!   `400`, with the reason.
//! - `GET /` and `GET /webhooks/smarterwx`: `200` (SmarterWX checks that its
//!   endpoint is reachable).
//!
//! Beside the answer, a verified body that holds what the models do not
//! take in (a new field, enum value or event type) gets a `drift <vendor>
//! <kind> <path>` line on stdout, once per path.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use utility_webhooks::idempotency::{DynStore, MemoryStore};
use utility_webhooks::{smartcomply, smarterwx};
use utility_webhooks_receiver::{DEFAULT_LEASE, Receiver, Work, json_line, postgres, router};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("axum_receiver: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let secret = |var: &str| {
        std::env::var(var).map_err(|_| format!("set {var} to the endpoint's signing secret"))
    };
    let smartcomply = smartcomply::Verifier::new(secret("SMARTCOMPLY_WEBHOOK_SECRET")?)
        .map_err(|e| format!("SMARTCOMPLY_WEBHOOK_SECRET: {e}"))?;
    let smarterwx = smarterwx::Verifier::new(secret("SMARTERWX_WEBHOOK_SECRET")?)
        .map_err(|e| format!("SMARTERWX_WEBHOOK_SECRET: {e}"))?;
    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port
            .parse()
            .map_err(|_| format!("PORT must be a port number, not {port:?}"))?,
        Err(_) => 3000,
    };
    let millis = |var: &str, default: Duration| match std::env::var(var) {
        Ok(ms) => ms
            .parse()
            .map(Duration::from_millis)
            .map_err(|_| format!("{var} must be milliseconds, not {ms:?}")),
        Err(_) => Ok(default),
    };
    let lease = millis("WEBHOOK_LEASE_MS", DEFAULT_LEASE)?;
    let work_delay = millis("WORK_DELAY_MS", Duration::ZERO)?;
    let smarterwx = match std::env::var("SMARTERWX_MAX_AGE_S") {
        Ok(s) => s
            .parse()
            .map(|s| smarterwx.with_max_age(Duration::from_secs(s)))
            .map_err(|_| {
                format!("SMARTERWX_MAX_AGE_S must be a whole number of seconds, not {s:?}")
            })?,
        Err(_) => smarterwx,
    };

    let dead_letters = match std::env::var("DEAD_LETTER_FILE") {
        Ok(path) => Some(Arc::new(std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| format!("DEAD_LETTER_FILE {path}: {e}"))?,
        ))),
        Err(_) => None,
    };

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;

    // One store type, whichever the environment picks, and how long it
    // keeps completed keys: a day in memory.
    let mut postgres_work: Option<Work> = None;
    #[cfg_attr(not(any(feature = "postgres", feature = "redis")), allow(unused_mut))]
    let mut retention = Duration::from_secs(24 * 3600);
    let store: Arc<dyn DynStore> = if let Ok(url) = std::env::var("DATABASE_URL") {
        let store = postgres::connect(&url).await?;
        postgres_work = Some(Arc::new(postgres::work(store.clone(), work_delay)));
        println!("claims in PostgreSQL, lease {lease:?}");
        retention = store.retention();
        Arc::new(store)
    } else if let Ok(url) = std::env::var("REDIS_URL") {
        #[cfg(feature = "redis")]
        {
            let store = utility_webhooks::idempotency::RedisStore::connect(&url)
                .await
                .map_err(|e| format!("REDIS_URL: {e}"))?;
            println!("claims in Redis, lease {lease:?}");
            retention = store.retention();
            Arc::new(store)
        }
        #[cfg(not(feature = "redis"))]
        return Err(format!(
            "REDIS_URL={url:?} is set: build with --features axum,redis"
        ));
    } else {
        // A day's retention; 100 000 ids is far more than a utility
        // receives in one.
        println!("claims in memory, lease {lease:?}");
        Arc::new(MemoryStore::new(100_000, retention))
    };
    // Every replay must be a duplicate or stale: the store keeps each key
    // as long as the window needs.
    smarterwx
        .check_retention(retention)
        .map_err(|e| format!("SMARTERWX_MAX_AGE_S: {e}"))?;
    if let Some(max_age) = smarterwx.max_age() {
        println!("smarterwx max age {}s", max_age.as_secs());
    }
    let receiver = Receiver::new(smartcomply, smarterwx, store).with_lease(lease);
    let mut receiver = configure(receiver, dead_letters, work_delay);
    if let Some(work) = postgres_work {
        // Its effect commits in the same transaction as its completion.
        receiver = receiver.with_work(move |job, lease| work(job, lease));
    }
    println!("listening on http://{address}");
    axum::serve(listener, router(receiver))
        .await
        .map_err(|e| e.to_string())
}

/// Print each delivery's line, spend `work_delay` in each delivery's work,
/// and append parked deliveries to the dead-letter file when there is one.
fn configure(
    receiver: Receiver,
    dead_letters: Option<Arc<std::sync::Mutex<std::fs::File>>>,
    work_delay: Duration,
) -> Receiver {
    let receiver = receiver
        .on_line(|line| println!("{line}"))
        .with_work(move |_, _| {
            Box::pin(async move {
                // A real service writes to its database here.
                tokio::time::sleep(work_delay).await;
                Ok(())
            })
        });
    let Some(file) = dead_letters else {
        return receiver;
    };
    receiver.with_parking(move |parked| {
        let line = json_line(&parked);
        let written = match file.lock() {
            Ok(mut file) => writeln!(file, "{line}").and_then(|()| file.sync_data()),
            Err(_) => Err(std::io::Error::other(
                "the dead-letter file's lock is poisoned",
            )),
        };
        // Not written: the vendor retries, and nothing is lost.
        Box::pin(async move { written.map_err(|e| format!("dead-letter file: {e}")) })
    })
}
