//! Lease tokens: 128 bits from the operating system's random source, drawn
//! anew for every token.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A token: 32 lowercase hex digits, as ASCII bytes.
pub(crate) type Token = [u8; 32];

/// A new token.
///
/// Every token is 16 fresh bytes from the operating system (`getrandom`),
/// never a sequence seeded once per process: a forked child or a restored
/// VM snapshot cannot repeat its parent's tokens. Tokens are identifiers,
/// not secrets.
pub(super) fn new() -> Token {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        bytes = fallback();
    }
    let mut token = [0u8; 32];
    // 16 bytes always fit 32 hex digits.
    let _ = hex::encode_to_slice(bytes, &mut token);
    token
}

/// For a system whose random source failed (it practically never does):
/// a hash of this token's own count, the process id and the time now,
/// under keys the standard library drew from the random source. The pid
/// and the time tell a forked child's tokens from its parent's.
fn fallback() -> [u8; 16] {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = [0u8; 16];
    for (half, salt) in out.chunks_exact_mut(8).zip([0u8, 1]) {
        let mut h = RandomState::new().build_hasher();
        h.write_u8(salt);
        h.write_u64(count);
        h.write_u32(std::process::id());
        h.write_u128(nanos);
        half.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn tokens_do_not_repeat() {
        let tokens: HashSet<_> = (0..10_000).map(|_| super::new()).collect();
        assert_eq!(tokens.len(), 10_000);
        assert!(
            tokens
                .iter()
                .all(|t| t.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        );
    }

    #[test]
    fn fallback_tokens_do_not_repeat_either() {
        let tokens: HashSet<_> = (0..10_000).map(|_| super::fallback()).collect();
        assert_eq!(tokens.len(), 10_000);
    }
}
