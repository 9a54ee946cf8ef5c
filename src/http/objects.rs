//! Owned objects (docs/api.md, R9): other services register their
//! objects with an owner; schedules ask before they launch (R9.3). The
//! rules are `domain::objects`; this file only translates.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::assets::{acting, paginate};
use super::extract::{ApiJson, ApiQuery};
use super::problem::{ApiError, ApiResult, Problem};
use super::services::{ObjectsScope, Principal, ScopedCaller};
use super::views::Page;
use super::{App, Command};
use crate::domain::assets::parse_ips;
use crate::domain::objects::{self, Launch, NewObject, ObjectFilter, ObjectPatch};
use crate::domain::services::Scope;
use crate::domain::{Assignee, Code, ObjectKind, OwnedObject, Refusal, Tx};
use crate::ids;

/// The `assignee` a policy falls back to (R7.5).
const USER_RUNNING_SCAN: &str = "user_running_scan";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectView {
    pub id: String,
    #[schema(example = "scheduled_scan")]
    pub kind: String,
    pub name: String,
    /// `null`: an authentication record whose owner was deleted (R7.5).
    pub owner: Option<String>,
    #[schema(example = "scanner")]
    pub created_by_role: String,
    /// `null`: Unassigned.
    pub business_unit: Option<String>,
    pub global: bool,
    pub asset_groups: Vec<String>,
    #[schema(example = json!(["10.0.0.1", "10.0.1.0/24"]))]
    pub ips: Vec<String>,
    /// Policies and tickets: a user id, or `user_running_scan` (policies).
    pub assignee: Option<String>,
    /// Tickets: `valid` or `invalid` (R9.2); `null` for other kinds.
    #[schema(example = "valid")]
    pub validity: Option<String>,
    /// Schedules: `active` or `deactivated` (R9.3); `null` for other kinds.
    #[schema(example = "active")]
    pub status: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&OwnedObject> for ObjectView {
    fn from(o: &OwnedObject) -> ObjectView {
        ObjectView {
            id: o.id.clone(),
            kind: o.kind.as_str().to_owned(),
            name: o.name.clone(),
            owner: o.owner.clone(),
            created_by_role: o.created_by_role.as_str().to_owned(),
            business_unit: o.business_unit.clone(),
            global: o.global,
            asset_groups: o.asset_groups.clone(),
            ips: o.ips.to_strings(),
            assignee: o.assignee.as_ref().map(|a| match a {
                Assignee::User(u) => u.clone(),
                Assignee::UserRunningScan => USER_RUNNING_SCAN.to_owned(),
            }),
            validity: (o.kind == ObjectKind::RemediationTicket)
                .then(|| if o.valid { "valid" } else { "invalid" }.to_owned()),
            status: o.kind.is_schedule().then(|| {
                if o.deactivated {
                    "deactivated"
                } else {
                    "active"
                }
                .to_owned()
            }),
            created_at: o.created_at.to_rfc3339(),
            updated_at: o.updated_at.to_rfc3339(),
        }
    }
}

fn kind(s: &str) -> Result<ObjectKind, ApiError> {
    s.parse()
        .map_err(|m: String| Refusal::new(Code::Validation, format!("kind: {m}")).into())
}

fn assignee(s: String) -> Assignee {
    if s == USER_RUNNING_SCAN {
        Assignee::UserRunningScan
    } else {
        Assignee::User(s)
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ObjectQuery {
    /// One kind of R9.1, e.g. `scheduled_scan`.
    pub kind: Option<String>,
    /// A user id.
    pub owner: Option<String>,
    /// 1 to 1000; default 100.
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// The objects the caller may see, oldest first (R9, R10.1).
#[utoipa::path(get, path = "/api/v1/objects", tag = "objects", params(ObjectQuery),
    responses((status = 200, body = Page<ObjectView>),
        (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn list_objects(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<ObjectsScope>,
    ApiQuery(q): ApiQuery<ObjectQuery>,
) -> ApiResult<Json<Page<ObjectView>>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    let filter = ObjectFilter {
        kind: q.kind.as_deref().map(kind).transpose()?,
        owner: q.owner,
    };
    let items = objects::list_objects(&a, &filter)
        .into_iter()
        .map(|o| (o.id.clone(), ObjectView::from(o)))
        .collect();
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewObjectRequest {
    #[schema(example = "scheduled_scan")]
    pub kind: String,
    pub name: String,
    /// A user id; omitted: the caller.
    pub owner: Option<String>,
    #[serde(default)]
    pub global: bool,
    #[serde(default)]
    pub asset_groups: Vec<String>,
    #[serde(default)]
    pub ips: Vec<String>,
    /// Policies and tickets: a user id, or `user_running_scan` (policies).
    pub assignee: Option<String>,
}

impl NewObjectRequest {
    /// The domain's command, or the field that is wrong.
    pub(crate) fn into_new(self) -> Result<NewObject, ApiError> {
        Ok(NewObject {
            kind: kind(&self.kind)?,
            name: self.name,
            owner: self.owner,
            global: self.global,
            asset_groups: self.asset_groups,
            ips: parse_ips("ips", &self.ips)?,
            assignee: self.assignee.map(assignee),
        })
    }
}

/// Register an object (R9.1), owned by the caller or, for Managers and Unit
/// Managers, by a user they name.
#[utoipa::path(post, path = "/api/v1/objects", tag = "objects", request_body = NewObjectRequest,
    responses((status = 201, body = ObjectView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn create_object(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<ObjectsScope>,
    ApiJson(req): ApiJson<NewObjectRequest>,
) -> ApiResult<(StatusCode, Json<ObjectView>)> {
    let o = app
        .store
        .write(caller.actor(), create_object_command(req, ids::new_id())?)
        .await?;
    Ok((StatusCode::CREATED, Json(ObjectView::from(&o))))
}

/// `POST /objects` as a command registering object `id`.
pub(crate) fn create_object_command(
    req: NewObjectRequest,
    id: String,
) -> ApiResult<impl Command<OwnedObject>> {
    let new = req.into_new()?;
    Ok(move |tx: &mut Tx<'_>| objects::create_object(tx, id, new))
}

/// One object; `not_found` for what the caller may not see.
#[utoipa::path(get, path = "/api/v1/objects/{id}", tag = "objects",
    params(("id" = String, Path, description = "object id")),
    responses((status = 200, body = ObjectView),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn get_object(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<ObjectsScope>,
    Path(id): Path<String>,
) -> ApiResult<Json<ObjectView>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    Ok(Json(ObjectView::from(objects::get_object(&a, &id)?)))
}

/// The remediation policies that apply to a unit (R5.5).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApplicablePolicies {
    /// `unit`: the unit's own, which win; `subscription`: the unit has none,
    /// so the subscription's apply; `none`: neither has any.
    #[schema(example = "unit")]
    pub level: String,
    /// Oldest first.
    pub policies: Vec<ObjectView>,
}

/// Which remediation policies apply to a unit: its own, else the
/// subscription's (R5.5). For whoever may see the unit.
#[utoipa::path(get, path = "/api/v1/business-units/{id}/remediation-policy", tag = "objects",
    params(("id" = String, Path, description = "business unit id")),
    responses((status = 200, body = ApplicablePolicies),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn unit_remediation_policy(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<ObjectsScope>,
    Path(id): Path<String>,
) -> ApiResult<Json<ApplicablePolicies>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    let (level, policies) = objects::remediation_policies_for(&a, &id)?;
    Ok(Json(ApplicablePolicies {
        level: level.as_str().to_owned(),
        policies: policies.into_iter().map(ObjectView::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditObjectRequest {
    pub name: Option<String>,
    /// Reassign (Managers; Unit Managers within their unit).
    pub owner: Option<String>,
    pub global: Option<bool>,
    /// Replaces the list.
    pub asset_groups: Option<Vec<String>>,
    /// Replaces the list.
    pub ips: Option<Vec<String>>,
    pub assignee: Option<String>,
    /// Schedules: `active` puts a deactivated schedule back in service.
    #[schema(example = "active")]
    pub status: Option<String>,
}

impl EditObjectRequest {
    /// The domain's patch, or the field that is wrong.
    pub(crate) fn into_patch(self) -> Result<ObjectPatch, ApiError> {
        let deactivated = match self.status.as_deref() {
            None => None,
            Some("active") => Some(false),
            Some("deactivated") => Some(true),
            Some(other) => {
                return Err(Refusal::new(
                    Code::Validation,
                    format!("status: {other:?} is neither \"active\" nor \"deactivated\""),
                )
                .into());
            }
        };
        Ok(ObjectPatch {
            name: self.name,
            owner: self.owner,
            global: self.global,
            asset_groups: self.asset_groups,
            ips: self
                .ips
                .as_deref()
                .map(|i| parse_ips("ips", i))
                .transpose()?,
            assignee: self.assignee.map(assignee),
            deactivated,
        })
    }
}

/// Edit an object: name, owner, global, targets, assignee, schedule status.
#[utoipa::path(patch, path = "/api/v1/objects/{id}", tag = "objects", request_body = EditObjectRequest,
    params(("id" = String, Path, description = "object id")),
    responses((status = 200, body = ObjectView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn edit_object(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<ObjectsScope>,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EditObjectRequest>,
) -> ApiResult<Json<ObjectView>> {
    let o = app
        .store
        .write(caller.actor(), edit_object_command(req, id)?)
        .await?;
    Ok(Json(ObjectView::from(&o)))
}

/// `PATCH /objects/{id}` as a command.
pub(crate) fn edit_object_command(
    req: EditObjectRequest,
    id: String,
) -> ApiResult<impl Command<OwnedObject>> {
    let patch = req.into_patch()?;
    Ok(move |tx: &mut Tx<'_>| objects::edit_object(tx, &id, patch))
}

/// Unregister an object.
#[utoipa::path(delete, path = "/api/v1/objects/{id}", tag = "objects",
    params(("id" = String, Path, description = "object id")),
    responses((status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn delete_object(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<ObjectsScope>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), move |tx| objects::delete_object(tx, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A schedule asks to launch (R9.3): 200 when it may; 409
/// `schedule_owner_deactivated` when its owner is deactivated, and the
/// schedule is then marked deactivated.
#[utoipa::path(post, path = "/api/v1/objects/{id}/launch", tag = "objects",
    params(("id" = String, Path, description = "schedule id")),
    responses((status = 200, body = ObjectView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn launch(
    State(app): State<App>,
    principal: Principal,
    headers: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<ObjectView>> {
    let actor = match principal {
        Principal::User(caller) => caller.actor(),
        // The scheduler launches for no one in particular: it may ask about
        // any schedule, and a named user's sight applies when it names one.
        Principal::Service(s) => {
            s.require(Scope::Objects)?;
            match s.on_behalf_of(&headers, &app.store.snapshot()) {
                Some(caller) => caller?.actor(),
                None => s.actor(),
            }
        }
    };
    match app
        .store
        .write(actor, move |tx| objects::launch(tx, &id))
        .await?
    {
        Launch::Allowed(o) => Ok(Json(ObjectView::from(&o))),
        Launch::OwnerDeactivated(o) => Err(Refusal::new(
            Code::ScheduleOwnerDeactivated,
            format!(
                "the owner of {} is deactivated; the schedule is deactivated until it is given to an active user",
                o.name
            ),
        )
        .into()),
    }
}
