//! A whole SmartComply delivery: the input is `<header>\n<body>`.
//!
//! Invariants: no panic; `verify_and_parse_at` is `verify_at` then `parse`;
//! signing the body verifies, and the same signature fails for the body
//! with one byte changed.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use time::OffsetDateTime;
use utility_webhooks::{Error, smartcomply};

/// The secret `seed.sh` signs the seeds with.
const SECRET: &str = "whsec_fuzz";
/// The clock `seed.sh` signs the seeds for.
const NOW: i64 = 1_777_989_600;

static VERIFIER: LazyLock<smartcomply::Verifier> = LazyLock::new(|| {
    smartcomply::Verifier::new("whsec_old")
        .and_then(|v| v.with_secret(SECRET))
        .unwrap()
});

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let header = &data[..split];
    let body = data.get(split + 1..).unwrap_or_default();
    let now = OffsetDateTime::from_unix_timestamp(NOW).unwrap();

    let verified = VERIFIER.verify_at(header, body, now);
    let parsed = VERIFIER.verify_and_parse_at(header, body, now);
    match (&verified, &parsed) {
        (Ok(()), Ok(event)) => assert_eq!(&smartcomply::parse(body).unwrap(), event),
        (Ok(()), Err(e)) => assert!(e.is_payload(), "{e:?}"),
        (Err(a), Err(b)) => {
            assert!(a.is_signature(), "{a:?}");
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        (Err(a), Ok(_)) => panic!("parsed although {a:?}"),
    }

    let signed = smartcomply::sign(SECRET, now, body);
    assert!(VERIFIER.verify_at(&signed, body, now).is_ok());
    if let Some(last) = body.len().checked_sub(1) {
        let mut changed = body.to_vec();
        changed[last] ^= 0x01;
        assert!(matches!(
            VERIFIER.verify_at(&signed, &changed, now),
            Err(Error::SignatureMismatch)
        ));
    }
});
