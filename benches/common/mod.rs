//! Bodies, the lower bound and the hand-written verifiers shared by the
//! benchmarks.
#![allow(dead_code)]

use std::hint::black_box;

use hmac::{Hmac, KeyInit, Mac};
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};

pub const SECRET: &str = "whsec_k7Lm9PqRsTuVwXyZ0123456789abcdef";

pub fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A fixture as a sender puts it on the wire: compact JSON, keys in the
/// order written (a round trip through `serde_json::Value` would sort them).
pub fn compact(path: &str) -> Vec<u8> {
    minify(&fixture(path))
}

/// Remove the white space between JSON tokens.
pub fn minify(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            out.push(b);
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else if !b.is_ascii_whitespace() {
            in_string = b == b'"';
            out.push(b);
        }
    }
    out
}

/// A batch of `n` referral notifications, each with its own uuid and ids,
/// keys in the order the vendor writes them.
pub fn referral_batch(n: usize) -> Vec<u8> {
    let one = compact("smarterwx/referral_create.json");
    let one = std::str::from_utf8(&one[1..one.len() - 1]).unwrap();
    let items: Vec<String> = (0..n)
        .map(|i| {
            one.replacen(
                "fd07b9f3-dd85-4615-a1e8-8fced35ef2e5",
                &format!("fd07b9f3-dd85-4615-a1e8-{i:012x}"),
                1,
            )
            .replacen(
                "\"sequenceNumber\":300077255",
                &format!("\"sequenceNumber\":{}", 300_000_000 + i),
                1,
            )
        })
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

pub fn lower_bound(body: &[u8]) {
    black_box(Sha256::digest(body));
    black_box(serde_json::from_slice::<IgnoredAny>(body).unwrap());
}

/// Hand-written SmartComply check: split the header, key HMAC per request,
/// hex-decode, compare, parse into a `Value`.
pub fn naive_smartcomply(header: &str, body: &[u8]) -> serde_json::Value {
    let mut t = "";
    let mut v1 = "";
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value,
            Some(("v1", value)) => v1 = value,
            _ => {}
        }
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&hex::decode(v1).unwrap()).unwrap();
    serde_json::from_slice(body).unwrap()
}

/// Hand-written SmarterWX check.
pub fn naive_smarterwx(header: &str, body: &[u8]) -> serde_json::Value {
    let hex_digits = header.strip_prefix("sha256=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&hex::decode(hex_digits).unwrap()).unwrap();
    serde_json::from_slice(body).unwrap()
}

/// Nanoseconds per call of `f`, timed over about `slice`, in batches of 16
/// calls.
pub fn nanos_per_call(slice: std::time::Duration, f: &mut dyn FnMut()) -> f64 {
    let mut calls = 0u64;
    let start = std::time::Instant::now();
    while start.elapsed() < slice {
        for _ in 0..16 {
            f();
        }
        calls += 16;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// The first quartile, the median and the third quartile of `values`.
pub fn quartiles_of(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}
