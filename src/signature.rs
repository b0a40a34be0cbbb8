//! Keyed HMAC-SHA256, secrets and constant-time comparison, shared by every
//! vendor.
//!
//! This module knows no vendor and reads no JSON: a vendor module decides
//! which bytes are signed and how its header spells the signature, then asks
//! [`Keys::matches`] whether any candidate matches any secret.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::{Choice, ConstantTimeEq};

use crate::Error;

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
#[derive(Clone)]
pub(crate) struct Keys {
    keyed: Vec<HmacSha256>,
}

impl Keys {
    /// Keys for one secret; an empty secret is refused.
    pub(crate) fn new(secret: &[u8]) -> Result<Self, Error> {
        Ok(Keys {
            keyed: vec![keyed(secret)?],
        })
    }

    /// Accept one more secret (rotation).
    pub(crate) fn add(&mut self, secret: &[u8]) -> Result<(), Error> {
        self.keyed.push(keyed(secret)?);
        Ok(())
    }

    /// Whether any of `candidates` equals the HMAC of the concatenated
    /// `message` parts under any of the secrets.
    ///
    /// Every tag is compared with every candidate in constant time and the
    /// results are combined without branching, so the time taken does not
    /// depend on which secret or candidate matched, or on how many leading
    /// bytes of a wrong candidate were right.
    pub(crate) fn matches<I>(&self, message: &[&[u8]], candidates: I) -> bool
    where
        I: Iterator<Item = Tag> + Clone,
    {
        let mut found = Choice::from(0);
        for key in &self.keyed {
            let tag = tag_of(key.clone(), message);
            for candidate in candidates.clone() {
                found |= tag.ct_eq(&candidate);
            }
        }
        found.into()
    }
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

/// Decode exactly 64 hex digits (either case) into a tag.
pub(crate) fn decode_tag(hex_digits: &[u8]) -> Option<Tag> {
    let mut tag = [0u8; TAG_LEN];
    hex::decode_to_slice(hex_digits, &mut tag).ok()?;
    Some(tag)
}

/// Whether `hex_digits` is exactly 64 hex digits (either case), so that
/// [`decode_tag`] will succeed; cheaper than decoding.
pub(crate) fn is_tag_hex(hex_digits: &[u8]) -> bool {
    hex_digits.len() == 2 * TAG_LEN && hex_digits.iter().all(u8::is_ascii_hexdigit)
}

/// Trim ASCII white space from both ends of a byte string.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
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
        let mut keys = Keys::new(b"other").unwrap();
        assert!(!keys.matches(&[DATA], [good].into_iter()));
        keys.add(KEY).unwrap();
        assert!(keys.matches(&[DATA], [bad, good].into_iter()));
        assert!(keys.matches(&[DATA], [good, bad].into_iter()));
        assert!(!keys.matches(&[DATA], [bad].into_iter()));
        assert!(!keys.matches(&[DATA], std::iter::empty()));
        assert!(!keys.matches(&[b"what do ya want for nothing!"], [good].into_iter()));
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
        for candidate in [
            EXPECTED.to_string(),
            upper.clone(),
            EXPECTED[..62].into(),
            format!("{EXPECTED}00"),
            "zz".into(),
            "é".repeat(32),
            format!("{}g", &EXPECTED[..63]),
        ] {
            assert_eq!(
                is_tag_hex(candidate.as_bytes()),
                decode_tag(candidate.as_bytes()).is_some(),
                "{candidate}"
            );
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        let keys = Keys::new(b"whsec_supersecret").unwrap();
        let shown = format!("{keys:?}");
        assert_eq!(shown, "<1 secret(s), redacted>");
    }
}
