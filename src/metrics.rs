//! Counters for `/metrics`, in the Prometheus text format.
//!
//! Hand-written rather than a metrics crate: a handful of atomics, rendered
//! on demand, cost nothing on the request path.

use std::collections::BTreeMap;

use axum::http::Method;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The methods counted by name; any other is answered 405 and counted as
/// `OTHER`, so the number of series is bounded by construction: route
/// templates x these methods (and `OTHER`) x status classes.
pub const STANDARD_METHODS: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

/// The label of `method`: its name if standard, else `OTHER`.
pub fn method_label(method: &Method) -> &'static str {
    STANDARD_METHODS
        .iter()
        .find(|m| *m == method)
        .map_or("OTHER", Method::as_str)
}

/// The label of a status: its class (`2xx`); codes outside 100-599 are `other`.
fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// Requests of one route by method label and status class.
type ByMethodStatus = BTreeMap<(&'static str, &'static str), u64>;

#[derive(Default)]
pub struct Metrics {
    /// Keyed by route template (or `unmatched`), then method label and
    /// status class: a request looks its route up without allocating.
    requests: Mutex<BTreeMap<String, ByMethodStatus>>,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_us: AtomicU64,
    pub logins_ok: AtomicU64,
    pub logins_failed: AtomicU64,
    pub logins_limited: AtomicU64,
    pub locks: AtomicU64,
    pub plain_http_refused: AtomicU64,
    pub tls_handshake_failures: AtomicU64,
    /// Connections held back or closed by a connection limit.
    pub connections_limited: AtomicU64,
    /// Emails handed to the transport (R12).
    pub mail_sent: AtomicU64,
    /// Tries that failed and will be repeated.
    pub mail_retries: AtomicU64,
    /// Emails given up on since start.
    pub mail_failures: AtomicU64,
    /// Failed records kept in the store (a gauge, set by delivery).
    pub mail_failed: AtomicU64,
    /// Scheduled backups written, and those that failed.
    pub backups_taken: AtomicU64,
    pub backups_failed: AtomicU64,
    /// Unix time of the last scheduled backup written (0: none yet).
    pub backup_last_success: AtomicU64,
    /// Activity entries sent to the journal or syslog collector.
    pub audit_forwarded: AtomicU64,
    /// Tries to send to it that failed (each is repeated).
    pub audit_forward_failures: AtomicU64,
    /// Authorization checks asked by each service account (not logged).
    service_checks: Mutex<BTreeMap<String, u64>>,
}

/// Values read at render time from other parts of the daemon.
pub struct Gauges {
    pub activity_backlog: u64,
    pub mail_outbox_depth: u64,
    pub log_bytes: u64,
    pub users: u64,
    /// Password hashes and verifications run since start.
    pub password_hashes: u64,
}

impl Metrics {
    /// Counts one answered request. `route` must be a route template or
    /// `unmatched`, never the request's own path.
    pub fn observe(&self, method: &Method, route: &str, status: u16, took: Duration) {
        {
            let key = (method_label(method), status_class(status));
            let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            let by_route = match map.get_mut(route) {
                Some(r) => r,
                None => map.entry(route.to_owned()).or_default(),
            };
            *by_route.entry(key).or_default() += 1;
        }
        let secs = took.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Counts `n` checks asked by service account `name`.
    pub fn count_service_checks(&self, name: &str, n: u64) {
        let mut map = self
            .service_checks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match map.get_mut(name) {
            Some(c) => *c += n,
            None => {
                map.insert(name.to_owned(), n);
            }
        }
    }

    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP bailiwick_http_requests_total HTTP requests answered."
        );
        let _ = writeln!(out, "# TYPE bailiwick_http_requests_total counter");
        {
            let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
            for (route, counts) in map.iter() {
                let route = route.replace('\\', "\\\\").replace('"', "\\\"");
                for ((method, status), n) in counts {
                    let _ = writeln!(
                        out,
                        "bailiwick_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}",
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "# HELP bailiwick_http_request_duration_seconds Time to answer a request."
        );
        let _ = writeln!(
            out,
            "# TYPE bailiwick_http_request_duration_seconds histogram"
        );
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "bailiwick_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                self.latency_buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = self.latency_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "bailiwick_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "bailiwick_http_request_duration_seconds_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "bailiwick_http_request_duration_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP bailiwick_service_checks_total Authorization checks asked by each service account."
        );
        let _ = writeln!(out, "# TYPE bailiwick_service_checks_total counter");
        {
            // Names are `a-z0-9-_` (domain::services), so need no escaping.
            let map = self
                .service_checks
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for (name, n) in map.iter() {
                let _ = writeln!(
                    out,
                    "bailiwick_service_checks_total{{service=\"{name}\"}} {n}"
                );
            }
        }
        let counters = [
            ("bailiwick_logins_total{result=\"ok\"}", &self.logins_ok),
            (
                "bailiwick_logins_total{result=\"failed\"}",
                &self.logins_failed,
            ),
            (
                "bailiwick_logins_total{result=\"rate_limited\"}",
                &self.logins_limited,
            ),
        ];
        let _ = writeln!(
            out,
            "# HELP bailiwick_logins_total Login attempts by result."
        );
        let _ = writeln!(out, "# TYPE bailiwick_logins_total counter");
        for (name, c) in counters {
            let _ = writeln!(out, "{name} {}", c.load(Ordering::Relaxed));
        }
        let singles = [
            (
                "bailiwick_account_locks_total",
                "Accounts locked by failed logins.",
                "counter",
                self.locks.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_plain_http_refused_total",
                "Plain HTTP requests refused on the TLS port.",
                "counter",
                self.plain_http_refused.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_tls_handshake_failures_total",
                "TLS handshakes that failed or timed out.",
                "counter",
                self.tls_handshake_failures.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_connections_limited_total",
                "Connections held back (server.max_connections) or closed (server.max_connections_per_source).",
                "counter",
                self.connections_limited.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_activity_outbox_depth",
                "Activity entries committed, not yet in a segment.",
                "gauge",
                g.activity_backlog,
            ),
            (
                "bailiwick_mail_outbox_depth",
                "Emails waiting for delivery.",
                "gauge",
                g.mail_outbox_depth,
            ),
            (
                "bailiwick_mail_sent_total",
                "Emails handed to the spool or the SMTP relay.",
                "counter",
                self.mail_sent.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_mail_retries_total",
                "Email delivery tries that failed and will be repeated.",
                "counter",
                self.mail_retries.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_mail_failures_total",
                "Emails given up on since start.",
                "counter",
                self.mail_failures.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_mail_failed",
                "Emails given up on and kept as failed records.",
                "gauge",
                self.mail_failed.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_backups_total",
                "Scheduled backups written since start.",
                "counter",
                self.backups_taken.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_backup_failures_total",
                "Scheduled backups that failed since start.",
                "counter",
                self.backups_failed.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_backup_last_success_timestamp_seconds",
                "Unix time of the last scheduled backup written (0: none since start).",
                "gauge",
                self.backup_last_success.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_activity_forwarded_total",
                "Activity entries sent to the journal or syslog collector.",
                "counter",
                self.audit_forwarded.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_activity_forward_failures_total",
                "Tries to send activity entries that failed and will be repeated.",
                "counter",
                self.audit_forward_failures.load(Ordering::Relaxed),
            ),
            (
                "bailiwick_activity_log_bytes",
                "Bytes in activity log segments.",
                "gauge",
                g.log_bytes,
            ),
            (
                "bailiwick_users",
                "Users of the subscription.",
                "gauge",
                g.users,
            ),
            (
                "bailiwick_password_hashes_total",
                "Password hashes and verifications run (argon2id).",
                "counter",
                g.password_hashes,
            ),
        ];
        for (name, help, kind, v) in singles {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {v}");
        }
        crate::process_metrics::render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histogram() {
        let m = Metrics::default();
        m.observe(&Method::GET, "/healthz", 200, Duration::from_millis(2));
        m.observe(&Method::GET, "/healthz", 204, Duration::from_millis(700));
        let text = m.render(&Gauges {
            activity_backlog: 3,
            mail_outbox_depth: 0,
            log_bytes: 0,
            users: 1,
            password_hashes: 0,
        });
        assert!(text.contains(
            "bailiwick_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"2xx\"} 2"
        ));
        assert!(text.contains("bailiwick_http_request_duration_seconds_bucket{le=\"0.0025\"} 1"));
        assert!(text.contains("bailiwick_http_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("bailiwick_activity_outbox_depth 3"));
    }

    /// Invented methods and every status collapse into a fixed set of series.
    #[test]
    fn invented_methods_and_statuses_add_no_series() {
        let m = Metrics::default();
        for i in 0..2000u32 {
            let method = Method::from_bytes(format!("X{i:0>60}").as_bytes()).unwrap();
            m.observe(&method, "unmatched", 100 + (i % 500) as u16, Duration::ZERO);
        }
        let series = m.requests.lock().unwrap().len();
        assert!(series <= 6, "{series} series");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "OTHER");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
    }
}
