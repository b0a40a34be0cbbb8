//! SmarterWX Sentinel referral webhooks: enquiries referred to a utility
//! (`referral:create`, `referral:update`).
//!
//! Every delivery is a JSON **array** of [`Notification`]s (one bare
//! notification object is accepted too), signed in the [`SIGNATURE_HEADER`]
//! as `sha256=<hex>`, where the hex is HMAC-SHA256 over the raw body keyed
//! with the subscriber's secret (its UTF-8 bytes, as is).
//!
//! What a receiver must do:
//!
//! - verify the **raw body bytes as received**: the sender signs the exact
//!   (compact) bytes it sends, so never parse and re-serialize the body
//!   before verifying;
//! - answer `2xx` within **3 seconds**, or the notification is sent again
//!   until it is acknowledged or times out: do slow work after answering;
//! - deduplicate on [`Notification::uuid`], since resends are expected. The
//!   header has no timestamp, so the `uuid` and the age of the signed
//!   [`Notification::timestamp`] ([`Verifier::with_max_age`], see
//!   [the replay window](#the-replay-window)) are the only replay
//!   protection;
//! - read a batch notification by notification
//!   ([`Verifier::verify_and_parse_each`]): a notification the model cannot
//!   read comes back raw, to be stored aside, and the delivery can still be
//!   acknowledged;
//! - also answer a plain `GET` on the same endpoint (a reachability check).
//!
//! ```
//! use utility_webhooks::Escaped;
//! use utility_webhooks::smarterwx::{self, ActivityCode, Item, Message, Verifier};
//!
//! # fn main() -> Result<(), utility_webhooks::Error> {
//! let body = br#"[{"uuid":"fd07b9f3-dd85-4615-a1e8-8fced35ef2e5","event":"referral:create",
//!  "timestamp":"2020-08-11T07:44:10Z","message":{"id":234,"createdAt":"2020-11-28 06:08:01.000Z",
//!  "status":"WAITING","sequenceNumber":300077255,
//!  "Organisation":{"id":234,"name":"Melbourne Water","utilityId":80010},
//!  "Enquiry":{"id":234,"createdAt":"2020-11-28 06:08:00.000Z","jobNumber":40000255,
//!   "digStartAt":"2020-11-29","digEndAt":"2020-11-30","isPlanningJob":false,
//!   "activityTypes":["MANUAL_EXCAVATION, HORIZ_BORING"],
//!   "activityTypesLocalized":["Manual Excavation, Horizontal Boring"],
//!   "authorityType":"Utility","authorityName":"Melbourne Water",
//!   "locationTypes":["Road Reserve"],"locationsInRoad":["Road"],"isSandboxTest":false,
//!   "geometry":{},
//!   "Address":{"line1":"1 Mitchell St","locality":"Darwin","state":"NT",
//!    "postcode":"0800","country":"AUS"},
//!   "User":{"id":234,"email":"someone@relay.smarterwx.com","phoneNumber":61444111222}}}}]"#;
//! let header = smarterwx::sign("my-secret", body);
//!
//! let verifier = Verifier::new("my-secret")?;
//! for item in verifier.verify_and_parse_each(&header, body)? {
//!     let notification = match item {
//!         Item::Notification(notification) => notification,
//!         Item::Unreadable(unreadable) => {
//!             // Verified, but the model cannot read it: store
//!             // `unreadable.raw()` aside, and go on with the others.
//!             eprintln!("parked: {unreadable}");
//!             continue;
//!         }
//!         // Outside the replay window, when one is set: never processed.
//!         Item::Stale(stale) => {
//!             eprintln!("{stale}");
//!             continue;
//!         }
//!         _ => continue,
//!     };
//!     // Skip it if `notification.uuid` was seen before.
//!     match &notification.message {
//!         Message::ReferralCreate(referral) => {
//!             let enquiry = &referral.enquiry;
//!             assert_eq!(enquiry.address.postcode, "0800");
//!             let codes: Vec<ActivityCode> = enquiry.activities().collect();
//!             assert_eq!(codes, [ActivityCode::ManualExcavation, ActivityCode::HorizBoring]);
//!         }
//!         Message::ReferralUpdate(_) => {}
//!         other => println!("ignoring {}", Escaped(other.event_type())),
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # The replay window
//!
//! A SmarterWX signature covers the body only: no timestamp is signed in
//! the header, so a signed delivery captured anywhere (a proxy's or a
//! log's copy of a request) stays valid forever. Deduplication on the
//! `uuid` refuses it only while the idempotency store keeps its key: 7 days
//! by default on Redis and PostgreSQL, what the host chose for a
//! `MemoryStore`. Sent again later, a notification would do its work a
//! second time.
//!
//! [`Verifier::with_max_age`] closes that gap: a notification whose signed
//! `timestamp` (the time of the original event, which resends keep) is
//! older than the maximum age, or further ahead than the clock skew
//! ([`DEFAULT_CLOCK_SKEW`], 5 minutes), is refused:
//! [`Verifier::verify_and_parse_each`] gives it as an [`Item::Stale`], and
//! the all-or-nothing [`Verifier::verify_and_parse`] refuses the batch with
//! [`Error::TimestampTooOld`] or [`Error::TimestampInFuture`].
//!
//! **The rule that ties it to the store**: keep completed keys for at least
//! the maximum age plus the clock skew
//! ([`Verifier::required_retention`]). A key is completed no earlier than
//! the skew before the notification's `timestamp`, and the window closes
//! the maximum age after it, so every copy sent again is then either a
//! duplicate or stale. How long SmarterWX keeps resending does not add to
//! it (every resend carries the original timestamp, so the window closes
//! at the same moment for all of them), but bounds the window from below:
//! the window must be longer than the vendor's resend horizon, so the
//! retention is too. Check the rule at start-up with
//! [`Verifier::check_retention`], which refuses a retention that breaks it
//! with [`Error::RetentionTooShort`] and its reason.
//!
//! **What it costs**: a genuine notification delayed longer than the window
//! is refused too, for instance one resent after an outage of the receiver
//! that lasted past it. So choose the window above the longest time
//! SmarterWX keeps resending (it resends "until a successful response is
//! received or the notification times out", without a documented
//! horizon), and above the longest outage the receiver must survive.
//!
//! **How a delivery with stale notifications is answered**: `2xx`, the
//! stale ones logged (at `warn`) and dropped, the others processed as
//! usual. A stale notification never becomes fresh again: any other answer
//! would only make SmarterWX resend it until it times out, and hold back
//! the fresh notifications of its batch. With the `tracing` feature the
//! verifier emits a `webhook.stale` event for each.
//!
//! **Recommended settings**: a maximum age of 3 days
//! (`with_max_age(Duration::from_secs(3 * 24 * 3600))`), the default skew,
//! and the default 7-day retention of `RedisStore` or `PostgresStore`;
//! raise both together if SmarterWX's resends outlast 3 days for you. With
//! a `MemoryStore` of retention `r`, the maximum age is at most `r` minus
//! the skew, and a restart forgets every key anyway: prefer a shared store.
//! Without a window (the default), every replay after the store forgot its
//! key is processed again.
//!
//! **The cap**: a delivery of more than [`DEFAULT_MAX_NOTIFICATIONS`]
//! (10 000) notifications is refused whole with
//! [`Error::TooManyNotifications`] (`413`); a real batch is a few hundred
//! at most. [`Verifier::with_max_notifications`] changes it. Reading is
//! linear in the body, but a signed megabyte of notifications that do not
//! read still costs tens of milliseconds (the README's "Hostile batches"
//! has the figures): a receiver that takes the body as bytes keeps the
//! requests beside it quick by reading a large one (above 64 KiB, say) on
//! a blocking thread, `tokio::task::spawn_blocking` for instance.

mod item;
mod notification;
mod referral;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

use std::time::Duration;

use time::OffsetDateTime;

use crate::error::Error;
use crate::headers::SignatureInput;
use crate::signature::{self, Keys, Tag};
use crate::trace;
#[cfg(doc)]
use crate::unreadable::Unreadable;
use item::Window;
use notification::VENDOR;

pub use item::{Item, Stale};
#[cfg(fuzzing)]
pub(crate) use notification::Batch;
/// The notifications of a body as raw JSON, each exactly as sent (the
/// inbox stores each on its own).
#[cfg(feature = "postgres")]
pub(crate) use notification::split;
pub use notification::{EventType, Message, Notification, NotificationId, UnknownMessage};
pub use referral::{
    ActivityCode, Address, AuthorityType, Enquiry, EnquirySource, LocationInRoad, LocationType,
    Organisation, Referral, ReferralStatus, User,
};

/// The header that carries the signature, lowercase as `http` spells
/// header names (header names are case-insensitive; SmarterWX writes
/// `X-SWX-Signature`).
pub const SIGNATURE_HEADER: &str = "x-swx-signature";

/// What the header value starts with (compared case-insensitively).
const PREFIX: &[u8] = b"sha256=";

/// How far in the future a notification's `timestamp` may be, once a
/// replay window is set ([`Verifier::with_max_age`]), unless
/// [`Verifier::with_clock_skew`] says otherwise: 5 minutes, as SmartComply's
/// tolerance.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// The most notifications a delivery may hold, unless
/// [`Verifier::with_max_notifications`] says otherwise: 10 000, far above
/// any real batch (one referral is about 1.7 KB, so a 1 MiB body holds
/// about 600).
pub const DEFAULT_MAX_NOTIFICATIONS: usize = 10_000;

/// Checks SmarterWX signatures against one or more secrets, and, when
/// asked to, the age of each notification.
///
/// Build one at start-up and share it between request handlers: it is
/// `Clone + Send + Sync`, each secret is keyed once, and its `Debug` shows
/// no secret.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Keys,
    window: Window,
    max_notifications: usize,
}

impl Verifier {
    /// A verifier for one secret: the secret key given to SmarterWX, whose
    /// bytes are the HMAC key. An empty secret is [`Error::EmptySecret`].
    ///
    /// It has no replay window until [`Verifier::with_max_age`] sets one,
    /// and reads at most [`DEFAULT_MAX_NOTIFICATIONS`] per delivery.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(Verifier {
            keys: Keys::new(secret.as_ref())?,
            window: Window {
                max_age: None,
                skew: DEFAULT_CLOCK_SKEW,
            },
            max_notifications: DEFAULT_MAX_NOTIFICATIONS,
        })
    }

    /// Accept one more secret, for rotation: a signature made with any of
    /// the verifier's secrets passes.
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        self.keys.add(secret.as_ref())?;
        Ok(self)
    }

    /// Set a replay window: a notification whose signed `timestamp` is
    /// older than `max_age`, or further in the future than the clock skew
    /// ([`DEFAULT_CLOCK_SKEW`], 5 minutes), is refused: never processed.
    /// [`Verifier::verify_and_parse_each`] gives it as [`Item::Stale`], and
    /// [`Verifier::verify_and_parse`] refuses its batch with
    /// [`Error::TimestampTooOld`] or [`Error::TimestampInFuture`].
    ///
    /// The age counts from the notification's `timestamp`, the time of the
    /// original event, which resends keep. A timestamp exactly `max_age`
    /// old passes; the comparison is to the nanosecond.
    ///
    /// Choose `max_age` above the longest time SmarterWX keeps resending
    /// (a notification delayed past it by an outage of the receiver is
    /// refused), and keep completed keys at least
    /// [`Verifier::required_retention`] (check it at start-up with
    /// [`Verifier::check_retention`]). The [module docs](self#the-replay-window)
    /// say why, and what to set.
    ///
    /// Without it (the default), a notification of any age is read, as
    /// before: a captured delivery sent again after the idempotency store
    /// forgot its keys is processed again.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.window.max_age = Some(max_age);
        self
    }

    /// The maximum age set by [`Verifier::with_max_age`]; `None` without a
    /// replay window.
    pub fn max_age(&self) -> Option<Duration> {
        self.window.max_age
    }

    /// Set how far in the future a notification's `timestamp` may be once
    /// a replay window is set (default [`DEFAULT_CLOCK_SKEW`], 5 minutes):
    /// the sender's clock may be ahead of the receiver's. A timestamp
    /// exactly `skew` ahead passes. Without a window it changes nothing.
    pub fn with_clock_skew(mut self, skew: Duration) -> Self {
        self.window.skew = skew;
        self
    }

    /// The clock skew set by [`Verifier::with_clock_skew`].
    pub fn clock_skew(&self) -> Duration {
        self.window.skew
    }

    /// Set the most notifications a delivery may hold (default
    /// [`DEFAULT_MAX_NOTIFICATIONS`], 10 000). A signed delivery with more
    /// is refused whole with [`Error::TooManyNotifications`] (`413`), by
    /// [`Verifier::verify_and_parse_each`] before it reads any notification
    /// on its own, so that one signed body cannot make it build an error
    /// for each of hundreds of thousands of notifications.
    pub fn with_max_notifications(mut self, max: usize) -> Self {
        self.max_notifications = max;
        self
    }

    /// The most notifications a delivery may hold
    /// ([`Verifier::with_max_notifications`]).
    pub fn max_notifications(&self) -> usize {
        self.max_notifications
    }

    /// The least time an idempotency store must keep completed keys for the
    /// replay window to hold: the maximum age plus the clock skew. `None`
    /// without a window.
    ///
    /// With it, every copy of a processed notification sent again is either
    /// a duplicate (its key is still kept) or stale (refused): a key is
    /// completed no earlier than the skew before the notification's
    /// `timestamp`, and the window closes `max_age` after it.
    pub fn required_retention(&self) -> Option<Duration> {
        self.window.required_retention()
    }

    /// Check at start-up that a store keeping completed keys for
    /// `retention` (its retention, or an inbox's tombstones) holds this
    /// verifier's replay window: [`Error::RetentionTooShort`] when
    /// `retention` is shorter than [`Verifier::required_retention`], naming
    /// both. Always `Ok` without a window.
    ///
    /// ```
    /// use std::time::Duration;
    /// use utility_webhooks::{ErrorKind, smarterwx::Verifier};
    ///
    /// const DAY: Duration = Duration::from_secs(24 * 3600);
    /// let verifier = Verifier::new("my-secret")?.with_max_age(3 * DAY);
    /// // RedisStore's and PostgresStore's default retention: 7 days.
    /// verifier.check_retention(7 * DAY)?;
    /// // A day's memory: a replay on day 2 would be done again.
    /// let err = verifier.check_retention(DAY).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::RetentionTooShort);
    /// assert!(err.to_string().contains("shorter than the replay window needs"));
    /// # Ok::<(), utility_webhooks::Error>(())
    /// ```
    pub fn check_retention(&self, retention: Duration) -> Result<(), Error> {
        match self.required_retention() {
            Some(required) if retention < required => Err(Error::RetentionTooShort {
                retention,
                required,
            }),
            _ => Ok(()),
        }
    }

    /// Verify a delivery.
    ///
    /// `header` is the value of [`SIGNATURE_HEADER`]: `sha256=` (any case)
    /// directly followed by 64 hex digits (any case); white space around the
    /// whole value is ignored.
    /// `body` is the raw bytes as received, before any JSON or UTF-8
    /// processing.
    ///
    /// An empty header is [`Error::MissingSignature`]; any other form is
    /// [`Error::MalformedSignature`]; a signature that matches no secret is
    /// [`Error::SignatureMismatch`]. There is no timestamp to check.
    ///
    /// The header holds exactly one signature. SmarterWX documents a single
    /// `sha256=` value and no list syntax, so unlike SmartComply's `v1`
    /// entries there is never a readable signature to keep beside an
    /// unreadable one: a comma-separated list is malformed as a whole.
    /// Rotation is done on the receiving side, with
    /// [`Verifier::with_secret`].
    pub fn verify(&self, signature: impl SignatureInput, body: &[u8]) -> Result<(), Error> {
        self.verified(signature, body, |_| Ok(()))
    }

    /// Check `signature` over `body`, then `read` the body, in one
    /// `webhook.verify` span: every `verify*`.
    #[inline(always)]
    fn verified<T: trace::Described>(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
        read: impl FnOnce(&[u8]) -> Result<T, Error>,
    ) -> Result<T, Error> {
        trace::verification(VENDOR, body.len(), || {
            self.check(&signature, body)?;
            read(body)
        })
    }

    /// [`Verifier::verify`] without its span.
    fn check(&self, signature: &impl SignatureInput, body: &[u8]) -> Result<(), Error> {
        let tag = read_header(signature.signature_value(SIGNATURE_HEADER)?)?;
        if self.keys.matches(&[body], &tag.into()) {
            Ok(())
        } else {
            Err(Error::SignatureMismatch)
        }
    }

    /// Read the signature header alone, before the body: a missing or
    /// malformed header is refused with the error [`Verifier::verify`]
    /// would give it ([`Error::MissingSignature`], [`Error::MalformedSignature`]).
    /// Call it before reading the body, so that a request that cannot be
    /// signed never costs a buffer (the axum extractor does). `Ok` says
    /// nothing of the signature itself: verify the body next.
    pub fn check_header(&self, signature: impl SignatureInput) -> Result<(), Error> {
        let header = signature.signature_value(SIGNATURE_HEADER);
        trace::header_refused(
            VENDOR,
            header.and_then(|value| read_header(value).map(drop)),
        )
    }

    /// [`Verifier::verify`], then [`parse`]: all the notifications, or an
    /// error if any one does not fit the model.
    ///
    /// With a replay window ([`Verifier::with_max_age`]), a notification
    /// outside it, checked against the system clock, refuses the whole
    /// batch: [`Error::TimestampTooOld`] or [`Error::TimestampInFuture`]
    /// (the first such notification's). A batch of more than
    /// [`Verifier::max_notifications`] is [`Error::TooManyNotifications`].
    ///
    /// To receive deliveries, prefer [`Verifier::verify_and_parse_each`],
    /// which loses no notification to one that does not fit or is stale.
    pub fn verify_and_parse(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
    ) -> Result<Vec<Notification>, Error> {
        self.verified(signature, body, |body| {
            self.read_all(body, OffsetDateTime::now_utc)
        })
    }

    /// [`Verifier::verify_and_parse`], with the replay window checked as
    /// of `now`.
    pub fn verify_and_parse_at(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<Notification>, Error> {
        self.verified(signature, body, |body| self.read_all(body, || now))
    }

    /// [`parse`], then the cap and the window, the clock read only with a
    /// window.
    #[inline]
    fn read_all(
        &self,
        body: &[u8],
        now: impl FnOnce() -> OffsetDateTime,
    ) -> Result<Vec<Notification>, Error> {
        let batch = notification::at_most(self.max_notifications, parse(body)?)?;
        self.window.check_all(&batch, now)?;
        Ok(batch)
    }

    /// [`notification::parse_each`] under the cap, then the window, the
    /// clock read only with a window.
    #[inline]
    fn read_each(
        &self,
        body: &[u8],
        now: impl FnOnce() -> OffsetDateTime,
    ) -> Result<Vec<Item>, Error> {
        let items = notification::parse_each(body, self.max_notifications)?;
        Ok(self.window.mark_stale(items, body, now))
    }

    /// [`Verifier::verify`], then read the body notification by
    /// notification: the way to receive batches.
    ///
    /// Each notification of the delivery, in order, is an [`Item`]:
    ///
    /// - [`Item::Notification`]: typed, to process;
    /// - [`Item::Unreadable`]: one the model cannot read (a field of
    ///   another type, a required field missing, nesting past 128 levels),
    ///   kept with its index, its `uuid` and `event` where they read, its
    ///   raw JSON as sent and the error;
    /// - [`Item::Stale`]: with a replay window ([`Verifier::with_max_age`]),
    ///   one whose `timestamp`, checked against the system clock, is
    ///   outside it, kept with its index, raw JSON and age. Never process
    ///   it.
    ///
    /// One such notification never hides the others. Store the unreadable
    /// ones aside, log the stale ones, and acknowledge the delivery:
    /// SmarterWX resends what is not acknowledged until it times out, so a
    /// `400` only loses the whole batch later, and a stale notification
    /// never becomes fresh again.
    ///
    /// Still an error for the whole delivery: a signature that does not
    /// verify (as [`Verifier::verify`]), a body that is not one
    /// well-formed JSON array or object ([`Error::Payload`], as [`parse`]
    /// gives it), and more than [`Verifier::max_notifications`]
    /// notifications ([`Error::TooManyNotifications`]).
    ///
    /// A body that parses takes the same one-pass reader as [`parse`]; only
    /// a body that does not is split, counted and read again, notification
    /// by notification. Either way the work is linear in the body's length.
    ///
    /// ```
    /// use utility_webhooks::smarterwx::{self, Item, Verifier};
    ///
    /// # fn main() -> Result<(), utility_webhooks::Error> {
    /// // The second notification's message `id` is a string where the model
    /// // reads a number.
    /// let body = br#"[
    ///   {"uuid":"u-1","event":"enquiry:create","timestamp":"2023-11-20T01:00:00Z","message":{"id":7}},
    ///   {"uuid":"u-2","event":"referral:update","timestamp":"2023-11-20T01:00:01Z","message":{"id":"x"}}
    /// ]"#;
    /// let header = smarterwx::sign("my-secret", body);
    /// let verifier = Verifier::new("my-secret")?;
    ///
    /// let mut typed = Vec::new();
    /// for item in verifier.verify_and_parse_each(&header, body)? {
    ///     match item {
    ///         // Claim `notification.idempotency_key()`, then do the work.
    ///         Item::Notification(notification) => typed.push(notification),
    ///         Item::Unreadable(unreadable) => {
    ///             // Store `unreadable.raw()` aside under its key; the
    ///             // delivery can then be acknowledged.
    ///             assert_eq!(unreadable.index(), Some(1));
    ///             assert_eq!(unreadable.idempotency_key(), "smarterwx:u-2");
    ///             assert_eq!(unreadable.event_type(), Some("referral:update"));
    ///             assert!(unreadable.raw().starts_with(r#"{"uuid":"u-2""#));
    ///             assert_eq!(unreadable.error().path(), Some("[1].message.id"));
    ///         }
    ///         // Outside the replay window (none is set here): log it, drop it.
    ///         Item::Stale(stale) => eprintln!("{stale}"),
    ///         _ => {}
    ///     }
    /// }
    /// assert_eq!(typed[0].event_type(), "enquiry:create");
    /// # Ok(())
    /// # }
    /// ```
    pub fn verify_and_parse_each(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
    ) -> Result<Vec<Item>, Error> {
        self.verified(signature, body, |body| {
            self.read_each(body, OffsetDateTime::now_utc)
        })
    }

    /// [`Verifier::verify_and_parse_each`], with the replay window checked
    /// as of `now`: for tests, and for bodies read again later against the
    /// time they were received.
    ///
    /// ```
    /// use std::time::Duration;
    /// use utility_webhooks::smarterwx::{self, Item, Verifier};
    /// use utility_webhooks::time::macros::datetime;
    /// use utility_webhooks::ErrorKind;
    ///
    /// # fn main() -> Result<(), utility_webhooks::Error> {
    /// let body = br#"[
    ///   {"uuid":"u-1","event":"enquiry:create","timestamp":"2023-11-20T01:00:00Z","message":{}},
    ///   {"uuid":"u-2","event":"enquiry:create","timestamp":"2023-11-27T01:00:00Z","message":{}}
    /// ]"#;
    /// let header = smarterwx::sign("my-secret", body);
    /// let verifier = Verifier::new("my-secret")?.with_max_age(Duration::from_secs(3 * 24 * 3600));
    ///
    /// let items = verifier.verify_and_parse_each_at(&header, body, datetime!(2023-11-28 01:00 UTC))?;
    /// let Item::Stale(stale) = &items[0] else { panic!("{items:?}") };
    /// assert_eq!((stale.index(), stale.notification().uuid.as_str()), (0, "u-1"));
    /// assert_eq!(stale.age().whole_days(), 8);
    /// assert_eq!(stale.kind(), ErrorKind::TimestampTooOld);
    /// assert!(stale.raw().starts_with(r#"{"uuid":"u-1""#));
    /// assert_eq!(items[1].notification().map(|n| n.uuid.as_str()), Some("u-2"));
    ///
    /// // All or nothing: the batch is refused.
    /// let err = verifier.verify_and_parse_at(&header, body, datetime!(2023-11-28 01:00 UTC));
    /// assert_eq!(err.unwrap_err().kind(), ErrorKind::TimestampTooOld);
    /// # Ok(())
    /// # }
    /// ```
    pub fn verify_and_parse_each_at(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<Item>, Error> {
        self.verified(signature, body, |body| self.read_each(body, || now))
    }
}

/// Parse a body into its notifications without verifying it: for stored
/// bodies, replays and tests.
///
/// The body is a JSON array of notifications (any length, `[]` included)
/// or one bare notification object. Anything else is [`Error::Payload`],
/// naming the event of the notification that failed when it has one.
pub fn parse(body: &[u8]) -> Result<Vec<Notification>, Error> {
    notification::parse_batch(body)
}

/// What `body` holds that the model does not take in: members it ignores,
/// enum values (activity codes included) and events it does not know. An
/// error when `body` does not parse, exactly as [`parse`] gives it; no
/// verification. Paths start at the notification's index in a batch
/// (`[0].message.Enquiry.region`), at its keys for a bare notification.
///
/// It reads the body again, apart from [`parse`]: never in the way of the
/// answer to a delivery (run it in a task of its own, or on stored bodies).
/// The [`crate::drift`] module says more.
pub fn drift(body: &[u8]) -> Result<crate::drift::Drift, Error> {
    use crate::drift::{DriftItem, DriftKind};
    use crate::wire::drift::{Segment, Walk, elements, text};
    let notifications = parse(body)?;
    let json = text(body)?;
    let mut items = Vec::new();
    let raws = elements(json)?;
    let bare = raws.is_none();
    let raws = raws.unwrap_or_default();
    for (index, notification) in notifications.iter().enumerate() {
        let (prefix, raw) = match raws.get(index) {
            Some(raw) => (vec![Segment::Index(index)], raw.get()),
            None if bare => (Vec::new(), json),
            None => break,
        };
        let walk = Walk::new();
        walk.envelope::<Message>(prefix.clone(), raw)?;
        items.extend(walk.into_items());
        // Activity codes are kept as text in `activityTypes`, and typed
        // by `Enquiry::activities`: an unknown one is drift too.
        let Some(referral) = notification.message.referral() else {
            continue;
        };
        for (entry_index, entry) in referral.enquiry.activity_types.iter().enumerate() {
            for code in entry.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                if !ActivityCode::from(code).is_known() {
                    let mut path = prefix.clone();
                    path.extend([
                        Segment::key("message"),
                        Segment::key("Enquiry"),
                        Segment::key("activityTypes"),
                        Segment::Index(entry_index),
                    ]);
                    let path = crate::wire::drift::path(&path);
                    items.push(DriftItem::new(
                        DriftKind::UnknownValue,
                        path,
                        Some(code.into()),
                    ));
                }
            }
        }
    }
    Ok(trace::drift(VENDOR, crate::drift::Drift::new(items)))
}

/// The header value SmarterWX would send for `body`:
/// `sha256=<lowercase hex>`. For tests and local tools.
pub fn sign(secret: impl AsRef<[u8]>, body: &[u8]) -> String {
    let hex = signature::sign_hex(secret.as_ref(), &[body]);
    format!("sha256={hex}")
}

/// Read an `x-swx-signature` value: `sha256=` (any case) directly followed
/// by 64 hex digits, white space around the whole value ignored.
fn read_header(header: &[u8]) -> Result<Tag, Error> {
    let raw = header.trim_ascii();
    if raw.is_empty() {
        return Err(Error::MissingSignature);
    }
    match raw.split_at_checked(PREFIX.len()) {
        Some((prefix, hex)) if prefix.eq_ignore_ascii_case(PREFIX) => {
            signature::decode_tag(hex).ok_or(Error::MalformedSignature)
        }
        _ => Err(Error::MalformedSignature),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "swx-secret";
    const BODY: &[u8] = b"[]";

    fn verifier() -> Verifier {
        Verifier::new(SECRET).unwrap()
    }

    #[test]
    fn github_published_vector() {
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn sign_then_verify_and_parse() {
        let header = sign(SECRET, BODY);
        assert!(header.starts_with("sha256="));
        assert_eq!(header.len(), 7 + 64);
        assert_eq!(header[7..], header[7..].to_ascii_lowercase());
        verifier().verify(&header, BODY).unwrap();
        verifier().verify(header.as_bytes(), BODY).unwrap();
        assert_eq!(verifier().verify_and_parse(&header, BODY).unwrap(), []);
        assert!(matches!(
            verifier().verify(&header, b"[ ]"),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn signature_is_checked_before_the_body_is_read() {
        let body = b"\xff not json";
        assert!(matches!(
            verifier().verify_and_parse(sign("other", body), body),
            Err(Error::SignatureMismatch)
        ));
        assert!(matches!(
            verifier().verify_and_parse(sign(SECRET, body), body),
            Err(Error::Payload(_))
        ));
    }

    #[test]
    fn header_forms() {
        let header = sign(SECRET, BODY);
        let hex = &header[7..];
        for ok in [
            header.clone(),
            format!("  {header}\t\r\n"),
            format!("SHA256={hex}"),
            format!("Sha256={}", hex.to_uppercase()),
        ] {
            verifier()
                .verify(&ok, BODY)
                .unwrap_or_else(|e| panic!("{ok:?}: {e:?}"));
        }
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"".to_vec(), "MissingSignature"),
            (b" \t\r\n".to_vec(), "MissingSignature"),
            (hex.into(), "MalformedSignature"),
            (format!("sha1={}", &hex[..40]).into(), "MalformedSignature"),
            (format!("sha1={hex}").into(), "MalformedSignature"),
            (
                format!("sha256={}", &hex[..62]).into(),
                "MalformedSignature",
            ),
            (format!("sha256={hex}00").into(), "MalformedSignature"),
            (b"sha256=".to_vec(), "MalformedSignature"),
            (b"sha256".to_vec(), "MalformedSignature"),
            (
                format!("sha256={}", "g".repeat(64)).into(),
                "MalformedSignature",
            ),
            (format!("sha256=={hex}").into(), "MalformedSignature"),
            (
                format!("sha256={hex},sha256={hex}").into(),
                "MalformedSignature",
            ),
            // One signature only: a readable one beside an unreadable one
            // is no list this header can hold.
            (
                format!("sha256={hex},sha256=zz").into(),
                "MalformedSignature",
            ),
            (
                format!("sha256=zz,sha256={hex}").into(),
                "MalformedSignature",
            ),
            (format!("sha256 = {hex}").into(), "MalformedSignature"),
            (format!("sha256= {hex}").into(), "MalformedSignature"),
            (format!("sha-256={hex}").into(), "MalformedSignature"),
            (format!("v1={hex}").into(), "MalformedSignature"),
            (b"sha256=\xff\xfe".to_vec(), "MalformedSignature"),
            (b"\xffsha256=00".to_vec(), "MalformedSignature"),
            (
                format!("sha256={}", "0".repeat(64)).into(),
                "SignatureMismatch",
            ),
        ];
        for (header, want) in cases {
            let got = verifier().verify(&header, BODY).unwrap_err();
            assert_eq!(
                got.kind().as_str(),
                want,
                "{:?}",
                String::from_utf8_lossy(&header)
            );
        }
    }

    #[test]
    fn rotation_accepts_either_secret() {
        let v = Verifier::new("old").unwrap().with_secret("new").unwrap();
        v.verify(sign("old", BODY), BODY).unwrap();
        v.verify(sign("new", BODY), BODY).unwrap();
        assert!(matches!(
            v.verify(sign("other", BODY), BODY),
            Err(Error::SignatureMismatch)
        ));
    }

    #[test]
    fn debug_and_errors_show_no_secret() {
        let v = verifier().with_secret("second-secret").unwrap();
        let shown = format!("{v:?}");
        assert!(!shown.contains("secret-"), "{shown}");
        assert!(!shown.contains("swx"), "{shown}");
        assert!(shown.contains("2 secret(s)"), "{shown}");
        let expected = sign(SECRET, BODY);
        let err = v
            .verify(format!("sha256={}", "0".repeat(64)), BODY)
            .unwrap_err();
        assert!(!err.to_string().contains(&expected[7..]));
        assert!(!format!("{err:?}").contains(&expected[7..]));
    }

    #[test]
    fn clones_share_the_keyed_states() {
        let v = verifier().with_secret("second").unwrap();
        let copy = v.clone();
        assert!(copy.keys.shares_states_with(&v.keys));
        copy.verify(sign("second", BODY), BODY).unwrap();
    }

    const DAY: Duration = Duration::from_secs(24 * 3600);

    /// A notification of `event` at `timestamp`, as JSON text.
    fn at(uuid: &str, timestamp: &str) -> String {
        format!(
            r#"{{"uuid":"{uuid}","event":"enquiry:create","timestamp":"{timestamp}","message":{{}}}}"#
        )
    }

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-05-05 14:00:00 UTC)
    }

    /// What each item of `body` is, read at `now` by `verifier`: `"ok"`,
    /// `"stale"` or `"unreadable"`.
    fn kinds(verifier: &Verifier, body: &str, now: OffsetDateTime) -> Vec<&'static str> {
        let header = sign(SECRET, body.as_bytes());
        verifier
            .verify_and_parse_each_at(&header, body.as_bytes(), now)
            .unwrap()
            .iter()
            .map(|item| match item {
                Item::Notification(_) => "ok",
                Item::Stale(_) => "stale",
                Item::Unreadable(_) => "unreadable",
            })
            .collect()
    }

    #[test]
    fn the_window_s_edges_under_an_injected_clock() {
        let v = verifier().with_max_age(DAY);
        assert_eq!(
            (v.max_age(), v.clock_skew()),
            (Some(DAY), DEFAULT_CLOCK_SKEW)
        );
        let strict = |v: &Verifier, body: &str| {
            let header = sign(SECRET, body.as_bytes());
            v.verify_and_parse_at(&header, body.as_bytes(), now())
                .map(|batch| batch.len())
                .map_err(|e| e.kind())
        };
        use crate::ErrorKind::{TimestampInFuture, TimestampTooOld};
        for (timestamp, want, all) in [
            // Exactly the maximum age: inside.
            ("2026-05-04T14:00:00Z", "ok", Ok(1)),
            // One second, and one nanosecond, past it: stale.
            ("2026-05-04T13:59:59Z", "stale", Err(TimestampTooOld)),
            (
                "2026-05-04T13:59:59.999999999Z",
                "stale",
                Err(TimestampTooOld),
            ),
            ("2026-05-04T14:00:00.000000001Z", "ok", Ok(1)),
            // Long ago.
            ("2020-08-11T07:44:10Z", "stale", Err(TimestampTooOld)),
            // Now, and exactly the skew ahead: inside.
            ("2026-05-05T14:00:00Z", "ok", Ok(1)),
            ("2026-05-05T14:05:00Z", "ok", Ok(1)),
            // One second past the skew, and far ahead: stale.
            ("2026-05-05T14:05:01Z", "stale", Err(TimestampInFuture)),
            ("9999-12-31T23:59:59Z", "stale", Err(TimestampInFuture)),
            // An offset other than UTC counts as the instant it names.
            ("2026-05-05T00:00:00-10:00", "ok", Ok(1)),
            ("2026-05-04T23:59:59+10:00", "stale", Err(TimestampTooOld)),
        ] {
            let body = format!("[{}]", at("u-1", timestamp));
            assert_eq!(kinds(&v, &body, now()), [want], "{timestamp}");
            assert_eq!(strict(&v, &body), all, "{timestamp}");
            // No window: today's behaviour, any timestamp reads.
            assert_eq!(kinds(&verifier(), &body, now()), ["ok"], "{timestamp}");
            assert_eq!(strict(&verifier(), &body), Ok(1), "{timestamp}");
        }
        // A wider skew, a window of zero, and the widest window, which
        // never overflows.
        for (max_age, skew, timestamps, want) in [
            (
                DAY,
                DAY,
                ["2026-05-06T14:00:00Z", "2026-05-04T14:00:00Z"],
                ["ok", "ok"],
            ),
            (
                Duration::ZERO,
                Duration::ZERO,
                ["2026-05-05T14:00:00Z", "2026-05-05T13:59:59Z"],
                ["ok", "stale"],
            ),
            (
                Duration::MAX,
                Duration::MAX,
                ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"],
                ["ok", "ok"],
            ),
        ] {
            let v = verifier().with_max_age(max_age).with_clock_skew(skew);
            let [a, b] = timestamps;
            let body = format!("[{},{}]", at("u-1", a), at("u-2", b));
            assert_eq!(kinds(&v, &body, now()), want, "{max_age:?} {skew:?}");
        }
        let v = verifier()
            .with_max_age(Duration::MAX)
            .with_clock_skew(Duration::MAX);
        assert_eq!(v.required_retention(), Some(Duration::MAX));
    }

    #[test]
    fn a_mixed_batch_keeps_the_fresh_the_unreadable_and_the_stale_apart() {
        let v = verifier().with_max_age(DAY);
        // A stale one that does not read stays unreadable: it is parked,
        // never processed either way.
        let unreadable_old = r#"{"uuid":"u-3","event":"referral:create","timestamp":"2020-08-11T07:44:10Z","message":{"id":"x"}}"#;
        let stale = at("u-2", "2026-04-01T00:00:00Z");
        let body = format!(
            "[{},\n {stale} ,{unreadable_old},{}]",
            at("u-1", "2026-05-05T13:00:00Z"),
            at("u-4", "2026-05-05T13:59:00Z"),
        );
        assert_eq!(kinds(&v, &body, now()), ["ok", "stale", "unreadable", "ok"]);
        let header = sign(SECRET, body.as_bytes());
        let items = v
            .verify_and_parse_each_at(&header, body.as_bytes(), now())
            .unwrap();
        let s = items[1].stale().unwrap();
        assert_eq!(s.index(), 1);
        assert_eq!(s.raw(), stale);
        assert_eq!(s.notification().uuid, "u-2");
        assert_eq!(s.idempotency_key(), "smarterwx:u-2");
        assert_eq!(items[1].idempotency_key(), "smarterwx:u-2");
        assert_eq!(
            s.age(),
            now() - time::macros::datetime!(2026-04-01 00:00 UTC)
        );
        assert_eq!(s.kind(), crate::ErrorKind::TimestampTooOld);
        assert_eq!(s.clone().into_notification(), *s.notification());
        let shown = s.to_string();
        assert!(
            shown.starts_with("stale notification at index 1 (uuid `u-2`, event `enquiry:create`): its timestamp is ")
                && shown.ends_with(" old, past the maximum age of 86400s"),
            "{shown}"
        );
        // The helpers.
        assert_eq!(
            items[0].notification().map(|n| n.uuid.as_str()),
            Some("u-1")
        );
        assert!(items[1].notification().is_none() && items[2].notification().is_none());
        assert!(items[2].unreadable().is_some() && items[2].stale().is_none());
        let readable: Vec<_> = items.into_iter().filter_map(Item::into_readable).collect();
        assert_eq!(readable.len(), 3, "the stale one is left out");
        assert!(readable[0].is_ok() && readable[1].is_err() && readable[2].is_ok());
        // Read in one pass, and read again after a failure: the same.
        let readable = format!(
            "[{},\n {stale} ,{}]",
            at("u-1", "2026-05-05T13:00:00Z"),
            at("u-4", "2026-05-05T13:59:00Z")
        );
        assert_eq!(kinds(&v, &readable, now()), ["ok", "stale", "ok"]);
        let header = sign(SECRET, readable.as_bytes());
        let items = v
            .verify_and_parse_each_at(&header, readable.as_bytes(), now())
            .unwrap();
        assert_eq!(items[1].stale().unwrap().raw(), stale);
        // A bare notification is index 0, its raw the whole object.
        let bare = at("u-9", "2026-05-07T00:00:00Z");
        let header = sign(SECRET, bare.as_bytes());
        let items = v
            .verify_and_parse_each_at(&header, bare.as_bytes(), now())
            .unwrap();
        let s = items[0].stale().unwrap();
        assert_eq!(
            (s.index(), s.raw(), s.kind()),
            (0, bare.as_str(), crate::ErrorKind::TimestampInFuture)
        );
        assert!(
            s.to_string()
                .ends_with(" in the future, past the clock skew of 300s"),
            "{s}"
        );
        assert!(s.age().is_negative());
    }

    #[test]
    fn a_stale_notification_shows_sender_text_escaped_and_bounded() {
        let uuid = format!("a\\nstale notification\\u202e{}", "x".repeat(5000));
        let event = format!("e\\r{}", "y".repeat(5000));
        let body = format!(
            r#"[{{"uuid":"{uuid}","event":"{event}","timestamp":"2000-01-01T00:00:00Z","message":{{"pad":"{}"}}}}]"#,
            "z".repeat(5000)
        );
        let v = verifier().with_max_age(DAY);
        let header = sign(SECRET, body.as_bytes());
        let items = v
            .verify_and_parse_each_at(&header, body.as_bytes(), now())
            .unwrap();
        let s = items[0].stale().unwrap();
        for shown in [s.to_string(), format!("{s:?}"), format!("{:?}", items[0])] {
            assert!(!shown.contains(['\n', '\r', '\u{202e}']), "{shown}");
            assert!(shown.len() <= 2048, "{} bytes", shown.len());
        }
        assert!(s.to_string().len() <= crate::text::MAX_DISPLAY);
        assert!(s.to_string().contains("a\\nstale"), "{s}");
    }

    #[test]
    fn the_cap_refuses_a_batch_past_it_whole() {
        let v = verifier().with_max_notifications(2);
        assert_eq!(verifier().max_notifications(), DEFAULT_MAX_NOTIFICATIONS);
        assert_eq!(v.max_notifications(), 2);
        let two = format!("[{0},{0}]", at("u", "2026-05-05T14:00:00Z"));
        let three = format!("[{0},{0},{0}]", at("u", "2026-05-05T14:00:00Z"));
        // Three that do not read: refused before any is read on its own.
        let unreadable = "[{},{},{}]";
        for (body, ok) in [
            (&two[..], true),
            (&three[..], false),
            (unreadable, false),
            ("[{},{}]", true),
        ] {
            let header = sign(SECRET, body.as_bytes());
            let each = v.verify_and_parse_each(&header, body.as_bytes());
            let strict = v.verify_and_parse(&header, body.as_bytes());
            if ok {
                assert_eq!(each.unwrap().len(), 2, "{body}");
            } else {
                let e = each.unwrap_err();
                assert!(
                    matches!(e, Error::TooManyNotifications { limit: 2 }),
                    "{body}: {e:?}"
                );
                assert_eq!(
                    e.to_string(),
                    "webhook batch holds more than 2 notifications"
                );
                assert_eq!(e.http_status(), 413);
            }
            if body == three {
                assert!(matches!(
                    strict,
                    Err(Error::TooManyNotifications { limit: 2 })
                ));
            }
        }
        // The signature first, the cap after.
        assert!(matches!(
            v.verify_and_parse_each(sign("other", three.as_bytes()), three.as_bytes()),
            Err(Error::SignatureMismatch)
        ));
        // A body that is not one array is its payload error, not the cap's.
        let broken = "[{},{},{}";
        assert!(matches!(
            v.verify_and_parse_each(sign(SECRET, broken.as_bytes()), broken.as_bytes()),
            Err(Error::Payload(_))
        ));
    }

    #[test]
    fn the_retention_rule() {
        assert_eq!(verifier().required_retention(), None);
        verifier().check_retention(Duration::ZERO).unwrap();
        let v = verifier().with_max_age(3 * DAY);
        let required = 3 * DAY + DEFAULT_CLOCK_SKEW;
        assert_eq!(v.required_retention(), Some(required));
        v.check_retention(required).unwrap();
        v.check_retention(7 * DAY).unwrap();
        let e = v
            .check_retention(required - Duration::from_nanos(1))
            .unwrap_err();
        assert!(
            matches!(e, Error::RetentionTooShort { retention, required: r } if r == required && retention < r)
        );
        assert_eq!(e.http_status(), 500);
        let shown = v.check_retention(DAY).unwrap_err().to_string();
        assert_eq!(
            shown,
            "idempotency retention of 86400s is shorter than the replay window needs (259500s: the maximum age plus the clock skew): a delivery replayed after its key expired would be done again"
        );
        let v = v.with_clock_skew(Duration::ZERO);
        v.check_retention(3 * DAY).unwrap();
    }

    #[test]
    fn verifier_is_shareable() {
        fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
        assert_shareable::<Verifier>();
        fn assert_model<
            T: std::fmt::Debug
                + Clone
                + PartialEq
                + serde::Serialize
                + serde::de::DeserializeOwned
                + Send
                + Sync
                + 'static,
        >() {
        }
        fn assert_owned<T: std::fmt::Debug + Clone + PartialEq + Send + Sync + 'static>() {}
        assert_owned::<Item>();
        assert_owned::<Stale>();
        assert_model::<Notification>();
        assert_model::<Message>();
        assert_model::<Referral>();
        assert_model::<UnknownMessage>();
    }
}
