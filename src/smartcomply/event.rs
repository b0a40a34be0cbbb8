//! The SmartComply envelope: one [`Event`] per delivery, its typed
//! [`EventData`], and the synthetic `webhook.test` event.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use super::*;
use crate::error::PayloadError;
use crate::read_error::ReadError;
use crate::unreadable::Unreadable;
use crate::vendor::Vendor;
use crate::wire::{self, Tagged};

id_newtype! {
    /// An event's unique ID (`evt_...`): deduplicate deliveries on it.
    EventId
}

/// One SmartComply webhook delivery.
///
/// On the wire: `{"id": .., "type": .., "created_at": .., "data": {..}}`,
/// keys in any order; unknown keys are ignored.
///
/// Serializing writes the wire shape of what the model holds, so **a round
/// trip drops the members it ignored**: store the raw body when every byte
/// matters. [`drift`](super::drift) lists what was dropped.
///
/// Events and their data structs are `#[non_exhaustive]`, so that a field
/// the vendor adds is not a breaking release. To build one, for instance
/// to test your own handler, take a sample (feature `testing`:
/// `smartcomply::testing::sample`) or parse its JSON, as a delivery would
/// be:
///
/// ```
/// use utility_webhooks::smartcomply::{self, EventData};
///
/// let event = smartcomply::parse(br#"{"id":"evt_test_1","type":"assembly.due_soon",
///   "created_at":"2026-04-05T08:00:00Z","data":{"assembly_id":"asm_1","facility_id":"fac_1",
///   "due_date":"2026-05-05","days_remaining":30,"assembly_type":"RPZ"}}"#)?;
/// let EventData::AssemblyDueSoon(due) = &event.data else { unreachable!() };
/// assert_eq!(due.days_remaining, 30);
/// # Ok::<(), utility_webhooks::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The event's unique ID; retries of one delivery share it.
    pub id: EventId,
    /// When SmartComply created the event.
    pub created_at: OffsetDateTime,
    /// The typed payload; its variant is the event type.
    pub data: EventData,
}

impl Event {
    /// The wire `type` (`"test.submitted"`, ...), also for unknown events.
    /// As an enum, to match on: `EventType::from(event.event_type())`.
    pub fn event_type(&self) -> &str {
        self.data.tag()
    }

    /// The key to claim in an [idempotency store](crate::idempotency):
    /// `smartcomply:<id>`, a namespace no SmarterWX key shares.
    pub fn idempotency_key(&self) -> String {
        VENDOR.key(self.id.as_str())
    }
}

/// The vendor: the namespace of SmartComply idempotency keys, and its
/// name in spans.
pub(super) const VENDOR: Vendor = Vendor::SmartComply;

/// The `id`, `type` and raw JSON of `body`, when it is one JSON object
/// whose `id` and `type` are strings, whose `created_at` is an instant,
/// and that has `data`, each sent once: what an [`Unreadable`] event
/// keeps.
fn envelope(body: &[u8]) -> Option<(String, String, &str)> {
    let raw = std::str::from_utf8(body).ok()?;
    let envelope = wire::envelope::read_lenient::<EventData>(body)?;
    envelope.time?;
    envelope.payload?;
    Some((envelope.id?, envelope.tag?, raw))
}

impl crate::trace::Described for Event {
    #[cfg(feature = "tracing")]
    fn describe(&self, span: &tracing::Span) {
        crate::trace::record(span, self.event_type(), self.id.as_str());
    }
}

/// The envelope's keys besides `type` and `data`.
impl wire::Envelope for EventData {
    const ID_KEY: &'static str = "id";
    const TIME_KEY: &'static str = "created_at";
}

/// An event names its type in a failure, and keeps its envelope and raw
/// JSON when only its `data` does not fit the model.
impl wire::Decode for Event {
    fn event_type(body: &[u8]) -> Option<String> {
        wire::peek_tag(body, EventData::TAG_KEY)
    }

    fn with_context(body: &[u8], error: ReadError) -> PayloadError {
        match envelope(body) {
            Some((id, tag, raw)) => PayloadError::from_unreadable(Unreadable::new(
                VENDOR,
                None,
                Some(id),
                Some(tag),
                raw,
                error,
            )),
            None => error.into(),
        }
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        wire::envelope::write(s, Some(&self.id), None, Some(&self.created_at), &self.data)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        wire::envelope::read_full(d, |id, created_at, _, data| Event {
            id,
            created_at,
            data,
        })
    }
}

tagged_union! {
    /// The typed `data` of an [`Event`], one variant per event type.
    ///
    /// On its own it is written as `{"type": .., "data": {..}}`.
    pub enum EventData {
        tag:
            /// A SmartComply event type, as in the envelope's `type`.
            EventType = "type",
        payload: "data",
        unknown: UnknownEvent,
        /// `test.submitted`: a backflow test report was submitted.
        TestSubmitted(TestSubmitted) = "test.submitted",
        /// `test.failed`: a backflow test report recorded a failure.
        TestFailed(TestFailed) = "test.failed",
        /// `assembly.due_soon`: an assembly's annual test is due in 30 days.
        AssemblyDueSoon(AssemblyDueSoon) = "assembly.due_soon",
        /// `iu.exceedance_detected`: a sample exceeded a permit limit.
        IuExceedanceDetected(IuExceedanceDetected) = "iu.exceedance_detected",
        /// `permit.expiring`: a discharge permit expires in 60 days.
        PermitExpiring(PermitExpiring) = "permit.expiring",
        /// `manifest.filed`: a grease-trap pump-out manifest was filed.
        ManifestFiled(ManifestFiled) = "manifest.filed",
        /// `notice.created`: a violation notice was issued.
        NoticeCreated(NoticeCreated) = "notice.created",
        /// `inspection.completed`: a field inspection was marked complete.
        InspectionCompleted(InspectionCompleted) = "inspection.completed",
        /// `report.certified`: a compliance report was certified.
        ReportCertified(ReportCertified) = "report.certified",
        /// `partner.approved`: a partner integration was approved.
        PartnerApproved(PartnerApproved) = "partner.approved",
        /// `partner.application_submitted`: a partner applied.
        PartnerApplicationSubmitted(PartnerApplicationSubmitted) = "partner.application_submitted",
        /// `webhook.test`: a synthetic test event sent from the dashboard.
        WebhookTest(WebhookTest) = "webhook.test",
    }
}

/// An event of a type this version of the crate does not know, kept as
/// sent so that it can be logged, stored or forwarded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UnknownEvent {
    /// The wire `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The raw `data`.
    pub data: serde_json::Value,
}

impl wire::Unknown for UnknownEvent {
    fn new(tag: String, raw: serde_json::Value) -> Self {
        UnknownEvent {
            event_type: tag,
            data: raw,
        }
    }

    fn tag(&self) -> &str {
        &self.event_type
    }

    fn raw(&self) -> &serde_json::Value {
        &self.data
    }
}

/// `webhook.test`: a synthetic event sent from the dashboard or the API to
/// check a receiver; never subscribable.
///
/// A test ping never fails to parse for a field it leaves out: `test`,
/// `note` and `sent_at` may each be missing (or `null`, for `note` and
/// `sent_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebhookTest {
    /// Always `true` for test events; `true` when not sent.
    #[serde(default = "always")]
    pub test: bool,
    /// A human-readable note from SmartComply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the test was sent, if the ping says.
    #[serde(
        with = "wire::OptInstant",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sent_at: Option<OffsetDateTime>,
}

/// `WebhookTest::test` when the ping leaves it out.
fn always() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smartcomply::parse;
    use serde_json::json;

    fn body(value: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&value).unwrap()
    }

    const TEST: &str = r#"{"test": true, "sent_at": "2026-05-05T14:00:00Z"}"#;

    #[test]
    fn every_fixture_takes_the_fast_reader_and_agrees_with_serde_json() {
        let rewrite = |body: &[u8]| serde_json::to_vec(&parse(body).unwrap()).unwrap();
        assert_eq!(
            crate::wire::fixtures_take_the_fast_reader::<Event>("smartcomply", rewrite),
            12
        );
        // Data before type takes the buffered path, still on the fast reader.
        let data_first = format!(
            r#"{{"data":{TEST},"created_at":"2026-05-05T14:00:00Z","type":"webhook.test","id":"evt_1"}}"#
        );
        assert!(crate::wire::assert_agrees::<Event>(data_first.as_bytes()));
    }

    #[test]
    fn keys_in_any_order_and_unknown_keys_ignored() {
        let in_order = format!(
            r#"{{"id":"evt_1","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{TEST}}}"#
        );
        let data_first = format!(
            r#"{{"data":{TEST},"extra":[1,{{"a":null}}],"created_at":"2026-05-05T14:00:00Z","type":"webhook.test","id":"evt_1"}}"#
        );
        let a = parse(in_order.as_bytes()).unwrap();
        let b = parse(data_first.as_bytes()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.event_type(), "webhook.test");
        let EventData::WebhookTest(t) = &a.data else {
            panic!("{a:?}")
        };
        assert!(t.test);
        assert_eq!(t.note, None);
    }

    #[test]
    fn a_test_ping_may_leave_out_test_note_and_sent_at() {
        let body = |data: &str| {
            format!(
                r#"{{"id":"evt_t","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}}}"#
            )
        };
        for data in ["{}", r#"{"note":null,"sent_at":null}"#, r#"{"test":true}"#] {
            let body = body(data);
            assert!(
                crate::wire::assert_agrees::<Event>(body.as_bytes()),
                "{data}"
            );
            let event = parse(body.as_bytes()).unwrap();
            let EventData::WebhookTest(t) = &event.data else {
                panic!("{event:?}")
            };
            assert_eq!(
                t,
                &WebhookTest {
                    test: true,
                    note: None,
                    sent_at: None
                }
            );
            let written = serde_json::to_value(&event).unwrap();
            assert_eq!(written["data"], json!({"test": true}));
        }
        let event =
            parse(body(r#"{"test":false,"sent_at":"2026-05-05T14:00:00Z"}"#).as_bytes()).unwrap();
        let EventData::WebhookTest(t) = &event.data else {
            panic!("{event:?}")
        };
        assert!(!t.test);
        assert_eq!(
            t.sent_at,
            Some(time::macros::datetime!(2026-05-05 14:00:00 UTC))
        );
    }

    #[test]
    fn unknown_type_keeps_type_and_data_and_round_trips() {
        let raw = json!({"id": "evt_2", "type": "meter.read", "created_at": "2026-05-05T14:00:00Z", "data": {"reading": 12.5, "tags": ["a"]}});
        let event = parse(&body(raw.clone())).unwrap();
        assert_eq!(event.event_type(), "meter.read");
        let EventData::Unknown(u) = &event.data else {
            panic!("{event:?}")
        };
        assert_eq!(u.data, json!({"reading": 12.5, "tags": ["a"]}));
        assert_eq!(
            EventType::from(event.data.event_type()),
            EventType::Unknown("meter.read".into())
        );
        let again: serde_json::Value = serde_json::to_value(&event).unwrap();
        assert_eq!(again, raw);
    }

    #[test]
    fn data_first_errors_still_name_the_field() {
        let raw = json!({"data": {"test": "yes", "sent_at": "2026-05-05T14:00:00Z"}, "type": "webhook.test", "id": "e", "created_at": "2026-05-05T14:00:00Z"});
        let err = parse(&body(raw)).unwrap_err().to_string();
        assert!(
            err.contains("webhook.test") && err.contains("expected a boolean"),
            "{err}"
        );
    }

    #[test]
    fn missing_and_duplicate_envelope_keys() {
        for (raw, want) in [
            (
                json!({"type": "x.y", "created_at": "2026-05-05T14:00:00Z", "data": {}}),
                "missing field `id`",
            ),
            (
                json!({"id": "e", "type": "x.y", "data": {}}),
                "missing field `created_at`",
            ),
            (
                json!({"id": "e", "created_at": "2026-05-05T14:00:00Z", "data": {}}),
                "missing field `type`",
            ),
            (
                json!({"id": "e", "type": "x.y", "created_at": "2026-05-05T14:00:00Z"}),
                "missing field `data`",
            ),
            (
                json!({"id": 5, "type": "x.y", "created_at": "2026-05-05T14:00:00Z", "data": {}}),
                "invalid type: integer `5`",
            ),
        ] {
            let err = parse(&body(raw)).unwrap_err().to_string();
            assert!(err.contains(want), "{err} !~ {want}");
        }
        let dup =
            br#"{"id":"a","id":"b","type":"x","created_at":"2026-05-05T14:00:00Z","data":{}}"#;
        assert!(
            parse(dup)
                .unwrap_err()
                .to_string()
                .contains("duplicate field `id`")
        );
        let dup =
            br#"{"id":"a","type":"x","data":{},"created_at":"2026-05-05T14:00:00Z","data":{}}"#;
        assert!(
            parse(dup)
                .unwrap_err()
                .to_string()
                .contains("duplicate field `data`")
        );
    }

    #[test]
    fn event_data_alone_is_adjacently_tagged() {
        let data: EventData =
            serde_json::from_str(&format!(r#"{{"data":{TEST},"type":"webhook.test"}}"#)).unwrap();
        assert_eq!(data.event_type(), "webhook.test");
        let written = serde_json::to_value(&data).unwrap();
        assert_eq!(written["type"], "webhook.test");
        assert_eq!(written["data"]["sent_at"], "2026-05-05T14:00:00Z");
        assert_eq!(serde_json::from_value::<EventData>(written).unwrap(), data);
    }

    #[test]
    fn event_types_are_open() {
        assert_eq!(EventType::from("test.failed"), EventType::TestFailed);
        assert_eq!(EventType::from("test.failed").as_str(), "test.failed");
        assert_eq!(EventType::ALL.len(), 12);
        for known in EventType::ALL.iter().map(EventType::as_str) {
            assert!(EventType::from(known).is_known());
            assert_eq!(EventType::from(known).as_str(), known);
        }
        assert!(!EventType::from("nope").is_known());
    }
}
