//! Online backup and offline restore.
//!
//! A backup is itself a redb file with bailiwick's tables, copied from one
//! read transaction: a consistent snapshot taken while writes go on (redb
//! readers see the last commit and never block the writer). redb's checksums
//! then guard the copy as they guard the live file.
//!
//! Files kept outside the database (the activity log's segments) travel in
//! the same file, in the table `backup_files`, cut at the last activity entry
//! the copied transaction committed: the log in a backup never runs ahead of
//! its database, and entries still in the copied outbox are replayed (by
//! sequence number, idempotently) after a restore.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable};

use super::records::*;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub rows: u64,
    pub bytes: u64,
    /// Files from outside the database (activity segments).
    #[serde(default)]
    pub files: u64,
}

/// Files outside the database, by their path relative to the data directory.
pub const BACKUP_FILES: redb::TableDefinition<&str, &[u8]> =
    redb::TableDefinition::new("backup_files");

/// A file to include: the first `len` bytes of `path`, restored as `name`
/// (relative to the data directory).
#[derive(Debug, Clone)]
pub struct FileCut {
    pub name: String,
    pub path: PathBuf,
    pub len: u64,
}

/// Given the last activity sequence number of the copied transaction, the
/// files to include.
pub type FilesUpTo<'a> = &'a (dyn Fn(u64) -> Result<Vec<FileCut>, String> + Sync);

/// Only activity segments are restored from `backup_files`: a name is
/// `activity/<20 digits>.seg`, nothing that could climb out of the data
/// directory.
fn restorable(name: &str) -> bool {
    name.strip_prefix("activity/")
        .and_then(|n| n.strip_suffix(".seg"))
        .is_some_and(|d| d.len() == 20 && d.bytes().all(|b| b.is_ascii_digit()))
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
pub fn write(db: &Database, out: &Path, files: FilesUpTo<'_>) -> Result<Summary, BackupError> {
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
        let mut copied_files = 0u64;
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
        // and its mail, with their delivery state (mail without its
        // one-time link tokens, see `mail::copy_for_backup`).
        if let Ok(src) = read.open_table(ACTIVITY_OUTBOX) {
            let mut dst = txn.open_table(ACTIVITY_OUTBOX).map_err(|e| e.to_string())?;
            for row in src.iter().map_err(|e| e.to_string())? {
                let (k, v) = row.map_err(|e| e.to_string())?;
                dst.insert(k.value(), v.value())
                    .map_err(|e| e.to_string())?;
                rows += 1;
            }
        }
        rows += super::mail::copy_for_backup(&read, &txn)?;
        let up_to = read
            .open_table(META)
            .ok()
            .and_then(|m| m.get(KEY_ACTIVITY_SEQ).ok().flatten())
            .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
            .unwrap_or(0);
        {
            let mut dst = txn.open_table(BACKUP_FILES).map_err(|e| e.to_string())?;
            for cut in files(up_to)? {
                let bytes = read_prefix(&cut.path, cut.len)
                    .map_err(|e| format!("{}: {e}", cut.path.display()))?;
                dst.insert(cut.name.as_str(), bytes.as_slice())
                    .map_err(|e| e.to_string())?;
                copied_files += 1;
            }
        }
        txn.commit().map_err(|e| e.to_string())?;
        drop(copy);
        Ok::<(u64, u64), String>((rows, copied_files))
    })();
    let (rows, files) = match result {
        Ok(done) => done,
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
    Ok(Summary { rows, bytes, files })
}

fn read_prefix(path: &Path, len: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::with_capacity(len as usize);
    std::fs::File::open(path)?.take(len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "shorter than its durable records",
        ));
    }
    Ok(buf)
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
    // The segments go under `activity/`; a link there would send them
    // wherever it points.
    let activity = data_dir.join(crate::audit::DIR);
    if std::fs::symlink_metadata(&activity).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(BackupError::Failed {
            path: activity,
            detail: "is a symbolic link; restore into a data directory whose activity/ is a \
                     real directory (or absent)"
                .into(),
        });
    }
    let staging = data_dir.join("bailiwick.redb.restoring");
    // Removes a leftover (or a planted link itself, never what it points to).
    let _ = std::fs::remove_file(&staging);
    let copied = (|| -> std::io::Result<()> {
        let mut src = std::fs::File::open(from)?;
        let mut dst = crate::fsutil::create_private_file(&staging)?;
        std::io::copy(&mut src, &mut dst)?;
        dst.sync_all()
    })();
    copied.map_err(|e| bad(e.to_string()))?;
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
        let mut files = Vec::new();
        if let Ok(t) = read.open_table(BACKUP_FILES) {
            for row in t.iter().map_err(|e| e.to_string())? {
                let (k, v) = row.map_err(|e| e.to_string())?;
                let name = k.value().to_owned();
                if !restorable(&name) {
                    return Err(format!(
                        "it holds a file {name:?} that is not an activity segment"
                    ));
                }
                if data_dir.join(&name).exists() {
                    return Err(format!(
                        "{} already exists; restore into an empty data directory",
                        data_dir.join(&name).display()
                    ));
                }
                files.push((name, v.value().to_vec()));
            }
        }
        drop(read);
        // The files leave the database: the restored one holds state only.
        let txn = db.begin_write().map_err(|e| e.to_string())?;
        txn.delete_table(BACKUP_FILES).map_err(|e| e.to_string())?;
        txn.commit().map_err(|e| e.to_string())?;
        drop(db);
        Ok((rows, files))
    })();
    let (rows, files) = match checked {
        Ok(done) => done,
        Err(detail) => {
            let _ = std::fs::remove_file(&staging);
            return Err(bad(detail));
        }
    };
    let fail = |e: std::io::Error| BackupError::Failed {
        path: target.clone(),
        detail: e.to_string(),
    };
    // Segments first, the database last: an interrupted restore leaves no
    // database, so it is run again, not started half-restored.
    for (name, bytes) in &files {
        let path = data_dir.join(name);
        let write = || -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                crate::fsutil::create_private_dir(dir)?;
            }
            let mut f = crate::fsutil::create_private_file(&path)?;
            std::io::Write::write_all(&mut f, bytes)?;
            f.sync_all()?;
            if let Some(dir) = path.parent() {
                crate::fsutil::sync_dir(dir)?;
            }
            Ok(())
        };
        write().map_err(|e| BackupError::Failed {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    }
    std::fs::rename(&staging, &target).map_err(fail)?;
    crate::fsutil::sync_dir(data_dir).map_err(fail)?;
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(Summary {
        rows,
        bytes,
        files: files.len() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Options, Store};

    /// A backup holding one activity segment.
    fn backup_with_a_segment(dir: &Path) -> PathBuf {
        let options = Options {
            create: true,
            ..Default::default()
        };
        let live = dir.join("live");
        std::fs::create_dir(&live).unwrap();
        let store = Store::open(
            &live,
            &options,
            std::sync::Arc::new(crate::clock::SystemClock),
        )
        .unwrap();
        let seg = dir.join("seg");
        std::fs::write(&seg, b"segment bytes").unwrap();
        let out = dir.join("backup.redb");
        let files = |_| {
            Ok(vec![FileCut {
                name: "activity/00000000000000000001.seg".into(),
                path: seg.clone(),
                len: 13,
            }])
        };
        store.backup_with(&out, &files).unwrap();
        store.close();
        out
    }

    /// Issue item 13: `restore` followed symlinks in the target directory.
    #[test]
    fn restore_refuses_a_symlinked_activity_dir_and_writes_nothing_there() {
        let dir = tempfile::tempdir().unwrap();
        let out = backup_with_a_segment(dir.path());
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::os::unix::fs::symlink(&elsewhere, data.join("activity")).unwrap();
        let err = restore(&out, &data).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        assert!(!data.join(crate::store::DB_FILE).exists());
    }

    #[test]
    fn restore_does_not_follow_a_symlink_planted_at_a_segment_path() {
        let dir = tempfile::tempdir().unwrap();
        let out = backup_with_a_segment(dir.path());
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("activity")).unwrap();
        let victim = dir.path().join("victim");
        // Dangling: it does not "exist", so only the open itself can refuse it.
        std::os::unix::fs::symlink(&victim, data.join("activity/00000000000000000001.seg"))
            .unwrap();
        assert!(restore(&out, &data).is_err());
        assert!(!victim.exists(), "the restore wrote through the link");
        assert!(!data.join(crate::store::DB_FILE).exists());
    }

    #[test]
    fn restore_creates_its_files_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let out = backup_with_a_segment(dir.path());
        let data = dir.path().join("data");
        restore(&out, &data).unwrap();
        for f in [
            data.join(crate::store::DB_FILE),
            data.join("activity/00000000000000000001.seg"),
        ] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
}
