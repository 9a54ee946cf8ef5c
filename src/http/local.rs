//! The local socket (`server.api_socket`): the same `/api/v1` routes over
//! HTTP/1.1 without TLS, for the services on the same machine, which then
//! need no certificate to ask a microsecond question.
//!
//! The one thing to know: the socket is reachable only through its file
//! mode (0660, group `server.socket_group`), and a request on it is
//! authenticated like any other, except that a peer uid mapped to a service
//! account in `server.socket_peers` is that account without a secret (the
//! kernel vouches for the uid, `SO_PEERCRED`). Nothing but `/api/v1/` is
//! served here: the console and the operations endpoints stay on HTTPS.

use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

/// Who is on the other end of a local connection.
#[derive(Debug, Clone)]
pub struct LocalPeer {
    pub uid: u32,
    /// The service account `server.socket_peers` maps the uid to.
    pub service: Option<String>,
}

pub struct LocalOptions {
    pub header_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    /// Peer uid to service account name.
    pub peers: HashMap<u32, String>,
}

/// Binds the socket with mode 0660 and, when given, group `gid`. A stale
/// socket left by a crash is removed first; the caller holds the database
/// lock, so no live daemon owns it.
pub fn bind(path: &Path, gid: Option<u32>) -> std::io::Result<UnixListener> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    if let Some(gid) = gid {
        std::os::unix::fs::chown(path, None, Some(gid))?;
    }
    crate::fsutil::set_mode(path, 0o660)?;
    Ok(listener)
}

/// Serves `router`'s `/api/v1/` routes on `listener` until `shutdown`
/// resolves, then lets open requests finish within the grace.
pub async fn serve(
    listener: UnixListener,
    router: axum::Router,
    opts: LocalOptions,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let peers = Arc::new(opts.peers);
    let (stop, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            _ = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "local accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let peers = peers.clone();
        let stopping = stopping.clone();
        let header_timeout = opts.header_timeout;
        tokio::spawn(async move {
            connection(stream, router, &peers, header_timeout, stopping).await;
            drop(slot);
        });
    }
    let _ = stop.send(true);
    let all = u32::try_from(opts.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(opts.shutdown_grace, slots.acquire_many(all)).await;
}

async fn connection(
    stream: UnixStream,
    router: axum::Router,
    peers: &HashMap<u32, String>,
    header_timeout: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let Ok(cred) = stream.peer_cred() else {
        return;
    };
    let peer = LocalPeer {
        uid: cred.uid(),
        service: peers.get(&cred.uid()).cloned(),
    };
    let service = tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let mut req = req.map(axum::body::Body::new);
        let api = req.uri().path().starts_with("/api/v1/");
        req.extensions_mut().insert(peer.clone());
        let answer = router.clone().oneshot(req);
        async move { if api { answer.await } else { Ok(not_here()) } }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(64 * 1024)
        .serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        ended = conn.as_mut() => {
            if let Err(e) = ended {
                tracing::debug!(error = %e, "local connection ended with an error");
            }
        }
        _ = async { let _ = stopping.wait_for(|s| *s).await; } => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.as_mut().await;
        }
    }
}

/// Everything but the API is for HTTPS only.
fn not_here() -> axum::response::Response {
    use axum::response::IntoResponse;
    super::problem::ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "the local socket serves /api/v1/ only; the console and operations endpoints are on HTTPS",
    )
    .into_response()
}

/// Parses `server.socket_peers` entries, `UID=SERVICE`.
pub fn parse_peers(entries: &[String]) -> Result<HashMap<u32, String>, String> {
    entries
        .iter()
        .map(|e| {
            let (uid, name) = e.split_once('=').ok_or_else(|| e.clone())?;
            let uid = uid.trim().parse::<u32>().map_err(|_| e.clone())?;
            let name = name.trim();
            if name.is_empty() {
                return Err(e.clone());
            }
            Ok((uid, name.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_are_uid_equals_service() {
        let p = parse_peers(&["998=scanner".into(), " 1001 = reports ".into()]).unwrap();
        assert_eq!(p.get(&998).map(String::as_str), Some("scanner"));
        assert_eq!(p.get(&1001).map(String::as_str), Some("reports"));
        for bad in ["scanner", "x=scanner", "998=", "-1=a"] {
            assert_eq!(parse_peers(&[bad.into()]), Err(bad.to_owned()), "{bad}");
        }
    }
}
