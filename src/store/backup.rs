//! Online backup and offline restore.
//!
//! A backup is itself a redb file with bailiwick's tables, copied from one
//! read transaction: a consistent snapshot taken while writes go on (redb
//! readers see the last commit and never block the writer). redb's checksums
//! then guard the copy as they guard the live file.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable};

use super::records::*;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path} already exists; choose a new file name")]
    Exists { path: PathBuf },
    #[error("{path}: {detail}")]
    Failed { path: PathBuf, detail: String },
    #[error("{path} is not a usable bailiwick backup: {detail}")]
    BadBackup { path: PathBuf, detail: String },
    #[error("{path} already holds a database; move it away first, then restore")]
    Occupied { path: PathBuf },
}

/// Copies every table of `db` into a new file `out` (written beside it and
/// renamed into place, so a crash never leaves a half backup under its name).
pub fn write(db: &Database, out: &Path) -> Result<Summary, BackupError> {
    if out.exists() {
        return Err(BackupError::Exists {
            path: out.to_owned(),
        });
    }
    let fail = |detail: String| BackupError::Failed {
        path: out.to_owned(),
        detail,
    };
    let tmp = out.with_extension("partial");
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let read = db.begin_read().map_err(|e| e.to_string())?;
        let copy = Database::create(&tmp).map_err(|e| e.to_string())?;
        let txn = copy.begin_write().map_err(|e| e.to_string())?;
        let mut rows = 0u64;
        for def in KEYED_TABLES {
            let Ok(src) = read.open_table(def) else {
                continue;
            };
            let mut dst = txn.open_table(def).map_err(|e| e.to_string())?;
            for row in src.iter().map_err(|e| e.to_string())? {
                let (k, v) = row.map_err(|e| e.to_string())?;
                dst.insert(k.value(), v.value())
                    .map_err(|e| e.to_string())?;
                rows += 1;
            }
        }
        // The outboxes too: a restored appliance still owes its log entries
        // and its mail, with their delivery state.
        let sequenced = [
            ACTIVITY_OUTBOX,
            MAIL_OUTBOX,
            super::mail::MAIL_DELIVERY,
            super::mail::MAIL_FAILED,
        ];
        for def in sequenced {
            let Ok(src) = read.open_table(def) else {
                continue;
            };
            let mut dst = txn.open_table(def).map_err(|e| e.to_string())?;
            for row in src.iter().map_err(|e| e.to_string())? {
                let (k, v) = row.map_err(|e| e.to_string())?;
                dst.insert(k.value(), v.value())
                    .map_err(|e| e.to_string())?;
                rows += 1;
            }
        }
        txn.commit().map_err(|e| e.to_string())?;
        drop(copy);
        Ok::<u64, String>(rows)
    })();
    let rows = match result {
        Ok(rows) => rows,
        Err(detail) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(fail(detail));
        }
    };
    crate::fsutil::set_mode(&tmp, 0o600).map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, out).map_err(|e| fail(e.to_string()))?;
    if let Some(dir) = out.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        crate::fsutil::sync_dir(dir).map_err(|e| fail(e.to_string()))?;
    }
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    Ok(Summary { rows, bytes })
}

/// Checks `from` and installs it as `<data_dir>/bailiwick.redb`. The daemon
/// must be stopped; an existing database is never overwritten.
pub fn restore(from: &Path, data_dir: &Path) -> Result<Summary, BackupError> {
    let target = data_dir.join(super::DB_FILE);
    if target.exists() {
        return Err(BackupError::Occupied { path: target });
    }
    let bad = |detail: String| BackupError::BadBackup {
        path: from.to_owned(),
        detail,
    };
    crate::fsutil::create_private_dir(data_dir).map_err(|e| BackupError::Failed {
        path: data_dir.to_owned(),
        detail: e.to_string(),
    })?;
    let staging = data_dir.join("bailiwick.redb.restoring");
    let _ = std::fs::remove_file(&staging);
    std::fs::copy(from, &staging).map_err(|e| bad(e.to_string()))?;
    let checked = (|| {
        let mut db = std::panic::catch_unwind(|| Database::open(&staging))
            .map_err(|_| "the file's structure is inconsistent".to_string())?
            .map_err(|e| e.to_string())?;
        if !db.check_integrity().map_err(|e| e.to_string())? {
            return Err("integrity check failed".to_string());
        }
        let read = db.begin_read().map_err(|e| e.to_string())?;
        let meta = read
            .open_table(META)
            .map_err(|_| "no bailiwick tables".to_string())?;
        if meta
            .get(KEY_APPLICATION)
            .map_err(|e| e.to_string())?
            .map(|v| v.value().to_vec())
            != Some(APPLICATION.to_vec())
        {
            return Err("not written by bailiwick".into());
        }
        let mut rows = 0;
        for def in KEYED_TABLES {
            if let Ok(t) = read.open_table(def) {
                rows += redb::ReadableTableMetadata::len(&t).map_err(|e| e.to_string())?;
            }
        }
        Ok(rows)
    })();
    let rows = match checked {
        Ok(rows) => rows,
        Err(detail) => {
            let _ = std::fs::remove_file(&staging);
            return Err(bad(detail));
        }
    };
    let fail = |e: std::io::Error| BackupError::Failed {
        path: target.clone(),
        detail: e.to_string(),
    };
    crate::fsutil::set_mode(&staging, 0o600).map_err(fail)?;
    std::fs::rename(&staging, &target).map_err(fail)?;
    crate::fsutil::sync_dir(data_dir).map_err(fail)?;
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(Summary { rows, bytes })
}
