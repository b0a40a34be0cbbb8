//! Serde helpers shared by every vendor: dates, instants, number-or-string
//! text, open enums, ID newtypes and the tagged envelope.
//!
//! Nothing here names a vendor; vendor modules describe their wire shapes
//! with these pieces.

#[macro_use]
mod macros;
mod datetime;
pub(crate) mod drift;
pub(crate) mod envelope;
mod forward;
mod id;
mod json;
mod path;

use std::cell::RefCell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use serde::Serializer;
use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::error::{Error, PayloadError};
use crate::read_error::ReadError;

pub(crate) use datetime::InstantCodec;
pub(crate) use id::IdText;

/// How one Rust type is written to and read from the wire, for the field
/// attributes `#[serde(with = "wire::Date")]` and friends.
pub(crate) trait Codec {
    /// The Rust type.
    type Value;
    /// Write `value` in its wire form.
    fn encode<S: Serializer>(value: &Self::Value, s: S) -> Result<S::Ok, S::Error>;
    /// Read a value from its wire form.
    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<Self::Value, D::Error>;
}

/// A required field written with codec `C`.
pub(crate) struct With<C>(PhantomData<C>);

impl<C: Codec> With<C> {
    pub(crate) fn serialize<S: Serializer>(value: &C::Value, s: S) -> Result<S::Ok, S::Error> {
        C::encode(value, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<C::Value, D::Error> {
        C::decode(d)
    }
}

/// An optional field written with codec `C`: `null` or missing is `None`.
/// Use it with `default` and `skip_serializing_if = "Option::is_none"`.
pub(crate) struct Opt<C>(PhantomData<C>);

impl<C: Codec> Opt<C> {
    pub(crate) fn serialize<S: Serializer>(
        value: &Option<C::Value>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => C::encode(value, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<C::Value>, D::Error> {
        d.deserialize_option(OptVisitor::<C>(PhantomData))
    }
}

struct OptVisitor<C>(PhantomData<C>);

impl<'de, C: Codec> Visitor<'de> for OptVisitor<C> {
    type Value = Option<C::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null or a value")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        C::decode(d).map(Some)
    }
}

/// `time::Date` as `YYYY-MM-DD`.
pub(crate) type Date = With<datetime::DateCodec>;
/// `Option<time::Date>` as `YYYY-MM-DD` or `null`.
pub(crate) type OptDate = Opt<datetime::DateCodec>;
/// `time::OffsetDateTime` as RFC 3339 (read leniently: RFC 3339, also with a space before the time).
pub(crate) type Instant = With<InstantCodec>;
/// `Option<time::OffsetDateTime>` as RFC 3339 or `null`.
pub(crate) type OptInstant = Opt<InstantCodec>;
/// `String` read from a JSON string or number, written as a string.
pub(crate) type Text = With<TextCodec>;
/// `Option<String>` read from a JSON string, number or `null`.
pub(crate) type OptText = Opt<TextCodec>;

/// A string that some senders write as a JSON number (postcodes, phone
/// numbers). Always kept as the string, so `"0800"` keeps its zero.
pub(crate) struct TextCodec;

impl Codec for TextCodec {
    type Value = String;

    fn encode<S: Serializer>(value: &String, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(value)
    }

    fn decode<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or a number")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }

    /// A float as `serde_json` hands it over when built with its
    /// `arbitrary_precision` feature: a one-entry map from a private key to
    /// the number's text. Read back as an `f64`, so that the text is the
    /// same whether or not the feature is on (`1e3` is `"1000"` either way).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<String, A::Error> {
        let refused = || de::Error::invalid_type(de::Unexpected::Map, &self);
        if !numbers_as_text() {
            return Err(refused());
        }
        let text = match map.next_key::<std::borrow::Cow<'_, str>>()? {
            Some(key) if key == NUMBER_TOKEN => map.next_value::<String>()?,
            _ => return Err(refused()),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(refused());
        }
        match text.parse::<f64>() {
            Ok(value) if value.is_finite() => self.visit_f64(value),
            _ => Err(refused()),
        }
    }
}

/// The key under which `serde_json` with `arbitrary_precision` hands a
/// number over as text (see [`numbers_as_text`]).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Whether the `serde_json` in this build hands a float met by
/// `deserialize_any` to the visitor as its text (a one-entry map) rather
/// than as an `f64`. It does when any crate in the build turns on
/// `serde_json/arbitrary_precision`, which this crate cannot see at
/// compile time, so the answer is asked of `serde_json` once.
pub(crate) fn numbers_as_text() -> bool {
    static AS_TEXT: OnceLock<bool> = OnceLock::new();
    *AS_TEXT.get_or_init(|| {
        struct Probe;
        impl<'de> Visitor<'de> for Probe {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<bool, A::Error> {
                Ok(true)
            }
        }
        let mut de = serde_json::Deserializer::from_slice(b"0.5");
        // Anything unexpected counts as text: the fast reader then leaves
        // floats to `serde_json`, which is always right.
        de.deserialize_any(Probe).unwrap_or(true)
    })
}

/// The visitor behind every open enum: known values are matched without
/// allocating, others are kept.
pub(crate) struct OpenVisitor<T>(PhantomData<T>, &'static str);

impl<T> OpenVisitor<T> {
    pub(crate) fn new(name: &'static str) -> Self {
        OpenVisitor(PhantomData, name)
    }
}

/// An open enum: known values, and a catch-all for the others.
pub(crate) trait Open {
    /// `false` for the catch-all.
    fn is_known(&self) -> bool;
}

impl<T: for<'a> From<&'a str> + From<String> + Open> Visitor<'_> for OpenVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a string ({})", self.1)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        Ok(noted(T::from(v)))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<T, E> {
        Ok(noted(T::from(v)))
    }
}

/// `value`, told to a drift walk when it is one its enum does not know.
#[inline(always)]
fn noted<T: Open>(value: T) -> T {
    if !value.is_known() {
        drift::unknown_value();
    }
    value
}

/// A payload whose shape is chosen by a tag beside it in an envelope.
/// Implemented by `tagged_union!`.
pub(crate) trait Tagged: Sized {
    /// The open enum of tags.
    type Tag: DeserializeOwned;
    /// The key of the tag (`type`, `event`).
    const TAG_KEY: &'static str;
    /// The key of the payload (`data`, `message`).
    const PAYLOAD_KEY: &'static str;

    /// The wire tag of this payload.
    fn tag(&self) -> &str;
    /// Read the payload for `tag`.
    fn deserialize_as<'de, D: Deserializer<'de>>(tag: Self::Tag, d: D) -> Result<Self, D::Error>;
    /// Write the payload alone (without its tag).
    fn serialize_payload<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
}

/// The rest of the envelope a [`Tagged`] payload travels in: the keys of
/// its identity, time and version. Written by each vendor beside its
/// envelope type, not by `tagged_union!`.
pub(crate) trait Envelope: Tagged {
    /// The key of the envelope's identity (`id`, `uuid`).
    const ID_KEY: &'static str;
    /// The key of the envelope's time (`created_at`, `timestamp`).
    const TIME_KEY: &'static str;
    /// The key of a version the envelope may carry beside its identity
    /// (`messageVersion`), if the vendor has one.
    const VERSION_KEY: Option<&'static str> = None;
}

/// The payload of a type the crate does not know: its tag and raw JSON.
pub(crate) trait Unknown {
    /// Keep an unknown payload.
    fn new(tag: String, raw: serde_json::Value) -> Self;
    /// The tag as sent.
    fn tag(&self) -> &str;
    /// The payload as sent.
    fn raw(&self) -> &serde_json::Value;
}

/// A type the crate reads whole from a body, with what its errors say.
///
/// [`decode`] is the one way bodies are read: the fast reader first, and
/// when it gives up, [`Decode::decode_slowly`]. The hooks add what a
/// failure should name.
pub(crate) trait Decode: DeserializeOwned {
    /// The event type a body that failed declares, for the message: read
    /// again, only on the error path.
    fn event_type(_body: &[u8]) -> Option<String> {
        None
    }

    /// The error of a body that failed, with what to add to it (the
    /// unreadable delivery it still holds).
    fn with_context(_body: &[u8], error: ReadError) -> PayloadError {
        error.into()
    }

    /// The body the fast reader gave up on: `serde_json` reads it and
    /// decides, and a failure names the event type and the path to the
    /// failing field, with [`Decode::with_context`] added.
    fn decode_slowly(body: &[u8]) -> Result<Self, PayloadError> {
        path::from_slice(body).map_err(|err| {
            let tag = Self::event_type(body);
            let path = path::error_path::<Self>(body);
            Self::with_context(body, ReadError::new(&err, tag.as_deref(), path))
        })
    }
}

/// Read `body` as a `T`: in one pass with the fast reader, and when it
/// gives up, and only then, as [`Decode::decode_slowly`] says.
#[inline]
pub(crate) fn decode<T: Decode>(body: &[u8]) -> Result<T, PayloadError> {
    read(body)
}

/// [`decode`], with the error as the crate's [`Error`].
#[inline]
pub(crate) fn decode_body<T: Decode>(body: &[u8]) -> Result<T, Error> {
    read(body)
}

/// [`decode`] for the caller's error type: the fast reader's value goes
/// straight into the `Result` the caller returns, not through another
/// `Result` first (each step would copy it).
#[inline(always)]
fn read<T: Decode, E: From<PayloadError>>(body: &[u8]) -> Result<T, E> {
    match json::from_slice(body) {
        Ok(value) => Ok(value),
        Err(_) => slowly(body),
    }
}

/// Read `body` as a `T` with the fast reader alone: `None` where it gives
/// up, for a caller whose slow reading is its own.
#[inline]
pub(crate) fn decode_fast<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    json::from_slice(body).ok()
}

/// The slow half of [`read`], kept out of its inlined fast path.
#[cold]
#[inline(never)]
fn slowly<T: Decode, E: From<PayloadError>>(body: &[u8]) -> Result<T, E> {
    T::decode_slowly(body).map_err(E::from)
}

/// Why the fast reader gives up on `body` as a `T`, where and with what
/// message; `None` when it reads it. For tests, so that a body that leaves
/// the fast path is explained in the failure.
#[cfg(test)]
pub(crate) fn why_fast_reader_gives_up<T: DeserializeOwned>(body: &[u8]) -> Option<String> {
    json::explain::<T>(body)
}

/// Panic unless the fast reader agrees with `serde_json` on `body`: when
/// it gives a value, `serde_json` (through the error-path wrapper that
/// `from_body` falls back to) gives an identical one. Returns whether the
/// fast reader gave a value.
#[cfg(any(test, fuzzing))]
pub(crate) fn assert_agrees<T: DeserializeOwned + fmt::Debug>(body: &[u8]) -> bool {
    let Ok(fast) = json::from_slice::<T>(body) else {
        return false;
    };
    match path::from_slice::<T>(body) {
        // `Debug` shows every field, and floats exactly (`-0.0` too).
        Ok(slow) => assert_eq!(
            format!("{fast:?}"),
            format!("{slow:?}"),
            "the fast reader and serde_json disagree on {:?}",
            String::from_utf8_lossy(body)
        ),
        Err(err) => panic!(
            "the fast reader accepted what serde_json refuses ({err}): {:?}",
            String::from_utf8_lossy(body)
        ),
    }
    true
}

/// Check every fixture under `fixtures/<dir>`, as shipped and as
/// `rewrite` writes it back: each takes the fast reader, which agrees with
/// `serde_json`. (When `serde_json` keeps floats as text, the reader
/// leaves raw floats to it: then only agreement is checked.) Returns how
/// many fixtures there were.
#[cfg(test)]
pub(crate) fn fixtures_take_the_fast_reader<T: DeserializeOwned + fmt::Debug>(
    dir: &str,
    rewrite: impl Fn(&[u8]) -> Vec<u8>,
) -> usize {
    let dir = format!("{}/fixtures/{dir}", env!("CARGO_MANIFEST_DIR"));
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let body = std::fs::read(entry.unwrap().path()).unwrap();
        let written = rewrite(&body);
        for body in [body, written] {
            let shown = String::from_utf8_lossy(&body);
            let took = assert_agrees::<T>(&body);
            assert!(
                took || numbers_as_text(),
                "the fast reader gave up on {shown}: {}",
                why_fast_reader_gives_up::<T>(&body).unwrap_or_default()
            );
        }
        seen += 1;
    }
    seen
}

/// The string value of the top-level key `tag_key`, if `body` is an object
/// that has one before any syntax error. Only used on the error path.
pub(crate) fn peek_tag(body: &[u8], tag_key: &str) -> Option<String> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let _ = de.deserialize_map(PeekVisitor {
        key: tag_key,
        found: &found,
    });
    found.into_inner()
}

struct PeekVisitor<'a> {
    key: &'a str,
    found: &'a RefCell<Option<String>>,
}

impl<'de> Visitor<'de> for PeekVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.key && self.found.borrow().is_none() {
                if let Ok(tag) = map.next_value::<String>() {
                    *self.found.borrow_mut() = Some(tag);
                }
                return Ok(());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, serde::Serialize, Deserialize)]
    struct Sample {
        #[serde(with = "Text")]
        code: String,
        #[serde(with = "OptText", default, skip_serializing_if = "Option::is_none")]
        phone: Option<String>,
        #[serde(with = "OptDate", default, skip_serializing_if = "Option::is_none")]
        due: Option<time::Date>,
    }

    #[test]
    fn text_keeps_strings_and_spells_numbers() {
        let s: Sample = serde_json::from_str(r#"{"code": "0800", "phone": 61444111222}"#).unwrap();
        assert_eq!(s.code, "0800");
        assert_eq!(s.phone.as_deref(), Some("61444111222"));
        assert_eq!(s.due, None);
        let s: Sample =
            serde_json::from_str(r#"{"code": 3003, "phone": null, "due": null}"#).unwrap();
        assert_eq!(s.code, "3003");
        assert_eq!(s.phone, None);
        let s: Sample = serde_json::from_str(r#"{"code": -1.5}"#).unwrap();
        assert_eq!(s.code, "-1.5");
        let err = serde_json::from_str::<Sample>(r#"{"code": true}"#).unwrap_err();
        assert!(
            err.to_string().contains("expected a string or a number"),
            "{err}"
        );
    }

    #[test]
    fn numbers_as_text_says_what_serde_json_does() {
        // With `arbitrary_precision`, a `Number` keeps the text it was read
        // from; without it, it holds the float.
        let kept = serde_json::from_str::<serde_json::Number>("1e3")
            .unwrap()
            .to_string()
            .contains('e');
        assert_eq!(numbers_as_text(), kept);
    }

    #[test]
    fn text_takes_a_number_map_only_from_serde_json_with_numbers_as_text() {
        let body = br#"{"code": {"$serde_json::private::Number": "1e3"}}"#;
        let read = serde_json::from_slice::<Sample>(body);
        if numbers_as_text() {
            assert_eq!(read.unwrap().code, "1000");
        } else {
            let err = read.unwrap_err().to_string();
            assert!(err.contains("invalid type: map"), "{err}");
        }
        let err = serde_json::from_slice::<Sample>(br#"{"code": {"x": "1"}}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type: map"), "{err}");
    }

    #[test]
    fn optional_date_round_trips() {
        let s: Sample = serde_json::from_str(r#"{"code": "x", "due": "2027-05-05"}"#).unwrap();
        assert_eq!(s.due, Some(time::macros::date!(2027 - 05 - 05)));
        let back = serde_json::to_string(&s).unwrap();
        assert_eq!(back, r#"{"code":"x","due":"2027-05-05"}"#);
        let err =
            serde_json::from_str::<Sample>(r#"{"code": "x", "due": "2027-02-30"}"#).unwrap_err();
        assert!(err.to_string().contains("2027-02-30"), "{err}");
    }

    #[test]
    fn peek_finds_the_tag_before_a_later_error() {
        assert_eq!(
            peek_tag(br#"{"id": 1, "type": "a.b", "data": {"x": tru"#, "type").as_deref(),
            Some("a.b")
        );
        assert_eq!(peek_tag(br#"{"type": 5}"#, "type"), None);
        assert_eq!(peek_tag(b"[1]", "type"), None);
        assert_eq!(peek_tag(b"", "type"), None);
    }
}
