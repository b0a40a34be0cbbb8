//! Nothing is lost, and nothing is acknowledged before it is done, while
//! everything that can go wrong with deliveries does.
//!
//! A vendor simulator sends SmartComply events and SmarterWX batches to two
//! instances of the `axum_receiver` example that share one real
//! `redis-server`, and retries each delivery until it gets a `2xx`. The
//! work fails at random and takes a random time; retries go to the other
//! instance, some deliveries are sent to both at once, one instance is
//! killed in the middle of the run (some of its work between committing
//! and recording the completion) and started again on a new port, and the
//! Redis server is restarted.
//!
//! The work "commits" into a ledger just before it returns `Ok`. At the
//! end:
//!
//! - every event committed at least once (nothing lost);
//! - every `2xx` the simulator received came after all of its delivery's
//!   events had committed;
//! - an event committed twice only where an earlier commit was never
//!   recorded as complete: its instance was killed between the work and
//!   `complete`, or `complete` failed while Redis was down.
//!
//! `FAULT_SEED` (decimal or `0x` hex) picks the random failures, delays,
//! batch sizes, order and duplicates; the assertions hold for any seed.
#![cfg(all(feature = "axum", feature = "redis"))]

use crate::receiver;

use crate::common;
use common::SplitMix64;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::redis::{Options, RedisServer};
use receiver::{Job, Receiver, WorkFuture, router};
use reqwest::StatusCode;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, oneshot};
use utility_webhooks::idempotency::{Claim, Lease, RedisStore, Store, StoreError};
use utility_webhooks::{smartcomply, smarterwx};

const SMARTCOMPLY_SECRET: &str = "whsec_delivery_faults";
const SMARTERWX_SECRET: &str = "swx delivery faults";

/// How many events of each vendor the simulator sends.
const SMARTCOMPLY_EVENTS: usize = 300;
const SMARTERWX_NOTIFICATIONS: usize = 200;

/// The receivers' lease: short, so that a killed instance's leases expire
/// within the run.
const LEASE: Duration = Duration::from_millis(600);
/// How often the work fails, in percent.
const FAILURE_PERCENT: u64 = 25;
/// The longest the work takes, in milliseconds.
const WORK_MAX_MS: u64 = 50;
/// How many deliveries the simulator has in flight at once.
const CONCURRENCY: usize = 32;
/// How many deliveries, in percent, are sent to both instances at once.
const DUPLICATE_PERCENT: u64 = 20;
/// The simulator's backoff: the first wait, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait honoured from a `Retry-After` (whole seconds on the
/// wire; the vendors' real waits would make the test minutes long).
const RETRY_AFTER_CAP: Duration = Duration::from_millis(200);
/// When the simulator gives up: whatever is not acknowledged by then is
/// lost, and the test fails.
const GIVE_UP_AFTER: Duration = Duration::from_secs(45);
/// One request's time limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long after Redis is back a failed `complete` still counts as
/// caused by the outage.
const OUTAGE_TAIL: Duration = Duration::from_secs(1);
/// The key prefix both instances share.
const PREFIX: &str = "delivery-faults:";

/// The seed from `FAULT_SEED`, or a fixed default.
fn seed() -> u64 {
    common::fault_seed(0x5eed_f417)
}

/// One committed unit of work.
#[derive(Debug, Clone)]
struct Commit {
    key: String,
    instance: usize,
    token: String,
}

/// What the receivers' work committed, and what their stores recorded.
#[derive(Default)]
struct Ledger {
    commits: Vec<Commit>,
    per_key: HashMap<String, usize>,
    /// Tokens whose `complete` succeeded.
    recorded: HashSet<String>,
    /// Tokens whose `complete` failed at least once while Redis was
    /// down or coming back.
    complete_failed: HashSet<String>,
    /// `complete` failures while Redis was up: none is expected, since
    /// the work takes far less than the lease.
    complete_failed_while_up: Vec<String>,
}

impl Ledger {
    fn commit(&mut self, key: String, instance: usize, token: String) {
        *self.per_key.entry(key.clone()).or_default() += 1;
        self.commits.push(Commit {
            key,
            instance,
            token,
        });
    }

    /// The keys among `keys` that no work has committed.
    fn missing<'a>(&self, keys: &'a [String]) -> Vec<&'a str> {
        keys.iter()
            .filter(|key| !self.per_key.contains_key(*key))
            .map(String::as_str)
            .collect()
    }

    /// The tokens of `instance`'s commits that have no `complete`, ok or
    /// failed.
    fn unfinished_of(&self, instance: usize) -> HashSet<String> {
        self.commits
            .iter()
            .filter(|c| c.instance == instance)
            .filter(|c| {
                !self.recorded.contains(&c.token) && !self.complete_failed.contains(&c.token)
            })
            .map(|c| c.token.clone())
            .collect()
    }
}

/// State shared by the receivers' work and the test.
struct Shared {
    ledger: Mutex<Ledger>,
    /// The seed of every event's own generator.
    seed: u64,
    /// How many times each key's work has started: with the seed and the
    /// key, it picks that attempt's fate, whatever order the attempts
    /// arrive in.
    attempts: Mutex<HashMap<String, u64>>,
    /// Set from just before Redis is stopped until a while after it is
    /// back: `complete` may fail then.
    redis_outage: AtomicBool,
}

/// A store that tells the ledger which leases were recorded as complete.
struct Recording<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: Store> Store for Recording<S> {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim, StoreError> {
        self.inner.claim(key, lease).await
    }

    async fn complete(&self, lease: &Lease) -> Result<(), StoreError> {
        let result = self.inner.complete(lease).await;
        let mut ledger = self.shared.ledger.lock().unwrap();
        match &result {
            Ok(()) => {
                ledger.recorded.insert(lease.token().to_owned());
            }
            Err(_) if self.shared.redis_outage.load(Ordering::SeqCst) => {
                ledger.complete_failed.insert(lease.token().to_owned());
            }
            Err(e) => ledger.complete_failed_while_up.push(e.to_string()),
        }
        result
    }

    async fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.inner.release(lease).await
    }

    async fn extend(&self, lease: &mut Lease, duration: Duration) -> Result<(), StoreError> {
        self.inner.extend(lease, duration).await
    }
}

/// One receiver instance's own state, seen by its work.
struct InstanceState {
    id: usize,
    /// Set just before the instance is killed: work that commits from
    /// then on hangs instead of returning, so the kill falls between its
    /// work and its `complete`.
    dying: AtomicBool,
    /// How many commits hung that way.
    hung: AtomicUsize,
}

/// A receiver instance: an axum server on its own runtime and thread, so
/// that killing it drops every task it runs, as a crash would.
struct Instance {
    state: Arc<InstanceState>,
    base: String,
    kill: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// The work: a random delay, a random failure, else a commit into the
/// ledger just before returning `Ok`.
fn work(
    state: Arc<InstanceState>,
    shared: Arc<Shared>,
) -> impl Fn(Job, Lease) -> WorkFuture + Send + Sync + 'static {
    move |job, lease| {
        let (fails, delay) = {
            let key = job.key();
            let mut attempts = shared.attempts.lock().unwrap();
            let attempt = attempts.entry(key.clone()).or_insert(0);
            let mut rng = SplitMix64::for_event(shared.seed, &key, *attempt);
            *attempt += 1;
            (rng.chance(FAILURE_PERCENT), rng.below(WORK_MAX_MS + 1))
        };
        let (state, shared) = (Arc::clone(&state), Arc::clone(&shared));
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if fails {
                return Err("injected failure".to_owned());
            }
            let token = lease.token().to_owned();
            shared
                .ledger
                .lock()
                .unwrap()
                .commit(job.key(), state.id, token);
            if state.dying.load(Ordering::SeqCst) {
                state.hung.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

/// Start instance `id` on a fresh loopback port, claiming in the Redis
/// server at `url`.
async fn start_instance(id: usize, url: String, shared: Arc<Shared>) -> Instance {
    let state = Arc::new(InstanceState {
        id,
        dying: AtomicBool::new(false),
        hung: AtomicUsize::new(0),
    });
    let (ready_tx, ready_rx) = oneshot::channel::<Result<String, String>>();
    let (kill, killed) = oneshot::channel::<()>();
    let work = work(Arc::clone(&state), Arc::clone(&shared));
    let thread = std::thread::Builder::new()
        .name(format!("receiver-{id}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let store = match RedisStore::connect(&url).await {
                    Ok(store) => store.with_prefix(PREFIX),
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let receiver = Receiver::new(
                    smartcomply::Verifier::new(SMARTCOMPLY_SECRET).unwrap(),
                    smarterwx::Verifier::new(SMARTERWX_SECRET).unwrap(),
                    Recording {
                        inner: store,
                        shared,
                    },
                )
                .with_lease(LEASE)
                .with_work(work);
                let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                    .await
                    .unwrap();
                let address = listener.local_addr().unwrap();
                let server =
                    tokio::spawn(
                        async move { axum::serve(listener, router(receiver)).await.unwrap() },
                    );
                let _ = ready_tx.send(Ok(format!("http://{address}")));
                let _ = killed.await;
                server.abort();
            });
            // axum runs each connection in a task of its own, so aborting
            // the server task alone would leave requests running. Dropping
            // the runtime drops all of them mid-flight: leases neither
            // completed nor released, connections cut.
            drop(runtime);
        })
        .unwrap();
    let base = tokio::time::timeout(Duration::from_secs(10), ready_rx)
        .await
        .expect("the instance starts within 10 s")
        .expect("the instance's thread reports")
        .unwrap_or_else(|e| panic!("instance {id} did not start: {e}"));
    Instance {
        state,
        base,
        kill,
        thread,
    }
}

impl Instance {
    /// Stop the instance at once, as a crash would, and wait until its
    /// runtime and every task on it are gone.
    async fn kill(self) -> Arc<InstanceState> {
        let Instance {
            state,
            kill,
            thread,
            ..
        } = self;
        let _ = kill.send(());
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .unwrap()
            .expect("the instance's thread ends cleanly");
        state
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vendor {
    SmartComply,
    SmarterWx,
}

/// One delivery the vendor makes until it is acknowledged: a SmartComply
/// event, or a SmarterWX batch.
struct Delivery {
    vendor: Vendor,
    body: Vec<u8>,
    /// The idempotency keys of its events.
    keys: Vec<String>,
    /// Sent to both instances at once on the first attempt.
    duplicate: bool,
}

/// The SmartComply fixtures, round robin, each with a unique event id.
fn smartcomply_deliveries() -> Vec<Delivery> {
    let fixtures = common::fixtures_in("smartcomply");
    (0..SMARTCOMPLY_EVENTS)
        .map(|i| {
            let (_, body) = &fixtures[i % fixtures.len()];
            let mut event: serde_json::Value = serde_json::from_slice(body).unwrap();
            event["id"] = format!("evt_fault_{i:06}").into();
            let body = serde_json::to_vec(&event).unwrap();
            let key = smartcomply::parse(&body).unwrap().idempotency_key();
            Delivery {
                vendor: Vendor::SmartComply,
                body,
                keys: vec![key],
                duplicate: false,
            }
        })
        .collect()
}

/// The SmarterWX fixtures' notifications, round robin, each with a unique
/// uuid, in batches of one to four.
fn smarterwx_deliveries(rng: &mut SplitMix64) -> Vec<Delivery> {
    let templates: Vec<serde_json::Value> = common::fixtures_in("smarterwx")
        .iter()
        .flat_map(|(_, body)| serde_json::from_slice::<Vec<serde_json::Value>>(body).unwrap())
        .collect();
    let mut deliveries = Vec::new();
    let mut next = 0;
    while next < SMARTERWX_NOTIFICATIONS {
        let size = (1 + rng.below(4) as usize).min(SMARTERWX_NOTIFICATIONS - next);
        let batch: Vec<serde_json::Value> = (next..next + size)
            .map(|i| {
                let mut notification = templates[i % templates.len()].clone();
                notification["uuid"] = format!("5afe0000-0000-4000-8000-{i:012x}").into();
                notification
            })
            .collect();
        next += size;
        let body = serde_json::to_vec(&batch).unwrap();
        let keys = smarterwx::parse(&body)
            .unwrap()
            .iter()
            .map(|n| n.idempotency_key())
            .collect();
        deliveries.push(Delivery {
            vendor: Vendor::SmarterWx,
            body,
            keys,
            duplicate: false,
        });
    }
    deliveries
}

/// Both vendors' deliveries, shuffled, some marked to be sent twice.
fn deliveries(rng: &mut SplitMix64) -> Vec<Delivery> {
    let mut all = smartcomply_deliveries();
    all.extend(smarterwx_deliveries(rng));
    for i in (1..all.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        all.swap(i, j);
    }
    for delivery in &mut all {
        delivery.duplicate = rng.chance(DUPLICATE_PERCENT);
    }
    all
}

/// What the simulator counted.
#[derive(Default)]
struct Stats {
    requests: AtomicUsize,
    duplicates: AtomicUsize,
    conflicts: AtomicUsize,
    failures: AtomicUsize,
    unavailable: AtomicUsize,
    /// Requests that got no answer (a killed or stopped instance).
    no_answer: AtomicUsize,
    acknowledged: AtomicUsize,
    /// Deliveries acknowledged or given up.
    finished: AtomicUsize,
}

/// What one request got.
enum Answer {
    Acknowledged,
    /// `409`, with its `Retry-After`.
    InProgress(Duration),
    /// Anything else: retry after the backoff.
    NotYet,
}

/// The vendors: they sign, send, and retry until a `2xx`.
struct Simulator {
    client: reqwest::Client,
    /// The two instances' addresses; the second changes when it restarts.
    endpoints: RwLock<[String; 2]>,
    shared: Arc<Shared>,
    stats: Stats,
    /// `2xx` answers for work that had not committed.
    early_acks: Mutex<Vec<String>>,
    /// Answers no receiver should give to a well-signed delivery.
    unexpected: Mutex<Vec<String>>,
    /// The keys of deliveries never acknowledged.
    given_up: Mutex<Vec<String>>,
    started: Instant,
}

impl Simulator {
    /// Send `delivery` to instance `slot`, signed now.
    async fn send(&self, delivery: &Delivery, slot: usize) -> Answer {
        self.stats.requests.fetch_add(1, Ordering::SeqCst);
        let base = self.endpoints.read().unwrap()[slot].clone();
        let (path, name, signature) = match delivery.vendor {
            Vendor::SmartComply => (
                "/webhooks/smartcomply",
                smartcomply::SIGNATURE_HEADER,
                // Signed anew for each attempt, as a resend is.
                smartcomply::sign(
                    SMARTCOMPLY_SECRET,
                    OffsetDateTime::now_utc(),
                    &delivery.body,
                ),
            ),
            Vendor::SmarterWx => (
                "/webhooks/smarterwx",
                smarterwx::SIGNATURE_HEADER,
                smarterwx::sign(SMARTERWX_SECRET, &delivery.body),
            ),
        };
        let sent = self
            .client
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header(name, signature)
            .body(delivery.body.clone())
            .send()
            .await;
        let Ok(response) = sent else {
            self.stats.no_answer.fetch_add(1, Ordering::SeqCst);
            return Answer::NotYet;
        };
        let status = response.status();
        if status.is_success() {
            // Checked as the answer arrives: every event of the delivery
            // must have committed already.
            let missing: Vec<String> = {
                let ledger = self.shared.ledger.lock().unwrap();
                let missing = ledger.missing(&delivery.keys);
                missing.into_iter().map(str::to_owned).collect()
            };
            if !missing.is_empty() {
                let line = format!("{status} before the work of {missing:?} committed");
                self.early_acks.lock().unwrap().push(line);
            }
            let _ = response.bytes().await;
            return Answer::Acknowledged;
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let _ = response.bytes().await;
        match status {
            StatusCode::CONFLICT => {
                self.stats.conflicts.fetch_add(1, Ordering::SeqCst);
                let seconds = retry_after.expect("a 409 carries Retry-After");
                assert!(seconds >= 1, "Retry-After {seconds}");
                Answer::InProgress(Duration::from_secs(seconds))
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                self.stats.failures.fetch_add(1, Ordering::SeqCst);
                Answer::NotYet
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                self.stats.unavailable.fetch_add(1, Ordering::SeqCst);
                Answer::NotYet
            }
            other => {
                let line = format!("{other} for {:?}", delivery.keys);
                self.unexpected.lock().unwrap().push(line);
                Answer::NotYet
            }
        }
    }

    /// Deliver until acknowledged, alternating instances, with backoff.
    /// A duplicate's first attempt goes to both instances, the second one
    /// `stagger` later, while the first may still be running.
    async fn deliver(&self, index: usize, delivery: Delivery, stagger: Duration) {
        let mut backoff = FIRST_BACKOFF;
        for attempt in 0.. {
            if self.started.elapsed() > GIVE_UP_AFTER {
                let mut given_up = self.given_up.lock().unwrap();
                given_up.extend(delivery.keys.iter().cloned());
                break;
            }
            let slot = (index + attempt) % 2;
            let answers = if attempt == 0 && delivery.duplicate {
                self.stats.duplicates.fetch_add(1, Ordering::SeqCst);
                let second = async {
                    tokio::time::sleep(stagger).await;
                    self.send(&delivery, 1 - slot).await
                };
                let (first, second) = tokio::join!(self.send(&delivery, slot), second);
                vec![first, second]
            } else {
                vec![self.send(&delivery, slot).await]
            };
            if answers.iter().any(|a| matches!(a, Answer::Acknowledged)) {
                self.stats.acknowledged.fetch_add(1, Ordering::SeqCst);
                break;
            }
            let retry_after = answers
                .iter()
                .filter_map(|a| match a {
                    Answer::InProgress(after) => Some((*after).min(RETRY_AFTER_CAP)),
                    _ => None,
                })
                .max()
                .unwrap_or(Duration::ZERO);
            tokio::time::sleep(backoff.max(retry_after)).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
        self.stats.finished.fetch_add(1, Ordering::SeqCst);
    }

    /// Wait until `count` deliveries are finished.
    async fn wait_for(&self, count: usize) {
        while self.stats.finished.load(Ordering::SeqCst) < count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Run `f` on the Redis server, off the async workers.
async fn with_server(server: &Arc<Mutex<RedisServer>>, f: fn(&mut RedisServer)) {
    let server = Arc::clone(server);
    tokio::task::spawn_blocking(move || f(&mut server.lock().unwrap()))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_lost_or_acknowledged_early_under_faults() {
    // Persistent, so that the restart keeps claims and completions, as the
    // README asks of a production Redis.
    let Some(server) = RedisServer::start_with(Options {
        password: None,
        persistent: true,
        ..Options::default()
    }) else {
        return;
    };
    let seed = seed();
    println!("FAULT_SEED={seed:#x}");
    let started = Instant::now();
    let url = server.url();
    let server = Arc::new(Mutex::new(server));
    let mut rng = SplitMix64(seed);
    let shared = Arc::new(Shared {
        ledger: Mutex::default(),
        seed,
        attempts: Mutex::default(),
        redis_outage: AtomicBool::new(false),
    });

    let deliveries = deliveries(&mut rng);
    let total = deliveries.len();
    let keys: Vec<String> = deliveries.iter().flat_map(|d| d.keys.clone()).collect();
    let distinct: HashSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), SMARTCOMPLY_EVENTS + SMARTERWX_NOTIFICATIONS);
    assert_eq!(distinct.len(), keys.len(), "every event has its own key");

    let a = start_instance(0, url.clone(), Arc::clone(&shared)).await;
    let b = start_instance(1, url.clone(), Arc::clone(&shared)).await;
    let simulator = Arc::new(Simulator {
        client: reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(1))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap(),
        endpoints: RwLock::new([a.base.clone(), b.base.clone()]),
        shared: Arc::clone(&shared),
        stats: Stats::default(),
        early_acks: Mutex::default(),
        unexpected: Mutex::default(),
        given_up: Mutex::default(),
        started,
    });

    let slots = Arc::new(Semaphore::new(CONCURRENCY));
    let mut vendors = tokio::task::JoinSet::new();
    for (index, delivery) in deliveries.into_iter().enumerate() {
        let stagger = Duration::from_millis(rng.below(30));
        let simulator = Arc::clone(&simulator);
        let slots = Arc::clone(&slots);
        vendors.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            simulator.deliver(index, delivery, stagger).await;
        });
    }

    // A third of the way in, instance 1 is killed. Its work that commits
    // from a moment before hangs, so the kill falls between that work and
    // its `complete`.
    simulator.wait_for(total * 3 / 10).await;
    b.state.dying.store(true, Ordering::SeqCst);
    let dying_since = Instant::now();
    while b.state.hung.load(Ordering::SeqCst) == 0 && dying_since.elapsed() < Duration::from_secs(2)
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let killed = b.kill().await;
    let kills = 1;
    let hung = killed.hung.load(Ordering::SeqCst);
    // Its commits with no `complete` at all: the kill fell between them.
    let killed_between = shared.ledger.lock().unwrap().unfinished_of(killed.id);

    // It comes back on another port.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = start_instance(2, url.clone(), Arc::clone(&shared)).await;
    simulator.endpoints.write().unwrap()[1] = b.base.clone();

    // Later, Redis is killed and started again on the same port.
    simulator.wait_for(total * 6 / 10).await;
    shared.redis_outage.store(true, Ordering::SeqCst);
    with_server(&server, RedisServer::stop).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    with_server(&server, RedisServer::restart).await;
    let redis_restarts = 1;
    // The connections reconnect on their next call; a lease taken before
    // the stop may have expired meanwhile.
    tokio::time::sleep(LEASE + OUTAGE_TAIL).await;
    shared.redis_outage.store(false, Ordering::SeqCst);

    while let Some(done) = vendors.join_next().await {
        done.expect("a vendor task panicked");
    }
    let took = started.elapsed();
    a.kill().await;
    b.kill().await;

    let stats = &simulator.stats;
    let requests = stats.requests.load(Ordering::SeqCst);
    let ledger = shared.ledger.lock().unwrap();
    let lost: Vec<&String> = keys
        .iter()
        .filter(|key| !ledger.per_key.contains_key(*key))
        .collect();

    let mut by_key: HashMap<&str, Vec<&Commit>> = HashMap::new();
    for commit in &ledger.commits {
        by_key.entry(&commit.key).or_default().push(commit);
    }
    let recorded = |c: &Commit| ledger.recorded.contains(&c.token);
    let doubled: usize = by_key.values().map(|c| c.len() - 1).sum();
    // A key done again after one of its commits was recorded complete.
    let redone_after_complete: Vec<&str> = by_key
        .iter()
        .filter(|(_, commits)| commits.iter().filter(|c| !recorded(c)).count() + 1 < commits.len())
        .map(|(key, _)| *key)
        .collect();
    let not_recorded = ledger
        .commits
        .iter()
        .filter(|c| !recorded(c) && ledger.complete_failed.contains(&c.token))
        .count();
    let unexplained: Vec<&Commit> = ledger
        .commits
        .iter()
        .filter(|c| !recorded(c) && !ledger.complete_failed.contains(&c.token))
        .filter(|c| !killed_between.contains(&c.token))
        .collect();

    let summary = format!(
        "delivery faults: seed={seed:#x} events={} deliveries={total} requests={requests} \
         retries={} duplicates={} 409s={} 500s={} 503s={} no_answer={} kills={kills} \
         redis_restarts={redis_restarts} hung_at_kill={hung} \
         killed_between_work_and_complete={} done_not_recorded={not_recorded} \
         lost={} doubled={doubled} in {:.1}s",
        keys.len(),
        requests - total,
        stats.duplicates.load(Ordering::SeqCst),
        stats.conflicts.load(Ordering::SeqCst),
        stats.failures.load(Ordering::SeqCst),
        stats.unavailable.load(Ordering::SeqCst),
        stats.no_answer.load(Ordering::SeqCst),
        killed_between.len(),
        lost.len(),
        took.as_secs_f64(),
    );
    // Straight to stderr, so that a passing run shows it too.
    let _ = writeln!(std::io::stderr(), "{summary}");

    assert_eq!(
        *simulator.given_up.lock().unwrap(),
        Vec::<String>::new(),
        "never acknowledged within {GIVE_UP_AFTER:?}"
    );
    assert_eq!(
        stats.acknowledged.load(Ordering::SeqCst),
        total,
        "{summary}"
    );
    assert!(lost.is_empty(), "lost {lost:?}; {summary}");
    assert_eq!(
        *simulator.early_acks.lock().unwrap(),
        Vec::<String>::new(),
        "{summary}"
    );
    assert_eq!(
        *simulator.unexpected.lock().unwrap(),
        Vec::<String>::new(),
        "{summary}"
    );
    assert!(
        redone_after_complete.is_empty(),
        "done again after a recorded completion: {redone_after_complete:?}; {summary}"
    );
    assert_eq!(
        ledger.complete_failed_while_up,
        Vec::<String>::new(),
        "{summary}"
    );
    assert!(
        unexplained.is_empty(),
        "commits never completed nor killed: {unexplained:?}; {summary}"
    );
    assert!(doubled <= killed_between.len() + not_recorded, "{summary}");
    // The faults happened.
    assert!(hung >= 1, "the kill fell between no work and its complete");
    assert!(
        stats.conflicts.load(Ordering::SeqCst) > 0,
        "no retry found its delivery in progress (409): {summary}"
    );
    assert!(
        stats.unavailable.load(Ordering::SeqCst) > 0,
        "no request met the Redis outage (503): {summary}"
    );
    assert!(killed_between.len() >= hung, "{summary}");
    assert!(requests > total, "{summary}");
    assert!(stats.failures.load(Ordering::SeqCst) > 0, "{summary}");
}
