//! Crash safety over the real binary, under the design rule "never lose an
//! acknowledged write": `kill -9` at a random moment under concurrent writes,
//! round after round on one data directory, and a full disk. After each
//! crash every acknowledged change is there with its values, nothing is half
//! there (R7.6: users who own objects are moved and deleted meanwhile), the
//! activity log holds one entry per committed change
//! (R11.3), the mail outbox lost and doubled nothing, whether it went to
//! the spool or to an SMTP relay that is up in some runs and down in
//! others (R12.1), and every
//! backup taken meanwhile, cut by the kill or not, is whole or absent.
//! `CRASH_ROUNDS` and `CRASH_SEED` set the campaign
//! (`scripts/crash-campaign.sh`).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::smtp_sink::{Sink, SinkOptions};
use crate::common::*;
use bailiwick::domain::notice::NoticeKind;
use bailiwick::domain::{OwnedObject, State};
use bailiwick::store::mail::PendingMail;
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = BOSS_PASSWORD;
/// Rounds when `CRASH_ROUNDS` does not say (`scripts/crash-campaign.sh`
/// runs many more).
const ROUNDS: u64 = 10;
/// Wrong passwords between two good ones: under the lockout threshold (set
/// to 100), so every failure counts (R8.2) and none locks.
const FAILURE_STREAK: u64 = 10;

/// The campaign's randomness: where each round's kill lands. Printed, and
/// taken from `CRASH_SEED` when set, so that a failure replays.
struct Dice(u64);

impl Dice {
    fn from_env() -> Dice {
        let seed = match std::env::var("CRASH_SEED") {
            Ok(s) => s.parse().expect("CRASH_SEED is a number"),
            Err(_) => std::collections::hash_map::RandomState::new().hash_one(Instant::now()),
        };
        eprintln!("crash campaign seed {seed} (replay with CRASH_SEED={seed})");
        Dice(seed)
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

fn rounds() -> u64 {
    std::env::var("CRASH_ROUNDS").map_or(ROUNDS, |n| n.parse().expect("CRASH_ROUNDS is a number"))
}

// ---- talking to the daemon -------------------------------------------------

/// A client of one daemon run; `None` from a call means the request was cut
/// off (the daemon died): it may or may not have been committed.
#[derive(Clone)]
struct Http {
    c: reqwest::Client,
    base: String,
    token: String,
}

impl Http {
    fn new(d: &Daemon, token: &str) -> Http {
        Http {
            c: d.client(),
            base: d.url(""),
            token: token.to_owned(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
        let mut req = self
            .c
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.ok()?;
        let status = r.status().as_u16();
        // The status line is the acknowledgement: a body lost to the kill
        // does not make a 2xx unacknowledged.
        let text = r.text().await.unwrap_or_default();
        Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A read that must succeed.
    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.call(Method::GET, path, None).await.expect("GET");
        assert_eq!(s, 200, "GET {path}: {v}");
        v
    }

    /// `POST /api/v1/session`; the status and the token on success.
    async fn login(&self, login: &str, password: &str) -> Option<(u16, Option<String>)> {
        let r = self
            .c
            .post(format!("{}/api/v1/session", self.base))
            .json(&json!({"login": login, "password": password}))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        Some((status, v["token"].as_str().map(str::to_owned)))
    }

    /// Every item of a paged list.
    async fn all(&self, path: &str) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self.get(&format!("{path}{sep}limit=1000{cursor}")).await;
            out.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return out,
            }
        }
    }
}

// ---- what the writers were told --------------------------------------------

/// Whether a write was acknowledged (2xx received) or cut off by the kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Acked,
    Unknown,
}

#[derive(Debug, Clone)]
struct GroupFate {
    created: Fate,
    /// Patches number 1, 2, ...: the last acknowledged and the last sent.
    acked_patch: u32,
    sent_patch: u32,
}

/// Everything the writers sent, across all rounds.
#[derive(Debug, Default)]
struct Ledger {
    /// Created users by login.
    users: BTreeMap<String, Fate>,
    /// Asset groups by title stem (`g<round>-<task>-<n>`); the title carries
    /// the patch number: `<stem> v<k>`.
    groups: BTreeMap<String, GroupFate>,
    /// The victim's `first_name` is `v<n>` after patch n.
    victim_acked: u64,
    victim_sent: u64,
    /// Acknowledged wrong passwords since the last acknowledged good one;
    /// `None` once a good one was cut off (its reset may have committed).
    failed_streak: Option<u64>,
    /// Whether a wrong password was cut off after the streak.
    failed_cut_off: bool,
    failed_total: u64,
    victim_password: String,
    /// Tokens of acknowledged logins of `boss`, and cut-off attempts.
    boss_tokens: Vec<String>,
    boss_unknown: u64,
    /// Owners of objects by login (`o<round>-<n>`), each moved or deleted.
    owners: BTreeMap<String, OwnerFate>,
    /// The units owners start in and move to: EU and US.
    units: (String, String),
}

/// How an owner of objects leaves its unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leaving {
    /// To US without its configurations (R7.4): its search list goes, its
    /// scan result moves with it.
    Move,
    /// Deleted without a transfer (R7.5): nothing stays owned by it.
    Delete,
}

#[derive(Debug, Clone)]
struct OwnerFate {
    /// Known once its creation was answered with a body.
    id: Option<String>,
    created: Fate,
    /// Its objects' names (`list-<login>`, `result-<login>`), each with its fate.
    objects: Vec<(String, Fate)>,
    /// The last thing sent for it.
    leaving: Option<(Leaving, Fate)>,
}

type Shared = Arc<Mutex<Ledger>>;

/// `ctl backup` over and over while the round runs, so that kills land
/// inside backups too. Returns the backups acknowledged.
async fn take_backups(
    data: std::path::PathBuf,
    dir: std::path::PathBuf,
    round: u64,
) -> Vec<std::path::PathBuf> {
    let mut taken = Vec::new();
    for n in 1.. {
        let out = dir.join(format!("round-{round}-{n}.redb"));
        let (from, to) = (data.clone(), out.clone());
        let o = tokio::task::spawn_blocking(move || {
            ctl(&from, &["backup", "--out", to.to_str().unwrap()])
        })
        .await
        .unwrap();
        if !o.status.success() {
            // The daemon is gone (or going).
            break;
        }
        taken.push(out);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    taken
}

/// Every acknowledged backup is there, and every backup file there, cut
/// by the kill or not, passes `ctl backup --verify` (a backup appears only
/// whole). They are removed after, to keep the disk small.
fn check_backups(round: u64, dir: &Path, taken: &[std::path::PathBuf]) {
    for b in taken {
        assert!(
            b.is_file(),
            "round {round}: acknowledged backup {} is gone",
            b.display()
        );
    }
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "redb") {
            let v = run(&["ctl", "backup", "--verify", path.to_str().unwrap()]);
            assert!(
                v.status.success(),
                "round {round}: {}: {}",
                path.display(),
                text(&v)
            );
            seen += 1;
        }
        std::fs::remove_file(&path).unwrap();
    }
    eprintln!(
        "round {round}: {} backups acknowledged, {seen} verified",
        taken.len()
    );
}

fn unexpected(what: &str, status: u16, v: &Value) -> ! {
    panic!("{what}: unexpected answer {status}: {v}")
}

async fn create_users(h: Http, ledger: Shared, round: u64, task: u64) {
    for n in 0.. {
        let login = format!("u{round}-{task}-{n}");
        let body = user_body(&login);
        ledger
            .lock()
            .unwrap()
            .users
            .insert(login.clone(), Fate::Unknown);
        match h.call(Method::POST, "/api/v1/users", Some(&body)).await {
            None => return,
            Some((201, _)) => {
                ledger.lock().unwrap().users.insert(login, Fate::Acked);
            }
            Some((s, v)) => unexpected("create user", s, &v),
        }
    }
}

fn user_body(login: &str) -> Value {
    json!({"login": login, "email": format!("{login}@example.com"),
           "first_name": format!("F-{login}"), "last_name": "Crash", "role": "reader"})
}

/// Creates groups and patches each a few times (its title counts the patches).
async fn edit_groups(h: Http, ledger: Shared, round: u64, task: u64) {
    for n in 0..200 {
        let stem = format!("g{round}-{task}-{n}");
        ledger.lock().unwrap().groups.insert(
            stem.clone(),
            GroupFate {
                created: Fate::Unknown,
                acked_patch: 0,
                sent_patch: 0,
            },
        );
        let body = json!({"title": format!("{stem} v0"), "ips": [format!("10.{round}.{n}.0/24")]});
        let id = match h
            .call(Method::POST, "/api/v1/asset-groups", Some(&body))
            .await
        {
            None => return,
            Some((201, v)) => {
                ledger
                    .lock()
                    .unwrap()
                    .groups
                    .get_mut(&stem)
                    .unwrap()
                    .created = Fate::Acked;
                match v["id"].as_str() {
                    Some(id) => id.to_owned(),
                    None => return, // the body was cut off
                }
            }
            Some((s, v)) => unexpected("create asset group", s, &v),
        };
        for k in 1..=4u32 {
            ledger
                .lock()
                .unwrap()
                .groups
                .get_mut(&stem)
                .unwrap()
                .sent_patch = k;
            let body = json!({"title": format!("{stem} v{k}"),
                              "ips": [format!("10.{round}.{n}.0/24"), format!("10.200.{k}.{n}")]});
            let path = format!("/api/v1/asset-groups/{id}");
            match h.call(Method::PATCH, &path, Some(&body)).await {
                None => return,
                Some((200, _)) => {
                    ledger
                        .lock()
                        .unwrap()
                        .groups
                        .get_mut(&stem)
                        .unwrap()
                        .acked_patch = k
                }
                Some((s, v)) => unexpected("patch asset group", s, &v),
            }
        }
    }
}

/// Users of EU who own a configuration and a result, each then moved to US
/// without its configurations or deleted, so that kills land inside the
/// workflows that touch the most records at once (R7.4–R7.6).
async fn leave_with_objects(h: Http, ledger: Shared, round: u64) {
    let (eu, us) = ledger.lock().unwrap().units.clone();
    let fate = |login: &str, f: &mut dyn FnMut(&mut OwnerFate)| {
        f(ledger.lock().unwrap().owners.get_mut(login).unwrap())
    };
    for n in 0.. {
        let login = format!("o{round}-{n}");
        ledger.lock().unwrap().owners.insert(
            login.clone(),
            OwnerFate {
                id: None,
                created: Fate::Unknown,
                objects: Vec::new(),
                leaving: None,
            },
        );
        let mut body = user_body(&login);
        body["role"] = json!("scanner");
        body["business_unit"] = json!(eu);
        let id = match h.call(Method::POST, "/api/v1/users", Some(&body)).await {
            None => return,
            Some((201, v)) => {
                fate(&login, &mut |o| o.created = Fate::Acked);
                match v["id"].as_str() {
                    Some(id) => id.to_owned(),
                    None => return,
                }
            }
            Some((s, v)) => unexpected("create owner", s, &v),
        };
        fate(&login, &mut |o| o.id = Some(id.clone()));
        for (kind, stem) in [("search_list", "list"), ("scan_result", "result")] {
            let name = format!("{stem}-{login}");
            fate(&login, &mut |o| {
                o.objects.push((name.clone(), Fate::Unknown))
            });
            let body = json!({"kind": kind, "name": name, "owner": id});
            match h.call(Method::POST, "/api/v1/objects", Some(&body)).await {
                None => return,
                Some((201, _)) => fate(&login, &mut |o| {
                    o.objects.last_mut().unwrap().1 = Fate::Acked
                }),
                Some((s, v)) => unexpected("register object", s, &v),
            }
        }
        let leaving = if n % 2 == 0 {
            Leaving::Move
        } else {
            Leaving::Delete
        };
        fate(&login, &mut |o| o.leaving = Some((leaving, Fate::Unknown)));
        let answer = match leaving {
            Leaving::Move => {
                let body = json!({"business_unit": us, "keep_configurations": false,
                                  "keep_asset_groups": false});
                h.call(
                    Method::POST,
                    &format!("/api/v1/users/{id}/move"),
                    Some(&body),
                )
                .await
            }
            Leaving::Delete => {
                let path = format!("/api/v1/users/{id}?keep_results=false");
                h.call(Method::DELETE, &path, None).await
            }
        };
        match answer {
            None => return,
            Some((200 | 204, _)) => fate(&login, &mut |o| o.leaving = Some((leaving, Fate::Acked))),
            Some((s, v)) => unexpected("move or delete owner", s, &v),
        }
    }
}

/// Renames the victim `v<n>`, n counting up across rounds.
async fn patch_victim(h: Http, ledger: Shared, victim: String) {
    loop {
        let n = {
            let mut l = ledger.lock().unwrap();
            l.victim_sent += 1;
            l.victim_sent
        };
        let body = json!({"first_name": format!("v{n}")});
        match h
            .call(
                Method::PATCH,
                &format!("/api/v1/users/{victim}"),
                Some(&body),
            )
            .await
        {
            None => return,
            Some((200, _)) => ledger.lock().unwrap().victim_acked = n,
            Some((s, v)) => unexpected("patch user", s, &v),
        }
    }
}

/// Wrong passwords for the victim, each counted persistently (R8.2), and
/// now and then the right one, which clears the count. A busy answer (429:
/// this address has a hash in flight) changed nothing.
async fn fail_logins(h: Http, ledger: Shared) {
    let password = ledger.lock().unwrap().victim_password.clone();
    loop {
        let streak = ledger.lock().unwrap().failed_streak;
        let good = streak.is_none_or(|n| n >= FAILURE_STREAK);
        let pw = if good {
            password.as_str()
        } else {
            "Wrong-Password-1"
        };
        match h.login("victim", pw).await {
            None => {
                let mut l = ledger.lock().unwrap();
                if good {
                    l.failed_streak = None;
                } else {
                    l.failed_cut_off = true;
                }
                return;
            }
            Some((429, _)) => tokio::time::sleep(Duration::from_millis(5)).await,
            Some((201, _)) if good => ledger.lock().unwrap().failed_streak = Some(0),
            Some((401, _)) if !good => {
                let mut l = ledger.lock().unwrap();
                l.failed_streak = l.failed_streak.map(|n| n + 1);
                l.failed_total += 1;
            }
            Some((s, _)) => unexpected("victim login", s, &Value::Null),
        }
    }
}

async fn boss_logins(h: Http, ledger: Shared) {
    loop {
        match h.login("boss", PASSWORD).await {
            None => {
                ledger.lock().unwrap().boss_unknown += 1;
                return;
            }
            Some((429, _)) => tokio::time::sleep(Duration::from_millis(5)).await,
            Some((201, Some(token))) => ledger.lock().unwrap().boss_tokens.push(token),
            // The token was cut off with the body: the login may have
            // committed, its token is unknown.
            Some((201, None)) => {
                ledger.lock().unwrap().boss_unknown += 1;
                return;
            }
            Some((s, _)) => unexpected("login", s, &Value::Null),
        }
    }
}

// ---- what is on disk ---------------------------------------------------------

/// The database as the killed daemon left it, read with the daemon down.
struct Offline {
    state: Arc<State>,
    pending: Vec<PendingMail>,
    failed: u64,
}

fn offline(data: &Path) -> Offline {
    let store = bailiwick::store::Store::open(
        data,
        &bailiwick::store::Options::default(),
        Arc::new(bailiwick::clock::SystemClock),
    )
    .expect("the database opens after kill -9");
    let state = store.snapshot();
    let pending = store.mail_pending(0, 1_000_000).unwrap();
    let failed = store.mail_failed_count();
    store.close();
    Offline {
        state,
        pending,
        failed,
    }
}

/// One `.eml` of the spool directory.
struct Eml {
    seq: u64,
    message_id: String,
    to: String,
    subject: String,
    body: String,
}

fn spool(data: &Path) -> Vec<Eml> {
    emails(&data.join("outbox-spool"))
}

/// The `.eml` files of `dir`, by the outbox sequence number their
/// `Message-ID` (`<seq.tag@domain>`) carries.
fn emails(dir: &Path) -> Vec<Eml> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        // Dot-files are temporaries a relay ignores.
        if name.starts_with('.') || !name.ends_with(".eml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Long headers are folded onto continuation lines (RFC 5322 2.2.3).
        let head = text
            .split_once("\r\n\r\n")
            .map_or(text.as_str(), |(h, _)| h);
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        let header = |h: &str| {
            unfolded
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{h}: ")))
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let message_id = header("Message-ID");
        let seq = message_id
            .trim_start_matches('<')
            .split('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}: no sequence number in {message_id:?}", path.display()));
        out.push(Eml {
            seq,
            message_id,
            to: header("To"),
            subject: header("Subject"),
            body: text
                .split_once("\r\n\r\n")
                .map_or("", |(_, b)| b)
                .to_owned(),
        });
    }
    out.sort_by_key(|e| e.seq);
    out
}

/// How one daemon run delivers mail (R12.1): into the spool directory, or
/// by SMTP to a real relay that is up, or down, for the whole run. Runs
/// take them in turn, so a message queued in one run is delivered, retried
/// or resent after a kill in another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mail {
    Spool,
    RelayUp,
    RelayDown,
}

impl Mail {
    fn of_run(n: u64) -> Mail {
        [Mail::RelayUp, Mail::RelayDown, Mail::Spool][(n % 3) as usize]
    }
}

/// The relay of the SMTP runs (`common::smtp_sink`): one port, and a new
/// directory of received messages each run it is up.
struct Relay {
    port: u16,
    dir: std::path::PathBuf,
    runs: u32,
}

impl Relay {
    /// The daemon on `data` delivering as `mail` says, and the relay when
    /// it is up; both live until the run's kill.
    fn start(&mut self, data: &Path, mail: Mail) -> (Daemon, Option<Sink>) {
        let sink = (mail == Mail::RelayUp).then(|| {
            self.runs += 1;
            let out = self.dir.join(format!("run-{}", self.runs));
            Sink::start(self.port, &out, SinkOptions::default())
        });
        let start = match mail {
            Mail::Spool => fast_logins(),
            // Retried for as long as the campaign runs: a relay down for
            // many runs must not make an email fail.
            Mail::RelayUp | Mail::RelayDown => {
                smtp_relay(fast_logins(), self.port).env("BAILIWICK_MAIL_MAX_ATTEMPTS", "1000000")
            }
        };
        (Daemon::start_with(data, start), sink)
    }

    /// Every message the relay accepted, over all its runs.
    fn received(&self) -> Vec<Eml> {
        (1..=self.runs)
            .flat_map(|n| emails(&self.dir.join(format!("run-{n}"))))
            .collect()
    }
}

/// The address in a `To` header: `Name <a@b>` gives `a@b`.
fn address(to: &str) -> &str {
    to.rsplit_once('<')
        .and_then(|(_, a)| a.strip_suffix('>'))
        .unwrap_or(to)
}

fn is_registration(e: &Eml) -> bool {
    e.subject.starts_with("Your new account in")
}

fn log_verify(data: &Path) {
    let v = run(&["log", "verify", "--data-dir", data.to_str().unwrap()]);
    assert!(v.status.success(), "log verify: {}", text(&v));
}

/// The id inside a target like `user jane (ID)`.
fn target_id(e: &Value) -> &str {
    let t = e["target"].as_str().unwrap_or("");
    t.rsplit_once('(')
        .and_then(|(_, r)| r.strip_suffix(')'))
        .unwrap_or("")
}

// ---- the checks --------------------------------------------------------------

/// What the on-disk state says, checked against what the writers were told,
/// and (mail) against the spool directory.
fn check_offline(round: u64, ledger: &Ledger, off: &Offline, spooled: &[Eml], relayed: &[Eml]) {
    let state = &off.state;
    // Acknowledged users are there, with the values sent (R7.6).
    for (login, fate) in &ledger.users {
        match (state.user_by_login(login), fate) {
            (Some(u), _) => {
                assert_eq!(u.email, format!("{login}@example.com"));
                assert_eq!(u.first_name, format!("F-{login}"));
                assert_eq!(u.last_name, "Crash");
            }
            (None, Fate::Acked) => panic!("round {round}: acknowledged user {login} is lost"),
            (None, Fate::Unknown) => {}
        }
    }
    // Nothing appears that no writer sent; every user is whole: credentials,
    // its activation link and its one registration email (R7.1, R12.1).
    // Indexed first: rounds reach thousands of users and emails.
    let linked: HashSet<&str> = state
        .activation_links
        .values()
        .map(|l| l.user.as_str())
        .collect();
    let mut registrations: HashMap<&str, BTreeSet<u64>> = HashMap::new();
    for p in &off.pending {
        if let Ok(n) = &p.notice
            && n.kind == NoticeKind::Registration
            && let Some(user) = n.user()
            && let Some(u) = state.users.get(user)
        {
            registrations
                .entry(u.email.as_str())
                .or_default()
                .insert(p.seq);
        }
    }
    // A message spooled or relayed just before the kill can still be
    // pending, and be sent again (by SMTP with the same Message-ID, which
    // lets the reader drop it): one email by sequence number, not two.
    for e in spooled.iter().chain(relayed).filter(|e| is_registration(e)) {
        registrations
            .entry(address(&e.to))
            .or_default()
            .insert(e.seq);
    }
    for u in state.users.values() {
        if u.login == "boss" {
            continue;
        }
        assert!(
            u.login == "victim"
                || ledger.users.contains_key(&u.login)
                || ledger.owners.contains_key(&u.login),
            "round {round}: user {} was never sent",
            u.login
        );
        assert!(
            state.credentials.contains_key(&u.id),
            "round {round}: {} has no credentials",
            u.login
        );
        assert!(
            linked.contains(u.id.as_str()),
            "round {round}: {} has no activation link",
            u.login
        );
        let seqs = registrations.get(u.email.as_str()).map_or(0, BTreeSet::len);
        assert_eq!(
            seqs, 1,
            "round {round}: {} has {} registration emails (outbox or spool)",
            u.login, seqs
        );
    }
    assert_eq!(off.failed, 0, "round {round}: spooling never fails here");
    let mut ids = BTreeSet::new();
    for e in spooled {
        assert!(!e.message_id.is_empty(), "{} has no Message-ID", e.seq);
        assert!(
            ids.insert(e.message_id.clone()),
            "round {round}: Message-ID {} twice in the spool",
            e.message_id
        );
    }
    // Patches: the last acknowledged one or the one cut off, nothing else.
    let victim = state.user_by_login("victim").unwrap();
    let n: u64 = victim
        .first_name
        .strip_prefix('v')
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        n >= ledger.victim_acked && n <= ledger.victim_sent,
        "round {round}: victim is {n}, acked {}, sent {}",
        ledger.victim_acked,
        ledger.victim_sent
    );
    // Failed logins are counted persistently (R8.2).
    let failed = state.credentials[&victim.id].failed_attempts as u64;
    if let Some(acked) = ledger.failed_streak {
        let cut = u64::from(ledger.failed_cut_off);
        assert!(
            failed >= acked && failed <= acked + cut,
            "round {round}: {failed} failed attempts stored, {acked} acknowledged, {cut} cut off"
        );
    }
    assert!(!state.credentials[&victim.id].locked);
    for (stem, fate) in &ledger.groups {
        let found: Vec<_> = state
            .asset_groups
            .values()
            .filter(|g| g.title.split_once(" v").is_some_and(|(s, _)| s == stem))
            .collect();
        match (found.as_slice(), fate.created) {
            ([g], _) => {
                let k: u32 = g.title.split_once(" v").unwrap().1.parse().unwrap();
                assert!(
                    k >= fate.acked_patch && k <= fate.sent_patch,
                    "round {round}: group {stem} at patch {k}, acked {fate:?}"
                );
            }
            ([], Fate::Unknown) => {}
            (other, _) => panic!(
                "round {round}: group {stem}: {} found, {fate:?}",
                other.len()
            ),
        }
    }
    check_owners(round, ledger, state);
    // Every acknowledged session is stored.
    for token in &ledger.boss_tokens {
        assert!(
            state
                .sessions
                .contains_key(&bailiwick::ids::token_hash(token)),
            "round {round}: an acknowledged session is lost"
        );
    }
}

/// Each owner's move or delete happened whole or not at all (R7.6): its
/// unit and its objects' owner and unit agree with one side of it.
fn check_owners(round: u64, ledger: &Ledger, state: &State) {
    let us = ledger.units.1.as_str();
    let mut by_owner: HashMap<&str, Vec<&OwnedObject>> = HashMap::new();
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for x in state.objects.values() {
        if let Some(owner) = &x.owner {
            by_owner.entry(owner.as_str()).or_default().push(x);
        }
        *by_name.entry(x.name.as_str()).or_default() += 1;
    }
    for (login, o) in &ledger.owners {
        let user = state.user_by_login(login);
        let id = o.id.as_deref().or(user.map(|u| u.id.as_str()));
        let owned = id
            .and_then(|id| by_owner.get(id))
            .cloned()
            .unwrap_or_default();
        for (name, _) in &o.objects {
            let n = by_name.get(name.as_str()).copied().unwrap_or(0);
            assert!(n <= 1, "round {round}: {name} registered {n} times");
        }
        let Some(u) = user else {
            assert!(
                o.created == Fate::Unknown || matches!(o.leaving, Some((Leaving::Delete, _))),
                "round {round}: acknowledged owner {login} is lost"
            );
            assert!(
                owned.is_empty(),
                "round {round}: {login} is deleted, yet owns {owned:?}"
            );
            continue;
        };
        let moved = u.business_unit.as_deref() == Some(us);
        match o.leaving {
            Some((Leaving::Delete, Fate::Acked)) => {
                panic!("round {round}: the acknowledged delete of {login} is undone")
            }
            Some((Leaving::Move, Fate::Acked)) => {
                assert!(
                    moved,
                    "round {round}: the acknowledged move of {login} is undone"
                )
            }
            Some((Leaving::Move, Fate::Unknown)) => {}
            _ => assert!(!moved, "round {round}: {login} moved, never asked"),
        }
        for (name, fate) in &o.objects {
            let configuration = name.starts_with("list-");
            match (owned.iter().find(|x| &x.name == name), fate) {
                (Some(x), _) => {
                    assert!(
                        !(moved && configuration),
                        "round {round}: {name} outlived a move without configurations"
                    );
                    assert_eq!(
                        x.business_unit, u.business_unit,
                        "round {round}: {name} is not in its owner's unit: a half move"
                    );
                }
                (None, Fate::Acked) => assert!(
                    moved && configuration,
                    "round {round}: acknowledged object {name} is lost"
                ),
                (None, Fate::Unknown) => {}
            }
        }
    }
}

/// The activity log seen through the API after the restart, one entry per
/// change the database holds, no gaps and no repeats (R11.3).
async fn check_activity(round: u64, h: &Http, off: &Offline, us: &str) {
    let entries = h.all("/api/v1/activity").await;
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs.last(), Some(&1), "round {round}: the log starts at 1");
    assert!(
        seqs.windows(2).all(|w| w[0] == w[1] + 1),
        "round {round}: the log has gaps or repeats"
    );
    let mut counts: HashMap<(&str, &str), usize> = HashMap::new();
    for e in &entries {
        let action = e["action"].as_str().unwrap_or_default();
        *counts.entry((action, target_id(e))).or_default() += 1;
    }
    let count = |action: &str, id: &str| counts.get(&(action, id)).copied().unwrap_or(0);
    let state = &off.state;
    for u in state.users.values().filter(|u| u.login != "boss") {
        assert_eq!(
            count("user.create", &u.id),
            1,
            "round {round}: user.create entries of {}",
            u.login
        );
    }
    for e in entries.iter().filter(|e| e["action"] == "user.create") {
        let id = target_id(e);
        assert!(
            state.users.contains_key(id) || count("user.delete", id) == 1,
            "round {round}: an entry for a user that was never committed: {e}"
        );
    }
    for e in entries.iter().filter(|e| e["action"] == "user.delete") {
        let id = target_id(e);
        assert!(
            !state.users.contains_key(id) && count("user.delete", id) == 1,
            "round {round}: a delete logged but not committed, or twice: {e}"
        );
    }
    let us = Some(us);
    for u in state.users.values().filter(|u| u.login.starts_with('o')) {
        let moved = usize::from(u.business_unit.as_deref() == us);
        assert_eq!(
            count("user.move", &u.id),
            moved,
            "round {round}: user.move entries of {}",
            u.login
        );
    }
    for x in state.objects.values() {
        assert_eq!(
            count("object.create", &x.id),
            1,
            "round {round}: object.create entries of {}",
            x.name
        );
    }
    for g in state.asset_groups.values() {
        assert_eq!(
            count("asset_group.create", &g.id),
            1,
            "round {round}: {g:?}"
        );
        let k: usize = g.title.split_once(" v").unwrap().1.parse().unwrap();
        assert_eq!(
            count("asset_group.update", &g.id),
            k,
            "round {round}: patches of {}",
            g.title
        );
    }
    for e in entries
        .iter()
        .filter(|e| e["action"] == "asset_group.create")
    {
        assert!(
            state.asset_groups.contains_key(target_id(e)),
            "round {round}: an entry for a group that was never committed: {e}"
        );
    }
    let victim = state.user_by_login("victim").unwrap();
    let n: usize = victim.first_name[1..].parse().unwrap();
    assert_eq!(
        count("user.update", &victim.id),
        n,
        "round {round}: renames"
    );
    // Newest first: the failures since the last good login are the count.
    let failed = entries
        .iter()
        .filter(|e| e["target"] == "user victim")
        .take_while(|e| e["action"] != "login")
        .filter(|e| e["action"] == "login.failed")
        .count();
    assert_eq!(
        failed, state.credentials[&victim.id].failed_attempts as usize,
        "round {round}: one login.failed entry per counted failure"
    );
    let boss = state.user_by_login("boss").unwrap();
    let sessions = state
        .sessions
        .values()
        .filter(|s| s.user == boss.id)
        .count();
    let logins = entries
        .iter()
        .filter(|e| e["action"] == "login" && e["target"] == "user boss")
        .count();
    assert_eq!(
        logins, sessions,
        "round {round}: one login entry per session"
    );
}

/// Through the API after the restart: acknowledged users and sessions.
async fn check_api(
    round: u64,
    d: &Daemon,
    h: &Http,
    sent: &BTreeMap<String, Fate>,
    tokens: &[String],
) {
    let users = h.all("/api/v1/users").await;
    let by_login: BTreeMap<&str, &Value> = users
        .iter()
        .map(|u| (u["login"].as_str().unwrap(), u))
        .collect();
    for (login, fate) in sent {
        if *fate == Fate::Acked {
            let u = by_login
                .get(login.as_str())
                .unwrap_or_else(|| panic!("round {round}: {login} not listed"));
            assert_eq!(u["email"], format!("{login}@example.com"));
            assert_eq!(u["first_name"], format!("F-{login}"));
            assert_eq!(u["role"], "reader");
            assert_eq!(u["status"], "pending_activation");
        }
    }
    let c = d.client();
    for token in tokens {
        let r = c
            .get(d.url("/api/v1/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "round {round}: an acknowledged session ends"
        );
    }
}

fn wait_for(what: &str, d: &Daemon, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "timed out waiting for {what}; daemon log:\n{}",
            d.stderr()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mail_pending(d: &Daemon) -> u64 {
    let o = d.ctl(&["--json", "status"]);
    assert!(o.status.success(), "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v["mail_pending"].as_u64().unwrap()
}

/// Creates the victim of failed logins and renames, activated through the
/// link of its registration email in the spool; returns its id.
async fn setup(d: &Daemon, h: &Http, ledger: &Shared) -> String {
    let (s, v) = h
        .call(
            Method::POST,
            "/api/v1/assets",
            Some(&json!({"ips": ["10.0.0.0/8"]})),
        )
        .await
        .unwrap();
    assert!(s == 200 || s == 201, "{v}");
    let mut units = Vec::new();
    for (name, net) in [("EU", "10.250.0.0/16"), ("US", "10.251.0.0/16")] {
        let body = json!({"name": name, "assets": {"ips": [net]}});
        let (s, v) = h
            .call(Method::POST, "/api/v1/business-units", Some(&body))
            .await
            .unwrap();
        assert_eq!(s, 201, "{v}");
        units.push(v["id"].as_str().unwrap().to_owned());
    }
    ledger.lock().unwrap().units = (units[0].clone(), units[1].clone());
    let mut sec = h.get("/api/v1/settings/security").await;
    sec["lockout_threshold"] = json!(100);
    let (s, v) = h
        .call(Method::PUT, "/api/v1/settings/security", Some(&sec))
        .await
        .unwrap();
    assert_eq!(s, 200, "{v}");
    let (s, v) = h
        .call(Method::POST, "/api/v1/users", Some(&user_body("victim")))
        .await
        .unwrap();
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let mut link = None;
    wait_for("the victim's registration email", d, || {
        link = spool(&d.data_dir)
            .iter()
            .find(|e| e.to.ends_with("<victim@example.com>"))
            .and_then(|e| {
                e.body
                    .lines()
                    .find_map(|l| l.split_once("/ui/activation/"))
                    .map(|(_, t)| t.trim().to_owned())
            });
        link.is_some()
    });
    let creds = h
        .get(&format!("/api/v1/activation/{}", link.unwrap()))
        .await;
    let password = creds["password"].as_str().unwrap().to_owned();
    let (s, _) = h.login("victim", &password).await.unwrap();
    assert_eq!(s, 201);
    let mut l = ledger.lock().unwrap();
    l.victim_password = password;
    l.failed_streak = Some(0);
    id
}

#[test]
fn never_lose_an_acknowledged_write_across_kill_9_r7_6_r11_3_r12_1() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let ledger: Shared = Arc::default();
    let rt = rt();

    // The session the checks use; it must survive every crash too.
    let d = Daemon::start_with(&data, fast_logins());
    let (token, victim) = rt.block_on(async {
        let anon = Http::new(&d, "");
        let (s, token) = anon.login("boss", PASSWORD).await.unwrap();
        assert_eq!(s, 201);
        let token = token.unwrap();
        ledger.lock().unwrap().boss_tokens.push(token.clone());
        let h = Http::new(&d, &token);
        let victim = setup(&d, &h, &ledger).await;
        (h.token, victim)
    });
    let mut daemon = Some((d, None, Mail::Spool));
    let mut relay = Relay {
        port: free_port(),
        dir: dir.path().join("relay"),
        runs: 0,
    };

    let mut dice = Dice::from_env();
    let rounds = rounds();
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    for round in 1..=rounds {
        let (d, sink, mail) = daemon.take().unwrap();
        let delay = Duration::from_millis(150 + dice.next() % 1000);
        eprintln!("round {round}: kill -9 after {delay:?} of writes, mail {mail:?}");
        rt.block_on(async {
            let h = Http::new(&d, &token);
            let mut tasks = Vec::new();
            for task in 0..2 {
                tasks.push(tokio::spawn(create_users(
                    h.clone(),
                    ledger.clone(),
                    round,
                    task,
                )));
            }
            tasks.push(tokio::spawn(edit_groups(
                h.clone(),
                ledger.clone(),
                round,
                0,
            )));
            tasks.push(tokio::spawn(patch_victim(
                h.clone(),
                ledger.clone(),
                victim.clone(),
            )));
            tasks.push(tokio::spawn(leave_with_objects(
                h.clone(),
                ledger.clone(),
                round,
            )));
            tasks.push(tokio::spawn(fail_logins(h.clone(), ledger.clone())));
            tasks.push(tokio::spawn(boss_logins(h.clone(), ledger.clone())));
            let backing_up = tokio::spawn(take_backups(data.clone(), backups.clone(), round));
            tokio::time::sleep(delay).await;
            d.signal(libc::SIGKILL);
            for t in tasks {
                t.await.expect("a writer failed");
            }
            let taken = backing_up.await.expect("the backup task failed");
            check_backups(round, &backups, &taken);
        });
        let mut d = d;
        let status = d.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
        drop((d, sink));

        let off = offline(&data);
        let spooled = spool(&data);
        let relayed = relay.received();
        {
            let l = ledger.lock().unwrap();
            eprintln!(
                "round {round}: {} users sent ({} acknowledged), {} groups, {} renames, \
                 {} failed logins, {} logins acknowledged, {} owners moved or deleted; \
                 {} emails pending, {} spooled, {} relayed",
                l.users.len(),
                l.users.values().filter(|f| **f == Fate::Acked).count(),
                l.groups.len(),
                l.victim_acked,
                l.failed_total,
                l.boss_tokens.len(),
                l.owners
                    .values()
                    .filter(|o| o.leaving.is_some_and(|(_, f)| f == Fate::Acked))
                    .count(),
                off.pending.len(),
                spooled.len(),
                relayed.len()
            );
            check_offline(round, &l, &off, &spooled, &relayed);
        }
        // The next round's renames and failures count on from what was
        // committed: a rename or a wrong password cut off by this kill
        // may have been stored, and must not widen the next round's bounds.
        {
            let victim = off.state.user_by_login("victim").unwrap();
            let n = victim.first_name[1..].parse().unwrap();
            let mut l = ledger.lock().unwrap();
            l.victim_acked = n;
            l.victim_sent = n;
            l.failed_streak = Some(off.state.credentials[&victim.id].failed_attempts.into());
            l.failed_cut_off = false;
        }

        let mail = Mail::of_run(round);
        let (d, sink) = relay.start(&data, mail);
        rt.block_on(async {
            let h = Http::new(&d, &token);
            let (users, tokens, us) = {
                let l = ledger.lock().unwrap();
                (l.users.clone(), l.boss_tokens.clone(), l.units.1.clone())
            };
            check_activity(round, &h, &off, &us).await;
            check_api(round, &d, &h, &users, &tokens).await;
        });
        log_verify(&data);
        daemon = Some((d, sink, mail));
    }

    // Every email is delivered once the daemon runs on: exactly one
    // registration email per user, spooled or relayed, none left pending.
    // The spool takes the rest: thousands are left after many runs with
    // the relay down.
    let (d, sink, _) = daemon.take().unwrap();
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    drop(sink);
    let (d, sink) = relay.start(&data, Mail::Spool);
    // Emails tried while the relay was down keep their backoff across the
    // restart; the operator sends them on at once.
    let o = d.ctl(&["mail", "flush"]);
    assert!(o.status.success(), "{}", text(&o));
    wait_for("the mail outbox to empty", &d, || mail_pending(&d) == 0);
    let (status, stderr) = d.stop();
    drop(sink);
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let off = offline(&data);
    assert!(off.pending.is_empty());
    let spooled = spool(&data);
    let relayed = relay.received();
    check_offline(
        rounds + 1,
        &ledger.lock().unwrap(),
        &off,
        &spooled,
        &relayed,
    );
    let resent = relayed.len()
        - relayed
            .iter()
            .map(|e| &e.message_id)
            .collect::<BTreeSet<_>>()
            .len();
    eprintln!(
        "{} emails spooled, {} relayed ({resent} sent again after a kill, same Message-ID)",
        spooled.len(),
        relayed.len()
    );
    // The relay is up in round 4, 7, ... (`Mail::of_run`).
    assert!(
        spooled.iter().any(is_registration) && (rounds < 4 || relayed.iter().any(is_registration)),
        "mail went both ways"
    );
    let l = ledger.lock().unwrap();
    // One registration email per user but boss (check_offline counted
    // them); a deleted owner's went out if it was delivered before the
    // delete, and is discarded otherwise.
    for e in spooled
        .iter()
        .chain(&relayed)
        .filter(|e| is_registration(e))
    {
        let login = address(&e.to).split('@').next().unwrap();
        assert!(
            off.state.user_by_login(login).is_some() || l.owners.contains_key(login),
            "a registration email to {login}, who never was"
        );
    }
    assert!(
        l.owners.values().any(|o| o
            .leaving
            .is_some_and(|(k, f)| k == Leaving::Move && f == Fate::Acked))
            && l.owners.values().any(|o| o
                .leaving
                .is_some_and(|(k, f)| k == Leaving::Delete && f == Fate::Acked)),
        "owners were moved and deleted"
    );
    // The loop did real work: some of each kind was acknowledged.
    assert!(l.users.values().any(|f| *f == Fate::Acked));
    assert!(l.groups.values().any(|g| g.acked_patch > 0));
    assert!(l.victim_acked > 0 && l.failed_total > 0 && l.boss_tokens.len() > 1);
    log_verify(&data);
}

// ---- a full disk -----------------------------------------------------------

/// How the disk is made to fill up.
enum Limit {
    /// A small tmpfs mounted at this path (root, and mounting works).
    Tmpfs(std::path::PathBuf),
    /// `RLIMIT_FSIZE` on the daemon, with `SIGXFSZ` ignored: writes past the
    /// limit fail with `EFBIG` as a quota would.
    Rlimit,
}

impl Limit {
    /// A tmpfs of 8 MiB at `at` when possible, else the file size limit.
    /// `CRASH_TEST_DISK_FULL=rlimit` forces the fallback.
    fn choose(at: &Path) -> Limit {
        let forced = std::env::var("CRASH_TEST_DISK_FULL").is_ok_and(|v| v == "rlimit");
        // SAFETY: geteuid takes nothing and always succeeds.
        if !forced && unsafe { libc::geteuid() } == 0 {
            std::fs::create_dir_all(at).unwrap();
            let mounted = std::process::Command::new("mount")
                .args(["-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs"])
                .arg(at)
                .output();
            match mounted {
                Ok(o) if o.status.success() => return Limit::Tmpfs(at.to_owned()),
                Ok(o) => eprintln!("mounting a tmpfs failed: {}", text(&o)),
                Err(e) => eprintln!("mounting a tmpfs failed: {e}"),
            }
        }
        Limit::Rlimit
    }

    fn name(&self) -> &'static str {
        match self {
            Limit::Tmpfs(_) => "tmpfs of 8 MiB",
            Limit::Rlimit => "RLIMIT_FSIZE",
        }
    }

    /// Puts the limit on a started daemon (the tmpfs limits by itself).
    fn apply(&self, d: &Daemon) {
        if let Limit::Rlimit = self {
            // Everything written so far stays writable; growth past 2 MiB
            // more than the largest file fails.
            let largest = walk(&d.data_dir)
                .iter()
                .map(|p| std::fs::metadata(p).map_or(0, |m| m.len()))
                .max()
                .unwrap_or(0);
            let limit = libc::rlimit {
                rlim_cur: largest + (2 << 20),
                rlim_max: largest + (2 << 20),
            };
            // SAFETY: `limit` is a valid rlimit for the call; the old value
            // is not asked for (null).
            let rc = unsafe {
                libc::prlimit(
                    d.child.id() as libc::pid_t,
                    libc::RLIMIT_FSIZE,
                    &limit,
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
        }
    }

    /// Frees space: a larger tmpfs (a restarted daemon has no rlimit).
    fn free(&self) {
        if let Limit::Tmpfs(at) = self {
            let o = std::process::Command::new("mount")
                .args(["-o", "remount,size=64m"])
                .arg(at)
                .output()
                .unwrap();
            assert!(o.status.success(), "remount: {}", text(&o));
        }
    }
}

impl Drop for Limit {
    fn drop(&mut self) {
        if let Limit::Tmpfs(at) = self {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(at)
                .output();
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// `n` single addresses that do not merge into ranges: a large group record.
fn many_ips(group: u32, n: u32) -> Vec<String> {
    (0..n)
        .map(|i| {
            let x = group * n + i;
            format!(
                "10.{}.{}.{}",
                100 + (x >> 15) % 100,
                (x >> 7) & 255,
                (x & 127) * 2
            )
        })
        .collect()
}

/// A refused write on a full disk: a clean problem+json with a stable code.
async fn refused_cleanly(r: reqwest::Response, what: &str) -> String {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(
        matches!(status, 500 | 503 | 507),
        "{what}: a full disk answered {status}: {v}"
    );
    assert_eq!(ct, "application/problem+json", "{what}: {status} {v}");
    let code = v["code"].as_str().unwrap_or_default().to_owned();
    assert!(!code.is_empty(), "{what}: no code in {v}");
    format!("{status} {code}")
}

#[test]
fn a_full_disk_gives_clean_errors_and_loses_no_acknowledged_write_r13_r11_3_r12_1() {
    // SIGXFSZ would kill the daemon at the limit; ignored, the write fails
    // with EFBIG. The disposition is inherited by the daemons started here.
    // SAFETY: SIG_IGN installs no handler code; it only ignores the signal.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let dir = tempfile::tempdir().unwrap();
    // The data directory is the mount point: the daemon's stderr, kept
    // next to it by the harness, stays off the full disk.
    let data = dir.path().join("data");
    let limit = Limit::choose(&data);
    // Straight to stderr, past the test harness's capture: the log of every
    // run says which simulation was tested.
    let _ = writeln!(
        std::io::stderr(),
        "crash.rs: full disk simulated with {}",
        limit.name()
    );
    init_boss(&data);
    let mut acked_groups: BTreeMap<String, usize> = BTreeMap::new();
    let mut acked_users: BTreeSet<String> = BTreeSet::new();
    let mut refusals = BTreeSet::new();
    let token = {
        let d = Daemon::start_with(&data, fast_logins());
        limit.apply(&d);
        let rt = rt();
        let token = rt.block_on(async {
            let anon = Http::new(&d, "");
            let (_, t) = anon.login("boss", PASSWORD).await.unwrap();
            let token = t.unwrap();
            let h = Http::new(&d, &token);
            let (s, v) = h
                .call(
                    Method::POST,
                    "/api/v1/assets",
                    Some(&json!({"ips": ["10.0.0.0/8"]})),
                )
                .await
                .unwrap();
            assert!(s == 200 || s == 201, "{v}");
            // Fill: large groups, and users with long fields, until writes
            // fail; then a few more, which must fail as cleanly.
            let mut failures = 0;
            let mut n = 0u32;
            while failures < 6 {
                assert!(n < 2000, "the disk never filled up");
                let title = format!("full-{n}");
                let ips = many_ips(n, 1500);
                let r =
                    h.c.post(d.url("/api/v1/asset-groups"))
                        .bearer_auth(&token)
                        .json(&json!({"title": title, "ips": ips}))
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{e}; daemon log:\n{}", d.stderr()));
                if r.status() == 201 {
                    acked_groups.insert(title, ips.len());
                } else {
                    refusals.insert(refused_cleanly(r, "create asset group").await);
                    failures += 1;
                }
                let login = format!("big{n}");
                let mut body = user_body(&login);
                body["first_name"] = json!("F".repeat(100));
                body["last_name"] = json!("L".repeat(100));
                let r =
                    h.c.post(d.url("/api/v1/users"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{e}; daemon log:\n{}", d.stderr()));
                if r.status() == 201 {
                    acked_users.insert(login);
                } else {
                    refusals.insert(refused_cleanly(r, "create user").await);
                    failures += 1;
                }
                n += 1;
            }
            eprintln!(
                "disk full after {} groups and {} users; refusals: {refusals:?}",
                acked_groups.len(),
                acked_users.len()
            );
            assert!(
                !acked_groups.is_empty(),
                "nothing fit before the disk was full"
            );
            // The daemon is up and reads still work, from memory.
            let me = h.get("/api/v1/me").await;
            assert_eq!(me["login"], "boss");
            let users = h.all("/api/v1/users").await;
            for login in &acked_users {
                assert!(
                    users.iter().any(|u| u["login"] == login.as_str()),
                    "{login}"
                );
            }
            let groups = h.all("/api/v1/asset-groups").await;
            for title in acked_groups.keys() {
                assert!(
                    groups.iter().any(|g| g["title"] == title.as_str()),
                    "{title}"
                );
            }
            let r = h.c.get(d.url("/healthz")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            // Alive, but not ready: the storage cannot take writes.
            let r = h.c.get(d.url("/readyz")).send().await.unwrap();
            assert_eq!(r.status(), 503, "{}", r.text().await.unwrap_or_default());
            // The log is searchable too, with every acknowledged entry,
            // whether the drain could still append it or not (R11.3).
            let entries = h.all("/api/v1/activity").await;
            let logged = entries
                .iter()
                .filter(|e| e["action"] == "asset_group.create")
                .count();
            assert_eq!(logged, acked_groups.len());
            token
        });
        let mut d = d;
        assert!(
            d.child.try_wait().unwrap().is_none(),
            "the daemon died: {}",
            d.stderr()
        );
        assert!(!d.stderr().contains("panicked"), "{}", d.stderr());
        limit.free();
        let (status, stderr) = d.stop();
        eprintln!("stopped after the full disk: {status}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        token
    };

    // With space again, the daemon starts and every acknowledged write is
    // there, with one activity entry each and its registration email.
    let d = Daemon::start_with(&data, fast_logins());
    rt().block_on(async {
        let h = Http::new(&d, &token);
        let groups = h.all("/api/v1/asset-groups").await;
        for (title, n) in &acked_groups {
            let g = groups
                .iter()
                .find(|g| g["title"] == title.as_str())
                .unwrap_or_else(|| panic!("acknowledged group {title} is lost"));
            assert_eq!(g["ips"].as_array().unwrap().len(), *n, "{title}");
        }
        let users = h.all("/api/v1/users").await;
        for login in &acked_users {
            let u = users
                .iter()
                .find(|u| u["login"] == login.as_str())
                .unwrap_or_else(|| panic!("acknowledged user {login} is lost"));
            assert_eq!(u["first_name"], "F".repeat(100));
        }
        let entries = h.all("/api/v1/activity").await;
        let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] == w[1] + 1) && seqs.last() == Some(&1));
        for g in &groups {
            if g["built_in"] == true {
                continue;
            }
            let id = g["id"].as_str().unwrap();
            let n = entries
                .iter()
                .filter(|e| e["action"] == "asset_group.create" && target_id(e) == id)
                .count();
            assert_eq!(n, 1, "{g}");
        }
        for u in users.iter().filter(|u| u["login"] != "boss") {
            let id = u["id"].as_str().unwrap();
            let n = entries
                .iter()
                .filter(|e| e["action"] == "user.create" && target_id(e) == id)
                .count();
            assert_eq!(n, 1, "{u}");
        }
        // Ready, and writes work again.
        let r = h.c.get(d.url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let (s, v) = h
            .call(Method::POST, "/api/v1/users", Some(&user_body("after")))
            .await
            .unwrap();
        assert_eq!(s, 201, "{v}");
    });
    wait_for("the mail outbox to empty", &d, || mail_pending(&d) == 0);
    let (status, stderr) = d.stop();
    assert!(status.success(), "{stderr}");
    log_verify(&data);
    // Each user has its one registration email; none was dropped on the
    // full disk (R12.1).
    let off = offline(&data);
    let spooled = spool(&data);
    assert_eq!(off.failed, 0, "an email was given up on");
    for u in off.state.users.values().filter(|u| u.login != "boss") {
        let to = format!("<{}>", u.email);
        let n = spooled
            .iter()
            .filter(|e| is_registration(e) && e.to.ends_with(&to))
            .count();
        assert_eq!(n, 1, "{}: {n} registration emails", u.login);
    }
}

/// A log that cannot be written (stderr is a file on the full disk, here
/// `/dev/full`) costs log lines, never answers: the daemon starts, serves,
/// refuses and stores as usual (R13).
#[test]
fn an_unwritable_log_does_not_stop_the_daemon_r13() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    init_boss(&data);
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut child = command(&data, &fast_logins())
        .stdout(std::process::Stdio::piped())
        .stderr(full)
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let listening = std::io::BufRead::lines(stdout)
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("listening on https://").map(str::to_owned));
    let Some(addr) = listening else {
        let status = child.wait().unwrap();
        panic!("the daemon did not start with an unwritable log: {status}");
    };
    let addr: std::net::SocketAddr = addr.trim().parse().unwrap();
    bailiwick::tls::install_default_provider();
    let pem = std::fs::read(data.join("tls/cert.pem")).unwrap();
    let c = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let url = |p: &str| format!("https://localhost:{}{p}", addr.port());
    rt().block_on(async {
        for _ in 0..3 {
            // A failed login logs a warning and writes; a good one too.
            let r = c
                .post(url("/api/v1/session"))
                .json(&json!({"login": "boss", "password": "Wrong-Password-1"}))
                .send()
                .await
                .expect("an answer to a failed login");
            assert_eq!(r.status(), 401);
            let r = c
                .post(url("/api/v1/session"))
                .json(&json!({"login": "boss", "password": PASSWORD}))
                .send()
                .await
                .expect("an answer to a login");
            assert_eq!(r.status(), 201);
            let token = r.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_owned();
            let r = c
                .post(url("/api/v1/users"))
                .bearer_auth(&token)
                .json(&json!({"login": "x", "email": "bad"}))
                .send()
                .await
                .expect("an answer to a bad request");
            assert_eq!(r.status(), 400);
        }
        let r = c.get(url("/readyz")).send().await.unwrap();
        assert_eq!(r.status(), 200);
    });
    assert!(child.try_wait().unwrap().is_none(), "the daemon exited");
    // SAFETY: kill takes no pointers; the pid is our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}
