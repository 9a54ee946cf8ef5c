//! Backups the daemon takes by itself on a schedule, and the check of a
//! backup file without restoring it (`ctl backup --verify`).
//!
//! The one thing to know: a scheduled backup is an ordinary online backup
//! (`store::backup::write`: written beside its name and renamed, so a file
//! named `bailiwick-<UTC time>.redb` is always whole). Old ones are pruned
//! only after a new one succeeded, so a failing disk never leaves fewer
//! backups than `keep`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use crate::audit::ActivityLog;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::store::backup::{BackupError, Summary};

/// Names of scheduled backups: `bailiwick-20261204T230501Z.redb`.
const PREFIX: &str = "bailiwick-";
const SUFFIX: &str = ".redb";
/// After a failure, the next try comes this soon (or at the next
/// scheduled time, if sooner).
const RETRY: Duration = Duration::from_secs(600);

/// What `verify` found in a good backup.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verified {
    pub records: u64,
    pub bytes: u64,
    /// Activity log segments in it, and the entries they hold.
    pub segments: u64,
    pub activity_entries: u64,
}

/// Checks `file` as `restore` would (integrity, bailiwick's tables, only
/// activity segments beside them) and then the activity log it carries
/// (checksums, sequence, hash chain), in a scratch directory under the
/// system's temporary directory. `file` itself is only read.
pub fn verify(file: &Path) -> Result<Verified, BackupError> {
    let scratch = std::env::temp_dir().join(format!("bailiwick-verify-{}", crate::ids::new_id()));
    let result = (|| {
        let summary = crate::store::backup::restore(file, &scratch)?;
        let activity = scratch.join(crate::audit::DIR);
        let report =
            crate::audit::verify::verify(&activity).map_err(|e| BackupError::BadBackup {
                path: file.to_owned(),
                detail: e.to_string(),
            })?;
        if let Some(p) = report.problems.first() {
            let name = p
                .file
                .strip_prefix(&scratch)
                .unwrap_or(&p.file)
                .display()
                .to_string();
            return Err(BackupError::BadBackup {
                path: file.to_owned(),
                detail: format!(
                    "its activity log is damaged ({} problem(s)); first: {name} at byte {}: {}",
                    report.problems.len(),
                    p.offset,
                    p.what
                ),
            });
        }
        Ok(Verified {
            records: summary.rows,
            bytes: std::fs::metadata(file).map(|m| m.len()).unwrap_or(0),
            segments: summary.files,
            activity_entries: report.records,
        })
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// The schedule's settings, resolved.
pub struct Schedule {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

/// Takes a backup every `every` (counted from the newest one in `dir`, so a
/// restart neither skips one nor takes one early), keeps the newest `keep`.
pub async fn run(schedule: Schedule, store: Store, log: Arc<ActivityLog>, metrics: Arc<Metrics>) {
    let Schedule { dir, every, keep } = schedule;
    let mut failed_at: Option<SystemTime> = None;
    loop {
        let newest = newest(&dir);
        let mut due = newest.map_or(SystemTime::UNIX_EPOCH, |t| t + every);
        if let Some(f) = failed_at {
            due = due.max(f + RETRY.min(every));
        }
        if let Ok(wait) = due.duration_since(SystemTime::now()) {
            tokio::time::sleep(wait).await;
        }
        let (d, s, l) = (dir.clone(), store.clone(), log.clone());
        let taken = tokio::task::spawn_blocking(move || take(&d, &s, &l)).await;
        let error = match taken {
            Ok(Ok((path, summary))) => {
                failed_at = None;
                metrics.backups_taken.fetch_add(1, Ordering::Relaxed);
                metrics.backup_last_success.store(
                    SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs()),
                    Ordering::Relaxed,
                );
                tracing::info!(file = %path.display(), bytes = summary.bytes, records = summary.rows, "scheduled backup written");
                prune(&dir, keep);
                continue;
            }
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        failed_at = Some(SystemTime::now());
        metrics.backups_failed.fetch_add(1, Ordering::Relaxed);
        tracing::error!(dir = %dir.display(), error = %error, retry_in_s = RETRY.min(every).as_secs(), "scheduled backup failed; older backups are kept");
    }
}

fn take(dir: &Path, store: &Store, log: &ActivityLog) -> Result<(PathBuf, Summary), BackupError> {
    crate::fsutil::create_private_dir(dir).map_err(|e| BackupError::Failed {
        path: dir.to_owned(),
        detail: e.to_string(),
    })?;
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let path = dir.join(format!("{PREFIX}{stamp}{SUFFIX}"));
    let summary = store.backup_with(&path, &|up_to| log.backup_cuts(up_to))?;
    Ok((path, summary))
}

/// The time in a scheduled backup's name (`suffix`: `.redb`, or `.partial`
/// for one cut short).
fn stamp_with(name: &str, suffix: &str) -> Option<SystemTime> {
    let s = name.strip_prefix(PREFIX)?.strip_suffix(suffix)?;
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let t = time::PrimitiveDateTime::parse(s, &format)
        .ok()?
        .assume_utc();
    let secs = u64::try_from(t.unix_timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Scheduled backups in `dir`, oldest first (their names sort by time).
fn scheduled(dir: &Path) -> Vec<(String, SystemTime)> {
    scheduled_with(dir, SUFFIX)
}

fn scheduled_with(dir: &Path, suffix: &str) -> Vec<(String, SystemTime)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(String, SystemTime)> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| stamp_with(&n, suffix).map(|t| (n, t)))
        .collect();
    out.sort();
    out
}

fn newest(dir: &Path) -> Option<SystemTime> {
    scheduled(dir).last().map(|(_, t)| *t)
}

/// Deletes all but the newest `keep` scheduled backups, and what a backup
/// cut short by a crash left (`bailiwick-<time>.partial`). Files of other
/// names (an operator's own copies) are never touched.
fn prune(dir: &Path, keep: usize) {
    // Runs only between backups (one task takes them), so no `.partial` is
    // being written now.
    for (name, _) in scheduled_with(dir, ".partial") {
        let _ = std::fs::remove_file(dir.join(name));
    }
    let all = scheduled(dir);
    let surplus = all.len().saturating_sub(keep);
    for (name, _) in &all[..surplus] {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::info!(file = %path.display(), "old scheduled backup deleted"),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot delete an old scheduled backup")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_others_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "bailiwick-20261204T230501Z.redb",
            "bailiwick-20261203T230501Z.redb",
            "bailiwick-20261205T000000Z.redb",
            "my-copy.redb",
            "bailiwick-latest.redb",
            "bailiwick-20261204T230000Z.partial",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let t = newest(dir.path()).unwrap();
        assert_eq!(
            stamp_with("bailiwick-20261205T000000Z.redb", SUFFIX),
            Some(t)
        );
        prune(dir.path(), 1);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "bailiwick-20261205T000000Z.redb",
                "bailiwick-latest.redb",
                "my-copy.redb"
            ]
        );
    }
}
