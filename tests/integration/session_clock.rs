//! Session lifetimes and password expiry with a clock the test moves (R8.1,
//! R8.5, R8.6): the router runs in-process, no sleeping.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bailiwick::clock::{Clock, ManualClock};
use bailiwick::config::Config;
use bailiwick::domain::bootstrap::{Bootstrap, FirstCredential, initialise_with};
use bailiwick::domain::{
    Access, Actor, Credentials, Feature, Role, Timestamp, User, UserStatus, subscription,
};
use bailiwick::store::{Options, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "Start-1234";

struct Harness {
    _dir: tempfile::TempDir,
    clock: Arc<ManualClock>,
    store: Store,
    router: axum::Router,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(
        1_800_000_000_000_000,
    )));
    let store = Store::open(
        dir.path(),
        &Options {
            create: true,
            ..Options::default()
        },
        clock.clone(),
    )
    .unwrap();
    let mut config = Config::default();
    config.auth.argon2_memory_kib = 64;
    config.auth.argon2_iterations = 1;
    let hasher = bailiwick::auth::password::Hasher::from_config(&config.auth).unwrap();
    let hash = hasher.hash(PASSWORD).unwrap();
    store
        .write(Actor::operator(), move |tx| {
            initialise_with(
                tx,
                &Bootstrap::default_subscription("admin"),
                "u1".into(),
                FirstCredential::Password { hash },
            )
        })
        .await
        .unwrap();
    let clk: Arc<dyn Clock> = clock.clone();
    let app = bailiwick::http::App::new(store.clone(), Arc::new(config), clk).unwrap();
    Harness {
        _dir: dir,
        clock,
        store,
        router: bailiwick::http::router(app),
    }
}

impl Harness {
    async fn call(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn login(&self, login: &str, pw: &str) -> (StatusCode, Value) {
        self.call(
            "POST",
            "/api/v1/session",
            None,
            Some(json!({"login": login, "password": pw})),
        )
        .await
    }

    async fn token(&self) -> String {
        let (s, v) = self.login("admin", PASSWORD).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        format!("Bearer {}", v["token"].as_str().unwrap())
    }
}

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

#[tokio::test]
async fn r8_1_idle_session_ends_use_keeps_it_alive() {
    let h = harness().await;
    let t = h.token().await;
    h.clock.advance(minutes(29));
    assert_eq!(
        h.call("GET", "/api/v1/me", Some(&t), None).await.0,
        StatusCode::OK
    );
    h.clock.advance(minutes(29));
    assert_eq!(
        h.call("GET", "/api/v1/me", Some(&t), None).await.0,
        StatusCode::OK,
        "use moved the idle deadline"
    );
    h.clock.advance(minutes(31));
    let (s, p) = h.call("GET", "/api/v1/me", Some(&t), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(p["code"], "unauthenticated");
}

#[tokio::test]
async fn r8_1_absolute_lifetime_ends_even_a_busy_session() {
    let h = harness().await;
    let t = h.token().await;
    for _ in 0..35 {
        h.clock.advance(minutes(20));
        assert_eq!(
            h.call("GET", "/api/v1/me", Some(&t), None).await.0,
            StatusCode::OK
        );
    }
    // 11h40m in; the absolute limit is 12h.
    h.clock.advance(minutes(21));
    assert_eq!(
        h.call("GET", "/api/v1/me", Some(&t), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn r8_5_expired_password_opens_only_the_change_endpoint() {
    let h = harness().await;
    h.store
        .write(Actor::operator(), |tx| {
            let mut s = tx.state().settings.clone();
            s.security.password_expiration_days = 30;
            tx.put_settings(s);
            Ok(())
        })
        .await
        .unwrap();
    h.clock.advance(Duration::from_secs(31 * 86400));
    let (s, v) = h.login("admin", PASSWORD).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["password_change_required"], true);
    let t = format!("Bearer {}", v["token"].as_str().unwrap());
    let (s, p) = h.call("GET", "/api/v1/me/sessions", Some(&t), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(p["code"], "password_change_required");
    // The new password must meet the policy (R8.5), naming the character.
    let (s, p) = h
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&t),
            Some(json!({"current": PASSWORD, "new": "Next_12345"})),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(p["code"], "password_policy");
    assert!(p["detail"].as_str().unwrap().contains("'_'"), "{p}");
    let (s, _) = h
        .call(
            "PUT",
            "/api/v1/me/password",
            Some(&t),
            Some(json!({"current": PASSWORD, "new": "Next-12345"})),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        h.call("GET", "/api/v1/me/sessions", Some(&t), None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        h.login("admin", "Next-12345").await.1["password_change_required"],
        false
    );
}

#[tokio::test]
async fn r8_6_an_api_only_account_a_manager_chose_never_expires_with_the_feature() {
    let h = harness().await;
    let hasher = {
        let mut c = Config::default().auth;
        c.argon2_memory_kib = 64;
        c.argon2_iterations = 1;
        bailiwick::auth::password::Hasher::from_config(&c).unwrap()
    };
    let hash = hasher.hash("Api-secret-1").unwrap();
    let now = h.clock.now();
    h.store
        .write(Actor::operator(), move |tx| {
            let mut s = tx.state().settings.clone();
            s.security.password_expiration_days = 30;
            tx.put_settings(s);
            for (id, login) in [("u2", "robot"), ("u3", "robot2")] {
                tx.put_user(User {
                    id: id.into(),
                    login: login.into(),
                    email: format!("{login}@localhost"),
                    first_name: String::new(),
                    last_name: String::new(),
                    role: Role::Reader,
                    business_unit: None,
                    status: UserStatus::Active,
                    asset_groups: vec![],
                    permissions: Default::default(),
                    access: Access::ApiOnly,
                    external_id: None,
                    created_at: now,
                    last_login_at: None,
                    notification_opt_outs: Default::default(),
                });
                tx.put_credentials(
                    &id.to_string(),
                    Credentials {
                        password_hash: Some(hash.clone()),
                        password_changed_at: Some(now),
                        ..Credentials::default()
                    },
                );
            }
            subscription::set_feature(tx, Feature::ApiPasswordNeverExpires, true)
        })
        .await
        .unwrap();
    // A Manager chooses the account (before its own password expires too).
    let admin = h.token().await;
    let (s, v) = h
        .call(
            "PATCH",
            "/api/v1/users/u2",
            Some(&admin),
            Some(json!({"password_never_expires": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let feature = |on: bool| {
        h.store.write(Actor::operator(), move |tx| {
            subscription::set_feature(tx, Feature::ApiPasswordNeverExpires, on)
        })
    };
    feature(false).await.unwrap();
    h.clock.advance(Duration::from_secs(31 * 86400));
    let robot = "Basic cm9ib3Q6QXBpLXNlY3JldC0x"; // robot:Api-secret-1
    let robot2 = "Basic cm9ib3QyOkFwaS1zZWNyZXQtMQ=="; // robot2:Api-secret-1
    let (s, p) = h
        .call("GET", "/api/v1/me/sessions", Some(robot), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "expired without the feature");
    assert_eq!(p["code"], "password_change_required");
    feature(true).await.unwrap();
    assert_eq!(
        h.call("GET", "/api/v1/me/sessions", Some(robot), None)
            .await
            .0,
        StatusCode::OK
    );
    // The account no Manager chose still expires.
    let (s, p) = h
        .call("GET", "/api/v1/me/sessions", Some(robot2), None)
        .await;
    assert_eq!(
        (s, &p["code"]),
        (StatusCode::FORBIDDEN, &json!("password_change_required"))
    );
}

#[tokio::test]
async fn r8_7_self_service_reset_with_three_case_sensitive_answers() {
    let h = harness().await;
    let t = h.token().await;
    let qs = json!({"questions": [
        {"question": "First pet?", "answer": "Rex"},
        {"question": "Street?", "answer": "Elm"},
        {"question": "Town?", "answer": "Oslo"}],
        "current_password": PASSWORD});
    assert_eq!(
        h.call("PUT", "/api/v1/me/secret-questions", Some(&t), Some(qs))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (s, v) = h
        .call(
            "POST",
            "/api/v1/password-reset",
            None,
            Some(json!({"login": "admin"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["questions"][0], "First pet?");
    // Wrong case is wrong, and counts against the answers' own counter
    // (R8.7), not the password's.
    let (s, _) = h
        .call(
            "POST",
            "/api/v1/password-reset/answers",
            None,
            Some(json!({"login": "admin", "answers": ["rex", "Elm", "Oslo"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let creds = h.store.snapshot().credentials["u1"].clone();
    assert_eq!((creds.failed_answers, creds.failed_attempts), (1, 0));
    let (s, v) = h
        .call(
            "POST",
            "/api/v1/password-reset/answers",
            None,
            Some(json!({"login": "admin", "answers": ["Rex", "Elm", "Oslo"]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let pw = v["password"].as_str().unwrap();
    assert_eq!(h.login("admin", pw).await.0, StatusCode::CREATED);
    assert_eq!(h.login("admin", PASSWORD).await.0, StatusCode::UNAUTHORIZED);
    // The reset ended the earlier session.
    assert_eq!(
        h.call("GET", "/api/v1/me", Some(&t), None).await.0,
        StatusCode::UNAUTHORIZED
    );
}
