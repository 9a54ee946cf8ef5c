//! The drain: one thread that moves activity entries from the store's
//! outbox into segment files (R11.3).
//!
//! The one thing to know: the order is append → fsync → index → delete from
//! the outbox, and entries whose sequence number is already in a segment are
//! deleted without being appended. So a crash at any point neither loses an
//! entry nor writes one twice.
//!
//! It is a plain thread, not a tokio task: its work is blocking file I/O and
//! fsync, and it must keep running while the runtime shuts down. The store
//! wakes it after every commit with activity entries; many entries that
//! arrive while it is syncing go out with the next single fsync (group
//! commit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::format::{self, Payload};
use super::segment::{self, NewRecord, SegmentWriter};
use super::{ActivityLog, LogError};
use crate::config::ActivityConfig;
use crate::store::{OutboxError, Store, Wake};

/// Entries read from the outbox per append (one fsync).
const BATCH: usize = 4096;
/// Also wake this often: retention, and retries after an error.
const TICK: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum DrainError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("cannot append to the activity log in {dir}: {source}")]
    Append {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Recover(#[from] LogError),
    #[error(
        "the database is older than the activity log (restored from a backup?): its last entry is seq {database}, the log's is seq {log}; new entries are kept in the database and not written to the log until the two match"
    )]
    Behind { database: u64, log: u64 },
}

/// The running drain thread.
pub struct Drain {
    stop: Arc<AtomicBool>,
    wake: Arc<Wake>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Drain {
    /// Starts the thread; its first pass replays what an earlier run left in
    /// the outbox.
    pub fn spawn(
        store: Store,
        log: Arc<ActivityLog>,
        mut writer: SegmentWriter,
        config: ActivityConfig,
    ) -> Drain {
        writer.set_segment_size(config.segment_size.0);
        let stop = Arc::new(AtomicBool::new(false));
        let wake = store.activity_wake();
        let flag = stop.clone();
        let signal = wake.clone();
        let thread = std::thread::Builder::new()
            .name("activity-drain".into())
            .spawn(move || {
                Worker {
                    store,
                    log,
                    writer,
                    config,
                    failing_since: None,
                }
                .run(&flag, &signal)
            })
            .expect("spawn activity drain thread");
        Drain {
            stop,
            wake,
            thread: std::sync::Mutex::new(Some(thread)),
        }
    }

    /// Drains what is left (durably) and stops. Call after the store's
    /// writer has stopped, so that nothing new arrives.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    store: Store,
    log: Arc<ActivityLog>,
    writer: SegmentWriter,
    config: ActivityConfig,
    failing_since: Option<Instant>,
}

impl Worker {
    fn run(mut self, stop: &AtomicBool, wake: &Wake) {
        loop {
            let stopping = stop.load(Ordering::Acquire);
            match drain_once(&self.store, &self.log, &mut self.writer, stopping) {
                Ok(_) => {
                    if self.failing_since.take().is_some() {
                        tracing::info!("activity log: appending works again");
                    }
                    self.store.activity_status().set_healthy(true);
                }
                Err(e) => {
                    // Logged once per failure spell, not at every retry.
                    if self.failing_since.is_none() {
                        tracing::error!(error = %e, "activity log: cannot drain the outbox; entries stay in the database and are retried");
                        self.failing_since = Some(Instant::now());
                    }
                    // A failed append needs no re-read of the files: the
                    // writer cuts them back to what it saw durable, and the
                    // file's own bytes past that are not to be trusted.
                    self.store.activity_status().set_healthy(false);
                }
            }
            self.retention();
            self.store.activity_status().set_log_bytes(self.log.bytes());
            if stopping {
                break;
            }
            wake.wait(TICK);
        }
    }

    fn retention(&mut self) {
        let age = self.config.retention_age.0;
        let max_bytes = self.config.retention_size.0;
        if age.is_zero() && max_bytes == 0 {
            return;
        }
        let now = self.store.clock().now().unix_micros();
        let age_us = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
        let victims = segment::retention_victims(&self.log.snapshot(), max_bytes, age_us, now);
        if victims.is_empty() {
            return;
        }
        self.log.forget(&victims);
        for path in &victims {
            match std::fs::remove_file(path) {
                Ok(()) => {
                    tracing::info!(file = %path.display(), "activity log: deleted a segment past retention")
                }
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "activity log: cannot delete a segment past retention")
                }
            }
        }
        let _ = crate::fsutil::sync_dir(self.log.dir());
    }
}

/// Moves everything now in the outbox into the log. Returns how many
/// entries were appended. `durable` makes the outbox deletes durable too
/// (at shutdown); otherwise they ride on the next durable commit.
pub fn drain_once(
    store: &Store,
    log: &ActivityLog,
    writer: &mut SegmentWriter,
    durable: bool,
) -> Result<u64, DrainError> {
    // Entries at or below the log's last number are taken to be in the log
    // already. That holds only while the database is at least as new as the
    // log; otherwise dropping them would lose new entries, so keep them.
    let database = store.committed_activity_seq()?;
    if database < writer.last_seq() {
        return Err(DrainError::Behind {
            database,
            log: writer.last_seq(),
        });
    }
    let mut appended = 0;
    loop {
        let batch = store.activity_outbox()?.oldest(BATCH)?;
        let Some(last) = batch.last().map(|r| r.seq) else {
            return Ok(appended);
        };
        let have = writer.last_seq();
        let new: Vec<NewRecord> = batch
            .iter()
            .filter(|r| r.seq > have)
            .map(|r| NewRecord {
                seq: r.seq,
                time: r.entry.time.unix_micros(),
                payload: format::encode_payload(&Payload::from_activity(&r.entry)),
            })
            .collect();
        if let Some(first) = new.first()
            && have != 0
            && first.seq != have.saturating_add(1)
        {
            tracing::error!(
                expected = have.saturating_add(1),
                found = first.seq,
                "activity log: the outbox skips sequence numbers; appending what there is (log verify will show the gap)"
            );
        }
        if !new.is_empty() {
            let done = writer.append(&new).map_err(|source| DrainError::Append {
                dir: log.dir().to_owned(),
                source,
            })?;
            log.extend(&done);
            appended += done.len() as u64;
        }
        store.remove_activity_through(last, durable)?;
        if batch.len() < BATCH {
            return Ok(appended);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Actor;
    use crate::store::Options;

    fn open(dir: &std::path::Path) -> Store {
        let options = Options {
            create: true,
            ..Options::default()
        };
        Store::open(dir, &options, Arc::new(crate::clock::SystemClock)).unwrap()
    }

    fn log_entries(store: &Store, n: usize) {
        for i in 0..n {
            store
                .write_blocking(Actor::operator(), move |tx| {
                    tx.log(
                        crate::domain::LogAction::UserUpdate,
                        "t",
                        format!("entry {i}"),
                    );
                    Ok(())
                })
                .unwrap();
        }
    }

    #[test]
    fn r11_3_replay_skips_entries_already_in_a_segment() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path());
        let (log, mut writer) = ActivityLog::open(tmp.path()).unwrap();
        log_entries(&store, 3);
        assert_eq!(drain_once(&store, &log, &mut writer, false).unwrap(), 3);
        assert_eq!(store.activity_backlog(), 0);

        // A crash after the fsync but before the outbox delete: the entries
        // are in a segment and still in the outbox.
        log_entries(&store, 2);
        let pending = store.activity_outbox().unwrap().oldest(100).unwrap();
        let records: Vec<NewRecord> = pending
            .iter()
            .map(|r| NewRecord {
                seq: r.seq,
                time: r.entry.time.unix_micros(),
                payload: format::encode_payload(&Payload::from_activity(&r.entry)),
            })
            .collect();
        writer.append(&records).unwrap();
        let (log, mut writer) = ActivityLog::open(tmp.path()).unwrap();
        assert_eq!(writer.last_seq(), 5);
        // The replay appends nothing and empties the outbox.
        assert_eq!(drain_once(&store, &log, &mut writer, true).unwrap(), 0);
        assert_eq!(store.activity_backlog(), 0);
        log_entries(&store, 1);
        assert_eq!(drain_once(&store, &log, &mut writer, true).unwrap(), 1);
        let report = crate::audit::verify::verify(log.dir()).unwrap();
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!((report.records, report.last_seq), (6, Some(6)));
        store.close();
    }

    /// The lesson of PostgreSQL's fsync bug: after a failed fsync the
    /// kernel may drop the unwritten pages, so what the append wrote must
    /// not be taken for durable, by this run or the next. The records are
    /// cut from the file, their entries stay in the outbox, and the next
    /// pass writes them again; the same when the failed fsync is a new
    /// segment's.
    #[test]
    fn r11_3_an_append_whose_fsync_failed_is_cut_back_and_written_again() {
        for rotate in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let store = open(tmp.path());
            let (log, mut writer) = ActivityLog::open(tmp.path()).unwrap();
            log_entries(&store, 2);
            assert_eq!(drain_once(&store, &log, &mut writer, false).unwrap(), 2);
            if rotate {
                writer.set_segment_size(1);
            }
            log_entries(&store, 2);
            writer.fail_syncs(1);
            let err = drain_once(&store, &log, &mut writer, false).unwrap_err();
            assert!(matches!(err, DrainError::Append { .. }), "{err}");
            let on_disk = segment::recover(log.dir()).unwrap();
            assert_eq!(on_disk.index.last_seq(), 2, "rotate: {rotate}");
            assert_eq!(
                segment::list(log.dir()).unwrap().len(),
                1,
                "rotate: {rotate}"
            );
            assert_eq!(
                store.activity_backlog(),
                2,
                "the entries stay in the outbox"
            );
            assert_eq!(
                log.snapshot().last_seq(),
                2,
                "nor does the index claim them"
            );

            assert_eq!(drain_once(&store, &log, &mut writer, false).unwrap(), 2);
            assert_eq!(store.activity_backlog(), 0);
            let report = crate::audit::verify::verify(log.dir()).unwrap();
            assert!(report.ok(), "rotate: {rotate}: {:?}", report.problems);
            assert_eq!((report.records, report.last_seq), (4, Some(4)));
            store.close();
        }
    }

    #[test]
    fn r11_3_a_database_older_than_the_log_keeps_its_new_entries() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path());
        let (log, mut writer) = ActivityLog::open(tmp.path()).unwrap();
        log_entries(&store, 1);
        // The log already holds seq 1..=3, as if the database were restored
        // from a backup older than the log.
        let rec = |seq| NewRecord {
            seq,
            time: 0,
            payload: format::encode_payload(&Payload::default()),
        };
        writer.append(&[rec(1), rec(2), rec(3)]).unwrap();
        let err = drain_once(&store, &log, &mut writer, true).unwrap_err();
        assert!(
            matches!(
                err,
                DrainError::Behind {
                    database: 1,
                    log: 3
                }
            ),
            "{err}"
        );
        assert_eq!(store.activity_backlog(), 1, "the new entry is kept");
        store.close();
    }

    #[test]
    fn r11_3_drain_thread_follows_commits_and_empties_the_outbox_at_stop() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path());
        let (log, writer) = ActivityLog::open(tmp.path()).unwrap();
        let drain = Drain::spawn(
            store.clone(),
            log.clone(),
            writer,
            ActivityConfig::default(),
        );
        log_entries(&store, 20);
        store.close();
        drain.stop();
        assert_eq!(store.activity_backlog(), 0);
        assert_eq!(log.snapshot().last_seq(), 20);
        assert!(store.activity_log_ok());
        assert_eq!(store.activity_log_bytes(), log.bytes());
    }
}
