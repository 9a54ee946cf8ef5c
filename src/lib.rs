//! bailiwick: the user and access authority of a security-scanning appliance.
//!
//! One daemon owns the subscription's users, roles, business units and
//! sessions, stores them in one redb file, and answers "may this user do this
//! to that?" for the other services of the appliance. See ARCHITECTURE.md
//! for the map of these modules.

pub mod admin;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod daemon;
/// The rules, in their own crate so that the compiler keeps them pure; the
/// old path keeps working for the rest of the daemon.
pub use bailiwick_domain as domain;
pub mod fsutil;
pub mod http;
pub mod ids;
pub mod logging;
pub mod metrics;
pub mod notify;
mod process_metrics;
pub mod source;
pub mod store;
pub mod systemd;
pub mod tls;
