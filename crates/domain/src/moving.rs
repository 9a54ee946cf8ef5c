//! Move a user to another business unit (R7.4), with its configurations and
//! asset groups, in one transaction (R7.6).
//!
//! The one thing to know: everything is decided first, on the state as it
//! is, into a [`Plan`]; only then is anything changed, so a refusal changes
//! nothing and an accepted move happens whole.
//!
//! Groups, for each group assigned to the user (R7.4), when it keeps them:
//! - already linked to the new unit, or the new place is Unassigned (whose
//!   users may hold any group, R6.3): kept as it is;
//! - owned by the user (personal): moved to the new unit, still the user's.
//!   Decided: when other users of the old unit hold it too, it is linked to
//!   the new unit instead, so nobody else loses what it reaches;
//! - created by a Unit Manager: copied into the new unit as `Title N` (the
//!   smallest N ≥ 1 free there), same assets, owned by the subscription's
//!   primary contact; the old unit keeps the original;
//! - created by anyone else (Managers, User Administrators): linked to the
//!   new unit, unchanged.
//!
//! A moved or linked group whose title the new unit already uses is refused
//! (`conflict`): the seed keeps those groups unchanged, so they cannot be
//! renamed on the way. Tickets are then revalidated (R9.2): the user's
//! against its new reach, and everyone's whose unit "All" the groups changed.

use std::collections::BTreeSet;

use super::access::{Acting, name_of, unit_name};
use super::contacts::units_led_by;
use super::groups::title_clash;
use super::lifecycle::{Fate, Outcome};
use super::objects::{revalidate_tickets, target as object_target};
use super::roles::{check_placement, may_manage};
use super::users::target as user_target;
use super::{AssetGroup, Code, Id, OwnedObject, Refusal, Role, State, Tx, User};
use crate::LogAction;

/// `POST /api/v1/users/{id}/move`.
#[derive(Debug, Clone)]
pub struct Move {
    /// `None`: Unassigned.
    pub business_unit: Option<Id>,
    /// Keep the user's configurations, moved into the new unit with it;
    /// without, they are deleted. Results always move (R7.4).
    pub keep_configurations: bool,
    /// Keep the user's asset groups, moved, linked or copied as the module doc
    /// says; without, the user holds none afterwards (R7.4).
    pub keep_asset_groups: bool,
}

/// The moved user and what happened to each of its things.
#[derive(Debug, Clone)]
pub struct Moved {
    /// The user as it is after the move.
    pub user: User,
    /// One entry for each group and object the move touched, and what became
    /// of it.
    pub outcomes: Vec<Outcome>,
}

enum GroupStep {
    Keep(Id),
    /// Not kept: the user no longer holds it.
    Unassign(Id, String),
    /// The group as it will be (moved or linked).
    Change(AssetGroup, Fate),
    Copy {
        from: Id,
        copy: AssetGroup,
    },
}

struct Plan {
    user: User,
    groups: Vec<GroupStep>,
    delete: Vec<OwnedObject>,
    rehome: Vec<OwnedObject>,
}

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

/// Moves user `id`. `fresh_id` names the copies of Unit Managers' groups.
pub fn move_user(
    tx: &mut Tx<'_>,
    id: &str,
    req: Move,
    fresh_id: &mut dyn FnMut() -> Id,
) -> Result<Moved, Refusal> {
    let plan = {
        let acting = Acting::from_tx(tx)?;
        decide(&acting, id, &req, fresh_id)?
    };
    Ok(apply(tx, plan, &req))
}

fn decide(
    acting: &Acting<'_>,
    id: &str,
    req: &Move,
    fresh_id: &mut dyn FnMut() -> Id,
) -> Result<Plan, Refusal> {
    let state = acting.state;
    let before = acting.visible_user(id)?;
    if before.id == *acting.id() && !acting.is_manager() {
        return Err(refuse(
            Code::Forbidden,
            "you cannot move yourself; ask a Manager",
        ));
    }
    may_manage(acting, before)?;
    if req.business_unit == before.business_unit {
        return Err(refuse(
            Code::Conflict,
            format!(
                "{} is already in {}",
                name_of(before),
                unit_name(state, before.business_unit.as_ref())
            ),
        ));
    }
    // Managers and User Administrators are never in a unit, Unit Managers
    // always are, and Unit Managers do not move users out of their unit.
    check_placement(acting, before.role, req.business_unit.as_ref())?;
    if let Some(u) = units_led_by(state, &before.id)
        .into_iter()
        .find(|u| before.business_unit.as_ref() == Some(&u.id))
    {
        return Err(refuse(
            Code::PrimaryContact,
            format!(
                "{} is the primary contact of {}; name another primary contact there first (R4.4)",
                name_of(before),
                u.name
            ),
        ));
    }
    let mut user = before.clone();
    user.business_unit = req.business_unit.clone();
    let groups = if req.keep_asset_groups {
        plan_groups(state, before, req.business_unit.as_ref(), fresh_id)?
    } else {
        before
            .asset_groups
            .iter()
            .map(|g| GroupStep::Unassign(g.clone(), group_title(state, g)))
            .collect()
    };
    user.asset_groups = if req.keep_asset_groups {
        groups
            .iter()
            .map(|s| match s {
                GroupStep::Keep(g) | GroupStep::Unassign(g, _) => g.clone(),
                GroupStep::Change(g, _) => g.id.clone(),
                GroupStep::Copy { copy, .. } => copy.id.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut delete = Vec::new();
    let mut rehome = Vec::new();
    for o in state.objects.values() {
        if o.owner.as_ref() != Some(&before.id) {
            continue;
        }
        if o.kind.is_configuration() && !req.keep_configurations {
            delete.push(o.clone());
        } else if o.business_unit != req.business_unit {
            rehome.push(OwnedObject {
                business_unit: req.business_unit.clone(),
                ..o.clone()
            });
        }
    }
    Ok(Plan {
        user,
        groups,
        delete,
        rehome,
    })
}

fn group_title(state: &State, id: &Id) -> String {
    match state.asset_groups.get(id) {
        Some(g) => g.title.clone(),
        None => super::groups::ALL_TITLE.to_owned(),
    }
}

fn plan_groups(
    state: &State,
    user: &User,
    new: Option<&Id>,
    fresh_id: &mut dyn FnMut() -> Id,
) -> Result<Vec<GroupStep>, Refusal> {
    let mut steps = Vec::new();
    // Titles this plan gives out in the new unit, so two copies never clash.
    let mut taken: Vec<String> = Vec::new();
    for gid in &user.asset_groups {
        let Some(g) = state.asset_groups.get(gid) else {
            // "All" follows the user: it means the new unit's All (R6.2).
            steps.push(GroupStep::Keep(gid.clone()));
            continue;
        };
        let Some(new) = new else {
            steps.push(GroupStep::Keep(gid.clone()));
            continue;
        };
        if g.business_units.contains(new) {
            steps.push(GroupStep::Keep(gid.clone()));
            continue;
        }
        let personal = g.owner == user.id;
        let held_by_others = state.users.values().any(|u| {
            u.id != user.id
                && u.asset_groups.contains(gid)
                && u.business_unit
                    .as_ref()
                    .is_some_and(|b| g.business_units.contains(b))
        });
        let only_new: BTreeSet<Id> = std::iter::once(new.clone()).collect();
        if personal || g.created_by_role != Role::UnitManager {
            let mut changed = g.clone();
            let fate = if personal && !held_by_others {
                if let Some(old) = &user.business_unit {
                    changed.business_units.remove(old);
                }
                Fate::Moved
            } else {
                Fate::Linked
            };
            changed.business_units.insert(new.clone());
            if let Some(other) = title_clash(state, &g.title, &only_new, &g.id)
                .map(|o| o.title.clone())
                .or_else(|| {
                    taken
                        .iter()
                        .find(|t| t.eq_ignore_ascii_case(&g.title))
                        .cloned()
                })
            {
                return Err(refuse(
                    Code::Conflict,
                    format!(
                        "{} already has an asset group titled {other:?}, so {:?} cannot go there unchanged; rename one of them first",
                        unit_name(state, Some(new)),
                        g.title
                    ),
                ));
            }
            taken.push(g.title.clone());
            steps.push(GroupStep::Change(changed, fate));
        } else {
            let Some(poc) = state
                .subscription
                .as_ref()
                .and_then(|s| s.primary_contact.clone())
            else {
                return Err(refuse(
                    Code::Conflict,
                    "the subscription has no primary contact to own copied groups; name one first",
                ));
            };
            let title = (1u64..)
                .map(|n| format!("{} {n}", g.title))
                .find(|t| {
                    title_clash(state, t, &only_new, "").is_none()
                        && !taken.iter().any(|x| x.eq_ignore_ascii_case(t))
                })
                .unwrap_or_else(|| g.title.clone());
            taken.push(title.clone());
            let id = fresh_id();
            if id == super::reach::ALL || state.asset_groups.contains_key(&id) {
                return Err(refuse(
                    Code::Conflict,
                    format!("asset group id {id} exists; try again"),
                ));
            }
            let copy = AssetGroup {
                id,
                title,
                assets: g.assets.clone(),
                business_units: only_new,
                owner: poc,
                // The copy is the primary contact's, a Manager's group from now on.
                created_by_role: Role::Manager,
                created_at: g.created_at,
            };
            steps.push(GroupStep::Copy {
                from: gid.clone(),
                copy,
            });
        }
    }
    Ok(steps)
}

fn apply(tx: &mut Tx<'_>, plan: Plan, req: &Move) -> Moved {
    let now = tx.now();
    let mut outcomes = Vec::new();
    let old_unit = unit_name(
        tx.state(),
        tx.state().users[&plan.user.id].business_unit.as_ref(),
    );
    let new_unit = unit_name(tx.state(), plan.user.business_unit.as_ref());
    for step in plan.groups {
        match step {
            GroupStep::Keep(id) => {
                let name = group_title(tx.state(), &id);
                outcomes.push(group_outcome(&id, name, Fate::Kept, None));
            }
            GroupStep::Unassign(id, title) => {
                outcomes.push(group_outcome(&id, title, Fate::Unassigned, None));
            }
            GroupStep::Change(g, fate) => {
                tx.log(
                    if fate == Fate::Moved {
                        LogAction::AssetGroupMove
                    } else {
                        LogAction::AssetGroupLink
                    },
                    format!("asset group {} ({})", g.title, g.id),
                    format!(
                        "{} with {} to {new_unit}",
                        fate.as_str(),
                        name_of(&plan.user)
                    ),
                );
                outcomes.push(group_outcome(&g.id, g.title.clone(), fate, None));
                tx.put_asset_group(g);
            }
            GroupStep::Copy { from, copy } => {
                let original = tx.state().asset_groups[&from].title.clone();
                tx.log(
                    LogAction::AssetGroupCopy,
                    format!("asset group {} ({})", copy.title, copy.id),
                    format!(
                        "copy of {original:?} ({from}) for {} in {new_unit}",
                        name_of(&plan.user)
                    ),
                );
                outcomes.push(group_outcome(
                    &from,
                    original,
                    Fate::Copied,
                    Some(copy.id.clone()),
                ));
                tx.put_asset_group(copy);
            }
        }
    }
    for o in plan.delete {
        tx.remove_object(&o.id);
        tx.log(
            LogAction::ObjectDelete,
            object_target(&o),
            format!(
                "configuration of {} not kept on its move (R7.4)",
                name_of(&plan.user)
            ),
        );
        outcomes.push(object_outcome(&o, Fate::Deleted, None));
    }
    let user = plan.user;
    tx.put_user(user.clone());
    // Judged against the reach the user has now, its groups moved too.
    let reach = super::reach::reach_of(tx.state(), &user);
    for mut o in plan.rehome {
        o.updated_at = now;
        let missing = super::reach::first_missing(&reach, &targets_of(tx.state(), &o));
        let (fate, why) = match &missing {
            Some(m) => (
                Fate::NeedsNewTarget,
                format!("; it targets {m}, out of the user's reach: give it a new target"),
            ),
            None => (Fate::Moved, String::new()),
        };
        tx.log(
            LogAction::ObjectMove,
            object_target(&o),
            format!("with {} to {new_unit}{why}", name_of(&user)),
        );
        outcomes.push(object_outcome(&o, fate, None));
        tx.put_object(o);
    }
    // Linked, copied and moved groups change the "All" of both units too.
    // `settle` would revalidate after the command anyway; called here, the
    // tickets it changes join the move's outcomes, and `settle` finds none.
    for t in revalidate_tickets(tx) {
        let fate = if t.valid {
            Fate::Revalidated
        } else {
            Fate::Invalidated
        };
        outcomes.push(object_outcome(&t, fate, None));
    }
    tx.log(
        LogAction::UserMove,
        user_target(&user),
        format!(
            "{old_unit} -> {new_unit}; configurations {}; asset groups {}; {} things changed",
            if req.keep_configurations {
                "kept"
            } else {
                "deleted"
            },
            if req.keep_asset_groups {
                "kept"
            } else {
                "not kept"
            },
            outcomes.iter().filter(|o| o.fate != Fate::Kept).count()
        ),
    );
    Moved { user, outcomes }
}

/// What an object targets: its IPs and its groups' assets.
fn targets_of(state: &State, o: &OwnedObject) -> super::AssetSet {
    let mut t = super::AssetSet {
        ips: o.ips.clone(),
        ..super::AssetSet::default()
    };
    for g in &o.asset_groups {
        if let Some(group) = state.asset_groups.get(g) {
            t = t.union(&group.assets);
        }
    }
    t
}

pub(crate) fn group_outcome(id: &Id, name: String, fate: Fate, to: Option<Id>) -> Outcome {
    Outcome {
        kind: "asset_group",
        id: id.clone(),
        name,
        fate,
        to,
    }
}

pub(crate) fn object_outcome(o: &OwnedObject, fate: Fate, to: Option<Id>) -> Outcome {
    Outcome {
        kind: o.kind.as_str(),
        id: o.id.clone(),
        name: o.name.clone(),
        fate,
        to,
    }
}
