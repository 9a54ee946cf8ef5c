//! Request ids: every answer carries `X-Request-Id`, every problem+json body
//! its `request_id`, and the access log line the same id, so that a client's
//! report, the log and the operator meet on one string.
//!
//! A caller's own id (a proxy's, or a service's that traces its calls) is
//! kept when it is short and plain; anything else is replaced, so that no
//! header can inject text into the log.

use std::sync::Arc;

use axum::http::HeaderMap;

pub const HEADER: &str = "x-request-id";

/// Longest caller-supplied id kept.
const MAX_LEN: usize = 64;

tokio::task_local! {
    /// The id of the request this task is answering.
    static CURRENT: Arc<str>;
}

/// The caller's id when it is 1..=64 of `A-Z a-z 0-9 . _ - :`, else a new
/// one (16 random bytes, hex).
pub fn of(headers: &HeaderMap) -> Arc<str> {
    let theirs = headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=MAX_LEN).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
        });
    match theirs {
        Some(id) => Arc::from(id),
        None => {
            let mut raw = [0u8; 16];
            crate::ids::fill_random(&mut raw);
            Arc::from(raw.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    }
}

/// Runs `answer` as request `id`: [`current`] inside it returns `id`.
pub async fn scope<F: Future>(id: Arc<str>, answer: F) -> F::Output {
    CURRENT.scope(id, answer).await
}

/// The id of the request being answered, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.to_string()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HEADER, value.parse().unwrap());
        h
    }

    #[test]
    fn plain_caller_ids_are_kept_and_anything_else_replaced() {
        assert_eq!(&*of(&with("trace-42:a.b_c")), "trace-42:a.b_c");
        for bad in ["", "has space", "quote\"", &"x".repeat(65), "ünï"] {
            let h = if bad.is_ascii() {
                with(bad)
            } else {
                HeaderMap::new()
            };
            let id = of(&h);
            assert_eq!(id.len(), 32, "{bad:?} -> {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(of(&HeaderMap::new()), of(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn the_id_is_known_inside_its_scope_only() {
        assert_eq!(current(), None);
        let inside = scope(Arc::from("abc"), async { current() }).await;
        assert_eq!(inside.as_deref(), Some("abc"));
    }
}
