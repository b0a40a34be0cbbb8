//! The inbox against a real PostgreSQL, in this process: what accept
//! stores, every state change a worker makes, order per key with a
//! failing head and two workers racing, replay of a parked item after the
//! model changes, purge with tombstones, the operations' shapes, the
//! claim's plan on 100k rows, and a database that goes away. The example
//! run as processes (kills, the vendor's patience) is in `inbox_process`.
#![cfg(feature = "postgres")]

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::inbox::{batch_body, notification, raw_notifications, smartcomply_body};
use common::postgres::{PgServer, unique_table};
use sqlx::{AssertSqlSafe, PgPool};
use utility_webhooks::idempotency::{Answer, StoreErrorKind, TransactionWork};
use utility_webhooks::inbox::{
    Admission, Backoff, Change, Inbox, Item, Job, ListQuery, Purge, Receipt, State, WorkerEvent,
    by_subject,
};
use utility_webhooks::{Error, smartcomply, smarterwx};

const SECRET: &str = "swx inbox secret";

/// An inbox on `server` with a table of its own, ordered by subject, and a
/// table of effects of its own.
struct Fixture {
    inbox: Inbox,
    pool: PgPool,
    effects: String,
}

impl Fixture {
    async fn new(server: &PgServer) -> Self {
        let inbox = Inbox::connect(server.url())
            .await
            .expect("the server is up")
            .with_table(&unique_table("inbox"))
            .unwrap()
            .with_order_key(by_subject);
        inbox.migrate().await.unwrap();
        // Twice is no error.
        inbox.migrate().await.unwrap();
        let effects = unique_table("effects");
        let pool = inbox.pool().clone();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "CREATE TABLE {effects} (key text NOT NULL, attempt int NOT NULL, \
             started_at timestamptz NOT NULL, processed_at timestamptz NOT NULL DEFAULT clock_timestamp())"
        )))
        .execute(&pool)
        .await
        .unwrap();
        Fixture {
            inbox,
            pool,
            effects,
        }
    }

    /// Accept a SmartComply body, readable or not.
    async fn smartcomply(&self, body: &[u8]) -> Receipt {
        let read = match smartcomply::parse(body) {
            Ok(event) => Ok(event),
            Err(Error::Payload(e)) => Err(e.unreadable().expect("an envelope").clone()),
            Err(e) => panic!("{e}"),
        };
        self.inbox.accept(&(read, body)).await.unwrap()
    }

    /// Accept a SmarterWX batch, read notification by notification.
    async fn smarterwx(&self, body: &[u8]) -> Receipt {
        let batch = smarterwx::Verifier::new(SECRET)
            .unwrap()
            .verify_and_parse_each(smarterwx::sign(SECRET, body), body)
            .unwrap();
        self.inbox.accept(&(batch, body)).await.unwrap()
    }

    /// One column of `key`'s row, as text.
    async fn column(&self, key: &str, column: &str) -> Option<String> {
        let sql = format!(
            "SELECT {column}::text FROM {} WHERE key = $1",
            self.inbox.table()
        );
        sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(sql))
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The stored JSON of `key`.
    async fn raw(&self, key: &str) -> Option<Vec<u8>> {
        let sql = format!("SELECT raw FROM {} WHERE key = $1", self.inbox.table());
        sqlx::query_scalar::<_, Option<Vec<u8>>>(AssertSqlSafe(sql))
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn rows(&self) -> i64 {
        let sql = format!("SELECT count(*) FROM {}", self.inbox.table());
        sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn state(&self, key: &str) -> State {
        self.column(key, "state").await.unwrap().parse().unwrap()
    }

    /// The effects recorded for `key`, in commit order: (attempt, started,
    /// processed) as microseconds.
    async fn effects_of(&self, key: &str) -> Vec<(i32, i64, i64)> {
        let sql = format!(
            "SELECT attempt, (extract(epoch FROM started_at) * 1e6)::int8, \
             (extract(epoch FROM processed_at) * 1e6)::int8 FROM {} WHERE key = $1 \
             ORDER BY processed_at",
            self.effects
        );
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(key)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// Wait until `done(stats)` holds, or fail after `within`.
    async fn until(
        &self,
        within: Duration,
        what: &str,
        done: impl Fn(&utility_webhooks::inbox::Stats) -> bool,
    ) {
        let start = Instant::now();
        loop {
            let stats = self.inbox.stats().await.unwrap();
            if done(&stats) {
                return;
            }
            assert!(start.elapsed() < within, "{what}: {stats:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// What the tests' handler does for each id.
#[derive(Default)]
struct Script {
    /// Always fails.
    fail: Vec<String>,
    /// Fails its first `n` attempts.
    flaky: HashMap<String, u32>,
    /// Panics.
    panic: Vec<String>,
    /// Never finishes.
    hang: Vec<String>,
    /// Runs a statement longer than accept's statement timeout (1 s).
    slow_statement: Vec<String>,
    /// How long each attempt takes.
    delay: Duration,
    /// Items of each order key running now, and the most at once.
    running: Mutex<HashMap<String, usize>>,
    most_at_once: Mutex<usize>,
    /// The ids in the order their work began.
    began: Mutex<Vec<String>>,
}

/// A running worker: stop it to let it finish.
struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), utility_webhooks::idempotency::StoreError>>,
    events: Arc<Mutex<Vec<WorkerEvent>>>,
}

impl Running {
    async fn stop(mut self) -> Vec<WorkerEvent> {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap().unwrap();
        self.events.lock().unwrap().clone()
    }
}

/// The handler: record the effect in the transaction, then do what the
/// script says for the item's id.
fn work(
    effects: String,
    script: Arc<Script>,
) -> impl for<'c> Fn(Job, &'c mut sqlx::PgConnection) -> TransactionWork<'c, (), String>
+ Send
+ Sync
+ 'static {
    move |job, tx| {
        let (effects, script) = (effects.clone(), Arc::clone(&script));
        Box::pin(async move {
            let id = job.item().id().to_owned();
            script.began.lock().unwrap().push(id.clone());
            let order = job.order_key().map(str::to_owned);
            if let Some(order) = &order {
                let mut running = script.running.lock().unwrap();
                let now = running.entry(order.clone()).or_default();
                *now += 1;
                let mut most = script.most_at_once.lock().unwrap();
                *most = (*most).max(*now);
            }
            let sql = format!(
                "INSERT INTO {effects} (key, attempt, started_at) VALUES ($1, $2, clock_timestamp())"
            );
            let inserted = sqlx::query(AssertSqlSafe(sql))
                .bind(job.key())
                .bind(job.attempt() as i32)
                .execute(&mut *tx)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string());
            tokio::time::sleep(script.delay).await;
            if script.slow_statement.contains(&id) {
                sqlx::query("SELECT pg_sleep(1.2)")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            if let Some(order) = &order {
                *script.running.lock().unwrap().get_mut(order).unwrap() -= 1;
            }
            inserted?;
            if script.fail.contains(&id) {
                return Err(format!("{id} fails\non purpose"));
            }
            if script.flaky.get(&id).is_some_and(|n| job.attempt() <= *n) {
                return Err(format!("{id} is flaky"));
            }
            if script.panic.contains(&id) {
                panic!("{id} panics");
            }
            if script.hang.contains(&id) {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
}

impl Fixture {
    /// A worker with quick settings, running `script`.
    fn start(
        &self,
        script: &Arc<Script>,
        tune: impl FnOnce(utility_webhooks::inbox::Worker) -> utility_webhooks::inbox::Worker,
    ) -> Running {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let worker = self
            .inbox
            .worker(work(self.effects.clone(), Arc::clone(script)))
            .concurrency(4)
            .lease(Duration::from_millis(2000))
            .max_attempts(3)
            .backoff(
                Backoff::exponential(Duration::from_millis(20)).with_max(Duration::from_millis(80)),
            )
            .poll(Duration::from_millis(100))
            .on_event(move |event| seen.lock().unwrap().push(event.clone()))
            .shutdown(async move {
                let _ = stopped.await;
            });
        let worker = tune(worker);
        Running {
            stop: Some(stop),
            done: tokio::spawn(worker.run()),
            events,
        }
    }
}

fn admissions(receipt: &Receipt) -> Vec<(String, Admission)> {
    receipt
        .items()
        .iter()
        .map(|item| (item.label().to_owned(), item.admission()))
        .collect()
}

#[tokio::test]
async fn accept_stores_each_item_byte_for_byte_once() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;

    // A SmartComply event, pretty-printed as a vendor may send it.
    let body = smartcomply_body("evt_a1", "2026-05-05T15:10:00.123456Z", Some("asm_1"));
    let receipt = f.smartcomply(&body).await;
    assert_eq!(Answer::from(&receipt).http_status(), 202);
    assert_eq!(
        admissions(&receipt),
        [("evt_a1".to_owned(), Admission::Accepted)]
    );
    let key = "smartcomply:evt_a1";
    assert_eq!(receipt.items()[0].key(), key);
    assert_eq!(f.raw(key).await.unwrap(), body);
    assert_eq!(
        f.column(key, "vendor").await.as_deref(),
        Some("smartcomply")
    );
    assert_eq!(f.column(key, "id").await.as_deref(), Some("evt_a1"));
    assert_eq!(
        f.column(key, "event_type").await.as_deref(),
        Some("test.failed")
    );
    assert_eq!(
        f.column(key, "order_key").await.as_deref(),
        Some("assembly:asm_1")
    );
    assert_eq!(f.column(key, "state").await.as_deref(), Some("pending"));
    assert_eq!(f.column(key, "attempts").await.as_deref(), Some("0"));
    let time = f
        .column(
            key,
            "to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')",
        )
        .await;
    assert_eq!(time.as_deref(), Some("2026-05-05T15:10:00.123456"));

    // The same key again, even with other bytes: a duplicate, nothing
    // changed.
    let again = smartcomply_body("evt_a1", "2026-05-05T15:10:00Z", None);
    let receipt = f.smartcomply(&again).await;
    assert_eq!(
        admissions(&receipt),
        [("evt_a1".to_owned(), Admission::Duplicate)]
    );
    assert_eq!(Answer::from(&receipt).http_status(), 202);
    assert_eq!(f.raw(key).await.unwrap(), body);
    assert_eq!(f.rows().await, 1);

    // A signed SmartComply event whose data does not fit: parked, 2xx.
    let unfit = br#"{"id":"evt_unfit","type":"test.failed","created_at":"2026-05-05T15:10:00Z","data":{"test_id":7}}"#;
    let receipt = f.smartcomply(unfit).await;
    assert_eq!(
        admissions(&receipt),
        [("evt_unfit".to_owned(), Admission::Parked)]
    );
    assert_eq!(f.state("smartcomply:evt_unfit").await, State::Parked);
    assert_eq!(f.raw("smartcomply:evt_unfit").await.unwrap(), unfit);
    assert_eq!(f.column("smartcomply:evt_unfit", "order_key").await, None);
    assert_eq!(
        f.column("smartcomply:evt_unfit", "next_attempt_at").await,
        None
    );

    // A SmarterWX batch: one row per notification, each its slice of the
    // body; the unreadable one parked, a uuid sent twice stored once.
    let unreadable = serde_json::json!({"uuid": "u-bad", "event": "referral:update",
        "timestamp": "2023-11-20T01:00:00Z", "message": {"id": "not a number"}});
    let first = notification("u-1", "2023-11-20T01:00:00Z", 77, "referral:create");
    let body = batch_body(&[
        first.clone(),
        notification("u-2", "2023-11-20T01:05:00Z", 77, "referral:update"),
        unreadable,
        first,
    ]);
    let receipt = f.smarterwx(&body).await;
    assert_eq!(
        admissions(&receipt),
        [
            ("u-1".to_owned(), Admission::Accepted),
            ("u-2".to_owned(), Admission::Accepted),
            ("u-bad".to_owned(), Admission::Parked),
            ("u-1".to_owned(), Admission::Duplicate),
        ]
    );
    let raws = raw_notifications(&body);
    assert_eq!(f.raw("smarterwx:u-1").await.unwrap(), raws[0]);
    assert_eq!(f.raw("smarterwx:u-2").await.unwrap(), raws[1]);
    assert_eq!(f.raw("smarterwx:u-bad").await.unwrap(), raws[2]);
    assert_eq!(
        f.column("smarterwx:u-2", "order_key").await.as_deref(),
        Some("referral:77")
    );
    assert_eq!(
        f.column("smarterwx:u-bad", "event_type").await.as_deref(),
        Some("referral:update")
    );
    // Arrival order within the batch is the seq order.
    let seq = |key: &'static str| {
        let f = &f;
        async move { f.column(key, "seq").await.unwrap().parse::<i64>().unwrap() }
    };
    assert!(seq("smarterwx:u-1").await < seq("smarterwx:u-2").await);

    // A batch resent whole: every item a duplicate.
    let receipt = f.smarterwx(&body).await;
    assert!(
        receipt
            .items()
            .iter()
            .all(|i| i.admission() == Admission::Duplicate)
    );
    // An empty batch stores nothing and needs no database.
    assert!(f.smarterwx(b"[]").await.items().is_empty());
    assert_eq!(f.rows().await, 5);

    let stats = f.inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.parked, stats.done), (3, 2, 0));
    assert!(
        stats.oldest_pending_age_s >= 0.0 && stats.oldest_pending_age_s < 60.0,
        "{stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_does_each_item_once_in_its_transaction() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    // The work's statements have no statement timeout.
    let script = Arc::new(Script {
        slow_statement: vec!["evt_w07".into()],
        ..Script::default()
    });
    let worker = f.start(&script, |w| w);
    let mut keys = Vec::new();
    for i in 0..40 {
        let id = format!("evt_w{i:02}");
        f.smartcomply(&smartcomply_body(&id, "2026-05-05T15:10:00Z", None))
            .await;
        keys.push(format!("smartcomply:{id}"));
    }
    f.until(Duration::from_secs(20), "all done", |s| s.done == 40)
        .await;
    let events = worker.stop().await;
    for key in &keys {
        let effects = f.effects_of(key).await;
        assert_eq!(effects.len(), 1, "{key}");
        assert_eq!(effects[0].0, 1, "{key}: the first attempt");
        let detail = f.inbox.get(key).await.unwrap().unwrap();
        assert_eq!(detail.entry.state, State::Done);
        assert_eq!(detail.entry.attempts, 1);
        assert_eq!(detail.entry.next_attempt_at, None);
        assert_eq!(detail.attempt_log.len(), 1);
        let attempt = &detail.attempt_log[0];
        assert_eq!((attempt.n, attempt.error.as_deref()), (1, None));
        assert!(attempt.finished_at.unwrap() >= attempt.started_at);
    }
    let processed = events
        .iter()
        .filter(|e| matches!(e, WorkerEvent::Processed { attempt: 1, .. }))
        .count();
    assert_eq!(processed, 40, "{events:?}");
    let stats = f.inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.running, stats.done), (0, 0, 40));
    assert_eq!(stats.oldest_pending_age_s, 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_roll_back_retry_with_backoff_then_die() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let script = Arc::new(Script {
        fail: vec!["evt_fail".into()],
        flaky: HashMap::from([("evt_flaky".to_owned(), 2)]),
        panic: vec!["evt_panic".into()],
        hang: vec!["evt_hang".into()],
        ..Script::default()
    });
    let worker = f.start(&script, |w| w.timeout(Duration::from_millis(300)));
    for id in ["evt_fail", "evt_flaky", "evt_panic", "evt_hang", "evt_fine"] {
        f.smartcomply(&smartcomply_body(id, "2026-05-05T15:10:00Z", None))
            .await;
    }
    f.until(Duration::from_secs(30), "settled", |s| {
        s.done == 2 && s.dead == 3
    })
    .await;
    let events = worker.stop().await;

    // Always failing: three attempts, each rolled back, then dead.
    let key = "smartcomply:evt_fail";
    assert_eq!(f.state(key).await, State::Dead);
    assert!(
        f.effects_of(key).await.is_empty(),
        "every attempt rolled back"
    );
    let detail = f.inbox.get(key).await.unwrap().unwrap();
    assert_eq!(detail.entry.attempts, 3);
    assert_eq!(
        detail.entry.last_error.as_deref(),
        Some("evt_fail fails\\non purpose")
    );
    let errors: Vec<_> = detail
        .attempt_log
        .iter()
        .map(|a| (a.n, a.error.clone()))
        .collect();
    let escaped = Some("evt_fail fails\\non purpose".to_owned());
    assert_eq!(
        errors,
        [(1, escaped.clone()), (2, escaped.clone()), (3, escaped)]
    );
    // The retries waited (20 ms floor) between attempts.
    for pair in detail.attempt_log.windows(2) {
        let gap = pair[1].started_at - pair[0].finished_at.unwrap();
        assert!(gap >= time::Duration::milliseconds(10), "{gap}");
    }
    let lines: Vec<String> = events
        .iter()
        .filter(|e| matches!(e, WorkerEvent::Failed { key, .. } | WorkerEvent::Dead { key, .. } if key == "smartcomply:evt_fail"))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        lines,
        [
            "failed evt_fail attempt 1",
            "failed evt_fail attempt 2",
            "failed evt_fail attempt 3",
            "dead evt_fail"
        ]
    );

    // Flaky: two failures, then done on the third attempt, once.
    let key = "smartcomply:evt_flaky";
    assert_eq!(f.state(key).await, State::Done);
    let effects = f.effects_of(key).await;
    assert_eq!(effects.iter().map(|e| e.0).collect::<Vec<_>>(), [3]);
    let detail = f.inbox.get(key).await.unwrap().unwrap();
    assert_eq!(detail.attempt_log.len(), 3);
    assert_eq!(detail.attempt_log[2].error, None);
    assert_eq!(
        detail.entry.last_error.as_deref(),
        Some("evt_flaky is flaky")
    );

    // A panic is an error like any other, with its message.
    let detail = f.inbox.get("smartcomply:evt_panic").await.unwrap().unwrap();
    assert_eq!(detail.entry.state, State::Dead);
    assert_eq!(
        detail.entry.last_error.as_deref(),
        Some("panicked: evt_panic panics")
    );
    assert!(f.effects_of("smartcomply:evt_panic").await.is_empty());

    // A handler that hangs is cut at its timeout and retried.
    let detail = f.inbox.get("smartcomply:evt_hang").await.unwrap().unwrap();
    assert_eq!(detail.entry.state, State::Dead);
    assert_eq!(
        detail.entry.last_error.as_deref(),
        Some("timed out after 300ms")
    );
    for attempt in &detail.attempt_log {
        let took = attempt.finished_at.unwrap() - attempt.started_at;
        assert!(took >= time::Duration::milliseconds(300), "{took}");
    }
    assert!(f.effects_of("smartcomply:evt_hang").await.is_empty());

    assert_eq!(f.effects_of("smartcomply:evt_fine").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_per_key_holds_later_items_behind_a_failing_head() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let script = Arc::new(Script {
        fail: vec!["u-head".into()],
        delay: Duration::from_millis(30),
        ..Script::default()
    });
    // Referral 9: the later items arrive first, then the head; referral 10
    // runs beside it.
    let later = batch_body(&[
        notification("u-third", "2024-01-01T00:00:03Z", 9, "referral:update"),
        notification("u-second", "2024-01-01T00:00:02Z", 9, "referral:update"),
    ]);
    f.smarterwx(&later).await;
    f.smarterwx(&batch_body(&[notification(
        "u-head",
        "2024-01-01T00:00:01Z",
        9,
        "referral:create",
    )]))
    .await;
    f.smarterwx(&batch_body(&[
        notification("u-other-1", "2024-01-01T00:00:01Z", 10, "referral:create"),
        notification("u-other-2", "2024-01-01T00:00:02Z", 10, "referral:update"),
    ]))
    .await;
    // Two workers race for the same rows.
    let a = f.start(&script, |w| w);
    let b = f.start(&script, |w| w);
    f.until(
        Duration::from_secs(20),
        "the head dies, the other key is done",
        |s| s.dead == 1 && s.done == 2,
    )
    .await;
    // Held, not claimed: they never began.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(f.state("smarterwx:u-second").await, State::Pending);
    assert_eq!(f.state("smarterwx:u-third").await, State::Pending);
    assert!(
        !script
            .began
            .lock()
            .unwrap()
            .iter()
            .any(|id| id == "u-second" || id == "u-third")
    );
    assert_eq!(
        f.inbox
            .waiting_for("smarterwx:u-third")
            .await
            .unwrap()
            .as_deref(),
        Some("smarterwx:u-head")
    );
    assert_eq!(f.inbox.waiting_for("smarterwx:u-head").await.unwrap(), None);
    assert_eq!(
        f.inbox.waiting_for("smarterwx:u-other-2").await.unwrap(),
        None
    );

    // Discarding the head lets the rest go, in event-time order.
    assert_eq!(
        f.inbox.discard("smarterwx:u-head").await.unwrap(),
        Change::Applied {
            state: State::Discarded
        }
    );
    f.until(Duration::from_secs(20), "the rest done", |s| s.done == 4)
        .await;
    a.stop().await;
    b.stop().await;
    let began = script.began.lock().unwrap().clone();
    let at = |id: &str| began.iter().position(|b| b == id).unwrap();
    assert!(at("u-second") < at("u-third"), "{began:?}");
    assert!(at("u-other-1") < at("u-other-2"), "{began:?}");
    let second = f.effects_of("smarterwx:u-second").await;
    let third = f.effects_of("smarterwx:u-third").await;
    assert!(
        second[0].2 <= third[0].1,
        "the third began after the second committed"
    );
    assert_eq!(*script.most_at_once.lock().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_racing_keep_each_key_in_order_and_one_at_a_time() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let script = Arc::new(Script {
        delay: Duration::from_millis(5),
        ..Script::default()
    });
    // 8 assemblies, 12 tests each, accepted in a shuffled order; times
    // tie in pairs (arrival breaks the tie).
    let mut rng = common::SplitMix64(0x0de5);
    let mut events: Vec<(usize, usize)> =
        (0..8).flat_map(|a| (0..12).map(move |n| (a, n))).collect();
    for i in (1..events.len()).rev() {
        events.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut arrival: HashMap<usize, Vec<usize>> = HashMap::new();
    for &(a, n) in &events {
        let id = format!("evt_{a}_{n:02}");
        let at = format!("2026-05-05T15:{:02}:00Z", n / 2);
        f.smartcomply(&smartcomply_body(&id, &at, Some(&format!("asm_{a}"))))
            .await;
        arrival.entry(a).or_default().push(n);
    }
    let a = f.start(&script, |w| w.concurrency(4));
    let b = f.start(&script, |w| w.concurrency(4));
    f.until(Duration::from_secs(60), "all done", |s| s.done == 96)
        .await;
    a.stop().await;
    b.stop().await;
    assert_eq!(
        *script.most_at_once.lock().unwrap(),
        1,
        "one at a time per key"
    );
    let began = script.began.lock().unwrap().clone();
    assert_eq!(began.len(), 96, "each once: {began:?}");
    for (assembly, arrived) in arrival {
        let order: Vec<usize> = began
            .iter()
            .filter_map(|id| {
                let rest = id.strip_prefix(&format!("evt_{assembly}_"))?;
                rest.parse().ok()
            })
            .collect();
        // Event time first, then arrival for the ties.
        let mut expected = arrived.clone();
        expected.sort_by_key(|n| (n / 2, arrived.iter().position(|m| m == n)));
        assert_eq!(order, expected, "assembly {assembly}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reads_a_parked_item_again_once_the_model_does() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    // Signed, but `test_id` is a number where the model reads a string:
    // parked at accept.
    let unfit = br#"{"id":"evt_later","type":"test.failed","created_at":"2026-05-05T15:10:00Z",
        "data":{"test_id":7,"assembly_id":"asm_r","tester_id":"t","result":"fail","test_date":"2026-05-05"}}"#;
    assert_eq!(
        admissions(&f.smartcomply(unfit).await)[0].1,
        Admission::Parked
    );
    let key = "smartcomply:evt_later";
    let Change::Unreadable { error } = f.inbox.replay(key).await.unwrap() else {
        panic!("the model still cannot read it");
    };
    assert!(error.contains("data.test_id"), "{error}");
    assert_eq!(f.state(key).await, State::Parked);

    // The model changes: here, the stored bytes become what the new model
    // reads (the test cannot change the crate's model).
    let readable = std::str::from_utf8(unfit)
        .unwrap()
        .replace(r#""test_id":7"#, r#""test_id":"bft_7""#);
    let sql = format!("UPDATE {} SET raw = $1 WHERE key = $2", f.inbox.table());
    sqlx::query(AssertSqlSafe(sql))
        .bind(readable.as_bytes())
        .bind(key)
        .execute(&f.pool)
        .await
        .unwrap();
    assert_eq!(
        f.inbox.replay(key).await.unwrap(),
        Change::Applied {
            state: State::Pending
        }
    );
    assert_eq!(
        f.column(key, "order_key").await.as_deref(),
        Some("assembly:asm_r")
    );
    assert_eq!(
        f.column(key, "event_type").await.as_deref(),
        Some("test.failed")
    );
    assert_eq!(
        f.inbox.replay(key).await.unwrap(),
        Change::Refused {
            state: State::Pending
        }
    );

    // A row corrupted after it was accepted: the worker parks it, never
    // panics, and processes the rest.
    f.smartcomply(&smartcomply_body(
        "evt_corrupt",
        "2026-05-05T15:10:00Z",
        None,
    ))
    .await;
    let sql = format!(
        "UPDATE {} SET raw = '\\x7b7b'::bytea WHERE key = $1",
        f.inbox.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind("smartcomply:evt_corrupt")
        .execute(&f.pool)
        .await
        .unwrap();
    let script = Arc::new(Script::default());
    let worker = f.start(&script, |w| w);
    f.until(
        Duration::from_secs(20),
        "replayed done, corrupt parked",
        |s| s.done == 1 && s.parked == 1,
    )
    .await;
    let events = worker.stop().await;
    assert_eq!(f.effects_of(key).await.len(), 1);
    assert!(f.effects_of("smartcomply:evt_corrupt").await.is_empty());
    let detail = f
        .inbox
        .get("smartcomply:evt_corrupt")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.entry.state, State::Parked);
    assert!(
        detail
            .entry
            .last_error
            .as_deref()
            .unwrap()
            .starts_with("invalid webhook payload")
    );
    assert!(
        events.iter().any(|e| e.to_string() == "parked evt_corrupt"),
        "{events:?}"
    );
    assert_eq!(detail.attempt_log.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_move_rows_and_show_them_as_the_console_does() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let script = Arc::new(Script {
        fail: vec!["evt_dead_1".into(), "evt_dead_2".into()],
        ..Script::default()
    });
    for id in ["evt_dead_1", "evt_dead_2", "evt_ok"] {
        f.smartcomply(&smartcomply_body(id, "2026-05-05T15:10:00Z", None))
            .await;
    }
    f.smarterwx(&batch_body(&[notification(
        "u-list",
        "2024-01-01T00:00:00Z",
        5,
        "referral:create",
    )]))
    .await;
    let worker = f.start(&script, |w| w.max_attempts(1));
    f.until(Duration::from_secs(20), "settled", |s| {
        s.dead == 2 && s.done == 2
    })
    .await;

    assert_eq!(
        f.inbox.retry("smartcomply:nope").await.unwrap(),
        Change::NotFound
    );
    assert_eq!(
        f.inbox.retry("smartcomply:evt_ok").await.unwrap(),
        Change::Refused { state: State::Done }
    );
    assert_eq!(
        f.inbox.discard("smartcomply:evt_ok").await.unwrap(),
        Change::Refused { state: State::Done }
    );
    assert_eq!(
        f.inbox.replay("smartcomply:evt_ok").await.unwrap(),
        Change::Refused { state: State::Done }
    );

    // Listing: newest first, filtered, paged by key.
    let dead = f
        .inbox
        .list(&ListQuery::new().state(State::Dead))
        .await
        .unwrap();
    let keys: Vec<&str> = dead.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(keys, ["smartcomply:evt_dead_2", "smartcomply:evt_dead_1"]);
    assert_eq!(dead[0].attempts, 1);
    assert_eq!(
        dead[0].last_error.as_deref(),
        Some("evt_dead_2 fails\\non purpose")
    );
    assert_eq!(dead[0].id.as_deref(), Some("evt_dead_2"));
    let page = f.inbox.list(&ListQuery::new().limit(2)).await.unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].key, "smarterwx:u-list");
    let next = f
        .inbox
        .list(&ListQuery::new().limit(2).after(&page[1].key))
        .await
        .unwrap();
    assert_eq!(
        next.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        ["smartcomply:evt_dead_2", "smartcomply:evt_dead_1"]
    );
    let wx = f
        .inbox
        .list(
            &ListQuery::new()
                .vendor("smarterwx")
                .event_type("referral:create"),
        )
        .await
        .unwrap();
    assert_eq!(wx.len(), 1);
    assert_eq!(wx[0].order_key.as_deref(), Some("referral:5"));
    let json = serde_json::to_value(&wx[0]).unwrap();
    assert_eq!(json["state"], "done");
    assert_eq!(json["vendor"], "smarterwx");
    assert!(
        json["received_at"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );
    let detail =
        serde_json::to_value(f.inbox.get("smarterwx:u-list").await.unwrap().unwrap()).unwrap();
    let raw: serde_json::Value = serde_json::from_str(detail["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["uuid"], "u-list");
    assert_eq!(detail["attempt_log"][0]["n"], 1);
    assert_eq!(f.inbox.get("smartcomply:nope").await.unwrap(), None);

    // A manual retry does not wait, and starts a fresh count.
    assert_eq!(
        f.inbox.retry("smartcomply:evt_dead_1").await.unwrap(),
        Change::Applied {
            state: State::Pending
        }
    );
    f.until(Duration::from_secs(20), "retried and dead again", |s| {
        s.dead == 2 && s.pending == 0 && s.running == 0
    })
    .await;
    let detail = f
        .inbox
        .get("smartcomply:evt_dead_1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.entry.attempts, 1);
    assert_eq!(
        detail.attempt_log.iter().map(|a| a.n).collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(f.inbox.retry_all(State::Done).await.unwrap(), 0);
    worker.stop().await;
    assert_eq!(f.inbox.retry_all(State::Dead).await.unwrap(), 2);
    assert_eq!(f.inbox.stats().await.unwrap().pending, 2);
    assert_eq!(
        f.inbox.discard("smartcomply:evt_dead_2").await.unwrap(),
        Change::Applied {
            state: State::Discarded
        }
    );
    assert_eq!(
        f.inbox.retry("smartcomply:evt_dead_2").await.unwrap(),
        Change::Applied {
            state: State::Pending
        }
    );
    let stats = serde_json::to_value(f.inbox.stats().await.unwrap()).unwrap();
    assert_eq!(stats["pending"], 2);
    assert_eq!(stats["done"], 2);
    assert!(stats["oldest_pending_age_s"].as_f64().unwrap() >= 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_empties_old_bodies_and_keeps_keys_as_tombstones() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let script = Arc::new(Script {
        fail: vec!["evt_p_dead".into()],
        ..Script::default()
    });
    for id in ["evt_p_1", "evt_p_2", "evt_p_3", "evt_p_dead"] {
        f.smartcomply(&smartcomply_body(id, "2026-05-05T15:10:00Z", None))
            .await;
    }
    let unfit = br#"{"id":"evt_p_parked","type":"test.failed","created_at":"2026-05-05T15:10:00Z","data":{}}"#;
    f.smartcomply(unfit).await;
    let worker = f.start(&script, |w| w.max_attempts(1));
    f.until(Duration::from_secs(20), "settled", |s| {
        s.done == 3 && s.dead == 1
    })
    .await;
    worker.stop().await;
    assert_eq!(
        f.inbox.discard("smartcomply:evt_p_3").await.unwrap(),
        Change::Refused { state: State::Done }
    );

    // Nothing is old enough yet.
    let kept = f
        .inbox
        .purge(&Purge::bodies_after(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!((kept.bodies, kept.keys), (0, 0));
    // In batches of 2: all three done rows, none of the dead or parked.
    let purged = f
        .inbox
        .purge(&Purge::bodies_after(Duration::ZERO).batch(2))
        .await
        .unwrap();
    assert_eq!((purged.bodies, purged.keys), (3, 0));
    assert_eq!(f.raw("smartcomply:evt_p_1").await, None);
    assert!(f.raw("smartcomply:evt_p_dead").await.is_some());
    assert_eq!(f.raw("smartcomply:evt_p_parked").await.unwrap(), unfit);
    let detail = f.inbox.get("smartcomply:evt_p_1").await.unwrap().unwrap();
    assert_eq!((detail.entry.state, detail.raw), (State::Done, None));
    // A purged row cannot be run again.
    assert_eq!(
        f.inbox.retry("smartcomply:evt_p_1").await.unwrap(),
        Change::Refused { state: State::Done }
    );

    // A late resend is still a duplicate.
    let late = f
        .smartcomply(&smartcomply_body("evt_p_1", "2026-05-05T15:10:00Z", None))
        .await;
    assert_eq!(late.items()[0].admission(), Admission::Duplicate);

    // Tombstones go only when asked, then the key is new again.
    let purged = f
        .inbox
        .purge(&Purge::bodies_after(Duration::ZERO).keys_after(Duration::ZERO))
        .await
        .unwrap();
    assert_eq!((purged.bodies, purged.keys), (0, 3));
    let later = f
        .smartcomply(&smartcomply_body("evt_p_1", "2026-05-05T15:10:00Z", None))
        .await;
    assert_eq!(later.items()[0].admission(), Admission::Accepted);
    assert_eq!(f.rows().await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cancelled_mid_transaction_leaves_neither_effect_nor_completion() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let script = Arc::new(Script {
        delay: Duration::from_secs(30),
        ..Script::default()
    });
    f.smartcomply(&smartcomply_body("evt_cut", "2026-05-05T15:10:00Z", None))
        .await;
    let key = "smartcomply:evt_cut";
    let worker = f.start(&script, |w| {
        w.lease(Duration::from_millis(400))
            .timeout(Duration::from_secs(60))
    });
    while script.began.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The effect is written, uncommitted; the worker goes away.
    worker.done.abort();
    let _ = worker.done.await;
    assert!(f.effects_of(key).await.is_empty());
    assert_eq!(f.state(key).await, State::Running);

    // Once its lease ends, another worker does it, once.
    let quick = Arc::new(Script::default());
    let again = f.start(&quick, |w| w);
    f.until(Duration::from_secs(20), "done by the second", |s| {
        s.done == 1
    })
    .await;
    again.stop().await;
    let effects = f.effects_of(key).await;
    assert_eq!(effects.iter().map(|e| e.0).collect::<Vec<_>>(), [2]);
    let detail = f.inbox.get(key).await.unwrap().unwrap();
    let log: Vec<_> = detail
        .attempt_log
        .iter()
        .map(|a| (a.n, a.error.clone()))
        .collect();
    assert_eq!(
        log,
        [
            (1, Some("the worker was lost: its lease ended".to_owned())),
            (2, None)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_counts_so_an_item_that_kills_its_worker_ends_dead() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    f.smartcomply(&smartcomply_body(
        "evt_poison",
        "2026-05-05T15:10:00Z",
        None,
    ))
    .await;
    let key = "smartcomply:evt_poison";
    let script = Arc::new(Script {
        delay: Duration::from_secs(30),
        ..Script::default()
    });
    // Each worker dies (is dropped) while it runs the item.
    for attempt in 1..=2_usize {
        let worker = f.start(&script, |w| {
            w.lease(Duration::from_millis(200))
                .max_attempts(2)
                .timeout(Duration::from_secs(60))
        });
        while script.began.lock().unwrap().len() < attempt {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        worker.done.abort();
        let _ = worker.done.await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let quick = Arc::new(Script::default());
    let last = f.start(&quick, |w| w.max_attempts(2));
    f.until(Duration::from_secs(10), "dead", |s| s.dead == 1)
        .await;
    let events = last.stop().await;
    assert!(
        quick.began.lock().unwrap().is_empty(),
        "not run a third time"
    );
    assert!(
        events.iter().any(|e| e.to_string() == "dead evt_poison"),
        "{events:?}"
    );
    assert!(f.effects_of(key).await.is_empty());
    let detail = f.inbox.get(key).await.unwrap().unwrap();
    assert_eq!(detail.entry.attempts, 2);
    assert_eq!(detail.attempt_log.len(), 2);
}

#[tokio::test]
async fn the_claim_uses_its_indexes_on_100k_rows() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let table = f.inbox.table().to_owned();
    // 100 000 rows: most done, some pending, some in order keys with a
    // dead head.
    let sql = format!(
        "INSERT INTO {table} (key, vendor, id, event_type, event_time, order_key, state, raw, \
                              received_at, next_attempt_at, finished_at)
         SELECT 'smartcomply:evt_' || n, 'smartcomply', 'evt_' || n, 'test.failed',
                now() - (n || ' seconds')::interval,
                CASE WHEN n % 10 = 0 THEN 'assembly:' || (n % 500) END,
                CASE WHEN n % 100 = 0 THEN 'pending' WHEN n % 1000 = 1 THEN 'dead' ELSE 'done' END,
                convert_to(json_build_object('id', 'evt_' || n, 'type', 'webhook.test',
                    'created_at', '2026-05-05T15:10:00Z', 'data', json_build_object())::text, 'UTF8'),
                now(),
                CASE WHEN n % 100 = 0 THEN now() - (n || ' milliseconds')::interval END,
                CASE WHEN n % 100 <> 0 THEN now() END
           FROM generate_series(1, 100000) AS n;
         ANALYZE {table};"
    );
    // Not on the inbox's pool: its statements time out after a second.
    let setup = PgPool::connect(server.url()).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&setup)
        .await
        .unwrap();
    let claim = include_str!("../../src/inbox/sql/claim.sql").replace("webhook_inbox", &table);
    let explain = format!("EXPLAIN {claim}");
    let plan: Vec<String> = sqlx::query_scalar(AssertSqlSafe(explain))
        .bind(8_i64)
        .bind("token")
        .bind(30_000_000_i64)
        .bind(10_i32)
        .fetch_all(&f.pool)
        .await
        .unwrap();
    let plan = plan.join("\n");
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{plan}\n").as_bytes());
    assert!(plan.contains(&format!("{table}_claimable")), "{plan}");
    assert!(plan.contains(&format!("{table}_order")), "{plan}");
    assert!(!plan.contains("Seq Scan"), "{plan}");
    // And it claims the due rows, soonest first.
    let script = Arc::new(Script::default());
    let worker = f.start(&script, |w| w.concurrency(8));
    f.until(Duration::from_secs(60), "the pending rows done", |s| {
        s.pending == 0 && s.running == 0
    })
    .await;
    worker.stop().await;
    let done: i64 =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", f.effects)))
            .fetch_one(&f.pool)
            .await
            .unwrap();
    // Pending rows whose order key has no earlier unfinished row: all but
    // those behind a dead head (assembly keys of n ≡ 1 mod 1000 never
    // share n % 10 = 0, so none is held).
    assert_eq!(done, 1000);
}

#[tokio::test]
async fn a_stopped_database_is_a_fast_503_never_a_2xx() {
    let Some(mut server) = PgServer::own() else {
        return;
    };
    let f = Fixture::new(&server).await;
    // A worker whose pool holds connections when the server goes away, and
    // a lease far longer than the test waits: an attempt lost to a closed
    // connection would show.
    let script = Arc::new(Script::default());
    let worker = f.start(&script, |w| w.lease(Duration::from_secs(60)));
    for n in 0..8 {
        let id = format!("evt_up_{n}");
        f.smartcomply(&smartcomply_body(&id, "2026-05-05T15:10:00Z", None))
            .await;
    }
    f.until(Duration::from_secs(20), "done before the stop", |s| {
        s.done == 8
    })
    .await;
    server.stop();
    let body = smartcomply_body("evt_down", "2026-05-05T15:10:00Z", None);
    let event = smartcomply::parse(&body).unwrap();
    let started = Instant::now();
    let err = f
        .inbox
        .accept(&(event.clone(), &body[..]))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(Answer::from(&err).http_status(), 503);
    assert!(matches!(
        err.kind(),
        StoreErrorKind::Unavailable | StoreErrorKind::Uncertain
    ));
    assert!(
        !err.to_string().contains(common::postgres::PASSWORD),
        "{err}"
    );
    assert_eq!(Error::from(err).http_status(), 503);
    server.restart();
    // The pool's connections died with the server: accept finds new ones,
    // and so do the worker's claims and handlers, with no attempt lost.
    let receipt = f.inbox.accept(&(event, &body[..])).await.unwrap();
    assert_eq!(receipt.items()[0].admission(), Admission::Accepted);
    f.until(Duration::from_secs(20), "done after the restart", |s| {
        s.done == 9
    })
    .await;
    worker.stop().await;
    let detail = f.inbox.get("smartcomply:evt_down").await.unwrap().unwrap();
    let log: Vec<_> = detail
        .attempt_log
        .iter()
        .map(|a| (a.n, a.error.clone()))
        .collect();
    assert_eq!(log, [(1, None)]);
    assert_eq!(f.effects_of("smartcomply:evt_down").await.len(), 1);
}

#[tokio::test]
async fn a_shared_pool_too_small_for_the_workers_is_refused() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(server.url())
        .await
        .unwrap();
    let inbox = Inbox::new(pool.clone())
        .with_table(&unique_table("inbox"))
        .unwrap();
    inbox.migrate().await.unwrap();
    let worker = inbox
        .worker(|_, _| Box::pin(async { Ok::<_, String>(()) }))
        .concurrency(8);
    let err = worker.run().await.unwrap_err();
    assert!(err.to_string().contains("needs 14 connections"), "{err}");
    // Four for accept, the rest for eight handlers: a separate pool lifts it.
    let workers = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_lazy(server.url())
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = inbox
        .clone()
        .with_worker_pool(workers)
        .worker(|_, _| Box::pin(async { Ok::<_, String>(()) }))
        .concurrency(8)
        .shutdown(async move {
            let _ = stopped.await;
        });
    let running = tokio::spawn(worker.run());
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    // The typed item of a row is what `Item::parse` reads.
    let body = smartcomply_body("evt_item", "2026-05-05T15:10:00Z", Some("asm_9"));
    let item = Item::parse("smartcomply", &body).unwrap();
    assert_eq!(by_subject(&item).as_deref(), Some("assembly:asm_9"));
}
