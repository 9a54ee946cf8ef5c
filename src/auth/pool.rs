//! A bounded pool for password hashing (R8.3): at most `workers` hashes run
//! at once, each source address has at most one hash queued or running, and
//! past `max_waiting` the pool refuses at once. A flood from many addresses
//! thus queues a bounded number of hashes, and a login from another address
//! waits behind at most that many, instead of behind the whole flood.
//!
//! A flood from more addresses than the queue holds keeps it full, so a new
//! request would be refused. Addresses that signed in successfully before
//! therefore queue in their own lane ([`Lane::Known`]), bounded the same way:
//! a flood cannot fill it without a password, and a freed worker goes to it
//! first (a few in a row at most while new addresses wait, so these are not
//! starved). Both lanes share the same workers, so no more hashes run at
//! once than there are workers.
//!
//! The hashes run on the pool's own threads, one per worker, never on
//! tokio's shared blocking pool: whatever else parks blocking threads
//! (exports, searches, backups) cannot make a login wait for a thread.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

use super::workers::Workers;

pub struct HashPool {
    workers: Workers,
    threads: Threads,
    waiting: AtomicUsize,
    known_waiting: AtomicUsize,
    max_waiting: usize,
    per_address: Mutex<HashMap<IpAddr, u32>>,
    refused: AtomicUsize,
    /// Hashes and verifications run since start.
    ran: std::sync::atomic::AtomicU64,
}

/// Which waiting line a request joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Anyone.
    Open,
    /// An address that has signed in successfully before.
    Known,
}

/// The pool is full, or this address already has a hash in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

impl HashPool {
    pub fn new(workers: usize, max_waiting: usize) -> HashPool {
        HashPool {
            workers: Workers::new(workers),
            threads: Threads::start(workers.max(1)),
            waiting: AtomicUsize::new(0),
            known_waiting: AtomicUsize::new(0),
            max_waiting,
            per_address: Mutex::new(HashMap::new()),
            refused: AtomicUsize::new(0),
            ran: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Runs `f` (a hash or verify) on a blocking thread when a worker is free.
    pub async fn run<T: Send + 'static>(
        &self,
        ip: Option<IpAddr>,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        self.run_in(ip, Lane::Open, f).await
    }

    /// [`HashPool::run`] in a given lane.
    pub async fn run_in<T: Send + 'static>(
        &self,
        ip: Option<IpAddr>,
        lane: Lane,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let _address = match ip {
            Some(ip) => Some(self.claim(ip)?),
            None => None,
        };
        let waiting = match lane {
            Lane::Open => &self.waiting,
            Lane::Known => &self.known_waiting,
        };
        // A guard, not a pair of calls: a request dropped while it waits
        // (client gone, request timeout) must give its place back too, or
        // the count creeps up until every login is refused.
        let place = Waiting::join(waiting, self.max_waiting).ok_or_else(|| {
            self.refused.fetch_add(1, Ordering::Relaxed);
            Busy
        })?;
        let slot = self.workers.acquire(lane).await;
        drop(place);
        self.ran.fetch_add(1, Ordering::Relaxed);
        // The slot goes with the hash, not with this future: a request
        // dropped mid-hash frees its worker only when the hash ends, so no
        // more hashes run at once than there are workers (and a job never
        // waits for a thread).
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.threads.run(Box::new(move || {
            let _slot = slot;
            let _ = tx.send(f());
        }));
        rx.await.map_err(|_| Busy)
    }

    /// How many hashes were refused because the pool was full or the
    /// address had one in flight.
    /// Hashes and verifications run since start (`/metrics`).
    pub fn ran(&self) -> u64 {
        self.ran.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    fn claim(&self, ip: IpAddr) -> Result<AddressSlot<'_>, Busy> {
        let mut map = self.per_address.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= 1 {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(Busy);
        }
        *n += 1;
        Ok(AddressSlot { pool: self, ip })
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool's own hashing threads; they end when the pool is dropped.
struct Threads {
    jobs: mpsc::Sender<Job>,
}

impl Threads {
    fn start(n: usize) -> Threads {
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for _ in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name("bailiwick-hash".into())
                .spawn(move || {
                    crate::auth::password::keep_working_memory_on_this_thread();
                    loop {
                        let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        };
                        // A panicking hash fails its own request (its reply
                        // is dropped), not the thread.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a hashing thread");
            }
        }
        Threads { jobs }
    }

    fn run(&self, job: Job) {
        // Fails only when no thread could be started; the dropped reply
        // then answers Busy.
        let _ = self.jobs.send(job);
    }
}

/// A place in a lane's waiting line, given back when dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn join(count: &'a AtomicUsize, max: usize) -> Option<Waiting<'a>> {
        if count.fetch_add(1, Ordering::AcqRel) >= max {
            count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Waiting(count))
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

struct AddressSlot<'a> {
    pool: &'a HashPool,
    ip: IpAddr,
}

impl Drop for AddressSlot<'_> {
    fn drop(&mut self) {
        let mut map = self
            .pool
            .per_address
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn r8_3_one_hash_per_address_and_a_bounded_queue() {
        let pool = Arc::new(HashPool::new(1, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let gate = Arc::new(std::sync::Barrier::new(2));
        let g = gate.clone();
        let p = pool.clone();
        let first = tokio::spawn(async move { p.run(Some(a), move || g.wait()).await });
        while pool.workers.available() != 0 {
            tokio::task::yield_now().await;
        }
        // Same address again while its first hash runs: refused.
        assert_eq!(pool.run(Some(a), || ()).await, Err(Busy));
        // Other addresses queue, up to the bound.
        let p = pool.clone();
        let b = tokio::spawn(async move { p.run(Some("10.0.0.2".parse().unwrap()), || 2).await });
        let p = pool.clone();
        let c = tokio::spawn(async move { p.run(Some("10.0.0.3".parse().unwrap()), || 3).await });
        while pool.waiting.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            pool.run(Some("10.0.0.4".parse().unwrap()), || 4).await,
            Err(Busy)
        );
        gate.wait();
        first.await.unwrap().unwrap();
        assert_eq!(b.await.unwrap(), Ok(2));
        assert_eq!(c.await.unwrap(), Ok(3));
        assert_eq!(pool.refused(), 2);
        // Slots are given back.
        assert_eq!(pool.run(Some(a), || 9).await, Ok(9));
    }

    /// Issue item 2 (stalled CSV downloads starve logins): hashes must not
    /// need a thread of tokio's shared blocking pool.
    #[test]
    fn r8_3_hashes_run_on_their_own_threads_while_the_blocking_pool_is_full() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (release, parked) = std::sync::mpsc::channel::<()>();
        // The one blocking thread is parked, like one behind a stalled client.
        let parked = rt.spawn_blocking(move || parked.recv());
        let pool = HashPool::new(2, 4);
        let answered = rt.block_on(async {
            tokio::time::timeout(
                std::time::Duration::from_secs(10),
                pool.run(Some("10.0.0.1".parse().unwrap()), || {
                    std::thread::current().name().map(str::to_owned)
                }),
            )
            .await
        });
        release.send(()).unwrap();
        rt.block_on(parked).unwrap().unwrap();
        assert_eq!(
            answered.expect("the hash waited for the shared blocking pool"),
            Ok(Some("bailiwick-hash".to_owned()))
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn r8_3_requests_dropped_while_waiting_give_their_place_back() {
        let pool = Arc::new(HashPool::new(1, 1));
        let gate = Arc::new(std::sync::Barrier::new(2));
        let g = gate.clone();
        let p = pool.clone();
        let busy = tokio::spawn(async move { p.run(None, move || g.wait()).await });
        while pool.workers.available() != 0 {
            tokio::task::yield_now().await;
        }
        // A waiter whose request times out while it waits.
        let gone = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            pool.run(Some("10.0.0.2".parse().unwrap()), || ()),
        )
        .await;
        assert!(gone.is_err(), "it waited behind the busy worker");
        assert_eq!(pool.waiting.load(Ordering::Acquire), 0);
        gate.wait();
        busy.await.unwrap().unwrap();
        assert_eq!(
            pool.run(Some("10.0.0.2".parse().unwrap()), || 7).await,
            Ok(7)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn r8_3_a_request_dropped_mid_hash_holds_its_worker_until_the_hash_ends() {
        let pool = Arc::new(HashPool::new(1, 4));
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let gone = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            pool.run(None, move || wait.recv()),
        )
        .await;
        assert!(gone.is_err(), "the caller gave up while the hash ran");
        assert_eq!(pool.workers.available(), 0, "the hash still runs");
        release.send(()).unwrap();
        while pool.workers.available() == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(pool.run(None, || 5).await, Ok(5));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn r8_3_a_full_open_lane_leaves_known_addresses_room() {
        let pool = Arc::new(HashPool::new(1, 1));
        let gate = Arc::new(std::sync::Barrier::new(2));
        let g = gate.clone();
        let p = pool.clone();
        let busy = tokio::spawn(async move {
            p.run(Some("10.0.0.1".parse().unwrap()), move || g.wait())
                .await
        });
        while pool.workers.available() != 0 {
            tokio::task::yield_now().await;
        }
        let p = pool.clone();
        let queued =
            tokio::spawn(async move { p.run(Some("10.0.0.2".parse().unwrap()), || 2).await });
        while pool.waiting.load(Ordering::Acquire) < 1 {
            tokio::task::yield_now().await;
        }
        let stranger: IpAddr = "10.0.0.3".parse().unwrap();
        assert_eq!(pool.run(Some(stranger), || 3).await, Err(Busy));
        let p = pool.clone();
        let known = tokio::spawn(async move {
            p.run_in(Some("10.0.0.4".parse().unwrap()), Lane::Known, || 4)
                .await
        });
        while pool.known_waiting.load(Ordering::Acquire) < 1 {
            tokio::task::yield_now().await;
        }
        gate.wait();
        busy.await.unwrap().unwrap();
        assert_eq!(queued.await.unwrap(), Ok(2));
        assert_eq!(known.await.unwrap(), Ok(4));
    }
}
