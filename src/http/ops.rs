//! Operations endpoints: liveness, readiness, metrics and the API document.
//! None needs a session; `/metrics` needs `metrics.token` when one is set.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::App;
use super::problem::{ApiError, Problem};
use crate::config::MetricsPlace;
use crate::metrics::Gauges;

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    version: &'static str,
    uptime_seconds: u64,
}

/// The process is alive and answering.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz(State(app): State<App>) -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        uptime_seconds: app.started.elapsed().as_secs(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    storage: bool,
    activity_log: bool,
    shutting_down: bool,
}

/// Storage open and writable, activity log writable, not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready", body = Readiness),
        (status = 503, description = "not ready", body = Readiness)))]
pub async fn readyz(State(app): State<App>) -> Response {
    let storage = app.store.ready();
    let activity_log = storage && app.store.activity_log_ok();
    let shutting_down = app.shutting_down.load(Ordering::Acquire);
    let ready = storage && activity_log && !shutting_down;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(Readiness {
            storage,
            activity_log,
            shutting_down,
        }),
    )
        .into_response()
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "metrics", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "metrics.token is set and was not given", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "metrics are served on a listener of their own (metrics.listen)", body = Problem, content_type = "application/problem+json")),
    security((), ("metrics_token" = [])))]
pub async fn metrics(
    State(app): State<App>,
    own_listener: Option<axum::Extension<OnMetricsListener>>,
    headers: HeaderMap,
) -> Response {
    if own_listener.is_none() && app.metrics_place != MetricsPlace::Api {
        return ApiError::not_found("/metrics is served on its own listener (metrics.listen)")
            .into_response();
    }
    let want = &app.config.metrics.token;
    if !want.is_empty() {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given.is_some_and(|g| {
            bool::from(subtle::ConstantTimeEq::ct_eq(g.as_bytes(), want.as_bytes()))
        });
        if !ok {
            return ApiError::unauthenticated().into_response();
        }
    }
    let state = app.store.snapshot();
    let text = app.metrics.render(&Gauges {
        activity_backlog: app.store.activity_backlog(),
        mail_outbox_depth: app.store.mail_backlog(),
        log_bytes: app.store.activity_log_bytes(),
        users: state.users.len() as u64,
        password_hashes: app.auth.pool().ran(),
    });
    let mut res = text.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// Marks requests that came in on the metrics listener.
#[derive(Clone, Copy)]
pub struct OnMetricsListener;

#[derive(Clone)]
pub struct OpenApiJson(pub Arc<String>);

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn openapi_json(axum::Extension(doc): axum::Extension<OpenApiJson>) -> Response {
    let mut res = doc.0.as_str().to_owned().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}
