//! `RedisStore` against a real `redis-server`: claims, leases, expiry by
//! Redis, concurrency, key names and retention, and what happens when the
//! server stops, restarts, or was never there.
#![cfg(feature = "redis")]

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::redis::{Options, RedisServer, free_port};
use utility_webhooks::idempotency::{Claim, Lease, RedisStore, Store, StoreError, StoreErrorKind};
use utility_webhooks::{Error, smartcomply, smarterwx};

const LEASE: Duration = Duration::from_secs(5);

/// The fail-fast bound for an operation against a server that is gone:
/// the store promises about 2 s; this leaves room for a loaded machine.
const FAIL_FAST: Duration = Duration::from_secs(5);

/// A store connected to `server`, with the default prefix and retention.
async fn connect(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url())
        .await
        .expect("the server is up")
}

/// Claim `key`, which must be free.
async fn acquire(store: &RedisStore, key: &str, lease: Duration) -> Lease {
    match store.claim(key, lease).await.expect("the server is up") {
        Claim::Acquired(lease) => lease,
        other => panic!("expected to acquire a free key, got {other:?}"),
    }
}

/// What is left of another caller's lease on `key`.
async fn in_progress(store: &RedisStore, key: &str) -> Duration {
    match store.claim(key, LEASE).await.expect("the server is up") {
        Claim::InProgress { retry_after } => retry_after,
        other => panic!("expected InProgress, got {other:?}"),
    }
}

/// A raw connection to `server`, to look at keys as Redis holds them.
async fn raw(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    server
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("the server is up")
}

async fn keys(server: &RedisServer) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw(server).await)
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn pttl(server: &RedisServer, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(&mut raw(server).await)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_second_caller_sees_in_progress_with_what_is_left_of_the_lease() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let first = connect(&server).await;
    let second = connect(&server).await;
    let lease = acquire(&first, "smartcomply:evt_1", LEASE).await;
    assert_eq!(lease.key(), "smartcomply:evt_1");
    assert_eq!(lease.duration(), LEASE);
    for store in [&first, &second] {
        let left = in_progress(store, "smartcomply:evt_1").await;
        assert!(left > Duration::ZERO && left <= LEASE, "{left:?}");
        assert!(left > LEASE - Duration::from_secs(2), "{left:?}");
    }
    // The holder's own claim is a new lease with a new token: it waits too.
    let left = in_progress(&first, "smartcomply:evt_1").await;
    assert!(left <= LEASE, "{left:?}");
    first.release(&lease).await.unwrap();
}

#[tokio::test]
async fn a_completed_key_answers_completed_to_every_caller() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let first = connect(&server).await;
    let second = connect(&server).await;
    let lease = acquire(&first, "smartcomply:evt_2", LEASE).await;
    first.complete(&lease).await.unwrap();
    for store in [&first, &second] {
        let claim = store.claim("smartcomply:evt_2", LEASE).await.unwrap();
        assert_eq!(claim, Claim::Completed);
    }
}

#[tokio::test]
async fn completing_twice_is_not_an_error() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server).await;
    let lease = acquire(&store, "smarterwx:twice", LEASE).await;
    store.complete(&lease).await.unwrap();
    store.complete(&lease).await.unwrap();
    let claim = store.claim("smarterwx:twice", LEASE).await.unwrap();
    assert_eq!(claim, Claim::Completed);
}

#[tokio::test]
async fn a_released_key_is_claimed_again_with_a_new_token() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let first = connect(&server).await;
    let second = connect(&server).await;
    let lease = acquire(&first, "smartcomply:evt_3", LEASE).await;
    first.release(&lease).await.unwrap();
    assert_eq!(keys(&server).await, Vec::<String>::new());
    let again = acquire(&second, "smartcomply:evt_3", LEASE).await;
    assert_ne!(again.token(), lease.token());
    // The first lease is no longer the holder: it cannot free the new one.
    let err = first.release(&lease).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::LeaseLost);
    in_progress(&first, "smartcomply:evt_3").await;
    second.complete(&again).await.unwrap();
}

#[tokio::test]
async fn redis_expires_an_abandoned_lease() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server).await;
    let short = Duration::from_millis(200);
    let abandoned = acquire(&store, "smartcomply:evt_4", short).await;
    let left = in_progress(&store, "smartcomply:evt_4").await;
    assert!(left <= short, "{left:?}");
    tokio::time::sleep(Duration::from_millis(350)).await;
    let next = acquire(&store, "smartcomply:evt_4", LEASE).await;
    assert_ne!(next.token(), abandoned.token());
    store.complete(&next).await.unwrap();
}

#[tokio::test]
async fn a_stale_lease_changes_nothing_and_the_new_holder_is_unaffected() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let paused = connect(&server).await;
    let other = connect(&server).await;
    let key = "smarterwx:stale";
    let stale = acquire(&paused, key, Duration::from_millis(150)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let holder = acquire(&other, key, LEASE).await;

    let err = paused.complete(&stale).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::LeaseLost);
    assert!(!err.is_transient());
    let err = paused.release(&stale).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::LeaseLost);

    // Still the new holder's, with its lease running.
    let left = in_progress(&paused, key).await;
    assert!(left > LEASE - Duration::from_secs(2), "{left:?}");
    other.complete(&holder).await.unwrap();
    assert_eq!(paused.claim(key, LEASE).await.unwrap(), Claim::Completed);
    // A stale lease cannot release a completed key either.
    assert!(paused.release(&stale).await.is_err());
    assert_eq!(other.claim(key, LEASE).await.unwrap(), Claim::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_of_many_concurrent_claims_acquires() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Two connections, as two processes would have.
    let stores = [
        Arc::new(connect(&server).await),
        Arc::new(connect(&server).await),
    ];
    for round in 0..5 {
        let key = format!("smartcomply:evt_race_{round}");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let store = Arc::clone(&stores[i % 2]);
            let key = key.clone();
            tasks.spawn(async move { store.claim(&key, LEASE).await.unwrap() });
        }
        let (mut acquired, mut waiting) = (Vec::new(), 0);
        while let Some(claim) = tasks.join_next().await {
            match claim.unwrap() {
                Claim::Acquired(lease) => acquired.push(lease),
                Claim::InProgress { retry_after } => {
                    assert!(retry_after <= LEASE, "{retry_after:?}");
                    waiting += 1;
                }
                Claim::Completed => panic!("nothing completed this key"),
            }
        }
        assert_eq!(acquired.len(), 1, "round {round}");
        assert_eq!(waiting, 63, "round {round}");
        stores[0].complete(&acquired[0]).await.unwrap();
    }
}

#[tokio::test]
async fn keys_carry_the_prefix_and_completed_keys_the_retention() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let retention = Duration::from_secs(90);
    let store = connect(&server)
        .await
        .with_prefix("billing-hooks:")
        .with_retention(retention);
    assert_eq!(store.prefix(), "billing-hooks:");
    assert_eq!(store.retention(), retention);
    let lease = acquire(&store, "smartcomply:evt_5", LEASE).await;
    let full = "billing-hooks:smartcomply:evt_5";
    assert_eq!(keys(&server).await, [full]);
    let left = pttl(&server, full).await;
    assert!(left > 0 && left <= 5_000, "lease PTTL {left}");
    store.complete(&lease).await.unwrap();
    let kept = pttl(&server, full).await;
    assert!(kept > 85_000 && kept <= 90_000, "retention PTTL {kept}");

    // The defaults: the documented prefix, and 7 days.
    let default = connect(&server).await;
    assert_eq!(default.prefix(), RedisStore::DEFAULT_PREFIX);
    assert_eq!(default.prefix(), "utility-webhooks:");
    assert_eq!(default.retention(), RedisStore::DEFAULT_RETENTION);
    assert!(default.retention() >= Duration::from_secs(24 * 3600));
    // Another prefix is another namespace: the same key is free there.
    let lease = acquire(&default, "smartcomply:evt_5", LEASE).await;
    default.complete(&lease).await.unwrap();
    let full = "utility-webhooks:smartcomply:evt_5";
    let kept = pttl(&server, full).await;
    let week = i64::try_from(RedisStore::DEFAULT_RETENTION.as_millis()).unwrap();
    assert!(
        kept > week - 60_000 && kept <= week,
        "retention PTTL {kept}"
    );
    assert_eq!(
        keys(&server).await,
        ["billing-hooks:smartcomply:evt_5", full]
    );
}

#[tokio::test]
async fn the_two_vendors_keys_never_meet() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server).await;
    let event = smartcomply::parse(
        br#"{"id":"same-id","type":"x.new","created_at":"2026-05-05T14:00:00Z","data":{}}"#,
    )
    .unwrap();
    let notifications = smarterwx::parse(
        br#"[{"uuid":"same-id","event":"x:new","timestamp":"2026-05-05T14:00:00Z","message":{}}]"#,
    )
    .unwrap();
    let (sc_key, swx_key) = (event.idempotency_key(), notifications[0].idempotency_key());
    assert_ne!(sc_key, swx_key);

    let sc = acquire(&store, &sc_key, LEASE).await;
    let swx = acquire(&store, &swx_key, LEASE).await;
    store.complete(&sc).await.unwrap();
    // The SmarterWX key is still held, not completed by its namesake.
    in_progress(&store, &swx_key).await;
    store.release(&swx).await.unwrap();
    let swx = acquire(&store, &swx_key, LEASE).await;
    assert_eq!(store.claim(&sc_key, LEASE).await.unwrap(), Claim::Completed);
    store.complete(&swx).await.unwrap();
    assert_eq!(
        keys(&server).await,
        [
            "utility-webhooks:smartcomply:same-id",
            "utility-webhooks:smarterwx:same-id"
        ]
    );
}

/// Assert that `err` says the store could not answer, within the fail-fast
/// bound, and tells none of `secrets`.
fn assert_down(err: &StoreError, took: Duration, secrets: &[&str]) {
    assert!(
        matches!(
            err.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Uncertain
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert!(took < FAIL_FAST, "took {took:?}");
    let shown = format!("{err} {err:?}");
    for secret in secrets {
        assert!(!shown.contains(secret), "{secret:?} in {shown}");
    }
    assert!(!shown.contains("redis://"), "{shown}");
    let error = Error::from(err.clone());
    assert_eq!(error.http_status(), 503);
    assert!(!error.to_string().contains("hunter2"));
}

#[tokio::test]
async fn a_stopped_server_fails_fast_and_no_message_tells_a_secret() {
    let Some(mut server) = RedisServer::start_with(Options {
        password: Some("hunter2".into()),
        persistent: false,
        ..Options::default()
    }) else {
        return;
    };
    let url = server.url();
    assert!(url.contains(":hunter2@"));
    let port = server.port().to_string();
    let store = RedisStore::connect(&url).await.unwrap();
    assert!(!format!("{store:?}").contains("hunter2"));
    let key = "smartcomply:evt_customer_4471";
    let held = acquire(&store, key, LEASE).await;
    server.stop();
    let secrets = ["hunter2", "evt_customer_4471", "127.0.0.1", port.as_str()];

    let started = Instant::now();
    let err = store.claim(key, LEASE).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let err = store.complete(&held).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let err = store.release(&held).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let err = RedisStore::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert_down(&err, started.elapsed(), &secrets);
}

#[tokio::test]
async fn a_wrong_password_is_unavailable_and_not_echoed() {
    let Some(server) = RedisServer::start_with(Options {
        password: Some("hunter2".into()),
        persistent: false,
        ..Options::default()
    }) else {
        return;
    };
    let url = format!("redis://:wrong-hunter3@127.0.0.1:{}/", server.port());
    let started = Instant::now();
    let err = RedisStore::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert_down(&err, started.elapsed(), &["hunter", "wrong"]);
}

#[tokio::test]
async fn operations_succeed_again_after_the_server_restarts() {
    let Some(mut server) = RedisServer::start_with(Options {
        password: None,
        persistent: true,
        ..Options::default()
    }) else {
        return;
    };
    let store = connect(&server).await;
    let done = acquire(&store, "smartcomply:evt_before", LEASE).await;
    store.complete(&done).await.unwrap();
    let port = server.port();

    server.stop();
    let err = store.claim("smartcomply:evt_during", LEASE).await;
    assert!(err.is_err(), "{err:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.restart();
    assert_eq!(server.port(), port);

    // The connection manager reconnects; the first call may still see the
    // old connection's failure.
    let mut attempts = 0;
    let lease = loop {
        attempts += 1;
        match store.claim("smartcomply:evt_after", LEASE).await {
            Ok(Claim::Acquired(lease)) => break lease,
            Ok(other) => panic!("a fresh key is free, got {other:?}"),
            Err(err) if attempts < 10 => {
                assert!(err.is_transient(), "{err:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => panic!("no reconnection after {attempts} attempts: {err}"),
        }
    };
    store.complete(&lease).await.unwrap();
    // The append-only file kept what was completed before the restart.
    let claim = store.claim("smartcomply:evt_before", LEASE).await.unwrap();
    assert_eq!(claim, Claim::Completed);
    let claim = store.claim("smartcomply:evt_after", LEASE).await.unwrap();
    assert_eq!(claim, Claim::Completed);
}

#[tokio::test]
async fn connecting_to_a_port_with_nothing_listening_fails_fast() {
    // No server needed: nothing listens on a port that was just free.
    let port = free_port();
    let url = format!("redis://:hunter2@127.0.0.1:{port}/");
    let started = Instant::now();
    let err = RedisStore::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert_down(
        &err,
        started.elapsed(),
        &["hunter2", "127.0.0.1", &port.to_string()],
    );
}

/// A TCP proxy in front of `server` that, when told to, lets one request
/// through but drops the connection instead of relaying its answer: the
/// command ran, and the client cannot know.
struct LosingProxy {
    port: u16,
    lose_next_answer: Arc<std::sync::atomic::AtomicBool>,
}

impl LosingProxy {
    async fn start(server: &RedisServer) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = server.port();
        let lose = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Arc::clone(&lose);
        tokio::spawn(async move {
            loop {
                let (client, _) = listener.accept().await.unwrap();
                let server = tokio::net::TcpStream::connect(("127.0.0.1", upstream))
                    .await
                    .unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                let flag = Arc::clone(&flag);
                tokio::spawn(async move {
                    let mut buffer = vec![0; 64 * 1024];
                    loop {
                        let n = match server_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if flag.swap(false, Ordering::SeqCst) {
                            // Dropping both halves closes the connection.
                            return;
                        }
                        if client_write.write_all(&buffer[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        LosingProxy {
            port,
            lose_next_answer: lose,
        }
    }
}

#[tokio::test]
async fn a_claim_whose_answer_was_lost_finds_its_own_lease_when_retried() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let proxy = LosingProxy::start(&server).await;
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{}/", proxy.port))
        .await
        .unwrap();
    // Loads the claim script, so that the next claim runs it at once.
    acquire(&store, "smartcomply:evt_warm", LEASE).await;

    proxy
        .lose_next_answer
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let lease = acquire(&store, "smartcomply:evt_lost_answer", LEASE).await;
    assert!(
        !proxy
            .lose_next_answer
            .load(std::sync::atomic::Ordering::SeqCst),
        "the first answer was dropped"
    );
    // Redis holds the lease of the retried claim's token: the first
    // attempt ran, and its retry recognised it rather than answer 409.
    let held: String = redis::cmd("GET")
        .arg("utility-webhooks:smartcomply:evt_lost_answer")
        .query_async(&mut raw(&server).await)
        .await
        .unwrap();
    assert_eq!(held, format!("p:{}", lease.token()));
    let direct = connect(&server).await;
    in_progress(&direct, "smartcomply:evt_lost_answer").await;
    store.complete(&lease).await.unwrap();
    assert_eq!(
        direct.claim("smartcomply:evt_lost_answer", LEASE).await,
        Ok(Claim::Completed)
    );
}

#[tokio::test]
async fn a_late_complete_is_recorded_unless_another_claim_overtook_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server).await;
    let short = Duration::from_millis(50);

    // Expired, and nobody claimed it since: the work happened, record it.
    let late = acquire(&store, "smartcomply:evt_late", short).await;
    tokio::time::sleep(short * 3).await;
    store.complete(&late).await.unwrap();
    assert_eq!(
        store.claim("smartcomply:evt_late", LEASE).await,
        Ok(Claim::Completed)
    );

    // Overtaken by a claim in progress, then by a completion.
    let first = acquire(&store, "smartcomply:evt_overtaken", short).await;
    tokio::time::sleep(short * 3).await;
    let second = acquire(&store, "smartcomply:evt_overtaken", LEASE).await;
    let held = store.complete(&first).await.unwrap_err();
    assert_eq!(held.kind(), StoreErrorKind::LeaseLost);
    assert!(held.to_string().contains("another claim holds"), "{held}");
    store.complete(&second).await.unwrap();
    let done = store.complete(&first).await.unwrap_err();
    assert!(
        done.to_string().contains("another claim completed"),
        "{done}"
    );
    let release = store.release(&first).await.unwrap_err();
    assert_eq!(release.kind(), StoreErrorKind::LeaseLost);
}

#[tokio::test]
async fn extend_moves_the_expiry_in_redis_and_is_fenced() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server).await;
    let key = "smarterwx:extend";
    let mut lease = acquire(&store, key, Duration::from_secs(2)).await;
    let before = lease.deadline();
    store
        .extend(&mut lease, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(lease.deadline() > before);
    assert_eq!(lease.duration(), Duration::from_secs(60));
    let left = pttl(&server, "utility-webhooks:smarterwx:extend").await;
    assert!((55_000..=60_000).contains(&left), "{left}");

    // Released and claimed by another: this lease can no longer extend.
    store.release(&lease).await.unwrap();
    let other = acquire(&store, key, LEASE).await;
    let lost = store.extend(&mut lease, LEASE).await.unwrap_err();
    assert_eq!(lost.kind(), StoreErrorKind::LeaseLost);
    assert!(lost.to_string().contains("another claim holds"), "{lost}");
    store.release(&other).await.unwrap();
}

#[tokio::test]
async fn any_lease_and_retention_is_capped_not_refused() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server).await.with_retention(Duration::MAX);
    assert_eq!(
        store.retention(),
        utility_webhooks::idempotency::MAX_RETENTION
    );
    let mut lease = acquire(&store, "smartcomply:evt_forever", Duration::MAX).await;
    assert_eq!(lease.duration(), Lease::MAX);
    let left = pttl(&server, "utility-webhooks:smartcomply:evt_forever").await;
    let max = i64::try_from(Lease::MAX.as_millis()).unwrap();
    assert!(left > max - 60_000 && left <= max, "{left}");
    store.extend(&mut lease, Duration::MAX).await.unwrap();
    store.complete(&lease).await.unwrap();
    let kept = pttl(&server, "utility-webhooks:smartcomply:evt_forever").await;
    let retention =
        i64::try_from(utility_webhooks::idempotency::MAX_RETENTION.as_millis()).unwrap();
    assert!(kept > retention - 60_000 && kept <= retention, "{kept}");
}

#[tokio::test]
async fn a_server_error_keeps_its_reason_but_not_the_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = connect(&server).await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory-policy")
        .arg("noeviction")
        .query_async(&mut raw(&server).await)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query_async(&mut raw(&server).await)
        .await
        .unwrap();
    let err = store
        .claim("smartcomply:evt_secret_key_name", LEASE)
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{shown}");
    assert!(shown.contains("maxmemory"), "the reason is kept: {shown}");
    assert!(!shown.contains("evt_secret_key_name"), "{shown}");
    assert!(shown.len() < 400, "{shown}");
}
