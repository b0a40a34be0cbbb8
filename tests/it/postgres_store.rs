//! `PostgresStore` against a real PostgreSQL: completions inside the
//! work's transaction (committed, rolled back, overtaken), the transaction
//! helper, `purge`, and what happens when the server stops, restarts, or
//! was never there. The contract every store keeps is checked in
//! `tests/it/store_contract.rs`.
#![cfg(feature = "postgres")]

use crate::common;
use crate::contract;

use std::time::{Duration, Instant};

use common::postgres::{PASSWORD, PgServer, free_port, unique_table};
use contract::{LONG, PAST_SHORT, SHORT};
use sqlx::PgPool;
use utility_webhooks::Error;
use utility_webhooks::idempotency::{
    Claim, Lease, Outcome, PostgresStore, Store, StoreError, StoreErrorKind,
};

/// The fail-fast bound for an operation against a server that is gone:
/// the store promises about 1.5 s; this leaves room for a loaded machine.
const FAIL_FAST: Duration = Duration::from_millis(2500);

/// A store on `server` with a table of its own, migrated, and a table of
/// effects (`key`, `token`, `processed_at`) of its own.
struct Fixture {
    store: PostgresStore,
    pool: PgPool,
    effects: String,
}

impl Fixture {
    async fn new(server: &PgServer) -> Self {
        let store = PostgresStore::connect(server.url())
            .await
            .expect("the server is up")
            .with_table(&unique_table("claims"))
            .unwrap();
        store.migrate().await.unwrap();
        // Twice is no error.
        store.migrate().await.unwrap();
        let effects = unique_table("effects");
        let pool = store.pool().clone();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {effects} (key text NOT NULL, token text NOT NULL, \
             processed_at timestamptz NOT NULL DEFAULT now())"
        )))
        .execute(&pool)
        .await
        .unwrap();
        Fixture {
            store,
            pool,
            effects,
        }
    }

    fn insert_sql(&self) -> String {
        format!("INSERT INTO {} (key, token) VALUES ($1, $2)", self.effects)
    }

    /// Record `lease`'s effect on `connection`.
    async fn effect(&self, connection: &mut sqlx::PgConnection, lease: &Lease) {
        sqlx::query(sqlx::AssertSqlSafe(self.insert_sql()))
            .bind(lease.key())
            .bind(lease.token())
            .execute(connection)
            .await
            .unwrap();
    }

    /// How many effects `key` has.
    async fn effects_of(&self, key: &str) -> i64 {
        let sql = format!("SELECT count(*) FROM {} WHERE key = $1", self.effects);
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(key)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn rows(&self) -> i64 {
        let sql = format!("SELECT count(*) FROM {}", self.store.table());
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    async fn acquire(&self, key: &str, lease: Duration) -> Lease {
        match self
            .store
            .claim(key, lease)
            .await
            .expect("the server is up")
        {
            Claim::Acquired(lease) => lease,
            other => panic!("expected to acquire a free key, got {other:?}"),
        }
    }

    async fn claim(&self, key: &str) -> Claim {
        self.store.claim(key, LONG).await.expect("the server is up")
    }
}

#[tokio::test]
async fn a_committed_completion_commits_with_the_effects() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let lease = f.acquire("smartcomply:evt_commit", LONG).await;
    let mut tx = f.pool.begin().await.unwrap();
    f.effect(&mut tx, &lease).await;
    f.store.complete_in(&mut tx, &lease).await.unwrap();
    // Twice in the same transaction is no error.
    f.store.complete_in(&mut tx, &lease).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(f.claim("smartcomply:evt_commit").await, Claim::Completed);
    assert_eq!(f.effects_of("smartcomply:evt_commit").await, 1);
    // The lease's own `complete` after it is no error either.
    f.store.complete(&lease).await.unwrap();
}

#[tokio::test]
async fn a_rolled_back_completion_leaves_neither_effect_nor_record() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    // Rolled back, then released: claimable at once.
    let key = "smartcomply:evt_rollback";
    let lease = f.acquire(key, LONG).await;
    let mut tx = f.pool.begin().await.unwrap();
    f.effect(&mut tx, &lease).await;
    f.store.complete_in(&mut tx, &lease).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(matches!(f.claim(key).await, Claim::InProgress { .. }));
    f.store.release(&lease).await.unwrap();
    let again = f.acquire(key, LONG).await;
    assert_eq!(f.effects_of(key).await, 0);
    f.store.release(&again).await.unwrap();

    // Rolled back as a crash would (the transaction dropped), then left to
    // expire: claimable once the lease ran out.
    let key = "smartcomply:evt_crash";
    let lease = f.acquire(key, SHORT).await;
    {
        let mut tx = f.pool.begin().await.unwrap();
        f.effect(&mut tx, &lease).await;
        f.store.complete_in(&mut tx, &lease).await.unwrap();
    }
    tokio::time::sleep(PAST_SHORT).await;
    let retry = f.acquire(key, LONG).await;
    assert_ne!(retry.token(), lease.token());
    assert_eq!(f.effects_of(key).await, 0);
}

#[tokio::test]
async fn a_completion_after_another_claim_took_the_key_is_lost_and_rolled_back() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let key = "smarterwx:overtaken";
    let slow = f.acquire(key, SHORT).await;
    let mut tx = f.pool.begin().await.unwrap();
    f.effect(&mut tx, &slow).await;
    tokio::time::sleep(PAST_SHORT).await;
    let holder = f.acquire(key, LONG).await;
    let err = f.store.complete_in(&mut tx, &slow).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::LeaseLost);
    assert!(
        err.to_string().contains("another claim holds the key"),
        "{err}"
    );
    tx.rollback().await.unwrap();

    let mut tx = f.pool.begin().await.unwrap();
    f.effect(&mut tx, &holder).await;
    f.store.complete_in(&mut tx, &holder).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(f.claim(key).await, Claim::Completed);
    assert_eq!(f.effects_of(key).await, 1);

    // Once completed by another, the stale lease hears so.
    let mut tx = f.pool.begin().await.unwrap();
    let err = f.store.complete_in(&mut tx, &slow).await.unwrap_err();
    assert!(
        err.to_string().contains("another claim completed the key"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_waits_for_the_transaction_then_sees_its_outcome() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    // The lease ran out while the transaction that completes it is open:
    // the retry's claim waits for it, and sees the commit.
    for commit in [true, false] {
        let key = format!("smartcomply:evt_wait_{commit}");
        let lease = f.acquire(&key, SHORT).await;
        let mut tx = f.pool.begin().await.unwrap();
        f.effect(&mut tx, &lease).await;
        f.store.complete_in(&mut tx, &lease).await.unwrap();
        tokio::time::sleep(PAST_SHORT).await;
        let store = f.store.clone();
        let retry_key = key.clone();
        let retry = tokio::spawn(async move { store.claim(&retry_key, LONG).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
        let claim = retry.await.unwrap().unwrap();
        if commit {
            assert_eq!(claim, Claim::Completed);
            assert_eq!(f.effects_of(&key).await, 1);
        } else {
            assert!(matches!(claim, Claim::Acquired(_)), "{claim:?}");
            assert_eq!(f.effects_of(&key).await, 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transaction_helper_commits_or_rolls_back_and_releases() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let insert = f.insert_sql();

    // An error: rolled back and released, so the retry runs at once.
    let key = "smartcomply:evt_helper";
    let sql = insert.clone();
    let outcome = f
        .store
        .run_in_transaction(key, LONG, |tx, lease| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(lease.key())
                    .bind(lease.token())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                Err::<(), _>("the work failed after its insert".to_owned())
            })
        })
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Failed(m) if m.contains("failed")),
        "{outcome:?}"
    );
    assert_eq!(outcome.http_status(), 500);
    assert_eq!(f.effects_of(key).await, 0);

    // A panic: the same.
    let sql = insert.clone();
    let outcome = f
        .store
        .run_in_transaction(key, LONG, |tx, lease| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(lease.key())
                    .bind(lease.token())
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                if lease.token().len() == 32 {
                    panic!("the handler's bug");
                }
                Ok::<(), String>(())
            })
        })
        .await
        .unwrap();
    assert!(
        matches!(&outcome, Outcome::Panicked(m) if m == "the handler's bug"),
        "{outcome:?}"
    );
    assert_eq!(f.effects_of(key).await, 0);

    // Work longer than its lease: renewed, then committed.
    let sql = insert.clone();
    let outcome = f
        .store
        .run_in_transaction(key, Duration::from_millis(300), |tx, lease| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(900)).await;
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(lease.key())
                    .bind(lease.token())
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(7)
            })
        })
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Done(7)), "{outcome:?}");
    assert_eq!(f.effects_of(key).await, 1);
    assert_eq!(f.claim(key).await, Claim::Completed);

    // Done: the work does not run again.
    let outcome = f
        .store
        .run_in_transaction(key, LONG, |_, _| {
            Box::pin(async { panic!("the work must not run") })
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::<(), ()>::Completed),
        "{outcome:?}"
    );

    // Held by another: in progress, and the work does not run.
    let held = f.acquire("smartcomply:evt_held", LONG).await;
    let outcome = f
        .store
        .run_in_transaction("smartcomply:evt_held", LONG, |_, _| {
            Box::pin(async { panic!("the work must not run") })
        })
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::<(), ()>::InProgress { .. }),
        "{outcome:?}"
    );
    f.store.release(&held).await.unwrap();
}

#[tokio::test]
async fn purge_deletes_what_is_past_its_expiry_a_batch_at_a_time() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let store = f.store.clone().with_retention(Duration::from_millis(100));
    for i in 0..3 {
        let lease = f.acquire(&format!("smartcomply:evt_old_{i}"), LONG).await;
        store.complete(&lease).await.unwrap();
    }
    let _lapsed = f.acquire("smartcomply:evt_lapsed", SHORT).await;
    let _running = f.acquire("smartcomply:evt_running", LONG).await;
    let kept = f.acquire("smartcomply:evt_kept", LONG).await;
    f.store.complete(&kept).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(f.rows().await, 6);
    assert_eq!(store.purge(3).await.unwrap(), 3);
    assert_eq!(store.purge(10).await.unwrap(), 1);
    assert_eq!(store.purge(10).await.unwrap(), 0);
    assert_eq!(f.rows().await, 2);
    assert!(matches!(
        f.claim("smartcomply:evt_running").await,
        Claim::InProgress { .. }
    ));
    assert_eq!(f.claim("smartcomply:evt_kept").await, Claim::Completed);
    assert_eq!(store.purge(0).await.unwrap(), 0);
}

#[tokio::test]
async fn table_names_are_checked_and_nothing_tells_the_password() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let store = PostgresStore::connect(server.url()).await.unwrap();
    assert_eq!(store.table(), "webhook_claims");
    assert_eq!(store.retention(), PostgresStore::DEFAULT_RETENTION);
    assert_eq!(store.retention(), Duration::from_secs(7 * 24 * 3600));
    assert!(!format!("{store:?}").contains(PASSWORD));
    for bad in ["webhook_claims; DROP TABLE x", "Claims", "a\"b", ""] {
        let err = store.clone().with_table(bad).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Unavailable);
        assert!(!err.to_string().contains("DROP"), "{err}");
    }
    assert!(PostgresStore::SCHEMA.contains("CREATE TABLE IF NOT EXISTS webhook_claims"));
    store.migrate().await.unwrap();
    // Keys PostgreSQL cannot hold are refused, not a panic, and the
    // message does not repeat them.
    let err = store
        .claim("smartcomply:evt_\0secret", LONG)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
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
    assert!(!shown.contains("postgres://"), "{shown}");
    let error = Error::from(err.clone());
    assert_eq!(error.http_status(), 503);
}

#[tokio::test]
async fn a_stopped_server_fails_fast_and_no_message_tells_a_secret() {
    let Some(mut server) = PgServer::own_with_password() else {
        return;
    };
    let url = server.url().to_owned();
    assert!(url.contains(PASSWORD));
    let port = server.port().unwrap().to_string();
    let store = PostgresStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let key = "smartcomply:evt_customer_4471";
    let mut held = match store.claim(key, LONG).await.unwrap() {
        Claim::Acquired(lease) => lease,
        other => panic!("{other:?}"),
    };
    let token = held.token().to_owned();
    server.stop();
    let secrets = [PASSWORD, "evt_customer_4471", "127.0.0.1", &port, &token];

    let started = Instant::now();
    let err = store.claim(key, LONG).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let err = store.complete(&held).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let err = store.release(&held).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let err = store.extend(&mut held, LONG).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let err = store.purge(10).await.unwrap_err();
    assert_down(&err, started.elapsed(), &secrets);

    let started = Instant::now();
    let outcome = store
        .run_in_transaction(key, LONG, |_, _| Box::pin(async { Ok::<(), ()>(()) }))
        .await;
    assert_down(&outcome.unwrap_err(), started.elapsed(), &secrets);

    let started = Instant::now();
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert_down(&err, started.elapsed(), &secrets);
}

#[tokio::test]
async fn a_wrong_password_is_unavailable_and_not_echoed() {
    let Some(server) = PgServer::own_with_password() else {
        return;
    };
    let port = server.port().unwrap();
    let url = format!("postgres://postgres:wrong-hunter3@127.0.0.1:{port}/postgres");
    let started = Instant::now();
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert_down(
        &err,
        started.elapsed(),
        &["hunter", "wrong", &port.to_string()],
    );
}

#[tokio::test]
async fn connecting_to_a_port_with_nothing_listening_fails_fast() {
    let port = free_port();
    let url = format!("postgres://postgres:hunter2@127.0.0.1:{port}/postgres");
    let started = Instant::now();
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert_down(
        &err,
        started.elapsed(),
        &["hunter2", "127.0.0.1", &port.to_string()],
    );
}

#[tokio::test]
async fn operations_succeed_again_after_the_server_restarts() {
    let Some(mut server) = PgServer::own() else {
        return;
    };
    let store = PostgresStore::connect(server.url()).await.unwrap();
    store.migrate().await.unwrap();
    let done = match store.claim("smartcomply:evt_before", LONG).await.unwrap() {
        Claim::Acquired(lease) => lease,
        other => panic!("{other:?}"),
    };
    store.complete(&done).await.unwrap();

    server.stop();
    assert!(store.claim("smartcomply:evt_during", LONG).await.is_err());
    server.restart();

    // The pool replaces its broken connections; the first call may still
    // meet one.
    let mut attempts = 0;
    let lease = loop {
        attempts += 1;
        match store.claim("smartcomply:evt_after", LONG).await {
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
    let claim = store.claim("smartcomply:evt_before", LONG).await.unwrap();
    assert_eq!(claim, Claim::Completed);
    let claim = store.claim("smartcomply:evt_after", LONG).await.unwrap();
    assert_eq!(claim, Claim::Completed);
}
