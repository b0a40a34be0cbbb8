//! Sample SmarterWX notifications, and signed deliveries of batches of
//! them, to test your own handlers.
//!
//! The samples carry the values of SmarterWX's own example. Their fields
//! are `pub`: change what your test is about, then [`deliver`].
//!
//! ```
//! use utility_webhooks::smarterwx::testing::{deliver, sample};
//! use utility_webhooks::smarterwx::{EventType, Message, Verifier};
//!
//! let create = sample(EventType::ReferralCreate);
//! let mut update = sample(EventType::ReferralUpdate);
//! if let Message::ReferralUpdate(referral) = &mut update.message {
//!     referral.enquiry.address.postcode = "0800".into();
//! }
//! let delivery = deliver(&[create, update.clone()], "my-secret");
//!
//! let verifier = Verifier::new("my-secret")?;
//! let batch = verifier.verify_and_parse(&delivery.header, delivery.body.as_bytes())?;
//! assert_eq!(batch.len(), 2);
//! assert_eq!(batch[1], update);
//! # Ok::<(), utility_webhooks::Error>(())
//! ```

use time::macros::{date, datetime};

use super::*;
pub use crate::testing::Delivery;
use crate::wire::Unknown;

/// A realistic notification of `event_type`, with the values of
/// SmarterWX's example referral (`referral:update` as a later version of
/// it, with a `messageVersion`). For an event the crate does not know
/// ([`EventType::Unknown`]), a notification of that event with an empty
/// `message` object.
pub fn sample(event_type: EventType) -> Notification {
    // A known event built as `Unknown("referral:create")` is still that one.
    let event_type = EventType::from(event_type.as_str());
    let (uuid, timestamp, message) = match event_type {
        EventType::ReferralCreate => (
            "fd07b9f3-dd85-4615-a1e8-8fced35ef2e5",
            datetime!(2020-08-11 07:44:10 UTC),
            Message::ReferralCreate(referral(300_077_255, None)),
        ),
        EventType::ReferralUpdate => (
            "3b9c2e4a-7f1d-4c8e-9a6b-5d2f0e1c7a93",
            datetime!(2020-11-29 09:15:42 UTC),
            Message::ReferralUpdate(referral(300_077_256, Some("2.1.0.0"))),
        ),
        EventType::Unknown(event) => (
            "0b6f1c9e-2d4a-4e8b-9c3f-7a5d1e2b4c60",
            datetime!(2023-11-20 01:00:00 UTC),
            Message::Unknown(Unknown::new(event, serde_json::json!({}))),
        ),
    };
    Notification {
        uuid: NotificationId::new(uuid),
        timestamp,
        message_version: None,
        message,
    }
}

/// SmarterWX's example referral, waiting, at `sequence_number`.
fn referral(sequence_number: u64, version: Option<&str>) -> Box<Referral> {
    let address = Address {
        id: Some(123),
        line1: "613 King St".into(),
        line2: Some("Suite 13".into()),
        locality: "West Melbourne".into(),
        state: "VIC".into(),
        postcode: "3003".into(),
        country: "AUS".into(),
    };
    Box::new(Referral {
        id: 234,
        created_at: datetime!(2020-11-28 06:08:01 UTC),
        status: ReferralStatus::Waiting,
        sequence_number,
        message_version: version.map(str::to_owned),
        organisation: Organisation {
            id: 234,
            name: "Melbourne Water".into(),
            utility_id: 80010,
        },
        enquiry: Enquiry {
            id: 234,
            created_at: datetime!(2020-11-28 06:08:00 UTC),
            job_number: 40_000_255,
            user_reference: Some("Plan Ref AB/123".into()),
            notes: Some("I am going to be digging a rather large hole.".into()),
            dig_start_at: date!(2020 - 11 - 29),
            dig_end_at: date!(2020 - 11 - 30),
            is_planning_job: false,
            activity_types: vec!["MANUAL_EXCAVATION, HORIZ_BORING".into()],
            activity_types_localized: vec!["Manual Excavation, Horizontal Boring".into()],
            authority_type: AuthorityType::Utility,
            authority_name: "Melbourne Water".into(),
            location_types: vec![LocationType::RoadReserve],
            locations_in_road: vec![LocationInRoad::Road],
            is_sandbox_test: false,
            geometry: serde_json::Value::Object(serde_json::Map::new()),
            address: address.clone(),
            user: User {
                id: 234,
                email: "as567sadf.asdf87asdf@relay.smarterwx.com".into(),
                registered_email: Some("gary@smarterwx.com".into()),
                first_name: Some("Ross".into()),
                last_name: Some("Noble".into()),
                phone_number: Some("61444111222".into()),
                company_name: Some("Jimmy Diggers".into()),
                address: Some(address),
                verification_status: None,
                subscription_status: None,
                preferred_data_format: None,
            },
            project_reference: None,
            source: None,
        },
    })
}

/// `notifications` as SmarterWX delivers them: one compact JSON array,
/// and the [`SIGNATURE_HEADER`] signed with `secret` over it.
///
/// # Panics
///
/// When a notification cannot be written as JSON: a date or an instant
/// outside the years 0000 to 9999, or an instant whose UTC offset has
/// seconds (no notification that [`parse`] reads holds one).
pub fn deliver(notifications: &[Notification], secret: impl AsRef<[u8]>) -> Delivery {
    Delivery::signed(SIGNATURE_HEADER, notifications, |body| sign(secret, body))
}
