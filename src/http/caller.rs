//! Who is calling: the `Caller` extractor resolves `Authorization: Bearer`
//! (a session token) or `Basic` (API access, R8.1) to the user behind it.
//!
//! The one thing to know: every failure is the same 401 `unauthenticated`
//! (R8.4); a handler that takes a `Caller` never runs for anyone else. An
//! expired password opens only the change endpoint (R8.5).

use std::net::IpAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};

use super::App;
use super::problem::ApiError;
use crate::auth::service::{LoginError, Origin};
use crate::domain::{Actor, State, Timestamp, User, UserStatus};

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// Hash of the session token used, `None` for HTTP Basic.
    pub session: Option<String>,
    pub ip: Option<IpAddr>,
    /// Whether the request came with HTTP Basic (API access, R8.1).
    pub basic: bool,
    /// A service account acting for `user` (`Bailiwick-On-Behalf-Of`): the
    /// user's rules apply, the log names the service.
    pub service: Option<String>,
}

impl Caller {
    /// The actor to record in activity entries (R11.1).
    pub fn actor(&self) -> Actor {
        Actor {
            user: Some(self.user.id.clone()),
            login: match &self.service {
                Some(name) => format!("{}{name}", crate::domain::services::SERVICE_PREFIX),
                None => self.user.login.clone(),
            },
            business_unit: self.user.business_unit.clone(),
            ip: self.ip,
        }
    }
}

/// The client address of a request: the connection's, or the one a trusted
/// proxy forwarded.
pub fn peer_ip(parts: &Parts) -> Option<IpAddr> {
    ip_of(&parts.extensions)
}

/// [`peer_ip`] of a whole request.
pub fn request_ip(req: &axum::extract::Request) -> Option<IpAddr> {
    ip_of(req.extensions())
}

fn ip_of(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    if let Some(c) = extensions.get::<super::server::ClientAddr>() {
        return Some(c.0);
    }
    extensions
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

/// `Authorization: Basic base64(login:password)`.
fn basic(parts: &Parts) -> Option<(String, String)> {
    use base64::Engine;
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (login, password) = text.split_once(':')?;
    Some((login.to_owned(), password.to_owned()))
}

pub fn user_agent(parts: &Parts) -> String {
    parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .chars()
        .take(256)
        .collect()
}

impl FromRequestParts<App> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, ApiError> {
        let ip = peer_ip(parts);
        if super::services::service_of(parts, &app.store.snapshot(), app).is_some() {
            // A valid secret is told why, so that a service's author can fix
            // the call; an invalid one is the same 401 as any other.
            return Err(ApiError::forbidden(
                "service accounts may not use this endpoint; they check, introspect, register objects and notify, as their scopes say",
            ));
        }
        let caller = if let Some(token) = bearer(parts) {
            let hash = crate::ids::token_hash(token);
            let state = app.store.snapshot();
            let now = app.clock.now();
            let user =
                session_user(&state, &hash, now, app).ok_or_else(ApiError::unauthenticated)?;
            app.sessions.touch(&hash, now);
            Caller {
                user,
                session: Some(hash),
                ip,
                basic: false,
                service: None,
            }
        } else if let Some((login, password)) = basic(parts) {
            let origin = Origin {
                ip,
                user_agent: user_agent(parts),
                api: true,
            };
            let user = app
                .auth
                .login_basic(&app.store, &login, &password, &origin)
                .await
                .map_err(login_error)?;
            Caller {
                user,
                session: None,
                ip,
                basic: true,
                service: None,
            }
        } else {
            return Err(ApiError::unauthenticated());
        };
        let state = app.store.snapshot();
        if crate::domain::credentials::password_expired(&state, &caller.user, app.clock.now())
            && !change_allowed(parts)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "password_change_required",
                "your password has expired; set a new one with PUT /api/v1/me/password",
            ));
        }
        Ok(caller)
    }
}

/// What an expired password still opens: the change itself, logout, and `me`.
fn change_allowed(parts: &Parts) -> bool {
    let path = parts.uri.path();
    (parts.method == Method::PUT && path == "/api/v1/me/password")
        || (parts.method == Method::DELETE && path == "/api/v1/session")
        || (parts.method == Method::GET && path == "/api/v1/me")
}

/// The active user behind a live session, if any.
pub(crate) fn session_user(state: &State, hash: &str, now: Timestamp, app: &App) -> Option<User> {
    session_deadline(state, hash, now, app).map(|(u, _)| u.clone())
}

/// The active user behind a live session, and when the session ends if it
/// is not used again: the earlier of its idle and absolute ends.
pub(crate) fn session_deadline<'s>(
    state: &'s State,
    hash: &str,
    now: Timestamp,
    app: &App,
) -> Option<(&'s User, Timestamp)> {
    let session = state.sessions.get(hash)?;
    let last = app.sessions.last_used(hash).unwrap_or(session.last_used_at);
    let deadline = session
        .expires_at
        .min(last.saturating_add(app.config.auth.session_idle.0));
    if now >= deadline {
        return None;
    }
    let user = state.users.get(&session.user)?;
    (user.status == UserStatus::Active).then_some((user, deadline))
}

/// The answer to a failed login: one 401 for every refusal (R8.4), 429 with
/// `Retry-After` for limits and a full hashing pool (R8.3).
pub fn login_error(e: LoginError) -> ApiError {
    let limited = |detail: &str, secs: u64| {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", detail);
        e.retry_after = Some(secs.max(1));
        e
    };
    match e {
        LoginError::Denied => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "login or password is wrong, or the account cannot log in",
        ),
        LoginError::RateLimited(wait) => limited(
            "too many login attempts; wait and try again",
            wait.as_secs_f64().ceil() as u64,
        ),
        LoginError::Busy => limited(
            "the server is busy checking other logins; try again shortly",
            1,
        ),
        LoginError::Refused(r) => r.into(),
        LoginError::Unavailable(w) => w.into(),
    }
}
