//! When each session was last used, kept in memory: writing it durably on
//! every request would cost an fsync per request. The stored `last_used_at`
//! is refreshed when the session is otherwise written; after a restart the
//! older stored value applies, which can only end a session sooner.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::Timestamp;

#[derive(Default)]
pub struct LastUse {
    map: Mutex<HashMap<String, Timestamp>>,
}

impl LastUse {
    pub fn touch(&self, token_hash: &str, now: Timestamp) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(token_hash) {
            Some(t) if *t >= now => {}
            Some(t) => *t = now,
            None => {
                map.insert(token_hash.to_owned(), now);
            }
        }
    }

    pub fn last_used(&self, token_hash: &str) -> Option<Timestamp> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token_hash)
            .copied()
    }

    /// Keeps only the sessions `live` says still exist: sessions that
    /// expired or were removed without a logout here would otherwise stay in
    /// the map for good.
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|hash, _| live(hash));
        map.shrink_to_fit();
    }

    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn forget(&self, token_hash: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r8_1_the_last_use_map_is_pruned_to_live_sessions() {
        let m = LastUse::default();
        let t = Timestamp::from_unix_micros(5);
        m.touch("live", t);
        m.touch("gone", t);
        m.retain(|h| h == "live");
        assert_eq!(m.len(), 1);
        assert_eq!(m.last_used("live"), Some(t));
        assert_eq!(m.last_used("gone"), None);
    }

    #[test]
    fn last_use_of_sessions_that_are_gone_is_pruned() {
        let l = LastUse::default();
        let now = Timestamp::from_unix_micros(1_700_000_000_000_000);
        for i in 0..1000 {
            l.touch(&format!("s{i}"), now);
        }
        l.retain(|h| h == "s7");
        assert_eq!(l.len(), 1);
        assert_eq!(l.last_used("s7"), Some(now));
        assert_eq!(l.last_used("s8"), None);
    }
}
