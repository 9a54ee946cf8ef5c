//! Asset groups and distribution groups (docs/api.md; R2.4,
//! R6.2, R6.3, R12.1).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::assets::{PageQuery, acting, paginate};
use super::caller::Caller;
use super::extract::{ApiJson, ApiQuery};
use super::problem::{ApiResult, Problem};
use super::views::Page;
use super::{App, Command};
use crate::domain::assets::{all_for, parse_domains, parse_ips};
use crate::domain::groups::{self, ALL, ALL_TITLE};
use crate::domain::{AssetGroup, AssetSet, DistributionGroup, Tx};
use crate::ids;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AssetGroupView {
    pub id: String,
    pub title: String,
    pub ips: Vec<String>,
    pub domains: Vec<String>,
    pub scanner_appliances: Vec<String>,
    /// Empty: a subscription-level group.
    pub business_units: Vec<String>,
    /// `null` for the built-in "All".
    pub owner: Option<String>,
    #[schema(example = "manager")]
    pub created_by_role: Option<String>,
    /// Whether this is the built-in "All" (R6.2).
    pub built_in: bool,
}

impl AssetGroupView {
    pub fn new(g: &AssetGroup) -> AssetGroupView {
        AssetGroupView {
            id: g.id.clone(),
            title: g.title.clone(),
            ips: g.assets.ips.to_strings(),
            domains: g.assets.domains.iter().cloned().collect(),
            scanner_appliances: g.assets.scanner_appliances.iter().cloned().collect(),
            business_units: g.business_units.iter().cloned().collect(),
            owner: Some(g.owner.clone()),
            created_by_role: Some(g.created_by_role.as_str().to_owned()),
            built_in: false,
        }
    }

    /// "All" as the caller sees it: its unit's, or the subscription's.
    fn all(a: &AssetSet, unit: Option<&String>) -> AssetGroupView {
        AssetGroupView {
            id: ALL.to_owned(),
            title: ALL_TITLE.to_owned(),
            ips: a.ips.to_strings(),
            domains: a.domains.iter().cloned().collect(),
            scanner_appliances: a.scanner_appliances.iter().cloned().collect(),
            business_units: unit.into_iter().cloned().collect(),
            owner: None,
            created_by_role: None,
            built_in: true,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct GroupQuery {
    pub business_unit: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// Asset groups the caller may see; the built-in "All" comes first.
#[utoipa::path(get, path = "/api/v1/asset-groups", tag = "asset groups", params(GroupQuery),
    responses((status = 200, body = Page<AssetGroupView>)), security(("bearer" = []), ("basic" = [])))]
pub async fn list_groups(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(q): ApiQuery<GroupQuery>,
) -> ApiResult<Json<Page<AssetGroupView>>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    let unit = q.business_unit.as_ref();
    // "all" sorts before every generated id (they start with a digit), and
    // is listed with no unit filter or with the caller's own unit.
    let mut items = Vec::new();
    if unit.is_none() || unit == a.unit() {
        items.push((
            String::new(),
            AssetGroupView::all(&all_for(&state, a.unit()), a.unit()),
        ));
    }
    items.extend(
        groups::list_groups(&a, unit)
            .into_iter()
            .map(|g| (g.id.clone(), AssetGroupView::new(g))),
    );
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?))
}

/// One asset group; `all` is the built-in group of the caller's unit.
#[utoipa::path(get, path = "/api/v1/asset-groups/{id}", tag = "asset groups",
    params(("id" = String, Path)),
    responses((status = 200, body = AssetGroupView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_group(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AssetGroupView>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    if id == ALL {
        return Ok(Json(AssetGroupView::all(
            &all_for(&state, a.unit()),
            a.unit(),
        )));
    }
    Ok(Json(AssetGroupView::new(groups::get_group(&a, &id)?)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupRequest {
    pub title: String,
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub scanner_appliances: Vec<String>,
    /// None: subscription level (a Unit Manager's own unit).
    pub business_units: Option<Vec<String>>,
}

/// Create an asset group owned by the caller (R6.2).
#[utoipa::path(post, path = "/api/v1/asset-groups", tag = "asset groups", request_body = NewGroupRequest,
    responses((status = 201, body = AssetGroupView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_group(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<NewGroupRequest>,
) -> ApiResult<(StatusCode, Json<AssetGroupView>)> {
    let g = app
        .store
        .write(caller.actor(), create_group_command(req, ids::new_id())?)
        .await?;
    Ok((StatusCode::CREATED, Json(AssetGroupView::new(&g))))
}

/// `POST /asset-groups` as a command creating group `id`; a bad IP or
/// domain is named first.
pub(crate) fn create_group_command(
    req: NewGroupRequest,
    id: String,
) -> ApiResult<impl Command<AssetGroup>> {
    let new = groups::NewGroup {
        title: req.title,
        assets: AssetSet {
            ips: parse_ips("ips", &req.ips)?,
            domains: parse_domains("domains", &req.domains)?,
            scanner_appliances: req.scanner_appliances.into_iter().collect(),
        },
        business_units: req.business_units.map(|u| u.into_iter().collect()),
    };
    Ok(move |tx: &mut Tx<'_>| groups::create_group(tx, id, new))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupPatchRequest {
    pub title: Option<String>,
    pub ips: Option<Vec<String>>,
    pub domains: Option<Vec<String>>,
    pub scanner_appliances: Option<Vec<String>>,
    pub business_units: Option<Vec<String>>,
}

/// Edit an asset group; a list replaces the old one.
#[utoipa::path(patch, path = "/api/v1/asset-groups/{id}", tag = "asset groups",
    params(("id" = String, Path)), request_body = GroupPatchRequest,
    responses((status = 200, body = AssetGroupView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn edit_group(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<GroupPatchRequest>,
) -> ApiResult<Json<AssetGroupView>> {
    let g = app
        .store
        .write(caller.actor(), edit_group_command(req, id)?)
        .await?;
    Ok(Json(AssetGroupView::new(&g)))
}

/// `PATCH /asset-groups/{id}` as a command; a bad IP or domain is named
/// first.
pub(crate) fn edit_group_command(
    req: GroupPatchRequest,
    id: String,
) -> ApiResult<impl Command<AssetGroup>> {
    let patch = groups::GroupPatch {
        title: req.title,
        ips: req.ips.map(|i| parse_ips("ips", &i)).transpose()?,
        domains: req
            .domains
            .map(|d| parse_domains("domains", &d))
            .transpose()?,
        scanner_appliances: req
            .scanner_appliances
            .map(|a| a.into_iter().collect::<BTreeSet<_>>()),
        business_units: req.business_units.map(|u| u.into_iter().collect()),
    };
    Ok(move |tx: &mut Tx<'_>| groups::edit_group(tx, &id, patch))
}

/// Delete an asset group (not by User Administrators, R2.4).
#[utoipa::path(delete, path = "/api/v1/asset-groups/{id}", tag = "asset groups",
    params(("id" = String, Path)),
    responses((status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn delete_group(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), move |tx| groups::delete_group(tx, &id))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DistributionGroupView {
    pub id: String,
    pub name: String,
    pub members: Vec<String>,
    pub emails: Vec<String>,
    pub created_by: String,
    pub created_at: String,
}

impl DistributionGroupView {
    pub fn new(g: &DistributionGroup) -> DistributionGroupView {
        DistributionGroupView {
            id: g.id.clone(),
            name: g.name.clone(),
            members: g.members.clone(),
            emails: g.emails.clone(),
            created_by: g.created_by.clone(),
            created_at: g.created_at.to_rfc3339(),
        }
    }
}

/// Distribution groups (Managers, User Administrators, Unit Managers).
#[utoipa::path(get, path = "/api/v1/distribution-groups", tag = "distribution groups", params(PageQuery),
    responses((status = 200, body = Page<DistributionGroupView>),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list_distribution_groups(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<DistributionGroupView>>> {
    let state = app.store.snapshot();
    let a = acting(&state, &caller)?;
    let items = groups::readable_distribution_groups(&a)?
        .into_iter()
        .map(|g| {
            let shown = groups::shown_distribution(&a, g);
            (g.id.clone(), DistributionGroupView::new(&shown))
        })
        .collect();
    Ok(Json(paginate(items, q.limit, q.cursor.as_deref())?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDistributionRequest {
    pub name: String,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub emails: Vec<String>,
}

/// Create a distribution group.
#[utoipa::path(post, path = "/api/v1/distribution-groups", tag = "distribution groups",
    request_body = NewDistributionRequest,
    responses((status = 201, body = DistributionGroupView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create_distribution_group(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<NewDistributionRequest>,
) -> ApiResult<(StatusCode, Json<DistributionGroupView>)> {
    let command = create_distribution_group_command(req, ids::new_id());
    let g = app.store.write(caller.actor(), command).await?;
    Ok((StatusCode::CREATED, Json(DistributionGroupView::new(&g))))
}

/// `POST /distribution-groups` as a command creating group `id`.
pub(crate) fn create_distribution_group_command(
    req: NewDistributionRequest,
    id: String,
) -> impl Command<DistributionGroup> {
    let new = groups::NewDistribution {
        name: req.name,
        members: req.members,
        emails: req.emails,
    };
    move |tx: &mut Tx<'_>| groups::create_distribution_group(tx, id, new)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DistributionPatchRequest {
    pub name: Option<String>,
    pub members: Option<Vec<String>>,
    pub emails: Option<Vec<String>>,
}

/// Edit a distribution group; a list replaces the old one.
#[utoipa::path(patch, path = "/api/v1/distribution-groups/{id}", tag = "distribution groups",
    params(("id" = String, Path)), request_body = DistributionPatchRequest,
    responses((status = 200, body = DistributionGroupView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "the new name is taken", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn edit_distribution_group(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DistributionPatchRequest>,
) -> ApiResult<Json<DistributionGroupView>> {
    let g = app
        .store
        .write(caller.actor(), edit_distribution_group_command(req, id))
        .await?;
    Ok(Json(DistributionGroupView::new(&g)))
}

/// `PATCH /distribution-groups/{id}` as a command.
pub(crate) fn edit_distribution_group_command(
    req: DistributionPatchRequest,
    id: String,
) -> impl Command<DistributionGroup> {
    let patch = groups::DistributionPatch {
        name: req.name,
        members: req.members,
        emails: req.emails,
    };
    move |tx: &mut Tx<'_>| groups::edit_distribution_group(tx, &id, patch)
}

/// Delete a distribution group (not by User Administrators, R2.4).
#[utoipa::path(delete, path = "/api/v1/distribution-groups/{id}", tag = "distribution groups",
    params(("id" = String, Path)),
    responses((status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn delete_distribution_group(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), move |tx| {
            groups::delete_distribution_group(tx, &id)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
