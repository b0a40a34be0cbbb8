//! What exactly once costs on PostgreSQL, next to a bare `INSERT` and to
//! Redis.
//!
//! ```text
//! cargo bench --bench postgres --all-features
//! ```
//!
//! Against a PostgreSQL the bench starts (`initdb`, `pg_ctl`, as the
//! tests do; or `DATABASE_URL`) and a local `redis-server`:
//!
//! - `postgres_round_trip` (criterion), one after the other on fresh keys:
//!   - `bare_insert`: the work's effect alone, one `INSERT` into
//!     `receiver_effects`, committed on its own;
//!   - `claim_insert_complete_in`: a delivery done exactly once: `claim`,
//!     then `BEGIN`, the same `INSERT`, `complete_in`, `COMMIT`;
//!   - `claim_complete`: `claim` + `complete`, no effect (what the Redis
//!     line measures);
//!   - `redis_claim_complete`: `RedisStore` `claim` + `complete`.
//! - `claim + complete` against a bare `INSERT`, as ratios over 31
//!   interleaved rounds (each round times every contender for 150
//!   operations, one after the other, so that a slow spell of the shared
//!   machine hits all alike): two bare `INSERT`s (what two round trips
//!   cost at the least), the store as `connect` builds it, the same
//!   store on a pool that pings each connection as it hands it out
//!   (sqlx's default, and what the store did before), and exactly once
//!   through `run_in_transaction` (claim, `BEGIN`, `INSERT`,
//!   `complete_in`, `COMMIT`).
//! - Deliveries per second over HTTP, at 32 requests in flight, through
//!   one and through two `axum_receiver` instances on `PostgresStore`
//!   (each on a pool of 64 connections, twice the deliveries in flight),
//!   whose work inserts into `receiver_effects` in the transaction of its
//!   `complete_in`. The client, the receivers and both servers share this
//!   machine's cores.
//!
//! Nothing here is asserted but that the deliveries succeed. `NO_HTTP=1`
//! leaves the HTTP rounds out.

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/it/common/postgres.rs"]
mod pg_server;
use utility_webhooks_receiver as receiver;
#[path = "../tests/it/common/redis.rs"]
mod redis_server;
#[path = "common/http_round.rs"]
mod rounds;

use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use time::OffsetDateTime;
use utility_webhooks::idempotency::{Claim, Outcome, PostgresStore, RedisStore, Store};
use utility_webhooks::{smartcomply, smarterwx};

use pg_server::PgServer;
use receiver::{Receiver, router};
use redis_server::{Options, RedisServer, find_redis_server};

const SECRET: &str = "whsec_bench";
const LEASE: Duration = Duration::from_secs(30);
/// Requests in flight in the HTTP measurement.
const CONCURRENCY: usize = 32;
/// Deliveries per HTTP round.
const DELIVERIES: usize = 2000;
/// HTTP rounds per instance count, alternated.
const HTTP_ROUNDS: usize = 3;

/// A fresh key each call, unique to this run.
struct Keys {
    run: u64,
    next: AtomicUsize,
}

impl Keys {
    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("smartcomply:evt_{:x}_{n:012x}", self.run)
    }
}

fn round_trips(c: &mut Criterion, runtime: &tokio::runtime::Runtime, url: &str, redis: &str) {
    let (store, redis) = runtime.block_on(async {
        let store = receiver::postgres::connect(url).await.unwrap();
        let redis = RedisStore::connect(redis)
            .await
            .unwrap()
            .with_retention(Duration::from_secs(60));
        (store, redis)
    });
    let keys = Keys {
        run: u64::from(std::process::id()) << 16
            ^ OffsetDateTime::now_utc().unix_timestamp() as u64,
        next: AtomicUsize::new(0),
    };
    let insert = "INSERT INTO receiver_effects (key, token) VALUES ($1, $2)";
    let mut g = c.benchmark_group("postgres_round_trip");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bare_insert", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    sqlx::query(insert)
                        .bind(keys.next())
                        .bind("0123456789abcdef0123456789abcdef")
                        .execute(store.pool())
                        .await
                        .unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("claim_insert_complete_in", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let key = keys.next();
                    let Claim::Acquired(lease) = store.claim(&key, LEASE).await.unwrap() else {
                        panic!("a fresh key is free");
                    };
                    let mut tx = store.pool().begin().await.unwrap();
                    sqlx::query(insert)
                        .bind(lease.key())
                        .bind(lease.token())
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    store.complete_in(&mut tx, &lease).await.unwrap();
                    tx.commit().await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("claim_complete", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let key = keys.next();
                    let Claim::Acquired(lease) = store.claim(&key, LEASE).await.unwrap() else {
                        panic!("a fresh key is free");
                    };
                    store.complete(&lease).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.bench_function("redis_claim_complete", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let key = keys.next();
                    let Claim::Acquired(lease) = redis.claim(&key, LEASE).await.unwrap() else {
                        panic!("a fresh key is free");
                    };
                    redis.complete(&lease).await.unwrap();
                }
                start.elapsed()
            })
        })
    });
    g.finish();
}

/// Interleaved rounds.
const ROUNDS: usize = 31;
/// Operations per contender per round.
const PER_ROUND: u32 = 150;

/// Microseconds per operation of `op`, run `PER_ROUND` times one after
/// the other.
async fn micros_per_op<F: Future<Output = ()>>(mut op: impl FnMut() -> F) -> f64 {
    let start = Instant::now();
    for _ in 0..PER_ROUND {
        op().await;
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(PER_ROUND)
}

/// Ratios to a bare `INSERT`, over interleaved rounds; prints one line per
/// contender: its median time and its median ratio with the quartiles.
fn interleaved_ratios(runtime: &tokio::runtime::Runtime, url: &str) {
    let (store, pinging) = runtime.block_on(async {
        let store = receiver::postgres::connect(url).await.unwrap();
        let pinging_pool = PgPoolOptions::new()
            .max_connections(32)
            .test_before_acquire(true)
            .connect(url)
            .await
            .unwrap();
        (store, PostgresStore::new(pinging_pool))
    });
    let keys = Keys {
        run: u64::from(std::process::id()) << 20
            ^ OffsetDateTime::now_utc().unix_timestamp() as u64,
        next: AtomicUsize::new(0),
    };
    let insert = "INSERT INTO receiver_effects (key, token) VALUES ($1, $2)";
    let claim_complete = |store: &PostgresStore| {
        let store = store.clone();
        let key = keys.next();
        async move {
            let Claim::Acquired(lease) = store.claim(&key, LEASE).await.unwrap() else {
                panic!("a fresh key is free");
            };
            store.complete(&lease).await.unwrap();
        }
    };
    let insert_one = |pool: &sqlx::PgPool| {
        let (pool, key) = (pool.clone(), keys.next());
        async move {
            sqlx::query(insert)
                .bind(key)
                .bind("0123456789abcdef0123456789abcdef")
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    let names = [
        "two bare INSERTs, one after the other (two round trips, no index)",
        "claim + complete",
        "claim + complete, pool pinging on acquire",
        "exactly once, run_in_transaction: claim, BEGIN, INSERT, complete_in, COMMIT",
    ];
    let (mut bare_times, mut times, mut ratios) = (Vec::new(), vec![vec![]; 4], vec![vec![]; 4]);
    runtime.block_on(async {
        for _ in 0..ROUNDS {
            let bare = micros_per_op(|| insert_one(store.pool())).await;
            let ours = [
                micros_per_op(|| {
                    let (first, second) = (insert_one(store.pool()), insert_one(store.pool()));
                    async move {
                        first.await;
                        second.await;
                    }
                })
                .await,
                micros_per_op(|| claim_complete(&store)).await,
                micros_per_op(|| claim_complete(&pinging)).await,
                micros_per_op(|| {
                    let (store, key) = (store.clone(), keys.next());
                    async move {
                        let outcome = store
                            .run_in_transaction(&key, LEASE, |tx, lease| {
                                Box::pin(async move {
                                    sqlx::query(insert)
                                        .bind(lease.key())
                                        .bind(lease.token())
                                        .execute(&mut *tx)
                                        .await?;
                                    Ok::<_, sqlx::Error>(())
                                })
                            })
                            .await
                            .unwrap();
                        assert!(matches!(outcome, Outcome::Done(())), "{outcome:?}");
                    }
                })
                .await,
            ];
            bare_times.push(bare);
            for (i, t) in ours.into_iter().enumerate() {
                times[i].push(t);
                ratios[i].push(t / bare);
            }
        }
    });
    let (_, bare, _) = common::quartiles_of(bare_times);
    println!("\nPostgreSQL, interleaved ({ROUNDS} rounds of {PER_ROUND} operations each)");
    println!("| what | median time | / bare INSERT, median (quartiles) |");
    println!("| bare INSERT | {bare:.0} µs | 1 |");
    for ((name, times), ratios) in names.iter().zip(times).zip(ratios) {
        let (_, t, _) = common::quartiles_of(times);
        let (q1, r, q3) = common::quartiles_of(ratios);
        println!("| {name} | {t:.0} µs | {r:.2}x ({q1:.2} to {q3:.2}) |");
    }
}

/// Deliveries per second through one and through two receivers on
/// `PostgresStore`, rounds alternated; prints the median of each.
fn deliveries_per_second(runtime: &tokio::runtime::Runtime, url: &str) {
    rounds::one_and_two_receivers(
        HTTP_ROUNDS,
        DELIVERIES,
        CONCURRENCY,
        "one PostgreSQL, effect + complete_in in one transaction",
        |instances, round| runtime.block_on(http_round(url, instances, round)),
    );
}

/// One round: `instances` receivers on loopback ports, `DELIVERIES`
/// fresh events sent round robin by `CONCURRENCY` senders; the rate.
async fn http_round(url: &str, instances: usize, round: usize) -> f64 {
    let options: PgConnectOptions = url.parse().unwrap();
    let options = options.options([("statement_timeout", "1000")]);
    let (mut bases, mut servers, mut pools) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..instances {
        // Above the deliveries in flight, as `PostgresStore::connect`'s
        // docs advise: each holds a connection for its transaction, and
        // its claim, renewals and completion take one for a moment.
        let pool = PgPoolOptions::new()
            .max_connections(2 * CONCURRENCY as u32)
            .acquire_timeout(Duration::from_secs(1))
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .unwrap();
        let store = PostgresStore::new(pool);
        pools.push(store.pool().clone());
        let work = receiver::postgres::work(store.clone(), Duration::ZERO);
        let receiver = Receiver::new(
            smartcomply::Verifier::new(SECRET).unwrap(),
            smarterwx::Verifier::new(SECRET).unwrap(),
            store,
        )
        .with_work(work);
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        bases.push(format!(
            "http://{}/webhooks/smartcomply",
            listener.local_addr().unwrap()
        ));
        servers.push(tokio::spawn(async move {
            axum::serve(listener, router(receiver)).await
        }));
    }
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/smartcomply/partner.approved.json"
    ))
    .unwrap();
    let run = format!(
        "{:x}_{instances}_{round}",
        OffsetDateTime::now_utc().unix_timestamp()
    );
    let rate =
        rounds::deliveries_per_second(bases, &body, SECRET, &run, DELIVERIES, CONCURRENCY).await;
    // The next round's receivers get connections of their own.
    for server in servers {
        server.abort();
    }
    for pool in pools {
        pool.close().await;
    }
    rate
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(server) = PgServer::start() else {
        println!("skipped: the PostgreSQL benches (no PostgreSQL)");
        return;
    };
    let Some(redis_binary) = find_redis_server() else {
        println!("skipped: the PostgreSQL benches (redis-server not found on PATH)");
        return;
    };
    let redis = RedisServer::launch(&redis_binary, Options::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    round_trips(&mut c, &runtime, server.url(), &redis.url());
    interleaved_ratios(&runtime, server.url());
    if std::env::var_os("NO_HTTP").is_none() {
        deliveries_per_second(&runtime, server.url());
    }
    c.final_summary();
}
