//! Ended sessions leave storage (R8.1), against the real binary.

use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use serde_json::json;

/// Sessions in the stopped daemon's store.
fn stored_sessions(data: &std::path::Path) -> usize {
    let options = bailiwick::store::Options {
        cache_size: 1 << 20,
        create: false,
    };
    let store =
        bailiwick::store::Store::open(data, &options, Arc::new(bailiwick::clock::SystemClock))
            .unwrap();
    let n = store.snapshot().sessions.len();
    store.close();
    n
}

/// Issue item 11: expired sessions were never removed, in memory or on disk.
#[test]
fn r8_1_expired_sessions_are_removed_and_the_stored_count_returns_to_the_live_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(
        &data,
        fast_logins()
            .env("BAILIWICK_AUTH_SESSION_IDLE", "4s")
            .env("BAILIWICK_AUTH_SESSION_ABSOLUTE", "4s")
            .env("BAILIWICK_AUTH_SESSION_SWEEP_INTERVAL", "1s"),
    );
    let c = d.client();
    let login = || async {
        let r = c
            .post(d.url("/api/v1/session"))
            .json(&json!({"login": "boss", "password": BOSS_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    };
    rt().block_on(async {
        for _ in 0..5 {
            login().await;
        }
        // Past their end, and past a sweep or two.
        tokio::time::sleep(Duration::from_secs(6)).await;
        login().await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    });
    let (status, err) = d.stop();
    assert!(status.success(), "{err}");
    assert_eq!(stored_sessions(&data), 1, "only the live session is stored");
}
