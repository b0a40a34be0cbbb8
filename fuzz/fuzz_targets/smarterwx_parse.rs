//! SmarterWX bodies, unverified: any bytes to `smarterwx::parse`.
//!
//! Invariants: no panic; a batch that parses serializes, and parsing what
//! was written gives an equal batch (round trip); an error is a bounded
//! `Payload` error. Read notification by notification (signed), the body
//! gives the same notifications when it parses, else the same error, or
//! that error as its first unreadable notification's, each unreadable
//! notification's raw JSON a slice of the body, in order.

#![no_main]

use libfuzzer_sys::fuzz_target;
use utility_webhooks::{Error, PayloadError, smarterwx};

/// The bound on a whole message: 1 KiB, whatever the body, as the crate
/// documents.
const MAX_SHOWN: usize = 1024;

fuzz_target!(|body: &[u8]| {
    each_agrees_with_parse(body);
    match smarterwx::parse(body) {
        Ok(batch) => {
            let written = serde_json::to_vec(&batch).expect("a parsed batch serializes");
            let again = smarterwx::parse(&written).unwrap_or_else(|e| {
                panic!("{e}: {}", String::from_utf8_lossy(&written));
            });
            assert_eq!(again, batch, "{}", String::from_utf8_lossy(&written));
            for one in &batch {
                // Each notification alone is a body too.
                let alone = serde_json::to_vec(one).expect("a notification serializes");
                assert_eq!(smarterwx::parse(&alone).unwrap(), [one.clone()]);
            }
        }
        Err(Error::Payload(e)) => {
            assert!(e.message().len() <= PayloadError::MAX_MESSAGE, "{}", e.message());
            let shown = e.to_string();
            assert!(shown.len() <= MAX_SHOWN, "{} bytes", shown.len());
        }
        Err(other) => panic!("not a payload error: {other:?}"),
    }
});

fn each_agrees_with_parse(body: &[u8]) {
    let header = smarterwx::sign("fuzz", body);
    let verifier = smarterwx::Verifier::new("fuzz").unwrap();
    let each = verifier.verify_and_parse_each(&header, body);
    match (smarterwx::parse(body), each) {
        (Ok(all), Ok(each)) => {
            let want: Vec<_> = all.into_iter().map(Ok).collect();
            assert_eq!(each, want);
        }
        (Err(Error::Payload(strict)), Err(Error::Payload(e))) => assert_eq!(e, strict),
        (Err(Error::Payload(strict)), Ok(each)) => {
            let first = each.iter().find_map(|r| r.as_ref().err());
            assert_eq!(first.expect("one is unreadable").error(), &strict);
            let mut rest = body;
            for (i, one) in each.iter().enumerate() {
                let Err(u) = one else { continue };
                assert_eq!(u.index(), Some(i));
                let raw = u.raw().as_bytes();
                let at = rest
                    .windows(raw.len())
                    .position(|w| w == raw)
                    .expect("the raw JSON is a slice of the body");
                rest = &rest[at + raw.len()..];
                assert!(u.to_string().len() <= MAX_SHOWN);
            }
        }
        (strict, each) => panic!("{strict:?} but {each:?}"),
    }
}
