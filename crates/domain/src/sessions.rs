//! Ending sessions that have expired (R8.1): past their absolute end, or
//! unused for longer than the idle limit. Such sessions already open
//! nothing; removing them keeps the store and the in-memory last-use map
//! from growing with every login ever made.

use std::time::Duration;

use super::{Session, State, Timestamp, Tx};
use crate::LogAction;

/// Whether `s` has ended at `now`. `last_use` is the latest known use (the
/// in-memory one can be newer than the stored `last_used_at`).
pub fn expired(s: &Session, now: Timestamp, idle: Duration, last_use: Option<Timestamp>) -> bool {
    let last = last_use.map_or(s.last_used_at, |t| t.max(s.last_used_at));
    now >= s.expires_at || now >= last.saturating_add(idle)
}

/// Token hashes of the sessions that have ended at `now`.
pub fn expired_sessions(
    state: &State,
    now: Timestamp,
    idle: Duration,
    last_use: &dyn Fn(&str) -> Option<Timestamp>,
) -> Vec<String> {
    state
        .sessions
        .values()
        .filter(|s| expired(s, now, idle, last_use(&s.token_hash)))
        .map(|s| s.token_hash.clone())
        .collect()
}

/// Removes the sessions that have ended at the transaction's time. Action
/// `session.expire`, one entry for the lot. Returns how many.
pub fn sweep(
    tx: &mut Tx<'_>,
    idle: Duration,
    last_use: &dyn Fn(&str) -> Option<Timestamp>,
) -> usize {
    let ended = expired_sessions(tx.state(), tx.now(), idle, last_use);
    for hash in &ended {
        tx.remove_session(hash);
    }
    if !ended.is_empty() {
        tx.log(
            LogAction::SessionExpire,
            "sessions",
            format!("{} expired sessions removed", ended.len()),
        );
    }
    ended.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Actor;
    use crate::testkit::World;

    fn session(hash: &str, user: &str, last_used: i64, expires: i64) -> Session {
        Session {
            token_hash: hash.into(),
            id: hash.into(),
            user: user.into(),
            created_at: Timestamp::from_unix_micros(0),
            last_used_at: Timestamp::from_unix_micros(last_used),
            expires_at: Timestamp::from_unix_micros(expires),
            ip: None,
            user_agent: String::new(),
        }
    }

    #[test]
    fn r8_1_expired_sessions_are_removed_absolute_and_idle() {
        let mut w = World::new();
        let u = w.user("rita", crate::Role::Reader, None);
        for s in [
            session("live", &u, 900, 5_000),
            // Idle by its stored use, but used since (in memory).
            session("used", &u, 100, 5_000),
            session("idle", &u, 100, 5_000),
            session("absolute", &u, 999, 1_000),
        ] {
            w.state.sessions.insert(s.token_hash.clone(), s);
        }
        let idle = Duration::from_micros(500);
        let mut tx = Tx::new(
            &mut w.state,
            Timestamp::from_unix_micros(1_000),
            Actor::operator(),
        );
        let recent = |h: &str| (h == "used").then(|| Timestamp::from_unix_micros(950));
        assert_eq!(sweep(&mut tx, idle, &recent), 2);
        let (_, log) = tx.finish();
        assert_eq!(log.len(), 1);
        let mut left: Vec<&String> = w.state.sessions.keys().collect();
        left.sort();
        assert_eq!(left, ["live", "used"]);
        // Nothing more to do: no entry, no change.
        let mut tx = Tx::new(
            &mut w.state,
            Timestamp::from_unix_micros(1_001),
            Actor::operator(),
        );
        assert_eq!(sweep(&mut tx, idle, &recent), 0);
        assert!(tx.finish().1.is_empty());
    }
}
