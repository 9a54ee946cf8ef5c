//! RFC 9457 problem details: every failure the API returns, with a stable
//! `code` (docs/api.md) that clients branch on.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Code, Refusal};
use crate::store::{CommitError, WriteError};

/// `application/problem+json` body.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:bailiwick:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `validation`, `last_manager`.
    pub code: String,
    /// The request's `X-Request-Id`: quote it when reporting the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An error answer. Build with the constructors; the status follows the code.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
        }
    }

    pub fn validation(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "validation", detail)
    }

    pub fn malformed(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    pub fn unauthenticated() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "log in first: send Authorization: Bearer <token> (or Basic for API access)",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn payload_too_large(limit: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("request bodies are limited to {limit} bytes"),
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; it has been logged",
        )
    }

    pub fn to_problem(&self) -> Problem {
        Problem {
            kind: format!("urn:bailiwick:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
            request_id: super::request_id::current(),
        }
    }
}

/// The HTTP status of each domain refusal code (docs/api.md table).
pub fn status_of(code: Code) -> StatusCode {
    match code {
        Code::Validation | Code::PasswordPolicy => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::Forbidden | Code::PasswordChangeRequired => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::Conflict
        | Code::LoginTaken
        | Code::EmailTaken
        | Code::LastManager
        | Code::PrimaryContact
        | Code::RoleLocked
        | Code::BusinessUnitNotEmpty
        | Code::ScheduleOwnerDeactivated
        | Code::UseMove => StatusCode::CONFLICT,
        Code::Gone => StatusCode::GONE,
        Code::PermissionNotApplicable
        | Code::RoleNotAllowed
        | Code::FeatureUnavailable
        | Code::IpLimitExceeded => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> ApiError {
        ApiError::new(status_of(r.code), r.code.as_str(), r.message)
    }
}

impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> ApiError {
        match e {
            WriteError::Refused(r) => r.into(),
            WriteError::Unavailable(CommitError::Internal) => ApiError::internal(),
            WriteError::Unavailable(c) => {
                // The storage error names files and system errors: the log
                // gets it, the client only learns what to do.
                tracing::error!(error = %c, "write not stored");
                ApiError::unavailable(match c {
                    CommitError::Unconfirmed(_) => {
                        "storage failed while storing the change, which may or may not be kept; \
                         after the daemon restarts, read it back before trying again"
                    }
                    _ => "the change was not stored; try again",
                })
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.to_problem()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_the_status_of_the_api_table() {
        assert_eq!(status_of(Code::LastManager), StatusCode::CONFLICT);
        assert_eq!(
            status_of(Code::PermissionNotApplicable),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            status_of(Code::PasswordChangeRequired),
            StatusCode::FORBIDDEN
        );
        assert_eq!(status_of(Code::Gone), StatusCode::GONE);
        assert_eq!(status_of(Code::PasswordPolicy), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn commit_failures_answer_a_generic_unavailable_without_the_storage_error() {
        let secret = "I/O error: /var/lib/bailiwick/bailiwick.redb: No space left on device";
        for cause in [CommitError::Storage(secret.into()), CommitError::Closed] {
            let p = ApiError::from(WriteError::Unavailable(cause)).to_problem();
            assert_eq!(p.status, 503);
            assert_eq!(p.code, "unavailable");
            assert_eq!(p.detail, "the change was not stored; try again");
        }
        let p = ApiError::from(WriteError::Unavailable(CommitError::Unconfirmed(
            secret.into(),
        )))
        .to_problem();
        assert_eq!(p.status, 503);
        assert!(!p.detail.contains("/var/lib"), "{}", p.detail);
        assert!(p.detail.contains("may or may not be kept"), "{}", p.detail);
    }

    #[test]
    fn problem_body_carries_code_and_type() {
        let p = ApiError::from(Refusal::new(
            Code::PrimaryContact,
            "Jane is the primary contact of EU",
        ))
        .to_problem();
        assert_eq!(p.status, 409);
        assert_eq!(p.code, "primary_contact");
        assert_eq!(p.kind, "urn:bailiwick:problem:primary_contact");
        assert_eq!(p.title, "Conflict");
    }

    /// docs/api.md's code tables, as (code, status) pairs.
    fn documented() -> Vec<(String, u16)> {
        include_str!("../../docs/api.md")
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                let status = cells.get(2)?.parse().ok()?;
                Some((code.to_owned(), status))
            })
            .collect()
    }

    #[test]
    fn every_code_is_in_the_docs_table() {
        let docs = documented();
        let status = |code: &str| {
            let rows: Vec<u16> = docs
                .iter()
                .filter(|(c, _)| c == code)
                .map(|x| x.1)
                .collect();
            assert_eq!(rows.len(), 1, "{code} is in docs/api.md's code tables once");
            rows[0]
        };
        for code in Code::ALL {
            assert_eq!(
                status(code.as_str()),
                status_of(code).as_u16(),
                "{} in docs/api.md",
                code.as_str()
            );
        }
        // The HTTP layer's own, with the status the layer gives them.
        for (code, s) in [
            ("malformed", 400),
            ("tls_required", 400),
            ("method_not_allowed", 405),
            ("payload_too_large", 413),
            ("rate_limited", 429),
            ("internal", ApiError::internal().status.as_u16()),
            ("unavailable", 503),
            ("timeout", 503),
        ] {
            assert_eq!(status(code), s, "{code} in docs/api.md");
        }
        // Nothing documented that the code does not give.
        let known = docs.len();
        assert_eq!(known, Code::ALL.len() + 8, "{docs:?}");
    }
}
