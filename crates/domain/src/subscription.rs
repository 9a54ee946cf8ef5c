//! Operator commands on the subscription (R1): features and service settings,
//! issued through the admin socket only, never over HTTP (R1.4).

use std::collections::BTreeSet;

use super::{Code, Feature, Module, Refusal, Role, ServiceType, Subscription, Tx};
use crate::LogAction;

fn current(tx: &Tx<'_>) -> Result<Subscription, Refusal> {
    tx.state()
        .subscription
        .clone()
        .ok_or_else(|| Refusal::new(Code::Conflict, "no subscription yet; run `bailiwick init`"))
}

/// Switches an operator feature; effective for every later check. Returns
/// whether anything changed.
pub fn set_feature(tx: &mut Tx<'_>, feature: Feature, on: bool) -> Result<bool, Refusal> {
    let mut sub = current(tx)?;
    let changed = if on {
        sub.features.insert(feature)
    } else {
        sub.features.remove(&feature)
    };
    if changed {
        tx.put_subscription(sub);
        // R5: grants the feature allowed go with it.
        let dropped = super::permissions::prune(tx);
        let verb = if on { "enabled" } else { "disabled" };
        let mut details = format!("{verb} by the operator");
        if dropped > 0 {
            details.push_str(&format!(
                "; dropped {dropped} permission grant(s) it allowed"
            ));
        }
        tx.log(LogAction::SubscriptionFeature, feature.as_str(), details);
    }
    Ok(changed)
}

/// Changes service type and/or modules (R1.2, R1.3). Refused when existing
/// users would be left with a role the new settings do not allow.
pub fn set_service(
    tx: &mut Tx<'_>,
    service_type: Option<ServiceType>,
    modules: Option<BTreeSet<Module>>,
) -> Result<Subscription, Refusal> {
    let mut sub = current(tx)?;
    let mut changes = Vec::new();
    if let Some(t) = service_type
        && t != sub.service_type
    {
        changes.push(format!(
            "service type {} -> {}",
            sub.service_type.as_str(),
            t.as_str()
        ));
        sub.service_type = t;
    }
    if let Some(m) = modules
        && m != sub.modules
    {
        let names =
            |s: &BTreeSet<Module>| s.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(",");
        changes.push(format!("modules {} -> {}", names(&sub.modules), names(&m)));
        sub.modules = m;
    }
    if !sub.modules.contains(&Module::Pc)
        && let Some(u) = tx.state().users.values().find(|u| u.role == Role::Auditor)
    {
        return Err(Refusal::new(
            Code::Conflict,
            format!(
                "{} is an Auditor, a role that exists only with PC; change that role first",
                u.login
            ),
        ));
    }
    if sub.service_type == ServiceType::ExpressLite
        && let Some(unit) = tx.state().units.values().next()
    {
        return Err(Refusal::new(
            Code::Conflict,
            format!(
                "an express_lite subscription has no business units (R1.2); delete {} and the other units first",
                unit.name
            ),
        ));
    }
    if changes.is_empty() {
        return Ok(sub);
    }
    tx.put_subscription(sub.clone());
    // R1.3, R5: grants the old modules or service type allowed go with them.
    let dropped = super::permissions::prune(tx);
    if dropped > 0 {
        changes.push(format!(
            "dropped {dropped} permission grant(s) no longer applicable"
        ));
    }
    tx.log(
        LogAction::SubscriptionUpdate,
        sub.name.clone(),
        changes.join("; "),
    );
    Ok(sub)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap::{Bootstrap, initialise};
    use crate::{Actor, State, Timestamp};

    fn state() -> State {
        let mut s = State::default();
        let mut tx = Tx::new(&mut s, Timestamp::from_unix_micros(1), Actor::operator());
        initialise(
            &mut tx,
            &Bootstrap::default_subscription("admin"),
            "u1".into(),
        )
        .unwrap();
        s
    }

    #[test]
    fn r1_4_operator_switches_features_and_it_is_logged() {
        let mut s = state();
        let mut tx = Tx::new(&mut s, Timestamp::from_unix_micros(2), Actor::operator());
        assert!(set_feature(&mut tx, Feature::KbOnlyRole, true).unwrap());
        assert!(
            !set_feature(&mut tx, Feature::KbOnlyRole, true).unwrap(),
            "idempotent"
        );
        let (_, log) = tx.finish();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].actor.login, "operator");
        assert!(s.subscription.as_ref().unwrap().has(Feature::KbOnlyRole));
    }

    #[test]
    fn r1_2_express_lite_only_without_business_units() {
        let mut s = state();
        s.units.insert(
            "b1".into(),
            crate::BusinessUnit {
                id: "b1".into(),
                name: "EU".into(),
                primary_contact: None,
                new_ip_limit: None,
                email_contact: None,
                created_at: Timestamp::from_unix_micros(1),
            },
        );
        let mut tx = Tx::new(&mut s, Timestamp::from_unix_micros(2), Actor::operator());
        let err = set_service(&mut tx, Some(ServiceType::ExpressLite), None).unwrap_err();
        assert_eq!(err.code, Code::Conflict);
        assert!(err.message.contains("delete EU"), "{}", err.message);
    }

    #[test]
    fn r1_2_service_type_and_modules_change() {
        let mut s = state();
        let mut tx = Tx::new(&mut s, Timestamp::from_unix_micros(2), Actor::operator());
        let sub = set_service(
            &mut tx,
            Some(ServiceType::Consultant),
            Some(BTreeSet::from([Module::Vm, Module::Pc])),
        )
        .unwrap();
        assert_eq!(sub.service_type, ServiceType::Consultant);
        assert!(sub.modules.contains(&Module::Pc));
    }
}
