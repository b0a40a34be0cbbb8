//! The envelope both vendors wrap their payloads in: an identity, a time,
//! a type tag and a payload whose shape the tag decides, and, for a vendor
//! that has one, an optional version beside the identity.
//!
//! The usual order puts the tag before the payload, and then the payload is
//! deserialized straight into its type in the same pass. When the payload
//! comes first it is buffered as a `serde_json::Value` and converted once
//! the tag is known.

use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::{Codec, Envelope, InstantCodec};

/// Read a whole envelope: identity, time, tag and payload are all required;
/// the version (for a `T` with a [`Envelope::VERSION_KEY`]) is optional.
/// `build` makes the caller's type from them, inside the visitor, so the
/// payload is moved once.
#[inline]
pub(crate) fn read_full<'de, D, I, T, R>(
    d: D,
    build: impl FnOnce(I, OffsetDateTime, Option<String>, T) -> R,
) -> Result<R, D::Error>
where
    D: Deserializer<'de>,
    I: Deserialize<'de>,
    T: Envelope,
{
    d.deserialize_map(EnvelopeVisitor {
        full: true,
        finish: Full(build),
        marker: PhantomData::<fn() -> (I, T)>,
    })
}

/// Read only the tag and payload; every other key is ignored.
pub(crate) fn read_payload<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Envelope,
{
    d.deserialize_map(EnvelopeVisitor {
        full: false,
        finish: PayloadOnly,
        marker: PhantomData::<fn() -> (IgnoredAny, T)>,
    })
}

/// The parts of an envelope as read; only the payload is required of
/// every envelope.
struct Parts<I, T> {
    id: Option<I>,
    time: Option<OffsetDateTime>,
    version: Option<String>,
    payload: T,
}

/// What an [`EnvelopeVisitor`] makes of the [`Parts`] it read, or which
/// required key is missing. The error type is the visitor's own, so the
/// result is written once, where the visitor returns it, not converted
/// from another `Result` (which would copy a large payload once more).
trait Finish<I, T> {
    type Output;

    fn finish<E: de::Error>(self, parts: Parts<I, T>) -> Result<Self::Output, E>;
}

/// The whole envelope, identity and time required.
struct Full<B>(B);

impl<I, T, R, B> Finish<I, T> for Full<B>
where
    T: Envelope,
    B: FnOnce(I, OffsetDateTime, Option<String>, T) -> R,
{
    type Output = R;

    #[inline(always)]
    fn finish<E: de::Error>(self, parts: Parts<I, T>) -> Result<R, E> {
        match (parts.id, parts.time) {
            (Some(id), Some(time)) => Ok((self.0)(id, time, parts.version, parts.payload)),
            (None, _) => Err(E::missing_field(T::ID_KEY)),
            (_, None) => Err(E::missing_field(T::TIME_KEY)),
        }
    }
}

/// The payload alone.
struct PayloadOnly;

impl<I, T> Finish<I, T> for PayloadOnly {
    type Output = T;

    #[inline(always)]
    fn finish<E: de::Error>(self, parts: Parts<I, T>) -> Result<T, E> {
        Ok(parts.payload)
    }
}

/// Write an envelope in the order `id`, version, tag, time, payload,
/// leaving out the parts that are `None` (and the version of a `T` without
/// a [`Envelope::VERSION_KEY`]).
pub(crate) fn write<S, I, T>(
    s: S,
    id: Option<&I>,
    version: Option<&str>,
    time: Option<&OffsetDateTime>,
    payload: &T,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    I: Serialize,
    T: Envelope,
{
    let mut map = s.serialize_map(None)?;
    if let Some(id) = id {
        map.serialize_entry(T::ID_KEY, id)?;
    }
    if let (Some(key), Some(version)) = (T::VERSION_KEY, version) {
        map.serialize_entry(key, version)?;
    }
    map.serialize_entry(T::TAG_KEY, payload.tag())?;
    if let Some(time) = time {
        map.serialize_entry(T::TIME_KEY, &Encoded::<InstantCodec>(time))?;
    }
    map.serialize_entry(T::PAYLOAD_KEY, &Payload(payload))?;
    map.end()
}

struct Encoded<'a, C: Codec>(&'a C::Value);

impl<C: Codec> Serialize for Encoded<'_, C> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        C::encode(self.0, s)
    }
}

struct Payload<'a, T>(&'a T);

impl<T: Envelope> Serialize for Payload<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize_payload(s)
    }
}

/// Reads an envelope's keys and hands what it found to `finish` (a
/// [`Finish`]), which makes the result or names a missing key.
struct EnvelopeVisitor<I, T, F> {
    /// Whether identity and time are read (and required).
    full: bool,
    finish: F,
    marker: PhantomData<fn() -> (I, T)>,
}

enum Key {
    Id,
    Time,
    Version,
    Tag,
    Payload,
    Other,
}

struct KeySeed<T> {
    full: bool,
    marker: PhantomData<fn() -> T>,
}

impl<'de, T: Envelope> DeserializeSeed<'de> for KeySeed<T> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<T: Envelope> Visitor<'_> for KeySeed<T> {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        self.visit_bytes(key.as_bytes())
    }

    fn visit_bytes<E: de::Error>(self, key: &[u8]) -> Result<Key, E> {
        Ok(if key == T::TAG_KEY.as_bytes() {
            Key::Tag
        } else if key == T::PAYLOAD_KEY.as_bytes() {
            Key::Payload
        } else if self.full && key == T::ID_KEY.as_bytes() {
            Key::Id
        } else if self.full && key == T::TIME_KEY.as_bytes() {
            Key::Time
        } else if self.full && T::VERSION_KEY.is_some_and(|v| key == v.as_bytes()) {
            Key::Version
        } else {
            Key::Other
        })
    }
}

struct PayloadSeed<T: Envelope>(T::Tag);

impl<'de, T: Envelope> DeserializeSeed<'de> for PayloadSeed<T> {
    type Value = T;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize_as(self.0, d)
    }
}

struct DecodeSeed<C>(PhantomData<C>);

impl<'de, C: Codec> DeserializeSeed<'de> for DecodeSeed<C> {
    type Value = C::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<C::Value, D::Error> {
        C::decode(d)
    }
}

fn duplicate<E: de::Error>(seen: bool, key: &'static str) -> Result<(), E> {
    if seen {
        Err(E::duplicate_field(key))
    } else {
        Ok(())
    }
}

impl<'de, I, T, F> Visitor<'de> for EnvelopeVisitor<I, T, F>
where
    I: Deserialize<'de>,
    T: Envelope,
    F: Finish<I, T>,
{
    type Value = F::Output;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.full {
            write!(
                f,
                "an event object with `{}`, `{}`, `{}` and `{}`",
                T::ID_KEY,
                T::TAG_KEY,
                T::TIME_KEY,
                T::PAYLOAD_KEY
            )
        } else {
            write!(
                f,
                "an object with `{}` and `{}`",
                T::TAG_KEY,
                T::PAYLOAD_KEY
            )
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut id = None;
        let mut time = None;
        let mut version: Option<String> = None;
        let mut version_seen = false;
        let mut tag: Option<T::Tag> = None;
        let mut tag_seen = false;
        let mut payload: Option<T> = None;
        let mut early: Option<serde_json::Value> = None;
        let full = self.full;
        let keys = || KeySeed::<T> {
            full,
            marker: PhantomData,
        };
        while let Some(key) = map.next_key_seed(keys())? {
            match key {
                Key::Id => {
                    duplicate(id.is_some(), T::ID_KEY)?;
                    id = Some(map.next_value()?);
                }
                Key::Time => {
                    duplicate(time.is_some(), T::TIME_KEY)?;
                    time = Some(map.next_value_seed(DecodeSeed::<InstantCodec>(PhantomData))?);
                }
                Key::Version => {
                    duplicate(version_seen, T::VERSION_KEY.unwrap_or_default())?;
                    version_seen = true;
                    version = map.next_value()?;
                }
                Key::Tag => {
                    duplicate(tag_seen, T::TAG_KEY)?;
                    tag_seen = true;
                    let value: T::Tag = map.next_value()?;
                    match early.take() {
                        Some(raw) => {
                            payload =
                                Some(T::deserialize_as(value, raw).map_err(de::Error::custom)?)
                        }
                        None => tag = Some(value),
                    }
                }
                Key::Payload => {
                    duplicate(payload.is_some() || early.is_some(), T::PAYLOAD_KEY)?;
                    match tag.take() {
                        Some(value) => {
                            payload = Some(map.next_value_seed(PayloadSeed::<T>(value))?)
                        }
                        None => early = Some(map.next_value()?),
                    }
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !tag_seen {
            return Err(de::Error::missing_field(T::TAG_KEY));
        }
        let Some(payload) = payload else {
            return Err(de::Error::missing_field(T::PAYLOAD_KEY));
        };
        self.finish.finish(Parts {
            id,
            time,
            version,
            payload,
        })
    }
}

/// What an envelope says about itself, read without trusting the model:
/// the identity and the tag when each is a string sent once, the time when
/// it is sent once as an instant the model reads, and the payload's raw
/// JSON when it is sent once.
///
/// Only the error path uses it, to keep what a body that does not fit the
/// model still says.
pub(crate) struct Lenient<'a> {
    pub(crate) id: Option<String>,
    pub(crate) tag: Option<String>,
    pub(crate) time: Option<OffsetDateTime>,
    pub(crate) payload: Option<&'a RawValue>,
}

/// Read `json` leniently as the envelope of `T`: `None` unless all of it is
/// one syntactically valid JSON object.
///
/// It nests no deeper than the object and its direct values, so a deeply
/// nested body costs no stack: raw and ignored values are skipped by
/// `serde_json` without recursing.
pub(crate) fn read_lenient<T: Envelope>(json: &[u8]) -> Option<Lenient<'_>> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let lenient = de
        .deserialize_map(LenientVisitor(PhantomData::<fn() -> T>))
        .ok()?;
    de.end().ok()?;
    Some(lenient)
}

/// A key's value as far as it can be read: nothing yet, one value (which
/// may be unreadable), or more than one, which is ambiguous.
enum Once<T> {
    Absent,
    One(Option<T>),
    Many,
}

impl<T> Once<T> {
    fn put(&mut self, value: Option<T>) {
        *self = match self {
            Once::Absent => Once::One(value),
            _ => Once::Many,
        };
    }

    fn get(self) -> Option<T> {
        match self {
            Once::One(value) => value,
            Once::Absent | Once::Many => None,
        }
    }
}

struct LenientVisitor<T>(PhantomData<fn() -> T>);

impl<'de, T: Envelope> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lenient<'de>, A::Error> {
        let mut id = Once::Absent;
        let mut tag = Once::Absent;
        let mut time = Once::Absent;
        let mut payload = Once::Absent;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == T::ID_KEY {
                id.put(map.next_value::<MaybeString>()?.0);
            } else if key == T::TAG_KEY {
                tag.put(map.next_value::<MaybeString>()?.0);
            } else if key == T::TIME_KEY {
                let text = map.next_value::<MaybeString>()?.0;
                time.put(text.as_deref().and_then(super::datetime::parse_instant));
            } else if key == T::PAYLOAD_KEY {
                payload.put(Some(map.next_value::<&'de RawValue>()?));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Lenient {
            id: id.get(),
            tag: tag.get(),
            time: time.get(),
            payload: payload.get(),
        })
    }
}

/// Any JSON value: the text of a string, `None` for anything else (whose
/// contents are skipped, not read).
struct MaybeString(Option<String>);

impl<'de> Deserialize<'de> for MaybeString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MaybeStringVisitor)
    }
}

struct MaybeStringVisitor;

impl<'de> Visitor<'de> for MaybeStringVisitor {
    type Value = MaybeString;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<MaybeString, E> {
        Ok(MaybeString(Some(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<MaybeString, E> {
        Ok(MaybeString(Some(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeString, E> {
        Ok(MaybeString(None))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeString, E> {
        Ok(MaybeString(None))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeString, E> {
        Ok(MaybeString(None))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeString, E> {
        Ok(MaybeString(None))
    }

    fn visit_unit<E: de::Error>(self) -> Result<MaybeString, E> {
        Ok(MaybeString(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeString, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(MaybeString(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MaybeString, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(MaybeString(None))
    }
}
