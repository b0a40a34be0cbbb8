//! Feature `axum`: a verified delivery as an extractor, and the crate's
//! errors, outcomes and answers as responses.
//!
//! A handler takes [`Verified<T>`]; the verifier comes from the router's
//! state through `FromRef`, and the body is read as bytes under a cap
//! (1 MiB, or the [`BodyLimit`] the router sets). A delivery that does not
//! verify never reaches the handler: it is answered with the crate's
//! [`Error`] as the response.
//!
//! ```
//! use axum::{Router, extract::FromRef, routing::post};
//! use utility_webhooks::axum::Verified;
//! use utility_webhooks::idempotency::Answer;
//! use utility_webhooks::{Unreadable, smartcomply, smarterwx};
//!
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     smartcomply: smartcomply::Verifier,
//!     smarterwx: smarterwx::Verifier,
//! }
//!
//! async fn smartcomply_hook(Verified(event): Verified<smartcomply::Event>) -> Answer {
//!     println!("{} {}", event.event_type(), event.id);
//!     Answer::default() // 204
//! }
//!
//! async fn smarterwx_hook(
//!     Verified(batch): Verified<Vec<Result<smarterwx::Notification, Unreadable>>>,
//! ) -> Answer {
//!     for notification in batch {
//!         match notification {
//!             Ok(n) => println!("{} {}", n.event_type(), n.uuid),
//!             Err(unreadable) => eprintln!("park {}", unreadable.raw()),
//!         }
//!     }
//!     Answer::default()
//! }
//!
//! let app: Router = Router::new()
//!     .route("/webhooks/smartcomply", post(smartcomply_hook))
//!     .route("/webhooks/smarterwx", post(smarterwx_hook))
//!     .with_state(AppState {
//!         smartcomply: smartcomply::Verifier::new("whsec_...")?,
//!         smarterwx: smarterwx::Verifier::new("swx secret")?,
//!     });
//! # Ok::<(), utility_webhooks::Error>(())
//! ```

use std::fmt;

use axum_core::extract::{FromRef, FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::Error;
use crate::idempotency::{Answer, Outcome, StoreError};
use crate::unreadable::Unreadable;
use crate::{smartcomply, smarterwx};

/// A delivery that verified, read as `T`:
///
/// - `smartcomply::Event`: the event; a signed event the model cannot read
///   is rejected with `400`;
/// - `Result<smartcomply::Event, Unreadable>`: the event, or the signed
///   event the model cannot read, to park and acknowledge;
/// - `Vec<Result<smarterwx::Notification, Unreadable>>`: a SmarterWX batch
///   read notification by notification (the way to receive batches);
/// - `Vec<smarterwx::Notification>`: a SmarterWX batch, all or nothing;
/// - `(T, Bytes)` for any of these `T`: the same, and the body exactly as
///   received (`Verified((event, body))`), to store byte for byte or to
///   give to `drift`. The `Bytes` is axum's (`axum::body::Bytes`), and it
///   costs no copy.
///
/// Its verifier (`smartcomply::Verifier` or `smarterwx::Verifier`) comes
/// from the router's state through `FromRef` (`#[derive(FromRef)]` on the
/// state, or the verifier as the state itself).
///
/// ```
/// use axum::body::Bytes;
/// use utility_webhooks::axum::Verified;
/// use utility_webhooks::idempotency::Answer;
/// use utility_webhooks::{Unreadable, smarterwx};
///
/// type Batch = Vec<Result<smarterwx::Notification, Unreadable>>;
///
/// async fn hook(Verified((batch, body)): Verified<(Batch, Bytes)>) -> Answer {
///     // `body` is what SmarterWX signed, byte for byte.
///     if let Ok(drift) = smarterwx::drift(&body) {
///         print!("{drift}");
///     }
///     let _ = batch;
///     Answer::ACKNOWLEDGE
/// }
/// # let _: axum::Router = axum::Router::new()
/// #     .route("/", axum::routing::post(hook))
/// #     .with_state(smarterwx::Verifier::new("swx secret").unwrap());
/// ```
#[derive(Debug, Clone)]
pub struct Verified<T>(pub T);

/// The largest body [`Verified`] reads, in bytes: 1 MiB unless the router
/// sets another with `.layer(axum::Extension(BodyLimit(n)))`. A larger body
/// is answered `413` before anything is verified.
///
/// The signature can only be checked once the whole body is in memory, so
/// anyone who can reach the route can make the receiver buffer what they
/// send: real deliveries are a few kilobytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit(1024 * 1024)
    }
}

/// What a delivery can be read as through [`Verified`]: sealed. Each
/// type listed on [`Verified`] implements it.
pub trait Verifiable: Sized + sealed::Sealed {
    /// The verifier that checks it.
    type Verifier: Send + Sync;

    /// Verify the delivery and read it.
    #[doc(hidden)]
    fn verify(verifier: &Self::Verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error>;
}

mod sealed {
    /// Only the crate implements [`super::Verifiable`].
    pub trait Sealed {}
}

impl sealed::Sealed for smartcomply::Event {}

impl Verifiable for smartcomply::Event {
    type Verifier = smartcomply::Verifier;

    fn verify(verifier: &Self::Verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error> {
        verifier.verify_and_parse(headers, &body)
    }
}

impl sealed::Sealed for Result<smartcomply::Event, Unreadable> {}

impl Verifiable for Result<smartcomply::Event, Unreadable> {
    type Verifier = smartcomply::Verifier;

    fn verify(verifier: &Self::Verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error> {
        match verifier.verify_and_parse(headers, &body) {
            Ok(event) => Ok(Ok(event)),
            Err(Error::Payload(err)) => match err.unreadable() {
                Some(unreadable) => Ok(Err(unreadable.clone())),
                None => Err(Error::Payload(err)),
            },
            Err(err) => Err(err),
        }
    }
}

impl sealed::Sealed for Vec<Result<smarterwx::Notification, Unreadable>> {}

impl Verifiable for Vec<Result<smarterwx::Notification, Unreadable>> {
    type Verifier = smarterwx::Verifier;

    fn verify(verifier: &Self::Verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error> {
        verifier.verify_and_parse_each(headers, &body)
    }
}

impl sealed::Sealed for Vec<smarterwx::Notification> {}

impl Verifiable for Vec<smarterwx::Notification> {
    type Verifier = smarterwx::Verifier;

    fn verify(verifier: &Self::Verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error> {
        verifier.verify_and_parse(headers, &body)
    }
}

impl<T: Verifiable> sealed::Sealed for (T, Bytes) {}

/// The delivery read as `T`, and its body as received.
impl<T: Verifiable> Verifiable for (T, Bytes) {
    type Verifier = T::Verifier;

    fn verify(verifier: &Self::Verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error> {
        // `Bytes` is reference-counted: the clone copies no byte.
        T::verify(verifier, headers, body.clone()).map(|read| (read, body))
    }
}

impl<S, T> FromRequest<S> for Verified<T>
where
    S: Send + Sync,
    T: Verifiable,
    T::Verifier: FromRef<S>,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        let verifier = T::Verifier::from_ref(state);
        let limit = request
            .extensions()
            .get::<BodyLimit>()
            .copied()
            .unwrap_or_default();
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, limit.0).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(Rejection::TooLarge { limit: limit.0 });
            }
            Err(_) => return Err(Rejection::BodyNotRead),
        };
        T::verify(&verifier, &parts.headers, body)
            .map(Verified)
            .map_err(Rejection::Invalid)
    }
}

/// Why [`Verified`] refused a request, as its response.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The body is larger than the [`BodyLimit`]: `413`.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body did not arrive whole (the client went away): `400`.
    BodyNotRead,
    /// The delivery does not verify, or does not read: the crate's
    /// [`Error`], with its status.
    Invalid(Error),
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TooLarge { limit } => {
                write!(f, "webhook body is larger than {limit} bytes")
            }
            Rejection::BodyNotRead => f.write_str("webhook body could not be read"),
            Rejection::Invalid(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Rejection::Invalid(err) => Some(err),
            _ => None,
        }
    }
}

/// A short plain-text answer: the status and one line of text.
fn text(status: StatusCode, message: String) -> Response {
    let mut response = (status, message).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        match self {
            Rejection::TooLarge { .. } => text(StatusCode::PAYLOAD_TOO_LARGE, self.to_string()),
            Rejection::BodyNotRead => text(StatusCode::BAD_REQUEST, self.to_string()),
            Rejection::Invalid(err) => err.into_response(),
        }
    }
}

/// The error's status ([`Error::status_code`]) and its message, which
/// holds no secret, no expected signature and no part of the body but
/// bounded, escaped sender text (at most 1 KiB).
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        text(self.status_code(), self.to_string())
    }
}

/// `503`, with the store's message (no key, no password).
impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        Error::Store(self).into_response()
    }
}

/// [`Answer::status_code`], with `Retry-After` on a `409`.
impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = self.status_code().into_response();
        if let Some(seconds) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// As its [`Answer`]: `204`, `409` with `Retry-After` in whole seconds
/// (rounded up), or `500`.
impl<T, E> IntoResponse for Outcome<T, E> {
    fn into_response(self) -> Response {
        Answer::from(&self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn outcomes_errors_and_answers_become_their_responses() {
        let busy: Outcome<(), ()> = Outcome::InProgress {
            retry_after: Duration::from_millis(2001),
        };
        let response = busy.into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[RETRY_AFTER], "3");
        let done: Outcome<(), ()> = Outcome::Done(());
        assert_eq!(done.into_response().status(), StatusCode::NO_CONTENT);
        let panicked: Outcome<(), ()> = Outcome::Panicked("bug".into());
        let response = panicked.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(response.headers().get(RETRY_AFTER).is_none());

        let response = Error::SignatureMismatch.into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let down = StoreError::new(crate::idempotency::StoreErrorKind::Unavailable, "down");
        assert_eq!(
            down.into_response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let too_large = Rejection::TooLarge { limit: 10 }.into_response();
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
}
