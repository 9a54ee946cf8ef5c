//! A signed-in user's HTTPS client, for tests that act as several users.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Daemon, text};

/// A signed-in user's client.
pub struct Api<'d> {
    pub d: &'d Daemon,
    pub c: reqwest::Client,
    pub token: String,
}

impl Api<'_> {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .c
            .request(method, self.d.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id; panics with the problem otherwise.
    pub async fn create_user(&self, login: &str, role: &str, unit: Option<&str>) -> String {
        let (s, v) = self
            .post(
                "/api/v1/users",
                json!({"login": login, "email": format!("{login}@example.com"),
                   "first_name": login, "last_name": "Test", "role": role,
                   "business_unit": unit}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["status"], "pending_activation");
        v["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_unit(&self, name: &str) -> String {
        let (s, v) = self
            .post("/api/v1/business-units", json!({"name": name}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }
}

/// An operator-issued one-time link for `login`, as the API opens it.
pub fn activation_link(d: &Daemon, login: &str) -> String {
    let out = d.ctl(&["--json", "users", "activation-link", login]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["link"]
        .as_str()
        .unwrap()
        .replace("127.0.0.1", "localhost")
        .replace("/ui/activation/", "/api/v1/activation/")
}

/// The generated password of `login`, through an operator-issued one-time
/// link (the first login then activates the account, R7.1).
pub async fn activation_password(d: &Daemon, login: &str) -> String {
    let link = activation_link(d, login);
    let creds: Value = d
        .client()
        .get(&link)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    creds["password"]
        .as_str()
        .expect("generated password")
        .to_owned()
}

/// Activates `login` through an operator-issued link and signs it in.
pub async fn sign_in<'d>(d: &'d Daemon, login: &str) -> Api<'d> {
    let pw = activation_password(d, login).await;
    sign_in_with(d, login, &pw).await
}

/// Signs `login` in with `password`.
pub async fn sign_in_with<'d>(d: &'d Daemon, login: &str, password: &str) -> Api<'d> {
    let c = d.client();
    let r = c
        .post(d.url("/api/v1/session"))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{login} signs in");
    let v: Value = r.json().await.unwrap();
    Api {
        d,
        c,
        token: v["token"].as_str().unwrap().to_owned(),
    }
}

pub fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}
