//! Durable storage: one redb file, `<data>/bailiwick.redb`, holding every
//! record of the subscription, loaded whole into memory at start.
//!
//! The one thing to know before changing it: all writes go through
//! [`Store::write`]. A single writer thread decides commands against the
//! in-memory [`State`], persists the keys they touched in one redb
//! transaction with `Durability::Immediate` (fsync), and only then publishes
//! the new state and answers the callers. Commands that arrive together share
//! a transaction (group commit); none is acknowledged before it is durable.
//!
//! ```no_run
//! # async fn demo(store: bailiwick::store::Store) {
//! use bailiwick::domain::Actor;
//! let name = store
//!     .write(Actor::operator(), |tx| Ok(tx.state().subscription.clone()))
//!     .await;
//! # }
//! ```

mod activity;
#[cfg(test)]
mod atomicity_tests;
pub mod backup;
pub mod codec;
#[cfg(test)]
pub(crate) mod fault_tests;
#[cfg(test)]
pub(crate) mod faults;
pub mod mail;
pub mod migrate;
mod organisation;
pub mod records;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use crate::clock::Clock;
use crate::domain::{Actor, Key, Refusal, State, Tx};
use codec::Record;
use records::*;

pub use activity::{ActivityStatus, OutboxError, OutboxSnapshot, Wake};

pub const DB_FILE: &str = "bailiwick.redb";

/// Why the database could not be opened. Each says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "{path} is in use by another bailiwick process; stop it first (or use `bailiwick ctl` to talk to it)"
    )]
    Locked { path: PathBuf },
    #[error("{path} is damaged: {detail}; restore it from a backup with `bailiwick restore`")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} was written by a newer bailiwick (schema {found}; this build reads up to {supported}); run the newer version or restore an older backup"
    )]
    NewerVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error(
        "{path} is not a bailiwick database ({detail}); point --data-dir at a bailiwick data directory"
    )]
    Foreign { path: PathBuf, detail: String },
    #[error(
        "{path} is missing but {dir} holds other bailiwick data ({found}); refusing to start empty over it — restore the database or move the directory away"
    )]
    MissingWithData {
        path: PathBuf,
        dir: PathBuf,
        found: String,
    },
    #[error("{path}: {source}")]
    Migrate {
        path: PathBuf,
        source: migrate::MigrateError,
    },
    #[error("cannot open {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Why an accepted command was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// Failed before the commit began: nothing of it was kept.
    #[error("storage write failed: {0}")]
    Storage(String),
    /// The commit itself failed (an `fsync` reported an error): its bytes
    /// may be in the file, so whether it was kept is known only once the
    /// database is opened anew. Every later write is refused until then.
    #[error("storage commit failed, the change may or may not be kept: {0}")]
    Unconfirmed(String),
    #[error("storage is closed")]
    Closed,
    #[error("internal error while applying the change")]
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Unavailable(#[from] CommitError),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub cache_size: usize,
    /// Create the database when the file is missing (and nothing else is there).
    pub create: bool,
    /// Test builds: I/O errors to inject under the database file.
    #[cfg(test)]
    pub faults: Option<Arc<faults::Faults>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cache_size: 64 << 20,
            create: false,
            #[cfg(test)]
            faults: None,
        }
    }
}

/// Called on the writer thread after each durable commit, with the state
/// just published and the keys the commit touched, before any caller of
/// that commit hears its answer: a derived view kept up to date by it is
/// read-your-writes consistent.
pub type CommitHook = Arc<dyn Fn(&State, &std::collections::BTreeSet<Key>) + Send + Sync>;
type Hooks = Arc<std::sync::RwLock<Vec<CommitHook>>>;

/// A handle to the open store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    path: PathBuf,
    published: Arc<ArcSwap<State>>,
    writer: writer::Handle,
    clock: Arc<dyn Clock>,
    /// Signalled after a commit that queued emails (R12.1).
    mail_queued: Arc<tokio::sync::Notify>,
    /// How many times the operator asked for every pending email now.
    mail_flushes: std::sync::atomic::AtomicU64,
    /// The last outbox number whose commit is in the published state.
    mail_published: Arc<std::sync::atomic::AtomicU64>,
    /// Wakes the activity drain after commits with activity entries.
    activity_wake: Arc<Wake>,
    activity_status: ActivityStatus,
    hooks: Hooks,
}

impl Store {
    /// Opens (or with `options.create`, creates) `<dir>/bailiwick.redb`.
    pub fn open(dir: &Path, options: &Options, clock: Arc<dyn Clock>) -> Result<Store, OpenError> {
        let path = dir.join(DB_FILE);
        let db = open_db(dir, &path, options)?;
        let state = load(&db, &path)?;
        let seq = read_seq(&db, &path, KEY_ACTIVITY_SEQ)?;
        let mail_published = Arc::new(std::sync::atomic::AtomicU64::new(read_mail_upto(
            &db, &path,
        )?));
        let db = Arc::new(db);
        let published = Arc::new(ArcSwap::from_pointee(state));
        let mail_queued = Arc::new(tokio::sync::Notify::new());
        let activity_wake = Arc::new(Wake::default());
        let hooks = Hooks::default();
        let writer = writer::spawn(
            db.clone(),
            published.clone(),
            seq,
            mail_queued.clone(),
            mail_published.clone(),
            activity_wake.clone(),
            hooks.clone(),
        );
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                path,
                published,
                writer,
                clock,
                mail_queued,
                mail_flushes: std::sync::atomic::AtomicU64::new(0),
                mail_published,
                activity_wake,
                activity_status: ActivityStatus::default(),
                hooks,
            }),
        })
    }

    /// The last committed state. Never blocks, never touches disk.
    pub fn snapshot(&self) -> Arc<State> {
        self.inner.published.load_full()
    }

    /// Registers `hook` to run after every later commit (see [`CommitHook`]).
    /// Register before reading the snapshot a view starts from, so that no
    /// commit falls between the two.
    pub fn on_commit(&self, hook: CommitHook) {
        self.inner
            .hooks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(hook);
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Runs `command` on the writer and waits until its change is durable.
    /// A refusal changes nothing.
    pub async fn write<T, F>(&self, actor: Actor, command: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send + 'static,
    {
        let rx = self.submit(actor, command)?;
        rx.await
            .unwrap_or(Err(WriteError::Unavailable(CommitError::Closed)))
    }

    /// [`Store::write`] for code outside the async runtime (the command line).
    pub fn write_blocking<T, F>(&self, actor: Actor, command: F) -> Result<T, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send + 'static,
    {
        let rx = self.submit(actor, command)?;
        rx.blocking_recv()
            .unwrap_or(Err(WriteError::Unavailable(CommitError::Closed)))
    }

    fn submit<T, F>(
        &self,
        actor: Actor,
        command: F,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<T, WriteError>>, WriteError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send + 'static,
    {
        let (reply, rx) = tokio::sync::oneshot::channel();
        let now = self.inner.clock.now();
        self.inner
            .writer
            .submit(writer::Job::new(actor, now, command, reply))
            .map_err(|_| WriteError::Unavailable(CommitError::Closed))?;
        Ok(rx)
    }

    /// Makes the next commit fail after writing its tables (tests of R7.6).
    #[cfg(test)]
    pub(crate) fn fail_next_commit(&self) {
        self.inner.writer.fail_next_commit();
    }

    /// Writes an online, consistent copy of the database to `out`.
    pub fn backup(&self, out: &Path) -> Result<backup::Summary, backup::BackupError> {
        backup::write(&self.inner.db, out, &|_| Ok(Vec::new()))
    }

    /// [`Store::backup`] with files from outside the database, chosen once
    /// the copied transaction's last activity sequence number is known.
    pub fn backup_with(
        &self,
        out: &Path,
        files: backup::FilesUpTo<'_>,
    ) -> Result<backup::Summary, backup::BackupError> {
        backup::write(&self.inner.db, out, files)
    }

    /// Whether the database answers a read and the last commit succeeded
    /// (for `/readyz`).
    pub fn ready(&self) -> bool {
        self.inner.writer.alive()
            && self.inner.writer.writable()
            && self
                .inner
                .db
                .begin_read()
                .is_ok_and(|t| t.open_table(META).is_ok())
    }

    /// Stops the writer after the commands already queued, and waits for it.
    pub fn close(&self) {
        self.inner.writer.close();
    }

    /// Number of emails waiting for delivery.
    pub fn mail_backlog(&self) -> u64 {
        self.inner
            .db
            .begin_read()
            .ok()
            .and_then(|t| t.open_table(MAIL_OUTBOX).ok())
            .and_then(|t| redb::ReadableTableMetadata::len(&t).ok())
            .unwrap_or(0)
    }

    /// Number of emails given up on (R12.1).
    pub fn mail_failed_count(&self) -> u64 {
        mail::failed_count(&self.inner.db)
    }

    /// Up to `limit` emails waiting for delivery after `after`, oldest first.
    pub fn mail_pending(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<mail::PendingMail>, mail::MailReadError> {
        mail::pending(&self.inner.db, after, limit)
    }

    /// Emails given up on, oldest first.
    pub fn mail_failed(&self, limit: usize) -> Result<Vec<mail::FailedMail>, mail::MailReadError> {
        mail::failed(&self.inner.db, limit)
    }

    /// Resolves once a commit has queued an email since the last call (a
    /// permit is kept, so a commit between two waits is not missed).
    pub fn mail_queued(&self) -> Arc<tokio::sync::Notify> {
        self.inner.mail_queued.clone()
    }

    /// `ctl mail flush`: asks delivery to try every pending email now,
    /// whatever its backoff says.
    pub fn flush_mail(&self) {
        self.inner
            .mail_flushes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.mail_queued.notify_one();
    }

    /// The last outbox number whose commit's state is published: read it
    /// before [`Store::snapshot`], and that snapshot knows every email up to
    /// it (the recipient of a registration, say). Emails past it are
    /// committed but not yet published; a wake follows their publication.
    pub fn mail_published_upto(&self) -> u64 {
        self.inner
            .mail_published
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// How many flushes were asked for since the store opened.
    pub fn mail_flushes(&self) -> u64 {
        self.inner
            .mail_flushes
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Number of activity entries committed but not yet in a segment file.
    pub fn activity_backlog(&self) -> u64 {
        self.inner
            .db
            .begin_read()
            .ok()
            .and_then(|t| t.open_table(ACTIVITY_OUTBOX).ok())
            .and_then(|t| redb::ReadableTableMetadata::len(&t).ok())
            .unwrap_or(0)
    }
}

fn open_db(dir: &Path, path: &Path, options: &Options) -> Result<Database, OpenError> {
    let io = |source| OpenError::Io {
        path: path.to_owned(),
        source,
    };
    let exists = path.try_exists().map_err(io)?;
    if !exists {
        if let Some(found) = other_data(dir) {
            return Err(OpenError::MissingWithData {
                path: path.to_owned(),
                dir: dir.to_owned(),
                found,
            });
        }
        if !options.create {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no database here; run `bailiwick init` or `bailiwick serve` first",
            )));
        }
    }
    let mut builder = redb::Builder::new();
    builder.set_cache_size(options.cache_size);
    // redb asserts on some impossible states in debug builds; a damaged file
    // must give an error, not kill the process.
    let opened = quietly(|| {
        #[cfg(test)]
        if let Some(faults) = &options.faults {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|e| redb::DatabaseError::Storage(redb::StorageError::Io(e)))?;
            return builder.create_with_backend(faults::Backend::new(file, faults.clone())?);
        }
        if exists {
            builder.open(path)
        } else {
            builder.create(path)
        }
    })
    .map_err(|_| OpenError::Corrupt {
        path: path.to_owned(),
        detail: "the file's structure is inconsistent".into(),
    })?;
    let db = opened.map_err(|e| map_db_error(path, e))?;
    if !exists {
        init_meta(&db).map_err(|detail| OpenError::Corrupt {
            path: path.to_owned(),
            detail,
        })?;
        crate::fsutil::sync_dir(dir).map_err(io)?;
    }
    check_meta_and_migrate(&db, path)?;
    Ok(db)
}

/// Runs `f`, turning a panic into `Err` without printing a backtrace: used
/// only while opening, before any other thread of ours runs.
fn quietly<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result
}

/// Names what else lives in `dir` that a fresh database would orphan.
fn other_data(dir: &Path) -> Option<String> {
    let activity = dir.join("activity");
    let has_segments = std::fs::read_dir(&activity)
        .map(|mut d| d.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "seg"))))
        .unwrap_or(false);
    has_segments.then(|| format!("activity log segments in {}", activity.display()))
}

fn map_db_error(path: &Path, e: redb::DatabaseError) -> OpenError {
    use redb::{DatabaseError as D, StorageError as S};
    let path = path.to_owned();
    if e.to_string().to_lowercase().contains("magic number") {
        return OpenError::Foreign {
            path,
            detail: "not a redb file".into(),
        };
    }
    match e {
        D::DatabaseAlreadyOpen | D::LockProtocolMismatch => OpenError::Locked { path },
        D::UpgradeRequired(v) => OpenError::Foreign {
            path,
            detail: format!("redb file format {v}, older than this build reads"),
        },
        D::Storage(S::Io(source)) => OpenError::Io { path, source },
        other => OpenError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

fn init_meta(db: &Database) -> Result<(), String> {
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut meta = txn.open_table(META).map_err(|e| e.to_string())?;
        meta.insert(KEY_APPLICATION, APPLICATION)
            .map_err(|e| e.to_string())?;
        meta.insert(KEY_SCHEMA, migrate::CURRENT.to_le_bytes().as_slice())
            .map_err(|e| e.to_string())?;
        for t in KEYED_TABLES.into_iter().filter(|t| t.name() != META.name()) {
            txn.open_table(t).map_err(|e| e.to_string())?;
        }
        txn.open_table(ACTIVITY_OUTBOX).map_err(|e| e.to_string())?;
        txn.open_table(MAIL_OUTBOX).map_err(|e| e.to_string())?;
    }
    txn.commit().map_err(|e| e.to_string())
}

fn check_meta_and_migrate(db: &Database, path: &Path) -> Result<(), OpenError> {
    let corrupt = |detail: String| OpenError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let foreign = |detail: &str| OpenError::Foreign {
        path: path.to_owned(),
        detail: detail.into(),
    };
    let read = db.begin_read().map_err(|e| corrupt(e.to_string()))?;
    let meta = match read.open_table(META) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => {
            return Err(foreign("a redb database without bailiwick's tables"));
        }
        Err(e) => return Err(corrupt(e.to_string())),
    };
    let app = meta
        .get(KEY_APPLICATION)
        .map_err(|e| corrupt(e.to_string()))?;
    if app.as_ref().map(|v| v.value()) != Some(APPLICATION) {
        return Err(foreign("a redb database of another application"));
    }
    let version = meta
        .get(KEY_SCHEMA)
        .map_err(|e| corrupt(e.to_string()))?
        .and_then(|v| v.value().try_into().ok().map(u32::from_le_bytes))
        .ok_or_else(|| corrupt("schema version missing".into()))?;
    drop(meta);
    drop(read);
    if version > migrate::CURRENT {
        return Err(OpenError::NewerVersion {
            path: path.to_owned(),
            found: version,
            supported: migrate::CURRENT,
        });
    }
    migrate::run(db, version, migrate::CURRENT, migrate::STEPS).map_err(|source| {
        OpenError::Migrate {
            path: path.to_owned(),
            source,
        }
    })?;
    Ok(())
}

fn load(db: &Database, path: &Path) -> Result<State, OpenError> {
    let corrupt = |detail: String| OpenError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let read = db.begin_read().map_err(|e| corrupt(e.to_string()))?;
    let mut state = State::default();
    {
        let meta = read.open_table(META).map_err(|e| corrupt(e.to_string()))?;
        if let Some(v) = meta
            .get(KEY_SUBSCRIPTION)
            .map_err(|e| corrupt(e.to_string()))?
        {
            state.subscription = Some(
                codec::decode(v.value()).map_err(|e| corrupt(format!("meta/subscription: {e}")))?,
            );
        }
        // Written by the writer on `Key::Settings`; without it a restart
        // would silently return every setting to its default.
        if let Some(v) = meta.get(KEY_SETTINGS).map_err(|e| corrupt(e.to_string()))? {
            state.settings =
                codec::decode(v.value()).map_err(|e| corrupt(format!("meta/settings: {e}")))?;
        }
    }
    for (id, user) in load_table::<crate::domain::User>(&read, USERS, path)? {
        state.logins.insert(user.login.to_lowercase(), id.clone());
        state.users.insert(id, user);
    }
    for (id, c) in load_table(&read, CREDENTIALS, path)? {
        state.credentials.insert(id, c);
    }
    for (id, l) in load_table(&read, ACTIVATION_LINKS, path)? {
        state.activation_links.insert(id, l);
    }
    for (id, u) in load_table(&read, UNITS, path)? {
        state.units.insert(id, u);
    }
    for (h, s) in load_table(&read, SESSIONS, path)? {
        state.sessions.insert(h, s);
    }
    organisation::load(&read, path, &mut state)?;
    Ok(state)
}

fn load_table<T: Record>(
    read: &redb::ReadTransaction,
    def: TableDefinition<&str, &[u8]>,
    path: &Path,
) -> Result<Vec<(String, T)>, OpenError> {
    let corrupt = |detail: String| OpenError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let table = match read.open_table(def) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(corrupt(e.to_string())),
    };
    let mut out = Vec::new();
    for row in table.iter().map_err(|e| corrupt(e.to_string()))? {
        let (k, v) = row.map_err(|e| corrupt(e.to_string()))?;
        let value = codec::decode(v.value())
            .map_err(|e| corrupt(format!("{}/{}: {e}", def.name(), k.value())))?;
        out.push((k.value().to_owned(), value));
    }
    Ok(out)
}

/// The highest email number in the database, all of it in the state just
/// loaded: the counter, or a higher outbox entry should one ever be there
/// (it would otherwise never be read).
fn read_mail_upto(db: &Database, path: &Path) -> Result<u64, OpenError> {
    let counted = read_seq(db, path, KEY_MAIL_SEQ)?;
    let read = db.begin_read().map_err(|e| OpenError::Corrupt {
        path: path.to_owned(),
        detail: e.to_string(),
    })?;
    let last = read
        .open_table(MAIL_OUTBOX)
        .ok()
        .and_then(|t| t.last().ok().flatten().map(|(k, _)| k.value()))
        .unwrap_or(0);
    Ok(counted.max(last))
}

fn read_seq(db: &Database, path: &Path, key: &str) -> Result<u64, OpenError> {
    let corrupt = |detail: String| OpenError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let read = db.begin_read().map_err(|e| corrupt(e.to_string()))?;
    let meta = read.open_table(META).map_err(|e| corrupt(e.to_string()))?;
    Ok(meta
        .get(key)
        .map_err(|e| corrupt(e.to_string()))?
        .and_then(|v| v.value().try_into().ok().map(u64::from_le_bytes))
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn open(dir: &Path) -> Store {
        let opts = Options {
            create: true,
            ..Options::default()
        };
        Store::open(dir, &opts, Arc::new(SystemClock)).unwrap()
    }

    /// An acknowledged settings change is not lost by a restart (R8.2's
    /// lockout threshold lives here).
    #[test]
    fn settings_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut settings = store.snapshot().settings.clone();
        settings.security.lockout_threshold = 42;
        let wanted = settings.clone();
        store
            .write_blocking(Actor::operator(), move |tx| {
                tx.put_settings(settings);
                Ok(())
            })
            .unwrap();
        store.close();
        drop(store);
        let s = open(dir.path()).snapshot();
        assert_eq!(s.settings, wanted);
        assert_eq!(s.settings.security.lockout_threshold, 42);
    }
}
