//! Which tables hold what, and the version of every stored record type.

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use super::codec::{DecodeError, Record, decode_body};
use crate::domain::{
    ActivationLink, Activity, AssetGroup, AssetSet, BusinessUnit, Credentials, DistributionGroup,
    OwnedObject, ScannerAppliance, Session, Settings, Subscription, UnitAssets, User,
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
    const VERSION: u16 = 1;
}
impl Record for Credentials {
    /// 2: smart lockout's second counter and familiar addresses, the secret
    /// answer counter and lock, `email_changed_at`.
    const VERSION: u16 = 2;

    fn upgrade(version: u16, body: &[u8]) -> Result<Self, DecodeError> {
        match version {
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
        assert_eq!(&again[..2], &2u16.to_le_bytes());
        assert_eq!(decode::<Credentials>(&again).unwrap(), c);
    }
}
