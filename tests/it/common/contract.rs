//! The `Store` contract: one set of checks, run against every store
//! (`tests/it/store_contract.rs`: `MemoryStore`, `RedisStore`,
//! `PostgresStore`).
//!
//! Included with `#[path]` by the tests that run it (it needs Tokio, which
//! not every package that includes `tests/it/common` has).
//!
//! Each check takes a store and uses keys of its own (under `prefix`), so
//! that all of them can share one store. Waits are for leases to run out,
//! never to bound how long something took.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use utility_webhooks::idempotency::{Claim, Lease, Store, StoreErrorKind};

/// A lease that never runs out during a check.
pub const LONG: Duration = Duration::from_secs(30);
/// A lease that runs out during a check: claims wait [`PAST_SHORT`] to be
/// sure.
pub const SHORT: Duration = Duration::from_millis(150);
pub const PAST_SHORT: Duration = Duration::from_millis(400);

/// Every check, in order, against `store`; `prefix` keeps its keys apart
/// from any other run's.
pub async fn all<S: Store + 'static>(store: Arc<S>, prefix: &str) {
    exclusive_claim(&*store, prefix).await;
    completed_answers_completed(&*store, prefix).await;
    release_frees_the_key(&*store, prefix).await;
    late_completion_is_recorded(&*store, prefix).await;
    lease_lost_names_holder_or_completion(&*store, prefix).await;
    extend_moves_the_expiry_and_is_fenced(&*store, prefix).await;
    longest_durations_are_capped(&*store, prefix).await;
    exactly_one_concurrent_claim_acquires(Arc::clone(&store), prefix).await;
}

async fn acquire<S: Store>(store: &S, key: &str, lease: Duration) -> Lease {
    match store.claim(key, lease).await {
        Ok(Claim::Acquired(lease)) => lease,
        other => panic!("expected to acquire a free key, got {other:?}"),
    }
}

async fn in_progress<S: Store>(store: &S, key: &str) -> Duration {
    match store.claim(key, LONG).await {
        Ok(Claim::InProgress { retry_after }) => retry_after,
        other => panic!("expected InProgress, got {other:?}"),
    }
}

async fn completed<S: Store>(store: &S, key: &str) {
    match store.claim(key, LONG).await {
        Ok(Claim::Completed) => {}
        other => panic!("expected Completed, got {other:?}"),
    }
}

fn assert_lost(result: Result<(), utility_webhooks::idempotency::StoreError>, says: &str) {
    let err = result.expect_err("a lost lease must be refused");
    assert_eq!(err.kind(), StoreErrorKind::LeaseLost, "{err}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains(says), "{err} (expected {says:?})");
}

const HOLDS: &str = "another claim holds the key";
const COMPLETED: &str = "another claim completed the key";
const OWN: &str = "this lease completed the key already";

/// One claim holds the key; the others see `InProgress` with what is left
/// of its lease.
pub async fn exclusive_claim<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:exclusive");
    let lease = acquire(store, &key, LONG).await;
    assert_eq!(lease.key(), key);
    assert_eq!(lease.duration(), LONG);
    assert_eq!(lease.token().len(), 32);
    for _ in 0..2 {
        let left = in_progress(store, &key).await;
        assert!(left > Duration::ZERO && left <= LONG, "{left:?}");
        assert!(left > LONG - Duration::from_secs(10), "{left:?}");
    }
    store.release(&lease).await.unwrap();
}

/// A completed key answers `Completed`; completing twice is not an error.
pub async fn completed_answers_completed<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:completed");
    let lease = acquire(store, &key, LONG).await;
    store.complete(&lease).await.unwrap();
    completed(store, &key).await;
    store.complete(&lease).await.unwrap();
    completed(store, &key).await;
    // Its own release after the completion is refused, and changes nothing.
    assert_lost(store.release(&lease).await, OWN);
    completed(store, &key).await;
}

/// A released key is claimed again at once, with a new token; the old
/// lease can neither release nor complete the new one.
pub async fn release_frees_the_key<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:release");
    let first = acquire(store, &key, LONG).await;
    store.release(&first).await.unwrap();
    // Released twice: the key is free, which is no error.
    store.release(&first).await.unwrap();
    let second = acquire(store, &key, LONG).await;
    assert_ne!(second.token(), first.token());
    assert_lost(store.release(&first).await, HOLDS);
    assert_lost(store.complete(&first).await, HOLDS);
    in_progress(store, &key).await;
    store.complete(&second).await.unwrap();
    assert_lost(store.release(&first).await, COMPLETED);
    assert_lost(store.complete(&first).await, COMPLETED);
    completed(store, &key).await;

    // With the work's error, the same: free at once, fenced alike.
    let key = format!("{prefix}:release-with-error");
    let failed = acquire(store, &key, LONG).await;
    store
        .release_with_error(&failed, "the work failed\nwith a second line")
        .await
        .unwrap();
    let again = acquire(store, &key, LONG).await;
    assert_lost(store.release_with_error(&failed, "late").await, HOLDS);
    store.complete(&again).await.unwrap();
    assert_lost(store.release_with_error(&again, "after").await, OWN);
    completed(store, &key).await;
}

/// A completion after the lease ran out, when nobody claimed the key
/// since, is recorded; an expired lease leaves the key free.
pub async fn late_completion_is_recorded<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:late");
    let lease = acquire(store, &key, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    store.complete(&lease).await.unwrap();
    completed(store, &key).await;

    let key = format!("{prefix}:expired");
    let abandoned = acquire(store, &key, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    let next = acquire(store, &key, LONG).await;
    assert_ne!(next.token(), abandoned.token());
    // A release of a key nobody holds is no error either.
    let key = format!("{prefix}:expired-release");
    let lapsed = acquire(store, &key, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    store.release(&lapsed).await.unwrap();
    acquire(store, &key, LONG).await;
    store.complete(&next).await.unwrap();
}

/// A stale lease changes nothing once another claim holds or completed
/// the key, and its error says which.
pub async fn lease_lost_names_holder_or_completion<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:stale");
    let stale = acquire(store, &key, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    let holder = acquire(store, &key, LONG).await;
    assert_lost(store.complete(&stale).await, HOLDS);
    assert_lost(store.release(&stale).await, HOLDS);
    // Still the holder's, its lease running.
    let left = in_progress(store, &key).await;
    assert!(left > LONG - Duration::from_secs(10), "{left:?}");
    store.complete(&holder).await.unwrap();
    assert_lost(store.complete(&stale).await, COMPLETED);
    assert_lost(store.release(&stale).await, COMPLETED);
    completed(store, &key).await;
}

/// `extend` moves the expiry (and the lease's deadline), by the store's
/// clock, and is fenced like `complete`.
pub async fn extend_moves_the_expiry_and_is_fenced<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:extend");
    let mut lease = acquire(store, &key, SHORT).await;
    let before = lease.deadline();
    store.extend(&mut lease, LONG).await.unwrap();
    assert_eq!(lease.duration(), LONG);
    assert!(lease.deadline() > before + Duration::from_secs(20));
    tokio::time::sleep(PAST_SHORT).await;
    // Past the first lease, still held, with the new lease's time left.
    let left = in_progress(store, &key).await;
    assert!(
        left > LONG - Duration::from_secs(10) && left <= LONG,
        "{left:?}"
    );
    store.complete(&lease).await.unwrap();
    // Its own completed key cannot be extended back into progress.
    let err = store.extend(&mut lease, LONG).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::LeaseLost);
    assert!(err.to_string().contains(OWN), "{err}");
    completed(store, &key).await;

    // An expired lease that nobody claimed since is taken up again.
    let key = format!("{prefix}:extend-lapsed");
    let mut lapsed = acquire(store, &key, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    store.extend(&mut lapsed, LONG).await.unwrap();
    in_progress(store, &key).await;

    // One that another claim took over is refused, and changes nothing.
    let key = format!("{prefix}:extend-stale");
    let mut stale = acquire(store, &key, SHORT).await;
    tokio::time::sleep(PAST_SHORT).await;
    let holder = acquire(store, &key, LONG).await;
    let deadline = stale.deadline();
    let err = store.extend(&mut stale, LONG).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::LeaseLost);
    assert!(err.to_string().contains(HOLDS), "{err}");
    assert_eq!(stale.deadline(), deadline);
    store.complete(&holder).await.unwrap();
    let err = store.extend(&mut stale, LONG).await.unwrap_err();
    assert!(err.to_string().contains(COMPLETED), "{err}");
    store.complete(&lapsed).await.unwrap();
}

/// `Duration::MAX` as a lease (and as an extension) is capped to
/// `Lease::MAX`, never a failure. (Retention: see `longest_retention`.)
pub async fn longest_durations_are_capped<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:max");
    let mut lease = acquire(store, &key, Duration::MAX).await;
    assert_eq!(lease.duration(), Lease::MAX);
    let left = in_progress(store, &key).await;
    assert!(left <= Lease::MAX, "{left:?}");
    assert!(left > Lease::MAX - Duration::from_secs(60), "{left:?}");
    store.extend(&mut lease, Duration::MAX).await.unwrap();
    assert_eq!(lease.duration(), Lease::MAX);
    store.complete(&lease).await.unwrap();
    completed(store, &key).await;
    // The shortest lease is one millisecond, never zero.
    let key = format!("{prefix}:zero");
    let lease = acquire(store, &key, Duration::ZERO).await;
    assert_eq!(lease.duration(), Lease::MIN);
}

/// A store whose retention was set to `Duration::MAX` completes keys (the
/// retention is capped, not refused).
pub async fn longest_retention<S: Store>(store: &S, prefix: &str) {
    let key = format!("{prefix}:max-retention");
    let lease = acquire(store, &key, LONG).await;
    store.complete(&lease).await.unwrap();
    completed(store, &key).await;
}

/// Of many claims at once on one key, exactly one acquires.
pub async fn exactly_one_concurrent_claim_acquires<S: Store + 'static>(
    store: Arc<S>,
    prefix: &str,
) {
    for round in 0..3 {
        let key = format!("{prefix}:race-{round}");
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..32 {
            let store = Arc::clone(&store);
            let key = key.clone();
            tasks.spawn(async move { store.claim(&key, LONG).await.unwrap() });
        }
        let (mut acquired, mut waiting) = (Vec::new(), 0);
        while let Some(claim) = tasks.join_next().await {
            match claim.unwrap() {
                Claim::Acquired(lease) => acquired.push(lease),
                Claim::InProgress { retry_after } => {
                    assert!(retry_after <= LONG, "{retry_after:?}");
                    waiting += 1;
                }
                Claim::Completed => panic!("nothing completed this key"),
            }
        }
        assert_eq!(acquired.len(), 1, "round {round}");
        assert_eq!(waiting, 31, "round {round}");
        store.complete(&acquired[0]).await.unwrap();
    }
}

/// How long `f` took, for the fail-fast checks.
pub async fn timed<F: std::future::Future>(f: F) -> (F::Output, Duration) {
    let started = Instant::now();
    let out = f.await;
    (out, started.elapsed())
}
