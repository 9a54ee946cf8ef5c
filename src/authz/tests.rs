//! Tests of the permission index, named after the rule they hold. Where a
//! rule is decided in `domain` too, the index is checked against it.

use std::collections::BTreeSet;

use super::*;
use crate::domain::access::{Acting, Sight};
use crate::domain::assets::{NewAppliance, add_assets, create_appliance, reach_of};
use crate::domain::groups::{ALL, GroupPatch, NewGroup, create_group, delete_group, edit_group};
use crate::domain::ipset::IpSet;
use crate::domain::testkit::{World, actor_of};
use crate::domain::users::{UserPatch, edit_user};
use crate::domain::{ApplianceKind, AssetSet, Id, Module, Refusal, ServiceType, Timestamp, Tx};

fn ips(i: &[&str]) -> IpSet {
    IpSet::parse_list("ips", i).unwrap()
}

/// Runs a command as `actor` and applies its keys to `ix`, then checks the
/// incremental index answers like one built whole.
fn step<T>(
    w: &mut World,
    ix: &mut Index,
    actor: &str,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal>,
) -> T {
    let who = actor_of(&w.state, actor);
    let mut tx = Tx::new(&mut w.state, Timestamp::from_unix_micros(50), who);
    let out = f(&mut tx).expect("command accepted");
    let (keys, _) = tx.finish();
    let keys: BTreeSet<Key> = keys.into_iter().collect();
    *ix = ix.apply(&w.state, &keys);
    assert!(
        ix.same_answers(&Index::build(&w.state)),
        "incremental update differs from a rebuild after {keys:?}"
    );
    out
}

struct Fixture {
    w: World,
    ix: Index,
    eu: Id,
    us: Id,
    um: Id,
    s: Id,
    r: Id,
    un: Id,
}

/// EU (10.0.0.0/24, eu.example, appliance "a-eu") with a Unit Manager, a
/// Scanner holding group "web" (10.0.0.0/28, eu.example) and a Reader
/// holding "all"; US with 10.1.0.0/24; an Unassigned Scanner holding "all".
fn fixture() -> Fixture {
    let mut w = World::with(ServiceType::Enterprise, &[Module::Vm]);
    let eu = w.unit("EU");
    let us = w.unit("US");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let s = w.user("s", Role::Scanner, Some(&eu));
    let r = w.user("r", Role::Reader, Some(&eu));
    let un = w.user("un", Role::Scanner, None);
    let mut ix = Index::build(&w.state);
    let (e, u) = (eu.clone(), us.clone());
    step(&mut w, &mut ix, "m1", move |tx| {
        add_assets(
            tx,
            ips(&["10.0.0.0/24"]),
            ["eu.example".to_owned()].into(),
            Some(e),
        )?;
        add_assets(tx, ips(&["10.1.0.0/24"]), BTreeSet::new(), Some(u))?;
        add_assets(
            tx,
            ips(&["10.9.0.0/24"]),
            ["sub.example".to_owned()].into(),
            None,
        )
    });
    let e = eu.clone();
    step(&mut w, &mut ix, "m1", move |tx| {
        create_appliance(
            tx,
            "a-eu".into(),
            NewAppliance {
                name: "eu scanner".into(),
                kind: ApplianceKind::Physical,
                business_unit: Some(e),
            },
        )
    });
    step(&mut w, &mut ix, &um, |tx| {
        create_group(
            tx,
            "web".into(),
            NewGroup {
                title: "Web".into(),
                assets: AssetSet {
                    ips: ips(&["10.0.0.0/28"]),
                    domains: ["eu.example".to_owned()].into(),
                    scanner_appliances: ["a-eu".to_owned()].into(),
                },
                business_units: None,
            },
        )
    });
    for (who, g) in [(&s, "web"), (&r, ALL), (&un, ALL)] {
        let p = UserPatch {
            asset_groups: Some(vec![g.to_owned()]),
            ..Default::default()
        };
        step(&mut w, &mut ix, "m1", |tx| edit_user(tx, who, p));
    }
    Fixture {
        w,
        ix,
        eu,
        us,
        um,
        s,
        r,
        un,
    }
}

fn scan(ix: &Index, who: &str, ip: &str) -> Decision {
    ix.check(who, Action::Scan, &Resource::ip(ip.parse().unwrap()))
}

#[test]
fn r6_4_scan_map_and_use_scanner_by_role() {
    let f = fixture();
    let ix = &f.ix;
    let cases: &[(&str, &str, Result<(), Reason>)] = &[
        ("m1", "10.1.0.5", Ok(())),
        ("m1", "192.0.2.1", Err(Reason::IpNotInAssetGroups)),
        (&f.um, "10.0.0.200", Ok(())),
        (&f.um, "10.1.0.5", Err(Reason::IpNotInAssetGroups)),
        (&f.s, "10.0.0.5", Ok(())),
        (&f.s, "10.0.0.16", Err(Reason::IpNotInAssetGroups)),
        (&f.r, "10.0.0.5", Err(Reason::RoleNotAllowed)),
        (&f.un, "10.1.0.5", Ok(())),
        (&f.un, "::ffff:10.9.0.1", Ok(())),
        ("ghost", "10.0.0.1", Err(Reason::UnknownUser)),
    ];
    for &(who, ip, want) in cases {
        let d = scan(ix, who, ip);
        let got = if d.allowed { Ok(()) } else { Err(d.reason) };
        assert_eq!(got, want, "{who} scan {ip}");
    }
    let map = |who: &str, d: &str| {
        let r = Resource {
            domain: Some(d),
            ..Resource::default()
        };
        ix.check(who, Action::Map, &r)
    };
    assert!(map(&f.s, "EU.Example.").allowed);
    assert_eq!(
        map(&f.s, "sub.example").reason,
        Reason::DomainNotInAssetGroups
    );
    assert!(map(&f.un, "sub.example").allowed);
    let use_scanner = |who: &str, a: &str| {
        let r = Resource {
            scanner_appliance: Some(a),
            ..Resource::default()
        };
        ix.check(who, Action::UseScanner, &r)
    };
    assert!(use_scanner(&f.s, "a-eu").allowed);
    assert!(use_scanner(&f.um, "a-eu").allowed);
    assert_eq!(
        use_scanner(&f.s, "a-x").reason,
        Reason::ScannerNotInAssetGroups
    );
    let with_scanner = Resource {
        ip: Some("10.0.0.1".parse().unwrap()),
        scanner_appliance: Some("nope"),
        ..Resource::default()
    };
    assert_eq!(
        ix.check(&f.s, Action::Scan, &with_scanner).reason,
        Reason::ScannerNotInAssetGroups
    );
    assert_eq!(
        ix.check(&f.s, Action::Scan, &Resource::default()).reason,
        Reason::MissingResource
    );
    // Readers run reports on their assets (R2.3).
    let report =
        |who: &str, ip: &str| ix.check(who, Action::Report, &Resource::ip(ip.parse().unwrap()));
    assert!(report(&f.r, "10.0.0.99").allowed);
    assert_eq!(report(&f.r, "10.1.0.1").reason, Reason::IpNotInAssetGroups);
}

#[test]
fn r6_4_index_reach_agrees_with_the_domain_definition() {
    let f = fixture();
    let probes = [
        "10.0.0.0",
        "10.0.0.15",
        "10.0.0.16",
        "10.0.0.255",
        "10.1.0.1",
        "10.9.0.9",
        "8.8.8.8",
    ];
    for u in f.w.state.users.values() {
        let want = reach_of(&f.w.state, u);
        let e = f.ix.user(&u.id).unwrap();
        for p in probes {
            let ip: std::net::IpAddr = p.parse().unwrap();
            assert_eq!(
                e.reach.has_ip(crate::domain::ipset::key(ip)),
                want.ips.contains(ip),
                "{} {p}",
                u.login
            );
        }
        for d in &want.domains {
            assert!(e.reach.has_domain(d));
        }
        for a in &want.scanner_appliances {
            assert!(e.reach.has_appliance(a));
        }
        assert_eq!(
            e.reach.merged().domains.len(),
            want.domains.len(),
            "{}",
            u.login
        );
    }
}

#[test]
fn r7_3_deactivated_users_are_always_denied() {
    let mut f = fixture();
    f.w.set_status(&f.un, UserStatus::Deactivated);
    f.w.set_status("m1", UserStatus::Deactivated);
    let ix = Index::build(&f.w.state);
    let mut actions: Vec<Action> = Action::names()
        .into_iter()
        .filter_map(Action::parse)
        .collect();
    actions.push(Action::Scan);
    let r = Resource {
        ip: Some("10.1.0.1".parse().unwrap()),
        user: Some(f.un.as_str()),
        ..Resource::default()
    };
    for a in actions {
        for who in [&f.un, "m1"] {
            assert_eq!(ix.check(who, a, &r), deny(Reason::UserDeactivated), "{a:?}");
        }
    }
}

#[test]
fn r5_every_permission_agrees_with_the_domain() {
    let mut w = World::with(
        ServiceType::Enterprise,
        &[Module::Vm, Module::Pc, Module::Was],
    );
    w.feature(crate::domain::Feature::ScannersAddAssets);
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    w.set_perms(
        &um,
        &[
            Permission::AddAssets,
            Permission::PcCreateUdcs,
            Permission::ScaPolicies,
        ],
    );
    let s = w.user("s", Role::Scanner, Some(&eu));
    w.set_perms(&s, &[Permission::AddAssets, Permission::ManageAuthRecords]);
    let rd = w.user("rd", Role::Reader, None);
    w.set_perms(&rd, &[Permission::WasCreateWebApps]);
    let ix = Index::build(&w.state);
    let mut granted = 0;
    for u in w.state.users.values() {
        for p in Permission::ALL {
            let want = crate::domain::permissions::has(&w.state, u, p);
            let d = ix.check(&u.id, Action::Permission(p), &Resource::default());
            assert_eq!(d.allowed, want, "{} {}", u.login, p.as_str());
            if !want {
                assert_eq!(d.reason, Reason::MissingPermission);
            }
            granted += usize::from(want);
        }
    }
    // Managers hold all but SCA's (no module) and external IDs (off): 14;
    // the UM 2 (SCA has no module); the Scanner 1 (no feature for auth
    // records); the Reader 1.
    assert_eq!(granted, 14 + 2 + 1 + 1);
}

#[test]
fn r10_1_view_user_agrees_with_the_domain() {
    for (restrict, hide) in [(false, false), (true, false), (true, true), (false, true)] {
        let mut f = fixture();
        f.w.state
            .settings
            .visibility
            .restrict_user_info_outside_unit = restrict;
        f.w.state.settings.visibility.hide_users_outside_unit = hide;
        let aud = f.w.user("kb", Role::RemediationUser, Some(&f.us));
        let ix = Index::build(&f.w.state);
        let ids: Vec<Id> = f.w.state.users.keys().cloned().collect();
        let _ = aud;
        for viewer in &ids {
            let acting = Acting::of(&f.w.state, viewer).unwrap();
            for target in &ids {
                let want = acting.sight_of(&f.w.state.users[target]) != Sight::Hidden;
                let r = Resource {
                    user: Some(target),
                    ..Resource::default()
                };
                assert_eq!(
                    ix.check(viewer, Action::ViewUser, &r).allowed,
                    want,
                    "{viewer} sees {target} ({restrict}, {hide})"
                );
            }
        }
    }
}

#[test]
fn r2_manage_user_agrees_with_the_domain() {
    let mut f = fixture();
    let ua = f.w.user("ua", Role::UserAdministrator, None);
    let ua2 = f.w.user("ua2", Role::UserAdministrator, None);
    let ids: Vec<Id> = f.w.state.users.keys().cloned().collect();
    for feature in [false, true] {
        if feature {
            f.w.feature(crate::domain::Feature::AdminsManageAdmins);
        }
        let ix = Index::build(&f.w.state);
        for actor in &ids {
            let acting = Acting::of(&f.w.state, actor).unwrap();
            for target in &ids {
                let want =
                    crate::domain::roles::may_manage(&acting, &f.w.state.users[target]).is_ok();
                let r = Resource {
                    user: Some(target),
                    ..Resource::default()
                };
                assert_eq!(
                    ix.check(actor, Action::ManageUser, &r).allowed,
                    want,
                    "{actor} manages {target}"
                );
            }
        }
        let r = Resource {
            user: Some(&ua2),
            ..Resource::default()
        };
        assert_eq!(ix.check(&ua, Action::ManageUser, &r).allowed, feature);
    }
}

#[test]
fn r6_5_auth_records_by_role_and_unit() {
    let mut f = fixture();
    f.w.feature(crate::domain::Feature::ScannersManageAuthRecords);
    f.w.set_perms(&f.s, &[Permission::ManageAuthRecords]);
    f.w.set_perms(&f.um, &[Permission::ManageAuthRecords]);
    let ix = Index::build(&f.w.state);
    fn rec(role: Role, unit: Option<&str>) -> Resource<'_> {
        Resource {
            created_by_role: Some(role),
            business_unit: unit,
            ..Resource::default()
        }
    }
    let eu = Some(f.eu.as_str());
    let us = Some(f.us.as_str());
    let cases: &[(&str, Action, Resource<'_>, Result<(), Reason>)] = &[
        (&f.s, Action::ViewAuthRecord, rec(Role::Manager, eu), Ok(())),
        (
            &f.s,
            Action::EditAuthRecord,
            rec(Role::Manager, eu),
            Err(Reason::AuthRecordCreatedByManager),
        ),
        (&f.s, Action::EditAuthRecord, rec(Role::Scanner, eu), Ok(())),
        (
            &f.s,
            Action::EditAuthRecord,
            rec(Role::UnitManager, eu),
            Err(Reason::AuthRecordOtherRole),
        ),
        (
            &f.um,
            Action::EditAuthRecord,
            rec(Role::UnitManager, eu),
            Ok(()),
        ),
        (
            &f.um,
            Action::EditAuthRecord,
            rec(Role::Scanner, eu),
            Err(Reason::AuthRecordOtherRole),
        ),
        (
            &f.um,
            Action::EditAuthRecord,
            rec(Role::UnitManager, us),
            Err(Reason::OutsideBusinessUnit),
        ),
        ("m1", Action::EditAuthRecord, rec(Role::Scanner, us), Ok(())),
        (
            &f.r,
            Action::ViewAuthRecord,
            rec(Role::Reader, eu),
            Err(Reason::RoleNotAllowed),
        ),
    ];
    for (who, a, r, want) in cases {
        let d = ix.check(who, *a, r);
        let got = if d.allowed { Ok(()) } else { Err(d.reason) };
        assert_eq!(got, *want, "{who} {a:?} {r:?}");
    }
    // Without the permission a Scanner only views.
    f.w.set_perms(&f.s, &[]);
    let ix = Index::build(&f.w.state);
    assert_eq!(
        ix.check(&f.s, Action::EditAuthRecord, &rec(Role::Scanner, eu))
            .reason,
        Reason::MissingPermission
    );
}

#[test]
fn r2_capabilities_by_role_and_module() {
    let mut w = World::with(ServiceType::Enterprise, &[Module::Vm]);
    let aud = w.user("aud", Role::Auditor, None);
    let ua = w.user("ua", Role::UserAdministrator, None);
    let c = w.user("c", Role::Contact, None);
    let kb = w.user("kb", Role::KbOnly, None);
    let ix = Index::build(&w.state);
    let cap = |who: &str, c: Capability| ix.check(who, Action::Capability(c), &Resource::default());
    assert_eq!(
        cap(&aud, Capability::ViewComplianceData).reason,
        Reason::ModuleUnavailable
    );
    assert_eq!(
        cap(&aud, Capability::ViewVulnerabilityData).reason,
        Reason::RoleNotAllowed
    );
    assert!(cap(&ua, Capability::ManageAssetGroups).allowed);
    assert_eq!(
        cap(&ua, Capability::DeleteAssetGroups).reason,
        Reason::RoleNotAllowed
    );
    assert_eq!(
        cap(&ua, Capability::DeleteDistributionGroups).reason,
        Reason::RoleNotAllowed
    );
    assert_eq!(cap(&c, Capability::LogIn).reason, Reason::RoleNotAllowed);
    assert!(cap(&c, Capability::ReceiveNotifications).allowed);
    assert!(cap(&kb, Capability::SendVulnerabilityNotifications).allowed);
    assert!(cap("m1", Capability::DeleteBusinessUnits).allowed);
    w.state
        .subscription
        .as_mut()
        .unwrap()
        .modules
        .insert(Module::Pc);
    let ix = Index::build(&w.state);
    assert!(
        ix.check(
            &aud,
            Action::Capability(Capability::DefineCompliancePolicies),
            &Resource::default()
        )
        .allowed
    );
    for name in Action::names() {
        assert_eq!(Action::parse(name).map(Action::as_str), Some(name));
    }
}

#[test]
fn incremental_updates_track_groups_units_appliances_and_removal() {
    let mut f = fixture();
    let ix = &mut f.ix;
    let w = &mut f.w;
    assert!(!scan(ix, &f.s, "10.0.0.20").allowed);
    step(w, ix, &f.um, |tx| {
        edit_group(
            tx,
            "web",
            GroupPatch {
                ips: Some(ips(&["10.0.0.0/27"])),
                ..Default::default()
            },
        )
    });
    assert!(
        scan(ix, &f.s, "10.0.0.20").allowed,
        "group change reaches its holder"
    );
    // A Manager's group linked to EU extends EU's "All" (R3.1).
    let us = f.us.clone();
    let eu = f.eu.clone();
    step(w, ix, "m1", move |tx| {
        create_group(
            tx,
            "both".into(),
            NewGroup {
                title: "Both".into(),
                assets: AssetSet {
                    ips: ips(&["10.1.0.0/30"]),
                    ..AssetSet::default()
                },
                business_units: Some([eu, us].into()),
            },
        )
    });
    assert!(scan(ix, &f.um, "10.1.0.2").allowed);
    assert!(
        scan(ix, &f.r, "10.1.0.2").allowed.eq(&false),
        "Readers never scan"
    );
    assert!(
        ix.check(
            &f.r,
            Action::Report,
            &Resource::ip("10.1.0.2".parse().unwrap())
        )
        .allowed
    );
    step(w, ix, "m1", |tx| delete_group(tx, "both"));
    assert!(!scan(ix, &f.um, "10.1.0.2").allowed);
    // Moving the Scanner out of EU (without its groups).
    let p = UserPatch {
        asset_groups: Some(vec![]),
        business_unit: Some(Some(f.us.clone())),
        ..Default::default()
    };
    let s = f.s.clone();
    step(w, ix, "m1", |tx| edit_user(tx, &s, p));
    assert!(!scan(ix, &f.s, "10.0.0.1").allowed);
    // Removing IPs from the subscription reaches everyone at once (R5.4).
    step(w, ix, "m1", |tx| {
        crate::domain::assets::remove_assets(tx, ips(&["10.9.0.0/25"]), BTreeSet::new())
    });
    assert!(!scan(ix, &f.un, "10.9.0.1").allowed);
    assert!(scan(ix, &f.un, "10.9.0.200").allowed);
    // Deleting an appliance.
    step(w, ix, "m1", |tx| {
        crate::domain::assets::delete_appliance(tx, "a-eu")
    });
    let r = Resource {
        scanner_appliance: Some("a-eu"),
        ..Resource::default()
    };
    assert!(!ix.check(&f.um, Action::UseScanner, &r).allowed);
}

#[test]
fn the_live_handle_swaps_indexes() {
    let f = fixture();
    let authz = Authz::new(&State::default());
    assert_eq!(
        scan(&authz.snapshot(), "m1", "10.0.0.1").reason,
        Reason::UnknownUser
    );
    authz.rebuild(&f.w.state);
    assert!(
        authz
            .check(
                "m1",
                Action::Scan,
                &Resource::ip("10.0.0.1".parse().unwrap())
            )
            .allowed
    );
    assert_eq!(authz.snapshot().len(), f.w.state.users.len());
}

mod incremental {
    //! R6.4 as an invariant: whatever a commit touches, the incrementally
    //! updated index answers exactly like one rebuilt from the new state.
    use super::*;
    use crate::domain::{AssetGroup, ScannerAppliance, UnitAssets};
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        UserGroups(usize, Vec<usize>),
        UserRole(usize, usize),
        UserUnit(usize, Option<usize>),
        UserStatus(usize, bool),
        GroupIps(usize, u8, u8),
        GroupUnits(usize, Vec<usize>),
        DeleteGroup(usize),
        UnitIps(usize, u8),
        SubscriptionIps(u8),
        Appliance(usize, Option<usize>),
        DeleteAppliance(usize),
    }

    const USERS: usize = 6;
    const GROUPS: usize = 4;
    const UNITS: usize = 2;
    const ROLES: [Role; 4] = [
        Role::Manager,
        Role::UnitManager,
        Role::Scanner,
        Role::Reader,
    ];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..USERS, proptest::collection::vec(0..GROUPS + 1, 0..3))
                .prop_map(|(u, g)| Op::UserGroups(u, g)),
            (0..USERS, 0..ROLES.len()).prop_map(|(u, r)| Op::UserRole(u, r)),
            (0..USERS, proptest::option::of(0..UNITS)).prop_map(|(u, x)| Op::UserUnit(u, x)),
            (0..USERS, any::<bool>()).prop_map(|(u, a)| Op::UserStatus(u, a)),
            (0..GROUPS, any::<u8>(), 0u8..8).prop_map(|(g, a, l)| Op::GroupIps(g, a, l)),
            (0..GROUPS, proptest::collection::vec(0..UNITS, 0..3))
                .prop_map(|(g, u)| Op::GroupUnits(g, u)),
            (0..GROUPS).prop_map(Op::DeleteGroup),
            (0..UNITS, any::<u8>()).prop_map(|(u, a)| Op::UnitIps(u, a)),
            any::<u8>().prop_map(Op::SubscriptionIps),
            (0..3usize, proptest::option::of(0..UNITS)).prop_map(|(a, u)| Op::Appliance(a, u)),
            (0..3usize).prop_map(Op::DeleteAppliance),
        ]
    }

    fn ip_block(a: u8, len: u8) -> IpSet {
        let start = crate::domain::ipset::key(std::net::IpAddr::from([10, 0, 0, a]));
        IpSet::from_ranges(vec![(start, start + u128::from(len))])
    }

    /// Applies `op` through a `Tx`; returns the keys it touched, as the
    /// writer hands them to the index.
    fn apply_op(w: &mut World, units: &[Id], users: &[Id], op: &Op) -> BTreeSet<Key> {
        let mut tx = Tx::new(
            &mut w.state,
            Timestamp::from_unix_micros(9),
            crate::domain::Actor::operator(),
        );
        let gid = |g: usize| {
            if g == GROUPS {
                ALL.to_owned()
            } else {
                format!("g{g}")
            }
        };
        match op {
            Op::UserGroups(u, g) => {
                let mut x = tx.state().users[&users[*u]].clone();
                x.asset_groups = g.iter().map(|&g| gid(g)).collect();
                tx.put_user(x);
            }
            Op::UserRole(u, r) => {
                let mut x = tx.state().users[&users[*u]].clone();
                x.role = ROLES[*r];
                tx.put_user(x);
            }
            Op::UserUnit(u, unit) => {
                let mut x = tx.state().users[&users[*u]].clone();
                x.business_unit = unit.map(|i| units[i].clone());
                tx.put_user(x);
            }
            Op::UserStatus(u, active) => {
                let mut x = tx.state().users[&users[*u]].clone();
                x.status = if *active {
                    UserStatus::Active
                } else {
                    UserStatus::Deactivated
                };
                tx.put_user(x);
            }
            Op::GroupIps(g, a, l) => {
                let mut x = tx
                    .state()
                    .asset_groups
                    .get(&gid(*g))
                    .cloned()
                    .unwrap_or(AssetGroup {
                        id: gid(*g),
                        title: gid(*g),
                        assets: AssetSet::default(),
                        business_units: BTreeSet::new(),
                        owner: "m1".into(),
                        created_by_role: Role::Manager,
                        created_at: Timestamp::from_unix_micros(1),
                    });
                x.assets.ips = ip_block(*a, *l);
                x.assets.scanner_appliances = [format!("a{}", a % 3)].into();
                tx.put_asset_group(x);
            }
            Op::GroupUnits(g, u) => {
                if let Some(mut x) = tx.state().asset_groups.get(&gid(*g)).cloned() {
                    x.business_units = u.iter().map(|&i| units[i].clone()).collect();
                    tx.put_asset_group(x);
                }
            }
            Op::DeleteGroup(g) => tx.remove_asset_group(&gid(*g)),
            Op::UnitIps(u, a) => tx.put_unit_assets(
                &units[*u],
                UnitAssets {
                    assets: AssetSet {
                        ips: ip_block(*a, 3),
                        ..AssetSet::default()
                    },
                    new_ips_added: 0,
                },
            ),
            Op::SubscriptionIps(a) => tx.put_assets(AssetSet {
                ips: ip_block(*a, 200),
                ..AssetSet::default()
            }),
            Op::Appliance(a, u) => tx.put_appliance(ScannerAppliance {
                id: format!("a{a}"),
                name: format!("a{a}"),
                kind: ApplianceKind::Virtual,
                business_unit: u.map(|i| units[i].clone()),
                created_at: Timestamp::from_unix_micros(1),
            }),
            Op::DeleteAppliance(a) => tx.remove_appliance(&format!("a{a}")),
        }
        tx.finish().0.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        #[test]
        fn incremental_equals_rebuild(ops in proptest::collection::vec(op(), 1..25)) {
            let mut w = World::new();
            let units: Vec<Id> = (0..UNITS).map(|i| w.unit(&format!("U{i}"))).collect();
            let users: Vec<Id> = (0..USERS).map(|i| w.user(&format!("x{i}"), Role::Scanner, None)).collect();
            let mut ix = Index::build(&w.state);
            for op in &ops {
                let keys = apply_op(&mut w, &units, &users, op);
                ix = ix.apply(&w.state, &keys);
                prop_assert!(ix.same_answers(&Index::build(&w.state)), "after {:?}", op);
            }
        }
    }
}

/// Read-your-writes through the real store: the writer publishes the next
/// index before it answers, so a check right after an acknowledged group
/// change sees it, every time.
#[test]
fn r6_4_checks_see_a_group_change_as_soon_as_it_is_acknowledged() {
    use crate::domain::{Actor, AssetGroup};
    let dir = tempfile::tempdir().unwrap();
    let opts = crate::store::Options {
        create: true,
        ..Default::default()
    };
    let store = crate::store::Store::open(
        dir.path(),
        &opts,
        std::sync::Arc::new(crate::clock::SystemClock),
    )
    .unwrap();
    let authz = Authz::attach(&store);
    let seed = World::new();
    let m1 = seed.state.users["m1"].clone();
    store
        .write_blocking(Actor::operator(), move |tx| {
            crate::domain::bootstrap::initialise(
                tx,
                &crate::domain::bootstrap::Bootstrap::default_subscription("boss"),
                "boss".into(),
            )?;
            let mut s = m1;
            s.id = "s1".into();
            s.login = "s1".into();
            s.role = Role::Scanner;
            s.asset_groups = vec!["g1".into()];
            tx.put_user(s);
            Ok(())
        })
        .unwrap();
    for i in 0..50u8 {
        let ip = IpAddr::from([10, 0, 0, i]);
        assert!(!authz.check("s1", Action::Scan, &Resource::ip(ip)).allowed);
        store
            .write_blocking(Actor::operator(), move |tx| {
                tx.put_asset_group(AssetGroup {
                    id: "g1".into(),
                    title: "G".into(),
                    assets: AssetSet {
                        ips: IpSet::from_ranges(vec![(
                            crate::domain::ipset::key(ip),
                            crate::domain::ipset::key(ip),
                        )]),
                        ..AssetSet::default()
                    },
                    business_units: BTreeSet::new(),
                    owner: "boss".into(),
                    created_by_role: Role::Manager,
                    created_at: Timestamp::from_unix_micros(1),
                });
                Ok(())
            })
            .unwrap();
        assert!(
            authz.check("s1", Action::Scan, &Resource::ip(ip)).allowed,
            "change {i} not seen"
        );
    }
    store.close();
}

mod ranges {
    use proptest::prelude::*;

    use crate::authz::Ranges;
    use crate::domain::ipset::{IpSet, V4_BASE, V4_LAST, contains_key};

    /// Points around the IPv4 block's edges, where a range is split.
    fn point() -> impl Strategy<Value = u128> {
        prop_oneof![
            (0u128..64).prop_map(|d| V4_BASE - 32 + d),
            (0u128..64).prop_map(|d| V4_LAST - 32 + d),
            (0u128..1 << 20).prop_map(|d| V4_BASE + d * 4096),
            any::<u128>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// IPv4 kept apart as `u32` pairs answers exactly as the merged
        /// `u128` ranges do, for ranges across the IPv4 block's edges too.
        #[test]
        fn split_ranges_answer_as_the_merged_set(
            raw in proptest::collection::vec((point(), 0u128..1 << 40), 0..12),
            probes in proptest::collection::vec(point(), 1..32),
        ) {
            let set = IpSet::from_ranges(
                raw.into_iter().map(|(a, len)| (a, a.saturating_add(len))).collect(),
            );
            let split = Ranges::new(set.ranges());
            for k in probes.iter().copied().chain(set.ranges().iter().flat_map(|&(a, b)| [a, b, a.wrapping_sub(1), b.wrapping_add(1)])) {
                prop_assert_eq!(split.contains(k), contains_key(set.ranges(), k), "{:x}", k);
            }
            let back = IpSet::from_ranges(split.keys().collect());
            prop_assert_eq!(back.ranges(), set.ranges());
        }
    }
}
