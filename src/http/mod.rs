//! The HTTPS API: routing, the layers every request passes, and the server.
//!
//! The one thing to know: handlers only translate between HTTP and the
//! `domain`/`store` calls; no rule is decided here. Every route is declared
//! with `utoipa_axum::routes!`, which registers it in the router and in the
//! OpenAPI document at once, so the two cannot drift apart.

pub(crate) mod activity;
pub(crate) mod assets;
mod authz;
pub mod caller;
mod docs;
mod export_slots;
pub mod extract;
#[cfg(test)]
mod fault_tests;
pub mod local;
// Only in test builds and under `cargo fuzz` (which sets `--cfg fuzzing`):
// the harness is not part of the shipped daemon.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
mod groups;
pub(crate) mod notification_options;
mod notifications;
mod objects;
mod ops;
pub(crate) mod org;
pub mod problem;
pub mod request_id;
pub mod server;
pub(crate) mod services;
pub(crate) mod session;
mod stall;
pub(crate) mod users;
pub mod views;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::clock::Clock;
use crate::config::Config;
use crate::domain::{Refusal, Tx};
use crate::metrics::Metrics;
use crate::store::Store;
use problem::ApiError;

/// A domain command on one transaction, as the store's writer runs it. A
/// handler's translation (`*_command` next to it) turns the request into
/// one; the handler hands it to `Store::write`, and the `json_bodies` fuzz
/// harness runs the same one on an in-memory state.
pub(crate) trait Command<T>:
    FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send + 'static
{
}

impl<T, F> Command<T> for F where F: FnOnce(&mut Tx<'_>) -> Result<T, Refusal> + Send + 'static {}

/// What every handler can reach: one pointer, so that the clone each
/// extractor and layer makes is one reference count, not a dozen.
#[derive(Clone)]
pub struct App(Arc<AppState>);

impl std::ops::Deref for App {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub started: Instant,
    /// Set when SIGTERM arrives: `/readyz` turns 503 so load balancers drain.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// Last use of each session, kept in memory (see `auth::last_use`).
    pub sessions: Arc<crate::auth::last_use::LastUse>,
    pub auth: Arc<crate::auth::service::Authenticator>,
    /// The permission index, kept current by the store's writer.
    pub authz: Arc<crate::authz::Authz>,
    /// CSV downloads running now, bounded (see `export_slots`).
    pub exports: Arc<export_slots::ExportSlots>,
    /// Where `/metrics` is answered (checked when the config was read).
    pub metrics_place: crate::config::MetricsPlace,
}

impl App {
    /// Everything a router needs, around an open store.
    pub fn new(
        store: Store,
        config: Arc<Config>,
        clock: Arc<dyn Clock>,
    ) -> Result<App, crate::auth::password::HashError> {
        let authz = crate::authz::Authz::attach(&store);
        let exports = Arc::new(export_slots::ExportSlots::new(
            config.activity.max_exports,
            config.activity.max_exports_per_user,
        ));
        Ok(App(Arc::new(AppState {
            exports,
            metrics_place: config
                .metrics_place()
                .unwrap_or(crate::config::MetricsPlace::Api),
            auth: Arc::new({
                let auth = crate::auth::service::Authenticator::new(&config.auth)?
                    .with_ipv6_prefix(config.server.ipv6_prefix);
                match store.path().parent() {
                    Some(dir) => auth.with_decoy_key(&crate::auth::service::load_decoy_key(dir)),
                    None => auth,
                }
            }),
            authz,
            store,
            config,
            metrics: Arc::default(),
            clock,
            started: Instant::now(),
            shutting_down: Arc::default(),
            sessions: Arc::default(),
        })))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "bailiwick",
        description = "User and access authority of a security-scanning appliance. Errors are RFC 9457 problem+json with a stable `code`."
    ),
    components(schemas(problem::Problem)),
    modifiers(&SecuritySchemes)
)]
struct ApiDoc;

/// Bearer sessions, Basic for API access (R8.1), and the metrics token.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "service",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A service account's secret, `svc_...`"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The router and its OpenAPI document, built from the same declarations.
pub fn routes() -> (axum::Router<App>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .routes(routes!(ops::openapi_json))
        .routes(routes!(session::login, session::logout))
        .routes(routes!(session::me))
        .routes(routes!(session::change_password))
        .routes(routes!(session::set_secret_questions))
        .routes(routes!(
            notification_options::get_own,
            notification_options::put_own
        ))
        .routes(routes!(
            notification_options::get_user,
            notification_options::put_user
        ))
        .routes(routes!(session::my_sessions))
        .routes(routes!(session::sign_out_others))
        .routes(routes!(session::user_sessions))
        .routes(routes!(
            session::open_activation,
            session::complete_activation
        ))
        .routes(routes!(session::admin_reset))
        .routes(routes!(session::reset_questions))
        .routes(routes!(session::reset_answers))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(
            users::get_user,
            users::edit_user,
            users::delete_user
        ))
        .routes(routes!(users::move_user))
        .routes(routes!(objects::list_objects, objects::create_object))
        .routes(routes!(
            objects::get_object,
            objects::edit_object,
            objects::delete_object
        ))
        .routes(routes!(objects::launch))
        .routes(routes!(objects::unit_remediation_policy))
        .routes(routes!(users::deactivate_user))
        .routes(routes!(users::reactivate_user))
        .routes(routes!(users::unlock_user))
        .routes(routes!(org::list_units, org::create_unit))
        .routes(routes!(org::get_unit, org::edit_unit, org::delete_unit))
        .routes(routes!(org::get_primary_contact, org::set_primary_contact))
        .routes(routes!(org::set_unit_primary_contact))
        .routes(routes!(org::set_unit_email_contact))
        .routes(routes!(org::get_security, org::set_security))
        .routes(routes!(org::get_visibility, org::set_visibility))
        .routes(routes!(org::get_unit_setup, org::set_unit_setup))
        .routes(routes!(org::get_email_contact, org::set_email_contact))
        .routes(routes!(org::account_info))
        .routes(routes!(notifications::send))
        .routes(routes!(services::list, services::create))
        .routes(routes!(services::rotate))
        .routes(routes!(services::remove))
        .routes(routes!(services::introspect))
        .routes(routes!(activity::list, activity::record))
        .routes(routes!(activity::csv))
        .routes(routes!(
            assets::list_assets,
            assets::add_assets,
            assets::remove_assets
        ))
        .routes(routes!(assets::list_appliances, assets::create_appliance))
        .routes(routes!(assets::delete_appliance, assets::edit_appliance))
        .routes(routes!(assets::get_unit_assets, assets::set_unit_assets))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(
            groups::get_group,
            groups::edit_group,
            groups::delete_group
        ))
        .routes(routes!(
            groups::list_distribution_groups,
            groups::create_distribution_group
        ))
        .routes(routes!(
            groups::edit_distribution_group,
            groups::delete_distribution_group
        ))
        .routes(routes!(authz::check))
        .routes(routes!(authz::check_batch))
        .split_for_parts();
    document_common_errors(&mut doc);
    (router, doc)
}

/// Declares the answers that the shared extractors give on every operation
/// they guard, so that the document lists every status a client can get
/// (checked by scripts/conformance.sh): `Caller` answers 401 (no or bad
/// credentials), 403 `password_change_required` and 429 (Basic is a login,
/// R8.3); `ApiJson` answers 400 and 413; `ApiQuery` answers 400. A status an
/// operation already declares keeps its own description.
fn document_common_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    Content::new(Some(Ref::from_schema_name("Problem"))),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            let signed_in = serde_json::to_value(&op.security)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .any(|r| {
                    ["bearer", "basic", "service"]
                        .iter()
                        .any(|k| r.get(k).is_some())
                });
            let has_query =
                op.parameters.iter().flatten().any(
                    |p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)),
                );
            let mut add = |status: &str, description: &str| {
                op.responses
                    .responses
                    .entry(status.to_owned())
                    .or_insert_with(|| problem(description));
            };
            if signed_in {
                add(
                    "401",
                    "no, wrong or expired credentials (`unauthenticated`)",
                );
                add(
                    "403",
                    "not allowed, or the password has expired (`password_change_required`)",
                );
                add("429", "HTTP Basic login rate limited; see Retry-After");
            }
            if op.request_body.is_some() {
                add(
                    "400",
                    "the body is not JSON (`malformed`) or not of this shape (`validation`)",
                );
                add(
                    "413",
                    "the body is larger than `server.max_body` (`payload_too_large`)",
                );
            }
            if has_query {
                add("400", "a query parameter has a bad value (`validation`)");
            }
        }
    }
}

/// The full service: routes, fallbacks and the layers every request passes.
pub fn router(app: App) -> axum::Router {
    let (router, mut doc) = routes();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let doc = Arc::new(doc.to_pretty_json().unwrap_or_default());
    let max_body = app.config.server.max_body.0;
    router
        .merge(crate::console::router())
        .merge(
            axum::Router::new()
                .route("/api/docs", axum::routing::get(docs::page))
                .layer(middleware::from_fn(crate::console::headers)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(ops::OpenApiJson(doc)))
        .layer(axum::extract::DefaultBodyLimit::max(max_body as usize))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(app)
}

/// The metrics listener's router: `/metrics` and nothing else, behind the
/// same request id, limits and access log as the API.
pub fn metrics_router(app: App) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(ops::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(ops::OnMetricsListener))
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .with_state(app)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint; see GET /api/v1/openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method; see GET /api/v1/openapi.json",
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal().into_response()
}

/// Oversized bodies up to this size are read and dropped before the 413.
const DRAIN_LIMIT: u64 = 16 << 20;

/// Every request's id (`X-Request-Id`, in problems too) and, when
/// `server.access_log` is on, its line in the log.
async fn guard(State(app): State<App>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id::of(req.headers());
    let (method, peer) = (req.method().clone(), caller::request_ip(&req));
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut res = request_id::scope(id.clone(), limits(app.clone(), req, next)).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(request_id::HEADER, v);
    }
    if app.config.server.access_log {
        tracing::info!(
            target: "bailiwick::access",
            method = %method,
            route = route.as_ref().map_or("unmatched", MatchedPath::as_str),
            status = res.status().as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1e3,
            peer = %peer.map_or_else(|| "local".to_owned(), |ip| ip.to_string()),
            request_id = %id,
            "request"
        );
    }
    res
}

/// Body limit by Content-Length (before any byte is read), the whole-request
/// timeout, security headers, and metrics.
async fn limits(app: App, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // An invented method is refused before anything is kept about it: it
    // would otherwise be a new metric series (and memory) per request.
    if crate::metrics::method_label(req.method()) == "OTHER" {
        let res = secure(method_not_allowed().await.into_response());
        app.metrics.observe(
            req.method(),
            "unmatched",
            res.status().as_u16(),
            started.elapsed(),
        );
        return res;
    }
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let limit = app.config.server.max_body.0;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let res = if let Some(n) = declared.filter(|n| *n > limit) {
        // Read (and drop) a moderately oversized body first: a client still
        // writing it would otherwise see a broken pipe instead of the 413.
        if n <= DRAIN_LIMIT {
            let drain = async {
                let mut body = req.into_body();
                while let Some(Ok(_)) = http_body_util::BodyExt::frame(&mut body).await {}
            };
            let _ = tokio::time::timeout(app.config.server.request_timeout.0, drain).await;
        }
        let mut res = ApiError::payload_too_large(limit).into_response();
        res.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        res
    } else {
        let timeout: Duration = app.config.server.request_timeout.0;
        match tokio::time::timeout(timeout, next.run(req)).await {
            Ok(res) => res,
            Err(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the request took longer than {}",
                    app.config.server.request_timeout
                ),
            )
            .into_response(),
        }
    };
    let res = secure(problem_for_rejection(res).await);
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    app.metrics
        .observe(&method, route, res.status().as_u16(), started.elapsed());
    res
}

/// The headers every answer carries.
fn secure(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Nothing is cached unless its handler says so (the console's hashed
    // static files).
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    res
}

/// Largest plain-text rejection read to carry its words into the problem.
const REJECTION_TEXT_LIMIT: usize = 4096;

/// axum's own extractor rejections (a bad path parameter, a body that cannot
/// be read) are `text/plain`; they become problem+json like every other
/// refusal: `validation` with axum's words, or the code of their status.
/// Handlers never answer a client error in plain text, so nothing else is
/// caught here.
async fn problem_for_rejection(res: Response) -> Response {
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain"));
    if !plain || !res.status().is_client_error() {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, REJECTION_TEXT_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let err = match parts.status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", text)
        }
        StatusCode::METHOD_NOT_ALLOWED => return method_not_allowed().await.into_response(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::malformed(text),
        _ => ApiError::validation(text),
    };
    let mut res = err.into_response();
    if let Some(v) = parts.headers.get(header::CONNECTION) {
        res.headers_mut().insert(header::CONNECTION, v.clone());
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R13: every answer a client can get is in the published document, so
    /// clients generated from it handle the extractors' refusals too.
    #[test]
    fn r13_document_declares_the_extractors_refusals() {
        let (_, doc) = routes();
        let doc = serde_json::to_value(&doc).unwrap();
        let mut checked = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = &op["responses"];
                let signed_in = op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()));
                if signed_in {
                    for status in ["401", "403", "429"] {
                        assert!(
                            responses[status]["content"]["application/problem+json"].is_object(),
                            "{method} {path} lacks {status}"
                        );
                    }
                    checked += 1;
                }
                if op.get("requestBody").is_some() {
                    for status in ["400", "413"] {
                        assert!(
                            responses[status].is_object(),
                            "{method} {path} lacks {status}"
                        );
                    }
                }
            }
        }
        assert!(checked > 30, "only {checked} signed-in operations seen");
        // R8.1: the `Caller` extractor takes HTTP Basic wherever it takes a
        // session token, so the document says so. Logging out is the one
        // exception: a Basic request has no session to end.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let schemes: Vec<&str> = op["security"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_object())
                    .flat_map(|r| r.keys().map(String::as_str))
                    .collect();
                if schemes.contains(&"bearer")
                    && (path.as_str(), method.as_str()) != ("/api/v1/session", "delete")
                {
                    assert!(
                        schemes.contains(&"basic"),
                        "{method} {path} takes Basic but declares {schemes:?}"
                    );
                }
            }
        }
        // An operation's own description of a status stays.
        assert_eq!(
            doc["paths"]["/api/v1/session"]["post"]["responses"]["401"]["description"],
            "every login failure"
        );
    }
}
