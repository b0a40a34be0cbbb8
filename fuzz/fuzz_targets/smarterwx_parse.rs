//! SmarterWX bodies, unverified: any bytes to `smarterwx::parse`.
//!
//! Invariants: no panic; a batch that parses serializes, and parsing what
//! was written gives an equal batch (round trip); an error is a bounded
//! `Payload` error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use utility_webhooks::{Error, smarterwx};

/// Generous bound on a whole message (the path is up to 128 levels of keys
/// of at most 64 characters): whatever the body, sender data is echoed cut
/// short.
const MAX_SHOWN: usize = 16 * 1024;

fuzz_target!(|body: &[u8]| {
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
            assert!(e.message().chars().count() <= 201, "{}", e.message());
            let shown = e.to_string();
            assert!(shown.len() <= MAX_SHOWN, "{} bytes", shown.len());
        }
        Err(other) => panic!("not a payload error: {other:?}"),
    }
});
