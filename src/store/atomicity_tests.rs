//! R7.6 through the real store: a move or delete whose commit fails, or
//! whose command panics half way, leaves the database, the published state,
//! the activity log outbox, the mail outbox and the permission index as
//! they were; the same workflow without the fault changes all of them.

use std::net::IpAddr;
use std::sync::Arc;

use super::{Options, Store, WriteError};
use crate::authz::{Action, Authz, Resource};
use crate::domain::deletion::{Delete, delete_user};
use crate::domain::moving::{Move, move_user};
use crate::domain::testkit::{World, actor_of};
use crate::domain::{AssetSet, Assignee, ObjectKind, Role, State, UnitAssets, ipset::IpSet};

fn open(dir: &std::path::Path) -> Store {
    let opts = Options {
        create: true,
        ..Default::default()
    };
    Store::open(dir, &opts, Arc::new(crate::clock::SystemClock)).unwrap()
}

/// EU and US; sam, a Scanner of EU, holds the Unit Manager's "California"
/// (10.1.1.0/24), owns a schedule and a scan result, and is assigned a
/// ticket on 10.1.1.5.
fn seed() -> (World, String, String) {
    let mut w = World::new();
    w.state.assets.ips = IpSet::parse_list("ips", &["10.0.0.0/8"]).unwrap();
    let eu = w.unit("EU");
    let us = w.unit("US");
    w.state.unit_assets.insert(
        eu.clone(),
        UnitAssets {
            assets: AssetSet {
                ips: IpSet::parse_list("ips", &["10.1.0.0/16"]).unwrap(),
                ..AssetSet::default()
            },
            new_ips_added: 0,
        },
    );
    let jane = w.user("jane", Role::UnitManager, Some(&eu));
    let sam = w.user("sam", Role::Scanner, Some(&eu));
    let g = w.group(
        "California",
        &[&eu],
        &jane,
        Role::UnitManager,
        &["10.1.1.0/24"],
    );
    w.assign(&sam, &[&g]);
    w.object(ObjectKind::ScheduledScan, &sam, &[]);
    w.object(ObjectKind::ScanResult, &sam, &[]);
    let t = w.object(ObjectKind::RemediationTicket, "m1", &["10.1.1.5"]);
    let who = sam.clone();
    w.with_object(&t, |o| o.assignee = Some(Assignee::User(who)));
    (w, sam, us)
}

/// Writes every record of `w` through the store, as the operator.
fn load(store: &Store, w: &World) {
    let s = w.state.clone();
    store
        .write_blocking(crate::domain::Actor::operator(), move |tx| {
            tx.put_subscription(s.subscription.clone().unwrap());
            tx.put_assets(s.assets.clone());
            for u in s.users.values() {
                tx.put_user(u.clone());
            }
            for u in s.units.values() {
                tx.put_unit(u.clone());
            }
            for (id, a) in &s.unit_assets {
                tx.put_unit_assets(id, a.clone());
            }
            for g in s.asset_groups.values() {
                tx.put_asset_group(g.clone());
            }
            for o in s.objects.values() {
                tx.put_object(o.clone());
            }
            Ok(())
        })
        .unwrap();
}

/// What a workflow may change, to compare.
fn picture(s: &State) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}",
        s.users, s.units, s.asset_groups, s.objects, s.distribution_groups
    )
}

fn scan(authz: &Authz, user: &str) -> bool {
    let ip: IpAddr = "10.1.1.5".parse().unwrap();
    authz.check(user, Action::Scan, &Resource::ip(ip)).allowed
}

#[test]
fn r7_6_a_failed_commit_or_a_panic_leaves_nothing_of_a_move_or_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let authz = Authz::attach(&store);
    let (w, sam, us) = seed();
    load(&store, &w);
    let before = picture(&store.snapshot());
    let activity = store.activity_backlog();
    assert!(scan(&authz, &sam));
    let m1 = actor_of(&store.snapshot(), "m1");
    let moving = |sam: String, us: String| {
        move |tx: &mut crate::domain::Tx<'_>| {
            let req = Move {
                business_unit: Some(us),
                keep_configurations: false,
                keep_asset_groups: false,
            };
            move_user(tx, &sam, req, &mut crate::ids::new_id)
        }
    };

    // 1. The commit fails after the tables were written.
    store.fail_next_commit();
    let r = store.write_blocking(m1.clone(), moving(sam.clone(), us.clone()));
    assert!(matches!(r, Err(WriteError::Unavailable(_))), "{r:?}");
    assert_eq!(picture(&store.snapshot()), before);
    assert_eq!(
        store.activity_backlog(),
        activity,
        "no entry of a change that did not commit"
    );
    assert!(scan(&authz, &sam), "the index shows none of it");

    // 2. The command panics after the delete has been applied in memory.
    let sam2 = sam.clone();
    let r = store.write_blocking(m1.clone(), move |tx| {
        delete_user(tx, &sam2, Delete::default())?;
        panic!("injected fault after the delete");
        #[allow(unreachable_code)]
        Ok(())
    });
    assert!(r.is_err());
    assert_eq!(picture(&store.snapshot()), before);
    assert!(scan(&authz, &sam));

    // Nothing reached the file either.
    store.close();
    drop(store);
    let store = open(dir.path());
    assert_eq!(picture(&store.snapshot()), before);
    assert_eq!(store.activity_backlog(), activity);
    let authz = Authz::attach(&store);

    // 3. The same move without a fault: all of it, at once.
    let moved = store
        .write_blocking(m1, moving(sam.clone(), us.clone()))
        .unwrap();
    assert!(!moved.outcomes.is_empty());
    let s = store.snapshot();
    assert_eq!(s.users[&sam].business_unit.as_ref(), Some(&us));
    assert!(s.users[&sam].asset_groups.is_empty());
    assert!(
        s.objects
            .values()
            .all(|o| o.kind != ObjectKind::ScheduledScan)
    );
    let ticket = s
        .objects
        .values()
        .find(|o| o.kind == ObjectKind::RemediationTicket)
        .unwrap();
    assert!(!ticket.valid, "R7.4: the ticket is out of sam's reach now");
    assert!(
        !scan(&authz, &sam),
        "the index shows the move as soon as it is acknowledged"
    );
    assert!(store.activity_backlog() > activity);
}
