//! Assets and scanner appliances (docs/api.md; R3.2, R5.4, R6.1).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::Caller;
use super::extract::{ApiJson, ApiQuery};
use super::problem::{ApiError, ApiResult, Problem};
use super::views::Page;
use super::{App, Command};
use crate::domain::access::Acting;
use crate::domain::assets::{self, NewAppliance};
use crate::domain::{ApplianceKind, AssetSet, ScannerAppliance, State as Subscription, Tx};
use crate::ids;

/// Lists: `limit` (default 100, at most 1000) and `cursor` (docs/api.md).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// One page of `items` (sorted by id) after `cursor`.
pub(super) fn paginate<T: Clone>(
    items: Vec<(String, T)>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> ApiResult<Page<T>> {
    let limit = crate::domain::directory::page_limit(limit)?;
    let mut rest: Vec<(String, T)> = items
        .into_iter()
        .filter(|(id, _)| cursor.is_none_or(|c| id.as_str() > c))
        .collect();
    let next_cursor = (rest.len() > limit).then(|| rest[limit - 1].0.clone());
    rest.truncate(limit);
    Ok(Page {
        items: rest.into_iter().map(|(_, v)| v).collect(),
        next_cursor,
    })
}

pub(super) fn acting<'s>(state: &'s Subscription, caller: &Caller) -> ApiResult<Acting<'s>> {
    Acting::of(state, &caller.user.id).map_err(ApiError::from)
}

/// IPs and domains, as the API shows them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetsView {
    #[schema(example = json!(["10.0.0.1", "10.0.1.0/24", "10.0.2.1-10.0.2.9"]))]
    pub ips: Vec<String>,
    pub domains: Vec<String>,
    /// Appliance ids.
    pub scanner_appliances: Vec<String>,
}

impl AssetsView {
    pub fn new(a: &AssetSet) -> AssetsView {
        AssetsView {
            ips: a.ips.to_strings(),
            domains: a.domains.iter().cloned().collect(),
            scanner_appliances: a.scanner_appliances.iter().cloned().collect(),
        }
    }
}

/// The assets the caller may see: the subscription's for Managers and User
/// Administrators, its unit's "All" for Unit Managers, its groups' for others.
#[utoipa::path(get, path = "/api/v1/assets", tag = "assets",
    responses((status = 200, body = AssetsView)), security(("bearer" = []), ("basic" = [])))]
pub async fn list_assets(State(app): State<App>, caller: Caller) -> ApiResult<Json<AssetsView>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    Ok(Json(AssetsView::new(&assets::visible_assets(&a))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssetsRequest {
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    /// Managers: also assign the assets to this unit.
    pub business_unit: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddedView {
    /// How many of the IPs were new to the subscription.
    pub new_ips: u64,
    /// The unit the assets were also added to.
    pub business_unit: Option<String>,
}

impl AddedView {
    pub fn new(added: assets::Added) -> AddedView {
        AddedView {
            new_ips: u64::try_from(added.new_ips).unwrap_or(u64::MAX),
            business_unit: added.business_unit,
        }
    }
}

/// Add IPs and domains (R5 `add_assets`; R3.2 new-IP limit).
#[utoipa::path(post, path = "/api/v1/assets", tag = "assets", request_body = AssetsRequest,
    responses((status = 200, body = AddedView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "ip_limit_exceeded", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn add_assets(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<AssetsRequest>,
) -> ApiResult<Json<AddedView>> {
    let added = app
        .store
        .write(caller.actor(), add_assets_command(req)?)
        .await?;
    Ok(Json(AddedView::new(added)))
}

/// `POST /assets` as a command; a bad IP or domain is named first.
pub(crate) fn add_assets_command(req: AssetsRequest) -> ApiResult<impl Command<assets::Added>> {
    let ips = assets::parse_ips("ips", &req.ips)?;
    let domains = assets::parse_domains("domains", &req.domains)?;
    let unit = req.business_unit;
    Ok(move |tx: &mut Tx<'_>| assets::add_assets(tx, ips, domains, unit))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveRequest {
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
}

/// Remove IPs and domains from the subscription, its units and its groups
/// (R5.4: Managers only).
#[utoipa::path(delete, path = "/api/v1/assets", tag = "assets", request_body = RemoveRequest,
    responses((status = 204),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn remove_assets(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<RemoveRequest>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), remove_assets_command(req)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /assets` as a command; a bad IP or domain is named first.
pub(crate) fn remove_assets_command(req: RemoveRequest) -> ApiResult<impl Command<()>> {
    let ips = assets::parse_ips("ips", &req.ips)?;
    let domains = assets::parse_domains("domains", &req.domains)?;
    Ok(move |tx: &mut Tx<'_>| assets::remove_assets(tx, ips, domains))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApplianceView {
    pub id: String,
    pub name: String,
    #[schema(example = "virtual")]
    pub kind: String,
    pub business_unit: Option<String>,
    pub created_at: String,
}

impl ApplianceView {
    pub fn new(a: &ScannerAppliance) -> ApplianceView {
        ApplianceView {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: a.kind.as_str().to_owned(),
            business_unit: a.business_unit.clone(),
            created_at: a.created_at.to_rfc3339(),
        }
    }
}

/// Scanner appliances the caller may see.
#[utoipa::path(get, path = "/api/v1/scanner-appliances", tag = "assets", params(PageQuery),
    responses((status = 200, body = Page<ApplianceView>)), security(("bearer" = []), ("basic" = [])))]
pub async fn list_appliances(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<ApplianceView>>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    let items = assets::list_appliances(&a)
        .into_iter()
        .map(|x| (x.id.clone(), ApplianceView::new(x)))
        .collect();
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?))
}

/// R6.1 appliance kinds.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KindField {
    Physical,
    Virtual,
    Offline,
}

impl From<KindField> for ApplianceKind {
    fn from(k: KindField) -> ApplianceKind {
        match k {
            KindField::Physical => ApplianceKind::Physical,
            KindField::Virtual => ApplianceKind::Virtual,
            KindField::Offline => ApplianceKind::Offline,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplianceRequest {
    pub name: String,
    pub kind: KindField,
    pub business_unit: Option<String>,
}

/// Register a scanner appliance (physical: Managers; virtual and offline:
/// holders of the matching R5 permission, in their unit).
#[utoipa::path(post, path = "/api/v1/scanner-appliances", tag = "assets", request_body = NewApplianceRequest,
    responses((status = 201, body = ApplianceView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_appliance(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<NewApplianceRequest>,
) -> ApiResult<(StatusCode, Json<ApplianceView>)> {
    let a = app
        .store
        .write(caller.actor(), create_appliance_command(req, ids::new_id()))
        .await?;
    Ok((StatusCode::CREATED, Json(ApplianceView::new(&a))))
}

/// `POST /scanner-appliances` as a command registering appliance `id`.
pub(crate) fn create_appliance_command(
    req: NewApplianceRequest,
    id: String,
) -> impl Command<ScannerAppliance> {
    let new = NewAppliance {
        name: req.name,
        kind: req.kind.into(),
        business_unit: req.business_unit,
    };
    move |tx: &mut Tx<'_>| assets::create_appliance(tx, id, new)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliancePatchRequest {
    pub name: Option<String>,
    /// Managers only; `null` makes it a subscription appliance, in no unit.
    #[serde(default, deserialize_with = "super::users::explicit_null")]
    #[schema(value_type = Option<String>)]
    pub business_unit: Option<Option<String>>,
}

/// Rename a scanner appliance, or (Managers) move it to another unit; a
/// move is refused while a group of a unit that would lose it names it.
#[utoipa::path(patch, path = "/api/v1/scanner-appliances/{id}", tag = "assets",
    request_body = AppliancePatchRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = ApplianceView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn edit_appliance(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AppliancePatchRequest>,
) -> ApiResult<Json<ApplianceView>> {
    let a = app
        .store
        .write(caller.actor(), edit_appliance_command(req, id))
        .await?;
    Ok(Json(ApplianceView::new(&a)))
}

/// `PATCH /scanner-appliances/{id}` as a command.
pub(crate) fn edit_appliance_command(
    req: AppliancePatchRequest,
    id: String,
) -> impl Command<ScannerAppliance> {
    let patch = assets::AppliancePatch {
        name: req.name,
        business_unit: req.business_unit,
    };
    move |tx: &mut Tx<'_>| assets::edit_appliance(tx, &id, patch)
}

/// Remove a scanner appliance; units and groups stop naming it.
#[utoipa::path(delete, path = "/api/v1/scanner-appliances/{id}", tag = "assets",
    params(("id" = String, Path)),
    responses((status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn delete_appliance(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), move |tx| assets::delete_appliance(tx, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitAssetsRequest {
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub scanner_appliances: Vec<String>,
}

/// The assets assigned to a business unit (without its groups; R3.1).
#[utoipa::path(get, path = "/api/v1/business-units/{id}/assets", tag = "assets",
    params(("id" = String, Path)),
    responses((status = 200, body = AssetsView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_unit_assets(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetsView>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    Ok(Json(AssetsView::new(&assets::assigned_to_unit(&a, &id)?)))
}

/// Assign subscription assets to a business unit, replacing what was
/// assigned (R3.1; Managers). The same as `assets` in a business unit PATCH.
#[utoipa::path(put, path = "/api/v1/business-units/{id}/assets", tag = "assets",
    params(("id" = String, Path)), request_body = UnitAssetsRequest,
    responses((status = 200, body = AssetsView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn set_unit_assets(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<UnitAssetsRequest>,
) -> ApiResult<Json<AssetsView>> {
    let out = app
        .store
        .write(caller.actor(), set_unit_assets_command(req, id)?)
        .await?;
    Ok(Json(AssetsView::new(&out)))
}

/// `PUT /business-units/{id}/assets` as a command; a bad IP or domain is
/// named first.
pub(crate) fn set_unit_assets_command(
    req: UnitAssetsRequest,
    id: String,
) -> ApiResult<impl Command<AssetSet>> {
    let set = AssetSet {
        ips: assets::parse_ips("ips", &req.ips)?,
        domains: assets::parse_domains("domains", &req.domains)?,
        scanner_appliances: req.scanner_appliances.into_iter().collect(),
    };
    Ok(move |tx: &mut Tx<'_>| assets::set_unit_assets(tx, &id, set))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor_and_refuse_bad_limits() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("id{i}"), i)).collect();
        let p = paginate(items.clone(), Some(2), None).unwrap();
        assert_eq!(p.items, [0, 1]);
        assert_eq!(p.next_cursor.as_deref(), Some("id1"));
        let p = paginate(items.clone(), Some(2), Some("id3")).unwrap();
        assert_eq!(p.items, [4]);
        assert_eq!(p.next_cursor, None);
        assert_eq!(
            paginate(items.clone(), Some(0), None).unwrap_err().code,
            "validation"
        );
        assert_eq!(
            paginate(items, Some(1001), None).unwrap_err().code,
            "validation"
        );
    }
}
