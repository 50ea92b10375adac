//! `wasmcloud:httpserver`: an HTTP listener that hands each request to its linked actor.
//!
//! Connection hygiene, so that idle or trickling clients cannot lock out real ones: at most
//! `MAX_CONNECTIONS` open connections, request headers within `HEADER_READ_TIMEOUT`, the body
//! within `BODY_READ_TIMEOUT`, and a request takes one of the `MAX_IN_FLIGHT` actor slots only
//! once it has arrived whole.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router as HttpRouter;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::RpcError;
use wasmcloud_interface_httpserver::{HttpRequest, HttpServer, HttpServerSender};

use crate::pool::CALL_TIMEOUT;
use crate::router::{ActorTransport, Router};

/// Largest request body passed to an actor.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Requests handled by actors at once; more wait their turn (with their bodies read).
const MAX_IN_FLIGHT: usize = 256;
/// Open connections at most; past this, new ones are closed at once.
const MAX_CONNECTIONS: usize = 10_000;
/// A request's headers must arrive within this.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request's body must arrive within this, or the answer is 408.
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a request waits for its actor: above the actor call timeout, so a stuck actor
/// is reported as one (504) rather than cut off here.
const REQUEST_DEADLINE: Duration = Duration::from_secs(CALL_TIMEOUT.as_secs() + 2);
/// How long open connections get to finish their requests when the server stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
struct Forward {
    actor: ActorTransport,
    in_flight: Arc<Semaphore>,
    /// Actor calls run here, to the end, even when their client goes away mid-request: a write
    /// is never cut off between storing a message and recording what it stored.
    calls: TaskTracker,
}

/// The routes: every request goes to the linked actor.
fn app(actor: ActorTransport, calls: TaskTracker) -> HttpRouter {
    let state = Forward {
        actor,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        calls,
    };
    HttpRouter::new().fallback(forward).with_state(state)
}

/// Binds `address` and serves until `shutdown` is cancelled; then open connections get
/// `DRAIN_TIMEOUT` to finish what they started. Connections are dealt to `workers` in turn, and
/// each is served, with its actor calls, on the one it was dealt to. Returns the bound address.
pub async fn serve(
    address: SocketAddr,
    router: &Arc<Router>,
    actor: &str,
    shutdown: CancellationToken,
    calls: &TaskTracker,
    workers: &[Handle],
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    anyhow::ensure!(
        !workers.is_empty(),
        "an HTTP server needs a worker to run on"
    );
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("binding HTTP address {address}"))?;
    let bound = listener.local_addr()?;
    let app = app(ActorTransport::new(router, actor), calls.clone());
    let workers = workers.to_vec();
    let task = tokio::spawn(async move {
        let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let open = TaskTracker::new();
        for worker in workers.iter().cycle() {
            let tcp = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        tracing::warn!("HTTP server on {bound}: accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = shutdown.cancelled() => break,
            };
            let Ok(slot) = connections.clone().try_acquire_owned() else {
                tracing::warn!(
                    "HTTP server on {bound}: {MAX_CONNECTIONS} connections open; refusing another"
                );
                continue;
            };
            // A socket belongs to the runtime that registered it: it moves as a plain one.
            let tcp = match tcp.into_std() {
                Ok(tcp) => tcp,
                Err(e) => {
                    tracing::warn!("HTTP server on {bound}: could not hand a connection on: {e}");
                    continue;
                }
            };
            let service = TowerToHyperService::new(app.clone());
            let shutdown = shutdown.clone();
            open.spawn_on(
                async move {
                    let _slot = slot;
                    match TcpStream::from_std(tcp) {
                        Ok(tcp) => serve_connection(tcp, service, shutdown).await,
                        Err(e) => tracing::warn!("HTTP server on {bound}: {e}"),
                    }
                },
                worker,
            );
        }
        drop(listener);
        open.close();
        open.wait().await;
    });
    Ok((bound, task))
}

/// Serves one connection's requests until it closes, or until `shutdown`; then it gets
/// `DRAIN_TIMEOUT` to finish what it started.
async fn serve_connection(
    tcp: TcpStream,
    service: TowerToHyperService<HttpRouter>,
    shutdown: CancellationToken,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connection = builder.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN_TIMEOUT, connection).await;
        }
    }
}

fn json_error(status: StatusCode, reason: &str) -> Response {
    (status, axum::Json(serde_json::json!({ "reason": reason }))).into_response()
}

async fn forward(State(forward): State<Forward>, request: Request) -> Response {
    let response = respond(forward, request).await;
    crate::telemetry::http_response(response.status().as_u16());
    response
}

async fn respond(forward: Forward, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        }
        Err(_) => {
            return json_error(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the request body did not arrive within {BODY_READ_TIMEOUT:?}"),
            )
        }
    };
    // Only a request that has arrived whole waits for an actor slot.
    let Ok(permit) = forward.in_flight.clone().acquire_owned().await else {
        return json_error(StatusCode::SERVICE_UNAVAILABLE, "the host is shutting down");
    };
    let mut header: HashMap<String, Vec<String>> = HashMap::with_capacity(parts.headers.keys_len());
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
    let call = forward.calls.spawn(async move {
        let _permit = permit;
        HttpServerSender::via(forward.actor)
            .handle_request(&Context::default(), &request)
            .await
    });
    let handled = match tokio::time::timeout(REQUEST_DEADLINE, call).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(failed)) => Err(RpcError::HostError(format!("the call failed: {failed}"))),
        Err(_) => Err(RpcError::Timeout(format!(
            "no answer within {REQUEST_DEADLINE:?}"
        ))),
    };
    match handled {
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
        Err(RpcError::Timeout(e)) => {
            tracing::error!(
                "HTTP {} {} timed out in the actor: {e}",
                parts.method,
                parts.uri
            );
            json_error(
                StatusCode::GATEWAY_TIMEOUT,
                "the chat did not answer in time; try again",
            )
        }
        Err(e) => {
            tracing::error!(
                "HTTP {} {} failed in the actor: {e}",
                parts.method,
                parts.uri
            );
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request failed inside the host; see its log",
            )
        }
    }
}
