//! Business units (R3): create, rename, set the new-IP limit, delete.
//!
//! The one thing to know: a unit with users is never deleted, and a unit's
//! primary contact is one of its users (R4.1), so deleting a unit never
//! leaves a dangling primary contact or a user in a unit that is gone.
//!
//! Who does what (R3.1, R2.4): Managers create, rename and delete units;
//! User Administrators create and rename but do not delete; nobody else
//! changes units. Only Managers set a unit's new-IP limit (Managers
//! control how many new IP addresses its Unit Managers may
//! add), and only while the subscription switch `new_ip_limit_enabled` is on
//! (R3.2); turning the switch off keeps the values but makes every unit
//! unlimited ([`effective_new_ip_limit`]). Clearing a limit is always
//! allowed. An `express_lite` subscription has no units (R1.2). Names are
//! unique case-insensitively.

use super::access::Acting;
use super::{BusinessUnit, Code, Id, Refusal, ServiceType, State, Tx};
use crate::LogAction;

/// `POST /api/v1/business-units`.
#[derive(Debug, Clone, Default)]
pub struct NewUnit {
    /// Unique among units, case-insensitively.
    pub name: String,
    /// How many IPs new to the subscription its Unit Managers may add, while
    /// the subscription's switch is on (R3.2); `None` is no limit.
    pub new_ip_limit: Option<u64>,
}

/// `PATCH /api/v1/business-units/{id}`: `None` leaves a field alone;
/// `new_ip_limit: Some(None)` removes the limit.
#[derive(Debug, Clone, Default)]
pub struct UnitPatch {
    /// A new name, unique as at creation.
    pub name: Option<String>,
    /// A new limit (R3.2); `Some(None)` removes it.
    pub new_ip_limit: Option<Option<u64>>,
}

pub(crate) fn target(u: &BusinessUnit) -> String {
    format!("business unit {} ({})", u.name, u.id)
}

fn clean_name(state: &State, name: &str, except: Option<&Id>) -> Result<String, Refusal> {
    let name = name.trim();
    super::validate::text("name", name, 100)?;
    let lower = name.to_lowercase();
    if state
        .units
        .values()
        .any(|u| Some(&u.id) != except && u.name.to_lowercase() == lower)
    {
        return Err(Refusal::new(
            Code::Conflict,
            format!("a business unit named {name} exists; choose another name"),
        ));
    }
    Ok(name.to_owned())
}

/// R1.2: an `express_lite` subscription has no business units, so neither
/// units nor their settings can be changed there.
pub(crate) fn no_units_here(acting: &Acting<'_>) -> Result<(), Refusal> {
    if acting.subscription.service_type == ServiceType::ExpressLite {
        return Err(Refusal::new(
            Code::FeatureUnavailable,
            "an express_lite subscription has no business units",
        ));
    }
    Ok(())
}

/// Managers and User Administrators create and rename units (R3.1).
pub fn may_edit_units(acting: &Acting<'_>) -> Result<(), Refusal> {
    if acting.is_manager() || acting.is_user_admin() {
        Ok(())
    } else {
        Err(Refusal::new(
            Code::Forbidden,
            "only Managers and User Administrators create or rename business units",
        ))
    }
}

fn check_limit(acting: &Acting<'_>, limit: Option<u64>) -> Result<(), Refusal> {
    if limit.is_none() {
        return Ok(());
    }
    if !acting.is_manager() {
        return Err(Refusal::new(
            Code::Forbidden,
            "only Managers set a business unit's new-IP limit",
        ));
    }
    if !acting.state.settings.new_ip_limit_enabled {
        return Err(Refusal::new(
            Code::FeatureUnavailable,
            "new_ip_limit: turn on new_ip_limit_enabled in the business-unit settings first",
        ));
    }
    Ok(())
}

fn limit_text(l: Option<u64>) -> String {
    l.map_or_else(|| "none".into(), |n| n.to_string())
}

/// Creates a unit. Action `unit.create`.
pub fn create_unit(tx: &mut Tx<'_>, id: Id, new: NewUnit) -> Result<BusinessUnit, Refusal> {
    let unit = {
        let acting = Acting::from_tx(tx)?;
        may_edit_units(&acting)?;
        no_units_here(&acting)?;
        let name = clean_name(acting.state, &new.name, None)?;
        check_limit(&acting, new.new_ip_limit)?;
        if acting.state.units.contains_key(&id) {
            return Err(Refusal::new(Code::Conflict, format!("unit id {id} exists")));
        }
        BusinessUnit {
            id,
            name,
            primary_contact: None,
            new_ip_limit: new.new_ip_limit,
            email_contact: None,
            created_at: tx.now(),
        }
    };
    tx.put_unit(unit.clone());
    tx.log(
        LogAction::UnitCreate,
        target(&unit),
        format!("new-IP limit {}", limit_text(unit.new_ip_limit)),
    );
    Ok(unit)
}

/// The unit `id` if the actor may see it; `not_found` otherwise, so that a
/// hidden unit and a missing one look the same.
pub(crate) fn visible_unit<'s>(acting: &Acting<'s>, id: &str) -> Result<&'s BusinessUnit, Refusal> {
    acting
        .state
        .units
        .get(id)
        .filter(|u| acting.may_see_unit(u))
        .ok_or_else(|| Refusal::new(Code::NotFound, format!("no business unit {id}")))
}

/// Renames a unit or changes its new-IP limit. Action `unit.update`.
pub fn update_unit(tx: &mut Tx<'_>, id: &str, patch: UnitPatch) -> Result<BusinessUnit, Refusal> {
    let (before, after) = {
        let acting = Acting::from_tx(tx)?;
        let before = visible_unit(&acting, id)?;
        may_edit_units(&acting)?;
        no_units_here(&acting)?;
        let mut after = before.clone();
        if let Some(n) = &patch.name {
            after.name = clean_name(acting.state, n, Some(&before.id))?;
        }
        if let Some(l) = patch.new_ip_limit
            && l != before.new_ip_limit
        {
            check_limit(&acting, l)?;
            if !acting.is_manager() {
                return Err(Refusal::new(
                    Code::Forbidden,
                    "only Managers change a business unit's new-IP limit",
                ));
            }
            after.new_ip_limit = l;
        }
        (before.clone(), after)
    };
    let mut d = Vec::new();
    if before.name != after.name {
        d.push(format!("name {:?} -> {:?}", before.name, after.name));
    }
    if before.new_ip_limit != after.new_ip_limit {
        d.push(format!(
            "new-IP limit {} -> {}",
            limit_text(before.new_ip_limit),
            limit_text(after.new_ip_limit)
        ));
    }
    let details = if d.is_empty() {
        "no change".into()
    } else {
        d.join("; ")
    };
    tx.put_unit(after.clone());
    tx.log(LogAction::UnitUpdate, target(&after), details);
    Ok(after)
}

/// Deletes an empty unit (R3.1). Managers only. Action `unit.delete`.
pub fn delete_unit(tx: &mut Tx<'_>, id: &str) -> Result<BusinessUnit, Refusal> {
    let unit = {
        let acting = Acting::from_tx(tx)?;
        let unit = visible_unit(&acting, id)?;
        if !acting.is_manager() {
            return Err(Refusal::new(
                Code::Forbidden,
                "only Managers delete business units",
            ));
        }
        let members = acting
            .state
            .users
            .values()
            .filter(|u| u.business_unit.as_ref() == Some(&unit.id))
            .count();
        if members > 0 {
            return Err(Refusal::new(
                Code::BusinessUnitNotEmpty,
                format!(
                    "{} still has {members} user{}; move or delete them first",
                    unit.name,
                    if members == 1 { "" } else { "s" }
                ),
            ));
        }
        // Groups and appliances are not silently re-scoped: a group linked
        // only to this unit would otherwise become a subscription-level one.
        let groups = acting
            .state
            .asset_groups
            .values()
            .filter(|g| g.business_units.contains(&unit.id))
            .count();
        let appliances = acting
            .state
            .appliances
            .values()
            .filter(|a| a.business_unit.as_ref() == Some(&unit.id))
            .count();
        if groups + appliances > 0 {
            return Err(Refusal::new(
                Code::BusinessUnitNotEmpty,
                format!(
                    "{} still has {groups} asset group(s) and {appliances} scanner appliance(s); delete them or unlink them from the unit first",
                    unit.name
                ),
            ));
        }
        unit.clone()
    };
    // Its assigned assets stay the subscription's; the assignment goes.
    tx.put_unit_assets(&unit.id, super::UnitAssets::default());
    tx.remove_unit(&unit.id);
    tx.log(LogAction::UnitDelete, target(&unit), "deleted");
    Ok(unit)
}

/// `GET /api/v1/business-units`: every unit for Managers and User
/// Administrators, the actor's own for everyone else.
pub fn list_units<'s>(acting: &Acting<'s>) -> Vec<&'s BusinessUnit> {
    acting
        .state
        .units
        .values()
        .filter(|u| acting.may_see_unit(u))
        .collect()
}

/// The filters of `GET /api/v1/business-units`.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnitFilter {
    /// Only units that have no primary contact yet (R4.1: one per unit).
    pub without_primary_contact: bool,
}

/// `GET /api/v1/business-units`: the units the actor may see, oldest id
/// first, after `cursor` (the last id of the previous page), like every list.
pub fn page_units<'s>(
    acting: &Acting<'s>,
    filter: UnitFilter,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<super::directory::Page<&'s BusinessUnit>, Refusal> {
    use std::ops::Bound;
    let limit = super::directory::page_limit(limit)?;
    let start = cursor.map_or(Bound::Unbounded, |c| Bound::Excluded(c.to_owned()));
    let mut items: Vec<&'s BusinessUnit> = acting
        .state
        .units
        .range((start, Bound::Unbounded))
        .map(|(_, u)| u)
        .filter(|u| acting.may_see_unit(u))
        .filter(|u| !filter.without_primary_contact || u.primary_contact.is_none())
        .take(limit + 1)
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items.last().map(|u| u.id.clone())
    } else {
        None
    };
    Ok(super::directory::Page { items, next_cursor })
}

/// `GET /api/v1/business-units/{id}`: `not_found` for units the actor may
/// not see.
pub fn get_unit<'s>(acting: &Acting<'s>, id: &str) -> Result<&'s BusinessUnit, Refusal> {
    visible_unit(acting, id)
}

/// R3.2: the limit that applies to a unit's Unit Managers now: its value
/// while the subscription switch is on, else none (unlimited).
pub(crate) fn effective_new_ip_limit(state: &State, unit: &Id) -> Option<u64> {
    if !state.settings.new_ip_limit_enabled {
        return None;
    }
    state.units.get(unit).and_then(|u| u.new_ip_limit)
}

/// How much of its new-IP limit a unit has used (R3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewIpUsage {
    /// New IPs its Unit Managers have added so far.
    pub added: u64,
    /// How many more they may add now; `None` while no limit applies.
    pub remaining: Option<u64>,
}

/// What a unit shows of its limit (R3.2): IPs added so far and, while a
/// limit applies, how many more.
pub fn new_ip_usage(state: &State, unit: &Id) -> NewIpUsage {
    let added = state.unit_assets.get(unit).map_or(0, |a| a.new_ips_added);
    NewIpUsage {
        added,
        remaining: effective_new_ip_limit(state, unit).map(|l| l.saturating_sub(added)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::World;
    use crate::{Role, ServiceType};

    fn create(w: &mut World, actor: &str, id: &str, name: &str) -> Result<BusinessUnit, Refusal> {
        let (id, name) = (id.to_owned(), name.to_owned());
        w.run(actor, move |tx| {
            create_unit(
                tx,
                id,
                NewUnit {
                    name,
                    new_ip_limit: None,
                },
            )
        })
    }

    #[test]
    fn r3_1_managers_create_rename_and_delete_units() {
        let mut w = World::new();
        let u = create(&mut w, "m1", "b1", " EU ").unwrap();
        assert_eq!(u.name, "EU");
        let patch = UnitPatch {
            name: Some("Europe".into()),
            ..Default::default()
        };
        assert_eq!(
            w.run("m1", |tx| update_unit(tx, "b1", patch)).unwrap().name,
            "Europe"
        );
        w.run("m1", |tx| delete_unit(tx, "b1")).unwrap();
        assert!(w.state.units.is_empty());
    }

    #[test]
    fn r3_1_unit_names_are_unique_case_insensitively() {
        let mut w = World::new();
        create(&mut w, "m1", "b1", "EU").unwrap();
        create(&mut w, "m1", "b2", "US").unwrap();
        assert_eq!(
            create(&mut w, "m1", "b3", "eu").unwrap_err().code,
            Code::Conflict
        );
        let patch = UnitPatch {
            name: Some("Us".into()),
            ..Default::default()
        };
        assert_eq!(
            w.run("m1", |tx| update_unit(tx, "b1", patch))
                .unwrap_err()
                .code,
            Code::Conflict
        );
        let own = UnitPatch {
            name: Some("eu".into()),
            ..Default::default()
        };
        assert_eq!(
            w.run("m1", |tx| update_unit(tx, "b1", own)).unwrap().name,
            "eu"
        );
        assert_eq!(
            create(&mut w, "m1", "b4", "  ").unwrap_err().code,
            Code::Validation
        );
    }

    #[test]
    fn r3_1_a_unit_with_users_cannot_be_deleted() {
        let mut w = World::new();
        let eu = w.unit("EU");
        w.user("s", Role::Scanner, Some(&eu));
        let err = w.run("m1", |tx| delete_unit(tx, &eu)).unwrap_err();
        assert_eq!(err.code, Code::BusinessUnitNotEmpty);
        assert_eq!(
            err.message,
            "EU still has 1 user; move or delete them first"
        );
    }

    #[test]
    fn r3_1_a_unit_with_asset_groups_is_not_deleted_and_its_assignment_goes_with_it() {
        use crate::groups::{NewGroup, create_group, delete_group};
        use crate::{AssetSet, UnitAssets};
        let mut w = World::new();
        let eu = w.unit("EU");
        let linked = eu.clone();
        w.run("m1", move |tx| {
            create_group(
                tx,
                "g1".into(),
                NewGroup {
                    title: "Web".into(),
                    assets: AssetSet::default(),
                    business_units: Some([linked].into()),
                },
            )
        })
        .unwrap();
        let err = w.run("m1", |tx| delete_unit(tx, &eu)).unwrap_err();
        assert_eq!(err.code, Code::BusinessUnitNotEmpty);
        assert!(err.message.contains("1 asset group"), "{}", err.message);
        w.run("m1", |tx| delete_group(tx, "g1")).unwrap();
        w.state.unit_assets.insert(
            eu.clone(),
            UnitAssets {
                new_ips_added: 3,
                ..UnitAssets::default()
            },
        );
        w.run("m1", |tx| delete_unit(tx, &eu)).unwrap();
        assert!(!w.state.unit_assets.contains_key(&eu), "no dangling record");
    }

    #[test]
    fn r2_4_user_administrators_create_and_rename_but_do_not_delete_units() {
        let mut w = World::new();
        let ua = w.user("ua", Role::UserAdministrator, None);
        create(&mut w, &ua, "b1", "EU").unwrap();
        let patch = UnitPatch {
            name: Some("Europe".into()),
            ..Default::default()
        };
        w.run(&ua, |tx| update_unit(tx, "b1", patch)).unwrap();
        assert_eq!(
            w.run(&ua, |tx| delete_unit(tx, "b1")).unwrap_err().code,
            Code::Forbidden
        );
    }

    #[test]
    fn r3_1_nobody_else_changes_units() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let um = w.user("um", Role::UnitManager, Some(&eu));
        let s = w.user("s", Role::Scanner, None);
        for actor in [&um, &s] {
            assert_eq!(
                create(&mut w, actor, "b9", "X").unwrap_err().code,
                Code::Forbidden
            );
        }
        let patch = || UnitPatch {
            name: Some("Mine".into()),
            ..Default::default()
        };
        assert_eq!(
            w.run(&um, |tx| update_unit(tx, &eu, patch()))
                .unwrap_err()
                .code,
            Code::Forbidden
        );
        assert_eq!(
            w.run(&um, |tx| update_unit(tx, &us, patch()))
                .unwrap_err()
                .code,
            Code::NotFound
        );
        assert_eq!(
            w.run(&um, |tx| delete_unit(tx, &eu)).unwrap_err().code,
            Code::Forbidden
        );
    }

    #[test]
    fn r1_2_express_lite_has_no_units() {
        let mut w = World::with(ServiceType::ExpressLite, &[]);
        assert_eq!(
            create(&mut w, "m1", "b1", "EU").unwrap_err().code,
            Code::FeatureUnavailable
        );
    }

    #[test]
    fn r3_2_only_managers_set_new_ip_limits_and_only_with_the_switch() {
        let mut w = World::new();
        let ua = w.user("ua", Role::UserAdministrator, None);
        let eu = w.unit("EU");
        let limit = |n| UnitPatch {
            new_ip_limit: Some(n),
            ..Default::default()
        };
        let err = w
            .run("m1", |tx| update_unit(tx, &eu, limit(Some(10))))
            .unwrap_err();
        assert_eq!(err.code, Code::FeatureUnavailable);
        w.state.settings.new_ip_limit_enabled = true;
        assert_eq!(
            w.run(&ua, |tx| update_unit(tx, &eu, limit(Some(10))))
                .unwrap_err()
                .code,
            Code::Forbidden
        );
        w.run("m1", |tx| update_unit(tx, &eu, limit(Some(10))))
            .unwrap();
        assert_eq!(effective_new_ip_limit(&w.state, &eu), Some(10));
        w.state.settings.new_ip_limit_enabled = false;
        assert_eq!(
            effective_new_ip_limit(&w.state, &eu),
            None,
            "switch off: unlimited"
        );
        w.run("m1", |tx| update_unit(tx, &eu, limit(None))).unwrap();
        assert_eq!(
            w.state.units[&eu].new_ip_limit, None,
            "clearing is always allowed"
        );
        let err = w
            .run(&ua, |tx| {
                create_unit(
                    tx,
                    "b2".into(),
                    NewUnit {
                        name: "US".into(),
                        new_ip_limit: Some(5),
                    },
                )
            })
            .unwrap_err();
        assert_eq!(err.code, Code::Forbidden);
    }

    #[test]
    fn units_are_paged_like_every_list_and_r4_1_those_without_a_contact_found() {
        let mut w = World::new();
        let ids: Vec<Id> = ["A", "B", "C"].iter().map(|n| w.unit(n)).collect();
        let a = w.user("a", Role::Scanner, Some(&ids[0]));
        w.state.units.get_mut(&ids[0]).unwrap().primary_contact = Some(a);
        let acting = w.acting("m1");
        let first = page_units(&acting, UnitFilter::default(), Some(2), None).unwrap();
        assert_eq!(first.items.len(), 2);
        let cursor = first.next_cursor.clone().expect("a next page");
        let rest = page_units(&acting, UnitFilter::default(), Some(2), Some(&cursor)).unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!(rest.next_cursor, None);
        let all: Vec<&Id> = first
            .items
            .iter()
            .chain(&rest.items)
            .map(|u| &u.id)
            .collect();
        assert_eq!(all, ids.iter().collect::<Vec<_>>());
        let lacking = UnitFilter {
            without_primary_contact: true,
        };
        let names: Vec<&str> = page_units(&acting, lacking, None, None)
            .unwrap()
            .items
            .iter()
            .map(|u| u.name.as_str())
            .collect();
        assert_eq!(names, ["B", "C"]);
        let bad = page_units(&acting, UnitFilter::default(), Some(0), None).unwrap_err();
        assert_eq!(bad.code, Code::Validation);
    }

    #[test]
    fn r2_2_units_seen_by_role() {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let s = w.user("s", Role::Scanner, Some(&eu));
        let un = w.user("un", Role::Reader, None);
        let ua = w.user("ua", Role::UserAdministrator, None);
        let names = |w: &World, who: &str| -> Vec<String> {
            list_units(&w.acting(who))
                .into_iter()
                .map(|u| u.name.clone())
                .collect()
        };
        assert_eq!(names(&w, "m1"), ["EU", "US"]);
        assert_eq!(names(&w, &ua), ["EU", "US"]);
        assert_eq!(names(&w, &s), ["EU"]);
        assert!(names(&w, &un).is_empty());
        assert_eq!(
            get_unit(&w.acting(&s), &us).unwrap_err().code,
            Code::NotFound
        );
    }

    #[test]
    fn r11_1_unit_changes_are_logged() {
        let mut w = World::new();
        let mut state = w.state.clone();
        let actor = crate::testkit::actor_of(&w.state, "m1");
        let mut tx = Tx::new(&mut state, crate::Timestamp::from_unix_micros(5), actor);
        create_unit(
            &mut tx,
            "b1".into(),
            NewUnit {
                name: "EU".into(),
                new_ip_limit: None,
            },
        )
        .unwrap();
        update_unit(
            &mut tx,
            "b1",
            UnitPatch {
                name: Some("Europe".into()),
                ..Default::default()
            },
        )
        .unwrap();
        delete_unit(&mut tx, "b1").unwrap();
        let (_, log) = tx.finish();
        let actions: Vec<&str> = log.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(actions, ["unit.create", "unit.update", "unit.delete"]);
        assert_eq!(log[1].details, "name \"EU\" -> \"Europe\"");
        w.state = state;
    }
}
