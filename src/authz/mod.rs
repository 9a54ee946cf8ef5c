//! The permission index: answers "may this user do this to that?" (R2,
//! R5, R6.4, R6.5) in microseconds, for the HTTP API and for code linked
//! into the same process.
//!
//! The one thing to know: readers never lock, never touch disk and never
//! allocate. [`Authz`] holds the current [`Index`] behind an `ArcSwap`; the
//! store's writer calls [`Authz::apply`] after each durable commit, *before*
//! that commit's callers hear their answer, so a change acknowledged to
//! anyone is seen by every later check (read-your-writes).
//!
//! ```
//! use bailiwick::authz::{Action, Authz, Reason, Resource};
//! use bailiwick::domain::State;
//! let authz = Authz::new(&State::default());
//! let d = authz.check("nobody", Action::Scan, &Resource::ip("10.0.0.1".parse().unwrap()));
//! assert!(!d.allowed);
//! assert_eq!(d.reason, Reason::UnknownUser);
//! ```

mod index;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

pub use index::{Context, Entry, Index, Ranges, Reach, Reaches};

use crate::domain::{Feature, Key, Module, Permission, Role, State, UserStatus};

/// Why a check answered as it did. The strings are part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    Granted,
    UnknownUser,
    UserDeactivated,
    UserPendingActivation,
    RoleNotAllowed,
    ModuleUnavailable,
    MissingPermission,
    MissingResource,
    IpNotInAssetGroups,
    DomainNotInAssetGroups,
    ScannerNotInAssetGroups,
    UnknownTarget,
    UserHidden,
    OutsideBusinessUnit,
    AuthRecordCreatedByManager,
    AuthRecordOtherRole,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Granted => "granted",
            Reason::UnknownUser => "unknown_user",
            Reason::UserDeactivated => "user_deactivated",
            Reason::UserPendingActivation => "user_pending_activation",
            Reason::RoleNotAllowed => "role_not_allowed",
            Reason::ModuleUnavailable => "module_unavailable",
            Reason::MissingPermission => "missing_permission",
            Reason::MissingResource => "missing_resource",
            Reason::IpNotInAssetGroups => "ip_not_in_asset_groups",
            Reason::DomainNotInAssetGroups => "domain_not_in_asset_groups",
            Reason::ScannerNotInAssetGroups => "scanner_not_in_asset_groups",
            Reason::UnknownTarget => "unknown_target",
            Reason::UserHidden => "user_hidden",
            Reason::OutsideBusinessUnit => "outside_business_unit",
            Reason::AuthRecordCreatedByManager => "auth_record_created_by_manager",
            Reason::AuthRecordOtherRole => "auth_record_other_role",
        }
    }
}

/// The answer of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

const fn allow() -> Decision {
    Decision {
        allowed: true,
        reason: Reason::Granted,
    }
}

const fn deny(reason: Reason) -> Decision {
    Decision {
        allowed: false,
        reason,
    }
}

/// What a role may do (R2), beyond its assets and permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    LogIn,
    LaunchScans,
    RunReports,
    ViewVulnerabilityData,
    ViewComplianceData,
    DefineCompliancePolicies,
    RunComplianceReports,
    ViewRemediationTickets,
    ViewKnowledgeBase,
    SendVulnerabilityNotifications,
    ReceiveNotifications,
    ManageUsers,
    ManageBusinessUnits,
    DeleteBusinessUnits,
    ManageAssetGroups,
    DeleteAssetGroups,
    ManageDistributionGroups,
    DeleteDistributionGroups,
}

impl Capability {
    pub const ALL: [Capability; 18] = [
        Capability::LogIn,
        Capability::LaunchScans,
        Capability::RunReports,
        Capability::ViewVulnerabilityData,
        Capability::ViewComplianceData,
        Capability::DefineCompliancePolicies,
        Capability::RunComplianceReports,
        Capability::ViewRemediationTickets,
        Capability::ViewKnowledgeBase,
        Capability::SendVulnerabilityNotifications,
        Capability::ReceiveNotifications,
        Capability::ManageUsers,
        Capability::ManageBusinessUnits,
        Capability::DeleteBusinessUnits,
        Capability::ManageAssetGroups,
        Capability::DeleteAssetGroups,
        Capability::ManageDistributionGroups,
        Capability::DeleteDistributionGroups,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::LogIn => "log_in",
            Capability::LaunchScans => "launch_scans",
            Capability::RunReports => "run_reports",
            Capability::ViewVulnerabilityData => "view_vulnerability_data",
            Capability::ViewComplianceData => "view_compliance_data",
            Capability::DefineCompliancePolicies => "define_compliance_policies",
            Capability::RunComplianceReports => "run_compliance_reports",
            Capability::ViewRemediationTickets => "view_remediation_tickets",
            Capability::ViewKnowledgeBase => "view_knowledge_base",
            Capability::SendVulnerabilityNotifications => "send_vulnerability_notifications",
            Capability::ReceiveNotifications => "receive_notifications",
            Capability::ManageUsers => "manage_users",
            Capability::ManageBusinessUnits => "manage_business_units",
            Capability::DeleteBusinessUnits => "delete_business_units",
            Capability::ManageAssetGroups => "manage_asset_groups",
            Capability::DeleteAssetGroups => "delete_asset_groups",
            Capability::ManageDistributionGroups => "manage_distribution_groups",
            Capability::DeleteDistributionGroups => "delete_distribution_groups",
        }
    }

    /// The module a capability needs (R1.3): compliance needs PC.
    pub fn module(self) -> Option<Module> {
        match self {
            Capability::ViewComplianceData
            | Capability::DefineCompliancePolicies
            | Capability::RunComplianceReports => Some(Module::Pc),
            _ => None,
        }
    }
}

/// R2, role by role. Managers have every capability (R2.1).
pub fn role_has(role: Role, c: Capability) -> bool {
    use Capability::*;
    let list: &[Capability] = match role {
        Role::Manager => return true,
        Role::UnitManager => &[
            LogIn,
            LaunchScans,
            RunReports,
            ViewVulnerabilityData,
            ViewComplianceData,
            RunComplianceReports,
            ViewRemediationTickets,
            ViewKnowledgeBase,
            SendVulnerabilityNotifications,
            ReceiveNotifications,
            ManageUsers,
            ManageAssetGroups,
            DeleteAssetGroups,
            ManageDistributionGroups,
            DeleteDistributionGroups,
        ],
        Role::Scanner => &[
            LogIn,
            LaunchScans,
            RunReports,
            ViewVulnerabilityData,
            ViewComplianceData,
            RunComplianceReports,
            ViewRemediationTickets,
            ViewKnowledgeBase,
            ReceiveNotifications,
        ],
        Role::Reader => &[
            LogIn,
            RunReports,
            ViewVulnerabilityData,
            ViewComplianceData,
            RunComplianceReports,
            ViewRemediationTickets,
            ViewKnowledgeBase,
            ReceiveNotifications,
        ],
        // R2.3: compliance data only; defines policies, runs compliance reports.
        Role::Auditor => &[
            LogIn,
            ViewComplianceData,
            DefineCompliancePolicies,
            RunComplianceReports,
            ReceiveNotifications,
        ],
        Role::RemediationUser => &[
            LogIn,
            ViewRemediationTickets,
            ViewKnowledgeBase,
            ReceiveNotifications,
        ],
        Role::KbOnly => &[
            LogIn,
            ViewKnowledgeBase,
            SendVulnerabilityNotifications,
            ReceiveNotifications,
        ],
        // R2.4: users, asset groups, business units, distribution groups.
        Role::UserAdministrator => &[
            LogIn,
            ReceiveNotifications,
            ManageUsers,
            ManageBusinessUnits,
            ManageAssetGroups,
            ManageDistributionGroups,
        ],
        // R2.5.
        Role::Contact => &[ReceiveNotifications],
    };
    list.contains(&c)
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Scan `resource.ip`, with `resource.scanner_appliance` if given (R6.4).
    Scan,
    /// Map `resource.domain` (R6.4).
    Map,
    /// Use `resource.scanner_appliance` (R6.4).
    UseScanner,
    /// Run a report, on `resource.ip` if given (R2.3).
    Report,
    /// See user `resource.user` (R10.1).
    ViewUser,
    /// Administer user `resource.user` (R2).
    ManageUser,
    /// View an authentication record (`created_by_role`, `business_unit`).
    ViewAuthRecord,
    /// Edit an authentication record (R6.5).
    EditAuthRecord,
    Capability(Capability),
    Permission(Permission),
}

impl Action {
    const PLAIN: [(&'static str, Action); 8] = [
        ("scan", Action::Scan),
        ("map", Action::Map),
        ("use_scanner", Action::UseScanner),
        ("report", Action::Report),
        ("view_user", Action::ViewUser),
        ("manage_user", Action::ManageUser),
        ("view_auth_record", Action::ViewAuthRecord),
        ("edit_auth_record", Action::EditAuthRecord),
    ];

    pub fn parse(s: &str) -> Option<Action> {
        Action::PLAIN
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, a)| *a)
            .or_else(|| {
                Capability::ALL
                    .into_iter()
                    .find(|c| c.as_str() == s)
                    .map(Action::Capability)
            })
            .or_else(|| {
                Permission::ALL
                    .into_iter()
                    .find(|p| p.as_str() == s)
                    .map(Action::Permission)
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Capability(c) => c.as_str(),
            Action::Permission(p) => p.as_str(),
            plain => Action::PLAIN
                .iter()
                .find(|(_, a)| *a == plain)
                .map_or("", |(n, _)| n),
        }
    }

    /// Every action name, for messages and the API description.
    pub fn names() -> Vec<&'static str> {
        Action::PLAIN
            .iter()
            .map(|(n, _)| *n)
            .chain(Capability::ALL.iter().map(|c| c.as_str()))
            .chain(Permission::ALL.iter().map(|p| p.as_str()))
            .collect()
    }
}

/// What an action is done to; each action reads the fields it needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resource<'a> {
    pub ip: Option<IpAddr>,
    pub domain: Option<&'a str>,
    pub scanner_appliance: Option<&'a str>,
    pub user: Option<&'a str>,
    /// For authentication records: the role of the user who created it.
    pub created_by_role: Option<Role>,
    /// For authentication records: their unit, `None` for Unassigned.
    pub business_unit: Option<&'a str>,
}

impl<'a> Resource<'a> {
    pub fn ip(ip: IpAddr) -> Resource<'a> {
        Resource {
            ip: Some(ip),
            ..Resource::default()
        }
    }
}

impl Index {
    /// Decides one check. Allocation-free.
    pub fn check(&self, user: &str, action: Action, r: &Resource<'_>) -> Decision {
        let Some(e) = self.users.get(user) else {
            return deny(Reason::UnknownUser);
        };
        match e.status {
            UserStatus::Deactivated => return deny(Reason::UserDeactivated),
            UserStatus::PendingActivation
                if action != Action::Capability(Capability::ReceiveNotifications) =>
            {
                return deny(Reason::UserPendingActivation);
            }
            _ => {}
        }
        let ctx = &self.context;
        let can = |c: Capability| -> Option<Decision> {
            if let Some(m) = c.module()
                && !ctx.modules.contains(&m)
            {
                return Some(deny(Reason::ModuleUnavailable));
            }
            (!role_has(e.role, c)).then_some(deny(Reason::RoleNotAllowed))
        };
        match action {
            Action::Capability(c) => can(c).unwrap_or(allow()),
            Action::Permission(p) => {
                if e.holds(p) {
                    allow()
                } else {
                    deny(Reason::MissingPermission)
                }
            }
            Action::Scan => {
                if let Some(d) = can(Capability::LaunchScans) {
                    return d;
                }
                let Some(ip) = r.ip else {
                    return deny(Reason::MissingResource);
                };
                if !e.reach.has_ip(crate::domain::ipset::key(ip)) {
                    return deny(Reason::IpNotInAssetGroups);
                }
                match r.scanner_appliance {
                    Some(a) if !e.reach.has_appliance(a) => deny(Reason::ScannerNotInAssetGroups),
                    _ => allow(),
                }
            }
            Action::Map => {
                if let Some(d) = can(Capability::LaunchScans) {
                    return d;
                }
                match r.domain {
                    None => deny(Reason::MissingResource),
                    Some(d) if !e.reach.has_domain(d) => deny(Reason::DomainNotInAssetGroups),
                    Some(_) => allow(),
                }
            }
            Action::UseScanner => {
                if let Some(d) = can(Capability::LaunchScans) {
                    return d;
                }
                match r.scanner_appliance {
                    None => deny(Reason::MissingResource),
                    Some(a) if !e.reach.has_appliance(a) => deny(Reason::ScannerNotInAssetGroups),
                    Some(_) => allow(),
                }
            }
            Action::Report => {
                if let Some(d) = can(Capability::RunReports) {
                    return d;
                }
                match r.ip {
                    Some(ip) if !e.reach.has_ip(crate::domain::ipset::key(ip)) => {
                        deny(Reason::IpNotInAssetGroups)
                    }
                    _ => allow(),
                }
            }
            Action::ViewUser => self.view_user(user, e, r),
            Action::ManageUser => self.manage_user(e, r),
            Action::ViewAuthRecord | Action::EditAuthRecord => auth_record(e, action, r),
        }
    }

    /// R10.1, as `domain::access::Acting::sight_of` decides it.
    fn view_user(&self, id: &str, e: &Entry, r: &Resource<'_>) -> Decision {
        let Some(target_id) = r.user else {
            return deny(Reason::MissingResource);
        };
        let Some(t) = self.users.get(target_id) else {
            return deny(Reason::UnknownTarget);
        };
        if target_id == id || matches!(e.role, Role::Manager | Role::UserAdministrator) {
            return allow();
        }
        if !matches!(e.role, Role::UnitManager | Role::Scanner | Role::Reader) {
            return deny(Reason::RoleNotAllowed);
        }
        if t.unit == e.unit {
            return allow();
        }
        let ctx = &self.context;
        if ctx.restrict_user_info_outside_unit && ctx.hide_users_outside_unit {
            deny(Reason::UserHidden)
        } else {
            allow()
        }
    }

    /// R2, as `domain::roles::may_manage` decides it.
    fn manage_user(&self, e: &Entry, r: &Resource<'_>) -> Decision {
        let Some(target_id) = r.user else {
            return deny(Reason::MissingResource);
        };
        let Some(t) = self.users.get(target_id) else {
            return deny(Reason::UnknownTarget);
        };
        match e.role {
            Role::Manager => allow(),
            Role::UserAdministrator => {
                if t.role == Role::UserAdministrator
                    && !self.context.features.contains(&Feature::AdminsManageAdmins)
                {
                    deny(Reason::RoleNotAllowed)
                } else {
                    allow()
                }
            }
            Role::UnitManager if t.unit == e.unit => allow(),
            Role::UnitManager => deny(Reason::OutsideBusinessUnit),
            _ => deny(Reason::RoleNotAllowed),
        }
    }
}

/// R6.5 as far as it depends on role and unit: Managers view and edit every
/// record; Unit Managers and Scanners view their unit's records and edit
/// them with `manage_auth_records`, only records created by their own role
/// (so Scanners never edit a Manager's).
fn auth_record(e: &Entry, action: Action, r: &Resource<'_>) -> Decision {
    if e.role == Role::Manager {
        return allow();
    }
    if !matches!(e.role, Role::UnitManager | Role::Scanner) {
        return deny(Reason::RoleNotAllowed);
    }
    if r.business_unit != e.unit.as_deref() && r.business_unit.is_some() {
        return deny(Reason::OutsideBusinessUnit);
    }
    if action == Action::ViewAuthRecord {
        return allow();
    }
    if !e.holds(Permission::ManageAuthRecords) {
        return deny(Reason::MissingPermission);
    }
    match r.created_by_role {
        None => deny(Reason::MissingResource),
        Some(Role::Manager) => deny(Reason::AuthRecordCreatedByManager),
        Some(c) if c != e.role => deny(Reason::AuthRecordOtherRole),
        Some(_) => allow(),
    }
}

/// The live index: published by the store's writer, read by everyone.
pub struct Authz {
    current: ArcSwap<Index>,
    /// Serialises updates (the writer's and the initial build); readers
    /// never take it.
    update: Mutex<()>,
}

impl Authz {
    /// An index of `state`, not attached to any store.
    pub fn new(state: &State) -> Authz {
        Authz {
            current: ArcSwap::from_pointee(Index::build(state)),
            update: Mutex::new(()),
        }
    }

    /// The index of `store`, kept current by its writer: the hook is
    /// registered before the first build, so no commit is missed (a commit
    /// seen twice is recomputed from the same state, which changes nothing).
    pub fn attach(store: &crate::store::Store) -> Arc<Authz> {
        let authz = Arc::new(Authz {
            current: ArcSwap::from_pointee(Index::default()),
            update: Mutex::new(()),
        });
        let hook = authz.clone();
        store.on_commit(Arc::new(move |state: &State, keys: &BTreeSet<Key>| {
            hook.apply(state, keys)
        }));
        {
            let _g = authz.update.lock().unwrap_or_else(|p| p.into_inner());
            authz
                .current
                .store(Arc::new(Index::build(&store.snapshot())));
        }
        authz
    }

    /// Brings the index up to a commit that touched `keys` of `state`.
    pub fn apply(&self, state: &State, keys: &BTreeSet<Key>) {
        let _g = self.update.lock().unwrap_or_else(|p| p.into_inner());
        let next = self.current.load().apply(state, keys);
        self.current.store(Arc::new(next));
    }

    /// Rebuilds the index whole from `state`.
    pub fn rebuild(&self, state: &State) {
        let _g = self.update.lock().unwrap_or_else(|p| p.into_inner());
        self.current.store(Arc::new(Index::build(state)));
    }

    /// The current index; hold it to answer many checks from one snapshot.
    pub fn snapshot(&self) -> Arc<Index> {
        self.current.load_full()
    }

    /// Decides one check on the current index. Lock- and allocation-free.
    pub fn check(&self, user: &str, action: Action, resource: &Resource<'_>) -> Decision {
        self.current.load().check(user, action, resource)
    }
}
