//! The test kit: every sample, delivered, verifies and reads back as
//! itself; what a test changes survives the delivery.
#![cfg(feature = "testing")]

use time::macros::datetime;
use time::{OffsetDateTime, UtcOffset};
use utility_webhooks::smartcomply::{self, EventData, EventType};
use utility_webhooks::smarterwx::{self, Message};

const SC_SECRET: &str = "whsec_kit_test";
const SWX_SECRET: &str = "swx kit test";

fn every_smartcomply_type() -> Vec<EventType> {
    let mut types: Vec<EventType> = [
        "test.submitted",
        "test.failed",
        "assembly.due_soon",
        "iu.exceedance_detected",
        "permit.expiring",
        "manifest.filed",
        "notice.created",
        "inspection.completed",
        "report.certified",
        "partner.approved",
        "partner.application_submitted",
        "webhook.test",
    ]
    .into_iter()
    .map(EventType::from)
    .collect();
    assert!(types.iter().all(EventType::is_known));
    types.push(EventType::from("meter.read"));
    types
}

#[test]
fn every_smartcomply_sample_is_delivered_verified_and_read_back_equal() {
    let at = datetime!(2026-05-05 14:00:00 UTC);
    let verifier = smartcomply::Verifier::new(SC_SECRET).unwrap();
    for event_type in every_smartcomply_type() {
        let event = smartcomply::testing::sample(event_type.clone());
        assert_eq!(event.event_type(), event_type.as_str());
        let delivery = smartcomply::testing::deliver(&event, SC_SECRET, at);
        assert_eq!(delivery.header_name, "x-smartcomply-signature");
        assert!(
            delivery.header.starts_with("t=1777989600,v1="),
            "{delivery:?}"
        );
        let back = verifier
            .verify_and_parse_at(&delivery.header, delivery.body.as_bytes(), at)
            .unwrap_or_else(|e| panic!("{event_type}: {e}"));
        assert_eq!(back, event, "{event_type}");
        // The samples hold nothing the model does not know but their type.
        let drift = smartcomply::drift(delivery.body.as_bytes()).unwrap();
        assert_eq!(drift.is_empty(), event_type.is_known(), "{drift}");
    }
}

#[test]
fn smartcomply_samples_carry_the_vendor_example_values() {
    let event = smartcomply::testing::sample(EventType::IuExceedanceDetected);
    assert_eq!(event.id, "evt_f0e1d2c3b4a59687");
    assert_eq!(event.created_at, datetime!(2026-05-05 11:45:00 UTC));
    let EventData::IuExceedanceDetected(x) = &event.data else {
        panic!("{event:?}")
    };
    assert_eq!(x.permit_id, "prm_55667788");
    assert_eq!(x.exceedances[0].parameter, "Zinc");
    assert_eq!(x.exceedances[0].result_value, 3.8);
    assert_eq!(x.exceedances[0].permit_limit, 2.6);

    // The sample of a type is the shipped fixture of that type.
    let fixture = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/smartcomply/test.failed.json"
    ))
    .unwrap();
    assert_eq!(
        smartcomply::testing::sample(EventType::TestFailed),
        smartcomply::parse(&fixture).unwrap()
    );

    let unknown = smartcomply::testing::sample(EventType::from("meter.read"));
    let EventData::Unknown(u) = &unknown.data else {
        panic!("{unknown:?}")
    };
    assert_eq!(u.event_type, "meter.read");
    assert_eq!(u.data, serde_json::json!({}));
    // A known type spelled as unknown is still the known one.
    let spelled = smartcomply::testing::sample(EventType::Unknown("test.failed".into()));
    assert!(matches!(spelled.data, EventData::TestFailed(_)));
}

#[test]
fn a_changed_smartcomply_field_survives_the_delivery() {
    let mut event = smartcomply::testing::sample(EventType::TestFailed);
    let EventData::TestFailed(test) = &mut event.data else {
        panic!()
    };
    test.failure_reason = Some("Relief valve \"stuck\" open\nsee photo".into());
    test.assembly_id = smartcomply::AssemblyId::new("asm_changed");
    event.id = smartcomply::EventId::new("evt_changed");
    let now = time::OffsetDateTime::now_utc();
    let delivery = smartcomply::testing::deliver(&event, SC_SECRET, now);
    let verifier = smartcomply::Verifier::new(SC_SECRET).unwrap();
    let back = verifier
        .verify_and_parse(&delivery.header, delivery.body.as_bytes())
        .unwrap();
    assert_eq!(back.id, "evt_changed");
    let EventData::TestFailed(test) = &back.data else {
        panic!("{back:?}")
    };
    assert_eq!(test.assembly_id, "asm_changed");
    assert_eq!(
        test.failure_reason.as_deref(),
        Some("Relief valve \"stuck\" open\nsee photo")
    );
    assert_eq!(back, event);

    // Signed with another secret, or too long ago: refused as a receiver would.
    let other = smartcomply::testing::deliver(&event, "whsec_other", now);
    assert_eq!(
        verifier
            .verify(&other.header, other.body.as_bytes())
            .unwrap_err()
            .http_status(),
        401
    );
    let old = smartcomply::testing::deliver(&event, SC_SECRET, now - time::Duration::hours(1));
    assert!(matches!(
        verifier.verify(&old.header, old.body.as_bytes()),
        Err(utility_webhooks::Error::TimestampTooOld)
    ));
}

#[test]
fn every_smarterwx_sample_is_delivered_verified_and_read_back_equal() {
    let verifier = smarterwx::Verifier::new(SWX_SECRET).unwrap();
    let types =
        ["referral:create", "referral:update", "enquiry:create"].map(smarterwx::EventType::from);
    let samples: Vec<_> = types
        .iter()
        .cloned()
        .map(smarterwx::testing::sample)
        .collect();
    for (sample, event_type) in samples.iter().zip(&types) {
        assert_eq!(sample.event_type(), event_type.as_str());
        let delivery = smarterwx::testing::deliver(std::slice::from_ref(sample), SWX_SECRET);
        assert_eq!(delivery.header_name, "x-swx-signature");
        assert!(delivery.body.starts_with('['), "{}", delivery.body);
        let back = verifier
            .verify_and_parse(&delivery.header, delivery.body.as_bytes())
            .unwrap();
        assert_eq!(back, std::slice::from_ref(sample));
        let drift = smarterwx::drift(delivery.body.as_bytes()).unwrap();
        assert_eq!(drift.is_empty(), event_type.is_known(), "{drift}");
    }
    // All three in one batch, in order.
    let delivery = smarterwx::testing::deliver(&samples, SWX_SECRET);
    let back = verifier
        .verify_and_parse_each(&delivery.header, delivery.body.as_bytes())
        .unwrap();
    let back: Vec<_> = back
        .into_iter()
        .map(|item| item.into_notification().unwrap())
        .collect();
    assert_eq!(back, samples);
    // And an empty batch.
    let empty = smarterwx::testing::deliver(&[], SWX_SECRET);
    assert_eq!(empty.body, "[]");
    assert_eq!(
        verifier
            .verify_and_parse(&empty.header, empty.body.as_bytes())
            .unwrap(),
        []
    );
}

#[test]
fn a_changed_smarterwx_field_survives_the_delivery() {
    let mut notification = smarterwx::testing::sample(smarterwx::EventType::ReferralCreate);
    let Message::ReferralCreate(referral) = &mut notification.message else {
        panic!()
    };
    assert_eq!(referral.enquiry.address.postcode, "3003");
    assert_eq!(referral.organisation.name, "Melbourne Water");
    referral.enquiry.address.postcode = "0800".into();
    referral.enquiry.user.phone_number = Some("0412345678".into());
    let delivery = smarterwx::testing::deliver(std::slice::from_ref(&notification), SWX_SECRET);
    let back = smarterwx::Verifier::new(SWX_SECRET)
        .unwrap()
        .verify_and_parse(&delivery.header, delivery.body.as_bytes())
        .unwrap();
    let referral = back[0].message.referral().unwrap();
    assert_eq!(referral.enquiry.address.postcode, "0800");
    assert_eq!(
        referral.enquiry.user.phone_number.as_deref(),
        Some("0412345678")
    );
    assert_eq!(back, [notification]);
}

#[cfg(feature = "http")]
#[tokio::test]
async fn a_delivery_as_a_request_reaches_an_axum_handler() {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    use tower::ServiceExt as _;

    async fn hook(headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
        let verifier = smarterwx::Verifier::new(SWX_SECRET).unwrap();
        let header = headers
            .get(smarterwx::SIGNATURE_HEADER)
            .map_or(&[][..], |h| h.as_bytes());
        match verifier.verify_and_parse(header, &body) {
            Ok(batch) => (StatusCode::OK, batch[0].uuid.to_string()),
            Err(err) => (
                StatusCode::from_u16(err.http_status()).unwrap(),
                String::new(),
            ),
        }
    }
    let app = axum::Router::new().route("/swx", axum::routing::post(hook));
    let sample = smarterwx::testing::sample(smarterwx::EventType::ReferralUpdate);
    let delivery = smarterwx::testing::deliver(&[sample], SWX_SECRET);

    let request = delivery.clone().into_request("/swx").unwrap();
    assert_eq!(request.method(), "POST");
    assert_eq!(request.headers()["content-type"], "application/json");
    assert_eq!(
        request.headers()["x-swx-signature"],
        delivery.header.as_str()
    );
    let answer = app.clone().oneshot(request).await.unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let body = axum::body::to_bytes(answer.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"3b9c2e4a-7f1d-4c8e-9a6b-5d2f0e1c7a93");

    let mut forged = delivery.clone();
    forged.body = forged.body.replace("Melbourne", "Sydney");
    let answer = app
        .oneshot(forged.into_request("/swx").unwrap())
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    let mut broken = delivery;
    broken.header = "sha256=\n".into();
    assert!(broken.clone().into_request("/swx").is_err());
    assert!(broken.into_request("not a uri").is_err());
}

/// The message `deliver` panics with.
fn panic_message(deliver: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(deliver).expect_err("deliver did not panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn an_event_that_json_cannot_carry_is_no_delivery() {
    let mut event = smartcomply::testing::sample(EventType::TestFailed);
    event.created_at = event.created_at.replace_year(-1).unwrap();
    let message = panic_message(|| {
        smartcomply::testing::deliver(&event, SC_SECRET, OffsetDateTime::now_utc());
    });
    assert!(
        message.starts_with("the test kit cannot write this delivery as JSON: "),
        "{message}"
    );
    assert!(message.contains("year"), "{message}");

    let mut notification = smarterwx::testing::sample(smarterwx::EventType::ReferralCreate);
    notification.timestamp = notification
        .timestamp
        .to_offset(UtcOffset::from_hms(1, 0, 30).unwrap());
    let message = panic_message(|| {
        smarterwx::testing::deliver(&[notification], SWX_SECRET);
    });
    assert!(
        message.starts_with("the test kit cannot write this delivery as JSON: "),
        "{message}"
    );
    assert!(message.contains("offset"), "{message}");
}
