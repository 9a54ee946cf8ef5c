//! Extended permissions (R5): which role may hold which permission, and who
//! may grant or revoke it.
//!
//! The one thing to know: [`TABLE`] *is* SPEC R5's table, row for row. A
//! permission is *storable* on a user when its role, the subscription's
//! modules, operator features and service type allow it (and, for
//! `manage_external_ids`, while the security setting `external_ids_enabled`
//! is on). Nothing that is not storable is ever stored:
//!
//! - Managers hold every permission implicitly (R5.1): nothing is stored for
//!   them and [`effective`] reports every permission whose module the
//!   subscription has. A permissions list sent for a Manager is ignored.
//! - When a user's role changes, the permissions the new role cannot hold are
//!   dropped, and the role's defaults (`create_option_profiles` for Scanners
//!   and Unit Managers) are added if the old role could not hold them.
//! - When the operator switches a feature or module off, or the subscription
//!   primary contact turns `external_ids_enabled` off, [`prune`] drops the
//!   grants that became inapplicable; switching back on does not restore them.
//!
//! ```
//! use bailiwick::domain::{permissions, Permission, Role, Subscription, ServiceType, Timestamp};
//! let sub = Subscription {
//!     name: "S".into(), service_type: ServiceType::Enterprise,
//!     modules: Default::default(), features: Default::default(),
//!     primary_contact: None, created_at: Timestamp::from_unix_micros(0),
//! };
//! assert!(permissions::may_hold(&sub, Role::Reader, Permission::PurgeHostHistory));
//! assert!(!permissions::may_hold(&sub, Role::Scanner, Permission::AddAssets));
//! ```

use std::collections::BTreeSet;

use super::access::Acting;
use super::{
    Code, Feature, Module, Permission, Refusal, Role, ServiceType, Settings, State, Subscription,
    Tx, User,
};

/// When a role may hold a permission, beyond the module gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Always,
    /// Only with this operator feature (R1.4).
    Feature(Feature),
    /// With this feature, or in a subscription of this service type.
    FeatureOrService(Feature, ServiceType),
}

/// One row of SPEC R5's table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub permission: Permission,
    /// The module the permission belongs to (R1.3), if any.
    pub module: Option<Module>,
    pub holders: &'static [(Role, Gate)],
}

const UM: (Role, Gate) = (Role::UnitManager, Gate::Always);
const SCANNER: (Role, Gate) = (Role::Scanner, Gate::Always);
const READER: (Role, Gate) = (Role::Reader, Gate::Always);

/// SPEC R5, row for row. Managers are not listed except where SPEC lists
/// them: they hold everything implicitly (R5.1).
pub const TABLE: &[Row] = &[
    Row {
        permission: Permission::AddAssets,
        module: None,
        holders: &[
            UM,
            (
                Role::Scanner,
                Gate::FeatureOrService(Feature::ScannersAddAssets, ServiceType::Consultant),
            ),
        ],
    },
    Row {
        permission: Permission::ManageAuthRecords,
        module: None,
        holders: &[
            UM,
            (Role::Scanner, Gate::Feature(Feature::ScannersManageAuthRecords)),
        ],
    },
    Row {
        permission: Permission::CreateOptionProfiles,
        module: None,
        holders: &[UM, SCANNER],
    },
    Row {
        permission: Permission::ManageExternalIds,
        module: None,
        holders: &[
            (Role::Manager, Gate::Always),
            UM,
            (Role::UserAdministrator, Gate::Always),
        ],
    },
    Row {
        permission: Permission::ManageVirtualScanners,
        module: None,
        holders: &[
            UM,
            (
                Role::Scanner,
                Gate::Feature(Feature::ScannersManageVirtualScanners),
            ),
        ],
    },
    Row {
        permission: Permission::ManageOfflineScanners,
        module: None,
        holders: &[UM],
    },
    Row {
        permission: Permission::PurgeHostHistory,
        module: None,
        holders: &[UM, SCANNER, READER],
    },
    Row {
        permission: Permission::VmRemediationPolicy,
        module: Some(Module::Vm),
        holders: &[UM],
    },
    Row {
        permission: Permission::VmVirtualHosts,
        module: Some(Module::Vm),
        holders: &[UM, SCANNER],
    },
    Row {
        permission: Permission::PcAcceptExceptions,
        module: Some(Module::Pc),
        holders: &[UM],
    },
    Row {
        permission: Permission::PcCompliancePolicies,
        module: Some(Module::Pc),
        holders: &[UM],
    },
    Row {
        permission: Permission::PcCreateUdcs,
        module: Some(Module::Pc),
        holders: &[UM],
    },
    Row {
        permission: Permission::PcUpdateDeleteUdcs,
        module: Some(Module::Pc),
        holders: &[UM],
    },
    Row {
        permission: Permission::ScaPolicies,
        module: Some(Module::Sca),
        holders: &[UM],
    },
    Row {
        permission: Permission::WasManageWebApps,
        module: Some(Module::Was),
        holders: &[UM, SCANNER, READER],
    },
    Row {
        permission: Permission::WasCreateWebApps,
        module: Some(Module::Was),
        holders: &[UM, SCANNER, READER],
    },
];

pub fn row(p: Permission) -> Option<&'static Row> {
    TABLE.iter().find(|r| r.permission == p)
}

fn gate_open(sub: &Subscription, gate: Gate) -> bool {
    match gate {
        Gate::Always => true,
        Gate::Feature(f) => sub.has(f),
        Gate::FeatureOrService(f, t) => sub.has(f) || sub.service_type == t,
    }
}

/// Whether a user of `role` may hold `p` in this subscription (R5 table,
/// R1.3 module gates, R1.4 feature gates). Managers may hold every
/// permission whose module the subscription has (R5.1).
pub fn may_hold(sub: &Subscription, role: Role, p: Permission) -> bool {
    let Some(r) = row(p) else { return false };
    if let Some(m) = r.module
        && !sub.modules.contains(&m)
    {
        return false;
    }
    role == Role::Manager
        || r
            .holders
            .iter()
            .any(|&(who, gate)| who == role && gate_open(sub, gate))
}

/// Whether `p` may be *stored* on a user of `role`: [`may_hold`], never for
/// Managers (implicit), and `manage_external_ids` only while external IDs
/// are enabled (R5.3).
pub fn storable(sub: &Subscription, settings: &Settings, role: Role, p: Permission) -> bool {
    role != Role::Manager
        && may_hold(sub, role, p)
        && (p != Permission::ManageExternalIds || settings.security.external_ids_enabled)
}

/// What a new user of `role` gets unless told otherwise (R5 table: "on by
/// default for both").
pub fn defaults_for(role: Role) -> BTreeSet<Permission> {
    match role {
        Role::Scanner | Role::UnitManager => BTreeSet::from([Permission::CreateOptionProfiles]),
        _ => BTreeSet::new(),
    }
}

/// The permissions `user` holds now: every applicable one for a Manager
/// (R5.1), else what is stored and still storable.
pub fn effective(state: &State, user: &User) -> BTreeSet<Permission> {
    let Some(sub) = state.subscription.as_ref() else {
        return BTreeSet::new();
    };
    let external = state.settings.security.external_ids_enabled;
    if user.role == Role::Manager {
        return Permission::ALL
            .into_iter()
            .filter(|&p| may_hold(sub, Role::Manager, p))
            .filter(|&p| p != Permission::ManageExternalIds || external)
            .collect();
    }
    user.permissions
        .iter()
        .copied()
        .filter(|&p| storable(sub, &state.settings, user.role, p))
        .collect()
}

pub fn has(state: &State, user: &User, p: Permission) -> bool {
    effective(state, user).contains(&p)
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Manager => "Managers",
        Role::UnitManager => "Unit Managers",
        Role::Scanner => "Scanners",
        Role::Reader => "Readers",
        Role::Auditor => "Auditors",
        Role::RemediationUser => "Remediation users",
        Role::KbOnly => "KnowledgeBase-only users",
        Role::UserAdministrator => "User Administrators",
        Role::Contact => "Contacts",
    }
}

fn not_applicable(sub: &Subscription, role: Role, p: Permission) -> Refusal {
    let why = match row(p).and_then(|r| r.module) {
        Some(m) if !sub.modules.contains(&m) => {
            format!("it needs the {} module, which this subscription does not have", m.as_str())
        }
        _ => format!("{} cannot hold it in this subscription", role_name(role)),
    };
    Refusal::new(
        Code::PermissionNotApplicable,
        format!("permission {}: {why}; remove it from the list", p.as_str()),
    )
}

/// Decides the permissions to store on a user whose role will be `role`,
/// starting from `baseline` (what it holds now, or the defaults for a new
/// user) and asked to hold `requested`. Returns the set to store.
///
/// R5.2: Managers grant and revoke anything applicable; a Unit Manager
/// grants and revokes only what it holds itself (scoping to its own unit is
/// the caller's user-management check); nobody else grants. R5.3:
/// `manage_external_ids` is granted only by the subscription primary contact
/// and only while `external_ids_enabled` is on.
pub(crate) fn decide(
    acting: &Acting<'_>,
    role: Role,
    baseline: &BTreeSet<Permission>,
    requested: &BTreeSet<Permission>,
) -> Result<BTreeSet<Permission>, Refusal> {
    if role == Role::Manager {
        return Ok(BTreeSet::new());
    }
    let sub = acting.subscription;
    if let Some(&p) = requested.iter().find(|&&p| !may_hold(sub, role, p)) {
        return Err(not_applicable(sub, role, p));
    }
    let added: Vec<Permission> = requested.difference(baseline).copied().collect();
    let removed: Vec<Permission> = baseline.difference(requested).copied().collect();
    if added.is_empty() && removed.is_empty() {
        return Ok(requested.clone());
    }
    if added.contains(&Permission::ManageExternalIds) {
        if !acting.state.settings.security.external_ids_enabled {
            return Err(Refusal::new(
                Code::FeatureUnavailable,
                "external IDs are off; the subscription's primary contact turns them on in the security settings first",
            ));
        }
        if !acting.is_subscription_poc() {
            return Err(Refusal::new(
                Code::Forbidden,
                "only the subscription's primary contact grants manage_external_ids; ask them",
            ));
        }
    }
    match acting.role() {
        Role::Manager => {}
        Role::UnitManager => {
            let own = effective(acting.state, acting.user);
            if let Some(p) = added
                .iter()
                .chain(removed.iter())
                .find(|&&p| !own.contains(&p))
            {
                return Err(Refusal::new(
                    Code::Forbidden,
                    format!(
                        "you do not hold {} yourself, so you cannot grant or revoke it; ask a Manager",
                        p.as_str()
                    ),
                ));
            }
        }
        _ => {
            return Err(Refusal::new(
                Code::Forbidden,
                "only Managers and Unit Managers grant or revoke extended permissions",
            ));
        }
    }
    Ok(requested.clone())
}

/// The permissions a user keeps when its role becomes `role`: those still
/// storable, plus the new role's defaults the old role could not hold.
pub(crate) fn carried_over(
    sub: &Subscription,
    settings: &Settings,
    old_role: Role,
    old: &BTreeSet<Permission>,
    role: Role,
) -> BTreeSet<Permission> {
    let mut kept: BTreeSet<Permission> = old
        .iter()
        .copied()
        .filter(|&p| storable(sub, settings, role, p))
        .collect();
    if old_role != role {
        kept.extend(
            defaults_for(role)
                .into_iter()
                .filter(|&p| !storable(sub, settings, old_role, p)),
        );
    }
    kept
}

/// Drops every stored permission that is no longer storable (after a
/// feature, module, service type or external-IDs change). Returns how many
/// grants were dropped; the caller's activity entry says so.
pub fn prune(tx: &mut Tx<'_>) -> usize {
    let Some(sub) = tx.state().subscription.clone() else {
        return 0;
    };
    let settings = tx.state().settings.clone();
    let changed: Vec<(User, usize)> = tx
        .state()
        .users
        .values()
        .filter_map(|u| {
            let keep: BTreeSet<Permission> = u
                .permissions
                .iter()
                .copied()
                .filter(|&p| storable(&sub, &settings, u.role, p))
                .collect();
            (keep.len() != u.permissions.len()).then(|| {
                let dropped = u.permissions.len() - keep.len();
                let mut nu = u.clone();
                nu.permissions = keep;
                (nu, dropped)
            })
        })
        .collect();
    let mut total = 0;
    for (u, dropped) in changed {
        total += dropped;
        tx.put_user(u);
    }
    total
}

/// "+add_assets -purge_host_history", for activity details.
pub(crate) fn diff(old: &BTreeSet<Permission>, new: &BTreeSet<Permission>) -> String {
    let plus = new.difference(old).map(|p| format!("+{}", p.as_str()));
    let minus = old.difference(new).map(|p| format!("-{}", p.as_str()));
    plus.chain(minus).collect::<Vec<_>>().join(" ")
}

/// R5.5: a unit's remediation policy takes precedence over the
/// subscription's. Policies themselves are owned objects (R9); this is the
/// one place the precedence is decided.
pub fn remediation_policy<'p, P>(unit: Option<&'p P>, subscription: Option<&'p P>) -> Option<&'p P> {
    unit.or(subscription)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testkit::World;
    use crate::domain::users::{self, UserPatch};

    fn sub(modules: &[Module], features: &[Feature], t: ServiceType) -> Subscription {
        Subscription {
            name: "S".into(),
            service_type: t,
            modules: modules.iter().copied().collect(),
            features: features.iter().copied().collect(),
            primary_contact: None,
            created_at: crate::domain::Timestamp::from_unix_micros(0),
        }
    }

    #[test]
    fn r5_table_covers_every_permission_once() {
        for p in Permission::ALL {
            assert_eq!(TABLE.iter().filter(|r| r.permission == p).count(), 1, "{p:?}");
        }
    }

    /// SPEC R5's table, as (permission, role, modules, features, service type, may hold).
    #[test]
    fn r5_grid_of_who_may_hold_what() {
        use Permission as P;
        use Role as R;
        let all = [Module::Vm, Module::Pc, Module::Sca, Module::Was];
        let e = ServiceType::Enterprise;
        let cases: &[(P, R, &[Module], &[Feature], ServiceType, bool)] = &[
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
            (P::ManageOfflineScanners, R::Scanner, &all, &Feature::ALL, e, false),
            (P::PurgeHostHistory, R::Reader, &[], &[], e, true),
            (P::PurgeHostHistory, R::Scanner, &[], &[], e, true),
            (P::PurgeHostHistory, R::Auditor, &all, &[], e, false),
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
            assert_eq!(may_hold(&s, role, p), expect, "{p:?} {role:?} {modules:?} {features:?} {t:?}");
        }
        // Contacts, KB-only users, Remediation users and Auditors hold nothing.
        let s = sub(&all, &Feature::ALL, ServiceType::Consultant);
        for role in [R::Contact, R::KbOnly, R::RemediationUser, R::Auditor] {
            assert!(Permission::ALL.iter().all(|&p| !may_hold(&s, role, p)), "{role:?}");
        }
    }

    #[test]
    fn r5_1_managers_hold_every_applicable_permission_and_store_none() {
        let mut w = World::new();
        w.state.settings.security.external_ids_enabled = true;
        let m = w.state.users["m1"].clone();
        let eff = effective(&w.state, &m);
        assert!(eff.contains(&Permission::ManageExternalIds));
        assert!(eff.contains(&Permission::VmVirtualHosts), "VM is on");
        assert!(!eff.contains(&Permission::PcCreateUdcs), "PC is off: not applicable");
        let m2 = w.user("m2", Role::Manager, None);
        let u = w
            .run("m1", |tx| {
                users::set_permissions(tx, &m2, BTreeSet::from([Permission::AddAssets]))
            })
            .unwrap();
        assert!(u.permissions.is_empty(), "nothing stored for Managers");
    }

    #[test]
    fn r5_2_managers_grant_and_revoke_anything_applicable() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let s = w.user("s", Role::Scanner, Some(&eu));
        let u = w
            .run("m1", |tx| {
                users::set_permissions(tx, &s, BTreeSet::from([Permission::PurgeHostHistory]))
            })
            .unwrap();
        assert_eq!(u.permissions, BTreeSet::from([Permission::PurgeHostHistory]));
    }

    #[test]
    fn r5_2_unit_manager_grants_only_what_it_holds() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        let s = w.user("s", Role::Scanner, Some(&eu));
        w.set_perms(&um, &[Permission::CreateOptionProfiles]);
        let err = w
            .run(&um, |tx| {
                users::set_permissions(tx, &s, BTreeSet::from([Permission::PurgeHostHistory]))
            })
            .unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
        assert!(err.message.contains("purge_host_history"), "{}", err.message);
        w.set_perms(&um, &[Permission::PurgeHostHistory]);
        let u = w
            .run(&um, |tx| {
                users::set_permissions(tx, &s, BTreeSet::from([Permission::PurgeHostHistory]))
            })
            .unwrap();
        assert!(u.permissions.contains(&Permission::PurgeHostHistory));
    }

    #[test]
    fn r5_2_unit_manager_grants_only_in_its_own_unit() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        w.set_perms(&um, &[Permission::PurgeHostHistory]);
        let s = w.user("s", Role::Scanner, Some(&us));
        let err = w
            .run(&um, |tx| {
                users::set_permissions(tx, &s, BTreeSet::from([Permission::PurgeHostHistory]))
            })
            .unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
    }

    #[test]
    fn r5_2_others_grant_nothing() {
        let mut w = World::new();
        let ua = w.user("ua", Role::UserAdministrator, None);
        let s = w.user("s", Role::Scanner, None);
        let err = w
            .run(&ua, |tx| {
                users::set_permissions(tx, &s, BTreeSet::from([Permission::PurgeHostHistory]))
            })
            .unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
    }

    #[test]
    fn r5_inapplicable_is_refused_with_permission_not_applicable() {
        let mut w = World::new();
        let r = w.user("r", Role::Reader, None);
        for p in [Permission::AddAssets, Permission::PcCreateUdcs, Permission::ManageOfflineScanners] {
            let err = w
                .run("m1", |tx| users::set_permissions(tx, &r, BTreeSet::from([p])))
                .unwrap_err();
            assert_eq!(err.code, Code::PermissionNotApplicable, "{p:?}");
            assert!(err.message.contains(p.as_str()), "{}", err.message);
        }
        let err = w
            .run("m1", |tx| {
                users::set_permissions(tx, &r, BTreeSet::from([Permission::PcCreateUdcs]))
            })
            .unwrap_err();
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
        assert_eq!(grant(&mut w, "m1").unwrap_err().code, Code::FeatureUnavailable);
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
                users::edit_user(tx, &s, UserPatch { external_id: Some(Some(v)), ..Default::default() })
            })
        };
        assert_eq!(set(&mut w, &ua, "E-1").unwrap_err().code, Code::Forbidden);
        w.set_perms(&ua, &[Permission::ManageExternalIds]);
        assert_eq!(set(&mut w, &ua, "E-1").unwrap().external_id.as_deref(), Some("E-1"));
        assert_eq!(set(&mut w, "m1", "E-2").unwrap().external_id.as_deref(), Some("E-2"));
        w.state.settings.security.external_ids_enabled = false;
        assert_eq!(set(&mut w, "m1", "E-3").unwrap_err().code, Code::FeatureUnavailable);
    }

    #[test]
    fn r5_role_change_drops_what_the_new_role_cannot_hold() {
        let mut w = World::new();
        let s = w.user("s", Role::Scanner, None);
        w.set_perms(&s, &[Permission::CreateOptionProfiles, Permission::PurgeHostHistory]);
        let u = w
            .run("m1", |tx| {
                users::edit_user(tx, &s, UserPatch { role: Some(Role::Reader), ..Default::default() })
            })
            .unwrap();
        assert_eq!(u.permissions, BTreeSet::from([Permission::PurgeHostHistory]));
        let u = w
            .run("m1", |tx| {
                users::edit_user(tx, &s, UserPatch { role: Some(Role::Scanner), ..Default::default() })
            })
            .unwrap();
        assert_eq!(
            u.permissions,
            BTreeSet::from([Permission::CreateOptionProfiles, Permission::PurgeHostHistory]),
            "the Scanner default comes back with the role"
        );
    }

    #[test]
    fn r1_4_switching_a_feature_off_drops_its_grants() {
        let mut w = World::new();
        w.feature(Feature::ScannersAddAssets);
        let s = w.user("s", Role::Scanner, None);
        w.run("m1", |tx| {
            users::set_permissions(tx, &s, BTreeSet::from([Permission::AddAssets]))
        })
        .unwrap();
        let mut tx = Tx::new(&mut w.state, crate::domain::Timestamp::from_unix_micros(9), crate::domain::Actor::operator());
        crate::domain::subscription::set_feature(&mut tx, Feature::ScannersAddAssets, false).unwrap();
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

    #[test]
    fn r5_5_unit_remediation_policy_takes_precedence() {
        assert_eq!(remediation_policy(Some(&"unit"), Some(&"sub")), Some(&"unit"));
        assert_eq!(remediation_policy(None, Some(&"sub")), Some(&"sub"));
        assert_eq!(remediation_policy::<&str>(None, None), None);
    }
}
