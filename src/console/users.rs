//! Users (R10.1): the list with its filters, and a user's page. Both show
//! exactly what `GET /api/v1/users` and `GET /api/v1/users/{id}` show this
//! person, through the same `domain::directory` views.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, api_error};
use super::session::{CsrfForm, Viewer};
use crate::domain::access::Acting;
use crate::domain::directory::{self, StatusFilter, UnitFilter, UserFilter, UserView};
use crate::domain::{Role, State as Snapshot, UserStatus};
use crate::http::App;
use crate::http::problem::ApiError;
use crate::http::users::StatusChange;

/// One row of the Users table, in the words a person reads.
pub struct Row {
    pub id: String,
    pub name: String,
    /// Primary contact of the subscription or of its unit (the seed's `*`).
    pub contact: bool,
    pub login: String,
    pub role: &'static str,
    pub unit: String,
    pub status: &'static str,
    pub status_class: &'static str,
}

/// Whether a lock (R8.2) is what a person sees of the status: over Active
/// and Pending activation, since it is what keeps the person out.
fn shows_lock(status: UserStatus, locked: bool) -> bool {
    locked && status != UserStatus::Deactivated
}

/// The status a person sees.
pub fn status_title(status: UserStatus, locked: bool) -> &'static str {
    if shows_lock(status, locked) {
        "Locked"
    } else {
        status.title()
    }
}

/// The class that colours a status badge.
pub fn status_class(status: UserStatus, locked: bool) -> &'static str {
    if shows_lock(status, locked) {
        "locked"
    } else {
        status.as_str()
    }
}

pub fn unit_name(state: &Snapshot, unit: Option<&str>) -> String {
    match unit {
        None => "Unassigned".to_owned(),
        Some(id) => state
            .units
            .get(id)
            .map_or_else(|| id.to_owned(), |u| u.name.clone()),
    }
}

pub fn name_of(v: &UserView) -> String {
    super::pages::name_or_login(&v.first_name, &v.last_name, &v.login)
}

impl Row {
    fn new(state: &Snapshot, v: &UserView) -> Row {
        Row {
            id: v.id.clone(),
            name: name_of(v),
            contact: v.primary_contact.is_some(),
            login: v.login.clone(),
            role: v.role.title(),
            unit: unit_name(state, v.business_unit.as_deref()),
            status: status_title(v.status, v.locked),
            status_class: status_class(v.status, v.locked),
        }
    }
}

/// A choice in a filter's select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The units `acting` sees as choices of a form's "Business unit", with
/// Unassigned ("") first.
pub fn unit_choices(acting: &Acting<'_>, selected: &str) -> Vec<Choice> {
    std::iter::once(Choice {
        value: String::new(),
        label: "Unassigned".into(),
        selected: selected.is_empty(),
    })
    .chain(
        acting
            .state
            .units
            .values()
            .filter(|u| acting.may_see_unit(u))
            .map(|u| Choice {
                selected: selected == u.id,
                value: u.id.clone(),
                label: u.name.clone(),
            }),
    )
    .collect()
}

/// The ids of the users typed by login in `text` (one per line), among
/// those `acting` sees; an unknown login is refused as a value of `field`.
pub fn ids_of_logins(
    acting: &Acting<'_>,
    text: &str,
    field: &str,
) -> Result<Vec<String>, ApiError> {
    super::pages::items(text)
        .into_iter()
        .map(|login| {
            acting
                .state
                .user_by_login(&login)
                .filter(|u| acting.may_see_user(u))
                .map(|u| u.id.clone())
                .ok_or_else(|| {
                    ApiError::validation(format!(
                        "{field}: there is no user with the login {login}"
                    ))
                })
        })
        .collect()
}

/// The logins of `ids`, one per line, for a form.
pub fn logins_of(state: &Snapshot, ids: &[String]) -> String {
    ids.iter()
        .filter_map(|id| state.users.get(id))
        .map(|u| u.login.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The filters as the form sends them: empty means "any".
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    business_unit: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    cursor: String,
}

/// The value of the "Business unit" filter for users of no unit.
const UNASSIGNED: &str = "unassigned";

impl ListQuery {
    /// The same filter the API builds from `GET /api/v1/users`.
    fn filter(&self) -> Result<UserFilter, ApiError> {
        let role = match self.role.as_str() {
            "" => None,
            r => Some(
                Role::ALL
                    .into_iter()
                    .find(|x| x.as_str() == r)
                    .ok_or_else(|| ApiError::validation(format!("no role {r}")))?,
            ),
        };
        let status = match self.status.as_str() {
            "" => None,
            s => Some(StatusFilter::parse(s)?),
        };
        Ok(UserFilter {
            business_unit: match self.business_unit.as_str() {
                "" => None,
                UNASSIGNED => Some(UnitFilter::Unassigned),
                u => Some(UnitFilter::Unit(u.to_owned())),
            },
            role,
            status,
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
        })
    }
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    chrome: Chrome,
    rows: Vec<Row>,
    units: Vec<Choice>,
    roles: Vec<Choice>,
    statuses: Vec<Choice>,
    q: String,
    may_create: bool,
    /// The link to the next page, keeping the filters.
    next: Option<String>,
}

pub async fn list(State(app): State<App>, viewer: Viewer, Query(q): Query<ListQuery>) -> Response {
    let state = app.store.snapshot();
    let page = Acting::of(&state, &viewer.user().id)
        .map_err(ApiError::from)
        .and_then(|acting| {
            let filter = q.filter()?;
            let cursor = Some(q.cursor.as_str()).filter(|c| !c.is_empty());
            let page = directory::list_users(&acting, &filter, None, cursor)?;
            let units = std::iter::once(Choice {
                value: UNASSIGNED.into(),
                label: "Unassigned".into(),
                selected: q.business_unit == UNASSIGNED,
            })
            .chain(
                state
                    .units
                    .values()
                    .filter(|u| acting.may_see_unit(u))
                    .map(|u| Choice {
                        selected: q.business_unit == u.id,
                        value: u.id.clone(),
                        label: u.name.clone(),
                    }),
            )
            .collect();
            Ok((page, units, acting.may_manage_users()))
        });
    let (page, units, may_create) = match page {
        Ok(p) => p,
        Err(e) => return api_error(&viewer, e),
    };
    let next = page.next_cursor.as_ref().map(|c| {
        let mut url = form_urlencoded::Serializer::new(String::from("/ui/users?"));
        for (k, v) in [
            ("business_unit", &q.business_unit),
            ("role", &q.role),
            ("status", &q.status),
            ("q", &q.q),
            ("cursor", c),
        ] {
            if !v.is_empty() {
                url.append_pair(k, v);
            }
        }
        url.finish()
    });
    let page = UsersPage {
        chrome: viewer.chrome("Users"),
        rows: page.items.iter().map(|v| Row::new(&state, v)).collect(),
        units,
        roles: Role::ALL
            .into_iter()
            .map(|r| Choice {
                value: r.as_str().into(),
                label: r.title().into(),
                selected: q.role == r.as_str(),
            })
            .collect(),
        statuses: StatusFilter::ALL
            .into_iter()
            .map(|s| Choice {
                value: s.as_str().into(),
                label: s.title().into(),
                selected: q.status == s.as_str(),
            })
            .collect(),
        q: q.q.clone(),
        may_create,
        next,
    };
    super::render(StatusCode::OK, &page)
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    chrome: Chrome,
    name: String,
    row: Row,
    email: Option<String>,
    access: &'static str,
    external_id: Option<String>,
    groups: Option<Vec<String>>,
    permissions: Vec<&'static str>,
    contact: Option<&'static str>,
    restricted: bool,
}

#[derive(Deserialize)]
pub struct Done {
    #[serde(default)]
    done: String,
}

/// `POST /ui/users/{id}/{change}`: the same command as the API's
/// `POST /api/v1/users/{id}/{change}`; a refusal shows its detail.
pub async fn change_status(
    State(app): State<App>,
    viewer: Viewer,
    Path((id, change)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    let Some(c) = StatusChange::parse(&change) else {
        return api_error(&viewer, ApiError::not_found("no such page"));
    };
    match crate::http::users::change_status(&app, &viewer.caller, id.clone(), c).await {
        Ok(_) => Redirect::to(&format!("/ui/users/{id}?done={}", c.path())).into_response(),
        Err(e) => api_error(&viewer, e),
    }
}

/// `POST /ui/users/{id}/reset-password`: the API's administrator reset
/// (R7.2): a new one-time link by email, the lock cleared, sessions ended.
pub async fn reset_password(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(refused) = viewer.check_csrf(&form.csrf) {
        return *refused;
    }
    match crate::http::session::reset_by_administrator(&app, &viewer.caller, id.clone()).await {
        Ok(_) => Redirect::to(&format!("/ui/users/{id}?done=reset-password")).into_response(),
        Err(e) => api_error(&viewer, e),
    }
}

/// How a user's page names its primary-contact role (R4).
pub fn contact_title(p: crate::domain::contacts::PocLabel) -> &'static str {
    match p {
        crate::domain::contacts::PocLabel::Poc => "Primary contact of the subscription",
        crate::domain::contacts::PocLabel::PocBu => "Primary contact of its business unit",
    }
}

pub async fn show(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Response {
    let state = app.store.snapshot();
    let view = Acting::of(&state, &viewer.user().id)
        .and_then(|acting| Ok((directory::get_user(&acting, &id)?, acting)));
    let (v, acting) = match view {
        Ok(v) => v,
        Err(e) => return api_error(&viewer, e.into()),
    };
    if super::user_form::edits(&acting, &v) {
        let form = super::user_form::current_form(&acting, &v);
        return super::user_form::show_existing(
            &viewer,
            &acting,
            &v,
            StatusCode::OK,
            form,
            Default::default(),
            &done.done,
        );
    }
    let groups = v.asset_groups.as_ref().map(|ids| {
        ids.iter()
            .map(|g| {
                state
                    .asset_groups
                    .get(g)
                    .map_or_else(|| g.clone(), |g| g.title.clone())
            })
            .collect()
    });
    let page = UserPage {
        chrome: viewer.chrome("User"),
        name: name_of(&v),
        row: Row::new(&state, &v),
        email: v.email.clone(),
        access: match v.access {
            crate::domain::Access::UiAndApi => "UI and API",
            crate::domain::Access::ApiOnly => "API only",
        },
        external_id: v.external_id.clone(),
        groups,
        permissions: v.permissions.iter().map(|p| p.as_str()).collect(),
        contact: v.primary_contact.map(contact_title),
        restricted: v.restricted,
    };
    super::render(StatusCode::OK, &page)
}
