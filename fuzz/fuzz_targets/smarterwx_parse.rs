//! SmarterWX bodies, unverified: any bytes to `smarterwx::parse`.
//!
//! Invariants: no panic; a batch that parses serializes, and parsing what
//! was written gives an equal batch (round trip); an error is a bounded
//! `Payload` error. Read notification by notification (signed), the body
//! gives the same notifications when it parses, else the same error, or
//! that error as its first unreadable notification's, each unreadable
//! notification's raw JSON a slice of the body, in order. With a replay
//! window, exactly the notifications outside it are stale, each with its
//! index and its raw JSON (which parses to it), and the all-or-nothing
//! reading refuses the batch exactly when one is.

#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use utility_webhooks::smarterwx::Item;
use utility_webhooks::{Error, ErrorKind, PayloadError, smarterwx};

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
            window_marks_exactly_the_outside(body, &all);
            let want: Vec<_> = all.into_iter().map(Item::Notification).collect();
            assert_eq!(each, want);
        }
        (Err(Error::Payload(strict)), Err(Error::Payload(e))) => assert_eq!(e, strict),
        (Err(Error::Payload(strict)), Ok(each)) => {
            let first = each.iter().find_map(Item::unreadable);
            let first = first.expect("one is unreadable").error();
            assert_eq!(first.to_string(), strict.to_string());
            assert_eq!(first.category(), strict.category());
            let mut rest = body;
            for (i, one) in each.iter().enumerate() {
                let Some(u) = one.unreadable() else { continue };
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

/// A day's window, at a fixed time: the notifications of `all` outside it
/// are stale, the others not, and the strict reading refuses `body` when
/// one is.
fn window_marks_exactly_the_outside(body: &[u8], all: &[smarterwx::Notification]) {
    let day = Duration::from_secs(24 * 3600);
    let now = time::OffsetDateTime::from_unix_timestamp(1_777_989_600).unwrap();
    let verifier = smarterwx::Verifier::new("fuzz").unwrap().with_max_age(day);
    let header = smarterwx::sign("fuzz", body);
    let items = verifier.verify_and_parse_each_at(&header, body, now).unwrap();
    assert_eq!(items.len(), all.len());
    let mut outside = None;
    for (i, (item, n)) in items.iter().zip(all).enumerate() {
        let age = now - n.timestamp;
        let old = age > day;
        let ahead = -age > smarterwx::DEFAULT_CLOCK_SKEW;
        match item {
            Item::Notification(read) => {
                assert!(!old && !ahead, "{n:?}");
                assert_eq!(read, n);
            }
            Item::Stale(stale) => {
                assert!(old || ahead, "{n:?}");
                assert_eq!(stale.index(), i);
                assert_eq!(stale.notification(), n);
                assert_eq!(stale.age(), age);
                let want = if old { ErrorKind::TimestampTooOld } else { ErrorKind::TimestampInFuture };
                assert_eq!(stale.kind(), want);
                assert_eq!(smarterwx::parse(stale.raw().as_bytes()).unwrap(), [n.clone()]);
                assert!(stale.to_string().len() <= MAX_SHOWN);
                outside.get_or_insert(want);
            }
            other => panic!("{other:?}"),
        }
    }
    let strict = verifier.verify_and_parse_at(&header, body, now);
    assert_eq!(strict.as_ref().err().map(Error::kind), outside, "{strict:?}");
}
