//! How fast delivery empties the mail outbox into an SMTP relay, against
//! the same messages sent straight through the same SMTP client.
//!
//! Each round queues `--messages` notifications in one commit, starts the
//! daemon's delivery task (`notify::delivery`) against the in-process test
//! relay on loopback, and times it until the outbox is empty: every message
//! rendered, its try counted durably, sent, and settled durably. The
//! baseline, in the same round, sends the same number of built messages
//! through `notify::smtp::Smtp` to the same relay with no store at all: what
//! one client gets from that relay.
//!
//! ```sh
//! cargo run --release --example mail_rate -- [--messages 2000] [--rounds 3]
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bailiwick::config::{MailConfig, MailTransport, SmtpSecurity};
use bailiwick::domain::bootstrap::{Bootstrap, initialise};
use bailiwick::domain::credentials::Notice;
use bailiwick::domain::notice::{MailTo, NoticeKind};
use bailiwick::domain::{Actor, Timestamp};
use bailiwick::metrics::Metrics;
use bailiwick::notify::delivery::{Delivery, Options, Transport};
use bailiwick::notify::message;
use bailiwick::notify::smtp::Smtp;
use bailiwick::notify::templates::{self, Render};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncTransport, Tokio1Executor};

mod common;
#[path = "../tests/integration/common/smtp_sink.rs"]
#[allow(dead_code)]
mod smtp_sink;

const URL: &str = "https://appliance.example:8443";

fn config(port: u16) -> MailConfig {
    MailConfig {
        transport: MailTransport::Smtp,
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        smtp_security: SmtpSecurity::Plain,
        from: "bailiwick@appliance.example".into(),
        ..MailConfig::default()
    }
}

fn notice(n: u64) -> Notice {
    Notice {
        kind: NoticeKind::Notification {
            subject: format!("Scan report {n}"),
            body: "The weekly scan finished; 3 hosts changed.".into(),
        },
        to: MailTo::Address(format!("reader{}@example.org", n % 50)),
        link_token: None,
    }
}

/// Messages per second through the delivery task.
fn delivered(rt: &tokio::runtime::Runtime, port: u16, messages: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (store, _log, _writer) = common::open_store(dir.path());
    store
        .write_blocking(Actor::operator(), move |tx| {
            initialise(tx, &Bootstrap::default_subscription("boss"), "m1".into())?;
            for n in 0..messages {
                tx.queue_notice(notice(n));
            }
            Ok(())
        })
        .expect("queue the messages");
    assert_eq!(store.mail_backlog(), messages);
    let cfg = config(port);
    let started = Instant::now();
    let delivery = rt.block_on(async {
        Delivery::start(
            store.clone(),
            Transport::Smtp(Smtp::from_config(&cfg).unwrap()),
            Options::from_config(&cfg, URL.into()).unwrap(),
            Arc::new(Metrics::default()),
        )
    });
    while store.mail_backlog() > 0 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let took = started.elapsed();
    rt.block_on(delivery.stop(Duration::from_secs(5)));
    assert_eq!(store.mail_failed_count(), 0, "the relay took every message");
    store.close();
    messages as f64 / took.as_secs_f64()
}

/// Messages per second sent straight through the SMTP client: the
/// daemon's (`notify::smtp`), or lettre's own transport as the daemon used
/// it before (its sockets wait out the relay's delayed ACK).
fn raw(rt: &tokio::runtime::Runtime, port: u16, messages: u64, lettre: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (store, _log, _writer) = common::open_store(dir.path());
    store
        .write_blocking(Actor::operator(), |tx| {
            initialise(tx, &Bootstrap::default_subscription("boss"), "m1".into())
        })
        .unwrap();
    let state = store.snapshot();
    let cfg = config(port);
    let opts = Options::from_config(&cfg, URL.into()).unwrap();
    let smtp = Smtp::from_config(&cfg).unwrap();
    let plain = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .tls(Tls::None)
        .build();
    let tag = message::subscription_tag(&state);
    let out: Vec<_> = (0..messages)
        .map(|n| {
            let Ok(Render::Send(r)) = templates::render(&state, &notice(n), URL) else {
                panic!("the notification renders");
            };
            let id = message::message_id(n, &tag, &opts.domain);
            message::build(n, id, &opts.from, &r, Timestamp::from_unix_micros(0)).unwrap()
        })
        .collect();
    store.close();
    // On a worker thread, as the delivery task runs.
    rt.block_on(async move {
        tokio::spawn(async move {
            let started = Instant::now();
            for o in &out {
                if lettre {
                    plain
                        .send(o.message.clone())
                        .await
                        .expect("the relay takes it");
                } else {
                    smtp.send(o).await.expect("the relay takes it");
                }
            }
            messages as f64 / started.elapsed().as_secs_f64()
        })
        .await
        .unwrap()
    })
}

fn main() {
    let v = common::numbers(&[("--messages", 2000), ("--rounds", 3)]);
    let (messages, rounds) = (v[0], v[1]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("{messages} messages to a relay on loopback, {rounds} rounds");
    println!("round  lettre msg/s  raw msg/s  raw/lettre  delivery msg/s  delivery/raw");
    for round in 1..=rounds {
        // The relay keeps messages in memory where it can, so that its own
        // writes do not share the disk with the store's fsyncs.
        let shm = std::path::Path::new("/dev/shm");
        let sink_dir = if shm.is_dir() {
            tempfile::tempdir_in(shm).unwrap()
        } else {
            tempfile::tempdir().unwrap()
        };
        let port = free_port();
        let _sink =
            smtp_sink::Sink::start(port, sink_dir.path(), smtp_sink::SinkOptions::default());
        // Alternating which goes first: the relay's directory fills up.
        let (raw_rate, delivery) = if round % 2 == 1 {
            let r = raw(&rt, port, messages, false);
            (r, delivered(&rt, port, messages))
        } else {
            let d = delivered(&rt, port, messages);
            (raw(&rt, port, messages, false), d)
        };
        // At ~25 messages/s: a tenth of the messages is enough.
        let lettre = raw(&rt, port, (messages / 10).max(20), true);
        println!(
            "{round:>5}  {lettre:>12.1}  {raw_rate:>9.0}  {:>10.1}  {delivery:>14.0}  {:>12.2}",
            raw_rate / lettre,
            delivery / raw_rate
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
