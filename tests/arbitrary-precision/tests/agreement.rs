//! The crate's parsers against plain `serde_json`, with `serde_json`'s
//! `arbitrary_precision` feature on. With it, `serde_json` hands a float to
//! a visitor that asked for any value as its text, so a raw `Value` keeps
//! the number as written (`1e3`, `1.50`); the crate's fast reader must then
//! not produce a different number than its `serde_json` fallback.

#[path = "../../it/common/mod.rs"]
mod common;

use common::differential::{
    Vendor, agreement, all_fixtures, any_fixture, json_value, key_text, number_text, with_raw_key,
    with_raw_value, with_value_replaced,
};
use proptest::prelude::*;
use serde_json::Value;
use utility_webhooks::{smartcomply, smarterwx};

/// Number texts that `serde_json` keeps as text with the feature on, and
/// that a reader going through `f64` would write otherwise.
const TEXTS: [&str; 7] = [
    "1e3",
    "1.50",
    "1E+2",
    "-0",
    "0.10",
    "123456789012345678901234",
    "-9223372036854775809",
];

#[test]
fn the_feature_is_on() {
    // Without it, "1e3" is read as the float 1000 and printed as "1000.0";
    // with it, the text is kept (with the exponent's sign spelled out).
    let number: serde_json::Number = serde_json::from_str("1e3").unwrap();
    assert_eq!(number.to_string(), "1e+3");
}

/// The number `text` as `serde_json` keeps it with the feature on.
fn kept(text: &str) -> String {
    serde_json::from_str::<serde_json::Number>(text)
        .unwrap()
        .to_string()
}

#[test]
fn kept_numbers_differ_from_their_f64() {
    // So that the tests below would see a reader that went through `f64`.
    for text in TEXTS {
        let float: f64 = text.parse().unwrap();
        let through_f64 = serde_json::Number::from_f64(float).map(|n| n.to_string());
        assert_ne!(Some(kept(text)), through_f64, "{text}");
    }
}

#[test]
fn every_fixture_parses_alike() {
    for (vendor, body) in all_fixtures() {
        assert_eq!(
            agreement(vendor, &body),
            Ok(true),
            "{}",
            String::from_utf8_lossy(&body)
        );
    }
}

#[test]
fn raw_smartcomply_data_keeps_numbers_as_written() {
    for text in TEXTS {
        let body = format!(
            r#"{{"id":"evt_1","type":"meter.read","created_at":"2026-05-05T14:00:00Z","data":{{"reading":{text},"list":[{text}]}}}}"#
        );
        assert_eq!(agreement(Vendor::SmartComply, body.as_bytes()), Ok(true));
        let event = smartcomply::parse(body.as_bytes()).unwrap();
        let smartcomply::EventData::Unknown(unknown) = &event.data else {
            panic!("{event:?}")
        };
        assert_eq!(unknown.data["reading"].to_string(), kept(text));
        assert_eq!(unknown.data["list"][0].to_string(), kept(text));
    }
}

#[test]
fn smarterwx_geometry_keeps_numbers_as_written() {
    let fixture = common::fixture("smarterwx/referral_create.json");
    for text in TEXTS {
        let mut tree: Value = serde_json::from_slice(&fixture).unwrap();
        tree[0]["message"]["Enquiry"]["geometry"] = serde_json::json!({"coordinates": "SLOT"});
        let body = serde_json::to_string(&tree)
            .unwrap()
            .replace(r#""SLOT""#, &format!("[{text},{text}]"));
        assert_eq!(agreement(Vendor::SmarterWx, body.as_bytes()), Ok(true));
        let batch = smarterwx::parse(body.as_bytes()).unwrap();
        let geometry = &batch[0].message.referral().unwrap().enquiry.geometry;
        assert_eq!(geometry["coordinates"][1].to_string(), kept(text));
    }
}

#[test]
fn numbers_as_text_fields_read_the_same_as_without_the_feature() {
    // `postcode` and `phoneNumber` take a string or a number. A float there
    // reaches the model as text with the feature on; it is read back as the
    // float, so the field holds what it holds without the feature.
    let fixture = common::fixture("smarterwx/referral_create.json");
    for (text, want) in [
        ("3003", "3003"),
        ("3003.5", "3003.5"),
        ("1e3", "1000"),
        ("-0", "-0"),
        ("123456789012345678901234", "123456789012345690000000"),
    ] {
        let mut tree: Value = serde_json::from_slice(&fixture).unwrap();
        tree[0]["message"]["Enquiry"]["Address"]["postcode"] = Value::from("SLOT");
        let body = serde_json::to_string(&tree)
            .unwrap()
            .replace(r#""SLOT""#, text);
        assert_eq!(agreement(Vendor::SmarterWx, body.as_bytes()), Ok(true));
        let batch = smarterwx::parse(body.as_bytes()).unwrap();
        let postcode = &batch[0]
            .message
            .referral()
            .unwrap()
            .enquiry
            .address
            .postcode;
        assert_eq!(postcode, want, "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn parsers_agree_on_edited_fixtures(
        (vendor, mut body) in any_fixture(),
        at in any::<usize>(),
        byte in any::<u8>(),
    ) {
        let at = at % body.len();
        body[at] = byte;
        agreement(vendor, &body).map_err(TestCaseError::fail)?;
    }
}

common::differential::agreement_properties!(256);

#[test]
fn a_payload_before_its_type_reads_alike() {
    // `data` before `type` is buffered as a `Value` (numbers kept as text)
    // and read into its model afterwards: the float comes out the same as
    // when `type` comes first.
    for text in ["3.8", "1.50", "1e3", "-0", "2.5E-8"] {
        let later = format!(
            r#"{{"id":"evt_1","created_at":"2026-05-05T11:45:00Z","data":{{"sample_id":"smp_1","industrial_user_id":"iu_1","permit_id":"prm_1","exceedances":[{{"parameter":"Zinc","result_value":{text},"permit_limit":2.6,"unit":"mg/L"}}],"sample_date":"2026-05-03"}},"type":"iu.exceedance_detected"}}"#
        );
        let first = later
            .replacen(
                r#"{"id":"evt_1","#,
                r#"{"type":"iu.exceedance_detected","id":"evt_1","#,
                1,
            )
            .replacen(r#","type":"iu.exceedance_detected"}"#, "}", 1);
        for body in [&later, &first] {
            assert_eq!(agreement(Vendor::SmartComply, body.as_bytes()), Ok(true));
            let event = smartcomply::parse(body.as_bytes()).unwrap();
            let smartcomply::EventData::IuExceedanceDetected(x) = &event.data else {
                panic!("{event:?}")
            };
            let want: f64 = text.parse().unwrap();
            assert_eq!(x.exceedances[0].result_value.to_bits(), want.to_bits());
        }
    }
}
