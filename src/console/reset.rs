//! Reset password (R8.7): the self-service reset by secret questions, for
//! people who cannot sign in. Both steps go through the functions the API's
//! `POST /api/v1/password-reset` and `.../answers` use, so the same limits
//! apply, every login gets three questions (real or decoys), and every
//! failure reads the same.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::Deserialize;

use super::pages::Chrome;
use crate::http::App;
use crate::http::problem::ApiError;
use crate::http::session::{ResetAnswers, Source, answer_reset, reset_questions_for};

/// One message for every refused answer, whatever was wrong (R8.4, R8.7).
const FAILED: &str = "Password reset failed. Check your login and answers.";

pub enum Step {
    /// The login to reset.
    Login,
    /// Its three questions, and the new password when people choose theirs.
    Questions {
        questions: Vec<String>,
        choose_own: bool,
    },
    /// A generated password, shown once.
    Revealed { login: String, password: String },
    /// A chosen password is set.
    Set { login: String },
}

#[derive(Template)]
#[template(path = "console/reset.html")]
struct Page {
    chrome: Chrome,
    login: String,
    step: Step,
    error: Option<String>,
}

fn show(status: StatusCode, login: String, step: Step, error: Option<String>) -> Response {
    let page = Page {
        chrome: Chrome::public("Reset password"),
        login,
        step,
        error,
    };
    let mut res = super::render(status, &page);
    // Answers and passwords are never kept by the browser's cache.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        "no-store".parse().expect("static header"),
    );
    res
}

/// The words of a refusal: the wait of a limit (R8.3), the one message
/// otherwise, or the password rule that was not met.
fn said(e: &ApiError) -> String {
    match (e.status, e.retry_after) {
        (StatusCode::TOO_MANY_REQUESTS, Some(secs)) => {
            let unit = if secs == 1 { "second" } else { "seconds" };
            format!("Too many attempts. Try again in {secs} {unit}.")
        }
        (StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY, _) => e.detail.clone(),
        (s, _) if s.is_server_error() => {
            "Resetting passwords is not possible right now. Try again in a minute.".into()
        }
        _ => FAILED.into(),
    }
}

/// `GET /ui/password-reset`.
pub async fn page() -> Response {
    show(StatusCode::OK, String::new(), Step::Login, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    login: String,
}

/// `POST /ui/password-reset`: the login's three questions.
pub async fn questions(
    State(app): State<App>,
    source: Source,
    Form(form): Form<LoginForm>,
) -> Response {
    let login = form.login.trim().to_owned();
    match reset_questions_for(&app, &source, &login).await {
        Ok(questions) => {
            let choose_own = app
                .store
                .snapshot()
                .settings
                .security
                .user_defined_passwords;
            show(
                StatusCode::OK,
                login,
                Step::Questions {
                    questions,
                    choose_own,
                },
                None,
            )
        }
        Err(e) => show(e.status, login, Step::Login, Some(said(&e))),
    }
}

#[derive(Deserialize)]
pub struct AnswersForm {
    #[serde(default)]
    login: String,
    #[serde(default)]
    a1: String,
    #[serde(default)]
    a2: String,
    #[serde(default)]
    a3: String,
    new_password: Option<String>,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /ui/password-reset/answers`: three right answers set the new
/// password; anything else starts again from the login, with one message.
pub async fn answers(
    State(app): State<App>,
    source: Source,
    Form(form): Form<AnswersForm>,
) -> Response {
    let login = form.login.trim().to_owned();
    if let Some(p) = &form.new_password
        && *p != form.confirm_password
    {
        return show(
            StatusCode::BAD_REQUEST,
            login,
            Step::Login,
            Some("The two passwords differ. Start again and type the same password twice.".into()),
        );
    }
    let req = ResetAnswers {
        login: login.clone(),
        answers: vec![form.a1, form.a2, form.a3],
        new_password: form.new_password,
    };
    match answer_reset(&app, &source, req).await {
        Ok(v) => match v.password {
            Some(password) => show(
                StatusCode::OK,
                login,
                Step::Revealed {
                    login: v.login,
                    password,
                },
                None,
            ),
            None => show(StatusCode::OK, login, Step::Set { login: v.login }, None),
        },
        Err(e) => show(e.status, login, Step::Login, Some(said(&e))),
    }
}
