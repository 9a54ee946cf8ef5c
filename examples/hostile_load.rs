//! A good client's answers while a hostile one holds connections (issue
//! 15, R8.3): first on a quiet daemon (the baseline), then while 1100
//! TLS connections from another address are handshaken and left silent
//! (each reopened as soon as the server closes it), then while 600 CSV
//! downloads of a 100,000-entry activity log are asked for and never
//! read. In each phase it times, from 127.0.0.1: `/healthz` on a fresh
//! connection, a login (default argon2; login limits raised), and
//! `GET /api/v1/activity?limit=1`.
//!
//! ```text
//! cargo build --release --bin bailiwick
//! cargo run --release --example hostile_load -- [--bin target/release/bailiwick] [--rounds 40]
//! ```

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bailiwick::domain::{Actor, LogAction};
use bailiwick::store::{Options, Store};
use common::percentile;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ENTRIES: usize = 100_000;
const SILENT: usize = 1100;
const STALLED: usize = 600;
const PASSWORD: &str = "Bench-Password-42";

struct Args {
    bin: String,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        bin: "target/release/bailiwick".into(),
        rounds: 40,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--bin" => a.bin = v,
            "--rounds" => a.rounds = v.parse().expect("--rounds N"),
            _ => panic!("unknown argument {k}"),
        }
    }
    a
}

/// `bailiwick init`, then the activity log written through the store.
fn build(bin: &str, dir: &std::path::Path) {
    common::init(bin, dir, PASSWORD);
    let store = Store::open(
        dir,
        &Options::default(),
        Arc::new(bailiwick::clock::SystemClock),
    )
    .expect("open the store");
    for batch in 0..ENTRIES / 10_000 {
        store
            .write_blocking(Actor::operator(), move |tx| {
                for j in 0..10_000 {
                    tx.log(
                        LogAction::UserUpdate,
                        format!("user user{:06}", batch * 10_000 + j),
                        format!("name \"{}\" -> \"b\"", "a".repeat(80)),
                    );
                }
                Ok(())
            })
            .expect("write the activity");
    }
    store.close();
}

fn serve(bin: &str, dir: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(bin)
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        // The good client logs in every round: its own login limits would
        // answer 429 before the attacks are measured.
        .env("BAILIWICK_AUTH_RATE_PER_ADDRESS_PER_MINUTE", "1000000")
        .env("BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE", "1000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines
            .next()
            .expect("the daemon said where it listens")
            .unwrap();
        if let Some(rest) = line.strip_prefix("listening on https://127.0.0.1:") {
            break rest.trim_end_matches('/').parse().unwrap();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, ([127, 0, 0, 1], port).into())
}

struct Daemon {
    addr: SocketAddr,
    cert: Vec<u8>,
    tls: tokio_rustls::TlsConnector,
}

impl Daemon {
    fn new(addr: SocketAddr, dir: &std::path::Path) -> Daemon {
        use rustls_pki_types::pem::PemObject;
        let cert = std::fs::read(dir.join("tls/cert.pem")).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls_pki_types::CertificateDer::from_pem_slice(&cert).unwrap())
            .unwrap();
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Daemon {
            addr,
            cert,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    /// A client that opens a new connection for every request.
    fn fresh_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&self.cert).unwrap()])
            .resolve("localhost", self.addr)
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// A handshaken connection from `source` with a small receive buffer,
    /// so that the server's buffers fill when it is not read.
    async fn connect(
        &self,
        source: Ipv4Addr,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.set_recv_buffer_size(4096)?;
        sock.bind((source, 0).into())?;
        let tcp = sock.connect(self.addr).await?;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        self.tls.connect(name, tcp).await
    }
}

async fn token(d: &Daemon, c: &reqwest::Client) -> String {
    let r = c
        .post(d.url("/api/v1/session"))
        .json(&serde_json::json!({"login": "admin", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "login");
    let v: serde_json::Value = r.json().await.unwrap();
    v["token"].as_str().unwrap().to_owned()
}

#[derive(Default)]
struct Phase {
    healthz: Vec<Duration>,
    login: Vec<Duration>,
    query: Vec<Duration>,
    failed: usize,
}

/// The good client's rounds: each a `/healthz`, a login and a query, every
/// one on a new connection.
async fn good_client(d: &Daemon, rounds: usize) -> Phase {
    let c = d.fresh_client();
    let bearer = token(d, &c).await;
    let mut p = Phase::default();
    for _ in 0..rounds {
        let t = Instant::now();
        match c.get(d.url("/healthz")).send().await {
            Ok(r) if r.status() == 200 => p.healthz.push(t.elapsed()),
            _ => p.failed += 1,
        }
        let t = Instant::now();
        let r = c
            .post(d.url("/api/v1/session"))
            .json(&serde_json::json!({"login": "admin", "password": PASSWORD}))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 201 => p.login.push(t.elapsed()),
            _ => p.failed += 1,
        }
        let t = Instant::now();
        let r = c
            .get(d.url("/api/v1/activity?limit=1"))
            .bearer_auth(&bearer)
            .send()
            .await;
        match r {
            Ok(r) if r.status() == 200 => p.query.push(t.elapsed()),
            _ => p.failed += 1,
        }
    }
    p.healthz.sort();
    p.login.sort();
    p.query.sort();
    p
}

/// `SILENT` handshaken connections from 127.0.0.2 that send nothing, each
/// reopened when the server closes it, until the set is dropped. Counts
/// handshakes.
fn silent_flood(d: &Arc<Daemon>, handshakes: &Arc<AtomicUsize>) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..SILENT {
        let (d, handshakes) = (d.clone(), handshakes.clone());
        set.spawn(async move {
            loop {
                match d.connect(Ipv4Addr::new(127, 0, 0, 2)).await {
                    Ok(mut s) => {
                        handshakes.fetch_add(1, Ordering::Relaxed);
                        let mut buf = [0u8; 64];
                        let _ = s.read(&mut buf).await;
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        });
    }
    set
}

/// `STALLED` requests for the activity CSV from 127.0.0.3, each reading
/// only the response's first bytes and then holding the connection until
/// the set is dropped. Counts the downloads admitted.
fn stalled_downloads(
    d: &Arc<Daemon>,
    bearer: &str,
    admitted: &Arc<AtomicUsize>,
) -> tokio::task::JoinSet<()> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..STALLED {
        let (d, admitted) = (d.clone(), admitted.clone());
        let request = format!(
            "GET /api/v1/activity.csv HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {bearer}\r\n\r\n"
        );
        set.spawn(async move {
            let Ok(mut s) = d.connect(Ipv4Addr::new(127, 0, 0, 3)).await else {
                return;
            };
            if s.write_all(request.as_bytes()).await.is_err() {
                return;
            }
            let mut head = [0u8; 12];
            if s.read_exact(&mut head).await.is_ok() && &head[9..12] == b"200" {
                admitted.fetch_add(1, Ordering::Relaxed);
            }
            std::future::pending::<()>().await;
            drop(s);
        });
    }
    set
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(name: &str, p: &Phase, base: &Phase) {
    let cell = |s: &[Duration], b: &[Duration]| {
        let (p50, p99) = (percentile(s, 0.5), percentile(s, 0.99));
        format!(
            "p50 {:.1} ms, p99 {:.1} ms ({:.2}× quiet p99)",
            ms(p50),
            ms(p99),
            p99.as_secs_f64() / percentile(b, 0.99).as_secs_f64()
        )
    };
    println!(
        "| {name} | {} | {} | {} | {} |",
        cell(&p.healthz, &base.healthz),
        cell(&p.login, &base.login),
        cell(&p.query, &base.query),
        p.failed
    );
}

fn main() {
    bailiwick::tls::install_default_provider();
    let a = args();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    build(&a.bin, &dir);
    let (mut child, addr) = serve(&a.bin, &dir);
    let d = Arc::new(Daemon::new(addr, &dir));
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        // Let the activity reach its segments before anything is timed.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let quiet = good_client(&d, a.rounds).await;

        let handshakes = Arc::new(AtomicUsize::new(0));
        let flood = silent_flood(&d, &handshakes);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let silent = good_client(&d, a.rounds).await;
        drop(flood);
        eprintln!(
            "silent flood: {} handshakes completed",
            handshakes.load(Ordering::Relaxed)
        );

        let c = d.fresh_client();
        let bearer = token(&d, &c).await;
        let admitted = Arc::new(AtomicUsize::new(0));
        let stalls = stalled_downloads(&d, &bearer, &admitted);
        tokio::time::sleep(Duration::from_secs(2)).await;
        let stalled = good_client(&d, a.rounds).await;
        drop(stalls);
        eprintln!(
            "stalled downloads: {} of {STALLED} admitted",
            admitted.load(Ordering::Relaxed)
        );

        println!("| phase | /healthz (new connection) | login | activity?limit=1 | failed |");
        println!("|---|---|---|---|---|");
        row("quiet", &quiet, &quiet);
        row(&format!("{SILENT} silent TLS connections"), &silent, &quiet);
        row(
            &format!("{STALLED} stalled CSV downloads"),
            &stalled,
            &quiet,
        );
    });
    let _ = child.kill();
    let _ = child.wait();
}
