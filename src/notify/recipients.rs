//! `POST /api/v1/notifications` as a rule (R12.1, R2.5, R7.3): who may send,
//! who receives, and one outbox entry per recipient, queued in the same
//! transaction as its activity entry.
//!
//! Decided here, where SPEC and API.md are silent: Managers, User
//! Administrators and Unit Managers send notifications (the roles that
//! manage users), each to the users it may see (R10.1; a hidden or unknown
//! user is `not_found` alike). Deactivated users receive nothing and are
//! reported as skipped; Contacts do receive (their only privilege).

use std::collections::BTreeSet;

use crate::domain::access::Acting;
use crate::domain::notice::{Notice, NoticeKind};
use crate::domain::{Code, Id, Refusal, Tx, User, UserStatus};

/// Recipients of one request, at most.
pub const MAX_RECIPIENTS: usize = 1000;
/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 200;
/// Longest body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationRequest {
    pub to_users: Vec<Id>,
    pub to_distribution_groups: Vec<Id>,
    pub subject: String,
    pub body: String,
}

/// What was queued, and who was left out and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotificationOutcome {
    pub queued: Vec<Id>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub user: Id,
    pub reason: String,
}

fn invalid(detail: impl Into<String>) -> Refusal {
    Refusal::new(Code::Validation, detail)
}

/// Who may send at all.
pub fn may_send(acting: &Acting<'_>) -> bool {
    acting.is_manager() || acting.is_user_admin() || acting.is_unit_manager()
}

/// The users a request reaches, each once, in the order given. Distribution
/// groups are another module's; until they exist a request naming any is
/// refused rather than half-sent.
pub fn resolve_recipients<'s>(
    acting: &Acting<'s>,
    to_users: &[Id],
    to_distribution_groups: &[Id],
) -> Result<Vec<&'s User>, Refusal> {
    if !to_distribution_groups.is_empty() {
        return Err(invalid(
            "to_distribution_groups: distribution groups are not available yet; name users in to_users",
        ));
    }
    if to_users.is_empty() {
        return Err(invalid("to_users: name at least one recipient"));
    }
    if to_users.len() > MAX_RECIPIENTS {
        return Err(invalid(format!(
            "to_users: at most {MAX_RECIPIENTS} recipients per request"
        )));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for id in to_users {
        let user = acting.visible_user(id)?;
        if seen.insert(user.id.clone()) {
            out.push(user);
        }
    }
    Ok(out)
}

fn check_content(subject: &str, body: &str) -> Result<(), Refusal> {
    let s = subject.trim();
    if s.is_empty() || s.chars().count() > MAX_SUBJECT || s.chars().any(char::is_control) {
        return Err(invalid(format!(
            "subject: give 1 to {MAX_SUBJECT} characters on one line"
        )));
    }
    if body.trim().is_empty() || body.len() > MAX_BODY {
        return Err(invalid(format!(
            "body: give some text, at most {} KiB",
            MAX_BODY / 1024
        )));
    }
    // Line breaks and tabs belong in a body; other control characters do not.
    if body
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(invalid("body: control characters are not allowed"));
    }
    Ok(())
}

/// Queues one notification per reachable recipient. Action `notification.send`.
pub fn send_notification(
    tx: &mut Tx<'_>,
    req: NotificationRequest,
) -> Result<NotificationOutcome, Refusal> {
    let (queued, skipped, logins) = {
        let acting = Acting::from_tx(tx)?;
        if !may_send(&acting) {
            return Err(Refusal::new(
                Code::Forbidden,
                "only Managers, Unit Managers and User Administrators send notifications",
            ));
        }
        check_content(&req.subject, &req.body)?;
        let recipients = resolve_recipients(&acting, &req.to_users, &req.to_distribution_groups)?;
        let mut queued = Vec::new();
        let mut skipped = Vec::new();
        let mut logins = Vec::new();
        for u in recipients {
            if u.status == UserStatus::Deactivated {
                skipped.push(Skipped {
                    user: u.id.clone(),
                    reason: "deactivated users receive no email".into(),
                });
            } else {
                queued.push(u.id.clone());
                logins.push(u.login.clone());
            }
        }
        (queued, skipped, logins)
    };
    if queued.is_empty() {
        return Err(invalid(
            "to_users: every recipient is deactivated; nothing was sent",
        ));
    }
    let subject = req.subject.trim().to_owned();
    for id in &queued {
        tx.queue_notice(Notice {
            kind: NoticeKind::Notification {
                subject: subject.clone(),
                body: req.body.clone(),
            },
            user: id.clone(),
            link_token: None,
        });
    }
    let mut shown = logins
        .iter()
        .take(20)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if logins.len() > 20 {
        shown.push_str(&format!(" and {} more", logins.len() - 20));
    }
    let shown_subject: String = subject.chars().take(80).collect();
    tx.log(
        "notification.send",
        format!("notification {shown_subject:?}"),
        format!(
            "to {} users ({shown}); {} skipped",
            queued.len(),
            skipped.len()
        ),
    );
    Ok(NotificationOutcome { queued, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::bootstrap::{Bootstrap, initialise};
    use crate::domain::{Actor, BusinessUnit, Role, State, Timestamp, User};

    /// Manager `m1` (from bootstrap), Unit Manager `um` and Scanner `sc` of
    /// unit `b1`, Reader `r2` of unit `b2`, Contact `c1` of `b1`.
    fn world() -> State {
        let mut s = State::default();
        let mut tx = Tx::new(&mut s, Timestamp::from_unix_micros(0), Actor::operator());
        initialise(&mut tx, &Bootstrap::default_subscription("m1"), "m1".into()).unwrap();
        drop(tx);
        if let Some(u) = s.users.get_mut("m1") {
            u.status = UserStatus::Active;
        }
        for b in ["b1", "b2"] {
            s.units.insert(
                b.into(),
                BusinessUnit {
                    id: b.into(),
                    name: b.into(),
                    primary_contact: None,
                    new_ip_limit: None,
                    email_contact: None,
                    created_at: Timestamp::default(),
                },
            );
        }
        let base = s.users["m1"].clone();
        for (id, role, unit) in [
            ("um", Role::UnitManager, "b1"),
            ("sc", Role::Scanner, "b1"),
            ("r2", Role::Reader, "b2"),
            ("c1", Role::Contact, "b1"),
        ] {
            let u = User {
                id: id.into(),
                login: id.into(),
                email: format!("{id}@example.org"),
                role,
                business_unit: Some(unit.into()),
                ..base.clone()
            };
            s.logins.insert(id.into(), id.into());
            s.users.insert(id.into(), u);
        }
        s
    }

    fn send(
        s: &mut State,
        by: &str,
        to: &[&str],
    ) -> (Result<NotificationOutcome, Refusal>, Vec<Notice>) {
        let actor = Actor {
            user: Some(by.into()),
            login: by.into(),
            business_unit: s.users.get(by).and_then(|u| u.business_unit.clone()),
            ip: None,
        };
        let mut tx = Tx::new(s, Timestamp::from_unix_micros(1), actor);
        let r = send_notification(
            &mut tx,
            NotificationRequest {
                to_users: to.iter().map(|t| t.to_string()).collect(),
                subject: "Scan finished".into(),
                body: "3 new hosts".into(),
                ..Default::default()
            },
        );
        let (_, _, notices) = tx.finish_all();
        (r, notices)
    }

    #[test]
    fn r12_1_one_entry_per_recipient_and_contacts_receive() {
        let mut s = world();
        let (r, notices) = send(&mut s, "m1", &["sc", "c1", "sc", "r2"]);
        assert_eq!(r.unwrap().queued, vec!["sc", "c1", "r2"]);
        assert_eq!(notices.len(), 3);
        assert!(notices.iter().all(|n| n.link_token.is_none()
            && n.kind
                == NoticeKind::Notification {
                    subject: "Scan finished".into(),
                    body: "3 new hosts".into()
                }));
    }

    #[test]
    fn r7_3_deactivated_recipients_are_skipped() {
        let mut s = world();
        if let Some(u) = s.users.get_mut("c1") {
            u.status = UserStatus::Deactivated;
        }
        let (r, notices) = send(&mut s, "um", &["c1", "sc"]);
        let out = r.unwrap();
        assert_eq!(out.queued, vec!["sc"]);
        assert_eq!(out.skipped[0].user, "c1");
        assert_eq!(notices.len(), 1);
        let (r, notices) = send(&mut s, "m1", &["c1"]);
        assert_eq!(r.unwrap_err().code, Code::Validation);
        assert!(notices.is_empty());
    }

    #[test]
    fn r12_1_who_may_send_and_to_whom() {
        let mut s = world();
        let (r, n) = send(&mut s, "sc", &["um"]);
        assert_eq!(r.unwrap_err().code, Code::Forbidden);
        assert!(n.is_empty());
        // A Unit Manager reaches only users it may see (R10.1).
        s.settings.visibility.restrict_user_info_outside_unit = true;
        s.settings.visibility.hide_users_outside_unit = true;
        let (r, n) = send(&mut s, "um", &["sc", "r2"]);
        assert_eq!(r.unwrap_err().code, Code::NotFound);
        assert!(
            n.is_empty(),
            "nothing is sent when one recipient is refused"
        );
        let (r, _) = send(&mut s, "m1", &["nobody"]);
        assert_eq!(r.unwrap_err().code, Code::NotFound);
    }

    #[test]
    fn r13_bad_content_and_distribution_groups_are_refused() {
        let s = world();
        let acting = Acting::of(&s, "m1").unwrap();
        let e = resolve_recipients(&acting, &[], &["g1".into()]).unwrap_err();
        assert_eq!(e.code, Code::Validation);
        assert!(
            e.message
                .contains("distribution groups are not available yet")
        );
        assert_eq!(
            resolve_recipients(&acting, &[], &[]).unwrap_err().code,
            Code::Validation
        );
        assert!(check_content("a\r\nBcc: x", "b").is_err());
        assert!(check_content("", "b").is_err());
        assert!(check_content("s", "  ").is_err());
        assert!(check_content("s", &"x".repeat(MAX_BODY + 1)).is_err());
        assert!(check_content("s", "a\u{7}b").is_err());
        assert!(check_content("s", "line\r\nline\ttab").is_ok());
    }
}
