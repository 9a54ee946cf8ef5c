//! Login that holds under attack (R7.1, R7.2, R8), over HTTPS against the
//! real binary.

use crate::common::*;
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
    // The body but its request id, which is the request's own (32 hex
    // characters for every request, so its length tells nothing either).
    async fn body(r: reqwest::Response) -> Value {
        let mut v: Value = r.json().await.unwrap();
        let id = v.as_object_mut().unwrap().remove("request_id").unwrap();
        assert_eq!(id.as_str().map(str::len), Some(32));
        v
    }
    rt().block_on(async {
        let pending = login(&d, &c, "admin", "Whatever-123").await;
        assert_eq!(pending.status(), 401);
        let pending = body(pending).await;
        let pw = activate(&d, &c).await;
        let wrong = body(login(&d, &c, "admin", "Wrong-password-1").await).await;
        let unknown = body(login(&d, &c, "nobody", "Wrong-password-1").await).await;
        assert_eq!(wrong, unknown);
        assert_eq!(wrong, pending);
        // Lock it, then the right password gets that same body.
        for _ in 0..5 {
            login(&d, &c, "admin", "Wrong-password-1").await;
        }
        let locked = login(&d, &c, "admin", &pw).await;
        assert_eq!(locked.status(), 401);
        assert_eq!(body(locked).await, wrong);
        assert_eq!(wrong["code"], "unauthenticated");
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
        assert_eq!(list["items"].as_array().unwrap().len(), 2);
        assert!(list["next_cursor"].is_null());
        assert_eq!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| s["current"] == true)
                .count(),
            1
        );
        assert_eq!(list["items"][0]["ip"], "127.0.0.1");
        // Paged like every list: one at a time, the cursor leads on.
        let page = |q: String| {
            let c = c.clone();
            let url = d.url(&format!("/api/v1/me/sessions?{q}"));
            async move {
                let r = c.get(url).bearer_auth(t1).send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap())
            }
        };
        let (s, first) = page("limit=1".into()).await;
        assert_eq!(s, 200, "{first}");
        assert_eq!(first["items"][0]["id"], list["items"][0]["id"]);
        let cursor = first["next_cursor"].as_str().expect("a next page");
        let (_, second) = page(format!("limit=1&cursor={cursor}")).await;
        assert_eq!(second["items"][0]["id"], list["items"][1]["id"]);
        assert!(second["next_cursor"].is_null());
        assert_eq!(page("cursor=nosuch".into()).await.0, 400);

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

// ---- hostile clients: lockout abuse and account takeover (issue 15) ----

use crate::common::api::{Api, activation_password, code, sign_in, sign_in_with};

/// A client whose connections come from `local` (any 127/8 address reaches
/// the daemon): an address the user never logged in from.
fn client_at(d: &Daemon, local: &str) -> reqwest::Client {
    bailiwick::tls::install_default_provider();
    let pem = std::fs::read(d.data_dir.join("tls/cert.pem")).unwrap();
    let cert = reqwest::Certificate::from_pem(&pem).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .resolve("localhost", d.addr)
        .local_address(local.parse::<std::net::IpAddr>().ok())
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Activity entries with `action`, newest first, as the Manager sees them.
async fn entries(admin: &Api<'_>, action: &str) -> Vec<Value> {
    let (s, page) = admin
        .get(&format!("/api/v1/activity?action={action}&limit=1000"))
        .await;
    assert_eq!(s, 200, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// The spooled email whose text contains all of `needles`, waiting for it.
async fn mail_with(d: &Daemon, needles: &[&str]) -> String {
    let spool = d.data_dir.join("outbox-spool");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found = std::fs::read_dir(&spool)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find(|t| needles.iter().all(|n| t.contains(n)));
        if let Some(t) = found {
            return t;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no email with {needles:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The password `sign_in` gave `login`, learnt again through a fresh link.
async fn password_of<'d>(d: &'d Daemon, login_name: &str) -> (Api<'d>, String) {
    let c = d.client();
    let pw = activation_password(d, login_name).await;
    let r = login(d, &c, login_name, &pw).await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    let token = v["token"].as_str().unwrap().to_owned();
    (Api { d, c, token }, pw)
}

#[test]
fn lockout_as_a_denial_of_service_unfamiliar_lock_does_not_refuse_a_familiar_address() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_logins());
    rt().block_on(async {
        // admin, the only Manager, logs in from 127.0.0.1: now familiar.
        let (admin, pw) = password_of(&d, "admin").await;
        let attacker = client_at(&d, "127.0.0.2");
        for _ in 0..5 {
            assert_eq!(
                login(&d, &attacker, "admin", "Wrong-pass-1").await.status(),
                401
            );
        }
        // The attacker's address is refused even with the right password...
        assert_eq!(login(&d, &attacker, "admin", &pw).await.status(), 401);
        // ...but the Manager still logs in from its own, and its session lives.
        assert_eq!(login(&d, &admin.c, "admin", &pw).await.status(), 201);
        assert_eq!(admin.get("/api/v1/me").await.0, 200);
        let locks = entries(&admin, "user.lock").await;
        assert_eq!(locks.len(), 1, "{locks:?}");
        let why = locks[0]["details"].as_str().unwrap();
        assert!(why.contains("not logged in from lately"), "{why}");
        assert!(why.contains("0 sessions ended"), "{why}");
        mail_with(&d, &["is locked", "has not logged in from lately"]).await;

        // A lock earned from the familiar address refuses all and signs out.
        for _ in 0..5 {
            assert_eq!(
                login(&d, &admin.c, "admin", "Wrong-pass-1").await.status(),
                401
            );
        }
        assert_eq!(admin.get("/api/v1/me").await.0, 401, "sessions ended");
        assert_eq!(login(&d, &admin.c, "admin", &pw).await.status(), 401);
        let out = d.ctl(&["users", "unlock", "admin"]);
        assert!(out.status.success(), "{}", text(&out));
        // The operator's unlock cleared both counters.
        assert_eq!(login(&d, &attacker, "admin", &pw).await.status(), 201);
    });
}

#[test]
fn r8_2_a_locked_user_is_listed_and_unlocked_over_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_logins());
    rt().block_on(async {
        let (admin, admin_pw) = password_of(&d, "admin").await;
        let eu = admin.create_unit("EU").await;
        let us = admin.create_unit("US").await;
        admin.create_user("jane", "unit_manager", Some(&eu)).await;
        admin.create_user("olga", "unit_manager", Some(&us)).await;
        admin.create_user("rita", "reader", Some(&eu)).await;
        let sam = admin.create_user("sam", "scanner", Some(&eu)).await;
        let m2 = admin.create_user("m2", "manager", None).await;
        let (sam_api, sam_pw) = password_of(&d, "sam").await;
        for _ in 0..5 {
            login(&d, &sam_api.c, "sam", "Wrong-pass-1").await;
        }
        assert_eq!(login(&d, &sam_api.c, "sam", &sam_pw).await.status(), 401);

        // The Manager finds it with status=locked, and sees why it is out.
        let (s, page) = admin.get("/api/v1/users?status=locked").await;
        assert_eq!(s, 200, "{page}");
        let locked: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["login"].as_str().unwrap())
            .collect();
        assert_eq!(locked, ["sam"]);
        assert_eq!(page["items"][0]["locked"], true);
        assert_eq!(page["items"][0]["status"], "active");
        let (s, v) = admin.get("/api/v1/users?status=stuck").await;
        assert_eq!((s.as_u16(), code(&v)), (400, "validation"), "{v}");

        // Neither a Reader of the unit nor another unit's Unit Manager may.
        let unlock = format!("/api/v1/users/{sam}/unlock");
        for who in ["rita", "olga"] {
            let api = sign_in(&d, who).await;
            let (s, v) = api.post(&unlock, json!({})).await;
            assert!(matches!(s.as_u16(), 403 | 404), "{who}: {s} {v}");
        }
        assert_eq!(login(&d, &sam_api.c, "sam", &sam_pw).await.status(), 401);
        // The unit's Unit Manager may (R7.2's resetters), once.
        let jane = sign_in(&d, "jane").await;
        let (s, v) = jane.post(&unlock, json!({})).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["locked"], false);
        assert_eq!(login(&d, &sam_api.c, "sam", &sam_pw).await.status(), 201);
        let (s, v) = jane.post(&unlock, json!({})).await;
        assert_eq!((s.as_u16(), code(&v)), (409, "conflict"), "{v}");
        assert_eq!(entries(&admin, "user.unlock").await.len(), 1);

        // The primary contact and only other Manager, locked, cannot be
        // deactivated first; reactivation alone lets it back in.
        let other = sign_in(&d, "m2").await;
        for _ in 0..5 {
            login(&d, &admin.c, "admin", "Wrong-pass-1").await;
        }
        assert_eq!(login(&d, &admin.c, "admin", &admin_pw).await.status(), 401);
        let (s, v) = other.get("/api/v1/users?status=locked").await;
        assert_eq!(v["items"][0]["login"], "admin", "{s} {v}");
        let admin_id = v["items"][0]["id"].as_str().unwrap().to_owned();
        let (s, v) = other
            .post(&format!("/api/v1/users/{admin_id}/reactivate"), json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "active");
        assert_eq!(login(&d, &admin.c, "admin", &admin_pw).await.status(), 201);
        let _ = m2;
    });
}

#[test]
fn lockout_with_smart_lockout_off_one_counter_locks_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        fast_logins().env("BAILIWICK_AUTH_SMART_LOCKOUT", "false"),
    );
    rt().block_on(async {
        let (admin, pw) = password_of(&d, "admin").await;
        let attacker = client_at(&d, "127.0.0.2");
        for _ in 0..5 {
            login(&d, &attacker, "admin", "Wrong-pass-1").await;
        }
        assert_eq!(login(&d, &admin.c, "admin", &pw).await.status(), 401);
    });
}

/// Sets admin's questions (answers "a1", "a2", "a3") with its password.
async fn set_questions(admin: &Api<'_>, pw: &str) {
    let qs: Vec<Value> = (1..=3)
        .map(|i| json!({"question": format!("Question {i}?"), "answer": format!("a{i}")}))
        .collect();
    let (s, v) = admin
        .put(
            "/api/v1/me/secret-questions",
            json!({"questions": qs, "current_password": pw}),
        )
        .await;
    assert_eq!(s, 204, "{v}");
}

/// [`fast_logins`] with the self-service reset limits raised too.
fn fast_resets() -> Start {
    fast_logins()
        .env("BAILIWICK_AUTH_RESET_RATE_PER_ADDRESS_PER_MINUTE", "1000")
        .env("BAILIWICK_AUTH_RESET_RATE_PER_LOGIN_PER_MINUTE", "1000")
}

async fn answer(d: &Daemon, c: &reqwest::Client, answers: [&str; 3]) -> reqwest::StatusCode {
    answer_as(d, c, "admin", answers).await
}

async fn answer_as(
    d: &Daemon,
    c: &reqwest::Client,
    login: &str,
    answers: [&str; 3],
) -> reqwest::StatusCode {
    c.post(d.url("/api/v1/password-reset/answers"))
        .json(&json!({"login": login, "answers": answers}))
        .send()
        .await
        .unwrap()
        .status()
}

#[test]
fn secret_questions_do_not_bypass_the_lockout() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_resets());
    rt().block_on(async {
        let (admin, pw) = password_of(&d, "admin").await;
        set_questions(&admin, &pw).await;
        let attacker = client_at(&d, "127.0.0.2");
        // Wrong answers have their own counter: five lock the reset.
        for _ in 0..5 {
            assert_eq!(answer(&d, &attacker, ["x", "y", "z"]).await, 401);
        }
        assert_eq!(answer(&d, &attacker, ["a1", "a2", "a3"]).await, 401);
        let failed = entries(&admin, "password_reset.failed").await;
        assert_eq!(failed.len(), 6, "{failed:?}");
        assert!(entries(&admin, "login.failed").await.is_empty());
        // Logins were not touched, and the password was not changed.
        assert_eq!(login(&d, &admin.c, "admin", &pw).await.status(), 201);
        mail_with(&d, &["is locked", "at the secret questions"]).await;

        // A password lock (from the attacker's side) also stops the reset.
        let out = d.ctl(&["users", "unlock", "admin"]);
        assert!(out.status.success());
        for _ in 0..5 {
            login(&d, &attacker, "admin", "Wrong-pass-1").await;
        }
        assert_eq!(answer(&d, &attacker, ["a1", "a2", "a3"]).await, 401);
        assert_eq!(login(&d, &admin.c, "admin", &pw).await.status(), 201);
    });
}

#[test]
fn a_stolen_session_cannot_set_new_secret_questions() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_logins());
    rt().block_on(async {
        let (admin, pw) = password_of(&d, "admin").await;
        let qs: Vec<Value> = (1..=3)
            .map(|i| json!({"question": format!("Q{i}?"), "answer": "x"}))
            .collect();
        let (s, v) = admin
            .put("/api/v1/me/secret-questions", json!({"questions": qs}))
            .await;
        assert_eq!(s, 400, "a token alone is not enough: {v}");
        let (s, _) = admin
            .put(
                "/api/v1/me/secret-questions",
                json!({"questions": qs, "current_password": "Wrong-pass-1"}),
            )
            .await;
        assert_eq!(s, 401);
        // Counted and logged as a failed login.
        let failed = entries(&admin, "login.failed").await;
        assert_eq!(failed.len(), 1, "{failed:?}");
        set_questions(&admin, &pw).await;
        mail_with(&d, &["Your secret questions were changed"]).await;
        // A self-service reset is mailed too.
        let r = d
            .client()
            .post(d.url("/api/v1/password-reset/answers"))
            .json(&json!({"login": "admin", "answers": ["a1", "a2", "a3"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        mail_with(&d, &["Your password was reset"]).await;
    });
}

#[test]
fn me_password_is_not_an_unlimited_password_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_logins());
    rt().block_on(async {
        let (admin, pw) = password_of(&d, "admin").await;
        // Generated passwords, not expired: 403 before any verification,
        // the same for a right and a wrong current password.
        for current in [pw.as_str(), "Wrong-pass-1"] {
            let (s, v) = admin
                .put(
                    "/api/v1/me/password",
                    json!({"current": current, "new": "Brand-new-pass-9"}),
                )
                .await;
            assert_eq!(s, 403, "{v}");
        }
        assert!(entries(&admin, "login.failed").await.is_empty());
        let (s, v) = admin
            .put(
                "/api/v1/settings/security",
                json!({"user_defined_passwords": true, "password_expiration_days": 0,
                       "lockout_threshold": 5, "min_password_length": 8,
                       "external_ids_enabled": false}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        // Wrong current passwords count as failed logins and lock.
        let wrong = || async {
            admin
                .put(
                    "/api/v1/me/password",
                    json!({"current": "Wrong-pass-1", "new": "Brand-new-pass-9"}),
                )
                .await
                .0
        };
        for _ in 0..4 {
            assert_eq!(wrong().await, 401);
        }
        assert_eq!(entries(&admin, "login.failed").await.len(), 4);
        assert_eq!(wrong().await, 401);
        // The fifth locked it from a familiar address: sessions end too.
        assert_eq!(admin.get("/api/v1/me").await.0, 401);
        assert_eq!(
            login(&d, &admin.c, "admin", &pw).await.status(),
            401,
            "locked"
        );
    });
}

#[test]
fn me_password_checks_the_rate_limits_first() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_AUTH_RATE_PER_ADDRESS_PER_MINUTE", "4")
            .env("BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE", "1000"),
    );
    rt().block_on(async {
        // Two logins of the address's four: the link's and this one.
        let (admin, _) = password_of(&d, "admin").await;
        let mut limited = false;
        for _ in 0..4 {
            let (s, _) = admin
                .put(
                    "/api/v1/me/password",
                    json!({"current": "Wrong-pass-1", "new": "Brand-new-pass-9"}),
                )
                .await;
            limited |= s == 429;
        }
        assert!(limited, "the address limit holds for password changes");
    });
}

#[test]
fn password_reset_requests_do_not_keep_a_named_user_from_logging_in() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_AUTH_RATE_PER_ADDRESS_PER_MINUTE", "1000")
            .env("BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE", "3"),
    );
    rt().block_on(async {
        let (admin, pw) = password_of(&d, "admin").await;
        let attacker = client_at(&d, "127.0.0.2");
        // Reset requests have their own limiter, and do not spend logins.
        let mut statuses = Vec::new();
        for _ in 0..12 {
            let r = attacker
                .post(d.url("/api/v1/password-reset"))
                .json(&json!({"login": "admin"}))
                .send()
                .await
                .unwrap();
            statuses.push(r.status().as_u16());
        }
        assert!(statuses.contains(&429), "{statuses:?}");
        assert_eq!(login(&d, &d.client(), "admin", &pw).await.status(), 201);
        // Successful logins spend nothing: more than three in a minute.
        for _ in 0..4 {
            assert_eq!(login(&d, &admin.c, "admin", &pw).await.status(), 201);
        }
        // Failures spend the login's budget: the attacker is held...
        for _ in 0..3 {
            assert_eq!(
                login(&d, &attacker, "admin", "Wrong-pass-1").await.status(),
                401
            );
        }
        assert_eq!(login(&d, &attacker, "admin", &pw).await.status(), 429);
        assert_eq!(login(&d, &attacker, "admin", &pw).await.status(), 429);
        // ...but not the address that logged in as admin in the last day.
        assert_eq!(login(&d, &admin.c, "admin", &pw).await.status(), 201);
        // Limit hits are logged, once per login and address per minute
        // however many there were (here reset and login hits alike).
        let hits = entries(&admin, "login.rate_limited").await;
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0]["ip"], "127.0.0.2");
        assert_eq!(hits[0]["target"], "login admin");
    });
}

#[test]
fn password_reset_answers_the_same_shape_for_every_login() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    let ask = |login_name: &'static str| {
        let c = c.clone();
        let url = d.url("/api/v1/password-reset");
        async move {
            let r = c
                .post(url)
                .json(&json!({"login": login_name}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let first = rt().block_on(async {
        // admin exists but set no questions; ghost does not exist.
        let (s_admin, admin) = ask("admin").await;
        let (s_ghost, ghost) = ask("ghost").await;
        assert_eq!((s_admin, s_ghost), (200, 200), "{admin} {ghost}");
        assert_eq!(admin["questions"].as_array().unwrap().len(), 3);
        assert_eq!(ghost["questions"].as_array().unwrap().len(), 3);
        assert_eq!(ask("ghost").await.1, ghost, "asking twice, the same answer");
        // Answers for an unknown login: the same 401 as a wrong answer.
        let r = c
            .post(d.url("/api/v1/password-reset/answers"))
            .json(&json!({"login": "ghost", "answers": ["a", "b", "c"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        ghost
    });
    let (st, _) = d.stop();
    assert!(st.success());
    // The same after a restart.
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    rt().block_on(async {
        let r = c
            .post(d.url("/api/v1/password-reset"))
            .json(&json!({"login": "ghost"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.json::<Value>().await.unwrap(), first);
    });
}

#[test]
fn control_characters_from_attempted_logins_are_escaped_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_logins());
    rt().block_on(async {
        let (admin, _) = password_of(&d, "admin").await;
        let c = d.client();
        login(&d, &c, "bo\u{0}ss\u{1b}[2J", "Wrong-pass-1").await;
        let failed = entries(&admin, "login.failed").await;
        let target = failed[0]["target"].as_str().unwrap();
        assert_eq!(target, "login bo\\u{0}ss\\u{1b}[2J");
        assert_eq!(failed[0]["actor_login"], "bo\\u{0}ss\\u{1b}[2J");
    });
}

/// Password hashes run so far, from `/metrics`.
async fn hashes_run(d: &Daemon, c: &reqwest::Client) -> u64 {
    let m = c
        .get(d.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    m.lines()
        .find_map(|l| l.strip_prefix("bailiwick_password_hashes_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no hash counter in:\n{m}"))
}

#[test]
fn a_used_or_expired_activation_link_costs_no_hash_and_links_are_rate_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default().env("BAILIWICK_AUTH_RESET_RATE_PER_ADDRESS_PER_MINUTE", "5"),
    );
    let c = d.client();
    rt().block_on(async {
        let r = c.get(link(&d)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let before = hashes_run(&d, &c).await;
        // Used: 410, unknown: 404, and neither spends a hash.
        for _ in 0..2 {
            assert_eq!(c.get(link(&d)).send().await.unwrap().status(), 410);
        }
        let unknown = d.url("/api/v1/activation/no-such-link");
        assert_eq!(c.get(&unknown).send().await.unwrap().status(), 404);
        let r = c
            .post(link(&d))
            .json(&json!({"password": "Some-Long-Passphrase-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 410);
        assert_eq!(hashes_run(&d, &c).await, before, "a dead link cost a hash");
        // The sixth link opened from this address within the minute waits.
        let r = c.get(&unknown).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.headers().contains_key("retry-after"));
    });
}

#[test]
fn r8_7_answers_for_an_unknown_login_cost_the_same_hashes_as_wrong_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_resets());
    rt().block_on(async {
        let (admin, pw) = password_of(&d, "admin").await;
        set_questions(&admin, &pw).await;
        admin.create_user("quiet", "reader", None).await;
        let c = client_at(&d, "127.0.0.2");
        let mut cost = Vec::new();
        // A known login with wrong answers, a known login without
        // questions, a login that does not exist.
        for login_name in ["admin", "quiet", "ghost"] {
            let before = hashes_run(&d, &admin.c).await;
            let status = answer_as(&d, &c, login_name, ["x", "y", "z"]).await;
            assert_eq!(status, 401, "{login_name}");
            cost.push(hashes_run(&d, &admin.c).await - before);
        }
        assert_eq!(cost, [3, 3, 3], "one hash per answer, whoever is named");
    });
}

#[test]
fn r8_5_generated_passwords_meet_a_raised_minimum_length() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(&dir.path().join("data"), fast_resets());
    rt().block_on(async {
        let (admin, pw) = password_of(&d, "admin").await;
        set_questions(&admin, &pw).await;
        let (_, mut security) = admin.get("/api/v1/settings/security").await;
        security["min_password_length"] = json!(32);
        let (s, v) = admin.put("/api/v1/settings/security", security).await;
        assert_eq!(s, 200, "{v}");

        // Through a one-time link.
        admin.create_user("longpw", "reader", None).await;
        let generated = activation_password(&d, "longpw").await;
        assert!(generated.chars().count() >= 32, "{generated}");
        let user = sign_in_with(&d, "longpw", &generated).await;
        // It signs in and activates the account like any other.
        let (s, v) = user.get("/api/v1/me").await;
        assert_eq!((s.as_u16(), &v["status"]), (200, &json!("active")), "{v}");

        // Through the secret questions.
        let r = d
            .client()
            .post(d.url("/api/v1/password-reset/answers"))
            .json(&json!({"login": "admin", "answers": ["a1", "a2", "a3"]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        let reset = v["password"].as_str().expect("a generated password");
        assert!(reset.chars().count() >= 32, "{reset}");
        assert_eq!(login(&d, &d.client(), "admin", reset).await.status(), 201);
    });
}

/// Issue 15 item 17: behind a trusted proxy the client's address comes from
/// `X-Forwarded-For`, and the per-address login limit and the log key on
/// it; from any other peer the header is ignored, or anyone could name a
/// fresh address for every attempt.
#[test]
fn forwarding_headers_are_believed_only_from_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(
        &dir.path().join("data"),
        Start::default()
            .env("BAILIWICK_SERVER_TRUSTED_PROXIES", "127.0.0.1")
            .env("BAILIWICK_AUTH_RATE_PER_ADDRESS_PER_MINUTE", "3")
            .env("BAILIWICK_AUTH_RATE_PER_LOGIN_PER_MINUTE", "1000"),
    );
    rt().block_on(async {
        let (admin, _) = password_of(&d, "admin").await;
        let attempt = |c: reqwest::Client, forwarded: &'static str| {
            let url = d.url("/api/v1/session");
            async move {
                c.post(url)
                    .header("x-forwarded-for", forwarded)
                    .json(&json!({"login": "admin", "password": "Wrong-pass-1"}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        // Through the proxy: each client has its own budget of three.
        let proxy = d.client();
        for _ in 0..3 {
            assert_eq!(attempt(proxy.clone(), "192.0.2.1").await, 401);
        }
        assert_eq!(attempt(proxy.clone(), "192.0.2.1").await, 429);
        assert_eq!(attempt(proxy.clone(), "192.0.2.2").await, 401);
        // From a peer that is no proxy the header changes nothing.
        let other = client_at(&d, "127.0.0.2");
        for forwarded in ["192.0.2.7", "192.0.2.8", "192.0.2.9"] {
            assert_eq!(attempt(other.clone(), forwarded).await, 401);
        }
        assert_eq!(attempt(other.clone(), "192.0.2.10").await, 429);

        let mut ips: Vec<String> = entries(&admin, "login.failed")
            .await
            .iter()
            .map(|e| e["ip"].as_str().unwrap_or_default().to_owned())
            .collect();
        ips.sort();
        assert_eq!(
            ips,
            [
                "127.0.0.2",
                "127.0.0.2",
                "127.0.0.2",
                "192.0.2.1",
                "192.0.2.1",
                "192.0.2.1",
                "192.0.2.2"
            ],
            "the log names the client behind the proxy, and the peer otherwise"
        );
    });
}
