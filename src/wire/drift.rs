//! The drift walk: read a body that parses again, and note every member
//! the model ignores and every open-enum value it does not know, at its
//! path.
//!
//! - Members: the models' `Deserialize` impls skip a member they do not
//!   know with `IgnoredAny`, that is `deserialize_ignored_any`. The walk
//!   reads through the forwarding wrapper (`forward.rs`), keeps the keys
//!   and indexes it is inside on a [`Stack`] (as error paths do), and
//!   notes the path of each skipped member, once, without looking inside
//!   it.
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
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::forward::{Forward, Hook};
use super::path::Stack;
pub(crate) use super::path::{Segment, path};
use super::{Envelope, Open};
use crate::drift::{DriftItem, DriftKind};
use crate::error::Error;
use crate::read_error::ReadError;

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

/// What a walk keeps: where it is, and what it found.
pub(crate) struct Walk {
    stack: Stack,
    items: RefCell<Vec<DriftItem>>,
}

impl Walk {
    pub(crate) fn new() -> Self {
        Walk {
            stack: Stack::default(),
            items: RefCell::new(Vec::new()),
        }
    }

    /// What was found.
    pub(crate) fn into_items(self) -> Vec<DriftItem> {
        self.items.into_inner()
    }

    /// Note an item at `path`.
    fn note(&self, kind: DriftKind, path: String, value: Option<String>) {
        self.items
            .borrow_mut()
            .push(DriftItem::new(kind, path, value));
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
        self.stack.reset(prefix);
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
                    let at = self.stack.path_to(Segment::key(T::TAG_KEY));
                    self.note(DriftKind::UnknownType, at, Some(tag.clone()));
                }
            } else if key == T::PAYLOAD_KEY {
                let Some(typed) = typed.take().filter(|_| known == Some(true)) else {
                    continue;
                };
                let mut de = serde_json::Deserializer::from_str(raw.get());
                self.stack
                    .within(Segment::key(T::PAYLOAD_KEY), || {
                        T::deserialize_as(typed, Forward::new(&mut de, self)).map(drop)
                    })
                    .map_err(payload_error)?;
            } else if key != T::ID_KEY
                && key != T::TIME_KEY
                && T::VERSION_KEY.is_none_or(|version| key != version)
            {
                let at = self.stack.path_to(Segment::key(&key));
                self.note(DriftKind::UnknownField, at, None);
            }
        }
        Ok(())
    }
}

/// The walk's hook: paths as error paths keep them; a skipped member is
/// noted at its path; a string value is watched for an open enum that does
/// not know it.
impl Hook for &Walk {
    const STRINGS: bool = true;

    #[inline]
    fn key(self, key: &str) {
        self.stack.key(key);
    }

    #[inline]
    fn value<R, E>(self, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        self.stack.value(read)
    }

    #[inline]
    fn element<R, E>(self, index: usize, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        self.stack.element(index, read)
    }

    #[inline]
    fn string<R>(self, text: &str, read: impl FnOnce() -> R) -> R {
        let (value, unknown) = watching(read);
        if unknown {
            self.note(
                DriftKind::UnknownValue,
                self.stack.path(),
                Some(text.to_owned()),
            );
        }
        value
    }

    fn skipped(self) {
        self.note(DriftKind::UnknownField, self.stack.path(), None);
    }
}

/// A body that parsed but that the walk cannot read (it is not valid
/// UTF-8 inside a member the model skips).
pub(crate) fn payload_error(err: serde_json::Error) -> Error {
    Error::Payload(ReadError::new(&err, None, None).into())
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
