//! The operator's dashboard (`GET /`), its live feed (`GET /api/events`, server-sent events:
//! lattice events as they happen and a state snapshot every second), its actions, and
//! `GET /metrics` for Prometheus. Actions need `Authorization: Bearer TOKEN` when the host has a
//! dashboard token.

mod guard;
mod snapshot;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wasmcloud_control_interface::{LinkDefinition, RemoveLinkDefinitionRequest};

use crate::control::{ControlError, HostState};
use crate::events::LatticeEvent;
use crate::net::{self, refusal};
use crate::provider::ConnectionState;

pub use snapshot::Snapshot;

/// Where `mcchat up` serves the dashboard unless told otherwise: loopback only, as its actions
/// steer the host.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4000";
/// How often the live feed sends a fresh snapshot (call rates, instance counts, states).
const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(1);
/// Largest replacement module accepted.
const MAX_MODULE_BYTES: usize = 64 << 20;

const PAGE: &str = include_str!("page.html");

/// `--dashboard-addr`: an address, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DashboardAddr(pub Option<SocketAddr>);

impl FromStr for DashboardAddr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.eq_ignore_ascii_case("off") {
            return Ok(DashboardAddr(None));
        }
        text.parse()
            .map(|address| DashboardAddr(Some(address)))
            .map_err(|e| format!("expected HOST:PORT or `off`: {e}"))
    }
}

#[derive(Clone)]
struct Dashboard {
    state: Arc<HostState>,
    token: Option<Arc<str>>,
    shutdown: CancellationToken,
}

/// Binds `address` and serves until `shutdown`.
pub async fn serve(
    address: SocketAddr,
    state: Arc<HostState>,
    token: Option<String>,
    other_names: Vec<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the dashboard address {address} (--dashboard-addr)"))?;
    let bound = listener.local_addr()?;
    crate::telemetry::install();
    let dashboard = Dashboard {
        state,
        token: token.filter(|t| !t.is_empty()).map(Arc::from),
        shutdown: shutdown.clone(),
    };
    let app = app(dashboard, guard::OwnHost::new(bound, other_names));
    let task = tokio::spawn(async move {
        let stopped = axum::serve(listener, app).with_graceful_shutdown(shutdown.cancelled_owned());
        if let Err(e) = stopped.await {
            tracing::warn!("dashboard on {bound} stopped: {e}");
        }
    });
    Ok((bound, task))
}

fn app(dashboard: Dashboard, own_host: guard::OwnHost) -> Router {
    let actions = Router::new()
        .route("/api/actors/{actor}/scale", post(scale_actor))
        .route("/api/actors/{actor}/stop", post(stop_actor))
        .route("/api/actors/{actor}/start", post(start_actor))
        .route(
            "/api/actors/{actor}/module",
            put(replace_actor).layer(DefaultBodyLimit::max(MAX_MODULE_BYTES)),
        )
        .route("/api/links", put(put_link).delete(delete_link))
        .route_layer(middleware::from_fn_with_state(
            dashboard.clone(),
            require_token,
        ))
        .route_layer(middleware::from_fn(guard::same_origin));
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        .route("/metrics", get(metrics))
        .route("/api/state", get(state))
        .route("/api/events", get(events))
        .merge(actions)
        .layer(middleware::from_fn_with_state(own_host, guard::own_host))
        .with_state(dashboard)
}

async fn require_token(
    State(dashboard): State<Dashboard>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(expected) = &dashboard.token {
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        if net::check_token(authorization, None, expected).is_err() {
            return refusal(
                StatusCode::UNAUTHORIZED,
                "this action needs the dashboard token (Authorization: Bearer TOKEN)",
            );
        }
    }
    next.run(request).await
}

async fn metrics(State(dashboard): State<Dashboard>) -> impl IntoResponse {
    links_connected(&dashboard.state);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::telemetry::render(),
    )
}

async fn state(State(dashboard): State<Dashboard>) -> Json<Snapshot> {
    Json(snapshot::take(&dashboard.state, dashboard.token.is_some()))
}

/// The live feed: a snapshot, the recent events, then each event as it happens and a snapshot
/// every second, until the client leaves or the host stops.
async fn events(
    State(dashboard): State<Dashboard>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (recent, live) = dashboard.state.events.subscribe();
    let mut tick = tokio::time::interval(SNAPSHOT_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let feed = Feed {
        dashboard,
        recent: recent.into(),
        live,
        tick,
        sent_state: false,
    };
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok(event), feed))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

struct Feed {
    dashboard: Dashboard,
    recent: VecDeque<Arc<LatticeEvent>>,
    live: broadcast::Receiver<Arc<LatticeEvent>>,
    tick: tokio::time::Interval,
    sent_state: bool,
}

impl Feed {
    async fn next(&mut self) -> Option<Event> {
        // The page gets the state (and the actors' names) before the events that refer to them.
        if !self.sent_state {
            self.sent_state = true;
            self.tick.reset();
            return Some(self.snapshot());
        }
        if let Some(event) = self.recent.pop_front() {
            return Some(lattice_event(&event));
        }
        loop {
            tokio::select! {
                _ = self.dashboard.shutdown.cancelled() => return None,
                _ = self.tick.tick() => return Some(self.snapshot()),
                received = self.live.recv() => match received {
                    Ok(event) => return Some(lattice_event(&event)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    }
}

impl Feed {
    fn snapshot(&self) -> Event {
        let snapshot = snapshot::take(&self.dashboard.state, self.dashboard.token.is_some());
        Event::default()
            .event("snapshot")
            .json_data(snapshot)
            .unwrap_or_else(|_| Event::default().event("snapshot").data("{}"))
    }
}

/// A lattice event as the page gets it: with its secrets masked.
fn lattice_event(event: &LatticeEvent) -> Event {
    let masked = LatticeEvent {
        name: event.name.clone(),
        data: crate::mask::event_data(&event.data),
        time: event.time,
    };
    Event::default()
        .event("lattice")
        .json_data(&masked)
        .unwrap_or_else(|_| Event::default().event("lattice").data("{}"))
}

fn answer(result: Result<(), ControlError>) -> Response {
    match result {
        Ok(()) => Json(serde_json::json!({ "accepted": true })).into_response(),
        Err(ControlError::NotFound(reason)) => refusal(StatusCode::NOT_FOUND, &reason),
        Err(ControlError::Refused(reason)) => refusal(StatusCode::BAD_REQUEST, &reason),
    }
}

#[derive(Deserialize)]
struct ScaleRequest {
    /// `null`: no limit; 0 stops the actor.
    max_instances: Option<u16>,
}

async fn scale_actor(
    State(dashboard): State<Dashboard>,
    Path(actor): Path<String>,
    body: Bytes,
) -> Response {
    let request: ScaleRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                &format!("expected JSON {{\"max_instances\": number or null}}: {e}"),
            )
        }
    };
    answer(dashboard.state.scale_actor(&actor, request.max_instances))
}

async fn stop_actor(State(dashboard): State<Dashboard>, Path(actor): Path<String>) -> Response {
    answer(dashboard.state.scale_actor(&actor, Some(0)))
}

async fn start_actor(State(dashboard): State<Dashboard>, Path(actor): Path<String>) -> Response {
    answer(dashboard.state.scale_actor(&actor, None))
}

async fn replace_actor(
    State(dashboard): State<Dashboard>,
    Path(actor): Path<String>,
    module: Bytes,
) -> Response {
    answer(
        dashboard
            .state
            .replace_actor(&actor, &module, "dashboard upload"),
    )
}

async fn put_link(State(dashboard): State<Dashboard>, body: Bytes) -> Response {
    match serde_json::from_slice::<LinkDefinition>(&body) {
        Ok(definition) => answer(dashboard.state.put_link(definition).await),
        Err(e) => refusal(
            StatusCode::BAD_REQUEST,
            &format!("expected a link definition {{actor_id, provider_id, contract_id, link_name, values}}: {e}"),
        ),
    }
}

async fn delete_link(State(dashboard): State<Dashboard>, body: Bytes) -> Response {
    match serde_json::from_slice::<RemoveLinkDefinitionRequest>(&body) {
        Ok(request) => answer(
            dashboard
                .state
                .delete_link(&request.actor_id, &request.contract_id, &request.link_name)
                .await,
        ),
        Err(e) => refusal(
            StatusCode::BAD_REQUEST,
            &format!("expected {{actor_id, contract_id, link_name}}: {e}"),
        ),
    }
}

/// Sets `LINK_CONNECTED` for every link of `state`, as a scrape reads it.
fn links_connected(state: &HostState) {
    for link in state.router.links().all() {
        let d = &link.definition;
        let up = link.provider.state() != ConnectionState::Reconnecting;
        metrics::gauge!(crate::telemetry::LINK_CONNECTED, "actor" => state.label(&d.actor_id), "contract" => d.contract_id.clone(), "link_name" => d.link_name.clone())
            .set(f64::from(u8::from(up)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_can_be_turned_off() {
        assert_eq!("off".parse::<DashboardAddr>().unwrap(), DashboardAddr(None));
        assert_eq!(
            "127.0.0.1:4000".parse::<DashboardAddr>().unwrap().0,
            Some("127.0.0.1:4000".parse().unwrap())
        );
        assert!("four thousand".parse::<DashboardAddr>().is_err());
    }
}
