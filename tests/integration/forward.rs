//! The activity log leaves the box (R11.3 entries, forwarded): to the
//! journal's native socket and to a syslog collector over UDP and TCP, at
//! least once, resuming after a restart and after the collector was down.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::api::sign_in;
use crate::common::*;

/// Long enough for a slow CI machine; the tests never wait it out unless
/// something is wrong.
const PATIENCE: Duration = Duration::from_secs(30);

fn journal_start(socket: &Path) -> Start {
    fast_logins()
        .env("BAILIWICK_ACTIVITY_FORWARD", "journal")
        .env(
            "BAILIWICK_ACTIVITY_JOURNAL_SOCKET",
            socket.to_str().unwrap(),
        )
}

/// Parses one native journal datagram into its fields.
fn fields(d: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = d;
    while !rest.is_empty() {
        let nl = rest.iter().position(|&b| b == b'\n').unwrap();
        let line = &rest[..nl];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            out.insert(
                String::from_utf8_lossy(&line[..eq]).into_owned(),
                String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
            );
            rest = &rest[nl + 1..];
        } else {
            let key = String::from_utf8_lossy(line).into_owned();
            let len = u64::from_le_bytes(rest[nl + 1..nl + 9].try_into().unwrap()) as usize;
            let value = &rest[nl + 9..nl + 9 + len];
            out.insert(key, String::from_utf8_lossy(value).into_owned());
            rest = &rest[nl + 9 + len + 1..];
        }
    }
    out
}

/// Receives journal datagrams until one has `BAILIWICK_SEQ` ≥ `until`.
fn receive_until(socket: &UnixDatagram, until: u64) -> Vec<BTreeMap<String, String>> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    while Instant::now() < deadline {
        if let Ok(n) = socket.recv(&mut buf) {
            let f = fields(&buf[..n]);
            let seq: u64 = f["BAILIWICK_SEQ"].parse().unwrap();
            got.push(f);
            if seq >= until {
                return got;
            }
        }
    }
    panic!("no entry {until} within {PATIENCE:?}; got {got:?}");
}

fn seqs(got: &[BTreeMap<String, String>]) -> Vec<u64> {
    got.iter()
        .map(|f| f["BAILIWICK_SEQ"].parse().unwrap())
        .collect()
}

/// Newest sequence number in the log, from the API.
async fn newest_seq(api: &crate::common::api::Api<'_>) -> u64 {
    let (_, page) = api.get("/api/v1/activity?limit=1").await;
    page["items"][0]["seq"].as_u64().unwrap()
}

#[test]
fn r11_3_entries_reach_the_journal_once_durable_and_resume_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let sock_path = dir.path().join("journal.sock");
    let journal = UnixDatagram::bind(&sock_path).unwrap();

    let d = Daemon::start_with(&data, journal_start(&sock_path));
    let last = rt().block_on(async {
        let api = sign_in(&d, "boss").await;
        api.create_user("carol", "reader", None).await;
        newest_seq(&api).await
    });
    let first_run = receive_until(&journal, last);
    // Every entry from the first, in order, none twice.
    assert_eq!(seqs(&first_run), (1..=last).collect::<Vec<_>>());
    let created = first_run
        .iter()
        .find(|f| {
            f.get("BAILIWICK_TARGET")
                .is_some_and(|t| t.contains("carol"))
        })
        .expect("the user creation is forwarded");
    assert_eq!(created["SYSLOG_IDENTIFIER"], "bailiwick-audit");
    assert_eq!(created["BAILIWICK_ACTOR_LOGIN"], "boss");
    let message: serde_json::Value = serde_json::from_str(&created["MESSAGE"]).unwrap();
    assert_eq!(
        message["seq"].as_u64().unwrap().to_string(),
        created["BAILIWICK_SEQ"]
    );
    d.stop();

    // Down while the daemon writes: the entries wait, then all arrive.
    drop(journal);
    std::fs::remove_file(&sock_path).unwrap();
    let d = Daemon::start_with(&data, journal_start(&sock_path));
    let last = rt().block_on(async {
        let api = sign_in(&d, "boss").await;
        api.create_user("dave", "reader", None).await;
        newest_seq(&api).await
    });
    // Let the forwarder find the socket missing at least once.
    std::thread::sleep(Duration::from_millis(1500));
    let journal = UnixDatagram::bind(&sock_path).unwrap();
    let second_run = receive_until(&journal, last);
    let second = seqs(&second_run);
    // It resumed where it stopped: nothing from the first run again, and
    // every new entry, in order.
    assert_eq!(second.first().copied(), Some(first_run.len() as u64 + 1));
    assert_eq!(*second.last().unwrap(), last);
    assert!(second.windows(2).all(|w| w[1] == w[0] + 1), "{second:?}");
    assert!(second_run.iter().any(|f| {
        f.get("BAILIWICK_TARGET")
            .is_some_and(|t| t.contains("dave"))
    }));
    assert_eq!(
        d.metric("bailiwick_activity_forwarded_total"),
        second.len() as u64
    );
    assert!(d.metric("bailiwick_activity_forward_failures_total") >= 1);
    d.stop();
}

/// Reads RFC 5424 messages from one octet-counted TCP stream.
fn octet_counted(stream: &mut impl Read, want: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while out.len() < want {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "collector stream ended after {out:?}");
        buf.extend_from_slice(&chunk[..n]);
        while let Some(sp) = buf.iter().position(|&b| b == b' ') {
            let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
            if buf.len() < sp + 1 + len {
                break;
            }
            out.push(String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap());
            buf.drain(..sp + 1 + len);
        }
    }
    out
}

#[test]
fn r11_3_entries_reach_a_syslog_collector_over_udp_and_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let d = Daemon::start_with(
        &data,
        fast_logins()
            .env("BAILIWICK_ACTIVITY_FORWARD", "syslog")
            .env(
                "BAILIWICK_ACTIVITY_SYSLOG_ADDRESS",
                &format!("udp://{}", udp.local_addr().unwrap()),
            ),
    );
    let last = rt().block_on(async {
        let api = sign_in(&d, "boss").await;
        api.create_user("erin", "reader", None).await;
        newest_seq(&api).await
    });
    udp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut lines = Vec::new();
    for _ in 0..last {
        let n = udp.recv(&mut buf).unwrap();
        lines.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    for (i, line) in lines.iter().enumerate() {
        // <PRI>1 TIME HOST APP PROCID MSGID SD BOM JSON; facility 13 (audit).
        assert!(line.starts_with("<110>1 "), "{line}");
        let parts: Vec<&str> = line.splitn(7, ' ').collect();
        assert_eq!(parts[3], "bailiwick-audit", "{line}");
        let (sd, body) = parts[6].split_once(" \u{feff}").unwrap();
        assert_eq!(sd, format!("[meta sequenceId=\"{}\"]", i + 1), "{line}");
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["seq"], i as u64 + 1);
        assert_eq!(json["time"], parts[1]);
    }
    assert!(lines.iter().any(|l| l.contains("erin")));
    d.stop();

    // TCP: octet-counted frames; the daemon resumes after its saved position.
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let d = Daemon::start_with(
        &data,
        fast_logins()
            .env("BAILIWICK_ACTIVITY_FORWARD", "syslog")
            .env(
                "BAILIWICK_ACTIVITY_SYSLOG_ADDRESS",
                &format!("tcp://{}", tcp.local_addr().unwrap()),
            ),
    );
    let newest = rt().block_on(async {
        let api = sign_in(&d, "boss").await;
        api.create_user("frank", "reader", None).await;
        newest_seq(&api).await
    });
    let (mut stream, _) = tcp.accept().unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let got = octet_counted(&mut stream, (newest - last) as usize);
    let firsts: Vec<u64> = got
        .iter()
        .map(|m| {
            let json = m.split('\u{feff}').nth(1).unwrap();
            serde_json::from_str::<serde_json::Value>(json).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(firsts, (last + 1..=newest).collect::<Vec<_>>());
    assert!(got.iter().any(|m| m.contains("frank")));
    d.stop();
}

/// TLS to a collector whose certificate only `activity.syslog_ca_file`
/// vouches for; without that CA the daemon sends nothing (and keeps it all).
#[test]
fn r11_3_entries_reach_a_syslog_collector_over_tls_it_verifies() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let ca = dir.path().join("collector.pem");
    std::fs::write(&ca, cert.pem()).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap(),
    );
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("tls://localhost:{}", tcp.local_addr().unwrap().port());
    let start = |with_ca: bool| {
        let s = fast_logins()
            .env("BAILIWICK_ACTIVITY_FORWARD", "syslog")
            .env("BAILIWICK_ACTIVITY_SYSLOG_ADDRESS", &address);
        if with_ca {
            s.env("BAILIWICK_ACTIVITY_SYSLOG_CA_FILE", ca.to_str().unwrap())
        } else {
            s
        }
    };

    // Without the CA: the handshake fails on the daemon's side, nothing is
    // sent, and the entries wait.
    let d = Daemon::start_with(&data, start(false));
    let (stream, _) = tcp.accept().unwrap();
    let conn = rustls::ServerConnection::new(config.clone()).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, stream);
    tls.sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tls.read(&mut byte).is_err() || tls.read(&mut byte).unwrap_or(0) == 0,
        "an unverified collector got data"
    );
    d.stop();

    let d = Daemon::start_with(&data, start(true));
    let newest = rt().block_on(async {
        let api = sign_in(&d, "boss").await;
        api.create_user("gina", "reader", None).await;
        newest_seq(&api).await
    });
    let (stream, _) = tcp.accept().unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let conn = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let got = octet_counted(&mut tls, newest as usize);
    // Everything from the first entry: nothing was lost to the refused run.
    assert!(got[0].contains("[meta sequenceId=\"1\"]"), "{}", got[0]);
    assert!(got.iter().any(|m| m.contains("gina")));
    d.stop();
}

#[test]
fn a_syslog_forward_without_a_collector_address_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let err = Daemon::try_start(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_ACTIVITY_FORWARD", "syslog")
            .env("BAILIWICK_ACTIVITY_SYSLOG_ADDRESS", "siem.example:514"),
    )
    .err()
    .expect("refused");
    assert!(
        err.contains("activity.syslog_address") && err.contains("udp://"),
        "{err}"
    );
}
