//! Budgets that only failures spend (R8.3), the self-service reset's own
//! limits (R8.7), and the sampling of limit hits for the activity log.
//!
//! The one thing to know: a [`Budget`] can be *looked at* without being
//! spent. A login's budget is checked before hashing and charged only when
//! the attempt fails, so someone who does not know the password cannot use
//! up the logins of someone who does (issue: lockout as denial of service).
//!
//! ```
//! use bailiwick::auth::budget::Budget;
//! let b = Budget::per_minute(2);
//! assert!(b.wait("jane").is_none());
//! b.charge("jane");
//! b.charge("jane");
//! assert!(b.wait("jane").is_some());
//! assert!(b.wait("bob").is_none());
//! ```

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Keys remembered at most; past it, keys whose budget has recovered are
/// forgotten, and if none has, new keys go uncharged (the per-address limit
/// still holds them), so memory stays bounded whatever a client sends.
const MAX_KEYS: usize = 100_000;

const WINDOW: Duration = Duration::from_secs(60);

/// `n` events per minute per key, as a generic cell rate: each charge moves
/// the key's theoretical arrival time one interval on; a key is over when
/// that time is more than a window (less one interval) ahead of now.
pub struct Budget {
    interval: Duration,
    tat: Mutex<HashMap<String, Instant>>,
}

impl Budget {
    pub fn per_minute(n: u32) -> Budget {
        Budget {
            interval: WINDOW / n.max(1),
            tat: Mutex::default(),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.tat.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long to wait before `key` may go on; `None` when it may now.
    pub fn wait(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        let tat = (*self.map().get(key)?).max(now);
        let ahead = tat - now;
        let room = WINDOW - self.interval;
        (ahead > room).then(|| ahead - room)
    }

    /// Spends one event of `key`'s budget.
    pub fn charge(&self, key: &str) {
        let now = Instant::now();
        let mut map = self.map();
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            map.retain(|_, tat| *tat > now);
            if map.len() >= MAX_KEYS {
                return;
            }
        }
        let tat = map.entry(key.to_owned()).or_insert(now);
        *tat = (*tat).max(now) + self.interval;
    }

    /// [`Budget::wait`], then [`Budget::charge`] when it may go on.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        match self.wait(key) {
            Some(w) => Err(w),
            None => {
                self.charge(key);
                Ok(())
            }
        }
    }

    /// Forgets keys whose budget has fully recovered.
    pub fn prune(&self) {
        let now = Instant::now();
        self.map().retain(|_, tat| *tat > now);
    }
}

/// At most one `true` per login and address per minute: limit hits are
/// logged, but a flood of them must not flood the log.
#[derive(Default)]
pub struct Sampler {
    last: Mutex<HashMap<(String, Option<IpAddr>), Instant>>,
}

impl Sampler {
    pub fn sample(&self, login: &str, ip: Option<IpAddr>) -> bool {
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let key = (login.to_lowercase(), ip);
        if last
            .get(&key)
            .is_some_and(|t| now.duration_since(*t) < WINDOW)
        {
            return false;
        }
        if last.len() >= MAX_KEYS {
            last.retain(|_, t| now.duration_since(*t) < WINDOW);
            if last.len() >= MAX_KEYS {
                return false;
            }
        }
        last.insert(key, now);
        true
    }

    pub fn prune(&self) {
        let now = Instant::now();
        self.last
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, t| now.duration_since(*t) < WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_spend_a_login_budget() {
        let b = Budget::per_minute(3);
        // Looking is free: any number of checks spend nothing.
        for _ in 0..10 {
            assert!(b.wait("jane").is_none());
        }
        for _ in 0..3 {
            b.charge("jane");
        }
        let w = b
            .wait("jane")
            .expect("three failures use up three per minute");
        assert!(w > Duration::ZERO && w <= WINDOW);
        assert!(b.wait("bob").is_none(), "other keys are untouched");
    }

    #[test]
    fn take_spends_and_refuses_past_the_budget() {
        let b = Budget::per_minute(2);
        assert!(b.take("a").is_ok());
        assert!(b.take("a").is_ok());
        assert!(b.take("a").is_err());
    }

    #[test]
    fn limit_hits_are_sampled_once_per_login_and_address_per_minute() {
        let s = Sampler::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(s.sample("jane", Some(a)));
        assert!(!s.sample("JANE", Some(a)));
        assert!(s.sample("jane", Some(b)));
        assert!(s.sample("bob", Some(a)));
    }
}
