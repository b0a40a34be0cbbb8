//! The drift walk: read a body that parses again, and note every member
//! the model ignores and every open-enum value it does not know, at its
//! path.
//!
//! - Members: the models' `Deserialize` impls skip a member they do not
//!   know with `IgnoredAny`, that is `deserialize_ignored_any`. The walk
//!   wraps `serde_json`'s deserializer, keeps the stack of keys and indexes
//!   it is inside (as `path.rs` does for error paths), and notes the path
//!   of each skipped member, once, without looking inside it.
//! - Values: an open enum keeps an unknown value in `Unknown`, which no
//!   deserializer can see. [`OpenVisitor`](super::OpenVisitor) calls
//!   [`unknown_value`] then, which raises a flag for this thread only while
//!   a walk is reading a string; the walk notes the string at its path.
//!   Outside a walk the call reads one thread-local flag, and only for a
//!   value the enum does not know.
//! - Envelopes: the walk reads the envelope's members itself, so that the
//!   payload is walked in one pass whatever the order of the keys, and a
//!   payload of an unknown type is not walked at all.
//!
//! Only `drift` runs this; `parse` and `verify_and_parse` never do.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Envelope, Open};
use crate::drift::{DriftItem, DriftKind};
use crate::error::{Error, PayloadError};
use crate::text::sanitize;

/// Longest key in a path, in bytes once escaped, as in error paths.
const MAX_KEY: usize = 64;
/// Longest path, in bytes once escaped, as in error paths.
const MAX_PATH: usize = 256;

/// Not in a walk's string.
const IDLE: u8 = 0;
/// A walk is reading a string.
const WATCHING: u8 = 1;
/// ... and an open enum did not know it.
const UNKNOWN: u8 = 2;

thread_local! {
    static FLAG: Cell<u8> = const { Cell::new(IDLE) };
}

/// An open enum met a value it does not know. Noted only while a walk is
/// reading that value on this thread.
#[inline]
pub(crate) fn unknown_value() {
    FLAG.with(|flag| {
        if flag.get() == WATCHING {
            flag.set(UNKNOWN);
        }
    });
}

/// Run `read` on a string value, and say whether an open enum refused to
/// know it. The flag is down again afterwards, whatever `read` did.
fn watching<R>(read: impl FnOnce() -> R) -> (R, bool) {
    struct Lower;
    impl Drop for Lower {
        fn drop(&mut self) {
            FLAG.with(|flag| flag.set(IDLE));
        }
    }
    FLAG.with(|flag| flag.set(WATCHING));
    let _lower = Lower;
    let value = read();
    let unknown = FLAG.with(|flag| flag.get() == UNKNOWN);
    (value, unknown)
}

/// One step of a path.
#[derive(Clone)]
pub(crate) enum Segment {
    Key(String),
    Index(usize),
}

impl Segment {
    /// A key, as sent: [`path`] escapes and cuts it.
    pub(crate) fn key(key: &str) -> Self {
        Segment::Key(key.to_owned())
    }
}

/// The path of `stack`, as `PayloadError::path` writes one: each key
/// escaped and cut, then the whole.
pub(crate) fn path(stack: &[Segment]) -> String {
    let mut path = String::new();
    for segment in stack {
        match segment {
            Segment::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&sanitize(key, MAX_KEY));
            }
            Segment::Index(i) => {
                let _ = write!(path, "[{i}]");
            }
        }
    }
    sanitize(&path, MAX_PATH)
}

/// What a walk keeps: where it is, and what it found.
pub(crate) struct Walk {
    stack: RefCell<Vec<Segment>>,
    key: RefCell<Option<String>>,
    items: RefCell<Vec<DriftItem>>,
}

impl Walk {
    pub(crate) fn new() -> Self {
        Walk {
            stack: RefCell::new(Vec::new()),
            key: RefCell::new(None),
            items: RefCell::new(Vec::new()),
        }
    }

    /// What was found.
    pub(crate) fn into_items(self) -> Vec<DriftItem> {
        self.items.into_inner()
    }

    /// Note an item at the current path, below `extra`.
    fn note(&self, kind: DriftKind, extra: Option<Segment>, value: Option<String>) {
        let mut stack = self.stack.borrow_mut();
        let pushed = extra.map(|segment| stack.push(segment)).is_some();
        let path = path(&stack);
        if pushed {
            stack.pop();
        }
        drop(stack);
        self.items
            .borrow_mut()
            .push(DriftItem::new(kind, path, value));
    }

    /// Run `f` with `segment` pushed on the path.
    fn within<R>(&self, segment: Segment, f: impl FnOnce() -> R) -> R {
        self.stack.borrow_mut().push(segment);
        let result = f();
        self.stack.borrow_mut().pop();
        result
    }

    /// Walk one envelope of `T` (an object), found under `prefix`: its
    /// unknown members, then, when its tag is known, its payload; an
    /// unknown tag is one item and the payload is not walked.
    pub(crate) fn envelope<T: Envelope>(
        &self,
        prefix: Vec<Segment>,
        json: &str,
    ) -> Result<(), Error>
    where
        T::Tag: for<'a> From<&'a str> + Open,
    {
        *self.stack.borrow_mut() = prefix;
        let Members(members) = serde_json::from_str(json).map_err(payload_error)?;
        let mut tag = None;
        for (key, raw) in &members {
            if key == T::TAG_KEY {
                let text: String = serde_json::from_str(raw.get()).map_err(payload_error)?;
                tag = Some(text);
            }
        }
        let mut typed = tag.as_deref().map(T::Tag::from);
        let known = typed.as_ref().map(Open::is_known);
        // In the order of the body: its unknown members, and the payload
        // where it stands (after the tag or before it).
        for (key, raw) in members {
            if key == T::TAG_KEY {
                if let (Some(tag), Some(false)) = (&tag, known) {
                    let at = Segment::key(T::TAG_KEY);
                    self.note(DriftKind::UnknownType, Some(at), Some(tag.clone()));
                }
            } else if key == T::PAYLOAD_KEY {
                let Some(typed) = typed.take().filter(|_| known == Some(true)) else {
                    continue;
                };
                let mut de = serde_json::Deserializer::from_str(raw.get());
                self.within(Segment::key(T::PAYLOAD_KEY), || {
                    T::deserialize_as(
                        typed,
                        Walker {
                            inner: &mut de,
                            walk: self,
                            key: false,
                        },
                    )
                    .map(drop)
                })
                .map_err(payload_error)?;
            } else if key != T::ID_KEY
                && key != T::TIME_KEY
                && T::VERSION_KEY.is_none_or(|version| key != version)
            {
                self.note(DriftKind::UnknownField, Some(Segment::key(&key)), None);
            }
        }
        Ok(())
    }
}

/// A body that parsed but that the walk cannot read (it is not valid
/// UTF-8 inside a member the model skips).
pub(crate) fn payload_error(err: serde_json::Error) -> Error {
    Error::Payload(PayloadError::new(&err, None, None))
}

/// The members of one object, in order, each raw.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> de::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    members.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// The elements of a body that is an array, each raw; `None` for an
/// object (a bare notification).
pub(crate) fn elements(json: &str) -> Result<Option<Vec<&RawValue>>, Error> {
    if json.trim_start().starts_with('[') {
        serde_json::from_str(json).map(Some).map_err(payload_error)
    } else {
        Ok(None)
    }
}

/// A deserializer that tells its [`Walk`] where it is. With `key` set it
/// reads a map key, whose text is noted.
struct Walker<'w, D> {
    inner: D,
    walk: &'w Walk,
    key: bool,
}

struct WalkVisitor<'w, V> {
    inner: V,
    walk: &'w Walk,
    key: bool,
}

struct WalkSeed<'w, S> {
    inner: S,
    walk: &'w Walk,
    key: bool,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WalkSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Walker {
            inner: d,
            walk: self.walk,
            key: self.key,
        })
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method($($arg,)* WalkVisitor { inner: visitor, walk: self.walk, key: self.key })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Walker<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any();
        deserialize_bool();
        deserialize_i8();
        deserialize_i16();
        deserialize_i32();
        deserialize_i64();
        deserialize_i128();
        deserialize_u8();
        deserialize_u16();
        deserialize_u32();
        deserialize_u64();
        deserialize_u128();
        deserialize_f32();
        deserialize_f64();
        deserialize_char();
        deserialize_str();
        deserialize_string();
        deserialize_bytes();
        deserialize_byte_buf();
        deserialize_option();
        deserialize_unit();
        deserialize_unit_struct(name: &'static str);
        deserialize_newtype_struct(name: &'static str);
        deserialize_seq();
        deserialize_tuple(len: usize);
        deserialize_tuple_struct(name: &'static str, len: usize);
        deserialize_map();
        deserialize_struct(name: &'static str, fields: &'static [&'static str]);
        deserialize_enum(name: &'static str, variants: &'static [&'static str]);
        deserialize_identifier();
    }

    /// A member the model skips: noted at its own path, and skipped
    /// without looking inside.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        if !self.key {
            self.walk.note(DriftKind::UnknownField, None, None);
        }
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<'w, V> WalkVisitor<'w, V> {
    /// Read a string: a key is noted as the next path step; a value is
    /// watched for an open enum that does not know it.
    fn string<R>(self, text: &str, read: impl FnOnce(V) -> R) -> R {
        if self.key {
            *self.walk.key.borrow_mut() = Some(text.to_owned());
            return read(self.inner);
        }
        let (value, unknown) = watching(|| read(self.inner));
        if unknown {
            self.walk
                .note(DriftKind::UnknownValue, None, Some(text.to_owned()));
        }
        value
    }
}

macro_rules! forward_visit {
    ($($method:ident($ty:ty);)*) => {
        $(
            fn $method<E: de::Error>(self, v: $ty) -> Result<V::Value, E> {
                self.inner.$method(v)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for WalkVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool(bool);
        visit_i8(i8);
        visit_i16(i16);
        visit_i32(i32);
        visit_i64(i64);
        visit_i128(i128);
        visit_u8(u8);
        visit_u16(u16);
        visit_u32(u32);
        visit_u64(u64);
        visit_u128(u128);
        visit_f32(f32);
        visit_f64(f64);
        visit_char(char);
        visit_bytes(&[u8]);
        visit_borrowed_bytes(&'de [u8]);
        visit_byte_buf(Vec<u8>);
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.string(v, |inner| inner.visit_str(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.string(v, |inner| inner.visit_borrowed_str(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        let text = v.clone();
        self.string(&text, |inner| inner.visit_string(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Walker {
            inner: d,
            walk: self.walk,
            key: self.key,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Walker {
            inner: d,
            walk: self.walk,
            key: self.key,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(WalkSeq {
            inner: seq,
            walk: self.walk,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(WalkMap {
            inner: map,
            walk: self.walk,
        })
    }

    /// The models have no serde enums: an enum's insides are not walked.
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

struct WalkSeq<'w, A> {
    inner: A,
    walk: &'w Walk,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WalkSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let (walk, index) = (self.walk, self.index);
        self.index += 1;
        let inner = &mut self.inner;
        walk.within(Segment::Index(index), || {
            inner.next_element_seed(WalkSeed {
                inner: seed,
                walk,
                key: false,
            })
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct WalkMap<'w, A> {
    inner: A,
    walk: &'w Walk,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WalkMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(WalkSeed {
            inner: seed,
            walk: self.walk,
            key: true,
        })
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let walk = self.walk;
        let key = walk.key.borrow_mut().take().unwrap_or_else(|| "?".into());
        let inner = &mut self.inner;
        walk.within(Segment::Key(key), || {
            inner.next_value_seed(WalkSeed {
                inner: seed,
                walk,
                key: false,
            })
        })
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// `body` as text: a body that parses may still hold bytes that are not
/// UTF-8 inside a member the model skips, which the walk cannot read.
pub(crate) fn text(body: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(body).map_err(|_| {
        payload_error(de::Error::custom(
            "the body is not valid UTF-8 in a member the model skips",
        ))
    })
}

/// IDs share the open enums' visitor; every ID is known.
impl Open for super::IdText {
    fn is_known(&self) -> bool {
        true
    }
}
