//! Inputs that once broke an invariant, each with the result it must give.

use serde_json::json;
use utility_webhooks::{Error, PayloadError, smartcomply, smarterwx};

/// Numbers whose shortest form has 16 or 17 significant digits, which
/// `serde_json`'s default float parsing rounded to a neighbouring `f64`:
/// the value read was not the value written, so a parsed body did not
/// serialize and parse back equal.
const FLOATS: [f64; 4] = [
    1.503_375_599_126_941_2e215,
    -1.490_143_767_845_386e129,
    1.947_700_395_895_162e-169,
    6.162_599_865_641_032e196,
];

#[test]
fn measured_values_are_read_exactly_and_round_trip() {
    for value in FLOATS {
        let body = format!(
            r#"{{"id":"evt_1","type":"iu.exceedance_detected","created_at":"2026-05-05T11:45:00Z",
            "data":{{"sample_id":"smp_1","industrial_user_id":"iu_1","permit_id":"prm_1",
            "exceedances":[{{"parameter":"Zinc","result_value":{value:e},"permit_limit":{value:?},"unit":"mg/L"}}],
            "sample_date":"2026-05-03"}}}}"#
        );
        let event = smartcomply::parse(body.as_bytes()).unwrap();
        let smartcomply::EventData::IuExceedanceDetected(x) = &event.data else {
            panic!("{event:?}")
        };
        assert_eq!(x.exceedances[0].result_value, value);
        assert_eq!(x.exceedances[0].permit_limit, value);
        let written = serde_json::to_vec(&event).unwrap();
        assert_eq!(smartcomply::parse(&written).unwrap(), event);
    }
}

#[test]
fn raw_json_numbers_round_trip() {
    // The shrunk input: a number deep in a SmarterWX `geometry`, kept as
    // raw JSON.
    let body = br#"[{"uuid":"e4c7a2b9-6d1f-4a83-b05e-9f3c8d2a1e64","event":"referral:create","timestamp":"2021-03-02T04:05:06Z","message":{"id":720,"createdAt":"2020-11-28 06:08:01.000Z","status":"WAITING","sequenceNumber":300100720,"Organisation":{"id":234,"name":"Melbourne Water","utilityId":80010},"Enquiry":{"id":720,"createdAt":"2020-11-28 06:08:00.000Z","jobNumber":40000720,"digStartAt":"2020-11-29","digEndAt":"2020-11-30","isPlanningJob":false,"activityTypes":[],"activityTypesLocalized":[],"authorityType":"Utility","authorityName":"Melbourne Water","locationTypes":["Private"],"locationsInRoad":["Footpath"],"isSandboxTest":false,"geometry":{"type":"Polygon","coordinates":[[[[{"":1.5033755991269412e+215}],-37.81],[144.95,-37.81]]]},"Address":{"line1":"613 King St","locality":"West Melbourne","state":"VIC","postcode":3003,"country":"AUS"},"User":{"id":234,"email":"a@relay.smarterwx.com"}}}}]"#;
    let batch = smarterwx::parse(body).unwrap();
    let geometry = &batch[0].message.referral().unwrap().enquiry.geometry;
    assert_eq!(
        geometry["coordinates"][0][0][0][0][""],
        json!(1.503_375_599_126_941_2e215)
    );
    let written = serde_json::to_vec(&batch).unwrap();
    assert_eq!(smarterwx::parse(&written).unwrap(), batch);

    // The same in the raw `data` of an unknown SmartComply event.
    for value in FLOATS {
        let body = json!({"id": "evt_1", "type": "meter.read",
            "created_at": "2026-05-05T14:00:00Z", "data": {"reading": value}});
        let event = smartcomply::parse(&serde_json::to_vec(&body).unwrap()).unwrap();
        let smartcomply::EventData::Unknown(unknown) = &event.data else {
            panic!("{event:?}")
        };
        assert_eq!(unknown.data["reading"].as_f64(), Some(value));
        let written = serde_json::to_vec(&event).unwrap();
        assert_eq!(smartcomply::parse(&written).unwrap(), event);
    }
}

#[test]
fn a_long_value_of_the_wrong_type_is_quoted_cut_short() {
    // `serde_json` quotes the whole value in "invalid type" messages: a
    // 1 MB string where a boolean belongs made a 1 MB message.
    let long = "x".repeat(1 << 20);
    let body = format!(
        r#"{{"id":"evt_1","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{{"test":"{long}","sent_at":"2026-05-05T14:00:00Z"}}}}"#
    );
    let Err(Error::Payload(e)) = smartcomply::parse(body.as_bytes()) else {
        panic!("not a payload error")
    };
    assert_eq!(e.path(), Some("data.test"));
    // Head and tail kept, the budget in all.
    assert_eq!(
        e.message().len(),
        utility_webhooks::PayloadError::MAX_MESSAGE
    );
    assert!(e.message().starts_with("invalid type: string \"xxx"), "{e}");
    assert!(e.message().contains('…'), "{e}");
    assert!(e.message().ends_with("xxx\", expected a boolean"), "{e}");
    assert!(e.to_string().len() <= 1024, "{e}");

    // Short messages are kept whole.
    let body = br#"{"id":"evt_1","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{"test":"yes","sent_at":"2026-05-05T14:00:00Z"}}"#;
    let Err(Error::Payload(e)) = smartcomply::parse(body) else {
        panic!("not a payload error")
    };
    assert_eq!(
        e.message(),
        "invalid type: string \"yes\", expected a boolean"
    );
}

/// Two bodies the fuzz targets found, whose messages quoted the sender's
/// text past the message budget: a top-level string, and a string of
/// backslashes (each echoed as two) after an array.
#[test]
fn messages_that_quote_the_sender_stay_within_the_budget() {
    let string = format!("\" {}\"", "x".repeat(116));
    let mut backslashes = br#"["[2MMM\\\\\\\\\\[666600000000000000\\[66660000000000000000000000000000088435648\\\\X\\\\\\\\\\\\\\\\\\\\\\\\M3M0""#.to_vec();
    backslashes.extend_from_slice(b"\xff\xff");
    assert_eq!((string.len(), backslashes.len()), (119, 116));
    for (label, result) in [
        (
            "smartcomply string",
            smartcomply::parse(string.as_bytes()).map(drop),
        ),
        (
            "smarterwx string",
            smarterwx::parse(string.as_bytes()).map(drop),
        ),
        (
            "smartcomply backslashes",
            smartcomply::parse(&backslashes).map(drop),
        ),
        (
            "smarterwx backslashes",
            smarterwx::parse(&backslashes).map(drop),
        ),
    ] {
        let Err(Error::Payload(e)) = result else {
            panic!("{label}: not a payload error")
        };
        let message = e.message();
        assert!(
            message.len() <= PayloadError::MAX_MESSAGE,
            "{label}: {} bytes: {message}",
            message.len()
        );
        // Where the sender's string is quoted, its head and tail are kept,
        // and what was expected.
        if label == "smartcomply string" || label == "smarterwx backslashes" {
            assert!(
                message.starts_with("invalid type: string \""),
                "{label}: {message}"
            );
        }
        if message.starts_with("invalid type: string \"") {
            assert!(message.contains('…'), "{label}: {message}");
            assert!(message.contains("\", expected "), "{label}: {message}");
        }
        assert!(e.to_string().len() <= 1024, "{label}");
    }
}
