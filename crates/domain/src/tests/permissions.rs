//! Tests of `permissions`, named after the rule they hold.

use super::prelude::*;
use crate::permissions::*;
use crate::testkit::World;
use crate::users::{self, UserPatch};

fn sub(modules: &[Module], features: &[Feature], t: ServiceType) -> Subscription {
    Subscription {
        name: "S".into(),
        service_type: t,
        modules: modules.iter().copied().collect(),
        features: features.iter().copied().collect(),
        primary_contact: None,
        created_at: crate::Timestamp::from_unix_micros(0),
    }
}

#[test]
fn r5_table_covers_every_permission_once() {
    for p in Permission::ALL {
        assert_eq!(
            TABLE.iter().filter(|r| r.permission == p).count(),
            1,
            "{p:?}"
        );
    }
}

/// R5 (docs/rules.md)'s table, as (permission, role, modules, features, service type, may hold).
#[test]
fn r5_grid_of_who_may_hold_what() {
    use Permission as P;
    use Role as R;
    const ALL: &[Module] = &Module::ALL;
    let e = ServiceType::Enterprise;
    type Case = (
        P,
        R,
        &'static [Module],
        &'static [Feature],
        ServiceType,
        bool,
    );
    #[rustfmt::skip] // one row a line, as R5's table reads
    let cases: &[Case] = &[
        (P::AddAssets, R::UnitManager, &[], &[], e, true),
        (P::AddAssets, R::Scanner, &[], &[], e, false),
        (P::AddAssets, R::Scanner, &[], &[Feature::ScannersAddAssets], e, true),
        (P::AddAssets, R::Scanner, &[], &[], ServiceType::Consultant, true),
        (P::AddAssets, R::Reader, &[], &[Feature::ScannersAddAssets], e, false),
        (P::ManageAuthRecords, R::UnitManager, &[], &[], e, true),
        (P::ManageAuthRecords, R::Scanner, &[], &[], e, false),
        (P::ManageAuthRecords, R::Scanner, &[], &[Feature::ScannersManageAuthRecords], e, true),
        (P::CreateOptionProfiles, R::Scanner, &[], &[], e, true),
        (P::CreateOptionProfiles, R::UnitManager, &[], &[], e, true),
        (P::CreateOptionProfiles, R::Reader, &[], &[], e, false),
        (P::ManageExternalIds, R::Manager, &[], &[], e, true),
        (P::ManageExternalIds, R::UnitManager, &[], &[], e, true),
        (P::ManageExternalIds, R::UserAdministrator, &[], &[], e, true),
        (P::ManageExternalIds, R::Scanner, &[], &[], e, false),
        (P::ManageVirtualScanners, R::UnitManager, &[], &[], e, true),
        (P::ManageVirtualScanners, R::Scanner, &[], &[], e, false),
        (P::ManageVirtualScanners, R::Scanner, &[], &[Feature::ScannersManageVirtualScanners], e, true),
        (P::ManageOfflineScanners, R::UnitManager, &[], &[], e, true),
        (P::ManageOfflineScanners, R::Scanner, ALL, &Feature::ALL, e, false),
        (P::PurgeHostHistory, R::Reader, &[], &[], e, true),
        (P::PurgeHostHistory, R::Scanner, &[], &[], e, true),
        (P::PurgeHostHistory, R::Auditor, ALL, &[], e, false),
        (P::VmRemediationPolicy, R::UnitManager, &[Module::Vm], &[], e, true),
        (P::VmRemediationPolicy, R::UnitManager, &[Module::Pc], &[], e, false),
        (P::VmRemediationPolicy, R::Scanner, &[Module::Vm], &[], e, false),
        (P::VmVirtualHosts, R::Scanner, &[Module::Vm], &[], e, true),
        (P::VmVirtualHosts, R::Scanner, &[], &[], e, false),
        (P::PcAcceptExceptions, R::UnitManager, &[Module::Pc], &[], e, true),
        (P::PcCompliancePolicies, R::UnitManager, &[Module::Pc], &[], e, true),
        (P::PcCreateUdcs, R::UnitManager, &[Module::Pc], &[], e, true),
        (P::PcUpdateDeleteUdcs, R::UnitManager, &[Module::Pc], &[], e, true),
        (P::PcCreateUdcs, R::UnitManager, &[Module::Vm], &[], e, false),
        (P::PcCreateUdcs, R::Auditor, &[Module::Pc], &[], e, false),
        (P::ScaPolicies, R::UnitManager, &[Module::Sca], &[], e, true),
        (P::ScaPolicies, R::UnitManager, &[], &[], e, false),
        (P::WasManageWebApps, R::Reader, &[Module::Was], &[], e, true),
        (P::WasCreateWebApps, R::Scanner, &[Module::Was], &[], e, true),
        (P::WasCreateWebApps, R::Scanner, &[Module::Vm], &[], e, false),
        (P::WasCreateWebApps, R::RemediationUser, &[Module::Was], &[], e, false),
    ];
    for &(p, role, modules, features, t, expect) in cases {
        let s = sub(modules, features, t);
        assert_eq!(
            may_hold(&s, role, p),
            expect,
            "{p:?} {role:?} {modules:?} {features:?} {t:?}"
        );
    }
    // Contacts, KB-only users, Remediation users and Auditors hold nothing.
    let s = sub(ALL, &Feature::ALL, ServiceType::Consultant);
    for role in [R::Contact, R::KbOnly, R::RemediationUser, R::Auditor] {
        assert!(
            Permission::ALL.iter().all(|&p| !may_hold(&s, role, p)),
            "{role:?}"
        );
    }
}

#[test]
fn r5_1_managers_hold_every_applicable_permission_and_store_none() {
    let mut w = World::new();
    w.state.settings.security.external_ids_enabled = true;
    let m = w.state.users["m1"].clone();
    let eff = effective(&w.state, &m);
    assert!(
        !eff.contains(&Permission::ManageExternalIds),
        "R5.3: the primary contact grants it, to Managers too"
    );
    assert!(eff.contains(&Permission::VmVirtualHosts), "VM is on");
    assert!(
        !eff.contains(&Permission::PcCreateUdcs),
        "PC is off: not applicable"
    );
    let m2 = w.user("m2", Role::Manager, None);
    let u = grant(&mut w, "m1", &m2, &[Permission::AddAssets]).unwrap();
    assert!(u.permissions.is_empty(), "nothing stored for Managers");
}

#[test]
fn r5_3_the_subscription_poc_grants_external_ids_to_managers_too() {
    let mut w = World::new();
    w.state.settings.security.external_ids_enabled = true;
    let m2 = w.user("m2", Role::Manager, None);
    let grant = |w: &mut World, actor: &str, who: &crate::Id| {
        let who = who.clone();
        w.run(actor, move |tx| {
            users::set_permissions(
                tx,
                &who,
                BTreeSet::from([Permission::ManageExternalIds, Permission::AddAssets]),
            )
        })
    };
    // Another Manager cannot; the primary contact (m1) can, to itself too.
    assert_eq!(grant(&mut w, &m2, &m2).unwrap_err().code, Code::Forbidden);
    let u = grant(&mut w, "m1", &m2).unwrap();
    assert_eq!(
        u.permissions,
        BTreeSet::from([Permission::ManageExternalIds]),
        "only the grant is stored; the rest a Manager holds anyway"
    );
    assert!(has(
        &w.state,
        &w.state.users[&m2].clone(),
        Permission::ManageExternalIds
    ));
    grant(&mut w, "m1", &"m1".to_owned()).unwrap();
    assert!(has(
        &w.state,
        &w.state.users["m1"].clone(),
        Permission::ManageExternalIds
    ));
    // Turning external IDs off withdraws it from Managers as from anyone.
    w.state.settings.security.external_ids_enabled = false;
    assert!(!has(
        &w.state,
        &w.state.users[&m2].clone(),
        Permission::ManageExternalIds
    ));
}

#[test]
fn r5_2_managers_grant_and_revoke_anything_applicable() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let s = w.user("s", Role::Scanner, Some(&eu));
    let u = grant(&mut w, "m1", &s, &[Permission::PurgeHostHistory]).unwrap();
    assert_eq!(
        u.permissions,
        BTreeSet::from([Permission::PurgeHostHistory])
    );
}

#[test]
fn r5_2_unit_manager_grants_only_what_it_holds() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let s = w.user("s", Role::Scanner, Some(&eu));
    w.set_perms(&um, &[Permission::CreateOptionProfiles]);
    let err = grant(&mut w, &um, &s, &[Permission::PurgeHostHistory]).unwrap_err();
    assert_eq!(err.code, Code::Forbidden);
    assert!(
        err.message.contains("purge_host_history"),
        "{}",
        err.message
    );
    w.set_perms(&um, &[Permission::PurgeHostHistory]);
    let u = grant(&mut w, &um, &s, &[Permission::PurgeHostHistory]).unwrap();
    assert!(u.permissions.contains(&Permission::PurgeHostHistory));
}

/// `by` sets `to`'s extended permissions to exactly `perms`.
fn grant(w: &mut World, by: &str, to: &str, perms: &[Permission]) -> Result<User, Refusal> {
    w.run(by, |tx| {
        users::set_permissions(tx, to, perms.iter().copied().collect())
    })
}

#[test]
fn r5_2_unit_manager_grants_only_in_its_own_unit() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let us = w.unit("US");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    w.set_perms(&um, &[Permission::PurgeHostHistory]);
    let s = w.user("s", Role::Scanner, Some(&us));
    let err = grant(&mut w, &um, &s, &[Permission::PurgeHostHistory]).unwrap_err();
    assert_eq!(err.code, Code::Forbidden);
}

#[test]
fn r5_2_others_grant_nothing() {
    let mut w = World::new();
    let ua = w.user("ua", Role::UserAdministrator, None);
    let s = w.user("s", Role::Scanner, None);
    let err = grant(&mut w, &ua, &s, &[Permission::PurgeHostHistory]).unwrap_err();
    assert_eq!(err.code, Code::Forbidden);
}

#[test]
fn r5_inapplicable_is_refused_with_permission_not_applicable() {
    let mut w = World::new();
    let r = w.user("r", Role::Reader, None);
    for p in [
        Permission::AddAssets,
        Permission::PcCreateUdcs,
        Permission::ManageOfflineScanners,
    ] {
        let err = grant(&mut w, "m1", &r, &[p]).unwrap_err();
        assert_eq!(err.code, Code::PermissionNotApplicable, "{p:?}");
        assert!(err.message.contains(p.as_str()), "{}", err.message);
    }
    let err = grant(&mut w, "m1", &r, &[Permission::PcCreateUdcs]).unwrap_err();
    assert!(err.message.contains("PC module"), "{}", err.message);
}

#[test]
fn r5_3_only_the_subscription_poc_grants_external_ids_and_only_when_enabled() {
    let mut w = World::new();
    let m2 = w.user("m2", Role::Manager, None);
    let ua = w.user("ua", Role::UserAdministrator, None);
    let grant = |w: &mut World, actor: &str| {
        let ua = ua.clone();
        w.run(actor, move |tx| {
            users::set_permissions(tx, &ua, BTreeSet::from([Permission::ManageExternalIds]))
        })
    };
    assert_eq!(
        grant(&mut w, "m1").unwrap_err().code,
        Code::FeatureUnavailable
    );
    w.state.settings.security.external_ids_enabled = true;
    assert_eq!(grant(&mut w, &m2).unwrap_err().code, Code::Forbidden);
    let u = grant(&mut w, "m1").unwrap();
    assert!(u.permissions.contains(&Permission::ManageExternalIds));
}

#[test]
fn r5_3_holders_set_external_ids_others_do_not() {
    let mut w = World::new();
    w.state.settings.security.external_ids_enabled = true;
    let ua = w.user("ua", Role::UserAdministrator, None);
    let s = w.user("s", Role::Scanner, None);
    let set = |w: &mut World, actor: &str, v: &str| {
        let (s, v) = (s.clone(), v.to_owned());
        w.run(actor, move |tx| {
            users::edit_user(
                tx,
                &s,
                UserPatch {
                    external_id: Some(Some(v)),
                    ..Default::default()
                },
            )
        })
    };
    assert_eq!(set(&mut w, &ua, "E-1").unwrap_err().code, Code::Forbidden);
    w.set_perms(&ua, &[Permission::ManageExternalIds]);
    assert_eq!(
        set(&mut w, &ua, "E-1").unwrap().external_id.as_deref(),
        Some("E-1")
    );
    // A Manager too needs the grant (R5.3).
    assert_eq!(set(&mut w, "m1", "E-2").unwrap_err().code, Code::Forbidden);
    w.set_perms("m1", &[Permission::ManageExternalIds]);
    assert_eq!(
        set(&mut w, "m1", "E-2").unwrap().external_id.as_deref(),
        Some("E-2")
    );
    w.state.settings.security.external_ids_enabled = false;
    assert_eq!(
        set(&mut w, "m1", "E-3").unwrap_err().code,
        Code::FeatureUnavailable
    );
}

#[test]
fn r5_role_change_drops_what_the_new_role_cannot_hold() {
    let mut w = World::new();
    let s = w.user("s", Role::Scanner, None);
    w.set_perms(
        &s,
        &[
            Permission::CreateOptionProfiles,
            Permission::PurgeHostHistory,
        ],
    );
    let u = w
        .run("m1", |tx| {
            users::edit_user(
                tx,
                &s,
                UserPatch {
                    role: Some(Role::Reader),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(
        u.permissions,
        BTreeSet::from([Permission::PurgeHostHistory])
    );
    let u = w
        .run("m1", |tx| {
            users::edit_user(
                tx,
                &s,
                UserPatch {
                    role: Some(Role::Scanner),
                    ..Default::default()
                },
            )
        })
        .unwrap();
    assert_eq!(
        u.permissions,
        BTreeSet::from([
            Permission::CreateOptionProfiles,
            Permission::PurgeHostHistory
        ]),
        "the Scanner default comes back with the role"
    );
}

#[test]
fn r1_4_switching_a_feature_off_drops_its_grants() {
    let mut w = World::new();
    w.feature(Feature::ScannersAddAssets);
    let s = w.user("s", Role::Scanner, None);
    grant(&mut w, "m1", &s, &[Permission::AddAssets]).unwrap();
    let mut tx = Tx::new(
        &mut w.state,
        crate::Timestamp::from_unix_micros(9),
        crate::Actor::operator(),
    );
    crate::subscription::set_feature(&mut tx, Feature::ScannersAddAssets, false).unwrap();
    let (_, log) = tx.finish();
    assert!(log[0].details.contains("dropped 1"), "{}", log[0].details);
    assert!(w.state.users[&s].permissions.is_empty());
}

#[test]
fn r5_4_only_managers_remove_ips_whatever_is_granted() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    w.set_perms(&um, &[Permission::AddAssets]);
    assert!(w.acting("m1").may_remove_ips());
    assert!(!w.acting(&um).may_remove_ips());
}
