//! Doing each delivery's work once: claims with leases, in memory, on
//! Redis or on PostgreSQL.
//!
//! Both vendors retry a delivery until it gets a `2xx`. A receiver must
//! therefore do each delivery's work once even when a retry comes while the
//! first attempt is still running, when an attempt fails, and when the
//! machine doing it dies, and it must never answer `2xx` for work that did
//! not happen. Marking an id as seen before the work runs gets this wrong:
//! if the work then fails, the retry is skipped and the event is lost.
//!
//! This module's answer is a *claim with a lease*, in the manner of AWS
//! Lambda Powertools' idempotency utility (an in-progress and a completed
//! state, an in-progress expiry, the record removed when the work fails),
//! without its races: no record is ever overwritten or deleted by a caller
//! that does not hold it.
//!
//! - [`Store::claim`] answers [`Claim::Acquired`] to exactly one caller at a
//!   time, with a [`Lease`] that expires after the given duration;
//! - [`Store::complete`] records that the work is done: the key answers
//!   [`Claim::Completed`] for the store's retention period;
//! - [`Store::release`] records that it failed: the key is free again, and
//!   the vendor's retry claims it;
//! - a lease that is neither completed nor released (a crash, a cancelled
//!   request) expires, and the key can be claimed again.
//!
//! [`run`] does all of this around a closure, and its [`Outcome`] says what
//! to answer. [`MemoryStore`] serves one process; `RedisStore` (feature
//! `redis`) serves several processes or machines that share the load;
//! `PostgresStore` (feature `postgres`) does too, and records completions
//! in the work's own transaction: exactly once.
//!
//! ```
//! use std::time::Duration;
//! use utility_webhooks::idempotency::{self, Answer, MemoryStore};
//!
//! /// The status to answer for one SmartComply event, by its key
//! /// (`Event::idempotency_key`).
//! async fn handle(store: &MemoryStore, key: &str) -> u16 {
//!     let lease = Duration::from_secs(10);
//!     let ran = idempotency::run(store, key, lease, |lease| async move {
//!         // The work: write to your database, ideally recording
//!         // `lease.token()` in the same transaction.
//!         let _ = lease.token();
//!         Ok::<_, std::io::Error>(())
//!     })
//!     .await;
//!     // 204 or 500; 409 with `Answer::retry_after_secs`; 503: the store
//!     // is down.
//!     Answer::of(&ran).http_status()
//! }
//!
//! let store = MemoryStore::new(100_000, Duration::from_secs(24 * 3600));
//! # let status = futures_executor_free::run(handle(&store, "smartcomply:evt_8f3a2c1b6e9d4a07"));
//! # assert_eq!(status, 204);
//! # mod futures_executor_free {
//! #     pub fn run<F: std::future::Future>(f: F) -> F::Output {
//! #         let mut f = std::pin::pin!(f);
//! #         let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
//! #         loop {
//! #             if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
//! #             std::thread::yield_now();
//! #         }
//! #     }
//! # }
//! ```
//!
//! # What "once" means
//!
//! Exactly once, except for a crash (or a lost connection to the store)
//! between the work's effect and [`Store::complete`]: the lease then
//! expires, the vendor's retry claims the key again, and the work runs a
//! second time. That case is at least once. The only route to exactly-once
//! effects is to record the completion in the same database transaction
//! as the work's effects, so that both commit or neither does:
//! `PostgresStore::complete_in` (feature `postgres`) does exactly that.
//!
//! # Faults, and what each leaves
//!
//! - **The vendor hangs up** (SmarterWX waits 3 seconds) and the HTTP
//!   server drops the request's future: whatever that future was running
//!   is cancelled. Run the work in a task of its own, which the request
//!   awaits (`tokio::spawn(async move { idempotency::run(..).await })`),
//!   so that it goes on; the vendor's resend then gets
//!   [`Outcome::InProgress`], and [`Outcome::Completed`] once it is done.
//!   A [`run`] future that is dropped leaves its lease to expire.
//! - **The work panics**: [`run`] catches it, releases the lease at once,
//!   and answers [`Outcome::Panicked`] (`500`).
//! - **The process dies**: its leases expire, and the vendor's retries
//!   claim the keys again.
//! - **The process forks** (or a VM snapshot is restored): every lease
//!   token is drawn anew from the operating system's random source, so no
//!   two claims ever share one.
//! - **The store is down**: [`run`] returns `Err` (`503`) before any work
//!   starts; a completion that cannot be recorded is reported as
//!   [`Outcome::DoneNotRecorded`] (`2xx`: the work happened).
//! - **The store refuses the key for good**
//!   ([`StoreErrorKind::Rejected`]: PostgreSQL's data exceptions and
//!   limits): `Err` too, but not transient. Park the delivery and
//!   acknowledge it, or the vendor resends it until it gives up.
//! - **The work fails**: [`run`] releases the lease with the error's text
//!   ([`Store::release_with_error`]), which `PostgresStore` keeps beside the
//!   key's count of attempts, and with the `tracing` feature logs it.
//!
//! # Choosing the lease
//!
//! The lease is not a time limit for the work: [`run`] renews it
//! ([`Store::extend`]) each time half of it has passed. It is how long the
//! keys of a process that died stay held, so how long until the vendor's
//! retry can do the work: a few seconds to a minute. 10 seconds suits both
//! vendors. If renewing fails (the store is down) until a margin before the
//! lease's end (a fifth of it, at most 5 s), the work is cancelled and the
//! lease released ([`Outcome::TimedOut`]). A SmarterWX batch's
//! notifications are claimed concurrently, each with its own lease, a few
//! at a time (the examples: 8, with `buffer_unordered`), so that a batch
//! of thousands does not take every connection of a store's pool at once;
//! the batch's answer waits for the slowest. Answer within the vendor's
//! patience when you can, and let the tasks finish when you cannot.
//!
//! Work outside [`run`] renews its own lease: call
//! [`Store::extend`]`(&mut lease, duration)` before half of it is gone, and
//! stop the work when it returns [`StoreErrorKind::LeaseLost`].
//!
//! # Limits
//!
//! Every store keeps a lease's length between [`Lease::MIN`] (1 ms) and
//! [`Lease::MAX`] (24 h), and the retention of completed keys between
//! [`MIN_RETENTION`] (1 ms) and [`MAX_RETENTION`] (366 days): any
//! `Duration`, `Duration::MAX` included, is capped, never refused.
//!
//! # Your own store
//!
//! Implement [`Store`] over any store with an atomic conditional write.
//! With the work's own writes and the completion in one database
//! transaction, "once" becomes exactly once: `PostgresStore` (feature
//! `postgres`) does it on sqlx, and its documentation gives the table and
//! the statements for other PostgreSQL drivers.
//!
//! # Keys
//!
//! A key names one unit of work: one SmartComply event
//! (`smartcomply:<event id>`) or one SmarterWX notification
//! (`smarterwx:<uuid>`). The vendor modules build them
//! ([`Event::idempotency_key`](crate::smartcomply::Event::idempotency_key),
//! [`Notification::idempotency_key`](crate::smarterwx::Notification::idempotency_key),
//! [`Unreadable::idempotency_key`](crate::Unreadable::idempotency_key)),
//! so the two vendors' ids never meet. Claim each notification of a SmarterWX batch on
//! its own: a batch that half failed is then finished, not redone, by its
//! retry.
//!
//! Every delivery has a key, and every key fits every store (at most 140
//! bytes, printable ASCII only), whatever the sender wrote:
//!
//! | the id | the key |
//! | --- | --- |
//! | plain: 1 to 128 bytes of ASCII letters, digits, `-`, `_`, `.` | `<namespace>:<id>` |
//! | anything else: empty, longer, a `:`, a space, NUL or another control character, non-ASCII | `<namespace>:id-sha256:<hex>`, the SHA-256 of the id |
//! | none (an [`Unreadable`](crate::Unreadable) delivery whose id does not read) | `<namespace>:sha256:<hex>`, the SHA-256 of its raw JSON |
//!
//! The three forms never meet: a plain id holds no `:`, so a plain key
//! has one `:` and a digest key two, with its own tag. The same id gives
//! the same key in every store; the same raw bytes with no id are a
//! duplicate, and different ones never collide.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// What every shared store (a `retention: Duration` field, and `$place`,
/// where its keys live) says the same way: `with_retention` and
/// `retention`, and a `Debug` that shows where its keys live and their
/// retention, never its connection (a pool's options or a URL may hold a
/// password).
#[cfg(any(feature = "redis", feature = "postgres"))]
macro_rules! shared_store {
    ($store:ident, $place:ident) => {
        impl $store {
            /// Keep completed keys for `retention`, kept between
            /// [`MIN_RETENTION`](super::MIN_RETENTION) and
            /// [`MAX_RETENTION`](super::MAX_RETENTION) as every store keeps
            /// it (`Duration::MAX` is 366 days). Make it longer than the
            /// vendors' retry horizon.
            pub fn with_retention(mut self, retention: Duration) -> Self {
                self.retention = super::cap_retention(retention);
                self
            }

            /// The retention of completed keys.
            pub fn retention(&self) -> Duration {
                self.retention
            }
        }

        /// Where its keys live and their retention; never its connection.
        impl std::fmt::Debug for $store {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($store))
                    .field(stringify!($place), &self.$place)
                    .field("retention", &self.retention)
                    .finish_non_exhaustive()
            }
        }
    };
}

mod answer;
mod dynamic;
mod memory;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "redis")]
mod redis;
pub(crate) mod run;
mod token;

pub use answer::Answer;
pub use dynamic::DynStore;
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{KeyState, KeyStatus, PostgresStore, TransactionWork};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::RedisStore;
#[cfg(any(feature = "tracing", feature = "postgres"))]
pub(crate) use run::error_text;
pub use run::{Outcome, run};

/// A shared record of which keys are being worked on and which are done.
///
/// Every method returns a `Send` future, so a handler generic over the
/// store compiles on a multi-threaded runtime (axum, actix-web).
///
/// An implementation must make [`Store::claim`] atomic across every process
/// that shares the store, and must let [`Store::complete`],
/// [`Store::release`] and [`Store::extend`] act only while no other claim
/// holds or completed the key (compare [`Lease::token`]). The store, not
/// the caller's clock, should decide when a lease has expired. Lease
/// lengths are kept between [`Lease::MIN`] and [`Lease::MAX`], retention
/// between [`MIN_RETENTION`] and [`MAX_RETENTION`], whatever `Duration` the
/// caller gave.
pub trait Store: Send + Sync {
    /// Claim `key` for `lease`: [`Claim::Acquired`] for one caller at a
    /// time, [`Claim::InProgress`] while another caller's lease runs, and
    /// [`Claim::Completed`] once the work is done.
    fn claim(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send;

    /// The work is done: the key answers [`Claim::Completed`] for the
    /// store's retention period.
    ///
    /// Acts unless another claim holds or completed the key since: then it
    /// changes nothing and returns [`StoreErrorKind::LeaseLost`], whose
    /// message says which. A completion after the lease expired, when
    /// nobody claimed the key since, is recorded: the work happened, and
    /// nobody else is doing it. Takes the lease by reference so that a
    /// caller can retry after a transient error; completing twice is not
    /// an error.
    fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The work failed: the key is free, and the next delivery claims it.
    ///
    /// A key that is free already (the lease expired) is not an error.
    /// When another claim holds or completed the key (or this lease
    /// completed it), it changes nothing and returns
    /// [`StoreErrorKind::LeaseLost`].
    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The work failed with `error`: [`Store::release`], and a store that
    /// keeps a record of each key's attempts keeps `error` with it
    /// (`PostgresStore`: `last_error`, read by `PostgresStore::status`).
    ///
    /// [`run`] calls it with the work's error (bounded and escaped, as
    /// logs show it). By default it is [`Store::release`], and `error` is
    /// dropped: [`MemoryStore`] and `RedisStore` keep no record of
    /// attempts.
    fn release_with_error(
        &self,
        lease: &Lease,
        error: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = error;
        self.release(lease)
    }

    /// The work goes on: `lease` now runs `duration` from now (kept
    /// between [`Lease::MIN`] and [`Lease::MAX`]), by the store's clock,
    /// and its [`Lease::deadline`] moves with it.
    ///
    /// Fenced by the token like [`Store::complete`]: it acts while no
    /// other claim holds or completed the key (an expired lease that nobody
    /// claimed since is taken up again), and otherwise changes nothing and
    /// returns [`StoreErrorKind::LeaseLost`]. [`run`] calls it for the work
    /// it runs; work outside `run` calls it before half its lease is gone.
    fn extend(
        &self,
        lease: &mut Lease,
        duration: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// `Store` for pointers to a store: a shared reference, an `Arc`.
macro_rules! forward_store {
    ($($pointer:ty),+) => {$(
        impl<S: Store + ?Sized> Store for $pointer {
            fn claim(
                &self,
                key: &str,
                lease: Duration,
            ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
                (**self).claim(key, lease)
            }

            fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).complete(lease)
            }

            fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).release(lease)
            }

            fn release_with_error(
                &self,
                lease: &Lease,
                error: &str,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).release_with_error(lease, error)
            }

            fn extend(
                &self,
                lease: &mut Lease,
                duration: Duration,
            ) -> impl Future<Output = Result<(), StoreError>> + Send {
                (**self).extend(lease, duration)
            }
        }
    )+};
}

forward_store!(&S, std::sync::Arc<S>, Box<S>);

/// The answer to [`Store::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an acquired lease must be completed or released"]
pub enum Claim {
    /// This caller holds the key: do the work, then
    /// [complete](Store::complete) or [release](Store::release) the lease.
    Acquired(Lease),
    /// Another caller holds an unexpired lease on the key. Answer `409`
    /// with a `Retry-After` of `retry_after` (rounded up to whole seconds):
    /// the first attempt may still fail, so this delivery must not be
    /// acknowledged yet.
    InProgress {
        /// What is left of the other caller's lease.
        retry_after: Duration,
    },
    /// The work for this key is done: acknowledge with `2xx` and do
    /// nothing.
    Completed,
}

/// The right to do one key's work, for a limited time.
///
/// A lease is created by the client for each claim, with a token that is
/// unique to it: no two leases, in this process or any other, share one.
/// The token serves two ends:
///
/// - a claim that is retried after an uncertain error (a timeout)
///   recognises its own lease rather than seeing it as another caller's;
/// - a handler can record the token in its own database transaction, which
///   is the only route to exactly-once effects.
///
/// The token is *not* a fence for downstream systems: a holder that was
/// paused (a long garbage-collection pause, a suspended VM) can still act
/// after its lease expired and another caller claimed the key. The store
/// refuses its [`Store::complete`], but cannot undo what it did elsewhere.
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    /// Shared with the record of a store that keeps keys in memory.
    key: std::sync::Arc<str>,
    token: token::Token,
    duration: Duration,
    /// When the claim (or the last extension) was sent.
    started: Instant,
}

impl Lease {
    /// The longest lease: a webhook's work takes seconds, and a crashed
    /// holder's lease should not outlast the vendor's retries.
    pub const MAX: Duration = Duration::from_secs(24 * 3600);

    /// The shortest lease (stores count leases in milliseconds).
    pub const MIN: Duration = Duration::from_millis(1);

    /// A new lease on `key` for `duration` (kept between [`Lease::MIN`] and
    /// [`Lease::MAX`]), with a fresh unique token.
    ///
    /// For implementations of [`Store`]: create it before sending the claim,
    /// so that the lease's local [deadline](Lease::deadline) is never later
    /// than the store's expiry.
    pub fn new(key: &str, duration: Duration) -> Self {
        Lease {
            key: key.into(),
            token: token::new(),
            duration: Lease::cap(duration),
            started: Instant::now(),
        }
    }

    /// `duration` kept between [`Lease::MIN`] and [`Lease::MAX`]: what
    /// every store does with a lease length.
    pub fn cap(duration: Duration) -> Duration {
        duration.clamp(Lease::MIN, Lease::MAX)
    }

    /// For implementations of [`Store::extend`]: the store accepted an
    /// extension to `duration` (capped as [`Lease::cap`] caps it) that was
    /// sent at `sent`, so the lease's [deadline](Lease::deadline) is now
    /// `sent + duration`. Take `sent` before sending, so that the local
    /// deadline is never later than the store's expiry.
    pub fn extended(&mut self, sent: Instant, duration: Duration) {
        self.started = sent;
        self.duration = Lease::cap(duration);
    }

    /// The key this lease holds.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The lease's token: 32 lowercase hex digits, 128 bits from the
    /// operating system's random source, unique per claim (also in a
    /// forked process or a restored VM snapshot).
    pub fn token(&self) -> &str {
        // Hex digits are ASCII: this never falls back.
        std::str::from_utf8(&self.token).unwrap_or_default()
    }

    /// The token as bytes, to store and compare without allocating.
    pub(crate) fn token_bytes(&self) -> &token::Token {
        &self.token
    }

    /// The key, to share rather than copy.
    pub(crate) fn shared_key(&self) -> &std::sync::Arc<str> {
        &self.key
    }

    /// How long the lease was taken (or last extended) for.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// When the lease expires by this process's clock: the claim (or the
    /// last extension) was sent after this instant was taken, so the
    /// store's own expiry is no earlier.
    pub fn deadline(&self) -> Instant {
        self.started + self.duration
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is the user's own id, not a secret, but keys stay out of
        // everything this module prints, as they do out of its errors.
        f.debug_struct("Lease")
            .field("token", &self.token())
            .field("duration", &self.duration)
            .finish_non_exhaustive()
    }
}

/// An idempotency store could not answer, or refused.
///
/// Its message says what went wrong, never which key and never a
/// connection password. It converts into the crate's
/// [`Error`](crate::Error), whose HTTP status is `503`, and so is its
/// [`Answer`] (`Answer::from(&error)`): the vendor retries later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    lost_to: Option<LostTo>,
}

/// The class of a [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached, or refused: the operation did not
    /// apply.
    Unavailable,
    /// The store did not answer in time: the operation may have applied.
    Uncertain,
    /// The lease expired and another claim holds or completed the key:
    /// nothing was changed. The message says which.
    LeaseLost,
    /// A [`MemoryStore`] refused a new claim: it is full of leases in
    /// progress or of keys within their retention, and drops none of
    /// them; or the key is longer than [`MemoryStore::MAX_KEY_LEN`].
    Full,
    /// The store refused the operation for good: what it was given can
    /// never be stored (PostgreSQL's data exceptions, SQLSTATE class `22`,
    /// such as `22021`, an invalid byte sequence; and its program limits,
    /// class `54`, such as `54000`, a key too long for the index). Nothing
    /// was changed, and trying again cannot succeed: the answer stays
    /// `503` (the work was not done), but a receiver should park the
    /// delivery (keep it aside and acknowledge it) rather than let the
    /// vendor resend it forever.
    Rejected,
}

impl StoreError {
    /// An error of `kind`, with a message for logs. The message must not
    /// hold a key or a password.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            lost_to: None,
        }
    }

    /// The class of the error.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether the same operation may succeed if tried again
    /// ([`StoreErrorKind::Unavailable`] and [`StoreErrorKind::Uncertain`]).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            StoreErrorKind::Unavailable | StoreErrorKind::Uncertain
        )
    }

    /// Who has the key, for a [`StoreErrorKind::LeaseLost`] made by
    /// [`StoreError::lease_lost`].
    pub(crate) fn lost_to(&self) -> Option<LostTo> {
        self.lost_to
    }

    /// [`StoreErrorKind::LeaseLost`], saying who has the key now.
    pub(crate) fn lease_lost(to: LostTo) -> Self {
        let message = match to {
            LostTo::Holder => "the lease expired and another claim holds the key",
            LostTo::Completion => "the lease expired and another claim completed the key",
            LostTo::OwnCompletion => "this lease completed the key already",
        };
        StoreError {
            lost_to: Some(to),
            ..StoreError::new(StoreErrorKind::LeaseLost, message)
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            StoreErrorKind::Unavailable => "unavailable",
            StoreErrorKind::Uncertain => "did not answer in time",
            StoreErrorKind::LeaseLost => "lease lost",
            StoreErrorKind::Full => "full",
            StoreErrorKind::Rejected => "refused it for good",
        };
        write!(f, "idempotency store {kind}: {}", self.message)
    }
}

impl std::error::Error for StoreError {}

/// What a store's fenced `complete`, `release` or `extend` answers, as one
/// code the stores' scripts and statements share.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod code {
    /// It acted: the key is taken, extended or completed by this token.
    pub const ACTED: i64 = 0;
    /// Another claim completed the key.
    pub const COMPLETED: i64 = 2;
    /// Another claim holds the key.
    pub const HELD: i64 = 3;
    /// This token completed the key.
    pub const OWN_COMPLETION: i64 = 4;
}

/// The result of a fenced operation that answered `code`; `store` names
/// the store in the error for a code no operation answers.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) fn acted(code: i64, store: &str) -> Result<(), StoreError> {
    match code {
        code::ACTED => Ok(()),
        code::COMPLETED => Err(StoreError::lease_lost(LostTo::Completion)),
        code::OWN_COMPLETION => Err(StoreError::lease_lost(LostTo::OwnCompletion)),
        code::HELD => Err(StoreError::lease_lost(LostTo::Holder)),
        _ => Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!("unexpected answer from {store}"),
        )),
    }
}

/// The most of a server's reason a store's message keeps, in bytes once
/// escaped.
#[cfg(any(feature = "redis", feature = "postgres"))]
const REASON_MAX: usize = 160;

/// A server's error in a store's message: `server error <code>: <reason>`,
/// the code [`printable`], the reason bounded and escaped, with each of
/// `hidden` (the key, the token) taken out.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) fn server_error(code: &str, reason: Option<&str>, hidden: &[&str]) -> String {
    let code = printable(code);
    let Some(reason) = reason else {
        return format!("server error {code}");
    };
    let mut reason = reason.to_owned();
    for word in hidden.iter().filter(|w| !w.is_empty()) {
        reason = reason.replace(word, "<hidden>");
    }
    format!(
        "server error {code}: {}",
        crate::text::sanitize(&reason, REASON_MAX)
    )
}

/// At most 32 characters of `text`, letters, digits and `_` only: a
/// server's error code, or the name of an error's kind.
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(32)
        .collect()
}

/// Why a lease can no longer act on its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LostTo {
    /// Another claim holds an unexpired lease.
    Holder,
    /// Another claim completed the key.
    Completion,
    /// This lease completed the key (a release after a completion).
    OwnCompletion,
}

/// The shortest retention of completed keys a store keeps.
pub const MIN_RETENTION: Duration = Duration::from_millis(1);

/// The longest retention of completed keys a store keeps: 366 days. Any
/// longer `Duration` (up to `Duration::MAX`) is cut to it, by every store.
pub const MAX_RETENTION: Duration = Duration::from_secs(366 * 24 * 3600);

/// `retention` kept between [`MIN_RETENTION`] and [`MAX_RETENTION`]: what
/// every store does with a retention.
pub(crate) fn cap_retention(retention: Duration) -> Duration {
    retention.clamp(MIN_RETENTION, MAX_RETENTION)
}

/// The longest id kept as it is in a key, in bytes: a longer id is keyed
/// by its digest.
const MAX_PLAIN_ID: usize = 128;

/// Whether `id` goes into a key as it is: 1 to [`MAX_PLAIN_ID`] bytes of
/// ASCII letters, digits, `-`, `_` and `.`. Never a `:`, so that no plain
/// key reads as a digest key.
fn is_plain(id: &str) -> bool {
    (1..=MAX_PLAIN_ID).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `<namespace>:<tag>:<SHA-256 of bytes, lowercase hex>`.
fn digest_key(namespace: &str, tag: &str, bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let mut key = String::with_capacity(namespace.len() + tag.len() + 2 + 64);
    key.push_str(namespace);
    key.push(':');
    key.push_str(tag);
    key.push(':');
    key.push_str(&hex::encode(digest));
    key
}

/// The key of one unit of work with the vendor's id `id`: `<namespace>:<id>`
/// for a plain id (see the module's "Keys"), else
/// `<namespace>:id-sha256:<hex>`, the SHA-256 of the id's bytes.
///
/// Each vendor module uses its own namespace, so two vendors' ids never
/// meet in a shared store.
pub(crate) fn key(namespace: &str, id: &str) -> String {
    if !is_plain(id) {
        return digest_key(namespace, "id-sha256", id.as_bytes());
    }
    let mut key = String::with_capacity(namespace.len() + 1 + id.len());
    key.push_str(namespace);
    key.push(':');
    key.push_str(id);
    key
}

/// The key of a unit of work with no id, by its content:
/// `<namespace>:sha256:<hex>`, the SHA-256 of `raw`. The same bytes give
/// the same key; different bytes never share one.
pub(crate) fn content_key(namespace: &str, raw: &[u8]) -> String {
    digest_key(namespace, "sha256", raw)
}

/// Panic unless `connecting`, a shared store's `connect` to an unreadable
/// URL that holds a password, fails at once as `Unavailable` and echoes
/// neither the password nor the host.
#[cfg(all(test, any(feature = "redis", feature = "postgres")))]
pub(crate) fn assert_unreadable_url_refused<S>(
    connecting: impl Future<Output = Result<S, StoreError>>,
) {
    let connecting = std::pin::pin!(connecting);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_namespaces_apart() {
        assert_eq!(key("smartcomply", "evt_1"), "smartcomply:evt_1");
        assert_ne!(key("smartcomply", "x"), key("smarterwx", "x"));
    }

    /// Whether `key` fits every store: bounded, and only printable ASCII.
    fn fits(key: &str) -> bool {
        key.len() <= 140 && key.bytes().all(|b| b.is_ascii_graphic())
    }

    #[test]
    fn plain_ids_stay_and_every_other_id_is_keyed_by_its_digest() {
        let uuid = "fd07b9f3-dd85-4615-a1e8-8fced35ef2e5";
        assert_eq!(key("smarterwx", uuid), format!("smarterwx:{uuid}"));
        let longest = "a".repeat(MAX_PLAIN_ID);
        assert_eq!(key("smarterwx", &longest), format!("smarterwx:{longest}"));
        let sha = |bytes: &[u8]| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes));
        for id in [
            "",
            "evt\u{0}1",
            "evt_1\nprocessed evt_FORGED",
            "evt 1",
            "évt",
            "a:b",
            "id-sha256:00",
            "sha256:00",
            &"a".repeat(MAX_PLAIN_ID + 1),
            &"x".repeat(1 << 20),
        ] {
            let got = key("smartcomply", id);
            assert_eq!(
                got,
                format!("smartcomply:id-sha256:{}", sha(id.as_bytes())),
                "{id:?}"
            );
            assert!(fits(&got), "{got}");
        }
        // Content keys: the same bytes, the same key.
        let raw = br#"{"event":"referral:create","message":7}"#;
        assert_eq!(
            content_key("smarterwx", raw),
            format!("smarterwx:sha256:{}", sha(raw))
        );
        assert_eq!(content_key("smarterwx", raw), content_key("smarterwx", raw));
        assert_ne!(
            content_key("smarterwx", raw),
            content_key("smarterwx", b"{}")
        );
        assert!(fits(&content_key("smarterwx", &[0; 1 << 20])));
    }

    #[test]
    fn the_three_forms_never_meet() {
        // An id, the same text as content, and an id that spells the
        // other forms' keys.
        let text = "0123456789abcdef";
        let id_digest = key("smarterwx", "evt 1");
        let content = content_key("smarterwx", b"evt 1");
        assert_ne!(id_digest, content);
        let spelled = [
            id_digest.strip_prefix("smarterwx:").unwrap(),
            content.strip_prefix("smarterwx:").unwrap(),
        ];
        for id in spelled {
            assert_ne!(key("smarterwx", id), id_digest);
            assert_ne!(key("smarterwx", id), content);
        }
        assert_eq!(key("smarterwx", text), format!("smarterwx:{text}"));
        assert_ne!(
            key("smarterwx", text),
            content_key("smarterwx", text.as_bytes())
        );
        // A plain key has one `:`, a digest key two.
        assert_eq!(key("smarterwx", text).matches(':').count(), 1);
        assert_eq!(id_digest.matches(':').count(), 2);
        assert_eq!(content.matches(':').count(), 2);
    }

    #[test]
    fn leases_have_unique_hex_tokens_and_hide_keys() {
        let a = Lease::new("smartcomply:evt_secretive", Duration::from_secs(5));
        let b = Lease::new("smartcomply:evt_secretive", Duration::from_secs(5));
        assert_ne!(a.token(), b.token());
        assert_eq!(a.token().len(), 32);
        assert!(a.token().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(a.key(), "smartcomply:evt_secretive");
        assert!(a.deadline() > Instant::now());
        assert!(!format!("{a:?}").contains("secretive"));
    }

    #[test]
    fn lease_durations_are_bounded() {
        let long = Lease::new("k", Duration::MAX);
        assert_eq!(long.duration(), Lease::MAX);
        assert!(long.deadline() > Instant::now() + Duration::from_secs(3600));
        assert_eq!(Lease::new("k", Duration::ZERO).duration(), Lease::MIN);
        let mut lease = Lease::new("k", Duration::from_secs(1));
        let sent = Instant::now();
        lease.extended(sent, Duration::MAX);
        assert_eq!(lease.duration(), Lease::MAX);
        assert_eq!(lease.deadline(), sent + Lease::MAX);
        assert_eq!(cap_retention(Duration::MAX), MAX_RETENTION);
        assert_eq!(cap_retention(Duration::ZERO), MIN_RETENTION);
    }

    #[cfg(any(feature = "redis", feature = "postgres"))]
    #[test]
    fn server_errors_keep_a_short_code_and_an_escaped_reason() {
        assert_eq!(printable("READONLY"), "READONLY");
        assert_eq!(printable("a:b pass\u{202e}word"), "abpassword");
        assert_eq!(printable(&"x".repeat(100)).len(), 32);
        assert_eq!(server_error("OOM\n", None, &[]), "server error OOM");
        let shown = server_error(
            "22021",
            Some("invalid byte in \"evt_secret\"\nforged line"),
            &["evt_secret", ""],
        );
        assert_eq!(
            shown,
            "server error 22021: invalid byte in \"<hidden>\"\\nforged line"
        );
        let long = server_error("54000", Some(&"y".repeat(1000)), &[]);
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn errors_classify_and_print_their_kind() {
        let e = StoreError::new(StoreErrorKind::Uncertain, "timed out after 1.5 s");
        assert!(e.is_transient());
        assert_eq!(
            e.to_string(),
            "idempotency store did not answer in time: timed out after 1.5 s"
        );
        for to in [LostTo::Holder, LostTo::Completion, LostTo::OwnCompletion] {
            let lost = StoreError::lease_lost(to);
            assert!(!lost.is_transient());
            assert_eq!(lost.kind(), StoreErrorKind::LeaseLost);
        }
        assert!(
            StoreError::lease_lost(LostTo::Holder)
                .to_string()
                .contains("another claim holds the key")
        );
        assert!(
            StoreError::lease_lost(LostTo::Completion)
                .to_string()
                .contains("another claim completed the key")
        );
        let rejected = StoreError::new(StoreErrorKind::Rejected, "claim: server error 22021");
        assert!(!rejected.is_transient());
        assert_eq!(Answer::from(&rejected).http_status(), 503);
        assert_eq!(
            rejected.to_string(),
            "idempotency store refused it for good: claim: server error 22021"
        );
    }
}
