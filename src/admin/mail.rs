//! `bailiwick ctl mail failed|retry` (R12.1): the operator's view of the
//! emails given up on, and the way to send one again.
//!
//! The one thing to know: a retry moves the failed record back to the
//! outbox under the same number through the store's writer
//! (`MailChange::Requeue`), with a `mail.retry` activity entry in the same
//! commit; emails whose one-time link was erased when they failed are
//! refused, since they can only fail again.

use serde::{Deserialize, Serialize};

use crate::domain::LogAction;
use crate::domain::notice::{MailChange, MailTo, NoticeKind};
use crate::domain::{Actor, State};
use crate::notify::delivery::describe;
use crate::store::Store;
use crate::store::mail::{FailedMail, why_not_retry};

/// Failed emails listed by default.
pub const DEFAULT_LIMIT: usize = 100;

/// One failed email as `ctl mail failed` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedView {
    /// The number `ctl mail retry` takes.
    pub id: u64,
    /// `login <address>` for a user (as it is now), or the plain address.
    pub recipient: String,
    /// `registration`, `new credentials`, `account locked`, `notification`.
    pub kind: String,
    /// A notification's subject; `None` for the other kinds.
    pub subject: Option<String>,
    pub tries: u32,
    pub last_error: String,
    pub failed_at: String,
}

/// `ctl mail failed`: how many there are, and the oldest `limit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedList {
    pub total: u64,
    pub items: Vec<FailedView>,
}

pub fn view(state: &State, f: &FailedMail) -> FailedView {
    let (recipient, kind, subject) = match &f.notice {
        None => ("(unreadable)".to_owned(), "unreadable".to_owned(), None),
        Some(n) => {
            let recipient = match &n.to {
                MailTo::User(id) => match state.users.get(id) {
                    Some(u) => format!("{} <{}>", u.login, u.email),
                    None => format!("deleted user {id}"),
                },
                MailTo::Address(a) => a.clone(),
            };
            let subject = match &n.kind {
                NoticeKind::Notification { subject, .. } => Some(subject.clone()),
                _ => None,
            };
            (recipient, n.kind.as_str().to_owned(), subject)
        }
    };
    FailedView {
        id: f.seq,
        recipient,
        kind,
        subject,
        tries: f.attempts,
        last_error: f.error.clone(),
        failed_at: f.failed_at.to_rfc3339(),
    }
}

/// Failed emails, oldest first, at most `limit`.
pub async fn failed(store: &Store, limit: usize) -> Result<FailedList, String> {
    let s = store.clone();
    let list = tokio::task::spawn_blocking(move || s.mail_failed(limit))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let state = store.snapshot();
    Ok(FailedList {
        total: store.mail_failed_count(),
        items: list.iter().map(|f| view(&state, f)).collect(),
    })
}

/// One retry at a time: the check that the record is still failed and the
/// commit that moves it must not interleave with another retry of it.
static RETRY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Sends failed email `id` back to the outbox. Action `mail.retry`.
pub async fn retry(store: &Store, id: u64) -> Result<FailedView, String> {
    let _one = RETRY.lock().await;
    let s = store.clone();
    let all = tokio::task::spawn_blocking(move || s.mail_failed(usize::MAX))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let Some(f) = all.into_iter().find(|f| f.seq == id) else {
        return Err(format!(
            "no failed email {id}; `bailiwick ctl mail failed` lists them"
        ));
    };
    if let Some(why) = why_not_retry(&f) {
        return Err(why);
    }
    let state = store.snapshot();
    let shown = view(&state, &f);
    let (target, kind) = match &f.notice {
        Some(n) => describe(&state, n),
        None => (format!("mail {id}"), "unreadable"),
    };
    let details = format!(
        "{kind} email (mail {id}) sent back to the outbox after {} failed tries",
        f.attempts
    );
    store
        .write(Actor::operator(), move |tx| {
            tx.settle_mail(MailChange::Requeue { seq: id });
            tx.log(LogAction::MailRetry, target, details);
            Ok(())
        })
        .await
        .map_err(|e| e.to_string())?;
    // Settling does not wake delivery by itself; this entry is due now.
    store.mail_queued().notify_one();
    Ok(shown)
}
