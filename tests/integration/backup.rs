//! Backups as an operator takes and restores them: the README's procedure,
//! run as written.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::*;

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
