//! The integration tests: one binary, so the suite links once. Most drive
//! the real `bailiwick` binary over HTTPS (`common::Daemon`); `session_clock`
//! runs the router in-process with a clock the test moves. Run one suite
//! with `cargo test --release --test integration people::`.

mod common;

mod activity;
mod assets;
mod backup;
mod console;
mod crash;
mod docs;
mod forward;
mod foundation;
mod lifecycle;
mod login;
mod mail;
mod packaging;
mod people;
mod services;
mod session_clock;
mod session_sweep;
mod stalled_exports;
mod upgrade;
