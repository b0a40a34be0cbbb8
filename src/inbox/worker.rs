//! Workers: claim due rows, run the handler in a transaction that also
//! marks the row done, record failures, retry with backoff.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use super::sql::Statements;
use super::{
    ACCEPT_HEADROOM, Inbox, Item, OPERATION_DEADLINE, State, WorkerPool, closed_connection, micros,
};
use crate::idempotency::postgres::error;
use crate::idempotency::run::{catching, panic_message};
use crate::idempotency::{Lease, StoreError, StoreErrorKind, TransactionWork};
use crate::text::Escaped;

/// The handler, its error made a message.
type Handler =
    Arc<dyn for<'c> Fn(Job, &'c mut PgConnection) -> TransactionWork<'c, (), String> + Send + Sync>;

/// Where a worker's events go.
type OnEvent = Arc<dyn Fn(&WorkerEvent) + Send + Sync>;

/// The longest message of a failed attempt kept in the table, in bytes
/// once escaped.
const MAX_ERROR: usize = 512;
/// How long to wait before renewing a lease again after a failed renewal,
/// and before listening again after the listener failed.
const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long the claiming connection, and the claim's plan, is kept.
const CLAIM_CONNECTION_LIFETIME: Duration = Duration::from_secs(600);
/// The longest retry delay a worker wakes itself for; longer ones are
/// found by the poll.
const SELF_WAKE_MAX: Duration = Duration::from_secs(60);

/// What a worker's handler gets for one item: the typed item, read again
/// from the stored JSON, its key and its attempt number.
///
/// The handler also gets a connection inside the transaction that marks
/// the row done: write the work's effects there, and they commit with the
/// completion or not at all.
#[derive(Debug, Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Job {
    key: String,
    attempt: u32,
    order_key: Option<String>,
    item: Item,
}

impl Job {
    /// The item's idempotency key (the row's key).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Which attempt this is: 1 for the first, counted from the last
    /// manual retry or replay. A claim counts, even if its worker died.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The item's order key, if it has one.
    pub fn order_key(&self) -> Option<&str> {
        self.order_key.as_deref()
    }

    /// The typed item.
    pub fn item(&self) -> &Item {
        &self.item
    }

    /// The typed item, owned.
    pub fn into_item(self) -> Item {
        self.item
    }
}

/// What a worker did with one item, for the host's logs and metrics
/// ([`Worker::on_event`]; with feature `tracing`, each is also a tracing
/// event).
///
/// Its `Display` is one line: `processed <id>`, `failed <id> attempt <n>`,
/// `dead <id>`, `parked <id>`, `lease lost <id> attempt <n>` or
/// `unavailable: <error>`, where `<id>` is the event id or notification
/// uuid (the key when none could be read).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub enum WorkerEvent {
    /// The handler succeeded and the row is done: committed.
    Processed {
        /// The row's key.
        key: String,
        /// The event id or uuid, else the key.
        id: String,
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// The handler failed, panicked or ran out of time, and was rolled
    /// back. A [`WorkerEvent::Dead`] follows when it was the last attempt.
    Failed {
        /// The row's key.
        key: String,
        /// The event id or uuid, else the key.
        id: String,
        /// The attempt that failed.
        attempt: u32,
        /// Why, escaped and bounded, as the attempt log keeps it.
        error: String,
        /// When the next attempt is due; `None` when there is none.
        retry_in: Option<Duration>,
    },
    /// Every allowed attempt failed (or its worker died on the last one):
    /// the row waits for an operator.
    Dead {
        /// The row's key.
        key: String,
        /// The event id or uuid, else the key.
        id: String,
        /// How many attempts it had.
        attempts: u32,
    },
    /// The stored JSON does not read with the current model: parked, for a
    /// replay.
    Parked {
        /// The row's key.
        key: String,
        /// The event id or uuid, else the key.
        id: String,
        /// Why it does not read.
        error: String,
    },
    /// The lease ended before the work did (the database was unreachable,
    /// or the process stalled), and another claim may hold the row: the
    /// work was rolled back, and nothing recorded.
    LeaseLost {
        /// The row's key.
        key: String,
        /// The event id or uuid, else the key.
        id: String,
        /// The attempt that lost its lease.
        attempt: u32,
    },
    /// The database failed a worker's statement (a claim, a record of a
    /// failure, a commit whose answer was lost). Nothing is lost: what a
    /// claim holds comes back when its lease ends.
    Unavailable {
        /// What failed, without a key, the URL or a password.
        error: String,
    },
}

impl fmt::Display for WorkerEvent {
    /// One line, its id escaped (sender text never starts a line of its
    /// own): `processed <id>`, `failed <id> attempt <n>`, `dead <id>`,
    /// `parked <id>`, `lease lost <id> attempt <n>`, `unavailable: ..`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerEvent::Processed { id, .. } => write!(f, "processed {}", Escaped(id)),
            WorkerEvent::Failed { id, attempt, .. } => {
                write!(f, "failed {} attempt {attempt}", Escaped(id))
            }
            WorkerEvent::Dead { id, .. } => write!(f, "dead {}", Escaped(id)),
            WorkerEvent::Parked { id, .. } => write!(f, "parked {}", Escaped(id)),
            WorkerEvent::LeaseLost { id, attempt, .. } => {
                write!(f, "lease lost {} attempt {attempt}", Escaped(id))
            }
            WorkerEvent::Unavailable { error } => write!(f, "unavailable: {error}"),
        }
    }
}

/// Exponential backoff with full jitter, a floor and a cap: attempt `n`'s
/// retry waits a random time between the floor and
/// `min(max, first × 2ⁿ⁻¹)`.
///
/// "Full jitter" spreads the retries of many items that failed together
/// (a database restart, a partner outage) over the whole window; the floor
/// keeps a failing item from retrying in a tight loop. Defaults:
/// `first` 1 s, `max` 1 hour, `floor` half of `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Backoff {
    first: Duration,
    max: Duration,
    floor: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::exponential(Duration::from_secs(1))
    }
}

impl Backoff {
    /// Doubling from `first` (at least 1 ms), capped at 1 hour, with a
    /// floor of half of `first`.
    pub fn exponential(first: Duration) -> Self {
        let first = first.max(Duration::from_millis(1));
        Backoff {
            first,
            max: Duration::from_secs(3600).max(first),
            floor: first / 2,
        }
    }

    /// Cap each delay at `max` (at least `first`).
    pub fn with_max(mut self, max: Duration) -> Self {
        self.max = max.max(self.first);
        self.floor = self.floor.min(self.max);
        self
    }

    /// Wait at least `floor` (at most `first`) before any retry.
    pub fn with_floor(mut self, floor: Duration) -> Self {
        self.floor = floor.min(self.first);
        self
    }

    /// The longest wait after attempt `attempt` (1 for the first):
    /// `min(max, first × 2^(attempt − 1))`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        if doublings > 31 {
            return self.max;
        }
        self.first
            .checked_mul(1 << doublings)
            .map_or(self.max, |ceiling| ceiling.min(self.max))
    }

    /// The wait after attempt `attempt`: uniform between the floor and
    /// [`Backoff::ceiling`], from the operating system's random source.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, getrandom::u64().unwrap_or(u64::MAX / 2))
    }

    /// [`Backoff::delay`] with `random` as the random draw.
    fn delay_with(&self, attempt: u32, random: u64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let floor = self.floor.min(ceiling);
        let span = u64::try_from((ceiling - floor).as_micros()).unwrap_or(u64::MAX);
        let jitter = if span == 0 { 0 } else { random % (span + 1) };
        floor + Duration::from_micros(jitter)
    }
}

/// Workers that process an inbox's items with one handler: built by
/// [`Inbox::worker`], started by [`Worker::run`].
///
/// | setting | default | what it does |
/// | --- | --- | --- |
/// | [`concurrency`](Worker::concurrency) | 8 | handlers running at once in this process |
/// | [`lease`](Worker::lease) | 30 s | how long a claim holds a row without renewal; renewed at each half while the handler runs; a dead worker's rows come back when it ends |
/// | [`timeout`](Worker::timeout) | the lease | how long one attempt may run before it is cut, rolled back and retried |
/// | [`max_attempts`](Worker::max_attempts) | 10 | attempts before the row is dead |
/// | [`backoff`](Worker::backoff) | 1 s doubling, 1 h cap | the wait before each retry |
/// | [`poll`](Worker::poll) | 1 s | how often an idle worker looks for due rows when no notification came |
/// | [`shutdown`](Worker::shutdown) | never | when to stop claiming and return, after the running handlers end |
#[must_use = "a worker does nothing until `run` is awaited"]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Worker {
    inbox: Inbox,
    handler: Handler,
    concurrency: usize,
    lease: Duration,
    timeout: Option<Duration>,
    max_attempts: u32,
    backoff: Backoff,
    poll: Duration,
    shutdown: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    on_event: Option<OnEvent>,
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("inbox", &self.inbox)
            .field("concurrency", &self.concurrency)
            .field("lease", &self.lease)
            .field("timeout", &self.attempt_timeout())
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// Only closures with the handler's exact signature, so that the
/// connection's lifetime is inferred for every call.
fn handler<F>(f: F) -> F
where
    F: for<'c> Fn(Job, &'c mut PgConnection) -> TransactionWork<'c, (), String>,
{
    f
}

impl Inbox {
    /// Workers that run `handler` for each item: see [`Worker`] for the
    /// settings, and [`Worker::run`] to start them.
    ///
    /// `handler` gets the [`Job`] and a connection inside a transaction,
    /// and returns a boxed future that may borrow it
    /// ([`TransactionWork`]). Write the work's effects through the
    /// connection (`.execute(&mut *tx)`); return `Ok` to commit them with
    /// the row's completion, `Err` (any `Display`) to roll back and retry.
    /// Do not commit or roll back the transaction yourself. Effects outside
    /// the database (an e-mail, a call) happen at least once: make them
    /// idempotent with the job's key.
    ///
    /// ```no_run
    /// # use utility_webhooks::inbox::{Inbox, Item};
    /// # async fn example(inbox: Inbox) -> Result<(), utility_webhooks::idempotency::StoreError> {
    /// inbox
    ///     .worker(|job, tx| {
    ///         Box::pin(async move {
    ///             let Item::SmarterWx(notification) = job.item() else { return Ok(()) };
    ///             sqlx::query("INSERT INTO referrals (uuid, attempt) VALUES ($1, $2)")
    ///                 .bind(notification.uuid.as_str())
    ///                 .bind(job.attempt() as i32)
    ///                 .execute(&mut *tx)
    ///                 .await?;
    ///             Ok::<_, sqlx::Error>(())
    ///         })
    ///     })
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn worker<F, E>(&self, handler_fn: F) -> Worker
    where
        F: for<'c> Fn(Job, &'c mut PgConnection) -> TransactionWork<'c, (), E>
            + Send
            + Sync
            + 'static,
        E: fmt::Display + Send + 'static,
    {
        let handler: Handler = Arc::new(handler(move |job, connection| {
            let work = handler_fn(job, connection);
            Box::pin(async move { work.await.map_err(|e| e.to_string()) })
        }));
        Worker {
            inbox: self.clone(),
            handler,
            concurrency: 8,
            lease: Duration::from_secs(30),
            timeout: None,
            max_attempts: 10,
            backoff: Backoff::default(),
            poll: Duration::from_secs(1),
            shutdown: None,
            on_event: None,
        }
    }
}

impl Worker {
    /// Run at most `concurrency` handlers at once (at least 1, at most
    /// 1 000); default 8. Each holds a database connection for its
    /// transaction.
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.clamp(1, 1000);
        self
    }

    /// Claim rows for `lease` (between 50 ms and 24 h); default 30 s.
    ///
    /// The lease is renewed at each half while the handler runs. When a
    /// worker dies, its rows are claimed again once their lease ends: the
    /// lease is how long a crash delays an item.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.clamp(Duration::from_millis(50), Lease::MAX);
        self
    }

    /// Cut an attempt that runs longer than `timeout` (between 1 ms and
    /// 24 h): roll it back, record it as failed and retry it. Default: the
    /// lease. A handler that hangs is so cut and retried.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout.clamp(Duration::from_millis(1), Lease::MAX));
        self
    }

    /// Make a row dead after `max_attempts` attempts (at least 1); default
    /// 10.
    pub fn max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.clamp(1, i32::MAX as u32);
        self
    }

    /// Wait `backoff` before each retry; default
    /// [`Backoff::default`].
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Look for due rows every `poll` (between 10 ms and 1 h) when no
    /// notification wakes the worker; default 1 s. Notifications are lost
    /// while the listening connection reconnects: the poll finds what
    /// they would have announced.
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll.clamp(Duration::from_millis(10), Duration::from_secs(3600));
        self
    }

    /// Stop when `signal` completes: claim nothing more, let the running
    /// handlers finish (each within its timeout), then return from
    /// [`Worker::run`].
    pub fn shutdown(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Call `on_event` for each item processed, failed, dead or parked,
    /// and each store failure.
    pub fn on_event(mut self, on_event: impl Fn(&WorkerEvent) + Send + Sync + 'static) -> Self {
        self.on_event = Some(Arc::new(on_event));
        self
    }

    /// The attempt timeout in force.
    fn attempt_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.lease)
    }

    /// Process items until the shutdown signal: claim due rows, up to the
    /// concurrency, and run the handler for each in a task of its own.
    ///
    /// Store failures never end it: a claim that fails is tried again at
    /// the next poll, and rows a failure leaves claimed come back when
    /// their lease ends. It returns `Err` at once only when it cannot
    /// start: a pool shared with accept that is too small for the
    /// concurrency (see [`Inbox::new`]).
    ///
    /// Needs a Tokio runtime. Dropping the future cancels the running
    /// handlers (their transactions roll back; their rows come back when
    /// their lease ends): prefer [`Worker::shutdown`].
    pub async fn run(mut self) -> Result<(), StoreError> {
        let (pool, own) = self.pool()?;
        // Claims on a connection of their own, planned once: the claim's
        // plan is the same for every `LIMIT`, but PostgreSQL would plan it
        // again at every call (it prices a `LIMIT $1` at a tenth of the
        // table). Every step of the claim has an index; without sequential
        // scans, a plan made while the table looked small stays on them
        // as it grows. The handlers' sessions keep their own settings.
        let claims = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(OPERATION_DEADLINE)
            .test_before_acquire(false)
            // A new connection plans the claim again, with the table's
            // statistics of the day.
            .max_lifetime(CLAIM_CONNECTION_LIFETIME)
            .connect_lazy_with((*pool.connect_options()).clone().options([
                ("plan_cache_mode", "force_generic_plan"),
                ("enable_seqscan", "off"),
            ]));
        let context = Arc::new(Context {
            pool: pool.clone(),
            pool_size: pool.options().get_max_connections(),
            claims: claims.clone(),
            sql: Arc::clone(&self.inbox.sql),
            channel: self.inbox.channel().to_owned(),
            handler: Arc::clone(&self.handler),
            lease: self.lease,
            timeout: self.attempt_timeout(),
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            on_event: self.on_event.clone(),
            wake: Arc::new(Notify::new()),
        });
        let listener = tokio::spawn(listen(
            (*pool.connect_options()).clone(),
            context.channel.clone(),
            Arc::clone(&context.wake),
        ));
        let slots = Arc::new(Semaphore::new(self.concurrency));
        // Claimed rows beyond the free slots wait in their tasks, their
        // leases kept, so that the next claim runs while handlers work.
        let ahead = prefetch(self.concurrency);
        let capacity = self.concurrency + ahead;
        let mut shutdown = self
            .shutdown
            .take()
            .unwrap_or_else(|| Box::pin(std::future::pending()));
        let mut running = JoinSet::new();
        loop {
            while running.try_join_next().is_some() {}
            let room = capacity.saturating_sub(running.len());
            // Claim when a slot may be idle (no claimed row waits), or
            // when there is room for a batch: not one row per claim.
            let busy = self.concurrency - slots.available_permits();
            let waiting = running.len().saturating_sub(busy);
            let room = if waiting == 0 || room >= ahead {
                room
            } else {
                0
            };
            if room > 0 {
                match claim(&context, room).await {
                    Ok(claimed) => {
                        let full = claimed.len() == room;
                        for row in claimed {
                            running.spawn(execute(Arc::clone(&context), row, Arc::clone(&slots)));
                        }
                        if full {
                            continue;
                        }
                    }
                    Err(e) => context.emit(&WorkerEvent::Unavailable {
                        error: e.to_string(),
                    }),
                }
            }
            tokio::select! {
                () = &mut shutdown => break,
                () = context.wake.notified(), if room > 0 => {}
                () = tokio::time::sleep(self.poll), if room > 0 => {}
                // A task ended: room for more, or the next of its key.
                Some(_) = running.join_next(), if !running.is_empty() => {}
            }
        }
        while running.join_next().await.is_some() {}
        listener.abort();
        claims.close().await;
        if own {
            pool.close().await;
        }
        Ok(())
    }

    /// The pool the handlers run on, and whether the worker opened it.
    fn pool(&self) -> Result<(PgPool, bool), StoreError> {
        let needed = u32::try_from(self.concurrency).unwrap_or(u32::MAX) + 2;
        match &self.inbox.workers {
            WorkerPool::Own(options) => {
                let pool = PgPoolOptions::new()
                    .max_connections(needed)
                    .acquire_timeout(OPERATION_DEADLINE)
                    .test_before_acquire(false)
                    .connect_lazy_with(PgConnectOptions::clone(options));
                Ok((pool, true))
            }
            WorkerPool::Given(pool) => Ok((pool.clone(), false)),
            WorkerPool::Shared => {
                let pool = self.inbox.pool.clone();
                let size = pool.options().get_max_connections();
                if size < needed + ACCEPT_HEADROOM {
                    return Err(StoreError::new(
                        StoreErrorKind::Unavailable,
                        format!(
                            "a worker of concurrency {} on the pool accept uses needs {} \
                             connections ({} for its handlers and claims, {ACCEPT_HEADROOM} \
                             left to accept); the pool has {size}: enlarge it, lower the \
                             concurrency, or give the workers a pool of their own \
                             (Inbox::with_worker_pool)",
                            self.concurrency,
                            needed + ACCEPT_HEADROOM,
                            needed
                        ),
                    ));
                }
                Ok((pool, false))
            }
        }
    }
}

/// What every task of one worker shares.
struct Context {
    pool: PgPool,
    /// How many connections `pool` may hold: after a restart of the
    /// server, at most that many are closed ones.
    pool_size: u32,
    /// One connection, for claims.
    claims: PgPool,
    sql: Arc<Statements>,
    channel: String,
    handler: Handler,
    lease: Duration,
    timeout: Duration,
    max_attempts: u32,
    backoff: Backoff,
    on_event: Option<OnEvent>,
    /// Wakes the claim loop: a notification, a retry falling due, a row
    /// whose completion lets the next of its order key go.
    wake: Arc<Notify>,
}

impl Context {
    /// Hand `event` to the host, and to `tracing`.
    fn emit(&self, event: &WorkerEvent) {
        #[cfg(feature = "tracing")]
        trace(event);
        if let Some(on_event) = &self.on_event {
            on_event(event);
        }
    }
}

/// One claimed row.
struct Claimed {
    seq: i64,
    key: String,
    /// The event id or uuid, else the key.
    label: String,
    vendor: String,
    order_key: Option<String>,
    attempt: u32,
    dead: bool,
    raw: Option<Vec<u8>>,
    token: Arc<str>,
    /// Taken before the claim was sent: the database's lease ends later.
    claimed_at: Instant,
}

/// A row as the claim statement returns it.
type ClaimRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    i32,
    String,
    Option<Vec<u8>>,
);

/// Claim up to `n` due rows: those to run, and those the claim found dead
/// (their worker died on the last attempt), whose events it emits.
async fn claim(context: &Context, n: usize) -> Result<Vec<Claimed>, StoreError> {
    let token: Arc<str> = Lease::new("", context.lease).token().into();
    let claimed_at = Instant::now();
    let deadline = tokio::time::Instant::now() + OPERATION_DEADLINE;
    let mut tried_again = false;
    let rows = loop {
        let query = sqlx::query_as::<_, ClaimRow>(context.sql.CLAIM.clone())
            .bind(i64::try_from(n).unwrap_or(i64::MAX))
            .bind(&*token)
            .bind(micros(context.lease))
            .bind(i32::try_from(context.max_attempts).unwrap_or(i32::MAX));
        match tokio::time::timeout_at(deadline, query.fetch_all(&context.claims)).await {
            Ok(Ok(rows)) => break rows,
            // Its one connection was closed by the server: a new one. Had
            // the claim applied, its rows come back when their lease ends.
            Ok(Err(e)) if closed_connection(&e) && !tried_again => tried_again = true,
            Ok(Err(e)) => return Err(error("claim", &e, &[&token])),
            Err(_) => {
                return Err(StoreError::new(
                    StoreErrorKind::Uncertain,
                    format!("claim: no answer within {OPERATION_DEADLINE:?}"),
                ));
            }
        }
    };
    let mut claimed = Vec::with_capacity(rows.len());
    for (seq, key, vendor, id, order_key, attempts, state, raw) in rows {
        let row = Claimed {
            seq,
            label: id.unwrap_or_else(|| key.clone()),
            key,
            vendor,
            order_key,
            attempt: u32::try_from(attempts).unwrap_or(0),
            dead: state == State::Dead.as_str(),
            raw,
            token: Arc::clone(&token),
            claimed_at,
        };
        if row.dead {
            context.emit(&WorkerEvent::Dead {
                key: row.key,
                id: row.label,
                attempts: row.attempt,
            });
        } else {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

/// How an attempt ended.
enum Ran {
    /// The handler returned (or panicked).
    Finished(std::thread::Result<Result<(), String>>),
    /// The lease could not be kept.
    LeaseLost,
    /// The handler ran past its timeout.
    TimedOut,
}

/// How many rows a worker claims beyond its free slots: half its
/// concurrency, at least one.
fn prefetch(concurrency: usize) -> usize {
    (concurrency / 2).max(1)
}

/// Wait for a place among the worker's `slots` (renewing the lease
/// meanwhile), run the handler for `row`, and record how it went.
async fn execute(context: Arc<Context>, row: Claimed, slots: Arc<Semaphore>) {
    let read = match &row.raw {
        Some(raw) => Item::parse(&row.vendor, raw).map_err(|e| e.to_string()),
        None => Err("the stored JSON was purged".to_owned()),
    };
    let item = match read {
        Ok(item) => item,
        Err(why) => return fail(&context, &row, &why, true).await,
    };
    let mut keeper = std::pin::pin!(keep(&context, &row));
    let _slot: OwnedSemaphorePermit = tokio::select! {
        slot = slots.acquire_owned() => match slot {
            Ok(slot) => slot,
            Err(_) => return,
        },
        () = &mut keeper => {
            return context.emit(&WorkerEvent::LeaseLost {
                key: row.key.clone(),
                id: row.label.clone(),
                attempt: row.attempt,
            });
        }
    };
    let job = Job {
        key: row.key.clone(),
        attempt: row.attempt,
        order_key: row.order_key.clone(),
        item,
    };
    let deadline = tokio::time::Instant::now() + OPERATION_DEADLINE;
    let mut connection;
    let mut transaction;
    let mut closed = 0;
    loop {
        connection = match tokio::time::timeout_at(deadline, context.pool.acquire()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(e)) => {
                let why = error("no connection", &e, &[]).to_string();
                return fail(&context, &row, &why, false).await;
            }
            Err(_) => return fail(&context, &row, "no connection in time", false).await,
        };
        let begin = sqlx::Connection::begin(&mut *connection);
        match tokio::time::timeout_at(deadline, begin).await {
            Ok(Ok(begun)) => {
                transaction = begun;
                break;
            }
            // A connection the server closed (it restarted): the pool
            // drops it; the next may be live.
            Ok(Err(e)) if closed_connection(&e) && closed < context.pool_size => closed += 1,
            _ => return fail(&context, &row, "the transaction could not begin", false).await,
        }
    }
    let ran = {
        let handler = Arc::clone(&context.handler);
        let tx: &mut PgConnection = &mut transaction;
        let work = catching(move || handler(job, tx));
        tokio::select! {
            ran = work => Ran::Finished(ran),
            () = &mut keeper => Ran::LeaseLost,
            () = tokio::time::sleep(context.timeout) => Ran::TimedOut,
        }
    };
    let why = match ran {
        Ran::Finished(Ok(Ok(()))) => {
            let done = sqlx::query(context.sql.COMPLETE.clone())
                .bind(row.seq)
                .bind(&*row.token)
                .execute(&mut *transaction);
            match tokio::time::timeout(OPERATION_DEADLINE, done).await {
                Ok(Ok(done)) if done.rows_affected() == 1 => {
                    return commit(&context, &row, transaction).await;
                }
                // Another claim holds the row: its attempt does the work.
                Ok(Ok(_)) => {
                    roll_back(transaction).await;
                    return context.emit(&WorkerEvent::LeaseLost {
                        key: row.key.clone(),
                        id: row.label.clone(),
                        attempt: row.attempt,
                    });
                }
                Ok(Err(e)) => error("complete", &e, &[&row.key, &row.token]).to_string(),
                Err(_) => "complete: no answer in time".to_owned(),
            }
        }
        Ran::Finished(Ok(Err(message))) => message,
        Ran::Finished(Err(panic)) => format!("panicked: {}", panic_message(panic.as_ref())),
        Ran::TimedOut => format!("timed out after {:?}", context.timeout),
        Ran::LeaseLost => {
            if !roll_back(transaction).await {
                connection.close_on_drop();
            }
            return context.emit(&WorkerEvent::LeaseLost {
                key: row.key.clone(),
                id: row.label.clone(),
                attempt: row.attempt,
            });
        }
    };
    if !roll_back(transaction).await {
        // A statement of the handler still runs: closing the connection
        // makes the server end the transaction.
        connection.close_on_drop();
    }
    fail(&context, &row, &why, false).await;
}

/// Commit `row`'s transaction, which marked it done.
async fn commit(
    context: &Context,
    row: &Claimed,
    transaction: sqlx::Transaction<'_, sqlx::Postgres>,
) {
    match tokio::time::timeout(OPERATION_DEADLINE, transaction.commit()).await {
        Ok(Ok(())) => {
            if row.order_key.is_some() {
                // The next item of its order key may go now.
                context.wake.notify_one();
            }
            context.emit(&WorkerEvent::Processed {
                key: row.key.clone(),
                id: row.label.clone(),
                attempt: row.attempt,
            });
        }
        // Committed or not, the row says: done, or running until its
        // lease ends, then claimed again.
        Ok(Err(e)) => context.emit(&WorkerEvent::Unavailable {
            error: error("commit", &e, &[&row.key, &row.token]).to_string(),
        }),
        Err(_) => context.emit(&WorkerEvent::Unavailable {
            error: format!("commit: no answer within {OPERATION_DEADLINE:?}"),
        }),
    }
}

/// Roll back; `false` when the connection did not answer in time (a
/// statement of the handler still runs) or failed.
async fn roll_back(transaction: sqlx::Transaction<'_, sqlx::Postgres>) -> bool {
    matches!(
        tokio::time::timeout(OPERATION_DEADLINE, transaction.rollback()).await,
        Ok(Ok(()))
    )
}

/// Record `row`'s failed attempt (`unreadable`: its JSON does not read),
/// in a statement of its own, and emit what became of it.
async fn fail(context: &Context, row: &Claimed, why: &str, unreadable: bool) {
    let message = crate::text::sanitize(why, MAX_ERROR);
    let delay = context.backoff.delay(row.attempt);
    let deadline = tokio::time::Instant::now() + OPERATION_DEADLINE;
    let mut closed = 0;
    let state = loop {
        let recorded = sqlx::query_scalar::<_, String>(context.sql.FAIL.clone())
            .bind(row.seq)
            .bind(&*row.token)
            .bind(i32::try_from(context.max_attempts).unwrap_or(i32::MAX))
            .bind(micros(delay))
            .bind(&message)
            .bind(unreadable)
            .fetch_optional(&context.pool);
        match tokio::time::timeout_at(deadline, recorded).await {
            Ok(Ok(state)) => break state,
            // Fenced by the token: run again, it records the attempt once.
            Ok(Err(e)) if closed_connection(&e) && closed < context.pool_size => closed += 1,
            Ok(Err(e)) => {
                return context.emit(&WorkerEvent::Unavailable {
                    error: error("recording a failed attempt", &e, &[&row.key, &row.token])
                        .to_string(),
                });
            }
            Err(_) => {
                return context.emit(&WorkerEvent::Unavailable {
                    error: format!(
                        "recording a failed attempt: no answer within {OPERATION_DEADLINE:?}"
                    ),
                });
            }
        }
    };
    let (key, id) = (row.key.clone(), row.label.clone());
    match state.as_deref().map(super::stored_state) {
        Some(State::Parked) => context.emit(&WorkerEvent::Parked {
            key,
            id,
            error: message,
        }),
        Some(State::Retrying) => {
            context.emit(&WorkerEvent::Failed {
                key,
                id,
                attempt: row.attempt,
                error: message,
                retry_in: Some(delay),
            });
            if delay <= SELF_WAKE_MAX {
                let wake = Arc::clone(&context.wake);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    wake.notify_one();
                });
            }
        }
        Some(_) => {
            context.emit(&WorkerEvent::Failed {
                key: key.clone(),
                id: id.clone(),
                attempt: row.attempt,
                error: message,
                retry_in: None,
            });
            context.emit(&WorkerEvent::Dead {
                key,
                id,
                attempts: row.attempt,
            });
        }
        // Another claim took the row after this lease ended.
        None => context.emit(&WorkerEvent::LeaseLost {
            key,
            id,
            attempt: row.attempt,
        }),
    }
}

/// Renew `row`'s lease at each half; return when it cannot be kept: it
/// ended (by this process's clock) while renewals failed, or another claim
/// took the row.
async fn keep(context: &Context, row: &Claimed) {
    let lease = context.lease;
    let mut ends = row.claimed_at + lease;
    loop {
        tokio::time::sleep_until((ends - lease / 2).into()).await;
        loop {
            if Instant::now() >= ends {
                return;
            }
            let sent = Instant::now();
            let renewed = sqlx::query(context.sql.RENEW.clone())
                .bind(row.seq)
                .bind(&*row.token)
                .bind(micros(lease))
                .execute(&context.pool);
            match tokio::time::timeout_at(ends.into(), renewed).await {
                Ok(Ok(done)) if done.rows_affected() == 1 => {
                    ends = sent + lease;
                    break;
                }
                Ok(Ok(_)) => return,
                _ => tokio::time::sleep(RETRY_PAUSE).await,
            }
        }
    }
}

/// Listen for notifications on `channel` on a connection of its own, and
/// wake the claim loop for each; after every (re)connection too, since
/// notifications sent meanwhile were lost.
async fn listen(options: PgConnectOptions, channel: String, wake: Arc<Notify>) {
    loop {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(OPERATION_DEADLINE)
            .connect_lazy_with(options.clone());
        if let Ok(mut listener) = PgListener::connect_with(&pool).await {
            listener.ignore_pool_close_event(true);
            if listener.listen(&channel).await.is_ok() {
                wake.notify_one();
                while listener.try_recv().await.is_ok() {
                    wake.notify_one();
                }
            }
        }
        pool.close().await;
        tokio::time::sleep(RETRY_PAUSE * 10).await;
    }
}

/// A tracing event for a worker's event.
#[cfg(feature = "tracing")]
fn trace(event: &WorkerEvent) {
    use crate::trace::shown;
    match event {
        WorkerEvent::Processed { key, attempt, .. } => tracing::info!(
            key = shown(key).as_str(),
            attempt,
            "inbox.processed: done and committed"
        ),
        WorkerEvent::Failed {
            key,
            attempt,
            error,
            retry_in,
            ..
        } => tracing::warn!(
            key = shown(key).as_str(),
            attempt,
            error = error.as_str(),
            retry_in_ms = retry_in.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            "inbox.failed: rolled back"
        ),
        WorkerEvent::Dead { key, attempts, .. } => tracing::error!(
            key = shown(key).as_str(),
            attempts,
            "inbox.dead: every attempt failed; it waits for an operator"
        ),
        WorkerEvent::Parked { key, error, .. } => tracing::warn!(
            key = shown(key).as_str(),
            error = error.as_str(),
            "inbox.parked: the stored JSON does not read with this model"
        ),
        WorkerEvent::LeaseLost { key, attempt, .. } => tracing::warn!(
            key = shown(key).as_str(),
            attempt,
            "inbox.lease_lost: rolled back; another claim has the row"
        ),
        WorkerEvent::Unavailable { error } => {
            tracing::error!(error = error.as_str(), "inbox.unavailable")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_line_whatever_its_id_holds() {
        let id = "evt_1\nprocessed evt_FORGED".to_owned();
        let key = "smartcomply:id-sha256:00".to_owned();
        let events = [
            WorkerEvent::Processed {
                key: key.clone(),
                id: id.clone(),
                attempt: 1,
            },
            WorkerEvent::Dead {
                key: key.clone(),
                id: id.clone(),
                attempts: 3,
            },
            WorkerEvent::Parked {
                key: key.clone(),
                id: id.clone(),
                error: "x".into(),
            },
        ];
        for event in events {
            let line = event.to_string();
            assert!(!line.contains('\n'), "{line}");
            assert!(line.ends_with(r"evt_1\nprocessed evt_FORGED"), "{line}");
        }
        let plain = WorkerEvent::Processed {
            key,
            id: "evt_2".into(),
            attempt: 1,
        };
        assert_eq!(plain.to_string(), "processed evt_2");
    }

    #[test]
    fn backoff_doubles_with_full_jitter_above_its_floor_and_below_its_cap() {
        let backoff =
            Backoff::exponential(Duration::from_secs(1)).with_max(Duration::from_secs(60));
        assert_eq!(backoff.ceiling(1), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(2), Duration::from_secs(2));
        assert_eq!(backoff.ceiling(4), Duration::from_secs(8));
        assert_eq!(backoff.ceiling(7), Duration::from_secs(60));
        assert_eq!(backoff.ceiling(u32::MAX), Duration::from_secs(60));
        assert_eq!(backoff.delay_with(1, 0), Duration::from_millis(500));
        assert_eq!(backoff.delay_with(1, 500_000), Duration::from_secs(1));
        assert_eq!(
            backoff.delay_with(3, u64::MAX),
            Duration::from_micros(500_000 + u64::MAX % 3_500_001)
        );
        for attempt in 1..50 {
            for _ in 0..20 {
                let delay = backoff.delay(attempt);
                assert!(delay >= Duration::from_millis(500), "{delay:?}");
                assert!(delay <= backoff.ceiling(attempt), "{delay:?}");
            }
        }
        let floored =
            Backoff::exponential(Duration::from_millis(10)).with_floor(Duration::from_secs(9));
        assert_eq!(floored.delay_with(1, 0), Duration::from_millis(10));
        assert_eq!(
            Backoff::exponential(Duration::ZERO).ceiling(1),
            Duration::from_millis(1)
        );
    }

    #[test]
    fn worker_events_print_the_documented_lines() {
        let (key, id) = ("smartcomply:evt_1".to_owned(), "evt_1".to_owned());
        let lines = [
            (
                WorkerEvent::Processed {
                    key: key.clone(),
                    id: id.clone(),
                    attempt: 1,
                },
                "processed evt_1",
            ),
            (
                WorkerEvent::Failed {
                    key: key.clone(),
                    id: id.clone(),
                    attempt: 2,
                    error: "x".into(),
                    retry_in: None,
                },
                "failed evt_1 attempt 2",
            ),
            (
                WorkerEvent::Dead {
                    key: key.clone(),
                    id: id.clone(),
                    attempts: 3,
                },
                "dead evt_1",
            ),
            (
                WorkerEvent::Parked {
                    key,
                    id,
                    error: "y".into(),
                },
                "parked evt_1",
            ),
        ];
        for (event, line) in lines {
            assert_eq!(event.to_string(), line);
        }
    }
}
