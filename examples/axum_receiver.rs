//! A webhook receiver for both vendors on axum, that does each delivery's
//! work once and never acknowledges work that did not happen.
//!
//! ```text
//! SMARTCOMPLY_WEBHOOK_SECRET=whsec_... SMARTERWX_WEBHOOK_SECRET=... PORT=3000 \
//!   cargo run --example axum_receiver --features http
//! ```
//!
//! With `REDIS_URL=redis://127.0.0.1:6379/` and `--features http,redis`,
//! claims live in Redis, so several instances can share the load; without
//! it, in this process's memory. `WEBHOOK_LEASE_MS` sets the lease
//! (default 10 000 ms: a vendor's retry after a crash succeeds within
//! seconds, and the work done before answering has 8 s).
//!
//! Listens on 127.0.0.1:`PORT` (default 3000):
//!
//! - `POST /webhooks/smartcomply` and `POST /webhooks/smarterwx`: verify
//!   the raw body against the signature header, then claim each SmartComply
//!   event, and each notification of a SmarterWX batch on its own, and do
//!   its work under the claim. Per delivered id it prints one line on
//!   stdout and answers:
//!
//!   | what happened                     | line                | answer |
//!   | --------------------------------- | ------------------- | ------ |
//!   | work done and recorded            | `processed <id>`    | `204`  |
//!   | work done before (a retry)        | `duplicate <id>`    | `204`  |
//!   | work failed or ran out of time    | `failed <id>`       | `500`  |
//!   | another attempt is still running  | `in progress <id>`  | `409` + `Retry-After` |
//!   | the store could not be reached    | `unavailable <id>`  | `503`  |
//!
//!   A batch gets the most serious of its notifications' answers, so that
//!   the vendor resends it; the notifications already done answer
//!   `duplicate` then. A forged or unsigned delivery gets `401`, a signed
//!   body that is not JSON of the documented shape `400`, with the reason.
//! - `GET /` and `GET /webhooks/smarterwx`: `200` (SmarterWX checks that its
//!   endpoint is reachable).
//!
//! `router` is what a service would mount; `tests/axum_receiver.rs` and
//! `tests/delivery_faults.rs` drive the same router over HTTP.

use std::fmt;
use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use utility_webhooks::idempotency::{self, MemoryStore, Outcome, Store};
use utility_webhooks::{Error, smartcomply, smarterwx};

/// The largest body a webhook route reads.
///
/// The signature can only be checked once the whole body is in memory, so
/// anyone who can reach the port can make the receiver buffer whatever
/// they send before it knows the request is forged. Real deliveries are a
/// few kilobytes; 1 MiB leaves ample room and bounds what a forged request
/// costs. Larger bodies get `413`.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// The default lease: long enough for work done before answering
/// (SmarterWX wants an answer within 3 seconds), short enough that a
/// vendor's retry after a crash succeeds within seconds.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// One unit of work: a SmartComply event or one SmarterWX notification.
#[derive(Debug, Clone)]
pub enum Job {
    /// A verified SmartComply event.
    SmartComply(smartcomply::Event),
    /// One verified notification of a SmarterWX batch.
    SmarterWx(Box<smarterwx::Notification>),
}

impl Job {
    /// The vendor's id: the event id or the notification uuid.
    pub fn id(&self) -> &str {
        match self {
            Job::SmartComply(event) => event.id.as_str(),
            Job::SmarterWx(notification) => notification.uuid.as_str(),
        }
    }

    /// The key claimed in the store; the two vendors' never meet.
    pub fn key(&self) -> String {
        match self {
            Job::SmartComply(event) => event.idempotency_key(),
            Job::SmarterWx(notification) => notification.idempotency_key(),
        }
    }
}

/// What the work returns: `Err` with a reason makes the vendor retry.
pub type WorkFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// The work to do for each job, run under its claim.
pub type Work = Arc<dyn Fn(Job, idempotency::Lease) -> WorkFuture + Send + Sync>;

/// What the receiver did with one delivered id: one line on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The work was done and recorded (or done, with the record failing).
    Processed(String),
    /// The work was done before: acknowledged, nothing done.
    Duplicate(String),
    /// The work failed or ran out of time: released for the retry.
    Failed(String),
    /// Another attempt holds the claim: the vendor must retry later.
    InProgress(String),
    /// The idempotency store could not be reached: nothing done.
    Unavailable(String),
}

impl fmt::Display for Delivery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Delivery::Processed(id) => write!(f, "processed {id}"),
            Delivery::Duplicate(id) => write!(f, "duplicate {id}"),
            Delivery::Failed(id) => write!(f, "failed {id}"),
            Delivery::InProgress(id) => write!(f, "in progress {id}"),
            Delivery::Unavailable(id) => write!(f, "unavailable {id}"),
        }
    }
}

/// Everything the handlers share: the verifiers, the idempotency store,
/// the lease, the work, and where each delivery's line goes.
pub struct Receiver<S> {
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
    store: S,
    lease: Duration,
    work: Work,
    on_delivery: Box<dyn Fn(Delivery) + Send + Sync>,
}

impl<S: Store + 'static> Receiver<S> {
    /// A receiver whose work does nothing (a real service writes to its
    /// database here) and whose lines are dropped.
    pub fn new(
        smartcomply: smartcomply::Verifier,
        smarterwx: smarterwx::Verifier,
        store: S,
    ) -> Self {
        Receiver {
            smartcomply,
            smarterwx,
            store,
            lease: DEFAULT_LEASE,
            work: Arc::new(|_, _| Box::pin(async { Ok(()) })),
            on_delivery: Box::new(|_| {}),
        }
    }

    /// Claim each job for `lease`.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Run `work` for each job, under its claim.
    pub fn with_work(
        mut self,
        work: impl Fn(Job, idempotency::Lease) -> WorkFuture + Send + Sync + 'static,
    ) -> Self {
        self.work = Arc::new(work);
        self
    }

    /// Hand each delivery's line to `on_delivery`.
    pub fn on_delivery(mut self, on_delivery: impl Fn(Delivery) + Send + Sync + 'static) -> Self {
        self.on_delivery = Box::new(on_delivery);
        self
    }

    /// Do `job` once, and say what to answer for it.
    async fn process(&self, job: Job) -> Answer {
        let id = job.id().to_owned();
        let work = Arc::clone(&self.work);
        let outcome = idempotency::run(&self.store, &job.key(), self.lease, move |lease| {
            work(job, lease)
        })
        .await;
        let (delivery, answer) = match outcome {
            Ok(Outcome::Done(())) => (Delivery::Processed(id), Answer::Acknowledge),
            Ok(Outcome::DoneNotRecorded((), err)) => {
                // Done: a retry would only redo it once the lease expires.
                eprintln!("processed {id}, but not recorded: {err}");
                (Delivery::Processed(id), Answer::Acknowledge)
            }
            Ok(Outcome::Completed) => (Delivery::Duplicate(id), Answer::Acknowledge),
            Ok(Outcome::Failed(reason)) => {
                eprintln!("failed {id}: {reason}");
                (Delivery::Failed(id), Answer::Failed)
            }
            Ok(Outcome::TimedOut) => {
                eprintln!("failed {id}: the work ran out of time");
                (Delivery::Failed(id), Answer::Failed)
            }
            Ok(Outcome::InProgress { retry_after }) => {
                (Delivery::InProgress(id), Answer::InProgress(retry_after))
            }
            Err(err) => {
                eprintln!("unavailable {id}: {err}");
                (
                    Delivery::Unavailable(id),
                    Answer::Unavailable(Error::from(err)),
                )
            }
        };
        (self.on_delivery)(delivery);
        answer
    }
}

/// The answer for one job, ordered from the least to the most serious.
#[derive(Debug)]
enum Answer {
    Acknowledge,
    InProgress(Duration),
    Failed,
    Unavailable(Error),
}

impl Answer {
    fn rank(&self) -> u8 {
        match self {
            Answer::Acknowledge => 0,
            Answer::InProgress(_) => 1,
            Answer::Failed => 2,
            Answer::Unavailable(_) => 3,
        }
    }

    /// The more serious of two answers (for two `409`s, the later retry).
    fn worst(self, other: Answer) -> Answer {
        match (self, other) {
            (Answer::InProgress(a), Answer::InProgress(b)) => Answer::InProgress(a.max(b)),
            (a, b) if b.rank() > a.rank() => b,
            (a, _) => a,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Acknowledge => StatusCode::NO_CONTENT.into_response(),
            Answer::InProgress(retry_after) => {
                // Whole seconds, rounded up, at least one.
                let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                let value = HeaderValue::from(seconds.max(1));
                (StatusCode::CONFLICT, [(header::RETRY_AFTER, value)]).into_response()
            }
            Answer::Failed => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            Answer::Unavailable(err) => (err.status_code(), err.to_string()).into_response(),
        }
    }
}

/// The receiver's routes.
pub fn router<S: Store + 'static>(receiver: Receiver<S>) -> Router {
    Router::new()
        .route("/", get(reachable))
        .route("/webhooks/smartcomply", post(smartcomply_webhook::<S>))
        .route(
            "/webhooks/smarterwx",
            get(reachable).post(smarterwx_webhook::<S>),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(receiver))
}

async fn reachable() -> StatusCode {
    StatusCode::OK
}

async fn smartcomply_webhook<S: Store + 'static>(
    State(receiver): State<Arc<Receiver<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receiver
        .smartcomply
        .verify_and_parse_headers(&headers, &body)
    {
        Ok(event) => receiver
            .process(Job::SmartComply(event))
            .await
            .into_response(),
        Err(err) => reject(err),
    }
}

async fn smarterwx_webhook<S: Store + 'static>(
    State(receiver): State<Arc<Receiver<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let notifications = match receiver.smarterwx.verify_and_parse_headers(&headers, &body) {
        Ok(notifications) => notifications,
        Err(err) => return reject(err),
    };
    // Each notification under its own claim, all at once: a batch that
    // half failed is finished, not redone, by its retry.
    let mut jobs = tokio::task::JoinSet::new();
    for notification in notifications {
        let receiver = Arc::clone(&receiver);
        jobs.spawn(async move {
            receiver
                .process(Job::SmarterWx(Box::new(notification)))
                .await
        });
    }
    let mut answer = Answer::Acknowledge;
    while let Some(joined) = jobs.join_next().await {
        // A job that panicked did not finish: the vendor must retry.
        answer = answer.worst(joined.unwrap_or(Answer::Failed));
    }
    answer.into_response()
}

/// `401` or `400` with the reason (messages never hold a secret or an
/// expected signature).
fn reject(err: Error) -> Response {
    eprintln!("rejected: {err}");
    (err.status_code(), err.to_string()).into_response()
}

#[allow(dead_code)] // unused where the tests include this file
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

#[allow(dead_code)]
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
    let lease = match std::env::var("WEBHOOK_LEASE_MS") {
        Ok(ms) => Duration::from_millis(
            ms.parse()
                .map_err(|_| format!("WEBHOOK_LEASE_MS must be milliseconds, not {ms:?}"))?,
        ),
        Err(_) => DEFAULT_LEASE,
    };

    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;

    let app = match std::env::var("REDIS_URL") {
        #[cfg(feature = "redis")]
        Ok(url) => {
            let store = idempotency::RedisStore::connect(&url)
                .await
                .map_err(|e| format!("REDIS_URL: {e}"))?;
            println!("claims in Redis, lease {lease:?}");
            router(
                Receiver::new(smartcomply, smarterwx, store)
                    .with_lease(lease)
                    .on_delivery(|delivery| println!("{delivery}")),
            )
        }
        #[cfg(not(feature = "redis"))]
        Ok(_) => return Err("REDIS_URL is set: build with --features http,redis".into()),
        Err(_) => {
            // A day's retention; 100 000 ids is far more than a utility
            // receives in one.
            let store = MemoryStore::new(100_000, Duration::from_secs(24 * 3600));
            println!("claims in memory, lease {lease:?}");
            router(
                Receiver::new(smartcomply, smarterwx, store)
                    .with_lease(lease)
                    .on_delivery(|delivery| println!("{delivery}")),
            )
        }
    };
    println!("listening on http://{address}");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}
