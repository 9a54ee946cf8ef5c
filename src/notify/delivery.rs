//! The delivery task (R12.1): drains the mail outbox in order, in batches
//! of [`BATCH`] messages sent one after another, with exponential backoff and
//! jitter between tries.
//!
//! The one thing to know: every step is settled through the store's writer,
//! two commits per batch. Before its messages leave, their tries are counted
//! durably (`Attempt`); after, each is removed (`Delivered`) or its error
//! kept (`Retry`); after `mail.max_attempts` tries, or a permanent refusal,
//! it moves to the failed records without its one-time link (`Failed`), with
//! an activity entry by actor `system`. A crash between sending and settling
//! leaves the entries pending, so they are sent again — with the same
//! `Message-ID`, which lets a relay or reader drop the duplicate (at least
//! once, with a dedup id).
//!
//! After a restart an entry tried before waits what is left of its backoff
//! by its stored last try, so restarts during a relay outage do not spend
//! tries; `ctl mail flush` sends everything pending at once.
//!
//! It sleeps until the earliest retry is due, or until a commit queues new
//! mail (the store signals a `Notify` after publishing), or until it is
//! stopped; it never polls.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use tokio::sync::watch;

use super::message::{self, Outgoing};
use super::smtp::Smtp;
use super::spool::Spool;
use super::templates::{self, Render};
use super::{SendError, SetupError};
use crate::config::{MailConfig, MailTransport};
use crate::domain::notice::{MailChange, MailTo, Notice};
use crate::domain::{Actor, LogAction, State, Timestamp};
use crate::metrics::Metrics;
use crate::store::Store;

/// Outbox entries read per page.
const PAGE: usize = 256;
/// Entries sent between two commits: one commit counts their tries, one
/// records their results. Bounds what a crash can cost: tries counted for
/// messages not yet sent, and messages sent again (same `Message-ID`).
const BATCH: usize = 16;
/// How long to wait before reading again after the store failed a read or write.
const STORE_PAUSE: Duration = Duration::from_secs(5);

/// Where messages go.
pub enum Transport {
    Spool(Spool),
    Smtp(Smtp),
}

impl Transport {
    /// The configured transport; the spool directory defaults to
    /// `<data>/outbox-spool`.
    pub fn from_config(cfg: &MailConfig, data_dir: &Path) -> Result<Transport, SetupError> {
        match cfg.transport {
            MailTransport::Spool => {
                let dir = if cfg.spool_dir.is_empty() {
                    data_dir.join("outbox-spool")
                } else {
                    Path::new(&cfg.spool_dir).to_owned()
                };
                Ok(Transport::Spool(Spool::open(&dir)?))
            }
            MailTransport::Smtp => Ok(Transport::Smtp(Smtp::from_config(cfg)?)),
        }
    }

    async fn send(&self, out: Outgoing) -> Result<(), SendError> {
        match self {
            Transport::Spool(spool) => {
                let spool = spool.clone();
                tokio::task::spawn_blocking(move || spool.write(&out).map(drop))
                    .await
                    .unwrap_or_else(|e| Err(SendError::transient(format!("spool writer: {e}"))))
            }
            Transport::Smtp(smtp) => smtp.send(&out).await,
        }
    }
}

/// What delivery needs besides the transport.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: Mailbox,
    /// Right-hand side of every `Message-ID`.
    pub domain: String,
    /// Base of one-time links.
    pub public_url: String,
    pub max_attempts: u32,
    pub retry_initial: Duration,
    pub retry_max: Duration,
}

impl Options {
    pub fn from_config(cfg: &MailConfig, public_url: String) -> Result<Options, SetupError> {
        let from = cfg.from.parse().map_err(|e| SetupError::From {
            from: cfg.from.clone(),
            detail: format!("{e}"),
        })?;
        Ok(Options {
            from,
            domain: message::domain_of(&cfg.from).to_owned(),
            public_url,
            max_attempts: cfg.max_attempts.max(1),
            retry_initial: cfg.retry_initial.0,
            retry_max: cfg.retry_max.0,
        })
    }
}

/// The wait after the `attempts`-th failed try: `initial · 2^(attempts-1)`,
/// capped at `max`, of which a random half is taken away (`jitter` in
/// [0, 1)) so that many messages failing together do not retry together.
pub fn backoff(attempts: u32, initial: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = attempts.saturating_sub(1).min(32);
    let full = initial.saturating_mul(1u32 << exp.min(31)).min(max);
    full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// What is left, at `now`, of a `wait` that began at `last_try`: both are
/// wall-clock times from before and after a restart. Never more than the
/// whole `wait`, so a clock set back cannot hold mail for longer.
pub fn resume_wait(last_try: Timestamp, now: Timestamp, wait: Duration) -> Duration {
    let elapsed = now.unix_micros().saturating_sub(last_try.unix_micros());
    let elapsed = Duration::from_micros(u64::try_from(elapsed).unwrap_or(0));
    wait.saturating_sub(elapsed)
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    crate::ids::fill_random(&mut b);
    f64::from(u32::from_le_bytes(b)) / (f64::from(u32::MAX) + 1.0)
}

/// The actor of delivery's activity entries.
pub fn system_actor() -> Actor {
    Actor {
        user: None,
        login: "system".into(),
        business_unit: None,
        ip: None,
    }
}

/// The running task.
pub struct Delivery {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Delivery {
    pub fn start(
        store: Store,
        transport: Transport,
        options: Options,
        metrics: Arc<Metrics>,
    ) -> Delivery {
        let (stop, stopped) = watch::channel(false);
        let worker = Worker {
            store,
            transport,
            options,
            metrics,
            due: HashMap::new(),
            flushes_done: 0,
        };
        Delivery {
            stop,
            task: tokio::spawn(worker.run(stopped)),
        }
    }

    /// Lets the message in hand finish (for up to `grace`), then stops.
    /// Whatever is cut short stays pending and is sent again at next start.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            abort.abort();
            tracing::warn!("mail delivery did not stop in time; the message in hand stays queued");
        }
    }
}

/// What one pass does with an entry that is due, decided before its batch's
/// first commit.
enum Prepared {
    /// Rendered and built: its try is counted, then it is sent.
    Ready {
        tries: u32,
        notice: Notice,
        out: Outgoing,
    },
    /// Not to be sent (recipient gone, link superseded).
    Discard { seq: u64, log: LogEntry },
    /// Cannot be sent at all (unreadable entry, bad address).
    GiveUp {
        seq: u64,
        notice: Option<Notice>,
        tries: u32,
        why: String,
    },
}

/// An activity entry written with a settlement: action, target, details.
type LogEntry = (LogAction, String, String);

/// What became of one entry of a batch.
enum Outcome {
    Done,
    RetryAt(Instant),
}

struct Worker {
    store: Store,
    transport: Transport,
    options: Options,
    metrics: Arc<Metrics>,
    /// When each entry that failed may be tried again, on the monotonic
    /// clock. An entry tried before this start is placed here when first
    /// seen, from its stored last try ([`resume_wait`]), so a daemon that
    /// restarts, or crash-loops, while the relay is down keeps the backoff
    /// instead of spending a try on every start.
    due: HashMap<u64, Instant>,
    /// The store's flush count when a pass last went through the outbox.
    flushes_done: u64,
}

/// The store could not read or record delivery state: pause, then retry.
struct StoreDown;

impl Worker {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let wake = self.store.mail_queued();
        self.refresh_failed_gauge();
        loop {
            let next = self.pass(&stop).await;
            if *stop.borrow() {
                break;
            }
            let sleep = async {
                match next {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = sleep => {}
                _ = stop.changed() => break,
            }
        }
        tracing::debug!("mail delivery stopped");
    }

    fn refresh_failed_gauge(&self) {
        self.metrics
            .mail_failed
            .store(self.store.mail_failed_count(), Ordering::Relaxed);
    }

    /// Tries every entry that is due, a batch at a time; returns when the
    /// next one will be.
    async fn pass(&mut self, stop: &watch::Receiver<bool>) -> Option<Instant> {
        // The operator may have sent failed entries back (`ctl mail retry`).
        self.refresh_failed_gauge();
        // After `ctl mail flush` one whole pass ignores every backoff.
        let flushes = self.store.mail_flushes();
        let flush = flushes != self.flushes_done;
        let mut after = 0;
        let mut earliest: Option<Instant> = None;
        let mut seen = HashSet::new();
        loop {
            // Read before the batches' snapshots: they know every email up
            // to it. One committed but not yet published waits for the wake
            // its publication sends.
            let upto = self.store.mail_published_upto();
            let store = self.store.clone();
            let page = tokio::task::spawn_blocking(move || store.mail_pending(after, PAGE)).await;
            let page = match page {
                Ok(Ok(p)) => p,
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot read the mail outbox; trying again shortly");
                    return Some(Instant::now() + STORE_PAUSE);
                }
                Err(e) => {
                    tracing::error!(error = %e, "mail outbox reader failed");
                    return Some(Instant::now() + STORE_PAUSE);
                }
            };
            let full = page.len() == PAGE;
            let mut batch = Vec::new();
            let mut unpublished = false;
            for p in page {
                if p.seq > upto {
                    unpublished = true;
                    break;
                }
                after = p.seq;
                seen.insert(p.seq);
                let due = match self.due.get(&p.seq) {
                    Some(t) => Some(*t),
                    None => self.resumed(&p.delivery).inspect(|t| {
                        self.due.insert(p.seq, *t);
                    }),
                };
                if let Some(t) = due
                    && t > Instant::now()
                    && !flush
                {
                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                    continue;
                }
                batch.push(p);
            }
            while !batch.is_empty() {
                if *stop.borrow() {
                    return None;
                }
                let rest = batch.split_off(batch.len().min(BATCH));
                let this = std::mem::replace(&mut batch, rest);
                match self.batch(this).await {
                    Ok(outcomes) => {
                        for (seq, outcome) in outcomes {
                            match outcome {
                                Outcome::Done => {
                                    self.due.remove(&seq);
                                }
                                Outcome::RetryAt(t) => {
                                    self.due.insert(seq, t);
                                    earliest = Some(earliest.map_or(t, |e| e.min(t)));
                                }
                            }
                        }
                    }
                    Err(StoreDown) => return Some(Instant::now() + STORE_PAUSE),
                }
            }
            if !full || unpublished {
                break;
            }
        }
        self.due.retain(|seq, _| seen.contains(seq));
        self.flushes_done = flushes;
        earliest
    }

    /// When an entry tried before this start is due: `None` for one never
    /// tried.
    fn resumed(&self, tries: &crate::store::mail::Delivery) -> Option<Instant> {
        let last = tries.last_attempt_at?;
        let wait = backoff(
            tries.attempts,
            self.options.retry_initial,
            self.options.retry_max,
            jitter(),
        );
        Some(Instant::now() + resume_wait(last, self.store.clock().now(), wait))
    }

    /// One batch in two commits: the tries counted (and what cannot be
    /// sent settled), then each message sent in order, then every result.
    async fn batch(
        &self,
        batch: Vec<crate::store::mail::PendingMail>,
    ) -> Result<Vec<(u64, Outcome)>, StoreDown> {
        let state = self.store.snapshot();
        let at = self.store.clock().now();
        let mut first = Vec::with_capacity(batch.len());
        let mut logs = Vec::new();
        let mut ready = Vec::with_capacity(batch.len());
        let mut outcomes = Vec::with_capacity(batch.len());
        for p in batch {
            match self.prepare(&state, p, at) {
                Prepared::Ready { tries, notice, out } => {
                    first.push(MailChange::Attempt { seq: out.seq, at });
                    ready.push((tries.saturating_add(1), notice, out));
                }
                Prepared::Discard { seq, log } => {
                    first.push(MailChange::Discarded { seq });
                    logs.push(log);
                    outcomes.push((seq, Outcome::Done));
                }
                Prepared::GiveUp {
                    seq,
                    notice,
                    tries,
                    why,
                } => {
                    let (change, log) = self.give_up(&state, seq, notice.as_ref(), tries, why, at);
                    first.push(change);
                    logs.push(log);
                    outcomes.push((seq, Outcome::Done));
                }
            }
        }
        let gave_up = first
            .iter()
            .filter(|c| matches!(c, MailChange::Failed { .. }))
            .count();
        // Counted before sending: a crash from here on still uses up a try.
        self.settle(first, logs).await?;
        self.count_failures(gave_up);

        let mut results = Vec::with_capacity(ready.len());
        let mut logs = Vec::new();
        let mut gave_up = 0;
        for (tries, notice, out) in ready {
            let (seq, id) = (out.seq, out.message_id.clone());
            match self.transport.send(out).await {
                Ok(()) => {
                    self.metrics.mail_sent.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(seq, message_id = %id, kind = notice.kind.as_str(), "mail delivered");
                    results.push(MailChange::Delivered { seq });
                    outcomes.push((seq, Outcome::Done));
                }
                Err(e) if e.permanent || tries >= self.options.max_attempts => {
                    let why = if e.permanent {
                        format!("refused for good: {}", e.message)
                    } else {
                        e.message
                    };
                    let now = self.store.clock().now();
                    let (change, log) = self.give_up(&state, seq, Some(&notice), tries, why, now);
                    results.push(change);
                    logs.push(log);
                    gave_up += 1;
                    outcomes.push((seq, Outcome::Done));
                }
                Err(e) => {
                    self.metrics.mail_retries.fetch_add(1, Ordering::Relaxed);
                    let wait = backoff(
                        tries,
                        self.options.retry_initial,
                        self.options.retry_max,
                        jitter(),
                    );
                    tracing::warn!(seq, tries, error = %e.message, retry_in = ?wait, "mail not delivered; will retry");
                    results.push(MailChange::Retry {
                        seq,
                        error: e.message,
                    });
                    outcomes.push((seq, Outcome::RetryAt(Instant::now() + wait)));
                }
            }
        }
        // Sent but not recorded, on a failure here: sent again, same Message-ID.
        self.settle(results, logs).await?;
        self.count_failures(gave_up);
        Ok(outcomes)
    }

    /// Reads, renders and builds one entry.
    fn prepare(
        &self,
        state: &State,
        p: crate::store::mail::PendingMail,
        at: Timestamp,
    ) -> Prepared {
        let seq = p.seq;
        let tries = p.delivery.attempts;
        let notice = match p.notice {
            Ok(n) => n,
            Err(e) => {
                let why = format!("the stored entry cannot be read: {e}");
                return Prepared::GiveUp {
                    seq,
                    notice: None,
                    tries,
                    why,
                };
            }
        };
        let rendered = match templates::render(state, &notice, &self.options.public_url) {
            Ok(Render::Send(r)) => r,
            Ok(Render::Discard(why)) => {
                let (target, _) = describe(state, &notice);
                let details = format!(
                    "{} email (mail {seq}) not sent: {why}",
                    notice.kind.as_str()
                );
                tracing::info!(seq, reason = %why, "mail discarded");
                let log = (LogAction::MailDiscarded, target, details);
                return Prepared::Discard { seq, log };
            }
            Err(e) => {
                return Prepared::GiveUp {
                    seq,
                    notice: Some(notice),
                    tries,
                    why: e.to_string(),
                };
            }
        };
        let id = message::message_id(seq, &message::subscription_tag(state), &self.options.domain);
        let date = p.delivery.first_attempt_at.unwrap_or(at);
        match message::build(seq, id, &self.options.from, &rendered, date) {
            Ok(out) => Prepared::Ready { tries, notice, out },
            Err(e) => Prepared::GiveUp {
                seq,
                notice: Some(notice),
                tries,
                why: e.message,
            },
        }
    }

    /// Records `changes` and `logs` in one commit through the store's writer.
    async fn settle(&self, changes: Vec<MailChange>, logs: Vec<LogEntry>) -> Result<(), StoreDown> {
        if changes.is_empty() {
            return Ok(());
        }
        let result = self
            .store
            .write(system_actor(), move |tx| {
                for (action, target, details) in logs {
                    tx.log(action, target, details);
                }
                for change in changes {
                    tx.settle_mail(change);
                }
                Ok(())
            })
            .await;
        result.map_err(|e| {
            tracing::error!(error = %e, "cannot record mail delivery state");
            StoreDown
        })
    }

    /// The settlement of an entry given up on, and its activity entry.
    fn give_up(
        &self,
        state: &State,
        seq: u64,
        notice: Option<&Notice>,
        tries: u32,
        why: String,
        at: Timestamp,
    ) -> (MailChange, LogEntry) {
        let (target, kind) = match notice {
            Some(n) => describe(state, n),
            None => (format!("mail {seq}"), "unreadable"),
        };
        let details = format!("{kind} email (mail {seq}) failed after {tries} tries: {why}");
        tracing::error!(seq, tries, error = %why, "mail delivery failed; kept as failed");
        let change = MailChange::Failed {
            seq,
            error: why,
            at,
        };
        (change, (LogAction::MailFailed, target, details))
    }

    /// After the failures' commit: the counters an operator watches.
    fn count_failures(&self, n: usize) {
        if n > 0 {
            self.metrics
                .mail_failures
                .fetch_add(n as u64, Ordering::Relaxed);
            self.refresh_failed_gauge();
        }
    }
}

/// The activity target of a notice, and its kind.
pub fn describe(state: &State, n: &Notice) -> (String, &'static str) {
    let target = match &n.to {
        MailTo::User(id) => match state.users.get(id) {
            Some(u) => format!("user {}", u.login),
            None => format!("user {id}"),
        },
        MailTo::Address(a) => format!("address {a}"),
    };
    (target, n.kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r12_1_backoff_doubles_is_capped_and_jittered_downwards_only() {
        let s = Duration::from_secs;
        assert_eq!(backoff(1, s(30), s(3600), 0.0), s(30));
        assert_eq!(backoff(2, s(30), s(3600), 0.0), s(60));
        assert_eq!(backoff(4, s(30), s(3600), 0.0), s(240));
        assert_eq!(backoff(20, s(30), s(3600), 0.0), s(3600));
        assert_eq!(backoff(u32::MAX, s(30), s(3600), 0.0), s(3600));
        let most_jitter = backoff(2, s(30), s(3600), 0.999_999);
        assert!(
            most_jitter >= s(30) && most_jitter < s(31),
            "{most_jitter:?}"
        );
        for _ in 0..100 {
            let d = backoff(3, s(10), s(3600), jitter());
            assert!(d > s(20) && d <= s(40), "{d:?}");
        }
    }

    #[test]
    fn r12_1_after_a_restart_a_retry_waits_what_is_left_of_its_backoff() {
        let s = Duration::from_secs;
        let at = |secs: i64| Timestamp::from_unix_micros(secs * 1_000_000);
        let last = at(1_000_000);
        assert_eq!(resume_wait(last, at(1_000_000 + 10), s(60)), s(50));
        assert_eq!(resume_wait(last, at(1_000_000 + 60), s(60)), s(0));
        assert_eq!(resume_wait(last, at(1_000_000 + 86_400), s(60)), s(0));
        // The wall clock was set back across the restart: no longer than
        // the whole backoff, however far back.
        assert_eq!(resume_wait(last, at(1_000_000 - 3_600), s(60)), s(60));
        assert_eq!(
            resume_wait(last, Timestamp::from_unix_micros(i64::MIN), s(60)),
            s(60)
        );
    }
}
