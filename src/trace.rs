//! Feature `tracing`: a span per verification and per idempotency run,
//! and an event for each moment an operator counts. Without the feature
//! every function here is the closure it wraps, and nothing is recorded.
//!
//! What is recorded: the vendor, the event type, the event id or
//! notification uuid (or the idempotency key, which holds it), the verdict
//! or outcome, and the body's length. Never the body, a header value, a
//! secret or a lease token.

use std::future::Future;

use crate::error::Error;
use crate::idempotency::{Outcome, StoreError};

/// What a verified, read delivery tells a span: its type and id.
pub(crate) trait Described {
    /// Record what `self` is on the current span, and emit an event for
    /// each part that was parked (unreadable).
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span);
}

impl Described for () {
    #[cfg(feature = "tracing")]
    fn describe(&self, _: &tracing::Span) {}
}

/// A batch: how many notifications, and the parked ones as events; its one
/// notification's type and id when it holds one.
impl<T: Described> Described for Vec<Result<T, crate::Unreadable>> {
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span) {
        span.record("notifications", self.len());
        for each in self {
            match each {
                Ok(read) if self.len() == 1 => read.describe(span),
                Ok(_) => {}
                Err(unreadable) => parked(unreadable),
            }
        }
    }
}

/// A batch read all or nothing.
impl<T: Described> Described for Vec<T> {
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span) {
        span.record("notifications", self.len());
        if let [one] = self.as_slice() {
            one.describe(span);
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
    vendor: &'static str,
    body_len: usize,
    verify: impl FnOnce() -> Result<T, Error>,
) -> Result<T, Error> {
    #[cfg(feature = "tracing")]
    {
        use tracing::field::Empty;
        let span = tracing::info_span!(
            "webhook.verify",
            vendor,
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
                if let Error::Payload(payload) = err {
                    if let Some(unreadable) = payload.unreadable() {
                        parked(unreadable);
                    }
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
#[cfg(feature = "axum")]
pub(crate) fn header_refused(
    vendor: &'static str,
    checked: Result<(), Error>,
) -> Result<(), Error> {
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

/// The event for a signed delivery the model cannot read.
#[cfg(feature = "tracing")]
pub(crate) fn parked(unreadable: &crate::Unreadable) {
    tracing::warn!(
        vendor = unreadable.vendor(),
        event_type = unreadable.event_type().map(shown).as_deref(),
        id = unreadable.id().map(shown).as_deref(),
        index = unreadable.index(),
        "webhook.parked: signed, but the model cannot read it"
    );
}

/// Sender text as a field shows it: escaped and cut as error messages cut
/// it, so that a log line stays one line.
#[cfg(feature = "tracing")]
pub(crate) fn shown(text: &str) -> String {
    crate::text::sanitize(text, 96)
}

/// Run `run`, an idempotency run for `key`, inside a `webhook.run` span,
/// and record its outcome; emit an event for a duplicate, a delivery in
/// progress, a completion not recorded, and a store that is down.
#[inline(always)]
pub(crate) async fn idempotent<T, E>(
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
                    _ => {}
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
pub(crate) fn drift(vendor: &'static str, drift: crate::drift::Drift) -> crate::drift::Drift {
    #[cfg(feature = "tracing")]
    for item in drift.iter() {
        tracing::info!(
            vendor,
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
