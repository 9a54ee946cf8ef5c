//! The TLS listener: accepts connections, refuses plain HTTP with a clear
//! answer, bounds how long a client may take to say anything, and drains
//! in-flight requests on shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::metrics::Metrics;
use crate::source::TrustedProxies;
use crate::tls::Reloadable;

#[derive(Clone)]
pub struct ServeOptions {
    /// From accept to the first complete request head, handshake included.
    pub header_timeout: Duration,
    /// A connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_connections: usize,
    /// A response write without progress this long closes the connection.
    pub write_stall: Duration,
    pub max_connections_per_source: usize,
    pub ipv6_prefix: u8,
    pub trusted_proxies: TrustedProxies,
}

/// The client address of a request: the connection's, or the one a trusted
/// proxy forwarded (`server.trusted_proxies`).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// First byte of every TLS connection (a handshake record).
const TLS_HANDSHAKE: u8 = 0x16;

/// How often the connection-limit warning may be logged.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// How long a connection told to close may take to say goodbye (an HTTP/2
/// GOAWAY, a half-read head) before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` resolves, then waits up to
/// `shutdown_grace` for open requests to finish.
///
/// At `max_connections` the loop stops accepting, so further clients wait in
/// the kernel's backlog rather than being accepted and dropped; a source past
/// `max_connections_per_source` is closed at once, so that one source cannot
/// fill the server.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<Reloadable>,
    router: axum::Router,
    metrics: Arc<Metrics>,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(opts.max_connections));
    let sources = Arc::new(Sources::default());
    let per_source = opts.max_connections_per_source.min(opts.max_connections);
    let proxies = Arc::new(opts.trusted_proxies);
    let (stop, stopping) = watch::channel(false);
    let mut warnings = LimitWarnings::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                warnings.note("server.max_connections", &metrics);
                tokio::select! {
                    _ = &mut shutdown => break,
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => break,
                    },
                }
            }
        };
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
        let accepted_at = Instant::now();
        // A proxy carries many clients: its connections count only globally.
        let source = if proxies.trusts(peer.ip()) {
            None
        } else {
            let key = crate::source::key(peer.ip(), opts.ipv6_prefix);
            match sources.claim(key, per_source) {
                Some(claim) => Some(claim),
                None => {
                    warnings.note("server.max_connections_per_source", &metrics);
                    drop(stream);
                    continue;
                }
            }
        };
        let conn = Conn {
            tls: tls.clone(),
            router: router.clone(),
            metrics: metrics.clone(),
            proxies: proxies.clone(),
            stopping: stopping.clone(),
            deadline: accepted_at + opts.header_timeout,
            header_timeout: opts.header_timeout,
            write_stall: opts.write_stall,
            idle_timeout: opts.idle_timeout,
        };
        tokio::spawn(async move {
            conn.run(stream, peer).await;
            drop(source);
            drop(slot);
        });
    }
    drop(listener);
    let open = opts.max_connections - slots.available_permits();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    let _ = stop.send(true);
    let all = u32::try_from(opts.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(opts.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}

/// Open connections per source, for `server.max_connections_per_source`.
/// An entry lives only while its source has a connection open, so the map
/// holds at most `max_connections` entries.
#[derive(Default)]
struct Sources(Mutex<HashMap<IpAddr, usize>>);

impl Sources {
    fn claim(self: &Arc<Self>, key: IpAddr, max: usize) -> Option<SourceClaim> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(SourceClaim {
            sources: self.clone(),
            key,
        })
    }
}

struct SourceClaim {
    sources: Arc<Sources>,
    key: IpAddr,
}

impl Drop for SourceClaim {
    fn drop(&mut self) {
        let mut map = self.sources.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// One warning line per [`WARN_EVERY`] with the number of connections held
/// back since the last one: a flood must not become a flood of log lines.
#[derive(Default)]
struct LimitWarnings {
    held_back: u64,
    last: Option<Instant>,
}

impl LimitWarnings {
    fn note(&mut self, limit: &'static str, metrics: &Metrics) {
        metrics.connections_limited.fetch_add(1, Ordering::Relaxed);
        self.held_back += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|t| now.duration_since(t) >= WARN_EVERY)
        {
            tracing::warn!(
                held_back = self.held_back,
                limit,
                "connection limit reached; connections held back or closed since the last warning"
            );
            self.held_back = 0;
            self.last = Some(now);
        }
    }
}

struct Conn {
    tls: Arc<Reloadable>,
    router: axum::Router,
    metrics: Arc<Metrics>,
    proxies: Arc<TrustedProxies>,
    stopping: watch::Receiver<bool>,
    /// Accept time plus `header_timeout`.
    deadline: Instant,
    header_timeout: Duration,
    write_stall: Duration,
    idle_timeout: Duration,
}

impl Conn {
    async fn run(self, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let mut first = [0u8; 1];
        match tokio::time::timeout_at(self.deadline, stream.peek(&mut first)).await {
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
        let tls_stream = match tokio::time::timeout_at(self.deadline, acceptor.accept(stream)).await
        {
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
        let activity = Arc::new(Activity::new());
        let watched = activity.clone();
        let router = self.router.clone();
        let proxies = self.proxies.clone();
        let service = tower::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let in_flight = InFlight::start(&activity);
            let forwarded: Vec<&str> = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            let client = proxies.client(peer.ip(), &forwarded);
            let mut req = req.map(axum::body::Body::new);
            req.extensions_mut().insert(ConnectInfo(peer));
            req.extensions_mut().insert(ClientAddr(client));
            let answer = router.clone().oneshot(req);
            async move {
                let res = answer.await?;
                // The request is in flight until its body is sent (or dropped).
                Ok::<_, std::convert::Infallible>(res.map(move |body| {
                    axum::body::Body::new(body.map_frame(move |frame| {
                        let _ = &in_flight;
                        frame
                    }))
                }))
            }
        });
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
        let mut conn = std::pin::pin!(conn);
        let idle = until_idle(watched, self.deadline, self.idle_timeout);
        let mut stopping = self.stopping.clone();
        let stop = async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        let ended = tokio::select! {
            ended = conn.as_mut() => Some(ended),
            _ = idle => None,
            _ = stop => {
                // Shutdown: open requests finish, within the daemon's grace.
                conn.as_mut().graceful_shutdown();
                Some(conn.as_mut().await)
            }
        };
        let ended = match ended {
            Some(ended) => ended,
            None => {
                // Silent or idle: nothing is in flight, so closing loses
                // nothing; HTTP/2 clients get a GOAWAY first.
                conn.as_mut().graceful_shutdown();
                match tokio::time::timeout(CLOSE_GRACE, conn.as_mut()).await {
                    Ok(ended) => ended,
                    Err(_) => return,
                }
            }
        };
        if let Err(e) = ended {
            tracing::debug!(%peer, error = %e, "connection ended with an error");
        }
    }
}

/// What a connection is doing, for [`until_idle`]: atomics, so that a
/// request costs two updates and wakes nothing; the watcher looks when its
/// own timer fires.
struct Activity {
    /// Requests whose answer is not fully sent.
    in_flight: AtomicUsize,
    /// Whether a request head has ever arrived.
    seen: AtomicBool,
    /// When `in_flight` last fell to 0, in microseconds since `origin`.
    idle_since_us: AtomicU64,
    origin: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            seen: AtomicBool::new(false),
            idle_since_us: AtomicU64::new(0),
            origin: Instant::now(),
        }
    }

    fn idle_since(&self) -> Instant {
        self.origin + Duration::from_micros(self.idle_since_us.load(Ordering::Acquire))
    }
}

/// A request in flight; counted from its complete head to its last byte out.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.seen.store(true, Ordering::Release);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        let since = a.origin.elapsed().as_micros() as u64;
        a.idle_since_us.store(since, Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Resolves when the connection should be closed: no complete request head
/// by `first_deadline` (whatever the protocol: the HTTP/2 preface and
/// SETTINGS do not count), or no request in flight for `idle`.
async fn until_idle(activity: Arc<Activity>, first_deadline: Instant, idle: Duration) {
    loop {
        let now = Instant::now();
        let deadline = if !activity.seen.load(Ordering::Acquire) {
            first_deadline
        } else if activity.in_flight.load(Ordering::Acquire) == 0 {
            activity.idle_since() + idle
        } else {
            // Busy: a request in flight is not idle; look again later.
            now + idle
        };
        if deadline <= now {
            let busy = activity.in_flight.load(Ordering::Acquire) != 0;
            let seen = activity.seen.load(Ordering::Acquire);
            if !busy && (!seen || activity.idle_since() + idle <= now) {
                return;
            }
            continue;
        }
        tokio::time::sleep_until(deadline).await;
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
