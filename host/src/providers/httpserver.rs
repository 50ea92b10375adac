//! `wasmcloud:httpserver`: an HTTP listener that hands each request to its linked actor.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router as HttpRouter;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use wasmbus_rpc::common::Context;
use wasmcloud_interface_httpserver::{HttpRequest, HttpServer, HttpServerSender};

use crate::router::{ActorTransport, Router};

/// Largest request body passed to an actor.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Requests handled at once; more wait their turn.
const MAX_IN_FLIGHT: usize = 256;

#[derive(Clone)]
struct Forward {
    actor: ActorTransport,
    in_flight: Arc<Semaphore>,
}

/// Binds `address` and serves until `shutdown` is cancelled. Returns the bound address.
pub async fn serve(
    address: SocketAddr,
    router: &Arc<Router>,
    actor: &str,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding HTTP address {address}"))?;
    let bound = listener.local_addr()?;
    let state = Forward {
        actor: ActorTransport::new(router, actor),
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
    };
    let app = HttpRouter::new().fallback(forward).with_state(state);
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = server.await {
            tracing::error!("HTTP server on {bound} stopped: {e}");
        }
    });
    Ok((bound, task))
}

fn json_error(status: StatusCode, reason: String) -> Response {
    (status, axum::Json(serde_json::json!({ "reason": reason }))).into_response()
}

async fn forward(State(forward): State<Forward>, request: Request) -> Response {
    let Ok(_permit) = forward.in_flight.acquire().await else {
        return json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the host is shutting down".into(),
        );
    };
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        }
    };
    let mut header: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in &parts.headers {
        header
            .entry(name.to_string())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let request = HttpRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query_string: parts.uri.query().unwrap_or_default().to_string(),
        header,
        body: body.to_vec(),
    };
    match HttpServerSender::via(forward.actor)
        .handle_request(&Context::default(), &request)
        .await
    {
        Ok(actor_response) => {
            let status = StatusCode::from_u16(actor_response.status_code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = Response::new(Body::from(actor_response.body));
            *response.status_mut() = status;
            for (name, values) in actor_response.header {
                let Ok(name) = HeaderName::try_from(name) else {
                    continue;
                };
                for value in values {
                    if let Ok(value) = HeaderValue::try_from(value) {
                        response.headers_mut().append(name.clone(), value);
                    }
                }
            }
            response
        }
        Err(e) => {
            tracing::error!(
                "HTTP {} {} failed in the actor: {e}",
                parts.method,
                parts.uri
            );
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request failed inside the host; see its log".into(),
            )
        }
    }
}
