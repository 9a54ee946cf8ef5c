//! Assets, groups and authorization checks over HTTPS against the real
//! binary (R3.2, R5.4, R6, docs/api.md).

use crate::common::*;
use serde_json::{Value, json};

/// Activates the first-run Manager; returns its password.
async fn activate(d: &Daemon, c: &reqwest::Client) -> String {
    let link = d
        .banner
        .iter()
        .find(|l| l.contains("/ui/activation/"))
        .expect("activation link")
        .trim()
        .replace("127.0.0.1", "localhost")
        .replace("/ui/activation/", "/api/v1/activation/");
    let v: Value = c.get(link).send().await.unwrap().json().await.unwrap();
    v["password"].as_str().unwrap().to_owned()
}

/// Logs in as the Manager; returns its token and id.
async fn login(d: &Daemon, c: &reqwest::Client, pw: &str) -> (String, String) {
    let v: Value = c
        .post(d.url("/api/v1/session"))
        .json(&json!({"login": "admin", "password": pw}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        v["token"].as_str().unwrap().to_owned(),
        v["user"]["id"].as_str().unwrap().to_owned(),
    )
}

struct Api<'a> {
    d: &'a Daemon,
    c: reqwest::Client,
    token: String,
}

impl Api<'_> {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .c
            .request(method, self.d.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let res = r.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
}

#[test]
fn r6_assets_groups_and_read_your_writes_checks_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start_with(
        &data,
        Start {
            env: fast_env(),
            ..Start::default()
        },
    );
    let c = d.client();
    let pw = rt().block_on(async {
        let pw = activate(&d, &c).await;
        let (token, me) = login(&d, &c, &pw).await;
        let api = Api { d: &d, c, token };

        // Strict parsing: the bad item is named.
        let (s, p) = api
            .post("/api/v1/assets", json!({"ips": ["10.0.0.1", "10.0.0.1/24"]}))
            .await;
        assert_eq!((s, p["code"].as_str()), (400, Some("validation")));
        assert!(p["detail"].as_str().unwrap().contains("item 2 \"10.0.0.1/24\""), "{p}");

        let (s, v) = api
            .post(
                "/api/v1/assets",
                json!({"ips": ["10.0.0.0/24", "10.0.0.7"], "domains": ["Example.COM"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["new_ips"], 256);
        let (_, v) = api.get("/api/v1/assets").await;
        assert_eq!(v["ips"], json!(["10.0.0.0/24"]));
        assert_eq!(v["domains"], json!(["example.com"]));

        // Read-your-writes: every acknowledged change is seen by the next check.
        let check = |ip: String| json!({"user": me, "action": "scan", "resource": {"ip": ip}});
        for i in 1..=20 {
            let ip = format!("10.1.{i}.1");
            let (s, v) = api.post("/api/v1/authz/check", check(ip.clone())).await;
            assert_eq!(s, 200);
            assert_eq!(v, json!({"allowed": false, "reason": "ip_not_in_asset_groups"}));
            api.post("/api/v1/assets", json!({"ips": [ip.clone()]})).await;
            let (_, v) = api.post("/api/v1/authz/check", check(ip.clone())).await;
            assert_eq!(v, json!({"allowed": true}), "added {ip}");
            let (s, _) = api
                .send(reqwest::Method::DELETE, "/api/v1/assets", Some(json!({"ips": [ip.clone()]})))
                .await;
            assert_eq!(s, 204);
            let (_, v) = api.post("/api/v1/authz/check", check(ip.clone())).await;
            assert_eq!(v["allowed"], false, "removed {ip}");
        }

        let (s, p) = api
            .send(
                reqwest::Method::PUT,
                "/api/v1/business-units/nope/assets",
                Some(json!({"ips": ["10.0.0.1"]})),
            )
            .await;
        assert_eq!((s, p["code"].as_str()), (404, Some("not_found")));

        // Appliances and groups.
        let (s, a) = api
            .post("/api/v1/scanner-appliances", json!({"name": "dc1", "kind": "physical"}))
            .await;
        assert_eq!(s, 201, "{a}");
        let appliance = a["id"].as_str().unwrap().to_owned();
        let (s, p) = api
            .post("/api/v1/scanner-appliances", json!({"name": "x", "kind": "laser"}))
            .await;
        assert_eq!((s, p["code"].as_str()), (400, Some("validation")));
        let (s, g) = api
            .post(
                "/api/v1/asset-groups",
                json!({"title": "Web", "ips": ["10.0.0.0/28"], "domains": ["example.com"],
                       "scanner_appliances": [appliance]}),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        assert_eq!(g["owner"], me.as_str());
        assert_eq!(g["created_by_role"], "manager");
        let gid = g["id"].as_str().unwrap().to_owned();
        let (s, p) = api
            .post("/api/v1/asset-groups", json!({"title": "Far", "ips": ["192.0.2.1"]}))
            .await;
        assert_eq!((s, p["code"].as_str()), (400, Some("validation")), "outside the subscription");
        let (s, p) = api.post("/api/v1/asset-groups", json!({"title": "all"})).await;
        assert_eq!((s, p["code"].as_str()), (400, Some("validation")));
        let (_, list) = api.get("/api/v1/asset-groups").await;
        let titles: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["All", "Web"]);
        let (s, g) = api
            .send(
                reqwest::Method::PATCH,
                &format!("/api/v1/asset-groups/{gid}"),
                Some(json!({"ips": ["10.0.0.0/25"]})),
            )
            .await;
        assert_eq!(s, 200, "{g}");
        assert_eq!(g["ips"], json!(["10.0.0.0/25"]));

        // Distribution groups.
        let (s, dg) = api
            .post(
                "/api/v1/distribution-groups",
                json!({"name": "SOC", "members": [me], "emails": ["soc@example.com"]}),
            )
            .await;
        assert_eq!(s, 201, "{dg}");
        let (_, list) = api.get("/api/v1/distribution-groups").await;
        assert_eq!(list["items"][0]["name"], "SOC");

        // Batches: in order, from one snapshot; more than 1000 is refused.
        let batch = json!([
            {"user": me, "action": "scan", "resource": {"ip": "10.0.0.9", "scanner_appliance": appliance}},
            {"user": me, "action": "map", "resource": {"domain": "EXAMPLE.com"}},
            {"user": me, "action": "delete_business_units"},
            {"user": "nobody", "action": "report"}
        ]);
        let (s, v) = api.post("/api/v1/authz/check-batch", batch).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v,
            json!([{"allowed": true}, {"allowed": true}, {"allowed": true},
                   {"allowed": false, "reason": "unknown_user"}])
        );
        let many: Vec<Value> = (0..1001).map(|_| json!({"user": me, "action": "scan"})).collect();
        let (s, p) = api.post("/api/v1/authz/check-batch", json!(many)).await;
        assert_eq!((s, p["code"].as_str()), (400, Some("validation")));
        let (s, p) = api
            .post("/api/v1/authz/check", json!({"user": me, "action": "fly"}))
            .await;
        assert_eq!((s, p["code"].as_str()), (400, Some("validation")));

        let (s, _) = api
            .send(reqwest::Method::DELETE, &format!("/api/v1/asset-groups/{gid}"), None)
            .await;
        assert_eq!(s, 204);
        let (s, _) = api.get(&format!("/api/v1/asset-groups/{gid}")).await;
        assert_eq!(s, 404);
        // Keep one group for the restart below.
        let (s, _) = api
            .post("/api/v1/asset-groups", json!({"title": "Kept", "ips": ["10.0.0.1"]}))
            .await;
        assert_eq!(s, 201);
        // The spec document lists the new endpoints.
        let doc: Value = api.c.get(d.url("/api/v1/openapi.json")).send().await.unwrap().json().await.unwrap();
        for path in ["/api/v1/assets", "/api/v1/asset-groups/{id}", "/api/v1/authz/check-batch"] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        pw
    });
    let (status, _) = d.stop();
    assert!(status.success());

    // Everything was stored: after a restart the index is rebuilt from disk.
    let d = Daemon::start_with(
        &data,
        Start {
            env: fast_env(),
            ..Start::default()
        },
    );
    let c = d.client();
    rt().block_on(async {
        let (token, me) = login(&d, &c, &pw).await;
        let api = Api { d: &d, c, token };
        let (_, list) = api.get("/api/v1/asset-groups").await;
        assert_eq!(list["items"][1]["title"], "Kept");
        let (_, v) = api
            .post(
                "/api/v1/authz/check",
                json!({"user": me, "action": "scan", "resource": {"ip": "10.0.0.200"}}),
            )
            .await;
        assert_eq!(v, json!({"allowed": true}));
    });
    let (status, _) = d.stop();
    assert!(status.success());
}
