//! The records of a subscription: what is stored, not how requests look.
//!
//! These types are stored (bincode behind a version tag, see `store::codec`)
//! and held in memory in [`super::State`]. Changing a field means bumping the
//! record's version in `store::records` and writing its upgrade.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// An opaque identifier: time-ordered, so maps keyed by it list oldest first.
pub type Id = String;

/// The subscription's service type, which limits what can exist in it
/// (R1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    /// No limits beyond the rules.
    Enterprise,
    /// Scanners may hold `add_assets` without the operator's feature (R5).
    Consultant,
    /// Only Readers and User Administrators are created or made (R1.2).
    ConsultantUnlimited,
    /// No business units at all (R1.2).
    ExpressLite,
}

impl ServiceType {
    pub(crate) const ALL: [ServiceType; 4] = [
        ServiceType::Enterprise,
        ServiceType::Consultant,
        ServiceType::ConsultantUnlimited,
        ServiceType::ExpressLite,
    ];

    /// The name in the API, the config and `bailiwick init`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Enterprise => "enterprise",
            ServiceType::Consultant => "consultant",
            ServiceType::ConsultantUnlimited => "consultant_unlimited",
            ServiceType::ExpressLite => "express_lite",
        }
    }
}

impl std::str::FromStr for ServiceType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ServiceType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| {
                format!("unknown service type {s:?}; use enterprise, consultant, consultant_unlimited or express_lite")
            })
    }
}

/// A product module the subscription has; roles and permissions tied to
/// one exist only with it (R1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Module {
    /// Vulnerability management: remediation policies and virtual hosts.
    #[serde(rename = "VM")]
    Vm,
    /// Policy compliance: the Auditor role and the compliance permissions.
    #[serde(rename = "PC")]
    Pc,
    /// Security configuration assessment.
    #[serde(rename = "SCA")]
    Sca,
    /// Web application scanning.
    #[serde(rename = "WAS")]
    Was,
}

impl Module {
    pub(crate) const ALL: [Module; 4] = [Module::Vm, Module::Pc, Module::Sca, Module::Was];

    /// The module's name as the API and `--modules` spell it: `VM`, `PC`, `SCA`,
    /// `WAS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Module::Vm => "VM",
            Module::Pc => "PC",
            Module::Sca => "SCA",
            Module::Was => "WAS",
        }
    }

    /// Parses `VM,PC`; an empty string is the empty set.
    pub fn parse_list(s: &str) -> Result<BTreeSet<Module>, String> {
        s.split(',')
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(|m| {
                Module::ALL
                    .into_iter()
                    .find(|x| x.as_str().eq_ignore_ascii_case(m))
                    .ok_or_else(|| format!("unknown module {m:?}; modules are VM, PC, SCA and WAS"))
            })
            .collect()
    }
}

/// Operator features (R1.4): switched only through the admin socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Only the subscription's primary contact sees and changes the primary
    /// contact setting (R4.3).
    PrimaryContactExclusive,
    /// Managers may let an API-only account's password never expire (R8.6).
    ApiPasswordNeverExpires,
    /// The KnowledgeBase-only role may be given, by Managers (R2.3).
    KbOnlyRole,
    /// User Administrators manage other User Administrators, and each of them
    /// needs an email of its own (R2.4).
    AdminsManageAdmins,
    /// Scanners may hold `add_assets` (R5).
    ScannersAddAssets,
    /// Scanners may hold `manage_auth_records` (R5, R6.5).
    ScannersManageAuthRecords,
    /// Scanners may hold `manage_virtual_scanners` (R5).
    ScannersManageVirtualScanners,
}

impl Feature {
    /// Every feature, for parsing and for `bailiwick ctl features`.
    pub const ALL: [Feature; 7] = [
        Feature::PrimaryContactExclusive,
        Feature::ApiPasswordNeverExpires,
        Feature::KbOnlyRole,
        Feature::AdminsManageAdmins,
        Feature::ScannersAddAssets,
        Feature::ScannersManageAuthRecords,
        Feature::ScannersManageVirtualScanners,
    ];

    /// The feature's name for the admin socket and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::PrimaryContactExclusive => "primary_contact_exclusive",
            Feature::ApiPasswordNeverExpires => "api_password_never_expires",
            Feature::KbOnlyRole => "kb_only_role",
            Feature::AdminsManageAdmins => "admins_manage_admins",
            Feature::ScannersAddAssets => "scanners_add_assets",
            Feature::ScannersManageAuthRecords => "scanners_manage_auth_records",
            Feature::ScannersManageVirtualScanners => "scanners_manage_virtual_scanners",
        }
    }
}

impl std::str::FromStr for Feature {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Feature::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Feature::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown feature {s:?}; features are {}", names.join(", "))
            })
    }
}

/// What a user is, which decides what it may do (R2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Does everything on the subscription; always Unassigned (R2.1).
    Manager,
    /// Manages the users, assets and groups of its own unit only (R2.2).
    UnitManager,
    /// Scans what its asset groups reach (R6.4); manages no users (R2.3).
    Scanner,
    /// Reads results of what its asset groups reach; manages no users (R2.3).
    Reader,
    /// Compliance data only; exists only with the PC module (R1.3, R2.3).
    Auditor,
    /// Remediation tickets only (R2.3).
    RemediationUser,
    /// The KnowledgeBase only; needs `kb_only_role` and is given only by
    /// Managers (R2.3).
    KbOnly,
    /// Creates and edits users of every unit and asset groups, never deletes
    /// units or groups, and keeps its role for good (R2.4).
    UserAdministrator,
    /// Receives email only: never signs in and has no credentials (R2.5).
    Contact,
}

impl Role {
    /// Every role, in the order the console lists them.
    pub const ALL: [Role; 9] = [
        Role::Manager,
        Role::UnitManager,
        Role::Scanner,
        Role::Reader,
        Role::Auditor,
        Role::RemediationUser,
        Role::KbOnly,
        Role::UserAdministrator,
        Role::Contact,
    ];

    /// The product's name for the role, as people see it in the console
    /// and in emails.
    pub fn title(self) -> &'static str {
        match self {
            Role::Manager => "Manager",
            Role::UnitManager => "Unit Manager",
            Role::Scanner => "Scanner",
            Role::Reader => "Reader",
            Role::Auditor => "Auditor",
            Role::RemediationUser => "Remediation User",
            Role::KbOnly => "KnowledgeBase Only",
            Role::UserAdministrator => "User Administrator",
            Role::Contact => "Contact",
        }
    }

    /// The API's name for the role (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::UnitManager => "unit_manager",
            Role::Scanner => "scanner",
            Role::Reader => "reader",
            Role::Auditor => "auditor",
            Role::RemediationUser => "remediation_user",
            Role::KbOnly => "kb_only",
            Role::UserAdministrator => "user_administrator",
            Role::Contact => "contact",
        }
    }
}

/// Where a user is in its lifecycle (R7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Created, but has not used its one-time link yet (R7.1).
    PendingActivation,
    /// May sign in and act.
    Active,
    /// Cannot sign in; its sessions ended and its schedules stop at their next
    /// launch (R7.3).
    Deactivated,
}

impl UserStatus {
    /// The name people see in the console.
    pub fn title(self) -> &'static str {
        match self {
            UserStatus::PendingActivation => "Pending activation",
            UserStatus::Active => "Active",
            UserStatus::Deactivated => "Deactivated",
        }
    }

    /// The API's name for it (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::PendingActivation => "pending_activation",
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
        }
    }
}

/// Where a user may sign in (R8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// The console and the API.
    #[default]
    UiAndApi,
    /// The API only: sessions and Basic, never the console.
    ApiOnly,
}

/// The one subscription the daemon serves (R1.1), changed only by the
/// operator (R1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The subscription's name, shown in account info (R10.3).
    pub name: String,
    /// Limits which roles and units can exist (R1.2).
    pub service_type: ServiceType,
    /// Gates the Auditor role and the module permissions (R1.3).
    pub modules: BTreeSet<Module>,
    /// The operator's switches (R1.4).
    pub features: BTreeSet<Feature>,
    /// The subscription primary contact (R4.1): an active Manager.
    pub primary_contact: Option<Id>,
    /// When `bailiwick init` or the first start created it.
    pub created_at: Timestamp,
}

impl Subscription {
    /// Whether the operator switched `feature` on (R1.4).
    pub fn has(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }
}

/// A person of the subscription, with its role, place and grants; its
/// secrets are apart, in [`Credentials`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Never changes; activity entries name the user by it.
    pub id: Id,
    /// Unique case-insensitively ([`crate::State::logins`]).
    pub login: String,
    /// Where its mail goes; unique only among User Administrators, with
    /// `admins_manage_admins` (R2.4).
    pub email: String,
    /// Shown with the login wherever a person is named.
    pub first_name: String,
    /// Shown with the login wherever a person is named.
    pub last_name: String,
    /// What it may do (R2).
    pub role: Role,
    /// `None` is the implicit "Unassigned" unit.
    pub business_unit: Option<Id>,
    /// Pending, active or deactivated (R7.1, R7.3).
    pub status: UserStatus,
    /// The groups whose assets it reaches (R6.3, R6.4); [`crate::groups::ALL`]
    /// is its unit's "All".
    pub asset_groups: Vec<Id>,
    /// Extended permissions as granted (R5). Not all may apply now:
    /// [`crate::permissions::effective`] says which do.
    pub permissions: BTreeSet<Permission>,
    /// Console and API, or API only (R8.1).
    pub access: Access,
    /// An id in the customer's own systems, set by holders of
    /// `manage_external_ids` (R5.3).
    pub external_id: Option<String>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// The last successful sign-in; `None` before the first.
    pub last_login_at: Option<Timestamp>,
    /// Kinds of notification the user does not want (R12.1; the seed's
    /// Notification Options). Every kind is wanted until opted out of, so a
    /// user stored before options existed loses no email.
    pub notification_opt_outs: BTreeSet<NotificationKind>,
}

/// The kinds of notification other services send on a user's behalf
/// (`POST /api/v1/notifications`), which a user may opt out of one by one.
/// Registration, credential, lock and account-change emails have no kind:
/// they go "regardless of the notification setting".
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// New vulnerabilities in the KnowledgeBase; a request that names no
    /// kind is this one, the seed's "vulnerability notifications".
    #[default]
    Vulnerabilities,
    /// A scan finished.
    ScanComplete,
    /// A summary of scans run.
    ScanSummary,
    /// A map finished.
    MapComplete,
    /// A report is ready.
    ReportComplete,
    /// An asset group the user holds changed.
    AssetGroupChanges,
    /// The excluded hosts list changed.
    ExcludedHosts,
}

impl NotificationKind {
    /// Every kind, in the order options are shown.
    pub const ALL: [NotificationKind; 7] = [
        NotificationKind::Vulnerabilities,
        NotificationKind::ScanComplete,
        NotificationKind::ScanSummary,
        NotificationKind::MapComplete,
        NotificationKind::ReportComplete,
        NotificationKind::AssetGroupChanges,
        NotificationKind::ExcludedHosts,
    ];

    /// The API's name for the kind (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Vulnerabilities => "vulnerabilities",
            NotificationKind::ScanComplete => "scan_complete",
            NotificationKind::ScanSummary => "scan_summary",
            NotificationKind::MapComplete => "map_complete",
            NotificationKind::ReportComplete => "report_complete",
            NotificationKind::AssetGroupChanges => "asset_group_changes",
            NotificationKind::ExcludedHosts => "excluded_hosts",
        }
    }

    /// As a person reads it, in the console.
    pub fn title(self) -> &'static str {
        match self {
            NotificationKind::Vulnerabilities => "New vulnerabilities",
            NotificationKind::ScanComplete => "Scan complete",
            NotificationKind::ScanSummary => "Scan summary",
            NotificationKind::MapComplete => "Map complete",
            NotificationKind::ReportComplete => "Report complete",
            NotificationKind::AssetGroupChanges => "Asset group changes",
            NotificationKind::ExcludedHosts => "Excluded hosts",
        }
    }
}

impl std::str::FromStr for NotificationKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NotificationKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown notification kind {s:?}; kinds are {}",
                    known.join(", ")
                )
            })
    }
}

/// Secrets and counters of a user, kept apart so that user listings never
/// carry them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Credentials {
    /// argon2id PHC string; `None` until activation sets one.
    pub password_hash: Option<String>,
    /// When the password last changed; expiry counts from it (R8.5).
    pub password_changed_at: Option<Timestamp>,
    /// Failed logins from familiar addresses; with smart lockout off, from
    /// every address (R8.2).
    pub failed_attempts: u32,
    /// Locked by `failed_attempts`: every address is refused.
    pub locked: bool,
    /// Three (question, argon2id hash of the answer) pairs (R8.7).
    pub secret_questions: Vec<(String, String)>,
    /// Failed logins from unfamiliar addresses (R8.2, smart lockout).
    pub failed_unfamiliar: u32,
    /// Locked by `failed_unfamiliar`: only unfamiliar addresses are refused.
    pub locked_unfamiliar: bool,
    /// Where the user logged in from lately, newest last, at most
    /// [`MAX_FAMILIAR`] (R8.2).
    pub familiar: Vec<FamiliarAddress>,
    /// Wrong secret answers (R8.7), counted apart from passwords.
    pub failed_answers: u32,
    /// Locked by `failed_answers`: no self-service reset.
    pub answers_locked: bool,
    /// When the email address last changed (R7.2: no reset link to an
    /// address younger than a day unless a Manager or the operator asks).
    pub email_changed_at: Option<Timestamp>,
    /// R8.6: a Manager said this API-only account's password never expires
    /// (with feature `api_password_never_expires`); the next password
    /// change ends it.
    pub password_never_expires: bool,
}

/// How many familiar addresses a user keeps; the oldest goes first.
pub const MAX_FAMILIAR: usize = 16;

/// An address (IPv6: its /64) with a successful login of a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FamiliarAddress {
    /// The address, IPv6 by its /64 ([`FamiliarAddress::net_of`]).
    pub net: std::net::IpAddr,
    /// The last successful login from it; it stays familiar for
    /// [`crate::credentials::FAMILIAR_FOR`] after (R8.2).
    pub last_success: Timestamp,
}

impl FamiliarAddress {
    /// The key an address is remembered under: IPv6 by /64, since one host
    /// may hold a whole /64 and change its address at will.
    pub fn net_of(ip: std::net::IpAddr) -> std::net::IpAddr {
        match ip {
            std::net::IpAddr::V4(_) => ip,
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => std::net::IpAddr::V4(v4),
                None => std::net::IpAddr::V6(std::net::Ipv6Addr::from(
                    u128::from(v6) & !((1u128 << 64) - 1),
                )),
            },
        }
    }
}

/// A one-time link that reveals or sets credentials (R7.1, R7.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationLink {
    /// SHA-256 of the token, hex; the token itself is never stored.
    pub token_hash: String,
    /// The user whose credentials it reveals or sets.
    pub user: Id,
    /// After this the link is `gone`.
    pub expires_at: Timestamp,
    /// Set once used: a link works once.
    pub used: bool,
}

/// Extended permissions (R5), granted per user on top of the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Add IPs and domains; new IPs count against the unit's limit (R3.2).
    AddAssets,
    /// Create and edit authentication records (R6.5).
    ManageAuthRecords,
    /// Create option profiles; on by default for Scanners and Unit Managers.
    CreateOptionProfiles,
    /// Set users' external IDs (R5.3); granted only by the subscription's
    /// primary contact, Managers included (R5.1).
    ManageExternalIds,
    /// Register, rename and remove virtual scanner appliances (R6.1).
    ManageVirtualScanners,
    /// Register, rename and remove offline scanner appliances (R6.1).
    ManageOfflineScanners,
    /// Purge a host's scan history, in the scanner.
    PurgeHostHistory,
    /// Own remediation policies (R9.1); VM module.
    VmRemediationPolicy,
    /// Manage virtual hosts; VM module.
    VmVirtualHosts,
    /// Accept compliance exceptions; PC module.
    PcAcceptExceptions,
    /// Manage compliance policies; PC module.
    PcCompliancePolicies,
    /// Create user-defined controls; PC module.
    PcCreateUdcs,
    /// Edit and delete user-defined controls; PC module.
    PcUpdateDeleteUdcs,
    /// Manage SCA policies; SCA module.
    ScaPolicies,
    /// Manage web applications; WAS module.
    WasManageWebApps,
    /// Create web applications; WAS module.
    WasCreateWebApps,
}

impl Permission {
    /// Every permission, in the order of R5's table.
    pub const ALL: [Permission; 16] = [
        Permission::AddAssets,
        Permission::ManageAuthRecords,
        Permission::CreateOptionProfiles,
        Permission::ManageExternalIds,
        Permission::ManageVirtualScanners,
        Permission::ManageOfflineScanners,
        Permission::PurgeHostHistory,
        Permission::VmRemediationPolicy,
        Permission::VmVirtualHosts,
        Permission::PcAcceptExceptions,
        Permission::PcCompliancePolicies,
        Permission::PcCreateUdcs,
        Permission::PcUpdateDeleteUdcs,
        Permission::ScaPolicies,
        Permission::WasManageWebApps,
        Permission::WasCreateWebApps,
    ];

    /// The API's name for the permission (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::AddAssets => "add_assets",
            Permission::ManageAuthRecords => "manage_auth_records",
            Permission::CreateOptionProfiles => "create_option_profiles",
            Permission::ManageExternalIds => "manage_external_ids",
            Permission::ManageVirtualScanners => "manage_virtual_scanners",
            Permission::ManageOfflineScanners => "manage_offline_scanners",
            Permission::PurgeHostHistory => "purge_host_history",
            Permission::VmRemediationPolicy => "vm_remediation_policy",
            Permission::VmVirtualHosts => "vm_virtual_hosts",
            Permission::PcAcceptExceptions => "pc_accept_exceptions",
            Permission::PcCompliancePolicies => "pc_compliance_policies",
            Permission::PcCreateUdcs => "pc_create_udcs",
            Permission::PcUpdateDeleteUdcs => "pc_update_delete_udcs",
            Permission::ScaPolicies => "sca_policies",
            Permission::WasManageWebApps => "was_manage_web_apps",
            Permission::WasCreateWebApps => "was_create_web_apps",
        }
    }
}

/// A name and address shown in notifications other than registration and
/// lock (R10.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailContact {
    /// Who notifications name as the contact.
    pub name: String,
    /// Where readers of notifications write to.
    pub email: String,
}

/// A business unit (R3): users, and the assets assigned to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessUnit {
    /// Never changes; users and groups name the unit by it.
    pub id: Id,
    /// Unique among units, case-insensitively.
    pub name: String,
    /// The unit's primary contact (R4.1): an active user of the unit.
    pub primary_contact: Option<Id>,
    /// New IPs its Unit Managers may add while the subscription switch is on (R3.2).
    pub new_ip_limit: Option<u64>,
    /// The unit's own Email Contact, used when the override is allowed (R10.2).
    pub email_contact: Option<EmailContact>,
    /// When the unit was created.
    pub created_at: Timestamp,
}

/// Security settings (R8.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySettings {
    /// Users choose their own password through their one-time link, rather
    /// than being shown a generated one (R7.1).
    pub user_defined_passwords: bool,
    /// 0 = never.
    pub password_expiration_days: u32,
    /// Failed attempts that lock a counter (R8.2); at least 1.
    pub lockout_threshold: u32,
    /// The shortest password allowed (R8.5).
    pub min_password_length: u32,
    /// Whether users carry external IDs at all (R5.3).
    pub external_ids_enabled: bool,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        SecuritySettings {
            user_defined_passwords: false,
            password_expiration_days: 0,
            lockout_threshold: 5,
            min_password_length: 8,
            external_ids_enabled: false,
        }
    }
}

/// Visibility settings (R10.1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VisibilitySettings {
    /// Users of other units are shown without contact details and asset
    /// groups (R10.1).
    pub restrict_user_info_outside_unit: bool,
    /// With `restrict_user_info_outside_unit`, users of other units are not
    /// shown at all (R10.1).
    pub hide_users_outside_unit: bool,
    /// Schedules targeting assets the viewer cannot reach are hidden from it
    /// (R10.1).
    pub restrict_scheduled_tasks_on_unassigned_assets: bool,
}

/// Subscription-wide settings changed by Managers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    /// Passwords and lockout (R8.5).
    pub security: SecuritySettings,
    /// What users see of other units (R10.1).
    pub visibility: VisibilitySettings,
    /// R3.2 switch.
    pub new_ip_limit_enabled: bool,
    /// R10.2: `None` means the subscription primary contact is shown.
    pub email_contact: Option<EmailContact>,
    /// Unit Managers may give their unit an Email Contact of its own (R10.2).
    pub allow_unit_manager_email_override: bool,
}

/// A login session (R8.1). Only the token's hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the bearer token, hex.
    pub token_hash: String,
    /// A short public id, to name the session in lists without its hash.
    pub id: Id,
    /// Whose session it is.
    pub user: Id,
    /// When it was opened.
    pub created_at: Timestamp,
    /// Its last stored use; the idle limit counts from it (R8.1).
    pub last_used_at: Timestamp,
    /// The absolute end, whatever the use.
    pub expires_at: Timestamp,
    /// The address that opened it, for the account activity list (R8.8).
    pub ip: Option<std::net::IpAddr>,
    /// The client that opened it, as it said, for the same list.
    pub user_agent: String,
}

/// The kinds of scanner appliance (R6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplianceKind {
    /// Hardware; only Managers register, change or remove one.
    Physical,
    /// A virtual machine; needs `manage_virtual_scanners` for non-Managers.
    Virtual,
    /// Scans without a connection; needs `manage_offline_scanners` for
    /// non-Managers.
    Offline,
}

impl ApplianceKind {
    /// The API's name for the kind (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            ApplianceKind::Physical => "physical",
            ApplianceKind::Virtual => "virtual",
            ApplianceKind::Offline => "offline",
        }
    }
}

/// A scanner appliance (R6.1). Its unit's Unit Managers (and users whose
/// groups name it) may use it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScannerAppliance {
    /// Asset groups and reach name the appliance by it.
    pub id: Id,
    /// Unique among appliances, case-insensitively.
    pub name: String,
    /// Decides who may register, change or remove it (R5).
    pub kind: ApplianceKind,
    /// `None`: a subscription appliance, in no unit.
    pub business_unit: Option<Id>,
    /// When it was registered.
    pub created_at: Timestamp,
}

/// IPs, domains and appliances: what the subscription holds, what is
/// assigned to a unit, and what an asset group names (R6.1, R6.2).
/// Domains are stored lower case without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetSet {
    /// IPv4 and IPv6 addresses.
    pub ips: crate::ipset::IpSet,
    /// Domain names.
    pub domains: BTreeSet<String>,
    /// Appliance ids. Always empty for the subscription's own set: every
    /// appliance record is a subscription asset.
    pub scanner_appliances: BTreeSet<Id>,
}

impl AssetSet {
    /// Whether it names no asset at all.
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.domains.is_empty() && self.scanner_appliances.is_empty()
    }

    pub(crate) fn union(&self, other: &AssetSet) -> AssetSet {
        AssetSet {
            ips: self.ips.union(&other.ips),
            domains: self.domains.union(&other.domains).cloned().collect(),
            scanner_appliances: self
                .scanner_appliances
                .union(&other.scanner_appliances)
                .cloned()
                .collect(),
        }
    }
}

/// The assets a Manager assigned to a unit, or its Unit Managers added
/// (R3.1), and how many IPs new to the subscription the unit's users have
/// added so far (R3.2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UnitAssets {
    /// The assets the unit reaches besides its groups' (R3.1).
    pub assets: AssetSet,
    /// IPs new to the subscription its Unit Managers added, counted against
    /// its limit (R3.2).
    pub new_ips_added: u64,
}

/// An asset group (R6.2): named assets, linked to units or (no units) at
/// subscription level. Its owner is its creator until R7 reassigns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetGroup {
    /// Users and objects name the group by it.
    pub id: Id,
    /// Unique, case-insensitively, among the groups of each of its units (and
    /// among subscription-level groups); never "All".
    pub title: String,
    /// What the group names; only assets its owner reaches (R6.2).
    pub assets: AssetSet,
    /// Empty: a subscription-level group.
    pub business_units: BTreeSet<Id>,
    /// Its creator, until a move or delete hands it on (R7.4, R7.5).
    pub owner: Id,
    /// The creator's role: a move copies a Unit Manager's groups and links the
    /// others (R7.4).
    pub created_by_role: Role,
    /// When the group was created.
    pub created_at: Timestamp,
}

/// A named set of users and addresses that notifications go to (R12.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionGroup {
    /// Notifications name the group by it.
    pub id: Id,
    /// Unique among distribution groups, case-insensitively.
    pub name: String,
    /// Users it sends to, each once.
    pub members: Vec<Id>,
    /// Plain addresses it sends to, each once (case-insensitively).
    pub emails: Vec<String>,
    /// Who created it, or its heir (R7.5): Unit Managers change only their
    /// own.
    pub created_by: Id,
    /// When the group was created.
    pub created_at: Timestamp,
}

/// The kinds of object other services register with their owner (R9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A report template; may be global (R9.1).
    ReportTemplate,
    /// A scan option profile; may be global (R9.1).
    OptionProfile,
    /// A scan schedule; launches are refused once its owner is deactivated
    /// (R9.3).
    ScheduledScan,
    /// A report schedule; launches are refused once its owner is deactivated
    /// (R9.3).
    ScheduledReport,
    /// A search list.
    SearchList,
    /// An authentication record; edited as R6.5 says and kept without owner
    /// when its owner is deleted (R7.5).
    AuthRecord,
    /// A remediation policy; a unit's wins over the subscription's (R5.5).
    RemediationPolicy,
    /// A remediation ticket; valid while its assignee reaches its assets (R9.2).
    RemediationTicket,
    /// A scan's results; kept or deleted with their owner (R7.5).
    ScanResult,
    /// A map's results; kept or deleted with their owner (R7.5).
    MapResult,
}

impl ObjectKind {
    /// Every kind, for parsing and listing.
    pub const ALL: [ObjectKind; 10] = [
        ObjectKind::ReportTemplate,
        ObjectKind::OptionProfile,
        ObjectKind::ScheduledScan,
        ObjectKind::ScheduledReport,
        ObjectKind::SearchList,
        ObjectKind::AuthRecord,
        ObjectKind::RemediationPolicy,
        ObjectKind::RemediationTicket,
        ObjectKind::ScanResult,
        ObjectKind::MapResult,
    ];

    /// The API's name for the kind (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::ReportTemplate => "report_template",
            ObjectKind::OptionProfile => "option_profile",
            ObjectKind::ScheduledScan => "scheduled_scan",
            ObjectKind::ScheduledReport => "scheduled_report",
            ObjectKind::SearchList => "search_list",
            ObjectKind::AuthRecord => "auth_record",
            ObjectKind::RemediationPolicy => "remediation_policy",
            ObjectKind::RemediationTicket => "remediation_ticket",
            ObjectKind::ScanResult => "scan_result",
            ObjectKind::MapResult => "map_result",
        }
    }

    /// The name people see in the console.
    pub fn title(self) -> &'static str {
        match self {
            ObjectKind::ReportTemplate => "Report template",
            ObjectKind::OptionProfile => "Option profile",
            ObjectKind::ScheduledScan => "Scheduled scan",
            ObjectKind::ScheduledReport => "Scheduled report",
            ObjectKind::SearchList => "Search list",
            ObjectKind::AuthRecord => "Authentication record",
            ObjectKind::RemediationPolicy => "Remediation policy",
            ObjectKind::RemediationTicket => "Remediation ticket",
            ObjectKind::ScanResult => "Scan result",
            ObjectKind::MapResult => "Map result",
        }
    }

    /// The personal configurations of R7.4 and R7.5: kept, transferred or
    /// deleted together.
    pub(crate) fn is_configuration(self) -> bool {
        matches!(
            self,
            ObjectKind::ReportTemplate
                | ObjectKind::OptionProfile
                | ObjectKind::ScheduledScan
                | ObjectKind::ScheduledReport
                | ObjectKind::SearchList
        )
    }

    /// Schedules launch, and are deactivated with their owner (R9.3).
    pub fn is_schedule(self) -> bool {
        matches!(
            self,
            ObjectKind::ScheduledScan | ObjectKind::ScheduledReport
        )
    }

    /// Only option profiles and report templates may be global (R9.1).
    pub fn may_be_global(self) -> bool {
        matches!(self, ObjectKind::OptionProfile | ObjectKind::ReportTemplate)
    }

    /// Scan and map results: kept or deleted with their owner (R7.5).
    pub(crate) fn is_result(self) -> bool {
        matches!(self, ObjectKind::ScanResult | ObjectKind::MapResult)
    }
}

impl std::str::FromStr for ObjectKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ObjectKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ObjectKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown kind {s:?}; kinds are {}", names.join(", "))
            })
    }
}

/// Who a remediation policy or ticket is assigned to (R9.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Assignee {
    /// This user.
    User(Id),
    /// A policy's default: whoever runs the scan (R7.5).
    UserRunningScan,
}

/// An object another service keeps, registered here with its owner so that
/// R7 can move, reassign or delete it atomically (R9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedObject {
    /// Given when it is registered; services name the object by it.
    pub id: Id,
    /// What it is (R9.1); decides who may own it.
    pub kind: ObjectKind,
    /// The name its service gives it.
    pub name: String,
    /// `None` only for authentication records whose owner was deleted (R7.5).
    pub owner: Option<Id>,
    /// The creator's role: R6.5 decides who edits an authentication record by it.
    pub created_by_role: Role,
    /// `None`: Unassigned.
    pub business_unit: Option<Id>,
    /// Option profiles and report templates shared with the subscription.
    pub global: bool,
    /// Targets.
    pub asset_groups: Vec<Id>,
    /// IPs it targets besides its groups'.
    pub ips: crate::ipset::IpSet,
    /// Policies and tickets only.
    pub assignee: Option<Assignee>,
    /// Tickets: whether the assignee can reach the ticket's assets (R9.2).
    pub valid: bool,
    /// Schedules: refused at launch since their owner was deactivated (R9.3).
    pub deactivated: bool,
    /// When it was registered.
    pub created_at: Timestamp,
    /// Its last change here; account info lists the latest (R10.3).
    pub updated_at: Timestamp,
}
