//! The host's listeners share the provider kit's network plumbing; HTTP refusals are axum
//! responses here.

pub use mcchat_provider_kit::net::*;

/// A refusal as an HTTP response: the status, and `{"reason": "…"}` as JSON.
pub fn refusal(status: axum::http::StatusCode, reason: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        reason_body(reason),
    )
        .into_response()
}
