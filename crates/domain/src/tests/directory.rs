//! Tests of the user directory, named after the rule they hold.

use super::prelude::*;
use crate::directory::*;
use crate::testkit::World;
use crate::users::{UserPatch, edit_user};
use crate::{Module, ServiceType, contacts};

fn listing(w: &World, viewer: &str, f: UserFilter) -> Vec<String> {
    list_users(&w.acting(viewer), &f, None, None)
        .unwrap()
        .items
        .into_iter()
        .map(|v| v.login)
        .collect()
}

#[test]
fn r4_1_user_lists_show_poc_labels() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let s = w.user("s", Role::Scanner, Some(&eu));
    w.run("m1", |tx| contacts::set_unit_poc(tx, &eu, &s))
        .unwrap();
    let page = list_users(&w.acting("m1"), &UserFilter::default(), None, None).unwrap();
    let labels: Vec<_> = page
        .items
        .iter()
        .map(|v| v.primary_contact.map(|l| l.as_str()))
        .collect();
    assert_eq!(labels, [Some("POC"), Some("POC_BU")]);
}

#[test]
fn users_list_filters_by_unit_role_status_and_text() {
    let mut w = World::new();
    let eu = w.unit("EU");
    w.user("ann", Role::Scanner, Some(&eu));
    let bob = w.user("bob", Role::Reader, None);
    w.rename(&bob, "Robert", "Marley");
    w.set_status(&bob, UserStatus::PendingActivation);
    let f = |bu, role, status: Option<UserStatus>, q: Option<&str>| UserFilter {
        business_unit: bu,
        role,
        status: status.map(StatusFilter::Is),
        q: q.map(str::to_owned),
    };
    assert_eq!(
        listing(
            &w,
            "m1",
            f(Some(UnitFilter::Unit(eu.clone())), None, None, None)
        ),
        ["ann"]
    );
    assert_eq!(
        listing(&w, "m1", f(Some(UnitFilter::Unassigned), None, None, None)),
        ["admin", "bob"]
    );
    assert_eq!(
        listing(&w, "m1", f(None, Some(Role::Reader), None, None)),
        ["bob"]
    );
    assert_eq!(
        listing(&w, "m1", f(None, None, Some(UserStatus::Active), None)),
        ["admin", "ann"]
    );
    assert_eq!(
        listing(&w, "m1", f(None, None, None, Some("MARL"))),
        ["bob"]
    );
    assert_eq!(
        listing(&w, "m1", f(None, None, None, Some("ANN@EXAMPLE"))),
        ["ann"]
    );
}

#[test]
fn users_list_pages_with_a_cursor() {
    let mut w = World::new();
    for i in 0..5 {
        w.user(&format!("u{i}"), Role::Reader, None);
    }
    let a = w.acting("m1");
    let p1 = list_users(&a, &UserFilter::default(), Some(4), None).unwrap();
    assert_eq!(p1.items.len(), 4);
    let p2 = list_users(
        &a,
        &UserFilter::default(),
        Some(4),
        p1.next_cursor.as_deref(),
    )
    .unwrap();
    assert_eq!(p2.items.len(), 2);
    assert_eq!(p2.next_cursor, None);
    assert_eq!(p2.items[1].login, "u4");
    for bad in [0, 1001] {
        assert_eq!(
            list_users(&a, &UserFilter::default(), Some(bad), None)
                .unwrap_err()
                .code,
            Code::Validation
        );
    }
}

#[test]
fn r10_1_restricted_users_lose_contact_details_and_text_search_cannot_find_them_by_it() {
    let mut w = World::new();
    w.state.settings.visibility.restrict_user_info_outside_unit = true;
    let eu = w.unit("EU");
    let us = w.unit("US");
    let s = w.user("s", Role::Scanner, Some(&eu));
    let t = w.user("t", Role::Scanner, Some(&us));
    w.state.users.get_mut(&t).unwrap().asset_groups = vec!["g".into()];
    let v = get_user(&w.acting(&s), &t).unwrap();
    assert!(v.restricted && v.email.is_none() && v.asset_groups.is_none());
    let q = UserFilter {
        q: Some("t@example".into()),
        ..Default::default()
    };
    assert!(
        listing(&w, &s, q.clone()).is_empty(),
        "no match on a hidden email"
    );
    assert_eq!(listing(&w, "m1", q), ["t"]);
    assert_eq!(
        get_user(&w.acting(&s), &s).unwrap().email.as_deref(),
        Some("s@example.com")
    );
}

#[test]
fn r10_1_hidden_users_are_in_no_list_filter_or_lookup() {
    let mut w = World::new();
    w.state.settings.visibility.restrict_user_info_outside_unit = true;
    w.state.settings.visibility.hide_users_outside_unit = true;
    let eu = w.unit("EU");
    let us = w.unit("US");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let t = w.user("t", Role::Scanner, Some(&us));
    assert_eq!(listing(&w, &um, UserFilter::default()), ["um"]);
    let f = UserFilter {
        business_unit: Some(UnitFilter::Unit(us.clone())),
        ..Default::default()
    };
    assert!(listing(&w, &um, f).is_empty());
    assert_eq!(
        get_user(&w.acting(&um), &t).unwrap_err().code,
        Code::NotFound
    );
    let patch = UserPatch {
        role: Some(Role::Reader),
        ..Default::default()
    };
    let err = w.run(&um, |tx| edit_user(tx, &t, patch)).unwrap_err();
    assert_eq!(err.code, Code::NotFound);
}

#[test]
fn r2_3_auditors_remediation_and_kb_only_users_see_only_themselves() {
    let mut w = World::with(ServiceType::Enterprise, &[Module::Pc]);
    for (i, role) in [Role::Auditor, Role::RemediationUser, Role::KbOnly]
        .into_iter()
        .enumerate()
    {
        let me = w.user(&format!("x{i}"), role, None);
        let a = w.acting(&me);
        assert_eq!(
            list_users(&a, &UserFilter::default(), None, None)
                .unwrap_err()
                .code,
            Code::Forbidden
        );
        assert_eq!(get_user(&a, "m1").unwrap_err().code, Code::NotFound);
        assert!(get_user(&a, &me).is_ok());
    }
}

#[test]
fn r5_1_views_report_every_applicable_permission_for_managers() {
    let w = World::new();
    let v = get_user(&w.acting("m1"), "m1").unwrap();
    assert!(v.permissions.contains(&Permission::AddAssets));
    assert!(
        !v.permissions.contains(&Permission::ScaPolicies),
        "no SCA module"
    );
}

#[test]
fn r8_2_status_locked_lists_the_users_a_lock_keeps_out() {
    let mut w = World::new();
    let ann = w.user("ann", Role::Scanner, None);
    let bob = w.user("bob", Role::Scanner, None);
    let cid = w.user("cid", Role::Scanner, None);
    w.user("dan", Role::Scanner, None);
    let lock = |unfamiliar: bool, answers: bool| crate::Credentials {
        locked: !unfamiliar && !answers,
        locked_unfamiliar: unfamiliar,
        answers_locked: answers,
        ..crate::Credentials::default()
    };
    w.state.credentials.insert(ann.clone(), lock(false, false));
    w.state.credentials.insert(bob.clone(), lock(true, false));
    w.state.credentials.insert(cid.clone(), lock(false, true));
    // A deactivated user is listed as deactivated, not as locked.
    w.set_status(&cid, UserStatus::Deactivated);
    let f = |s| UserFilter {
        status: Some(s),
        ..UserFilter::default()
    };
    assert_eq!(listing(&w, "m1", f(StatusFilter::Locked)), ["ann", "bob"]);
    assert_eq!(
        listing(&w, "m1", f(StatusFilter::Is(UserStatus::Deactivated))),
        ["cid"]
    );
    assert_eq!(StatusFilter::parse("locked").unwrap(), StatusFilter::Locked);
    assert_eq!(
        StatusFilter::parse("stuck").unwrap_err().code,
        Code::Validation
    );
}
