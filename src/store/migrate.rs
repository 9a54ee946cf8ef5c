//! Schema migrations: each step takes the database from version `n` to
//! `n + 1` inside one write transaction, so a failed step leaves the file at
//! version `n`, untouched.
//!
//! To change the layout: bump [`CURRENT`], append a step to [`STEPS`], and
//! add a test that opens a database written at the old version.

use redb::{Database, ReadableTable, WriteTransaction};

use super::codec;
use super::records::{CREDENTIALS, KEY_SCHEMA, KEY_SETTINGS, KEY_SUBSCRIPTION, META, USERS};
use crate::domain::{Access, Credentials, Feature, Permission, Role, Settings, Subscription, User};

/// The schema this build writes.
pub const CURRENT: u32 = 3;

/// A step from `from` to `from + 1`.
pub struct Step {
    pub from: u32,
    pub run: fn(&WriteTransaction) -> Result<(), String>,
}

/// Steps of this build, oldest first. Version 1 is the first layout.
pub const STEPS: &[Step] = &[
    Step {
        from: 1,
        run: managers_keep_external_ids,
    },
    Step {
        from: 2,
        run: api_passwords_keep_never_expiring,
    },
];

/// 2 → 3: with feature `api_password_never_expires` every API-only
/// account's password never expired; from 3 a Manager says so account by
/// account, and a password change ends it (R8.6). So that no integration
/// is locked out by the upgrade, every API-only account of a subscription
/// with the feature keeps a password that never expires until it changes.
fn api_passwords_keep_never_expiring(txn: &WriteTransaction) -> Result<(), String> {
    let subscription: Subscription = {
        let meta = txn.open_table(META).map_err(|e| e.to_string())?;
        let v = meta.get(KEY_SUBSCRIPTION).map_err(|e| e.to_string())?;
        match v {
            Some(v) => codec::decode(v.value()).map_err(|e| format!("meta/subscription: {e}"))?,
            None => return Ok(()),
        }
    };
    if !subscription.has(Feature::ApiPasswordNeverExpires) {
        return Ok(());
    }
    let api_only: Vec<String> = {
        let users = txn.open_table(USERS).map_err(|e| e.to_string())?;
        let mut ids = Vec::new();
        for row in users.iter().map_err(|e| e.to_string())? {
            let (k, v) = row.map_err(|e| e.to_string())?;
            let user: User =
                codec::decode(v.value()).map_err(|e| format!("users/{}: {e}", k.value()))?;
            if user.access == Access::ApiOnly {
                ids.push(k.value().to_owned());
            }
        }
        ids
    };
    let mut credentials = txn.open_table(CREDENTIALS).map_err(|e| e.to_string())?;
    for id in api_only {
        let found: Option<Credentials> = credentials
            .get(id.as_str())
            .map_err(|e| e.to_string())?
            .map(|v| codec::decode(v.value()))
            .transpose()
            .map_err(|e| format!("credentials/{id}: {e}"))?;
        let Some(mut creds) = found else { continue };
        creds.password_never_expires = true;
        credentials
            .insert(id.as_str(), codec::encode(&creds).as_slice())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// 1 → 2: Managers held `manage_external_ids` implicitly while external IDs
/// were on; from 2 the subscription's primary contact grants it (R5.3). So
/// that nobody loses access silently, every Manager of a subscription with
/// external IDs on is given the grant it used to hold.
fn managers_keep_external_ids(txn: &WriteTransaction) -> Result<(), String> {
    let settings: Settings = {
        let meta = txn.open_table(META).map_err(|e| e.to_string())?;
        let v = meta.get(KEY_SETTINGS).map_err(|e| e.to_string())?;
        match v {
            Some(v) => codec::decode(v.value()).map_err(|e| format!("meta/settings: {e}"))?,
            None => return Ok(()),
        }
    };
    if !settings.security.external_ids_enabled {
        return Ok(());
    }
    let mut users = txn.open_table(USERS).map_err(|e| e.to_string())?;
    let mut managers = Vec::new();
    for row in users.iter().map_err(|e| e.to_string())? {
        let (k, v) = row.map_err(|e| e.to_string())?;
        let user: User =
            codec::decode(v.value()).map_err(|e| format!("users/{}: {e}", k.value()))?;
        if user.role == Role::Manager {
            managers.push((k.value().to_owned(), user));
        }
    }
    for (id, mut user) in managers {
        user.permissions.insert(Permission::ManageExternalIds);
        users
            .insert(id.as_str(), codec::encode(&user).as_slice())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

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

    /// R5.3, schema 1 → 2: Managers of a subscription with external IDs on
    /// keep `manage_external_ids`, now as a grant; nobody else gains it, and
    /// with external IDs off nobody does.
    #[test]
    fn schema_1_managers_keep_manage_external_ids_as_a_grant() {
        use std::sync::Arc;

        use crate::clock::SystemClock;
        use crate::domain::{Actor, permissions};
        use crate::store::{Options, Store};

        for enabled in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let opts = Options {
                create: true,
                ..Options::default()
            };
            let store = Store::open(dir.path(), &opts, Arc::new(SystemClock)).unwrap();
            store
                .write_blocking(Actor::operator(), move |tx| {
                    crate::domain::bootstrap::initialise(
                        tx,
                        &crate::domain::bootstrap::Bootstrap::default_subscription("boss"),
                        "m1".into(),
                    )?;
                    let mut settings = tx.state().settings.clone();
                    settings.security.external_ids_enabled = enabled;
                    tx.put_settings(settings);
                    let mut reader = tx.state().users["m1"].clone();
                    reader.id = "r1".into();
                    reader.login = "rita".into();
                    reader.role = Role::Reader;
                    tx.put_user(reader);
                    Ok(())
                })
                .unwrap();
            store.close();
            drop(store);
            // As a build of schema 1 left it.
            let db = Database::open(dir.path().join("bailiwick.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            write_version(&txn, 1).unwrap();
            txn.commit().unwrap();
            drop(db);

            let store =
                Store::open(dir.path(), &Options::default(), Arc::new(SystemClock)).unwrap();
            let state = store.snapshot();
            let boss = &state.users["m1"];
            assert_eq!(
                boss.permissions.contains(&Permission::ManageExternalIds),
                enabled,
                "enabled: {enabled}"
            );
            assert_eq!(
                permissions::has(&state, boss, Permission::ManageExternalIds),
                enabled
            );
            assert!(state.users["r1"].permissions.is_empty());
            store.close();
            drop((state, store));
            let db = Database::open(dir.path().join("bailiwick.redb")).unwrap();
            assert_eq!(version(&db), CURRENT);
        }
    }

    /// R8.6, schema 2 → 3: with the feature on, every API-only account
    /// keeps a password that never expires, now as its own flag; other
    /// accounts, and every account without the feature, do not gain it.
    #[test]
    fn schema_2_api_only_passwords_keep_never_expiring() {
        use std::sync::Arc;

        use crate::clock::SystemClock;
        use crate::domain::{Actor, Credentials, Feature, credentials};
        use crate::store::{Options, Store};

        for enabled in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let opts = Options {
                create: true,
                ..Options::default()
            };
            let store = Store::open(dir.path(), &opts, Arc::new(SystemClock)).unwrap();
            store
                .write_blocking(Actor::operator(), move |tx| {
                    crate::domain::bootstrap::initialise(
                        tx,
                        &crate::domain::bootstrap::Bootstrap::default_subscription("boss"),
                        "m1".into(),
                    )?;
                    if enabled {
                        let mut sub = tx.state().subscription.clone().unwrap();
                        sub.features.insert(Feature::ApiPasswordNeverExpires);
                        tx.put_subscription(sub);
                    }
                    let mut settings = tx.state().settings.clone();
                    settings.security.password_expiration_days = 1;
                    tx.put_settings(settings);
                    let mut robot = tx.state().users["m1"].clone();
                    robot.id = "r1".into();
                    robot.login = "robot".into();
                    robot.role = Role::Reader;
                    robot.access = Access::ApiOnly;
                    tx.put_user(robot);
                    tx.put_credentials(
                        &"r1".to_owned(),
                        Credentials {
                            password_hash: Some("$argon2id$x".into()),
                            password_changed_at: Some(crate::domain::Timestamp::from_unix_micros(
                                1,
                            )),
                            ..Credentials::default()
                        },
                    );
                    Ok(())
                })
                .unwrap();
            store.close();
            drop(store);
            // As a build of schema 2 left it.
            let db = Database::open(dir.path().join("bailiwick.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            write_version(&txn, 2).unwrap();
            txn.commit().unwrap();
            drop(db);

            let store =
                Store::open(dir.path(), &Options::default(), Arc::new(SystemClock)).unwrap();
            let state = store.snapshot();
            assert_eq!(
                state.credentials["r1"].password_never_expires, enabled,
                "enabled: {enabled}"
            );
            let now = crate::domain::Timestamp::from_unix_micros(i64::MAX / 2);
            assert_eq!(
                credentials::password_expired(&state, &state.users["r1"], now),
                !enabled
            );
            assert!(!state.credentials["m1"].password_never_expires);
            store.close();
            drop((state, store));
            let db = Database::open(dir.path().join("bailiwick.redb")).unwrap();
            assert_eq!(version(&db), CURRENT);
        }
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

    /// A migration cut between its steps (a crash, a power cut) resumes at
    /// the next start from the step it reached: the finished step is not
    /// run again, and the rest completes.
    #[test]
    fn a_migration_cut_between_steps_resumes_where_it_stopped() {
        fn crash(_: &WriteTransaction) -> Result<(), String> {
            panic!("power cut during the second step");
        }
        fn mark(txn: &WriteTransaction) -> Result<(), String> {
            let mut names = txn.open_table(NAMES).map_err(|e| e.to_string())?;
            let jane = names
                .get("u1")
                .map_err(|e| e.to_string())?
                .map(|v| v.value().to_vec())
                .ok_or("u1 is gone")?;
            names
                .insert("u1", [jane.as_slice(), b"!"].concat().as_slice())
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = old_db(&path);
        let cut = [
            Step {
                from: 1,
                run: v1_to_v2,
            },
            Step {
                from: 2,
                run: crash,
            },
        ];
        let crashed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&db, 1, 3, &cut)));
        assert!(crashed.is_err());
        drop(db);

        let db = Database::open(&path).unwrap();
        assert_eq!(version(&db), 2, "the finished step stays done");
        let steps = [
            Step {
                from: 1,
                run: v1_to_v2,
            },
            Step { from: 2, run: mark },
        ];
        assert_eq!(run(&db, version(&db), 3, &steps).unwrap(), 3);
        let txn = db.begin_write().unwrap();
        let names = txn.open_table(NAMES).unwrap();
        assert_eq!(names.get("u1").unwrap().unwrap().value(), b"Jane!");
    }
}
