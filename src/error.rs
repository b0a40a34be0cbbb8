//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use crate::read_error::{Category, ReadError};
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
/// assert_eq!(err.http_status(), 401);
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
    /// The one way to get an error's status; for what is not an error (an
    /// idempotency run's outcome, a batch's), see
    /// [`Answer`](crate::idempotency::Answer). A handler's answer is one
    /// line:
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
        match self.kind() {
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
/// where they are known, and always the line and column. Its accessors and
/// its `Display` are those of the [`ReadError`] it holds (see it for the
/// bounds and the escaping: at most 880 bytes, sender text escaped), and
/// the `Debug` of an unreadable event or notification shows sender text cut
/// short; the accessors of those parts give all of it, unescaped.
///
/// When a SmartComply event's envelope reads but its `data` does not fit
/// the model, [`PayloadError::unreadable`] also gives the event's id, type
/// and raw JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError(Box<Repr>);

/// Boxed, as `serde_json` boxes its error: a `Result` holding a
/// [`PayloadError`] stays one pointer wide on its error side. The
/// description is held once: by the unreadable delivery when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Repr {
    /// A body that does not read, and no more.
    Read(ReadError),
    /// A SmartComply event whose envelope reads: the event, and in it the
    /// description.
    Unreadable(Unreadable),
}

impl PayloadError {
    /// The longest [`PayloadError::message`] (and [`ReadError::message`]),
    /// in bytes, counted as written: after escaping, with the fixed text
    /// around what the sender chose (`serde_json` quotes a value of the
    /// wrong type in full, as in ``invalid type: string "...", expected
    /// f64``). A longer message keeps its head and tail around `…`.
    pub const MAX_MESSAGE: usize = crate::text::MAX_MESSAGE;

    /// The error of a delivery that could not be read, which holds the
    /// description.
    pub(crate) fn from_unreadable(unreadable: Unreadable) -> Self {
        PayloadError(Box::new(Repr::Unreadable(unreadable)))
    }

    /// Why the body does not read: the description every accessor of this
    /// error gives.
    pub(crate) fn read_error(&self) -> &ReadError {
        match &*self.0 {
            Repr::Read(error) => error,
            Repr::Unreadable(unreadable) => unreadable.error(),
        }
    }

    /// [`PayloadError::read_error`], owned.
    pub(crate) fn into_read_error(self) -> ReadError {
        match *self.0 {
            Repr::Read(error) => error,
            Repr::Unreadable(unreadable) => unreadable.into_error(),
        }
    }

    /// The event type the body declared, when it declared one
    /// ([`ReadError::event_type`]).
    pub fn event_type(&self) -> Option<&str> {
        self.read_error().event_type()
    }

    /// Where in the body the problem is, as keys and indexes from the top
    /// ([`ReadError::path`]).
    pub fn path(&self) -> Option<&str> {
        self.read_error().path()
    }

    /// What was wrong, without the position ([`ReadError::message`]).
    pub fn message(&self) -> &str {
        self.read_error().message()
    }

    /// The 1-based line where the problem was found ([`ReadError::line`]).
    pub fn line(&self) -> Option<usize> {
        self.read_error().line()
    }

    /// The 1-based column where the problem was found
    /// ([`ReadError::column`]).
    pub fn column(&self) -> Option<usize> {
        self.read_error().column()
    }

    /// The broad class of the problem ([`ReadError::category`]).
    pub fn category(&self) -> Category {
        self.read_error().category()
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
        match &*self.0 {
            Repr::Read(_) => None,
            Repr::Unreadable(unreadable) => Some(unreadable),
        }
    }
}

impl From<ReadError> for PayloadError {
    fn from(error: ReadError) -> Self {
        PayloadError(Box::new(Repr::Read(error)))
    }
}

/// [`ReadError`]'s: at most 880 bytes, whatever the body.
impl fmt::Display for PayloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.read_error(), f)
    }
}

impl std::error::Error for PayloadError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(body: &str, ty: Option<&str>) -> PayloadError {
        let err = serde_json::from_str::<u8>(body).unwrap_err();
        ReadError::new(&err, ty, Some("data.x".into())).into()
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
    fn a_payload_error_gives_its_read_error_once() {
        let e = payload("\n  \"x\"", Some("test.submitted"));
        assert_eq!(e.to_string(), e.read_error().to_string());
        assert_eq!(
            (e.event_type(), e.path(), e.line(), e.column()),
            (Some("test.submitted"), Some("data.x"), Some(2), Some(5))
        );
        assert_eq!(e.message(), e.read_error().message());
        assert_eq!(e.category(), Category::Data);
        assert!(e.unreadable().is_none());
        assert_eq!(
            std::mem::size_of::<PayloadError>(),
            std::mem::size_of::<usize>()
        );
    }
}
