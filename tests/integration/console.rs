//! The console's guarantees that a browser journey cannot show directly,
//! over HTTPS against the real binary: the session cookie's flags, CSRF and
//! cross-site refusals that change nothing, the security headers of every
//! page, and an activation page that uses nothing up when opened.
//! (The journeys themselves run in Chromium: tests/console/.)

use std::time::Duration;

use crate::common::*;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::Value;

/// A client that shows redirects instead of following them.
fn client(d: &Daemon) -> reqwest::Client {
    bailiwick::tls::install_default_provider();
    let pem = std::fs::read(d.data_dir.join("tls/cert.pem")).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .resolve("localhost", d.addr)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Signs `boss` in through the console's form; the cookie's `name=value`.
async fn console_sign_in(d: &Daemon, c: &reqwest::Client) -> (String, HeaderMap) {
    let r = c
        .post(d.url("/ui/login"))
        .form(&[("login", "boss"), ("password", BOSS_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let headers = r.headers().clone();
    let set = headers[SET_COOKIE].to_str().unwrap().to_owned();
    let pair = set.split(';').next().unwrap().trim().to_owned();
    (pair, headers)
}

/// The CSRF token in a page's forms.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Opens an API session to count `boss`'s sessions with.
async fn api_token(d: &Daemon, c: &reqwest::Client) -> String {
    let r: Value = c
        .post(d.url("/api/v1/session"))
        .json(&serde_json::json!({"login": "boss", "password": BOSS_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned()
}

/// `boss`'s sessions other than the API session `token` counts them with.
async fn sessions(d: &Daemon, c: &reqwest::Client, token: &str) -> usize {
    let list: Value = c
        .get(d.url("/api/v1/me/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{list}"))
        .len()
        - 1
}

#[test]
fn r8_1_the_session_cookie_is_host_only_secure_httponly_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start(&data);
    let c = client(&d);
    rt().block_on(async {
        let (pair, headers) = console_sign_in(&d, &c).await;
        let set = headers[SET_COOKIE].to_str().unwrap();
        assert!(pair.starts_with("__Host-bailiwick="), "{set}");
        for flag in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
            assert!(set.split("; ").any(|f| f == flag), "{flag} missing: {set}");
        }
        assert!(!set.contains("Domain="), "{set}");
        // The cookie's token is an API session like any other.
        let token = pair.split_once('=').unwrap().1;
        let me = c
            .get(d.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
    });
}

#[test]
fn a_state_change_without_this_sessions_csrf_token_or_from_another_site_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let c = client(&d);
    rt().block_on(async {
        let (mine, _) = console_sign_in(&d, &c).await;
        let (other, _) = console_sign_in(&d, &c).await;
        let page = c
            .get(d.url("/ui/account/activity"))
            .header("cookie", &mine)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = csrf_of(&page);
        let origin = d.url("");
        let post = |cookie: &str, csrf: &str, from: &str| {
            c.post(d.url("/ui/account/activity/sign-out-others"))
                .header("cookie", cookie.to_owned())
                .header("origin", from.to_owned())
                .form(&[("csrf", csrf.to_owned())])
                .send()
        };
        let counter = api_token(&d, &c).await;
        assert_eq!(sessions(&d, &c, &counter).await, 2);
        // No token, a wrong one, and the other session's token: refused.
        let other_page = c
            .get(d.url("/ui/account/activity"))
            .header("cookie", &other)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for bad in ["", "0123", csrf_of(&other_page).as_str()] {
            let r = post(&mine, bad, &origin).await.unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN, "csrf {bad:?}");
            assert!(r.text().await.unwrap().contains("This form has expired"));
        }
        // The right token, but sent from another site's page: refused too.
        let r = post(&mine, &token, "https://evil.example").await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[LOCATION], "/ui/login");
        assert_eq!(
            sessions(&d, &c, &counter).await,
            2,
            "nothing was signed out"
        );
        // From this origin with this session's token it works.
        let r = post(&mine, &token, &origin).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // The other console session and the counting one.
        assert_eq!(r.headers()[LOCATION], "/ui/account/activity?ended=2");
        let still = |cookie: String| {
            c.get(d.url("/ui/account/activity"))
                .header("cookie", cookie)
                .send()
        };
        assert_eq!(still(mine.clone()).await.unwrap().status(), 200);
        let gone = still(other.clone()).await.unwrap();
        assert_eq!(gone.status(), StatusCode::SEE_OTHER);
        assert_eq!(gone.headers()[LOCATION], "/ui/login");
    });
}

#[test]
fn every_console_page_carries_the_csp_and_no_store_and_the_stylesheet_is_immutable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start(&data);
    let c = client(&d);
    rt().block_on(async {
        let (cookie, _) = console_sign_in(&d, &c).await;
        let mut css = None;
        for path in [
            "/ui/login",
            "/ui/users",
            "/ui/users/nobody",
            "/ui/account/info",
            "/ui/account/activity",
            "/ui/activation/not-a-token",
        ] {
            // The sign-in page is for people not signed in yet.
            let cookie = if path == "/ui/login" {
                ""
            } else {
                cookie.as_str()
            };
            let r = c
                .get(d.url(path))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_success() || r.status().is_client_error(),
                "{path}: {}",
                r.status()
            );
            let h = r.headers();
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert_eq!(h["cache-control"], "no-store", "{path}");
            let kind = h
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            assert!(
                kind.as_deref().is_some_and(|k| k.starts_with("text/html")),
                "{path}: {kind:?}"
            );
            let html = r.text().await.unwrap();
            assert!(!html.contains("<script"), "{path} has a script");
            assert!(!html.contains("style="), "{path} has an inline style");
            let at = html.find("/ui/static/console.").expect("stylesheet link");
            css = Some(html[at..at + html[at..].find('"').unwrap()].to_owned());
        }
        let r = c.get(d.url(&css.unwrap())).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        // Another name is not served: the digest in the name is the content's.
        let r = c
            .get(d.url("/ui/static/console.0000000000000000.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    });
}

#[test]
fn r7_1_opening_the_activation_page_uses_nothing_up_and_user_text_is_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&data);
    let c = client(&d);
    let link = d
        .banner
        .iter()
        .find(|l| l.contains("/ui/activation/"))
        .expect("the first-start link points at the console")
        .trim()
        .replace("127.0.0.1", "localhost");
    rt().block_on(async {
        // A mail scanner (or the person, twice) opens the page: nothing is used.
        for _ in 0..2 {
            let r = c.get(&link).send().await.unwrap();
            assert_eq!(r.status(), 200);
            assert!(r.text().await.unwrap().contains("Show my password"));
        }
        // The button reveals the password once.
        let r = c.post(&link).form(&[("x", "")]).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains("class=\"secret\""), "{html}");
        // Then the link is dead, for the console and the API alike.
        let r = c.post(&link).form(&[("x", "")]).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::GONE);
        assert!(!r.text().await.unwrap().contains("class=\"secret\""));
        let api = link.replace("/ui/activation/", "/api/v1/activation/");
        assert_eq!(c.get(&api).send().await.unwrap().status(), StatusCode::GONE);
        // What a person typed is shown escaped, never as markup.
        let r = c
            .post(d.url("/ui/login"))
            .form(&[("login", "<img src=x onerror=alert(1)>"), ("password", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let html = r.text().await.unwrap();
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(html.contains("&#60;img src=x") || html.contains("&lt;img src=x"));
    });
}

#[test]
fn r8_1_an_api_only_account_uses_the_api_and_never_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start(&data);
    rt().block_on(async {
        let c = client(&d);
        let boss = api_token(&d, &c).await;
        let created: Value = c
            .post(d.url("/api/v1/users"))
            .bearer_auth(&boss)
            .json(
                &serde_json::json!({"login": "robot", "email": "robot@example.com",
                "first_name": "Ro", "last_name": "Bot", "role": "reader", "access": "api_only"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let robot = created["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{created}"));
        let password = crate::common::api::activation_password(&d, "robot").await;

        // The API takes it.
        let r = c
            .post(d.url("/api/v1/session"))
            .json(&serde_json::json!({"login": "robot", "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let token = r.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let login = |pw: String| {
            c.post(d.url("/ui/login"))
                .form(&[("login", "robot".to_owned()), ("password", pw)])
                .send()
        };
        // The console: a wrong password gets the one message (R8.4), the
        // right one is told why, and no session is opened.
        let r = login("Wrong-Password-1".into()).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.unwrap().contains("Login failed."));
        let r = login(password.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get(SET_COOKIE).is_none());
        assert!(r.text().await.unwrap().contains("API access only"));
        // The API session carried in a cookie by hand opens no page either.
        let r = c
            .get(d.url("/ui/account/info"))
            .header("cookie", format!("__Host-bailiwick={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.text().await.unwrap().contains("API access only"));
        let mine: Value = c
            .get(d.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(mine["login"], "robot", "the API session still works");

        // Given console access, the same password signs in.
        let r = c
            .patch(d.url(&format!("/api/v1/users/{robot}")))
            .bearer_auth(&boss)
            .json(&serde_json::json!({"access": "ui_and_api"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = login(password).await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
    });
}
