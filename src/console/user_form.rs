//! A user's form (UI.md: `/ui/users/new` and `/ui/users/{id}`): the fields
//! of `POST` and `PATCH /api/v1/users`, translated into the same
//! `NewUser` and `UserPatch` and run through the same `http::users`
//! commands. What the form offers is only a convenience: every choice is
//! decided again by the domain, and its refusal is shown beside the field.

use std::collections::BTreeSet;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::pages::{Chrome, FieldError, Fields, api_error};
use super::session::Viewer;
use super::users::{Choice, name_of, status_title};
use crate::domain::access::Acting;
use crate::domain::directory::UserView;
use crate::domain::users::{NewUser, UserPatch};
use crate::domain::{Access, Permission, Role, groups, permissions, roles};
use crate::http::App;
use crate::http::problem::ApiError;
use crate::http::users::StatusChange;

/// The input names of the form, which are the API's field names.
const FIELDS: [&str; 11] = [
    "login",
    "email",
    "first_name",
    "last_name",
    "role",
    "business_unit",
    "access",
    "external_id",
    "asset_groups",
    "permissions",
    "password_never_expires",
];

/// The form as typed, so a refused form is shown again as it was.
#[derive(Default)]
pub struct UserForm {
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub role: String,
    /// "" for Unassigned.
    pub business_unit: String,
    pub access: String,
    /// `None` when the form has no such field (external IDs off).
    pub external_id: Option<String>,
    pub asset_groups: BTreeSet<String>,
    pub permissions: BTreeSet<String>,
    /// R8.6, `None` when the form has no such box (not a Manager's page
    /// of an existing user, or the feature is off).
    pub password_never_expires: Option<bool>,
}

fn access_str(a: Access) -> &'static str {
    match a {
        Access::UiAndApi => "ui_and_api",
        Access::ApiOnly => "api_only",
    }
}

fn invalid(field: &str, what: &str) -> ApiError {
    ApiError::validation(format!("{field}: {what}"))
}

fn parse_role(s: &str) -> Result<Role, ApiError> {
    Role::ALL
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| invalid("role", "choose a role"))
}

fn parse_access(s: &str) -> Result<Access, ApiError> {
    [Access::UiAndApi, Access::ApiOnly]
        .into_iter()
        .find(|a| access_str(*a) == s)
        .ok_or_else(|| invalid("access", "choose UI and API, or API only"))
}

fn parse_permissions(names: &BTreeSet<String>) -> Result<BTreeSet<Permission>, ApiError> {
    names
        .iter()
        .map(|n| {
            Permission::ALL
                .into_iter()
                .find(|p| p.as_str() == n)
                .ok_or_else(|| invalid("permissions", "choose from the list"))
        })
        .collect()
}

impl UserForm {
    fn from_fields(f: &Fields) -> UserForm {
        UserForm {
            login: f.one("login").trim().to_owned(),
            email: f.one("email").trim().to_owned(),
            first_name: f.one("first_name"),
            last_name: f.one("last_name"),
            role: f.one("role"),
            business_unit: f.one("business_unit"),
            access: f.one("access"),
            external_id: f.has("external_id").then(|| f.one("external_id")),
            asset_groups: f.all("asset_groups").into_iter().collect(),
            permissions: f.all("permissions").into_iter().collect(),
            // An unticked box sends nothing: a hidden input says it was there.
            password_never_expires: f
                .has("password_never_expires_shown")
                .then(|| f.has("password_never_expires")),
        }
    }

    fn of(v: &UserView, external_ids: bool, never_expires_box: bool) -> UserForm {
        UserForm {
            login: v.login.clone(),
            email: v.email.clone().unwrap_or_default(),
            first_name: v.first_name.clone(),
            last_name: v.last_name.clone(),
            role: v.role.as_str().to_owned(),
            business_unit: v.business_unit.clone().unwrap_or_default(),
            access: access_str(v.access).to_owned(),
            external_id: external_ids.then(|| v.external_id.clone().unwrap_or_default()),
            asset_groups: v.asset_groups.iter().flatten().cloned().collect(),
            permissions: v
                .permissions
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            password_never_expires: never_expires_box.then_some(v.password_never_expires),
        }
    }

    fn unit(&self) -> Option<String> {
        Some(self.business_unit.clone()).filter(|u| !u.is_empty())
    }

    fn external_id(&self) -> Option<Option<String>> {
        self.external_id
            .as_ref()
            .map(|x| Some(x.trim().to_owned()).filter(|x| !x.is_empty()))
    }

    /// The same request `POST /api/v1/users` builds. Permissions are the
    /// role's defaults (R5): the form cannot know a role's list before the
    /// role is chosen; they are changed on the user's page.
    fn new_user(&self) -> Result<NewUser, ApiError> {
        Ok(NewUser {
            login: self.login.clone(),
            email: self.email.clone(),
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            role: parse_role(&self.role)?,
            business_unit: self.unit(),
            asset_groups: self.asset_groups.iter().cloned().collect(),
            permissions: None,
            access: parse_access(&self.access)?,
            external_id: self.external_id().flatten(),
        })
    }

    /// The same request `PATCH /api/v1/users/{id}` builds, with the fields
    /// the form shows. The permission boxes are those of the role the page
    /// showed: when the role changes they are left to the domain, which
    /// carries over what the new role may hold (R5.2).
    ///
    /// `offered` are the asset groups and permissions the form listed:
    /// what the user holds and the form did not list is kept, not dropped.
    fn patch(&self, before: &UserView, offered: &Offered) -> Result<UserPatch, ApiError> {
        let held: BTreeSet<String> = before.asset_groups.iter().flatten().cloned().collect();
        let groups = ticked(&held, &offered.groups, &self.asset_groups);
        let role = parse_role(&self.role)?;
        let had: BTreeSet<String> = before
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        let permissions = if role == before.role && role != Role::Manager {
            let wanted = ticked(&had, &offered.permissions, &self.permissions);
            (wanted != had)
                .then(|| parse_permissions(&wanted))
                .transpose()?
        } else {
            None
        };
        // Only what changed: a user made without names (the first Manager)
        // keeps them empty until someone types them.
        let changed = |new: &str, old: Option<&str>| (Some(new) != old).then(|| new.to_owned());
        Ok(UserPatch {
            first_name: changed(&self.first_name, Some(&before.first_name)),
            last_name: changed(&self.last_name, Some(&before.last_name)),
            email: changed(&self.email, before.email.as_deref()),
            role: Some(role),
            business_unit: Some(self.unit()),
            asset_groups: (groups != held).then(|| groups.into_iter().collect()),
            permissions,
            access: Some(parse_access(&self.access)?),
            external_id: self.external_id(),
            password_never_expires: self.password_never_expires,
        })
    }
}

/// What a user's form listed as boxes: the asset groups the editor sees and
/// the permissions the user's role may hold.
pub struct Offered {
    groups: BTreeSet<String>,
    permissions: BTreeSet<String>,
}

impl Offered {
    fn of(acting: &Acting<'_>, role: Role) -> Offered {
        Offered {
            groups: groups::list_groups(acting, None)
                .into_iter()
                .map(|g| g.id.clone())
                .collect(),
            permissions: permission_choices(acting, role, &UserForm::default())
                .into_iter()
                .flatten()
                .map(|c| c.value)
                .collect(),
        }
    }
}

/// What a list of boxes asks for: what `held` had outside the `offered`
/// boxes, and the `ticked` ones among them.
fn ticked(
    held: &BTreeSet<String>,
    offered: &BTreeSet<String>,
    ticked: &BTreeSet<String>,
) -> BTreeSet<String> {
    held.difference(offered)
        .chain(ticked.intersection(offered))
        .cloned()
        .collect()
}

/// What only an existing user's page has.
pub struct Existing {
    pub id: String,
    pub status: &'static str,
    pub status_class: &'static str,
    pub contact: Option<&'static str>,
    pub changes: Vec<StatusChange>,
    pub may_reset: bool,
    /// The activity of this user (Managers read the whole log, R11).
    pub activity: Option<String>,
    pub done: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "console/user_form.html")]
struct FormPage {
    chrome: Chrome,
    heading: String,
    action: String,
    csrf: String,
    form: UserForm,
    error: FieldError,
    roles: Vec<Choice>,
    units: Vec<Choice>,
    groups: Vec<Choice>,
    /// `None`: the role holds every permission (Managers) or the page is
    /// for a new user (the role's defaults).
    permissions: Option<Vec<Choice>>,
    existing: Option<Existing>,
}

/// One text input, as the template lays it out.
struct TextField<'a> {
    id: &'static str,
    label: &'static str,
    value: &'a str,
    kind: &'static str,
    readonly: bool,
    error: Option<&'a str>,
}

impl FormPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.error.about(field)
    }

    fn texts(&self) -> Vec<TextField<'_>> {
        let f = &self.form;
        let mut out = vec![
            // The login never changes (R7): shown, not edited.
            (
                "login",
                "Login",
                f.login.as_str(),
                "text",
                self.existing.is_some(),
            ),
            ("email", "Email", f.email.as_str(), "email", false),
            (
                "first_name",
                "First name",
                f.first_name.as_str(),
                "text",
                false,
            ),
            (
                "last_name",
                "Last name",
                f.last_name.as_str(),
                "text",
                false,
            ),
        ];
        if let Some(x) = &f.external_id {
            out.push(("external_id", "External ID", x.as_str(), "text", false));
        }
        out.into_iter()
            .map(|(id, label, value, kind, readonly)| TextField {
                id,
                label,
                value,
                kind,
                readonly,
                error: self.error_for(id),
            })
            .collect()
    }
}

/// The choices the form offers this person: roles, the units it sees and
/// the asset groups it sees.
fn choices(acting: &Acting<'_>, form: &UserForm) -> (Vec<Choice>, Vec<Choice>, Vec<Choice>) {
    let roles = Role::ALL
        .into_iter()
        .map(|r| Choice {
            value: r.as_str().into(),
            label: r.title().into(),
            selected: form.role == r.as_str(),
        })
        .collect();
    let units = super::users::unit_choices(acting, &form.business_unit);
    let groups = groups::list_groups(acting, None)
        .into_iter()
        .map(|g| Choice {
            selected: form.asset_groups.contains(&g.id),
            value: g.id.clone(),
            label: g.title.clone(),
        })
        .collect();
    (roles, units, groups)
}

/// The extended permissions a user of `role` may hold here (R5), as boxes.
fn permission_choices(acting: &Acting<'_>, role: Role, form: &UserForm) -> Option<Vec<Choice>> {
    (role != Role::Manager).then(|| {
        Permission::ALL
            .into_iter()
            .filter(|p| permissions::may_hold(acting.subscription, role, *p))
            .map(|p| Choice {
                selected: form.permissions.contains(p.as_str()),
                value: p.as_str().into(),
                label: p.as_str().into(),
            })
            .collect()
    })
}

fn external_ids_on(acting: &Acting<'_>) -> bool {
    acting.state.settings.security.external_ids_enabled
}

fn show_new(
    viewer: &Viewer,
    acting: &Acting<'_>,
    status: StatusCode,
    form: UserForm,
    error: FieldError,
) -> Response {
    let (roles, units, groups) = choices(acting, &form);
    let page = FormPage {
        chrome: viewer.chrome("New user"),
        heading: "New user".into(),
        action: "/ui/users/new".into(),
        csrf: viewer.csrf.clone(),
        form,
        error,
        roles,
        units,
        groups,
        permissions: None,
        existing: None,
    };
    super::render(status, &page)
}

/// `GET /ui/users/new`.
pub async fn new_page(State(app): State<App>, viewer: Viewer) -> Response {
    let state = app.store.snapshot();
    match Acting::of(&state, &viewer.user().id) {
        Ok(acting) if !acting.may_manage_users() => super::pages::refused(
            &viewer,
            StatusCode::FORBIDDEN,
            "Your role manages no users; ask a Manager or a Unit Manager.",
        ),
        Ok(acting) => {
            let form = UserForm {
                role: Role::Scanner.as_str().into(),
                access: access_str(Access::UiAndApi).into(),
                external_id: external_ids_on(&acting).then(String::new),
                business_unit: acting.unit().cloned().unwrap_or_default(),
                ..UserForm::default()
            };
            show_new(
                &viewer,
                &acting,
                StatusCode::OK,
                form,
                FieldError::default(),
            )
        }
        Err(e) => api_error(&viewer, e.into()),
    }
}

/// `POST /ui/users/new`: `POST /api/v1/users`, then the new user's page.
pub async fn create(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
    let fields = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&fields.one("csrf")) {
        return *refused;
    }
    let form = UserForm::from_fields(&fields);
    let created = match form.new_user() {
        Ok(new) => crate::http::users::create(&app, &viewer.caller, new).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(user) => Redirect::to(&format!("/ui/users/{}?done=created", user.id)).into_response(),
        Err(e) if shown_on_form(&e) => {
            let state = app.store.snapshot();
            match Acting::of(&state, &viewer.user().id) {
                Ok(acting) => {
                    show_new(&viewer, &acting, e.status, form, FieldError::of(e, &FIELDS))
                }
                Err(e) => api_error(&viewer, e.into()),
            }
        }
        Err(e) => api_error(&viewer, e),
    }
}

/// Whether a refusal is about what was typed (shown on the form), rather
/// than about the page (not allowed, not found, unavailable).
fn shown_on_form(e: &ApiError) -> bool {
    e.status.is_client_error() && e.status != StatusCode::NOT_FOUND
}

/// The status buttons shown to `acting` for `v`: Deactivate and Reactivate
/// are the Managers' (R7.3), Unlock is for whoever may reset the password
/// (R7.2, R8.2). Shown by the same predicates the commands check.
fn changes_for(acting: &Acting<'_>, v: &UserView) -> (Vec<StatusChange>, bool) {
    let Some(target) = acting.state.users.get(&v.id) else {
        return (Vec::new(), false);
    };
    let manager = acting.is_manager() && acting.id() != &v.id;
    let deactivated = v.status == crate::domain::UserStatus::Deactivated;
    let may_reset = crate::domain::credentials::may_reset(acting.state, acting.user, target);
    let mut out = Vec::new();
    if manager && !deactivated {
        out.push(StatusChange::Deactivate);
    }
    if manager && (deactivated || v.locked) {
        out.push(StatusChange::Reactivate);
    } else if v.locked && may_reset {
        // For a Manager, Reactivate already clears the lock: one button.
        out.push(StatusChange::Unlock);
    }
    (out, may_reset && !deactivated)
}

/// What a button did, said on the user's page.
fn done_message(done: &str) -> Option<&'static str> {
    match done {
        "created" => Some("Created: the user is sent an email with its activation link."),
        "saved" => Some("Saved."),
        "deactivate" => Some("Deactivated: the user's sessions have ended."),
        "reactivate" => Some("Reactivated: the user may sign in again."),
        "unlock" => Some("Unlocked: the user may sign in again."),
        "reset-password" => Some(
            "Password reset: the user is sent an email with a new one-time link, and its sessions have ended.",
        ),
        _ => None,
    }
}

/// Whether `acting` gets the form for `v` rather than the facts: another
/// user it manages (R2) and sees whole (R10.1).
pub fn edits(acting: &Acting<'_>, v: &UserView) -> bool {
    !v.restricted
        && acting.id() != &v.id
        && acting
            .state
            .users
            .get(&v.id)
            .is_some_and(|t| roles::may_manage(acting, t).is_ok())
}

/// The user's page as a form.
pub fn show_existing(
    viewer: &Viewer,
    acting: &Acting<'_>,
    v: &UserView,
    status: StatusCode,
    form: UserForm,
    error: FieldError,
    done: &str,
) -> Response {
    let (roles, units, groups) = choices(acting, &form);
    let (changes, may_reset) = changes_for(acting, v);
    let page = FormPage {
        chrome: viewer.chrome("User"),
        heading: name_of(v),
        action: format!("/ui/users/{}", v.id),
        csrf: viewer.csrf.clone(),
        permissions: permission_choices(acting, v.role, &form),
        form,
        error,
        roles,
        units,
        groups,
        existing: Some(Existing {
            id: v.id.clone(),
            status: status_title(v.status, v.locked),
            status_class: super::users::status_class(v.status, v.locked),
            contact: v.primary_contact.map(super::users::contact_title),
            changes,
            may_reset,
            activity: acting.is_manager().then(|| {
                form_urlencoded::Serializer::new("/ui/activity?".to_owned())
                    .append_pair("user", &v.login)
                    .finish()
            }),
            done: done_message(done),
        }),
    };
    super::render(status, &page)
}

/// The form for `v` as it is now.
pub fn current_form(acting: &Acting<'_>, v: &UserView) -> UserForm {
    UserForm::of(v, external_ids_on(acting), never_expires_box(acting))
}

/// R8.6: Managers see "Password never expires" while the operator's
/// feature is on; the domain still decides for which accounts.
fn never_expires_box(acting: &Acting<'_>) -> bool {
    acting.is_manager()
        && acting
            .subscription
            .has(crate::domain::Feature::ApiPasswordNeverExpires)
}

/// `POST /ui/users/{id}`: `PATCH /api/v1/users/{id}` with the form.
pub async fn save(
    State(app): State<App>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&fields.one("csrf")) {
        return *refused;
    }
    let form = UserForm::from_fields(&fields);
    let before = {
        let state = app.store.snapshot();
        Acting::of(&state, &viewer.user().id)
            .and_then(|a| crate::domain::directory::get_user(&a, &id))
    };
    let before = match before {
        Ok(v) => v,
        Err(e) => return api_error(&viewer, e.into()),
    };
    let offered = {
        let state = app.store.snapshot();
        match Acting::of(&state, &viewer.user().id) {
            Ok(a) => Offered::of(&a, before.role),
            Err(e) => return api_error(&viewer, e.into()),
        }
    };
    let edited = match form.patch(&before, &offered) {
        Ok(patch) => crate::http::users::edit(&app, &viewer.caller, id.clone(), patch).await,
        Err(e) => Err(e),
    };
    match edited {
        Ok(_) => Redirect::to(&format!("/ui/users/{id}?done=saved")).into_response(),
        Err(e) if shown_on_form(&e) => {
            let state = app.store.snapshot();
            match Acting::of(&state, &viewer.user().id) {
                Ok(acting) => {
                    // The login is not edited; the page shows it as it is.
                    let form = UserForm {
                        login: before.login.clone(),
                        ..form
                    };
                    let status = e.status;
                    let error = FieldError::of(e, &FIELDS);
                    show_existing(&viewer, &acting, &before, status, form, error, "")
                }
                Err(e) => api_error(&viewer, e.into()),
            }
        }
        Err(e) => api_error(&viewer, e),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::ticked;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn r10_1_a_box_the_editor_was_not_shown_keeps_what_the_user_holds() {
        // Held a (shown, unticked), b (shown, ticked) and h (not shown).
        let held = set(&["a", "b", "h"]);
        let offered = set(&["a", "b", "c"]);
        let now = ticked(&held, &offered, &set(&["b", "c"]));
        assert_eq!(now, set(&["b", "c", "h"]));
        // A forged box for something not offered is not taken.
        assert_eq!(ticked(&held, &offered, &set(&["x"])), set(&["h"]));
    }
}
