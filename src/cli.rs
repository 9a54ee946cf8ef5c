//! The command line (docs/api.md): parse, then hand each command
//! to the library. Errors come back as sentences that say what to do.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::admin::{Request, client::Client};
use crate::config::{Config, LogFormat};
use crate::domain::bootstrap::{self, Bootstrap, FirstCredential};
use crate::domain::{Actor, Module, ServiceType};
use crate::store::{self, Store};

#[derive(Parser, Debug)]
#[command(
    name = "bailiwick",
    version,
    about = "User and access authority for on-prem security appliances"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the daemon (HTTPS API and admin socket).
    Serve(ServeArgs),
    /// Create a subscription and its first Manager in a new data directory.
    Init(InitArgs),
    /// Talk to the running daemon over its admin socket.
    Ctl(CtlArgs),
    /// Install a backup into a data directory (daemon stopped).
    Restore {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Check or export the activity log, reading its files directly.
    Log(LogArgs),
    /// Load and check the configuration, then print it in full.
    CheckConfig {
        /// The TOML file to check (without it: the embedded defaults).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Write the man pages or the shell completions into a directory (for
    /// packagers).
    #[command(hide = true)]
    Generate {
        #[arg(value_enum)]
        what: Generated,
        /// The directory to write into (created if missing).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum Generated {
    /// `bailiwick.1` and one page per subcommand.
    Man,
    /// `bailiwick.bash`, `_bailiwick` (zsh) and `bailiwick.fish`.
    Completions,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The TOML configuration (without it: the embedded defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where the database, activity log and outbox live (server.data_dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Address and port of the HTTPS listener (server.listen).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Log lines for people, or JSON for a collector (log.format).
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum LogFormatArg {
    Auto,
    Human,
    Json,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    /// The new data directory (refused if it already holds a subscription).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The subscription's name.
    #[arg(long)]
    pub subscription: String,
    /// The first Manager's login; it is active at once and the primary contact.
    #[arg(long)]
    pub manager_login: String,
    /// The first Manager's email address.
    #[arg(long)]
    pub manager_email: String,
    /// File holding the first Manager's password (a trailing newline is dropped).
    #[arg(long)]
    pub password_file: PathBuf,
    /// enterprise, consultant or express_lite.
    #[arg(long, default_value = "enterprise", value_parser = parse_service_type)]
    pub service_type: ServiceType,
    /// Comma-separated modules the subscription has, e.g. VM,PC.
    #[arg(long, default_value = "VM")]
    pub modules: String,
    /// Config file, for the password hashing parameters.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The running daemon's data directory (it holds admin.sock).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The daemon's configuration, for its data directory (default:
    /// /etc/bailiwick/bailiwick.toml when it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Subcommand, Debug)]
pub enum CtlCommand {
    /// Version, uptime, subscription, users and queues of the running daemon.
    Status,
    /// List the operator features, or switch one on or off.
    Features {
        #[command(subcommand)]
        command: FeaturesCommand,
    },
    /// Show or set the subscription's service type and modules.
    Subscription {
        #[command(subcommand)]
        command: SubscriptionCommand,
    },
    /// Operator recovery for one user.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Write an online, consistent backup to a new file, or check one.
    Backup {
        /// The new file to write (the daemon must be running).
        #[arg(long, required_unless_present = "verify", conflicts_with = "verify")]
        out: Option<PathBuf>,
        /// Check a backup file without restoring it: its integrity, its
        /// tables and the activity log it carries. Needs no daemon.
        #[arg(long, value_name = "FILE")]
        verify: Option<PathBuf>,
    },
    /// Emails given up on: list them, send one again.
    Mail {
        #[command(subcommand)]
        command: MailCommand,
    },
    /// Service accounts: the identities of the appliance's other services.
    Services {
        #[command(subcommand)]
        command: ServicesCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ServicesCommand {
    /// Name, scopes and dates of every service account (never a secret).
    List,
    /// Create one and print its secret, once.
    Add {
        name: String,
        /// Comma-separated: check, objects, notify, introspect.
        #[arg(long)]
        scopes: String,
    },
    /// Print a new secret; the old one works for `auth.service_secret_overlap`.
    Rotate { name: String },
    /// Remove one; its secrets stop working at once.
    Remove { name: String },
}

#[derive(Subcommand, Debug)]
pub enum MailCommand {
    /// List failed emails, oldest first: id, recipient, kind or subject,
    /// tries, last error, time.
    Failed {
        /// Show at most this many.
        #[arg(long, default_value_t = crate::admin::mail::DEFAULT_LIMIT)]
        limit: usize,
    },
    /// Send failed email ID back to the outbox (logged as `mail.retry`).
    Retry { id: u64 },
    /// Try every pending email now instead of at its next retry (once
    /// the relay works again).
    Flush,
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Clear a lockout and the failed-attempt count.
    Unlock { login: String },
    /// Clear the password and print a one-time link to set a new one
    /// (when the only Manager lost its password).
    ResetPassword { login: String },
    /// Print a new one-time activation link (when mail cannot reach the user).
    ActivationLink { login: String },
}

#[derive(Subcommand, Debug)]
pub enum FeaturesCommand {
    List,
    Enable { name: String },
    Disable { name: String },
}

#[derive(Subcommand, Debug)]
pub enum SubscriptionCommand {
    Show,
    Set {
        #[arg(long, value_parser = parse_service_type)]
        service_type: Option<ServiceType>,
        /// Comma-separated, e.g. VM,PC (empty for none).
        #[arg(long)]
        modules: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct LogArgs {
    #[command(subcommand)]
    pub command: LogCommand,
}

/// Where the data directory is: `--data-dir`, else the config's.
#[derive(Args, Debug)]
pub struct DataDirArgs {
    /// The data directory.
    #[arg(long, alias = "data")]
    pub data_dir: Option<PathBuf>,
    /// The daemon's configuration, for its data directory (default:
    /// /etc/bailiwick/bailiwick.toml when it exists).
    #[arg(long)]
    pub config: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Check every segment's checksums, sequence numbers and hash chain;
    /// exit 1 naming each break (file, seq, byte offset).
    Verify {
        #[command(flatten)]
        dir: DataDirArgs,
    },
    /// Print the entries, oldest first, as JSON lines (default) or CSV.
    Export {
        #[command(flatten)]
        dir: DataDirArgs,
        /// Entries at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Entries before this RFC 3339 time.
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum)]
        format: Option<ExportFormatArg>,
        /// Same as `--format csv`.
        #[arg(long, conflicts_with = "format")]
        csv: bool,
    },
}

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum ExportFormatArg {
    Csv,
    Jsonl,
}

fn parse_service_type(s: &str) -> Result<ServiceType, String> {
    s.parse()
}

/// Runs a parsed command line; the exit code says how it went.
pub fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(args) => serve(args),
        Command::Init(args) => init(args),
        Command::Ctl(args) => ctl(args),
        Command::Restore { from, data_dir } => restore(&from, &data_dir),
        Command::Log(args) => log(args),
        Command::CheckConfig { config } => check_config(config.as_deref()),
        Command::Generate { what, out } => generate(what, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("bailiwick: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("bailiwick: {msg}");
            ExitCode::FAILURE
        }
    }
}

enum Failure {
    /// Bad configuration or arguments: exit 2.
    Usage(String),
    /// The command could not be carried out: exit 1.
    Runtime(String),
}

fn runtime(e: impl std::fmt::Display) -> Failure {
    Failure::Runtime(e.to_string())
}

fn load_config(path: Option<&Path>) -> Result<Config, Failure> {
    Config::from_sources(path, std::env::vars()).map_err(|e| Failure::Usage(e.to_string()))
}

/// Where the packaged daemon's configuration is installed.
pub const INSTALLED_CONFIG: &str = "/etc/bailiwick/bailiwick.toml";

/// The configuration the operator's tools (`ctl`, `log`) read when given
/// neither `--data-dir` nor `--config`: the installed one when it exists
/// (outside systemd there is no `$STATE_DIRECTORY`), else the defaults.
fn tools_config(path: Option<&Path>) -> Result<Config, Failure> {
    let installed = Path::new(INSTALLED_CONFIG);
    let installed = (path.is_none() && std::env::var_os("STATE_DIRECTORY").is_none())
        .then_some(installed)
        .filter(|p| p.exists());
    load_config(path.or(installed))
}

/// The man pages and shell completions, from the same definition that
/// parses the command line.
fn generate(what: Generated, out: &Path) -> Result<(), Failure> {
    use clap::CommandFactory;
    let fail =
        |e: std::io::Error| Failure::Runtime(format!("cannot write into {}: {e}", out.display()));
    std::fs::create_dir_all(out).map_err(fail)?;
    let cmd = Cli::command();
    match what {
        Generated::Man => clap_mangen::generate_to(cmd, out).map_err(fail)?,
        Generated::Completions => {
            use clap_complete::Shell;
            for (shell, file) in [
                (Shell::Bash, "bailiwick.bash"),
                (Shell::Zsh, "_bailiwick"),
                (Shell::Fish, "bailiwick.fish"),
            ] {
                let mut bytes = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "bailiwick", &mut bytes);
                std::fs::write(out.join(file), bytes).map_err(fail)?;
            }
        }
    }
    Ok(())
}

fn serve(args: ServeArgs) -> Result<(), Failure> {
    // The flags are configuration too, checked with the rest:
    // `--listen 0.0.0.0:8443` needs a public_url as much as the file's key
    // does, and `--listen 127.0.0.1:8443` frees a file's wildcard of it.
    let (data_dir, listen) = (args.data_dir.clone(), args.listen);
    let mut config = Config::from_sources_then(args.config.as_deref(), std::env::vars(), |c| {
        if let Some(d) = data_dir {
            c.server.data_dir = d.display().to_string();
        }
        if let Some(l) = listen {
            c.server.listen = l;
        }
    })
    .map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(f) = args.log_format {
        config.log.format = match f {
            LogFormatArg::Auto => LogFormat::Auto,
            LogFormatArg::Human => LogFormat::Human,
            LogFormatArg::Json => LogFormat::Json,
        };
    }
    crate::logging::init(config.log.format);
    crate::daemon::serve(config, args.config).map_err(runtime)
}

fn init(args: InitArgs) -> Result<(), Failure> {
    let config = load_config(args.config.as_deref())?;
    crate::logging::init(config.log.format);
    let modules = Module::parse_list(&args.modules).map_err(Failure::Usage)?;
    let raw = std::fs::read_to_string(&args.password_file).map_err(|e| {
        Failure::Usage(format!(
            "cannot read --password-file {}: {e}",
            args.password_file.display()
        ))
    })?;
    let password = raw
        .strip_suffix("\r\n")
        .or_else(|| raw.strip_suffix('\n'))
        .unwrap_or(&raw)
        .to_owned();
    // The default policy of a new subscription (R8.5).
    crate::domain::password::check(&password, 8)
        .map_err(|e| Failure::Usage(format!("--password-file: {e}")))?;
    let plan = Bootstrap {
        subscription: args.subscription,
        service_type: args.service_type,
        modules,
        manager_login: args.manager_login,
        manager_email: args.manager_email,
    };
    let hasher = crate::auth::password::Hasher::from_config(&config.auth).map_err(runtime)?;
    let hash = hasher.hash(&password).map_err(runtime)?;
    // SAFETY: umask only sets the process's file mode mask; it cannot fail
    // and touches no memory of ours.
    unsafe { libc::umask(0o077) };
    crate::fsutil::create_private_dir(&args.data_dir)
        .map_err(|e| runtime(format!("cannot create {}: {e}", args.data_dir.display())))?;
    // Test builds give `Options` a fault-injection field.
    #[cfg_attr(not(test), allow(clippy::needless_update))]
    let options = store::Options {
        cache_size: config.storage.cache_size.0 as usize,
        create: true,
        ..store::Options::default()
    };
    let store = Store::open(
        &args.data_dir,
        &options,
        std::sync::Arc::new(crate::clock::SystemClock),
    )
    .map_err(runtime)?;
    if store.snapshot().initialised() {
        store.close();
        return Err(runtime(format!(
            "{} already holds a subscription; nothing was changed",
            args.data_dir.display()
        )));
    }
    let login = plan.manager_login.clone();
    let name = plan.subscription.clone();
    let id = crate::ids::new_id();
    let result = store.write_blocking(Actor::operator(), move |tx| {
        bootstrap::initialise_with(tx, &plan, id, FirstCredential::Password { hash })
    });
    store.close();
    result.map_err(|e| Failure::Usage(e.to_string()))?;
    println!(
        "created subscription \"{name}\" in {} with Manager \"{login}\" (active, primary contact)",
        args.data_dir.display()
    );
    Ok(())
}

fn ctl(args: CtlArgs) -> Result<(), Failure> {
    if let CtlCommand::Backup {
        verify: Some(file), ..
    } = &args.command
    {
        return verify_backup(file, args.json);
    }
    let data_dir = match (&args.data_dir, &args.config) {
        (Some(d), _) => d.clone(),
        (None, cfg) => tools_config(cfg.as_deref())?.data_dir(),
    };
    let client = Client::connect(&data_dir).map_err(runtime)?;
    let request = match args.command {
        CtlCommand::Status => Request::Status,
        CtlCommand::Features { command } => match command {
            FeaturesCommand::List => Request::FeaturesList,
            FeaturesCommand::Enable { name } => Request::FeatureSet {
                name,
                enabled: true,
            },
            FeaturesCommand::Disable { name } => Request::FeatureSet {
                name,
                enabled: false,
            },
        },
        CtlCommand::Subscription { command } => match command {
            SubscriptionCommand::Show => Request::SubscriptionShow,
            SubscriptionCommand::Set {
                service_type,
                modules,
            } => {
                if service_type.is_none() && modules.is_none() {
                    return Err(Failure::Usage(
                        "subscription set: give --service-type and/or --modules".into(),
                    ));
                }
                let modules = modules
                    .map(|m| Module::parse_list(&m))
                    .transpose()
                    .map_err(Failure::Usage)?;
                Request::SubscriptionSet {
                    service_type,
                    modules,
                }
            }
        },
        CtlCommand::Users { command } => match command {
            UsersCommand::Unlock { login } => Request::UsersUnlock { login },
            UsersCommand::ResetPassword { login } => Request::UsersResetPassword { login },
            UsersCommand::ActivationLink { login } => Request::UsersActivationLink { login },
        },
        CtlCommand::Mail { command } => {
            let (request, listing) = match command {
                MailCommand::Failed { limit } => (Request::MailFailed { limit: Some(limit) }, true),
                MailCommand::Retry { id } => (Request::MailRetry { id }, false),
                MailCommand::Flush => (Request::MailFlush, false),
            };
            let value = client.call(&request).map_err(runtime)?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&value).unwrap_or_default()
                );
            } else if listing {
                print_failed_mail(&value);
            } else if let Some(n) = value["pending"].as_u64() {
                match n {
                    0 => println!("no email is pending"),
                    1 => println!("the pending email is being sent now"),
                    n => println!("{n} pending emails are being sent now"),
                }
            } else if let Ok(v) =
                serde_json::from_value::<crate::admin::mail::FailedView>(value["requeued"].clone())
            {
                println!(
                    "mail {} to {} is back in the outbox; delivery starts again",
                    v.id, v.recipient
                );
            }
            return Ok(());
        }
        CtlCommand::Services { command } => match command {
            ServicesCommand::List => Request::ServicesList,
            ServicesCommand::Add { name, scopes } => Request::ServicesAdd { name, scopes },
            ServicesCommand::Rotate { name } => Request::ServicesRotate { name },
            ServicesCommand::Remove { name } => Request::ServicesRemove { name },
        },
        CtlCommand::Backup { out, verify: _ } => {
            let out =
                out.ok_or_else(|| Failure::Usage("give --out FILE or --verify FILE".into()))?;
            let (bytes, rows) = client.backup(&out).map_err(runtime)?;
            if args.json {
                let v = serde_json::json!({"out": out, "bytes": bytes, "records": rows});
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                println!(
                    "backup written to {} ({bytes} bytes, {rows} records)",
                    out.display()
                );
            }
            return Ok(());
        }
    };
    let value = client.call(&request).map_err(runtime)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        print_human(&value);
    }
    if value.get("secret").is_some() && !args.json {
        eprintln!(
            "store the secret now: it is not shown again (the service sends it as `Authorization: Bearer`)"
        );
    }
    // Warnings (a certificate about to expire) also go where people look.
    for w in value["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", w.as_str().unwrap_or_default());
    }
    Ok(())
}

/// Prints a JSON answer as `key: value` lines (lists one item a line).
/// `ctl mail failed` for people: one block per email.
fn print_failed_mail(value: &serde_json::Value) {
    let Ok(list) = serde_json::from_value::<crate::admin::mail::FailedList>(value.clone()) else {
        print_human(value);
        return;
    };
    if list.total == 0 {
        println!("no failed emails");
        return;
    }
    for f in &list.items {
        let what = match &f.subject {
            Some(s) => format!("{} {s:?}", f.kind),
            None => f.kind.clone(),
        };
        println!("{}  {}  {what}", f.id, f.recipient);
        println!(
            "    failed {} after {} tries: {}",
            f.failed_at, f.tries, f.last_error
        );
    }
    let shown = list.items.len() as u64;
    if list.total > shown {
        println!("({} more; use --limit)", list.total - shown);
    }
    println!("send one again: bailiwick ctl mail retry ID");
}

fn print_human(value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match v {
                    serde_json::Value::String(s) => println!("{k}: {s}"),
                    serde_json::Value::Null => println!("{k}: -"),
                    serde_json::Value::Array(items) if items.iter().all(|i| i.is_string()) => {
                        let items: Vec<&str> = items.iter().filter_map(|i| i.as_str()).collect();
                        println!("{k}: {}", items.join(", "));
                    }
                    other => println!("{k}: {other}"),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                if let (Some(n), Some(scopes)) = (item.get("name"), item.get("scopes")) {
                    let scopes: Vec<&str> = scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str())
                        .collect();
                    println!(
                        "{:<24} {:<32} created {}",
                        n.as_str().unwrap_or_default(),
                        scopes.join(","),
                        item["created_at"].as_str().unwrap_or_default()
                    );
                    continue;
                }
                match (item.get("name"), item.get("enabled")) {
                    (Some(n), Some(e)) => println!(
                        "{:<36} {}",
                        n.as_str().unwrap_or_default(),
                        if e.as_bool() == Some(true) {
                            "enabled"
                        } else {
                            "disabled"
                        }
                    ),
                    _ => println!("{item}"),
                }
            }
        }
        other => println!("{other}"),
    }
}

fn data_dir_of(args: &DataDirArgs) -> Result<PathBuf, Failure> {
    match (&args.data_dir, &args.config) {
        (Some(d), _) => Ok(d.clone()),
        (None, cfg) => Ok(tools_config(cfg.as_deref())?.data_dir()),
    }
}

fn log(args: LogArgs) -> Result<(), Failure> {
    match args.command {
        LogCommand::Verify { dir } => log_verify(&data_dir_of(&dir)?),
        LogCommand::Export {
            dir,
            since,
            until,
            format,
            csv,
        } => {
            let time = |name: &str, v: Option<String>| {
                v.map(|s| {
                    crate::domain::Timestamp::parse_rfc3339(&s)
                        .map(|t| t.unix_micros())
                        .ok_or_else(|| {
                            Failure::Usage(format!(
                                "--{name} {s:?} is not an RFC 3339 time; give e.g. 2026-11-25T04:00:00Z"
                            ))
                        })
                })
                .transpose()
            };
            let filter = crate::audit::query::Filter {
                since: time("since", since)?,
                until: time("until", until)?,
                ..Default::default()
            };
            let format = match (csv, format) {
                (true, _) | (false, Some(ExportFormatArg::Csv)) => {
                    crate::audit::export::ExportFormat::Csv
                }
                _ => crate::audit::export::ExportFormat::Jsonl,
            };
            log_export(&data_dir_of(&dir)?, &filter, format)
        }
    }
}

fn log_verify(data_dir: &Path) -> Result<(), Failure> {
    let dir = data_dir.join(crate::audit::DIR);
    if !dir.is_dir() {
        return Err(Failure::Usage(format!(
            "{} is not there: no activity log in {} (check --data-dir)",
            dir.display(),
            data_dir.display()
        )));
    }
    let report = crate::audit::verify::verify(&dir).map_err(runtime)?;
    let range = match (report.first_seq, report.last_seq) {
        (Some(a), Some(b)) => format!(", seq {a} to {b}"),
        _ => String::new(),
    };
    let plural = |n: u64, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    println!(
        "activity log {}: {}, {}{range}",
        dir.display(),
        plural(report.segments as u64, "segment"),
        plural(report.records, "record")
    );
    for note in &report.notes {
        println!("note: {note}");
    }
    for p in &report.problems {
        println!("BROKEN: {p}");
    }
    if report.ok() {
        println!("OK: every checksum, sequence number and hash link is intact");
        Ok(())
    } else {
        Err(Failure::Runtime(format!(
            "the activity log failed verification: {} problem(s), listed above; keep these files as evidence and restore the log from a backup",
            report.problems.len()
        )))
    }
}

fn log_export(
    data_dir: &Path,
    filter: &crate::audit::query::Filter,
    format: crate::audit::export::ExportFormat,
) -> Result<(), Failure> {
    let dir = data_dir.join(crate::audit::DIR);
    if !dir.is_dir() {
        return Err(Failure::Usage(format!(
            "{} is not there: no activity log in {} (check --data-dir)",
            dir.display(),
            data_dir.display()
        )));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = crate::audit::export::export(&dir, filter, format, &mut out).map_err(runtime)?;
    drop(out);
    if summary.skipped > 0 {
        return Err(Failure::Runtime(format!(
            "exported {} entries but left out {} damaged record(s) or segment(s); run `bailiwick log verify` to see where",
            summary.written, summary.skipped
        )));
    }
    Ok(())
}

fn verify_backup(file: &Path, json: bool) -> Result<(), Failure> {
    let v = crate::admin::backups::verify(file).map_err(runtime)?;
    if json {
        let mut value = serde_json::to_value(&v).unwrap_or_default();
        value["file"] = serde_json::json!(file);
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        println!(
            "{}: a good backup ({} bytes, {} records, {} activity entries in {} segment(s)); restore it with `bailiwick restore --from {} --data-dir DIR`",
            file.display(),
            v.bytes,
            v.records,
            v.activity_entries,
            v.segments,
            file.display()
        );
    }
    Ok(())
}

fn restore(from: &Path, data_dir: &Path) -> Result<(), Failure> {
    let summary = store::backup::restore(from, data_dir).map_err(runtime)?;
    println!(
        "restored {} records into {} ({} bytes); start the daemon to use it",
        summary.rows,
        data_dir.join(store::DB_FILE).display(),
        summary.bytes
    );
    Ok(())
}

fn check_config(path: Option<&Path>) -> Result<(), Failure> {
    let config = load_config(path)?;
    if !config.tls.cert.is_empty() {
        crate::tls::install_default_provider();
        crate::tls::load(
            &config.tls,
            &config.data_dir(),
            &crate::tls::Wanted::for_config(&config),
        )
        .map_err(|e| Failure::Usage(e.to_string()))?;
    }
    crate::auth::password::Hasher::from_config(&config.auth)
        .map_err(|e| Failure::Usage(e.to_string()))?;
    println!("{}", config.to_printable_toml());
    match path {
        Some(p) => eprintln!(
            "configuration OK ({} with environment overrides)",
            p.display()
        ),
        None => eprintln!("configuration OK (embedded defaults with environment overrides)"),
    }
    Ok(())
}
