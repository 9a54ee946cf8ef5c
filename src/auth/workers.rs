//! Worker slots for the hashing pool, handed out known lane first.
//!
//! A counting semaphore with two waiting lines: when a slot frees, the
//! longest-waiting [`Lane::Known`] request gets it before any
//! [`Lane::Open`] one, but after [`KNOWN_BURST`] slots in a row to the
//! known lane a waiting open request gets one: steady logins from known
//! addresses must not starve a login from a new address (a load run saw
//! such logins wait 10 s, the whole run). A slot travels as a [`Slot`] guard, so it returns to
//! the pool however its holder ends, including a waiter dropped after it
//! was handed a slot but before it looked.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::pool::Lane;

#[derive(Clone)]
pub struct Workers {
    inner: Arc<Mutex<Inner>>,
}

/// Slots in a row the known lane may take while open requests wait.
pub const KNOWN_BURST: usize = 4;

struct Inner {
    free: usize,
    known: VecDeque<oneshot::Sender<Slot>>,
    open: VecDeque<oneshot::Sender<Slot>>,
    /// Slots handed to the known lane since the open lane last got one.
    known_streak: usize,
}

/// One running hash's claim on a worker; dropping it frees the worker.
pub struct Slot {
    workers: Option<Workers>,
}

impl Workers {
    pub fn new(n: usize) -> Workers {
        Workers {
            inner: Arc::new(Mutex::new(Inner {
                free: n.max(1),
                known: VecDeque::new(),
                open: VecDeque::new(),
                known_streak: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Free workers now.
    #[cfg(test)]
    pub fn available(&self) -> usize {
        self.lock().free
    }

    /// Waits for a worker.
    pub async fn acquire(&self, lane: Lane) -> Slot {
        let rx = {
            let mut inner = self.lock();
            if inner.free > 0 {
                inner.free -= 1;
                return Slot {
                    workers: Some(self.clone()),
                };
            }
            let (tx, rx) = oneshot::channel();
            match lane {
                Lane::Known => inner.known.push_back(tx),
                Lane::Open => inner.open.push_back(tx),
            }
            rx
        };
        match rx.await {
            Ok(slot) => slot,
            // The sender is only dropped by `release` after a failed send,
            // which cannot happen while this receiver lives; be safe anyway.
            Err(_) => Box::pin(self.acquire(lane)).await,
        }
    }

    fn release(&self) {
        let mut inner = self.lock();
        loop {
            let open_turn = inner.known_streak >= KNOWN_BURST && !inner.open.is_empty();
            let next = if open_turn {
                None
            } else {
                inner.known.pop_front()
            };
            let (tx, lane) = match next {
                Some(tx) => (tx, Lane::Known),
                None => match inner.open.pop_front() {
                    Some(tx) => (tx, Lane::Open),
                    None => {
                        inner.free += 1;
                        inner.known_streak = 0;
                        return;
                    }
                },
            };
            let slot = Slot {
                workers: Some(self.clone()),
            };
            match tx.send(slot) {
                Ok(()) => {
                    inner.known_streak = match lane {
                        Lane::Known => inner.known_streak + 1,
                        Lane::Open => 0,
                    };
                    return;
                }
                // That waiter is gone: take the slot back without recursing
                // into `release` (we hold the lock), and try the next one.
                Err(mut back) => back.workers = None,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(w) = self.workers.take() {
            w.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn r8_3_a_freed_worker_goes_to_the_known_lane_first() {
        let w = Workers::new(1);
        let first = w.acquire(Lane::Open).await;
        let (w1, w2) = (w.clone(), w.clone());
        let open = tokio::spawn(async move { (w1.acquire(Lane::Open).await, "open") });
        tokio::task::yield_now().await;
        let known = tokio::spawn(async move { (w2.acquire(Lane::Known).await, "known") });
        while {
            let inner = w.lock();
            inner.known.is_empty() || inner.open.is_empty()
        } {
            tokio::task::yield_now().await;
        }
        drop(first);
        let (slot, lane) = known.await.unwrap();
        assert_eq!(lane, "known");
        assert!(!open.is_finished(), "the open waiter is still waiting");
        drop(slot);
        assert_eq!(open.await.unwrap().1, "open");
    }

    #[tokio::test]
    async fn r8_3_steady_known_logins_leave_a_new_address_a_turn() {
        let w = Workers::new(1);
        let mut held = w.acquire(Lane::Open).await;
        let w1 = w.clone();
        let open = tokio::spawn(async move { w1.acquire(Lane::Open).await });
        while w.lock().open.is_empty() {
            tokio::task::yield_now().await;
        }
        // A known request is always waiting when the worker frees.
        for turn in 0..=KNOWN_BURST {
            let w2 = w.clone();
            let known = tokio::spawn(async move { w2.acquire(Lane::Known).await });
            while w.lock().known.is_empty() {
                tokio::task::yield_now().await;
            }
            drop(held);
            if w.lock().open.is_empty() {
                assert_eq!(
                    turn, KNOWN_BURST,
                    "known requests go first, up to the burst"
                );
                drop(open.await.unwrap());
                drop(known.await.unwrap());
                return;
            }
            held = known.await.unwrap();
        }
        panic!("the open request never got the worker");
    }

    #[tokio::test]
    async fn r8_3_slots_come_back_from_dropped_waiters() {
        let w = Workers::new(1);
        let first = w.acquire(Lane::Open).await;
        let w1 = w.clone();
        let gone = tokio::spawn(async move { w1.acquire(Lane::Open).await });
        while w.lock().open.is_empty() {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        drop(first);
        assert_eq!(w.available(), 1);
        let _again = w.acquire(Lane::Known).await;
        assert_eq!(w.available(), 0);
    }
}
