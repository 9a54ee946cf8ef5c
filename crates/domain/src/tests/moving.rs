//! Tests of `moving` (R7.4), one per sentence of the rule.

use super::prelude::*;
use crate::lifecycle::Fate;
use crate::moving::*;
use crate::testkit::{EuUs, World};
use crate::{Assignee, ObjectKind};

/// EU and US units with their nets assigned; Unit Managers jane (EU) and
/// ursula (US); Scanners sam and bob in EU; the EU nets group "California"
/// created by jane, held by sam and bob.
struct Fixture {
    w: World,
    eu: Id,
    us: Id,
    jane: Id,
    sam: Id,
    bob: Id,
    california: Id,
}

fn fixture() -> Fixture {
    let EuUs {
        mut w,
        eu,
        us,
        jane,
        sam,
        group: california,
        ..
    } = World::eu_us("California");
    let bob = w.user("bob", Role::Scanner, Some(&eu));
    w.assign(&bob, &[&california]);
    Fixture {
        w,
        eu,
        us,
        jane,
        sam,
        bob,
        california,
    }
}

fn to(unit: &Id, keep_configurations: bool, keep_asset_groups: bool) -> Move {
    Move {
        business_unit: Some(unit.clone()),
        keep_configurations,
        keep_asset_groups,
    }
}

fn mv(w: &mut World, actor: &str, user: &str, req: Move) -> Result<Moved, Refusal> {
    let mut n = w.state.asset_groups.len();
    let mut fresh = move || {
        n += 1;
        format!("copy{n}")
    };
    w.run_logged(actor, |tx| move_user(tx, user, req, &mut fresh))
        .0
}

fn fate_of(m: &Moved, id: &str) -> Vec<Fate> {
    m.outcomes
        .iter()
        .filter(|o| o.id == id)
        .map(|o| o.fate)
        .collect()
}

#[test]
fn r7_4_unit_manager_groups_are_copied_as_california_1_then_california_2() {
    let mut f = fixture();
    let m = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.us, true, true)).unwrap();
    let copy_id = m.outcomes[0].to.clone().expect("the copy");
    assert_eq!(fate_of(&m, &f.california), vec![Fate::Copied]);
    let copy = &f.w.state.asset_groups[&copy_id];
    assert_eq!(copy.title, "California 1");
    assert_eq!(copy.business_units, [f.us.clone()].into());
    assert_eq!(
        copy.assets, f.w.state.asset_groups[&f.california].assets,
        "same assets"
    );
    assert_eq!(
        copy.owner, "m1",
        "owned by the subscription primary contact"
    );
    // The old unit keeps "California", unchanged.
    let original = &f.w.state.asset_groups[&f.california];
    assert_eq!(original.title, "California");
    assert_eq!(original.business_units, [f.eu.clone()].into());
    assert_eq!(original.owner, f.jane);
    // The user holds the copy, so it keeps its reach.
    assert_eq!(f.w.state.users[&f.sam].asset_groups, vec![copy_id.clone()]);
    assert_eq!(f.w.state.users[&f.sam].business_unit.as_ref(), Some(&f.us));
    // A second user moved the same way gets the next free number.
    let m = mv(&mut f.w, "m1", &f.bob.clone(), to(&f.us, true, true)).unwrap();
    let second = m.outcomes[0].to.clone().unwrap();
    assert_ne!(second, copy_id);
    assert_eq!(f.w.state.asset_groups[&second].title, "California 2");
}

#[test]
fn r7_4_the_smallest_free_number_is_used() {
    let mut f = fixture();
    f.w.group("California 1", &[&f.us], "m1", Role::Manager, &[]);
    f.w.group("california 3", &[&f.us], "m1", Role::Manager, &[]);
    let m = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.us, true, true)).unwrap();
    let copy = &f.w.state.asset_groups[m.outcomes[0].to.as_ref().unwrap()];
    assert_eq!(copy.title, "California 2");
}

#[test]
fn r7_4_manager_groups_are_linked_to_the_new_unit_unchanged() {
    let mut f = fixture();
    let g =
        f.w.group("Servers", &[&f.eu], "m1", Role::Manager, &["10.1.0.1"]);
    f.w.assign(&f.sam, &[&g]);
    let m = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.us, true, true)).unwrap();
    assert_eq!(fate_of(&m, &g), vec![Fate::Linked]);
    let after = &f.w.state.asset_groups[&g];
    assert_eq!(
        after.business_units,
        [f.eu.clone(), f.us.clone()].into(),
        "the old unit keeps it"
    );
    assert_eq!(after.owner, "m1", "the Manager keeps ownership");
    assert_eq!(after.title, "Servers");
    assert_eq!(f.w.state.users[&f.sam].asset_groups, vec![g]);
}

#[test]
fn r7_4_personal_groups_move_with_the_user_and_stay_its_own() {
    let mut f = fixture();
    // jane's own group, held only by her.
    let mine = f.w.group(
        "Jane's lab",
        &[&f.eu],
        &f.jane,
        Role::UnitManager,
        &["10.1.0.9"],
    );
    f.w.assign(&f.jane, &[&mine]);
    let m = mv(&mut f.w, "m1", &f.jane.clone(), to(&f.us, true, true)).unwrap();
    assert_eq!(fate_of(&m, &mine), vec![Fate::Moved]);
    let g = &f.w.state.asset_groups[&mine];
    assert_eq!(g.business_units, [f.us.clone()].into());
    assert_eq!(g.owner, f.jane);
    assert_eq!(f.w.state.users[&f.jane].asset_groups, vec![mine]);
}

#[test]
fn r7_4_a_personal_group_others_hold_is_linked_so_they_keep_it() {
    let mut f = fixture();
    // California is jane's: moving jane must not take it from sam and bob.
    f.w.assign(&f.jane, &[&f.california]);
    let m = mv(&mut f.w, "m1", &f.jane.clone(), to(&f.us, true, true)).unwrap();
    assert_eq!(fate_of(&m, &f.california), vec![Fate::Linked]);
    let g = &f.w.state.asset_groups[&f.california];
    assert!(g.business_units.contains(&f.eu) && g.business_units.contains(&f.us));
}

#[test]
fn r7_4_without_keeping_groups_the_user_holds_none_of_the_old_unit() {
    let mut f = fixture();
    let m = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.us, true, false)).unwrap();
    assert!(f.w.state.users[&f.sam].asset_groups.is_empty());
    assert_eq!(fate_of(&m, &f.california), vec![Fate::Unassigned]);
    assert_eq!(f.w.state.asset_groups.len(), 1, "nothing copied");
}

#[test]
fn r7_4_configurations_are_deleted_unless_kept() {
    let mut f = fixture();
    let configs: Vec<Id> = [
        ObjectKind::ReportTemplate,
        ObjectKind::OptionProfile,
        ObjectKind::ScheduledScan,
        ObjectKind::ScheduledReport,
        ObjectKind::SearchList,
    ]
    .into_iter()
    .map(|k| f.w.object(k, &f.sam.clone(), &[]))
    .collect();
    let result = f.w.object(ObjectKind::ScanResult, &f.sam.clone(), &[]);
    let someone_elses = f.w.object(ObjectKind::ScheduledScan, &f.bob.clone(), &[]);

    let mut kept = fixture_clone(&f);
    let m = mv(&mut kept, "m1", &f.sam, to(&f.us, true, true)).unwrap();
    for c in &configs {
        assert_eq!(kept.state.objects[c].business_unit.as_ref(), Some(&f.us));
        assert_eq!(fate_of(&m, c), vec![Fate::Moved]);
    }

    let m = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.us, false, true)).unwrap();
    for c in &configs {
        assert!(!f.w.state.objects.contains_key(c), "{c} deleted");
        assert_eq!(fate_of(&m, c), vec![Fate::Deleted]);
    }
    // Results are not configurations: they follow the user.
    assert_eq!(
        f.w.state.objects[&result].business_unit.as_ref(),
        Some(&f.us)
    );
    assert!(f.w.state.objects.contains_key(&someone_elses));
}

fn fixture_clone(f: &Fixture) -> World {
    let mut w = World::new();
    w.state = f.w.state.clone();
    w
}

#[test]
fn r7_4_tickets_on_assets_the_user_no_longer_reaches_become_invalid() {
    let mut f = fixture();
    let t =
        f.w.object(ObjectKind::RemediationTicket, "m1", &["10.1.0.7"]);
    let sam = f.sam.clone();
    f.w.with_object(&t, |o| o.assignee = Some(Assignee::User(sam.clone())));
    // Keeping groups keeps the reach (through the copy): still valid.
    let mut kept = fixture_clone(&f);
    mv(&mut kept, "m1", &sam, to(&f.us, true, true)).unwrap();
    assert!(kept.state.objects[&t].valid);
    // Not keeping them: the ticket is invalid, and the response says so.
    let m = mv(&mut f.w, "m1", &sam, to(&f.us, true, false)).unwrap();
    assert!(!f.w.state.objects[&t].valid);
    assert_eq!(fate_of(&m, &t), vec![Fate::Invalidated]);
}

#[test]
fn r7_4_r4_4_the_units_primary_contact_is_not_moved_out() {
    let mut f = fixture();
    f.w.state.units.get_mut(&f.eu).unwrap().primary_contact = Some(f.sam.clone());
    let r = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.us, true, true)).unwrap_err();
    assert_eq!(r.code, Code::PrimaryContact);
    assert!(r.message.contains("EU"), "{}", r.message);
}

#[test]
fn r7_4_r2_1_r2_2_no_manager_into_a_unit_no_unit_manager_to_unassigned() {
    let mut f = fixture();
    let m2 = f.w.user("m2", Role::Manager, None);
    let r = mv(&mut f.w, "m1", &m2, to(&f.eu, true, true)).unwrap_err();
    assert_eq!(r.code, Code::Validation);
    let unassigned = Move {
        business_unit: None,
        keep_configurations: true,
        keep_asset_groups: true,
    };
    let r = mv(&mut f.w, "m1", &f.jane.clone(), unassigned.clone()).unwrap_err();
    assert_eq!(r.code, Code::Validation);
    // A Scanner may go to Unassigned, where any group may be held (R6.3).
    let m = mv(&mut f.w, "m1", &f.sam.clone(), unassigned).unwrap();
    assert_eq!(fate_of(&m, &f.california), vec![Fate::Kept]);
    assert_eq!(f.w.state.users[&f.sam].business_unit, None);
}

#[test]
fn r7_4_r2_2_unit_managers_do_not_move_users_out_of_their_unit() {
    let mut f = fixture();
    let r = mv(
        &mut f.w,
        &f.jane.clone(),
        &f.sam.clone(),
        to(&f.us, true, true),
    )
    .unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    let r = mv(
        &mut f.w,
        &f.sam.clone(),
        &f.bob.clone(),
        to(&f.us, true, true),
    )
    .unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    let r = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.eu, true, true)).unwrap_err();
    assert_eq!(r.code, Code::Conflict, "already there");
}

#[test]
fn r7_4_a_linked_group_whose_title_the_new_unit_uses_is_refused() {
    let mut f = fixture();
    let g = f.w.group("Servers", &[&f.eu], "m1", Role::Manager, &[]);
    f.w.group("servers", &[&f.us], "m1", Role::Manager, &[]);
    f.w.assign(&f.sam, &[&g]);
    let r = mv(&mut f.w, "m1", &f.sam.clone(), to(&f.us, true, true)).unwrap_err();
    assert_eq!(r.code, Code::Conflict);
    assert!(r.message.contains("Servers"), "{}", r.message);
}

#[test]
fn r11_1_a_move_logs_each_change_and_one_summary() {
    let mut f = fixture();
    f.w.object(ObjectKind::SearchList, &f.sam.clone(), &[]);
    let mut n = 0;
    let mut fresh = move || {
        n += 1;
        format!("copy{n}")
    };
    let sam = f.sam.clone();
    let (out, log) = f.w.run_logged("m1", |tx| {
        move_user(tx, &sam, to(&f.us, false, true), &mut fresh)
    });
    out.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["asset_group.copy", "object.delete", "user.move"]);
    assert!(log[2].details.contains("EU -> US"), "{}", log[2].details);
}

#[test]
fn r7_4_kept_configurations_out_of_the_new_reach_are_reported_as_needing_a_new_target() {
    let mut f = fixture();
    let sam = f.sam.clone();
    let nightly = f.w.object(ObjectKind::ScheduledScan, &sam, &[]);
    let california = f.california.clone();
    f.w.with_object(&nightly, |o| o.asset_groups = vec![california]);
    let hosts = f.w.object(ObjectKind::SearchList, &sam, &["10.1.0.5"]);
    let blank = f.w.object(ObjectKind::OptionProfile, &sam, &[]);

    // Groups kept: California's copy keeps the reach, so all simply move.
    let mut kept = fixture_like(&f);
    let m = mv(&mut kept, "m1", &sam, to(&f.us, true, true)).unwrap();
    for id in [&nightly, &hosts, &blank] {
        assert_eq!(fate_of(&m, id), vec![Fate::Moved], "{id}");
    }

    // Groups not kept: what targets California's nets needs a new target;
    // the profile, targeting nothing, just moves.
    let (m, log) = {
        let mut fresh = || "copy".to_owned();
        let (out, log) = f.w.run_logged("m1", |tx| {
            move_user(tx, &sam, to(&f.us, true, false), &mut fresh)
        });
        (out.unwrap(), log)
    };
    assert_eq!(fate_of(&m, &nightly), vec![Fate::NeedsNewTarget]);
    assert_eq!(fate_of(&m, &hosts), vec![Fate::NeedsNewTarget]);
    assert_eq!(fate_of(&m, &blank), vec![Fate::Moved]);
    // Still moved with the user, and the log says what to do.
    assert_eq!(
        f.w.state.objects[&nightly].business_unit.as_ref(),
        Some(&f.us)
    );
    let entry = log
        .iter()
        .find(|e| e.action == "object.move" && e.target.contains(&nightly))
        .unwrap();
    assert!(entry.details.contains("give it a new target"), "{entry:?}");
}

/// A second world in the state `f` is in now.
fn fixture_like(f: &Fixture) -> World {
    let mut w = World::new();
    w.state = f.w.state.clone();
    w
}
