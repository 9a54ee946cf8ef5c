//! What the activity drain costs against the disk (issue 18): 64 writer
//! threads commit one activity entry per durable command (group commit, as
//! the daemon's writes do) while one thread moves the outbox into segment
//! files with the daemon's own `drain_once`. Then the same bytes are
//! written raw in the same directory: sequential `write` + `fdatasync`, in as
//! many appends as the drain made.
//!
//! Then a backlog: the writers fill the outbox with nobody draining, and
//! the drain moves it alone, in full batches, against the same raw writes.
//!
//! Reported per round: entries committed and drained per second end to end;
//! the drain's busy time (the passes that appended something) and the raw
//! writes' time for the same bytes and appends; their ratio (raw ÷ drain:
//! 1 means the drain costs what the disk does, the goal is ≥ 0.5).
//!
//! ```text
//! cargo run --release --example drain_rate -- [--seconds 5] [--rounds 3]
//! ```

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bailiwick::audit::drain::drain_once;

mod common;

const WRITERS: usize = 64;
/// The drain's batch (`audit::drain`): one append and one fsync each.
const BATCH: u64 = 4096;

struct Round {
    /// Entries the drain moved from a full outbox with the writers done.
    backlog: u64,
    backlog_drain: Duration,
    backlog_appends: u64,
    backlog_raw: Duration,
    entries: u64,
    end_to_end: Duration,
    drain_busy: Duration,
    appends: u64,
    bytes: u64,
    raw: Duration,
}

fn round(seconds: u64) -> Round {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (store, log, mut writer) = common::open_store(dir.path());

    let committed = Arc::new(AtomicU64::new(0));
    let writing = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let writers =
        common::spawn_log_writers(&store, WRITERS, 1, until, "w", Some(committed.clone()));
    let drainer = {
        let (store, log, writing) = (store.clone(), log.clone(), writing.clone());
        std::thread::spawn(move || {
            let (mut busy, mut appends) = (Duration::ZERO, 0u64);
            loop {
                let done_writing = !writing.load(Ordering::Acquire);
                let t = Instant::now();
                let n = drain_once(&store, &log, &mut writer, false).expect("drain");
                if n > 0 {
                    busy += t.elapsed();
                    appends += n.div_ceil(BATCH);
                } else if done_writing {
                    return (busy, appends, writer);
                } else {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    writing.store(false, Ordering::Release);
    let (drain_busy, appends, mut writer) = drainer.join().unwrap();
    let end_to_end = started.elapsed();
    let entries = committed.load(Ordering::Relaxed);
    assert_eq!(log.snapshot().last_seq(), entries, "every entry drained");
    let bytes = log.bytes();
    let raw = raw_appends(dir.path(), "raw", bytes, appends);

    // A backlog: the writers fill the outbox with nobody draining, then the
    // drain moves it alone, in full batches.
    let until = Instant::now() + Duration::from_secs(seconds.div_ceil(2));
    let writers = common::spawn_log_writers(&store, WRITERS, 1, until, "b", None);
    for w in writers {
        w.join().unwrap();
    }
    let (before_bytes, before_seq) = (log.bytes(), log.snapshot().last_seq());
    let t = Instant::now();
    let backlog = drain_once(&store, &log, &mut writer, false).expect("drain");
    let backlog_drain = t.elapsed();
    let backlog_appends = backlog.div_ceil(BATCH);
    assert_eq!(log.snapshot().last_seq(), before_seq + backlog);
    let backlog_raw = raw_appends(
        dir.path(),
        "raw-backlog",
        log.bytes() - before_bytes,
        backlog_appends,
    );
    store.close();
    Round {
        backlog,
        backlog_drain,
        backlog_appends,
        backlog_raw,
        entries,
        end_to_end,
        drain_busy,
        appends,
        bytes,
        raw,
    }
}

/// `bytes` written to a new file `name` in `dir` in `appends` equal
/// sequential writes, each followed by `fdatasync`.
fn raw_appends(dir: &std::path::Path, name: &str, bytes: u64, appends: u64) -> Duration {
    let chunk = vec![0x5au8; (bytes / appends.max(1)) as usize];
    let mut f = std::fs::File::create(dir.join(name)).unwrap();
    let t = Instant::now();
    for _ in 0..appends {
        f.write_all(&chunk).unwrap();
        f.sync_data().unwrap();
    }
    t.elapsed()
}

fn main() {
    let (seconds, rounds) = common::seconds_and_rounds();
    let (mut ratios, mut alone_ratios) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let x = round(seconds);
        let ratio = x.raw.as_secs_f64() / x.drain_busy.as_secs_f64();
        println!(
            "round {r}: {} entries, {:.0}/s committed and drained end to end; \
             drain busy {:.2} s ({:.0} entries/s, {:.0}% of the run) in {} appends of {:.1} KiB; \
             raw write+fdatasync of the same bytes and appends {:.2} s ({:.0} entries/s): ratio {ratio:.2}",
            x.entries,
            x.entries as f64 / x.end_to_end.as_secs_f64(),
            x.drain_busy.as_secs_f64(),
            x.entries as f64 / x.drain_busy.as_secs_f64(),
            100.0 * x.drain_busy.as_secs_f64() / x.end_to_end.as_secs_f64(),
            x.appends,
            x.bytes as f64 / x.appends.max(1) as f64 / 1024.0,
            x.raw.as_secs_f64(),
            x.entries as f64 / x.raw.as_secs_f64(),
        );
        let alone = x.backlog_raw.as_secs_f64() / x.backlog_drain.as_secs_f64();
        println!(
            "round {r}: backlog of {} entries drained alone in {:.2} s ({:.0} entries/s, {} appends); \
             raw write+fdatasync of the same bytes and appends {:.2} s ({:.0} entries/s): ratio {alone:.2}",
            x.backlog,
            x.backlog_drain.as_secs_f64(),
            x.backlog as f64 / x.backlog_drain.as_secs_f64(),
            x.backlog_appends,
            x.backlog_raw.as_secs_f64(),
            x.backlog as f64 / x.backlog_raw.as_secs_f64(),
        );
        ratios.push(ratio);
        alone_ratios.push(alone);
    }
    for (what, v) in [
        ("beside 64 writers", &mut ratios),
        ("alone on a backlog", &mut alone_ratios),
    ] {
        v.sort_by(f64::total_cmp);
        println!(
            "raw ÷ drain {what}: median {:.2}, range {:.2}–{:.2}",
            v[v.len() / 2],
            v[0],
            v[v.len() - 1]
        );
    }
}
