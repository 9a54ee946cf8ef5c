//! The subscription's people over HTTPS (R2–R5, R10): users, units, primary
//! contacts, permissions and settings, against the real binary. The rules
//! themselves are tested one by one in `domain`; these tests prove the API
//! carries them, refusals included, and that a refusal changes nothing.

use crate::common::api::*;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[test]
fn r2_users_are_created_listed_and_edited_with_their_labels() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let eu = admin.create_unit("EU").await;
        let um = admin.create_user("jane", "unit_manager", Some(&eu)).await;
        let sc = admin.create_user("sam", "scanner", Some(&eu)).await;
        admin.create_user("rita", "reader", None).await;

        // R5: new Scanners and Unit Managers get create_option_profiles.
        let (_, sam) = admin.get(&format!("/api/v1/users/{sc}")).await;
        assert_eq!(sam["permissions"], json!(["create_option_profiles"]));

        // Filters and labels (R4.1).
        let (s, page) = admin
            .get(&format!("/api/v1/users?business_unit={eu}"))
            .await;
        assert_eq!(s, 200);
        let logins: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["login"].as_str().unwrap())
            .collect();
        assert_eq!(logins.len(), 2);
        assert!(logins.contains(&"jane") && logins.contains(&"sam"));
        let (_, page) = admin.get("/api/v1/users?business_unit=unassigned").await;
        let admin_row = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["login"] == "admin")
            .unwrap()
            .clone();
        assert_eq!(admin_row["primary_contact"], "POC");
        let (_, page) = admin.get("/api/v1/users?role=reader&q=RIT").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);

        // Pagination: one per page, the cursor walks every user once.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/users?limit=1&cursor={c}"),
                None => "/api/v1/users?limit=1".into(),
            };
            let (_, page) = admin.get(&path).await;
            seen.extend(
                page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["login"].as_str().unwrap().to_owned()),
            );
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        seen.sort();
        assert_eq!(seen, ["admin", "jane", "rita", "sam"]);

        // The unit's primary contact (R4.2), an active member, gets the POC_BU label.
        sign_in(&d, "jane").await;
        let (s, v) = admin
            .put(
                &format!("/api/v1/business-units/{eu}/primary-contact"),
                json!({"user": um}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["primary_contact"], "POC_BU");

        // Edit names and permissions; PATCH of a list replaces it.
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{sc}"),
                json!({"first_name": "Samuel", "permissions": ["purge_host_history"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["first_name"], "Samuel");
        assert_eq!(v["permissions"], json!(["purge_host_history"]));
    });
}

#[test]
fn r2_6_r4_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let (_, me) = admin.get("/api/v1/me").await;
        let admin_id = me["id"].as_str().unwrap().to_owned();
        let eu = admin.create_unit("EU").await;

        // R2.6: the only active Manager keeps its role.
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{admin_id}"),
                json!({"role": "reader"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert!(
            matches!(code(&v), "last_manager" | "primary_contact"),
            "{v}"
        );
        let (_, me) = admin.get("/api/v1/me").await;
        assert_eq!(me["role"], "manager");

        // R4.4: a unit's primary contact cannot be moved out of it.
        let um = admin.create_user("jane", "unit_manager", Some(&eu)).await;
        sign_in(&d, "jane").await;
        let (s, _) = admin
            .put(
                &format!("/api/v1/business-units/{eu}/primary-contact"),
                json!({"user": um}),
            )
            .await;
        assert_eq!(s, 200);
        let other = admin.create_unit("US").await;
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{um}"),
                json!({"business_unit": other}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "primary_contact");
        let (_, jane) = admin.get(&format!("/api/v1/users/{um}")).await;
        assert_eq!(jane["business_unit"], eu.as_str());

        // R3.1: a unit with users is not deleted; an empty one is.
        let (s, v) = admin.delete(&format!("/api/v1/business-units/{eu}")).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(code(&v), "business_unit_not_empty");
        let (s, _) = admin
            .delete(&format!("/api/v1/business-units/{other}"))
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = admin.get(&format!("/api/v1/business-units/{other}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Logins are unique case-insensitively.
        let (s, v) = admin
            .post(
                "/api/v1/users",
                json!({"login": "JANE", "email": "j2@example.com", "first_name": "J",
                   "last_name": "T", "role": "reader"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(code(&v), "login_taken");

        // R5.3: manage_external_ids is unavailable while external IDs are off.
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{um}"),
                json!({"permissions": ["manage_external_ids"]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(code(&v), "feature_unavailable");
        // R5: a Reader cannot hold a Unit Manager's permission.
        let rita = admin.create_user("rita", "reader", None).await;
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{rita}"),
                json!({"permissions": ["pc_accept_exceptions"]}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(code(&v), "permission_not_applicable");
        let (_, jane) = admin.get(&format!("/api/v1/users/{um}")).await;
        assert_eq!(jane["permissions"], json!(["create_option_profiles"]));
    });
}

#[test]
fn r13_bad_input_is_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let cases = [
            (
                json!({"login": "x1", "email": "x@example.com", "first_name": "X",
                   "last_name": "Y", "role": "emperor"}),
                "role",
            ),
            (
                json!({"login": "x1", "email": "not-an-email", "first_name": "X",
                   "last_name": "Y", "role": "reader"}),
                "email",
            ),
            (
                json!({"login": "x1", "email": "x@example.com", "first_name": "X",
                   "last_name": "Y", "role": "reader", "colour": "red"}),
                "colour",
            ),
            (
                json!({"login": "x1", "email": "x@example.com", "first_name": "X",
                   "last_name": "Y", "role": "reader", "permissions": ["fly"]}),
                "fly",
            ),
        ];
        for (body, named) in cases {
            let (s, v) = admin.post("/api/v1/users", body.clone()).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body} -> {v}");
            assert_eq!(code(&v), "validation");
            assert!(
                v["detail"].as_str().unwrap().contains(named),
                "detail names {named}: {v}"
            );
        }
        let r = admin
            .c
            .post(d.url("/api/v1/users"))
            .bearer_auth(&admin.token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        assert_eq!(code(&v), "malformed");
        let (_, page) = admin.get("/api/v1/users").await;
        assert_eq!(
            page["items"].as_array().unwrap().len(),
            1,
            "nothing created"
        );

        let (s, v) = admin
            .put(
                "/api/v1/settings/security",
                json!({"user_defined_passwords": false, "password_expiration_days": 0,
                   "lockout_threshold": 0, "min_password_length": 8,
                   "external_ids_enabled": false}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["detail"].as_str().unwrap().contains("lockout_threshold"));
        let (_, sec) = admin.get("/api/v1/settings/security").await;
        assert_eq!(sec["lockout_threshold"], 5, "default kept");
    });
}

#[test]
fn r2_r10_roles_see_and_change_only_what_they_may() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let eu = admin.create_unit("EU").await;
        let us = admin.create_unit("US").await;
        admin.create_user("jane", "unit_manager", Some(&eu)).await;
        admin.create_user("sam", "scanner", Some(&eu)).await;
        let bob = admin.create_user("bob", "scanner", Some(&us)).await;
        admin.create_user("uma", "user_administrator", None).await;

        let jane = sign_in(&d, "jane").await;
        // R2.2: a Unit Manager creates in its own unit only, and no Managers.
        let (s, _) = jane
            .post(
                "/api/v1/users",
                json!({"login": "kim", "email": "kim@example.com", "first_name": "K",
                   "last_name": "M", "role": "scanner", "business_unit": eu}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, v) = jane
            .post(
                "/api/v1/users",
                json!({"login": "kim2", "email": "kim@example.com", "first_name": "K",
                   "last_name": "M", "role": "manager"}),
            )
            .await;
        assert!(s == StatusCode::FORBIDDEN || s == 422, "{s} {v}");
        // Settings are the Managers'.
        let (s, _) = jane.get("/api/v1/settings/security").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // Every user sees its account info (R10.3).
        let (s, info) = jane.get("/api/v1/account-info").await;
        assert_eq!(s, 200);
        assert_eq!(info["role"], "unit_manager");

        // R10.1: hide users outside the unit.
        let (s, v) = admin
            .put(
                "/api/v1/settings/user-permissions",
                json!({"restrict_user_info_outside_unit": true, "hide_users_outside_unit": true,
                   "restrict_scheduled_tasks_on_unassigned_assets": false}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let sam = sign_in(&d, "sam").await;
        let (s, _) = sam.get(&format!("/api/v1/users/{bob}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "hidden, not forbidden");
        let (_, page) = sam.get("/api/v1/users").await;
        assert!(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|u| u["business_unit"] == eu.as_str()),
            "{page}"
        );

        // R3.1: User Administrators create units but do not delete them.
        let uma = sign_in(&d, "uma").await;
        let ap = uma.create_unit("APAC").await;
        let (s, _) = uma.delete(&format!("/api/v1/business-units/{ap}")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // R2.4: a User Administrator's role never changes.
        let (_, me) = uma.get("/api/v1/me").await;
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{}", me["id"].as_str().unwrap()),
                json!({"role": "reader"}),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(code(&v), "role_locked");
    });
}

#[test]
fn r1_operator_changes_to_the_subscription_apply_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let out = d.ctl(&["subscription", "set", "--service-type", "express_lite"]);
        assert!(out.status.success(), "{}", text(&out));
        // R1.2: no business units under express_lite.
        let (s, v) = admin
            .post("/api/v1/business-units", json!({"name": "EU"}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(code(&v), "feature_unavailable");

        // R2.3: kb_only needs its operator feature.
        let body = json!({"login": "kb", "email": "kb@example.com", "first_name": "K",
                   "last_name": "B", "role": "kb_only"});
        let (s, v) = admin.post("/api/v1/users", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let out = d.ctl(&["features", "enable", "kb_only_role"]);
        assert!(out.status.success(), "{}", text(&out));
        let (s, v) = admin.post("/api/v1/users", body).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    });
}

#[test]
fn r12_1_knowledgebase_only_users_send_notifications_while_their_feature_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let out = d.ctl(&["features", "enable", "kb_only_role"]);
        assert!(out.status.success(), "{}", text(&out));
        let kb_id = admin.create_user("kb", "kb_only", None).await;
        let kb = sign_in(&d, "kb").await;
        let note = json!({"to_users": [kb_id], "subject": "CVE-2026-1234", "body": "patch it"});
        let (s, v) = kb.post("/api/v1/notifications", note.clone()).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["queued"], json!([kb_id]));
        // Only whom it may see: a KnowledgeBase Only user lists no one else.
        let admin_id = admin.get("/api/v1/me").await.1["id"].clone();
        let (s, v) = kb
            .post(
                "/api/v1/notifications",
                json!({"to_users": [admin_id], "subject": "s", "body": "b"}),
            )
            .await;
        assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{v}");
        // The feature off, the role keeps its user but not this capability.
        let out = d.ctl(&["features", "disable", "kb_only_role"]);
        assert!(out.status.success(), "{}", text(&out));
        let (s, v) = kb.post("/api/v1/notifications", note).await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"), "{v}");
    });
}

#[test]
fn r7_3_deactivation_ends_sessions_at_once_and_reactivation_restores() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let (_, me) = admin.get("/api/v1/me").await;
        let admin_id = me["id"].as_str().unwrap().to_owned();
        let sam_id = admin.create_user("sam", "scanner", None).await;
        let sam = sign_in(&d, "sam").await;
        assert_eq!(sam.get("/api/v1/me").await.0, 200);

        // Not a Manager: refused.
        let (s, v) = sam
            .post(&format!("/api/v1/users/{admin_id}/deactivate"), json!({}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        // The subscription's primary contact: refused (R4.4).
        let (s, v) = admin
            .post(&format!("/api/v1/users/{admin_id}/deactivate"), json!({}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert_eq!(code(&v), "primary_contact");

        let (s, v) = admin
            .post(&format!("/api/v1/users/{sam_id}/deactivate"), json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "deactivated");
        // The very next request with sam's token is refused.
        assert_eq!(sam.get("/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
        let (s, v) = admin
            .post(&format!("/api/v1/users/{sam_id}/deactivate"), json!({}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");

        let (s, v) = admin
            .post(&format!("/api/v1/users/{sam_id}/reactivate"), json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "active", "it had set a password before");
    });
}

#[test]
fn r3_1_units_carry_their_assigned_assets_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let (s, v) = admin
            .post(
                "/api/v1/assets",
                json!({"ips": ["10.0.0.0/24"], "domains": ["example.com"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");

        let (s, v) = admin
            .post(
                "/api/v1/business-units",
                json!({"name": "EU", "assets": {"ips": ["10.0.0.1-10.0.0.9"], "domains": ["EXAMPLE.com"]}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(v["assets"]["ips"], json!(["10.0.0.1-10.0.0.9"]));
        assert_eq!(v["assets"]["domains"], json!(["example.com"]));
        let eu = v["id"].as_str().unwrap().to_owned();

        // An IP outside the subscription: refused whole, no unit created.
        let (s, v) = admin
            .post(
                "/api/v1/business-units",
                json!({"name": "US", "assets": {"ips": ["192.0.2.1"]}}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        let (_, page) = admin.get("/api/v1/business-units").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 1);

        // PATCH replaces the assignment; a bad item is named.
        let (s, v) = admin
            .patch(
                &format!("/api/v1/business-units/{eu}"),
                json!({"assets": {"ips": ["10.0.0.7"]}}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["assets"]["ips"], json!(["10.0.0.7"]));
        assert_eq!(v["assets"]["domains"], json!([]));
        let (s, v) = admin
            .patch(
                &format!("/api/v1/business-units/{eu}"),
                json!({"assets": {"ips": ["10.0.0.300"]}}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["detail"].as_str().unwrap().contains("10.0.0.300"), "{v}");
    });
}

/// The spooled email to `to` whose text contains `needle`, waiting for it.
async fn mail_to(d: &Daemon, to: &str, needle: &str) -> String {
    let spool = d.data_dir.join("outbox-spool");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found = std::fs::read_dir(&spool)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .find(|t| t.contains(&format!("<{to}>")) && t.contains(needle));
        if let Some(t) = found {
            return t;
        }
        assert!(std::time::Instant::now() < deadline, "no email to {to}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[test]
fn a_unit_manager_does_not_take_over_peers_by_email_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let eu = admin.create_unit("EU").await;
        admin.create_user("jane", "unit_manager", Some(&eu)).await;
        let peer = admin.create_user("paul", "unit_manager", Some(&eu)).await;
        let sam = admin.create_user("sam", "scanner", Some(&eu)).await;
        // paul holds a permission jane does not.
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{peer}"),
                json!({"permissions": ["create_option_profiles", "add_assets"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let jane = sign_in(&d, "jane").await;

        // R5.2: jane could not grant paul's permissions: no email change,
        // no reset.
        let (s, v) = jane
            .patch(
                &format!("/api/v1/users/{peer}"),
                json!({"email": "jane-owns-this@example.net"}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (s, v) = jane
            .post(&format!("/api/v1/users/{peer}/reset-password"), json!({}))
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (_, p) = admin.get(&format!("/api/v1/users/{peer}")).await;
        assert_eq!(p["email"], "paul@example.com");

        // sam she may re-address; the old address hears of it, and no
        // reset link goes to the new one for a day, unless a Manager asks.
        let (s, v) = jane
            .patch(
                &format!("/api/v1/users/{sam}"),
                json!({"email": "sam-new@example.net"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let old = mail_to(&d, "sam@example.com", "Your email address was changed").await;
        assert!(old.contains("sam-new@example.net"), "{old}");
        let (s, v) = jane
            .post(&format!("/api/v1/users/{sam}/reset-password"), json!({}))
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "conflict");
        let (s, v) = admin
            .post(&format!("/api/v1/users/{sam}/reset-password"), json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
    });
}

#[test]
fn business_units_are_paged_and_r4_1_those_without_a_primary_contact_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let mut ids = Vec::new();
        for name in ["EU", "US", "APAC"] {
            ids.push(admin.create_unit(name).await);
        }
        let (s, first) = admin.get("/api/v1/business-units?limit=2").await;
        assert_eq!(s, 200, "{first}");
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let cursor = first["next_cursor"].as_str().expect("a next page");
        let (s, rest) = admin
            .get(&format!("/api/v1/business-units?limit=2&cursor={cursor}"))
            .await;
        assert_eq!(s, 200, "{rest}");
        assert_eq!(rest["items"].as_array().unwrap().len(), 1);
        assert!(rest["next_cursor"].is_null());

        // EU gets a contact; the others are the ones to fix.
        let jane = admin
            .create_user("jane", "unit_manager", Some(&ids[0]))
            .await;
        sign_in(&d, "jane").await;
        let (s, v) = admin
            .put(
                &format!("/api/v1/business-units/{}/primary-contact", ids[0]),
                json!({"user": jane}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, lacking) = admin
            .get("/api/v1/business-units?without_primary_contact=true")
            .await;
        assert_eq!(s, 200, "{lacking}");
        let mut names: Vec<&str> = lacking["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["APAC", "US"]);
        for bad in ["limit=0", "limit=1001", "colour=blue"] {
            let (s, v) = admin.get(&format!("/api/v1/business-units?{bad}")).await;
            assert_eq!(s, 400, "{bad}: {v}");
        }
    });
}

#[test]
fn r4_2_a_units_first_active_unit_manager_becomes_its_contact_and_ctl_status_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let eu = admin.create_unit("EU").await;
        admin.create_unit("US").await;
        let status = text(&d.ctl(&["status"]));
        assert!(
            status.contains("2 business units without a primary contact (EU, US)"),
            "{status}"
        );
        let (_, page) = admin
            .get("/api/v1/business-units?without_primary_contact=true")
            .await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2, "{page}");

        // Created, jane is pending: not yet a contact. Activated, she is.
        let jane = admin.create_user("jane", "unit_manager", Some(&eu)).await;
        let (_, unit) = admin.get(&format!("/api/v1/business-units/{eu}")).await;
        assert_eq!(unit["primary_contact"], Value::Null, "{unit}");
        sign_in(&d, "jane").await;
        let (_, unit) = admin.get(&format!("/api/v1/business-units/{eu}")).await;
        assert_eq!(unit["primary_contact"], jane.as_str(), "{unit}");
        let (_, log) = admin
            .get("/api/v1/activity?action=primary_contact.set")
            .await;
        let e = &log["items"][0];
        assert!(
            e["details"]
                .as_str()
                .unwrap()
                .contains("first active Unit Manager"),
            "{log}"
        );
        // A second Unit Manager does not replace her.
        admin.create_user("paul", "unit_manager", Some(&eu)).await;
        sign_in(&d, "paul").await;
        let (_, unit) = admin.get(&format!("/api/v1/business-units/{eu}")).await;
        assert_eq!(unit["primary_contact"], jane.as_str(), "{unit}");

        let status = text(&d.ctl(&["status"]));
        assert!(
            status.contains("1 business unit without a primary contact (US)"),
            "{status}"
        );
        let (_, page) = admin
            .get("/api/v1/business-units?without_primary_contact=true")
            .await;
        assert_eq!(page["items"][0]["name"], "US", "{page}");
    });
}

#[test]
fn r3_2_unit_managers_add_new_ips_up_to_the_units_limit_and_the_unit_shows_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let (s, v) = admin
            .put(
                "/api/v1/settings/business-units",
                json!({"new_ip_limit_enabled": true}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, unit) = admin
            .post(
                "/api/v1/business-units",
                json!({"name": "EU", "new_ip_limit": 10}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{unit}");
        let eu = unit["id"].as_str().unwrap().to_owned();
        assert_eq!(
            (&unit["new_ips_added"], &unit["new_ips_remaining"]),
            (&json!(0), &json!(10))
        );
        let id = admin.create_user("jane", "unit_manager", Some(&eu)).await;
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{id}"),
                json!({"permissions": ["add_assets"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let jane = sign_in(&d, "jane").await;

        let (s, v) = jane
            .post("/api/v1/assets", json!({"ips": ["10.9.0.1-10.9.0.6"]}))
            .await;
        assert!(s.is_success(), "{s} {v}");
        let (_, unit) = admin.get(&format!("/api/v1/business-units/{eu}")).await;
        assert_eq!(
            (&unit["new_ips_added"], &unit["new_ips_remaining"]),
            (&json!(6), &json!(4)),
            "{unit}"
        );

        // Five more is one too many: refused whole, nothing added.
        let (s, v) = jane
            .post("/api/v1/assets", json!({"ips": ["10.9.1.1-10.9.1.5"]}))
            .await;
        assert_eq!(code(&v), "ip_limit_exceeded", "{s} {v}");
        assert!(
            v["detail"].as_str().unwrap().contains("may add 4 more"),
            "{v}"
        );
        let (_, all) = admin.get("/api/v1/assets").await;
        assert!(!all.to_string().contains("10.9.1."), "{all}");
        // IPs the subscription already holds are not new.
        let (s, v) = jane
            .post(
                "/api/v1/assets",
                json!({"ips": ["10.9.0.1-10.9.0.6", "10.9.2.1"]}),
            )
            .await;
        assert!(s.is_success(), "{s} {v}");
        let (_, unit) = admin.get(&format!("/api/v1/business-units/{eu}")).await;
        assert_eq!(
            (&unit["new_ips_added"], &unit["new_ips_remaining"]),
            (&json!(7), &json!(3)),
            "{unit}"
        );

        // The switch off: no limit applies, the count stays.
        admin
            .put(
                "/api/v1/settings/business-units",
                json!({"new_ip_limit_enabled": false}),
            )
            .await;
        let (_, unit) = admin.get(&format!("/api/v1/business-units/{eu}")).await;
        assert_eq!(
            (&unit["new_ips_added"], &unit["new_ips_remaining"]),
            (&json!(7), &Value::Null),
            "{unit}"
        );
        let (s, v) = jane
            .post("/api/v1/assets", json!({"ips": ["10.9.1.1-10.9.1.5"]}))
            .await;
        assert!(s.is_success(), "{s} {v}");
    });
}

#[test]
fn r8_8_r7_2_a_manager_sees_a_users_sessions_and_resets_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let sam_id = admin.create_user("sam", "scanner", None).await;
        let sam = sign_in(&d, "sam").await;
        let (s, me) = admin.get("/api/v1/me").await;
        assert_eq!(s, 200);
        let admin_id = me["id"].as_str().unwrap().to_owned();

        let (s, page) = admin.get(&format!("/api/v1/users/{sam_id}/sessions")).await;
        assert_eq!(s, 200, "{page}");
        assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
        assert!(page.get("next_cursor").is_some(), "paged: {page}");
        let shown = page.to_string();
        assert!(!shown.contains("token"), "no token nor its hash: {page}");
        // Others do not see someone else's sessions, nor reset them.
        let (s, _) = sam.get(&format!("/api/v1/users/{admin_id}/sessions")).await;
        assert!(s == 403 || s == 404, "{s}");
        let (s, _) = sam
            .post(
                &format!("/api/v1/users/{admin_id}/reset-password"),
                json!({}),
            )
            .await;
        assert!(s == 403 || s == 404, "{s}");

        // The reset ends every session of sam at once.
        let (s, v) = admin
            .post(&format!("/api/v1/users/{sam_id}/reset-password"), json!({}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert!(v["link_expires_at"].is_string(), "{v}");
        let (s, _) = sam.get("/api/v1/me").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "the old session is gone");
        let (_, page) = admin.get(&format!("/api/v1/users/{sam_id}/sessions")).await;
        assert_eq!(page["items"], json!([]), "{page}");
        // Through a new link sam signs in again, with a new password.
        let again = sign_in(&d, "sam").await;
        let (s, _) = again.get("/api/v1/me").await;
        assert_eq!(s, 200);
    });
}

#[test]
fn r10_2_the_email_contact_and_a_units_own_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let eu = admin.create_unit("EU").await;
        let us = admin.create_unit("US").await;
        admin.create_user("jane", "unit_manager", Some(&eu)).await;
        let jane = sign_in(&d, "jane").await;

        let (s, v) = admin.get("/api/v1/settings/email-contact").await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["email_contact"], Value::Null);
        let (s, v) = admin
            .put(
                "/api/v1/settings/email-contact",
                json!({"email_contact": {"name": "Security desk", "email": "not an address"},
                       "allow_unit_manager_override": true}),
            )
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "validation"),
            "{v}"
        );
        let (s, v) = admin
            .put(
                "/api/v1/settings/email-contact",
                json!({"email_contact": {"name": "Security desk", "email": "desk@example.com"},
                       "allow_unit_manager_override": true}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["email_contact"]["email"], "desk@example.com");
        // Unit Managers see it and may not change it.
        let (s, v) = jane.get("/api/v1/settings/email-contact").await;
        assert_eq!(
            (s, &v["email_contact"]["name"]),
            (StatusCode::OK, &json!("Security desk"))
        );
        let (s, _) = jane
            .put(
                "/api/v1/settings/email-contact",
                json!({"email_contact": null, "allow_unit_manager_override": false}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        // With the override allowed, jane sets EU's own, not US's.
        let eu_contact = format!("/api/v1/business-units/{eu}/email-contact");
        let (s, v) = jane
            .put(
                &eu_contact,
                json!({"email_contact": {"name": "EU desk", "email": "eu@example.com"}}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["email_contact"]["email"], "eu@example.com");
        let (s, _) = jane
            .put(
                &format!("/api/v1/business-units/{us}/email-contact"),
                json!({"email_contact": {"name": "Mine", "email": "m@example.com"}}),
            )
            .await;
        assert!(s == 403 || s == 404, "{s}");
        // Override withdrawn: jane can no longer change it.
        let (s, _) = admin
            .put(
                "/api/v1/settings/email-contact",
                json!({"email_contact": {"name": "Security desk", "email": "desk@example.com"},
                       "allow_unit_manager_override": false}),
            )
            .await;
        assert_eq!(s, 200);
        let (s, v) = jane.put(&eu_contact, json!({"email_contact": null})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    });
}

/// The spooled emails addressed to `address`.
fn mails_to(d: &Daemon, address: &str) -> usize {
    std::fs::read_dir(d.data_dir.join("outbox-spool"))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .filter(|eml| {
                    eml.lines()
                        .any(|l| l.starts_with("To:") && l.contains(address))
                })
                .count()
        })
        .unwrap_or(0)
}

/// Waits up to 20 s for `address` to have `n` spooled emails.
async fn await_mails(d: &Daemon, address: &str, n: usize) {
    for _ in 0..200 {
        if mails_to(d, address) >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{address} has {} emails, not {n}", mails_to(d, address));
}

#[test]
fn r12_1_notification_options_hold_back_only_the_kinds_a_user_opted_out_of() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let rita_id = admin.create_user("rita", "reader", None).await;
        let (s, cody) = admin
            .post(
                "/api/v1/users",
                json!({"login": "cody", "email": "cody@example.com", "first_name": "Cody",
                       "last_name": "Test", "role": "contact"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{cody}");
        let cody_id = cody["id"].as_str().unwrap().to_owned();
        let rita = sign_in(&d, "rita").await;

        // Every kind is wanted until opted out of.
        let (s, v) = rita.get("/api/v1/me/notification-options").await;
        assert_eq!(s, 200, "{v}");
        let kinds = v.as_object().unwrap();
        assert_eq!(kinds.len(), 7, "{v}");
        assert!(kinds.values().all(|w| *w == json!(true)), "{v}");

        let (s, v) = rita
            .put(
                "/api/v1/me/notification-options",
                json!({"scan_summary": false}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (&v["scan_summary"], &v["vulnerabilities"]),
            (&json!(false), &json!(true))
        );
        // Account Info shows the choice.
        let (_, info) = rita.get("/api/v1/account-info").await;
        assert_eq!(
            info["notification_options"]["scan_summary"], false,
            "{info}"
        );
        // A misspelt kind is refused and changes nothing.
        let (s, v) = rita
            .put(
                "/api/v1/me/notification-options",
                json!({"scan_sumary": false}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(v["detail"].as_str().unwrap().contains("scan_sumary"), "{v}");
        let (_, v) = rita.get("/api/v1/me/notification-options").await;
        assert_eq!(v["scan_summary"], false, "{v}");

        // A Contact cannot sign in: a Manager sets its options; a Reader
        // sets no one else's.
        let path = format!("/api/v1/users/{cody_id}/notification-options");
        let (s, _) = rita.put(&path, json!({"vulnerabilities": false})).await;
        assert!(s == 403 || s == 404, "{s}");
        let (s, v) = admin.put(&path, json!({"vulnerabilities": false})).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(admin.get(&path).await.1["vulnerabilities"], false);

        let send = |kind: Option<&str>| {
            let mut note = json!({"to_users": [rita_id, cody_id], "subject": "s", "body": "b"});
            if let Some(k) = kind {
                note["kind"] = json!(k);
            }
            note
        };
        let (s, v) = admin
            .post("/api/v1/notifications", send(Some("scan_summary")))
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["queued"], json!([cody_id]), "{v}");
        assert_eq!(
            v["skipped"],
            json!([{"user": rita_id, "reason": "opted out of scan_summary notifications"}])
        );
        // No kind named is a vulnerability notification.
        let (s, v) = admin.post("/api/v1/notifications", send(None)).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        assert_eq!(v["queued"], json!([rita_id]), "{v}");
        let (s, v) = admin
            .post("/api/v1/notifications", send(Some("gossip")))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

        // Credential emails go whatever the options say: rita wants nothing,
        // and the reset still reaches her.
        let none: serde_json::Map<String, Value> =
            kinds.keys().map(|k| (k.clone(), json!(false))).collect();
        let (s, v) = rita
            .put("/api/v1/me/notification-options", Value::Object(none))
            .await;
        assert_eq!(s, 200, "{v}");
        await_mails(&d, "rita@example.com", 2).await; // registration, vulnerabilities
        let before = mails_to(&d, "rita@example.com");
        let (s, v) = admin
            .post(
                &format!("/api/v1/users/{rita_id}/reset-password"),
                json!({}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        await_mails(&d, "rita@example.com", before + 1).await;
    });
}

#[test]
fn r8_6_a_manager_lets_an_api_only_password_never_expire_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let robot_id = admin.create_user("robot", "reader", None).await;
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{robot_id}"),
                json!({"access": "api_only"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let never = json!({"password_never_expires": true});
        let path = format!("/api/v1/users/{robot_id}");
        // Not before the operator turns the feature on.
        let (s, v) = admin.patch(&path, never.clone()).await;
        assert_eq!((s.as_u16(), code(&v)), (422, "feature_unavailable"), "{v}");
        let out = d.ctl(&["features", "enable", "api_password_never_expires"]);
        assert!(out.status.success(), "{}", text(&out));
        let (_, v) = admin.get(&path).await;
        assert_eq!(
            v["password_never_expires"], false,
            "the feature alone sets nothing"
        );
        // Only for API-only accounts, and only by a Manager.
        let ui_id = admin.create_user("una", "reader", None).await;
        let (s, v) = admin
            .patch(&format!("/api/v1/users/{ui_id}"), never.clone())
            .await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "validation"),
            "{v}"
        );
        let robot_pw = activation_password(&d, "robot").await;
        let robot = sign_in_with(&d, "robot", &robot_pw).await;
        let (s, _) = robot.patch(&path, never.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN);

        let (s, v) = admin.patch(&path, never.clone()).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["password_never_expires"], true, "{v}");
        // The next password change ends it.
        let (_, mut security) = admin.get("/api/v1/settings/security").await;
        security["user_defined_passwords"] = json!(true);
        let (s, v) = admin.put("/api/v1/settings/security", security).await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = robot
            .put(
                "/api/v1/me/password",
                json!({"current": robot_pw, "new": "Rotated-Secret-77"}),
            )
            .await;
        assert!(s.is_success(), "{s} {v}");
        let (_, v) = admin.get(&path).await;
        assert_eq!(
            v["password_never_expires"], false,
            "a new password ends it: {v}"
        );
    });
}

#[test]
fn r8_5_r7_1_with_user_defined_passwords_a_new_user_chooses_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let (_, mut security) = admin.get("/api/v1/settings/security").await;
        security["user_defined_passwords"] = json!(true);
        security["min_password_length"] = json!(12);
        let (s, v) = admin.put("/api/v1/settings/security", security).await;
        assert_eq!(s, 200, "{v}");
        admin.create_user("ula", "scanner", None).await;

        let link = activation_link(&d, "ula");
        let c = d.client();
        // The link names the login and generates nothing.
        let v: Value = c.get(&link).send().await.unwrap().json().await.unwrap();
        assert_eq!(
            (&v["login"], &v["password"]),
            (&json!("ula"), &Value::Null),
            "{v}"
        );
        // Too short for the policy: refused, and the link still works.
        let r = c
            .post(&link)
            .json(&json!({"password": "Short-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let v: Value = r.json().await.unwrap();
        assert_eq!(code(&v), "password_policy", "{v}");
        let chosen = "Chosen-By-Ula-2026";
        let r = c
            .post(&link)
            .json(&json!({"password": chosen}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // Once only.
        let r = c
            .post(&link)
            .json(&json!({"password": "Another-Choice-2026"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::GONE);
        let ula = sign_in_with(&d, "ula", chosen).await;
        let (_, me) = ula.get("/api/v1/me").await;
        assert_eq!(me["status"], "active", "the first login activates: {me}");
        // The user changes it later, with its current password.
        let (s, v) = ula
            .put(
                "/api/v1/me/password",
                json!({"current": "wrong-password-1", "new": "Next-Choice-2026!"}),
            )
            .await;
        assert!(s == 401 || s == 403, "{s} {v}");
        let (s, v) = ula
            .put(
                "/api/v1/me/password",
                json!({"current": chosen, "new": "Next-Choice-2026!"}),
            )
            .await;
        assert!(s.is_success(), "{s} {v}");
        sign_in_with(&d, "ula", "Next-Choice-2026!").await;
    });
}
