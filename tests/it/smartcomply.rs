//! SmartComply: every catalog fixture, the signature vectors, round trips
//! and hostile bodies.

use crate::common;

use common::{fixture, fixtures_in, hostile_bodies, outcome, vectors};
use std::time::Duration;
use time::OffsetDateTime;
use time::macros::{date, datetime};
use utility_webhooks::smartcomply::{
    self, AssemblyType, Event, EventData, EventType, InspectionResult, InspectionType,
    IntegrationType, NoticeType, PermitType, ReportType, Severity, TestResult, Verifier,
};
use utility_webhooks::{Category, Error};

fn event(name: &str) -> Event {
    smartcomply::parse(&fixture(&format!("smartcomply/{name}.json")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_fixture_is_named_after_its_known_type() {
    let all = fixtures_in("smartcomply");
    assert_eq!(all.len(), 12);
    for (file, body) in all {
        let event = smartcomply::parse(&body).unwrap();
        assert_eq!(format!("{}.json", event.event_type()), file);
        assert!(EventType::from(event.event_type()).is_known(), "{file}");
        assert!(!matches!(event.data, EventData::Unknown(_)), "{file}");
    }
    assert_eq!(EventType::ALL.len(), 12);
}

#[test]
fn test_submitted() {
    let e = event("test.submitted");
    assert_eq!(e.id.as_str(), "evt_8f3a2c1b6e9d4a07");
    assert_eq!(e.created_at, datetime!(2026-05-05 14:30:00 UTC));
    let EventData::TestSubmitted(t) = e.data else {
        panic!()
    };
    assert_eq!(t.test_id.as_str(), "bft_a1b2c3d4");
    assert_eq!(t.assembly_id.as_str(), "asm_d4c3b2a1");
    assert_eq!(t.tester_id.as_str(), "tst_7e8f9a0b");
    assert_eq!(t.result, TestResult::Pass);
    assert_eq!(t.test_date, date!(2026 - 05 - 05));
    assert_eq!(t.next_due_date, Some(date!(2027 - 05 - 05)));
    assert_eq!(t.failure_reason, None);
    assert_eq!(t.facility_name.as_deref(), Some("City Hall Annex"));
}

#[test]
fn test_failed() {
    let e = event("test.failed");
    assert_eq!(e.id.as_str(), "evt_c4d5e6f7a8b90123");
    assert_eq!(e.created_at, datetime!(2026-05-05 15:10:00 UTC));
    let EventData::TestFailed(t) = e.data else {
        panic!()
    };
    assert_eq!(t.test_id.as_str(), "bft_e5f6a7b8");
    assert_eq!(t.assembly_id.as_str(), "asm_d4c3b2a1");
    assert_eq!(t.tester_id.as_str(), "tst_7e8f9a0b");
    assert_eq!(t.result, TestResult::Fail);
    assert_eq!(t.test_date, date!(2026 - 05 - 05));
    assert_eq!(t.next_due_date, None);
    assert_eq!(
        t.failure_reason.as_deref(),
        Some("First check valve failed to hold")
    );
    assert_eq!(t.facility_name.as_deref(), Some("City Hall Annex"));
}

#[test]
fn assembly_due_soon() {
    let e = event("assembly.due_soon");
    assert_eq!(e.id.as_str(), "evt_1a2b3c4d5e6f7890");
    assert_eq!(e.created_at, datetime!(2026-04-05 08:00:00 UTC));
    let EventData::AssemblyDueSoon(a) = e.data else {
        panic!()
    };
    assert_eq!(a.assembly_id.as_str(), "asm_d4c3b2a1");
    assert_eq!(a.facility_id.as_str(), "fac_9876abcd");
    assert_eq!(a.due_date, date!(2026 - 05 - 05));
    assert_eq!(a.days_remaining, 30);
    assert_eq!(a.assembly_type, AssemblyType::Rpz);
    assert_eq!(a.facility_name.as_deref(), Some("City Hall Annex"));
    assert_eq!(a.address.as_deref(), Some("100 Main St"));
}

#[test]
fn iu_exceedance_detected() {
    let e = event("iu.exceedance_detected");
    assert_eq!(e.id.as_str(), "evt_f0e1d2c3b4a59687");
    assert_eq!(e.created_at, datetime!(2026-05-05 11:45:00 UTC));
    let EventData::IuExceedanceDetected(x) = e.data else {
        panic!()
    };
    assert_eq!(x.sample_id.as_str(), "smp_aabbccdd");
    assert_eq!(x.industrial_user_id.as_str(), "iu_11223344");
    assert_eq!(x.permit_id.as_str(), "prm_55667788");
    assert_eq!(x.facility_name.as_deref(), Some("Acme Metal Finishing"));
    assert_eq!(x.exceedances.len(), 1);
    let z = &x.exceedances[0];
    assert_eq!(z.parameter, "Zinc");
    assert_eq!(z.result_value, 3.8);
    assert_eq!(z.permit_limit, 2.6);
    assert_eq!(z.unit, "mg/L");
    assert_eq!(x.sample_date, date!(2026 - 05 - 03));
    assert_eq!(x.monitoring_point.as_deref(), Some("MP-001"));
}

#[test]
fn permit_expiring() {
    let e = event("permit.expiring");
    assert_eq!(e.id.as_str(), "evt_abcdef0123456789");
    assert_eq!(e.created_at, datetime!(2026-03-06 08:00:00 UTC));
    let EventData::PermitExpiring(p) = e.data else {
        panic!()
    };
    assert_eq!(p.permit_id.as_str(), "prm_55667788");
    assert_eq!(p.industrial_user_id.as_str(), "iu_11223344");
    assert_eq!(p.facility_name.as_deref(), Some("Acme Metal Finishing"));
    assert_eq!(p.expiration_date, date!(2026 - 05 - 05));
    assert_eq!(p.days_remaining, 60);
    assert_eq!(p.permit_type, PermitType::Individual);
}

#[test]
fn manifest_filed() {
    let e = event("manifest.filed");
    assert_eq!(e.id.as_str(), "evt_1122334455667788");
    assert_eq!(e.created_at, datetime!(2026-05-05 16:20:00 UTC));
    let EventData::ManifestFiled(m) = e.data else {
        panic!()
    };
    assert_eq!(m.pump_out_id.as_str(), "po_aabb1122");
    assert_eq!(m.establishment_id.as_str(), "fse_ccdd3344");
    assert_eq!(m.hauler_id.as_str(), "hsp_eeff5566");
    assert_eq!(m.establishment_name.as_deref(), Some("Downtown Grill"));
    assert_eq!(m.hauler_name.as_deref(), Some("CleanPipe Services"));
    assert_eq!(m.gallons_pumped, 450.0);
    assert_eq!(m.disposal_facility.as_deref(), Some("Metro WWTP"));
    assert_eq!(m.service_date, date!(2026 - 05 - 05));
}

#[test]
fn notice_created() {
    let e = event("notice.created");
    assert_eq!(e.id.as_str(), "evt_99887766aabbccdd");
    assert_eq!(e.created_at, datetime!(2026-05-05 09:00:00 UTC));
    let EventData::NoticeCreated(n) = e.data else {
        panic!()
    };
    assert_eq!(n.notice_id.as_str(), "ntc_ddeeff00");
    assert_eq!(n.facility_id.as_str(), "fac_9876abcd");
    assert_eq!(n.facility_name.as_deref(), Some("Acme Metal Finishing"));
    assert_eq!(n.notice_type, NoticeType::Nov);
    assert_eq!(n.severity, Severity::Significant);
    assert_eq!(
        n.summary.as_deref(),
        Some("Zinc exceedance on 2026-05-03 sample")
    );
    assert_eq!(n.due_date, Some(date!(2026 - 05 - 20)));
}

#[test]
fn inspection_completed() {
    let e = event("inspection.completed");
    assert_eq!(e.id.as_str(), "evt_ffeeddccbbaa9988");
    assert_eq!(e.created_at, datetime!(2026-05-05 13:00:00 UTC));
    let EventData::InspectionCompleted(i) = e.data else {
        panic!()
    };
    assert_eq!(i.inspection_id.as_str(), "insp_aabb1234");
    assert_eq!(i.facility_id.as_str(), "fac_9876abcd");
    assert_eq!(i.facility_name.as_deref(), Some("Downtown Grill"));
    assert_eq!(i.inspection_type, InspectionType::FogRoutine);
    assert_eq!(i.result, InspectionResult::Satisfactory);
    assert_eq!(i.inspector_name.as_deref(), Some("Jordan Lee"));
    assert_eq!(i.completed_at, datetime!(2026-05-05 12:45:00 UTC));
}

#[test]
fn report_certified() {
    let e = event("report.certified");
    assert_eq!(e.id.as_str(), "evt_0011223344556677");
    assert_eq!(e.created_at, datetime!(2026-05-05 17:00:00 UTC));
    let EventData::ReportCertified(r) = e.data else {
        panic!()
    };
    assert_eq!(r.report_id.as_str(), "rpt_8899aabb");
    assert_eq!(r.report_type, ReportType::AnnualReport);
    assert_eq!(r.period, "2025");
    assert_eq!(r.certified_by.as_deref(), Some("Maria Chen"));
    assert_eq!(r.certified_at, datetime!(2026-05-05 16:55:00 UTC));
    assert_eq!(r.facility_name.as_deref(), Some("Metro Water Authority"));
}

#[test]
fn partner_approved() {
    let e = event("partner.approved");
    assert_eq!(e.id.as_str(), "evt_aabb00112233eeff");
    assert_eq!(e.created_at, datetime!(2026-05-05 10:30:00 UTC));
    let EventData::PartnerApproved(p) = e.data else {
        panic!()
    };
    assert_eq!(p.partner_id.as_str(), "prt_44556677");
    assert_eq!(p.partner_name.as_deref(), Some("LIMS Connect Inc."));
    assert_eq!(p.approved_at, datetime!(2026-05-05 10:28:00 UTC));
    assert_eq!(p.integration_type, IntegrationType::Lims);
}

#[test]
fn partner_application_submitted() {
    let e = event("partner.application_submitted");
    assert_eq!(e.id.as_str(), "evt_ddeeff0011223344");
    assert_eq!(e.created_at, datetime!(2026-05-05 08:15:00 UTC));
    let EventData::PartnerApplicationSubmitted(p) = e.data else {
        panic!()
    };
    assert_eq!(p.partner_id.as_str(), "prt_88990011");
    assert_eq!(p.partner_name.as_deref(), Some("GeoSync Mapping"));
    assert_eq!(p.contact_email.as_deref(), Some("dev@geosync.example"));
    assert_eq!(p.integration_type, IntegrationType::Gis);
    assert_eq!(p.submitted_at, datetime!(2026-05-05 08:14:00 UTC));
}

#[test]
fn webhook_test() {
    let e = event("webhook.test");
    assert_eq!(e.id.as_str(), "evt_test_a1b2c3d4e5f67890");
    assert_eq!(e.created_at, datetime!(2026-05-05 14:00:00 UTC));
    let EventData::WebhookTest(w) = e.data else {
        panic!()
    };
    assert!(w.test);
    assert!(
        w.note
            .as_deref()
            .unwrap()
            .starts_with("This is a test event sent from the SmartComply dashboard.")
    );
    assert_eq!(w.sent_at, Some(datetime!(2026-05-05 14:00:00 UTC)));
}

#[test]
fn round_trip_every_fixture() {
    for (file, body) in fixtures_in("smartcomply") {
        let first = smartcomply::parse(&body).unwrap();
        let written = serde_json::to_vec(&first).unwrap();
        let second = smartcomply::parse(&written).unwrap();
        assert_eq!(first, second, "{file}");
        // No documented field is lost: the written JSON has every key the
        // catalog example has.
        let original: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let rewritten: serde_json::Value = serde_json::from_slice(&written).unwrap();
        for (key, value) in original["data"].as_object().unwrap() {
            assert!(rewritten["data"].get(key).is_some(), "{file}: lost {key}");
            if value.is_string() && !key.ends_with("_at") {
                assert_eq!(&rewritten["data"][key], value, "{file}: {key}");
            }
        }
        // Also through the generic serde path.
        let via_value: Event =
            serde_json::from_value(serde_json::to_value(&first).unwrap()).unwrap();
        assert_eq!(via_value, first, "{file}");
    }
}

#[test]
fn signature_vectors() {
    let all = vectors("smartcomply");
    assert!(all.len() >= 30, "{} vectors", all.len());
    for v in all {
        let verifier = v.verifier(|s| Verifier::new(s), |v, s| v.with_secret(s));
        let verifier = verifier.with_tolerance(Duration::from_secs(v.tolerance_secs.unwrap()));
        let now = OffsetDateTime::from_unix_timestamp(v.now.unwrap()).unwrap();
        let got = verifier.verify_at(&v.header, &v.body(), now);
        assert_eq!(outcome(&got), v.expected, "vector {}", v.name);
    }
}

#[test]
fn sign_matches_the_independent_vectors() {
    for v in vectors("smartcomply").iter().filter(|v| v.name == "good") {
        let t: i64 = v
            .header
            .split(',')
            .find_map(|p| p.trim().strip_prefix("t="))
            .unwrap()
            .parse()
            .unwrap();
        let ours = smartcomply::sign(
            &v.secrets[0],
            OffsetDateTime::from_unix_timestamp(t).unwrap(),
            &v.body(),
        );
        assert_eq!(ours, v.header);
    }
}

#[test]
fn verify_and_parse_checks_then_types() {
    let body = fixture("smartcomply/manifest.filed.json");
    let verifier = Verifier::new("whsec_demo").unwrap();
    let header = smartcomply::sign("whsec_demo", OffsetDateTime::now_utc(), &body);
    let event = verifier.verify_and_parse(&header, &body).unwrap();
    assert_eq!(event.event_type(), "manifest.filed");
    let bad = smartcomply::sign("whsec_other", OffsetDateTime::now_utc(), &body);
    assert!(matches!(
        verifier.verify_and_parse(&bad, &body),
        Err(Error::SignatureMismatch)
    ));
    let at = datetime!(2026-05-05 16:20:00 UTC);
    let old = smartcomply::sign("whsec_demo", at, &body);
    assert!(matches!(
        verifier.verify_and_parse(&old, &body),
        Err(Error::TimestampTooOld)
    ));
    assert_eq!(
        verifier.verify_and_parse_at(&old, &body, at).unwrap(),
        event
    );
    // A signed body that is not an event is a payload error, after the
    // signature passed.
    let junk = b"{\"id\": 1}";
    let header = smartcomply::sign("whsec_demo", OffsetDateTime::now_utc(), junk);
    let err = verifier.verify_and_parse(&header, junk).unwrap_err();
    assert!(err.is_payload(), "{err:?}");
}

#[test]
fn header_value_types() {
    let body = b"{}";
    let owned: Vec<u8> = b"whsec_bytes".into();
    let verifier = Verifier::new(owned).unwrap();
    let header = smartcomply::sign(b"whsec_bytes", OffsetDateTime::now_utc(), body);
    verifier.verify(&header, body).unwrap();
    verifier.verify(header.as_str(), body).unwrap();
    verifier.verify(header.as_bytes(), body).unwrap();
    verifier.verify(header.clone().into_bytes(), body).unwrap();
    assert_eq!(smartcomply::SIGNATURE_HEADER, "x-smartcomply-signature");
}

#[test]
fn hostile_bodies_are_payload_errors() {
    for (label, body) in hostile_bodies() {
        match smartcomply::parse(&body) {
            Err(Error::Payload(p)) => {
                let shown = p.to_string();
                assert!(
                    shown.starts_with("invalid webhook payload"),
                    "{label}: {shown}"
                );
                assert!(!p.message().is_empty(), "{label}");
            }
            other => panic!("{label}: {other:?}"),
        }
    }
}

#[test]
fn payload_errors_say_what_and_where() {
    let deep_data = [&b"{\"type\":\"x.y\",\"data\":"[..], &b"[".repeat(100_000)].concat();
    let cases: &[(&[u8], Category, &[&str])] = &[
        (b"", Category::Eof, &["EOF"]),
        (&"[".repeat(100_000).into_bytes(), Category::Data, &["invalid type: sequence", "expected an event object"]),
        (&deep_data, Category::Syntax, &["`x.y`", "recursion limit exceeded"]),
        (b"{\"id\":\"e\",\"type\":\"test.submitted\",\"created_at\":\"2026-05-05T14:30:00Z\",\"data\":{\"test_id\":\"b\"}}", Category::Data, &["`test.submitted` at `data`", "missing field `assembly_id`"]),
        (b"{\"id\":\"e\",\"type\":\"assembly.due_soon\",\"created_at\":\"2026-05-05T14:30:00Z\",\"data\":{\"assembly_id\":\"a\",\"facility_id\":\"f\",\"due_date\":\"2026-02-30\",\"days_remaining\":1,\"assembly_type\":\"RPZ\"}}", Category::Data, &["`assembly.due_soon` at `data.due_date`", "invalid date \"2026-02-30\"", "line 1 column"]),
        (b"{\"id\":\"e\",\"type\":\"assembly.due_soon\",\"created_at\":\"2026-05-05T14:30:00Z\",\"data\":{\"assembly_id\":\"a\",\"facility_id\":\"f\",\"due_date\":\"2026-05-05\",\"days_remaining\":1e400,\"assembly_type\":\"RPZ\"}}", Category::Syntax, &["number out of range"]),
        (b"{\"id\":\"e\",\"type\":\"assembly.due_soon\",\"created_at\":\"2026-05-05T14:30:00Z\",\"data\":{\"assembly_id\":\"a\",\"facility_id\":\"f\",\"due_date\":\"2026-05-05\",\"days_remaining\":99999999999999999999,\"assembly_type\":\"RPZ\"}}", Category::Data, &["at `data.days_remaining`", "expected i64"]),
        (b"{\"id\":\"e\",\"type\":\"webhook.test\",\"created_at\":\"yesterday\",\"data\":{}}", Category::Data, &["invalid date-time \"yesterday\""]),
        (b"{\"id\":\"e\",\"type\":\"webhook.test\"", Category::Eof, &["`webhook.test`", "EOF"]),
    ];
    for (body, category, needles) in cases {
        let Err(Error::Payload(p)) = smartcomply::parse(body) else {
            panic!("{needles:?}")
        };
        let shown = p.to_string();
        assert_eq!(p.category(), *category, "{shown}");
        for needle in *needles {
            assert!(shown.contains(needle), "{shown} !~ {needle}");
        }
    }
}

#[test]
fn forward_compatible_parse() {
    // Unknown fields anywhere and unknown enum values are kept or ignored.
    let body = br#"{"id":"evt_x","api_version":"2027-01-01","type":"test.submitted","created_at":"2026-05-05T14:30:00+02:00",
      "data":{"test_id":"b","assembly_id":"a","tester_id":"t","result":"inconclusive","test_date":"2026-05-05","gauge":{"serial":"G-1"}}}"#;
    let e = smartcomply::parse(body).unwrap();
    assert_eq!(e.created_at, datetime!(2026-05-05 12:30:00 UTC));
    let EventData::TestSubmitted(t) = e.data else {
        panic!()
    };
    assert_eq!(t.result, TestResult::Unknown("inconclusive".into()));
    assert_eq!(t.result.as_str(), "inconclusive");
}

// ---------------------------------------------------------------------------
// Authentic but unreadable: the envelope reads, `data` does not fit.

fn payload_error(result: Result<Event, Error>) -> utility_webhooks::PayloadError {
    match result {
        Err(Error::Payload(p)) => p,
        other => panic!("{other:?}"),
    }
}

#[test]
fn unreadable_data_keeps_the_id_type_and_raw_data() {
    // The `test.failed` fixture, with `test_date` a number: pretty, so that
    // the white space inside `data` must be kept as sent.
    let data = r#"{
    "test_id": "bft_e5f6a7b8",
    "assembly_id": "asm_d4c3b2a1",
    "tester_id": "tst_7e8f9a0b",
    "result": "fail",
    "test_date": 20260505 ,
    "gauge": {"serial": "G-1", "readings": [1.5, -0, 1e3]}
  }"#;
    let body = format!(
        "{{\n  \"id\": \"evt_c4d5e6f7a8b90123\",\n  \"type\": \"test.failed\",\n  \"created_at\": \"2026-05-05T15:10:00.000Z\",\n  \"data\": {data}\n}}\n"
    );
    let now = datetime!(2026-05-05 15:10:30 UTC);
    let header = smartcomply::sign("whsec_demo", now, body.as_bytes());
    let verifier = Verifier::new("whsec_demo").unwrap();
    let err = verifier
        .verify_and_parse_at(&header, body.as_bytes(), now)
        .unwrap_err();
    assert_eq!(err.http_status(), 400);
    let Error::Payload(p) = &err else { panic!() };
    assert_eq!(p.path(), Some("data.test_date"));
    assert_eq!(p.event_type(), Some("test.failed"));

    let event = p.unreadable().expect("the envelope reads");
    assert_eq!(event.id(), Some("evt_c4d5e6f7a8b90123"));
    assert_eq!(event.event_type(), Some("test.failed"));
    assert_eq!(event.index(), None);
    // Byte for byte what was sent: the whole event, `data` included.
    assert_eq!(event.raw(), body);
    assert!(event.raw().contains(data));
    assert_eq!(event.error().path(), Some("data.test_date"));
    assert_eq!(event.idempotency_key(), "smartcomply:evt_c4d5e6f7a8b90123");

    // `parse` gives the same, and the message is unchanged.
    let again = payload_error(smartcomply::parse(body.as_bytes()));
    assert_eq!(&again, p);
    assert!(
        p.to_string().starts_with(
            "invalid webhook payload for event type `test.failed` at `data.test_date`: invalid type: integer `20260505`"
        ),
        "{p}"
    );

    // Once the model fits (here: the date fixed), the same id reads, under
    // the same key.
    let fixed = body.replacen("20260505 ", "\"2026-05-05\"", 1);
    let read = smartcomply::parse(fixed.as_bytes()).unwrap();
    assert_eq!(read.idempotency_key(), event.idempotency_key());
}

#[test]
fn unreadable_data_in_any_key_order() {
    let body = br#"{"data":{"test":"yes","sent_at":"2026-05-05T14:00:00Z"},"created_at":"2026-05-05T14:00:00Z","type":"webhook.test","id":"evt_1","extra":[{"id":"no"}]}"#;
    let p = payload_error(smartcomply::parse(body));
    let event = p.unreadable().unwrap();
    assert_eq!(
        (event.id(), event.event_type(), event.raw().as_bytes()),
        (Some("evt_1"), Some("webhook.test"), &body[..])
    );
    // Data that is not even an object.
    let body = br#"{"id":"evt_2","type":"permit.expiring","created_at":"2026-05-05T14:00:00Z","data":[1, "two"]}"#;
    let p = payload_error(smartcomply::parse(body));
    assert_eq!(p.unreadable().unwrap().raw().as_bytes(), body);
    // A required field missing.
    let body = br#"{"id":"evt_3","type":"test.submitted","created_at":"2026-05-05T14:00:00Z","data":{"test_id":"b"}}"#;
    let p = payload_error(smartcomply::parse(body));
    assert!(p.message().contains("missing field"), "{p}");
    assert_eq!(p.unreadable().unwrap().raw().as_bytes(), body);
}

#[test]
fn no_unreadable_part_without_a_readable_envelope() {
    let data = r#"{"test": "yes"}"#;
    for (label, body) in [
        (
            "no id",
            format!(
                r#"{{"type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}}}"#
            ),
        ),
        (
            "id not a string",
            format!(
                r#"{{"id":7,"type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}}}"#
            ),
        ),
        (
            "type not a string",
            format!(
                r#"{{"id":"e","type":["webhook.test"],"created_at":"2026-05-05T14:00:00Z","data":{data}}}"#
            ),
        ),
        (
            "no created_at",
            format!(r#"{{"id":"e","type":"webhook.test","data":{data}}}"#),
        ),
        (
            "created_at not an instant",
            format!(r#"{{"id":"e","type":"webhook.test","created_at":"yesterday","data":{data}}}"#),
        ),
        (
            "no data",
            r#"{"id":"e","type":"webhook.test","created_at":"2026-05-05T14:00:00Z"}"#.into(),
        ),
        (
            "id twice",
            format!(
                r#"{{"id":"e","id":"f","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}}}"#
            ),
        ),
        (
            "data twice",
            format!(
                r#"{{"id":"e","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data},"data":{data}}}"#
            ),
        ),
        (
            "trailing bytes",
            format!(
                r#"{{"id":"e","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}}} x"#
            ),
        ),
        (
            "truncated",
            format!(
                r#"{{"id":"e","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}"#
            ),
        ),
        (
            "an array",
            format!(
                r#"[{{"id":"e","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}}}]"#
            ),
        ),
    ] {
        let p = payload_error(smartcomply::parse(body.as_bytes()));
        assert_eq!(p.unreadable(), None, "{label}: {p}");
    }
    for (label, body) in hostile_bodies() {
        let p = payload_error(smartcomply::parse(&body));
        assert_eq!(p.unreadable(), None, "{label}");
    }
}

#[test]
fn unknown_types_are_not_unreadable() {
    let body = br#"{"id":"evt_9","type":"meter.read","created_at":"2026-05-05T14:00:00Z","data":{"reading":"12.5"}}"#;
    let event = smartcomply::parse(body).unwrap();
    assert!(matches!(event.data, EventData::Unknown(_)));
    assert_eq!(event.idempotency_key(), "smartcomply:evt_9");
}

#[test]
fn deep_or_huge_data_still_errors_and_is_shown_short() {
    let envelope = |data: &str| {
        format!(
            r#"{{"id":"evt_d","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{data}}}"#
        )
    };
    // Nesting past 128 levels: refused as before (here in the raw data of
    // a type the crate does not know, which is read as JSON).
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_body = envelope(&deep).replace("webhook.test", "meter.read");
    let p = payload_error(smartcomply::parse(deep_body.as_bytes()));
    assert_eq!(p.category(), Category::Syntax);
    assert!(p.message().contains("recursion limit exceeded"), "{p}");
    assert_eq!(p.unreadable().unwrap().raw(), deep_body);
    // A megabyte of sender text: kept whole, shown short.
    let huge = format!(
        r#"{{"test":"{}","sent_at":"2026-05-05T14:00:00Z"}}"#,
        "A".repeat(1 << 20)
    );
    let huge_body = envelope(&huge);
    let p = payload_error(smartcomply::parse(huge_body.as_bytes()));
    assert_eq!(p.unreadable().unwrap().raw(), huge_body);
    for p in [&p, &payload_error(smartcomply::parse(deep_body.as_bytes()))] {
        let (shown, debug) = (p.to_string(), format!("{p:?}"));
        assert!(shown.len() < 1024, "{} bytes", shown.len());
        assert!(debug.len() < 2048, "{} bytes: {debug:.300}", debug.len());
    }
    // Control characters in sender text are escaped in `Debug`.
    let odd = envelope(r#"{"test":"\u001b[31m"}"#).replace("evt_d", "evt\\n\\u001b");
    let p = payload_error(smartcomply::parse(odd.as_bytes()));
    assert_eq!(p.unreadable().unwrap().id(), Some("evt\n\u{1b}"));
    let debug = format!("{p:?}");
    assert!(
        !debug.contains('\u{1b}') && !debug.contains('\n'),
        "{debug}"
    );
}

#[test]
fn event_idempotency_keys_are_namespaced() {
    assert_eq!(
        event("test.submitted").idempotency_key(),
        "smartcomply:evt_8f3a2c1b6e9d4a07"
    );
}

#[test]
fn a_test_ping_parses_without_its_optional_looking_fields() {
    let ping = |data: serde_json::Value| {
        let body = serde_json::json!({"id": "evt_test_1", "type": "webhook.test",
            "created_at": "2026-05-05T14:00:00Z", "data": data});
        serde_json::to_vec(&body).unwrap()
    };
    for data in [
        serde_json::json!({"test": true}),
        serde_json::json!({"test": true, "note": null, "sent_at": null}),
        serde_json::json!({"note": "from the API"}),
        serde_json::json!({}),
    ] {
        let body = ping(data.clone());
        let event = smartcomply::parse(&body).unwrap_or_else(|e| panic!("{data}: {e}"));
        assert_eq!(event.event_type(), "webhook.test");
        let written = serde_json::to_value(&event).unwrap();
        // `test` is written as `true`; what was left out stays out.
        assert_eq!(written["data"]["test"], true, "{data}");
        assert_eq!(written["data"].get("sent_at"), None, "{data}");
        assert_eq!(
            written["data"].get("note"),
            data.get("note").filter(|n| !n.is_null())
        );
        let again = smartcomply::parse(&serde_json::to_vec(&event).unwrap()).unwrap();
        assert_eq!(again, event, "{data}");
        // The same through a verifier, as a receiver takes it.
        let header = smartcomply::sign("whsec_ping", datetime!(2026-05-05 14:00:00 UTC), &body);
        let verifier = Verifier::new("whsec_ping").unwrap();
        let verified = verifier
            .verify_and_parse_at(&header, &body, datetime!(2026-05-05 14:00:10 UTC))
            .unwrap();
        assert_eq!(verified, event);
    }
    // A field that is sent must still read: a wrong type is an error.
    for data in [
        serde_json::json!({"test": true, "sent_at": "yesterday"}),
        serde_json::json!({"test": "yes"}),
        serde_json::json!({"test": true, "note": 5}),
    ] {
        let p = payload_error(smartcomply::parse(&ping(data.clone())));
        assert_eq!(p.event_type(), Some("webhook.test"), "{data}");
        assert!(p.message().starts_with("invalid"), "{data}: {p}");
    }
}
