//! The files an appliance builder installs: the unit keeps its hardening,
//! systemd accepts it, and the example config is complete and loads.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn packaging(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging")
        .join(name)
}

/// Section name to key to every value given (repeated keys accumulate).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn parse_unit(text: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section = String::new();
    let mut pending = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#') || line.starts_with(';'))
        {
            continue;
        }
        if let Some(cont) = line.strip_suffix('\\') {
            pending.push_str(cont);
            pending.push(' ');
            continue;
        }
        let full = format!("{pending}{line}");
        pending.clear();
        if full.starts_with('[') && full.ends_with(']') {
            section = full[1..full.len() - 1].to_owned();
            unit.entry(section.clone()).or_default();
            continue;
        }
        let (k, v) = full
            .split_once('=')
            .unwrap_or_else(|| panic!("not Key=Value: {full}"));
        unit.entry(section.clone())
            .or_default()
            .entry(k.trim().to_owned())
            .or_default()
            .push(v.trim().to_owned());
    }
    unit
}

#[test]
fn unit_is_notify_and_hardened() {
    let unit = parse_unit(&std::fs::read_to_string(packaging("bailiwick.service")).unwrap());
    for s in ["Unit", "Service", "Install"] {
        assert!(unit.contains_key(s), "[{s}] missing");
    }
    let service = &unit["Service"];
    let one = |k: &str| -> &str {
        service
            .get(k)
            .and_then(|v| v.last())
            .map(String::as_str)
            .unwrap_or_else(|| panic!("{k} missing"))
    };
    assert!(one("ExecStart").starts_with("/usr/bin/bailiwick serve"));
    let expected = [
        ("Type", "notify"),
        ("User", "bailiwick"),
        ("StateDirectory", "bailiwick"),
        ("StateDirectoryMode", "0700"),
        ("UMask", "0077"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectControlGroups", "yes"),
        (
            "RestrictAddressFamilies",
            "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ),
        ("RestartPreventExitStatus", "2"),
        ("RestrictNamespaces", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("SystemCallArchitectures", "native"),
    ];
    for (k, v) in expected {
        assert_eq!(one(k), v, "{k}");
    }
    let filters = &service["SystemCallFilter"];
    assert!(
        filters.contains(&"@system-service".to_string()),
        "{filters:?}"
    );
    assert_eq!(
        unit["Install"]["WantedBy"],
        vec!["multi-user.target".to_string()]
    );
}

#[test]
fn systemd_accepts_the_unit_when_available() {
    let Ok(out) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        // CI sets REQUIRE_ALL_TOOLS, so there the check can never pass by
        // not running; elsewhere the unit's contents are still checked by
        // the test above.
        assert!(
            std::env::var_os("REQUIRE_ALL_TOOLS").is_none(),
            "systemd-analyze is not installed (apt-get install systemd)"
        );
        eprintln!("systemd-analyze not installed; the unit's syntax was not verified");
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    // The binary is not installed here; /bin/true stands in for it.
    let text = std::fs::read_to_string(packaging("bailiwick.service"))
        .unwrap()
        .replace(
            "/usr/bin/bailiwick serve --config /etc/bailiwick/bailiwick.toml",
            "/bin/true",
        );
    let path = dir.path().join("bailiwick.service");
    std::fs::write(&path, text).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    // In a container systemd may not know the user or the targets; only
    // complaints about the unit's own syntax count.
    for bad in [
        "Unknown key",
        "Unknown section",
        "Failed to parse",
        "Invalid",
        "bad-setting",
    ] {
        assert!(!said.contains(bad), "systemd-analyze: {said}");
    }
}

#[test]
fn sysusers_and_tmpfiles_create_the_user_and_private_state() {
    let sysusers = std::fs::read_to_string(packaging("bailiwick.sysusers")).unwrap();
    let user = sysusers
        .lines()
        .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .unwrap();
    let fields: Vec<&str> = user.split_whitespace().collect();
    assert_eq!(&fields[..3], ["u", "bailiwick", "-"]);
    let tmpfiles = std::fs::read_to_string(packaging("bailiwick.tmpfiles")).unwrap();
    assert!(tmpfiles.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 5 && f[..5] == ["d", "/var/lib/bailiwick", "0700", "bailiwick", "bailiwick"]
    }));
}

#[test]
fn example_config_loads_and_names_every_key() {
    use bailiwick::config::Config;
    let path = packaging("bailiwick.toml");
    // As shipped it listens on all addresses without public_url: refused,
    // naming the one key the operator sets; with it set, it loads.
    let err = Config::from_sources(Some(&path), std::iter::empty()).unwrap_err();
    assert!(err.to_string().contains("server.public_url"), "{err}");
    let text = std::fs::read_to_string(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("bailiwick.toml");
    let configured = text.replace(
        "public_url = \"\"",
        "public_url = \"https://bailiwick.example:8443\"",
    );
    assert_ne!(configured, text, "the public_url line is there to set");
    std::fs::write(&set, configured).unwrap();
    let c = Config::from_sources(Some(&set), std::iter::empty()).unwrap();
    assert_eq!(c.public_url(), "https://bailiwick.example:8443");
    let defaults = toml::Table::try_from(bailiwick::config::Config::default()).unwrap();
    for (section, keys) in defaults {
        assert!(
            text.contains(&format!("[{section}]")),
            "[{section}] missing"
        );
        let toml::Value::Table(keys) = keys else {
            continue;
        };
        for key in keys.keys() {
            assert!(
                text.lines().any(|l| l
                    .trim_start()
                    .trim_start_matches("# ")
                    .starts_with(&format!("{key} ="))),
                "{section}.{key} missing from the example"
            );
        }
    }
}
