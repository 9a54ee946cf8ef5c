//! Assets (R3.1, R5.4, R6.1): the IPs and domains this person sees, the
//! scanner appliances it may use, and the forms to add and remove assets,
//! through `domain::assets` as `GET`/`POST`/`DELETE /api/v1/assets` do.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, FieldError, Fields, api_error, items};
use super::session::Viewer;
use super::users::unit_name;
use crate::domain::access::Acting;
use crate::domain::assets::{self, parse_domains, parse_ips};
use crate::http::App;
use crate::http::problem::ApiError;

pub struct ApplianceRow {
    pub name: String,
    pub kind: &'static str,
    pub unit: String,
}

#[derive(Template)]
#[template(path = "console/assets.html")]
struct AssetsPage {
    chrome: Chrome,
    csrf: String,
    ips: Vec<String>,
    domains: Vec<String>,
    appliances: Vec<ApplianceRow>,
    may_remove: bool,
    /// The form a refusal is about ("add" or "remove"), and the refusal.
    failed: Option<(&'static str, FieldError)>,
    typed: (String, String),
    done: Option<&'static str>,
}

/// The two forms: path, heading, button, the button's class.
const FORMS: [(&str, &str, &str, &str); 2] = [
    ("add", "Add assets", "Add", ""),
    ("remove", "Remove assets", "Remove", "danger"),
];

impl AssetsPage {
    /// The forms this person gets: Remove only for those who may (R5.4).
    fn forms(&self) -> Vec<(&'static str, &'static str, &'static str, &'static str)> {
        FORMS
            .into_iter()
            .filter(|(f, ..)| *f == "add" || self.may_remove)
            .collect()
    }

    /// What was typed into `form`, when it was refused.
    fn typed_for(&self, form: &str) -> (&str, &str) {
        match &self.failed {
            Some((f, _)) if *f == form => (&self.typed.0, &self.typed.1),
            _ => ("", ""),
        }
    }

    fn error(&self, form: &str, field: &str) -> Option<&str> {
        self.failed
            .as_ref()
            .filter(|(f, _)| *f == form)
            .and_then(|(_, e)| e.about(field))
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

fn show(
    app: &App,
    viewer: &Viewer,
    status: StatusCode,
    failed: Option<(&'static str, FieldError)>,
    typed: (String, String),
    done: Option<&'static str>,
) -> Response {
    let state = app.store.snapshot();
    let acting = match Acting::of(&state, &viewer.user().id) {
        Ok(a) => a,
        Err(e) => return api_error(viewer, e.into()),
    };
    let seen = assets::visible_assets(&acting);
    let page = AssetsPage {
        chrome: viewer.chrome("Assets"),
        csrf: viewer.csrf.clone(),
        ips: seen.ips.to_strings(),
        domains: seen.domains.iter().cloned().collect(),
        appliances: assets::list_appliances(&acting)
            .into_iter()
            .map(|a| ApplianceRow {
                name: a.name.clone(),
                kind: a.kind.as_str(),
                unit: unit_name(&state, a.business_unit.as_deref()),
            })
            .collect(),
        may_remove: acting.may_remove_ips(),
        failed,
        typed,
        done,
    };
    super::render(status, &page)
}

/// `GET /ui/assets`.
pub async fn page(State(app): State<App>, viewer: Viewer, Query(d): Query<Done>) -> Response {
    let done = match d.done.as_str() {
        "added" => Some("The assets are added."),
        "removed" => {
            Some("The assets are removed from the subscription, its units and its groups.")
        }
        _ => None,
    };
    show(
        &app,
        &viewer,
        StatusCode::OK,
        None,
        Default::default(),
        done,
    )
}

/// `POST /ui/assets/add` and `/ui/assets/remove`: the API's add and remove.
async fn change(app: App, viewer: Viewer, body: Bytes, form: &'static str) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let (ips_text, domains_text) = (f.one("ips"), f.one("domains"));
    let parsed = parse_ips("ips", &items(&ips_text))
        .and_then(|ips| Ok((ips, parse_domains("domains", &items(&domains_text))?)));
    let written = match parsed {
        Ok((ips, domains)) => {
            let actor = viewer.caller.actor();
            let w = if form == "add" {
                app.store
                    .write(actor, move |tx| {
                        assets::add_assets(tx, ips, domains, None).map(drop)
                    })
                    .await
            } else {
                app.store
                    .write(actor, move |tx| {
                        assets::remove_assets(tx, ips, domains).map(drop)
                    })
                    .await
            };
            w.map_err(ApiError::from)
        }
        Err(e) => Err(e.into()),
    };
    match written {
        Ok(()) => Redirect::to(if form == "add" {
            "/ui/assets?done=added"
        } else {
            "/ui/assets?done=removed"
        })
        .into_response(),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let status = e.status;
            let error = FieldError::of(e, &["ips", "domains"]);
            show(
                &app,
                &viewer,
                status,
                Some((form, error)),
                (ips_text, domains_text),
                None,
            )
        }
        Err(e) => api_error(&viewer, e),
    }
}

pub async fn add(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
    change(app, viewer, body, "add").await
}

pub async fn remove(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
    change(app, viewer, body, "remove").await
}
