//! The console's pages at the size of a large subscription: 10,000 users
//! and 100,000 activity entries. It builds the data directory (`bailiwick
//! init`, then the users and entries written straight through the store),
//! starts the real daemon on it, signs in through `/ui/login` and times
//! sequential requests over HTTPS: the first page of Users and of
//! Activity, and random users' pages, against `/healthz` in the same run
//! (the same TLS, HTTP and middleware with no page behind it). It also
//! weighs each page with its stylesheet.
//!
//! ```text
//! cargo build --release --bin bailiwick
//! cargo run --release --example console_load -- [--bin target/release/bailiwick] [--requests 300]
//! ```

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bailiwick::domain::{Access, Actor, BusinessUnit, Role, Timestamp, User, UserStatus};
use bailiwick::store::{Options, Store};
use common::{Rng, percentile};

const USERS: usize = 10_000;
const ENTRIES: usize = 100_000;
const UNITS: usize = 20;

struct Args {
    bin: String,
    requests: usize,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/bailiwick".into(),
        requests: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--bin" => a.bin = v,
            "--requests" => a.requests = v.parse().expect("--requests N"),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

fn user(i: usize) -> User {
    let role = [
        Role::Scanner,
        Role::Reader,
        Role::UnitManager,
        Role::Contact,
    ][i % 4];
    User {
        id: format!("u{i:05}"),
        login: format!("user{i:05}"),
        email: format!("user{i:05}@example.com"),
        first_name: format!("First{i}"),
        last_name: format!("Last{i}"),
        role,
        business_unit: Some(format!("bu{:02}", i % UNITS)),
        status: UserStatus::Active,
        asset_groups: Vec::new(),
        permissions: Default::default(),
        access: Access::UiAndApi,
        external_id: None,
        created_at: Timestamp::from_unix_micros(1_700_000_000_000_000),
        last_login_at: None,
        notification_opt_outs: Default::default(),
    }
}

/// `bailiwick init`, then the fixture written through the store.
fn build(bin: &str, dir: &std::path::Path, password: &str) {
    common::init(bin, dir, password);
    let store = Store::open(
        dir,
        &Options::default(),
        Arc::new(bailiwick::clock::SystemClock),
    )
    .expect("open the store");
    store
        .write_blocking(Actor::operator(), |tx| {
            for u in 0..UNITS {
                tx.put_unit(BusinessUnit {
                    id: format!("bu{u:02}"),
                    name: format!("Unit {u}"),
                    primary_contact: None,
                    new_ip_limit: None,
                    email_contact: None,
                    created_at: Timestamp::from_unix_micros(1),
                });
            }
            for i in 0..USERS {
                tx.put_user(user(i));
            }
            Ok(())
        })
        .expect("write the users");
    for batch in 0..ENTRIES / 10_000 {
        store
            .write_blocking(Actor::operator(), move |tx| {
                for j in 0..10_000 {
                    let i = (batch * 10_000 + j) % USERS;
                    tx.log(
                        bailiwick::domain::LogAction::UserUpdate,
                        format!("user user{i:05} (u{i:05})"),
                        "name \"a\" -> \"b\"",
                    );
                }
                Ok(())
            })
            .expect("write the activity");
    }
    store.close();
}

fn serve(bin: &str, dir: &std::path::Path) -> (Child, u16) {
    let mut child = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("BAILIWICK_AUTH_ARGON2_MEMORY_KIB", "64")
        .env("BAILIWICK_AUTH_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = out.lines();
    let port = loop {
        let line = lines
            .next()
            .expect("the daemon said where it listens")
            .unwrap();
        if let Some(rest) = line.strip_prefix("listening on https://127.0.0.1:") {
            break rest.trim_end_matches('/').parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, port)
}

struct Timed {
    name: &'static str,
    samples: Vec<Duration>,
    bytes: usize,
}

async fn time(
    client: &reqwest::Client,
    cookie: &str,
    name: &'static str,
    paths: &mut dyn FnMut() -> String,
    n: usize,
) -> Timed {
    let mut samples = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n + 20 {
        let path = paths();
        let start = Instant::now();
        let res = client
            .get(format!("https://localhost{path}"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{path}: {}", res.status());
        let body = res.bytes().await.unwrap();
        // The first 20 warm the connection and caches.
        if i >= 20 {
            samples.push(start.elapsed());
        }
        bytes = body.len();
    }
    samples.sort();
    Timed {
        name,
        samples,
        bytes,
    }
}

fn main() {
    bailiwick::tls::install_default_provider();
    let a = args();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let password = "Bench-Password-42";
    let t = Instant::now();
    // The store blocks on its writer: built before any runtime exists.
    build(&a.bin, &dir, password);
    eprintln!(
        "fixture: {USERS} users, {ENTRIES} activity entries in {:.1?}",
        t.elapsed()
    );
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(measure(&a, &dir, password));
}

async fn measure(a: &Args, dir: &std::path::Path, password: &str) {
    let (mut child, port) = serve(&a.bin, dir);
    let cert = std::fs::read(dir.join("tls/cert.pem")).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&cert).unwrap()])
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("https://localhost:{port}");
    // Every entry in a segment before the first page is timed.
    loop {
        let m = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if m.lines().any(|l| l == "bailiwick_activity_outbox_depth 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = client
        .post(format!("{base}/ui/login"))
        .form(&[("login", "admin"), ("password", password)])
        .send()
        .await
        .unwrap();
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("signed in")
        .to_owned();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&cert).unwrap()])
        .resolve("localhost", ([127, 0, 0, 1], port).into())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |p: &'static str| move || format!(":{port}{p}");
    let mut rng = Rng::new(7);
    let mut user_page = move || format!(":{port}/ui/users/u{:05}", rng.below(USERS));
    let n = a.requests;
    let runs = [
        time(
            &client,
            &cookie,
            "/healthz (baseline)",
            &mut get("/healthz"),
            n,
        )
        .await,
        time(&client, &cookie, "/ui/users", &mut get("/ui/users"), n).await,
        time(
            &client,
            &cookie,
            "/ui/activity",
            &mut get("/ui/activity"),
            n,
        )
        .await,
        time(&client, &cookie, "/ui/users/{id}", &mut user_page, n).await,
    ];
    let css_path = {
        let page = client
            .get(format!("{base}/ui/users"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("/ui/static/").expect("a stylesheet");
        let end = start + page[start..].find('"').unwrap();
        page[start..end].to_owned()
    };
    let css = client
        .get(format!("{base}{css_path}"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    let base_p99 = percentile(&runs[0].samples, 0.99);
    println!("| page | p50 | p99 | p99 ÷ baseline p99 | HTML + CSS |");
    println!("|---|---|---|---|---|");
    for r in &runs {
        let (p50, p99) = (percentile(&r.samples, 0.5), percentile(&r.samples, 0.99));
        println!(
            "| {} | {:.2} ms | {:.2} ms | {:.1}× | {:.1} KB |",
            r.name,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            p99.as_secs_f64() / base_p99.as_secs_f64(),
            (r.bytes + css) as f64 / 1024.0,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}
