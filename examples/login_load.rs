//! Login load against a running daemon, with the raw argon2 rate measured in
//! the same run as the baseline (R8.3 figures in BENCHMARKS.md).
//!
//! ```text
//! cargo run --release --example login_load -- --url https://localhost:8443 \
//!     --cert DATA/tls/cert.pem --login admin --password PW [--seconds 10] \
//!     [--flood 20 [--every-ms 7000]]
//! ```
//! Without `--flood`: raw verifies/s on all cores, then logins/s over HTTPS
//! with as many clients as cores. With `--flood N`: N clients, each from its
//! own loopback address (127.0.0.2, ...), send bad logins while one client
//! from 127.0.0.1 logs in correctly every `--every-ms` (default 7 s, under
//! the default per-login limit); prints the good logins' latencies and how
//! the flood was answered.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{client, percentile, raw_verifies};

struct Args {
    url: String,
    cert: String,
    login: String,
    password: String,
    seconds: u64,
    flood: usize,
    every_ms: u64,
}

fn args() -> Args {
    let mut a = Args {
        url: "https://localhost:8443".into(),
        cert: "bailiwick-data/tls/cert.pem".into(),
        login: "admin".into(),
        password: String::new(),
        seconds: 10,
        flood: 0,
        every_ms: 7000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        match k.as_str() {
            "--url" => a.url = v,
            "--cert" => a.cert = v,
            "--login" => a.login = v,
            "--password" => a.password = v,
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            "--flood" => a.flood = v.parse().expect("--flood N"),
            "--every-ms" => a.every_ms = v.parse().expect("--every-ms MS"),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

#[tokio::main]
async fn main() {
    bailiwick::tls::install_default_provider();
    let a = args();
    let cert = std::fs::read(&a.cert).expect("--cert FILE");
    let body = serde_json::json!({"login": a.login, "password": a.password});
    let url = format!("{}/api/v1/session", a.url);
    let deadline = Instant::now() + Duration::from_secs(a.seconds);

    if a.flood == 0 {
        let raw = raw_verifies(a.seconds as f64);
        println!("raw argon2id verify (default parameters, all cores): {raw:.1}/s");
        let cores = common::cores();
        let ok = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(a.seconds);
        for i in 0..cores {
            // One address per client: the daemon queues one hash per address.
            let c = client(
                &cert,
                &a.url,
                IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + i as u8)),
            );
            let (url, body, ok) = (url.clone(), body.clone(), ok.clone());
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let r = c.post(&url).json(&body).send().await.unwrap();
                    assert_eq!(
                        r.status(),
                        201,
                        "login failed: raise auth.rate_* for this run"
                    );
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let https = ok.load(Ordering::Relaxed) as f64 / a.seconds as f64;
        println!(
            "logins over HTTPS: {https:.1}/s = {:.0}% of raw",
            100.0 * https / raw
        );
        return;
    }

    // The good user has signed in from its address before the flood starts.
    let good = client(&cert, &a.url, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let r = good.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "the good login works before the flood");
    let stop = Arc::new(AtomicBool::new(false));
    let (limited, denied) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut flood = Vec::new();
    for i in 0..a.flood {
        let from = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8));
        let c = client(&cert, &a.url, from);
        let url = url.clone();
        let bad = serde_json::json!({"login": format!("flood{i}"), "password": "Wrong-12345"});
        let (stop, limited, denied) = (stop.clone(), limited.clone(), denied.clone());
        flood.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match c
                    .post(&url)
                    .json(&bad)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                {
                    Ok(429) => limited.fetch_add(1, Ordering::Relaxed),
                    Ok(_) => denied.fetch_add(1, Ordering::Relaxed),
                    Err(_) => 0,
                };
            }
        }));
    }
    let mut latencies = Vec::new();
    let mut good_refused = std::collections::BTreeMap::<u16, u64>::new();
    while Instant::now() < deadline {
        let t = Instant::now();
        let r = good.post(&url).json(&body).send().await.unwrap();
        match r.status().as_u16() {
            201 => latencies.push(t.elapsed()),
            other => *good_refused.entry(other).or_default() += 1,
        }
        // Slower than the per-login limit, so that any refusal is the flood's doing.
        tokio::time::sleep(Duration::from_millis(a.every_ms)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for f in flood {
        let _ = f.await;
    }
    latencies.sort();
    println!(
        "flood of {} addresses for {}s: {} bad logins hashed and refused (401), {} refused before hashing (429)",
        a.flood,
        a.seconds,
        denied.load(Ordering::Relaxed),
        limited.load(Ordering::Relaxed)
    );
    println!(
        "good logins: {} ok, refused by status {:?}; p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        good_refused,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
}
