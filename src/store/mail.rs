//! The mail outbox on disk (R12.1): pending entries, their delivery state,
//! and the entries given up on.
//!
//! The one thing to know: entries are written by the writer in the
//! transaction of their cause (`mail_outbox`), and settled by the writer too
//! ([`apply`], from a [`MailChange`] a command carries), so every change of
//! delivery state is a durable commit like any other. Readers here use read
//! transactions and never block the writer.
//!
//! Tables: `mail_outbox` (seq → [`Notice`]), `mail_delivery` (seq →
//! [`Delivery`]: tries so far, kept beside the entry so the entry itself is
//! never rewritten), `mail_failed` (seq → [`FailedMail`], without the
//! one-time link token).

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use super::codec::{self, DecodeError, Record};
use super::records::MAIL_OUTBOX;
use crate::domain::notice::{MailChange, MailTo, Notice, NoticeKind};
use crate::domain::{Id, Timestamp};

/// Delivery state of a pending entry; absent until its first try.
pub const MAIL_DELIVERY: TableDefinition<u64, &[u8]> = TableDefinition::new("mail_delivery");
/// Entries given up on after `mail.max_attempts` tries or a permanent refusal.
pub const MAIL_FAILED: TableDefinition<u64, &[u8]> = TableDefinition::new("mail_failed");

/// Tries of one pending entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub attempts: u32,
    /// Also the message's `Date`, so a message written again after a crash
    /// is the same bytes.
    pub first_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

impl Record for Delivery {
    const VERSION: u16 = 1;
}

/// An entry given up on. Its one-time link token is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedMail {
    pub seq: u64,
    /// `None` when the stored entry could not be read at all.
    pub notice: Option<Notice>,
    pub attempts: u32,
    pub error: String,
    pub failed_at: Timestamp,
}

impl Record for FailedMail {
    /// 2: the notice inside is a [`Notice`] of version 3 (`to`, not `user`).
    const VERSION: u16 = 2;

    fn upgrade(version: u16, body: &[u8]) -> Result<Self, DecodeError> {
        match version {
            1 => {
                let old: FailedMailV1 = codec::decode_body(body)?;
                Ok(FailedMail {
                    seq: old.seq,
                    notice: old.notice.map(NoticeV2::upgrade),
                    attempts: old.attempts,
                    error: old.error,
                    failed_at: old.failed_at,
                })
            }
            v => Err(DecodeError::UnknownVersion(v)),
        }
    }
}

/// Version 1 of [`FailedMail`], holding a version 2 notice.
#[derive(Debug, Deserialize)]
struct FailedMailV1 {
    seq: u64,
    notice: Option<NoticeV2>,
    attempts: u32,
    error: String,
    failed_at: Timestamp,
}

/// Version 1 of [`Notice`]: before notifications existed.
#[derive(Debug, Deserialize)]
struct NoticeV1 {
    kind: NoticeKindV1,
    user: Id,
    link_token: Option<String>,
}

#[derive(Debug, Deserialize)]
enum NoticeKindV1 {
    Registration,
    NewCredentials,
    AccountLocked,
}

/// Version 2 of [`Notice`]: every email went to a user.
#[derive(Debug, Deserialize)]
struct NoticeV2 {
    kind: NoticeKind,
    user: Id,
    link_token: Option<String>,
}

impl NoticeV2 {
    fn upgrade(self) -> Notice {
        Notice {
            kind: self.kind,
            to: MailTo::User(self.user),
            link_token: self.link_token,
        }
    }
}

impl Record for Notice {
    /// 2: `NoticeKind::Notification { subject, body }`.
    /// 3: `to: MailTo` (a user or a plain address) instead of `user`.
    /// 4: kinds `account_locked_by`, `secret_questions_changed`,
    /// `password_self_reset`, `email_changed`, appended after the others.
    const VERSION: u16 = 4;

    fn upgrade(version: u16, body: &[u8]) -> Result<Self, DecodeError> {
        match version {
            // Version 3 kinds are a prefix of version 4's: same bytes.
            3 => codec::decode_body::<Notice>(body),
            1 => {
                let old: NoticeV1 = codec::decode_body(body)?;
                Ok(NoticeV2 {
                    kind: match old.kind {
                        NoticeKindV1::Registration => NoticeKind::Registration,
                        NoticeKindV1::NewCredentials => NoticeKind::NewCredentials,
                        NoticeKindV1::AccountLocked => NoticeKind::AccountLocked,
                    },
                    user: old.user,
                    link_token: old.link_token,
                }
                .upgrade())
            }
            2 => Ok(codec::decode_body::<NoticeV2>(body)?.upgrade()),
            v => Err(DecodeError::UnknownVersion(v)),
        }
    }
}

/// A pending entry as delivery sees it.
#[derive(Debug, Clone)]
pub struct PendingMail {
    pub seq: u64,
    /// An entry that does not decode is failed by delivery, not skipped.
    pub notice: Result<Notice, DecodeError>,
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailReadError {
    #[error("reading the mail outbox failed: {0}")]
    Storage(String),
}

fn read_err(e: impl std::fmt::Display) -> MailReadError {
    MailReadError::Storage(e.to_string())
}

/// Up to `limit` pending entries with a sequence number above `after`, oldest first.
pub fn pending(
    db: &redb::Database,
    after: u64,
    limit: usize,
) -> Result<Vec<PendingMail>, MailReadError> {
    let read = db.begin_read().map_err(read_err)?;
    let outbox = match read.open_table(MAIL_OUTBOX) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(read_err(e)),
    };
    let delivery = match read.open_table(MAIL_DELIVERY) {
        Ok(t) => Some(t),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => return Err(read_err(e)),
    };
    let mut out = Vec::new();
    for row in outbox
        .range(after.saturating_add(1)..)
        .map_err(read_err)?
        .take(limit)
    {
        let (k, v) = row.map_err(read_err)?;
        let seq = k.value();
        let state = match &delivery {
            Some(t) => match t.get(seq).map_err(read_err)? {
                // A damaged delivery record only loses the count of tries.
                Some(d) => codec::decode(d.value()).unwrap_or_default(),
                None => Delivery::default(),
            },
            None => Delivery::default(),
        };
        out.push(PendingMail {
            seq,
            notice: codec::decode(v.value()),
            delivery: state,
        });
    }
    Ok(out)
}

fn count(db: &redb::Database, def: TableDefinition<u64, &[u8]>) -> u64 {
    db.begin_read()
        .ok()
        .and_then(|t| t.open_table(def).ok())
        .and_then(|t| t.len().ok())
        .unwrap_or(0)
}

/// Entries given up on.
pub fn failed_count(db: &redb::Database) -> u64 {
    count(db, MAIL_FAILED)
}

/// The failed entries, oldest first, at most `limit`.
pub fn failed(db: &redb::Database, limit: usize) -> Result<Vec<FailedMail>, MailReadError> {
    let read = db.begin_read().map_err(read_err)?;
    let table = match read.open_table(MAIL_FAILED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(read_err(e)),
    };
    let mut out = Vec::new();
    for row in table.iter().map_err(read_err)?.take(limit) {
        let (k, v) = row.map_err(read_err)?;
        // An unreadable record is still shown to the operator, not hidden.
        out.push(codec::decode(v.value()).unwrap_or_else(|e| FailedMail {
            seq: k.value(),
            notice: None,
            attempts: 0,
            error: format!("the failed record cannot be read: {e}"),
            failed_at: Timestamp::default(),
        }));
    }
    Ok(out)
}

/// Applies delivery's settlements inside the writer's transaction. A change
/// for an entry that is already gone (settled by an earlier commit) is
/// ignored, so repeating one is harmless.
pub(super) fn apply(
    txn: &redb::WriteTransaction,
    changes: &[MailChange],
) -> Result<(), redb::Error> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut outbox = txn.open_table(MAIL_OUTBOX)?;
    let mut delivery = txn.open_table(MAIL_DELIVERY)?;
    let mut failed = txn.open_table(MAIL_FAILED)?;
    for change in changes {
        let seq = change.seq();
        if let MailChange::Requeue { .. } = change {
            requeue(&mut outbox, &mut delivery, &mut failed, seq)?;
            continue;
        }
        let Some(entry) = outbox.get(seq)?.map(|v| v.value().to_vec()) else {
            continue;
        };
        let mut state: Delivery = delivery
            .get(seq)?
            .and_then(|v| codec::decode(v.value()).ok())
            .unwrap_or_default();
        match change {
            MailChange::Attempt { at, .. } => {
                state.attempts = state.attempts.saturating_add(1);
                state.first_attempt_at.get_or_insert(*at);
                state.last_attempt_at = Some(*at);
                delivery.insert(seq, codec::encode(&state).as_slice())?;
            }
            MailChange::Retry { error, .. } => {
                state.last_error = Some(error.clone());
                delivery.insert(seq, codec::encode(&state).as_slice())?;
            }
            MailChange::Delivered { .. } | MailChange::Discarded { .. } => {
                outbox.remove(seq)?;
                delivery.remove(seq)?;
            }
            MailChange::Requeue { .. } => {}
            MailChange::Failed { error, at, .. } => {
                let notice = codec::decode::<Notice>(&entry).ok().map(|mut n| {
                    // The token opens an account: it must not outlive the try.
                    n.link_token = None;
                    n
                });
                let record = FailedMail {
                    seq,
                    notice,
                    attempts: state.attempts,
                    error: error.clone(),
                    failed_at: *at,
                };
                failed.insert(seq, codec::encode(&record).as_slice())?;
                outbox.remove(seq)?;
                delivery.remove(seq)?;
            }
        }
    }
    Ok(())
}

type Table<'t> = redb::Table<'t, u64, &'static [u8]>;

/// Moves failed entry `seq` back to the outbox, its tries cleared. Nothing
/// happens when it is not failed (already requeued) or was never readable.
fn requeue(
    outbox: &mut Table<'_>,
    delivery: &mut Table<'_>,
    failed: &mut Table<'_>,
    seq: u64,
) -> Result<(), redb::Error> {
    let Some(record) = failed.get(seq)?.map(|v| v.value().to_vec()) else {
        return Ok(());
    };
    let Some(notice) = codec::decode::<FailedMail>(&record)
        .ok()
        .and_then(|f| f.notice)
    else {
        return Ok(());
    };
    if outbox.get(seq)?.is_some() {
        return Ok(());
    }
    outbox.insert(seq, codec::encode(&notice).as_slice())?;
    delivery.remove(seq)?;
    failed.remove(seq)?;
    Ok(())
}

/// What a backup says of a pending entry whose one-time link it left out.
pub const LEFT_OUT_OF_BACKUP: &str =
    "needs a new link: it held a one-time link, which backups never carry";

/// Copies the mail tables from `read` into a backup's `txn`, without any
/// usable one-time link token (a backup is kept longer and in more places
/// than the live file): a pending entry that carries one goes to the failed
/// entries without it, so `ctl mail retry` refuses it and says what to run.
/// Returns the rows written.
pub(super) fn copy_for_backup(
    read: &redb::ReadTransaction,
    txn: &redb::WriteTransaction,
) -> Result<u64, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let mut rows = 0u64;
    let mut left_out = Vec::new();
    {
        let mut dst = txn.open_table(MAIL_OUTBOX).map_err(|e| err(&e))?;
        if let Ok(src) = read.open_table(MAIL_OUTBOX) {
            for row in src.iter().map_err(|e| err(&e))? {
                let (k, v) = row.map_err(|e| err(&e))?;
                let (seq, bytes) = (k.value(), v.value());
                match codec::decode::<Notice>(bytes) {
                    Ok(n) if n.link_token.is_none() => {
                        dst.insert(seq, bytes).map_err(|e| err(&e))?;
                    }
                    // Unreadable bytes may still hold a token: left out too.
                    Ok(n) => left_out.push((seq, Some(n))),
                    Err(_) => left_out.push((seq, None)),
                }
                rows += 1;
            }
        }
    }
    {
        let mut dst = txn.open_table(MAIL_DELIVERY).map_err(|e| err(&e))?;
        if let Ok(src) = read.open_table(MAIL_DELIVERY) {
            for row in src.iter().map_err(|e| err(&e))? {
                let (k, v) = row.map_err(|e| err(&e))?;
                if left_out.iter().all(|(seq, _)| *seq != k.value()) {
                    dst.insert(k.value(), v.value()).map_err(|e| err(&e))?;
                    rows += 1;
                }
            }
        }
    }
    let mut dst = txn.open_table(MAIL_FAILED).map_err(|e| err(&e))?;
    if let Ok(src) = read.open_table(MAIL_FAILED) {
        for row in src.iter().map_err(|e| err(&e))? {
            let (k, v) = row.map_err(|e| err(&e))?;
            dst.insert(k.value(), v.value()).map_err(|e| err(&e))?;
            rows += 1;
        }
    }
    let delivery = read.open_table(MAIL_DELIVERY).ok();
    for (seq, notice) in left_out {
        let tries = delivery
            .as_ref()
            .and_then(|t| t.get(seq).ok().flatten())
            .and_then(|v| codec::decode::<Delivery>(v.value()).ok())
            .unwrap_or_default();
        let failed = FailedMail {
            seq,
            notice: notice.map(|n| Notice {
                link_token: None,
                ..n
            }),
            attempts: tries.attempts,
            error: LEFT_OUT_OF_BACKUP.into(),
            failed_at: tries
                .last_attempt_at
                .unwrap_or_else(crate::clock::system_now),
        };
        dst.insert(seq, codec::encode(&failed).as_slice())
            .map_err(|e| err(&e))?;
    }
    Ok(rows)
}

/// Why failed entry `f` cannot usefully be sent again, if it cannot.
pub fn why_not_retry(f: &FailedMail) -> Option<String> {
    let notice = match &f.notice {
        None => return Some(format!("mail {} could not be read when it failed", f.seq)),
        Some(n) => n,
    };
    match notice.kind {
        // The token was erased when it failed, or left out of a backup
        // (it opens an account).
        NoticeKind::Registration | NoticeKind::NewCredentials => Some(format!(
            "mail {} carried a one-time link, which is gone (erased when it failed, or left out \
             of a backup); issue a new one with `bailiwick ctl users activation-link LOGIN` \
             (or `users reset-password LOGIN`)",
            f.seq
        )),
        NoticeKind::AccountLocked
        | NoticeKind::Notification { .. }
        | NoticeKind::AccountLockedBy { .. }
        | NoticeKind::SecretQuestionsChanged
        | NoticeKind::PasswordSelfReset
        | NoticeKind::EmailChanged { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    // Mirrors of the layouts older builds wrote, to make their exact bytes.

    #[derive(Serialize)]
    enum KindV1 {
        #[allow(dead_code)]
        Registration,
        NewCredentials,
    }

    #[derive(Serialize)]
    struct V1 {
        kind: KindV1,
        user: String,
        link_token: Option<String>,
    }

    #[derive(Serialize)]
    enum KindV2 {
        #[allow(dead_code)]
        Registration,
        #[allow(dead_code)]
        NewCredentials,
        #[allow(dead_code)]
        AccountLocked,
        Notification {
            subject: String,
            body: String,
        },
    }

    #[derive(Serialize)]
    struct V2 {
        kind: KindV2,
        user: String,
        link_token: Option<String>,
    }

    #[derive(Serialize)]
    struct FailedV1 {
        seq: u64,
        notice: Option<V2>,
        attempts: u32,
        error: String,
        failed_at: Timestamp,
    }

    fn stored(version: u16, body: impl Serialize) -> Vec<u8> {
        let mut bytes = version.to_le_bytes().to_vec();
        bytes.extend(bincode::serde::encode_to_vec(body, bincode::config::standard()).unwrap());
        bytes
    }

    #[test]
    fn r12_1_a_notice_written_before_notifications_existed_still_decodes() {
        let bytes = stored(
            1,
            V1 {
                kind: KindV1::NewCredentials,
                user: "u1".into(),
                link_token: Some("tok".into()),
            },
        );
        let n: Notice = codec::decode(&bytes).unwrap();
        assert_eq!(
            n,
            Notice::to_user(NoticeKind::NewCredentials, "u1".into(), Some("tok".into()))
        );
        let again = codec::encode(&n);
        assert_eq!(&again[..2], &4u16.to_le_bytes());
    }

    #[test]
    fn r12_1_a_version_3_notice_still_decodes() {
        let n = Notice::to_user(NoticeKind::AccountLocked, "u1".into(), None);
        let mut bytes = 3u16.to_le_bytes().to_vec();
        bytes.extend(bincode::serde::encode_to_vec(&n, bincode::config::standard()).unwrap());
        assert_eq!(codec::decode::<Notice>(&bytes).unwrap(), n);
    }

    #[test]
    fn r12_1_a_notification_queued_before_addresses_existed_still_goes_to_its_user() {
        let bytes = stored(
            2,
            V2 {
                kind: KindV2::Notification {
                    subject: "Scan done".into(),
                    body: "ok".into(),
                },
                user: "u2".into(),
                link_token: None,
            },
        );
        let n: Notice = codec::decode(&bytes).unwrap();
        assert_eq!(n.to, MailTo::User("u2".into()));
        assert_eq!(
            n.kind,
            NoticeKind::Notification {
                subject: "Scan done".into(),
                body: "ok".into()
            }
        );
    }

    #[test]
    fn r12_1_a_failed_record_of_the_old_layout_still_decodes() {
        let bytes = stored(
            1,
            FailedV1 {
                seq: 9,
                notice: Some(V2 {
                    kind: KindV2::Notification {
                        subject: "s".into(),
                        body: "b".into(),
                    },
                    user: "u3".into(),
                    link_token: None,
                }),
                attempts: 5,
                error: "451".into(),
                failed_at: Timestamp::from_unix_micros(11),
            },
        );
        let f: FailedMail = codec::decode(&bytes).unwrap();
        assert_eq!(f.seq, 9);
        assert_eq!(f.attempts, 5);
        assert_eq!(f.failed_at, Timestamp::from_unix_micros(11));
        assert_eq!(f.notice.unwrap().to, MailTo::User("u3".into()));
        let none = stored(
            1,
            FailedV1 {
                seq: 1,
                notice: None,
                attempts: 0,
                error: "unreadable".into(),
                failed_at: Timestamp::default(),
            },
        );
        assert_eq!(codec::decode::<FailedMail>(&none).unwrap().notice, None);
    }

    proptest::proptest! {
        /// R13: a damaged outbox or failed record of any version is refused,
        /// never a panic; what decodes is written back as the newest version
        /// and reads back the same.
        #[test]
        fn r13_old_and_damaged_mail_records_never_panic(
            version in 0u16..5,
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let mut bytes = version.to_le_bytes().to_vec();
            bytes.extend_from_slice(&body);
            if let Ok(n) = codec::decode::<Notice>(&bytes) {
                proptest::prop_assert_eq!(codec::decode::<Notice>(&codec::encode(&n)).unwrap(), n);
            }
            if let Ok(f) = codec::decode::<FailedMail>(&bytes) {
                proptest::prop_assert_eq!(codec::decode::<FailedMail>(&codec::encode(&f)).unwrap(), f);
            }
        }
    }

    #[test]
    fn r12_1_a_notification_to_a_plain_address_round_trips() {
        let n = Notice {
            kind: NoticeKind::Notification {
                subject: "Scan done".into(),
                body: "ok".into(),
            },
            to: MailTo::Address("ops@example.net".into()),
            link_token: None,
        };
        assert_eq!(codec::decode::<Notice>(&codec::encode(&n)).unwrap(), n);
    }

    #[test]
    fn r12_1_a_backup_keeps_pending_mail_and_its_tries() {
        use crate::domain::Actor;
        let dir = tempfile::tempdir().unwrap();
        let options = crate::store::Options {
            create: true,
            ..Default::default()
        };
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(
            Timestamp::from_unix_micros(7),
        ));
        let store = crate::store::Store::open(dir.path(), &options, clock.clone()).unwrap();
        store
            .write_blocking(Actor::operator(), |tx| {
                tx.queue_notice(note("ops@example.net"));
                Ok(())
            })
            .unwrap();
        let seq = store.mail_pending(0, 10).unwrap()[0].seq;
        store
            .write_blocking(Actor::operator(), move |tx| {
                tx.settle_mail(MailChange::Attempt { seq, at: tx.now() });
                Ok(())
            })
            .unwrap();
        let out = dir.path().join("backup.redb");
        store.backup(&out).unwrap();
        store.close();
        crate::store::backup::restore(&out, &dir.path().join("b")).unwrap();
        let restored = crate::store::Store::open(
            &dir.path().join("b"),
            &crate::store::Options::default(),
            clock,
        )
        .unwrap();
        let p = restored.mail_pending(0, 10).unwrap();
        assert_eq!(p.len(), 1, "the mail is still owed");
        assert_eq!(p[0].delivery.attempts, 1, "with its tries");
    }

    /// Issue item 10: undelivered mail kept the raw one-time token, and
    /// backups copied it.
    #[test]
    fn r12_1_backups_never_carry_a_usable_raw_token_the_entry_needs_a_new_link() {
        use crate::domain::Actor;
        let dir = tempfile::tempdir().unwrap();
        let options = crate::store::Options {
            create: true,
            ..Default::default()
        };
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(
            Timestamp::from_unix_micros(7),
        ));
        let store = crate::store::Store::open(dir.path(), &options, clock.clone()).unwrap();
        store
            .write_blocking(Actor::operator(), |tx| {
                tx.queue_notice(reset("u1"));
                tx.queue_notice(note("ops@example.net"));
                Ok(())
            })
            .unwrap();
        let seq = store.mail_pending(0, 10).unwrap()[0].seq;
        store
            .write_blocking(Actor::operator(), move |tx| {
                tx.settle_mail(MailChange::Attempt { seq, at: tx.now() });
                Ok(())
            })
            .unwrap();
        let out = dir.path().join("backup.redb");
        store.backup(&out).unwrap();
        // The live outbox still owes the link email.
        assert_eq!(store.mail_pending(0, 10).unwrap().len(), 2);
        store.close();
        let bytes = std::fs::read(&out).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == b"secret-token"),
            "the backup holds the raw token"
        );
        crate::store::backup::restore(&out, &dir.path().join("b")).unwrap();
        let restored = crate::store::Store::open(
            &dir.path().join("b"),
            &crate::store::Options::default(),
            clock,
        )
        .unwrap();
        let p = restored.mail_pending(0, 10).unwrap();
        assert_eq!(p.len(), 1, "only the mail without a link is still owed");
        assert_eq!(p[0].notice.as_ref().unwrap().link_token, None);
        let f = restored.mail_failed(10).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].seq, seq);
        assert_eq!(f[0].error, LEFT_OUT_OF_BACKUP);
        assert_eq!(f[0].attempts, 1, "its tries are kept");
        assert_eq!(f[0].notice.as_ref().unwrap().link_token, None);
        let why = why_not_retry(&f[0]).expect("retry refuses it");
        assert!(why.contains("activation-link"), "{why}");
    }

    #[test]
    fn r12_1_a_commit_that_queues_mail_wakes_delivery_and_settling_goes_through_the_writer() {
        use crate::domain::Actor;
        let dir = tempfile::tempdir().unwrap();
        let options = crate::store::Options {
            create: true,
            ..Default::default()
        };
        let clock = std::sync::Arc::new(crate::clock::ManualClock::new(
            Timestamp::from_unix_micros(7),
        ));
        let store = crate::store::Store::open(dir.path(), &options, clock).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let wake = store.mail_queued();
        store
            .write_blocking(Actor::operator(), |tx| {
                tx.queue_notice(reset("u1"));
                Ok(())
            })
            .unwrap();
        // The permit was left by the commit: a waiter that comes later still wakes.
        rt.block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(5), wake.notified())
                .await
                .expect("woken by the commit");
        });
        let p = store.mail_pending(0, 10).unwrap();
        assert_eq!(p.len(), 1);
        let seq = p[0].seq;
        store
            .write_blocking(Actor::operator(), move |tx| {
                tx.settle_mail(MailChange::Attempt { seq, at: tx.now() });
                Ok(())
            })
            .unwrap();
        let p = store.mail_pending(0, 10).unwrap();
        assert_eq!(p[0].delivery.attempts, 1);
        assert_eq!(
            p[0].delivery.first_attempt_at,
            Some(Timestamp::from_unix_micros(7))
        );
        store
            .write_blocking(Actor::operator(), move |tx| {
                tx.settle_mail(MailChange::Delivered { seq });
                Ok(())
            })
            .unwrap();
        assert!(store.mail_pending(0, 10).unwrap().is_empty());
        assert_eq!(store.mail_backlog(), 0);
        // Settling alone queues nothing: no wake-up for delivery's own writes.
        rt.block_on(async {
            let woke =
                tokio::time::timeout(std::time::Duration::from_millis(200), wake.notified()).await;
            assert!(woke.is_err());
        });
        store.close();
    }

    fn db_with(entries: &[(u64, Notice)]) -> (tempfile::TempDir, redb::Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("db")).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut t = txn.open_table(MAIL_OUTBOX).unwrap();
            for (seq, n) in entries {
                t.insert(*seq, codec::encode(n).as_slice()).unwrap();
            }
        }
        txn.commit().unwrap();
        (dir, db)
    }

    fn settle(db: &redb::Database, changes: &[MailChange]) {
        let txn = db.begin_write().unwrap();
        apply(&txn, changes).unwrap();
        txn.commit().unwrap();
    }

    fn reset(user: &str) -> Notice {
        Notice::to_user(
            NoticeKind::NewCredentials,
            user.into(),
            Some("secret-token".into()),
        )
    }

    fn note(to: &str) -> Notice {
        Notice {
            kind: NoticeKind::Notification {
                subject: "s".into(),
                body: "b".into(),
            },
            to: MailTo::Address(to.into()),
            link_token: None,
        }
    }

    #[test]
    fn r12_1_a_failed_notification_goes_back_to_the_outbox_once_with_fresh_tries() {
        let (_d, db) = db_with(&[(4, note("ops@example.net")), (5, reset("u1"))]);
        let t = Timestamp::from_unix_micros(5);
        settle(
            &db,
            &[
                MailChange::Attempt { seq: 4, at: t },
                MailChange::Failed {
                    seq: 4,
                    error: "550".into(),
                    at: t,
                },
                MailChange::Attempt { seq: 5, at: t },
                MailChange::Failed {
                    seq: 5,
                    error: "550".into(),
                    at: t,
                },
            ],
        );
        let f = failed(&db, 10).unwrap();
        assert_eq!(f.len(), 2);
        assert_eq!(why_not_retry(&f[0]), None);
        let why = why_not_retry(&f[1]).expect("a link email cannot be sent again");
        assert!(why.contains("activation-link"), "{why}");

        // Requeued twice in one commit: one entry, tries cleared, same number.
        settle(
            &db,
            &[
                MailChange::Requeue { seq: 4 },
                MailChange::Requeue { seq: 4 },
            ],
        );
        let p = pending(&db, 0, 10).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].seq, 4);
        assert_eq!(p[0].notice.as_ref().unwrap(), &note("ops@example.net"));
        assert_eq!(p[0].delivery, Delivery::default());
        assert_eq!(failed_count(&db), 1);
        // Requeueing what is not failed changes nothing.
        settle(&db, &[MailChange::Requeue { seq: 99 }]);
        assert_eq!(
            (pending(&db, 0, 10).unwrap().len(), failed_count(&db)),
            (1, 1)
        );
    }

    #[test]
    fn r12_1_tries_are_counted_and_failure_erases_the_link_token() {
        let (_d, db) = db_with(&[(1, reset("u1")), (2, reset("u2"))]);
        let t = Timestamp::from_unix_micros(5);
        settle(&db, &[MailChange::Attempt { seq: 1, at: t }]);
        settle(
            &db,
            &[
                MailChange::Retry {
                    seq: 1,
                    error: "451".into(),
                },
                MailChange::Attempt {
                    seq: 1,
                    at: Timestamp::from_unix_micros(9),
                },
            ],
        );
        let p = pending(&db, 0, 10).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].delivery.attempts, 2);
        assert_eq!(p[0].delivery.first_attempt_at, Some(t));
        assert_eq!(p[0].delivery.last_error.as_deref(), Some("451"));
        assert_eq!(pending(&db, 1, 10).unwrap()[0].seq, 2);

        settle(
            &db,
            &[
                MailChange::Failed {
                    seq: 1,
                    error: "gave up".into(),
                    at: t,
                },
                MailChange::Delivered { seq: 2 },
                // Settling again is harmless.
                MailChange::Delivered { seq: 2 },
            ],
        );
        assert!(pending(&db, 0, 10).unwrap().is_empty());
        assert_eq!(failed_count(&db), 1);
        let f = failed(&db, 10).unwrap();
        assert_eq!(f[0].attempts, 2);
        assert_eq!(f[0].notice.as_ref().unwrap().link_token, None);
        assert_eq!(f[0].notice.as_ref().unwrap().to, MailTo::User("u1".into()));
    }
}
