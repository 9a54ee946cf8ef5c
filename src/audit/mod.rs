//! The activity log (R11): append-only, hash-chained segment files in
//! `<data>/activity/`, fed from the store's activity outbox, searched
//! through an in-memory index. The byte format is in docs/format.md.
//!
//! The one thing to know before changing it: an entry becomes part of the
//! log in two steps. A command's transaction puts it in the outbox (so it
//! exists exactly when the change does); the single [`drain`] thread then
//! appends it to a segment, fsyncs, and only then deletes it from the
//! outbox. Sequence numbers make every step idempotent: after a crash,
//! entries already in a segment are dropped from the outbox, the rest are
//! appended, and none is written twice.
//!
//! ```no_run
//! # fn demo(store: bailiwick::store::Store, cfg: &bailiwick::config::ActivityConfig) -> Result<(), bailiwick::audit::LogError> {
//! use bailiwick::audit::{ActivityLog, drain::Drain, query::{Filter, Scope}};
//! let (log, writer) = ActivityLog::open(std::path::Path::new("/var/lib/bailiwick"))?;
//! let drain = Drain::spawn(store.clone(), log.clone(), writer, cfg.clone());
//! let page = bailiwick::audit::query::page(&log, &store, &Filter::default(), &Scope::All, None, 100);
//! drain.stop();
//! # Ok(()) }
//! ```

pub mod crc32c;
mod disk;
pub mod drain;
pub mod export;
pub mod format;
pub mod forward;
pub mod index;
pub mod query;
pub mod segment;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use index::{Index, SegmentIndex};
use segment::{Appended, SegmentWriter};

/// Directory of the segment files inside the data directory.
pub const DIR: &str = "activity";

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("activity log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The segment files' index, shared by the drain (which extends it) and
/// readers (which clone a snapshot and never block the drain for long).
pub struct ActivityLog {
    dir: PathBuf,
    index: RwLock<Index>,
    /// Notified after records become durable (the forwarder waits on it).
    appended: Arc<crate::store::Wake>,
}

impl ActivityLog {
    /// Recovers `<data_dir>/activity` (cutting a torn tail) and returns the
    /// shared log with the writer that continues it.
    pub fn open(data_dir: &Path) -> Result<(Arc<ActivityLog>, SegmentWriter), LogError> {
        let dir = data_dir.join(DIR);
        let recovered = segment::recover(&dir)?;
        let log = Arc::new(ActivityLog {
            dir: dir.clone(),
            index: RwLock::new(recovered.index),
            appended: Arc::default(),
        });
        // The writer's segment size is set by the drain from the config.
        let writer = SegmentWriter::new(dir, recovered.tail, u64::MAX);
        Ok((log, writer))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Notified each time records become durable.
    pub fn appended(&self) -> Arc<crate::store::Wake> {
        self.appended.clone()
    }

    /// The index as of now: whole segments, durable bytes only.
    pub fn snapshot(&self) -> Index {
        self.index.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn bytes(&self) -> u64 {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .total_bytes()
    }

    /// The segments to put in a backup whose database committed activity
    /// entries up to `up_to`: every segment that starts at or before it, cut
    /// right after the record `up_to` (or after its last durable record when
    /// the drain has not reached `up_to` yet; the rest is in the backup's
    /// outbox).
    pub fn backup_cuts(&self, up_to: u64) -> Result<Vec<crate::store::backup::FileCut>, String> {
        let index = self.snapshot();
        let mut cuts = Vec::new();
        for seg in &index.segments {
            if seg.first_seq > up_to {
                break;
            }
            let len = match seg.blocks.iter().find(|b| b.last_seq >= up_to) {
                None => seg.bytes,
                Some(b) if b.first_seq > up_to => b.offset,
                Some(b) => record_end(&seg.path, b, up_to)?,
            };
            let name = seg
                .path
                .file_name()
                .map(|n| format!("{DIR}/{}", n.to_string_lossy()))
                .ok_or_else(|| format!("{}: not a segment file", seg.path.display()))?;
            cuts.push(crate::store::backup::FileCut {
                name,
                path: seg.path.clone(),
                len,
            });
        }
        Ok(cuts)
    }

    /// Adds records the writer made durable.
    pub(crate) fn extend(&self, appended: &[Appended]) {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        for a in appended {
            let known = index
                .segments
                .last()
                .is_some_and(|s| s.first_seq == a.segment_first_seq && s.path == a.segment);
            if !known {
                index.segments.push(Arc::new(SegmentIndex::new(
                    a.segment.clone(),
                    a.segment_first_seq,
                    format::HEADER_LEN as u64,
                )));
            }
            if let Some(seg) = index.segments.last_mut() {
                Arc::make_mut(seg).push(a.seq, a.time, a.offset, a.end);
            }
        }
        drop(index);
        self.appended.notify();
    }

    /// Drops segments from the index (before their files are deleted).
    pub(crate) fn forget(&self, paths: &[PathBuf]) {
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        index.segments.retain(|s| !paths.contains(&s.path));
    }
}

/// The end offset of record `seq` inside block `b` of the segment at `path`.
fn record_end(path: &Path, b: &index::Block, seq: u64) -> Result<u64, String> {
    use std::io::{Read, Seek, SeekFrom};
    let fail = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let mut f = std::fs::File::open(path).map_err(|e| fail(&e))?;
    f.seek(SeekFrom::Start(b.offset)).map_err(|e| fail(&e))?;
    let mut bytes = vec![0; (b.end - b.offset) as usize];
    f.read_exact(&mut bytes).map_err(|e| fail(&e))?;
    for item in format::Records::new(&bytes, b.offset, b.first_seq.saturating_sub(1)) {
        if let format::Item::Record(r) = item
            && r.seq == seq
        {
            return Ok(r.offset + r.len());
        }
    }
    Err(fail(&format_args!(
        "record {seq} is not where the index puts it"
    )))
}
