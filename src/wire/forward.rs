//! One `serde` deserializer wrapper that forwards every call as made and
//! tells a [`Hook`] where it is: which key's value and which element it is
//! reading, the string values it reads, and the values it skips.
//!
//! Every call reaches the wrapped deserializer and visitor unchanged, so a
//! wrapped read accepts exactly what the bare one accepts, with the same
//! value. The error paths (`path.rs`) and the drift walk (`drift.rs`) are
//! two hooks on it; [`Quiet`], the hook that notices nothing, compiles to
//! the bare read.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// What a [`Forward`] tells as it reads. Every method has a default that
/// notices nothing; implementations are `Copy` handles (references).
pub(crate) trait Hook: Copy {
    /// Whether [`Hook::string`] looks at string values. A hook that does
    /// not is spared the copy of a `String` handed over by value.
    const STRINGS: bool = false;

    /// The text of a map key, read just now; its value comes next.
    #[inline(always)]
    fn key(self, _key: &str) {}

    /// `read` reads the value of the key read last.
    #[inline(always)]
    fn value<R, E>(self, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        read()
    }

    /// `read` reads the element at `index` of an array.
    #[inline(always)]
    fn element<R, E>(self, _index: usize, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        read()
    }

    /// `read` hands the string value `text` (not a key) to the visitor.
    /// Called only when [`Hook::STRINGS`] is set.
    #[inline(always)]
    fn string<R>(self, _text: &str, read: impl FnOnce() -> R) -> R {
        read()
    }

    /// A value (not a key) is skipped unread (`deserialize_ignored_any`).
    #[inline(always)]
    fn skipped(self) {}
}

/// The hook that notices nothing: a read through it is the bare read.
#[derive(Clone, Copy)]
pub(crate) struct Quiet;

impl Hook for Quiet {}

/// What a wrapper reads for: its hook, and whether it reads a map key.
#[derive(Clone, Copy)]
struct At<H> {
    hook: H,
    key: bool,
}

/// A deserializer that forwards to `inner` and tells its hook where it is.
pub(crate) struct Forward<H, D> {
    inner: D,
    at: At<H>,
}

impl<H, D> Forward<H, D> {
    /// Wrap `inner`, which reads a value (not a key).
    pub(crate) fn new(inner: D, hook: H) -> Self {
        Forward {
            inner,
            at: At { hook, key: false },
        }
    }
}

struct ForwardVisitor<H, V> {
    inner: V,
    at: At<H>,
}

struct ForwardSeed<H, S> {
    inner: S,
    at: At<H>,
}

impl<H, S> ForwardSeed<H, S> {
    /// `inner`, reading a map key when `key` is set, a value otherwise.
    fn new(inner: S, hook: H, key: bool) -> Self {
        ForwardSeed {
            inner,
            at: At { hook, key },
        }
    }
}

impl<'de, H: Hook, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ForwardSeed<H, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.inner.deserialize(Forward {
            inner: d,
            at: self.at,
        })
    }
}

macro_rules! forward_deserialize {
    ($($method:ident($($arg:ident: $ty:ty),*);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, D::Error> {
                self.inner.$method($($arg,)* ForwardVisitor { inner: visitor, at: self.at })
            }
        )*
    };
}

impl<'de, H: Hook, D: Deserializer<'de>> Deserializer<'de> for Forward<H, D> {
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

    /// A skipped value is told as one, and not looked into.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        if !self.at.key {
            self.at.hook.skipped();
        }
        self.inner.deserialize_ignored_any(visitor)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

impl<H: Hook, V> ForwardVisitor<H, V> {
    /// Hand the string `text` over with `read`: a key's text goes to the
    /// hook first; a value is read under [`Hook::string`].
    #[inline(always)]
    fn string<R>(self, text: &str, read: impl FnOnce(V) -> R) -> R {
        if self.at.key {
            self.at.hook.key(text);
            read(self.inner)
        } else if H::STRINGS {
            let inner = self.inner;
            self.at.hook.string(text, || read(inner))
        } else {
            read(self.inner)
        }
    }

    /// Hand the bytes `bytes` over with `read`: a key's text (lossy) goes
    /// to the hook first.
    #[inline(always)]
    fn bytes<R>(self, bytes: &[u8], read: impl FnOnce(V) -> R) -> R {
        if self.at.key {
            self.at.hook.key(&String::from_utf8_lossy(bytes));
        }
        read(self.inner)
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

impl<'de, H: Hook, V: Visitor<'de>> Visitor<'de> for ForwardVisitor<H, V> {
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
        self.bytes(v, |inner| inner.visit_bytes(v))
    }

    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<V::Value, E> {
        self.bytes(v, |inner| inner.visit_borrowed_bytes(v))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<V::Value, E> {
        if self.at.key {
            self.at.hook.key(&String::from_utf8_lossy(&v));
        }
        self.inner.visit_byte_buf(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.string(v, |inner| inner.visit_str(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.string(v, |inner| inner.visit_borrowed_str(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        if self.at.key {
            self.at.hook.key(&v);
            self.inner.visit_string(v)
        } else if H::STRINGS {
            // The visitor takes the `String`: the hook gets a copy.
            let (text, inner) = (v.clone(), self.inner);
            self.at.hook.string(&text, || inner.visit_string(v))
        } else {
            self.inner.visit_string(v)
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(Forward {
            inner: d,
            at: self.at,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(Forward {
            inner: d,
            at: self.at,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.inner.visit_seq(Access {
            inner: seq,
            hook: self.at.hook,
            index: 0,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Access {
            inner: map,
            hook: self.at.hook,
            index: 0,
        })
    }

    /// No model of this crate is an externally tagged enum: an enum's
    /// insides are read unwrapped, and the hook hears nothing of them.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(data)
    }
}

/// A map's or an array's access; `index` counts an array's elements.
struct Access<H, A> {
    inner: A,
    hook: H,
    index: usize,
}

impl<'de, H: Hook, A: SeqAccess<'de>> SeqAccess<'de> for Access<H, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        let (hook, index, inner) = (self.hook, self.index, &mut self.inner);
        self.index += 1;
        let seed = ForwardSeed::new(seed, hook, false);
        hook.element(index, || inner.next_element_seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, H: Hook, A: MapAccess<'de>> MapAccess<'de> for Access<H, A> {
    type Error = A::Error;

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner
            .next_key_seed(ForwardSeed::new(seed, self.hook, true))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let (hook, inner) = (self.hook, &mut self.inner);
        let seed = ForwardSeed::new(seed, hook, false);
        hook.value(|| inner.next_value_seed(seed))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use serde::Deserialize;

    use super::*;

    /// A hook that writes down every call.
    #[derive(Default)]
    struct Log(RefCell<Vec<String>>);

    impl Log {
        fn push(&self, entry: String) {
            self.0.borrow_mut().push(entry);
        }

        fn around<R>(&self, name: String, read: impl FnOnce() -> R) -> R {
            self.push(format!("{name} {{"));
            let result = read();
            self.push("}".into());
            result
        }
    }

    impl Hook for &Log {
        const STRINGS: bool = true;

        fn key(self, key: &str) {
            self.push(format!("key {key}"));
        }

        fn value<R, E>(self, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
            self.around("value".into(), read)
        }

        fn element<R, E>(self, index: usize, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
            self.around(format!("element {index}"), read)
        }

        fn string<R>(self, text: &str, read: impl FnOnce() -> R) -> R {
            self.around(format!("string {text}"), read)
        }

        fn skipped(self) {
            self.push("skipped".into());
        }
    }

    #[derive(Debug, PartialEq, Deserialize)]
    struct Sample {
        pair: (u8, String),
        maybe: Option<String>,
    }

    #[test]
    fn the_hook_hears_each_key_element_string_and_skipped_value() {
        let body = r#"{"pair": [7, "x\u0041"], "other": {"deep": ["z"]}, "maybe": "m"}"#;
        let log = Log::default();
        let mut de = serde_json::Deserializer::from_str(body);
        let read = Sample::deserialize(Forward::new(&mut de, &log)).unwrap();
        assert_eq!(read, serde_json::from_str::<Sample>(body).unwrap());
        assert_eq!(
            log.0.into_inner(),
            [
                "key pair",
                "value {",
                "element 0 {",
                "}",
                "element 1 {",
                "string xA {",
                "}",
                "}",
                "}",
                "key other",
                "value {",
                "skipped",
                "}",
                "key maybe",
                "value {",
                "string m {",
                "}",
                "}",
            ]
        );
    }

    #[test]
    fn quiet_reads_as_serde_json_reads() {
        for body in [
            r#"{"pair": [1, "a"], "maybe": null}"#,
            r#"{"pair": [256, "a"]}"#,
        ] {
            let mut de = serde_json::Deserializer::from_str(body);
            let quiet =
                Sample::deserialize(Forward::new(&mut de, Quiet)).map_err(|e| e.to_string());
            let plain = serde_json::from_str::<Sample>(body).map_err(|e| e.to_string());
            assert_eq!(quiet, plain, "{body}");
        }
    }
}
