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
    self, Answer, Claim, DynStore, KeyState, Lease, Outcome, PostgresStore, Store, StoreError,
    StoreErrorKind,
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
    assert_eq!(Answer::from(&outcome).http_status(), 500);
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
        matches!(outcome, Outcome::<(), &str>::Completed),
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
        matches!(outcome, Outcome::<(), &str>::InProgress { .. }),
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
    // Keys PostgreSQL cannot hold are refused for good, not a panic, and
    // the message does not repeat them.
    let err = store
        .claim("smartcomply:evt_\0secret", LONG)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Rejected, "{err}");
    assert!(!err.is_transient());
    assert!(err.to_string().contains("22021"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

#[tokio::test]
async fn what_the_server_refuses_for_good_is_rejected_and_the_rest_is_not() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    // The server refuses some keys for good: a data exception (class 22)
    // or a program limit (class 54), raised by a trigger on this test's
    // table as the server would raise them for bytes it cannot store or
    // a key too long for its index.
    let function = unique_table("refuse");
    let table = f.store.table();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.key LIKE '%:bad_bytes%' THEN
             RAISE EXCEPTION 'invalid byte sequence' USING ERRCODE = '22021';
           ELSIF NEW.key LIKE '%:too_long%' THEN
             RAISE EXCEPTION 'index row size exceeds maximum' USING ERRCODE = '54000';
           ELSIF NEW.key LIKE '%:busy%' THEN
             RAISE EXCEPTION 'could not serialize access' USING ERRCODE = '40001';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER {function} BEFORE INSERT OR UPDATE ON {table}
           FOR EACH ROW EXECUTE FUNCTION {function}();"
    )))
    .execute(&f.pool)
    .await
    .unwrap();
    for (key, code) in [
        ("smartcomply:bad_bytes_secret", "22021"),
        ("smarterwx:too_long_secret", "54000"),
    ] {
        let err = f.store.claim(key, LONG).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Rejected, "{err}");
        assert!(!err.is_transient());
        assert!(err.to_string().contains(code), "{err}");
        assert!(!err.to_string().contains("secret"), "{err}");
        // Still `503` for the vendor: the work was not done.
        assert_eq!(Error::from(err).http_status(), 503);
        // Through `run_in_transaction` too: no work, the same kind.
        let ran = f
            .store
            .run_in_transaction(key, LONG, |_, _| {
                Box::pin(async { panic!("the work must not run") })
            })
            .await;
        let err = ran.map(|_: Outcome<(), String>| ()).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Rejected, "{err}");
    }
    // A conflict that may pass is no refusal.
    let err = f.store.claim("smartcomply:busy", LONG).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn the_handler_recipe_passes_on_a_database_of_its_own() {
    let Some(server) = PgServer::start() else {
        return;
    };
    // What `#[sqlx::test]` does: a database for the test, dropped after.
    let database = unique_table("recipe");
    let admin = PgPool::connect(server.url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&admin)
        .await
        .unwrap();
    let options: sqlx::postgres::PgConnectOptions = server.url().parse().unwrap();
    let pool = PgPool::connect_with(options.database(&database))
        .await
        .unwrap();
    let passed = crate::handler_recipe::an_event_is_handled_once(pool.clone()).await;
    pool.close().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {database} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
    passed.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_leave_their_count_and_last_error_in_the_row() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let key = "smartcomply:evt_failing";
    assert_eq!(f.store.status(key).await.unwrap(), None);

    // The work's SQL fails: rolled back, released, and the error kept,
    // escaped (a NUL would be refused by the server) and cut.
    let outcome = f
        .store
        .run_in_transaction(key, LONG, |tx, _| {
            Box::pin(async move {
                sqlx::query("SELECT 1 / 0").execute(&mut *tx).await?;
                Ok::<(), sqlx::Error>(())
            })
        })
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    let status = f.store.status(key).await.unwrap().unwrap();
    assert_eq!(status.state, KeyState::Free);
    assert_eq!(status.attempts, 1);
    let error = status.last_error.unwrap();
    assert!(error.contains("division by zero"), "{error}");

    // A second attempt, through `run` on the boxed store this time.
    let boxed: std::sync::Arc<dyn DynStore> = std::sync::Arc::new(f.store.clone());
    let outcome = idempotency::run(&boxed, key, LONG, |_| async {
        Err::<(), _>(format!("GIS timed out\nforged line\0{}", "x".repeat(1000)))
    })
    .await
    .unwrap();
    assert!(matches!(outcome, Outcome::Failed(_)), "{outcome:?}");
    let status = f.store.status(key).await.unwrap().unwrap();
    assert_eq!(status.attempts, 2);
    let error = status.last_error.unwrap();
    assert!(
        error.starts_with("GIS timed out\\nforged line\\u{0}xxx"),
        "{error}"
    );
    assert!(error.len() <= 300, "{} bytes", error.len());

    // A panic, then a lease that is held by the next attempt while it runs.
    let outcome = f
        .store
        .run_in_transaction(key, LONG, |_, _| {
            Box::pin(async { panic!("the handler's bug") })
        })
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::<(), String>::Panicked(_)));
    let status = f.store.status(key).await.unwrap().unwrap();
    assert_eq!(status.attempts, 3);
    assert_eq!(
        status.last_error.as_deref(),
        Some("panicked: the handler's bug")
    );
    let mut lease = f.acquire(key, LONG).await;
    f.store.extend(&mut lease, LONG).await.unwrap();
    let status = f.store.status(key).await.unwrap().unwrap();
    assert!(
        matches!(status.state, KeyState::InProgress { retry_after } if retry_after > LONG - Duration::from_secs(10)),
        "{status:?}"
    );
    // An extension is the same attempt.
    assert_eq!(status.attempts, 4);

    // Done at last: completed, the count and the last error kept.
    let mut tx = f.pool.begin().await.unwrap();
    f.effect(&mut tx, &lease).await;
    f.store.complete_in(&mut tx, &lease).await.unwrap();
    tx.commit().await.unwrap();
    let status = f.store.status(key).await.unwrap().unwrap();
    assert_eq!(status.state, KeyState::Completed);
    assert_eq!(status.attempts, 4);
    assert_eq!(
        status.last_error.as_deref(),
        Some("panicked: the handler's bug")
    );
    assert_eq!(f.claim(key).await, Claim::Completed);

    // Past its retention, a key claimed again starts afresh.
    let short = f.store.clone().with_retention(Duration::from_millis(50));
    let key = "smartcomply:evt_again";
    let lease = f.acquire(key, LONG).await;
    short.release_with_error(&lease, "first").await.unwrap();
    let lease = f.acquire(key, LONG).await;
    short.complete(&lease).await.unwrap();
    assert_eq!(f.store.status(key).await.unwrap().unwrap().attempts, 2);
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        f.store.status(key).await.unwrap().unwrap().state,
        KeyState::Free
    );
    let lease = f.acquire(key, LONG).await;
    let status = f.store.status(key).await.unwrap().unwrap();
    assert_eq!((status.attempts, status.last_error), (1, None));
    f.store.release(&lease).await.unwrap();
}

#[tokio::test]
async fn a_released_failure_is_kept_until_purge_passes_the_retention() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let f = Fixture::new(&server).await;
    let lease = f.acquire("smartcomply:evt_released", LONG).await;
    f.store
        .release_with_error(&lease, "it failed")
        .await
        .unwrap();
    // Free at once, but its record stays for the retention.
    let again = f.acquire("smartcomply:evt_released", LONG).await;
    f.store.release_with_error(&again, "again").await.unwrap();
    assert_eq!(f.store.purge(10).await.unwrap(), 0);
    let short = f.store.clone().with_retention(Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(short.purge(10).await.unwrap(), 1);
    assert_eq!(
        f.store.status("smartcomply:evt_released").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn migrate_brings_a_table_of_the_first_version_up_to_date() {
    let Some(server) = PgServer::start() else {
        return;
    };
    let table = unique_table("old_claims");
    let store = PostgresStore::connect(server.url())
        .await
        .unwrap()
        .with_table(&table)
        .unwrap();
    // The first version's table, with a completed key and a running one.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} (
             key          text        PRIMARY KEY,
             token        text        NOT NULL,
             state        text        NOT NULL CHECK (state IN ('in_progress', 'completed')),
             expires      timestamptz NOT NULL,
             completed_at timestamptz
         );
         CREATE INDEX {table}_expires ON {table} (expires);
         INSERT INTO {table} VALUES
             ('smartcomply:evt_old', 'aaaa', 'completed', now() + interval '1 day', now()),
             ('smartcomply:evt_running', 'bbbb', 'in_progress', now() + interval '1 day', NULL);"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(
        store.claim("smartcomply:evt_old", LONG).await.unwrap(),
        Claim::Completed
    );
    let old = store.status("smartcomply:evt_old").await.unwrap().unwrap();
    assert_eq!(
        (old.state, old.attempts, old.last_error),
        (KeyState::Completed, 0, None)
    );
    assert!(matches!(
        store.claim("smartcomply:evt_running", LONG).await.unwrap(),
        Claim::InProgress { .. }
    ));
    let Claim::Acquired(lease) = store.claim("smartcomply:evt_new", LONG).await.unwrap() else {
        panic!("a fresh key is free");
    };
    store.release_with_error(&lease, "kept").await.unwrap();
    let new = store.status("smartcomply:evt_new").await.unwrap().unwrap();
    assert_eq!((new.attempts, new.last_error.as_deref()), (1, Some("kept")));
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
        .run_in_transaction(key, LONG, |_, _| Box::pin(async { Ok::<(), &str>(()) }))
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

/// Fill the pool with `n` idle connections: `n` claims at once, each on
/// a connection of its own.
async fn open_connections(store: &PostgresStore, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        let store = store.clone();
        tasks.spawn(async move {
            let mut connection = store.pool().acquire().await.unwrap();
            sqlx::query("SELECT pg_sleep(0.05)")
                .execute(&mut *connection)
                .await
                .unwrap();
            i
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    // Each goes back to the pool in a task of its own.
    let started = Instant::now();
    while store.pool().num_idle() < n {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{}",
            store.pool().num_idle()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_fails_no_operation() {
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
    let effects = unique_table("effects");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {effects} (key text NOT NULL)"
    )))
    .execute(store.pool())
    .await
    .unwrap();

    for round in 0..3 {
        // Every idle connection of the pool is broken by the restart, and
        // the pool does not ping them before handing them out.
        open_connections(&store, 8).await;
        server.restart();

        // The first claim, completion and release after it succeed: each
        // broken connection is replaced, and the statement sent again.
        let key = format!("smartcomply:evt_after_{round}");
        let lease = match store.claim(&key, LONG).await {
            Ok(Claim::Acquired(lease)) => lease,
            other => panic!("round {round}: a fresh key is free, got {other:?}"),
        };
        server.restart();
        store.complete(&lease).await.unwrap();
        server.restart();
        let key = format!("smarterwx:released_{round}");
        let Claim::Acquired(lease) = store.claim(&key, LONG).await.unwrap() else {
            panic!("a fresh key is free");
        };
        server.restart();
        store.release(&lease).await.unwrap();
        server.restart();
        let mut lease = match store.claim(&key, LONG).await.unwrap() {
            Claim::Acquired(lease) => lease,
            other => panic!("released, so free: {other:?}"),
        };
        server.restart();
        store.extend(&mut lease, LONG).await.unwrap();
        server.restart();
        // And the whole helper: claim, begin, work, complete, commit.
        let insert = format!("INSERT INTO {effects} (key) VALUES ($1)");
        let key = format!("smartcomply:evt_tx_{round}");
        let outcome = store
            .run_in_transaction(&key, LONG, |tx, lease| {
                Box::pin(async move {
                    sqlx::query(sqlx::AssertSqlSafe(insert))
                        .bind(lease.key())
                        .execute(&mut *tx)
                        .await?;
                    Ok::<_, sqlx::Error>(())
                })
            })
            .await
            .unwrap();
        assert!(matches!(outcome, Outcome::Done(())), "{outcome:?}");
    }
    server.restart();
    let claim = store.claim("smartcomply:evt_before", LONG).await.unwrap();
    assert_eq!(claim, Claim::Completed);
    let claim = store.claim("smartcomply:evt_after_2", LONG).await.unwrap();
    assert_eq!(claim, Claim::Completed);
    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {effects}"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(rows, 3);

    // Stopped, the server fails each operation fast, and once back, the
    // next one succeeds.
    server.stop();
    assert!(store.claim("smartcomply:evt_during", LONG).await.is_err());
    server.restart();
    let claim = store.claim("smartcomply:evt_during", LONG).await.unwrap();
    assert!(matches!(claim, Claim::Acquired(_)), "{claim:?}");
}

#[test]
fn the_reexported_sqlx_is_the_one_the_store_takes_and_the_readme_names_it() {
    // One type: a pool built through `utility_webhooks::sqlx` is the
    // store's.
    let new: fn(utility_webhooks::sqlx::PgPool) -> PostgresStore = PostgresStore::new;
    let _ = new;
    let manifest = include_str!("../../Cargo.toml");
    let version = manifest
        .lines()
        .find_map(|line| line.strip_prefix("sqlx = { version = \""))
        .and_then(|rest| rest.split('"').next())
        .expect("the manifest names sqlx's version");
    let major_minor: Vec<&str> = version.split('.').take(2).collect();
    let major_minor = major_minor.join(".");
    let readme = include_str!("../../README.md");
    let quick_start = &readme[readme.find("## Quick start").unwrap()..];
    let quick_start = &quick_start[..quick_start.find("\n## In your framework").unwrap()];
    assert!(
        quick_start.contains(&format!("sqlx {major_minor}")),
        "the quick start names sqlx {major_minor}"
    );
    assert!(quick_start.contains("utility_webhooks::sqlx"));
    assert!(
        readme.contains("`#[derive(FromRef)]` needs axum's `macros` feature"),
        "the README says what FromRef needs"
    );
}
