//! Email that is never lost (R12): templates, RFC 5322 messages, the spool
//! and SMTP transports, the delivery task, and the notifications command.
//!
//! The one thing to know before changing it: nothing here decides *whether*
//! an email exists. Commands queue a [`Notice`] in the transaction of their
//! change (`Tx::queue_notice`); the store keeps it in `mail_outbox`. The
//! delivery task ([`delivery`]) reads pending entries, renders them from the
//! current state ([`templates`]), and settles each through the store's writer
//! (tries counted before sending, removal after), so a crash can at most send
//! a message again, with the same `Message-ID` ([`message::message_id`]).
//!
//! ```
//! use bailiwick::notify::message::message_id;
//! assert_eq!(message_id(7, "0a1b2c3d4e5f6a7b", "example.org"), "7.0a1b2c3d4e5f6a7b@example.org");
//! ```
//!
//! [`Notice`]: crate::domain::notice::Notice

pub mod delivery;
pub mod message;
pub mod recipients;
pub mod smtp;
pub mod spool;
pub mod templates;

pub use recipients::{NotificationRequest, resolve_recipients, send_notification};

/// Why the mail transport could not be set up at start. Each names the key.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot create the mail spool directory {path}: {source}")]
    SpoolDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("mail.smtp_password_file {path}: {source}")]
    PasswordFile {
        path: String,
        source: std::io::Error,
    },
    #[error("mail.smtp_ca_file {path}: {detail}")]
    CaFile { path: String, detail: String },
    #[error("mail.from {from:?} is not a usable address: {detail}")]
    From { from: String, detail: String },
    #[error("SMTP TLS settings for {host}: {detail}")]
    Tls { host: String, detail: String },
}

/// Why one message was not handed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// The relay refused for good (5xx), or the message cannot be built:
    /// trying again would give the same answer.
    pub permanent: bool,
    pub message: String,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            permanent: false,
            message: message.into(),
        }
    }

    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            permanent: true,
            message: message.into(),
        }
    }
}
