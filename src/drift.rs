//! What a body holds that the model does not take in: the report of
//! [`smartcomply::drift`](crate::smartcomply::drift) and
//! [`smarterwx::drift`](crate::smarterwx::drift).
//!
//! The models are lenient on purpose: a member the vendor adds is ignored,
//! and a new enum value or event type is kept as `Unknown`, so that a
//! delivery still parses the day the vendor changes. The cost is silence:
//! serializing an event back drops what was ignored, and nothing says that
//! the vendor changed. A drift report says it. Run it beside the receiving
//! path (in a task of its own, on a sample of deliveries, or on stored
//! bodies), never in the way of the answer: it reads the body again.
//!
//! ```
//! use utility_webhooks::drift::DriftKind;
//! use utility_webhooks::smartcomply;
//!
//! let body = br#"{"id":"evt_1","type":"assembly.due_soon","created_at":"2026-04-05T08:00:00Z",
//!   "data":{"assembly_id":"asm_1","facility_id":"fac_1","due_date":"2026-05-05",
//!           "days_remaining":30,"assembly_type":"SVB","gps_accuracy_m":4.2}}"#;
//! let drift = smartcomply::drift(body)?;
//! let items: Vec<_> = drift.iter().map(|i| (i.kind(), i.path(), i.value())).collect();
//! assert_eq!(items, [
//!     (DriftKind::UnknownValue, "data.assembly_type", Some("SVB")),
//!     (DriftKind::UnknownField, "data.gps_accuracy_m", None),
//! ]);
//! assert_eq!(drift.to_string(), "unknown_value data.assembly_type \"SVB\"\nunknown_field data.gps_accuracy_m\n");
//! # Ok::<(), utility_webhooks::Error>(())
//! ```

use std::fmt;

use crate::text::sanitize_quoted;

/// The longest value shown by `Display`, in bytes once escaped.
const MAX_SHOWN_VALUE: usize = 96;

/// What kind of thing the model did not take in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DriftKind {
    /// A JSON member that the model ignores: reported once, at the
    /// member's own path, whatever it holds.
    UnknownField,
    /// An open-enum value that the crate does not know, kept by the enum's
    /// `Unknown` catch-all; also a SmarterWX activity code in
    /// `activityTypes` that [`ActivityCode`](crate::smarterwx::ActivityCode)
    /// does not know (the model keeps those entries as text).
    UnknownValue,
    /// An event or notification type that the crate does not know; its
    /// payload, kept raw, is not looked into.
    UnknownType,
}

impl DriftKind {
    /// `unknown_field`, `unknown_value` or `unknown_type`: one word, for
    /// logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::UnknownField => "unknown_field",
            DriftKind::UnknownValue => "unknown_value",
            DriftKind::UnknownType => "unknown_type",
        }
    }
}

impl fmt::Display for DriftKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing the model did not take in, and where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DriftItem {
    kind: DriftKind,
    path: String,
    value: Option<String>,
}

impl DriftItem {
    pub(crate) fn new(kind: DriftKind, path: String, value: Option<String>) -> Self {
        DriftItem { kind, path, value }
    }

    /// Where it is, as keys and indexes from the top, in the syntax of
    /// [`PayloadError::path`](crate::PayloadError::path)
    /// (`data.exceedances[0].detection_limit`, `[2].message.Enquiry.region`).
    /// Keys are the sender's: escaped, and cut to 64 bytes each.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What kind of thing it is.
    pub fn kind(&self) -> DriftKind {
        self.kind
    }

    /// The value as sent, for [`DriftKind::UnknownValue`] and
    /// [`DriftKind::UnknownType`]; `None` for an unknown field. It is the
    /// sender's text, unescaped: escape it before you log it (`Display`
    /// does).
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

/// `<kind> <path>`, and the value, escaped and quoted, when there is one:
/// `unknown_value data.assembly_type "SVB"`.
impl fmt::Display for DriftItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.path)?;
        if let Some(value) = &self.value {
            write!(f, " \"{}\"", sanitize_quoted(value, MAX_SHOWN_VALUE))?;
        }
        Ok(())
    }
}

/// Everything in one body that the model did not take in, in the order
/// met (a SmarterWX notification's unknown activity codes after the rest
/// of it), each path once. Empty when the model read every member and knew
/// every value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drift {
    items: Vec<DriftItem>,
}

impl Drift {
    /// A report of `items`, each `(kind, path)` kept once.
    pub(crate) fn new(items: Vec<DriftItem>) -> Self {
        let mut seen = std::collections::HashSet::new();
        let items = items
            .into_iter()
            .filter(|item| seen.insert((item.kind, item.path.clone())))
            .collect();
        Drift { items }
    }

    /// `true` when the model took in the whole body.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many items there are.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The items, in the order met in the body.
    ///
    /// ```
    /// use utility_webhooks::smarterwx;
    ///
    /// let body = br#"{"uuid":"u-1","event":"enquiry:create","timestamp":"2023-11-20T01:00:00Z",
    ///   "message":{"id":7},"channel":"web"}"#;
    /// for item in smarterwx::drift(body)?.iter() {
    ///     println!("{} at {}: {:?}", item.kind(), item.path(), item.value());
    /// }
    /// # Ok::<(), utility_webhooks::Error>(())
    /// ```
    pub fn iter(&self) -> std::slice::Iter<'_, DriftItem> {
        self.items.iter()
    }
}

impl<'a> IntoIterator for &'a Drift {
    type Item = &'a DriftItem;
    type IntoIter = std::slice::Iter<'a, DriftItem>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl IntoIterator for Drift {
    type Item = DriftItem;
    type IntoIter = std::vec::IntoIter<DriftItem>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// One item a line, each line ending in `\n`; nothing when empty.
impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            writeln!(f, "{item}")?;
        }
        Ok(())
    }
}
