//! `POST /api/v1/notifications` as a rule (R12.1, R2.5, R7.3, R10.1,
//! R10.2): who may send, who receives, and one outbox entry per address,
//! queued in the same transaction as its activity entry.
//!
//! Decided here, where the rules and the API reference are silent:
//!
//! - Managers, User Administrators and Unit Managers send notifications
//!   (the roles that manage users), each to the users it may see (R10.1; a
//!   hidden or unknown user in `to_users` is `not_found` alike, and nothing
//!   is sent).
//! - They may name any distribution group they may see
//!   (`groups::list_distribution_groups`: those who manage groups see all of
//!   them); another id is `not_found`. A group reaches its members the
//!   sender may see and all its plain addresses; members hidden from the
//!   sender are left out without a word (R10.1 hides them from every list
//!   and count), so a group is no way around `to_users`' scope.
//! - Deactivated users receive nothing and are reported as skipped; so is a
//!   plain address that is the address of a deactivated user only (R7.3:
//!   deactivating a Contact stops its notifications however it was named).
//!   Contacts do receive (their only privilege, R2.5).
//! - One email per address (case-insensitively), whether it comes through
//!   `to_users`, several groups, or a group's plain addresses; a user wins
//!   over a plain address, so the email greets and follows the user.
//! - Each notification has a kind (`vulnerabilities` when the sender names
//!   none); a user who opted out of it is skipped with the reason
//!   (`domain::notification_options`), and a group's plain copy of that
//!   user's address is not sent either.
//! - A plain address has no unit, so its email names the subscription's
//!   Email Contact (R10.2), as an Unassigned user's does
//!   (`templates::address_contact`).

use std::collections::{BTreeSet, HashSet};

use crate::domain::LogAction;
use crate::domain::access::Acting;
use crate::domain::notice::{MailTo, Notice, NoticeKind};
use crate::domain::{Code, Feature, Id, NotificationKind, Refusal, Role, Tx, User, UserStatus};
use crate::domain::{groups, notification_options};

/// Users named in one request, at most.
pub const MAX_RECIPIENTS: usize = 1000;
/// Distribution groups named in one request, at most.
pub const MAX_GROUPS: usize = 100;
/// Emails one request may queue, at most (one group holds up to 20000).
pub const MAX_QUEUED: usize = 20_000;
/// Bytes of subject and body one request may put in the outbox, counting
/// each copy: every entry carries its own.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;
/// Longest subject, in characters.
pub const MAX_SUBJECT: usize = 200;
/// Longest body, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationRequest {
    /// Users who opted out of this kind get nothing (R12.1).
    pub kind: NotificationKind,
    pub to_users: Vec<Id>,
    pub to_distribution_groups: Vec<Id>,
    pub subject: String,
    pub body: String,
}

/// What was queued, and who was left out and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotificationOutcome {
    /// Users with an email queued.
    pub queued: Vec<Id>,
    /// Plain addresses of distribution groups with an email queued.
    pub queued_addresses: Vec<String>,
    pub skipped: Vec<Skipped>,
}

/// A recipient left out: a user, or a plain address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub user: Option<Id>,
    pub address: Option<String>,
    pub reason: String,
}

/// Where one email goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<'s> {
    User(&'s User),
    Address(String),
}

/// The recipients of a request: one target per address, and who was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved<'s> {
    pub targets: Vec<Target<'s>>,
    pub skipped: Vec<Skipped>,
}

fn invalid(detail: impl Into<String>) -> Refusal {
    Refusal::new(Code::Validation, detail)
}

/// Who may send at all: Managers, User Administrators, Unit Managers, and
/// KnowledgeBase Only users while the subscription has that role's feature
/// (the seed: they "can send and receive vulnerability notifications").
pub fn may_send(acting: &Acting<'_>) -> bool {
    acting.is_manager()
        || acting.is_user_admin()
        || acting.is_unit_manager()
        || (acting.role() == Role::KbOnly
            && acting.subscription.features.contains(&Feature::KbOnlyRole))
}

const DEACTIVATED: &str = "deactivated users receive no email";
const SAME_ADDRESS: &str = "its address already gets this email";

/// Resolves users and distribution groups to one target per address, users
/// first (in the order given, then the groups' members), then the groups'
/// plain addresses. Refuses the whole request if any user or group is
/// unknown or hidden from the sender.
pub fn resolve_recipients<'s>(
    acting: &Acting<'s>,
    kind: NotificationKind,
    to_users: &[Id],
    to_distribution_groups: &[Id],
) -> Result<Resolved<'s>, Refusal> {
    if to_users.is_empty() && to_distribution_groups.is_empty() {
        return Err(invalid(
            "to_users, to_distribution_groups: name at least one recipient",
        ));
    }
    if to_users.len() > MAX_RECIPIENTS {
        return Err(invalid(format!(
            "to_users: at most {MAX_RECIPIENTS} recipients per request"
        )));
    }
    if to_distribution_groups.len() > MAX_GROUPS {
        return Err(invalid(format!(
            "to_distribution_groups: at most {MAX_GROUPS} groups per request"
        )));
    }
    let mut users: Vec<&'s User> = Vec::new();
    let mut seen_users = HashSet::new();
    for id in to_users {
        let user = acting.visible_user(id)?;
        if seen_users.insert(user.id.as_str()) {
            users.push(user);
        }
    }
    let state = acting.state;
    let mut plain: Vec<String> = Vec::new();
    if !to_distribution_groups.is_empty() {
        let visible: HashSet<&str> = groups::list_distribution_groups(acting)?
            .into_iter()
            .map(|g| g.id.as_str())
            .collect();
        let mut seen_groups = HashSet::new();
        for gid in to_distribution_groups {
            if !visible.contains(gid.as_str()) {
                return Err(Refusal::new(
                    Code::NotFound,
                    format!("no distribution group {gid}"),
                ));
            }
            if !seen_groups.insert(gid.as_str()) {
                continue;
            }
            let g = &state.distribution_groups[gid];
            // Deactivated members the sender may see are reported, as in `to_users`.
            for m in &g.members {
                if let Some(u) = state.users.get(m)
                    && u.status == UserStatus::Deactivated
                    && acting.may_see_user(u)
                    && seen_users.insert(u.id.as_str())
                {
                    users.push(u);
                }
            }
            let reached = groups::recipients_reached(state, gid, |u| acting.may_see_user(u))?;
            for r in reached {
                match r.user.as_deref().and_then(|id| state.users.get(id)) {
                    Some(u) => {
                        if seen_users.insert(u.id.as_str()) {
                            users.push(u);
                        }
                    }
                    None => plain.push(r.email),
                }
            }
        }
    }

    let mut addresses = BTreeSet::new();
    let mut targets = Vec::new();
    let mut skipped = Vec::new();
    for u in users {
        let reason = if u.status == UserStatus::Deactivated {
            Some(DEACTIVATED.to_owned())
        } else if !addresses.insert(u.email.to_lowercase()) {
            Some(SAME_ADDRESS.to_owned())
        } else if !notification_options::wants(u, kind) {
            // Its address stays taken: a group's plain copy of it is no
            // way around the user's choice.
            Some(format!("opted out of {} notifications", kind.as_str()))
        } else {
            None
        };
        match reason {
            Some(r) => skipped.push(Skipped {
                user: Some(u.id.clone()),
                address: None,
                reason: r,
            }),
            None => targets.push(Target::User(u)),
        }
    }
    for a in plain {
        if !addresses.insert(a.to_lowercase()) {
            // Already reached as a user or through an earlier group: not worth a word.
            continue;
        }
        if super::templates::address_withdrawn(state, &a) {
            skipped.push(Skipped {
                user: None,
                address: Some(a),
                reason: "the address belongs to a deactivated user".into(),
            });
        } else {
            targets.push(Target::Address(a));
        }
    }
    Ok(Resolved { targets, skipped })
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

/// "a, b, c and 4 more": at most 20 names in an activity entry.
fn shown(names: &[String]) -> String {
    let mut out = names
        .iter()
        .take(20)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 20 {
        out.push_str(&format!(" and {} more", names.len() - 20));
    }
    out
}

/// Queues one notification per address reached. Action `notification.send`.
pub fn send_notification(
    tx: &mut Tx<'_>,
    req: NotificationRequest,
) -> Result<NotificationOutcome, Refusal> {
    let subject = req.subject.trim().to_owned();
    let (to, outcome, logins, group_names) = {
        let acting = Acting::from_tx(tx)?;
        if !may_send(&acting) {
            return Err(Refusal::new(
                Code::Forbidden,
                "only Managers, Unit Managers, User Administrators and KnowledgeBase Only users send notifications",
            ));
        }
        check_content(&req.subject, &req.body)?;
        let resolved = resolve_recipients(
            &acting,
            req.kind,
            &req.to_users,
            &req.to_distribution_groups,
        )?;
        let n = resolved.targets.len();
        if n == 0 {
            return Err(invalid(
                "to_users, to_distribution_groups: no one is left to send to \
                 (deactivated users receive nothing); nothing was sent",
            ));
        }
        if n > MAX_QUEUED {
            return Err(invalid(format!(
                "to_distribution_groups: {n} recipients; at most {MAX_QUEUED} per request, so split it"
            )));
        }
        let size = subject.len() + req.body.len();
        if n.saturating_mul(size) > MAX_QUEUED_BYTES {
            return Err(invalid(format!(
                "body: {n} copies of {size} bytes exceed {} MiB; send a shorter body or to fewer recipients",
                MAX_QUEUED_BYTES >> 20
            )));
        }
        let mut to = Vec::with_capacity(n);
        let mut outcome = NotificationOutcome {
            queued: Vec::new(),
            queued_addresses: Vec::new(),
            skipped: resolved.skipped,
        };
        let mut logins = Vec::new();
        for t in resolved.targets {
            match t {
                Target::User(u) => {
                    outcome.queued.push(u.id.clone());
                    logins.push(u.login.clone());
                    to.push(MailTo::User(u.id.clone()));
                }
                Target::Address(a) => {
                    outcome.queued_addresses.push(a.clone());
                    to.push(MailTo::Address(a));
                }
            }
        }
        let mut group_names = Vec::new();
        let mut seen = HashSet::new();
        for gid in &req.to_distribution_groups {
            if seen.insert(gid)
                && let Some(g) = acting.state.distribution_groups.get(gid)
            {
                group_names.push(g.name.clone());
            }
        }
        (to, outcome, logins, group_names)
    };
    for recipient in to {
        tx.queue_notice(Notice {
            kind: NoticeKind::Notification {
                subject: subject.clone(),
                body: req.body.clone(),
            },
            to: recipient,
            link_token: None,
        });
    }
    let shown_subject: String = subject.chars().take(80).collect();
    let mut to_whom = Vec::new();
    if !logins.is_empty() {
        to_whom.push(format!("{} users ({})", logins.len(), shown(&logins)));
    }
    if !outcome.queued_addresses.is_empty() {
        to_whom.push(format!(
            "{} addresses ({})",
            outcome.queued_addresses.len(),
            shown(&outcome.queued_addresses)
        ));
    }
    let mut details = format!("to {}", to_whom.join(" and "));
    if !group_names.is_empty() {
        details.push_str(&format!("; distribution groups: {}", shown(&group_names)));
    }
    details.push_str(&format!(
        "; kind {}; {} skipped",
        req.kind.as_str(),
        outcome.skipped.len()
    ));
    tx.log(
        LogAction::NotificationSend,
        format!("notification {shown_subject:?}"),
        details,
    );
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::testkit::World;
    use crate::domain::{Actor, State, Timestamp};

    /// Manager `m1` (from bootstrap), Unit Manager `um` and Scanner `sc` of
    /// unit `b1`, Reader `r2` of unit `b2`, Contact `c1` of `b1`.
    fn world() -> State {
        let mut w = World::new();
        for b in ["b1", "b2"] {
            w.unit_with_id(b, b);
        }
        for (id, role, unit) in [
            ("um", Role::UnitManager, "b1"),
            ("sc", Role::Scanner, "b1"),
            ("r2", Role::Reader, "b2"),
            ("c1", Role::Contact, "b1"),
        ] {
            w.user_with_id(id, id, role, Some(&unit.to_owned()));
        }
        w.state
    }

    fn group(s: &mut State, id: &str, members: &[&str], emails: &[&str]) {
        s.distribution_groups.insert(
            id.into(),
            crate::domain::DistributionGroup {
                id: id.into(),
                name: format!("group {id}"),
                members: members.iter().map(|m| m.to_string()).collect(),
                emails: emails.iter().map(|e| e.to_string()).collect(),
                created_by: "m1".into(),
                created_at: Timestamp::default(),
            },
        );
    }

    fn send_to(
        s: &mut State,
        by: &str,
        to: &[&str],
        groups: &[&str],
    ) -> (Result<NotificationOutcome, Refusal>, Vec<Notice>, usize) {
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
                kind: NotificationKind::ScanComplete,
                to_users: to.iter().map(|t| t.to_string()).collect(),
                to_distribution_groups: groups.iter().map(|t| t.to_string()).collect(),
                subject: "Scan finished".into(),
                body: "3 new hosts".into(),
            },
        );
        let (_, log, notices) = tx.finish_all();
        (r, notices, log.len())
    }

    fn send(
        s: &mut State,
        by: &str,
        to: &[&str],
    ) -> (Result<NotificationOutcome, Refusal>, Vec<Notice>) {
        let (r, n, _) = send_to(s, by, to, &[]);
        (r, n)
    }

    fn recipients(notices: &[Notice]) -> Vec<String> {
        notices
            .iter()
            .map(|n| match &n.to {
                MailTo::User(u) => format!("user {u}"),
                MailTo::Address(a) => a.clone(),
            })
            .collect()
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
        assert_eq!(out.skipped[0].user.as_deref(), Some("c1"));
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
    fn r12_1_kb_only_users_send_to_whom_they_see_while_their_feature_is_on() {
        let mut s = world();
        let base = s.users["sc"].clone();
        s.users.insert(
            "kb".into(),
            User {
                id: "kb".into(),
                login: "kb".into(),
                email: "kb@example.com".into(),
                role: Role::KbOnly,
                ..base
            },
        );
        s.logins.insert("kb".into(), "kb".into());
        let (r, _) = send(&mut s, "kb", &["kb"]);
        assert_eq!(r.unwrap_err().code, Code::Forbidden, "feature off");
        if let Some(sub) = s.subscription.as_mut() {
            sub.features.insert(Feature::KbOnlyRole);
        }
        let (r, n) = send(&mut s, "kb", &["kb"]);
        assert!(r.is_ok(), "{r:?}");
        assert_eq!(recipients(&n), ["user kb"]);
        // No further than its sight (R10.1): it lists no other users.
        let (r, n) = send(&mut s, "kb", &["sc"]);
        assert_eq!(r.unwrap_err().code, Code::NotFound);
        assert!(n.is_empty());
    }

    #[test]
    fn r12_1_groups_reach_members_and_plain_addresses_once_each() {
        let mut s = world();
        // `sc` is named directly, through both groups, and by its address.
        group(
            &mut s,
            "g1",
            &["sc", "c1"],
            &["ext@example.net", "SC@example.com"],
        );
        group(
            &mut s,
            "g2",
            &["sc", "r2"],
            &["Ext@Example.net", "other@example.net"],
        );
        let (r, notices, entries) = send_to(&mut s, "m1", &["sc"], &["g1", "g2", "g1"]);
        let out = r.unwrap();
        assert_eq!(
            out.queued,
            vec!["sc", "c1", "r2"],
            "Contacts receive (R2.5)"
        );
        assert_eq!(
            out.queued_addresses,
            vec!["ext@example.net", "other@example.net"]
        );
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        assert_eq!(
            recipients(&notices),
            [
                "user sc",
                "user c1",
                "user r2",
                "ext@example.net",
                "other@example.net"
            ]
        );
        assert_eq!(entries, 1, "one activity entry, in the same transaction");
    }

    #[test]
    fn r12_1_two_users_sharing_an_address_get_one_email() {
        let mut s = world();
        if let Some(u) = s.users.get_mut("r2") {
            u.email = "SC@Example.com".into();
        }
        let (r, notices) = send(&mut s, "m1", &["sc", "r2"]);
        let out = r.unwrap();
        assert_eq!(recipients(&notices), ["user sc"]);
        assert_eq!(out.skipped.len(), 1);
        assert_eq!(out.skipped[0].user.as_deref(), Some("r2"));
        assert_eq!(out.skipped[0].reason, SAME_ADDRESS);
    }

    #[test]
    fn r7_3_deactivated_members_and_their_addresses_get_nothing() {
        let mut s = world();
        // Contact c1 is deactivated: named as a member and by its address.
        if let Some(u) = s.users.get_mut("c1") {
            u.status = UserStatus::Deactivated;
        }
        group(
            &mut s,
            "g1",
            &["c1", "sc"],
            &["c1@example.com", "ext@example.net"],
        );
        let (r, notices, _) = send_to(&mut s, "um", &[], &["g1"]);
        let out = r.unwrap();
        assert_eq!(recipients(&notices), ["user sc", "ext@example.net"]);
        let skipped: Vec<(Option<&str>, Option<&str>)> = out
            .skipped
            .iter()
            .map(|k| (k.user.as_deref(), k.address.as_deref()))
            .collect();
        assert_eq!(
            skipped,
            [(Some("c1"), None), (None, Some("c1@example.com"))]
        );
        // A group with no one left sends nothing and says so.
        group(&mut s, "g2", &["c1"], &[]);
        let (r, notices, entries) = send_to(&mut s, "m1", &[], &["g2"]);
        assert_eq!(r.unwrap_err().code, Code::Validation);
        assert!(notices.is_empty());
        assert_eq!(entries, 0);
    }

    /// R12.1: a user who opted out of the kind (here `scan_complete`) gets
    /// nothing, whether named, reached through a group, or by its address
    /// among a group's plain addresses; other kinds still reach it.
    #[test]
    fn r12_1_opted_out_users_are_skipped_however_they_are_named() {
        let mut s = world();
        if let Some(u) = s.users.get_mut("c1") {
            u.notification_opt_outs
                .insert(NotificationKind::ScanComplete);
        }
        group(&mut s, "g1", &["c1", "sc"], &["c1@example.com"]);
        let (r, notices, _) = send_to(&mut s, "m1", &["c1"], &["g1"]);
        let out = r.unwrap();
        assert_eq!(recipients(&notices), ["user sc"]);
        assert_eq!(out.skipped.len(), 1, "{:?}", out.skipped);
        assert_eq!(out.skipped[0].user.as_deref(), Some("c1"));
        assert_eq!(
            out.skipped[0].reason,
            "opted out of scan_complete notifications"
        );
        let acting = Acting::of(&s, "m1").unwrap();
        let other = resolve_recipients(
            &acting,
            NotificationKind::Vulnerabilities,
            &["c1".into()],
            &[],
        )
        .unwrap();
        assert_eq!(other.targets.len(), 1, "another kind still reaches it");
    }

    #[test]
    fn r10_1_a_group_reaches_only_members_the_sender_may_see() {
        let mut s = world();
        s.settings.visibility.restrict_user_info_outside_unit = true;
        s.settings.visibility.hide_users_outside_unit = true;
        // r2 is in another unit, hidden from `um`; its address is also listed.
        group(&mut s, "g1", &["sc", "r2"], &["x@example.net"]);
        let (r, notices, _) = send_to(&mut s, "um", &[], &["g1"]);
        let out = r.unwrap();
        assert_eq!(recipients(&notices), ["user sc", "x@example.net"]);
        assert!(out.skipped.is_empty(), "hidden users are not even counted");
        // A Manager sees everyone: the same group reaches r2 as well.
        let (_, notices, _) = send_to(&mut s, "m1", &[], &["g1"]);
        assert_eq!(
            recipients(&notices),
            ["user sc", "user r2", "x@example.net"]
        );
    }

    #[test]
    fn r12_1_an_unknown_group_refuses_the_whole_request() {
        let mut s = world();
        group(&mut s, "g1", &["sc"], &[]);
        let (r, notices, entries) = send_to(&mut s, "m1", &["r2"], &["g1", "nope"]);
        let e = r.unwrap_err();
        assert_eq!(e.code, Code::NotFound);
        assert!(e.message.contains("nope"), "{}", e.message);
        assert!(notices.is_empty());
        assert_eq!(entries, 0);
        // Scanners may not send, with or without groups.
        let (r, _, _) = send_to(&mut s, "sc", &[], &["g1"]);
        assert_eq!(r.unwrap_err().code, Code::Forbidden);
    }

    #[test]
    fn r13_bad_content_and_oversized_requests_are_refused() {
        let mut s = world();
        let acting = Acting::of(&s, "m1").unwrap();
        assert_eq!(
            resolve_recipients(&acting, NotificationKind::default(), &[], &[])
                .unwrap_err()
                .code,
            Code::Validation
        );
        let many: Vec<Id> = (0..=MAX_GROUPS).map(|i| format!("g{i}")).collect();
        assert_eq!(
            resolve_recipients(&acting, NotificationKind::default(), &[], &many)
                .unwrap_err()
                .code,
            Code::Validation
        );
        assert!(check_content("a\r\nBcc: x", "b").is_err());
        assert!(check_content("", "b").is_err());
        assert!(check_content("s", "  ").is_err());
        assert!(check_content("s", &"x".repeat(MAX_BODY + 1)).is_err());
        assert!(check_content("s", "a\u{7}b").is_err());
        assert!(check_content("s", "line\r\nline\ttab").is_ok());
        // Every entry carries its own copy of the body: the total is bounded.
        let emails: Vec<String> = (0..2000).map(|i| format!("a{i}@example.net")).collect();
        let refs: Vec<&str> = emails.iter().map(String::as_str).collect();
        group(&mut s, "big", &[], &refs);
        let actor = Actor {
            user: Some("m1".into()),
            login: "m1".into(),
            business_unit: None,
            ip: None,
        };
        let mut tx = Tx::new(&mut s, Timestamp::from_unix_micros(1), actor);
        let e = send_notification(
            &mut tx,
            NotificationRequest {
                to_distribution_groups: vec!["big".into()],
                subject: "s".into(),
                body: "x".repeat(MAX_BODY),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.code, Code::Validation);
        assert!(e.message.contains("MiB"), "{}", e.message);
    }
}
