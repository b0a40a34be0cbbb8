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
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

mod common;

use common::*;

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
