//! Schema migrations: each step takes the database from version `n` to
//! `n + 1` inside one write transaction, so a failed step leaves the file at
//! version `n`, untouched.
//!
//! To change the layout: bump [`CURRENT`], append a step to [`STEPS`], and
//! add a test that opens a database written at the old version.

use redb::{Database, ReadableTable, WriteTransaction};

use super::records::{KEY_SCHEMA, META};

/// The schema this build writes.
pub const CURRENT: u32 = 1;

/// A step from `from` to `from + 1`.
pub struct Step {
    pub from: u32,
    pub run: fn(&WriteTransaction) -> Result<(), String>,
}

/// Steps of this build, oldest first. Version 1 is the first layout.
pub const STEPS: &[Step] = &[];

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("no migration from schema {0}")]
    Missing(u32),
    #[error("migration from schema {from} failed: {detail}")]
    Step { from: u32, detail: String },
}

pub fn read_version(txn: &WriteTransaction) -> Result<Option<u32>, String> {
    let meta = txn.open_table(META).map_err(|e| e.to_string())?;
    let v = meta.get(KEY_SCHEMA).map_err(|e| e.to_string())?;
    Ok(v.and_then(|v| v.value().try_into().ok().map(u32::from_le_bytes)))
}

pub fn write_version(txn: &WriteTransaction, v: u32) -> Result<(), String> {
    let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
    meta.insert(KEY_SCHEMA, v.to_le_bytes().as_slice())
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Runs `steps` from version `found` up to `target`, one durable transaction each.
pub fn run(db: &Database, found: u32, target: u32, steps: &[Step]) -> Result<u32, MigrateError> {
    let mut version = found;
    while version < target {
        let step = steps
            .iter()
            .find(|s| s.from == version)
            .ok_or(MigrateError::Missing(version))?;
        let fail = |detail: String| MigrateError::Step {
            from: version,
            detail,
        };
        let txn = db.begin_write().map_err(|e| fail(e.to_string()))?;
        (step.run)(&txn).map_err(fail)?;
        write_version(&txn, version + 1).map_err(fail)?;
        txn.commit().map_err(|e| fail(e.to_string()))?;
        tracing::info!(from = version, to = version + 1, "migrated database schema");
        version += 1;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::TableDefinition;

    const OLD_NAMES: TableDefinition<&str, &str> = TableDefinition::new("old_names");
    const NAMES: TableDefinition<&str, &[u8]> = TableDefinition::new("names");

    /// A database as an older build left it: schema 1, names stored as text.
    fn old_db(path: &std::path::Path) -> Database {
        let db = Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        write_version(&txn, 1).unwrap();
        txn.open_table(OLD_NAMES)
            .unwrap()
            .insert("u1", "Jane")
            .unwrap();
        txn.commit().unwrap();
        db
    }

    fn v1_to_v2(txn: &WriteTransaction) -> Result<(), String> {
        let old = txn.open_table(OLD_NAMES).map_err(|e| e.to_string())?;
        let mut new = txn.open_table(NAMES).map_err(|e| e.to_string())?;
        for row in old.iter().map_err(|e| e.to_string())? {
            let (k, v) = row.map_err(|e| e.to_string())?;
            new.insert(k.value(), v.value().as_bytes())
                .map_err(|e| e.to_string())?;
        }
        drop(old);
        txn.delete_table(OLD_NAMES).map_err(|e| e.to_string())?;
        Ok(())
    }

    fn broken(_: &WriteTransaction) -> Result<(), String> {
        Err("disk said no".into())
    }

    fn version(db: &Database) -> u32 {
        let txn = db.begin_write().unwrap();
        let v = read_version(&txn).unwrap().unwrap();
        txn.abort().unwrap();
        v
    }

    #[test]
    fn opens_a_database_written_by_an_older_version() {
        let dir = tempfile::tempdir().unwrap();
        let db = old_db(&dir.path().join("db"));
        let steps = [Step {
            from: 1,
            run: v1_to_v2,
        }];
        assert_eq!(run(&db, 1, 2, &steps).unwrap(), 2);
        assert_eq!(version(&db), 2);
        let txn = db.begin_write().unwrap();
        let names = txn.open_table(NAMES).unwrap();
        assert_eq!(names.get("u1").unwrap().unwrap().value(), b"Jane");
    }

    #[test]
    fn failed_step_leaves_the_old_version_and_data() {
        let dir = tempfile::tempdir().unwrap();
        let db = old_db(&dir.path().join("db"));
        let steps = [
            Step {
                from: 1,
                run: v1_to_v2,
            },
            Step {
                from: 2,
                run: broken,
            },
        ];
        let err = run(&db, 1, 3, &steps).unwrap_err();
        assert!(matches!(err, MigrateError::Step { from: 2, .. }), "{err}");
        // The first step committed on its own; the second left nothing behind.
        assert_eq!(version(&db), 2);
        assert!(matches!(run(&db, 2, 3, &[]), Err(MigrateError::Missing(2))));
    }
}
