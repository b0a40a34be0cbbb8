//! SmarterWX Sentinel: every fixture, the signature vectors, round trips
//! and hostile bodies.

use crate::common;

use common::{fixture, fixtures_in, hostile_bodies, outcome, vectors};
use serde_json::json;
use time::macros::{date, datetime};
use utility_webhooks::smarterwx::{
    self, ActivityCode, AuthorityType, EnquirySource, EventType, Item, LocationInRoad,
    LocationType, Message, Notification, Referral, ReferralStatus, Verifier,
};
use utility_webhooks::{Category, Error};

fn batch(name: &str) -> Vec<Notification> {
    smarterwx::parse(&fixture(&format!("smarterwx/{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn referral(n: &Notification) -> &Referral {
    n.message.referral().unwrap_or_else(|| panic!("{n:?}"))
}

#[test]
fn referral_create_is_the_vendor_example() {
    let all = batch("referral_create");
    assert_eq!(all.len(), 1);
    let n = &all[0];
    assert_eq!(n.uuid.as_str(), "fd07b9f3-dd85-4615-a1e8-8fced35ef2e5");
    assert_eq!(n.event_type(), "referral:create");
    assert_eq!(n.timestamp, datetime!(2020-08-11 07:44:10 UTC));
    let Message::ReferralCreate(r) = &n.message else {
        panic!()
    };
    assert_eq!(r.id, 234);
    assert_eq!(r.created_at, datetime!(2020-11-28 06:08:01 UTC));
    assert_eq!(r.status, ReferralStatus::Waiting);
    assert_eq!(r.sequence_number, 300077255);
    assert_eq!(r.message_version, None);
    assert_eq!(r.organisation.id, 234);
    assert_eq!(r.organisation.name, "Melbourne Water");
    assert_eq!(r.organisation.utility_id, 80010);
    let e = &r.enquiry;
    assert_eq!(e.id, 234);
    assert_eq!(e.created_at, datetime!(2020-11-28 06:08:00 UTC));
    assert_eq!(e.job_number, 40000255);
    assert_eq!(e.user_reference.as_deref(), Some("Plan Ref AB/123"));
    assert_eq!(
        e.notes.as_deref(),
        Some("I am going to be digging a rather large hole.")
    );
    assert_eq!(e.dig_start_at, date!(2020 - 11 - 29));
    assert_eq!(e.dig_end_at, date!(2020 - 11 - 30));
    assert!(!e.is_planning_job);
    assert_eq!(e.activity_types, ["MANUAL_EXCAVATION, HORIZ_BORING"]);
    assert_eq!(
        e.activities()
            .map(|a| a.as_str().to_owned())
            .collect::<Vec<_>>(),
        ["MANUAL_EXCAVATION", "HORIZ_BORING"]
    );
    assert_eq!(
        e.activities().collect::<Vec<_>>(),
        [ActivityCode::ManualExcavation, ActivityCode::HorizBoring]
    );
    assert_eq!(
        e.activity_types_localized,
        ["Manual Excavation, Horizontal Boring"]
    );
    assert_eq!(e.authority_type, AuthorityType::Utility);
    assert_eq!(e.authority_name, "Melbourne Water");
    assert_eq!(e.location_types, [LocationType::RoadReserve]);
    assert_eq!(e.locations_in_road, [LocationInRoad::Road]);
    assert!(!e.is_sandbox_test);
    assert_eq!(e.geometry, json!({}));
    assert_eq!(e.project_reference, None);
    assert_eq!(e.source, None);
    let a = &e.address;
    assert_eq!(a.id, Some(123));
    assert_eq!(a.line1, "613 King St");
    assert_eq!(a.line2.as_deref(), Some("Suite 13"));
    assert_eq!(a.locality, "West Melbourne");
    assert_eq!(a.state, "VIC");
    assert_eq!(a.postcode, "3003");
    assert_eq!(a.country, "AUS");
    let u = &e.user;
    assert_eq!(u.id, 234);
    assert_eq!(u.email, "as567sadf.asdf87asdf@relay.smarterwx.com");
    assert_eq!(u.registered_email.as_deref(), Some("gary@smarterwx.com"));
    assert_eq!(u.first_name.as_deref(), Some("Ross"));
    assert_eq!(u.last_name.as_deref(), Some("Noble"));
    assert_eq!(u.phone_number.as_deref(), Some("61444111222"));
    assert_eq!(u.company_name.as_deref(), Some("Jimmy Diggers"));
    assert_eq!(u.address.as_ref(), Some(a));
    assert_eq!(u.verification_status, None);
    assert_eq!(u.subscription_status, None);
    assert_eq!(u.preferred_data_format, None);
}

#[test]
fn referral_update_carries_the_2021_and_2023_fields() {
    let all = batch("referral_update");
    let n = &all[0];
    assert_eq!(n.uuid.as_str(), "3b9c2e4a-7f1d-4c8e-9a6b-5d2f0e1c7a93");
    assert_eq!(EventType::from(n.event_type()), EventType::ReferralUpdate);
    assert_eq!(n.timestamp, datetime!(2020-11-29 09:15:42 UTC));
    let Message::ReferralUpdate(r) = &n.message else {
        panic!()
    };
    assert_eq!(r.message_version.as_deref(), Some("2.1.0.0"));
    assert_eq!(r.status, ReferralStatus::Unknown("ACKNOWLEDGED".into()));
    assert_eq!(r.status.as_str(), "ACKNOWLEDGED");
    assert_eq!(r.sequence_number, 300077256);
    assert_eq!(
        r.enquiry.project_reference.as_deref(),
        Some("PRJ-2023-0042")
    );
    assert_eq!(r.enquiry.source, Some(EnquirySource::Api));
    let u = &r.enquiry.user;
    assert_eq!(u.registered_email.as_deref(), Some("gary@smarterwx.com"));
    assert_eq!(u.verification_status.as_deref(), Some("VERIFIED"));
    assert_eq!(u.subscription_status.as_deref(), Some("ACTIVE"));
    assert_eq!(u.preferred_data_format.as_deref(), Some("PDF"));
}

#[test]
fn batch_of_three_with_an_unknown_event() {
    let all = batch("batch");
    let kinds: Vec<&str> = all.iter().map(Notification::event_type).collect();
    assert_eq!(
        kinds,
        ["referral:create", "referral:update", "enquiry:create"]
    );
    assert_eq!(referral(&all[0]).id, 501);
    assert_eq!(referral(&all[0]).enquiry.job_number, 40000777);
    assert_eq!(referral(&all[1]).id, 502);
    assert_eq!(referral(&all[1]).sequence_number, 300080002);
    let Message::Unknown(u) = &all[2].message else {
        panic!()
    };
    assert_eq!(u.event, "enquiry:create");
    assert_eq!(u.message, json!({"id": 99, "jobNumber": 40000999}));
    assert_eq!(all[2].uuid.as_str(), "0a7e3c95-b48d-4e21-9f6a-2c8d1b5e7f30");
    assert_eq!(all[2].timestamp, datetime!(2023-11-20 01:06:00 UTC));
}

#[test]
fn string_postcode_keeps_its_zero() {
    let all = batch("postcode_string");
    let r = referral(&all[0]);
    assert_eq!(r.created_at, datetime!(2023-11-20 01:02:03.456 UTC));
    let e = &r.enquiry;
    assert_eq!(e.address.postcode, "0800");
    assert_eq!(e.address.locality, "Darwin");
    assert_eq!(e.address.state, "NT");
    assert_eq!(e.user.phone_number.as_deref(), Some("0412345678"));
    assert_eq!(e.user.address.as_ref().unwrap().postcode, "0800");
    assert_eq!(
        e.activities()
            .map(|a| a.as_str().to_owned())
            .collect::<Vec<_>>(),
        ["VACUUM_EXCAVATION", "CONVEYANCING"]
    );
    assert_eq!(e.authority_name, "Power and Water Corporation");
}

#[test]
fn nulls_are_none_and_geometry_is_kept() {
    let all = batch("nulls");
    let e = &referral(&all[0]).enquiry;
    assert_eq!(e.user_reference, None);
    assert_eq!(e.notes, None);
    assert_eq!(e.address.line2, None);
    assert_eq!(e.user.registered_email, None);
    assert_eq!(e.user.company_name, None);
    assert_eq!(e.user.verification_status, None);
    assert_eq!(e.project_reference, None);
    assert_eq!(e.location_types, [LocationType::Private]);
    assert_eq!(
        e.locations_in_road,
        [LocationInRoad::Footpath, LocationInRoad::NatureStrip]
    );
    assert_eq!(e.geometry["type"], "Polygon");
    assert_eq!(e.geometry["coordinates"][0][1], json!([144.95, -37.81]));
}

#[test]
fn round_trip_every_fixture() {
    for (file, body) in fixtures_in("smarterwx") {
        let first = smarterwx::parse(&body).unwrap();
        let written = serde_json::to_vec(&first).unwrap();
        let second = smarterwx::parse(&written).unwrap();
        assert_eq!(first, second, "{file}");
        // Nested objects keep their PascalCase wire names.
        let value: serde_json::Value = serde_json::from_slice(&written).unwrap();
        if let Some(message) = value[0]["message"].as_object() {
            if message.contains_key("Enquiry") {
                assert!(message.contains_key("Organisation"), "{file}");
                assert!(value[0]["message"]["Enquiry"]["User"].is_object(), "{file}");
                assert!(
                    value[0]["message"]["Enquiry"]["Address"]["postcode"].is_string(),
                    "{file}"
                );
                assert!(value[0]["message"]["createdAt"].is_string(), "{file}");
            }
        }
        // One notification on its own too.
        for n in &first {
            let alone = serde_json::to_vec(n).unwrap();
            assert_eq!(
                &smarterwx::parse(&alone).unwrap()[..],
                std::slice::from_ref(n),
                "{file}"
            );
        }
    }
}

#[test]
fn signature_vectors() {
    let all = vectors("smarterwx");
    assert!(all.len() >= 20, "{} vectors", all.len());
    for v in all {
        let verifier = v.verifier(|s| Verifier::new(s), |v, s| v.with_secret(s));
        assert_eq!(
            outcome(&verifier.verify(&v.header, &v.body())),
            v.expected,
            "vector {}",
            v.name
        );
    }
}

#[test]
fn sign_matches_the_independent_vectors() {
    let all = vectors("smarterwx");
    for name in ["good", "github_published", "good_compact"] {
        let v = all.iter().find(|v| v.name == name).unwrap();
        assert_eq!(
            smarterwx::sign(&v.secrets[0], &v.body()),
            v.header,
            "{name}"
        );
    }
}

#[test]
fn verify_and_parse_the_shipped_example() {
    let body = fixture("smarterwx/referral_create.json");
    let header = smarterwx::sign("swx secret", &body);
    let verifier = Verifier::new("swx secret").unwrap();
    let all = verifier.verify_and_parse(&header, &body).unwrap();
    assert_eq!(referral(&all[0]).enquiry.job_number, 40000255);
    assert!(matches!(
        verifier.verify_and_parse(&header, &body[1..]),
        Err(Error::SignatureMismatch)
    ));
    assert_eq!(smarterwx::SIGNATURE_HEADER, "x-swx-signature");
}

#[test]
fn empty_array_and_bare_object() {
    assert_eq!(smarterwx::parse(b"[]").unwrap(), []);
    assert_eq!(smarterwx::parse(b" [ ] \n").unwrap(), []);
    let one = batch("referral_create");
    let bare = serde_json::to_vec(&one[0]).unwrap();
    assert_eq!(smarterwx::parse(&bare).unwrap(), one);
}

#[test]
fn hostile_bodies_are_payload_errors() {
    for (label, body) in hostile_bodies() {
        match smarterwx::parse(&body) {
            Err(Error::Payload(p)) => {
                assert!(
                    p.to_string().starts_with("invalid webhook payload"),
                    "{label}: {p}"
                );
            }
            other => panic!("{label}: {other:?}"),
        }
    }
}

#[test]
fn errors_name_the_notification_and_the_field() {
    let mut value: serde_json::Value =
        serde_json::from_slice(&fixture("smarterwx/batch.json")).unwrap();
    value[1]["message"]["Enquiry"]["digStartAt"] = json!("29/11/2020");
    let Err(Error::Payload(p)) = smarterwx::parse(&serde_json::to_vec(&value).unwrap()) else {
        panic!()
    };
    assert_eq!(p.event_type(), Some("referral:update"));
    assert_eq!(p.path(), Some("[1].message.Enquiry.digStartAt"));
    assert_eq!(p.category(), Category::Data);
    assert!(p.to_string().contains("invalid date \"29/11/2020\""), "{p}");

    value[1]["message"]["Enquiry"]["digStartAt"] = json!("2020-11-29");
    value[0]["message"]["Enquiry"]["User"]["Address"]["postcode"] = json!(true);
    let Err(Error::Payload(p)) = smarterwx::parse(&serde_json::to_vec(&value).unwrap()) else {
        panic!()
    };
    assert_eq!(p.event_type(), Some("referral:create"));
    assert_eq!(p.path(), Some("[0].message.Enquiry.User.Address.postcode"));
    assert!(p.message().contains("expected a string or a number"), "{p}");
}

#[test]
fn forward_compatible_values() {
    let mut value: serde_json::Value =
        serde_json::from_slice(&fixture("smarterwx/referral_create.json")).unwrap();
    let m = &mut value[0]["message"];
    m["status"] = json!("CANCELLED");
    m["newTopLevel"] = json!({"x": 1});
    m["Enquiry"]["authorityType"] = json!("Council");
    m["Enquiry"]["locationTypes"] = json!(["Rail Corridor"]);
    m["Enquiry"]["source"] = json!("MOBILE");
    m["Enquiry"]["geometry"] = json!({"type": "Point", "coordinates": [144.9, -37.8]});
    let all = smarterwx::parse(&serde_json::to_vec(&value).unwrap()).unwrap();
    let r = referral(&all[0]);
    assert_eq!(r.status.as_str(), "CANCELLED");
    assert_eq!(
        r.enquiry.authority_type,
        AuthorityType::Unknown("Council".into())
    );
    assert_eq!(r.enquiry.location_types[0].as_str(), "Rail Corridor");
    assert_eq!(
        r.enquiry.source.as_ref().map(|s| s.as_str()),
        Some("MOBILE")
    );
    assert_eq!(r.enquiry.geometry["type"], "Point");
}

// ---------------------------------------------------------------------------
// Authentic but unreadable: a verified batch, notification by notification.

const SECRET: &str = "swx secret";

fn verifier() -> Verifier {
    Verifier::new(SECRET).unwrap()
}

/// The three notifications of `fixtures/smarterwx/batch.json`, each as
/// pretty JSON text.
fn batch_elements() -> Vec<String> {
    let value: serde_json::Value =
        serde_json::from_slice(&fixture("smarterwx/batch.json")).unwrap();
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|n| serde_json::to_string_pretty(n).unwrap())
        .collect()
}

/// A body of `elements`, with white space between them as a sender may
/// write it.
fn body_of(elements: &[&str]) -> Vec<u8> {
    format!("[\n  {}\n]\n", elements.join(" ,\n  ")).into_bytes()
}

/// Verify and read a signed `body` notification by notification, with no
/// replay window: each notification typed, or unreadable.
fn each(body: &[u8]) -> Vec<Result<Notification, utility_webhooks::Unreadable>> {
    let header = smarterwx::sign(SECRET, body);
    verifier()
        .verify_and_parse_each(&header, body)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|item| match item {
            Item::Notification(n) => Ok(n),
            Item::Unreadable(u) => Err(u),
            other => panic!("no window, yet {other:?}"),
        })
        .collect()
}

#[test]
fn each_keeps_the_good_notifications_beside_a_bad_one() {
    let elements = batch_elements();
    // The middle notification's message id is a string: the model reads a
    // number.
    let bad = elements[1].replacen("\"id\": 502", "\"id\": \"x\"", 1);
    assert_ne!(bad, elements[1]);
    let body = body_of(&[&elements[0], &bad, &elements[2]]);

    // The strict reading is all or nothing, as before.
    let header = smarterwx::sign(SECRET, &body);
    let Err(Error::Payload(strict)) = verifier().verify_and_parse(&header, &body) else {
        panic!()
    };
    assert_eq!(strict.path(), Some("[1].message.id"));

    let all = each(&body);
    assert_eq!(all.len(), 3);
    let first = all[0].as_ref().unwrap();
    assert_eq!(first.uuid.as_str(), "9e2d4b61-0c3a-4f7e-8b15-a6c9d8e7f402");
    assert_eq!(referral(first).id, 501);
    assert_eq!(
        all[0],
        Ok(smarterwx::parse(elements[0].as_bytes()).unwrap().remove(0))
    );
    let third = all[2].as_ref().unwrap();
    assert_eq!(third.event_type(), "enquiry:create");
    assert_eq!(third.uuid.as_str(), "0a7e3c95-b48d-4e21-9f6a-2c8d1b5e7f30");

    let unreadable = all[1].as_ref().unwrap_err();
    assert_eq!(unreadable.index(), Some(1));
    let uuid: serde_json::Value = serde_json::from_str(&elements[1]).unwrap();
    let uuid = uuid["uuid"].as_str().unwrap();
    assert_eq!(unreadable.id(), Some(uuid));
    assert_eq!(unreadable.event_type(), Some("referral:update"));
    assert_eq!(unreadable.idempotency_key(), format!("smarterwx:{uuid}"));
    // Byte for byte what was sent for that notification: the same slice of
    // the body, white space inside it included.
    assert_eq!(unreadable.raw(), bad);
    let at = body
        .windows(bad.len())
        .position(|w| w == bad.as_bytes())
        .unwrap();
    assert_eq!(unreadable.raw().as_bytes(), &body[at..at + bad.len()]);
    // The error is the one the strict reading gives, path and position.
    common::assert_same_error(unreadable.error(), &strict);
    assert_eq!(unreadable.error().event_type(), Some("referral:update"));
    assert_eq!(unreadable.error().category(), Category::Data);
    assert!(
        unreadable
            .error()
            .message()
            .contains("invalid type: string \"x\""),
        "{unreadable}"
    );
    let shown = unreadable.to_string();
    assert!(
        shown.starts_with(&format!("unreadable delivery at index 1 (id `{uuid}`): invalid webhook payload for event type `referral:update` at `[1].message.id`")),
        "{shown}"
    );
    // Read again on its own (one bare notification is a body), it fails the
    // same way, without the index.
    let Err(Error::Payload(alone)) = smarterwx::parse(unreadable.raw().as_bytes()) else {
        panic!()
    };
    assert_eq!(alone.path(), Some("message.id"));
}

#[test]
fn each_unreadable_with_a_uuid_that_is_not_a_string() {
    let elements = batch_elements();
    let bad = r#"{"uuid": 12345, "event": "referral:create", "timestamp": "2023-11-20T01:00:00Z", "message": {"id": 1}}"#;
    let body = body_of(&[bad, &elements[0]]);
    let all = each(&body);
    assert_eq!(all.len(), 2);
    let unreadable = all[0].as_ref().unwrap_err();
    assert_eq!(unreadable.index(), Some(0));
    assert_eq!(unreadable.id(), None);
    // No id: keyed by its raw JSON, the same for the same bytes.
    let key = unreadable.idempotency_key();
    assert!(key.starts_with("smarterwx:sha256:"), "{key}");
    assert_eq!(key.len(), "smarterwx:sha256:".len() + 64);
    let again = each(&body_of(&[&elements[0], bad]));
    assert_eq!(again[1].as_ref().unwrap_err().idempotency_key(), key);
    assert_eq!(unreadable.event_type(), Some("referral:create"));
    assert_eq!(unreadable.raw(), bad);
    assert_eq!(unreadable.error().path(), Some("[0].uuid"));
    assert!(referral(all[1].as_ref().unwrap()).id == 501);

    // An event that is not a string cannot be read either; nor anything of
    // an element that is not an object.
    let odd = r#"{"uuid":"u-7","event":{"name":"referral:create"}}"#;
    let all = each(&body_of(&[odd, "[1, 2]", "null"]));
    let (a, b, c) = (
        all[0].as_ref().unwrap_err(),
        all[1].as_ref().unwrap_err(),
        all[2].as_ref().unwrap_err(),
    );
    assert_eq!((a.id(), a.event_type()), (Some("u-7"), None));
    assert_eq!(a.raw(), odd);
    assert_eq!(
        (b.index(), b.id(), b.event_type(), b.raw()),
        (Some(1), None, None, "[1, 2]")
    );
    assert_eq!((c.index(), c.raw()), (Some(2), "null"));
    assert_eq!(c.error().path(), Some("[2]"));
}

#[test]
fn each_reads_a_bare_object_too() {
    let one = fixture("smarterwx/referral_create.json");
    let value: serde_json::Value = serde_json::from_slice(&one).unwrap();
    let bare = serde_json::to_string_pretty(&value[0]).unwrap();
    let all = each(bare.as_bytes());
    assert_eq!(all, [Ok(smarterwx::parse(&one).unwrap().remove(0))]);

    let bad = bare.replacen("\"status\": \"WAITING\"", "\"status\": 3", 1);
    assert_ne!(bad, bare);
    let body = format!(" \n{bad}\n");
    let all = each(body.as_bytes());
    assert_eq!(all.len(), 1);
    let unreadable = all[0].as_ref().unwrap_err();
    assert_eq!(unreadable.index(), Some(0));
    assert_eq!(unreadable.raw(), bad);
    assert_eq!(
        unreadable.id(),
        Some("fd07b9f3-dd85-4615-a1e8-8fced35ef2e5")
    );
    assert_eq!(unreadable.error().path(), Some("message.status"));
    let Err(Error::Payload(strict)) = smarterwx::parse(body.as_bytes()) else {
        panic!()
    };
    common::assert_same_error(unreadable.error(), &strict);
}

#[test]
fn each_is_parse_for_every_fixture() {
    for (file, body) in fixtures_in("smarterwx") {
        let want: Vec<_> = smarterwx::parse(&body)
            .unwrap()
            .into_iter()
            .map(Ok)
            .collect();
        assert_eq!(each(&body), want, "{file}");
    }
    assert_eq!(each(b"[]"), []);
    assert_eq!(each(b" [\n] "), []);
}

#[test]
fn each_refuses_a_body_that_is_not_an_array_or_object() {
    for (label, body) in hostile_bodies() {
        let header = smarterwx::sign(SECRET, &body);
        let got = verifier().verify_and_parse_each(&header, &body);
        if label == "array of numbers" {
            // An array: each number is one unreadable notification.
            let all = got.unwrap();
            let raws: Vec<&str> = all.iter().map(|i| i.unreadable().unwrap().raw()).collect();
            assert_eq!(raws, ["1", "2", "3"]);
            continue;
        }
        // The same error as the strict reading gives, for the whole
        // delivery (deep nesting and truncation included).
        let Err(Error::Payload(p)) = got else {
            panic!("{label}: {got:?}")
        };
        let Err(Error::Payload(strict)) = smarterwx::parse(&body) else {
            panic!("{label}")
        };
        assert_eq!(p, strict, "{label}");
    }
}

#[test]
fn each_still_refuses_what_is_not_signed() {
    let body = fixture("smarterwx/batch.json");
    let v = verifier();
    let forged = smarterwx::sign("another secret", &body);
    assert!(matches!(
        v.verify_and_parse_each(&forged, &body),
        Err(Error::SignatureMismatch)
    ));
    let header = smarterwx::sign(SECRET, &body);
    assert!(matches!(
        v.verify_and_parse_each(&header, &body[..body.len() - 2]),
        Err(Error::SignatureMismatch)
    ));
    assert!(matches!(
        v.verify_and_parse_each("", &body),
        Err(Error::MissingSignature)
    ));
    assert!(matches!(
        v.verify_and_parse_each("sha256=zz", &body),
        Err(Error::MalformedSignature)
    ));
    // An unsigned body that does not fit is not read at all.
    assert!(matches!(
        v.verify_and_parse_each(&forged, b"[1]"),
        Err(Error::SignatureMismatch)
    ));
    assert_eq!(v.verify_and_parse_each(&header, &body).unwrap().len(), 3);
}

#[test]
fn each_deep_or_huge_notifications_are_unreadable_and_shown_short() {
    let elements = batch_elements();
    // Nesting past 128 levels in an unknown event's raw message.
    let deep = format!(
        r#"{{"uuid":"u-deep","event":"enquiry:create","timestamp":"2023-11-20T01:00:00Z","message":{}{}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    // A megabyte where a number belongs.
    let huge = format!(
        r#"{{"uuid":"u-huge","event":"referral:create","timestamp":"2023-11-20T01:00:00Z","message":{{"id":"{}"}}}}"#,
        "B".repeat(1 << 20)
    );
    let body = body_of(&[&deep, &elements[0], &huge]);
    let all = each(&body);
    assert_eq!(all.len(), 3);
    let d = all[0].as_ref().unwrap_err();
    assert_eq!(d.error().category(), Category::Syntax);
    assert!(
        d.error().message().contains("recursion limit exceeded"),
        "{d}"
    );
    assert_eq!(d.raw(), deep);
    assert!(all[1].is_ok());
    let h = all[2].as_ref().unwrap_err();
    assert_eq!(h.raw(), huge);
    assert_eq!(h.id(), Some("u-huge"));
    for u in [d, h] {
        let (shown, debug) = (u.to_string(), format!("{u:?}"));
        assert!(shown.len() < 1024, "{} bytes", shown.len());
        assert!(debug.len() < 2048, "{} bytes", debug.len());
    }
}

#[test]
fn idempotency_keys_are_namespaced() {
    let all = batch("batch");
    assert_eq!(
        all[0].idempotency_key(),
        "smarterwx:9e2d4b61-0c3a-4f7e-8b15-a6c9d8e7f402"
    );
}

#[cfg(feature = "http")]
#[test]
fn each_from_a_header_map() {
    use http::{HeaderMap, HeaderValue};

    let body = body_of(&[&batch_elements()[0], r#"{"uuid":"u-2"}"#]);
    let mut headers = HeaderMap::new();
    let value = HeaderValue::from_str(&smarterwx::sign(SECRET, &body)).unwrap();
    headers.insert("X-SWX-Signature", value);
    let all = verifier().verify_and_parse_each(&headers, &body).unwrap();
    assert!(all[0].notification().is_some());
    assert_eq!(all[1].unreadable().unwrap().id(), Some("u-2"));
    assert!(matches!(
        verifier().verify_and_parse_each(HeaderMap::new(), &body),
        Err(Error::MissingSignature)
    ));
}

#[test]
fn message_version_is_kept_where_it_was_sent() {
    let seed: serde_json::Value =
        serde_json::from_slice(&fixture("smarterwx/referral_create.json")).unwrap();
    let unknown = json!({"uuid": "u-9", "event": "enquiry:create",
        "timestamp": "2023-11-20T01:00:00Z", "message": {"id": 7}});
    // Beside `uuid`, inside `message`, both, or neither; for a known and an
    // unknown event.
    for notification in [&seed[0], &unknown] {
        for (beside, inside) in [
            (Some("2.1.0.0"), None),
            (None, Some("2.1.0.0")),
            (Some("3.0.0.0"), Some("2.1.0.0")),
            (None, None),
        ] {
            let mut n = notification.clone();
            if let Some(v) = beside {
                n["messageVersion"] = json!(v);
            }
            if let Some(v) = inside {
                n["message"]["messageVersion"] = json!(v);
            }
            let body = serde_json::to_vec(&json!([n])).unwrap();
            let batch = smarterwx::parse(&body).unwrap_or_else(|e| panic!("{n}: {e}"));
            let written = serde_json::to_value(&batch).unwrap();
            assert_eq!(
                written[0].get("messageVersion"),
                beside.map(|v| json!(v)).as_ref(),
                "{n}"
            );
            assert_eq!(
                written[0]["message"].get("messageVersion"),
                inside.map(|v| json!(v)).as_ref(),
                "{n}"
            );
            let again = smarterwx::parse(&serde_json::to_vec(&batch).unwrap()).unwrap();
            assert_eq!(again, batch, "{n}");
            // Read notification by notification, the same.
            let header = smarterwx::sign("swx-secret", &body);
            let each = Verifier::new("swx-secret")
                .unwrap()
                .verify_and_parse_each(&header, &body)
                .unwrap();
            let want: Vec<_> = batch.into_iter().map(Item::Notification).collect();
            assert_eq!(each, want, "{n}");
        }
    }
}
