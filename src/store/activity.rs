//! The store's side of the activity log (R11.3): the outbox that commands
//! write in their own transaction, read and emptied by `audit::drain`, and
//! the signal that wakes the drain after each commit.
//!
//! The one thing to know: the outbox is only ever emptied up to a sequence
//! number that is already durable in a segment file, so an entry is never in
//! neither place. Deleting is idempotent; a delete lost in a crash is redone
//! at the next start.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use redb::{Durability, ReadOnlyTable, ReadableDatabase, ReadableTable};

use super::Store;
use super::codec;
use super::records::{ACTIVITY_OUTBOX, ActivityRecord, KEY_ACTIVITY_SEQ, META};

/// A level-triggered wake-up: `notify` before `wait` is not lost.
#[derive(Default)]
pub struct Wake {
    pending: Mutex<bool>,
    cv: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.cv.notify_all();
    }

    /// Waits for a `notify` (or one already pending) up to `timeout`; says
    /// whether one came.
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (mut guard, _) = self
            .cv
            .wait_timeout_while(guard, timeout, |pending| !*pending)
            .unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *guard, false)
    }
}

/// What the drain reports for `/metrics` and `/readyz`.
pub struct ActivityStatus {
    log_bytes: AtomicU64,
    healthy: AtomicBool,
}

impl Default for ActivityStatus {
    fn default() -> Self {
        ActivityStatus {
            log_bytes: AtomicU64::new(0),
            healthy: AtomicBool::new(true),
        }
    }
}

impl ActivityStatus {
    pub fn set_log_bytes(&self, n: u64) {
        self.log_bytes.store(n, Ordering::Relaxed);
    }

    pub fn set_healthy(&self, ok: bool) {
        self.healthy.store(ok, Ordering::Release);
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    #[error("activity outbox: {0}")]
    Storage(String),
    #[error("activity outbox entry {seq} is damaged: {detail}; restore the database from a backup")]
    Corrupt { seq: u64, detail: String },
}

fn storage(e: impl std::fmt::Display) -> OutboxError {
    OutboxError::Storage(e.to_string())
}

/// The outbox as of one read transaction: a consistent snapshot that does
/// not block the writer.
pub struct OutboxSnapshot {
    table: Option<ReadOnlyTable<u64, &'static [u8]>>,
}

impl OutboxSnapshot {
    /// Up to `max` entries in sequence order, from the oldest.
    pub fn oldest(&self, max: usize) -> Result<Vec<ActivityRecord>, OutboxError> {
        let Some(t) = &self.table else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for row in t.iter().map_err(storage)?.take(max) {
            let (k, v) = row.map_err(storage)?;
            out.push(decode(k.value(), v.value())?);
        }
        Ok(out)
    }

    /// Calls `f` on entries with a sequence number below `below`, newest
    /// first, while it returns `true`.
    pub fn newest_first(
        &self,
        below: u64,
        mut f: impl FnMut(ActivityRecord) -> bool,
    ) -> Result<(), OutboxError> {
        let Some(t) = &self.table else {
            return Ok(());
        };
        for row in t.range(..below).map_err(storage)?.rev() {
            let (k, v) = row.map_err(storage)?;
            if !f(decode(k.value(), v.value())?) {
                break;
            }
        }
        Ok(())
    }
}

fn decode(seq: u64, bytes: &[u8]) -> Result<ActivityRecord, OutboxError> {
    codec::decode::<ActivityRecord>(bytes).map_err(|e| OutboxError::Corrupt {
        seq,
        detail: e.to_string(),
    })
}

impl Store {
    /// Signalled after every commit that wrote activity entries.
    pub fn activity_wake(&self) -> std::sync::Arc<Wake> {
        self.inner.activity_wake.clone()
    }

    pub fn activity_status(&self) -> &ActivityStatus {
        &self.inner.activity_status
    }

    /// Bytes in activity segment files, as the drain last saw them.
    pub fn activity_log_bytes(&self) -> u64 {
        self.inner.activity_status.log_bytes.load(Ordering::Relaxed)
    }

    /// Whether the last attempt to append to the activity log worked.
    pub fn activity_log_ok(&self) -> bool {
        self.inner.activity_status.healthy.load(Ordering::Acquire)
    }

    /// Sequence number of the last activity entry committed (0: none yet).
    pub fn committed_activity_seq(&self) -> Result<u64, OutboxError> {
        let read = self.inner.db.begin_read().map_err(storage)?;
        let meta = read.open_table(META).map_err(storage)?;
        Ok(meta
            .get(KEY_ACTIVITY_SEQ)
            .map_err(storage)?
            .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0))
    }

    /// A snapshot of the activity outbox.
    pub fn activity_outbox(&self) -> Result<OutboxSnapshot, OutboxError> {
        let read = self.inner.db.begin_read().map_err(storage)?;
        let table = match read.open_table(ACTIVITY_OUTBOX) {
            Ok(t) => Some(t),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(storage(e)),
        };
        Ok(OutboxSnapshot { table })
    }

    /// Deletes outbox entries up to and including `seq`: only call once they
    /// are durable in a segment. `durable: false` skips the fsync, which is
    /// safe because a lost delete is redone idempotently at the next start.
    pub fn remove_activity_through(&self, seq: u64, durable: bool) -> Result<(), OutboxError> {
        let mut txn = self.inner.db.begin_write().map_err(storage)?;
        txn.set_durability(if durable {
            Durability::Immediate
        } else {
            Durability::None
        })
        .map_err(storage)?;
        {
            let mut t = txn.open_table(ACTIVITY_OUTBOX).map_err(storage)?;
            t.retain_in(..=seq, |_, _| false).map_err(storage)?;
        }
        txn.commit().map_err(storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_is_not_lost_when_notified_first() {
        let w = Wake::default();
        w.notify();
        assert!(w.wait(Duration::from_millis(1)));
        assert!(!w.wait(Duration::from_millis(1)));
    }
}
