//! `POST /api/v1/notifications` (R12.1): emails sent on behalf of users and
//! other services of the appliance, to users and distribution groups. The
//! rule is `notify::send_notification`; this only translates.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::problem::{ApiResult, Problem};
use super::services::{NotifyScope, ScopedCaller};
use super::{App, Command};
use crate::domain::{NotificationKind, Tx};
use crate::notify::recipients::NotificationOutcome;
use crate::notify::{NotificationRequest, send_notification};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationBody {
    /// What it is about (R12.1): users who opted out of this kind are
    /// skipped. `vulnerabilities` when left out.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "scan_complete")]
    pub(crate) kind: NotificationKind,
    /// User ids (Contacts included; deactivated users are skipped).
    #[serde(default)]
    pub(crate) to_users: Vec<String>,
    /// Distribution group ids: each reaches its members the caller may see
    /// (R10.1) and its plain addresses. One email per address in all.
    #[serde(default)]
    pub(crate) to_distribution_groups: Vec<String>,
    /// One line, 1 to 200 characters.
    pub(crate) subject: String,
    /// Plain text, at most 64 KiB.
    pub(crate) body: String,
}

/// A recipient left out: a user (`user`) or a plain address (`address`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct SkippedRecipient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct NotificationQueued {
    /// Users with an email queued, one each; delivery follows (R12.1).
    queued: Vec<String>,
    /// Plain addresses of distribution groups with an email queued.
    queued_addresses: Vec<String>,
    skipped: Vec<SkippedRecipient>,
}

impl NotificationQueued {
    pub fn new(out: NotificationOutcome) -> NotificationQueued {
        NotificationQueued {
            queued: out.queued,
            queued_addresses: out.queued_addresses,
            skipped: out
                .skipped
                .into_iter()
                .map(|s| SkippedRecipient {
                    user: s.user,
                    address: s.address,
                    reason: s.reason,
                })
                .collect(),
        }
    }
}

/// Queues a notification for each recipient (R12.1). Managers, Unit
/// Managers, User Administrators and (while `kb_only_role` is on)
/// KnowledgeBase Only users send, to the users they may see and to
/// distribution groups; deactivated users get nothing (R7.3).
#[utoipa::path(post, path = "/api/v1/notifications", tag = "notifications",
    request_body = NotificationBody,
    responses(
        (status = 202, description = "queued for delivery", body = NotificationQueued),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "a user or distribution group is unknown or hidden from the caller", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = []), ("service" = [])))]
pub async fn send(
    State(app): State<App>,
    ScopedCaller(caller, _): ScopedCaller<NotifyScope>,
    ApiJson(req): ApiJson<NotificationBody>,
) -> ApiResult<(StatusCode, Json<NotificationQueued>)> {
    let out = app.store.write(caller.actor(), send_command(req)).await?;
    Ok((StatusCode::ACCEPTED, Json(NotificationQueued::new(out))))
}

/// `POST /notifications` as a command.
pub(crate) fn send_command(req: NotificationBody) -> impl Command<NotificationOutcome> {
    let request = NotificationRequest {
        kind: req.kind,
        to_users: req.to_users,
        to_distribution_groups: req.to_distribution_groups,
        subject: req.subject,
        body: req.body,
    };
    move |tx: &mut Tx<'_>| send_notification(tx, request)
}
