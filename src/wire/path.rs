//! A `serde_json` deserializer wrapper for the bodies the fast reader
//! (`json.rs`) gives up on.
//!
//! - Same answers as `serde_json`: every call is forwarded as made, so a
//!   body this wrapper accepts is one `serde_json::from_slice` accepts, with
//!   the same value. Field names in particular go through
//!   `deserialize_identifier`, which checks them as strictly as any string
//!   (no raw control characters, no lone surrogate escapes, valid UTF-8).
//! - Error paths: with a [`Track`] observer the wrapper keeps the stack of
//!   keys and indexes it is inside. When an error happens the stack is left
//!   as it was, and that is the path (`data.exceedances[0].result_value`).
//!   Only the error path pays for this: the body is read again with it.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// Deserialize a `T` from all of `body` (trailing white space allowed), as
/// `serde_json::from_slice` does.
pub(crate) fn from_slice<T: de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(Tracked {
        inner: &mut de,
        track: NoTrack,
        key: false,
    })?;
    de.end()?;
    Ok(value)
}

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
    .and_then(|_| de.end())
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

/// Longest key echoed in a path, in bytes once escaped; keys are the
/// sender's.
const MAX_KEY: usize = 64;

enum Segment {
    Key(String),
    Index(usize),
}

/// What the wrapper tells as it walks. Both implementations are `Copy`
/// handles; [`NoTrack`] compiles to nothing.
trait Observer: Copy {
    fn set_key(self, key: &[u8]);
    fn enter_key(self);
    fn enter_index(self, index: usize);
    fn leave(self);
}

/// The fast path's observer: notices nothing.
#[derive(Clone, Copy)]
struct NoTrack;

impl Observer for NoTrack {
    #[inline(always)]
    fn set_key(self, _: &[u8]) {}
    #[inline(always)]
    fn enter_key(self) {}
    #[inline(always)]
    fn enter_index(self, _: usize) {}
    #[inline(always)]
    fn leave(self) {}
}

/// The error path's observer: keeps the stack of keys and indexes.
#[derive(Default)]
struct Track {
    stack: RefCell<Vec<Segment>>,
    key: RefCell<Option<String>>,
}

impl Observer for &Track {
    fn set_key(self, key: &[u8]) {
        let key = String::from_utf8_lossy(key);
        *self.key.borrow_mut() = Some(crate::text::sanitize(&key, MAX_KEY));
    }

    fn enter_key(self) {
        let key = self.key.borrow_mut().take().unwrap_or_else(|| "?".into());
        self.stack.borrow_mut().push(Segment::Key(key));
    }

    fn enter_index(self, index: usize) {
        self.stack.borrow_mut().push(Segment::Index(index));
    }

    fn leave(self) {
        self.stack.borrow_mut().pop();
    }
}

/// A deserializer that tells `track` where it is. With `key` set it is
/// reading a map key, whose text is noted.
struct Tracked<O, D> {
    inner: D,
    track: O,
    key: bool,
}

struct TrackedVisitor<O, V> {
    inner: V,
    track: O,
    key: bool,
}

struct TrackedSeed<O, S> {
    inner: S,
    track: O,
    key: bool,
}

impl<'de, O: Observer, S: DeserializeSeed<'de>> DeserializeSeed<'de> for TrackedSeed<O, S> {
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

impl<'de, O: Observer, D: Deserializer<'de>> Deserializer<'de> for Tracked<O, D> {
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

impl<'de, O: Observer, V: Visitor<'de>> Visitor<'de> for TrackedVisitor<O, V> {
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
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(v);
        }
        self.inner.visit_bytes(v)
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(v);
        }
        self.inner.visit_borrowed_bytes(v)
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(&v);
        }
        self.inner.visit_byte_buf(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(v.as_bytes());
        }
        self.inner.visit_str(v)
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(v.as_bytes());
        }
        self.inner.visit_borrowed_str(v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        if self.key {
            self.track.set_key(v.as_bytes());
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

struct TrackedSeq<O, A> {
    inner: A,
    track: O,
    index: usize,
}

impl<'de, O: Observer, A: SeqAccess<'de>> SeqAccess<'de> for TrackedSeq<O, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.track.enter_index(self.index);
        let value = self.inner.next_element_seed(TrackedSeed {
            inner: seed,
            track: self.track,
            key: false,
        })?;
        self.track.leave();
        self.index += 1;
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

struct TrackedMap<O, A> {
    inner: A,
    track: O,
}

impl<'de, O: Observer, A: MapAccess<'de>> MapAccess<'de> for TrackedMap<O, A> {
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
        self.track.enter_key();
        let value = self.inner.next_value_seed(TrackedSeed {
            inner: seed,
            track: self.track,
            key: false,
        })?;
        self.track.leave();
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
    fn field_names_match_escaped_keys() {
        let o: Outer =
            from_slice(br#"{"n\u0061me": "x", "items": [{"v\u0061lue": 1.5}]}"#).unwrap();
        assert_eq!(o.name, "x");
        assert_eq!(o.items[0].value, 1.5);
        assert!(from_slice::<Outer>(br#"{"name": "x", "items": []} x"#).is_err());
    }

    #[test]
    fn field_names_are_checked_as_strictly_as_serde_json_checks_them() {
        // Unknown keys (which a struct ignores) and known ones alike: a key
        // that is no JSON string text is refused, as `serde_json` refuses it.
        for key in [
            b"\xff".as_slice(),
            b"na\xc3me",
            b"\xed\xa0\x80",
            b"\x01",
            b"tab\there",
            b"\\ud800",
            b"\\udc00x",
            b"\\ud800\\u0041",
        ] {
            let mut body = br#"{"name": "x", "items": [], ""#.to_vec();
            body.extend_from_slice(key);
            body.extend_from_slice(br#"": 1}"#);
            let shown = String::from_utf8_lossy(&body).into_owned();
            let plain = serde_json::from_slice::<Outer>(&body);
            assert!(plain.is_err(), "serde_json took {shown:?}");
            let err = from_slice::<Outer>(&body).unwrap_err();
            assert_eq!(err.to_string(), plain.unwrap_err().to_string(), "{shown:?}");
            assert_eq!(err.classify(), serde_json::error::Category::Syntax);
        }
        // A value that is not UTF-8 was, and stays, an error.
        let mut body = br#"{"name": "?", "items": []}"#.to_vec();
        let at = body.iter().position(|&b| b == b'?').unwrap();
        body[at] = 0xff;
        assert!(from_slice::<Outer>(&body).is_err());
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
