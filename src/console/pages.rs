//! What every page shares: the header and navigation (`Chrome`), and the
//! page that says why something was refused.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use super::session::{Nav, Viewer};
use crate::http::problem::ApiError;

/// The header of a page: who is signed in, the navigation, the sign-out
/// form's token, and the stylesheet's hashed name.
pub struct Chrome {
    pub title: &'static str,
    /// `None` on the pages for people not signed in.
    pub signed_in: Option<SignedIn>,
    pub css: &'static str,
}

pub struct SignedIn {
    pub name: String,
    pub csrf: String,
    pub nav: Nav,
}

impl Chrome {
    pub fn new(viewer: &Viewer, title: &'static str) -> Chrome {
        Chrome {
            title,
            signed_in: Some(SignedIn {
                name: display_name(viewer.user()),
                csrf: viewer.csrf.clone(),
                nav: viewer.nav,
            }),
            css: super::assets::css_path(),
        }
    }

    /// The header of a page for someone not signed in.
    pub fn public(title: &'static str) -> Chrome {
        Chrome {
            title,
            signed_in: None,
            css: super::assets::css_path(),
        }
    }
}

/// "First Last", or the login when the names are empty.
pub fn display_name(u: &crate::domain::User) -> String {
    name_or_login(&u.first_name, &u.last_name, &u.login)
}

/// "First Last", or `login` when both names are empty.
pub fn name_or_login(first: &str, last: &str, login: &str) -> String {
    let n = format!("{first} {last}");
    match n.trim() {
        "" => login.to_owned(),
        n => n.to_owned(),
    }
}

#[derive(Template)]
#[template(path = "console/message.html")]
struct Message {
    chrome: Chrome,
    heading: &'static str,
    detail: String,
}

/// The page for a refusal: the status's own heading and what to do.
pub fn refused(viewer: &Viewer, status: StatusCode, detail: impl Into<String>) -> Response {
    let heading = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        s if s.is_server_error() => "Not available",
        _ => "Not done",
    };
    let page = Message {
        chrome: viewer.chrome(heading),
        heading,
        detail: detail.into(),
    };
    super::render(status, &page)
}

/// The page for an API refusal: the same status and `detail` the API gives.
pub fn api_error(viewer: &Viewer, e: ApiError) -> Response {
    refused(viewer, e.status, e.detail)
}

/// The field a refusal is about: the domain starts the message of a refused
/// value with the field's name (`"lockout_threshold: give 1 to 100"`), the
/// same name the form's input carries.
pub fn field_of(detail: &str) -> Option<&str> {
    let (field, _) = detail.split_once(": ")?;
    let plain = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
    plain.then_some(field)
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn a_refusal_names_its_field_by_the_leading_name() {
        assert_eq!(
            field_of("lockout_threshold: give 1 to 100"),
            Some("lockout_threshold")
        );
        assert_eq!(
            field_of("email_contact.name: give 1 to 100 printable characters"),
            Some("email_contact.name")
        );
        assert_eq!(field_of("only the primary contact may: no"), None);
        assert_eq!(field_of("no field here"), None);
    }
}
