//! A real SMTP server for the mail tests, in-process, writing what it receives
//! to a directory. It speaks enough of RFC 5321 for any client (EHLO/HELO,
//! MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT), STARTTLS or
//! implicit TLS (RFC 3207, RFC 8314) over rustls, and AUTH PLAIN and LOGIN
//! (RFC 4954). It needs nothing outside Rust, so the test command runs on a
//! machine with only the toolchain.
//!
//! Each accepted message becomes `NNNN.eml`, with `NNNN.meta` beside it holding
//! one `key: value` per line (auth, tls, from, to), each written under a
//! temporary name and renamed so a reader never sees half a file. Options make
//! it misbehave the ways a relay does: 451 (try later) to the first N
//! messages, or 550 to every message.
//!
//! ```ignore
//! let sink = Sink::start(port, &dir, SinkOptions::default().fail_first(2));
//! assert_eq!(sink.messages().len(), 1);
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How a relay protects its connections.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Protection {
    /// Plain text only.
    Plain,
    /// Plain text until STARTTLS, which is required before MAIL and AUTH.
    StartTls,
    /// TLS from the first byte.
    Implicit,
}

/// How the sink behaves.
#[derive(Clone, Debug)]
pub struct SinkOptions {
    fail_first: u32,
    reject: bool,
    tls: Protection,
    cert_key: Option<(PathBuf, PathBuf)>,
    auth: Option<(String, String)>,
}

impl Default for SinkOptions {
    fn default() -> SinkOptions {
        SinkOptions {
            fail_first: 0,
            reject: false,
            tls: Protection::Plain,
            cert_key: None,
            auth: None,
        }
    }
}

impl SinkOptions {
    /// Answer 451 to the first `n` messages.
    pub fn fail_first(mut self, n: u32) -> Self {
        self.fail_first = n;
        self
    }
    /// Answer 550 to every message.
    pub fn reject(mut self) -> Self {
        self.reject = true;
        self
    }
    /// Speak TLS (`mode`) with the certificate and key in these PEM files.
    pub fn tls(mut self, mode: Protection, cert: &Path, key: &Path) -> Self {
        self.tls = mode;
        self.cert_key = Some((cert.to_owned(), key.to_owned()));
        self
    }
    /// Require AUTH with this user and password before MAIL.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }
}

/// A running sink; stops (and frees its port) when dropped.
pub struct Sink {
    out: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    /// Listens on 127.0.0.1:`port` and writes messages into `out`. Returns once
    /// the port accepts connections.
    pub fn start(port: u16, out: &Path, opts: SinkOptions) -> Sink {
        std::fs::create_dir_all(out).expect("create the sink's directory");
        let acceptor = opts.cert_key.as_ref().map(|(c, k)| acceptor(c, k));
        assert!(
            opts.tls == Protection::Plain || acceptor.is_some(),
            "a TLS sink needs a certificate"
        );
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))
            .unwrap_or_else(|e| panic!("the SMTP sink cannot listen on port {port}: {e}"));
        std_listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared {
            opts,
            acceptor,
            out: out.to_owned(),
            counts: Mutex::new(Counts::default()),
        });
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let _ = stream.set_nodelay(true);
                            let shared = shared.clone();
                            tokio::spawn(async move {
                                // A client that goes away mid-dialogue is no failure of the sink.
                                let _ = serve(stream, &shared).await;
                            });
                        }
                    }
                }
            });
        });
        Sink {
            out: out.to_owned(),
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Messages received so far, in order.
    pub fn messages(&self) -> Vec<String> {
        files(&self.out, "eml")
    }

    /// What the sink noted about each message (auth, tls, from, to), in order.
    pub fn meta(&self) -> Vec<String> {
        files(&self.out, "meta")
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The files of `dir` ending in `.ext`, read in name order.
pub fn files(dir: &Path, ext: &str) -> Vec<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect()
}

fn acceptor(cert: &Path, key: &Path) -> TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("read the sink's certificate")
        .collect::<Result<_, _>>()
        .expect("parse the sink's certificate");
    let key = PrivateKeyDer::from_pem_file(key).expect("read the sink's key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("the sink's certificate and key");
    TlsAcceptor::from(Arc::new(config))
}

struct Shared {
    opts: SinkOptions,
    acceptor: Option<TlsAcceptor>,
    out: PathBuf,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Messages offered (DATA completed), refused ones included.
    tries: u32,
    /// Messages stored.
    stored: u32,
}

type Io = std::io::Result<()>;

async fn serve(stream: tokio::net::TcpStream, shared: &Shared) -> Io {
    match (shared.opts.tls, &shared.acceptor) {
        (Protection::Implicit, Some(acceptor)) => {
            let tls = acceptor.accept(stream).await?;
            dialogue(tls, shared, true, true).await.map(drop)
        }
        _ => {
            let Some(stream) = dialogue(stream, shared, false, true).await? else {
                return Ok(());
            };
            // STARTTLS: the same dialogue again over TLS, without a new greeting
            // and with everything said before forgotten (RFC 3207, 4.2).
            let acceptor = shared.acceptor.as_ref().expect("STARTTLS needs a cert");
            let tls = acceptor.accept(stream).await?;
            dialogue(tls, shared, true, false).await.map(drop)
        }
    }
}

/// One SMTP dialogue over `io`. Returns the stream when the client asked for
/// STARTTLS (after the 220), so the caller can upgrade it; `None` when done.
async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    shared: &Shared,
    tls: bool,
    greet: bool,
) -> std::io::Result<Option<S>> {
    let opts = &shared.opts;
    let mut io = BufReader::new(io);
    if greet {
        reply(&mut io, "220 localhost ESMTP bailiwick test sink").await?;
    }
    let must_starttls = opts.tls == Protection::StartTls && !tls;
    let mut authed: Option<String> = None;
    let mut from: Option<String> = None;
    let mut to: Vec<String> = Vec::new();
    loop {
        let Some(line) = read_line(&mut io).await? else {
            return Ok(None);
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                let mut caps = vec!["localhost", "8BITMIME", "SMTPUTF8"];
                if must_starttls {
                    caps.push("STARTTLS");
                } else if opts.auth.is_some() {
                    caps.push("AUTH PLAIN LOGIN");
                }
                let n = caps.len();
                let mut text = String::new();
                for (i, c) in caps.iter().enumerate() {
                    let sep = if i + 1 == n { ' ' } else { '-' };
                    text.push_str(&format!("250{sep}{c}\r\n"));
                }
                io.write_all(text.as_bytes()).await?;
                io.flush().await?;
            }
            "HELO" => reply(&mut io, "250 localhost").await?,
            "STARTTLS" if must_starttls => {
                reply(&mut io, "220 2.0.0 ready to start TLS").await?;
                return Ok(Some(io.into_inner()));
            }
            "STARTTLS" => reply(&mut io, "503 5.5.1 TLS already or not offered").await?,
            "AUTH" if must_starttls => {
                reply(&mut io, "530 5.7.0 Must issue a STARTTLS command first").await?
            }
            "AUTH" => {
                let Some((want_user, want_pass)) = &opts.auth else {
                    reply(&mut io, "502 5.5.1 AUTH not offered").await?;
                    continue;
                };
                let (user, pass) = match read_auth(&mut io, &arg).await? {
                    Some(up) => up,
                    None => {
                        reply(&mut io, "501 5.5.2 cannot decode the credentials").await?;
                        continue;
                    }
                };
                if &user == want_user && &pass == want_pass {
                    authed = Some(user);
                    reply(&mut io, "235 2.7.0 Authentication successful").await?;
                } else {
                    reply(&mut io, "535 5.7.8 Authentication credentials invalid").await?;
                }
            }
            "MAIL" if must_starttls => {
                reply(&mut io, "530 5.7.0 Must issue a STARTTLS command first").await?
            }
            "MAIL" if opts.auth.is_some() && authed.is_none() => {
                reply(&mut io, "530 5.7.0 Authentication required").await?
            }
            "MAIL" => {
                from = Some(address(&arg, "FROM:"));
                to.clear();
                reply(&mut io, "250 2.1.0 OK").await?;
            }
            "RCPT" if from.is_none() => reply(&mut io, "503 5.5.1 MAIL first").await?,
            "RCPT" => {
                to.push(address(&arg, "TO:"));
                reply(&mut io, "250 2.1.5 OK").await?;
            }
            "DATA" if to.is_empty() => reply(&mut io, "503 5.5.1 RCPT first").await?,
            "DATA" => {
                reply(&mut io, "354 End data with <CR><LF>.<CR><LF>").await?;
                let content = read_data(&mut io).await?;
                let meta = format!(
                    "auth: {}\ntls: {}\nfrom: {}\nto: {}\n",
                    authed.as_deref().unwrap_or(""),
                    if tls { "yes" } else { "no" },
                    from.take().unwrap_or_default(),
                    to.join(","),
                );
                to.clear();
                let answer = shared.settle(&content, &meta)?;
                reply(&mut io, answer).await?;
            }
            "RSET" => {
                from = None;
                to.clear();
                reply(&mut io, "250 2.0.0 OK").await?;
            }
            "NOOP" => reply(&mut io, "250 2.0.0 OK").await?,
            "QUIT" => {
                reply(&mut io, "221 2.0.0 Bye").await?;
                return Ok(None);
            }
            _ => reply(&mut io, "500 5.5.2 command not recognized").await?,
        }
    }
}

impl Shared {
    /// Decides the answer to one complete message and stores it if accepted.
    fn settle(&self, content: &[u8], meta: &str) -> std::io::Result<&'static str> {
        let mut counts = self.counts.lock().unwrap();
        counts.tries += 1;
        if self.opts.reject {
            return Ok("550 5.1.1 mailbox unavailable");
        }
        if counts.tries <= self.opts.fail_first {
            return Ok("451 4.3.0 try again later");
        }
        counts.stored += 1;
        let base = self.out.join(format!("{:04}", counts.stored));
        for (ext, data) in [("meta", meta.as_bytes()), ("eml", content)] {
            let tmp = base.with_extension(format!("{ext}.tmp"));
            std::fs::write(&tmp, data)?;
            std::fs::rename(&tmp, base.with_extension(ext))?;
        }
        Ok("250 2.0.0 stored")
    }
}

/// One write per reply: a line and its CRLF in two segments would wait out
/// the client's delayed ACK (Nagle), ~40 ms a reply, as no relay does.
async fn reply<S: AsyncRead + AsyncWrite + Unpin>(io: &mut BufReader<S>, line: &str) -> Io {
    io.write_all(format!("{line}\r\n").as_bytes()).await?;
    io.flush().await
}

/// A longer command line than RFC 5321's 512 octets ends the dialogue.
const MAX_LINE: usize = 4096;

/// One line without its CRLF, or `None` at the end of the stream.
async fn read_line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *io)
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        return Err(std::io::Error::other("line too long or cut off"));
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// The message after DATA, up to the lone ".", with leading dots unstuffed.
async fn read_data<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> std::io::Result<Vec<u8>> {
    let mut content = Vec::new();
    loop {
        let mut line = Vec::new();
        if io.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(content);
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        content.extend_from_slice(line);
    }
}

/// The address inside `FROM:<a> [params]` or `TO:<a>`.
fn address(arg: &str, prefix: &str) -> String {
    let rest = arg
        .get(..prefix.len())
        .filter(|p| p.eq_ignore_ascii_case(prefix))
        .map_or(arg, |_| &arg[prefix.len()..]);
    let rest = rest.trim_start();
    match (rest.find('<'), rest.find('>')) {
        (Some(a), Some(b)) if a < b => rest[a + 1..b].to_owned(),
        _ => rest.split(' ').next().unwrap_or("").to_owned(),
    }
}

/// Reads AUTH PLAIN or LOGIN credentials (asking with 334 where the client
/// gave no initial response). `None` when they do not decode.
async fn read_auth<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    arg: &str,
) -> std::io::Result<Option<(String, String)>> {
    let mut parts = arg.split_whitespace();
    let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
    let initial = parts.next().map(str::to_owned);
    let decode = |s: &str| {
        B64.decode(s.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    };
    match mechanism.as_str() {
        "PLAIN" => {
            let response = match initial {
                Some(r) => r,
                None => {
                    reply(io, "334 ").await?;
                    read_line(io).await?.unwrap_or_default()
                }
            };
            // authzid \0 authcid \0 password
            Ok(decode(&response).and_then(|s| {
                let mut it = s.split('\0');
                let (_, user, pass) = (it.next()?, it.next()?, it.next()?);
                Some((user.to_owned(), pass.to_owned()))
            }))
        }
        "LOGIN" => {
            let user = match initial {
                Some(r) => r,
                None => {
                    reply(io, "334 VXNlcm5hbWU6").await?;
                    read_line(io).await?.unwrap_or_default()
                }
            };
            reply(io, "334 UGFzc3dvcmQ6").await?;
            let pass = read_line(io).await?.unwrap_or_default();
            Ok(decode(&user).zip(decode(&pass)))
        }
        _ => Ok(None),
    }
}
