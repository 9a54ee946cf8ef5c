//! Notification Options (R12.1, R10.2; the seed's "Notification Options"):
//! which kinds of notification a user wants. Every kind is wanted until the
//! user, or a Manager for it, opts out. Only notifications sent on a user's
//! behalf by other services are held back; registration, credential, lock
//! and account-change emails go "regardless of the notification setting".
//!
//! Decided here, where the rules are silent: a user sets its own options
//! (Contacts cannot sign in, so a Manager sets theirs); Managers set anyone's
//! they may see; nobody else sets another user's.

use std::collections::BTreeSet;

use super::access::Acting;
use super::{Code, NotificationKind, Refusal, Tx, User};
use crate::LogAction;

/// One kind and whether the user wants it, in [`NotificationKind::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NotificationOption {
    /// The kind of notification.
    pub kind: NotificationKind,
    /// `false` once the user, or a Manager for it, opted out (R12.1).
    pub wanted: bool,
}

/// Whether `user` wants notifications of `kind`.
pub fn wants(user: &User, kind: NotificationKind) -> bool {
    !user.notification_opt_outs.contains(&kind)
}

/// Every kind, with whether `user` wants it.
pub fn options_of(user: &User) -> Vec<NotificationOption> {
    NotificationKind::ALL
        .into_iter()
        .map(|kind| NotificationOption {
            kind,
            wanted: wants(user, kind),
        })
        .collect()
}

/// The user whose options `acting` may read or set: itself, or as a
/// Manager any user it may see.
fn subject<'s>(acting: &Acting<'s>, id: &str) -> Result<&'s User, Refusal> {
    let user = acting.visible_user(id)?;
    if user.id != *acting.id() && !acting.is_manager() {
        return Err(Refusal::new(
            Code::Forbidden,
            "only a Manager sets another user's notification options",
        ));
    }
    Ok(user)
}

/// `GET /me/notification-options`, `GET /users/{id}/notification-options`.
pub fn get_options(acting: &Acting<'_>, id: &str) -> Result<Vec<NotificationOption>, Refusal> {
    subject(acting, id).map(options_of)
}

/// `PUT`: the kinds in `opt_outs` are not wanted, every other kind is.
/// Action `user.notification_options`.
pub fn set_options(
    tx: &mut Tx<'_>,
    id: &str,
    opt_outs: BTreeSet<NotificationKind>,
) -> Result<Vec<NotificationOption>, Refusal> {
    let mut user = {
        let acting = Acting::from_tx(tx)?;
        subject(&acting, id)?.clone()
    };
    if user.notification_opt_outs == opt_outs {
        return Ok(options_of(&user));
    }
    user.notification_opt_outs = opt_outs;
    let details = if user.notification_opt_outs.is_empty() {
        "wants every kind".to_owned()
    } else {
        let kinds: Vec<&str> = user
            .notification_opt_outs
            .iter()
            .map(|k| k.as_str())
            .collect();
        format!("opted out of {}", kinds.join(", "))
    };
    tx.put_user(user.clone());
    tx.log(
        LogAction::UserNotificationOptions,
        super::users::target(&user),
        details,
    );
    Ok(options_of(&user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use crate::testkit::World;

    fn kinds(k: &[NotificationKind]) -> BTreeSet<NotificationKind> {
        k.iter().copied().collect()
    }

    /// R12.1: every kind is wanted until opted out; the change is logged
    /// and reads back.
    #[test]
    fn r12_1_a_user_opts_out_of_a_kind_and_back_in() {
        let mut w = World::new();
        let r = w.user("r", Role::Reader, None);
        assert!(options_of(&w.state.users[&r]).iter().all(|o| o.wanted));
        let (out, log) = w.run_logged(&r, |tx| {
            set_options(tx, &r, kinds(&[NotificationKind::ScanSummary]))
        });
        let off: Vec<_> = out
            .unwrap()
            .iter()
            .filter(|o| !o.wanted)
            .map(|o| o.kind)
            .collect();
        assert_eq!(off, [NotificationKind::ScanSummary]);
        assert_eq!(log[0].action, "user.notification_options");
        assert_eq!(log[0].details, "opted out of scan_summary");
        assert!(!wants(&w.state.users[&r], NotificationKind::ScanSummary));
        assert!(wants(&w.state.users[&r], NotificationKind::Vulnerabilities));
        w.run(&r, |tx| set_options(tx, &r, BTreeSet::new()))
            .unwrap();
        assert!(options_of(&w.state.users[&r]).iter().all(|o| o.wanted));
    }

    /// Managers set anyone's they may see (Contacts cannot sign in to set
    /// their own); a Unit Manager or Reader sets no one else's.
    #[test]
    fn r12_1_only_managers_set_another_users_options() {
        let mut w = World::new();
        let unit = w.unit("North");
        let m = w.user("m", Role::Manager, None);
        let um = w.user("um", Role::UnitManager, Some(&unit));
        let c = w.user("c", Role::Contact, Some(&unit));
        let r = w.user("r", Role::Reader, Some(&unit));
        let all = kinds(&NotificationKind::ALL);
        for who in [&um, &r] {
            let err = w
                .run(who, |tx| set_options(tx, &c, all.clone()))
                .unwrap_err();
            assert_eq!(err.code, Code::Forbidden, "{who}");
        }
        assert!(w.state.users[&c].notification_opt_outs.is_empty());
        w.run(&m, |tx| set_options(tx, &c, all.clone())).unwrap();
        assert_eq!(w.state.users[&c].notification_opt_outs, all);
        // Reading follows the same rule.
        let acting = w.acting(&r);
        assert_eq!(get_options(&acting, &c).unwrap_err().code, Code::Forbidden);
        assert!(get_options(&acting, &r).is_ok());
    }
}
