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

/// [`refused`] for someone the console does not let in: no navigation.
pub fn refused_public(status: StatusCode, detail: impl Into<String>) -> Response {
    let page = Message {
        chrome: Chrome::public("Not allowed"),
        heading: "Not allowed",
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

/// The field of a form that a refusal is about, among the form's input
/// names, or `"form"` for a refusal about the whole of it. The domain starts
/// the message of a refused value with its field's name (`"business_unit:
/// ..."`, `"login \"x\": ..."`, `"role kb_only ..."`); the refusals that do not
/// are known by their code.
pub fn field_among(e: &ApiError, fields: &[&'static str]) -> &'static str {
    let lead = e
        .detail
        .split([' ', ':'])
        .next()
        .unwrap_or("")
        .to_lowercase();
    let by_name = match lead.as_str() {
        "permission" => "permissions",
        "external" => "external_id",
        "assets" | "assets.ips" => "ips",
        "assets.domains" => "domains",
        l => l,
    };
    let by_code = match e.code {
        "login_taken" => "login",
        "email_taken" => "email",
        "last_manager" | "role_locked" | "role_not_allowed" => "role",
        "use_move" | "ip_limit_exceeded" => "business_unit",
        "permission_not_applicable" => "permissions",
        _ => "",
    };
    fields
        .iter()
        .copied()
        .find(|f| *f == by_name)
        .or_else(|| fields.iter().copied().find(|f| *f == by_code))
        .unwrap_or("form")
}

/// A refusal shown beside the field it names.
#[derive(Default)]
pub struct FieldError {
    pub field: &'static str,
    pub detail: String,
}

impl FieldError {
    pub fn of(e: ApiError, fields: &[&'static str]) -> FieldError {
        FieldError {
            field: field_among(&e, fields),
            detail: e.detail,
        }
    }

    /// The message for `field`, if the refusal is about it.
    pub fn about(&self, field: &str) -> Option<&str> {
        (!self.detail.is_empty() && self.field == field).then_some(self.detail.as_str())
    }
}

/// The items of a list typed one per line (commas and spaces separate too).
pub fn items(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A submitted form whose fields may repeat (checkbox lists), in order.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`, or "" when absent.
    pub fn one(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

#[cfg(test)]
mod tests {
    use super::{field_among, field_of};
    use crate::http::problem::ApiError;
    use axum::http::StatusCode;

    #[test]
    fn a_refusal_is_shown_beside_the_field_it_names() {
        let fields = [
            "login",
            "email",
            "role",
            "business_unit",
            "permissions",
            "external_id",
        ];
        let e = |code, detail: &str| ApiError::new(StatusCode::CONFLICT, code, detail);
        assert_eq!(
            field_among(
                &e("login_taken", "login jd is taken; choose another"),
                &fields
            ),
            "login"
        );
        assert_eq!(
            field_among(
                &e("validation", "login \"a b\": use 1 to 64 letters"),
                &fields
            ),
            "login"
        );
        assert_eq!(
            field_among(&e("validation", "business_unit: choose one"), &fields),
            "business_unit"
        );
        assert_eq!(
            field_among(
                &e("last_manager", "Ann Lee is the last active Manager"),
                &fields
            ),
            "role"
        );
        assert_eq!(
            field_among(
                &e(
                    "email_taken",
                    "another User Administrator already uses a@b.c"
                ),
                &fields
            ),
            "email"
        );
        assert_eq!(
            field_among(
                &e("conflict", "external ID \"7\" already names another user"),
                &fields
            ),
            "external_id"
        );
        assert_eq!(
            field_among(
                &e("forbidden", "you manage the users of Paris only"),
                &fields
            ),
            "form"
        );
        // A field the form does not have is not named.
        assert_eq!(
            field_among(&e("use_move", "Ann owns 2 results"), &["login"]),
            "form"
        );
    }

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
