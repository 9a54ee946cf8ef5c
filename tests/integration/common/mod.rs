//! Starts the real `bailiwick` binary on a free port with a temporary data
//! directory, and talks HTTPS to it with the generated certificate pinned.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub mod api;
pub mod smtp_sink;

pub const BIN: &str = env!("CARGO_BIN_EXE_bailiwick");

/// How long a daemon may take to start listening before a test gives up.
const START_LIMIT: Duration = Duration::from_secs(60);

pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Every stdout line printed before "listening on".
    pub banner: Vec<String>,
    stderr: PathBuf,
}

/// Options of one start.
#[derive(Default, Clone)]
pub struct Start {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
}

impl Start {
    pub fn env(mut self, k: &str, v: &str) -> Start {
        self.env.push((k.into(), v.into()));
        self
    }
    pub fn arg(mut self, a: &str) -> Start {
        self.args.push(a.into());
        self
    }
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `start` with mail sent by SMTP in plain text to a relay on
/// 127.0.0.1:`port` (`smtp_sink`), retried after 1 s, then every 2 s.
pub fn smtp_relay(start: Start, port: u16) -> Start {
    start
        .env("BAILIWICK_MAIL_TRANSPORT", "smtp")
        .env("BAILIWICK_MAIL_SMTP_HOST", "127.0.0.1")
        .env("BAILIWICK_MAIL_SMTP_PORT", &port.to_string())
        .env("BAILIWICK_MAIL_SMTP_SECURITY", "plain")
        .env("BAILIWICK_MAIL_RETRY_INITIAL", "1s")
        .env("BAILIWICK_MAIL_RETRY_MAX", "2s")
        .env("BAILIWICK_MAIL_FROM", "bailiwick@appliance.example")
}

/// Cheap hashing so that tests that log in do not spend seconds in argon2.
pub fn fast_env() -> Vec<(String, String)> {
    vec![
        ("BAILIWICK_AUTH_ARGON2_MEMORY_KIB".into(), "64".into()),
        ("BAILIWICK_AUTH_ARGON2_ITERATIONS".into(), "1".into()),
        ("RUST_LOG".into(), "info".into()),
    ]
}

pub fn command(data_dir: &Path, opts: &Start) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .args(&opts.args)
        .env_remove("STATE_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .envs(fast_env())
        .envs(opts.env.iter().cloned());
    cmd
}

impl Daemon {
    pub fn start(data_dir: &Path) -> Daemon {
        Daemon::start_with(data_dir, Start::default())
    }

    pub fn start_with(data_dir: &Path, opts: Start) -> Daemon {
        match Daemon::try_start(data_dir, opts) {
            Ok(d) => d,
            Err(e) => panic!("daemon did not start: {e}"),
        }
    }

    /// Starts and waits for "listening on"; on early exit returns its stderr.
    pub fn try_start(data_dir: &Path, opts: Start) -> Result<Daemon, String> {
        let stderr = data_dir.with_extension(format!("stderr-{}", rand_suffix()));
        let err_file = std::fs::File::create(&stderr).unwrap();
        let mut child = command(data_dir, &opts)
            .stdout(Stdio::piped())
            .stderr(err_file)
            .spawn()
            .expect("spawn bailiwick");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let deadline = std::time::Instant::now() + START_LIMIT;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left.max(Duration::from_millis(1))) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("listening on https://") {
                        let addr = rest.trim().parse().expect("address in banner");
                        return Ok(Daemon {
                            child,
                            addr,
                            data_dir: data_dir.to_owned(),
                            banner,
                            stderr,
                        });
                    }
                    banner.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait().ok();
                    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
                    return Err(format!("exit {status:?}; stderr:\n{err}"));
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// An HTTPS client that trusts only this daemon's certificate.
    pub fn client(&self) -> reqwest::Client {
        self.client_builder().build().unwrap()
    }

    /// [`Daemon::client`] connecting from `source` (a 127.0.0.0/8 address),
    /// for tests with more clients than the daemon lets one address hold.
    pub fn client_from(&self, source: std::net::IpAddr) -> reqwest::Client {
        self.client_builder().local_address(source).build().unwrap()
    }

    fn client_builder(&self) -> reqwest::ClientBuilder {
        bailiwick::tls::install_default_provider();
        let pem = std::fs::read(self.data_dir.join("tls/cert.pem")).expect("generated cert");
        let cert = reqwest::Certificate::from_pem(&pem).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([cert])
            .resolve("localhost", self.addr)
            .timeout(Duration::from_secs(60))
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill takes no pointers; the pid is our own child.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().unwrap();
        let err = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        (status, err)
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `/metrics` as text (not from inside a runtime).
    pub fn metrics_text(&self) -> String {
        let c = self.client();
        rt().block_on(async {
            let r = c.get(self.url("/metrics")).send().await.unwrap();
            r.text().await.unwrap()
        })
    }

    /// One series without labels from `/metrics`.
    pub fn metric(&self, name: &str) -> u64 {
        let text = self.metrics_text();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} not in {text}"))
            .parse()
            .unwrap()
    }

    /// `bailiwick ctl --data-dir <dir> ARGS...`
    pub fn ctl(&self, args: &[&str]) -> Output {
        ctl(&self.data_dir, args)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn ctl(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("ctl")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap()
}

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("STATE_DIRECTORY")
        .envs(fast_env())
        .output()
        .unwrap()
}

/// `bailiwick restore --from BACKUP --data-dir DATA`.
pub fn restore(backup: &Path, data: &Path) -> Output {
    run(&[
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
    ])
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn rand_suffix() -> String {
    bailiwick::ids::new_id()
}

/// A multi-thread runtime for a test body.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The password `init_boss` gives Manager `boss`.
pub const BOSS_PASSWORD: &str = "Tall-Trees-42";

/// Logins as fast as a test wants: the rate limits are not under test.
pub fn fast_logins() -> Start {
    Start::default()
        .env("BAILIWICK_AUTH_RATE_PER_ADDRESS_PER_MINUTE", "1000000")
        .env("BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE", "1000000")
}

/// `bailiwick init` with Manager `boss` and [`BOSS_PASSWORD`].
pub fn init_boss(data: &Path) {
    let pw = data.with_extension("pw");
    std::fs::write(&pw, BOSS_PASSWORD).unwrap();
    let o = run(&[
        "init",
        "--data-dir",
        data.to_str().unwrap(),
        "--subscription",
        "Acme",
        "--manager-login",
        "boss",
        "--manager-email",
        "boss@example.com",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
}
