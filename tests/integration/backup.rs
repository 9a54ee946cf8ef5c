//! Backups as an operator takes and restores them: under 64 writers, and
//! by the README's procedure, run as written.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::api::sign_in_with;
use crate::common::*;
use serde_json::json;

/// The shell block under "## Backup and restore" in README.md.
fn readme_restore_block() -> String {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## Backup and restore")
        .nth(1)
        .expect("README has a Backup and restore section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in the section");
    block.to_owned()
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// `features list` says `feature` is enabled.
fn enabled(data: &Path, feature: &str) -> bool {
    let list = text(&ctl(data, &["features", "list"]));
    list.lines()
        .any(|l| l.starts_with(feature) && l.ends_with("enabled"))
}

/// Waits for the daemon `systemctl start` ran to listen.
fn wait_listening(unit: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(unit.join("stdout"))
        .unwrap_or_default()
        .contains("listening on https://")
    {
        assert!(
            Instant::now() < deadline,
            "the daemon did not start: {}",
            std::fs::read_to_string(unit.join("stderr")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The README's block, with `/var/lib/bailiwick` and `/var/backups` moved
/// into a temporary directory, `systemctl` standing for a unit that runs
/// the daemon on that data directory, and `bailiwick` the binary under
/// test. A change made before the backup is there after the restore; the
/// replaced files are kept aside; the log verifies.
#[test]
fn the_readmes_restore_procedure_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data = root.join("lib/bailiwick");
    let backups = root.join("backups");
    let shims = root.join("bin");
    let unit = root.join("unit");
    for d in [&backups, &shims, &unit] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::create_dir_all(data.parent().unwrap()).unwrap();
    init_boss(&data);
    let (data_s, unit_s) = (data.to_str().unwrap(), unit.to_str().unwrap());
    write_script(&shims.join("bailiwick"), &format!("exec '{BIN}' \"$@\"\n"));
    // Processes the unit started are reparented when the shim exits, so
    // "stopped" is: gone, or a zombie nobody has reaped yet.
    write_script(
        &shims.join("systemctl"),
        &format!(
            r#"set -eu
[ "$2" = bailiwick ] || {{ echo "systemctl: no unit $2" >&2; exit 5; }}
case "$1" in
start)
    BAILIWICK_AUTH_ARGON2_MEMORY_KIB=64 BAILIWICK_AUTH_ARGON2_ITERATIONS=1 \
        '{BIN}' serve --data-dir '{data_s}' --listen 127.0.0.1:0 >'{unit_s}/stdout' 2>'{unit_s}/stderr' &
    echo $! >'{unit_s}/pid' ;;
stop)
    pid=$(cat '{unit_s}/pid')
    kill -TERM "$pid"
    while [ -e "/proc/$pid" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$pid/stat" 2>/dev/null; do sleep 0.05; done
    rm '{unit_s}/pid' ;;
*) echo "systemctl: $1 is not simulated" >&2; exit 1 ;;
esac
"#
        ),
    );
    let path = format!(
        "{}:{}",
        shims.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let shell = |script: &str| {
        std::process::Command::new("sh")
            .arg("-eu")
            .arg("-c")
            .arg(script)
            .env("PATH", &path)
            // How the packaged unit tells `ctl` where the data is.
            .env("STATE_DIRECTORY", &data)
            .env_remove("NOTIFY_SOCKET")
            .output()
            .unwrap()
    };

    let _stop = KillOnDrop(unit.join("pid"));
    let o = shell("systemctl start bailiwick");
    assert!(o.status.success(), "{}", text(&o));
    wait_listening(&unit);
    assert!(
        ctl(&data, &["features", "enable", "kb_only_role"])
            .status
            .success()
    );

    let block = readme_restore_block()
        .replace("/var/lib/bailiwick", data_s)
        .replace("/var/backups", backups.to_str().unwrap());
    let o = shell(&block);
    assert!(
        o.status.success(),
        "the README's block failed:\n{block}\n{}",
        text(&o)
    );
    wait_listening(&unit);

    assert!(
        enabled(&data, "kb_only_role"),
        "the restored data holds the change"
    );
    let old = root.join("lib/bailiwick.old");
    assert!(
        old.join("bailiwick.redb").is_file(),
        "the replaced database is kept"
    );
    assert!(old.join("activity").is_dir(), "the replaced log is kept");
    assert_eq!(
        std::fs::read_dir(&backups).unwrap().count(),
        1,
        "one backup written"
    );
    let o = shell("systemctl stop bailiwick");
    assert!(o.status.success(), "{}", text(&o));
    let v = run(&["log", "verify", "--data-dir", data_s]);
    assert!(v.status.success(), "{}", text(&v));
}

/// Kills the daemon the shim last started if the test ends early.
struct KillOnDrop(std::path::PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            // SAFETY: kill takes no pointers; at worst the pid is gone.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The activity log of `data` as `log export` prints it, one JSON line an
/// entry, in sequence order.
fn exported(data: &Path) -> Vec<serde_json::Value> {
    let o = run(&["log", "export", "--data-dir", data.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The logins of `data`'s users but boss, read offline.
fn logins(data: &Path) -> BTreeSet<String> {
    let store = bailiwick::store::Store::open(
        data,
        &bailiwick::store::Options::default(),
        std::sync::Arc::new(bailiwick::clock::SystemClock),
    )
    .unwrap();
    let out = store
        .snapshot()
        .users
        .values()
        .map(|u| u.login.clone())
        .filter(|l| l != "boss")
        .collect();
    store.close();
    out
}

/// The login a `user.create` entry names (`user LOGIN (ID)`).
fn created(entry: &serde_json::Value) -> Option<String> {
    (entry["action"] == "user.create").then(|| {
        let target = entry["target"].as_str().unwrap();
        target
            .strip_prefix("user ")
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .to_owned()
    })
}

/// `ctl backup` while 64 clients create users: the restored copy is
/// exactly a state that existed. Its activity log is a prefix of the live
/// one, entry for entry; its users are exactly those that prefix created;
/// every creation acknowledged before the backup began is in it, and none
/// it holds was refused (R7.6, R11.3).
#[test]
fn a_backup_under_64_writers_restores_a_prefix_of_the_acknowledged_writes() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("backup.redb");
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let (before, during) = rt().block_on(async {
        let boss = sign_in_with(&d, "boss", BOSS_PASSWORD).await;
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..64u8 {
            // Each from its own address: the daemon caps one address's
            // connections at 64.
            let source = std::net::IpAddr::from([127, 0, 2, w + 1]);
            let (c, url, token) = (
                d.client_from(source),
                d.url("/api/v1/users"),
                boss.token.clone(),
            );
            let (acked, stop) = (acked.clone(), stop.clone());
            writers.push(tokio::spawn(async move {
                for n in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let login = format!("w{w}-{n}");
                    let r = c
                        .post(&url)
                        .bearer_auth(&token)
                        .json(
                            &json!({"login": login, "email": format!("{login}@example.com"),
                                      "first_name": "W", "last_name": "W", "role": "reader"}),
                        )
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201, "{login}: {}", r.text().await.unwrap());
                    acked.lock().unwrap().insert(login);
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let before = acked.lock().unwrap().clone();
        let (data, to) = (data.clone(), out.clone());
        let o = tokio::task::spawn_blocking(move || {
            ctl(&data, &["backup", "--out", to.to_str().unwrap()])
        })
        .await
        .unwrap();
        assert!(o.status.success(), "{}", text(&o));
        let during = acked.lock().unwrap().clone();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.await.unwrap();
        }
        (before, during)
    });
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    let all = acked.lock().unwrap().clone();
    assert!(
        !before.is_empty() && all.len() > during.len(),
        "the writers ran before and after the backup: {} {} {}",
        before.len(),
        during.len(),
        all.len()
    );

    let restored = dir.path().join("restored");
    let r = restore(&out, &restored);
    assert!(r.status.success(), "{}", text(&r));
    // A start drains the copied outbox into the restored log.
    let d = Daemon::start(&restored);
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");

    let live = exported(&data);
    let copy = exported(&restored);
    assert!(copy.len() < live.len(), "the copy stops before the end");
    assert_eq!(
        copy[..],
        live[..copy.len()],
        "the restored log is a prefix of the live one"
    );
    let in_prefix: BTreeSet<String> = copy.iter().filter_map(created).collect();
    let users = logins(&restored);
    assert_eq!(
        users, in_prefix,
        "the users are exactly those the prefix created"
    );
    assert!(
        users.is_superset(&before),
        "everything acknowledged before the backup is in it"
    );
    assert!(users.is_subset(&all), "nothing unacknowledged is in it");
    let v = run(&["log", "verify", "--data-dir", restored.to_str().unwrap()]);
    assert!(v.status.success(), "{}", text(&v));
}
