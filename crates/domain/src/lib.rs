//! The rules of a subscription, with no I/O: given the current [`State`] and
//! an [`Actor`], decide whether a command is allowed and what it changes.
//!
//! The one thing to know before changing it: every change goes through a
//! [`Tx`], which records the keys it touched. The store persists exactly those
//! keys in one redb transaction and publishes the new state only after that
//! commit is durable; a command that returns an error has its changes undone.
//!
//! ```
//! use bailiwick_domain::{bootstrap, State, Tx, Timestamp, Actor};
//! let mut state = State::default();
//! let mut tx = Tx::new(&mut state, Timestamp::from_unix_micros(0), Actor::operator());
//! let plan = bootstrap::Bootstrap::default_subscription("admin");
//! bootstrap::initialise(&mut tx, &plan, "u1".into()).unwrap();
//! assert!(state.initialised());
//! ```

pub mod access;
mod action;
pub mod assets;
pub mod bootstrap;
pub mod contacts;
pub mod credentials;
pub mod deletion;
pub mod directory;
pub mod groups;
pub mod ipset;
pub mod lifecycle;
#[cfg(test)]
mod lifecycle_props;
mod model;
pub mod moving;
pub mod notice;
pub mod notification_options;
pub mod objects;
pub mod password;
pub mod permissions;
#[cfg(test)]
pub(crate) mod props;
pub mod reach;
pub mod roles;
pub mod services;
pub mod sessions;
pub mod settings;
pub mod subscription;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
mod time;
mod tx;
pub mod units;
pub mod users;
pub mod validate;

pub use action::LogAction;
pub use model::*;
pub use time::Timestamp;
pub use tx::{Activity, Actor, Key, Tx};

/// What follows from any accepted command, whichever made it: run once by the
/// store after each command that succeeded, in the same transaction, so no
/// command has to remember it:
/// - a unit without a primary contact adopts its first active Unit Manager
///   (R4.2, [`contacts::adopt_unit_contacts`]);
/// - when a user's reach may have changed, every remediation ticket is
///   valid again or no longer, by its assignee's reach now (R6.4,
///   [`objects::revalidate_tickets`]).
pub fn settle(tx: &mut Tx<'_>) {
    contacts::adopt_unit_contacts(tx);
    if tx.reach_changed() {
        objects::revalidate_tickets(tx);
    }
}

/// A refusal, with a stable code (docs/api.md) and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: Code,
    pub message: String,
}

impl Refusal {
    pub fn new(code: Code, message: impl Into<String>) -> Refusal {
        Refusal {
            code,
            message: message.into(),
        }
    }
}

/// Stable refusal codes; the HTTP layer maps each to one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Validation,
    NotFound,
    Forbidden,
    Unauthenticated,
    Conflict,
    LoginTaken,
    EmailTaken,
    LastManager,
    PrimaryContact,
    RoleLocked,
    BusinessUnitNotEmpty,
    ScheduleOwnerDeactivated,
    Gone,
    PermissionNotApplicable,
    RoleNotAllowed,
    FeatureUnavailable,
    IpLimitExceeded,
    PasswordPolicy,
    PasswordChangeRequired,
    /// A unit change that only the move workflow (R7.4) may make.
    UseMove,
}

impl Code {
    /// Every code, for the documentation's table and its test.
    pub const ALL: [Code; 20] = [
        Code::Validation,
        Code::NotFound,
        Code::Forbidden,
        Code::Unauthenticated,
        Code::Conflict,
        Code::LoginTaken,
        Code::EmailTaken,
        Code::LastManager,
        Code::PrimaryContact,
        Code::RoleLocked,
        Code::BusinessUnitNotEmpty,
        Code::ScheduleOwnerDeactivated,
        Code::Gone,
        Code::PermissionNotApplicable,
        Code::RoleNotAllowed,
        Code::FeatureUnavailable,
        Code::IpLimitExceeded,
        Code::PasswordPolicy,
        Code::PasswordChangeRequired,
        Code::UseMove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::Validation => "validation",
            Code::NotFound => "not_found",
            Code::Forbidden => "forbidden",
            Code::Unauthenticated => "unauthenticated",
            Code::Conflict => "conflict",
            Code::LoginTaken => "login_taken",
            Code::EmailTaken => "email_taken",
            Code::LastManager => "last_manager",
            Code::PrimaryContact => "primary_contact",
            Code::RoleLocked => "role_locked",
            Code::BusinessUnitNotEmpty => "business_unit_not_empty",
            Code::ScheduleOwnerDeactivated => "schedule_owner_deactivated",
            Code::Gone => "gone",
            Code::PermissionNotApplicable => "permission_not_applicable",
            Code::RoleNotAllowed => "role_not_allowed",
            Code::FeatureUnavailable => "feature_unavailable",
            Code::IpLimitExceeded => "ip_limit_exceeded",
            Code::PasswordPolicy => "password_policy",
            Code::PasswordChangeRequired => "password_change_required",
            Code::UseMove => "use_move",
        }
    }
}

/// Everything the daemon knows about its subscription, in memory.
///
/// Cloning is O(1) (persistent maps), so the store can keep the last
/// committed state while a batch is being decided, and readers hold a
/// snapshot that never changes under them.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub subscription: Option<Subscription>,
    pub users: imbl::OrdMap<Id, User>,
    /// Lower-cased login to user id: logins are unique case-insensitively.
    pub logins: imbl::HashMap<String, Id>,
    pub credentials: imbl::HashMap<Id, Credentials>,
    pub activation_links: imbl::HashMap<String, ActivationLink>,
    pub units: imbl::OrdMap<Id, BusinessUnit>,
    pub settings: Settings,
    /// Token hash to session.
    pub sessions: imbl::HashMap<String, Session>,
    /// The subscription's IPs and domains (R6.1); its appliances are
    /// [`State::appliances`].
    pub assets: AssetSet,
    /// Assets assigned to each unit (R3.1), by unit id.
    pub unit_assets: imbl::OrdMap<Id, UnitAssets>,
    pub appliances: imbl::OrdMap<Id, ScannerAppliance>,
    pub asset_groups: imbl::OrdMap<Id, AssetGroup>,
    pub distribution_groups: imbl::OrdMap<Id, DistributionGroup>,
    /// Objects of other services, with their owners (R9).
    pub objects: imbl::OrdMap<Id, OwnedObject>,
    /// Service accounts of the appliance's other services, by name.
    pub services: imbl::OrdMap<String, services::ServiceAccount>,
}

impl State {
    pub fn initialised(&self) -> bool {
        self.subscription.is_some()
    }

    pub fn user_by_login(&self, login: &str) -> Option<&User> {
        self.logins
            .get(&login.to_lowercase())
            .and_then(|id| self.users.get(id))
    }

    /// Active Managers: R2.6 keeps this from reaching zero.
    pub fn active_managers(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.role == Role::Manager && u.status == UserStatus::Active)
            .count()
    }
}
