//! Hostile SmarterWX batches, signed: what reading one notification by
//! notification costs against the all-or-nothing reading of the same body.
//!
//! - a 1 MiB batch of `{}` entries (349 525 notifications, none readable):
//!   `verify_and_parse_each` under the default cap (refused whole with
//!   `TooManyNotifications`), and with the cap lifted (every entry read and
//!   kept as an `Unreadable`), each against `verify_and_parse`;
//! - the costliest batches the default cap lets through at the 1 MiB body
//!   limit: 10 000 notifications that each fail late (1 020 001 B), and
//!   10 000 `{}`;
//!
//! first criterion's times, then the ratios measured interleaved (each round
//! times both sides one after the other). With `--features axum`, then, the
//! latency of a `GET /` on a 2-thread runtime while hostile batches are
//! read beside it: through the `Verified` extractor, which reads a body
//! above `READ_APART_ABOVE` (64 KiB) on Tokio's blocking threads, and by
//! a handler that reads every body on the runtime's own threads.
//!
//! ```text
//! cargo bench --bench batch --features axum
//! ```

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::*;
use criterion::{Criterion, Throughput};
use utility_webhooks::smarterwx::{self, Verifier};

const ROUNDS: usize = 11;
const SLICE: Duration = Duration::from_millis(100);

/// A JSON array of `n` copies of `one`.
fn batch_of(n: usize, one: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(n * (one.len() + 1) + 2);
    body.push(b'[');
    for i in 0..n {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(one.as_bytes());
    }
    body.push(b']');
    body
}

/// One notification whose envelope reads and whose message fails at its
/// end: every reading of it goes all the way.
const LATE: &str = r#"{"uuid":"fd07b9f3","event":"referral:create","timestamp":"2020-08-11T07:44:10Z","message":{"id":"x"}}"#;

/// The bodies, as (name, body, what `verify_and_parse_each` with the
/// default cap gives: `true` for every notification, `false` for a
/// refusal).
fn bodies() -> Vec<(&'static str, Vec<u8>, bool)> {
    vec![
        // 1 MiB exactly: `[`, 349 525 `{}` and the commas between them, `]`.
        ("1 MiB of {}", batch_of(349_525, "{}"), false),
        ("10 000 of {}", batch_of(10_000, "{}"), true),
        ("10 000 failing late", batch_of(10_000, LATE), true),
    ]
}

/// Nanoseconds per call of `f`, timed over about `SLICE` (at least one
/// call), after one call untimed: the first call after another
/// contender's (the uncapped reading frees some hundred megabytes) pays
/// for the allocator's state, not for itself.
fn per_call(f: &mut dyn FnMut()) -> f64 {
    f();
    let mut calls = 0u64;
    let start = Instant::now();
    while calls == 0 || start.elapsed() < SLICE {
        f();
        calls += 1;
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

fn main() {
    let verifier = Verifier::new(SECRET).unwrap();
    let uncapped = verifier.clone().with_max_notifications(usize::MAX);
    let strict = |body: &[u8], header: &str| {
        let err = verifier.verify_and_parse(black_box(header), black_box(body));
        assert!(black_box(err).is_err());
    };
    let each = |verifier: &Verifier, body: &[u8], header: &str, read: bool| {
        let items = verifier.verify_and_parse_each(black_box(header), black_box(body));
        match black_box(items) {
            Ok(items) => assert!(read && items.iter().all(|i| i.unreadable().is_some())),
            Err(e) => assert!(!read && e.kind().as_str() == "TooManyNotifications", "{e}"),
        }
    };

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    for (name, body, read) in bodies() {
        let header = smarterwx::sign(SECRET, &body);
        let mut g = c.benchmark_group(format!("batch/{name}"));
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("verify_and_parse", |b| b.iter(|| strict(&body, &header)));
        g.bench_function("verify_and_parse_each", |b| {
            b.iter(|| each(&verifier, &body, &header, read))
        });
        g.bench_function("verify_and_parse_each, no cap", |b| {
            b.iter(|| each(&uncapped, &body, &header, true))
        });
        g.finish();
    }
    c.final_summary();
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }

    println!();
    println!(
        "| signed body | verify_and_parse | _each / it (IQR) | _each, no cap / it (IQR) |, {ROUNDS} interleaved rounds"
    );
    println!("| --- | --- | --- | --- |");
    for (name, body, read) in bodies() {
        let header = smarterwx::sign(SECRET, &body);
        let (mut strict_ns, mut capped, mut lifted) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let s = per_call(&mut || strict(&body, &header));
            let e = per_call(&mut || each(&verifier, &body, &header, read));
            let u = per_call(&mut || each(&uncapped, &body, &header, true));
            strict_ns.push(s);
            capped.push(e / s);
            lifted.push(u / s);
        }
        let (_, s, _) = quartiles_of(strict_ns);
        let (c1, c2, c3) = quartiles_of(capped);
        let (u1, u2, u3) = quartiles_of(lifted);
        println!(
            "| {name} ({} B) | {:.2} ms | {c2:.2}x ({c1:.2}-{c3:.2}) | {u2:.1}x ({u1:.1}-{u3:.1}) |",
            body.len(),
            s / 1e6,
        );
    }

    #[cfg(feature = "axum")]
    beside::run();
    #[cfg(not(feature = "axum"))]
    println!("skipped: a GET beside hostile batches over HTTP (build with --features axum)");
}

/// A `GET /` beside hostile batches, over HTTP, on a runtime of two
/// worker threads (the machine's cores): how long the `GET` waits while
/// signed batches are read through the `Verified` extractor.
#[cfg(feature = "axum")]
mod beside {
    use std::net::Ipv4Addr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use utility_webhooks::axum::Verified;
    use utility_webhooks::smarterwx::{self, Item, Verifier};

    use super::{LATE, SECRET, batch_of, quartiles_of};

    /// Hostile requests in flight at once.
    const HOSTILE: usize = 4;
    /// How long each setting is probed.
    const PROBE: Duration = Duration::from_secs(5);

    async fn read(Verified(items): Verified<Vec<Item>>) -> String {
        items.len().to_string()
    }

    /// The same reading, on the runtime's thread whatever the body's size.
    async fn read_inline(
        State(verifier): State<Verifier>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<String, StatusCode> {
        verifier
            .verify_and_parse_each(&headers, &body)
            .map(|items| items.len().to_string())
            .map_err(|e| e.status_code())
    }

    pub fn run() {
        let server = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = server
            .block_on(tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/", get(|| async {}))
            .route("/hook", post(read))
            .route("/inline", post(read_inline))
            .with_state(Verifier::new(SECRET).unwrap());
        server.spawn(async move { axum::serve(listener, app).await.unwrap() });

        // The client on a runtime of its own, so that its threads are not
        // the server's.
        let client = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        println!();
        println!(
            "| beside a `GET /` (2 server threads) | hostile requests/s | each (median) | GET p50 | GET p99 | GET max |"
        );
        println!("| --- | --- | --- | --- | --- | --- |");
        client.block_on(probe(&base, "nothing", "/hook", None));
        for (name, body) in [
            ("1 MiB of {} (refused)", batch_of(349_525, "{}")),
            ("10 000 failing late", batch_of(10_000, LATE)),
        ] {
            for (how, path) in [
                ("extractor", "/hook"),
                ("on the runtime's thread", "/inline"),
            ] {
                let shown = format!("{HOSTILE} x {name}, {how}");
                client.block_on(probe(&base, &shown, path, Some(body.clone())));
            }
        }
    }

    async fn probe(base: &str, name: &str, path: &str, body: Option<Vec<u8>>) {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicUsize::new(0));
        let mut hostile = tokio::task::JoinSet::new();
        if let Some(body) = body {
            assert!(body.len() <= 1024 * 1024, "within the extractor's limit");
            let header = smarterwx::sign(SECRET, &body);
            for _ in 0..HOSTILE {
                let (http, stop, sent) = (http.clone(), Arc::clone(&stop), Arc::clone(&sent));
                let (body, header, url) = (body.clone(), header.clone(), format!("{base}{path}"));
                hostile.spawn(async move {
                    let mut times = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        let response = http
                            .post(&url)
                            .header(smarterwx::SIGNATURE_HEADER, &header)
                            .body(body.clone())
                            .send()
                            .await
                            .unwrap();
                        let status = response.status().as_u16();
                        assert!(status == 200 || status == 413, "{status}");
                        times.push(start.elapsed().as_secs_f64());
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    times
                });
            }
        }
        // Let the hostile requests start, then probe.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let counted = sent.load(Ordering::Relaxed);
        let start = Instant::now();
        let mut waits = Vec::new();
        while start.elapsed() < PROBE {
            let asked = Instant::now();
            let response = http.get(format!("{base}/")).send().await.unwrap();
            assert_eq!(response.status(), 200);
            waits.push(asked.elapsed().as_secs_f64());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let rate = (sent.load(Ordering::Relaxed) - counted) as f64 / start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut times = Vec::new();
        while let Some(done) = hostile.join_next().await {
            times.extend(done.unwrap());
        }
        let each = if times.is_empty() {
            "-".to_owned()
        } else {
            format!("{:.1} ms", quartiles_of(times).1 * 1e3)
        };
        let max = waits.iter().copied().fold(0.0, f64::max);
        waits.sort_by(f64::total_cmp);
        let p99 = waits[(waits.len() - 1) * 99 / 100];
        let (_, p50, _) = quartiles_of(waits);
        println!(
            "| {name} | {rate:.0} | {each} | {:.2} ms | {:.2} ms | {:.2} ms |",
            p50 * 1e3,
            p99 * 1e3,
            max * 1e3
        );
    }
}
