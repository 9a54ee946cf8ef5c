//! Who is acting, and what its role lets it see (R2, R10.1).
//!
//! The one thing to know: every command and every read starts from an
//! [`Acting`], built from the state and the signed-in user's id. It refuses
//! users who cannot act (unknown, not active, Contacts) so that no rule below
//! has to think about them.
//!
//! Visibility of users (R10.1), decided here and nowhere else:
//!
//! - Everyone sees itself, whole.
//! - Managers and User Administrators are Unassigned (R2.1; decided for UAs:
//!   they manage users of every unit) and see every user, whole.
//! - Unit Managers, Scanners and Readers may list users. By default they see
//!   every user whole. With `restrict_user_info_outside_unit`, users of any
//!   other unit (the implicit "Unassigned" unit counts as one, so a unit's
//!   members do not see Managers' details either) are shown without their
//!   contact details (email, external ID) and asset groups; login, names,
//!   role, unit, status and the primary-contact label stay. With
//!   `hide_users_outside_unit` as well, those users are not shown at all, in
//!   any list, filter, count or lookup.
//! - Auditors, Remediation users and KnowledgeBase-only users see compliance
//!   data, tickets or the knowledge base only (R2.3): they see themselves and
//!   no one else; listing users is `forbidden` for them.
//!
//! ```
//! # use bailiwick_domain::{State, access::Acting};
//! let state = State::default();
//! assert!(Acting::of(&state, "nobody").is_err());
//! ```

use super::{
    BusinessUnit, Code, Id, Permission, Refusal, Role, State, Subscription, Tx, User, UserStatus,
    permissions,
};

/// A signed-in user about to act, with the state it acts on.
#[derive(Debug, Clone, Copy)]
pub struct Acting<'s> {
    /// The acting user: known, active and not a Contact.
    pub user: &'s User,
    /// The subscription it acts in; there is one by now (R1.1).
    pub subscription: &'s Subscription,
    /// The state it acts on, which every check reads.
    pub state: &'s State,
}

/// What a viewer may see of another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// Not at all: it is not in lists and a lookup says "not found".
    Hidden,
    /// Listed, without contact details and asset groups (R10.1).
    Restricted,
    /// Everything, as the user sees itself.
    Full,
}

pub(crate) fn require_subscription(state: &State) -> Result<&Subscription, Refusal> {
    state
        .subscription
        .as_ref()
        .ok_or_else(|| Refusal::new(Code::Conflict, "no subscription yet; run `bailiwick init`"))
}

impl<'s> Acting<'s> {
    /// The user `user_id` acting on `state`. Unknown, pending and deactivated
    /// users are `unauthenticated`; Contacts cannot sign in (R2.5) and are
    /// `forbidden`.
    pub fn of(state: &'s State, user_id: &str) -> Result<Acting<'s>, Refusal> {
        let subscription = require_subscription(state)?;
        let user = state
            .users
            .get(user_id)
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(|| Refusal::new(Code::Unauthenticated, "sign in again"))?;
        if user.role == Role::Contact {
            return Err(Refusal::new(
                Code::Forbidden,
                "Contacts only receive email notifications and cannot act (R2.5)",
            ));
        }
        Ok(Acting {
            user,
            subscription,
            state,
        })
    }

    /// The user the transaction acts for (`tx.actor().user`). The appliance
    /// operator has its own commands (`bailiwick ctl`) and is `forbidden`
    /// here.
    pub fn from_tx<'t>(tx: &'t Tx<'_>) -> Result<Acting<'t>, Refusal> {
        match tx.actor().user.as_deref() {
            Some(id) => Acting::of(tx.state(), id),
            None => Err(Refusal::new(
                Code::Forbidden,
                "this needs a signed-in user; the operator acts through `bailiwick ctl`",
            )),
        }
    }

    /// The acting user's id.
    pub fn id(&self) -> &'s Id {
        &self.user.id
    }

    /// The acting user's role, which decides what it may do (R2).
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// The actor's business unit; `None` is "Unassigned".
    pub fn unit(&self) -> Option<&'s Id> {
        self.user.business_unit.as_ref()
    }

    /// Managers may do everything on the subscription (R2.1).
    pub fn is_manager(&self) -> bool {
        self.user.role == Role::Manager
    }

    /// Unit Managers manage the users, assets and groups of their own unit
    /// only (R2.2).
    pub fn is_unit_manager(&self) -> bool {
        self.user.role == Role::UnitManager
    }

    /// User Administrators manage users of every unit, not assets (R2.4).
    pub fn is_user_admin(&self) -> bool {
        self.user.role == Role::UserAdministrator
    }

    /// Refuses everyone but Managers (R2.1) as `forbidden`, with the
    /// `message` the caller words for what was tried.
    pub(crate) fn require_manager(&self, message: impl FnOnce() -> String) -> Result<(), Refusal> {
        if self.is_manager() {
            Ok(())
        } else {
            Err(Refusal::new(Code::Forbidden, message()))
        }
    }

    /// Managers and User Administrators: Unassigned, they see every user.
    pub(crate) fn sees_everyone(&self) -> bool {
        self.is_manager() || self.is_user_admin()
    }

    pub(crate) fn is_subscription_poc(&self) -> bool {
        self.subscription.primary_contact.as_ref() == Some(&self.user.id)
    }

    /// Whether the actor is the unit's own Unit Manager.
    pub(crate) fn manages_unit(&self, unit: &Id) -> bool {
        self.is_unit_manager() && self.unit() == Some(unit)
    }

    /// Managers, User Administrators and Unit Managers create and edit users
    /// (R2.1, R2.2, R2.4); nobody else does.
    pub fn may_manage_users(&self) -> bool {
        matches!(
            self.role(),
            Role::Manager | Role::UserAdministrator | Role::UnitManager
        )
    }

    pub(crate) fn has_permission(&self, p: Permission) -> bool {
        permissions::has(self.state, self.user, p)
    }

    /// R5.4: only Managers remove IPs from the subscription, whatever is granted.
    pub fn may_remove_ips(&self) -> bool {
        self.is_manager()
    }

    /// Whether the actor may list users at all (see the module doc).
    pub fn may_list_users(&self) -> bool {
        matches!(
            self.role(),
            Role::Manager
                | Role::UserAdministrator
                | Role::UnitManager
                | Role::Scanner
                | Role::Reader
        )
    }

    /// How much of `target` the actor may see (R10.1; see the module doc).
    pub fn sight_of(&self, target: &User) -> Sight {
        if target.id == self.user.id || self.sees_everyone() {
            return Sight::Full;
        }
        if !self.may_list_users() {
            return Sight::Hidden;
        }
        if target.business_unit == self.user.business_unit {
            return Sight::Full;
        }
        let v = &self.state.settings.visibility;
        match (v.restrict_user_info_outside_unit, v.hide_users_outside_unit) {
            (true, true) => Sight::Hidden,
            (true, false) => Sight::Restricted,
            // `hide` is only effective with `restrict` (R10.1).
            (false, _) => Sight::Full,
        }
    }

    /// Whether `target` shows at all, in any list, count or lookup (R10.1).
    pub fn may_see_user(&self, target: &User) -> bool {
        self.sight_of(target) != Sight::Hidden
    }

    /// Managers and User Administrators see every unit; everyone else its own.
    pub fn may_see_unit(&self, unit: &BusinessUnit) -> bool {
        self.sees_everyone() || self.unit() == Some(&unit.id)
    }

    /// The user `id` if the actor may see it; `not_found` otherwise, so that
    /// a hidden user and a missing one look the same.
    pub fn visible_user(&self, id: &str) -> Result<&'s User, Refusal> {
        self.state
            .users
            .get(id)
            .filter(|u| self.may_see_user(u))
            .ok_or_else(|| Refusal::new(Code::NotFound, format!("no user {id}")))
    }
}

/// How people are named in messages: "Jane Doe (jane)", or the login.
pub fn name_of(u: &User) -> String {
    let full = format!("{} {}", u.first_name, u.last_name);
    let full = full.trim();
    if full.is_empty() {
        u.login.clone()
    } else {
        format!("{full} ({})", u.login)
    }
}

/// A unit's name for messages; "Unassigned" for `None`.
pub fn unit_name(state: &State, unit: Option<&Id>) -> String {
    match unit {
        None => "Unassigned".into(),
        Some(id) => state
            .units
            .get(id)
            .map_or_else(|| id.clone(), |u| u.name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::World;

    #[test]
    fn r2_5_contacts_and_inactive_users_cannot_act() {
        let mut w = World::new();
        let c = w.user("c", Role::Contact, None);
        assert_eq!(Acting::of(&w.state, &c).unwrap_err().code, Code::Forbidden);
        let p = w.user("p", Role::Scanner, None);
        w.set_status(&p, UserStatus::PendingActivation);
        assert_eq!(
            Acting::of(&w.state, &p).unwrap_err().code,
            Code::Unauthenticated
        );
        w.set_status(&p, UserStatus::Deactivated);
        assert_eq!(
            Acting::of(&w.state, &p).unwrap_err().code,
            Code::Unauthenticated
        );
        assert_eq!(
            Acting::of(&w.state, "ghost").unwrap_err().code,
            Code::Unauthenticated
        );
    }

    #[test]
    fn r1_1_nothing_acts_without_a_subscription() {
        let s = State::default();
        assert_eq!(Acting::of(&s, "m1").unwrap_err().code, Code::Conflict);
    }

    #[test]
    fn r2_1_r2_4_managers_and_user_administrators_see_everyone_whole() {
        let mut w = World::new();
        w.state.settings.visibility.restrict_user_info_outside_unit = true;
        w.state.settings.visibility.hide_users_outside_unit = true;
        let eu = w.unit("EU");
        let s = w.user("s", Role::Scanner, Some(&eu));
        let ua = w.user("ua", Role::UserAdministrator, None);
        let target = w.state.users[&s].clone();
        assert_eq!(w.acting("m1").sight_of(&target), Sight::Full);
        assert_eq!(w.acting(&ua).sight_of(&target), Sight::Full);
    }

    /// R10.1: (viewer role, viewer in EU?, target in EU?, restrict, hide, sight).
    #[test]
    fn r10_1_visibility_table() {
        use Sight::*;
        let cases: &[(Role, bool, bool, bool, bool, Sight)] = &[
            (Role::UnitManager, true, true, true, true, Full),
            (Role::UnitManager, true, false, false, false, Full),
            (Role::UnitManager, true, false, true, false, Restricted),
            (Role::UnitManager, true, false, true, true, Hidden),
            (Role::UnitManager, true, false, false, true, Full),
            (Role::Scanner, true, false, true, false, Restricted),
            (Role::Reader, true, false, true, true, Hidden),
            (Role::Scanner, false, false, true, true, Full),
            (Role::Scanner, false, true, true, true, Hidden),
            (Role::Scanner, false, true, true, false, Restricted),
            (Role::Auditor, true, true, false, false, Hidden),
            (Role::RemediationUser, true, true, false, false, Hidden),
            (Role::KbOnly, false, false, false, false, Hidden),
        ];
        for &(role, viewer_in, target_in, restrict, hide, sight) in cases {
            let mut w = World::with(crate::ServiceType::Enterprise, &[crate::Module::Pc]);
            w.state.settings.visibility.restrict_user_info_outside_unit = restrict;
            w.state.settings.visibility.hide_users_outside_unit = hide;
            let eu = w.unit("EU");
            let us = w.unit("US");
            let unit = |inside: bool| if inside { eu.clone() } else { us.clone() };
            let viewer_unit = (viewer_in || role == Role::UnitManager).then(|| unit(viewer_in));
            let viewer = w.user("v", role, viewer_unit.as_ref());
            let target = w.user("t", Role::Reader, target_in.then_some(&eu));
            let t = w.state.users[&target].clone();
            let a = w.acting(&viewer);
            assert_eq!(
                a.sight_of(&t),
                sight,
                "{role:?} in EU {viewer_in}, target in EU {target_in}, restrict {restrict}, hide {hide}"
            );
            assert_eq!(a.sight_of(a.user), Full, "everyone sees itself");
        }
    }

    #[test]
    fn r10_1_hidden_users_look_missing() {
        let mut w = World::new();
        w.state.settings.visibility.restrict_user_info_outside_unit = true;
        w.state.settings.visibility.hide_users_outside_unit = true;
        let eu = w.unit("EU");
        let us = w.unit("US");
        let s = w.user("s", Role::Scanner, Some(&eu));
        let t = w.user("t", Role::Scanner, Some(&us));
        let err = w.acting(&s).visible_user(&t).unwrap_err();
        assert_eq!(err.code, Code::NotFound);
        assert_eq!(err.message, format!("no user {t}"));
    }

    #[test]
    fn r2_2_unit_managers_see_their_own_unit_only() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        let a = w.acting(&um);
        assert!(a.may_see_unit(&w.state.units[&eu]));
        assert!(!a.may_see_unit(&w.state.units[&us]));
        assert!(a.manages_unit(&eu) && !a.manages_unit(&us));
    }

    #[test]
    fn names_in_messages() {
        let mut w = World::new();
        let j = w.user("jane", Role::Reader, None);
        let mut u = w.state.users[&j].clone();
        assert_eq!(name_of(&u), "jane");
        u.first_name = "Jane".into();
        u.last_name = "Doe".into();
        assert_eq!(name_of(&u), "Jane Doe (jane)");
        assert_eq!(unit_name(&w.state, None), "Unassigned");
    }
}
