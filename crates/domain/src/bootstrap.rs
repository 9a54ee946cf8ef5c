//! The first state of a subscription: `bailiwick init`, or the first start of
//! `serve` on an empty data directory (docs/api.md).

use std::collections::BTreeSet;

use super::validate;
use super::{
    Access, ActivationLink, Code, Credentials, Id, Module, Refusal, Role, ServiceType,
    Subscription, Timestamp, Tx, User, UserStatus,
};
use crate::LogAction;

/// What the first subscription and its first Manager look like.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The subscription's name, shown in account info (R10.3).
    pub subscription: String,
    /// Limits which roles and units can exist (R1.2).
    pub service_type: ServiceType,
    /// Gates the Auditor role and module permissions (R1.3).
    pub modules: BTreeSet<Module>,
    /// Login of the first Manager, who is also the primary contact (R4.1).
    pub manager_login: String,
    /// The first Manager's email, checked like any user's.
    pub manager_email: String,
}

impl Bootstrap {
    /// What `serve` creates on an empty data directory.
    pub fn default_subscription(login: &str) -> Bootstrap {
        Bootstrap {
            subscription: "Default".into(),
            service_type: ServiceType::Enterprise,
            modules: BTreeSet::from([Module::Vm]),
            manager_login: login.into(),
            manager_email: format!("{login}@localhost"),
        }
    }
}

/// How the first Manager gets in.
#[derive(Debug, Clone)]
pub enum FirstCredential {
    /// `init --password-file`: active at once.
    Password {
        /// The password's argon2id PHC string, hashed by the caller: the
        /// domain never sees the password.
        hash: String,
    },
    /// First-run `serve`: pending until the one-time link is used.
    ActivationLink {
        /// SHA-256 of the link's token, hex; the token itself is never stored.
        token_hash: String,
        /// After this the link is `gone` (R7.1).
        expires_at: Timestamp,
    },
    /// Doctests and unit tests: no way in.
    #[doc(hidden)]
    None,
}

/// Creates the subscription with its first Manager as primary contact (R4.1).
/// Refused on a state that already has a subscription: never start over data.
pub fn initialise(tx: &mut Tx<'_>, plan: &Bootstrap, manager_id: Id) -> Result<(), Refusal> {
    initialise_with(tx, plan, manager_id, FirstCredential::None)
}

/// [`initialise`], with the way the first Manager gets in: active with a
/// password, or pending with a one-time link (R7.1).
pub fn initialise_with(
    tx: &mut Tx<'_>,
    plan: &Bootstrap,
    manager_id: Id,
    credential: FirstCredential,
) -> Result<(), Refusal> {
    if tx.state().initialised() {
        return Err(Refusal::new(
            Code::Conflict,
            "this data directory already holds a subscription",
        ));
    }
    let name = plan.subscription.trim();
    validate::text("subscription", name, 100)?;
    validate::login(&plan.manager_login)?;
    validate::email("manager email", &plan.manager_email)?;
    let now = tx.now();
    let status = match credential {
        FirstCredential::Password { .. } => UserStatus::Active,
        _ => UserStatus::PendingActivation,
    };
    tx.put_user(User {
        id: manager_id.clone(),
        login: plan.manager_login.clone(),
        email: plan.manager_email.clone(),
        first_name: String::new(),
        last_name: String::new(),
        role: Role::Manager,
        business_unit: None,
        status,
        asset_groups: Vec::new(),
        permissions: Default::default(),
        access: Access::UiAndApi,
        external_id: None,
        created_at: now,
        last_login_at: None,
        notification_opt_outs: Default::default(),
    });
    match credential {
        FirstCredential::Password { hash } => tx.put_credentials(
            &manager_id,
            Credentials {
                password_hash: Some(hash),
                password_changed_at: Some(now),
                ..Credentials::default()
            },
        ),
        FirstCredential::ActivationLink {
            token_hash,
            expires_at,
        } => {
            tx.put_credentials(&manager_id, Credentials::default());
            tx.put_activation_link(ActivationLink {
                token_hash,
                user: manager_id.clone(),
                expires_at,
                used: false,
            });
        }
        FirstCredential::None => tx.put_credentials(&manager_id, Credentials::default()),
    }
    tx.put_subscription(Subscription {
        name: name.to_owned(),
        service_type: plan.service_type,
        modules: plan.modules.clone(),
        features: BTreeSet::new(),
        primary_contact: Some(manager_id.clone()),
        created_at: now,
    });
    tx.log(
        LogAction::SubscriptionInitialise,
        format!("subscription {name}"),
        format!(
            "service type {}, first Manager {} ({})",
            plan.service_type.as_str(),
            plan.manager_login,
            manager_id
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, State};

    fn run(state: &mut State, plan: &Bootstrap, cred: FirstCredential) -> Result<(), Refusal> {
        let mut tx = Tx::new(state, Timestamp::from_unix_micros(1), Actor::operator());
        initialise_with(&mut tx, plan, "u1".into(), cred)
    }

    #[test]
    fn r4_1_first_manager_is_the_subscription_primary_contact() {
        let mut s = State::default();
        run(
            &mut s,
            &Bootstrap::default_subscription("admin"),
            FirstCredential::None,
        )
        .unwrap();
        let sub = s.subscription.as_ref().unwrap();
        assert_eq!(sub.primary_contact.as_deref(), Some("u1"));
        assert_eq!(s.users["u1"].role, Role::Manager);
        assert_eq!(
            s.users["u1"].business_unit, None,
            "R2.1 Managers are Unassigned"
        );
        assert_eq!(s.user_by_login("ADMIN").unwrap().id, "u1");
    }

    #[test]
    fn init_with_password_is_active_first_run_is_pending() {
        let mut s = State::default();
        let plan = Bootstrap::default_subscription("admin");
        run(
            &mut s,
            &plan,
            FirstCredential::Password { hash: "h".into() },
        )
        .unwrap();
        assert_eq!(s.users["u1"].status, UserStatus::Active);
        assert_eq!(s.active_managers(), 1);

        let mut s = State::default();
        let link = FirstCredential::ActivationLink {
            token_hash: "t".into(),
            expires_at: Timestamp::from_unix_micros(9),
        };
        run(&mut s, &plan, link).unwrap();
        assert_eq!(s.users["u1"].status, UserStatus::PendingActivation);
        assert_eq!(s.activation_links["t"].user, "u1");
    }

    #[test]
    fn r13_never_initialise_over_existing_data() {
        let mut s = State::default();
        let plan = Bootstrap::default_subscription("admin");
        run(&mut s, &plan, FirstCredential::None).unwrap();
        let err = run(&mut s, &plan, FirstCredential::None).unwrap_err();
        assert_eq!(err.code, Code::Conflict);
    }

    #[test]
    fn bad_login_or_email_is_refused_with_validation() {
        let mut s = State::default();
        let mut plan = Bootstrap::default_subscription("admin");
        plan.manager_login = "has space".into();
        assert_eq!(
            run(&mut s, &plan, FirstCredential::None).unwrap_err().code,
            Code::Validation
        );
        let mut plan = Bootstrap::default_subscription("admin");
        plan.manager_email = "nobody".into();
        assert_eq!(
            run(&mut s, &plan, FirstCredential::None).unwrap_err().code,
            Code::Validation
        );
        assert!(!s.initialised());
    }
}
