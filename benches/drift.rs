//! What a drift report costs, against `parse` of the same body, in one
//! run: criterion's throughput for both, then their ratio measured
//! interleaved (each round times `parse` and `drift` one after the other,
//! so that a slow spell of a shared machine hits both alike).
//!
//! ```text
//! cargo bench --bench drift -- --measurement-time 2
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use criterion::{Criterion, Throughput};
use utility_webhooks::{smartcomply, smarterwx};

const ROUNDS: usize = 41;
const SLICE: Duration = Duration::from_millis(20);

/// The bodies measured: as a sender writes them, compact.
fn bodies() -> Vec<(&'static str, bool, Vec<u8>)> {
    vec![
        (
            "smartcomply_iu_exceedance",
            true,
            compact("smartcomply/iu.exceedance_detected.json"),
        ),
        (
            "smarterwx_referral",
            false,
            compact("smarterwx/referral_create.json"),
        ),
        ("smarterwx_batch_100", false, referral_batch(100)),
    ]
}

fn parse(smartcomply: bool, body: &[u8]) {
    if smartcomply {
        black_box(smartcomply::parse(black_box(body)).unwrap());
    } else {
        black_box(smarterwx::parse(black_box(body)).unwrap());
    }
}

fn drift(smartcomply: bool, body: &[u8]) {
    let drift = if smartcomply {
        smartcomply::drift(black_box(body))
    } else {
        smarterwx::drift(black_box(body))
    };
    assert!(black_box(drift.unwrap()).is_empty());
}

/// Nanoseconds per call of `f`, timed over about `SLICE`.
fn per_call(f: &mut dyn FnMut()) -> f64 {
    let mut calls = 0u64;
    let start = Instant::now();
    while start.elapsed() < SLICE {
        for _ in 0..8 {
            f();
        }
        calls += 8;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    for (name, vendor, body) in bodies() {
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("parse", |b| b.iter(|| parse(vendor, &body)));
        g.bench_function("drift", |b| b.iter(|| drift(vendor, &body)));
        g.finish();
    }
    c.final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }

    println!();
    println!("| body | parse | drift | drift / parse (IQR), {ROUNDS} interleaved rounds |");
    println!("| --- | --- | --- | --- |");
    for (name, vendor, body) in bodies() {
        let (mut ratios, mut parses, mut drifts) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let p = per_call(&mut || parse(vendor, &body));
            let d = per_call(&mut || drift(vendor, &body));
            ratios.push(d / p);
            parses.push(p);
            drifts.push(d);
        }
        let median = |mut v: Vec<f64>, q: f64| {
            v.sort_by(f64::total_cmp);
            v[((v.len() - 1) as f64 * q).round() as usize]
        };
        println!(
            "| {name} ({} B) | {:.0} ns | {:.0} ns | {:.2}x ({:.2}-{:.2}) |",
            body.len(),
            median(parses, 0.5),
            median(drifts, 0.5),
            median(ratios.clone(), 0.5),
            median(ratios.clone(), 0.25),
            median(ratios, 0.75),
        );
    }
}
