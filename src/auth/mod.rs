//! Credentials: password hashing, tokens, activation links. Login, sessions,
//! lockout and rate limiting build on these.

pub mod basic_cache;
pub mod budget;
pub mod last_use;
pub mod limits;
pub mod password;
pub mod pool;
pub mod service;
mod workers;
