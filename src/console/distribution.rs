//! Distribution Groups (R12.1) and Send Notification: the lists of people
//! and addresses a notification goes to, and the form that sends one. The
//! same `domain::groups` commands and `notify::send_notification` as
//! `/api/v1/distribution-groups` and `POST /api/v1/notifications`; members
//! are typed by login and must be users the sender sees (R10.1).

use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, FieldError, Fields, api_error, items};
use super::session::{CsrfForm, Viewer};
use super::users::{Choice, ids_of_logins, logins_of};
use crate::domain::access::Acting;
use crate::domain::groups::{self, DistributionPatch, NewDistribution};
use crate::domain::{Code, DistributionGroup, NotificationKind, Refusal, State as Snapshot};
use crate::http::App;
use crate::http::problem::ApiError;
use crate::notify::{NotificationRequest, send_notification};

const FIELDS: [&str; 3] = ["name", "members", "emails"];

pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub members: usize,
    pub emails: usize,
}

/// A group's form as typed: members are logins, one per line.
#[derive(Default)]
pub struct GroupForm {
    pub name: String,
    pub members: String,
    pub emails: String,
}

impl GroupForm {
    fn from_fields(f: &Fields) -> GroupForm {
        GroupForm {
            name: f.one("name"),
            members: f.one("members"),
            emails: f.one("emails"),
        }
    }

    fn of(state: &Snapshot, g: &DistributionGroup) -> GroupForm {
        GroupForm {
            name: g.name.clone(),
            members: logins_of(state, &g.members),
            emails: g.emails.join("\n"),
        }
    }
}

#[derive(Template)]
#[template(path = "console/distribution_groups.html")]
struct ListPage {
    chrome: Chrome,
    rows: Vec<GroupRow>,
    csrf: String,
    form: GroupForm,
    error: FieldError,
    done: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "console/distribution_group.html")]
struct GroupPage {
    chrome: Chrome,
    id: String,
    heading: String,
    csrf: String,
    form: GroupForm,
    error: FieldError,
    done: Option<&'static str>,
}

#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    done: String,
}

fn on_form(e: &ApiError) -> bool {
    e.status.is_client_error()
        && e.status != StatusCode::NOT_FOUND
        && e.status != StatusCode::FORBIDDEN
}

fn list_page(
    app: &App,
    viewer: &Viewer,
    status: StatusCode,
    form: GroupForm,
    error: FieldError,
    done: Option<&'static str>,
) -> Response {
    let state = app.store.snapshot();
    let found = Acting::of(&state, &viewer.user().id)
        .and_then(|a| groups::readable_distribution_groups(&a).map(|gs| (gs, a)));
    let (found, acting) = match found {
        Ok(f) => f,
        Err(e) => return api_error(viewer, e.into()),
    };
    let rows = found
        .into_iter()
        .map(|g| {
            let shown = groups::shown_distribution(&acting, g);
            GroupRow {
                id: g.id.clone(),
                name: g.name.clone(),
                members: shown.members.len(),
                emails: shown.emails.len(),
            }
        })
        .collect();
    let page = ListPage {
        chrome: viewer.chrome("Distribution Groups"),
        rows,
        csrf: viewer.csrf.clone(),
        form,
        error,
        done,
    };
    super::render(status, &page)
}

/// `GET /ui/distribution-groups`.
pub async fn list(State(app): State<App>, viewer: Viewer, Query(d): Query<Done>) -> Response {
    let done = (d.done == "deleted").then_some("The distribution group is deleted.");
    list_page(
        &app,
        &viewer,
        StatusCode::OK,
        GroupForm::default(),
        FieldError::default(),
        done,
    )
}

/// `POST /ui/distribution-groups`: `POST /api/v1/distribution-groups`.
pub async fn create(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let form = GroupForm::from_fields(&f);
    let members = {
        let state = app.store.snapshot();
        Acting::of(&state, &viewer.user().id)
            .map_err(ApiError::from)
            .and_then(|a| ids_of_logins(&a, &form.members, "members"))
    };
    let written = match members {
        Ok(members) => {
            let new = NewDistribution {
                name: form.name.trim().to_owned(),
                members,
                emails: items(&form.emails),
            };
            let id = crate::ids::new_id();
            app.store
                .write(viewer.caller.actor(), move |tx| {
                    groups::create_distribution_group(tx, id, new)
                })
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(g) => {
            Redirect::to(&format!("/ui/distribution-groups/{}?done=created", g.id)).into_response()
        }
        Err(e) if on_form(&e) => {
            let status = e.status;
            list_page(
                &app,
                &viewer,
                status,
                form,
                FieldError::of(e, &FIELDS),
                None,
            )
        }
        Err(e) => api_error(&viewer, e),
    }
}

/// The group `id` as `viewer` may read it.
fn readable<'s>(
    state: &'s Snapshot,
    viewer: &Viewer,
    id: &str,
) -> Result<(Acting<'s>, DistributionGroup), ApiError> {
    let acting = Acting::of(state, &viewer.user().id)?;
    let g = groups::readable_distribution_groups(&acting)?
        .into_iter()
        .find(|g| g.id == id)
        .ok_or_else(|| ApiError::not_found(format!("no distribution group {id}")))?;
    let shown = groups::shown_distribution(&acting, g);
    Ok((acting, shown))
}

fn group_page(
    viewer: &Viewer,
    status: StatusCode,
    g: &DistributionGroup,
    form: GroupForm,
    error: FieldError,
    done: Option<&'static str>,
) -> Response {
    let page = GroupPage {
        chrome: viewer.chrome("Distribution group"),
        id: g.id.clone(),
        heading: g.name.clone(),
        csrf: viewer.csrf.clone(),
        form,
        error,
        done,
    };
    super::render(status, &page)
}

/// `GET /ui/distribution-groups/{id}`.
pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let state = app.store.snapshot();
    let done = match d.done.as_str() {
        "created" => Some("The distribution group is created."),
        "saved" => Some("Saved."),
        _ => None,
    };
    match readable(&state, &viewer, &id) {
        Ok((_, g)) => group_page(
            &viewer,
            StatusCode::OK,
            &g,
            GroupForm::of(&state, &g),
            FieldError::default(),
            done,
        ),
        Err(e) => api_error(&viewer, e),
    }
}

/// `POST /ui/distribution-groups/{id}`: `PATCH /api/v1/distribution-groups/{id}`.
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
        readable(&state, &viewer, &id)
            .map(|(a, g)| (ids_of_logins(&a, &form.members, "members"), g))
    };
    let (members, before) = match before {
        Ok(b) => b,
        Err(e) => return api_error(&viewer, e),
    };
    let hidden: Vec<String> = {
        let state = app.store.snapshot();
        state
            .distribution_groups
            .get(&id)
            .map(|g| {
                g.members
                    .iter()
                    .filter(|m| !before.members.contains(m))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    let written = match members {
        Ok(members) => {
            let patch = DistributionPatch {
                name: Some(form.name.trim().to_owned()).filter(|n| *n != before.name),
                // The list replaces the members, as in the API; those this
                // person was not shown (R10.1) go back with it.
                members: Some(members.into_iter().chain(hidden).collect()),
                emails: Some(items(&form.emails)),
            };
            let id = id.clone();
            app.store
                .write(viewer.caller.actor(), move |tx| {
                    groups::edit_distribution_group(tx, &id, patch)
                })
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match written {
        Ok(_) => Redirect::to(&format!("/ui/distribution-groups/{id}?done=saved")).into_response(),
        Err(e) if on_form(&e) => {
            let status = e.status;
            group_page(
                &viewer,
                status,
                &before,
                form,
                FieldError::of(e, &FIELDS),
                None,
            )
        }
        Err(e) => api_error(&viewer, e),
    }
}

/// `POST /ui/distribution-groups/{id}/delete`.
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
            groups::delete_distribution_group(tx, &id)
        })
        .await;
    match deleted {
        Ok(_) => Redirect::to("/ui/distribution-groups?done=deleted").into_response(),
        Err(e) => api_error(&viewer, e.into()),
    }
}

// ---- Send Notification ------------------------------------------------------

const NOTICE_FIELDS: [&str; 4] = ["to_users", "to_distribution_groups", "subject", "body"];

#[derive(Template)]
#[template(path = "console/notification.html")]
struct NotificationPage {
    chrome: Chrome,
    csrf: String,
    to_users: String,
    groups: Vec<Choice>,
    /// The kinds of notification (R12.1), the one being sent selected.
    kinds: Vec<Choice>,
    subject: String,
    body: String,
    error: FieldError,
    /// After sending: what was queued and what was left out.
    sent: Option<Sent>,
}

pub struct Sent {
    pub queued: usize,
    pub skipped: Vec<String>,
}

fn notification_page(
    app: &App,
    viewer: &Viewer,
    status: StatusCode,
    f: Option<&Fields>,
    error: FieldError,
    sent: Option<Sent>,
) -> Response {
    let state = app.store.snapshot();
    let chosen = f
        .map(|f| f.all("to_distribution_groups"))
        .unwrap_or_default();
    let groups = Acting::of(&state, &viewer.user().id)
        .and_then(|a| groups::readable_distribution_groups(&a))
        .map(|gs| {
            gs.into_iter()
                .map(|g| Choice {
                    selected: chosen.contains(&g.id),
                    value: g.id.clone(),
                    label: g.name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let typed = |name: &str| f.map(|f| f.one(name)).unwrap_or_default();
    let kind = typed("kind");
    let kinds = NotificationKind::ALL
        .into_iter()
        .map(|k| Choice {
            selected: k.as_str() == kind,
            value: k.as_str().to_owned(),
            label: k.title().to_owned(),
        })
        .collect();
    let page = NotificationPage {
        chrome: viewer.chrome("Send Notification"),
        csrf: viewer.csrf.clone(),
        to_users: typed("to_users"),
        groups,
        kinds,
        subject: typed("subject"),
        body: typed("body"),
        error,
        sent,
    };
    super::render(status, &page)
}

/// `GET /ui/notifications/new`.
pub async fn new_notification(State(app): State<App>, viewer: Viewer) -> Response {
    notification_page(
        &app,
        &viewer,
        StatusCode::OK,
        None,
        FieldError::default(),
        None,
    )
}

/// `POST /ui/notifications/new`: `POST /api/v1/notifications`.
pub async fn send(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let to_users = {
        let state = app.store.snapshot();
        Acting::of(&state, &viewer.user().id)
            .map_err(ApiError::from)
            .and_then(|a| ids_of_logins(&a, &f.one("to_users"), "to_users"))
    };
    let kind = match f.one("kind").as_str() {
        "" => Ok(NotificationKind::default()),
        k => k
            .parse::<NotificationKind>()
            .map_err(|e| ApiError::from(Refusal::new(Code::Validation, format!("kind: {e}")))),
    };
    let sent = match to_users.and_then(|users| Ok((users, kind?))) {
        Ok((to_users, kind)) => {
            let request = NotificationRequest {
                kind,
                to_users,
                to_distribution_groups: f.all("to_distribution_groups"),
                subject: f.one("subject"),
                body: f.one("body"),
            };
            app.store
                .write(viewer.caller.actor(), move |tx| {
                    send_notification(tx, request)
                })
                .await
                .map_err(ApiError::from)
        }
        Err(e) => Err(e),
    };
    match sent {
        Ok(out) => {
            let state = app.store.snapshot();
            let sent = Sent {
                queued: out.queued.len() + out.queued_addresses.len(),
                skipped: out
                    .skipped
                    .into_iter()
                    .map(|s| {
                        let who = s
                            .user
                            .as_deref()
                            .and_then(|id| state.users.get(id))
                            .map(crate::domain::access::name_of)
                            .or(s.address)
                            .unwrap_or_default();
                        format!("{who}: {}", s.reason)
                    })
                    .collect(),
            };
            notification_page(
                &app,
                &viewer,
                StatusCode::OK,
                None,
                FieldError::default(),
                Some(sent),
            )
        }
        Err(e) if on_form(&e) => {
            let status = e.status;
            notification_page(
                &app,
                &viewer,
                status,
                Some(&f),
                FieldError::of(e, &NOTICE_FIELDS),
                None,
            )
        }
        Err(e) => api_error(&viewer, e),
    }
}
