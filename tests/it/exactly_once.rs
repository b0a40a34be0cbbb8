//! Exactly once with PostgreSQL, measured with real processes and real
//! kills; at least once with Redis, beside it.
//!
//! Two receiver processes (this test binary run again as
//! `instance_process`, serving the `axum_receiver` example's router) share
//! one PostgreSQL. A vendor simulator sends SmartComply events and retries
//! each until it gets a `2xx`, to either instance, some to both at once.
//! The instances are killed with `SIGKILL` several times while their work
//! is in flight, and started again.
//!
//! On PostgreSQL the work is the example's: in one transaction, insert the
//! key's row into `receiver_effects`, wait `WORK_MS`, `complete_in`,
//! commit. Every key must end with exactly one row: **0 lost, 0 doubled**.
//!
//! On Redis the work records its effect (a list in the same Redis) and the
//! completion follows it: a kill in between makes the retry do the work
//! again. Nothing may be lost; the doubles are counted and printed, not
//! asserted.
//!
//! `FAULT_SEED` (decimal or `0x` hex) picks the order, the duplicates and
//! when each kill falls; the assertions hold for any seed.
#![cfg(all(feature = "axum", feature = "postgres"))]

use crate::receiver;

use crate::common;
use common::SplitMix64;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::postgres::PgServer;
use receiver::{Receiver, router};
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use utility_webhooks::smartcomply;

const SECRET: &str = "whsec_exactly_once";
/// The environment variable that makes `instance_process` serve.
const CHILD: &str = "EXACTLY_ONCE_INSTANCE";

/// How many events the simulator sends.
const EVENTS: usize = 1000;
/// The receivers' lease: short, so that a killed instance's leases expire
/// within the run.
const LEASE: Duration = Duration::from_millis(1000);
/// How long each job's work takes, between its effect and its completion.
const WORK_MS: u64 = 40;
/// How many kills, spread over the run.
const KILLS: usize = 8;
const CONCURRENCY: usize = 32;
const DUPLICATE_PERCENT: u64 = 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// The longest `Retry-After` honoured (the header is whole seconds).
const RETRY_AFTER_CAP: Duration = Duration::from_millis(200);
/// Whatever is not acknowledged by then is lost, and the test fails.
const GIVE_UP_AFTER: Duration = Duration::from_secs(40);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One of these runs at a time: each is two processes and a server.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The seed from `FAULT_SEED`, or a fixed default.
fn seed() -> u64 {
    common::fault_seed(0x0e0c_e5ee)
}

/// Which store the instances share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Postgres,
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    Redis,
}

/// Not a test of its own: the body of an instance process, run by
/// [`Instance::start`] as `<this binary> --exact exactly_once::instance_process` with
/// `EXACTLY_ONCE_INSTANCE` set. Without it, it returns at once.
#[test]
fn instance_process() {
    let Ok(backend) = std::env::var(CHILD) else {
        return;
    };
    let url = std::env::var("STORE_URL").expect("STORE_URL");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let verifier = || smartcomply::Verifier::new(SECRET).unwrap();
        let smarterwx = || utility_webhooks::smarterwx::Verifier::new(SECRET).unwrap();
        let delay = Duration::from_millis(WORK_MS);
        let app = match backend.as_str() {
            "postgres" => {
                let store = receiver::postgres::connect(&url).await.unwrap();
                let work = receiver::postgres::work(store.clone(), delay);
                router(
                    Receiver::new(verifier(), smarterwx(), store)
                        .with_lease(LEASE)
                        .with_work(work),
                )
            }
            #[cfg(feature = "redis")]
            "redis" => {
                let store = utility_webhooks::idempotency::RedisStore::connect(&url)
                    .await
                    .unwrap();
                let client = redis::Client::open(url.as_str()).unwrap();
                let effects = client.get_multiplexed_async_connection().await.unwrap();
                router(
                    Receiver::new(verifier(), smarterwx(), store)
                        .with_lease(LEASE)
                        .with_work(move |job, _lease| {
                            let mut effects = effects.clone();
                            Box::pin(async move {
                                // The effect, then the completion after the
                                // work returns: two writes, not one.
                                redis::cmd("RPUSH")
                                    .arg("receiver_effects")
                                    .arg(job.key())
                                    .query_async::<i64>(&mut effects)
                                    .await
                                    .map_err(|e| e.to_string())?;
                                tokio::time::sleep(delay).await;
                                Ok(())
                            })
                        }),
                )
            }
            other => panic!("unknown backend {other}"),
        };
        println!("listening {port}");
        std::io::stdout().flush().unwrap();
        axum::serve(listener, app).await.unwrap();
    });
}

/// A running instance process, killed on drop.
struct Instance {
    child: Option<Child>,
    base: String,
}

impl Instance {
    /// No process: a placeholder while one is replaced.
    fn none() -> Instance {
        Instance {
            child: None,
            base: String::new(),
        }
    }

    fn start(backend: Backend, url: &str) -> Instance {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "exactly_once::instance_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                CHILD,
                match backend {
                    Backend::Postgres => "postgres",
                    Backend::Redis => "redis",
                },
            )
            .env("STORE_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the instance starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let port = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    // The harness's "test instance_process ... " may
                    // come first on the same line.
                    if let Some((_, port)) = line.split_once("listening ") {
                        break port.trim().parse::<u16>().unwrap();
                    }
                }
                _ => {
                    let status = child.wait();
                    panic!("the instance exited before it listened: {status:?}");
                }
            }
        };
        // Keep reading its output, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Instance {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// `SIGKILL`, as a crash, and wait until it is gone.
    fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The vendor: signs, sends, retries until a `2xx`.
struct Simulator {
    client: reqwest::Client,
    endpoints: RwLock<[String; 2]>,
    /// Requests in flight to each instance.
    in_flight: [AtomicUsize; 2],
    requests: AtomicUsize,
    conflicts: AtomicUsize,
    errors: AtomicUsize,
    no_answer: AtomicUsize,
    finished: AtomicUsize,
    given_up: Mutex<Vec<String>>,
    started: Instant,
}

impl Simulator {
    async fn send(&self, body: &[u8], slot: usize) -> Result<(), Duration> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let base = self.endpoints.read().unwrap()[slot].clone();
        let header = smartcomply::sign(SECRET, OffsetDateTime::now_utc(), body);
        self.in_flight[slot].fetch_add(1, Ordering::SeqCst);
        let sent = self
            .client
            .post(format!("{base}/webhooks/smartcomply"))
            .header("content-type", "application/json")
            .header(smartcomply::SIGNATURE_HEADER, header)
            .body(body.to_vec())
            .send()
            .await;
        self.in_flight[slot].fetch_sub(1, Ordering::SeqCst);
        let Ok(response) = sent else {
            self.no_answer.fetch_add(1, Ordering::SeqCst);
            return Err(Duration::ZERO);
        };
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        if status == reqwest::StatusCode::CONFLICT {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
            let seconds = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                .expect("a 409 carries Retry-After");
            return Err(Duration::from_secs(seconds).min(RETRY_AFTER_CAP));
        }
        self.errors.fetch_add(1, Ordering::SeqCst);
        Err(Duration::ZERO)
    }

    async fn deliver(&self, index: usize, key: String, body: Vec<u8>, duplicate: bool) {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0.. {
            if self.started.elapsed() > GIVE_UP_AFTER {
                self.given_up.lock().unwrap().push(key);
                break;
            }
            let slot = (index + attempt) % 2;
            let answers = if attempt == 0 && duplicate {
                let (a, b) = tokio::join!(self.send(&body, slot), self.send(&body, 1 - slot));
                vec![a, b]
            } else {
                vec![self.send(&body, slot).await]
            };
            if answers.iter().any(Result::is_ok) {
                break;
            }
            let wait = answers
                .iter()
                .filter_map(|a| a.err())
                .max()
                .unwrap_or_default();
            tokio::time::sleep(backoff.max(wait)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.finished.fetch_add(1, Ordering::SeqCst);
    }
}

/// The events: the SmartComply fixtures, round robin, each with an id
/// unique to this run (so that a shared `DATABASE_URL` is no obstacle).
fn events(run: &str) -> Vec<(String, Vec<u8>)> {
    let fixtures = common::fixtures_in("smartcomply");
    (0..EVENTS)
        .map(|i| {
            let (_, body) = &fixtures[i % fixtures.len()];
            let mut event: serde_json::Value = serde_json::from_slice(body).unwrap();
            event["id"] = format!("evt_{run}_{i:05}").into();
            let body = serde_json::to_vec(&event).unwrap();
            let key = smartcomply::parse(&body).unwrap().idempotency_key();
            (key, body)
        })
        .collect()
}

/// What a run measured.
struct Figures {
    events: usize,
    kills: usize,
    /// Requests in flight to the killed instance at each kill, summed.
    in_flight_at_kills: usize,
    /// Kills with at least one request in flight.
    kills_mid_work: usize,
    requests: usize,
    conflicts: usize,
    errors: usize,
    no_answer: usize,
    given_up: Vec<String>,
    took: Duration,
}

/// Send every event through two instances on `backend`, killing one at a
/// time `KILLS` times while work is in flight, and restarting it.
async fn run(backend: Backend, url: &str, keys_and_bodies: Vec<(String, Vec<u8>)>) -> Figures {
    let mut rng = SplitMix64(seed() ^ backend as u64);
    let started = Instant::now();
    let start = |url: String| async move {
        tokio::task::spawn_blocking(move || Instance::start(backend, &url))
            .await
            .unwrap()
    };
    let mut instances = [start(url.to_owned()).await, start(url.to_owned()).await];
    let simulator = Arc::new(Simulator {
        client: reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(1))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap(),
        endpoints: RwLock::new([instances[0].base.clone(), instances[1].base.clone()]),
        in_flight: [AtomicUsize::new(0), AtomicUsize::new(0)],
        requests: AtomicUsize::new(0),
        conflicts: AtomicUsize::new(0),
        errors: AtomicUsize::new(0),
        no_answer: AtomicUsize::new(0),
        finished: AtomicUsize::new(0),
        given_up: Mutex::default(),
        started,
    });
    let total = keys_and_bodies.len();
    let mut order: Vec<(String, Vec<u8>)> = keys_and_bodies;
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut vendors = tokio::task::JoinSet::new();
    for (index, (key, body)) in order.into_iter().enumerate() {
        let duplicate = rng.below(100) < DUPLICATE_PERCENT;
        let simulator = Arc::clone(&simulator);
        let slots = Arc::clone(&slots);
        vendors.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            simulator.deliver(index, key, body, duplicate).await;
        });
    }

    // Kill `k` falls once a share of the deliveries is finished, a little
    // later or earlier by the seed, while the instance has work in flight.
    let (mut kills, mut in_flight_at_kills, mut kills_mid_work) = (0, 0, 0);
    for k in 0..KILLS {
        let share = (k as u64 * 100 + 50 + rng.below(40)) / (KILLS as u64 + 1);
        let at = total * share as usize / 100;
        while simulator.finished.load(Ordering::SeqCst) < at {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let victim = k % 2;
        let waiting = Instant::now();
        while simulator.in_flight[victim].load(Ordering::SeqCst) == 0
            && waiting.elapsed() < Duration::from_secs(2)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Into the work: its transaction (or its effect) has begun.
        tokio::time::sleep(Duration::from_millis(WORK_MS / 2)).await;
        let in_flight = simulator.in_flight[victim].load(Ordering::SeqCst);
        // The placeholder is never served: the endpoint still names the
        // victim's port, which refuses connections once it is dead.
        let victim_instance = std::mem::replace(&mut instances[victim], Instance::none());
        tokio::task::spawn_blocking(move || victim_instance.kill())
            .await
            .unwrap();
        instances[victim] = start(url.to_owned()).await;
        kills += 1;
        in_flight_at_kills += in_flight;
        kills_mid_work += usize::from(in_flight > 0);
        simulator.endpoints.write().unwrap()[victim] = instances[victim].base.clone();
    }
    while let Some(done) = vendors.join_next().await {
        done.expect("a vendor task panicked");
    }
    let took = started.elapsed();
    drop(instances);
    Figures {
        events: total,
        kills,
        in_flight_at_kills,
        kills_mid_work,
        requests: simulator.requests.load(Ordering::SeqCst),
        conflicts: simulator.conflicts.load(Ordering::SeqCst),
        errors: simulator.errors.load(Ordering::SeqCst),
        no_answer: simulator.no_answer.load(Ordering::SeqCst),
        given_up: simulator.given_up.lock().unwrap().clone(),
        took,
    }
}

/// Lost (no effect) and doubled (effects beyond the first) among `keys`,
/// given each key's count of effects.
fn lost_and_doubled(keys: &[String], counts: &HashMap<String, usize>) -> (Vec<String>, usize) {
    let lost = keys
        .iter()
        .filter(|key| counts.get(*key).copied().unwrap_or(0) == 0)
        .cloned()
        .collect();
    let doubled = keys
        .iter()
        .map(|key| counts.get(key).copied().unwrap_or(0).saturating_sub(1))
        .sum();
    (lost, doubled)
}

fn summary(name: &str, f: &Figures, lost: usize, doubled: usize) -> String {
    format!(
        "exactly once ({name}): seed={:#x} events={} kills={} kills_mid_work={} \
         in_flight_at_kills={} requests={} 409s={} errors={} no_answer={} \
         lost={lost} doubled={doubled} in {:.1}s",
        seed(),
        f.events,
        f.kills,
        f.kills_mid_work,
        f.in_flight_at_kills,
        f.requests,
        f.conflicts,
        f.errors,
        f.no_answer,
        f.took.as_secs_f64(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_does_each_event_exactly_once_through_kills() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(server) = PgServer::start() else {
        return;
    };
    let run_id = format!("{}_{:x}", std::process::id(), seed());
    let events = events(&format!("pg{run_id}"));
    let keys: Vec<String> = events.iter().map(|(key, _)| key.clone()).collect();
    // Create the tables once, before two processes race to.
    let store = receiver::postgres::connect(server.url()).await.unwrap();

    let figures = run(Backend::Postgres, server.url(), events).await;

    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT key, count(*) FROM receiver_effects WHERE key = ANY($1) GROUP BY key",
    )
    .bind(&keys)
    .fetch_all(store.pool())
    .await
    .unwrap();
    let counts: HashMap<String, usize> = rows
        .into_iter()
        .map(|(key, n)| (key, usize::try_from(n).unwrap()))
        .collect();
    let (lost, doubled) = lost_and_doubled(&keys, &counts);
    let line = summary("PostgreSQL", &figures, lost.len(), doubled);
    let _ = writeln!(std::io::stderr(), "{line}");

    assert_eq!(figures.given_up, Vec::<String>::new(), "{line}");
    assert!(lost.is_empty(), "lost {lost:?}; {line}");
    assert_eq!(doubled, 0, "{line}");
    assert_eq!(figures.kills, KILLS, "{line}");
    assert!(figures.kills_mid_work >= 5, "{line}");
    // Every key is recorded as completed, by the token of its one effect.
    let completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM webhook_claims c JOIN receiver_effects e \
         ON e.key = c.key AND e.token = c.token \
         WHERE c.key = ANY($1) AND c.state = 'completed'",
    )
    .bind(&keys)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(completed, i64::try_from(keys.len()).unwrap(), "{line}");
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_does_each_event_at_least_once_through_kills() {
    use common::redis::RedisServer;

    let _one = ONE_AT_A_TIME.lock().await;
    let Some(server) = RedisServer::start() else {
        return;
    };
    let events = events(&format!("redis{}", std::process::id()));
    let keys: Vec<String> = events.iter().map(|(key, _)| key.clone()).collect();

    let figures = run(Backend::Redis, &server.url(), events).await;

    let mut connection = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let effects: Vec<String> = redis::cmd("LRANGE")
        .arg("receiver_effects")
        .arg(0)
        .arg(-1)
        .query_async(&mut connection)
        .await
        .unwrap();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for key in effects {
        *counts.entry(key).or_default() += 1;
    }
    let (lost, doubled) = lost_and_doubled(&keys, &counts);
    let line = summary("Redis", &figures, lost.len(), doubled);
    let _ = writeln!(std::io::stderr(), "{line}");

    assert_eq!(figures.given_up, Vec::<String>::new(), "{line}");
    assert!(lost.is_empty(), "lost {lost:?}; {line}");
    assert_eq!(figures.kills, KILLS, "{line}");
    // Doubles are what this store allows; they are counted, not asserted.
}
