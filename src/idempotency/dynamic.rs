//! A dyn-compatible form of [`Store`], for an app that picks its store at
//! start-up.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{Claim, Lease, Store, StoreError};

/// A boxed `Send` future, as [`DynStore`] returns them.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Store`] with boxed futures, so that it can be a trait object:
/// `Arc<dyn DynStore>` is one concrete type for an app's state, whichever
/// store it holds, and is itself a [`Store`].
///
/// Every [`Store`] is a `DynStore`; there is nothing to implement. Each
/// call costs one allocation for its boxed future (see the benchmarks).
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use utility_webhooks::idempotency::{self, Answer, DynStore, MemoryStore};
///
/// /// The app's state: one type, whichever store it runs on.
/// #[derive(Clone)]
/// struct AppState {
///     store: Arc<dyn DynStore>,
/// }
///
/// async fn handle(state: &AppState, key: &str) -> u16 {
///     let lease = Duration::from_secs(10);
///     let ran = idempotency::run(&state.store, key, lease, |_| async { Ok::<_, &str>(()) }).await;
///     Answer::of(&ran).http_status()
/// }
///
/// // At start-up: Redis or PostgreSQL when configured, memory in tests.
/// let state = AppState {
///     store: Arc::new(MemoryStore::new(10_000, Duration::from_secs(24 * 3600))),
/// };
/// # let mut f = std::pin::pin!(handle(&state, "smartcomply:evt_1"));
/// # let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
/// # let status = loop {
/// #     if let std::task::Poll::Ready(s) = f.as_mut().poll(&mut cx) { break s; }
/// #     std::thread::yield_now();
/// # };
/// # assert_eq!(status, 204);
/// ```
pub trait DynStore: Send + Sync {
    /// [`Store::claim`], boxed.
    fn claim_boxed<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>>;

    /// [`Store::complete`], boxed.
    fn complete_boxed<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`Store::release`], boxed.
    fn release_boxed<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`Store::release_with_error`], boxed.
    fn release_with_error_boxed<'a>(
        &'a self,
        lease: &'a Lease,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`Store::extend`], boxed.
    fn extend_boxed<'a>(
        &'a self,
        lease: &'a mut Lease,
        duration: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
}

impl<S: Store> DynStore for S {
    fn claim_boxed<'a>(
        &'a self,
        key: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<Claim, StoreError>> {
        Box::pin(self.claim(key, lease))
    }

    fn complete_boxed<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.complete(lease))
    }

    fn release_boxed<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.release(lease))
    }

    fn release_with_error_boxed<'a>(
        &'a self,
        lease: &'a Lease,
        error: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.release_with_error(lease, error))
    }

    fn extend_boxed<'a>(
        &'a self,
        lease: &'a mut Lease,
        duration: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.extend(lease, duration))
    }
}

impl<'d> Store for dyn DynStore + 'd {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        self.claim_boxed(key, lease).await
    }

    async fn complete(&self, lease: &Lease) -> Result<(), StoreError> {
        self.complete_boxed(lease).await
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.release_boxed(lease).await
    }

    async fn release_with_error(&self, lease: &Lease, error: &str) -> Result<(), StoreError> {
        self.release_with_error_boxed(lease, error).await
    }

    async fn extend(&self, lease: &mut Lease, duration: Duration) -> Result<(), StoreError> {
        self.extend_boxed(lease, duration).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::{Answer, MemoryStore, Outcome, run};
    use std::sync::Arc;

    fn ready<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    /// Compiles only if `run` on a boxed store is `Send`, as an axum
    /// handler needs.
    #[allow(dead_code, clippy::manual_async_fn)]
    fn handlers_on_a_boxed_store_are_send(
        store: &Arc<dyn DynStore>,
    ) -> impl Future<Output = u16> + Send + '_ {
        async move {
            let work = |lease: Lease| async move { Ok::<_, String>(lease.token().len()) };
            let ran = run(store, "smartcomply:evt_1", Duration::from_secs(5), work).await;
            Answer::of(&ran).http_status()
        }
    }

    #[test]
    fn a_boxed_store_behaves_as_the_store_it_holds() {
        let memory = Arc::new(MemoryStore::new(10, Duration::from_secs(60)));
        let store: Arc<dyn DynStore> = memory.clone();
        let lease = Duration::from_secs(5);
        let Claim::Acquired(mut held) = ready(store.claim("k", lease)).unwrap() else {
            panic!("a fresh key is free");
        };
        assert!(matches!(
            ready(memory.claim("k", lease)).unwrap(),
            Claim::InProgress { .. }
        ));
        ready(store.extend(&mut held, Duration::from_secs(30))).unwrap();
        assert_eq!(held.duration(), Duration::from_secs(30));
        ready(store.complete(&held)).unwrap();
        assert_eq!(ready(memory.claim("k", lease)).unwrap(), Claim::Completed);
        let again = ready(run(&store, "k", lease, |_| async { Ok::<_, &str>(()) })).unwrap();
        assert!(matches!(again, Outcome::Completed));
        let Claim::Acquired(other) = ready(store.claim("j", lease)).unwrap() else {
            panic!("a fresh key is free");
        };
        ready(store.release(&other)).unwrap();
        assert!(memory.is_empty() || memory.len() == 1);
    }
}
