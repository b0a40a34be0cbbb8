//! Answer the vendor at once, do the work later, exactly once: an inbox
//! in the host's own PostgreSQL (feature `postgres`).
//!
//! ```no_run
//! use std::time::Duration;
//! use utility_webhooks::idempotency::Answer;
//! use utility_webhooks::inbox::{self, Inbox, Item};
//! use utility_webhooks::smartcomply;
//!
//! # async fn example(verifier: smartcomply::Verifier, header: &str, body: &[u8])
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Inbox::connect("postgres://receiver:secret@127.0.0.1/billing")
//!     .await?
//!     .with_order_key(inbox::by_subject);
//! inbox.migrate().await?;
//!
//! // In the request: verify (an `Err` is 401 or 400), store the delivery
//! // byte for byte, and answer: `Ok` is 202 (duplicates and parked
//! // deliveries included), `Err` is 503 and the vendor retries.
//! let event = verifier.verify_and_parse(header, body)?;
//! let receipt = inbox.accept(&(event, body)).await?;
//! assert_eq!(Answer::from(&receipt).http_status(), 202);
//!
//! // In workers, in this process or others: each item once, its effects
//! // and its completion in one transaction.
//! let worker = inbox
//!     .worker(|job, tx| {
//!         Box::pin(async move {
//!             if let Item::SmartComply(event) = job.item() {
//!                 sqlx::query("INSERT INTO test_results (event_id) VALUES ($1)")
//!                     .bind(event.id.as_str())
//!                     .execute(&mut *tx)
//!                     .await?;
//!             }
//!             Ok::<_, sqlx::Error>(())
//!         })
//!     })
//!     .concurrency(8)
//!     .lease(Duration::from_secs(30))
//!     .shutdown(async { let _ = tokio::signal::ctrl_c().await; });
//! tokio::spawn(worker.run());
//! # Ok(())
//! # }
//! ```
//!
//! # Why
//!
//! With [`run`](crate::idempotency::run) and a store, the work runs while
//! the vendor waits. SmarterWX waits 3 seconds, then sends the
//! notification again; work that takes longer is answered `409` until it
//! ends, and the service's own failures follow the vendor's retry
//! schedule. The inbox answers as soon as the delivery is committed, and
//! its workers do the work with retries the service controls, a dead
//! state, order per key and replay. It keeps what hosted gateways do not:
//! the vendor's bytes, a permanent duplicate check on the vendor's id,
//! and the completion in the work's own transaction.
//!
//! | | `run` with a store | the inbox |
//! | --- | --- | --- |
//! | the vendor waits for | the work | one `INSERT` |
//! | work longer than the vendor's patience | `409` until it ends | answered at once |
//! | retries | the vendor's schedule | yours: backoff, attempt limit, dead state |
//! | what arrived | not kept | every item, byte for byte |
//! | a delivery the model cannot read | the host parks it | parked, replayed later |
//! | order per key | none | optional |
//! | runs on | memory, Redis, PostgreSQL | PostgreSQL |
//!
//! Use `run` with a store when the work is quick (well under a second) and
//! needs no order; use the inbox when it can be slow, when it must follow
//! an order, or when you want to see and replay what arrived.
//!
//! # Accept
//!
//! [`Inbox::accept`] takes what a verifier gave together with the body it
//! verified (see [`Accept`]) and stores one row per SmartComply event or
//! per SmarterWX notification, in **one statement and one commit**:
//! vendor, idempotency key (unique), id, event type, event time, order
//! key, state and the raw JSON of that event or notification, byte for
//! byte. A key already stored is a duplicate: nothing changes, and the
//! answer is the same. A signed item the model cannot read is stored
//! `parked`, and the delivery is answered `2xx` all the same. The
//! statement also wakes the workers (`pg_notify`, delivered on commit).
//! The store down, or slower than its statement timeout, is `Err`: `503`,
//! never `2xx`.
//!
//! # Work
//!
//! [`Inbox::worker`] runs a handler for each item: see [`Worker`] for its
//! settings. A worker claims due rows in batches with
//! `FOR UPDATE SKIP LOCKED`, on the database's clock, as soon as a
//! notification wakes it (a poll is the fallback). The handler gets a
//! [`Job`]: the typed [`Item`], parsed again from the stored bytes, its key
//! and attempt number, and a connection inside a transaction. Marking the
//! row done runs in that transaction, fenced by the claim's token: the
//! work's effects and the completion commit together or not at all, so
//! each item is done **exactly once**, a killed process included.
//!
//! - The lease is renewed while the handler runs. A worker that dies
//!   leaves its rows `running` until their lease ends; then another claims
//!   them.
//! - A claim counts as an attempt, so an item that kills its worker every
//!   time ends `dead`, not in a loop.
//! - An error, a panic or a handler that runs past its time
//!   ([`Worker::timeout`], one lease by default) rolls back, records the
//!   attempt (its time and message) and schedules the next one, with
//!   exponential backoff and full jitter ([`Backoff`]); past
//!   [`Worker::max_attempts`] the row is `dead`.
//! - A stored item the model cannot read any more (a corrupt row) is
//!   `parked`, never a panic.
//!
//! # Order per key
//!
//! With [`Inbox::with_order_key`], each item may carry an order key
//! ([`by_subject`]: the SmarterWX referral id, the SmartComply
//! `assembly_id`). Items with the same key run one at a time, in event
//! time order, ties broken by arrival; an earlier item that is not done
//! (`dead` and `parked` included) holds the later ones until it is done or
//! discarded. Different keys run in parallel. Order applies among what
//! has arrived: an earlier event that arrives late cannot be waited for,
//! and runs after the later one is done. [`Inbox::waiting_for`] says which
//! key holds an item back.
//!
//! # States
//!
//! [`State`]: `pending` → `running` → `done`; `running` → `retrying` →
//! `running`...; past the attempt limit `dead`; `parked` when the model
//! cannot read it; `discarded` by an operator. [`Inbox::retry`],
//! [`Inbox::retry_all`], [`Inbox::discard`] and [`Inbox::replay`] move
//! rows by hand; [`Inbox::stats`], [`Inbox::list`] and [`Inbox::get`]
//! show them, in the shapes a console serves as JSON; [`Inbox::purge`]
//! empties the JSON of finished rows after a retention and keeps their
//! keys as tombstones, so that a late resend is still a duplicate (a
//! purge that deletes tombstones too checks them against a SmarterWX
//! replay window with [`Purge::check_replay_window`]).
//!
//! # Workers and leases for each vendor
//!
//! Each running handler holds one connection for its transaction. A
//! worker from [`Inbox::connect`] opens a pool of its own,
//! `concurrency + 2` connections, so that busy workers never take the
//! connections accept needs, and two more: one to claim, one to listen
//! for notifications. On a pool shared with accept ([`Inbox::new`]) a
//! worker refuses to start unless the pool has `concurrency + 2 + 4`
//! connections ([`Inbox::with_worker_pool`] gives the workers their own).
//!
//! A worker claims up to half its concurrency ahead of its free slots:
//! those rows wait, their leases renewed, and start as soon as a handler
//! ends, so that claiming overlaps with the work. The attempt timeout
//! counts from the handler's start.
//!
//! - **SmarterWX** waits 3 s and resends: the inbox answers in
//!   milliseconds, whatever the work takes. Referral work often calls out
//!   (GIS, CRM) and waits on the network: 8 to 16 concurrent handlers per
//!   process, a lease of 30 s, and a timeout above the slowest call you
//!   allow.
//! - **SmartComply** retries on its own schedule and sends one event per
//!   delivery: 4 to 8 handlers and a lease of 30 s suit database work.
//!
//! The lease bounds how long a dead worker's rows wait: shorter leases
//! recover sooner and renew more often (every half lease).
//!
//! # The table
//!
//! `webhook_inbox` unless [`Inbox::with_table`] names another, created by
//! [`Inbox::migrate`], or by the same SQL in your own migrations
//! (`migrations/webhook_inbox.sql` in the crate):
//!
//! ```sql
#![doc = include_str!("../../migrations/webhook_inbox.sql")]
//! ```
//!
//! # The statements
//!
//! Every statement the inbox runs, for another driver or for reading the
//! plans (`EXPLAIN`). Times are microseconds (`int8`).
//!
//! ```sql
#![doc = include_str!("sql/accept.sql")]
//! ```
//!
//! ```sql
#![doc = include_str!("sql/accept_one.sql")]
//! ```
//!
//! ```sql
#![doc = include_str!("sql/claim.sql")]
//! ```
//!
//! ```sql
#![doc = include_str!("sql/renew.sql")]
//! ```
//!
//! ```sql
#![doc = include_str!("sql/complete.sql")]
//! ```
//!
//! ```sql
#![doc = include_str!("sql/fail.sql")]
//! ```
//!
//! The operations' statements are in `src/inbox/sql/` in the crate.
//!
//! # Failing fast
//!
//! [`Inbox::connect`]'s accept pool waits at most 1 s for a connection,
//! sets `statement_timeout` to 1 s, and every accept and operation gives
//! up after 1.5 s by the client's clock: a stopped or stalled server is a
//! `503` within about 1.5 s. Errors are [`StoreError`]s: no key, URL or
//! password in a message.

mod accept;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(all(feature = "axum", feature = "postgres"))))]
pub mod console;
mod operations;
mod sql;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use time::OffsetDateTime;

use crate::error::{Error, PayloadError};
use crate::idempotency::StoreError;
use crate::idempotency::postgres::{error, no_answer, open, table_name, url_options};
use crate::read_error::ReadError;
use crate::{Vendor, smartcomply, smarterwx};
use sql::Statements;

pub use accept::{Accept, Admission, Admitted, Receipt};
pub use operations::{Attempt, Change, Entry, EntryDetail, ListQuery, Purge, Purged, Stats};
pub use worker::{Backoff, Job, Worker, WorkerEvent};

/// How long an accept or an operation may take by the client's clock:
/// waiting for a connection, then the statement.
const OPERATION_DEADLINE: Duration = Duration::from_millis(1500);
/// How long [`Inbox::connect`]'s accept pool waits for a connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1000);
/// How many connections [`Inbox::connect`]'s accept pool opens at most.
const ACCEPT_CONNECTIONS: u32 = 16;
/// The connections a worker on a pool shared with accept leaves to it.
const ACCEPT_HEADROOM: u32 = 4;
/// How long [`Inbox::migrate`] may take.
const MIGRATE_DEADLINE: Duration = Duration::from_secs(10);
/// The longest table name: its longest index name, `<name>_tombstones`,
/// must fit PostgreSQL's 63 bytes.
const MAX_TABLE: usize = 52;

/// Computes an item's order key (see [`Inbox::with_order_key`]).
type OrderKey = Arc<dyn Fn(&Item) -> Option<String> + Send + Sync>;

/// A durable inbox of verified deliveries in a PostgreSQL table, and the
/// workers that process them: see the [module docs](self).
///
/// Cheap to clone (its parts are shared): one value serves the accepting
/// handlers, the workers and the operations.
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct Inbox {
    pool: PgPool,
    workers: WorkerPool,
    table: Arc<str>,
    sql: Arc<Statements>,
    order_key: Option<OrderKey>,
}

/// Where a worker's connections come from.
#[derive(Clone)]
enum WorkerPool {
    /// A pool of its own, opened with these options when it starts.
    Own(Arc<PgConnectOptions>),
    /// The accept pool, with [`ACCEPT_HEADROOM`] left to accept.
    Shared,
    /// The host's pool for workers.
    Given(PgPool),
}

impl Inbox {
    /// The default table name.
    pub const DEFAULT_TABLE: &'static str = sql::DEFAULT_TABLE;

    /// The schema that [`Inbox::migrate`] runs for the default table, as
    /// shipped in `migrations/webhook_inbox.sql`.
    pub const SCHEMA: &'static str = sql::SCHEMA;

    /// Connect to the PostgreSQL server at `url`
    /// (`postgres://user:password@host:port/database`).
    ///
    /// Accept and the operations get a pool of at most 16 connections that
    /// waits at most 1 s for one, with a `statement_timeout` of 1 s. Each
    /// [`Worker`] opens a pool of its own when it starts (`concurrency + 2`
    /// connections, no statement timeout: the handlers' work runs there),
    /// one connection to claim and one to listen for notifications.
    ///
    /// Fails with [`StoreErrorKind::Unavailable`](crate::idempotency::StoreErrorKind::Unavailable) when the URL cannot be
    /// read or the server cannot be reached within about 1.5 s; the message
    /// holds neither the URL nor the password.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let accept = url_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(ACCEPT_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // One round trip per accept: a connection the server closed
            // fails once, and accept tries again on another.
            .test_before_acquire(false);
        let pool = open(pool, accept.clone()).await?;
        // The handlers' statements take as long as the work needs.
        let work = accept.options([("statement_timeout", "0")]);
        Ok(Inbox {
            workers: WorkerPool::Own(Arc::new(work)),
            ..Self::new(pool)
        })
    }

    /// An inbox on the host's own pool, with the default table.
    ///
    /// Accept, the operations and the workers share it, unless
    /// [`Inbox::with_worker_pool`] gives the workers another: a worker
    /// then refuses to start unless the pool has at least
    /// `concurrency + 6` connections, so that four stay free for accept
    /// while every handler holds one. Give the pool an `acquire_timeout`
    /// and a `statement_timeout` of about a second, so that accept fails
    /// fast; each accept and operation gives up after 1.5 s in any case.
    pub fn new(pool: PgPool) -> Self {
        Inbox {
            pool,
            workers: WorkerPool::Shared,
            table: Self::DEFAULT_TABLE.into(),
            sql: Arc::new(Statements::new(Self::DEFAULT_TABLE)),
            order_key: None,
        }
    }

    /// Give the workers `pool`, apart from accept's: busy handlers then
    /// never take the connections accept needs. Size it `concurrency + 2`
    /// or more.
    pub fn with_worker_pool(mut self, pool: PgPool) -> Self {
        self.workers = WorkerPool::Given(pool);
        self
    }

    /// Keep the inbox in the table `name` instead of `webhook_inbox` (in
    /// the connection's `search_path`); notifications go on the channel of
    /// the same name.
    ///
    /// `name` must be a plain SQL identifier: a lowercase ASCII letter or
    /// `_`, then lowercase letters, digits and `_`, at most 52 bytes.
    /// Anything else is refused with [`StoreErrorKind::Unavailable`](crate::idempotency::StoreErrorKind::Unavailable).
    pub fn with_table(mut self, name: &str) -> Result<Self, StoreError> {
        self.table = table_name(name, MAX_TABLE)?;
        self.sql = Arc::new(Statements::new(name));
        Ok(self)
    }

    /// Give each item the order key `order_key` computes from it (`None`:
    /// no order): items with the same key run one at a time, in event-time
    /// order. [`by_subject`] orders by referral and by assembly.
    ///
    /// The key is computed when an item is accepted, and again when a
    /// parked item is replayed; changing the function changes neither the
    /// rows stored before nor their order. Items the model cannot read
    /// have no order key.
    pub fn with_order_key(
        mut self,
        order_key: impl Fn(&Item) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.order_key = Some(Arc::new(order_key));
        self
    }

    /// The table in use.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The pool accept and the operations run on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Create the table and its indexes if they are missing
    /// ([`Inbox::SCHEMA`], with the inbox's table name).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let statement = sqlx::raw_sql(self.sql.schema.clone());
        match tokio::time::timeout(MIGRATE_DEADLINE, statement.execute(&self.pool)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(error("migrate", &e, &[])),
            Err(_) => Err(no_answer("migrate", MIGRATE_DEADLINE)),
        }
    }

    /// The order key of `item`, if the inbox orders items.
    fn order_key_of(&self, item: &Item) -> Option<String> {
        self.order_key.as_ref().and_then(|f| f(item))
    }

    /// The channel the workers listen on: the table's name.
    fn channel(&self) -> &str {
        &self.table
    }

    /// A deadline [`OPERATION_DEADLINE`] from now.
    fn deadline() -> Instant {
        Instant::now() + OPERATION_DEADLINE
    }
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the pool's options: they hold the password.
        f.debug_struct("Inbox")
            .field("table", &self.table)
            .field("ordered", &self.order_key.is_some())
            .finish_non_exhaustive()
    }
}

/// One item of the inbox, typed: a SmartComply event or one SmarterWX
/// notification, as the model reads its stored JSON.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub enum Item {
    /// A SmartComply event.
    SmartComply(smartcomply::Event),
    /// One SmarterWX notification.
    SmarterWx(Box<smarterwx::Notification>),
}

impl Item {
    /// Read an item stored for `vendor` (`"smartcomply"` or
    /// `"smarterwx"`) from its raw JSON, as the workers and
    /// [`Inbox::replay`] do: a SmartComply event, or exactly one SmarterWX
    /// notification. No verification: the bytes were verified when they
    /// were accepted.
    pub fn parse(vendor: &str, raw: &[u8]) -> Result<Item, Error> {
        match Vendor::ALL.iter().find(|known| known.as_str() == vendor) {
            Some(Vendor::SmartComply) => smartcomply::parse(raw).map(Item::SmartComply),
            Some(Vendor::SmarterWx) => {
                let mut batch = smarterwx::parse(raw)?;
                match (batch.pop(), batch.is_empty()) {
                    (Some(one), true) => Ok(Item::SmarterWx(Box::new(one))),
                    _ => Err(payload_error("exactly one notification")),
                }
            }
            _ => Err(payload_error("a row of a known vendor")),
        }
    }

    /// Who sent it.
    pub fn vendor(&self) -> Vendor {
        match self {
            Item::SmartComply(_) => Vendor::SmartComply,
            Item::SmarterWx(_) => Vendor::SmarterWx,
        }
    }

    /// The event's id or the notification's uuid.
    pub fn id(&self) -> &str {
        match self {
            Item::SmartComply(event) => event.id.as_str(),
            Item::SmarterWx(notification) => notification.uuid.as_str(),
        }
    }

    /// The wire event type (`"test.failed"`, `"referral:create"`).
    pub fn event_type(&self) -> &str {
        match self {
            Item::SmartComply(event) => event.event_type(),
            Item::SmarterWx(notification) => notification.event_type(),
        }
    }

    /// When the vendor says it happened: the event's `created_at`, the
    /// notification's `timestamp`.
    pub fn event_time(&self) -> OffsetDateTime {
        match self {
            Item::SmartComply(event) => event.created_at,
            Item::SmarterWx(notification) => notification.timestamp,
        }
    }

    /// Its idempotency key: the inbox's key for it.
    pub fn idempotency_key(&self) -> String {
        match self {
            Item::SmartComply(event) => event.idempotency_key(),
            Item::SmarterWx(notification) => notification.idempotency_key(),
        }
    }
}

/// A payload error saying that the stored JSON is not `expected`.
fn payload_error(expected: &str) -> Error {
    let e = <serde_json::Error as serde::de::Error>::custom(format_args!("expected {expected}"));
    Error::Payload(PayloadError::from(ReadError::new(&e, None, None)))
}

/// The order key the example and most hosts want: a SmarterWX referral's
/// `id` (`referral:<id>`), and a SmartComply event's `assembly_id`
/// (`assembly:<id>`) for the events that have one (`test.submitted`,
/// `test.failed`, `assembly.due_soon`). Other items have none.
///
/// So the updates of one referral, and the tests of one assembly, run one
/// at a time in the order the vendor made them.
pub fn by_subject(item: &Item) -> Option<String> {
    use smartcomply::EventData;
    match item {
        Item::SmartComply(event) => match &event.data {
            EventData::TestSubmitted(test) | EventData::TestFailed(test) => {
                Some(format!("assembly:{}", test.assembly_id.as_str()))
            }
            EventData::AssemblyDueSoon(due) => {
                Some(format!("assembly:{}", due.assembly_id.as_str()))
            }
            _ => None,
        },
        Item::SmarterWx(notification) => notification
            .message
            .referral()
            .map(|referral| format!("referral:{}", referral.id)),
    }
}

/// Where an item is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub enum State {
    /// Stored, waiting for a worker.
    Pending,
    /// A worker holds it (or held it, until its lease ends).
    Running,
    /// An attempt failed; the next one is scheduled.
    Retrying,
    /// Done, once.
    Done,
    /// Every attempt failed: it waits for an operator (retry or discard).
    Dead,
    /// The model cannot read it: it waits for a replay (or discard).
    Parked,
    /// An operator chose not to process it.
    Discarded,
}

impl State {
    /// Every state, in the order of [`Stats`].
    pub const ALL: [State; 7] = [
        State::Pending,
        State::Running,
        State::Retrying,
        State::Done,
        State::Dead,
        State::Parked,
        State::Discarded,
    ];

    /// Its name in the table and in JSON: `"pending"`, `"running"`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Retrying => "retrying",
            State::Done => "done",
            State::Dead => "dead",
            State::Parked => "parked",
            State::Discarded => "discarded",
        }
    }

    /// The state named `name` (as [`State::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|state| state.as_str() == name)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for State {
    type Err = UnknownState;

    fn from_str(name: &str) -> Result<State, UnknownState> {
        State::from_name(name).ok_or(UnknownState)
    }
}

/// A name that is not one of the [`State`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct UnknownState;

impl fmt::Display for UnknownState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "not an inbox state (pending, running, retrying, done, dead, parked, discarded)",
        )
    }
}

impl std::error::Error for UnknownState {}

/// A state read from the table; an unknown one (a row changed by hand) is
/// shown as parked, which no worker touches.
fn stored_state(name: &str) -> State {
    State::from_name(name).unwrap_or(State::Parked)
}

/// An instant as microseconds since the Unix epoch, as the statements take
/// times (far past and far future clamped).
fn unix_micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(if at.year() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// An instant from microseconds since the Unix epoch, as the statements
/// give times.
fn from_unix_micros(us: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).ok()
}

/// Whether `e` says that the connection itself is gone, as every idle
/// connection of a pool is after the server restarted: the socket failed,
/// or the server said it was shutting down (SQLSTATE class 57P) or that
/// the connection failed (class 08). A statement that fails so runs on
/// another connection of the pool.
fn closed_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("57P") || code.starts_with("08")),
        _ => false,
    }
}

/// A duration in whole microseconds, at least one, for the statements.
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros())
        .unwrap_or(i64::MAX)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_their_names() {
        for state in State::ALL {
            assert_eq!(State::from_name(state.as_str()), Some(state));
            assert_eq!(state.as_str().parse::<State>(), Ok(state));
            assert_eq!(
                serde_json::to_string(&state).unwrap(),
                format!("\"{state}\"")
            );
        }
        assert_eq!("Dead".parse::<State>(), Err(UnknownState));
        assert_eq!(stored_state("lost"), State::Parked);
    }

    #[test]
    fn table_names_are_checked_and_bounded() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _in_runtime = runtime.enter();
        let pool = PgPoolOptions::new().connect_lazy("postgres://u@127.0.0.1/x");
        let Ok(pool) = pool else {
            panic!("a lazy pool needs no server");
        };
        let inbox = Inbox::new(pool);
        assert!(inbox.clone().with_table("billing_inbox").is_ok());
        assert!(inbox.clone().with_table(&"a".repeat(52)).is_ok());
        for bad in ["", "Inbox", "a b", "x;drop", &"a".repeat(53)] {
            assert!(inbox.clone().with_table(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stored_items_parse_by_vendor_and_never_panic() {
        let event =
            br#"{"id":"evt_1","type":"assembly.due_soon","created_at":"2026-04-05T08:00:00Z",
            "data":{"assembly_id":"asm_1","facility_id":"fac_1","due_date":"2026-05-05",
                    "days_remaining":30,"assembly_type":"RPZ"}}"#;
        let item = Item::parse("smartcomply", event).unwrap();
        assert_eq!(item.id(), "evt_1");
        assert_eq!(item.idempotency_key(), "smartcomply:evt_1");
        assert_eq!(by_subject(&item).as_deref(), Some("assembly:asm_1"));
        let notification = br#"{"uuid":"u-1","event":"enquiry:create","timestamp":"2023-11-20T01:00:00Z","message":{}}"#;
        let item = Item::parse("smarterwx", notification).unwrap();
        assert_eq!(item.vendor(), Vendor::SmarterWx);
        assert_eq!(item.event_type(), "enquiry:create");
        assert_eq!(by_subject(&item), None);
        for (vendor, raw) in [
            ("smartcomply", &b"{}"[..]),
            ("smarterwx", b"[]"),
            ("smarterwx", b"[{\"uuid\":\"a\"},{\"uuid\":\"b\"}]"),
            ("other", event),
            ("smartcomply", b"\xff"),
        ] {
            assert!(Item::parse(vendor, raw).is_err(), "{vendor}");
        }
    }
}
