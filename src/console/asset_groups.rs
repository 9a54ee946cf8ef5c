//! Asset Groups (R6): the list, a new group and a group's page, through the
//! same `domain::groups` commands and the same parsing of IPs and domains
//! as `/api/v1/asset-groups`.

use std::collections::BTreeSet;

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, FieldError, Fields, api_error, items};
use super::session::{CsrfForm, Viewer};
use super::users::Choice;
use crate::domain::access::{Acting, name_of};
use crate::domain::assets::{list_appliances, parse_domains, parse_ips};
use crate::domain::groups::{self, GroupPatch, NewGroup};
use crate::domain::{AssetGroup, AssetSet, State as Snapshot};
use crate::http::App;
use crate::http::problem::ApiError;

const FIELDS: [&str; 5] = [
    "title",
    "ips",
    "domains",
    "scanner_appliances",
    "business_units",
];

/// Rows per page of the list.
const PAGE: usize = 50;

pub struct GroupRow {
    pub id: String,
    pub title: String,
    pub owner: String,
    pub units: String,
    pub ips: String,
}

#[derive(Template)]
#[template(path = "console/asset_groups.html")]
struct GroupsPage {
    chrome: Chrome,
    rows: Vec<GroupRow>,
    next: Option<String>,
    done: Option<&'static str>,
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    cursor: String,
    #[serde(default)]
    done: String,
}

fn unit_names(state: &Snapshot, ids: &BTreeSet<String>) -> String {
    if ids.is_empty() {
        return "Subscription".into();
    }
    ids.iter()
        .map(|u| {
            state
                .units
                .get(u)
                .map_or_else(|| u.clone(), |u| u.name.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `GET /ui/asset-groups`: the groups this person sees (the API's list),
/// a page at a time.
pub async fn list(State(app): State<App>, viewer: Viewer, Query(q): Query<ListQuery>) -> Response {
    let state = app.store.snapshot();
    let acting = match Acting::of(&state, &viewer.user().id) {
        Ok(a) => a,
        Err(e) => return api_error(&viewer, e.into()),
    };
    let mut page: Vec<&AssetGroup> = groups::list_groups(&acting, None)
        .into_iter()
        .filter(|g| q.cursor.is_empty() || g.id > q.cursor)
        .take(PAGE + 1)
        .collect();
    let more = page.len() > PAGE;
    page.truncate(PAGE);
    let rows = page
        .iter()
        .map(|g| GroupRow {
            id: g.id.clone(),
            title: g.title.clone(),
            owner: state
                .users
                .get(&g.owner)
                .map_or_else(|| "nobody".into(), name_of),
            units: unit_names(&state, &g.business_units),
            ips: g.assets.ips.to_strings().join(", "),
        })
        .collect();
    let page = GroupsPage {
        chrome: viewer.chrome("Asset Groups"),
        rows,
        next: more.then(|| page.last()).flatten().map(|g| {
            form_urlencoded::Serializer::new("/ui/asset-groups?".to_owned())
                .append_pair("cursor", &g.id)
                .finish()
        }),
        done: (q.done == "deleted").then_some("The asset group is deleted."),
    };
    super::render(StatusCode::OK, &page)
}

/// A group's form as typed.
#[derive(Default)]
pub struct GroupForm {
    pub title: String,
    pub ips: String,
    pub domains: String,
    pub appliances: BTreeSet<String>,
    pub units: BTreeSet<String>,
}

impl GroupForm {
    fn from_fields(f: &Fields) -> GroupForm {
        GroupForm {
            title: f.one("title"),
            ips: f.one("ips"),
            domains: f.one("domains"),
            appliances: f.all("scanner_appliances").into_iter().collect(),
            units: f.all("business_units").into_iter().collect(),
        }
    }

    fn of(g: &AssetGroup) -> GroupForm {
        GroupForm {
            title: g.title.clone(),
            ips: g.assets.ips.to_strings().join("\n"),
            domains: g
                .assets
                .domains
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            appliances: g.assets.scanner_appliances.clone(),
            units: g.business_units.clone(),
        }
    }

    fn assets(&self) -> Result<AssetSet, ApiError> {
        Ok(AssetSet {
            ips: parse_ips("ips", &items(&self.ips))?,
            domains: parse_domains("domains", &items(&self.domains))?,
            scanner_appliances: self.appliances.clone(),
        })
    }

    /// `POST /api/v1/asset-groups`: no unit ticked is a subscription-level
    /// group (a Unit Manager's own unit), as the API's omitted field is.
    fn new_group(&self) -> Result<NewGroup, ApiError> {
        Ok(NewGroup {
            title: self.title.clone(),
            assets: self.assets()?,
            business_units: (!self.units.is_empty()).then(|| self.units.clone()),
        })
    }

    /// `PATCH /api/v1/asset-groups/{id}`: appliances and units only when
    /// they changed, so a person who may not change them can save the rest.
    fn patch(&self, before: &AssetGroup) -> Result<GroupPatch, ApiError> {
        let a = self.assets()?;
        Ok(GroupPatch {
            title: Some(self.title.clone()),
            ips: Some(a.ips),
            domains: Some(a.domains),
            scanner_appliances: (a.scanner_appliances != before.assets.scanner_appliances)
                .then_some(a.scanner_appliances),
            business_units: (self.units != before.business_units).then(|| self.units.clone()),
        })
    }
}

#[derive(Template)]
#[template(path = "console/asset_group.html")]
struct GroupPage {
    chrome: Chrome,
    heading: String,
    id: Option<String>,
    csrf: String,
    form: GroupForm,
    error: FieldError,
    appliances: Vec<Choice>,
    units: Vec<Choice>,
    done: Option<&'static str>,
}

fn show(
    viewer: &Viewer,
    acting: &Acting<'_>,
    status: StatusCode,
    group: Option<&AssetGroup>,
    form: GroupForm,
    error: FieldError,
    done: Option<&'static str>,
) -> Response {
    let appliances = list_appliances(acting)
        .into_iter()
        .map(|a| Choice {
            selected: form.appliances.contains(&a.id),
            value: a.id.clone(),
            label: a.name.clone(),
        })
        .collect();
    let units = acting
        .state
        .units
        .values()
        .filter(|u| acting.may_see_unit(u))
        .map(|u| Choice {
            selected: form.units.contains(&u.id),
            value: u.id.clone(),
            label: u.name.clone(),
        })
        .collect();
    let page = GroupPage {
        chrome: viewer.chrome(if group.is_some() {
            "Asset group"
        } else {
            "New asset group"
        }),
        heading: group.map_or_else(|| "New asset group".to_owned(), |g| g.title.clone()),
        id: group.map(|g| g.id.clone()),
        csrf: viewer.csrf.clone(),
        form,
        error,
        appliances,
        units,
        done,
    };
    super::render(status, &page)
}

fn on_form(e: &ApiError) -> bool {
    e.status.is_client_error() && e.status != StatusCode::NOT_FOUND
}

/// `GET /ui/asset-groups/new`.
pub async fn new_page(State(app): State<App>, viewer: Viewer) -> Response {
    let state = app.store.snapshot();
    match Acting::of(&state, &viewer.user().id) {
        Ok(a) => show(
            &viewer,
            &a,
            StatusCode::OK,
            None,
            GroupForm::default(),
            FieldError::default(),
            None,
        ),
        Err(e) => api_error(&viewer, e.into()),
    }
}

/// `POST /ui/asset-groups/new`: `POST /api/v1/asset-groups`.
pub async fn create(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let form = GroupForm::from_fields(&f);
    let written = match form.new_group() {
        Ok(new) => {
            let id = crate::ids::new_id();
            app.store
                .write(viewer.caller.actor(), move |tx| {
                    groups::create_group(tx, id, new)
                })
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(g) => Redirect::to(&format!("/ui/asset-groups/{}?done=created", g.id)).into_response(),
        Err(e) if on_form(&e) => {
            let state = app.store.snapshot();
            match Acting::of(&state, &viewer.user().id) {
                Ok(a) => {
                    let status = e.status;
                    show(
                        &viewer,
                        &a,
                        status,
                        None,
                        form,
                        FieldError::of(e, &FIELDS),
                        None,
                    )
                }
                Err(e) => api_error(&viewer, e.into()),
            }
        }
        Err(e) => api_error(&viewer, e),
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `GET /ui/asset-groups/{id}`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let state = app.store.snapshot();
    let found =
        Acting::of(&state, &viewer.user().id).and_then(|a| Ok((groups::get_group(&a, &id)?, a)));
    let done = match d.done.as_str() {
        "created" => Some("The asset group is created."),
        "saved" => Some("Saved."),
        _ => None,
    };
    match found {
        Ok((g, a)) => show(
            &viewer,
            &a,
            StatusCode::OK,
            Some(g),
            GroupForm::of(g),
            FieldError::default(),
            done,
        ),
        Err(e) => api_error(&viewer, e.into()),
    }
}

/// `POST /ui/asset-groups/{id}`: `PATCH /api/v1/asset-groups/{id}`.
pub async fn save(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let form = GroupForm::from_fields(&f);
    let before = {
        let state = app.store.snapshot();
        Acting::of(&state, &viewer.user().id).and_then(|a| groups::get_group(&a, &id).cloned())
    };
    let before = match before {
        Ok(b) => b,
        Err(e) => return api_error(&viewer, e.into()),
    };
    let written = match form.patch(&before) {
        Ok(patch) => {
            let id = id.clone();
            app.store
                .write(viewer.caller.actor(), move |tx| {
                    groups::edit_group(tx, &id, patch)
                })
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(_) => Redirect::to(&format!("/ui/asset-groups/{id}?done=saved")).into_response(),
        Err(e) if on_form(&e) => {
            let state = app.store.snapshot();
            match Acting::of(&state, &viewer.user().id) {
                Ok(a) => {
                    let status = e.status;
                    show(
                        &viewer,
                        &a,
                        status,
                        Some(&before),
                        form,
                        FieldError::of(e, &FIELDS),
                        None,
                    )
                }
                Err(e) => api_error(&viewer, e.into()),
            }
        }
        Err(e) => api_error(&viewer, e),
    }
}

/// `POST /ui/asset-groups/{id}/delete`: `DELETE /api/v1/asset-groups/{id}`.
pub async fn delete(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    let deleted = app
        .store
        .write(viewer.caller.actor(), move |tx| {
            groups::delete_group(tx, &id)
        })
        .await;
    match deleted {
        Ok(_) => Redirect::to("/ui/asset-groups?done=deleted").into_response(),
        Err(e) => api_error(&viewer, e.into()),
    }
}
