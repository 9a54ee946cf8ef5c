//! `bailiwick log verify`: checks every segment's header, every record's
//! checksum, the sequence numbers and the hash chain, and names each break
//! by file, sequence number and byte offset (R11.3).
//!
//! The one thing to know: it only reads. It works on a stopped daemon's
//! data directory and beside a running one (a record being appended shows
//! as an unfinished tail, which is a note, not a failure).

use std::fmt;
use std::path::{Path, PathBuf};

use super::format::{self, Hash, Item, Records, SegmentHeader};
use super::{disk, segment};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// The record's sequence number, or the one expected where the bytes are
    /// too damaged to tell.
    pub seq: Option<u64>,
    pub offset: u64,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seq {
            Some(seq) => write!(
                f,
                "{}: record seq {seq} at byte {}: {}",
                self.file.display(),
                self.offset,
                self.what
            ),
            None => write!(
                f,
                "{}: at byte {}: {}",
                self.file.display(),
                self.offset,
                self.what
            ),
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub segments: usize,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub problems: Vec<Problem>,
    /// Facts worth knowing that are not breaks (an unfinished tail, deleted
    /// older segments).
    pub notes: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot read the activity log in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Verifies the segment files in `dir` (`<data>/activity`).
pub fn verify(dir: &Path) -> Result<Report, VerifyError> {
    let segments = segment::list(dir).map_err(|source| VerifyError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut report = Report {
        segments: segments.len(),
        ..Report::default()
    };
    // What the next record must hold; `None` after damage, where the link
    // cannot be checked and the next good record is taken as it is.
    let mut chain: Option<(u64, Hash)> = None;
    let n = segments.len();
    for (i, (name_seq, path)) in segments.into_iter().enumerate() {
        let last = i + 1 == n;
        let bytes = match read_segment(&path) {
            Ok(b) => b,
            Err((_, e)) if e.kind() == std::io::ErrorKind::NotFound => {
                report.notes.push(format!(
                    "{}: deleted while verifying (retention)",
                    path.display()
                ));
                chain = None;
                continue;
            }
            // A disk that fails a read (EIO) is named where it failed, and
            // the other segments are still checked.
            Err((offset, e)) => {
                report.problems.push(Problem {
                    file: path,
                    seq: None,
                    offset,
                    what: format!("cannot read: {e}; the rest of this segment was not checked"),
                });
                chain = None;
                continue;
            }
        };
        let mut problem = |seq: Option<u64>, offset: u64, what: String| {
            report.problems.push(Problem {
                file: path.clone(),
                seq,
                offset,
                what,
            })
        };
        let header = match SegmentHeader::decode(&bytes) {
            Ok(h) => h,
            Err(e) => {
                problem(None, 0, format!("segment header: {e}"));
                chain = None;
                continue;
            }
        };
        if header.first_seq != name_seq {
            problem(
                None,
                0,
                format!(
                    "the header's first sequence number is {}, the file name says {name_seq}",
                    header.first_seq
                ),
            );
        }
        match chain {
            None if i == 0 && header.first_seq > 1 => report.notes.push(format!(
                "the log starts at seq {} (older segments were deleted by retention); the chain is checked from there",
                header.first_seq
            )),
            Some((next, _)) if header.first_seq != next => problem(
                None,
                0,
                format!(
                    "segment starts at seq {}, but the previous segment ended before seq {next}",
                    header.first_seq
                ),
            ),
            Some((_, h)) if header.prev_hash != h => problem(
                None,
                0,
                "hash chain broken: the header's previous-record hash is not the hash of the previous segment's last record".into(),
            ),
            _ => {}
        }
        chain = Some((header.first_seq, header.prev_hash));
        let body = &bytes[format::HEADER_LEN..];
        let before = header.first_seq.saturating_sub(1);
        for item in Records::new(body, format::HEADER_LEN as u64, before) {
            match item {
                Item::Record(r) => {
                    if let Some((next, h)) = chain {
                        if r.seq != next {
                            problem(
                                Some(r.seq),
                                r.offset,
                                format!("sequence number {}, expected {next}", r.seq),
                            );
                        }
                        if r.prev_hash != h {
                            problem(
                                Some(r.seq),
                                r.offset,
                                "hash chain broken: the previous-record hash does not match the record before it".into(),
                            );
                        }
                    }
                    if let Err(e) = format::decode_payload(r.payload) {
                        problem(Some(r.seq), r.offset, format!("payload: {e}"));
                    }
                    report.first_seq.get_or_insert(r.seq);
                    report.last_seq = Some(r.seq);
                    report.records += 1;
                    chain = Some((r.seq.wrapping_add(1), r.hash()));
                }
                Item::Damaged {
                    offset,
                    reason,
                    resumed_at,
                } => {
                    let after = match resumed_at {
                        Some(p) => format!("; the next good record is at byte {p}"),
                        None => "; nothing valid follows".into(),
                    };
                    problem(chain.map(|c| c.0), offset, format!("{reason}{after}"));
                    chain = None;
                }
                Item::Incomplete { offset } => {
                    let size = bytes.len() as u64;
                    if last {
                        report.notes.push(format!(
                            "{}: the last {} bytes from byte {offset} are an unfinished record (a write in progress, or one torn by a crash: the next start cuts it)",
                            path.display(),
                            size - offset
                        ));
                    } else {
                        problem(
                            chain.map(|c| c.0),
                            offset,
                            "a closed segment ends in an unfinished record".into(),
                        );
                        chain = None;
                    }
                }
            }
        }
    }
    Ok(report)
}

/// Reads a segment whole. A read that fails is tried again block by block,
/// so that the error names the first 4 KiB block the disk cannot read.
fn read_segment(path: &Path) -> Result<Vec<u8>, (u64, std::io::Error)> {
    const CHUNK: usize = 1 << 20;
    const BLOCK: usize = 4096;
    let file = std::fs::File::open(path).map_err(|e| (0, e))?;
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let offset = bytes.len() as u64;
        match disk::read_at(&file, path, &mut buf, offset) {
            Ok(0) => return Ok(bytes),
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => {
                for block in buf.chunks_mut(BLOCK) {
                    let at = bytes.len() as u64;
                    match disk::read_at(&file, path, block, at) {
                        Ok(0) => return Ok(bytes),
                        Ok(n) => bytes.extend_from_slice(&block[..n]),
                        Err(e) => return Err((at, e)),
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::format::{Payload, encode_payload};
    use crate::audit::segment::{NewRecord, SegmentWriter, recover};

    /// A disk that cannot read one block of a segment (EIO): verify names
    /// the file and the block's offset, fails, and still checks the other
    /// segments.
    #[test]
    fn r11_3_a_read_error_is_named_by_file_and_offset_and_the_rest_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        log(tmp.path(), 300, 8 << 10);
        let segments = segment::list(tmp.path()).unwrap();
        assert!(segments.len() >= 3, "{segments:?}");
        let bad = segments[1].1.clone();
        assert!(std::fs::metadata(&bad).unwrap().len() > 4096 + 10);
        crate::audit::disk::faults::fail_reads(&bad, 4096 + 10);
        let r = verify(tmp.path()).unwrap();
        crate::audit::disk::faults::heal();
        assert!(!r.ok());
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        let p = &r.problems[0];
        assert_eq!((p.file.clone(), p.offset), (bad, 4096));
        assert!(p.to_string().contains("cannot read"), "{p}");
        assert_eq!(r.segments, segments.len());
        assert!(
            r.records > 0 && r.records < 300,
            "the other segments were checked: {}",
            r.records
        );
    }

    fn log(dir: &Path, n: u64, size: u64) {
        let r = recover(dir).unwrap();
        let mut w = SegmentWriter::new(dir.to_owned(), r.tail, size);
        let recs: Vec<_> = (1..=n)
            .map(|s| NewRecord {
                seq: s,
                time: s as i64,
                payload: encode_payload(&Payload {
                    action: "x".into(),
                    ..Payload::default()
                }),
            })
            .collect();
        w.append(&recs).unwrap();
    }

    #[test]
    fn r11_3_clean_log_verifies_across_segments() {
        let tmp = tempfile::tempdir().unwrap();
        log(tmp.path(), 30, 600);
        let r = verify(tmp.path()).unwrap();
        assert!(r.ok(), "{:?}", r.problems);
        assert!(r.segments > 2);
        assert_eq!(
            (r.records, r.first_seq, r.last_seq),
            (30, Some(1), Some(30))
        );
    }

    #[test]
    fn r11_3_flipped_byte_is_named_by_file_seq_and_offset() {
        let tmp = tempfile::tempdir().unwrap();
        log(tmp.path(), 5, 1 << 20);
        let (_, path) = segment::list(tmp.path()).unwrap().pop().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        let third = Records::new(&bytes[format::HEADER_LEN..], format::HEADER_LEN as u64, 0)
            .filter_map(|i| match i {
                Item::Record(r) => Some(r.offset),
                _ => None,
            })
            .nth(2)
            .unwrap();
        bytes[third as usize + 60] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let r = verify(tmp.path()).unwrap();
        assert!(!r.ok());
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        let p = &r.problems[0];
        assert_eq!((p.file.clone(), p.seq, p.offset), (path, Some(3), third));
        assert!(p.to_string().contains("checksum mismatch"), "{p}");
    }

    #[test]
    fn r11_3_rewritten_record_with_fresh_checksum_breaks_the_chain() {
        let tmp = tempfile::tempdir().unwrap();
        log(tmp.path(), 4, 1 << 20);
        let (_, path) = segment::list(tmp.path()).unwrap().pop().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let recs: Vec<_> = Records::new(&bytes[format::HEADER_LEN..], format::HEADER_LEN as u64, 0)
            .filter_map(|i| match i {
                Item::Record(r) => Some((r.offset as usize, r.bytes.len(), r.prev_hash)),
                _ => None,
            })
            .collect();
        // A forger who recomputes the CRC of record 2 still breaks record 3's link.
        let (off, len, prev) = recs[1];
        let forged = format::encode_record(
            2,
            999,
            &prev,
            &encode_payload(&Payload {
                action: "y".into(),
                ..Payload::default()
            }),
        );
        assert_eq!(forged.len(), len);
        let mut out = bytes.clone();
        out[off..off + len].copy_from_slice(&forged);
        std::fs::write(&path, &out).unwrap();
        let r = verify(tmp.path()).unwrap();
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert_eq!(r.problems[0].seq, Some(3));
        assert!(r.problems[0].what.contains("hash chain"));
    }
}
