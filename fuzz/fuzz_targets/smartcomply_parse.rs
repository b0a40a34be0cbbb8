//! SmartComply bodies, unverified: any bytes to `smartcomply::parse`.
//!
//! Invariants: no panic; an event that parses serializes, and parsing what
//! was written gives an equal event (round trip); an error is a bounded
//! `Payload` error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use utility_webhooks::{Error, PayloadError, smartcomply};

/// The bound on a whole message: 1 KiB, whatever the body, as the crate
/// documents.
const MAX_SHOWN: usize = 1024;

fuzz_target!(|body: &[u8]| {
    match smartcomply::parse(body) {
        Ok(event) => {
            let written = serde_json::to_vec(&event).expect("a parsed event serializes");
            let again = smartcomply::parse(&written).unwrap_or_else(|e| {
                panic!("{e}: {}", String::from_utf8_lossy(&written));
            });
            assert_eq!(again, event, "{}", String::from_utf8_lossy(&written));
            assert_eq!(again.event_type(), event.event_type());
        }
        Err(Error::Payload(e)) => {
            assert!(e.message().len() <= PayloadError::MAX_MESSAGE, "{}", e.message());
            let shown = e.to_string();
            assert!(shown.len() <= MAX_SHOWN, "{} bytes", shown.len());
        }
        Err(other) => panic!("not a payload error: {other:?}"),
    }
});
