//! Which tables hold what, and the version of every stored record type.

use redb::TableDefinition;
use serde::{Deserialize, Serialize};

use super::codec::Record;
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
pub const KEYED_TABLES: [TableDefinition<&str, &[u8]>; 12] = [
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
    const VERSION: u16 = 1;
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
