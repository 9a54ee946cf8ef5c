//! Sign in and sign out (R8.1–R8.4): the sign-in page goes through the very
//! function the API's `POST /session` uses, so the same limits, the same
//! hashing pool and the same single message apply.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::Chrome;
use super::session::{self, CsrfForm, Viewer};
use crate::auth::service::LoginError;
use crate::http::App;
use crate::http::session::{Channel, Source, end_session, sign_in};

/// R8.4: one message for every failure, whatever failed.
const FAILED: &str = "Login failed. Check your login and password.";

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    chrome: Chrome,
    login: String,
    error: Option<String>,
}

pub async fn page(State(app): State<App>, headers: HeaderMap) -> Response {
    // Already signed in: nothing to do here.
    if let Some(token) = session::token(&headers) {
        let hash = crate::ids::token_hash(token);
        let state = app.store.snapshot();
        if crate::http::caller::session_user(&state, &hash, app.clock.now(), &app).is_some() {
            return Redirect::to("/ui/").into_response();
        }
    }
    show(StatusCode::OK, String::new(), None)
}

fn show(status: StatusCode, login: String, error: Option<String>) -> Response {
    let page = LoginPage {
        chrome: Chrome::public("Sign in"),
        login,
        error,
    };
    super::render(status, &page)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    password: String,
}

pub async fn submit(
    State(app): State<App>,
    source: Source,
    Form(form): Form<LoginForm>,
) -> Response {
    match sign_in(&app, &source, &form.login, &form.password, Channel::Ui).await {
        Ok(ok) => {
            let Some(token) = ok.token else {
                return show(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    form.login,
                    Some(FAILED.into()),
                );
            };
            let mut res = Redirect::to("/ui/").into_response();
            res.headers_mut()
                .insert(header::SET_COOKIE, session::set_cookie(&token));
            res
        }
        Err(LoginError::RateLimited(wait)) => {
            too_many(form.login, wait.as_secs_f64().ceil() as u64)
        }
        Err(LoginError::Busy) => too_many(form.login, 1),
        Err(LoginError::Denied) => show(StatusCode::UNAUTHORIZED, form.login, Some(FAILED.into())),
        Err(LoginError::Refused(r)) => show(StatusCode::FORBIDDEN, form.login, Some(r.message)),
        Err(LoginError::Unavailable(_)) => show(
            StatusCode::SERVICE_UNAVAILABLE,
            form.login,
            Some("Signing in is not possible right now. Try again in a minute.".into()),
        ),
    }
}

/// R8.3: the limit is said with the wait, as the API's `Retry-After` does.
fn too_many(login: String, secs: u64) -> Response {
    let secs = secs.max(1);
    let unit = if secs == 1 { "second" } else { "seconds" };
    let mut res = show(
        StatusCode::TOO_MANY_REQUESTS,
        login,
        Some(format!("Too many attempts. Try again in {secs} {unit}.")),
    );
    res.headers_mut().insert(header::RETRY_AFTER, secs.into());
    res
}

pub async fn logout(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    if let Err(e) = end_session(&app, &viewer.caller).await {
        return super::pages::api_error(&viewer, e);
    }
    let mut res = Redirect::to("/ui/login").into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    res
}
