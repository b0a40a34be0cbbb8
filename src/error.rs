//! The crate's one error type.

use std::fmt;

/// Everything that can go wrong while verifying or parsing a webhook.
///
/// The variants fall in three classes, which map onto HTTP answers (see
/// [`Error::http_status`]):
///
/// - configuration: [`Error::EmptySecret`];
/// - authentication: [`Error::MissingSignature`], [`Error::MalformedSignature`],
///   [`Error::SignatureMismatch`], [`Error::TimestampTooOld`],
///   [`Error::TimestampInFuture`] (answer `401`);
/// - content: [`Error::Payload`] (answer `400`).
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
    /// and timestamp problems, `400` for payload problems, `500` for a
    /// misconfigured verifier.
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
    pub fn status_code(&self) -> http::StatusCode {
        match self {
            Error::Payload(_) => http::StatusCode::BAD_REQUEST,
            Error::EmptySecret => http::StatusCode::INTERNAL_SERVER_ERROR,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// Why a body could not be read as the documented JSON.
///
/// Its message names what was expected and where: the event type and field
/// where they are known, and always the line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    event_type: Option<String>,
    path: Option<String>,
    message: String,
    line: usize,
    column: usize,
    category: Category,
}

/// The broad class of a [`PayloadError`], mirroring `serde_json`'s.
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
            event_type: event_type.map(echo),
            path,
            message: shorten(message),
            line: err.line(),
            column: err.column(),
            category,
        }
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
}

/// A sender-chosen string made safe to print: bounded and without control
/// characters.
fn echo(s: &str) -> String {
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
