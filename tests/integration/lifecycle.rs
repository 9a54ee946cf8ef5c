//! Owned objects, move and delete over HTTPS (R7.3–R7.6, R9), against the
//! real binary. The rules are tested sentence by sentence in `domain`;
//! these tests prove the API carries them, the refusals included, and that
//! the permission index and the activity log follow each workflow.

use crate::common::api::*;
use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_owned()
}

/// The outcome for `id` in a move or delete response.
fn outcome<'v>(v: &'v Value, id: &str) -> &'v Value {
    v["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("no outcome for {id} in {v}"))
}

async fn scan_allowed(api: &Api<'_>, user: &str, ip: &str) -> bool {
    let (s, v) = api
        .post(
            "/api/v1/authz/check",
            json!({"user": user, "action": "scan", "resource": {"ip": ip}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["allowed"].as_bool().unwrap()
}

/// EU (10.1.0.0/16) and US (10.2.0.0/16); jane, Unit Manager of EU, with
/// her group "California" (10.1.1.0/24) held by sam, a Scanner of EU.
struct Org {
    eu: String,
    us: String,
    jane: String,
    sam: String,
    california: String,
}

async fn org(admin: &Api<'_>, d: &Daemon) -> Org {
    let (s, v) = admin
        .post(
            "/api/v1/assets",
            json!({"ips": ["10.1.0.0/16", "10.2.0.0/16"]}),
        )
        .await;
    assert!(s.is_success(), "{v}");
    let mut units = Vec::new();
    for (name, net) in [("EU", "10.1.0.0/16"), ("US", "10.2.0.0/16")] {
        let (s, v) = admin
            .post(
                "/api/v1/business-units",
                json!({"name": name, "assets": {"ips": [net]}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        units.push(id(&v));
    }
    let (eu, us) = (units[0].clone(), units[1].clone());
    let jane = admin.create_user("jane", "unit_manager", Some(&eu)).await;
    let jane_api = sign_in(d, "jane").await;
    let (s, v) = jane_api
        .post(
            "/api/v1/asset-groups",
            json!({"title": "California", "ips": ["10.1.1.0/24"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let california = id(&v);
    let (s, v) = admin
        .post(
            "/api/v1/users",
            json!({"login": "sam", "email": "sam@example.com", "first_name": "Sam",
                   "last_name": "Scan", "role": "scanner", "business_unit": eu,
                   "asset_groups": [california]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    Org {
        eu,
        us,
        jane,
        sam: id(&v),
        california,
    }
}

#[test]
fn r7_4_a_move_copies_california_keeps_the_reach_and_says_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let o = org(&admin, &d).await;
        let sam = sign_in(&d, "sam").await;
        let (s, schedule) = sam
            .post(
                "/api/v1/objects",
                json!({"kind": "scheduled_scan", "name": "nightly", "asset_groups": [o.california]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{schedule}");
        assert_eq!(schedule["owner"], o.sam.as_str());
        assert_eq!(schedule["business_unit"], o.eu.as_str());
        assert_eq!(schedule["status"], "active");
        let (s, ticket) = admin
            .post(
                "/api/v1/objects",
                json!({"kind": "remediation_ticket", "name": "CVE on 10.1.1.5",
                       "ips": ["10.1.1.5"], "assignee": o.sam}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{ticket}");
        assert_eq!(ticket["validity"], "valid");
        assert!(scan_allowed(&admin, &o.sam, "10.1.1.5").await);

        // Refusals first: each changes nothing.
        let path = format!("/api/v1/users/{}/move", o.sam);
        let (s, v) = admin
            .post(&path, json!({"business_unit": o.us, "keep_configurations": false}))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(code(&v), "validation");
        let jane_path = format!("/api/v1/users/{}/move", o.jane);
        let (s, v) = admin
            .post(
                &jane_path,
                json!({"business_unit": null, "keep_configurations": true, "keep_asset_groups": true}),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "R2.2: a Unit Manager is in a unit: {v}");
        let jane = sign_in(&d, "jane").await;
        let (s, v) = jane
            .post(
                &path,
                json!({"business_unit": o.us, "keep_configurations": true, "keep_asset_groups": true}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (_, me) = sam.get("/api/v1/me").await;
        assert_eq!(me["business_unit"], o.eu.as_str());

        // The move: configurations deleted, groups kept.
        let (s, v) = admin
            .post(
                &path,
                json!({"business_unit": o.us, "keep_configurations": false, "keep_asset_groups": true}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["user"]["business_unit"], o.us.as_str());
        let copied = outcome(&v, &o.california);
        assert_eq!(copied["action"], "copied");
        assert_eq!(copied["kind"], "asset_group");
        let copy_id = copied["to"].as_str().unwrap().to_owned();
        assert_eq!(outcome(&v, &id(&schedule))["action"], "deleted");
        assert_eq!(v["user"]["asset_groups"], json!([copy_id]));

        let (_, copy) = admin.get(&format!("/api/v1/asset-groups/{copy_id}")).await;
        assert_eq!(copy["title"], "California 1");
        assert_eq!(copy["business_units"], json!([o.us]));
        let (_, me) = admin.get("/api/v1/me").await;
        assert_eq!(copy["owner"], me["id"], "owned by the subscription primary contact");
        let (_, original) = admin.get(&format!("/api/v1/asset-groups/{}", o.california)).await;
        assert_eq!(original["title"], "California");
        assert_eq!(original["business_units"], json!([o.eu]));

        // It keeps its reach through the copy; the ticket stays valid.
        assert!(scan_allowed(&admin, &o.sam, "10.1.1.5").await);
        let (_, t) = admin.get(&format!("/api/v1/objects/{}", id(&ticket))).await;
        assert_eq!(t["validity"], "valid");
        let (s, _) = admin.get(&format!("/api/v1/objects/{}", id(&schedule))).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // Back to EU without its groups: the ticket becomes invalid.
        let (s, v) = admin
            .post(
                &path,
                json!({"business_unit": o.eu, "keep_configurations": true, "keep_asset_groups": false}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(outcome(&v, &id(&ticket))["action"], "invalidated");
        assert!(!scan_allowed(&admin, &o.sam, "10.1.1.5").await);
        let (_, t) = admin.get(&format!("/api/v1/objects/{}", id(&ticket))).await;
        assert_eq!(t["validity"], "invalid");

        let (_, log) = admin.get("/api/v1/activity?action=user.move").await;
        assert_eq!(log["items"].as_array().unwrap().len(), 2, "{log}");
        let (_, log) = admin.get("/api/v1/activity?action=asset_group.copy").await;
        assert_eq!(log["items"].as_array().unwrap().len(), 1, "{log}");
    });
}

#[test]
fn r7_4_a_unit_change_by_edit_names_the_move_when_something_would_stay_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let o = org(&admin, &d).await;
        // Owning nothing, a unit change by edit is the whole move.
        let pat = admin.create_user("pat", "reader", Some(&o.eu)).await;
        let (s, v) = admin
            .patch(&format!("/api/v1/users/{pat}"), json!({"business_unit": o.us}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["business_unit"], o.us.as_str());

        // sam owns a schedule in EU: the edit would leave it with EU's
        // Unit Managers, so it is refused and names the move.
        let sam = sign_in(&d, "sam").await;
        let (s, schedule) = sam
            .post(
                "/api/v1/objects",
                json!({"kind": "scheduled_scan", "name": "nightly", "asset_groups": [o.california]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{schedule}");
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{}", o.sam),
                json!({"business_unit": o.us, "asset_groups": []}),
            )
            .await;
        assert_eq!((s.as_u16(), code(&v)), (409, "use_move"), "{v}");
        let detail = v["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("/api/v1/users/{}/move", o.sam)),
            "{detail}"
        );
        let (_, u) = admin.get(&format!("/api/v1/users/{}", o.sam)).await;
        assert_eq!(u["business_unit"], o.eu.as_str(), "nothing changed");
        // The move settles it: the schedule goes with sam, none stays in EU.
        let (s, v) = admin
            .post(
                &format!("/api/v1/users/{}/move", o.sam),
                json!({"business_unit": o.us, "keep_configurations": true,
                       "keep_asset_groups": true}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, moved) = admin.get(&format!("/api/v1/objects/{}", id(&schedule))).await;
        assert_eq!(s, 200, "{moved}");
        assert_eq!(moved["business_unit"], o.us.as_str());
    });
}

#[test]
fn r7_5_a_delete_settles_everything_and_refuses_primary_contacts() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let (_, me) = admin.get("/api/v1/me").await;
        let admin_id = id(&me);
        let o = org(&admin, &d).await;
        // pete, a Scanner, is EU's primary contact.
        let pete = admin.create_user("pete", "scanner", Some(&o.eu)).await;
        sign_in(&d, "pete").await;
        let (s, v) = admin
            .put(
                &format!("/api/v1/business-units/{}/primary-contact", o.eu),
                json!({"user": pete}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let bob = admin.create_user("bob", "scanner", Some(&o.eu)).await;
        let register = |kind: &str, name: &str, owner: &str| {
            json!({"kind": kind, "name": name, "owner": owner})
        };
        let (_, schedule) = admin
            .post("/api/v1/objects", register("scheduled_scan", "weekly", &o.jane))
            .await;
        let (_, list) = admin
            .post("/api/v1/objects", register("search_list", "hosts", &o.jane))
            .await;
        let (_, result) = admin
            .post("/api/v1/objects", register("scan_result", "scan 7", &o.sam))
            .await;
        let (s, ticket) = admin
            .post(
                "/api/v1/objects",
                json!({"kind": "remediation_ticket", "name": "t", "ips": ["10.1.1.5"], "assignee": o.jane}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{ticket}");

        // Never a primary contact, never oneself.
        let (s, v) = admin.delete(&format!("/api/v1/users/{pete}")).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "primary_contact");
        let (s, _) = admin.delete(&format!("/api/v1/users/{admin_id}")).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // A transfer to nobody is refused, and changes nothing.
        let (s, v) = admin
            .delete(&format!("/api/v1/users/{}?transfer_configurations_to=nobody", o.jane))
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(admin.get(&format!("/api/v1/users/{}", o.jane)).await.0, 200);

        // jane, a Unit Manager: her group and scheduled scan go to pete,
        // her search list is deleted, her ticket becomes invalid.
        let (s, v) = admin.delete(&format!("/api/v1/users/{}", o.jane)).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["user"]["login"], "jane");
        let group = outcome(&v, &o.california);
        assert_eq!((group["action"].as_str(), group["to"].as_str()), (Some("reassigned"), Some(pete.as_str())));
        assert_eq!(outcome(&v, &id(&schedule))["action"], "reassigned");
        assert_eq!(outcome(&v, &id(&list))["action"], "deleted");
        assert_eq!(outcome(&v, &id(&ticket))["action"], "invalidated");
        assert_eq!(admin.get(&format!("/api/v1/users/{}", o.jane)).await.0, 404);
        let (_, g) = admin.get(&format!("/api/v1/asset-groups/{}", o.california)).await;
        assert_eq!(g["owner"], pete.as_str());
        let (_, t) = admin.get(&format!("/api/v1/objects/{}", id(&ticket))).await;
        assert_eq!((t["validity"].as_str(), t["assignee"].as_str()), (Some("invalid"), None));

        // sam, with a JSON body: results kept and given to bob.
        let (s, v) = admin
            .call(
                reqwest::Method::DELETE,
                &format!("/api/v1/users/{}", o.sam),
                Some(json!({"transfer_configurations_to": bob, "keep_results": true})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(outcome(&v, &id(&result))["action"], "transferred");
        let (_, r) = admin.get(&format!("/api/v1/objects/{}", id(&result))).await;
        assert_eq!(r["owner"], bob.as_str());

        let (_, log) = admin.get("/api/v1/activity?action=user.delete").await;
        assert_eq!(log["items"].as_array().unwrap().len(), 2, "{log}");
    });
}

#[test]
fn r9_3_a_deactivated_owners_schedule_is_refused_at_launch_and_marked() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let sam = admin.create_user("sam", "scanner", None).await;
        let sam_api = sign_in(&d, "sam").await;
        let (s, schedule) = sam_api
            .post(
                "/api/v1/objects",
                json!({"kind": "scheduled_report", "name": "monthly"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{schedule}");
        let launch = format!("/api/v1/objects/{}/launch", id(&schedule));
        let (s, v) = admin.post(&launch, json!({})).await;
        assert_eq!(s, 200, "{v}");
        let (s, _) = admin
            .post(&format!("/api/v1/users/{sam}/deactivate"), json!({}))
            .await;
        assert_eq!(s, 200);
        let (s, v) = admin.post(&launch, json!({})).await;
        assert_eq!(s, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "schedule_owner_deactivated");
        let (_, v) = admin
            .get(&format!("/api/v1/objects/{}", id(&schedule)))
            .await;
        assert_eq!(v["status"], "deactivated", "the refusal was committed");
        // Listing by kind shows it; a bad kind is named.
        let (_, list) = admin.get("/api/v1/objects?kind=scheduled_report").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let (s, v) = admin.get("/api/v1/objects?kind=nonsense").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["detail"].as_str().unwrap().contains("kind"), "{v}");
        // Given to an active user and put back in service, it launches.
        let (s, v) = admin
            .patch(
                &format!("/api/v1/objects/{}", id(&schedule)),
                json!({"owner": id(&admin.get("/api/v1/me").await.1), "status": "active"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(admin.post(&launch, json!({})).await.0, 200);
    });
}

#[test]
fn r10_3_account_info_shows_the_users_appliances_permissions_and_own_scans() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let o = org(&admin, &d).await;
        // One appliance in EU that California names, one sam cannot use.
        let mut appliances = Vec::new();
        for (name, unit) in [("eu-scanner", Some(&o.eu)), ("us-scanner", Some(&o.us))] {
            let (s, v) = admin
                .post(
                    "/api/v1/scanner-appliances",
                    json!({"name": name, "kind": "physical", "business_unit": unit}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            appliances.push(id(&v));
        }
        let jane = sign_in(&d, "jane").await;
        let (s, v) = jane
            .patch(
                &format!("/api/v1/asset-groups/{}", o.california),
                json!({"scanner_appliances": [appliances[0]]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{}", o.sam),
                json!({"permissions": ["purge_host_history"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");

        let sam = sign_in(&d, "sam").await;
        for (kind, name) in [
            ("scan_result", "Monday scan"),
            ("scheduled_scan", "nightly"),
            ("map_result", "office map"),
            ("search_list", "not a scan"),
            ("scan_result", "Tuesday scan"),
        ] {
            let (s, v) = sam
                .post(
                    "/api/v1/objects",
                    json!({"kind": kind, "name": name, "asset_groups": [o.california]}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }

        let (s, info) = sam.get("/api/v1/account-info").await;
        assert_eq!(s, 200, "{info}");
        assert_eq!(info["appliances"].as_array().unwrap().len(), 1, "{info}");
        assert_eq!(info["appliances"][0]["name"], "eu-scanner");
        assert_eq!(info["appliances"][0]["kind"], "physical");
        assert_eq!(info["permissions"], json!(["purge_host_history"]));
        let work = &info["scans_and_maps"];
        assert_eq!(
            (
                &work["scan_results"],
                &work["map_results"],
                &work["scheduled_scans"]
            ),
            (&json!(2), &json!(1), &json!(1)),
            "{info}"
        );
        let recent: Vec<&str> = work["recent"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            recent,
            ["Tuesday scan", "office map", "nightly", "Monday scan"],
            "newest first, only scans and maps"
        );

        // Jane's own account info holds none of sam's work; as Unit Manager
        // of EU she may use EU's appliance and not US's.
        let (_, info) = jane.get("/api/v1/account-info").await;
        assert_eq!(info["scans_and_maps"]["scan_results"], 0, "{info}");
        let names: Vec<&str> = info["appliances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["eu-scanner"]);
    });
}

#[test]
fn r6_1_a_manager_renames_and_moves_an_appliance_while_no_group_would_lose_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let o = org(&admin, &d).await;
        let (s, a) = admin
            .post(
                "/api/v1/scanner-appliances",
                json!({"name": "dc1", "kind": "physical", "business_unit": o.eu}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{a}");
        let path = format!("/api/v1/scanner-appliances/{}", id(&a));
        let jane = sign_in(&d, "jane").await;
        let california = format!("/api/v1/asset-groups/{}", o.california);
        let (s, v) = jane
            .patch(&california, json!({"scanner_appliances": [id(&a)]}))
            .await;
        assert_eq!(s, 200, "{v}");

        // EU's group names it: it stays in EU, and says which group holds it.
        let (s, v) = admin.patch(&path, json!({"business_unit": o.us})).await;
        assert_eq!((s, code(&v)), (StatusCode::CONFLICT, "conflict"), "{v}");
        assert!(v["detail"].as_str().unwrap().contains("California"), "{v}");
        let (s, v) = jane.patch(&path, json!({"business_unit": o.us})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
        let (s, v) = admin.patch(&path, json!({"colour": "red"})).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, "validation"),
            "{v}"
        );

        // Let go by the group, it moves; renamed, it keeps its id.
        let (s, v) = jane
            .patch(&california, json!({"scanner_appliances": []}))
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = admin
            .patch(&path, json!({"business_unit": o.us, "name": "dc-east"}))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (&v["name"], &v["business_unit"]),
            (&json!("dc-east"), &json!(o.us))
        );
        // Jane no longer sees it; the log says what changed.
        let (s, _) = jane.patch(&path, json!({"name": "mine"})).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (_, log) = admin.get("/api/v1/activity?action=appliance.update").await;
        let details = log["items"][0]["details"].as_str().unwrap();
        assert!(
            details.contains("\"dc1\" -> \"dc-east\"") && details.contains("EU -> US"),
            "{log}"
        );
    });
}

#[test]
fn r5_5_a_units_own_remediation_policy_wins_over_the_subscriptions() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    rt().block_on(async {
        let admin = sign_in(&d, "admin").await;
        let o = org(&admin, &d).await;
        let (s, v) = admin
            .patch(
                &format!("/api/v1/users/{}", o.jane),
                json!({"permissions": ["vm_remediation_policy"]}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let jane = sign_in(&d, "jane").await;
        let eu = format!("/api/v1/business-units/{}/remediation-policy", o.eu);
        let (s, v) = jane.get(&eu).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v, json!({"level": "none", "policies": []}));

        let (s, sub) = admin
            .post(
                "/api/v1/objects",
                json!({"kind": "remediation_policy", "name": "Subscription SLA"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{sub}");
        let (_, v) = jane.get(&eu).await;
        assert_eq!(v["level"], "subscription", "{v}");
        assert_eq!(v["policies"][0]["id"], id(&sub).as_str());

        let (s, own) = jane
            .post(
                "/api/v1/objects",
                json!({"kind": "remediation_policy", "name": "EU SLA"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{own}");
        let (_, v) = jane.get(&eu).await;
        assert_eq!(v["level"], "unit", "{v}");
        let names: Vec<&str> = v["policies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["EU SLA"], "the unit's own win");
        // US still gets the subscription's; jane cannot look at US.
        let us = format!("/api/v1/business-units/{}/remediation-policy", o.us);
        let (_, v) = admin.get(&us).await;
        assert_eq!(v["level"], "subscription", "{v}");
        let (s, _) = jane.get(&us).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    });
}
