//! Who is calling: the `Caller` extractor resolves `Authorization: Bearer`
//! (a session token) to the user behind it, from the in-memory snapshot.
//!
//! The one thing to know: every failure is the same 401 `unauthenticated`
//! (R8.4); a handler that takes a `Caller` never runs for anyone else.

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;

use super::App;
use super::problem::ApiError;
use crate::domain::{Actor, State, User, UserStatus};

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// Hash of the session token used, `None` for HTTP Basic.
    pub session: Option<String>,
    pub ip: Option<IpAddr>,
    /// Whether the request came with HTTP Basic (API access, R8.1).
    pub basic: bool,
}

impl Caller {
    /// The actor to record in activity entries (R11.1).
    pub fn actor(&self) -> Actor {
        Actor {
            user: Some(self.user.id.clone()),
            login: self.user.login.clone(),
            business_unit: self.user.business_unit.clone(),
            ip: self.ip,
        }
    }
}

/// The source address of a request.
pub fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

pub fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let ip = peer_ip(parts);
        if let Some(token) = bearer(parts) {
            let hash = crate::ids::token_hash(token);
            let state = app.store.snapshot();
            let now = app.clock.now();
            let user =
                session_user(&state, &hash, now, app).ok_or_else(ApiError::unauthenticated)?;
            app.sessions.touch(&hash, now);
            return Ok(Caller {
                user,
                session: Some(hash),
                ip,
                basic: false,
            });
        }
        Err(ApiError::unauthenticated())
    }
}

/// The active user behind a live session, if any.
fn session_user(
    state: &State,
    hash: &str,
    now: crate::domain::Timestamp,
    app: &App,
) -> Option<User> {
    let session = state.sessions.get(hash)?;
    if now >= session.expires_at {
        return None;
    }
    let last = app.sessions.last_used(hash).unwrap_or(session.last_used_at);
    if now >= last.saturating_add(app.config.auth.session_idle.0) {
        return None;
    }
    let user = state.users.get(&session.user)?;
    (user.status == UserStatus::Active).then(|| user.clone())
}
