//! Dev-only: the receiver behind `examples/axum_receiver.rs`, for both
//! vendors on axum, that does each delivery's work once and never
//! acknowledges work that did not happen. The example runs it; the
//! integration tests and the benchmarks of `utility-webhooks` drive its
//! router over HTTP with work and stores of their own.
//!
//! What it answers, per delivered id, with one line:
//!
//!   | what happened                     | line                | answer |
//!   | --------------------------------- | ------------------- | ------ |
//!   | work done and recorded            | `processed <id>`    | `204`  |
//!   | work done before (a retry)        | `duplicate <id>`    | `204`  |
//!   | work failed, panicked or lost its lease | `failed <id>` | `500`  |
//!   | another attempt is still running  | `in progress <id>`  | `409` + `Retry-After` |
//!   | the store could not be reached    | `unavailable <id>`  | `503`  |
//!
//!   A batch gets the most serious of its notifications' answers, so that
//!   the vendor resends it; the notifications already done answer
//!   `duplicate` then.
//!
//!   A signed notification outside the SmarterWX verifier's replay window
//!   (`smarterwx::Verifier::with_max_age`) is never processed: it gets a
//!   `stale <id>` line, its reason on stderr, and is acknowledged with its
//!   batch (`204`), since a stale notification never becomes fresh and any
//!   other answer would only make SmarterWX resend it.
//!
//!   A signed event or notification that the model cannot read is *parked*
//!   under its own claim: written aside with its raw JSON, byte for byte,
//!   and acknowledged (`parked <id>`, `204`), since a `400` would only
//!   start retries that cannot succeed. It goes to the file named by
//!   `DEAD_LETTER_FILE` (one JSON line per delivery), or else to stderr as
//!   a `dead letter {..}` line. The rest of its batch is processed as
//!   usual. A forged or unsigned delivery gets `401`; a signed body that is
//!   not JSON at all (nor a SmartComply envelope) `400`, with the reason.
//! - `GET /` and `GET /webhooks/smarterwx`: `200` (SmarterWX checks that its
//!   endpoint is reachable).
//!
//! Beside the answer, a verified body that holds what the models do not
//! take in (a new field, enum value or event type) gets a `drift <vendor>
//! <kind> <path>` line on stdout, once per path per process.
//!

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{StreamExt, stream};
use utility_webhooks::idempotency::{self, Answer, DynStore, Outcome, Store, StoreError};
use utility_webhooks::{Error, Escaped, Unreadable, smartcomply, smarterwx};

/// The largest body a webhook route reads.
///
/// The signature can only be checked once the whole body is in memory, so
/// anyone who can reach the port can make the receiver buffer whatever
/// they send before it knows the request is forged. Real deliveries are a
/// few kilobytes; 1 MiB leaves ample room and bounds what a forged request
/// costs. Larger bodies get `413`.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// How many notifications of one batch are claimed and worked at once.
/// A SmarterWX batch can hold thousands; run at once, they would take
/// every connection of a store's pool and time out.
pub const PER_DELIVERY: usize = 8;

/// The default lease. The work renews it at each half while it runs, so
/// it does not limit the work; it bounds how long the key of an instance
/// that crashed stays held, so that the vendor's retry after a crash
/// succeeds within seconds.
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

/// A verified delivery that the model cannot read, kept as sent: its
/// `serde_json::to_string` is one line of a dead-letter file.
pub type Parked = Unreadable;

/// What a parked delivery's line names: its id, or its place in the batch.
fn label(parked: &Parked) -> String {
    match (parked.id(), parked.index()) {
        (Some(id), _) => id.to_owned(),
        (None, Some(index)) => format!("#{index}"),
        (None, None) => "?".into(),
    }
}

/// What the work returns: `Err` with a reason makes the vendor retry.
pub type WorkFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

/// The work to do for each job, run under its claim.
pub type Work = Arc<dyn Fn(Job, idempotency::Lease) -> WorkFuture + Send + Sync>;

/// Where parked deliveries go, run under their claim when they have a key.
pub type Park = Arc<dyn Fn(Parked) -> WorkFuture + Send + Sync>;

/// What the receiver did with one delivered id: one line on stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
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
    /// The model could not read it: kept aside and acknowledged.
    Parked(String),
    /// Outside the replay window: not processed, and acknowledged.
    Stale(String),
}

/// One line, whatever the sender put in the id: it is escaped.
impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, id) = match self {
            Line::Processed(id) => ("processed", id),
            Line::Duplicate(id) => ("duplicate", id),
            Line::Failed(id) => ("failed", id),
            Line::InProgress(id) => ("in progress", id),
            Line::Unavailable(id) => ("unavailable", id),
            Line::Parked(id) => ("parked", id),
            Line::Stale(id) => ("stale", id),
        };
        write!(f, "{what} {}", Escaped(id))
    }
}

/// Everything the handlers share: the verifiers, the idempotency store,
/// the lease, the work, and where each delivery's line goes.
pub struct Receiver {
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
    store: Arc<dyn DynStore>,
    lease: Duration,
    work: Work,
    park: Park,
    on_line: Box<dyn Fn(Line) + Send + Sync>,
}

impl Receiver {
    /// A receiver whose work does nothing (a real service writes to its
    /// database here), that parks unreadable deliveries as `dead letter`
    /// lines on stderr, and whose delivery lines are dropped.
    pub fn new(
        smartcomply: smartcomply::Verifier,
        smarterwx: smarterwx::Verifier,
        store: impl Store + 'static,
    ) -> Self {
        Receiver {
            smartcomply,
            smarterwx,
            store: Arc::new(store),
            lease: DEFAULT_LEASE,
            work: Arc::new(|_, _| Box::pin(async { Ok(()) })),
            park: Arc::new(|parked| {
                eprintln!("dead letter {}", json_line(&parked));
                Box::pin(async { Ok(()) })
            }),
            on_line: Box::new(|_| {}),
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

    /// Keep each unreadable delivery with `park` (a dead-letter file, a
    /// table); an `Err` makes the vendor retry.
    pub fn with_parking(
        mut self,
        park: impl Fn(Parked) -> WorkFuture + Send + Sync + 'static,
    ) -> Self {
        self.park = Arc::new(park);
        self
    }

    /// Hand each delivered id's line to `on_line`.
    pub fn on_line(mut self, on_line: impl Fn(Line) + Send + Sync + 'static) -> Self {
        self.on_line = Box::new(on_line);
        self
    }

    /// Do `job` once in a task of its own, and say what to answer for it.
    /// The task goes on when the request is dropped, so a vendor that
    /// stops waiting does not cancel the work.
    async fn spawn_process(self: &Arc<Self>, job: Job) -> Reply {
        let receiver = Arc::clone(self);
        let task = tokio::spawn(async move { receiver.process(job).await });
        // `run` catches a panicking work: a join error is not expected.
        task.await.unwrap_or(Ok(Answer::FAILED))
    }

    /// [`Receiver::spawn_process`] for a delivery the model cannot read.
    async fn spawn_park(self: &Arc<Self>, parked: Parked) -> Reply {
        let receiver = Arc::clone(self);
        let task = tokio::spawn(async move { receiver.park(parked).await });
        task.await.unwrap_or(Ok(Answer::FAILED))
    }

    /// Do `job` once, and say what to answer for it.
    async fn process(&self, job: Job) -> Reply {
        let id = job.id().to_owned();
        let key = job.key();
        let work = Arc::clone(&self.work);
        let outcome =
            idempotency::run(&self.store, &key, self.lease, move |lease| work(job, lease));
        self.answer(id, Line::Processed, outcome.await)
    }

    /// Keep `parked` aside once, and say what to answer for it.
    ///
    /// Parked under a key of its own (`Unreadable::parked_key`): its own
    /// key stays free, so that once a newer model reads it, its resend (or
    /// its stored raw JSON, parsed again and run under its key) does the
    /// work.
    async fn park(&self, parked: Parked) -> Reply {
        let id = label(&parked);
        let key = parked.parked_key();
        let park = Arc::clone(&self.park);
        let outcome = idempotency::run(&self.store, &key, self.lease, move |_| park(parked));
        self.answer(id, Line::Parked, outcome.await)
    }

    /// Drop `item`, a notification not to process (outside the replay
    /// window), with its line and its reason: acknowledged, since a resend
    /// would be refused the same way.
    fn drop_stale(&self, item: smarterwx::Item) -> Reply {
        let id = match &item {
            smarterwx::Item::Stale(stale) => {
                eprintln!("{stale}");
                stale.notification().uuid.to_string()
            }
            other => {
                eprintln!("not processed: {other:?}");
                "?".into()
            }
        };
        (self.on_line)(Line::Stale(id));
        Ok(Answer::ACKNOWLEDGE)
    }

    /// The line and the answer for one id's outcome; `done` names the line
    /// of work that was done. A store that is down is answered with its
    /// error (`503`).
    fn answer(
        &self,
        id: String,
        done: fn(String) -> Line,
        outcome: Result<Outcome<(), String>, StoreError>,
    ) -> Reply {
        let (line, why) = match &outcome {
            Ok(Outcome::Done(())) => (done(id), None),
            // Done: a retry would only redo it once the lease expires.
            Ok(Outcome::DoneNotRecorded((), err)) => {
                (done(id), Some(format!("done, but not recorded: {err}")))
            }
            Ok(Outcome::Completed) => (Line::Duplicate(id), None),
            Ok(Outcome::Failed(reason)) => (Line::Failed(id), Some(reason.clone())),
            Ok(Outcome::Panicked(message)) => (
                Line::Failed(id),
                Some(format!("the work panicked: {message}")),
            ),
            Ok(Outcome::TimedOut) => (Line::Failed(id), Some("the lease could not be held".into())),
            Ok(Outcome::InProgress { .. }) => (Line::InProgress(id), None),
            Err(err) => (Line::Unavailable(id), Some(err.to_string())),
        };
        if let Some(why) = why {
            eprintln!("{line}: {why}");
        }
        (self.on_line)(line);
        outcome.map(|outcome| Answer::from(&outcome))
    }
}

/// What to answer for one job: an answer, or the store's error (`503`,
/// with its message).
type Reply = Result<Answer, StoreError>;

/// The most serious of a batch's replies: a store error first, else the
/// most serious answer.
fn worst(replies: Vec<Reply>) -> Reply {
    replies
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map(|answers| answers.into_iter().collect())
}

/// The receiver's routes.
pub fn router(receiver: Receiver) -> Router {
    Router::new()
        .route("/", get(reachable))
        .route("/webhooks/smartcomply", post(smartcomply_webhook))
        .route(
            "/webhooks/smarterwx",
            get(reachable).post(smarterwx_webhook),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(Arc::new(receiver))
}

async fn reachable() -> StatusCode {
    StatusCode::OK
}

async fn smartcomply_webhook(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match receiver.smartcomply.verify_and_parse(&headers, &body) {
        Ok(event) => {
            log_drift("smartcomply", body.clone());
            receiver
                .spawn_process(Job::SmartComply(event))
                .await
                .into_response()
        }
        // Signed, so SmartComply's: park it rather than refuse it.
        Err(Error::Payload(err)) => match err.unreadable() {
            Some(parked) => receiver.spawn_park(parked.clone()).await.into_response(),
            None => reject(Error::Payload(err)),
        },
        Err(err) => reject(err),
    }
}

async fn smarterwx_webhook(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // As `Verified` does: a large body is read on Tokio's blocking threads,
    // so that the requests beside it (a `GET` among them) do not wait.
    let large = body.len() > utility_webhooks::axum::READ_APART_ABOVE;
    let read = {
        let (receiver, body) = (Arc::clone(&receiver), body.clone());
        move || receiver.smarterwx.verify_and_parse_each(&headers, &body)
    };
    let read = if large {
        match tokio::task::spawn_blocking(read).await {
            Ok(read) => read,
            // The reading does not panic; were it to, the vendor retries.
            Err(_) => return Answer::FAILED.into_response(),
        }
    } else {
        read()
    };
    let notifications = match read {
        Ok(notifications) => notifications,
        Err(err) => return reject(err),
    };
    log_drift("smarterwx", body.clone());
    // Each notification under its own claim, in a task of its own, at most
    // `PER_DELIVERY` at once: a batch that half failed is finished, not
    // redone, by its retry, and a batch of thousands waits its turn rather
    // than take every connection of the store's pool. One the model
    // cannot read is parked, and one outside the replay window dropped;
    // neither holds back the others. A task started goes on when the
    // request is dropped; one not started is left to the vendor's resend.
    let replies: Vec<Reply> = stream::iter(notifications)
        .map(|notification| {
            let receiver = Arc::clone(&receiver);
            async move {
                match notification {
                    smarterwx::Item::Notification(n) => {
                        receiver.spawn_process(Job::SmarterWx(Box::new(n))).await
                    }
                    smarterwx::Item::Unreadable(unreadable) => {
                        receiver.spawn_park(unreadable).await
                    }
                    stale => receiver.drop_stale(stale),
                }
            }
        })
        .buffer_unordered(PER_DELIVERY)
        .collect()
        .await;
    worst(replies).into_response()
}

/// Log what the models do not take in from a verified body, as `drift
/// <vendor> <kind> <path>` lines: the day the vendor adds a field or a
/// value shows in the log. Each path once per process (array indexes
/// aside, at most 10 000 paths), in a task of its own, so that the answer
/// never waits for it.
fn log_drift(vendor: &'static str, body: Bytes) {
    tokio::spawn(async move {
        for line in new_drift(vendor, &body) {
            println!("{line}");
        }
    });
}

/// The `drift` lines of `body` whose path this process has not logged.
pub fn new_drift(vendor: &'static str, body: &[u8]) -> Vec<String> {
    static SEEN: std::sync::Mutex<std::collections::BTreeSet<String>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let drift = match vendor {
        "smartcomply" => smartcomply::drift(body),
        _ => smarterwx::drift(body),
    };
    // A batch with a notification the model cannot read has no report.
    let Ok(drift) = drift else { return Vec::new() };
    let Ok(mut seen) = SEEN.lock() else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for item in &drift {
        // `[3].message.x` is `[0].message.x` again.
        let mut path = String::new();
        let mut in_index = false;
        for c in item.path().chars() {
            match c {
                '[' => in_index = true,
                ']' => in_index = false,
                _ if in_index => continue,
                _ => {}
            }
            path.push(c);
        }
        if seen.len() < 10_000 && seen.insert(format!("{vendor} {} {path}", item.kind())) {
            lines.push(format!("drift {vendor} {item}"));
        }
    }
    lines
}

/// `401` or `400` with the reason (messages never hold a secret or an
/// expected signature).
fn reject(err: Error) -> Response {
    eprintln!("rejected: {err}");
    err.into_response()
}

/// One JSON line: `raw` is a JSON string, so the sender's line breaks stay
/// escaped inside it.
pub fn json_line(parked: &Parked) -> String {
    serde_json::to_string(parked).unwrap_or_default()
}

/// Claims in PostgreSQL, and work whose effect commits with its
/// completion.
#[cfg(feature = "postgres")]
pub mod postgres {
    use std::time::Duration;

    use utility_webhooks::idempotency::{Lease, PostgresStore};

    use super::{Job, WorkFuture};

    /// The work's effects: one row per processed key. No unique
    /// constraint, so that a key done twice would show as two rows.
    pub const EFFECTS_TABLE: &str = "CREATE TABLE IF NOT EXISTS receiver_effects (
    key          text        NOT NULL,
    token        text        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now()
)";

    /// Connect to `url`, and create the claims table and
    /// `receiver_effects` if they are missing.
    pub async fn connect(url: &str) -> Result<PostgresStore, String> {
        let store = PostgresStore::connect(url)
            .await
            .map_err(|e| format!("DATABASE_URL: {e}"))?;
        store.migrate().await.map_err(|e| e.to_string())?;
        sqlx::raw_sql(EFFECTS_TABLE)
            .execute(store.pool())
            .await
            .map_err(|e| format!("creating receiver_effects: {e}"))?;
        Ok(store)
    }

    /// Each job's work: in one transaction, insert its row into
    /// `receiver_effects`, spend `delay` (`WORK_DELAY_MS`), record the
    /// completion with `complete_in`, and commit. An error (a lost lease
    /// included) rolls everything back: dropping the transaction does.
    pub fn work(
        store: PostgresStore,
        delay: Duration,
    ) -> impl Fn(Job, Lease) -> WorkFuture + Send + Sync + 'static {
        move |job, lease| {
            let store = store.clone();
            Box::pin(async move {
                let mut tx = store
                    .pool()
                    .begin()
                    .await
                    .map_err(|e| format!("begin: {e}"))?;
                sqlx::query("INSERT INTO receiver_effects (key, token) VALUES ($1, $2)")
                    .bind(job.key())
                    .bind(lease.token())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| format!("insert: {e}"))?;
                tokio::time::sleep(delay).await;
                store
                    .complete_in(&mut tx, &lease)
                    .await
                    .map_err(|e| e.to_string())?;
                tx.commit().await.map_err(|e| format!("commit: {e}"))
            })
        }
    }
}
