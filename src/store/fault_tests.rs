//! The disk fails under the store: an `fsync` of the database reports EIO.
//!
//! The lesson of PostgreSQL's "fsyncgate": after a failed fsync the kernel
//! may have dropped the unwritten pages, so retrying the fsync and taking
//! its success as durability loses data. The store must answer the failed
//! write with an error, refuse every write after it (redb latches the
//! failure), say so on `/readyz`, keep serving reads, and after a restart
//! hold every write acknowledged before the fault.

use std::sync::Arc;

use super::faults::Faults;
use super::{CommitError, Options, Store, WriteError};
use crate::domain::bootstrap::{Bootstrap, initialise};
use crate::domain::testkit::actor_of;
use crate::domain::units::{NewUnit, create_unit};
use crate::domain::{Actor, State, UserStatus};

/// The store in `dir`, created if new, over a disk that fails as `faults` say.
pub(crate) fn open(dir: &std::path::Path, faults: Option<Arc<Faults>>) -> Store {
    let opts = Options {
        create: true,
        faults,
        ..Options::default()
    };
    Store::open(dir, &opts, Arc::new(crate::clock::SystemClock)).unwrap()
}

/// The default subscription, its Manager `boss` (id `m1`) already active.
pub(crate) fn initialise_with_active_manager(store: &Store) {
    store
        .write_blocking(Actor::operator(), |tx| {
            initialise(tx, &Bootstrap::default_subscription("boss"), "m1".into())?;
            let mut boss = tx.state().users["m1"].clone();
            boss.status = UserStatus::Active;
            tx.put_user(boss);
            Ok(())
        })
        .unwrap();
}

fn unit(store: &Store, name: &str) -> Result<(), WriteError> {
    let m1 = actor_of(&store.snapshot(), "m1");
    let (id, name) = (format!("bu-{name}"), name.to_owned());
    store
        .write_blocking(m1, move |tx| {
            create_unit(
                tx,
                id,
                NewUnit {
                    name,
                    new_ip_limit: None,
                },
            )
        })
        .map(drop)
}

fn has_unit(s: &State, name: &str) -> bool {
    s.units.values().any(|u| u.name == name)
}

#[test]
fn r13_a_failed_fsync_refuses_writes_until_restart_and_keeps_every_acknowledged_one() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Arc::new(Faults::default());
    let store = open(dir.path(), Some(faults.clone()));
    initialise_with_active_manager(&store);
    unit(&store, "EU").unwrap();
    let backlog = store.activity_backlog();
    assert!(store.ready());

    faults.failing_syncs(true);
    let r = unit(&store, "US");
    assert!(
        matches!(r, Err(WriteError::Unavailable(CommitError::Unconfirmed(_)))),
        "{r:?}"
    );
    assert!(!store.ready(), "/readyz turns 503");
    let s = store.snapshot();
    assert!(has_unit(&s, "EU"), "reads keep working");
    assert!(!has_unit(&s, "US"), "nothing unacknowledged is shown");
    assert_eq!(store.activity_backlog(), backlog);

    // The disk works again, but what the failed fsync covered is unknown:
    // nothing is acknowledged until the database is opened anew.
    faults.failing_syncs(false);
    let r = unit(&store, "APAC");
    assert!(
        matches!(r, Err(WriteError::Unavailable(CommitError::Storage(_)))),
        "refused before anything is written: {r:?}"
    );
    assert!(!store.ready());
    store.close();
    drop((s, store));

    let store = open(dir.path(), None);
    let s = store.snapshot();
    assert!(has_unit(&s, "EU"), "the acknowledged write survived");
    assert!(!has_unit(&s, "APAC"));
    assert!(store.ready());
    unit(&store, "APAC").unwrap();
    assert!(has_unit(&store.snapshot(), "APAC"));
    store.close();
}
