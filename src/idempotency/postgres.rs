//! A store on PostgreSQL whose completion can commit in the work's own
//! transaction: exactly once, a crash included.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{
    AssertSqlSafe, Connection as _, PgConnection, PgPool, Postgres, SqlSafeStr as _, SqlStr,
};

use super::run::{held, under_lease};
use super::{
    Claim, Lease, LostTo, Outcome, Store, StoreError, StoreErrorKind, acted, printable,
    server_error,
};

/// The longest one operation may take by the client's clock: waiting for
/// a connection, then the statement (and, on a broken connection, another
/// connection and the statement again).
const OPERATION_DEADLINE: Duration = Duration::from_millis(1500);
/// How long [`PostgresStore::connect`]'s pool waits for a connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1000);
/// The `statement_timeout` of [`PostgresStore::connect`]'s connections:
/// the server gives up a statement (one waiting on a row lock, say) before
/// the client does, so that it does not apply after the client gave up.
const STATEMENT_TIMEOUT_MS: &str = "1000";
/// How many connections [`PostgresStore::connect`]'s pool opens at most.
const MAX_CONNECTIONS: u32 = 32;
/// How long [`PostgresStore::migrate`] may take.
const MIGRATE_DEADLINE: Duration = Duration::from_secs(10);
/// How many times a statement runs when its answer was read from a row
/// older than the one it acted on (a concurrent change committed after the
/// statement began).
const ATTEMPTS: usize = 4;

/// The schema, as shipped in `migrations/webhook_claims.sql`.
const SCHEMA: &str = include_str!("../../migrations/webhook_claims.sql");

/// The statements, each written once, in files on the default table
/// (`webhook_claims`); the docs show the same files.
mod sql {
    /// What `claim` and `extend` do, before [`ANSWER`].
    pub const CLAIM: &str = include_str!("sql/claim.sql");
    /// What `complete` and `complete_in` do, before [`ANSWER`].
    pub const COMPLETE: &str = include_str!("sql/complete.sql");
    /// What `release` and `release_with_error` do, before [`ANSWER`].
    pub const RELEASE: &str = include_str!("sql/release.sql");
    /// The end of the three statements above: their answer.
    pub const ANSWER: &str = include_str!("sql/answer.sql");
    /// `purge`.
    pub const PURGE: &str = include_str!("sql/purge.sql");
    /// `status`.
    pub const STATUS: &str = include_str!("sql/status.sql");
}

/// The codes the statements answer with, named beside each literal in
/// the SQL (`THEN 2 -- COMPLETED`); a test ties each literal to its name.
mod code {
    pub use crate::idempotency::code::*;
    /// The row read is older than the one the statement acted on: run it
    /// again.
    pub const STALE: i64 = 9;
}

/// An idempotency [`Store`] on PostgreSQL, through sqlx, shared by every
/// process that receives webhooks; with [`PostgresStore::complete_in`], the
/// completion commits in the work's own transaction.
///
/// Requires the `postgres` feature (sqlx 0.9, which needs Rust 1.94; the
/// crate re-exports it as `utility_webhooks::sqlx`) and a **Tokio**
/// runtime.
///
/// # Exactly once
///
/// [`Store::complete`] records the completion after the work committed, so
/// a crash between the two makes the retry do the work again (at least
/// once), as with every store. [`PostgresStore::complete_in`] records it in
/// the work's transaction instead: a crash before the commit leaves
/// neither the effects nor the completion, and the retry does the work; a
/// crash after it leaves both, and the retry is answered
/// [`Claim::Completed`]. [`PostgresStore::run_in_transaction`] does it all
/// around a closure. (The crate's README compares what each store
/// promises.)
///
/// ```no_run
/// use std::time::Duration;
/// use utility_webhooks::idempotency::{Answer, PostgresStore};
///
/// # async fn example() -> Result<(), utility_webhooks::idempotency::StoreError> {
/// let store = PostgresStore::connect("postgres://receiver:secret@127.0.0.1/billing")
///     .await?
///     .with_retention(Duration::from_secs(14 * 24 * 3600));
/// store.migrate().await?;
///
/// let key = "smartcomply:evt_8f3a2c1b6e9d4a07";
/// let outcome = store
///     .run_in_transaction(key, Duration::from_secs(10), |tx, lease| {
///         Box::pin(async move {
///             // The work's effects, in the transaction that records the
///             // completion.
///             sqlx::query("INSERT INTO receiver_effects (key, token) VALUES ($1, $2)")
///                 .bind(lease.key())
///                 .bind(lease.token())
///                 .execute(&mut *tx)
///                 .await?;
///             Ok::<_, sqlx::Error>(())
///         })
///     })
///     .await?; // the store is down: answer 503
/// let status = Answer::from(&outcome).http_status(); // 204, 409 or 500
/// # let _ = status;
/// # Ok(())
/// # }
/// ```
///
/// # The table
///
/// One row per key (`webhook_claims` unless [`PostgresStore::with_table`]
/// names another), created by [`PostgresStore::migrate`], or by the same
/// SQL in your own migrations (`migrations/webhook_claims.sql` in the
/// crate, [`PostgresStore::SCHEMA`]); it can run again, and brings a
/// table made by an earlier version up to date:
///
/// ```sql
#[doc = include_str!("../../migrations/webhook_claims.sql")]
/// ```
///
/// A row whose `expires` has passed counts as absent. Every time is the
/// database's clock: `statement_timestamp()`, which is `now()` outside a
/// transaction and the statement's own start inside one (`now()` would be
/// the transaction's start). The client's clock is never trusted.
///
/// A failed attempt leaves its trace: a release ends the lease at once
/// but keeps the row, with `attempts` and the work's error in
/// `last_error` ([`Store::release_with_error`], which
/// [`run`](super::run) and [`PostgresStore::run_in_transaction`] call).
/// [`PostgresStore::status`] reads them.
///
/// # The statements
///
/// Each operation is one statement, fenced by the lease's token, sent in
/// one round trip. For another driver (tokio-postgres, diesel), run the
/// same SQL (with your table's name); `$1` is the key, `$2` the token.
/// `claim`, `complete` and `release` are each an `acted` part, then the
/// same answer: one row, `(code, left_us)`, the code named beside its
/// literal: `ACTED` (for `claim`, `Acquired`); `COMPLETED`, another claim
/// completed the key (`Completed`, or `LeaseLost`); `HELD`, another claim
/// holds it (`InProgress` with `left_us`, or `LeaseLost`);
/// `OWN_COMPLETION`, this token completed it (`complete`: done already);
/// `STALE`, run it again.
///
/// `claim` and `extend` (and a claim retried with its own token, which
/// finds its own lease):
///
/// ```sql
#[doc = include_str!("sql/claim.sql")]
/// ```
///
/// `complete` and `complete_in`:
///
/// ```sql
#[doc = include_str!("sql/complete.sql")]
/// ```
///
/// `release` and `release_with_error`:
///
/// ```sql
#[doc = include_str!("sql/release.sql")]
/// ```
///
/// Each of the three ends with:
///
/// ```sql
#[doc = include_str!("sql/answer.sql")]
/// ```
///
/// `purge` and `status` are in the crate's `src/idempotency/sql/`.
///
/// # Failing fast
///
/// [`PostgresStore::connect`]'s pool waits at most 1 s for a connection
/// and sets `statement_timeout` to 1 s; every operation also gives up
/// after 1.5 s by the client's clock. A stopped server gives
/// [`StoreErrorKind::Unavailable`] within about 1.5 s. What did not apply
/// (no connection, an error from the server) is
/// [`StoreErrorKind::Unavailable`]; what may have (a lost connection or no
/// answer after the statement was sent) is [`StoreErrorKind::Uncertain`].
/// What the server refuses for good (a data exception, SQLSTATE class
/// `22`, such as `22021` for bytes that are not UTF-8; a program limit,
/// class `54`, such as `54000` for a key too long for the index) is
/// [`StoreErrorKind::Rejected`]: retrying cannot help, so park the
/// delivery. No error message holds a key, a token, the URL or a password.
///
/// A connection that turns out to be broken when a statement is sent
/// (the server restarted, or a firewall dropped an idle connection) is
/// replaced, and the statement sent once more on a connection that
/// answers, within the same 1.5 s: every statement may run twice, since
/// the token finds its own work. So a restarted server fails no claim,
/// and the pool need not ping each connection before use (it does not:
/// see [`PostgresStore::new`]).
///
/// # Retention
///
/// A completed key answers [`Claim::Completed`] for the retention (default
/// 7 days). Rows past it count as absent; [`PostgresStore::purge`] deletes
/// them, a batch at a time, whenever the host schedules it. Claims never
/// wait on it.
///
/// # Testing your handlers
///
/// A handler whose work runs in the transaction needs a real PostgreSQL:
/// give each test a database of its own with `#[sqlx::test]` (sqlx's
/// `macros` and `migrate` features, in your dev-dependencies), which
/// creates one from `DATABASE_URL` and drops it after:
///
/// ```no_run
#[doc = include_str!("../../tests/it/handler_recipe.rs")]
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct PostgresStore {
    pool: PgPool,
    table: Arc<str>,
    statements: Arc<Statements>,
    retention: Duration,
}

/// The statements for one table name.
struct Statements {
    claim: SqlStr,
    complete: SqlStr,
    release: SqlStr,
    purge: SqlStr,
    status: SqlStr,
    schema: SqlStr,
}

impl Statements {
    /// The statements on `table`, which [`valid_table`] accepted: the
    /// default table's name, and its index's, replaced by `table`'s,
    /// quoted.
    fn new(table: &str) -> Self {
        let sql = |text: &str| {
            let text = text
                .replace(PostgresStore::DEFAULT_TABLE, "{t}")
                .replace("{t}_expires", &format!("\"{table}_expires\""))
                .replace("{t}", &format!("\"{table}\""));
            AssertSqlSafe(text).into_sql_str()
        };
        let acting = |acted: &str| sql(&format!("{acted}{}", sql::ANSWER));
        Statements {
            claim: acting(sql::CLAIM),
            complete: acting(sql::COMPLETE),
            release: acting(sql::RELEASE),
            purge: sql(sql::PURGE),
            status: sql(sql::STATUS),
            schema: sql(SCHEMA),
        }
    }
}

/// What a statement gets as `$3`, after the key and the token.
#[derive(Clone, Copy)]
enum Arg<'a> {
    /// A lease or a retention, in microseconds.
    Micros(i64),
    /// The error a release records, or none.
    Error(Option<&'a str>),
}

/// A statement that failed, and whether its connection turned out to be
/// broken (the statement may then be sent again on another).
struct Failure {
    error: StoreError,
    broken: bool,
}

/// What a [`PostgresStore::run_in_transaction`] closure returns: its work
/// as a boxed future that may borrow the transaction's connection.
pub type TransactionWork<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// What [`PostgresStore::status`] says of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct KeyStatus {
    /// Where the key stands now, by the database's clock.
    pub state: KeyState,
    /// How many claims took the key: one per attempt at its work (an
    /// extension, or a claim retried with its own token, is the same
    /// attempt). A key claimed again after its retention starts at 1.
    pub attempts: u32,
    /// What the last failed attempt said ([`Store::release_with_error`]:
    /// the work's error, a panic's message, or that the lease could not
    /// be held), escaped and cut to 300 bytes; `None` when no attempt
    /// failed, or the failed one left no word (a crash, a plain
    /// [`Store::release`]). It stays once the key is completed.
    pub last_error: Option<String>,
}

/// Where a key stands, for [`KeyStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub enum KeyState {
    /// A lease holds it: a claim now answers [`Claim::InProgress`].
    InProgress {
        /// What is left of the lease.
        retry_after: Duration,
    },
    /// Its work is done: a claim now answers [`Claim::Completed`].
    Completed,
    /// Free: released after a failure, its lease ran out, or past its
    /// retention. The next claim takes it.
    Free,
}

/// The connection options of the PostgreSQL URL `url`, with a
/// `statement_timeout` of [`STATEMENT_TIMEOUT_MS`]; a URL that cannot be
/// read is [`StoreErrorKind::Unavailable`], and its text is not echoed.
pub(crate) fn url_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let unreadable = || {
        StoreError::new(
            StoreErrorKind::Unavailable,
            "the PostgreSQL URL cannot be read",
        )
    };
    let scheme = url.split_once("://").map(|(scheme, _)| scheme);
    if !matches!(scheme, Some("postgres" | "postgresql")) {
        return Err(unreadable());
    }
    let options: PgConnectOptions = url.parse().map_err(|_| unreadable())?;
    Ok(options.options([("statement_timeout", STATEMENT_TIMEOUT_MS)]))
}

/// `pool` connected with `options` within [`OPERATION_DEADLINE`], or
/// [`StoreErrorKind::Unavailable`]: nothing was sent that could apply.
pub(crate) async fn open(
    pool: PgPoolOptions,
    options: PgConnectOptions,
) -> Result<PgPool, StoreError> {
    timeout(
        Instant::now() + OPERATION_DEADLINE,
        pool.connect_with(options),
    )
    .await
    .ok_or_else(|| {
        StoreError::new(
            StoreErrorKind::Unavailable,
            "timed out connecting to PostgreSQL",
        )
    })?
    .map_err(|e| not_sent("connecting to PostgreSQL", &e))
}

/// `name` as a table name, if it is a plain SQL identifier of at most
/// `max` bytes ([`valid_table`]); otherwise
/// [`StoreErrorKind::Unavailable`]: no text goes into the SQL unchecked.
pub(crate) fn table_name(name: &str, max: usize) -> Result<Arc<str>, StoreError> {
    if valid_table(name) && name.len() <= max {
        return Ok(name.into());
    }
    Err(StoreError::new(
        StoreErrorKind::Unavailable,
        format!(
            "the table name is not a plain SQL identifier \
             ([a-z_][a-z0-9_]*, at most {max} bytes)"
        ),
    ))
}

/// Whether `name` is a plain SQL identifier: a lowercase ASCII letter or
/// `_`, then lowercase letters, digits and `_`, at most 54 bytes (so that
/// its index's name, `<name>_expires`, fits PostgreSQL's 63).
pub(crate) fn valid_table(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'_'))
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
        && name.len() <= 54
}

impl PostgresStore {
    /// The default table name.
    pub const DEFAULT_TABLE: &'static str = "webhook_claims";

    /// The default retention of completed keys: 7 days.
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

    /// The schema that [`PostgresStore::migrate`] runs for the default
    /// table, as shipped in `migrations/webhook_claims.sql`.
    pub const SCHEMA: &'static str = SCHEMA;

    /// Connect to the PostgreSQL server at `url`
    /// (`postgres://user:password@host:port/database`), with a pool of at
    /// most 32 connections that waits at most 1 s for one, does not ping
    /// a connection before handing it out (see [`PostgresStore::new`]),
    /// and sets a `statement_timeout` of 1 s.
    ///
    /// Size the pool above the number of deliveries in flight: each
    /// [`PostgresStore::run_in_transaction`] holds one connection for its
    /// claim and transaction, and its renewals take another for a moment.
    ///
    /// Fails with [`StoreErrorKind::Unavailable`] when the URL cannot be
    /// read or the server cannot be reached within about 1.5 s; the message
    /// holds neither the URL nor the password. Later losses of connections
    /// are repaired by the pool, and by the store's one retry on a broken
    /// connection.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = url_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false);
        Ok(Self::new(open(pool, options).await?))
    }

    /// A store on the host's own pool, with the default table and
    /// retention.
    ///
    /// Give the pool an `acquire_timeout` and a `statement_timeout`
    /// (`PgConnectOptions::options`) of about a second, so that a store
    /// that is down fails fast; each operation gives up after 1.5 s in any
    /// case.
    ///
    /// sqlx pings every connection as the pool hands it out unless
    /// `PgPoolOptions::test_before_acquire(false)` is set: a second round
    /// trip for each claim and each completion. The store does without it
    /// (a connection found broken is replaced, and the statement sent
    /// again, at once), so turn it off on a pool the store shares, as
    /// [`PostgresStore::connect`] does:
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    /// use utility_webhooks::idempotency::PostgresStore;
    ///
    /// # async fn example() -> Result<(), sqlx::Error> {
    /// let options: PgConnectOptions = "postgres://receiver:secret@127.0.0.1/billing".parse()?;
    /// let pool = PgPoolOptions::new()
    ///     .max_connections(32)
    ///     .acquire_timeout(Duration::from_secs(1))
    ///     .test_before_acquire(false)
    ///     .connect_with(options.options([("statement_timeout", "1000")]))
    ///     .await?;
    /// let store = PostgresStore::new(pool.clone()); // the same pool for the work
    /// # let _ = store;
    /// # Ok(())
    /// # }
    /// ```
    pub fn new(pool: PgPool) -> Self {
        PostgresStore {
            pool,
            table: Self::DEFAULT_TABLE.into(),
            statements: Arc::new(Statements::new(Self::DEFAULT_TABLE)),
            retention: Self::DEFAULT_RETENTION,
        }
    }

    /// Keep the claims in the table `name` instead of `webhook_claims`
    /// (in the connection's `search_path`).
    ///
    /// `name` must be a plain SQL identifier: a lowercase ASCII letter or
    /// `_`, then lowercase letters, digits and `_`, at most 54 bytes.
    /// Anything else is refused with [`StoreErrorKind::Unavailable`]: no
    /// text goes into the SQL unchecked.
    pub fn with_table(mut self, name: &str) -> Result<Self, StoreError> {
        self.table = table_name(name, 54)?;
        self.statements = Arc::new(Statements::new(name));
        Ok(self)
    }

    /// The table in use.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The pool, to run the work's own statements on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Create the table and its index if they are missing, and add the
    /// columns a table made by an earlier version lacks
    /// ([`PostgresStore::SCHEMA`], with the store's table name).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + MIGRATE_DEADLINE;
        let mut connection = self.live_connection(deadline, "migrate").await?;
        let statement = sqlx::raw_sql(self.statements.schema.clone());
        match timeout(deadline, statement.execute(&mut *connection)).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(error("migrate", &e, &[])),
            None => Err(no_answer("migrate", MIGRATE_DEADLINE)),
        }
    }

    /// Delete up to `limit` rows past their expiry: completed keys past the
    /// retention, and leases that ended (released after a failure, or run
    /// out) longer ago than the retention, so that a failure's record
    /// stays as long as a completion's. Returns how many it deleted.
    ///
    /// Claims never depend on it (a row past its expiry counts as absent);
    /// it keeps the table small. Schedule it (say, `purge(10_000)` every
    /// few minutes, until it returns less than the limit).
    pub async fn purge(&self, limit: u64) -> Result<u64, StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let mut connection = self.live_connection(deadline, "purge").await?;
        let statement = sqlx::query(self.statements.purge.clone())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .bind(micros(self.retention));
        match timeout(deadline, statement.execute(&mut *connection)).await {
            Some(Ok(done)) => Ok(done.rows_affected()),
            Some(Err(e)) => Err(error("purge", &e, &[])),
            None => Err(no_answer("purge", OPERATION_DEADLINE)),
        }
    }

    /// What the store knows of `key` now: whether a lease holds it, its
    /// work is done, or it is free; how many attempts took it; and what
    /// the last failed one said. `None` when the key has no row: never
    /// claimed, or purged.
    ///
    /// For an operator (a console, a log line when a delivery keeps
    /// failing); claims never need it.
    ///
    /// ```no_run
    /// # use utility_webhooks::idempotency::{KeyState, PostgresStore};
    /// # async fn example(store: &PostgresStore) -> Result<(), utility_webhooks::idempotency::StoreError> {
    /// if let Some(status) = store.status("smartcomply:evt_8f3a2c1b6e9d4a07").await? {
    ///     if status.state == KeyState::Free && status.attempts > 3 {
    ///         eprintln!("failed {} times: {:?}", status.attempts, status.last_error);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn status(&self, key: &str) -> Result<Option<KeyStatus>, StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let mut connection = self.live_connection(deadline, "status").await?;
        let statement =
            sqlx::query_as::<_, (String, i64, i32, Option<String>)>(self.statements.status.clone())
                .bind(key);
        let row = match timeout(deadline, statement.fetch_optional(&mut *connection)).await {
            Some(Ok(row)) => row,
            Some(Err(e)) => return Err(error("status", &e, &[key])),
            None => return Err(no_answer("status", OPERATION_DEADLINE)),
        };
        let Some((state, left_us, attempts, last_error)) = row else {
            return Ok(None);
        };
        let state = match state.as_str() {
            "in_progress" => KeyState::InProgress {
                retry_after: Duration::from_micros(u64::try_from(left_us).unwrap_or(0)),
            },
            "completed" => KeyState::Completed,
            "free" => KeyState::Free,
            _ => return Err(unexpected()),
        };
        Ok(Some(KeyStatus {
            state,
            attempts: u32::try_from(attempts).unwrap_or(0),
            last_error,
        }))
    }

    /// Record that `lease`'s work is done, inside the caller's transaction
    /// (`&mut *tx`), so that the completion commits with the work's effects
    /// or not at all.
    ///
    /// Fenced by the token as [`Store::complete`] is: when another claim
    /// holds or completed the key, it changes nothing and returns
    /// [`StoreErrorKind::LeaseLost`]; **roll back** then (another claim
    /// does the work, or did it). Any other error aborts the transaction
    /// as well: roll back, and release the lease.
    ///
    /// Until the transaction ends, the key's row is locked: a retry's claim
    /// waits for the commit (and answers [`Claim::Completed`]) or the
    /// rollback. Commit soon after.
    pub async fn complete_in(
        &self,
        connection: &mut PgConnection,
        lease: &Lease,
    ) -> Result<(), StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let retention = Arg::Micros(micros(self.retention));
        let complete = &self.statements.complete;
        let (code, _) = self
            .act_on(connection, complete, lease, retention, deadline, "complete")
            .await
            .map_err(|failure| failure.error)?;
        completed(code)
    }

    /// Run `work` once for `key` in a transaction that also records its
    /// completion: exactly once, a crash included.
    ///
    /// It claims the key for `lease` ([`Outcome::InProgress`] and
    /// [`Outcome::Completed`] return at once, as from
    /// [`run`](super::run)), begins a transaction on the connection that
    /// claimed it, runs `work` with the transaction's connection and a copy
    /// of the lease, then [`PostgresStore::complete_in`] and commits. With
    /// the `tracing` feature it has the same `webhook.run` span and events
    /// as [`run`](super::run).
    ///
    /// - `Ok`: [`Outcome::Done`] once committed.
    /// - `Err`, a panic, or a lease that could not be held (it renews the
    ///   lease with [`Store::extend`] at each half, as `run` does): it rolls
    ///   back, releases with what stopped the work
    ///   ([`Store::release_with_error`]: read it with
    ///   [`PostgresStore::status`]), and answers [`Outcome::Failed`],
    ///   [`Outcome::Panicked`] or [`Outcome::TimedOut`].
    /// - `complete_in` found the key completed by another claim: rolled
    ///   back, [`Outcome::Completed`] (the work is done, once); held by
    ///   another: rolled back, [`Outcome::TimedOut`].
    ///
    /// It returns `Err` (answer `503`) when the claim failed, when the
    /// transaction could not begin, and when recording the completion or
    /// the commit failed; the effects are then rolled back (a commit whose
    /// answer was lost is checked: if it did commit, the answer is
    /// [`Outcome::Done`]). It never answers [`Outcome::DoneNotRecorded`]:
    /// here the work and its record are one.
    ///
    /// The closure returns a boxed future ([`TransactionWork`]) so that it
    /// may borrow the connection:
    ///
    /// ```no_run
    /// # use std::time::Duration;
    /// # use utility_webhooks::idempotency::{Answer, Outcome, PostgresStore};
    /// # async fn example(store: &PostgresStore) -> Result<(), utility_webhooks::idempotency::StoreError> {
    /// let outcome = store
    ///     .run_in_transaction("smarterwx:fd07b9f3", Duration::from_secs(10), |tx, lease| {
    ///         Box::pin(async move {
    ///             let row: (i64,) = sqlx::query_as(
    ///                 "INSERT INTO receiver_effects (key, token) VALUES ($1, $2) RETURNING 1::int8",
    ///             )
    ///             .bind(lease.key())
    ///             .bind(lease.token())
    ///             .fetch_one(&mut *tx)
    ///             .await?;
    ///             Ok::<_, sqlx::Error>(row.0)
    ///         })
    ///     })
    ///     .await?;
    /// match outcome {
    ///     Outcome::Done(_) | Outcome::Completed => { /* 204 */ }
    ///     other => { let _ = Answer::from(&other).http_status(); /* 409 or 500 */ }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_in_transaction<F, T, E>(
        &self,
        key: &str,
        lease: Duration,
        work: F,
    ) -> Result<Outcome<T, E>, StoreError>
    where
        F: for<'c> FnOnce(&'c mut PgConnection, Lease) -> TransactionWork<'c, T, E>,
        E: fmt::Display,
    {
        crate::trace::idempotent(key, async {
            let (mut connection, claim) = self.claim_lease(Lease::new(key, lease)).await?;
            let mut lease = match held(self, claim).await {
                Ok(lease) => lease,
                Err(answered) => return Ok(answered),
            };
            let deadline = Instant::now() + OPERATION_DEADLINE;
            let mut transaction = match timeout(deadline, connection.begin()).await {
                Some(Ok(transaction)) => transaction,
                failed => {
                    let e = match failed {
                        Some(Err(e)) => not_sent("begin", &e),
                        _ => no_answer("begin", OPERATION_DEADLINE),
                    };
                    // `BEGIN` changed nothing: the key goes back.
                    let _ = self.release_with_error(&lease, &e.to_string()).await;
                    return Err(e);
                }
            };
            let ran = under_lease(self, &mut lease, |copy| work(&mut transaction, copy)).await;
            let value = match ran {
                Ok(value) => value,
                Err(stopped) => {
                    // Rolled back before the key goes back (dropping the
                    // transaction would roll it back too, later).
                    let _ =
                        timeout(Instant::now() + OPERATION_DEADLINE, transaction.rollback()).await;
                    return Ok(stopped.release(self, &lease).await);
                }
            };
            if let Err(e) = self.complete_in(&mut transaction, &lease).await {
                let _ = timeout(Instant::now() + OPERATION_DEADLINE, transaction.rollback()).await;
                return match e.lost_to() {
                    Some(LostTo::Completion) => Ok(Outcome::Completed),
                    Some(_) => Ok(Outcome::TimedOut),
                    None => {
                        let _ = self.release_with_error(&lease, &e.to_string()).await;
                        Err(e)
                    }
                };
            }
            let deadline = Instant::now() + OPERATION_DEADLINE;
            let failed = match timeout(deadline, transaction.commit()).await {
                Some(Ok(())) => return Ok(Outcome::Done(value)),
                Some(Err(e)) => error("commit", &e, &[key, lease.token()]),
                None => no_answer("commit", OPERATION_DEADLINE),
            };
            // Committed or not? A release answers: it refuses a key this
            // lease completed, and frees one it still holds.
            match self.release_with_error(&lease, &failed.to_string()).await {
                Err(e) if e.lost_to() == Some(LostTo::OwnCompletion) => Ok(Outcome::Done(value)),
                _ => Err(failed),
            }
        })
        .await
    }

    /// A connection from the pool by `deadline`; failing that,
    /// [`StoreErrorKind::Unavailable`]: nothing was sent.
    async fn acquire(
        &self,
        deadline: Instant,
        what: &'static str,
    ) -> Result<PoolConnection<Postgres>, StoreError> {
        // Boxed: sqlx's future is large, and every operation's holds it.
        match timeout(deadline, Box::pin(self.pool.acquire())).await {
            Some(Ok(connection)) => Ok(connection),
            Some(Err(e)) => Err(not_sent(what, &e)),
            None => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!("{what}: no connection within {OPERATION_DEADLINE:?}"),
            )),
        }
    }

    /// A connection from the pool that answered a ping by `deadline`: the
    /// ones that do not are closed, and the next taken.
    async fn live_connection(
        &self,
        deadline: Instant,
        what: &'static str,
    ) -> Result<PoolConnection<Postgres>, StoreError> {
        loop {
            let mut connection = self.acquire(deadline, what).await?;
            match timeout(deadline, connection.ping()).await {
                Some(Ok(())) => return Ok(connection),
                Some(Err(_)) => connection.close_on_drop(),
                None => return Err(no_answer(what, OPERATION_DEADLINE)),
            }
        }
    }

    /// Run `statement` (`CLAIM`, `COMPLETE` or `RELEASE`) for `lease` with
    /// `arg` on `connection`, again while its answer was read from a row
    /// older than the one it acted on; the code and `left_us`.
    async fn act_on(
        &self,
        connection: &mut PgConnection,
        statement: &SqlStr,
        lease: &Lease,
        arg: Arg<'_>,
        deadline: Instant,
        what: &'static str,
    ) -> Result<(i64, i64), Failure> {
        // `release` updates: no row at all means the key is free. The
        // others insert: no row means one appeared after the statement
        // began.
        let no_row_is_free = matches!(arg, Arg::Error(_));
        let hidden = [lease.key(), lease.token()];
        for _ in 0..ATTEMPTS {
            let query = sqlx::query_as::<_, (i32, i64)>(statement.clone())
                .bind(lease.key())
                .bind(lease.token());
            let query = match arg {
                Arg::Micros(micros) => query.bind(micros),
                Arg::Error(error) => query.bind(error),
            };
            let rows = match timeout(deadline, query.fetch_all(&mut *connection)).await {
                Some(Ok(rows)) => rows,
                Some(Err(e)) => return Err(failure(what, &e, &hidden)),
                None => {
                    return Err(Failure {
                        error: no_answer(what, OPERATION_DEADLINE),
                        broken: false,
                    });
                }
            };
            match rows.first() {
                Some(&(code, _)) if i64::from(code) == code::STALE => continue,
                Some(&(code, left)) => return Ok((i64::from(code), left)),
                None if no_row_is_free => return Ok((code::ACTED, 0)),
                None => continue,
            }
        }
        Err(Failure {
            error: StoreError::new(
                StoreErrorKind::Unavailable,
                format!("{what}: the key changed under every attempt"),
            ),
            broken: false,
        })
    }

    /// `statement` for `lease` on a connection from the pool, taken as it
    /// comes (no ping); when that connection turns out to be broken, once
    /// more on one that answers. The connection, for more work, and the
    /// code and `left_us`.
    async fn act(
        &self,
        statement: &SqlStr,
        lease: &Lease,
        arg: Arg<'_>,
        what: &'static str,
    ) -> Result<(PoolConnection<Postgres>, (i64, i64)), StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let mut connection = self.acquire(deadline, what).await?;
        let first = self
            .act_on(&mut connection, statement, lease, arg, deadline, what)
            .await;
        let error = match first {
            Ok(answer) => return Ok((connection, answer)),
            Err(Failure { error, broken }) if broken => error,
            Err(Failure { error, .. }) => return Err(error),
        };
        // The server restarted, or the connection was dropped while idle.
        // Every statement here may run twice: the token finds its own
        // work.
        connection.close_on_drop();
        drop(connection);
        let Ok(mut live) = self.live_connection(deadline, what).await else {
            return Err(error);
        };
        match self
            .act_on(&mut live, statement, lease, arg, deadline, what)
            .await
        {
            Ok(answer) => Ok((live, answer)),
            Err(failure) => Err(failure.error),
        }
    }

    /// `claim` for `lease`, which exists (and so its token and local
    /// deadline) before the claim is sent: the claim, and the connection
    /// that made it, for the work's transaction.
    async fn claim_lease(
        &self,
        lease: Lease,
    ) -> Result<(PoolConnection<Postgres>, Claim), StoreError> {
        let micros = Arg::Micros(micros(lease.duration()));
        let mut retried = false;
        let (connection, (code, left_us)) = loop {
            match self
                .act(&self.statements.claim, &lease, micros, "claim")
                .await
            {
                // No answer in time: the statement may have run. The same
                // token finds its lease.
                Err(e) if e.kind() == StoreErrorKind::Uncertain && !retried => retried = true,
                other => break other?,
            }
        };
        let claim = match code {
            code::ACTED => Claim::Acquired(lease),
            code::COMPLETED | code::OWN_COMPLETION => Claim::Completed,
            code::HELD => Claim::InProgress {
                retry_after: Duration::from_micros(u64::try_from(left_us).unwrap_or(0)),
            },
            _ => return Err(unexpected()),
        };
        Ok((connection, claim))
    }
}

/// `future`'s output, or `None` (and the future dropped) once `deadline`
/// passed first: on Tokio's timer, which sqlx needs anyway.
async fn timeout<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline.into(), future).await.ok()
}

/// A code the statements never answer.
fn unexpected() -> StoreError {
    StoreError::new(
        StoreErrorKind::Unavailable,
        "unexpected answer from PostgreSQL",
    )
}

/// What `complete` answered with `code`: completing twice is not an
/// error.
fn completed(code: i64) -> Result<(), StoreError> {
    match acted(code, "PostgreSQL") {
        Err(e) if e.lost_to() == Some(LostTo::OwnCompletion) => Ok(()),
        other => other,
    }
}

impl Store for PostgresStore {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        let (_, claim) = self.claim_lease(Lease::new(key, lease)).await?;
        Ok(claim)
    }

    async fn complete(&self, lease: &Lease) -> Result<(), StoreError> {
        let retention = Arg::Micros(micros(self.retention));
        let (_, (code, _)) = self
            .act(&self.statements.complete, lease, retention, "complete")
            .await?;
        completed(code)
    }

    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.release_as(lease, None)
    }

    fn release_with_error(
        &self,
        lease: &Lease,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.release_as(lease, Some(error))
    }

    async fn extend(&self, lease: &mut Lease, duration: Duration) -> Result<(), StoreError> {
        let duration = Lease::cap(duration);
        let sent = Instant::now();
        let micros = Arg::Micros(micros(duration));
        let (_, (code, _)) = self
            .act(&self.statements.claim, lease, micros, "extend")
            .await?;
        acted(code, "PostgreSQL")?;
        lease.extended(sent, duration);
        Ok(())
    }
}

impl PostgresStore {
    /// `release`, recording `error` (escaped and cut as logs show it)
    /// when there is one.
    async fn release_as(&self, lease: &Lease, error: Option<&str>) -> Result<(), StoreError> {
        let error = error.map(|e| super::error_text(&e));
        let arg = Arg::Error(error.as_deref());
        let (_, (code, _)) = self
            .act(&self.statements.release, lease, arg, "release")
            .await?;
        acted(code, "PostgreSQL")
    }
}

shared_store!(PostgresStore, table);

/// A duration in whole microseconds, at least one (lease lengths and
/// retentions are capped far below `i64::MAX`).
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// No answer by the client's deadline: the statement may have applied.
pub(crate) fn no_answer(what: &str, after: Duration) -> StoreError {
    StoreError::new(
        StoreErrorKind::Uncertain,
        format!("{what}: no answer within {after:?}"),
    )
}

/// A sqlx error from before anything was sent (connecting, waiting for a
/// connection, beginning): [`StoreErrorKind::Unavailable`] whatever it was,
/// with [`error`]'s message.
pub(crate) fn not_sent(what: &str, e: &sqlx::Error) -> StoreError {
    let (_, how) = describe(e, &[]);
    StoreError::new(StoreErrorKind::Unavailable, format!("{what}: {how}"))
}

/// A sqlx error from a statement that was sent, as a [`StoreError`]:
/// classified, with a message that names what failed and how but never
/// the URL or a password (sqlx's own texts are not used), and for a server
/// error its SQLSTATE and reason, bounded and escaped, with each of
/// `hidden` (the key, the token) taken out; and whether the connection
/// turned out to be broken.
fn failure(what: &str, e: &sqlx::Error, hidden: &[&str]) -> Failure {
    let (kind, how) = describe(e, hidden);
    Failure {
        error: StoreError::new(kind, format!("{what}: {how}")),
        broken: broken(e),
    }
}

/// [`failure`]'s error alone.
pub(crate) fn error(what: &str, e: &sqlx::Error, hidden: &[&str]) -> StoreError {
    failure(what, e, hidden).error
}

/// Whether `e` says the connection is gone (so that a statement may be
/// sent again on another): an I/O error, an answer that could not be
/// read, or the server's own word: SQLSTATE class `08` (connection
/// exception), `57P01` to `57P03` (the server shuts down, restarts, or is
/// starting).
fn broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
        _ => false,
    }
}

/// [`error`]'s class and text for `e`.
fn describe(e: &sqlx::Error, hidden: &[&str]) -> (StoreErrorKind, String) {
    use sqlx::Error as E;
    match e {
        E::Database(db) => {
            let code = db.code().unwrap_or_default();
            // The server answered with an error: the statement (or the
            // transaction it was in) did not apply. Bad data and the
            // server's limits are for good; anything else may pass.
            let kind = if code.starts_with("22") || code.starts_with("54") {
                StoreErrorKind::Rejected
            } else {
                StoreErrorKind::Unavailable
            };
            (kind, server_error(&code, Some(db.message()), hidden))
        }
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            (StoreErrorKind::Unavailable, "connection refused".to_owned())
        }
        E::Io(io) => (
            StoreErrorKind::Uncertain,
            format!(
                "connection lost ({})",
                printable(&format!("{:?}", io.kind()))
            ),
        ),
        E::PoolTimedOut => (
            StoreErrorKind::Unavailable,
            "no connection in time (is the server up?)".to_owned(),
        ),
        E::PoolClosed => (StoreErrorKind::Unavailable, "the pool is closed".to_owned()),
        E::Configuration(_) => (
            StoreErrorKind::Unavailable,
            "the connection settings cannot be used".to_owned(),
        ),
        E::Tls(_) => (StoreErrorKind::Unavailable, "TLS failed".to_owned()),
        E::Protocol(_) => (
            StoreErrorKind::Uncertain,
            "the server's answer could not be read".to_owned(),
        ),
        _ => (
            StoreErrorKind::Uncertain,
            "the answer could not be read".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::Answer;

    /// Compiles only if the helper's future is `Send` (for
    /// `tokio::spawn`), whatever the work borrows from the transaction.
    #[allow(dead_code, clippy::manual_async_fn)]
    fn the_helper_is_send(store: &PostgresStore) -> impl Future<Output = u16> + Send + '_ {
        async move {
            let outcome = store
                .run_in_transaction("smartcomply:evt_1", Duration::from_secs(1), |tx, lease| {
                    Box::pin(async move {
                        sqlx::query("SELECT $1")
                            .bind(lease.token())
                            .execute(&mut *tx)
                            .await
                            .map(|_| ())
                    })
                })
                .await;
            Answer::of(&outcome).http_status()
        }
    }

    #[test]
    fn table_names_are_plain_identifiers() {
        for good in ["webhook_claims", "_x", "a1", &"a".repeat(54)] {
            assert!(valid_table(good), "{good}");
        }
        for bad in [
            "",
            "1a",
            "Claims",
            "a-b",
            "a b",
            "claims; DROP TABLE x",
            "\"x\"",
            "s.t",
            "é",
            &"a".repeat(55),
        ] {
            assert!(!valid_table(bad), "{bad}");
        }
    }

    #[test]
    fn the_statements_name_the_quoted_table_only() {
        let default = Statements::new(PostgresStore::DEFAULT_TABLE);
        let schema = default.schema.as_str();
        assert!(schema.contains("CREATE TABLE IF NOT EXISTS \"webhook_claims\" ("));
        assert!(schema.contains("\"webhook_claims_expires\" ON \"webhook_claims\" (expires)"));
        assert!(schema.contains("attrelid = '\"webhook_claims\"'::regclass"));
        assert!(schema.contains("ALTER TABLE \"webhook_claims\""));
        let statements = Statements::new("billing_claims");
        for sql in [
            &statements.claim,
            &statements.complete,
            &statements.release,
            &statements.purge,
            &statements.status,
        ] {
            let sql = sql.as_str();
            assert!(sql.contains("\"billing_claims\""), "{sql}");
            assert!(
                !sql.contains("{t}") && !sql.contains("webhook_claims"),
                "{sql}"
            );
        }
        let schema = statements.schema.as_str();
        assert!(schema.contains("CREATE TABLE IF NOT EXISTS \"billing_claims\" ("));
        assert!(schema.contains("\"billing_claims_expires\" ON \"billing_claims\""));
        assert!(!schema.contains("webhook_claims"));
    }

    #[test]
    fn durations_are_whole_positive_microseconds() {
        assert_eq!(micros(Duration::ZERO), 1);
        assert_eq!(micros(Duration::from_millis(1500)), 1_500_000);
        assert_eq!(micros(Duration::MAX), i64::MAX);
        assert_eq!(micros(Lease::MAX), 86_400_000_000);
    }

    #[test]
    fn errors_are_classified_and_tell_no_secret() {
        let refused = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        let e = error("claim", &refused, &[]);
        assert_eq!(e.kind(), StoreErrorKind::Unavailable);
        assert_eq!(
            e.to_string(),
            "idempotency store unavailable: claim: connection refused"
        );
        let reset = sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into());
        let lost = failure("claim", &reset, &[]);
        assert_eq!(lost.error.kind(), StoreErrorKind::Uncertain);
        assert!(lost.broken, "a reset connection is sent again on another");
        let timed_out = failure("claim", &sqlx::Error::PoolTimedOut, &[]);
        assert_eq!(timed_out.error.kind(), StoreErrorKind::Unavailable);
        assert!(!timed_out.broken);
        let config = sqlx::Error::Configuration("postgres://u:hunter2@h/db".into());
        assert!(
            !error("connect", &config, &[])
                .to_string()
                .contains("hunter2")
        );
    }

    #[test]
    fn each_code_in_the_sql_is_the_constant_named_beside_it() {
        let named = |name: &str| match name {
            "ACTED" => Some(code::ACTED),
            "COMPLETED" => Some(code::COMPLETED),
            "HELD" => Some(code::HELD),
            "OWN_COMPLETION" => Some(code::OWN_COMPLETION),
            "STALE" => Some(code::STALE),
            _ => None,
        };
        let mut seen = std::collections::BTreeSet::new();
        for (file, sql) in [
            ("claim", sql::CLAIM),
            ("complete", sql::COMPLETE),
            ("release", sql::RELEASE),
            ("answer", sql::ANSWER),
        ] {
            let (mut codes, mut in_codes) = (0, false);
            for line in sql.lines() {
                let (statement, comment) = line.split_once("--").unwrap_or((line, ""));
                let words: Vec<&str> = statement
                    .split(|c: char| c.is_whitespace() || c == ',')
                    .filter(|w| !w.is_empty())
                    .collect();
                // The codes: `RETURNING 0 AS code`, and each literal after
                // `THEN` or `ELSE` in the fallback's `SELECT CASE .. END`.
                in_codes |= statement.contains("SELECT CASE");
                let literals: Vec<i64> = words
                    .windows(2)
                    .filter(|w| match w[0] {
                        "RETURNING" => true,
                        "THEN" | "ELSE" => in_codes,
                        _ => false,
                    })
                    .filter_map(|w| w[1].parse().ok())
                    .collect();
                in_codes &= !words.contains(&"END");
                let name = comment.trim();
                match (literals.as_slice(), named(name)) {
                    ([], None) => {}
                    ([literal], Some(value)) => {
                        assert_eq!(*literal, value, "{file}.sql: {line}");
                        seen.insert(name.to_owned());
                        codes += 1;
                    }
                    _ => panic!("{file}.sql: a code without its name beside it: {line}"),
                }
            }
            let expected = if file == "answer" { 4 } else { 1 };
            assert_eq!(codes, expected, "{file}.sql");
        }
        assert_eq!(seen.len(), 5, "{seen:?}");
    }

    #[test]
    fn broken_connections_are_told_from_refusals() {
        let eof = sqlx::Error::Io(std::io::ErrorKind::UnexpectedEof.into());
        assert!(broken(&eof));
        assert!(broken(&sqlx::Error::Protocol("unexpected message".into())));
        assert!(!broken(&sqlx::Error::PoolTimedOut));
        assert!(!broken(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn an_unreadable_url_is_unavailable_and_not_echoed() {
        crate::idempotency::assert_unreadable_url_refused(PostgresStore::connect(
            "nonsense://user:hunter2@host/",
        ));
    }
}
