//! Who is looking: the console's sessions are the API's sessions (R8.1),
//! carried in the cookie `__Host-bailiwick` instead of a Bearer header, and
//! every state-changing form carries a CSRF token bound to that session.
//!
//! The CSRF token is a digest of the session's own secret token, so it needs
//! no storage, lives exactly as long as the session, and is useless to anyone
//! who cannot already read the cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use crate::domain::User;
use crate::domain::access::Acting;
use crate::http::App;
use crate::http::caller::{Caller, peer_ip};

/// The session cookie. `__Host-` makes the browser refuse it unless it is
/// Secure, host-only and for `Path=/`.
pub const COOKIE: &str = "__Host-bailiwick";

/// A signed-in person, from the session cookie.
pub struct Viewer {
    pub caller: Caller,
    /// The value every form of this session carries as `csrf`.
    pub csrf: String,
    /// What the navigation shows this person.
    pub nav: Nav,
}

/// The links a role may use (UI.md: the `nav` landmark).
#[derive(Clone, Copy)]
pub struct Nav {
    pub users: bool,
    /// Business Units: those who manage users (R2) and so place them.
    pub units: bool,
    /// Users > Setup > Security (R8.5: Managers).
    pub security: bool,
}

impl Viewer {
    pub fn user(&self) -> &User {
        &self.caller.user
    }

    /// The first page after signing in.
    pub fn home(&self) -> &'static str {
        if self.nav.users {
            "/ui/users"
        } else {
            "/ui/account/info"
        }
    }

    /// Refuses a form that does not carry this session's token: another
    /// site cannot make a signed-in browser change anything.
    pub fn check_csrf(&self, sent: &str) -> Result<(), Box<Response>> {
        // Compared without an early exit, so timing reveals no prefix.
        if bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_bytes(),
            self.csrf.as_bytes(),
        )) {
            Ok(())
        } else {
            Err(Box::new(super::pages::refused(
                self,
                axum::http::StatusCode::FORBIDDEN,
                "This form has expired. Go back, reload the page and try again.",
            )))
        }
    }

    /// The page header's data.
    pub fn chrome(&self, title: &'static str) -> super::pages::Chrome {
        super::pages::Chrome::new(self, title)
    }
}

/// A form whose only field is the session's CSRF token (sign out, sign out
/// of other sessions).
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// The session token in the request's cookie, if any.
pub fn token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// The CSRF token of the session whose secret token is `token`.
pub fn csrf_for(token: &str) -> String {
    crate::ids::token_hash(&format!("console-csrf\0{token}"))
}

/// `Set-Cookie` that stores a new session's token in the browser.
pub fn set_cookie(token: &str) -> HeaderValue {
    HeaderValue::try_from(format!(
        "{COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Strict"
    ))
    .unwrap_or_else(|_| clear_cookie())
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "__Host-bailiwick=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0",
    )
}

impl FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Viewer, Response> {
        let to_login = || {
            let mut res = Redirect::to("/ui/login").into_response();
            res.headers_mut().insert(header::SET_COOKIE, clear_cookie());
            res
        };
        let Some(token) = token(&parts.headers) else {
            return Err(Redirect::to("/ui/login").into_response());
        };
        // A state change must come from this origin's own pages; SameSite
        // already keeps the cookie off other sites' requests, this is the
        // second lock on the door.
        if parts.method == Method::POST && !same_origin(parts) {
            return Err(to_login());
        }
        let hash = crate::ids::token_hash(token);
        let state = app.store.snapshot();
        let now = app.clock.now();
        let Some(user) = crate::http::caller::session_user(&state, &hash, now, app) else {
            return Err(to_login());
        };
        // A session opened over the API, carried here in a cookie by hand,
        // opens no console either (R8.1).
        if let Err(r) = crate::domain::credentials::may_use_console(&user) {
            let mut res = super::pages::refused_public(StatusCode::FORBIDDEN, r.message);
            res.headers_mut().insert(header::SET_COOKIE, clear_cookie());
            return Err(res);
        }
        app.sessions.touch(&hash, now);
        let acting = Acting::of(&state, &user.id).ok();
        let nav = Nav {
            users: acting.as_ref().is_some_and(|a| a.may_list_users()),
            units: acting.as_ref().is_some_and(|a| a.may_manage_users()),
            security: acting
                .as_ref()
                .is_some_and(|a| crate::domain::settings::security(a).is_ok()),
        };
        Ok(Viewer {
            csrf: csrf_for(token),
            caller: Caller {
                user,
                session: Some(hash),
                ip: peer_ip(parts),
                basic: false,
                service: None,
            },
            nav,
        })
    }
}

/// Whether a request's `Origin` (or, without one, `Referer`) is this host.
/// A browser sends one of them with every form POST.
fn same_origin(parts: &Parts) -> bool {
    let headers = &parts.headers;
    // HTTP/2 carries the host in the request's authority, HTTP/1.1 in Host.
    let host = parts
        .uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| headers.get(header::HOST).and_then(|h| h.to_str().ok()));
    let Some(host) = host else {
        return false;
    };
    let from = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok());
    match from {
        Some(o) => {
            let rest = o.strip_prefix("https://").unwrap_or("");
            let authority = rest.split('/').next().unwrap_or("");
            authority.eq_ignore_ascii_case(host)
        }
        None => false,
    }
}
