//! Email that is never lost (R12), over the real binary: the spool directory
//! (the default), and SMTP against a real SMTP server (`crate::common::smtp_sink`,
//! in-process) that refuses, answers 451, requires STARTTLS or TLS and a
//! password, and is restarted around the daemon.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::smtp_sink::{Protection, Sink, SinkOptions, files};
use crate::common::*;
use serde_json::{Value, json};

// ---- the SMTP server: tests/integration/common/smtp_sink.rs ---------------------------

fn smtp(port: u16) -> Start {
    smtp_relay(Start::default(), port)
}

// ---- helpers ---------------------------------------------------------------

fn wait_for(what: &str, d: &Daemon, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            panic!("timed out waiting for {what}; daemon log:\n{}", d.stderr());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn message_id(eml: &str) -> String {
    eml.lines()
        .find_map(|l| l.strip_prefix("Message-ID: "))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn header<'a>(eml: &'a str, name: &str) -> &'a str {
    eml.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_default()
        .trim()
}

/// The first-run link from the banner, then a session: (token, user id).
async fn sign_in(d: &Daemon, c: &reqwest::Client) -> (String, String) {
    let link = d
        .banner
        .iter()
        .find(|l| l.contains("/ui/activation/"))
        .expect("activation link")
        .trim()
        .replace("127.0.0.1", "localhost")
        .replace("/ui/activation/", "/api/v1/activation/");
    let v: Value = c.get(link).send().await.unwrap().json().await.unwrap();
    let pw = v["password"].as_str().unwrap().to_owned();
    login(d, c, &pw).await
}

async fn login(d: &Daemon, c: &reqwest::Client, pw: &str) -> (String, String) {
    let r = c
        .post(d.url("/api/v1/session"))
        .json(&json!({"login": "admin", "password": pw}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    (
        v["token"].as_str().unwrap().to_owned(),
        v["user"]["id"].as_str().unwrap().to_owned(),
    )
}

async fn notify(d: &Daemon, c: &reqwest::Client, token: &str, body: Value) -> (u16, Value) {
    let r = c
        .post(d.url("/api/v1/notifications"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn metrics(d: &Daemon, c: &reqwest::Client) -> String {
    c.get(d.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of an unlabelled metric.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

fn status(d: &Daemon) -> Value {
    let out = d.ctl(&["--json", "status"]);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn spool(d: &Daemon) -> Vec<String> {
    files(&d.data_dir.join("outbox-spool"), "eml")
}

/// The spooled email with this subject, waiting up to 20 s for it.
fn spooled(d: &Daemon, subject: &str) -> String {
    let mut found = None;
    wait_for(subject, d, Duration::from_secs(20), || {
        found = spool(d)
            .into_iter()
            .find(|e| header(e, "Subject") == subject);
        found.is_some()
    });
    found.unwrap_or_default()
}

// ---- spool -----------------------------------------------------------------

#[test]
fn r12_2_spool_is_the_default_and_each_email_is_one_private_eml_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daemon::start(&data);
    let c = d.client();
    let rt = rt();
    let id = rt.block_on(async {
        let (token, id) = sign_in(&d, &c).await;

        // R12.1: one outbox entry per recipient, delivered to the spool.
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [id, id], "subject": "Scan 42 finished", "body": "3 new hosts.\n"}),
        )
        .await;
        assert_eq!(st, 202, "{v}");
        assert_eq!(v["queued"], json!([id]));

        // Bad requests change nothing.
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_distribution_groups": ["g1"], "subject": "s", "body": "b"}),
        )
        .await;
        assert_eq!((st, v["code"].as_str()), (404, Some("not_found")));
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": ["nobody"], "subject": "s", "body": "b"}),
        )
        .await;
        assert_eq!((st, v["code"].as_str()), (404, Some("not_found")));
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [id], "subject": "a\r\nBcc: x@example.org", "body": "b"}),
        )
        .await;
        assert_eq!((st, v["code"].as_str()), (400, Some("validation")));
        id
    });
    let eml = &spooled(&d, "Scan 42 finished");
    assert_eq!(header(eml, "To"), "admin@localhost");
    let id_shape = message_id(eml);
    assert!(
        id_shape.starts_with('<') && id_shape.ends_with("@localhost>") && id_shape.contains('.'),
        "{eml}"
    );
    assert!(eml.contains("\r\n\r\n3 new hosts.\r\n"), "{eml}");
    // R10.2: no Email Contact set, so the subscription's primary contact.
    assert!(
        eml.contains("Email Contact: admin <admin@localhost>\r\n"),
        "{eml}"
    );
    let spool_dir = data.join("outbox-spool");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&spool_dir), 0o700);
    for e in std::fs::read_dir(&spool_dir).unwrap() {
        let p = e.unwrap().path();
        assert_eq!(mode(&p), 0o600, "{}", p.display());
        assert!(!p.to_string_lossy().ends_with(".tmp"));
    }

    // R7.2: a reset mails a one-time link, never a password; the link works.
    let out = d.ctl(&["--json", "users", "reset-password", "admin"]);
    assert!(out.status.success(), "{}", text(&out));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    let link = shown["link"].as_str().unwrap().to_owned();
    let eml = &spooled(&d, "New credentials for your account in Default");
    assert!(
        eml.contains(&link),
        "the mailed link is the issued one:\n{eml}"
    );
    let password = rt.block_on(async {
        let v: Value = c
            .get(
                link.replace("127.0.0.1", "localhost")
                    .replace("/ui/activation/", "/api/v1/activation/"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["password"].as_str().unwrap().to_owned()
    });
    assert!(!eml.contains(&password), "no password in an email");

    // R8.2, R4.5: the lock email names the primary contact.
    rt.block_on(async {
        for _ in 0..5 {
            let r = c
                .post(d.url("/api/v1/session"))
                .json(&json!({"login": "admin", "password": "Wrong-pass-1"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
        }
    });
    let eml = &spooled(&d, "Your account in Default is locked");
    assert!(
        eml.contains("ask your primary contact: admin <admin@localhost>"),
        "{eml}"
    );
    rt.block_on(async {
        let m = metrics(&d, &c).await;
        assert!(metric(&m, "bailiwick_mail_sent_total") >= 3, "{m}");
        assert!(m.contains("bailiwick_mail_outbox_depth 0\n"), "{m}");
        assert!(m.contains("bailiwick_mail_failed 0\n"), "{m}");
    });
    let s = status(&d);
    assert_eq!(
        (s["mail_pending"].as_u64(), s["mail_failed"].as_u64()),
        (Some(0), Some(0))
    );

    // A restart sends nothing again: the next email is the only new file.
    let before = spool(&d).len();
    let (st, _) = d.stop();
    assert!(st.success());
    let d = Daemon::start(&data);
    let out = d.ctl(&["users", "unlock", "admin"]);
    assert!(out.status.success(), "{}", text(&out));
    let c = d.client();
    rt.block_on(async {
        let (token, _) = login(&d, &c, &password).await;
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [id], "subject": "After restart", "body": "hello"}),
        )
        .await;
        assert_eq!(st, 202, "{v}");
    });
    spooled(&d, "After restart");
    let all = spool(&d);
    assert_eq!(all.len(), before + 1, "nothing sent twice");
    assert_eq!(header(&all[before], "Subject"), "After restart");
    let mut ids: Vec<String> = all.iter().map(|e| message_id(e)).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), all.len());
}

async fn post(d: &Daemon, c: &reqwest::Client, token: &str, path: &str, body: Value) -> Value {
    let r = c
        .post(d.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let st = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!((200..300).contains(&st), "{path}: {st} {v}");
    v
}

async fn new_user(d: &Daemon, c: &reqwest::Client, token: &str, login: &str, role: &str) -> String {
    let v = post(
        d,
        c,
        token,
        "/api/v1/users",
        json!({"login": login, "email": format!("{login}@example.org"),
               "first_name": login, "last_name": "Example", "role": role}),
    )
    .await;
    v["id"].as_str().unwrap().to_owned()
}

/// The HTML part of a spooled email: everything after its Content-Type.
fn html_part(eml: &str) -> &str {
    let at = eml.find("Content-Type: text/html").expect("an HTML part");
    &eml[at..]
}

#[test]
fn r12_1_distribution_groups_reach_each_address_once_and_deactivated_contacts_never() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(&dir.path().join("data"));
    let c = d.client();
    let rt = rt();
    rt.block_on(async {
        let (token, admin) = sign_in(&d, &c).await;
        let rita = new_user(&d, &c, &token, "rita", "reader").await;
        let cody = new_user(&d, &c, &token, "cody", "contact").await;
        let dora = new_user(&d, &c, &token, "dora", "contact").await;
        post(&d, &c, &token, &format!("/api/v1/users/{dora}/deactivate"), json!({})).await;
        let g1 = post(
            &d,
            &c,
            &token,
            "/api/v1/distribution-groups",
            json!({"name": "SOC", "members": [rita, cody, dora],
                   "emails": ["ops@example.net", "Cody@Example.org"]}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let g2 = post(
            &d,
            &c,
            &token,
            "/api/v1/distribution-groups",
            json!({"name": "Night shift", "members": [rita],
                   "emails": ["OPS@example.net", "soc@example.net", "dora@example.org"]}),
        )
        .await["id"]
            .as_str()
            .unwrap()
            .to_owned();

        // R12.1: an unknown group refuses the whole request; nothing is queued.
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [admin], "to_distribution_groups": [g1, "nope"],
                   "subject": "Never", "body": "b"}),
        )
        .await;
        assert_eq!((st, v["code"].as_str()), (404, Some("not_found")), "{v}");

        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [admin, rita], "to_distribution_groups": [g1, g2],
                   "subject": "Weekly scan",
                   "body": "<script>alert(1)</script> 3 new hosts & more.\n"}),
        )
        .await;
        assert_eq!(st, 202, "{v}");
        assert_eq!(v["queued"], json!([admin, rita, cody]), "Contacts receive (R2.5)");
        assert_eq!(
            v["queued_addresses"],
            json!(["ops@example.net", "soc@example.net"])
        );
        // R7.3: the deactivated Contact gets nothing, as a member or by address.
        assert_eq!(
            v["skipped"],
            json!([
                {"user": dora, "reason": "deactivated users receive no email"},
                {"address": "dora@example.org", "reason": "the address belongs to a deactivated user"}
            ])
        );
    });
    let mut weekly = Vec::new();
    wait_for("five weekly emails", &d, Duration::from_secs(30), || {
        weekly = spool(&d)
            .into_iter()
            .filter(|e| header(e, "Subject") == "Weekly scan")
            .collect();
        weekly.len() >= 5
    });
    let mut to: Vec<&str> = weekly.iter().map(|e| header(e, "To")).collect();
    to.sort();
    assert_eq!(
        to,
        [
            "\"cody Example\" <cody@example.org>",
            "\"rita Example\" <rita@example.org>",
            "admin@localhost",
            "ops@example.net",
            "soc@example.net",
        ],
        "one email per address"
    );
    for eml in &weekly {
        // Plain text first, then HTML with the body escaped.
        assert!(
            eml.contains("Content-Type: multipart/alternative;"),
            "{eml}"
        );
        let plain = eml.find("Content-Type: text/plain").expect("a text part");
        assert!(plain < eml.find("Content-Type: text/html").unwrap());
        assert!(eml.contains("\r\n\r\n<script>alert(1)</script> 3 new hosts & more.\r\n"));
        let html = html_part(eml);
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; 3 new hosts &amp; more."),
            "{html}"
        );
        // R10.2: no Email Contact set, so the subscription's primary contact.
        assert!(
            eml.contains("Email Contact: admin <admin@localhost>\r\n"),
            "{eml}"
        );
    }
    assert!(
        spool(&d).iter().all(|e| header(e, "Subject") != "Never"),
        "the refused request queued nothing"
    );
    assert!(
        spool(&d)
            .iter()
            .all(|e| !header(e, "To").contains("dora@example.org"))
    );
    let (st, _) = d.stop();
    assert!(st.success());
}

#[test]
fn r12_1_the_operator_lists_failed_mail_and_sends_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let spool_dir = dir.path().join("spool");
    let d = Daemon::start_with(
        &data,
        Start::default()
            .env("BAILIWICK_MAIL_SPOOL_DIR", &spool_dir.display().to_string())
            .env("BAILIWICK_MAIL_MAX_ATTEMPTS", "1"),
    );
    let c = d.client();
    let rt = rt();
    let (token, id) = rt.block_on(sign_in(&d, &c));
    // The spool directory is replaced by a file: every write fails.
    std::fs::remove_dir_all(&spool_dir).unwrap();
    std::fs::write(&spool_dir, "not a directory").unwrap();
    rt.block_on(async {
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [id], "subject": "Retry me", "body": "hello"}),
        )
        .await;
        assert_eq!(st, 202, "{v}");
    });
    wait_for(
        "the notification to fail",
        &d,
        Duration::from_secs(20),
        || status(&d)["mail_failed"] == 1,
    );
    // A reset's email fails too; its link is gone with it.
    let out = d.ctl(&["users", "reset-password", "admin"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for(
        "the reset email to fail",
        &d,
        Duration::from_secs(20),
        || status(&d)["mail_failed"] == 2,
    );

    let out = d.ctl(&["--json", "mail", "failed"]);
    assert!(out.status.success(), "{}", text(&out));
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["total"], 2);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items[0]["recipient"], "admin <admin@localhost>");
    assert_eq!(items[0]["kind"], "notification");
    assert_eq!(items[0]["subject"], "Retry me");
    assert_eq!(items[0]["tries"], 1);
    assert!(
        items[0]["last_error"].as_str().unwrap().contains("spool"),
        "{list}"
    );
    assert_eq!(items[1]["kind"], "new credentials");
    assert_eq!(items[1]["subject"], Value::Null);
    let (note, reset) = (
        items[0]["id"].as_u64().unwrap(),
        items[1]["id"].as_u64().unwrap(),
    );
    let human = d.ctl(&["mail", "failed"]);
    let shown = text(&human);
    assert!(human.status.success(), "{shown}");
    assert!(
        shown.contains(&format!(
            "{note}  admin <admin@localhost>  notification \"Retry me\""
        )),
        "{shown}"
    );
    assert!(shown.contains("after 1 tries: spool"), "{shown}");

    // Refused: unknown ids, and emails whose one-time link was erased.
    let out = d.ctl(&["mail", "retry", "999999"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no failed email 999999"),
        "{}",
        text(&out)
    );
    let out = d.ctl(&["mail", "retry", &reset.to_string()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("activation-link"), "{}", text(&out));

    // The spool is back: the retried notification is delivered.
    std::fs::remove_file(&spool_dir).unwrap();
    std::fs::create_dir(&spool_dir).unwrap();
    let out = d.ctl(&["mail", "retry", &note.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("back in the outbox"), "{}", text(&out));
    let mut delivered = Vec::new();
    wait_for("the retried email", &d, Duration::from_secs(20), || {
        delivered = files(&spool_dir, "eml");
        !delivered.is_empty()
    });
    assert_eq!(delivered.len(), 1);
    assert_eq!(header(&delivered[0], "Subject"), "Retry me");
    let s = status(&d);
    assert_eq!(
        (s["mail_failed"].as_u64(), s["mail_pending"].as_u64()),
        (Some(1), Some(0))
    );
    // Sent again: it is no longer failed, so a second retry is refused.
    let out = d.ctl(&["mail", "retry", &note.to_string()]);
    assert!(!out.status.success());
    let (st, _) = d.stop();
    assert!(st.success());
    // R11.1: the operator's retry is in the activity log.
    assert!(
        activity_mentions(&data, "mail.retry", "operator"),
        "no mail.retry entry"
    );
}

// ---- SMTP ------------------------------------------------------------------

#[test]
fn r12_1_smtp_retries_after_refusal_and_451_and_crashes_and_restarts_send_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("sink");
    let port = free_port();
    // Nothing listens yet: connections are refused.
    let d = Daemon::start_with(&data, smtp(port));
    let c = d.client();
    let rt = rt();
    let (token, id) = rt.block_on(sign_in(&d, &c));
    rt.block_on(async {
        let (st, v) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [id], "subject": "First", "body": "one"}),
        )
        .await;
        assert_eq!(st, 202, "{v}");
    });
    wait_for(
        "a refused try to be counted",
        &d,
        Duration::from_secs(20),
        || {
            rt.block_on(metrics(&d, &c))
                .contains("bailiwick_mail_retries_total 1\n")
        },
    );
    assert!(status(&d)["mail_pending"].as_u64() >= Some(1));

    // A crash (kill -9) while the relay is down loses nothing.
    let mut d = d;
    d.signal(libc::SIGKILL);
    let _ = d.child.wait();
    drop(d);
    let d = Daemon::start_with(&data, smtp(port));
    let c = d.client();
    // The relay comes up, answering 451 twice before accepting.
    let sink = Sink::start(port, &out, SinkOptions::default().fail_first(2));
    wait_for("delivery after 451s", &d, Duration::from_secs(30), || {
        sink.messages()
            .iter()
            .any(|m| header(m, "Subject") == "First")
    });
    let first: Vec<String> = sink
        .messages()
        .into_iter()
        .filter(|m| header(m, "Subject") == "First")
        .collect();
    assert_eq!(first.len(), 1);
    assert_eq!(header(&first[0], "To"), "admin@localhost");
    assert!(
        message_id(&first[0]).ends_with("@appliance.example>"),
        "{}",
        first[0]
    );
    // The relay's 250 comes before the daemon settles the entry and counts
    // it: wait for the count rather than race it.
    wait_for(
        "the delivery to be counted",
        &d,
        Duration::from_secs(30),
        || {
            metric(&rt.block_on(metrics(&d, &c)), "bailiwick_mail_sent_total") >= 1
                && status(&d)["mail_pending"] == 0
        },
    );
    let m = rt.block_on(metrics(&d, &c));
    assert!(
        metric(&m, "bailiwick_mail_retries_total") >= 2,
        "two 451s: {m}"
    );

    // Two restarts later, with one more email: each Message-ID arrived once.
    let (st, _) = d.stop();
    assert!(st.success());
    let d = Daemon::start_with(&data, smtp(port));
    let c = d.client();
    // Sessions are stored: the first one still works.
    rt.block_on(async {
        let (st, _) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [id], "subject": "Second", "body": "two"}),
        )
        .await;
        assert_eq!(st, 202);
    });
    wait_for("the second email", &d, Duration::from_secs(30), || {
        sink.messages()
            .iter()
            .any(|m| header(m, "Subject") == "Second")
    });
    let (st, _) = d.stop();
    assert!(st.success());
    let d = Daemon::start_with(&data, smtp(port));
    let c = d.client();
    rt.block_on(async {
        let (st, _) = notify(
            &d,
            &c,
            &token,
            json!({"to_users": [id], "subject": "Third", "body": "three"}),
        )
        .await;
        assert_eq!(st, 202);
    });
    wait_for("the third email", &d, Duration::from_secs(30), || {
        sink.messages()
            .iter()
            .any(|m| header(m, "Subject") == "Third")
    });
    let all = sink.messages();
    let mut ids: Vec<String> = all.iter().map(|m| message_id(m)).collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a Message-ID arrived twice: {ids:?}");
    let subjects: Vec<&str> = all.iter().map(|m| header(m, "Subject")).collect();
    let ours: Vec<&str> = subjects
        .into_iter()
        .filter(|s| ["First", "Second", "Third"].contains(s))
        .collect();
    assert_eq!(ours, ["First", "Second", "Third"]);
    let (st, _) = d.stop();
    assert!(st.success());
}

#[test]
fn r12_1_restarts_during_a_relay_outage_keep_the_backoff_and_flush_sends_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    // A retry an hour after the first try, and three tries in all: a start
    // that tried every pending email at once would use them up in two
    // restarts.
    let start = || {
        smtp(port)
            .env("BAILIWICK_MAIL_RETRY_INITIAL", "1h")
            .env("BAILIWICK_MAIL_RETRY_MAX", "1h")
            .env("BAILIWICK_MAIL_MAX_ATTEMPTS", "3")
    };
    let d = Daemon::start_with(&data, start());
    let c = d.client();
    let rt = rt();
    let (token, id) = rt.block_on(sign_in(&d, &c));
    let send = |d: &Daemon, subject: &str| {
        let c = d.client();
        rt.block_on(async {
            let body = json!({"to_users": [id], "subject": subject, "body": "x"});
            let (st, v) = notify(d, &c, &token, body).await;
            assert_eq!(st, 202, "{v}");
        });
    };
    send(&d, "Held");
    wait_for("the refused try", &d, Duration::from_secs(20), || {
        metric(
            &rt.block_on(metrics(&d, &c)),
            "bailiwick_mail_retries_total",
        ) == 1
    });
    let mut d = d;
    for _ in 0..2 {
        let (st, _) = d.stop();
        assert!(st.success());
        d = Daemon::start_with(&data, start());
    }
    // The relay is back, and one more start: a new email goes out, and it
    // is tried after the held one (the outbox is read in order), which
    // waits out its hour.
    let sink = Sink::start(port, &dir.path().join("sink"), SinkOptions::default());
    let (st, _) = d.stop();
    assert!(st.success());
    let d = Daemon::start_with(&data, start());
    send(&d, "Marker");
    let subjects = || -> Vec<String> {
        sink.messages()
            .iter()
            .map(|m| header(m, "Subject").to_owned())
            .collect()
    };
    wait_for("the new email", &d, Duration::from_secs(30), || {
        subjects().contains(&"Marker".to_owned())
    });
    assert_eq!(subjects(), ["Marker"], "the held email waits its backoff");
    let s = status(&d);
    assert_eq!(s["mail_pending"], 1, "{s}");
    assert_eq!(s["mail_failed"], 0, "no try was spent by a restart: {s}");

    // The operator knows the relay is fixed and does not wait the hour.
    let out = d.ctl(&["mail", "flush"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "the pending email is being sent now"
    );
    wait_for("the held email", &d, Duration::from_secs(30), || {
        subjects().contains(&"Held".to_owned())
    });
    wait_for("the outbox to empty", &d, Duration::from_secs(30), || {
        status(&d)["mail_pending"] == 0
    });
    assert_eq!(subjects(), ["Marker", "Held"]);
    let out = d.ctl(&["mail", "flush"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "no email is pending"
    );
    let (st, _) = d.stop();
    assert!(st.success());
}

#[test]
fn r12_1_after_max_attempts_an_email_fails_visibly_and_loses_its_link() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let _sink = Sink::start(
        port,
        &dir.path().join("sink"),
        SinkOptions::default().fail_first(1000),
    );
    let d = Daemon::start_with(&data, smtp(port).env("BAILIWICK_MAIL_MAX_ATTEMPTS", "2"));
    let c = d.client();
    // The operator reset queues a new-credentials email with a link.
    let out = d.ctl(&["--json", "users", "reset-password", "admin"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let token = v["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    wait_for("the email to fail", &d, Duration::from_secs(30), || {
        status(&d)["mail_failed"] == 1
    });
    let s = status(&d);
    assert_eq!(s["mail_pending"], 0);
    let m = rt().block_on(metrics(&d, &c));
    assert!(m.contains("bailiwick_mail_failed 1\n"), "{m}");
    assert!(m.contains("bailiwick_mail_failures_total 1\n"), "{m}");
    assert!(m.contains("bailiwick_mail_retries_total 1\n"), "{m}");
    let (st, log) = d.stop();
    assert!(st.success());
    assert!(log.contains("mail delivery failed"), "{log}");

    // The failed record keeps what and why, not the one-time link.
    let store = bailiwick::store::Store::open(
        &data,
        &bailiwick::store::Options::default(),
        std::sync::Arc::new(bailiwick::clock::SystemClock),
    )
    .unwrap();
    let failed = store.mail_failed(10).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 2);
    assert!(failed[0].error.contains("451"), "{}", failed[0].error);
    let notice = failed[0].notice.as_ref().unwrap();
    assert_eq!(notice.link_token, None);
    assert!(store.mail_pending(0, 10).unwrap().is_empty());
    assert!(!format!("{failed:?}").contains(&token));
    store.close();
    drop(store);
    // R11.1: the failure is in the activity log, by `system`.
    assert!(
        activity_mentions(&data, "mail.failed", "system"),
        "no mail.failed entry"
    );
}

/// A 550 is the relay's final word: the email fails on its first attempt,
/// with no retry, whatever `max_attempts` allows.
#[test]
fn r12_1_a_permanent_refusal_fails_the_email_at_once_without_retrying() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let _sink = Sink::start(
        port,
        &dir.path().join("sink"),
        SinkOptions::default().reject(),
    );
    let d = Daemon::start_with(&data, smtp(port).env("BAILIWICK_MAIL_MAX_ATTEMPTS", "5"));
    let c = d.client();
    let out = d.ctl(&["--json", "users", "reset-password", "admin"]);
    assert!(out.status.success(), "{}", text(&out));
    wait_for("the email to fail", &d, Duration::from_secs(30), || {
        status(&d)["mail_failed"] == 1
    });
    let m = rt().block_on(metrics(&d, &c));
    assert!(m.contains("bailiwick_mail_retries_total 0\n"), "{m}");
    let (st, _) = d.stop();
    assert!(st.success());
    let store = bailiwick::store::Store::open(
        &data,
        &bailiwick::store::Options::default(),
        std::sync::Arc::new(bailiwick::clock::SystemClock),
    )
    .unwrap();
    let failed = store.mail_failed(10).unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 1, "a 550 is not tried again");
    assert!(failed[0].error.contains("550"), "{}", failed[0].error);
    store.close();
}

/// Whether an activity entry with `action` was committed: in the store's
/// activity outbox, or already moved to a log segment.
fn activity_mentions(data: &Path, action: &str, actor: &str) -> bool {
    use bailiwick::store::{codec, records};
    use redb::{ReadableDatabase, ReadableTable};
    let in_segments = std::fs::read_dir(data.join("activity"))
        .map(|d| {
            d.filter_map(|e| e.ok()).any(|e| {
                String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default())
                    .contains(action)
            })
        })
        .unwrap_or(false);
    if in_segments {
        return true;
    }
    let db = redb::Database::open(data.join("bailiwick.redb")).unwrap();
    let read = db.begin_read().unwrap();
    let Ok(table) = read.open_table(records::ACTIVITY_OUTBOX) else {
        return false;
    };
    table.iter().unwrap().any(|row| {
        let (_, v) = row.unwrap();
        codec::decode::<records::ActivityRecord>(v.value())
            .is_ok_and(|r| r.entry.action == action && r.entry.actor.login == actor)
    })
}

#[test]
fn r12_2_smtp_over_starttls_and_implicit_tls_with_auth_and_a_custom_ca() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.path().join("relay.pem");
    let key_path = dir.path().join("relay.key");
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let pw_path = dir.path().join("smtp-password");
    std::fs::write(&pw_path, "relay-secret\n").unwrap();
    let cert_s = cert_path.display().to_string();

    for (mode, security) in [
        (Protection::StartTls, "starttls"),
        (Protection::Implicit, "implicit"),
    ] {
        let port = free_port();
        let out = dir.path().join(format!("sink-{security}"));
        let sink = Sink::start(
            port,
            &out,
            SinkOptions::default()
                .tls(mode, &cert_path, &key_path)
                .auth("bw", "relay-secret"),
        );
        let data = dir.path().join(format!("data-{security}"));
        let d = Daemon::start_with(
            &data,
            smtp(port)
                .env("BAILIWICK_MAIL_SMTP_HOST", "localhost")
                .env("BAILIWICK_MAIL_SMTP_SECURITY", security)
                .env("BAILIWICK_MAIL_SMTP_CA_FILE", &cert_s)
                .env("BAILIWICK_MAIL_SMTP_USERNAME", "bw")
                .env(
                    "BAILIWICK_MAIL_SMTP_PASSWORD_FILE",
                    &pw_path.display().to_string(),
                ),
        );
        let c = d.client();
        rt().block_on(async {
            let (token, id) = sign_in(&d, &c).await;
            let (st, _) = notify(
                &d,
                &c,
                &token,
                json!({"to_users": [id], "subject": format!("Over {security}"), "body": "tls"}),
            )
            .await;
            assert_eq!(st, 202);
        });
        wait_for(security, &d, Duration::from_secs(30), || {
            !sink.messages().is_empty()
        });
        assert_eq!(
            header(&sink.messages()[0], "Subject"),
            format!("Over {security}")
        );
        let meta = &sink.meta()[0];
        assert!(meta.contains("auth: bw\n"), "{meta}");
        assert!(meta.contains("tls: yes\n"), "{meta}");
        let (st, _) = d.stop();
        assert!(st.success());
    }
}

#[test]
fn r12_2_plain_smtp_is_only_for_a_relay_on_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let err = Daemon::try_start(
        &dir.path().join("data"),
        smtp(25).env("BAILIWICK_MAIL_SMTP_HOST", "relay.example"),
    )
    .err()
    .expect("refused");
    assert!(err.contains("mail.smtp_security"), "{err}");
}
