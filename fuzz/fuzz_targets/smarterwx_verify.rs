//! A whole SmarterWX delivery: the input is `<header>\n<body>`.
//!
//! Invariants: no panic; `verify_and_parse` is `verify` then `parse`;
//! signing the body verifies, and the same signature fails for the body
//! with one byte changed.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use utility_webhooks::{Error, smarterwx};

/// The secret `seed.sh` signs the seeds with.
const SECRET: &str = "swx_fuzz";

static VERIFIER: LazyLock<smarterwx::Verifier> = LazyLock::new(|| {
    smarterwx::Verifier::new("swx_old")
        .and_then(|v| v.with_secret(SECRET))
        .unwrap()
});

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let header = &data[..split];
    let body = data.get(split + 1..).unwrap_or_default();

    let verified = VERIFIER.verify(header, body);
    let parsed = VERIFIER.verify_and_parse(header, body);
    match (&verified, &parsed) {
        (Ok(()), Ok(batch)) => assert_eq!(&smarterwx::parse(body).unwrap(), batch),
        (Ok(()), Err(e)) => assert!(e.is_payload(), "{e:?}"),
        (Err(a), Err(b)) => {
            assert!(a.is_signature(), "{a:?}");
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        (Err(a), Ok(_)) => panic!("parsed although {a:?}"),
    }

    let signed = smarterwx::sign(SECRET, body);
    assert!(VERIFIER.verify(&signed, body).is_ok());
    if let Some(last) = body.len().checked_sub(1) {
        let mut changed = body.to_vec();
        changed[last] ^= 0x01;
        assert!(matches!(
            VERIFIER.verify(&signed, &changed),
            Err(Error::SignatureMismatch)
        ));
    }
});
