//! Login as a whole (R8.1–R8.4): rate limits first, then one password
//! verification on the bounded pool, then one durable write that records the
//! outcome. Every refusal looks the same to the caller.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::basic_cache::BasicCache;
use super::budget::{Budget, Sampler};
use super::limits::LoginLimits;
use super::password::{HashError, Hasher};
use super::pool::{Busy, HashPool, Lane};
use crate::config::AuthConfig;
use crate::domain::LogAction;
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
    /// The right password, on a channel this account may not use (R8.1:
    /// `api_only` accounts and the console). Said only after verification.
    Refused(crate::domain::Refusal),
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
    /// Failed attempts per login (R8.3): only failures spend it.
    failed_logins: Budget,
    /// Self-service reset requests per address, wrong answers per login
    /// (R8.7): apart from logins, so resets cannot block anyone's login.
    reset_by_address: Budget,
    /// One-time link openings per address (R7.1).
    link_by_address: Budget,
    reset_by_login: Budget,
    /// Limit hits go to the activity log, sampled.
    limit_hits: Sampler,
    /// Keys the decoy questions of logins without real ones (R8.7).
    decoy_key: ring::hmac::Key,
    /// IPv6 addresses are one source per this prefix (`server.ipv6_prefix`).
    ipv6_prefix: u8,
    /// Verified HTTP Basic credentials, remembered (R8.1).
    basic: BasicCache,
}

/// Questions a decoy is made of: what people commonly choose, so that a
/// decoy looks like a real set.
const DECOY_QUESTIONS: [&str; 12] = [
    "What was the name of your first pet?",
    "In what city were you born?",
    "What was the make of your first car?",
    "What is your mother's maiden name?",
    "What was the name of your elementary school?",
    "What is the name of the street you grew up on?",
    "What was your childhood nickname?",
    "What is your favorite book?",
    "In what city did your parents meet?",
    "What was the first concert you attended?",
    "What is the middle name of your oldest sibling?",
    "What was your first job?",
];

/// The decoy key file in the data directory: decoys stay the same across
/// restarts, so that asking again after one reveals nothing.
pub const DECOY_KEY_FILE: &str = "reset-decoy.key";

/// Reads the decoy key from `dir`, or makes and stores one. Without a
/// readable or writable directory the key lives only in memory.
pub fn load_decoy_key(dir: &std::path::Path) -> [u8; 32] {
    let path = dir.join(DECOY_KEY_FILE);
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return key;
    }
    let mut key = [0u8; 32];
    ids::fill_random(&mut key);
    if let Err(e) = crate::fsutil::write_private_atomic(&path, &key) {
        tracing::warn!(error = %e, path = %path.display(), "the reset decoy key could not be stored; decoys change at restart");
    }
    key
}

/// Within this long of a successful login of a user, its address is not
/// held by that login's limit (R8.3).
const TRUSTED_FOR: Duration = Duration::from_secs(86400);

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
            failed_logins: Budget::per_minute(config.rate_per_login_per_minute),
            reset_by_address: Budget::per_minute(config.reset_rate_per_address_per_minute),
            link_by_address: Budget::per_minute(config.reset_rate_per_address_per_minute),
            reset_by_login: Budget::per_minute(config.reset_rate_per_login_per_minute),
            limit_hits: Sampler::default(),
            decoy_key: {
                let mut k = [0u8; 32];
                ids::fill_random(&mut k);
                ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k)
            },
            ipv6_prefix: 64,
            basic: BasicCache::new(config.basic_cache_ttl.0, config.basic_log_interval.0),
        })
    }

    /// Uses `key` for decoy questions (see [`load_decoy_key`]).
    pub fn with_decoy_key(mut self, key: &[u8; 32]) -> Authenticator {
        self.decoy_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
        self
    }

    /// Three plausible questions for a login that has none to show (R8.7):
    /// the same for the same login every time, so that the answer does not
    /// tell unknown logins from known ones.
    pub fn decoy_questions(&self, login: &str) -> Vec<String> {
        let tag = ring::hmac::sign(&self.decoy_key, login.to_lowercase().as_bytes());
        let mut pool: Vec<&str> = DECOY_QUESTIONS.to_vec();
        let mut out = Vec::with_capacity(3);
        for b in tag.as_ref().iter().take(3) {
            let i = usize::from(*b) % pool.len();
            out.push(pool.remove(i).to_owned());
        }
        out
    }

    /// Spends what checking three answers costs, for a login without real
    /// ones (R8.7: unknown logins take the same time, as at login).
    pub async fn dummy_answers(&self, ip: Option<IpAddr>, answers: &[String]) -> Result<(), Busy> {
        for a in answers {
            self.verify(ip, a.clone(), self.dummy_hash.clone()).await?;
        }
        Ok(())
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

    /// Whether failures are counted apart for familiar addresses (R8.2).
    pub fn smart_lockout(&self) -> bool {
        self.config.smart_lockout
    }

    /// Forgets rate-limit state that has recovered, so memory stays bounded.
    pub fn prune(&self) {
        self.limits.prune();
        self.failed_logins.prune();
        self.reset_by_address.prune();
        self.link_by_address.prune();
        self.reset_by_login.prune();
        self.limit_hits.prune();
    }

    /// Logs a limit hit (R8.3, R11.1), at most once per login and address
    /// per minute so that a flood does not flood the log.
    pub async fn log_limited(&self, store: &Store, ip: Option<IpAddr>, login: &str, what: &str) {
        if !self.limit_hits.sample(login, ip) {
            return;
        }
        let shown = credentials::shown(login);
        let actor = Actor {
            user: None,
            login: shown.clone(),
            business_unit: None,
            ip,
        };
        let what = what.to_owned();
        let logged = store
            .write(actor, move |tx| {
                tx.log(LogAction::LoginRateLimited, format!("login {shown}"), what);
                Ok(())
            })
            .await;
        if let Err(e) = logged {
            tracing::warn!(error = %e, "a rate-limit hit could not be logged");
        }
    }

    /// The per-login limit, unless `ip` had a successful login of that
    /// user within a day (R8.3): an attacker spending a login's budget does
    /// not keep its owner out.
    fn login_budget(
        &self,
        state: &crate::domain::State,
        user: Option<&User>,
        login: &str,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(), Duration> {
        let trusted = user
            .and_then(|u| state.credentials.get(&u.id))
            .is_some_and(|c| credentials::is_familiar(c, ip, now, TRUSTED_FOR));
        if trusted {
            return Ok(());
        }
        match self.failed_logins.wait(&login.to_lowercase()) {
            Some(w) => Err(w),
            None => Ok(()),
        }
    }

    /// The self-service reset's own limits (R8.7): per address, and per
    /// login for wrong answers (spent by [`Authenticator::reset_failed`]).
    pub async fn reset_limits(
        &self,
        store: &Store,
        ip: Option<IpAddr>,
        login: &str,
    ) -> Result<(), LoginError> {
        let key = self
            .source(ip)
            .map_or_else(String::new, |ip| ip.to_string());
        let checked = self.reset_by_address.take(&key).and_then(|()| {
            match self.reset_by_login.wait(&login.to_lowercase()) {
                Some(w) => Err(w),
                None => Ok(()),
            }
        });
        if let Err(wait) = checked {
            self.log_limited(store, ip, login, "self-service reset rate limited")
                .await;
            return Err(LoginError::RateLimited(wait));
        }
        Ok(())
    }

    /// The one-time links' own limit (R7.1): per source address, checked
    /// before the link is even looked up, so guessing links is slow and a
    /// flood of them cannot reach the hashing pool.
    pub fn link_limits(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        let key = self
            .source(ip)
            .map_or_else(String::new, |ip| ip.to_string());
        self.link_by_address.take(&key)
    }

    /// Spends one wrong answer of `login`'s reset budget.
    pub fn reset_failed(&self, login: &str) {
        self.reset_by_login.charge(&login.to_lowercase());
    }

    /// The limits of a login, for a signed-in user about to give its
    /// current password (R8.3): checked before anything else.
    pub async fn current_limits(
        &self,
        store: &Store,
        user: &User,
        ip: Option<IpAddr>,
    ) -> Result<(), LoginError> {
        if let Err(wait) = self.limits.check_address(ip) {
            self.log_limited(store, ip, &user.login, "address rate limited")
                .await;
            return Err(LoginError::RateLimited(wait));
        }
        let state = store.snapshot();
        let now = store.clock().now();
        if let Err(wait) = self.login_budget(&state, Some(user), &user.login, ip, now) {
            self.log_limited(store, ip, &user.login, "login rate limited")
                .await;
            return Err(LoginError::RateLimited(wait));
        }
        Ok(())
    }

    /// Verifies a signed-in user's current password as a login would
    /// (R8.2, R8.3): limits first, the lock of its address, and a wrong
    /// password counted as a failed login.
    ///
    /// Call [`Authenticator::current_limits`] first.
    pub async fn verify_current(
        &self,
        store: &Store,
        user: &User,
        password: &str,
        origin: &Origin,
    ) -> Result<(), LoginError> {
        let state = store.snapshot();
        let now = store.clock().now();
        if password.len() > MAX_PASSWORD {
            return Err(LoginError::Denied);
        }
        let stored = state
            .credentials
            .get(&user.id)
            .and_then(|c| c.password_hash.clone());
        let checked_against = stored.clone().unwrap_or_else(|| self.dummy_hash.clone());
        let verified = self
            .verify(origin.ip, password.to_owned(), checked_against)
            .await
            .map_err(|Busy| LoginError::Busy)?
            && stored.is_some();
        let smart = self.config.smart_lockout;
        let barrier = credentials::login_barrier_from(&state, user, origin.ip, now, smart);
        if verified && barrier.is_none() {
            return Ok(());
        }
        self.failed_logins.charge(&user.login.to_lowercase());
        let why = barrier.unwrap_or(Denied::WrongPassword);
        let id = user.id.clone();
        let api = origin.api;
        let actor = Actor {
            user: Some(user.id.clone()),
            login: user.login.clone(),
            business_unit: user.business_unit.clone(),
            ip: origin.ip,
        };
        store
            .write(actor, move |tx| {
                credentials::record_failure(tx, &id, why, api, smart);
                Ok(())
            })
            .await
            .map_err(LoginError::Unavailable)?;
        Err(LoginError::Denied)
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
        self.login_logged(store, login, password, origin, with_session, true)
            .await
    }

    /// API access by HTTP Basic (R8.1). Credentials verified within
    /// `auth.basic_cache_ttl` are not verified again and spend no rate
    /// budget; access is logged (and `last_login_at` moved) once per login
    /// and source address per `auth.basic_log_interval`.
    pub async fn login_basic(
        &self,
        store: &Store,
        login: &str,
        password: &str,
        origin: &Origin,
    ) -> Result<User, LoginError> {
        let state = store.snapshot();
        let now = store.clock().now();
        let smart = self.config.smart_lockout;
        let source = self.source(origin.ip);
        let locked =
            |u: &User| credentials::login_barrier_from(&state, u, origin.ip, now, smart).is_some();
        if let Some(user) = self.basic.hit(&state, login, password, locked) {
            if !self.basic.log_due(&user.id, source) {
                return Ok(user);
            }
            let id = user.id.clone();
            return store
                .write(actor_of(&user, origin.ip), move |tx| {
                    credentials::record_api_access(tx, &id)
                })
                .await
                .map_err(refused_is_denied);
        }
        let quiet = state
            .user_by_login(login)
            .is_some_and(|u| self.basic.recently_logged(&u.id, source));
        let ok = self
            .login_logged(store, login, password, origin, false, !quiet)
            .await?;
        if !quiet {
            self.basic.log_due(&ok.user.id, source);
        }
        self.basic
            .remember(&store.snapshot(), login, password, &ok.user);
        Ok(ok.user)
    }

    async fn login_logged(
        &self,
        store: &Store,
        login: &str,
        password: &str,
        origin: &Origin,
        with_session: bool,
        log: bool,
    ) -> Result<LoginOk, LoginError> {
        if let Err(wait) = self.limits.check_address(self.source(origin.ip)) {
            self.log_limited(store, origin.ip, login, "address rate limited")
                .await;
            return Err(LoginError::RateLimited(wait));
        }
        if login.len() > MAX_LOGIN || password.len() > MAX_PASSWORD {
            return Err(LoginError::Denied);
        }
        let state = store.snapshot();
        let user = state.user_by_login(login).cloned();
        let now = store.clock().now();
        if let Err(wait) = self.login_budget(&state, user.as_ref(), login, origin.ip, now) {
            self.log_limited(store, origin.ip, login, "login rate limited")
                .await;
            return Err(LoginError::RateLimited(wait));
        }
        let smart = self.config.smart_lockout;
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
                .unwrap_or_else(|| credentials::shown(login)),
            business_unit: user.as_ref().and_then(|u| u.business_unit.clone()),
            ip: origin.ip,
        };
        let api = origin.api;
        if !verified {
            self.failed_logins.charge(&login.to_lowercase());
        }
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
        let barrier = credentials::login_barrier_from(&state, &user, origin.ip, now, smart);
        if barrier.is_some() || !verified {
            let why = barrier.unwrap_or(Denied::WrongPassword);
            let id = user.id.clone();
            store
                .write(actor, move |tx| {
                    credentials::record_failure(tx, &id, why, api, smart);
                    Ok(())
                })
                .await
                .map_err(LoginError::Unavailable)?;
            return Err(LoginError::Denied);
        }
        if with_session && !origin.api {
            credentials::may_use_console(&user).map_err(LoginError::Refused)?;
        }
        let rehash = match &stored {
            Some(h) if self.hasher.needs_rehash(h) => {
                self.hash(origin.ip, password.to_owned()).await.ok()
            }
            _ => None,
        };
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
                credentials::record_success(tx, &id, rehash, s, api, smart, log)
            })
            .await
            .map_err(refused_is_denied)?;
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

fn refused_is_denied(e: WriteError) -> LoginError {
    match e {
        WriteError::Refused(_) => LoginError::Denied,
        other => LoginError::Unavailable(other),
    }
}

fn actor_of(user: &User, ip: Option<IpAddr>) -> Actor {
    Actor {
        user: Some(user.id.clone()),
        login: user.login.clone(),
        business_unit: user.business_unit.clone(),
        ip,
    }
}

/// A generated password of at least 20 characters, and at least
/// `min_length`, so that it meets the policy in force (R8.5): letters,
/// digits and R8.5 specials, with at least one letter and one digit.
pub fn generate_password_of(min_length: u32) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-+=!@#%";
    let len = (min_length as usize).clamp(20, 1024);
    loop {
        let mut raw = vec![0u8; len];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_the_policy() {
        for _ in 0..200 {
            let p = generate_password_of(8);
            assert_eq!(p.len(), 20, "never shorter than 20, whatever the policy");
            crate::domain::password::check(&p, 20).unwrap();
        }
    }

    #[test]
    fn decoy_questions_are_three_distinct_and_the_same_for_the_same_login() {
        let config = AuthConfig {
            argon2_memory_kib: 64,
            argon2_iterations: 1,
            ..AuthConfig::default()
        };
        let a = Authenticator::new(&config)
            .unwrap()
            .with_decoy_key(&[7; 32]);
        let q = a.decoy_questions("nobody");
        assert_eq!(q.len(), 3);
        assert!(q[0] != q[1] && q[1] != q[2] && q[0] != q[2]);
        assert_eq!(
            a.decoy_questions("NOBODY"),
            q,
            "logins are case-insensitive"
        );
        let b = Authenticator::new(&config)
            .unwrap()
            .with_decoy_key(&[7; 32]);
        assert_eq!(
            b.decoy_questions("nobody"),
            q,
            "the same key after a restart"
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_decoy_key(dir.path()), load_decoy_key(dir.path()));
    }

    #[test]
    fn generated_passwords_meet_a_minimum_length_above_20() {
        for min in [21, 32, 64, 128] {
            let p = generate_password_of(min);
            assert_eq!(p.chars().count(), min as usize);
            crate::domain::password::check(&p, min).unwrap();
        }
    }
}
