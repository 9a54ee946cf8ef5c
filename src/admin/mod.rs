//! The operator plane: a unix socket `<data>/admin.sock` (mode 0600, owner
//! and root only) that `bailiwick ctl` talks to. Operator features (R1.4)
//! are switched here and nowhere else.
//!
//! Protocol: one JSON [`Request`] line from the client, one JSON
//! [`Response`] line back. A backup response is followed by the backup's
//! bytes, as many as its `bytes` field says.

pub mod backups;
pub mod client;
pub mod mail;
pub mod server;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::domain::{Module, ServiceType};

pub const SOCKET: &str = "admin.sock";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    Status,
    FeaturesList,
    FeatureSet {
        name: String,
        enabled: bool,
    },
    SubscriptionShow,
    SubscriptionSet {
        service_type: Option<ServiceType>,
        modules: Option<BTreeSet<Module>>,
    },
    Backup,
    /// Clears a lockout (R8.2) without touching the password.
    UsersUnlock {
        login: String,
    },
    /// Recovery when the only Manager lost its password: clears it and
    /// issues a one-time link, shown to the operator.
    UsersResetPassword {
        login: String,
    },
    /// Re-issues a one-time link for sites where mail cannot reach the user.
    UsersActivationLink {
        login: String,
    },
    /// Emails given up on, oldest first (R12.1).
    MailFailed {
        #[serde(default)]
        limit: Option<usize>,
    },
    /// Sends a failed email back to the outbox; logged.
    MailRetry {
        id: u64,
    },
    /// Tries every pending email now, whatever its backoff (after the
    /// relay is fixed).
    MailFlush,
    ServicesList,
    /// Creates a service account; the answer holds its secret, once.
    ServicesAdd {
        name: String,
        /// Comma-separated scopes.
        scopes: String,
    },
    ServicesRotate {
        name: String,
    },
    ServicesRemove {
        name: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Response {
    Ok {
        result: serde_json::Value,
    },
    /// The backup follows: exactly `bytes` bytes of a redb file.
    Backup {
        bytes: u64,
        rows: u64,
    },
    Error {
        message: String,
    },
}

/// What `ctl status` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: u64,
    pub listen: String,
    pub data_dir: String,
    pub tls_fingerprint: String,
    /// The DNS names and addresses the certificate is valid for.
    #[serde(default)]
    pub tls_names: Vec<String>,
    pub subscription: String,
    pub service_type: ServiceType,
    pub users: u64,
    pub active_managers: u64,
    pub activity_backlog: u64,
    /// Emails waiting for delivery (R12.1).
    #[serde(default)]
    pub mail_pending: u64,
    /// Emails given up on after `mail.max_attempts` tries.
    #[serde(default)]
    pub mail_failed: u64,
    /// End of the TLS certificate's validity (RFC 3339), when readable.
    #[serde(default)]
    pub tls_expires_at: Option<String>,
    /// Things the operator should act on, e.g. a certificate about to expire.
    #[serde(default)]
    pub warnings: Vec<String>,
}
