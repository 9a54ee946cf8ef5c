//! Test fixtures for the domain rules: a subscription with one active
//! Manager `m1` (its primary contact), and a way to run a command as a user
//! that checks what every command promises: accepted, it wrote exactly one
//! activity entry; refused, it wrote none and changed nothing.

use std::collections::BTreeSet;

use super::access::Acting;
use super::bootstrap::{Bootstrap, FirstCredential, initialise_with};
use super::ipset::IpSet;
use super::{
    Access, Actor, AssetGroup, AssetSet, BusinessUnit, Feature, Id, Module, ObjectKind,
    OwnedObject, Permission, Refusal, Role, ServiceType, State, Timestamp, Tx, User, UserStatus,
};

pub struct World {
    pub state: State,
    next: u32,
    clock: i64,
}

/// An active user record with empty names, `login@example.com` and no
/// groups: what [`World::user`] puts in, for fixtures that write users
/// through a store instead.
pub fn user_record(id: &str, login: &str, role: Role, unit: Option<&Id>) -> User {
    User {
        id: id.to_owned(),
        login: login.into(),
        email: format!("{login}@example.com"),
        first_name: String::new(),
        last_name: String::new(),
        role,
        business_unit: unit.cloned(),
        status: UserStatus::Active,
        asset_groups: Vec::new(),
        permissions: BTreeSet::new(),
        access: Access::UiAndApi,
        external_id: None,
        created_at: Timestamp::from_unix_micros(2),
        last_login_at: None,
        notification_opt_outs: Default::default(),
    }
}

pub fn actor_of(state: &State, id: &str) -> Actor {
    match state.users.get(id) {
        Some(u) => Actor {
            user: Some(u.id.clone()),
            login: u.login.clone(),
            business_unit: u.business_unit.clone(),
            ip: None,
        },
        None => Actor {
            user: Some(id.to_owned()),
            login: id.to_owned(),
            business_unit: None,
            ip: None,
        },
    }
}

/// The parts of a state a command may change, to compare before and after.
/// Every field of `s`, hash maps in key order (their own order depends on
/// how they were built).
pub fn canonical(s: &State) -> String {
    fn sorted<V: std::fmt::Debug + Clone>(
        m: &imbl::HashMap<String, V>,
    ) -> std::collections::BTreeMap<String, V> {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.subscription,
        s.users,
        sorted(&s.logins),
        sorted(&s.credentials),
        sorted(&s.activation_links),
        s.units,
        s.settings,
        sorted(&s.sessions),
        s.assets,
        s.unit_assets,
        s.appliances,
        s.asset_groups,
        s.distribution_groups,
        s.objects,
        s.services
    )
}

pub fn fingerprint(s: &State) -> String {
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        s.subscription,
        s.users,
        s.logins,
        s.units,
        s.settings,
        s.credentials.len(),
        s.activation_links.len(),
        s.sessions.len(),
        s.asset_groups,
        s.distribution_groups,
        s.objects,
        s.services
    )
}

/// The scene most people rules are told in ([`World::eu_us`]).
pub struct EuUs {
    pub w: World,
    pub eu: Id,
    pub us: Id,
    /// Unit Manager of EU; made `group`.
    pub jane: Id,
    /// Scanner of EU, holding `group`.
    pub sam: Id,
    /// Unit Manager of US.
    pub ursula: Id,
    /// An asset group of EU: 10.1.0.0/24.
    pub group: Id,
}

impl Default for World {
    fn default() -> World {
        World::new()
    }
}

impl World {
    pub fn new() -> World {
        World::with(ServiceType::Enterprise, &[Module::Vm])
    }

    pub fn with(service_type: ServiceType, modules: &[Module]) -> World {
        let mut state = State::default();
        let plan = Bootstrap {
            subscription: "Acme".into(),
            service_type,
            modules: modules.iter().copied().collect(),
            manager_login: "admin".into(),
            manager_email: "admin@example.com".into(),
        };
        let mut tx = Tx::new(
            &mut state,
            Timestamp::from_unix_micros(1),
            Actor::operator(),
        );
        initialise_with(
            &mut tx,
            &plan,
            "m1".into(),
            FirstCredential::Password { hash: "x".into() },
        )
        .expect("bootstrap");
        World {
            state,
            next: 0,
            clock: 10,
        }
    }

    /// Units EU and US; Unit Managers jane (EU) and ursula (US); Scanner
    /// sam (EU) holding the EU group `title` (10.1.0.0/24) that jane made.
    pub fn eu_us(title: &str) -> EuUs {
        let mut w = World::new();
        let eu = w.unit("EU");
        let us = w.unit("US");
        let jane = w.user("jane", Role::UnitManager, Some(&eu));
        let sam = w.user("sam", Role::Scanner, Some(&eu));
        let ursula = w.user("ursula", Role::UnitManager, Some(&us));
        let group = w.group(title, &[&eu], &jane, Role::UnitManager, &["10.1.0.0/24"]);
        w.assign(&sam, &[&group]);
        EuUs {
            w,
            eu,
            us,
            jane,
            sam,
            ursula,
            group,
        }
    }

    fn fresh(&mut self, prefix: &str) -> Id {
        self.next += 1;
        format!("{prefix}{:04}", self.next)
    }

    pub fn feature(&mut self, f: Feature) {
        if let Some(s) = self.state.subscription.as_mut() {
            s.features.insert(f);
        }
    }

    /// A unit put straight into the state.
    pub fn unit(&mut self, name: &str) -> Id {
        let id = self.fresh("bu");
        self.unit_with_id(&id, name);
        id
    }

    /// [`World::unit`] with an id of the caller's choosing (a fixture whose
    /// ids a fuzzer's dictionary or a test's expectations spell out).
    pub fn unit_with_id(&mut self, id: &str, name: &str) {
        let id = id.to_owned();
        self.state.units.insert(
            id.clone(),
            BusinessUnit {
                id: id.clone(),
                name: name.into(),
                primary_contact: None,
                new_ip_limit: None,
                email_contact: None,
                created_at: Timestamp::from_unix_micros(2),
            },
        );
    }

    /// An active user put straight into the state; its id is `u` plus a
    /// number (so ids sort in creation order).
    pub fn user(&mut self, login: &str, role: Role, unit: Option<&Id>) -> Id {
        let id = self.fresh("u");
        self.user_with_id(&id, login, role, unit);
        id
    }

    /// [`World::user`] with an id of the caller's choosing.
    pub fn user_with_id(&mut self, id: &str, login: &str, role: Role, unit: Option<&Id>) {
        let mut tx = Tx::new(
            &mut self.state,
            Timestamp::from_unix_micros(2),
            Actor::operator(),
        );
        tx.put_user(user_record(id, login, role, unit));
    }

    fn edit(&mut self, id: &str, f: impl FnOnce(&mut User)) {
        if let Some(u) = self.state.users.get_mut(id) {
            f(u);
        }
    }

    pub fn set_status(&mut self, id: &str, s: UserStatus) {
        self.edit(id, |u| u.status = s);
    }

    pub fn set_perms(&mut self, id: &str, perms: &[Permission]) {
        self.edit(id, |u| u.permissions = perms.iter().copied().collect());
    }

    pub fn rename(&mut self, id: &str, first: &str, last: &str) {
        self.edit(id, |u| {
            u.first_name = first.into();
            u.last_name = last.into();
        });
    }

    /// An asset group put straight into the state.
    pub fn group(
        &mut self,
        title: &str,
        units: &[&Id],
        owner: &str,
        created_by: Role,
        ips: &[&str],
    ) -> Id {
        let id = self.fresh("g");
        self.state.asset_groups.insert(
            id.clone(),
            AssetGroup {
                id: id.clone(),
                title: title.into(),
                assets: AssetSet {
                    ips: IpSet::parse_list("ips", ips).expect("test IPs"),
                    ..AssetSet::default()
                },
                business_units: units.iter().map(|u| (*u).clone()).collect(),
                owner: owner.into(),
                created_by_role: created_by,
                created_at: Timestamp::from_unix_micros(2),
            },
        );
        id
    }

    /// Gives `user` exactly these groups.
    pub fn assign(&mut self, user: &str, groups: &[&Id]) {
        self.edit(user, |u| {
            u.asset_groups = groups.iter().map(|g| (*g).clone()).collect()
        });
    }

    /// An object of `owner`, in its unit, put straight into the state.
    pub fn object(&mut self, kind: ObjectKind, owner: &str, ips: &[&str]) -> Id {
        let id = self.fresh("o");
        let user = &self.state.users[owner];
        let o = OwnedObject {
            id: id.clone(),
            kind,
            name: format!("{} {}", kind.as_str(), id),
            owner: Some(owner.into()),
            created_by_role: user.role,
            business_unit: user.business_unit.clone(),
            global: false,
            asset_groups: Vec::new(),
            ips: IpSet::parse_list("ips", ips).expect("test IPs"),
            assignee: None,
            valid: true,
            deactivated: false,
            created_at: Timestamp::from_unix_micros(2),
            updated_at: Timestamp::from_unix_micros(2),
        };
        self.state.objects.insert(id.clone(), o);
        id
    }

    /// Edits an object in place.
    pub fn with_object(&mut self, id: &str, f: impl FnOnce(&mut OwnedObject)) {
        if let Some(o) = self.state.objects.get_mut(id) {
            f(o);
        }
    }

    pub fn acting(&self, id: &str) -> Acting<'_> {
        Acting::of(&self.state, id).expect("an active user")
    }

    /// Runs `command` as user `actor` and checks the activity promise.
    pub fn run<T>(
        &mut self,
        actor: &str,
        command: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        let who = actor_of(&self.state, actor);
        self.run_as(who, command)
    }

    /// Runs a workflow that writes an entry per thing it changes (R7.4,
    /// R7.5): accepted, it wrote at least one; refused, none and changed
    /// nothing. Returns the entries.
    pub fn run_logged<T>(
        &mut self,
        actor: &str,
        command: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal>,
    ) -> (Result<T, Refusal>, Vec<super::Activity>) {
        let who = actor_of(&self.state, actor);
        let (out, log, _) = self.run_logged_as(who, command);
        (out, log)
    }

    /// [`World::run`] as any actor: the operator, a service.
    pub fn run_as<T>(
        &mut self,
        who: Actor,
        command: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal>,
    ) -> Result<T, Refusal> {
        let (out, log, own) = self.run_logged_as(who, command);
        if out.is_ok() {
            assert_eq!(own, 1, "an accepted command writes one entry: {log:?}");
        }
        out
    }

    fn run_logged_as<T>(
        &mut self,
        who: Actor,
        command: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal>,
    ) -> (Result<T, Refusal>, Vec<super::Activity>, usize) {
        self.clock += 1;
        let before = self.state.clone();
        let mut tx = Tx::recording(
            &mut self.state,
            Timestamp::from_unix_micros(self.clock),
            who,
        );
        let out = command(&mut tx);
        // What the command itself logged; then what follows from it, as the
        // store runs it.
        let own = tx.entries();
        if out.is_ok() {
            crate::settle(&mut tx);
        }
        // The store's writer undoes a refused or panicked command with the
        // transaction's record of what it replaced: that must give back
        // exactly the state before, whatever the command did.
        assert_eq!(
            canonical(&tx.rolled_back()),
            canonical(&before),
            "rolling back a command gives the state before (it was {})",
            if out.is_ok() { "accepted" } else { "refused" }
        );
        let (_, log) = tx.finish();
        match &out {
            Ok(_) => assert!(!log.is_empty(), "an accepted command writes entries"),
            Err(r) => {
                assert!(log.is_empty(), "a refusal writes no entry: {r:?} {log:?}");
                assert_eq!(
                    fingerprint(&before),
                    fingerprint(&self.state),
                    "a refusal changes nothing: {r:?}"
                );
                assert!(!r.message.is_empty());
            }
        }
        (out, log, own)
    }
}
