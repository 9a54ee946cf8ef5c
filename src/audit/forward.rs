//! The forwarder: sends each activity entry, once durable in its segment,
//! to the journal or a syslog collector, so the trail also lives off the
//! appliance (a SIEM).
//!
//! The one thing to know: it reads the segment files, never the outbox or
//! the store, on a thread of its own. A slow or absent collector therefore
//! holds up nothing but itself. Delivery is at least once: the sequence
//! number of the last entry sent is kept in `<data>/audit-forward.seq`
//! after each batch, and a restart sends again from there; every line
//! carries its sequence number so the collector can drop repeats.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::ActivityLog;
use super::format::{self, Item, Records};
use super::query::EntryView;
use crate::config::{ActivityConfig, Forward};
use crate::metrics::Metrics;

/// The file holding the last forwarded sequence number.
pub const CURSOR_FILE: &str = "audit-forward.seq";
/// The journal's native socket.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// Entries read per pass; the cursor is saved after each.
const BATCH: usize = 512;
/// Also look this often, in case a wake was missed.
const TICK: Duration = Duration::from_secs(1);
/// Longest wait between tries while the collector fails.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Time to connect and to write to a TCP or TLS collector.
const NET_TIMEOUT: Duration = Duration::from_secs(10);
/// Syslog facility 13, "log audit", severity 6, informational.
const SYSLOG_PRI: u8 = 13 * 8 + 6;
/// Identifies the entries in the journal and in syslog.
pub const IDENTIFIER: &str = "bailiwick-audit";

#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error(
        "activity.syslog_address {0:?}: write udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT"
    )]
    Address(String),
    #[error("activity.syslog_ca_file {path}: {detail}")]
    CaFile { path: String, detail: String },
}

/// Where entries go, resolved from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Journal(PathBuf),
    Syslog(SyslogTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTarget {
    Udp(String),
    Tcp(String),
    Tls { addr: String, host: String },
}

impl Sink {
    /// The sink `config` asks for; `None` when forwarding is off. `auto` is
    /// the journal when the daemon runs under systemd (which sets
    /// `INVOCATION_ID`) and its socket exists, else nothing.
    pub fn from_config(config: &ActivityConfig) -> Result<Option<Sink>, ForwardError> {
        let journal = || {
            let path = if config.journal_socket.is_empty() {
                PathBuf::from(JOURNAL_SOCKET)
            } else {
                PathBuf::from(&config.journal_socket)
            };
            Sink::Journal(path)
        };
        Ok(match config.forward {
            Forward::None => None,
            Forward::Journal => Some(journal()),
            Forward::Syslog => Some(Sink::Syslog(parse_syslog(&config.syslog_address)?)),
            Forward::Auto => {
                let under_systemd = std::env::var_os("INVOCATION_ID").is_some();
                match journal() {
                    Sink::Journal(p) if under_systemd && p.exists() => Some(Sink::Journal(p)),
                    _ => None,
                }
            }
        })
    }

    fn describe(&self) -> String {
        match self {
            Sink::Journal(p) => format!("journal at {}", p.display()),
            Sink::Syslog(SyslogTarget::Udp(a)) => format!("syslog udp://{a}"),
            Sink::Syslog(SyslogTarget::Tcp(a)) => format!("syslog tcp://{a}"),
            Sink::Syslog(SyslogTarget::Tls { addr, .. }) => format!("syslog tls://{addr}"),
        }
    }
}

/// Parses `udp://HOST:PORT`, `tcp://HOST:PORT` or `tls://HOST:PORT`.
pub fn parse_syslog(address: &str) -> Result<SyslogTarget, ForwardError> {
    let bad = || ForwardError::Address(address.to_owned());
    let (scheme, rest) = address.split_once("://").ok_or_else(bad)?;
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port.parse::<u16>().map_or(true, |p| p == 0) {
        return Err(bad());
    }
    let addr = rest.to_owned();
    match scheme {
        "udp" => Ok(SyslogTarget::Udp(addr)),
        "tcp" => Ok(SyslogTarget::Tcp(addr)),
        "tls" => Ok(SyslogTarget::Tls {
            addr,
            host: host.to_owned(),
        }),
        _ => Err(bad()),
    }
}

/// The running forwarder thread.
pub struct Forwarder {
    stop: Arc<AtomicBool>,
    log: Arc<ActivityLog>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Forwarder {
    /// Starts forwarding from the saved cursor. `tls` is built here so that
    /// a bad CA file stops the start, naming the key.
    pub fn start(
        sink: Sink,
        config: &ActivityConfig,
        data_dir: &Path,
        log: Arc<ActivityLog>,
        metrics: Arc<Metrics>,
    ) -> Result<Forwarder, ForwardError> {
        let tls = match &sink {
            Sink::Syslog(SyslogTarget::Tls { .. }) => Some(client_config(&config.syslog_ca_file)?),
            _ => None,
        };
        let cursor_path = data_dir.join(CURSOR_FILE);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let reader = log.clone();
        tracing::info!(to = %sink.describe(), "forwarding the activity log");
        let thread = std::thread::Builder::new()
            .name("activity-forward".into())
            .spawn(move || {
                let cursor = load_cursor(&cursor_path, &reader);
                Worker {
                    connection: Connection::new(sink, tls),
                    log: reader,
                    cursor,
                    cursor_path,
                    metrics,
                }
                .run(&flag)
            })
            .expect("spawn activity forward thread");
        Ok(Forwarder {
            stop,
            log,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Stops after the pass in progress; what is not sent yet is sent after
    /// the next start.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.log.appended().notify();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

/// The saved cursor, or 0. A cursor past the log's end (the data directory
/// was restored from an older backup) would skip new entries: start again
/// from the log's end instead.
fn load_cursor(path: &Path, log: &ActivityLog) -> u64 {
    let saved = std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let end = log.snapshot().last_seq();
    if saved > end {
        tracing::warn!(
            saved,
            log_end = end,
            "activity forward: the saved position is past the log's end (restored data directory?); forwarding from the end"
        );
        return end;
    }
    saved
}

struct Worker {
    connection: Connection,
    log: Arc<ActivityLog>,
    cursor: u64,
    cursor_path: PathBuf,
    metrics: Arc<Metrics>,
}

impl Worker {
    fn run(mut self, stop: &AtomicBool) {
        let wake = self.log.appended();
        let mut backoff = Duration::ZERO;
        let mut failing = false;
        while !stop.load(Ordering::Acquire) {
            let batch = match entries_after(&self.log, self.cursor, BATCH) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "activity forward: cannot read the log; trying again");
                    wake.wait(MAX_BACKOFF);
                    continue;
                }
            };
            if batch.is_empty() {
                wake.wait(TICK);
                continue;
            }
            if let Some(first) = batch.first().filter(|e| e.seq > self.cursor + 1) {
                tracing::warn!(
                    from = self.cursor + 1,
                    to = first.seq - 1,
                    "activity forward: these entries left the log (retention) before they were sent; the collector will not have them"
                );
                // They are gone: said once, not at every retry.
                self.cursor = first.seq - 1;
            }
            match self.send_all(&batch, stop) {
                Ok(()) => {
                    if failing {
                        tracing::info!("activity forward: the collector takes entries again");
                        failing = false;
                    }
                    backoff = Duration::ZERO;
                }
                Err(e) => {
                    self.metrics
                        .audit_forward_failures
                        .fetch_add(1, Ordering::Relaxed);
                    if !failing {
                        tracing::warn!(error = %e, seq = self.cursor + 1, "activity forward: sending failed; entries are kept and sent when it works again");
                        failing = true;
                    }
                    self.connection.reset();
                    backoff = (backoff * 2).clamp(Duration::from_millis(500), MAX_BACKOFF);
                    // Woken early only by a stop.
                    let until = std::time::Instant::now() + backoff;
                    while !stop.load(Ordering::Acquire) && std::time::Instant::now() < until {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
            self.save_cursor();
        }
        self.save_cursor();
    }

    /// Sends entries in order; the cursor follows each one sent.
    fn send_all(&mut self, batch: &[EntryView], stop: &AtomicBool) -> std::io::Result<()> {
        for entry in batch {
            if stop.load(Ordering::Acquire) {
                return Ok(());
            }
            self.connection.send(entry)?;
            self.cursor = entry.seq;
            self.metrics.audit_forwarded.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Not synced: losing it sends some entries twice, which the sequence
    /// numbers make harmless.
    fn save_cursor(&self) {
        let tmp = self.cursor_path.with_extension("tmp");
        let write = std::fs::write(&tmp, format!("{}\n", self.cursor))
            .and_then(|()| std::fs::rename(&tmp, &self.cursor_path));
        if let Err(e) = write {
            tracing::debug!(error = %e, "activity forward: cannot save the position");
        }
    }
}

/// Up to `max` entries with a sequence number above `after`, oldest first,
/// from the durable segments. Entries retention already deleted are
/// skipped.
pub fn entries_after(log: &ActivityLog, after: u64, max: usize) -> std::io::Result<Vec<EntryView>> {
    let index = log.snapshot();
    let mut out = Vec::new();
    for seg in &index.segments {
        if seg.last_seq().is_none_or(|last| last <= after) {
            continue;
        }
        let file = match std::fs::File::open(&seg.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for block in seg.blocks.iter().filter(|b| b.last_seq > after) {
            let len = usize::try_from(block.end.saturating_sub(block.offset))
                .map_err(|_| std::io::Error::other("block too large"))?;
            let mut bytes = vec![0u8; len];
            file.read_exact_at(&mut bytes, block.offset)?;
            let prev = block.first_seq.saturating_sub(1);
            for item in Records::new(&bytes, block.offset, prev) {
                let Item::Record(r) = item else { continue };
                if r.seq <= after {
                    continue;
                }
                match format::decode_payload(r.payload) {
                    Ok(p) => out.push(EntryView::new(r.seq, r.time, p)),
                    Err(e) => {
                        tracing::warn!(file = %seg.path.display(), seq = r.seq, error = %e, "activity forward: an entry does not decode; skipped")
                    }
                }
                if out.len() == max {
                    return Ok(out);
                }
            }
        }
    }
    Ok(out)
}

/// One line of JSON: the entry as the API shows it, `seq` included.
fn json_line(entry: &EntryView) -> String {
    serde_json::to_string(entry).unwrap_or_default()
}

/// The journal's native datagram: `KEY=value` lines; a value holding a
/// newline is framed by its length instead.
pub fn journal_datagram(entry: &EntryView, max_value: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut field = |key: &str, value: &str| {
        let value = cut(value, max_value);
        if value.contains('\n') {
            out.extend_from_slice(key.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        } else {
            out.extend_from_slice(key.as_bytes());
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        }
    };
    field("MESSAGE", &json_line(entry));
    field("SYSLOG_IDENTIFIER", IDENTIFIER);
    field("PRIORITY", "6");
    field("BAILIWICK_SEQ", &entry.seq.to_string());
    field("BAILIWICK_TIME", &entry.time);
    field("BAILIWICK_ACTION", &entry.action);
    field("BAILIWICK_ACTOR_LOGIN", &entry.actor_login);
    if let Some(a) = &entry.actor {
        field("BAILIWICK_ACTOR", a);
    }
    if let Some(u) = &entry.business_unit {
        field("BAILIWICK_BUSINESS_UNIT", u);
    }
    if let Some(ip) = &entry.ip {
        field("BAILIWICK_IP", ip);
    }
    field("BAILIWICK_TARGET", &entry.target);
    field("BAILIWICK_DETAILS", &entry.details);
    out
}

/// An RFC 5424 message: facility "log audit", the entry's own time, the
/// sequence number as `[meta sequenceId]` and in the JSON body.
pub fn syslog_message(entry: &EntryView, hostname: &str) -> String {
    let msgid: String = entry
        .action
        .chars()
        .map(|c| if c == ' ' { '_' } else { c })
        .filter(char::is_ascii_graphic)
        .take(32)
        .collect();
    let msgid = if msgid.is_empty() { "-".into() } else { msgid };
    // sequenceId is 1 to 2147483647 (RFC 5424 7.3.1); the JSON has it anyway.
    let sd = if (1..=2_147_483_647).contains(&entry.seq) {
        format!("[meta sequenceId=\"{}\"]", entry.seq)
    } else {
        "-".into()
    };
    format!(
        "<{SYSLOG_PRI}>1 {} {hostname} {IDENTIFIER} {} {msgid} {sd} \u{feff}{}",
        entry.time,
        std::process::id(),
        json_line(entry)
    )
}

fn cut(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[cut]", &s[..end]).into()
}

/// This machine's name for syslog's HOSTNAME field (`-` when unknown).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
        .unwrap_or_else(|| "-".into())
}

enum Stream {
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

/// The connection to the sink, opened when first needed and again after a
/// failure.
struct Connection {
    sink: Sink,
    tls: Option<Arc<rustls::ClientConfig>>,
    hostname: String,
    journal: Option<UnixDatagram>,
    udp: Option<UdpSocket>,
    stream: Option<Stream>,
}

impl Connection {
    fn new(sink: Sink, tls: Option<Arc<rustls::ClientConfig>>) -> Connection {
        Connection {
            sink,
            tls,
            hostname: hostname(),
            journal: None,
            udp: None,
            stream: None,
        }
    }

    fn reset(&mut self) {
        self.journal = None;
        self.udp = None;
        self.stream = None;
    }

    fn send(&mut self, entry: &EntryView) -> std::io::Result<()> {
        match self.sink.clone() {
            Sink::Journal(path) => {
                if self.journal.is_none() {
                    self.journal = Some(UnixDatagram::unbound()?);
                }
                let socket = self.journal.as_ref().expect("opened above");
                let datagram = journal_datagram(entry, usize::MAX);
                match socket.send_to(&datagram, &path) {
                    // Too large for one datagram: send the fields cut short
                    // rather than hold up every entry after it.
                    Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => {
                        socket.send_to(&journal_datagram(entry, 8 << 10), &path)?;
                    }
                    other => {
                        other?;
                    }
                }
            }
            Sink::Syslog(SyslogTarget::Udp(addr)) => {
                if self.udp.is_none() {
                    let target = resolve(&addr)?;
                    let local = if target.is_ipv6() {
                        "[::]:0"
                    } else {
                        "0.0.0.0:0"
                    };
                    let socket = UdpSocket::bind(local)?;
                    socket.connect(target)?;
                    self.udp = Some(socket);
                }
                let message = syslog_message(entry, &self.hostname);
                // One datagram per message; a large one is cut to what UDP
                // carries (RFC 5426 asks receivers for at least 2048 bytes).
                let bytes = message.as_bytes();
                let udp = self.udp.as_ref().expect("opened above");
                udp.send(&bytes[..bytes.len().min(65_000)])?;
            }
            Sink::Syslog(SyslogTarget::Tcp(addr)) => {
                if self.stream.is_none() {
                    self.stream = Some(Stream::Tcp(connect(&addr)?));
                }
                self.write_framed(entry)?;
            }
            Sink::Syslog(SyslogTarget::Tls { addr, host }) => {
                if self.stream.is_none() {
                    let config = self.tls.clone().ok_or_else(|| {
                        std::io::Error::other("no TLS configuration for the syslog collector")
                    })?;
                    let name = rustls_pki_types::ServerName::try_from(host.clone())
                        .map_err(|e| std::io::Error::other(format!("{host}: {e}")))?;
                    let conn = rustls::ClientConnection::new(config, name)
                        .map_err(std::io::Error::other)?;
                    let tcp = connect(&addr)?;
                    self.stream = Some(Stream::Tls(Box::new(rustls::StreamOwned::new(conn, tcp))));
                }
                self.write_framed(entry)?;
            }
        }
        Ok(())
    }

    /// RFC 6587 octet counting: `LEN SP MESSAGE`.
    fn write_framed(&mut self, entry: &EntryView) -> std::io::Result<()> {
        let message = syslog_message(entry, &self.hostname);
        let framed = format!("{} {message}", message.len());
        match self.stream.as_mut() {
            Some(Stream::Tcp(s)) => s.write_all(framed.as_bytes()),
            Some(Stream::Tls(s)) => s.write_all(framed.as_bytes()).and_then(|()| s.flush()),
            None => Err(std::io::Error::other("not connected")),
        }
    }
}

fn resolve(addr: &str) -> std::io::Result<std::net::SocketAddr> {
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{addr}: no address")))
}

fn connect(addr: &str) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&resolve(addr)?, NET_TIMEOUT)?;
    stream.set_write_timeout(Some(NET_TIMEOUT))?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The system's trust store plus `ca_file`, if given.
fn client_config(ca_file: &str) -> Result<Arc<rustls::ClientConfig>, ForwardError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if !ca_file.is_empty() {
        let ca = |detail: String| ForwardError::CaFile {
            path: ca_file.to_owned(),
            detail,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca_file)
            .map_err(|e| ca(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| ca(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca("no PEM certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca(e.to_string()))?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| ForwardError::CaFile {
        path: ca_file.to_owned(),
        detail: e.to_string(),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, details: &str) -> EntryView {
        EntryView {
            seq,
            time: "2026-12-04T10:00:00.000000Z".into(),
            actor: Some("u1".into()),
            actor_login: "alice".into(),
            business_unit: None,
            ip: Some("10.0.0.9".into()),
            action: "user created".into(),
            target: "bob".into(),
            details: details.into(),
        }
    }

    #[test]
    fn syslog_addresses_are_checked() {
        assert_eq!(
            parse_syslog("udp://10.0.0.1:514").unwrap(),
            SyslogTarget::Udp("10.0.0.1:514".into())
        );
        assert_eq!(
            parse_syslog("tls://siem.example:6514").unwrap(),
            SyslogTarget::Tls {
                addr: "siem.example:6514".into(),
                host: "siem.example".into()
            }
        );
        assert_eq!(
            parse_syslog("tcp://[2001:db8::1]:601").unwrap(),
            SyslogTarget::Tcp("[2001:db8::1]:601".into())
        );
        for bad in [
            "",
            "10.0.0.1:514",
            "http://x:1",
            "udp://x",
            "udp://:514",
            "udp://x:0",
        ] {
            assert!(parse_syslog(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn journal_fields_frame_newlines_by_length() {
        let d = journal_datagram(&entry(7, "line one\nline two"), usize::MAX);
        let text = String::from_utf8_lossy(&d);
        assert!(
            text.contains("SYSLOG_IDENTIFIER=bailiwick-audit\n"),
            "{text}"
        );
        assert!(text.contains("BAILIWICK_SEQ=7\n"), "{text}");
        assert!(text.contains("BAILIWICK_ACTION=user created\n"), "{text}");
        // A newline in a value would otherwise start a forged field.
        let mut framed = b"BAILIWICK_DETAILS\n".to_vec();
        framed.extend_from_slice(&17u64.to_le_bytes());
        framed.extend_from_slice(b"line one\nline two\n");
        assert!(d.windows(framed.len()).any(|w| w == framed.as_slice()));
    }

    #[test]
    fn syslog_lines_carry_the_sequence_number() {
        let m = syslog_message(&entry(42, "x"), "box");
        assert!(
            m.starts_with("<110>1 2026-12-04T10:00:00.000000Z box bailiwick-audit "),
            "{m}"
        );
        assert!(
            m.contains(" user_created [meta sequenceId=\"42\"] \u{feff}{"),
            "{m}"
        );
        let json: serde_json::Value =
            serde_json::from_str(m.split('\u{feff}').nth(1).unwrap()).unwrap();
        assert_eq!(json["seq"], 42);
        assert_eq!(json["target"], "bob");
    }
}
