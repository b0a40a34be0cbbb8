//! Verify+parse throughput, against a lower bound and a hand-written path,
//! measured in one run so that their ratios mean something.
//!
//! ```text
//! cargo bench --bench throughput
//! python3 benches/ratios.py      # the ratios of medians from that run
//! ```
//!
//! - `lower_bound`: SHA-256 of the body plus one `IgnoredAny` scan of it;
//!   any verifier must hash the bytes and any parser must read them once.
//! - `naive`: what a receiver writes by hand: `Hmac::new_from_slice` per
//!   request, hex-decode, `verify_slice`, `serde_json::Value`.
//! - `verify`, `parse`, `verify_and_parse`: this crate.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

const SECRET: &str = "whsec_k7Lm9PqRsTuVwXyZ0123456789abcdef";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A fixture as a sender puts it on the wire: compact JSON, keys in the
/// order written (a round trip through `serde_json::Value` would sort them).
fn compact(path: &str) -> Vec<u8> {
    minify(&fixture(path))
}

/// Remove the white space between JSON tokens.
fn minify(json: &[u8]) -> Vec<u8> {
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
fn referral_batch(n: usize) -> Vec<u8> {
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

fn lower_bound(body: &[u8]) {
    black_box(Sha256::digest(body));
    black_box(serde_json::from_slice::<IgnoredAny>(body).unwrap());
}

/// Hand-written SmartComply check: split the header, key HMAC per request,
/// hex-decode, compare, parse into a `Value`.
fn naive_smartcomply(header: &str, body: &[u8]) -> serde_json::Value {
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
fn naive_smarterwx(header: &str, body: &[u8]) -> serde_json::Value {
    let hex_digits = header.strip_prefix("sha256=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    mac.verify_slice(&hex::decode(hex_digits).unwrap()).unwrap();
    serde_json::from_slice(body).unwrap()
}

fn smartcomply_event(c: &mut Criterion) {
    let body = compact("smartcomply/iu.exceedance_detected.json");
    let now = OffsetDateTime::now_utc();
    let header = smartcomply::sign(SECRET, now, &body);
    let verifier = smartcomply::Verifier::new(SECRET).unwrap();
    let mut g = c.benchmark_group("smartcomply_iu_exceedance");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("lower_bound", |b| b.iter(|| lower_bound(black_box(&body))));
    g.bench_function("naive", |b| {
        b.iter(|| naive_smartcomply(black_box(&header), black_box(&body)))
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            verifier
                .verify_at(black_box(&header), black_box(&body), now)
                .unwrap()
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| smartcomply::parse(black_box(&body)).unwrap())
    });
    g.bench_function("verify_and_parse", |b| {
        b.iter(|| {
            verifier
                .verify_and_parse_at(black_box(&header), black_box(&body), now)
                .unwrap()
        })
    });
    g.finish();
}

fn smarterwx_group(c: &mut Criterion, name: &str, body: &[u8]) {
    let header = smarterwx::sign(SECRET, body);
    let verifier = smarterwx::Verifier::new(SECRET).unwrap();
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("lower_bound", |b| b.iter(|| lower_bound(black_box(body))));
    g.bench_function("naive", |b| {
        b.iter(|| naive_smarterwx(black_box(&header), black_box(body)))
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&header), black_box(body))
                .unwrap()
        })
    });
    g.bench_function("parse", |b| {
        b.iter(|| smarterwx::parse(black_box(body)).unwrap())
    });
    g.bench_function("verify_and_parse", |b| {
        b.iter(|| {
            verifier
                .verify_and_parse(black_box(&header), black_box(body))
                .unwrap()
        })
    });
    g.finish();
}

fn smarterwx_referral(c: &mut Criterion) {
    smarterwx_group(
        c,
        "smarterwx_referral",
        &compact("smarterwx/referral_create.json"),
    );
    smarterwx_group(c, "smarterwx_batch_100", &referral_batch(100));
}

/// `verify` cost against plain SHA-256 as bodies grow: both should be
/// linear, and the HMAC's fixed cost should vanish.
fn verify_by_size(c: &mut Criterion) {
    let verifier = smarterwx::Verifier::new(SECRET).unwrap();
    let mut g = c.benchmark_group("verify_by_size");
    for size in [256usize, 4 << 10, 64 << 10, 1 << 20] {
        let body: Vec<u8> = (0..size).map(|i| b"0123456789abcdef"[i % 16]).collect();
        let header = smarterwx::sign(SECRET, &body);
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_with_input(BenchmarkId::new("sha256", size), &body, |b, body| {
            b.iter(|| Sha256::digest(black_box(body)))
        });
        g.bench_with_input(BenchmarkId::new("verify", size), &body, |b, body| {
            b.iter(|| {
                verifier
                    .verify(black_box(&header), black_box(body))
                    .unwrap()
            })
        });
    }
    g.finish();
}

/// Parsing cost per notification as batches grow.
fn parse_by_batch_length(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_by_batch_length");
    for n in [1usize, 10, 100, 1000] {
        let body = referral_batch(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("parse", n), &body, |b, body| {
            b.iter(|| smarterwx::parse(black_box(body)).unwrap())
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = smartcomply_event, smarterwx_referral, verify_by_size, parse_by_batch_length
}
criterion_main!(benches);
