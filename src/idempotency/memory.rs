//! An in-process store: one `Mutex` around a map and two expiry indexes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::{Future, ready};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::token::Token;
use super::{Claim, Lease, LostTo, Store, StoreError, StoreErrorKind, cap_retention};

/// What one record costs besides its key's bytes, as counted against
/// [`MemoryStore::with_max_bytes`]: the map slot, the shared key's header,
/// one index entry and the 32-byte token.
const RECORD_OVERHEAD: usize = 128;

/// How many expired records each call removes at most, besides those it
/// must remove to make room: expiry costs a few removals per call, never a
/// sweep of the whole store.
const EXPIRE_PER_CALL: usize = 4;

/// An idempotency [`Store`] in this process's memory.
///
/// Use it when one process receives the webhooks; when several share the
/// load, use a shared store (`RedisStore`, feature `redis`).
///
/// - Bounded in records ([`MemoryStore::new`]'s `capacity`) and in bytes
///   ([`MemoryStore::with_max_bytes`]). Each key is stored once, and is
///   at most [`MemoryStore::MAX_KEY_LEN`] bytes long (the crate's keys are
///   at most 140).
/// - Completed keys answer [`Claim::Completed`] for the `retention` given
///   to [`MemoryStore::new`]. Choose it longer than the vendors' retry
///   horizon: neither documents one, so a day or more.
/// - Expiry is amortised: each call removes a few expired records, so no
///   call holds the lock for work proportional to the whole store.
/// - When full of keys still within their retention, it refuses a new
///   claim with [`StoreErrorKind::Full`] (so `503`, and the vendor retries
///   later) rather than forget a completed key, which would let its
///   resend do the work again. Size `capacity` for the deliveries of one
///   retention period. [`MemoryStore::forget_oldest_when_full`] chooses
///   the other way: the oldest completed keys are forgotten first, and
///   counted ([`MemoryStore::early_forgets`]). A lease in progress is
///   never dropped.
/// - Its `Debug` shows counts, not keys.
///
/// Its futures are ready at once: it needs no async runtime.
///
/// ```
/// use std::time::Duration;
/// use utility_webhooks::idempotency::{Claim, MemoryStore, Store};
///
/// /// Its futures are ready at once: one poll, no runtime.
/// fn block_on<F: std::future::Future>(f: F) -> F::Output {
///     let mut f = std::pin::pin!(f);
///     let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
///     loop {
///         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
///             return v;
///         }
///     }
/// }
///
/// let store = MemoryStore::new(10_000, Duration::from_secs(24 * 3600));
/// let Claim::Acquired(lease) = block_on(store.claim("smartcomply:evt_1", Duration::from_secs(30)))?
/// else {
///     unreachable!("a fresh key is free");
/// };
/// // A retry while the work runs must not be acknowledged:
/// let retry = block_on(store.claim("smartcomply:evt_1", Duration::from_secs(30)))?;
/// assert!(matches!(retry, Claim::InProgress { .. }));
///
/// block_on(store.complete(&lease))?;
/// let late = block_on(store.claim("smartcomply:evt_1", Duration::from_secs(30)))?;
/// assert_eq!(late, Claim::Completed);
/// # Ok::<(), utility_webhooks::idempotency::StoreError>(())
/// ```
pub struct MemoryStore {
    capacity: usize,
    max_bytes: usize,
    retention: Duration,
    /// Whether a full store forgets its oldest completed keys rather than
    /// refuse a new claim.
    forget_when_full: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    records: HashMap<Arc<str>, Record>,
    /// Leases in progress, by expiry.
    leases: BTreeMap<Slot, Arc<str>>,
    /// Completed keys, by expiry (so also by completion: the retention is
    /// the same for all).
    completed: BTreeMap<Slot, Arc<str>>,
    /// Key bytes plus [`RECORD_OVERHEAD`] per record.
    bytes: usize,
    next_seq: u64,
    early_forgets: u64,
}

/// A record's place in an expiry index: its expiry, then a sequence number
/// that makes it unique.
type Slot = (Instant, u64);

struct Record {
    token: Token,
    slot: Slot,
    completed: bool,
}

impl MemoryStore {
    /// The longest key the store takes, in bytes; a longer one is refused
    /// ([`StoreErrorKind::Full`]). The crate's keys are at most 140 bytes
    /// (see [`idempotency`](super)'s "Keys"), so only a key made by hand
    /// can be longer.
    pub const MAX_KEY_LEN: usize = 256;

    /// A store that holds at most `capacity` records (at least one), and
    /// remembers completed keys for `retention`.
    ///
    /// Its byte bound is `capacity` × 256 bytes (keys plus a fixed cost per
    /// record); set another with [`MemoryStore::with_max_bytes`].
    pub fn new(capacity: usize, retention: Duration) -> Self {
        let capacity = capacity.max(1);
        MemoryStore {
            capacity,
            max_bytes: capacity.saturating_mul(256),
            retention: cap_retention(retention),
            forget_when_full: false,
            state: Mutex::new(State::default()),
        }
    }

    /// Bound the memory the records take to about `max_bytes`: each record
    /// counts its key's length plus 128 bytes.
    pub fn with_max_bytes(mut self, max_bytes: usize) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// When full, forget the oldest completed keys (before their retention
    /// ends) to make room for a new claim, instead of refusing it. Each
    /// key forgotten so can let a duplicate delivery through, and is
    /// counted by [`MemoryStore::early_forgets`]: choose it when answering
    /// every delivery matters more than doing its work only once.
    pub fn forget_oldest_when_full(mut self) -> Self {
        self.forget_when_full = true;
        self
    }

    /// How many records the store holds: leases in progress and completed
    /// keys, expired ones included until they are removed.
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many completed keys were forgotten before their retention ended
    /// to make room ([`MemoryStore::forget_oldest_when_full`]; always 0
    /// without it). Each one can let a duplicate delivery through: if
    /// this grows, raise the capacity.
    pub fn early_forgets(&self) -> u64 {
        self.lock().early_forgets
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every change to the state is whole before the next can panic, so
        // a poisoned lock holds nothing to repair.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn claim_at(&self, key: &str, duration: Duration, now: Instant) -> Result<Claim, StoreError> {
        if key.len() > Self::MAX_KEY_LEN {
            return Err(StoreError::new(
                StoreErrorKind::Full,
                "the key is longer than MemoryStore::MAX_KEY_LEN (256 bytes)",
            ));
        }
        let mut state = self.lock();
        state.expire(now, EXPIRE_PER_CALL);
        if let Some(record) = state.live(key, now) {
            let expires = record.slot.0;
            return Ok(if record.completed {
                Claim::Completed
            } else {
                Claim::InProgress {
                    retry_after: expires - now,
                }
            });
        }
        let lease = Lease::new(key, duration);
        let slot = state.slot(now, lease.duration());
        self.put(&mut state, &lease, slot, false, now)?;
        Ok(Claim::Acquired(lease))
    }

    /// Record `lease`'s key as held by it (or completed by it) until
    /// `slot`, in place of any record the key had, making room as
    /// [`MemoryStore`] says.
    fn put(
        &self,
        state: &mut State,
        lease: &Lease,
        slot: Slot,
        completed: bool,
        now: Instant,
    ) -> Result<(), StoreError> {
        let State {
            records,
            leases,
            completed: done,
            ..
        } = state;
        if let Some(record) = records.get_mut(lease.key()) {
            // The key is stored already: move its index entry.
            let (from, to) = match (record.completed, completed) {
                (false, false) => (&mut *leases, None),
                (false, true) => (&mut *leases, Some(&mut *done)),
                (true, false) => (&mut *done, Some(&mut *leases)),
                (true, true) => (&mut *done, None),
            };
            if let Some(key) = from.remove(&record.slot) {
                to.unwrap_or(from).insert(slot, key);
            }
            record.token = *lease.token_bytes();
            record.slot = slot;
            record.completed = completed;
            return Ok(());
        }
        let need = lease.key().len().saturating_add(RECORD_OVERHEAD);
        if need > self.max_bytes {
            return Err(StoreError::new(
                StoreErrorKind::Full,
                "the key is longer than the store's byte bound",
            ));
        }
        while state.records.len() >= self.capacity
            || state.bytes.saturating_add(need) > self.max_bytes
        {
            if state.expire(now, 1) > 0 {
                continue;
            }
            if state.completed.is_empty() {
                return Err(StoreError::new(
                    StoreErrorKind::Full,
                    "every record is a lease in progress",
                ));
            }
            if !self.forget_when_full {
                return Err(StoreError::new(
                    StoreErrorKind::Full,
                    "full of keys within their retention",
                ));
            }
            state.forget_oldest_completed();
        }
        let key = Arc::clone(lease.shared_key());
        let index = if completed {
            &mut state.completed
        } else {
            &mut state.leases
        };
        index.insert(slot, Arc::clone(&key));
        state.bytes += need;
        state.records.insert(
            key,
            Record {
                token: *lease.token_bytes(),
                slot,
                completed,
            },
        );
        Ok(())
    }

    /// Whether `lease` may act on its key now: `Ok` when the key's live
    /// record is this lease's own lease in progress, or when nobody holds
    /// it (its record expired or is gone).
    fn may_act(state: &State, lease: &Lease, now: Instant) -> Result<(), StoreError> {
        match state.live(lease.key(), now) {
            None => Ok(()),
            Some(r) if r.completed && r.token == *lease.token_bytes() => {
                Err(StoreError::lease_lost(LostTo::OwnCompletion))
            }
            Some(r) if r.completed => Err(StoreError::lease_lost(LostTo::Completion)),
            Some(r) if r.token == *lease.token_bytes() => Ok(()),
            Some(_) => Err(StoreError::lease_lost(LostTo::Holder)),
        }
    }

    fn complete_at(&self, lease: &Lease, now: Instant) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.expire(now, EXPIRE_PER_CALL);
        match Self::may_act(&state, lease, now) {
            // Completing twice is not an error.
            Err(e) if e.lost_to() == Some(LostTo::OwnCompletion) => return Ok(()),
            other => other?,
        }
        let slot = state.slot(now, self.retention);
        self.put(&mut state, lease, slot, true, now)
    }

    fn release_at(&self, lease: &Lease, now: Instant) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.expire(now, EXPIRE_PER_CALL);
        Self::may_act(&state, lease, now)?;
        state.remove(lease.key());
        Ok(())
    }

    fn extend_at(
        &self,
        lease: &mut Lease,
        duration: Duration,
        now: Instant,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.expire(now, EXPIRE_PER_CALL);
        Self::may_act(&state, lease, now)?;
        let duration = Lease::cap(duration);
        let slot = state.slot(now, duration);
        self.put(&mut state, lease, slot, false, now)?;
        lease.extended(now, duration);
        Ok(())
    }
}

fn next_slot(next_seq: &mut u64, now: Instant, after: Duration) -> Slot {
    let seq = *next_seq;
    *next_seq = seq.wrapping_add(1);
    // A retention too long for the clock never expires in practice.
    let at = now
        .checked_add(after)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now);
    (at, seq)
}

impl State {
    fn slot(&mut self, now: Instant, after: Duration) -> Slot {
        next_slot(&mut self.next_seq, now, after)
    }

    /// `key`'s record, unless it expired by `now`.
    fn live(&self, key: &str, now: Instant) -> Option<&Record> {
        self.records.get(key).filter(|r| r.slot.0 > now)
    }

    /// Remove up to `limit` expired records, the earliest first; returns
    /// how many.
    fn expire(&mut self, now: Instant, limit: usize) -> usize {
        let mut removed = 0;
        while removed < limit {
            let lease = self.leases.first_key_value().map(|(s, _)| *s);
            let done = self.completed.first_key_value().map(|(s, _)| *s);
            let earliest = match (lease, done) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            if earliest.0 > now {
                break;
            }
            let index = if Some(earliest) == lease {
                &mut self.leases
            } else {
                &mut self.completed
            };
            if let Some(key) = index.remove(&earliest) {
                self.drop_record(&key);
            }
            removed += 1;
        }
        removed
    }

    /// Forget the completed key that expires first; `false` if there is
    /// none.
    fn forget_oldest_completed(&mut self) -> bool {
        match self.completed.pop_first() {
            Some((_, key)) => {
                self.drop_record(&key);
                self.early_forgets += 1;
                true
            }
            None => false,
        }
    }

    /// Remove `key`'s record and its index entry.
    fn remove(&mut self, key: &str) {
        if let Some(record) = self.records.get(key) {
            let index = if record.completed {
                &mut self.completed
            } else {
                &mut self.leases
            };
            index.remove(&record.slot);
            self.drop_record(key);
        }
    }

    /// Remove `key`'s record, whose index entry is already gone.
    fn drop_record(&mut self, key: &str) {
        if let Some((key, _)) = self.records.remove_entry(key) {
            self.bytes -= key.len() + RECORD_OVERHEAD;
        }
    }
}

impl Store for MemoryStore {
    fn claim(
        &self,
        key: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<Claim, StoreError>> + Send {
        ready(self.claim_at(key, lease, Instant::now()))
    }

    fn complete(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.complete_at(lease, Instant::now()))
    }

    fn release(&self, lease: &Lease) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.release_at(lease, Instant::now()))
    }

    fn extend(
        &self,
        lease: &mut Lease,
        duration: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        ready(self.extend_at(lease, duration, Instant::now()))
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryStore")
            .field("in_progress", &state.leases.len())
            .field("completed", &state.completed.len())
            .field("bytes", &state.bytes)
            .field("early_forgets", &state.early_forgets)
            .field("capacity", &self.capacity)
            .field("max_bytes", &self.max_bytes)
            .field("retention", &self.retention)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(24 * 3600);
    const SEC: Duration = Duration::from_secs(1);

    fn acquired(claim: Result<Claim, StoreError>) -> Lease {
        match claim {
            Ok(Claim::Acquired(lease)) => lease,
            other => panic!("expected Acquired, got {other:?}"),
        }
    }

    impl MemoryStore {
        /// Claim `key` at `at` and complete it at once.
        fn done_at(&self, key: &str, at: Instant) {
            let lease = acquired(self.claim_at(key, SEC, at));
            self.complete_at(&lease, at).unwrap();
        }

        /// Checks the indexes and the byte count against the records.
        fn check(&self) {
            let state = self.lock();
            let mut bytes = 0;
            for (key, record) in &state.records {
                bytes += key.len() + RECORD_OVERHEAD;
                let index = if record.completed {
                    &state.completed
                } else {
                    &state.leases
                };
                assert_eq!(index.get(&record.slot).map(|k| &**k), Some(&**key));
            }
            assert_eq!(
                state.leases.len() + state.completed.len(),
                state.records.len()
            );
            assert_eq!(state.bytes, bytes);
            assert!(state.records.len() <= self.capacity);
            assert!(state.bytes <= self.max_bytes);
        }
    }

    #[test]
    fn claim_complete_and_release_follow_the_lease() {
        let store = MemoryStore::new(10, DAY);
        let t = Instant::now();
        let lease = acquired(store.claim_at("a", 10 * SEC, t));
        assert_eq!(
            store.claim_at("a", 10 * SEC, t + 4 * SEC),
            Ok(Claim::InProgress {
                retry_after: 6 * SEC
            })
        );
        store.release_at(&lease, t + 5 * SEC).unwrap();
        // Released: free again, and the old lease can no longer act.
        let second = acquired(store.claim_at("a", 10 * SEC, t + 5 * SEC));
        assert_ne!(second.token(), lease.token());
        let lost = store.complete_at(&lease, t + 6 * SEC).unwrap_err();
        assert_eq!(lost.kind(), StoreErrorKind::LeaseLost);
        store.complete_at(&second, t + 6 * SEC).unwrap();
        // Completing twice is not an error; releasing after it is refused.
        store.complete_at(&second, t + 7 * SEC).unwrap();
        assert_eq!(
            store.release_at(&second, t + 7 * SEC).unwrap_err().kind(),
            StoreErrorKind::LeaseLost
        );
        assert_eq!(store.claim_at("a", SEC, t + 8 * SEC), Ok(Claim::Completed));
        store.check();
    }

    #[test]
    fn an_expired_lease_frees_the_key_and_loses_its_rights() {
        let store = MemoryStore::new(10, DAY);
        let t = Instant::now();
        let first = acquired(store.claim_at("a", 2 * SEC, t));
        let mut second = acquired(store.claim_at("a", 2 * SEC, t + 2 * SEC));
        for err in [
            store.complete_at(&first, t + 3 * SEC),
            store.release_at(&first, t + 3 * SEC),
        ] {
            let err = err.unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::LeaseLost);
            assert!(err.to_string().contains("another claim holds"), "{err}");
        }
        store.extend_at(&mut second, 10 * SEC, t + 3 * SEC).unwrap();
        // The second holder is unaffected, and the first now learns that
        // the key was completed by another claim.
        store.complete_at(&second, t + 3 * SEC).unwrap();
        let err = store.complete_at(&first, t + 4 * SEC).unwrap_err();
        assert!(err.to_string().contains("another claim completed"), "{err}");
        store.check();
    }

    #[test]
    fn a_late_complete_that_nobody_overtook_is_recorded() {
        let store = MemoryStore::new(10, DAY);
        let t = Instant::now();
        // Its record expired, but is still there.
        let lease = acquired(store.claim_at("b", SEC, t));
        store.complete_at(&lease, t + 5 * SEC).unwrap();
        assert_eq!(store.claim_at("b", SEC, t + 6 * SEC), Ok(Claim::Completed));
        // Its record expired and was removed to make room; the store is
        // full of a completed key: refused, and that key kept.
        let store = MemoryStore::new(1, DAY);
        let lease = acquired(store.claim_at("c", SEC, t));
        let other = acquired(store.claim_at("d", SEC, t + 2 * SEC));
        assert_eq!(store.len(), 1);
        store.complete_at(&other, t + 2 * SEC).unwrap();
        let full = store.complete_at(&lease, t + 3 * SEC).unwrap_err();
        assert_eq!(full.kind(), StoreErrorKind::Full);
        assert_eq!(store.claim_at("d", SEC, t + 4 * SEC), Ok(Claim::Completed));
        store.check();
        // Forgetting when full, the oldest completed key makes room.
        let store = MemoryStore::new(1, DAY).forget_oldest_when_full();
        let lease = acquired(store.claim_at("c", SEC, t));
        store.done_at("d", t + 2 * SEC);
        store.complete_at(&lease, t + 3 * SEC).unwrap();
        assert_eq!(store.claim_at("c", SEC, t + 4 * SEC), Ok(Claim::Completed));
        assert_eq!(store.early_forgets(), 1);
        store.check();
    }

    #[test]
    fn extend_moves_the_deadline_and_is_fenced() {
        let store = MemoryStore::new(10, DAY);
        let t = Instant::now();
        let mut lease = acquired(store.claim_at("a", 2 * SEC, t));
        store.extend_at(&mut lease, 10 * SEC, t + SEC).unwrap();
        assert_eq!(lease.deadline(), t + 11 * SEC);
        assert_eq!(lease.duration(), 10 * SEC);
        assert_eq!(
            store.claim_at("a", SEC, t + 5 * SEC),
            Ok(Claim::InProgress {
                retry_after: 6 * SEC
            })
        );
        // Expired, nobody claimed since: taken up again.
        store.extend_at(&mut lease, 2 * SEC, t + 20 * SEC).unwrap();
        assert!(matches!(
            store.claim_at("a", SEC, t + 21 * SEC),
            Ok(Claim::InProgress { .. })
        ));
        // Overtaken: refused, and the new holder keeps the key.
        let other = acquired(store.claim_at("a", SEC, t + 22 * SEC));
        let err = store
            .extend_at(&mut lease, 9 * SEC, t + 22 * SEC)
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::LeaseLost);
        store.release_at(&other, t + 22 * SEC).unwrap();
        // A lease of any length is capped, never refused.
        let mut long = acquired(store.claim_at("b", SEC, t));
        store.extend_at(&mut long, Duration::MAX, t).unwrap();
        assert_eq!(long.duration(), Lease::MAX);
        store.check();
    }

    #[test]
    fn any_retention_is_capped() {
        let store = MemoryStore::new(10, Duration::MAX);
        assert_eq!(store.retention, crate::idempotency::MAX_RETENTION);
        let t = Instant::now();
        let lease = acquired(store.claim_at("a", Duration::MAX, t));
        assert_eq!(lease.duration(), Lease::MAX);
        store.complete_at(&lease, t).unwrap();
        assert_eq!(
            store.claim_at("a", SEC, t + 365 * DAY),
            Ok(Claim::Completed)
        );
        acquired(store.claim_at("a", SEC, t + 366 * DAY));
        store.check();
    }

    #[test]
    fn completed_keys_are_kept_for_the_retention_then_expire() {
        let store = MemoryStore::new(10, 60 * SEC);
        let t = Instant::now();
        store.done_at("a", t);
        assert_eq!(store.claim_at("a", SEC, t + 59 * SEC), Ok(Claim::Completed));
        acquired(store.claim_at("a", SEC, t + 60 * SEC));
        store.check();
    }

    #[test]
    fn when_full_new_claims_are_refused_and_completed_keys_kept() {
        // As the examples build it, at a smaller scale: every completed
        // key within its retention stays completed, however many fresh
        // keys come.
        let store = MemoryStore::new(1000, DAY);
        let t = Instant::now();
        store.done_at("smartcomply:evt_done", t);
        for i in 1..1000 {
            store.done_at(&format!("smarterwx:u-{i}"), t);
        }
        for i in 0..100 {
            let fresh = store.claim_at(&format!("smarterwx:v-{i}"), SEC, t + SEC);
            assert_eq!(fresh.unwrap_err().kind(), StoreErrorKind::Full);
        }
        let again = store.claim_at("smartcomply:evt_done", SEC, t + SEC);
        assert_eq!(again, Ok(Claim::Completed));
        assert_eq!(store.early_forgets(), 0);
        // Past the retention, room again.
        acquired(store.claim_at("smarterwx:v-0", SEC, t + DAY));
        store.check();
    }

    #[test]
    fn keys_past_the_cap_are_refused_and_force_nothing_out() {
        let store = MemoryStore::new(100, DAY).with_max_bytes(64 << 20);
        let t = Instant::now();
        store.done_at("smartcomply:evt_done", t);
        let longest = "k".repeat(MemoryStore::MAX_KEY_LEN);
        acquired(store.claim_at(&longest, SEC, t));
        for i in 0..20 {
            let huge = format!("{i}{}", "k".repeat(1 << 20));
            let err = store.claim_at(&huge, SEC, t).unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Full);
            assert!(!err.to_string().contains("kkkk"), "{err}");
        }
        assert_eq!(store.len(), 2);
        let again = store.claim_at("smartcomply:evt_done", SEC, t);
        assert_eq!(again, Ok(Claim::Completed));
        store.check();
    }

    #[test]
    fn when_full_the_oldest_completed_go_first_and_are_counted() {
        let store = MemoryStore::new(3, DAY).forget_oldest_when_full();
        let t = Instant::now();
        for (i, key) in ["a", "b"].into_iter().enumerate() {
            let lease = acquired(store.claim_at(key, SEC, t + i as u32 * SEC));
            store.complete_at(&lease, t + i as u32 * SEC).unwrap();
        }
        let _held = acquired(store.claim_at("c", 60 * SEC, t));
        acquired(store.claim_at("d", 60 * SEC, t + 2 * SEC));
        assert_eq!(store.early_forgets(), 1);
        // "a" was completed first and is forgotten; "b" is still known.
        assert_eq!(store.claim_at("b", SEC, t + 2 * SEC), Ok(Claim::Completed));
        acquired(store.claim_at("e", 60 * SEC, t + 2 * SEC));
        assert_eq!(store.early_forgets(), 2);
        // Now every record is a lease in progress: refuse, drop none.
        let full = store.claim_at("f", SEC, t + 2 * SEC).unwrap_err();
        assert_eq!(full.kind(), StoreErrorKind::Full);
        assert_eq!(store.len(), 3);
        store.check();
    }

    #[test]
    fn expired_records_make_room_before_completed_ones_are_forgotten() {
        let store = MemoryStore::new(2, 10 * SEC);
        let t = Instant::now();
        let a = acquired(store.claim_at("a", SEC, t));
        store.complete_at(&a, t).unwrap();
        let _b = acquired(store.claim_at("b", SEC, t)); // expires unused
        acquired(store.claim_at("c", SEC, t + 2 * SEC));
        assert_eq!(store.early_forgets(), 0);
        assert_eq!(store.claim_at("a", SEC, t + 2 * SEC), Ok(Claim::Completed));
        store.check();
    }

    #[test]
    fn the_byte_bound_holds_and_keys_too_long_are_refused() {
        let store = MemoryStore::new(1000, DAY).with_max_bytes(3 * (RECORD_OVERHEAD + 10));
        let t = Instant::now();
        for i in 0..3 {
            acquired(store.claim_at(&format!("key-{i:06}"), 60 * SEC, t));
        }
        let full = store.claim_at("key-000003", SEC, t).unwrap_err();
        assert_eq!(full.kind(), StoreErrorKind::Full);
        let huge = "k".repeat(200);
        let err = store.claim_at(&huge, SEC, t).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Full);
        assert!(!err.to_string().contains("kkkk"));
        store.check();
    }

    #[test]
    fn expiry_is_amortised() {
        let store = MemoryStore::new(100_000, SEC);
        let t = Instant::now();
        for i in 0..10_000 {
            store.done_at(&format!("evt_{i}"), t);
        }
        // Everything has expired; one call removes only a few.
        let later = t + 2 * SEC;
        acquired(store.claim_at("new", SEC, later));
        let left = store.len();
        assert!(left >= 10_001 - EXPIRE_PER_CALL, "{left}");
        store.check();
    }

    #[test]
    fn debug_shows_counts_not_keys() {
        let store = MemoryStore::new(10, DAY);
        let lease = acquired(store.claim_at("smartcomply:evt_private", SEC, Instant::now()));
        let shown = format!("{store:?}");
        assert!(!shown.contains("evt_private"), "{shown}");
        assert!(shown.contains("in_progress: 1"), "{shown}");
        drop(lease);
    }

    #[test]
    fn a_clock_going_backwards_does_not_panic() {
        let store = MemoryStore::new(4, SEC);
        let t = Instant::now() + 100 * SEC;
        let lease = acquired(store.claim_at("a", SEC, t));
        store.complete_at(&lease, t - 50 * SEC).unwrap();
        assert_eq!(store.claim_at("a", SEC, t - 60 * SEC), Ok(Claim::Completed));
        store.check();
    }

    #[test]
    fn threads_racing_for_one_key_acquire_it_once() {
        let store = Arc::new(MemoryStore::new(10_000, DAY));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    (0..500)
                        .filter(|i| {
                            let key = format!("evt_{i}");
                            matches!(
                                store.claim_at(&key, 60 * SEC, Instant::now()),
                                Ok(Claim::Acquired(_))
                            )
                        })
                        .count()
                })
            })
            .collect();
        let acquired: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(acquired, 500);
        store.check();
    }

    mod model {
        //! Random claim/complete/release/expire sequences against a plain
        //! reference model that scans everything and never forgets early.

        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            Claim { key: u8, lease_ms: u64 },
            Complete { lease: usize },
            Release { lease: usize },
            Extend { lease: usize, ms: u64 },
            Wait { ms: u64 },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (0u8..6, 1u64..400).prop_map(|(key, lease_ms)| Op::Claim { key, lease_ms }),
                3 => any::<usize>().prop_map(|lease| Op::Complete { lease }),
                2 => any::<usize>().prop_map(|lease| Op::Release { lease }),
                2 => (any::<usize>(), 1u64..400).prop_map(|(lease, ms)| Op::Extend { lease, ms }),
                2 => (0u64..500).prop_map(|ms| Op::Wait { ms }),
            ]
        }

        #[derive(Debug, Clone, PartialEq)]
        enum State {
            Held { token: String, until: Instant },
            Done { until: Instant },
        }

        /// The reference: a map from key to state, expiry by comparison.
        #[derive(Default)]
        struct Model {
            keys: HashMap<String, State>,
        }

        impl Model {
            fn live(&self, key: &str, now: Instant) -> Option<&State> {
                self.keys.get(key).filter(|s| match s {
                    State::Held { until, .. } | State::Done { until } => *until > now,
                })
            }

            /// `None`: the lease may act (its own lease, or nobody's);
            /// `Some(true)`: completed; `Some(false)`: another holds it.
            fn blocked(&self, lease: &Lease, now: Instant) -> Option<bool> {
                match self.live(lease.key(), now)? {
                    State::Held { token, .. } if token == lease.token() => None,
                    State::Done { .. } => Some(true),
                    State::Held { .. } => Some(false),
                }
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn memory_store_matches_the_model(
                ops in proptest::collection::vec(op(), 1..120),
                retention_ms in 1u64..1500,
            ) {
                let retention = Duration::from_millis(retention_ms);
                // Room for every key: the model never forgets early.
                let store = MemoryStore::new(6, retention);
                let mut model = Model::default();
                let mut now = Instant::now();
                let mut leases: Vec<Lease> = Vec::new();
                // Which token completed each key, for "complete twice".
                let mut completed_by: HashMap<String, String> = HashMap::new();

                for op in ops {
                    match op {
                        Op::Wait { ms } => now += Duration::from_millis(ms),
                        Op::Claim { key, lease_ms } => {
                            let key = format!("k{key}");
                            let lease = Duration::from_millis(lease_ms);
                            let got = store.claim_at(&key, lease, now).unwrap();
                            match (model.live(&key, now).cloned(), got) {
                                (None, Claim::Acquired(l)) => {
                                    model.keys.insert(key, State::Held {
                                        token: l.token().to_owned(),
                                        until: now + lease,
                                    });
                                    leases.push(l);
                                }
                                (Some(State::Held { until, .. }), Claim::InProgress { retry_after }) => {
                                    prop_assert_eq!(retry_after, until - now);
                                }
                                (Some(State::Done { .. }), Claim::Completed) => {}
                                (want, got) => prop_assert!(false, "claim: model {:?}, store {:?}", want, got),
                            }
                        }
                        Op::Complete { lease } if !leases.is_empty() => {
                            let lease = &leases[lease % leases.len()];
                            let got = store.complete_at(lease, now);
                            let mine = completed_by.get(lease.key()).map(String::as_str) == Some(lease.token());
                            match model.blocked(lease, now) {
                                None => {
                                    prop_assert!(got.is_ok(), "{:?}", got);
                                    model.keys.insert(lease.key().to_owned(), State::Done { until: now + retention });
                                    completed_by.insert(lease.key().to_owned(), lease.token().to_owned());
                                }
                                Some(true) if mine => prop_assert!(got.is_ok(), "{:?}", got),
                                _ => prop_assert_eq!(got.unwrap_err().kind(), StoreErrorKind::LeaseLost),
                            }
                        }
                        Op::Release { lease } if !leases.is_empty() => {
                            let lease = &leases[lease % leases.len()];
                            let got = store.release_at(lease, now);
                            if model.blocked(lease, now).is_none() {
                                prop_assert!(got.is_ok(), "{:?}", got);
                                model.keys.remove(lease.key());
                            } else {
                                prop_assert_eq!(got.unwrap_err().kind(), StoreErrorKind::LeaseLost);
                            }
                        }
                        Op::Extend { lease, ms } if !leases.is_empty() => {
                            let i = lease % leases.len();
                            let blocked = model.blocked(&leases[i], now);
                            let got = store.extend_at(&mut leases[i], Duration::from_millis(ms), now);
                            if blocked.is_none() {
                                prop_assert!(got.is_ok(), "{:?}", got);
                                model.keys.insert(leases[i].key().to_owned(), State::Held {
                                    token: leases[i].token().to_owned(),
                                    until: now + Duration::from_millis(ms),
                                });
                            } else {
                                prop_assert_eq!(got.unwrap_err().kind(), StoreErrorKind::LeaseLost);
                            }
                        }
                        Op::Complete { .. } | Op::Release { .. } | Op::Extend { .. } => {}
                    }
                    store.check();
                }
                prop_assert_eq!(store.early_forgets(), 0);
            }
        }
    }
}
