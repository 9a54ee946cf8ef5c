//! Profile: a user's own names and email (R2: what anyone may change of
//! itself), its password (R8.5, when people choose their own or it has
//! expired) and its secret questions (R8.7). Each form goes through the
//! function its API twin uses: `PATCH /api/v1/users/{id}`,
//! `PUT /api/v1/me/password`, `PUT /api/v1/me/secret-questions`.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, FieldError, api_error, field_among};
use super::session::Viewer;
use crate::domain::credentials;
use crate::domain::users::UserPatch;
use crate::http::App;
use crate::http::problem::ApiError;
use crate::http::session::{
    PasswordChange, SecretQuestion, SecretQuestions, change_own_password, set_own_questions,
};

/// Which of the page's three forms a message is about.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Details,
    Password,
    Questions,
}

#[derive(Template)]
#[template(path = "console/profile.html")]
struct ProfilePage {
    chrome: Chrome,
    csrf: String,
    first_name: String,
    last_name: String,
    email: String,
    may_change_password: bool,
    questions: [String; 3],
    /// The form a refusal is about, and the refusal beside its field.
    failed: Option<(Part, FieldError)>,
    done: Option<&'static str>,
}

/// The password form's fields: input name, label, autocomplete.
const PASSWORD_FIELDS: [(&str, &str, &str); 3] = [
    ("current", "Current password", "current-password"),
    ("new", "New password", "new-password"),
    ("confirm", "Confirm new password", "new-password"),
];

impl ProfilePage {
    /// The details form's fields: input name, label, value, type.
    fn details(&self) -> [(&'static str, &'static str, &str, &'static str); 3] {
        [
            ("first_name", "First name", &self.first_name, "text"),
            ("last_name", "Last name", &self.last_name, "text"),
            ("email", "Email", &self.email, "email"),
        ]
    }

    fn error(&self, part: Part, field: &str) -> Option<&str> {
        self.failed
            .as_ref()
            .filter(|(p, _)| *p == part)
            .and_then(|(_, e)| e.about(field))
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// What was typed into one of the forms, shown again with its refusal.
pub enum Typed {
    Nothing,
    Details(DetailsForm),
    Questions([String; 3]),
}

fn render(
    app: &App,
    viewer: &Viewer,
    status: StatusCode,
    typed: Typed,
    failed: Option<(Part, FieldError)>,
    done: &str,
) -> Response {
    let state = app.store.snapshot();
    let me = state.users.get(&viewer.user().id).unwrap_or(viewer.user());
    let (details, typed_questions) = match typed {
        Typed::Details(d) => (Some(d), None),
        Typed::Questions(q) => (None, Some(q)),
        Typed::Nothing => (None, None),
    };
    let details = details.unwrap_or_else(|| DetailsForm {
        csrf: String::new(),
        first_name: me.first_name.clone(),
        last_name: me.last_name.clone(),
        email: me.email.clone(),
    });
    let questions = state
        .credentials
        .get(&me.id)
        .map(|c| {
            c.secret_questions
                .iter()
                .map(|(q, _)| q.clone())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let q = |i: usize| questions.get(i).cloned().unwrap_or_default();
    let page = ProfilePage {
        chrome: viewer.chrome("Profile"),
        csrf: viewer.csrf.clone(),
        first_name: details.first_name,
        last_name: details.last_name,
        email: details.email,
        may_change_password: credentials::may_choose_password(&state, me, app.clock.now()).is_ok(),
        questions: typed_questions.unwrap_or_else(|| [q(0), q(1), q(2)]),
        failed,
        done: match done {
            "details" => Some("Your details are saved."),
            "password" => Some("Your password is changed. Your other sessions have ended."),
            "questions" => Some("Your secret questions are saved."),
            _ => None,
        },
    };
    super::render(status, &page)
}

/// `GET /ui/account/profile`.
pub async fn page(State(app): State<App>, viewer: Viewer, Query(d): Query<Done>) -> Response {
    render(&app, &viewer, StatusCode::OK, Typed::Nothing, None, &d.done)
}

/// What a refusal shows: the form again with the refusal beside the field
/// `field` picks, or the page that says why when it is not about the input.
fn refused(
    app: &App,
    viewer: &Viewer,
    part: Part,
    e: ApiError,
    field: impl FnOnce(&ApiError) -> &'static str,
    typed: Typed,
) -> Response {
    if e.status == StatusCode::FORBIDDEN || e.status.is_server_error() {
        return api_error(viewer, e);
    }
    let field = if e.status == StatusCode::TOO_MANY_REQUESTS {
        "form"
    } else {
        field(&e)
    };
    let status = e.status;
    let error = FieldError {
        field,
        detail: e.detail,
    };
    render(app, viewer, status, typed, Some((part, error)), "")
}

#[derive(Deserialize)]
pub struct DetailsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
}

/// `POST /ui/account/profile/details`.
pub async fn save_details(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<DetailsForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    // Only what changed, as the user page does.
    let me = viewer.user();
    let changed = |new: &str, old: &str| (new != old).then(|| new.to_owned());
    let patch = UserPatch {
        first_name: changed(&form.first_name, &me.first_name),
        last_name: changed(&form.last_name, &me.last_name),
        email: changed(form.email.trim(), &me.email),
        ..UserPatch::default()
    };
    let id = viewer.user().id.clone();
    match crate::http::users::edit(&app, &viewer.caller, id, patch).await {
        Ok(_) => Redirect::to("/ui/account/profile?done=details").into_response(),
        Err(e) => {
            let field = |e: &ApiError| field_among(e, &["first_name", "last_name", "email"]);
            refused(&app, &viewer, Part::Details, e, field, Typed::Details(form))
        }
    }
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /ui/account/profile/password`.
pub async fn save_password(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<PasswordForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    if form.new != form.confirm {
        let e =
            ApiError::validation("confirm: the two new passwords differ; type the same one twice");
        return refused(
            &app,
            &viewer,
            Part::Password,
            e,
            |_| "confirm",
            Typed::Nothing,
        );
    }
    let req = PasswordChange {
        current: form.current,
        new: form.new,
    };
    match change_own_password(&app, &viewer.caller, req).await {
        Ok(()) => Redirect::to("/ui/account/profile?done=password").into_response(),
        // Policy refusals are about the new password, the rest about the
        // current one ("the current password is wrong").
        Err(e) => {
            let field = |e: &ApiError| {
                if e.code == "password_policy" {
                    "new"
                } else {
                    "current"
                }
            };
            refused(&app, &viewer, Part::Password, e, field, Typed::Nothing)
        }
    }
}

#[derive(Deserialize)]
pub struct QuestionsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    q1: String,
    #[serde(default)]
    a1: String,
    #[serde(default)]
    q2: String,
    #[serde(default)]
    a2: String,
    #[serde(default)]
    q3: String,
    #[serde(default)]
    a3: String,
    #[serde(default)]
    password: String,
}

/// `POST /ui/account/profile/questions`.
pub async fn save_questions(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<QuestionsForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    let typed = [form.q1.clone(), form.q2.clone(), form.q3.clone()];
    let req = SecretQuestions {
        questions: [(form.q1, form.a1), (form.q2, form.a2), (form.q3, form.a3)]
            .into_iter()
            .map(|(question, answer)| SecretQuestion { question, answer })
            .collect(),
        current_password: form.password,
    };
    match set_own_questions(&app, &viewer.caller, req).await {
        Ok(()) => Redirect::to("/ui/account/profile?done=questions").into_response(),
        Err(e) => {
            let field = |e: &ApiError| {
                if e.status == StatusCode::UNAUTHORIZED {
                    "password"
                } else {
                    "form"
                }
            };
            refused(
                &app,
                &viewer,
                Part::Questions,
                e,
                field,
                Typed::Questions(typed),
            )
        }
    }
}
