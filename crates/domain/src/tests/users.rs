//! Tests of `users`, named after the rule they hold.

use super::prelude::*;
use crate::testkit::World;
use crate::users::*;
use crate::{Code, Feature, Module, ServiceType};

fn new_user(login: &str, role: Role, unit: Option<&Id>) -> NewUser {
    NewUser {
        login: login.into(),
        email: format!("{login}@example.com"),
        first_name: "First".into(),
        last_name: "Last".into(),
        role,
        business_unit: unit.cloned(),
        asset_groups: Vec::new(),
        permissions: None,
        access: Access::UiAndApi,
        external_id: None,
    }
}

fn create(w: &mut World, actor: &str, id: &str, new: NewUser) -> Result<User, Refusal> {
    let id = id.to_owned();
    w.run(actor, move |tx| create_user(tx, id, new, None))
}

fn edit(w: &mut World, actor: &str, id: &str, patch: UserPatch) -> Result<User, Refusal> {
    w.run(actor, |tx| edit_user(tx, id, patch))
}

fn role_patch(role: Role) -> UserPatch {
    UserPatch {
        role: Some(role),
        ..Default::default()
    }
}

fn code<T: std::fmt::Debug>(r: Result<T, Refusal>) -> Code {
    r.unwrap_err().code
}

#[test]
fn r7_1_new_user_is_pending_with_a_link_and_default_permissions() {
    let mut w = World::new();
    let grant = ActivationGrant {
        token_hash: "h1".into(),
        expires_at: Timestamp::from_unix_micros(99),
    };
    let u = w
        .run("m1", |tx| {
            create_user(
                tx,
                "n1".into(),
                new_user("jane", Role::Scanner, None),
                Some(grant),
            )
        })
        .unwrap();
    assert_eq!(u.status, UserStatus::PendingActivation);
    assert_eq!(
        u.permissions,
        BTreeSet::from([Permission::CreateOptionProfiles])
    );
    assert_eq!(w.state.activation_links["h1"].user, "n1");
    assert!(w.state.credentials.contains_key("n1"));
    assert_eq!(w.state.user_by_login("JANE").unwrap().id, "n1");
}

#[test]
fn r5_create_option_profiles_is_on_by_default_for_scanners_and_unit_managers_only() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let cases = [
        (Role::Scanner, None, true),
        (Role::UnitManager, Some(&eu), true),
        (Role::Reader, None, false),
        (Role::UserAdministrator, None, false),
    ];
    for (i, (role, unit, has)) in cases.into_iter().enumerate() {
        let u = create(
            &mut w,
            "m1",
            &format!("n{i}"),
            new_user(&format!("x{i}"), role, unit),
        )
        .unwrap();
        assert_eq!(
            u.permissions.contains(&Permission::CreateOptionProfiles),
            has,
            "{role:?}"
        );
    }
    let mut n = new_user("cleared", Role::Scanner, None);
    n.permissions = Some(BTreeSet::new());
    assert!(
        create(&mut w, "m1", "n9", n)
            .unwrap()
            .permissions
            .is_empty(),
        "cleared on request"
    );
}

#[test]
fn r2_5_contacts_get_no_credentials_and_cannot_sign_in() {
    let mut w = World::new();
    let grant = ActivationGrant {
        token_hash: "h".into(),
        expires_at: Timestamp::from_unix_micros(99),
    };
    let c = w
        .run("m1", |tx| {
            create_user(
                tx,
                "c1".into(),
                new_user("c", Role::Contact, None),
                Some(grant),
            )
        })
        .unwrap();
    assert_eq!(c.status, UserStatus::Active, "nothing to activate");
    assert!(!w.state.credentials.contains_key("c1"));
    assert!(w.state.activation_links.is_empty());
    // Given a role that signs in, it must be activated first.
    let u = edit(&mut w, "m1", "c1", role_patch(Role::Reader)).unwrap();
    assert_eq!(u.status, UserStatus::PendingActivation);
    assert!(w.state.credentials.contains_key("c1"));
}

#[test]
fn r2_5_a_user_made_a_contact_loses_its_sessions() {
    let mut w = World::new();
    let s = w.user("s", Role::Scanner, None);
    w.state.sessions.insert(
        "tok".into(),
        crate::Session {
            token_hash: "tok".into(),
            id: "s1".into(),
            user: s.clone(),
            created_at: Timestamp::from_unix_micros(1),
            last_used_at: Timestamp::from_unix_micros(1),
            expires_at: Timestamp::from_unix_micros(1 << 40),
            ip: None,
            user_agent: String::new(),
        },
    );
    edit(&mut w, "m1", &s, role_patch(Role::Contact)).unwrap();
    assert!(w.state.sessions.is_empty());
}

#[test]
fn r2_login_is_validated_and_unique_case_insensitively() {
    let mut w = World::new();
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "n1",
            new_user("a b", Role::Reader, None)
        )),
        Code::Validation
    );
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "n1",
            new_user("ADMIN", Role::Reader, None)
        )),
        Code::LoginTaken
    );
    let mut n = new_user("ok", Role::Reader, None);
    n.email = "not an email".into();
    assert_eq!(code(create(&mut w, "m1", "n1", n)), Code::Validation);
    let mut n = new_user("ok", Role::Reader, None);
    n.first_name = " ".into();
    let err = create(&mut w, "m1", "n1", n).unwrap_err();
    assert!(err.message.starts_with("first_name"), "{}", err.message);
    let s = w.user("s", Role::Reader, None);
    let bad = UserPatch {
        email: Some("@".into()),
        ..Default::default()
    };
    assert_eq!(code(edit(&mut w, "m1", &s, bad)), Code::Validation);
}

#[test]
fn r2_1_managers_create_every_role_and_stay_unassigned() {
    let mut w = World::with(ServiceType::Enterprise, &[Module::Vm, Module::Pc]);
    w.feature(Feature::KbOnlyRole);
    let eu = w.unit("EU");
    let roles = [
        (Role::Manager, None),
        (Role::UnitManager, Some(&eu)),
        (Role::Scanner, Some(&eu)),
        (Role::Reader, None),
        (Role::Auditor, Some(&eu)),
        (Role::RemediationUser, None),
        (Role::KbOnly, None),
        (Role::UserAdministrator, None),
        (Role::Contact, Some(&eu)),
    ];
    for (i, (role, unit)) in roles.into_iter().enumerate() {
        create(
            &mut w,
            "m1",
            &format!("n{i}"),
            new_user(&format!("x{i}"), role, unit),
        )
        .unwrap_or_else(|e| panic!("{role:?}: {e}"));
    }
    let err = create(
        &mut w,
        "m1",
        "n20",
        new_user("mgr", Role::Manager, Some(&eu)),
    )
    .unwrap_err();
    assert_eq!(err.code, Code::Validation);
    assert!(err.message.contains("Unassigned"), "{}", err.message);
    let err = create(
        &mut w,
        "m1",
        "n21",
        new_user("ua", Role::UserAdministrator, Some(&eu)),
    )
    .unwrap_err();
    assert_eq!(err.code, Code::Validation);
    let err = create(
        &mut w,
        "m1",
        "n22",
        new_user("x", Role::Reader, Some(&"nope".into())),
    )
    .unwrap_err();
    assert_eq!(err.code, Code::Validation);
}

#[test]
fn r2_2_a_unit_manager_always_belongs_to_a_unit() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let err = create(&mut w, "m1", "n1", new_user("um", Role::UnitManager, None)).unwrap_err();
    assert_eq!(err.code, Code::Validation);
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let out = UserPatch {
        business_unit: Some(None),
        ..Default::default()
    };
    assert_eq!(code(edit(&mut w, "m1", &um, out)), Code::Validation);
}

#[test]
fn r2_2_unit_managers_manage_their_own_unit_only() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let us = w.unit("US");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let in_us = w.user("t", Role::Scanner, Some(&us));
    let in_eu = w.user("e", Role::Scanner, Some(&eu));
    create(&mut w, &um, "n1", new_user("ok", Role::Scanner, Some(&eu))).unwrap();
    create(
        &mut w,
        &um,
        "n2",
        new_user("peer", Role::UnitManager, Some(&eu)),
    )
    .unwrap();
    let cases: Vec<(&str, Result<User, Refusal>)> = vec![
        (
            "create in another unit",
            create(&mut w, &um, "n3", new_user("a", Role::Scanner, Some(&us))),
        ),
        (
            "create Unassigned",
            create(&mut w, &um, "n4", new_user("b", Role::Reader, None)),
        ),
        (
            "edit in another unit",
            edit(&mut w, &um, &in_us, role_patch(Role::Reader)),
        ),
        (
            "move out of the unit",
            edit(
                &mut w,
                &um,
                &in_eu,
                UserPatch {
                    business_unit: Some(Some(us.clone())),
                    ..Default::default()
                },
            ),
        ),
        (
            "edit a Manager",
            edit(
                &mut w,
                &um,
                "m1",
                UserPatch {
                    first_name: Some("X".into()),
                    ..Default::default()
                },
            ),
        ),
    ];
    for (what, r) in cases {
        assert_eq!(code(r), Code::Forbidden, "{what}");
    }
}

#[test]
fn r2_2_unit_managers_give_only_unit_roles() {
    let mut w = World::new();
    w.feature(Feature::KbOnlyRole);
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let s = w.user("s", Role::Scanner, Some(&eu));
    for role in [Role::Manager, Role::UserAdministrator, Role::KbOnly] {
        assert_eq!(
            code(create(&mut w, &um, "n1", new_user("x", role, Some(&eu)))),
            Code::Forbidden,
            "{role:?}"
        );
        assert_eq!(
            code(edit(&mut w, &um, &s, role_patch(role))),
            Code::Forbidden,
            "{role:?}"
        );
    }
    for role in [
        Role::Reader,
        Role::RemediationUser,
        Role::Contact,
        Role::UnitManager,
        Role::Scanner,
    ] {
        edit(&mut w, &um, &s, role_patch(role)).unwrap_or_else(|e| panic!("{role:?}: {e}"));
    }
}

/// R2.3: the other roles manage no users.
#[test]
fn r2_3_scanners_readers_auditors_remediation_and_kb_only_manage_no_users() {
    let mut w = World::with(ServiceType::Enterprise, &[Module::Pc]);
    let eu = w.unit("EU");
    let victim = w.user("v", Role::Reader, Some(&eu));
    for (i, role) in [
        Role::Scanner,
        Role::Reader,
        Role::Auditor,
        Role::RemediationUser,
        Role::KbOnly,
    ]
    .into_iter()
    .enumerate()
    {
        let actor = w.user(&format!("a{i}"), role, Some(&eu));
        let r = create(&mut w, &actor, "n1", new_user("x", Role::Reader, Some(&eu)));
        assert_eq!(code(r), Code::Forbidden, "{role:?} create");
        let r = edit(
            &mut w,
            &actor,
            &victim,
            UserPatch {
                first_name: Some("X".into()),
                ..Default::default()
            },
        );
        assert!(
            matches!(r.unwrap_err().code, Code::Forbidden | Code::NotFound),
            "{role:?} edit"
        );
    }
}

#[test]
fn r2_3_kb_only_needs_its_feature_and_a_manager() {
    let mut w = World::new();
    let ua = w.user("ua", Role::UserAdministrator, None);
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "n1",
            new_user("k", Role::KbOnly, None)
        )),
        Code::FeatureUnavailable
    );
    w.feature(Feature::KbOnlyRole);
    assert_eq!(
        code(create(&mut w, &ua, "n1", new_user("k", Role::KbOnly, None))),
        Code::Forbidden
    );
    create(&mut w, "m1", "n1", new_user("k", Role::KbOnly, None)).unwrap();
}

#[test]
fn r1_3_auditor_exists_only_with_pc() {
    let mut w = World::new();
    let err = create(&mut w, "m1", "n1", new_user("a", Role::Auditor, None)).unwrap_err();
    assert_eq!(err.code, Code::FeatureUnavailable);
    assert!(err.message.contains("PC"));
    let s = w.user("s", Role::Scanner, None);
    assert_eq!(
        code(edit(&mut w, "m1", &s, role_patch(Role::Auditor))),
        Code::FeatureUnavailable
    );
    let mut w = World::with(ServiceType::Enterprise, &[Module::Pc]);
    create(&mut w, "m1", "n1", new_user("a", Role::Auditor, None)).unwrap();
}

#[test]
fn r1_2_consultant_unlimited_gives_only_reader_and_user_administrator() {
    let mut w = World::with(ServiceType::ConsultantUnlimited, &[Module::Vm]);
    let r = w.user("r", Role::Reader, None);
    for role in [Role::Scanner, Role::Manager, Role::Contact] {
        assert_eq!(
            code(create(&mut w, "m1", "n1", new_user("x", role, None))),
            Code::RoleNotAllowed,
            "{role:?}"
        );
        assert_eq!(
            code(edit(&mut w, "m1", &r, role_patch(role))),
            Code::RoleNotAllowed,
            "{role:?}"
        );
    }
    create(&mut w, "m1", "n1", new_user("x", Role::Reader, None)).unwrap();
    create(
        &mut w,
        "m1",
        "n2",
        new_user("y", Role::UserAdministrator, None),
    )
    .unwrap();
    // Users that exist keep their role and can still be edited.
    edit(
        &mut w,
        "m1",
        "m1",
        UserPatch {
            first_name: Some("Ann".into()),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn r1_2_express_lite_has_no_business_units() {
    let mut w = World::with(ServiceType::ExpressLite, &[Module::Vm]);
    let eu = w.unit("EU"); // cannot happen through commands; tests the user check alone
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "n1",
            new_user("x", Role::Reader, Some(&eu))
        )),
        Code::FeatureUnavailable
    );
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "n1",
            new_user("x", Role::UnitManager, None)
        )),
        Code::FeatureUnavailable
    );
    create(&mut w, "m1", "n1", new_user("x", Role::Scanner, None)).unwrap();
}

#[test]
fn r2_4_ua_creates_and_edits_every_user_but_other_uas() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let ua = w.user("ua", Role::UserAdministrator, None);
    create(&mut w, &ua, "n1", new_user("mgr", Role::Manager, None)).unwrap();
    create(
        &mut w,
        &ua,
        "n2",
        new_user("um", Role::UnitManager, Some(&eu)),
    )
    .unwrap();
    edit(&mut w, &ua, "n2", role_patch(Role::Scanner)).unwrap();
    assert_eq!(
        code(create(
            &mut w,
            &ua,
            "n3",
            new_user("ua3", Role::UserAdministrator, None)
        )),
        Code::Forbidden
    );
    assert_eq!(
        code(edit(&mut w, &ua, "n2", role_patch(Role::UserAdministrator))),
        Code::Forbidden
    );
    edit(
        &mut w,
        &ua,
        &ua,
        UserPatch {
            first_name: Some("Me".into()),
            ..Default::default()
        },
    )
    .unwrap();
}

#[test]
fn r2_4_ua_cannot_edit_another_ua_without_feature() {
    let mut w = World::new();
    let ua = w.user("ua", Role::UserAdministrator, None);
    let ua2 = w.user("ua2", Role::UserAdministrator, None);
    let patch = || UserPatch {
        first_name: Some("X".into()),
        ..Default::default()
    };
    let err = edit(&mut w, &ua, &ua2, patch()).unwrap_err();
    assert_eq!(err.code, Code::Forbidden);
    assert!(err.message.contains("admins_manage_admins"));
    w.feature(Feature::AdminsManageAdmins);
    edit(&mut w, &ua, &ua2, patch()).unwrap();
    create(
        &mut w,
        &ua,
        "n1",
        new_user("ua3", Role::UserAdministrator, None),
    )
    .unwrap();
}

#[test]
fn r2_4_with_admins_manage_admins_every_ua_email_is_unique() {
    let mut w = World::new();
    w.feature(Feature::AdminsManageAdmins);
    let ua = w.user("ua", Role::UserAdministrator, None);
    let r = w.user("r", Role::Reader, None);
    let mut n = new_user("ua2", Role::UserAdministrator, None);
    n.email = "UA@example.com".into();
    assert_eq!(code(create(&mut w, &ua, "n1", n.clone())), Code::EmailTaken);
    assert_eq!(
        code(create(&mut w, "m1", "n1", n)),
        Code::EmailTaken,
        "whoever creates it"
    );
    let same = UserPatch {
        email: Some("ua@example.com".into()),
        ..Default::default()
    };
    edit(&mut w, &ua, &r, same).unwrap(); // a Reader may share it
    assert_eq!(
        code(edit(&mut w, "m1", &r, role_patch(Role::UserAdministrator))),
        Code::EmailTaken
    );
}

#[test]
fn r2_4_ua_edits_managers_but_never_the_last_managers_role() {
    let mut w = World::new();
    let ua = w.user("ua", Role::UserAdministrator, None);
    edit(
        &mut w,
        &ua,
        "m1",
        UserPatch {
            first_name: Some("Boss".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let err = edit(&mut w, &ua, "m1", role_patch(Role::Reader)).unwrap_err();
    assert_eq!(err.code, Code::LastManager);
    let m2 = w.user("m2", Role::Manager, None);
    edit(&mut w, &ua, &m2, role_patch(Role::Reader)).unwrap();
}

#[test]
fn r2_4_a_user_administrators_role_never_changes() {
    let mut w = World::new();
    w.feature(Feature::AdminsManageAdmins);
    let ua = w.user("ua", Role::UserAdministrator, None);
    let ua2 = w.user("ua2", Role::UserAdministrator, None);
    for (actor, target) in [("m1", &ua), (ua2.as_str(), &ua), (ua.as_str(), &ua)] {
        let err = edit(&mut w, actor, target, role_patch(Role::Manager)).unwrap_err();
        assert_eq!(err.code, Code::RoleLocked, "{actor}");
    }
    edit(&mut w, "m1", &ua, role_patch(Role::UserAdministrator)).unwrap();
}

#[test]
fn r2_6_never_zero_active_managers() {
    let mut w = World::new();
    let err = edit(&mut w, "m1", "m1", role_patch(Role::Reader)).unwrap_err();
    assert_eq!(err.code, Code::LastManager);
    assert_eq!(
        crate::roles::protect_last_manager(&w.state, "m1")
            .unwrap_err()
            .code,
        Code::LastManager
    );
    // A pending Manager does not count.
    let p = w.user("p", Role::Manager, None);
    w.set_status(&p, UserStatus::PendingActivation);
    assert_eq!(
        code(edit(&mut w, "m1", "m1", role_patch(Role::Reader))),
        Code::LastManager
    );
    edit(&mut w, "m1", &p, role_patch(Role::Reader)).unwrap();
    let m2 = w.user("m2", Role::Manager, None);
    assert!(crate::roles::protect_last_manager(&w.state, &m2).is_ok());
    edit(&mut w, &m2, &m2, role_patch(Role::Reader)).unwrap();
}

#[test]
fn r3_3_a_user_moves_to_another_unit_by_editing_it() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let us = w.unit("US");
    let s = w.user("s", Role::Scanner, Some(&eu));
    let mv = UserPatch {
        business_unit: Some(Some(us.clone())),
        ..Default::default()
    };
    let mut state = w.state.clone();
    let mut tx = Tx::new(
        &mut state,
        Timestamp::from_unix_micros(5),
        crate::testkit::actor_of(&w.state, "m1"),
    );
    let u = edit_user(&mut tx, &s, mv).unwrap();
    assert_eq!(u.business_unit.as_ref(), Some(&us));
    let (_, log) = tx.finish();
    assert_eq!(log[0].action, "user.update");
    assert_eq!(log[0].details, "business unit \"EU\" -> \"US\"");
}

#[test]
fn r2_everyone_edits_its_own_names_and_email_only() {
    let mut w = World::new();
    let s = w.user("s", Role::Scanner, None);
    let mine = UserPatch {
        first_name: Some("Sam".into()),
        email: Some("sam@example.com".into()),
        ..Default::default()
    };
    edit(&mut w, &s, &s, mine).unwrap();
    let patches = [
        role_patch(Role::Reader),
        UserPatch {
            access: Some(Access::ApiOnly),
            ..Default::default()
        },
        UserPatch {
            asset_groups: Some(vec!["g1".into()]),
            ..Default::default()
        },
        UserPatch {
            permissions: Some([Permission::PurgeHostHistory].into()),
            ..Default::default()
        },
    ];
    for p in patches {
        assert_eq!(
            code(edit(&mut w, &s, &s, p.clone())),
            Code::Forbidden,
            "{p:?}"
        );
    }
    // Echoing the current values is not a change.
    let echo = UserPatch {
        role: Some(Role::Scanner),
        access: Some(Access::UiAndApi),
        ..Default::default()
    };
    edit(&mut w, &s, &s, echo).unwrap();
}

#[test]
fn r11_1_each_change_writes_one_entry_with_a_stable_action() {
    let mut w = World::new();
    let s = w.user("s", Role::Scanner, None);
    let mut state = w.state.clone();
    let mut tx = Tx::new(
        &mut state,
        Timestamp::from_unix_micros(5),
        crate::testkit::actor_of(&w.state, "m1"),
    );
    create_user(
        &mut tx,
        "n1".into(),
        new_user("n", Role::Reader, None),
        None,
    )
    .unwrap();
    set_permissions(&mut tx, &s, BTreeSet::from([Permission::PurgeHostHistory])).unwrap();
    edit_user(
        &mut tx,
        &s,
        UserPatch {
            last_name: Some("Smith".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let (_, log) = tx.finish();
    let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        ["user.create", "permissions.update", "user.update"]
    );
    assert_eq!(log[1].details, "permissions +purge_host_history");
    assert_eq!(log[0].target, "user n (n1)");
}

#[test]
fn asset_groups_are_stored_deduplicated() {
    let mut w = World::new();
    let s = w.user("s", Role::Scanner, None);
    for g in ["g1", "g2"] {
        w.state.asset_groups.insert(
            g.into(),
            crate::AssetGroup {
                id: g.into(),
                title: g.into(),
                assets: Default::default(),
                business_units: Default::default(),
                owner: "m1".into(),
                created_by_role: Role::Manager,
                created_at: Timestamp::from_unix_micros(1),
            },
        );
    }
    let p = UserPatch {
        asset_groups: Some(vec!["g1".into(), "g2".into(), "g1".into()]),
        ..Default::default()
    };
    assert_eq!(
        edit(&mut w, "m1", &s, p).unwrap().asset_groups,
        ["g1", "g2"]
    );
    let bad = UserPatch {
        asset_groups: Some(vec!["".into()]),
        ..Default::default()
    };
    assert_eq!(code(edit(&mut w, "m1", &s, bad)), Code::Validation);
}

#[test]
fn r7_4_a_unit_change_by_edit_of_a_user_who_owns_things_names_the_move() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let us = w.unit("US");
    let to_us = || UserPatch {
        business_unit: Some(Some(us.clone())),
        ..Default::default()
    };
    // Owning nothing, the edit is the move: nothing is left behind.
    let plain = w.user("pat", Role::Scanner, Some(&eu));
    let u = edit(&mut w, "m1", &plain, to_us()).unwrap();
    assert_eq!(u.business_unit.as_ref(), Some(&us));
    // A configuration or a personal asset group would stay in EU.
    let sam = w.user("sam", Role::Scanner, Some(&eu));
    let o = w.object(crate::ObjectKind::ScheduledScan, &sam, &["10.0.0.1"]);
    let r = edit(&mut w, "m1", &sam, to_us()).unwrap_err();
    assert_eq!(r.code, Code::UseMove);
    assert!(
        r.message.contains(&format!("/api/v1/users/{sam}/move")),
        "{r:?}"
    );
    assert_eq!(w.state.objects[&o].business_unit.as_ref(), Some(&eu));
    let gus = w.user("gus", Role::Scanner, Some(&eu));
    w.group("Gus's", &[&eu], &gus, Role::Scanner, &["10.0.0.2"]);
    assert_eq!(code(edit(&mut w, "m1", &gus, to_us())), Code::UseMove);
}
