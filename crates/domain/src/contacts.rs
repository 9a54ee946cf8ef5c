//! Primary contacts (R4): one for the subscription (an active Manager, label
//! `POC`) and at most one per business unit (an active member of the unit,
//! label `POC_BU`).
//!
//! The one thing to know: a primary contact can never silently stop being
//! eligible. Every command that could delete, deactivate, move or re-role a
//! user calls [`protect_primary_contact`] (delete, deactivate) or
//! [`check_still_eligible`] (edit) first, so the role has to be handed over
//! before (R4.4).
//!
//! Decisions where the rules are silent:
//! - A new unit has no primary contact. The first Unit Manager of the unit
//!   to be an active member (activated, reactivated, made Unit Manager or
//!   moved in, by whatever command) becomes it, unless someone was named
//!   first: "one primary contact for each business unit", and the Unit
//!   Manager is the person its users escalate to. This runs after every
//!   accepted command ([`crate::settle`]) and writes its own
//!   `primary_contact.set` entry. Until then the unit's users are pointed at
//!   the subscription's contact (R4.5, [`contact_for`]). A unit's contact,
//!   once set, can be handed over but not cleared.
//! - Contacts (the role) cannot be primary contacts: they cannot sign in,
//!   so they could neither be reached through the product nor hand over.
//! - With `primary_contact_exclusive` (R4.3) the subscription contact's
//!   setting is seen and changed only by the subscription primary contact;
//!   a unit's contact is changed only by the subscription primary contact or
//!   by the unit's own contact (hand-over). Everyone else is `forbidden`.
//! - Without it, the setting is seen by Managers, Unit Managers and current
//!   primary contacts; a unit's contact is changed by Managers, that unit's
//!   Unit Managers and the unit's current contact (R4.2).

use serde::Serialize;

use super::access::{Acting, name_of};
use super::{BusinessUnit, Code, Feature, Id, Refusal, Role, State, Tx, User, UserStatus};
use crate::LogAction;

/// The label user lists show next to a primary contact (R4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PocLabel {
    /// The subscription's primary contact, an active Manager.
    #[serde(rename = "POC")]
    Poc,
    /// A business unit's primary contact, an active user of the unit.
    #[serde(rename = "POC_BU")]
    PocBu,
}

impl PocLabel {
    /// The label as lists and exports show it: `POC` or `POC_BU`.
    pub fn as_str(self) -> &'static str {
        match self {
            PocLabel::Poc => "POC",
            PocLabel::PocBu => "POC_BU",
        }
    }
}

/// `POC` for the subscription's contact, `POC_BU` for a unit's, else `None`.
pub fn label(state: &State, user: &User) -> Option<PocLabel> {
    if subscription_poc(state) == Some(&user.id) {
        return Some(PocLabel::Poc);
    }
    (unit_poc(state, user) == Some(&user.id)).then_some(PocLabel::PocBu)
}

/// The subscription's primary contact, if it has one yet.
fn subscription_poc(state: &State) -> Option<&Id> {
    state
        .subscription
        .as_ref()
        .and_then(|s| s.primary_contact.as_ref())
}

/// The primary contact of `user`'s unit; `None` for Unassigned users and
/// units without one.
fn unit_poc<'s>(state: &'s State, user: &User) -> Option<&'s Id> {
    user.business_unit
        .as_ref()
        .and_then(|u| state.units.get(u))
        .and_then(|u| u.primary_contact.as_ref())
}

/// The units whose primary contact `user_id` is (normally at most one).
pub(crate) fn units_led_by<'s>(state: &'s State, user_id: &str) -> Vec<&'s BusinessUnit> {
    state
        .units
        .values()
        .filter(|u| u.primary_contact.as_deref() == Some(user_id))
        .collect()
}

fn is_subscription_poc(state: &State, user_id: &str) -> bool {
    subscription_poc(state).map(String::as_str) == Some(user_id)
}

/// R4.4: refuses while `user_id` is a primary contact. Delete and deactivate
/// call this before anything else.
pub(crate) fn protect_primary_contact(state: &State, user_id: &str) -> Result<(), Refusal> {
    let Some(user) = state.users.get(user_id) else {
        return Ok(());
    };
    if is_subscription_poc(state, user_id) {
        return Err(Refusal::new(
            Code::PrimaryContact,
            format!(
                "{} is the primary contact of the subscription; give that role to another Manager first",
                name_of(user)
            ),
        ));
    }
    if let Some(unit) = units_led_by(state, user_id).first() {
        return Err(Refusal::new(
            Code::PrimaryContact,
            format!(
                "{} is the primary contact of {}; give that role to someone else first",
                name_of(user),
                unit.name
            ),
        ));
    }
    Ok(())
}

fn eligible_for_subscription(u: &User) -> bool {
    u.role == Role::Manager && u.status == UserStatus::Active
}

fn eligible_for_unit(u: &User, unit: &Id) -> bool {
    u.business_unit.as_ref() == Some(unit)
        && u.status == UserStatus::Active
        && u.role != Role::Contact
}

/// R4.4 for edits: `after` is the user as an edit would leave it. Refused if
/// it holds a primary-contact role it would no longer be eligible for
/// (moved out of its unit, no longer a Manager, turned into a Contact).
pub(crate) fn check_still_eligible(state: &State, after: &User) -> Result<(), Refusal> {
    if is_subscription_poc(state, &after.id) && !eligible_for_subscription(after) {
        return protect_primary_contact(state, &after.id);
    }
    for unit in units_led_by(state, &after.id) {
        if !eligible_for_unit(after, &unit.id) {
            return Err(Refusal::new(
                Code::PrimaryContact,
                format!(
                    "{} is the primary contact of {}; give that role to someone else in {} first",
                    name_of(after),
                    unit.name,
                    unit.name
                ),
            ));
        }
    }
    Ok(())
}

/// R4.5: the contact named in registration and account-lock emails: the
/// primary contact of the user's unit, or the subscription's for Unassigned
/// users and for units that have none yet.
pub fn contact_for<'s>(state: &'s State, user: &User) -> Option<&'s User> {
    unit_poc(state, user)
        .or(subscription_poc(state))
        .and_then(|id| state.users.get(id))
}

/// A contact as the `primary_contact.set` entry names it: "nobody" before
/// the first.
fn name_or_nobody(state: &State, contact: Option<&Id>) -> String {
    contact
        .and_then(|id| state.users.get(id))
        .map_or_else(|| "nobody".to_owned(), name_of)
}

fn exclusive(acting: &Acting<'_>) -> bool {
    acting.subscription.has(Feature::PrimaryContactExclusive)
}

fn exclusive_refusal() -> Refusal {
    Refusal::new(
        Code::Forbidden,
        "only the subscription's primary contact may see or change the primary contact setting",
    )
}

/// R4.2, R4.3: the subscription's primary contact, for the setting page.
pub fn view_subscription_poc<'s>(acting: &Acting<'s>) -> Result<Option<&'s User>, Refusal> {
    let allowed = if exclusive(acting) {
        acting.is_subscription_poc()
    } else {
        acting.is_manager()
            || acting.is_unit_manager()
            || label(acting.state, acting.user).is_some()
    };
    if !allowed {
        return Err(if exclusive(acting) {
            exclusive_refusal()
        } else {
            Refusal::new(
                Code::Forbidden,
                "the primary contact setting is for Managers and Unit Managers",
            )
        });
    }
    Ok(acting
        .subscription
        .primary_contact
        .as_ref()
        .and_then(|id| acting.state.users.get(id)))
}

/// R4.2: makes `user_id` (an active Manager) the subscription's primary
/// contact. Managers set it; with `primary_contact_exclusive` only the
/// current contact does (R4.3), which is also how it hands the role over.
pub fn set_subscription_poc(tx: &mut Tx<'_>, user_id: &str) -> Result<User, Refusal> {
    let (mut sub, target, previous) = {
        let acting = Acting::from_tx(tx)?;
        if exclusive(&acting) && !acting.is_subscription_poc() {
            return Err(exclusive_refusal());
        }
        if !acting.is_manager() {
            return Err(Refusal::new(
                Code::Forbidden,
                "only Managers set the subscription's primary contact",
            ));
        }
        let target = acting.visible_user(user_id)?;
        if !eligible_for_subscription(target) {
            return Err(Refusal::new(
                Code::Validation,
                format!(
                    "user: {} is not an active Manager; the subscription's primary contact must be one",
                    name_of(target)
                ),
            ));
        }
        let previous = name_or_nobody(acting.state, acting.subscription.primary_contact.as_ref());
        (acting.subscription.clone(), target.clone(), previous)
    };
    sub.primary_contact = Some(target.id.clone());
    tx.put_subscription(sub);
    tx.log(
        LogAction::PrimaryContactSet,
        "subscription",
        format!("{previous} -> {}", name_of(&target)),
    );
    Ok(target)
}

/// Gives each unit without a primary contact the first of the users this
/// transaction touched who is now an active Unit Manager of it. Called by
/// [`crate::settle`] after every accepted command.
pub fn adopt_unit_contacts(tx: &mut Tx<'_>) {
    for id in tx.touched_users() {
        let state = tx.state();
        let Some(user) = state.users.get(&id) else {
            continue;
        };
        let Some(unit) = user.business_unit.as_ref().and_then(|u| state.units.get(u)) else {
            continue;
        };
        if user.role != Role::UnitManager
            || unit.primary_contact.is_some()
            || !eligible_for_unit(user, &unit.id)
        {
            continue;
        }
        let mut unit = unit.clone();
        let name = name_of(user);
        unit.primary_contact = Some(id);
        let target = format!("business unit {} ({})", unit.name, unit.id);
        tx.put_unit(unit);
        tx.log(
            LogAction::PrimaryContactSet,
            target,
            format!("nobody -> {name} (the unit's first active Unit Manager)"),
        );
    }
}

/// R4.2: makes `user_id` (an active member of the unit, not a Contact) the
/// unit's primary contact. Managers, the unit's Unit Managers and the unit's
/// current contact (hand-over) may; with `primary_contact_exclusive`, only
/// the subscription's contact and the unit's current contact (R4.3).
pub fn set_unit_poc(tx: &mut Tx<'_>, unit_id: &str, user_id: &str) -> Result<User, Refusal> {
    let (mut unit, target, previous) = {
        let acting = Acting::from_tx(tx)?;
        let unit = super::units::visible_unit(&acting, unit_id)?;
        let is_unit_poc = unit.primary_contact.as_ref() == Some(acting.id());
        let allowed = if exclusive(&acting) {
            acting.is_subscription_poc() || is_unit_poc
        } else {
            acting.is_manager() || acting.manages_unit(&unit.id) || is_unit_poc
        };
        if !allowed {
            return Err(if exclusive(&acting) {
                exclusive_refusal()
            } else {
                Refusal::new(
                    Code::Forbidden,
                    format!(
                        "only Managers, Unit Managers of {} and its primary contact set its primary contact",
                        unit.name
                    ),
                )
            });
        }
        let target = acting.visible_user(user_id)?;
        if !eligible_for_unit(target, &unit.id) {
            return Err(Refusal::new(
                Code::Validation,
                format!(
                    "user: {} is not an active user of {} who can sign in; a unit's primary contact must be one",
                    name_of(target),
                    unit.name
                ),
            ));
        }
        let previous = name_or_nobody(acting.state, unit.primary_contact.as_ref());
        (unit.clone(), target.clone(), previous)
    };
    unit.primary_contact = Some(target.id.clone());
    let target_name = format!("business unit {} ({})", unit.name, unit.id);
    tx.put_unit(unit);
    tx.log(
        LogAction::PrimaryContactSet,
        target_name,
        format!("{previous} -> {}", name_of(&target)),
    );
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::World;
    use crate::users::{self, UserPatch};

    #[test]
    fn r4_1_labels_poc_and_poc_bu() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let s = w.user("s", Role::Scanner, Some(&eu));
        let r = w.user("r", Role::Reader, Some(&eu));
        w.run("m1", |tx| set_unit_poc(tx, &eu, &s)).unwrap();
        assert_eq!(label(&w.state, &w.state.users["m1"]), Some(PocLabel::Poc));
        assert_eq!(label(&w.state, &w.state.users[&s]), Some(PocLabel::PocBu));
        assert_eq!(label(&w.state, &w.state.users[&r]), None);
        assert_eq!(PocLabel::PocBu.as_str(), "POC_BU");
    }

    #[test]
    fn r4_1_subscription_poc_must_be_an_active_manager() {
        let mut w = World::new();
        let s = w.user("s", Role::Scanner, None);
        let m2 = w.user("m2", Role::Manager, None);
        w.set_status(&m2, UserStatus::Deactivated);
        for who in [&s, &m2] {
            let err = w.run("m1", |tx| set_subscription_poc(tx, who)).unwrap_err();
            assert_eq!(err.code, Code::Validation, "{who}");
        }
        assert_eq!(
            w.run("m1", |tx| set_subscription_poc(tx, "ghost"))
                .unwrap_err()
                .code,
            Code::NotFound
        );
    }

    #[test]
    fn r4_1_unit_poc_must_be_an_active_member_who_can_sign_in() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let other = w.user("o", Role::Scanner, Some(&us));
        let pending = w.user("p", Role::Scanner, Some(&eu));
        w.set_status(&pending, UserStatus::PendingActivation);
        let contact = w.user("c", Role::Contact, Some(&eu));
        for who in [&other, &pending, &contact, &"m1".to_owned()] {
            let err = w.run("m1", |tx| set_unit_poc(tx, &eu, who)).unwrap_err();
            assert_eq!(err.code, Code::Validation, "{who}");
        }
    }

    #[test]
    fn r4_2_managers_set_the_subscription_poc_others_do_not() {
        let mut w = World::new();
        let m2 = w.user("m2", Role::Manager, None);
        let eu = w.unit("EU");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        let ua = w.user("ua", Role::UserAdministrator, None);
        for who in [&um, &ua] {
            let err = w.run(who, |tx| set_subscription_poc(tx, &m2)).unwrap_err();
            assert_eq!(err.code, Code::Forbidden, "{who}");
        }
        w.run(&m2, |tx| set_subscription_poc(tx, &m2)).unwrap();
        assert_eq!(subscription_poc(&w.state), Some(&m2));
    }

    #[test]
    fn r4_2_managers_and_the_units_unit_managers_set_the_unit_poc() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        let um_us = w.user("umus", Role::UnitManager, Some(&us));
        let s = w.user("s", Role::Scanner, Some(&eu));
        let r = w.user("r", Role::Reader, Some(&eu));
        w.run(&um, |tx| set_unit_poc(tx, &eu, &s)).unwrap();
        w.run("m1", |tx| set_unit_poc(tx, &eu, &r)).unwrap();
        let err = w.run(&um_us, |tx| set_unit_poc(tx, &eu, &s)).unwrap_err();
        assert_eq!(err.code, Code::NotFound, "another unit is not visible");
        let err = w.run(&s, |tx| set_unit_poc(tx, &eu, &s)).unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
    }

    #[test]
    fn r4_2_a_units_first_active_unit_manager_becomes_its_primary_contact() {
        use crate::lifecycle::deactivate;
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let jane = w.user("jane", Role::Scanner, Some(&eu));
        let paul = w.user("paul", Role::Reader, Some(&eu));
        let sam = w.user("sam", Role::Scanner, Some(&us));
        let kim = w.user("kim", Role::Scanner, Some(&us));
        let promote = || UserPatch {
            role: Some(Role::UnitManager),
            ..UserPatch::default()
        };
        // Touching a Scanner, or a Unit Manager who is not active, sets nothing.
        let rename = UserPatch {
            first_name: Some("Samuel".into()),
            ..UserPatch::default()
        };
        w.run("m1", |tx| users::edit_user(tx, &sam, rename))
            .unwrap();
        w.set_status(&kim, UserStatus::PendingActivation);
        w.run("m1", |tx| users::edit_user(tx, &kim, promote()))
            .unwrap();
        assert_eq!(w.state.units[&us].primary_contact, None);

        // jane is made Unit Manager first: she is EU's contact, with an
        // entry of its own.
        let (out, log) = w.run_logged("m1", |tx| users::edit_user(tx, &jane, promote()));
        out.unwrap();
        assert_eq!(w.state.units[&eu].primary_contact.as_ref(), Some(&jane));
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["user.update", "primary_contact.set"]);
        assert!(
            log[1].details.contains("first active Unit Manager"),
            "{log:?}"
        );
        // paul, second, changes nothing.
        let (out, log) = w.run_logged("m1", |tx| users::edit_user(tx, &paul, promote()));
        out.unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(w.state.units[&eu].primary_contact.as_ref(), Some(&jane));

        // An active Unit Manager moved into a unit without a contact: the same.
        let fr = w.unit("FR");
        w.set_status(&kim, UserStatus::Active);
        let to_fr = crate::moving::Move {
            business_unit: Some(fr.clone()),
            keep_configurations: true,
            keep_asset_groups: false,
        };
        let mut fresh = || "copy1".to_owned();
        w.run_logged("m1", |tx| {
            crate::moving::move_user(tx, &kim, to_fr, &mut fresh)
        })
        .0
        .unwrap();
        assert_eq!(w.state.units[&fr].primary_contact.as_ref(), Some(&kim));

        // A contact named by someone is never replaced.
        let de = w.unit("DE");
        let rita = w.user("rita", Role::Reader, Some(&de));
        w.run("m1", |tx| set_unit_poc(tx, &de, &rita)).unwrap();
        let max = w.user("max", Role::Scanner, Some(&de));
        w.run("m1", |tx| users::edit_user(tx, &max, promote()))
            .unwrap();
        assert_eq!(w.state.units[&de].primary_contact.as_ref(), Some(&rita));
        // And the adopted contact is protected like any other (R4.4).
        let err = w.run("m1", |tx| deactivate(tx, &jane)).unwrap_err();
        assert_eq!(err.code, Code::PrimaryContact, "{err:?}");
    }

    #[test]
    fn r4_2_a_primary_contact_hands_its_role_over() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let s = w.user("s", Role::Scanner, Some(&eu));
        let r = w.user("r", Role::Reader, Some(&eu));
        w.run("m1", |tx| set_unit_poc(tx, &eu, &s)).unwrap();
        w.run(&s, |tx| set_unit_poc(tx, &eu, &r)).unwrap();
        assert_eq!(w.state.units[&eu].primary_contact.as_ref(), Some(&r));
        let m2 = w.user("m2", Role::Manager, None);
        w.feature(Feature::PrimaryContactExclusive);
        w.run("m1", |tx| set_subscription_poc(tx, &m2)).unwrap();
        assert_eq!(subscription_poc(&w.state), Some(&m2));
    }

    #[test]
    fn r4_3_exclusive_only_the_subscription_poc_sees_or_changes_it() {
        let mut w = World::new();
        w.feature(Feature::PrimaryContactExclusive);
        let m2 = w.user("m2", Role::Manager, None);
        let eu = w.unit("EU");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        let s = w.user("s", Role::Scanner, Some(&eu));
        assert_eq!(
            view_subscription_poc(&w.acting(&m2)).unwrap_err().code,
            Code::Forbidden
        );
        assert_eq!(
            view_subscription_poc(&w.acting("m1")).unwrap().unwrap().id,
            "m1"
        );
        let err = w.run(&m2, |tx| set_subscription_poc(tx, &m2)).unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
        assert!(
            err.message
                .contains("only the subscription's primary contact")
        );
        let err = w.run(&um, |tx| set_unit_poc(tx, &eu, &s)).unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
        let err = w.run(&m2, |tx| set_unit_poc(tx, &eu, &s)).unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
        w.run("m1", |tx| set_unit_poc(tx, &eu, &s)).unwrap();
    }

    #[test]
    fn r4_3_without_exclusive_managers_and_unit_managers_see_the_setting() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        let s = w.user("s", Role::Scanner, Some(&eu));
        assert!(view_subscription_poc(&w.acting(&um)).is_ok());
        assert_eq!(
            view_subscription_poc(&w.acting(&s)).unwrap_err().code,
            Code::Forbidden
        );
    }

    #[test]
    fn r4_4_a_primary_contact_cannot_be_removed_until_handed_over() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let jane = w.user("jane", Role::Scanner, Some(&eu));
        w.rename(&jane, "Jane", "Doe");
        w.run("m1", |tx| set_unit_poc(tx, &eu, &jane)).unwrap();
        let err = protect_primary_contact(&w.state, &jane).unwrap_err();
        assert_eq!(err.code, Code::PrimaryContact);
        assert_eq!(
            err.message,
            "Jane Doe (jane) is the primary contact of EU; give that role to someone else first"
        );
        assert_eq!(
            protect_primary_contact(&w.state, "m1").unwrap_err().code,
            Code::PrimaryContact
        );
        // Moving out of the unit, or becoming a Contact, is refused too.
        let patches = [
            UserPatch {
                business_unit: Some(Some(us.clone())),
                ..Default::default()
            },
            UserPatch {
                role: Some(Role::Contact),
                ..Default::default()
            },
        ];
        for patch in patches {
            let err = w
                .run("m1", |tx| users::edit_user(tx, &jane, patch))
                .unwrap_err();
            assert_eq!(err.code, Code::PrimaryContact);
        }
        // A role change that keeps it eligible is fine.
        w.run("m1", |tx| {
            users::edit_user(
                tx,
                &jane,
                UserPatch {
                    role: Some(Role::Reader),
                    ..Default::default()
                },
            )
        })
        .unwrap();
        // Handed over, it is free.
        let r = w.user("r", Role::Reader, Some(&eu));
        w.run(&jane, |tx| set_unit_poc(tx, &eu, &r)).unwrap();
        assert!(protect_primary_contact(&w.state, &jane).is_ok());
    }

    #[test]
    fn r4_4_the_subscription_poc_stays_a_manager() {
        let mut w = World::new();
        w.user("m2", Role::Manager, None);
        let err = w
            .run("m1", |tx| {
                users::edit_user(
                    tx,
                    "m1",
                    UserPatch {
                        role: Some(Role::Reader),
                        ..Default::default()
                    },
                )
            })
            .unwrap_err();
        assert_eq!(err.code, Code::PrimaryContact);
        assert!(
            err.message
                .contains("give that role to another Manager first")
        );
    }

    #[test]
    fn r4_5_registration_contact_is_the_units_poc_else_the_subscriptions() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let s = w.user("s", Role::Scanner, Some(&eu));
        let r = w.user("r", Role::Reader, Some(&eu));
        let un = w.user("un", Role::Reader, None);
        let user = |w: &World, id: &str| w.state.users[id].clone();
        assert_eq!(
            contact_for(&w.state, &user(&w, &r)).unwrap().id,
            "m1",
            "no unit POC yet"
        );
        w.run("m1", |tx| set_unit_poc(tx, &eu, &s)).unwrap();
        assert_eq!(contact_for(&w.state, &user(&w, &r)).unwrap().id, s);
        assert_eq!(contact_for(&w.state, &user(&w, &un)).unwrap().id, "m1");
    }
}
