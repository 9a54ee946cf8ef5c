//! Lockout and reset rules (R7.2, R8.2, R8.7) on the pure state: which
//! counter an attempt counts against, what each lock refuses, and who may
//! send a reset link where.

use std::time::Duration;

use super::prelude::*;
use crate::credentials::*;
use crate::testkit::World;
use crate::{Access, Activity, Actor, Permission};

const DAY: u64 = 86_400_000_000;

/// A clock in microseconds, and the address each command comes from.
struct Bench {
    w: World,
    now: i64,
}

impl Bench {
    fn new() -> Bench {
        Bench {
            w: World::new(),
            now: 1_000_000,
        }
    }

    fn user(&mut self, login: &str) -> Id {
        let id = self.w.user(login, Role::Scanner, None);
        self.w.state.credentials.insert(
            id.clone(),
            Credentials {
                password_hash: Some("$argon2id$x".into()),
                ..Credentials::default()
            },
        );
        id
    }

    fn at<T>(
        &mut self,
        user: &str,
        ip: &str,
        f: impl FnOnce(&mut Tx<'_>) -> T,
    ) -> (T, Vec<Activity>, Vec<Notice>) {
        self.now += 1;
        let mut actor = crate::testkit::actor_of(&self.w.state, user);
        actor.ip = Some(ip.parse().unwrap());
        let mut tx = Tx::new(
            &mut self.w.state,
            Timestamp::from_unix_micros(self.now),
            actor,
        );
        let out = f(&mut tx);
        let (_, log, mail) = tx.finish_all();
        (out, log, mail)
    }

    fn login_ok(&mut self, id: &Id, ip: &str) -> Result<User, Refusal> {
        let id = id.clone();
        self.at(&id.clone(), ip, |tx| {
            record_success(tx, &id, None, None, false, true, true)
        })
        .0
    }

    fn fail(&mut self, id: &Id, ip: &str, smart: bool) -> (bool, Vec<Activity>, Vec<Notice>) {
        let id = id.clone();
        self.at(&id.clone(), ip, |tx| {
            record_failure(tx, &id, Denied::WrongPassword, false, smart)
        })
    }

    fn barrier(&self, id: &Id, ip: &str, smart: bool) -> Option<Denied> {
        let u = &self.w.state.users[id];
        login_barrier_from(
            &self.w.state,
            u,
            Some(ip.parse().unwrap()),
            Timestamp::from_unix_micros(self.now),
            smart,
        )
    }

    fn session(&mut self, id: &Id) {
        let s = Session {
            token_hash: format!("h-{id}"),
            id: format!("s-{id}"),
            user: id.clone(),
            created_at: Timestamp::from_unix_micros(1),
            last_used_at: Timestamp::from_unix_micros(1),
            expires_at: Timestamp::from_unix_micros(i64::MAX),
            ip: None,
            user_agent: String::new(),
        };
        self.w.state.sessions.insert(s.token_hash.clone(), s);
    }

    fn sessions_of(&self, id: &Id) -> usize {
        self.w
            .state
            .sessions
            .values()
            .filter(|s| s.user == *id)
            .count()
    }
}

#[test]
fn r8_2_a_lock_from_unfamiliar_addresses_does_not_refuse_a_familiar_one() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    b.login_ok(&sam, "192.0.2.10").unwrap();
    b.session(&sam);
    let mut last = (false, Vec::new(), Vec::new());
    for i in 0..5 {
        last = b.fail(&sam, &format!("203.0.113.{i}"), true);
    }
    let (locked, log, mail) = last;
    assert!(locked, "the fifth unfamiliar failure locks");
    let c = &b.w.state.credentials[&sam];
    assert!(c.locked_unfamiliar && !c.locked);
    assert_eq!(c.failed_attempts, 0, "the familiar counter is untouched");
    let lock = log.iter().find(|a| a.action == "user.lock").unwrap();
    assert!(
        lock.details.contains("not logged in from lately"),
        "{}",
        lock.details
    );
    assert_eq!(
        mail[0].kind,
        NoticeKind::AccountLockedBy {
            counter: LockCounter::Unfamiliar
        }
    );
    // Sessions stay: otherwise anyone could sign anyone out.
    assert_eq!(b.sessions_of(&sam), 1);
    assert_eq!(b.barrier(&sam, "203.0.113.77", true), Some(Denied::Locked));
    assert_eq!(b.barrier(&sam, "192.0.2.10", true), None);
    b.login_ok(&sam, "192.0.2.10")
        .expect("the right password from a familiar address");
    // A success clears the counts but not the lock.
    assert!(b.w.state.credentials[&sam].locked_unfamiliar);
    assert_eq!(b.barrier(&sam, "203.0.113.77", true), Some(Denied::Locked));
}

#[test]
fn r8_2_a_lock_from_a_familiar_address_refuses_everyone_and_ends_sessions() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    b.login_ok(&sam, "192.0.2.10").unwrap();
    b.session(&sam);
    for _ in 0..4 {
        assert!(!b.fail(&sam, "192.0.2.10", true).0);
    }
    let (locked, log, mail) = b.fail(&sam, "192.0.2.10", true);
    assert!(locked);
    assert!(b.w.state.credentials[&sam].locked);
    assert_eq!(b.sessions_of(&sam), 0, "a familiar lock ends the sessions");
    let lock = log.iter().find(|a| a.action == "user.lock").unwrap();
    assert!(lock.details.contains("logged in from lately"));
    assert!(
        lock.details.contains("1 sessions ended"),
        "{}",
        lock.details
    );
    assert_eq!(
        mail[0].kind,
        NoticeKind::AccountLockedBy {
            counter: LockCounter::Familiar
        }
    );
    assert_eq!(b.barrier(&sam, "192.0.2.10", true), Some(Denied::Locked));
    assert_eq!(b.barrier(&sam, "203.0.113.1", true), Some(Denied::Locked));
    assert!(b.login_ok(&sam, "192.0.2.10").is_err());
}

#[test]
fn r8_2_familiar_addresses_expire_after_30_days_and_ipv6_counts_by_64() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    b.login_ok(&sam, "2001:db8:1:2::10").unwrap();
    let c = b.w.state.credentials[&sam].clone();
    let now = Timestamp::from_unix_micros(b.now);
    let same_64 = "2001:db8:1:2:ffff::1".parse().ok();
    let other_64 = "2001:db8:1:3::10".parse().ok();
    assert!(is_familiar(&c, same_64, now, FAMILIAR_FOR));
    assert!(!is_familiar(&c, other_64, now, FAMILIAR_FOR));
    let later = now.saturating_add(Duration::from_micros(31 * DAY));
    assert!(!is_familiar(&c, same_64, later, FAMILIAR_FOR));
}

#[test]
fn r8_2_familiar_addresses_are_capped() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    for i in 0..(MAX_FAMILIAR + 5) {
        b.login_ok(&sam, &format!("198.51.100.{i}")).unwrap();
    }
    let c = &b.w.state.credentials[&sam];
    assert_eq!(c.familiar.len(), MAX_FAMILIAR);
    let newest = format!("198.51.100.{}", MAX_FAMILIAR + 4);
    assert_eq!(c.familiar.last().unwrap().net.to_string(), newest);
}

#[test]
fn r8_2_smart_lockout_off_restores_one_counter() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    b.login_ok(&sam, "192.0.2.10").unwrap();
    b.session(&sam);
    let mut mail = Vec::new();
    for i in 0..5 {
        mail = b.fail(&sam, &format!("203.0.113.{i}"), false).2;
    }
    let c = &b.w.state.credentials[&sam];
    assert!(c.locked && !c.locked_unfamiliar);
    assert_eq!(
        mail[0].kind,
        NoticeKind::AccountLockedBy {
            counter: LockCounter::All
        }
    );
    assert_eq!(b.barrier(&sam, "192.0.2.10", false), Some(Denied::Locked));
    assert_eq!(b.sessions_of(&sam), 0);
}

#[test]
fn r8_2_unlock_clears_both_counters_and_the_answer_lock() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    b.login_ok(&sam, "192.0.2.10").unwrap();
    for i in 0..5 {
        b.fail(&sam, &format!("203.0.113.{i}"), true);
    }
    for _ in 0..5 {
        b.fail(&sam, "192.0.2.10", true);
    }
    {
        let c = b.w.state.credentials.get_mut(&sam).unwrap();
        c.answers_locked = true;
        assert!(c.locked && c.locked_unfamiliar);
    }
    let (r, log, _) = b.at("m1", "192.0.2.1", |tx| unlock(tx, "sam"));
    r.unwrap();
    assert_eq!(log.len(), 1);
    let c = &b.w.state.credentials[&sam];
    assert!(!c.locked && !c.locked_unfamiliar && !c.answers_locked);
    assert_eq!((c.failed_attempts, c.failed_unfamiliar), (0, 0));
    assert_eq!(b.barrier(&sam, "203.0.113.1", true), None);
}

#[test]
fn secret_questions_wrong_answers_have_their_own_counter_and_lock() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    let mut last = (false, Vec::new(), Vec::new());
    for _ in 0..5 {
        let id = sam.clone();
        last = b.at(&sam, "203.0.113.1", |tx| {
            record_answer_failure(tx, &id, WRONG_ANSWERS)
        });
    }
    let (locked, log, mail) = last;
    assert!(locked);
    assert_eq!(log[0].action, "password_reset.failed");
    assert!(log.iter().all(|a| a.action != "login.failed"));
    assert_eq!(
        mail[0].kind,
        NoticeKind::AccountLockedBy {
            counter: LockCounter::SecretAnswers
        }
    );
    let c = b.w.state.credentials[&sam].clone();
    assert!(c.answers_locked);
    assert_eq!(c.failed_attempts, 0, "password counters are apart");
    // Logins still work; the self-service reset does not.
    assert_eq!(b.barrier(&sam, "203.0.113.1", true), None);
    let id = sam.clone();
    let (r, log, _) = b.at(&sam, "192.0.2.10", |tx| {
        self_reset(tx, &id, "Fresh-Password-123", "h2".into(), true)
    });
    assert_eq!(r.unwrap_err().code, Code::Unauthenticated);
    assert!(log.is_empty());
    assert_eq!(
        b.w.state.credentials[&sam].password_hash.as_deref(),
        Some("$argon2id$x")
    );
}

#[test]
fn secret_questions_a_locked_account_cannot_be_reset_by_them() {
    let mut b = Bench::new();
    let sam = b.user("sam");
    for _ in 0..5 {
        b.fail(&sam, "203.0.113.1", true);
    }
    let id = sam.clone();
    let (r, _, _) = b.at(&sam, "203.0.113.1", |tx| {
        self_reset(tx, &id, "Fresh-Password-123", "h2".into(), true)
    });
    assert!(r.is_err(), "a locked account does not reset itself");
    assert!(b.w.state.credentials[&sam].locked_unfamiliar);
    // Not locked: the reset sets the password, lifts no lock and mails the user.
    let pat = b.user("pat");
    let id = pat.clone();
    let (r, _, mail) = b.at(&pat, "203.0.113.1", |tx| {
        self_reset(tx, &id, "Fresh-Password-123", "h2".into(), true)
    });
    r.unwrap();
    assert_eq!(mail[0].kind, NoticeKind::PasswordSelfReset);
}

fn um_world() -> (World, Id, Id, Id) {
    let mut w = World::new();
    let unit = w.unit("North");
    let um = w.user("um", Role::UnitManager, Some(&unit));
    let peer = w.user("peer", Role::UnitManager, Some(&unit));
    w.set_perms(&um, &[Permission::CreateOptionProfiles]);
    w.set_perms(
        &peer,
        &[Permission::CreateOptionProfiles, Permission::AddAssets],
    );
    for id in [&um, &peer] {
        w.state
            .credentials
            .insert(id.clone(), Credentials::default());
    }
    (w, unit, um, peer)
}

fn reset_by(w: &mut World, actor: &str, target: &Id) -> Result<User, Refusal> {
    let actor_user = w.state.users.get(actor).cloned();
    let target = target.clone();
    w.run(actor, |tx| {
        reset_password(
            tx,
            actor_user.as_ref(),
            &target,
            "tok".into(),
            "hash".into(),
            Timestamp::from_unix_micros(i64::MAX),
        )
    })
}

#[test]
fn r7_2_a_unit_manager_resets_only_users_whose_role_and_permissions_it_could_grant() {
    let (mut w, unit, um, peer) = um_world();
    let r = reset_by(&mut w, &um, &peer).unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    let sc = w.user("sc", Role::Scanner, Some(&unit));
    w.state
        .credentials
        .insert(sc.clone(), Credentials::default());
    reset_by(&mut w, &um, &sc).unwrap();
    // A Manager resets the peer.
    reset_by(&mut w, "m1", &peer).unwrap();
}

#[test]
fn r7_2_no_reset_link_to_an_email_changed_less_than_24_h_ago_unless_a_manager_asks() {
    let (mut w, unit, um, _) = um_world();
    let sc = w.user("sc", Role::Scanner, Some(&unit));
    w.state
        .credentials
        .insert(sc.clone(), Credentials::default());
    let id = sc.clone();
    w.run(&um, |tx| {
        crate::users::edit_user(
            tx,
            &id,
            crate::users::UserPatch {
                email: Some("new@example.net".into()),
                ..Default::default()
            },
        )
    })
    .unwrap();
    assert!(w.state.credentials[&sc].email_changed_at.is_some());
    let r = reset_by(&mut w, &um, &sc).unwrap_err();
    assert_eq!(r.code, Code::Conflict);
    assert!(r.message.contains("24 hours"));
    reset_by(&mut w, "m1", &sc).unwrap();
    // The operator too.
    let target = sc.clone();
    let mut tx = Tx::new(
        &mut w.state,
        Timestamp::from_unix_micros(10),
        Actor::operator(),
    );
    reset_password(
        &mut tx,
        None,
        &target,
        "t".into(),
        "h3".into(),
        Timestamp::from_unix_micros(i64::MAX),
    )
    .unwrap();
}

#[test]
fn r7_2_every_email_change_notifies_the_old_address() {
    let (mut w, unit, um, _) = um_world();
    let sc = w.user("sc", Role::Scanner, Some(&unit));
    let id = sc.clone();
    let actor = crate::testkit::actor_of(&w.state, &um);
    let mut tx = Tx::new(&mut w.state, Timestamp::from_unix_micros(10), actor);
    crate::users::edit_user(
        &mut tx,
        &id,
        crate::users::UserPatch {
            email: Some("new@example.net".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let (_, _, mail) = tx.finish_all();
    assert_eq!(
        mail[0].kind,
        NoticeKind::EmailChanged {
            old: "sc@example.com".into()
        }
    );
}

#[test]
fn r5_2_a_unit_manager_does_not_change_the_email_of_a_peer_with_more_permissions() {
    let (mut w, _, um, peer) = um_world();
    let id = peer.clone();
    let r = w
        .run(&um, |tx| {
            crate::users::edit_user(
                tx,
                &id,
                crate::users::UserPatch {
                    email: Some("mine@example.net".into()),
                    ..Default::default()
                },
            )
        })
        .unwrap_err();
    assert_eq!(r.code, Code::Forbidden);
    assert_eq!(w.state.users[&peer].email, "peer@example.com");
}

#[test]
fn control_characters_in_logins_are_escaped_not_dropped() {
    assert_eq!(shown("bo\0ss"), "bo\\u{0}ss");
    assert_eq!(shown("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
    assert_eq!(shown("plain"), "plain");
}

/// R8.6: a Manager lets one API-only account's password never expire once
/// the operator turned the feature on; other accounts still expire, and
/// the next password change, or a move away from API-only, ends it.
#[test]
fn r8_6_a_manager_lets_one_api_only_password_never_expire_until_it_changes() {
    let mut b = Bench::new();
    let m = b.w.user("m", Role::Manager, None);
    let um = b.w.user("um", Role::UnitManager, None);
    let robot = b.user("robot");
    let other = b.user("other");
    for id in [&robot, &other] {
        let mut u = b.w.state.users[id].clone();
        u.access = Access::ApiOnly;
        b.w.state.users.insert(id.clone(), u);
        b.w.state
            .credentials
            .get_mut(id)
            .unwrap()
            .password_changed_at = Some(Timestamp::from_unix_micros(1));
    }
    b.w.state.settings.security.password_expiration_days = 30;
    let later = Timestamp::from_unix_micros(1 + 31 * DAY as i64);
    let expired = |b: &Bench, id: &Id| password_expired(&b.w.state, &b.w.state.users[id], later);
    let set = |never: bool| crate::users::UserPatch {
        password_never_expires: Some(never),
        ..Default::default()
    };

    // Without the feature, nobody may set it.
    let refused =
        b.w.run(&m, |tx| crate::users::edit_user(tx, &robot, set(true)));
    assert_eq!(refused.unwrap_err().code, Code::FeatureUnavailable);
    b.w.feature(Feature::ApiPasswordNeverExpires);
    // The feature alone changes nothing: each account is a Manager's choice.
    assert!(expired(&b, &robot) && expired(&b, &other));
    let refused =
        b.w.run(&um, |tx| crate::users::edit_user(tx, &robot, set(true)));
    assert_eq!(refused.unwrap_err().code, Code::Forbidden);
    let ui = b.user("ui");
    let refused =
        b.w.run(&m, |tx| crate::users::edit_user(tx, &ui, set(true)));
    assert_eq!(refused.unwrap_err().code, Code::Validation);

    let (out, log) =
        b.w.run_logged(&m, |tx| crate::users::edit_user(tx, &robot, set(true)));
    out.unwrap();
    assert_eq!(log[0].details, "password never expires: yes");
    assert!(!expired(&b, &robot), "the flagged account does not expire");
    assert!(expired(&b, &other), "the other API-only account still does");
    assert!(password_never_expires(&b.w.state, &b.w.state.users[&robot]));

    // A password change ends it.
    b.w.state.settings.security.user_defined_passwords = true;
    let r = robot.clone();
    let (out, _, _) = b.at(&robot, "10.0.0.1", |tx| {
        change_password(tx, &r, "Another-pass-1", "$argon2id$y".into(), None)
    });
    out.unwrap();
    assert!(!b.w.state.credentials[&robot].password_never_expires);

    // So does giving the account console access.
    b.w.run(&m, |tx| crate::users::edit_user(tx, &robot, set(true)))
        .unwrap();
    let to_ui = crate::users::UserPatch {
        access: Some(Access::UiAndApi),
        ..Default::default()
    };
    b.w.run(&m, |tx| crate::users::edit_user(tx, &robot, to_ui))
        .unwrap();
    assert!(!b.w.state.credentials[&robot].password_never_expires);
}
