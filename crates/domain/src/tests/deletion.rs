//! Tests of `deletion` (R7.5), one per sentence of the rule.

use super::prelude::*;
use crate::deletion::*;
use crate::lifecycle::Fate;
use crate::testkit::World;
use crate::{DistributionGroup, Timestamp};

/// EU with its primary contact pete (a Scanner); Unit Manager jane and
/// Scanners sam and pat in EU; a second Manager m2 (m1 is the
/// subscription's primary contact).
struct Fixture {
    w: World,
    eu: Id,
    pete: Id,
    jane: Id,
    sam: Id,
    pat: Id,
    m2: Id,
}

fn fixture() -> Fixture {
    let mut w = World::new();
    let eu = w.unit("EU");
    let pete = w.user("pete", Role::Scanner, Some(&eu));
    w.state.units.get_mut(&eu).unwrap().primary_contact = Some(pete.clone());
    let jane = w.user("jane", Role::UnitManager, Some(&eu));
    let sam = w.user("sam", Role::Scanner, Some(&eu));
    let pat = w.user("pat", Role::Scanner, Some(&eu));
    let m2 = w.user("m2", Role::Manager, None);
    Fixture {
        w,
        eu,
        pete,
        jane,
        sam,
        pat,
        m2,
    }
}

fn del(w: &mut World, actor: &str, user: &str, req: Delete) -> Result<Deleted, Refusal> {
    w.run_logged(actor, |tx| delete_user(tx, user, req)).0
}

fn fates(d: &Deleted, id: &str) -> Vec<(Fate, Option<Id>)> {
    d.outcomes
        .iter()
        .filter(|o| o.id == id)
        .map(|o| (o.fate, o.to.clone()))
        .collect()
}

/// No object is owned by, assigned to, or has as a member a user that is
/// gone; only authentication records have no owner.
fn nothing_refers_to_the_gone(s: &State) {
    for o in s.objects.values() {
        match &o.owner {
            Some(u) => assert!(s.users.contains_key(u), "{} owned by a deleted user", o.id),
            None => assert_eq!(o.kind, ObjectKind::AuthRecord, "{} has no owner", o.id),
        }
        if let Some(Assignee::User(u)) = &o.assignee {
            assert!(
                s.users.contains_key(u),
                "{} assigned to a deleted user",
                o.id
            );
        }
    }
    for g in s.asset_groups.values() {
        assert!(
            s.users.contains_key(&g.owner),
            "group {} owned by a deleted user",
            g.title
        );
    }
    for d in s.distribution_groups.values() {
        assert!(d.members.iter().all(|m| s.users.contains_key(m)));
        assert!(s.users.contains_key(&d.created_by));
    }
}

#[test]
fn r7_5_managers_delete_anyone_unit_managers_their_units_users() {
    let mut f = fixture();
    let us = f.w.unit("US");
    let ursula = f.w.user("ursula", Role::UnitManager, Some(&us));
    let r = del(&mut f.w, &ursula, &f.sam.clone(), Delete::default()).unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    let r = del(&mut f.w, &f.pat.clone(), &f.sam.clone(), Delete::default()).unwrap_err();
    assert_eq!(r.code, Code::Forbidden, "Scanners delete no one");
    let d = del(&mut f.w, &f.jane.clone(), &f.sam.clone(), Delete::default()).unwrap();
    assert_eq!(d.user.id, f.sam);
    assert!(!f.w.state.users.contains_key(&f.sam));
    let d = del(&mut f.w, "m1", &ursula, Delete::default()).unwrap();
    assert_eq!(d.user.login, "ursula");
}

#[test]
fn r7_5_r4_4_r2_6_never_the_primary_contact_the_last_manager_or_oneself() {
    let mut f = fixture();
    let r = del(&mut f.w, "m1", &f.pete.clone(), Delete::default()).unwrap_err();
    assert_eq!(r.code, Code::PrimaryContact);
    let r = del(&mut f.w, &f.m2.clone(), "m1", Delete::default()).unwrap_err();
    assert_eq!(r.code, Code::PrimaryContact);
    let r = del(&mut f.w, "m1", "m1", Delete::default()).unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    // m2 goes; m1 is then the last Manager (and the primary contact).
    del(&mut f.w, "m1", &f.m2.clone(), Delete::default()).unwrap();
    let m3 = f.w.user("m3", Role::Manager, None);
    f.w.state.subscription.as_mut().unwrap().primary_contact = Some(m3.clone());
    f.w.set_status(&m3, crate::UserStatus::Deactivated);
    let ua = f.w.user("uma", Role::UserAdministrator, None);
    let r = del(&mut f.w, &ua, "m1", Delete::default()).unwrap_err();
    assert_eq!(r.code, Code::LastManager);
}

#[test]
fn r7_5_configurations_go_to_the_named_user_and_results_are_kept() {
    let mut f = fixture();
    let sam = f.sam.clone();
    let configs: Vec<Id> = [
        ObjectKind::ReportTemplate,
        ObjectKind::ScheduledScan,
        ObjectKind::ScheduledReport,
        ObjectKind::SearchList,
    ]
    .into_iter()
    .map(|k| f.w.object(k, &sam, &[]))
    .collect();
    let scan = f.w.object(ObjectKind::ScanResult, &sam, &[]);
    let map = f.w.object(ObjectKind::MapResult, &sam, &[]);
    let req = Delete {
        transfer_configurations_to: Some(f.pat.clone()),
        keep_results: true,
    };
    let d = del(&mut f.w, "m1", &sam, req).unwrap();
    for id in configs.iter().chain([&scan, &map]) {
        let o = &f.w.state.objects[id];
        assert_eq!(o.owner.as_ref(), Some(&f.pat), "{id}");
        assert_eq!(
            fates(&d, id),
            vec![(Fate::Transferred, Some(f.pat.clone()))]
        );
    }
    nothing_refers_to_the_gone(&f.w.state);
}

#[test]
fn r7_5_without_transfer_configurations_and_results_are_deleted() {
    let mut f = fixture();
    let sam = f.sam.clone();
    let profile = f.w.object(ObjectKind::OptionProfile, &sam, &[]);
    let schedule = f.w.object(ObjectKind::ScheduledScan, &sam, &[]);
    let scan = f.w.object(ObjectKind::ScanResult, &sam, &[]);
    let d = del(&mut f.w, "m1", &sam, Delete::default()).unwrap();
    for id in [&profile, &schedule, &scan] {
        assert!(!f.w.state.objects.contains_key(id));
        assert_eq!(fates(&d, id), vec![(Fate::Deleted, None)]);
    }
}

#[test]
fn r7_5_the_named_user_must_be_allowed_to_own_them() {
    let mut f = fixture();
    let sam = f.sam.clone();
    f.w.object(ObjectKind::ScheduledScan, &sam, &[]);
    let reader = f.w.user("rita", Role::Reader, Some(&f.eu));
    let req = Delete {
        transfer_configurations_to: Some(reader),
        keep_results: false,
    };
    let r = del(&mut f.w, "m1", &sam, req).unwrap_err();
    assert_eq!(r.code, Code::RoleNotAllowed);
    assert!(
        r.message.contains("transfer_configurations_to"),
        "{}",
        r.message
    );
    let req = Delete {
        transfer_configurations_to: Some("nobody".into()),
        keep_results: false,
    };
    assert_eq!(
        del(&mut f.w, "m1", &sam, req).unwrap_err().code,
        Code::Validation
    );
    assert!(
        f.w.state.users.contains_key(&sam),
        "refused: nothing changed"
    );
}

#[test]
fn r7_5_a_unit_managers_groups_schedules_and_global_objects_go_to_the_units_primary_contact() {
    let mut f = fixture();
    let jane = f.jane.clone();
    let group = f.w.group("Jane's", &[&f.eu], &jane, Role::UnitManager, &[]);
    let schedule = f.w.object(ObjectKind::ScheduledScan, &jane, &[]);
    let global = f.w.object(ObjectKind::OptionProfile, &jane, &[]);
    f.w.with_object(&global, |o| o.global = true);
    let local = f.w.object(ObjectKind::ReportTemplate, &jane, &[]);
    let report = f.w.object(ObjectKind::ScheduledReport, &jane, &[]);
    let d = del(&mut f.w, "m1", &jane, Delete::default()).unwrap();
    let pete = Some(f.pete.clone());
    assert_eq!(f.w.state.asset_groups[&group].owner, f.pete);
    assert_eq!(fates(&d, &group), vec![(Fate::Reassigned, pete.clone())]);
    for id in [&schedule, &global] {
        assert_eq!(f.w.state.objects[id].owner, pete, "{id}");
        assert_eq!(fates(&d, id), vec![(Fate::Reassigned, pete.clone())]);
    }
    for id in [&local, &report] {
        assert!(
            !f.w.state.objects.contains_key(id),
            "{id}: not global, not a scan schedule"
        );
    }
    nothing_refers_to_the_gone(&f.w.state);
}

#[test]
fn r7_5_an_unassigned_managers_things_go_to_the_subscriptions_primary_contact() {
    let mut f = fixture();
    let m2 = f.m2.clone();
    let group = f.w.group("Core", &[], &m2, Role::Manager, &[]);
    let template = f.w.object(ObjectKind::ReportTemplate, &m2, &[]);
    f.w.with_object(&template, |o| o.global = true);
    del(&mut f.w, "m1", &m2, Delete::default()).unwrap();
    assert_eq!(f.w.state.asset_groups[&group].owner, "m1");
    assert_eq!(f.w.state.objects[&template].owner.as_deref(), Some("m1"));
    // A unit without a primary contact falls back to the subscription's.
    f.w.state.units.get_mut(&f.eu).unwrap().primary_contact = None;
    let jane = f.jane.clone();
    let g = f.w.group("Jane's", &[&f.eu], &jane, Role::UnitManager, &[]);
    del(&mut f.w, "m1", &jane, Delete::default()).unwrap();
    assert_eq!(f.w.state.asset_groups[&g].owner, "m1");
}

#[test]
fn r7_5_auth_records_stay_without_owner_policies_reset_tickets_invalid() {
    let mut f = fixture();
    let jane = f.jane.clone();
    let record = f.w.object(ObjectKind::AuthRecord, &jane, &[]);
    let policy = f.w.object(ObjectKind::RemediationPolicy, "m1", &[]);
    f.w.with_object(&policy, |o| o.assignee = Some(Assignee::User(jane.clone())));
    let ticket =
        f.w.object(ObjectKind::RemediationTicket, "m1", &["10.1.0.1"]);
    f.w.with_object(&ticket, |o| o.assignee = Some(Assignee::User(jane.clone())));
    let d = del(&mut f.w, "m1", &jane, Delete::default()).unwrap();
    let r = &f.w.state.objects[&record];
    assert_eq!(r.owner, None);
    assert_eq!(fates(&d, &record), vec![(Fate::OwnerCleared, None)]);
    assert_eq!(
        f.w.state.objects[&policy].assignee,
        Some(Assignee::UserRunningScan)
    );
    assert_eq!(fates(&d, &policy), vec![(Fate::AssigneeReset, None)]);
    let t = &f.w.state.objects[&ticket];
    assert!(!t.valid && t.assignee.is_none());
    assert_eq!(fates(&d, &ticket), vec![(Fate::Invalidated, None)]);
    nothing_refers_to_the_gone(&f.w.state);
}

#[test]
fn r7_5_r12_1_the_user_leaves_distribution_groups_and_its_sessions_end() {
    let mut f = fixture();
    let sam = f.sam.clone();
    f.w.state.distribution_groups.insert(
        "dg1".into(),
        DistributionGroup {
            id: "dg1".into(),
            name: "On call".into(),
            members: vec![sam.clone(), f.pat.clone()],
            emails: vec![],
            created_by: sam.clone(),
            created_at: Timestamp::from_unix_micros(2),
        },
    );
    let d = del(&mut f.w, "m1", &sam, Delete::default()).unwrap();
    let dg = &f.w.state.distribution_groups["dg1"];
    assert_eq!(dg.members, vec![f.pat.clone()]);
    assert_eq!(
        dg.created_by, f.pete,
        "the unit's primary contact takes it over"
    );
    assert_eq!(
        fates(&d, "dg1"),
        vec![(Fate::Reassigned, Some(f.pete.clone()))]
    );
    assert!(f.w.state.logins.get("sam").is_none());
    assert!(f.w.state.credentials.get(&sam).is_none());
    nothing_refers_to_the_gone(&f.w.state);
}
