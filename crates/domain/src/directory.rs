//! The user directory: what a viewer sees of users, one at a time or as a
//! filtered, paged list (docs/api.md Users; R4.1 labels; R10.1 visibility).
//!
//! The one thing to know: everything here goes through
//! [`Acting::sight_of`], and filters only ever match what the viewer sees,
//! so a hidden user leaks through no list, filter, count or lookup, and a
//! restricted one cannot be found by its hidden email.

use std::collections::BTreeSet;
use std::ops::Bound;

use serde::Serialize;

use super::access::{Acting, Sight};
use super::contacts::{self, PocLabel};
use super::{
    Access, Code, Id, Permission, Refusal, Role, Timestamp, User, UserStatus, permissions,
};

fn refuse(code: Code, m: impl Into<String>) -> Refusal {
    Refusal::new(code, m)
}

/// A user as a viewer may see it (docs/api.md user fields, R10.1). Hidden fields
/// are `None` and `restricted` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// The user's id; also the list's cursor.
    pub id: Id,
    /// Shown to whoever sees the user, restricted or not (R10.1).
    pub login: String,
    /// `None` when restricted (R10.1).
    pub email: Option<String>,
    /// Shown even when restricted (R10.1).
    pub first_name: String,
    /// Shown even when restricted (R10.1).
    pub last_name: String,
    /// The user's role (R2).
    pub role: Role,
    /// `None` is "Unassigned" (R3.1).
    pub business_unit: Option<Id>,
    /// Pending, active or deactivated (R7.1, R7.3).
    pub status: UserStatus,
    /// A lock (R8.2, R8.7) an administrator clears: from either counter of
    /// failed logins, or of wrong secret answers.
    pub locked: bool,
    /// `None` when restricted (R10.1).
    pub asset_groups: Option<Vec<Id>>,
    /// Effective permissions: every applicable one for Managers (R5.1).
    pub permissions: BTreeSet<Permission>,
    /// Console and API, or API only (R8.1).
    pub access: Access,
    /// `None` when restricted (R10.1) or never set (R5.3).
    pub external_id: Option<String>,
    /// R8.6: the password of this API-only account never expires.
    pub password_never_expires: bool,
    /// `POC` or `POC_BU` when the user is a primary contact (R4.1).
    pub primary_contact: Option<PocLabel>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// The last successful sign-in; `None` before the first.
    pub last_login_at: Option<Timestamp>,
    /// Contact details and asset groups are withheld (R10.1).
    pub restricted: bool,
}

/// What `acting` may see of `user`, or `None` if it may not see it at all.
pub fn view(acting: &Acting<'_>, user: &User) -> Option<UserView> {
    let full = match acting.sight_of(user) {
        Sight::Hidden => return None,
        Sight::Restricted => false,
        Sight::Full => true,
    };
    let state = acting.state;
    Some(UserView {
        id: user.id.clone(),
        login: user.login.clone(),
        email: full.then(|| user.email.clone()),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        role: user.role,
        business_unit: user.business_unit.clone(),
        status: user.status,
        locked: state
            .credentials
            .get(&user.id)
            .is_some_and(super::credentials::is_locked),
        asset_groups: full.then(|| user.asset_groups.clone()),
        permissions: permissions::effective(state, user),
        access: user.access,
        external_id: user.external_id.clone().filter(|_| full),
        password_never_expires: super::credentials::password_never_expires(state, user),
        primary_contact: contacts::label(state, user),
        created_at: user.created_at,
        last_login_at: user.last_login_at,
        restricted: !full,
    })
}

/// `GET /api/v1/users/{id}`: `not_found` for a user the actor may not see.
pub fn get_user(acting: &Acting<'_>, id: &str) -> Result<UserView, Refusal> {
    let user = acting.visible_user(id)?;
    view(acting, user).ok_or_else(|| refuse(Code::NotFound, format!("no user {id}")))
}

/// `business_unit=` of the user list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitFilter {
    /// Users of no unit.
    Unassigned,
    /// Users of this unit.
    Unit(Id),
}

/// The filters of `GET /api/v1/users`.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only users of this unit, or only Unassigned ones.
    pub business_unit: Option<UnitFilter>,
    /// Only users of this role.
    pub role: Option<Role>,
    /// Only users of this status, or only locked ones.
    pub status: Option<StatusFilter>,
    /// Case-insensitive substring of login, names, or (when visible) email.
    pub q: Option<String>,
}

/// `status=` of the user list: a status, or `locked` for the users a lock
/// keeps out (R8.2), whatever their status but deactivated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    /// Users of this status.
    Is(UserStatus),
    /// Users a lock keeps out (R8.2, R8.7), unless deactivated.
    Locked,
}

impl StatusFilter {
    /// Every filter: what `parse` accepts, in the order the console offers
    /// them.
    pub const ALL: [StatusFilter; 4] = [
        StatusFilter::Is(UserStatus::PendingActivation),
        StatusFilter::Is(UserStatus::Active),
        StatusFilter::Is(UserStatus::Deactivated),
        StatusFilter::Locked,
    ];

    /// The API's spelling: a status's, or `locked`.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::Is(s) => s.as_str(),
            StatusFilter::Locked => "locked",
        }
    }

    /// What a person sees.
    pub fn title(self) -> &'static str {
        match self {
            StatusFilter::Is(s) => s.title(),
            StatusFilter::Locked => "Locked",
        }
    }

    /// Parses `status=`; a `validation` refusal names the choices.
    pub fn parse(s: &str) -> Result<StatusFilter, Refusal> {
        StatusFilter::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| {
                refuse(
                    Code::Validation,
                    format!(
                        "status: give pending_activation, active, deactivated or locked, not {s:?}"
                    ),
                )
            })
    }

    fn admits(self, v: &UserView) -> bool {
        match self {
            StatusFilter::Is(s) => v.status == s,
            StatusFilter::Locked => v.locked && v.status != UserStatus::Deactivated,
        }
    }
}

/// One page of a list (docs/api.md: `{"items", "next_cursor"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// At most the page's limit, oldest first.
    pub items: Vec<T>,
    /// The last id on this page, to ask for the next; `None` on the last
    /// page.
    pub next_cursor: Option<String>,
}

/// The page size when a list names none.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page a list may ask for; more is `validation`.
pub const MAX_LIMIT: usize = 1000;

/// Checks a list's `limit` (docs/api.md: default 100, at most 1000).
pub fn page_limit(limit: Option<usize>) -> Result<usize, Refusal> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(refuse(
            Code::Validation,
            format!("limit: give 1 to {MAX_LIMIT}"),
        )),
    }
}

/// `GET /api/v1/users`: the users the actor may see (R10.1), filtered,
/// oldest first, after `cursor` (the last id of the previous page). Filters
/// only ever match what the actor sees, so they leak nothing.
pub fn list_users(
    acting: &Acting<'_>,
    filter: &UserFilter,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<Page<UserView>, Refusal> {
    if !acting.may_list_users() {
        return Err(refuse(
            Code::Forbidden,
            "your role does not list users; you may view your own account",
        ));
    }
    let limit = page_limit(limit)?;
    let q = filter.q.as_ref().map(|q| q.to_lowercase());
    let start = match cursor {
        Some(c) => Bound::Excluded(c.to_owned()),
        None => Bound::Unbounded,
    };
    let mut items = Vec::new();
    let mut more = false;
    for user in acting
        .state
        .users
        .range((start, Bound::Unbounded))
        .map(|(_, u)| u)
    {
        let Some(v) = view(acting, user) else {
            continue;
        };
        if !matches(&v, filter, q.as_deref()) {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(v);
    }
    let next_cursor = if more {
        items.last().map(|v: &UserView| v.id.clone())
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

fn matches(v: &UserView, f: &UserFilter, q: Option<&str>) -> bool {
    let unit_ok = match &f.business_unit {
        None => true,
        Some(UnitFilter::Unassigned) => v.business_unit.is_none(),
        Some(UnitFilter::Unit(id)) => v.business_unit.as_ref() == Some(id),
    };
    let q_ok = q.is_none_or(|q| {
        [
            Some(&v.login),
            Some(&v.first_name),
            Some(&v.last_name),
            v.email.as_ref(),
        ]
        .into_iter()
        .flatten()
        .any(|s| s.to_lowercase().contains(q))
    });
    unit_ok && f.role.is_none_or(|r| r == v.role) && f.status.is_none_or(|s| s.admits(v)) && q_ok
}
