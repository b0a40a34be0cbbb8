//! Nothing the crate prints gives away a secret or the signature that would
//! have matched, and sender data is echoed only cut short.
//!
//! Every error path of both vendors is taken (missing, malformed, mismatch,
//! too old, in the future, payload errors of signed bodies, empty secret),
//! and each error's `Display`, `Debug` and `{:#?}`, its sources, and the
//! `Debug` of the verifiers holding several secrets are searched for every
//! form a secret or a tag could take.

mod common;

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

/// A payload error whose `Display` and `Debug` are short, whatever the size
/// of the sender's strings.
fn assert_bounded(label: &str, result: Result<impl std::fmt::Debug, Error>) -> PayloadError {
    let err = match result {
        Err(Error::Payload(p)) => p,
        other => panic!("{label}: {:.300}", format!("{other:?}")),
    };
    let shown = err.to_string();
    let debug = format!("{err:?}");
    assert!(
        shown.len() < 1024,
        "{label}: {} bytes: {shown:.300}",
        shown.len()
    );
    assert!(
        debug.len() < 2048,
        "{label}: {} bytes: {debug:.300}",
        debug.len()
    );
    assert!(
        err.message().chars().count() <= 201,
        "{label}: {}",
        err.message()
    );
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
    assert!(e.event_type().unwrap().ends_with('…'), "{e}");

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

    assert_bounded(
        "1 MB unknown key next to a missing field",
        smartcomply::parse(&smartcomply_event(
            "webhook.test",
            ok_time,
            &format!(r#"{{"{big}":"{big}"}}"#),
        )),
    );
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
    assert!(e.event_type().unwrap().ends_with('…'), "{e}");

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
