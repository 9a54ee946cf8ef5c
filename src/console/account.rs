//! A person's own account: Account Activity (R8.8: own sessions, sign out
//! of the others) and Account Info (R10.3).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, Fields, api_error};
use super::session::{CsrfForm, Viewer};
use crate::domain::access::Acting;
use crate::domain::{NotificationKind, notification_options, settings};
use crate::http::App;
use crate::http::session::{end_other_sessions, sessions_of};

pub struct SessionRow {
    pub created: String,
    pub ip: String,
    pub last_used: String,
    pub this: bool,
}

#[derive(Template)]
#[template(path = "console/account_activity.html")]
struct ActivityPage {
    chrome: Chrome,
    sessions: Vec<SessionRow>,
    csrf: String,
    /// How many sessions the last "Sign out of other sessions" ended.
    ended: Option<usize>,
}

#[derive(Deserialize, Default)]
pub struct Ended {
    ended: Option<usize>,
}

/// "2026-12-03 08:21 UTC": minutes are what a person compares.
fn when(rfc3339: &str) -> String {
    let t = rfc3339.replace('T', " ");
    match t.get(..16) {
        Some(m) => format!("{m} UTC"),
        None => t,
    }
}

pub async fn activity(
    State(app): State<App>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<Ended>,
) -> Response {
    let sessions = sessions_of(&app, &viewer.user().id, viewer.caller.session.as_deref())
        .into_iter()
        .map(|s| SessionRow {
            created: when(&s.created_at),
            ip: s.ip.unwrap_or_else(|| "unknown".into()),
            last_used: when(&s.last_used_at),
            this: s.current,
        })
        .collect();
    let page = ActivityPage {
        chrome: viewer.chrome("Account Activity"),
        sessions,
        csrf: viewer.csrf.clone(),
        ended: q.ended,
    };
    super::render(StatusCode::OK, &page)
}

pub async fn sign_out_others(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    match end_other_sessions(&app, &viewer.caller).await {
        Ok(n) => Redirect::to(&format!("/ui/account/activity?ended={n}")).into_response(),
        Err(e) => api_error(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "console/account_info.html")]
struct InfoPage {
    chrome: Chrome,
    csrf: String,
    /// After "Save notification options".
    saved: bool,
    info: settings::AccountInfo,
    role: &'static str,
    modules: String,
    appliances: String,
    permissions: String,
}

#[derive(Deserialize, Default)]
pub struct Saved {
    saved: Option<u8>,
}

pub async fn info(
    State(app): State<App>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<Saved>,
) -> Response {
    let state = app.store.snapshot();
    let acting = match Acting::of(&state, &viewer.user().id) {
        Ok(a) => a,
        Err(e) => return api_error(&viewer, e.into()),
    };
    let info = settings::account_info(&acting);
    let page = InfoPage {
        chrome: viewer.chrome("Account Info"),
        csrf: viewer.csrf.clone(),
        saved: q.saved.is_some(),
        role: info.role.title(),
        modules: info
            .modules
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        appliances: info
            .appliances
            .iter()
            .map(|a| format!("{} ({})", a.name, a.kind.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        permissions: info
            .permissions
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        info,
    };
    super::render(StatusCode::OK, &page)
}

/// `POST /ui/account/info/notifications`: the boxes left ticked are the
/// kinds wanted (`PUT /api/v1/me/notification-options`).
pub async fn save_notifications(
    State(app): State<App>,
    viewer: Viewer,
    body: axum::body::Bytes,
) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let wanted = f.all("wanted");
    let opt_outs = NotificationKind::ALL
        .into_iter()
        .filter(|k| !wanted.iter().any(|w| w == k.as_str()))
        .collect();
    let id = viewer.user().id.clone();
    let saved = app
        .store
        .write(viewer.caller.actor(), move |tx| {
            notification_options::set_options(tx, &id, opt_outs)
        })
        .await;
    match saved {
        Ok(_) => Redirect::to("/ui/account/info?saved=1").into_response(),
        Err(e) => api_error(&viewer, e.into()),
    }
}
