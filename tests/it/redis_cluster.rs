//! `RedisStore` on a real Redis Cluster of three primaries that the test
//! starts on loopback: every script touches one key, so keys in every
//! slot work with no `CROSSSLOT`, and a restarted primary comes back.
#![cfg(feature = "redis")]

use crate::common;

use std::time::{Duration, Instant};

use common::redis::RedisCluster;
use utility_webhooks::idempotency::{Claim, Lease, RedisStore, Store, StoreErrorKind};

const LEASE: Duration = Duration::from_secs(5);

/// Keys spread over the slots, so over the three primaries.
fn keys() -> Vec<String> {
    (0..48)
        .map(|i| format!("smartcomply:evt_cluster_{i}"))
        .collect()
}

async fn acquire(store: &RedisStore, key: &str) -> Lease {
    match store.claim(key, LEASE).await {
        Ok(Claim::Acquired(lease)) => lease,
        other => panic!("{key}: expected Acquired, got {other:?}"),
    }
}

#[tokio::test]
async fn every_operation_works_on_keys_in_every_slot() {
    let Some(cluster) = RedisCluster::start() else {
        return;
    };
    let store = RedisStore::connect_cluster(&cluster.urls()).await.unwrap();
    for key in keys() {
        let mut lease = acquire(&store, &key).await;
        match store.claim(&key, LEASE).await {
            Ok(Claim::InProgress { retry_after }) => assert!(retry_after <= LEASE),
            other => panic!("{key}: expected InProgress, got {other:?}"),
        }
        store
            .extend(&mut lease, Duration::from_secs(30))
            .await
            .unwrap();
        store.complete(&lease).await.unwrap();
        assert_eq!(store.claim(&key, LEASE).await, Ok(Claim::Completed));
        let lost = store.release(&lease).await.unwrap_err();
        assert_eq!(lost.kind(), StoreErrorKind::LeaseLost);
    }
    // A released key is claimed again; a late complete with no new
    // claimant is recorded.
    let key = "smarterwx:cluster-late";
    let lease = acquire(&store, key).await;
    store.release(&lease).await.unwrap();
    let late = match store.claim(key, Duration::from_millis(50)).await {
        Ok(Claim::Acquired(lease)) => lease,
        other => panic!("expected Acquired, got {other:?}"),
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    store.complete(&late).await.unwrap();
    assert_eq!(store.claim(key, LEASE).await, Ok(Claim::Completed));
}

#[tokio::test]
async fn a_restarted_primary_comes_back_with_its_keys() {
    let Some(mut cluster) = RedisCluster::start() else {
        return;
    };
    let store = RedisStore::connect_cluster(&cluster.urls()).await.unwrap();
    for key in keys() {
        let lease = acquire(&store, &key).await;
        store.complete(&lease).await.unwrap();
    }
    // While a primary is down, its keys fail fast, with no secret; the
    // other primaries' keys still answer.
    cluster.stop(0);
    let (mut failed, mut answered) = (0, 0);
    for key in keys() {
        let started = Instant::now();
        match store.claim(&key, LEASE).await {
            Ok(claim) => {
                assert_eq!(claim, Claim::Completed, "{key}");
                answered += 1;
            }
            Err(e) => {
                assert!(e.is_transient(), "{key}: {e}");
                assert!(!e.to_string().contains("evt_cluster"), "{e}");
                failed += 1;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{key}: {:?}",
            started.elapsed()
        );
    }
    assert!(
        failed > 0 && answered > 0,
        "{failed} failed, {answered} answered"
    );
    cluster.restart(0);
    // The client finds the node again; every key is still completed, and
    // new keys are claimed, whichever node holds them.
    let started = Instant::now();
    for key in keys() {
        loop {
            match store.claim(&key, LEASE).await {
                Ok(claim) => {
                    assert_eq!(claim, Claim::Completed, "{key}");
                    break;
                }
                Err(e) if e.is_transient() && started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("{key}: {e}"),
            }
        }
    }
    for i in 0..24 {
        acquire(&store, &format!("smarterwx:after-restart-{i}")).await;
    }
}
