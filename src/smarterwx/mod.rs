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
//!   header has no timestamp, so the `uuid` (and, if wanted, the age of the
//!   signed [`Notification::timestamp`]) is the only replay protection;
//! - read a batch notification by notification
//!   ([`Verifier::verify_and_parse_each`]): a notification the model cannot
//!   read comes back raw, to be stored aside, and the delivery can still be
//!   acknowledged;
//! - also answer a plain `GET` on the same endpoint (a reachability check).
//!
//! ```
//! use utility_webhooks::smarterwx::{self, ActivityCode, Message, Verifier};
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
//! for each in verifier.verify_and_parse_each(&header, body)? {
//!     let notification = match each {
//!         Ok(notification) => notification,
//!         Err(unreadable) => {
//!             // Verified, but the model cannot read it: store
//!             // `unreadable.raw()` aside, and go on with the others.
//!             eprintln!("parked: {unreadable}");
//!             continue;
//!         }
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
//!         other => println!("ignoring {}", other.event_type()),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod notification;
mod referral;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

use crate::error::Error;
use crate::headers::SignatureInput;
use crate::signature::{self, Keys, Tag};
use crate::trace;
use crate::unreadable::Unreadable;
use notification::NAMESPACE as VENDOR;

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

/// Checks SmarterWX signatures against one or more secrets.
///
/// Build one at start-up and share it between request handlers: it is
/// `Clone + Send + Sync`, each secret is keyed once, and its `Debug` shows
/// no secret.
#[derive(Clone, Debug)]
pub struct Verifier {
    keys: Keys,
}

impl Verifier {
    /// A verifier for one secret: the secret key given to SmarterWX, whose
    /// bytes are the HMAC key. An empty secret is [`Error::EmptySecret`].
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(Verifier {
            keys: Keys::new(secret.as_ref())?,
        })
    }

    /// Accept one more secret, for rotation: a signature made with any of
    /// the verifier's secrets passes.
    pub fn with_secret(mut self, secret: impl AsRef<[u8]>) -> Result<Self, Error> {
        self.keys.add(secret.as_ref())?;
        Ok(self)
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
        trace::verification(VENDOR, body.len(), || self.check(&signature, body))
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

    /// Read the signature header alone, before the body: missing or
    /// malformed is refused with the error [`Verifier::verify`] gives it
    /// (the extractor does this before it reads a byte of the body).
    #[cfg(feature = "axum")]
    pub(crate) fn check_header(&self, signature: &impl SignatureInput) -> Result<(), Error> {
        let header = signature.signature_value(SIGNATURE_HEADER);
        trace::header_refused(
            VENDOR,
            header.and_then(|value| read_header(value).map(drop)),
        )
    }

    /// [`Verifier::verify`], then [`parse`]: all the notifications, or an
    /// error if any one does not fit the model.
    ///
    /// To receive deliveries, prefer [`Verifier::verify_and_parse_each`],
    /// which loses no notification to one that does not fit.
    pub fn verify_and_parse(
        &self,
        signature: impl SignatureInput,
        body: &[u8],
    ) -> Result<Vec<Notification>, Error> {
        trace::verification(VENDOR, body.len(), || {
            self.check(&signature, body)?;
            parse(body)
        })
    }

    /// [`Verifier::verify`], then read the body notification by
    /// notification: the way to receive batches.
    ///
    /// Each notification of the delivery, in order, is either typed or an
    /// [`Unreadable`]: one the model cannot read (a field of
    /// another type, a required field missing, nesting past 128 levels),
    /// kept with its index, its `uuid` and `event` where they read, its
    /// raw JSON as sent and the error. One such notification never hides
    /// the others. Store the unreadable ones aside, and acknowledge the
    /// delivery: SmarterWX resends what is not acknowledged until it times
    /// out, so a `400` only loses the whole batch later.
    ///
    /// Still an error for the whole delivery: a signature that does not
    /// verify (as [`Verifier::verify`]), and a body that is not one
    /// well-formed JSON array or object ([`Error::Payload`], as [`parse`]
    /// gives it).
    ///
    /// A body that parses takes the same one-pass reader as [`parse`]; only
    /// a body that does not is split and read again, notification by
    /// notification.
    ///
    /// ```
    /// use utility_webhooks::smarterwx::{self, Verifier};
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
    /// for each in verifier.verify_and_parse_each(&header, body)? {
    ///     match each {
    ///         // Claim `notification.idempotency_key()`, then do the work.
    ///         Ok(notification) => typed.push(notification),
    ///         Err(unreadable) => {
    ///             // Store `unreadable.raw()` aside under its key; the
    ///             // delivery can then be acknowledged.
    ///             assert_eq!(unreadable.index(), Some(1));
    ///             assert_eq!(unreadable.idempotency_key().as_deref(), Some("smarterwx:u-2"));
    ///             assert_eq!(unreadable.event_type(), Some("referral:update"));
    ///             assert!(unreadable.raw().starts_with(r#"{"uuid":"u-2""#));
    ///             assert_eq!(unreadable.error().path(), Some("[1].message.id"));
    ///         }
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
    ) -> Result<Vec<Result<Notification, Unreadable>>, Error> {
        trace::verification(VENDOR, body.len(), || {
            self.check(&signature, body)?;
            notification::parse_each(body)
        })
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
        assert!(matches!(Verifier::new(""), Err(Error::EmptySecret)));
        assert!(matches!(
            verifier().with_secret(b""),
            Err(Error::EmptySecret)
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
        assert_model::<Notification>();
        assert_model::<Message>();
        assert_model::<Referral>();
        assert_model::<UnknownMessage>();
    }
}
