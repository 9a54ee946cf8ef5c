//! What the API shows of stored records: the JSON shapes of docs/api.md.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Session, State, User, contacts, credentials, directory, permissions};

/// A user as docs/api.md lists its fields, as the caller may see it (R10.1).
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub login: String,
    /// `null` when the caller may not see it (R10.1).
    pub email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    #[schema(example = "scanner")]
    pub role: String,
    /// `null` is the implicit "Unassigned" unit.
    pub business_unit: Option<String>,
    #[schema(example = "active")]
    pub status: String,
    pub locked: bool,
    /// `null` when the caller may not see them (R10.1).
    pub asset_groups: Option<Vec<String>>,
    /// Effective permissions: every applicable one for Managers (R5.1).
    pub permissions: Vec<String>,
    #[schema(example = "ui_and_api")]
    pub access: String,
    pub external_id: Option<String>,
    /// R8.6: this API-only account's password never expires, until it changes.
    pub password_never_expires: bool,
    /// `POC` (subscription), `POC_BU` (its unit) or `null` (R4.1).
    pub primary_contact: Option<String>,
    pub created_at: String,
    pub last_login_at: Option<String>,
    /// Contact details and asset groups are withheld from this caller (R10.1).
    pub restricted: bool,
}

pub(crate) fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl UserView {
    /// The whole record, as its owner sees it.
    pub fn new(state: &State, user: &User) -> UserView {
        UserView::from(directory::UserView {
            id: user.id.clone(),
            login: user.login.clone(),
            email: Some(user.email.clone()),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            role: user.role,
            business_unit: user.business_unit.clone(),
            status: user.status,
            locked: state.credentials.get(&user.id).is_some_and(|c| c.locked),
            asset_groups: Some(user.asset_groups.clone()),
            permissions: permissions::effective(state, user),
            access: user.access,
            external_id: user.external_id.clone(),
            password_never_expires: credentials::password_never_expires(state, user),
            primary_contact: contacts::label(state, user),
            created_at: user.created_at,
            last_login_at: user.last_login_at,
            restricted: false,
        })
    }
}

impl From<directory::UserView> for UserView {
    fn from(v: directory::UserView) -> UserView {
        UserView {
            id: v.id,
            login: v.login,
            email: v.email,
            first_name: v.first_name,
            last_name: v.last_name,
            role: v.role.as_str().to_owned(),
            business_unit: v.business_unit,
            status: v.status.as_str().to_owned(),
            locked: v.locked,
            asset_groups: v.asset_groups,
            permissions: v
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            access: snake(&v.access),
            external_id: v.external_id,
            password_never_expires: v.password_never_expires,
            primary_contact: v.primary_contact.map(|l| l.as_str().to_owned()),
            created_at: v.created_at.to_rfc3339(),
            last_login_at: v.last_login_at.map(|t| t.to_rfc3339()),
            restricted: v.restricted,
        }
    }
}

/// A session as its owner (or a Manager) sees it (R8.8).
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
    pub ip: Option<String>,
    pub user_agent: String,
    /// The session this request came with.
    pub current: bool,
}

impl SessionView {
    pub fn new(
        s: &Session,
        last_used: Option<crate::domain::Timestamp>,
        current: bool,
    ) -> SessionView {
        SessionView {
            id: s.id.clone(),
            created_at: s.created_at.to_rfc3339(),
            last_used_at: last_used.unwrap_or(s.last_used_at).to_rfc3339(),
            expires_at: s.expires_at.to_rfc3339(),
            ip: s.ip.map(|i| i.to_string()),
            user_agent: s.user_agent.clone(),
            current,
        }
    }
}

/// `{"items": [...], "next_cursor": ...}` (docs/api.md lists).
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
