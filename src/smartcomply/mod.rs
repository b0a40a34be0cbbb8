//! SmartComply webhooks: backflow testing, industrial pretreatment, FOG
//! manifests, inspections, notices, reports and partner integrations.
//!
//! Every delivery is one JSON [`Event`] envelope, signed in the
//! [`SIGNATURE_HEADER`] as `t=<unix seconds>,v1=<hex>`, where the hex is
//! HMAC-SHA256 over `"{t}.{raw body}"` keyed with the endpoint's secret
//! (the whole `whsec_...` string).
//!
//! ```
//! use utility_webhooks::smartcomply::{self, EventData, Verifier};
//! use utility_webhooks::time::OffsetDateTime;
//!
//! # fn main() -> Result<(), utility_webhooks::Error> {
//! let body = br#"{"id":"evt_1","type":"test.failed","created_at":"2026-05-05T15:10:00Z",
//!   "data":{"test_id":"bft_1","assembly_id":"asm_1","tester_id":"tst_1",
//!           "result":"fail","test_date":"2026-05-05"}}"#;
//! let now = OffsetDateTime::now_utc();
//! let header = smartcomply::sign("whsec_demo", now, body);
//!
//! let verifier = Verifier::new("whsec_demo")?;
//! let event = verifier.verify_and_parse(&header, body)?;
//! assert_eq!(event.event_type(), "test.failed");
//! if let EventData::TestFailed(test) = &event.data {
//!     assert_eq!(test.assembly_id.as_str(), "asm_1");
//! }
//! # Ok(())
//! # }
//! ```

mod backflow;
mod event;
mod fog;
mod inspections;
mod notices;
mod partners;
mod pretreatment;
mod reports;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

use std::time::Duration;

use time::OffsetDateTime;

use crate::error::Error;
use crate::headers::SignatureInput;
use crate::signature::{self, Keys, Tags};
use crate::trace;
use event::VENDOR;

pub use backflow::{
    AssemblyDueSoon, AssemblyId, AssemblyType, TestFailed, TestId, TestReport, TestResult,
    TestSubmitted, TesterId,
};
pub use event::{Event, EventData, EventId, EventType, UnknownEvent, WebhookTest};
pub use fog::{EstablishmentId, HaulerId, ManifestFiled, PumpOutId};
pub use inspections::{InspectionCompleted, InspectionId, InspectionResult, InspectionType};
pub use notices::{FacilityId, NoticeCreated, NoticeId, NoticeType, Severity};
pub use partners::{IntegrationType, PartnerApplicationSubmitted, PartnerApproved, PartnerId};
pub use pretreatment::{
    Exceedance, IndustrialUserId, IuExceedanceDetected, PermitExpiring, PermitId, PermitType,
    SampleId,
};
pub use reports::{ReportCertified, ReportId, ReportType};

/// The header that carries the signature, lowercase as `http` spells
/// header names (header names are case-insensitive).
pub const SIGNATURE_HEADER: &str = "x-smartcomply-signature";

/// How far a signed timestamp may be from the verifier's clock, in either
/// direction, unless [`Verifier::with_tolerance`] says otherwise.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// Checks SmartComply signatures against one or more secrets.
///
/// Build one at start-up and share it between request handlers: it is
/// `Clone + Send + Sync`, each secret is keyed once, and its `Debug` shows
/// no secret.
///
/// Checks run in this order: the header is read, the signature is compared
/// (in constant time, against every secret), and only then is the
/// timestamp's age checked.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Keys,
    tolerance: Duration,
}

impl Verifier {
    /// A verifier for one secret: the signing secret string as shown by
    /// SmartComply, `whsec_` prefix included. An empty secret is
    /// [`Error::EmptySecret`].
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(Verifier {
            keys: Keys::new(secret.as_ref())?,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Accept one more secret, for rotation: a signature made with any of
    /// the verifier's secrets passes.
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        self.keys.add(secret.as_ref())?;
        Ok(self)
    }

    /// Set how far the signed timestamp may be from the clock, in the past
    /// and in the future (default [`DEFAULT_TOLERANCE`], 5 minutes). Whole
    /// seconds count; a timestamp exactly at the tolerance passes.
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }

    /// The replay window set by [`Verifier::with_tolerance`].
    pub fn tolerance(&self) -> Duration {
        self.tolerance
    }

    /// Verify a delivery against the system clock.
    ///
    /// `signature` is the value of [`SIGNATURE_HEADER`] (`&str`, `&[u8]`,
    /// an `http::HeaderValue`) or, with the `http` feature, the request's
    /// whole `http::HeaderMap` (see [`SignatureInput`]); `body` the raw
    /// bytes as received, before any JSON or UTF-8 processing.
    ///
    /// ```
    /// use utility_webhooks::smartcomply::{self, Verifier};
    /// use utility_webhooks::time::OffsetDateTime;
    ///
    /// let body = br#"{"id":"evt_1","type":"webhook.test","created_at":"2026-05-05T14:00:00Z",
    ///   "data":{"test":true,"sent_at":"2026-05-05T14:00:00Z"}}"#;
    /// let header = smartcomply::sign("whsec_demo", OffsetDateTime::now_utc(), body);
    /// let verifier = Verifier::new("whsec_demo")?;
    /// verifier.verify(&header, body)?;
    /// # #[cfg(feature = "http")]
    /// # {
    /// // With the `http` feature, the request's headers as they are:
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert(smartcomply::SIGNATURE_HEADER, header.parse().unwrap());
    /// verifier.verify(&headers, body)?;
    /// # }
    /// # Ok::<(), utility_webhooks::Error>(())
    /// ```
    pub fn verify(&self, signature: impl SignatureInput, body: &[u8]) -> Result<(), Error> {
        self.verified(signature, body, unix_now(), |_| Ok(()))
    }

    /// Check `signature` over `body` as of `now` (Unix seconds), then
    /// `read` the body, in one `webhook.verify` span: every `verify*`.
    #[inline(always)]
    fn verified<T: trace::Described>(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
        now: i64,
        read: impl FnOnce(&[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        trace::verification(VENDOR, body.len(), || {
            self.check(&signature, body, now)?;
            read(body)
        })
    }

    /// [`Verifier::verify_at`] without its span.
    fn check(&self, signature: &impl SignatureInput, body: &[u8], now: i64) -> Result<(), Error> {
        let header = Header::parse(signature.signature_value(SIGNATURE_HEADER)?)?;
        if !self
            .keys
            .matches(&[header.timestamp_text, b".", body], &header.signatures)
        {
            return Err(Error::SignatureMismatch);
        }
        check_age(header.timestamp, now, self.tolerance)
    }

    /// Read the signature header alone, before the body: a missing or
    /// malformed header is refused with the error [`Verifier::verify`]
    /// would give it ([`Error::MissingSignature`], [`Error::MalformedSignature`]).
    /// Call it before reading the body, so that a request that cannot be
    /// signed never costs a buffer (the axum extractor does). `Ok` says
    /// nothing of the signature itself: verify the body next.
    pub fn check_header(&self, signature: impl SignatureInput) -> Result<(), Error> {
        let header = signature.signature_value(SIGNATURE_HEADER);
        trace::header_refused(
            VENDOR,
            header.and_then(|value| Header::parse(value).map(drop)),
        )
    }

    /// Verify a delivery as of `now`.
    pub fn verify_at(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<(), Error> {
        self.verified(signature, body, now.unix_timestamp(), |_| Ok(()))
    }

    /// Verify against the system clock, then [`parse`].
    pub fn verify_and_parse(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
    ) -> Result<Event, Error> {
        self.verified(signature, body, unix_now(), parse)
    }

    /// Verify as of `now`, then [`parse`].
    pub fn verify_and_parse_at(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Event, Error> {
        self.verified(signature, body, now.unix_timestamp(), parse)
    }
}

/// Parse a body into an [`Event`] without verifying it: for stored bodies,
/// replays and tests. Anything not of the documented shape is
/// [`Error::Payload`], naming the event type when the body declares one.
///
/// When the envelope (`id`, `type`, `created_at`) reads but `data` does not
/// fit the model, the error also keeps the event:
/// [`PayloadError::unreadable`](crate::PayloadError::unreadable).
pub fn parse(body: &[u8]) -> Result<Event, Error> {
    crate::wire::decode_body(body)
}

/// What `body` holds that the model does not take in: members it ignores,
/// enum values and an event type it does not know. An error when `body`
/// does not parse, exactly as [`parse`] gives it; no verification.
///
/// It reads the body again, apart from [`parse`]: never in the way of the
/// answer to a delivery (run it in a task of its own, or on stored bodies).
/// The [`crate::drift`] module says more.
pub fn drift(body: &[u8]) -> Result<crate::drift::Drift, Error> {
    use crate::wire::drift::{Segment, Walk, text};
    parse(body)?;
    let walk = Walk::new();
    walk.envelope::<EventData>(Vec::<Segment>::new(), text(body)?)?;
    Ok(trace::drift(
        VENDOR,
        crate::drift::Drift::new(walk.into_items()),
    ))
}

/// The header value SmartComply would send for `body` at `timestamp`:
/// `t=<unix seconds>,v1=<lowercase hex>`. For tests and local tools.
pub fn sign(secret: impl AsRef<[u8]>, timestamp: OffsetDateTime, body: &[u8]) -> String {
    let t = timestamp.unix_timestamp().to_string();
    let v1 = signature::sign_hex(secret.as_ref(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={v1}")
}

/// The system clock in whole Unix seconds, rounded down as
/// `OffsetDateTime::now_utc().unix_timestamp()` rounds (both read
/// `SystemTime`), without building an `OffsetDateTime`: its calendar
/// fields are never used here. A clock past `i64` seconds (about 292
/// billion years) reads as the last second `i64` holds.
fn unix_now() -> i64 {
    unix_seconds(std::time::SystemTime::now())
}

/// `at` in whole Unix seconds, rounded down (toward the past), saturating
/// at the ends of `i64`.
fn unix_seconds(at: std::time::SystemTime) -> i64 {
    match at.duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            // A part second before the epoch rounds down to the next
            // whole second further back.
            let part = i64::from(before.subsec_nanos() > 0);
            whole.checked_neg().unwrap_or(i64::MIN).saturating_sub(part)
        }
    }
}

fn check_age(timestamp: i64, now: i64, tolerance: Duration) -> Result<(), Error> {
    // i128 holds every difference of two i64 and every u64, so nothing here
    // can overflow.
    let age = i128::from(now) - i128::from(timestamp);
    let tolerance = i128::from(tolerance.as_secs());
    if age > tolerance {
        Err(Error::TimestampTooOld)
    } else if -age > tolerance {
        Err(Error::TimestampInFuture)
    } else {
        Ok(())
    }
}

/// A read `x-smartcomply-signature` value.
struct Header<'a> {
    /// The `t` value as written: it is what was signed.
    timestamp_text: &'a [u8],
    timestamp: i64,
    /// The decoded `v1` values.
    signatures: Tags,
}

impl<'a> Header<'a> {
    /// Read the comma-separated `key=value` parts in one pass: exactly one
    /// `t`, at least one readable `v1`, other keys ignored, white space
    /// around parts, keys and values ignored, empty parts skipped, a part
    /// without `=` refused.
    ///
    /// A `v1` is readable when its value is 64 hex digits. An unreadable
    /// one (another length, not hex: a truncated entry or another scheme's
    /// value sent during a rotation) is skipped, as Stripe's libraries do:
    /// the header passes when any readable `v1` matches, and only a header
    /// with no readable `v1` at all is [`Error::MalformedSignature`].
    ///
    /// The header as SmartComply sends it, `t=<digits>,v1=<64 hex>`, is
    /// read without searching ([`Header::parse_usual`]); anything else
    /// goes through the general reader ([`Header::parse_general`]), which
    /// gives the same result for that shape too.
    #[inline]
    fn parse(header: &'a [u8]) -> Result<Self, Error> {
        match Self::parse_usual(header) {
            Some(header) => Ok(header),
            None => Self::parse_general(header),
        }
    }

    /// The usual shape, `t=<digits>,v1=<64 hex>` with nothing around it:
    /// `None` for anything else, including a timestamp past `i64` or a
    /// `v1` that is not 64 hex digits, which the general reader then
    /// decides.
    ///
    /// Kept beside the general reader, measured: see "One SmartComply
    /// header reader, and a fast path for its usual shape" in
    /// `docs/ARCHITECTURE.md`.
    #[inline]
    fn parse_usual(header: &'a [u8]) -> Option<Self> {
        let rest = header.strip_prefix(b"t=")?;
        // The hex after `,v1=` is exactly 64 digits, so the comma sits
        // 69 bytes before the end.
        let comma = rest.len().checked_sub(2 * signature::TAG_LEN + 4)?;
        let (timestamp_text, tail) = rest.split_at(comma);
        let hex_digits = tail.strip_prefix(b",v1=")?;
        if !timestamp_text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let timestamp = parse_unix(timestamp_text)?;
        let tag = signature::decode_tag(hex_digits)?;
        Some(Header {
            timestamp_text,
            timestamp,
            signatures: Tags::from(tag),
        })
    }

    /// The general reader, for every header the usual shape does not
    /// cover.
    #[cold]
    fn parse_general(header: &'a [u8]) -> Result<Self, Error> {
        let raw = header.trim_ascii();
        if raw.is_empty() {
            return Err(Error::MissingSignature);
        }
        let mut timestamp = None;
        let mut signatures = Tags::default();
        let mut rest = raw;
        while let Some((&first, after)) = rest.split_first() {
            if first == b',' || first.is_ascii_whitespace() {
                rest = after;
                continue;
            }
            // The key runs to `=`; a comma or the end first means a part
            // without one.
            let (key, value) = rest
                .iter()
                .position(|&b| b == b'=' || b == b',')
                .and_then(|at| match rest.split_at(at) {
                    (key, [b'=', value @ ..]) => {
                        Some((key.trim_ascii_end(), value.trim_ascii_start()))
                    }
                    _ => None,
                })
                .ok_or(Error::MalformedSignature)?;
            let end = value.iter().position(|&b| b == b',').unwrap_or(value.len());
            let text = value[..end].trim_ascii_end();
            match key {
                b"v1" => {
                    if let Some(tag) = signature::decode_tag(text) {
                        signatures.push(tag);
                    }
                }
                b"t" => {
                    if timestamp.is_some() {
                        return Err(Error::MalformedSignature);
                    }
                    let seconds = parse_unix(text).ok_or(Error::MalformedSignature)?;
                    timestamp = Some((text, seconds));
                }
                _ => {}
            }
            rest = &value[end..];
        }
        match timestamp {
            Some((timestamp_text, timestamp)) if !signatures.is_empty() => Ok(Header {
                timestamp_text,
                timestamp,
                signatures,
            }),
            _ => Err(Error::MalformedSignature),
        }
    }
}

/// A whole number of Unix seconds: an optional `-` and ASCII digits that
/// fit in `i64`.
fn parse_unix(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate below zero, where i64 reaches one further (i64::MIN).
    let mut below = 0i64;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        below = below
            .checked_mul(10)?
            .checked_sub(i64::from(digit - b'0'))?;
    }
    if negative {
        Some(below)
    } else {
        below.checked_neg()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Tag;
    use time::macros::datetime;

    const SECRET: &str = "whsec_test";
    const NOW: OffsetDateTime = datetime!(2026-05-05 14:00:00 UTC);

    fn verifier() -> Verifier {
        Verifier::new(SECRET).unwrap()
    }

    #[test]
    fn sign_then_verify() {
        let header = sign(SECRET, NOW, b"{}");
        assert!(header.starts_with("t=1777989600,v1="), "{header}");
        assert_eq!(header.len(), "t=1777989600,v1=".len() + 64);
        verifier().verify_at(&header, b"{}", NOW).unwrap();
        assert!(matches!(
            verifier().verify_at(&header, b"{ }", NOW),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn header_reading() {
        let sig = sign(SECRET, NOW, b"x");
        let v1 = sig.split_once(",v1=").unwrap().1;
        let ok = |h: String| verifier().verify_at(h, b"x", NOW);
        ok(format!(" v1 = {v1} , t = 1777989600 ")).unwrap();
        ok(format!(
            "t=1777989600,v0=abc,v1={},v1={v1},",
            "0".repeat(64)
        ))
        .unwrap();
        ok(format!("t=1777989600,v1={}", v1.to_uppercase())).unwrap();
        for (h, want) in [
            (String::new(), "MissingSignature"),
            (" \t ".into(), "MissingSignature"),
            (format!("v1={v1}"), "MalformedSignature"),
            ("t=1777989600".into(), "MalformedSignature"),
            (
                format!("t=1777989600,t=1777989600,v1={v1}"),
                "MalformedSignature",
            ),
            (format!("t=+1777989600,v1={v1}"), "MalformedSignature"),
            (format!("t=-,v1={v1}"), "MalformedSignature"),
            (
                format!("t=9223372036854775808,v1={v1}"),
                "MalformedSignature",
            ),
            (
                format!("t=1777989600,v1={}", &v1[..63]),
                "MalformedSignature",
            ),
            (format!("t=1777989600,v1={v1},junk"), "MalformedSignature"),
            (
                format!("t=1777989600,v1={}", "g".repeat(64)),
                "MalformedSignature",
            ),
        ] {
            let got = ok(h.clone()).unwrap_err();
            assert_eq!(got.kind().as_str(), want, "{h:?}");
        }
    }

    #[test]
    fn a_readable_signature_beside_an_unreadable_one() {
        let sig = sign(SECRET, NOW, b"x");
        let good = sig.split_once(",v1=").unwrap().1;
        let wrong = "0".repeat(64);
        let t = "t=1777989600";
        let check = |h: String| verifier().verify_at(h, b"x", NOW);
        // Any readable `v1` that matches passes, whatever sits beside it.
        for unreadable in [
            &good[..63],
            &good[..62],
            "",
            "zz",
            &format!("{good}00"),
            &format!("g{}", &good[1..]),
            &format!("{} {}", &good[..32], &good[32..]),
            &format!("{good}x"),
            "=abc",
        ] {
            for h in [
                format!("{t},v1={good},v1={unreadable}"),
                format!("{t},v1={unreadable},v1={good}"),
                format!("v1={unreadable} , {t} , v1 = {good} "),
            ] {
                assert!(check(h.clone()).is_ok(), "{h:?}");
            }
            // Readable entries that do not match: a mismatch.
            let h = format!("{t},v1={unreadable},v1={wrong}");
            assert!(
                matches!(check(h.clone()), Err(Error::SignatureMismatch)),
                "{h:?}"
            );
            // No readable entry at all: malformed.
            for h in [
                format!("{t},v1={unreadable}"),
                format!("{t},v1={unreadable},v1={}", &good[1..]),
            ] {
                assert!(
                    matches!(check(h.clone()), Err(Error::MalformedSignature)),
                    "{h:?}"
                );
            }
        }
        // Every other refusal stays, even beside a good `v1`.
        for (h, want) in [
            (format!("v1={good},v1=zz"), "MalformedSignature"),
            (format!("{t},{t},v1={good},v1=zz"), "MalformedSignature"),
            (format!("{t},v1={good},v1=zz,junk"), "MalformedSignature"),
            (format!("t=x,v1={good},v1=zz"), "MalformedSignature"),
        ] {
            let got = check(h.clone()).unwrap_err();
            assert_eq!(got.kind().as_str(), want, "{h:?}");
        }
        let at = |t: i64| {
            let v1 =
                signature::sign_hex(SECRET.as_bytes(), &[t.to_string().as_bytes(), b".", b"x"]);
            verifier().verify_at(format!("t={t},v1=zz,v1={v1}"), b"x", NOW)
        };
        let now = NOW.unix_timestamp();
        assert!(at(now).is_ok());
        assert!(matches!(at(now + 301), Err(Error::TimestampInFuture)));
        assert!(matches!(at(now - 301), Err(Error::TimestampTooOld)));
    }

    /// The header rules written the plain way: split on commas, then on
    /// the first `=`, trim everything, skip a `v1` that is not 64 hex
    /// digits. The one-pass reader must agree.
    fn reference_header(header: &[u8]) -> Result<(Vec<u8>, i64, Vec<Tag>), Error> {
        let raw = header.trim_ascii();
        if raw.is_empty() {
            return Err(Error::MissingSignature);
        }
        let (mut timestamp, mut tags) = (None, Vec::new());
        for part in raw.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
            if part.is_empty() {
                continue;
            }
            let eq = part.iter().position(|&b| b == b'=');
            let eq = eq.ok_or(Error::MalformedSignature)?;
            let (key, value) = (part[..eq].trim_ascii(), part[eq + 1..].trim_ascii());
            match key {
                b"t" if timestamp.is_none() => {
                    let seconds = std::str::from_utf8(value)
                        .ok()
                        .filter(|v| v.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
                        .filter(|v| !v.starts_with('+'))
                        .and_then(|v| v.parse::<i64>().ok())
                        .ok_or(Error::MalformedSignature)?;
                    timestamp = Some((value.to_vec(), seconds));
                }
                b"t" => return Err(Error::MalformedSignature),
                b"v1" => {
                    // An unreadable entry is skipped; a readable one counts.
                    let mut tag = [0u8; signature::TAG_LEN];
                    if hex::decode_to_slice(value, &mut tag).is_ok() {
                        tags.push(tag);
                    }
                }
                _ => {}
            }
        }
        match timestamp {
            Some((text, seconds)) if !tags.is_empty() => Ok((text, seconds, tags)),
            _ => Err(Error::MalformedSignature),
        }
    }

    fn one_pass_header(header: &[u8]) -> Result<(Vec<u8>, i64, Vec<Tag>), Error> {
        Header::parse(header).map(|h| {
            let tags = h.signatures.iter().copied().collect();
            (h.timestamp_text.to_vec(), h.timestamp, tags)
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        #[test]
        fn one_pass_header_reader_agrees_with_the_plain_rules(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    "[ \t]{0,2}t[ \t]{0,2}=[ \t]{0,2}-?[0-9]{1,20}[ \t]{0,2}",
                    "[ \t]{0,2}v1[ \t]{0,2}=[ \t]{0,2}[0-9a-fA-F]{62,66}[ \t]{0,2}",
                    "[ \t]{0,2}v[01][ \t]{0,2}=[ \t]{0,2}[0-9a-gA-G ]{60,66}",
                    "[a-z0-9= \t]{0,8}",
                    "[\\x00-\\xff]{0,4}",
                ],
                0..6,
            ),
        ) {
            let header = parts.join(",");
            let want = reference_header(header.as_bytes());
            let got = one_pass_header(header.as_bytes());
            proptest::prop_assert_eq!(format!("{got:?}"), format!("{want:?}"), "{:?}", header);
        }
    }

    fn general_header(header: &[u8]) -> Result<(Vec<u8>, i64, Vec<Tag>), Error> {
        Header::parse_general(header).map(|h| {
            let tags = h.signatures.iter().copied().collect();
            (h.timestamp_text.to_vec(), h.timestamp, tags)
        })
    }

    /// Where the usual-shape reader answers, the general reader gives the
    /// same header; and `Header::parse` always gives what the general
    /// reader gives.
    fn assert_fast_path_agrees(header: &[u8]) {
        let general = general_header(header);
        if let Some(h) = Header::parse_usual(header) {
            let tags: Vec<Tag> = h.signatures.iter().copied().collect();
            let fast = (h.timestamp_text.to_vec(), h.timestamp, tags);
            assert_eq!(
                format!("{:?}", Ok::<_, Error>(fast)),
                format!("{general:?}"),
                "{:?}",
                String::from_utf8_lossy(header)
            );
        }
        assert_eq!(
            format!("{:?}", one_pass_header(header)),
            format!("{general:?}"),
            "{:?}",
            String::from_utf8_lossy(header)
        );
    }

    #[test]
    fn the_usual_shape_takes_the_fast_path() {
        let header = sign(SECRET, NOW, b"x");
        assert!(Header::parse_usual(header.as_bytes()).is_some());
        assert_fast_path_agrees(header.as_bytes());
        let v1 = header.split_once(",v1=").unwrap().1;
        for (h, fast) in [
            (format!("t=0,v1={v1}"), true),
            (format!("t=,v1={v1}"), false),
            (format!("t=-1,v1={v1}"), false),
            (format!("t=+1,v1={v1}"), false),
            (format!("t=9223372036854775807,v1={v1}"), true),
            (format!("t=9223372036854775808,v1={v1}"), false),
            (format!("t=1777989600,v1={}", v1.to_uppercase()), true),
            (format!("t=1777989600,v1={}g", &v1[..63]), false),
            (format!("t=1777989600,v1={v1} "), false),
            (format!(" t=1777989600,v1={v1}"), false),
            (format!("t=1777989600 ,v1={v1}"), false),
            (format!("t=1777989600,v1={v1},"), false),
            (format!("t=1,v1=1,v1={v1}"), false),
            (format!("t=1777989600,v0={v1}"), false),
            (format!("v1={v1},t=1777989600"), false),
            ("t=1,v1=".to_owned(), false),
            (String::new(), false),
        ] {
            assert_eq!(Header::parse_usual(h.as_bytes()).is_some(), fast, "{h:?}");
            assert_fast_path_agrees(h.as_bytes());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn the_fast_path_agrees_with_the_general_reader_on_usual_shapes(
            t in "[ ]?[+-]?[0-9]{0,21}[ a]?",
            sep in proptest::prop_oneof![",v1=", ", v1=", ",v1 =", ",v0=", ",v1=="],
            v1 in "[0-9a-fA-F]{62,66}|[0-9a-gA-G ,]{64}",
            tail in proptest::prop_oneof!["", " ", ",", ",v1=0", "\\x00"],
        ) {
            let header = format!("t={t}{sep}{v1}{tail}");
            assert_fast_path_agrees(header.as_bytes());
        }

        #[test]
        fn the_fast_path_agrees_with_the_general_reader_on_any_bytes(
            header in proptest::collection::vec(proptest::num::u8::ANY, 0..90),
            usual in proptest::bool::ANY,
        ) {
            // Half the cases start as the usual shape does.
            let mut bytes = if usual { b"t=".to_vec() } else { Vec::new() };
            bytes.extend_from_slice(&header);
            assert_fast_path_agrees(&bytes);
        }
    }

    #[test]
    fn non_utf8_header_is_malformed_not_a_panic() {
        let got = verifier()
            .verify_at(b"t=1\xff,v1=\xfe", b"", NOW)
            .unwrap_err();
        assert!(matches!(got, Error::MalformedSignature));
    }

    #[test]
    fn age_window_both_ways_with_extreme_timestamps() {
        let v = verifier();
        let at = |t: i64| {
            let header = {
                let v1 =
                    signature::sign_hex(SECRET.as_bytes(), &[t.to_string().as_bytes(), b".", b"b"]);
                format!("t={t},v1={v1}")
            };
            v.verify_at(header, b"b", NOW)
        };
        let now = NOW.unix_timestamp();
        at(now - 300).unwrap();
        at(now + 300).unwrap();
        assert!(matches!(at(now - 301), Err(Error::TimestampTooOld)));
        assert!(matches!(at(now + 301), Err(Error::TimestampInFuture)));
        assert!(matches!(at(i64::MIN), Err(Error::TimestampTooOld)));
        assert!(matches!(at(i64::MAX), Err(Error::TimestampInFuture)));
        let wide = verifier().with_tolerance(Duration::from_secs(u64::MAX));
        let header = sign(SECRET, NOW, b"b");
        wide.verify_at(header, b"b", datetime!(9999-12-31 23:59:59 UTC))
            .unwrap();
    }

    #[test]
    fn unix_seconds_round_down_as_offset_date_time_does() {
        use std::time::{Duration as Span, UNIX_EPOCH};
        for nanos in [
            0i128,
            1,
            999_999_999,
            1_000_000_000,
            1_000_000_001,
            1_777_989_600_000_000_000,
            1_777_989_600_999_999_999,
            -1,
            -999_999_999,
            -1_000_000_000,
            -1_000_000_001,
            -1_777_989_600_500_000_000,
        ] {
            let magnitude = Span::from_nanos(u64::try_from(nanos.unsigned_abs()).unwrap());
            let at = if nanos < 0 {
                UNIX_EPOCH - magnitude
            } else {
                UNIX_EPOCH + magnitude
            };
            let want = OffsetDateTime::from(at).unix_timestamp();
            assert_eq!(unix_seconds(at), want, "{nanos} ns");
        }
        let clock = unix_now();
        let reference = OffsetDateTime::now_utc().unix_timestamp();
        assert!((reference - clock).abs() <= 1, "{clock} {reference}");
    }

    #[test]
    fn the_system_clock_path_keeps_the_window() {
        let v = verifier();
        let at = |offset: i64| {
            let t = OffsetDateTime::now_utc().unix_timestamp() + offset;
            let v1 =
                signature::sign_hex(SECRET.as_bytes(), &[t.to_string().as_bytes(), b".", b"b"]);
            v.verify(format!("t={t},v1={v1}"), b"b")
        };
        // A second's slack either side for the clock moving on between
        // signing and checking.
        at(0).unwrap();
        at(-299).unwrap();
        at(299).unwrap();
        assert!(matches!(at(-302), Err(Error::TimestampTooOld)));
        assert!(matches!(at(302), Err(Error::TimestampInFuture)));
    }

    #[test]
    fn signature_is_checked_before_age() {
        let header = sign("whsec_other", datetime!(2000-01-01 0:00 UTC), b"b");
        assert!(matches!(
            verifier().verify_at(header, b"b", NOW),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn rotation_accepts_either_secret() {
        let v = Verifier::new("whsec_old")
            .unwrap()
            .with_secret("whsec_new")
            .unwrap();
        v.verify_at(sign("whsec_old", NOW, b"b"), b"b", NOW)
            .unwrap();
        v.verify_at(sign("whsec_new", NOW, b"b"), b"b", NOW)
            .unwrap();
        assert!(matches!(
            v.verify_at(sign("whsec_x", NOW, b"b"), b"b", NOW),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn debug_hides_the_secret() {
        let shown = format!("{:?}", verifier().with_secret("whsec_second").unwrap());
        assert!(!shown.contains("whsec"), "{shown}");
        assert!(shown.contains("2 secret(s)"), "{shown}");
    }

    #[test]
    fn verifier_is_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Verifier>();
    }

    #[test]
    fn clones_share_the_keyed_states() {
        let v = verifier().with_secret("whsec_second").unwrap();
        let copy = v.clone().with_tolerance(Duration::from_secs(1));
        assert!(copy.keys.shares_states_with(&v.keys));
        copy.verify_at(sign("whsec_second", NOW, b"b"), b"b", NOW)
            .unwrap();
    }
}
