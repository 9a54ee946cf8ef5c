//! Tests of `objects`, named after the rule they hold.

use super::prelude::*;
use crate::lifecycle::deactivate;
use crate::lifecycle::reactivate;
use crate::objects::*;
use crate::testkit::{EuUs, World};
use crate::{Feature, Timestamp, VisibilitySettings};

fn ips(items: &[&str]) -> IpSet {
    IpSet::parse_list("ips", items).unwrap()
}

fn new(kind: ObjectKind, name: &str) -> NewObject {
    NewObject {
        kind,
        name: name.into(),
        owner: None,
        global: false,
        asset_groups: Vec::new(),
        ips: IpSet::default(),
        assignee: None,
    }
}

fn create(w: &mut World, actor: &str, n: NewObject) -> Result<OwnedObject, Refusal> {
    let id = format!("obj{}", w.state.objects.len() + 1);
    w.run(actor, move |tx| create_object(tx, id, n))
}

/// EU (10.1.0.0/24 in group "EU nets") and US units; a Unit Manager and a
/// Scanner holding the group in EU; a Unit Manager in US.
fn fixture() -> EuUs {
    World::eu_us("EU nets")
}

#[test]
fn r9_1_an_object_is_registered_with_owner_unit_and_creator_role() {
    let mut f = fixture();
    let o = create(&mut f.w, &f.sam, new(ObjectKind::ScheduledScan, "nightly")).unwrap();
    assert_eq!(o.owner.as_deref(), Some(f.sam.as_str()));
    assert_eq!(o.business_unit.as_deref(), Some(f.eu.as_str()));
    assert_eq!(o.created_by_role, Role::Scanner);
    assert!(!o.deactivated && !o.global);
    assert_eq!(f.w.state.objects[&o.id], o);
    // A Manager registers one for a user; the object is in that user's unit.
    let mut n = new(ObjectKind::ScanResult, "scan 1");
    n.owner = Some(f.sam.clone());
    let o = create(&mut f.w, "m1", n).unwrap();
    assert_eq!(o.owner.as_deref(), Some(f.sam.as_str()));
    assert_eq!(o.business_unit.as_deref(), Some(f.eu.as_str()));
}

#[test]
fn r9_1_r5_only_roles_and_permissions_that_allow_it_own_an_object() {
    let mut f = fixture();
    let reader = f.w.user("rita", Role::Reader, Some(&f.eu));
    let auditor = f.w.user("audrey", Role::Auditor, None);
    let r = create(&mut f.w, &reader, new(ObjectKind::ScheduledScan, "x")).unwrap_err();
    assert_eq!(r.code, Code::RoleNotAllowed);
    create(&mut f.w, &reader, new(ObjectKind::ReportTemplate, "mine")).unwrap();
    let r = create(
        &mut f.w,
        &f.sam.clone(),
        new(ObjectKind::OptionProfile, "x"),
    )
    .unwrap_err();
    assert_eq!(r.code, Code::RoleNotAllowed, "{}", r.message);
    f.w.set_perms(&f.sam, &[Permission::CreateOptionProfiles]);
    create(
        &mut f.w,
        &f.sam.clone(),
        new(ObjectKind::OptionProfile, "fast"),
    )
    .unwrap();
    let r = create(
        &mut f.w,
        &f.jane.clone(),
        new(ObjectKind::RemediationPolicy, "p"),
    )
    .unwrap_err();
    assert_eq!(r.code, Code::RoleNotAllowed);
    // Auditors cannot act on objects at all (they own none).
    let r = create(&mut f.w, &auditor, new(ObjectKind::SearchList, "x")).unwrap_err();
    assert_eq!(r.code, Code::RoleNotAllowed);
}

#[test]
fn r9_1_global_is_for_profiles_and_templates_and_set_by_managers() {
    let mut f = fixture();
    let mut n = new(ObjectKind::ScheduledScan, "x");
    n.global = true;
    assert_eq!(
        create(&mut f.w, "m1", n).unwrap_err().code,
        Code::Validation
    );
    let mut n = new(ObjectKind::ReportTemplate, "x");
    n.global = true;
    let jane = f.jane.clone();
    assert_eq!(
        create(&mut f.w, &jane, n.clone()).unwrap_err().code,
        Code::Forbidden
    );
    let g = create(&mut f.w, "m1", n).unwrap();
    // Everyone sees a global template.
    let a = f.w.acting(&f.sam);
    assert!(get_object(&a, &g.id).is_ok());
}

#[test]
fn r9_only_managers_and_unit_managers_register_for_others() {
    let mut f = fixture();
    let pat = f.w.user("pat", Role::Scanner, Some(&f.eu));
    let mut n = new(ObjectKind::ScanResult, "x");
    n.owner = Some(pat.clone());
    let sam = f.sam.clone();
    assert_eq!(
        create(&mut f.w, &sam, n.clone()).unwrap_err().code,
        Code::Forbidden
    );
    let ursula = f.ursula.clone();
    assert_eq!(
        create(&mut f.w, &ursula, n.clone()).unwrap_err().code,
        Code::Forbidden
    );
    let jane = f.jane.clone();
    assert_eq!(create(&mut f.w, &jane, n).unwrap().owner, Some(pat));
}

#[test]
fn r9_users_see_their_own_unit_managers_their_unit() {
    let mut f = fixture();
    let pat = f.w.user("pat", Role::Scanner, Some(&f.eu));
    let sam = f.sam.clone();
    let o = create(&mut f.w, &sam, new(ObjectKind::SearchList, "mine")).unwrap();
    assert!(get_object(&f.w.acting(&sam), &o.id).is_ok());
    assert!(get_object(&f.w.acting(&f.jane), &o.id).is_ok());
    assert!(get_object(&f.w.acting("m1"), &o.id).is_ok());
    assert_eq!(
        get_object(&f.w.acting(&pat), &o.id).unwrap_err().code,
        Code::NotFound
    );
    assert_eq!(
        get_object(&f.w.acting(&f.ursula), &o.id).unwrap_err().code,
        Code::NotFound
    );
    // Not seen is not changed either: the refusal says not found.
    let r = f.w.run(&pat, |tx| delete_object(tx, &o.id)).unwrap_err();
    assert_eq!(r.code, Code::NotFound);
    // The owner's Unit Manager changes it.
    let jane = f.jane.clone();
    f.w.run(&jane, |tx| delete_object(tx, &o.id)).unwrap();
    assert!(!f.w.state.objects.contains_key(&o.id));
}

#[test]
fn r6_5_auth_records_scanners_view_but_never_edit_managers_records() {
    let mut f = fixture();
    f.w.feature(Feature::ScannersManageAuthRecords);
    f.w.set_perms(&f.sam, &[Permission::ManageAuthRecords]);
    f.w.set_perms(&f.jane, &[Permission::ManageAuthRecords]);
    let by_manager = create(&mut f.w, "m1", new(ObjectKind::AuthRecord, "root ssh")).unwrap();
    let jane = f.jane.clone();
    let by_um = create(&mut f.w, &jane, new(ObjectKind::AuthRecord, "unit ssh")).unwrap();
    let sam = f.sam.clone();
    let by_scanner = create(&mut f.w, &sam, new(ObjectKind::AuthRecord, "my ssh")).unwrap();
    let a = f.w.acting(&sam);
    assert!(
        get_object(&a, &by_manager.id).is_ok(),
        "Scanners view Managers' records"
    );
    let rename = |n: &str| ObjectPatch {
        name: Some(n.into()),
        ..ObjectPatch::default()
    };
    let r =
        f.w.run(&sam, |tx| edit_object(tx, &by_manager.id, rename("x")))
            .unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    let r =
        f.w.run(&sam, |tx| edit_object(tx, &by_um.id, rename("x")))
            .unwrap_err();
    assert_eq!(
        r.code,
        Code::Forbidden,
        "only records created by the same role"
    );
    f.w.run(&sam, |tx| edit_object(tx, &by_scanner.id, rename("mine")))
        .unwrap();
    let r =
        f.w.run(&jane, |tx| edit_object(tx, &by_manager.id, rename("x")))
            .unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    f.w.run(&jane, |tx| edit_object(tx, &by_um.id, rename("ours")))
        .unwrap();
    // Without the permission, nobody but Managers edits.
    f.w.set_perms(&sam, &[]);
    let r =
        f.w.run(&sam, |tx| edit_object(tx, &by_scanner.id, rename("x")))
            .unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
}

#[test]
fn r10_1_restricted_scheduled_tasks_hide_schedules_on_unreachable_assets() {
    let mut f = fixture();
    let other =
        f.w.group("US nets", &[&f.us], "m1", Role::Manager, &["10.2.0.0/24"]);
    let mut n = new(ObjectKind::ScheduledScan, "wide");
    n.global = false;
    n.ips = ips(&["10.1.0.7", "10.2.0.7"]);
    let sam = f.sam.clone();
    let wide = create(&mut f.w, &sam, n).unwrap();
    let mut n = new(ObjectKind::ScheduledScan, "narrow");
    n.asset_groups = vec![f.group.clone()];
    let narrow = create(&mut f.w, &sam, n).unwrap();
    let listed = |w: &World| -> Vec<Id> {
        list_objects(&w.acting(&sam), &ObjectFilter::default())
            .into_iter()
            .map(|o| o.id.clone())
            .collect()
    };
    assert_eq!(listed(&f.w), vec![wide.id.clone(), narrow.id.clone()]);
    f.w.state.settings.visibility = VisibilitySettings {
        restrict_scheduled_tasks_on_unassigned_assets: true,
        ..VisibilitySettings::default()
    };
    assert_eq!(
        listed(&f.w),
        vec![narrow.id.clone()],
        "10.2.0.7 is not sam's"
    );
    assert_eq!(
        get_object(&f.w.acting(&sam), &wide.id).unwrap_err().code,
        Code::NotFound
    );
    // Managers reach everything and see both.
    let all = list_objects(&f.w.acting("m1"), &ObjectFilter::default());
    assert_eq!(all.len(), 2);
    let _ = other;
}

/// Runs `launch` as `actor` outside [`World::run`], which insists on
/// exactly one entry: a refused launch may write none or one.
fn try_launch(w: &mut World, actor: &str, id: &str) -> (Result<Launch, Refusal>, usize) {
    let who = crate::testkit::actor_of(&w.state, actor);
    let mut tx = Tx::new(&mut w.state, Timestamp::from_unix_micros(99), who);
    let out = launch(&mut tx, id);
    let (_, log) = tx.finish();
    (out, log.len())
}

#[test]
fn r9_3_r7_3_a_schedule_of_a_deactivated_owner_is_refused_and_deactivated() {
    let mut f = fixture();
    let sam = f.sam.clone();
    let s = create(&mut f.w, &sam, new(ObjectKind::ScheduledScan, "nightly")).unwrap();
    let (out, entries) = try_launch(&mut f.w, "m1", &s.id);
    assert!(matches!(out, Ok(Launch::Allowed(_))));
    assert_eq!(
        entries, 1,
        "an allowed launch is logged and changes nothing else"
    );
    assert!(!f.w.state.objects[&s.id].deactivated);
    f.w.run("m1", |tx| deactivate(tx, &sam)).unwrap();
    // R7.3: other objects stay; the schedule is still in service until it launches.
    assert!(!f.w.state.objects[&s.id].deactivated);
    let (out, entries) = try_launch(&mut f.w, "m1", &s.id);
    let Ok(Launch::OwnerDeactivated(marked)) = out else {
        panic!("{out:?}")
    };
    assert!(marked.deactivated && f.w.state.objects[&s.id].deactivated);
    assert_eq!(entries, 1, "the deactivation is logged");
    // Asking again refuses again, without a second change.
    let (out, entries) = try_launch(&mut f.w, "m1", &s.id);
    assert!(matches!(out, Ok(Launch::OwnerDeactivated(_))));
    assert_eq!(entries, 0);
    // Back in service only by someone's decision, once its owner is active.
    let active = ObjectPatch {
        deactivated: Some(false),
        ..ObjectPatch::default()
    };
    let r =
        f.w.run("m1", |tx| edit_object(tx, &s.id, active.clone()))
            .unwrap_err();
    assert_eq!(r.code, Code::ScheduleOwnerDeactivated);
    f.w.run("m1", |tx| reactivate(tx, &sam)).unwrap();
    let (out, _) = try_launch(&mut f.w, "m1", &s.id);
    assert_eq!(out.unwrap_err().code, Code::Conflict, "still deactivated");
    f.w.run("m1", |tx| edit_object(tx, &s.id, active)).unwrap();
    assert!(matches!(
        try_launch(&mut f.w, "m1", &s.id).0,
        Ok(Launch::Allowed(_))
    ));
    // Only schedules launch.
    let r = create(&mut f.w, "m1", new(ObjectKind::SearchList, "l")).unwrap();
    assert_eq!(
        try_launch(&mut f.w, "m1", &r.id).0.unwrap_err().code,
        Code::Conflict
    );
}

#[test]
fn r9_3_the_scheduler_service_launches_any_schedule_and_deactivates_an_orphan() {
    let mut f = fixture();
    let sam = f.sam.clone();
    let s = create(&mut f.w, &sam, new(ObjectKind::ScheduledScan, "nightly")).unwrap();
    let as_service = |w: &mut World, id: &str| {
        let mut tx = Tx::new(
            &mut w.state,
            Timestamp::from_unix_micros(99),
            crate::Actor::service("scheduler", None),
        );
        let out = launch(&mut tx, id);
        let (_, log) = tx.finish();
        (out, log)
    };
    let (out, log) = as_service(&mut f.w, &s.id);
    assert!(matches!(out, Ok(Launch::Allowed(_))), "{out:?}");
    assert_eq!((log.len(), log[0].action.as_str()), (1, "schedule.launch"));
    f.w.run("m1", |tx| deactivate(tx, &sam)).unwrap();
    let (out, log) = as_service(&mut f.w, &s.id);
    assert!(matches!(out, Ok(Launch::OwnerDeactivated(_))), "{out:?}");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].actor.login, "service:scheduler");
    let (out, _) = as_service(&mut f.w, "nope");
    assert_eq!(out.unwrap_err().code, Code::NotFound);
    // The operator is no service: it has no sight of the registry here.
    let mut tx = Tx::new(
        &mut f.w.state,
        Timestamp::from_unix_micros(99),
        crate::Actor::operator(),
    );
    assert_eq!(launch(&mut tx, &s.id).unwrap_err().code, Code::Forbidden);
}

#[test]
fn r9_3_reassigning_a_schedule_to_an_active_user_keeps_it_running() {
    let mut f = fixture();
    let sam = f.sam.clone();
    let pat = f.w.user("pat", Role::Scanner, Some(&f.eu));
    let s = create(&mut f.w, &sam, new(ObjectKind::ScheduledScan, "nightly")).unwrap();
    f.w.run("m1", |tx| deactivate(tx, &sam)).unwrap();
    let give = ObjectPatch {
        owner: Some(pat.clone()),
        ..ObjectPatch::default()
    };
    f.w.run("m1", |tx| edit_object(tx, &s.id, give)).unwrap();
    assert!(matches!(
        try_launch(&mut f.w, "m1", &s.id).0,
        Ok(Launch::Allowed(_))
    ));
    // A deactivated user is given nothing.
    let back = ObjectPatch {
        owner: Some(sam.clone()),
        ..ObjectPatch::default()
    };
    let r =
        f.w.run("m1", |tx| edit_object(tx, &s.id, back))
            .unwrap_err();
    assert_eq!(r.code, Code::Conflict);
}

#[test]
fn r9_2_a_ticket_is_valid_while_its_assignee_reaches_its_assets() {
    let mut f = fixture();
    let rem = f.w.user("remy", Role::RemediationUser, Some(&f.eu));
    let mut n = new(ObjectKind::RemediationTicket, "CVE on 10.1.0.9");
    n.ips = ips(&["10.1.0.9"]);
    n.assignee = Some(Assignee::User(rem.clone()));
    let t = create(&mut f.w, "m1", n).unwrap();
    assert!(!t.valid, "remy holds no group with 10.1.0.9");
    let to_sam = ObjectPatch {
        assignee: Some(Assignee::User(f.sam.clone())),
        ..ObjectPatch::default()
    };
    let t = f.w.run("m1", |tx| edit_object(tx, &t.id, to_sam)).unwrap();
    assert!(t.valid, "sam holds EU nets");
    // Tickets need a user and an asset; other kinds take no assignee.
    let mut n = new(ObjectKind::RemediationTicket, "no one");
    n.ips = ips(&["10.1.0.9"]);
    assert_eq!(
        create(&mut f.w, "m1", n).unwrap_err().code,
        Code::Validation
    );
    let mut n = new(ObjectKind::RemediationTicket, "nothing");
    n.assignee = Some(Assignee::User(f.sam.clone()));
    assert_eq!(
        create(&mut f.w, "m1", n).unwrap_err().code,
        Code::Validation
    );
    let mut n = new(ObjectKind::ScheduledScan, "x");
    n.assignee = Some(Assignee::User(f.sam.clone()));
    assert_eq!(
        create(&mut f.w, "m1", n).unwrap_err().code,
        Code::Validation
    );
    // A policy defaults to the user running the scan.
    f.w.set_perms(&f.jane, &[Permission::VmRemediationPolicy]);
    let jane = f.jane.clone();
    let p = create(
        &mut f.w,
        &jane,
        new(ObjectKind::RemediationPolicy, "unit policy"),
    )
    .unwrap();
    assert_eq!(p.assignee, Some(Assignee::UserRunningScan));
}

#[test]
fn r13_bad_names_and_targets_change_nothing() {
    let mut f = fixture();
    for bad in ["", "   ", "a\u{0}b"] {
        let r = create(&mut f.w, "m1", new(ObjectKind::SearchList, bad)).unwrap_err();
        assert_eq!(r.code, Code::Validation);
    }
    let mut n = new(ObjectKind::ScheduledScan, "x");
    n.asset_groups = vec!["nope".into()];
    let r = create(&mut f.w, "m1", n).unwrap_err();
    assert_eq!(r.code, Code::Validation);
    assert!(r.message.contains("asset_groups"), "{}", r.message);
    assert!(f.w.state.objects.is_empty());
}

#[test]
fn r5_5_a_units_own_remediation_policies_win_over_the_subscriptions() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let us = w.unit("US");
    let jane = w.user("jane", Role::UnitManager, Some(&eu));
    let ursula = w.user("ursula", Role::UnitManager, Some(&us));
    // No policy anywhere yet.
    let (level, list) = remediation_policies_for(&w.acting("m1"), &eu).unwrap();
    assert_eq!((level, list.len()), (PolicyLevel::None, 0));

    let sub = w.object(ObjectKind::RemediationPolicy, "m1", &[]);
    let eu_first = w.object(ObjectKind::RemediationPolicy, &jane, &[]);
    let eu_second = w.object(ObjectKind::RemediationPolicy, &jane, &[]);
    // Registered first, but dated later (as the service that made it said).
    w.with_object(&eu_first, |o| o.created_at = Timestamp::from_unix_micros(9));
    w.object(ObjectKind::SearchList, &ursula, &[]);

    let (level, list) = remediation_policies_for(&w.acting(&jane), &eu).unwrap();
    assert_eq!(level, PolicyLevel::Unit);
    let ids: Vec<&str> = list.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, [eu_second.as_str(), eu_first.as_str()], "oldest first");
    // US has none of its own: the subscription's apply.
    let (level, list) = remediation_policies_for(&w.acting(&ursula), &us).unwrap();
    assert_eq!(level, PolicyLevel::Subscription);
    assert_eq!(
        list.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
        [sub.as_str()]
    );
    // A unit out of sight is not found.
    let err = remediation_policies_for(&w.acting(&ursula), &eu).unwrap_err();
    assert_eq!(err.code, Code::NotFound);
}

/// R9.2: whatever changes the assignee's reach settles its tickets once,
/// after the command (`crate::settle`): taking sam's group away invalidates
/// the ticket, giving it back revalidates it; a write of sam's record that
/// leaves its reach alone (a login's time) walks no ticket.
#[test]
fn r9_2_a_change_of_reach_settles_tickets_after_any_command() {
    let mut f = fixture();
    let mut n = new(ObjectKind::RemediationTicket, "CVE on 10.1.0.9");
    n.ips = ips(&["10.1.0.9"]);
    n.assignee = Some(Assignee::User(f.sam.clone()));
    let t = create(&mut f.w, "m1", n).unwrap();
    assert!(t.valid);
    let groups = |g: Vec<Id>| crate::users::UserPatch {
        asset_groups: Some(g),
        ..Default::default()
    };
    let sam = f.sam.clone();
    let (out, log) =
        f.w.run_logged("m1", |tx| crate::users::edit_user(tx, &sam, groups(vec![])));
    out.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["user.update", "ticket.invalidate"]);
    assert!(!f.w.state.objects[&t.id].valid);
    let back = vec![f.group.clone()];
    let (_, log) =
        f.w.run_logged("m1", |tx| crate::users::edit_user(tx, &sam, groups(back)));
    assert_eq!(log.last().unwrap().action, "ticket.revalidate");
    assert!(f.w.state.objects[&t.id].valid);

    let mut state = f.w.state.clone();
    let mut tx = Tx::new(
        &mut state,
        Timestamp::from_unix_micros(99),
        crate::Actor::operator(),
    );
    let mut again = tx.state().users[&f.sam].clone();
    again.last_login_at = Some(Timestamp::from_unix_micros(99));
    tx.put_user(again);
    assert!(!tx.reach_changed(), "a login's time is no change of reach");
    let mut moved = tx.state().users[&f.sam].clone();
    moved.asset_groups.clear();
    tx.put_user(moved);
    assert!(tx.reach_changed());
}
