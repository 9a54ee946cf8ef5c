//! Login as a whole (R8.1–R8.4): rate limits first, then one password
//! verification on the bounded pool, then one durable write that records the
//! outcome. Every refusal looks the same to the caller.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::limits::LoginLimits;
use super::password::{HashError, Hasher};
use super::pool::{Busy, HashPool, Lane};
use crate::config::AuthConfig;
use crate::domain::credentials::{self, Denied};
use crate::domain::{Actor, Session, Timestamp, User};
use crate::ids;
use crate::store::{Store, WriteError};

/// Longest login and password looked at; longer ones are refused unhashed.
const MAX_LOGIN: usize = 256;
const MAX_PASSWORD: usize = 1024;

#[derive(Debug)]
pub enum LoginError {
    /// Over a rate limit: retry after this long.
    RateLimited(Duration),
    /// The hashing pool is full, or this address has a hash in flight.
    Busy,
    /// Every other refusal (R8.4).
    Denied,
    Unavailable(WriteError),
}

#[derive(Debug)]
pub struct LoginOk {
    pub user: User,
    /// The bearer token, when a session was asked for.
    pub token: Option<String>,
    pub session: Option<Session>,
    /// The password has expired: only the change endpoint works (R8.5).
    pub password_change_required: bool,
}

/// Where a login comes from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<IpAddr>,
    pub user_agent: String,
    /// HTTP Basic: API access, logged as such (R8.1).
    pub api: bool,
}

pub struct Authenticator {
    hasher: Hasher,
    pool: HashPool,
    limits: LoginLimits,
    /// Verified against when the login is unknown, so that unknown and known
    /// logins cost the same (R8.4).
    dummy_hash: String,
    config: AuthConfig,
    /// Addresses with a recent successful login: they hash in their own lane
    /// of the pool, so a flood from other addresses cannot lock them out.
    known: Mutex<HashMap<IpAddr, Instant>>,
    /// IPv6 addresses are one source per this prefix (`server.ipv6_prefix`).
    ipv6_prefix: u8,
}

/// How long a successful login keeps its address in the known lane.
const KNOWN_FOR: Duration = Duration::from_secs(7 * 24 * 3600);
/// At most this many known addresses are remembered (memory stays bounded).
const MAX_KNOWN: usize = 65_536;

impl Authenticator {
    pub fn new(config: &AuthConfig) -> Result<Authenticator, HashError> {
        let hasher = Hasher::from_config(config)?;
        let dummy_hash = hasher.hash(&ids::new_token())?;
        let workers = match config.hash_workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n as usize,
        };
        Ok(Authenticator {
            hasher,
            pool: HashPool::new(workers, workers * 8),
            limits: LoginLimits::new(
                config.rate_per_address_per_minute,
                config.rate_per_login_per_minute,
            ),
            dummy_hash,
            config: config.clone(),
            known: Mutex::default(),
            ipv6_prefix: 64,
        })
    }

    /// Keys per-address state (rate limits, the pool, the known lane) by
    /// this IPv6 prefix length, as `server.ipv6_prefix` says.
    pub fn with_ipv6_prefix(mut self, bits: u8) -> Authenticator {
        self.ipv6_prefix = bits;
        self
    }

    /// The key of `ip`'s per-address state.
    fn source(&self, ip: Option<IpAddr>) -> Option<IpAddr> {
        ip.map(|ip| crate::source::key(ip, self.ipv6_prefix))
    }

    pub fn pool(&self) -> &HashPool {
        &self.pool
    }

    pub fn limits(&self) -> &LoginLimits {
        &self.limits
    }

    /// Hashes a secret on the pool.
    pub async fn hash(&self, ip: Option<IpAddr>, secret: String) -> Result<String, Busy> {
        let h = self.hasher.clone();
        match self
            .pool
            .run(self.source(ip), move || h.hash(&secret))
            .await?
        {
            Ok(hash) => Ok(hash),
            Err(e) => {
                tracing::error!(error = %e, "password hashing failed");
                Err(Busy)
            }
        }
    }

    /// Verifies a secret against a stored hash on the pool.
    pub async fn verify(
        &self,
        ip: Option<IpAddr>,
        secret: String,
        hash: String,
    ) -> Result<bool, Busy> {
        let h = self.hasher.clone();
        self.pool
            .run_in(self.source(ip), self.lane(ip), move || {
                h.verify(&secret, &hash)
            })
            .await
    }

    fn lane(&self, ip: Option<IpAddr>) -> Lane {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        match self.source(ip).and_then(|ip| known.get(&ip)) {
            Some(since) if since.elapsed() < KNOWN_FOR => Lane::Known,
            _ => Lane::Open,
        }
    }

    fn remember(&self, ip: Option<IpAddr>) {
        let Some(ip) = self.source(ip) else { return };
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= MAX_KNOWN && !known.contains_key(&ip) {
            known.retain(|_, since| since.elapsed() < KNOWN_FOR);
            if known.len() >= MAX_KNOWN {
                return;
            }
        }
        known.insert(ip, Instant::now());
    }

    /// Checks `login`/`password`, records the outcome durably, and (with
    /// `with_session`) opens a session.
    pub async fn login(
        &self,
        store: &Store,
        login: &str,
        password: &str,
        origin: &Origin,
        with_session: bool,
    ) -> Result<LoginOk, LoginError> {
        self.limits
            .check(self.source(origin.ip), login)
            .map_err(LoginError::RateLimited)?;
        if login.len() > MAX_LOGIN || password.len() > MAX_PASSWORD {
            return Err(LoginError::Denied);
        }
        let state = store.snapshot();
        let user = state.user_by_login(login).cloned();
        let stored = user
            .as_ref()
            .and_then(|u| state.credentials.get(&u.id))
            .and_then(|c| c.password_hash.clone());
        let checked_against = stored.clone().unwrap_or_else(|| self.dummy_hash.clone());
        let verified = self
            .verify(origin.ip, password.to_owned(), checked_against)
            .await
            .map_err(|Busy| LoginError::Busy)?
            && stored.is_some();
        let actor = Actor {
            user: user.as_ref().map(|u| u.id.clone()),
            login: user
                .as_ref()
                .map(|u| u.login.clone())
                .unwrap_or_else(|| login.chars().take(64).collect()),
            business_unit: user.as_ref().and_then(|u| u.business_unit.clone()),
            ip: origin.ip,
        };
        let api = origin.api;
        let Some(user) = user else {
            let l = login.to_owned();
            store
                .write(actor, move |tx| {
                    credentials::record_unknown_login(tx, &l, api);
                    Ok(())
                })
                .await
                .map_err(LoginError::Unavailable)?;
            return Err(LoginError::Denied);
        };
        let barrier = credentials::login_barrier(&state, &user);
        if barrier.is_some() || !verified {
            let why = barrier.unwrap_or(Denied::WrongPassword);
            let id = user.id.clone();
            store
                .write(actor, move |tx| {
                    credentials::record_failure(tx, &id, why, api);
                    Ok(())
                })
                .await
                .map_err(LoginError::Unavailable)?;
            return Err(LoginError::Denied);
        }
        let rehash = match &stored {
            Some(h) if self.hasher.needs_rehash(h) => {
                self.hash(origin.ip, password.to_owned()).await.ok()
            }
            _ => None,
        };
        let now = store.clock().now();
        let (token, session) = if with_session {
            let token = ids::new_token();
            let session = self.new_session(&token, &user, now, origin);
            (Some(token), Some(session))
        } else {
            (None, None)
        };
        let id = user.id.clone();
        let s = session.clone();
        let user = store
            .write(actor, move |tx| {
                credentials::record_success(tx, &id, rehash, s, api)
            })
            .await
            .map_err(|e| match e {
                WriteError::Refused(_) => LoginError::Denied,
                other => LoginError::Unavailable(other),
            })?;
        self.remember(origin.ip);
        let password_change_required = credentials::password_expired(&store.snapshot(), &user, now);
        Ok(LoginOk {
            user,
            token,
            session,
            password_change_required,
        })
    }

    fn new_session(&self, token: &str, user: &User, now: Timestamp, origin: &Origin) -> Session {
        Session {
            token_hash: ids::token_hash(token),
            id: ids::new_id(),
            user: user.id.clone(),
            created_at: now,
            last_used_at: now,
            expires_at: now.saturating_add(self.config.session_absolute.0),
            ip: origin.ip,
            user_agent: origin.user_agent.chars().take(256).collect(),
        }
    }
}

/// A generated password that meets the default policy: 20 characters of
/// letters, digits and R8.5 specials, with at least one letter and one digit.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-+=!@#%";
    loop {
        let mut raw = [0u8; 20];
        ids::fill_random(&mut raw);
        // 64 symbols: a byte's low six bits pick one without bias.
        let p: String = raw
            .iter()
            .map(|b| ALPHABET[(*b & 63) as usize] as char)
            .collect();
        if p.chars().any(|c| c.is_ascii_alphabetic()) && p.chars().any(|c| c.is_ascii_digit()) {
            return p;
        }
    }
}

/// Shared by the HTTP layer and the admin socket.
pub type SharedAuthenticator = Arc<Authenticator>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_the_policy() {
        for _ in 0..200 {
            let p = generate_password();
            assert_eq!(p.len(), 20);
            crate::domain::password::check(&p, 20).unwrap();
        }
    }
}
