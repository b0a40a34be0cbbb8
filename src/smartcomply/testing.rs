//! Sample SmartComply events of every type, and signed deliveries of them,
//! to test your own handlers.
//!
//! The samples carry the values of SmartComply's own examples. Their
//! fields are `pub`: change what your test is about, then [`deliver`].
//!
//! ```
//! use utility_webhooks::smartcomply::testing::{deliver, sample};
//! use utility_webhooks::smartcomply::{EventData, EventType, Verifier};
//! use utility_webhooks::time::OffsetDateTime;
//!
//! let mut event = sample(EventType::TestFailed);
//! if let EventData::TestFailed(test) = &mut event.data {
//!     test.failure_reason = Some("Relief valve did not open".into());
//! }
//! let delivery = deliver(&event, "whsec_test", OffsetDateTime::now_utc());
//!
//! // What your handler receives, and reads back.
//! let verifier = Verifier::new("whsec_test")?;
//! let received = verifier.verify_and_parse(&delivery.header, delivery.body.as_bytes())?;
//! assert_eq!(received, event);
//! # Ok::<(), utility_webhooks::Error>(())
//! ```
//!
//! Testing an axum handler end to end (with the `http` feature, and
//! `tower`'s `util` feature for `oneshot`):
//!
//! ```
//! # #[cfg(feature = "http")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, body::Bytes, extract::State, http::{HeaderMap, StatusCode}, routing::post};
//! use tower::ServiceExt as _;
//! use utility_webhooks::smartcomply::{self, EventType, Verifier, testing};
//! use utility_webhooks::time::OffsetDateTime;
//!
//! async fn hook(State(v): State<Verifier>, headers: HeaderMap, body: Bytes) -> StatusCode {
//!     let header = headers.get(smartcomply::SIGNATURE_HEADER).map_or(&[][..], |h| h.as_bytes());
//!     match v.verify_and_parse(header, &body) {
//!         Ok(event) if event.event_type() == "assembly.due_soon" => StatusCode::NO_CONTENT,
//!         Ok(_) => StatusCode::ACCEPTED,
//!         Err(err) => StatusCode::from_u16(err.http_status()).unwrap(),
//!     }
//! }
//! let app = Router::new()
//!     .route("/hooks/smartcomply", post(hook))
//!     .with_state(Verifier::new("whsec_test")?);
//!
//! let event = testing::sample(EventType::AssemblyDueSoon);
//! let delivery = testing::deliver(&event, "whsec_test", OffsetDateTime::now_utc());
//! let answer = app.clone().oneshot(delivery.clone().into_request("/hooks/smartcomply")?).await?;
//! assert_eq!(answer.status(), StatusCode::NO_CONTENT);
//!
//! // A forged delivery: the body changed after signing.
//! let mut forged = delivery;
//! forged.body = forged.body.replace("30", "31");
//! let answer = app.oneshot(forged.into_request("/hooks/smartcomply")?).await?;
//! assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "http"))]
//! # fn main() {}
//! ```

use time::OffsetDateTime;
use time::macros::{date, datetime};

use super::*;
pub use crate::testing::Delivery;
use crate::wire::Unknown;

/// A realistic event of type `event_type`, with the values of SmartComply's
/// example for it. For a type the crate does not know
/// ([`EventType::Unknown`]), an event of that type with an empty `data`
/// object.
pub fn sample(event_type: EventType) -> Event {
    // A known type built as `Unknown("test.failed")` is still that type.
    let event_type = EventType::from(event_type.as_str());
    let (id, created_at, data) = match event_type {
        EventType::TestSubmitted => (
            "evt_8f3a2c1b6e9d4a07",
            datetime!(2026-05-05 14:30:00 UTC),
            EventData::TestSubmitted(TestReport {
                test_id: TestId::new("bft_a1b2c3d4"),
                assembly_id: AssemblyId::new("asm_d4c3b2a1"),
                tester_id: TesterId::new("tst_7e8f9a0b"),
                result: TestResult::Pass,
                test_date: date!(2026 - 05 - 05),
                next_due_date: Some(date!(2027 - 05 - 05)),
                failure_reason: None,
                facility_name: Some("City Hall Annex".into()),
            }),
        ),
        EventType::TestFailed => (
            "evt_c4d5e6f7a8b90123",
            datetime!(2026-05-05 15:10:00 UTC),
            EventData::TestFailed(TestReport {
                test_id: TestId::new("bft_e5f6a7b8"),
                assembly_id: AssemblyId::new("asm_d4c3b2a1"),
                tester_id: TesterId::new("tst_7e8f9a0b"),
                result: TestResult::Fail,
                test_date: date!(2026 - 05 - 05),
                next_due_date: None,
                failure_reason: Some("First check valve failed to hold".into()),
                facility_name: Some("City Hall Annex".into()),
            }),
        ),
        EventType::AssemblyDueSoon => (
            "evt_1a2b3c4d5e6f7890",
            datetime!(2026-04-05 08:00:00 UTC),
            EventData::AssemblyDueSoon(AssemblyDueSoon {
                assembly_id: AssemblyId::new("asm_d4c3b2a1"),
                facility_id: FacilityId::new("fac_9876abcd"),
                due_date: date!(2026 - 05 - 05),
                days_remaining: 30,
                assembly_type: AssemblyType::Rpz,
                facility_name: Some("City Hall Annex".into()),
                address: Some("100 Main St".into()),
            }),
        ),
        EventType::IuExceedanceDetected => (
            "evt_f0e1d2c3b4a59687",
            datetime!(2026-05-05 11:45:00 UTC),
            EventData::IuExceedanceDetected(IuExceedanceDetected {
                sample_id: SampleId::new("smp_aabbccdd"),
                industrial_user_id: IndustrialUserId::new("iu_11223344"),
                permit_id: PermitId::new("prm_55667788"),
                facility_name: Some("Acme Metal Finishing".into()),
                exceedances: vec![Exceedance {
                    parameter: "Zinc".into(),
                    result_value: 3.8,
                    permit_limit: 2.6,
                    unit: "mg/L".into(),
                }],
                sample_date: date!(2026 - 05 - 03),
                monitoring_point: Some("MP-001".into()),
            }),
        ),
        EventType::PermitExpiring => (
            "evt_abcdef0123456789",
            datetime!(2026-03-06 08:00:00 UTC),
            EventData::PermitExpiring(PermitExpiring {
                permit_id: PermitId::new("prm_55667788"),
                industrial_user_id: IndustrialUserId::new("iu_11223344"),
                facility_name: Some("Acme Metal Finishing".into()),
                expiration_date: date!(2026 - 05 - 05),
                days_remaining: 60,
                permit_type: PermitType::Individual,
            }),
        ),
        EventType::ManifestFiled => (
            "evt_1122334455667788",
            datetime!(2026-05-05 16:20:00 UTC),
            EventData::ManifestFiled(ManifestFiled {
                pump_out_id: PumpOutId::new("po_aabb1122"),
                establishment_id: EstablishmentId::new("fse_ccdd3344"),
                hauler_id: HaulerId::new("hsp_eeff5566"),
                establishment_name: Some("Downtown Grill".into()),
                hauler_name: Some("CleanPipe Services".into()),
                gallons_pumped: 450.0,
                disposal_facility: Some("Metro WWTP".into()),
                service_date: date!(2026 - 05 - 05),
            }),
        ),
        EventType::NoticeCreated => (
            "evt_99887766aabbccdd",
            datetime!(2026-05-05 09:00:00 UTC),
            EventData::NoticeCreated(NoticeCreated {
                notice_id: NoticeId::new("ntc_ddeeff00"),
                facility_id: FacilityId::new("fac_9876abcd"),
                facility_name: Some("Acme Metal Finishing".into()),
                notice_type: NoticeType::Nov,
                severity: Severity::Significant,
                summary: Some("Zinc exceedance on 2026-05-03 sample".into()),
                due_date: Some(date!(2026 - 05 - 20)),
            }),
        ),
        EventType::InspectionCompleted => (
            "evt_ffeeddccbbaa9988",
            datetime!(2026-05-05 13:00:00 UTC),
            EventData::InspectionCompleted(InspectionCompleted {
                inspection_id: InspectionId::new("insp_aabb1234"),
                facility_id: FacilityId::new("fac_9876abcd"),
                facility_name: Some("Downtown Grill".into()),
                inspection_type: InspectionType::FogRoutine,
                result: InspectionResult::Satisfactory,
                inspector_name: Some("Jordan Lee".into()),
                completed_at: datetime!(2026-05-05 12:45:00 UTC),
            }),
        ),
        EventType::ReportCertified => (
            "evt_0011223344556677",
            datetime!(2026-05-05 17:00:00 UTC),
            EventData::ReportCertified(ReportCertified {
                report_id: ReportId::new("rpt_8899aabb"),
                report_type: ReportType::AnnualReport,
                period: "2025".into(),
                certified_by: Some("Maria Chen".into()),
                certified_at: datetime!(2026-05-05 16:55:00 UTC),
                facility_name: Some("Metro Water Authority".into()),
            }),
        ),
        EventType::PartnerApproved => (
            "evt_aabb00112233eeff",
            datetime!(2026-05-05 10:30:00 UTC),
            EventData::PartnerApproved(PartnerApproved {
                partner_id: PartnerId::new("prt_44556677"),
                partner_name: Some("LIMS Connect Inc.".into()),
                approved_at: datetime!(2026-05-05 10:28:00 UTC),
                integration_type: IntegrationType::Lims,
            }),
        ),
        EventType::PartnerApplicationSubmitted => (
            "evt_ddeeff0011223344",
            datetime!(2026-05-05 08:15:00 UTC),
            EventData::PartnerApplicationSubmitted(PartnerApplicationSubmitted {
                partner_id: PartnerId::new("prt_88990011"),
                partner_name: Some("GeoSync Mapping".into()),
                contact_email: Some("dev@geosync.example".into()),
                integration_type: IntegrationType::Gis,
                submitted_at: datetime!(2026-05-05 08:14:00 UTC),
            }),
        ),
        EventType::WebhookTest => (
            "evt_test_a1b2c3d4e5f67890",
            datetime!(2026-05-05 14:00:00 UTC),
            EventData::WebhookTest(WebhookTest {
                test: true,
                note: Some(
                    "This is a test event sent from the SmartComply dashboard. Subsequent live \
                     events will use the same envelope and signature scheme."
                        .into(),
                ),
                sent_at: Some(datetime!(2026-05-05 14:00:00 UTC)),
            }),
        ),
        EventType::Unknown(event_type) => (
            "evt_0123456789abcdef",
            datetime!(2026-05-05 14:00:00 UTC),
            EventData::Unknown(Unknown::new(event_type, serde_json::json!({}))),
        ),
    };
    Event {
        id: EventId::new(id),
        created_at,
        data,
    }
}

/// `event` as SmartComply delivers it at `at`: the compact JSON body, and
/// the [`SIGNATURE_HEADER`] signed with `secret` over it at that time.
///
/// A verifier accepts it while `at` is within its tolerance of the clock:
/// pass `OffsetDateTime::now_utc()` for a live handler, or check with
/// [`Verifier::verify_at`].
///
/// # Panics
///
/// When `event` cannot be written as JSON: a date or an instant outside
/// the years 0000 to 9999, or an instant whose UTC offset has seconds
/// (no event that [`parse`] reads holds one).
pub fn deliver(event: &Event, secret: impl AsRef<[u8]>, at: OffsetDateTime) -> Delivery {
    Delivery::signed(SIGNATURE_HEADER, event, |body| sign(secret, at, body))
}
