//! What forwarding the activity log costs the writers (issue 20): durable
//! commits of 10 activity entries each from 4 writer threads, with the drain
//! running as in the daemon, in alternating rounds without a forwarder and
//! with one sending every entry to a journal socket read by this process.
//! Prints entries/s committed in each round and, with the forwarder, how
//! long after the last commit the sink had every entry.
//!
//! ```text
//! cargo run --release --example forward_cost -- [--seconds 5] [--rounds 3]
//! ```

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bailiwick::audit::drain::Drain;
use bailiwick::audit::forward::{Forwarder, Sink};
use bailiwick::config::ActivityConfig;

mod common;

const WRITERS: usize = 4;
const PER_COMMIT: usize = 10;

struct Round {
    entries_per_s: f64,
    /// With a forwarder: time from the last commit until the sink had it.
    catch_up: Option<Duration>,
}

fn round(seconds: u64, forward: bool) -> Round {
    let dir = tempfile::tempdir().unwrap();
    let (store, log, writer) = common::open_store(dir.path());
    let drain = Drain::spawn(
        store.clone(),
        log.clone(),
        writer,
        ActivityConfig::default(),
    );
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut sink_thread = None;
    let forwarder = forward.then(|| {
        let path = dir.path().join("journal.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let (got, done) = (received.clone(), stop.clone());
        sink_thread = Some(std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 17];
            while !done.load(Ordering::Relaxed) {
                if socket.recv(&mut buf).is_ok() {
                    got.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
        Forwarder::start(
            Sink::Journal(path),
            &ActivityConfig::default(),
            dir.path(),
            log.clone(),
            Arc::default(),
        )
        .expect("start the forwarder")
    });
    let committed = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let writers = common::spawn_log_writers(
        &store,
        WRITERS,
        PER_COMMIT,
        until,
        "w",
        Some(committed.clone()),
    );
    for w in writers {
        w.join().unwrap();
    }
    let elapsed = started.elapsed();
    let total = committed.load(Ordering::Relaxed);
    let last_commit = Instant::now();
    let catch_up = forward.then(|| {
        while received.load(Ordering::Relaxed) < total {
            assert!(
                last_commit.elapsed() < Duration::from_secs(600),
                "the forwarder fell behind for good"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        last_commit.elapsed()
    });
    if let Some(f) = forwarder {
        f.stop();
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(t) = sink_thread {
        t.join().unwrap();
    }
    store.close();
    drain.stop();
    Round {
        entries_per_s: total as f64 / elapsed.as_secs_f64(),
        catch_up,
    }
}

fn main() {
    let (seconds, rounds) = common::seconds_and_rounds();
    let mut without = Vec::new();
    let mut with = Vec::new();
    for r in 0..rounds {
        let a = round(seconds, false);
        println!(
            "round {r}: without forwarder {:.0} entries/s",
            a.entries_per_s
        );
        let b = round(seconds, true);
        println!(
            "round {r}: with forwarder    {:.0} entries/s, sink had all {:.0} ms after the last commit",
            b.entries_per_s,
            b.catch_up.unwrap_or_default().as_secs_f64() * 1e3
        );
        without.push(a.entries_per_s);
        with.push(b.entries_per_s);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (median(&mut without), median(&mut with));
    println!(
        "median: without {a:.0}/s, with {b:.0}/s, ratio {:.2}",
        b / a
    );
}
