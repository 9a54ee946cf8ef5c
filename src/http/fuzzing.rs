//! Entry point for the `json_bodies` fuzz target, not an API: every JSON
//! request body the HTTP layer accepts, parsed with the handler's own type,
//! then put through what the handler does with it that needs no I/O: its
//! checks, its translation, and the domain command on an in-memory state
//! (with the answer's view built), so a fuzzer reaches the rules behind
//! serde. Any input must give a value or a problem, never a panic (R13).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::extract::parse_json as parse;
use super::problem::ApiError;
use super::{assets as http_assets, authz as http_authz, groups as http_groups};
use super::{notifications, objects, org, session, users};
use crate::authz::Index;
use crate::domain::access::Acting;
use crate::domain::bootstrap::{Bootstrap, FirstCredential, initialise_with};
use crate::domain::users::{ActivationGrant, NewUser, UserPatch};
use crate::domain::{
    Access, Actor, AssetSet, EmailContact, Module, Refusal, Role, ServiceType, State, Timestamp,
    Tx, assets, contacts, credentials, groups, settings, units,
};

/// The bodies, in the order the selector byte picks them.
pub const BODIES: &[&str] = &[
    "login",
    "password_change",
    "secret_questions",
    "chosen_password",
    "reset_start",
    "reset_answers",
    "user_create",
    "user_patch",
    "unit_create",
    "unit_patch",
    "primary_contact",
    "unit_primary_contact",
    "settings_security",
    "settings_visibility",
    "settings_unit_setup",
    "settings_email_contact",
    "unit_email_contact",
    "notification",
    "assets_add",
    "assets_remove",
    "appliance_create",
    "appliance_patch",
    "unit_assets",
    "asset_group_create",
    "asset_group_patch",
    "distribution_group_create",
    "distribution_group_patch",
    "authz_check",
    "authz_check_batch",
    "object_create",
    "object_patch",
    "user_move",
    "user_delete",
    "notification_options",
];

/// Ids of the records in the starting state, for a fuzzer's dictionary.
pub const MANAGER: &str = "m1";
pub const UNIT_MANAGER: &str = "um1";
pub const SCANNER: &str = "s1";
pub const UNIT: &str = "bu1";
pub const OTHER_UNIT: &str = "bu2";
pub const OBJECT: &str = "ob1";

/// Parses `body` as the request type `BODIES[selector % len]` and runs it as
/// the Manager (even multiples of the length) or as the Unit Manager of
/// `bu1` (odd ones).
pub fn json_body(selector: u8, body: &[u8]) {
    let n = BODIES.len();
    let kind = usize::from(selector) % n;
    let as_manager = (usize::from(selector) / n).is_multiple_of(2);
    let mut state = base().clone();
    let actor = actor_of(&state, if as_manager { MANAGER } else { UNIT_MANAGER });
    let answer = run(kind, body, &mut state, actor);
    if let Err(e) = answer {
        // Every refusal maps to a status and a stable code.
        let p = e.to_problem();
        assert!(p.status >= 400 && p.status < 500, "{p:?}");
        assert!(!p.code.is_empty());
    }
}

/// A command on the state as `actor`; a refusal is what the handler answers.
fn command<T>(
    state: &mut State,
    actor: Actor,
    f: impl FnOnce(&mut Tx<'_>) -> Result<T, Refusal>,
) -> Result<T, ApiError> {
    let mut tx = Tx::new(state, Timestamp::from_unix_micros(1_000_000), actor);
    let out = f(&mut tx);
    // As the store's writer does.
    if out.is_ok() {
        crate::domain::settle(&mut tx);
    }
    let _ = tx.finish_all();
    Ok(out?)
}

fn run(kind: usize, body: &[u8], state: &mut State, actor: Actor) -> Result<(), ApiError> {
    let me = actor.user.clone().unwrap_or_default();
    let min_len = state.settings.security.min_password_length;
    match BODIES[kind] {
        "login" => {
            let _: session::LoginRequest = parse(body)?;
        }
        "password_change" => {
            let req: session::PasswordChange = parse(body)?;
            session::password_length(&req.new)?;
            crate::domain::password::check(&req.new, min_len)?;
            command(state, actor, |tx| {
                credentials::change_password(tx, &me, &req.new, "hash".into(), None)
            })?;
        }
        "secret_questions" => {
            let req: session::SecretQuestions = parse(body)?;
            req.check()?;
            let hashed = req
                .questions
                .into_iter()
                .map(|q| (q.question.trim().to_owned(), "hash".to_owned()))
                .collect();
            command(state, actor, |tx| {
                credentials::set_secret_questions(tx, &me, hashed)
            })?;
        }
        "chosen_password" => {
            let req: session::ChosenPassword = parse(body)?;
            session::password_length(&req.password)?;
            crate::domain::password::check(&req.password, min_len)?;
        }
        "reset_start" => {
            let req: session::ResetStart = parse(body)?;
            let _ = state.user_by_login(&req.login);
        }
        "reset_answers" => {
            let req: session::ResetAnswers = parse(body)?;
            req.check()?;
            if let Some(p) = req.new_password {
                session::password_length(&p)?;
                command(state, actor, |tx| {
                    credentials::self_reset(tx, &me, &p, "hash".into(), true)
                })?;
            }
        }
        "user_create" => {
            let new = NewUser::from(parse::<users::CreateUser>(body)?);
            let grant = ActivationGrant {
                token_hash: "link".into(),
                expires_at: Timestamp::from_unix_micros(2_000_000),
            };
            let user = command(state, actor, |tx| {
                crate::domain::users::create_user(tx, "new".into(), new, Some(grant))
            })?;
            let _ = super::views::UserView::new(state, &user);
        }
        "user_patch" => {
            let patch = UserPatch::from(parse::<users::EditUser>(body)?);
            let user = command(state, actor, |tx| {
                crate::domain::users::edit_user(tx, SCANNER, patch)
            })?;
            let _ = super::views::UserView::new(state, &user);
        }
        "unit_create" => {
            let req: org::CreateUnit = parse(body)?;
            let assigned = org::unit_assets_of(req.assets)?;
            let new = units::NewUnit {
                name: req.name,
                new_ip_limit: req.new_ip_limit,
            };
            let unit = command(state, actor, |tx| {
                let unit = units::create_unit(tx, "new".into(), new)?;
                if let Some(a) = assigned {
                    assets::set_unit_assets(tx, &unit.id, a)?;
                }
                Ok(unit)
            })?;
            let _ = org::UnitView::new(state, &unit);
        }
        "unit_patch" => {
            let req: org::EditUnit = parse(body)?;
            let assigned = org::unit_assets_of(req.assets)?;
            let patch = units::UnitPatch {
                name: req.name,
                new_ip_limit: req.new_ip_limit,
            };
            let unit = command(state, actor, |tx| {
                let unit = if patch.name.is_some() || patch.new_ip_limit.is_some() {
                    units::update_unit(tx, UNIT, patch)?
                } else {
                    let acting = Acting::from_tx(tx)?;
                    units::get_unit(&acting, UNIT)?.clone()
                };
                if let Some(a) = assigned {
                    assets::set_unit_assets(tx, &unit.id, a)?;
                }
                Ok(unit)
            })?;
            let _ = org::UnitView::new(state, &unit);
        }
        "primary_contact" => {
            let req: org::SetPrimaryContact = parse(body)?;
            command(state, actor, |tx| {
                contacts::set_subscription_poc(tx, &req.user)
            })?;
        }
        "unit_primary_contact" => {
            let req: org::SetPrimaryContact = parse(body)?;
            command(state, actor, |tx| {
                contacts::set_unit_poc(tx, UNIT, &req.user)
            })?;
        }
        "settings_security" => {
            let req: org::Security = parse(body)?;
            command(state, actor, |tx| settings::set_security(tx, req.into()))?;
        }
        "settings_visibility" => {
            let req: org::Visibility = parse(body)?;
            command(state, actor, |tx| settings::set_visibility(tx, req.into()))?;
        }
        "settings_unit_setup" => {
            let req: org::UnitSetup = parse(body)?;
            command(state, actor, |tx| {
                settings::set_business_unit_setup(tx, req.new_ip_limit_enabled)
            })?;
        }
        "settings_email_contact" => {
            let req: org::EmailContactSetup = parse(body)?;
            command(state, actor, |tx| {
                settings::set_email_contact(
                    tx,
                    settings::EmailContactSettings {
                        email_contact: req.email_contact.map(EmailContact::from),
                        allow_unit_manager_override: req.allow_unit_manager_override,
                    },
                )
            })?;
        }
        "unit_email_contact" => {
            let req: org::UnitEmailContact = parse(body)?;
            command(state, actor, |tx| {
                settings::set_unit_email_contact(
                    tx,
                    UNIT,
                    req.email_contact.map(EmailContact::from),
                )
            })?;
        }
        "notification_options" => {
            let req: super::notification_options::NotificationOptions = parse(body)?;
            let opt_outs = req.opt_outs();
            command(state, actor, |tx| {
                crate::domain::notification_options::set_options(tx, SCANNER, opt_outs)
            })?;
        }
        "notification" => {
            let req: notifications::NotificationBody = parse(body)?;
            let request = crate::notify::NotificationRequest {
                kind: req.kind,
                to_users: req.to_users,
                to_distribution_groups: req.to_distribution_groups,
                subject: req.subject,
                body: req.body,
            };
            command(state, actor, |tx| {
                crate::notify::send_notification(tx, request)
            })?;
        }
        "assets_add" => {
            let req: http_assets::AssetsRequest = parse(body)?;
            let ips = assets::parse_ips("ips", &req.ips)?;
            let domains = assets::parse_domains("domains", &req.domains)?;
            command(state, actor, |tx| {
                assets::add_assets(tx, ips, domains, req.business_unit)
            })?;
        }
        "assets_remove" => {
            let req: http_assets::RemoveRequest = parse(body)?;
            let ips = assets::parse_ips("ips", &req.ips)?;
            let domains = assets::parse_domains("domains", &req.domains)?;
            command(state, actor, |tx| assets::remove_assets(tx, ips, domains))?;
        }
        "appliance_create" => {
            let req: http_assets::NewApplianceRequest = parse(body)?;
            let new = assets::NewAppliance {
                name: req.name,
                kind: req.kind.into(),
                business_unit: req.business_unit,
            };
            let a = command(state, actor, |tx| {
                assets::create_appliance(tx, "new".into(), new)
            })?;
            let _ = http_assets::ApplianceView::new(&a);
        }
        "appliance_patch" => {
            let req: http_assets::AppliancePatchRequest = parse(body)?;
            let patch = assets::AppliancePatch {
                name: req.name,
                business_unit: req.business_unit,
            };
            let new = assets::NewAppliance {
                name: "dc1".into(),
                kind: crate::domain::ApplianceKind::Physical,
                business_unit: Some(UNIT.into()),
            };
            command(state, actor_of(state, MANAGER), |tx| {
                assets::create_appliance(tx, "a1".into(), new)
            })?;
            let a = command(state, actor, |tx| assets::edit_appliance(tx, "a1", patch))?;
            let _ = http_assets::ApplianceView::new(&a);
        }
        "unit_assets" => {
            let req: http_assets::UnitAssetsRequest = parse(body)?;
            let set = AssetSet {
                ips: assets::parse_ips("ips", &req.ips)?,
                domains: assets::parse_domains("domains", &req.domains)?,
                scanner_appliances: req.scanner_appliances.into_iter().collect(),
            };
            let out = command(state, actor, |tx| assets::set_unit_assets(tx, UNIT, set))?;
            let _ = http_assets::AssetsView::new(&out);
        }
        "asset_group_create" => {
            let req: http_groups::NewGroupRequest = parse(body)?;
            let new = groups::NewGroup {
                title: req.title,
                assets: AssetSet {
                    ips: assets::parse_ips("ips", &req.ips)?,
                    domains: assets::parse_domains("domains", &req.domains)?,
                    scanner_appliances: req.scanner_appliances.into_iter().collect(),
                },
                business_units: req.business_units.map(|u| u.into_iter().collect()),
            };
            let g = command(state, actor, |tx| {
                groups::create_group(tx, "new".into(), new)
            })?;
            let _ = http_groups::AssetGroupView::new(&g);
        }
        "asset_group_patch" => {
            let req: http_groups::GroupPatchRequest = parse(body)?;
            let patch = groups::GroupPatch {
                title: req.title,
                ips: req.ips.map(|i| assets::parse_ips("ips", &i)).transpose()?,
                domains: req
                    .domains
                    .map(|d| assets::parse_domains("domains", &d))
                    .transpose()?,
                scanner_appliances: req
                    .scanner_appliances
                    .map(|a| a.into_iter().collect::<BTreeSet<_>>()),
                business_units: req.business_units.map(|u| u.into_iter().collect()),
            };
            let g = command(state, actor, |tx| groups::edit_group(tx, "ag1", patch))?;
            let _ = http_groups::AssetGroupView::new(&g);
        }
        "distribution_group_create" => {
            let req: http_groups::NewDistributionRequest = parse(body)?;
            let new = groups::NewDistribution {
                name: req.name,
                members: req.members,
                emails: req.emails,
            };
            let g = command(state, actor, |tx| {
                groups::create_distribution_group(tx, "new".into(), new)
            })?;
            let _ = http_groups::DistributionGroupView::new(&g);
        }
        "distribution_group_patch" => {
            let req: http_groups::DistributionPatchRequest = parse(body)?;
            let patch = groups::DistributionPatch {
                name: req.name,
                members: req.members,
                emails: req.emails,
            };
            let g = command(state, actor, |tx| {
                groups::edit_distribution_group(tx, "dg1", patch)
            })?;
            let _ = http_groups::DistributionGroupView::new(&g);
        }
        "authz_check" => {
            let req: http_authz::CheckRequest = parse(body)?;
            let caller = state
                .users
                .get(&me)
                .cloned()
                .ok_or_else(ApiError::internal)?;
            http_authz::may_ask(&caller, &req.user)?;
            http_authz::answer(index(), &req, "")?;
        }
        "authz_check_batch" => {
            let reqs: Vec<http_authz::CheckRequest> = parse(body)?;
            if reqs.len() > http_authz::MAX_BATCH {
                return Err(ApiError::validation("too many checks"));
            }
            let caller = state
                .users
                .get(&me)
                .cloned()
                .ok_or_else(ApiError::internal)?;
            for (i, r) in reqs.iter().enumerate() {
                http_authz::may_ask(&caller, &r.user)?;
                http_authz::answer(index(), r, &format!("[{i}]."))?;
            }
        }
        "object_create" => {
            let new = parse::<objects::NewObjectRequest>(body)?.into_new()?;
            let o = command(state, actor, |tx| {
                crate::domain::objects::create_object(tx, "new".into(), new)
            })?;
            let _ = objects::ObjectView::from(&o);
        }
        "object_patch" => {
            let patch = parse::<objects::EditObjectRequest>(body)?.into_patch()?;
            let o = command(state, actor, |tx| {
                crate::domain::objects::edit_object(tx, OBJECT, patch)
            })?;
            let _ = objects::ObjectView::from(&o);
        }
        "user_move" => {
            let m = parse::<users::MoveRequest>(body)?.into_move()?;
            let moved = command(state, actor, |tx| {
                crate::domain::moving::move_user(tx, SCANNER, m, &mut || "copy".into())
            })?;
            let _ = super::views::UserView::new(state, &moved.user);
            let _: Vec<users::OutcomeView> = moved.outcomes.iter().map(Into::into).collect();
        }
        "user_delete" => {
            let d = users::DeleteRequest::default().or(parse(body)?);
            let deleted = command(state, actor, |tx| {
                crate::domain::deletion::delete_user(tx, SCANNER, d)
            })?;
            let _: Vec<users::OutcomeView> = deleted.outcomes.iter().map(Into::into).collect();
        }
        other => unreachable!("body {other} has no case"),
    }
    Ok(())
}

fn actor_of(state: &State, id: &str) -> Actor {
    let u = state.users.get(id).expect("seeded user");
    Actor {
        user: Some(u.id.clone()),
        login: u.login.clone(),
        business_unit: u.business_unit.clone(),
        ip: None,
    }
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index::build(base()))
}

/// A subscription with a Manager, a unit `bu1` with its Unit Manager and a
/// Scanner, assets, an appliance, an asset group and a distribution group:
/// enough for most commands to get past "not found".
fn base() -> &'static State {
    static BASE: OnceLock<State> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut state = State::default();
        let plan = Bootstrap {
            subscription: "Fuzz".into(),
            service_type: ServiceType::Enterprise,
            modules: BTreeSet::from([Module::Vm, Module::Pc]),
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
            MANAGER.into(),
            FirstCredential::Password {
                hash: "hash".into(),
            },
        )
        .expect("bootstrap");
        let _ = tx.finish_all();
        let manager = actor_of(&state, MANAGER);
        // A refused step leaves its record out (the unit test below names
        // it) rather than stopping the fuzzer: the bodies still run.
        let seed = |state: &mut State, f: &dyn Fn(&mut Tx<'_>) -> Result<(), Refusal>| {
            let mut probe = state.clone();
            let mut tx = Tx::new(&mut probe, Timestamp::from_unix_micros(2), manager.clone());
            let ok = f(&mut tx).is_ok();
            let _ = tx.finish_all();
            if ok {
                *state = probe;
            }
        };
        seed(&mut state, &|tx| {
            units::create_unit(
                tx,
                UNIT.into(),
                units::NewUnit {
                    name: "EU".into(),
                    new_ip_limit: None,
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            let ips = assets::parse_ips("ips", &["10.0.0.0/24", "192.168.1.1-192.168.1.9"])?;
            let domains = assets::parse_domains("domains", &["example.com"])?;
            assets::add_assets(tx, ips, domains, None).map(drop)
        });
        seed(&mut state, &|tx| {
            assets::create_appliance(
                tx,
                "sa1".into(),
                assets::NewAppliance {
                    name: "scanner-1".into(),
                    kind: crate::domain::ApplianceKind::Physical,
                    business_unit: None,
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            let ips = assets::parse_ips("ips", &["10.0.0.0/28"])?;
            assets::set_unit_assets(
                tx,
                UNIT,
                AssetSet {
                    ips,
                    domains: BTreeSet::new(),
                    scanner_appliances: BTreeSet::from(["sa1".to_owned()]),
                },
            )
            .map(drop)
        });
        for (id, login, role) in [
            (UNIT_MANAGER, "unitboss", Role::UnitManager),
            (SCANNER, "scanner", Role::Scanner),
        ] {
            seed(&mut state, &|tx| {
                crate::domain::users::create_user(
                    tx,
                    id.into(),
                    NewUser {
                        login: login.into(),
                        email: format!("{login}@example.com"),
                        first_name: "A".into(),
                        last_name: "B".into(),
                        role,
                        business_unit: Some(UNIT.into()),
                        asset_groups: Vec::new(),
                        permissions: None,
                        access: Access::UiAndApi,
                        external_id: None,
                    },
                    None,
                )
                .map(drop)
            });
        }
        seed(&mut state, &|tx| {
            groups::create_group(
                tx,
                "ag1".into(),
                groups::NewGroup {
                    title: "Web".into(),
                    assets: AssetSet {
                        ips: assets::parse_ips("ips", &["10.0.0.1"])?,
                        domains: BTreeSet::new(),
                        scanner_appliances: BTreeSet::new(),
                    },
                    business_units: Some(BTreeSet::from([UNIT.to_owned()])),
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            units::create_unit(
                tx,
                OTHER_UNIT.into(),
                units::NewUnit {
                    name: "US".into(),
                    new_ip_limit: None,
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            crate::domain::objects::create_object(
                tx,
                OBJECT.into(),
                crate::domain::objects::NewObject {
                    kind: crate::domain::ObjectKind::ScheduledScan,
                    name: "nightly".into(),
                    owner: Some(SCANNER.into()),
                    global: false,
                    asset_groups: vec!["ag1".into()],
                    ips: Default::default(),
                    assignee: None,
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            groups::create_distribution_group(
                tx,
                "dg1".into(),
                groups::NewDistribution {
                    name: "Ops".into(),
                    members: vec![SCANNER.into()],
                    emails: vec!["ops@example.com".into()],
                },
            )
            .map(drop)
        });
        // The seeded users are active, so that they act and can be acted on.
        for id in [UNIT_MANAGER, SCANNER] {
            if let Some(mut u) = state.users.get(id).cloned() {
                u.status = crate::domain::UserStatus::Active;
                let mut tx = Tx::new(
                    &mut state,
                    Timestamp::from_unix_micros(3),
                    Actor::operator(),
                );
                tx.put_user(u);
                let _ = tx.finish_all();
            }
        }
        state
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each body's case exists and the starting state holds what the cases
    /// act on, so a fuzzer's inputs get past the lookups.
    #[test]
    fn every_body_runs_and_the_seed_is_complete() {
        for i in 0..BODIES.len() * 2 {
            json_body(i as u8, b"{}");
            json_body(i as u8, b"not json");
        }
        let s = base();
        assert!(s.units.contains_key(UNIT));
        assert!(s.users.contains_key(SCANNER) && s.users.contains_key(UNIT_MANAGER));
        assert!(s.appliances.contains_key("sa1"), "appliance seeded");
        assert!(s.asset_groups.contains_key("ag1"), "asset group seeded");
        assert!(s.objects.contains_key(OBJECT), "object seeded");
        assert!(s.units.contains_key(OTHER_UNIT), "second unit seeded");
        assert!(
            s.distribution_groups.contains_key("dg1"),
            "distribution group seeded"
        );
        assert!(
            !crate::domain::assets::unit_assets(s, &UNIT.to_owned())
                .ips
                .is_empty()
        );
    }

    /// A valid body gets through its handler's checks to the command.
    #[test]
    fn a_valid_unit_body_is_accepted() {
        let mut state = base().clone();
        let actor = actor_of(&state, MANAGER);
        let kind = BODIES.iter().position(|b| *b == "unit_create").unwrap();
        let body = br#"{"name":"APAC","assets":{"ips":["10.0.0.2"],"domains":[],"scanner_appliances":[]}}"#;
        run(kind, body, &mut state, actor).unwrap();
        assert!(state.units.contains_key("new"));
    }
}
