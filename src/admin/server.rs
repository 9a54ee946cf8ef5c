//! The daemon side of the admin socket.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::{Request, Response, Status};
use crate::domain::{Actor, Code, Feature, Refusal, Timestamp, credentials, subscription};
use crate::store::Store;

/// What the admin server needs from the running daemon.
pub struct Context {
    pub store: Store,
    pub data_dir: PathBuf,
    pub listen: String,
    /// The certificate in use; replaced on reload.
    pub tls_cert: std::sync::Mutex<Option<crate::tls::CertInfo>>,
    pub started: Instant,
    /// Base of one-time links, and how long they live.
    pub public_url: String,
    pub link_lifetime: std::time::Duration,
    /// How long a rotated service secret keeps working.
    pub service_secret_overlap: std::time::Duration,
    /// The activity log, copied into backups with the database.
    pub activity: Option<Arc<crate::audit::ActivityLog>>,
}

/// Binds `<data>/admin.sock` with mode 0600. A stale socket left by a crash
/// is removed first; the caller holds the database lock, so no live daemon
/// owns it.
pub fn bind(data_dir: &Path) -> std::io::Result<UnixListener> {
    let path = data_dir.join(super::SOCKET);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(&path)?;
    crate::fsutil::set_mode(&path, 0o600)?;
    Ok(listener)
}

pub async fn run(listener: UnixListener, ctx: Arc<Context>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_one(stream, &ctx).await {
                tracing::debug!(error = %e, "admin connection ended");
            }
        });
    }
}

async fn serve_one(stream: UnixStream, ctx: &Context) -> std::io::Result<()> {
    // File mode already limits who can connect; check the peer too in case
    // the socket's directory is shared.
    // SAFETY: geteuid takes nothing, always succeeds and touches no memory.
    let me = unsafe { libc::geteuid() };
    let peer = stream.peer_cred()?.uid();
    let (read, mut write) = stream.into_split();
    if peer != me && peer != 0 {
        let r = Response::Error {
            message: format!("uid {peer} may not use the admin socket"),
        };
        return send(&mut write, &r).await;
    }
    let mut line = String::new();
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, 64 * 1024));
    reader.read_line(&mut line).await?;
    let request: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => {
            let r = Response::Error {
                message: format!("bad request: {e}"),
            };
            return send(&mut write, &r).await;
        }
    };
    if let Request::Backup = request {
        return backup(&mut write, ctx).await;
    }
    let response = handle(request, ctx).await;
    send(&mut write, &response).await
}

async fn send(w: &mut tokio::net::unix::OwnedWriteHalf, r: &Response) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(r).unwrap_or_default();
    line.push(b'\n');
    w.write_all(&line).await?;
    w.flush().await
}

fn ok(v: impl serde::Serialize) -> Response {
    Response::Ok {
        result: serde_json::to_value(v).unwrap_or_default(),
    }
}

fn err(e: impl std::fmt::Display) -> Response {
    Response::Error {
        message: e.to_string(),
    }
}

async fn handle(request: Request, ctx: &Context) -> Response {
    let store = &ctx.store;
    match request {
        Request::Status => {
            let s = store.snapshot();
            let sub = s.subscription.as_ref();
            let cert = ctx.tls_cert.lock().ok().and_then(|c| c.clone());
            ok(Status {
                version: env!("CARGO_PKG_VERSION").into(),
                pid: std::process::id(),
                uptime_seconds: ctx.started.elapsed().as_secs(),
                listen: ctx.listen.clone(),
                data_dir: ctx.data_dir.display().to_string(),
                tls_fingerprint: cert
                    .as_ref()
                    .map(|c| c.fingerprint.clone())
                    .unwrap_or_default(),
                tls_names: cert.as_ref().map(|c| c.names.clone()).unwrap_or_default(),
                subscription: sub.map(|s| s.name.clone()).unwrap_or_default(),
                service_type: sub
                    .map(|s| s.service_type)
                    .unwrap_or(crate::domain::ServiceType::Enterprise),
                users: s.users.len() as u64,
                active_managers: s.active_managers() as u64,
                activity_backlog: store.activity_backlog(),
                mail_pending: store.mail_backlog(),
                mail_failed: store.mail_failed_count(),
                tls_expires_at: cert.as_ref().and_then(|c| c.not_after).and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                }),
                warnings: cert
                    .and_then(|c| {
                        crate::tls::expiry_warning(
                            c.not_after?,
                            time::OffsetDateTime::now_utc(),
                            c.generated,
                        )
                    })
                    .into_iter()
                    .chain(units_without_contact_warning(&s))
                    .collect(),
            })
        }
        Request::FeaturesList => {
            let s = store.snapshot();
            let on = s
                .subscription
                .as_ref()
                .map(|s| s.features.clone())
                .unwrap_or_default();
            let list: Vec<_> = Feature::ALL
                .iter()
                .map(|f| serde_json::json!({"name": f.as_str(), "enabled": on.contains(f)}))
                .collect();
            ok(list)
        }
        Request::FeatureSet { name, enabled } => {
            let feature: Feature = match name.parse() {
                Ok(f) => f,
                Err(e) => return err(e),
            };
            match store
                .write(Actor::operator(), move |tx| {
                    subscription::set_feature(tx, feature, enabled)
                })
                .await
            {
                Ok(changed) => {
                    ok(serde_json::json!({"feature": name, "enabled": enabled, "changed": changed}))
                }
                Err(e) => err(e),
            }
        }
        Request::SubscriptionShow => ok(store.snapshot().subscription.clone()),
        Request::SubscriptionSet {
            service_type,
            modules,
        } => match store
            .write(Actor::operator(), move |tx| {
                subscription::set_service(tx, service_type, modules)
            })
            .await
        {
            Ok(sub) => ok(sub),
            Err(e) => err(e),
        },
        Request::Backup => err("internal: backup is streamed"),
        Request::UsersUnlock { login } => {
            match store
                .write(Actor::operator(), move |tx| credentials::unlock(tx, &login))
                .await
            {
                Ok(u) => ok(serde_json::json!({"login": u.login, "unlocked": true})),
                Err(e) => err(e),
            }
        }
        Request::UsersResetPassword { login } => {
            let (token, hash, expires_at) = new_link(ctx);
            let link = crate::ids::activation_link(&ctx.public_url, &token);
            let result = store
                .write(Actor::operator(), move |tx| {
                    let id = tx
                        .state()
                        .user_by_login(&login)
                        .map(|u| u.id.clone())
                        .ok_or_else(|| {
                            Refusal::new(Code::NotFound, format!("no user with login {login:?}"))
                        })?;
                    credentials::reset_password(tx, None, &id, token, hash, expires_at)
                })
                .await;
            match result {
                Ok(u) => ok(serde_json::json!({
                    "login": u.login, "link": link, "expires_at": expires_at.to_rfc3339()
                })),
                Err(e) => err(e),
            }
        }
        Request::MailFailed { .. } | Request::MailRetry { .. } | Request::MailFlush => {
            mail(request, store).await
        }
        Request::ServicesList
        | Request::ServicesAdd { .. }
        | Request::ServicesRotate { .. }
        | Request::ServicesRemove { .. } => services(request, ctx).await,
        Request::UsersActivationLink { login } => {
            let (token, hash, expires_at) = new_link(ctx);
            let link = crate::ids::activation_link(&ctx.public_url, &token);
            match store
                .write(Actor::operator(), move |tx| {
                    credentials::reissue_link(tx, &login, hash, expires_at)
                })
                .await
            {
                Ok(u) => ok(serde_json::json!({
                    "login": u.login, "link": link, "expires_at": expires_at.to_rfc3339()
                })),
                Err(e) => err(e),
            }
        }
    }
}

/// `ctl services ...`: the operator's side of `domain::services`. A secret
/// is in the answer once and nowhere else.
async fn services(request: Request, ctx: &Context) -> Response {
    use crate::domain::services::{self, Scope};
    use crate::http::services::{ServiceAccountSecret, ServiceAccountView, new_secret};
    let store = &ctx.store;
    let with_secret = |a: &services::ServiceAccount, secret: String| {
        ok(ServiceAccountSecret {
            account: a.into(),
            secret,
        })
    };
    match request {
        Request::ServicesList => ok(store
            .snapshot()
            .services
            .values()
            .map(ServiceAccountView::from)
            .collect::<Vec<_>>()),
        Request::ServicesAdd { name, scopes } => {
            let scopes = match Scope::parse_list(&scopes) {
                Ok(s) => s,
                Err(e) => return err(e),
            };
            let (secret, hash) = new_secret();
            match store
                .write(Actor::operator(), move |tx| {
                    services::add(tx, &name, scopes, hash)
                })
                .await
            {
                Ok(a) => with_secret(&a, secret),
                Err(e) => err(e),
            }
        }
        Request::ServicesRotate { name } => {
            let (secret, hash) = new_secret();
            let overlap = ctx.service_secret_overlap;
            match store
                .write(Actor::operator(), move |tx| {
                    services::rotate(tx, &name, hash, overlap)
                })
                .await
            {
                Ok(a) => with_secret(&a, secret),
                Err(e) => err(e),
            }
        }
        Request::ServicesRemove { name } => match store
            .write(Actor::operator(), move |tx| services::remove(tx, &name))
            .await
        {
            Ok(a) => ok(serde_json::json!({"removed": a.name})),
            Err(e) => err(e),
        },
        _ => err("internal: not a services request"),
    }
}

/// `ctl mail ...` (R12.1), in `admin::mail`.
async fn mail(request: Request, store: &Store) -> Response {
    match request {
        Request::MailFailed { limit } => {
            let limit = limit.unwrap_or(super::mail::DEFAULT_LIMIT).max(1);
            match super::mail::failed(store, limit).await {
                Ok(list) => ok(list),
                Err(e) => err(e),
            }
        }
        Request::MailRetry { id } => match super::mail::retry(store, id).await {
            Ok(v) => ok(serde_json::json!({"requeued": v})),
            Err(e) => err(e),
        },
        Request::MailFlush => {
            let pending = store.mail_backlog();
            store.flush_mail();
            tracing::info!(pending, "operator asked to send every pending email now");
            ok(serde_json::json!({"pending": pending}))
        }
        _ => err("internal: not a mail command"),
    }
}

/// A one-time link token, its hash, and when it expires.
fn new_link(ctx: &Context) -> (String, String, Timestamp) {
    let token = crate::ids::new_token();
    let hash = crate::ids::token_hash(&token);
    let expires = ctx.store.clock().now().saturating_add(ctx.link_lifetime);
    (token, hash, expires)
}

/// Writes the snapshot to a private temporary file in the data directory
/// (the only place a hardened unit may write), streams it, then removes it.
async fn backup(w: &mut tokio::net::unix::OwnedWriteHalf, ctx: &Context) -> std::io::Result<()> {
    let tmp = ctx
        .data_dir
        .join(format!("backup-{}.redb", crate::ids::new_id()));
    let store = ctx.store.clone();
    let path = tmp.clone();
    let log = ctx.activity.clone();
    let made = tokio::task::spawn_blocking(move || match log {
        Some(log) => store.backup_with(&path, &|up_to| log.backup_cuts(up_to)),
        None => store.backup(&path),
    })
    .await;
    let summary = match made {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return send(w, &err(e)).await,
        Err(e) => return send(w, &err(e)).await,
    };
    let result = async {
        let mut file = tokio::fs::File::open(&tmp).await?;
        let bytes = file.metadata().await?.len();
        send(
            w,
            &Response::Backup {
                bytes,
                rows: summary.rows,
            },
        )
        .await?;
        tokio::io::copy(&mut file, w).await?;
        w.flush().await
    }
    .await;
    let _ = tokio::fs::remove_file(&tmp).await;
    result
}

/// "One primary contact for each business unit" (R4): units that have none
/// send their users to the subscription's contact until someone is named.
fn units_without_contact_warning(s: &crate::domain::State) -> Option<String> {
    let mut without: Vec<&str> = s
        .units
        .values()
        .filter(|u| u.primary_contact.is_none())
        .map(|u| u.name.as_str())
        .collect();
    // By name, as a person looks for them; ids are in no order a person knows.
    without.sort_unstable();
    let first = without
        .iter()
        .take(3)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    match without.len() {
        0 => None,
        n => Some(format!(
            "{n} business unit{} without a primary contact ({first}{}); name one with PUT /api/v1/business-units/{{id}}/primary-contact or in the console",
            if n == 1 { "" } else { "s" },
            if n > 3 { ", ..." } else { "" }
        )),
    }
}
