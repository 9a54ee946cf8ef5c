//! The permission index: per user, what [`super::check`] needs, derived
//! from a [`State`] and kept current commit by commit.
//!
//! The one thing to know: an index is a value. [`Index::build`] makes one
//! from a state; [`Index::apply`] makes the next one from the keys a commit
//! touched, recomputing only the users whose role, unit, status,
//! permissions or groups changed, or whose groups or "All" did. Its maps are
//! persistent (`imbl`), so the next index shares everything else with the
//! last, and readers of the last are never disturbed.
//!
//! Reaches are shared, never copied per user: a user's [`Reaches`] is a
//! short list of `Arc`s to its groups' [`Reach`]es (or to its unit's "All",
//! or the subscription's), each kept once. Memory grows with users plus
//! ranges, not their product (ARCHITECTURE.md gives the formula).

use std::collections::BTreeSet;
use std::sync::Arc;

use smallvec::{SmallVec, smallvec};

use crate::domain::groups::ALL;
use crate::domain::ipset::{self, IpSet, V4_BASE, V4_LAST};
use crate::domain::{
    AssetSet, Feature, Id, Key, Module, Permission, Role, State, User, UserStatus, permissions,
};

/// Sorted, merged IP ranges, IPv4 apart as `u32` pairs: a quarter of the
/// bytes, so that the ranges of every group stay in cache.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ranges {
    /// Shared with every [`Reaches`] this set is part of, so that a check
    /// reaches it in one step.
    v4: Arc<[(u32, u32)]>,
    other: Box<[(u128, u128)]>,
}

impl Ranges {
    /// From sorted, merged ranges on the `u128` line ([`ipset::key`]).
    pub fn new(ranges: &[(u128, u128)]) -> Ranges {
        let mut v4 = Vec::new();
        let mut other = Vec::new();
        for &(a, b) in ranges {
            if a < V4_BASE {
                other.push((a, b.min(V4_BASE - 1)));
            }
            if a <= V4_LAST && b >= V4_BASE {
                let lo = (a.max(V4_BASE) - V4_BASE) as u32;
                let hi = (b.min(V4_LAST) - V4_BASE) as u32;
                v4.push((lo, hi));
            }
            if b > V4_LAST {
                other.push((a.max(V4_LAST + 1), b));
            }
        }
        Ranges {
            v4: v4.into(),
            other: other.into(),
        }
    }

    /// The ranges on the `u128` line, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = (u128, u128)> + '_ {
        let v4 = self
            .v4
            .iter()
            .map(|&(a, b)| (V4_BASE + u128::from(a), V4_BASE + u128::from(b)));
        self.other.iter().copied().chain(v4)
    }

    pub fn contains(&self, k: u128) -> bool {
        if let Some(k) = v4_of(k) {
            contains_v4(&self.v4, k)
        } else {
            ipset::contains_key(&self.other, k)
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// IPs, domains (lower case, sorted) and appliance ids (sorted) of one
/// group, one unit's "All" or the subscription's: binary search answers
/// each question without allocating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub ips: Ranges,
    pub domains: Box<[Box<str>]>,
    pub appliances: Box<[Box<str>]>,
}

impl Reach {
    pub fn from_set(a: &AssetSet) -> Reach {
        Reach {
            ips: Ranges::new(a.ips.ranges()),
            domains: a.domains.iter().map(|d| d.as_str().into()).collect(),
            appliances: a
                .scanner_appliances
                .iter()
                .map(|d| d.as_str().into())
                .collect(),
        }
    }

    /// The union of several reaches.
    pub fn union<'a>(parts: impl IntoIterator<Item = &'a Reach> + Clone) -> Reach {
        let ips = IpSet::from_ranges(
            parts
                .clone()
                .into_iter()
                .flat_map(|p| p.ips.keys())
                .collect(),
        );
        let domains: BTreeSet<&str> = parts
            .clone()
            .into_iter()
            .flat_map(|p| p.domains.iter().map(|d| &**d))
            .collect();
        let appliances: BTreeSet<&str> = parts
            .into_iter()
            .flat_map(|p| p.appliances.iter().map(|d| &**d))
            .collect();
        Reach {
            ips: Ranges::new(ips.ranges()),
            domains: domains.into_iter().map(Into::into).collect(),
            appliances: appliances.into_iter().map(Into::into).collect(),
        }
    }

    pub fn has_ip(&self, k: u128) -> bool {
        self.ips.contains(k)
    }

    /// Case-insensitive, ignoring one trailing dot, without allocating.
    pub fn has_domain(&self, d: &str) -> bool {
        let q = d.strip_suffix('.').unwrap_or(d).as_bytes();
        self.domains
            .binary_search_by(|s| {
                s.as_bytes()
                    .iter()
                    .copied()
                    .cmp(q.iter().map(u8::to_ascii_lowercase))
            })
            .is_ok()
    }

    pub fn has_appliance(&self, id: &str) -> bool {
        self.appliances.binary_search_by(|s| (**s).cmp(id)).is_ok()
    }
}

fn v4_of(k: u128) -> Option<u32> {
    (V4_BASE..=V4_LAST)
        .contains(&k)
        .then(|| (k - V4_BASE) as u32)
}

fn contains_v4(ranges: &[(u32, u32)], k: u32) -> bool {
    let i = ranges.partition_point(|&(a, _)| a <= k);
    i > 0 && ranges[i - 1].1 >= k
}

/// One part of a user's reach, with its IPv4 ranges at hand.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Part {
    v4: Arc<[(u32, u32)]>,
    reach: Arc<Reach>,
}

impl Part {
    fn new(reach: Arc<Reach>) -> Part {
        Part {
            v4: reach.ips.v4.clone(),
            reach,
        }
    }
}

/// A user's reach: the union of its parts, which are kept apart and shared
/// (each group's [`Reach`] once, each unit's "All" once), so that memory
/// grows with users + ranges, never users × ranges. A check asks each part;
/// users hold few groups, and two parts are kept inline: from the user's
/// entry a check goes straight to the ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reaches(SmallVec<[Part; 2]>);

impl Reaches {
    fn one(r: Arc<Reach>) -> Reaches {
        Reaches(smallvec![Part::new(r)])
    }

    pub fn has_ip(&self, k: u128) -> bool {
        match v4_of(k) {
            Some(k) => self.0.iter().any(|p| contains_v4(&p.v4, k)),
            None => self.0.iter().any(|p| p.reach.ips.contains(k)),
        }
    }

    pub fn has_domain(&self, d: &str) -> bool {
        self.0.iter().any(|p| p.reach.has_domain(d))
    }

    pub fn has_appliance(&self, id: &str) -> bool {
        self.0.iter().any(|p| p.reach.has_appliance(id))
    }

    /// The parts merged into one (for tests and views; checks never merge).
    pub fn merged(&self) -> Reach {
        Reach::union(self.0.iter().map(|p| &*p.reach))
    }
}

/// What the index knows of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub role: Role,
    pub unit: Option<Id>,
    pub status: UserStatus,
    /// Bit `p as u32` for each permission the user holds now (R5, R5.1).
    pub permissions: u32,
    pub groups: Box<[Id]>,
    pub reach: Reaches,
}

impl Entry {
    pub fn holds(&self, p: Permission) -> bool {
        self.permissions & (1 << p as u32) != 0
    }

    /// Whether this user's reach is an "All": the subscription's for
    /// Managers, the unit's for Unit Managers and holders of the built-in
    /// group.
    fn reaches_all(&self) -> bool {
        matches!(self.role, Role::Manager | Role::UnitManager)
            || self.groups.iter().any(|g| g == ALL)
    }

    /// The unit whose "All" this user's reach may depend on: Managers reach
    /// the subscription's wherever they are stored (R2.1).
    fn reach_unit(&self) -> Option<Id> {
        if self.role == Role::Manager {
            None
        } else {
            self.unit.clone()
        }
    }
}

/// Subscription-wide facts the checks read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Context {
    pub modules: BTreeSet<Module>,
    pub features: BTreeSet<Feature>,
    pub restrict_user_info_outside_unit: bool,
    pub hide_users_outside_unit: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupInfo {
    units: BTreeSet<Id>,
    reach: Arc<Reach>,
}

/// An immutable snapshot of every user's authorization facts.
#[derive(Debug, Clone, Default)]
pub struct Index {
    pub(super) users: imbl::HashMap<Id, Arc<Entry>>,
    pub(super) context: Arc<Context>,
    groups: imbl::HashMap<Id, Arc<GroupInfo>>,
    unit_all: imbl::HashMap<Id, Arc<Reach>>,
    subscription_all: Arc<Reach>,
    appliance_unit: imbl::HashMap<Id, Option<Id>>,
    /// Reverse maps, so that a change finds the users it reaches: by group
    /// held, and by the unit whose "All" may be their reach
    /// ([`Entry::reach_unit`]).
    /// (Ordered sets: a third of a hash set's bytes per holder.) Only
    /// users whose reach is an "All" are in `by_unit`.
    by_group: imbl::HashMap<Id, imbl::OrdSet<Id>>,
    by_unit: imbl::HashMap<Option<Id>, imbl::OrdSet<Id>>,
}

fn context(state: &State) -> Context {
    let v = &state.settings.visibility;
    Context {
        modules: state
            .subscription
            .as_ref()
            .map(|s| s.modules.clone())
            .unwrap_or_default(),
        features: state
            .subscription
            .as_ref()
            .map(|s| s.features.clone())
            .unwrap_or_default(),
        restrict_user_info_outside_unit: v.restrict_user_info_outside_unit,
        hide_users_outside_unit: v.hide_users_outside_unit,
    }
}

impl Index {
    /// The index of `state`, computed whole (at start, and after a change
    /// of the subscription or its settings).
    pub fn build(state: &State) -> Index {
        let mut ix = Index {
            context: Arc::new(context(state)),
            ..Index::default()
        };
        for (id, g) in &state.asset_groups {
            ix.groups.insert(
                id.clone(),
                Arc::new(GroupInfo {
                    units: g.business_units.clone(),
                    reach: Arc::new(Reach::from_set(&g.assets)),
                }),
            );
        }
        for (id, a) in &state.appliances {
            ix.appliance_unit
                .insert(id.clone(), a.business_unit.clone());
        }
        ix.subscription_all = Arc::new(Reach::from_set(&crate::domain::assets::subscription_all(
            state,
        )));
        for id in state.units.keys() {
            let all = ix.compute_unit_all(state, id);
            ix.unit_all.insert(id.clone(), all);
        }
        for u in state.users.values() {
            let e = ix.entry(state, u);
            ix.put_user(&u.id, e);
        }
        ix
    }

    /// The index after a commit that touched `keys` of `state`.
    pub fn apply(&self, state: &State, keys: &BTreeSet<Key>) -> Index {
        if keys
            .iter()
            .any(|k| matches!(k, Key::Subscription | Key::Settings))
        {
            return Index::build(state);
        }
        let mut ix = self.clone();
        let mut units: BTreeSet<Option<Id>> = BTreeSet::new();
        let mut groups: BTreeSet<&Id> = BTreeSet::new();
        let mut users: BTreeSet<Id> = BTreeSet::new();
        for k in keys {
            match k {
                Key::User(id) => {
                    users.insert(id.clone());
                }
                Key::Unit(id) | Key::UnitAssets(id) => {
                    units.insert(Some(id.clone()));
                }
                Key::Assets => {
                    units.insert(None);
                }
                Key::Appliance(id) => {
                    units.insert(None);
                    if let Some(old) = ix.appliance_unit.get(id) {
                        units.insert(old.clone());
                    }
                    match state.appliances.get(id) {
                        Some(a) => {
                            units.insert(a.business_unit.clone());
                            ix.appliance_unit
                                .insert(id.clone(), a.business_unit.clone());
                        }
                        None => {
                            ix.appliance_unit.remove(id);
                        }
                    }
                }
                Key::AssetGroup(id) => {
                    groups.insert(id);
                    if let Some(old) = ix.groups.get(id) {
                        units.extend(old.units.iter().cloned().map(Some));
                    }
                    match state.asset_groups.get(id) {
                        Some(g) => {
                            units.extend(g.business_units.iter().cloned().map(Some));
                            ix.groups.insert(
                                id.clone(),
                                Arc::new(GroupInfo {
                                    units: g.business_units.clone(),
                                    reach: Arc::new(Reach::from_set(&g.assets)),
                                }),
                            );
                        }
                        None => {
                            ix.groups.remove(id);
                        }
                    }
                }
                _ => {}
            }
        }
        for u in &units {
            match u {
                None => {
                    ix.subscription_all = Arc::new(Reach::from_set(
                        &crate::domain::assets::subscription_all(state),
                    ));
                }
                Some(id) if state.units.contains_key(id) => {
                    let all = ix.compute_unit_all(state, id);
                    ix.unit_all.insert(id.clone(), all);
                }
                Some(id) => {
                    ix.unit_all.remove(id);
                }
            }
            // Those whose reach is that "All": Managers (the subscription's),
            // Unit Managers, and holders of the built-in group.
            if let Some(members) = ix.by_unit.get(u) {
                for m in members {
                    users.insert(m.clone());
                }
            }
        }
        for g in groups {
            if let Some(holders) = ix.by_group.get(g) {
                users.extend(holders.iter().cloned());
            }
        }
        for id in users {
            ix.remove_user(&id);
            if let Some(u) = state.users.get(&id) {
                let e = ix.entry(state, u);
                ix.put_user(&id, e);
            }
        }
        ix
    }

    fn compute_unit_all(&self, state: &State, unit: &Id) -> Arc<Reach> {
        let own = state
            .unit_assets
            .get(unit)
            .map(|u| u.assets.clone())
            .unwrap_or_default();
        let mut base = Reach::from_set(&own);
        let appliances: BTreeSet<&str> = state
            .appliances
            .values()
            .filter(|a| a.business_unit.as_ref() == Some(unit))
            .map(|a| a.id.as_str())
            .collect();
        if !appliances.is_empty() {
            base.appliances = appliances.into_iter().map(Into::into).collect();
        }
        let mut parts: Vec<&Reach> = vec![&base];
        for g in self.groups.values() {
            if g.units.contains(unit) {
                parts.push(&g.reach);
            }
        }
        Arc::new(Reach::union(parts))
    }

    fn all_of(&self, unit: Option<&Id>) -> Arc<Reach> {
        match unit {
            None => self.subscription_all.clone(),
            Some(u) => self.unit_all.get(u).cloned().unwrap_or_default(),
        }
    }

    fn entry(&self, state: &State, u: &User) -> Arc<Entry> {
        let unit = u.business_unit.as_ref();
        let reach = match u.role {
            Role::Manager => Reaches::one(self.subscription_all.clone()),
            Role::UnitManager => Reaches::one(self.all_of(unit)),
            _ => {
                let mut parts: SmallVec<[Part; 2]> = SmallVec::new();
                for g in &u.asset_groups {
                    let part = if g == ALL {
                        self.all_of(unit)
                    } else {
                        match self.groups.get(g) {
                            // R6.3: a group of another unit gives nothing.
                            Some(info) if unit.is_none_or(|x| info.units.contains(x)) => {
                                info.reach.clone()
                            }
                            _ => continue,
                        }
                    };
                    if !parts.iter().any(|p| Arc::ptr_eq(&p.reach, &part)) {
                        parts.push(Part::new(part));
                    }
                }
                Reaches(parts)
            }
        };
        let permissions = permissions::effective(state, u)
            .into_iter()
            .fold(0u32, |bits, p| bits | 1 << p as u32);
        Arc::new(Entry {
            role: u.role,
            unit: u.business_unit.clone(),
            status: u.status,
            permissions,
            groups: u.asset_groups.clone().into_boxed_slice(),
            reach,
        })
    }

    fn put_user(&mut self, id: &Id, e: Arc<Entry>) {
        for g in e.groups.iter() {
            self.by_group
                .entry(g.clone())
                .or_default()
                .insert(id.clone());
        }
        if e.reaches_all() {
            self.by_unit
                .entry(e.reach_unit())
                .or_default()
                .insert(id.clone());
        }
        self.users.insert(id.clone(), e);
    }

    fn remove_user(&mut self, id: &Id) {
        if let Some(old) = self.users.remove(id) {
            for g in old.groups.iter() {
                if let Some(set) = self.by_group.get_mut(g) {
                    set.remove(id);
                }
            }
            if let Some(set) = self.by_unit.get_mut(&old.reach_unit()) {
                set.remove(id);
            }
        }
    }

    pub fn user(&self, id: &str) -> Option<&Entry> {
        self.users.get(id).map(|e| &**e)
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Whether two indexes answer alike: same users with the same facts.
    pub fn same_answers(&self, other: &Index) -> bool {
        self.users == other.users && self.context == other.context
    }
}
