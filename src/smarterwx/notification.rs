//! The SmarterWX envelope: a batch of [`Notification`]s, each with its typed
//! [`Message`].

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use super::Referral;
use crate::Error;
use crate::wire::{self, Tagged};

id_newtype! {
    /// A notification's unique ID (a UUID): deduplicate deliveries on it.
    NotificationId
}

/// One SmarterWX notification; a delivery carries an array of them.
///
/// On the wire: `{"uuid": .., "event": .., "timestamp": .., "message":
/// {..}}`, keys in any order; unknown keys are ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The notification's unique ID; resends of one notification share it.
    pub uuid: NotificationId,
    /// When the original event happened.
    pub timestamp: OffsetDateTime,
    /// The typed message; its variant is the event.
    pub message: Message,
}

impl Notification {
    /// The wire `event` (`"referral:create"`, ...), also for unknown events.
    pub fn event_type(&self) -> &str {
        self.message.tag()
    }

    /// The key to claim in an [idempotency store](crate::idempotency):
    /// `smarterwx:<uuid>`, a namespace no SmartComply key shares.
    pub fn idempotency_key(&self) -> String {
        crate::idempotency::key("smarterwx", self.uuid.as_str())
    }
}

impl Serialize for Notification {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::envelope::write(s, Some(&self.uuid), Some(&self.timestamp), &self.message)
    }
}

impl<'de> Deserialize<'de> for Notification {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::envelope::read_full(d, |uuid, timestamp, message| Notification {
            uuid,
            timestamp,
            message,
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
        id: "uuid",
        time: "timestamp",
        unknown: UnknownMessage,
        /// `referral:create`: an enquiry was referred to the utility.
        ReferralCreate(Referral) = "referral:create",
        /// `referral:update`: a referral changed.
        ReferralUpdate(Referral) = "referral:update",
    }
}

impl Message {
    /// The wire `event` of this message.
    pub fn event_type(&self) -> &str {
        self.tag()
    }

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

/// A body: an array of notifications, or one bare notification.
#[derive(Debug)]
pub(crate) struct Batch(Vec<Notification>);

impl<'de> Deserialize<'de> for Batch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BatchVisitor)
    }
}

struct BatchVisitor;

impl<'de> Visitor<'de> for BatchVisitor {
    type Value = Batch;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of notifications or one notification object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Batch, A::Error> {
        let mut batch = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(notification) = seq.next_element()? {
            batch.push(notification);
        }
        Ok(Batch(batch))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Batch, A::Error> {
        Notification::deserialize(MapAccessDeserializer::new(map)).map(|n| Batch(vec![n]))
    }
}

/// Parse a body in one pass; on failure name the event of the first
/// notification that fails and the path to the failing field
/// (`[1].message.Enquiry.digStartAt`).
pub(super) fn parse_batch(body: &[u8]) -> Result<Vec<Notification>, Error> {
    wire::from_body::<Batch>(body, failing_event).map(|Batch(batch)| batch)
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
    use crate::PayloadError;
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
            e.activity_codes().collect::<Vec<_>>(),
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
            n.message.kind(),
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
        assert_eq!(EventType::KNOWN, ["referral:create", "referral:update"]);
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
