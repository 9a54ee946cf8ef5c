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

    pub fn forget(&self, token_hash: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token_hash);
    }
}
