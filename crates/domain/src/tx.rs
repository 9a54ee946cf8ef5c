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
    Subscription,
    User(Id),
    Credentials(Id),
    ActivationLink(String),
    Unit(Id),
    Settings,
    Session(String),
    /// The subscription's IPs and domains.
    Assets,
    UnitAssets(Id),
    Appliance(Id),
    AssetGroup(Id),
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
    pub login: String,
    /// The actor's unit when acting: R11.2 scopes Unit Managers by it.
    pub business_unit: Option<Id>,
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
    pub time: Timestamp,
    pub actor: Actor,
    pub action: String,
    pub target: String,
    pub details: String,
}

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
}

impl<'a> Tx<'a> {
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
        }
    }

    pub fn state(&self) -> &State {
        self.state
    }

    pub fn now(&self) -> Timestamp {
        self.now
    }

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

    pub fn put_subscription(&mut self, s: Subscription) {
        self.state.subscription = Some(s);
        self.touched.push(Key::Subscription);
    }

    pub fn put_user(&mut self, user: User) {
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
        self.touched.push(Key::User(user.id.clone()));
        self.state.users.insert(user.id.clone(), user);
    }

    pub fn put_credentials(&mut self, user: &Id, c: Credentials) {
        self.state.credentials.insert(user.clone(), c);
        self.touched.push(Key::Credentials(user.clone()));
    }

    pub(crate) fn put_activation_link(&mut self, link: ActivationLink) {
        self.touched
            .push(Key::ActivationLink(link.token_hash.clone()));
        self.state
            .activation_links
            .insert(link.token_hash.clone(), link);
    }

    pub(crate) fn remove_activation_link(&mut self, token_hash: &str) {
        self.state.activation_links.remove(token_hash);
        self.touched
            .push(Key::ActivationLink(token_hash.to_owned()));
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
        if let Some(old) = self.state.users.remove(id) {
            self.state.logins.remove(&old.login.to_lowercase());
        }
        self.touched.push(Key::User(id.clone()));
        if self.state.credentials.remove(id).is_some() {
            self.touched.push(Key::Credentials(id.clone()));
        }
        self.end_sessions_of(id, None);
    }

    pub fn put_unit(&mut self, unit: BusinessUnit) {
        self.reach_changed = true;
        self.touched.push(Key::Unit(unit.id.clone()));
        self.state.units.insert(unit.id.clone(), unit);
    }

    pub(crate) fn remove_unit(&mut self, id: &Id) {
        self.reach_changed = true;
        self.state.units.remove(id);
        self.touched.push(Key::Unit(id.clone()));
    }

    pub fn put_settings(&mut self, settings: Settings) {
        self.state.settings = settings;
        self.touched.push(Key::Settings);
    }

    pub(crate) fn put_session(&mut self, session: Session) {
        self.touched.push(Key::Session(session.token_hash.clone()));
        self.state
            .sessions
            .insert(session.token_hash.clone(), session);
    }

    pub fn remove_session(&mut self, token_hash: &str) -> Option<Session> {
        let old = self.state.sessions.remove(token_hash);
        if old.is_some() {
            self.touched.push(Key::Session(token_hash.to_owned()));
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

    pub fn put_assets(&mut self, assets: AssetSet) {
        self.reach_changed = true;
        self.state.assets = assets;
        self.touched.push(Key::Assets);
    }

    /// Stores a unit's assets; an empty record is removed.
    pub fn put_unit_assets(&mut self, unit: &Id, a: UnitAssets) {
        self.reach_changed = true;
        if a == UnitAssets::default() {
            self.state.unit_assets.remove(unit);
        } else {
            self.state.unit_assets.insert(unit.clone(), a);
        }
        self.touched.push(Key::UnitAssets(unit.clone()));
    }

    pub fn put_appliance(&mut self, a: ScannerAppliance) {
        self.reach_changed = true;
        self.touched.push(Key::Appliance(a.id.clone()));
        self.state.appliances.insert(a.id.clone(), a);
    }

    pub fn remove_appliance(&mut self, id: &Id) {
        self.reach_changed = true;
        self.state.appliances.remove(id);
        self.touched.push(Key::Appliance(id.clone()));
    }

    pub fn put_asset_group(&mut self, g: AssetGroup) {
        self.reach_changed = true;
        self.touched.push(Key::AssetGroup(g.id.clone()));
        self.state.asset_groups.insert(g.id.clone(), g);
    }

    pub fn remove_asset_group(&mut self, id: &Id) {
        self.reach_changed = true;
        self.state.asset_groups.remove(id);
        self.touched.push(Key::AssetGroup(id.clone()));
    }

    pub(crate) fn put_distribution_group(&mut self, g: DistributionGroup) {
        self.touched.push(Key::DistributionGroup(g.id.clone()));
        self.state.distribution_groups.insert(g.id.clone(), g);
    }

    pub(crate) fn remove_distribution_group(&mut self, id: &Id) {
        self.state.distribution_groups.remove(id);
        self.touched.push(Key::DistributionGroup(id.clone()));
    }

    pub fn put_object(&mut self, o: OwnedObject) {
        self.touched.push(Key::Object(o.id.clone()));
        self.state.objects.insert(o.id.clone(), o);
    }

    pub(crate) fn remove_object(&mut self, id: &Id) {
        self.state.objects.remove(id);
        self.touched.push(Key::Object(id.clone()));
    }

    pub(crate) fn put_service(&mut self, s: super::services::ServiceAccount) {
        self.touched.push(Key::Service(s.name.clone()));
        self.state.services.insert(s.name.clone(), s);
    }

    pub(crate) fn remove_service(&mut self, name: &str) {
        self.state.services.remove(name);
        self.touched.push(Key::Service(name.to_owned()));
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
