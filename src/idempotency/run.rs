//! Running a closure under a claim.

use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_timer::Delay;

use super::{Claim, Lease, Store, StoreError};

/// What [`run`] did with one key, and so what to answer the vendor: its
/// [`Answer`](super::Answer) (`Answer::from(&outcome)`, or
/// `Answer::of(&ran)` for what `run` returned, a store error included)
/// gives the status and the `Retry-After`.
#[derive(Debug)]
#[must_use = "the outcome says whether the delivery may be acknowledged"]
pub enum Outcome<T, E> {
    /// The work ran, succeeded, and was recorded: acknowledge (`2xx`).
    Done(T),
    /// The work ran and succeeded, but recording it failed even after a
    /// retry (the store is down, or another claim overtook the lease).
    /// Acknowledge all the same (`2xx`): a retry would only redo the work
    /// once the lease expires. Log the error.
    DoneNotRecorded(T, StoreError),
    /// The work returned an error. The lease was released, so the vendor's
    /// retry runs the work again: answer `500`.
    Failed(E),
    /// The work panicked. The panic was caught, the lease released at
    /// once, and the panic's message kept here: answer `500`, and the
    /// vendor's retry runs the work again.
    Panicked(String),
    /// The lease could not be held: the claim came back after its
    /// deadline, or renewing it failed (the store was down until a margin
    /// before the lease's end, or another claim overtook it). The work did
    /// not start, or was cancelled (its future dropped), and the lease was
    /// released: answer `500`, and the vendor's retry runs it again.
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
    /// The status to answer the vendor with, as the API contract names
    /// it: the status of its [`Answer`](super::Answer), which holds the
    /// one table (`204`, `409`, `500`) and the `Retry-After`. Requires the
    /// `http` feature.
    ///
    /// ```
    /// use utility_webhooks::idempotency::{Answer, Outcome};
    ///
    /// let outcome: Outcome<(), ()> = Outcome::Completed;
    /// assert_eq!(outcome.status_code(), 204);
    /// assert_eq!(outcome.status_code(), Answer::from(&outcome).status_code());
    /// ```
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn status_code(&self) -> http::StatusCode {
        super::Answer::from(self).status_code()
    }

    /// The outcome's name in spans: `done`, `completed`, ...
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Outcome::Done(_) => "done",
            Outcome::DoneNotRecorded(..) => "done_not_recorded",
            Outcome::Failed(_) => "failed",
            Outcome::Panicked(_) => "panicked",
            Outcome::TimedOut => "timed_out",
            Outcome::InProgress { .. } => "in_progress",
            Outcome::Completed => "completed",
        }
    }
}

/// How long before the lease ends the work is cancelled when the lease
/// could not be renewed: time left to release it. A fifth of the lease,
/// at most 5 seconds.
fn margin(lease: Duration) -> Duration {
    (lease / 5).min(Duration::from_secs(5))
}

/// How long to wait before trying a store operation again after a
/// transient error.
const RETRY_AFTER: Duration = Duration::from_millis(100);

/// Run `work` once for `key`, under a claim on `store` with a lease of
/// `lease`.
///
/// - It claims the key. [`Claim::InProgress`] and [`Claim::Completed`]
///   return at once as [`Outcome::InProgress`] and [`Outcome::Completed`];
///   the work does not run. Nor does it when the claim came back after the
///   lease's deadline ([`Outcome::TimedOut`], the lease released).
/// - On [`Claim::Acquired`] it runs `work` with a copy of the lease (record
///   [`Lease::token`] in your transaction for exactly-once effects).
/// - While the work runs, it renews the lease ([`Store::extend`]) each time
///   half of it has passed, so healthy work of any length keeps its key,
///   while the lease of a holder that died still expires within one lease.
///   When renewing fails until a margin before the lease's end (a fifth of
///   it, at most 5 s), or another claim overtook the lease, the work is
///   cancelled (its future dropped) and the lease released:
///   [`Outcome::TimedOut`].
/// - `Ok` completes the lease, with one retry after 100 ms on a transient
///   error: [`Outcome::Done`], or [`Outcome::DoneNotRecorded`] if it still
///   failed.
/// - `Err` releases the lease: [`Outcome::Failed`]. A panic in the work is
///   caught, and the lease released at once: [`Outcome::Panicked`]. If a
///   release fails, the lease expires by itself, and until then retries
///   get [`Outcome::InProgress`]. The release carries what stopped the
///   work ([`Store::release_with_error`]: the error's `Display`, or the
///   panic's message, escaped and cut to 300 bytes), which a store that
///   keeps a record of attempts keeps (`PostgresStore::status`), and with
///   the `tracing` feature a `webhook.failed` event shows it too.
///
/// It returns `Err` only when the claim itself failed (the store is down,
/// full, or did not answer): answer `503` (the error converts into
/// [`Error`](crate::Error), whose status it is) and the vendor retries
/// later.
///
/// # When the future is dropped
///
/// If the future `run` returns is dropped before it finishes (the vendor
/// stopped waiting, and the HTTP server dropped the request), the work is
/// cancelled where it stands and the lease is neither completed nor
/// released: renewals stop, and it expires within one lease, after which
/// the vendor's retry does the work. Work that must outlive the request
/// (SmarterWX waits only 3 seconds) runs in a task of its own, awaited by
/// the request: `tokio::spawn(async move { idempotency::run(..).await })`.
/// The request may then end; the task goes on, and the vendor's retry gets
/// [`Outcome::InProgress`] or [`Outcome::Completed`].
///
/// The work should be safe to stop at any `.await` (a database transaction
/// is). The timers need no particular async runtime (`futures-timer`).
///
/// ```
/// use std::time::Duration;
/// use utility_webhooks::idempotency::{self, Answer, MemoryStore, Outcome};
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
/// assert_eq!(Answer::from(&first).http_status(), 500); // the vendor retries
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
    E: fmt::Display,
{
    crate::trace::idempotent(key, async {
        let claim = store.claim(key, lease).await?;
        let mut lease = match held(store, claim).await {
            Ok(lease) => lease,
            Err(answered) => return Ok(answered),
        };
        Ok(match under_lease(store, &mut lease, work).await {
            Ok(value) => match complete(store, &lease).await {
                Ok(()) => Outcome::Done(value),
                Err(err) => Outcome::DoneNotRecorded(value, err),
            },
            Err(stopped) => stopped.release(store, &lease).await,
        })
    })
    .await
}

/// The lease that `claim` acquired, ready for work; otherwise the outcome
/// to answer at once, without work: [`Outcome::InProgress`],
/// [`Outcome::Completed`], or [`Outcome::TimedOut`] for a claim that came
/// back after its lease's deadline (released: another claim may be taking
/// the key now).
pub(super) async fn held<S: Store + ?Sized, T, E>(
    store: &S,
    claim: Claim,
) -> Result<Lease, Outcome<T, E>> {
    let lease = match claim {
        Claim::Acquired(lease) => lease,
        Claim::InProgress { retry_after } => return Err(Outcome::InProgress { retry_after }),
        Claim::Completed => return Err(Outcome::Completed),
    };
    if Instant::now() >= lease.deadline() {
        let _ = store
            .release_with_error(&lease, "the claim came back after the lease's deadline")
            .await;
        return Err(Outcome::TimedOut);
    }
    Ok(lease)
}

/// How work under a lease stopped short of success.
pub(super) enum Stopped<E> {
    /// The work returned this error.
    Failed(E),
    /// The work panicked with this message.
    Panicked(String),
    /// The lease could not be held: the work's future was dropped.
    TimedOut,
}

/// The most of an error that its record and its log line keep, in bytes
/// once escaped.
pub(crate) const ERROR_MAX: usize = 300;

/// `error`'s text as a store keeps it and a log shows it: escaped, and
/// at most [`ERROR_MAX`] bytes.
pub(crate) fn error_text(error: &dyn fmt::Display) -> String {
    crate::text::sanitize(&error.to_string(), ERROR_MAX)
}

impl<E: fmt::Display> Stopped<E> {
    /// Release `lease` with what stopped the work as its error
    /// ([`Store::release_with_error`]), and the outcome to answer. A
    /// failed release leaves the lease to expire: nothing is lost.
    pub(super) async fn release<S: Store + ?Sized, T>(
        self,
        store: &S,
        lease: &Lease,
    ) -> Outcome<T, E> {
        let error = match &self {
            Stopped::Failed(err) => error_text(err),
            Stopped::Panicked(message) => error_text(&format_args!("panicked: {message}")),
            Stopped::TimedOut => "the lease could not be held".to_owned(),
        };
        let _ = store.release_with_error(lease, &error).await;
        match self {
            Stopped::Failed(err) => Outcome::Failed(err),
            Stopped::Panicked(message) => Outcome::Panicked(message),
            Stopped::TimedOut => Outcome::TimedOut,
        }
    }
}

/// Run the work that `make` makes with a copy of `lease`, while the
/// lease is renewed ([`keep`]): its value, or how it stopped: an error, a
/// panic (caught, in `make` or in a poll), or a lease that could not be
/// held (the work's future dropped).
pub(super) async fn under_lease<S, F, Fut, T, E>(
    store: &S,
    lease: &mut Lease,
    make: F,
) -> Result<T, Stopped<E>>
where
    S: Store + ?Sized,
    F: FnOnce(Lease) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let copy = lease.clone();
    let work = catching(move || make(copy));
    match first(work, keep(store, lease)).await {
        Some(Ok(Ok(value))) => Ok(value),
        Some(Ok(Err(err))) => Err(Stopped::Failed(err)),
        Some(Err(panic)) => Err(Stopped::Panicked(panic_message(panic.as_ref()))),
        None => Err(Stopped::TimedOut),
    }
}

/// The future that `make` returns, run with every panic (in `make` or in
/// a poll) caught.
pub(crate) async fn catching<F, Fut>(make: F) -> std::thread::Result<Fut::Output>
where
    F: FnOnce() -> Fut,
    Fut: Future,
{
    let future = catch_unwind(AssertUnwindSafe(make))?;
    let mut future = pin!(future);
    poll_fn(
        |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        },
    )
    .await
}

/// `future`'s output, or `None` (and the future dropped) once `deadline`
/// passed first.
pub(super) async fn timeout<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    first(future, sleep_until(deadline)).await
}

/// `work`'s output, or `None` once `stop` finished first (and `work` was
/// dropped).
async fn first<W: Future, K: Future<Output = ()>>(work: W, stop: K) -> Option<W::Output> {
    let mut work = pin!(work);
    let mut stop = pin!(stop);
    poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        match stop.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Renew `lease` each time half of it has passed; finishes only when it
/// could not be renewed: another claim overtook it, or the store failed
/// until a margin before the lease's end.
async fn keep<S: Store + ?Sized>(store: &S, lease: &mut Lease) {
    let duration = lease.duration();
    let give_up = |lease: &Lease| lease.deadline().checked_sub(margin(duration));
    loop {
        let renew_at = lease.deadline().checked_sub(duration / 2);
        sleep_until(renew_at.unwrap_or_else(Instant::now)).await;
        loop {
            let Some(limit) = give_up(lease) else { return };
            if Instant::now() >= limit {
                return;
            }
            let extended = timeout(limit, store.extend(lease, duration)).await;
            match extended {
                Some(Ok(())) => break,
                Some(Err(err)) if err.is_transient() => {
                    sleep_until(Instant::now() + RETRY_AFTER).await
                }
                // Overtaken, or out of time.
                Some(Err(_)) | None => return,
            }
        }
    }
}

/// A timer that fires at `at` (at once when `at` has passed).
fn sleep_until(at: Instant) -> Delay {
    Delay::new(at.saturating_duration_since(Instant::now()))
}

/// [`Store::complete`], tried once more after a short pause when the first
/// error was transient.
async fn complete<S: Store + ?Sized>(store: &S, lease: &Lease) -> Result<(), StoreError> {
    match store.complete(lease).await {
        Err(err) if err.is_transient() => {
            sleep_until(Instant::now() + RETRY_AFTER).await;
            // Completing twice is not an error, so a first attempt that
            // applied after all is recognised.
            store.complete(lease).await
        }
        other => other,
    }
}

/// What a panic said, for [`Outcome::Panicked`].
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::{Answer, MemoryStore, StoreErrorKind};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Wake, Waker};

    /// Wakes the thread that waits in [`block_on`].
    struct Unpark(std::thread::Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// Runs `future` on this thread, parking until it is woken.
    pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            std::thread::park();
        }
    }

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
                Ok(outcome) => Answer::from(&outcome).http_status(),
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
            Ok::<_, &str>(1)
        };
        let first = block_on(run(&store, "k", LEASE, work)).unwrap();
        assert!(matches!(first, Outcome::Done(1)));
        assert_eq!(Answer::from(&first).http_status(), 204);
        let second = block_on(run(&store, "k", LEASE, work)).unwrap();
        assert!(matches!(second, Outcome::Completed));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn failure_releases_so_the_retry_runs() {
        let store = MemoryStore::new(10, DAY);
        let failed = block_on(run(&store, "k", LEASE, |_| async { Err::<(), _>("no") })).unwrap();
        assert!(matches!(failed, Outcome::Failed("no")));
        assert_eq!(Answer::from(&failed).http_status(), 500);
        let retried = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, &str>(()) })).unwrap();
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
            Ok::<_, &str>(())
        }))
        .unwrap();
        match outcome {
            Outcome::InProgress { retry_after } => {
                assert!(retry_after > Duration::ZERO && retry_after <= LEASE);
            }
            other => panic!("expected InProgress, got {other:?}"),
        }
        assert_eq!(Answer::from(&outcome).http_status(), 409);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        block_on(store.release(&held)).unwrap();
    }

    #[test]
    fn long_work_keeps_its_lease_by_renewing_it() {
        let store = MemoryStore::new(10, DAY);
        let lease = Duration::from_millis(200);
        let outcome = block_on(run(&store, "k", lease, |_| async {
            // Five leases long: renewed at each half.
            Delay::new(Duration::from_secs(1)).await;
            Ok::<_, &str>(())
        }))
        .unwrap();
        assert!(matches!(outcome, Outcome::Done(())), "{outcome:?}");
        assert_eq!(block_on(store.claim("k", lease)).unwrap(), Claim::Completed);
    }

    /// Work that never ends, run under a lease of `lease` on a store whose
    /// every renewal fails with `extend_error`: what `run` gave, and how long
    /// it took.
    fn never_ending_work_when_renewals_fail(
        extend_error: StoreError,
        lease: Duration,
    ) -> (Faulty, Outcome<(), &'static str>, Duration) {
        let store = Faulty {
            extend_error: Some(extend_error),
            ..Faulty::new()
        };
        let started = Instant::now();
        let outcome = block_on(run(&store, "k", lease, |_| std::future::pending()));
        (store, outcome.unwrap(), started.elapsed())
    }

    #[test]
    fn work_whose_lease_is_overtaken_is_cancelled_and_released() {
        let lost = StoreError::lease_lost(crate::idempotency::LostTo::Holder);
        let (store, outcome, took) =
            never_ending_work_when_renewals_fail(lost, Duration::from_millis(100));
        assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
        // Cancelled at the first renewal, half-way through the lease.
        assert!(took >= Duration::from_millis(50), "{took:?}");
        // Released: the next delivery claims it at once.
        let next = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, &str>(()) })).unwrap();
        assert!(matches!(next, Outcome::Done(())));
    }

    #[test]
    fn work_is_cancelled_a_margin_before_a_lease_the_store_cannot_renew() {
        let down = StoreError::new(StoreErrorKind::Unavailable, "injected");
        let (_, outcome, took) =
            never_ending_work_when_renewals_fail(down, Duration::from_millis(500));
        assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
        // Renewals from 250 ms, retried until a fifth before the end.
        assert!(took >= Duration::from_millis(400), "{took:?}");
    }

    #[test]
    fn work_that_panics_releases_its_lease_at_once() {
        let store = MemoryStore::new(10, DAY);
        let outcome = block_on(run(&store, "k", LEASE, |_| async {
            if !store.is_empty() {
                panic!("the handler's bug");
            }
            Ok::<(), &str>(())
        }))
        .unwrap();
        match &outcome {
            Outcome::Panicked(message) => assert_eq!(message, "the handler's bug"),
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(Answer::from(&outcome).http_status(), 500);
        // Not held: the retry runs at once.
        let retry = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, &str>(7) })).unwrap();
        assert!(matches!(retry, Outcome::Done(7)));
        // A closure that panics before it makes its future is caught too.
        let outcome = block_on(run(
            &store,
            "k2",
            LEASE,
            |_| -> std::future::Ready<Result<(), &str>> {
                panic!("{}", String::from("made no future"))
            },
        ))
        .unwrap();
        assert!(matches!(&outcome, Outcome::Panicked(m) if m == "made no future"));
        assert!(matches!(
            block_on(store.claim("k2", LEASE)).unwrap(),
            Claim::Acquired(_)
        ));
    }

    #[test]
    fn a_claim_that_came_back_after_its_deadline_starts_no_work() {
        let store = Faulty {
            slow_claims: true,
            ..Faulty::new()
        };
        let ran = AtomicUsize::new(0);
        let outcome = block_on(run(&store, "k", Duration::from_millis(20), |_| async {
            ran.fetch_add(1, Ordering::SeqCst);
            Ok::<_, &str>(())
        }))
        .unwrap();
        assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
        assert_eq!(ran.load(Ordering::SeqCst), 0);
        // Released, not left to expire.
        assert!(matches!(
            block_on(store.inner.claim("k", LEASE)).unwrap(),
            Claim::Acquired(_)
        ));
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
                Ok::<_, &str>(())
            },
        ))
        .unwrap();
        assert!(matches!(outcome, Outcome::Done(())));
        let (key, token) = seen.into_inner().unwrap().unwrap();
        assert_eq!(key, "smartcomply:evt_1");
        assert_eq!(token.len(), 32);
    }

    /// A `MemoryStore` with faults injected: `complete` fails a number of
    /// times first, `extend` always fails, or `claim` answers only after
    /// the lease it took ran out.
    struct Faulty {
        inner: MemoryStore,
        complete_failures: AtomicUsize,
        complete_error: StoreErrorKind,
        extend_error: Option<StoreError>,
        slow_claims: bool,
    }

    impl Faulty {
        fn new() -> Self {
            Faulty {
                inner: MemoryStore::new(10, DAY),
                complete_failures: AtomicUsize::new(0),
                complete_error: StoreErrorKind::Unavailable,
                extend_error: None,
                slow_claims: false,
            }
        }
    }

    impl Store for Faulty {
        async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
            let claim = self.inner.claim(key, lease).await;
            if self.slow_claims {
                Delay::new(lease + Duration::from_millis(5)).await;
            }
            claim
        }

        async fn complete(&self, lease: &Lease) -> Result<(), StoreError> {
            let left = self.complete_failures.load(Ordering::SeqCst);
            if left > 0 {
                self.complete_failures.store(left - 1, Ordering::SeqCst);
                return Err(StoreError::new(self.complete_error, "injected"));
            }
            self.inner.complete(lease).await
        }

        fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
            self.inner.release(lease)
        }

        async fn extend(&self, lease: &mut Lease, duration: Duration) -> Result<(), StoreError> {
            match &self.extend_error {
                Some(err) => Err(err.clone()),
                None => self.inner.extend(lease, duration).await,
            }
        }
    }

    fn flaky(failures: usize, kind: StoreErrorKind) -> Faulty {
        Faulty {
            complete_failures: AtomicUsize::new(failures),
            complete_error: kind,
            ..Faulty::new()
        }
    }

    #[test]
    fn complete_is_retried_once_after_a_transient_error() {
        let store = flaky(1, StoreErrorKind::Unavailable);
        let outcome = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, &str>(5) })).unwrap();
        assert!(matches!(outcome, Outcome::Done(5)));
        assert_eq!(block_on(store.claim("k", LEASE)).unwrap(), Claim::Completed);
    }

    #[test]
    fn done_not_recorded_is_still_acknowledged() {
        let store = flaky(2, StoreErrorKind::Uncertain);
        let outcome = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, &str>(5) })).unwrap();
        match &outcome {
            Outcome::DoneNotRecorded(5, err) => assert_eq!(err.kind(), StoreErrorKind::Uncertain),
            other => panic!("expected DoneNotRecorded, got {other:?}"),
        }
        assert_eq!(Answer::from(&outcome).http_status(), 204);
        // A lost lease is not retried: it cannot come back.
        let store = flaky(1, StoreErrorKind::LeaseLost);
        let outcome = block_on(run(&store, "k", LEASE, |_| async { Ok::<_, &str>(()) })).unwrap();
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
            Ok::<(), &str>(())
        }))
        .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Full);
    }
}
