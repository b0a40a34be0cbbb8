// A handler whose work runs in PostgreSQL, and its test on a database of
// its own. `PostgresStore`'s docs show this file as a recipe; the crate's
// tests run it on a database they create.
use std::time::Duration;

use utility_webhooks::idempotency::{Outcome, PostgresStore, StoreError};
use utility_webhooks::smartcomply;
use utility_webhooks::sqlx::{self, PgPool};

/// The handler: one row in `repairs` per event, in the transaction that
/// records its completion.
pub async fn on_event(
    store: &PostgresStore,
    event: smartcomply::Event,
) -> Result<Outcome<(), sqlx::Error>, StoreError> {
    let key = event.idempotency_key();
    let lease = Duration::from_secs(10);
    let ran = store.run_in_transaction(&key, lease, |tx, _lease| {
        Box::pin(async move {
            sqlx::query("INSERT INTO repairs (event_id) VALUES ($1)")
                .bind(event.id.as_str())
                .execute(&mut *tx)
                .await?;
            Ok(())
        })
    });
    ran.await
}

// Its test. With sqlx's `macros` and `migrate` features in your
// dev-dependencies, `#[sqlx::test(migrations = false)]` above it gives
// each run a database of its own, made from `DATABASE_URL`, dropped after.
pub async fn an_event_is_handled_once(pool: PgPool) -> Result<(), Box<dyn std::error::Error>> {
    let store = PostgresStore::new(pool.clone());
    store.migrate().await?;
    sqlx::raw_sql("CREATE TABLE repairs (event_id text NOT NULL)")
        .execute(&pool)
        .await?;
    // Or `smartcomply::testing::sample(..)`, with the `testing` feature.
    let event = smartcomply::parse(
        br#"{"id":"evt_1","type":"webhook.test","created_at":"2026-05-05T14:00:00Z","data":{}}"#,
    )?;
    let first = on_event(&store, event.clone()).await?;
    assert!(matches!(first, Outcome::Done(())), "{first:?}");
    let resent = on_event(&store, event).await?;
    assert!(matches!(resent, Outcome::Completed), "{resent:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM repairs")
        .fetch_one(&pool)
        .await?;
    assert_eq!(rows, 1);
    Ok(())
}
