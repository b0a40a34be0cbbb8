//! Any bytes to `smartcomply::drift` and `smarterwx::drift`.
//!
//! Invariants: no panic; a body `parse` refuses, `drift` refuses with the
//! same error; a body `parse` reads, `drift` reads too, unless the body is
//! not UTF-8 (a member the model skips may hold such bytes, which the walk
//! cannot read); every path is at most 256 bytes; and what `parse` read,
//! written back, holds no member the model ignores.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::Serialize;
use utility_webhooks::drift::{Drift, DriftKind};
use utility_webhooks::{Error, smartcomply, smarterwx};

/// The longest path a drift item gives, in bytes.
const MAX_PATH: usize = 256;

fuzz_target!(|body: &[u8]| {
    check(body, smartcomply::parse, smartcomply::drift);
    check(body, smarterwx::parse, smarterwx::drift);
});

fn check<T: Serialize>(
    body: &[u8],
    parse: fn(&[u8]) -> Result<T, Error>,
    drift: fn(&[u8]) -> Result<Drift, Error>,
) {
    let shown = || String::from_utf8_lossy(body).into_owned();
    let drifted = drift(body);
    let parsed = match parse(body) {
        Ok(parsed) => parsed,
        Err(e) => {
            let d = drifted.expect_err("drift read a body parse refuses");
            assert_eq!(d.to_string(), e.to_string(), "{}", shown());
            return;
        }
    };
    match drifted {
        Ok(items) => {
            for item in &items {
                assert!(item.path().len() <= MAX_PATH, "{} bytes", item.path().len());
            }
        }
        Err(e) => assert!(std::str::from_utf8(body).is_err(), "{e}: {}", shown()),
    }
    let written = serde_json::to_vec(&parsed).expect("what parses serializes");
    let again = drift(&written).expect("what was written back drifts");
    assert!(
        again.iter().all(|item| item.kind() != DriftKind::UnknownField),
        "{again}: {}",
        String::from_utf8_lossy(&written)
    );
}
