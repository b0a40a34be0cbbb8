//! One answer for a delivery, from the outcomes of its units of work.

use std::time::Duration;

use super::{Outcome, StoreError};

/// What to answer the vendor for a delivery: a status and, for `409`, a
/// `Retry-After`.
///
/// The one way to the status of what is not an [`Error`](crate::Error):
/// an [`Outcome`] (`Answer::from(&outcome)`), a [`StoreError`]
/// (`Answer::from(&error)`, `503`), what [`run`](super::run) returned
/// (`Answer::of(&ran)`), the inbox's receipt (`Answer::from(&receipt)`,
/// `202`), and a batch of them (`collect()`). An `Error` has its own,
/// [`Error::http_status`](crate::Error::http_status).
///
/// A SmarterWX batch claims each notification on its own, so it has one
/// outcome per notification; the delivery gets the most serious of them
/// (`503` over `500` over `409` over `204`), so that the vendor resends it
/// while any part is not done, and the longest `Retry-After` among the
/// `409`s. The parts already done answer `Completed` on the resend.
///
/// ```
/// use std::time::Duration;
/// use utility_webhooks::idempotency::{Answer, Outcome};
///
/// let done: Outcome<(), ()> = Outcome::Done(());
/// let busy: Outcome<(), ()> = Outcome::InProgress { retry_after: Duration::from_millis(2500) };
/// let answer: Answer = [Answer::of(&Ok(done)), Answer::of(&Ok(busy))].into_iter().collect();
/// assert_eq!(answer.http_status(), 409);
/// assert_eq!(answer.retry_after_secs(), Some(3));
/// assert_eq!(Answer::default().http_status(), 204); // an empty batch
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Answer {
    severity: Severity,
    retry_after: Duration,
}

/// How serious an answer is, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
enum Severity {
    /// `204`.
    #[default]
    Acknowledge,
    /// `202`.
    Accepted,
    /// `409`.
    InProgress,
    /// `500`.
    Failed,
    /// `503`.
    Unavailable,
}

impl Answer {
    /// `204`: acknowledge.
    pub const ACKNOWLEDGE: Answer = Answer {
        severity: Severity::Acknowledge,
        retry_after: Duration::ZERO,
    };

    /// `202`: stored, the work to follow (the inbox's answer,
    /// `Answer::from(&receipt)`).
    pub const ACCEPTED: Answer = Answer {
        severity: Severity::Accepted,
        retry_after: Duration::ZERO,
    };

    /// `500`: the work did not happen (a task that ended without an
    /// outcome); the vendor's retry does it.
    pub const FAILED: Answer = Answer {
        severity: Severity::Failed,
        retry_after: Duration::ZERO,
    };

    /// The answer for one unit of work: what [`run`](super::run) (or
    /// `PostgresStore::run_in_transaction`) returned.
    ///
    /// | what ran | answer |
    /// | --- | --- |
    /// | [`Outcome::Done`], [`Outcome::DoneNotRecorded`], [`Outcome::Completed`] | `204` |
    /// | [`Outcome::InProgress`] | `409`, with its `Retry-After` |
    /// | [`Outcome::Failed`], [`Outcome::Panicked`], [`Outcome::TimedOut`] | `500` |
    /// | `Err(StoreError)`, whatever its kind | `503` |
    ///
    /// It keeps no error: `run` logs the work's error (feature `tracing`,
    /// `webhook.failed`) and hands it to the store
    /// ([`Store::release_with_error`](super::Store::release_with_error)).
    /// A [`StoreErrorKind::Rejected`](super::StoreErrorKind::Rejected) is
    /// `503` too, since the work was not done, but no retry can succeed:
    /// park the delivery (keep its JSON aside) and acknowledge it
    /// ([`Answer::ACKNOWLEDGE`]) instead of answering this.
    pub fn of<T, E>(ran: &Result<Outcome<T, E>, StoreError>) -> Self {
        match ran {
            Ok(outcome) => Answer::from(outcome),
            Err(error) => Answer::from(error),
        }
    }

    /// The more serious of two answers; for two `409`s, the later retry.
    #[must_use]
    pub fn worst(self, other: Answer) -> Answer {
        Answer {
            severity: self.severity.max(other.severity),
            retry_after: self.retry_after.max(other.retry_after),
        }
    }

    /// The status: `204`, `202`, `409`, `500` or `503`.
    pub fn http_status(&self) -> u16 {
        match self.severity {
            Severity::Acknowledge => 204,
            Severity::Accepted => 202,
            Severity::InProgress => 409,
            Severity::Failed => 500,
            Severity::Unavailable => 503,
        }
    }

    /// [`Answer::http_status`] as an `http::StatusCode`. Requires the
    /// `http` feature.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub fn status_code(&self) -> http::StatusCode {
        crate::error::status_code(self.http_status())
    }

    /// For a `409`, the `Retry-After` in whole seconds: the longest wait
    /// among the parts in progress, rounded up, at least one. `None` for
    /// any other status.
    pub fn retry_after_secs(&self) -> Option<u64> {
        (self.severity == Severity::InProgress).then(|| whole_seconds(self.retry_after))
    }
}

/// `duration` in whole seconds, rounded up, at least one: what a
/// `Retry-After` header holds.
fn whole_seconds(duration: Duration) -> u64 {
    let whole = duration.as_secs() + u64::from(duration.subsec_nanos() > 0);
    whole.max(1)
}

/// `204` for [`Outcome::Done`], [`Outcome::DoneNotRecorded`] and
/// [`Outcome::Completed`]; `409` with its `Retry-After` for
/// [`Outcome::InProgress`]; `500` for [`Outcome::Failed`],
/// [`Outcome::Panicked`] and [`Outcome::TimedOut`].
impl<T, E> From<&Outcome<T, E>> for Answer {
    fn from(outcome: &Outcome<T, E>) -> Self {
        match outcome {
            Outcome::InProgress { retry_after } => Answer {
                severity: Severity::InProgress,
                retry_after: *retry_after,
            },
            Outcome::Done(_) | Outcome::DoneNotRecorded(..) | Outcome::Completed => {
                Answer::ACKNOWLEDGE
            }
            Outcome::Failed(_) | Outcome::Panicked(_) | Outcome::TimedOut => Answer::FAILED,
        }
    }
}

/// `503`, whatever the error's kind: the work was not done, and the
/// vendor retries later (see [`Answer::of`] for
/// [`StoreErrorKind::Rejected`](super::StoreErrorKind::Rejected)).
impl From<&StoreError> for Answer {
    fn from(_: &StoreError) -> Self {
        Answer {
            severity: Severity::Unavailable,
            retry_after: Duration::ZERO,
        }
    }
}

/// The most serious of all: `204` for none.
impl FromIterator<Answer> for Answer {
    fn from_iter<I: IntoIterator<Item = Answer>>(answers: I) -> Self {
        answers.into_iter().fold(Answer::default(), Answer::worst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::StoreErrorKind;

    fn of(ran: Result<Outcome<(), ()>, StoreError>) -> Answer {
        Answer::of(&ran)
    }

    #[test]
    fn the_most_serious_answer_and_the_longest_wait_win() {
        let done = of(Ok(Outcome::Done(())));
        let again = of(Ok(Outcome::Completed));
        let busy = |ms| {
            of(Ok(Outcome::InProgress {
                retry_after: Duration::from_millis(ms),
            }))
        };
        let failed = of(Ok(Outcome::Failed(())));
        let down = of(Err(StoreError::new(StoreErrorKind::Unavailable, "down")));
        let status = |answers: &[Answer]| answers.iter().copied().collect::<Answer>().http_status();
        assert_eq!(status(&[]), 204);
        assert_eq!(status(&[done, again]), 204);
        assert_eq!(status(&[done, busy(10), again]), 409);
        assert_eq!(status(&[busy(10), failed, done]), 500);
        assert_eq!(status(&[failed, down, busy(10)]), 503);
        // Stored for later work is a success above "done", below the rest.
        assert_eq!(status(&[Answer::ACCEPTED]), 202);
        assert_eq!(status(&[done, Answer::ACCEPTED, again]), 202);
        assert_eq!(status(&[Answer::ACCEPTED, busy(10)]), 409);
        assert_eq!(Answer::ACCEPTED.retry_after_secs(), None);
        let waits: Answer = [busy(1200), busy(3001), done].into_iter().collect();
        assert_eq!(waits.retry_after_secs(), Some(4));
        assert_eq!(busy(1).retry_after_secs(), Some(1));
        assert_eq!(busy(0).retry_after_secs(), Some(1));
        assert_eq!(failed.retry_after_secs(), None);
        assert_eq!(Answer::from(&Outcome::<(), ()>::TimedOut), failed);
        assert_eq!(Answer::FAILED, failed);
        assert_eq!(Answer::ACKNOWLEDGE, Answer::default());
        assert_eq!(Answer::from(&Outcome::<(), ()>::Completed), done);
        let store_down = StoreError::new(StoreErrorKind::Rejected, "refused");
        assert_eq!(Answer::from(&store_down), down);
        assert_eq!(down.http_status(), 503);
        assert_eq!(down.retry_after_secs(), None);
        assert_eq!(
            Answer::from(&Outcome::<(), ()>::Panicked("x".into())),
            failed
        );
    }
}
