//! Deliveries for the inbox's tests and benchmark: SmartComply events and
//! SmarterWX notifications with the ids, times and subjects a test picks,
//! written with the white space a vendor may send, so that "byte for byte"
//! is tested, not assumed.
//!
//! The benchmark includes this file with `#[path]`, so it depends on
//! nothing else in `tests/common`.
#![allow(dead_code)]

use serde_json::{Value, json};

/// A SmartComply `test.failed` event (`assembly: Some(..)`) or
/// `notice.created` event (`None`, no assembly), with `id` and
/// `created_at`, pretty-printed.
pub fn smartcomply_body(id: &str, created_at: &str, assembly: Option<&str>) -> Vec<u8> {
    let event = match assembly {
        Some(assembly) => json!({
            "id": id,
            "type": "test.failed",
            "created_at": created_at,
            "data": {
                "test_id": "bft_e5f6a7b8",
                "assembly_id": assembly,
                "tester_id": "tst_7e8f9a0b",
                "result": "fail",
                "test_date": "2026-05-05",
                "failure_reason": "First check valve failed to hold"
            }
        }),
        None => json!({
            "id": id,
            "type": "webhook.test",
            "created_at": created_at,
            "data": {"message": "a test event"}
        }),
    };
    let mut body = serde_json::to_vec_pretty(&event).unwrap();
    body.extend_from_slice(b"\n");
    body
}

/// A SmarterWX `referral:create` or `referral:update` notification for
/// referral `referral`.
pub fn notification(uuid: &str, timestamp: &str, referral: u64, event: &str) -> Value {
    json!({
        "uuid": uuid,
        "event": event,
        "timestamp": timestamp,
        "message": {
            "id": referral,
            "createdAt": "2020-11-28 06:08:01.000Z",
            "status": "WAITING",
            "sequenceNumber": 300077255,
            "Organisation": {"id": 234, "name": "Melbourne Water", "utilityId": 80010},
            "Enquiry": {
                "id": referral,
                "createdAt": "2020-11-28 06:08:00.000Z",
                "jobNumber": 40000255,
                "digStartAt": "2020-11-29",
                "digEndAt": "2020-11-30",
                "isPlanningJob": false,
                "activityTypes": ["MANUAL_EXCAVATION"],
                "activityTypesLocalized": ["Manual Excavation"],
                "authorityType": "Utility",
                "authorityName": "Melbourne Water",
                "locationTypes": ["Road Reserve"],
                "locationsInRoad": ["Road"],
                "isSandboxTest": false,
                "geometry": {},
                "Address": {"line1": "1 Mitchell St", "locality": "Darwin", "state": "NT",
                            "postcode": "0800", "country": "AUS"},
                "User": {"id": 234, "email": "someone@relay.smarterwx.com", "phoneNumber": 61444111222_u64}
            }
        }
    })
}

/// A batch body: the notifications, each pretty-printed, in an array with
/// uneven white space between them.
pub fn batch_body(notifications: &[Value]) -> Vec<u8> {
    let parts: Vec<String> = notifications
        .iter()
        .map(|n| serde_json::to_string_pretty(n).unwrap())
        .collect();
    format!("[ {} ]\n", parts.join(" ,\n  ")).into_bytes()
}

/// The raw JSON of each notification of `body`, as sent.
pub fn raw_notifications(body: &[u8]) -> Vec<Vec<u8>> {
    let raws: Vec<&serde_json::value::RawValue> = serde_json::from_slice(body).unwrap();
    raws.iter()
        .map(|raw| raw.get().as_bytes().to_vec())
        .collect()
}
