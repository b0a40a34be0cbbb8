//! A store shared by every process that receives webhooks, on Redis.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{FromRedisValue, Script};

use super::run::timeout;
use super::{Claim, Lease, Store, StoreError, StoreErrorKind, acted, printable, server_error};

/// The longest one operation may take, retries and a `NOSCRIPT` reload
/// (three round trips) included.
const OPERATION_DEADLINE: Duration = Duration::from_millis(1500);
/// How long to wait for a connection, and for each answer.
const IO_TIMEOUT: Duration = Duration::from_millis(500);

/// `GET` the record; if there is none, take it for this token. A record is
/// `p:<token>` while its lease runs (with the lease as its expiry) and
/// `c:<token>` once completed (with the retention as its expiry).
///
/// Answers `{0}` acquired (also for a retried claim that finds its own
/// lease), `{1, pttl}` in progress, `{2}` completed.
const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
  return {0}
end
if string.sub(v, 1, 2) == 'c:' then
  return {2}
end
if v == 'p:' .. ARGV[1] then
  return {0}
end
return {1, redis.call('PTTL', KEYS[1])}
";

/// The end of `COMPLETE`, `RELEASE` and `EXTEND` when the lease cannot
/// act: `4` it completed the key itself, `2` another claim completed it,
/// `3` another claim holds it (`super::code`; `0` is "it acted"). A macro, so that `concat!` joins it.
macro_rules! refusal {
    () => {
        r"
if v == 'c:' .. ARGV[1] then
  return 4
end
if string.sub(v, 1, 2) == 'c:' then
  return 2
end
return 3
"
    };
}

/// Turn this token's lease into a completion kept for the retention. A
/// key that nobody holds (this lease expired, and nobody claimed it since)
/// is completed too; completing twice is not an error.
const COMPLETE: &str = concat!(
    r"
local v = redis.call('GET', KEYS[1])
if (not v) or v == 'p:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'c:' .. ARGV[1], 'PX', ARGV[2])
  return 0
end
if v == 'c:' .. ARGV[1] then
  return 0
end",
    refusal!()
);

/// Delete the record if this token's lease holds it; a key that nobody
/// holds is free already.
const RELEASE: &str = concat!(
    r"
local v = redis.call('GET', KEYS[1])
if not v then
  return 0
end
if v == 'p:' .. ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 0
end",
    refusal!()
);

/// Run this token's lease for another `ARGV[2]` ms from now; a key that
/// nobody holds is taken up again.
const EXTEND: &str = concat!(
    r"
local v = redis.call('GET', KEYS[1])
if (not v) or v == 'p:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1], 'PX', ARGV[2])
  return 0
end",
    refusal!()
);

/// An idempotency [`Store`] on Redis, shared by every process and machine
/// that receives webhooks.
///
/// Requires the `redis` feature. It runs on the `redis` crate's
/// `ConnectionManager` ([`RedisStore::connect`]), which reconnects after a
/// Redis restart, or on its async cluster client for Redis Cluster
/// ([`RedisStore::connect_cluster`]); both need a **Tokio** runtime.
/// Every script touches one key, so a cluster never answers `CROSSSLOT`.
///
/// - Each operation is one Lua script, so one atomic round trip, fenced by
///   the lease's token: `complete` and `release` change nothing unless the
///   lease still holds the key. Redis computes every expiry (`PX`,
///   `PTTL`); the client's clock is never trusted.
/// - It fails fast rather than hangs: one reconnection attempt, 50–200 ms
///   backoff, 500 ms connection and answer timeouts, and at most 1.5 s per
///   operation. A stopped server gives [`StoreErrorKind::Unavailable`]
///   within about 2 s; an answer that did not come in time gives
///   [`StoreErrorKind::Uncertain`]. A claim that was uncertain is tried
///   once more with the same token, so it recognises its own lease.
/// - Keys are `<prefix><key>` (default prefix `utility-webhooks:`); a
///   completed key is kept for the retention (default 7 days, since
///   neither vendor documents its retry horizon).
/// - No error message holds a key, the URL or a password.
///
/// Configure Redis with `maxmemory-policy noeviction` (other policies
/// evict these keys, and each evicted completion can let a duplicate
/// through) and AOF persistence (`appendonly yes`), or a restart forgets
/// claims and completions. A failover with asynchronous replication can
/// lose a claim or a completion too.
///
/// ```no_run
/// use std::time::Duration;
/// use utility_webhooks::idempotency::RedisStore;
///
/// # async fn example() -> Result<(), utility_webhooks::idempotency::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/")
///     .await?
///     .with_prefix("billing-webhooks:")
///     .with_retention(Duration::from_secs(3 * 24 * 3600));
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub struct RedisStore {
    connection: Connection,
    scripts: Arc<Scripts>,
    prefix: Arc<str>,
    retention: Duration,
}

/// A single server's connection, or a cluster's.
#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

struct Scripts {
    claim: Script,
    complete: Script,
    release: Script,
    extend: Script,
}

impl RedisStore {
    /// The default key prefix.
    pub const DEFAULT_PREFIX: &'static str = "utility-webhooks:";

    /// The default retention of completed keys: 7 days.
    pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

    /// Connect to the Redis server at `url` (`redis://[:password@]host:port/db`
    /// or `rediss://` for TLS, where the `redis` crate was built with it).
    ///
    /// Fails with [`StoreErrorKind::Unavailable`] when the URL cannot be
    /// read or the server cannot be reached within about a second. Later
    /// losses of the connection are repaired by reconnecting.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!("the Redis URL cannot be read ({})", kind_name(&e)),
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(200))
            .set_connection_timeout(Some(IO_TIMEOUT))
            .set_response_timeout(Some(IO_TIMEOUT));
        let connection = connected(ConnectionManager::new_with_config(client, config)).await?;
        Ok(RedisStore::on(Connection::Single(connection)))
    }

    /// Connect to a Redis Cluster through any of its nodes (`urls`, each
    /// `redis://[:password@]host:port`), with the same fail-fast settings as
    /// [`RedisStore::connect`]: one retry, 50–200 ms backoff, 500 ms
    /// connection and answer timeouts, at most 1.5 s per operation.
    ///
    /// Every script reads and writes one key, so each runs on the node that
    /// holds that key's slot, and a cluster never answers `CROSSSLOT`.
    /// Failover in a cluster replicates asynchronously: a claim or a
    /// completion acknowledged just before a primary fails can be lost.
    ///
    /// ```no_run
    /// use utility_webhooks::idempotency::RedisStore;
    ///
    /// # async fn example() -> Result<(), utility_webhooks::idempotency::StoreError> {
    /// let store = RedisStore::connect_cluster(&[
    ///     "redis://10.0.0.1:6379/",
    ///     "redis://10.0.0.2:6379/",
    ///     "redis://10.0.0.3:6379/",
    /// ])
    /// .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_cluster(urls: &[impl AsRef<str>]) -> Result<Self, StoreError> {
        let client = ClusterClientBuilder::new(urls.iter().map(AsRef::as_ref))
            .retries(1)
            .min_retry_wait(50)
            .max_retry_wait(200)
            .connection_timeout(IO_TIMEOUT)
            .response_timeout(IO_TIMEOUT)
            .build()
            .map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Unavailable,
                    format!("the Redis Cluster URLs cannot be read ({})", kind_name(&e)),
                )
            })?;
        let connection = connected(client.get_async_connection()).await?;
        Ok(RedisStore::on(Connection::Cluster(connection)))
    }

    /// A store on `connection`, with the default prefix and retention.
    fn on(connection: Connection) -> Self {
        RedisStore {
            connection,
            scripts: Arc::new(Scripts {
                claim: Script::new(CLAIM),
                complete: Script::new(COMPLETE),
                release: Script::new(RELEASE),
                extend: Script::new(EXTEND),
            }),
            prefix: Self::DEFAULT_PREFIX.into(),
            retention: Self::DEFAULT_RETENTION,
        }
    }

    /// Put `prefix` before every key, so that several receivers (or other
    /// data) can share one Redis database.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().into();
        self
    }

    /// The key prefix in use.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Run `script` on `key` with `token` and a duration, within the
    /// operation deadline; a timeout is [`StoreErrorKind::Uncertain`].
    async fn invoke<T: FromRedisValue>(
        &self,
        script: &Script,
        key: &str,
        token: &str,
        duration: Duration,
        deadline: Instant,
        what: &'static str,
    ) -> Result<T, StoreError> {
        let redis_key = self.redis_key(key);
        let mut invocation = script.key(&redis_key);
        invocation.arg(token).arg(millis(duration));
        let invoked = async {
            match self.connection.clone() {
                Connection::Single(mut single) => invocation.invoke_async(&mut single).await,
                Connection::Cluster(mut cluster) => invocation.invoke_async(&mut cluster).await,
            }
        };
        match timeout(deadline, invoked).await {
            Some(Ok(value)) => Ok(value),
            Some(Err(e)) => Err(error(what, &e, &[&redis_key, key, token])),
            None => Err(StoreError::new(
                StoreErrorKind::Uncertain,
                format!("{what}: no answer within {OPERATION_DEADLINE:?}"),
            )),
        }
    }

    fn redis_key(&self, key: &str) -> String {
        let mut full = String::with_capacity(self.prefix.len() + key.len());
        full.push_str(&self.prefix);
        full.push_str(key);
        full
    }

    async fn claim_once(&self, lease: Lease) -> Result<Claim, StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let mut attempt = 0;
        let answer: Vec<i64> = loop {
            let result = self
                .invoke(
                    &self.scripts.claim,
                    lease.key(),
                    lease.token(),
                    lease.duration(),
                    deadline,
                    "claim",
                )
                .await;
            match result {
                // The script may have run: the same token finds its lease.
                Err(e) if e.kind() == StoreErrorKind::Uncertain && attempt == 0 => {
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                    attempt += 1;
                }
                other => break other?,
            }
        };
        match answer.as_slice() {
            [0] => Ok(Claim::Acquired(lease)),
            [1, pttl] => Ok(Claim::InProgress {
                // -1 (no expiry) cannot happen for a lease; -2 means it
                // expired between the GET and the PTTL.
                retry_after: Duration::from_millis(u64::try_from(*pttl).unwrap_or(0)),
            }),
            [2] => Ok(Claim::Completed),
            _ => Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "claim: unexpected answer from Redis",
            )),
        }
    }

    /// Run `script` (`COMPLETE`, `RELEASE` or `EXTEND`) for `lease` with
    /// `duration`, and read its answer.
    async fn act(
        &self,
        script: &Script,
        lease: &Lease,
        duration: Duration,
        what: &'static str,
    ) -> Result<(), StoreError> {
        let deadline = Instant::now() + OPERATION_DEADLINE;
        let code: i64 = self
            .invoke(script, lease.key(), lease.token(), duration, deadline, what)
            .await?;
        acted(code, "Redis")
    }
}

impl Store for RedisStore {
    fn claim(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        // The lease, and so its token and local deadline, exists before the
        // claim is sent.
        self.claim_once(Lease::new(key, lease))
    }

    fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.act(&self.scripts.complete, lease, self.retention, "complete")
    }

    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.act(&self.scripts.release, lease, Duration::ZERO, "release")
    }

    async fn extend(&self, lease: &mut Lease, duration: Duration) -> Result<(), StoreError> {
        let duration = Lease::cap(duration);
        let sent = Instant::now();
        self.act(&self.scripts.extend, lease, duration, "extend")
            .await?;
        lease.extended(sent, duration);
        Ok(())
    }
}

shared_store!(RedisStore, prefix);

/// The connection `connecting` makes, within the operation deadline.
/// Nothing was sent that could apply: whatever failed, the store is
/// unavailable.
async fn connected<C>(
    connecting: impl Future<Output = redis::RedisResult<C>>,
) -> Result<C, StoreError> {
    timeout(Instant::now() + OPERATION_DEADLINE, connecting)
        .await
        .ok_or_else(|| {
            StoreError::new(StoreErrorKind::Unavailable, "timed out connecting to Redis")
        })?
        .map_err(|e| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                error("connecting to Redis", &e, &[]).message,
            )
        })
}

/// A duration in whole milliseconds, at least one (Redis refuses `PX 0`).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// A `redis` error as a [`StoreError`], classified, with a message that
/// names what failed and how, but not the URL or a password: the error's
/// kind, and for a server error its code and reason, bounded and escaped,
/// with each of `hidden` (the key, the token) taken out.
fn error(what: &str, e: &redis::RedisError, hidden: &[&str]) -> StoreError {
    let kind = if e.is_connection_refusal() {
        // The `redis` crate counts a refusal as a dropped connection too,
        // but nothing reached the server.
        StoreErrorKind::Unavailable
    } else if e.is_timeout() || e.is_connection_dropped() {
        // The command may have been sent and run.
        StoreErrorKind::Uncertain
    } else {
        StoreErrorKind::Unavailable
    };
    let how = if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_dropped() {
        "connection dropped".to_owned()
    } else if let Some(code) = e.code() {
        // A server error code such as `OOM`, `READONLY` or `NOSCRIPT`, and
        // the server's reason ("invalid expire time in 'set' command").
        server_error(code, e.detail(), hidden)
    } else {
        kind_name(e)
    };
    StoreError::new(kind, format!("{what}: {how}"))
}

/// The `redis` error's kind, which names a class, never a value.
fn kind_name(e: &redis::RedisError) -> String {
    printable(&format!("{:?}", e.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_positive_milliseconds() {
        assert_eq!(millis(Duration::ZERO), 1);
        assert_eq!(millis(Duration::from_micros(1500)), 1);
        assert_eq!(millis(Duration::from_secs(30)), 30_000);
        assert_eq!(millis(Duration::MAX), u64::MAX);
    }

    #[test]
    fn a_refused_connection_is_unavailable_a_dropped_one_uncertain() {
        let refused =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let e = error("claim", &refused, &[]);
        assert_eq!(e.kind(), StoreErrorKind::Unavailable);
        assert_eq!(
            e.to_string(),
            "idempotency store unavailable: claim: connection refused"
        );
        let reset =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(
            error("claim", &reset, &[]).kind(),
            StoreErrorKind::Uncertain
        );
    }

    #[test]
    fn an_unreadable_url_is_unavailable_and_not_echoed() {
        crate::idempotency::assert_unreadable_url_refused(RedisStore::connect(
            "nonsense://user:hunter2@host/",
        ));
    }
}
