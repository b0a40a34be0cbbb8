//! Declarative macros for the recurring wire shapes: ID newtypes, open
//! enums, and tagged unions. Each macro's docs list what it generates, so
//! that a reader grepping for a type finds where it comes from.

/// An identifier newtype, serialized as the bare string. The text is kept
/// inline when short (see `wire::id`), so reading an ID does not allocate.
///
/// `id_newtype! { /// docs \n EventId }` generates `pub struct EventId`
/// with `new`, `as_str`, `into_string`, `Display` (escaped),
/// `AsRef<str>`, `Borrow<str>`, `PartialEq<str>` and serde as the bare
/// string.
macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name($crate::wire::IdText);

        impl $name {
            /// An ID with this wire value (to build events in tests, or
            /// to look one up).
            pub fn new(id: impl AsRef<str>) -> Self {
                Self(id.as_ref().into())
            }

            /// The exact wire value.
            pub fn as_str(&self) -> &str {
                self.0.as_str()
            }

            /// The wire value, owned.
            pub fn into_string(self) -> String {
                self.0.into_string()
            }
        }

        /// The value escaped as [`Escaped`](crate::Escaped) escapes it,
        /// so that sender text prints on one line; `as_str()` gives it
        /// exactly.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::text::write_escaped(f, self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                self.as_str()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

/// An enum of known wire strings plus `Unknown(String)`, which keeps any
/// other value as sent. Known values deserialize without allocating.
///
/// `open_enum! { pub enum TestResult { Pass = "pass", .. } }` generates
/// `pub enum TestResult` (`#[non_exhaustive]`, with `Unknown(String)`),
/// `TestResult::ALL`, `as_str`, `is_known`, `From<&str>`, `From<String>`,
/// `AsRef<str>`, `Display` (escaped) and serde as the wire string.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        ///
        /// Unknown wire values are kept in `Unknown`; build values with
        /// `From<&str>` so that a known value never lands there.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("\n\nWire value: `", $wire, "`.")] $variant, )+
            /// A value this version of the crate does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// Every value this version of the crate knows, in declaration
            /// order (`Unknown` aside).
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The exact wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(other) => other,
                }
            }

            /// `false` for [`Self::Unknown`].
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }

            fn known(wire: &str) -> Option<Self> {
                match wire {
                    $( $wire => Some(Self::$variant), )+
                    _ => None,
                }
            }
        }

        impl $crate::wire::Open for $name {
            fn is_known(&self) -> bool {
                $name::is_known(self)
            }
        }

        impl From<&str> for $name {
            fn from(wire: &str) -> Self {
                Self::known(wire).unwrap_or_else(|| Self::Unknown(wire.to_owned()))
            }
        }

        impl From<String> for $name {
            fn from(wire: String) -> Self {
                Self::known(&wire).unwrap_or(Self::Unknown(wire))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        /// The value escaped as [`Escaped`](crate::Escaped) escapes it,
        /// so that sender text prints on one line; `as_str()` gives it
        /// exactly.
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                $crate::text::write_escaped(f, self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_str($crate::wire::OpenVisitor::<Self>::new(stringify!($name)))
            }
        }
    };
}

/// A union of typed payloads chosen by a tag beside them (`type` and
/// `data`, or `event` and `message`), with a tag enum to match and an
/// unknown variant that keeps the raw JSON.
///
/// `tagged_union! { pub enum EventData { tag: EventType = "type", .. } }`
/// generates:
///
/// - the tag enum, `pub enum EventType`, through [`open_enum!`];
/// - `pub enum EventData` (`#[non_exhaustive]`), one variant per payload
///   type and `Unknown(..)`, with `event_type()` (the wire tag as text;
///   the tag enum is `<Tag>::from(x.event_type())`);
/// - `wire::Tagged` for it (the tag and payload keys, reading a payload by
///   its tag, writing one), and serde as `{"<tag>": .., "<payload>": ..}`.
///
/// The envelope's other keys (identity, time, version) are the vendor's:
/// it writes `wire::Envelope` for the union beside its envelope type.
macro_rules! tagged_union {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            tag: $(#[$tmeta:meta])* $tag:ident = $tag_key:literal,
            payload: $payload_key:literal,
            unknown: $unknown:ident,
            $( $(#[$vmeta:meta])* $variant:ident($ty:ty) = $wire:literal, )+
        }
    ) => {
        open_enum! {
            $(#[$tmeta])*
            pub enum $tag {
                $( $(#[$vmeta])* $variant = $wire, )+
            }
        }

        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant($ty), )+
            /// A type this version of the crate does not know: its name and
            /// raw JSON, kept as sent.
            Unknown($unknown),
        }

        impl $name {
            /// The wire tag: the type for known payloads, the sent string for
            /// unknown ones.
            pub(crate) fn tag(&self) -> &str {
                match self {
                    $( Self::$variant(_) => $wire, )+
                    Self::Unknown(unknown) => $crate::wire::Unknown::tag(unknown),
                }
            }

            /// The wire tag (`"test.failed"`, `"referral:create"`), also for
            /// unknown types. As an enum, to match on:
            #[doc = concat!("`", stringify!($tag), "::from(x.event_type())`.")]
            pub fn event_type(&self) -> &str {
                self.tag()
            }
        }

        impl $crate::wire::Tagged for $name {
            type Tag = $tag;
            const TAG_KEY: &'static str = $tag_key;
            const PAYLOAD_KEY: &'static str = $payload_key;

            fn tag(&self) -> &str {
                $name::tag(self)
            }

            fn deserialize_as<'de, D: serde::Deserializer<'de>>(
                tag: $tag,
                d: D,
            ) -> Result<Self, D::Error> {
                use serde::Deserialize as _;
                Ok(match tag {
                    $( $tag::$variant => Self::$variant(<$ty>::deserialize(d)?), )+
                    $tag::Unknown(tag) => Self::Unknown($crate::wire::Unknown::new(
                        tag,
                        serde_json::Value::deserialize(d)?,
                    )),
                })
            }

            fn serialize_payload<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::Serialize as _;
                match self {
                    $( Self::$variant(payload) => payload.serialize(s), )+
                    Self::Unknown(unknown) => $crate::wire::Unknown::raw(unknown).serialize(s),
                }
            }
        }

        /// Written as `{"<tag>": .., "<payload>": ..}`, the envelope without
        /// its identity and time.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::wire::envelope::write::<S, (), Self>(s, None, None, None, self)
            }
        }

        /// Read from `{"<tag>": .., "<payload>": ..}` in either order; other
        /// keys are ignored.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::wire::envelope::read_payload(d)
            }
        }
    };
}
