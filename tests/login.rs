//! Login that holds under attack (R7.1, R7.2, R8), over HTTPS against the
//! real binary.

mod common;

use common::*;
use serde_json::{Value, json};

/// The first-run activation link from the banner.
fn link(d: &Daemon) -> String {
    d.banner
        .iter()
        .find(|l| l.contains("/ui/activation/"))
        .expect("activation link")
        .trim()
        .replace("127.0.0.1", "localhost")
        .replace("/ui/activation/", "/api/v1/activation/")
}

async fn activate(d: &Daemon, c: &reqwest::Client) -> String {
    let r = c.get(link(d)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["login"], "admin");
    v["password"].as_str().unwrap().to_owned()
}

async fn login(d: &Daemon, c: &reqwest::Client, login: &str, pw: &str) -> reqwest::Response {
    c.post(d.url("/api/v1/session"))
        .json(&json!({"login": login, "password": pw}))
        .send()
        .await
        .unwrap()
}

#[test]
fn r7_1_activation_link_works_once_and_first_login_activates() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let c = d.client();
    rt().block_on(async {
        // Pending, no password yet: refused like any other failure.
        let r = login(&d, &c, "admin", "whatever1").await;
        assert_eq!(r.status(), 401);
        let pw = activate(&d, &c).await;
        let again = c.get(link(&d)).send().await.unwrap();
        assert_eq!(again.status(), 410);
        let p: Value = again.json().await.unwrap();
        assert_eq!(p["code"], "gone");

        let r = login(&d, &c, "ADMIN", &pw).await;
        assert_eq!(r.status(), 201, "logins are case-insensitive");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["user"]["status"], "active");
        assert_eq!(v["user"]["primary_contact"], "POC");
        let token = v["token"].as_str().unwrap();
        assert!(token.len() >= 43, "at least 256 bits");
        let me: Value = c
            .get(d.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(me["login"], "admin");

        // Unknown link: 404, not 410.
        let r = c
            .get(d.url("/api/v1/activation/nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    });
    // The token hash only is stored: the raw token is not in the database.
    let db = std::fs::read(dir.path().join("data/bailiwick.redb")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db).contains(&link(&d).rsplit('/').next().unwrap().to_string())
    );
}

#[test]
fn r8_4_every_login_failure_gets_the_same_401() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let c = d.client();
    rt().block_on(async {
        let pending = login(&d, &c, "admin", "Whatever-123").await;
        assert_eq!(pending.status(), 401);
        let pending = pending.text().await.unwrap();
        let pw = activate(&d, &c).await;
        let wrong = login(&d, &c, "admin", "Wrong-password-1")
            .await
            .text()
            .await
            .unwrap();
        let unknown = login(&d, &c, "nobody", "Wrong-password-1")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(wrong, unknown);
        assert_eq!(wrong, pending);
        // Lock it, then the right password gets that same body.
        for _ in 0..5 {
            login(&d, &c, "admin", "Wrong-password-1").await;
        }
        let locked = login(&d, &c, "admin", &pw).await;
        assert_eq!(locked.status(), 401);
        assert_eq!(locked.text().await.unwrap(), wrong);
        let p: Value = serde_json::from_str(&wrong).unwrap();
        assert_eq!(p["code"], "unauthenticated");
    });
}

#[test]
fn r8_2_lockout_persists_across_restart_until_unlocked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&data);
    let c = d.client();
    let pw = rt().block_on(async {
        let pw = activate(&d, &c).await;
        // Four failures, then a restart: the count survives.
        for _ in 0..4 {
            assert_eq!(login(&d, &c, "admin", "Wrong-1xx").await.status(), 401);
        }
        pw
    });
    let (st, _) = d.stop();
    assert!(st.success());
    let d = Daemon::start(&data);
    let c = d.client();
    rt().block_on(async {
        assert_eq!(login(&d, &c, "admin", "Wrong-1xx").await.status(), 401);
        // The fifth failure locked it: the right password no longer works.
        assert_eq!(login(&d, &c, "admin", &pw).await.status(), 401);
        // The lock email (R8.2) is queued and delivered to the spool.
        let spool = d.data_dir.join("outbox-spool");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !std::fs::read_dir(&spool)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                std::fs::read_to_string(e.path())
                    .is_ok_and(|t| t.contains("Subject: Your account in Default is locked"))
            })
        {
            assert!(
                std::time::Instant::now() < deadline,
                "lock email not delivered"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    });
    let (st, _) = d.stop();
    assert!(st.success());
    let d = Daemon::start(&data);
    let c = d.client();
    rt().block_on(async {
        assert_eq!(
            login(&d, &c, "admin", &pw).await.status(),
            401,
            "still locked after restart"
        );
    });
    let out = d.ctl(&["users", "unlock", "admin"]);
    assert!(out.status.success(), "{}", text(&out));
    rt().block_on(async {
        assert_eq!(login(&d, &c, "admin", &pw).await.status(), 201);
    });
}

#[test]
fn r8_3_rate_limited_with_retry_after_before_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default().env("BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE", "3"),
    );
    let c = d.client();
    rt().block_on(async {
        for _ in 0..3 {
            assert_eq!(login(&d, &c, "someone", "Wrong-123").await.status(), 401);
        }
        let r = login(&d, &c, "someone", "Wrong-123").await;
        assert_eq!(r.status(), 429);
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&retry), "{retry}");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["code"], "rate_limited");
        // Another login is not affected by someone's limit.
        assert_eq!(login(&d, &c, "other", "Wrong-123").await.status(), 401);
        let m = c
            .get(d.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            m.contains("bailiwick_logins_total{result=\"rate_limited\"} 1"),
            "{m}"
        );
        assert!(
            m.contains("bailiwick_logins_total{result=\"failed\"} 4"),
            "{m}"
        );
    });
}

#[test]
fn r8_1_basic_auth_works_and_logout_ends_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let c = d.client();
    rt().block_on(async {
        let pw = activate(&d, &c).await;
        let r = c
            .get(d.url("/api/v1/me"))
            .basic_auth("admin", Some(&pw))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = c
            .get(d.url("/api/v1/me"))
            .basic_auth("admin", Some("nope"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);

        let t1: Value = login(&d, &c, "admin", &pw).await.json().await.unwrap();
        let t2: Value = login(&d, &c, "admin", &pw).await.json().await.unwrap();
        let (t1, t2) = (t1["token"].as_str().unwrap(), t2["token"].as_str().unwrap());
        let list: Value = c
            .get(d.url("/api/v1/me/sessions"))
            .bearer_auth(t1)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2);
        assert_eq!(
            list.as_array()
                .unwrap()
                .iter()
                .filter(|s| s["current"] == true)
                .count(),
            1
        );
        assert_eq!(list[0]["ip"], "127.0.0.1");

        let r: Value = c
            .post(d.url("/api/v1/me/sessions/sign-out-others"))
            .bearer_auth(t1)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["ended"], 1);
        assert_eq!(
            c.get(d.url("/api/v1/me"))
                .bearer_auth(t2)
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        assert_eq!(
            c.delete(d.url("/api/v1/session"))
                .bearer_auth(t1)
                .send()
                .await
                .unwrap()
                .status(),
            204
        );
        assert_eq!(
            c.get(d.url("/api/v1/me"))
                .bearer_auth(t1)
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
        assert_eq!(
            c.get(d.url("/api/v1/me")).send().await.unwrap().status(),
            401
        );
    });
}

#[test]
fn r7_2_operator_reset_for_the_only_manager() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let c = d.client();
    rt().block_on(async {
        let old = activate(&d, &c).await;
        let token: Value = login(&d, &c, "admin", &old).await.json().await.unwrap();
        let out = d.ctl(&["--json", "users", "reset-password", "admin"]);
        assert!(out.status.success(), "{}", text(&out));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let link = v["link"]
            .as_str()
            .unwrap()
            .replace("127.0.0.1", "localhost")
            .replace("/ui/activation/", "/api/v1/activation/");
        // The old password and sessions are gone.
        assert_eq!(login(&d, &c, "admin", &old).await.status(), 401);
        let me = c
            .get(d.url("/api/v1/me"))
            .bearer_auth(token["token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 401);
        let new: Value = c.get(&link).send().await.unwrap().json().await.unwrap();
        let pw = new["password"].as_str().unwrap();
        assert_eq!(login(&d, &c, "admin", pw).await.status(), 201);
    });
    let out = d.ctl(&["users", "unlock", "ghost"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("no user with login"), "{}", text(&out));
}

#[test]
fn sigterm_lets_an_in_flight_login_finish() {
    let dir = tempfile::tempdir().unwrap();
    // Expensive hashing makes the login take long enough to be in flight.
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_AUTH_ARGON2_MEMORY_KIB", "65536")
            .env("BAILIWICK_AUTH_ARGON2_ITERATIONS", "12"),
    );
    let c = d.client();
    let runtime = rt();
    let pw = runtime.block_on(activate(&d, &c));
    let url = d.url("/api/v1/session");
    let pending = runtime.spawn(async move {
        c.post(url)
            .json(&json!({"login": "admin", "password": pw}))
            .send()
            .await
            .map(|r| r.status())
    });
    std::thread::sleep(std::time::Duration::from_millis(150));
    let (status, err) = d.stop();
    let answer = runtime
        .block_on(pending)
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(answer, 201);
    assert!(status.success(), "{err}");
}
