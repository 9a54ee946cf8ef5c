//! Organisation (docs/api.md): business units, primary contacts,
//! subscription settings and account info. Rules live in `domain::units`,
//! `domain::contacts` and `domain::settings`; this file only translates.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::assets::{AssetsView, UnitAssetsRequest};
use super::caller::Caller;
use super::extract::{ApiJson, ApiQuery};
use super::problem::{ApiError, ApiResult, Problem};
use super::users::{explicit_null, shown_to};
use super::views::{Page, UserView, snake};
use super::{App, Command};
use crate::domain::Tx;
use crate::domain::access::Acting;
use crate::domain::units::{self, NewUnit, UnitPatch};
use crate::domain::{
    AssetSet, BusinessUnit, EmailContact, SecuritySettings, User, VisibilitySettings, assets,
    contacts, settings,
};
use crate::ids;

/// A business unit (R3).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitView {
    pub id: String,
    pub name: String,
    /// The unit's primary contact (R4.1), a user id.
    pub primary_contact: Option<String>,
    /// New IPs its Unit Managers may add while the subscription switch is on (R3.2).
    pub new_ip_limit: Option<u64>,
    /// New IPs its Unit Managers have added so far (R3.2).
    pub new_ips_added: u64,
    /// How many more they may add now; `null` while no limit applies (no
    /// limit set, or the subscription switch off).
    pub new_ips_remaining: Option<u64>,
    /// The unit's own Email Contact (R10.2).
    pub email_contact: Option<ContactView>,
    /// Subscription assets assigned to the unit (R3.1), without its groups'.
    pub assets: AssetsView,
    pub created_at: String,
}

impl UnitView {
    pub fn new(state: &crate::domain::State, u: &BusinessUnit) -> UnitView {
        let usage = crate::domain::units::new_ip_usage(state, &u.id);
        UnitView {
            id: u.id.clone(),
            name: u.name.clone(),
            primary_contact: u.primary_contact.clone(),
            new_ip_limit: u.new_ip_limit,
            new_ips_added: usage.added,
            new_ips_remaining: usage.remaining,
            email_contact: u.email_contact.clone().map(ContactView::from),
            assets: AssetsView::new(&assets::unit_assets(state, &u.id)),
            created_at: u.created_at.to_rfc3339(),
        }
    }

    /// After a change: the unit as the store now holds it.
    fn now(app: &App, u: &BusinessUnit) -> UnitView {
        UnitView::new(&app.store.snapshot(), u)
    }
}

/// `assets` of a unit request: parsed before the write, so a bad item is
/// named and nothing is stored.
pub(crate) fn unit_assets_of(req: Option<UnitAssetsRequest>) -> Result<Option<AssetSet>, ApiError> {
    req.map(|r| {
        Ok(AssetSet {
            ips: assets::parse_ips("assets.ips", &r.ips)?,
            domains: assets::parse_domains("assets.domains", &r.domains)?,
            scanner_appliances: r.scanner_appliances.into_iter().collect(),
        })
    })
    .transpose()
}

/// A name and an address notifications show (R10.2).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactView {
    pub name: String,
    pub email: String,
}

impl From<EmailContact> for ContactView {
    fn from(c: EmailContact) -> ContactView {
        ContactView {
            name: c.name,
            email: c.email,
        }
    }
}

impl From<ContactView> for EmailContact {
    fn from(c: ContactView) -> EmailContact {
        EmailContact {
            name: c.name,
            email: c.email,
        }
    }
}

const PROBLEM: &str = "application/problem+json";

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UnitQuery {
    /// `true`: only units with no primary contact yet (R4.1).
    without_primary_contact: Option<bool>,
    /// 1 to 1000; default 100.
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Business units the caller may see: all for Managers and User
/// Administrators, its own for everyone else; paged like every list.
#[utoipa::path(get, path = "/api/v1/business-units", tag = "organisation", params(UnitQuery),
    responses((status = 200, body = Page<UnitView>),
        (status = 400, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_units(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(q): ApiQuery<UnitQuery>,
) -> ApiResult<Json<Page<UnitView>>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    let filter = units::UnitFilter {
        without_primary_contact: q.without_primary_contact.unwrap_or(false),
    };
    let page = units::page_units(&acting, filter, q.limit, q.cursor.as_deref())?;
    Ok(Json(Page {
        items: page
            .items
            .into_iter()
            .map(|u| UnitView::new(&state, u))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUnit {
    pub(crate) name: String,
    pub(crate) new_ip_limit: Option<u64>,
    /// Subscription assets to assign (R3.1; Managers).
    pub(crate) assets: Option<UnitAssetsRequest>,
}

/// Create a business unit (R3.1): Managers and User Administrators; not
/// under `express_lite`.
#[utoipa::path(post, path = "/api/v1/business-units", tag = "organisation", request_body = CreateUnit,
    responses((status = 201, body = UnitView),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 409, body = Problem, content_type = PROBLEM),
        (status = 422, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_unit(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<CreateUnit>,
) -> ApiResult<(StatusCode, Json<UnitView>)> {
    let command = create_unit_command(req, ids::new_id())?;
    let unit = app.store.write(caller.actor(), command).await?;
    Ok((StatusCode::CREATED, Json(UnitView::now(&app, &unit))))
}

/// `POST /business-units` as a command creating unit `id`; the assets are
/// parsed first, so a bad item is named and nothing is stored.
pub(crate) fn create_unit_command(
    req: CreateUnit,
    id: String,
) -> Result<impl Command<BusinessUnit>, ApiError> {
    let assigned = unit_assets_of(req.assets)?;
    let new = NewUnit {
        name: req.name,
        new_ip_limit: req.new_ip_limit,
    };
    Ok(move |tx: &mut Tx<'_>| {
        let unit = units::create_unit(tx, id, new)?;
        // One transaction: a refused assignment leaves no unit behind.
        if let Some(a) = assigned {
            assets::set_unit_assets(tx, &unit.id, a)?;
        }
        Ok(unit)
    })
}

/// One business unit; `not_found` when the caller may not see it.
#[utoipa::path(get, path = "/api/v1/business-units/{id}", tag = "organisation",
    params(("id" = String, Path, description = "business unit id")),
    responses((status = 200, body = UnitView), (status = 404, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_unit(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<UnitView>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    Ok(Json(UnitView::new(&state, units::get_unit(&acting, &id)?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditUnit {
    pub(crate) name: Option<String>,
    /// `null` removes the limit.
    #[serde(default, deserialize_with = "explicit_null")]
    #[schema(value_type = Option<u64>)]
    pub(crate) new_ip_limit: Option<Option<u64>>,
    /// Replaces the assigned subscription assets (R3.1; Managers).
    pub(crate) assets: Option<UnitAssetsRequest>,
}

/// Rename a unit or change its new-IP limit (R3.1, R3.2).
#[utoipa::path(patch, path = "/api/v1/business-units/{id}", tag = "organisation", request_body = EditUnit,
    params(("id" = String, Path, description = "business unit id")),
    responses((status = 200, body = UnitView),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 409, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn edit_unit(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EditUnit>,
) -> ApiResult<Json<UnitView>> {
    let command = edit_unit_command(req, id)?;
    let unit = app.store.write(caller.actor(), command).await?;
    Ok(Json(UnitView::now(&app, &unit)))
}

/// `PATCH /business-units/{id}` as a command: the unit updated (or, with
/// neither name nor limit given, as it is), then its assets replaced.
pub(crate) fn edit_unit_command(
    req: EditUnit,
    id: String,
) -> Result<impl Command<BusinessUnit>, ApiError> {
    let assigned = unit_assets_of(req.assets)?;
    let patch = UnitPatch {
        name: req.name,
        new_ip_limit: req.new_ip_limit,
    };
    Ok(move |tx: &mut Tx<'_>| {
        let unit = if patch.name.is_some() || patch.new_ip_limit.is_some() {
            units::update_unit(tx, &id, patch)?
        } else {
            let acting = Acting::from_tx(tx)?;
            units::get_unit(&acting, &id)?.clone()
        };
        if let Some(a) = assigned {
            assets::set_unit_assets(tx, &unit.id, a)?;
        }
        Ok(unit)
    })
}

/// Delete an empty unit (R3.1): Managers only; `business_unit_not_empty`
/// while users remain.
#[utoipa::path(delete, path = "/api/v1/business-units/{id}", tag = "organisation",
    params(("id" = String, Path, description = "business unit id")),
    responses((status = 204),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM),
        (status = 409, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn delete_unit(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), move |tx| units::delete_unit(tx, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{user}`: the primary contact.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrimaryContact {
    /// A user id; `null` only before one is set.
    user: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPrimaryContact {
    /// A user id.
    pub(crate) user: String,
}

/// The subscription's primary contact (R4.2, R4.3).
#[utoipa::path(get, path = "/api/v1/primary-contact", tag = "organisation",
    responses((status = 200, body = PrimaryContact), (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_primary_contact(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<PrimaryContact>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    let poc = contacts::view_subscription_poc(&acting)?;
    Ok(Json(PrimaryContact {
        user: poc.map(|u| u.id.clone()),
    }))
}

/// Make an active Manager the subscription's primary contact (R4.2; with
/// `primary_contact_exclusive`, only the current contact hands it over).
#[utoipa::path(put, path = "/api/v1/primary-contact", tag = "organisation", request_body = SetPrimaryContact,
    responses((status = 200, body = UserView),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_primary_contact(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<SetPrimaryContact>,
) -> ApiResult<Json<UserView>> {
    let user = app
        .store
        .write(caller.actor(), set_primary_contact_command(req))
        .await?;
    Ok(Json(shown_to(&app, &caller, &user)))
}

/// `PUT /primary-contact` as a command.
pub(crate) fn set_primary_contact_command(req: SetPrimaryContact) -> impl Command<User> {
    move |tx: &mut Tx<'_>| contacts::set_subscription_poc(tx, &req.user)
}

/// Make an active member of the unit its primary contact (R4.2, R4.3).
#[utoipa::path(put, path = "/api/v1/business-units/{id}/primary-contact", tag = "organisation",
    request_body = SetPrimaryContact,
    params(("id" = String, Path, description = "business unit id")),
    responses((status = 200, body = UserView),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_unit_primary_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SetPrimaryContact>,
) -> ApiResult<Json<UserView>> {
    let user = app
        .store
        .write(caller.actor(), set_unit_primary_contact_command(req, id))
        .await?;
    Ok(Json(shown_to(&app, &caller, &user)))
}

/// `PUT /business-units/{id}/primary-contact` as a command.
pub(crate) fn set_unit_primary_contact_command(
    req: SetPrimaryContact,
    id: String,
) -> impl Command<User> {
    move |tx: &mut Tx<'_>| contacts::set_unit_poc(tx, &id, &req.user)
}

/// Security settings (R8.5): defaults false, 0 (never), 5, 8, false.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    pub(crate) user_defined_passwords: bool,
    /// 0 = never; at most 3650.
    pub(crate) password_expiration_days: u32,
    /// 1 to 100.
    pub(crate) lockout_threshold: u32,
    /// 8 to 128.
    pub(crate) min_password_length: u32,
    /// Changed by the subscription primary contact only.
    pub(crate) external_ids_enabled: bool,
}

impl From<SecuritySettings> for Security {
    fn from(s: SecuritySettings) -> Security {
        Security {
            user_defined_passwords: s.user_defined_passwords,
            password_expiration_days: s.password_expiration_days,
            lockout_threshold: s.lockout_threshold,
            min_password_length: s.min_password_length,
            external_ids_enabled: s.external_ids_enabled,
        }
    }
}

impl From<Security> for SecuritySettings {
    fn from(s: Security) -> SecuritySettings {
        SecuritySettings {
            user_defined_passwords: s.user_defined_passwords,
            password_expiration_days: s.password_expiration_days,
            lockout_threshold: s.lockout_threshold,
            min_password_length: s.min_password_length,
            external_ids_enabled: s.external_ids_enabled,
        }
    }
}

/// Security settings (R8.5): Managers.
#[utoipa::path(get, path = "/api/v1/settings/security", tag = "settings",
    responses((status = 200, body = Security), (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_security(State(app): State<App>, caller: Caller) -> ApiResult<Json<Security>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    Ok(Json(settings::security(&acting)?.into()))
}

/// Replace the security settings (R8.5): Managers; `external_ids_enabled`
/// only by the subscription primary contact.
#[utoipa::path(put, path = "/api/v1/settings/security", tag = "settings", request_body = Security,
    responses((status = 200, body = Security),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_security(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<Security>,
) -> ApiResult<Json<Security>> {
    let out = app
        .store
        .write(caller.actor(), set_security_command(req))
        .await?;
    Ok(Json(out.into()))
}

/// `PUT /settings/security` as a command.
pub(crate) fn set_security_command(req: Security) -> impl Command<SecuritySettings> {
    move |tx: &mut Tx<'_>| settings::set_security(tx, req.into())
}

/// What users see of users outside their unit (R10.1).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Visibility {
    pub(crate) restrict_user_info_outside_unit: bool,
    /// Only together with `restrict_user_info_outside_unit`.
    pub(crate) hide_users_outside_unit: bool,
    pub(crate) restrict_scheduled_tasks_on_unassigned_assets: bool,
}

impl From<VisibilitySettings> for Visibility {
    fn from(v: VisibilitySettings) -> Visibility {
        Visibility {
            restrict_user_info_outside_unit: v.restrict_user_info_outside_unit,
            hide_users_outside_unit: v.hide_users_outside_unit,
            restrict_scheduled_tasks_on_unassigned_assets: v
                .restrict_scheduled_tasks_on_unassigned_assets,
        }
    }
}

impl From<Visibility> for VisibilitySettings {
    fn from(v: Visibility) -> VisibilitySettings {
        VisibilitySettings {
            restrict_user_info_outside_unit: v.restrict_user_info_outside_unit,
            hide_users_outside_unit: v.hide_users_outside_unit,
            restrict_scheduled_tasks_on_unassigned_assets: v
                .restrict_scheduled_tasks_on_unassigned_assets,
        }
    }
}

/// User permission settings (R10.1): Managers.
#[utoipa::path(get, path = "/api/v1/settings/user-permissions", tag = "settings",
    responses((status = 200, body = Visibility), (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_visibility(State(app): State<App>, caller: Caller) -> ApiResult<Json<Visibility>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    Ok(Json(settings::visibility(&acting)?.into()))
}

/// Replace the user permission settings (R10.1): Managers.
#[utoipa::path(put, path = "/api/v1/settings/user-permissions", tag = "settings", request_body = Visibility,
    responses((status = 200, body = Visibility),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_visibility(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<Visibility>,
) -> ApiResult<Json<Visibility>> {
    let out = app
        .store
        .write(caller.actor(), set_visibility_command(req))
        .await?;
    Ok(Json(out.into()))
}

/// `PUT /settings/user-permissions` as a command.
pub(crate) fn set_visibility_command(req: Visibility) -> impl Command<VisibilitySettings> {
    move |tx: &mut Tx<'_>| settings::set_visibility(tx, req.into())
}

/// The business unit setup (R3.2).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitSetup {
    /// Whether units' new-IP limits apply.
    pub(crate) new_ip_limit_enabled: bool,
}

/// Business unit setup (R3.2): Managers.
#[utoipa::path(get, path = "/api/v1/settings/business-units", tag = "settings",
    responses((status = 200, body = UnitSetup), (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_unit_setup(State(app): State<App>, caller: Caller) -> ApiResult<Json<UnitSetup>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    Ok(Json(UnitSetup {
        new_ip_limit_enabled: settings::business_unit_setup(&acting)?,
    }))
}

/// Turn the units' new-IP limits on or off (R3.2): Managers.
#[utoipa::path(put, path = "/api/v1/settings/business-units", tag = "settings", request_body = UnitSetup,
    responses((status = 200, body = UnitSetup),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 422, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_unit_setup(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<UnitSetup>,
) -> ApiResult<Json<UnitSetup>> {
    let on = app
        .store
        .write(caller.actor(), set_unit_setup_command(req))
        .await?;
    Ok(Json(UnitSetup {
        new_ip_limit_enabled: on,
    }))
}

/// `PUT /settings/business-units` as a command.
pub(crate) fn set_unit_setup_command(req: UnitSetup) -> impl Command<bool> {
    move |tx: &mut Tx<'_>| settings::set_business_unit_setup(tx, req.new_ip_limit_enabled)
}

/// The Email Contact notifications show (R10.2).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailContactSetup {
    /// `null`: notifications name the subscription's primary contact.
    pub(crate) email_contact: Option<ContactView>,
    /// Whether Unit Managers may set their unit's own contact.
    pub(crate) allow_unit_manager_override: bool,
}

/// The Email Contact setting (R10.2): Managers and Unit Managers.
#[utoipa::path(get, path = "/api/v1/settings/email-contact", tag = "settings",
    responses((status = 200, body = EmailContactSetup), (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_email_contact(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<EmailContactSetup>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    let s = settings::email_contact(&acting)?;
    Ok(Json(EmailContactSetup {
        email_contact: s.email_contact.map(ContactView::from),
        allow_unit_manager_override: s.allow_unit_manager_override,
    }))
}

/// Replace the Email Contact setting (R10.2): Managers.
#[utoipa::path(put, path = "/api/v1/settings/email-contact", tag = "settings", request_body = EmailContactSetup,
    responses((status = 200, body = EmailContactSetup),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_email_contact(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<EmailContactSetup>,
) -> ApiResult<Json<EmailContactSetup>> {
    let s = app
        .store
        .write(caller.actor(), set_email_contact_command(req))
        .await?;
    Ok(Json(EmailContactSetup {
        email_contact: s.email_contact.map(ContactView::from),
        allow_unit_manager_override: s.allow_unit_manager_override,
    }))
}

/// `PUT /settings/email-contact` as a command.
pub(crate) fn set_email_contact_command(
    req: EmailContactSetup,
) -> impl Command<settings::EmailContactSettings> {
    let new = settings::EmailContactSettings {
        email_contact: req.email_contact.map(EmailContact::from),
        allow_unit_manager_override: req.allow_unit_manager_override,
    };
    move |tx: &mut Tx<'_>| settings::set_email_contact(tx, new)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitEmailContact {
    /// `null` clears the unit's own contact.
    pub(crate) email_contact: Option<ContactView>,
}

/// Set a unit's own Email Contact (R10.2): Managers, or its Unit Managers
/// while the override is allowed.
#[utoipa::path(put, path = "/api/v1/business-units/{id}/email-contact", tag = "organisation",
    request_body = UnitEmailContact,
    params(("id" = String, Path, description = "business unit id")),
    responses((status = 200, body = UnitView),
        (status = 400, body = Problem, content_type = PROBLEM),
        (status = 403, body = Problem, content_type = PROBLEM),
        (status = 404, body = Problem, content_type = PROBLEM)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_unit_email_contact(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UnitEmailContact>,
) -> ApiResult<Json<UnitView>> {
    let unit = app
        .store
        .write(caller.actor(), set_unit_email_contact_command(req, id))
        .await?;
    Ok(Json(UnitView::now(&app, &unit)))
}

/// `PUT /business-units/{id}/email-contact` as a command.
pub(crate) fn set_unit_email_contact_command(
    req: UnitEmailContact,
    id: String,
) -> impl Command<BusinessUnit> {
    let contact = req.email_contact.map(EmailContact::from);
    move |tx: &mut Tx<'_>| settings::set_unit_email_contact(tx, &id, contact)
}

/// A primary contact as account info shows it.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ContactPersonView {
    name: String,
    email: String,
}

/// What every user sees of its account (R10.3).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccountInfoView {
    subscription: String,
    #[schema(example = "enterprise")]
    service_type: String,
    #[schema(example = json!(["VM", "PC"]))]
    modules: Vec<String>,
    #[schema(example = "scanner")]
    role: String,
    /// The primary contact of the user's unit, or the subscription's (R4.5).
    primary_contact: Option<ContactPersonView>,
    /// Scanner appliances the user may use (R6.4), by name.
    appliances: Vec<AccountApplianceView>,
    /// The user's extended permissions (R5).
    #[schema(example = json!(["manage_virtual_scanners"]))]
    permissions: Vec<String>,
    /// The user's own scans and maps in the registry (R9).
    scans_and_maps: WorkSummaryView,
    /// Which kinds of notification the user wants (R12.1).
    notification_options: super::notification_options::NotificationOptions,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct AccountApplianceView {
    id: String,
    name: String,
    #[schema(example = "physical")]
    kind: String,
}

/// "A summary of recent and scheduled maps and scans".
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WorkSummaryView {
    scan_results: usize,
    map_results: usize,
    scheduled_scans: usize,
    /// The latest few (by last change), newest first.
    recent: Vec<WorkItemView>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct WorkItemView {
    id: String,
    #[schema(example = "scan_result")]
    kind: String,
    name: String,
    updated_at: String,
    /// Schedules only: refused at launch since the owner was deactivated.
    deactivated: bool,
}

/// Account info (R10.3): every user.
#[utoipa::path(get, path = "/api/v1/account-info", tag = "organisation",
    responses((status = 200, body = AccountInfoView)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn account_info(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<AccountInfoView>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    let info = settings::account_info(&acting);
    Ok(Json(AccountInfoView {
        subscription: info.subscription,
        service_type: snake(&info.service_type),
        modules: info.modules.iter().map(|m| m.as_str().to_owned()).collect(),
        role: info.role.as_str().to_owned(),
        primary_contact: info.primary_contact.map(|c| ContactPersonView {
            name: c.name,
            email: c.email,
        }),
        appliances: info
            .appliances
            .into_iter()
            .map(|a| AccountApplianceView {
                id: a.id,
                name: a.name,
                kind: a.kind.as_str().to_owned(),
            })
            .collect(),
        permissions: info
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect(),
        scans_and_maps: WorkSummaryView {
            scan_results: info.work.scan_results,
            map_results: info.work.map_results,
            scheduled_scans: info.work.scheduled_scans,
            recent: info
                .work
                .recent
                .into_iter()
                .map(|o| WorkItemView {
                    id: o.id,
                    kind: o.kind.as_str().to_owned(),
                    name: o.name,
                    updated_at: o.updated_at.to_rfc3339(),
                    deactivated: o.deactivated,
                })
                .collect(),
        },
        notification_options: super::notification_options::NotificationOptions::from_options(
            &info.notification_options,
        ),
    }))
}
