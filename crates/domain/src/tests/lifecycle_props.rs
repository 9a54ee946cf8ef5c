//! Property test of R7.4–R7.6 and R9.2: random moves, deletes,
//! deactivations, group and ticket changes by random actors over a
//! subscription full of owned objects. After every command, accepted or
//! refused, nothing is owned by or assigned to a deleted user, every
//! ticket's validity matches its assignee's reach, every user holds only
//! groups of its unit (R6.3), titles stay unique per unit, and the
//! invariants of the people rules hold (`props::check`). `World` checks
//! that a refusal changes nothing and writes no entry.

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::deletion::{Delete, delete_user};
use crate::lifecycle::{deactivate, reactivate};
use crate::moving::{Move, move_user};
use crate::objects::{ObjectPatch, ReachCache, edit_object, ticket_valid};
use crate::reach::assignable;
use crate::testkit::World;
use crate::users::{UserPatch, edit_user};
use crate::{AssetSet, Assignee, Id, ObjectKind, Role, State, UnitAssets, ipset::IpSet};

fn ips(list: &[&str]) -> IpSet {
    IpSet::parse_list("ips", list).unwrap()
}

/// Three units with their nets; per unit a Unit Manager owning a group,
/// a Manager's group, Scanners, a Reader and a Remediation user holding
/// them; Unassigned Scanners; objects of every kind; tickets everywhere.
fn world() -> World {
    let mut w = World::new();
    w.user("m2", Role::Manager, None);
    w.state.assets.ips = ips(&["10.0.0.0/8"]);
    let core = w.group("Core", &[], "m1", Role::Manager, &["10.9.0.0/24"]);
    for (n, name) in ["EU", "US", "AS"].iter().enumerate() {
        let n = n + 1;
        let unit = w.unit(name);
        w.state.unit_assets.insert(
            unit.clone(),
            UnitAssets {
                assets: AssetSet {
                    ips: ips(&[&format!("10.{n}.0.0/24")]),
                    ..AssetSet::default()
                },
                new_ips_added: 0,
            },
        );
        let um = w.user(&format!("um{n}"), Role::UnitManager, Some(&unit));
        let um_group = w.group(
            "California",
            &[&unit],
            &um,
            Role::UnitManager,
            &[&format!("10.{n}.1.0/24")],
        );
        let m_group = w.group(
            &format!("Servers {name}"),
            &[&unit],
            "m1",
            Role::Manager,
            &[&format!("10.{n}.2.0/24")],
        );
        w.assign(&um, &[&um_group]);
        for (login, role) in [
            (format!("s{n}a"), Role::Scanner),
            (format!("s{n}b"), Role::Scanner),
            (format!("r{n}"), Role::Reader),
            (format!("rem{n}"), Role::RemediationUser),
        ] {
            let u = w.user(&login, role, Some(&unit));
            w.assign(&u, &[&um_group, &m_group]);
        }
    }
    for login in ["free1", "free2"] {
        let u = w.user(login, Role::Scanner, None);
        w.assign(&u, &[&core]);
    }
    let owners: Vec<(Id, Role)> = w
        .state
        .users
        .values()
        .map(|u| (u.id.clone(), u.role))
        .collect();
    for (i, (id, role)) in owners.iter().enumerate() {
        let kinds: &[ObjectKind] = match role {
            Role::Manager | Role::UnitManager => &[
                ObjectKind::ReportTemplate,
                ObjectKind::OptionProfile,
                ObjectKind::ScheduledScan,
                ObjectKind::AuthRecord,
                ObjectKind::RemediationPolicy,
            ],
            Role::Scanner => &[
                ObjectKind::ScheduledScan,
                ObjectKind::SearchList,
                ObjectKind::ScanResult,
                ObjectKind::MapResult,
            ],
            Role::Reader => &[ObjectKind::ScheduledReport],
            _ => &[],
        };
        for &k in kinds {
            let o = w.object(k, id, &[]);
            if k == ObjectKind::OptionProfile && i % 2 == 0 {
                w.with_object(&o, |o| o.global = true);
            }
            if k == ObjectKind::RemediationPolicy {
                let a = owners[(i * 7) % owners.len()].0.clone();
                w.with_object(&o, |o| o.assignee = Some(Assignee::User(a)));
            }
        }
        // A ticket on an asset of each unit, assigned to this user.
        if matches!(
            role,
            Role::Scanner | Role::RemediationUser | Role::UnitManager
        ) {
            for n in 1..=3 {
                let t = w.object(
                    ObjectKind::RemediationTicket,
                    "m1",
                    &[&format!("10.{n}.{}.5", i % 3)],
                );
                let a = id.clone();
                w.with_object(&t, |o| o.assignee = Some(Assignee::User(a)));
            }
        }
    }
    let mut reach = ReachCache::default();
    let fixed: Vec<(Id, bool)> = w
        .state
        .objects
        .values()
        .filter(|o| o.kind == ObjectKind::RemediationTicket)
        .map(|o| (o.id.clone(), ticket_valid(&w.state, o, &mut reach)))
        .collect();
    for (id, valid) in fixed {
        w.with_object(&id, |o| o.valid = valid);
    }
    w
}

#[derive(Debug, Clone)]
enum Cmd {
    Move {
        actor: usize,
        user: usize,
        unit: Option<usize>,
        configs: bool,
        groups: bool,
    },
    Delete {
        actor: usize,
        user: usize,
        transfer: Option<usize>,
        keep: bool,
    },
    Deactivate {
        user: usize,
    },
    Reactivate {
        user: usize,
    },
    Reassign {
        ticket: usize,
        user: usize,
    },
    Groups {
        user: usize,
        group: Option<usize>,
    },
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        5 => (0usize..64, 0usize..64, proptest::option::of(0usize..3), any::<bool>(), any::<bool>())
            .prop_map(|(actor, user, unit, configs, groups)| Cmd::Move { actor, user, unit, configs, groups }),
        4 => (0usize..64, 0usize..64, proptest::option::of(0usize..64), any::<bool>())
            .prop_map(|(actor, user, transfer, keep)| Cmd::Delete { actor, user, transfer, keep }),
        1 => (0usize..64).prop_map(|user| Cmd::Deactivate { user }),
        1 => (0usize..64).prop_map(|user| Cmd::Reactivate { user }),
        2 => (0usize..256, 0usize..64).prop_map(|(ticket, user)| Cmd::Reassign { ticket, user }),
        2 => (0usize..64, proptest::option::of(0usize..64)).prop_map(|(user, group)| Cmd::Groups { user, group }),
    ]
}

fn nth<T: Clone>(items: impl Iterator<Item = T>, i: usize) -> Option<T> {
    let v: Vec<T> = items.collect();
    (!v.is_empty()).then(|| v[i % v.len()].clone())
}

/// Actors: half the time a Manager, else a Unit Manager or (rarely) anyone.
fn actor(s: &State, i: usize) -> Id {
    let wanted = |r: Role| match i % 6 {
        0..=2 => r == Role::Manager,
        3 | 4 => r == Role::UnitManager,
        _ => true,
    };
    let pool = s
        .users
        .values()
        .filter(|u| wanted(u.role))
        .map(|u| u.id.clone());
    nth(pool, i / 6).unwrap_or_else(|| "m1".into())
}

fn user(s: &State, i: usize) -> Id {
    nth(s.users.keys().cloned(), i).unwrap_or_else(|| "m1".into())
}

fn run(w: &mut World, c: &Cmd, fresh: &mut u64) {
    let s = w.state.clone();
    let _ = match c.clone() {
        Cmd::Move {
            actor: a,
            user: u,
            unit,
            configs,
            groups,
        } => {
            let req = Move {
                business_unit: unit.and_then(|n| nth(s.units.keys().cloned(), n)),
                keep_configurations: configs,
                keep_asset_groups: groups,
            };
            let (a, u) = (actor(&s, a), user(&s, u));
            let mut next = || {
                *fresh += 1;
                format!("copy{fresh}")
            };
            w.run_logged(&a, |tx| move_user(tx, &u, req, &mut next).map(drop))
                .0
        }
        Cmd::Delete {
            actor: a,
            user: u,
            transfer,
            keep,
        } => {
            let req = Delete {
                transfer_configurations_to: transfer.map(|t| user(&s, t)),
                keep_results: keep,
            };
            let (a, u) = (actor(&s, a), user(&s, u));
            w.run_logged(&a, |tx| delete_user(tx, &u, req).map(drop)).0
        }
        Cmd::Deactivate { user: u } => {
            let u = user(&s, u);
            w.run("m1", |tx| deactivate(tx, &u).map(drop))
        }
        Cmd::Reactivate { user: u } => {
            let u = user(&s, u);
            w.run("m1", |tx| reactivate(tx, &u).map(drop))
        }
        Cmd::Reassign { ticket, user: u } => {
            let tickets = s
                .objects
                .values()
                .filter(|o| o.kind == ObjectKind::RemediationTicket)
                .map(|o| o.id.clone());
            let Some(t) = nth(tickets, ticket) else {
                return;
            };
            let patch = ObjectPatch {
                assignee: Some(Assignee::User(user(&s, u))),
                ..ObjectPatch::default()
            };
            w.run_logged("m1", |tx| edit_object(tx, &t, patch).map(drop))
                .0
        }
        Cmd::Groups { user: u, group } => {
            let u = user(&s, u);
            let groups = group
                .and_then(|g| nth(s.asset_groups.keys().cloned(), g))
                .into_iter()
                .collect();
            let patch = UserPatch {
                asset_groups: Some(groups),
                ..UserPatch::default()
            };
            w.run_logged("m1", |tx| edit_user(tx, &u, patch).map(drop))
                .0
        }
    };
}

fn check(s: &State) {
    super::props::check(s, &BTreeSet::new());
    let mut reach = ReachCache::default();
    for o in s.objects.values() {
        match &o.owner {
            Some(u) => assert!(
                s.users.contains_key(u),
                "R7.5: {o:?} owned by a deleted user"
            ),
            None => assert_eq!(o.kind, ObjectKind::AuthRecord, "R7.5: {o:?} without owner"),
        }
        if let Some(Assignee::User(u)) = &o.assignee {
            assert!(
                s.users.contains_key(u),
                "R7.5: {o:?} assigned to a deleted user"
            );
        }
        if o.kind == ObjectKind::RemediationTicket {
            assert_eq!(o.valid, ticket_valid(s, o, &mut reach), "R9.2: {o:?}");
        }
    }
    for g in s.asset_groups.values() {
        assert!(
            s.users.contains_key(&g.owner),
            "R7.5: group {} orphaned",
            g.title
        );
        for h in s.asset_groups.values() {
            let shared = g.business_units.is_empty() && h.business_units.is_empty()
                || !g.business_units.is_disjoint(&h.business_units);
            assert!(
                g.id == h.id || !shared || !g.title.eq_ignore_ascii_case(&h.title),
                "titles unique per unit: {} / {}",
                g.title,
                h.title
            );
        }
    }
    for u in s.users.values() {
        for g in &u.asset_groups {
            if let Some(group) = s.asset_groups.get(g) {
                assert!(
                    assignable(group, u.business_unit.as_ref()),
                    "R6.3: {} holds {} outside its unit",
                    u.login,
                    group.title
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn r7_4_r7_5_r9_2_invariants_hold_under_random_lifecycle_commands(
        cmds in proptest::collection::vec(cmd(), 1..30),
    ) {
        let mut w = world();
        check(&w.state);
        let mut fresh = 0;
        for c in &cmds {
            run(&mut w, c, &mut fresh);
            check(&w.state);
        }
    }
}
