//! The TLS listener: accepts connections, refuses plain HTTP with a clear
//! answer, bounds how long a client may take to say anything, and drains
//! in-flight requests on shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::metrics::Metrics;
use crate::tls::Reloadable;

pub struct ServeOptions {
    pub header_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    /// A response write without progress this long closes the connection.
    pub write_stall: Duration,
}

/// First byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

/// Serves `router` on `listener` until `shutdown` resolves, then waits up to
/// `shutdown_grace` for open requests to finish.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<Reloadable>,
    router: axum::Router,
    metrics: Arc<Metrics>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; closing new connection");
            drop(stream);
            continue;
        };
        let conn = Conn {
            tls: tls.clone(),
            router: router.clone(),
            metrics: metrics.clone(),
            watcher: graceful.watcher(),
            header_timeout: opts.header_timeout,
            write_stall: opts.write_stall,
        };
        tokio::spawn(async move {
            conn.run(stream, peer).await;
            drop(slot);
        });
    }
    drop(listener);
    let open = graceful.count();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    if tokio::time::timeout(opts.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}

struct Conn {
    tls: Arc<Reloadable>,
    router: axum::Router,
    metrics: Arc<Metrics>,
    watcher: Watcher,
    header_timeout: Duration,
    write_stall: Duration,
}

impl Conn {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let mut first = [0u8; 1];
        match tokio::time::timeout(self.header_timeout, stream.peek(&mut first)).await {
            Ok(Ok(1)) => {}
            _ => return,
        }
        if first[0] != TLS_HANDSHAKE {
            self.metrics
                .plain_http_refused
                .fetch_add(1, Ordering::Relaxed);
            refuse_plain(stream, self.header_timeout).await;
            return;
        }
        let acceptor = TlsAcceptor::from(self.tls.current());
        let tls_stream =
            match tokio::time::timeout(self.header_timeout, acceptor.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    self.metrics
                        .tls_handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    self.metrics
                        .tls_handshake_failures
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
        let service = self.router.map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(peer));
                req.map(axum::body::Body::new)
            },
        );
        let service = hyper_util::service::TowerToHyperService::new(service);
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout)
            .max_buf_size(64 * 1024);
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(64)
            .max_header_list_size(64 * 1024)
            .keep_alive_interval(Duration::from_secs(30));
        let conn = builder
            .serve_connection(
                TokioIo::new(super::stall::WriteStall::new(tls_stream, self.write_stall)),
                service,
            )
            .into_owned();
        if let Err(e) = self.watcher.watch(conn).await {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// Answers a plain-HTTP request on the TLS port with a 400 that says what to
/// do, instead of leaving the client hanging in a handshake it never started.
async fn refuse_plain(mut stream: TcpStream, wait: Duration) {
    let mut buf = [0u8; 4096];
    let _ = tokio::time::timeout(wait.min(Duration::from_secs(1)), stream.read(&mut buf)).await;
    let body = r#"{"type":"urn:bailiwick:problem:tls_required","title":"Bad Request","status":400,"detail":"this port speaks HTTPS only; use https://","code":"tls_required"}"#;
    let response = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/problem+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(wait, async {
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
