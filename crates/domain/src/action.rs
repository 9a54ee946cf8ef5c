//! The actions bailiwick writes to the activity log (R11.1), one variant
//! each, so a name is spelt once and a search by action can list them.
//! Other services' actions (`scanner.*`, R11.1 via `services::record`) are
//! theirs to name and are checked there instead.

/// What an activity entry says was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogAction {
    /// `login`
    Login,
    /// `login.failed`
    LoginFailed,
    /// `login.rate_limited`
    LoginRateLimited,
    /// `logout`
    Logout,
    /// `user.lock`
    UserLock,
    /// `user.unlock`
    UserUnlock,
    /// `user.activate`
    UserActivate,
    /// `user.activation`
    UserActivation,
    /// `user.activation_link`
    UserActivationLink,
    /// `user.create`
    UserCreate,
    /// `user.update`
    UserUpdate,
    /// `permissions.update`
    PermissionsUpdate,
    /// `user.deactivate`
    UserDeactivate,
    /// `user.reactivate`
    UserReactivate,
    /// `user.delete`
    UserDelete,
    /// `user.move`
    UserMove,
    /// `user.password_reset`
    UserPasswordReset,
    /// `user.password_change`
    UserPasswordChange,
    /// `user.password_self_reset`
    UserPasswordSelfReset,
    /// `user.secret_questions`
    UserSecretQuestions,
    /// `user.notification_options`
    UserNotificationOptions,
    /// `password_reset.failed`
    PasswordResetFailed,
    /// `session.revoke`
    SessionRevoke,
    /// `session.expire`
    SessionExpire,
    /// `primary_contact.set`
    PrimaryContactSet,
    /// `unit.create`
    UnitCreate,
    /// `unit.update`
    UnitUpdate,
    /// `unit.delete`
    UnitDelete,
    /// `unit.assets`
    UnitAssets,
    /// `unit.email_contact.update`
    UnitEmailContactUpdate,
    /// `subscription.initialise`
    SubscriptionInitialise,
    /// `subscription.update`
    SubscriptionUpdate,
    /// `subscription.feature`
    SubscriptionFeature,
    /// `settings.security.update`
    SettingsSecurityUpdate,
    /// `settings.visibility.update`
    SettingsVisibilityUpdate,
    /// `settings.business_units.update`
    SettingsBusinessUnitsUpdate,
    /// `settings.email_contact.update`
    SettingsEmailContactUpdate,
    /// `service.add`
    ServiceAdd,
    /// `service.rotate`
    ServiceRotate,
    /// `service.remove`
    ServiceRemove,
    /// `notification.send`
    NotificationSend,
    /// `object.create`
    ObjectCreate,
    /// `object.update`
    ObjectUpdate,
    /// `object.delete`
    ObjectDelete,
    /// `object.move`
    ObjectMove,
    /// `object.deactivate`
    ObjectDeactivate,
    /// `schedule.launch`
    ScheduleLaunch,
    /// `ticket.revalidate`
    TicketRevalidate,
    /// `ticket.invalidate`
    TicketInvalidate,
    /// `assets.add`
    AssetsAdd,
    /// `assets.remove`
    AssetsRemove,
    /// `appliance.create`
    ApplianceCreate,
    /// `appliance.update`
    ApplianceUpdate,
    /// `appliance.delete`
    ApplianceDelete,
    /// `asset_group.create`
    AssetGroupCreate,
    /// `asset_group.update`
    AssetGroupUpdate,
    /// `asset_group.delete`
    AssetGroupDelete,
    /// `asset_group.copy`
    AssetGroupCopy,
    /// `asset_group.move`
    AssetGroupMove,
    /// `asset_group.link`
    AssetGroupLink,
    /// `distribution_group.create`
    DistributionGroupCreate,
    /// `distribution_group.update`
    DistributionGroupUpdate,
    /// `distribution_group.delete`
    DistributionGroupDelete,
    /// `mail.retry`
    MailRetry,
    /// `mail.failed`
    MailFailed,
    /// `mail.discarded`
    MailDiscarded,
}

impl LogAction {
    /// Every action, for the R11.1 test that each has a name of its own.
    #[cfg(test)]
    const ALL: [LogAction; 66] = [
        LogAction::Login,
        LogAction::LoginFailed,
        LogAction::LoginRateLimited,
        LogAction::Logout,
        LogAction::UserLock,
        LogAction::UserUnlock,
        LogAction::UserActivate,
        LogAction::UserActivation,
        LogAction::UserActivationLink,
        LogAction::UserCreate,
        LogAction::UserUpdate,
        LogAction::PermissionsUpdate,
        LogAction::UserDeactivate,
        LogAction::UserReactivate,
        LogAction::UserDelete,
        LogAction::UserMove,
        LogAction::UserPasswordReset,
        LogAction::UserPasswordChange,
        LogAction::UserPasswordSelfReset,
        LogAction::UserSecretQuestions,
        LogAction::UserNotificationOptions,
        LogAction::PasswordResetFailed,
        LogAction::SessionRevoke,
        LogAction::SessionExpire,
        LogAction::PrimaryContactSet,
        LogAction::UnitCreate,
        LogAction::UnitUpdate,
        LogAction::UnitDelete,
        LogAction::UnitAssets,
        LogAction::UnitEmailContactUpdate,
        LogAction::SubscriptionInitialise,
        LogAction::SubscriptionUpdate,
        LogAction::SubscriptionFeature,
        LogAction::SettingsSecurityUpdate,
        LogAction::SettingsVisibilityUpdate,
        LogAction::SettingsBusinessUnitsUpdate,
        LogAction::SettingsEmailContactUpdate,
        LogAction::ServiceAdd,
        LogAction::ServiceRotate,
        LogAction::ServiceRemove,
        LogAction::NotificationSend,
        LogAction::ObjectCreate,
        LogAction::ObjectUpdate,
        LogAction::ObjectDelete,
        LogAction::ObjectMove,
        LogAction::ObjectDeactivate,
        LogAction::ScheduleLaunch,
        LogAction::TicketRevalidate,
        LogAction::TicketInvalidate,
        LogAction::AssetsAdd,
        LogAction::AssetsRemove,
        LogAction::ApplianceCreate,
        LogAction::ApplianceUpdate,
        LogAction::ApplianceDelete,
        LogAction::AssetGroupCreate,
        LogAction::AssetGroupUpdate,
        LogAction::AssetGroupDelete,
        LogAction::AssetGroupCopy,
        LogAction::AssetGroupMove,
        LogAction::AssetGroupLink,
        LogAction::DistributionGroupCreate,
        LogAction::DistributionGroupUpdate,
        LogAction::DistributionGroupDelete,
        LogAction::MailRetry,
        LogAction::MailFailed,
        LogAction::MailDiscarded,
    ];

    /// The name stored in the log and searched by `action=`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogAction::Login => "login",
            LogAction::LoginFailed => "login.failed",
            LogAction::LoginRateLimited => "login.rate_limited",
            LogAction::Logout => "logout",
            LogAction::UserLock => "user.lock",
            LogAction::UserUnlock => "user.unlock",
            LogAction::UserActivate => "user.activate",
            LogAction::UserActivation => "user.activation",
            LogAction::UserActivationLink => "user.activation_link",
            LogAction::UserCreate => "user.create",
            LogAction::UserUpdate => "user.update",
            LogAction::PermissionsUpdate => "permissions.update",
            LogAction::UserDeactivate => "user.deactivate",
            LogAction::UserReactivate => "user.reactivate",
            LogAction::UserDelete => "user.delete",
            LogAction::UserMove => "user.move",
            LogAction::UserPasswordReset => "user.password_reset",
            LogAction::UserPasswordChange => "user.password_change",
            LogAction::UserPasswordSelfReset => "user.password_self_reset",
            LogAction::UserSecretQuestions => "user.secret_questions",
            LogAction::UserNotificationOptions => "user.notification_options",
            LogAction::PasswordResetFailed => "password_reset.failed",
            LogAction::SessionRevoke => "session.revoke",
            LogAction::SessionExpire => "session.expire",
            LogAction::PrimaryContactSet => "primary_contact.set",
            LogAction::UnitCreate => "unit.create",
            LogAction::UnitUpdate => "unit.update",
            LogAction::UnitDelete => "unit.delete",
            LogAction::UnitAssets => "unit.assets",
            LogAction::UnitEmailContactUpdate => "unit.email_contact.update",
            LogAction::SubscriptionInitialise => "subscription.initialise",
            LogAction::SubscriptionUpdate => "subscription.update",
            LogAction::SubscriptionFeature => "subscription.feature",
            LogAction::SettingsSecurityUpdate => "settings.security.update",
            LogAction::SettingsVisibilityUpdate => "settings.visibility.update",
            LogAction::SettingsBusinessUnitsUpdate => "settings.business_units.update",
            LogAction::SettingsEmailContactUpdate => "settings.email_contact.update",
            LogAction::ServiceAdd => "service.add",
            LogAction::ServiceRotate => "service.rotate",
            LogAction::ServiceRemove => "service.remove",
            LogAction::NotificationSend => "notification.send",
            LogAction::ObjectCreate => "object.create",
            LogAction::ObjectUpdate => "object.update",
            LogAction::ObjectDelete => "object.delete",
            LogAction::ObjectMove => "object.move",
            LogAction::ObjectDeactivate => "object.deactivate",
            LogAction::ScheduleLaunch => "schedule.launch",
            LogAction::TicketRevalidate => "ticket.revalidate",
            LogAction::TicketInvalidate => "ticket.invalidate",
            LogAction::AssetsAdd => "assets.add",
            LogAction::AssetsRemove => "assets.remove",
            LogAction::ApplianceCreate => "appliance.create",
            LogAction::ApplianceUpdate => "appliance.update",
            LogAction::ApplianceDelete => "appliance.delete",
            LogAction::AssetGroupCreate => "asset_group.create",
            LogAction::AssetGroupUpdate => "asset_group.update",
            LogAction::AssetGroupDelete => "asset_group.delete",
            LogAction::AssetGroupCopy => "asset_group.copy",
            LogAction::AssetGroupMove => "asset_group.move",
            LogAction::AssetGroupLink => "asset_group.link",
            LogAction::DistributionGroupCreate => "distribution_group.create",
            LogAction::DistributionGroupUpdate => "distribution_group.update",
            LogAction::DistributionGroupDelete => "distribution_group.delete",
            LogAction::MailRetry => "mail.retry",
            LogAction::MailFailed => "mail.failed",
            LogAction::MailDiscarded => "mail.discarded",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are unique, and none sits in a namespace other services use
    /// (`services::record`), so a reported entry never passes for ours.
    #[test]
    fn r11_1_each_action_has_its_own_name_outside_the_services_namespaces() {
        let mut seen = std::collections::BTreeSet::new();
        for a in LogAction::ALL {
            assert!(seen.insert(a.as_str()), "{a:?} repeats a name");
            let ns = a.as_str().split('.').next().unwrap();
            assert!(
                !crate::services::ACTIVITY_NAMESPACES.contains(&ns),
                "{a:?} is in a services' namespace"
            );
        }
    }
}
