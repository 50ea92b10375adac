//! Building responses: JSON bodies, and every error as `{"reason": …}` with a deliberate status.

use serde::Serialize;
use wasmcloud_interface_httpserver::{HeaderMap, HttpResponse};

/// A JSON response with the given status.
pub fn json(status_code: u16, body: &impl Serialize) -> HttpResponse {
    let mut header = HeaderMap::new();
    header.insert("Content-Type".into(), vec!["application/json".into()]);
    HttpResponse {
        status_code,
        header,
        body: serde_json::to_vec(body).expect("response bodies always serialize"),
    }
}

/// An error response: `{"reason": "…"}`.
pub fn error(status_code: u16, reason: impl Into<String>) -> HttpResponse {
    #[derive(Serialize)]
    struct Reason {
        reason: String,
    }
    json(
        status_code,
        &Reason {
            reason: reason.into(),
        },
    )
}

/// Adds a header to a response.
pub fn with_header(mut response: HttpResponse, name: &str, value: String) -> HttpResponse {
    response.header.insert(name.into(), vec![value]);
    response
}
