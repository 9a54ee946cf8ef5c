//! Configuration: embedded defaults, then a TOML file, then `BAILIWICK_*`
//! environment variables, then command-line flags, each overriding the last.
//!
//! The one thing to know before changing it: every key has a default that
//! works with no file at all, and every bad key or value is reported with its
//! name, the value given and what is allowed. Nothing is silently ignored.
//!
//! ```
//! let cfg = bailiwick::config::Config::from_sources(None, std::iter::empty()).unwrap();
//! assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8443");
//! ```

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Prefix of environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "BAILIWICK_";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
    #[error("{key} = {value:?} is not allowed: {allowed}")]
    Invalid {
        key: &'static str,
        value: String,
        allowed: &'static str,
    },
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tls: TlsConfig,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub activity: ActivityConfig,
    pub mail: MailConfig,
    pub metrics: MetricsConfig,
    pub log: LogConfig,
    pub backup: BackupConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// How often the daemon writes a backup by itself: "off", "hourly",
    /// "daily", "weekly", or a duration such as "6h".
    pub schedule: String,
    /// Where scheduled backups go. Empty: `<data>/backups`. Elsewhere, the
    /// systemd unit needs it in `ReadWritePaths=`.
    pub dir: String,
    /// Scheduled backups kept; older ones are deleted once a new one is
    /// written.
    pub keep: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            schedule: "off".into(),
            dir: String::new(),
            keep: 7,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port of the HTTPS listener.
    pub listen: SocketAddr,
    /// Base of links sent to people (activation, reset). Empty: `https://<listen>`.
    pub public_url: String,
    /// Data directory. Empty: `$STATE_DIRECTORY`, else `./bailiwick-data`.
    pub data_dir: String,
    /// Largest request body accepted; larger gets 413.
    pub max_body: ByteSize,
    /// Time a client has from connecting to a complete first request head,
    /// TLS handshake included, whatever the protocol (slowloris guard).
    pub header_timeout: Span,
    /// Time a connection with no request in flight stays open.
    pub idle_timeout: Span,
    /// Time a whole request may take, body and handler included.
    pub request_timeout: Span,
    /// Time in-flight requests get to finish after SIGTERM.
    pub shutdown_grace: Span,
    /// Connections served at once; more wait in the kernel backlog.
    pub max_connections: u32,
    /// Connections served at once from one source address (an IPv6 source
    /// is its `ipv6_prefix`); more are closed at once. Trusted proxies are
    /// not limited this way.
    pub max_connections_per_source: u32,
    /// Leading bits of an IPv6 address that make one source for per-source
    /// limits (connections, logins): a host usually owns a whole /64.
    pub ipv6_prefix: u8,
    /// Addresses or blocks (`10.0.0.0/8`) of reverse proxies whose
    /// `X-Forwarded-For` names the client. Empty: no header is believed.
    pub trusted_proxies: Vec<String>,
    /// The local socket serving `/api/v1/` over HTTP/1.1 without TLS, for
    /// services on this machine; relative paths are under the data
    /// directory. Empty: no socket.
    pub api_socket: String,
    /// Group (name or gid) given the socket, whose members may connect
    /// (mode 0660). Empty: the daemon's own group.
    pub socket_group: String,
    /// `UID=SERVICE`: a peer with that uid on the socket is that service
    /// account without a secret (the kernel vouches for the uid).
    pub socket_peers: Vec<String>,
    /// One log line per request (target `bailiwick::access`): method, route
    /// template, status, duration, peer and request id.
    pub access_log: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8443)),
            public_url: String::new(),
            data_dir: String::new(),
            max_body: ByteSize(1 << 20),
            header_timeout: Span(Duration::from_secs(10)),
            idle_timeout: Span(Duration::from_secs(60)),
            request_timeout: Span(Duration::from_secs(30)),
            shutdown_grace: Span(Duration::from_secs(20)),
            max_connections: 1024,
            max_connections_per_source: 64,
            ipv6_prefix: 64,
            trusted_proxies: Vec::new(),
            api_socket: "api.sock".into(),
            socket_group: String::new(),
            socket_peers: Vec::new(),
            access_log: false,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain. Empty (with `key`): a self-signed one in `<data>/tls/`.
    pub cert: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// redb page cache. redb's own default (1 GiB) is far too much for an appliance.
    pub cache_size: ByteSize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            cache_size: ByteSize(64 << 20),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// argon2id memory cost in KiB (OWASP: 19456).
    pub argon2_memory_kib: u32,
    /// argon2id passes.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// Hashes computed at once. 0: one per CPU core.
    pub hash_workers: u32,
    /// A session unused this long ends.
    pub session_idle: Span,
    /// A session ends this long after login, used or not.
    pub session_absolute: Span,
    /// How often ended sessions are removed from storage and memory.
    pub session_sweep_interval: Span,
    /// One-time activation and reset links expire after this.
    pub activation_link_lifetime: Span,
    /// Login attempts per source address per minute before 429.
    pub rate_per_address_per_minute: u32,
    /// Failed login attempts per login name per minute before 429; an
    /// address with a successful login of that user in the last day is not
    /// held by it.
    pub rate_per_login_per_minute: u32,
    /// Self-service reset requests per source address per minute.
    pub reset_rate_per_address_per_minute: u32,
    /// Wrong secret answers per login name per minute.
    pub reset_rate_per_login_per_minute: u32,
    /// Two failure counters per user, familiar and other addresses (R8.2);
    /// `false`: one counter, whose lock refuses everyone.
    pub smart_lockout: bool,
    /// After a service account's secret is rotated, the old one keeps
    /// working this long, so the service can roll without downtime.
    pub service_secret_overlap: Span,
    /// A successful HTTP Basic verification is remembered (in memory only)
    /// this long, so scripts do not pay a password hash per request. 0: off.
    pub basic_cache_ttl: Span,
    /// API access by HTTP Basic is logged once per login and source address
    /// per this interval, not per request.
    pub basic_log_interval: Span,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_workers: 0,
            session_idle: Span(Duration::from_secs(30 * 60)),
            session_absolute: Span(Duration::from_secs(12 * 3600)),
            session_sweep_interval: Span(Duration::from_secs(60)),
            activation_link_lifetime: Span(Duration::from_secs(7 * 86400)),
            rate_per_address_per_minute: 30,
            rate_per_login_per_minute: 10,
            reset_rate_per_address_per_minute: 10,
            reset_rate_per_login_per_minute: 5,
            smart_lockout: true,
            service_secret_overlap: Span(Duration::from_secs(24 * 3600)),
            basic_cache_ttl: Span(Duration::from_secs(300)),
            basic_log_interval: Span(Duration::from_secs(15 * 60)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActivityConfig {
    /// A segment file is closed and a new one started past this size.
    pub segment_size: ByteSize,
    /// Delete whole segments older than this. 0: keep forever.
    pub retention_age: Span,
    /// Delete oldest segments while the log is larger than this. 0: no limit.
    pub retention_size: ByteSize,
    /// CSV downloads (`/activity.csv`) produced at once; more get 429.
    pub max_exports: u32,
    /// CSV downloads one user may have running at once; more get 429.
    pub max_exports_per_user: u32,
    /// The longest a CSV download may take, however steadily it is read.
    pub export_time_limit: Span,
    /// Where each entry also goes once durable: `auto` (the journal when
    /// run by systemd, else nowhere), `journal`, `syslog` or `none`.
    pub forward: Forward,
    /// The syslog collector: `udp://HOST:514`, `tcp://HOST:601` or
    /// `tls://HOST:6514` (RFC 5424; octet-counted on TCP and TLS).
    pub syslog_address: String,
    /// A PEM CA certificate trusted for `tls://`, besides the system's.
    pub syslog_ca_file: String,
    /// The journal's native socket. Empty: systemd's.
    pub journal_socket: String,
}

/// Where activity entries are forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Forward {
    #[default]
    Auto,
    Journal,
    Syslog,
    None,
}

impl Default for ActivityConfig {
    fn default() -> Self {
        ActivityConfig {
            segment_size: ByteSize(64 << 20),
            retention_age: Span(Duration::ZERO),
            retention_size: ByteSize(0),
            max_exports: 4,
            max_exports_per_user: 1,
            export_time_limit: Span(Duration::from_secs(600)),
            forward: Forward::Auto,
            syslog_address: String::new(),
            syslog_ca_file: String::new(),
            journal_socket: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTransport {
    /// Write RFC 5322 files for an external relay (air-gapped default).
    Spool,
    Smtp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    Starttls,
    Implicit,
    /// No TLS at all: only for a relay on the loopback interface.
    Plain,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    pub transport: MailTransport,
    /// Spool directory. Empty: `<data>/outbox-spool`.
    pub spool_dir: String,
    pub from: String,
    pub smtp_host: String,
    pub smtp_port: u16,
    pub smtp_security: SmtpSecurity,
    pub smtp_username: String,
    /// File holding the SMTP password (kept out of the config file).
    pub smtp_password_file: String,
    /// Extra PEM CA certificates for an internal relay.
    pub smtp_ca_file: String,
    /// Delivery tries before a message is marked failed.
    pub max_attempts: u32,
    /// Wait before the first retry; it doubles each try (with jitter).
    pub retry_initial: Span,
    /// The longest wait between two tries.
    pub retry_max: Span,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: MailTransport::Spool,
            spool_dir: String::new(),
            from: "bailiwick@localhost".into(),
            smtp_host: String::new(),
            smtp_port: 587,
            smtp_security: SmtpSecurity::Starttls,
            smtp_username: String::new(),
            smtp_password_file: String::new(),
            smtp_ca_file: String::new(),
            max_attempts: 10,
            retry_initial: Span(Duration::from_secs(30)),
            retry_max: Span(Duration::from_secs(3600)),
        }
    }
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// When set, `/metrics` requires `Authorization: Bearer <token>`.
    pub token: String,
    /// Where `/metrics` is served: `"api"` on the API's port, an
    /// `ADDR:PORT` for a listener of its own (HTTPS, same certificate).
    /// Empty: on the API's port when that listens on loopback, else on
    /// `127.0.0.1:8444` only, so the network never sees it unasked.
    pub listen: String,
}

/// Where `/metrics` is answered, from `metrics.listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsPlace {
    /// On the API's listener.
    Api,
    /// On a listener of its own; the API's port answers 404.
    Own(SocketAddr),
}

/// The metrics listener used when the API listens on a wildcard address
/// and `metrics.listen` is empty.
pub const DEFAULT_METRICS_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8444);

/// Shown instead of a secret wherever a configuration is printed.
pub const REDACTED: &str = "<redacted>";

// By hand, so that a `{:?}` of the config in a log never shows the token.
impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = if self.token.is_empty() { "" } else { REDACTED };
        f.debug_struct("MetricsConfig")
            .field("token", &token)
            .field("listen", &self.listen)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human on a terminal, JSON otherwise.
    #[default]
    Auto,
    Human,
    Json,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub format: LogFormat,
}

impl Config {
    /// Defaults, overlaid by `file` (if any), then by the `BAILIWICK_*`
    /// variables among `env`.
    pub fn from_sources(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::from_sources_then(file, env, |_| {})
    }

    /// As [`Config::from_sources`], with `flags` (the command line, the last
    /// layer) applied before the whole is checked: a file that needs a flag
    /// to be valid (`--listen 127.0.0.1:8443` beside `listen = "0.0.0.0:8443"`)
    /// is judged with it.
    pub fn from_sources_then(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: impl FnOnce(&mut Config),
    ) -> Result<Config, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                let table: toml::Table = toml::from_str(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?;
                // Deserialise the file alone first so that its errors name the file.
                Config::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
                    ConfigError::Parse {
                        path: path.to_owned(),
                        message: e.to_string(),
                    }
                })?;
                table
            }
            None => toml::Table::new(),
        };
        let defaults = toml::Table::try_from(Config::default()).expect("defaults serialise");
        for (var, raw) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if NON_CONFIG_VARS.contains(&rest) {
                continue;
            }
            apply_env(&mut table, &defaults, &var, rest, &raw)?;
        }
        let mut config =
            Config::deserialize(toml::Value::Table(table)).map_err(|e| ConfigError::Env {
                var: "BAILIWICK_*".into(),
                message: e.to_string(),
            })?;
        flags(&mut config);
        config.validate()?;
        Ok(config)
    }

    /// Parses the text of a config file on its own (no environment).
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let parse = |message: String| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message,
        };
        let table: toml::Table = toml::from_str(text).map_err(|e| parse(e.to_string()))?;
        let config =
            Config::deserialize(toml::Value::Table(table)).map_err(|e| parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks across keys and ranges that the types alone do not express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(
            key: &'static str,
            value: impl fmt::Display,
            allowed: &'static str,
        ) -> ConfigError {
            ConfigError::Invalid {
                key,
                value: value.to_string(),
                allowed,
            }
        }
        if self.tls.cert.is_empty() != self.tls.key.is_empty() {
            return Err(invalid(
                "tls.cert/tls.key",
                format!("cert={:?} key={:?}", self.tls.cert, self.tls.key),
                "set both (your own certificate) or neither (a generated self-signed one)",
            ));
        }
        if self.server.max_body.0 < 1024 {
            return Err(invalid(
                "server.max_body",
                self.server.max_body,
                "at least 1KiB",
            ));
        }
        if self.server.header_timeout.0.is_zero() {
            return Err(invalid(
                "server.header_timeout",
                self.server.header_timeout,
                "a duration above 0, e.g. \"10s\"",
            ));
        }
        if self.server.request_timeout.0.is_zero() {
            return Err(invalid(
                "server.request_timeout",
                self.server.request_timeout,
                "a duration above 0, e.g. \"30s\"",
            ));
        }
        if self.server.max_connections == 0 {
            return Err(invalid("server.max_connections", 0, "at least 1"));
        }
        if self.server.max_connections_per_source == 0 {
            return Err(invalid(
                "server.max_connections_per_source",
                0,
                "at least 1",
            ));
        }
        if self.server.idle_timeout.0.is_zero() {
            return Err(invalid(
                "server.idle_timeout",
                self.server.idle_timeout,
                "a duration above 0, e.g. \"60s\"",
            ));
        }
        if !(1..=128).contains(&self.server.ipv6_prefix) {
            return Err(invalid(
                "server.ipv6_prefix",
                self.server.ipv6_prefix,
                "a prefix length from 1 to 128 (64: one source per /64)",
            ));
        }
        if let Err(entry) = crate::source::TrustedProxies::parse(&self.server.trusted_proxies) {
            return Err(invalid(
                "server.trusted_proxies",
                entry,
                "addresses or blocks such as \"10.0.0.0/8\" or \"2001:db8::1\"",
            ));
        }
        if let Err(entry) = crate::http::local::parse_peers(&self.server.socket_peers) {
            return Err(invalid(
                "server.socket_peers",
                entry,
                "entries UID=SERVICE, e.g. \"998=scanner\"",
            ));
        }
        if !self.server.socket_group.is_empty() && self.socket_gid().is_none() {
            return Err(invalid(
                "server.socket_group",
                &self.server.socket_group,
                "a group name in /etc/group or a numeric gid",
            ));
        }
        let url = &self.server.public_url;
        // ASCII only: a certificate names an internationalised host by its
        // punycode (xn--...), and so must the links.
        let https_url =
            url.starts_with("https://") && url.len() > "https://".len() && url.is_ascii();
        if !url.is_empty() && !https_url {
            return Err(invalid(
                "server.public_url",
                &self.server.public_url,
                "an https:// URL in ASCII (punycode for international names), e.g. \"https://bailiwick.example:8443\"",
            ));
        }
        // A wildcard listener would put 0.0.0.0 or [::] in every link and
        // email: nobody could follow them. Loopback keeps its default.
        if url.is_empty() && self.server.listen.ip().is_unspecified() {
            return Err(invalid(
                "server.public_url",
                "",
                "the https:// address people and services reach this appliance at, \
                 e.g. \"https://bailiwick.example:8443\"; required when server.listen \
                 is 0.0.0.0 or [::]",
            ));
        }
        let metrics = self.metrics_place().map_err(|value| {
            invalid(
                "metrics.listen",
                value,
                "empty (automatic), \"api\" (on the API's port) or ADDR:PORT such as \"127.0.0.1:8444\"",
            )
        })?;
        if metrics == MetricsPlace::Own(self.server.listen) && self.server.listen.port() != 0 {
            return Err(invalid(
                "metrics.listen",
                &self.metrics.listen,
                "a port other than server.listen's; \"api\" serves /metrics on the API's port",
            ));
        }
        if self.activity.forward == Forward::Syslog
            && crate::audit::forward::parse_syslog(&self.activity.syslog_address).is_err()
        {
            return Err(invalid(
                "activity.syslog_address",
                &self.activity.syslog_address,
                "udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT (required when activity.forward = \"syslog\")",
            ));
        }
        if self.backup_every().is_err() {
            return Err(invalid(
                "backup.schedule",
                &self.backup.schedule,
                "\"off\", \"hourly\", \"daily\", \"weekly\" or a duration of at least 1s such as \"6h\"",
            ));
        }
        if self.backup.keep == 0 {
            return Err(invalid("backup.keep", 0, "at least 1"));
        }
        if self.auth.argon2_memory_kib < 8 * self.auth.argon2_parallelism.max(1) {
            return Err(invalid(
                "auth.argon2_memory_kib",
                self.auth.argon2_memory_kib,
                "at least 8 KiB per lane (19456 recommended)",
            ));
        }
        if self.auth.argon2_iterations == 0 {
            return Err(invalid(
                "auth.argon2_iterations",
                0,
                "at least 1 (2 recommended)",
            ));
        }
        if !(1..=64).contains(&self.auth.argon2_parallelism) {
            return Err(invalid(
                "auth.argon2_parallelism",
                self.auth.argon2_parallelism,
                "1 to 64",
            ));
        }
        if self.auth.session_idle.0.is_zero() || self.auth.session_idle > self.auth.session_absolute
        {
            return Err(invalid(
                "auth.session_idle",
                self.auth.session_idle,
                "above 0 and no longer than auth.session_absolute",
            ));
        }
        if self.auth.session_sweep_interval.0.is_zero() {
            return Err(invalid(
                "auth.session_sweep_interval",
                self.auth.session_sweep_interval,
                "a duration above 0, e.g. \"1m\"",
            ));
        }
        if self.auth.activation_link_lifetime.0.is_zero() {
            return Err(invalid(
                "auth.activation_link_lifetime",
                self.auth.activation_link_lifetime,
                "a duration above 0, e.g. \"7d\"",
            ));
        }
        if self.auth.rate_per_address_per_minute == 0 {
            return Err(invalid("auth.rate_per_address_per_minute", 0, "at least 1"));
        }
        if self.auth.rate_per_login_per_minute == 0 {
            return Err(invalid("auth.rate_per_login_per_minute", 0, "at least 1"));
        }
        if self.auth.reset_rate_per_address_per_minute == 0 {
            return Err(invalid(
                "auth.reset_rate_per_address_per_minute",
                0,
                "at least 1",
            ));
        }
        if self.auth.reset_rate_per_login_per_minute == 0 {
            return Err(invalid(
                "auth.reset_rate_per_login_per_minute",
                0,
                "at least 1",
            ));
        }
        if self.activity.segment_size.0 < 4096 {
            return Err(invalid(
                "activity.segment_size",
                self.activity.segment_size,
                "at least 4KiB",
            ));
        }
        if self.activity.max_exports == 0 {
            return Err(invalid("activity.max_exports", 0, "at least 1"));
        }
        if self.activity.max_exports_per_user == 0
            || self.activity.max_exports_per_user > self.activity.max_exports
        {
            return Err(invalid(
                "activity.max_exports_per_user",
                self.activity.max_exports_per_user,
                "at least 1 and no more than activity.max_exports",
            ));
        }
        if self.activity.export_time_limit.0.is_zero() {
            return Err(invalid(
                "activity.export_time_limit",
                self.activity.export_time_limit,
                "a duration above 0, e.g. \"10m\"",
            ));
        }
        if self.mail.transport == MailTransport::Smtp && self.mail.smtp_host.is_empty() {
            return Err(invalid(
                "mail.smtp_host",
                "",
                "a host name when mail.transport = \"smtp\"",
            ));
        }
        if self.mail.max_attempts == 0 {
            return Err(invalid("mail.max_attempts", 0, "at least 1"));
        }
        if !self.mail.from.contains('@') {
            return Err(invalid("mail.from", &self.mail.from, "an email address"));
        }
        if self.mail.retry_initial.0.is_zero() || self.mail.retry_initial > self.mail.retry_max {
            return Err(invalid(
                "mail.retry_initial",
                self.mail.retry_initial,
                "above 0 and no longer than mail.retry_max",
            ));
        }
        let loopback = matches!(
            self.mail.smtp_host.as_str(),
            "localhost" | "127.0.0.1" | "::1"
        );
        if self.mail.transport == MailTransport::Smtp
            && self.mail.smtp_security == SmtpSecurity::Plain
            && !loopback
        {
            return Err(invalid(
                "mail.smtp_security",
                "plain",
                "\"starttls\" or \"implicit\"; \"plain\" only with a relay on localhost",
            ));
        }
        Ok(())
    }

    /// The configuration as TOML for people, every secret replaced by
    /// [`REDACTED`]: printed configs end up in terminals, tickets and logs.
    pub fn to_printable_toml(&self) -> String {
        let mut shown = self.clone();
        if !shown.metrics.token.is_empty() {
            shown.metrics.token = REDACTED.into();
        }
        toml::to_string_pretty(&shown).unwrap_or_default()
    }

    /// The data directory: config, else `$STATE_DIRECTORY` (systemd), else `./bailiwick-data`.
    pub fn data_dir(&self) -> PathBuf {
        if !self.server.data_dir.is_empty() {
            return PathBuf::from(&self.server.data_dir);
        }
        default_data_dir()
    }

    /// Where the local API socket is, if there is one.
    pub fn api_socket(&self) -> Option<PathBuf> {
        let s = &self.server.api_socket;
        (!s.is_empty()).then(|| self.data_dir().join(s))
    }

    /// The gid of `server.socket_group`: a number, or a name in /etc/group.
    pub fn socket_gid(&self) -> Option<u32> {
        let g = self.server.socket_group.trim();
        if g.is_empty() {
            return None;
        }
        if let Ok(gid) = g.parse() {
            return Some(gid);
        }
        let groups = std::fs::read_to_string("/etc/group").ok()?;
        groups.lines().find_map(|line| {
            let mut f = line.split(':');
            (f.next()? == g).then_some(())?;
            f.nth(1)?.parse().ok()
        })
    }

    /// How often scheduled backups are taken; `None` when off.
    /// `Err` carries the value that is not a schedule.
    pub fn backup_every(&self) -> Result<Option<Duration>, String> {
        const HOUR: u64 = 3600;
        match self.backup.schedule.trim() {
            "" | "off" => Ok(None),
            "hourly" => Ok(Some(Duration::from_secs(HOUR))),
            "daily" => Ok(Some(Duration::from_secs(24 * HOUR))),
            "weekly" => Ok(Some(Duration::from_secs(7 * 24 * HOUR))),
            other => match other.parse::<Span>() {
                Ok(s) if s.0 >= Duration::from_secs(1) => Ok(Some(s.0)),
                _ => Err(other.to_owned()),
            },
        }
    }

    /// The directory of scheduled backups.
    pub fn backup_dir(&self) -> PathBuf {
        if self.backup.dir.is_empty() {
            self.data_dir().join("backups")
        } else {
            PathBuf::from(&self.backup.dir)
        }
    }

    /// Where `/metrics` is served; `Err` carries the value that is not an
    /// address.
    pub fn metrics_place(&self) -> Result<MetricsPlace, String> {
        match self.metrics.listen.trim() {
            "" if self.server.listen.ip().is_unspecified() => {
                Ok(MetricsPlace::Own(DEFAULT_METRICS_LISTEN))
            }
            "" | "api" => Ok(MetricsPlace::Api),
            addr => addr
                .parse()
                .map(MetricsPlace::Own)
                .map_err(|_| addr.to_owned()),
        }
    }

    /// Base URL of links sent to people.
    pub fn public_url(&self) -> String {
        self.public_url_for(self.server.listen)
    }

    /// Base URL of links, given the address actually listened on (which
    /// differs from `server.listen` when its port is 0).
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        if self.server.public_url.is_empty() {
            format!("https://{bound}")
        } else {
            self.server.public_url.trim_end_matches('/').to_owned()
        }
    }
}

/// `$STATE_DIRECTORY` (set by systemd; the first entry if several), else `./bailiwick-data`.
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("STATE_DIRECTORY") {
        Some(v) if !v.is_empty() => {
            let s = v.to_string_lossy();
            PathBuf::from(s.split(':').next().unwrap_or(&s))
        }
        _ => PathBuf::from("bailiwick-data"),
    }
}

/// `BAILIWICK_*` variables that are not configuration keys.
const NON_CONFIG_VARS: &[&str] = &["CONFIG"];

fn apply_env(
    table: &mut toml::Table,
    defaults: &toml::Table,
    var: &str,
    rest: &str,
    raw: &str,
) -> Result<(), ConfigError> {
    let env_err = |message: String| ConfigError::Env {
        var: var.to_owned(),
        message,
    };
    let (section, key) = rest
        .split_once('_')
        .map(|(s, k)| (s.to_ascii_lowercase(), k.to_ascii_lowercase()))
        .ok_or_else(|| {
            env_err("expected BAILIWICK_<SECTION>_<KEY>, e.g. BAILIWICK_SERVER_LISTEN".into())
        })?;
    let Some(toml::Value::Table(section_defaults)) = defaults.get(&section) else {
        let sections: Vec<&str> = defaults.keys().map(String::as_str).collect();
        return Err(env_err(format!(
            "unknown section `{section}`; sections are {}",
            sections.join(", ")
        )));
    };
    let Some(default) = section_defaults.get(&key) else {
        let keys: Vec<&str> = section_defaults.keys().map(String::as_str).collect();
        return Err(env_err(format!(
            "unknown key `{section}.{key}`; keys of [{section}] are {}",
            keys.join(", ")
        )));
    };
    let value = match default {
        toml::Value::Integer(_) => raw
            .trim()
            .parse::<i64>()
            .map(toml::Value::Integer)
            .map_err(|_| env_err(format!("{raw:?} is not a whole number")))?,
        toml::Value::Boolean(_) => match raw.trim() {
            "true" | "1" | "yes" => toml::Value::Boolean(true),
            "false" | "0" | "no" => toml::Value::Boolean(false),
            _ => return Err(env_err(format!("{raw:?} is not true or false"))),
        },
        // Lists are comma-separated: BAILIWICK_SERVER_TRUSTED_PROXIES=10.0.0.1,10.0.0.2
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_owned()),
    };
    let section_table = table
        .entry(section.clone())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match section_table {
        toml::Value::Table(t) => {
            t.insert(key.clone(), value.clone());
        }
        _ => return Err(env_err(format!("[{section}] in the file is not a table"))),
    }
    // Report a bad value against the variable that carried it.
    let mut probe = toml::Table::new();
    let mut inner = toml::Table::new();
    inner.insert(key, value);
    probe.insert(section, toml::Value::Table(inner));
    Config::deserialize(toml::Value::Table(probe)).map_err(|e| env_err(e.message().to_owned()))?;
    Ok(())
}

/// A duration written as `30s`, `15m`, `12h`, `7d` (or a number of seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0.as_secs();
        if s == 0 {
            write!(f, "0s")
        } else if s.is_multiple_of(86400) {
            write!(f, "{}d", s / 86400)
        } else if s.is_multiple_of(3600) {
            write!(f, "{}h", s / 3600)
        } else if s.is_multiple_of(60) {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl std::str::FromStr for Span {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num.parse().map_err(|_| {
            format!("{text:?} is not a duration; write e.g. \"30s\", \"15m\", \"12h\" or \"7d\"")
        })?;
        let mult = match unit.trim() {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?}; use s, m, h or d"
                ));
            }
        };
        n.checked_mul(mult)
            .map(|s| Span(Duration::from_secs(s)))
            .ok_or_else(|| format!("{text:?} is too long"))
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => Ok(Span(Duration::from_secs(s))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// A size written as `512`, `64KiB`, `1MiB`, `2GiB` (or `KB`/`MB`/`GB`, also binary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b != 0 && b.is_multiple_of(1 << 30) {
            write!(f, "{}GiB", b >> 30)
        } else if b != 0 && b.is_multiple_of(1 << 20) {
            write!(f, "{}MiB", b >> 20)
        } else if b != 0 && b.is_multiple_of(1 << 10) {
            write!(f, "{}KiB", b >> 10)
        } else {
            write!(f, "{b}")
        }
    }
}

impl std::str::FromStr for ByteSize {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{text:?} is not a size; write e.g. \"512KiB\" or \"64MiB\""))?;
        let shift = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 0,
            "k" | "kb" | "kib" => 10,
            "m" | "mb" | "mib" => 20,
            "g" | "gb" | "gib" => 30,
            other => {
                return Err(format!(
                    "unknown unit {other:?} in {text:?}; use KiB, MiB or GiB"
                ));
            }
        };
        n.checked_mul(1u64 << shift)
            .map(ByteSize)
            .ok_or_else(|| format!("{text:?} is too large"))
    }
}

impl Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(b) => Ok(ByteSize(b)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn with_file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bailiwick.toml");
        std::fs::write(&path, text).unwrap();
        Config::from_sources(Some(&path), std::iter::empty())
    }

    #[test]
    fn defaults_work_without_a_file() {
        let c = Config::from_sources(None, std::iter::empty()).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:8443".parse().unwrap());
        assert_eq!(c.public_url(), "https://127.0.0.1:8443");
        assert_eq!(c.mail.transport, MailTransport::Spool);
    }

    /// Issue 20: with the packaged listener every link said
    /// `https://0.0.0.0:8443/...`.
    #[test]
    fn a_wildcard_listener_needs_a_public_url() {
        for listen in ["0.0.0.0:8443", "[::]:8443"] {
            let err = with_file(&format!("[server]\nlisten = \"{listen}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("server.public_url") && err.contains("https://"),
                "{err}"
            );
            let c = with_file(&format!(
                "[server]\nlisten = \"{listen}\"\npublic_url = \"https://box.example:8443\"\n"
            ))
            .unwrap();
            assert_eq!(c.public_url(), "https://box.example:8443");
        }
        let c = with_file("[server]\nlisten = \"10.0.0.5:8443\"\n").unwrap();
        assert_eq!(c.public_url(), "https://10.0.0.5:8443");
    }

    /// Issue 20: with the packaged wildcard listener `/metrics` was open to
    /// the network on the API's port.
    #[test]
    fn metrics_leave_a_wildcard_api_port_for_loopback() {
        let wild = "[server]\nlisten = \"0.0.0.0:8443\"\npublic_url = \"https://b.example:8443\"\n";
        let c = with_file(wild).unwrap();
        assert_eq!(
            c.metrics_place(),
            Ok(MetricsPlace::Own(DEFAULT_METRICS_LISTEN))
        );
        assert!(DEFAULT_METRICS_LISTEN.ip().is_loopback());
        let c = with_file(&format!("{wild}[metrics]\nlisten = \"api\"\n")).unwrap();
        assert_eq!(c.metrics_place(), Ok(MetricsPlace::Api));
        let c = with_file(&format!("{wild}[metrics]\nlisten = \"10.1.2.3:9100\"\n")).unwrap();
        assert_eq!(
            c.metrics_place(),
            Ok(MetricsPlace::Own("10.1.2.3:9100".parse().unwrap()))
        );
        // Loopback API: /metrics stays where it was.
        let c = Config::from_sources(None, std::iter::empty()).unwrap();
        assert_eq!(c.metrics_place(), Ok(MetricsPlace::Api));
        for (bad, why) in [
            ("localhost:9100", "ADDR:PORT"),
            ("127.0.0.1:8443", "other than"),
        ] {
            let err = with_file(&format!("[metrics]\nlisten = \"{bad}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("metrics.listen") && err.contains(why), "{err}");
        }
    }

    #[test]
    fn unknown_key_in_file_is_named() {
        let err = with_file("[server]\nlisen = \"0.0.0.0:1\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lisen"), "{err}");
        assert!(
            err.contains("listen"),
            "should list the allowed keys: {err}"
        );
    }

    #[test]
    fn bad_value_in_file_names_key_and_value() {
        let err = with_file("[auth]\nsession_idle = \"10 fortnights\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("session_idle"), "{err}");
        assert!(err.contains("fortnights"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_is_typed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:1000\"\n").unwrap();
        let c = Config::from_sources(
            Some(&path),
            env(&[
                ("BAILIWICK_SERVER_LISTEN", "127.0.0.1:2000"),
                ("BAILIWICK_SERVER_MAX_CONNECTIONS", "7"),
                ("BAILIWICK_AUTH_SESSION_IDLE", "5m"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.listen.port(), 2000);
        assert_eq!(c.server.max_connections, 7);
        assert_eq!(c.auth.session_idle.0, Duration::from_secs(300));
    }

    #[test]
    fn bad_env_names_the_variable() {
        let err = Config::from_sources(None, env(&[("BAILIWICK_SERVER_LISTN", "x")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("BAILIWICK_SERVER_LISTN") && err.contains("listen"),
            "{err}"
        );
        let err = Config::from_sources(None, env(&[("BAILIWICK_SERVER_MAX_CONNECTIONS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("BAILIWICK_SERVER_MAX_CONNECTIONS") && err.contains("many"),
            "{err}"
        );
        let err = Config::from_sources(None, env(&[("BAILIWICK_SERVER_LISTEN", "localhost")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("BAILIWICK_SERVER_LISTEN"), "{err}");
    }

    #[test]
    fn r12_2_plain_smtp_only_on_loopback_and_retries_within_their_cap() {
        let smtp = "[mail]\ntransport = \"smtp\"\nsmtp_security = \"plain\"\n";
        let err = with_file(&format!("{smtp}smtp_host = \"relay.example\"\n"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail.smtp_security"), "{err}");
        assert!(with_file(&format!("{smtp}smtp_host = \"127.0.0.1\"\n")).is_ok());
        let err = with_file("[mail]\nretry_initial = \"2h\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail.retry_initial"), "{err}");
        let c = with_file("[mail]\nretry_initial = \"5s\"\nretry_max = \"1m\"\n").unwrap();
        assert_eq!(c.mail.retry_initial.0, Duration::from_secs(5));
        assert_eq!(c.mail.retry_max.0, Duration::from_secs(60));
    }

    #[test]
    fn cross_key_rules_are_explained() {
        let err = with_file("[tls]\ncert = \"/etc/c.pem\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("tls.cert") && err.contains("set both"),
            "{err}"
        );
        let err = with_file("[mail]\ntransport = \"smtp\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mail.smtp_host"), "{err}");
        let err = with_file("[mail]\ntransport = \"pigeon\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pigeon") && err.contains("spool"), "{err}");
    }

    #[test]
    fn spans_and_sizes_round_trip() {
        for s in ["30s", "15m", "12h", "7d", "0s"] {
            assert_eq!(s.parse::<Span>().unwrap().to_string(), s);
        }
        assert_eq!("64MiB".parse::<ByteSize>().unwrap().0, 64 << 20);
        assert_eq!("1000".parse::<ByteSize>().unwrap().0, 1000);
        assert!("99999999999999999999GiB".parse::<ByteSize>().is_err());
        assert!("5 weeks".parse::<Span>().is_err());
    }
}
