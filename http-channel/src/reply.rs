//! Building responses: JSON bodies, and every error as `{"reason": …}` with a deliberate status.

use crate::http::{HeaderMap, HttpResponse};
use crate::rpc::RpcError;
use async_trait::async_trait;
use serde::Serialize;

/// A JSON response with the given status.
pub fn json(status_code: u16, body: &impl Serialize) -> HttpResponse {
    json_bytes(
        status_code,
        serde_json::to_vec(body).expect("response bodies always serialize"),
    )
}

/// A response with the given status and a body that is JSON already.
pub fn json_bytes(status_code: u16, body: Vec<u8>) -> HttpResponse {
    let mut header = HeaderMap::new();
    header.insert("Content-Type".into(), vec!["application/json".into()]);
    HttpResponse {
        status_code,
        header,
        body,
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

/// The page's Content-Security-Policy, made by build.rs from the page itself.
const PAGE_POLICY: &str = include_str!(concat!(env!("OUT_DIR"), "/page_policy.txt"));

/// The chat page: one static HTML file, built into the actor.
pub fn chat_page() -> HttpResponse {
    let mut header = HeaderMap::new();
    header.insert(
        "Content-Type".into(),
        vec!["text/html; charset=utf-8".into()],
    );
    // Pages change with the actor; a browser revalidates rather than keep a stale one.
    header.insert("Cache-Control".into(), vec!["no-cache".into()]);
    // The page keeps a sign-on token: no script but its own may run beside it.
    header.insert("Content-Security-Policy".into(), vec![PAGE_POLICY.into()]);
    HttpResponse {
        status_code: 200,
        header,
        body: include_bytes!("../page/index.html").to_vec(),
    }
}

/// Where the details of a failure go: the client gets a short reason, the operator the whole
/// error (in the actor, the host's log through `wasmcloud:builtin:logging`).
#[async_trait]
pub trait Report {
    async fn failure(&self, detail: String);
}

/// Whether a failed call went past its deadline somewhere on its way: the host names a timeout
/// `timeout: …` in the error text an actor gets (the wasmbus ABI carries text), and each actor
/// on the way passes that text on.
pub fn timed_out(error: &RpcError) -> bool {
    matches!(error, RpcError::Timeout(_) | RpcError::DeadlineExceeded(_))
        || error.to_string().contains("timeout: ")
}

/// A failure the chat itself had (503, or 504 when it took too long): a short reason for the
/// client; the details go to `report`.
pub async fn failure(
    report: &(impl Report + Sync),
    status_code: u16,
    reason: &str,
    detail: String,
) -> HttpResponse {
    report.failure(detail).await;
    error(status_code, reason)
}
