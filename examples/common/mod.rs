//! What the load examples share: an HTTPS client that trusts only the
//! daemon's certificate, percentiles, the raw argon2 rate, a small PRNG;
//! and for the in-process ones, their arguments and a store in a directory.
// Each example uses its own part of this module.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bailiwick::config::AuthConfig;

/// A client for `url` (`https://localhost:PORT`) that pins `cert` (PEM) and
/// sends from the local address `from`: the daemon keys login limits and
/// its hashing queue by source address.
pub fn client(cert: &[u8], url: &str, from: IpAddr) -> reqwest::Client {
    let host = url.trim_start_matches("https://").trim_end_matches('/');
    let addr: SocketAddr = host
        .replace("localhost", "127.0.0.1")
        .parse()
        .expect("--url https://localhost:PORT");
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(cert).expect("PEM certificate")])
        .resolve("localhost", addr)
        .local_address(from)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// `bailiwick init` of subscription "Bench" in `dir`, with Manager `admin`
/// and `password`.
pub fn init(bin: &str, dir: &std::path::Path, password: &str) {
    let pw = dir.with_extension("pw");
    std::fs::write(&pw, format!("{password}\n")).unwrap();
    let out = std::process::Command::new(bin)
        .args(["init", "--data-dir"])
        .arg(dir)
        .args(["--subscription", "Bench", "--manager-login", "admin"])
        .args(["--manager-email", "admin@example.com", "--password-file"])
        .arg(&pw)
        .output()
        .expect("run bailiwick init");
    assert!(
        out.status.success(),
        "init: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `p` quantile (0..=1) of sorted samples, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Verifies per second with the daemon's default parameters, on every core.
pub fn raw_verifies(seconds: f64) -> f64 {
    let (count, wall) = verify_run(seconds);
    count as f64 / wall
}

/// Verifies with the daemon's default parameters on every core for
/// `seconds`: (verifies done, wall seconds taken). One hash is made first.
pub fn verify_run(seconds: f64) -> (u64, f64) {
    let hasher = bailiwick::auth::password::Hasher::from_config(&AuthConfig::default()).unwrap();
    let hash = hasher.hash("Baseline-123").unwrap();
    let start = Instant::now();
    let stop = start + Duration::from_secs_f64(seconds);
    let count = Arc::new(AtomicU64::new(0));
    std::thread::scope(|s| {
        for _ in 0..cores() {
            let (h, hash, count) = (hasher.clone(), hash.clone(), count.clone());
            s.spawn(move || {
                while Instant::now() < stop {
                    assert!(h.verify("Baseline-123", &hash));
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    (count.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

/// splitmix64: enough randomness to pick operations and addresses, and no
/// dependency for it.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Numeric flags `--NAME N`, each with its default, in the order given.
pub fn numbers(flags: &[(&str, u64)]) -> Vec<u64> {
    let mut values: Vec<u64> = flags.iter().map(|(_, d)| *d).collect();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        let i = flags
            .iter()
            .position(|(name, _)| *name == k)
            .unwrap_or_else(|| panic!("unknown argument {k}"));
        values[i] = v.parse().unwrap_or_else(|_| panic!("{k} N"));
    }
    values
}

/// `--seconds N` (default 5) and `--rounds N` (default 3).
pub fn seconds_and_rounds() -> (u64, usize) {
    let v = numbers(&[("--seconds", 5), ("--rounds", 3)]);
    (v[0], v[1] as usize)
}

/// A new store and its activity log in `dir`, as the daemon opens them.
pub fn open_store(
    dir: &std::path::Path,
) -> (
    bailiwick::store::Store,
    Arc<bailiwick::audit::ActivityLog>,
    bailiwick::audit::segment::SegmentWriter,
) {
    let store = bailiwick::store::Store::open(
        dir,
        &bailiwick::store::Options {
            create: true,
            ..bailiwick::store::Options::default()
        },
        Arc::new(bailiwick::clock::SystemClock),
    )
    .expect("open the store");
    let (log, writer) = bailiwick::audit::ActivityLog::open(dir).expect("open the log");
    (store, log, writer)
}

/// `threads` threads, each committing `per_commit` activity entries per
/// durable command until `until`; entries counted in `committed`.
pub fn spawn_log_writers(
    store: &bailiwick::store::Store,
    threads: usize,
    per_commit: usize,
    until: Instant,
    tag: &'static str,
    committed: Option<Arc<AtomicU64>>,
) -> Vec<std::thread::JoinHandle<()>> {
    use bailiwick::domain::{Actor, LogAction};
    (0..threads)
        .map(|w| {
            let (store, committed) = (store.clone(), committed.clone());
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < until {
                    store
                        .write_blocking(Actor::operator(), move |tx| {
                            for j in 0..per_commit {
                                tx.log(
                                    LogAction::UserUpdate,
                                    format!("user {tag}{w}-{n}-{j}"),
                                    "first name \"Ann\" -> \"Anne\"".to_owned(),
                                );
                            }
                            Ok(())
                        })
                        .expect("commit");
                    n += 1;
                    if let Some(c) = &committed {
                        c.fetch_add(per_commit as u64, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect()
}
