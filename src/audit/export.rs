//! `bailiwick log export`: every entry of the segment files, oldest first,
//! as CSV or JSON lines, read straight from the files (the daemon may be
//! stopped or running; nothing is written).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::format::{self, Item, Records, SegmentHeader};
use super::query::{EntryView, Filter};
use super::segment;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub written: u64,
    /// Damaged records and unreadable segments left out.
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot read the activity log in {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
}

/// Writes the entries of `dir` that match `filter` to `out`.
pub fn export(
    dir: &Path,
    filter: &Filter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<Summary, ExportError> {
    let segments = segment::list(dir).map_err(|source| ExportError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let mut summary = Summary::default();
    if format == ExportFormat::Csv {
        out.write_all(EntryView::CSV_HEADER.as_bytes())
            .map_err(ExportError::Write)?;
    }
    for (_, path) in segments {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(ExportError::Read { path, source }),
        };
        let Ok(header) = SegmentHeader::decode(&bytes) else {
            summary.skipped += 1;
            continue;
        };
        let body = &bytes[format::HEADER_LEN..];
        for item in Records::new(
            body,
            format::HEADER_LEN as u64,
            header.first_seq.saturating_sub(1),
        ) {
            let r = match item {
                Item::Record(r) => r,
                Item::Damaged { .. } => {
                    summary.skipped += 1;
                    continue;
                }
                Item::Incomplete { .. } => continue,
            };
            let Ok(p) = format::decode_payload(r.payload) else {
                summary.skipped += 1;
                continue;
            };
            if !filter.matches(r.time, &p) {
                continue;
            }
            let view = EntryView::new(r.seq, r.time, p);
            let line = match format {
                ExportFormat::Csv => view.csv_line(),
                ExportFormat::Jsonl => {
                    let mut l = serde_json::to_string(&view).unwrap_or_default();
                    l.push('\n');
                    l
                }
            };
            out.write_all(line.as_bytes()).map_err(ExportError::Write)?;
            summary.written += 1;
        }
    }
    out.flush().map_err(ExportError::Write)?;
    Ok(summary)
}
