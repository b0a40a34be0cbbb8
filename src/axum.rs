//! Feature `axum`: a verified delivery as an extractor, and the crate's
//! errors, outcomes and answers as responses.
//!
//! A handler takes [`Verified<T>`]; the verifier comes from the router's
//! state through `FromRef`. A request without a readable signature header
//! is refused before any of its body is read; the body is then read as
//! bytes under a cap (1 MiB, or the router's `DefaultBodyLimit`), copied
//! into one buffer as it arrives. A delivery that does not verify never
//! reaches the handler: it is answered with the crate's [`Error`] as the
//! response.
//!
//! ```
//! use axum::{Router, extract::FromRef, routing::post};
//! use utility_webhooks::axum::Verified;
//! use utility_webhooks::idempotency::Answer;
//! use utility_webhooks::{Escaped, smartcomply, smarterwx};
//!
//! #[derive(Clone, FromRef)]
//! struct AppState {
//!     smartcomply: smartcomply::Verifier,
//!     smarterwx: smarterwx::Verifier,
//! }
//!
//! async fn smartcomply_hook(Verified(event): Verified<smartcomply::Event>) -> Answer {
//!     println!("{} {}", Escaped(event.event_type()), event.id); // sender text, escaped
//!     Answer::default() // 204
//! }
//!
//! async fn smarterwx_hook(Verified(batch): Verified<Vec<smarterwx::Item>>) -> Answer {
//!     for item in batch {
//!         match item {
//!             smarterwx::Item::Notification(n) => println!("{} {}", Escaped(n.event_type()), n.uuid),
//!             smarterwx::Item::Unreadable(unreadable) => eprintln!("park {unreadable}"), // store `raw()` aside
//!             other => eprintln!("not processed: {other:?}"), // stale
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

use axum_core::RequestExt as _;
use axum_core::body::Body;
use axum_core::extract::{DefaultBodyLimit, FromRef, FromRequest, Request};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{Extensions, HeaderMap, HeaderValue, StatusCode};
use http_body::Body as _;
use http_body_util::{BodyExt, LengthLimitError};

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
/// - `Vec<smarterwx::Item>`: a SmarterWX batch read notification by
///   notification (the way to receive batches): each notification typed,
///   unreadable or, with a replay window, stale;
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
/// use utility_webhooks::smarterwx;
///
/// type Batch = Vec<smarterwx::Item>;
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

/// The largest body [`Verified`] reads unless the router sets another
/// with axum's `DefaultBodyLimit::max(n)`: 1 MiB.
///
/// The signature can only be checked once the whole body is in memory, so
/// anyone who can reach the route can make the receiver buffer what they
/// send: real deliveries are a few kilobytes. A larger body is answered
/// `413` before anything is verified (at once when its `Content-Length`
/// says so). `DefaultBodyLimit::disable()` leaves [`Verified`] at this
/// limit: it never reads an unverified body without a cap.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// What a delivery can be read as through [`Verified`]: sealed. Each
/// type listed on [`Verified`] implements it.
pub trait Verifiable: Sized + Send + 'static + sealed::Sealed {
    /// The verifier that checks it.
    type Verifier: Clone + Send + Sync + 'static + sealed::ReadsHeader;

    /// Verify the delivery and read it.
    #[doc(hidden)]
    fn verify(verifier: &Self::Verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error>;
}

mod sealed {
    use http::HeaderMap;

    use crate::{Error, smartcomply, smarterwx};

    /// Only the crate implements [`super::Verifiable`].
    pub trait Sealed {}

    /// A vendor's verifier, which refuses a missing or malformed signature
    /// header before the body is read.
    pub trait ReadsHeader {
        fn check_header(&self, headers: &HeaderMap) -> Result<(), Error>;
    }

    impl ReadsHeader for smartcomply::Verifier {
        fn check_header(&self, headers: &HeaderMap) -> Result<(), Error> {
            smartcomply::Verifier::check_header(self, headers)
        }
    }

    impl ReadsHeader for smarterwx::Verifier {
        fn check_header(&self, headers: &HeaderMap) -> Result<(), Error> {
            smarterwx::Verifier::check_header(self, headers)
        }
    }
}

/// [`Verifiable`] for each type that its vendor's verifier reads with one
/// method.
macro_rules! verifiable {
    ($($ty:ty => $verifier:ty, $method:ident;)+) => {$(
        impl sealed::Sealed for $ty {}

        impl Verifiable for $ty {
            type Verifier = $verifier;

            fn verify(verifier: &$verifier, headers: &HeaderMap, body: Bytes) -> Result<Self, Error> {
                verifier.$method(headers, &body)
            }
        }
    )+};
}

verifiable! {
    smartcomply::Event => smartcomply::Verifier, verify_and_parse;
    Vec<smarterwx::Item> => smarterwx::Verifier, verify_and_parse_each;
    Vec<smarterwx::Notification> => smarterwx::Verifier, verify_and_parse;
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
        // A request that cannot be signed is refused before any of its
        // body is read.
        sealed::ReadsHeader::check_header(&verifier, request.headers())
            .map_err(Rejection::Invalid)?;
        let (mut parts, body) = request.into_parts();
        let limit = body_limit(std::mem::take(&mut parts.extensions));
        let body = read_body(body, limit).await?;
        let large = body.len() > READ_APART_ABOVE;
        let headers = parts.headers;
        let verify = move || T::verify(&verifier, &headers, body);
        let read = match tokio::runtime::Handle::try_current() {
            // `None`: the runtime is shutting down, and nothing is answered.
            Ok(runtime) if large => on_blocking_thread(&runtime, verify)
                .await
                .ok_or(Rejection::BodyNotRead)?,
            _ => verify(),
        };
        read.map(Verified).map_err(Rejection::Invalid)
    }
}

/// The body's size above which [`Verified`] verifies and reads it on
/// Tokio's blocking threads rather than the runtime's own: 64 KiB.
///
/// Reading a signed megabyte of deeply nested JSON, or a batch of
/// thousands of notifications that each fail to read, takes tens of
/// milliseconds; on a runtime thread, every other request on that thread
/// waits that long. Real deliveries are a few kilobytes and stay on the
/// runtime thread, where they cost no hand-over.
pub const READ_APART_ABOVE: usize = 64 * 1024;

/// `verify` on one of `runtime`'s blocking threads, inside the caller's
/// span (and, with `tracing`, its subscriber); a panic goes on in the
/// caller, as it would have inline. `None` when the runtime shut down
/// before it ran.
async fn on_blocking_thread<T: Send + 'static>(
    runtime: &tokio::runtime::Handle,
    verify: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    #[cfg(feature = "tracing")]
    let verify = {
        let dispatch = tracing::dispatcher::get_default(Clone::clone);
        let span = tracing::Span::current();
        move || tracing::dispatcher::with_default(&dispatch, || span.in_scope(verify))
    };
    match runtime.spawn_blocking(verify).await {
        Ok(read) => Some(read),
        Err(join) => match join.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(_) => None,
        },
    }
}

/// The limit the router set with axum's `DefaultBodyLimit::max`, else
/// [`DEFAULT_BODY_LIMIT`], from the request's `extensions` (which it
/// consumes: the body is the last thing read from a request).
///
/// `DefaultBodyLimit` keeps its setting where only axum reads it, so it
/// is read the way axum applies it: axum limits a body with no length of
/// its own to the setting, and the limited body's upper size is that
/// setting. Left unset, axum would apply its own default (2 MB); whether
/// a setting is there shows when one more is added (the count of
/// extensions stays the same when it replaces one).
fn body_limit(extensions: Extensions) -> usize {
    let mut probe = Request::new(Body::from_stream(Body::empty().into_data_stream()));
    *probe.extensions_mut() = extensions;
    let probe = probe.with_limited_body();
    let limit = probe.body().size_hint().upper();
    let mut extensions = probe.into_parts().0.extensions;
    let count = extensions.len();
    let mut setting = Request::new(());
    DefaultBodyLimit::disable().apply(&mut setting);
    extensions.extend(setting.into_parts().0.extensions);
    let set = extensions.len() == count;
    match limit.map(usize::try_from) {
        Some(Ok(limit)) if set => limit,
        // Unset, disabled, or past this machine's memory.
        _ => DEFAULT_BODY_LIMIT,
    }
}

/// The body, copied frame by frame into one buffer as it arrives, so that
/// what is held is about the body's size however the sender cut it (a
/// frame can hold on to a much larger read buffer); `413` past `limit`,
/// at once when the body's declared length is past it.
async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, Rejection> {
    let too_large = || Rejection::TooLarge { limit };
    let hint = body.size_hint();
    let declared = usize::try_from(hint.lower()).unwrap_or(usize::MAX);
    if declared > limit {
        return Err(too_large());
    }
    // The declared length, else a first guess the buffer grows from.
    let mut buffer = Vec::with_capacity(declared.max(FIRST_READ).min(limit));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| match err.into_inner().is::<LengthLimitError>() {
            // A limit of the router's own (tower-http's) on the body.
            true => too_large(),
            false => Rejection::BodyNotRead,
        })?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let len = buffer
            .len()
            .checked_add(data.len())
            .filter(|&len| len <= limit)
            .ok_or_else(too_large)?;
        if len > buffer.capacity() {
            // Doubling, never past the limit.
            let capacity = buffer.capacity().saturating_mul(2).clamp(len, limit);
            buffer.reserve_exact(capacity - buffer.len());
        }
        buffer.extend_from_slice(&data);
    }
    Ok(Bytes::from(buffer))
}

/// The buffer's first size when the body does not declare its length.
const FIRST_READ: usize = 16 * 1024;

/// Why [`Verified`] refused a request, as its response.
#[derive(Debug)]
#[non_exhaustive]
pub enum Rejection {
    /// The body is larger than the limit ([`DEFAULT_BODY_LIMIT`], or the
    /// router's `DefaultBodyLimit`): `413`.
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
fn text(status: StatusCode, message: impl IntoResponse) -> Response {
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
///
/// [`Error::Store`] is the exception: `503` with the fixed text
/// [`STORE_UNAVAILABLE`], never the store's own message (a database's or
/// Redis's error text is for the receiver's logs, not for the sender). With
/// the `tracing` feature, the store's message goes to a
/// `webhook.store_error` event.
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Error::Store(err) => err.into_response(),
            err => text(err.status_code(), err.to_string()),
        }
    }
}

/// The whole text of a `503` answered for a [`StoreError`].
pub const STORE_UNAVAILABLE: &str = "webhook store unavailable; retry later";

/// `503`, with [`STORE_UNAVAILABLE`] as its text: no message of the
/// store's reaches the sender.
impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        crate::trace::store_answered(&self);
        text(StatusCode::SERVICE_UNAVAILABLE, STORE_UNAVAILABLE)
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

    /// The text of a response.
    async fn text_of(response: Response) -> String {
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn a_store_error_answers_a_fixed_text_never_the_stores() {
        use crate::idempotency::StoreErrorKind;
        let detail = r#"error returned from database: duplicate key value violates unique constraint "webhook_claims_pkey""#;
        for kind in [
            StoreErrorKind::Unavailable,
            StoreErrorKind::Uncertain,
            StoreErrorKind::Full,
            StoreErrorKind::LeaseLost,
        ] {
            let err = StoreError::new(kind, detail);
            for response in [
                err.clone().into_response(),
                Error::Store(err).into_response(),
            ] {
                assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
                assert_eq!(block_on(text_of(response)), STORE_UNAVAILABLE);
            }
        }
        // Other errors keep their message.
        let response = Error::MissingSignature.into_response();
        assert_eq!(
            block_on(text_of(response)),
            Error::MissingSignature.to_string()
        );
    }

    #[test]
    fn the_limit_is_the_routers_default_body_limit_else_one_mebibyte() {
        let limit_of = |setting: Option<DefaultBodyLimit>| {
            let mut request = Request::new(Body::empty());
            request.extensions_mut().insert(7_u32); // an extension of another kind
            if let Some(setting) = setting {
                setting.apply(&mut request);
            }
            body_limit(request.into_parts().0.extensions)
        };
        assert_eq!(limit_of(None), DEFAULT_BODY_LIMIT);
        assert_eq!(limit_of(Some(DefaultBodyLimit::max(1024))), 1024);
        assert_eq!(limit_of(Some(DefaultBodyLimit::max(4 << 20))), 4 << 20);
        // axum's own default (2 MB) set explicitly is honoured too.
        assert_eq!(limit_of(Some(DefaultBodyLimit::max(2_097_152))), 2_097_152);
        assert_eq!(limit_of(Some(DefaultBodyLimit::max(0))), 0);
        // Disabled: never without a cap.
        assert_eq!(
            limit_of(Some(DefaultBodyLimit::disable())),
            DEFAULT_BODY_LIMIT
        );
        assert_eq!(body_limit(Extensions::new()), DEFAULT_BODY_LIMIT);
    }

    /// A body sent as these frames, with no declared length.
    struct Frames(std::collections::VecDeque<Vec<u8>>);

    impl http_body::Body for Frames {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            let next = self.get_mut().0.pop_front();
            std::task::Poll::Ready(next.map(|frame| Ok(http_body::Frame::data(frame.into()))))
        }
    }

    fn framed(frames: Vec<Vec<u8>>) -> Body {
        Body::new(Frames(frames.into()))
    }

    #[test]
    fn a_body_in_one_byte_frames_reads_whole_up_to_the_limit() {
        let body: Vec<u8> = (0..5000_u32).map(|i| (i % 251) as u8).collect();
        let one_byte = || framed(body.iter().map(|b| vec![*b]).collect());
        let read = block_on(read_body(one_byte(), body.len())).unwrap();
        assert_eq!(read, body);
        let over = block_on(read_body(one_byte(), body.len() - 1));
        assert!(matches!(over, Err(Rejection::TooLarge { limit: 4999 })));
        let empty = block_on(read_body(framed(Vec::new()), 0)).unwrap();
        assert!(empty.is_empty());
    }

    #[test]
    fn a_declared_length_past_the_limit_is_refused_unread() {
        let body = Body::new(http_body_util::Full::new(Bytes::from(vec![b' '; 11])));
        let read = block_on(read_body(body, 10));
        assert!(matches!(read, Err(Rejection::TooLarge { limit: 10 })));
        // A limit set on the body itself (tower-http's) is a 413 too.
        let limited = http_body_util::Limited::new(framed(vec![vec![b' '; 8]; 4]), 20);
        let read = block_on(read_body(Body::new(limited), 100));
        assert!(matches!(read, Err(Rejection::TooLarge { limit: 100 })));
    }
}
