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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceType {
    Enterprise,
    Consultant,
    ConsultantUnlimited,
    ExpressLite,
}

impl ServiceType {
    pub const ALL: [ServiceType; 4] = [
        ServiceType::Enterprise,
        ServiceType::Consultant,
        ServiceType::ConsultantUnlimited,
        ServiceType::ExpressLite,
    ];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Module {
    #[serde(rename = "VM")]
    Vm,
    #[serde(rename = "PC")]
    Pc,
    #[serde(rename = "SCA")]
    Sca,
    #[serde(rename = "WAS")]
    Was,
}

impl Module {
    pub const ALL: [Module; 4] = [Module::Vm, Module::Pc, Module::Sca, Module::Was];

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
    PrimaryContactExclusive,
    ApiPasswordNeverExpires,
    KbOnlyRole,
    AdminsManageAdmins,
    ScannersAddAssets,
    ScannersManageAuthRecords,
    ScannersManageVirtualScanners,
}

impl Feature {
    pub const ALL: [Feature; 7] = [
        Feature::PrimaryContactExclusive,
        Feature::ApiPasswordNeverExpires,
        Feature::KbOnlyRole,
        Feature::AdminsManageAdmins,
        Feature::ScannersAddAssets,
        Feature::ScannersManageAuthRecords,
        Feature::ScannersManageVirtualScanners,
    ];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manager,
    UnitManager,
    Scanner,
    Reader,
    Auditor,
    RemediationUser,
    KbOnly,
    UserAdministrator,
    Contact,
}

impl Role {
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    PendingActivation,
    Active,
    Deactivated,
}

impl UserStatus {
    pub const ALL: [UserStatus; 3] = [
        UserStatus::PendingActivation,
        UserStatus::Active,
        UserStatus::Deactivated,
    ];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    #[default]
    UiAndApi,
    ApiOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub name: String,
    pub service_type: ServiceType,
    pub modules: BTreeSet<Module>,
    pub features: BTreeSet<Feature>,
    /// The subscription primary contact (R4.1): an active Manager.
    pub primary_contact: Option<Id>,
    pub created_at: Timestamp,
}

impl Subscription {
    pub fn has(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: Id,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    /// `None` is the implicit "Unassigned" unit.
    pub business_unit: Option<Id>,
    pub status: UserStatus,
    pub asset_groups: Vec<Id>,
    pub permissions: BTreeSet<Permission>,
    pub access: Access,
    pub external_id: Option<String>,
    pub created_at: Timestamp,
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
    ScanComplete,
    ScanSummary,
    MapComplete,
    ReportComplete,
    AssetGroupChanges,
    ExcludedHosts,
}

impl NotificationKind {
    pub const ALL: [NotificationKind; 7] = [
        NotificationKind::Vulnerabilities,
        NotificationKind::ScanComplete,
        NotificationKind::ScanSummary,
        NotificationKind::MapComplete,
        NotificationKind::ReportComplete,
        NotificationKind::AssetGroupChanges,
        NotificationKind::ExcludedHosts,
    ];

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
    pub net: std::net::IpAddr,
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
    pub user: Id,
    pub expires_at: Timestamp,
    pub used: bool,
}

/// Extended permissions (R5), granted per user on top of the role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    AddAssets,
    ManageAuthRecords,
    CreateOptionProfiles,
    ManageExternalIds,
    ManageVirtualScanners,
    ManageOfflineScanners,
    PurgeHostHistory,
    VmRemediationPolicy,
    VmVirtualHosts,
    PcAcceptExceptions,
    PcCompliancePolicies,
    PcCreateUdcs,
    PcUpdateDeleteUdcs,
    ScaPolicies,
    WasManageWebApps,
    WasCreateWebApps,
}

impl Permission {
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
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessUnit {
    pub id: Id,
    pub name: String,
    /// The unit's primary contact (R4.1): an active user of the unit.
    pub primary_contact: Option<Id>,
    /// New IPs its Unit Managers may add while the subscription switch is on (R3.2).
    pub new_ip_limit: Option<u64>,
    /// The unit's own Email Contact, used when the override is allowed (R10.2).
    pub email_contact: Option<EmailContact>,
    pub created_at: Timestamp,
}

/// Security settings (R8.5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecuritySettings {
    pub user_defined_passwords: bool,
    /// 0 = never.
    pub password_expiration_days: u32,
    pub lockout_threshold: u32,
    pub min_password_length: u32,
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
    pub restrict_user_info_outside_unit: bool,
    pub hide_users_outside_unit: bool,
    pub restrict_scheduled_tasks_on_unassigned_assets: bool,
}

/// Subscription-wide settings changed by Managers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Settings {
    pub security: SecuritySettings,
    pub visibility: VisibilitySettings,
    /// R3.2 switch.
    pub new_ip_limit_enabled: bool,
    /// R10.2: `None` means the subscription primary contact is shown.
    pub email_contact: Option<EmailContact>,
    pub allow_unit_manager_email_override: bool,
}

/// A login session (R8.1). Only the token's hash is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// SHA-256 of the bearer token, hex.
    pub token_hash: String,
    /// A short public id, to name the session in lists without its hash.
    pub id: Id,
    pub user: Id,
    pub created_at: Timestamp,
    pub last_used_at: Timestamp,
    /// The absolute end, whatever the use.
    pub expires_at: Timestamp,
    pub ip: Option<std::net::IpAddr>,
    pub user_agent: String,
}

/// The kinds of scanner appliance (R6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplianceKind {
    Physical,
    Virtual,
    Offline,
}

impl ApplianceKind {
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
    pub id: Id,
    pub name: String,
    pub kind: ApplianceKind,
    /// `None`: a subscription appliance, in no unit.
    pub business_unit: Option<Id>,
    pub created_at: Timestamp,
}

/// IPs, domains and appliances: what the subscription holds, what is
/// assigned to a unit, and what an asset group names (R6.1, R6.2).
/// Domains are stored lower case without a trailing dot.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AssetSet {
    pub ips: crate::ipset::IpSet,
    pub domains: BTreeSet<String>,
    /// Appliance ids. Always empty for the subscription's own set: every
    /// appliance record is a subscription asset.
    pub scanner_appliances: BTreeSet<Id>,
}

impl AssetSet {
    pub fn is_empty(&self) -> bool {
        self.ips.is_empty() && self.domains.is_empty() && self.scanner_appliances.is_empty()
    }

    pub fn union(&self, other: &AssetSet) -> AssetSet {
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
    pub assets: AssetSet,
    pub new_ips_added: u64,
}

/// An asset group (R6.2): named assets, linked to units or (no units) at
/// subscription level. Its owner is its creator until R7 reassigns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetGroup {
    pub id: Id,
    pub title: String,
    pub assets: AssetSet,
    /// Empty: a subscription-level group.
    pub business_units: BTreeSet<Id>,
    pub owner: Id,
    pub created_by_role: Role,
    pub created_at: Timestamp,
}

/// A named set of users and addresses that notifications go to (R12.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionGroup {
    pub id: Id,
    pub name: String,
    pub members: Vec<Id>,
    pub emails: Vec<String>,
    pub created_by: Id,
    pub created_at: Timestamp,
}

/// The kinds of object other services register with their owner (R9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    ReportTemplate,
    OptionProfile,
    ScheduledScan,
    ScheduledReport,
    SearchList,
    AuthRecord,
    RemediationPolicy,
    RemediationTicket,
    ScanResult,
    MapResult,
}

impl ObjectKind {
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
    User(Id),
    /// A policy's default: whoever runs the scan (R7.5).
    UserRunningScan,
}

/// An object another service keeps, registered here with its owner so that
/// R7 can move, reassign or delete it atomically (R9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnedObject {
    pub id: Id,
    pub kind: ObjectKind,
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
    pub ips: crate::ipset::IpSet,
    /// Policies and tickets only.
    pub assignee: Option<Assignee>,
    /// Tickets: whether the assignee can reach the ticket's assets (R9.2).
    pub valid: bool,
    /// Schedules: refused at launch since their owner was deactivated (R9.3).
    pub deactivated: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
