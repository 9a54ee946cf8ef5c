//! Mixed load against a running daemon over HTTPS: authorization checks,
//! logins, reads and writes from N concurrent workers for a fixed time, on a
//! fixture it creates first through the API. Figures in BENCHMARKS.md come
//! from `benches/load.sh`, which runs this with the baselines of
//! `examples/baselines.rs` measured in the same run.
//!
//! ```text
//! cargo run --release --example load -- --url https://localhost:8443 \
//!     --cert DATA/tls/cert.pem --login admin --password-file PWFILE \
//!     [--seconds 30] [--workers 8] [--mix checks=63,batches=7,logins=5,reads=20,writes=5,creates=0,patches=0] \
//!     [--units 8] [--groups-per-unit 10] [--ranges 20] [--users 400] [--batch 100] \
//!     [--active 40 --data-dir DATA [--bin target/release/bailiwick]] \
//!     [--baselines baselines.json ...] [--json]
//! cargo run --release --example load -- --report run.json --baselines b1.json --baselines b2.json
//! ```
//! `--data-dir` lets the client activate `--active` of the fixture users
//! through `bailiwick ctl` (checks about pending users stop at their
//! status, logins rotate over the active ones). `--json` prints the report
//! as JSON; `--report` prints a saved one against baselines measured around
//! it (their mean and spread).
//!
//! The login must be a Manager (checks about other users need one). Each
//! worker has its own connection and source address (127.0.2.x), so logins
//! spread over the daemon's per-address queues; with default rate limits
//! most logins get 429, so raise `auth.rate_*` for a throughput run.
//!
//! Operations: `check` (one `scan` check of a fixture user, nine times in
//! ten an active one, on an IP of its unit or one time in four of another
//! unit), `check_batch` (`--batch` such
//! checks in one call), `login` (the activated users in turn, else the Manager), reads `list_users`, `get_user`,
//! `list_groups`, writes `create_user`, `patch_user` (names and asset
//! groups, so the authorization index changes), `create_group`. Within
//! reads and writes the three kinds are equally likely. `creates` weighs
//! `create_user` alone and `patches` `patch_user` alone (both reported with
//! the writes).

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Rng, percentile};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Op {
    Check,
    CheckBatch,
    Login,
    ListUsers,
    GetUser,
    ListGroups,
    CreateUser,
    PatchUser,
    CreateGroup,
}

const OPS: [Op; 9] = [
    Op::Check,
    Op::CheckBatch,
    Op::Login,
    Op::ListUsers,
    Op::GetUser,
    Op::ListGroups,
    Op::CreateUser,
    Op::PatchUser,
    Op::CreateGroup,
];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Check => "check",
            Op::CheckBatch => "check_batch",
            Op::Login => "login",
            Op::ListUsers => "list_users",
            Op::GetUser => "get_user",
            Op::ListGroups => "list_groups",
            Op::CreateUser => "create_user",
            Op::PatchUser => "patch_user",
            Op::CreateGroup => "create_group",
        }
    }

    fn category(self) -> &'static str {
        match self {
            Op::Check | Op::CheckBatch => "checks",
            Op::Login => "logins",
            Op::ListUsers | Op::GetUser | Op::ListGroups => "reads",
            Op::CreateUser | Op::PatchUser | Op::CreateGroup => "writes",
        }
    }

    /// The status a correct answer has; anything else is counted as an error.
    fn expected(self) -> u16 {
        match self {
            Op::Login | Op::CreateUser | Op::CreateGroup => 201,
            _ => 200,
        }
    }
}

/// Weights of the operation categories.
#[derive(Clone, Copy)]
struct Mix {
    checks: u32,
    batches: u32,
    logins: u32,
    reads: u32,
    writes: u32,
    /// User creations alone (counted with the writes): the write path the
    /// registration mail and the activity log stand on.
    creates: u32,
    /// User edits alone (counted with the writes): writes that change the
    /// data without adding to it, for a soak whose state must stay flat.
    patches: u32,
}

impl Mix {
    fn parse(s: &str) -> Mix {
        let mut m = Mix {
            checks: 0,
            batches: 0,
            logins: 0,
            reads: 0,
            writes: 0,
            creates: 0,
            patches: 0,
        };
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .unwrap_or_else(|| panic!("--mix: {part:?} is not KEY=WEIGHT"));
            let v: u32 = v
                .parse()
                .unwrap_or_else(|_| panic!("--mix: {v:?} is not a number"));
            match k {
                "checks" => m.checks = v,
                "batches" => m.batches = v,
                "logins" => m.logins = v,
                "reads" => m.reads = v,
                "writes" => m.writes = v,
                "creates" => m.creates = v,
                "patches" => m.patches = v,
                _ => panic!(
                    "--mix: unknown key {k:?}; use checks, batches, logins, reads, writes, creates, patches"
                ),
            }
        }
        assert!(m.total() > 0, "--mix: give at least one weight above 0");
        m
    }

    fn total(&self) -> u32 {
        self.checks
            + self.batches
            + self.logins
            + self.reads
            + self.writes
            + self.creates
            + self.patches
    }

    fn pick(&self, rng: &mut Rng) -> Op {
        let mut x = rng.below(self.total() as usize) as u32;
        let three = |rng: &mut Rng, ops: [Op; 3]| ops[rng.below(3)];
        for (w, cat) in [
            (self.checks, 0),
            (self.batches, 1),
            (self.logins, 2),
            (self.reads, 3),
            (self.writes, 4),
            (self.creates, 5),
            (self.patches, 6),
        ] {
            if x < w {
                return match cat {
                    0 => Op::Check,
                    1 => Op::CheckBatch,
                    2 => Op::Login,
                    3 => three(rng, [Op::ListUsers, Op::GetUser, Op::ListGroups]),
                    5 => Op::CreateUser,
                    6 => Op::PatchUser,
                    _ => three(rng, [Op::CreateUser, Op::PatchUser, Op::CreateGroup]),
                };
            }
            x -= w;
        }
        unreachable!("x < total")
    }

    fn describe(&self) -> String {
        format!(
            "checks={},batches={},logins={},reads={},writes={},creates={},patches={}",
            self.checks,
            self.batches,
            self.logins,
            self.reads,
            self.writes,
            self.creates,
            self.patches
        )
    }
}

struct Args {
    url: String,
    cert: String,
    login: String,
    password: String,
    seconds: f64,
    workers: usize,
    mix: Mix,
    units: usize,
    groups_per_unit: usize,
    ranges: usize,
    users: usize,
    batch: usize,
    active: usize,
    data_dir: Option<String>,
    bin: Option<String>,
    baselines: Vec<String>,
    report: Option<String>,
    daemon_pid: Option<u32>,
    json: bool,
}

fn args() -> Args {
    let mut a = Args {
        url: "https://localhost:8443".into(),
        cert: "bailiwick-data/tls/cert.pem".into(),
        login: "admin".into(),
        password: String::new(),
        seconds: 30.0,
        workers: 8,
        mix: Mix::parse("checks=63,batches=7,logins=5,reads=20,writes=5"),
        units: 8,
        groups_per_unit: 10,
        ranges: 20,
        users: 400,
        batch: 100,
        active: 40,
        data_dir: None,
        bin: None,
        baselines: Vec::new(),
        report: None,
        daemon_pid: None,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--json" {
            a.json = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        let num = |v: &str| -> usize { v.parse().unwrap_or_else(|_| panic!("{k} N")) };
        match k.as_str() {
            "--url" => a.url = v.trim_end_matches('/').to_owned(),
            "--cert" => a.cert = v,
            "--login" => a.login = v,
            "--password" => a.password = v,
            "--password-file" => {
                let raw = std::fs::read_to_string(&v).expect("--password-file FILE");
                a.password = raw.trim_end_matches(['\n', '\r']).to_owned();
            }
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            "--workers" => a.workers = num(&v).max(1),
            "--mix" => a.mix = Mix::parse(&v),
            "--units" => a.units = num(&v).clamp(1, 250),
            "--groups-per-unit" => a.groups_per_unit = num(&v).max(3),
            "--ranges" => a.ranges = num(&v).max(1),
            "--users" => a.users = num(&v).max(1),
            "--batch" => a.batch = num(&v).clamp(1, 1000),
            "--active" => a.active = num(&v),
            "--data-dir" => a.data_dir = Some(v),
            "--bin" => a.bin = Some(v),
            "--baselines" => a.baselines.push(v),
            "--report" => a.report = Some(v),
            "--daemon-pid" => a.daemon_pid = Some(v.parse().expect("--daemon-pid PID")),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Worker `w`'s source address: 127.0.2.1, 127.0.2.2, ...
fn worker_addr(w: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        2 + (w / 250) as u8,
        1 + (w % 250) as u8,
    ))
}

struct Unit {
    id: String,
    /// The unit owns 10.<octet>.0.0/16.
    octet: u8,
    groups: Vec<String>,
}

struct Fixture {
    /// Makes names unique per run, so the client can run again on one daemon.
    prefix: String,
    units: Vec<Unit>,
    /// (user id, index of its unit); the first `active.len()` are active.
    users: Vec<(String, usize)>,
    /// Login body of each activated user.
    active: Vec<Value>,
}

/// One HTTPS caller with the Manager's token.
#[derive(Clone)]
struct Api {
    c: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// Sends and reads the whole answer; `Err` is a transport failure.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, bytes::Bytes), String> {
        let mut req = self
            .c
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        let status = r.status().as_u16();
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        Ok((status, body))
    }

    /// For the fixture: a call that must succeed with `want`.
    async fn must(&self, method: Method, path: &str, body: Value, want: u16) -> Value {
        let (s, b) = self
            .call(method, path, Some(&body))
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(s, want, "fixture {path} {body}: {v}");
        v
    }
}

async fn login_call(
    c: &reqwest::Client,
    base: &str,
    body: &Value,
) -> Result<(u16, String), String> {
    let r = c
        .post(format!("{base}/api/v1/session"))
        .json(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.map_err(|e| e.to_string())?))
}

/// Runs `f(0..n)` with `conc` at a time; results in index order.
async fn all<T, F, Fut>(n: usize, conc: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..conc.max(1) {
        let (f, next) = (f.clone(), next.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break out;
                }
                out.push((i, f(i).await));
            }
        });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(part) = set.join_next().await {
        out.extend(part.unwrap());
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// Where a unit's groups and checks fall: 10.<octet>.0.0 to 10.<octet>.15.255,
/// so that three groups of ~20 ranges cover about half of it and a check of
/// a user on its own unit is allowed about as often as not.
const HOT_THIRD_OCTETS: usize = 16;

/// `n` random IP ranges inside the hot part of 10.<octet>.0.0/16, as "a-b".
fn ranges(rng: &mut Rng, octet: u8, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let third = rng.below(HOT_THIRD_OCTETS);
            let first = rng.below(256);
            let last = (first + rng.below(128)).min(255);
            format!("10.{octet}.{third}.{first}-10.{octet}.{third}.{last}")
        })
        .collect()
}

/// `k` distinct groups of `unit`.
fn some_groups(rng: &mut Rng, unit: &Unit, k: usize) -> Vec<String> {
    let mut picked: Vec<String> = Vec::with_capacity(k);
    while picked.len() < k.min(unit.groups.len()) {
        let g = &unit.groups[rng.below(unit.groups.len())];
        if !picked.contains(g) {
            picked.push(g.clone());
        }
    }
    picked
}

async fn build_fixture(api: &Api, a: &Args) -> Fixture {
    let prefix = format!(
        "ld{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_micros()
            % 0xffff_ffff
    );
    // One source address for the whole fixture: stay well under the
    // daemon's connections per source (64 by default).
    let conc = a.workers.min(16);
    api.must(
        Method::POST,
        "/api/v1/assets",
        json!({"ips": ["10.0.0.0/8"], "domains": []}),
        200,
    )
    .await;

    let unit_ids = {
        let (api, prefix) = (api.clone(), prefix.clone());
        all(a.units, conc, move |u| {
            let (api, prefix) = (api.clone(), prefix.clone());
            async move {
                let v = api
                    .must(
                        Method::POST,
                        "/api/v1/business-units",
                        json!({"name": format!("{prefix} unit {u}"),
                               "assets": {"ips": [format!("10.{u}.0.0/16")]}}),
                        201,
                    )
                    .await;
                v["id"].as_str().unwrap().to_owned()
            }
        })
        .await
    };

    let per = a.groups_per_unit;
    let group_ids = {
        let (api, prefix, unit_ids, nr) = (api.clone(), prefix.clone(), unit_ids.clone(), a.ranges);
        let unit_ids = Arc::new(unit_ids);
        all(a.units * per, conc, move |i| {
            let (api, prefix, unit_ids) = (api.clone(), prefix.clone(), unit_ids.clone());
            async move {
                let u = i / per;
                let mut rng = Rng::new(1000 + i as u64);
                let v = api
                    .must(
                        Method::POST,
                        "/api/v1/asset-groups",
                        json!({"title": format!("{prefix} group {u}.{}", i % per),
                               "ips": ranges(&mut rng, u as u8, nr),
                               "business_units": [unit_ids[u]]}),
                        201,
                    )
                    .await;
                v["id"].as_str().unwrap().to_owned()
            }
        })
        .await
    };
    let units: Vec<Unit> = unit_ids
        .into_iter()
        .enumerate()
        .map(|(u, id)| Unit {
            id,
            octet: u as u8,
            groups: group_ids[u * per..(u + 1) * per].to_vec(),
        })
        .collect();
    let units = Arc::new(units);

    let active = a.active.min(a.users);
    let user_ids = {
        let (api, prefix, units) = (api.clone(), prefix.clone(), units.clone());
        all(a.users, conc, move |i| {
            let (api, prefix, units) = (api.clone(), prefix.clone(), units.clone());
            async move {
                let u = i % units.len();
                let mut rng = Rng::new(2000 + i as u64);
                let login = format!("{prefix}-u{i}");
                let v = api
                    .must(
                        Method::POST,
                        "/api/v1/users",
                        json!({"login": login, "email": format!("{login}@example.com"),
                               "first_name": "Load", "last_name": format!("User {i}"),
                               // The activated ones scan; the others mix.
                               "role": if i < active || i % 2 == 0 { "scanner" } else { "reader" },
                               "business_unit": units[u].id,
                               "asset_groups": some_groups(&mut rng, &units[u], 3)}),
                        201,
                    )
                    .await;
                (v["id"].as_str().unwrap().to_owned(), u)
            }
        })
        .await
    };
    let logins = match &a.data_dir {
        Some(dir) => activate(a, dir, &prefix, active).await,
        None => Vec::new(),
    };
    Fixture {
        prefix,
        units: Arc::into_inner(units).expect("fixture tasks are done"),
        users: user_ids,
        active: logins,
    }
}

/// Activates users `0..n` of the fixture as a person would: a one-time link
/// (from `bailiwick ctl`, which needs the data directory), the password it
/// reveals, then the first login, which makes the account active. A check
/// about a pending user ends at its status; active ones reach the ranges.
async fn activate(a: &Args, dir: &str, prefix: &str, n: usize) -> Vec<Value> {
    let bin = a.bin.clone().unwrap_or_else(|| {
        // target/release/examples/load -> target/release/bailiwick
        let exe = std::env::current_exe().unwrap();
        exe.parent()
            .and_then(|p| p.parent())
            .unwrap()
            .join("bailiwick")
            .to_string_lossy()
            .into_owned()
    });
    let cert = std::fs::read(&a.cert).unwrap();
    let (dir, prefix, base) = (dir.to_owned(), prefix.to_owned(), a.url.clone());
    all(n, a.workers, move |i| {
        let (bin, dir, base) = (bin.clone(), dir.clone(), base.clone());
        let login = format!("{prefix}-u{i}");
        // Spread over source addresses, as the login limits are per address.
        let c = common::client(
            &cert,
            &base,
            IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i % 250) as u8)),
        );
        async move {
            let args = [
                "ctl",
                "--data-dir",
                &dir,
                "--json",
                "users",
                "activation-link",
                &login,
            ]
            .map(str::to_owned);
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(&bin)
                    .args(args)
                    .output()
                    .unwrap_or_else(|e| panic!("{bin}: {e} (give --bin PATH)"))
            })
            .await
            .unwrap();
            assert!(
                out.status.success(),
                "ctl: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: Value = serde_json::from_slice(&out.stdout).expect("ctl --json");
            let link = v["link"].as_str().expect("link");
            let token = &link[link.find("/ui/activation/").expect("activation path")
                + "/ui/activation/".len()..];
            let path = &format!("/api/v1/activation/{token}");
            let r = c.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "activation link of {login}");
            let creds: Value = r.json().await.unwrap();
            let body = json!({"login": login, "password": creds["password"]});
            let (s, text) = login_call(&c, &base, &body).await.unwrap();
            assert_eq!(s, 201, "first login of {login}: {text}");
            body
        }
    })
    .await
}

/// What one worker saw.
#[derive(Default)]
struct Seen {
    latencies: BTreeMap<Op, Vec<Duration>>,
    /// (operation, status or 0 for a transport failure) → count.
    errors: BTreeMap<(Op, u16), u64>,
    /// A few unexpected answers, to print.
    samples: Vec<String>,
    /// Answers of single checks: "allowed" or the reason of a denial.
    decisions: BTreeMap<String, u64>,
    /// The first login from this worker's address: the daemon queues
    /// logins from addresses that never signed in behind known ones.
    first_login: Option<Duration>,
}

/// A `scan` check of a fixture user (nine times in ten an active one) on an
/// IP of its own unit, or one time in four of another unit's.
fn one_check(rng: &mut Rng, f: &Fixture) -> Value {
    let pool = if f.active.is_empty() || rng.below(10) == 0 {
        f.users.len()
    } else {
        f.active.len()
    };
    let (user, own) = &f.users[rng.below(pool)];
    let mut u = *own;
    if rng.below(4) == 0 {
        u = rng.below(f.units.len());
    }
    let o = f.units[u].octet;
    json!({"user": user, "action": "scan",
           "resource": {"ip": format!("10.{o}.{}.{}", rng.below(HOT_THIRD_OCTETS), rng.below(256))}})
}

struct Worker {
    w: usize,
    api: Api,
    login_body: Value,
    fixture: Arc<Fixture>,
    mix: Mix,
    batch: usize,
    deadline: Instant,
}

impl Worker {
    async fn run(self) -> Seen {
        let mut seen = Seen::default();
        let mut rng = Rng::new(0xabc0 + self.w as u64);
        let f = &*self.fixture;
        let mut n = 0u64;
        while Instant::now() < self.deadline {
            n += 1;
            let op = self.mix.pick(&mut rng);
            let (method, path, body) = match op {
                Op::Check => (
                    Method::POST,
                    "/api/v1/authz/check".to_owned(),
                    Some(one_check(&mut rng, f)),
                ),
                Op::CheckBatch => {
                    let items: Vec<Value> =
                        (0..self.batch).map(|_| one_check(&mut rng, f)).collect();
                    (
                        Method::POST,
                        "/api/v1/authz/check-batch".to_owned(),
                        Some(Value::Array(items)),
                    )
                }
                Op::Login => (Method::POST, String::new(), None),
                Op::ListUsers => (Method::GET, "/api/v1/users".to_owned(), None),
                Op::GetUser => {
                    let id = &f.users[rng.below(f.users.len())].0;
                    (Method::GET, format!("/api/v1/users/{id}"), None)
                }
                Op::ListGroups => (Method::GET, "/api/v1/asset-groups".to_owned(), None),
                Op::CreateUser => {
                    let u = &f.units[rng.below(f.units.len())];
                    let login = format!("{}-w{}-{n}", f.prefix, self.w);
                    (
                        Method::POST,
                        "/api/v1/users".to_owned(),
                        Some(
                            json!({"login": login, "email": format!("{login}@example.com"),
                                    "first_name": "Load", "last_name": "Written",
                                    "role": "scanner", "business_unit": u.id,
                                    "asset_groups": some_groups(&mut rng, u, 2)}),
                        ),
                    )
                }
                Op::PatchUser => {
                    let (id, u) = &f.users[rng.below(f.users.len())];
                    (
                        Method::PATCH,
                        format!("/api/v1/users/{id}"),
                        Some(json!({"first_name": format!("Load{n}"),
                                    "asset_groups": some_groups(&mut rng, &f.units[*u], 3)})),
                    )
                }
                Op::CreateGroup => {
                    let u = &f.units[rng.below(f.units.len())];
                    (
                        Method::POST,
                        "/api/v1/asset-groups".to_owned(),
                        Some(json!({"title": format!("{} w{}-{n}", f.prefix, self.w),
                                    "ips": ranges(&mut rng, u.octet, 10),
                                    "business_units": [u.id]})),
                    )
                }
            };
            let t = Instant::now();
            let answer = if op == Op::Login {
                let body = if f.active.is_empty() {
                    &self.login_body
                } else {
                    &f.active[rng.below(f.active.len())]
                };
                login_call(&self.api.c, &self.api.base, body)
                    .await
                    .map(|(s, b)| (s, bytes::Bytes::from(b)))
            } else {
                self.api.call(method, &path, body.as_ref()).await
            };
            let dt = t.elapsed();
            seen.latencies.entry(op).or_default().push(dt);
            if op == Op::Login && seen.first_login.is_none() {
                seen.first_login = Some(dt);
            }
            match answer {
                Ok((s, b)) if s == op.expected() => {
                    if op == Op::Check {
                        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                        let what = match (&v["allowed"], v["reason"].as_str()) {
                            (Value::Bool(true), _) => "allowed",
                            (_, Some(reason)) => reason,
                            _ => "unreadable",
                        };
                        *seen.decisions.entry(what.to_owned()).or_default() += 1;
                    }
                }
                Ok((s, b)) => {
                    *seen.errors.entry((op, s)).or_default() += 1;
                    if seen.samples.len() < 3 {
                        let text = String::from_utf8_lossy(&b);
                        seen.samples.push(format!(
                            "{} {s}: {}",
                            op.name(),
                            text.chars().take(300).collect::<String>()
                        ));
                    }
                }
                Err(e) => {
                    *seen.errors.entry((op, 0)).or_default() += 1;
                    if seen.samples.len() < 3 {
                        seen.samples.push(format!("{} transport: {e}", op.name()));
                    }
                }
            }
        }
        seen
    }
}

/// One row of the report, as JSON: count, rate, latency quantiles, errors.
/// `time_share`: the part of the workers' time spent waiting on these
/// calls (in a closed loop, slow calls take the time of fast ones).
fn row(mut lat: Vec<Duration>, errors: BTreeMap<u16, u64>, secs: f64, workers: usize) -> Value {
    lat.sort_unstable();
    let ms = |p: f64| (percentile(&lat, p).as_secs_f64() * 1e5).round() / 100.0;
    // From 0.0: an empty float sum is -0.0.
    let busy = lat
        .iter()
        .map(Duration::as_secs_f64)
        .fold(0.0, |a, b| a + b);
    let share = busy / (secs * workers as f64);
    json!({"count": lat.len(), "per_s": (lat.len() as f64 / secs * 10.0).round() / 10.0,
           "time_share": (share * 1000.0).round() / 1000.0,
           "p50_ms": ms(0.5), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
           "errors": errors.iter().map(|(s, n)| (s.to_string(), json!(n)))
               .collect::<serde_json::Map<_, _>>()})
}

fn line(name: &str, r: &Value) -> String {
    let errors = r["errors"].as_object().map_or(String::new(), |m| {
        m.iter()
            .map(|(s, n)| format!("{}:{n}", if s == "0" { "io" } else { s }))
            .collect::<Vec<_>>()
            .join(" ")
    });
    format!(
        "{name:<13} {:>8} {:>9.1} {:>6.1} {:>9.2} {:>9.2} {:>9.2}  {}",
        r["count"].as_u64().unwrap_or(0),
        r["per_s"].as_f64().unwrap_or(0.0),
        r["time_share"].as_f64().unwrap_or(0.0) * 100.0,
        r["p50_ms"].as_f64().unwrap_or(0.0),
        r["p99_ms"].as_f64().unwrap_or(0.0),
        r["p999_ms"].as_f64().unwrap_or(0.0),
        if errors.is_empty() { "-" } else { &errors }
    )
}

/// Mean, min and max of one figure over the baseline runs.
fn spread(baselines: &[Value], key: &str) -> (f64, f64, f64) {
    let v: Vec<f64> = baselines.iter().filter_map(|b| b[key].as_f64()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mean, min, max)
}

/// The ratios of the report against the baselines (their mean, and the
/// range their spread gives).
fn ratios(report: &Value, baselines: &[Value]) -> Value {
    let per_s = |c: &str| {
        report["categories"][c]["per_s"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    let (argon2, a_lo, a_hi) = spread(baselines, "argon2_verifies_per_s");
    let (fsync, f_lo, f_hi) = spread(baselines, "fsyncs_per_s");
    let (per_cpu, _, _) = spread(baselines, "argon2_verifies_per_cpu_s");
    let cores = baselines
        .first()
        .and_then(|b| b["cores"].as_f64())
        .unwrap_or(f64::NAN);
    let r3 = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "logins_per_idle_argon2_capacity": r3(per_s("logins") / (per_cpu * cores)),
        "logins_per_argon2_verify": r3(per_s("logins") / argon2),
        "logins_per_argon2_verify_range": [r3(per_s("logins") / a_hi), r3(per_s("logins") / a_lo)],
        "writes_per_fsync": r3(per_s("writes") / fsync),
        "writes_per_fsync_range": [r3(per_s("writes") / f_hi), r3(per_s("writes") / f_lo)],
    })
}

fn print_report(r: &Value, baselines: &[Value]) {
    println!(
        "{} workers for {:.1}s, mix {}, batches of {}; fixture {}",
        r["workers"],
        r["seconds"].as_f64().unwrap_or(0.0),
        r["mix"].as_str().unwrap_or(""),
        r["batch"],
        r["fixture"]
    );
    println!(
        "{:<13} {:>8} {:>9} {:>6} {:>9} {:>9} {:>9}  errors (status:count)",
        "op", "count", "per s", "time%", "p50 ms", "p99 ms", "p999 ms"
    );
    // Kinds the mix left out are left out here too.
    let ran = |r: &Value| r["count"].as_u64().unwrap_or(0) > 0;
    for op in OPS {
        if ran(&r["ops"][op.name()]) {
            println!("{}", line(op.name(), &r["ops"][op.name()]));
        }
    }
    println!("{}", "-".repeat(79));
    for c in ["checks", "logins", "reads", "writes"] {
        if ran(&r["categories"][c]) {
            println!("{}", line(c, &r["categories"][c]));
        }
    }
    println!("{}", line("all", &r["all"]));
    if ran(&r["categories"]["checks"]) {
        println!(
            "authorization decisions: {:.0}/s; single checks answered {}",
            r["check_decisions_per_s"].as_f64().unwrap_or(0.0),
            r["check_answers"]
        );
    }
    if r["first_login_per_address_ms"]
        .as_array()
        .is_some_and(|v| !v.is_empty())
    {
        println!(
            "first login from each worker's address (new to the daemon), ms: {}",
            r["first_login_per_address_ms"]
        );
    }
    let secs = r["seconds"].as_f64().unwrap_or(f64::NAN);
    if let Some(cpu) = r["daemon_cpu_seconds"].as_f64() {
        println!(
            "daemon CPU: {cpu:.1} s in {secs:.1} s = {:.2} cores busy",
            cpu / secs
        );
    }
    if let Some(cpu) = r["client_cpu_seconds"].as_f64() {
        println!(
            "this client's CPU: {cpu:.1} s = {:.2} cores busy (on the same machine)",
            cpu / secs
        );
    }
    for s in r["unexpected"].as_array().into_iter().flatten() {
        println!("unexpected: {}", s.as_str().unwrap_or(""));
    }
    if baselines.is_empty() {
        return;
    }
    let cat = |c: &str, k: &str| r["categories"][c][k].as_f64().unwrap_or(f64::NAN);
    let (argon2, a_lo, a_hi) = spread(baselines, "argon2_verifies_per_s");
    let (fsync, f_lo, f_hi) = spread(baselines, "fsyncs_per_s");
    let (read, _, _) = spread(baselines, "sequential_read_mb_per_s");
    let (per_cpu, _, _) = spread(baselines, "argon2_verifies_per_cpu_s");
    let cores = baselines[0]["cores"].as_u64().unwrap_or(0);
    let q = ratios(r, baselines);
    println!(
        "baselines, mean of {} runs in this session: argon2id verify {argon2:.1}/s on {cores} cores \
         ({a_lo:.1}..{a_hi:.1}), fsync {fsync:.0}/s ({f_lo:.0}..{f_hi:.0}), sequential read {read:.0} MB/s",
        baselines.len()
    );
    println!(
        "argon2id verify per CPU-second: {per_cpu:.1}, so {:.1}/s on {cores} idle cores",
        per_cpu * cores as f64
    );
    if cat("logins", "count") > 0.0 {
        println!(
            "logins {:.1}/s = {}x raw argon2id verifies/s (range {}), {}x the idle-machine rate, p99 {:.0} ms",
            cat("logins", "per_s"),
            q["logins_per_argon2_verify"],
            q["logins_per_argon2_verify_range"],
            q["logins_per_idle_argon2_capacity"],
            cat("logins", "p99_ms")
        );
    }
    if let Some(cpu) = r["daemon_cpu_seconds"].as_f64()
        && cat("logins", "count") > 0.0
    {
        // What the logins' hashes cost at the measured CPU price of one verify.
        let hashing = cat("logins", "count") / per_cpu;
        println!(
            "hashing for logins: ~{hashing:.1} of the daemon's {cpu:.1} CPU-seconds ({:.0}%)",
            100.0 * hashing / cpu
        );
    }
    if cat("writes", "count") > 0.0 {
        println!(
            "writes {:.1}/s = {}x fsync/s (range {}), p99 {:.1} ms",
            cat("writes", "per_s"),
            q["writes_per_fsync"],
            q["writes_per_fsync_range"],
            cat("writes", "p99_ms")
        );
    }
    if cat("reads", "count") > 0.0 {
        println!(
            "reads {:.0}/s, p99 {:.1} ms (sequential read baseline {read:.0} MB/s; reads are served from memory)",
            cat("reads", "per_s"),
            cat("reads", "p99_ms")
        );
    }
    if cat("checks", "count") > 0.0 {
        println!(
            "checks {:.0} calls/s, {:.0} decisions/s, p99 {:.1} ms",
            cat("checks", "per_s"),
            r["check_decisions_per_s"].as_f64().unwrap_or(0.0),
            cat("checks", "p99_ms")
        );
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let baselines: Vec<Value> = a
        .baselines
        .iter()
        .map(|p| {
            serde_json::from_str(&std::fs::read_to_string(p).expect("--baselines FILE"))
                .expect("--baselines: the JSON of examples/baselines --json")
        })
        .collect();
    if let Some(p) = &a.report {
        let mut r: Value =
            serde_json::from_str(&std::fs::read_to_string(p).expect("--report FILE"))
                .expect("--report: the JSON of a --json run");
        print_report(&r, &baselines);
        if a.json {
            r["baselines"] = json!(baselines);
            r["ratios"] = ratios(&r, &baselines);
            println!("{}", serde_json::to_string_pretty(&r).unwrap());
        }
        return;
    }
    let r = run(&a).await;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r).unwrap());
    } else {
        print_report(&r, &baselines);
    }
}

/// CPU seconds (user + system) process `pid` has used, from /proc (Linux).
fn cpu_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces: state is [0],
    // utime [11], stime [12], in clock ticks.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf only reads a constant.
    // SAFETY: sysconf reads a constant; it takes no pointers.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

/// Builds the fixture, runs the workers, returns the report.
async fn run(a: &Args) -> Value {
    bailiwick::tls::install_default_provider();
    let cert = std::fs::read(&a.cert).expect("--cert FILE");
    let login_body = json!({"login": a.login, "password": a.password});

    let setup = common::client(&cert, &a.url, IpAddr::V4(Ipv4Addr::LOCALHOST));
    let (s, text) = login_call(&setup, &a.url, &login_body)
        .await
        .expect("the daemon answers");
    assert_eq!(s, 201, "the Manager logs in: {text}");
    let token = serde_json::from_str::<Value>(&text).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let api = Api {
        c: setup,
        base: a.url.clone(),
        token: token.clone(),
    };
    let t = Instant::now();
    let fixture = Arc::new(build_fixture(&api, a).await);
    // stderr, so that --json keeps stdout to the report.
    eprintln!(
        "fixture: {} units, {} asset groups of {} ranges, {} users ({} activated), in {:.1}s",
        a.units,
        a.units * a.groups_per_unit,
        a.ranges,
        a.users,
        fixture.active.len(),
        t.elapsed().as_secs_f64()
    );

    let cpu0 = a.daemon_pid.and_then(cpu_of);
    let own0 = cpu_of(std::process::id());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::new();
    for w in 0..a.workers {
        let worker = Worker {
            w,
            api: Api {
                c: common::client(&cert, &a.url, worker_addr(w)),
                base: a.url.clone(),
                token: token.clone(),
            },
            login_body: login_body.clone(),
            fixture: fixture.clone(),
            mix: a.mix,
            batch: a.batch,
            deadline,
        };
        tasks.push(tokio::spawn(worker.run()));
    }
    let mut seen = Seen::default();
    let mut first_logins = Vec::new();
    for t in tasks {
        let s = t.await.unwrap();
        for (op, l) in s.latencies {
            seen.latencies.entry(op).or_default().extend(l);
        }
        for (k, n) in s.errors {
            *seen.errors.entry(k).or_default() += n;
        }
        seen.samples.extend(s.samples);
        for (k, n) in s.decisions {
            *seen.decisions.entry(k).or_default() += n;
        }
        first_logins.extend(s.first_login);
    }
    first_logins.sort_unstable();
    let secs = start.elapsed().as_secs_f64();
    let own_cpu = own0
        .zip(cpu_of(std::process::id()))
        .map(|(before, after)| ((after - before) * 100.0).round() / 100.0);
    let daemon_cpu = cpu0
        .zip(a.daemon_pid.and_then(cpu_of))
        .map(|(before, after)| ((after - before) * 100.0).round() / 100.0);

    let errors_of = |pred: &dyn Fn(Op) -> bool| {
        let mut m = BTreeMap::new();
        for ((op, s), n) in &seen.errors {
            if pred(*op) {
                *m.entry(*s).or_default() += n;
            }
        }
        m
    };
    let lat_of = |pred: &dyn Fn(Op) -> bool| -> Vec<Duration> {
        seen.latencies
            .iter()
            .filter(|(op, _)| pred(**op))
            .flat_map(|(_, l)| l.iter().copied())
            .collect()
    };
    let ops: serde_json::Map<String, Value> = OPS
        .iter()
        .map(|&op| {
            let r = row(
                lat_of(&|o| o == op),
                errors_of(&|o| o == op),
                secs,
                a.workers,
            );
            (op.name().to_owned(), r)
        })
        .collect();
    let cats: serde_json::Map<String, Value> = ["checks", "logins", "reads", "writes"]
        .iter()
        .map(|&c| {
            let r = row(
                lat_of(&|o| o.category() == c),
                errors_of(&|o| o.category() == c),
                secs,
                a.workers,
            );
            (c.to_owned(), r)
        })
        .collect();
    let count = |op: Op| seen.latencies.get(&op).map_or(0, Vec::len);
    let decisions = (count(Op::Check) + count(Op::CheckBatch) * a.batch) as f64 / secs;
    json!({
        "seconds": (secs * 100.0).round() / 100.0, "workers": a.workers, "mix": a.mix.describe(),
        "fixture": {"units": a.units, "groups": a.units * a.groups_per_unit,
                    "ranges_per_group": a.ranges, "users": a.users,
                    "active_users": fixture.active.len()},
        "batch": a.batch,
        "check_decisions_per_s": decisions.round(),
        "check_answers": seen.decisions,
        "ops": ops,
        "categories": cats,
        "all": row(lat_of(&|_| true), errors_of(&|_| true), secs, a.workers),
        "unexpected": seen.samples,
        "daemon_cpu_seconds": daemon_cpu,
        "client_cpu_seconds": own_cpu,
        "first_login_per_address_ms": first_logins.iter()
            .map(|d| (d.as_secs_f64() * 1e4).round() / 10.0).collect::<Vec<_>>(),
    })
}
