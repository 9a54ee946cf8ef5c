//! Tests of `settings`, named after the rule they hold.

use super::prelude::*;
use crate::settings::*;
use crate::testkit::World;
use crate::{Permission, Timestamp, contacts, users};

fn sec() -> SecuritySettings {
    SecuritySettings::default()
}

#[test]
fn r8_5_security_settings_are_the_managers() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let ua = w.user("ua", Role::UserAdministrator, None);
    for who in [&um, &ua] {
        assert_eq!(security(&w.acting(who)).unwrap_err().code, Code::Forbidden);
        assert_eq!(
            w.run(who, |tx| set_security(tx, sec())).unwrap_err().code,
            Code::Forbidden
        );
    }
    let new = SecuritySettings {
        user_defined_passwords: true,
        password_expiration_days: 90,
        lockout_threshold: 3,
        min_password_length: 12,
        external_ids_enabled: false,
    };
    w.run("m1", |tx| set_security(tx, new.clone())).unwrap();
    assert_eq!(security(&w.acting("m1")).unwrap(), new);
}

#[test]
fn r8_5_security_values_in_range() {
    let mut w = World::new();
    type Case = (fn(&mut SecuritySettings), &'static str);
    let cases: &[Case] = &[
        (|s| s.lockout_threshold = 0, "lockout_threshold"),
        (|s| s.lockout_threshold = 101, "lockout_threshold"),
        (|s| s.min_password_length = 7, "min_password_length"),
        (|s| s.min_password_length = 129, "min_password_length"),
        (
            |s| s.password_expiration_days = 3651,
            "password_expiration_days",
        ),
    ];
    for (bad, field) in cases {
        let mut s = sec();
        bad(&mut s);
        let err = w.run("m1", |tx| set_security(tx, s)).unwrap_err();
        assert_eq!(err.code, Code::Validation);
        assert!(err.message.starts_with(field), "{}", err.message);
    }
    let edges = SecuritySettings {
        lockout_threshold: 100,
        min_password_length: 128,
        password_expiration_days: 3650,
        ..sec()
    };
    w.run("m1", |tx| set_security(tx, edges)).unwrap();
}

#[test]
fn r8_5_external_ids_switched_only_by_the_subscription_poc() {
    let mut w = World::new();
    let m2 = w.user("m2", Role::Manager, None);
    let on = SecuritySettings {
        external_ids_enabled: true,
        ..sec()
    };
    assert_eq!(
        w.run(&m2, |tx| set_security(tx, on.clone()))
            .unwrap_err()
            .code,
        Code::Forbidden
    );
    w.run("m1", |tx| set_security(tx, on.clone())).unwrap();
    // Other Managers change the rest while leaving it alone.
    let other = SecuritySettings {
        lockout_threshold: 9,
        ..on
    };
    w.run(&m2, |tx| set_security(tx, other)).unwrap();
}

#[test]
fn r5_3_turning_external_ids_off_withdraws_the_grants() {
    let mut w = World::new();
    let ua = w.user("ua", Role::UserAdministrator, None);
    let on = SecuritySettings {
        external_ids_enabled: true,
        ..sec()
    };
    w.run("m1", |tx| set_security(tx, on)).unwrap();
    w.run("m1", |tx| {
        users::set_permissions(tx, &ua, [Permission::ManageExternalIds].into())
    })
    .unwrap();
    let mut state = w.state.clone();
    let mut tx = Tx::new(
        &mut state,
        Timestamp::from_unix_micros(50),
        crate::testkit::actor_of(&w.state, "m1"),
    );
    set_security(&mut tx, sec()).unwrap();
    let (_, log) = tx.finish();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "settings.security.update");
    assert!(log[0].details.contains("withdrew 1"), "{}", log[0].details);
    assert!(state.users[&ua].permissions.is_empty());
}

#[test]
fn r10_1_hiding_users_needs_restricting_them() {
    let mut w = World::new();
    let s = w.user("s", Role::Scanner, None);
    let hide_only = VisibilitySettings {
        hide_users_outside_unit: true,
        ..Default::default()
    };
    let err = w.run("m1", |tx| set_visibility(tx, hide_only)).unwrap_err();
    assert_eq!(err.code, Code::Validation);
    let both = VisibilitySettings {
        restrict_user_info_outside_unit: true,
        hide_users_outside_unit: true,
        restrict_scheduled_tasks_on_unassigned_assets: true,
    };
    assert_eq!(
        w.run(&s, |tx| set_visibility(tx, both.clone()))
            .unwrap_err()
            .code,
        Code::Forbidden
    );
    w.run("m1", |tx| set_visibility(tx, both.clone())).unwrap();
    assert_eq!(visibility(&w.acting("m1")).unwrap(), both);
}

#[test]
fn r3_2_the_new_ip_limit_switch_is_the_managers() {
    let mut w = World::new();
    let ua = w.user("ua", Role::UserAdministrator, None);
    assert_eq!(
        w.run(&ua, |tx| set_business_unit_setup(tx, true))
            .unwrap_err()
            .code,
        Code::Forbidden
    );
    w.run("m1", |tx| set_business_unit_setup(tx, true)).unwrap();
    assert!(business_unit_setup(&w.acting("m1")).unwrap());
    let mut w = World::with(ServiceType::ExpressLite, &[]);
    let err = w
        .run("m1", |tx| set_business_unit_setup(tx, true))
        .unwrap_err();
    assert_eq!(err.code, Code::FeatureUnavailable);
}

fn contact(name: &str) -> EmailContact {
    EmailContact {
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
    }
}

#[test]
fn r10_2_managers_set_the_email_contact() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let new = EmailContactSettings {
        email_contact: Some(contact("Patrick")),
        allow_unit_manager_override: false,
    };
    assert_eq!(
        w.run(&um, |tx| set_email_contact(tx, new.clone()))
            .unwrap_err()
            .code,
        Code::Forbidden
    );
    w.run("m1", |tx| set_email_contact(tx, new.clone()))
        .unwrap();
    assert_eq!(email_contact(&w.acting(&um)).unwrap(), new);
    let bad = EmailContactSettings {
        email_contact: Some(EmailContact {
            name: "P".into(),
            email: "nope".into(),
        }),
        allow_unit_manager_override: false,
    };
    assert_eq!(
        w.run("m1", |tx| set_email_contact(tx, bad))
            .unwrap_err()
            .code,
        Code::Validation
    );
    let s = w.user("s", Role::Scanner, None);
    assert_eq!(
        email_contact(&w.acting(&s)).unwrap_err().code,
        Code::Forbidden
    );
}

#[test]
fn r10_2_unit_managers_override_their_units_only_when_allowed() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let us = w.unit("US");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let r = w.user("r", Role::Reader, Some(&eu));
    let set = |w: &mut World, who: &str, unit: &str| {
        w.run(who, |tx| {
            set_unit_email_contact(tx, unit, Some(contact("Eve")))
        })
    };
    let err = set(&mut w, &um, &eu).unwrap_err();
    assert_eq!(err.code, Code::Forbidden);
    assert!(err.message.contains("ask a Manager"));
    let allow = EmailContactSettings {
        email_contact: Some(contact("Patrick")),
        allow_unit_manager_override: true,
    };
    w.run("m1", |tx| set_email_contact(tx, allow)).unwrap();
    set(&mut w, &um, &eu).unwrap();
    assert_eq!(set(&mut w, &um, &us).unwrap_err().code, Code::NotFound);
    let reader = w.state.users[&r].clone();
    assert_eq!(
        notification_contact_for(&w.state, &reader).unwrap().name,
        "Eve"
    );
    // Override withdrawn: the unit's own contact is no longer used.
    w.state.settings.allow_unit_manager_email_override = false;
    assert_eq!(
        notification_contact_for(&w.state, &reader).unwrap().name,
        "Patrick"
    );
    w.state.settings.email_contact = None;
    assert_eq!(
        notification_contact_for(&w.state, &reader).unwrap().email,
        "admin@example.com"
    );
}

#[test]
fn r10_3_account_info_names_the_users_primary_contact() {
    let mut w = World::with(
        ServiceType::Consultant,
        &[crate::Module::Vm, crate::Module::Was],
    );
    let eu = w.unit("EU");
    let s = w.user("s", Role::Scanner, Some(&eu));
    let r = w.user("r", Role::Reader, Some(&eu));
    w.rename(&s, "Sam", "Lee");
    let info = account_info(&w.acting(&r));
    assert_eq!(info.subscription, "Acme");
    assert_eq!(info.service_type, ServiceType::Consultant);
    assert_eq!(info.modules, [crate::Module::Vm, crate::Module::Was]);
    assert_eq!(info.role, Role::Reader);
    assert_eq!(
        info.primary_contact.as_ref().unwrap().email,
        "admin@example.com"
    );
    assert!(info.appliances.is_empty());
    w.run("m1", |tx| contacts::set_unit_poc(tx, &eu, &s))
        .unwrap();
    let info = account_info(&w.acting(&r));
    assert_eq!(info.primary_contact.unwrap().name, "Sam Lee (s)");
}

#[test]
fn r11_1_settings_changes_are_logged_with_what_changed() {
    let mut w = World::new();
    let mut state = w.state.clone();
    let mut tx = Tx::new(
        &mut state,
        Timestamp::from_unix_micros(50),
        crate::testkit::actor_of(&w.state, "m1"),
    );
    let new = SecuritySettings {
        lockout_threshold: 7,
        ..sec()
    };
    set_security(&mut tx, new).unwrap();
    set_visibility(&mut tx, VisibilitySettings::default()).unwrap();
    set_business_unit_setup(&mut tx, true).unwrap();
    let (_, log) = tx.finish();
    let got: Vec<(&str, &str)> = log
        .iter()
        .map(|a| (a.action.as_str(), a.details.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("settings.security.update", "lockout_threshold 5 -> 7"),
            ("settings.visibility.update", "no change"),
            (
                "settings.business_units.update",
                "new_ip_limit_enabled false -> true"
            ),
        ]
    );
    w.state = state;
}

#[test]
fn r10_3_account_info_lists_the_users_appliances_permissions_and_own_scans() {
    use crate::{ApplianceKind, ObjectKind, ScannerAppliance};
    let mut w = World::new();
    let s = w.user("s", Role::Scanner, None);
    let other = w.user("o", Role::Scanner, None);
    for (id, name) in [("a1", "zeta"), ("a2", "alpha"), ("a3", "hidden")] {
        w.state.appliances.insert(
            id.into(),
            ScannerAppliance {
                id: id.into(),
                name: name.into(),
                kind: ApplianceKind::Physical,
                business_unit: None,
                created_at: Timestamp::from_unix_micros(1),
            },
        );
    }
    let g = w.group("Lab", &[], "m1", Role::Manager, &["10.0.0.0/24"]);
    if let Some(group) = w.state.asset_groups.get_mut(&g) {
        group.assets.scanner_appliances = ["a1".to_owned(), "a2".to_owned()].into();
    }
    w.assign(&s, &[&g]);
    w.set_perms(&s, &[Permission::ManageVirtualScanners]);

    // Scans and maps of the user's own, and others' that must not count.
    let mut ids = Vec::new();
    for (i, kind) in [
        ObjectKind::ScanResult,
        ObjectKind::ScanResult,
        ObjectKind::MapResult,
        ObjectKind::ScheduledScan,
        ObjectKind::ScanResult,
        ObjectKind::MapResult,
        ObjectKind::ScanResult,
    ]
    .into_iter()
    .enumerate()
    {
        let id = w.object(kind, &s, &["10.0.0.1"]);
        w.with_object(&id, |o| {
            o.updated_at = Timestamp::from_unix_micros(100 + i as i64)
        });
        ids.push(id);
    }
    w.object(ObjectKind::SearchList, &s, &[]);
    w.object(ObjectKind::ScanResult, &other, &[]);

    let info = account_info(&w.acting(&s));
    let names: Vec<&str> = info.appliances.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["alpha", "zeta"], "the group's appliances, by name");
    assert_eq!(info.permissions, [Permission::ManageVirtualScanners]);
    assert_eq!(
        (
            info.work.scan_results,
            info.work.map_results,
            info.work.scheduled_scans
        ),
        (4, 2, 1)
    );
    let recent: Vec<&str> = info.work.recent.iter().map(|o| o.id.as_str()).collect();
    let newest: Vec<&str> = ids
        .iter()
        .rev()
        .take(RECENT_WORK)
        .map(|s| s.as_str())
        .collect();
    assert_eq!(recent, newest, "the newest few, newest first");

    // Someone else's account info shows none of it; a Manager reaches every
    // appliance.
    let info = account_info(&w.acting(&other));
    assert!(info.appliances.is_empty());
    assert_eq!(info.work.scan_results, 1);
    assert!(info.permissions.is_empty());
    let names: Vec<String> = account_info(&w.acting("m1"))
        .appliances
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["alpha", "hidden", "zeta"]);
}
