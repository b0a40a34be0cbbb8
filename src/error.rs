//! The crate's one error type.

use std::fmt;

use crate::smartcomply::UnreadableEvent;

/// Everything that can go wrong while verifying or parsing a webhook.
///
/// The variants fall in three classes, which map onto HTTP answers (see
/// [`Error::http_status`]):
///
/// - configuration: [`Error::EmptySecret`];
/// - authentication: [`Error::MissingSignature`], [`Error::MalformedSignature`],
///   [`Error::SignatureMismatch`], [`Error::TimestampTooOld`],
///   [`Error::TimestampInFuture`] (answer `401`);
/// - content: [`Error::Payload`] (answer `400`);
/// - the receiver's own state: [`Error::Store`] (answer `503`).
///
/// No message ever contains a secret or an expected signature.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A verifier was given an empty secret.
    #[error("webhook secret is empty")]
    EmptySecret,
    /// The signature header value is empty (or only white space).
    #[error("webhook signature header is missing or empty")]
    MissingSignature,
    /// The signature header cannot be read: a part is missing, a timestamp is
    /// not a whole number, or no signature in it is 64 hex digits.
    #[error("webhook signature header is malformed")]
    MalformedSignature,
    /// The header is well formed, but no signature in it matches any secret.
    #[error("webhook signature does not match")]
    SignatureMismatch,
    /// The signed timestamp is older than the verifier's tolerance.
    #[error("webhook timestamp is older than the tolerance")]
    TimestampTooOld,
    /// The signed timestamp is further in the future than the verifier's
    /// tolerance.
    #[error("webhook timestamp is too far in the future")]
    TimestampInFuture,
    /// The body is not JSON of the documented shape.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The idempotency store could not record the delivery (down, full, or
    /// too slow to answer): answer `503`, and the vendor retries later.
    #[error(transparent)]
    Store(#[from] crate::idempotency::StoreError),
}

impl Error {
    /// `true` for the errors that mean "this request is not authentic":
    /// a missing, malformed or mismatched signature, or a timestamp outside
    /// the tolerance.
    pub fn is_signature(&self) -> bool {
        matches!(
            self,
            Error::MissingSignature
                | Error::MalformedSignature
                | Error::SignatureMismatch
                | Error::TimestampTooOld
                | Error::TimestampInFuture
        )
    }

    /// `true` for [`Error::Payload`]: the request was authentic (or was not
    /// checked) but its body is not of the documented shape.
    pub fn is_payload(&self) -> bool {
        matches!(self, Error::Payload(_))
    }

    /// The HTTP status a receiver should answer with: `401` for signature
    /// and timestamp problems, `400` for payload problems, `503` for an
    /// idempotency store that could not answer, `500` for a misconfigured
    /// verifier.
    ///
    /// A payload error of a verified delivery is still the vendor's: when
    /// [`PayloadError::unreadable`] gives the event, store it aside and
    /// answer `2xx` rather than this `400`, which the vendor would retry
    /// and then give up on.
    ///
    /// A handler's answer is one line:
    ///
    /// ```
    /// use utility_webhooks::{Error, smarterwx::Verifier};
    ///
    /// fn answer(verifier: &Verifier, header: &[u8], body: &[u8]) -> u16 {
    ///     verifier.verify_and_parse(header, body).map_or_else(|e| e.http_status(), |_| 200)
    /// }
    ///
    /// let verifier = Verifier::new("my-secret").unwrap();
    /// assert_eq!(answer(&verifier, b"sha256=00", b"[]"), 401);
    /// assert_eq!(Error::SignatureMismatch.http_status(), 401);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Payload(_) => 400,
            Error::EmptySecret => 500,
            Error::Store(_) => 503,
            _ => 401,
        }
    }

    /// [`Error::http_status`] as an `http::StatusCode`, for frameworks built
    /// on the `http` crate (axum, hyper, ...).
    ///
    /// Requires the `http` feature.
    ///
    /// ```
    /// use http::StatusCode;
    /// use utility_webhooks::Error;
    ///
    /// assert_eq!(Error::MissingSignature.status_code(), StatusCode::UNAUTHORIZED);
    /// ```
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn status_code(&self) -> http::StatusCode {
        match self {
            Error::Payload(_) => http::StatusCode::BAD_REQUEST,
            Error::EmptySecret => http::StatusCode::INTERNAL_SERVER_ERROR,
            Error::Store(_) => http::StatusCode::SERVICE_UNAVAILABLE,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// Why a body could not be read as the documented JSON.
///
/// Its message names what was expected and where: the event type and field
/// where they are known, and always the line and column.
///
/// When a SmartComply event's envelope reads but its `data` does not fit
/// the model, [`PayloadError::unreadable`] also gives the event's id, type
/// and raw `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    // Boxed text: never changed once made, and 8 bytes smaller each.
    event_type: Option<Box<str>>,
    path: Option<Box<str>>,
    message: Box<str>,
    line: usize,
    column: usize,
    category: Category,
    /// Boxed: it is rare, and `Result<Event, Error>` stays small.
    unreadable: Option<Box<UnreadableEvent>>,
}

/// The broad class of a [`PayloadError`], mirroring `serde_json`'s: it
/// tells a truncated body ([`Category::Eof`]) from malformed JSON
/// ([`Category::Syntax`]) and from valid JSON of another shape
/// ([`Category::Data`]), for a receiver that sorts the bodies it refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Category {
    /// The body is not syntactically valid JSON (including invalid UTF-8
    /// inside a string and nesting deeper than 128 levels).
    Syntax,
    /// The body is valid JSON, but not of the documented shape: a missing
    /// field, a wrong type, a value out of range, a malformed date.
    Data,
    /// The body ends before the JSON value does (empty or truncated).
    Eof,
}

/// Longest event type echoed back in a message; longer ones are cut, since
/// the sender chooses them.
const MAX_ECHOED_TYPE: usize = 64;

/// Longest message kept whole. `serde_json` quotes a value of the wrong type
/// in full (``invalid type: string "...", expected f64``), and the sender
/// chooses that value: a longer message keeps its start and end.
const MAX_MESSAGE: usize = 200;

impl PayloadError {
    /// Wrap a `serde_json` error, naming the event type and the path to the
    /// failing field where they are known.
    pub(crate) fn new(
        err: &serde_json::Error,
        event_type: Option<&str>,
        path: Option<String>,
    ) -> Self {
        let category = match err.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                Category::Syntax
            }
            serde_json::error::Category::Data => Category::Data,
            serde_json::error::Category::Eof => Category::Eof,
        };
        let mut message = err.to_string();
        // serde_json appends " at line L column C"; we print it ourselves.
        if err.line() != 0 {
            let suffix = format!(" at line {} column {}", err.line(), err.column());
            if message.ends_with(&suffix) {
                message.truncate(message.len() - suffix.len());
            }
        }
        PayloadError {
            event_type: event_type.map(|t| echo(t).into()),
            path: path.map(String::into_boxed_str),
            message: shorten(message).into(),
            line: err.line(),
            column: err.column(),
            category,
            unreadable: None,
        }
    }

    /// This error with the event whose `data` it could not read.
    pub(crate) fn with_unreadable(mut self, event: UnreadableEvent) -> Self {
        self.unreadable = Some(Box::new(event));
        self
    }

    /// This error, found reading the part of `body` that starts at byte
    /// `start`, as an error of the whole body: its line and column counted
    /// from the start of `body`, and, for the element `index` of an array,
    /// its path below `[index]`.
    pub(crate) fn within(mut self, body: &[u8], start: usize, index: Option<usize>) -> Self {
        if self.line != 0 {
            let before = &body[..start.min(body.len())];
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |newline| newline + 1);
            if self.line == 1 {
                self.column += start - line_start;
            }
            self.line += before.iter().filter(|&&b| b == b'\n').count();
        }
        if let Some(index) = index {
            let path = match self.path.take() {
                None => format!("[{index}]"),
                Some(path) if path.starts_with('[') => format!("[{index}]{path}"),
                Some(path) => format!("[{index}].{path}"),
            };
            self.path = Some(path.into());
        }
        self
    }

    /// The event type the body declared, when it declared one (cut to 64
    /// characters, control characters escaped).
    pub fn event_type(&self) -> Option<&str> {
        self.event_type.as_deref()
    }

    /// Where in the body the problem is, as keys and indexes from the top
    /// (`data.exceedances[0].result_value`, `[2].message.Enquiry`), when it
    /// is below the top level.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// What was wrong, without the position (for example
    /// ``missing field `test_id` ``).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The 1-based line of the body where the problem was found (0 when it
    /// is not known).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column of the body where the problem was found (0 when it
    /// is not known).
    pub fn column(&self) -> usize {
        self.column
    }

    /// The broad class of the problem.
    pub fn category(&self) -> Category {
        self.category
    }

    /// The SmartComply event this error is about, when its envelope (`id`,
    /// `type`, `created_at`) reads but its `data` does not fit the model:
    /// the id, the type and the raw `data` JSON, enough to store the event
    /// aside and acknowledge it. `None` for every other payload error, and
    /// always for SmarterWX, whose batches are read notification by
    /// notification instead
    /// ([`verify_and_parse_each`](crate::smarterwx::Verifier::verify_and_parse_each)).
    ///
    /// Only a verified delivery is known to come from SmartComply: park what
    /// this gives after [`verify`](crate::smartcomply::Verifier::verify)
    /// passed, never for an unchecked body.
    ///
    /// ```
    /// use utility_webhooks::{Error, smartcomply};
    ///
    /// // Signed by SmartComply, but `test_date` is a number where the model
    /// // reads a date.
    /// let body = br#"{"id":"evt_1","type":"test.submitted","created_at":"2026-05-05T14:30:00Z",
    ///   "data":{"test_id":"bft_1","assembly_id":"asm_1","tester_id":"tst_1",
    ///           "result":"pass","test_date":20260505}}"#;
    /// let Err(Error::Payload(err)) = smartcomply::parse(body) else { panic!() };
    /// let event = err.unreadable().expect("the envelope reads");
    /// assert_eq!(event.id(), "evt_1");
    /// assert_eq!(event.event_type(), "test.submitted");
    /// assert!(event.raw_data().starts_with(r#"{"test_id":"bft_1""#));
    /// assert_eq!(event.idempotency_key(), "smartcomply:evt_1");
    /// ```
    pub fn unreadable(&self) -> Option<&UnreadableEvent> {
        self.unreadable.as_deref()
    }
}

/// A sender-chosen string made safe to print: bounded and without control
/// characters.
pub(crate) fn echo(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_ECHOED_TYPE {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `message` cut to its first and last `MAX_MESSAGE / 2` characters around
/// an ellipsis when it is longer than `MAX_MESSAGE`.
fn shorten(message: String) -> String {
    let count = message.chars().count();
    if count <= MAX_MESSAGE {
        return message;
    }
    let keep = MAX_MESSAGE / 2;
    let head: String = message.chars().take(keep).collect();
    let tail: String = message.chars().skip(count - keep).collect();
    format!("{head}…{tail}")
}

/// Longest sender text a `Debug` of an unreadable part shows; the rest is
/// counted, not shown (the accessors give all of it).
const MAX_DEBUG: usize = 200;

/// Sender text in a `Debug`: quoted and escaped as `str`'s `Debug` does,
/// cut to its first [`MAX_DEBUG`] characters with its length in bytes.
pub(crate) struct Bounded<'a>(pub(crate) &'a str);

impl fmt::Debug for Bounded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_DEBUG) {
            None => fmt::Debug::fmt(self.0, f),
            Some((end, _)) => {
                fmt::Debug::fmt(&self.0[..end], f)?;
                write!(f, "… ({} bytes)", self.0.len())
            }
        }
    }
}

impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid webhook payload")?;
        if let Some(t) = &self.event_type {
            write!(f, " for event type `{t}`")?;
        }
        if let Some(path) = &self.path {
            write!(f, " at `{path}`")?;
        }
        write!(f, ": {}", self.message)?;
        if self.line != 0 {
            write!(f, " at line {} column {}", self.line, self.column)?;
        }
        Ok(())
    }
}

impl std::error::Error for PayloadError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(body: &str, ty: Option<&str>) -> PayloadError {
        let err = serde_json::from_str::<u8>(body).unwrap_err();
        PayloadError::new(&err, ty, Some("data.x".into()))
    }

    #[test]
    fn status_classes() {
        assert_eq!(Error::MissingSignature.http_status(), 401);
        assert_eq!(Error::TimestampInFuture.http_status(), 401);
        assert_eq!(Error::EmptySecret.http_status(), 500);
        let e = Error::from(payload("", None));
        assert_eq!(e.http_status(), 400);
        assert!(e.is_payload() && !e.is_signature());
        assert!(Error::SignatureMismatch.is_signature());
        let store = Error::from(crate::idempotency::StoreError::new(
            crate::idempotency::StoreErrorKind::Full,
            "every record is a lease in progress",
        ));
        assert_eq!(store.http_status(), 503);
        assert!(!store.is_payload() && !store.is_signature());
        assert_eq!(
            store.to_string(),
            "idempotency store full: every record is a lease in progress"
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn status_code_agrees_with_http_status() {
        for e in [
            Error::EmptySecret,
            Error::MissingSignature,
            Error::MalformedSignature,
            Error::SignatureMismatch,
            Error::TimestampTooOld,
            Error::TimestampInFuture,
            Error::from(payload("", None)),
            Error::from(crate::idempotency::StoreError::new(
                crate::idempotency::StoreErrorKind::Unavailable,
                "connection refused",
            )),
        ] {
            assert_eq!(e.status_code().as_u16(), e.http_status(), "{e:?}");
        }
    }

    #[test]
    fn payload_message_has_position_once() {
        let e = payload("\n  \"x\"", Some("test.submitted"));
        assert_eq!(e.line(), 2);
        assert_eq!(e.category(), Category::Data);
        let shown = e.to_string();
        assert!(
            shown.starts_with(
                "invalid webhook payload for event type `test.submitted` at `data.x`: invalid type: string"
            ),
            "{shown}"
        );
        assert_eq!(e.path(), Some("data.x"));
        assert_eq!(shown.matches(" at line ").count(), 1, "{shown}");
        assert!(shown.ends_with("at line 2 column 5"), "{shown}");
    }

    #[test]
    fn echoed_type_is_bounded_and_escaped() {
        let long = format!("a\n{}", "b".repeat(500));
        let e = payload("", Some(&long));
        let t = e.event_type().unwrap();
        assert!(t.starts_with("a\\nb"));
        assert!(t.chars().count() <= MAX_ECHOED_TYPE + 2);
        assert_eq!(e.category(), Category::Eof);
    }
}
