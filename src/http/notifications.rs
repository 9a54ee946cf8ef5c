//! `POST /api/v1/notifications` (R12.1): emails sent on behalf of users and
//! other services of the appliance. The rule is `notify::send_notification`;
//! this only translates.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::App;
use super::caller::Caller;
use super::extract::ApiJson;
use super::problem::{ApiResult, Problem};
use crate::notify::{NotificationRequest, send_notification};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationBody {
    /// User ids (Contacts included; deactivated users are skipped).
    #[serde(default)]
    pub(crate) to_users: Vec<String>,
    /// Not available yet: a non-empty list is refused with `validation`.
    #[serde(default)]
    pub(crate) to_distribution_groups: Vec<String>,
    /// One line, 1 to 200 characters.
    pub(crate) subject: String,
    /// Plain text, at most 64 KiB.
    pub(crate) body: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct SkippedRecipient {
    user: String,
    reason: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct NotificationQueued {
    /// Users with an email queued, one each; delivery follows (R12.1).
    queued: Vec<String>,
    skipped: Vec<SkippedRecipient>,
}

/// Queues a notification for each recipient (R12.1). Managers, Unit
/// Managers and User Administrators send, to the users they may see.
#[utoipa::path(post, path = "/api/v1/notifications", tag = "notifications",
    request_body = NotificationBody,
    responses(
        (status = 202, description = "queued for delivery", body = NotificationQueued),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "a recipient is unknown or hidden from the caller", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn send(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<NotificationBody>,
) -> ApiResult<(StatusCode, Json<NotificationQueued>)> {
    let request = NotificationRequest {
        to_users: req.to_users,
        to_distribution_groups: req.to_distribution_groups,
        subject: req.subject,
        body: req.body,
    };
    let out = app
        .store
        .write(caller.actor(), move |tx| send_notification(tx, request))
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(NotificationQueued {
            queued: out.queued,
            skipped: out
                .skipped
                .into_iter()
                .map(|s| SkippedRecipient {
                    user: s.user,
                    reason: s.reason,
                })
                .collect(),
        }),
    ))
}
