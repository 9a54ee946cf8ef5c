//! Deactivate and reactivate a user (R7.3).
//!
//! The one thing to know: deactivation ends the user's sessions in the same
//! transaction, so no request authenticated by them runs after the change is
//! acknowledged; the user's objects stay (its schedules are refused at their
//! next launch, R9.3).
//!
//! Decisions: only Managers do either. Primary contacts (R4.4) and the last
//! active Manager (R2.6) are not deactivated. Reactivation clears a lockout
//! and the failed-attempt count (R8.2), and of an active but locked user it
//! does only that (the seed re-activates users "locked out"); `unlock` does
//! the same for anyone allowed to reset the password (R7.2); a user that never set a password
//! goes back to `pending_activation`, everyone else (Contacts included) to
//! `active`. Asking for the status a user already has is a `conflict`, so a
//! retried request tells the caller it already happened.

use super::Id;
use super::access::{Acting, name_of};
use super::contacts::protect_primary_contact;
use super::roles::protect_last_manager;
use super::users::target;
use super::{Code, Refusal, Role, Tx, User, UserStatus};
use crate::LogAction;

/// One thing a move (R7.4) or delete (R7.5) did, for its response and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `asset_group`, `distribution_group`, or an object kind (R9.1).
    pub kind: &'static str,
    /// The thing's id.
    pub id: Id,
    /// Its title or name, as people know it.
    pub name: String,
    /// What the workflow did to it.
    pub fate: Fate,
    /// The new owner, or the id of the copy.
    pub to: Option<Id>,
}

/// What happened to an object in a lifecycle workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fate {
    /// Went to the new unit with the user.
    Moved,
    /// Stays where it was and is linked to the new unit too.
    Linked,
    /// Copied into the new unit; `to` is the copy.
    Copied,
    /// Unchanged, still the user's.
    Kept,
    /// No longer assigned to the user.
    Unassigned,
    /// Deleted with the user (R7.5: results not kept, configurations not
    /// transferred).
    Deleted,
    /// Given to the user named in the request.
    Transferred,
    /// Given to a primary contact.
    Reassigned,
    /// Kept without owner (authentication records, R7.5).
    OwnerCleared,
    /// A policy's assignee fell back to `user_running_scan`.
    AssigneeReset,
    /// A ticket the user can no longer act on.
    Invalidated,
    /// A ticket the user can act on again.
    Revalidated,
    /// Taken off a distribution group's members.
    MemberRemoved,
    /// Went to the new unit with the user, but targets assets the user no
    /// longer reaches: someone must give it a new target before it runs.
    NeedsNewTarget,
}

impl Fate {
    /// The fate's name in the response and in the activity log's details
    /// (e.g. `needs_new_target`, R7.4).
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Moved => "moved",
            Fate::Linked => "linked",
            Fate::Copied => "copied",
            Fate::Kept => "kept",
            Fate::Unassigned => "unassigned",
            Fate::Deleted => "deleted",
            Fate::Transferred => "transferred",
            Fate::Reassigned => "reassigned",
            Fate::OwnerCleared => "owner_cleared",
            Fate::AssigneeReset => "assignee_reset",
            Fate::Invalidated => "invalidated",
            Fate::Revalidated => "revalidated",
            Fate::MemberRemoved => "member_removed",
            Fate::NeedsNewTarget => "needs_new_target",
        }
    }
}

fn managers_only(acting: &Acting<'_>, what: &str) -> Result<(), Refusal> {
    acting.require_manager(|| format!("only Managers {what} users; ask a Manager"))
}

/// `POST /api/v1/users/{id}/deactivate`. Action `user.deactivate`.
pub fn deactivate(tx: &mut Tx<'_>, id: &str) -> Result<User, Refusal> {
    let mut user = {
        let acting = Acting::from_tx(tx)?;
        let user = acting.visible_user(id)?;
        managers_only(&acting, "deactivate")?;
        if user.status == UserStatus::Deactivated {
            return Err(Refusal::new(
                Code::Conflict,
                format!("{} is already deactivated", name_of(user)),
            ));
        }
        protect_primary_contact(acting.state, id)?;
        protect_last_manager(acting.state, id)?;
        user.clone()
    };
    user.status = UserStatus::Deactivated;
    tx.put_user(user.clone());
    let ended = tx.end_sessions_of(&user.id, None);
    tx.log(
        LogAction::UserDeactivate,
        target(&user),
        format!("{ended} sessions ended"),
    );
    Ok(user)
}

/// `POST /api/v1/users/{id}/unlock` (R8.2): whoever may reset the user's
/// password (R7.2: Managers, the unit's Unit Managers) clears its locks and
/// failed-attempt counts. Action `user.unlock`. The status is untouched, so
/// a deactivated user stays deactivated.
pub fn unlock(tx: &mut Tx<'_>, id: &str) -> Result<User, Refusal> {
    let (user, mut creds) = {
        let acting = Acting::from_tx(tx)?;
        let user = acting.visible_user(id)?;
        if !super::credentials::may_reset(acting.state, acting.user, user) {
            return Err(Refusal::new(
                Code::Forbidden,
                "only Managers and the user's Unit Managers unlock users; ask a Manager",
            ));
        }
        let creds = acting.state.credentials.get(&user.id).cloned();
        if !creds.as_ref().is_some_and(super::credentials::is_locked) {
            return Err(Refusal::new(
                Code::Conflict,
                format!("{} is not locked", name_of(user)),
            ));
        }
        (user.clone(), creds.unwrap_or_default())
    };
    super::credentials::clear_locks(&mut creds);
    tx.put_credentials(&user.id, creds);
    tx.log(
        LogAction::UserUnlock,
        target(&user),
        "locks and failed attempts cleared",
    );
    Ok(user)
}

/// `POST /api/v1/users/{id}/reactivate`. Action `user.reactivate`.
pub fn reactivate(tx: &mut Tx<'_>, id: &str) -> Result<User, Refusal> {
    let (mut user, creds) = {
        let acting = Acting::from_tx(tx)?;
        let user = acting.visible_user(id)?;
        managers_only(&acting, "reactivate")?;
        let creds = acting.state.credentials.get(&user.id).cloned();
        if user.status != UserStatus::Deactivated {
            // The seed's "re-activate if the user is locked out": for an
            // active user, reactivation is the Manager's unlock.
            if !creds.as_ref().is_some_and(super::credentials::is_locked) {
                return Err(Refusal::new(
                    Code::Conflict,
                    format!("{} is neither deactivated nor locked", name_of(user)),
                ));
            }
            let user = user.clone();
            let mut c = creds.unwrap_or_default();
            super::credentials::clear_locks(&mut c);
            tx.put_credentials(&user.id, c);
            tx.log(LogAction::UserReactivate, target(&user), "lock cleared");
            return Ok(user);
        }
        (user.clone(), creds)
    };
    let has_password = creds.as_ref().is_some_and(|c| c.password_hash.is_some());
    user.status = if user.role == Role::Contact || has_password {
        UserStatus::Active
    } else {
        UserStatus::PendingActivation
    };
    let mut details = format!("status {}", user.status.as_str());
    if let Some(mut c) = creds {
        let was_locked = c.locked || c.locked_unfamiliar || c.answers_locked;
        if super::credentials::clear_locks(&mut c) {
            details.push_str(if was_locked {
                "; lock cleared"
            } else {
                "; failed attempts cleared"
            });
            tx.put_credentials(&user.id, c);
        }
    }
    tx.put_user(user.clone());
    tx.log(LogAction::UserReactivate, target(&user), details);
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::World;
    use crate::{Credentials, Session, Timestamp};

    fn session_of(w: &mut World, user: &str) {
        let s = Session {
            token_hash: format!("h-{user}"),
            id: format!("s-{user}"),
            user: user.to_owned(),
            created_at: Timestamp::from_unix_micros(0),
            last_used_at: Timestamp::from_unix_micros(0),
            expires_at: Timestamp::from_unix_micros(i64::MAX / 2),
            ip: None,
            user_agent: String::new(),
        };
        w.state.sessions.insert(s.token_hash.clone(), s);
    }

    #[test]
    fn r7_3_deactivation_ends_sessions_and_keeps_the_user() {
        let mut w = World::new();
        let s = w.user("sam", Role::Scanner, None);
        session_of(&mut w, &s);
        let u = w.run("m1", |tx| deactivate(tx, &s)).unwrap();
        assert_eq!(u.status, UserStatus::Deactivated);
        assert!(w.state.sessions.values().all(|x| x.user != s));
        assert!(w.state.users.contains_key(&s));
        // Twice is a conflict, and changes nothing.
        let again = w.run("m1", |tx| deactivate(tx, &s)).unwrap_err();
        assert_eq!(again.code, Code::Conflict);
    }

    #[test]
    fn r7_3_only_managers_deactivate_and_reactivate() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let um = w.user("jane", Role::UnitManager, Some(&eu));
        let ua = w.user("uma", Role::UserAdministrator, None);
        let s = w.user("sam", Role::Scanner, Some(&eu));
        for actor in [&um, &ua] {
            let r = w.run(actor, |tx| deactivate(tx, &s)).unwrap_err();
            assert_eq!(r.code, Code::Forbidden, "{actor}");
        }
        w.run("m1", |tx| deactivate(tx, &s)).unwrap();
        let r = w.run(&um, |tx| reactivate(tx, &s)).unwrap_err();
        assert_eq!(r.code, Code::Forbidden);
    }

    #[test]
    fn r7_3_r4_4_r2_6_primary_contacts_and_the_last_manager_stay_active() {
        let mut w = World::new();
        // m1 is the subscription's primary contact and the only Manager.
        let r = w.run("m1", |tx| deactivate(tx, "m1")).unwrap_err();
        assert_eq!(r.code, Code::PrimaryContact);
        let m2 = w.user("m2", Role::Manager, None);
        let r = w.run(&m2, |tx| deactivate(tx, "m1")).unwrap_err();
        assert_eq!(r.code, Code::PrimaryContact);
        // m2 is not a primary contact: m1 may deactivate it while m1 remains.
        w.run("m1", |tx| deactivate(tx, &m2)).unwrap();

        // A unit's primary contact.
        let eu = w.unit("EU");
        let s = w.user("sam", Role::Scanner, Some(&eu));
        w.state.units.get_mut(&eu).unwrap().primary_contact = Some(s.clone());
        let r = w.run("m1", |tx| deactivate(tx, &s)).unwrap_err();
        assert_eq!(r.code, Code::PrimaryContact);
        assert!(r.message.contains("EU"), "{}", r.message);
    }

    #[test]
    fn r2_6_the_last_active_manager_is_not_deactivated() {
        let mut w = World::new();
        let m2 = w.user("m2", Role::Manager, None);
        // Hand the subscription's primary contact to m2, then m1 is an
        // ordinary Manager and m2 the only other one.
        w.state.subscription.as_mut().unwrap().primary_contact = Some(m2.clone());
        w.run(&m2, |tx| deactivate(tx, "m1")).unwrap();
        assert_eq!(w.state.active_managers(), 1);
        // m2 is now the last one (and the primary contact): refused either way.
        let r = w.run(&m2, |tx| deactivate(tx, &m2)).unwrap_err();
        assert!(matches!(r.code, Code::PrimaryContact | Code::LastManager));
        w.state.subscription.as_mut().unwrap().primary_contact = None;
        let r = w.run(&m2, |tx| deactivate(tx, &m2)).unwrap_err();
        assert_eq!(r.code, Code::LastManager);
    }

    #[test]
    fn r7_3_r8_2_reactivation_clears_the_lock_and_restores_the_status() {
        let mut w = World::new();
        let s = w.user("sam", Role::Scanner, None);
        let p = w.user("pat", Role::Reader, None);
        w.state.credentials.insert(
            s.clone(),
            Credentials {
                password_hash: Some("$argon2id$x".into()),
                failed_attempts: 5,
                locked: true,
                ..Credentials::default()
            },
        );
        w.state
            .credentials
            .insert(p.clone(), Credentials::default());
        w.run("m1", |tx| deactivate(tx, &s)).unwrap();
        w.run("m1", |tx| deactivate(tx, &p)).unwrap();
        let u = w.run("m1", |tx| reactivate(tx, &s)).unwrap();
        assert_eq!(u.status, UserStatus::Active);
        let c = &w.state.credentials[&s];
        assert!(!c.locked);
        assert_eq!(c.failed_attempts, 0);
        // Never set a password: back to pending, to be activated.
        let u = w.run("m1", |tx| reactivate(tx, &p)).unwrap();
        assert_eq!(u.status, UserStatus::PendingActivation);
        let r = w.run("m1", |tx| reactivate(tx, &p)).unwrap_err();
        assert_eq!(r.code, Code::Conflict);
    }

    fn locked(w: &mut World, id: &str, unfamiliar: bool) {
        w.state.credentials.insert(
            id.to_owned(),
            Credentials {
                password_hash: Some("$argon2id$x".into()),
                failed_attempts: 5,
                locked: !unfamiliar,
                locked_unfamiliar: unfamiliar,
                ..Credentials::default()
            },
        );
    }

    #[test]
    fn r8_2_reactivating_an_active_locked_user_clears_only_the_lock() {
        let mut w = World::new();
        let s = w.user("sam", Role::Scanner, None);
        locked(&mut w, &s, false);
        let u = w.run("m1", |tx| reactivate(tx, &s)).unwrap();
        assert_eq!(u.status, UserStatus::Active);
        let c = &w.state.credentials[&s];
        assert!(!c.locked && c.failed_attempts == 0);
        assert_eq!(c.password_hash.as_deref(), Some("$argon2id$x"));
        // Neither deactivated nor locked now: a conflict, nothing changes.
        let r = w.run("m1", |tx| reactivate(tx, &s)).unwrap_err();
        assert_eq!(r.code, Code::Conflict);
    }

    #[test]
    fn r8_2_the_primary_contact_and_last_manager_can_be_unlocked() {
        // Deactivate-then-reactivate is refused for them (R4.4, R2.6), so
        // reactivation of the locked active user must work on its own.
        let mut w = World::new();
        let m2 = w.user("m2", Role::Manager, None);
        locked(&mut w, "m1", false);
        w.run(&m2, |tx| reactivate(tx, "m1")).unwrap();
        assert!(!w.state.credentials["m1"].locked);
        locked(&mut w, "m1", true);
        w.run(&m2, |tx| unlock(tx, "m1")).unwrap();
        assert!(!w.state.credentials["m1"].locked_unfamiliar);
    }

    #[test]
    fn r8_2_r7_2_unlock_is_for_those_who_may_reset_the_password() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let um = w.user("jane", Role::UnitManager, Some(&eu));
        let other_um = w.user("olga", Role::UnitManager, Some(&us));
        let reader = w.user("rita", Role::Reader, Some(&eu));
        let s = w.user("sam", Role::Scanner, Some(&eu));
        locked(&mut w, &s, true);
        for who in [&reader, &other_um] {
            let r = w.run(who, |tx| unlock(tx, &s)).unwrap_err();
            assert!(
                matches!(r.code, Code::Forbidden | Code::NotFound),
                "{who}: {r:?}"
            );
        }
        assert!(w.state.credentials[&s].locked_unfamiliar);
        let u = w.run(&um, |tx| unlock(tx, &s)).unwrap();
        assert_eq!(u.status, UserStatus::Active);
        assert!(!w.state.credentials[&s].locked_unfamiliar);
        let r = w.run(&um, |tx| unlock(tx, &s)).unwrap_err();
        assert_eq!(r.code, Code::Conflict);
        // A Unit Manager may not reactivate: that stays the Managers' (R7.3).
        locked(&mut w, &s, false);
        let r = w.run(&um, |tx| reactivate(tx, &s)).unwrap_err();
        assert_eq!(r.code, Code::Forbidden);
    }
}
