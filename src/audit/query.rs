//! Searching the activity log (R11.2): filters, the caller's scope, and a
//! newest-first walk over the outbox and the segments.
//!
//! The one thing to know: an entry is visible from the moment its change is
//! acknowledged. The walk reads the outbox snapshot *before* the segment
//! index, and the drain adds to the index *before* it deletes from the
//! outbox, so every committed entry is in one or the other (entries in both
//! are taken from the segment).

use std::net::IpAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ActivityLog;
use super::format::{self, Item, Payload, Records};
use super::index::Block;
use crate::domain::{Role, Timestamp, User};
use crate::store::{OutboxError, Store};

/// Largest page (docs/api.md: lists take at most 1000).
pub const MAX_LIMIT: usize = crate::domain::directory::MAX_LIMIT;
pub const DEFAULT_LIMIT: usize = crate::domain::directory::DEFAULT_LIMIT;

/// What to look for; every field set must match.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Actor id, or login (any case).
    pub user: Option<String>,
    /// Exact action, or a prefix ending in `*` (`user.*`).
    pub action: Option<String>,
    /// Unix microseconds, inclusive.
    pub since: Option<i64>,
    /// Unix microseconds, exclusive.
    pub until: Option<i64>,
    pub ip: Option<IpAddr>,
    /// Substring of the details, any case.
    pub details: Option<String>,
}

impl Filter {
    fn time_may_match(&self, min: i64, max: i64) -> bool {
        self.since.is_none_or(|s| max >= s) && self.until.is_none_or(|u| min < u)
    }

    pub fn matches(&self, time: i64, p: &Payload) -> bool {
        if !self.time_may_match(time, time) {
            return false;
        }
        if let Some(u) = &self.user
            && p.actor.as_deref() != Some(u.as_str())
            && !p.actor_login.eq_ignore_ascii_case(u)
        {
            return false;
        }
        if let Some(a) = &self.action {
            let ok = match a.strip_suffix('*') {
                Some(prefix) => p.action.starts_with(prefix),
                None => &p.action == a,
            };
            if !ok {
                return false;
            }
        }
        if let Some(ip) = self.ip
            && p.ip.as_deref().and_then(|s| s.parse::<IpAddr>().ok()) != Some(ip)
        {
            return false;
        }
        if let Some(d) = &self.details
            && !p.details.to_lowercase().contains(&d.to_lowercase())
        {
            return false;
        }
        true
    }
}

/// Whose entries a caller may see (R11.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Managers (and the offline command line).
    All,
    /// Unit Managers: entries whose actor was in `unit` when acting, and
    /// their own.
    Unit { unit: String, user: String },
    /// Everyone else: their own entries.
    Own { user: String },
}

impl Scope {
    pub fn of(user: &User) -> Scope {
        match (user.role, &user.business_unit) {
            (Role::Manager, _) => Scope::All,
            (Role::UnitManager, Some(unit)) => Scope::Unit {
                unit: unit.clone(),
                user: user.id.clone(),
            },
            _ => Scope::Own {
                user: user.id.clone(),
            },
        }
    }

    pub fn allows(&self, p: &Payload) -> bool {
        match self {
            Scope::All => true,
            Scope::Unit { unit, user } => {
                p.business_unit.as_deref() == Some(unit.as_str())
                    || p.actor.as_deref() == Some(user.as_str())
            }
            Scope::Own { user } => p.actor.as_deref() == Some(user.as_str()),
        }
    }
}

/// An entry as the API shows it (docs/api.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EntryView {
    pub seq: u64,
    /// RFC 3339 UTC.
    pub time: String,
    /// Acting user's id; `null` for the appliance operator and the system.
    pub actor: Option<String>,
    pub actor_login: String,
    /// The actor's business unit when acting (`null`: Unassigned).
    pub business_unit: Option<String>,
    pub ip: Option<String>,
    pub action: String,
    pub target: String,
    pub details: String,
}

impl EntryView {
    pub fn new(seq: u64, time: i64, p: Payload) -> EntryView {
        EntryView {
            seq,
            time: Timestamp::from_unix_micros(time).to_rfc3339(),
            actor: p.actor,
            actor_login: p.actor_login,
            business_unit: p.business_unit,
            ip: p.ip,
            action: p.action,
            target: p.target,
            details: p.details,
        }
    }

    pub const CSV_HEADER: &'static str =
        "seq,time,actor,actor_login,business_unit,ip,action,target,details\r\n";

    /// One CSV line (RFC 4180, CRLF).
    pub fn csv_line(&self) -> String {
        let fields = [
            self.seq.to_string(),
            self.time.clone(),
            self.actor.clone().unwrap_or_default(),
            self.actor_login.clone(),
            self.business_unit.clone().unwrap_or_default(),
            self.ip.clone().unwrap_or_default(),
            self.action.clone(),
            self.target.clone(),
            self.details.clone(),
        ];
        let mut line = fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
        line.push_str("\r\n");
        line
    }
}

/// Quotes a field when needed, and defuses text a spreadsheet would run as
/// a formula (a login or details chosen by an attacker must not execute).
fn csv_field(s: &str) -> String {
    let guarded;
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        guarded = format!("'{s}");
        guarded.as_str()
    } else {
        s
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("cannot open activity segment {path}: {source}")]
    Open {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// A block the query needed did not read (EIO): the operator learns
    /// where, as `log verify` would say it.
    #[error("cannot read activity segment {path} at byte {offset}: {source}")]
    Read {
        path: std::path::PathBuf,
        offset: u64,
        source: std::io::Error,
    },
}

/// One page of results, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page {
    pub items: Vec<EntryView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Up to `limit` entries below sequence number `below` (all when `None`).
pub fn page(
    log: &ActivityLog,
    store: &Store,
    filter: &Filter,
    scope: &Scope,
    below: Option<u64>,
    limit: usize,
) -> Result<Page, QueryError> {
    let limit = limit.clamp(1, MAX_LIMIT);
    let mut items = Vec::with_capacity(limit.min(128));
    let mut more = false;
    newest_first(log, store, filter, scope, below, |e| {
        if items.len() == limit {
            more = true;
            return false;
        }
        items.push(e);
        true
    })?;
    let next_cursor = more
        .then(|| items.last().map(|e| e.seq.to_string()))
        .flatten();
    Ok(Page { items, next_cursor })
}

/// Parses a cursor given by [`page`].
pub fn parse_cursor(s: &str) -> Option<u64> {
    s.parse().ok()
}

/// How much of the log a walk read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub blocks_read: u64,
}

/// Calls `f` on each matching entry below `below`, newest first, while it
/// returns `true`.
pub fn newest_first(
    log: &ActivityLog,
    store: &Store,
    filter: &Filter,
    scope: &Scope,
    below: Option<u64>,
    mut f: impl FnMut(EntryView) -> bool,
) -> Result<Stats, QueryError> {
    let mut stats = Stats::default();
    let below = below.unwrap_or(u64::MAX);
    // Outbox first, then the index: see the module comment.
    let outbox = store.activity_outbox()?;
    let index = log.snapshot();
    let in_segments = index.last_seq();
    let mut go_on = true;
    outbox.newest_first(below, |rec| {
        if rec.seq <= in_segments {
            return false;
        }
        let time = rec.entry.time.unix_micros();
        let p = Payload::from_activity(&rec.entry);
        if scope.allows(&p) && filter.matches(time, &p) {
            go_on = f(EntryView::new(rec.seq, time, p));
        }
        go_on
    })?;
    for seg in index.segments.iter().rev() {
        if !go_on {
            break;
        }
        if seg.first_seq >= below {
            continue;
        }
        match (seg.min_time(), seg.max_time()) {
            (Some(min), Some(max)) if filter.time_may_match(min, max) => {}
            _ => continue,
        }
        let file = match std::fs::File::open(&seg.path) {
            Ok(f) => f,
            // Deleted by retention since the snapshot: those entries are gone.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(QueryError::Open {
                    path: seg.path.clone(),
                    source,
                });
            }
        };
        for block in seg.blocks.iter().rev() {
            if block.first_seq >= below || !filter.time_may_match(block.min_time, block.max_time) {
                continue;
            }
            let bytes = read_block(&file, &seg.path, block).map_err(|source| QueryError::Read {
                path: seg.path.clone(),
                offset: block.offset,
                source,
            })?;
            stats.blocks_read += 1;
            let records: Vec<_> =
                Records::new(&bytes, block.offset, block.first_seq.saturating_sub(1))
                    .filter_map(|i| match i {
                        Item::Record(r) => Some(r),
                        _ => None,
                    })
                    .collect();
            for r in records.iter().rev() {
                if r.seq >= below || !filter.time_may_match(r.time, r.time) {
                    continue;
                }
                let Ok(p) = format::decode_payload(r.payload) else {
                    tracing::warn!(file = %seg.path.display(), seq = r.seq, "activity log: an entry's payload does not decode; skipped");
                    continue;
                };
                if scope.allows(&p) && filter.matches(r.time, &p) {
                    go_on = f(EntryView::new(r.seq, r.time, p));
                    if !go_on {
                        return Ok(stats);
                    }
                }
            }
        }
    }
    Ok(stats)
}

fn read_block(file: &std::fs::File, path: &Path, block: &Block) -> std::io::Result<Vec<u8>> {
    let len = usize::try_from(block.end.saturating_sub(block.offset))
        .map_err(|_| std::io::Error::other("block too large"))?;
    let mut buf = vec![0u8; len];
    super::disk::read_exact_at(file, path, &mut buf, block.offset)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::segment::NewRecord;

    fn p(actor: &str, unit: Option<&str>, action: &str, details: &str) -> Payload {
        Payload {
            actor: Some(actor.into()),
            actor_login: format!("login-{actor}"),
            business_unit: unit.map(str::to_owned),
            ip: Some("10.1.2.3".into()),
            action: action.into(),
            target: "t".into(),
            details: details.into(),
        }
    }

    #[test]
    fn r11_2_scopes() {
        let um = Scope::Unit {
            unit: "east".into(),
            user: "um".into(),
        };
        assert!(um.allows(&p("sc", Some("east"), "login", "")));
        assert!(!um.allows(&p("sc", Some("west"), "login", "")));
        assert!(
            um.allows(&p("um", Some("west"), "login", "")),
            "own entries from before a move"
        );
        assert!(!um.allows(&p("boss", None, "login", "")));
        let own = Scope::Own { user: "sc".into() };
        assert!(own.allows(&p("sc", Some("east"), "login", "")));
        assert!(!own.allows(&p("um", Some("east"), "login", "")));
        assert!(Scope::All.allows(&p("x", None, "a", "")));
    }

    #[test]
    fn r11_2_filters() {
        let e = p("u1", None, "user.create", "role scanner, via API");
        let f = |f: Filter| f.matches(100, &e);
        assert!(f(Filter::default()));
        assert!(f(Filter {
            user: Some("u1".into()),
            ..Filter::default()
        }));
        assert!(f(Filter {
            user: Some("LOGIN-U1".into()),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            user: Some("u2".into()),
            ..Filter::default()
        }));
        assert!(f(Filter {
            action: Some("user.create".into()),
            ..Filter::default()
        }));
        assert!(f(Filter {
            action: Some("user.*".into()),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            action: Some("user".into()),
            ..Filter::default()
        }));
        assert!(f(Filter {
            details: Some("api".into()),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            details: Some("ui".into()),
            ..Filter::default()
        }));
        assert!(f(Filter {
            ip: "10.1.2.3".parse().ok(),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            ip: "10.1.2.4".parse().ok(),
            ..Filter::default()
        }));
        assert!(f(Filter {
            since: Some(100),
            until: Some(101),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            since: Some(101),
            ..Filter::default()
        }));
        assert!(!f(Filter {
            until: Some(100),
            ..Filter::default()
        }));
    }

    /// Ten days of entries, one a minute, in segments of 256 KiB, with a
    /// store for the outbox; the records and "now" (just after the last).
    fn ten_days(dir: &Path) -> (Store, std::sync::Arc<ActivityLog>, Vec<NewRecord>, i64) {
        let options = crate::store::Options {
            create: true,
            ..crate::store::Options::default()
        };
        let store = Store::open(
            dir,
            &options,
            std::sync::Arc::new(crate::clock::SystemClock),
        )
        .unwrap();
        let (log, mut writer) = ActivityLog::open(dir).unwrap();
        writer.set_segment_size(256 << 10);
        let now = 1000 * HOUR;
        let records: Vec<NewRecord> = (1..=15_000u64)
            .map(|seq| NewRecord {
                seq,
                time: now - 250 * HOUR + seq as i64 * 60_000_000,
                payload: format::encode_payload(&p("u1", None, "login", "UI")),
            })
            .collect();
        log.extend(&writer.append(&records).unwrap());
        (store, log, records, now)
    }

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn r11_2_a_query_for_the_last_hour_reads_only_its_blocks() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, log, records, now) = ten_days(tmp.path());
        let hour = HOUR;
        let last_hour = Filter {
            since: Some(now - hour),
            ..Filter::default()
        };
        let mut seen = Vec::new();
        let stats = newest_first(&log, &store, &last_hour, &Scope::All, None, |e| {
            seen.push(e.seq);
            true
        })
        .unwrap();
        let want: Vec<u64> = records
            .iter()
            .rev()
            .filter(|r| r.time >= now - hour)
            .map(|r| r.seq)
            .collect();
        assert_eq!(seen, want);
        let blocks: usize = log.snapshot().segments.iter().map(|s| s.blocks.len()).sum();
        assert!(blocks > 100, "{blocks}");
        assert!(
            stats.blocks_read <= 2,
            "read {} of {blocks} blocks",
            stats.blocks_read
        );
        // A cursor below the newest skips what is above it the same way.
        let page = page(&log, &store, &Filter::default(), &Scope::All, Some(101), 10).unwrap();
        assert_eq!(page.items.first().map(|e| e.seq), Some(100));
        assert_eq!(page.next_cursor.as_deref(), Some("91"));
        store.close();
    }

    /// A block of an old segment that the disk cannot read (EIO): a query
    /// that needs it fails naming the file and the block, as `log verify`
    /// does (the API answers 503 and logs that); queries that stop before it
    /// or whose times skip it are answered as usual.
    #[test]
    fn r11_3_a_read_error_fails_only_the_queries_that_need_its_block() {
        let tmp = tempfile::tempdir().unwrap();
        let (store, log, records, now) = ten_days(tmp.path());
        let index = log.snapshot();
        assert!(index.segments.len() > 3, "{}", index.segments.len());
        let seg = &index.segments[1];
        let bad = &seg.blocks[seg.blocks.len() / 2];
        assert!(
            bad.max_time < now - 24 * HOUR,
            "the bad block is older than a day"
        );
        crate::audit::disk::faults::fail_reads(&seg.path, bad.offset + 1);

        let newest = page(&log, &store, &Filter::default(), &Scope::All, None, 10).unwrap();
        assert_eq!(newest.items.len(), 10);
        let last_day = Filter {
            since: Some(now - 24 * HOUR),
            ..Filter::default()
        };
        let mut seen = 0;
        newest_first(&log, &store, &last_day, &Scope::All, None, |_| {
            seen += 1;
            true
        })
        .unwrap();
        let want = records.iter().filter(|r| r.time >= now - 24 * HOUR).count();
        assert_eq!(seen, want);

        let e = newest_first(&log, &store, &Filter::default(), &Scope::All, None, |_| {
            true
        })
        .unwrap_err();
        match &e {
            QueryError::Read { path, offset, .. } => {
                assert_eq!((path, *offset), (&seg.path, bad.offset));
            }
            other => panic!("{other:?}"),
        }
        let said = e.to_string();
        assert!(
            said.contains(&seg.path.display().to_string())
                && said.contains(&format!("at byte {}", bad.offset)),
            "{said}"
        );

        crate::audit::disk::faults::heal();
        let mut all = 0;
        newest_first(&log, &store, &Filter::default(), &Scope::All, None, |_| {
            all += 1;
            true
        })
        .unwrap();
        assert_eq!(all, records.len());
        store.close();
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let v = EntryView::new(
            3,
            0,
            Payload {
                actor_login: "=cmd|calc".into(),
                details: "a, \"b\"\nc".into(),
                ..Payload::default()
            },
        );
        assert_eq!(
            v.csv_line(),
            "3,1970-01-01T00:00:00Z,,'=cmd|calc,,,,,\"a, \"\"b\"\"\nc\"\r\n"
        );
    }
}
