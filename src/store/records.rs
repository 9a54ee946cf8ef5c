//! Which tables hold what, and the version of every stored record type.

use std::collections::BTreeSet;

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use super::codec::{DecodeError, Record, decode_body};
use crate::domain::{
    Access, ActivationLink, Activity, AssetGroup, AssetSet, BusinessUnit, Credentials,
    DistributionGroup, FamiliarAddress, Id, OwnedObject, Permission, Role, ScannerAppliance,
    Session, Settings, Subscription, Timestamp, UnitAssets, User, UserStatus,
};

/// `application`, `schema_version`, `subscription`, `activity_seq`.
pub const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users");
pub const CREDENTIALS: TableDefinition<&str, &[u8]> = TableDefinition::new("credentials");
pub const ACTIVATION_LINKS: TableDefinition<&str, &[u8]> = TableDefinition::new("activation_links");
pub const UNITS: TableDefinition<&str, &[u8]> = TableDefinition::new("business_units");
/// Token hash to session.
pub const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// Activity entries committed with their change and not yet in a segment
/// file (R11.3): sequence number to [`ActivityRecord`].
pub const ACTIVITY_OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("activity_outbox");

/// Every table keyed by string, for creation at init and for backups.
pub const KEYED_TABLES: [TableDefinition<&str, &[u8]>; 13] = [
    META,
    USERS,
    CREDENTIALS,
    ACTIVATION_LINKS,
    UNITS,
    SESSIONS,
    ASSETS,
    UNIT_ASSETS,
    APPLIANCES,
    ASSET_GROUPS,
    DISTRIBUTION_GROUPS,
    OBJECTS,
    SERVICE_ACCOUNTS,
];

/// Emails committed with their cause, waiting for delivery (R12.1):
/// sequence number to [`crate::domain::credentials::Notice`].
pub const MAIL_OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("mail_outbox");

// Assets and groups (R6, R12.1); persisted by `store::organisation`.
/// One row, [`KEY_SUBSCRIPTION_ASSETS`]: the subscription's IPs and domains.
pub const ASSETS: TableDefinition<&str, &[u8]> = TableDefinition::new("assets");
pub const UNIT_ASSETS: TableDefinition<&str, &[u8]> = TableDefinition::new("unit_assets");
pub const APPLIANCES: TableDefinition<&str, &[u8]> = TableDefinition::new("scanner_appliances");
pub const ASSET_GROUPS: TableDefinition<&str, &[u8]> = TableDefinition::new("asset_groups");
pub const DISTRIBUTION_GROUPS: TableDefinition<&str, &[u8]> =
    TableDefinition::new("distribution_groups");

/// Owned objects of other services (R9), by id.
pub const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("owned_objects");

/// Service accounts by name: secrets only as hashes.
pub const SERVICE_ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("service_accounts");

pub const KEY_SUBSCRIPTION_ASSETS: &str = "subscription";

impl Record for AssetSet {
    const VERSION: u16 = 1;
}
impl Record for UnitAssets {
    const VERSION: u16 = 1;
}
impl Record for ScannerAppliance {
    const VERSION: u16 = 1;
}
impl Record for AssetGroup {
    const VERSION: u16 = 1;
}
impl Record for DistributionGroup {
    const VERSION: u16 = 1;
}
impl Record for OwnedObject {
    const VERSION: u16 = 1;
}
impl Record for crate::domain::services::ServiceAccount {
    const VERSION: u16 = 1;
}

pub const APPLICATION: &[u8] = b"bailiwick";
pub const KEY_APPLICATION: &str = "application";
pub const KEY_SCHEMA: &str = "schema_version";
pub const KEY_SUBSCRIPTION: &str = "subscription";
pub const KEY_ACTIVITY_SEQ: &str = "activity_seq";
pub const KEY_SETTINGS: &str = "settings";
pub const KEY_MAIL_SEQ: &str = "mail_seq";

impl Record for Subscription {
    const VERSION: u16 = 1;
}
impl Record for User {
    /// 2: `notification_opt_outs`.
    const VERSION: u16 = 2;

    fn upgrade(version: u16, body: &[u8]) -> Result<Self, DecodeError> {
        match version {
            1 => {
                let old: UserV1 = decode_body(body)?;
                Ok(User {
                    id: old.id,
                    login: old.login,
                    email: old.email,
                    first_name: old.first_name,
                    last_name: old.last_name,
                    role: old.role,
                    business_unit: old.business_unit,
                    status: old.status,
                    asset_groups: old.asset_groups,
                    permissions: old.permissions,
                    access: old.access,
                    external_id: old.external_id,
                    created_at: old.created_at,
                    last_login_at: old.last_login_at,
                    // Every kind wanted: nobody loses an email to the upgrade.
                    notification_opt_outs: BTreeSet::new(),
                })
            }
            v => Err(DecodeError::UnknownVersion(v)),
        }
    }
}

/// Version 1 of [`User`]: no notification options.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct UserV1 {
    pub id: Id,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: Role,
    pub business_unit: Option<Id>,
    pub status: UserStatus,
    pub asset_groups: Vec<Id>,
    pub permissions: BTreeSet<Permission>,
    pub access: Access,
    pub external_id: Option<String>,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

impl Record for Credentials {
    /// 2: smart lockout's second counter and familiar addresses, the secret
    /// answer counter and lock, `email_changed_at`.
    /// 3: `password_never_expires` (R8.6), set by the schema 3 migration
    /// where the old rule held.
    const VERSION: u16 = 3;

    fn upgrade(version: u16, body: &[u8]) -> Result<Self, DecodeError> {
        match version {
            2 => {
                let old: CredentialsV2 = decode_body(body)?;
                Ok(Credentials {
                    password_hash: old.password_hash,
                    password_changed_at: old.password_changed_at,
                    failed_attempts: old.failed_attempts,
                    locked: old.locked,
                    secret_questions: old.secret_questions,
                    failed_unfamiliar: old.failed_unfamiliar,
                    locked_unfamiliar: old.locked_unfamiliar,
                    familiar: old.familiar,
                    failed_answers: old.failed_answers,
                    answers_locked: old.answers_locked,
                    email_changed_at: old.email_changed_at,
                    password_never_expires: false,
                })
            }
            1 => {
                let old: CredentialsV1 = decode_body(body)?;
                Ok(Credentials {
                    password_hash: old.password_hash,
                    password_changed_at: old.password_changed_at,
                    failed_attempts: old.failed_attempts,
                    locked: old.locked,
                    secret_questions: old.secret_questions,
                    ..Credentials::default()
                })
            }
            v => Err(DecodeError::UnknownVersion(v)),
        }
    }
}

/// Version 2 of [`Credentials`]: before R8.6 was a per-account flag.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CredentialsV2 {
    pub password_hash: Option<String>,
    pub password_changed_at: Option<Timestamp>,
    pub failed_attempts: u32,
    pub locked: bool,
    pub secret_questions: Vec<(String, String)>,
    pub failed_unfamiliar: u32,
    pub locked_unfamiliar: bool,
    pub familiar: Vec<FamiliarAddress>,
    pub failed_answers: u32,
    pub answers_locked: bool,
    pub email_changed_at: Option<Timestamp>,
}

/// Version 1 of [`Credentials`]: one failure counter and lock for every
/// address; an old lock stays a lock that refuses every address.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CredentialsV1 {
    pub password_hash: Option<String>,
    pub password_changed_at: Option<crate::domain::Timestamp>,
    pub failed_attempts: u32,
    pub locked: bool,
    pub secret_questions: Vec<(String, String)>,
}
impl Record for ActivationLink {
    const VERSION: u16 = 1;
}
impl Record for BusinessUnit {
    const VERSION: u16 = 1;
}
impl Record for Settings {
    const VERSION: u16 = 1;
}
impl Record for Session {
    const VERSION: u16 = 1;
}
// `Notice` (the mail outbox's value) is versioned in `store::mail`.

/// An activity entry with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRecord {
    pub seq: u64,
    pub entry: Activity,
}

impl Record for ActivityRecord {
    const VERSION: u16 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::{decode, encode};

    #[test]
    fn credentials_written_at_version_1_decode_and_upgrade() {
        let old = CredentialsV1 {
            password_hash: Some("$argon2id$x".into()),
            password_changed_at: Some(crate::domain::Timestamp::from_unix_micros(7)),
            failed_attempts: 5,
            locked: true,
            secret_questions: vec![("q".into(), "h".into())],
        };
        let mut bytes = 1u16.to_le_bytes().to_vec();
        bytes.extend(bincode::serde::encode_to_vec(&old, bincode::config::standard()).unwrap());
        let c: Credentials = decode(&bytes).unwrap();
        // An old lock refused every address: it stays the lock that does.
        assert!(c.locked);
        assert_eq!(c.failed_attempts, 5);
        assert_eq!(c.password_hash.as_deref(), Some("$argon2id$x"));
        assert_eq!(c.secret_questions, old.secret_questions);
        assert_eq!((c.failed_unfamiliar, c.locked_unfamiliar), (0, false));
        assert!(c.familiar.is_empty());
        assert_eq!((c.failed_answers, c.answers_locked), (0, false));
        assert_eq!(c.email_changed_at, None);
        // Written back at the new version, it reads the same.
        let again = encode(&c);
        assert_eq!(&again[..2], &3u16.to_le_bytes());
        assert_eq!(decode::<Credentials>(&again).unwrap(), c);
    }

    #[test]
    fn credentials_written_at_version_2_decode_with_no_never_expiring_password() {
        let old = CredentialsV2 {
            password_hash: Some("$argon2id$x".into()),
            password_changed_at: None,
            failed_attempts: 1,
            locked: false,
            secret_questions: vec![],
            failed_unfamiliar: 2,
            locked_unfamiliar: true,
            familiar: vec![],
            failed_answers: 3,
            answers_locked: true,
            email_changed_at: Some(Timestamp::from_unix_micros(9)),
        };
        let mut bytes = 2u16.to_le_bytes().to_vec();
        bytes.extend(bincode::serde::encode_to_vec(&old, bincode::config::standard()).unwrap());
        let c: Credentials = decode(&bytes).unwrap();
        assert_eq!((c.failed_unfamiliar, c.locked_unfamiliar), (2, true));
        assert_eq!((c.failed_answers, c.answers_locked), (3, true));
        assert_eq!(c.email_changed_at, Some(Timestamp::from_unix_micros(9)));
        assert!(!c.password_never_expires);
    }

    #[test]
    fn users_written_at_version_1_decode_wanting_every_notification() {
        let old = UserV1 {
            id: "u1".into(),
            login: "rita".into(),
            email: "rita@example.com".into(),
            first_name: "Rita".into(),
            last_name: "R".into(),
            role: Role::Reader,
            business_unit: Some("bu1".into()),
            status: UserStatus::Active,
            asset_groups: vec!["g1".into()],
            permissions: BTreeSet::from([Permission::ManageExternalIds]),
            access: Access::ApiOnly,
            external_id: Some("x".into()),
            created_at: Timestamp::from_unix_micros(5),
            last_login_at: None,
        };
        let mut bytes = 1u16.to_le_bytes().to_vec();
        bytes.extend(bincode::serde::encode_to_vec(&old, bincode::config::standard()).unwrap());
        let u: User = decode(&bytes).unwrap();
        assert_eq!((u.login.as_str(), u.access), ("rita", Access::ApiOnly));
        assert_eq!(u.asset_groups, ["g1"]);
        assert_eq!(u.external_id.as_deref(), Some("x"));
        assert!(u.notification_opt_outs.is_empty());
        let again = encode(&u);
        assert_eq!(&again[..2], &2u16.to_le_bytes());
        assert_eq!(decode::<User>(&again).unwrap(), u);
    }
}
