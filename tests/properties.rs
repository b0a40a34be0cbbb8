//! Property tests: no input panics, signing and verifying agree, and any
//! change to a signed delivery is caught.

mod common;

use proptest::prelude::*;
use time::OffsetDateTime;
use utility_webhooks::{Error, smartcomply};

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_777_989_600).unwrap()
}

fn smartcomply_fixtures() -> Vec<Vec<u8>> {
    common::fixtures_in("smartcomply")
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn smartcomply_parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = smartcomply::parse(&body);
    }

    #[test]
    fn smartcomply_verify_never_panics(
        header in proptest::collection::vec(any::<u8>(), 0..256),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        now_secs in any::<i32>(),
    ) {
        let verifier = smartcomply::Verifier::new("whsec_p").unwrap();
        let now = OffsetDateTime::from_unix_timestamp(i64::from(now_secs)).unwrap();
        let _ = verifier.verify_at(&header, &body, now);
    }

    #[test]
    fn smartcomply_header_shaped_junk_never_panics(
        t in "-?[0-9]{0,25}",
        v1 in "[0-9a-fA-FxX]{0,70}",
        extra in "[ ,=a-z0-9]{0,20}",
    ) {
        let verifier = smartcomply::Verifier::new("whsec_p").unwrap();
        let header = format!("{extra}t={t},v1={v1}{extra}");
        let result = verifier.verify_at(&header, b"{}", now());
        prop_assert!(result.is_err());
    }

    #[test]
    fn smartcomply_mutated_fixtures_never_panic(
        which in 0usize..12,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = smartcomply_fixtures().swap_remove(which);
        let i = at.index(body.len());
        let last_brace = body.iter().rposition(|&b| b == b'}').unwrap();
        body[i] = byte;
        let _ = smartcomply::parse(&body);
        // Any prefix that stops before the closing brace is truncated JSON.
        body.truncate(i.min(last_brace));
        prop_assert!(matches!(smartcomply::parse(&body), Err(Error::Payload(_))));
    }

    #[test]
    fn smartcomply_sign_then_verify(
        secret in proptest::collection::vec(any::<u8>(), 1..80),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        t in -100_000_000_000i64..100_000_000_000,
    ) {
        let at = OffsetDateTime::from_unix_timestamp(t).unwrap();
        let header = smartcomply::sign(&secret, at, &body);
        let verifier = smartcomply::Verifier::new(&secret).unwrap();
        prop_assert!(verifier.verify_at(&header, &body, at).is_ok());
        // A secret the verifier does not hold fails. (Not `secret + [0]`:
        // HMAC pads short keys with zeros, so that is the same key.)
        let mut other = secret.clone();
        other[0] ^= 1;
        let stranger = smartcomply::Verifier::new(&other).unwrap();
        prop_assert!(matches!(stranger.verify_at(&header, &body, at), Err(Error::SignatureMismatch)));
    }

    #[test]
    fn smartcomply_any_flipped_body_byte_fails(
        body in proptest::collection::vec(any::<u8>(), 1..256),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let header = smartcomply::sign("whsec_p", now(), &body);
        let verifier = smartcomply::Verifier::new("whsec_p").unwrap();
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= 1 << bit;
        prop_assert!(matches!(verifier.verify_at(&header, &tampered, now()), Err(Error::SignatureMismatch)));
    }

    #[test]
    fn smartcomply_any_flipped_header_byte_fails(
        body in proptest::collection::vec(any::<u8>(), 0..64),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let header = smartcomply::sign("whsec_p", now(), &body).into_bytes();
        let verifier = smartcomply::Verifier::new("whsec_p").unwrap();
        let mut tampered = header.clone();
        let i = at.index(header.len());
        tampered[i] ^= 1 << bit;
        // Flipping the case of a hex letter keeps the same signature.
        let same = tampered[i].is_ascii_alphabetic()
            && header[i].is_ascii_alphabetic()
            && tampered[i].eq_ignore_ascii_case(&header[i])
            && i > header.len() - 65;
        // Flipping a key byte into white space keeps the same header.
        let blank = tampered[i].is_ascii_whitespace();
        let result = verifier.verify_at(&tampered, &body, now());
        if same {
            prop_assert!(result.is_ok());
        } else if !blank {
            prop_assert!(result.is_err(), "{:?}", String::from_utf8_lossy(&tampered));
        }
    }
}
