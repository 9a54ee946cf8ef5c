//! Start to ready with the largest subscriptions' data: 100 000 users,
//! 10 000 asset groups of 100 IP ranges (1M ranges), two groups per user,
//! written through the library (not the API), against the start of a
//! freshly initialised data directory measured in the same run.
//!
//! ```text
//! cargo build --release --bin bailiwick
//! cargo run --release --example start_time -- [--users 100000] [--groups 10000] \
//!     [--ranges 100] [--rounds 3] [--bin target/release/bailiwick]
//! ```
//! Prints, per data directory, the phases measured in process (opening the
//! store and decoding its state; building the permission index) and the
//! wall time from spawning `bailiwick serve` to `/readyz` answering 200.

mod common;

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bailiwick::clock::SystemClock;
use bailiwick::domain::ipset::{IpSet, key};
use bailiwick::domain::testkit::user_record;
use bailiwick::domain::{Actor, AssetGroup, AssetSet, Role, Timestamp, User};
use bailiwick::store::{Options, Store};

struct Args {
    users: usize,
    groups: usize,
    ranges: usize,
    rounds: usize,
    bin: String,
}

fn args() -> Args {
    let mut a = Args {
        users: 100_000,
        groups: 10_000,
        ranges: 100,
        rounds: 3,
        bin: "target/release/bailiwick".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--users" => a.users = value.parse().expect("--users N"),
            "--groups" => a.groups = value.parse().expect("--groups N"),
            "--ranges" => a.ranges = value.parse().expect("--ranges N"),
            "--rounds" => a.rounds = value.parse().expect("--rounds N"),
            "--bin" => a.bin = value,
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

fn open(dir: &Path) -> Store {
    Store::open(dir, &Options::default(), Arc::new(SystemClock)).expect("open the store")
}

/// Writes the groups and users into an initialised data directory, a few
/// thousand records per commit.
fn fill(dir: &Path, a: &Args) {
    let store = open(dir);
    let owner = store
        .snapshot()
        .users
        .keys()
        .next()
        .cloned()
        .expect("the Manager");
    let mut rng = common::Rng::new(1);
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let mut all = Vec::new();
    let groups: Vec<AssetGroup> = (0..a.groups)
        .map(|g| {
            let ranges: Vec<(u128, u128)> = (0..a.ranges)
                .map(|_| {
                    let k = key(IpAddr::V4(Ipv4Addr::from(base + rng.below(1 << 24) as u32)));
                    (k, k + rng.below(16) as u128)
                })
                .collect();
            let ips = IpSet::from_ranges(ranges);
            all.extend_from_slice(ips.ranges());
            AssetGroup {
                id: format!("g{g:05}"),
                title: format!("Group {g}"),
                assets: AssetSet {
                    ips,
                    ..AssetSet::default()
                },
                business_units: BTreeSet::new(),
                owner: owner.clone(),
                created_by_role: Role::Manager,
                created_at: Timestamp::from_unix_micros(1),
            }
        })
        .collect();
    let assets = AssetSet {
        ips: IpSet::from_ranges(all),
        ..AssetSet::default()
    };
    store
        .write_blocking(Actor::operator(), move |tx| {
            tx.put_assets(assets);
            Ok(())
        })
        .unwrap();
    for chunk in groups.chunks(1000) {
        let chunk = chunk.to_vec();
        store
            .write_blocking(Actor::operator(), move |tx| {
                chunk.into_iter().for_each(|g| tx.put_asset_group(g));
                Ok(())
            })
            .unwrap();
    }
    let users: Vec<User> = (0..a.users)
        .map(|u| {
            let id = format!("u{u:06}");
            let mut u = user_record(&id, &id, Role::Scanner, None);
            u.asset_groups = (0..2)
                .map(|_| format!("g{:05}", rng.below(a.groups)))
                .collect();
            u
        })
        .collect();
    for chunk in users.chunks(5000) {
        let chunk = chunk.to_vec();
        store
            .write_blocking(Actor::operator(), move |tx| {
                chunk.into_iter().for_each(|u| tx.put_user(u));
                Ok(())
            })
            .unwrap();
    }
    store.close();
}

/// The phases of a start measured in process: (open and decode, index).
fn phases(dir: &Path) -> (Duration, Duration) {
    let t = Instant::now();
    let store = open(dir);
    let opened = t.elapsed();
    let t = Instant::now();
    let authz = bailiwick::authz::Authz::attach(&store);
    let indexed = t.elapsed();
    drop(authz);
    store.close();
    (opened, indexed)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spawns `bailiwick serve` on `dir` and waits for `/readyz`: the wall time.
fn start(bin: &str, dir: &Path) -> Duration {
    let port = free_port();
    let url = format!("https://localhost:{port}");
    let t = Instant::now();
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.with_extension("log")).unwrap())
        .spawn()
        .expect("spawn bailiwick serve");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cert_path = dir.join("tls/cert.pem");
    let ready = runtime.block_on(async {
        loop {
            if child.try_wait().unwrap().is_some() {
                let log = std::fs::read_to_string(dir.with_extension("log")).unwrap_or_default();
                panic!("the daemon exited during start:\n{log}");
            }
            if let Ok(cert) = std::fs::read(&cert_path) {
                let from = IpAddr::V4(Ipv4Addr::LOCALHOST);
                let client = common::client(&cert, &url, from);
                if let Ok(r) = client.get(format!("{url}/readyz")).send().await
                    && r.status() == 200
                {
                    return t.elapsed();
                }
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    // SAFETY: signalling our own child, which is still running.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    ready
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let a = args();
    bailiwick::tls::install_default_provider();
    let root = tempfile::tempdir().unwrap();
    let empty = root.path().join("empty");
    let large = root.path().join("large");
    common::init(&a.bin, &empty, "Start-time-123");
    common::init(&a.bin, &large, "Start-time-123");
    let t = Instant::now();
    fill(&large, &a);
    println!(
        "filled: {} users, {} groups x {} ranges in {:.1} s; file {:.0} MB",
        a.users,
        a.groups,
        a.ranges,
        t.elapsed().as_secs_f64(),
        std::fs::metadata(large.join("bailiwick.redb"))
            .unwrap()
            .len() as f64
            / 1e6
    );
    // The first start makes the certificate; it is not measured.
    start(&a.bin, &empty);
    start(&a.bin, &large);
    for (name, dir) in [("empty", &empty), ("large", &large)] {
        let (open, index) = phases(dir);
        println!(
            "{name}: open and decode {:.2} s, index {:.2} s (in process)",
            open.as_secs_f64(),
            index.as_secs_f64()
        );
    }
    let (mut e, mut l) = (Vec::new(), Vec::new());
    for _ in 0..a.rounds {
        e.push(start(&a.bin, &empty));
        l.push(start(&a.bin, &large));
    }
    let (e, l) = (median(e), median(l));
    println!(
        "start to ready, median of {}: empty {:.2} s, large {:.2} s ({:.1}x)",
        a.rounds,
        e.as_secs_f64(),
        l.as_secs_f64(),
        l.as_secs_f64() / e.as_secs_f64()
    );
}
