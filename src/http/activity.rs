//! Activity log search (docs/api.md, R11.2): a JSON page, and the same
//! search as a CSV download streamed from the log as it is read.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use utoipa::IntoParams;

use super::App;
use super::caller::Caller;
use super::export_slots::Full;
use super::extract::{ApiJson, ApiQuery};
use super::problem::{ApiError, ApiResult, Problem};
use super::services::{AuditScope, ScopedCaller};
use crate::audit::ActivityLog;
use crate::audit::query::{self, EntryView, Filter, Page, Scope};
use crate::domain::Timestamp;

/// The open activity log, put in the request extensions by the daemon.
pub struct Log(pub Arc<ActivityLog>);

impl<S: Send + Sync> FromRequestParts<S> for Log {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Log, ApiError> {
        parts
            .extensions
            .get::<Arc<ActivityLog>>()
            .cloned()
            .map(Log)
            .ok_or_else(|| ApiError::unavailable("the activity log is not open"))
    }
}

/// Search parameters; all optional, all combined.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// Actor: user id or login.
    pub(crate) user: Option<String>,
    /// Action, e.g. `login`; a trailing `*` matches a prefix (`user.*`).
    pub(crate) action: Option<String>,
    /// RFC 3339; entries at or after.
    pub(crate) since: Option<String>,
    /// RFC 3339; entries before.
    pub(crate) until: Option<String>,
    /// Source address.
    pub(crate) ip: Option<String>,
    /// Substring of the details, any case (e.g. `API`).
    pub(crate) details: Option<String>,
    /// 1 to 1000; default 100 (CSV: everything when absent).
    pub(crate) limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub(crate) cursor: Option<String>,
}

fn time(name: &str, v: &Option<String>) -> ApiResult<Option<i64>> {
    v.as_deref()
        .map(|s| {
            Timestamp::parse_rfc3339(s)
                .map(Timestamp::unix_micros)
                .ok_or_else(|| {
                    ApiError::validation(format!(
                        "{name}: {s:?} is not an RFC 3339 time; give e.g. 2026-11-25T04:00:00Z"
                    ))
                })
        })
        .transpose()
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned)
}

impl ActivityQuery {
    /// The filter, the cursor (exclusive upper sequence number) and the limit.
    fn parse(&self) -> ApiResult<(Filter, Option<u64>, Option<usize>)> {
        let ip = nonempty(&self.ip)
            .map(|s| {
                s.parse().map_err(|_| {
                    ApiError::validation(format!("ip: {s:?} is not an IPv4 or IPv6 address"))
                })
            })
            .transpose()?;
        let filter = Filter {
            user: nonempty(&self.user),
            action: nonempty(&self.action),
            since: time("since", &self.since)?,
            until: time("until", &self.until)?,
            ip,
            details: nonempty(&self.details),
        };
        let cursor = nonempty(&self.cursor)
            .map(|c| {
                query::parse_cursor(&c).ok_or_else(|| {
                    ApiError::validation("cursor: pass the next_cursor of the previous page")
                })
            })
            .transpose()?;
        let limit = match self.limit {
            None => None,
            Some(n) if (1..=query::MAX_LIMIT).contains(&(n as usize)) => Some(n as usize),
            Some(n) => {
                return Err(ApiError::validation(format!(
                    "limit: {n} is out of range; give 1 to {}",
                    query::MAX_LIMIT
                )));
            }
        };
        Ok((filter, cursor, limit))
    }
}

fn failed(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "activity search failed");
    ApiError::unavailable("the activity log cannot be read right now; try again")
}

/// Search the activity log, newest first (R11.2: Managers see every entry,
/// Unit Managers those of their unit's users, everyone else their own).
#[utoipa::path(get, path = "/api/v1/activity", tag = "activity", params(ActivityQuery),
    responses(
        (status = 200, body = Page),
        (status = 400, description = "a bad parameter, named in `detail`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Log(log): Log,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<Page>> {
    Ok(Json(search(&app, &caller.user, log, &q).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceActivity {
    /// In the scanner, report or remediation namespace, e.g.
    /// `scanner.scan_launched`.
    #[schema(example = "scanner.scan_launched")]
    pub action: String,
    /// What it was done to: 1 to 256 printable characters.
    #[schema(example = "scan 42 (nightly)")]
    pub target: String,
    /// At most 2048 printable characters on one line.
    #[serde(default)]
    pub details: String,
}

/// Record an action of another service of the appliance (scope `audit`),
/// done for the user named in `Bailiwick-On-Behalf-Of`: one entry in the
/// same log and chain, shown as that user's (R11.2) with the service as
/// `actor_login`.
#[utoipa::path(post, path = "/api/v1/activity", tag = "activity", request_body = ServiceActivity,
    responses(
        (status = 204, description = "recorded, durably"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("service" = [])))]
pub async fn record(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<AuditScope>,
    ApiJson(req): ApiJson<ServiceActivity>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), move |tx| {
            crate::domain::services::record_activity(tx, &req.action, &req.target, &req.details)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One page of the search as `user` may see it (R11.2): the API's and the
/// console's Activity.
pub(crate) async fn search(
    app: &App,
    user: &crate::domain::User,
    log: Arc<ActivityLog>,
    q: &ActivityQuery,
) -> ApiResult<Page> {
    let (filter, cursor, limit) = q.parse()?;
    let scope = Scope::of(user);
    let store = app.store.clone();
    let limit = limit.unwrap_or(query::DEFAULT_LIMIT);
    let page = tokio::task::spawn_blocking(move || {
        query::page(&log, &store, &filter, &scope, cursor, limit)
    })
    .await
    .map_err(failed)?
    .map_err(failed)?;
    Ok(page)
}

/// Bytes gathered before a chunk goes to the client.
const CHUNK: usize = 64 << 10;

type Chunk = Result<Bytes, std::io::Error>;

/// The same search as CSV (RFC 4180), newest first, streamed.
///
/// The producer runs on a blocking thread, so it must never wait on the
/// client for long: it gives up when the client has not taken a chunk for
/// `server.request_timeout`, and after `activity.export_time_limit` in all;
/// downloads at once are bounded by `activity.max_exports` (per user by
/// `activity.max_exports_per_user`). A download cut short ends with an
/// error, not a clean end, so the client cannot take it for the whole log.
#[utoipa::path(get, path = "/api/v1/activity.csv", tag = "activity", params(ActivityQuery),
    responses(
        (status = 200, description = "header `seq,time,actor,actor_login,business_unit,ip,action,target,details`, one entry a line", content_type = "text/csv"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many downloads running; `Retry-After` says when to try again", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn csv(
    State(app): State<App>,
    caller: Caller,
    Log(log): Log,
    ApiQuery(q): ApiQuery<ActivityQuery>,
) -> ApiResult<Response> {
    csv_download(&app, &caller.user, log, &q)
}

/// The CSV download of the search as `user` may see it: the API's and the
/// console's "Download CSV", under the same download limits.
pub(crate) fn csv_download(
    app: &App,
    user: &crate::domain::User,
    log: Arc<ActivityLog>,
    q: &ActivityQuery,
) -> ApiResult<Response> {
    let (filter, cursor, limit) = q.parse()?;
    let slot = app.exports.claim(&user.id).map_err(|full| {
        let detail = match full {
            Full::User => "you have a CSV download running already; finish it, then try again",
            Full::Everyone => "too many CSV downloads are running; try again shortly",
        };
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail);
        e.retry_after = Some(5);
        e
    })?;
    let scope = Scope::of(user);
    let store = app.store.clone();
    let stall = app.config.server.request_timeout.0;
    let deadline = Instant::now() + app.config.activity.export_time_limit.0;
    let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(4);
    let complete = Arc::new(AtomicBool::new(false));
    let done = complete.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let send = |c: Chunk| send_within(&runtime, &tx, c, stall, deadline);
        let mut chunk = String::from(EntryView::CSV_HEADER);
        let mut left = limit.unwrap_or(usize::MAX);
        let mut open = true;
        let result = query::newest_first(&log, &store, &filter, &scope, cursor, |e| {
            chunk.push_str(&e.csv_line());
            left -= 1;
            if chunk.len() >= CHUNK {
                let out = Bytes::from(std::mem::take(&mut chunk));
                // The client went away, stopped reading, or took too long:
                // stop reading the log.
                open = send(Ok(out)) && Instant::now() < deadline;
            }
            open && left > 0
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "activity CSV export failed midway");
            let _ = send(Err(std::io::Error::other(e.to_string())));
        } else if !open {
            tracing::info!("activity CSV export stopped: the client did not read it in time");
        } else if chunk.is_empty() || send(Ok(Bytes::from(chunk))) {
            done.store(true, Ordering::Release);
        }
    });
    let mut res = Body::new(ChannelBody { rx, complete }).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"activity.csv\""),
    );
    Ok(res)
}

/// Hands `chunk` to the response body, waiting at most `stall` for room
/// (and never past `deadline`). False when it could not.
fn send_within(
    runtime: &tokio::runtime::Handle,
    tx: &tokio::sync::mpsc::Sender<Chunk>,
    chunk: Chunk,
    stall: Duration,
    deadline: Instant,
) -> bool {
    let wait = stall.min(deadline.saturating_duration_since(Instant::now()));
    runtime
        .block_on(async { matches!(tokio::time::timeout(wait, tx.send(chunk)).await, Ok(Ok(()))) })
}

/// A response body fed by a channel: the CSV leaves as it is produced. A
/// channel closed before the producer said it was complete is an error, so
/// that the connection is cut instead of the body ending cleanly.
struct ChannelBody {
    rx: tokio::sync::mpsc::Receiver<Chunk>,
    complete: Arc<AtomicBool>,
}

impl axum::body::HttpBody for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        match std::task::ready!(self.rx.poll_recv(cx)) {
            Some(r) => Poll::Ready(Some(r.map(hyper::body::Frame::data))),
            None if self.complete.load(Ordering::Acquire) => Poll::Ready(None),
            None => Poll::Ready(Some(Err(std::io::Error::other(
                "the CSV export stopped before its end",
            )))),
        }
    }
}
