//! Login rate limits (R8.3), per source address and per login name, checked
//! before any password hashing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct LoginLimits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_login: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl LoginLimits {
    pub fn new(per_address_per_minute: u32, per_login_per_minute: u32) -> LoginLimits {
        let quota =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN));
        LoginLimits {
            by_address: RateLimiter::dashmap(quota(per_address_per_minute)),
            by_login: RateLimiter::dashmap(quota(per_login_per_minute)),
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
            .check_key(&login.to_lowercase())
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
}
