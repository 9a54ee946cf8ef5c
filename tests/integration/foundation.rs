//! The daemon as an operator meets it: first start, configuration errors,
//! refusals to start on bad data, TLS, limits, shutdown, backup and restore.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::common::api::{code, sign_in};
use crate::common::*;

#[test]
fn first_run_bootstraps_and_prints_a_private_activation_link() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&data);
    let banner = d.banner.join("\n");
    let link_line = d
        .banner
        .iter()
        .find(|l| l.contains("/ui/activation/"))
        .cloned()
        .unwrap_or_else(|| panic!("no activation link in:\n{banner}"));
    assert!(link_line.starts_with("https://"), "{link_line}");
    assert!(banner.contains("Manager login \"admin\""), "{banner}");
    assert!(banner.contains("SHA-256"), "fingerprint printed: {banner}");

    let file = data.join("initial-activation.txt");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains(link_line.trim())
    );
    for private in ["bailiwick.redb", "tls/key.pem", "admin.sock"] {
        let mode = std::fs::metadata(data.join(private))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{private}");
    }
    let mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    let status = d.ctl(&["status"]);
    let out = text(&status);
    assert!(status.status.success(), "{out}");
    assert!(out.contains("subscription: Default"), "{out}");
    assert!(out.contains("users: 1"), "{out}");

    // Never secrets in the logs: the link's token is not in stderr.
    let token = link_line.rsplit('/').next().unwrap().to_owned();
    let (st, stderr) = d.stop();
    assert!(st.success(), "{stderr}");
    assert!(!stderr.contains(&token), "token leaked to logs");

    // A second start finds the subscription and does not bootstrap again.
    let again = Daemon::start(&data);
    assert!(
        !again.banner.iter().any(|l| l.contains("/ui/activation/")),
        "{:?}",
        again.banner
    );
}

#[test]
fn init_creates_an_active_manager_and_refuses_a_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "S3cure-enough\n").unwrap();
    let args = |d: &std::path::Path| {
        vec![
            "init".to_string(),
            "--data-dir".into(),
            d.display().to_string(),
            "--subscription".into(),
            "Acme".into(),
            "--manager-login".into(),
            "jane".into(),
            "--manager-email".into(),
            "jane@acme.example".into(),
            "--password-file".into(),
            pw.display().to_string(),
            "--modules".into(),
            "VM,PC".into(),
        ]
    };
    let a = args(&data);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", text(&out));
    let again = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!again.status.success());
    assert!(
        text(&again).contains("already holds a subscription"),
        "{}",
        text(&again)
    );

    let d = Daemon::start(&data);
    assert!(!d.banner.iter().any(|l| l.contains("/ui/activation/")));
    let status = text(&d.ctl(&["status"]));
    assert!(status.contains("subscription: Acme"), "{status}");
    assert!(status.contains("active_managers: 1"), "{status}");

    // A password the policy refuses changes nothing.
    std::fs::write(&pw, "short\n").unwrap();
    let other = dir.path().join("other");
    let a = args(&other);
    let out = run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("at least 8"), "{}", text(&out));
    assert!(!other.join("bailiwick.redb").exists());
}

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let out = run(&["check-config", "--config", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("lisen"), "{}", text(&out));

    let out = std::process::Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("d"))
        .env("BAILIWICK_AUTH_SESSION_IDLE", "ten minutes")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(
        t.contains("BAILIWICK_AUTH_SESSION_IDLE") && t.contains("ten minutes"),
        "{t}"
    );
    assert!(
        !dir.path().join("d").exists(),
        "nothing created on a config error"
    );

    // All addresses and no public_url: every link would say 0.0.0.0.
    let wild = dir.path().join("wild.toml");
    std::fs::write(&wild, "[server]\nlisten = \"0.0.0.0:9443\"\n").unwrap();
    let out = run(&["check-config", "--config", wild.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("server.public_url"), "{}", text(&out));
    let out = std::process::Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("server.public_url"), "{}", text(&out));
    assert!(!dir.path().join("d").exists(), "nothing created");
    // A flag is the last layer and the file is judged with it: the file's
    // wildcard, replaced by a loopback --listen, needs no public_url.
    let d = Daemon::try_start(
        &dir.path().join("d2"),
        Start::default().arg("--config").arg(wild.to_str().unwrap()),
    )
    .expect("--listen 127.0.0.1:0 overrides the file's wildcard");
    assert!(d.addr.ip().is_loopback());
    d.stop();

    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[server]\nlisten = \"0.0.0.0:9443\"\npublic_url = \"https://box.example:9443\"\n",
    )
    .unwrap();
    let out = run(&["check-config", "--config", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("listen = \"0.0.0.0:9443\""),
        "{}",
        text(&out)
    );
}

/// Issue 20: the package ships man pages and completions made from the
/// same definition that parses the command line, and help speaks in words
/// an operator knows, not rule numbers.
#[test]
fn man_pages_and_completions_are_generated_and_help_has_no_rule_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (man, completions) = (dir.path().join("man"), dir.path().join("completions"));
    for (what, out) in [("man", &man), ("completions", &completions)] {
        let o = run(&["generate", what, "--out", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let page = std::fs::read_to_string(man.join("bailiwick-ctl.1")).unwrap();
    assert!(page.contains(".TH") && page.contains("status"), "{page}");
    assert!(man.join("bailiwick.1").exists() && man.join("bailiwick-serve.1").exists());
    for file in ["bailiwick.bash", "_bailiwick", "bailiwick.fish"] {
        let c = std::fs::read_to_string(completions.join(file)).unwrap();
        assert!(c.contains("check-config"), "{file}: {c}");
    }
    // "R1.4", "R12": an R, a digit, then a dot or another digit.
    let rule_id = |t: &str| {
        t.as_bytes().windows(3).any(|w| {
            w[0] == b'R' && w[1].is_ascii_digit() && (w[2] == b'.' || w[2].is_ascii_digit())
        })
    };
    for args in [
        &["--help"][..],
        &["ctl", "--help"],
        &["ctl", "features", "--help"],
        &["serve", "--help"],
    ] {
        let o = run(args);
        assert!(o.status.success());
        assert!(!rule_id(&text(&o)), "{args:?}: {}", text(&o));
    }
    assert!(rule_id("Operator features (R1.4)."), "the check finds one");
    // A missing directory is made; an unwritable place is a clear error.
    let o = run(&["generate", "man", "--out", "/proc/bailiwick-man"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("cannot write into /proc/bailiwick-man"),
        "{}",
        text(&o)
    );
}

/// Issue item 19: `check-config` printed `metrics.token` in clear.
#[test]
fn check_config_prints_no_secrets_metrics_token_redacted() {
    let token = "s3cret-scrape-token-0123456789";
    let out = std::process::Command::new(BIN)
        .args(["check-config"])
        .env_remove("STATE_DIRECTORY")
        .env("BAILIWICK_METRICS_TOKEN", token)
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains(token), "the token is printed: {t}");
    assert!(t.contains("token = \"<redacted>\""), "{t}");
}

#[test]
fn r13_corrupt_foreign_and_newer_databases_are_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();

    // Garbage where the database should be.
    let data = dir.path().join("garbage");
    std::fs::create_dir_all(&data).unwrap();
    let junk = vec![0x5au8; 64 * 1024];
    std::fs::write(data.join("bailiwick.redb"), &junk).unwrap();
    let err = Daemon::try_start(&data, Start::default())
        .err()
        .expect("refused");
    assert!(err.contains("bailiwick.redb"), "{err}");
    assert!(
        err.contains("not a bailiwick database") || err.contains("damaged"),
        "{err}"
    );
    assert_eq!(std::fs::read(data.join("bailiwick.redb")).unwrap(), junk);

    // A real redb file of another application.
    let data = dir.path().join("foreign");
    std::fs::create_dir_all(&data).unwrap();
    {
        let db = redb::Database::create(data.join("bailiwick.redb")).unwrap();
        let t = db.begin_write().unwrap();
        let def: redb::TableDefinition<&str, &str> = redb::TableDefinition::new("stuff");
        t.open_table(def).unwrap().insert("k", "v").unwrap();
        t.commit().unwrap();
    }
    let err = Daemon::try_start(&data, Start::default())
        .err()
        .expect("refused");
    assert!(err.contains("not a bailiwick database"), "{err}");

    // A database written by a newer bailiwick.
    let data = dir.path().join("newer");
    Daemon::start(&data).stop();
    {
        let db = redb::Database::open(data.join("bailiwick.redb")).unwrap();
        let t = db.begin_write().unwrap();
        let meta: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("meta");
        t.open_table(meta)
            .unwrap()
            .insert("schema_version", 99u32.to_le_bytes().as_slice())
            .unwrap();
        t.commit().unwrap();
    }
    let err = Daemon::try_start(&data, Start::default())
        .err()
        .expect("refused");
    assert!(
        err.contains("newer bailiwick") && err.contains("99"),
        "{err}"
    );

    // A real database damaged in place: header, then body.
    for (name, range) in [("header", 300..4096), ("body", 4096..usize::MAX)] {
        let data = dir.path().join(name);
        Daemon::start(&data).stop();
        let path = data.join("bailiwick.redb");
        let mut bytes = std::fs::read(&path).unwrap();
        let end = range.end.min(bytes.len());
        for b in &mut bytes[range.start..end] {
            *b ^= 0xa5;
        }
        std::fs::write(&path, &bytes).unwrap();
        let err = Daemon::try_start(&data, Start::default())
            .err()
            .expect("refused");
        assert!(
            err.contains("is damaged") && err.contains("bailiwick restore"),
            "{name}: {err}"
        );
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name}: file left as found"
        );
    }

    // Log segments without their database: never start empty over them.
    let data = dir.path().join("orphaned");
    std::fs::create_dir_all(data.join("activity")).unwrap();
    std::fs::write(data.join("activity/00000000000000000001.seg"), b"x").unwrap();
    let err = Daemon::try_start(&data, Start::default())
        .err()
        .expect("refused");
    assert!(err.contains("refusing to start empty"), "{err}");
    assert!(!data.join("bailiwick.redb").exists());
}

#[test]
fn a_second_daemon_on_the_same_data_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Daemon::start(&data);
    let err = Daemon::try_start(&data, Start::default())
        .err()
        .expect("refused");
    assert!(err.contains("in use by another bailiwick process"), "{err}");
    // The first one is unharmed and still owns its admin socket.
    assert!(first.ctl(&["status"]).status.success());
}

/// A busy port stops the start before anything is written: the data
/// directory is not even created, so a retry on another port starts clean.
#[test]
fn a_busy_port_leaves_no_data_directory_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = std::process::Command::new(BIN)
        .args(["serve", "--data-dir"])
        .arg(&data)
        .args(["--listen", &addr])
        .env_remove("STATE_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .envs(fast_env())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("cannot listen"), "{}", text(&out));
    assert!(!data.exists(), "a failed start created {}", data.display());
}

#[test]
fn plain_http_on_the_tls_port_gets_a_clear_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let mut s = TcpStream::connect(d.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("tls_required") && answer.contains("https://"),
        "{answer}"
    );
}

#[test]
fn a_silent_client_is_disconnected_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default().env("BAILIWICK_SERVER_HEADER_TIMEOUT", "1s"),
    );
    let mut s = TcpStream::connect(d.addr).unwrap();
    // Generous bound: the point is that the server closes, not how fast.
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = [0u8; 16];
    let n = s
        .read(&mut buf)
        .expect("server closed the connection instead of waiting forever");
    assert_eq!(n, 0);
}

type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// A TLS connector that trusts only the daemon's certificate.
fn tls_connector(d: &Daemon) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::pem::PemObject;
    let cert =
        rustls_pki_types::CertificateDer::from_pem_file(d.data_dir.join("tls/cert.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(bailiwick::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
}

/// A TLS connection to the daemon that trusts only its certificate.
async fn tls_to(d: &Daemon) -> TlsStream {
    let tcp = tokio::net::TcpStream::connect(d.addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    tls_connector(d).connect(name, tcp).await.unwrap()
}

/// A TLS connection from loopback address `source`, handshaken and then
/// silent; an error when the server closes it before the handshake ends.
async fn handshaken_from(
    addr: std::net::SocketAddr,
    connector: tokio_rustls::TlsConnector,
    source: std::net::Ipv4Addr,
) -> std::io::Result<TlsStream> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind((source, 0).into())?;
    let tcp = sock.connect(addr).await?;
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// Whether the server closes `s` (within a generous bound: the point is
/// that it closes, not how fast).
async fn closed_by_server(s: &mut TlsStream) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(60), s.read(&mut buf)).await;
    matches!(read, Ok(Ok(0)) | Ok(Err(_)))
}

/// Issue 15 item 1: 1024 handshaken, silent connections from one address
/// used to take every slot, and with them `/healthz` for everyone else.
#[test]
fn silent_tls_connections_from_one_address_do_not_lock_others_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        // Long enough that all 1100 are tried while the first still wait.
        Start::default().env("BAILIWICK_SERVER_HEADER_TIMEOUT", "10s"),
    );
    rt().block_on(async {
        let connector = tls_connector(&d);
        let attacker = std::net::Ipv4Addr::new(127, 0, 0, 2);
        let mut tries = tokio::task::JoinSet::new();
        for _ in 0..1100 {
            tries.spawn(handshaken_from(d.addr, connector.clone(), attacker));
        }
        let mut held = Vec::new();
        while let Some(r) = tries.join_next().await {
            if let Ok(s) = r.unwrap() {
                held.push(s);
            }
        }
        assert_eq!(
            held.len(),
            64,
            "server.max_connections_per_source (default 64) holds for one address"
        );
        // Another address is served while the attacker holds its share.
        for _ in 0..5 {
            let r = d.client().get(d.url("/healthz")).send().await.unwrap();
            assert_eq!(r.status(), 200);
        }
        // The silent ones are closed once the header deadline passes.
        for s in &mut held {
            assert!(closed_by_server(s).await, "a silent connection stays open");
        }
    });
}

/// At `server.max_connections` the server stops accepting: a new client
/// waits in the backlog and is served when a slot frees, instead of being
/// accepted and dropped.
#[test]
fn at_the_connection_limit_a_new_client_waits_instead_of_being_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_SERVER_HEADER_TIMEOUT", "3s")
            .env("BAILIWICK_SERVER_MAX_CONNECTIONS", "100"),
    );
    rt().block_on(async {
        let connector = tls_connector(&d);
        let handshaken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tries = tokio::task::JoinSet::new();
        // Two addresses of 64 each: 128 silent clients for 100 slots.
        for source in [2, 3] {
            for _ in 0..64 {
                let (connector, handshaken) = (connector.clone(), handshaken.clone());
                tries.spawn(async move {
                    let s = handshaken_from(d.addr, connector, [127, 0, 0, source].into()).await;
                    if s.is_ok() {
                        handshaken.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    s
                });
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while handshaken.load(std::sync::atomic::Ordering::SeqCst) < 100 {
            assert!(
                std::time::Instant::now() < deadline,
                "the slots never filled"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Every slot is taken: this client waits, then is served.
        let r = d.client().get(d.url("/healthz")).send().await;
        assert_eq!(r.map(|r| r.status()).ok(), Some(reqwest::StatusCode::OK));
        tries.abort_all();
    });
}

#[test]
fn a_keep_alive_connection_lives_while_used_and_closes_when_idle() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default().env("BAILIWICK_SERVER_IDLE_TIMEOUT", "2s"),
    );
    rt().block_on(async {
        let mut s = tls_to(&d).await;
        // Used every second for five: never idle for the 2 s it may be.
        for i in 0..5 {
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]);
            assert!(head.starts_with("HTTP/1.1 200"), "request {i}: {head}");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        // Then left alone, the server closes it (generous bound: the point
        // is that it closes, not how fast).
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf)).await;
        let closed = matches!(read, Ok(Ok(0)) | Ok(Err(_)));
        assert!(closed, "an idle connection is closed: {read:?}");
    });
}

#[test]
fn metrics_on_their_own_listener_leave_the_api_port() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_METRICS_LISTEN", "127.0.0.1:0")
            .env("BAILIWICK_METRICS_TOKEN", "scrape-me"),
    );
    let at = d
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("metrics on https://"))
        .expect("the metrics listener is announced")
        .trim()
        .to_owned();
    assert_ne!(at, d.addr.to_string());
    let c = d.client();
    rt().block_on(async {
        // The API's port no longer answers /metrics, token or not.
        let r = c
            .get(d.url("/metrics"))
            .bearer_auth("scrape-me")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let p: serde_json::Value = r.json().await.unwrap();
        assert!(
            p["detail"].as_str().unwrap().contains("metrics.listen"),
            "{p}"
        );

        let own = |path: &str| format!("https://{at}{path}");
        let r = c.get(own("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 401, "the token still guards it");
        let r = c
            .get(own("/metrics"))
            .bearer_auth("scrape-me")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-request-id"));
        let m = r.text().await.unwrap();
        assert!(m.contains("bailiwick_build_info{"), "{m}");
        // Nothing of the API is reachable there.
        for path in ["/healthz", "/api/v1/me", "/console/"] {
            let r = c.get(own(path)).send().await.unwrap();
            assert_eq!(r.status(), 404, "{path}");
        }
    });
}

/// Issue 20: the API reference readable on an air-gapped appliance, from
/// the same document as openapi.json.
#[test]
fn api_docs_are_one_page_with_every_operation_and_nothing_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let c = d.client();
    rt().block_on(async {
        let doc: serde_json::Value = c
            .get(d.url("/api/v1/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let r = c.get(d.url("/api/docs")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains("script-src 'none'"), "{csp}");
        let html = r.text().await.unwrap();
        let mut operations = 0;
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for method in ops.as_object().unwrap().keys() {
                let heading = format!("<code>{} {path}</code>", method.to_uppercase());
                assert!(html.contains(&heading), "{heading} missing");
                operations += 1;
            }
        }
        assert!(operations > 60, "{operations}");
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("id=\"schema-{name}\"")), "{name}");
        }
        // Every link and stylesheet is on this origin.
        for attr in ["src=\"", "href=\""] {
            for part in html.split(attr).skip(1) {
                assert!(
                    part.starts_with('/') || part.starts_with('#'),
                    "{attr}{}",
                    &part[..part.len().min(60)]
                );
            }
        }
    });
}

#[test]
fn operations_endpoints_answer_and_errors_are_problem_json() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let c = d.client();
    rt().block_on(async {
        let r = c.get(d.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let r = c.get(d.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["storage"], true);

        let r = c.get(d.url("/nope")).send().await.unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["code"], "not_found");
        assert_eq!(p["status"], 404);

        let r = c.delete(d.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), 405);
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["code"], "method_not_allowed");

        let r = c.get(d.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let m = r.text().await.unwrap();
        assert!(
            m.contains(
                "bailiwick_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"2xx\"} 1"
            ),
            "{m}"
        );
        assert!(
            m.contains("bailiwick_logins_total{result=\"failed\"}"),
            "{m}"
        );
        // The series every dashboard expects of a daemon.
        for name in [
            "process_resident_memory_bytes ",
            "process_cpu_seconds_total ",
            "process_open_fds ",
            "process_start_time_seconds ",
            &format!(
                "bailiwick_build_info{{version=\"{}\"}} 1",
                env!("CARGO_PKG_VERSION")
            ),
        ] {
            assert!(m.lines().any(|l| l.starts_with(name)), "{name}: {m}");
        }

        let r = c.get(d.url("/api/v1/openapi.json")).send().await.unwrap();
        let doc: serde_json::Value = r.json().await.unwrap();
        for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
            assert!(
                doc["paths"][path].is_object(),
                "{path} missing from OpenAPI"
            );
        }
        // Every `{name}` of a path is declared as a path parameter of every
        // operation on it: a client generated from the document needs it.
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let names: Vec<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|p| p.split('}').next())
                .collect();
            for (method, op) in ops.as_object().unwrap() {
                for name in &names {
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == *name && p["in"] == "path")
                    });
                    assert!(
                        declared,
                        "{method} {path}: path parameter {name} is not declared"
                    );
                }
            }
        }
    });
}

#[test]
fn undecodable_paths_and_invented_methods_get_problems_and_add_no_series() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        // A path parameter that is not UTF-8: a validation problem.
        let (s, v) = admin.get("/api/v1/users/%ff%fe").await;
        assert_eq!(s, 400, "{v}");
        assert_eq!(code(&v), "validation", "{v}");

        // Each request a new invented method, without credentials: refused
        // as problem+json, and counted under one label, so that /metrics
        // (and the daemon's memory) does not grow with them.
        let c = d.client();
        let metrics = || async {
            let r = c.get(d.url("/metrics")).send().await.unwrap();
            r.text().await.unwrap()
        };
        let before = metrics().await;
        for i in 0..300 {
            let method = reqwest::Method::from_bytes(format!("X{i:0>60}").as_bytes()).unwrap();
            let r = c
                .request(method, d.url("/api/v1/users"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_client_error(), "{}", r.status());
            assert_eq!(r.headers()["content-type"], "application/problem+json");
        }
        let after = metrics().await;
        assert!(
            !after.contains("X0000"),
            "an invented method became a label"
        );
        assert!(after.contains("method=\"OTHER\""), "{after}");
        assert!(
            after.len() < before.len() + 4096,
            "/metrics grew from {} to {} bytes",
            before.len(),
            after.len()
        );
    });
}

/// Every answer carries `X-Request-Id` and every problem its `request_id`;
/// a caller's plain id is kept, anything else replaced; with
/// `server.access_log` each request is one log line with the same id, so
/// a client's report and the operator's log meet.
#[test]
fn request_ids_tie_answers_problems_and_the_access_log_together() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_SERVER_ACCESS_LOG", "true")
            .env("BAILIWICK_LOG_FORMAT", "json"),
    );
    rt().block_on(async {
        let c = d.client();
        let r = c.get(d.url("/healthz")).send().await.unwrap();
        let made = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_eq!(made.len(), 32, "{made}");
        let r = c
            .get(d.url("/api/v1/users/someone"))
            .header("x-request-id", "trace-7:a.b")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["x-request-id"], "trace-7:a.b");
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (p["code"].as_str(), p["request_id"].as_str()),
            (Some("unauthenticated"), Some("trace-7:a.b"))
        );
        // An id that could carry text into the log is not kept.
        let r = c
            .get(d.url("/healthz"))
            .header("x-request-id", "a b\"c")
            .send()
            .await
            .unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap();
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    });
    let (st, stderr) = d.stop();
    assert!(st.success(), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("\"trace-7:a.b\""))
        .unwrap_or_else(|| panic!("no access line for trace-7:a.b in:\n{stderr}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["target"], "bailiwick::access", "{v}");
    assert_eq!(
        (&v["method"], &v["route"], &v["status"], &v["peer"]),
        (
            &serde_json::json!("GET"),
            &serde_json::json!("/api/v1/users/{id}"),
            &serde_json::json!(401),
            &serde_json::json!("127.0.0.1")
        ),
        "{v}"
    );
    assert!(v["duration_ms"].as_f64().is_some(), "{v}");
    assert!(stderr.contains(&format!("\"request_id\":\"{}\"", "trace-7:a.b")));
}

#[test]
fn oversized_body_gets_413_payload_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default().env("BAILIWICK_SERVER_MAX_BODY", "4KiB"),
    );
    let c = d.client();
    rt().block_on(async {
        let r = c
            .post(d.url("/api/v1/session"))
            .header("content-type", "application/json")
            .body(vec![b' '; 64 * 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 413);
        let p: serde_json::Value = r.json().await.unwrap();
        assert_eq!(p["code"], "payload_too_large");
    });
}

#[test]
fn metrics_token_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default().env("BAILIWICK_METRICS_TOKEN", "m3tr1cs"),
    );
    let c = d.client();
    rt().block_on(async {
        let r = c.get(d.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c
            .get(d.url("/metrics"))
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = c
            .get(d.url("/metrics"))
            .bearer_auth("m3tr1cs")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
}

#[test]
fn sigterm_stops_cleanly_and_storage_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&data);
    assert!(
        d.ctl(&["features", "enable", "kb_only_role"])
            .status
            .success()
    );
    let (status, err) = d.stop();
    assert!(status.success(), "{err}");
    assert!(err.contains("stopped cleanly"), "{err}");
    assert!(!data.join("admin.sock").exists(), "socket removed");
    let d = Daemon::start(&data);
    let list = text(&d.ctl(&["features", "list"]));
    assert!(
        list.lines()
            .any(|l| l.starts_with("kb_only_role") && l.ends_with("enabled")),
        "{list}"
    );
}

#[test]
fn sighup_reloads_the_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let write_pair = |name: &str| {
        let ck =
            rcgen::generate_simple_self_signed(vec!["localhost".to_string(), name.to_string()])
                .unwrap();
        std::fs::write(&cert, ck.cert.pem()).unwrap();
        std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    };
    write_pair("one.example");
    let d = Daemon::start_with(
        &data,
        Start::default()
            .env("BAILIWICK_TLS_CERT", cert.to_str().unwrap())
            .env("BAILIWICK_TLS_KEY", key.to_str().unwrap()),
    );
    let before = text(&d.ctl(&["--json", "status"]));
    write_pair("two.example");
    d.signal(libc::SIGHUP);
    let mut after = before.clone();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        after = text(&d.ctl(&["--json", "status"]));
        if after != before && after.contains("tls_fingerprint") {
            let fp = |s: &str| {
                let v: serde_json::Value = serde_json::from_str(s).unwrap();
                v["tls_fingerprint"].as_str().unwrap().to_owned()
            };
            if fp(&after) != fp(&before) {
                break;
            }
        }
    }
    let fp = |s: &str| {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["tls_fingerprint"].as_str().unwrap().to_owned()
    };
    assert_ne!(fp(&before), fp(&after), "fingerprint changed after SIGHUP");
    // ctl status names what the certificate in force is valid for.
    let names = |s: &str| {
        let v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["tls_names"].clone()
    };
    assert_eq!(
        names(&before),
        serde_json::json!(["localhost", "one.example"])
    );
    assert_eq!(
        names(&after),
        serde_json::json!(["localhost", "two.example"])
    );
    let human = text(&d.ctl(&["status"]));
    assert!(
        human.contains("two.example") && human.contains("tls_expires_at"),
        "{human}"
    );
    // A broken file on reload keeps the old certificate in force.
    std::fs::write(&cert, "garbage").unwrap();
    d.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fp(&text(&d.ctl(&["--json", "status"]))), fp(&after));
}

fn scheduled_backups(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        let n = p.file_name().unwrap().to_string_lossy();
        n.starts_with("bailiwick-2") && n.ends_with(".redb")
    });
    v.sort();
    v
}

#[test]
fn scheduled_backups_are_written_pruned_and_each_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backups = data.join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    // An operator's own file in the same directory is never pruned.
    std::fs::write(backups.join("keep-me.redb"), b"mine").unwrap();
    let d = Daemon::start_with(
        &data,
        Start::default()
            .env("BAILIWICK_BACKUP_SCHEDULE", "1s")
            .env("BAILIWICK_BACKUP_KEEP", "2"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while d.metric("bailiwick_backups_total") < 3 {
        assert!(std::time::Instant::now() < deadline, "{}", d.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(d.metric("bailiwick_backup_last_success_timestamp_seconds") > 0);
    let kept = scheduled_backups(&backups);
    assert!((1..=2).contains(&kept.len()), "{kept:?}");
    assert!(backups.join("keep-me.redb").exists());
    let newest = kept.last().unwrap().to_str().unwrap().to_owned();

    // --verify checks a file without a daemon and without changing it.
    let before = std::fs::read(&newest).unwrap();
    let v = run(&["ctl", "--json", "backup", "--verify", &newest]);
    assert!(v.status.success(), "{}", text(&v));
    let j: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert!(j["records"].as_u64() > Some(0), "{j}");
    assert!(j["activity_entries"].as_u64() > Some(0), "{j}");
    assert_eq!(std::fs::read(&newest).unwrap(), before);

    // A damaged, a cut short and a foreign file are each refused by name.
    let bad = dir.path().join("bad.redb");
    let mut flipped = before.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0x5a;
    }
    for (what, bytes) in [
        ("damaged", flipped),
        ("cut short", before[..before.len() / 3].to_vec()),
        ("foreign", b"not a database at all".to_vec()),
    ] {
        std::fs::write(&bad, &bytes).unwrap();
        let v = run(&["ctl", "backup", "--verify", bad.to_str().unwrap()]);
        assert!(!v.status.success(), "{what}: {}", text(&v));
        assert!(text(&v).contains("bad.redb"), "{what}: {}", text(&v));
    }
    d.stop();

    // A directory that cannot be written: counted and logged, the daemon
    // serves on.
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, b"x").unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data2"),
        Start::default().env("BAILIWICK_BACKUP_SCHEDULE", "1s").env(
            "BAILIWICK_BACKUP_DIR",
            blocked.join("backups").to_str().unwrap(),
        ),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while d.metric("bailiwick_backup_failures_total") < 1 {
        assert!(std::time::Instant::now() < deadline, "{}", d.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        d.stderr().contains("scheduled backup failed"),
        "{}",
        d.stderr()
    );
    d.stop();
}

#[test]
fn backup_under_write_load_restores_to_a_consistent_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&data);
    // Writers flip a feature while the backup is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|i| {
            let stop = stop.clone();
            let data = data.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let verb = if (n + i) % 2 == 0 {
                        "enable"
                    } else {
                        "disable"
                    };
                    assert!(
                        ctl(&data, &["features", verb, "admins_manage_admins"])
                            .status
                            .success()
                    );
                    n += 1;
                }
                n
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let out = dir.path().join("backup.redb");
    let b = d.ctl(&["--json", "backup", "--out", out.to_str().unwrap()]);
    assert!(b.status.success(), "{}", text(&b));
    // --json for scripts, as everywhere ctl prints.
    let v: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    assert_eq!(v["out"], out.to_str().unwrap());
    assert!(
        v["bytes"].as_u64() > Some(0) && v["records"].as_u64() > Some(0),
        "{v}"
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let writes: usize = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(writes > 0);
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Refuses to overwrite.
    assert!(
        !d.ctl(&["backup", "--out", out.to_str().unwrap()])
            .status
            .success()
    );
    drop(d);

    let restored = dir.path().join("restored");
    let r = restore(&out, &restored);
    assert!(r.status.success(), "{}", text(&r));
    // Restoring over a database is refused.
    let again = restore(&out, &restored);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("move it away first"),
        "{}",
        text(&again)
    );

    // The activity log came along, cut where the database's copy ends.
    let v = run(&["log", "verify", "--data-dir", restored.to_str().unwrap()]);
    assert!(v.status.success(), "{}", text(&v));

    let d2 = Daemon::start(&restored);
    let status = text(&d2.ctl(&["status"]));
    assert!(status.contains("subscription: Default"), "{status}");
    assert!(status.contains("users: 1"), "{status}");
    let (code, _) = d2.stop();
    assert!(code.success());
    // After the restored outbox is drained, the log holds every entry of
    // the restored database once: sequence numbers 1..=n without a gap.
    let e = run(&["log", "export", "--data-dir", restored.to_str().unwrap()]);
    assert!(e.status.success(), "{}", text(&e));
    let seqs: Vec<u64> = String::from_utf8_lossy(&e.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert!(seqs.len() > 1, "the feature switches were logged");
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());

    // A damaged backup is refused and leaves no database behind.
    let bad = dir.path().join("bad.redb");
    std::fs::write(&bad, vec![7u8; 8192]).unwrap();
    let target = dir.path().join("from-bad");
    let r = restore(&bad, &target);
    assert!(!r.status.success());
    assert!(
        text(&r).contains("not a usable bailiwick backup"),
        "{}",
        text(&r)
    );
    assert!(!target.join("bailiwick.redb").exists());
}

#[test]
fn operator_features_are_switched_through_ctl_only() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let out = d.ctl(&["features", "enable", "no_such_feature"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("features are primary_contact_exclusive"),
        "{}",
        text(&out)
    );
    let out = d.ctl(&["subscription", "set", "--modules", "VM,XX"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("XX"), "{}", text(&out));
    let out = d.ctl(&[
        "subscription",
        "set",
        "--service-type",
        "consultant",
        "--modules",
        "VM,PC",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let show = text(&d.ctl(&["--json", "subscription", "show"]));
    assert!(
        show.contains("\"consultant\"") && show.contains("\"PC\""),
        "{show}"
    );
}

#[test]
fn ready_notification_is_sent_to_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("notify");
    let listener = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    listener
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut cmd = command(&dir.path().join("data"), &Start::default());
    cmd.env("NOTIFY_SOCKET", &sock)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut buf = [0u8; 64];
    let n = listener.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    // SAFETY: kill takes no pointers; the pid is our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let n = listener.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STOPPING=1");
    assert!(child.wait().unwrap().success());
}
