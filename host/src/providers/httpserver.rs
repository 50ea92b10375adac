//! `wasmcloud:httpserver`: an HTTP listener that hands each request to its linked actor.
//!
//! Connection hygiene, so that idle or trickling clients cannot lock out real ones: at most
//! `MAX_CONNECTIONS` open connections (one more is told so: 503), request headers within
//! `HEADER_READ_TIMEOUT`, the body within `BODY_READ_TIMEOUT`, and a request takes one of the
//! `MAX_IN_FLIGHT` actor slots only once it has arrived whole.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router as HttpRouter;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::{Context, Message, MessageDispatch};
use wasmbus_rpc::error::RpcError;
use wasmcloud_interface_httpserver::{HttpRequest, HttpServer, HttpServerSender};

use super::registration::{
    self, link_value, set_link_value, About, LinkStart, LinkValues, Overrides,
};
use super::HTTPSERVER;
use crate::net;
use crate::pool::CALL_TIMEOUT;
use crate::provider::{ConnectionState, ProviderHandle, Started};
use crate::router::ActorTransport;
use mcchat_provider_kit::{connection_cap, link_number, Admission, ConnectionCap};

/// Where the server listens unless the link's `address` says otherwise.
pub const DEFAULT_HTTP_ADDR: &str = "0.0.0.0:8080";

/// Largest request body passed to an actor.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Requests handled by actors at once; more wait their turn (with their bodies read).
const MAX_IN_FLIGHT: usize = 256;
/// Open connections at most by default (`MAX_CONNECTIONS`): a quarter of the open-files
/// limit, at most 10,000. One more is answered 503 with a reason.
fn default_max_connections() -> usize {
    connection_cap::default_cap(4)
}
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

/// What a connection over the cap gets for every request: 503, a reason, and a close.
fn full_app(cap: &ConnectionCap) -> HttpRouter {
    let reason = cap.full_reason();
    HttpRouter::new().fallback(move || {
        let mut response = net::refusal(StatusCode::SERVICE_UNAVAILABLE, &reason);
        let headers = response.headers_mut();
        headers.insert(
            axum::http::header::CONNECTION,
            HeaderValue::from_static("close"),
        );
        headers.insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from_static("1"),
        );
        std::future::ready(response)
    })
}

/// At most one line a minute about connections over the cap.
static FULL: std::sync::LazyLock<mcchat_provider_kit::LogThrottle> =
    std::sync::LazyLock::new(|| mcchat_provider_kit::LogThrottle::per(Duration::from_secs(60)));

/// The routes: every request goes to the linked actor.
fn app(actor: ActorTransport, calls: TaskTracker) -> HttpRouter {
    let state = Forward {
        actor,
        in_flight: Arc::new(Semaphore::new(MAX_IN_FLIGHT)),
        calls,
    };
    HttpRouter::new().fallback(forward).with_state(state)
}

/// The `wasmcloud:httpserver` provider: one listener per link, on the link's `address`.
pub struct Registration;

#[async_trait]
impl registration::Registration for Registration {
    fn about(&self) -> About {
        About {
            contract: HTTPSERVER,
            name: "HTTP server (built in)",
            image_names: &[],
        }
    }

    fn apply_overrides(&self, overrides: &Overrides, values: &mut LinkValues) {
        if let Some(address) = overrides.http_addr {
            set_link_value(values, "address", address.to_string());
        }
    }

    fn check(&self, values: &LinkValues) -> anyhow::Result<()> {
        listen_address(values)?;
        max_connections(values).map(drop)
    }

    async fn start(&self, link: LinkStart<'_>) -> anyhow::Result<Box<dyn Started>> {
        let address = listen_address(link.values)?;
        let cap = ConnectionCap::new(max_connections(link.values)?);
        Ok(Box::new(Listener::start(address, cap, link).await?))
    }
}

/// The link's `MAX_CONNECTIONS`, or a quarter of the open-files limit (at most 10,000).
fn max_connections(values: &LinkValues) -> anyhow::Result<usize> {
    Ok(link_number(values, "MAX_CONNECTIONS", default_max_connections())?.max(1))
}

/// The link's `address`, or `DEFAULT_HTTP_ADDR`.
fn listen_address(values: &LinkValues) -> anyhow::Result<SocketAddr> {
    let address = link_value(values, "address").unwrap_or(DEFAULT_HTTP_ADDR);
    address
        .parse()
        .with_context(|| format!("the link value address {address:?} is not HOST:PORT"))
}

/// A listener serving one actor.
struct Listener {
    bound: SocketAddr,
    stop: CancellationToken,
    /// Ends, closing the listener, once `stop` is cancelled.
    accepting: Mutex<Option<JoinHandle<()>>>,
}

impl Listener {
    /// Binds `address` and serves until the link's `stop`; then each open connection gets
    /// `DRAIN_TIMEOUT` to finish what it started. Connections are dealt to the host's workers
    /// in turn, and each is served, with its actor calls, on the one it was dealt to.
    async fn start(
        address: SocketAddr,
        cap: ConnectionCap,
        link: LinkStart<'_>,
    ) -> anyhow::Result<Listener> {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding HTTP address {address}"))?;
        let bound = listener.local_addr()?;
        let host = link.host;
        let app = app(
            ActorTransport::new(&host.router, link.actor),
            host.tracker.clone(),
        );
        let workers = host.workers.handles().to_vec();
        let open = host.tracker.clone();
        let full = full_app(&cap);
        let mut next_worker = (0..workers.len()).cycle();
        let stop = link.stop.clone();
        let accepting = tokio::spawn(net::accept_until(
            listener,
            link.stop.clone(),
            "HTTP server",
            move |tcp, _| {
                let (slot, service) = match cap.admit() {
                    Admission::Serve(slot) => (slot, TowerToHyperService::new(app.clone())),
                    Admission::Refuse(slot) => {
                        if let Some(left_out) = FULL.admit() {
                            tracing::warn!(
                                "HTTP server on {bound}: {} connections open; answering others 503 ({left_out} more since the last such line)",
                                cap.max()
                            );
                        }
                        (slot, TowerToHyperService::new(full.clone()))
                    }
                    Admission::Close => return,
                };
                // A socket belongs to the runtime that registered it: it moves as a plain one.
                let tcp = match tcp.into_std() {
                    Ok(tcp) => tcp,
                    Err(e) => {
                        tracing::warn!(
                            "HTTP server on {bound}: could not hand a connection on: {e}"
                        );
                        return;
                    }
                };
                let stop = stop.clone();
                let worker = &workers[next_worker.next().unwrap_or_default()];
                open.spawn_on(
                    async move {
                        let _slot = slot;
                        match TcpStream::from_std(tcp) {
                            Ok(tcp) => serve_connection(tcp, service, stop).await,
                            Err(e) => tracing::warn!("HTTP server on {bound}: {e}"),
                        }
                    },
                    worker,
                );
            },
        ));
        Ok(Listener {
            bound,
            stop: link.stop,
            accepting: Mutex::new(Some(accepting)),
        })
    }
}

#[async_trait]
impl Started for Listener {
    fn handle(&self) -> ProviderHandle {
        ProviderHandle::new(Arc::new(NoOperations))
    }

    fn target(&self) -> String {
        format!("http://{}", self.bound)
    }

    fn state(&self) -> ConnectionState {
        ConnectionState::Listening
    }

    fn describe(&self) -> String {
        format!("HTTP server on http://{}", self.bound)
    }

    fn listen_address(&self) -> Option<SocketAddr> {
        Some(self.bound)
    }

    /// Closes the listener; open connections finish their requests and close.
    async fn stop(&self) {
        self.stop.cancel();
        let accepting = self.accepting.lock().expect("accepting lock").take();
        if let Some(accepting) = accepting {
            let _ = accepting.await;
        }
    }
}

/// The contract has no operations for actors to call: the HTTP server only calls in.
struct NoOperations;

#[async_trait]
impl MessageDispatch for NoOperations {
    async fn dispatch(&self, _: &Context, message: Message<'_>) -> Result<Vec<u8>, RpcError> {
        Err(RpcError::MethodNotHandled(format!(
            "{HTTPSERVER} has no operation {}",
            message.method
        )))
    }
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

async fn forward(State(forward): State<Forward>, request: Request) -> Response {
    let response = respond(forward, request).await;
    crate::telemetry::http_response(response.status().as_u16());
    response
}

fn body_too_large() -> Response {
    net::refusal(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("request body is larger than {MAX_BODY_BYTES} bytes"),
    )
}

async fn respond(forward: Forward, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // A body declared too large is refused before any of it is read.
    let declared = parts
        .headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return body_too_large();
    }
    let body = match tokio::time::timeout(BODY_READ_TIMEOUT, to_bytes(body, MAX_BODY_BYTES)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return body_too_large(),
        Err(_) => {
            return net::refusal(
                StatusCode::REQUEST_TIMEOUT,
                &format!("the request body did not arrive within {BODY_READ_TIMEOUT:?}"),
            )
        }
    };
    // Only a request that has arrived whole waits for an actor slot.
    let Ok(permit) = forward.in_flight.clone().acquire_owned().await else {
        return net::refusal(StatusCode::SERVICE_UNAVAILABLE, "the host is shutting down");
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
            net::refusal(
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
            net::refusal(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request failed inside the host; see its log",
            )
        }
    }
}
