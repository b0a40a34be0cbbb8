//! `examples/axum_inbox.rs` run as processes on a real PostgreSQL: its
//! answers and stdout lines, a delivery refused before any insert, a
//! database that stops, a process killed in the middle of the work's
//! transaction, two processes SIGKILLed every half second while a vendor
//! delivers 1 000 items (0 lost, 0 doubled, each key in order), and the
//! vendor's patience with 9 s of work.
//!
//! `FAULT_SEED` (decimal or `0x` hex) runs the kill test with that seed
//! only; by default it runs three.
#![cfg(all(feature = "axum", feature = "postgres"))]

use crate::common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use common::SplitMix64;
use common::inbox::{batch_body, notification, smartcomply_body};
use common::postgres::{PgServer, free_port};
use reqwest::StatusCode;
use sqlx::PgPool;
use time::OffsetDateTime;
use utility_webhooks::{smartcomply, smarterwx};

pub(crate) const SMARTCOMPLY_SECRET: &str = "whsec_inbox_process";
pub(crate) const SMARTERWX_SECRET: &str = "swx inbox process";

/// One process of the example, killed on drop; its stdout lines are
/// collected as they come.
pub(crate) struct Example {
    child: Option<Child>,
    pub(crate) base: String,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Example {
    /// The example on a free port with `DATABASE_URL=url`, the secrets and
    /// `env`; returns once it listens.
    pub(crate) fn start(url: &str, env: &[(&str, &str)]) -> Example {
        let port = free_port();
        let mut command = Command::new(common::example::binary("axum_inbox", "axum,postgres"));
        command
            .env("DATABASE_URL", url)
            .env("PORT", port.to_string())
            .env("SMARTCOMPLY_WEBHOOK_SECRET", SMARTCOMPLY_SECRET)
            .env("SMARTERWX_WEBHOOK_SECRET", SMARTERWX_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("the example starts");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        let started = Instant::now();
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the example exited before it listened: {status}");
            }
            assert!(started.elapsed() < Duration::from_secs(20), "not listening");
            std::thread::sleep(Duration::from_millis(10));
        }
        Example {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            lines,
        }
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Wait until `line` is on its stdout.
    pub(crate) async fn line(&self, line: &str) {
        let started = Instant::now();
        while !self.lines().iter().any(|l| l == line) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no {line:?} in {:?}",
                self.lines()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// `SIGKILL`, and wait until it is gone.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        self.kill();
    }
}

pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        .timeout(timeout)
        .build()
        .unwrap()
}

/// POST a SmartComply body, signed now (or with `header`).
pub(crate) async fn post_smartcomply(
    client: &reqwest::Client,
    base: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<StatusCode, reqwest::Error> {
    let signed = smartcomply::sign(SMARTCOMPLY_SECRET, OffsetDateTime::now_utc(), body);
    let mut request = client
        .post(format!("{base}/webhooks/smartcomply"))
        .body(body.to_vec());
    if let Some(header) = header.or(Some(&signed)).filter(|h| !h.is_empty()) {
        request = request.header(smartcomply::SIGNATURE_HEADER, header);
    }
    Ok(request.send().await?.status())
}

/// POST a SmarterWX body, signed.
pub(crate) async fn post_smarterwx(
    client: &reqwest::Client,
    base: &str,
    body: &[u8],
) -> Result<StatusCode, reqwest::Error> {
    let response = client
        .post(format!("{base}/webhooks/smarterwx"))
        .header(
            smarterwx::SIGNATURE_HEADER,
            smarterwx::sign(SMARTERWX_SECRET, body),
        )
        .body(body.to_vec())
        .send()
        .await?;
    Ok(response.status())
}

/// The effects of `key`: its attempts, in commit order.
async fn effects(pool: &PgPool, key: &str) -> Vec<i32> {
    sqlx::query_scalar("SELECT attempt FROM receiver_effects WHERE key = $1 ORDER BY processed_at")
        .bind(key)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn inbox_rows(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM webhook_inbox")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_answers_and_prints_as_documented() {
    let Some(mut server) = PgServer::own() else {
        return;
    };
    let example = Example::start(
        server.url(),
        &[
            ("FAIL_IDS", "evt_fail, u-never"),
            ("FLAKY_IDS", "u-flaky"),
            ("INBOX_MAX_ATTEMPTS", "3"),
            ("INBOX_BACKOFF_MS", "20"),
        ],
    );
    let pool = PgPool::connect(server.url()).await.unwrap();
    let http = client(Duration::from_secs(5));
    let base = example.base.clone();
    for path in ["/", "/webhooks/smarterwx"] {
        let status = http
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "{path}");
    }

    // Refused before any insert: unsigned, forged, too large.
    let event = smartcomply_body("evt_ok", "2026-05-05T15:10:00Z", Some("asm_1"));
    let unsigned = post_smartcomply(&http, &base, &event, Some(""))
        .await
        .unwrap();
    assert_eq!(unsigned, StatusCode::UNAUTHORIZED);
    let forged = format!(
        "t={},v1={}",
        OffsetDateTime::now_utc().unix_timestamp(),
        "ab".repeat(32)
    );
    let forged = post_smartcomply(&http, &base, &event, Some(&forged))
        .await
        .unwrap();
    assert_eq!(forged, StatusCode::UNAUTHORIZED);
    let mut huge = event.clone();
    huge.truncate(huge.len() - 2);
    huge.extend(std::iter::repeat_n(b' ', 2 * 1024 * 1024));
    huge.extend_from_slice(b"}\n");
    let too_large = post_smartcomply(&http, &base, &huge, None).await.unwrap();
    assert_eq!(too_large, StatusCode::PAYLOAD_TOO_LARGE);
    let not_json = post_smarterwx(&http, &base, b"not json").await.unwrap();
    assert_eq!(not_json, StatusCode::BAD_REQUEST);
    assert_eq!(inbox_rows(&pool).await, 0);

    // Accepted, processed once; the resend a duplicate.
    assert_eq!(
        post_smartcomply(&http, &base, &event, None).await.unwrap(),
        StatusCode::ACCEPTED
    );
    example.line("accepted evt_ok").await;
    example.line("processed evt_ok").await;
    assert_eq!(
        post_smartcomply(&http, &base, &event, None).await.unwrap(),
        StatusCode::ACCEPTED
    );
    example.line("duplicate evt_ok").await;
    assert_eq!(effects(&pool, "smartcomply:evt_ok").await, [1]);
    let (order_key, event_time): (Option<String>, String) = sqlx::query_as(
        "SELECT order_key, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') \
         FROM receiver_effects WHERE key = 'smartcomply:evt_ok'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(order_key.as_deref(), Some("assembly:asm_1"));
    assert_eq!(event_time, "2026-05-05T15:10:00");

    // A batch: a flaky notification, done on its third attempt; one the
    // model cannot read, parked.
    let unreadable = serde_json::json!({"uuid": "u-bad", "event": "referral:update",
        "timestamp": "2024-01-01T00:00:00Z", "message": {"id": "x"}});
    let batch = batch_body(&[
        notification("u-flaky", "2024-01-01T00:00:00Z", 41, "referral:create"),
        unreadable,
    ]);
    assert_eq!(
        post_smarterwx(&http, &base, &batch).await.unwrap(),
        StatusCode::ACCEPTED
    );
    for line in [
        "accepted u-flaky",
        "parked u-bad",
        "failed u-flaky attempt 1",
        "failed u-flaky attempt 2",
        "processed u-flaky",
    ] {
        example.line(line).await;
    }
    assert_eq!(effects(&pool, "smarterwx:u-flaky").await, [3]);

    // A signed id that holds a line break prints one escaped line per
    // step, never a forged line of its own.
    let forging = smartcomply_body("evt_1\nprocessed evt_FORGED", "2026-05-05T15:10:00Z", None);
    assert_eq!(
        post_smartcomply(&http, &base, &forging, None)
            .await
            .unwrap(),
        StatusCode::ACCEPTED
    );
    example.line(r"accepted evt_1\nprocessed evt_FORGED").await;
    example.line(r"processed evt_1\nprocessed evt_FORGED").await;
    assert!(
        !example.lines().iter().any(|l| l == "processed evt_FORGED"),
        "a forged line"
    );

    // Always failing: three attempts, then dead; no effect stays.
    let failing = smartcomply_body("evt_fail", "2026-05-05T15:10:00Z", None);
    assert_eq!(
        post_smartcomply(&http, &base, &failing, None)
            .await
            .unwrap(),
        StatusCode::ACCEPTED
    );
    example.line("dead evt_fail").await;
    let lines = example.lines();
    let about: Vec<&String> = lines.iter().filter(|l| l.contains("evt_fail")).collect();
    assert_eq!(
        about,
        [
            "accepted evt_fail",
            "failed evt_fail attempt 1",
            "failed evt_fail attempt 2",
            "failed evt_fail attempt 3",
            "dead evt_fail"
        ]
    );
    assert!(effects(&pool, "smartcomply:evt_fail").await.is_empty());
    // Every stdout line is one of the documented kinds.
    let kinds = [
        "accepted ",
        "duplicate ",
        "processed ",
        "failed ",
        "dead ",
        "parked ",
    ];
    for line in &lines {
        assert!(kinds.iter().any(|k| line.starts_with(k)), "{line:?}");
    }

    // The database stops: 503, never 2xx, and nothing is lost once it is
    // back.
    server.stop();
    let late = smartcomply_body("evt_late", "2026-05-05T15:10:00Z", None);
    let started = Instant::now();
    let down = post_smartcomply(&http, &base, &late, None).await.unwrap();
    assert_eq!(down, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.restart();
    assert_eq!(
        post_smartcomply(&http, &base, &late, None).await.unwrap(),
        StatusCode::ACCEPTED
    );
    example.line("processed evt_late").await;
    drop(example);

    // `accept` takes deliveries and runs no worker; `work` runs workers and
    // serves no webhook route.
    let accepter = Example::start(server.url(), &[("INBOX_ROLE", "accept")]);
    let queued = smartcomply_body("evt_queued", "2026-05-05T15:10:00Z", None);
    let status = post_smartcomply(&http, &accepter.base, &queued, None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::ACCEPTED);
    accepter.line("accepted evt_queued").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pool = PgPool::connect(server.url()).await.unwrap();
    assert!(effects(&pool, "smartcomply:evt_queued").await.is_empty());
    let worker = Example::start(server.url(), &[("INBOX_ROLE", "work")]);
    worker.line("processed evt_queued").await;
    let refused = post_smartcomply(&http, &worker.base, &queued, None)
        .await
        .unwrap();
    assert_eq!(refused, StatusCode::NOT_FOUND);
    let status = http
        .get(format!("{}/", worker.base))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_transaction_leaves_neither_effect_nor_completion() {
    let Some(server) = PgServer::own() else {
        return;
    };
    let mut slow = Example::start(
        server.url(),
        &[("WORK_DELAY_MS", "60000"), ("INBOX_LEASE_MS", "1000")],
    );
    let http = client(Duration::from_secs(5));
    let event = smartcomply_body("evt_killed", "2026-05-05T15:10:00Z", None);
    assert_eq!(
        post_smartcomply(&http, &slow.base, &event, None)
            .await
            .unwrap(),
        StatusCode::ACCEPTED
    );
    // The effect is inserted, its transaction open, when the process dies.
    let pool = PgPool::connect(server.url()).await.unwrap();
    let started = Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' \
             AND query LIKE 'INSERT INTO receiver_effects%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if open == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the work never began"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    slow.kill();
    // The server ends the dead client's transaction.
    let started = Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'INSERT INTO receiver_effects%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if open == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the transaction stayed open"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(effects(&pool, "smartcomply:evt_killed").await.is_empty());
    let state: String =
        sqlx::query_scalar("SELECT state FROM webhook_inbox WHERE key = 'smartcomply:evt_killed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        state, "running",
        "not done: the completion rolled back with the effect"
    );

    // The next process takes it once the lease ends, and does it once.
    let next = Example::start(server.url(), &[("INBOX_LEASE_MS", "1000")]);
    next.line("processed evt_killed").await;
    assert_eq!(effects(&pool, "smartcomply:evt_killed").await, [2]);
    let log: String = sqlx::query_scalar(
        "SELECT attempt_log::text FROM webhook_inbox WHERE key = 'smartcomply:evt_killed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(log.contains("the worker was lost"), "{log}");
}

/// An item the simulator delivers, in its key's chain.
struct Item {
    key: String,
    vendor: &'static str,
    body: Vec<u8>,
}

/// The vendor: sends each key's items in order, each until a `2xx`, to
/// either process; some twice at once.
struct Vendor {
    client: reqwest::Client,
    endpoints: RwLock<[String; 2]>,
    requests: AtomicUsize,
    refused: AtomicUsize,
    no_answer: AtomicUsize,
    acknowledged: AtomicUsize,
    given_up: Mutex<Vec<String>>,
    started: Instant,
}

/// Whatever is not acknowledged by then is lost, and the test fails.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

impl Vendor {
    async fn send(&self, item: &Item, slot: usize) -> bool {
        self.requests.fetch_add(1, Ordering::SeqCst);
        let base = self.endpoints.read().unwrap()[slot].clone();
        let sent = match item.vendor {
            "smartcomply" => post_smartcomply(&self.client, &base, &item.body, None).await,
            _ => post_smarterwx(&self.client, &base, &item.body).await,
        };
        match sent {
            Ok(status) if status.is_success() => true,
            Ok(_) => {
                self.refused.fetch_add(1, Ordering::SeqCst);
                false
            }
            Err(_) => {
                self.no_answer.fetch_add(1, Ordering::SeqCst);
                false
            }
        }
    }

    async fn deliver(&self, item: &Item, first_slot: usize, twice: bool) {
        let mut backoff = Duration::from_millis(20);
        for attempt in 0.. {
            if self.started.elapsed() > GIVE_UP_AFTER {
                self.given_up.lock().unwrap().push(item.key.clone());
                return;
            }
            let slot = (first_slot + attempt) % 2;
            let ok = if attempt == 0 && twice {
                let (a, b) = tokio::join!(self.send(item, slot), self.send(item, 1 - slot));
                a || b
            } else {
                self.send(item, slot).await
            };
            if ok {
                self.acknowledged.fetch_add(1, Ordering::SeqCst);
                return;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(200));
        }
    }
}

/// The chains of one run: 100 assemblies of 7 SmartComply tests and 100
/// referrals of 3 SmarterWX notifications, 1 000 items, each chain in
/// event-time order.
fn chains(run: &str, number: u64) -> Vec<Vec<Item>> {
    let mut chains = Vec::new();
    for a in 0..100 {
        chains.push(
            (0..7)
                .map(|n| {
                    let id = format!("evt_{run}_{a}_{n}");
                    let at = format!("2026-05-05T15:{n:02}:00Z");
                    Item {
                        key: format!("smartcomply:{id}"),
                        vendor: "smartcomply",
                        body: smartcomply_body(&id, &at, Some(&format!("asm_{run}_{a}"))),
                    }
                })
                .collect(),
        );
    }
    for r in 0..100 {
        chains.push(
            (0..3)
                .map(|n| {
                    let uuid = format!("u-{run}-{r}-{n}");
                    let at = format!("2024-01-01T00:{n:02}:00Z");
                    let event = if n == 0 {
                        "referral:create"
                    } else {
                        "referral:update"
                    };
                    let one = notification(&uuid, &at, number * 1000 + r, event);
                    Item {
                        key: format!("smarterwx:{uuid}"),
                        vendor: "smarterwx",
                        body: batch_body(&[one]),
                    }
                })
                .collect(),
        );
    }
    chains
}

/// One seeded run: two processes, one SIGKILLed at random every half
/// second and started again, while the vendor delivers; then every key
/// must have exactly one effect, every row be done, and each order key's
/// effects follow event time.
async fn killed_every_half_second(server: &PgServer, pool: &PgPool, seed: u64) -> String {
    let mut rng = SplitMix64(seed);
    let run = format!("k{seed:x}");
    let number = seed % 1_000_000;
    let env: &[(&str, &str)] = &[
        ("INBOX_LEASE_MS", "1000"),
        ("INBOX_BACKOFF_MS", "50"),
        ("INBOX_CONCURRENCY", "8"),
        ("WORK_DELAY_MS", "30"),
    ];
    let url = server.url().to_owned();
    let start = |url: String| async move {
        tokio::task::spawn_blocking(move || Example::start(&url, env))
            .await
            .unwrap()
    };
    let mut processes = [start(url.clone()).await, start(url.clone()).await];
    let vendor = Arc::new(Vendor {
        client: client(Duration::from_secs(5)),
        endpoints: RwLock::new([processes[0].base.clone(), processes[1].base.clone()]),
        requests: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        no_answer: AtomicUsize::new(0),
        acknowledged: AtomicUsize::new(0),
        given_up: Mutex::default(),
        started: Instant::now(),
    });
    let chains = chains(&run, number);
    let keys: Vec<String> = chains
        .iter()
        .flatten()
        .map(|item| item.key.clone())
        .collect();
    let order: HashMap<String, (usize, usize)> = chains
        .iter()
        .enumerate()
        .flat_map(|(c, chain)| {
            chain
                .iter()
                .enumerate()
                .map(move |(i, item)| (item.key.clone(), (c, i)))
        })
        .collect();
    let twice: Vec<Vec<bool>> = chains
        .iter()
        .map(|chain| chain.iter().map(|_| rng.chance(20)).collect())
        .collect();
    let duplicates: usize = twice.iter().flatten().filter(|t| **t).count();
    let in_flight = Arc::new(tokio::sync::Semaphore::new(32));
    let mut senders = tokio::task::JoinSet::new();
    for (c, (chain, twice)) in chains.into_iter().zip(twice).enumerate() {
        let (vendor, in_flight) = (Arc::clone(&vendor), Arc::clone(&in_flight));
        senders.spawn(async move {
            for (item, twice) in chain.iter().zip(twice) {
                let _slot = in_flight.acquire().await.unwrap();
                vendor.deliver(item, c, twice).await;
            }
        });
    }
    // Kill one at random every half second, while the vendor delivers and
    // for two seconds more, while the workers work.
    let (mut kills, mut kills_mid_work) = (0, 0);
    let mut delivered_at = None;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if vendor.acknowledged.load(Ordering::SeqCst) == keys.len() {
            let at = *delivered_at.get_or_insert_with(Instant::now);
            if at.elapsed() > Duration::from_secs(2) {
                break;
            }
        }
        if vendor.started.elapsed() > GIVE_UP_AFTER {
            break;
        }
        let running: i64 =
            sqlx::query_scalar("SELECT count(*) FROM webhook_inbox WHERE state = 'running'")
                .fetch_one(pool)
                .await
                .unwrap();
        let victim = rng.below(2) as usize;
        processes[victim].kill();
        processes[victim] = start(url.clone()).await;
        vendor.endpoints.write().unwrap()[victim] = processes[victim].base.clone();
        kills += 1;
        kills_mid_work += usize::from(running > 0);
    }
    while let Some(done) = senders.join_next().await {
        done.expect("a vendor task panicked");
    }
    // Then everything is processed, with the processes left alone.
    let started = Instant::now();
    let done = loop {
        let done: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM webhook_inbox WHERE key = ANY($1) AND state = 'done'",
        )
        .bind(&keys)
        .fetch_one(pool)
        .await
        .unwrap();
        if done == keys.len() as i64 || started.elapsed() > Duration::from_secs(30) {
            break done;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let took = vendor.started.elapsed();
    drop(processes);

    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT key, count(*) FROM receiver_effects WHERE key = ANY($1) GROUP BY key",
    )
    .bind(&keys)
    .fetch_all(pool)
    .await
    .unwrap();
    let counts: HashMap<String, i64> = rows.into_iter().collect();
    let lost: Vec<&String> = keys.iter().filter(|k| !counts.contains_key(*k)).collect();
    let doubled: i64 = counts.values().map(|n| n - 1).sum();
    // Each key's effects, in commit order, follow its chain.
    let committed: Vec<String> = sqlx::query_scalar(
        "SELECT key FROM receiver_effects WHERE key = ANY($1) ORDER BY processed_at",
    )
    .bind(&keys)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut next_in_chain: HashMap<usize, usize> = HashMap::new();
    let mut out_of_order = Vec::new();
    for key in &committed {
        let (chain, index) = order[key];
        let next = next_in_chain.entry(chain).or_default();
        if index != *next {
            out_of_order.push(key.clone());
        }
        *next = index + 1;
    }
    let line = format!(
        "inbox kills: seed={seed:#x} items={} duplicates={duplicates} kills={kills} \
         kills_mid_work={kills_mid_work} requests={} refused={} no_answer={} done={done} \
         lost={} doubled={doubled} out_of_order={} in {:.1}s",
        keys.len(),
        vendor.requests.load(Ordering::SeqCst),
        vendor.refused.load(Ordering::SeqCst),
        vendor.no_answer.load(Ordering::SeqCst),
        lost.len(),
        out_of_order.len(),
        took.as_secs_f64(),
    );
    let _ = writeln!(std::io::stderr(), "{line}");
    assert_eq!(
        *vendor.given_up.lock().unwrap(),
        Vec::<String>::new(),
        "{line}"
    );
    assert!(lost.is_empty(), "lost {lost:?}; {line}");
    assert_eq!(doubled, 0, "{line}");
    assert_eq!(done, keys.len() as i64, "{line}");
    assert!(out_of_order.is_empty(), "{out_of_order:?}; {line}");
    assert!(kills >= 4, "{line}");
    assert!(kills_mid_work >= 2, "{line}");
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_killed_every_half_second_lose_and_double_nothing() {
    let Some(server) = PgServer::own() else {
        return;
    };
    let seeds = match std::env::var("FAULT_SEED") {
        Ok(_) => vec![common::fault_seed(0)],
        Err(_) => vec![0x1b0c, 0x5eed_0002, 0xdead_0003],
    };
    // The tables, once, before processes race to make them.
    drop(Example::start(server.url(), &[("INBOX_ROLE", "accept")]));
    let pool = PgPool::connect(server.url()).await.unwrap();
    let mut seen = HashSet::new();
    for seed in seeds {
        assert!(seen.insert(seed));
        killed_every_half_second(&server, &pool, seed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nine_seconds_of_work_every_delivery_is_answered_within_three_seconds() {
    let Some(server) = PgServer::own() else {
        return;
    };
    let example = Example::start(
        server.url(),
        &[("WORK_DELAY_MS", "9000"), ("INBOX_CONCURRENCY", "16")],
    );
    // SmarterWX's patience: 3 s, then it resends. This vendor does not.
    let patient = client(Duration::from_secs(3));
    let mut sent = tokio::task::JoinSet::new();
    for n in 0..16_u64 {
        let (patient, base) = (patient.clone(), example.base.clone());
        sent.spawn(async move {
            let started = Instant::now();
            let status = if n % 4 == 0 {
                let id = format!("evt_patience_{n}");
                let body = smartcomply_body(&id, "2026-05-05T15:10:00Z", None);
                post_smartcomply(&patient, &base, &body, None).await
            } else {
                let uuid = format!("u-patience-{n}");
                let body = batch_body(&[notification(
                    &uuid,
                    "2024-01-01T00:00:00Z",
                    9000 + n,
                    "referral:create",
                )]);
                post_smarterwx(&patient, &base, &body).await
            };
            (n, status.map_err(|e| e.to_string()), started.elapsed())
        });
    }
    let mut ids = Vec::new();
    while let Some(answer) = sent.join_next().await {
        let (n, status, took) = answer.unwrap();
        assert_eq!(
            status,
            Ok(StatusCode::ACCEPTED),
            "delivery {n} after {took:?}"
        );
        assert!(took < Duration::from_secs(3), "delivery {n} took {took:?}");
        ids.push(if n % 4 == 0 {
            format!("evt_patience_{n}")
        } else {
            format!("u-patience-{n}")
        });
    }
    // The work takes its 9 s, after the answers.
    for id in &ids {
        example.line(&format!("processed {id}")).await;
    }
    let lines = example.lines();
    for id in &ids {
        let processed = lines
            .iter()
            .filter(|l| **l == format!("processed {id}"))
            .count();
        let accepted = lines
            .iter()
            .filter(|l| **l == format!("accepted {id}"))
            .count();
        assert_eq!((accepted, processed), (1, 1), "{id}: {lines:?}");
    }
    let pool = PgPool::connect(server.url()).await.unwrap();
    let effects: i64 = sqlx::query_scalar("SELECT count(*) FROM receiver_effects")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(effects, 16);
}
