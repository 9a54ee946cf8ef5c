//! Emails as records (R12.1): what a command queues in its transaction, and
//! what the delivery task reports back about them.
//!
//! The one thing to know: a [`Notice`] is stored in the mail outbox in the
//! same durable transaction as the change that caused it; delivery reads it
//! later and settles it with a [`MailChange`], again through the store's
//! single writer, so a settlement is as durable as any other change.

use super::{Id, Timestamp};

/// An email to send, queued in the same transaction as its cause (R12.1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    /// What the email is about, which decides its template and whether a
    /// Contact or an opted-out user gets it.
    pub kind: NoticeKind,
    /// Who it is sent to.
    pub to: MailTo,
    /// One-time link token for registration and new credentials. Kept only
    /// until the mail is delivered or fails; the stored link itself is a hash.
    pub link_token: Option<String>,
}

impl Notice {
    /// An email to user `id`, about that user.
    pub fn to_user(kind: NoticeKind, id: Id, link_token: Option<String>) -> Notice {
        Notice {
            kind,
            to: MailTo::User(id),
            link_token,
        }
    }

    /// The user it is sent to; `None` for a plain address.
    pub fn user(&self) -> Option<&Id> {
        match &self.to {
            MailTo::User(id) => Some(id),
            MailTo::Address(_) => None,
        }
    }
}

/// The recipient of an email.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTo {
    /// A user: its address and name are read when the email is sent, and a
    /// user deleted or deactivated by then gets nothing (R7.3).
    User(Id),
    /// A plain address of a distribution group, not a user (R12.1). Only
    /// notifications go to one: it holds no credentials.
    Address(String),
}

/// What an email is about. Only [`NoticeKind::Notification`] is held back
/// by Notification Options; the rest are account emails, sent whatever the
/// options say (R12.1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// A new user's registration, with its one-time link (R7.1).
    Registration,
    /// A password reset by an administrator, with a one-time link to the new
    /// credentials (R7.2).
    NewCredentials,
    /// A lock, as queued before locks said which counter; new ones are
    /// [`NoticeKind::AccountLockedBy`].
    AccountLocked,
    /// A notification sent on behalf of a user or another service
    /// (`POST /api/v1/notifications`); it names the Email Contact (R10.2).
    Notification {
        /// The subject line, as the service gave it.
        subject: String,
        /// The text, as the service gave it; the email adds the Email Contact.
        body: String,
    },
    /// A lock, saying which counter locked (R8.2, R8.7).
    AccountLockedBy {
        /// The counter that reached the threshold, which says what is refused.
        counter: LockCounter,
    },
    /// The secret questions were set or changed (R8.7).
    SecretQuestionsChanged,
    /// The password was reset with the secret questions (R8.7).
    PasswordSelfReset,
    /// The email address changed; sent to the old address (R7.2).
    EmailChanged {
        /// The address before the change, so its owner hears of it.
        old: String,
    },
}

/// Which failure counter locked an account (R8.2, R8.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockCounter {
    /// The one counter of every address (smart lockout off).
    All,
    /// Addresses the user logged in from lately.
    Familiar,
    /// Every other address.
    Unfamiliar,
    /// Wrong secret answers: self-service reset only.
    SecretAnswers,
}

impl LockCounter {
    /// Where the failures came from, for the log and the email.
    pub fn from_where(self) -> &'static str {
        match self {
            LockCounter::All => "from any address",
            LockCounter::Familiar => "from addresses the user logged in from lately",
            LockCounter::Unfamiliar => "from addresses the user has not logged in from lately",
            LockCounter::SecretAnswers => "at the secret questions",
        }
    }

    /// What the lock refuses.
    pub fn refuses(self) -> &'static str {
        match self {
            LockCounter::All | LockCounter::Familiar => "every address is refused",
            LockCounter::Unfamiliar => {
                "the right password still works from addresses the user logged in from lately"
            }
            LockCounter::SecretAnswers => "self-service reset is refused; logins still work",
        }
    }
}

impl NoticeKind {
    /// A short name for logs and activity entries (never the content).
    pub fn as_str(&self) -> &'static str {
        match self {
            NoticeKind::Registration => "registration",
            NoticeKind::NewCredentials => "new credentials",
            NoticeKind::AccountLocked => "account locked",
            NoticeKind::Notification { .. } => "notification",
            NoticeKind::AccountLockedBy { .. } => "account locked",
            NoticeKind::SecretQuestionsChanged => "secret questions changed",
            NoticeKind::PasswordSelfReset => "password reset",
            NoticeKind::EmailChanged { .. } => "email changed",
        }
    }
}

/// What delivery reports about the outbox entry `seq`; the store applies it
/// in the transaction of the command that carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailChange {
    /// A try starts now. Counted before the message leaves, so a crash in
    /// the middle of a send still counts towards `mail.max_attempts`.
    Attempt {
        /// The outbox entry.
        seq: u64,
        /// When the try started.
        at: Timestamp,
    },
    /// The try failed and will be repeated.
    Retry {
        /// The outbox entry.
        seq: u64,
        /// Why the try failed, for the operator.
        error: String,
    },
    /// Sent: the entry and its one-time link token are removed.
    Delivered {
        /// The outbox entry.
        seq: u64,
    },
    /// Given up: the entry moves to the failed records without its token.
    Failed {
        /// The outbox entry.
        seq: u64,
        /// The last try's error, for the operator.
        error: String,
        /// When delivery gave up.
        at: Timestamp,
    },
    /// Not to be sent (recipient deleted or deactivated, link superseded):
    /// the entry is removed with its token, and nothing is counted as failed.
    Discarded {
        /// The outbox entry.
        seq: u64,
    },
    /// The operator asks for a failed entry to be sent again
    /// (`bailiwick ctl mail retry`): it moves from the failed records back to
    /// the outbox under the same number, with its tries cleared.
    Requeue {
        /// The failed entry.
        seq: u64,
    },
}

impl MailChange {
    /// The outbox entry the change is about.
    pub fn seq(&self) -> u64 {
        match self {
            MailChange::Attempt { seq, .. }
            | MailChange::Retry { seq, .. }
            | MailChange::Delivered { seq }
            | MailChange::Failed { seq, .. }
            | MailChange::Discarded { seq }
            | MailChange::Requeue { seq } => *seq,
        }
    }
}
