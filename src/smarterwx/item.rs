//! A batch read notification by notification: what it gives for each
//! notification ([`Item`]), and the replay window that makes a signed
//! notification [`Stale`].

use std::fmt::{self, Write as _};
use std::time::Duration;

use time::OffsetDateTime;

use super::Notification;
use crate::error::{Error, ErrorKind};
use crate::text::{Bounded, Capped, MAX_DISPLAY, MAX_ID, MAX_TYPE, sanitize};
use crate::unreadable::Unreadable;

/// One notification of a delivery, as
/// [`Verifier::verify_and_parse_each`](super::Verifier::verify_and_parse_each)
/// reads it: a notification to process, one the model cannot read, or one
/// outside the verifier's replay window.
///
/// Only [`Item::Notification`] is to be processed. The other two are signed
/// by SmarterWX, so they are acknowledged with the rest of the delivery:
/// park an unreadable one (store its raw JSON aside), and log a stale one
/// and drop it (the [module docs](super#the-replay-window) say why).
///
/// ```
/// use utility_webhooks::smarterwx::{Item, Notification};
///
/// fn handle(items: Vec<Item>) {
///     for item in items {
///         match item {
///             Item::Notification(n) => process(n), // claim its key, do the work
///             Item::Unreadable(u) => eprintln!("park {}", u.raw()),
///             Item::Stale(s) => eprintln!("{s}"), // never processed
///             _ => {} // a kind of item a later version may add
///         }
///     }
/// }
/// # fn process(_: Notification) {}
/// # handle(Vec::new());
/// ```
///
/// When only the notifications to process matter,
/// [`Item::into_notification`] keeps them:
/// `items.into_iter().filter_map(Item::into_notification)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Item {
    /// A notification that reads, inside the replay window (or with no
    /// window set): the one to process.
    Notification(Notification),
    /// Signed, but the model cannot read it: its index, raw JSON and error,
    /// to park and acknowledge.
    Unreadable(Unreadable),
    /// Signed and readable, but its `timestamp` is older than the
    /// verifier's maximum age, or further ahead than its clock skew: never
    /// processed.
    Stale(Stale),
}

impl Item {
    /// The notification to process; `None` for an unreadable or stale one.
    pub fn notification(&self) -> Option<&Notification> {
        match self {
            Item::Notification(n) => Some(n),
            Item::Unreadable(_) | Item::Stale(_) => None,
        }
    }

    /// [`Item::notification`], owned.
    pub fn into_notification(self) -> Option<Notification> {
        match self {
            Item::Notification(n) => Some(n),
            Item::Unreadable(_) | Item::Stale(_) => None,
        }
    }

    /// What a receiver acts on: `Ok` with the notification to process,
    /// `Err` with the unreadable one to park; `None` for a stale one, which
    /// is never processed nor parked. A batch is then
    /// `items.into_iter().filter_map(Item::into_readable)`.
    pub fn into_readable(self) -> Option<Result<Notification, Unreadable>> {
        match self {
            Item::Notification(n) => Some(Ok(n)),
            Item::Unreadable(u) => Some(Err(u)),
            Item::Stale(_) => None,
        }
    }

    /// The unreadable notification, when it is one.
    pub fn unreadable(&self) -> Option<&Unreadable> {
        match self {
            Item::Unreadable(u) => Some(u),
            Item::Notification(_) | Item::Stale(_) => None,
        }
    }

    /// The stale notification, when it is one.
    pub fn stale(&self) -> Option<&Stale> {
        match self {
            Item::Stale(s) => Some(s),
            Item::Notification(_) | Item::Unreadable(_) => None,
        }
    }

    /// The key to claim in an idempotency store (`smarterwx:<uuid>`; for
    /// an unreadable notification, [`Unreadable::idempotency_key`]).
    pub fn idempotency_key(&self) -> String {
        match self {
            Item::Notification(n) => n.idempotency_key(),
            Item::Unreadable(u) => u.idempotency_key(),
            Item::Stale(s) => s.idempotency_key(),
        }
    }
}

/// A signed notification outside the verifier's replay window: its
/// `timestamp` is older than the maximum age
/// ([`Verifier::with_max_age`](super::Verifier::with_max_age)), or further
/// in the future than the clock skew. Never process it: a captured
/// delivery sent again after the idempotency store forgot its keys looks
/// like this.
///
/// It keeps what a log line or an audit needs: the notification as read,
/// its index in the delivery, its raw JSON as sent, and its age. Its
/// `Display` (at most 1 KiB) and `Debug` show the sender's text escaped
/// and cut short, as [`Unreadable`]'s do.
#[derive(Clone, PartialEq)]
pub struct Stale(Box<StaleInner>);

#[derive(Clone, PartialEq)]
struct StaleInner {
    index: usize,
    notification: Notification,
    raw: Box<str>,
    /// `now - timestamp`: negative in the future.
    age: time::Duration,
    /// The maximum age or the clock skew it is past.
    limit: Duration,
}

impl Stale {
    /// Where the notification is in its delivery: its index in the array,
    /// `0` for a bare notification object.
    pub fn index(&self) -> usize {
        self.0.index
    }

    /// The notification, as read.
    pub fn notification(&self) -> &Notification {
        &self.0.notification
    }

    /// [`Stale::notification`], owned.
    pub fn into_notification(self) -> Notification {
        self.0.notification
    }

    /// The notification's JSON text, byte for byte as sent (the slice of
    /// the body from its opening to its closing bracket).
    pub fn raw(&self) -> &str {
        &self.0.raw
    }

    /// How old the notification's `timestamp` was when it was checked: the
    /// verifier's clock minus the timestamp, negative when the timestamp is
    /// in the future.
    pub fn age(&self) -> time::Duration {
        self.0.age
    }

    /// [`ErrorKind::TimestampTooOld`] or [`ErrorKind::TimestampInFuture`]:
    /// the error that the all-or-nothing
    /// [`verify_and_parse`](super::Verifier::verify_and_parse) gives for a
    /// batch that holds it.
    pub fn kind(&self) -> ErrorKind {
        if self.0.age.is_negative() {
            ErrorKind::TimestampInFuture
        } else {
            ErrorKind::TimestampTooOld
        }
    }

    /// The key the notification would be claimed under
    /// (`smarterwx:<uuid>`).
    pub fn idempotency_key(&self) -> String {
        self.0.notification.idempotency_key()
    }
}

/// At most 1 KiB, whatever the notification: its uuid and event escaped
/// and cut.
impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.0;
        let mut f = Capped::new(f, MAX_DISPLAY);
        write!(
            f,
            "stale notification at index {} (uuid `{}`, event `{}`): its timestamp is ",
            s.index,
            sanitize(s.notification.uuid.as_str(), MAX_ID),
            sanitize(s.notification.event_type(), MAX_TYPE),
        )?;
        let age = s.age.unsigned_abs();
        if s.age.is_negative() {
            write!(f, "{age:?} in the future, past the clock skew of ")?;
        } else {
            write!(f, "{age:?} old, past the maximum age of ")?;
        }
        write!(f, "{:?}", s.limit)
    }
}

impl fmt::Debug for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &*self.0;
        f.debug_struct("Stale")
            .field("index", &s.index)
            .field("uuid", &Bounded(s.notification.uuid.as_str()))
            .field("event", &Bounded(s.notification.event_type()))
            .field("timestamp", &s.notification.timestamp)
            .field("age", &s.age)
            .field("limit", &s.limit)
            .field("raw", &Bounded(&s.raw))
            .finish()
    }
}

/// The replay window of a verifier: how old, and how far ahead, a
/// notification's `timestamp` may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    /// The maximum age; `None`: no window.
    pub(super) max_age: Option<Duration>,
    /// How far in the future a timestamp may be, once a window is set.
    pub(super) skew: Duration,
}

/// Where a timestamp falls outside a [`Window`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Outside {
    /// `now - timestamp`.
    age: time::Duration,
    /// The maximum age or the clock skew it is past.
    limit: Duration,
}

impl Outside {
    /// The error of an all-or-nothing reading.
    pub(super) fn error(self) -> Error {
        if self.age.is_negative() {
            Error::TimestampInFuture
        } else {
            Error::TimestampTooOld
        }
    }
}

impl Window {
    /// The least retention of completed keys that makes every replay a
    /// duplicate or stale: the maximum age plus the clock skew. `None`
    /// without a window.
    pub(super) fn required_retention(&self) -> Option<Duration> {
        self.max_age
            .map(|max_age| max_age.saturating_add(self.skew))
    }

    /// Where `timestamp` falls at `now`: `None` inside the window (a
    /// timestamp exactly at the maximum age, or exactly the skew ahead, is
    /// inside), or always when there is no window.
    #[inline]
    pub(super) fn outside(
        &self,
        timestamp: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Option<Outside> {
        let max_age = self.max_age?;
        // Two instants of `time`'s range are at most about 20 000 years
        // apart, and a `Duration` in nanoseconds fits an i128: nothing here
        // can overflow.
        let age = now - timestamp;
        let nanos = age.whole_nanoseconds();
        let past = |limit: Duration| i128::try_from(limit.as_nanos()).unwrap_or(i128::MAX);
        if nanos > past(max_age) {
            Some(Outside {
                age,
                limit: max_age,
            })
        } else if -nanos > past(self.skew) {
            Some(Outside {
                age,
                limit: self.skew,
            })
        } else {
            None
        }
    }

    /// The first notification of `batch` outside the window at `now`, as
    /// the error of an all-or-nothing reading.
    pub(super) fn check_all(
        &self,
        batch: &[Notification],
        now: impl FnOnce() -> OffsetDateTime,
    ) -> Result<(), Error> {
        if self.max_age.is_none() {
            return Ok(());
        }
        let now = now();
        match batch.iter().find_map(|n| self.outside(n.timestamp, now)) {
            Some(outside) => Err(outside.error()),
            None => Ok(()),
        }
    }

    /// `items` with each notification outside the window at `now` made
    /// [`Stale`], its raw JSON taken from `body`.
    pub(super) fn mark_stale(
        &self,
        items: Vec<Item>,
        body: &[u8],
        now: impl FnOnce() -> OffsetDateTime,
    ) -> Vec<Item> {
        if self.max_age.is_none() {
            return items;
        }
        let now = now();
        // Split the body only when a notification is stale.
        let mut raws = None;
        items
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Item::Notification(notification) => {
                    match self.outside(notification.timestamp, now) {
                        None => Item::Notification(notification),
                        Some(Outside { age, limit }) => {
                            let raws = raws.get_or_insert_with(|| super::notification::raws(body));
                            let raw = raws.get(index).copied().unwrap_or_default();
                            Item::Stale(Stale(Box::new(StaleInner {
                                index,
                                notification,
                                raw: raw.into(),
                                age,
                                limit,
                            })))
                        }
                    }
                }
                other => other,
            })
            .collect()
    }
}

impl crate::trace::Described for Item {
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span) {
        match self {
            Item::Notification(n) => n.describe(span),
            Item::Stale(s) => s.notification().describe(span),
            Item::Unreadable(_) => {}
        }
    }

    #[cfg(feature = "tracing")]
    fn note(&self) {
        match self {
            Item::Notification(_) => {}
            Item::Unreadable(u) => crate::trace::unreadable_event(u),
            Item::Stale(s) => tracing::warn!(
                vendor = super::VENDOR.as_str(),
                event_type = crate::trace::shown(s.notification().event_type()).as_str(),
                id = crate::trace::shown(s.notification().uuid.as_str()).as_str(),
                index = s.index(),
                age_s = s.age().whole_seconds(),
                "webhook.stale: signed, but outside the replay window; not processed"
            ),
        }
    }
}
