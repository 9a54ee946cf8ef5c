//! Segment files on disk: finding them, recovering the tail at start, and
//! the one writer that appends, rotates and deletes old segments.
//!
//! The one thing to know: only the drain thread writes. It appends a batch,
//! fsyncs (and fsyncs the directory for a new file), and only then tells the
//! index and the outbox. A crash before the fsync leaves a torn tail, which
//! [`recover`] cuts at the next start; the entries are still in the outbox.
//!
//! A failed fsync is not retried: after one, the kernel may have dropped the
//! unwritten pages and marked them clean, so a second fsync can succeed over
//! data that is not on disk. The writer instead cuts the file back to the
//! length it last saw durable (and removes a segment it had just started)
//! before it appends again, and writes the batch anew from the outbox.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::LogError;
use super::format::{self, Hash, HeaderError, Item, Records, SegmentHeader};
use super::index::{Index, SegmentIndex};

/// `(first_seq, path)` of every `NNNN….seg` file in `dir`, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        if let Some(first) = name.to_str().and_then(format::parse_segment_name) {
            out.push((first, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Where appending goes on.
#[derive(Debug, Clone)]
pub struct Tail {
    pub path: PathBuf,
    pub first_seq: u64,
    /// End of the last whole record.
    pub size: u64,
    pub last_seq: u64,
    pub last_hash: Hash,
}

/// What the start found.
#[derive(Debug, Default)]
pub struct Recovered {
    pub index: Index,
    pub tail: Option<Tail>,
    /// Damage that was reported and left in place (see `bailiwick log verify`).
    pub damaged: Vec<String>,
}

/// Scans every segment, builds the index, and cuts a torn tail off the last
/// segment (a crash mid-append). Damage anywhere else is logged and left
/// alone: it is evidence, and `bailiwick log verify` names it.
pub fn recover(dir: &Path) -> Result<Recovered, LogError> {
    let io = |source| LogError::Io {
        path: dir.to_owned(),
        source,
    };
    crate::fsutil::create_private_dir(dir).map_err(io)?;
    let segments = list(dir).map_err(io)?;
    let mut out = Recovered::default();
    let count = segments.len();
    for (i, (name_seq, path)) in segments.into_iter().enumerate() {
        let last = i + 1 == count;
        let bytes = std::fs::read(&path).map_err(|source| LogError::Io {
            path: path.clone(),
            source,
        })?;
        let header = match SegmentHeader::decode(&bytes) {
            Ok(h) => h,
            Err(e) => {
                let torn = matches!(e, HeaderError::Short(_)) || bytes.iter().all(|&b| b == 0);
                if last && torn {
                    // A crash between creating the file and syncing its header.
                    tracing::warn!(file = %path.display(), "activity log: removing a segment whose header was never completely written");
                    std::fs::remove_file(&path).map_err(|source| LogError::Io {
                        path: path.clone(),
                        source,
                    })?;
                    crate::fsutil::sync_dir(dir).map_err(io)?;
                } else {
                    let msg = format!("{}: {e}", path.display());
                    tracing::error!(file = %path.display(), error = %e, "activity log: damaged segment header; the segment is skipped; run `bailiwick log verify`");
                    out.damaged.push(msg);
                }
                continue;
            }
        };
        if header.first_seq != name_seq {
            tracing::error!(file = %path.display(), header = header.first_seq, "activity log: segment name and header disagree on the first sequence number");
            out.damaged.push(format!(
                "{}: header says first sequence number {}",
                path.display(),
                header.first_seq
            ));
        }
        let mut seg = SegmentIndex::new(path.clone(), header.first_seq, format::HEADER_LEN as u64);
        let mut last_rec: Option<(u64, u64, u64)> = None; // seq, offset, end
        let mut cut_at = None;
        let body = &bytes[format::HEADER_LEN..];
        let before = header.first_seq.saturating_sub(1);
        for item in Records::new(body, format::HEADER_LEN as u64, before) {
            match item {
                Item::Record(r) => {
                    let end = r.offset + r.len();
                    seg.push(r.seq, r.time, r.offset, end);
                    last_rec = Some((r.seq, r.offset, end));
                }
                Item::Damaged {
                    offset,
                    reason,
                    resumed_at: Some(_),
                } => {
                    tracing::error!(file = %path.display(), offset, reason = %reason, "activity log: damaged record in the middle of a segment, left in place; run `bailiwick log verify`");
                    out.damaged
                        .push(format!("{} at byte {offset}: {reason}", path.display()));
                }
                Item::Damaged {
                    offset,
                    reason,
                    resumed_at: None,
                } => {
                    if last {
                        // Indistinguishable from a write torn by a crash: a
                        // record whose sectors did not all reach the disk.
                        cut_at = Some((offset, reason));
                    } else {
                        tracing::error!(file = %path.display(), offset, reason = %reason, "activity log: damaged record at the end of a closed segment; run `bailiwick log verify`");
                        out.damaged
                            .push(format!("{} at byte {offset}: {reason}", path.display()));
                    }
                }
                Item::Incomplete { offset } => {
                    if last {
                        cut_at = Some((offset, "unfinished record".into()));
                    } else {
                        tracing::error!(file = %path.display(), offset, "activity log: a closed segment ends in an unfinished record; run `bailiwick log verify`");
                        out.damaged.push(format!(
                            "{} at byte {offset}: unfinished record",
                            path.display()
                        ));
                    }
                }
            }
        }
        let mut size = bytes.len() as u64;
        if let Some((offset, reason)) = cut_at {
            tracing::warn!(file = %path.display(), offset, cut = size - offset, reason = %reason, "activity log: cutting a torn tail left by a crash (its entries are still in the outbox and are written again)");
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|f| f.set_len(offset).and_then(|_| f.sync_all()));
            f.map_err(|source| LogError::Io {
                path: path.clone(),
                source,
            })?;
            size = offset;
        }
        seg.bytes = size;
        if last {
            let (last_seq, last_hash) = match last_rec {
                Some((seq, offset, end)) => {
                    let rec = &bytes[offset as usize..end as usize];
                    (seq, format::hash_record(rec))
                }
                None => (before, header.prev_hash),
            };
            out.tail = Some(Tail {
                path: path.clone(),
                first_seq: header.first_seq,
                size,
                last_seq,
                last_hash,
            });
        }
        out.index.segments.push(Arc::new(seg));
    }
    // A damaged last header leaves the previous segment as the tail: find it.
    if out.tail.is_none()
        && let Some(seg) = out.index.segments.last().cloned()
    {
        out.tail = tail_of(&seg)?;
    }
    Ok(out)
}

/// Rebuilds the append position of a closed segment (rarely needed: only
/// when the segment after it could not be read).
fn tail_of(seg: &SegmentIndex) -> Result<Option<Tail>, LogError> {
    let bytes = std::fs::read(&seg.path).map_err(|source| LogError::Io {
        path: seg.path.clone(),
        source,
    })?;
    let Ok(header) = SegmentHeader::decode(&bytes) else {
        return Ok(None);
    };
    let mut last = None;
    let body = &bytes[format::HEADER_LEN..];
    for item in Records::new(
        body,
        format::HEADER_LEN as u64,
        seg.first_seq.saturating_sub(1),
    ) {
        if let Item::Record(r) = item {
            last = Some((r.seq, r.hash(), r.offset + r.len()));
        }
    }
    let (last_seq, last_hash, size) = last.unwrap_or((
        seg.first_seq.saturating_sub(1),
        header.prev_hash,
        format::HEADER_LEN as u64,
    ));
    Ok(Some(Tail {
        path: seg.path.clone(),
        first_seq: seg.first_seq,
        size,
        last_seq,
        last_hash,
    }))
}

/// One record to append.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub seq: u64,
    pub time: i64,
    pub payload: Vec<u8>,
}

/// A record as appended, for the index.
#[derive(Debug, Clone)]
pub struct Appended {
    pub segment: PathBuf,
    pub segment_first_seq: u64,
    pub seq: u64,
    pub time: i64,
    pub offset: u64,
    pub end: u64,
}

/// Appends records to the newest segment, starting a new one past
/// `segment_size`.
pub struct SegmentWriter {
    dir: PathBuf,
    segment_size: u64,
    tail: Option<Tail>,
    file: Option<File>,
    /// Set after a failed append until the files are cut back to what was
    /// durable before it.
    undo: Option<Undo>,
    /// Set by tests: this many coming data fsyncs fail after their write, as
    /// an I/O error at writeback would.
    #[cfg(test)]
    failing_syncs: u32,
}

/// What a failed append must take back.
struct Undo {
    /// The tail as it was durable before the append.
    durable: Option<Tail>,
    /// Segments the append started: none of their records is durable.
    started: Vec<PathBuf>,
}

impl SegmentWriter {
    pub fn new(dir: PathBuf, tail: Option<Tail>, segment_size: u64) -> SegmentWriter {
        SegmentWriter {
            dir,
            segment_size: segment_size.max(format::HEADER_LEN as u64 + 1),
            tail,
            file: None,
            undo: None,
            #[cfg(test)]
            failing_syncs: 0,
        }
    }

    /// Makes the next `n` data fsyncs fail after writing (tests only).
    #[cfg(test)]
    pub fn fail_syncs(&mut self, n: u32) {
        self.failing_syncs = n;
    }

    /// Size past which the next record starts a new segment.
    pub fn set_segment_size(&mut self, bytes: u64) {
        self.segment_size = bytes.max(format::HEADER_LEN as u64 + 1);
    }

    /// Sequence number of the last record written, 0 for an empty log.
    pub fn last_seq(&self) -> u64 {
        self.tail.as_ref().map_or(0, |t| t.last_seq)
    }

    /// Appends `records` (ascending sequence numbers) and makes them durable
    /// before returning. On error nothing is reported as written, and the
    /// files are cut back to what was durable before (now, or before the
    /// next append if the disk refuses even that), so the caller appends the
    /// same records again.
    pub fn append(&mut self, records: &[NewRecord]) -> std::io::Result<Vec<Appended>> {
        self.take_back()?;
        let durable = self.tail.clone();
        let mut started = Vec::new();
        match self.append_unchecked(records, &mut started) {
            Ok(done) => Ok(done),
            Err(e) => {
                self.file = None;
                self.undo = Some(Undo { durable, started });
                // At once if the disk lets us; else before the next append.
                if let Err(undo) = self.take_back() {
                    tracing::warn!(error = %undo, "activity log: cannot yet cut back a failed append");
                }
                Err(e)
            }
        }
    }

    /// Cuts the files back to what was durable before a failed append: the
    /// tail segment to its durable length, segments the append started
    /// removed, each change fsynced. Until that succeeds nothing is appended.
    fn take_back(&mut self) -> std::io::Result<()> {
        let Some(undo) = self.undo.as_ref() else {
            return Ok(());
        };
        for path in &undo.started {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(t) = &undo.durable {
            let f = OpenOptions::new().write(true).open(&t.path)?;
            f.set_len(t.size)?;
            f.sync_all()?;
        }
        crate::fsutil::sync_dir(&self.dir)?;
        self.tail = undo.durable.clone();
        self.undo = None;
        Ok(())
    }

    fn append_unchecked(
        &mut self,
        records: &[NewRecord],
        started: &mut Vec<PathBuf>,
    ) -> std::io::Result<Vec<Appended>> {
        let mut done = Vec::with_capacity(records.len());
        let mut buf: Vec<u8> = Vec::new();
        let mut new_file = false;
        for r in records {
            let (prev_hash, size) = match &self.tail {
                Some(t) => (t.last_hash, t.size + buf.len() as u64),
                None => ([0; 32], 0),
            };
            let record = format::encode_record(r.seq, r.time, &prev_hash, &r.payload);
            let rotate = match &self.tail {
                None => true,
                // A segment holds at least one record, whatever its size.
                Some(t) => {
                    t.last_seq >= t.first_seq && size + record.len() as u64 > self.segment_size
                }
            };
            if rotate {
                self.flush(&mut buf)?;
                started.push(self.dir.join(format::segment_name(r.seq)));
                self.start_segment(r.seq, prev_hash)?;
                new_file = true;
            }
            let Some(t) = self.tail.as_mut() else {
                return Err(std::io::Error::other("no segment to append to"));
            };
            let offset = t.size + buf.len() as u64;
            let end = offset + record.len() as u64;
            t.last_hash = format::hash_record(&record);
            t.last_seq = r.seq;
            buf.extend_from_slice(&record);
            done.push(Appended {
                segment: t.path.clone(),
                segment_first_seq: t.first_seq,
                seq: r.seq,
                time: r.time,
                offset,
                end,
            });
        }
        self.flush(&mut buf)?;
        if new_file {
            crate::fsutil::sync_dir(&self.dir)?;
        }
        Ok(done)
    }

    /// Writes `buf` at the end of the current segment and fsyncs it.
    fn flush(&mut self, buf: &mut Vec<u8>) -> std::io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let Some(t) = self.tail.as_ref() else {
            return Err(std::io::Error::other("no segment to append to"));
        };
        let start = t.size;
        let mut f = match self.file.take() {
            Some(f) => f,
            None => OpenOptions::new().write(true).open(&t.path)?,
        };
        use std::io::{Seek, SeekFrom};
        f.seek(SeekFrom::Start(start))?;
        f.write_all(buf)?;
        let size = start + buf.len() as u64;
        self.sync_data(&f)?;
        if let Some(t) = self.tail.as_mut() {
            t.size = size;
        }
        self.file = Some(f);
        buf.clear();
        Ok(())
    }

    fn sync_data(&mut self, f: &File) -> std::io::Result<()> {
        #[cfg(test)]
        if self.failing_syncs > 0 {
            self.failing_syncs -= 1;
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        f.sync_data()
    }

    fn start_segment(&mut self, first_seq: u64, prev_hash: Hash) -> std::io::Result<()> {
        let path = self.dir.join(format::segment_name(first_seq));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(
            &SegmentHeader {
                first_seq,
                prev_hash,
            }
            .encode(),
        )?;
        self.sync_data(&f)?;
        self.file = Some(f);
        self.tail = Some(Tail {
            path,
            first_seq,
            size: format::HEADER_LEN as u64,
            last_seq: first_seq.saturating_sub(1),
            last_hash: prev_hash,
        });
        Ok(())
    }
}

/// Deletes whole segments from the oldest while the log is over
/// `max_bytes` or a segment's newest entry is older than `max_age_us` (0:
/// no limit). The newest segment is never deleted, and the next segment's
/// header keeps the hash of the last deleted record, so the chain that
/// remains verifies. Returns the deleted files.
pub fn retention_victims(
    index: &Index,
    max_bytes: u64,
    max_age_us: i64,
    now_us: i64,
) -> Vec<PathBuf> {
    let mut total = index.total_bytes();
    let mut out = Vec::new();
    let n = index.segments.len();
    for seg in index.segments.iter().take(n.saturating_sub(1)) {
        let too_big = max_bytes > 0 && total > max_bytes;
        let too_old = max_age_us > 0
            && seg
                .max_time()
                .is_none_or(|t| t < now_us.saturating_sub(max_age_us));
        if !(too_big || too_old) {
            break;
        }
        total -= seg.bytes;
        out.push(seg.path.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::format::{Payload, encode_payload};

    fn rec(seq: u64, time: i64) -> NewRecord {
        NewRecord {
            seq,
            time,
            payload: encode_payload(&Payload {
                action: "test".into(),
                details: format!("entry {seq}"),
                ..Payload::default()
            }),
        }
    }

    fn write(dir: &Path, seqs: std::ops::RangeInclusive<u64>, size: u64) -> SegmentWriter {
        let r = recover(dir).unwrap();
        let mut w = SegmentWriter::new(dir.to_owned(), r.tail, size);
        let recs: Vec<_> = seqs.map(|s| rec(s, s as i64)).collect();
        w.append(&recs).unwrap();
        w
    }

    #[test]
    fn r11_3_rotates_and_recovers_where_it_left_off() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("activity");
        let w = write(&dir, 1..=50, 1000);
        assert_eq!(w.last_seq(), 50);
        let segs = list(&dir).unwrap();
        assert!(segs.len() > 3, "rotated: {segs:?}");
        assert_eq!(segs[0].0, 1);
        let r = recover(&dir).unwrap();
        assert!(r.damaged.is_empty(), "{:?}", r.damaged);
        assert_eq!(r.index.last_seq(), 50);
        let records: u64 = r.index.segments.iter().map(|s| s.records()).sum();
        assert_eq!(records, 50);
        let tail = r.tail.clone().unwrap();
        assert_eq!(tail.last_seq, 50);
        // Appending after a restart continues the chain in the same files.
        let mut w = SegmentWriter::new(dir.clone(), r.tail, 1000);
        w.append(&[rec(51, 51)]).unwrap();
        assert_eq!(recover(&dir).unwrap().index.last_seq(), 51);
    }

    #[test]
    fn r11_3_torn_tail_is_cut_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("activity");
        write(&dir, 1..=5, 1 << 20);
        let (_, path) = list(&dir).unwrap().pop().unwrap();
        let good = std::fs::metadata(&path).unwrap().len();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&format::encode_record(6, 6, &[0; 32], b"xx")[..30])
            .unwrap();
        drop(f);
        let r = recover(&dir).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        assert_eq!(r.tail.unwrap().last_seq, 5);
        assert!(r.damaged.is_empty());
    }

    #[test]
    fn r11_3_header_torn_at_creation_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("activity");
        write(&dir, 1..=3, 1 << 20);
        std::fs::write(dir.join(format::segment_name(4)), [0u8; 10]).unwrap();
        let r = recover(&dir).unwrap();
        assert_eq!(list(&dir).unwrap().len(), 1);
        assert_eq!(r.tail.unwrap().last_seq, 3);
    }

    #[test]
    fn r11_3_retention_deletes_oldest_but_never_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("activity");
        write(&dir, 1..=40, 800);
        let r = recover(&dir).unwrap();
        let n = r.index.segments.len();
        let total = r.index.total_bytes();
        let victims = retention_victims(&r.index, total / 2, 0, 0);
        assert!(!victims.is_empty() && victims.len() < n);
        assert_eq!(victims[0], r.index.segments[0].path);
        // Everything is old: all but the newest go.
        let all = retention_victims(&r.index, 0, 1, 1_000_000);
        assert_eq!(all.len(), n - 1);
        assert!(retention_victims(&r.index, 0, 0, 0).is_empty());
    }
}
