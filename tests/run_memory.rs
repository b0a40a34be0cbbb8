//! `idempotency::run` leaves nothing behind: a million runs with an hour's
//! lease, each of which sets a renewal timer and drops it, keep the
//! process's memory flat. (A timer that kept each cancelled deadline until
//! it fell due held 80 bytes per run for the lease's length: 78 MB here.)
#![cfg(target_os = "linux")]

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use utility_webhooks::idempotency::{self, MemoryStore, Outcome};

const RUNS: usize = 1_000_000;
const LEASE: Duration = Duration::from_secs(3600);

/// The process's resident memory, in bytes.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Ready after being polled once, so that `run` sets its renewal timer.
fn yield_once() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[test]
fn a_million_runs_leave_memory_flat() {
    let store = MemoryStore::new(16, Duration::from_secs(3600));
    let runs = |n: usize| {
        for _ in 0..n {
            // Released after each run, so the store holds nothing either.
            let outcome = block_on(idempotency::run(
                &store,
                "smartcomply:evt_1",
                LEASE,
                |_| async {
                    yield_once().await;
                    Err::<(), _>("again")
                },
            ))
            .unwrap();
            assert!(matches!(outcome, Outcome::Failed("again")));
        }
    };
    runs(RUNS / 10);
    let before = resident();
    runs(RUNS);
    let after = resident();
    let grown = after.saturating_sub(before);
    eprintln!("resident memory over {RUNS} runs: {before} -> {after} bytes");
    assert!(store.is_empty());
    // 80 bytes a run would be 80 MB; allow for the allocator's slack.
    assert!(grown < 4 << 20, "grew {grown} bytes over {RUNS} runs");
}
