//! Extended permissions (R5): which role may hold which permission, and who
//! may grant or revoke it.
//!
//! The one thing to know: `TABLE` *is* R5 (docs/rules.md)'s table, row for row. A
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
//! use bailiwick_domain::{permissions, Permission, Role, Subscription, ServiceType, Timestamp};
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
pub(crate) enum Gate {
    Always,
    /// Only with this operator feature (R1.4).
    Feature(Feature),
    /// With this feature, or in a subscription of this service type.
    FeatureOrService(Feature, ServiceType),
}

/// One row of R5 (docs/rules.md)'s table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    pub permission: Permission,
    /// The module the permission belongs to (R1.3), if any.
    pub module: Option<Module>,
    pub holders: &'static [(Role, Gate)],
}

const UM: (Role, Gate) = (Role::UnitManager, Gate::Always);
const SCANNER: (Role, Gate) = (Role::Scanner, Gate::Always);
const READER: (Role, Gate) = (Role::Reader, Gate::Always);

/// R5 (docs/rules.md), row for row. Managers are not listed except where R5 lists
/// them: they hold everything implicitly (R5.1).
pub(crate) const TABLE: &[Row] = &[
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
            (
                Role::Scanner,
                Gate::Feature(Feature::ScannersManageAuthRecords),
            ),
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

pub(crate) fn row(p: Permission) -> Option<&'static Row> {
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
        || r.holders
            .iter()
            .any(|&(who, gate)| who == role && gate_open(sub, gate))
}

/// Whether `p` may be *stored* on a user of `role`: [`may_hold`]; for
/// Managers only `manage_external_ids` (they hold the rest implicitly, but
/// that one the subscription's primary contact grants them, R5.3); and
/// `manage_external_ids` only while external IDs are enabled.
pub(crate) fn storable(sub: &Subscription, settings: &Settings, role: Role, p: Permission) -> bool {
    (role != Role::Manager || p == Permission::ManageExternalIds)
        && may_hold(sub, role, p)
        && (p != Permission::ManageExternalIds || settings.security.external_ids_enabled)
}

/// What a new user of `role` gets unless told otherwise (R5 table: "on by
/// default for both").
pub(crate) fn defaults_for(role: Role) -> BTreeSet<Permission> {
    match role {
        Role::Scanner | Role::UnitManager => BTreeSet::from([Permission::CreateOptionProfiles]),
        _ => BTreeSet::new(),
    }
}

/// The permissions `user` holds now: for a Manager every applicable one
/// (R5.1) but `manage_external_ids`, which it holds only when granted; for
/// everyone else what is stored and still storable.
pub fn effective(state: &State, user: &User) -> BTreeSet<Permission> {
    let Some(sub) = state.subscription.as_ref() else {
        return BTreeSet::new();
    };
    let external = state.settings.security.external_ids_enabled;
    if user.role == Role::Manager {
        let granted = external && user.permissions.contains(&Permission::ManageExternalIds);
        return Permission::ALL
            .into_iter()
            .filter(|&p| may_hold(sub, Role::Manager, p))
            .filter(|&p| p != Permission::ManageExternalIds || granted)
            .collect();
    }
    user.permissions
        .iter()
        .copied()
        .filter(|&p| storable(sub, &state.settings, user.role, p))
        .collect()
}

/// Whether `user` holds `p` now ([`effective`]): what authorization and the
/// commands ask.
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
            format!(
                "it needs the {} module, which this subscription does not have",
                m.as_str()
            )
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
    // Managers hold everything else implicitly: of what is asked for them,
    // only `manage_external_ids` is stored, and decided like any grant.
    let explicit = |s: &BTreeSet<Permission>| -> BTreeSet<Permission> {
        s.iter()
            .copied()
            .filter(|&p| p == Permission::ManageExternalIds)
            .collect()
    };
    let (baseline, requested) = if role == Role::Manager {
        (&explicit(baseline), &explicit(requested))
    } else {
        (baseline, requested)
    };
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
