//! Move user (R7.4) and Delete user (R7.5): the choices of
//! `POST /api/v1/users/{id}/move` and `DELETE /api/v1/users/{id}` as forms,
//! run through the same `http::users` commands, and every outcome they
//! report listed on the page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::pages::{Chrome, FieldError, Fields, api_error};
use super::session::Viewer;
use super::users::{Choice, name_of, unit_choices};
use crate::domain::State as Snapshot;
use crate::domain::access::Acting;
use crate::domain::deletion::Delete;
use crate::domain::directory::{self, UserView};
use crate::domain::lifecycle::Outcome;
use crate::domain::moving::Move;
use crate::http::App;
use crate::http::problem::ApiError;

/// One line of the outcome list, in words.
pub struct OutcomeLine {
    pub kind: String,
    pub name: String,
    pub fate: String,
}

/// "asset_group" → "Asset group".
fn words(s: &str) -> String {
    let spaced = s.replace('_', " ");
    let mut c = spaced.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

impl OutcomeLine {
    fn new(state: &Snapshot, o: &Outcome) -> OutcomeLine {
        let to = o.to.as_deref().map(|to| {
            state
                .users
                .get(to)
                .map(crate::domain::access::name_of)
                .or_else(|| state.asset_groups.get(to).map(|g| g.title.clone()))
                .unwrap_or_else(|| to.to_owned())
        });
        let fate = words(o.fate.as_str()).to_lowercase();
        OutcomeLine {
            kind: words(o.kind),
            name: o.name.clone(),
            fate: match to {
                Some(to) => format!("{fate}: {to}"),
                None => fate,
            },
        }
    }
}

#[derive(Template)]
#[template(path = "console/move_user.html")]
struct MovePage {
    chrome: Chrome,
    id: String,
    name: String,
    csrf: String,
    units: Vec<Choice>,
    keep_configurations: bool,
    keep_asset_groups: bool,
    error: FieldError,
    /// After the move: what it did.
    done: Option<Vec<OutcomeLine>>,
}

/// The user `id` as `viewer` sees it, with the acting it was seen by.
fn seen<'s>(
    state: &'s Snapshot,
    viewer: &Viewer,
    id: &str,
) -> Result<(Acting<'s>, UserView), ApiError> {
    let acting = Acting::of(state, &viewer.user().id)?;
    let v = directory::get_user(&acting, id)?;
    Ok((acting, v))
}

/// `GET /ui/users/{id}/move`.
pub async fn move_page(State(app): State<App>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let state = app.store.snapshot();
    match seen(&state, &viewer, &id) {
        Ok((acting, v)) => {
            let page = MovePage {
                chrome: viewer.chrome("Move user"),
                name: name_of(&v),
                csrf: viewer.csrf.clone(),
                units: unit_choices(&acting, v.business_unit.as_deref().unwrap_or("")),
                keep_configurations: true,
                keep_asset_groups: true,
                error: FieldError::default(),
                done: None,
                id,
            };
            super::render(StatusCode::OK, &page)
        }
        Err(e) => api_error(&viewer, e),
    }
}

/// `POST /ui/users/{id}/move`: the API's move; the page lists what it did.
pub async fn move_user(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let unit = f.one("business_unit");
    let request = Move {
        business_unit: Some(unit.clone()).filter(|u| !u.is_empty()),
        keep_configurations: f.has("keep_configurations"),
        keep_asset_groups: f.has("keep_asset_groups"),
    };
    let moved = crate::http::users::move_to(&app, &viewer.caller, id.clone(), request).await;
    let state = app.store.snapshot();
    let (status, error, done) = match moved {
        Ok(m) => (
            StatusCode::OK,
            FieldError::default(),
            Some(
                m.outcomes
                    .iter()
                    .map(|o| OutcomeLine::new(&state, o))
                    .collect(),
            ),
        ),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            (e.status, FieldError::of(e, &["business_unit"]), None)
        }
        Err(e) => return api_error(&viewer, e),
    };
    match seen(&state, &viewer, &id) {
        Ok((acting, v)) => {
            let page = MovePage {
                chrome: viewer.chrome("Move user"),
                name: name_of(&v),
                csrf: viewer.csrf.clone(),
                units: unit_choices(&acting, &unit),
                keep_configurations: f.has("keep_configurations"),
                keep_asset_groups: f.has("keep_asset_groups"),
                error,
                done,
                id,
            };
            super::render(status, &page)
        }
        Err(e) => api_error(&viewer, e),
    }
}

#[derive(Template)]
#[template(path = "console/delete_user.html")]
struct DeletePage {
    chrome: Chrome,
    id: String,
    name: String,
    csrf: String,
    transfer_to: String,
    keep_results: bool,
    error: FieldError,
    done: Option<Vec<OutcomeLine>>,
}

/// `GET /ui/users/{id}/delete`.
pub async fn delete_page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let state = app.store.snapshot();
    match seen(&state, &viewer, &id) {
        Ok((_, v)) => {
            let page = DeletePage {
                chrome: viewer.chrome("Delete user"),
                name: name_of(&v),
                csrf: viewer.csrf.clone(),
                transfer_to: String::new(),
                keep_results: false,
                error: FieldError::default(),
                done: None,
                id,
            };
            super::render(StatusCode::OK, &page)
        }
        Err(e) => api_error(&viewer, e),
    }
}

/// `POST /ui/users/{id}/delete`: the API's delete; the page lists what
/// happened to everything the user had.
pub async fn delete_user(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let transfer_to = f.one("transfer_configurations_to").trim().to_owned();
    let keep_results = f.has("keep_results");
    let shown = {
        let state = app.store.snapshot();
        seen(&state, &viewer, &id).and_then(|(acting, v)| {
            let to = match transfer_to.as_str() {
                "" => None,
                login => {
                    let field = "transfer_configurations_to";
                    match super::users::ids_of_logins(&acting, login, field)?.as_slice() {
                        [one] => Some(one.clone()),
                        _ => {
                            return Err(ApiError::validation(format!("{field}: give one login")));
                        }
                    }
                }
            };
            Ok((v, to))
        })
    };
    let deleted = match shown {
        Ok((v, to)) => {
            let request = Delete {
                transfer_configurations_to: to,
                keep_results,
            };
            crate::http::users::delete(&app, &viewer.caller, id.clone(), request)
                .await
                .map(|(_, d)| (v, d))
        }
        Err(e) if e.code == "not_found" => return api_error(&viewer, e),
        Err(e) => Err(e),
    };
    let state = app.store.snapshot();
    let (status, name, error, done) = match deleted {
        Ok((v, d)) => (
            StatusCode::OK,
            name_of(&v),
            FieldError::default(),
            Some(
                d.outcomes
                    .iter()
                    .map(|o| OutcomeLine::new(&state, o))
                    .collect(),
            ),
        ),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let name = match seen(&state, &viewer, &id) {
                Ok((_, v)) => name_of(&v),
                Err(e) => return api_error(&viewer, e),
            };
            (
                e.status,
                name,
                FieldError::of(e, &["transfer_configurations_to"]),
                None,
            )
        }
        Err(e) => return api_error(&viewer, e),
    };
    let page = DeletePage {
        chrome: viewer.chrome("Delete user"),
        name,
        csrf: viewer.csrf.clone(),
        transfer_to,
        keep_results,
        error,
        done,
        id,
    };
    super::render(status, &page)
}
