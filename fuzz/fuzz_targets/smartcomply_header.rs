//! The SmartComply signature header: any bytes as the header value, over a
//! fixed body and clock.
//!
//! Invariants: no panic; the outcome is the one a plain reading of the
//! header format predicts (missing, malformed, or well formed and then
//! matched); a header that verifies still verifies with white space around
//! it.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use utility_webhooks::Error;
use utility_webhooks::smartcomply::Verifier;

/// The secret `seed.sh` signs the seed headers with.
const SECRET: &str = "whsec_fuzz";
const BODY: &[u8] = include_bytes!("../../fixtures/smartcomply/test.submitted.json");
/// The clock `seed.sh` signs the seed headers for.
const NOW: i64 = 1_777_989_600;

static VERIFIER: LazyLock<Verifier> = LazyLock::new(|| Verifier::new(SECRET).unwrap());

/// What the header format says about `header`, read independently of the
/// crate: `None` when missing, `Some(false)` when malformed, `Some(true)`
/// when well formed (one `t` and at least one readable `v1`).
fn expected_form(header: &[u8]) -> Option<bool> {
    let raw = header.trim_ascii();
    if raw.is_empty() {
        return None;
    }
    let mut t = 0;
    let mut v1 = 0;
    for part in raw.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() {
            continue;
        }
        let Some(eq) = part.iter().position(|&b| b == b'=') else {
            return Some(false);
        };
        let (key, value) = (part[..eq].trim_ascii(), part[eq + 1..].trim_ascii());
        match key {
            b"t" => {
                let number = std::str::from_utf8(value).ok();
                let digits = value.strip_prefix(b"-").unwrap_or(value);
                let whole = !digits.is_empty() && digits.iter().all(u8::is_ascii_digit);
                if !whole || number.and_then(|n| n.parse::<i64>().ok()).is_none() {
                    return Some(false);
                }
                t += 1;
            }
            // An unreadable `v1` (not 64 hex digits) is skipped.
            b"v1" => {
                if value.len() == 64 && value.iter().all(u8::is_ascii_hexdigit) {
                    v1 += 1;
                }
            }
            _ => {}
        }
    }
    Some(t == 1 && v1 > 0)
}

fuzz_target!(|header: &[u8]| {
    let now = OffsetDateTime::from_unix_timestamp(NOW).unwrap();
    let result = VERIFIER.verify_at(header, BODY, now);
    match (expected_form(header), &result) {
        (None, Err(Error::MissingSignature)) => {}
        (Some(false), Err(Error::MalformedSignature)) => {}
        (
            Some(true),
            Ok(())
            | Err(Error::SignatureMismatch | Error::TimestampTooOld | Error::TimestampInFuture),
        ) => {}
        (form, got) => panic!(
            "header {:?}: expected form {form:?}, got {got:?}",
            String::from_utf8_lossy(header)
        ),
    }
    if result.is_ok() {
        let mut padded = b" \t".to_vec();
        padded.extend_from_slice(header);
        padded.extend_from_slice(b"\r\n");
        assert!(VERIFIER.verify_at(&padded, BODY, now).is_ok());
    }
});
