//! The SmarterWX envelope: a batch of [`Notification`]s, each with its typed
//! [`Message`].

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::{Item, Referral};
use crate::error::Error;
use crate::read_error::{Positions, ReadError};
use crate::unreadable::Unreadable;
use crate::vendor::Vendor;
use crate::wire::{self, Tagged};

id_newtype! {
    /// A notification's unique ID (a UUID): deduplicate deliveries on it.
    NotificationId
}

/// One SmarterWX notification; a delivery carries an array of them.
///
/// On the wire: `{"uuid": .., "event": .., "timestamp": .., "message":
/// {..}}`, keys in any order; unknown keys are ignored. A `messageVersion`
/// beside `uuid` is kept in [`Notification::message_version`]; one inside
/// `message` stays in the message ([`Referral::message_version`]). Each is
/// written back where it came from.
///
/// Serializing writes the wire shape of what the model holds, so **a round
/// trip drops the members it ignored**: store the raw body when every byte
/// matters. [`drift`](super::drift) lists what was dropped.
///
/// Notifications and the referral model are `#[non_exhaustive]`, so that a
/// field the vendor adds is not a breaking release. To build one, for
/// instance to test your own handler, take a sample (feature `testing`:
/// `smarterwx::testing::sample`) or parse its JSON (one bare notification
/// is a body), as a delivery would be: see [`parse`](super::parse).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Notification {
    /// The notification's unique ID; resends of one notification share it.
    pub uuid: NotificationId,
    /// When the original event happened.
    pub timestamp: OffsetDateTime,
    /// The `messageVersion` sent beside `uuid` (for example `"2.1.0.0"`), if any.
    pub message_version: Option<String>,
    /// The typed message; its variant is the event.
    pub message: Message,
}

impl Notification {
    /// The wire `event` (`"referral:create"`, ...), also for unknown events.
    /// As an enum, to match on: `EventType::from(notification.event_type())`.
    pub fn event_type(&self) -> &str {
        self.message.tag()
    }

    /// The key to claim in an [idempotency store](crate::idempotency):
    /// `smarterwx:<uuid>`, a namespace no SmartComply key shares.
    pub fn idempotency_key(&self) -> String {
        VENDOR.key(self.uuid.as_str())
    }
}

/// The vendor: the namespace of SmarterWX idempotency keys, and its name
/// in spans.
pub(super) const VENDOR: Vendor = Vendor::SmarterWx;

impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::envelope::write(
            s,
            Some(&self.uuid),
            self.message_version.as_deref(),
            Some(&self.timestamp),
            &self.message,
        )
    }
}

impl<'de> Deserialize<'de> for Notification {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::envelope::read_full(d, |uuid, timestamp, message_version, message| {
            Notification {
                uuid,
                timestamp,
                message_version,
                message,
            }
        })
    }
}

tagged_union! {
    /// The typed `message` of a [`Notification`], one variant per event.
    ///
    /// On its own it is written as `{"event": .., "message": {..}}`.
    pub enum Message {
        tag:
            /// A SmarterWX event, as in the notification's `event`.
            EventType = "event",
        payload: "message",
        unknown: UnknownMessage,
        /// `referral:create`: an enquiry was referred to the utility.
        ///
        /// Boxed, so that a notification stays small whatever its event.
        ReferralCreate(Box<Referral>) = "referral:create",
        /// `referral:update`: a referral changed.
        ///
        /// Boxed, so that a notification stays small whatever its event.
        ReferralUpdate(Box<Referral>) = "referral:update",
    }
}

impl Message {
    /// The referral of `referral:create` and `referral:update`.
    pub fn referral(&self) -> Option<&Referral> {
        match self {
            Message::ReferralCreate(r) | Message::ReferralUpdate(r) => Some(r),
            Message::Unknown(_) => None,
        }
    }
}

/// A notification of an event this version of the crate does not know, kept
/// as sent so that it can be logged, stored or forwarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnknownMessage {
    /// The wire `event`.
    pub event: String,
    /// The raw `message`.
    pub message: serde_json::Value,
}

impl wire::Unknown for UnknownMessage {
    fn new(tag: String, raw: serde_json::Value) -> Self {
        UnknownMessage {
            event: tag,
            message: raw,
        }
    }

    fn tag(&self) -> &str {
        &self.event
    }

    fn raw(&self) -> &serde_json::Value {
        &self.message
    }
}

/// A body: an array of notifications, or one bare notification, read into
/// a `Vec<T>` with each notification made a `T`.
#[derive(Debug)]
pub(crate) struct Batch<T = Notification>(Vec<T>);

/// What a [`Batch`] holds: notifications, or [`Item`]s.
pub(crate) trait Element {
    /// One typed notification.
    fn typed(notification: Notification) -> Self;
}

impl Element for Notification {
    #[inline(always)]
    fn typed(notification: Notification) -> Self {
        notification
    }
}

impl Element for Item {
    #[inline(always)]
    fn typed(notification: Notification) -> Self {
        Item::Notification(notification)
    }
}

impl<'de, T: Element> Deserialize<'de> for Batch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BatchVisitor(PhantomData))
    }
}

struct BatchVisitor<T>(PhantomData<fn() -> T>);

impl<'de, T: Element> Visitor<'de> for BatchVisitor<T> {
    type Value = Batch<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of notifications or one notification object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch<T>, A::Error> {
        let mut batch = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(notification) = seq.next_element()? {
            batch.push(T::typed(notification));
        }
        Ok(Batch(batch))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Batch<T>, A::Error> {
        Notification::deserialize(MapAccessDeserializer::new(map)).map(|n| Batch(vec![T::typed(n)]))
    }
}

impl crate::trace::Described for Notification {
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span) {
        crate::trace::record(span, self.event_type(), self.uuid.as_str());
    }
}

/// The envelope's keys besides `event` and `message`.
impl wire::Envelope for Message {
    const ID_KEY: &'static str = "uuid";
    const TIME_KEY: &'static str = "timestamp";
    const VERSION_KEY: Option<&'static str> = Some("messageVersion");
}

/// A batch names, in a failure, the event of the first notification that
/// fails and the path to the failing field (`[1].message.Enquiry.digStartAt`).
impl wire::Decode for Batch {
    fn event_type(body: &[u8]) -> Option<String> {
        failing_event(body)
    }
}

/// A notification alone names its event in a failure.
impl wire::Decode for Notification {
    fn event_type(body: &[u8]) -> Option<String> {
        wire::peek_tag(body, Message::TAG_KEY)
    }
}

/// Parse a body in one pass, all or nothing.
pub(super) fn parse_batch(body: &[u8]) -> Result<Vec<Notification>, Error> {
    wire::decode_body::<Batch>(body).map(|Batch(batch)| batch)
}

/// Parse a body notification by notification: each one typed, or
/// unreadable with its raw JSON. A body that is not one well-formed JSON
/// array or object is an error, and so is one of more than `max`
/// notifications.
///
/// A body whose every notification reads takes the one-pass reader.
/// Otherwise the body is split into its notifications, counted, and each
/// is read on its own: what each costs depends on its own length, and the
/// positions of the unreadable ones in the body are found in one forward
/// pass, so that the whole is linear in the body's length.
#[inline]
pub(super) fn parse_each(body: &[u8], max: usize) -> Result<Vec<Item>, Error> {
    match wire::decode_fast::<Batch<Item>>(body) {
        Some(Batch(batch)) => at_most(max, batch),
        None => parse_each_slowly(body, max),
    }
}

/// `batch`, unless it holds more than `max` notifications.
#[inline]
pub(super) fn at_most<T>(max: usize, batch: Vec<T>) -> Result<Vec<T>, Error> {
    if batch.len() > max {
        Err(Error::TooManyNotifications { limit: max })
    } else {
        Ok(batch)
    }
}

/// The slow half of [`parse_each`]: the body split, and each notification
/// read on its own.
#[cold]
#[inline(never)]
fn parse_each_slowly(body: &[u8], max: usize) -> Result<Vec<Item>, Error> {
    let Some((elements, bare)) = split(body) else {
        // Not one well-formed array or object: the error of the whole.
        let batch = parse_batch(body)?;
        return at_most(max, batch.into_iter().map(Item::Notification).collect());
    };
    let elements = at_most(max, elements)?;
    let mut positions = Positions::new(body);
    let items = elements
        .into_iter()
        .enumerate()
        .map(|(index, raw)| {
            let text = raw.get();
            match wire::decode::<Notification>(text.as_bytes()) {
                Ok(notification) => Item::Notification(notification),
                Err(error) => {
                    let at = positions.at(offset_in(body, text));
                    let error = error.into_read_error().within(at, (!bare).then_some(index));
                    Item::Unreadable(unreadable(index, text, error))
                }
            }
        })
        .collect();
    Ok(items)
}

/// The raw JSON of each notification of `body`, as sent; empty unless the
/// body is one well-formed JSON array or object.
pub(super) fn raws(body: &[u8]) -> Vec<&str> {
    split(body)
        .map(|(elements, _)| elements.into_iter().map(RawValue::get).collect())
        .unwrap_or_default()
}

/// The notifications of `body` as raw JSON, each exactly as sent, and
/// whether the body is one bare notification object; `None` unless the
/// whole body is one syntactically valid JSON array or object.
pub(crate) fn split(body: &[u8]) -> Option<(Vec<&RawValue>, bool)> {
    match body.trim_ascii_start().first()? {
        b'{' => Some((vec![serde_json::from_slice::<&RawValue>(body).ok()?], true)),
        b'[' => {
            let mut elements = Vec::new();
            let mut de = serde_json::Deserializer::from_slice(body);
            de.deserialize_seq(ScanVisitor(&mut elements)).ok()?;
            de.end().ok()?;
            Some((elements, false))
        }
        _ => None,
    }
}

/// Notification `index` of a body, `raw` as sent, as [`Unreadable`] with
/// `error`: with its `uuid` and `event` when they can be read.
fn unreadable(index: usize, raw: &str, error: ReadError) -> Unreadable {
    let (uuid, event) = match wire::envelope::read_lenient::<Message>(raw.as_bytes()) {
        Some(envelope) => (envelope.id, envelope.tag),
        None => (None, None),
    };
    Unreadable::new(VENDOR, Some(index), uuid, event, raw, error)
}

/// The `event` of the notification a failed parse stopped at, if it has
/// one. Only used on the error path: the body is read again.
fn failing_event(body: &[u8]) -> Option<String> {
    let tag_key = Message::TAG_KEY;
    let start = body.len() - body.trim_ascii_start().len();
    match body.get(start)? {
        b'{' => wire::peek_tag(body, tag_key),
        b'[' => {
            let mut elements = Vec::new();
            let mut de = serde_json::Deserializer::from_slice(body);
            let _ = de.deserialize_seq(ScanVisitor(&mut elements));
            // The first complete element that is not a notification...
            for raw in &elements {
                if serde_json::from_str::<Notification>(raw.get()).is_err() {
                    return wire::peek_tag(raw.get().as_bytes(), tag_key);
                }
            }
            // ...or else the incomplete one after them (a syntax error).
            let tail = match elements.last() {
                Some(raw) => offset_in(body, raw.get()) + raw.get().len(),
                None => start + 1,
            };
            let rest = body.get(tail..)?.trim_ascii_start();
            let rest = rest.strip_prefix(b",").unwrap_or(rest);
            wire::peek_tag(rest, tag_key)
        }
        _ => None,
    }
}

/// Where `part`, a slice borrowed from `body`, starts in it.
fn offset_in(body: &[u8], part: &str) -> usize {
    let offset = (part.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    debug_assert!(offset + part.len() <= body.len());
    offset.min(body.len())
}

/// Collects the syntactically complete elements of an array, stopping at
/// the first error.
struct ScanVisitor<'a, 'de>(&'a mut Vec<&'de RawValue>);

impl<'de> Visitor<'de> for ScanVisitor<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            self.0.push(raw);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PayloadError;
    use crate::smarterwx::{ActivityCode, EnquirySource, LocationInRoad, ReferralStatus, parse};
    use serde_json::json;

    /// The example from the vendor page, compact, as sent.
    const SEED: &str = r#"[{"uuid":"fd07b9f3-dd85-4615-a1e8-8fced35ef2e5","event":"referral:create","timestamp":"2020-08-11T07:44:10Z","message":{"id":234,"createdAt":"2020-11-28 06:08:01.000Z","status":"WAITING","sequenceNumber":300077255,"Organisation":{"id":234,"name":"Melbourne Water","utilityId":80010},"Enquiry":{"id":234,"createdAt":"2020-11-28 06:08:00.000Z","jobNumber":40000255,"userReference":"Plan Ref AB/123","notes":"I am going to be digging a rather large hole.","digStartAt":"2020-11-29","digEndAt":"2020-11-30","isPlanningJob":false,"activityTypes":["MANUAL_EXCAVATION, HORIZ_BORING"],"activityTypesLocalized":["Manual Excavation, Horizontal Boring"],"authorityType":"Utility","authorityName":"Melbourne Water","locationTypes":["Road Reserve"],"locationsInRoad":["Road"],"isSandboxTest":false,"geometry":{},"Address":{"id":123,"line1":"613 King St","line2":"Suite 13","locality":"West Melbourne","state":"VIC","postcode":3003,"country":"AUS"},"User":{"id":234,"email":"as567sadf.asdf87asdf@relay.smarterwx.com","registeredEmail":"gary@smarterwx.com","firstName":"Ross","lastName":"Noble","phoneNumber":61444111222,"companyName":"Jimmy Diggers","Address":{"id":123,"line1":"613 King St","line2":"Suite 13","locality":"West Melbourne","state":"VIC","postcode":3003,"country":"AUS"}}}}}]"#;

    fn seed_value() -> serde_json::Value {
        serde_json::from_str(SEED).unwrap()
    }

    /// The seed's first notification with `edit` applied.
    fn seed_with(edit: impl FnOnce(&mut serde_json::Value)) -> serde_json::Value {
        let mut n = seed_value()[0].take();
        edit(&mut n);
        n
    }

    fn to_body(value: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(value).unwrap()
    }

    #[test]
    fn every_fixture_takes_the_fast_reader_and_agrees_with_serde_json() {
        let rewrite = |body: &[u8]| serde_json::to_vec(&parse(body).unwrap()).unwrap();
        assert_eq!(
            crate::wire::fixtures_take_the_fast_reader::<Batch>("smarterwx", rewrite),
            5
        );
        assert!(crate::wire::assert_agrees::<Batch>(SEED.as_bytes()));
    }

    #[test]
    fn round_trip_is_the_identity_and_keeps_the_wire_shape() {
        let batch = parse(SEED.as_bytes()).unwrap();
        let written = serde_json::to_vec(&batch).unwrap();
        assert_eq!(parse(&written).unwrap(), batch);
        let v: serde_json::Value = serde_json::from_slice(&written).unwrap();
        let m = &v[0]["message"];
        assert_eq!(v[0]["event"], "referral:create");
        assert_eq!(v[0]["uuid"], "fd07b9f3-dd85-4615-a1e8-8fced35ef2e5");
        assert_eq!(m["createdAt"], "2020-11-28T06:08:01Z");
        assert_eq!(m["Organisation"]["utilityId"], 80010);
        assert_eq!(m["Enquiry"]["Address"]["postcode"], "3003");
        assert_eq!(m["Enquiry"]["User"]["phoneNumber"], "61444111222");
        assert_eq!(m["Enquiry"]["User"]["Address"]["line2"], "Suite 13");
        assert_eq!(m["Enquiry"]["digStartAt"], "2020-11-29");
        assert_eq!(m["Enquiry"]["locationTypes"], json!(["Road Reserve"]));
        assert_eq!(m["Enquiry"]["geometry"], json!({}));
    }

    #[test]
    fn string_postcode_and_phone_keep_leading_zeros() {
        let n = seed_with(|n| {
            let e = &mut n["message"]["Enquiry"];
            e["Address"]["postcode"] = json!("0800");
            e["User"]["phoneNumber"] = json!("0412345678");
            e["User"]["Address"]["postcode"] = json!("0800");
        });
        let batch = parse(&to_body(&json!([n]))).unwrap();
        let e = &batch[0].message.referral().unwrap().enquiry;
        assert_eq!(e.address.postcode, "0800");
        assert_eq!(e.user.phone_number.as_deref(), Some("0412345678"));
        assert_eq!(e.user.address.as_ref().unwrap().postcode, "0800");
        let again = parse(&serde_json::to_vec(&batch).unwrap()).unwrap();
        assert_eq!(again, batch);
    }

    #[test]
    fn nulls_and_missing_optionals() {
        let n = seed_with(|n| {
            let e = &mut n["message"]["Enquiry"];
            e["userReference"] = json!(null);
            e["notes"] = json!(null);
            e["Address"]["line2"] = json!(null);
            e["Address"].as_object_mut().unwrap().remove("id");
            e.as_object_mut().unwrap().remove("geometry");
            let u = &mut e["User"];
            for key in ["registeredEmail", "firstName", "phoneNumber", "companyName"] {
                u[key] = json!(null);
            }
            u.as_object_mut().unwrap().remove("lastName");
            u["Address"] = json!(null);
        });
        let batch = parse(&to_body(&n)).unwrap();
        let e = &batch[0].message.referral().unwrap().enquiry;
        assert_eq!(e.user_reference, None);
        assert_eq!(e.notes, None);
        assert_eq!(e.address.line2, None);
        assert_eq!(e.address.id, None);
        assert_eq!(e.geometry, serde_json::Value::Null);
        assert_eq!(e.user.registered_email, None);
        assert_eq!(e.user.first_name, None);
        assert_eq!(e.user.last_name, None);
        assert_eq!(e.user.phone_number, None);
        assert_eq!(e.user.company_name, None);
        assert_eq!(e.user.address, None);
        assert_eq!(parse(&serde_json::to_vec(&batch).unwrap()).unwrap(), batch);
    }

    #[test]
    fn newer_fields_and_geojson() {
        let n = seed_with(|n| {
            let m = &mut n["message"];
            m["messageVersion"] = json!("2.1.0.0");
            m["status"] = json!("ACKNOWLEDGED");
            let e = &mut m["Enquiry"];
            e["projectReference"] = json!("PRJ-9");
            e["source"] = json!("API");
            e["geometry"] = json!({"type": "Point", "coordinates": [144.95, -37.81]});
            e["locationsInRoad"] = json!(["Footpath", "Median"]);
            e["activityTypes"] = json!(["VACUUM_EXCAVATION", " ,X_RAY, "]);
        });
        let batch = parse(&to_body(&json!([n]))).unwrap();
        let r = batch[0].message.referral().unwrap();
        assert_eq!(r.message_version.as_deref(), Some("2.1.0.0"));
        assert_eq!(r.status, ReferralStatus::Unknown("ACKNOWLEDGED".into()));
        let e = &r.enquiry;
        assert_eq!(e.project_reference.as_deref(), Some("PRJ-9"));
        assert_eq!(e.source, Some(EnquirySource::Api));
        assert_eq!(e.geometry["coordinates"], json!([144.95, -37.81]));
        assert_eq!(
            e.locations_in_road,
            [
                LocationInRoad::Footpath,
                LocationInRoad::Unknown("Median".into())
            ]
        );
        assert_eq!(
            e.activities()
                .map(|a| a.as_str().to_owned())
                .collect::<Vec<_>>(),
            ["VACUUM_EXCAVATION", "X_RAY"]
        );
        assert_eq!(
            e.activities().collect::<Vec<_>>(),
            [
                ActivityCode::VacuumExcavation,
                ActivityCode::Unknown("X_RAY".into())
            ]
        );
        assert_eq!(parse(&serde_json::to_vec(&batch).unwrap()).unwrap(), batch);
    }

    #[test]
    fn message_version_beside_uuid_is_kept_there() {
        // Before `uuid`, and after `message`, which takes the buffered path.
        for n in [
            seed_with(|n| n["messageVersion"] = json!("2.1.0.0")),
            json!({"message": seed_value()[0]["message"], "timestamp": "2020-08-11T07:44:10Z",
                   "event": "referral:create", "messageVersion": "2.1.0.0",
                   "uuid": "fd07b9f3-dd85-4615-a1e8-8fced35ef2e5"}),
        ] {
            let body = to_body(&json!([n]));
            assert!(wire::assert_agrees::<Batch>(&body), "gave up on {n}");
            let batch = parse(&body).unwrap();
            assert_eq!(batch[0].message_version.as_deref(), Some("2.1.0.0"));
            assert_eq!(batch[0].message.referral().unwrap().message_version, None);
            assert_eq!(
                batch,
                parse(SEED.as_bytes())
                    .map(|mut b| {
                        b[0].message_version = Some("2.1.0.0".into());
                        b
                    })
                    .unwrap()
            );
            let written = serde_json::to_value(&batch).unwrap();
            assert_eq!(written[0]["messageVersion"], "2.1.0.0");
            assert!(written[0]["message"].get("messageVersion").is_none());
        }
        // `null` is none; the message alone has no place for it.
        let batch = parse(&to_body(&seed_with(|n| n["messageVersion"] = json!(null)))).unwrap();
        assert_eq!(batch[0].message_version, None);
        let alone = serde_json::to_value(&batch[0].message).unwrap();
        assert!(alone.get("messageVersion").is_none());
        // Sent twice, or not as text: that notification does not read.
        let twice = SEED.replacen(
            r#""uuid""#,
            r#""messageVersion":"1","messageVersion":"2","uuid""#,
            1,
        );
        let e = payload_error(twice.as_bytes());
        assert!(
            e.message().contains("duplicate field `messageVersion`"),
            "{e}"
        );
        let e = payload_error(&to_body(&seed_with(|n| n["messageVersion"] = json!(2))));
        assert_eq!(e.path(), Some("messageVersion"));
    }

    #[test]
    fn empty_array_bare_object_and_many() {
        assert_eq!(parse(b"[]").unwrap(), []);
        assert_eq!(parse(b" \n[ ] ").unwrap(), []);
        let bare = parse(&to_body(&seed_value()[0])).unwrap();
        assert_eq!(bare, parse(SEED.as_bytes()).unwrap());
        let update = seed_with(|n| {
            n["event"] = json!("referral:update");
            n["uuid"] = json!("u-2");
        });
        let batch = parse(&to_body(&json!([seed_value()[0], update]))).unwrap();
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[1].uuid, "u-2");
        assert!(matches!(batch[1].message, Message::ReferralUpdate(_)));
    }

    #[test]
    fn keys_in_any_order() {
        let n = seed_value()[0].take();
        let reordered = json!({
            "message": n["message"], "extra": {"x": [1]}, "timestamp": n["timestamp"],
            "event": n["event"], "uuid": n["uuid"]
        });
        // serde_json's map keeps keys sorted, which puts `message` before
        // `event`: the buffered path.
        assert_eq!(
            parse(&to_body(&json!([reordered]))).unwrap(),
            parse(SEED.as_bytes()).unwrap()
        );
    }

    #[test]
    fn unknown_event_keeps_name_and_raw_message() {
        let raw = json!([{"uuid": "u-9", "event": "enquiry:create", "timestamp": "2023-11-20T01:00:00Z",
                          "message": {"id": 7, "anything": [null, {"a": 1.5}]}}]);
        let batch = parse(&to_body(&raw)).unwrap();
        let n = &batch[0];
        assert_eq!(n.event_type(), "enquiry:create");
        assert_eq!(
            EventType::from(n.message.event_type()),
            EventType::Unknown("enquiry:create".into())
        );
        assert_eq!(n.message.referral(), None);
        let Message::Unknown(u) = &n.message else {
            panic!("{n:?}")
        };
        assert_eq!(u.event, "enquiry:create");
        assert_eq!(u.message, json!({"id": 7, "anything": [null, {"a": 1.5}]}));
        assert_eq!(serde_json::to_value(&batch).unwrap(), raw);
    }

    #[test]
    fn message_alone_is_adjacently_tagged() {
        let batch = parse(SEED.as_bytes()).unwrap();
        let written = serde_json::to_value(&batch[0].message).unwrap();
        assert_eq!(written["event"], "referral:create");
        assert!(written.get("uuid").is_none());
        assert_eq!(
            serde_json::from_value::<Message>(written).unwrap(),
            batch[0].message
        );
        assert_eq!(
            EventType::ALL,
            [EventType::ReferralCreate, EventType::ReferralUpdate]
        );
    }

    fn payload_error(body: &[u8]) -> PayloadError {
        match parse(body) {
            Err(Error::Payload(e)) => e,
            other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(body)),
        }
    }

    #[test]
    fn a_bad_element_is_named_by_its_event() {
        let bad = seed_with(|n| {
            n["event"] = json!("referral:update");
            n["message"]["Enquiry"]["digStartAt"] = json!("29/11/2020");
        });
        let body = to_body(&json!([seed_value()[0], bad]));
        let e = payload_error(&body);
        assert_eq!(e.event_type(), Some("referral:update"));
        assert_eq!(e.path(), Some("[1].message.Enquiry.digStartAt"));
        let shown = e.to_string();
        assert!(
            shown.contains("for event type `referral:update`") && shown.contains("29/11/2020"),
            "{shown}"
        );

        let bad = seed_with(|n| n["message"]["Organisation"]["utilityId"] = json!("x"));
        let e = payload_error(&to_body(&bad));
        assert_eq!(e.event_type(), Some("referral:create"));
        assert_eq!(e.path(), Some("message.Organisation.utilityId"));
        assert!(e.message().contains("invalid type: string"), "{e}");

        let missing = seed_with(|n| {
            n["event"] = json!("referral:update");
            n.as_object_mut().unwrap().remove("uuid");
        });
        let e = payload_error(&to_body(&json!([missing])));
        assert_eq!(e.event_type(), Some("referral:update"));
        assert!(e.message().contains("missing field `uuid`"), "{e}");
    }

    #[test]
    fn a_truncated_element_is_named_by_its_event() {
        let mut body = to_body(&json!([
            seed_value()[0],
            seed_with(|n| {
                n["event"] = json!("referral:update");
            })
        ]));
        body.truncate(body.len() - 40);
        let e = payload_error(&body);
        assert_eq!(e.event_type(), Some("referral:update"));
        assert_eq!(e.category(), crate::Category::Eof);
        let e = payload_error(br#"[{"event":"referral:create","uuid":tru}]"#);
        assert_eq!(e.event_type(), Some("referral:create"));
        assert_eq!(e.category(), crate::Category::Syntax);
    }

    /// Each notification of `body`, read by [`parse_each`] under a cap that
    /// never refuses: typed, or unreadable.
    fn each(body: &[u8]) -> Vec<Result<Notification, Unreadable>> {
        parse_each(body, usize::MAX)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
            .into_iter()
            .map(|item| match item {
                Item::Notification(n) => Ok(n),
                Item::Unreadable(u) => Err(u),
                Item::Stale(s) => panic!("no window, yet {s:?}"),
            })
            .collect()
    }

    #[test]
    fn each_takes_the_one_pass_reader_for_every_fixture() {
        let dir = format!("{}/fixtures/smarterwx", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let body = std::fs::read(entry.unwrap().path()).unwrap();
            let why = wire::why_fast_reader_gives_up::<Batch<Item>>(&body);
            assert_eq!(why, None, "{}", String::from_utf8_lossy(&body));
            let typed = parse(&body).unwrap();
            let want: Vec<_> = typed.iter().cloned().map(Ok).collect();
            assert_eq!(each(&body), want);
            // The slow path agrees with the fast one.
            let slow = parse_each_slowly(&body, usize::MAX).unwrap();
            let want: Vec<_> = typed.into_iter().map(Item::Notification).collect();
            assert_eq!(slow, want);
        }
    }

    #[test]
    fn each_error_is_the_strict_error_of_that_notification() {
        let bad = |edit: fn(&mut serde_json::Value)| seed_with(edit);
        let bodies = [
            // Compact, the bad one second.
            to_body(&json!([
                seed_value()[0],
                bad(|n| n["message"]["id"] = json!("x"))
            ])),
            // Pretty, so that lines and columns move.
            serde_json::to_vec_pretty(&json!([
                seed_value()[0],
                bad(|n| n["message"]["Enquiry"]["digStartAt"] = json!("29/11/2020"))
            ]))
            .unwrap(),
            // A missing field, reported at the end of its object.
            serde_json::to_vec_pretty(&json!([
                seed_value()[0],
                bad(|n| {
                    n.as_object_mut().unwrap().remove("timestamp");
                })
            ]))
            .unwrap(),
            // A bare object, after white space.
            format!(
                "  \n {}",
                serde_json::to_string_pretty(&bad(|n| n["message"]["status"] = json!(1))).unwrap()
            )
            .into_bytes(),
            // Not a notification at all, on the first line.
            br#"[{"a":1},  7]"#.to_vec(),
        ];
        for body in bodies {
            let strict = payload_error(&body);
            let all = each(&body);
            let first = all
                .iter()
                .find_map(|r| r.as_ref().err())
                .unwrap_or_else(|| panic!("{all:?}"));
            assert_eq!(
                first.error(),
                strict.read_error(),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn each_keeps_the_others_and_the_raw_bytes() {
        let body = format!(
            "[ {},\n  {} ,{}\n]",
            SEED.trim_start_matches('[').trim_end_matches(']'),
            r#"{"event":"referral:update","uuid":"u-2","message":{"id":"x"},"timestamp":"2020-08-11T07:44:10Z"}"#,
            SEED.trim_start_matches('[').trim_end_matches(']'),
        );
        let all = each(body.as_bytes());
        assert_eq!(all.len(), 3);
        assert_eq!(all[0], Ok(parse(SEED.as_bytes()).unwrap().remove(0)));
        assert_eq!(all[2], all[0]);
        let u = all[1].as_ref().unwrap_err();
        assert_eq!(u.index(), Some(1));
        assert_eq!(u.id(), Some("u-2"));
        assert_eq!(u.event_type(), Some("referral:update"));
        assert_eq!(u.idempotency_key(), "smarterwx:u-2");
        assert!(body.contains(&format!("\n  {} ,", u.raw())), "{}", u.raw());
        assert_eq!(u.error().path(), Some("[1].message.id"));
        // Right after `"x"`, counted from the start of the body.
        assert_eq!((u.error().line(), u.error().column()), (Some(2), Some(61)));
        assert_eq!(u.error(), payload_error(body.as_bytes()).read_error());
    }

    #[test]
    fn positions_of_a_large_batch_cost_one_reading_and_are_right() {
        // 30 000 notifications that do not read, on lines and columns of
        // every kind; one in 1 000 reads.
        let good = SEED.trim_start_matches('[').trim_end_matches(']');
        let mut body = String::from("[");
        for i in 0..30_000 {
            if i > 0 {
                body.push_str(if i % 3 == 0 { ",\n  " } else { "," });
            }
            body.push_str(match i % 1000 {
                0 => good,
                1 => r#"{"uuid":"u","event":"referral:update","timestamp":"2020-08-11T07:44:10Z","message":{"id":"x"}}"#,
                _ => "{}",
            });
        }
        body.push_str("\n]");
        let before = crate::read_error::scanned::get();
        let all = parse_each(body.as_bytes(), usize::MAX).unwrap();
        let scanned = crate::read_error::scanned::get() - before;
        // Quadratic, it would be about 30 000 times half the body.
        assert!(
            scanned <= body.len(),
            "{scanned} bytes read for {}",
            body.len()
        );
        assert_eq!(all.len(), 30_000);
        let mut unreadable = 0;
        let raws = raws(body.as_bytes());
        for (index, item) in all.iter().enumerate() {
            let Item::Unreadable(u) = item else {
                assert_eq!(index % 1000, 0, "{item:?}");
                continue;
            };
            unreadable += 1;
            assert_eq!(u.index(), Some(index));
            if index % 97 != 0 && index % 1000 != 1 {
                continue;
            }
            // The reference, for one in about 100: the notification's own
            // error, moved by a reading of the body from its start.
            let raw = raws[index];
            let alone = wire::decode::<Notification>(raw.as_bytes()).unwrap_err();
            let start = offset_in(body.as_bytes(), raw);
            let before = &body.as_bytes()[..start];
            let newlines = before.iter().filter(|&&b| b == b'\n').count();
            let line_start = before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |n| n + 1);
            let line = alone.line().unwrap() + newlines;
            let column = match alone.line() {
                Some(1) => alone.column().unwrap() + start - line_start,
                _ => alone.column().unwrap(),
            };
            assert_eq!(
                (u.error().line(), u.error().column()),
                (Some(line), Some(column)),
                "#{index}"
            );
            if index % 1000 == 1 {
                assert_eq!(u.error().path(), Some(&*format!("[{index}].message.id")));
            }
        }
        assert_eq!(unreadable, 29_970);
    }

    #[test]
    fn unreadable_is_one_pointer_and_shareable() {
        fn assert_owned<T: Clone + PartialEq + Send + Sync + 'static>() {}
        assert_owned::<Unreadable>();
        // Boxed, so that typed notifications pay nothing for it in a batch.
        assert_eq!(
            std::mem::size_of::<Unreadable>(),
            std::mem::size_of::<usize>()
        );
        assert!(std::mem::size_of::<Error>() <= 96);
    }

    #[test]
    fn lenient_envelope_trusts_no_type() {
        for (element, uuid, event) in [
            (
                r#"{"uuid":5,"event":"referral:create"}"#,
                None,
                Some("referral:create"),
            ),
            (r#"{"uuid":"a","uuid":"a","event":null}"#, None, None),
            (
                r#"{"uuid":"a\u0000b","event":["x"],"message":{"uuid":"no"}}"#,
                Some("a\0b"),
                None,
            ),
            (r#"[1]"#, None, None),
            (r#""uuid""#, None, None),
        ] {
            let body = format!("[{element}]");
            let all = each(body.as_bytes());
            let u = all[0].as_ref().unwrap_err();
            assert_eq!((u.id(), u.event_type()), (uuid, event), "{element}");
            assert_eq!(u.raw(), element);
            // A NUL in the id, or no id: keyed by a digest.
            let form = match uuid {
                Some(_) => "smarterwx:id-sha256:",
                None => "smarterwx:sha256:",
            };
            assert!(u.idempotency_key().starts_with(form), "{element}");
        }
    }

    #[test]
    fn each_refuses_what_is_not_an_array_or_object() {
        for body in [
            &b""[..],
            b"null",
            b"1",
            b"\"x\"",
            b"[",
            b"[{}",
            b"[] x",
            b"{} {}",
            b"\xff",
        ] {
            assert_eq!(
                parse_each(body, usize::MAX).unwrap_err().to_string(),
                parse(body).unwrap_err().to_string()
            );
        }
        assert_eq!(each(b" [ ] "), []);
        // Nesting past 128 levels is refused as before, for that one
        // notification.
        let deep = format!(
            r#"{{"uuid":"u","event":"enquiry:create","timestamp":"2023-11-20T01:00:00Z","message":{}{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let body = format!(
            "[{deep},{}]",
            SEED.trim_start_matches('[').trim_end_matches(']')
        );
        let all = each(body.as_bytes());
        let u = all[0].as_ref().unwrap_err();
        assert_eq!(u.error().category(), crate::Category::Syntax);
        assert!(u.error().message().contains("recursion limit"), "{u}");
        assert_eq!(u.raw(), deep);
        assert_eq!(u.id(), Some("u"));
        assert!(all[1].is_ok());
        let shown = format!("{u} {u:?}");
        assert!(shown.len() < 2048, "{shown}");
    }

    #[test]
    fn hostile_bodies_are_payload_errors() {
        for body in [
            &b""[..],
            b"   ",
            b"null",
            b"1",
            b"\"x\"",
            b"[1]",
            b"[null]",
            b"[{}]",
            b"{}",
            b"[",
            b"[{",
            b"[]]",
            b"[] x",
            &SEED.as_bytes()[..SEED.len() / 2],
            b"[\"\xff\"]",
            b"\xff\xfe",
            b"[{\"event\":\"\xff\"}]",
        ] {
            let e = payload_error(body);
            assert!(e.to_string().starts_with("invalid webhook payload"), "{e}");
        }
        let e = payload_error(b"null");
        assert!(
            e.message()
                .contains("an array of notifications or one notification object"),
            "{e}"
        );
        assert_eq!(payload_error(b"[1]").event_type(), None);
        assert_eq!(payload_error(b"").category(), crate::Category::Eof);
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        payload_error(deep.as_bytes());
        let deep = format!("{}{}", "{\"a\":[".repeat(10_000), "]}".repeat(10_000));
        payload_error(deep.as_bytes());
    }
}
