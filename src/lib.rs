//! Receive SmartComply and SmarterWX Sentinel webhooks safely: verify the
//! signature over the raw body, parse a strongly typed event, and do each
//! delivery's work once, however often the vendor retries.
//!
//! ```
//! use utility_webhooks::smartcomply::{self, EventData, Verifier};
//!
//! // Built once at start-up and shared: `Verifier` is `Clone + Send + Sync`.
//! let verifier = Verifier::new("whsec_k7Lm9PqRsTuVwXyZ")?;
//!
//! // What SmartComply sends (signed here by the crate, for the example).
//! let body = br#"{"id":"evt_c4d5e6f7a8b90123","type":"test.failed","created_at":"2026-05-05T15:10:00Z",
//!   "data":{"test_id":"bft_e5f6a7b8","assembly_id":"asm_d4c3b2a1","tester_id":"tst_7e8f9a0b",
//!           "result":"fail","test_date":"2026-05-05","failure_reason":"First check valve failed to hold"}}"#;
//! let now = utility_webhooks::time::OffsetDateTime::now_utc();
//! let header = smartcomply::sign("whsec_k7Lm9PqRsTuVwXyZ", now, body);
//!
//! let event = verifier.verify_and_parse(&header, body)?;
//! assert_eq!(event.event_type(), "test.failed");
//! let EventData::TestFailed(test) = &event.data else { unreachable!() };
//! assert_eq!(test.assembly_id, "asm_d4c3b2a1");
//!
//! // Forged or changed on the way: refused before any JSON is read.
//! let err = verifier.verify_and_parse(&header, b"{}").unwrap_err();
//! assert_eq!(err.http_status(), 401);
//! # Ok::<(), utility_webhooks::Error>(())
//! ```
//!
//! - [`smartcomply`]: the [`Verifier`](smartcomply::Verifier) for
//!   `x-smartcomply-signature`, and [`Event`](smartcomply::Event) with one
//!   typed struct per event type.
//! - [`smarterwx`]: the [`Verifier`](smarterwx::Verifier) for
//!   `X-SWX-Signature`, and batches of
//!   [`Notification`](smarterwx::Notification)s, read one by one with
//!   [`verify_and_parse_each`](smarterwx::Verifier::verify_and_parse_each).
//! - [`idempotency`]: claims with leases, so that each delivery's work is
//!   done once and no `2xx` is answered for work that did not happen, in
//!   memory, on Redis (feature `redis`), or on PostgreSQL (feature
//!   `postgres`), where the completion commits in the work's own
//!   transaction: exactly once.
//! - `inbox` (feature `postgres`): answer the vendor as soon as the
//!   delivery is committed to PostgreSQL, and let workers do the work
//!   exactly once, with retries, a dead state, order per key and replay.
//! - [`Error`]: one error type; its [`http_status`](Error::http_status)
//!   is the answer to give (for what is not an error, an idempotency
//!   run's outcome or a batch's, [`Answer`](idempotency::Answer) is).
//! - [`Unreadable`]: a signed delivery the model cannot read, from either
//!   [`Vendor`], to park and acknowledge; its [`ReadError`] says why.
//! - [`drift`]: what a body holds that the models do not take in. The
//!   models ignore members they do not know, so serializing an event back
//!   drops them: store the raw body when every byte matters, and read the
//!   drift report to learn that the vendor changed.
//! - `testing` (feature `testing`): sample events of every type and signed
//!   deliveries of them, to test your own handlers.
//!
//! The crate's README has recipes for axum, actix-web and hyper, and what
//! to answer when.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[macro_use]
mod wire;
mod error;
mod headers;
mod read_error;
mod signature;
mod text;
mod trace;
mod unreadable;
mod vendor;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod drift;
pub mod idempotency;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod inbox;
pub mod smartcomply;
pub mod smarterwx;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use error::{Error, ErrorKind, PayloadError};
pub use headers::SignatureInput;
pub use read_error::{Category, ReadError};
pub use text::Escaped;
pub use unreadable::Unreadable;
pub use vendor::Vendor;

/// The `serde_json` this crate uses: its `Value` holds unknown events'
/// raw data.
pub use serde_json;
/// The `sqlx` this crate uses (feature `postgres`): its `PgPool` and
/// `PgConnection` are what `PostgresStore` takes. Use it, or depend on the
/// same sqlx (0.9), so that the host's pool and the store's are one type.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use sqlx;
/// The `time` this crate uses: its `Date` and `OffsetDateTime` are the
/// events' dates and instants.
pub use time;

/// The README's code, compiled as doctests (it needs the `axum` feature).
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The framework recipes' code, compiled as doctests.
#[cfg(all(doctest, feature = "http"))]
#[doc = include_str!("../docs/FRAMEWORKS.md")]
struct FrameworkDoctests;

/// Checks run by the fuzz targets in `fuzz/`; compiled only by `cargo fuzz`
/// (which sets `--cfg fuzzing`), never part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Panic unless the fast JSON reader agrees with `serde_json` on
    /// `body`, for every type the crate reads whole.
    pub fn fast_reader_agrees(body: &[u8]) {
        crate::wire::assert_agrees::<serde_json::Value>(body);
        crate::wire::assert_agrees::<crate::smartcomply::Event>(body);
        crate::wire::assert_agrees::<crate::smarterwx::Batch>(body);
        crate::wire::assert_agrees::<crate::smarterwx::Batch<crate::smarterwx::Item>>(body);
    }
}
