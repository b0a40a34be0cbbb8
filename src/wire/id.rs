//! The text inside every ID newtype: kept inline when it is short, as
//! vendors' IDs are (`evt_f0e1d2c3b4a59687`, `smp_aabbccdd`), so reading an
//! ID allocates nothing; longer IDs live on the heap.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::Deserializer;
use serde::{Deserialize, Serialize, Serializer};

/// Longest text kept inline: with the length byte and the variant's tag
/// the type is 24 bytes, as large as a `String`.
const INLINE: usize = 22;

/// An ID's text. Equality, order and hashing are those of the `str`, so
/// the newtypes can be `Borrow<str>` (a `HashSet<EventId>` is searched
/// with a `&str`).
#[derive(Clone)]
pub(crate) enum IdText {
    /// Up to [`INLINE`] bytes of UTF-8 in place.
    Inline { len: u8, bytes: [u8; INLINE] },
    /// Anything longer.
    Heap(Box<str>),
}

impl IdText {
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only ever filled from a `str`, so the check always passes; it
            // costs a few nanoseconds on an ASCII ID of 22 bytes or fewer.
            IdText::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|text| std::str::from_utf8(text).ok())
                .unwrap_or_default(),
            IdText::Heap(text) => text,
        }
    }

    /// The text, owned.
    pub(crate) fn into_string(self) -> String {
        match self {
            IdText::Inline { .. } => self.as_str().to_owned(),
            IdText::Heap(text) => text.into_string(),
        }
    }
}

impl From<&str> for IdText {
    fn from(text: &str) -> Self {
        let mut bytes = [0; INLINE];
        match bytes.get_mut(..text.len()) {
            Some(inline) => {
                inline.copy_from_slice(text.as_bytes());
                IdText::Inline {
                    // At most INLINE, so it fits.
                    len: text.len() as u8,
                    bytes,
                }
            }
            None => IdText::Heap(text.into()),
        }
    }
}

impl From<String> for IdText {
    fn from(text: String) -> Self {
        if text.len() <= INLINE {
            IdText::from(text.as_str())
        } else {
            IdText::Heap(text.into_boxed_str())
        }
    }
}

impl PartialEq for IdText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for IdText {}

impl PartialOrd for IdText {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IdText {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for IdText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for IdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for IdText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_string(super::OpenVisitor::<IdText>::new("an ID"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn short_text_is_inline_long_text_on_the_heap_and_both_read_back() {
        for (text, inline) in [
            ("", true),
            ("evt_f0e1d2c3b4a59687", true),
            ("é€😀 twenty-two b", true),
            ("abcdefghijklmnopqrstuv", true),
            ("abcdefghijklmnopqrstuvw", false),
            ("fd07b9f3-dd85-4615-a1e8-8fced35ef2e5", false),
        ] {
            for id in [IdText::from(text), IdText::from(text.to_owned())] {
                assert_eq!(matches!(id, IdText::Inline { .. }), inline, "{text}");
                assert_eq!(id.as_str(), text);
                assert_eq!(format!("{id:?}"), format!("{text:?}"));
                assert_eq!(id.clone().into_string(), text);
            }
        }
        assert_eq!(std::mem::size_of::<IdText>(), std::mem::size_of::<String>());
    }

    #[test]
    fn equality_order_and_hash_are_the_texts() {
        let hasher = std::collections::hash_map::RandomState::new();
        let texts = [
            "a",
            "b",
            "abcdefghijklmnopqrstuvwxyz",
            "abcdefghijklmnopqrstuvwxyz0",
        ];
        for a in texts {
            for b in texts {
                let (x, y) = (IdText::from(a), IdText::from(b));
                assert_eq!(x == y, a == b);
                assert_eq!(x.cmp(&y), a.cmp(b));
            }
            assert_eq!(hasher.hash_one(IdText::from(a)), hasher.hash_one(a));
        }
        let set: HashSet<IdText> = texts.iter().map(|t| IdText::from(*t)).collect();
        assert!(set.contains(&IdText::from("abcdefghijklmnopqrstuvwxyz")));
    }

    #[test]
    fn serializes_as_the_bare_string() {
        for text in ["evt_1", "fd07b9f3-dd85-4615-a1e8-8fced35ef2e5"] {
            let id = IdText::from(text);
            let written = serde_json::to_string(&id).unwrap();
            assert_eq!(written, serde_json::to_string(text).unwrap());
            assert_eq!(serde_json::from_str::<IdText>(&written).unwrap(), id);
        }
        let err = serde_json::from_str::<IdText>("5").unwrap_err();
        assert!(
            err.to_string().contains("expected a string (an ID)"),
            "{err}"
        );
    }
}
