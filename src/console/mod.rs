//! The web console (docs: UI.md's pages): server-rendered pages under `/ui/`
//! for the people who run a subscription and for every user's own account.
//!
//! The one thing to know: a page never decides a rule. Each handler reads
//! the same domain views and runs the same commands as the API handler for
//! the same thing (often through the very function that handler calls), so
//! the API's tests keep proving the rules and the console's browser tests
//! prove the pages. A refusal is shown with the problem's `detail`.
//!
//! Pages are askama templates (`templates/console/`), checked and compiled
//! into the binary; the one stylesheet is embedded too and served under a
//! name that carries its content hash. No page loads anything from another
//! origin, and there is no script: every form works as plain HTML.

mod account;
mod activation;
mod activity;
mod asset_groups;
pub(crate) mod assets;
mod distribution;
mod lifecycle;
mod login;
mod pages;
mod profile;
mod reset;
mod session;
mod settings;
mod setup;
mod subscription_assets;
mod units;
mod user_form;
mod users;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::App;
use crate::http::problem::ApiError;

pub use session::Viewer;

/// The console's routes, merged into the daemon's router beside the API.
pub fn router() -> Router<App> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(home))
        .route("/ui/login", get(login::page).post(login::submit))
        .route("/ui/logout", post(login::logout))
        .route(
            "/ui/password-reset",
            get(reset::page).post(reset::questions),
        )
        .route("/ui/password-reset/answers", post(reset::answers))
        .route(
            "/ui/activation/{token}",
            get(activation::page).post(activation::submit),
        )
        .route("/ui/users", get(users::list))
        .route(
            "/ui/users/new",
            get(user_form::new_page).post(user_form::create),
        )
        .route("/ui/users/{id}", get(users::show).post(user_form::save))
        .route(
            "/ui/users/{id}/move",
            get(lifecycle::move_page).post(lifecycle::move_user),
        )
        .route(
            "/ui/users/{id}/delete",
            get(lifecycle::delete_page).post(lifecycle::delete_user),
        )
        .route("/ui/users/{id}/reset-password", post(users::reset_password))
        .route("/ui/users/{id}/{change}", post(users::change_status))
        .route("/ui/business-units", get(units::list))
        .route(
            "/ui/business-units/new",
            get(units::new_page).post(units::create),
        )
        .route(
            "/ui/business-units/{id}",
            get(units::page).post(units::save),
        )
        .route("/ui/business-units/{id}/delete", post(units::delete))
        .route("/ui/asset-groups", get(asset_groups::list))
        .route(
            "/ui/asset-groups/new",
            get(asset_groups::new_page).post(asset_groups::create),
        )
        .route(
            "/ui/asset-groups/{id}",
            get(asset_groups::page).post(asset_groups::save),
        )
        .route("/ui/asset-groups/{id}/delete", post(asset_groups::delete))
        .route(
            "/ui/distribution-groups",
            get(distribution::list).post(distribution::create),
        )
        .route(
            "/ui/distribution-groups/{id}",
            get(distribution::page).post(distribution::save),
        )
        .route(
            "/ui/distribution-groups/{id}/delete",
            post(distribution::delete),
        )
        .route(
            "/ui/notifications/new",
            get(distribution::new_notification).post(distribution::send),
        )
        .route("/ui/assets", get(subscription_assets::page))
        .route("/ui/assets/add", post(subscription_assets::add))
        .route("/ui/assets/remove", post(subscription_assets::remove))
        .route("/ui/activity", get(activity::page))
        .route("/ui/activity.csv", get(activity::csv))
        .route("/ui/account/activity", get(account::activity))
        .route(
            "/ui/account/activity/sign-out-others",
            post(account::sign_out_others),
        )
        .route("/ui/account/info", get(account::info))
        .route(
            "/ui/account/info/notifications",
            post(account::save_notifications),
        )
        .route("/ui/account/profile", get(profile::page))
        .route("/ui/account/profile/details", post(profile::save_details))
        .route("/ui/account/profile/password", post(profile::save_password))
        .route(
            "/ui/account/profile/questions",
            post(profile::save_questions),
        )
        .route(
            "/ui/setup/security",
            get(setup::security).post(setup::save_security),
        )
        .route(
            "/ui/setup/user-permissions",
            get(settings::user_permissions).post(settings::save_user_permissions),
        )
        .route(
            "/ui/setup/email-contact",
            get(settings::email_contact).post(settings::save_email_contact),
        )
        .route(
            "/ui/setup/primary-contact",
            get(settings::primary_contact).post(settings::save_primary_contact),
        )
        .route(
            "/ui/setup/business-units",
            get(settings::business_units).post(settings::save_business_units),
        )
        .route("/ui/static/{name}", get(assets::serve))
        .layer(middleware::from_fn(headers))
}

/// Where a signed-in person lands: Users for those who list users (R10.1),
/// else their own account.
async fn home(viewer: Viewer) -> Redirect {
    Redirect::to(viewer.home())
}

/// The security headers of every console answer (UI.md): no inline script
/// or style, no framing, no form posted anywhere else.
const CSP: &str = "default-src 'self'; script-src 'none'; object-src 'none'; \
                   base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub(crate) async fn headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// A rendered page, or the page that says what went wrong.
pub(crate) fn render<T: askama::Template>(status: StatusCode, page: &T) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            ApiError::internal().into_response()
        }
    }
}
