//! The console's static files, embedded in the binary. Each is served under
//! a name carrying a digest of its content, so browsers may keep it for a
//! year and still never use a stale copy after an upgrade.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("static/console.css");

/// `/ui/static/console.<digest>.css`
pub fn css_path() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        format!(
            "/ui/static/console.{}.css",
            &crate::ids::token_hash(CSS)[..16]
        )
    })
}

pub async fn serve(Path(name): Path<String>) -> Response {
    if format!("/ui/static/{name}") != css_path() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut res = CSS.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    res
}
