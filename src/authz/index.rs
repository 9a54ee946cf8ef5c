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
//! Users with the same reach share one [`Reach`] (`Arc`): every Manager
//! shares the subscription's, a Unit Manager its unit's, and users holding
//! the same groups share one merged union.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use crate::domain::groups::ALL;
use crate::domain::{
    AssetSet, Feature, Id, Key, Module, Permission, Role, State, User, UserStatus, permissions,
};

/// IPs (sorted, merged ranges), domains (lower case, sorted) and appliance
/// ids (sorted): binary search answers each question without allocating.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub ips: Box<[(u128, u128)]>,
    pub domains: Box<[Box<str>]>,
    pub appliances: Box<[Box<str>]>,
}

impl Reach {
    pub fn from_set(a: &AssetSet) -> Reach {
        Reach {
            ips: a.ips.ranges().into(),
            domains: a.domains.iter().map(|d| d.as_str().into()).collect(),
            appliances: a
                .scanner_appliances
                .iter()
                .map(|d| d.as_str().into())
                .collect(),
        }
    }

    /// The union of several reaches.
    pub fn union(parts: &[&Reach]) -> Reach {
        let ips = crate::domain::ipset::IpSet::from_ranges(
            parts.iter().flat_map(|p| p.ips.iter().copied()).collect(),
        );
        let domains: BTreeSet<&str> = parts
            .iter()
            .flat_map(|p| p.domains.iter().map(|d| &**d))
            .collect();
        let appliances: BTreeSet<&str> = parts
            .iter()
            .flat_map(|p| p.appliances.iter().map(|d| &**d))
            .collect();
        Reach {
            ips: ips.ranges().into(),
            domains: domains.into_iter().map(Into::into).collect(),
            appliances: appliances.into_iter().map(Into::into).collect(),
        }
    }

    pub fn has_ip(&self, k: u128) -> bool {
        crate::domain::ipset::contains_key(&self.ips, k)
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

/// What the index knows of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub role: Role,
    pub unit: Option<Id>,
    pub status: UserStatus,
    /// Bit `p as u32` for each permission the user holds now (R5, R5.1).
    pub permissions: u32,
    pub groups: Box<[Id]>,
    pub reach: Arc<Reach>,
}

impl Entry {
    pub fn holds(&self, p: Permission) -> bool {
        self.permissions & (1 << p as u32) != 0
    }

    fn holds_all(&self) -> bool {
        self.groups.iter().any(|g| g == ALL)
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
    by_group: imbl::HashMap<Id, imbl::HashSet<Id>>,
    by_unit: imbl::HashMap<Option<Id>, imbl::HashSet<Id>>,
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

/// Merged reaches of one pass, keyed by (unit, groups): users holding the
/// same groups share one union.
type Memo = HashMap<(Option<Id>, Box<[Id]>), Arc<Reach>>;

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
        let mut memo = Memo::new();
        for u in state.users.values() {
            let e = ix.entry(state, u, &mut memo);
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
                    if let Some(e) = ix.users.get(m)
                        && (matches!(e.role, Role::Manager | Role::UnitManager) || e.holds_all())
                    {
                        users.insert(m.clone());
                    }
                }
            }
        }
        for g in groups {
            if let Some(holders) = ix.by_group.get(g) {
                users.extend(holders.iter().cloned());
            }
        }
        let mut memo = Memo::new();
        for id in users {
            ix.remove_user(&id);
            if let Some(u) = state.users.get(&id) {
                let e = ix.entry(state, u, &mut memo);
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
        Arc::new(Reach::union(&parts))
    }

    fn all_of(&self, unit: Option<&Id>) -> Arc<Reach> {
        match unit {
            None => self.subscription_all.clone(),
            Some(u) => self.unit_all.get(u).cloned().unwrap_or_default(),
        }
    }

    fn entry(&self, state: &State, u: &User, memo: &mut Memo) -> Arc<Entry> {
        let unit = u.business_unit.as_ref();
        let reach = match u.role {
            Role::Manager => self.subscription_all.clone(),
            Role::UnitManager => self.all_of(unit),
            _ => {
                let key = (
                    u.business_unit.clone(),
                    u.asset_groups.clone().into_boxed_slice(),
                );
                if let Some(r) = memo.get(&key) {
                    r.clone()
                } else {
                    let parts: Vec<Arc<Reach>> = u
                        .asset_groups
                        .iter()
                        .filter_map(|g| {
                            if g == ALL {
                                return Some(self.all_of(unit));
                            }
                            let info = self.groups.get(g)?;
                            // R6.3: a group of another unit gives nothing.
                            (unit.is_none_or(|x| info.units.contains(x)))
                                .then(|| info.reach.clone())
                        })
                        .collect();
                    let r = match parts.len() {
                        0 => Arc::new(Reach::default()),
                        1 => parts[0].clone(),
                        _ => {
                            let refs: Vec<&Reach> = parts.iter().map(|p| &**p).collect();
                            Arc::new(Reach::union(&refs))
                        }
                    };
                    memo.insert(key, r.clone());
                    r
                }
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
        self.by_unit
            .entry(e.reach_unit())
            .or_default()
            .insert(id.clone());
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
