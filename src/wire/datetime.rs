//! Dates and instants: fixed-format fast paths, lenient where senders vary.

use std::fmt;

use serde::Serializer;
use serde::de::{self, Deserializer, Visitor};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::Codec;

/// Longest sender string echoed back in an error message, in bytes once
/// escaped.
const MAX_ECHO: usize = 64;

/// Parse a calendar date written `YYYY-MM-DD`.
///
/// ```text
/// 2026-05-05
/// ```
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() != 10 {
        return None;
    }
    date_at(b)
}

/// Parse an instant: RFC 3339 (`2026-05-05T14:30:00.000Z`,
/// `2026-05-05T14:30:00+10:00`), also with a space or a lowercase `t`
/// between date and time (`2020-11-28 06:08:01.000Z`), as some senders
/// write it. Fractional seconds beyond nanoseconds are truncated.
pub(crate) fn parse_instant(s: &str) -> Option<OffsetDateTime> {
    fast_instant(s.as_bytes()).or_else(|| OffsetDateTime::parse(s, &Rfc3339).ok())
}

fn digits2(b: &[u8]) -> Option<u8> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some((a - b'0') * 10 + (c - b'0')),
        _ => None,
    }
}

fn date_at(b: &[u8]) -> Option<Date> {
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let year = i32::from(digits2(b.get(0..2)?)?) * 100 + i32::from(digits2(b.get(2..4)?)?);
    let month = Month::try_from(digits2(b.get(5..7)?)?).ok()?;
    let day = digits2(b.get(8..10)?)?;
    Date::from_calendar_date(year, month, day).ok()
}

fn fast_instant(b: &[u8]) -> Option<OffsetDateTime> {
    let date = date_at(b)?;
    if !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return None;
    }
    let hour = digits2(b.get(11..13)?)?;
    let minute = digits2(b.get(14..16)?)?;
    let second = digits2(b.get(17..19)?)?;
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while let Some(d @ b'0'..=b'9') = b.get(i).copied() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(d - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        for _ in n..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits2(&[*h1, *h2])?;
            let minutes = digits2(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let (h, m) = (hours as i8, minutes as i8);
            if *sign == b'-' {
                UtcOffset::from_hms(-h, -m, 0).ok()?
            } else {
                UtcOffset::from_hms(h, m, 0).ok()?
            }
        }
        _ => return None,
    };
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

/// A sender's string, escaped and cut for an error message between quotes.
struct Echo<'a>(&'a str);

impl fmt::Display for Echo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::sanitize_quoted(self.0, MAX_ECHO))
    }
}

/// What a [`FormVisitor`] says: what it expects (the first), and in an
/// error `invalid <the second> "<text>", expected <the third>`.
struct Wording(&'static str, &'static str, &'static str);

/// A string visitor that reads its value with `P`.
struct FormVisitor<P>(P, &'static Wording);

impl<T, P: FnOnce(&str) -> Option<T>> Visitor<'_> for FormVisitor<P> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1.0)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        let FormVisitor(parse, wording) = self;
        parse(v).ok_or_else(|| {
            E::custom(format_args!(
                "invalid {} \"{}\", expected {}",
                wording.1,
                Echo(v),
                wording.2
            ))
        })
    }
}

/// `time::Date` as `YYYY-MM-DD`.
pub(crate) struct DateCodec;

impl Codec for DateCodec {
    type Value = Date;

    fn encode<S: Serializer>(value: &Date, s: S) -> Result<S::Ok, S::Error> {
        let year = value.year();
        if !(0..=9999).contains(&year) {
            return Err(serde::ser::Error::custom("date year outside 0000..=9999"));
        }
        s.collect_str(&format_args!(
            "{year:04}-{:02}-{:02}",
            u8::from(value.month()),
            value.day()
        ))
    }

    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let wording = &Wording("a date string like \"2026-05-05\"", "date", "YYYY-MM-DD");
        d.deserialize_str(FormVisitor(parse_date, wording))
    }
}

/// `time::OffsetDateTime` written as RFC 3339, read with [`parse_instant`].
pub(crate) struct InstantCodec;

impl Codec for InstantCodec {
    type Value = OffsetDateTime;

    fn encode<S: Serializer>(value: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = value.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let wording = &Wording(
            "an RFC 3339 date-time string like \"2026-05-05T14:30:00Z\"",
            "date-time",
            "RFC 3339 like 2026-05-05T14:30:00Z",
        );
        d.deserialize_str(FormVisitor(parse_instant, wording))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-05-05"), Some(date!(2026 - 05 - 05)));
        assert_eq!(parse_date("2024-02-29"), Some(date!(2024 - 02 - 29)));
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-5-5",
            "2026-05-05T",
            "２０２６-05-05",
            "",
            "+2026-05-05",
            "2026/05/05",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn instants_in_every_sent_form() {
        let t = datetime!(2026-05-05 14:30:00 UTC);
        for s in [
            "2026-05-05T14:30:00Z",
            "2026-05-05T14:30:00.000Z",
            "2026-05-05 14:30:00.000Z",
            "2026-05-05t14:30:00z",
            "2026-05-06T00:30:00+10:00",
            "2026-05-05T10:30:00-04:00",
        ] {
            assert_eq!(parse_instant(s), Some(t), "{s}");
        }
        assert_eq!(
            parse_instant("2020-11-28 06:08:01.000Z"),
            Some(datetime!(2020-11-28 06:08:01 UTC))
        );
        assert_eq!(
            parse_instant("2026-05-05T14:30:00.123456789123Z"),
            Some(datetime!(2026-05-05 14:30:00.123456789 UTC))
        );
        assert_eq!(
            parse_instant("2026-05-05T14:30:00.5Z"),
            Some(datetime!(2026-05-05 14:30:00.5 UTC))
        );
    }

    #[test]
    fn instants_rejected() {
        for bad in [
            "2026-05-05",
            "2026-05-05T14:30:00",
            "2026-05-05T14:30:00.Z",
            "2026-05-05T24:00:00Z",
            "2026-05-05T14:30:00+24:00",
            "2026-05-05T14:30:00+1000",
            "2026-05-05T14:30Z",
            "2026-05-05T14:30:00Zjunk",
            "x",
            "",
        ] {
            assert_eq!(parse_instant(bad), None, "{bad}");
        }
    }

    /// The date rules the plain way, as `time` states them: the digits
    /// at their places, then `Date::from_calendar_date`.
    fn reference_date(b: &[u8]) -> Option<Date> {
        let text = std::str::from_utf8(b.get(..10)?).ok()?;
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = text.get(range)?;
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        if text.as_bytes().get(4) != Some(&b'-') || text.as_bytes().get(7) != Some(&b'-') {
            return None;
        }
        let year = i32::try_from(digits(0..4)?).ok()?;
        let month = Month::try_from(u8::try_from(digits(5..7)?).ok()?).ok()?;
        let day = u8::try_from(digits(8..10)?).ok()?;
        Date::from_calendar_date(year, month, day).ok()
    }

    #[test]
    fn every_day_of_every_year_as_time_reads_it() {
        for year in 0..=9999 {
            for month in 0..=13u8 {
                for day in [0u8, 1, 27, 28, 29, 30, 31, 32, 99] {
                    let text = format!("{year:04}-{month:02}-{day:02}");
                    assert_eq!(
                        date_at(text.as_bytes()),
                        reference_date(text.as_bytes()),
                        "{text}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]

        #[test]
        fn dates_agree_with_the_reference_on_any_text(
            text in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9 +x-]{10,12}|[\\x00-\\xff]{0,12}",
        ) {
            let b = text.as_bytes();
            proptest::prop_assert_eq!(date_at(b), reference_date(b), "{:?}", text);
            if b.len() == 10 {
                proptest::prop_assert_eq!(parse_date(&text), reference_date(b));
            }
        }

        #[test]
        fn dates_agree_with_the_reference_on_any_bytes(
            b in proptest::collection::vec(proptest::num::u8::ANY, 0..12),
        ) {
            proptest::prop_assert_eq!(date_at(&b), reference_date(&b));
        }

        #[test]
        fn instants_agree_with_rfc3339_where_both_read(
            (y, mo, d, h, mi, s) in (0i32..=9999, 1u8..=12, 1u8..=31, 0u8..=23, 0u8..=59, 0u8..=59),
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z");
            let want = OffsetDateTime::parse(&text, &Rfc3339).ok();
            proptest::prop_assert_eq!(fast_instant(text.as_bytes()), want, "{}", text);
        }
    }

    #[test]
    fn echo_is_bounded() {
        let long = "9".repeat(1000);
        let shown = Echo(&long).to_string();
        assert_eq!(shown.len(), MAX_ECHO);
        assert!(
            shown.starts_with("999") && shown.ends_with("999"),
            "{shown}"
        );
        assert!(shown.contains('…'), "{shown}");
        assert_eq!(Echo("a\"\n").to_string(), "a\\\"\\n");
        assert_eq!(Echo("1\u{202e}2").to_string(), "1\\u{202e}2");
    }
}
