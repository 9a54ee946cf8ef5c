//! Delete a user (R7.5), deciding the fate of everything it owns, in one
//! transaction (R7.6).
//!
//! The one thing to know: after a delete nothing is owned by, assigned to
//! or a member through the deleted user, except authentication records,
//! which R7.5 keeps without owner. Everything is decided first into a list
//! of changes; a refusal changes nothing.
//!
//! Who (R7.5, R2): Managers delete anyone, Unit Managers users of their
//! unit, User Administrators as R2.4 lets them manage users. Never a
//! primary contact (R4.4), the last active Manager (R2.6), or oneself.
//!
//! What happens to each thing the user owns:
//! - configurations (R7.4's five kinds): to `transfer_configurations_to`
//!   when given (who must be allowed to own each of them); otherwise a
//!   deleted Manager's or Unit Manager's scheduled scans, global option
//!   profiles and global report templates go to the heir (below) and the
//!   rest are deleted;
//! - scan and map results: kept with `keep_results` (given to the transfer
//!   user, else to the heir), else deleted;
//! - authentication records: kept, without owner;
//! - asset groups, remediation policies and tickets it created, and the
//!   distribution groups it created: to the heir. Decided for every role,
//!   not only Managers and Unit Managers: a group must have an owner;
//! - policies assigned to it fall back to `user_running_scan`; tickets
//!   assigned to it lose their assignee and become invalid;
//! - it leaves every distribution group's members.
//!
//! The heir is the primary contact of the user's unit, or of the
//! subscription for Unassigned users (and for units without one).

use std::collections::BTreeSet;

use super::access::{Acting, name_of};
use super::contacts::protect_primary_contact;
use super::lifecycle::{Fate, Outcome};
use super::moving::{group_outcome, object_outcome};
use super::objects::{may_own, target as object_target};
use super::roles::{may_manage, protect_last_manager};
use super::users::target as user_target;
use super::{
    AssetGroup, Assignee, Code, DistributionGroup, Id, ObjectKind, OwnedObject, Refusal, Role,
    State, Tx, User,
};
use crate::LogAction;

/// `DELETE /api/v1/users/{id}?transfer_configurations_to=&keep_results=`.
#[derive(Debug, Clone, Default)]
pub struct Delete {
    /// Who gets the user's configurations (and, with `keep_results`, its
    /// results); each must be one this user may own. `None`: the heir or
    /// deletion, as the module doc says.
    pub transfer_configurations_to: Option<Id>,
    /// Keep scan and map results, with the transfer user or else the heir,
    /// rather than delete them (R7.5).
    pub keep_results: bool,
}

/// The deleted user and what happened to each of its things.
#[derive(Debug, Clone)]
pub struct Deleted {
    /// The user as it was just before the delete.
    pub user: User,
    /// One entry for each thing it owned, was assigned or belonged to, and
    /// what became of it.
    pub outcomes: Vec<Outcome>,
}

enum Change {
    PutObject(OwnedObject, Vec<(Fate, Option<Id>)>),
    RemoveObject(OwnedObject),
    PutGroup(AssetGroup),
    PutDistribution(DistributionGroup, Fate),
}

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

/// Deletes user `id` and settles everything it owned.
pub fn delete_user(tx: &mut Tx<'_>, id: &str, req: Delete) -> Result<Deleted, Refusal> {
    let (user, changes) = {
        let acting = Acting::from_tx(tx)?;
        decide(&acting, id, &req)?
    };
    Ok(apply(tx, user, changes))
}

/// The primary contact that inherits what `user` leaves (R7.5).
fn heir(state: &State, user: &User) -> Option<Id> {
    user.business_unit
        .as_ref()
        .and_then(|u| state.units.get(u))
        .and_then(|u| u.primary_contact.clone())
        .filter(|p| *p != user.id)
        .or_else(|| {
            state
                .subscription
                .as_ref()
                .and_then(|s| s.primary_contact.clone())
        })
        .filter(|p| *p != user.id)
}

fn decide(acting: &Acting<'_>, id: &str, req: &Delete) -> Result<(User, Vec<Change>), Refusal> {
    let state = acting.state;
    let user = acting.visible_user(id)?;
    if user.id == *acting.id() {
        return Err(refuse(
            Code::Forbidden,
            "you cannot delete yourself; ask another administrator",
        ));
    }
    may_manage(acting, user)?;
    protect_primary_contact(state, &user.id)?;
    protect_last_manager(state, &user.id)?;
    let heir = heir(state, user).ok_or_else(|| {
        refuse(
            Code::Conflict,
            "the subscription has no primary contact to take over this user's objects; name one first",
        )
    })?;
    let heir_user = &state.users[&heir];
    let transfer = match &req.transfer_configurations_to {
        None => None,
        Some(t) if *t == user.id => {
            return Err(refuse(
                Code::Validation,
                "transfer_configurations_to: name another user than the one deleted",
            ));
        }
        Some(t) => {
            let to = acting.visible_user(t).map_err(|_| {
                refuse(
                    Code::Validation,
                    format!("transfer_configurations_to: there is no user {t}"),
                )
            })?;
            if to.id != *acting.id() {
                may_manage(acting, to)?;
            }
            Some(to)
        }
    };
    let manager_like = matches!(user.role, Role::Manager | Role::UnitManager);
    let mut changes = Vec::new();
    for o in state.objects.values() {
        let owned = o.owner.as_ref() == Some(&user.id);
        let assigned = matches!(&o.assignee, Some(Assignee::User(u)) if *u == user.id);
        if !owned && !assigned {
            continue;
        }
        let mut next = o.clone();
        let mut fates = Vec::new();
        if owned {
            let new_owner: Option<&User> = if o.kind.is_configuration() {
                match transfer {
                    Some(to) => Some(to),
                    None if manager_like && inherited_configuration(o) => Some(heir_user),
                    None => None,
                }
            } else if o.kind.is_result() {
                match (req.keep_results, transfer) {
                    (true, Some(to)) => Some(to),
                    (true, None) => Some(heir_user),
                    (false, _) => None,
                }
            } else if o.kind == ObjectKind::AuthRecord {
                next.owner = None;
                fates.push((Fate::OwnerCleared, None));
                None
            } else {
                Some(heir_user)
            };
            match new_owner {
                Some(to) => {
                    if transfer.is_some_and(|t| t.id == to.id) {
                        may_own(o.kind, to).map_err(|r| {
                            refuse(r.code, format!("transfer_configurations_to: {}", r.message))
                        })?;
                        fates.push((Fate::Transferred, Some(to.id.clone())));
                    } else {
                        fates.push((Fate::Reassigned, Some(to.id.clone())));
                    }
                    next.owner = Some(to.id.clone());
                    next.business_unit = to.business_unit.clone();
                }
                None if o.kind != ObjectKind::AuthRecord => {
                    changes.push(Change::RemoveObject(o.clone()));
                    continue;
                }
                None => {}
            }
        }
        if assigned {
            match o.kind {
                ObjectKind::RemediationPolicy => {
                    next.assignee = Some(Assignee::UserRunningScan);
                    fates.push((Fate::AssigneeReset, None));
                }
                _ => {
                    next.assignee = None;
                    next.valid = false;
                    fates.push((Fate::Invalidated, None));
                }
            }
        }
        changes.push(Change::PutObject(next, fates));
    }
    for g in state.asset_groups.values().filter(|g| g.owner == user.id) {
        changes.push(Change::PutGroup(AssetGroup {
            owner: heir.clone(),
            ..g.clone()
        }));
    }
    for d in state.distribution_groups.values() {
        let member = d.members.contains(&user.id);
        let creator = d.created_by == user.id;
        if !member && !creator {
            continue;
        }
        let mut next = d.clone();
        next.members.retain(|m| *m != user.id);
        if creator {
            next.created_by = heir.clone();
        }
        let fate = if creator {
            Fate::Reassigned
        } else {
            Fate::MemberRemoved
        };
        changes.push(Change::PutDistribution(next, fate));
    }
    Ok((user.clone(), changes))
}

/// R7.5: what a deleted Manager or Unit Manager leaves to the primary contact.
fn inherited_configuration(o: &OwnedObject) -> bool {
    o.kind == ObjectKind::ScheduledScan || (o.kind.may_be_global() && o.global)
}

fn apply(tx: &mut Tx<'_>, user: User, changes: Vec<Change>) -> Deleted {
    let now = tx.now();
    let who = name_of(&user);
    let mut outcomes = Vec::new();
    for c in changes {
        match c {
            Change::RemoveObject(o) => {
                tx.remove_object(&o.id);
                tx.log(
                    LogAction::ObjectDelete,
                    object_target(&o),
                    format!("owner {who} deleted (R7.5)"),
                );
                outcomes.push(object_outcome(&o, Fate::Deleted, None));
            }
            Change::PutObject(mut o, fates) => {
                o.updated_at = now;
                let said: Vec<&str> = fates.iter().map(|(f, _)| f.as_str()).collect();
                tx.log(
                    LogAction::ObjectUpdate,
                    object_target(&o),
                    format!("{} on deleting {who} (R7.5)", said.join(", ")),
                );
                for (fate, to) in fates {
                    outcomes.push(object_outcome(&o, fate, to));
                }
                tx.put_object(o);
            }
            Change::PutGroup(g) => {
                tx.log(
                    LogAction::AssetGroupUpdate,
                    format!("asset group {} ({})", g.title, g.id),
                    format!("owner {who} deleted; reassigned to the primary contact (R7.5)"),
                );
                outcomes.push(group_outcome(
                    &g.id,
                    g.title.clone(),
                    Fate::Reassigned,
                    Some(g.owner.clone()),
                ));
                tx.put_asset_group(g);
            }
            Change::PutDistribution(d, fate) => {
                tx.log(
                    LogAction::DistributionGroupUpdate,
                    format!("distribution group {} ({})", d.name, d.id),
                    format!("{} on deleting {who}", fate.as_str()),
                );
                outcomes.push(Outcome {
                    kind: "distribution_group",
                    id: d.id.clone(),
                    name: d.name.clone(),
                    fate,
                    to: (fate == Fate::Reassigned).then(|| d.created_by.clone()),
                });
                tx.put_distribution_group(d);
            }
        }
    }
    tx.remove_user(&user.id);
    let counts: BTreeSet<&str> = outcomes.iter().map(|o| o.fate.as_str()).collect();
    tx.log(
        LogAction::UserDelete,
        user_target(&user),
        format!(
            "role {}; {} things settled ({})",
            user.role.as_str(),
            outcomes.len(),
            counts.into_iter().collect::<Vec<_>>().join(", ")
        ),
    );
    Deleted { user, outcomes }
}
