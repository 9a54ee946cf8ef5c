//! Entry point for the `json_bodies` fuzz target, not an API: every JSON
//! request body the HTTP layer accepts, parsed with the handler's own type,
//! then put through the handler's own translation (the `*_command` beside
//! the handler, and the named checks it runs around its I/O), the domain
//! command on an in-memory state, and the answer's view. So a fuzzer
//! reaches the rules behind serde through exactly what ships, and this
//! file holds no handler logic of its own: only the stand-ins for I/O and
//! the fixture. Any input must give a value or a problem, never a panic
//! (R13).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use super::extract::parse_json as parse;
use super::problem::ApiError;
use super::views::UserView;
use super::{Command, assets as http_assets, authz as http_authz, groups as http_groups};
use super::{notification_options, notifications, objects, org, session, users};
use crate::authz::Index;
use crate::domain::testkit::{World, actor_of};
use crate::domain::users::{ActivationGrant, NewUser, UserPatch};
use crate::domain::{
    Access, Actor, AssetSet, Module, Refusal, Role, SecuritySettings, ServiceType, State,
    Timestamp, Tx, assets, groups, settings, units,
};

/// Declares [`Body`] and its list and names from one table, so that none
/// of the three can leave a body out.
macro_rules! bodies {
    ($($(#[$doc:meta])* $body:ident => $name:literal,)*) => {
        /// Which request body an input is, with the handler that takes it.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
        pub enum Body {
            $($(#[$doc])* $body,)*
        }

        impl Body {
            /// Every body, in declaration order (the order a fuzzer's
            /// input picks them in).
            pub const ALL: &[Body] = &[$(Body::$body,)*];

            /// Its name in snake case: the seed files are named after it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Body::$body => $name,)*
                }
            }
        }
    };
}

bodies! {
    /// `POST /session`
    Login => "login",
    /// `PUT /me/password`
    PasswordChange => "password_change",
    /// `PUT /me/secret-questions`
    SecretQuestions => "secret_questions",
    /// `POST /activation/{token}`
    ChosenPassword => "chosen_password",
    /// `POST /password-reset`
    ResetStart => "reset_start",
    /// `POST /password-reset/answers`
    ResetAnswers => "reset_answers",
    /// `POST /users`
    UserCreate => "user_create",
    /// `PATCH /users/{id}`
    UserPatch => "user_patch",
    /// `POST /business-units`
    UnitCreate => "unit_create",
    /// `PATCH /business-units/{id}`
    UnitPatch => "unit_patch",
    /// `PUT /primary-contact`
    PrimaryContact => "primary_contact",
    /// `PUT /business-units/{id}/primary-contact`
    UnitPrimaryContact => "unit_primary_contact",
    /// `PUT /settings/security`
    SettingsSecurity => "settings_security",
    /// `PUT /settings/user-permissions`
    SettingsVisibility => "settings_visibility",
    /// `PUT /settings/business-units`
    SettingsUnitSetup => "settings_unit_setup",
    /// `PUT /settings/email-contact`
    SettingsEmailContact => "settings_email_contact",
    /// `PUT /business-units/{id}/email-contact`
    UnitEmailContact => "unit_email_contact",
    /// `POST /notifications`
    Notification => "notification",
    /// `POST /assets`
    AssetsAdd => "assets_add",
    /// `DELETE /assets`
    AssetsRemove => "assets_remove",
    /// `POST /scanner-appliances`
    ApplianceCreate => "appliance_create",
    /// `PATCH /scanner-appliances/{id}`
    AppliancePatch => "appliance_patch",
    /// `PUT /business-units/{id}/assets`
    UnitAssets => "unit_assets",
    /// `POST /asset-groups`
    AssetGroupCreate => "asset_group_create",
    /// `PATCH /asset-groups/{id}`
    AssetGroupPatch => "asset_group_patch",
    /// `POST /distribution-groups`
    DistributionGroupCreate => "distribution_group_create",
    /// `PATCH /distribution-groups/{id}`
    DistributionGroupPatch => "distribution_group_patch",
    /// `POST /authz/check`
    AuthzCheck => "authz_check",
    /// `POST /authz/check-batch`
    AuthzCheckBatch => "authz_check_batch",
    /// `POST /objects`
    ObjectCreate => "object_create",
    /// `PATCH /objects/{id}`
    ObjectPatch => "object_patch",
    /// `POST /users/{id}/move`
    UserMove => "user_move",
    /// `DELETE /users/{id}`
    UserDelete => "user_delete",
    /// `PUT /users/{id}/notification-options`
    NotificationOptions => "notification_options",
}

/// Who sends the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(fuzzing, derive(arbitrary::Arbitrary))]
pub enum Sender {
    /// The subscription's Manager, [`MANAGER`].
    Manager,
    /// [`UNIT_MANAGER`], the Unit Manager of [`UNIT`].
    UnitManager,
}

impl Sender {
    pub const ALL: [Sender; 2] = [Sender::Manager, Sender::UnitManager];

    /// The sending user's id.
    pub fn user(self) -> &'static str {
        match self {
            Sender::Manager => MANAGER,
            Sender::UnitManager => UNIT_MANAGER,
        }
    }
}

/// Ids of the records in the starting state, for a fuzzer's dictionary.
pub const MANAGER: &str = "m1";
pub const UNIT_MANAGER: &str = "um1";
pub const SCANNER: &str = "s1";
pub const UNIT: &str = "bu1";
pub const OTHER_UNIT: &str = "bu2";
pub const OBJECT: &str = "ob1";
pub const ASSET_GROUP: &str = "ag1";
pub const DISTRIBUTION_GROUP: &str = "dg1";
/// A subscription appliance, assigned to [`UNIT`].
pub const APPLIANCE: &str = "sa1";
/// An appliance of [`UNIT`].
pub const UNIT_APPLIANCE: &str = "a1";
/// A user of [`UNIT`] not yet activated, with the link [`LINK`].
pub const PENDING: &str = "p1";
/// The token of [`PENDING`]'s activation link.
pub const LINK: &str = "link";

/// The id a create gives its record, where the handler generates one.
const NEW: &str = "new";
/// What the handler's hashing would give.
const HASH: &str = "hash";

/// Parses `bytes` as the request type of `body` and runs it as `sender`.
pub fn json_body(body: Body, sender: Sender, bytes: &[u8]) {
    let mut state = base().clone();
    let actor = actor_of(&state, sender.user());
    if let Err(e) = run(body, bytes, &mut state, actor) {
        // Every refusal maps to a status and a stable code.
        let p = e.to_problem();
        assert!(p.status >= 400 && p.status < 500, "{p:?}");
        assert!(!p.code.is_empty());
    }
}

/// A command on the state as `actor`; a refusal is what the handler answers.
fn command<T>(state: &mut State, actor: Actor, f: impl Command<T>) -> Result<T, ApiError> {
    let mut tx = Tx::new(state, Timestamp::from_unix_micros(1_000_000), actor);
    let out = f(&mut tx);
    // As the store's writer does.
    if out.is_ok() {
        crate::domain::settle(&mut tx);
    }
    let _ = tx.finish_all();
    Ok(out?)
}

/// What each handler does with the body, minus its I/O (limits, hashing,
/// the clock, fresh ids: fixed stand-ins here): parse, translation,
/// command, view.
fn run(body: Body, bytes: &[u8], state: &mut State, actor: Actor) -> Result<(), ApiError> {
    // The caller, as the `Caller` extractor finds it.
    let me = actor.user.clone().unwrap_or_default();
    let caller = state
        .users
        .get(&me)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let security = state.settings.security.clone();
    match body {
        Body::Login => {
            // Nothing but I/O after parsing: limits, the hash, the session.
            let _: session::LoginRequest = parse(bytes)?;
        }
        Body::PasswordChange => {
            let req: session::PasswordChange = parse(bytes)?;
            session::check_new_password(&req.new, security.min_password_length)?;
            let cmd = session::change_password_command(req, me, HASH.into(), None);
            command(state, actor, cmd)?;
        }
        Body::SecretQuestions => {
            let req: session::SecretQuestions = parse(bytes)?;
            req.check()?;
            let hashed = req
                .questions
                .into_iter()
                .map(|q| (q.question, HASH.to_owned()))
                .collect();
            command(
                state,
                actor,
                session::set_secret_questions_command(hashed, me),
            )?;
        }
        Body::ChosenPassword => {
            let req: session::ChosenPassword = parse(bytes)?;
            session::check_new_password(&req.password, security.min_password_length)?;
            let link = crate::ids::token_hash(LINK);
            let cmd = session::complete_activation_command(req, link, HASH.into());
            command(state, actor, cmd)?;
        }
        Body::ResetStart => {
            let req: session::ResetStart = parse(bytes)?;
            let _ = session::real_questions(state, &req.login);
        }
        Body::ResetAnswers => {
            let req: session::ResetAnswers = parse(bytes)?;
            req.check()?;
            let (password, _) = session::reset_password_of(req.new_password, &security)?;
            let cmd = session::self_reset_command(password, me, HASH.into(), true);
            command(state, actor, cmd)?;
        }
        Body::UserCreate => {
            let new = NewUser::from(parse::<users::CreateUser>(bytes)?);
            let expires_at = Timestamp::from_unix_micros(2_000_000);
            let cmd = users::create_user_command(new, NEW.into(), "token".into(), expires_at);
            let user = command(state, actor, cmd)?;
            let _ = UserView::new(state, &user);
        }
        Body::UserPatch => {
            let patch = UserPatch::from(parse::<users::EditUser>(bytes)?);
            let user = command(
                state,
                actor,
                users::edit_user_command(patch, SCANNER.into()),
            )?;
            let _ = UserView::new(state, &user);
        }
        Body::UnitCreate => {
            let cmd = org::create_unit_command(parse(bytes)?, NEW.into())?;
            let unit = command(state, actor, cmd)?;
            let _ = org::UnitView::new(state, &unit);
        }
        Body::UnitPatch => {
            let cmd = org::edit_unit_command(parse(bytes)?, UNIT.into())?;
            let unit = command(state, actor, cmd)?;
            let _ = org::UnitView::new(state, &unit);
        }
        Body::PrimaryContact => {
            let cmd = org::set_primary_contact_command(parse(bytes)?);
            let user = command(state, actor, cmd)?;
            let _ = UserView::new(state, &user);
        }
        Body::UnitPrimaryContact => {
            let cmd = org::set_unit_primary_contact_command(parse(bytes)?, UNIT.into());
            let user = command(state, actor, cmd)?;
            let _ = UserView::new(state, &user);
        }
        Body::SettingsSecurity => {
            let out = command(state, actor, org::set_security_command(parse(bytes)?))?;
            let _ = org::Security::from(out);
        }
        Body::SettingsVisibility => {
            let out = command(state, actor, org::set_visibility_command(parse(bytes)?))?;
            let _ = org::Visibility::from(out);
        }
        Body::SettingsUnitSetup => {
            command(state, actor, org::set_unit_setup_command(parse(bytes)?))?;
        }
        Body::SettingsEmailContact => {
            command(state, actor, org::set_email_contact_command(parse(bytes)?))?;
        }
        Body::UnitEmailContact => {
            let cmd = org::set_unit_email_contact_command(parse(bytes)?, UNIT.into());
            let unit = command(state, actor, cmd)?;
            let _ = org::UnitView::new(state, &unit);
        }
        Body::Notification => {
            let out = command(state, actor, notifications::send_command(parse(bytes)?))?;
            let _ = notifications::NotificationQueued::new(out);
        }
        Body::AssetsAdd => {
            let cmd = http_assets::add_assets_command(parse(bytes)?)?;
            let added = command(state, actor, cmd)?;
            let _ = http_assets::AddedView::new(added);
        }
        Body::AssetsRemove => {
            command(
                state,
                actor,
                http_assets::remove_assets_command(parse(bytes)?)?,
            )?;
        }
        Body::ApplianceCreate => {
            let cmd = http_assets::create_appliance_command(parse(bytes)?, NEW.into());
            let a = command(state, actor, cmd)?;
            let _ = http_assets::ApplianceView::new(&a);
        }
        Body::AppliancePatch => {
            let cmd = http_assets::edit_appliance_command(parse(bytes)?, UNIT_APPLIANCE.into());
            let a = command(state, actor, cmd)?;
            let _ = http_assets::ApplianceView::new(&a);
        }
        Body::UnitAssets => {
            let cmd = http_assets::set_unit_assets_command(parse(bytes)?, UNIT.into())?;
            let out = command(state, actor, cmd)?;
            let _ = http_assets::AssetsView::new(&out);
        }
        Body::AssetGroupCreate => {
            let cmd = http_groups::create_group_command(parse(bytes)?, NEW.into())?;
            let g = command(state, actor, cmd)?;
            let _ = http_groups::AssetGroupView::new(&g);
        }
        Body::AssetGroupPatch => {
            let cmd = http_groups::edit_group_command(parse(bytes)?, ASSET_GROUP.into())?;
            let g = command(state, actor, cmd)?;
            let _ = http_groups::AssetGroupView::new(&g);
        }
        Body::DistributionGroupCreate => {
            let cmd = http_groups::create_distribution_group_command(parse(bytes)?, NEW.into());
            let g = command(state, actor, cmd)?;
            let _ = http_groups::DistributionGroupView::new(&g);
        }
        Body::DistributionGroupPatch => {
            let cmd = http_groups::edit_distribution_group_command(
                parse(bytes)?,
                DISTRIBUTION_GROUP.into(),
            );
            let g = command(state, actor, cmd)?;
            let _ = http_groups::DistributionGroupView::new(&g);
        }
        Body::AuthzCheck => {
            let req: http_authz::CheckRequest = parse(bytes)?;
            http_authz::user_may_ask(&caller, std::slice::from_ref(&req))?;
            // The handler answers on the live index's snapshot.
            http_authz::answer(index(), &req, "")?;
        }
        Body::AuthzCheckBatch => {
            let reqs: Vec<http_authz::CheckRequest> = parse(bytes)?;
            http_authz::batch_size(&reqs)?;
            http_authz::user_may_ask(&caller, &reqs)?;
            http_authz::answer_batch(index(), &reqs)?;
        }
        Body::ObjectCreate => {
            let cmd = objects::create_object_command(parse(bytes)?, NEW.into())?;
            let o = command(state, actor, cmd)?;
            let _ = objects::ObjectView::from(&o);
        }
        Body::ObjectPatch => {
            let cmd = objects::edit_object_command(parse(bytes)?, OBJECT.into())?;
            let o = command(state, actor, cmd)?;
            let _ = objects::ObjectView::from(&o);
        }
        Body::UserMove => {
            let m = parse::<users::MoveRequest>(bytes)?.into_move()?;
            let cmd = users::move_user_command(m, SCANNER.into(), || "copy".into());
            let moved = command(state, actor, cmd)?;
            let _ = UserView::new(state, &moved.user);
            let _: Vec<users::OutcomeView> = moved.outcomes.iter().map(Into::into).collect();
        }
        Body::UserDelete => {
            // No query string: the body's options alone.
            let d = users::DeleteRequest::default().or(users::delete_body(bytes)?);
            let deleted = command(state, actor, users::delete_user_command(d, SCANNER.into()))?;
            let _: Vec<users::OutcomeView> = deleted.outcomes.iter().map(Into::into).collect();
        }
        Body::NotificationOptions => {
            let cmd = notification_options::set_options_command(parse(bytes)?, SCANNER.into());
            let options = command(state, actor, cmd)?;
            let _ = notification_options::NotificationOptions::from_options(&options);
        }
    }
    Ok(())
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index::build(base()))
}

/// A subscription with user-defined passwords and new-IP limits on, a
/// Manager, a unit `bu1` with its Unit Manager, a Scanner and a user still
/// to activate, assets, two appliances, an asset group, an object and a
/// distribution group: enough for most commands to get past "not found",
/// and for the bodies' passwords and limits to be used.
fn base() -> &'static State {
    static BASE: OnceLock<State> = OnceLock::new();
    BASE.get_or_init(|| {
        // The kit's subscription (Manager `m1`), then each record through
        // its own command, so the fuzzer starts from a state the commands
        // can reach.
        let mut state = World::with(ServiceType::Enterprise, &[Module::Vm, Module::Pc]).state;
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
        // Users choose their passwords, so a body's password is what gets
        // checked and set rather than a generated one.
        seed(&mut state, &|tx| {
            let security = SecuritySettings {
                user_defined_passwords: true,
                ..tx.state().settings.security.clone()
            };
            settings::set_security(tx, security).map(drop)
        });
        // Units' new-IP limits apply.
        seed(&mut state, &|tx| {
            settings::set_business_unit_setup(tx, true).map(drop)
        });
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
                APPLIANCE.into(),
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
                    scanner_appliances: BTreeSet::from([APPLIANCE.to_owned()]),
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            assets::create_appliance(
                tx,
                UNIT_APPLIANCE.into(),
                assets::NewAppliance {
                    name: "dc1".into(),
                    kind: crate::domain::ApplianceKind::Physical,
                    business_unit: Some(UNIT.into()),
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
                ASSET_GROUP.into(),
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
                    asset_groups: vec![ASSET_GROUP.into()],
                    ips: Default::default(),
                    assignee: None,
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            groups::create_distribution_group(
                tx,
                DISTRIBUTION_GROUP.into(),
                groups::NewDistribution {
                    name: "Ops".into(),
                    members: vec![SCANNER.into()],
                    emails: vec!["ops@example.com".into()],
                },
            )
            .map(drop)
        });
        seed(&mut state, &|tx| {
            crate::domain::users::create_user(
                tx,
                PENDING.into(),
                NewUser {
                    login: "newcomer".into(),
                    email: "newcomer@example.com".into(),
                    first_name: "C".into(),
                    last_name: "D".into(),
                    role: Role::Scanner,
                    business_unit: Some(UNIT.into()),
                    asset_groups: Vec::new(),
                    permissions: None,
                    access: Access::UiAndApi,
                    external_id: None,
                },
                Some(ActivationGrant {
                    token_hash: crate::ids::token_hash(LINK),
                    expires_at: Timestamp::from_unix_micros(2_000_000),
                }),
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
        for &body in Body::ALL {
            for sender in Sender::ALL {
                json_body(body, sender, b"{}");
                json_body(body, sender, b"not json");
            }
        }
        let s = base();
        assert!(
            s.settings.security.user_defined_passwords,
            "passwords chosen"
        );
        assert!(s.settings.new_ip_limit_enabled, "new-IP limits on");
        assert!(s.users.contains_key(PENDING), "pending user seeded");
        assert!(s.units.contains_key(UNIT));
        assert!(s.users.contains_key(SCANNER) && s.users.contains_key(UNIT_MANAGER));
        assert!(s.appliances.contains_key(APPLIANCE), "appliance seeded");
        assert!(
            s.appliances.contains_key(UNIT_APPLIANCE),
            "unit appliance seeded"
        );
        assert!(
            s.asset_groups.contains_key(ASSET_GROUP),
            "asset group seeded"
        );
        assert!(s.objects.contains_key(OBJECT), "object seeded");
        assert!(s.units.contains_key(OTHER_UNIT), "second unit seeded");
        assert!(
            s.distribution_groups.contains_key(DISTRIBUTION_GROUP),
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
        let body = br#"{"name":"APAC","assets":{"ips":["10.0.0.2"],"domains":[],"scanner_appliances":[]}}"#;
        run(Body::UnitCreate, body, &mut state, actor).unwrap();
        assert!(state.units.contains_key(NEW));
    }

    /// The first bytes of a `json_bodies` input, which pick `body` and
    /// `sender`. `arbitrary` (built under `cargo fuzz` only, so mirrored
    /// here) reads an enum as a little-endian `u32` x and takes variant
    /// `(x * count) >> 32`: the smallest x of variant i is
    /// ceil(i * 2^32 / count).
    fn input_header(body: Body, sender: Sender) -> Vec<u8> {
        let variant = |i: usize, count: usize| {
            let x = ((i as u64) << 32).div_ceil(count as u64);
            u32::try_from(x).expect("below 2^32").to_le_bytes()
        };
        let b = Body::ALL.iter().position(|&x| x == body).expect("listed");
        let s = Sender::ALL
            .iter()
            .position(|&x| x == sender)
            .expect("listed");
        [variant(b, Body::ALL.len()), variant(s, Sender::ALL.len())].concat()
    }

    fn seed_name(body: Body, sender: Sender) -> String {
        match sender {
            Sender::Manager => body.name().to_owned(),
            Sender::UnitManager => format!("{}.unit_manager", body.name()),
        }
    }

    /// fuzz/seeds/json_bodies/ holds one input per body and sender in the
    /// target's layout (the header above, then the body), the same body for
    /// both senders, and one that the handler accepts from the Manager: so
    /// the fuzzer starts from every body's way through to its command. A new
    /// body needs its two seeds: `printf` the header this names, then the
    /// JSON.
    #[test]
    fn the_seeds_are_each_body_accepted_in_the_targets_layout() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/json_bodies");
        let mut names = BTreeSet::new();
        for &body in Body::ALL {
            let mut bodies = Vec::new();
            for sender in Sender::ALL {
                let name = seed_name(body, sender);
                let bytes =
                    std::fs::read(dir.join(&name)).unwrap_or_else(|e| panic!("seed {name}: {e}"));
                let header = input_header(body, sender);
                assert!(
                    bytes.starts_with(&header),
                    "seed {name} must start with the bytes {header:02x?}"
                );
                let rest = bytes[header.len()..].to_vec();
                json_body(body, sender, &rest);
                bodies.push(rest);
                names.insert(name);
            }
            assert_eq!(bodies[0], bodies[1], "{}: one body for both", body.name());
            let mut state = base().clone();
            let actor = actor_of(&state, MANAGER);
            if let Err(e) = run(body, &bodies[0], &mut state, actor) {
                panic!("seed {}: {} {}", body.name(), e.code, e.detail);
            }
        }
        assert_eq!(
            names.len(),
            Body::ALL.len() * Sender::ALL.len(),
            "unique names"
        );
        let found: BTreeSet<String> = std::fs::read_dir(&dir)
            .expect("seeds")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            found, names,
            "a seed for each body and sender, and no other"
        );
    }
}
