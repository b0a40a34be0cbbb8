//! A store on PostgreSQL whose completion can commit in the work's own
//! transaction: exactly once, a crash included.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, SqlSafeStr as _, SqlStr};

use super::run::{catching, first, keep, panic_message, timeout};
use super::{
    Claim, Lease, LostTo, Outcome, Store, StoreError, StoreErrorKind, acted, cap_retention,
};

/// The longest one operation may take by the client's clock: waiting for
/// a connection, then the statement.
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

/// The codes the statements answer with.
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
/// Requires the `postgres` feature (sqlx 0.9, which needs Rust 1.94) and a
/// **Tokio** runtime.
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
/// around a closure.
///
/// | store | instances | a crash between the effect and the record | runs on |
/// | --- | --- | --- | --- |
/// | [`MemoryStore`](super::MemoryStore) | one process | done again (at least once) | nothing |
/// | `RedisStore` | many | done again (at least once) | redis-server |
/// | `PostgresStore` + `complete_in` | many | never done twice (exactly once) | PostgreSQL |
///
/// # The table
///
/// One row per key (`webhook_claims` unless [`PostgresStore::with_table`]
/// names another), created by [`PostgresStore::migrate`], or by the same
/// SQL in your own migrations (`migrations/webhook_claims.sql` in the
/// crate):
///
/// ```sql
/// CREATE TABLE IF NOT EXISTS webhook_claims (
///     key          text        PRIMARY KEY,
///     token        text        NOT NULL,
///     state        text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
///     expires      timestamptz NOT NULL,  -- the lease's end, then the retention's
///     completed_at timestamptz
/// );
/// CREATE INDEX IF NOT EXISTS webhook_claims_expires ON webhook_claims (expires);
/// ```
///
/// A row whose `expires` has passed counts as absent. Every time is the
/// database's clock: `statement_timestamp()`, which is `now()` outside a
/// transaction and the statement's own start inside one (`now()` would be
/// the transaction's start). The client's clock is never trusted.
///
/// # The statements
///
/// Each operation is one statement, fenced by the lease's token. For
/// another driver (tokio-postgres, diesel), run the same SQL; `$1` is the
/// key, `$2` the token, `$3` a duration in microseconds (`int8`).
///
/// `claim` and `extend` (and a claim retried with its own token, which
/// finds its own lease): take the key if its row has expired or is this
/// token's lease in progress; otherwise say who has it.
///
/// ```sql
/// WITH acted AS (
///   INSERT INTO webhook_claims AS c (key, token, state, expires)
///   VALUES ($1, $2, 'in_progress', statement_timestamp() + $3::int8 * interval '1 microsecond')
///   ON CONFLICT (key) DO UPDATE
///      SET token = excluded.token, state = 'in_progress',
///          expires = excluded.expires, completed_at = NULL
///    WHERE c.expires <= statement_timestamp()
///       OR (c.token = excluded.token AND c.state = 'in_progress')
///   RETURNING 0 AS code, 0::int8 AS left_us
/// )
/// SELECT code, left_us FROM acted
/// UNION ALL
/// SELECT CASE WHEN c.expires <= statement_timestamp()
///               OR (c.token = $2 AND c.state = 'in_progress') THEN 9
///             WHEN c.state = 'completed' AND c.token = $2 THEN 4
///             WHEN c.state = 'completed' THEN 2
///             ELSE 3 END,
///        greatest(0, floor(extract(epoch FROM c.expires - statement_timestamp()) * 1e6))::int8
///   FROM webhook_claims c
///  WHERE c.key = $1 AND NOT EXISTS (SELECT 1 FROM acted);
/// ```
///
/// `complete` and `complete_in` (`$3` the retention): the same, but the row
/// becomes completed.
///
/// ```sql
/// WITH acted AS (
///   INSERT INTO webhook_claims AS c (key, token, state, expires, completed_at)
///   VALUES ($1, $2, 'completed', statement_timestamp() + $3::int8 * interval '1 microsecond',
///           statement_timestamp())
///   ON CONFLICT (key) DO UPDATE
///      SET token = excluded.token, state = 'completed',
///          expires = excluded.expires, completed_at = excluded.completed_at
///    WHERE c.expires <= statement_timestamp()
///       OR (c.token = excluded.token AND c.state = 'in_progress')
///   RETURNING 0 AS code, 0::int8 AS left_us
/// )
/// SELECT code, left_us FROM acted
/// UNION ALL
/// SELECT CASE WHEN c.expires <= statement_timestamp()
///               OR (c.token = $2 AND c.state = 'in_progress') THEN 9
///             WHEN c.state = 'completed' AND c.token = $2 THEN 4
///             WHEN c.state = 'completed' THEN 2
///             ELSE 3 END, 0::int8
///   FROM webhook_claims c
///  WHERE c.key = $1 AND NOT EXISTS (SELECT 1 FROM acted);
/// ```
///
/// `release`: delete this token's lease; no row at all means the key is
/// free already.
///
/// ```sql
/// WITH acted AS (
///   DELETE FROM webhook_claims c
///    WHERE c.key = $1 AND c.token = $2 AND c.state = 'in_progress'
///   RETURNING 0 AS code, 0::int8 AS left_us
/// )
/// SELECT code, left_us FROM acted
/// UNION ALL
/// SELECT CASE WHEN c.expires <= statement_timestamp() THEN 0
///             WHEN c.token = $2 AND c.state = 'in_progress' THEN 9
///             WHEN c.state = 'completed' AND c.token = $2 THEN 4
///             WHEN c.state = 'completed' THEN 2
///             ELSE 3 END, 0::int8
///   FROM webhook_claims c
///  WHERE c.key = $1 AND NOT EXISTS (SELECT 1 FROM acted);
/// ```
///
/// The codes: `0` it acted (for `claim`, `Acquired`); `2` another claim
/// completed the key (`Completed`, or `LeaseLost`); `3` another claim holds
/// it (`InProgress` with `left_us`, or `LeaseLost`); `4` this token
/// completed it (`complete`: done already). The fallback `SELECT` reads
/// the statement's snapshot, while `ON CONFLICT` and `DELETE` act on the
/// newest row: when a concurrent change committed in between, it answers
/// no row (for `claim`, `extend` and `complete`) or `9`, and the statement
/// is run again; it changed nothing.
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
/// With [`PostgresStore::new`], the 1.5 s deadline holds, and the pool's
/// own settings decide the rest: set an `acquire_timeout` and a
/// `statement_timeout` there too. No error message holds a key, a token,
/// the URL or a password.
///
/// # Retention
///
/// A completed key answers [`Claim::Completed`] for the retention (default
/// 7 days). Rows past it count as absent; [`PostgresStore::purge`] deletes
/// them, a batch at a time, whenever the host schedules it. Claims never
/// wait on it.
///
/// ```no_run
/// use std::time::Duration;
/// use utility_webhooks::idempotency::{Outcome, PostgresStore};
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
/// let status = outcome.http_status(); // 204, 409 or 500
/// # let _ = status;
/// # Ok(())
/// # }
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
    take: SqlStr,
    complete: SqlStr,
    release: SqlStr,
    purge: SqlStr,
    schema: SqlStr,
}

impl Statements {
    /// The statements on `table`, which [`valid_table`] accepted.
    fn new(table: &str) -> Self {
        let quoted = format!("\"{table}\"");
        let sql = |text: &str| {
            let text = text.replace("{t}", &quoted);
            AssertSqlSafe(Arc::<str>::from(text)).into_sql_str()
        };
        let schema = SCHEMA
            .replace(PostgresStore::DEFAULT_TABLE, "{t}")
            .replace("{t}_expires", &format!("\"{table}_expires\""))
            .replace("{t}", &quoted);
        Statements {
            take: sql(TAKE),
            complete: sql(COMPLETE),
            release: sql(RELEASE),
            purge: sql(PURGE),
            schema: AssertSqlSafe(schema).into_sql_str(),
        }
    }
}

/// `claim` and `extend`: see [`PostgresStore`]'s docs.
const TAKE: &str = "\
WITH acted AS (
  INSERT INTO {t} AS c (key, token, state, expires)
  VALUES ($1, $2, 'in_progress', statement_timestamp() + $3::int8 * interval '1 microsecond')
  ON CONFLICT (key) DO UPDATE
     SET token = excluded.token, state = 'in_progress',
         expires = excluded.expires, completed_at = NULL
   WHERE c.expires <= statement_timestamp()
      OR (c.token = excluded.token AND c.state = 'in_progress')
  RETURNING 0 AS code, 0::int8 AS left_us
)
SELECT code, left_us FROM acted
UNION ALL
SELECT CASE WHEN c.expires <= statement_timestamp()
              OR (c.token = $2 AND c.state = 'in_progress') THEN 9
            WHEN c.state = 'completed' AND c.token = $2 THEN 4
            WHEN c.state = 'completed' THEN 2
            ELSE 3 END,
       greatest(0, floor(extract(epoch FROM c.expires - statement_timestamp()) * 1e6))::int8
  FROM {t} c
 WHERE c.key = $1 AND NOT EXISTS (SELECT 1 FROM acted)";

/// `complete` and `complete_in`: see [`PostgresStore`]'s docs.
const COMPLETE: &str = "\
WITH acted AS (
  INSERT INTO {t} AS c (key, token, state, expires, completed_at)
  VALUES ($1, $2, 'completed', statement_timestamp() + $3::int8 * interval '1 microsecond',
          statement_timestamp())
  ON CONFLICT (key) DO UPDATE
     SET token = excluded.token, state = 'completed',
         expires = excluded.expires, completed_at = excluded.completed_at
   WHERE c.expires <= statement_timestamp()
      OR (c.token = excluded.token AND c.state = 'in_progress')
  RETURNING 0 AS code, 0::int8 AS left_us
)
SELECT code, left_us FROM acted
UNION ALL
SELECT CASE WHEN c.expires <= statement_timestamp()
              OR (c.token = $2 AND c.state = 'in_progress') THEN 9
            WHEN c.state = 'completed' AND c.token = $2 THEN 4
            WHEN c.state = 'completed' THEN 2
            ELSE 3 END, 0::int8
  FROM {t} c
 WHERE c.key = $1 AND NOT EXISTS (SELECT 1 FROM acted)";

/// `release`: see [`PostgresStore`]'s docs.
const RELEASE: &str = "\
WITH acted AS (
  DELETE FROM {t} c
   WHERE c.key = $1 AND c.token = $2 AND c.state = 'in_progress'
  RETURNING 0 AS code, 0::int8 AS left_us
)
SELECT code, left_us FROM acted
UNION ALL
SELECT CASE WHEN c.expires <= statement_timestamp() THEN 0
            WHEN c.token = $2 AND c.state = 'in_progress' THEN 9
            WHEN c.state = 'completed' AND c.token = $2 THEN 4
            WHEN c.state = 'completed' THEN 2
            ELSE 3 END, 0::int8
  FROM {t} c
 WHERE c.key = $1 AND NOT EXISTS (SELECT 1 FROM acted)";

/// `purge($1 limit)`: up to `$1` rows whose `expires` has passed, the
/// oldest first, skipping rows another transaction holds.
const PURGE: &str = "\
DELETE FROM {t}
 WHERE key IN (SELECT key FROM {t}
                WHERE expires <= statement_timestamp()
                ORDER BY expires
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
   AND expires <= statement_timestamp()";

/// What a [`PostgresStore::run_in_transaction`] closure returns: its work
/// as a boxed future that may borrow the transaction's connection.
pub type TransactionWork<'c, T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'c>>;

/// Whether `name` is a plain SQL identifier: a lowercase ASCII letter or
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
    /// most 32 connections that waits at most 1 s for one, and a
    /// `statement_timeout` of 1 s.
    ///
    /// Size the pool above the number of deliveries in flight: each
    /// [`PostgresStore::run_in_transaction`] holds one connection for its
    /// transaction, and its claim and renewals take another for a moment.
    ///
    /// Fails with [`StoreErrorKind::Unavailable`] when the URL cannot be
    /// read or the server cannot be reached within about 1.5 s; the message
    /// holds neither the URL nor the password. Later losses of connections
    /// are repaired by the pool.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = url_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT);
        Ok(Self::new(open(pool, options).await?))
    }

    /// A store on the host's own pool, with the default table and
    /// retention.
    ///
    /// Give the pool an `acquire_timeout` and a `statement_timeout`
    /// (`PgConnectOptions::options`) of about a second, so that a store
    /// that is down fails fast; each operation gives up after 1.5 s in any
    /// case.
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

    /// Keep completed keys for `retention`, kept between
    /// [`MIN_RETENTION`](super::MIN_RETENTION) and
    /// [`MAX_RETENTION`](super::MAX_RETENTION) as every store keeps it
    /// (`Duration::MAX` is 366 days). Make it longer than the vendors'
    /// retry horizon.
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = cap_retention(retention);
        self
    }

    /// The table in use.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The retention of completed keys.
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// The pool, to run the work's own statements on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Create the table and its index if they are missing
    /// ([`PostgresStore::SCHEMA`], with the store's table name).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let deadline = Instant::now() + MIGRATE_DEADLINE;
        let mut connection = self.acquire(deadline, "migrate").await?;
        let statement = sqlx::raw_sql(self.statements.schema.clone());
        match timeout(deadline, statement.execute(&mut *connection)).await {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(error("migrate", &e, &[])),
            None => Err(no_answer("migrate", MIGRATE_DEADLINE)),
        }
    }

    /// Delete up to `limit` rows past their expiry: completed keys past the
    /// retention, and leases that ran out. Returns how many it deleted.
    ///
    /// Claims never depend on it (a row past its expiry counts as absent);
    /// it keeps the table small. Schedule it (say, `purge(10_000)` every
    /// few minutes, until it returns less than the limit).
    pub async fn purge(&self, limit: u64) -> Result<u64, StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let mut connection = self.acquire(deadline, "purge").await?;
        let statement = sqlx::query(self.statements.purge.clone())
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        match timeout(deadline, statement.execute(&mut *connection)).await {
            Some(Ok(done)) => Ok(done.rows_affected()),
            Some(Err(e)) => Err(error("purge", &e, &[])),
            None => Err(no_answer("purge", OPERATION_DEADLINE)),
        }
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
        let result = self.complete_on(connection, lease, deadline).await;
        match result {
            // Completing twice is not an error.
            Err(e) if e.lost_to() == Some(LostTo::OwnCompletion) => Ok(()),
            other => other,
        }
    }

    /// Run `work` once for `key` in a transaction that also records its
    /// completion: exactly once, a crash included.
    ///
    /// It claims the key for `lease` ([`Outcome::InProgress`] and
    /// [`Outcome::Completed`] return at once, as from
    /// [`run`](super::run)), begins a transaction, runs `work` with the
    /// transaction's connection and a copy of the lease, then
    /// [`PostgresStore::complete_in`] and commits.
    ///
    /// - `Ok`: [`Outcome::Done`] once committed.
    /// - `Err`, a panic, or a lease that could not be held (it renews the
    ///   lease with [`Store::extend`] at each half, as `run` does): it rolls
    ///   back, releases, and answers [`Outcome::Failed`],
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
    /// # use utility_webhooks::idempotency::{Outcome, PostgresStore};
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
    ///     other => { let _ = other.http_status(); /* 409 or 500 */ }
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
    {
        let mut lease = match self.claim(key, lease).await? {
            Claim::Acquired(lease) => lease,
            Claim::InProgress { retry_after } => return Ok(Outcome::InProgress { retry_after }),
            Claim::Completed => return Ok(Outcome::Completed),
        };
        if Instant::now() >= lease.deadline() {
            let _ = self.release(&lease).await;
            return Ok(Outcome::TimedOut);
        }
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let begun = match timeout(deadline, self.pool.begin()).await {
            Some(Ok(transaction)) => Ok(transaction),
            Some(Err(e)) => Err(not_sent("begin", &e)),
            None => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "begin: no connection within 1.5 s",
            )),
        };
        let mut transaction = match begun {
            Ok(transaction) => transaction,
            Err(e) => {
                let _ = self.release(&lease).await;
                return Err(e);
            }
        };
        let ran = {
            let copy = lease.clone();
            let connection: &mut PgConnection = &mut transaction;
            let work = catching(move || work(connection, copy));
            let keeper = keep(self, &mut lease);
            first(work, keeper).await
        };
        let value = match ran {
            Some(Ok(Ok(value))) => value,
            failed => {
                // Dropping the transaction would roll it back too, later.
                let _ = timeout(Instant::now() + OPERATION_DEADLINE, transaction.rollback()).await;
                let _ = self.release(&lease).await;
                return Ok(match failed {
                    Some(Ok(Err(e))) => Outcome::Failed(e),
                    Some(Err(panic)) => Outcome::Panicked(panic_message(panic.as_ref())),
                    _ => Outcome::TimedOut,
                });
            }
        };
        if let Err(e) = self.complete_in(&mut transaction, &lease).await {
            let _ = timeout(Instant::now() + OPERATION_DEADLINE, transaction.rollback()).await;
            return match e.lost_to() {
                Some(LostTo::Completion) => Ok(Outcome::Completed),
                Some(_) => Ok(Outcome::TimedOut),
                None => {
                    let _ = self.release(&lease).await;
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
        // Committed or not? A release answers: it refuses a key this lease
        // completed, and frees one it still holds.
        match self.release(&lease).await {
            Err(e) if e.lost_to() == Some(LostTo::OwnCompletion) => Ok(Outcome::Done(value)),
            _ => Err(failed),
        }
    }

    /// A connection from the pool by `deadline`; failing that,
    /// [`StoreErrorKind::Unavailable`]: nothing was sent.
    async fn acquire(
        &self,
        deadline: Instant,
        what: &'static str,
    ) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, StoreError> {
        match timeout(deadline, self.pool.acquire()).await {
            Some(Ok(connection)) => Ok(connection),
            Some(Err(e)) => Err(not_sent(what, &e)),
            None => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!("{what}: no connection within {OPERATION_DEADLINE:?}"),
            )),
        }
    }

    /// Run `statement` (`TAKE`, `COMPLETE` or `RELEASE`) for `lease` with
    /// `micros` on `connection`, again while its answer was read from a
    /// row older than the one it acted on; the code and `left_us`.
    async fn act_on(
        &self,
        connection: &mut PgConnection,
        statement: &SqlStr,
        lease: &Lease,
        micros: i64,
        deadline: Instant,
        what: &'static str,
    ) -> Result<(i64, i64), StoreError> {
        // `release` deletes: no row at all means the key is free. The
        // others insert: no row means one appeared after the statement
        // began.
        let no_row_is_free = what == "release";
        let hidden = [lease.key(), lease.token()];
        for _ in 0..ATTEMPTS {
            let query = sqlx::query_as::<_, (i32, i64)>(statement.clone())
                .bind(lease.key())
                .bind(lease.token())
                .bind(micros);
            let rows = match timeout(deadline, query.fetch_all(&mut *connection)).await {
                Some(Ok(rows)) => rows,
                Some(Err(e)) => return Err(error(what, &e, &hidden)),
                None => return Err(no_answer(what, OPERATION_DEADLINE)),
            };
            match rows.first() {
                Some(&(code, _)) if i64::from(code) == code::STALE => continue,
                Some(&(code, left)) => return Ok((i64::from(code), left)),
                None if no_row_is_free => return Ok((code::ACTED, 0)),
                None => continue,
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!("{what}: the key changed under every attempt"),
        ))
    }

    /// `COMPLETE` on `connection`, its code read.
    async fn complete_on(
        &self,
        connection: &mut PgConnection,
        lease: &Lease,
        deadline: Instant,
    ) -> Result<(), StoreError> {
        let (code, _) = self
            .act_on(
                connection,
                &self.statements.complete,
                lease,
                micros(self.retention),
                deadline,
                "complete",
            )
            .await?;
        acted(code, "PostgreSQL")
    }

    /// `statement` for `lease` on a connection from the pool; the code and
    /// `left_us`.
    async fn act(
        &self,
        statement: &SqlStr,
        lease: &Lease,
        micros: i64,
        what: &'static str,
    ) -> Result<(i64, i64), StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let mut connection = self.acquire(deadline, what).await?;
        self.act_on(&mut connection, statement, lease, micros, deadline, what)
            .await
    }

    async fn claim_lease(&self, lease: Lease) -> Result<Claim, StoreError> {
        let micros = micros(lease.duration());
        let mut attempt = 0;
        let (code, left_us) = loop {
            match self
                .act(&self.statements.take, &lease, micros, "claim")
                .await
            {
                // The statement may have run: the same token finds its
                // lease.
                Err(e) if e.kind() == StoreErrorKind::Uncertain && attempt == 0 => attempt += 1,
                other => break other?,
            }
        };
        match code {
            code::ACTED => Ok(Claim::Acquired(lease)),
            code::COMPLETED | code::OWN_COMPLETION => Ok(Claim::Completed),
            code::HELD => Ok(Claim::InProgress {
                retry_after: Duration::from_micros(u64::try_from(left_us).unwrap_or(0)),
            }),
            _ => Err(unexpected()),
        }
    }
}

/// A code the statements never answer.
fn unexpected() -> StoreError {
    StoreError::new(
        StoreErrorKind::Unavailable,
        "unexpected answer from PostgreSQL",
    )
}

impl Store for PostgresStore {
    fn claim(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        // The lease, and so its token and local deadline, exists before the
        // claim is sent.
        self.claim_lease(Lease::new(key, lease))
    }

    async fn complete(&self, lease: &Lease) -> Result<(), StoreError> {
        let retention = micros(self.retention);
        let (code, _) = self
            .act(&self.statements.complete, lease, retention, "complete")
            .await?;
        match acted(code, "PostgreSQL") {
            // Completing twice is not an error.
            Err(e) if e.lost_to() == Some(LostTo::OwnCompletion) => Ok(()),
            other => other,
        }
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        let (code, _) = self
            .act(&self.statements.release, lease, 0, "release")
            .await?;
        acted(code, "PostgreSQL")
    }

    async fn extend(&self, lease: &mut Lease, duration: Duration) -> Result<(), StoreError> {
        let duration = Lease::cap(duration);
        let sent = Instant::now();
        let (code, _) = self
            .act(&self.statements.take, lease, micros(duration), "extend")
            .await?;
        acted(code, "PostgreSQL")?;
        lease.extended(sent, duration);
        Ok(())
    }
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the pool's options: they hold the password.
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

/// A duration in whole microseconds, at least one (lease lengths and
/// retentions are capped far below `i64::MAX`).
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros())
        .unwrap_or(i64::MAX)
        .max(1)
}

/// The most of the server's reason a message keeps, in bytes once
/// escaped.
const REASON_MAX: usize = 160;

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
/// `hidden` (the key, the token) taken out.
pub(crate) fn error(what: &str, e: &sqlx::Error, hidden: &[&str]) -> StoreError {
    let (kind, how) = describe(e, hidden);
    StoreError::new(kind, format!("{what}: {how}"))
}

/// [`error`]'s class and text for `e`.
fn describe(e: &sqlx::Error, hidden: &[&str]) -> (StoreErrorKind, String) {
    use sqlx::Error as E;
    match e {
        E::Database(db) => {
            let reason = {
                let mut reason = db.message().to_owned();
                for word in hidden.iter().filter(|w| !w.is_empty()) {
                    reason = reason.replace(word, "<hidden>");
                }
                crate::text::sanitize(&reason, REASON_MAX)
            };
            let code = db.code().map(|c| printable(&c)).unwrap_or_default();
            // The server answered with an error: the statement (or the
            // transaction it was in) did not apply.
            (
                StoreErrorKind::Unavailable,
                format!("server error {code}: {reason}"),
            )
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

/// At most 32 characters of `text`, letters, digits and `_` only.
fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            match outcome {
                Ok(outcome) => outcome.http_status(),
                Err(_) => 503,
            }
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
        let statements = Statements::new("billing_claims");
        for sql in [
            &statements.take,
            &statements.complete,
            &statements.release,
            &statements.purge,
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
        assert_eq!(
            error("claim", &reset, &[]).kind(),
            StoreErrorKind::Uncertain
        );
        assert_eq!(
            error("claim", &sqlx::Error::PoolTimedOut, &[]).kind(),
            StoreErrorKind::Unavailable
        );
        let config = sqlx::Error::Configuration("postgres://u:hunter2@h/db".into());
        assert!(
            !error("connect", &config, &[])
                .to_string()
                .contains("hunter2")
        );
    }

    #[test]
    fn an_unreadable_url_is_unavailable_and_not_echoed() {
        let connecting = std::pin::pin!(PostgresStore::connect("nonsense://user:hunter2@host/"));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(Err(e)) = connecting.poll(&mut cx) else {
            panic!("an unreadable URL fails at once");
        };
        assert_eq!(e.kind(), StoreErrorKind::Unavailable);
        let shown = e.to_string();
        assert!(
            !shown.contains("hunter2") && !shown.contains("host"),
            "{shown}"
        );
    }
}
