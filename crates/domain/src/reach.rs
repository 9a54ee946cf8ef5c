//! What each user reaches (R6.2, R6.3, R6.4): the subscription's and a
//! unit's "All", and the union of a user's groups. Pure queries on the
//! state, used by assets, groups, objects, moves and account info alike;
//! they depend on none of those modules, so none depends on another for
//! them.

use super::ipset::IpSet;
use super::{AssetGroup, AssetSet, Id, Role, State, User};

/// The id of the built-in group "All" (R6.2). Generated ids are 26
/// characters, so this never names a stored group.
pub const ALL: &str = "all";

/// Whether a user of `unit` may hold `group` (R6.3).
pub(crate) fn assignable(group: &AssetGroup, unit: Option<&Id>) -> bool {
    match unit {
        None => true,
        Some(u) => group.business_units.contains(u),
    }
}

/// The subscription's "All" (R6.2): every IP, domain and appliance.
pub fn subscription_all(state: &State) -> AssetSet {
    AssetSet {
        ips: state.assets.ips.clone(),
        domains: state.assets.domains.clone(),
        scanner_appliances: state.appliances.keys().cloned().collect(),
    }
}

/// A unit's "All" (R6.2, R3.1): its assigned assets, its appliances and the
/// assets of the groups linked to it, leaving out group `except` (a group
/// being edited must not vouch for itself).
pub(crate) fn unit_all_except(state: &State, unit: &Id, except: Option<&Id>) -> AssetSet {
    let mut all = state
        .unit_assets
        .get(unit)
        .map(|u| u.assets.clone())
        .unwrap_or_default();
    all.scanner_appliances.extend(
        state
            .appliances
            .values()
            .filter(|a| a.business_unit.as_ref() == Some(unit))
            .map(|a| a.id.clone()),
    );
    let mut ips = vec![all.ips.clone()];
    for g in state.asset_groups.values() {
        if g.business_units.contains(unit) && Some(&g.id) != except {
            ips.push(g.assets.ips.clone());
            all.domains.extend(g.assets.domains.iter().cloned());
            all.scanner_appliances
                .extend(g.assets.scanner_appliances.iter().cloned());
        }
    }
    all.ips = IpSet::from_ranges(
        ips.iter()
            .flat_map(|s| s.ranges().iter().copied())
            .collect(),
    );
    all
}

pub(crate) fn unit_all(state: &State, unit: &Id) -> AssetSet {
    unit_all_except(state, unit, None)
}

/// The "All" of a user's unit: the unit's for unit users, the
/// subscription's for Unassigned ones (R6.2).
pub fn all_for(state: &State, unit: Option<&Id>) -> AssetSet {
    match unit {
        Some(u) => unit_all(state, u),
        None => subscription_all(state),
    }
}

/// What a user may scan, map and use (R6.4): everything for Managers, the
/// unit's "All" for Unit Managers, else the union of its groups. The
/// authorization index computes the same from its own caches; this is the
/// plain definition it is tested against.
pub fn reach_of(state: &State, user: &User) -> AssetSet {
    match user.role {
        Role::Manager => subscription_all(state),
        Role::UnitManager => all_for(state, user.business_unit.as_ref()),
        _ => {
            let mut out = AssetSet::default();
            for g in &user.asset_groups {
                if g == ALL {
                    out = out.union(&all_for(state, user.business_unit.as_ref()));
                } else if let Some(group) = state.asset_groups.get(g)
                    && assignable(group, user.business_unit.as_ref())
                {
                    out = out.union(&group.assets);
                }
            }
            out
        }
    }
}

/// The first asset of `want` that `have` lacks, for messages.
pub(crate) fn first_missing(have: &AssetSet, want: &AssetSet) -> Option<String> {
    let ips = want.ips.difference(&have.ips);
    if let Some(first) = ips.to_strings().into_iter().next() {
        return Some(format!("IPs {first}"));
    }
    if let Some(d) = want.domains.difference(&have.domains).next() {
        return Some(format!("domain {d}"));
    }
    want.scanner_appliances
        .difference(&have.scanner_appliances)
        .next()
        .map(|a| format!("scanner appliance {a}"))
}
