//! One round of deliveries over HTTP, shared by the benchmarks that drive
//! receivers: included with `#[path]` where it is needed.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use time::OffsetDateTime;
use utility_webhooks::smartcomply;

/// Send `count` SmartComply events, each `template` with a fresh id (made
/// from `tag`), signed with `secret` before the clock starts, to `bases`
/// round robin with `concurrency` requests in flight. Every answer must be
/// a `2xx`. Returns deliveries per second.
pub async fn deliveries_per_second(
    bases: Vec<String>,
    template: &[u8],
    secret: &str,
    tag: &str,
    count: usize,
    concurrency: usize,
) -> f64 {
    let template: serde_json::Value = serde_json::from_slice(template).unwrap();
    let now = OffsetDateTime::now_utc();
    let deliveries: Arc<Vec<(Vec<u8>, String)>> = Arc::new(
        (0..count)
            .map(|i| {
                let mut event = template.clone();
                event["id"] = format!("evt_bench_{tag}_{i:08}").into();
                let body = serde_json::to_vec(&event).unwrap();
                let header = smartcomply::sign(secret, now, &body);
                (body, header)
            })
            .collect(),
    );
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bases = Arc::new(bases);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, bases, next) = (client.clone(), Arc::clone(&bases), Arc::clone(&next));
        let deliveries = Arc::clone(&deliveries);
        senders.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((body, header)) = deliveries.get(i) else {
                    break;
                };
                let response = client
                    .post(&bases[i % bases.len()])
                    .header(smartcomply::SIGNATURE_HEADER, header)
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let status = response.status();
                assert!(status.is_success(), "a fresh event is taken: {status}");
            }
        });
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// `rounds` rounds through one and through two receivers, alternated
/// (`round(instances, n)` gives a round's deliveries per second), and one
/// table row for each count, `setting` naming what they share: the median
/// and every round.
pub fn one_and_two_receivers(
    rounds: usize,
    deliveries: usize,
    concurrency: usize,
    setting: &str,
    mut round: impl FnMut(usize, usize) -> f64,
) {
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for n in 0..rounds {
        for instances in [1, 2] {
            rates[instances - 1].push(round(instances, n));
        }
    }
    println!();
    println!(
        "| HTTP, {concurrency} in flight, {deliveries} SmartComply deliveries a round | deliveries/s (median of {rounds}) | rounds |"
    );
    println!("| --- | --- | --- |");
    for (i, mut rates) in rates.into_iter().enumerate() {
        rates.sort_by(f64::total_cmp);
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "| {} receiver(s), {setting} | {:.0} | {} |",
            i + 1,
            rates[rates.len() / 2],
            all.join(", ")
        );
    }
}
