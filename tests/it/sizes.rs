//! The size of every public type: a batch of notifications, a result of a
//! parse and an error are moved and stored by value, so no public type may
//! be large (large parts are boxed).
//!
//! Run with `--nocapture` to see the table.

use std::mem::size_of;

use utility_webhooks::{
    Category, Error, PayloadError, ReadError, Unreadable, Vendor, idempotency, smartcomply,
    smarterwx,
};

/// The most bytes any public type may take by value.
const MAX: usize = 256;

/// The parts of a referral, which only live inside the one box of
/// `Message::ReferralCreate` and `Message::ReferralUpdate`: a batch holds a
/// pointer to each referral, not the referral. Boxing their own parts too
/// would cost one more allocation per referral read; they are held to a
/// ceiling of their own instead.
const BEHIND_THE_REFERRAL_BOX: [&str; 3] = [
    "smarterwx::Referral",
    "smarterwx::Enquiry",
    "smarterwx::User",
];

/// The ceiling of the types in [`BEHIND_THE_REFERRAL_BOX`].
const MAX_BOXED: usize = 1024;

macro_rules! sizes {
    ($($ty:ty),+ $(,)?) => {
        vec![$((stringify!($ty), size_of::<$ty>())),+]
    };
}

fn every_public_type() -> Vec<(&'static str, usize)> {
    let mut all = sizes![
        Error,
        PayloadError,
        ReadError,
        Category,
        Vendor,
        Result<smartcomply::Event, Error>,
        Result<Vec<smarterwx::Notification>, Error>,
        smarterwx::Item,
        smarterwx::Stale,
        Unreadable,
    ];
    all.extend(sizes![
        smartcomply::Verifier,
        smartcomply::Event,
        smartcomply::EventData,
        smartcomply::EventId,
        smartcomply::EventType,
        smartcomply::UnknownEvent,
        smartcomply::WebhookTest,
        smartcomply::AssemblyDueSoon,
        smartcomply::AssemblyId,
        smartcomply::AssemblyType,
        smartcomply::TestFailed,
        smartcomply::TestId,
        smartcomply::TestReport,
        smartcomply::TestResult,
        smartcomply::TestSubmitted,
        smartcomply::TesterId,
        smartcomply::EstablishmentId,
        smartcomply::HaulerId,
        smartcomply::ManifestFiled,
        smartcomply::PumpOutId,
        smartcomply::InspectionCompleted,
        smartcomply::InspectionId,
        smartcomply::InspectionResult,
        smartcomply::InspectionType,
        smartcomply::FacilityId,
        smartcomply::NoticeCreated,
        smartcomply::NoticeId,
        smartcomply::NoticeType,
        smartcomply::Severity,
        smartcomply::IntegrationType,
        smartcomply::PartnerApplicationSubmitted,
        smartcomply::PartnerApproved,
        smartcomply::PartnerId,
        smartcomply::Exceedance,
        smartcomply::IndustrialUserId,
        smartcomply::IuExceedanceDetected,
        smartcomply::PermitExpiring,
        smartcomply::PermitId,
        smartcomply::PermitType,
        smartcomply::SampleId,
        smartcomply::ReportCertified,
        smartcomply::ReportId,
        smartcomply::ReportType,
    ]);
    all.extend(sizes![
        smarterwx::Verifier,
        smarterwx::EventType,
        smarterwx::Message,
        smarterwx::Notification,
        smarterwx::NotificationId,
        smarterwx::UnknownMessage,
        smarterwx::ActivityCode,
        smarterwx::Address,
        smarterwx::AuthorityType,
        smarterwx::Enquiry,
        smarterwx::EnquirySource,
        smarterwx::LocationInRoad,
        smarterwx::LocationType,
        smarterwx::Organisation,
        smarterwx::Referral,
        smarterwx::ReferralStatus,
        smarterwx::User,
    ]);
    all.extend(sizes![
        idempotency::MemoryStore,
        idempotency::Claim,
        idempotency::Lease,
        idempotency::StoreError,
        idempotency::StoreErrorKind,
        idempotency::Outcome<(), ()>,
    ]);
    #[cfg(feature = "redis")]
    all.extend(sizes![idempotency::RedisStore]);
    all
}

#[test]
fn no_public_type_is_over_256_bytes() {
    let all = every_public_type();
    for (name, size) in &all {
        println!("{size:>5}  {name}");
    }
    let over: Vec<_> = all
        .iter()
        .filter(|(name, size)| {
            let max = if BEHIND_THE_REFERRAL_BOX.contains(name) {
                MAX_BOXED
            } else {
                MAX
            };
            *size > max
        })
        .collect();
    assert!(over.is_empty(), "too large: {over:?}");
    for name in BEHIND_THE_REFERRAL_BOX {
        assert!(all.iter().any(|(listed, _)| *listed == name), "{name}");
    }
}

#[test]
fn a_referral_is_one_pointer_in_its_message() {
    use smarterwx::{Message, Referral};
    assert_eq!(size_of::<Option<Box<Referral>>>(), size_of::<usize>());
    // The largest variant is the unknown event's name and raw JSON.
    assert!(size_of::<Message>() <= size_of::<smarterwx::UnknownMessage>() + size_of::<usize>());
    let seed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/smarterwx/referral_create.json"
    ))
    .unwrap();
    let batch = smarterwx::parse(&seed).unwrap();
    let Message::ReferralCreate(referral) = &batch[0].message else {
        panic!("{:?}", batch[0].message)
    };
    // Fields read through the box as before.
    assert_eq!(referral.enquiry.address.postcode, "3003");
    let referral: &Referral = referral;
    assert_eq!(batch[0].message.referral(), Some(referral));
}

#[test]
fn a_batch_costs_a_few_words_per_notification() {
    // A `Vec` holds its elements inline: each notification of a batch of
    // 100 takes `size_of::<Notification>()` bytes whatever its event.
    assert!(size_of::<smarterwx::Notification>() <= 128);
    assert!(size_of::<smarterwx::Item>() <= 128);
    assert_eq!(size_of::<Unreadable>(), size_of::<usize>());
    assert!(size_of::<Result<smartcomply::Event, Error>>() <= MAX);
}
