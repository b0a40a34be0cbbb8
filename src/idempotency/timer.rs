//! A deadline for any async runtime: one lazily started thread wakes the
//! futures whose time has come, so the crate needs no runtime of its own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// Runs `future` until `deadline`: `Some` with its output if it finished
/// first, `None` (and the future dropped) if the deadline passed.
pub(super) async fn timeout<F: Future>(deadline: Instant, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let mut sleep = Sleep::until(deadline);
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        match Pin::new(&mut sleep).poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// A future that is ready at `at`.
pub(super) struct Sleep {
    at: Instant,
    /// Where the timer thread finds the waker; registered on first poll.
    slot: Option<Arc<Slot>>,
}

/// The waker of one sleep, shared with the timer thread. `None` once the
/// sleep is dropped, so a late entry wakes nobody.
type Slot = Mutex<Option<Waker>>;

impl Sleep {
    pub(super) fn until(at: Instant) -> Self {
        Sleep { at, slot: None }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        match &self.slot {
            Some(slot) => {
                let mut waker = lock(slot);
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
            }
            None => {
                let slot = Arc::new(Mutex::new(Some(cx.waker().clone())));
                // Without a timer thread (the system refused one) the sleep
                // is only checked when something else wakes the task.
                if let Some(timer) = timer() {
                    timer.add(self.at, Arc::clone(&slot));
                }
                self.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            lock(slot).take();
        }
    }
}

struct Timer {
    queue: Mutex<Queue>,
    changed: Condvar,
}

#[derive(Default)]
struct Queue {
    entries: BinaryHeap<Reverse<Entry>>,
    next_seq: u64,
}

struct Entry {
    at: Instant,
    seq: u64,
    slot: Arc<Slot>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        let timer: &'static Timer = Box::leak(Box::new(Timer {
            queue: Mutex::new(Queue::default()),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("utility-webhooks-timer".into())
            .spawn(move || timer.run())
            .ok()
            .map(|_| timer)
    })
}

impl Timer {
    fn add(&self, at: Instant, slot: Arc<Slot>) {
        let mut queue = lock(&self.queue);
        let earliest = queue.entries.peek().is_none_or(|Reverse(e)| at < e.at);
        let seq = queue.next_seq;
        queue.next_seq = seq.wrapping_add(1);
        queue.entries.push(Reverse(Entry { at, seq, slot }));
        drop(queue);
        if earliest {
            self.changed.notify_one();
        }
    }

    fn run(&self) {
        let mut due = Vec::new();
        let mut queue = lock(&self.queue);
        loop {
            let now = Instant::now();
            while queue.entries.peek().is_some_and(|Reverse(e)| e.at <= now) {
                let Some(Reverse(entry)) = queue.entries.pop() else {
                    break;
                };
                due.extend(lock(&entry.slot).take());
            }
            if !due.is_empty() {
                // Wake outside the lock: a waker may run code that adds a
                // sleep.
                drop(queue);
                due.drain(..).for_each(Waker::wake);
                queue = lock(&self.queue);
                continue;
            }
            queue = match queue.entries.peek() {
                Some(Reverse(next)) => {
                    let wait = next.at.saturating_duration_since(now);
                    self.changed
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }
}

/// Every lock here guards state that is whole after each statement, so a
/// poisoned lock is simply taken.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::time::Duration;

    /// Polls `f` to completion on this thread, parking between wake-ups.
    pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::park();
        }
    }

    #[test]
    fn a_sleep_wakes_its_task_after_its_deadline() {
        let start = Instant::now();
        let at = start + Duration::from_millis(30);
        block_on(Sleep::until(at));
        assert!(Instant::now() >= at);
    }

    #[test]
    fn timeout_gives_the_output_or_none() {
        let soon = Instant::now() + Duration::from_secs(5);
        assert_eq!(block_on(timeout(soon, async { 7 })), Some(7));
        let past = Instant::now() + Duration::from_millis(20);
        let never = std::future::pending::<u8>();
        assert_eq!(block_on(timeout(past, never)), None);
    }

    #[test]
    fn many_sleeps_in_any_order_all_wake() {
        let base = Instant::now();
        let handles: Vec<_> = (0..16u64)
            .map(|i| {
                let at = base + Duration::from_millis((i * 7919) % 40);
                std::thread::spawn(move || {
                    block_on(Sleep::until(at));
                    Instant::now() >= at
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
    }
}
