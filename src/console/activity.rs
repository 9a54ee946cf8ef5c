//! Activity (R11.2): the log search and its CSV download, through the very
//! functions `GET /api/v1/activity` and `GET /api/v1/activity.csv` run, so a
//! person sees exactly the entries the API shows them.
//!
//! The only translation is of the form: "From" and "To" take a date (the
//! browser's date field) or an RFC 3339 time; a "To" date includes its day.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::pages::{Chrome, api_error};
use super::session::Viewer;
use super::users::unit_name;
use crate::audit::query::EntryView;
use crate::domain::Timestamp;
use crate::http::App;
use crate::http::activity::{ActivityQuery, Log, csv_download, search};
use crate::http::problem::ApiError;

/// The filter form, as the browser sends it (empty fields are absent).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Filters {
    user: String,
    action: String,
    from: String,
    to: String,
    ip: String,
    details: String,
    cursor: String,
}

const DAY_MICROS: i64 = 86_400 * 1_000_000;

/// A date or an RFC 3339 time as the API's RFC 3339; a date means its
/// midnight (UTC), plus one day for an inclusive "To". Anything else goes
/// through as typed, for the search's own message.
fn when(v: &str, end_of_day: bool) -> Option<String> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    let is_date = v.len() == 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-';
    if !is_date {
        return Some(v.to_owned());
    }
    match Timestamp::parse_rfc3339(&format!("{v}T00:00:00Z")) {
        Some(t) if end_of_day => Some(
            Timestamp::from_unix_micros(t.unix_micros().saturating_add(DAY_MICROS)).to_rfc3339(),
        ),
        Some(t) => Some(t.to_rfc3339()),
        None => Some(v.to_owned()),
    }
}

fn some(v: &str) -> Option<String> {
    Some(v.trim().to_owned()).filter(|s| !s.is_empty())
}

impl Filters {
    fn query(&self, with_cursor: bool) -> ActivityQuery {
        ActivityQuery {
            user: some(&self.user),
            action: some(&self.action),
            since: when(&self.from, false),
            until: when(&self.to, true),
            ip: some(&self.ip),
            details: some(&self.details),
            limit: None,
            cursor: if with_cursor {
                some(&self.cursor)
            } else {
                None
            },
        }
    }

    /// This search's address under `path`, with `cursor` when given.
    fn link(&self, path: &str, cursor: Option<&str>) -> String {
        let mut url = form_urlencoded::Serializer::new(format!("{path}?"));
        for (k, v) in [
            ("user", &self.user),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
            ("ip", &self.ip),
            ("details", &self.details),
        ] {
            if !v.is_empty() {
                url.append_pair(k, v);
            }
        }
        if let Some(c) = cursor {
            url.append_pair("cursor", c);
        }
        url.finish()
    }
}

/// A search refusal names the API's parameter; the page says the label.
fn in_page_words(detail: &str) -> String {
    for (api, label) in [
        ("since:", "From:"),
        ("until:", "To:"),
        ("ip:", "Source IP:"),
        ("cursor:", "Next page:"),
    ] {
        if let Some(rest) = detail.strip_prefix(api) {
            return format!("{label}{rest}");
        }
    }
    detail.to_owned()
}

pub struct Line {
    time: String,
    user: String,
    unit: String,
    ip: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "console/activity.html")]
struct ActivityPage {
    chrome: Chrome,
    f: Filters,
    lines: Vec<Line>,
    error: Option<String>,
    next: Option<String>,
    csv: String,
}

pub async fn page(
    State(app): State<App>,
    viewer: Viewer,
    Log(log): Log,
    Query(f): Query<Filters>,
) -> Response {
    let found = search(&app, viewer.user(), log, &f.query(true)).await;
    let state = app.store.snapshot();
    let (lines, next, error, status) = match found {
        Ok(page) => (
            page.items.into_iter().map(|e| line(&state, e)).collect(),
            page.next_cursor.map(|c| f.link("/ui/activity", Some(&c))),
            None,
            StatusCode::OK,
        ),
        Err(e) if e.status == StatusCode::BAD_REQUEST => (
            Vec::new(),
            None,
            Some(in_page_words(&e.detail)),
            StatusCode::BAD_REQUEST,
        ),
        Err(e) => return api_error(&viewer, e),
    };
    let page = ActivityPage {
        chrome: viewer.chrome("Activity"),
        csv: f.link("/ui/activity.csv", None),
        f,
        lines,
        error,
        next,
    };
    super::render(status, &page)
}

fn line(state: &crate::domain::State, e: EntryView) -> Line {
    Line {
        // "2026-12-04T04:21:07.123456Z" reads as "2026-12-04 04:21:07 UTC".
        time: e.time.get(..19).map_or_else(
            || e.time.clone(),
            |t| format!("{} UTC", t.replace('T', " ")),
        ),
        user: e.actor_login,
        unit: if e.actor.is_some() {
            unit_name(state, e.business_unit.as_deref())
        } else {
            String::new()
        },
        ip: e.ip.unwrap_or_default(),
        action: e.action,
        target: e.target,
        details: e.details,
    }
}

/// "Download CSV": the API's download of the same search, whole.
pub async fn csv(
    State(app): State<App>,
    viewer: Viewer,
    Log(log): Log,
    Query(f): Query<Filters>,
) -> Response {
    match csv_download(&app, viewer.user(), log, &f.query(false)) {
        Ok(r) => r.into_response(),
        Err(e) if e.status == StatusCode::BAD_REQUEST => {
            let e = ApiError::validation(in_page_words(&e.detail));
            api_error(&viewer, e)
        }
        Err(e) => api_error(&viewer, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_to_date_includes_its_day_and_times_pass_through() {
        assert_eq!(when("2026-12-04", false).unwrap(), "2026-12-04T00:00:00Z");
        assert_eq!(when("2026-12-04", true).unwrap(), "2026-12-05T00:00:00Z");
        assert_eq!(
            when("2026-12-04T10:00:00Z", true).unwrap(),
            "2026-12-04T10:00:00Z"
        );
        assert_eq!(when("  ", true), None);
        // Not a date: left for the search to refuse with its own words.
        assert_eq!(when("yesterday", false).unwrap(), "yesterday");
    }

    #[test]
    fn refusals_name_the_field_by_its_label() {
        assert_eq!(
            in_page_words("since: \"x\" is not an RFC 3339 time"),
            "From: \"x\" is not an RFC 3339 time"
        );
        assert_eq!(in_page_words("other"), "other");
    }
}
