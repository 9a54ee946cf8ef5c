//! Asset groups (R6.2, R6.3, R2.4) and distribution groups (R12.1).
//!
//! The one thing to know: a group may only name assets its owner reaches —
//! the subscription's "All" for Managers and User Administrators, the unit's
//! "All" (without the group itself) for Unit Managers — and a user may only
//! be assigned groups of its own unit (any group when Unassigned, R6.3), or
//! the built-in "All" ([`ALL`]), which is not stored: it is computed from
//! the user's unit whenever asked (R6.2).
//!
//! Who (R2.4, R2.2): Managers create, edit and delete every group; User
//! Administrators create and edit but never delete; Unit Managers create
//! groups in their own unit and edit and delete the groups linked to their
//! unit alone. Titles are unique, case-insensitively, among the groups of
//! each unit (and among subscription-level groups); "All" is reserved.
//! Deleting a group takes it off every user it was assigned to.
//!
//! Distribution groups (`{name, members, emails}`) are managed by Managers,
//! User Administrators (who never delete them, R2.4) and Unit Managers
//! (those they created). [`recipients_reached`] resolves one to addresses
//! for the notifications outbox.
//!
//! ```
//! use bailiwick_domain::groups::ALL;
//! assert_eq!(ALL, "all");
//! ```

use std::collections::BTreeSet;

use super::access::{Acting, name_of, unit_name};
pub use super::reach::ALL;
use super::reach::{assignable, first_missing, subscription_all, unit_all_except};
use super::{
    AssetGroup, AssetSet, Code, DistributionGroup, Id, Refusal, Role, State, Tx, User, UserStatus,
    validate,
};
use crate::LogAction;

/// The built-in group's title (R6.2); no stored group may take it, in any
/// case.
pub const ALL_TITLE: &str = "All";

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

/// R6.3: every group of `groups` exists (or is "All") and may be held by a
/// user of `unit`. Users call this when groups or the unit change.
pub(crate) fn check_assignment(
    state: &State,
    unit: Option<&Id>,
    groups: &[Id],
) -> Result<(), Refusal> {
    for g in groups {
        if g == ALL {
            continue;
        }
        let Some(group) = state.asset_groups.get(g) else {
            return Err(refuse(
                Code::Validation,
                format!("asset_groups: there is no asset group {g}"),
            ));
        };
        if !assignable(group, unit) {
            return Err(refuse(
                Code::Validation,
                format!(
                    "asset_groups: {:?} is not a group of {}; a user may hold only its unit's groups (or \"all\")",
                    group.title,
                    unit_name(state, unit)
                ),
            ));
        }
    }
    Ok(())
}

/// `POST /api/v1/asset-groups`. `business_units: None` means the creator's
/// unit for Unit Managers, subscription level for everyone else.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    /// Unique, case-insensitively, within each unit the group is linked to and
    /// among subscription-level groups.
    pub title: String,
    /// What the group names: only assets its owner reaches (a unit's groups
    /// hold only the unit's assets, R6.2).
    pub assets: AssetSet,
    /// The units whose users may hold the group (R6.3); empty is
    /// subscription level. A Unit Manager links its own unit alone.
    pub business_units: Option<BTreeSet<Id>>,
}

/// `PATCH /api/v1/asset-groups/{id}`: `None` leaves a field alone; a list
/// replaces the old one.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    /// A new title, unique as at creation.
    pub title: Option<String>,
    /// The IPs it names from now on.
    pub ips: Option<super::ipset::IpSet>,
    /// The domains it names from now on.
    pub domains: Option<BTreeSet<String>>,
    /// The appliances it names from now on.
    pub scanner_appliances: Option<BTreeSet<Id>>,
    /// The units linked from now on (R6.3).
    pub business_units: Option<BTreeSet<Id>>,
}

fn target(g: &AssetGroup) -> String {
    format!("asset group {} ({})", g.title, g.id)
}

fn clean_title(t: &str) -> Result<String, Refusal> {
    let t = t.trim();
    super::validate::text("title", t, 100)?;
    if t.eq_ignore_ascii_case(ALL_TITLE) {
        return Err(refuse(
            Code::Validation,
            "title: \"All\" is the built-in group; choose another title",
        ));
    }
    Ok(t.to_owned())
}

/// The group other than `except` whose title would clash with `title` for
/// a group linked to `units` (none: subscription level).
pub(crate) fn title_clash<'s>(
    state: &'s State,
    title: &str,
    units: &BTreeSet<Id>,
    except: &str,
) -> Option<&'s AssetGroup> {
    state.asset_groups.values().find(|o| {
        o.id != except
            && o.title.eq_ignore_ascii_case(title)
            && (o.business_units.is_empty() && units.is_empty()
                || !o.business_units.is_disjoint(units))
    })
}

/// Titles are unique within each unit the group is linked to, and among
/// subscription-level groups.
fn check_title(state: &State, g: &AssetGroup) -> Result<(), Refusal> {
    match title_clash(state, &g.title, &g.business_units, &g.id) {
        Some(o) => {
            let place = o
                .business_units
                .intersection(&g.business_units)
                .next()
                .map_or_else(
                    || "the subscription".to_owned(),
                    |u| unit_name(state, Some(u)),
                );
            Err(refuse(
                Code::Conflict,
                format!(
                    "{place} already has an asset group titled {:?}; choose another title",
                    o.title
                ),
            ))
        }
        None => Ok(()),
    }
}

/// Who may create groups at all, and where.
fn may_create(acting: &Acting<'_>) -> Result<(), Refusal> {
    match acting.role() {
        Role::Manager | Role::UserAdministrator | Role::UnitManager => Ok(()),
        _ => Err(refuse(
            Code::Forbidden,
            "only Managers, User Administrators and Unit Managers create asset groups",
        )),
    }
}

/// R2.2: a Unit Manager changes only groups linked to its unit alone.
fn may_change(acting: &Acting<'_>, g: &AssetGroup, deleting: bool) -> Result<(), Refusal> {
    match acting.role() {
        Role::Manager => Ok(()),
        Role::UserAdministrator if deleting => Err(refuse(
            Code::Forbidden,
            "User Administrators do not delete asset groups (R2.4); ask a Manager",
        )),
        Role::UserAdministrator => Ok(()),
        Role::UnitManager
            if acting
                .unit()
                .is_some_and(|u| g.business_units.len() == 1 && g.business_units.contains(u)) =>
        {
            Ok(())
        }
        Role::UnitManager => Err(refuse(
            Code::Forbidden,
            format!(
                "you change the asset groups of {} only; ask a Manager",
                unit_name(acting.state, acting.unit())
            ),
        )),
        _ => Err(refuse(
            Code::Forbidden,
            "only Managers, User Administrators and Unit Managers change asset groups",
        )),
    }
}

/// The assets a group owned by `owner` (the editor when the owner is gone)
/// may name: Managers and User Administrators are Unassigned and reach the
/// subscription's "All"; anyone in a unit reaches that unit's "All".
fn owner_reach(state: &State, owner: Option<&User>, editor: &Acting<'_>, except: &Id) -> AssetSet {
    let unit = match owner {
        Some(o) => o.business_unit.as_ref(),
        None => editor.unit(),
    };
    match unit {
        Some(u) => unit_all_except(state, u, Some(except)),
        None => subscription_all(state),
    }
}

fn check_units(acting: &Acting<'_>, units: &BTreeSet<Id>) -> Result<(), Refusal> {
    for u in units {
        if !acting.state.units.contains_key(u) {
            return Err(refuse(
                Code::Validation,
                format!("business_units: there is no business unit {u}"),
            ));
        }
    }
    if acting.is_unit_manager() {
        let own = acting.unit();
        if units.len() != 1 || own.is_none_or(|o| !units.contains(o)) {
            return Err(refuse(
                Code::Forbidden,
                format!(
                    "business_units: your groups belong to {} alone",
                    unit_name(acting.state, own)
                ),
            ));
        }
    }
    Ok(())
}

fn check_reach(acting: &Acting<'_>, g: &AssetGroup) -> Result<(), Refusal> {
    let owner = acting.state.users.get(&g.owner);
    let reach = owner_reach(acting.state, owner, acting, &g.id);
    if let Some(m) = first_missing(&reach, &g.assets) {
        let who = owner.map_or_else(|| "its owner".to_owned(), name_of);
        return Err(refuse(
            Code::Validation,
            format!("{m} is not among the assets {who} reaches; add or assign it first"),
        ));
    }
    Ok(())
}

/// Creates an asset group owned by the actor. Action `asset_group.create`.
pub fn create_group(tx: &mut Tx<'_>, id: Id, new: NewGroup) -> Result<AssetGroup, Refusal> {
    let group = {
        let acting = Acting::from_tx(tx)?;
        may_create(&acting)?;
        if id == ALL || acting.state.asset_groups.contains_key(&id) {
            return Err(refuse(
                Code::Conflict,
                format!("asset group id {id} exists"),
            ));
        }
        let title = clean_title(&new.title)?;
        let business_units = match new.business_units {
            Some(u) => u,
            None if acting.is_unit_manager() => acting.unit().into_iter().cloned().collect(),
            None => BTreeSet::new(),
        };
        check_units(&acting, &business_units)?;
        let g = AssetGroup {
            id,
            title,
            assets: new.assets,
            business_units,
            owner: acting.id().clone(),
            created_by_role: acting.role(),
            created_at: tx.now(),
        };
        check_title(acting.state, &g)?;
        check_reach(&acting, &g)?;
        g
    };
    tx.put_asset_group(group.clone());
    let units: Vec<String> = group
        .business_units
        .iter()
        .map(|u| unit_name(tx.state(), Some(u)))
        .collect();
    tx.log(
        LogAction::AssetGroupCreate,
        target(&group),
        format!(
            "{} IP ranges, {} domains, {} appliances; units [{}]",
            group.assets.ips.ranges().len(),
            group.assets.domains.len(),
            group.assets.scanner_appliances.len(),
            units.join(", ")
        ),
    );
    Ok(group)
}

fn visible_group<'s>(acting: &Acting<'s>, id: &str) -> Result<&'s AssetGroup, Refusal> {
    acting
        .state
        .asset_groups
        .get(id)
        .filter(|g| may_see(acting, g))
        .ok_or_else(|| refuse(Code::NotFound, format!("no asset group {id}")))
}

fn may_see(acting: &Acting<'_>, g: &AssetGroup) -> bool {
    acting.sees_everyone() || assignable(g, acting.unit())
}

/// Edits a group; lists replace the old ones. Action `asset_group.update`.
pub fn edit_group(tx: &mut Tx<'_>, id: &str, patch: GroupPatch) -> Result<AssetGroup, Refusal> {
    let (before, after) = {
        let acting = Acting::from_tx(tx)?;
        let before = visible_group(&acting, id)?;
        may_change(&acting, before, false)?;
        let mut after = before.clone();
        if let Some(t) = &patch.title {
            after.title = clean_title(t)?;
        }
        if let Some(ips) = patch.ips {
            after.assets.ips = ips;
        }
        if let Some(d) = patch.domains {
            after.assets.domains = d;
        }
        if let Some(a) = patch.scanner_appliances {
            after.assets.scanner_appliances = a;
        }
        if let Some(u) = patch.business_units {
            check_units(&acting, &u)?;
            after.business_units = u;
        }
        check_title(acting.state, &after)?;
        check_reach(&acting, &after)?;
        // Users who hold the group must still be allowed to (R6.3).
        if after.business_units != before.business_units
            && let Some(u) = acting.state.users.values().find(|u| {
                u.asset_groups.contains(&after.id) && !assignable(&after, u.business_unit.as_ref())
            })
        {
            return Err(refuse(
                Code::Conflict,
                format!(
                    "{} holds this group and is in {}; keep that unit linked or take the group from the user first",
                    name_of(u),
                    unit_name(acting.state, u.business_unit.as_ref())
                ),
            ));
        }
        (before.clone(), after)
    };
    tx.put_asset_group(after.clone());
    let mut d = Vec::new();
    if before.title != after.title {
        d.push(format!("title {:?} -> {:?}", before.title, after.title));
    }
    if before.assets.ips != after.assets.ips {
        d.push(format!("{} IP ranges", after.assets.ips.ranges().len()));
    }
    if before.assets.domains != after.assets.domains {
        d.push(format!("{} domains", after.assets.domains.len()));
    }
    if before.assets.scanner_appliances != after.assets.scanner_appliances {
        d.push(format!(
            "{} appliances",
            after.assets.scanner_appliances.len()
        ));
    }
    if before.business_units != after.business_units {
        d.push(format!("{} units", after.business_units.len()));
    }
    let details = if d.is_empty() {
        "no change".to_owned()
    } else {
        d.join("; ")
    };
    tx.log(LogAction::AssetGroupUpdate, target(&after), details);
    Ok(after)
}

/// Deletes a group and takes it off its users. Action `asset_group.delete`.
pub fn delete_group(tx: &mut Tx<'_>, id: &str) -> Result<AssetGroup, Refusal> {
    let group = {
        let acting = Acting::from_tx(tx)?;
        let g = visible_group(&acting, id)?;
        may_change(&acting, g, true)?;
        g.clone()
    };
    tx.remove_asset_group(&group.id);
    let holders: Vec<User> = tx
        .state()
        .users
        .values()
        .filter(|u| u.asset_groups.contains(&group.id))
        .map(|u| {
            let mut u = u.clone();
            u.asset_groups.retain(|g| g != &group.id);
            u
        })
        .collect();
    let n = holders.len();
    for u in holders {
        tx.put_user(u);
    }
    tx.log(
        LogAction::AssetGroupDelete,
        target(&group),
        format!("deleted; taken from {n} users"),
    );
    Ok(group)
}

/// `GET /api/v1/asset-groups`: every group for Managers and User
/// Administrators, the groups a unit's users may hold otherwise (all for
/// Unassigned users, R6.3); `unit` filters to one unit's groups.
pub fn list_groups<'s>(acting: &Acting<'s>, unit: Option<&Id>) -> Vec<&'s AssetGroup> {
    acting
        .state
        .asset_groups
        .values()
        .filter(|g| may_see(acting, g))
        .filter(|g| unit.is_none_or(|u| g.business_units.contains(u)))
        .collect()
}

/// `GET /api/v1/asset-groups/{id}`: `not_found` for a group the actor may
/// not see (one not linked to its unit, unless it sees everyone).
pub fn get_group<'s>(acting: &Acting<'s>, id: &str) -> Result<&'s AssetGroup, Refusal> {
    visible_group(acting, id)
}

// ---------------------------------------------------------------------------
// Distribution groups

/// `POST /api/v1/distribution-groups`.
#[derive(Debug, Clone, Default)]
pub struct NewDistribution {
    /// Unique among distribution groups, case-insensitively.
    pub name: String,
    /// Users it sends to; each one the creator can see (R10.1).
    pub members: Vec<Id>,
    /// Plain addresses it sends to, besides its members (R12.1).
    pub emails: Vec<String>,
}

/// `PATCH /api/v1/distribution-groups/{id}`: lists replace.
#[derive(Debug, Clone, Default)]
pub struct DistributionPatch {
    /// A new name, unique as at creation.
    pub name: Option<String>,
    /// The members from now on; members the editor cannot see may stay, but
    /// none can be added.
    pub members: Option<Vec<Id>>,
    /// The plain addresses from now on.
    pub emails: Option<Vec<String>>,
}

fn dtarget(g: &DistributionGroup) -> String {
    format!("distribution group {} ({})", g.name, g.id)
}

fn may_manage_distribution(acting: &Acting<'_>) -> Result<(), Refusal> {
    if matches!(
        acting.role(),
        Role::Manager | Role::UserAdministrator | Role::UnitManager
    ) {
        Ok(())
    } else {
        Err(refuse(
            Code::Forbidden,
            "only Managers, User Administrators and Unit Managers manage distribution groups",
        ))
    }
}

/// `before` is the group before an edit: a member already in it needs only
/// to exist, not to be in the editor's sight (R10.1). Someone who saw that
/// user put it there, and a list the editor cannot see whole must still be
/// its to rename or extend.
fn check_distribution(
    acting: &Acting<'_>,
    g: &DistributionGroup,
    before: Option<&DistributionGroup>,
) -> Result<(), Refusal> {
    let name = g.name.as_str();
    super::validate::text("name", name, 100)?;
    if g.members.len() > 10_000 || g.emails.len() > 10_000 {
        return Err(refuse(
            Code::Validation,
            "members, emails: at most 10000 each",
        ));
    }
    for m in &g.members {
        let kept =
            before.is_some_and(|b| b.members.contains(m)) && acting.state.users.contains_key(m);
        if !kept && acting.visible_user(m).is_err() {
            return Err(refuse(
                Code::Validation,
                format!("members: there is no user {m}"),
            ));
        }
    }
    for e in &g.emails {
        validate::email("emails", e)?;
    }
    if acting
        .state
        .distribution_groups
        .values()
        .any(|o| o.id != g.id && o.name.eq_ignore_ascii_case(name))
    {
        return Err(refuse(
            Code::Conflict,
            format!("a distribution group named {name:?} exists; choose another name"),
        ));
    }
    Ok(())
}

fn dedup(v: Vec<String>, fold: bool) -> Vec<String> {
    let mut seen = BTreeSet::new();
    v.into_iter()
        .filter(|x| seen.insert(if fold { x.to_lowercase() } else { x.clone() }))
        .collect()
}

/// Creates a distribution group. Action `distribution_group.create`.
pub fn create_distribution_group(
    tx: &mut Tx<'_>,
    id: Id,
    new: NewDistribution,
) -> Result<DistributionGroup, Refusal> {
    let g = {
        let acting = Acting::from_tx(tx)?;
        may_manage_distribution(&acting)?;
        if acting.state.distribution_groups.contains_key(&id) {
            return Err(refuse(
                Code::Conflict,
                format!("distribution group id {id} exists"),
            ));
        }
        let g = DistributionGroup {
            id,
            name: new.name.trim().to_owned(),
            members: dedup(new.members, false),
            emails: dedup(new.emails, true),
            created_by: acting.id().clone(),
            created_at: tx.now(),
        };
        check_distribution(&acting, &g, None)?;
        g
    };
    tx.put_distribution_group(g.clone());
    tx.log(
        LogAction::DistributionGroupCreate,
        dtarget(&g),
        format!("{} members, {} addresses", g.members.len(), g.emails.len()),
    );
    Ok(g)
}

fn own_distribution<'s>(
    acting: &Acting<'s>,
    id: &str,
    deleting: bool,
) -> Result<&'s DistributionGroup, Refusal> {
    may_manage_distribution(acting)?;
    let g = acting
        .state
        .distribution_groups
        .get(id)
        .ok_or_else(|| refuse(Code::NotFound, format!("no distribution group {id}")))?;
    if deleting && acting.is_user_admin() {
        return Err(refuse(
            Code::Forbidden,
            "User Administrators do not delete distribution groups (R2.4); ask a Manager",
        ));
    }
    if acting.is_unit_manager() && &g.created_by != acting.id() {
        return Err(refuse(
            Code::Forbidden,
            "Unit Managers change the distribution groups they created only",
        ));
    }
    Ok(g)
}

/// Edits a distribution group. Action `distribution_group.update`.
pub fn edit_distribution_group(
    tx: &mut Tx<'_>,
    id: &str,
    patch: DistributionPatch,
) -> Result<DistributionGroup, Refusal> {
    let g = {
        let acting = Acting::from_tx(tx)?;
        let before = own_distribution(&acting, id, false)?;
        let mut g = before.clone();
        if let Some(n) = patch.name {
            g.name = n.trim().to_owned();
        }
        if let Some(m) = patch.members {
            g.members = dedup(m, false);
        }
        if let Some(e) = patch.emails {
            g.emails = dedup(e, true);
        }
        check_distribution(&acting, &g, Some(before))?;
        g
    };
    tx.put_distribution_group(g.clone());
    tx.log(
        LogAction::DistributionGroupUpdate,
        dtarget(&g),
        format!("{} members, {} addresses", g.members.len(), g.emails.len()),
    );
    Ok(g)
}

/// Deletes a distribution group. Action `distribution_group.delete`.
pub fn delete_distribution_group(tx: &mut Tx<'_>, id: &str) -> Result<DistributionGroup, Refusal> {
    let g = {
        let acting = Acting::from_tx(tx)?;
        own_distribution(&acting, id, true)?.clone()
    };
    tx.remove_distribution_group(&g.id);
    tx.log(LogAction::DistributionGroupDelete, dtarget(&g), "deleted");
    Ok(g)
}

/// The groups those who manage them may name (e.g. as recipients).
pub fn list_distribution_groups<'s>(
    acting: &Acting<'s>,
) -> Result<Vec<&'s DistributionGroup>, Refusal> {
    may_manage_distribution(acting)?;
    Ok(acting.state.distribution_groups.values().collect())
}

/// `GET /api/v1/distribution-groups`: Unit Managers read the groups made
/// in their unit only (R2.2, R10.1): other units' and the Managers' member
/// lists and plain addresses are not theirs to read. Show each with
/// [`shown_distribution`].
pub fn readable_distribution_groups<'s>(
    acting: &Acting<'s>,
) -> Result<Vec<&'s DistributionGroup>, Refusal> {
    Ok(list_distribution_groups(acting)?
        .into_iter()
        .filter(|g| sees_distribution(acting, g))
        .collect())
}

fn sees_distribution(acting: &Acting<'_>, g: &DistributionGroup) -> bool {
    if !acting.is_unit_manager() {
        return true;
    }
    &g.created_by == acting.id()
        || acting
            .state
            .users
            .get(&g.created_by)
            .is_some_and(|u| u.business_unit.as_ref() == acting.unit())
}

/// Group `g` as `acting` may read it: members it may not see (R10.1) left
/// out, as every list leaves them out.
pub fn shown_distribution(acting: &Acting<'_>, g: &DistributionGroup) -> DistributionGroup {
    let mut shown = g.clone();
    shown.members.retain(|m| {
        acting
            .state
            .users
            .get(m)
            .is_some_and(|u| acting.may_see_user(u))
    });
    shown
}

/// One address a notification goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The member user, `None` for a plain address of the group.
    pub user: Option<Id>,
    /// The address the mail goes to: the user's as of now, or the plain one.
    pub email: String,
}

/// The addresses a notification to distribution group `id` goes to: its
/// members that are not deactivated (R7.3: deactivated users, Contacts
/// included, get no email) and its plain addresses, each address once
/// (case-insensitively). Members that no longer exist are skipped. The
/// daemon always sends as someone, through [`recipients_reached`].
#[cfg(test)]
pub(crate) fn recipients_of(state: &State, id: &str) -> Result<Vec<Recipient>, Refusal> {
    recipients_reached(state, id, |_| true)
}

/// The addresses a notification to distribution group `id` goes to, for a
/// sender who reaches only the members `reach` accepts (its R10.1 sight of
/// users): the members that are not deactivated and the plain addresses. A member left out does not stand in
/// for a plain address of the group that happens to be its address: that
/// address still gets the email.
pub fn recipients_reached(
    state: &State,
    id: &str,
    reach: impl Fn(&User) -> bool,
) -> Result<Vec<Recipient>, Refusal> {
    let g = state
        .distribution_groups
        .get(id)
        .ok_or_else(|| refuse(Code::NotFound, format!("no distribution group {id}")))?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for m in &g.members {
        if let Some(u) = state.users.get(m)
            && u.status != UserStatus::Deactivated
            && reach(u)
            && seen.insert(u.email.to_lowercase())
        {
            out.push(Recipient {
                user: Some(u.id.clone()),
                email: u.email.clone(),
            });
        }
    }
    for e in &g.emails {
        if seen.insert(e.to_lowercase()) {
            out.push(Recipient {
                user: None,
                email: e.clone(),
            });
        }
    }
    Ok(out)
}
