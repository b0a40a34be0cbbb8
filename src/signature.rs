//! Keyed HMAC-SHA256, secrets and constant-time comparison, shared by every
//! vendor.
//!
//! This module knows no vendor and reads no JSON: a vendor module decides
//! which bytes are signed and how its header spells the signature, then asks
//! [`Keys::matches`] whether any candidate matches any secret.

use std::fmt;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::error::Error;

/// Length of an HMAC-SHA256 tag in bytes.
pub(crate) const TAG_LEN: usize = 32;

/// A decoded HMAC-SHA256 tag.
pub(crate) type Tag = [u8; TAG_LEN];

type HmacSha256 = Hmac<Sha256>;

/// The secrets a verifier accepts, each keyed once.
///
/// The HMAC key schedule (hashing the padded key into an inner and an outer
/// state) runs once per secret when the verifier is built; every message
/// then starts from a clone of that state.
///
/// The keyed states live in one shared allocation: cloning a verifier
/// copies a pointer, not the key material. With the `zeroize` features of
/// `hmac` and `sha2`, each state is wiped when it is dropped, that is when
/// the last clone of the verifier goes.
#[derive(Clone)]
pub(crate) struct Keys {
    keyed: Arc<[HmacSha256]>,
}

impl Keys {
    /// Keys for one secret; an empty secret is refused.
    pub(crate) fn new(secret: &[u8]) -> Result<Self, Error> {
        Ok(Keys {
            keyed: Arc::from([keyed(secret)?]),
        })
    }

    /// Accept one more secret (rotation).
    ///
    /// The states are cloned into a new shared allocation of the right size,
    /// not pushed onto a growing buffer (which would free its old buffer
    /// without dropping, so without wiping, the states in it). The old
    /// states are dropped, and so wiped, here unless a clone of the verifier
    /// still holds them.
    pub(crate) fn add(&mut self, secret: &[u8]) -> Result<(), Error> {
        let added = keyed(secret)?;
        self.keyed = self
            .keyed
            .iter()
            .cloned()
            .chain(std::iter::once(added))
            .collect();
        Ok(())
    }

    /// Whether `self` and `other` share their keyed states.
    #[cfg(test)]
    pub(crate) fn shares_states_with(&self, other: &Keys) -> bool {
        Arc::ptr_eq(&self.keyed, &other.keyed)
    }

    /// Whether any of `candidates` equals the HMAC of the concatenated
    /// `message` parts under any of the secrets.
    ///
    /// Every tag is compared with every candidate in constant time and the
    /// results are combined without branching, so the time taken does not
    /// depend on which secret or candidate matched, or on how many leading
    /// bytes of a wrong candidate were right.
    pub(crate) fn matches(&self, message: &[&[u8]], candidates: &Tags) -> bool {
        let mut found = Choice::from(0);
        for key in self.keyed.iter() {
            let tag = tag_of(key.clone(), message);
            for candidate in candidates.iter() {
                found |= equal(&tag, candidate);
            }
        }
        found.into()
    }
}

/// Whether two tags are equal, in constant time: the difference of every
/// 8-byte word is folded together without branching and only the folded
/// word goes through `subtle`.
///
/// Kept by hand, measured: `subtle`'s byte-slice `ct_eq` in its place made
/// SmartComply's verify+parse 9% slower against the lower bound (1.83x to
/// 2.03x, `cargo bench --bench interleaved`, two interleaved runs each);
/// the crate's rule is to keep a hand-written piece only for more than 3%.
fn equal(a: &Tag, b: &Tag) -> Choice {
    let mut diff = 0u64;
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or([0; 8]));
        diff |= word(a) ^ word(b);
    }
    diff.ct_eq(&0)
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} secret(s), redacted>", self.keyed.len())
    }
}

fn keyed(secret: &[u8]) -> Result<HmacSha256, Error> {
    if secret.is_empty() {
        return Err(Error::EmptySecret);
    }
    Ok(key_schedule(secret))
}

fn key_schedule(secret: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (longer ones are hashed first), so this
    // cannot fail; `hmac` itself relies on the same fact.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

fn tag_of(mut mac: HmacSha256, message: &[&[u8]]) -> Tag {
    for part in message {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The lowercase hex HMAC-SHA256 of the concatenated `message` parts under
/// `secret`, as a sender writes it. Any secret is accepted, even an empty one:
/// signing is for tests and replays, refusing is the verifier's job.
pub(crate) fn sign_hex(secret: &[u8], message: &[&[u8]]) -> String {
    hex::encode(tag_of(key_schedule(secret), message))
}

/// The candidate signatures read from one header, in the order sent.
///
/// Senders put one or two (during their own rotation) in a header, so the
/// first two live inline and reading a header allocates nothing.
#[derive(Default)]
pub(crate) struct Tags {
    inline: [Tag; 2],
    len: usize,
    more: Vec<Tag>,
}

impl Tags {
    /// Add a candidate.
    pub(crate) fn push(&mut self, tag: Tag) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = tag;
                self.len += 1;
            }
            None => self.more.push(tag),
        }
    }

    /// Whether no candidate was read.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every candidate.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.inline[..self.len].iter().chain(&self.more)
    }
}

impl From<Tag> for Tags {
    fn from(tag: Tag) -> Self {
        let mut tags = Tags::default();
        tags.push(tag);
        tags
    }
}

/// Decode exactly 64 hex digits (either case) into a tag, eight digits at
/// a time.
///
/// Kept by hand, measured: `hex::decode_to_slice` in its place cost 1-2%
/// of SmartComply's and 2-5% of one SmarterWX referral's verify+parse
/// (`cargo bench --bench interleaved`, two interleaved runs each), above
/// the 3% the crate allows a hand-written piece on average. A test holds it
/// to `hex` for every byte in every position.
///
/// The digits are the sender's, not a secret, so the early length check
/// and the final validity branch reveal nothing.
pub(crate) fn decode_tag(hex_digits: &[u8]) -> Option<Tag> {
    let digits: &[u8; 2 * TAG_LEN] = hex_digits.try_into().ok()?;
    let mut tag = [0u8; TAG_LEN];
    let mut invalid = 0u64;
    for (out, eight) in tag.chunks_exact_mut(4).zip(digits.chunks_exact(8)) {
        let word = u64::from_le_bytes(eight.try_into().unwrap_or([0; 8]));
        let (bytes, bad) = decode_word(word);
        invalid |= bad;
        out.copy_from_slice(&bytes);
    }
    (invalid == 0).then_some(tag)
}

const fn lanes(byte: u8) -> u64 {
    u64::from_le_bytes([byte; 8])
}

/// The four bytes that eight hex digits (a little-endian word, first digit
/// lowest) spell, and a mask that is zero exactly when all eight are hex
/// digits.
///
/// Every step works on all eight byte lanes at once. For lanes below
/// `0x80`, adding `0x80 - lo` sets a lane's top bit exactly when the lane
/// is at least `lo`, and no lane carries into the next; a lane with its
/// top bit set is invalid anyway.
fn decode_word(word: u64) -> ([u8; 4], u64) {
    let ascii = word & lanes(0x7F);
    let at_least = |word: u64, lo: u8| word.wrapping_add(lanes(0x80 - lo));
    let in_range = |word: u64, lo: u8, hi: u8| at_least(word, lo) & !at_least(word, hi + 1);
    // `| 0x20` folds `A-F` onto `a-f` (and no other byte onto them).
    let digit = in_range(ascii, b'0', b'9');
    let letter = in_range(ascii | lanes(0x20), b'a', b'f');
    let invalid = (word | !(digit | letter)) & lanes(0x80);
    // A digit's value is its low nibble; a letter's is its low nibble + 9,
    // and letters are the lanes with bit 6 set.
    let values = (word & lanes(0x0F)) + ((word >> 6) & lanes(0x01)) * 9;
    // Lanes 2i (high nibble) and 2i + 1 (low nibble) make byte i.
    let pairs = ((values & 0x00FF_00FF_00FF_00FF) << 4) | ((values >> 8) & 0x00FF_00FF_00FF_00FF);
    let pairs = (pairs | (pairs >> 8)) & 0x0000_FFFF_0000_FFFF;
    let pairs = (pairs | (pairs >> 16)) & 0x0000_0000_FFFF_FFFF;
    let [a, b, c, d, ..] = pairs.to_le_bytes();
    ([a, b, c, d], invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4231, test case 2.
    const KEY: &[u8] = b"Jefe";
    const DATA: &[u8] = b"what do ya want for nothing?";
    const EXPECTED: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn rfc4231_vector_in_one_or_many_parts() {
        assert_eq!(sign_hex(KEY, &[DATA]), EXPECTED);
        assert_eq!(sign_hex(KEY, &[&DATA[..4], b"", &DATA[4..]]), EXPECTED);
    }

    #[test]
    fn matches_any_secret_and_any_candidate() {
        let good = decode_tag(EXPECTED.as_bytes()).unwrap();
        let bad = [0u8; TAG_LEN];
        let tags = |list: &[Tag]| {
            let mut tags = Tags::default();
            for tag in list {
                tags.push(*tag);
            }
            tags
        };
        let mut keys = Keys::new(b"other").unwrap();
        assert!(!keys.matches(&[DATA], &good.into()));
        keys.add(KEY).unwrap();
        assert!(keys.matches(&[DATA], &tags(&[bad, good])));
        assert!(keys.matches(&[DATA], &tags(&[good, bad])));
        // Past the inline slots.
        assert!(keys.matches(&[DATA], &tags(&[bad, bad, bad, good])));
        assert!(!keys.matches(&[DATA], &tags(&[bad, bad, bad])));
        assert!(!keys.matches(&[DATA], &bad.into()));
        assert!(!keys.matches(&[DATA], &Tags::default()));
        assert!(!keys.matches(&[b"what do ya want for nothing!"], &good.into()));
    }

    #[test]
    fn equal_sees_a_difference_in_any_bit() {
        let tag: Tag = std::array::from_fn(|i| i as u8 * 7);
        assert!(bool::from(equal(&tag, &tag)));
        for bit in 0..TAG_LEN * 8 {
            let mut other = tag;
            other[bit / 8] ^= 1 << (bit % 8);
            assert!(!bool::from(equal(&tag, &other)), "bit {bit}");
        }
    }

    #[test]
    fn empty_secret_is_refused() {
        assert!(matches!(Keys::new(b""), Err(Error::EmptySecret)));
        let mut keys = Keys::new(b"k").unwrap();
        assert!(matches!(keys.add(b""), Err(Error::EmptySecret)));
    }

    #[test]
    fn decode_accepts_both_cases_and_exact_length_only() {
        let upper = EXPECTED.to_ascii_uppercase();
        assert_eq!(
            decode_tag(upper.as_bytes()),
            decode_tag(EXPECTED.as_bytes())
        );
        assert!(decode_tag(&EXPECTED.as_bytes()[..62]).is_none());
        assert!(decode_tag(format!("{EXPECTED}00").as_bytes()).is_none());
        assert!(decode_tag(b"zz").is_none());
        assert!(decode_tag("é".repeat(32).as_bytes()).is_none());
        assert!(decode_tag(format!("{}g", &EXPECTED[..63]).as_bytes()).is_none());
        assert!(decode_tag(format!("{} ", &EXPECTED[..63]).as_bytes()).is_none());
    }

    #[test]
    fn decode_agrees_with_hex_on_every_byte_in_every_position() {
        for position in 0..2 * TAG_LEN {
            for byte in 0..=255u8 {
                let mut digits = EXPECTED.as_bytes().to_vec();
                digits[position] = byte;
                let mut want = [0u8; TAG_LEN];
                let want = hex::decode_to_slice(&digits, &mut want).ok().map(|()| want);
                assert_eq!(decode_tag(&digits), want, "{byte:#04x} at {position}");
            }
        }
    }

    #[test]
    fn clones_share_the_keyed_states() {
        let keys = Keys::new(KEY).unwrap();
        let copy = keys.clone();
        assert!(copy.shares_states_with(&keys));
        assert_eq!(Arc::strong_count(&keys.keyed), 2);
        // Adding a secret to one clone leaves the other as it was.
        let mut rotated = copy.clone();
        rotated.add(b"other").unwrap();
        assert!(!rotated.shares_states_with(&keys));
        assert!(copy.shares_states_with(&keys));
        assert_eq!(rotated.keyed.len(), 2);
        assert_eq!(keys.keyed.len(), 1);
        let good = decode_tag(EXPECTED.as_bytes()).unwrap();
        assert!(rotated.matches(&[DATA], &good.into()));
        assert!(keys.matches(&[DATA], &good.into()));
    }

    #[test]
    fn keyed_states_are_wiped_on_drop() {
        // A compile-time check. `Hmac` itself carries no marker, but what it
        // holds does once the `zeroize` features are on: its inner and
        // outer SHA-256 states and its block buffer wipe themselves when
        // dropped.
        use hmac::digest::block_api::Buffer;
        use hmac::digest::zeroize::ZeroizeOnDrop;
        fn wiped_on_drop<T: ZeroizeOnDrop>() {}
        wiped_on_drop::<<Sha256 as hmac::EagerHash>::Core>();
        wiped_on_drop::<Buffer<hmac::block_api::HmacCore<Sha256>>>();
    }

    #[test]
    fn debug_shows_no_key_material() {
        let keys = Keys::new(b"whsec_supersecret").unwrap();
        let shown = format!("{keys:?}");
        assert_eq!(shown, "<1 secret(s), redacted>");
    }
}
