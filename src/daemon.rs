//! `bailiwick serve`: opens the store, bootstraps a first subscription on an
//! empty data directory, and runs the HTTPS and admin listeners until SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::Actor;
use crate::domain::bootstrap::{self, Bootstrap, FirstCredential};
use crate::store::{self, OpenError, Store};
use crate::{admin, audit, http, ids, notify, systemd, tls};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] OpenError),
    #[error("TLS: {0}")]
    Tls(#[from] tls::TlsError),
    #[error(
        "cannot listen on {addr}: {source}; is another server using the port? (set server.listen or --listen)"
    )]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the admin socket in {path}: {source}")]
    Admin {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the local API socket {path} (server.api_socket): {source}")]
    ApiSocket {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("first-run setup failed: {0}")]
    Bootstrap(String),
    /// A start-up step that ran on a blocking thread died (panicked or was
    /// cancelled) instead of returning its own error.
    #[error("start-up step {step} failed: {reason}")]
    Startup { step: &'static str, reason: String },
    #[error("password hashing settings (auth.argon2_*): {0}")]
    Hashing(#[from] crate::auth::password::HashError),
    #[error(transparent)]
    ActivityLog(#[from] audit::LogError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error("mail: {0}")]
    Mail(#[from] notify::SetupError),
    #[error("activity forwarding: {0}")]
    Forward(#[from] audit::forward::ForwardError),
}

/// Threads of the runtime's blocking pool.
const BLOCKING_THREADS: usize = 64;

/// Runs the daemon to completion. `config_path` is re-read on SIGHUP.
pub fn serve(config: Config, config_path: Option<PathBuf>) -> Result<(), DaemonError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking threads serve searches, exports (bounded by
        // activity.max_exports) and backups; hashing has its own threads.
        // tokio's default of 512 only hides a leak until memory runs out.
        .max_blocking_threads(BLOCKING_THREADS)
        .thread_name("bailiwick")
        .build()
        .map_err(DaemonError::Runtime)?;
    runtime.block_on(run(config, config_path))
}

async fn run(config: Config, config_path: Option<PathBuf>) -> Result<(), DaemonError> {
    // Everything the daemon creates is private to its user.
    // SAFETY: umask only sets the process's file mode mask; it cannot fail
    // and touches no memory of ours.
    unsafe { libc::umask(0o077) };
    tls::install_default_provider();
    // Bound before the data directory is touched: a busy port changes nothing.
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|source| DaemonError::Bind {
            addr: config.server.listen,
            source,
        })?;
    let metrics_listener = match config.metrics_place() {
        Ok(crate::config::MetricsPlace::Own(addr)) => Some((
            addr,
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| DaemonError::Bind { addr, source })?,
        )),
        _ => None,
    };
    let data_dir = config.data_dir();
    crate::fsutil::create_private_dir(&data_dir).map_err(|source| DaemonError::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    let local = listener.local_addr().unwrap_or(config.server.listen);
    let public_url = config.public_url_for(local);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Test builds give `Options` a fault-injection field.
    #[cfg_attr(not(test), allow(clippy::needless_update))]
    let options = store::Options {
        cache_size: config.storage.cache_size.0 as usize,
        create: true,
        ..store::Options::default()
    };
    let dir = data_dir.clone();
    let clk = clock.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, &options, clk))
        .await
        .map_err(|e| startup("opening the storage", e))??;
    tracing::info!(path = %store.path().display(), "storage open");
    // Recovery (a torn tail cut) happens here; the drain's first pass then
    // replays what the outbox still holds (R11.3).
    let dir = data_dir.clone();
    let (activity_log, log_writer) =
        tokio::task::spawn_blocking(move || audit::ActivityLog::open(&dir))
            .await
            .map_err(|e| startup("opening the activity log", e))??;
    let drain = audit::drain::Drain::spawn(
        store.clone(),
        activity_log.clone(),
        log_writer,
        config.activity.clone(),
    );

    if !store.snapshot().initialised() {
        first_run(&store, &config, &public_url, &data_dir).await?;
    }

    let (tls_config, cert) = tls::load(&config.tls, &data_dir, &tls::Wanted::for_config(&config))?;
    let tls = Arc::new(tls::Reloadable::new(tls_config));
    announce_certificate(&cert);

    let started = Instant::now();
    let admin_ctx = Arc::new(admin::server::Context {
        store: store.clone(),
        data_dir: data_dir.clone(),
        listen: local.to_string(),
        tls_cert: std::sync::Mutex::new(Some(cert.clone())),
        started,
        public_url: public_url.clone(),
        link_lifetime: config.auth.activation_link_lifetime.0,
        service_secret_overlap: config.auth.service_secret_overlap.0,
        activity: Some(activity_log.clone()),
    });
    let admin_listener = admin::server::bind(&data_dir).map_err(|source| DaemonError::Admin {
        path: data_dir.clone(),
        source,
    })?;
    let admin_task = tokio::spawn(admin::server::run(admin_listener, admin_ctx.clone()));

    let app = http::App::new(store.clone(), Arc::new(config), clock)?;
    let config = app.config.clone();
    let metrics = app.metrics.clone();
    // Mail (R12): a bad password or CA file stops the start, naming the key.
    let delivery = notify::delivery::Delivery::start(
        store.clone(),
        notify::delivery::Transport::from_config(&config.mail, &data_dir)?,
        notify::delivery::Options::from_config(&config.mail, public_url.clone())?,
        metrics.clone(),
    );
    let forwarder = match audit::forward::Sink::from_config(&config.activity)? {
        Some(sink) => Some(audit::forward::Forwarder::start(
            sink,
            &config.activity,
            &data_dir,
            activity_log.clone(),
            metrics.clone(),
        )?),
        None => None,
    };
    let backups = config.backup_every().ok().flatten().map(|every| {
        let schedule = admin::backups::Schedule {
            dir: config.backup_dir(),
            every,
            keep: config.backup.keep as usize,
        };
        tracing::info!(dir = %schedule.dir.display(), every_s = every.as_secs(), keep = schedule.keep, "scheduled backups on");
        tokio::spawn(admin::backups::run(
            schedule,
            store.clone(),
            activity_log.clone(),
            metrics.clone(),
        ))
    });
    let shutting_down = app.shutting_down.clone();
    let sweeper = tokio::spawn(sweep_sessions(
        store.clone(),
        app.sessions.clone(),
        config.auth.session_idle.0,
        config.auth.session_sweep_interval.0,
    ));
    // Rate-limit state for addresses and logins that went quiet is dropped
    // (the sweeper above drops the last use of sessions that are gone).
    let limits = app.auth.clone();
    let metrics_router = http::metrics_router(app.clone());
    let router = http::router(app).layer(axum::Extension(activity_log));
    let api_socket = config.api_socket();
    let (local_stop, local_stopped) = tokio::sync::oneshot::channel::<()>();
    let local_task = match &api_socket {
        Some(path) => {
            let listener = http::local::bind(path, config.socket_gid()).map_err(|source| {
                DaemonError::ApiSocket {
                    path: path.to_path_buf(),
                    source,
                }
            })?;
            let opts = http::local::LocalOptions {
                header_timeout: config.server.header_timeout.0,
                shutdown_grace: config.server.shutdown_grace.0,
                max_connections: config.server.max_connections as usize,
                // Checked when the configuration was read.
                peers: http::local::parse_peers(&config.server.socket_peers).unwrap_or_default(),
            };
            tracing::info!(path = %path.display(), "serving the API on the local socket");
            Some(tokio::spawn(http::local::serve(
                listener,
                router.clone(),
                opts,
                async move {
                    let _ = local_stopped.await;
                },
            )))
        }
        None => None,
    };
    let pruner = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            limits.prune();
        }
    });
    let opts = http::server::ServeOptions {
        header_timeout: config.server.header_timeout.0,
        idle_timeout: config.server.idle_timeout.0,
        shutdown_grace: config.server.shutdown_grace.0,
        max_connections: config.server.max_connections as usize,
        write_stall: config.server.request_timeout.0,
        max_connections_per_source: config.server.max_connections_per_source as usize,
        ipv6_prefix: config.server.ipv6_prefix,
        // Checked when the configuration was read.
        trusted_proxies: crate::source::TrustedProxies::parse(&config.server.trusted_proxies)
            .unwrap_or_default(),
    };
    raise_descriptor_limit(opts.max_connections);
    let (metrics_stop, metrics_stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics_task = match metrics_listener {
        Some((wanted, listener)) => {
            let at = listener.local_addr().unwrap_or(wanted);
            tracing::info!(listen = %at, "serving /metrics on its own listener");
            println!("metrics on https://{at}");
            let opts = http::server::ServeOptions {
                max_connections: 64,
                max_connections_per_source: 64,
                ..opts.clone()
            };
            Some(tokio::spawn(http::server::serve(
                listener,
                tls.clone(),
                metrics_router,
                metrics.clone(),
                opts,
                async move {
                    let _ = metrics_stopped.await;
                },
            )))
        }
        None => None,
    };

    // Signals are registered before READY so that none is missed.
    let signals = Signals::new(tls.clone(), config_path, admin_ctx.clone(), shutting_down)?;
    tracing::info!(listen = %local, "serving HTTPS");
    // Test harnesses and scripts read this line to learn the port.
    println!("listening on https://{local}");
    systemd::notify("READY=1");

    http::server::serve(listener, tls, router, metrics, opts, signals.wait()).await;

    systemd::notify("STOPPING=1");
    let _ = local_stop.send(());
    let _ = metrics_stop.send(());
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    if let Some(task) = local_task {
        let _ = task.await;
    }
    if let Some(path) = &api_socket {
        let _ = std::fs::remove_file(path);
    }
    admin_task.abort();
    pruner.abort();
    if let Some(task) = backups {
        task.abort();
    }
    sweeper.abort();
    delivery.stop(config.server.shutdown_grace.0).await;
    let _ = std::fs::remove_file(data_dir.join(admin::SOCKET));
    let s = store.clone();
    // The writer stops first, so the drain's last pass empties the outbox.
    let _ = tokio::task::spawn_blocking(move || {
        s.close();
        drain.stop();
        if let Some(f) = forwarder {
            f.stop();
        }
    })
    .await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Every `every`, removes the sessions that have ended (R8.1) from storage,
/// then the in-memory uses of sessions that are gone: otherwise both grow
/// with every login ever made.
async fn sweep_sessions(
    store: Store,
    last_use: Arc<crate::auth::last_use::LastUse>,
    idle: std::time::Duration,
    every: std::time::Duration,
) {
    use crate::domain::sessions;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = store.clock().now();
        let used = |h: &str| last_use.last_used(h);
        // Looked for on the snapshot first: no commit when nothing ended.
        if !sessions::expired_sessions(&store.snapshot(), now, idle, &used).is_empty() {
            let lu = last_use.clone();
            let swept = store
                .write(notify::delivery::system_actor(), move |tx| {
                    Ok(sessions::sweep(tx, idle, &|h| lu.last_used(h)))
                })
                .await;
            match swept {
                Ok(n) => tracing::debug!(removed = n, "expired sessions removed"),
                Err(e) => {
                    tracing::warn!(error = %e, "removing expired sessions failed; trying again later");
                    continue;
                }
            }
        }
        let state = store.snapshot();
        last_use.retain(|h| state.sessions.contains_key(h));
    }
}

/// Raises the soft limit on open files to the hard one: every connection is
/// a descriptor, and the usual soft limit (1024) is below what
/// `server.max_connections` allows plus the daemon's own files.
fn raise_descriptor_limit(max_connections: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    let needed = max_connections as u64 + 64;
    if lim.rlim_cur < needed {
        tracing::warn!(
            open_files = lim.rlim_cur,
            needed,
            "the open-file limit is below server.max_connections plus the daemon's own files; raise LimitNOFILE"
        );
    }
}

/// An empty data directory: subscription `Default`, Manager `admin` as its
/// primary contact, and a one-time activation link printed and written 0600.
async fn first_run(
    store: &Store,
    config: &Config,
    public_url: &str,
    data_dir: &Path,
) -> Result<(), DaemonError> {
    let token = ids::new_token();
    let expires_at = store
        .clock()
        .now()
        .saturating_add(config.auth.activation_link_lifetime.0);
    let link = ids::activation_link(public_url, &token);
    let plan = Bootstrap::default_subscription("admin");
    let note = format!(
        "First start of bailiwick: subscription \"{}\", Manager login \"{}\".\n\
         Open this one-time link to get the password (it works once, until {}):\n{link}\n",
        plan.subscription,
        plan.manager_login,
        expires_at.to_rfc3339()
    );
    // Written before the commit: if the commit fails the note is harmless,
    // while a commit without the note would lock the operator out.
    let path = data_dir.join("initial-activation.txt");
    crate::fsutil::write_private_atomic(&path, note.as_bytes())
        .map_err(|e| DaemonError::Bootstrap(format!("{}: {e}", path.display())))?;
    let credential = FirstCredential::ActivationLink {
        token_hash: ids::token_hash(&token),
        expires_at,
    };
    let id = ids::new_id();
    store
        .write(Actor::operator(), move |tx| {
            bootstrap::initialise_with(tx, &plan, id, credential)
        })
        .await
        .map_err(|e| DaemonError::Bootstrap(e.to_string()))?;
    println!("{note}(also written to {})", path.display());
    tracing::info!(file = %path.display(), "first run: created subscription Default with Manager admin; activation link written");
    Ok(())
}

fn startup(step: &'static str, e: tokio::task::JoinError) -> DaemonError {
    DaemonError::Startup {
        step,
        reason: e.to_string(),
    }
}

fn announce_certificate(cert: &tls::CertInfo) {
    let kind = if cert.generated {
        "self-signed"
    } else {
        "configured"
    };
    println!(
        "TLS certificate ({kind}) {} SHA-256 {}",
        cert.cert_path.display(),
        cert.fingerprint
    );
    tracing::info!(kind, path = %cert.cert_path.display(), fingerprint = %cert.fingerprint, "TLS certificate loaded");
    if let Some(warning) = cert
        .not_after
        .and_then(|end| tls::expiry_warning(end, time::OffsetDateTime::now_utc(), cert.generated))
    {
        tracing::warn!("{warning}");
    }
}

struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    tls: Arc<tls::Reloadable>,
    config_path: Option<PathBuf>,
    admin: Arc<admin::server::Context>,
    shutting_down: Arc<AtomicBool>,
}

impl Signals {
    fn new(
        tls: Arc<tls::Reloadable>,
        config_path: Option<PathBuf>,
        admin: Arc<admin::server::Context>,
        shutting_down: Arc<AtomicBool>,
    ) -> Result<Signals, DaemonError> {
        use tokio::signal::unix::{SignalKind, signal};
        let mk = |k| signal(k).map_err(DaemonError::Runtime);
        Ok(Signals {
            term: mk(SignalKind::terminate())?,
            int: mk(SignalKind::interrupt())?,
            hup: mk(SignalKind::hangup())?,
            tls,
            config_path,
            admin,
            shutting_down,
        })
    }

    /// Resolves at SIGTERM or SIGINT; handles SIGHUP (reload) meanwhile.
    async fn wait(mut self) {
        loop {
            tokio::select! {
                _ = self.term.recv() => break,
                _ = self.int.recv() => break,
                _ = self.hup.recv() => self.reload(),
            }
        }
        tracing::info!("shutting down: finishing open requests");
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::Release);
    }

    fn reload(&self) {
        systemd::notify("RELOADING=1");
        let loaded = Config::from_sources(self.config_path.as_deref(), std::env::vars());
        match loaded {
            Ok(cfg) => match self.tls.reload(
                &cfg.tls,
                &self.admin.data_dir,
                &tls::Wanted::for_config(&cfg),
            ) {
                Ok(info) => {
                    if let Ok(mut c) = self.admin.tls_cert.lock() {
                        *c = Some(info.clone());
                    }
                    tracing::info!(fingerprint = %info.fingerprint, "reloaded TLS certificate");
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload failed; keeping the current certificate")
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "reload failed; keeping the current configuration")
            }
        }
        systemd::notify("READY=1");
    }
}
