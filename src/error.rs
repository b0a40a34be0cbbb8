//! The crate's one error type.

use std::fmt::{self, Write as _};
use std::time::Duration;

use crate::text::{Capped, sanitize};
use crate::unreadable::Unreadable;

/// Everything that can go wrong while verifying or parsing a webhook.
///
/// The variants fall in four classes, which map onto HTTP answers (see
/// [`Error::http_status`]):
///
/// - configuration: [`Error::EmptySecret`], [`Error::RetentionTooShort`]
///   (answer `500`);
/// - authentication: [`Error::MissingSignature`], [`Error::MalformedSignature`],
///   [`Error::SignatureMismatch`], [`Error::TimestampTooOld`],
///   [`Error::TimestampInFuture`] (answer `401`);
/// - content: [`Error::Payload`] (answer `400`),
///   [`Error::TooManyNotifications`] (answer `413`);
/// - the receiver's own state: [`Error::Store`] (answer `503`).
///
/// Match on [`Error::kind`], a `Copy` classification, rather than on the
/// message or the `Debug` text. No message ever contains a secret or an
/// expected signature.
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
    /// not a whole number, or no signature in it is 64 hex digits. Its
    /// message gives both vendors' forms, since the usual mistake is the
    /// other vendor's header on a route.
    #[error(
        "webhook signature header is malformed: SmartComply sends `t=<unix seconds>,v1=<64 hex digits>`, SmarterWX `sha256=<64 hex digits>`"
    )]
    MalformedSignature,
    /// The header is well formed, but no signature in it matches any secret.
    /// Its message names the usual causes.
    #[error(
        "webhook signature does not match: the body must be the exact bytes sent (not JSON parsed and written again, nor sent with `curl -d`, which drops line breaks), or the secret is wrong"
    )]
    SignatureMismatch,
    /// The signed timestamp is older than the verifier's tolerance (a
    /// SmartComply `t`), or a notification's `timestamp` older than the
    /// SmarterWX verifier's maximum age.
    #[error("webhook timestamp is older than the tolerance")]
    TimestampTooOld,
    /// The signed timestamp is further in the future than the verifier's
    /// tolerance (SmartComply) or clock skew (SmarterWX).
    #[error("webhook timestamp is too far in the future")]
    TimestampInFuture,
    /// The body is not JSON of the documented shape.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// A signed SmarterWX batch holds more notifications than the verifier
    /// reads
    /// ([`with_max_notifications`](crate::smarterwx::Verifier::with_max_notifications),
    /// 10 000 by default): refused whole, before its notifications are
    /// read one by one.
    #[error("webhook batch holds more than {limit} notifications")]
    TooManyNotifications {
        /// The most notifications a batch may hold.
        limit: usize,
    },
    /// An idempotency store keeps completed keys for less time than a
    /// replay window needs
    /// ([`check_retention`](crate::smarterwx::Verifier::check_retention)):
    /// a delivery replayed after its key expired, and still inside the
    /// window, would be done again. A configuration error, for start-up.
    #[error(
        "idempotency retention of {retention:?} is shorter than the replay window needs ({required:?}: the maximum age plus the clock skew): a delivery replayed after its key expired would be done again"
    )]
    RetentionTooShort {
        /// The store's retention of completed keys.
        retention: Duration,
        /// The least retention the window needs.
        required: Duration,
    },
    /// The idempotency store could not record the delivery (down, full, or
    /// too slow to answer): answer `503`, and the vendor retries later.
    #[error(transparent)]
    Store(#[from] crate::idempotency::StoreError),
}

/// The class of an [`Error`], one per variant: what tests and handlers
/// match on.
///
/// ```
/// use utility_webhooks::{ErrorKind, smarterwx::Verifier};
///
/// let verifier = Verifier::new("my-secret")?;
/// let err = verifier.verify("sha256=00", b"[]").unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::MalformedSignature);
/// assert_eq!(err.kind().as_str(), "MalformedSignature");
/// assert!(err.kind().is_signature());
/// assert_eq!(err.kind().http_status(), 401);
/// # Ok::<(), utility_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::EmptySecret`].
    EmptySecret,
    /// [`Error::MissingSignature`].
    MissingSignature,
    /// [`Error::MalformedSignature`].
    MalformedSignature,
    /// [`Error::SignatureMismatch`].
    SignatureMismatch,
    /// [`Error::TimestampTooOld`].
    TimestampTooOld,
    /// [`Error::TimestampInFuture`].
    TimestampInFuture,
    /// [`Error::Payload`].
    Payload,
    /// [`Error::Store`].
    Store,
    /// [`Error::TooManyNotifications`].
    TooManyNotifications,
    /// [`Error::RetentionTooShort`].
    RetentionTooShort,
}

impl ErrorKind {
    /// The variant's name (`"SignatureMismatch"`): stable, for logs,
    /// metrics and test vectors.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::EmptySecret => "EmptySecret",
            ErrorKind::MissingSignature => "MissingSignature",
            ErrorKind::MalformedSignature => "MalformedSignature",
            ErrorKind::SignatureMismatch => "SignatureMismatch",
            ErrorKind::TimestampTooOld => "TimestampTooOld",
            ErrorKind::TimestampInFuture => "TimestampInFuture",
            ErrorKind::Payload => "Payload",
            ErrorKind::Store => "Store",
            ErrorKind::TooManyNotifications => "TooManyNotifications",
            ErrorKind::RetentionTooShort => "RetentionTooShort",
        }
    }

    /// `true` for the kinds that mean "this request is not authentic": a
    /// missing, malformed or mismatched signature, or a timestamp outside
    /// the tolerance.
    pub fn is_signature(self) -> bool {
        matches!(
            self,
            ErrorKind::MissingSignature
                | ErrorKind::MalformedSignature
                | ErrorKind::SignatureMismatch
                | ErrorKind::TimestampTooOld
                | ErrorKind::TimestampInFuture
        )
    }

    /// The HTTP status to answer with (see [`Error::http_status`]).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Payload => 400,
            ErrorKind::TooManyNotifications => 413,
            ErrorKind::EmptySecret | ErrorKind::RetentionTooShort => 500,
            ErrorKind::Store => 503,
            ErrorKind::MissingSignature
            | ErrorKind::MalformedSignature
            | ErrorKind::SignatureMismatch
            | ErrorKind::TimestampTooOld
            | ErrorKind::TimestampInFuture => 401,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Error {
    /// The class of the error: what to match on.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::EmptySecret => ErrorKind::EmptySecret,
            Error::MissingSignature => ErrorKind::MissingSignature,
            Error::MalformedSignature => ErrorKind::MalformedSignature,
            Error::SignatureMismatch => ErrorKind::SignatureMismatch,
            Error::TimestampTooOld => ErrorKind::TimestampTooOld,
            Error::TimestampInFuture => ErrorKind::TimestampInFuture,
            Error::Payload(_) => ErrorKind::Payload,
            Error::Store(_) => ErrorKind::Store,
            Error::TooManyNotifications { .. } => ErrorKind::TooManyNotifications,
            Error::RetentionTooShort { .. } => ErrorKind::RetentionTooShort,
        }
    }

    /// `true` for the errors that mean "this request is not authentic":
    /// a missing, malformed or mismatched signature, or a timestamp outside
    /// the tolerance.
    pub fn is_signature(&self) -> bool {
        self.kind().is_signature()
    }

    /// `true` for [`Error::Payload`]: the request was authentic (or was not
    /// checked) but its body is not of the documented shape.
    pub fn is_payload(&self) -> bool {
        self.kind() == ErrorKind::Payload
    }

    /// The HTTP status a receiver should answer with: `401` for signature
    /// and timestamp problems, `400` for payload problems, `413` for a
    /// batch of too many notifications, `503` for an idempotency store that
    /// could not answer, `500` for a misconfigured verifier or store.
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
        self.kind().http_status()
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
        status_code(self.http_status())
    }
}

/// One of the crate's statuses as an `http::StatusCode`.
#[cfg(feature = "http")]
pub(crate) fn status_code(status: u16) -> http::StatusCode {
    // Every status the crate answers is a valid code.
    http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// Why a body could not be read as the documented JSON.
///
/// Its message names what was expected and where: the event type and field
/// where they are known, and always the line and column.
///
/// Whatever the body, the message is safe to log as one line:
///
/// - it is at most 1 KiB: `to_string()` is never longer than 1024 bytes
///   (nor that of an
///   [`Unreadable`]
///   around it). The parts the sender chooses are cut one by one, keeping
///   their head and tail around `…`: the event type to 96 bytes, the path
///   to 256 (its keys are the sender's) and the message to
///   [`PayloadError::MAX_MESSAGE`], 200 (it can quote a sender's value);
/// - those parts show no character that could make the line read as
///   something else: control characters (C0, DEL, C1), bidi controls
///   (U+202A–U+202E, U+2066–U+2069 and the bidi marks), line and paragraph
///   separators (U+2028, U+2029), zero-width characters (U+200B–U+200D,
///   U+FEFF) and other invisible format characters are escaped, as `\n`,
///   `\t`, `\r` or `\u{202e}`. Other text is shown as sent.
///
/// The same holds for [`PayloadError::event_type`], [`PayloadError::path`]
/// and [`PayloadError::message`], and for the `Debug` of the parts of an
/// unreadable event or notification, which show sender text cut short; the
/// accessors of those parts give all of it, unescaped.
///
/// When a SmartComply event's envelope reads but its `data` does not fit
/// the model, [`PayloadError::unreadable`] also gives the event's id, type
/// and raw `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError(Box<Inner>);

/// Boxed, as `serde_json` boxes its error: a `Result` holding a
/// [`PayloadError`] stays one pointer wide on its error side.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    event_type: Option<Box<str>>,
    path: Option<Box<str>>,
    message: Box<str>,
    line: usize,
    column: usize,
    category: Category,
    unreadable: Option<Unreadable>,
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

/// The longest `Display` of any error that echoes sender text, in bytes,
/// whatever the body: [`PayloadError`], and
/// [`Unreadable`]
/// around one.
pub(crate) const MAX_DISPLAY: usize = 1024;

/// The longest event type echoed back in a message, in bytes once escaped;
/// the sender chooses it.
const MAX_TYPE: usize = 96;

/// The longest path echoed back in a message, in bytes once escaped: its
/// keys are the sender's, and a body can nest 128 levels of long keys.
const MAX_PATH: usize = 256;

/// The text a [`PayloadError`]'s `Display` adds around its parts.
const INTRO: &str = "invalid webhook payload";
const TYPE_OPEN: &str = " for event type `";
const PATH_OPEN: &str = " at `";
const CLOSE: &str = "`";
const MESSAGE_OPEN: &str = ": ";
const LINE_OPEN: &str = " at line ";
const COLUMN_OPEN: &str = " column ";
/// The most digits a `usize` prints.
pub(crate) const MAX_DIGITS: usize = 20;

/// The longest `Display` of a [`PayloadError`], in bytes: what is left of
/// [`MAX_DISPLAY`] for an error that shows one inside its own message.
pub(crate) const MAX_PAYLOAD_DISPLAY: usize = 880;

const _: () = assert!(
    INTRO.len()
        + TYPE_OPEN.len()
        + MAX_TYPE
        + CLOSE.len()
        + PATH_OPEN.len()
        + MAX_PATH
        + CLOSE.len()
        + MESSAGE_OPEN.len()
        + PayloadError::MAX_MESSAGE
        + LINE_OPEN.len()
        + MAX_DIGITS
        + COLUMN_OPEN.len()
        + MAX_DIGITS
        <= MAX_PAYLOAD_DISPLAY
        && MAX_PAYLOAD_DISPLAY <= MAX_DISPLAY
);

impl PayloadError {
    /// The longest [`PayloadError::message`], in bytes, counted as written:
    /// after escaping, with the fixed text around what the sender chose
    /// (`serde_json` quotes a value of the wrong type in full, as in
    /// ``invalid type: string "...", expected f64``). A longer message keeps
    /// its head and tail around `…`.
    pub const MAX_MESSAGE: usize = 200;

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
        PayloadError(Box::new(Inner {
            event_type: event_type.map(|t| sanitize(t, MAX_TYPE).into()),
            path: path.map(|path| sanitize(&path, MAX_PATH).into()),
            message: sanitize(&message, PayloadError::MAX_MESSAGE).into(),
            line: err.line(),
            column: err.column(),
            category,
            unreadable: None,
        }))
    }

    /// This error with the delivery it could not read.
    pub(crate) fn with_unreadable(mut self, unreadable: Unreadable) -> Self {
        self.0.unreadable = Some(unreadable);
        self
    }

    /// This error, found reading the part of a body that starts at `start`
    /// (found by [`Positions::at`]), as an error of the whole body: its
    /// line and column counted from the start of the body, and, for the
    /// element `index` of an array, its path below `[index]`.
    pub(crate) fn within(mut self, start: Position, index: Option<usize>) -> Self {
        if self.0.line != 0 {
            if self.0.line == 1 {
                self.0.column = self.0.column.saturating_add(start.column);
            }
            self.0.line = self.0.line.saturating_add(start.newlines);
        }
        if let Some(index) = index {
            let path = match self.0.path.take() {
                None => format!("[{index}]"),
                Some(path) if path.starts_with('[') => format!("[{index}]{path}"),
                Some(path) => format!("[{index}].{path}"),
            };
            // Already escaped: this only cuts it, if the index made it too
            // long.
            self.0.path = Some(sanitize(&path, MAX_PATH).into());
        }
        self
    }

    /// The event type the body declared, when it declared one, escaped and
    /// cut to 96 bytes as [`PayloadError`] says.
    pub fn event_type(&self) -> Option<&str> {
        self.0.event_type.as_deref()
    }

    /// Where in the body the problem is, as keys and indexes from the top
    /// (`data.exceedances[0].result_value`, `[2].message.Enquiry`), when it
    /// is below the top level. Escaped and cut to 256 bytes as
    /// [`PayloadError`] says: the keys are the sender's.
    pub fn path(&self) -> Option<&str> {
        self.0.path.as_deref()
    }

    /// What was wrong, without the position (for example
    /// ``missing field `test_id` ``). Escaped and cut to
    /// [`PayloadError::MAX_MESSAGE`] bytes as
    /// [`PayloadError`] says: it can quote a value the sender chose.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The 1-based line of the body where the problem was found, when it
    /// is known.
    pub fn line(&self) -> Option<usize> {
        (self.0.line != 0).then_some(self.0.line)
    }

    /// The 1-based column of the body where the problem was found, when the
    /// line is known.
    pub fn column(&self) -> Option<usize> {
        (self.0.line != 0).then_some(self.0.column)
    }

    /// The broad class of the problem.
    pub fn category(&self) -> Category {
        self.0.category
    }

    /// The SmartComply event this error is about, when its envelope (`id`,
    /// `type`, `created_at`) reads but its `data` does not fit the model:
    /// its id, type and raw JSON, enough to store the event aside and
    /// acknowledge it (see [`Unreadable`], which has an example). `None`
    /// for every other payload error, and always for SmarterWX, whose
    /// batches are read notification by notification instead
    /// ([`verify_and_parse_each`](crate::smarterwx::Verifier::verify_and_parse_each)
    /// gives the same [`Unreadable`] for each notification that does not
    /// fit).
    pub fn unreadable(&self) -> Option<&Unreadable> {
        self.0.unreadable.as_ref()
    }
}

/// Where a part of a body starts, as [`Positions::at`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Position {
    /// The line breaks before it.
    newlines: usize,
    /// The bytes between the last of them (or the body's start) and it.
    column: usize,
}

/// The positions of parts of one body, found in order by one forward pass:
/// each call to [`Positions::at`] reads only the bytes since the previous
/// one, so that the positions of every part of a body cost one reading of
/// it, however many parts there are.
pub(crate) struct Positions<'a> {
    body: &'a [u8],
    /// How far the body has been read.
    offset: usize,
    /// The line breaks before `offset`.
    newlines: usize,
    /// Where the line holding `offset` starts.
    line_start: usize,
}

impl<'a> Positions<'a> {
    /// Positions in `body`, from its start.
    pub(crate) fn new(body: &'a [u8]) -> Self {
        Positions {
            body,
            offset: 0,
            newlines: 0,
            line_start: 0,
        }
    }

    /// Where byte `offset` of the body is (an offset past its end is its
    /// end). Offsets are meant to come in order; one before the previous
    /// makes it read again from the start, right but no longer in one pass.
    pub(crate) fn at(&mut self, offset: usize) -> Position {
        let offset = offset.min(self.body.len());
        if offset < self.offset {
            *self = Positions::new(self.body);
        }
        let read = &self.body[self.offset..offset];
        #[cfg(test)]
        scanned::add(read.len());
        for (i, &b) in read.iter().enumerate() {
            if b == b'\n' {
                self.newlines += 1;
                self.line_start = self.offset + i + 1;
            }
        }
        self.offset = offset;
        Position {
            newlines: self.newlines,
            column: offset - self.line_start,
        }
    }
}

/// How many bytes [`Positions::at`] read on this thread: what a test
/// counts to know that the positions of a batch cost one reading of it.
#[cfg(test)]
pub(crate) mod scanned {
    use std::cell::Cell;

    thread_local! {
        static SCANNED: Cell<usize> = const { Cell::new(0) };
    }

    pub(super) fn add(bytes: usize) {
        SCANNED.with(|s| s.set(s.get() + bytes));
    }

    /// The bytes read on this thread since it started.
    pub(crate) fn get() -> usize {
        SCANNED.with(Cell::get)
    }
}

/// At most 1 KiB, whatever the body (see the type's docs).
impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = Capped::new(f, MAX_PAYLOAD_DISPLAY);
        f.write_str(INTRO)?;
        if let Some(t) = &self.0.event_type {
            write!(f, "{TYPE_OPEN}{t}{CLOSE}")?;
        }
        if let Some(path) = &self.0.path {
            write!(f, "{PATH_OPEN}{path}{CLOSE}")?;
        }
        write!(f, "{MESSAGE_OPEN}{}", self.0.message)?;
        if self.0.line != 0 {
            write!(
                f,
                "{LINE_OPEN}{}{COLUMN_OPEN}{}",
                self.0.line, self.0.column
            )?;
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
    fn an_unknown_position_is_none_and_not_printed() {
        let err = serde_json::from_value::<u8>(serde_json::json!("x")).unwrap_err();
        let e = PayloadError::new(&err, None, None);
        assert_eq!((e.line(), e.column()), (None, None));
        assert!(!e.to_string().contains(" at line "), "{e}");
        let known = payload("\n\"x\"", None);
        assert_eq!((known.line(), known.column()), (Some(2), Some(3)));
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

    #[test]
    fn kinds_classify_every_variant() {
        let store = || {
            Error::from(crate::idempotency::StoreError::new(
                crate::idempotency::StoreErrorKind::Unavailable,
                "connection refused",
            ))
        };
        for (e, kind, name, status) in [
            (
                Error::EmptySecret,
                ErrorKind::EmptySecret,
                "EmptySecret",
                500,
            ),
            (
                Error::MissingSignature,
                ErrorKind::MissingSignature,
                "MissingSignature",
                401,
            ),
            (
                Error::MalformedSignature,
                ErrorKind::MalformedSignature,
                "MalformedSignature",
                401,
            ),
            (
                Error::SignatureMismatch,
                ErrorKind::SignatureMismatch,
                "SignatureMismatch",
                401,
            ),
            (
                Error::TimestampTooOld,
                ErrorKind::TimestampTooOld,
                "TimestampTooOld",
                401,
            ),
            (
                Error::TimestampInFuture,
                ErrorKind::TimestampInFuture,
                "TimestampInFuture",
                401,
            ),
            (
                Error::from(payload("", None)),
                ErrorKind::Payload,
                "Payload",
                400,
            ),
            (store(), ErrorKind::Store, "Store", 503),
            (
                Error::TooManyNotifications { limit: 10 },
                ErrorKind::TooManyNotifications,
                "TooManyNotifications",
                413,
            ),
            (
                Error::RetentionTooShort {
                    retention: Duration::from_secs(60),
                    required: Duration::from_secs(120),
                },
                ErrorKind::RetentionTooShort,
                "RetentionTooShort",
                500,
            ),
        ] {
            assert_eq!(e.kind(), kind);
            assert_eq!(kind.as_str(), name);
            assert_eq!(kind.to_string(), name);
            assert_eq!(e.http_status(), status);
            assert_eq!(kind.http_status(), status);
            assert_eq!(e.is_signature(), status == 401);
            assert_eq!(e.is_payload(), status == 400);
        }
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
            Error::TooManyNotifications { limit: 1 },
            Error::RetentionTooShort {
                retention: Duration::ZERO,
                required: Duration::MAX,
            },
        ] {
            assert_eq!(e.status_code().as_u16(), e.http_status(), "{e:?}");
        }
    }

    #[test]
    fn payload_message_has_position_once() {
        let e = payload("\n  \"x\"", Some("test.submitted"));
        assert_eq!(e.line(), Some(2));
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
        let long = format!("a\n{}\u{202e}z", "b".repeat(500));
        let e = payload("", Some(&long));
        let t = e.event_type().unwrap();
        assert!(t.starts_with("a\\nb"), "{t}");
        assert!(t.ends_with("bbb\\u{202e}z"), "{t}");
        assert!(t.contains('…'), "{t}");
        assert!(t.len() <= MAX_TYPE, "{} bytes: {t}", t.len());
        assert_eq!(e.category(), Category::Eof);
    }

    /// The position of `start` in `body` as a reading from the start finds
    /// it.
    fn reference(body: &[u8], start: usize) -> Position {
        let before = &body[..start];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |newline| newline + 1);
        Position {
            newlines: before.iter().filter(|&&b| b == b'\n').count(),
            column: start - line_start,
        }
    }

    #[test]
    fn positions_in_order_read_the_body_once_and_agree_with_a_full_reading() {
        let body: Vec<u8> = (0..5000u32)
            .map(|i| match i % 7 {
                0 | 3 => b'\n',
                _ => b'a' + (i % 26) as u8,
            })
            .collect();
        let before = scanned::get();
        let mut positions = Positions::new(&body);
        let offsets: Vec<usize> = (0..=body.len()).step_by(3).chain([body.len()]).collect();
        for &offset in &offsets {
            assert_eq!(positions.at(offset), reference(&body, offset), "{offset}");
        }
        assert_eq!(scanned::get() - before, body.len());
        // Out of order, or past the end: still right.
        assert_eq!(positions.at(10), reference(&body, 10));
        assert_eq!(positions.at(usize::MAX), reference(&body, body.len()));
        assert_eq!(Positions::new(b"").at(5), reference(b"", 0));
    }

    #[test]
    fn within_counts_from_the_start_of_the_body() {
        let body = b"[1,\n  \"x\"]";
        let part = &body[6..9];
        let err = serde_json::from_slice::<u8>(part).unwrap_err();
        let e = PayloadError::new(&err, None, None).within(Positions::new(body).at(6), Some(1));
        assert_eq!((e.line(), e.column()), (Some(2), Some(5)));
        assert_eq!(e.path(), Some("[1]"));
        // An error on a later line of the part keeps its column.
        let err = serde_json::from_slice::<u8>(b"\n\"x\"").unwrap_err();
        let e = PayloadError::new(&err, None, None).within(Positions::new(body).at(6), None);
        assert_eq!((e.line(), e.column()), (Some(3), Some(3)));
    }

    #[test]
    fn the_longest_payload_message_fits_in_a_kibibyte() {
        let huge = "\u{202e}\u{1}".repeat(10_000);
        let mut e = PayloadError::new(
            &serde_json::from_str::<u8>(&serde_json::to_string(&huge).unwrap()).unwrap_err(),
            Some(&huge),
            Some(huge.clone()),
        )
        .within(
            Positions::new(huge.as_bytes()).at(huge.len()),
            Some(usize::MAX),
        );
        e.0.line = usize::MAX;
        e.0.column = usize::MAX;
        let shown = e.to_string();
        assert!(shown.len() <= MAX_PAYLOAD_DISPLAY, "{} bytes", shown.len());
        // Cut part by part; the last guard did not have to cut the whole.
        let end = format!(" at line {} column {}", usize::MAX, usize::MAX);
        assert!(shown.ends_with(&end), "{shown}");
        assert!(!shown.contains(['\u{202e}', '\u{1}']), "{shown}");
        assert!(e.path().unwrap().starts_with("[18446744073709551615]."));
    }
}
