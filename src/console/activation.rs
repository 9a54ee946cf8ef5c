//! The one-time link of registration and reset emails and of the first
//! start (R7.1, R7.2). Opening the page uses nothing up, because mail
//! scanners open links before people do: the person presses "Show my
//! password" (or, with user-defined passwords, sets one), which goes through
//! the same functions as the API's `GET`/`POST /api/v1/activation/{token}`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::pages::Chrome;
use crate::domain::Code;
use crate::domain::credentials::live_link;
use crate::http::App;
use crate::http::problem::ApiError;
use crate::http::session::{Source, choose_password, reveal_password};

/// What the page shows.
pub enum Step {
    /// A live link: the button (or the fields) to use it.
    Open { choose_own: bool },
    /// The link was just used: the login and password, this once.
    Revealed { login: String, password: String },
    /// A chosen password was set.
    Set { login: String },
    /// Nothing to do with this link, and why.
    Dead(String),
}

#[derive(Template)]
#[template(path = "console/activation.html")]
struct Page {
    chrome: Chrome,
    token: String,
    step: Step,
    /// A refusal of the chosen password, shown beside the field.
    error: Option<String>,
}

fn show(status: StatusCode, token: String, step: Step, error: Option<String>) -> Response {
    let page = Page {
        chrome: Chrome::public("Your account"),
        token,
        step,
        error,
    };
    super::render(status, &page)
}

/// The words for a link that cannot be used.
fn dead(code: Code) -> &'static str {
    match code {
        Code::Gone => {
            "This link was already used, or it has expired. Ask your Manager for a new one."
        }
        _ => {
            "This link is not valid. Check that you opened the whole link, or ask your Manager for a new one."
        }
    }
}

fn dead_status(code: &str) -> StatusCode {
    if code == "gone" {
        StatusCode::GONE
    } else {
        StatusCode::NOT_FOUND
    }
}

pub async fn page(State(app): State<App>, Path(token): Path<String>) -> Response {
    let state = app.store.snapshot();
    let hash = crate::ids::token_hash(&token);
    match live_link(&state, &hash, app.clock.now()) {
        Ok(_) => {
            let choose_own = state.settings.security.user_defined_passwords;
            show(StatusCode::OK, token, Step::Open { choose_own }, None)
        }
        Err(r) => {
            let status = dead_status(r.code.as_str());
            show(status, token, Step::Dead(dead(r.code).into()), None)
        }
    }
}

#[derive(Deserialize)]
pub struct UseForm {
    #[serde(default)]
    new_password: Option<String>,
    #[serde(default)]
    confirm_password: Option<String>,
}

pub async fn submit(
    State(app): State<App>,
    source: Source,
    Path(token): Path<String>,
    Form(form): Form<UseForm>,
) -> Response {
    let dead_page = |e: ApiError| {
        let step = if matches!(e.code, "gone" | "not_found") {
            let code = if e.code == "gone" {
                Code::Gone
            } else {
                Code::NotFound
            };
            Step::Dead(dead(code).into())
        } else {
            Step::Dead(e.detail.clone())
        };
        show(dead_status(e.code), token.clone(), step, None)
    };
    match form.new_password {
        None => match reveal_password(&app, &source, &token).await {
            Ok(v) => match v.password {
                Some(password) => show(
                    StatusCode::OK,
                    token.clone(),
                    Step::Revealed {
                        login: v.login,
                        password,
                    },
                    None,
                ),
                None => show(
                    StatusCode::OK,
                    token.clone(),
                    Step::Open { choose_own: true },
                    None,
                ),
            },
            Err(e) => dead_page(e),
        },
        Some(password) => {
            if form.confirm_password.as_deref() != Some(password.as_str()) {
                return show(
                    StatusCode::BAD_REQUEST,
                    token,
                    Step::Open { choose_own: true },
                    Some("The two passwords differ. Type the same password twice.".into()),
                );
            }
            match choose_password(&app, &source, &token, password).await {
                Ok(login) => show(StatusCode::OK, token.clone(), Step::Set { login }, None),
                // The policy's refusal goes beside the field, the link stays usable.
                Err(e) if e.code == "validation" => show(
                    e.status,
                    token.clone(),
                    Step::Open { choose_own: true },
                    Some(e.detail),
                ),
                Err(e) => dead_page(e),
            }
        }
    }
}
