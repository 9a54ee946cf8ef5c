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
mod model;
pub mod moving;
pub mod notice;
pub mod notification_options;
pub mod objects;
pub mod password;
pub mod permissions;
pub mod reach;
pub mod roles;
pub mod services;
pub mod sessions;
pub mod settings;
pub mod subscription;
// Fixtures for tests, not rules: missing_docs asks nothing of them.
#[cfg(any(test, feature = "testkit"))]
#[allow(missing_docs)]
pub mod testkit;
mod time;
mod tx;
pub mod units;
pub mod users;
pub mod validate;

// The unit and property tests: one file per command module, over crate::testkit.
#[cfg(test)]
mod tests;

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
    /// What kind of refusal it is: the HTTP layer picks the status from it alone.
    pub code: Code,
    /// Says what was wrong and, where it can, what to do instead.
    pub message: String,
}

impl Refusal {
    /// A refusal with `code` and a message for the person who asked.
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
    /// A field is wrong; the message names it and says what to give.
    Validation,
    /// No such thing, or one the actor may not see: the two answer alike
    /// (R10.1) so that hidden users and units do not show.
    NotFound,
    /// The actor's role or reach does not allow it.
    Forbidden,
    /// No valid session or credentials, or the user cannot act any more.
    Unauthenticated,
    /// Already in the asked state, or a name is taken.
    Conflict,
    /// Another user has that login (logins are unique case-insensitively).
    LoginTaken,
    /// Another User Administrator has that email (R2.4, with
    /// `admins_manage_admins`).
    EmailTaken,
    /// The subscription would be left without an active Manager (R2.6).
    LastManager,
    /// A primary contact would be lost before handing the role over (R4.4).
    PrimaryContact,
    /// A User Administrator's role never changes (R2.4).
    RoleLocked,
    /// The unit still has users, so it cannot be deleted (R3.1).
    BusinessUnitNotEmpty,
    /// The schedule's owner is deactivated, so it does not launch (R9.3).
    ScheduleOwnerDeactivated,
    /// A one-time link that was used or has expired (R7.1, R7.2).
    Gone,
    /// The permission cannot be held by the user's role here (R5, R1.3).
    PermissionNotApplicable,
    /// The role is not available in this subscription, or not to this actor
    /// (R1.2, R1.4, R2).
    RoleNotAllowed,
    /// The subscription's service type or features do not include it (R1.2, R1.4).
    FeatureUnavailable,
    /// Over the unit's new-IP limit (R3.2).
    IpLimitExceeded,
    /// The password breaks the policy: too short, without a letter or a
    /// digit, or with a character outside the allowed set (R8.5).
    PasswordPolicy,
    /// The password expired; only a change of password is allowed (R8.5).
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

    /// The stable name clients match on (docs/api.md), never reworded.
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
    /// `None` until `bailiwick init`; every command is refused until then (R1.1).
    pub subscription: Option<Subscription>,
    /// Every user, by id, whatever its status.
    pub users: imbl::OrdMap<Id, User>,
    /// Lower-cased login to user id: logins are unique case-insensitively.
    pub logins: imbl::HashMap<String, Id>,
    /// Secrets and lockout counters, by user id, apart from [`State::users`]
    /// so that listings never carry them.
    pub credentials: imbl::HashMap<Id, Credentials>,
    /// One-time links (R7.1, R7.2), by the hash of their token.
    pub activation_links: imbl::HashMap<String, ActivationLink>,
    /// Business units (R3), by id.
    pub units: imbl::OrdMap<Id, BusinessUnit>,
    /// What Managers set for the whole subscription (R8.5, R10).
    pub settings: Settings,
    /// Token hash to session.
    pub sessions: imbl::HashMap<String, Session>,
    /// The subscription's IPs and domains (R6.1); its appliances are
    /// [`State::appliances`].
    pub assets: AssetSet,
    /// Assets assigned to each unit (R3.1), by unit id.
    pub unit_assets: imbl::OrdMap<Id, UnitAssets>,
    /// Scanner appliances (R6.1), by id: all of them are subscription assets.
    pub appliances: imbl::OrdMap<Id, ScannerAppliance>,
    /// Asset groups (R6.2), by id; "All" is built in and not stored here.
    pub asset_groups: imbl::OrdMap<Id, AssetGroup>,
    /// Named address lists that notifications may go to (R12.1), by id.
    pub distribution_groups: imbl::OrdMap<Id, DistributionGroup>,
    /// Objects of other services, with their owners (R9).
    pub objects: imbl::OrdMap<Id, OwnedObject>,
    /// Service accounts of the appliance's other services, by name.
    pub services: imbl::OrdMap<String, services::ServiceAccount>,
}

impl State {
    /// Whether `bailiwick init` has created the subscription (R1.1).
    pub fn initialised(&self) -> bool {
        self.subscription.is_some()
    }

    /// The user with `login`, in any case: logins are unique
    /// case-insensitively.
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
