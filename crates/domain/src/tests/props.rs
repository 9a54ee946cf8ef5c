//! Property test: random sequences of commands by random actors never break
//! the invariants of R1–R5 (R2.6, R4.1, R5, R2.4, unique logins), every
//! accepted command writes exactly one activity entry, and every refused one
//! writes none and changes nothing.

use std::collections::BTreeSet;

use proptest::prelude::*;

use crate::LogAction;
use crate::testkit::{World, actor_of, fingerprint};
use crate::units::{NewUnit, UnitPatch};
use crate::users::{NewUser, UserPatch};
use crate::{
    Access, Actor, EmailContact, Feature, Id, Module, Permission, Refusal, Role, SecuritySettings,
    ServiceType, State, Timestamp, Tx, UserStatus, VisibilitySettings, contacts, permissions,
    settings, subscription, units, users,
};

const LOGINS: [&str; 12] = [
    "ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ivy", "jo", "kim", "lu",
];

#[derive(Debug, Clone)]
enum Cmd {
    Create {
        actor: usize,
        login: usize,
        upper: bool,
        email: u8,
        role: Role,
        unit: Option<usize>,
        perms: Option<Vec<Permission>>,
    },
    Edit {
        actor: usize,
        target: usize,
        role: Option<Role>,
        unit: Option<Option<usize>>,
        perms: Option<Vec<Permission>>,
        email: Option<u8>,
        external_id: Option<Option<u8>>,
    },
    SubPoc {
        actor: usize,
        target: usize,
    },
    UnitPoc {
        actor: usize,
        unit: usize,
        /// Among the unit's members, else among all users.
        member: bool,
        target: usize,
    },
    CreateUnit {
        actor: usize,
        name: u8,
    },
    UpdateUnit {
        actor: usize,
        unit: usize,
        name: Option<u8>,
        limit: Option<Option<u64>>,
    },
    DeleteUnit {
        actor: usize,
        unit: usize,
    },
    Security {
        actor: usize,
        external_ids: bool,
        lockout: u32,
    },
    Visibility {
        actor: usize,
        restrict: bool,
        hide: bool,
    },
    UnitSetup {
        actor: usize,
        on: bool,
    },
    UnitEmail {
        actor: usize,
        unit: usize,
        allow: bool,
    },
    Feature {
        feature: Feature,
        on: bool,
    },
    Service {
        service_type: Option<ServiceType>,
        modules: Option<Vec<Module>>,
    },
    /// First login, as the credentials rules do it.
    Activate {
        target: usize,
    },
    /// Deactivation as R7.3 will do it, through the guards this layer offers.
    Deactivate {
        actor: usize,
        target: usize,
    },
    Reactivate {
        actor: usize,
        target: usize,
    },
}

fn actor() -> impl Strategy<Value = usize> {
    // Half the time the oldest user (the first Manager), so that much is accepted.
    prop_oneof![Just(0usize), 0usize..64]
}

fn perms() -> impl Strategy<Value = Option<Vec<Permission>>> {
    proptest::option::of(proptest::collection::vec(
        proptest::sample::select(Permission::ALL.to_vec()),
        0..4,
    ))
}

fn role() -> impl Strategy<Value = Role> {
    proptest::sample::select(Role::ALL.to_vec())
}

fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        6 => (actor(), 0..LOGINS.len(), any::<bool>(), 0u8..4, role(), proptest::option::of(0usize..8), perms())
            .prop_map(|(actor, login, upper, email, role, unit, perms)| Cmd::Create { actor, login, upper, email, role, unit, perms }),
        6 => (actor(), 0usize..64, proptest::option::of(role()), proptest::option::of(proptest::option::of(0usize..8)), perms(),
              proptest::option::of(0u8..4), proptest::option::of(proptest::option::of(0u8..3)))
            .prop_map(|(actor, target, role, unit, perms, email, external_id)| Cmd::Edit { actor, target, role, unit, perms, email, external_id }),
        2 => (actor(), 0usize..64).prop_map(|(actor, target)| Cmd::SubPoc { actor, target }),
        3 => (actor(), 0usize..8, any::<bool>(), 0usize..64).prop_map(|(actor, unit, member, target)| Cmd::UnitPoc { actor, unit, member, target }),
        3 => (actor(), 0u8..5).prop_map(|(actor, name)| Cmd::CreateUnit { actor, name }),
        1 => (actor(), 0usize..8, proptest::option::of(0u8..5), proptest::option::of(proptest::option::of(0u64..100)))
            .prop_map(|(actor, unit, name, limit)| Cmd::UpdateUnit { actor, unit, name, limit }),
        2 => (actor(), 0usize..8).prop_map(|(actor, unit)| Cmd::DeleteUnit { actor, unit }),
        1 => (actor(), any::<bool>(), 0u32..8).prop_map(|(actor, external_ids, lockout)| Cmd::Security { actor, external_ids, lockout }),
        1 => (actor(), any::<bool>(), any::<bool>()).prop_map(|(actor, restrict, hide)| Cmd::Visibility { actor, restrict, hide }),
        1 => (actor(), any::<bool>()).prop_map(|(actor, on)| Cmd::UnitSetup { actor, on }),
        1 => (actor(), 0usize..8, any::<bool>()).prop_map(|(actor, unit, allow)| Cmd::UnitEmail { actor, unit, allow }),
        2 => (proptest::sample::select(Feature::ALL.to_vec()), any::<bool>()).prop_map(|(feature, on)| Cmd::Feature { feature, on }),
        1 => (proptest::option::of(proptest::sample::select(ServiceType::ALL.to_vec())),
              proptest::option::of(proptest::collection::vec(proptest::sample::select(Module::ALL.to_vec()), 0..4)))
            .prop_map(|(service_type, modules)| Cmd::Service { service_type, modules }),
        3 => (0usize..64).prop_map(|target| Cmd::Activate { target }),
        2 => (actor(), 0usize..64).prop_map(|(actor, target)| Cmd::Deactivate { actor, target }),
        1 => (actor(), 0usize..64).prop_map(|(actor, target)| Cmd::Reactivate { actor, target }),
    ]
}

fn nth_user(s: &State, i: usize) -> Id {
    let n = s.users.len().max(1);
    s.users.keys().nth(i % n).cloned().unwrap_or_default()
}

fn nth_unit(s: &State, i: usize) -> Id {
    let n = s.units.len().max(1);
    s.units
        .keys()
        .nth(i % n)
        .cloned()
        .unwrap_or_else(|| "no-unit".into())
}

/// Runs one command; returns how many activity entries it may write at most
/// (operator commands that change nothing write none).
fn run(state: &mut State, cmd: &Cmd, next: &mut u32, now: i64) {
    let before = state.clone();
    let who = |i: usize| actor_of(&before, &nth_user(&before, i));
    let unit_of = |u: Option<usize>| u.map(|i| nth_unit(&before, i));
    let mut fresh = || {
        *next += 1;
        format!("x{next:04}")
    };
    let (actor, operator) = match cmd {
        Cmd::Feature { .. } | Cmd::Service { .. } | Cmd::Activate { .. } => {
            (Actor::operator(), true)
        }
        Cmd::Create { actor, .. }
        | Cmd::Edit { actor, .. }
        | Cmd::SubPoc { actor, .. }
        | Cmd::UnitPoc { actor, .. }
        | Cmd::CreateUnit { actor, .. }
        | Cmd::UpdateUnit { actor, .. }
        | Cmd::DeleteUnit { actor, .. }
        | Cmd::Security { actor, .. }
        | Cmd::Visibility { actor, .. }
        | Cmd::UnitSetup { actor, .. }
        | Cmd::UnitEmail { actor, .. }
        | Cmd::Deactivate { actor, .. }
        | Cmd::Reactivate { actor, .. } => (who(*actor), false),
    };
    let mut tx = Tx::new(state, Timestamp::from_unix_micros(now), actor);
    let set = |v: &Option<Vec<Permission>>| {
        v.as_ref()
            .map(|v| v.iter().copied().collect::<BTreeSet<_>>())
    };
    let out: Result<(), Refusal> = match cmd.clone() {
        Cmd::Create {
            login,
            upper,
            email,
            role,
            unit,
            perms,
            ..
        } => {
            let login = if upper {
                LOGINS[login].to_uppercase()
            } else {
                LOGINS[login].to_owned()
            };
            let new = NewUser {
                login,
                email: format!("e{email}@example.com"),
                first_name: "F".into(),
                last_name: "L".into(),
                role,
                business_unit: unit_of(unit),
                asset_groups: Vec::new(),
                permissions: set(&perms),
                access: Access::UiAndApi,
                external_id: None,
            };
            users::create_user(&mut tx, fresh(), new, None).map(drop)
        }
        Cmd::Edit {
            target,
            role,
            unit,
            perms,
            email,
            external_id,
            ..
        } => {
            let patch = UserPatch {
                role,
                business_unit: unit.map(unit_of),
                permissions: set(&perms),
                email: email.map(|e| format!("e{e}@example.com")),
                external_id: external_id.map(|x| x.map(|n| format!("ext-{n}"))),
                ..UserPatch::default()
            };
            users::edit_user(&mut tx, &nth_user(&before, target), patch).map(drop)
        }
        Cmd::SubPoc { target, .. } => {
            contacts::set_subscription_poc(&mut tx, &nth_user(&before, target)).map(drop)
        }
        Cmd::UnitPoc {
            unit,
            member,
            target,
            ..
        } => {
            let unit = nth_unit(&before, unit);
            let members: Vec<&Id> = before
                .users
                .values()
                .filter(|u| u.business_unit.as_ref() == Some(&unit))
                .map(|u| &u.id)
                .collect();
            let target = match members.len() {
                n if member && n > 0 => members[target % n].clone(),
                _ => nth_user(&before, target),
            };
            contacts::set_unit_poc(&mut tx, &unit, &target).map(drop)
        }
        Cmd::CreateUnit { name, .. } => {
            let new = NewUnit {
                name: format!("Unit {name}"),
                new_ip_limit: None,
            };
            units::create_unit(&mut tx, fresh(), new).map(drop)
        }
        Cmd::UpdateUnit {
            unit, name, limit, ..
        } => {
            let patch = UnitPatch {
                name: name.map(|n| format!("unit {n}")),
                new_ip_limit: limit,
            };
            units::update_unit(&mut tx, &nth_unit(&before, unit), patch).map(drop)
        }
        Cmd::DeleteUnit { unit, .. } => {
            units::delete_unit(&mut tx, &nth_unit(&before, unit)).map(drop)
        }
        Cmd::Security {
            external_ids,
            lockout,
            ..
        } => {
            let s = SecuritySettings {
                external_ids_enabled: external_ids,
                lockout_threshold: lockout,
                ..SecuritySettings::default()
            };
            settings::set_security(&mut tx, s).map(drop)
        }
        Cmd::Visibility { restrict, hide, .. } => {
            let v = VisibilitySettings {
                restrict_user_info_outside_unit: restrict,
                hide_users_outside_unit: hide,
                restrict_scheduled_tasks_on_unassigned_assets: false,
            };
            settings::set_visibility(&mut tx, v).map(drop)
        }
        Cmd::UnitSetup { on, .. } => settings::set_business_unit_setup(&mut tx, on).map(drop),
        Cmd::UnitEmail { unit, allow, .. } => {
            let c = allow.then(|| EmailContact {
                name: "E".into(),
                email: "e@example.com".into(),
            });
            settings::set_unit_email_contact(&mut tx, &nth_unit(&before, unit), c).map(drop)
        }
        Cmd::Feature { feature, on } => subscription::set_feature(&mut tx, feature, on).map(drop),
        Cmd::Service {
            service_type,
            modules,
        } => subscription::set_service(
            &mut tx,
            service_type,
            modules.map(|m| m.into_iter().collect()),
        )
        .map(drop),
        Cmd::Activate { target } => {
            let id = nth_user(&before, target);
            match before.users.get(&id) {
                Some(u) if u.status == UserStatus::PendingActivation => {
                    let mut u = u.clone();
                    u.status = UserStatus::Active;
                    tx.put_user(u);
                    tx.log(LogAction::UserActivate, id, "first login");
                }
                _ => {}
            }
            Ok(())
        }
        Cmd::Deactivate { target, .. } => {
            crate::lifecycle::deactivate(&mut tx, &nth_user(&before, target)).map(drop)
        }
        Cmd::Reactivate { target, .. } => {
            crate::lifecycle::reactivate(&mut tx, &nth_user(&before, target)).map(drop)
        }
    };
    let (_, log) = tx.finish();
    match out {
        Ok(()) if operator => assert!(log.len() <= 1, "{cmd:?}: {log:?}"),
        Ok(()) => assert_eq!(log.len(), 1, "{cmd:?}: one entry per accepted change"),
        Err(r) => {
            assert!(log.is_empty(), "{cmd:?} refused ({r:?}) but logged {log:?}");
            assert_eq!(
                fingerprint(&before),
                fingerprint(state),
                "{cmd:?} refused ({r:?}) but changed the state"
            );
            assert!(!r.message.is_empty());
            *state = before;
        }
    }
}

pub(crate) fn check(s: &State, ever_ua: &BTreeSet<Id>) {
    let sub = s.subscription.as_ref().expect("a subscription");
    assert!(s.active_managers() >= 1, "R2.6: no active Manager left");
    let poc = sub
        .primary_contact
        .as_ref()
        .and_then(|id| s.users.get(id))
        .expect("R4.1: a subscription POC");
    assert!(
        poc.role == Role::Manager && poc.status == UserStatus::Active,
        "R4.1: POC {poc:?}"
    );
    for unit in s.units.values() {
        if let Some(p) = &unit.primary_contact {
            let u = s.users.get(p).expect("R4.1: unit POC exists");
            assert_eq!(
                u.business_unit.as_ref(),
                Some(&unit.id),
                "R4.1: unit POC is a member"
            );
            assert_eq!(u.status, UserStatus::Active, "R4.1: unit POC is active");
            assert_ne!(u.role, Role::Contact);
        }
    }
    if sub.service_type == ServiceType::ExpressLite {
        assert!(s.units.is_empty(), "R1.2: express_lite has no units");
    }
    assert_eq!(
        s.logins.len(),
        s.users.len(),
        "logins unique case-insensitively"
    );
    for u in s.users.values() {
        assert_eq!(s.logins.get(&u.login.to_lowercase()), Some(&u.id));
        for &p in &u.permissions {
            assert!(
                permissions::storable(sub, &s.settings, u.role, p),
                "R5: {} holds {p:?} as {:?}",
                u.login,
                u.role
            );
        }
        if ever_ua.contains(&u.id) {
            assert_eq!(
                u.role,
                Role::UserAdministrator,
                "R2.4: a UA's role never changes"
            );
        }
        match u.role {
            Role::Manager | Role::UserAdministrator => {
                assert_eq!(u.business_unit, None, "R2.1 {u:?}")
            }
            Role::UnitManager => assert!(u.business_unit.is_some(), "R2.2 {u:?}"),
            Role::Auditor => assert!(sub.modules.contains(&Module::Pc), "R1.3"),
            _ => {}
        }
        if let Some(b) = &u.business_unit {
            assert!(
                s.units.contains_key(b),
                "{} is in a unit that is gone",
                u.login
            );
        }
    }
}

/// A few units and active users of every kind, made through the commands
/// themselves, so that random commands have something to work on.
fn prelude() -> Vec<Cmd> {
    use Permission as P;
    let with = |login, role, unit, perms: Option<Vec<Permission>>| Cmd::Create {
        actor: 0,
        login,
        upper: false,
        email: 3,
        role,
        unit,
        perms,
    };
    let create = |login, role, unit| with(login, role, unit, None);
    let on = |feature| Cmd::Feature { feature, on: true };
    let mut cmds = vec![
        Cmd::CreateUnit { actor: 0, name: 0 },
        Cmd::CreateUnit { actor: 0, name: 1 },
        on(Feature::ScannersAddAssets),
        on(Feature::ScannersManageAuthRecords),
        create(0, Role::Manager, None),
        create(1, Role::UnitManager, Some(0)),
        create(2, Role::Scanner, Some(0)),
        create(3, Role::Reader, Some(1)),
        create(4, Role::UserAdministrator, None),
        // Grants that feature, module and service changes may withdraw; each
        // may be refused where the start does not allow it.
        with(
            5,
            Role::Scanner,
            None,
            Some(vec![P::AddAssets, P::ManageAuthRecords]),
        ),
        with(
            6,
            Role::UnitManager,
            Some(1),
            Some(vec![
                P::VmVirtualHosts,
                P::WasCreateWebApps,
                P::PurgeHostHistory,
            ]),
        ),
        with(
            7,
            Role::UnitManager,
            Some(1),
            Some(vec![P::PcCreateUdcs, P::ScaPolicies]),
        ),
    ];
    cmds.extend((0..8).map(|target| Cmd::Activate { target }));
    cmds.push(Cmd::UnitPoc {
        actor: 0,
        unit: 0,
        member: true,
        target: 1,
    });
    cmds
}

/// A fresh subscription, from the shared fixtures (one Manager `m1`).
fn start(service_type: ServiceType, modules: Vec<Module>) -> State {
    World::with(service_type, &modules).state
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_under_random_commands(
        service_type in prop_oneof![
            4 => Just(ServiceType::Enterprise),
            1 => Just(ServiceType::Consultant),
            1 => Just(ServiceType::ConsultantUnlimited),
            1 => Just(ServiceType::ExpressLite),
        ],
        modules in proptest::collection::vec(proptest::sample::select(Module::ALL.to_vec()), 0..4),
        cmds in proptest::collection::vec(cmd(), 1..40),
    ) {
        let mut state = start(service_type, modules);
        let mut next = 0;
        let mut ever_ua = BTreeSet::new();
        check(&state, &ever_ua);
        for (i, c) in prelude().iter().chain(cmds.iter()).enumerate() {
            run(&mut state, c, &mut next, 10 + i as i64);
            ever_ua.extend(state.users.values().filter(|u| u.role == Role::UserAdministrator).map(|u| u.id.clone()));
            check(&state, &ever_ua);
        }
    }
}
