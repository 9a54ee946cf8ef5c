//! The appliance's other services: service accounts, their scopes,
//! introspection, and HTTP Basic that scripts can live with (R8.1), over
//! HTTPS against the real binary.

use crate::common::*;
use serde_json::{Value, json};

/// `ctl services add NAME --scopes S`: the secret, shown once.
fn add_service(d: &Daemon, name: &str, scopes: &str) -> String {
    let out = d.ctl(&["--json", "services", "add", name, "--scopes", scopes]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let secret = v["secret"].as_str().expect("a secret").to_owned();
    assert!(
        secret.starts_with("svc_") && secret.len() >= 4 + 43,
        "256 bits"
    );
    secret
}

async fn call(
    d: &Daemon,
    c: &reqwest::Client,
    method: reqwest::Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = c.request(method, d.url(path)).bearer_auth(bearer);
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

async fn boss_id(d: &Daemon, c: &reqwest::Client) -> String {
    let me: Value = c
        .get(d.url("/api/v1/me"))
        .basic_auth("boss", Some(BOSS_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_check_scoped_service_checks_anyone_and_reaches_nothing_else() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start(&data);
    let c = d.client();
    let secret = add_service(&d, "scanner", "check");
    rt().block_on(async {
        let boss = boss_id(&d, &c).await;
        let q = json!({"user": boss, "action": "manage_user", "resource": {"user": boss}});
        let (s, v) = call(
            &d,
            &c,
            Method::POST,
            "/api/v1/authz/check",
            &secret,
            Some(q.clone()),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert!(v["allowed"].is_boolean());
        let (s, v) = call(
            &d,
            &c,
            Method::POST,
            "/api/v1/authz/check-batch",
            &secret,
            Some(json!([q.clone(), q.clone()])),
        )
        .await;
        assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(2)), "{v}");

        // Nothing beyond its scope, and nothing a user has.
        for (method, path, body) in [
            (Method::GET, "/api/v1/me", None),
            (Method::GET, "/api/v1/users", None),
            (Method::GET, "/api/v1/objects", None),
            (
                Method::POST,
                "/api/v1/notifications",
                Some(json!({"to_users": [boss], "subject": "s", "body": "b"})),
            ),
            (
                Method::POST,
                "/api/v1/introspect",
                Some(json!({"token": "x"})),
            ),
            (Method::GET, "/api/v1/service-accounts", None),
        ] {
            let (s, v) = call(&d, &c, method.clone(), path, &secret, body).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (403, Some("forbidden")),
                "{method} {path}: {v}"
            );
        }
        // A secret that opens nothing is the same 401 as any bad credential.
        let (s, v) = call(
            &d,
            &c,
            Method::POST,
            "/api/v1/authz/check",
            &format!("{secret}x"),
            Some(q.clone()),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (401, Some("unauthenticated")));

        // Checks are counted per service, not logged.
        let m = c
            .get(d.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            m.contains("bailiwick_service_checks_total{service=\"scanner\"} 3"),
            "{m}"
        );
    });
    // The secret is nowhere but in the one answer that created it.
    let status = text(&d.ctl(&["status"]));
    let list = text(&d.ctl(&["services", "list"]));
    assert!(list.contains("scanner") && list.contains("check"), "{list}");
    let backup = dir.path().join("b.redb");
    let o = d.ctl(&["backup", "--out", backup.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let bytes = std::fs::read(&backup).unwrap();
    let needle = secret.as_bytes();
    assert!(
        !bytes.windows(needle.len()).any(|w| w == needle),
        "secret in a backup"
    );
    let (_, log) = d.stop();
    for (what, hay) in [("status", status), ("list", list), ("log", log)] {
        assert!(!hay.contains(&secret[4..]), "secret in {what}");
    }
}

#[test]
fn rotation_overlaps_and_removal_refuses_at_once() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start(&data);
    let c = d.client();
    let old = add_service(&d, "reports", "check");
    let out = d.ctl(&["--json", "services", "rotate", "reports"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let new = v["secret"].as_str().unwrap().to_owned();
    assert!(v["previous_secret_valid_until"].is_string(), "{v}");
    rt().block_on(async {
        let boss = boss_id(&d, &c).await;
        let q = json!({"user": boss, "action": "scan", "resource": {"ip": "10.0.0.1"}});
        for s in [&old, &new] {
            let (st, v) = call(
                &d,
                &c,
                Method::POST,
                "/api/v1/authz/check",
                s,
                Some(q.clone()),
            )
            .await;
            assert_eq!(st, 200, "both secrets work during the overlap: {v}");
        }
        let o = d.ctl(&["services", "remove", "reports"]);
        assert!(o.status.success(), "{}", text(&o));
        for s in [&old, &new] {
            let (st, _) = call(
                &d,
                &c,
                Method::POST,
                "/api/v1/authz/check",
                s,
                Some(q.clone()),
            )
            .await;
            assert_eq!(st, 401, "a removed account opens nothing");
        }
        // The log says who did what to which account.
        let log: Value = c
            .get(d.url("/api/v1/activity?action=service.*"))
            .basic_auth("boss", Some(BOSS_PASSWORD))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let actions: Vec<(&str, &str)> = log["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap(),
                    e["actor_login"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(actions.len(), 3, "{log}");
        assert!(actions.iter().all(|(_, who)| *who == "operator"), "{log}");
    });
}

#[test]
fn managers_manage_service_accounts_over_the_api_and_no_one_else_does() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    rt().block_on(async {
        let boss = crate::common::api::sign_in_with(&d, "boss", BOSS_PASSWORD).await;
        let (s, v) = boss
            .post(
                "/api/v1/service-accounts",
                json!({"name": "ticketing", "scopes": ["introspect", "check"]}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let secret = v["secret"].as_str().unwrap().to_owned();
        assert_eq!(v["scopes"], json!(["check", "introspect"]));
        let (s, v) = boss
            .post(
                "/api/v1/service-accounts",
                json!({"name": "ticketing", "scopes": ["check"]}),
            )
            .await;
        assert_eq!(
            (s.as_u16(), crate::common::api::code(&v)),
            (409, "conflict")
        );
        let (s, v) = boss
            .post(
                "/api/v1/service-accounts",
                json!({"name": "Bad Name", "scopes": ["check"]}),
            )
            .await;
        assert_eq!(
            (s.as_u16(), crate::common::api::code(&v)),
            (400, "validation"),
            "{v}"
        );
        let (s, v) = boss
            .post(
                "/api/v1/service-accounts",
                json!({"name": "x", "scopes": ["root"]}),
            )
            .await;
        assert_eq!(
            (s.as_u16(), crate::common::api::code(&v)),
            (400, "validation"),
            "{v}"
        );
        let (s, v) = boss.get("/api/v1/service-accounts").await;
        assert_eq!(s, 200);
        assert_eq!(v.as_array().unwrap().len(), 1);
        assert!(
            !v.to_string().contains(&secret[4..]),
            "a list never shows a secret"
        );

        // Another role is refused, and changes nothing.
        let uid = boss.create_user("ua", "user_administrator", None).await;
        let ua = crate::common::api::sign_in(&d, "ua").await;
        let (s, _) = ua.get("/api/v1/service-accounts").await;
        assert_eq!(s, 403);
        let (s, _) = ua.delete("/api/v1/service-accounts/ticketing").await;
        assert_eq!(s, 403);
        let (s, _) = ua
            .post(
                "/api/v1/service-accounts",
                json!({"name": "mine", "scopes": ["check"]}),
            )
            .await;
        assert_eq!(s, 403);
        let (s, _) = call(
            &d,
            &c,
            Method::POST,
            "/api/v1/authz/check",
            &secret,
            Some(json!({"user": uid, "action": "view_user", "resource": {"user": uid}})),
        )
        .await;
        assert_eq!(s, 200);

        let (s, v) = boss
            .post("/api/v1/service-accounts/ticketing/rotate", json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_ne!(v["secret"].as_str().unwrap(), secret);
        let (s, _) = boss.delete("/api/v1/service-accounts/ticketing").await;
        assert_eq!(s, 204);
        let (s, v) = boss.delete("/api/v1/service-accounts/ticketing").await;
        assert_eq!(
            (s.as_u16(), crate::common::api::code(&v)),
            (404, "not_found")
        );
        let (s, _) = call(
            &d,
            &c,
            Method::POST,
            "/api/v1/introspect",
            &secret,
            Some(json!({"token": boss.token})),
        )
        .await;
        assert_eq!(s, 401);
    });
}

#[test]
fn introspection_tells_a_live_session_and_nothing_about_any_other_token() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(
        &data,
        fast_logins().env("BAILIWICK_AUTH_SESSION_IDLE", "6s"),
    );
    let c = d.client();
    let secret = add_service(&d, "portal", "introspect");
    rt().block_on(async {
        let session = || async {
            let v: Value = c
                .post(d.url("/api/v1/session"))
                .json(&json!({"login": "boss", "password": BOSS_PASSWORD}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["token"].as_str().unwrap().to_owned()
        };
        let ask = |token: String| {
            let (d, c, secret) = (&d, &c, &secret);
            async move {
                let r = c
                    .post(d.url("/api/v1/introspect"))
                    .bearer_auth(secret)
                    .json(&json!({"token": token}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.text().await.unwrap()
            }
        };
        let live = session().await;
        let revoked = session().await;
        let idle = session().await;
        let v: Value = serde_json::from_str(&ask(live.clone()).await).unwrap();
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["login"], "boss");
        assert_eq!(v["role"], "manager");
        assert!(
            v["business_unit"].is_null() && v.get("business_unit").is_some(),
            "{v}"
        );
        assert!(v["exp"].as_i64().unwrap() > 1_700_000_000);

        let (s, _) = call(&d, &c, Method::DELETE, "/api/v1/session", &revoked, None).await;
        assert_eq!(s, 204);
        let inactive = r#"{"active":false}"#;
        assert_eq!(ask(revoked).await, inactive);
        assert_eq!(ask(bailiwick::ids::new_token()).await, inactive);
        assert_eq!(ask(String::new()).await, inactive);

        // Asking does not keep a session alive: `idle` is asked about and
        // never used, and ends when its idle time is up.
        for _ in 0..4 {
            std::thread::sleep(std::time::Duration::from_secs(2));
            ask(idle.clone()).await;
        }
        assert_eq!(ask(idle).await, inactive);

        // A user cannot introspect, whatever its role.
        let user = session().await;
        let (s, _) = call(
            &d,
            &c,
            Method::POST,
            "/api/v1/introspect",
            &user,
            Some(json!({"token": live})),
        )
        .await;
        assert_eq!(s, 403);
    });
}

#[test]
fn r8_1_basic_access_is_verified_once_logged_once_and_never_rate_limited() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    // The default limits: 10 attempts a login and 30 an address a minute.
    let d = Daemon::start(&data);
    let c = d.client();
    rt().block_on(async {
        let me = |login: &'static str, pw: String| {
            let c = c.clone();
            let url = d.url("/api/v1/me");
            async move {
                c.get(url)
                    .basic_auth(login, Some(pw))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        for i in 0..100 {
            assert_eq!(me("boss", BOSS_PASSWORD.into()).await, 200, "request {i}");
        }
        let api_logins = || async {
            let v: Value = c
                .get(d.url("/api/v1/activity?action=login&details=API"))
                .basic_auth("boss", Some(BOSS_PASSWORD))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["items"].as_array().unwrap().len()
        };
        assert_eq!(api_logins().await, 1, "one entry for a hundred requests");

        // What is remembered ends at once when the user changes.
        let boss = crate::common::api::sign_in_with(&d, "boss", BOSS_PASSWORD).await;
        let id = boss.create_user("script", "scanner", None).await;
        let pw = crate::common::api::activation_password(&d, "script").await;
        assert_eq!(me("script", pw.clone()).await, 200);
        assert_eq!(me("script", pw.clone()).await, 200);
        let (s, v) = boss
            .post(&format!("/api/v1/users/{id}/deactivate"), json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            me("script", pw.clone()).await,
            401,
            "deactivated: refused at once"
        );
        // Resetting the password ends it too: the old one opens nothing.
        let (s, v) = boss
            .post(&format!("/api/v1/users/{id}/reactivate"), json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        let pw = crate::common::api::activation_password(&d, "script").await;
        assert_eq!(me("script", pw.clone()).await, 200);
        let o = d.ctl(&["users", "reset-password", "script"]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(me("script", pw).await, 401, "reset: refused at once");
    });
}

#[test]
fn a_service_registers_and_notifies_for_a_user_within_that_users_rules() {
    use reqwest::Method;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    let secret = add_service(&d, "scanner", "objects,notify");
    rt().block_on(async {
        let boss = crate::common::api::sign_in_with(&d, "boss", BOSS_PASSWORD).await;
        let sam = boss.create_user("sam", "scanner", None).await;
        crate::common::api::sign_in(&d, "sam").await;
        let send = |method: Method, path: &str, on_behalf: Option<&str>, body: Option<Value>| {
            let mut r = c.request(method, d.url(path)).bearer_auth(&secret);
            if let Some(u) = on_behalf {
                r = r.header("Bailiwick-On-Behalf-Of", u);
            }
            if let Some(b) = body {
                r = r.json(&b);
            }
            async move {
                let r = r.send().await.unwrap();
                (
                    r.status().as_u16(),
                    r.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        };
        let schedule = json!({"kind": "scheduled_scan", "name": "nightly"});
        let (s, v) = send(
            Method::POST,
            "/api/v1/objects",
            None,
            Some(schedule.clone()),
        )
        .await;
        assert_eq!(
            (s, crate::common::api::code(&v)),
            (400, "validation"),
            "{v}"
        );
        assert!(
            v["detail"]
                .as_str()
                .unwrap()
                .contains("bailiwick-on-behalf-of"),
            "{v}"
        );
        let (s, v) = send(
            Method::POST,
            "/api/v1/objects",
            Some("ghost"),
            Some(schedule.clone()),
        )
        .await;
        assert_eq!(s, 403, "{v}");
        let (s, v) = send(
            Method::POST,
            "/api/v1/objects",
            Some("sam"),
            Some(schedule.clone()),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["owner"], sam.as_str(), "owned by the user it acts for");
        let id = v["id"].as_str().unwrap().to_owned();
        // The scheduler launches it without naming anyone.
        let (s, v) = send(
            Method::POST,
            &format!("/api/v1/objects/{id}/launch"),
            None,
            None,
        )
        .await;
        assert_eq!(s, 200, "{v}");

        // The user's rules hold: a Scanner sends no notifications, so
        // neither does a service acting for one.
        let note = json!({"to_users": [sam], "subject": "Scan done", "body": "nightly finished"});
        let (s, v) = send(
            Method::POST,
            "/api/v1/notifications",
            Some(&sam),
            Some(note.clone()),
        )
        .await;
        assert_eq!((s, crate::common::api::code(&v)), (403, "forbidden"), "{v}");
        let (s, v) = send(
            Method::POST,
            "/api/v1/notifications",
            Some("boss"),
            Some(note),
        )
        .await;
        assert_eq!(s, 202, "{v}");

        // The log names the service and the user it acted for.
        let (_, log) = boss.get("/api/v1/activity?action=object.create").await;
        let e = &log["items"][0];
        assert_eq!(
            (e["actor_login"].as_str(), e["actor"].as_str()),
            (Some("service:scanner"), Some(sam.as_str())),
            "{log}"
        );
    });
}

/// One HTTP/1.1 request over the local socket: status and body.
fn over_socket(
    path: &std::path::Path,
    method: &str,
    target: &str,
    auth: Option<&str>,
    body: &str,
) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    // A secret, or a whole scheme and credentials (`Basic ...`).
    let auth = auth
        .map(|a| match a.starts_with("Basic ") {
            true => format!("Authorization: {a}\r\n"),
            false => format!("Authorization: Bearer {a}\r\n"),
        })
        .unwrap_or_default();
    // In one write: the daemon may refuse on the head alone and close, and
    // a body sent after that would meet a closed socket (EPIPE).
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_local_socket_serves_the_api_to_mapped_peers_and_secrets_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    // SAFETY: getuid takes nothing, always succeeds and touches no memory.
    let me = unsafe { libc::getuid() };
    let socket = data.join("api.sock");
    let check = r#"{"user":"nobody","action":"scan","resource":{"ip":"10.0.0.1"}}"#;

    // Mapped to another uid: this process is nobody without a secret.
    let d = Daemon::start_with(
        &data,
        Start::default().env(
            "BAILIWICK_SERVER_SOCKET_PEERS",
            &format!("{}=local", me + 1),
        ),
    );
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let secret = add_service(&d, "local", "check");
    let (s, b) = over_socket(&socket, "POST", "/api/v1/authz/check", None, check);
    assert_eq!(s, 401, "{b}");
    let (s, b) = over_socket(&socket, "POST", "/api/v1/authz/check", Some(&secret), check);
    assert_eq!(s, 200, "{b}");
    assert!(b.contains(r#""allowed":false"#), "{b}");
    // Only the API: the console and operations stay on HTTPS.
    let (s, b) = over_socket(&socket, "GET", "/healthz", None, "");
    assert_eq!(s, 404, "{b}");
    let (s, _) = over_socket(&socket, "GET", "/ui/login", None, "");
    assert_eq!(s, 404);
    d.stop();
    assert!(!socket.exists(), "removed at a clean stop");

    // Mapped to this uid: no secret needed, and still only its scopes.
    let d = Daemon::start_with(
        &data,
        Start::default().env("BAILIWICK_SERVER_SOCKET_PEERS", &format!("{me}=local")),
    );
    let (s, b) = over_socket(
        &socket,
        "POST",
        "/api/v1/authz/check-batch",
        None,
        &format!("[{check},{check}]"),
    );
    assert_eq!(s, 200, "{b}");
    let (s, b) = over_socket(&socket, "GET", "/api/v1/users", None, "");
    assert_eq!(s, 403, "{b}");
    // A wrong secret is not rescued by the mapping.
    let (s, _) = over_socket(
        &socket,
        "POST",
        "/api/v1/authz/check",
        Some("svc_wrong"),
        check,
    );
    assert_eq!(s, 401);
    // Users authenticate on it as anywhere.
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("boss:{BOSS_PASSWORD}"))
    );
    let (s, b) = over_socket(&socket, "GET", "/api/v1/me", Some(&basic), "");
    assert_eq!(s, 200, "{b}");
    let r = d.ctl(&["services", "remove", "local"]);
    assert!(r.status.success());
    let (s, _) = over_socket(&socket, "POST", "/api/v1/authz/check", None, check);
    assert_eq!(s, 401, "a mapping to a removed account opens nothing");
    drop(d);
}

#[test]
fn r11_2_other_services_log_their_actions_in_the_same_log_seen_as_the_users() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    let secret = add_service(&d, "scanner", "audit,objects");
    let checker = add_service(&d, "checker", "check");
    rt().block_on(async {
        let boss = crate::common::api::sign_in_with(&d, "boss", BOSS_PASSWORD).await;
        let eu = boss.create_unit("EU").await;
        let us = boss.create_unit("US").await;
        let sam = boss.create_user("sam", "scanner", Some(&eu)).await;
        boss.create_user("eva", "unit_manager", Some(&eu)).await;
        boss.create_user("ulf", "unit_manager", Some(&us)).await;
        let sam_api = crate::common::api::sign_in(&d, "sam").await;
        let eva = crate::common::api::sign_in(&d, "eva").await;
        let ulf = crate::common::api::sign_in(&d, "ulf").await;
        let record = |secret: &str, on_behalf: Option<&str>, body: Value| {
            let mut r = c.post(d.url("/api/v1/activity")).bearer_auth(secret).json(&body);
            if let Some(u) = on_behalf {
                r = r.header("Bailiwick-On-Behalf-Of", u);
            }
            async move {
                let r = r.send().await.unwrap();
                (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let launched = json!({"action": "scanner.scan_launched", "target": "scan 42 (nightly)", "details": "10.0.0.0/24"});
        let (s, v) = record(&secret, Some("sam"), launched.clone()).await;
        assert_eq!(s, 204, "{v}");
        // It cannot pass for one of bailiwick's own entries, needs a user,
        // and needs the scope; users do not write here at all.
        let (s, v) = record(&secret, Some("sam"), json!({"action": "user.delete", "target": "boss"})).await;
        assert_eq!((s, crate::common::api::code(&v)), (400, "validation"), "{v}");
        let (s, v) = record(&secret, None, launched.clone()).await;
        assert_eq!((s, crate::common::api::code(&v)), (400, "validation"), "{v}");
        let (s, _) = record(&checker, Some("sam"), launched.clone()).await;
        assert_eq!(s, 403);
        let (s, _) = record(&boss.token, None, launched.clone()).await;
        assert_eq!(s, 403);

        // Seen by whoever may see sam's entries (R11.2), and by no one else.
        let q = "/api/v1/activity?action=scanner.*";
        let (_, all) = boss.get(q).await;
        let items = all["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{all}");
        assert_eq!(items[0]["actor"], sam.as_str());
        assert_eq!(items[0]["actor_login"], "service:scanner");
        assert_eq!(items[0]["target"], "scan 42 (nightly)");
        for (who, api, n) in [("sam", &sam_api, 1), ("eva", &eva, 1), ("ulf", &ulf, 0)] {
            let (_, page) = api.get(q).await;
            assert_eq!(page["items"].as_array().unwrap().len(), n, "{who}: {page}");
        }

        // A launch the registry allows is an entry too.
        let (s, v) = boss.post("/api/v1/objects",
            json!({"kind": "scheduled_scan", "name": "nightly", "owner": sam})).await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap();
        let r = c.post(d.url(&format!("/api/v1/objects/{id}/launch"))).bearer_auth(&secret)
            .send().await.unwrap();
        assert_eq!(r.status(), 200);
        let (_, log) = boss.get("/api/v1/activity?action=schedule.launch").await;
        let e = &log["items"][0];
        assert_eq!(e["actor_login"], "service:scanner", "{log}");
        assert!(e["target"].as_str().unwrap().contains("nightly"), "{log}");
    });
    // The chain holds with the services' entries in it.
    d.stop();
    let o = run(&["log", "verify", "--data-dir", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
}
