//! The in-memory index of the segment files: per segment its sequence and
//! time range, and every [`BLOCK_RECORDS`] records a block with its byte
//! range and time range. A query for the last hour reads the blocks that can
//! hold it and skips the rest of the log.
//!
//! The one thing to know: the index only names bytes that are durable (the
//! drain adds records after their fsync), so a reader never sees a record
//! being written.

use std::path::PathBuf;
use std::sync::Arc;

/// Records per block: small enough that a block is one or two reads, large
/// enough that a year of entries indexes in a few MiB.
pub const BLOCK_RECORDS: u32 = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub first_seq: u64,
    pub last_seq: u64,
    /// Byte range `[offset, end)` in the segment file.
    pub offset: u64,
    pub end: u64,
    pub min_time: i64,
    pub max_time: i64,
    pub records: u32,
}

#[derive(Debug, Clone)]
pub struct SegmentIndex {
    pub path: PathBuf,
    /// From the header.
    pub first_seq: u64,
    /// File size, in bytes.
    pub bytes: u64,
    pub blocks: Vec<Block>,
}

impl SegmentIndex {
    pub fn new(path: PathBuf, first_seq: u64, bytes: u64) -> SegmentIndex {
        SegmentIndex {
            path,
            first_seq,
            bytes,
            blocks: Vec::new(),
        }
    }

    /// Adds a record at `[offset, end)`.
    pub fn push(&mut self, seq: u64, time: i64, offset: u64, end: u64) {
        self.bytes = self.bytes.max(end);
        match self.blocks.last_mut() {
            Some(b) if b.records < BLOCK_RECORDS => {
                b.last_seq = seq;
                b.end = end;
                b.min_time = b.min_time.min(time);
                b.max_time = b.max_time.max(time);
                b.records += 1;
            }
            _ => self.blocks.push(Block {
                first_seq: seq,
                last_seq: seq,
                offset,
                end,
                min_time: time,
                max_time: time,
                records: 1,
            }),
        }
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.blocks.last().map(|b| b.last_seq)
    }

    pub fn min_time(&self) -> Option<i64> {
        self.blocks.iter().map(|b| b.min_time).min()
    }

    pub fn max_time(&self) -> Option<i64> {
        self.blocks.iter().map(|b| b.max_time).max()
    }

    pub fn records(&self) -> u64 {
        self.blocks.iter().map(|b| u64::from(b.records)).sum()
    }
}

/// Every segment, oldest first. Cloning shares the segments.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub segments: Vec<Arc<SegmentIndex>>,
}

impl Index {
    /// Sequence number of the newest record in a segment, 0 when none.
    pub fn last_seq(&self) -> u64 {
        self.segments
            .iter()
            .rev()
            .find_map(|s| s.last_seq())
            .unwrap_or(0)
    }

    pub fn total_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_fill_up_then_split_and_keep_time_ranges() {
        let mut s = SegmentIndex::new("x".into(), 1, 64);
        let n = u64::from(BLOCK_RECORDS) + 5;
        for seq in 1..=n {
            let time = if seq == 3 { -5 } else { seq as i64 * 10 };
            s.push(seq, time, seq * 100, seq * 100 + 100);
        }
        assert_eq!(s.blocks.len(), 2);
        assert_eq!(s.blocks[0].first_seq, 1);
        assert_eq!(s.blocks[0].last_seq, u64::from(BLOCK_RECORDS));
        assert_eq!(s.blocks[0].min_time, -5);
        assert_eq!(s.blocks[1].offset, (u64::from(BLOCK_RECORDS) + 1) * 100);
        assert_eq!(s.last_seq(), Some(n));
        assert_eq!(s.records(), n);
        assert_eq!(s.bytes, n * 100 + 100);
    }
}
