//! Users (R2, R7.1): create, edit, list and view, with every role rule.
//!
//! The one thing to know: a command first *decides* on an immutable
//! [`Acting`] (nothing changes before every check has passed), then applies
//! its changes and writes exactly one activity entry.
//!
//! Who may create and edit whom, with which role and where, is decided in
//! `roles`; any user may also change its own names and email (and its
//! external ID, with R5.3's permission). Only Managers change their own
//! role, unit, asset groups, permissions or access.
//!
//! Roles: `kb_only` only with its feature and only by Managers; `auditor`
//! only with PC; under `consultant_unlimited` only `reader` and
//! `user_administrator` are given; a User Administrator's role never changes
//! (`role_locked`); Managers and User Administrators are Unassigned, Unit
//! Managers always in a unit, and nobody in a unit under `express_lite`.
//!
//! Status: new users are `pending_activation` (R7.1); Contacts are created
//! `active` (they have nothing to activate, and R7.3 deactivates them), get
//! no credentials and no link (R2.5). A Contact given a role that signs in
//! becomes `pending_activation` (issue it an activation link); a user made a
//! Contact loses its sessions.

use std::collections::BTreeSet;

use super::access::{Acting, name_of, unit_name};
use super::contacts;
use super::permissions::{self, carried_over};
use super::roles::{
    check_admin_email, check_external_id, check_placement, may_assign_role, may_change_email,
    may_manage, no_user_management, role_available,
};
use super::{
    Access, ActivationLink, Code, Credentials, Id, Permission, Refusal, Role, State, Timestamp, Tx,
    User, UserStatus, validate,
};
use crate::LogAction;

/// `POST /api/v1/users`.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique case-insensitively; letters, digits and `. _ - @`. No edit
    /// changes it.
    pub login: String,
    /// Where registration and reset mail go (R7.1, R7.2).
    pub email: String,
    /// 1 to 100 characters, trimmed.
    pub first_name: String,
    /// 1 to 100 characters, trimmed.
    pub last_name: String,
    /// One the actor may give, and one the subscription has (R1.2, R1.3, R2).
    pub role: Role,
    /// `None` is "Unassigned".
    pub business_unit: Option<Id>,
    /// Groups of the user's unit, any group when Unassigned, or "all" (R6.3).
    pub asset_groups: Vec<Id>,
    /// `None`: the role's defaults (`create_option_profiles` for Scanners and
    /// Unit Managers, R5).
    pub permissions: Option<BTreeSet<Permission>>,
    /// Console and API, or API only (R8.1).
    pub access: Access,
    /// Set only by holders of `manage_external_ids`, while external IDs are
    /// enabled (R5.3).
    pub external_id: Option<String>,
}

/// The hash and expiry of a one-time activation token the caller made and
/// will send (R7.1).
#[derive(Debug, Clone)]
pub struct ActivationGrant {
    /// SHA-256 of the token, hex; the token itself goes out by mail only.
    pub token_hash: String,
    /// After this the link is `gone` (R7.1).
    pub expires_at: Timestamp,
}

/// `PATCH /api/v1/users/{id}`: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// A new first name; any user may change its own.
    pub first_name: Option<String>,
    /// A new last name; any user may change its own.
    pub last_name: Option<String>,
    /// A new email; of another user only by whoever could have given it its
    /// role (R7.2: an email is the way into an account).
    pub email: Option<String>,
    /// A new role, as [`NewUser::role`]; a User Administrator's never
    /// changes (R2.4).
    pub role: Option<Role>,
    /// `Some(None)` moves the user to "Unassigned".
    pub business_unit: Option<Option<Id>>,
    /// The groups from now on (R6.3).
    pub asset_groups: Option<Vec<Id>>,
    /// The extended permissions from now on (R5.2, R5.3).
    pub permissions: Option<BTreeSet<Permission>>,
    /// Console and API, or API only (R8.1); a move to console access ends
    /// `password_never_expires` (R8.6).
    pub access: Option<Access>,
    /// `Some(None)` clears it.
    pub external_id: Option<Option<String>>,
    /// R8.6: Managers only, API-only accounts only, feature
    /// `api_password_never_expires` on to set it.
    pub password_never_expires: Option<bool>,
}

/// How activity entries name a user.
pub(crate) fn target(u: &User) -> String {
    format!("user {} ({})", u.login, u.id)
}

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

fn clean_name(field: &str, v: &str) -> Result<String, Refusal> {
    let v = v.trim();
    validate::text(field, v, 100)?;
    Ok(v.to_owned())
}

fn clean_external_id(v: &str) -> Result<String, Refusal> {
    let v = v.trim();
    validate::text("external_id", v, 128).map_err(|mut r| {
        r.message.push_str(", or null to clear it");
        r
    })?;
    Ok(v.to_owned())
}

/// Asset-group ids, checked against the real groups by
/// `groups::check_assignment` (R6.3); duplicates are dropped, order kept.
fn clean_groups(groups: &[Id]) -> Result<Vec<Id>, Refusal> {
    if groups.len() > 1000 {
        return Err(refuse(
            Code::Validation,
            "asset_groups: at most 1000 groups",
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for g in groups {
        if g.is_empty() || g.len() > 64 || g.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(refuse(
                Code::Validation,
                format!("asset_groups: {g:?} is not an asset group id"),
            ));
        }
        if seen.insert(g.as_str()) {
            out.push(g.clone());
        }
    }
    Ok(out)
}

/// Creates a user (R2, R7.1). `id` is the new user's id; `activation` the
/// one-time link to store for it (ignored for Contacts, which get no
/// credentials). Action `user.create`.
pub fn create_user(
    tx: &mut Tx<'_>,
    id: Id,
    new: NewUser,
    activation: Option<ActivationGrant>,
) -> Result<User, Refusal> {
    let user = {
        let acting = Acting::from_tx(tx)?;
        decide_create(&acting, id, new, tx.now())?
    };
    let contact = user.role == Role::Contact;
    tx.put_user(user.clone());
    if !contact {
        tx.put_credentials(&user.id, Credentials::default());
        if let Some(a) = activation {
            tx.put_activation_link(ActivationLink {
                token_hash: a.token_hash,
                user: user.id.clone(),
                expires_at: a.expires_at,
                used: false,
            });
        }
    }
    let mut details = format!(
        "role {}, business unit {}",
        user.role.as_str(),
        unit_name(tx.state(), user.business_unit.as_ref())
    );
    if !user.permissions.is_empty() {
        details.push_str(&format!(
            ", permissions {}",
            permissions::diff(&BTreeSet::new(), &user.permissions)
        ));
    }
    tx.log(LogAction::UserCreate, target(&user), details);
    Ok(user)
}

fn decide_create(
    acting: &Acting<'_>,
    id: Id,
    new: NewUser,
    now: Timestamp,
) -> Result<User, Refusal> {
    if !acting.may_manage_users() {
        return Err(no_user_management());
    }
    validate::login(&new.login)?;
    validate::email("email", &new.email)?;
    let first_name = clean_name("first_name", &new.first_name)?;
    let last_name = clean_name("last_name", &new.last_name)?;
    let asset_groups = clean_groups(&new.asset_groups)?;
    let external_id = new
        .external_id
        .as_deref()
        .map(clean_external_id)
        .transpose()?;
    role_available(acting, new.role)?;
    may_assign_role(acting, new.role)?;
    check_placement(acting, new.role, new.business_unit.as_ref())?;
    super::groups::check_assignment(acting.state, new.business_unit.as_ref(), &asset_groups)?;
    if acting.state.user_by_login(&new.login).is_some() {
        return Err(refuse(
            Code::LoginTaken,
            format!("login {} is taken; choose another", new.login),
        ));
    }
    if acting.state.users.contains_key(&id) {
        return Err(refuse(Code::Conflict, format!("user id {id} exists")));
    }
    let baseline = permissions::defaults_for(new.role);
    let requested = new.permissions.unwrap_or_else(|| baseline.clone());
    let perms = permissions::decide(acting, new.role, &baseline, &requested)?;
    let user = User {
        id,
        login: new.login,
        email: new.email,
        first_name,
        last_name,
        role: new.role,
        business_unit: new.business_unit,
        status: if new.role == Role::Contact {
            UserStatus::Active
        } else {
            UserStatus::PendingActivation
        },
        asset_groups,
        permissions: perms,
        access: new.access,
        external_id,
        created_at: now,
        last_login_at: None,
        notification_opt_outs: Default::default(),
    };
    check_admin_email(acting, &user)?;
    if user.external_id.is_some() {
        check_external_id(acting, &user)?;
    }
    Ok(user)
}

/// Edits a user (R2, R3.3, R4.4, R5). Action `user.update`, or
/// `permissions.update` when only permissions changed.
pub fn edit_user(tx: &mut Tx<'_>, id: &str, patch: UserPatch) -> Result<User, Refusal> {
    let asked_never_expires = patch.password_never_expires;
    let (before, after, mut details, never_expires) = {
        let acting = Acting::from_tx(tx)?;
        let (before, after) = decide_edit(&acting, id, patch)?;
        let details = describe_edit(acting.state, &before, &after);
        let never_expires = decide_never_expires(&acting, &after, asked_never_expires)?;
        (before, after, details, never_expires)
    };
    tx.put_user(after.clone());
    if let Some(never) = never_expires {
        let mut creds = super::credentials::creds_of(tx, &after.id);
        if creds.password_never_expires != never {
            creds.password_never_expires = never;
            tx.put_credentials(&after.id, creds);
            let said = format!(
                "password never expires: {}",
                if never { "yes" } else { "no" }
            );
            if details == "no change" {
                details = said;
            } else {
                details = format!("{details}; {said}");
            }
        }
    }
    if after.email != before.email {
        // The old address hears of it, and a new one must settle before a
        // reset link goes there (R7.2).
        let mut creds = super::credentials::creds_of(tx, &after.id);
        creds.email_changed_at = Some(tx.now());
        tx.put_credentials(&after.id, creds);
        tx.queue_notice(super::notice::Notice::to_user(
            super::notice::NoticeKind::EmailChanged {
                old: before.email.clone(),
            },
            after.id.clone(),
            None,
        ));
    }
    if after.role == Role::Contact && before.role != Role::Contact {
        tx.end_sessions_of(&after.id, None);
    }
    if before.role == Role::Contact
        && after.role != Role::Contact
        && !tx.state().credentials.contains_key(&after.id)
    {
        tx.put_credentials(&after.id, Credentials::default());
    }
    let only_permissions = User {
        permissions: after.permissions.clone(),
        ..before.clone()
    } == after
        && before.permissions != after.permissions;
    let action = if only_permissions {
        LogAction::PermissionsUpdate
    } else {
        LogAction::UserUpdate
    };
    tx.log(action, target(&after), details);
    Ok(after)
}

/// Sets a user's extended permissions (R5.2); the list replaces the old one.
pub fn set_permissions(
    tx: &mut Tx<'_>,
    id: &str,
    perms: BTreeSet<Permission>,
) -> Result<User, Refusal> {
    edit_user(
        tx,
        id,
        UserPatch {
            permissions: Some(perms),
            ..UserPatch::default()
        },
    )
}

/// What the R8.6 flag becomes after an edit, `None` for unchanged: set
/// or cleared as asked, and cleared by a move away from API-only access,
/// where it would mean nothing and should not come back by surprise.
fn decide_never_expires(
    acting: &Acting<'_>,
    after: &User,
    asked: Option<bool>,
) -> Result<Option<bool>, Refusal> {
    let Some(never) = asked else {
        return Ok((after.access != Access::ApiOnly).then_some(false));
    };
    if !acting.is_manager() {
        return Err(refuse(
            Code::Forbidden,
            "password_never_expires: only a Manager sets it",
        ));
    }
    if never {
        if !acting
            .subscription
            .has(super::Feature::ApiPasswordNeverExpires)
        {
            return Err(refuse(
                Code::FeatureUnavailable,
                "password_never_expires: the subscription lacks feature api_password_never_expires; the operator turns it on",
            ));
        }
        if after.access != Access::ApiOnly {
            return Err(refuse(
                Code::Validation,
                "password_never_expires: only an API-only account's password may never expire; set access to api_only too",
            ));
        }
    }
    Ok(Some(never))
}

fn decide_edit(acting: &Acting<'_>, id: &str, patch: UserPatch) -> Result<(User, User), Refusal> {
    let before = acting.visible_user(id)?.clone();
    let self_edit = before.id == *acting.id();
    if !self_edit {
        may_manage(acting, &before)?;
    }
    let mut after = before.clone();
    if let Some(v) = &patch.first_name {
        after.first_name = clean_name("first_name", v)?;
    }
    if let Some(v) = &patch.last_name {
        after.last_name = clean_name("last_name", v)?;
    }
    if let Some(v) = patch.email {
        validate::email("email", &v)?;
        if v != before.email {
            may_change_email(acting, &before)?;
        }
        after.email = v;
    }
    if let Some(r) = patch.role {
        after.role = r;
    }
    if let Some(u) = patch.business_unit {
        after.business_unit = u;
    }
    if let Some(g) = &patch.asset_groups {
        after.asset_groups = clean_groups(g)?;
    }
    if let Some(a) = patch.access {
        after.access = a;
    }
    if let Some(x) = &patch.external_id {
        after.external_id = x.as_deref().map(clean_external_id).transpose()?;
    }
    let role_changed = after.role != before.role;
    let unit_changed = after.business_unit != before.business_unit;
    if unit_changed {
        refuse_unsettled_move(acting.state, &before)?;
    }
    if role_changed && before.role == Role::UserAdministrator {
        return Err(refuse(
            Code::RoleLocked,
            format!(
                "{} is a User Administrator, a role that never changes; create another user instead",
                name_of(&before)
            ),
        ));
    }
    let sub = acting.subscription;
    let settings = &acting.state.settings;
    let baseline = carried_over(sub, settings, before.role, &before.permissions, after.role);
    let requested = patch.permissions.unwrap_or_else(|| baseline.clone());
    if self_edit && !acting.is_manager() {
        let others_changed = role_changed
            || unit_changed
            || after.asset_groups != before.asset_groups
            || after.access != before.access
            || requested != baseline;
        if others_changed {
            return Err(refuse(
                Code::Forbidden,
                "you may change your own names and email only; ask a Manager for the rest",
            ));
        }
    }
    if role_changed {
        role_available(acting, after.role)?;
        may_assign_role(acting, after.role)?;
    }
    if role_changed || unit_changed {
        check_placement(acting, after.role, after.business_unit.as_ref())?;
    }
    // R6.3: the groups must be the new unit's when either changes.
    if patch.asset_groups.is_some() || unit_changed {
        super::groups::check_assignment(
            acting.state,
            after.business_unit.as_ref(),
            &after.asset_groups,
        )?;
    }
    if role_changed
        && before.role == Role::Manager
        && before.status == UserStatus::Active
        && acting.state.active_managers() <= 1
    {
        return Err(refuse(
            Code::LastManager,
            format!(
                "{} is the last active Manager, whose role cannot change; make another user a Manager first",
                name_of(&before)
            ),
        ));
    }
    // A Contact has nothing to activate; a Contact who may now sign in has.
    if role_changed && before.status != UserStatus::Deactivated {
        if after.role == Role::Contact {
            after.status = UserStatus::Active;
        } else if before.role == Role::Contact {
            after.status = UserStatus::PendingActivation;
        }
    }
    contacts::check_still_eligible(acting.state, &after)?;
    if role_changed || after.email != before.email {
        check_admin_email(acting, &after)?;
    }
    after.permissions = permissions::decide(acting, after.role, &baseline, &requested)?;
    if after.external_id != before.external_id {
        check_external_id(acting, &after)?;
    }
    Ok((before, after))
}

/// A unit change by edit (R7.4): a user who owns configurations, results or
/// asset groups is moved only by the move workflow, which settles each of
/// them (keep or delete, move, link or copy), so nothing it owns stays
/// behind in the old unit for the old unit's Unit Managers to see and
/// change. A user who owns none of them changes unit by edit: there is
/// nothing to settle.
fn refuse_unsettled_move(state: &State, user: &User) -> Result<(), Refusal> {
    let objects = state
        .objects
        .values()
        .filter(|o| o.owner.as_ref() == Some(&user.id))
        .count();
    let groups = state
        .asset_groups
        .values()
        .filter(|g| g.owner == user.id)
        .count();
    if objects == 0 && groups == 0 {
        return Ok(());
    }
    Err(refuse(
        Code::UseMove,
        format!(
            "{} owns {objects} configurations or results and {groups} asset groups, which a move settles; \
             use POST /api/v1/users/{}/move to choose what to keep",
            name_of(user),
            user.id
        ),
    ))
}

fn describe_edit(state: &State, before: &User, after: &User) -> String {
    let mut d = Vec::new();
    let mut field = |name: &str, old: &str, new: &str| {
        if old != new {
            d.push(format!("{name} {old:?} -> {new:?}"));
        }
    };
    field("first_name", &before.first_name, &after.first_name);
    field("last_name", &before.last_name, &after.last_name);
    field("email", &before.email, &after.email);
    field("role", before.role.as_str(), after.role.as_str());
    field(
        "business unit",
        &unit_name(state, before.business_unit.as_ref()),
        &unit_name(state, after.business_unit.as_ref()),
    );
    field(
        "external_id",
        before.external_id.as_deref().unwrap_or(""),
        after.external_id.as_deref().unwrap_or(""),
    );
    if before.access != after.access {
        d.push(format!("access -> {:?}", after.access));
    }
    if before.asset_groups != after.asset_groups {
        d.push(format!(
            "asset groups -> [{}]",
            after.asset_groups.join(", ")
        ));
    }
    if before.status != after.status {
        d.push(format!("status {:?} -> {:?}", before.status, after.status));
    }
    if before.permissions != after.permissions {
        d.push(format!(
            "permissions {}",
            permissions::diff(&before.permissions, &after.permissions)
        ));
    }
    if d.is_empty() {
        "no change".into()
    } else {
        d.join("; ")
    }
}
