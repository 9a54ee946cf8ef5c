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

    /// Keeps only the sessions for which `live` holds: entries of sessions
    /// that ended otherwise (expiry, a restart's leftovers) go.
    pub fn retain(&self, live: impl Fn(&str) -> bool) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|hash, _| live(hash));
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
}
