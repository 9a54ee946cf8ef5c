//! What the API shows of stored records: the JSON shapes of API.md.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Role, Session, State, User};

/// A user as API.md lists its fields.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    #[schema(example = "scanner")]
    pub role: String,
    /// `null` is the implicit "Unassigned" unit.
    pub business_unit: Option<String>,
    #[schema(example = "active")]
    pub status: String,
    pub locked: bool,
    pub asset_groups: Vec<String>,
    pub permissions: Vec<String>,
    #[schema(example = "ui_and_api")]
    pub access: String,
    pub external_id: Option<String>,
    /// `POC` (subscription), `POC_BU` (its unit) or `null` (R4.1).
    pub primary_contact: Option<String>,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

fn snake<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The `POC`/`POC_BU` label of a user (R4.1).
pub fn primary_contact_label(state: &State, user: &User) -> Option<&'static str> {
    let sub_poc = state
        .subscription
        .as_ref()
        .and_then(|s| s.primary_contact.as_ref());
    if sub_poc == Some(&user.id) {
        return Some("POC");
    }
    let unit_poc = user
        .business_unit
        .as_ref()
        .and_then(|u| state.units.get(u))
        .and_then(|u| u.primary_contact.as_ref());
    (unit_poc == Some(&user.id)).then_some("POC_BU")
}

impl UserView {
    pub fn new(state: &State, user: &User) -> UserView {
        // Managers hold every permission implicitly (R5.1).
        let permissions = if user.role == Role::Manager {
            crate::domain::Permission::ALL
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect()
        } else {
            user.permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect()
        };
        UserView {
            id: user.id.clone(),
            login: user.login.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            role: user.role.as_str().to_owned(),
            business_unit: user.business_unit.clone(),
            status: snake(&user.status),
            locked: state.credentials.get(&user.id).is_some_and(|c| c.locked),
            asset_groups: user.asset_groups.clone(),
            permissions,
            access: snake(&user.access),
            external_id: user.external_id.clone(),
            primary_contact: primary_contact_label(state, user).map(str::to_owned),
            created_at: user.created_at.to_rfc3339(),
            last_login_at: user.last_login_at.map(|t| t.to_rfc3339()),
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

/// `{"items": [...], "next_cursor": ...}` (API.md lists).
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
