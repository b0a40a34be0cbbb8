//! Running a closure under a claim.

use std::future::Future;
use std::time::{Duration, Instant};

use super::timer::{Sleep, timeout};
use super::{Claim, Lease, Store, StoreError};

/// What [`run`] did with one key, and so what to answer the vendor.
#[derive(Debug)]
#[must_use = "the outcome says whether the delivery may be acknowledged"]
pub enum Outcome<T, E> {
    /// The work ran, succeeded, and was recorded: acknowledge (`2xx`).
    Done(T),
    /// The work ran and succeeded, but recording it failed even after a
    /// retry (the store is down, or the lease expired first). Acknowledge
    /// all the same (`2xx`): a retry would only redo the work once the
    /// lease expires. Log the error.
    DoneNotRecorded(T, StoreError),
    /// The work returned an error. The lease was released, so the vendor's
    /// retry runs the work again: answer `500`.
    Failed(E),
    /// The work did not finish before its deadline, a margin inside the
    /// lease. It was cancelled (its future dropped) and the lease released:
    /// answer `500`, and the vendor's retry runs it again.
    TimedOut,
    /// Another caller holds the key and its work may still fail: answer
    /// `409` with a `Retry-After` of `retry_after`, rounded up to whole
    /// seconds. Never acknowledge this delivery yet.
    InProgress {
        /// What is left of the other caller's lease.
        retry_after: Duration,
    },
    /// The key's work was done before: acknowledge (`2xx`) and do nothing.
    Completed,
}

impl<T, E> Outcome<T, E> {
    /// The HTTP status to answer with: `204` when the delivery may be
    /// acknowledged ([`Outcome::Done`], [`Outcome::DoneNotRecorded`],
    /// [`Outcome::Completed`]), `409` for [`Outcome::InProgress`], `500`
    /// for [`Outcome::Failed`] and [`Outcome::TimedOut`]. A store that
    /// could not be reached is an `Err` from [`run`], whose status is
    /// `503`.
    pub fn status(&self) -> u16 {
        match self {
            Outcome::Done(_) | Outcome::DoneNotRecorded(..) | Outcome::Completed => 204,
            Outcome::InProgress { .. } => 409,
            Outcome::Failed(_) | Outcome::TimedOut => 500,
        }
    }
}

/// How long before the lease expires the work is cancelled: time left to
/// record the outcome. A fifth of the lease, at most 5 seconds.
fn margin(lease: Duration) -> Duration {
    (lease / 5).min(Duration::from_secs(5))
}

/// How long to wait before trying [`Store::complete`] a second time.
const COMPLETE_RETRY_AFTER: Duration = Duration::from_millis(100);

/// Run `work` once for `key`, under a claim on `store` with a lease of
/// `lease`.
///
/// - It claims the key. [`Claim::InProgress`] and [`Claim::Completed`]
///   return at once as [`Outcome::InProgress`] and [`Outcome::Completed`];
///   the work does not run.
/// - On [`Claim::Acquired`] it runs `work` with a copy of the lease (record
///   [`Lease::token`] in your transaction for exactly-once effects), with a
///   deadline a margin inside the lease (a fifth of it, at most 5 s).
/// - `Ok` completes the lease, with one retry after 100 ms on a transient
///   error: [`Outcome::Done`], or [`Outcome::DoneNotRecorded`] if it still
///   failed.
/// - `Err` or a missed deadline releases the lease: [`Outcome::Failed`] or
///   [`Outcome::TimedOut`]. If the release fails too, the lease expires
///   by itself, and until then retries get [`Outcome::InProgress`].
///
/// It returns `Err` only when the claim itself failed (the store is down,
/// full, or did not answer): answer `503` (the error converts into
/// [`Error`](crate::Error), whose status it is) and the vendor retries
/// later.
///
/// The work is cancelled at the deadline by dropping its future, so it
/// should be safe to stop at any `.await` (a database transaction is).
/// The deadline needs no async runtime: a single background thread,
/// started the first time a deadline is set, wakes the task. If the future
/// `run` returns is itself dropped (a cancelled request), the lease is
/// neither completed nor released, and it expires.
///
/// ```
/// use std::time::Duration;
/// use utility_webhooks::idempotency::{self, MemoryStore, Outcome};
///
/// # async fn example() -> Result<(), idempotency::StoreError> {
/// let store = MemoryStore::new(1000, Duration::from_secs(24 * 3600));
/// let lease = Duration::from_secs(10);
///
/// let first = idempotency::run(&store, "smarterwx:fd07b9f3", lease, |_lease| async {
///     Err::<(), _>("the database is down")
/// })
/// .await?;
/// assert!(matches!(first, Outcome::Failed("the database is down")));
/// assert_eq!(first.status(), 500); // the vendor retries
///
/// let retry = idempotency::run(&store, "smarterwx:fd07b9f3", lease, |_lease| async {
///     Ok::<_, &str>("stored")
/// })
/// .await?;
/// assert!(matches!(retry, Outcome::Done("stored")));
///
/// let again = idempotency::run(&store, "smarterwx:fd07b9f3", lease, |_lease| async {
///     Ok::<_, &str>("stored twice?")
/// })
/// .await?;
/// assert!(matches!(again, Outcome::Completed)); // the work did not run
/// # Ok(())
/// # }
/// # let mut f = std::pin::pin!(example());
/// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// # loop {
/// #     if let std::task::Poll::Ready(r) = f.as_mut().poll(&mut cx) { r.unwrap(); break; }
/// # }
/// ```
pub async fn run<S, F, Fut, T, E>(
    store: &S,
    key: &str,
    lease: Duration,
    work: F,
) -> Result<Outcome<T, E>, StoreError>
where
    S: Store + ?Sized,
    F: FnOnce(Lease) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let lease = match store.claim(key, lease).await? {
        Claim::Acquired(lease) => lease,
        Claim::InProgress { retry_after } => return Ok(Outcome::InProgress { retry_after }),
        Claim::Completed => return Ok(Outcome::Completed),
    };
    let deadline = lease
        .deadline()
        .checked_sub(margin(lease.duration()))
        .unwrap_or_else(Instant::now);
    let outcome = match timeout(deadline, work(lease.clone())).await {
        Some(Ok(value)) => match complete(store, &lease).await {
            Ok(()) => Outcome::Done(value),
            Err(err) => Outcome::DoneNotRecorded(value, err),
        },
        Some(Err(err)) => {
            // A failed release leaves the lease to expire: nothing is lost.
            let _ = store.release(&lease).await;
            Outcome::Failed(err)
        }
        None => {
            let _ = store.release(&lease).await;
            Outcome::TimedOut
        }
    };
    Ok(outcome)
}

/// [`Store::complete`], tried once more after a short pause when the first
/// error was transient.
async fn complete<S: Store + ?Sized>(store: &S, lease: &Lease) -> Result<(), StoreError> {
    match store.complete(lease).await {
        Err(err) if err.is_transient() => {
            Sleep::until(Instant::now() + COMPLETE_RETRY_AFTER).await;
            // Completing twice is not an error, so a first attempt that
            // applied after all is recognised.
            store.complete(lease).await
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::timer::tests::block_on;
    use crate::idempotency::{MemoryStore, StoreErrorKind};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DAY: Duration = Duration::from_secs(24 * 3600);
    const LEASE: Duration = Duration::from_secs(10);

    /// Compiles only if `run`'s future is `Send` for any store, as a
    /// handler on a multi-threaded runtime needs (an `async fn` would not
    /// state the `Send`).
    #[allow(dead_code, clippy::manual_async_fn)]
    fn generic_handlers_are_send<S: Store>(store: &S) -> impl Future<Output = u16> + Send + '_ {
        async move {
            let work = |lease: Lease| async move { Ok::<_, String>(lease.token().len()) };
            match run(store, "smartcomply:evt_1", LEASE, work).await {
                Ok(outcome) => outcome.status(),
                Err(_) => 503,
            }
        }
    }

    #[test]
    fn done_then_completed_without_running_again() {
        let store = MemoryStore::new(10, DAY);
        let runs = AtomicUsize::new(0);
        let work = |_| async {
            runs.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(1)
        };
        let first = block_on(run(&store, "k", LEASE, work)).unwrap();
        assert!(matches!(first, Outcome::Done(1)));
        assert_eq!(first.status(), 204);
        let second = block_on(run(&store, "k", LEASE, work)).unwrap();
        assert!(matches!(second, Outcome::Completed));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failure_releases_so_the_retry_runs() {
        let store = MemoryStore::new(10, DAY);
        let failed = block_on(run(&store, "k", LEASE, |_| async { Err::<(), _>("no") })).unwrap();
        assert!(matches!(failed, Outcome::Failed("no")));
        assert_eq!(failed.status(), 500);
        let retried = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, ()>(()) })).unwrap();
        assert!(matches!(retried, Outcome::Done(())));
    }

    #[test]
    fn a_concurrent_delivery_is_in_progress_not_acknowledged() {
        let store = MemoryStore::new(10, DAY);
        let Claim::Acquired(held) = block_on(store.claim("k", LEASE)).unwrap() else {
            panic!("expected to acquire a fresh key");
        };
        let ran = AtomicUsize::new(0);
        let outcome = block_on(run(&store, "k", LEASE, |_| async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(())
        }))
        .unwrap();
        match outcome {
            Outcome::InProgress { retry_after } => {
                assert!(retry_after > Duration::ZERO && retry_after <= LEASE);
            }
            other => panic!("expected InProgress, got {other:?}"),
        }
        assert_eq!(outcome.status(), 409);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        block_on(store.release(&held)).unwrap();
    }

    #[test]
    fn work_past_its_deadline_is_cancelled_and_released() {
        let store = MemoryStore::new(10, DAY);
        let lease = Duration::from_millis(100);
        let started = Instant::now();
        let outcome = block_on(run(&store, "k", lease, |_| {
            std::future::pending::<Result<(), ()>>()
        }))
        .unwrap();
        assert!(matches!(outcome, Outcome::TimedOut));
        // Cancelled a margin (a fifth) inside the lease.
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(80), "{took:?}");
        // Released: the next delivery claims it at once.
        let next = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, ()>(()) })).unwrap();
        assert!(matches!(next, Outcome::Done(())));
    }

    #[test]
    fn the_work_sees_the_claimed_lease() {
        let store = MemoryStore::new(10, DAY);
        let seen = Mutex::new(None);
        let seen_ref = &seen;
        let outcome = block_on(run(
            &store,
            "smartcomply:evt_1",
            LEASE,
            |lease| async move {
                *seen_ref.lock().unwrap() =
                    Some((lease.key().to_owned(), lease.token().to_owned()));
                Ok::<_, ()>(())
            },
        ))
        .unwrap();
        assert!(matches!(outcome, Outcome::Done(())));
        let (key, token) = seen.into_inner().unwrap().unwrap();
        assert_eq!(key, "smartcomply:evt_1");
        assert_eq!(token.len(), 32);
    }

    /// A store whose `complete` fails a given number of times first.
    struct Flaky {
        inner: MemoryStore,
        failures: AtomicUsize,
        kind: StoreErrorKind,
    }

    impl Store for Flaky {
        fn claim(
            &self,
            key: &str,
            lease: Duration,
        ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
            self.inner.claim(key, lease)
        }

        async fn complete(&self, lease: &Lease) -> Result<(), StoreError> {
            let left = self.failures.load(Ordering::SeqCst);
            if left > 0 {
                self.failures.store(left - 1, Ordering::SeqCst);
                return Err(StoreError::new(self.kind, "injected"));
            }
            self.inner.complete(lease).await
        }

        fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
            self.inner.release(lease)
        }
    }

    fn flaky(failures: usize, kind: StoreErrorKind) -> Flaky {
        Flaky {
            inner: MemoryStore::new(10, DAY),
            failures: AtomicUsize::new(failures),
            kind,
        }
    }

    #[test]
    fn complete_is_retried_once_after_a_transient_error() {
        let store = flaky(1, StoreErrorKind::Unavailable);
        let outcome = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, ()>(5) })).unwrap();
        assert!(matches!(outcome, Outcome::Done(5)));
        assert_eq!(block_on(store.claim("k", LEASE)).unwrap(), Claim::Completed);
    }

    #[test]
    fn done_not_recorded_is_still_acknowledged() {
        let store = flaky(2, StoreErrorKind::Uncertain);
        let outcome = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, ()>(5) })).unwrap();
        match &outcome {
            Outcome::DoneNotRecorded(5, err) => assert_eq!(err.kind(), StoreErrorKind::Uncertain),
            other => panic!("expected DoneNotRecorded, got {other:?}"),
        }
        assert_eq!(outcome.status(), 204);
        // A lost lease is not retried: it cannot come back.
        let store = flaky(1, StoreErrorKind::LeaseLost);
        let outcome = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, ()>(()) })).unwrap();
        assert!(
            matches!(&outcome, Outcome::DoneNotRecorded((), e) if e.kind() == StoreErrorKind::LeaseLost)
        );
    }

    #[test]
    fn a_full_store_is_an_error_and_the_work_does_not_run() {
        let store = MemoryStore::new(1, DAY);
        let Claim::Acquired(_held) = block_on(store.claim("a", LEASE)).unwrap() else {
            panic!("expected to acquire a fresh key");
        };
        let err = block_on(run(&store, "b", LEASE, |_| async {
            panic!("the work must not run");
            #[allow(unreachable_code)]
            Ok::<(), ()>(())
        }))
        .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Full);
    }
}
