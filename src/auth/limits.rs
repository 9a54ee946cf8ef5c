//! Login rate limits (R8.3), per source address and per login name, checked
//! before any password hashing.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The address key is the caller's per-source key (an IPv6 /64, see
/// `crate::source`); the login key is a keyed hash of the lowercased login,
/// so that an entry costs the same whatever length of login a client sends.
/// Both maps are pruned ([`LoginLimits::prune`]) of keys that recovered.
pub struct LoginLimits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_login: DefaultKeyedRateLimiter<u64>,
    login_keys: RandomState,
    clock: DefaultClock,
}

impl LoginLimits {
    pub fn new(per_address_per_minute: u32, per_login_per_minute: u32) -> LoginLimits {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            by_address: RateLimiter::keyed(quota(per_address_per_minute)),
            by_login: RateLimiter::keyed(quota(per_login_per_minute)),
            login_keys: RandomState::new(),
            clock: DefaultClock::default(),
        }
    }

    /// `Err(wait)` when this attempt is over a limit; the wait is what
    /// `Retry-After` says. The address is checked first so that a flood of
    /// names from one address does not use up other people's logins.
    pub fn check(&self, ip: Option<IpAddr>, login: &str) -> Result<(), Duration> {
        if let Some(ip) = ip {
            self.by_address
                .check_key(&ip)
                .map_err(|n| n.wait_time_from(self.clock.now()))?;
        }
        self.by_login
            .check_key(&self.login_keys.hash_one(login.to_lowercase()))
            .map_err(|n| n.wait_time_from(self.clock.now()))
    }

    /// The per-address limit alone: logins spend a login's budget only when
    /// they fail (`budget`), so the address is checked apart.
    pub fn check_address(&self, ip: Option<IpAddr>) -> Result<(), Duration> {
        match ip {
            Some(ip) => self
                .by_address
                .check_key(&ip)
                .map_err(|n| n.wait_time_from(self.clock.now())),
            None => Ok(()),
        }
    }

    /// Forgets keys whose limits have fully recovered, so memory stays bounded.
    pub fn prune(&self) {
        self.by_address.retain_recent();
        self.by_login.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_login.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r8_3_limits_per_address_and_per_login() {
        let l = LoginLimits::new(3, 2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.check(Some(a), "jane").is_ok());
        assert!(l.check(Some(b), "JANE").is_ok());
        // Third try for jane, from anywhere: limited, with a wait to report.
        let wait = l.check(Some(b), "jane").unwrap_err();
        assert!(wait > Duration::ZERO);
        // Address a still has room for two more logins, then no more.
        assert!(l.check(Some(a), "bob").is_ok());
        assert!(l.check(Some(a), "carol").is_ok());
        assert!(l.check(Some(a), "dave").is_err(), "a used its 3 per minute");
    }

    /// Per-address and per-login state is bounded: keys that recovered are
    /// pruned (login keys are fixed-size hashes, however long the login).
    #[test]
    fn r8_3_limit_state_is_pruned_and_fixed_size_per_key() {
        // A quota this large recovers in microseconds, so prune can drop all.
        let l = LoginLimits::new(1_000_000, 1_000_000);
        let long = "x".repeat(4096);
        for i in 0..5000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert!(l.check(Some(ip), &format!("{long}{i}")).is_ok());
        }
        assert_eq!(l.by_address.len(), 5000);
        assert_eq!(l.by_login.len(), 5000);
        std::thread::sleep(Duration::from_millis(50));
        l.prune();
        assert_eq!(l.by_address.len(), 0);
        assert_eq!(l.by_login.len(), 0);
    }
}
