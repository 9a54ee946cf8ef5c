//! Subscription settings (R8.5, R10, R3.2) and account info (R10.3).
//!
//! The one thing to know: settings are one record; each command replaces one
//! group of it, whole, after checking every field, and writes one activity
//! entry naming what changed.
//!
//! Decisions: security settings are seen and changed by Managers only, and
//! `external_ids_enabled` only by the subscription primary contact (R8.5);
//! turning it off withdraws every `manage_external_ids` grant (R5.3), the
//! external IDs themselves stay. Ranges: `lockout_threshold` 1..=100,
//! `min_password_length` 8..=128 (8 is the product's floor), and
//! `password_expiration_days` 0..=3650 (0 = never). Visibility and
//! business-unit settings are the Managers'. The Email Contact (R10.2) is
//! seen by Managers and Unit Managers; a unit's own contact is set by
//! Managers, and by that unit's Unit Managers while
//! `allow_unit_manager_email_override` is on; it is used only while the
//! override is on.

use serde::Serialize;

use super::access::{Acting, name_of};
use super::contacts;
use super::permissions;
use super::{
    ApplianceKind, BusinessUnit, Code, EmailContact, Id, Module, ObjectKind, OwnedObject,
    Permission, Refusal, Role, SecuritySettings, ServiceType, Settings, State, Timestamp, Tx, User,
    VisibilitySettings, validate,
};
use crate::LogAction;

fn managers_only(acting: &Acting<'_>, what: &str) -> Result<(), Refusal> {
    acting.require_manager(|| format!("only Managers see or change the {what} settings"))
}

fn details(changes: &[String]) -> String {
    if changes.is_empty() {
        "no change".to_owned()
    } else {
        changes.join("; ")
    }
}

fn save(tx: &mut Tx<'_>, settings: Settings, action: LogAction, changes: Vec<String>) {
    tx.put_settings(settings);
    tx.log(action, "settings", details(&changes));
}

fn change<T: PartialEq + std::fmt::Debug>(out: &mut Vec<String>, name: &str, old: &T, new: &T) {
    if old != new {
        out.push(format!("{name} {old:?} -> {new:?}"));
    }
}

/// `GET /api/v1/settings/security`.
pub fn security(acting: &Acting<'_>) -> Result<SecuritySettings, Refusal> {
    managers_only(acting, "security")?;
    Ok(acting.state.settings.security.clone())
}

/// `PUT /api/v1/settings/security` (R8.5). Action `settings.security.update`.
pub fn set_security(tx: &mut Tx<'_>, new: SecuritySettings) -> Result<SecuritySettings, Refusal> {
    let (settings, changes) = {
        let acting = Acting::from_tx(tx)?;
        managers_only(&acting, "security")?;
        let range = |field: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Refusal::new(
                    Code::Validation,
                    format!("{field}: give {lo} to {hi}"),
                ))
            }
        };
        range("lockout_threshold", new.lockout_threshold, 1, 100)?;
        range("min_password_length", new.min_password_length, 8, 128)?;
        range(
            "password_expiration_days",
            new.password_expiration_days,
            0,
            3650,
        )?;
        let old = &acting.state.settings.security;
        if new.external_ids_enabled != old.external_ids_enabled && !acting.is_subscription_poc() {
            return Err(Refusal::new(
                Code::Forbidden,
                "only the subscription's primary contact turns external IDs on or off",
            ));
        }
        let mut c = Vec::new();
        change(
            &mut c,
            "user_defined_passwords",
            &old.user_defined_passwords,
            &new.user_defined_passwords,
        );
        change(
            &mut c,
            "password_expiration_days",
            &old.password_expiration_days,
            &new.password_expiration_days,
        );
        change(
            &mut c,
            "lockout_threshold",
            &old.lockout_threshold,
            &new.lockout_threshold,
        );
        change(
            &mut c,
            "min_password_length",
            &old.min_password_length,
            &new.min_password_length,
        );
        change(
            &mut c,
            "external_ids_enabled",
            &old.external_ids_enabled,
            &new.external_ids_enabled,
        );
        let mut settings = acting.state.settings.clone();
        settings.security = new.clone();
        (settings, c)
    };
    let mut changes = changes;
    tx.put_settings(settings);
    let dropped = permissions::prune(tx);
    if dropped > 0 {
        changes.push(format!("withdrew {dropped} manage_external_ids grant(s)"));
    }
    tx.log(
        LogAction::SettingsSecurityUpdate,
        "settings",
        details(&changes),
    );
    Ok(new)
}

/// `GET /api/v1/settings/user-permissions` (R10.1).
pub fn visibility(acting: &Acting<'_>) -> Result<VisibilitySettings, Refusal> {
    managers_only(acting, "user permission")?;
    Ok(acting.state.settings.visibility.clone())
}

/// `PUT /api/v1/settings/user-permissions` (R10.1): hiding users outside the
/// unit only together with restricting their details. Action
/// `settings.visibility.update`.
pub fn set_visibility(
    tx: &mut Tx<'_>,
    new: VisibilitySettings,
) -> Result<VisibilitySettings, Refusal> {
    let (settings, c) = {
        let acting = Acting::from_tx(tx)?;
        managers_only(&acting, "user permission")?;
        if new.hide_users_outside_unit && !new.restrict_user_info_outside_unit {
            return Err(Refusal::new(
                Code::Validation,
                "hide_users_outside_unit: works only with restrict_user_info_outside_unit; turn that on too",
            ));
        }
        let old = &acting.state.settings.visibility;
        let mut c = Vec::new();
        change(
            &mut c,
            "restrict_user_info_outside_unit",
            &old.restrict_user_info_outside_unit,
            &new.restrict_user_info_outside_unit,
        );
        change(
            &mut c,
            "hide_users_outside_unit",
            &old.hide_users_outside_unit,
            &new.hide_users_outside_unit,
        );
        change(
            &mut c,
            "restrict_scheduled_tasks_on_unassigned_assets",
            &old.restrict_scheduled_tasks_on_unassigned_assets,
            &new.restrict_scheduled_tasks_on_unassigned_assets,
        );
        let mut settings = acting.state.settings.clone();
        settings.visibility = new.clone();
        (settings, c)
    };
    save(tx, settings, LogAction::SettingsVisibilityUpdate, c);
    Ok(new)
}

/// `GET /api/v1/settings/business-units` (R3.2): `new_ip_limit_enabled`.
pub fn business_unit_setup(acting: &Acting<'_>) -> Result<bool, Refusal> {
    managers_only(acting, "business unit")?;
    Ok(acting.state.settings.new_ip_limit_enabled)
}

/// `PUT /api/v1/settings/business-units` (R3.2). Action
/// `settings.business_units.update`.
pub fn set_business_unit_setup(
    tx: &mut Tx<'_>,
    new_ip_limit_enabled: bool,
) -> Result<bool, Refusal> {
    let (settings, c) = {
        let acting = Acting::from_tx(tx)?;
        managers_only(&acting, "business unit")?;
        super::units::no_units_here(&acting)?;
        let mut c = Vec::new();
        let old = acting.state.settings.new_ip_limit_enabled;
        change(&mut c, "new_ip_limit_enabled", &old, &new_ip_limit_enabled);
        let mut settings = acting.state.settings.clone();
        settings.new_ip_limit_enabled = new_ip_limit_enabled;
        (settings, c)
    };
    save(tx, settings, LogAction::SettingsBusinessUnitsUpdate, c);
    Ok(new_ip_limit_enabled)
}

/// The Email Contact settings (R10.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailContactSettings {
    /// `None`: notifications name the subscription's primary contact.
    pub email_contact: Option<EmailContact>,
    /// Whether a Unit Manager may give its own unit an Email Contact that
    /// then replaces this one for the unit's users (R10.2).
    pub allow_unit_manager_override: bool,
}

fn check_contact(c: &EmailContact) -> Result<EmailContact, Refusal> {
    let name = c.name.trim();
    validate::text("email_contact.name", name, 100)?;
    validate::email("email_contact.email", &c.email)?;
    Ok(EmailContact {
        name: name.to_owned(),
        email: c.email.clone(),
    })
}

/// `GET /api/v1/settings/email-contact`: Managers and Unit Managers.
pub fn email_contact(acting: &Acting<'_>) -> Result<EmailContactSettings, Refusal> {
    if !(acting.is_manager() || acting.is_unit_manager()) {
        return Err(Refusal::new(
            Code::Forbidden,
            "only Managers and Unit Managers see the Email Contact settings",
        ));
    }
    let s = &acting.state.settings;
    Ok(EmailContactSettings {
        email_contact: s.email_contact.clone(),
        allow_unit_manager_override: s.allow_unit_manager_email_override,
    })
}

/// `PUT /api/v1/settings/email-contact` (R10.2), Managers. Action
/// `settings.email_contact.update`.
pub fn set_email_contact(
    tx: &mut Tx<'_>,
    new: EmailContactSettings,
) -> Result<EmailContactSettings, Refusal> {
    let (settings, c, out) = {
        let acting = Acting::from_tx(tx)?;
        managers_only(&acting, "Email Contact")?;
        let contact = new.email_contact.as_ref().map(check_contact).transpose()?;
        let old = &acting.state.settings;
        let mut c = Vec::new();
        change(&mut c, "email_contact", &old.email_contact, &contact);
        change(
            &mut c,
            "allow_unit_manager_override",
            &old.allow_unit_manager_email_override,
            &new.allow_unit_manager_override,
        );
        let mut settings = old.clone();
        settings.email_contact = contact.clone();
        settings.allow_unit_manager_email_override = new.allow_unit_manager_override;
        let out = EmailContactSettings {
            email_contact: contact,
            allow_unit_manager_override: new.allow_unit_manager_override,
        };
        (settings, c, out)
    };
    save(tx, settings, LogAction::SettingsEmailContactUpdate, c);
    Ok(out)
}

/// R10.2: Managers set a unit's own Email Contact, and its Unit Managers
/// while the override is allowed.
pub fn may_set_unit_email_contact(acting: &Acting<'_>, unit: &BusinessUnit) -> Result<(), Refusal> {
    let allowed = acting.is_manager()
        || (acting.manages_unit(&unit.id)
            && acting.state.settings.allow_unit_manager_email_override);
    if allowed {
        return Ok(());
    }
    Err(Refusal::new(
        Code::Forbidden,
        if acting.manages_unit(&unit.id) {
            "Managers have not allowed Unit Managers to override the Email Contact; ask a Manager"
        } else {
            "only Managers and the unit's Unit Managers set its Email Contact"
        },
    ))
}

/// `PUT /api/v1/business-units/{id}/email-contact` (R10.2): Managers, or the
/// unit's Unit Managers while the override is allowed. `None` clears it.
/// Action `unit.email_contact.update`.
pub fn set_unit_email_contact(
    tx: &mut Tx<'_>,
    unit_id: &str,
    contact: Option<EmailContact>,
) -> Result<BusinessUnit, Refusal> {
    let (unit, details) = {
        let acting = Acting::from_tx(tx)?;
        let unit = super::units::visible_unit(&acting, unit_id)?;
        may_set_unit_email_contact(&acting, unit)?;
        let contact = contact.as_ref().map(check_contact).transpose()?;
        let mut c = Vec::new();
        change(&mut c, "email_contact", &unit.email_contact, &contact);
        let mut unit = unit.clone();
        unit.email_contact = contact;
        (unit, details(&c))
    };
    tx.put_unit(unit.clone());
    tx.log(
        LogAction::UnitEmailContactUpdate,
        super::units::target(&unit),
        details,
    );
    Ok(unit)
}

/// R10.2: who notifications other than registration and lock name for
/// `user`: its unit's own Email Contact while the override is allowed, else
/// the subscription's, else the subscription's primary contact.
pub fn notification_contact_for(state: &State, user: &User) -> Option<EmailContact> {
    let unit_own = user
        .business_unit
        .as_ref()
        .and_then(|u| state.units.get(u))
        .and_then(|u| u.email_contact.clone())
        .filter(|_| state.settings.allow_unit_manager_email_override);
    unit_own
        .or_else(|| state.settings.email_contact.clone())
        .or_else(|| {
            state
                .subscription
                .as_ref()
                .and_then(|s| s.primary_contact.as_ref())
                .and_then(|id| state.users.get(id))
                .map(|u| EmailContact {
                    name: name_of(u),
                    email: u.email.clone(),
                })
        })
}

/// A primary contact as account info shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactPerson {
    /// The contact as the log names a user: `First Last (login)`, or the
    /// login alone.
    pub name: String,
    /// Where to write to the contact.
    pub email: String,
}

/// `GET /api/v1/account-info` (R10.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountInfo {
    /// The subscription's name.
    pub subscription: String,
    /// The subscription's service type (R1.2).
    pub service_type: ServiceType,
    /// The subscription's modules (R1.3).
    pub modules: Vec<Module>,
    /// The user's own role (R2).
    pub role: Role,
    /// The primary contact of the user's unit, or the subscription's (R4.5).
    pub primary_contact: Option<ContactPerson>,
    /// Scanner appliances the user may use (R6.4 reach), by name.
    pub appliances: Vec<ApplianceRef>,
    /// The user's extended permissions (R5).
    pub permissions: Vec<Permission>,
    /// The user's own scans and maps from the registry (R9).
    pub work: WorkSummary,
    /// Which kinds of notification the user wants (R12.1).
    pub notification_options: Vec<super::notification_options::NotificationOption>,
}

/// An appliance as account info names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApplianceRef {
    /// The appliance's id.
    pub id: Id,
    /// The appliance's name.
    pub name: String,
    /// Physical, virtual or offline (R6.1).
    pub kind: ApplianceKind,
}

/// "A summary of recent and scheduled maps and scans": how many of each the
/// user owns, and the latest few.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkSummary {
    /// Scan results the user owns.
    pub scan_results: usize,
    /// Map results the user owns.
    pub map_results: usize,
    /// Scheduled scans the user owns.
    pub scheduled_scans: usize,
    /// Newest first (by last change), at most [`RECENT_WORK`].
    pub recent: Vec<WorkItem>,
}

/// One of the user's latest scans or maps (R10.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkItem {
    /// The object's id in the registry (R9).
    pub id: Id,
    /// A scan result, map result or scheduled scan.
    pub kind: ObjectKind,
    /// The object's name.
    pub name: String,
    /// Its last change, which orders the list.
    pub updated_at: Timestamp,
    /// Schedules only: refused at launch since the owner was deactivated.
    pub deactivated: bool,
}

/// How many of the user's scans and maps account info lists.
pub const RECENT_WORK: usize = 5;

fn work_of(state: &State, user: &Id) -> WorkSummary {
    let mut w = WorkSummary::default();
    let mut mine: Vec<&OwnedObject> = Vec::new();
    for o in state.objects.values() {
        if o.owner.as_ref() != Some(user) {
            continue;
        }
        match o.kind {
            ObjectKind::ScanResult => w.scan_results += 1,
            ObjectKind::MapResult => w.map_results += 1,
            ObjectKind::ScheduledScan => w.scheduled_scans += 1,
            _ => continue,
        }
        mine.push(o);
    }
    mine.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
    w.recent = mine
        .into_iter()
        .take(RECENT_WORK)
        .map(|o| WorkItem {
            id: o.id.clone(),
            kind: o.kind,
            name: o.name.clone(),
            updated_at: o.updated_at,
            deactivated: o.deactivated,
        })
        .collect();
    w
}

/// R10.3: every user sees its account info.
pub fn account_info(acting: &Acting<'_>) -> AccountInfo {
    let sub = acting.subscription;
    AccountInfo {
        subscription: sub.name.clone(),
        service_type: sub.service_type,
        modules: sub.modules.iter().copied().collect(),
        role: acting.role(),
        primary_contact: contacts::contact_for(acting.state, acting.user).map(|u| ContactPerson {
            name: name_of(u),
            email: u.email.clone(),
        }),
        appliances: {
            let reach = super::reach::reach_of(acting.state, acting.user);
            let mut a: Vec<ApplianceRef> = reach
                .scanner_appliances
                .iter()
                .filter_map(|id| acting.state.appliances.get(id))
                .map(|a| ApplianceRef {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    kind: a.kind,
                })
                .collect();
            a.sort_by(|x, y| x.name.cmp(&y.name).then(x.id.cmp(&y.id)));
            a
        },
        permissions: acting.user.permissions.iter().copied().collect(),
        work: work_of(acting.state, acting.id()),
        notification_options: super::notification_options::options_of(acting.user),
    }
}
