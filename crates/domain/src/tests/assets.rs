//! Tests of `assets`, named after the rule they hold.

use super::prelude::*;
use crate::assets::*;
use crate::reach::unit_all_except;
use crate::testkit::World;
use crate::{ApplianceKind, AssetGroup, Code, Feature, Permission, Role, Timestamp};

/// What this module's commands may change, to check that refusals don't.
pub(crate) fn org_fingerprint(s: &State) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.assets, s.unit_assets, s.appliances, s.asset_groups, s.distribution_groups, s.users
    )
}

/// [`World::run`], also checking that a refusal leaves the assets alone.
pub(crate) fn run<T>(
    w: &mut World,
    actor: &str,
    command: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal>,
) -> Result<T, Refusal> {
    let before = org_fingerprint(&w.state);
    let out = w.run(actor, command);
    if out.is_err() {
        assert_eq!(
            before,
            org_fingerprint(&w.state),
            "a refusal changes nothing"
        );
    }
    out
}

pub(crate) fn ips(items: &[&str]) -> IpSet {
    IpSet::parse_list("ips", items).unwrap()
}

pub(crate) fn doms(items: &[&str]) -> BTreeSet<String> {
    parse_domains("domains", items).unwrap()
}

pub(crate) fn add(
    w: &mut World,
    actor: &str,
    i: &[&str],
    d: &[&str],
    unit: Option<&Id>,
) -> Result<Added, Refusal> {
    let (i, d, unit) = (ips(i), doms(d), unit.cloned());
    run(w, actor, move |tx| add_assets(tx, i, d, unit))
}

fn code<T: std::fmt::Debug>(r: Result<T, Refusal>) -> Code {
    r.unwrap_err().code
}

#[test]
fn r6_1_domains_are_validated_and_case_insensitive() {
    let ok = [
        ("Example.COM", "example.com"),
        ("www.example.com.", "www.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a-b.c1", "a-b.c1"),
    ];
    for (d, want) in ok {
        assert_eq!(normalise_domain(d).unwrap(), want, "{d}");
    }
    let bad = [
        "",
        "localhost",
        "10.0.0.1",
        "-a.com",
        "a-.com",
        "a..com",
        "bücher.de",
        "a b.com",
        "a_b.com",
        ".",
        &format!("{}.com", "a".repeat(64)),
    ];
    for d in bad {
        let err = parse_domains("domains", &["ok.example", d]).unwrap_err();
        assert_eq!(err.code, Code::Validation, "{d}");
        assert!(
            err.message.starts_with("domains: item 2 "),
            "{d}: {}",
            err.message
        );
    }
}

#[test]
fn r6_1_bad_ips_name_the_item() {
    let err = parse_ips("ips", &["10.0.0.1", "10.0.0.300"]).unwrap_err();
    assert_eq!(err.code, Code::Validation);
    assert!(
        err.message.contains("item 2 \"10.0.0.300\""),
        "{}",
        err.message
    );
}

#[test]
fn r5_adding_assets_needs_add_assets() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let s = w.user("s", Role::Scanner, None);
    let um = w.user("um", Role::UnitManager, Some(&eu));
    assert_eq!(
        code(add(&mut w, &s, &["10.0.0.1"], &[], None)),
        Code::Forbidden
    );
    assert_eq!(
        code(add(&mut w, &um, &["10.0.0.1"], &[], None)),
        Code::Forbidden
    );
    // A Scanner holds it only with the operator feature (R5 table).
    w.feature(Feature::ScannersAddAssets);
    w.set_perms(&s, &[Permission::AddAssets]);
    add(&mut w, &s, &["10.0.0.1"], &[], None).unwrap();
    w.set_perms(&um, &[Permission::AddAssets]);
    let added = add(&mut w, &um, &["10.0.1.0/24"], &["Eu.Example.com"], None).unwrap();
    assert_eq!(added.new_ips, 256);
    assert_eq!(added.business_unit.as_ref(), Some(&eu), "into its own unit");
    assert!(w.state.assets.ips.contains("10.0.1.9".parse().unwrap()));
    assert!(w.state.assets.domains.contains("eu.example.com"));
    let unit = unit_assets(&w.state, &eu);
    assert_eq!(unit.ips.to_strings(), ["10.0.1.0/24"]);
    // Not into another unit.
    let us = w.unit("US");
    assert_eq!(
        code(add(&mut w, &um, &["10.0.2.1"], &[], Some(&us))),
        Code::Forbidden
    );
    // Managers add anywhere.
    add(&mut w, "m1", &["10.0.3.1"], &[], Some(&us)).unwrap();
    assert_eq!(unit_assets(&w.state, &us).ips.to_strings(), ["10.0.3.1"]);
    assert_eq!(code(add(&mut w, "m1", &[], &[], None)), Code::Validation);
}

#[test]
fn r3_2_new_ips_over_limit_refused_whole() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    w.set_perms(&um, &[Permission::AddAssets]);
    w.state.settings.new_ip_limit_enabled = true;
    w.state.units.get_mut(&eu).unwrap().new_ip_limit = Some(10);
    add(&mut w, "m1", &["10.1.0.0/24"], &[], None).unwrap();
    // IPs the subscription already has are not new: they do not count.
    assert_eq!(
        add(&mut w, &um, &["10.1.0.0/24"], &[], None)
            .unwrap()
            .new_ips,
        0
    );
    assert_eq!(
        add(&mut w, &um, &["10.0.0.0/29"], &[], None)
            .unwrap()
            .new_ips,
        8
    );
    // 8 more new (10.0.0.8/29) would make 16 > 10: nothing is added.
    let err = add(&mut w, &um, &["10.0.0.0/28"], &["ok.example"], None);
    let err = err.unwrap_err();
    assert_eq!(err.code, Code::IpLimitExceeded);
    assert!(
        err.message.contains("may add 2 more (limit 10, 8 added)"),
        "{}",
        err.message
    );
    assert!(!w.state.assets.ips.contains("10.0.0.9".parse().unwrap()));
    add(&mut w, &um, &["10.0.0.8-10.0.0.9"], &[], None).unwrap();
    assert_eq!(w.state.unit_assets[&eu].new_ips_added, 10);
    assert_eq!(
        code(add(&mut w, &um, &["10.0.0.10"], &[], None)),
        Code::IpLimitExceeded
    );
    // Domains never count; Managers are never limited.
    add(&mut w, &um, &[], &["more.example"], None).unwrap();
    add(&mut w, "m1", &["10.2.0.0/16"], &[], Some(&eu)).unwrap();
    // With the switch off every unit is unlimited (R3.2).
    w.state.settings.new_ip_limit_enabled = false;
    add(&mut w, &um, &["10.9.0.0/24"], &[], None).unwrap();
}

#[test]
fn r5_4_only_managers_remove_ips_and_removal_reaches_units_and_groups() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    w.set_perms(&um, &[Permission::AddAssets]);
    add(&mut w, &um, &["10.0.0.0/24"], &["a.example"], None).unwrap();
    w.state.asset_groups.insert(
        "g1".into(),
        AssetGroup {
            id: "g1".into(),
            title: "G".into(),
            assets: AssetSet {
                ips: ips(&["10.0.0.0/25"]),
                domains: doms(&["a.example"]),
                scanner_appliances: BTreeSet::new(),
            },
            business_units: [eu.clone()].into(),
            owner: um.clone(),
            created_by_role: Role::UnitManager,
            created_at: Timestamp::from_unix_micros(1),
        },
    );
    let (i, d) = (ips(&["10.0.0.0/26"]), BTreeSet::new());
    assert_eq!(
        code(run(&mut w, &um, move |tx| remove_assets(tx, i, d))),
        Code::Forbidden
    );
    let (i, d) = (ips(&["10.0.0.0/26"]), doms(&["A.example"]));
    run(&mut w, "m1", move |tx| remove_assets(tx, i, d)).unwrap();
    assert_eq!(w.state.assets.ips.to_strings(), ["10.0.0.64-10.0.0.255"]);
    assert!(w.state.assets.domains.is_empty());
    assert_eq!(
        unit_assets(&w.state, &eu).ips.to_strings(),
        ["10.0.0.64-10.0.0.255"]
    );
    assert_eq!(
        w.state.asset_groups["g1"].assets.ips.to_strings(),
        ["10.0.0.64/26"]
    );
    assert!(w.state.asset_groups["g1"].assets.domains.is_empty());
}

#[test]
fn r3_1_managers_assign_subscription_assets_to_units() {
    let mut w = World::new();
    let eu = w.unit("EU");
    let ua = w.user("ua", Role::UserAdministrator, None);
    add(&mut w, "m1", &["10.0.0.0/24"], &["a.example"], None).unwrap();
    let set = |i: &[&str], d: &[&str]| AssetSet {
        ips: ips(i),
        domains: doms(d),
        scanner_appliances: BTreeSet::new(),
    };
    let inside = set(&["10.0.0.0/28"], &["a.example"]);
    let a = inside.clone();
    let e = eu.clone();
    assert_eq!(
        code(run(&mut w, &ua, move |tx| set_unit_assets(tx, &e, a))),
        Code::Forbidden
    );
    let outside = set(&["10.0.0.0/23"], &[]);
    let e = eu.clone();
    let err = run(&mut w, "m1", move |tx| set_unit_assets(tx, &e, outside)).unwrap_err();
    assert_eq!(err.code, Code::Validation);
    assert!(err.message.contains("10.0.1.0/24"), "{}", err.message);
    let e = eu.clone();
    run(&mut w, "m1", move |tx| {
        set_unit_assets(tx, &e, inside.clone())
    })
    .unwrap();
    assert_eq!(unit_assets(&w.state, &eu).ips.to_strings(), ["10.0.0.0/28"]);
    let e = eu.clone();
    assert_eq!(
        code(run(&mut w, "m1", move |tx| set_unit_assets(
            tx,
            "nope",
            AssetSet::default()
        )
        .map(|_| e))),
        Code::NotFound
    );
}

fn appliance(
    w: &mut World,
    actor: &str,
    id: &str,
    kind: ApplianceKind,
    unit: Option<&Id>,
) -> Result<ScannerAppliance, Refusal> {
    let new = NewAppliance {
        name: format!("scanner-{id}"),
        kind,
        business_unit: unit.cloned(),
    };
    let id = id.to_owned();
    run(w, actor, move |tx| create_appliance(tx, id, new))
}

#[test]
fn r5_appliances_by_kind_and_permission() {
    use ApplianceKind::*;
    let mut w = World::new();
    let eu = w.unit("EU");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    let s = w.user("s", Role::Scanner, Some(&eu));
    appliance(&mut w, "m1", "a1", Physical, None).unwrap();
    assert_eq!(
        code(appliance(&mut w, &um, "a2", Physical, None)),
        Code::Forbidden
    );
    assert_eq!(
        code(appliance(&mut w, &um, "a2", Virtual, None)),
        Code::Forbidden
    );
    w.set_perms(
        &um,
        &[
            Permission::ManageVirtualScanners,
            Permission::ManageOfflineScanners,
        ],
    );
    let v = appliance(&mut w, &um, "a2", Virtual, None).unwrap();
    assert_eq!(v.business_unit.as_ref(), Some(&eu), "in its own unit");
    appliance(&mut w, &um, "a3", Offline, None).unwrap();
    // Scanners need the operator feature to hold manage_virtual_scanners.
    w.set_perms(&s, &[Permission::ManageVirtualScanners]);
    assert_eq!(
        code(appliance(&mut w, &s, "a4", Virtual, None)),
        Code::Forbidden
    );
    w.feature(Feature::ScannersManageVirtualScanners);
    appliance(&mut w, &s, "a4", Virtual, None).unwrap();
    assert_eq!(
        code(appliance(&mut w, &s, "a5", Offline, None)),
        Code::Forbidden
    );
    // Names are unique.
    let dup = NewAppliance {
        name: "SCANNER-A1".into(),
        kind: Physical,
        business_unit: None,
    };
    assert_eq!(
        code(run(&mut w, "m1", move |tx| create_appliance(
            tx,
            "a9".into(),
            dup
        ))),
        Code::Conflict
    );
    // The unit's "All" holds its appliances; the subscription's holds all.
    let all = unit_all(&w.state, &eu);
    assert_eq!(
        all.scanner_appliances,
        ["a2", "a3", "a4"].map(String::from).into()
    );
    assert_eq!(subscription_all(&w.state).scanner_appliances.len(), 4);
    assert_eq!(list_appliances(&w.acting(&um)).len(), 3);
    // A Unit Manager does not remove the subscription's physical appliance.
    assert_eq!(
        code(run(&mut w, &um, |tx| delete_appliance(tx, "a1"))),
        Code::NotFound
    );
    run(&mut w, &um, |tx| delete_appliance(tx, "a2")).unwrap();
    assert!(!w.state.appliances.contains_key("a2"));
}

#[test]
fn r6_2_unit_all_holds_assigned_assets_appliances_and_linked_groups() {
    let mut w = World::new();
    let eu = w.unit("EU");
    add(
        &mut w,
        "m1",
        &["10.0.0.0/24", "10.5.0.1"],
        &["a.example"],
        Some(&eu),
    )
    .unwrap();
    add(&mut w, "m1", &["10.9.0.0/24"], &["b.example"], None).unwrap();
    w.state.asset_groups.insert(
        "g1".into(),
        AssetGroup {
            id: "g1".into(),
            title: "Linked".into(),
            assets: AssetSet {
                ips: ips(&["10.9.0.0/25"]),
                domains: doms(&["b.example"]),
                scanner_appliances: BTreeSet::new(),
            },
            business_units: [eu.clone()].into(),
            owner: "m1".into(),
            created_by_role: Role::Manager,
            created_at: Timestamp::from_unix_micros(1),
        },
    );
    let all = unit_all(&w.state, &eu);
    assert_eq!(
        all.ips.to_strings(),
        ["10.0.0.0/24", "10.5.0.1", "10.9.0.0/25"]
    );
    assert_eq!(all.domains, doms(&["a.example", "b.example"]));
    let without = unit_all_except(&w.state, &eu, Some(&"g1".to_owned()));
    assert_eq!(without.ips.to_strings(), ["10.0.0.0/24", "10.5.0.1"]);
    let sub = subscription_all(&w.state);
    assert_eq!(
        sub.ips.to_strings(),
        ["10.0.0.0/24", "10.5.0.1", "10.9.0.0/24"]
    );
}

#[test]
fn r11_1_asset_changes_are_logged_once() {
    let mut w = World::new();
    add(&mut w, "m1", &["10.0.0.1"], &[], None).unwrap();
    let mut state = w.state.clone();
    let actor = crate::testkit::actor_of(&w.state, "m1");
    let mut tx = Tx::new(&mut state, Timestamp::from_unix_micros(5), actor);
    add_assets(&mut tx, ips(&["10.0.0.0/30"]), doms(&["x.example"]), None).unwrap();
    let (keys, log) = tx.finish();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].action, "assets.add");
    assert_eq!(
        log[0].details,
        "ips [10.0.0.0/30] (3 new); domains [x.example]"
    );
    assert!(keys.contains(&crate::Key::Assets));
}

fn edit_app(
    w: &mut World,
    actor: &str,
    id: &str,
    patch: AppliancePatch,
) -> Result<ScannerAppliance, Refusal> {
    let id = id.to_owned();
    run(w, actor, move |tx| edit_appliance(tx, &id, patch))
}

#[test]
fn r6_1_appliances_are_renamed_and_moved_between_units_with_the_group_checks() {
    use ApplianceKind::*;
    let mut w = World::new();
    let eu = w.unit("EU");
    let us = w.unit("US");
    let um = w.user("um", Role::UnitManager, Some(&eu));
    w.set_perms(&um, &[Permission::ManageVirtualScanners]);
    appliance(&mut w, "m1", "a1", Physical, Some(&eu)).unwrap();
    appliance(&mut w, &um, "v1", Virtual, None).unwrap();
    let rename = |n: &str| AppliancePatch {
        name: Some(n.into()),
        ..AppliancePatch::default()
    };
    let place = |u: Option<&Id>| AppliancePatch {
        business_unit: Some(u.cloned()),
        ..AppliancePatch::default()
    };

    // Names: unique, checked; the Unit Manager renames its unit's virtual one.
    assert_eq!(
        edit_app(&mut w, "m1", "a1", rename("scanner-v1"))
            .unwrap_err()
            .code,
        Code::Conflict
    );
    assert_eq!(
        edit_app(&mut w, "m1", "a1", rename("")).unwrap_err().code,
        Code::Validation
    );
    assert_eq!(
        edit_app(&mut w, &um, "v1", rename("lab")).unwrap().name,
        "lab"
    );
    assert_eq!(
        edit_app(&mut w, &um, "a1", rename("x")).unwrap_err().code,
        Code::Forbidden,
        "physical: Managers"
    );
    assert_eq!(
        edit_app(&mut w, &um, "v1", place(Some(&us)))
            .unwrap_err()
            .code,
        Code::Forbidden
    );
    assert_eq!(
        edit_app(&mut w, "m1", "nope", rename("x"))
            .unwrap_err()
            .code,
        Code::NotFound
    );

    // A group of EU names a1: a1 cannot leave EU until the group lets go.
    w.state.asset_groups.insert(
        "g1".into(),
        AssetGroup {
            id: "g1".into(),
            title: "Scanners".into(),
            assets: AssetSet {
                scanner_appliances: ["a1".to_owned()].into(),
                ..AssetSet::default()
            },
            business_units: [eu.clone()].into(),
            owner: "m1".into(),
            created_by_role: Role::Manager,
            created_at: Timestamp::from_unix_micros(1),
        },
    );
    let err = edit_app(&mut w, "m1", "a1", place(Some(&us))).unwrap_err();
    assert_eq!(err.code, Code::Conflict);
    assert!(err.message.contains("Scanners"), "{err:?}");
    w.state.asset_groups.remove("g1");
    let a = edit_app(&mut w, "m1", "a1", place(Some(&us))).unwrap();
    assert_eq!(a.business_unit.as_ref(), Some(&us));
    assert!(unit_all(&w.state, &us).scanner_appliances.contains("a1"));
    assert!(!unit_all(&w.state, &eu).scanner_appliances.contains("a1"));
    let a = edit_app(&mut w, "m1", "a1", place(None)).unwrap();
    assert_eq!(a.business_unit, None, "a subscription appliance");
    let err = edit_app(&mut w, "m1", "a1", place(Some(&"u-none".to_owned()))).unwrap_err();
    assert_eq!(err.code, Code::Validation);
}
