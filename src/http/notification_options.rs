//! Notification Options (R12.1): `GET/PUT /api/v1/me/notification-options`
//! and, for Managers, `/api/v1/users/{id}/notification-options`. The rule
//! is `domain::notification_options`; this only translates.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::Caller;
use super::extract::ApiJson;
use super::problem::{ApiResult, Problem};
use super::{App, Command};
use crate::domain::access::Acting;
use crate::domain::notification_options::{self, NotificationOption};
use crate::domain::{NotificationKind, Tx};

fn wanted() -> bool {
    true
}

/// Whether the user wants each kind of notification. In a `PUT`, a kind
/// left out is wanted: the document is the whole of the user's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationOptions {
    #[serde(default = "wanted")]
    vulnerabilities: bool,
    #[serde(default = "wanted")]
    scan_complete: bool,
    #[serde(default = "wanted")]
    scan_summary: bool,
    #[serde(default = "wanted")]
    map_complete: bool,
    #[serde(default = "wanted")]
    report_complete: bool,
    #[serde(default = "wanted")]
    asset_group_changes: bool,
    #[serde(default = "wanted")]
    excluded_hosts: bool,
}

impl NotificationOptions {
    /// The field of `kind`; a kind added to the domain fails to compile here
    /// until it has its field.
    fn field(&mut self, kind: NotificationKind) -> &mut bool {
        match kind {
            NotificationKind::Vulnerabilities => &mut self.vulnerabilities,
            NotificationKind::ScanComplete => &mut self.scan_complete,
            NotificationKind::ScanSummary => &mut self.scan_summary,
            NotificationKind::MapComplete => &mut self.map_complete,
            NotificationKind::ReportComplete => &mut self.report_complete,
            NotificationKind::AssetGroupChanges => &mut self.asset_group_changes,
            NotificationKind::ExcludedHosts => &mut self.excluded_hosts,
        }
    }

    pub(crate) fn from_options(options: &[NotificationOption]) -> NotificationOptions {
        let mut out = NotificationOptions {
            vulnerabilities: true,
            scan_complete: true,
            scan_summary: true,
            map_complete: true,
            report_complete: true,
            asset_group_changes: true,
            excluded_hosts: true,
        };
        for o in options {
            *out.field(o.kind) = o.wanted;
        }
        out
    }

    pub(crate) fn opt_outs(mut self) -> BTreeSet<NotificationKind> {
        NotificationKind::ALL
            .into_iter()
            .filter(|k| !*self.field(*k))
            .collect()
    }
}

async fn read(app: &App, caller: &Caller, id: &str) -> ApiResult<Json<NotificationOptions>> {
    let state = app.store.snapshot();
    let acting = Acting::of(&state, &caller.user.id)?;
    let options = notification_options::get_options(&acting, id)?;
    Ok(Json(NotificationOptions::from_options(&options)))
}

async fn write(
    app: &App,
    caller: &Caller,
    id: String,
    req: NotificationOptions,
) -> ApiResult<Json<NotificationOptions>> {
    let options = app
        .store
        .write(caller.actor(), set_options_command(req, id))
        .await?;
    Ok(Json(NotificationOptions::from_options(&options)))
}

/// `PUT .../notification-options` of user `id` as a command.
pub(crate) fn set_options_command(
    req: NotificationOptions,
    id: String,
) -> impl Command<Vec<NotificationOption>> {
    let opt_outs = req.opt_outs();
    move |tx: &mut Tx<'_>| notification_options::set_options(tx, &id, opt_outs)
}

/// The caller's own notification options (R12.1).
#[utoipa::path(get, path = "/api/v1/me/notification-options", tag = "sessions",
    responses((status = 200, body = NotificationOptions)),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_own(
    State(app): State<App>,
    caller: Caller,
) -> ApiResult<Json<NotificationOptions>> {
    let id = caller.user.id.clone();
    read(&app, &caller, &id).await
}

/// Sets the caller's own notification options: `false` opts out of a kind;
/// kinds left out are wanted. Registration, credential and lock emails are
/// sent whatever these say.
#[utoipa::path(put, path = "/api/v1/me/notification-options", tag = "sessions",
    request_body = NotificationOptions,
    responses((status = 200, body = NotificationOptions),
        (status = 400, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_own(
    State(app): State<App>,
    caller: Caller,
    ApiJson(req): ApiJson<NotificationOptions>,
) -> ApiResult<Json<NotificationOptions>> {
    let id = caller.user.id.clone();
    write(&app, &caller, id, req).await
}

/// A user's notification options: Managers, for any user they may see
/// (Contacts cannot sign in to set their own).
#[utoipa::path(get, path = "/api/v1/users/{id}/notification-options", tag = "users",
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = NotificationOptions),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn get_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<NotificationOptions>> {
    read(&app, &caller, &id).await
}

/// Sets a user's notification options (Managers).
#[utoipa::path(put, path = "/api/v1/users/{id}/notification-options", tag = "users",
    params(("id" = String, Path, description = "user id")),
    request_body = NotificationOptions,
    responses((status = 200, body = NotificationOptions),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = []), ("basic" = [])))]
pub async fn put_user(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<NotificationOptions>,
) -> ApiResult<Json<NotificationOptions>> {
    write(&app, &caller, id, req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind has its own field, and the document round-trips.
    #[test]
    fn each_kind_reads_and_writes_its_own_field() {
        for kind in NotificationKind::ALL {
            let options: Vec<NotificationOption> = NotificationKind::ALL
                .into_iter()
                .map(|k| NotificationOption {
                    kind: k,
                    wanted: k != kind,
                })
                .collect();
            let doc = NotificationOptions::from_options(&options);
            let json = serde_json::to_value(&doc).unwrap();
            assert_eq!(json[kind.as_str()], false, "{kind:?}");
            assert_eq!(doc.opt_outs(), BTreeSet::from([kind]));
        }
    }
}
