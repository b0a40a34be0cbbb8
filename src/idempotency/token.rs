//! Lease tokens: 128 bits, unique per claim across processes, without a
//! random-number crate.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A new token: 32 lowercase hex digits.
///
/// Two SipHash states with keys the standard library draws from the
/// operating system's random source, applied to a per-process counter, the
/// process id and the time the process first made a token. Uniqueness in
/// one process comes from the counter; across processes and machines, from
/// the 256 random key bits. Tokens are identifiers, not secrets.
pub(super) fn new() -> Box<str> {
    struct Seed {
        keys: [RandomState; 2],
        pid: u32,
        born: u128,
    }
    static SEED: OnceLock<Seed> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);

    let seed = SEED.get_or_init(|| Seed {
        keys: [RandomState::new(), RandomState::new()],
        pid: std::process::id(),
        born: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    });
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let half = |key: &RandomState| {
        let mut h = key.build_hasher();
        h.write_u64(count);
        h.write_u32(seed.pid);
        h.write_u128(seed.born);
        h.finish()
    };
    format!("{:016x}{:016x}", half(&seed.keys[0]), half(&seed.keys[1])).into()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn tokens_do_not_repeat() {
        let tokens: HashSet<_> = (0..10_000).map(|_| super::new()).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(tokens.iter().all(|t| t.len() == 32));
    }
}
