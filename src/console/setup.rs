//! Users > Setup > Security (R8.5): the same `domain::settings` reads and
//! command as `GET`/`PUT /api/v1/settings/security`, so the same people may
//! change the same things and every refusal is the API's.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, api_error};
use super::session::Viewer;
use crate::domain::SecuritySettings;
use crate::domain::access::Acting;
use crate::domain::settings;
use crate::http::App;
use crate::http::problem::ApiError;

/// The form as typed: numbers stay text so that what was typed can be shown
/// again beside the refusal.
#[derive(Deserialize, Default)]
pub struct SecurityForm {
    #[serde(default)]
    csrf: String,
    /// A checkbox: present when ticked.
    #[serde(default)]
    user_defined_passwords: Option<String>,
    #[serde(default)]
    password_expiration_days: String,
    #[serde(default)]
    lockout_threshold: String,
    #[serde(default)]
    min_password_length: String,
    #[serde(default)]
    external_ids_enabled: Option<String>,
}

impl SecurityForm {
    fn of(s: &SecuritySettings) -> SecurityForm {
        SecurityForm {
            csrf: String::new(),
            user_defined_passwords: s.user_defined_passwords.then(String::new),
            password_expiration_days: s.password_expiration_days.to_string(),
            lockout_threshold: s.lockout_threshold.to_string(),
            min_password_length: s.min_password_length.to_string(),
            external_ids_enabled: s.external_ids_enabled.then(String::new),
        }
    }

    /// The settings the form asks for; a field that is not a number is named.
    fn settings(&self) -> Result<SecuritySettings, (&'static str, String)> {
        let number = |field: &'static str, label: &str, v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| (field, format!("{label} must be a whole number.")))
        };
        Ok(SecuritySettings {
            user_defined_passwords: self.user_defined_passwords.is_some(),
            password_expiration_days: number(
                "password_expiration_days",
                "Password expiration (days)",
                &self.password_expiration_days,
            )?,
            lockout_threshold: number(
                "lockout_threshold",
                "Lock account after failed attempts",
                &self.lockout_threshold,
            )?,
            min_password_length: number(
                "min_password_length",
                "Minimum password length",
                &self.min_password_length,
            )?,
            external_ids_enabled: self.external_ids_enabled.is_some(),
        })
    }
}

#[derive(Template)]
#[template(path = "console/security.html")]
struct SecurityPage {
    chrome: Chrome,
    links: Vec<super::settings::SetupLink>,
    csrf: String,
    form: SecurityForm,
    /// The refusal and the field it is about.
    error: Option<(String, String)>,
    saved: bool,
}

/// One of the number fields, as the template lays it out.
struct NumberField<'a> {
    id: &'static str,
    label: &'static str,
    value: &'a str,
    hint: &'static str,
    error: Option<&'a str>,
}

impl SecurityPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| f == field)
            .map(|(_, d)| d.as_str())
    }

    fn numbers(&self) -> Vec<NumberField<'_>> {
        let f = &self.form;
        [
            (
                "password_expiration_days",
                "Password expiration (days)",
                f.password_expiration_days.as_str(),
                "0 means passwords never expire; at most 3650.",
            ),
            (
                "lockout_threshold",
                "Lock account after failed attempts",
                f.lockout_threshold.as_str(),
                "1 to 100 failed logins in a row lock the account until an administrator unlocks it.",
            ),
            (
                "min_password_length",
                "Minimum password length",
                f.min_password_length.as_str(),
                "8 to 128 characters.",
            ),
        ]
        .into_iter()
        .map(|(id, label, value, hint)| NumberField {
            id,
            label,
            value,
            hint,
            error: self.error_for(id),
        })
        .collect()
    }
}

#[derive(Deserialize, Default)]
pub struct Saved {
    saved: Option<u8>,
}

pub async fn security(
    State(app): State<App>,
    viewer: Viewer,
    axum::extract::Query(q): axum::extract::Query<Saved>,
) -> Response {
    let state = app.store.snapshot();
    let current = Acting::of(&state, &viewer.user().id).and_then(|a| settings::security(&a));
    match current {
        Ok(s) => show(
            &app,
            &viewer,
            StatusCode::OK,
            SecurityForm::of(&s),
            None,
            q.saved.is_some(),
        ),
        Err(e) => api_error(&viewer, e.into()),
    }
}

fn show(
    app: &App,
    viewer: &Viewer,
    status: StatusCode,
    form: SecurityForm,
    error: Option<(String, String)>,
    saved: bool,
) -> Response {
    let state_now = app.store.snapshot();
    let links = Acting::of(&state_now, &viewer.user().id)
        .map(|a| super::settings::setup_links(&a, super::settings::Setup::Security))
        .unwrap_or_default();
    let page = SecurityPage {
        chrome: viewer.chrome("Security"),
        links,
        csrf: viewer.csrf.clone(),
        form,
        error,
        saved,
    };
    super::render(status, &page)
}

pub async fn save_security(
    State(app): State<App>,
    viewer: Viewer,
    Form(form): Form<SecurityForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    let wanted = match form.settings() {
        Ok(s) => s,
        Err((field, detail)) => {
            return show(
                &app,
                &viewer,
                StatusCode::BAD_REQUEST,
                form,
                Some((field.into(), detail)),
                false,
            );
        }
    };
    let written = app
        .store
        .write(viewer.caller.actor(), move |tx| {
            settings::set_security(tx, wanted)
        })
        .await
        .map_err(ApiError::from);
    match written {
        Ok(_) => Redirect::to("/ui/setup/security?saved=1").into_response(),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::FORBIDDEN => {
            // The external IDs switch is refused without naming a field.
            let field = match super::pages::field_of(&e.detail) {
                Some(f) => f.to_owned(),
                None if e.detail.contains("external IDs") => "external_ids_enabled".to_owned(),
                None => "form".to_owned(),
            };
            show(
                &app,
                &viewer,
                e.status,
                form,
                Some((field, e.detail)),
                false,
            )
        }
        Err(e) => api_error(&viewer, e),
    }
}
