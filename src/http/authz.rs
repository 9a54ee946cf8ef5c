//! `POST /api/v1/authz/check` and `check-batch` (docs/api.md):
//! the same [`crate::authz::Index::check`] that code in the process calls.
//!
//! Who may ask: service accounts with the `check` scope and Managers about
//! anyone, every other user about itself
//! (decided here, the rules are silent beyond the brief: a user's reach is an
//! asset map an attacker would like, so others get `forbidden`). A batch is
//! answered from one index snapshot, so its answers agree with each other.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::App;
use super::extract::ApiJson;
use super::problem::{ApiError, ApiResult, Problem};
use super::services::Principal;
use crate::authz::{Action, Decision, Index, Resource};
use crate::domain::services::Scope;
use crate::domain::{Role, User};

/// Checks in one batch at most.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceField {
    #[schema(example = "10.0.0.7")]
    pub ip: Option<String>,
    pub domain: Option<String>,
    pub scanner_appliance: Option<String>,
    /// For `view_user`, `manage_user`.
    pub user: Option<String>,
    /// For authentication records (R6.5).
    #[schema(example = "scanner")]
    pub created_by_role: Option<String>,
    /// For authentication records: their unit; absent for Unassigned.
    pub business_unit: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub user: String,
    /// `scan`, `map`, `use_scanner`, `report`, `view_user`, `manage_user`,
    /// `view_auth_record`, `edit_auth_record`, a role capability
    /// (`launch_scans`, `run_reports`, ...) or an R5 permission.
    #[schema(example = "scan")]
    pub action: String,
    #[serde(default)]
    pub resource: ResourceField,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
pub struct CheckResponse {
    pub allowed: bool,
    /// Why not (stable snake_case), e.g. `ip_not_in_asset_groups`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<Decision> for CheckResponse {
    fn from(d: Decision) -> CheckResponse {
        CheckResponse {
            allowed: d.allowed,
            reason: (!d.allowed).then(|| d.reason.as_str().to_owned()),
        }
    }
}

/// Managers ask about anyone; everyone else only about itself.
pub fn may_ask(caller: &User, about: &str) -> Result<(), ApiError> {
    if caller.role == Role::Manager || caller.id == about {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only Managers check other users; you may check yourself",
        ))
    }
}

/// [`may_ask`] for every check a user sends.
pub(crate) fn user_may_ask(caller: &User, reqs: &[CheckRequest]) -> Result<(), ApiError> {
    reqs.iter().try_for_each(|r| may_ask(caller, &r.user))
}

/// A batch's size, checked before anything else.
pub(crate) fn batch_size(reqs: &[CheckRequest]) -> ApiResult<()> {
    if reqs.len() > MAX_BATCH {
        return Err(ApiError::validation(format!(
            "at most {MAX_BATCH} checks per batch; split the {} into several calls",
            reqs.len()
        )));
    }
    Ok(())
}

/// A batch answered in order on one `index`; the first bad check names
/// its item.
pub(crate) fn answer_batch(index: &Index, reqs: &[CheckRequest]) -> ApiResult<Vec<CheckResponse>> {
    reqs.iter()
        .enumerate()
        .map(|(i, r)| answer(index, r, &format!("[{i}].")))
        .collect()
}

fn role_named(s: &str) -> Option<Role> {
    use Role::*;
    [
        Manager,
        UnitManager,
        Scanner,
        Reader,
        Auditor,
        RemediationUser,
        KbOnly,
        UserAdministrator,
        Contact,
    ]
    .into_iter()
    .find(|r| r.as_str() == s)
}

/// Validates one request and answers it on `index`; `at` names the item of
/// a batch in errors.
pub(crate) fn answer(index: &Index, req: &CheckRequest, at: &str) -> ApiResult<CheckResponse> {
    let action = Action::parse(&req.action).ok_or_else(|| {
        ApiError::validation(format!(
            "{at}action: unknown action {:?}; use one of {}",
            req.action.chars().take(64).collect::<String>(),
            Action::names().join(", ")
        ))
    })?;
    let r = &req.resource;
    let ip =
        r.ip.as_deref()
            .map(|s| {
                s.parse().map_err(|_| {
                    ApiError::validation(format!(
                        "{at}resource.ip: {:?} is not an IP address",
                        s.chars().take(64).collect::<String>()
                    ))
                })
            })
            .transpose()?;
    let created_by_role = r
        .created_by_role
        .as_deref()
        .map(|s| {
            role_named(s).ok_or_else(|| {
                ApiError::validation(format!("{at}resource.created_by_role: unknown role"))
            })
        })
        .transpose()?;
    let resource = Resource {
        ip,
        domain: r.domain.as_deref(),
        scanner_appliance: r.scanner_appliance.as_deref(),
        user: r.user.as_deref(),
        created_by_role,
        business_unit: r.business_unit.as_deref(),
    };
    Ok(index.check(&req.user, action, &resource).into())
}

/// May this user do this to that? (R2, R5, R6.4, R6.5).
#[utoipa::path(post, path = "/api/v1/authz/check", tag = "authorization", request_body = CheckRequest,
    responses((status = 200, body = CheckResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn check(
    State(app): State<App>,
    principal: Principal,
    ApiJson(req): ApiJson<CheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    may_ask_all(&app, &principal, std::slice::from_ref(&req))?;
    Ok(Json(answer(&app.authz.snapshot(), &req, "")?))
}

/// Users by [`may_ask`]; services with the `check` scope about anyone,
/// counted per service in `/metrics` (checks are not logged).
fn may_ask_all(app: &App, principal: &Principal, reqs: &[CheckRequest]) -> Result<(), ApiError> {
    match principal {
        Principal::User(caller) => user_may_ask(&caller.user, reqs),
        Principal::Service(service) => {
            service.require(Scope::Check)?;
            app.metrics
                .count_service_checks(&service.name, reqs.len() as u64);
            Ok(())
        }
    }
}

/// Many checks at once (at most 1000), answered in order from one snapshot.
#[utoipa::path(post, path = "/api/v1/authz/check-batch", tag = "authorization",
    request_body = Vec<CheckRequest>,
    responses((status = 200, body = Vec<CheckResponse>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn check_batch(
    State(app): State<App>,
    principal: Principal,
    ApiJson(reqs): ApiJson<Vec<CheckRequest>>,
) -> ApiResult<Json<Vec<CheckResponse>>> {
    batch_size(&reqs)?;
    may_ask_all(&app, &principal, &reqs)?;
    Ok(Json(answer_batch(&app.authz.snapshot(), &reqs)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Access, Timestamp, UserStatus};

    fn user(id: &str, role: Role) -> User {
        User {
            id: id.into(),
            login: id.into(),
            email: format!("{id}@example.com"),
            first_name: String::new(),
            last_name: String::new(),
            role,
            business_unit: None,
            status: UserStatus::Active,
            asset_groups: vec![],
            permissions: Default::default(),
            access: Access::UiAndApi,
            external_id: None,
            created_at: Timestamp::from_unix_micros(0),
            last_login_at: None,
            notification_opt_outs: Default::default(),
        }
    }

    #[test]
    fn managers_ask_about_anyone_others_about_themselves() {
        assert!(may_ask(&user("m", Role::Manager), "x").is_ok());
        assert!(may_ask(&user("s", Role::Scanner), "s").is_ok());
        let err = may_ask(&user("s", Role::Scanner), "x").unwrap_err();
        assert_eq!((err.status.as_u16(), err.code), (403, "forbidden"));
        let err = may_ask(&user("ua", Role::UserAdministrator), "x").unwrap_err();
        assert_eq!(err.code, "forbidden");
    }

    #[test]
    fn bad_checks_name_the_field() {
        let index = Index::default();
        let req = |action: &str, ip: Option<&str>, role: Option<&str>| CheckRequest {
            user: "u".into(),
            action: action.into(),
            resource: ResourceField {
                ip: ip.map(Into::into),
                created_by_role: role.map(Into::into),
                ..Default::default()
            },
        };
        let e = answer(&index, &req("fly", None, None), "[3].").unwrap_err();
        assert!(
            e.detail.starts_with("[3].action: unknown action \"fly\""),
            "{}",
            e.detail
        );
        let e = answer(&index, &req("scan", Some("10.0.0.300"), None), "").unwrap_err();
        assert!(e.detail.starts_with("resource.ip:"), "{}", e.detail);
        let e = answer(&index, &req("edit_auth_record", None, Some("boss")), "").unwrap_err();
        assert_eq!(e.code, "validation");
        let ok = answer(&index, &req("scan", Some("10.0.0.1"), Some("scanner")), "").unwrap();
        assert_eq!(
            ok,
            CheckResponse {
                allowed: false,
                reason: Some("unknown_user".into())
            }
        );
    }
}
