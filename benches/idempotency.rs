//! What doing each delivery's work once costs, next to verifying it.
//!
//! ```text
//! cargo bench --bench idempotency --all-features
//! ```
//!
//! - `idempotency_memory` (criterion): `claim` + `complete` on a
//!   `MemoryStore` against `smartcomply::Verifier::verify_and_parse` of the
//!   smallest SmartComply fixture, then their ratio measured interleaved
//!   (as `benches/interleaved.rs` does), so that a slow spell of a shared
//!   machine hits both alike. The store is kept full and forgets its
//!   oldest completed key to make room (`forget_oldest_when_full`), so
//!   each claim also forgets one, as under steady load.
//! - `idempotency_redis` (criterion; features `redis` and `http`): the
//!   round trip of `claim` + `complete` to a local `redis-server` that the
//!   bench starts.
//! - Deliveries per second over HTTP, at 32 requests in flight, through one
//!   and through two `axum_receiver` instances sharing that server. The
//!   client, the receivers and Redis share this machine's cores.
//!
//! Without `redis-server` on `PATH`, or without the features, the Redis
//! parts print a line saying they were skipped. Nothing here is asserted.

mod common;

#[cfg(all(feature = "redis", feature = "axum"))]
use utility_webhooks_receiver as receiver;
#[cfg(all(feature = "redis", feature = "axum"))]
#[path = "../tests/it/common/redis.rs"]
mod redis_server;
#[cfg(all(feature = "redis", feature = "axum"))]
#[path = "common/http_round.rs"]
mod rounds;

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::*;
use criterion::{Criterion, Throughput};
use time::OffsetDateTime;
use utility_webhooks::idempotency::{Claim, DynStore, MemoryStore, Store};
use utility_webhooks::smartcomply;

const DAY: Duration = Duration::from_secs(24 * 3600);
const LEASE: Duration = Duration::from_secs(30);
/// The smallest SmartComply fixture.
const SMALLEST: &str = "smartcomply/partner.approved.json";
/// The `MemoryStore`'s capacity; its keys cycle through twice as many, so
/// a key comes back only after it was forgotten.
const CAPACITY: usize = 1 << 16;
/// Rounds and time slice of the interleaved ratio.
const ROUNDS: usize = 61;
const SLICE: Duration = Duration::from_millis(20);

/// The output of a future that is ready at once (`MemoryStore`'s are).
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("MemoryStore's futures are ready at once"),
    }
}

/// Keys that cycle through `2 * CAPACITY` SmartComply event ids.
struct Keys {
    keys: Vec<String>,
    next: usize,
}

impl Keys {
    fn new() -> Self {
        let keys = (0..2 * CAPACITY)
            .map(|i| format!("smartcomply:evt_{i:016x}"))
            .collect();
        Keys { keys, next: 0 }
    }

    fn next(&mut self) -> &str {
        self.next = (self.next + 1) % self.keys.len();
        &self.keys[self.next]
    }
}

/// Claim a fresh key and complete it.
fn claim_and_complete<S: Store + ?Sized>(store: &S, key: &str) {
    match ready(store.claim(black_box(key), LEASE)).unwrap() {
        Claim::Acquired(lease) => ready(store.complete(&lease)).unwrap(),
        other => panic!("a forgotten key is free, got {other:?}"),
    }
}

/// A full store that forgets its oldest completed key to make room, so
/// that the measured claims run in the steady state.
fn full_store(keys: &mut Keys) -> MemoryStore {
    let store = MemoryStore::new(CAPACITY, DAY).forget_oldest_when_full();
    for _ in 0..CAPACITY {
        claim_and_complete(&store, keys.next());
    }
    store
}

fn memory(c: &mut Criterion) {
    let body = compact(SMALLEST);
    let verifier = smartcomply::Verifier::new(SECRET).unwrap();
    // `verify_and_parse` checks against the clock: sign just before use.
    let header = smartcomply::sign(SECRET, OffsetDateTime::now_utc(), &body);
    let mut keys = Keys::new();
    let store = full_store(&mut keys);

    let mut g = c.benchmark_group("idempotency_memory");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify_and_parse", |b| {
        b.iter(|| {
            verifier
                .verify_and_parse(black_box(&header), black_box(&body))
                .unwrap()
        })
    });
    g.bench_function("claim_complete", |b| {
        b.iter(|| claim_and_complete(&store, keys.next()))
    });
    g.finish();
}

/// `claim` + `complete` through `Arc<dyn DynStore>` (boxed futures) over
/// the same on the `MemoryStore` itself, timed interleaved.
fn dyn_ratio() {
    let (mut direct_keys, mut dyn_keys) = (Keys::new(), Keys::new());
    let direct = full_store(&mut direct_keys);
    let boxed: Arc<dyn DynStore> = Arc::new(full_store(&mut dyn_keys));
    let mut plain = || claim_and_complete(&direct, direct_keys.next());
    let mut through_dyn = || claim_and_complete(&boxed, dyn_keys.next());
    let (mut ratios, mut direct_ns, mut dyn_ns) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let d = nanos_per_call(SLICE, &mut plain);
        let b = nanos_per_call(SLICE, &mut through_dyn);
        ratios.push(b / d);
        direct_ns.push(d);
        dyn_ns.push(b);
    }
    let (r1, r2, r3) = quartiles_of(ratios);
    let (_, d, _) = quartiles_of(direct_ns);
    let (_, b, _) = quartiles_of(dyn_ns);
    println!();
    println!(
        "| MemoryStore claim + complete | direct | through Arc<dyn DynStore> | dyn / direct (IQR) |"
    );
    println!("| --- | --- | --- | --- |");
    println!(
        "| interleaved, {ROUNDS} rounds | {d:.0} ns | {b:.0} ns | {r2:.2}x ({r1:.2}-{r3:.2}) |"
    );
}

/// `claim` + `complete` on a `MemoryStore` over `verify_and_parse`, timed
/// interleaved: one table row with the median ratio and its quartiles.
fn memory_ratio() {
    let body = compact(SMALLEST);
    let verifier = smartcomply::Verifier::new(SECRET).unwrap();
    let header = smartcomply::sign(SECRET, OffsetDateTime::now_utc(), &body);
    let mut keys = Keys::new();
    let store = full_store(&mut keys);
    let mut verify = || {
        black_box(
            verifier
                .verify_and_parse(black_box(&header), black_box(&body))
                .unwrap(),
        );
    };
    let mut claim = || claim_and_complete(&store, keys.next());
    let (mut ratios, mut verify_ns, mut claim_ns) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let v = nanos_per_call(SLICE, &mut verify);
        let c = nanos_per_call(SLICE, &mut claim);
        ratios.push(c / v);
        verify_ns.push(v);
        claim_ns.push(c);
    }
    let (r1, r2, r3) = quartiles_of(ratios);
    let (_, v, _) = quartiles_of(verify_ns);
    let (_, c, _) = quartiles_of(claim_ns);
    println!();
    println!(
        "| {} ({} bytes) | verify_and_parse | MemoryStore claim + complete | claim + complete / verify_and_parse (IQR) |",
        SMALLEST,
        body.len()
    );
    println!("| --- | --- | --- | --- |");
    println!(
        "| interleaved, {ROUNDS} rounds | {v:.0} ns | {c:.0} ns | {r2:.2}x ({r1:.2}-{r3:.2}) |"
    );
}

#[cfg(all(feature = "redis", feature = "axum"))]
mod redis_parts {
    use std::net::Ipv4Addr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use criterion::{Criterion, Throughput};
    use utility_webhooks::idempotency::{Claim, RedisStore, Store};
    use utility_webhooks::{smartcomply, smarterwx};

    use super::receiver::{Receiver, router};
    use super::redis_server::{Options, RedisServer, find_redis_server};
    use super::rounds;
    use super::{LEASE, SECRET, compact};

    /// Requests in flight in the HTTP measurement.
    const CONCURRENCY: usize = 32;
    /// Deliveries per HTTP round.
    const DELIVERIES: usize = 2000;
    /// HTTP rounds per instance count, alternated.
    const HTTP_ROUNDS: usize = 3;

    /// Everything that needs a local `redis-server`.
    pub fn run(c: &mut Criterion) {
        let Some(binary) = find_redis_server() else {
            println!(
                "skipped: the Redis benches (redis-server not found on PATH; apt-get install -y redis-server)"
            );
            return;
        };
        let server = RedisServer::launch(&binary, Options::default());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        round_trip(c, &runtime, &server);
        deliveries_per_second(&runtime, &server);
    }

    /// `claim` + `complete` on fresh keys, one after the other.
    fn round_trip(c: &mut Criterion, runtime: &tokio::runtime::Runtime, server: &RedisServer) {
        let store = runtime.block_on(async {
            RedisStore::connect(&server.url())
                .await
                .unwrap()
                .with_prefix("bench-round-trip:")
                .with_retention(Duration::from_secs(60))
        });
        let next = AtomicUsize::new(0);
        let mut g = c.benchmark_group("idempotency_redis");
        g.throughput(Throughput::Elements(1));
        g.bench_function("claim_complete", |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let key = format!("smartcomply:evt_{n:016x}");
                        match store.claim(&key, LEASE).await.unwrap() {
                            Claim::Acquired(lease) => store.complete(&lease).await.unwrap(),
                            other => panic!("a fresh key is free, got {other:?}"),
                        }
                    }
                    start.elapsed()
                })
            })
        });
        g.finish();
    }

    /// Deliveries per second through one and through two receivers,
    /// rounds alternated; prints the median of each.
    fn deliveries_per_second(runtime: &tokio::runtime::Runtime, server: &RedisServer) {
        let body = compact(super::SMALLEST);
        rounds::one_and_two_receivers(
            HTTP_ROUNDS,
            DELIVERIES,
            CONCURRENCY,
            "one redis-server",
            |instances, round| runtime.block_on(http_round(server, &body, instances, round)),
        );
    }

    /// One round: `instances` receivers on loopback ports, `DELIVERIES`
    /// fresh events sent round robin by `CONCURRENCY` senders; the rate.
    async fn http_round(server: &RedisServer, body: &[u8], instances: usize, round: usize) -> f64 {
        let prefix = format!("bench-http-{instances}-{round}:");
        let mut bases = Vec::new();
        for _ in 0..instances {
            let store = RedisStore::connect(&server.url())
                .await
                .unwrap()
                .with_prefix(prefix.clone())
                .with_retention(Duration::from_secs(60));
            let receiver = Receiver::new(
                smartcomply::Verifier::new(SECRET).unwrap(),
                smarterwx::Verifier::new(SECRET).unwrap(),
                store,
            );
            let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .await
                .unwrap();
            bases.push(format!(
                "http://{}/webhooks/smartcomply",
                listener.local_addr().unwrap()
            ));
            tokio::spawn(async move { axum::serve(listener, router(receiver)).await });
        }
        // Unique event ids, signed before the clock starts.
        rounds::deliveries_per_second(
            bases,
            body,
            SECRET,
            &format!("{instances}_{round}"),
            DELIVERIES,
            CONCURRENCY,
        )
        .await
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    memory(&mut c);
    memory_ratio();
    dyn_ratio();
    #[cfg(all(feature = "redis", feature = "axum"))]
    redis_parts::run(&mut c);
    #[cfg(not(all(feature = "redis", feature = "axum")))]
    println!("skipped: the Redis benches (build with --features redis,axum)");
    c.final_summary();
}
