//! HTTP Basic that scripts can live with (R8.1): a verified login and
//! password is remembered for `auth.basic_cache_ttl`, so the next request
//! costs a keyed hash, not an argon2 verification, a durable write and a log
//! entry.
//!
//! The one thing to know: the cache holds no password, only an HMAC of login
//! and password under a key that lives in memory, and an entry is trusted
//! only while the user is as it was when verified: same stored password hash,
//! same role, active and not locked. So a password change, reset, lock,
//! deactivation, deletion or role change ends it at the next request without
//! any hook to forget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::domain::{Id, Role, State, User, UserStatus};
use crate::ids;

/// Entries held at most; past it, expired ones go, then all (a flood of
/// distinct good credentials is not something to keep).
const MAX_ENTRIES: usize = 16_384;

struct Entry {
    user: Id,
    role: Role,
    /// The stored hash the password was verified against.
    password_hash: String,
    at: Instant,
}

pub struct BasicCache {
    key: ring::hmac::Key,
    ttl: Duration,
    log_interval: Duration,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    /// When API access of a login from a source was last logged.
    logged: Mutex<HashMap<(Id, Option<IpAddr>), Instant>>,
}

impl BasicCache {
    pub fn new(ttl: Duration, log_interval: Duration) -> BasicCache {
        let mut k = [0u8; 32];
        ids::fill_random(&mut k);
        BasicCache {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k),
            ttl,
            log_interval,
            entries: Mutex::default(),
            logged: Mutex::default(),
        }
    }

    fn tag(&self, login: &str, password: &str) -> [u8; 32] {
        let mut ctx = ring::hmac::Context::with_key(&self.key);
        ctx.update(login.to_lowercase().as_bytes());
        ctx.update(&[0]);
        ctx.update(password.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// The user these credentials verified as within the TTL, if it is still
    /// as it was; `locked` says whether a lock now refuses it from here.
    pub fn hit(
        &self,
        state: &State,
        login: &str,
        password: &str,
        locked: impl FnOnce(&User) -> bool,
    ) -> Option<User> {
        if self.ttl.is_zero() {
            return None;
        }
        let tag = self.tag(login, password);
        let mut entries = self.entries.lock().ok()?;
        let e = entries.get(&tag)?;
        let user = state.users.get(&e.user).filter(|u| {
            u.status == UserStatus::Active
                && u.role == e.role
                && u.login.eq_ignore_ascii_case(login)
                && state
                    .credentials
                    .get(&u.id)
                    .and_then(|c| c.password_hash.as_deref())
                    == Some(e.password_hash.as_str())
        });
        match user {
            Some(u) if e.at.elapsed() < self.ttl && !locked(u) => Some(u.clone()),
            _ => {
                entries.remove(&tag);
                None
            }
        }
    }

    /// Remembers a successful verification of `user` against its stored
    /// hash in `state`.
    pub fn remember(&self, state: &State, login: &str, password: &str, user: &User) {
        if self.ttl.is_zero() {
            return;
        }
        let Some(hash) = state
            .credentials
            .get(&user.id)
            .and_then(|c| c.password_hash.clone())
        else {
            return;
        };
        let tag = self.tag(login, password);
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, e| e.at.elapsed() < self.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            tag,
            Entry {
                user: user.id.clone(),
                role: user.role,
                password_hash: hash,
                at: Instant::now(),
            },
        );
    }

    /// Whether API access of `user` from `source` is due a log entry (and
    /// `last_login_at`): once per `auth.basic_log_interval`. Marks it logged.
    pub fn log_due(&self, user: &Id, source: Option<IpAddr>) -> bool {
        let Ok(mut logged) = self.logged.lock() else {
            return true;
        };
        let key = (user.clone(), source);
        if logged
            .get(&key)
            .is_some_and(|t| t.elapsed() < self.log_interval)
        {
            return false;
        }
        if logged.len() >= MAX_ENTRIES {
            logged.retain(|_, t| t.elapsed() < self.log_interval);
            if logged.len() >= MAX_ENTRIES {
                logged.clear();
            }
        }
        logged.insert(key, Instant::now());
        true
    }

    /// Whether `user` from `source` was logged within the interval, without
    /// marking anything.
    pub fn recently_logged(&self, user: &Id, source: Option<IpAddr>) -> bool {
        self.logged
            .lock()
            .ok()
            .and_then(|l| l.get(&(user.clone(), source)).copied())
            .is_some_and(|t| t.elapsed() < self.log_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testkit::World;

    fn world_with(login: &str, role: Role) -> (World, Id) {
        let mut w = World::new();
        let id = w.user(login, role, None);
        let mut c = w.state.credentials.get(&id).cloned().unwrap_or_default();
        c.password_hash = Some("$argon2id$one".into());
        w.state.credentials.insert(id.clone(), c);
        (w, id)
    }

    fn never_locked(_: &User) -> bool {
        false
    }

    #[test]
    fn a_remembered_login_hits_until_the_user_changes() {
        let (mut w, id) = world_with("script", Role::Scanner);
        let cache = BasicCache::new(Duration::from_secs(300), Duration::from_secs(900));
        let user = w.state.users.get(&id).cloned().unwrap();
        assert!(cache.hit(&w.state, "script", "pw", never_locked).is_none());
        cache.remember(&w.state, "script", "pw", &user);
        assert!(cache.hit(&w.state, "SCRIPT", "pw", never_locked).is_some());
        assert!(
            cache
                .hit(&w.state, "script", "other", never_locked)
                .is_none()
        );
        // A lock refuses it, and forgets it.
        assert!(cache.hit(&w.state, "script", "pw", |_| true).is_none());
        assert!(cache.hit(&w.state, "script", "pw", never_locked).is_none());

        let changes: [fn(&mut World, &Id); 4] = [
            |w, id| {
                let mut c = w.state.credentials.get(id).cloned().unwrap();
                c.password_hash = Some("$argon2id$two".into());
                w.state.credentials.insert(id.clone(), c);
            },
            |w, id| w.set_status(id, UserStatus::Deactivated),
            |w, id| {
                let mut u = w.state.users.get(id).cloned().unwrap();
                u.role = Role::Reader;
                w.state.users.insert(id.clone(), u);
            },
            |w, id| {
                w.state.users.remove(id);
            },
        ];
        for (i, change) in changes.into_iter().enumerate() {
            let (mut w2, id2) = world_with("script", Role::Scanner);
            let u2 = w2.state.users.get(&id2).cloned().unwrap();
            cache.remember(&w2.state, "script", "pw", &u2);
            assert!(cache.hit(&w2.state, "script", "pw", never_locked).is_some());
            change(&mut w2, &id2);
            assert!(
                cache.hit(&w2.state, "script", "pw", never_locked).is_none(),
                "change {i} must end the remembered login"
            );
        }
        w.set_status(&id, UserStatus::Active);
    }

    #[test]
    fn nothing_is_remembered_when_the_ttl_is_zero_or_past() {
        let (w, id) = world_with("script", Role::Scanner);
        let user = w.state.users.get(&id).cloned().unwrap();
        let off = BasicCache::new(Duration::ZERO, Duration::from_secs(900));
        off.remember(&w.state, "script", "pw", &user);
        assert!(off.hit(&w.state, "script", "pw", never_locked).is_none());
        let short = BasicCache::new(Duration::from_millis(1), Duration::from_secs(900));
        short.remember(&w.state, "script", "pw", &user);
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.hit(&w.state, "script", "pw", never_locked).is_none());
    }

    #[test]
    fn api_access_is_logged_once_per_interval_and_source() {
        let cache = BasicCache::new(Duration::from_secs(300), Duration::from_secs(900));
        let id: Id = "u1".into();
        let a = Some("10.0.0.1".parse().unwrap());
        let b = Some("10.0.0.2".parse().unwrap());
        assert!(!cache.recently_logged(&id, a));
        assert!(cache.log_due(&id, a));
        assert!(cache.recently_logged(&id, a));
        assert!(!cache.log_due(&id, a));
        assert!(cache.log_due(&id, b));
    }
}
