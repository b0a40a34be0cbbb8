//! Property tests, for both vendors: no input panics, signing and verifying
//! agree, any change to a signed delivery is caught, and bodies round-trip
//! (also with unknown fields added at any level).

use crate::common;

use common::differential::{
    Vendor, agreement, any_fixture, escape, json_value, key_text, number_text, with_raw_key,
    with_raw_value, with_value_replaced,
};
use proptest::prelude::*;
use serde_json::Value;
use time::OffsetDateTime;
use utility_webhooks::{Error, smartcomply, smarterwx};

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

    /// `check_header` refuses exactly what verification refuses for the
    /// header alone, with the same error, for both vendors.
    #[test]
    fn check_header_refuses_what_verify_refuses_for_the_header(
        junk in proptest::collection::vec(any::<u8>(), 0..96),
        t in "-?[0-9]{0,12}",
        hex in "[0-9a-fA-Fx]{62,66}",
        body in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let header_refused = |e: &Error| {
            matches!(e, Error::MissingSignature | Error::MalformedSignature)
        };
        let sc = smartcomply::Verifier::new("whsec_p").unwrap();
        let swx = smarterwx::Verifier::new("swx_p").unwrap();
        for header in [junk.clone(), format!("t={t},v1={hex}").into_bytes(), format!("sha256={hex}").into_bytes()] {
            let checked = sc.check_header(&header[..]).err().map(|e| e.kind());
            let verified = sc.verify_at(&header[..], &body, now()).err().filter(header_refused);
            prop_assert_eq!(checked, verified.map(|e| e.kind()));
            let checked = swx.check_header(&header[..]).err().map(|e| e.kind());
            let verified = swx.verify(&header[..], &body).err().filter(header_refused);
            prop_assert_eq!(checked, verified.map(|e| e.kind()));
        }
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

// ---------------------------------------------------------------------------
// Both vendors: structured mutations, SmarterWX signatures, and round trips
// with unknown fields added.

fn smarterwx_fixtures() -> Vec<Vec<u8>> {
    common::fixtures_in("smarterwx")
        .into_iter()
        .map(|(_, b)| b)
        .collect()
}

/// What a body parses to, for either vendor, as one comparable value.
#[derive(Debug, PartialEq)]
enum Parsed {
    Event(smartcomply::Event),
    Batch(Vec<smarterwx::Notification>),
}

impl Vendor {
    fn parse(self, body: &[u8]) -> Result<Parsed, Error> {
        match self {
            Vendor::SmartComply => smartcomply::parse(body).map(Parsed::Event),
            Vendor::SmarterWx => smarterwx::parse(body).map(Parsed::Batch),
        }
    }
}

impl Parsed {
    fn to_body(&self) -> Vec<u8> {
        match self {
            Parsed::Event(e) => serde_json::to_vec(e),
            Parsed::Batch(b) => serde_json::to_vec(b),
        }
        .expect("a parsed body serializes")
    }
}

/// Parse `body`; it may fail, but only with a `Payload` error of bounded
/// length, and whatever parses serializes and parses back equal.
fn parse_checked(vendor: Vendor, body: &[u8]) -> Result<(), TestCaseError> {
    match vendor.parse(body) {
        Ok(parsed) => {
            let written = parsed.to_body();
            let again = vendor.parse(&written);
            prop_assert!(
                again.as_ref().is_ok_and(|a| *a == parsed),
                "{again:?}\n{}",
                String::from_utf8_lossy(&written)
            );
        }
        Err(Error::Payload(e)) => within_budget(e.message(), &e)?,
        Err(other) => prop_assert!(false, "not a payload error: {other:?}"),
    }
    Ok(())
}

/// The message within [`PayloadError::MAX_MESSAGE`] bytes as written, and
/// the whole error within 1 KiB.
fn within_budget(message: &str, whole: &dyn std::fmt::Display) -> Result<(), TestCaseError> {
    prop_assert!(
        message.len() <= utility_webhooks::PayloadError::MAX_MESSAGE,
        "{} bytes: {message}",
        message.len()
    );
    prop_assert!(whole.to_string().len() <= 1024, "{whole}");
    Ok(())
}

/// Text a sender may send where the model reads something else, so that
/// `serde_json` quotes it in its message: long, full of backslashes and
/// quotes (each echoed as two bytes), and of characters shown escaped.
fn echoed_text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,300}", "[\\\\\"x\u{202e}\n\t€]{0,300}",]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_stays_within_the_budget(text in echoed_text()) {
        let quoted = serde_json::to_string(&text).unwrap();
        let bodies = [
            quoted.clone(),
            format!("[{quoted}]"),
            format!(r#"[{{"uuid":{quoted},"event":{quoted},"timestamp":{quoted},"message":{{}}}}]"#),
            format!(r#"{{"id":"evt_1","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{{"test_id":{quoted},"result":{quoted}}}}}"#),
            format!(r#"{{"id":{quoted},"type":{quoted},"created_at":{quoted},"data":{{}}}}"#),
        ];
        for body in &bodies {
            for vendor in [Vendor::SmartComply, Vendor::SmarterWx] {
                if let Err(Error::Payload(e)) = vendor.parse(body.as_bytes()) {
                    within_budget(e.message(), &e)?;
                    if let Some(u) = e.unreadable() {
                        within_budget(u.error().message(), u.error())?;
                        prop_assert!(u.to_string().len() <= 1024, "{u}");
                    }
                }
            }
            let header = smarterwx::sign("s", body.as_bytes());
            let verifier = smarterwx::Verifier::new("s").unwrap();
            if let Ok(each) = verifier.verify_and_parse_each(&header, body.as_bytes()) {
                for u in each.iter().filter_map(smarterwx::Item::unreadable) {
                    within_budget(u.error().message(), u.error())?;
                    prop_assert!(u.to_string().len() <= 1024, "{u}");
                }
            }
        }
    }
}

/// JSON pointers to every object in `v` whose unknown keys the model
/// ignores: not `geometry` nor the `message` of an unknown SmarterWX event,
/// which are kept as raw JSON.
fn typed_objects(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            out.push(at.clone());
            let unknown_event = map
                .get("event")
                .and_then(Value::as_str)
                .is_some_and(|e| !smarterwx::EventType::from(e).is_known());
            for (k, child) in map {
                if k == "geometry" || (unknown_event && k == "message") {
                    continue;
                }
                typed_objects(child, format!("{at}/{}", escape(k)), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                typed_objects(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// One edit of a body's bytes.
#[derive(Debug, Clone)]
enum Edit {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    /// Copy up to 16 bytes from one place over another.
    Splice(prop::sample::Index, prop::sample::Index, usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<prop::sample::Index>().prop_map(Edit::Remove),
        (
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            1usize..16
        )
            .prop_map(|(a, b, n)| Edit::Splice(a, b, n)),
    ];
    prop::collection::vec(edit, 1..6)
}

fn apply(body: &mut Vec<u8>, edits: &[Edit]) {
    for edit in edits {
        if body.is_empty() {
            return;
        }
        match edit {
            Edit::Set(i, b) => {
                let i = i.index(body.len());
                body[i] = *b;
            }
            Edit::Insert(i, b) => body.insert(i.index(body.len() + 1), *b),
            Edit::Remove(i) => {
                body.remove(i.index(body.len()));
            }
            Edit::Splice(from, to, n) => {
                let from = from.index(body.len());
                let piece = body[from..(from + n).min(body.len())].to_vec();
                let to = to.index(body.len());
                let end = (to + piece.len()).min(body.len());
                body.splice(to..end, piece);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn smarterwx_parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = smarterwx::parse(&body);
    }

    #[test]
    fn smarterwx_verify_never_panics(
        header in proptest::collection::vec(any::<u8>(), 0..128),
        body in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let verifier = smarterwx::Verifier::new("swx_p").unwrap();
        let result = verifier.verify(&header, &body);
        prop_assert!(result.as_ref().is_err_and(Error::is_signature), "{result:?}");
        let _ = verifier.verify_and_parse(&header, &body);
    }

    #[test]
    fn smarterwx_header_shaped_junk_never_panics(
        prefix in "(?i:sha256)?[=:]?",
        hex in "[0-9a-fA-FxX ]{0,70}",
        around in "[ \t]{0,2}",
    ) {
        let verifier = smarterwx::Verifier::new("swx_p").unwrap();
        let header = format!("{around}{prefix}{hex}{around}");
        prop_assert!(verifier.verify(&header, b"[]").is_err());
    }

    #[test]
    fn smarterwx_mutated_fixtures_never_panic(
        which in 0usize..5,
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut body = smarterwx_fixtures().swap_remove(which);
        let i = at.index(body.len());
        let last_bracket = body.iter().rposition(|&b| b == b']' || b == b'}').unwrap();
        body[i] = byte;
        let _ = smarterwx::parse(&body);
        // Any prefix that stops before the closing bracket is truncated JSON.
        body.truncate(i.min(last_bracket));
        prop_assert!(matches!(smarterwx::parse(&body), Err(Error::Payload(_))));
    }

    #[test]
    fn edited_fixtures_never_panic_and_round_trip_if_they_parse(
        (vendor, mut body) in any_fixture(),
        edits in edits(),
    ) {
        apply(&mut body, &edits);
        parse_checked(vendor, &body)?;
    }

    #[test]
    fn any_value_replaced_never_panics_and_round_trips_if_it_parses(
        (vendor, body) in any_fixture(),
        at in any::<prop::sample::Index>(),
        replacement in json_value(),
    ) {
        let value = with_value_replaced(&body, "", at.index(usize::MAX), replacement);
        parse_checked(vendor, &serde_json::to_vec(&value).unwrap())?;
    }

    #[test]
    fn unknown_fields_at_any_level_change_nothing(
        (vendor, body) in any_fixture(),
        extras in prop::collection::vec(
            (any::<prop::sample::Index>(), "x-.{0,12}", json_value()),
            1..6,
        ),
    ) {
        let original = vendor.parse(&body).unwrap();
        // parse(serialize(x)) == x
        prop_assert_eq!(&vendor.parse(&original.to_body()).unwrap(), &original);

        let mut value: Value = serde_json::from_slice(&body).unwrap();
        let mut objects = Vec::new();
        typed_objects(&value, String::new(), &mut objects);
        for (at, key, extra) in extras {
            let object = value.pointer_mut(&objects[at.index(objects.len())]).unwrap();
            object.as_object_mut().unwrap().insert(key, extra);
        }
        let with_extras = serde_json::to_vec(&value).unwrap();
        let parsed = vendor.parse(&with_extras);
        prop_assert!(
            parsed.as_ref().is_ok_and(|p| *p == original),
            "{parsed:?}\n{}",
            String::from_utf8_lossy(&with_extras)
        );
    }

    #[test]
    fn smarterwx_sign_then_verify(
        secret in proptest::collection::vec(any::<u8>(), 1..80),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        at in any::<prop::sample::Index>(),
    ) {
        let header = smarterwx::sign(&secret, &body);
        let verifier = smarterwx::Verifier::new(&secret).unwrap();
        prop_assert!(verifier.verify(&header, &body).is_ok());
        // A secret the verifier does not hold fails: one byte changed (not
        // `secret + [0]`, which HMAC's zero padding makes the same key).
        let mut other = secret.clone();
        other[at.index(secret.len())] ^= 0x80;
        let stranger = smarterwx::Verifier::new(&other).unwrap();
        prop_assert!(matches!(stranger.verify(&header, &body), Err(Error::SignatureMismatch)));
        // Held as a second secret, it passes again (rotation).
        let rotated = stranger.with_secret(&secret).unwrap();
        prop_assert!(rotated.verify(&header, &body).is_ok());
    }

    #[test]
    fn smartcomply_stranger_secret_fails_for_any_changed_byte(
        secret in proptest::collection::vec(any::<u8>(), 1..80),
        body in proptest::collection::vec(any::<u8>(), 0..128),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let header = smartcomply::sign(&secret, now(), &body);
        let mut other = secret.clone();
        other[at.index(secret.len())] ^= flip;
        let stranger = smartcomply::Verifier::new(&other).unwrap();
        prop_assert!(matches!(
            stranger.verify_at(&header, &body, now()),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn smarterwx_any_flipped_body_byte_fails(
        body in proptest::collection::vec(any::<u8>(), 1..256),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let header = smarterwx::sign("swx_p", &body);
        let verifier = smarterwx::Verifier::new("swx_p").unwrap();
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= 1 << bit;
        prop_assert!(matches!(verifier.verify(&header, &tampered), Err(Error::SignatureMismatch)));
    }

    #[test]
    fn smarterwx_any_flipped_header_byte_fails(
        body in proptest::collection::vec(any::<u8>(), 0..64),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let header = smarterwx::sign("swx_p", &body).into_bytes();
        let verifier = smarterwx::Verifier::new("swx_p").unwrap();
        let mut tampered = header.clone();
        let i = at.index(header.len());
        tampered[i] ^= 1 << bit;
        // Only the case of a letter (in `sha256=` or the hex) may change.
        let same = tampered[i].is_ascii_alphabetic() && tampered[i].eq_ignore_ascii_case(&header[i]);
        let result = verifier.verify(&tampered, &body);
        if same {
            prop_assert!(result.is_ok());
        } else if i >= 7 {
            prop_assert!(
                matches!(result, Err(Error::SignatureMismatch | Error::MalformedSignature)),
                "{result:?} {:?}",
                String::from_utf8_lossy(&tampered)
            );
        } else {
            prop_assert!(matches!(result, Err(Error::MalformedSignature)), "{result:?}");
        }
    }

    #[test]
    fn smartcomply_changed_timestamp_fails_inside_the_window(
        body in proptest::collection::vec(any::<u8>(), 0..128),
        delta in -300i64..=300,
        zeros in 0usize..3,
    ) {
        prop_assume!(delta != 0 || zeros != 0);
        let t = now().unix_timestamp();
        let header = smartcomply::sign("whsec_p", now(), &body);
        let moved = header.replace(
            &format!("t={t},"),
            &format!("t={}{},", "0".repeat(zeros), t + delta),
        );
        prop_assert_ne!(&moved, &header);
        let verifier = smartcomply::Verifier::new("whsec_p").unwrap();
        // Within the window, so only the signature can reject it.
        prop_assert!(matches!(
            verifier.verify_at(&moved, &body, now()),
            Err(Error::SignatureMismatch)
        ));
    }
}

// ---------------------------------------------------------------------------
// Authentic but unreadable: what the strict reading refuses is kept raw.

/// Verify and read a signed SmarterWX `body` notification by notification,
/// and check it against the strict reading: the same notifications when
/// that succeeds; else the same error for a body that does not split, or
/// the strict error as the first unreadable notification's, each
/// unreadable one's raw JSON a slice of the body, in order.
fn each_checked(body: &[u8]) -> Result<(), TestCaseError> {
    let header = smarterwx::sign("swx_p", body);
    let verifier = smarterwx::Verifier::new("swx_p").unwrap();
    let each = verifier.verify_and_parse_each(&header, body);
    match (smarterwx::parse(body), each) {
        (Ok(all), Ok(each)) => {
            let want: Vec<_> = all.into_iter().map(smarterwx::Item::Notification).collect();
            prop_assert_eq!(each, want);
        }
        (Err(Error::Payload(strict)), Err(Error::Payload(e))) => prop_assert_eq!(e, strict),
        (Err(Error::Payload(strict)), Ok(each)) => {
            let first = each.iter().find_map(smarterwx::Item::unreadable);
            prop_assert!(first.is_some(), "{each:?}");
            crate::common::assert_same_error(first.unwrap().error(), &strict);
            let mut rest = body;
            for (i, one) in each.iter().enumerate() {
                let Some(u) = one.unreadable() else { continue };
                prop_assert_eq!(u.index(), Some(i));
                let raw = u.raw().as_bytes();
                let at = rest.windows(raw.len()).position(|w| w == raw);
                prop_assert!(at.is_some(), "{:?} not in the body", u.raw());
                rest = &rest[at.unwrap() + raw.len()..];
                if raw.starts_with(b"{") {
                    // On its own, one bare notification, it still fails.
                    prop_assert!(smarterwx::parse(raw).is_err());
                }
                prop_assert!(u.to_string().len() < 16 * 1024);
            }
        }
        (strict, each) => prop_assert!(false, "{strict:?} but {each:?}"),
    }
    Ok(())
}

/// The SmarterWX fixtures' notifications, each as compact JSON text.
fn smarterwx_notifications() -> Vec<String> {
    smarterwx_fixtures()
        .iter()
        .flat_map(|body| {
            let value: Value = serde_json::from_slice(body).unwrap();
            value.as_array().unwrap().clone()
        })
        .map(|n| n.to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn smarterwx_each_agrees_with_parse_on_edited_batches(
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        edits in edits(),
    ) {
        let all = smarterwx_notifications();
        let chosen: Vec<&str> = picks.iter().map(|i| all[i.index(all.len())].as_str()).collect();
        let mut body = format!("[{}]", chosen.join(", ")).into_bytes();
        apply(&mut body, &edits);
        each_checked(&body)?;
    }

    #[test]
    fn smarterwx_each_agrees_with_parse_on_any_value_replaced(
        which in 0usize..5,
        at in any::<prop::sample::Index>(),
        replacement in json_value(),
    ) {
        let value = with_value_replaced(&smarterwx_fixtures()[which], "", at.index(usize::MAX), replacement);
        let body = serde_json::to_vec_pretty(&value).unwrap();
        each_checked(&body)?;
    }

    #[test]
    fn smarterwx_each_never_panics(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        each_checked(&body)?;
    }

    #[test]
    fn smartcomply_unreadable_data_is_kept_as_sent(
        which in 0usize..12,
        at in any::<prop::sample::Index>(),
        replacement in json_value(),
    ) {
        let value = with_value_replaced(&smartcomply_fixtures()[which], "/data", at.index(usize::MAX), replacement);
        let body = serde_json::to_vec(&value).unwrap();
        match smartcomply::parse(&body) {
            Ok(event) => prop_assert_eq!(event.id.as_str(), value["id"].as_str().unwrap()),
            Err(Error::Payload(p)) => {
                let event = p.unreadable();
                prop_assert!(event.is_some(), "{p}");
                let event = event.unwrap();
                prop_assert_eq!(event.id(), value["id"].as_str());
                prop_assert_eq!(event.event_type(), value["type"].as_str());
                prop_assert_eq!(event.raw().as_bytes(), &body[..]);
                prop_assert_eq!(event.error().message(), p.message());
                prop_assert_eq!(event.error().path(), p.path());
            }
            Err(other) => prop_assert!(false, "{other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// Differential: the crate's parsers (fast reader, then `serde_json` behind a
// wrapper) against plain `serde_json::from_slice` into the same types. Both
// accept or both refuse; where both accept, the values are equal.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn parsers_agree_with_serde_json_on_edited_fixtures(
        (vendor, mut body) in any_fixture(),
        edits in edits(),
    ) {
        apply(&mut body, &edits);
        agreement(vendor, &body).map_err(TestCaseError::fail)?;
    }
}

common::differential::agreement_properties!(1024);

/// Keys that `serde_json` refuses in any object, a struct's included: the
/// crate refuses them too, wherever they sit.
#[test]
fn keys_serde_json_refuses_are_refused() {
    let keys: [&[u8]; 7] = [
        b"x\x01",
        b"\x1f",
        b"\\ud800",
        b"\\udc00",
        b"k\\ud800\\u0041",
        b"\xff",
        b"\xed\xa0\x80",
    ];
    let fixtures = common::differential::all_fixtures();
    for (vendor, body) in &fixtures {
        let mut objects = Vec::new();
        let tree: Value = serde_json::from_slice(body).unwrap();
        common::differential::object_pointers(&tree, String::new(), &mut objects);
        for at in 0..objects.len() {
            for key in keys {
                let body = with_raw_key(body, at, key, Value::from(1));
                let shown = String::from_utf8_lossy(&body).into_owned();
                assert_eq!(agreement(*vendor, &body), Ok(false), "{shown}");
                assert!(
                    matches!(vendor.parse(&body), Err(Error::Payload(e)) if e.category() == utility_webhooks::Category::Syntax),
                    "{shown}"
                );
            }
        }
    }
}
