//! Nothing the crate prints gives away a secret or the signature that would
//! have matched, and sender data is echoed only cut short.
//!
//! Every error path of both vendors is taken (missing, malformed, mismatch,
//! too old, in the future, payload errors of signed bodies, empty secret),
//! and each error's `Display`, `Debug` and `{:#?}`, its sources, and the
//! `Debug` of the verifiers holding several secrets are searched for every
//! form a secret or a tag could take.

use crate::common;

use std::error::Error as _;

use time::OffsetDateTime;
use utility_webhooks::{Error, PayloadError, smartcomply, smarterwx};

const SC_SECRETS: [&str; 3] = [
    "whsec_Q9zX4vB7nM2kL8pR5tY1wE6u",
    "whsec_H3jK9dF2gS7aP4oI8uY5tR1e",
    "whsec_Rotated0ldZ0xC9vB8nM7qW",
];
const SWX_SECRETS: [&str; 3] = [
    "swx-Gq7Lp2Vn9Rt4Wx6Zb1Hk",
    "Another SmarterWX secret #42!",
    "ünïcödé-sëcrët-ßwx-Ω",
];

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_777_989_600).unwrap()
}

fn at(offset_secs: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_777_989_600 + offset_secs).unwrap()
}

/// Every form in which a secret or a tag could leak into text.
struct Forbidden(Vec<String>);

impl Forbidden {
    fn new() -> Self {
        Forbidden(Vec::new())
    }

    fn secret(&mut self, secret: &str) {
        let bytes = secret.as_bytes();
        self.0.push(secret.to_owned());
        self.0.push(
            secret
                .trim_start_matches("whsec_")
                .trim_start_matches("swx-")
                .into(),
        );
        // Any 10-character window would do; take the end, past the prefix.
        let chars: Vec<char> = secret.chars().collect();
        self.0
            .push(chars[chars.len() - 10..].iter().collect::<String>());
        self.0.push(hex::encode(bytes));
        self.0.push(format!("{bytes:?}"));
        self.0
            .push(format!("{:?}", secret.escape_debug().to_string()));
    }

    /// A tag as lowercase hex (how `sign` writes it), uppercase hex, a
    /// 16-digit prefix of each, and its bytes as `Debug` prints them.
    fn tag(&mut self, hex_digits: &str) {
        assert_eq!(hex_digits.len(), 64, "{hex_digits}");
        let lower = hex_digits.to_ascii_lowercase();
        let upper = hex_digits.to_ascii_uppercase();
        self.0.push(lower[..16].to_owned());
        self.0.push(upper[..16].to_owned());
        self.0.push(lower[48..].to_owned());
        let bytes = hex::decode(&lower).unwrap();
        self.0.push(format!("{bytes:?}"));
        self.0.push(
            format!("{:?}", &bytes[..8])
                .trim_end_matches(']')
                .to_owned(),
        );
        self.0.push(lower);
        self.0.push(upper);
    }

    fn check(&self, what: &str, text: &str) {
        for f in &self.0 {
            assert!(!text.contains(f.as_str()), "{what} shows {f:?}:\n{text}");
        }
    }

    /// `Display`, `Debug`, `{:#?}` and the source chain of an error.
    fn check_error(&self, what: &str, err: &Error) {
        self.check(what, &err.to_string());
        self.check(what, &format!("{err:?}"));
        self.check(what, &format!("{err:#?}"));
        let mut source = err.source();
        while let Some(s) = source {
            self.check(what, &s.to_string());
            self.check(what, &format!("{s:?}"));
            source = s.source();
        }
        if let Error::Payload(p) = err {
            self.check_payload(what, p);
        }
    }

    fn check_payload(&self, what: &str, p: &PayloadError) {
        self.check(what, p.message());
        self.check(what, p.path().unwrap_or_default());
        self.check(what, p.event_type().unwrap_or_default());
        self.check(what, &format!("{:?}", p.category()));
    }
}

/// The hex part of a SmartComply header's `v1`.
fn v1(header: &str) -> &str {
    header.split_once(",v1=").unwrap().1
}

/// The hex part of a SmarterWX header.
fn sha256(header: &str) -> &str {
    header.strip_prefix("sha256=").unwrap()
}

fn smartcomply_verifier() -> smartcomply::Verifier {
    SC_SECRETS[1..].iter().fold(
        smartcomply::Verifier::new(SC_SECRETS[0]).unwrap(),
        |v, s| v.with_secret(s).unwrap(),
    )
}

fn smarterwx_verifier() -> smarterwx::Verifier {
    SWX_SECRETS[1..]
        .iter()
        .fold(smarterwx::Verifier::new(SWX_SECRETS[0]).unwrap(), |v, s| {
            v.with_secret(s).unwrap()
        })
}

#[test]
fn both_verifiers_refuse_an_empty_secret() {
    assert!(matches!(
        smartcomply::Verifier::new(""),
        Err(Error::EmptySecret)
    ));
    assert!(matches!(
        smarterwx::Verifier::new(b""),
        Err(Error::EmptySecret)
    ));
    let sc = smartcomply_verifier().with_secret("");
    assert!(matches!(sc, Err(Error::EmptySecret)));
    let swx = smarterwx_verifier().with_secret(Vec::new());
    assert!(matches!(swx, Err(Error::EmptySecret)));
}

#[test]
fn verifier_debug_shows_no_secret() {
    let mut forbidden = Forbidden::new();
    SC_SECRETS.iter().for_each(|s| forbidden.secret(s));
    SWX_SECRETS.iter().for_each(|s| forbidden.secret(s));
    let sc = smartcomply_verifier();
    let swx = smarterwx_verifier();
    for shown in [
        format!("{sc:?}"),
        format!("{sc:#?}"),
        format!(
            "{:?}",
            sc.clone().with_tolerance(std::time::Duration::from_secs(1))
        ),
        format!("{swx:?}"),
        format!("{swx:#?}"),
        format!("{:?}", swx.clone()),
    ] {
        forbidden.check("a verifier", &shown);
        assert!(shown.contains("3 secret(s)"), "{shown}");
    }
}

#[test]
fn smartcomply_errors_show_no_secret_nor_expected_signature() {
    let verifier = smartcomply_verifier();
    let body = common::fixture("smartcomply/test.failed.json");
    let mut forbidden = Forbidden::new();
    SC_SECRETS.iter().for_each(|s| forbidden.secret(s));
    for secret in SC_SECRETS {
        for t in [now(), at(-3600), at(3600)] {
            forbidden.tag(v1(&smartcomply::sign(secret, t, &body)));
        }
    }

    let good = smartcomply::sign(SC_SECRETS[1], now(), &body);
    let expected = v1(&good);
    let t = now().unix_timestamp();
    let mut flipped = expected.to_owned().into_bytes();
    flipped[63] = if flipped[63] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();

    let cases: Vec<(&str, String, Vec<u8>, OffsetDateTime)> = vec![
        ("missing", String::new(), body.clone(), now()),
        ("blank", " \t ".into(), body.clone(), now()),
        ("no t", format!("v1={expected}"), body.clone(), now()),
        ("no v1", format!("t={t}"), body.clone(), now()),
        (
            "short v1",
            format!("t={t},v1={}", &expected[..63]),
            body.clone(),
            now(),
        ),
        (
            "long v1",
            format!("t={t},v1={expected}0"),
            body.clone(),
            now(),
        ),
        (
            "bad t",
            format!("t=x{t},v1={expected}"),
            body.clone(),
            now(),
        ),
        (
            "junk part",
            format!("t={t},v1={expected},junk"),
            body.clone(),
            now(),
        ),
        (
            "last digit changed",
            format!("t={t},v1={flipped}"),
            body.clone(),
            now(),
        ),
        (
            "stranger's secret",
            smartcomply::sign("whsec_Stranger9x8c7v6b5n4m", now(), &body),
            body.clone(),
            now(),
        ),
        (
            "body changed",
            good.clone(),
            [&body[..], b" "].concat(),
            now(),
        ),
        ("too old", good.clone(), body.clone(), at(301)),
        ("in future", good.clone(), body.clone(), at(-301)),
    ];
    for (label, header, body, now) in &cases {
        let err = verifier.verify_at(header, body, *now).unwrap_err();
        assert!(err.is_signature(), "{label}: {err:?}");
        forbidden.check_error(label, &err);
        let err = verifier
            .verify_and_parse_at(header, body, *now)
            .unwrap_err();
        forbidden.check_error(label, &err);
    }

    // Payload errors of signed bodies: the signature passed, the body is bad.
    for (label, bad) in common::hostile_bodies().into_iter().chain([
        ("wrong type", br#"{"id":"e","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":5}}"#.to_vec()),
        ("bad date", br#"{"id":"e","type":"test.failed","created_at":"2026-05-05T14:00:00Z","data":{"test_id":"b","assembly_id":"a","tester_id":"t","result":"fail","test_date":"2026-02-30"}}"#.to_vec()),
        ("bad instant", br#"{"id":"e","type":"webhook.test","created_at":"yesterday","data":{}}"#.to_vec()),
    ]) {
        for secret in SC_SECRETS {
            let header = smartcomply::sign(secret, now(), &bad);
            let mut forbidden = Forbidden(forbidden.0.clone());
            forbidden.tag(v1(&header));
            let err = verifier.verify_and_parse_at(&header, &bad, now()).unwrap_err();
            assert!(err.is_payload(), "{label}: {err:?}");
            forbidden.check_error(label, &err);
        }
    }

    let err = smartcomply::Verifier::new("").unwrap_err();
    forbidden.check_error("empty secret", &err);
    let err = smartcomply_verifier().with_secret(b"").unwrap_err();
    forbidden.check_error("empty secret", &err);
}

#[test]
fn smarterwx_errors_show_no_secret_nor_expected_signature() {
    let verifier = smarterwx_verifier();
    let body = common::fixture("smarterwx/batch.json");
    let mut forbidden = Forbidden::new();
    SWX_SECRETS.iter().for_each(|s| forbidden.secret(s));
    for secret in SWX_SECRETS {
        forbidden.tag(sha256(&smarterwx::sign(secret, &body)));
    }

    let good = smarterwx::sign(SWX_SECRETS[2], &body);
    let expected = sha256(&good);
    let mut flipped = expected.to_owned().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let flipped = String::from_utf8(flipped).unwrap();

    let cases: Vec<(&str, String, Vec<u8>)> = vec![
        ("missing", String::new(), body.clone()),
        ("blank", "\r\n".into(), body.clone()),
        ("bare hex", expected.to_owned(), body.clone()),
        ("sha1", format!("sha1={expected}"), body.clone()),
        ("short", format!("sha256={}", &expected[..62]), body.clone()),
        ("long", format!("sha256={expected}00"), body.clone()),
        ("two", format!("{good},{good}"), body.clone()),
        (
            "first digit changed",
            format!("sha256={flipped}"),
            body.clone(),
        ),
        (
            "stranger's secret",
            smarterwx::sign("swx-Stranger-5t4r3e2w1q", &body),
            body.clone(),
        ),
        (
            "body changed",
            good.clone(),
            body[..body.len() - 1].to_vec(),
        ),
    ];
    for (label, header, body) in &cases {
        let err = verifier.verify(header, body).unwrap_err();
        assert!(err.is_signature(), "{label}: {err:?}");
        forbidden.check_error(label, &err);
        let err = verifier.verify_and_parse(header, body).unwrap_err();
        forbidden.check_error(label, &err);
    }

    for (label, bad) in common::hostile_bodies().into_iter().chain([
        ("wrong type", br#"[{"uuid":"u","event":"referral:create","timestamp":"2020-08-11T07:44:10Z","message":{"id":"x"}}]"#.to_vec()),
        ("bad instant", br#"{"uuid":"u","event":"x","timestamp":"soon","message":{}}"#.to_vec()),
    ]) {
        for secret in SWX_SECRETS {
            let header = smarterwx::sign(secret, &bad);
            let mut forbidden = Forbidden(forbidden.0.clone());
            forbidden.tag(sha256(&header));
            let err = verifier.verify_and_parse(&header, &bad).unwrap_err();
            assert!(err.is_payload(), "{label}: {err:?}");
            forbidden.check_error(label, &err);
        }
    }

    let err = smarterwx::Verifier::new(b"").unwrap_err();
    forbidden.check_error("empty secret", &err);
}

// ---------------------------------------------------------------------------
// Sender data in messages is bounded.

const MB: usize = 1 << 20;

/// The characters no echoed text may show as they are: they could make a
/// log line read as something else.
fn is_hidden_or_reordering(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{200B}'..='\u{200D}'
                | '\u{FEFF}'
        )
}

/// A message that is at most 1 KiB and safe to log as one line.
#[track_caller]
fn assert_safe_message(label: &str, shown: &str) {
    assert!(
        shown.len() <= 1024,
        "{label}: {} bytes: {shown:.300}",
        shown.len()
    );
    assert!(
        !shown.chars().any(is_hidden_or_reordering),
        "{label}: shows a control or invisible character: {shown:?}"
    );
}

/// A `Debug` that is short and escapes what a message escapes.
#[track_caller]
fn assert_safe_debug(label: &str, debug: &str) {
    assert!(
        debug.len() < 2048,
        "{label}: {} bytes: {debug:.300}",
        debug.len()
    );
    assert!(
        !debug.chars().any(is_hidden_or_reordering),
        "{label}: shows a control or invisible character: {debug:?}"
    );
}

/// A payload error whose `Display`, parts and `Debug` are short and safe,
/// whatever the size of the sender's strings.
#[track_caller]
fn assert_bounded(label: &str, result: Result<impl std::fmt::Debug, Error>) -> PayloadError {
    let err = match result {
        Err(Error::Payload(p)) => p,
        other => panic!("{label}: {:.300}", format!("{other:?}")),
    };
    assert_safe_message(label, &err.to_string());
    assert_safe_message(label, &Error::Payload(err.clone()).to_string());
    assert_safe_debug(label, &format!("{err:?}"));
    for part in [
        err.message(),
        err.path().unwrap_or_default(),
        err.event_type().unwrap_or_default(),
    ] {
        assert_safe_message(label, part);
    }
    err
}

fn smartcomply_event(ty: &str, created_at: &str, data: &str) -> Vec<u8> {
    format!(r#"{{"id":"evt_1","type":"{ty}","created_at":"{created_at}","data":{data}}}"#)
        .into_bytes()
}

#[test]
fn smartcomply_messages_echo_sender_data_bounded() {
    let big = "A".repeat(MB);
    let ok_time = "2026-05-05T14:00:00Z";

    let e = assert_bounded(
        "1 MB event type",
        smartcomply::parse(&smartcomply_event(&big, "not a time", "{}")),
    );
    assert!(e.event_type().unwrap().starts_with("AAAA"), "{e}");
    assert!(e.event_type().unwrap().ends_with("AAAA"), "{e}");
    assert!(e.event_type().unwrap().contains('…'), "{e}");

    let e = assert_bounded(
        "1 MB event type, truncated body",
        smartcomply::parse(format!(r#"{{"type":"{big}","data":{{"#).as_bytes()),
    );
    assert!(e.event_type().is_some(), "{e}");

    let e = assert_bounded(
        "1 MB date",
        smartcomply::parse(&smartcomply_event(
            "test.failed",
            ok_time,
            &format!(
                r#"{{"test_id":"b","assembly_id":"a","tester_id":"t","result":"fail","test_date":"{big}"}}"#
            ),
        )),
    );
    assert!(e.message().starts_with("invalid date \"AAAA"), "{e}");

    assert_bounded(
        "1 MB instant",
        smartcomply::parse(&smartcomply_event("webhook.test", &big, "{}")),
    );

    let e = assert_bounded(
        "1 MB string where a number belongs",
        smartcomply::parse(&smartcomply_event(
            "iu.exceedance_detected",
            ok_time,
            &format!(
                r#"{{"sample_id":"s","industrial_user_id":"i","permit_id":"p","sample_date":"2026-05-05","exceedances":[{{"parameter":"Zinc","result_value":"{big}","permit_limit":1,"unit":"mg/L"}}]}}"#
            ),
        )),
    );
    assert_eq!(e.path(), Some("data.exceedances[0].result_value"));
    assert!(
        e.message().starts_with("invalid type: string \"AAAA"),
        "{e}"
    );
    assert!(e.message().ends_with("expected f64"), "{e}");

    let e = assert_bounded(
        "1 MB string where a boolean belongs",
        smartcomply::parse(&smartcomply_event(
            "webhook.test",
            ok_time,
            &format!(r#"{{"test":"{big}","sent_at":"{ok_time}"}}"#),
        )),
    );
    assert!(e.message().ends_with("expected a boolean"), "{e}");

    let e = assert_bounded(
        "1 MB key above a syntax error",
        smartcomply::parse(format!(r#"{{"data":{{"{big}":[1,2,"#).as_bytes()),
    );
    assert!(e.path().unwrap().chars().count() < 80, "{e}");

    let e = assert_bounded(
        "1 MB unknown key next to a missing field",
        smartcomply::parse(&smartcomply_event(
            "test.submitted",
            ok_time,
            &format!(r#"{{"{big}":"{big}"}}"#),
        )),
    );
    assert!(e.message().starts_with("missing field"), "{e}");
}

#[test]
fn smarterwx_messages_echo_sender_data_bounded() {
    let big = "B".repeat(MB);
    let notification = |event: &str, timestamp: &str, message: &str| {
        format!(
            r#"[{{"uuid":"u-1","event":"{event}","timestamp":"{timestamp}","message":{message}}}]"#
        )
        .into_bytes()
    };
    let ok_time = "2020-08-11T07:44:10Z";

    let e = assert_bounded(
        "1 MB event",
        smarterwx::parse(&notification(&big, "not a time", "{}")),
    );
    assert!(e.event_type().unwrap().contains('…'), "{e}");

    assert_bounded(
        "1 MB timestamp",
        smarterwx::parse(&notification("referral:create", &big, "{}")),
    );

    let e = assert_bounded(
        "1 MB string where a number belongs",
        smarterwx::parse(&notification(
            "referral:create",
            ok_time,
            &format!(r#"{{"id":"{big}"}}"#),
        )),
    );
    assert_eq!(e.path(), Some("[0].message.id"));
    assert!(e.message().ends_with("expected u64"), "{e}");

    assert_bounded(
        "1 MB createdAt",
        smarterwx::parse(&notification(
            "referral:update",
            ok_time,
            &format!(r#"{{"id":1,"createdAt":"{big}"}}"#),
        )),
    );

    assert_bounded(
        "1 MB event, second notification truncated",
        smarterwx::parse(format!(r#"[{{"event":"{big}","message":{{"#).as_bytes()),
    );
}

// ---------------------------------------------------------------------------
// Messages are at most 1 KiB and show no character that hides or reorders
// text, whatever the body.

/// Text that reorders, breaks or hides what follows it in a log line.
const HOSTILE: &str =
    "\u{202e}\u{2066}\u{2069}\u{202a}\u{2028}\u{2029}\u{200b}\u{200d}\u{feff}\u{1b}\u{85}\r\n";

/// An object nested `depth` levels deep under keys of `key_len` bytes full
/// of hostile characters, left open unless `close`: the error is at the
/// bottom, under every key. About 32 KB with the defaults below.
fn deep_long_keys(depth: usize, key_len: usize, close: bool) -> String {
    let mut key = String::new();
    while key.len() + HOSTILE.len() < key_len {
        key.push_str(HOSTILE);
        key.push('k');
    }
    let key = serde_json::to_string(&key).unwrap();
    let mut out = String::new();
    for _ in 0..depth {
        out.push('{');
        out.push_str(&key);
        out.push(':');
    }
    out.push('1');
    if close {
        out.push_str(&"}".repeat(depth));
    }
    out
}

const DEPTH: usize = 120;
const KEY_LEN: usize = 256;

#[test]
fn a_32_kb_key_path_makes_a_message_of_at_most_1_kib() {
    let data = deep_long_keys(DEPTH, KEY_LEN, false);
    let body = format!(
        r#"{{"id":"evt_1","type":"meter.read","created_at":"2026-05-05T14:00:00Z","data":{data}"#
    );
    assert!(body.len() > 32 * 1024, "{} bytes", body.len());
    let e = assert_bounded("32 KB key path", smartcomply::parse(body.as_bytes()));
    assert_eq!(e.event_type(), Some("meter.read"));
    let path = e.path().unwrap();
    assert!(path.starts_with("data.\\u{202e}\\u{2066}"), "{path}");
    assert!(path.contains('…'), "{path}");
    assert!(path.len() <= 256, "{} bytes", path.len());

    // The same under a referral's GeoJSON, and as a verified batch read
    // notification by notification.
    let body =
        std::fs::read_to_string(common::fixtures_dir().join("smarterwx/referral_create.json"))
            .unwrap();
    let body = body.replacen(
        r#""geometry": {}"#,
        &format!(r#""geometry": {}"#, deep_long_keys(DEPTH, KEY_LEN, false)),
        1,
    );
    let body = body
        .trim_end()
        .trim_end_matches(['}', ']', '\n', ' '])
        .to_owned();
    assert!(body.len() > 32 * 1024, "{} bytes", body.len());
    let e = assert_bounded(
        "32 KB key path in geometry",
        smarterwx::parse(body.as_bytes()),
    );
    assert!(
        e.path()
            .unwrap()
            .starts_with("[0].message.Enquiry.geometry.\\u{202e}"),
        "{e}"
    );
    let header = smarterwx::sign(SWX_SECRETS[0], body.as_bytes());
    let e = assert_bounded(
        "32 KB key path, each",
        smarterwx_verifier().verify_and_parse_each(&header, body.as_bytes()),
    );
    assert!(e.path().unwrap().starts_with("[0].message"), "{e}");
}

#[test]
fn hidden_and_reordering_characters_are_escaped_in_every_part() {
    let hostile_json = serde_json::to_string(HOSTILE).unwrap();
    let hostile_json = hostile_json.trim_matches('"');
    // In the event type, next to an instant that does not read.
    let e = assert_bounded(
        "hostile type",
        smartcomply::parse(&smartcomply_event(
            &format!("t{hostile_json}"),
            "not a time",
            "{}",
        )),
    );
    assert_eq!(
        e.event_type(),
        Some(
            "t\\u{202e}\\u{2066}\\u{2069}\\u{202a}\\u{2028}\\u{2029}\\u{200b}\\u{200d}\\u{feff}\\u{1b}\\u{85}\\r\\n"
        )
    );
    // In a key, as raw UTF-8 rather than JSON escapes.
    let e = assert_bounded(
        "hostile key",
        smartcomply::parse(
            format!(
                r#"{{"id":"evt_1","type":"meter.read","created_at":"2026-05-05T14:00:00Z","data":{{"a{}b":[tru"#,
                "\u{202e}\u{2066}\u{200b}\u{feff}\u{2028}"
            )
            .as_bytes(),
        ),
    );
    assert_eq!(
        e.path(),
        Some("data.a\\u{202e}\\u{2066}\\u{200b}\\u{feff}\\u{2028}b[0]")
    );
    // In a value of the wrong type, which the message quotes.
    let e = assert_bounded(
        "hostile value",
        smartcomply::parse(&smartcomply_event(
            "webhook.test",
            "2026-05-05T14:00:00Z",
            &format!(r#"{{"test":"{hostile_json}"}}"#),
        )),
    );
    assert!(
        e.message().starts_with("invalid type: string \"\\u{202e}"),
        "{e}"
    );
    // A huge one, cut with its escapes whole.
    let huge = hostile_json.repeat(20_000);
    for (label, result) in [
        (
            "huge hostile value",
            smartcomply::parse(&smartcomply_event(
                "iu.exceedance_detected",
                "2026-05-05T14:00:00Z",
                &format!(
                    r#"{{"sample_id":"s","industrial_user_id":"i","permit_id":"p","sample_date":"2026-05-05","exceedances":[{{"parameter":"Zinc","result_value":"{huge}","permit_limit":1,"unit":"mg/L"}}]}}"#
                ),
            ))
            .map(drop),
        ),
        (
            "huge hostile event",
            smarterwx::parse(
                format!(r#"[{{"uuid":"u","event":"{huge}","timestamp":"no","message":{{}}}}]"#)
                    .as_bytes(),
            )
            .map(drop),
        ),
    ] {
        let e = assert_bounded(label, result);
        assert!(
            e.message().len() <= utility_webhooks::PayloadError::MAX_MESSAGE
                && e.event_type().is_none_or(|t| t.len() <= 96)
        );
    }
}

#[test]
fn unreadable_notifications_show_at_most_1_kib() {
    let hostile_json = serde_json::to_string(HOSTILE).unwrap();
    let hostile_json = hostile_json.trim_matches('"');
    let huge = hostile_json.repeat(20_000);
    // Past the 128 levels `serde_json` reads, but well formed: only this
    // notification is unreadable.
    let deep = deep_long_keys(130, KEY_LEN, true);
    let body = format!(
        r#"[{{"uuid":"{huge}","event":"{huge}","timestamp":"{huge}","message":{{"id":"{huge}"}}}},
           {{"uuid":"u{hostile_json}","event":"enquiry{hostile_json}","timestamp":"2020-08-11T07:44:10Z","message":{deep}}}]"#
    );
    let header = smarterwx::sign(SWX_SECRETS[0], body.as_bytes());
    let all = smarterwx_verifier()
        .verify_and_parse_each(&header, body.as_bytes())
        .unwrap();
    assert_eq!(all.len(), 2);
    for (i, each) in all.iter().enumerate() {
        let Some(u) = each.unreadable() else {
            panic!("notification {i} was read")
        };
        let label = format!("notification {i}");
        assert_safe_message(&label, &u.to_string());
        assert_safe_message(&label, &u.error().to_string());
        assert_safe_debug(&label, &format!("{u:?}"));
        // The accessors keep what was sent.
        assert!(u.id().unwrap().contains('\u{202e}'), "{label}");
    }
    let (Some(first), Some(second)) = (all[0].unreadable(), all[1].unreadable()) else {
        unreachable!()
    };
    assert!(
        first
            .to_string()
            .starts_with("unreadable delivery at index 0 (id `\\u{202e}"),
        "{first}"
    );
    assert!(second.to_string().contains("(id `u\\u{202e}"), "{second}");
    assert_eq!(
        second.event_type(),
        Some(format!("enquiry{HOSTILE}").as_str())
    );
}
