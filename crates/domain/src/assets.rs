//! Assets (R6.1, R3.1, R3.2, R5.4): the subscription's IPs and domains, the
//! assets assigned to units, scanner appliances, and what each user reaches.
//!
//! The one thing to know: an asset exists in the subscription first. A
//! Manager adds it there (and may assign it to a unit); a Unit Manager or
//! Scanner holding `add_assets` adds it to the subscription *and* to its own
//! unit, counting the IPs new to the subscription against the unit's new-IP
//! limit (R3.2). Removing goes the other way: only Managers remove assets
//! from the subscription (R5.4), and the removal reaches every unit and
//! every asset group, so nothing ever names an asset the subscription lacks.
//!
//! Decided here (the rules are silent):
//! - The new-IP limit is a budget over time: a unit's users together add at
//!   most that many IPs new to the subscription, counted when added
//!   (`UnitAssets::new_ips_added`). A request that would pass it is refused
//!   whole. Managers are not limited.
//! - Domains are removed by Managers only too: removing an asset from the
//!   subscription takes it from every unit and group.
//! - Physical appliances are registered by Managers; virtual ones also by
//!   holders of `manage_virtual_scanners`, offline ones by holders of
//!   `manage_offline_scanners`, in their own unit (R5).
//!
//! A unit's "All" (R6.2) is its assigned assets, its appliances, and the
//! assets of every group linked to it (R3.1); the subscription's "All" is
//! every IP, domain and appliance.
//!
//! ```
//! use bailiwick_domain::assets::normalise_domain;
//! assert_eq!(normalise_domain("WWW.Example.COM.").unwrap(), "www.example.com");
//! assert!(normalise_domain("10.0.0.1").is_err());
//! ```

use std::collections::BTreeSet;

use super::access::{Acting, unit_name};
use super::ipset::IpSet;
// The domain's tests name it through this module.
#[cfg(test)]
pub(crate) use super::reach::unit_all;
pub use super::reach::{all_for, reach_of, subscription_all};
use super::reach::{first_missing, unit_all_except};
use super::{
    ApplianceKind, AssetSet, Code, Id, Permission, Refusal, Role, ScannerAppliance, State, Tx,
    UnitAssets, units,
};
use crate::LogAction;

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

/// At most this many domains in one request.
pub const MAX_DOMAINS: usize = 10_000;

/// A domain name as stored: lower case, no trailing dot, LDH labels of 1 to
/// 63 characters, at least two labels, a top-level label that is not all
/// digits (so that an IP address is never taken for a domain).
pub fn normalise_domain(d: &str) -> Result<String, String> {
    let lower = d.trim_end_matches('.').to_ascii_lowercase();
    if lower.is_empty() || lower.len() > 253 {
        return Err("is not a domain name like example.com".into());
    }
    if !lower.is_ascii() {
        return Err("has non-ASCII characters; give the punycode form (xn--...)".into());
    }
    let labels: Vec<&str> = lower.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err("is not a domain name like example.com".into());
    }
    if labels
        .last()
        .is_some_and(|t| t.bytes().all(|c| c.is_ascii_digit()))
    {
        return Err("is an address, not a domain name; give IPs in ips".into());
    }
    Ok(lower)
}

/// Parses a request's domains; `field` names the list in errors.
pub fn parse_domains<S: AsRef<str>>(field: &str, items: &[S]) -> Result<BTreeSet<String>, Refusal> {
    if items.len() > MAX_DOMAINS {
        return Err(refuse(
            Code::Validation,
            format!("{field}: at most {MAX_DOMAINS} items per request"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let d = d.as_ref();
            normalise_domain(d).map_err(|why| {
                let shown: String = d.chars().take(100).collect();
                refuse(
                    Code::Validation,
                    format!("{field}: item {} {shown:?} {why}", i + 1),
                )
            })
        })
        .collect()
}

/// Parses a request's IPs into a set; `field` names the list in errors.
pub fn parse_ips<S: AsRef<str>>(field: &str, items: &[S]) -> Result<IpSet, Refusal> {
    IpSet::parse_list(field, items).map_err(|m| refuse(Code::Validation, m))
}

/// What an add did, for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// How many of the IPs were new to the subscription.
    pub new_ips: u128,
    /// The unit the assets were also added to, if any.
    pub business_unit: Option<Id>,
}

/// `POST /api/v1/assets`: adds IPs and domains (R5 `add_assets`, R3.2).
/// Managers add to the subscription, and to `unit` when given; others add
/// to the subscription and to their own unit. Action `assets.add`.
pub fn add_assets(
    tx: &mut Tx<'_>,
    ips: IpSet,
    domains: BTreeSet<String>,
    unit: Option<Id>,
) -> Result<Added, Refusal> {
    let (target_unit, new_ips, over_budget) = {
        let acting = Acting::from_tx(tx)?;
        if !acting.has_permission(Permission::AddAssets) {
            return Err(refuse(
                Code::Forbidden,
                "adding assets needs the add_assets permission; ask a Manager",
            ));
        }
        let target_unit = placement(&acting, unit, "add assets to")?;
        if ips.is_empty() && domains.is_empty() {
            return Err(refuse(
                Code::Validation,
                "ips, domains: give at least one IP or domain to add",
            ));
        }
        let new_ips = ips.difference(&acting.state.assets.ips).count();
        let mut counted = None;
        if !acting.is_manager()
            && let Some(u) = &target_unit
        {
            let used = acting
                .state
                .unit_assets
                .get(u)
                .map_or(0, |a| a.new_ips_added);
            if let Some(limit) = units::effective_new_ip_limit(acting.state, u) {
                let after = u128::from(used).saturating_add(new_ips);
                if after > u128::from(limit) {
                    return Err(refuse(
                        Code::IpLimitExceeded,
                        format!(
                            "these IPs include {new_ips} new to the subscription; {} may add {} more (limit {limit}, {used} added); nothing was added, ask a Manager to raise the limit or to add them",
                            unit_name(acting.state, Some(u)),
                            limit.saturating_sub(used)
                        ),
                    ));
                }
            }
            counted = Some(used.saturating_add(u64::try_from(new_ips).unwrap_or(u64::MAX)));
        }
        (target_unit, new_ips, counted)
    };
    let mut sub = tx.state().assets.clone();
    sub.ips = sub.ips.union(&ips);
    sub.domains.extend(domains.iter().cloned());
    tx.put_assets(sub);
    if let Some(u) = &target_unit {
        let mut ua = tx.state().unit_assets.get(u).cloned().unwrap_or_default();
        ua.assets.ips = ua.assets.ips.union(&ips);
        ua.assets.domains.extend(domains.iter().cloned());
        if let Some(n) = over_budget {
            ua.new_ips_added = n;
        }
        tx.put_unit_assets(u, ua);
    }
    let place = match &target_unit {
        Some(u) => format!("subscription and {}", unit_name(tx.state(), Some(u))),
        None => "subscription".into(),
    };
    tx.log(
        LogAction::AssetsAdd,
        place,
        describe(&ips, &domains, Some(new_ips)),
    );
    Ok(Added {
        new_ips,
        business_unit: target_unit,
    })
}

fn describe(ips: &IpSet, domains: &BTreeSet<String>, new_ips: Option<u128>) -> String {
    let mut shown = ips.to_strings();
    let more = shown.len().saturating_sub(20);
    shown.truncate(20);
    let mut d = format!("ips [{}]", shown.join(", "));
    if more > 0 {
        d.push_str(&format!(" and {more} more ranges"));
    }
    if let Some(n) = new_ips {
        d.push_str(&format!(" ({n} new)"));
    }
    let doms: Vec<&str> = domains.iter().take(20).map(String::as_str).collect();
    d.push_str(&format!("; domains [{}]", doms.join(", ")));
    d
}

/// `DELETE /api/v1/assets`: removes IPs and domains from the subscription,
/// and so from every unit and group (R5.4: Managers only). Action
/// `assets.remove`.
pub fn remove_assets(
    tx: &mut Tx<'_>,
    ips: IpSet,
    domains: BTreeSet<String>,
) -> Result<(), Refusal> {
    {
        let acting = Acting::from_tx(tx)?;
        if !acting.may_remove_ips() {
            return Err(refuse(
                Code::Forbidden,
                "only Managers remove assets from the subscription, whatever is granted (R5.4)",
            ));
        }
        if ips.is_empty() && domains.is_empty() {
            return Err(refuse(
                Code::Validation,
                "ips, domains: give at least one IP or domain to remove",
            ));
        }
    }
    let strip = |a: &AssetSet| -> AssetSet {
        AssetSet {
            ips: a.ips.difference(&ips),
            domains: a.domains.difference(&domains).cloned().collect(),
            scanner_appliances: a.scanner_appliances.clone(),
        }
    };
    let sub = strip(&tx.state().assets);
    tx.put_assets(sub);
    let units: Vec<(Id, UnitAssets)> = tx
        .state()
        .unit_assets
        .iter()
        .filter_map(|(id, ua)| {
            let assets = strip(&ua.assets);
            (assets != ua.assets).then(|| {
                (
                    id.clone(),
                    UnitAssets {
                        assets,
                        new_ips_added: ua.new_ips_added,
                    },
                )
            })
        })
        .collect();
    for (id, ua) in units {
        tx.put_unit_assets(&id, ua);
    }
    let groups: Vec<super::AssetGroup> = tx
        .state()
        .asset_groups
        .values()
        .filter_map(|g| {
            let assets = strip(&g.assets);
            (assets != g.assets).then(|| super::AssetGroup {
                assets,
                ..g.clone()
            })
        })
        .collect();
    for g in groups {
        tx.put_asset_group(g);
    }
    tx.log(
        LogAction::AssetsRemove,
        "subscription",
        describe(&ips, &domains, None),
    );
    Ok(())
}

/// Assigns subscription assets to a unit, replacing what was assigned
/// (R3.1; docs/api.md business unit `assets`). Managers only; every asset must
/// be in the subscription. Action `unit.assets`.
pub fn set_unit_assets(tx: &mut Tx<'_>, unit: &str, assets: AssetSet) -> Result<AssetSet, Refusal> {
    let unit = {
        let acting = Acting::from_tx(tx)?;
        let u = super::units::visible_unit(&acting, unit)?;
        if !acting.is_manager() {
            return Err(refuse(
                Code::Forbidden,
                "only Managers assign assets to business units",
            ));
        }
        if let Some(m) = first_missing(&subscription_all(acting.state), &assets) {
            return Err(refuse(
                Code::Validation,
                format!("assets: {m} is not in the subscription; add it first"),
            ));
        }
        u.id.clone()
    };
    let mut ua = tx
        .state()
        .unit_assets
        .get(&unit)
        .cloned()
        .unwrap_or_default();
    ua.assets = assets.clone();
    tx.put_unit_assets(&unit, ua);
    let name = unit_name(tx.state(), Some(&unit));
    tx.log(
        LogAction::UnitAssets,
        format!("business unit {name} ({unit})"),
        format!(
            "{}; appliances [{}]",
            describe(&assets.ips, &assets.domains, None),
            assets
                .scanner_appliances
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    Ok(assets)
}

/// The assets assigned to a unit (without its groups and appliances).
pub fn unit_assets(state: &State, unit: &Id) -> AssetSet {
    state
        .unit_assets
        .get(unit)
        .map(|u| u.assets.clone())
        .unwrap_or_default()
}

/// The assets assigned to a unit the actor may see (`not_found` otherwise).
pub fn assigned_to_unit(acting: &Acting<'_>, unit: &str) -> Result<AssetSet, Refusal> {
    let u = super::units::visible_unit(acting, unit)?;
    Ok(unit_assets(acting.state, &u.id))
}

/// `GET /api/v1/assets`: the subscription's for Managers and User
/// Administrators (who build groups from them), the unit's "All" for Unit
/// Managers, the user's reach for everyone else.
pub fn visible_assets(acting: &Acting<'_>) -> AssetSet {
    match acting.role() {
        Role::Manager | Role::UserAdministrator => subscription_all(acting.state),
        _ => reach_of(acting.state, acting.user),
    }
}

/// `POST /api/v1/scanner-appliances`.
#[derive(Debug, Clone)]
pub struct NewAppliance {
    /// Unique among appliances, case-insensitively; up to 100 characters.
    pub name: String,
    /// Decides who may register it: Managers any kind, others a virtual or
    /// offline one with that permission (R5).
    pub kind: ApplianceKind,
    /// The unit it serves; `None` is a subscription appliance. Anyone but a
    /// Manager gets its own unit, whatever it asks.
    pub business_unit: Option<Id>,
}

fn may_manage_kind(acting: &Acting<'_>, kind: ApplianceKind) -> Result<(), Refusal> {
    if acting.is_manager() {
        return Ok(());
    }
    let needed = match kind {
        ApplianceKind::Physical => None,
        ApplianceKind::Virtual => Some(Permission::ManageVirtualScanners),
        ApplianceKind::Offline => Some(Permission::ManageOfflineScanners),
    };
    match needed {
        Some(p) if acting.has_permission(p) => Ok(()),
        Some(p) => Err(refuse(
            Code::Forbidden,
            format!(
                "{} scanner appliances need the {} permission; ask a Manager",
                kind.as_str(),
                p.as_str()
            ),
        )),
        None => Err(refuse(
            Code::Forbidden,
            "only Managers register and remove physical scanner appliances",
        )),
    }
}

/// Registers a scanner appliance. Action `appliance.create`.
pub fn create_appliance(
    tx: &mut Tx<'_>,
    id: Id,
    new: NewAppliance,
) -> Result<ScannerAppliance, Refusal> {
    let appliance = {
        let acting = Acting::from_tx(tx)?;
        may_manage_kind(&acting, new.kind)?;
        let name = new.name.trim();
        super::validate::text("name", name, 100)?;
        if acting
            .state
            .appliances
            .values()
            .any(|a| a.name.eq_ignore_ascii_case(name))
        {
            return Err(refuse(
                Code::Conflict,
                format!("a scanner appliance named {name:?} exists; choose another name"),
            ));
        }
        let unit = placement(&acting, new.business_unit, "register appliances in")?;
        if acting.state.appliances.contains_key(&id) {
            return Err(refuse(Code::Conflict, format!("appliance id {id} exists")));
        }
        ScannerAppliance {
            id,
            name: name.to_owned(),
            kind: new.kind,
            business_unit: unit,
            created_at: tx.now(),
        }
    };
    tx.put_appliance(appliance.clone());
    let place = unit_name(tx.state(), appliance.business_unit.as_ref());
    tx.log(
        LogAction::ApplianceCreate,
        format!("scanner appliance {} ({})", appliance.name, appliance.id),
        format!("{}, {place}", appliance.kind.as_str()),
    );
    Ok(appliance)
}

/// The appliances the actor may see: all for Managers and User
/// Administrators, those in reach for everyone else.
pub fn list_appliances<'s>(acting: &Acting<'s>) -> Vec<&'s ScannerAppliance> {
    let reach = visible_assets(acting);
    acting
        .state
        .appliances
        .values()
        .filter(|a| reach.scanner_appliances.contains(&a.id))
        .collect()
}

/// The appliance `id` if the actor may change or remove it (`doing`, for
/// the message): one it sees, of a kind it manages, and (unless a Manager)
/// of its own unit.
fn appliance_to_manage<'s>(
    acting: &Acting<'s>,
    id: &str,
    doing: &str,
) -> Result<&'s ScannerAppliance, Refusal> {
    let a = list_appliances(acting)
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| refuse(Code::NotFound, format!("no scanner appliance {id}")))?;
    may_manage_kind(acting, a.kind)?;
    if !acting.is_manager() && a.business_unit.as_ref() != acting.unit() {
        return Err(refuse(
            Code::Forbidden,
            format!("you {doing} appliances of your own business unit only"),
        ));
    }
    Ok(a)
}

/// `PATCH /api/v1/scanner-appliances/{id}`: a new name, or (Managers) a new
/// place. `business_unit: Some(None)` makes it a subscription appliance.
#[derive(Debug, Clone, Default)]
pub struct AppliancePatch {
    /// A new name, unique as at creation.
    pub name: Option<String>,
    /// A new unit (Managers only); `Some(None)` is the subscription.
    pub business_unit: Option<Option<Id>>,
}

/// Renames or re-places an appliance. Who may: as for removing it. A new
/// place is refused while a group linked to a unit that would no longer
/// hold the appliance names it (R6.2: a unit's groups hold only the unit's
/// assets). Action `appliance.update`.
pub fn edit_appliance(
    tx: &mut Tx<'_>,
    id: &str,
    patch: AppliancePatch,
) -> Result<ScannerAppliance, Refusal> {
    let (after, changes) = {
        let acting = Acting::from_tx(tx)?;
        let before = appliance_to_manage(&acting, id, "change")?;
        let mut after = before.clone();
        let mut changes = Vec::new();
        if let Some(name) = &patch.name {
            let name = name.trim();
            super::validate::text("name", name, 100)?;
            if acting
                .state
                .appliances
                .values()
                .any(|a| a.id != before.id && a.name.eq_ignore_ascii_case(name))
            {
                return Err(refuse(
                    Code::Conflict,
                    format!("a scanner appliance named {name:?} exists; choose another name"),
                ));
            }
            if name != before.name {
                changes.push(format!("name {:?} -> {name:?}", before.name));
                after.name = name.to_owned();
            }
        }
        if let Some(unit) = patch.business_unit
            && unit != before.business_unit
        {
            if !acting.is_manager() {
                return Err(refuse(
                    Code::Forbidden,
                    "only Managers move a scanner appliance to another business unit",
                ));
            }
            after.business_unit = placement(&acting, unit, "place appliances in")?;
            let mut probe = acting.state.clone();
            probe.appliances.insert(after.id.clone(), after.clone());
            for g in acting.state.asset_groups.values() {
                if !g.assets.scanner_appliances.contains(&after.id) {
                    continue;
                }
                if let Some(u) = g.business_units.iter().find(|u| {
                    !unit_all_except(&probe, u, Some(&g.id))
                        .scanner_appliances
                        .contains(&after.id)
                }) {
                    return Err(refuse(
                        Code::Conflict,
                        format!(
                            "business_unit: asset group {:?} of {} names this appliance, and {} would no longer hold it; take it out of the group first",
                            g.title,
                            unit_name(acting.state, Some(u)),
                            unit_name(acting.state, Some(u))
                        ),
                    ));
                }
            }
            changes.push(format!(
                "{} -> {}",
                unit_name(acting.state, before.business_unit.as_ref()),
                unit_name(acting.state, after.business_unit.as_ref())
            ));
        }
        (after, changes)
    };
    tx.put_appliance(after.clone());
    tx.log(
        LogAction::ApplianceUpdate,
        format!("scanner appliance {} ({})", after.name, after.id),
        if changes.is_empty() {
            "no change".to_owned()
        } else {
            changes.join("; ")
        },
    );
    Ok(after)
}

/// Removes an appliance, and with it every mention in units and groups.
/// Action `appliance.delete`.
pub fn delete_appliance(tx: &mut Tx<'_>, id: &str) -> Result<ScannerAppliance, Refusal> {
    let appliance = {
        let acting = Acting::from_tx(tx)?;
        appliance_to_manage(&acting, id, "remove")?.clone()
    };
    tx.remove_appliance(&appliance.id);
    let units: Vec<(Id, UnitAssets)> = tx
        .state()
        .unit_assets
        .iter()
        .filter(|(_, ua)| ua.assets.scanner_appliances.contains(&appliance.id))
        .map(|(uid, ua)| {
            let mut ua = ua.clone();
            ua.assets.scanner_appliances.remove(&appliance.id);
            (uid.clone(), ua)
        })
        .collect();
    for (uid, ua) in units {
        tx.put_unit_assets(&uid, ua);
    }
    let groups: Vec<super::AssetGroup> = tx
        .state()
        .asset_groups
        .values()
        .filter(|g| g.assets.scanner_appliances.contains(&appliance.id))
        .map(|g| {
            let mut g = g.clone();
            g.assets.scanner_appliances.remove(&appliance.id);
            g
        })
        .collect();
    for g in groups {
        tx.put_asset_group(g);
    }
    tx.log(
        LogAction::ApplianceDelete,
        format!("scanner appliance {} ({})", appliance.name, appliance.id),
        "deleted",
    );
    Ok(appliance)
}

/// The unit new assets or an appliance go to: the one asked for (or none)
/// for Managers, the actor's own for everyone else; it must exist.
fn placement(acting: &Acting<'_>, asked: Option<Id>, doing: &str) -> Result<Option<Id>, Refusal> {
    let unit = if acting.is_manager() {
        asked
    } else {
        if asked.is_some() && asked.as_ref() != acting.unit() {
            return Err(refuse(
                Code::Forbidden,
                format!(
                    "you {doing} {} only",
                    unit_name(acting.state, acting.unit())
                ),
            ));
        }
        acting.unit().cloned()
    };
    if let Some(u) = &unit
        && !acting.state.units.contains_key(u)
    {
        return Err(refuse(
            Code::Validation,
            format!("business_unit: there is no business unit {u}"),
        ));
    }
    Ok(unit)
}
