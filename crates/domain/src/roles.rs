//! Role rules (R1.2, R1.3, R2): who may give which role, where a user of a
//! role may be, and who may manage whom. `users` calls these before any
//! change; delete and deactivate (R7) call [`protect_last_manager`].
//!
//! The one thing to know: each check reads an [`Acting`] and returns a
//! refusal that says what to do; none of them changes anything.
//!
//! Who creates and edits whom (R2):
//! - Managers: everyone (R2.1).
//! - User Administrators: every user except other User Administrators, which
//!   needs the operator feature `admins_manage_admins`; then every User
//!   Administrator's email must be unique (`email_taken`). They may edit
//!   Managers, but never change the role of the last active Manager (R2.4).
//! - Unit Managers: users of their own unit only, with the roles a unit can
//!   hold ([`UNIT_ROLES`]). They do not move users to other units (R2.2).
//! - Everyone else manages no users (`forbidden`).
//!
//! Where: Managers and User Administrators are Unassigned (R2.1; decided
//! for User Administrators, who manage users of every unit), Unit Managers
//! always in a unit (R2.2), nobody in a unit under `express_lite` (R1.2).

use super::access::{Acting, name_of, unit_name};
use super::{
    Code, Feature, Id, Module, Permission, Refusal, Role, ServiceType, State, User, UserStatus,
};

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

/// R1.2, R1.3, R1.4: whether the subscription has `role` at all.
pub(crate) fn role_available(acting: &Acting<'_>, role: Role) -> Result<(), Refusal> {
    let sub = acting.subscription;
    if sub.service_type == ServiceType::ConsultantUnlimited
        && !matches!(role, Role::Reader | Role::UserAdministrator)
    {
        return Err(refuse(
            Code::RoleNotAllowed,
            format!(
                "role {}: a consultant_unlimited subscription gives only the reader and user_administrator roles",
                role.as_str()
            ),
        ));
    }
    if role == Role::Auditor && !sub.modules.contains(&Module::Pc) {
        return Err(refuse(
            Code::FeatureUnavailable,
            "role auditor exists only with the PC module, which this subscription does not have",
        ));
    }
    if role == Role::KbOnly && !sub.has(Feature::KbOnlyRole) {
        return Err(refuse(
            Code::FeatureUnavailable,
            "role kb_only needs the operator feature kb_only_role; ask the appliance operator",
        ));
    }
    if role == Role::UnitManager && sub.service_type == ServiceType::ExpressLite {
        return Err(refuse(
            Code::FeatureUnavailable,
            "role unit_manager: an express_lite subscription has no business units, so no Unit Managers",
        ));
    }
    Ok(())
}

/// The roles a Unit Manager gives within its unit: not Manager or User
/// Administrator (Unassigned roles), not KnowledgeBase-only (Managers only).
pub const UNIT_ROLES: [Role; 6] = [
    Role::UnitManager,
    Role::Scanner,
    Role::Reader,
    Role::Auditor,
    Role::RemediationUser,
    Role::Contact,
];

/// R2.2, R2.3, R2.4: whether the actor may give `role`.
pub(crate) fn may_assign_role(acting: &Acting<'_>, role: Role) -> Result<(), Refusal> {
    if role == Role::KbOnly && !acting.is_manager() {
        return Err(refuse(
            Code::Forbidden,
            "only Managers assign the kb_only role",
        ));
    }
    match acting.role() {
        Role::Manager => Ok(()),
        Role::UserAdministrator => {
            if role == Role::UserAdministrator
                && !acting.subscription.has(Feature::AdminsManageAdmins)
            {
                Err(refuse(
                    Code::Forbidden,
                    "User Administrators create or edit other User Administrators only with the operator feature admins_manage_admins; ask a Manager",
                ))
            } else {
                Ok(())
            }
        }
        Role::UnitManager if UNIT_ROLES.contains(&role) => Ok(()),
        Role::UnitManager => Err(refuse(
            Code::Forbidden,
            format!(
                "role {}: Unit Managers give only the unit_manager, scanner, reader, auditor, remediation_user and contact roles; ask a Manager",
                role.as_str()
            ),
        )),
        _ => Err(no_user_management()),
    }
}

/// R5.2: whether `actor` could itself grant every permission `target`
/// holds beyond its role's defaults. Managers grant all; Unit Managers only
/// what they hold; nobody else grants any.
pub fn grants_within(state: &State, actor: &User, target: &User) -> bool {
    let extra: Vec<Permission> = target
        .permissions
        .difference(&super::permissions::defaults_for(target.role))
        .copied()
        .collect();
    match actor.role {
        Role::Manager => true,
        Role::UnitManager => {
            let own = super::permissions::effective(state, actor);
            extra.iter().all(|p| own.contains(p))
        }
        _ => extra.is_empty(),
    }
}

/// R2, R5.2: a Unit Manager or User Administrator changes the email of
/// another user only if it could have given that user its role and
/// permissions: an email is the way into an account (R7.2).
pub(crate) fn may_change_email(acting: &Acting<'_>, target: &User) -> Result<(), Refusal> {
    if acting.is_manager() || target.id == *acting.id() {
        return Ok(());
    }
    may_assign_role(acting, target.role)?;
    if !grants_within(acting.state, acting.user, target) {
        return Err(refuse(
            Code::Forbidden,
            format!(
                "{} holds permissions you could not grant, so you cannot change its email; ask a Manager",
                name_of(target)
            ),
        ));
    }
    Ok(())
}

pub(crate) fn no_user_management() -> Refusal {
    refuse(
        Code::Forbidden,
        "your role manages no users; ask a Manager or a Unit Manager",
    )
}

/// R2.1, R2.2, R1.2: where a user of `role` may be.
pub(crate) fn check_placement(
    acting: &Acting<'_>,
    role: Role,
    unit: Option<&Id>,
) -> Result<(), Refusal> {
    if acting.is_unit_manager() && unit != acting.unit() {
        return Err(refuse(
            Code::Forbidden,
            format!(
                "you manage the users of {} only; a Manager moves users between units",
                unit_name(acting.state, acting.unit())
            ),
        ));
    }
    if let Some(u) = unit {
        if acting.subscription.service_type == ServiceType::ExpressLite {
            return Err(refuse(
                Code::FeatureUnavailable,
                "business_unit: an express_lite subscription has no business units; leave it empty",
            ));
        }
        if !acting.state.units.contains_key(u) {
            return Err(refuse(
                Code::Validation,
                format!("business_unit: there is no business unit {u}"),
            ));
        }
    }
    match (role, unit) {
        (Role::Manager | Role::UserAdministrator, Some(_)) => Err(refuse(
            Code::Validation,
            format!(
                "business_unit: a {} belongs to no business unit (Unassigned); leave it empty",
                if role == Role::Manager {
                    "Manager"
                } else {
                    "User Administrator"
                }
            ),
        )),
        (Role::UnitManager, None) => Err(refuse(
            Code::Validation,
            "business_unit: a Unit Manager always belongs to a business unit; choose one",
        )),
        _ => Ok(()),
    }
}

/// R2.4: with `admins_manage_admins`, every User Administrator's email is
/// its own.
pub(crate) fn check_admin_email(acting: &Acting<'_>, user: &User) -> Result<(), Refusal> {
    if user.role != Role::UserAdministrator || !acting.subscription.has(Feature::AdminsManageAdmins)
    {
        return Ok(());
    }
    let taken = acting.state.users.values().any(|o| {
        o.id != user.id
            && o.role == Role::UserAdministrator
            && o.email.eq_ignore_ascii_case(&user.email)
    });
    if taken {
        return Err(refuse(
            Code::EmailTaken,
            format!(
                "another User Administrator already uses {}; every User Administrator needs its own email",
                user.email
            ),
        ));
    }
    Ok(())
}

/// R5.3: only holders of `manage_external_ids` set external IDs, and only
/// while they are enabled; an external ID names one user.
pub(crate) fn check_external_id(acting: &Acting<'_>, user: &User) -> Result<(), Refusal> {
    if !acting.state.settings.security.external_ids_enabled {
        return Err(refuse(
            Code::FeatureUnavailable,
            "external IDs are off; the subscription's primary contact turns them on in the security settings",
        ));
    }
    if !acting.has_permission(Permission::ManageExternalIds) {
        return Err(refuse(
            Code::Forbidden,
            "setting external IDs needs the manage_external_ids permission",
        ));
    }
    if let Some(x) = &user.external_id
        && acting
            .state
            .users
            .values()
            .any(|o| o.id != user.id && o.external_id.as_ref() == Some(x))
    {
        return Err(refuse(
            Code::Conflict,
            format!("external ID {x:?} already names another user"),
        ));
    }
    Ok(())
}

/// R2.6: refuses while `user_id` is the last active Manager. Delete and
/// deactivate call this; edits check role changes themselves.
pub(crate) fn protect_last_manager(state: &State, user_id: &str) -> Result<(), Refusal> {
    match state.users.get(user_id) {
        Some(u)
            if u.role == Role::Manager
                && u.status == UserStatus::Active
                && state.active_managers() <= 1 =>
        {
            Err(refuse(
                Code::LastManager,
                format!(
                    "{} is the last active Manager; make another user a Manager first",
                    name_of(u)
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// R2: whether the actor may edit `target` (someone else) at all.
pub fn may_manage(acting: &Acting<'_>, target: &User) -> Result<(), Refusal> {
    match acting.role() {
        Role::Manager => Ok(()),
        Role::UserAdministrator => {
            if target.role == Role::UserAdministrator
                && !acting.subscription.has(Feature::AdminsManageAdmins)
            {
                Err(refuse(
                    Code::Forbidden,
                    "User Administrators edit other User Administrators only with the operator feature admins_manage_admins; ask a Manager",
                ))
            } else {
                Ok(())
            }
        }
        Role::UnitManager => {
            if target.business_unit.as_ref() == acting.unit() {
                Ok(())
            } else {
                Err(refuse(
                    Code::Forbidden,
                    format!(
                        "you manage the users of {} only",
                        unit_name(acting.state, acting.unit())
                    ),
                ))
            }
        }
        _ => Err(no_user_management()),
    }
}
