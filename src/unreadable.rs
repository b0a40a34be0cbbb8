//! A verified delivery that the model cannot read, the same for both
//! vendors.

use std::fmt::{self, Write as _};

use crate::read_error::ReadError;
use crate::text::{
    Bounded, Capped, MAX_DIGITS, MAX_DISPLAY, MAX_ID, MAX_PAYLOAD_DISPLAY, longest, sanitize,
};
use crate::vendor::Vendor;

/// A verified delivery, or one notification of it, that the model cannot
/// read: what can be read of its envelope, its raw JSON and why it did not
/// parse.
///
/// Both vendors give it the same way:
///
/// - SmartComply: when an event's envelope (`id`, `type`, `created_at`)
///   reads but its `data` does not fit the model, the payload error's
///   [`PayloadError::unreadable`](crate::PayloadError::unreadable) gives
///   the event;
/// - SmarterWX: [`verify_and_parse_each`](crate::smarterwx::Verifier::verify_and_parse_each)
///   gives one for each notification that does not fit, beside the typed
///   ones.
///
/// It holds enough to store the delivery aside and acknowledge it, so that
/// the vendor stops resending it, and to read it again later with a model
/// that fits: [`Unreadable::raw`] is a body that the vendor module's
/// `parse` takes. Events and notifications of types the crate does not
/// know are not unreadable: they parse, as `Unknown`.
///
/// Only a verified delivery is known to come from the vendor: park what
/// this gives after the signature passed, never for an unchecked body.
///
/// Its `Display` (at most 1 KiB) and `Debug` show sender text escaped and
/// cut short, as [`ReadError`] does; the accessors give all of it.
///
/// ```
/// use utility_webhooks::{Error, Vendor, smartcomply};
///
/// // Signed by SmartComply, but `test_date` is a number where the model
/// // reads a date.
/// let body = br#"{"id":"evt_1","type":"test.submitted","created_at":"2026-05-05T14:30:00Z",
///   "data":{"test_id":"bft_1","assembly_id":"asm_1","tester_id":"tst_1",
///           "result":"pass","test_date":20260505}}"#;
/// let Err(Error::Payload(err)) = smartcomply::parse(body) else { panic!() };
/// let event = err.unreadable().expect("the envelope reads");
/// assert_eq!(event.id(), Some("evt_1"));
/// assert_eq!(event.event_type(), Some("test.submitted"));
/// assert_eq!(event.raw().as_bytes(), body);
/// assert_eq!(event.idempotency_key(), "smartcomply:evt_1");
/// assert_eq!(event.error().path(), Some("data.test_date"));
/// assert_eq!(event.vendor(), Vendor::SmartComply);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Unreadable(Box<Inner>);

#[derive(Clone, PartialEq, Eq)]
struct Inner {
    vendor: Vendor,
    index: Option<usize>,
    id: Option<String>,
    event_type: Option<String>,
    raw: Box<str>,
    error: ReadError,
}

impl Unreadable {
    /// An unreadable delivery of `vendor`.
    pub(crate) fn new(
        vendor: Vendor,
        index: Option<usize>,
        id: Option<String>,
        event_type: Option<String>,
        raw: &str,
        error: ReadError,
    ) -> Self {
        Unreadable(Box::new(Inner {
            vendor,
            index,
            id,
            event_type,
            raw: raw.into(),
            error,
        }))
    }

    /// Where the notification is in its delivery (SmarterWX): its index in
    /// the array, `0` for a bare notification object. `None` for a
    /// SmartComply event, one per delivery.
    pub fn index(&self) -> Option<usize> {
        self.0.index
    }

    /// The event's `id` or the notification's `uuid`, exactly as sent,
    /// when it is sent once as a string.
    pub fn id(&self) -> Option<&str> {
        self.0.id.as_deref()
    }

    /// The event's `type` or the notification's `event`
    /// (`"referral:create"`), exactly as sent, when it is sent once as a
    /// string.
    pub fn event_type(&self) -> Option<&str> {
        self.0.event_type.as_deref()
    }

    /// The JSON text, byte for byte as sent: the whole SmartComply event,
    /// or the one SmarterWX notification (the slice of the body from its
    /// opening to its closing bracket). Either is a body that the vendor
    /// module's `parse` reads again.
    ///
    /// The sender's line breaks are kept: to store it on one line of a
    /// JSON-lines file, write it as a JSON string
    /// (`serde_json::to_string(raw)`), or re-encode the value
    /// (`serde_json::from_str::<serde_json::Value>(raw)`), which keeps the
    /// data but not the bytes.
    pub fn raw(&self) -> &str {
        &self.0.raw
    }

    /// [`Unreadable::raw`], owned.
    pub fn into_raw(self) -> String {
        self.0.raw.into_string()
    }

    /// Why it does not fit the model. Its path and position are within the
    /// whole body (`data.test_date`, `[1].message.id`), as the vendor's
    /// `parse` names them; for a SmartComply event, the same as the
    /// [`PayloadError`](crate::PayloadError) that gave it.
    pub fn error(&self) -> &ReadError {
        &self.0.error
    }

    /// [`Unreadable::error`], owned.
    pub(crate) fn into_error(self) -> ReadError {
        self.0.error
    }

    /// The vendor that sent it; [`Vendor::as_str`] is the namespace of its
    /// idempotency key.
    pub fn vendor(&self) -> Vendor {
        self.0.vendor
    }

    /// The key of its work in an idempotency store: with a readable id,
    /// the same as the event's or notification's `idempotency_key()` once
    /// it reads (`smartcomply:<id>`, `smarterwx:<uuid>`); without one, a
    /// digest of its raw JSON (`smarterwx:sha256:<hex>`), so that the same
    /// notification sent again is a duplicate and different ones never
    /// share a key. The rule is in [`idempotency`](crate::idempotency)'s
    /// "Keys".
    ///
    /// Park it under [`Unreadable::parked_key`], not this key: completing
    /// this one would answer `Completed` to the delivery once a newer model
    /// reads it, and its work would never be done.
    pub fn idempotency_key(&self) -> String {
        match self.0.id.as_deref() {
            Some(id) => self.0.vendor.key(id),
            None => crate::idempotency::content_key(self.0.vendor.as_str(), self.0.raw.as_bytes()),
        }
    }

    /// The key to claim while parking it, in the same store:
    /// `parked:<idempotency_key>`. Parking once per delivery needs a claim,
    /// but not on [`Unreadable::idempotency_key`]: that key stays free,
    /// so that its work is done once a model reads it (the vendor's resend
    /// after an upgrade, or the parked raw JSON parsed again with the
    /// vendor's `parse` and run under its key).
    ///
    /// ```
    /// use utility_webhooks::{Error, smartcomply};
    ///
    /// let body = br#"{"id":"evt_1","type":"test.failed","created_at":"2026-05-05T14:30:00Z","data":{}}"#;
    /// let Err(Error::Payload(err)) = smartcomply::parse(body) else { panic!() };
    /// let unreadable = err.unreadable().unwrap();
    /// assert_eq!(unreadable.parked_key(), "parked:smartcomply:evt_1");
    /// ```
    pub fn parked_key(&self) -> String {
        format!("parked:{}", self.idempotency_key())
    }
}

/// One JSON object, to park the delivery in a file or a table: `vendor`,
/// `key` ([`Unreadable::idempotency_key`]), `id`, `event_type`, `index`
/// (each `null` when unknown), `error`
/// (the message) and `raw` (the JSON text as sent, as one JSON string).
/// `serde_json::to_string` of it is one line of a JSON-lines file, however
/// many line breaks the sender's JSON held:
///
/// ```
/// use utility_webhooks::{Error, serde_json, smartcomply};
///
/// let body = b"{\"id\":\"evt_1\",\"type\":\"test.failed\",\n \"created_at\":\"2026-05-05T14:30:00Z\",\"data\":{}}";
/// let Err(Error::Payload(err)) = smartcomply::parse(body) else { panic!() };
/// let line = serde_json::to_string(err.unreadable().unwrap())?;
/// assert!(!line.contains('\n'));
/// assert!(line.starts_with(r#"{"vendor":"smartcomply","key":"smartcomply:evt_1","id":"evt_1""#));
/// # Ok::<(), serde_json::Error>(())
/// ```
impl serde::Serialize for Unreadable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut out = s.serialize_struct("Unreadable", 7)?;
        out.serialize_field("vendor", &self.0.vendor)?;
        out.serialize_field("key", &self.idempotency_key())?;
        out.serialize_field("id", &self.0.id)?;
        out.serialize_field("event_type", &self.0.event_type)?;
        out.serialize_field("index", &self.0.index)?;
        out.serialize_field("error", &self.0.error.to_string())?;
        out.serialize_field("raw", &*self.0.raw)?;
        out.end()
    }
}

impl fmt::Debug for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let u = &*self.0;
        f.debug_struct("Unreadable")
            .field("vendor", &u.vendor)
            .field("index", &u.index)
            .field("id", &u.id.as_deref().map(Bounded))
            .field("event_type", &u.event_type.as_deref().map(Bounded))
            .field("raw", &Bounded(&u.raw))
            .field("error", &u.error)
            .finish()
    }
}

const INTRO: &str = "unreadable delivery";
const INDEX_OPEN: &str = " at index ";
const ID_OPEN: &str = " (id `";
const ID_CLOSE: &str = "`)";
const ERROR_OPEN: &str = ": ";

const _: () = assert!(
    longest(
        &[INTRO, INDEX_OPEN, ID_OPEN, ID_CLOSE, ERROR_OPEN],
        &[MAX_DIGITS, MAX_ID, MAX_PAYLOAD_DISPLAY],
    ) <= MAX_DISPLAY
);

/// At most 1 KiB, whatever the body: the id is escaped and cut as the
/// error's parts are (see [`ReadError`]).
impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut f = Capped::new(f, MAX_DISPLAY);
        f.write_str(INTRO)?;
        if let Some(index) = self.0.index {
            write!(f, "{INDEX_OPEN}{index}")?;
        }
        if let Some(id) = &self.0.id {
            write!(f, "{ID_OPEN}{}{ID_CLOSE}", sanitize(id, MAX_ID))?;
        }
        write!(f, "{ERROR_OPEN}{}", self.0.error)
    }
}

impl std::error::Error for Unreadable {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0.error)
    }
}
