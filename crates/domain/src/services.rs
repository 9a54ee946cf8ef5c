//! Service accounts: the identity of the appliance's other services (the
//! scanner, the report engine), so that none of them holds a person's
//! password. A service account is not a user: it holds no role, cannot sign
//! in, and does only what its scopes name.
//!
//! The one thing to know: the domain never sees a secret, only its hash.
//! A rotation keeps the previous hash valid until the overlap ends, so a
//! service can roll its secret without downtime.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Code, Refusal, Role, State, Timestamp, Tx};
use crate::LogAction;

/// What a service account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// `authz/check` and `check-batch` about any user: the decision and its
    /// reason, never more about the user.
    Check,
    /// The owned-object registry and launches (R9).
    Objects,
    /// `POST /notifications` (R12.1).
    Notify,
    /// `POST /introspect`: whether a session token is live, and whose.
    Introspect,
    /// `POST /activity`: entries of the service's own actions (R11).
    Audit,
}

impl Scope {
    /// Every scope, in the order of the daemon's scope bits.
    pub const ALL: [Scope; 5] = [
        Scope::Check,
        Scope::Objects,
        Scope::Notify,
        Scope::Introspect,
        Scope::Audit,
    ];

    /// The scope's name in `--scopes` lists and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Check => "check",
            Scope::Objects => "objects",
            Scope::Notify => "notify",
            Scope::Introspect => "introspect",
            Scope::Audit => "audit",
        }
    }

    /// A comma-separated list, e.g. `check,objects`; at least one.
    pub fn parse_list(s: &str) -> Result<BTreeSet<Scope>, Refusal> {
        s.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .and_then(non_empty)
    }
}

impl std::str::FromStr for Scope {
    type Err = Refusal;

    fn from_str(s: &str) -> Result<Scope, Refusal> {
        Scope::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                Refusal::new(
                    Code::Validation,
                    format!(
                        "scopes: unknown scope {:?}; use check, objects, notify, introspect or audit",
                        s.chars().take(32).collect::<String>()
                    ),
                )
            })
    }
}

fn non_empty(scopes: BTreeSet<Scope>) -> Result<BTreeSet<Scope>, Refusal> {
    if scopes.is_empty() {
        Err(Refusal::new(
            Code::Validation,
            "scopes: give at least one of check, objects, notify, introspect, audit",
        ))
    } else {
        Ok(scopes)
    }
}

/// A secret's hash that still opens the account until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiringSecret {
    /// The hash of the secret before the rotation.
    pub hash: String,
    /// When the overlap ends and the old secret stops opening the account.
    pub until: Timestamp,
}

/// The identity of one of the appliance's other services: a name, its
/// scopes and its secret's hash, never a person's password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// Unique; 1 to 64 of `a-z`, `0-9`, `-`, `_`, starting with a letter.
    pub name: String,
    /// What it may do; at least one scope.
    pub scopes: BTreeSet<Scope>,
    /// Hash of the current secret (the daemon's token hash).
    pub secret_hash: String,
    /// The secret before the last rotation, during the overlap.
    pub retiring: Option<RetiringSecret>,
    /// When the operator or a Manager added it.
    pub created_at: Timestamp,
    /// When its secret last changed; `None` if never rotated.
    pub rotated_at: Option<Timestamp>,
}

impl ServiceAccount {
    /// Whether `hash` opens this account at `now`.
    pub fn opens_with(&self, hash: &str, now: Timestamp) -> bool {
        self.secret_hash == hash
            || self
                .retiring
                .as_ref()
                .is_some_and(|r| r.hash == hash && now < r.until)
    }

    /// The activity log's actor name for this account.
    pub fn actor_login(&self) -> String {
        format!("{SERVICE_PREFIX}{}", self.name)
    }
}

/// How a service appears as an actor in the activity log.
pub const SERVICE_PREFIX: &str = "service:";

/// The account a secret's hash opens at `now`, if any.
pub fn authenticate<'s>(
    state: &'s State,
    hash: &str,
    now: Timestamp,
) -> Option<&'s ServiceAccount> {
    state.services.values().find(|s| s.opens_with(hash, now))
}

fn check_name(name: &str) -> Result<(), Refusal> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(
            Code::Validation,
            "name: 1 to 64 of a-z, 0-9, - and _, starting with a letter (e.g. scanner)",
        ))
    }
}

/// The operator (through `bailiwick ctl`) and Managers manage service
/// accounts; a service cannot manage any, its own included.
fn may_manage(tx: &Tx<'_>) -> Result<(), Refusal> {
    let actor = tx.actor();
    let allowed = match &actor.user {
        None => actor.is_operator(),
        Some(id) => tx
            .state()
            .users
            .get(id)
            .is_some_and(|u| u.role == Role::Manager),
    };
    if allowed {
        Ok(())
    } else {
        Err(Refusal::new(
            Code::Forbidden,
            "only Managers and the appliance operator manage service accounts",
        ))
    }
}

fn existing(tx: &Tx<'_>, name: &str) -> Result<ServiceAccount, Refusal> {
    tx.state().services.get(name).cloned().ok_or_else(|| {
        Refusal::new(
            Code::NotFound,
            format!(
                "no service account named {:?}",
                name.chars().take(64).collect::<String>()
            ),
        )
    })
}

fn scope_list(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Creates a service account whose secret hashes to `secret_hash`.
pub fn add(
    tx: &mut Tx<'_>,
    name: &str,
    scopes: BTreeSet<Scope>,
    secret_hash: String,
) -> Result<ServiceAccount, Refusal> {
    may_manage(tx)?;
    check_name(name)?;
    let scopes = non_empty(scopes)?;
    if tx.state().services.contains_key(name) {
        return Err(Refusal::new(
            Code::Conflict,
            format!(
                "a service account named {name:?} exists; rotate its secret or remove it first"
            ),
        ));
    }
    let account = ServiceAccount {
        name: name.to_owned(),
        scopes,
        secret_hash,
        retiring: None,
        created_at: tx.now(),
        rotated_at: None,
    };
    tx.log(
        LogAction::ServiceAdd,
        account.actor_login(),
        format!("scopes {}", scope_list(&account.scopes)),
    );
    tx.put_service(account.clone());
    Ok(account)
}

/// Gives the account a new secret; the old one stays valid for `overlap`
/// (none when zero). A secret retiring from an earlier rotation ends now.
pub fn rotate(
    tx: &mut Tx<'_>,
    name: &str,
    secret_hash: String,
    overlap: Duration,
) -> Result<ServiceAccount, Refusal> {
    may_manage(tx)?;
    let mut account = existing(tx, name)?;
    let now = tx.now();
    account.retiring = (!overlap.is_zero()).then(|| RetiringSecret {
        hash: std::mem::take(&mut account.secret_hash),
        until: now.saturating_add(overlap),
    });
    account.secret_hash = secret_hash;
    account.rotated_at = Some(now);
    let details = match &account.retiring {
        Some(r) => format!("the old secret works until {}", r.until.to_rfc3339()),
        None => "the old secret stopped working".to_owned(),
    };
    tx.log(LogAction::ServiceRotate, account.actor_login(), details);
    tx.put_service(account.clone());
    Ok(account)
}

/// Removes the account; its secrets stop working at once.
pub fn remove(tx: &mut Tx<'_>, name: &str) -> Result<ServiceAccount, Refusal> {
    may_manage(tx)?;
    let account = existing(tx, name)?;
    tx.log(
        LogAction::ServiceRemove,
        account.actor_login(),
        String::new(),
    );
    tx.remove_service(name);
    Ok(account)
}

/// The namespaces of actions other services log: theirs alone, so that no
/// service can write an entry that reads as one of bailiwick's own.
pub const ACTIVITY_NAMESPACES: [&str; 3] = ["scanner", "report", "remediation"];

fn check_action(action: &str) -> Result<(), Refusal> {
    let ok = action.split_once('.').is_some_and(|(ns, rest)| {
        ACTIVITY_NAMESPACES.contains(&ns)
            && (1..=64).contains(&rest.len())
            && !rest.starts_with('.')
            && !rest.ends_with('.')
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    });
    if ok {
        Ok(())
    } else {
        Err(Refusal::new(
            Code::Validation,
            format!(
                "action: a name in the scanner, report or remediation namespace, e.g. scanner.scan_launched (a-z, 0-9, _ and . after the namespace, at most 64), not {:?}",
                action.chars().take(80).collect::<String>()
            ),
        ))
    }
}

/// An entry for an action of another service of the appliance (the seed's
/// "launched a scan"), in the same log and chain as bailiwick's own. The
/// actor is the service acting for a user, so R11.2 shows it to whoever may
/// see that user's entries.
pub fn record_activity(
    tx: &mut Tx<'_>,
    action: &str,
    target: &str,
    details: &str,
) -> Result<(), Refusal> {
    let actor = tx.actor();
    if actor.user.is_none() || !actor.login.starts_with(SERVICE_PREFIX) {
        return Err(Refusal::new(
            Code::Forbidden,
            "only a service account acting for a user records its activity",
        ));
    }
    check_action(action)?;
    super::validate::text("target", target, 256)?;
    if details.chars().count() > 2048 || details.chars().any(char::is_control) {
        return Err(Refusal::new(
            Code::Validation,
            "details: at most 2048 printable characters on one line",
        ));
    }
    tx.log_reported(action, target, details);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::World;
    use crate::{Actor, Role};

    const HOUR: Duration = Duration::from_secs(3600);

    fn scopes(s: &str) -> BTreeSet<Scope> {
        Scope::parse_list(s).unwrap()
    }

    fn op() -> Actor {
        Actor::operator()
    }

    fn add_as(
        w: &mut World,
        who: Actor,
        name: &str,
        s: &str,
        hash: &str,
    ) -> Result<ServiceAccount, Refusal> {
        w.run_as(who, |tx| add(tx, name, scopes(s), hash.into()))
    }

    #[test]
    fn the_operator_adds_a_service_whose_secret_opens_it() {
        let mut w = World::new();
        let a = add_as(&mut w, op(), "scanner", "check,objects", "h1").unwrap();
        assert_eq!(a.scopes, BTreeSet::from([Scope::Check, Scope::Objects]));
        let now = a.created_at;
        let found = authenticate(&w.state, "h1", now).map(|s| s.name.as_str());
        assert_eq!(found, Some("scanner"));
        assert!(authenticate(&w.state, "h2", now).is_none());
    }

    #[test]
    fn names_and_scopes_are_checked_and_names_unique() {
        let mut w = World::new();
        let long = "x".repeat(65);
        for bad in ["", "Scanner", "9lives", "a b", long.as_str(), "service:x"] {
            let e = add_as(&mut w, op(), bad, "check", "h").unwrap_err();
            assert_eq!(e.code, Code::Validation, "{bad:?}");
        }
        add_as(&mut w, op(), "report-engine", "notify", "h").unwrap();
        let e = add_as(&mut w, op(), "report-engine", "check", "h2").unwrap_err();
        assert_eq!(e.code, Code::Conflict);
        let e = w
            .run_as(op(), |tx| add(tx, "empty", BTreeSet::new(), "h3".into()))
            .unwrap_err();
        assert_eq!(e.code, Code::Validation);
        let every = Scope::parse_list("check,objects,notify,introspect,audit").unwrap();
        assert_eq!(every.into_iter().collect::<Vec<_>>(), Scope::ALL.to_vec());
        assert_eq!(Scope::parse_list("").unwrap_err().code, Code::Validation);
        assert_eq!(
            Scope::parse_list("check,fly").unwrap_err().code,
            Code::Validation
        );
    }

    #[test]
    fn only_managers_and_the_operator_manage_them() {
        let mut w = World::new();
        let m2 = w.user("m2", Role::Manager, None);
        w.run(&m2, |tx| add(tx, "a", scopes("check"), "h".into()))
            .unwrap();
        for role in [Role::UnitManager, Role::UserAdministrator, Role::Scanner] {
            let login = format!("u-{}", role.as_str());
            let u = w.user(&login, role, None);
            let e = w.run(&u, |tx| remove(tx, "a")).unwrap_err();
            assert_eq!(e.code, Code::Forbidden, "{role:?}");
        }
        // A service is not the operator, even though it is no user either.
        let service = Actor {
            login: "service:a".into(),
            ..Actor::operator()
        };
        let e = w.run_as(service, |tx| remove(tx, "a")).unwrap_err();
        assert_eq!(e.code, Code::Forbidden);
        assert!(w.state.services.contains_key("a"));
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_the_overlap_only() {
        let mut w = World::new();
        add_as(&mut w, op(), "s", "check", "old").unwrap();
        let a = w
            .run_as(op(), |tx| rotate(tx, "s", "new".into(), HOUR))
            .unwrap();
        let now = a.rotated_at.unwrap();
        assert!(authenticate(&w.state, "new", now).is_some());
        assert!(authenticate(&w.state, "old", now).is_some());
        assert!(authenticate(&w.state, "old", now.saturating_add(HOUR)).is_none());
        // Rotating again ends the first secret at once; no overlap, no retiring.
        w.run_as(op(), |tx| rotate(tx, "s", "newer".into(), Duration::ZERO))
            .unwrap();
        assert!(authenticate(&w.state, "old", now).is_none());
        assert!(authenticate(&w.state, "new", now).is_none());
        assert!(authenticate(&w.state, "newer", now).is_some());
    }

    #[test]
    fn r11_a_service_records_its_own_actions_and_no_one_elses() {
        let mut w = World::new();
        let sam = w.user("sam", Role::Scanner, None);
        let for_sam = Actor {
            user: Some(sam.clone()),
            login: "service:scanner".into(),
            business_unit: None,
            ip: None,
        };
        w.run_as(for_sam.clone(), |tx| {
            record_activity(tx, "scanner.scan_launched", "scan 42", "10.0.0.0/24")
        })
        .unwrap();
        for bad in [
            "user.delete",
            "login",
            "scanner.",
            "scanner.Scan",
            "scanner..x",
            "billing.charge",
        ] {
            let e = w
                .run_as(for_sam.clone(), |tx| record_activity(tx, bad, "t", ""))
                .unwrap_err();
            assert_eq!(e.code, Code::Validation, "{bad}");
        }
        let e = w
            .run_as(for_sam.clone(), |tx| {
                record_activity(tx, "report.run", "t", "two\nlines")
            })
            .unwrap_err();
        assert_eq!(e.code, Code::Validation);
        // A user, the operator and a service acting for no one cannot.
        for who in [
            crate::testkit::actor_of(&w.state, &sam),
            Actor::operator(),
            Actor::service("scanner", None),
        ] {
            let e = w
                .run_as(who, |tx| record_activity(tx, "report.run", "t", ""))
                .unwrap_err();
            assert_eq!(e.code, Code::Forbidden);
        }
    }

    #[test]
    fn a_removed_account_opens_no_more() {
        let mut w = World::new();
        let a = add_as(&mut w, op(), "s", "check", "h").unwrap();
        w.run_as(op(), |tx| remove(tx, "s")).unwrap();
        assert!(authenticate(&w.state, "h", a.created_at).is_none());
        let e = w.run_as(op(), |tx| remove(tx, "s")).unwrap_err();
        assert_eq!(e.code, Code::NotFound);
    }
}
