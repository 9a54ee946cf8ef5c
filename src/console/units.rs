//! Business Units (R3, R4): the list, a new unit and a unit's page, through
//! the same `domain::units`, `domain::assets` and `domain::contacts`
//! commands as `/api/v1/business-units`.

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, FieldError, Fields, api_error};
use super::session::{CsrfForm, Viewer};
use super::users::Choice;
use crate::domain::access::Acting;
use crate::domain::units::{self, NewUnit, UnitFilter, UnitPatch};
use crate::domain::{
    AssetSet, BusinessUnit, EmailContact, State as Snapshot, UserStatus, assets, contacts, settings,
};
use crate::http::App;
use crate::http::assets::UnitAssetsRequest;
use crate::http::org::unit_assets_of;
use crate::http::problem::ApiError;

const FIELDS: [&str; 6] = [
    "name",
    "ips",
    "domains",
    "primary_contact",
    "contact_name",
    "contact_email",
];

/// A refusal beside its field; the primary-contact command names its
/// field `user`, which is this form's "Primary contact".
fn field_error(e: ApiError) -> FieldError {
    let field = if e.detail.starts_with("user: ") {
        Some("primary_contact")
    } else if e.detail.starts_with("email_contact.name") {
        Some("contact_name")
    } else if e.detail.starts_with("email_contact.email") {
        Some("contact_email")
    } else {
        None
    };
    let mut error = FieldError::of(e, &FIELDS);
    if let Some(f) = field {
        error.field = f;
    }
    error
}

pub struct UnitRow {
    pub id: String,
    pub name: String,
    pub contact: String,
    pub ips: String,
}

#[derive(Template)]
#[template(path = "console/units.html")]
struct UnitsPage {
    chrome: Chrome,
    rows: Vec<UnitRow>,
    may_create: bool,
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

fn contact_name(state: &Snapshot, u: &BusinessUnit) -> String {
    u.primary_contact
        .as_ref()
        .and_then(|id| state.users.get(id))
        .map_or_else(|| "none".to_owned(), crate::domain::access::name_of)
}

/// A unit's assigned IPs in a line ("none" when it has none).
fn ips_summary(a: &AssetSet) -> String {
    let ips = a.ips.to_strings();
    if ips.is_empty() {
        "none".into()
    } else {
        ips.join(", ")
    }
}

/// `GET /ui/business-units`: the units this person sees, paged.
pub async fn list(State(app): State<App>, viewer: Viewer, Query(q): Query<ListQuery>) -> Response {
    let state = app.store.snapshot();
    let page = Acting::of(&state, &viewer.user().id).and_then(|acting| {
        let cursor = Some(q.cursor.as_str()).filter(|c| !c.is_empty());
        let page = units::page_units(&acting, UnitFilter::default(), None, cursor)?;
        Ok((page, units::may_edit_units(&acting).is_ok()))
    });
    let (page, may_create) = match page {
        Ok(p) => p,
        Err(e) => return api_error(&viewer, e.into()),
    };
    let rows = page
        .items
        .iter()
        .map(|u| UnitRow {
            id: u.id.clone(),
            name: u.name.clone(),
            contact: contact_name(&state, u),
            ips: ips_summary(&assets::unit_assets(&state, &u.id)),
        })
        .collect();
    let page = UnitsPage {
        chrome: viewer.chrome("Business Units"),
        rows,
        may_create,
        next: page.next_cursor.map(|c| {
            form_urlencoded::Serializer::new("/ui/business-units?".to_owned())
                .append_pair("cursor", &c)
                .finish()
        }),
        done: (q.done == "deleted").then_some("The business unit is deleted."),
    };
    super::render(StatusCode::OK, &page)
}

/// A unit's form as typed.
#[derive(Default)]
pub struct UnitForm {
    pub name: String,
    /// One range or address per line.
    pub ips: String,
    pub domains: String,
    /// A user id; "" for none.
    pub primary_contact: String,
    /// The unit's own Email Contact (R10.2); both empty for none.
    pub contact_name: String,
    pub contact_email: String,
}

impl UnitForm {
    fn from_fields(f: &Fields) -> UnitForm {
        UnitForm {
            name: f.one("name"),
            ips: f.one("ips"),
            domains: f.one("domains"),
            primary_contact: f.one("primary_contact"),
            contact_name: f.one("contact_name").trim().to_owned(),
            contact_email: f.one("contact_email").trim().to_owned(),
        }
    }

    fn of(state: &Snapshot, u: &BusinessUnit) -> UnitForm {
        let a = assets::unit_assets(state, &u.id);
        UnitForm {
            name: u.name.clone(),
            ips: a.ips.to_strings().join("\n"),
            domains: a.domains.iter().cloned().collect::<Vec<_>>().join("\n"),
            primary_contact: u.primary_contact.clone().unwrap_or_default(),
            contact_name: u
                .email_contact
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            contact_email: u
                .email_contact
                .as_ref()
                .map(|c| c.email.clone())
                .unwrap_or_default(),
        }
    }

    /// The assets asked for, parsed as the API parses them; the unit's
    /// scanner appliances are kept as they are.
    fn assets(&self, current: &AssetSet) -> Result<AssetSet, ApiError> {
        let req = UnitAssetsRequest {
            ips: super::pages::items(&self.ips),
            domains: super::pages::items(&self.domains),
            scanner_appliances: current.scanner_appliances.iter().cloned().collect(),
        };
        Ok(unit_assets_of(Some(req))?.unwrap_or_default())
    }
}

#[derive(Template)]
#[template(path = "console/unit.html")]
struct UnitPage {
    chrome: Chrome,
    heading: String,
    /// `None` for a new unit.
    id: Option<String>,
    csrf: String,
    form: UnitForm,
    error: FieldError,
    /// The unit's active members, who may be its primary contact (R4.1).
    members: Vec<Choice>,
    /// Whether this person may set the unit's own Email Contact (R10.2).
    contact_overridable: bool,
    done: Option<&'static str>,
}

fn members(state: &Snapshot, unit: &str, selected: &str) -> Vec<Choice> {
    state
        .users
        .values()
        .filter(|u| u.business_unit.as_deref() == Some(unit) && u.status == UserStatus::Active)
        .map(|u| Choice {
            value: u.id.clone(),
            label: crate::domain::access::name_of(u),
            selected: u.id == selected,
        })
        .collect()
}

fn show(
    viewer: &Viewer,
    state: &Snapshot,
    status: StatusCode,
    unit: Option<&BusinessUnit>,
    form: UnitForm,
    error: FieldError,
    done: Option<&'static str>,
) -> Response {
    let page = UnitPage {
        chrome: viewer.chrome(if unit.is_some() {
            "Business unit"
        } else {
            "New business unit"
        }),
        heading: unit.map_or_else(|| "New business unit".to_owned(), |u| u.name.clone()),
        id: unit.map(|u| u.id.clone()),
        csrf: viewer.csrf.clone(),
        members: unit.map_or_else(Vec::new, |u| members(state, &u.id, &form.primary_contact)),
        contact_overridable: unit.is_some_and(|u| {
            Acting::of(state, &viewer.user().id)
                .is_ok_and(|a| settings::may_set_unit_email_contact(&a, u).is_ok())
        }),
        form,
        error,
        done,
    };
    super::render(status, &page)
}

/// `GET /ui/business-units/new`.
pub async fn new_page(State(app): State<App>, viewer: Viewer) -> Response {
    let state = app.store.snapshot();
    let allowed = Acting::of(&state, &viewer.user().id).and_then(|a| units::may_edit_units(&a));
    match allowed {
        Ok(()) => show(
            &viewer,
            &state,
            StatusCode::OK,
            None,
            UnitForm::default(),
            FieldError::default(),
            None,
        ),
        Err(e) => api_error(&viewer, e.into()),
    }
}

/// `POST /ui/business-units/new`: `POST /api/v1/business-units` with its
/// assets, in one transaction as the API does.
pub async fn create(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let form = UnitForm::from_fields(&f);
    let written = match form.assets(&AssetSet::default()) {
        Ok(assigned) => {
            let name = form.name.clone();
            let id = crate::ids::new_id();
            app.store
                .write(viewer.caller.actor(), move |tx| {
                    let unit = units::create_unit(
                        tx,
                        id,
                        NewUnit {
                            name,
                            new_ip_limit: None,
                        },
                    )?;
                    if !assigned.is_empty() {
                        assets::set_unit_assets(tx, &unit.id, assigned)?;
                    }
                    Ok(unit)
                })
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(u) => Redirect::to(&format!("/ui/business-units/{}?done=created", u.id)).into_response(),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let status = e.status;
            show(
                &viewer,
                &app.store.snapshot(),
                status,
                None,
                form,
                field_error(e),
                None,
            )
        }
        Err(e) => api_error(&viewer, e),
    }
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "created" => Some("The business unit is created."),
        "saved" => Some("Saved."),
        _ => None,
    }
}

/// `GET /ui/business-units/{id}`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let state = app.store.snapshot();
    let unit = Acting::of(&state, &viewer.user().id).and_then(|a| units::get_unit(&a, &id));
    match unit {
        Ok(u) => show(
            &viewer,
            &state,
            StatusCode::OK,
            Some(u),
            UnitForm::of(&state, u),
            FieldError::default(),
            done_message(&d.done),
        ),
        Err(e) => api_error(&viewer, e.into()),
    }
}

/// `POST /ui/business-units/{id}`: what changed of the name (`PATCH`), the
/// assets (`PUT .../assets`) and the primary contact (`PUT
/// .../primary-contact`), in one transaction: all of it or none.
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
    let form = UnitForm::from_fields(&f);
    let before = {
        let state = app.store.snapshot();
        Acting::of(&state, &viewer.user().id)
            .and_then(|a| units::get_unit(&a, &id).cloned())
            .map(|u| (assets::unit_assets(&state, &u.id), u))
    };
    let (current, before) = match before {
        Ok(b) => b,
        Err(e) => return api_error(&viewer, e.into()),
    };
    let written = match form.assets(&current) {
        Ok(wanted) => {
            let name = (form.name != before.name).then(|| form.name.clone());
            let contact = (form.primary_contact
                != before.primary_contact.clone().unwrap_or_default()
                && !form.primary_contact.is_empty())
            .then(|| form.primary_contact.clone());
            let typed = (form.contact_name.clone(), form.contact_email.clone());
            let own = before
                .email_contact
                .as_ref()
                .map(|c| (c.name.clone(), c.email.clone()))
                .unwrap_or_default();
            // Only a changed contact is set: the fields are absent for
            // those who may not set it, and unchanged otherwise.
            let email_contact = (f.has("contact_name") && typed != own).then(|| {
                (!typed.0.is_empty() || !typed.1.is_empty()).then_some(EmailContact {
                    name: typed.0,
                    email: typed.1,
                })
            });
            let id = id.clone();
            app.store
                .write(viewer.caller.actor(), move |tx| {
                    if let Some(c) = email_contact {
                        settings::set_unit_email_contact(tx, &id, c)?;
                    }
                    if name.is_some() {
                        units::update_unit(
                            tx,
                            &id,
                            UnitPatch {
                                name,
                                new_ip_limit: None,
                            },
                        )?;
                    }
                    if wanted != current {
                        assets::set_unit_assets(tx, &id, wanted)?;
                    }
                    if let Some(c) = contact {
                        contacts::set_unit_poc(tx, &id, &c)?;
                    }
                    Ok(())
                })
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => Redirect::to(&format!("/ui/business-units/{id}?done=saved")).into_response(),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let status = e.status;
            show(
                &viewer,
                &app.store.snapshot(),
                status,
                Some(&before),
                form,
                field_error(e),
                None,
            )
        }
        Err(e) => api_error(&viewer, e),
    }
}

/// `POST /ui/business-units/{id}/delete`: `DELETE /api/v1/business-units/{id}`.
pub async fn delete(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    let target = id.clone();
    let deleted = app
        .store
        .write(viewer.caller.actor(), move |tx| {
            units::delete_unit(tx, &target)
        })
        .await
        .map_err(ApiError::from);
    match deleted {
        Ok(_) => Redirect::to("/ui/business-units?done=deleted").into_response(),
        Err(e) if e.status.is_client_error() && e.status != StatusCode::NOT_FOUND => {
            let state = app.store.snapshot();
            let unit = Acting::of(&state, &viewer.user().id).and_then(|a| units::get_unit(&a, &id));
            match unit {
                Ok(u) => {
                    let status = e.status;
                    let error = FieldError {
                        field: "form",
                        detail: e.detail,
                    };
                    show(
                        &viewer,
                        &state,
                        status,
                        Some(u),
                        UnitForm::of(&state, u),
                        error,
                        None,
                    )
                }
                Err(e) => api_error(&viewer, e.into()),
            }
        }
        Err(e) => api_error(&viewer, e),
    }
}
