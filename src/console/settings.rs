//! Users > Setup, beside Security (which has its own module for its
//! numbers): User Permissions (R10.1), Email Contact (R10.2), Primary
//! Contact (R4.2, R4.3) and Business Unit Settings (R3.2). Each reads and
//! writes through the same `domain::settings` and `domain::contacts`
//! functions as its `/api/v1/settings/...` or `/api/v1/primary-contact`
//! twin, and all share one page layout: text fields, switches, a select.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::pages::{Chrome, FieldError, Fields, api_error};
use super::session::Viewer;
use super::users::Choice;
use crate::domain::access::{Acting, name_of};
use crate::domain::settings::{self, EmailContactSettings};
use crate::domain::{EmailContact, Role, UserStatus, VisibilitySettings, contacts};
use crate::http::App;
use crate::http::problem::ApiError;

/// One of Users > Setup's pages.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    Security,
    UserPermissions,
    EmailContact,
    PrimaryContact,
    BusinessUnits,
}

impl Setup {
    const ALL: [Setup; 5] = [
        Setup::Security,
        Setup::UserPermissions,
        Setup::EmailContact,
        Setup::PrimaryContact,
        Setup::BusinessUnits,
    ];

    pub fn path(self) -> &'static str {
        match self {
            Setup::Security => "/ui/setup/security",
            Setup::UserPermissions => "/ui/setup/user-permissions",
            Setup::EmailContact => "/ui/setup/email-contact",
            Setup::PrimaryContact => "/ui/setup/primary-contact",
            Setup::BusinessUnits => "/ui/setup/business-units",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Setup::Security => "Security",
            Setup::UserPermissions => "User Permissions",
            Setup::EmailContact => "Email Contact",
            Setup::PrimaryContact => "Primary Contact",
            Setup::BusinessUnits => "Business Unit Settings",
        }
    }

    /// Whether `acting` may open the page: the same read the API's `GET`
    /// makes, so a page is offered exactly to those it answers.
    fn opens(self, acting: &Acting<'_>) -> bool {
        match self {
            Setup::Security => settings::security(acting).is_ok(),
            Setup::UserPermissions => settings::visibility(acting).is_ok(),
            Setup::EmailContact => settings::email_contact(acting).is_ok(),
            Setup::PrimaryContact => contacts::view_subscription_poc(acting).is_ok(),
            Setup::BusinessUnits => settings::business_unit_setup(acting).is_ok(),
        }
    }
}

/// A link of the Setup pages' own list.
pub struct SetupLink {
    pub path: &'static str,
    pub title: &'static str,
    pub current: bool,
}

/// The Setup pages `acting` may open, `here` marked.
pub fn setup_links(acting: &Acting<'_>, here: Setup) -> Vec<SetupLink> {
    Setup::ALL
        .into_iter()
        .filter(|s| s.opens(acting))
        .map(|s| SetupLink {
            path: s.path(),
            title: s.title(),
            current: s == here,
        })
        .collect()
}

pub struct Text {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: String,
}

pub struct Switch {
    pub name: &'static str,
    pub label: &'static str,
    pub hint: &'static str,
    pub on: bool,
}

pub struct Select {
    pub name: &'static str,
    pub label: &'static str,
    pub choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "console/setting.html")]
struct SettingPage {
    chrome: Chrome,
    links: Vec<SetupLink>,
    action: &'static str,
    intro: &'static str,
    csrf: String,
    texts: Vec<Text>,
    select: Option<Select>,
    switches: Vec<Switch>,
    error: FieldError,
    saved: bool,
}

/// A page's fields, as stored or as typed.
struct Content {
    intro: &'static str,
    texts: Vec<Text>,
    select: Option<Select>,
    switches: Vec<Switch>,
}

fn show(
    viewer: &Viewer,
    acting: &Acting<'_>,
    which: Setup,
    status: StatusCode,
    content: Content,
    error: FieldError,
    saved: bool,
) -> Response {
    let page = SettingPage {
        chrome: viewer.chrome(which.title()),
        links: setup_links(acting, which),
        action: which.path(),
        intro: content.intro,
        csrf: viewer.csrf.clone(),
        texts: content.texts,
        select: content.select,
        switches: content.switches,
        error,
        saved,
    };
    super::render(status, &page)
}

// ---- the pages' fields ------------------------------------------------------

fn visibility_content(v: &VisibilitySettings) -> Content {
    Content {
        intro: "What users see of users in other business units.",
        texts: Vec::new(),
        select: None,
        switches: vec![
            Switch {
                name: "restrict_user_info_outside_unit",
                label: "Restrict view of user information for users outside of business unit",
                hint: "Contact details and asset groups of users in other units are hidden.",
                on: v.restrict_user_info_outside_unit,
            },
            Switch {
                name: "hide_users_outside_unit",
                label: "Hide users outside the business unit",
                hint: "Only with the option above: users of other units are left out of every list.",
                on: v.hide_users_outside_unit,
            },
            Switch {
                name: "restrict_scheduled_tasks_on_unassigned_assets",
                label: "Restrict view of scheduled tasks on unassigned assets",
                hint: "Schedules that target assets a user may not access are hidden from it.",
                on: v.restrict_scheduled_tasks_on_unassigned_assets,
            },
        ],
    }
}

fn email_contact_content(s: &EmailContactSettings) -> Content {
    let (name, email) = s
        .email_contact
        .as_ref()
        .map_or((String::new(), String::new()), |c| {
            (c.name.clone(), c.email.clone())
        });
    Content {
        intro: "The name and address notifications show, other than registration and lock emails. Empty: the subscription's primary contact.",
        texts: vec![
            Text {
                name: "name",
                label: "Name",
                kind: "text",
                value: name,
            },
            Text {
                name: "email",
                label: "Email",
                kind: "email",
                value: email,
            },
        ],
        select: None,
        switches: vec![Switch {
            name: "allow_unit_manager_override",
            label: "Allow Unit Managers to override for their business unit",
            hint: "A Unit Manager may then set its own unit's contact.",
            on: s.allow_unit_manager_override,
        }],
    }
}

fn primary_contact_content(acting: &Acting<'_>, selected: &str) -> Content {
    let choices = acting
        .state
        .users
        .values()
        .filter(|u| u.role == Role::Manager && u.status == UserStatus::Active)
        .map(|u| Choice {
            value: u.id.clone(),
            label: name_of(u),
            selected: u.id == selected,
        })
        .collect();
    Content {
        intro: "The subscription's primary contact: an active Manager, marked * on the Users list.",
        texts: Vec::new(),
        select: Some(Select {
            name: "user",
            label: "Primary contact",
            choices,
        }),
        switches: Vec::new(),
    }
}

fn unit_setup_content(on: bool) -> Content {
    Content {
        intro: "Limits on what Unit Managers add to the subscription.",
        texts: Vec::new(),
        select: None,
        switches: vec![Switch {
            name: "new_ip_limit_enabled",
            label: "Limit new IPs per business unit",
            hint: "Each unit's limit on IPs new to the subscription then applies; set it on the unit.",
            on,
        }],
    }
}

/// The stored values of a page, as `acting` may read them.
fn current(acting: &Acting<'_>, which: Setup) -> Result<Content, ApiError> {
    Ok(match which {
        // Security has its own page (`console::setup`); never routed here.
        Setup::Security => return Err(ApiError::not_found("no such page")),
        Setup::UserPermissions => visibility_content(&settings::visibility(acting)?),
        Setup::EmailContact => email_contact_content(&settings::email_contact(acting)?),
        Setup::PrimaryContact => {
            let poc = contacts::view_subscription_poc(acting)?;
            primary_contact_content(acting, poc.map_or("", |u| u.id.as_str()))
        }
        Setup::BusinessUnits => unit_setup_content(settings::business_unit_setup(acting)?),
    })
}

#[derive(Deserialize, Default)]
pub struct Saved {
    saved: Option<u8>,
}

async fn page(app: App, viewer: Viewer, which: Setup, saved: bool) -> Response {
    let state = app.store.snapshot();
    let shown = Acting::of(&state, &viewer.user().id)
        .map_err(ApiError::from)
        .and_then(|a| Ok((current(&a, which)?, a)));
    match shown {
        Ok((content, acting)) => show(
            &viewer,
            &acting,
            which,
            StatusCode::OK,
            content,
            FieldError::default(),
            saved,
        ),
        Err(e) => api_error(&viewer, e),
    }
}

/// Runs `which`'s command with the form; a refusal shows the form again.
async fn save(app: App, viewer: Viewer, which: Setup, body: Bytes) -> Response {
    let f = Fields::parse(&body);
    if let Err(refused) = viewer.check_csrf(&f.one("csrf")) {
        return *refused;
    }
    let on = |name: &str| f.has(name);
    let actor = viewer.caller.actor();
    let written: Result<(), ApiError> = match which {
        Setup::Security => Err(ApiError::not_found("no such page")),
        Setup::UserPermissions => {
            let v = VisibilitySettings {
                restrict_user_info_outside_unit: on("restrict_user_info_outside_unit"),
                hide_users_outside_unit: on("hide_users_outside_unit"),
                restrict_scheduled_tasks_on_unassigned_assets: on(
                    "restrict_scheduled_tasks_on_unassigned_assets",
                ),
            };
            app.store
                .write(actor, move |tx| settings::set_visibility(tx, v))
                .await
                .map(drop)
                .map_err(ApiError::from)
        }
        Setup::EmailContact => {
            let (name, email) = (
                f.one("name").trim().to_owned(),
                f.one("email").trim().to_owned(),
            );
            let s = EmailContactSettings {
                email_contact: (!name.is_empty() || !email.is_empty())
                    .then_some(EmailContact { name, email }),
                allow_unit_manager_override: on("allow_unit_manager_override"),
            };
            app.store
                .write(actor, move |tx| settings::set_email_contact(tx, s))
                .await
                .map(drop)
                .map_err(ApiError::from)
        }
        Setup::PrimaryContact => {
            let user = f.one("user");
            app.store
                .write(actor, move |tx| contacts::set_subscription_poc(tx, &user))
                .await
                .map(drop)
                .map_err(ApiError::from)
        }
        Setup::BusinessUnits => {
            let enabled = on("new_ip_limit_enabled");
            app.store
                .write(actor, move |tx| {
                    settings::set_business_unit_setup(tx, enabled)
                })
                .await
                .map(drop)
                .map_err(ApiError::from)
        }
    };
    match written {
        Ok(()) => Redirect::to(&format!("{}?saved=1", which.path())).into_response(),
        Err(e)
            if e.status.is_client_error()
                && e.status != StatusCode::FORBIDDEN
                && e.status != StatusCode::NOT_FOUND =>
        {
            let state = app.store.snapshot();
            let acting = match Acting::of(&state, &viewer.user().id) {
                Ok(a) => a,
                Err(e) => return api_error(&viewer, e.into()),
            };
            // The form as typed, on the page's own layout.
            let mut content = match current(&acting, which) {
                Ok(c) => c,
                Err(e) => return api_error(&viewer, e),
            };
            for t in &mut content.texts {
                t.value = f.one(t.name);
            }
            for s in &mut content.switches {
                s.on = f.has(s.name);
            }
            if let Some(s) = &mut content.select {
                let chosen = f.one(s.name);
                for c in &mut s.choices {
                    c.selected = c.value == chosen;
                }
            }
            let names: Vec<&'static str> = content
                .texts
                .iter()
                .map(|t| t.name)
                .chain(content.switches.iter().map(|s| s.name))
                .chain(content.select.iter().map(|s| s.name))
                .collect();
            let status = e.status;
            let mut error = FieldError::of(e, &names);
            // The contact's fields are named `email_contact.name` and
            // `email_contact.email` by the command.
            if let Some(rest) = error.detail.strip_prefix("email_contact.") {
                error.field = if rest.starts_with("name") {
                    "name"
                } else {
                    "email"
                };
            }
            show(&viewer, &acting, which, status, content, error, false)
        }
        Err(e) => api_error(&viewer, e),
    }
}

macro_rules! setup_page {
    ($get:ident, $post:ident, $which:expr) => {
        pub async fn $get(
            State(app): State<App>,
            viewer: Viewer,
            Query(q): Query<Saved>,
        ) -> Response {
            page(app, viewer, $which, q.saved.is_some()).await
        }

        pub async fn $post(State(app): State<App>, viewer: Viewer, body: Bytes) -> Response {
            save(app, viewer, $which, body).await
        }
    };
}

setup_page!(
    user_permissions,
    save_user_permissions,
    Setup::UserPermissions
);
setup_page!(email_contact, save_email_contact, Setup::EmailContact);
setup_page!(primary_contact, save_primary_contact, Setup::PrimaryContact);
setup_page!(business_units, save_business_units, Setup::BusinessUnits);
