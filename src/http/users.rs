//! Users (docs/api.md): list, create, view and edit. The rules are
//! `domain::users` and `domain::directory`; this file only translates.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::Caller;
use super::extract::{ApiJson, ApiQuery};
use super::problem::{ApiError, ApiResult, Problem};
use super::views::{Page, UserView};
use super::{App, Command};
use crate::domain::access::Acting;
use crate::domain::credentials::{Notice, NoticeKind};
use crate::domain::deletion::{self, Delete, Deleted};
use crate::domain::directory::{self, StatusFilter, UnitFilter, UserFilter};
use crate::domain::lifecycle::{self, Outcome};
use crate::domain::moving::{self, Move, Moved};
use crate::domain::users::{self, ActivationGrant, NewUser, UserPatch};
use crate::domain::{Access, Code, Id, Permission, Refusal, Role, Timestamp, Tx, User};
use crate::ids;

/// `Some(None)` for an explicit `null`, `None` (by `#[serde(default)]`)
/// when the field is absent: PATCH tells "clear it" from "leave it".
pub(crate) fn explicit_null<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The value `business_unit=` takes for users of no unit.
const UNASSIGNED: &str = "unassigned";

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// A unit id, or `unassigned`.
    business_unit: Option<String>,
    #[param(value_type = Option<String>, example = "scanner")]
    role: Option<Role>,
    /// `pending_activation`, `active`, `deactivated`, or `locked` (R8.2:
    /// the users a lock keeps out).
    #[param(value_type = Option<String>, example = "locked")]
    status: Option<String>,
    /// Case-insensitive part of the login, names or email.
    q: Option<String>,
    /// 1 to 1000; default 100.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List the users the caller may see (R10.1), oldest first.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(UserQuery),
    responses((status = 200, body = Page<UserView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_users(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<Json<Page<UserView>>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    let filter = UserFilter {
        business_unit: q.business_unit.map(|u| {
            if u == UNASSIGNED {
                UnitFilter::Unassigned
            } else {
                UnitFilter::Unit(u)
            }
        }),
        role: q.role,
        status: q.status.as_deref().map(StatusFilter::parse).transpose()?,
        q: q.q.filter(|s| !s.is_empty()),
    };
    let page = directory::list_users(&acting, &filter, q.limit, q.cursor.as_deref())?;
    Ok(Json(Page {
        items: page.items.into_iter().map(UserView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub(crate) login: String,
    pub(crate) email: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    #[schema(value_type = String, example = "scanner")]
    pub(crate) role: Role,
    /// Omitted or `null`: Unassigned.
    pub(crate) business_unit: Option<String>,
    #[serde(default)]
    pub(crate) asset_groups: Vec<String>,
    /// Omitted: the role's defaults (R5).
    #[schema(value_type = Option<Vec<String>>)]
    pub(crate) permissions: Option<BTreeSet<Permission>>,
    #[schema(value_type = Option<String>, example = "ui_and_api")]
    pub(crate) access: Option<Access>,
    pub(crate) external_id: Option<String>,
}

impl From<CreateUser> for NewUser {
    fn from(req: CreateUser) -> NewUser {
        NewUser {
            login: req.login,
            email: req.email,
            first_name: req.first_name,
            last_name: req.last_name,
            role: req.role,
            business_unit: req.business_unit,
            asset_groups: req.asset_groups,
            permissions: req.permissions,
            access: req.access.unwrap_or(Access::UiAndApi),
            external_id: req.external_id,
        }
    }
}

/// Create a user (R2, R7.1): it is `pending_activation` and is sent a
/// one-time activation link; Contacts (R2.5) are active and get no link.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, body = UserView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_user(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateUser>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = create(&app, &caller, NewUser::from(req)).await?;
    Ok((StatusCode::CREATED, Json(shown_to(&app, &caller, &user))))
}

/// Creates a user and queues its registration mail with a fresh activation
/// link (R7.1): one translation for the API and the console.
pub(crate) async fn create(app: &App, caller: &Caller, new: NewUser) -> ApiResult<User> {
    let expires_at = app
        .clock
        .now()
        .saturating_add(app.config.auth.activation_link_lifetime.0);
    let command = create_user_command(new, ids::new_id(), ids::new_token(), expires_at);
    let user = app.store.write(caller.actor(), command).await?;
    Ok(user)
}

/// `POST /users` as a command creating user `id` with activation link
/// `token` (valid until `expires_at`), its registration mail queued.
pub(crate) fn create_user_command(
    new: NewUser,
    id: Id,
    token: String,
    expires_at: Timestamp,
) -> impl Command<User> {
    let grant = ActivationGrant {
        token_hash: ids::token_hash(&token),
        expires_at,
    };
    move |tx: &mut Tx<'_>| {
        let user = users::create_user(tx, id, new, Some(grant))?;
        if user.role != Role::Contact {
            // The registration mail carries the link (R7.1, R12.1).
            tx.queue_notice(Notice::to_user(
                NoticeKind::Registration,
                user.id.clone(),
                Some(token),
            ));
        }
        Ok(user)
    }
}

/// One user, as the caller may see it; `not_found` if it may not (R10.1).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    Ok(Json(directory::get_user(&acting, &id)?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditUser {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) email: Option<String>,
    #[schema(value_type = Option<String>, example = "reader")]
    pub(crate) role: Option<Role>,
    /// `null` moves the user to Unassigned.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<String>)]
    pub(crate) business_unit: Option<Option<String>>,
    /// Replaces the list.
    pub(crate) asset_groups: Option<Vec<String>>,
    /// Replaces the list (R5.2).
    #[schema(value_type = Option<Vec<String>>)]
    pub(crate) permissions: Option<BTreeSet<Permission>>,
    #[schema(value_type = Option<String>, example = "api_only")]
    pub(crate) access: Option<Access>,
    /// `null` clears it (R5.3).
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<String>)]
    pub(crate) external_id: Option<Option<String>>,
    /// R8.6: a Manager lets an API-only account's password never expire
    /// (feature `api_password_never_expires`); the next password change ends it.
    pub(crate) password_never_expires: Option<bool>,
}

impl From<EditUser> for UserPatch {
    fn from(req: EditUser) -> UserPatch {
        UserPatch {
            first_name: req.first_name,
            last_name: req.last_name,
            email: req.email,
            role: req.role,
            business_unit: req.business_unit,
            asset_groups: req.asset_groups,
            permissions: req.permissions,
            access: req.access,
            external_id: req.external_id,
            password_never_expires: req.password_never_expires,
        }
    }
}

/// Edit a user: names, email, role, unit, asset groups, permissions, access,
/// external ID. Every rule of R2–R5 applies; a refusal changes nothing.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = EditUser,
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn edit_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EditUser>,
) -> ApiResult<Json<UserView>> {
    let user = edit(&app, &caller, id, UserPatch::from(req)).await?;
    Ok(Json(shown_to(&app, &caller, &user)))
}

pub(crate) async fn edit(
    app: &App,
    caller: &Caller,
    id: String,
    patch: UserPatch,
) -> ApiResult<User> {
    let user = app
        .store
        .write(caller.actor(), edit_user_command(patch, id))
        .await?;
    Ok(user)
}

/// `PATCH /users/{id}` as a command.
pub(crate) fn edit_user_command(patch: UserPatch, id: Id) -> impl Command<User> {
    move |tx: &mut Tx<'_>| users::edit_user(tx, &id, patch)
}

/// `user` as the caller sees it after a change. A caller that just edited
/// itself out of acting (say, out of its unit) still sees its own record.
pub(crate) fn shown_to(app: &App, caller: &Caller, user: &User) -> UserView {
    let state = app.store.snapshot();
    Acting::of(&state, &caller.user.id)
        .ok()
        .and_then(|a| directory::view(&a, user))
        .map(UserView::from)
        .unwrap_or_else(|| UserView::new(&state, user))
}

/// The commands that change whether a user may sign in (R7.3, R8.2), one
/// translation for the API's handlers and the console's buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusChange {
    Deactivate,
    Reactivate,
    Unlock,
}

impl StatusChange {
    pub(crate) const ALL: [StatusChange; 3] = [
        StatusChange::Deactivate,
        StatusChange::Reactivate,
        StatusChange::Unlock,
    ];

    /// The last part of its path, in the API and the console.
    pub(crate) fn path(self) -> &'static str {
        match self {
            StatusChange::Deactivate => "deactivate",
            StatusChange::Reactivate => "reactivate",
            StatusChange::Unlock => "unlock",
        }
    }

    /// The console's button.
    pub(crate) fn label(self) -> &'static str {
        match self {
            StatusChange::Deactivate => "Deactivate",
            StatusChange::Reactivate => "Reactivate",
            StatusChange::Unlock => "Unlock",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<StatusChange> {
        StatusChange::ALL.into_iter().find(|c| c.path() == s)
    }
}

pub(crate) async fn change_status(
    app: &App,
    caller: &Caller,
    id: String,
    change: StatusChange,
) -> ApiResult<User> {
    let user = app
        .store
        .write(caller.actor(), move |tx| match change {
            StatusChange::Deactivate => lifecycle::deactivate(tx, &id),
            StatusChange::Reactivate => lifecycle::reactivate(tx, &id),
            StatusChange::Unlock => lifecycle::unlock(tx, &id),
        })
        .await?;
    Ok(user)
}

/// Deactivate a user (R7.3): Managers only; never a primary contact or the
/// last active Manager. Its sessions end at once.
#[utoipa::path(post, path = "/api/v1/users/{id}/deactivate", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn deactivate_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = change_status(&app, &caller, id, StatusChange::Deactivate).await?;
    Ok(Json(shown_to(&app, &caller, &user)))
}

/// Reactivate a user (R7.3): Managers only; clears a lockout (R8.2). Of an
/// active but locked user it only clears the lock.
#[utoipa::path(post, path = "/api/v1/users/{id}/reactivate", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn reactivate_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = change_status(&app, &caller, id, StatusChange::Reactivate).await?;
    Ok(Json(shown_to(&app, &caller, &user)))
}

/// Unlock a user (R8.2): Managers, or the user's Unit Managers (those who
/// may reset its password, R7.2), clear its locks and failed attempts.
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn unlock_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UserView>> {
    let user = change_status(&app, &caller, id, StatusChange::Unlock).await?;
    Ok(Json(shown_to(&app, &caller, &user)))
}

/// One thing a move or delete did (R7.4, R7.5).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutcomeView {
    /// `asset_group`, `distribution_group`, or an object kind (R9.1).
    #[schema(example = "asset_group")]
    pub kind: String,
    pub id: String,
    pub name: String,
    /// `moved`, `linked`, `copied`, `kept`, `unassigned`, `deleted`,
    /// `transferred`, `reassigned`, `owner_cleared`, `assignee_reset`,
    /// `invalidated`, `revalidated`, `member_removed` or `needs_new_target` (moved
    /// with the user, but targeting assets it no longer reaches).
    #[schema(example = "copied")]
    pub action: String,
    /// The new owner, or the id of the copy.
    pub to: Option<String>,
}

impl From<&Outcome> for OutcomeView {
    fn from(o: &Outcome) -> OutcomeView {
        OutcomeView {
            kind: o.kind.to_owned(),
            id: o.id.clone(),
            name: o.name.clone(),
            action: o.fate.as_str().to_owned(),
            to: o.to.clone(),
        }
    }
}

/// The user after a move, or as it was before its deletion, with what
/// happened to everything it had.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LifecycleView {
    pub user: UserView,
    pub outcomes: Vec<OutcomeView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The new unit; `null` for Unassigned.
    #[serde(deserialize_with = "explicit_null")]
    #[schema(value_type = Option<String>)]
    business_unit: Option<Option<String>>,
    keep_configurations: bool,
    keep_asset_groups: bool,
}

impl MoveRequest {
    /// The domain's request; `business_unit` must be given (`null` included).
    pub(crate) fn into_move(self) -> Result<Move, ApiError> {
        let Some(business_unit) = self.business_unit else {
            return Err(Refusal::new(
                Code::Validation,
                "business_unit: give the new unit's id, or null for Unassigned",
            )
            .into());
        };
        Ok(Move {
            business_unit,
            keep_configurations: self.keep_configurations,
            keep_asset_groups: self.keep_asset_groups,
        })
    }
}

/// Move a user to another unit (R7.4): keep or delete its configurations;
/// keep its asset groups (moved, linked or copied) or none of them. The
/// response lists what was moved, linked, copied, deleted and invalidated.
#[utoipa::path(post, path = "/api/v1/users/{id}/move", tag = "users", request_body = MoveRequest,
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = LifecycleView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn move_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MoveRequest>,
) -> ApiResult<Json<LifecycleView>> {
    let moved = move_to(&app, &caller, id, req.into_move()?).await?;
    Ok(Json(LifecycleView {
        user: shown_to(&app, &caller, &moved.user),
        outcomes: moved.outcomes.iter().map(OutcomeView::from).collect(),
    }))
}

pub(crate) async fn move_to(
    app: &App,
    caller: &Caller,
    id: String,
    request: Move,
) -> ApiResult<Moved> {
    let moved = app
        .store
        .write(caller.actor(), move_user_command(request, id, ids::new_id))
        .await?;
    Ok(moved)
}

/// `POST /users/{id}/move` as a command; copies take their ids from
/// `fresh_id`.
pub(crate) fn move_user_command(
    request: Move,
    id: Id,
    mut fresh_id: impl FnMut() -> Id + Send + 'static,
) -> impl Command<Moved> {
    move |tx: &mut Tx<'_>| moving::move_user(tx, &id, request, &mut fresh_id)
}

#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteRequest {
    /// A user id: receives the deleted user's configurations (and its
    /// results, with `keep_results`).
    transfer_configurations_to: Option<String>,
    /// Keep its scan and map results instead of deleting them.
    keep_results: Option<bool>,
}

impl DeleteRequest {
    /// The query's options, completed by the body's.
    pub(crate) fn or(self, body: DeleteRequest) -> Delete {
        Delete {
            transfer_configurations_to: self
                .transfer_configurations_to
                .or(body.transfer_configurations_to)
                .filter(|t| !t.is_empty()),
            keep_results: self.keep_results.or(body.keep_results).unwrap_or(false),
        }
    }
}

/// Delete a user (R7.5) and settle what it owned: transferred, reassigned
/// to a primary contact, kept without owner, or deleted, each listed. The
/// options come as query parameters or in a JSON body.
#[utoipa::path(delete, path = "/api/v1/users/{id}", tag = "users", params(("id" = String, Path, description = "user id"), DeleteRequest),
    request_body(content = Option<DeleteRequest>, description = "the same options as the query, optionally"),
    responses((status = 200, body = LifecycleView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn delete_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DeleteRequest>,
    body: axum::body::Bytes,
) -> ApiResult<Json<LifecycleView>> {
    let (user, deleted) = delete(&app, &caller, id, q.or(delete_body(&body)?)).await?;
    Ok(Json(LifecycleView {
        user,
        outcomes: deleted.outcomes.iter().map(OutcomeView::from).collect(),
    }))
}

/// The optional body of `DELETE /users/{id}`: none (or only whitespace)
/// gives no options.
pub(crate) fn delete_body(body: &[u8]) -> ApiResult<DeleteRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(DeleteRequest::default())
    } else {
        super::extract::parse_json(body)
    }
}

/// Deletes a user; answers with the user as the caller saw it just before.
pub(crate) async fn delete(
    app: &App,
    caller: &Caller,
    id: String,
    request: Delete,
) -> ApiResult<(UserView, Deleted)> {
    let shown = {
        let state = app.store.snapshot();
        let a = Acting::of(&state, &caller.user.id)?;
        directory::get_user(&a, &id).ok().map(UserView::from)
    };
    let deleted = app
        .store
        .write(caller.actor(), delete_user_command(request, id))
        .await?;
    let user = shown.unwrap_or_else(|| UserView::new(&app.store.snapshot(), &deleted.user));
    Ok((user, deleted))
}

/// `DELETE /users/{id}` as a command.
pub(crate) fn delete_user_command(request: Delete, id: Id) -> impl Command<Deleted> {
    move |tx: &mut Tx<'_>| deletion::delete_user(tx, &id, request)
}
