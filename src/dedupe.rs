//! Deduplicating deliveries.
//!
//! Both vendors retry a delivery until it is acknowledged, so a receiver
//! can see the same event twice: after a timeout, a lost answer, or a
//! deploy. Every delivery carries an id that stays the same across retries
//! (SmartComply's event `id`, SmarterWX's notification `uuid`): record it,
//! and skip the work for an id already seen.
//!
//! [`Deduplicator`] is the question "is this the first delivery of this
//! id?"; [`MemoryDeduplicator`] answers it in memory, bounded in size and
//! time, for a service that runs on one machine.
//!
//! ```
//! use std::time::Duration;
//! use utility_webhooks::dedupe::{Deduplicator, MemoryDeduplicator};
//!
//! let seen = MemoryDeduplicator::new(100_000, Duration::from_secs(24 * 3600));
//! assert!(seen.first_delivery("evt_8f3a2c1b6e9d4a07"));
//! assert!(!seen.first_delivery("evt_8f3a2c1b6e9d4a07")); // a retry
//! ```
//!
//! # Several machines
//!
//! When several instances receive webhooks, the memory of one does not
//! know what another processed: implement [`Deduplicator`] over a store
//! they share, with an atomic "insert if absent" and an expiry.
//!
//! - Redis: `SET webhook:<id> 1 NX EX <ttl seconds>` answers `OK` for the
//!   first delivery and nil for a repeat.
//! - PostgreSQL: a table `seen(id text primary key, at timestamptz)` and
//!   `INSERT INTO seen VALUES ($1, now()) ON CONFLICT DO NOTHING`; one row
//!   inserted means a first delivery. Delete old rows from time to time.
//!
//! If the store cannot be reached, returning `true` (process it) is the
//! usual choice when the work is idempotent; answering `5xx` so that the
//! vendor retries later is the other.
//!
//! Use one deduplicator per vendor, or prefix the ids (`smartcomply:`,
//! `smarterwx:`), so that the two vendors' ids never meet.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Answers "is this the first delivery of this id?", recording the id.
pub trait Deduplicator: Send + Sync {
    /// Record `id` as delivered. `true` the first time an id is seen (or
    /// once the implementation has forgotten it), `false` for a repeat.
    fn first_delivery(&self, id: &str) -> bool;
}

/// An in-memory [`Deduplicator`] that remembers at most `capacity` ids,
/// each for `ttl`.
///
/// When full, the oldest id is forgotten first. Choose a `ttl` longer than
/// the vendors' retry horizon (a day is ample) and a capacity above the
/// deliveries you expect in that time. Thread-safe: share one instance
/// (for example in an `Arc`) between handlers.
#[derive(Debug)]
pub struct MemoryDeduplicator {
    capacity: usize,
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When each remembered id was first seen.
    seen: HashMap<String, Instant>,
    /// The same ids in the order they were seen, oldest first.
    order: VecDeque<(Instant, String)>,
}

impl MemoryDeduplicator {
    /// Remember at most `capacity` ids (at least one), each for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        MemoryDeduplicator {
            capacity: capacity.max(1),
            ttl,
            state: Mutex::new(State::default()),
        }
    }

    /// How many ids are remembered now (expired ones included until the
    /// next call).
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// [`Deduplicator::first_delivery`] with an explicit clock.
    pub fn first_delivery_at(&self, id: &str, now: Instant) -> bool {
        let mut state = self.lock();
        state.forget_expired(now, self.ttl);
        if state.seen.contains_key(id) {
            return false;
        }
        while state.seen.len() >= self.capacity {
            state.forget_oldest();
        }
        state.seen.insert(id.to_owned(), now);
        state.order.push_back((now, id.to_owned()));
        true
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent after every statement that changes it, so
        // a panic elsewhere while the lock was held leaves nothing to repair.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn forget_expired(&mut self, now: Instant, ttl: Duration) {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < ttl {
                break;
            }
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((_, id)) = self.order.pop_front() {
            self.seen.remove(&id);
        }
    }
}

impl Deduplicator for MemoryDeduplicator {
    fn first_delivery(&self, id: &str) -> bool {
        self.first_delivery_at(id, Instant::now())
    }
}

impl<D: Deduplicator + ?Sized> Deduplicator for std::sync::Arc<D> {
    fn first_delivery(&self, id: &str) -> bool {
        (**self).first_delivery(id)
    }
}

impl<D: Deduplicator + ?Sized> Deduplicator for &D {
    fn first_delivery(&self, id: &str) -> bool {
        (**self).first_delivery(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn repeats_are_caught_until_they_expire() {
        let d = MemoryDeduplicator::new(10, TTL);
        let t0 = Instant::now();
        assert!(d.first_delivery_at("a", t0));
        assert!(!d.first_delivery_at("a", t0 + Duration::from_secs(59)));
        assert!(d.first_delivery_at("b", t0 + Duration::from_secs(30)));
        // "a" expires at t0+60, "b" is still remembered.
        assert!(d.first_delivery_at("a", t0 + TTL));
        assert!(!d.first_delivery_at("b", t0 + TTL));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn capacity_forgets_the_oldest_first() {
        let d = MemoryDeduplicator::new(2, TTL);
        let t = Instant::now();
        assert!(d.first_delivery_at("a", t));
        assert!(d.first_delivery_at("b", t));
        assert!(d.first_delivery_at("c", t));
        assert_eq!(d.len(), 2);
        assert!(!d.first_delivery_at("c", t));
        assert!(!d.first_delivery_at("b", t));
        assert!(d.first_delivery_at("a", t));
        let zero = MemoryDeduplicator::new(0, TTL);
        assert!(zero.first_delivery_at("x", t));
        assert!(!zero.first_delivery_at("x", t));
    }

    #[test]
    fn shared_between_threads_each_id_is_first_once() {
        let d = Arc::new(MemoryDeduplicator::new(10_000, TTL));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let d = Arc::clone(&d);
                std::thread::spawn(move || {
                    (0..1000)
                        .filter(|i| d.first_delivery(&format!("evt_{i}")))
                        .count()
                })
            })
            .collect();
        let firsts: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(firsts, 1000);
        assert!(!d.is_empty());
    }

    #[test]
    fn clock_going_backwards_does_not_panic() {
        let d = MemoryDeduplicator::new(4, TTL);
        let t = Instant::now() + Duration::from_secs(100);
        assert!(d.first_delivery_at("a", t));
        assert!(!d.first_delivery_at("a", t - Duration::from_secs(50)));
    }
}
