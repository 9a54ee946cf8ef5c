//! Tests of `groups`, named after the rule they hold.

use super::assets::{add, doms, ips, run};
use super::prelude::*;
use crate::groups::*;
use crate::testkit::World;
use crate::users::{UserPatch, edit_user};

fn code<T: std::fmt::Debug>(r: Result<T, Refusal>) -> Code {
    r.unwrap_err().code
}

fn assets(i: &[&str], d: &[&str]) -> AssetSet {
    AssetSet {
        ips: ips(i),
        domains: doms(d),
        scanner_appliances: BTreeSet::new(),
    }
}

fn create(
    w: &mut World,
    actor: &str,
    id: &str,
    title: &str,
    a: AssetSet,
    units: Option<&[&Id]>,
) -> Result<AssetGroup, Refusal> {
    let new = NewGroup {
        title: title.into(),
        assets: a,
        business_units: units.map(|u| u.iter().map(|x| (*x).clone()).collect()),
    };
    let id = id.to_owned();
    run(w, actor, move |tx| create_group(tx, id, new))
}

/// EU with 10.0.0.0/24 and eu.example assigned, a Unit Manager there, and
/// 10.9.0.0/24 in the subscription only.
fn world() -> (World, Id, Id) {
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    add(&mut w, "m1", &["10.0.0.0/24"], &["eu.example"], Some(&eu)).unwrap();
    add(&mut w, "m1", &["10.9.0.0/24"], &[], None).unwrap();
    (w, eu, um)
}

#[test]
fn r6_2_group_assets_lie_within_the_owners_reach() {
    let (mut w, eu, um) = world();
    let g = create(
        &mut w,
        &um,
        "g1",
        "Web",
        assets(&["10.0.0.0/28"], &["eu.example"]),
        None,
    )
    .unwrap();
    assert_eq!(
        g.business_units,
        [eu.clone()].into(),
        "a Unit Manager's group is its unit's"
    );
    assert_eq!(
        (g.owner.as_str(), g.created_by_role),
        (um.as_str(), Role::UnitManager)
    );
    let err = create(&mut w, &um, "g2", "Far", assets(&["10.9.0.1"], &[]), None).unwrap_err();
    assert_eq!(err.code, Code::Validation);
    assert!(
        err.message.starts_with("IPs 10.9.0.1 is not among"),
        "{}",
        err.message
    );
    // Managers reach the whole subscription, but nothing outside it.
    create(
        &mut w,
        "m1",
        "g3",
        "Sub",
        assets(&["10.9.0.0/25"], &[]),
        None,
    )
    .unwrap();
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "g4",
            "Out",
            assets(&["192.0.2.1"], &[]),
            None
        )),
        Code::Validation
    );
    // A group does not vouch for itself when edited.
    let patch = GroupPatch {
        ips: Some(ips(&["10.0.0.0/24", "10.9.0.7"])),
        ..Default::default()
    };
    assert_eq!(
        code(run(&mut w, &um, |tx| edit_group(tx, "g1", patch))),
        Code::Validation
    );
}

#[test]
fn r6_2_all_is_reserved_and_titles_are_unique_per_unit() {
    let (mut w, eu, um) = world();
    let us = w.unit("US");
    assert_eq!(
        code(create(&mut w, "m1", "g1", "all", AssetSet::default(), None)),
        Code::Validation
    );
    assert_eq!(
        code(create(&mut w, "m1", ALL, "X", AssetSet::default(), None)),
        Code::Conflict
    );
    create(&mut w, &um, "g1", "Web", AssetSet::default(), None).unwrap();
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "g2",
            "WEB",
            AssetSet::default(),
            Some(&[&eu])
        )),
        Code::Conflict
    );
    create(&mut w, "m1", "g3", "WEB", AssetSet::default(), Some(&[&us])).unwrap();
    create(&mut w, "m1", "g4", "Web", AssetSet::default(), None).unwrap();
    assert_eq!(
        code(create(&mut w, "m1", "g5", "web", AssetSet::default(), None)),
        Code::Conflict
    );
    assert_eq!(
        code(create(
            &mut w,
            "m1",
            "g6",
            "x",
            AssetSet::default(),
            Some(&[&"nope".to_owned()])
        )),
        Code::Validation
    );
}

#[test]
fn r2_4_user_administrators_create_and_edit_but_never_delete_groups() {
    let (mut w, eu, _) = world();
    let ua = w.user("ua", Role::UserAdministrator, None);
    create(
        &mut w,
        &ua,
        "g1",
        "Ops",
        assets(&["10.9.0.1"], &[]),
        Some(&[&eu]),
    )
    .unwrap();
    let patch = GroupPatch {
        title: Some("Operations".into()),
        ..Default::default()
    };
    assert_eq!(
        run(&mut w, &ua, |tx| edit_group(tx, "g1", patch))
            .unwrap()
            .title,
        "Operations"
    );
    assert_eq!(
        code(run(&mut w, &ua, |tx| delete_group(tx, "g1"))),
        Code::Forbidden
    );
    run(&mut w, "m1", |tx| delete_group(tx, "g1")).unwrap();
}

#[test]
fn r2_2_unit_managers_change_their_units_groups_only() {
    let (mut w, eu, um) = world();
    let us = w.unit("US");
    assert_eq!(
        code(create(
            &mut w,
            &um,
            "g1",
            "X",
            AssetSet::default(),
            Some(&[&us])
        )),
        Code::Forbidden
    );
    create(
        &mut w,
        "m1",
        "g2",
        "Shared",
        AssetSet::default(),
        Some(&[&eu, &us]),
    )
    .unwrap();
    create(
        &mut w,
        "m1",
        "g3",
        "Theirs",
        AssetSet::default(),
        Some(&[&us]),
    )
    .unwrap();
    create(
        &mut w,
        "m1",
        "g4",
        "Ours",
        AssetSet::default(),
        Some(&[&eu]),
    )
    .unwrap();
    assert_eq!(
        code(run(&mut w, &um, |tx| delete_group(tx, "g2"))),
        Code::Forbidden
    );
    assert_eq!(
        code(run(&mut w, &um, |tx| delete_group(tx, "g3"))),
        Code::NotFound
    );
    run(&mut w, &um, |tx| delete_group(tx, "g4")).unwrap();
    let s = w.user("s", Role::Scanner, Some(&eu));
    assert_eq!(
        code(create(&mut w, &s, "g5", "Mine", AssetSet::default(), None)),
        Code::Forbidden
    );
    let titles: Vec<&str> = list_groups(&w.acting(&um), None)
        .iter()
        .map(|g| g.title.as_str())
        .collect();
    assert_eq!(titles, ["Shared"]);
}

#[test]
fn r6_3_users_hold_groups_of_their_unit_or_any_when_unassigned() {
    let (mut w, eu, _) = world();
    let us = w.unit("US");
    create(
        &mut w,
        "m1",
        "geu",
        "EU web",
        AssetSet::default(),
        Some(&[&eu]),
    )
    .unwrap();
    create(
        &mut w,
        "m1",
        "gus",
        "US web",
        AssetSet::default(),
        Some(&[&us]),
    )
    .unwrap();
    create(&mut w, "m1", "gsub", "Sub", AssetSet::default(), None).unwrap();
    let s = w.user("s", Role::Scanner, Some(&eu));
    let un = w.user("un", Role::Scanner, None);
    let groups = |g: &[&str]| UserPatch {
        asset_groups: Some(g.iter().map(|x| (*x).to_owned()).collect()),
        ..Default::default()
    };
    let cases: &[(&str, &[&str], bool)] = &[
        (&s, &[], true),
        (&s, &["gus"], false),
        (&s, &["gsub"], false),
        (&s, &["nope"], false),
        (&s, &["geu"], true),
        (&s, &[ALL, "geu"], true),
        (&un, &["geu", "gus", "gsub", ALL], true),
    ];
    for &(who, g, ok) in cases {
        let p = groups(g);
        let r = w.run("m1", |tx| edit_user(tx, who, p));
        assert_eq!(r.is_ok(), ok, "{who} {g:?}: {r:?}");
        if !ok {
            assert_eq!(r.unwrap_err().code, Code::Validation);
        }
    }
    // A move to a unit whose groups it does not hold is refused, naming the group.
    let mv = UserPatch {
        business_unit: Some(Some(us.clone())),
        ..Default::default()
    };
    let err = w.run("m1", |tx| edit_user(tx, &s, mv)).unwrap_err();
    assert!(err.message.contains("\"EU web\""), "{}", err.message);
    // Unlinking a unit whose users hold the group is refused.
    let unlink = GroupPatch {
        business_units: Some(BTreeSet::from([us.clone()])),
        ..Default::default()
    };
    assert_eq!(
        code(run(&mut w, "m1", |tx| edit_group(tx, "geu", unlink))),
        Code::Conflict
    );
}

#[test]
fn r6_2_deleting_a_group_takes_it_from_its_users() {
    let (mut w, eu, _) = world();
    create(&mut w, "m1", "g1", "Web", AssetSet::default(), Some(&[&eu])).unwrap();
    let s = w.user("s", Role::Scanner, Some(&eu));
    w.state.users.get_mut(&s).unwrap().asset_groups = vec!["g1".into(), ALL.into()];
    run(&mut w, "m1", |tx| delete_group(tx, "g1")).unwrap();
    assert_eq!(w.state.users[&s].asset_groups, [ALL]);
}

#[test]
fn r6_4_reach_of_each_role() {
    let (mut w, eu, um) = world();
    create(
        &mut w,
        "m1",
        "g1",
        "Part",
        assets(&["10.0.0.0/28"], &[]),
        Some(&[&eu]),
    )
    .unwrap();
    let s = w.user("s", Role::Scanner, Some(&eu));
    let un = w.user("un", Role::Reader, None);
    w.state.users.get_mut(&s).unwrap().asset_groups = vec!["g1".into()];
    w.state.users.get_mut(&un).unwrap().asset_groups = vec![ALL.into()];
    let reach = |w: &World, id: &str| {
        crate::reach::reach_of(&w.state, &w.state.users[id])
            .ips
            .to_strings()
    };
    assert_eq!(reach(&w, "m1"), ["10.0.0.0/24", "10.9.0.0/24"]);
    assert_eq!(reach(&w, &um), ["10.0.0.0/24"]);
    assert_eq!(reach(&w, &s), ["10.0.0.0/28"]);
    assert_eq!(reach(&w, &un), ["10.0.0.0/24", "10.9.0.0/24"]);
}

fn dg(
    w: &mut World,
    actor: &str,
    id: &str,
    members: &[&str],
    emails: &[&str],
) -> Result<DistributionGroup, Refusal> {
    let new = NewDistribution {
        name: format!("list {id}"),
        members: members.iter().map(|x| (*x).to_owned()).collect(),
        emails: emails.iter().map(|x| (*x).to_owned()).collect(),
    };
    let id = id.to_owned();
    run(w, actor, move |tx| create_distribution_group(tx, id, new))
}

#[test]
fn r2_4_distribution_groups_user_administrators_never_delete() {
    let (mut w, _, um) = world();
    let ua = w.user("ua", Role::UserAdministrator, None);
    let s = w.user("s", Role::Scanner, None);
    dg(&mut w, &ua, "d1", &[&s], &["ops@example.com"]).unwrap();
    assert_eq!(
        code(run(&mut w, &ua, |tx| delete_distribution_group(tx, "d1"))),
        Code::Forbidden
    );
    assert_eq!(code(dg(&mut w, &s, "d2", &[], &[])), Code::Forbidden);
    assert_eq!(
        code(dg(&mut w, "m1", "d3", &["ghost"], &[])),
        Code::Validation
    );
    assert_eq!(
        code(dg(&mut w, "m1", "d3", &[], &["not an email"])),
        Code::Validation
    );
    // Unit Managers change only the lists they created.
    let patch = DistributionPatch {
        emails: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(
        code(run(&mut w, &um, |tx| edit_distribution_group(
            tx, "d1", patch
        ))),
        Code::Forbidden
    );
    run(&mut w, "m1", |tx| delete_distribution_group(tx, "d1")).unwrap();
}

#[test]
fn r7_3_recipients_skip_deactivated_members_and_repeat_no_address() {
    let (mut w, _, _) = world();
    let a = w.user("a", Role::Scanner, None);
    let b = w.user("b", Role::Contact, None);
    let c = w.user("c", Role::Contact, None);
    dg(
        &mut w,
        "m1",
        "d1",
        &[&a, &b, &c],
        &["A@example.com", "x@example.com"],
    )
    .unwrap();
    w.set_status(&c, UserStatus::Deactivated);
    let r = recipients_of(&w.state, "d1").unwrap();
    let emails: Vec<&str> = r.iter().map(|r| r.email.as_str()).collect();
    assert_eq!(emails, ["a@example.com", "b@example.com", "x@example.com"]);
    assert_eq!(r[0].user.as_deref(), Some(a.as_str()));
    assert_eq!(r[2].user, None);
    assert_eq!(
        recipients_of(&w.state, "nope").unwrap_err().code,
        Code::NotFound
    );
}

#[test]
fn r10_1_unit_managers_see_distribution_groups_of_their_unit_and_members_in_sight() {
    let (mut w, eu, um) = world();
    let us = w.unit("US");
    let um_us = w.user("um_us", Role::UnitManager, Some(&us));
    let mate = w.user("mate", Role::Scanner, Some(&eu));
    let far = w.user("far", Role::Scanner, Some(&us));
    dg(&mut w, "m1", "d_m", &[&mate], &["board@example.com"]).unwrap();
    dg(&mut w, &um_us, "d_us", &[&far], &["us@example.com"]).unwrap();
    dg(&mut w, &um, "d_eu", &[&mate], &["eu@example.com"]).unwrap();
    let a = w.acting(&um);
    let ids: Vec<&str> = readable_distribution_groups(&a)
        .unwrap()
        .into_iter()
        .map(|g| g.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["d_eu"],
        "another unit's and the Managers' lists are not shown"
    );
    // Managers still see all.
    assert_eq!(
        readable_distribution_groups(&w.acting("m1")).unwrap().len(),
        3
    );

    // A group of the unit with a member of another unit: hidden by R10.1.
    let new = DistributionPatch {
        members: Some(vec![mate.clone(), far.clone()]),
        ..Default::default()
    };
    run(&mut w, &um, |tx| edit_distribution_group(tx, "d_eu", new)).unwrap();
    w.state.settings.visibility.restrict_user_info_outside_unit = true;
    w.state.settings.visibility.hide_users_outside_unit = true;
    let a = w.acting(&um);
    let g = &w.state.distribution_groups["d_eu"];
    assert_eq!(shown_distribution(&a, g).members, [mate]);
}

#[test]
fn r10_1_a_member_out_of_a_unit_managers_sight_stays_through_its_edits() {
    let (mut w, eu, um) = world();
    let us = w.unit("US");
    let mate = w.user("mate", Role::Scanner, Some(&eu));
    let far = w.user("far", Role::Scanner, Some(&us));
    let other = w.user("other", Role::Scanner, Some(&us));
    dg(&mut w, &um, "d_eu", &[&mate], &[]).unwrap();
    w.state.settings.visibility.restrict_user_info_outside_unit = true;
    w.state.settings.visibility.hide_users_outside_unit = true;
    // A Manager, who sees everyone, adds `far`.
    let add = DistributionPatch {
        members: Some(vec![mate.clone(), far.clone()]),
        ..Default::default()
    };
    run(&mut w, "m1", |tx| edit_distribution_group(tx, "d_eu", add)).unwrap();
    // The Unit Manager still renames its list, sending back what it was
    // shown plus the member it does not see.
    let rename = DistributionPatch {
        name: Some("EU crew".into()),
        members: Some(vec![mate.clone(), far.clone()]),
        ..Default::default()
    };
    run(&mut w, &um, |tx| {
        edit_distribution_group(tx, "d_eu", rename)
    })
    .unwrap();
    assert_eq!(
        w.state.distribution_groups["d_eu"].members,
        [mate.clone(), far.clone()]
    );
    // It cannot add someone else it does not see.
    let sneak = DistributionPatch {
        members: Some(vec![mate, far, other]),
        ..Default::default()
    };
    assert_eq!(
        code(run(&mut w, &um, |tx| edit_distribution_group(
            tx, "d_eu", sneak
        ))),
        Code::Validation
    );
}
