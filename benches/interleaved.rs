//! Ratios of `verify_and_parse` to the lower bound and to the hand-written
//! path, measured interleaved: each round times every contender for the
//! same short while, one after the other, so that a slow spell of a shared
//! machine hits all of them alike. Prints the median ratio over the rounds
//! and its spread (first and third quartiles).
//!
//! ```text
//! cargo bench --bench interleaved
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

const ROUNDS: usize = 61;
const SLICE: Duration = Duration::from_millis(20);

/// Nanoseconds per call of `f`, timed over about `SLICE`.
fn per_call(f: &mut dyn FnMut()) -> f64 {
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < SLICE {
        for _ in 0..16 {
            f();
        }
        calls += 16;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn quartiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

/// Time `ours` against `lower` and `naive` over interleaved rounds and print
/// one table row.
fn compare(name: &str, mut lower: impl FnMut(), mut naive: impl FnMut(), mut ours: impl FnMut()) {
    let (mut vs_lower, mut vs_naive, mut times) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let l = per_call(&mut lower);
        let n = per_call(&mut naive);
        let o = per_call(&mut ours);
        vs_lower.push(o / l);
        vs_naive.push(o / n);
        times.push(o);
    }
    let (l1, l2, l3) = quartiles(vs_lower);
    let (n1, n2, n3) = quartiles(vs_naive);
    let (_, t, _) = quartiles(times);
    println!("| {name} | {t:.0} ns | {l2:.2}x ({l1:.2}-{l3:.2}) | {n2:.2}x ({n1:.2}-{n3:.2}) |");
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("| body | verify_and_parse | / lower bound (IQR) | / naive (IQR) |");
    println!("| --- | --- | --- | --- |");

    let body = compact("smartcomply/iu.exceedance_detected.json");
    let now = OffsetDateTime::now_utc();
    let header = smartcomply::sign(SECRET, now, &body);
    let verifier = smartcomply::Verifier::new(SECRET).unwrap();
    compare(
        "SmartComply iu.exceedance_detected",
        || lower_bound(black_box(&body)),
        || {
            black_box(naive_smartcomply(black_box(&header), black_box(&body)));
        },
        || {
            black_box(
                verifier
                    .verify_and_parse_at(black_box(&header), black_box(&body), now)
                    .unwrap(),
            );
        },
    );

    let verifier = smarterwx::Verifier::new(SECRET).unwrap();
    for (name, body) in [
        (
            "SmarterWX one referral",
            compact("smarterwx/referral_create.json"),
        ),
        ("SmarterWX 100 referrals", referral_batch(100)),
    ] {
        let header = smarterwx::sign(SECRET, &body);
        compare(
            name,
            || lower_bound(black_box(&body)),
            || {
                black_box(naive_smarterwx(black_box(&header), black_box(&body)));
            },
            || {
                black_box(
                    verifier
                        .verify_and_parse(black_box(&header), black_box(&body))
                        .unwrap(),
                );
            },
        );
    }
}
