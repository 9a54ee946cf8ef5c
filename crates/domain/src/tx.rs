//! [`Tx`]: the only way to change a [`State`]. It remembers which keys a
//! command touched and which activity entries it wrote, so that the store can
//! persist both in the same durable transaction (R7.6, R11.3).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::{
    ActivationLink, AssetGroup, AssetSet, BusinessUnit, Credentials, DistributionGroup, Id,
    LogAction, OwnedObject, ScannerAppliance, Session, Settings, State, Subscription, Timestamp,
    UnitAssets, User,
};

/// A stored record, named by what it is. The store maps each to a table.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// The subscription (R1).
    Subscription,
    /// A user, by id; its login index follows it.
    User(Id),
    /// A user's secrets and lockout counters, by user id.
    Credentials(Id),
    /// A one-time link, by the hash of its token.
    ActivationLink(String),
    /// A business unit, by id.
    Unit(Id),
    /// The subscription-wide settings.
    Settings,
    /// A session, by the hash of its token.
    Session(String),
    /// The subscription's IPs and domains.
    Assets,
    /// The assets assigned to a unit (R3.1), by unit id.
    UnitAssets(Id),
    /// A scanner appliance, by id.
    Appliance(Id),
    /// An asset group, by id.
    AssetGroup(Id),
    /// A distribution group, by id.
    DistributionGroup(Id),
    /// An owned object (R9).
    Object(Id),
    /// A service account, by name.
    Service(String),
}

/// Who is acting, from where: recorded with every activity entry (R11.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `None` for the appliance operator (admin socket) and the system itself.
    pub user: Option<Id>,
    /// The name the log shows: the user's login, `operator`, or a service
    /// account's prefixed name.
    pub login: String,
    /// The actor's unit when acting: R11.2 scopes Unit Managers by it.
    pub business_unit: Option<Id>,
    /// The client's address, when it came over the network.
    pub ip: Option<IpAddr>,
}

impl Actor {
    /// The appliance operator, acting through `bailiwick ctl` or the command line.
    pub fn operator() -> Actor {
        Actor {
            user: None,
            login: "operator".into(),
            business_unit: None,
            ip: None,
        }
    }

    /// Whether this is the appliance operator: no user, and not a service.
    pub fn is_operator(&self) -> bool {
        self.user.is_none() && self.login == "operator"
    }

    /// A service account acting for no user.
    pub fn is_service(&self) -> bool {
        self.user.is_none() && self.login.starts_with(super::services::SERVICE_PREFIX)
    }

    /// A service account acting (its changes are logged under its name).
    pub fn service(name: &str, ip: Option<IpAddr>) -> Actor {
        Actor {
            user: None,
            login: format!("{}{name}", super::services::SERVICE_PREFIX),
            business_unit: None,
            ip,
        }
    }
}

/// One activity-log entry as a command writes it; the store gives it its
/// sequence number when the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// When the command ran: the transaction's `now`.
    pub time: Timestamp,
    /// Who did it, from where, and in which unit (R11.2 scopes by it).
    pub actor: Actor,
    /// What was done: a [`LogAction`]'s name, or a service's own action.
    pub action: String,
    /// What it was done to, e.g. `user jane (u1)`.
    pub target: String,
    /// What changed, for a person reading the log.
    pub details: String,
}

/// One command's changes to a [`State`], as they are made: the keys it
/// touched, its activity entries and the mail it queued, for the store to
/// commit together (R7.6).
pub struct Tx<'a> {
    state: &'a mut State,
    touched: Vec<Key>,
    activity: Vec<Activity>,
    notices: Vec<super::credentials::Notice>,
    mail: Vec<super::notice::MailChange>,
    now: Timestamp,
    actor: Actor,
    /// Something a user's reach (R6.4) is made of changed: a user's role,
    /// unit or asset groups, a group, a unit, or assets. Read by
    /// [`crate::settle`] to revalidate tickets once, after the command.
    reach_changed: bool,
    /// With [`Tx::recording`]: each touched record's value before this
    /// transaction first touched it, so that [`Tx::rollback`] can undo the
    /// command without a copy of the whole state made in advance.
    undo: Option<Undo>,
}

/// The values a transaction replaced, by key, in the order first touched.
#[derive(Default)]
struct Undo {
    seen: std::collections::HashSet<Key>,
    saved: Vec<Saved>,
}

/// One record as it was before the transaction touched it (`None`: absent).
#[derive(Clone)]
enum Saved {
    Subscription(Option<Subscription>),
    User(Id, Option<User>),
    Credentials(Id, Option<Credentials>),
    ActivationLink(String, Option<ActivationLink>),
    Unit(Id, Option<BusinessUnit>),
    Settings(Box<Settings>),
    Session(String, Option<Session>),
    Assets(Box<AssetSet>),
    UnitAssets(Id, Option<UnitAssets>),
    Appliance(Id, Option<ScannerAppliance>),
    AssetGroup(Id, Option<AssetGroup>),
    DistributionGroup(Id, Option<DistributionGroup>),
    Object(Id, Option<OwnedObject>),
    Service(String, Option<super::services::ServiceAccount>),
}

impl Saved {
    fn of(state: &State, key: &Key) -> Saved {
        match key {
            Key::Subscription => Saved::Subscription(state.subscription.clone()),
            Key::User(id) => Saved::User(id.clone(), state.users.get(id).cloned()),
            Key::Credentials(id) => {
                Saved::Credentials(id.clone(), state.credentials.get(id).cloned())
            }
            Key::ActivationLink(h) => {
                Saved::ActivationLink(h.clone(), state.activation_links.get(h).cloned())
            }
            Key::Unit(id) => Saved::Unit(id.clone(), state.units.get(id).cloned()),
            Key::Settings => Saved::Settings(Box::new(state.settings.clone())),
            Key::Session(h) => Saved::Session(h.clone(), state.sessions.get(h).cloned()),
            Key::Assets => Saved::Assets(Box::new(state.assets.clone())),
            Key::UnitAssets(id) => {
                Saved::UnitAssets(id.clone(), state.unit_assets.get(id).cloned())
            }
            Key::Appliance(id) => Saved::Appliance(id.clone(), state.appliances.get(id).cloned()),
            Key::AssetGroup(id) => {
                Saved::AssetGroup(id.clone(), state.asset_groups.get(id).cloned())
            }
            Key::DistributionGroup(id) => {
                Saved::DistributionGroup(id.clone(), state.distribution_groups.get(id).cloned())
            }
            Key::Object(id) => Saved::Object(id.clone(), state.objects.get(id).cloned()),
            Key::Service(n) => Saved::Service(n.clone(), state.services.get(n).cloned()),
        }
    }

    fn restore(self, state: &mut State) {
        fn put<K: Ord + Clone, V: Clone>(m: &mut imbl::OrdMap<K, V>, k: K, v: Option<V>) {
            match v {
                Some(v) => m.insert(k, v),
                None => m.remove(&k),
            };
        }
        fn put_hashed<V: Clone>(m: &mut imbl::HashMap<String, V>, k: String, v: Option<V>) {
            match v {
                Some(v) => m.insert(k, v),
                None => m.remove(&k),
            };
        }
        match self {
            Saved::Subscription(v) => state.subscription = v,
            Saved::User(id, v) => {
                // Logins follow users: drop the current one's, put back the old.
                if let Some(now) = state.users.get(&id) {
                    let login = now.login.to_lowercase();
                    if state.logins.get(&login) == Some(&id) {
                        state.logins.remove(&login);
                    }
                }
                if let Some(old) = &v {
                    state.logins.insert(old.login.to_lowercase(), id.clone());
                }
                put(&mut state.users, id, v);
            }
            Saved::Credentials(id, v) => put_hashed(&mut state.credentials, id, v),
            Saved::ActivationLink(h, v) => put_hashed(&mut state.activation_links, h, v),
            Saved::Unit(id, v) => put(&mut state.units, id, v),
            Saved::Settings(v) => state.settings = *v,
            Saved::Session(h, v) => put_hashed(&mut state.sessions, h, v),
            Saved::Assets(v) => state.assets = *v,
            Saved::UnitAssets(id, v) => put(&mut state.unit_assets, id, v),
            Saved::Appliance(id, v) => put(&mut state.appliances, id, v),
            Saved::AssetGroup(id, v) => put(&mut state.asset_groups, id, v),
            Saved::DistributionGroup(id, v) => put(&mut state.distribution_groups, id, v),
            Saved::Object(id, v) => put(&mut state.objects, id, v),
            Saved::Service(n, v) => put(&mut state.services, n, v),
        }
    }
}

impl<'a> Tx<'a> {
    /// A transaction on `state` at `now` by `actor`, without an undo record:
    /// for callers that drop the state when a command is refused.
    pub fn new(state: &'a mut State, now: Timestamp, actor: Actor) -> Tx<'a> {
        Tx {
            state,
            touched: Vec::new(),
            activity: Vec::new(),
            notices: Vec::new(),
            mail: Vec::new(),
            now,
            actor,
            reach_changed: false,
            undo: None,
        }
    }

    /// A transaction that can be rolled back ([`Tx::rollback`]): what the
    /// store's writer runs each command in.
    pub fn recording(state: &'a mut State, now: Timestamp, actor: Actor) -> Tx<'a> {
        let mut tx = Tx::new(state, now, actor);
        tx.undo = Some(Undo::default());
        tx
    }

    /// Keeps `key`'s current value for [`Tx::rollback`], the first time.
    /// Every change of the state goes through here first.
    fn save(&mut self, key: &Key) {
        if let Some(undo) = &mut self.undo
            && undo.seen.insert(key.clone())
        {
            undo.saved.push(Saved::of(self.state, key));
        }
    }

    /// [`Tx::save`], then records `key` as touched.
    fn touch(&mut self, key: Key) {
        self.save(&key);
        self.touched.push(key);
    }

    /// The state as [`Tx::rollback`] would leave it, leaving this
    /// transaction alone (for tests: the fixture kit checks it after every
    /// command).
    #[cfg(any(test, feature = "testkit"))]
    pub(crate) fn rolled_back(&self) -> State {
        let mut s = self.state.clone();
        for saved in self.undo.iter().flat_map(|u| u.saved.iter()).rev() {
            saved.clone().restore(&mut s);
        }
        s
    }

    /// Undoes every change of a [`Tx::recording`] transaction (a refused
    /// or panicked command), leaving the state as it was before it.
    pub fn rollback(self) {
        if let Some(undo) = self.undo {
            for saved in undo.saved.into_iter().rev() {
                saved.restore(self.state);
            }
        }
    }

    /// The state with this transaction's changes so far.
    pub fn state(&self) -> &State {
        self.state
    }

    /// When the command runs; rules read this, never a clock.
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Who runs the command.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Appends an activity entry by the transaction's actor.
    pub fn log(
        &mut self,
        action: LogAction,
        target: impl Into<String>,
        details: impl Into<String>,
    ) {
        self.append(action.as_str(), target.into(), details.into());
    }

    /// An entry for an action another service of the appliance reports, by
    /// its own name (`services::record` checks the name's namespace).
    pub(crate) fn log_reported(&mut self, action: &str, target: &str, details: &str) {
        self.append(action, target.to_owned(), details.to_owned());
    }

    fn append(&mut self, action: &str, target: String, details: String) {
        self.activity.push(Activity {
            time: self.now,
            actor: self.actor.clone(),
            action: action.to_owned(),
            target,
            details,
        });
    }

    /// Stores the subscription.
    pub fn put_subscription(&mut self, s: Subscription) {
        self.touch(Key::Subscription);
        self.state.subscription = Some(s);
    }

    /// Stores a user and keeps the login index in step; a change of role, unit
    /// or groups marks reach as changed (R9.2).
    pub fn put_user(&mut self, user: User) {
        self.touch(Key::User(user.id.clone()));
        let old = self.state.users.get(&user.id);
        // A login's last_login_at is no change of reach: most writes of a
        // user record are not, and revalidating walks every ticket.
        self.reach_changed |= old.is_none_or(|old| {
            old.role != user.role
                || old.business_unit != user.business_unit
                || old.asset_groups != user.asset_groups
        });
        if let Some(old) = old
            && !old.login.eq_ignore_ascii_case(&user.login)
        {
            self.state.logins.remove(&old.login.to_lowercase());
        }
        self.state
            .logins
            .insert(user.login.to_lowercase(), user.id.clone());
        self.state.users.insert(user.id.clone(), user);
    }

    /// Stores a user's secrets and counters.
    pub fn put_credentials(&mut self, user: &Id, c: Credentials) {
        self.touch(Key::Credentials(user.clone()));
        self.state.credentials.insert(user.clone(), c);
    }

    pub(crate) fn put_activation_link(&mut self, link: ActivationLink) {
        self.touch(Key::ActivationLink(link.token_hash.clone()));
        self.state
            .activation_links
            .insert(link.token_hash.clone(), link);
    }

    pub(crate) fn remove_activation_link(&mut self, token_hash: &str) {
        self.touch(Key::ActivationLink(token_hash.to_owned()));
        self.state.activation_links.remove(token_hash);
    }

    /// Removes every activation link of `user`.
    pub(crate) fn remove_links_of(&mut self, user: &Id) {
        let links: Vec<String> = self
            .state
            .activation_links
            .values()
            .filter(|l| &l.user == user)
            .map(|l| l.token_hash.clone())
            .collect();
        for h in links {
            self.remove_activation_link(&h);
        }
    }

    /// Removes a user with its credentials, sessions and activation links.
    pub fn remove_user(&mut self, id: &Id) {
        self.reach_changed = true;
        self.remove_links_of(id);
        self.touch(Key::User(id.clone()));
        if let Some(old) = self.state.users.remove(id) {
            self.state.logins.remove(&old.login.to_lowercase());
        }
        let credentials = Key::Credentials(id.clone());
        self.save(&credentials);
        if self.state.credentials.remove(id).is_some() {
            self.touched.push(credentials);
        }
        self.end_sessions_of(id, None);
    }

    /// Stores a business unit; reach may change with it (R9.2).
    pub fn put_unit(&mut self, unit: BusinessUnit) {
        self.reach_changed = true;
        self.touch(Key::Unit(unit.id.clone()));
        self.state.units.insert(unit.id.clone(), unit);
    }

    pub(crate) fn remove_unit(&mut self, id: &Id) {
        self.reach_changed = true;
        self.touch(Key::Unit(id.clone()));
        self.state.units.remove(id);
    }

    /// Stores the subscription-wide settings.
    pub fn put_settings(&mut self, settings: Settings) {
        self.touch(Key::Settings);
        self.state.settings = settings;
    }

    pub(crate) fn put_session(&mut self, session: Session) {
        self.touch(Key::Session(session.token_hash.clone()));
        self.state
            .sessions
            .insert(session.token_hash.clone(), session);
    }

    /// Ends one session, returning it if there was one.
    pub fn remove_session(&mut self, token_hash: &str) -> Option<Session> {
        let key = Key::Session(token_hash.to_owned());
        self.save(&key);
        let old = self.state.sessions.remove(token_hash);
        if old.is_some() {
            self.touched.push(key);
        }
        old
    }

    /// Ends every session of `user` except `keep` (a token hash). Returns how many.
    pub fn end_sessions_of(&mut self, user: &Id, keep: Option<&str>) -> usize {
        let ending: Vec<String> = self
            .state
            .sessions
            .values()
            .filter(|s| &s.user == user && Some(s.token_hash.as_str()) != keep)
            .map(|s| s.token_hash.clone())
            .collect();
        for h in &ending {
            self.remove_session(h);
        }
        ending.len()
    }

    /// Stores the subscription's IPs and domains; reach changes with them
    /// (R9.2).
    pub fn put_assets(&mut self, assets: AssetSet) {
        self.reach_changed = true;
        self.touch(Key::Assets);
        self.state.assets = assets;
    }

    /// Stores a unit's assets; an empty record is removed.
    pub fn put_unit_assets(&mut self, unit: &Id, a: UnitAssets) {
        self.reach_changed = true;
        self.touch(Key::UnitAssets(unit.clone()));
        if a == UnitAssets::default() {
            self.state.unit_assets.remove(unit);
        } else {
            self.state.unit_assets.insert(unit.clone(), a);
        }
    }

    /// Stores a scanner appliance; reach changes with it (R9.2).
    pub fn put_appliance(&mut self, a: ScannerAppliance) {
        self.reach_changed = true;
        self.touch(Key::Appliance(a.id.clone()));
        self.state.appliances.insert(a.id.clone(), a);
    }

    /// Removes a scanner appliance; reach changes with it (R9.2).
    pub fn remove_appliance(&mut self, id: &Id) {
        self.reach_changed = true;
        self.touch(Key::Appliance(id.clone()));
        self.state.appliances.remove(id);
    }

    /// Stores an asset group; reach changes with it (R9.2).
    pub fn put_asset_group(&mut self, g: AssetGroup) {
        self.reach_changed = true;
        self.touch(Key::AssetGroup(g.id.clone()));
        self.state.asset_groups.insert(g.id.clone(), g);
    }

    /// Removes an asset group; reach changes with it (R9.2).
    pub fn remove_asset_group(&mut self, id: &Id) {
        self.reach_changed = true;
        self.touch(Key::AssetGroup(id.clone()));
        self.state.asset_groups.remove(id);
    }

    pub(crate) fn put_distribution_group(&mut self, g: DistributionGroup) {
        self.touch(Key::DistributionGroup(g.id.clone()));
        self.state.distribution_groups.insert(g.id.clone(), g);
    }

    pub(crate) fn remove_distribution_group(&mut self, id: &Id) {
        self.touch(Key::DistributionGroup(id.clone()));
        self.state.distribution_groups.remove(id);
    }

    /// Stores an owned object (R9).
    pub fn put_object(&mut self, o: OwnedObject) {
        self.touch(Key::Object(o.id.clone()));
        self.state.objects.insert(o.id.clone(), o);
    }

    pub(crate) fn remove_object(&mut self, id: &Id) {
        self.touch(Key::Object(id.clone()));
        self.state.objects.remove(id);
    }

    pub(crate) fn put_service(&mut self, s: super::services::ServiceAccount) {
        self.touch(Key::Service(s.name.clone()));
        self.state.services.insert(s.name.clone(), s);
    }

    pub(crate) fn remove_service(&mut self, name: &str) {
        self.touch(Key::Service(name.to_owned()));
        self.state.services.remove(name);
    }

    /// Queues an email, stored in the same transaction as the change (R12.1).
    pub fn queue_notice(&mut self, notice: super::credentials::Notice) {
        self.notices.push(notice);
    }

    /// Records what delivery did with an outbox entry (R12.1), persisted in
    /// this transaction.
    pub fn settle_mail(&mut self, change: super::notice::MailChange) {
        self.mail.push(change);
    }

    /// The mail settlements recorded so far, for the store.
    pub fn take_mail_changes(&mut self) -> Vec<super::notice::MailChange> {
        std::mem::take(&mut self.mail)
    }

    /// The users this transaction changed so far, each once, in order.
    pub fn touched_users(&self) -> Vec<Id> {
        let mut seen = std::collections::BTreeSet::new();
        self.touched
            .iter()
            .filter_map(|k| match k {
                Key::User(id) if seen.insert(id) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// Whether a user's reach may have changed (see `reach_changed`).
    pub fn reach_changed(&self) -> bool {
        self.reach_changed
    }

    /// How many activity entries this transaction has written so far.
    pub fn entries(&self) -> usize {
        self.activity.len()
    }

    /// Ends the transaction, giving the keys touched (in order, possibly
    /// repeated) and the activity entries written.
    pub fn finish(self) -> (Vec<Key>, Vec<Activity>) {
        (self.touched, self.activity)
    }

    /// [`Tx::finish`] with the queued emails too.
    pub fn finish_all(self) -> (Vec<Key>, Vec<Activity>, Vec<super::credentials::Notice>) {
        (self.touched, self.activity, self.notices)
    }
}
