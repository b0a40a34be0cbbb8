//! The drift report: what a body holds that the model does not take in,
//! each at the path `PayloadError::path()` would give.

use crate::common;

use proptest::prelude::*;
use serde_json::{Value, json};
use utility_webhooks::drift::{Drift, DriftKind};
use utility_webhooks::{Error, smartcomply, smarterwx};

fn items(drift: &Drift) -> Vec<(DriftKind, String, Option<String>)> {
    drift
        .iter()
        .map(|i| (i.kind(), i.path().to_owned(), i.value().map(str::to_owned)))
        .collect()
}

fn field(path: &str) -> (DriftKind, String, Option<String>) {
    (DriftKind::UnknownField, path.into(), None)
}

fn value(path: &str, v: &str) -> (DriftKind, String, Option<String>) {
    (DriftKind::UnknownValue, path.into(), Some(v.into()))
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn fixture_value(path: &str) -> Value {
    serde_json::from_slice(&common::fixture(path)).unwrap()
}

#[test]
fn shipped_fixtures_report_nothing() {
    let mut seen = 0;
    for (name, body) in common::fixtures_in("smartcomply") {
        let drift = smartcomply::drift(&body).unwrap();
        assert!(drift.is_empty(), "{name}: {drift}");
        assert_eq!(drift.to_string(), "");
        seen += 1;
    }
    for (name, body) in common::fixtures_in("smarterwx") {
        let drift = smarterwx::drift(&body).unwrap();
        // Two fixtures carry, on purpose, what the crate does not know: an
        // event type, and a referral status SmarterWX does not document.
        let want = match name.as_str() {
            "batch.json" => vec![
                value("[1].message.status", "ACKNOWLEDGED"),
                (
                    DriftKind::UnknownType,
                    "[2].event".into(),
                    Some("enquiry:create".into()),
                ),
            ],
            "referral_update.json" => vec![value("[0].message.status", "ACKNOWLEDGED")],
            _ => vec![],
        };
        assert_eq!(items(&drift), want, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 17);
}

#[test]
fn an_added_field_is_reported_once_at_its_own_path() {
    let mut event = fixture_value("smartcomply/iu.exceedance_detected.json");
    event["data"]["gps_accuracy_m"] = json!(4.2);
    // An object and an array: one item each, not one per child.
    event["data"]["exceedances"][0]["detection"] = json!({"limit": 0.1, "method": ["EPA 200.7"]});
    event["data"]["lab"] = json!([{"name": "Metro Lab"}, {"name": "Other"}]);
    event["delivery_attempt"] = json!(2);
    let drift = smartcomply::drift(&body(&event)).unwrap();
    let mut got = items(&drift);
    got.sort();
    assert_eq!(
        got,
        [
            field("data.exceedances[0].detection"),
            field("data.gps_accuracy_m"),
            field("data.lab"),
            field("delivery_attempt"),
        ]
    );
    // Still parses, and writing it back drops what the model ignored.
    let parsed = smartcomply::parse(&body(&event)).unwrap();
    let written = serde_json::to_value(&parsed).unwrap();
    assert!(written["data"].get("gps_accuracy_m").is_none());
}

#[test]
fn keys_in_any_order_give_the_same_report() {
    let text = br#"{"data":{"test":true,"sent_at":"2026-05-05T14:00:00Z","channel":"api"},
        "created_at":"2026-05-05T14:00:00Z","type":"webhook.test","id":"evt_1","env":"sandbox"}"#;
    let drift = smartcomply::drift(text).unwrap();
    assert_eq!(items(&drift), [field("data.channel"), field("env")]);
    let text = br#"{"env":"sandbox","id":"evt_1","created_at":"2026-05-05T14:00:00Z",
        "type":"webhook.test","data":{"channel":"api","test":true}}"#;
    let drift = smartcomply::drift(text).unwrap();
    assert_eq!(items(&drift), [field("env"), field("data.channel")]);
}

#[test]
fn unknown_enum_values_are_reported_with_their_value() {
    let mut event = fixture_value("smartcomply/assembly.due_soon.json");
    event["data"]["assembly_type"] = json!("SVB");
    let drift = smartcomply::drift(&body(&event)).unwrap();
    assert_eq!(items(&drift), [value("data.assembly_type", "SVB")]);
    assert_eq!(
        drift.to_string(),
        "unknown_value data.assembly_type \"SVB\"\n"
    );

    let mut batch = fixture_value("smarterwx/batch.json");
    batch[1]["message"]["status"] = json!("CLOSED");
    batch.as_array_mut().unwrap().truncate(2);
    batch[1]["message"]["Enquiry"]["locationsInRoad"] = json!(["Road", "Median\nStrip"]);
    batch[0]["message"]["Enquiry"]["activityTypes"] = json!(["MANUAL_EXCAVATION, TRENCHING"]);
    let drift = smarterwx::drift(&body(&batch)).unwrap();
    assert_eq!(
        items(&drift),
        [
            value("[0].message.Enquiry.activityTypes[0]", "TRENCHING"),
            // Written back by `serde_json::Value`, whose keys are sorted.
            value("[1].message.Enquiry.locationsInRoad[1]", "Median\nStrip"),
            value("[1].message.status", "CLOSED"),
        ]
    );
    // The value is the sender's text; `Display` escapes it.
    assert!(
        drift
            .to_string()
            .contains("unknown_value [1].message.Enquiry.locationsInRoad[1] \"Median\\nStrip\"\n"),
        "{drift}"
    );
    assert_eq!(drift.to_string().lines().count(), 3);
}

#[test]
fn an_unknown_event_type_is_one_item_and_its_payload_is_not_walked() {
    let text = br#"{"id":"evt_2","type":"meter.read","created_at":"2026-05-05T14:00:00Z",
        "data":{"reading":12.5,"nested":{"a":1}}}"#;
    let drift = smartcomply::drift(text).unwrap();
    assert_eq!(
        items(&drift),
        [(
            DriftKind::UnknownType,
            "type".to_owned(),
            Some("meter.read".to_owned())
        )]
    );
    let text = br#"[{"uuid":"u-1","event":"enquiry:create","timestamp":"2023-11-20T01:00:00Z",
        "message":{"id":7},"channel":"x"}]"#;
    let drift = smarterwx::drift(text).unwrap();
    assert_eq!(
        items(&drift),
        [
            (
                DriftKind::UnknownType,
                "[0].event".to_owned(),
                Some("enquiry:create".to_owned())
            ),
            field("[0].channel"),
        ]
    );
}

#[test]
fn a_bare_notification_has_paths_without_an_index() {
    let mut batch = fixture_value("smarterwx/referral_create.json");
    let mut one = batch[0].take();
    one["message"]["Enquiry"]["User"]["Address"]["unit"] = json!("4B");
    one["message"]["Enquiry"]["geometry"]["crs"] = json!("EPSG:4326");
    let drift = smarterwx::drift(&body(&one)).unwrap();
    // `geometry` is kept whole as GeoJSON: nothing in it is drift.
    assert_eq!(items(&drift), [field("message.Enquiry.User.Address.unit")]);
}

#[test]
fn bodies_that_do_not_parse_are_the_errors_parse_gives() {
    for (label, bad) in common::hostile_bodies() {
        let want = smartcomply::parse(&bad).map(drop).unwrap_err().to_string();
        match smartcomply::drift(&bad) {
            Err(Error::Payload(err)) => assert_eq!(err.to_string(), want, "{label}"),
            other => panic!("{label}: {other:?}"),
        }
        if let Err(want) = smarterwx::parse(&bad) {
            let got = smarterwx::drift(&bad).unwrap_err();
            assert_eq!(got.to_string(), want.to_string(), "{label}");
        }
    }
    // Deep nesting inside a member the model skips, within the limit.
    let deep = format!(
        r#"{{"id":"e","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{{"x":{}1{}}}}}"#,
        "[".repeat(120),
        "]".repeat(120)
    );
    assert_eq!(
        items(&smartcomply::drift(deep.as_bytes()).unwrap()),
        [field("data.x")]
    );
    // Deep nesting inside a member the model keeps whole (GeoJSON), walked
    // level by level, with an unknown member beside it.
    let mut batch = fixture_value("smarterwx/referral_create.json");
    let mut deep = json!(1);
    for _ in 0..110 {
        deep = json!([deep]);
    }
    batch[0]["message"]["Enquiry"]["geometry"] = json!({"coordinates": deep});
    batch[0]["message"]["Enquiry"]["zone"] = json!(3);
    let text = body(&batch);
    smarterwx::parse(&text).unwrap();
    assert_eq!(
        items(&smarterwx::drift(&text).unwrap()),
        [field("[0].message.Enquiry.zone")]
    );
}

#[test]
fn parse_alone_leaves_nothing_for_a_later_report() {
    // Unknown values met by `parse` are kept, and never noted anywhere.
    let mut event = fixture_value("smartcomply/assembly.due_soon.json");
    event["data"]["assembly_type"] = json!("SVB");
    for _ in 0..3 {
        smartcomply::parse(&body(&event)).unwrap();
    }
    let clean = common::fixture("smartcomply/assembly.due_soon.json");
    assert!(smartcomply::drift(&clean).unwrap().is_empty());
}

#[test]
fn bytes_that_are_not_utf8_inside_a_skipped_member() {
    let text = b"{\"id\":\"e\",\"type\":\"webhook.test\",\"created_at\":\"2026-05-05T14:00:00Z\",\"data\":{},\"x\":\"\xff\"}";
    match (smartcomply::parse(text), smartcomply::drift(text)) {
        (Ok(_), Ok(drift)) => assert_eq!(items(&drift), [field("x")]),
        (Ok(_), Err(Error::Payload(err))) => {
            assert!(err.to_string().contains("UTF-8"), "{err}")
        }
        (Err(want), got) => assert_eq!(got.unwrap_err().to_string(), want.to_string()),
        (Ok(_), Err(other)) => panic!("{other:?}"),
    }
}

/// Every object of `value` that the model reads (not the raw GeoJSON), as
/// a JSON pointer and the path `PayloadError::path()` would write.
fn model_objects(value: &Value, pointer: String, path: String, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            out.push((pointer.clone(), path.clone()));
            // The payload of an event type the crate does not know is kept
            // raw, not walked.
            let unknown_event = map
                .get("event")
                .and_then(Value::as_str)
                .is_some_and(|e| !smarterwx::EventType::from(e).is_known())
                || map
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !smartcomply::EventType::from(t).is_known());
            for (key, child) in map {
                let raw_payload = unknown_event && (key == "message" || key == "data");
                if key == "geometry" || raw_payload {
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                model_objects(child, format!("{pointer}/{key}"), child_path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                model_objects(child, format!("{pointer}/{i}"), format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn every_fixture() -> Vec<(bool, Value)> {
    let mut all = Vec::new();
    for (vendor, smartcomply) in [("smartcomply", true), ("smarterwx", false)] {
        for (_, bytes) in common::fixtures_in(vendor) {
            all.push((smartcomply, serde_json::from_slice(&bytes).unwrap()));
        }
    }
    all
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any bytes: a report or the error `parse` gives, never a panic.
    #[test]
    fn damaged_fixtures_give_a_report_or_the_parse_error(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut all: Vec<(bool, Vec<u8>)> = Vec::new();
        for (vendor, is_smartcomply) in [("smartcomply", true), ("smarterwx", false)] {
            all.extend(common::fixtures_in(vendor).into_iter().map(|(_, b)| (is_smartcomply, b)));
        }
        let (is_smartcomply, mut bytes) = all[which.index(all.len())].clone();
        bytes.truncate(cut.index(bytes.len() + 1).max(bytes.len() / 2));
        for (at, byte) in flips {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
        }
        let (parsed, drift) = if is_smartcomply {
            (smartcomply::parse(&bytes).map(drop), smartcomply::drift(&bytes))
        } else {
            (smarterwx::parse(&bytes).map(drop), smarterwx::drift(&bytes))
        };
        if let Err(want) = parsed {
            prop_assert_eq!(drift.unwrap_err().to_string(), want.to_string());
        }
    }

    #[test]
    fn an_unknown_member_added_anywhere_is_reported_at_exactly_that_path(
        which in any::<prop::sample::Index>(),
        place in any::<prop::sample::Index>(),
        name in "x_[a-z_]{1,12}",
        added in prop_oneof![
            Just(json!(null)),
            Just(json!(4.2)),
            Just(json!("text")),
            Just(json!({"inner": {"deeper": [1, 2]}})),
            Just(json!([{"a": 1}, {"b": 2}])),
        ],
    ) {
        let fixtures = every_fixture();
        let (is_smartcomply, original) = fixtures[which.index(fixtures.len())].clone();
        let mut fixture = original.clone();
        let mut objects = Vec::new();
        model_objects(&fixture, String::new(), String::new(), &mut objects);
        let (pointer, path) = objects[place.index(objects.len())].clone();
        fixture
            .pointer_mut(&pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .insert(name.clone(), added);
        let at = if path.is_empty() { name } else { format!("{path}.{name}") };
        let drift = |v: &Value| if is_smartcomply {
            smartcomply::drift(&body(v))
        } else {
            smarterwx::drift(&body(v))
        }
        .unwrap();
        let before = items(&drift(&original));
        let mut after = items(&drift(&fixture));
        // The new member, once, and what the fixture reported already.
        let new = after.iter().position(|item| *item == field(&at));
        prop_assert!(new.is_some(), "{:?} not in {:?}", at, after);
        after.remove(new.unwrap());
        prop_assert_eq!(after, before);
    }
}
