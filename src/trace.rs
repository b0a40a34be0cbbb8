//! Feature `tracing`: a span per verification and per idempotency run,
//! and an event for each moment an operator counts, at a level that a
//! plain `tracing_subscriber::fmt::init()` prints (`info` and above):
//! a refused delivery, an unreadable one, a duplicate, work that failed,
//! a store that is down. Without the feature every function here is the
//! closure it wraps, and nothing is recorded.
//!
//! What is recorded: the vendor, the event type, the event id or
//! notification uuid (or the idempotency key, which holds it), the verdict
//! or outcome, and the body's length. Never the body, a header value, a
//! secret or a lease token.

use std::future::Future;

use crate::error::Error;
use crate::idempotency::{Outcome, StoreError};
use crate::vendor::Vendor;

/// What a verified, read delivery tells a span: its type and id.
pub(crate) trait Described {
    /// Record what `self` is on the current span.
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span);

    /// Emit an event when `self`, one part of a batch, was set aside
    /// (parked, or refused as stale).
    #[cfg(feature = "tracing")]
    fn note(&self) {}
}

impl Described for () {
    #[cfg(feature = "tracing")]
    fn describe(&self, _: &tracing::Span) {}
}

/// A batch: how many notifications, its one notification's type and id
/// when it holds one, and an event for each part set aside.
impl<T: Described> Described for Vec<T> {
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span) {
        span.record("notifications", self.len());
        if let [one] = self.as_slice() {
            one.describe(span);
        }
        for each in self {
            each.note();
        }
    }
}

/// Record `event_type` and `id` on `span`, escaped and cut.
#[cfg(feature = "tracing")]
pub(crate) fn record(span: &tracing::Span, event_type: &str, id: &str) {
    span.record("event_type", shown(event_type).as_str());
    span.record("id", shown(id).as_str());
}

/// Run `verify` inside a `webhook.verify` span for `vendor` and a body of
/// `body_len` bytes, and record its verdict: `ok`, or the error's kind.
#[inline(always)]
pub(crate) fn verification<T: Described>(
    vendor: Vendor,
    body_len: usize,
    verify: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    #[cfg(feature = "tracing")]
    {
        use tracing::field::Empty;
        let span = tracing::info_span!(
            "webhook.verify",
            vendor = vendor.as_str(),
            body_len,
            verdict = Empty,
            event_type = Empty,
            id = Empty,
            notifications = Empty,
        );
        let _entered = span.enter();
        let result = verify();
        match &result {
            Ok(read) => {
                span.record("verdict", "ok");
                read.describe(&span);
            }
            Err(err) => {
                span.record("verdict", err.kind().as_str());
                let unreadable = match err {
                    Error::Payload(payload) => payload.unreadable(),
                    _ => None,
                };
                match unreadable {
                    // Authentic: the host keeps it aside, or refuses it.
                    Some(unreadable) => unreadable_event(unreadable),
                    None => tracing::warn!(
                        vendor = vendor.as_str(),
                        kind = err.kind().as_str(),
                        status = err.http_status(),
                        "webhook.refused: the delivery was not accepted"
                    ),
                }
            }
        }
        result
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (vendor, body_len);
        verify()
    }
}

/// `checked`, the signature header read before the body: when it is
/// refused, a `webhook.verify` span with its verdict and a `body_len` of
/// 0, since no byte of the body was read.
pub(crate) fn header_refused(vendor: Vendor, checked: Result<(), Error>) -> Result<(), Error> {
    match checked {
        Ok(()) => Ok(()),
        Err(err) => verification(vendor, 0, || Err(err)),
    }
}

/// The event for a store error answered `503`, whose message the answer
/// does not carry.
#[cfg(feature = "axum")]
#[inline(always)]
pub(crate) fn store_answered(err: &StoreError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(error = %err, "webhook.store_error: answered 503");
    #[cfg(not(feature = "tracing"))]
    let _ = err;
}

/// The event for a signed delivery (or notification) the model cannot
/// read: logged each time one is verified, before the host keeps it aside.
#[cfg(feature = "tracing")]
pub(crate) fn unreadable_event(unreadable: &crate::Unreadable) {
    tracing::warn!(
        vendor = unreadable.vendor().as_str(),
        event_type = unreadable.event_type().map(shown).as_deref(),
        id = unreadable.id().map(shown).as_deref(),
        index = unreadable.index(),
        "webhook.unreadable: signed, but the model cannot read it"
    );
}

/// Sender text as a field shows it: escaped and cut as error messages cut
/// it, so that a log line stays one line.
#[cfg(feature = "tracing")]
pub(crate) fn shown(text: &str) -> String {
    crate::text::sanitize(text, 96)
}

/// Run `run`, an idempotency run for `key` (by `idempotency::run` or
/// `PostgresStore::run_in_transaction`), inside a `webhook.run` span, and
/// record its outcome; emit an event for a duplicate, a delivery in
/// progress, work that failed, panicked or lost its lease (with what
/// stopped it, escaped and cut), a completion not recorded, and a store
/// that is down.
#[inline(always)]
pub(crate) async fn idempotent<T, E: std::fmt::Display>(
    key: &str,
    run: impl Future<Output = Result<Outcome<T, E>, StoreError>>,
) -> Result<Outcome<T, E>, StoreError> {
    #[cfg(feature = "tracing")]
    {
        use tracing::Instrument as _;
        let span = tracing::info_span!(
            "webhook.run",
            key = shown(key).as_str(),
            outcome = tracing::field::Empty,
        );
        let result = run.instrument(span.clone()).await;
        let _entered = span.enter();
        match &result {
            Ok(outcome) => {
                span.record("outcome", outcome.name());
                match outcome {
                    Outcome::Completed => {
                        tracing::info!("webhook.duplicate: done before; acknowledged");
                    }
                    Outcome::InProgress { retry_after } => tracing::info!(
                        retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                        "webhook.in_progress: another attempt holds the claim"
                    ),
                    Outcome::DoneNotRecorded(_, err) => tracing::warn!(
                        error = %err,
                        "webhook.done_not_recorded: the work is done, its completion was not recorded"
                    ),
                    Outcome::Failed(err) => tracing::warn!(
                        error = crate::idempotency::error_text(err).as_str(),
                        "webhook.failed: the work failed; released for the vendor's retry"
                    ),
                    Outcome::Panicked(message) => tracing::warn!(
                        error = crate::idempotency::error_text(message).as_str(),
                        "webhook.failed: the work panicked; released for the vendor's retry"
                    ),
                    Outcome::TimedOut => tracing::warn!(
                        "webhook.failed: the lease could not be held; released for the vendor's retry"
                    ),
                    Outcome::Done(_) => {}
                }
            }
            Err(err) => {
                span.record("outcome", "store_unavailable");
                tracing::error!(error = %err, "webhook.store_unavailable: nothing was done");
            }
        }
        result
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = key;
        run.await
    }
}

/// `drift`, with an event for each item when the feature is on: what the
/// vendor sent that the model did not take in.
#[inline(always)]
pub(crate) fn drift(vendor: Vendor, drift: crate::drift::Drift) -> crate::drift::Drift {
    #[cfg(feature = "tracing")]
    for item in drift.iter() {
        tracing::info!(
            vendor = vendor.as_str(),
            kind = item.kind().as_str(),
            path = shown(item.path()).as_str(),
            value = item.value().map(shown).as_deref(),
            "webhook.drift: the vendor sent what the model did not take in"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = vendor;
    drift
}
