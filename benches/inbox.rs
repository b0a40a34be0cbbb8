//! What the inbox costs and gains, each figure beside what it is measured
//! against, in the same run.
//!
//! ```text
//! cargo bench --bench inbox --features postgres,axum
//! ```
//!
//! Against a PostgreSQL the bench starts (`initdb`, `pg_ctl`, as the tests
//! do; or `DATABASE_URL`):
//!
//! 1. **Accept over HTTP**, 32 requests in flight, SmartComply deliveries:
//!    the inbox's accepting handler (verify, one `INSERT`, `202`) against
//!    the `run` + `PostgresStore` receiver (verify, claim, the work's
//!    `INSERT` and `complete_in` in one transaction, `204`); rounds
//!    alternated, medians. A third line runs the inbox's workers beside
//!    accept in the same process (one `INSERT` of work per item), so the
//!    gain is not only work postponed.
//! 2. **Accept alone** against a bare `INSERT .. ON CONFLICT (key) DO
//!    NOTHING` of the same row into a table of the same shape, on the same
//!    pool, one after the other, interleaved rounds; the median ratio and
//!    its quartiles: with no backend listening on the inbox's channel, then
//!    with one (as when a worker waits for work).
//! 3. **Drain** of 10 000 accepted items with no-op work (eight handlers)
//!    against a bare `FOR UPDATE SKIP LOCKED` loop written here (eight
//!    tasks: claim up to eight, then for each `BEGIN`, mark done fenced by
//!    the token, `COMMIT`), and the same loop without the transaction.
//! 4. **Accept → handler start** on an idle inbox (poll 1 s, so only
//!    NOTIFY wakes it): p50 and p99 of 300 items, one at a time.
//!
//! Nothing is asserted but that everything succeeds; the figures are
//! printed, as a table, at the end. Name sections to run only those:
//! `cargo bench --bench inbox --features postgres,axum -- drain latency`
//! (`http`, `accept`, `drain`, `latency`).

#[path = "common/mod.rs"]
mod common;
#[path = "../tests/it/common/inbox.rs"]
mod deliveries;
#[path = "../tests/it/common/postgres.rs"]
mod pg_server;
#[allow(dead_code)]
#[path = "common/http_round.rs"]
mod rounds;
use utility_webhooks_receiver as receiver;

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::routing::post;
use sqlx::{AssertSqlSafe, PgPool};
use time::OffsetDateTime;
use utility_webhooks::axum::Verified;
use utility_webhooks::idempotency::{PostgresStore, StoreError};
use utility_webhooks::inbox::{Inbox, Receipt, WorkerEvent};
use utility_webhooks::{Unreadable, smartcomply, smarterwx};

use pg_server::PgServer;

const SECRET: &str = "whsec_bench";
/// Requests in flight over HTTP.
const CONCURRENCY: usize = 32;
/// Deliveries per HTTP round.
const DELIVERIES: usize = 2000;
/// HTTP rounds per contender, alternated.
const HTTP_ROUNDS: usize = 3;
/// Items per drain round.
const DRAIN: usize = 10_000;
/// Drain rounds per contender, alternated.
const DRAIN_ROUNDS: usize = 5;

/// A figure for the table: what, ours, against, ratio, goal.
struct Row {
    what: String,
    ours: String,
    against: String,
    ratio: String,
    goal: String,
}

impl Row {
    /// A rate of ours against a rate of theirs (`against` names theirs).
    fn rates(what: impl Into<String>, ours: f64, theirs: f64, against: &str, goal: &str) -> Row {
        let against = if against.is_empty() {
            format!("{theirs:.0}")
        } else {
            format!("{theirs:.0} ({against})")
        };
        Row {
            what: what.into(),
            ours: format!("{ours:.0}"),
            against,
            ratio: format!("{:.2}x", ours / theirs),
            goal: goal.into(),
        }
    }
}

/// A fresh name for each round's ids.
fn tag(what: &str, round: usize) -> String {
    format!(
        "{what}{round}_{:x}",
        OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000
    )
}

#[derive(Clone, FromRef)]
struct App {
    inbox: Inbox,
    smartcomply: smartcomply::Verifier,
    smarterwx: smarterwx::Verifier,
}

/// The example's accepting handler.
async fn accept_hook(
    State(inbox): State<Inbox>,
    Verified(delivery): Verified<(Result<smartcomply::Event, Unreadable>, Bytes)>,
) -> Result<Receipt, StoreError> {
    inbox.accept(&delivery).await
}

/// An inbox on a table of its own (`table`), migrated.
async fn inbox_on(url: &str, table: &str) -> Inbox {
    let inbox = Inbox::connect(url)
        .await
        .unwrap()
        .with_table(table)
        .unwrap();
    inbox.migrate().await.unwrap();
    inbox
}

/// Serve `app` on a free loopback port: the SmartComply route's URL, and
/// the server's task.
async fn serve(app: Router) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let base = format!(
        "http://{}/webhooks/smartcomply",
        listener.local_addr().unwrap()
    );
    (
        base,
        tokio::spawn(async move { axum::serve(listener, app).await }),
    )
}

/// Deliveries per second through the inbox's accepting handler; with
/// `work`, its workers insert each item's effect beside it.
async fn inbox_round(url: &str, round: usize, work: bool) -> f64 {
    let inbox = inbox_on(url, "bench_http_inbox").await;
    let app = Router::new()
        .route("/webhooks/smartcomply", post(accept_hook))
        .with_state(App {
            inbox: inbox.clone(),
            smartcomply: smartcomply::Verifier::new(SECRET).unwrap(),
            smarterwx: smarterwx::Verifier::new(SECRET).unwrap(),
        });
    let (base, server) = serve(app).await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let workers = work.then(|| {
        let worker = inbox
            .worker(|job, tx| {
                Box::pin(async move {
                    sqlx::query("INSERT INTO receiver_effects (key, token) VALUES ($1, 'inbox')")
                        .bind(job.key())
                        .execute(&mut *tx)
                        .await
                        .map(|_| ())
                })
            })
            .shutdown(async move {
                let _ = stopped.await;
            });
        tokio::spawn(worker.run())
    });
    let body = common::fixture("smartcomply/partner.approved.json");
    let rate = rounds::deliveries_per_second(
        vec![base],
        &body,
        SECRET,
        &tag(if work { "iw" } else { "ia" }, round),
        DELIVERIES,
        CONCURRENCY,
    )
    .await;
    let _ = stop.send(());
    if let Some(workers) = workers {
        workers.await.unwrap().unwrap();
    }
    server.abort();
    inbox.pool().close().await;
    rate
}

/// Deliveries per second through the `run` + `PostgresStore` receiver.
async fn receiver_round(url: &str, round: usize) -> f64 {
    let store = PostgresStore::connect(url).await.unwrap();
    let work = receiver::postgres::work(store.clone(), Duration::ZERO);
    let app = receiver::router(
        receiver::Receiver::new(
            smartcomply::Verifier::new(SECRET).unwrap(),
            smarterwx::Verifier::new(SECRET).unwrap(),
            store.clone(),
        )
        .with_work(work),
    );
    let (base, server) = serve(app).await;
    let body = common::fixture("smartcomply/partner.approved.json");
    let rate = rounds::deliveries_per_second(
        vec![base],
        &body,
        SECRET,
        &tag("rx", round),
        DELIVERIES,
        CONCURRENCY,
    )
    .await;
    server.abort();
    store.pool().close().await;
    rate
}

/// Accept over HTTP (1.) against the `run` + `PostgresStore` receiver.
async fn http(url: &str, rows: &mut Vec<Row>) {
    // The receiver's tables, once.
    receiver::postgres::connect(url).await.unwrap();
    let (mut ours, mut busy, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..HTTP_ROUNDS {
        ours.push(inbox_round(url, round, false).await);
        theirs.push(receiver_round(url, round).await);
        busy.push(inbox_round(url, round, true).await);
    }
    let median = |v: &[f64]| common::quartiles_of(v.to_vec()).1;
    let all = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "accept over HTTP: inbox {} /s ({}); with its workers beside it {} /s ({}); run + PostgresStore {} /s ({})",
        median(&ours).round(),
        all(&ours),
        median(&busy).round(),
        all(&busy),
        median(&theirs).round(),
        all(&theirs)
    );
    rows.push(Row::rates(
        format!("accept over HTTP, {CONCURRENCY} in flight (deliveries/s)"),
        median(&ours),
        median(&theirs),
        "`run` + `PostgresStore`",
        "≥ 1.5x",
    ));
    rows.push(Row::rates(
        "the same, the inbox's workers running beside accept",
        median(&busy),
        median(&theirs),
        "",
        "—",
    ));
}

/// Accept alone (2.) against a bare `INSERT .. ON CONFLICT DO NOTHING`
/// of the same row, on the same pool: with no backend listening, then
/// with one (as when a worker waits), since waking a listener is what
/// NOTIFY costs.
async fn accept_alone(url: &str, rows: &mut Vec<Row>) {
    let inbox = inbox_on(url, "bench_accept").await;
    // The twin table: the same shape and indexes.
    inbox_on(url, "bench_bare").await.pool().close().await;
    for listening in [false, true] {
        let listener = if listening {
            let mut listener = sqlx::postgres::PgListener::connect(url).await.unwrap();
            listener.listen(inbox.table()).await.unwrap();
            Some(tokio::spawn(async move {
                while listener.recv().await.is_ok() {}
            }))
        } else {
            None
        };
        let (accept, bare, (q1, ratio, q3)) = accept_rounds(&inbox, listening).await;
        if let Some(listener) = listener {
            listener.abort();
        }
        let with = if listening { "one" } else { "no" };
        println!(
            "accept alone, {with} backend listening: {accept:.0} µs, bare INSERT {bare:.0} µs: \
             {ratio:.2}x ({q1:.2} to {q3:.2})"
        );
        rows.push(Row {
            what: format!("accept alone, one SmartComply event, {with} backend listening (µs)"),
            ours: format!("{accept:.0}"),
            against: format!("{bare:.0} (bare `INSERT .. ON CONFLICT DO NOTHING`)"),
            ratio: format!("{ratio:.2}x ({q1:.2} to {q3:.2})"),
            goal: "≤ 1.3x".into(),
        });
    }
    inbox.pool().close().await;
}

/// Interleaved rounds of accepts and bare inserts; the median times (µs)
/// and the quartiles of the ratio.
async fn accept_rounds(inbox: &Inbox, listening: bool) -> (f64, f64, (f64, f64, f64)) {
    const ROUNDS: usize = 21;
    const PER_ROUND: usize = 100;
    let bare = "INSERT INTO bench_bare (key, vendor, id, event_type, event_time, order_key, state, raw, \
                received_at, next_attempt_at) \
                VALUES ($1, 'smartcomply', $2, $3, timestamptz 'epoch' + $4 * interval '1 microsecond', \
                NULL, 'pending', $5, statement_timestamp(), statement_timestamp()) \
                ON CONFLICT (key) DO NOTHING";
    let template = common::fixture("smartcomply/partner.approved.json");
    let make = |prefix: &str| -> Vec<(smartcomply::Event, Vec<u8>)> {
        let mut event: serde_json::Value = serde_json::from_slice(&template).unwrap();
        (0..PER_ROUND)
            .map(|i| {
                event["id"] = format!("evt_{prefix}_{i:06}").into();
                let body = serde_json::to_vec(&event).unwrap();
                (smartcomply::parse(&body).unwrap(), body)
            })
            .collect()
    };
    let (mut ratios, mut accept_us, mut bare_us) = (Vec::new(), Vec::new(), Vec::new());
    let phase = if listening { "l" } else { "q" };
    for round in 0..ROUNDS {
        let items = make(&tag(&format!("a{phase}"), round));
        let start = Instant::now();
        for delivery in &items {
            inbox.accept(delivery).await.unwrap();
        }
        let ours = start.elapsed().as_secs_f64() / PER_ROUND as f64;
        let items = make(&tag(&format!("b{phase}"), round));
        let start = Instant::now();
        for (event, body) in &items {
            let micros = event.created_at.unix_timestamp_nanos() as i64 / 1000;
            sqlx::query(bare)
                .bind(event.idempotency_key())
                .bind(event.id.as_str())
                .bind(event.event_type())
                .bind(micros)
                .bind(&body[..])
                .execute(inbox.pool())
                .await
                .unwrap();
        }
        let theirs = start.elapsed().as_secs_f64() / PER_ROUND as f64;
        // The first round warms the pool and the statements.
        if round > 0 {
            ratios.push(ours / theirs);
            accept_us.push(ours * 1e6);
            bare_us.push(theirs * 1e6);
        }
    }
    (
        common::quartiles_of(accept_us).1,
        common::quartiles_of(bare_us).1,
        common::quartiles_of(ratios),
    )
}

/// Insert `n` pending rows into `table` (the inbox's shape) in one
/// statement, through the accept statement's columns.
async fn fill(pool: &PgPool, table: &str, prefix: &str, n: usize) {
    let sql = format!(
        "INSERT INTO {table} (key, vendor, id, event_type, event_time, state, raw, received_at, next_attempt_at)
         SELECT 'smartcomply:' || id, 'smartcomply', id, 'partner.approved', now(), 'pending',
                convert_to(replace($2, 'EVENT_ID', id), 'UTF8'), now(), now()
           FROM (SELECT $1 || '_' || n AS id FROM generate_series(1, {n}) AS n) AS ids"
    );
    let body = String::from_utf8(common::fixture("smartcomply/partner.approved.json")).unwrap();
    let mut event: serde_json::Value = serde_json::from_str(&body).unwrap();
    event["id"] = "EVENT_ID".into();
    sqlx::query(AssertSqlSafe(sql))
        .bind(prefix)
        .bind(serde_json::to_string(&event).unwrap())
        .execute(pool)
        .await
        .unwrap();
}

/// Items per second through the inbox's workers, no-op work.
async fn drain_inbox(url: &str, setup: &PgPool, round: usize) -> f64 {
    let inbox = inbox_on(url, "bench_drain").await;
    fill(setup, "bench_drain", &tag("d", round), DRAIN).await;
    let processed = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&processed);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = inbox
        .worker(|_, _| Box::pin(async { Ok::<_, String>(()) }))
        .on_event(move |event| {
            if let WorkerEvent::Processed { .. } = event {
                counted.fetch_add(1, Ordering::Relaxed);
            }
        })
        .shutdown(async move {
            let _ = stopped.await;
        });
    let start = Instant::now();
    let running = tokio::spawn(worker.run());
    while processed.load(Ordering::Relaxed) < DRAIN {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rate = DRAIN as f64 / start.elapsed().as_secs_f64();
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    inbox.pool().close().await;
    rate
}

/// Items per second through the bare loop: eight tasks, each claiming up
/// to eight rows, then marking each done, in a transaction or not.
async fn drain_bare(setup: &PgPool, round: usize, transaction: bool) -> f64 {
    fill(setup, "bench_drain_bare", &tag("e", round), DRAIN).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect_with((*setup.connect_options()).clone())
        .await
        .unwrap();
    let claim =
        "UPDATE bench_drain_bare SET state = 'running', token = $1, attempts = attempts + 1,
                        next_attempt_at = statement_timestamp() + interval '30 seconds'
                  WHERE seq IN (SELECT seq FROM bench_drain_bare
                                 WHERE state IN ('pending', 'retrying', 'running')
                                   AND next_attempt_at <= statement_timestamp()
                                 ORDER BY next_attempt_at, seq LIMIT 8 FOR UPDATE SKIP LOCKED)
                 RETURNING seq, raw";
    let done = "UPDATE bench_drain_bare SET state = 'done', token = NULL, next_attempt_at = NULL,
                       finished_at = statement_timestamp()
                 WHERE seq = $1 AND token = $2 AND state = 'running'";
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let pool = pool.clone();
        tasks.spawn(async move {
            let token = format!("bare-{round}-{task}");
            loop {
                let rows: Vec<(i64, Option<Vec<u8>>)> = sqlx::query_as(claim)
                    .bind(&token)
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                if rows.is_empty() {
                    return;
                }
                for (seq, _raw) in rows {
                    if transaction {
                        let mut tx = pool.begin().await.unwrap();
                        sqlx::query(done)
                            .bind(seq)
                            .bind(&token)
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                    } else {
                        sqlx::query(done)
                            .bind(seq)
                            .bind(&token)
                            .execute(&pool)
                            .await
                            .unwrap();
                    }
                }
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
    let rate = DRAIN as f64 / start.elapsed().as_secs_f64();
    pool.close().await;
    rate
}

/// The drain (3.) against the bare loop.
async fn drain(url: &str, rows: &mut Vec<Row>) {
    let setup = PgPool::connect(url).await.unwrap();
    inbox_on(url, "bench_drain_bare").await.pool().close().await;
    let (mut ours, mut bare, mut autocommit) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..DRAIN_ROUNDS {
        ours.push(drain_inbox(url, &setup, round).await);
        bare.push(drain_bare(&setup, round, true).await);
        autocommit.push(drain_bare(&setup, round, false).await);
    }
    let median = |v: &[f64]| common::quartiles_of(v.to_vec()).1;
    println!(
        "drain: inbox {:.0} /s {ours:.0?}; bare loop {:.0} /s {bare:.0?}; bare loop, no transaction {:.0} /s {autocommit:.0?}",
        median(&ours),
        median(&bare),
        median(&autocommit)
    );
    rows.push(Row::rates(
        format!("drain of {DRAIN} items, no-op work (items/s)"),
        median(&ours),
        median(&bare),
        "bare SKIP LOCKED loop, each done in a transaction",
        "≥ 0.7x",
    ));
    rows.push(Row::rates(
        "the same against the bare loop without a transaction",
        median(&ours),
        median(&autocommit),
        "",
        "—",
    ));
    setup.close().await;
}

/// Accept → handler start (4.) on an idle inbox, woken by NOTIFY.
async fn latency(url: &str, rows: &mut Vec<Row>) {
    const SAMPLES: usize = 300;
    let inbox = inbox_on(url, "bench_latency").await;
    let started: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let seen = Arc::clone(&started);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = inbox
        .worker(move |job, _| {
            seen.lock()
                .unwrap()
                .insert(job.key().to_owned(), Instant::now());
            Box::pin(async { Ok::<_, String>(()) })
        })
        .poll(Duration::from_secs(1))
        .shutdown(async move {
            let _ = stopped.await;
        });
    let running = tokio::spawn(worker.run());
    // Let the listener connect.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let template = common::fixture("smartcomply/partner.approved.json");
    let mut event: serde_json::Value = serde_json::from_slice(&template).unwrap();
    let prefix = tag("l", 0);
    let mut latencies = Vec::new();
    for i in 0..SAMPLES {
        event["id"] = format!("evt_{prefix}_{i:04}").into();
        let body = serde_json::to_vec(&event).unwrap();
        let parsed = smartcomply::parse(&body).unwrap();
        let key = parsed.idempotency_key();
        let sent = Instant::now();
        inbox.accept(&(parsed, &body[..])).await.unwrap();
        let began = loop {
            if let Some(at) = started.lock().unwrap().get(&key) {
                break *at;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        latencies.push((began - sent).as_secs_f64() * 1000.0);
        // Idle again: the worker waits for the next notification.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    running.await.unwrap().unwrap();
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    println!(
        "accept -> handler start: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    rows.push(Row {
        what: format!("accept → handler start, idle inbox, NOTIFY ({SAMPLES} items)"),
        ours: format!("p50 {:.1} ms, p99 {:.1} ms", at(0.5), at(0.99)),
        against: "—".into(),
        ratio: "—".into(),
        goal: "p50 ≤ 10 ms, p99 ≤ 100 ms".into(),
    });
    inbox.pool().close().await;
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let Some(server) = PgServer::start() else {
        println!("skipped: the inbox benches (no PostgreSQL)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = server.url().to_owned();
    // `cargo bench --bench inbox -- drain latency` runs those sections.
    let chosen: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let runs = |section: &str| chosen.is_empty() || chosen.iter().any(|c| c == section);
    let rows = runtime.block_on(async move {
        let mut rows = Vec::new();
        if runs("http") {
            http(&url, &mut rows).await;
        }
        if runs("accept") {
            accept_alone(&url, &mut rows).await;
        }
        if runs("drain") {
            drain(&url, &mut rows).await;
        }
        if runs("latency") {
            latency(&url, &mut rows).await;
        }
        rows
    });
    println!();
    println!("| path | inbox | measured against | ratio | goal |");
    println!("| --- | --- | --- | --- | --- |");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            row.what, row.ours, row.against, row.ratio, row.goal
        );
    }
}
