//! Upgrades: a data directory written by every released version opens in
//! this one, is migrated, and holds what it held.
//!
//! `tests/data-dirs/<version>/` keeps a data directory as that release left
//! it, made by `scripts/make-data-dir.sh` with [`write_the_scene`] and never
//! rewritten after (its `MADE.md` says how). Each is opened on a copy by
//! today's binary and read back through the API, twice: the second start
//! finds nothing left to migrate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::api::{Api, sign_in, sign_in_with};
use crate::common::*;
use serde_json::{Value, json};

const DATA_DIRS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data-dirs");

/// The service account's secret in each data directory, kept beside it.
const SECRET_FILE: &str = "service-secret.txt";

/// What every release's data directory holds, written through the API:
/// subscription assets 10.0.0.0/8; units EU (10.1.0.0/16) and US; the
/// Unit Manager jane of EU (active), who made the EU group "California"
/// (10.1.1.0/24); the Scanner sam of EU holding it (active); the Reader
/// rita, Unassigned (pending); the service account `scanner-1` that may
/// check. Returns the service account's secret.
async fn write_the_scene(d: &Daemon) -> String {
    let boss = sign_in_with(d, "boss", BOSS_PASSWORD).await;
    let ok = |what: &str, (s, v): (reqwest::StatusCode, Value)| {
        assert!(s.is_success(), "{what}: {s} {v}");
        v
    };
    ok(
        "assets",
        boss.post(
            "/api/v1/assets",
            json!({"ips": ["10.0.0.0/8"], "domains": ["example.com"]}),
        )
        .await,
    );
    let eu = ok(
        "EU",
        boss.post(
            "/api/v1/business-units",
            json!({"name": "EU", "assets": {"ips": ["10.1.0.0/16"], "domains": [], "scanner_appliances": []}}),
        )
        .await,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    boss.create_unit("US").await;
    boss.create_user("jane", "unit_manager", Some(&eu)).await;
    let sam = boss.create_user("sam", "scanner", Some(&eu)).await;
    boss.create_user("rita", "reader", None).await;
    let jane = sign_in(d, "jane").await;
    let group = ok(
        "California",
        jane.post(
            "/api/v1/asset-groups",
            json!({"title": "California", "ips": ["10.1.1.0/24"], "domains": [],
                   "scanner_appliances": [], "business_units": [eu]}),
        )
        .await,
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        "sam's groups",
        jane.patch(
            &format!("/api/v1/users/{sam}"),
            json!({"asset_groups": [group]}),
        )
        .await,
    );
    sign_in(d, "sam").await;
    let service = ok(
        "service account",
        boss.post(
            "/api/v1/service-accounts",
            json!({"name": "scanner-1", "scopes": ["check"]}),
        )
        .await,
    );
    service["secret"].as_str().unwrap().to_owned()
}

/// Checks [`write_the_scene`]'s content through the API of the daemon
/// running on `data`.
async fn check_the_scene(d: &Daemon, secret: &str, version: &str) {
    let boss = sign_in_with(d, "boss", BOSS_PASSWORD).await;
    let get = |path: &'static str| {
        let boss = &boss;
        async move {
            let (s, v) = boss.get(path).await;
            assert!(s.is_success(), "{version}: GET {path}: {s} {v}");
            v
        }
    };
    let units: BTreeMap<String, String> = get("/api/v1/business-units?limit=1000").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().into(),
                u["name"].as_str().unwrap().into(),
            )
        })
        .collect();
    let unit_name = |id: &Value| {
        id.as_str()
            .map_or("Unassigned".to_owned(), |i| units[i].clone())
    };
    let groups = get("/api/v1/asset-groups?limit=1000").await["items"]
        .as_array()
        .unwrap()
        .clone();
    let california = groups
        .iter()
        .find(|g| g["title"] == "California")
        .unwrap_or_else(|| panic!("{version}: California in {groups:?}"));
    assert_eq!(california["ips"], json!(["10.1.1.0/24"]), "{version}");
    let users = get("/api/v1/users?limit=1000").await["items"]
        .as_array()
        .unwrap()
        .clone();
    let seen: BTreeMap<String, (String, String, String, Value)> = users
        .iter()
        .map(|u| {
            (
                u["login"].as_str().unwrap().to_owned(),
                (
                    u["role"].as_str().unwrap().to_owned(),
                    unit_name(&u["business_unit"]),
                    u["status"].as_str().unwrap().to_owned(),
                    u["asset_groups"].clone(),
                ),
            )
        })
        .collect();
    let row = |role: &str, unit: &str, status: &str, groups: Value| {
        (role.to_owned(), unit.to_owned(), status.to_owned(), groups)
    };
    let expected = BTreeMap::from([
        (
            "boss".to_owned(),
            row("manager", "Unassigned", "active", json!([])),
        ),
        (
            "jane".to_owned(),
            row("unit_manager", "EU", "active", json!([])),
        ),
        (
            "rita".to_owned(),
            row("reader", "Unassigned", "pending_activation", json!([])),
        ),
        (
            "sam".to_owned(),
            row("scanner", "EU", "active", json!([california["id"]])),
        ),
    ]);
    assert_eq!(seen, expected, "{version}: the users");

    // The question the appliance asks, by its service account: sam reaches
    // California and nothing else.
    let sam = users.iter().find(|u| u["login"] == "sam").unwrap()["id"].clone();
    let service = Api {
        d,
        c: d.client(),
        token: secret.to_owned(),
    };
    for (ip, allowed) in [("10.1.1.5", true), ("10.1.2.5", false)] {
        let (s, v) = service
            .post(
                "/api/v1/authz/check",
                json!({"user": sam, "action": "scan", "resource": {"ip": ip}}),
            )
            .await;
        assert_eq!(s, 200, "{version}: {v}");
        assert_eq!(v["allowed"], allowed, "{version}: sam scans {ip}: {v}");
    }

    // The activity log: each change the scene made, the chain intact.
    let log = get("/api/v1/activity?limit=1000").await["items"]
        .as_array()
        .unwrap()
        .clone();
    let count = |action: &str| log.iter().filter(|e| e["action"] == action).count();
    assert_eq!(count("user.create"), 3, "{version}: {log:?}");
    assert_eq!(count("unit.create"), 2, "{version}");
    assert_eq!(count("asset_group.create"), 1, "{version}");
    let v = run(&["log", "verify", "--data-dir", d.data_dir.to_str().unwrap()]);
    assert!(v.status.success(), "{version}: log verify: {}", text(&v));
}

/// Copies a kept data directory to `to` with the modes the daemon wants
/// (git keeps neither 0700 nor 0600).
fn copy_private(from: &Path, to: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "MADE.md" || name == SECRET_FILE {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_private(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }
}

fn kept_versions() -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(DATA_DIRS)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("bailiwick.redb").is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    out.sort();
    out
}

#[test]
fn every_released_versions_data_dir_opens_migrates_and_keeps_its_content() {
    let versions = kept_versions();
    assert!(
        versions.iter().any(|(v, _)| v == "0.1.0"),
        "the first release's data directory is kept: {versions:?}"
    );
    for (version, kept) in versions {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        copy_private(&kept, &data);
        let secret = std::fs::read_to_string(kept.join(SECRET_FILE)).unwrap();
        for start in ["first", "second"] {
            let d = Daemon::start_with(&data, fast_logins());
            rt().block_on(check_the_scene(
                &d,
                secret.trim(),
                &format!("{version}, {start} start"),
            ));
            let (status, stderr) = d.stop();
            assert!(status.success(), "{version}: {stderr}");
            assert!(
                !stderr.contains("ERROR"),
                "{version}, {start} start: {stderr}"
            );
        }
    }
}

/// Writes the scene into `$RELEASE_DATA_DIR_OUT` (a path that must not
/// exist): run by `scripts/make-data-dir.sh`, once a release.
#[test]
#[ignore = "writes a release's data directory; run by scripts/make-data-dir.sh"]
fn write_a_release_data_dir() {
    let out = std::env::var_os("RELEASE_DATA_DIR_OUT").expect("RELEASE_DATA_DIR_OUT");
    let data = PathBuf::from(out);
    assert!(!data.exists(), "{} exists", data.display());
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let secret = rt().block_on(async {
        let secret = write_the_scene(&d).await;
        check_the_scene(&d, &secret, "this build").await;
        secret
    });
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    std::fs::write(data.join(SECRET_FILE), secret + "\n").unwrap();
}
