//! Service accounts over HTTP: how a service proves who it is
//! (`Authorization: Bearer svc_...`), the Managers' endpoints that manage the
//! accounts, and token introspection for services.
//!
//! The one thing to know: a service is never a user. Endpoints that take a
//! [`Caller`] refuse it (403, so its author learns why); the endpoints open
//! to services take a [`Principal`] and ask [`ServiceCaller::require`] for
//! the scope they need. The rules of who manages accounts are
//! `domain::services`.

use std::net::IpAddr;

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::App;
use super::caller::{Caller, bearer, peer_ip, session_deadline};
use super::extract::ApiJson;
use super::local::LocalPeer;
use super::problem::{ApiError, ApiResult, Problem};
use crate::domain::services::{self, Scope, ServiceAccount};
use crate::domain::{Actor, State as DomainState};
use crate::ids;

/// What every service secret starts with, so that logs and scanners can
/// tell one and the daemon knows which lookup to make.
pub const SECRET_PREFIX: &str = "svc_";

/// A new secret: 256 random bits, and its hash (all that is stored).
pub fn new_secret() -> (String, String) {
    let secret = format!("{SECRET_PREFIX}{}", ids::new_token());
    let hash = ids::token_hash(&secret);
    (secret, hash)
}

/// A request authenticated by a service account's secret.
#[derive(Debug, Clone)]
pub struct ServiceCaller {
    pub name: String,
    /// Bit `i` set: the account holds `Scope::ALL[i]`. A mask, not the
    /// account's set, because this is built on every service request.
    scopes: u8,
    pub ip: Option<IpAddr>,
}

impl ServiceCaller {
    /// The actor of the changes this service makes: `service:NAME`.
    pub fn actor(&self) -> Actor {
        Actor::service(&self.name, self.ip)
    }

    /// Refuses unless the account holds `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes & scope_bit(scope) != 0 {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "service account {:?} lacks the {:?} scope this needs",
                self.name,
                scope.as_str()
            )))
        }
    }
}

/// The service behind a `svc_` bearer secret, if it opens one.
///
/// On the local socket, a request with no `Authorization` at all from a peer
/// uid that `server.socket_peers` maps is that service account.
///
/// A secret that opens nothing is `None`, not an error: the caller then
/// tries it as a session token (a random session token starts with `svc_`
/// once in some 17 million), and refuses it with the same 401 as any bad
/// credential when it is not one either.
pub(crate) fn service_of(parts: &Parts, state: &DomainState, app: &App) -> Option<ServiceCaller> {
    let account = match bearer(parts) {
        Some(secret) if secret.starts_with(SECRET_PREFIX) => {
            services::authenticate(state, &ids::token_hash(secret), app.clock.now())
        }
        Some(_) => None,
        None if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION) =>
        {
            None
        }
        None => {
            let name = parts.extensions.get::<LocalPeer>()?.service.as_deref()?;
            state.services.get(name)
        }
    }?;
    Some(ServiceCaller {
        name: account.name.clone(),
        scopes: account.scopes.iter().fold(0, |m, s| m | scope_bit(*s)),
        ip: peer_ip(parts),
    })
}

/// Each scope's bit in the mask; exhaustive, so a new scope cannot share
/// another's bit.
fn scope_bit(scope: Scope) -> u8 {
    match scope {
        Scope::Check => 1,
        Scope::Objects => 1 << 1,
        Scope::Notify => 1 << 2,
        Scope::Introspect => 1 << 3,
        Scope::Audit => 1 << 4,
    }
}

/// The header a service names the user it acts for with: a user id or login.
pub const ON_BEHALF_OF: &str = "bailiwick-on-behalf-of";

impl ServiceCaller {
    /// The user this service acts for, as a [`Caller`] whose changes are
    /// logged under the service's name. The user's own rules apply, so a
    /// service can do for a user no more than the user could.
    pub fn on_behalf_of(
        &self,
        headers: &axum::http::HeaderMap,
        state: &DomainState,
    ) -> Option<Result<Caller, ApiError>> {
        let named = headers.get(ON_BEHALF_OF)?;
        let named = named.to_str().unwrap_or_default().trim();
        let user = state
            .users
            .get(named)
            .or_else(|| state.user_by_login(named))
            .filter(|u| u.status == crate::domain::UserStatus::Active);
        Some(match user {
            Some(u) => Ok(Caller {
                user: u.clone(),
                session: None,
                ip: self.ip,
                basic: false,
                service: Some(self.name.clone()),
            }),
            None => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "{ON_BEHALF_OF}: no active user with that id or login; a service acts only for active users"
                ),
            )),
        })
    }
}

/// A user, or a service with scope `S` acting for one through
/// [`ON_BEHALF_OF`]: what the registry (R9) and notification endpoints take.
pub struct ScopedCaller<S: NeedsScope>(pub Caller, pub std::marker::PhantomData<S>);

/// The scope an endpoint needs of a service.
pub trait NeedsScope: Send + Sync {
    const SCOPE: Scope;
    /// Whether users are refused: the endpoint is for services alone.
    const SERVICES_ONLY: bool = false;
}

/// The owned-object registry (R9).
pub struct ObjectsScope;
impl NeedsScope for ObjectsScope {
    const SCOPE: Scope = Scope::Objects;
}

/// Notifications (R12.1).
pub struct NotifyScope;
impl NeedsScope for NotifyScope {
    const SCOPE: Scope = Scope::Notify;
}

/// Activity entries of the service's own actions (R11).
pub struct AuditScope;
impl NeedsScope for AuditScope {
    const SCOPE: Scope = Scope::Audit;
    const SERVICES_ONLY: bool = true;
}

impl<S: NeedsScope> FromRequestParts<App> for ScopedCaller<S> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let caller = match Principal::from_request_parts(parts, app).await? {
            Principal::User(_) if S::SERVICES_ONLY => {
                return Err(ApiError::forbidden(format!(
                    "this is for service accounts with the {} scope",
                    S::SCOPE.as_str()
                )));
            }
            Principal::User(c) => *c,
            Principal::Service(s) => {
                s.require(S::SCOPE)?;
                s.on_behalf_of(&parts.headers, &app.store.snapshot())
                    .unwrap_or_else(|| {
                        Err(ApiError::validation(format!(
                            "{ON_BEHALF_OF}: name the user this service acts for (an id or login)"
                        )))
                    })?
            }
        };
        Ok(ScopedCaller(caller, std::marker::PhantomData))
    }
}

/// A user or a service: what the endpoints open to services take.
#[derive(Debug, Clone)]
pub enum Principal {
    User(Box<Caller>),
    Service(ServiceCaller),
}

impl FromRequestParts<App> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Principal, ApiError> {
        if let Some(service) = service_of(parts, &app.store.snapshot(), app) {
            return Ok(Principal::Service(service));
        }
        Caller::from_request_parts(parts, app)
            .await
            .map(|c| Principal::User(Box::new(c)))
    }
}

/// A service account as shown: never its secret or the secret's hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccountView {
    #[schema(example = "scanner")]
    pub name: String,
    #[schema(example = json!(["check", "objects"]))]
    pub scopes: Vec<String>,
    pub created_at: String,
    pub rotated_at: Option<String>,
    /// Until when the secret before the last rotation still works.
    pub previous_secret_valid_until: Option<String>,
}

impl From<&ServiceAccount> for ServiceAccountView {
    fn from(a: &ServiceAccount) -> ServiceAccountView {
        ServiceAccountView {
            name: a.name.clone(),
            scopes: a.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            created_at: a.created_at.to_rfc3339(),
            rotated_at: a.rotated_at.map(|t| t.to_rfc3339()),
            previous_secret_valid_until: a.retiring.as_ref().map(|r| r.until.to_rfc3339()),
        }
    }
}

/// A new or rotated account with its secret: shown this once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceAccountSecret {
    #[serde(flatten)]
    pub account: ServiceAccountView,
    /// `svc_...`: send as `Authorization: Bearer`. Not shown again.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceAccount {
    #[schema(example = "scanner")]
    pub name: String,
    /// Any of `check`, `objects`, `notify`, `introspect`; at least one.
    #[schema(example = json!(["check"]))]
    pub scopes: Vec<String>,
}

fn parse_scopes(list: &[String]) -> Result<std::collections::BTreeSet<Scope>, ApiError> {
    Ok(Scope::parse_list(&list.join(","))?)
}

/// The subscription's service accounts (Managers).
#[utoipa::path(get, path = "/api/v1/service-accounts", tag = "service accounts",
    responses((status = 200, body = Vec<ServiceAccountView>),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<Vec<ServiceAccountView>>> {
    if caller.user.role != crate::domain::Role::Manager {
        return Err(ApiError::forbidden("only Managers see service accounts"));
    }
    let state = app.store.snapshot();
    Ok(Json(
        state
            .services
            .values()
            .map(ServiceAccountView::from)
            .collect(),
    ))
}

/// Creates a service account and shows its secret once (Managers).
#[utoipa::path(post, path = "/api/v1/service-accounts", tag = "service accounts",
    request_body = NewServiceAccount,
    responses((status = 201, body = ServiceAccountSecret),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn create(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<NewServiceAccount>,
) -> ApiResult<(StatusCode, Json<ServiceAccountSecret>)> {
    let scopes = parse_scopes(&req.scopes)?;
    let (secret, hash) = new_secret();
    let account = app
        .store
        .write(caller.actor(), move |tx| {
            services::add(tx, &req.name, scopes, hash)
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ServiceAccountSecret {
            account: (&account).into(),
            secret,
        }),
    ))
}

/// A new secret for the account; the old one works for
/// `auth.service_secret_overlap` more (Managers).
#[utoipa::path(post, path = "/api/v1/service-accounts/{name}/rotate", tag = "service accounts",
    params(("name" = String, Path)),
    responses((status = 200, body = ServiceAccountSecret),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn rotate(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ServiceAccountSecret>> {
    let (secret, hash) = new_secret();
    let overlap = app.config.auth.service_secret_overlap.0;
    let account = app
        .store
        .write(caller.actor(), move |tx| {
            services::rotate(tx, &name, hash, overlap)
        })
        .await?;
    Ok(Json(ServiceAccountSecret {
        account: (&account).into(),
        secret,
    }))
}

/// Removes the account; its secrets stop working at once (Managers).
#[utoipa::path(delete, path = "/api/v1/service-accounts/{name}", tag = "service accounts",
    params(("name" = String, Path)),
    responses((status = 204),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn remove(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    app.store
        .write(caller.actor(), move |tx| services::remove(tx, &name))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntrospectRequest {
    /// A session token, as a user's client holds it.
    pub token: String,
}

/// RFC 7662's answer. Only `active` for anything but a live session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct Introspection {
    pub active: bool,
    /// The user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The user's business unit; `null` for Unassigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_unit: Option<Option<String>>,
    /// When the session ends if it is not used again (Unix seconds): the
    /// earlier of its idle and absolute ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
}

/// Whether a session token is live, and whose (scope `introspect`). Unknown,
/// expired and revoked tokens get the same `{"active": false}`; asking does
/// not extend the session.
#[utoipa::path(post, path = "/api/v1/introspect", tag = "service accounts",
    request_body = IntrospectRequest,
    responses((status = 200, body = Introspection),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")),
    security(("service" = [])))]
pub async fn introspect(
    State(app): State<App>,
    principal: Principal,
    ApiJson(req): ApiJson<IntrospectRequest>,
) -> ApiResult<Json<Introspection>> {
    let Principal::Service(service) = principal else {
        return Err(ApiError::forbidden(
            "introspection is for service accounts with the introspect scope",
        ));
    };
    service.require(Scope::Introspect)?;
    let hash = ids::token_hash(&req.token);
    let state = app.store.snapshot();
    let now = app.clock.now();
    let inactive = Introspection {
        active: false,
        user: None,
        login: None,
        role: None,
        business_unit: None,
        exp: None,
    };
    let Some((user, deadline)) = session_deadline(&state, &hash, now, &app) else {
        return Ok(Json(inactive));
    };
    Ok(Json(Introspection {
        active: true,
        user: Some(user.id.clone()),
        login: Some(user.login.clone()),
        role: Some(user.role.as_str().to_owned()),
        business_unit: Some(user.business_unit.clone()),
        exp: Some(deadline.unix_micros().div_euclid(1_000_000)),
    }))
}
