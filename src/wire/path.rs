//! Where in a body a deserialization error happened, as a path like
//! `data.exceedances[0].result_value`.
//!
//! Only the error path uses this: after a fast parse fails, the body is
//! parsed again through [`Tracked`], a deserializer wrapper that keeps the
//! stack of keys and indexes it is inside. When the error happens the
//! stack is left as it was, and that is the path.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// Deserialize a `T` from `body` again and return the path at which it
/// fails, if it does and the failure is below the top level.
pub(crate) fn error_path<T: de::DeserializeOwned>(body: &[u8]) -> Option<String> {
    let track = Track::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let failed = T::deserialize(Tracked {
        inner: &mut de,
        track: &track,
        key: false,
    })
    .is_err();
    let stack = track.stack.into_inner();
    if !failed || stack.is_empty() {
        return None;
    }
    let mut path = String::new();
    for segment in stack {
        match segment {
            Segment::Key(key) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key);
            }
            Segment::Index(i) => {
                let _ = write!(path, "[{i}]");
            }
        }
    }
    Some(path)
}

/// Longest key echoed in a path; keys are the sender's.
const MAX_KEY: usize = 64;

enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Default)]
struct Track {
    stack: RefCell<Vec<Segment>>,
    key: RefCell<Option<String>>,
}

impl Track {
    fn set_key(&self, key: &str) {
        let mut shown = String::new();
        for (i, c) in key.chars().enumerate() {
            if i == MAX_KEY {
                shown.push('…');
                break;
            }
            shown.extend(c.escape_debug());
        }
        *self.key.borrow_mut() = Some(shown);
    }

    fn push(&self, segment: Segment) {
        self.stack.borrow_mut().push(segment);
    }

    fn pop(&self) {
        self.stack.borrow_mut().pop();
    }
}

/// A deserializer that records where it is. With `key` set it is reading a
/// map key, and records the key's text instead.
struct Tracked<'t, D> {
    inner: D,
    track: &'t Track,
    key: bool,
}

struct TrackedVisitor<'t, V> {
    inner: V,
    track: &'t Track,
    key: bool,
}

struct TrackedSeed<'t, S> {
    inner: S,
    track: &'t Track,
    key: bool,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TrackedSeed<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Tracked {
            inner: d,
            track: self.track,
            key: self.key,
        })
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method($($arg,)* TrackedVisitor { inner: visitor, track: self.track, key: self.key })
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Tracked<'_, D> {
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
        deserialize_ignored_any();
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
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

impl<'de, V: Visitor<'de>> Visitor<'de> for TrackedVisitor<'_, V> {
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
        if self.key {
            self.track.set_key(v);
        }
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(v);
        }
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(&v);
        }
        self.inner.visit_string(v)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Tracked {
            inner: d,
            track: self.track,
            key: self.key,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Tracked {
            inner: d,
            track: self.track,
            key: self.key,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(TrackedSeq {
            inner: seq,
            track: self.track,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(TrackedMap {
            inner: map,
            track: self.track,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        // No payload of this crate is an externally tagged enum; the path
        // simply stops here.
        self.inner.visit_enum(data)
    }
}

struct TrackedSeq<'t, A> {
    inner: A,
    track: &'t Track,
    index: usize,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for TrackedSeq<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.track.push(Segment::Index(self.index));
        let value = self.inner.next_element_seed(TrackedSeed {
            inner: seed,
            track: self.track,
            key: false,
        })?;
        self.track.pop();
        self.index += 1;
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct TrackedMap<'t, A> {
    inner: A,
    track: &'t Track,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TrackedMap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(TrackedSeed {
            inner: seed,
            track: self.track,
            key: true,
        })
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        let key = self
            .track
            .key
            .borrow_mut()
            .take()
            .unwrap_or_else(|| "?".into());
        self.track.push(Segment::Key(key));
        let value = self.inner.next_value_seed(TrackedSeed {
            inner: seed,
            track: self.track,
            key: false,
        })?;
        self.track.pop();
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
        maybe: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        value: f64,
    }

    #[test]
    fn paths_through_maps_sequences_and_options() {
        let at = |body: &str| error_path::<Outer>(body.as_bytes());
        assert_eq!(at(r#"{"name": 5}"#).as_deref(), Some("name"));
        assert_eq!(
            at(r#"{"name": "n", "items": [{"value": 1}, {"value": "x"}]}"#).as_deref(),
            Some("items[1].value")
        );
        assert_eq!(
            at(r#"{"name": "n", "items": [], "maybe": {"value": true}}"#).as_deref(),
            Some("maybe.value")
        );
        assert_eq!(
            at(r#"{"name": "n", "items": [{"value": 1}], "maybe": null}"#),
            None
        );
        // Missing fields are reported by the struct itself, at its level.
        assert_eq!(
            at(r#"{"name": "n", "items": [{}]}"#).as_deref(),
            Some("items[0]")
        );
        assert_eq!(at("[]"), None);
    }

    #[test]
    fn keys_are_bounded_and_escaped() {
        let key = format!("a\n{}", "k".repeat(200));
        let body = format!(
            r#"{{"items": [{{"value": 1, "{}": 1}}], "name": 1}}"#,
            key.replace('\n', "\\n")
        );
        assert_eq!(
            error_path::<Outer>(body.as_bytes()).as_deref(),
            Some("name")
        );
        let body = format!(r#"{{"{}": 1}}"#, key.replace('\n', "\\n"));
        #[derive(Deserialize)]
        #[allow(dead_code)]
        struct Strict(std::collections::BTreeMap<String, bool>);
        let path = error_path::<Strict>(body.as_bytes()).unwrap();
        assert!(path.starts_with("a\\nkkk"), "{path}");
        assert!(path.chars().count() <= MAX_KEY + 2, "{path}");
    }
}
