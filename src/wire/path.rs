//! Where a reader is in a body, as a path (`data.exceedances[0].result_value`),
//! and the `serde_json` read for the bodies the fast reader (`json.rs`)
//! gives up on.
//!
//! - Same answers as `serde_json`: [`from_slice`] reads through the
//!   forwarding wrapper (`forward.rs`) with a hook that notices nothing, so
//!   a body it accepts is one `serde_json::from_slice` accepts, with the
//!   same value. Field names in particular go through
//!   `deserialize_identifier`, which checks them as strictly as any string
//!   (no raw control characters, no lone surrogate escapes, valid UTF-8).
//! - Error paths: [`error_path`] reads the body again with a [`Stack`] as
//!   the hook, which keeps the keys and indexes the read is inside. An
//!   error leaves the stack as it was, and that is the path. Only the error
//!   path pays for this.
//! - The drift walk keeps its paths on a [`Stack`] too.

use std::cell::RefCell;
use std::fmt::Write as _;

use serde::de;

use super::forward::{Forward, Hook, Quiet};
use crate::text::{MAX_PATH, sanitize};

/// Deserialize a `T` from all of `body` (trailing white space allowed), as
/// `serde_json::from_slice` does.
pub(crate) fn from_slice<T: de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(Forward::new(&mut de, Quiet))?;
    de.end()?;
    Ok(value)
}

/// Deserialize a `T` from `body` again and return the path at which it
/// fails, if it does and the failure is below the top level.
pub(crate) fn error_path<T: de::DeserializeOwned>(body: &[u8]) -> Option<String> {
    let stack = Stack::default();
    let mut de = serde_json::Deserializer::from_slice(body);
    let failed = T::deserialize(Forward::new(&mut de, &stack))
        .and_then(|_| de.end())
        .is_err();
    (failed && !stack.is_empty()).then(|| stack.path())
}

/// Longest key in a path, in bytes once escaped; keys are the sender's.
const MAX_KEY: usize = 64;

/// One step of a path.
#[derive(Clone)]
pub(crate) enum Segment {
    /// A member's key, as sent: [`path`] escapes and cuts it.
    Key(String),
    /// An element's index.
    Index(usize),
}

impl Segment {
    /// The member `key`.
    pub(crate) fn key(key: &str) -> Self {
        Segment::Key(key.to_owned())
    }
}

/// The path of `segments`: each key escaped and cut to [`MAX_KEY`], the
/// whole to [`MAX_PATH`].
pub(crate) fn path(segments: &[Segment]) -> String {
    let mut path = String::new();
    for segment in segments {
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

/// The keys and indexes a read is inside, as a [`Hook`] keeps them: a
/// key's text is kept until its value is read, and a value or element is
/// on the stack while it is read. An error leaves the stack as it was
/// where it happened.
#[derive(Default)]
pub(crate) struct Stack {
    segments: RefCell<Vec<Segment>>,
    key: RefCell<Option<String>>,
}

impl Stack {
    /// Start again below `prefix`.
    pub(crate) fn reset(&self, prefix: Vec<Segment>) {
        *self.segments.borrow_mut() = prefix;
        *self.key.borrow_mut() = None;
    }

    /// Whether the read is at the top level.
    pub(crate) fn is_empty(&self) -> bool {
        self.segments.borrow().is_empty()
    }

    /// The path of where the read is.
    pub(crate) fn path(&self) -> String {
        path(&self.segments.borrow())
    }

    /// The path of `below`, under where the read is.
    pub(crate) fn path_to(&self, below: Segment) -> String {
        let mut segments = self.segments.borrow_mut();
        segments.push(below);
        let path = path(&segments);
        segments.pop();
        path
    }

    /// Run `read` with `segment` on the stack; it stays there when `read`
    /// fails.
    #[inline]
    pub(crate) fn within<R, E>(
        &self,
        segment: Segment,
        read: impl FnOnce() -> Result<R, E>,
    ) -> Result<R, E> {
        self.segments.borrow_mut().push(segment);
        let result = read();
        if result.is_ok() {
            self.segments.borrow_mut().pop();
        }
        result
    }
}

impl Hook for &Stack {
    #[inline]
    fn key(self, key: &str) {
        *self.key.borrow_mut() = Some(key.to_owned());
    }

    #[inline]
    fn value<R, E>(self, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        let key = self.key.borrow_mut().take().unwrap_or_else(|| "?".into());
        self.within(Segment::Key(key), read)
    }

    #[inline]
    fn element<R, E>(self, index: usize, read: impl FnOnce() -> Result<R, E>) -> Result<R, E> {
        self.within(Segment::Index(index), read)
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
