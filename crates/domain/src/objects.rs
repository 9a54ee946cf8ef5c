//! Owned objects (R9): report templates, option profiles, schedules, search
//! lists, authentication records, remediation policies and tickets, scan and
//! map results. Other services keep the objects; bailiwick keeps who owns
//! them, so that R7 can move, reassign or delete them with the user.
//!
//! The one thing to know: a ticket's `valid` flag always says whether its
//! assignee reaches the ticket's assets (R9.2). Every command that changes an
//! assignee or what anyone reaches (tickets, users, groups, assets,
//! appliances, moves, deletes) calls [`revalidate_tickets`] in the same
//! transaction, which logs each ticket it flips.
//!
//! Who owns what (decided; R2.3, R5): nobody but Managers, Unit Managers,
//! Scanners and Readers owns objects. Readers own report templates,
//! scheduled reports and search lists; scans, results and tickets need the
//! role to launch scans; option profiles need `create_option_profiles`,
//! authentication records `manage_auth_records`, remediation policies
//! `vm_remediation_policy` (Managers need none of them).
//!
//! Who sees and changes what: Managers everything. Everyone sees global
//! objects, its own objects and what is assigned to it; Unit Managers also
//! see and change their unit's objects. Authentication records follow R6.5
//! exactly as the authorization check decides it. With
//! `restrict_scheduled_tasks_on_unassigned_assets` (R10.1), schedules that
//! target assets the viewer cannot reach are hidden from it.

use std::collections::HashMap;

use super::access::{Acting, name_of, unit_name};
use super::ipset::IpSet;
use super::reach::{ALL, all_for, first_missing, reach_of};
use super::{
    AssetSet, Assignee, Code, Id, ObjectKind, OwnedObject, Permission, Refusal, Role, State, Tx,
    User, UserStatus,
};
use crate::LogAction;

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

/// `POST /api/v1/objects`.
#[derive(Debug, Clone)]
pub struct NewObject {
    /// Which of the other services' objects it is (R9.1); decides who may own
    /// it.
    pub kind: ObjectKind,
    /// The name its service gives it.
    pub name: String,
    /// `None`: the caller.
    pub owner: Option<Id>,
    /// Shared with the whole subscription: option profiles and report
    /// templates only, and only by Managers.
    pub global: bool,
    /// Asset groups it targets; with `ips`, the assets it is about (R7.4,
    /// R9.2).
    pub asset_groups: Vec<Id>,
    /// IPs it targets besides its groups'.
    pub ips: IpSet,
    /// Policies default to [`Assignee::UserRunningScan`]; tickets need a user.
    pub assignee: Option<Assignee>,
}

/// `PATCH /api/v1/objects/{id}`: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct ObjectPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new owner (Managers and Unit Managers), who must be allowed to own
    /// this kind.
    pub owner: Option<Id>,
    /// Shared with the whole subscription or not, as at creation.
    pub global: Option<bool>,
    /// The groups it targets from now on.
    pub asset_groups: Option<Vec<Id>>,
    /// The IPs it targets from now on.
    pub ips: Option<IpSet>,
    /// A new assignee (policies and tickets); a ticket's validity follows it
    /// (R9.2).
    pub assignee: Option<Assignee>,
    /// `Some(false)` puts a deactivated schedule back in service.
    pub deactivated: Option<bool>,
}

/// The filters of `GET /api/v1/objects`; each narrows what the actor
/// sees, and none shows more.
#[derive(Debug, Clone, Default)]
pub struct ObjectFilter {
    /// Only objects of this kind.
    pub kind: Option<ObjectKind>,
    /// Only objects this user owns.
    pub owner: Option<Id>,
}

/// What a launch request found (R9.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// The schedule may run.
    Allowed(OwnedObject),
    /// Its owner is deactivated (or gone): the schedule is now deactivated,
    /// and that change is committed although the launch is refused.
    OwnerDeactivated(OwnedObject),
}

pub(crate) fn target(o: &OwnedObject) -> String {
    format!("{} {} ({})", o.kind.as_str(), o.name, o.id)
}

fn clean_name(v: &str) -> Result<String, Refusal> {
    let v = v.trim();
    super::validate::text("name", v, 200)?;
    Ok(v.to_owned())
}

/// Whether `user` may own an object of `kind` (see the module notes).
pub(crate) fn may_own(kind: ObjectKind, user: &User) -> Result<(), Refusal> {
    use ObjectKind::*;
    let role = user.role;
    let needs = |p: Permission| role == Role::Manager || user.permissions.contains(&p);
    let ok = match kind {
        ReportTemplate | ScheduledReport | SearchList => matches!(
            role,
            Role::Manager | Role::UnitManager | Role::Scanner | Role::Reader
        ),
        ScheduledScan | ScanResult | MapResult | RemediationTicket => {
            matches!(role, Role::Manager | Role::UnitManager | Role::Scanner)
        }
        OptionProfile => {
            matches!(role, Role::Manager | Role::UnitManager | Role::Scanner)
                && needs(Permission::CreateOptionProfiles)
        }
        AuthRecord => {
            matches!(role, Role::Manager | Role::UnitManager | Role::Scanner)
                && needs(Permission::ManageAuthRecords)
        }
        RemediationPolicy => {
            matches!(role, Role::Manager | Role::UnitManager)
                && needs(Permission::VmRemediationPolicy)
        }
    };
    if !ok {
        return Err(refuse(
            Code::RoleNotAllowed,
            format!(
                "{} ({}) may not own a {}; choose a user whose role and permissions allow it",
                name_of(user),
                role.as_str(),
                kind.as_str()
            ),
        ));
    }
    if user.status == UserStatus::Deactivated {
        return Err(refuse(
            Code::Conflict,
            format!(
                "{} is deactivated and cannot be given objects",
                name_of(user)
            ),
        ));
    }
    Ok(())
}

/// Whether `user` may be assigned a policy or ticket: the roles that work
/// tickets (R2.3).
fn may_be_assigned(user: &User) -> Result<(), Refusal> {
    if matches!(
        user.role,
        Role::Manager | Role::UnitManager | Role::Scanner | Role::Reader | Role::RemediationUser
    ) && user.status != UserStatus::Deactivated
    {
        Ok(())
    } else {
        Err(refuse(
            Code::RoleNotAllowed,
            format!(
                "assignee: {} ({}, {}) cannot work remediation tickets",
                name_of(user),
                user.role.as_str(),
                user.status.as_str()
            ),
        ))
    }
}

/// The assets an object targets: its IPs and its groups' assets ("All"
/// is its unit's).
pub(crate) fn targets_of(state: &State, o: &OwnedObject) -> AssetSet {
    let mut out = AssetSet {
        ips: o.ips.clone(),
        ..AssetSet::default()
    };
    for g in &o.asset_groups {
        if g == ALL {
            out = out.union(&all_for(state, o.business_unit.as_ref()));
        } else if let Some(group) = state.asset_groups.get(g) {
            out = out.union(&group.assets);
        }
    }
    out
}

/// R9.2: a ticket is valid while its assignee reaches all its assets.
pub(crate) fn ticket_valid(state: &State, o: &OwnedObject, reach: &mut ReachCache) -> bool {
    let Some(Assignee::User(u)) = &o.assignee else {
        return false;
    };
    let Some(user) = state.users.get(u) else {
        return false;
    };
    first_missing(reach.of(state, user), &targets_of(state, o)).is_none()
}

/// Reaches computed once per user within one command.
#[derive(Default)]
pub(crate) struct ReachCache(HashMap<Id, AssetSet>);

impl ReachCache {
    pub(crate) fn of(&mut self, state: &State, user: &User) -> &AssetSet {
        self.0
            .entry(user.id.clone())
            .or_insert_with(|| reach_of(state, user))
    }
}

/// Sets `valid` on every ticket from its assignee's reach now, logging each
/// change. Returns the tickets whose validity changed. Every ticket is
/// looked at: a unit's "All" spans its groups, so one group's change moves
/// the reach of every user of its units.
pub(crate) fn revalidate_tickets(tx: &mut Tx<'_>) -> Vec<OwnedObject> {
    let changed: Vec<OwnedObject> = {
        let state = tx.state();
        let mut reach = ReachCache::default();
        state
            .objects
            .values()
            .filter(|o| o.kind == ObjectKind::RemediationTicket)
            .filter_map(|o| {
                let valid = ticket_valid(state, o, &mut reach);
                (valid != o.valid).then(|| OwnedObject { valid, ..o.clone() })
            })
            .collect()
    };
    for t in &changed {
        tx.put_object(t.clone());
        let action = if t.valid {
            LogAction::TicketRevalidate
        } else {
            LogAction::TicketInvalidate
        };
        tx.log(action, target(t), "assignee's reach changed");
    }
    changed
}

fn is_assigned_to(o: &OwnedObject, user: &Id) -> bool {
    matches!(&o.assignee, Some(Assignee::User(u)) if u == user)
}

/// R6.5, as `authz` decides `view_auth_record`.
fn sees_auth_record(acting: &Acting<'_>, o: &OwnedObject) -> bool {
    matches!(acting.role(), Role::UnitManager | Role::Scanner)
        && (o.business_unit.is_none() || o.business_unit.as_ref() == acting.unit())
}

/// R6.5, as `authz` decides `edit_auth_record`.
fn edits_auth_record(acting: &Acting<'_>, o: &OwnedObject) -> Result<(), Refusal> {
    if !sees_auth_record(acting, o) {
        return Err(refuse(
            Code::Forbidden,
            "you do not edit this authentication record",
        ));
    }
    if !acting.has_permission(Permission::ManageAuthRecords) {
        return Err(refuse(
            Code::Forbidden,
            "editing authentication records needs the permission manage_auth_records",
        ));
    }
    match o.created_by_role {
        Role::Manager => Err(refuse(
            Code::Forbidden,
            "authentication records created by Managers are edited by Managers only (R6.5)",
        )),
        r if r != acting.role() => Err(refuse(
            Code::Forbidden,
            format!(
                "you edit authentication records created by your own role only; this one was created by a {} (R6.5)",
                r.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

/// R9 and R10.1: whether the actor sees `o`.
pub(crate) fn may_see(acting: &Acting<'_>, o: &OwnedObject, reach: &mut ReachCache) -> bool {
    if acting.is_manager() {
        return true;
    }
    let me = acting.id();
    let seen = o.global
        || o.owner.as_ref() == Some(me)
        || is_assigned_to(o, me)
        || (acting.is_unit_manager() && o.business_unit.as_ref() == acting.unit())
        || (o.kind == ObjectKind::AuthRecord && sees_auth_record(acting, o));
    if !seen {
        return false;
    }
    if o.kind.is_schedule()
        && acting
            .state
            .settings
            .visibility
            .restrict_scheduled_tasks_on_unassigned_assets
    {
        let targets = targets_of(acting.state, o);
        return first_missing(reach.of(acting.state, acting.user), &targets).is_none();
    }
    true
}

fn visible<'s>(acting: &Acting<'s>, id: &str) -> Result<&'s OwnedObject, Refusal> {
    acting
        .state
        .objects
        .get(id)
        .filter(|o| may_see(acting, o, &mut ReachCache::default()))
        .ok_or_else(|| refuse(Code::NotFound, format!("no object {id}")))
}

/// Whether the actor may change or delete `o` (it sees it already).
fn may_change(acting: &Acting<'_>, o: &OwnedObject) -> Result<(), Refusal> {
    if acting.is_manager() {
        return Ok(());
    }
    if o.kind == ObjectKind::AuthRecord {
        return edits_auth_record(acting, o);
    }
    let mine = o.owner.as_ref() == Some(acting.id());
    let my_unit = acting.is_unit_manager() && o.business_unit.as_ref() == acting.unit();
    if mine || my_unit {
        Ok(())
    } else {
        Err(refuse(
            Code::Forbidden,
            format!(
                "you change your own objects{} only; ask a Manager",
                if acting.is_unit_manager() {
                    " and those of your unit"
                } else {
                    ""
                }
            ),
        ))
    }
}

/// The user who is to own an object the actor creates or reassigns:
/// Managers give objects to anyone, Unit Managers to users of their unit,
/// everyone else only to itself.
fn owner_for<'s>(acting: &Acting<'s>, owner: Option<&Id>) -> Result<&'s User, Refusal> {
    let Some(id) = owner.filter(|o| *o != acting.id()) else {
        return Ok(acting.user);
    };
    let user = acting
        .visible_user(id)
        .map_err(|_| refuse(Code::Validation, format!("owner: there is no user {id}")))?;
    let allowed = acting.is_manager()
        || (acting.is_unit_manager() && user.business_unit.as_ref() == acting.unit());
    if !allowed {
        return Err(refuse(
            Code::Forbidden,
            if acting.is_unit_manager() {
                "owner: you give objects to users of your unit only"
            } else {
                "owner: you register objects for yourself only; ask a Manager"
            },
        ));
    }
    Ok(user)
}

fn check_targets(acting: &Acting<'_>, groups: &[Id]) -> Result<Vec<Id>, Refusal> {
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        if g != ALL && super::groups::get_group(acting, g).is_err() {
            return Err(refuse(
                Code::Validation,
                format!("asset_groups: there is no asset group {g}"),
            ));
        }
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    Ok(out)
}

fn check_assignee(
    acting: &Acting<'_>,
    kind: ObjectKind,
    assignee: Option<Assignee>,
) -> Result<Option<Assignee>, Refusal> {
    match (kind, assignee) {
        (ObjectKind::RemediationPolicy, None) => Ok(Some(Assignee::UserRunningScan)),
        (ObjectKind::RemediationTicket, None | Some(Assignee::UserRunningScan)) => Err(refuse(
            Code::Validation,
            "assignee: a remediation ticket is assigned to a user; give its id",
        )),
        (ObjectKind::RemediationPolicy | ObjectKind::RemediationTicket, Some(a)) => {
            if let Assignee::User(id) = &a {
                let user = acting.visible_user(id).map_err(|_| {
                    refuse(Code::Validation, format!("assignee: there is no user {id}"))
                })?;
                may_be_assigned(user)?;
            }
            Ok(Some(a))
        }
        (_, None) => Ok(None),
        (k, Some(_)) => Err(refuse(
            Code::Validation,
            format!(
                "assignee: only remediation policies and tickets have one, not a {}",
                k.as_str()
            ),
        )),
    }
}

fn check_global(acting: &Acting<'_>, kind: ObjectKind, global: bool) -> Result<(), Refusal> {
    if !global {
        return Ok(());
    }
    if !kind.may_be_global() {
        return Err(refuse(
            Code::Validation,
            format!(
                "global: only option profiles and report templates are global, not a {}",
                kind.as_str()
            ),
        ));
    }
    if !acting.is_manager() {
        return Err(refuse(
            Code::Forbidden,
            "global: Managers share objects with the whole subscription",
        ));
    }
    Ok(())
}

/// Registers an object. Action `object.create`.
pub fn create_object(tx: &mut Tx<'_>, id: Id, new: NewObject) -> Result<OwnedObject, Refusal> {
    let mut object = {
        let acting = Acting::from_tx(tx)?;
        if acting.state.objects.contains_key(&id) {
            return Err(refuse(Code::Conflict, format!("object id {id} exists")));
        }
        let name = clean_name(&new.name)?;
        let owner = owner_for(&acting, new.owner.as_ref())?;
        may_own(new.kind, owner)?;
        check_global(&acting, new.kind, new.global)?;
        let asset_groups = check_targets(&acting, &new.asset_groups)?;
        let assignee = check_assignee(&acting, new.kind, new.assignee)?;
        let o = OwnedObject {
            id,
            kind: new.kind,
            name,
            owner: Some(owner.id.clone()),
            created_by_role: owner.role,
            business_unit: owner.business_unit.clone(),
            global: new.global,
            asset_groups,
            ips: new.ips,
            assignee,
            valid: true,
            deactivated: false,
            created_at: tx.now(),
            updated_at: tx.now(),
        };
        if o.kind == ObjectKind::RemediationTicket && targets_of(acting.state, &o).is_empty() {
            return Err(refuse(
                Code::Validation,
                "ips: a remediation ticket names the assets it is about",
            ));
        }
        o
    };
    if object.kind == ObjectKind::RemediationTicket {
        object.valid = ticket_valid(tx.state(), &object, &mut ReachCache::default());
    }
    tx.put_object(object.clone());
    tx.log(
        LogAction::ObjectCreate,
        target(&object),
        describe(tx.state(), &object),
    );
    Ok(object)
}

fn describe(state: &State, o: &OwnedObject) -> String {
    let owner = o
        .owner
        .as_ref()
        .and_then(|id| state.users.get(id))
        .map_or_else(|| "none".to_owned(), name_of);
    let mut d = format!(
        "owner {owner}; unit {}",
        unit_name(state, o.business_unit.as_ref())
    );
    if o.global {
        d.push_str("; global");
    }
    if o.kind == ObjectKind::RemediationTicket && !o.valid {
        d.push_str("; invalid");
    }
    d
}

/// `GET /api/v1/objects/{id}`: `not_found` for an object the actor may not
/// see.
pub fn get_object<'s>(acting: &Acting<'s>, id: &str) -> Result<&'s OwnedObject, Refusal> {
    visible(acting, id)
}

/// The objects the actor sees, oldest first.
pub fn list_objects<'s>(acting: &Acting<'s>, filter: &ObjectFilter) -> Vec<&'s OwnedObject> {
    let mut reach = ReachCache::default();
    acting
        .state
        .objects
        .values()
        .filter(|o| filter.kind.is_none_or(|k| o.kind == k))
        .filter(|o| filter.owner.is_none() || o.owner == filter.owner)
        .filter(|o| may_see(acting, o, &mut reach))
        .collect()
}

/// Edits an object. Action `object.update`.
pub fn edit_object(tx: &mut Tx<'_>, id: &str, patch: ObjectPatch) -> Result<OwnedObject, Refusal> {
    let (before, mut after) = {
        let acting = Acting::from_tx(tx)?;
        let before = visible(&acting, id)?;
        may_change(&acting, before)?;
        let mut after = before.clone();
        if let Some(n) = &patch.name {
            after.name = clean_name(n)?;
        }
        if let Some(o) = &patch.owner {
            if !(acting.is_manager() || acting.is_unit_manager()) {
                return Err(refuse(
                    Code::Forbidden,
                    "owner: Managers and Unit Managers reassign objects",
                ));
            }
            let owner = owner_for(&acting, Some(o))?;
            may_own(after.kind, owner)?;
            after.owner = Some(owner.id.clone());
            after.business_unit = owner.business_unit.clone();
        }
        if let Some(g) = patch.global {
            check_global(&acting, after.kind, g)?;
            after.global = g;
        }
        if let Some(g) = &patch.asset_groups {
            after.asset_groups = check_targets(&acting, g)?;
        }
        if let Some(ips) = patch.ips {
            after.ips = ips;
        }
        if patch.assignee.is_some() {
            after.assignee = check_assignee(&acting, after.kind, patch.assignee)?;
        }
        if let Some(d) = patch.deactivated {
            if !after.kind.is_schedule() {
                return Err(refuse(
                    Code::Validation,
                    format!(
                        "status: only schedules are deactivated, not a {}",
                        after.kind.as_str()
                    ),
                ));
            }
            if !d && owner_deactivated(acting.state, &after) {
                return Err(refuse(
                    Code::ScheduleOwnerDeactivated,
                    "status: the schedule's owner is deactivated; give it to an active user first",
                ));
            }
            after.deactivated = d;
        }
        if after.kind == ObjectKind::RemediationTicket
            && targets_of(acting.state, &after).is_empty()
        {
            return Err(refuse(
                Code::Validation,
                "ips: a remediation ticket names the assets it is about",
            ));
        }
        (before.clone(), after)
    };
    if after.kind == ObjectKind::RemediationTicket {
        after.valid = ticket_valid(tx.state(), &after, &mut ReachCache::default());
    }
    let unchanged = after == before;
    if !unchanged {
        after.updated_at = tx.now();
        tx.put_object(after.clone());
    }
    let mut details = describe(tx.state(), &after);
    if unchanged {
        details.push_str("; no change");
    }
    if before.owner != after.owner {
        details.push_str("; owner changed");
    }
    if before.deactivated != after.deactivated {
        details.push_str(if after.deactivated {
            "; deactivated"
        } else {
            "; back in service"
        });
    }
    tx.log(LogAction::ObjectUpdate, target(&after), details);
    Ok(after)
}

/// Unregisters an object. Action `object.delete`.
pub fn delete_object(tx: &mut Tx<'_>, id: &str) -> Result<OwnedObject, Refusal> {
    let o = {
        let acting = Acting::from_tx(tx)?;
        let o = visible(&acting, id)?;
        may_change(&acting, o)?;
        o.clone()
    };
    tx.remove_object(&o.id);
    tx.log(
        LogAction::ObjectDelete,
        target(&o),
        describe(tx.state(), &o),
    );
    Ok(o)
}

fn owner_deactivated(state: &State, o: &OwnedObject) -> bool {
    o.owner
        .as_ref()
        .and_then(|id| state.users.get(id))
        .is_none_or(|u| u.status == UserStatus::Deactivated)
}

/// R9.3: a schedule asks whether it may launch. Allowed, the launch is
/// logged (`schedule.launch`); its owner deactivated, it is marked
/// deactivated (action `object.deactivate`) and refused.
pub fn launch(tx: &mut Tx<'_>, id: &str) -> Result<Launch, Refusal> {
    let o = {
        // A service acting for no user (the scheduler, with the objects
        // scope) sees the whole registry; anyone else sees what R10.1 shows.
        let o = if tx.actor().is_service() {
            tx.state()
                .objects
                .get(id)
                .ok_or_else(|| refuse(Code::NotFound, format!("no object {id}")))?
        } else {
            visible(&Acting::from_tx(tx)?, id)?
        };
        if !o.kind.is_schedule() {
            return Err(refuse(
                Code::Conflict,
                format!("only schedules launch; this is a {}", o.kind.as_str()),
            ));
        }
        if o.deactivated && !owner_deactivated(tx.state(), o) {
            return Err(refuse(
                Code::Conflict,
                "the schedule is deactivated; set its status to active (PATCH) before launching it",
            ));
        }
        o.clone()
    };
    if !owner_deactivated(tx.state(), &o) {
        // The seed's log has "launched a scan": the launch is an entry.
        tx.log(
            LogAction::ScheduleLaunch,
            target(&o),
            describe(tx.state(), &o),
        );
        return Ok(Launch::Allowed(o));
    }
    if o.deactivated {
        return Ok(Launch::OwnerDeactivated(o));
    }
    let marked = OwnedObject {
        deactivated: true,
        updated_at: tx.now(),
        ..o
    };
    tx.put_object(marked.clone());
    tx.log(
        LogAction::ObjectDeactivate,
        target(&marked),
        "launch refused: its owner is deactivated (R9.3)",
    );
    Ok(Launch::OwnerDeactivated(marked))
}

/// Where the remediation policies that apply to a unit come from (R5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyLevel {
    /// The unit has its own: they win.
    Unit,
    /// The unit has none: the subscription's (Unassigned) apply.
    Subscription,
    /// Neither has any.
    None,
}

impl PolicyLevel {
    /// The level's name in the API: `unit`, `subscription` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyLevel::Unit => "unit",
            PolicyLevel::Subscription => "subscription",
            PolicyLevel::None => "none",
        }
    }
}

/// R5.5: the remediation policies that apply to unit `unit_id`, oldest
/// first: the unit's own when it has any, else the subscription's. Asked by
/// anyone who may see the unit; the service that applies policies asks the
/// same.
pub fn remediation_policies_for<'s>(
    acting: &Acting<'s>,
    unit_id: &str,
) -> Result<(PolicyLevel, Vec<&'s OwnedObject>), Refusal> {
    let unit = super::units::visible_unit(acting, unit_id)?;
    let of = |place: Option<&Id>| -> Vec<&'s OwnedObject> {
        let mut v: Vec<&OwnedObject> = acting
            .state
            .objects
            .values()
            .filter(|o| {
                o.kind == ObjectKind::RemediationPolicy && o.business_unit.as_ref() == place
            })
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    };
    let own = of(Some(&unit.id));
    if !own.is_empty() {
        return Ok((PolicyLevel::Unit, own));
    }
    let subscription = of(None);
    if subscription.is_empty() {
        Ok((PolicyLevel::None, subscription))
    } else {
        Ok((PolicyLevel::Subscription, subscription))
    }
}
