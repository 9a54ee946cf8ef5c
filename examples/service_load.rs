//! What a service pays to ask bailiwick, measured against baselines in the
//! same run:
//!
//! 1. `POST /api/v1/authz/check` with a service secret over HTTPS
//!    keep-alive, `--connections` at once, against a bare hyper + rustls
//!    server in this process answering the same POST body with a fixed
//!    answer, on the same loopback, with the same client and certificate;
//!    the two alternate in rounds so that the machine's other load falls on
//!    both.
//! 2. `check-batch` of 100 over the local socket (HTTP/1.1, no TLS, the peer
//!    uid mapped to the service): decisions/s and p99 per batch, against the
//!    same checks asked of the permission index in process.
//! 3. 1000 HTTP Basic `GET /api/v1/me` in a row from one client, with the
//!    default password hashing: every answer, p99 after the first, and how
//!    many `login` entries they wrote.
//!
//! ```text
//! cargo build --release --bin bailiwick
//! cargo run --release --example service_load -- [--bin target/release/bailiwick] [--seconds 3] [--connections 64]
//! ```

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bailiwick::authz::{Action, Resource};
use bailiwick::domain::ipset::IpSet;
use bailiwick::domain::{Access, Actor, AssetGroup, AssetSet, Role, Timestamp, User, UserStatus};
use bailiwick::store::{Options, Store};
use common::{Rng, percentile};

const USERS: usize = 1_000;
const GROUP: &str = "g0000";
/// Alternating rounds of bare, daemon check and daemon health.
const ROUNDS: usize = 5;
const PASSWORD: &str = "Bench-Password-1";

struct Args {
    bin: String,
    seconds: f64,
    connections: usize,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/bailiwick".into(),
        seconds: 3.0,
        connections: 64,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--bin" => a.bin = v,
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            "--connections" => a.connections = v.parse().expect("--connections N"),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

fn user(i: usize) -> User {
    User {
        id: format!("u{i:05}"),
        login: format!("user{i:05}"),
        email: format!("user{i:05}@example.com"),
        first_name: format!("First{i}"),
        last_name: format!("Last{i}"),
        role: Role::Scanner,
        business_unit: None,
        status: UserStatus::Active,
        asset_groups: vec![GROUP.into()],
        permissions: Default::default(),
        access: Access::UiAndApi,
        external_id: None,
        created_at: Timestamp::from_unix_micros(1_700_000_000_000_000),
        last_login_at: None,
        notification_opt_outs: Default::default(),
    }
}

fn build(bin: &str, dir: &Path) {
    common::init(bin, dir, PASSWORD);
    let store = open(dir);
    let admin = store.snapshot().user_by_login("admin").unwrap().id.clone();
    // One group over half of the probed 10.0.0.0/16, held by every user: half
    // the checks are allowed, half denied, as a service would see.
    let half = AssetSet {
        ips: IpSet::parse_list("ips", &["10.0.0.0-10.0.127.255"]).unwrap(),
        ..AssetSet::default()
    };
    store
        .write_blocking(Actor::operator(), |tx| {
            tx.put_assets(half.clone());
            tx.put_asset_group(AssetGroup {
                id: GROUP.into(),
                title: "Half of the lab".into(),
                assets: half,
                business_units: Default::default(),
                owner: admin,
                created_by_role: Role::Manager,
                created_at: Timestamp::from_unix_micros(1_700_000_000_000_000),
            });
            (0..USERS).for_each(|i| tx.put_user(user(i)));
            Ok(())
        })
        .expect("write the users");
    store.close();
}

fn open(dir: &Path) -> Store {
    Store::open(
        dir,
        &Options::default(),
        Arc::new(bailiwick::clock::SystemClock),
    )
    .expect("open the store")
}

fn serve(bin: &str, dir: &Path) -> (Child, u16) {
    // SAFETY: getuid takes nothing, always succeeds and touches no memory.
    let me = unsafe { libc::getuid() };
    let mut child = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("BAILIWICK_SERVER_SOCKET_PEERS", format!("{me}=bench"))
        .env("BAILIWICK_SERVER_MAX_CONNECTIONS_PER_SOURCE", "1024")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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

fn ctl(bin: &str, dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin)
        .args(["ctl", "--json", "--data-dir"])
        .arg(dir)
        .args(args)
        .output()
        .expect("run bailiwick ctl");
    assert!(
        out.status.success(),
        "ctl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Starts [`bare_server`] in a process of its own, as the daemon is, so that
/// both pay the same cross-process wakeups and neither shares the client's
/// runtime; answers its address.
fn spawn_bare_server(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .arg("--bare-server")
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        child,
        line.trim().parse().expect("the bare server's address"),
    )
}

/// A bare HTTPS server: the daemon's certificate, hyper's auto builder, and
/// a fixed answer once the body is read. What TLS, HTTP and a tiny JSON
/// exchange cost with nothing behind them.
async fn bare_server(dir: &Path) -> SocketAddr {
    use http_body_util::BodyExt;
    let (tls, _) = bailiwick::tls::load(&Default::default(), dir, &Default::default())
        .expect("the daemon's certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    |req: hyper::Request<hyper::body::Incoming>| async move {
                        let _ = req.into_body().collect().await;
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(http_body_util::Full::new(bytes::Bytes::from_static(
                                    br#"{"allowed":false,"reason":"ip_not_in_asset_groups"}"#,
                                )))
                                .unwrap(),
                        )
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
            });
        }
    });
    addr
}

/// Requests/s of `connections` keep-alive clients posting `body` to `url`.
async fn hammer(
    cert: &[u8],
    url: &str,
    secret: &str,
    body: &str,
    connections: usize,
    seconds: f64,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    let base = url
        .split("/api/")
        .next()
        .unwrap_or(url)
        .split("/healthz")
        .next()
        .unwrap_or(url);
    for _ in 0..connections {
        let client = common::client(cert, base, IpAddr::V4(Ipv4Addr::LOCALHOST));
        let (done, stop) = (done.clone(), stop.clone());
        let (url, secret, body) = (url.to_owned(), secret.to_owned(), body.to_owned());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let r = if body.is_empty() {
                    client.get(&url).send().await
                } else {
                    client
                        .post(&url)
                        .bearer_auth(&secret)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                }
                .expect("an answer");
                assert!(r.status().is_success(), "{}", r.status());
                let _ = r.bytes().await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Warm the connections before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start_count = done.load(Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    let n = done.load(Ordering::Relaxed) - start_count;
    let took = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    n as f64 / took
}

/// One keep-alive HTTP/1.1 exchange on a unix stream: the body.
fn exchange(s: &mut BufReader<std::os::unix::net::UnixStream>, path: &str, body: &str) -> Vec<u8> {
    write!(
        s.get_mut(),
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut length = 0;
    let mut line = String::new();
    loop {
        line.clear();
        s.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        assert!(!line.is_empty(), "the socket closed");
    }
    let mut out = vec![0; length];
    s.read_exact(&mut out).unwrap();
    out
}

fn batch_body(rng: &mut Rng) -> (String, Vec<(String, IpAddr)>) {
    let checks: Vec<(String, IpAddr)> = (0..100)
        .map(|_| {
            let u = format!("u{:05}", rng.below(USERS));
            let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | rng.below(1 << 16) as u32));
            (u, ip)
        })
        .collect();
    let body = serde_json::to_string(
        &checks
            .iter()
            .map(|(u, ip)| serde_json::json!({"user": u, "action": "scan", "resource": {"ip": ip.to_string()}}))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    (body, checks)
}

fn main() {
    bailiwick::tls::install_default_provider();
    if let Some(dir) = std::env::args()
        .nth(2)
        .filter(|_| std::env::args().nth(1).as_deref() == Some("--bare-server"))
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            println!("{}", bare_server(Path::new(&dir)).await);
            std::future::pending::<()>().await
        });
        return;
    }
    let a = args();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    build(&a.bin, &dir);
    let (mut child, port) = serve(&a.bin, &dir);
    let secret = ctl(
        &a.bin,
        &dir,
        &["services", "add", "bench", "--scopes", "check"],
    )["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let cert = std::fs::read(dir.join("tls/cert.pem")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // 1. Single checks over HTTPS with a service secret, against bare hyper.
    let body = r#"{"user":"u00007","action":"scan","resource":{"ip":"10.0.3.4"}}"#;
    let (mut daemon_rps, mut bare_rps, mut health_rps) = (Vec::new(), Vec::new(), Vec::new());
    rt.block_on(async {
        let (mut bare_child, bare) = spawn_bare_server(&dir);
        let bare_url = format!("https://localhost:{}/api/v1/authz/check", bare.port());
        let daemon_url = format!("https://localhost:{port}/api/v1/authz/check");
        let health_url = format!("https://localhost:{port}/healthz");
        for _ in 0..ROUNDS {
            bare_rps.push(hammer(&cert, &bare_url, &secret, body, a.connections, a.seconds).await);
            daemon_rps
                .push(hammer(&cert, &daemon_url, &secret, body, a.connections, a.seconds).await);
            health_rps
                .push(hammer(&cert, &health_url, &secret, "", a.connections, a.seconds).await);
        }
        let _ = bare_child.kill();
        let _ = bare_child.wait();
    });
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    // The ratio of each round to the bare run just before it, then the
    // median: the machine's other load moves whole rounds, not one side.
    let ratio = |v: &[f64]| {
        let mut r: Vec<f64> = v.iter().zip(&bare_rps).map(|(d, b)| d / b).collect();
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    };
    println!(
        "check over HTTPS, service secret, {} connections: daemon {:.0}/s {:?}, bare hyper+rustls {:.0}/s {:?}, median ratio of {ROUNDS} rounds {:.2}",
        a.connections,
        mean(&daemon_rps),
        daemon_rps.iter().map(|r| r.round()).collect::<Vec<_>>(),
        mean(&bare_rps),
        bare_rps.iter().map(|r| r.round()).collect::<Vec<_>>(),
        ratio(&daemon_rps)
    );
    println!(
        "GET /healthz on the daemon (its connection handling and middleware, no handler work): {:.0}/s {:?}, median ratio to bare {:.2}",
        mean(&health_rps),
        health_rps.iter().map(|r| r.round()).collect::<Vec<_>>(),
        ratio(&health_rps)
    );

    // 2. check-batch of 100 over the local socket, two clients (the cores).
    let socket = dir.join("api.sock");
    let mut rng = Rng::new(7);
    let bodies: Vec<(String, Vec<(String, IpAddr)>)> =
        (0..64).map(|_| batch_body(&mut rng)).collect();
    let bodies = Arc::new(bodies);
    let stop_at = Instant::now() + Duration::from_secs_f64(a.seconds * 2.0);
    let mut samples: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let (bodies, socket) = (bodies.clone(), socket.clone());
                s.spawn(move || {
                    let mut conn =
                        BufReader::new(std::os::unix::net::UnixStream::connect(&socket).unwrap());
                    let mut out = Vec::new();
                    let mut i = t;
                    while Instant::now() < stop_at {
                        let start = Instant::now();
                        let answer = exchange(
                            &mut conn,
                            "/api/v1/authz/check-batch",
                            &bodies[i % bodies.len()].0,
                        );
                        out.push(start.elapsed());
                        assert!(
                            answer.starts_with(b"[{\"allowed\""),
                            "{}",
                            String::from_utf8_lossy(&answer)
                        );
                        i += 2;
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    samples.sort();
    let socket_decisions = samples.len() as f64 * 100.0 / (a.seconds * 2.0);
    let socket_p99 = percentile(&samples, 0.99);

    // 3. Basic, 1000 in a row, default hashing.
    let (basic, logins) = rt.block_on(async {
        let client = common::client(
            &cert,
            &format!("https://localhost:{port}"),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        );
        let mut times = Vec::new();
        for _ in 0..1000 {
            let start = Instant::now();
            let r = client
                .get(format!("https://localhost:{port}/api/v1/me"))
                .basic_auth("admin", Some(PASSWORD))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "every Basic request is answered");
            let _ = r.bytes().await;
            times.push(start.elapsed());
        }
        let log: serde_json::Value = client
            .get(format!(
                "https://localhost:{port}/api/v1/activity?action=login&details=API"
            ))
            .basic_auth("admin", Some(PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (times, log["items"].as_array().map_or(0, Vec::len))
    });
    let first = basic[0];
    let mut rest = basic[1..].to_vec();
    rest.sort();
    println!(
        "1000 Basic GET /api/v1/me: all 200; first {:.1} ms (one argon2 verification), then p50 {:.2} ms, p99 {:.2} ms; login entries: {logins}",
        first.as_secs_f64() * 1e3,
        percentile(&rest, 0.5).as_secs_f64() * 1e3,
        percentile(&rest, 0.99).as_secs_f64() * 1e3
    );

    stop(&mut child);
    // The same checks in process, on the index the daemon built from the same file.
    let store = open(&dir);
    let authz = bailiwick::authz::Authz::attach(&store);
    let index = authz.snapshot();
    let start = Instant::now();
    let mut n = 0u64;
    let mut allowed = 0u64;
    while start.elapsed() < Duration::from_secs_f64(a.seconds) {
        for (_, checks) in bodies.iter() {
            for (u, ip) in checks {
                let r = Resource {
                    ip: Some(*ip),
                    ..Resource::default()
                };
                allowed += u64::from(index.check(u, Action::Scan, &r).allowed);
                n += 1;
            }
        }
    }
    let in_process = n as f64 / start.elapsed().as_secs_f64();
    store.close();
    println!(
        "check-batch of 100 over the local socket, 2 clients: {socket_decisions:.0} decisions/s, p99 {:.2} ms per batch; in process: {in_process:.0} decisions/s ({:.0} % allowed); socket ÷ in process: {:.4}",
        socket_p99.as_secs_f64() * 1e3,
        allowed as f64 * 100.0 / n as f64,
        socket_decisions / in_process
    );
}

/// Stops the daemon the way an operator does, and waits for it.
fn stop(child: &mut Child) {
    // SAFETY: kill with a valid pid of our own child and a standard signal.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let _ = child.wait();
}
