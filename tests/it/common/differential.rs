//! The crate's parsers against plain `serde_json`, for the differential
//! property tests (here and in the `arbitrary_precision` check crate).
//!
//! `smartcomply::parse` and `smarterwx::parse` read a body with a fast
//! reader and fall back to `serde_json`; either way they must answer as
//! `serde_json::from_slice` into the same types answers: both accept or
//! both refuse, and where both accept, the same value.

use proptest::prelude::*;
use serde_json::Value;
use utility_webhooks::{Error, smartcomply, smarterwx};

use super::fixtures_in;

/// Which parser a body is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Vendor {
    SmartComply,
    SmarterWx,
}

/// Every fixture of both vendors, each with its vendor.
pub fn all_fixtures() -> Vec<(Vendor, Vec<u8>)> {
    let sc = fixtures_in("smartcomply")
        .into_iter()
        .map(|(_, b)| (Vendor::SmartComply, b));
    let swx = fixtures_in("smarterwx")
        .into_iter()
        .map(|(_, b)| (Vendor::SmarterWx, b));
    sc.chain(swx).collect()
}

/// What plain `serde_json` makes of a SmarterWX body under the batch rule:
/// an array of notifications, or one bare notification object.
pub fn serde_json_batch(body: &[u8]) -> serde_json::Result<Vec<smarterwx::Notification>> {
    let first = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
    if first == Some(&b'{') {
        serde_json::from_slice::<smarterwx::Notification>(body).map(|n| vec![n])
    } else {
        serde_json::from_slice(body)
    }
}

/// Compare the crate with `serde_json` on `body`. `Ok(true)` when both
/// accept with the same value, `Ok(false)` when both refuse, and a
/// description of the disagreement otherwise.
pub fn agreement(vendor: Vendor, body: &[u8]) -> Result<bool, String> {
    match vendor {
        Vendor::SmartComply => compare(
            smartcomply::parse(body),
            serde_json::from_slice::<smartcomply::Event>(body),
            body,
        ),
        Vendor::SmarterWx => compare(smarterwx::parse(body), serde_json_batch(body), body),
    }
}

fn compare<T: PartialEq + std::fmt::Debug>(
    ours: Result<T, Error>,
    plain: serde_json::Result<T>,
    body: &[u8],
) -> Result<bool, String> {
    let shown = String::from_utf8_lossy(body);
    match (ours, plain) {
        // `Debug` as well as `==`: it tells `-0.0` from `0.0` and shows a
        // raw number's text.
        (Ok(ours), Ok(plain)) if ours == plain && format!("{ours:?}") == format!("{plain:?}") => {
            Ok(true)
        }
        (Ok(ours), Ok(plain)) => Err(format!(
            "different values for {shown:?}:\n  crate:      {ours:?}\n  serde_json: {plain:?}"
        )),
        (Err(Error::Payload(_)), Err(_)) => Ok(false),
        (Ok(ours), Err(e)) => Err(format!(
            "the crate accepts what serde_json refuses ({e}) in {shown:?}: {ours:?}"
        )),
        (Err(e), Ok(plain)) => Err(format!(
            "the crate refuses ({e}) what serde_json accepts in {shown:?}: {plain:?}"
        )),
        (Err(e), Err(_)) => Err(format!("not a payload error: {e:?} for {shown:?}")),
    }
}

/// A fixture of either vendor.
pub fn any_fixture() -> impl Strategy<Value = (Vendor, Vec<u8>)> {
    prop::sample::select(all_fixtures())
}

/// Arbitrary JSON: scalars (with date-like strings, which reach the date
/// and time parsers), arrays and objects, a few levels deep.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from), // non-finite ones become null
        ".{0,12}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
            .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON number texts in the forms senders write and the forms only a
/// hand-written body has: exponents, trailing zeros, `-0`, integers past
/// `u64`.
pub fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,3})",
        "-?(0|[1-9][0-9]{0,3})\\.[0-9]{1,4}",
        "-?(0|[1-9][0-9]{0,2})(\\.[0-9]{1,3})?[eE][+-]?[0-9]{1,3}",
        "-?[1-9][0-9]{19,30}",
        Just("-0".to_string()),
        Just("-0.0".to_string()),
        Just("1.50".to_string()),
        Just("1e3".to_string()),
    ]
}

/// Bytes to put between the quotes of an object key: plain and escaped
/// text, and what JSON forbids there (raw control bytes, lone surrogate
/// escapes, invalid UTF-8).
pub fn key_text() -> impl Strategy<Value = Vec<u8>> {
    let known = prop::sample::select(vec![
        "id",
        "type",
        "data",
        "created_at",
        "uuid",
        "event",
        "timestamp",
        "message",
        "test_id",
        "result",
        "status",
        "Enquiry",
        "Address",
        "postcode",
        "geometry",
    ]);
    prop_oneof![
        "[a-z_]{0,8}".prop_map(String::into_bytes),
        known.clone().prop_map(|k| k.as_bytes().to_vec()),
        // A known name written with an escape.
        known.prop_map(|k| {
            let mut escaped = format!("\\u{:04x}", k.as_bytes()[0]).into_bytes();
            escaped.extend_from_slice(&k.as_bytes()[1..]);
            escaped
        }),
        (0u8..0x20).prop_map(|c| vec![b'k', c]),
        Just(b"\\ud800".to_vec()),
        Just(b"\\udfff".to_vec()),
        Just(b"k\\ud800\\u0041".to_vec()),
        Just(b"\\ud83d\\ude00".to_vec()),
        Just(b"\\u0000".to_vec()),
        prop::collection::vec(0x80u8..=0xff, 1..3),
        Just(b"\xed\xa0\x80".to_vec()),
        Just(b"\xc0\xaf".to_vec()),
        Just("é€😀".as_bytes().to_vec()),
    ]
}

/// JSON pointers to every value in `v` (the root included).
pub fn value_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                value_pointers(child, format!("{at}/{}", escape(k)), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                value_pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// The JSON `body` with one value at or under the pointer `under` (`""`
/// for anywhere), chosen by `at`, replaced by `replacement`.
pub fn with_value_replaced(body: &[u8], under: &str, at: usize, replacement: Value) -> Value {
    let mut value: Value = serde_json::from_slice(body).unwrap();
    let mut pointers = Vec::new();
    value_pointers(
        value.pointer(under).unwrap(),
        under.to_owned(),
        &mut pointers,
    );
    *value.pointer_mut(&pointers[at % pointers.len()]).unwrap() = replacement;
    value
}

/// JSON pointers to every object in `v`.
pub fn object_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            out.push(at.clone());
            for (k, child) in map {
                object_pointers(child, format!("{at}/{}", escape(k)), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                object_pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// `key` as a JSON pointer segment.
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A stand-in written where raw bytes go once the body is serialized.
const SLOT: &str = "\u{1}SLOT\u{1}";

/// `body` (a fixture) with the value at one pointer replaced by the raw
/// JSON text `raw`. The stand-in string is written escaped (`\u0001`) by
/// `serde_json`, so it cannot be mistaken for anything in the fixture.
/// The pointer is number `at` (modulo their count) in document order.
pub fn with_raw_value(body: &[u8], at: usize, raw: &[u8]) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(body).unwrap();
    let mut pointers = Vec::new();
    value_pointers(&value, String::new(), &mut pointers);
    *value.pointer_mut(&pointers[at % pointers.len()]).unwrap() = Value::String(SLOT.into());
    replace_slot(
        &value,
        &[b"\"", placeholder().as_slice(), b"\""].concat(),
        raw,
    )
}

/// `body` (a fixture) with one more key in one of its objects, written
/// with the raw bytes `key` between its quotes, and `value` as its value.
/// The object is number `at` (modulo their count) in document order.
pub fn with_raw_key(body: &[u8], at: usize, key: &[u8], value: Value) -> Vec<u8> {
    let mut value_tree: Value = serde_json::from_slice(body).unwrap();
    let mut objects = Vec::new();
    object_pointers(&value_tree, String::new(), &mut objects);
    let object = value_tree
        .pointer_mut(&objects[at % objects.len()])
        .unwrap();
    object.as_object_mut().unwrap().insert(SLOT.into(), value);
    replace_slot(&value_tree, &placeholder(), key)
}

/// The stand-in as `serde_json` writes it.
fn placeholder() -> Vec<u8> {
    let written = serde_json::to_vec(&Value::String(SLOT.into())).unwrap();
    written[1..written.len() - 1].to_vec()
}

fn replace_slot(value: &Value, slot: &[u8], raw: &[u8]) -> Vec<u8> {
    let written = serde_json::to_vec(value).unwrap();
    let at = written
        .windows(slot.len())
        .position(|w| w == slot)
        .expect("the stand-in is written once");
    [&written[..at], raw, &written[at + slot.len()..]].concat()
}

/// The agreement properties that take no strategy of their own: any value
/// replaced, any key, any number text, each through [`agreement`]. One
/// definition, run by `tests/it/properties.rs` and again, with `serde_json`'s
/// `arbitrary_precision` on, by the check crate.
#[allow(unused_macros)] // expanded only by the test crates that run the properties
macro_rules! agreement_properties {
    ($cases:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]

            #[test]
            fn parsers_agree_with_serde_json_on_replaced_values(
                (vendor, body) in any_fixture(),
                at in any::<usize>(),
                replacement in json_value(),
            ) {
                let value = with_value_replaced(&body, "", at, replacement);
                agreement(vendor, &serde_json::to_vec(&value).unwrap()).map_err(TestCaseError::fail)?;
            }

            #[test]
            fn parsers_agree_with_serde_json_on_any_key(
                (vendor, body) in any_fixture(),
                at in any::<usize>(),
                key in key_text(),
                value in json_value(),
            ) {
                let body = with_raw_key(&body, at, &key, value);
                agreement(vendor, &body).map_err(TestCaseError::fail)?;
            }

            #[test]
            fn parsers_agree_with_serde_json_on_any_number_text(
                (vendor, body) in any_fixture(),
                at in any::<usize>(),
                number in number_text(),
            ) {
                let body = with_raw_value(&body, at, number.as_bytes());
                agreement(vendor, &body).map_err(TestCaseError::fail)?;
            }
        }
    };
}
#[allow(unused_imports)] // used by the test crates that run the properties
pub(crate) use agreement_properties;
