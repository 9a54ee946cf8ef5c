//! The single writer: group commit over one redb write transaction.
//!
//! Invariant: `published` only ever holds a state whose every change is in a
//! durable commit, and a caller hears `Ok` only after that publish. A failed
//! commit rolls the working state back to the last committed one.

use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use redb::{Database, Durability, ReadableTable};

use super::codec::{self, Record};
use super::records::*;
use super::{CommitError, WriteError};
use crate::domain::credentials::Notice;
use crate::domain::notice::MailChange;
use crate::domain::{Activity, Actor, Key, Refusal, State, Timestamp, Tx};

/// Commands decided and committed together at most.
const MAX_BATCH: usize = 512;

type Completion = Box<dyn FnOnce(Option<CommitError>) + Send>;
type Run = Box<dyn FnOnce(&mut Tx<'_>) -> (bool, Completion) + Send>;

pub(super) struct Job {
    actor: Actor,
    now: Timestamp,
    run: Run,
}

impl Job {
    pub(super) fn new<T, F>(
        actor: Actor,
        now: Timestamp,
        command: F,
        reply: tokio::sync::oneshot::Sender<Result<T, WriteError>>,
    ) -> Job
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send + 'static,
    {
        let run: Run = Box::new(move |tx| match command(tx) {
            Ok(value) => {
                crate::domain::settle(tx);
                (
                    true,
                    Box::new(move |err: Option<CommitError>| {
                        let _ = reply.send(match err {
                            None => Ok(value),
                            Some(e) => Err(WriteError::Unavailable(e)),
                        });
                    }),
                )
            }
            Err(refusal) => (
                false,
                Box::new(move |_| {
                    let _ = reply.send(Err(WriteError::Refused(refusal)));
                }),
            ),
        });
        Job { actor, now, run }
    }
}

enum Msg {
    Job(Job),
    Close,
}

pub(super) struct Handle {
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    alive: Arc<AtomicBool>,
    /// Set by tests: the next commit fails after writing its tables (R7.6).
    #[cfg_attr(not(test), allow(dead_code))]
    fail_next: Arc<AtomicBool>,
    /// Whether the last commit that reached the disk succeeded.
    writable: Arc<AtomicBool>,
}

impl Handle {
    pub(super) fn submit(&self, job: Job) -> Result<(), ()> {
        let guard = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_ref() {
            Some(tx) => tx.send(Msg::Job(job)).map_err(|_| ()),
            None => Err(()),
        }
    }

    /// Makes the next commit fail after it has written every table, as a
    /// full disk or an I/O error would: nothing of it may remain.
    #[cfg(test)]
    pub(super) fn fail_next_commit(&self) {
        self.fail_next.store(true, Ordering::Release);
    }

    pub(super) fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// False after a failed commit until one succeeds: after an I/O error
    /// (a full disk) redb refuses every later write until it is reopened,
    /// while reads from its cache still work, so reads alone cannot tell.
    pub(super) fn writable(&self) -> bool {
        self.writable.load(Ordering::Acquire)
    }

    pub(super) fn close(&self) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(Msg::Close);
        }
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

pub(super) fn spawn(
    db: Arc<Database>,
    published: Arc<ArcSwap<State>>,
    seq: u64,
    mail_queued: Arc<tokio::sync::Notify>,
    mail_published: Arc<AtomicU64>,
    wake: Arc<super::Wake>,
    hooks: super::Hooks,
) -> Handle {
    let (tx, rx) = mpsc::channel();
    let alive = Arc::new(AtomicBool::new(true));
    let flag = alive.clone();
    let fail_next = Arc::new(AtomicBool::new(false));
    let fault = fail_next.clone();
    let writable = Arc::new(AtomicBool::new(true));
    let commits_ok = writable.clone();
    let thread = std::thread::Builder::new()
        .name("store-writer".into())
        .spawn(move || {
            Writer {
                db,
                published,
                seq,
                mail_seq: mail_published.load(Ordering::Acquire),
                mail_queued,
                mail_published,
                wake,
                hooks,
                fail_next: fault,
                writable: commits_ok,
            }
            .run(rx);
            flag.store(false, Ordering::Release);
        })
        .expect("spawn store writer thread");
    Handle {
        tx: Mutex::new(Some(tx)),
        thread: Mutex::new(Some(thread)),
        alive,
        fail_next,
        writable,
    }
}

struct Writer {
    db: Arc<Database>,
    published: Arc<ArcSwap<State>>,
    /// Sequence number of the last activity entry committed.
    seq: u64,
    /// Number of the last email committed to the outbox.
    mail_seq: u64,
    /// Wakes mail delivery after a commit that queued emails.
    mail_queued: Arc<tokio::sync::Notify>,
    /// The last email number whose commit's state is published: delivery
    /// reads no further, so it never judges an email (is its recipient
    /// still there?) by a state older than the email.
    mail_published: Arc<AtomicU64>,
    /// Signalled after a commit that wrote activity entries (the log drain).
    wake: Arc<super::Wake>,
    hooks: super::Hooks,
    fail_next: Arc<AtomicBool>,
    writable: Arc<AtomicBool>,
}

impl Writer {
    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        let mut committed: State = (*self.published.load_full()).clone();
        let mut closing = false;
        while !closing {
            let Ok(first) = rx.recv() else { break };
            let mut batch = Vec::new();
            match first {
                Msg::Job(j) => batch.push(j),
                Msg::Close => break,
            }
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(Msg::Job(j)) => batch.push(j),
                    Ok(Msg::Close) => {
                        closing = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            committed = self.commit_batch(committed, batch);
        }
    }

    /// Decides each job against the working state, persists what the accepted
    /// ones touched, and returns the new committed state.
    fn commit_batch(&mut self, committed: State, batch: Vec<Job>) -> State {
        let mut working = committed.clone();
        let mut keys = BTreeSet::new();
        let mut activity = Vec::new();
        let mut notices = Vec::new();
        let mut mail = Vec::new();
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        for job in batch {
            // Each command runs in a transaction that remembers what it
            // replaced, so that a refusal or a panic undoes it. (A copy of
            // the state per command cost more than anything else here: it
            // made every later insert of the batch copy its path again.)
            let mut tx = Tx::recording(&mut working, job.now, job.actor);
            let outcome = catch_unwind(AssertUnwindSafe(|| (job.run)(&mut tx)));
            match outcome {
                Ok((true, done)) => {
                    let settled = tx.take_mail_changes();
                    let (touched, entries, mails) = tx.finish_all();
                    keys.extend(touched);
                    activity.extend(entries);
                    notices.extend(mails);
                    mail.extend(settled);
                    completions.push(done);
                }
                Ok((false, done)) => {
                    tx.rollback();
                    completions.push(done);
                }
                Err(_) => {
                    // The reply channel went down with the panicking closure;
                    // its caller sees `Closed`. The change is undone.
                    tracing::error!("a command panicked; its change was discarded");
                    tx.rollback();
                }
            }
        }
        if keys.is_empty() && activity.is_empty() && notices.is_empty() && mail.is_empty() {
            completions.into_iter().for_each(|c| c(None));
            return working;
        }
        let queued_mail = !notices.is_empty();
        let wrote_activity = !activity.is_empty();
        let persisted = self.persist(&working, &keys, activity, notices, &mail);
        self.writable.store(persisted.is_ok(), Ordering::Release);
        match persisted {
            Ok(()) => {
                self.published.store(Arc::new(working.clone()));
                self.mail_published.store(self.mail_seq, Ordering::Release);
                self.run_hooks(&working, &keys);
                if wrote_activity {
                    self.wake.notify();
                }
                if queued_mail {
                    self.mail_queued.notify_one();
                }
                completions.into_iter().for_each(|c| c(None));
                working
            }
            Err(e) => {
                tracing::error!(error = %e, "commit failed; the batch was rolled back");
                completions.into_iter().for_each(|c| c(Some(e.clone())));
                committed
            }
        }
    }

    /// Lets derived views (the authorization index) catch up before any
    /// caller hears its answer. A panicking hook is logged and skipped: the
    /// commit is durable and must still be answered.
    fn run_hooks(&self, state: &State, keys: &BTreeSet<Key>) {
        let hooks = self.hooks.read().unwrap_or_else(|p| p.into_inner()).clone();
        for hook in hooks {
            if catch_unwind(AssertUnwindSafe(|| hook(state, keys))).is_err() {
                tracing::error!("a commit hook panicked");
            }
        }
    }

    fn persist(
        &mut self,
        state: &State,
        keys: &BTreeSet<Key>,
        activity: Vec<Activity>,
        notices: Vec<Notice>,
        mail: &[MailChange],
    ) -> Result<(), CommitError> {
        let err = |e: &dyn std::fmt::Display| CommitError::Storage(e.to_string());
        let mut txn = self.db.begin_write().map_err(|e| err(&e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| err(&e))?;
        let mut seq = self.seq;
        let mut queued_upto = None;
        {
            let mut meta = txn.open_table(META).map_err(|e| err(&e))?;
            let mut users = txn.open_table(USERS).map_err(|e| err(&e))?;
            let mut creds = txn.open_table(CREDENTIALS).map_err(|e| err(&e))?;
            let mut links = txn.open_table(ACTIVATION_LINKS).map_err(|e| err(&e))?;
            let mut units = txn.open_table(UNITS).map_err(|e| err(&e))?;
            let mut sessions = txn.open_table(SESSIONS).map_err(|e| err(&e))?;
            for key in keys {
                match key {
                    Key::Subscription => match &state.subscription {
                        Some(s) => meta.insert(KEY_SUBSCRIPTION, codec::encode(s).as_slice()),
                        None => meta.remove(KEY_SUBSCRIPTION),
                    }
                    .map(drop),
                    Key::User(id) => put_or_remove(&mut users, id, state.users.get(id)),
                    Key::Credentials(id) => {
                        put_or_remove(&mut creds, id, state.credentials.get(id))
                    }
                    Key::ActivationLink(h) => {
                        put_or_remove(&mut links, h, state.activation_links.get(h))
                    }
                    Key::Unit(id) => put_or_remove(&mut units, id, state.units.get(id)),
                    Key::Settings => meta
                        .insert(KEY_SETTINGS, codec::encode(&state.settings).as_slice())
                        .map(drop),
                    Key::Session(h) => put_or_remove(&mut sessions, h, state.sessions.get(h)),
                    Key::Assets
                    | Key::UnitAssets(_)
                    | Key::Appliance(_)
                    | Key::AssetGroup(_)
                    | Key::DistributionGroup(_)
                    | Key::Object(_)
                    | Key::Service(_) => {
                        super::organisation::persist(&txn, state, key).map_err(|e| err(&e))?;
                        Ok(())
                    }
                }
                .map_err(|e| err(&e))?;
            }
            if !activity.is_empty() {
                let mut outbox = txn.open_table(ACTIVITY_OUTBOX).map_err(|e| err(&e))?;
                for entry in activity {
                    seq += 1;
                    let rec = ActivityRecord { seq, entry };
                    outbox
                        .insert(seq, codec::encode(&rec).as_slice())
                        .map_err(|e| err(&e))?;
                }
                meta.insert(KEY_ACTIVITY_SEQ, seq.to_le_bytes().as_slice())
                    .map_err(|e| err(&e))?;
            }
            if !notices.is_empty() {
                let mut outbox = txn.open_table(MAIL_OUTBOX).map_err(|e| err(&e))?;
                let mut mail_seq = meta
                    .get(KEY_MAIL_SEQ)
                    .map_err(|e| err(&e))?
                    .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
                    .unwrap_or(0);
                for notice in notices {
                    mail_seq += 1;
                    outbox
                        .insert(mail_seq, codec::encode(&notice).as_slice())
                        .map_err(|e| err(&e))?;
                }
                meta.insert(KEY_MAIL_SEQ, mail_seq.to_le_bytes().as_slice())
                    .map_err(|e| err(&e))?;
                queued_upto = Some(mail_seq);
            }
        }
        super::mail::apply(&txn, mail).map_err(|e| err(&e))?;
        if self.fail_next.swap(false, Ordering::AcqRel) {
            // Dropping the transaction aborts it, as a failed commit would.
            return Err(CommitError::Storage("injected fault".into()));
        }
        txn.commit()
            .map_err(|e| CommitError::Unconfirmed(e.to_string()))?;
        self.seq = seq;
        if let Some(m) = queued_upto {
            self.mail_seq = m;
        }
        Ok(())
    }
}

fn put_or_remove<T: Record>(
    table: &mut redb::Table<'_, &'static str, &'static [u8]>,
    key: &str,
    value: Option<&T>,
) -> Result<(), redb::StorageError> {
    match value {
        Some(v) => table.insert(key, codec::encode(v).as_slice()).map(drop),
        None => table.remove(key).map(drop),
    }
}
