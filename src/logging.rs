//! Process logs: `tracing` to stderr, human on a terminal and JSON otherwise
//! (journald, files), level from `RUST_LOG` (default `info`).
//!
//! Never log a password, a token or a link that carries one; the first-run
//! activation link is printed on stdout, not logged.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Human => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    // A log line that cannot be written (stderr is a file on a full disk) is
    // dropped: the default reports it with `eprintln!`, which panics the
    // logging thread, a request handler or the store writer.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
