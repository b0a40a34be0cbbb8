//! One contender in a loop, for a native profiler: `verify_and_parse` of
//! the SmartComply `iu.exceedance_detected` body (`smartcomply`), of one
//! SmarterWX referral (`smarterwx`) or of 100 (`smarterwx100`), for about
//! the number of seconds given (default 5).
//!
//! ```text
//! CARGO_PROFILE_BENCH_DEBUG=true cargo bench --bench profile --no-run
//! perf record -F 4999 -g --call-graph dwarf -o perf.data \
//!     target/release/deps/profile-<hash> smarterwx 5
//! perf report -i perf.data --no-children --sort symbol
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

fn run_for(seconds: u64, mut f: impl FnMut()) {
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        for _ in 0..64 {
            f();
        }
        calls += 64;
    }
    let nanos = start.elapsed().as_nanos() as f64 / calls as f64;
    println!("{calls} calls, {nanos:.0} ns each");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list" || a == "--bench") && args.len() == 1 {
        return;
    }
    let which = args
        .iter()
        .find(|a| !a.starts_with("--") && a.parse::<u64>().is_err())
        .map_or("smartcomply", String::as_str);
    let seconds = args.iter().find_map(|a| a.parse().ok()).unwrap_or(5);
    match which {
        "smartcomply" => {
            let body = compact("smartcomply/iu.exceedance_detected.json");
            let now = OffsetDateTime::now_utc();
            let header = smartcomply::sign(SECRET, now, &body);
            let verifier = smartcomply::Verifier::new(SECRET).unwrap();
            run_for(seconds, || {
                black_box(
                    verifier
                        .verify_and_parse(black_box(&header), black_box(&body))
                        .unwrap(),
                );
            });
        }
        "smarterwx" | "smarterwx100" => {
            let body = if which == "smarterwx" {
                compact("smarterwx/referral_create.json")
            } else {
                referral_batch(100)
            };
            let header = smarterwx::sign(SECRET, &body);
            let verifier = smarterwx::Verifier::new(SECRET).unwrap();
            run_for(seconds, || {
                black_box(
                    verifier
                        .verify_and_parse(black_box(&header), black_box(&body))
                        .unwrap(),
                );
            });
        }
        other => eprintln!("unknown contender {other:?}: smartcomply, smarterwx, smarterwx100"),
    }
}
