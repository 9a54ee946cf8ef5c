//! The activity log (R11.2, R11.3) against the real binary: one entry per
//! acknowledged change across `kill -9`, a torn tail cut at start, a
//! tampered middle named by `bailiwick log verify`, retention that keeps the
//! chain verifiable, search scoped by role, and CSV export.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use bailiwick::audit::format::{self, Item, Records};
use serde_json::{Value, json};

const PASSWORD: &str = BOSS_PASSWORD;

async fn login(d: &Daemon, c: &reqwest::Client, login: &str, pw: &str) -> Option<String> {
    let r = c
        .post(d.url("/api/v1/session"))
        .json(&json!({"login": login, "password": pw}))
        .send()
        .await
        .ok()?;
    if r.status() != 201 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["token"].as_str().map(str::to_owned)
}

async fn get(d: &Daemon, c: &reqwest::Client, token: &str, path: &str) -> (u16, Value) {
    let r = c.get(d.url(path)).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Every entry matching `query`, following `next_cursor` page by page.
async fn all(d: &Daemon, c: &reqwest::Client, token: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/activity?limit=1000&{query}{cursor}");
        let (status, page) = get(d, c, token, &path).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return out,
        }
    }
}

fn seqs(items: &[Value]) -> Vec<u64> {
    items.iter().map(|e| e["seq"].as_u64().unwrap()).collect()
}

fn log_cmd(data: &Path, args: &[&str]) -> std::process::Output {
    let mut full = vec!["log"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--data-dir", data.to_str().unwrap()]);
    run(&full)
}

fn segments(data: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("activity"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

/// `(seq, offset, length)` of every record of a segment file.
fn records(path: &Path) -> Vec<(u64, u64, usize)> {
    let bytes = std::fs::read(path).unwrap();
    Records::new(&bytes[format::HEADER_LEN..], format::HEADER_LEN as u64, 0)
        .filter_map(|i| match i {
            Item::Record(r) => Some((r.seq, r.offset, r.bytes.len())),
            _ => None,
        })
        .collect()
}

#[test]
fn r11_3_read_your_writes_an_acknowledged_change_is_searchable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    rt().block_on(async {
        let token = login(&d, &c, "boss", PASSWORD).await.unwrap();
        for _ in 0..5 {
            // Log in and out, then look at once: no waiting for the drain.
            let t = login(&d, &c, "boss", PASSWORD).await.unwrap();
            let (_, page) = get(&d, &c, &token, "/api/v1/activity?limit=1").await;
            assert_eq!(page["items"][0]["action"], "login", "{page}");
            let r = c
                .delete(d.url("/api/v1/session"))
                .bearer_auth(&t)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 204);
            let (_, page) = get(&d, &c, &token, "/api/v1/activity?limit=1").await;
            assert_eq!(page["items"][0]["action"], "logout", "{page}");
        }
        let (_, page) = get(&d, &c, &token, "/api/v1/activity?limit=1").await;
        let e = &page["items"][0];
        let me = get(&d, &c, &token, "/api/v1/me").await.1;
        assert_eq!(e["actor"], me["id"]);
        assert_eq!(e["actor_login"], "boss");
        assert_eq!(e["ip"], "127.0.0.1");
        assert!(e["business_unit"].is_null());
        assert!(e["time"].as_str().unwrap().ends_with('Z'));
        // Everything since init, in order, no gaps: the bootstrap entry is seq 1.
        let every = all(&d, &c, &token, "").await;
        let s = seqs(&every);
        assert_eq!(*s.last().unwrap(), 1);
        assert!(s.windows(2).all(|w| w[0] == w[1] + 1), "{s:?}");
        // The drain catches up and the outbox empties; the metrics say so.
        let mut drained = false;
        for _ in 0..100 {
            let m = c
                .get(d.url("/metrics"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            if m.contains("bailiwick_activity_outbox_depth 0")
                && !m.contains("bailiwick_activity_log_bytes 0\n")
            {
                drained = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(drained, "the outbox was not drained");
    });
    assert!(!segments(&data).is_empty());
}

#[test]
fn r11_3_kill_9_mid_writes_then_one_entry_per_committed_change_and_a_clean_chain() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    // Small segments, so that rotation happens under the crash too.
    let start = fast_logins().env("BAILIWICK_ACTIVITY_SEGMENT_SIZE", "4KiB");
    let d = Daemon::start_with(&data, start.clone());
    let acked = Arc::new(AtomicUsize::new(0));
    // Requests cut off by the kill: each may or may not have committed.
    let cut_off = Arc::new(AtomicUsize::new(0));
    rt().block_on(async {
        let c = d.client();
        let d = &d;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (c, acked, cut_off, url) = (
                c.clone(),
                acked.clone(),
                cut_off.clone(),
                d.url("/api/v1/session"),
            );
            // Log in, then out: two changes, each with its entry. Logins
            // from one address are hashed one at a time; a busy answer
            // (429) changed nothing and is simply tried again.
            tasks.push(tokio::spawn(async move {
                loop {
                    let r = c
                        .post(&url)
                        .json(&json!({"login": "boss", "password": PASSWORD}))
                        .send()
                        .await;
                    let token = match r {
                        Ok(r) if r.status() == 201 => {
                            acked.fetch_add(1, Ordering::SeqCst);
                            let v: Value = match r.json().await {
                                Ok(v) => v,
                                Err(_) => return,
                            };
                            v["token"].as_str().unwrap().to_owned()
                        }
                        Ok(r) if r.status() == 429 => continue,
                        Ok(r) => panic!("login refused: {}", r.status()),
                        Err(_) => {
                            cut_off.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    };
                    match c.delete(&url).bearer_auth(&token).send().await {
                        Ok(r) if r.status() == 204 => {
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("logout refused: {}", r.status()),
                        Err(_) => {
                            cut_off.fetch_add(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        d.signal(libc::SIGKILL);
        for t in tasks {
            t.await.unwrap();
        }
    });
    drop(d);
    let acked = acked.load(Ordering::SeqCst);
    let unknown = cut_off.load(Ordering::SeqCst);
    assert!(acked > 10, "too few logins before the kill: {acked}");

    let d = Daemon::start_with(&data, start);
    let c = d.client();
    rt().block_on(async {
        let token = login(&d, &c, "boss", PASSWORD).await.unwrap();
        let logins = all(&d, &c, &token, "action=login&user=boss").await.len();
        let logouts = all(&d, &c, &token, "action=logout&user=boss").await.len();
        // Every committed login left a session and every committed logout
        // removed one, so the sessions alive and the entries must agree one
        // to one: nothing lost, nothing doubled, nothing for a change that
        // did not commit.
        let (_, sessions) = get(&d, &c, &token, "/api/v1/me/sessions").await;
        let sessions = sessions["items"].as_array().unwrap().len();
        assert_eq!(logins - logouts, sessions, "entries vs sessions");
        let before_restart = logins - 1 + logouts;
        eprintln!("kill -9: acknowledged {acked}, cut off {unknown}, logged {before_restart}, sessions {sessions}");
        assert!(
            (acked..=acked + unknown).contains(&before_restart),
            "acknowledged {acked}, cut off {unknown}, logged {before_restart}"
        );
        let every = seqs(&all(&d, &c, &token, "").await);
        assert!(
            every.windows(2).all(|w| w[0] == w[1] + 1),
            "sequence has gaps or repeats"
        );
        assert_eq!(*every.last().unwrap(), 1);
    });
    let (status, _) = d.stop();
    assert!(status.success());
    let v = log_cmd(&data, &["verify"]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(segments(&data).len() > 1, "rotation happened");
}

#[test]
fn r11_3_torn_tail_is_cut_at_start_and_a_tampered_middle_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    rt().block_on(async {
        for _ in 0..6 {
            login(&d, &c, "boss", PASSWORD).await.unwrap();
        }
    });
    let (status, _) = d.stop();
    assert!(status.success());
    let ok = log_cmd(&data, &["verify"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("OK"), "{}", text(&ok));

    // Tamper with a record in the middle: verify names file, seq and offset.
    let seg = segments(&data).pop().unwrap();
    let recs = records(&seg);
    assert!(recs.len() >= 7, "{recs:?}");
    let (seq, offset, len) = recs[3];
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[offset as usize + len - 2] ^= 0x20;
    // And leave half a record at the end, as a crash mid-append would.
    let whole = bytes.len() as u64;
    bytes.extend_from_within(offset as usize..offset as usize + len / 2);
    std::fs::write(&seg, &bytes).unwrap();
    let bad = log_cmd(&data, &["verify"]);
    assert_eq!(bad.status.code(), Some(1), "{}", text(&bad));
    let out = text(&bad);
    let name = seg.file_name().unwrap().to_str().unwrap();
    assert!(
        out.contains(&format!(
            "{name}: record seq {seq} at byte {offset}: checksum mismatch"
        )),
        "{out}"
    );
    assert!(out.contains("unfinished record"), "{out}");

    // The daemon still starts: the torn tail is cut with a warning, the
    // damage is left for the operator, and new entries are appended.
    let d = Daemon::start_with(&data, fast_logins());
    assert_eq!(std::fs::metadata(&seg).unwrap().len(), whole);
    let c = d.client();
    rt().block_on(async {
        let token = login(&d, &c, "boss", PASSWORD).await.unwrap();
        let (_, page) = get(&d, &c, &token, "/api/v1/activity?limit=1").await;
        assert_eq!(page["items"][0]["action"], "login");
        // The damaged entry is not shown; its neighbours are.
        let shown = seqs(&all(&d, &c, &token, "").await);
        assert!(!shown.contains(&seq) && shown.contains(&(seq + 1)) && shown.contains(&(seq - 1)));
    });
    let (_, stderr) = d.stop();
    assert!(stderr.contains("torn tail"), "{stderr}");
    let still = log_cmd(&data, &["verify"]);
    assert_eq!(still.status.code(), Some(1));
    assert!(
        !text(&still).contains("unfinished record"),
        "{}",
        text(&still)
    );
}

#[test]
fn r11_3_retention_deletes_old_segments_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let start = fast_logins()
        .env("BAILIWICK_ACTIVITY_SEGMENT_SIZE", "4KiB")
        .env("BAILIWICK_ACTIVITY_RETENTION_SIZE", "10KiB");
    let d = Daemon::start_with(&data, start);
    let c = d.client();
    rt().block_on(async {
        for _ in 0..120 {
            login(&d, &c, "boss", PASSWORD).await.unwrap();
        }
        let token = login(&d, &c, "boss", PASSWORD).await.unwrap();
        // Retention runs after the drain; give it a moment.
        for _ in 0..100 {
            if segments(&data)
                .first()
                .is_some_and(|p| !p.ends_with(format::segment_name(1)))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let shown = seqs(&all(&d, &c, &token, "").await);
        assert!(*shown.last().unwrap() > 1, "old entries are gone");
        assert!(shown.windows(2).all(|w| w[0] == w[1] + 1));
    });
    let (status, _) = d.stop();
    assert!(status.success());
    let total: u64 = segments(&data)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(total <= 10 * 1024 + 4096, "log is {total} bytes");
    let v = log_cmd(&data, &["verify"]);
    assert!(v.status.success(), "{}", text(&v));
    assert!(
        text(&v).contains("older segments were deleted"),
        "{}",
        text(&v)
    );
}

/// Adds unit East with Unit Manager `um1` and Scanner `sc1`, and Reader
/// `rd1` outside it, each with a one-time activation token.
fn add_people(data: &Path) -> Vec<(&'static str, String)> {
    use bailiwick::domain::users::{ActivationGrant, NewUser, create_user};
    use bailiwick::domain::{Access, Actor, Role, units};
    let store = bailiwick::store::Store::open(
        data,
        &bailiwick::store::Options::default(),
        Arc::new(bailiwick::clock::SystemClock),
    )
    .unwrap();
    let boss = store.snapshot().user_by_login("boss").unwrap().clone();
    let actor = Actor {
        user: Some(boss.id.clone()),
        login: boss.login.clone(),
        business_unit: None,
        ip: None,
    };
    store
        .write_blocking(actor.clone(), |tx| {
            units::create_unit(
                tx,
                "east".into(),
                units::NewUnit {
                    name: "East".into(),
                    new_ip_limit: None,
                },
            )
        })
        .unwrap();
    let mut tokens = Vec::new();
    for (login, role, unit) in [
        ("um1", Role::UnitManager, Some("east")),
        ("sc1", Role::Scanner, Some("east")),
        ("rd1", Role::Reader, None),
    ] {
        let token = bailiwick::ids::new_token();
        let grant = ActivationGrant {
            token_hash: bailiwick::ids::token_hash(&token),
            expires_at: bailiwick::clock::system_now().saturating_add(Duration::from_secs(86400)),
        };
        let new = NewUser {
            login: login.into(),
            email: format!("{login}@example.com"),
            first_name: "A".into(),
            last_name: "B".into(),
            role,
            business_unit: unit.map(str::to_owned),
            asset_groups: Vec::new(),
            permissions: None,
            access: Access::UiAndApi,
            external_id: None,
        };
        store
            .write_blocking(actor.clone(), move |tx| {
                create_user(tx, bailiwick::ids::new_id(), new, Some(grant))
            })
            .unwrap();
        tokens.push((login, token));
    }
    store.close();
    tokens
}

#[test]
fn r11_2_search_filters_scoping_by_role_and_csv_export() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let people = add_people(&data);
    let d = Daemon::start_with(&data, fast_logins());
    let c = d.client();
    rt().block_on(async {
        let boss = login(&d, &c, "boss", PASSWORD).await.unwrap();
        let mut tokens = std::collections::HashMap::new();
        let mut ids = std::collections::HashMap::new();
        for (name, token) in &people {
            let r = c
                .get(d.url(&format!("/api/v1/activation/{token}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let v: Value = r.json().await.unwrap();
            let t = login(&d, &c, name, v["password"].as_str().unwrap())
                .await
                .unwrap();
            let me = get(&d, &c, &t, "/api/v1/me").await.1;
            ids.insert(*name, me["id"].as_str().unwrap().to_owned());
            tokens.insert(*name, t);
        }
        let actors = |items: &[Value]| {
            let mut v: Vec<String> = items
                .iter()
                .filter(|e| e["action"] == "login")
                .map(|e| e["actor_login"].as_str().unwrap().to_owned())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        // R11.2: Managers see all; the Unit Manager its unit's users; others their own.
        assert_eq!(
            actors(&all(&d, &c, &boss, "").await),
            ["boss", "rd1", "sc1", "um1"]
        );
        let um = all(&d, &c, &tokens["um1"], "").await;
        assert_eq!(actors(&um), ["sc1", "um1"]);
        assert!(
            um.iter()
                .all(|e| e["business_unit"] == "east" || e["actor"] == ids["um1"].as_str())
        );
        let sc = all(&d, &c, &tokens["sc1"], "").await;
        assert!(!sc.is_empty() && sc.iter().all(|e| e["actor"] == ids["sc1"].as_str()));
        let rd = all(&d, &c, &tokens["rd1"], "").await;
        assert!(!rd.is_empty() && rd.iter().all(|e| e["actor"] == ids["rd1"].as_str()));

        // Filters.
        let by_user = all(&d, &c, &boss, "user=sc1").await;
        assert!(!by_user.is_empty() && by_user.iter().all(|e| e["actor_login"] == "sc1"));
        let by_id = all(&d, &c, &boss, &format!("user={}", ids["sc1"])).await;
        assert_eq!(seqs(&by_id), seqs(&by_user));
        let every = all(&d, &c, &boss, "").await;
        let count = |f: &dyn Fn(&str) -> bool| {
            every
                .iter()
                .filter(|e| f(e["action"].as_str().unwrap()))
                .count()
        };
        let created = all(&d, &c, &boss, "action=user.create").await;
        assert_eq!(created.len(), count(&|a| a == "user.create"));
        for name in ["um1", "sc1", "rd1"] {
            assert!(
                created
                    .iter()
                    .any(|e| e["target"].as_str().unwrap().contains(name))
            );
        }
        let prefixed = all(&d, &c, &boss, "action=user.*").await;
        assert_eq!(prefixed.len(), count(&|a| a.starts_with("user.")));
        assert!(prefixed.len() > created.len());
        // Sessions opened through the API are API activity (the seed's
        // search for "API" in the details), matched in any case.
        let api = all(&d, &c, &boss, "action=login&details=api").await;
        assert_eq!(api.len(), 4, "details match any case");
        assert!(
            all(&d, &c, &boss, "action=login&details=UI")
                .await
                .is_empty()
        );
        assert_eq!(
            all(&d, &c, &boss, "action=login&ip=127.0.0.1").await.len(),
            4
        );
        assert!(all(&d, &c, &boss, "ip=10.9.9.9").await.is_empty());
        assert!(
            all(&d, &c, &boss, "since=2999-01-01T00:00:00Z")
                .await
                .is_empty()
        );
        assert!(
            all(&d, &c, &boss, "until=2000-01-01T00:00:00Z")
                .await
                .is_empty()
        );
        let recent = all(
            &d,
            &c,
            &boss,
            "since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z",
        )
        .await;
        let every = all(&d, &c, &boss, "").await;
        assert_eq!(seqs(&recent), seqs(&every));

        // Cursor pagination: pages of two cover everything once, newest first.
        let mut paged = Vec::new();
        let mut path = "/api/v1/activity?limit=2".to_owned();
        loop {
            let (_, page) = get(&d, &c, &boss, &path).await;
            let items = page["items"].as_array().unwrap();
            assert!(items.len() <= 2);
            paged.extend(seqs(items));
            match page["next_cursor"].as_str() {
                Some(n) => path = format!("/api/v1/activity?limit=2&cursor={n}"),
                None => break,
            }
        }
        assert_eq!(paged, seqs(&every));
        let default = get(&d, &c, &boss, "/api/v1/activity").await.1;
        assert_eq!(
            default["items"].as_array().unwrap().len(),
            every.len().min(100)
        );

        // Bad parameters are named.
        for (q, word) in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("since=yesterday", "since"),
            ("ip=nope", "ip"),
            ("cursor=x", "cursor"),
            ("colour=red", "colour"),
        ] {
            let (status, p) = get(&d, &c, &boss, &format!("/api/v1/activity?{q}")).await;
            assert_eq!(status, 400, "{q}");
            assert_eq!(p["code"], "validation");
            assert!(p["detail"].as_str().unwrap().contains(word), "{q}: {p}");
        }
        let r = c.get(d.url("/api/v1/activity")).send().await.unwrap();
        assert_eq!(r.status(), 401);

        // CSV: the same search, same scope, as a download.
        let r = c
            .get(d.url("/api/v1/activity.csv?action=login"))
            .bearer_auth(&boss)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv")
        );
        let body = r.text().await.unwrap();
        let lines: Vec<&str> = body.split_terminator("\r\n").collect();
        assert_eq!(
            lines[0],
            "seq,time,actor,actor_login,business_unit,ip,action,target,details"
        );
        let logins = all(&d, &c, &boss, "action=login").await;
        assert_eq!(lines.len() - 1, logins.len());
        assert!(lines[1].starts_with(&format!("{},", logins[0]["seq"])));
        let mine = c
            .get(d.url("/api/v1/activity.csv"))
            .bearer_auth(&tokens["sc1"])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(mine.split_terminator("\r\n").count() - 1, sc.len());
        assert!(!mine.contains(",boss,"));
    });
    let (status, _) = d.stop();
    assert!(status.success());

    // Offline export: JSON lines by default, CSV on request.
    let jl = log_cmd(&data, &["export"]);
    assert!(jl.status.success(), "{}", text(&jl));
    let lines: Vec<Value> = String::from_utf8(jl.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["seq"], 1, "oldest first");
    assert!(lines.iter().any(|e| e["actor_login"] == "sc1"));
    let csv = log_cmd(
        &data,
        &["export", "--csv", "--since", "2000-01-01T00:00:00Z"],
    );
    assert!(csv.status.success());
    assert_eq!(
        String::from_utf8(csv.stdout)
            .unwrap()
            .split_terminator("\r\n")
            .count(),
        lines.len() + 1
    );
    let none = log_cmd(
        &data,
        &[
            "export",
            "--format",
            "jsonl",
            "--until",
            "2000-01-01T00:00:00Z",
        ],
    );
    assert!(none.status.success() && none.stdout.is_empty());
    let bad = log_cmd(&data, &["export", "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    let missing = run(&[
        "log",
        "verify",
        "--data-dir",
        dir.path().join("nowhere").to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}
