//! One contract, every store: the checks of `tests/it/common/contract.rs`
//! against `MemoryStore`, `RedisStore` (feature `redis`, a real
//! `redis-server`) and `PostgresStore` (feature `postgres`, a real
//! PostgreSQL).

use crate::common;
use crate::contract;

use std::sync::Arc;
use std::time::Duration;

use utility_webhooks::idempotency::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_keeps_the_contract() {
    let store = Arc::new(MemoryStore::new(1000, Duration::from_secs(3600)));
    contract::all(store, "memory").await;
    let longest = MemoryStore::new(10, Duration::MAX);
    contract::longest_retention(&longest, "memory").await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_keeps_the_contract() {
    use common::redis::RedisServer;
    use utility_webhooks::idempotency::{MAX_RETENTION, RedisStore};

    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    contract::all(Arc::new(store), "redis").await;
    let longest = RedisStore::connect(&server.url())
        .await
        .unwrap()
        .with_retention(Duration::MAX);
    assert_eq!(longest.retention(), MAX_RETENTION);
    contract::longest_retention(&longest, "redis").await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_keeps_the_contract() {
    use common::postgres::{PgServer, unique_table};
    use utility_webhooks::idempotency::{MAX_RETENTION, PostgresStore};

    let Some(server) = PgServer::start() else {
        return;
    };
    let table = unique_table("contract");
    let store = PostgresStore::connect(server.url())
        .await
        .unwrap()
        .with_table(&table)
        .unwrap();
    store.migrate().await.unwrap();
    contract::all(Arc::new(store), "postgres").await;
    let longest = PostgresStore::connect(server.url())
        .await
        .unwrap()
        .with_table(&table)
        .unwrap()
        .with_retention(Duration::MAX);
    assert_eq!(longest.retention(), MAX_RETENTION);
    contract::longest_retention(&longest, "postgres").await;
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_store_keeps_the_contract() {
    use common::redis::RedisCluster;
    use utility_webhooks::idempotency::RedisStore;

    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let store = RedisStore::connect_cluster(&cluster.urls()).await.unwrap();
    contract::all(Arc::new(store), "redis cluster").await;
    let longest = RedisStore::connect_cluster(&cluster.urls())
        .await
        .unwrap()
        .with_retention(Duration::MAX);
    contract::longest_retention(&longest, "redis cluster").await;
}
