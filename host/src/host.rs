//! Starting and stopping a host: load the manifest's actors (`load`: verified, then compiled),
//! build the router, start a provider for each link (`links`), then the control interface and
//! the dashboard. What to run and its overrides are `config`.

mod cluster;
mod config;
mod links;
mod load;

pub use config::HostConfig;
use load::{compile_actors, read_actors};

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Result;
use bytesize::ByteSize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::capacity::{ActorShape, Capacity};
use crate::control::fetch::ModuleSource;
use crate::control::{HostState, Identity};
use crate::dashboard::{self, DashboardAddr};
use crate::events::EventBus;
use crate::manifest::{self, ActorDecl};
use crate::mask;
use crate::oci::{self, PullPolicy};
use crate::providers::registration::{HostContext, Lattice};
use crate::providers::websocket;
use crate::providers::{HTTPSERVER, MESSAGING};
use crate::router::Router;
use crate::runtime::Runtime;
use crate::workers::Workers;

pub use crate::providers::nats::DEFAULT_NATS_URL;

/// Hosts in the same queue group share a subscription's messages (each goes to one host).
pub const DEFAULT_QUEUE_GROUP: &str = "mcchat";

/// How long a shutdown waits for work in flight; with the final flush it stays under 10 s.
const SHUTDOWN_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

pub const DEFAULT_MANIFEST: &str = "wadm.yaml";
pub const DEFAULT_DATA_DIR: &str = ".mcchat";

/// A started host. Dropping it without `shutdown` leaves its tasks running.
pub struct RunningHost {
    pub app_name: String,
    /// Where the dashboard and /metrics are served, unless turned off.
    pub dashboard_addr: Option<SocketAddr>,
    /// What the control interface and the dashboard read and steer, links included.
    pub control: Arc<HostState>,
    shutdown: CancellationToken,
    /// The control interface and the dashboard.
    tasks: Vec<JoinHandle<()>>,
    /// Work that finishes before a shutdown ends: WebSocket sessions, NATS subscriptions and
    /// their handlers, and HTTP connections with their actor calls.
    tracker: TaskTracker,
    /// Where HTTP connections and NATS subscriptions are served; stopped last.
    workers: Arc<Workers>,
}

impl RunningHost {
    /// One line per thing running, for people: the actors, each link's provider, the control
    /// interface.
    pub fn started_lines(&self) -> Vec<String> {
        let state = &self.control;
        let actors = state.router.actors().map(|(_, pool)| {
            let id = pool.identity();
            format!(
                "actor {} ({}, {}) caps [{}]",
                id.name,
                id.label(),
                pool.kind(),
                id.caps.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        });
        let links = state.router.links().all().into_iter().map(|link| {
            format!(
                "{} -> {}",
                link.provider.describe(),
                state.label(&link.definition.actor_id)
            )
        });
        let capacity = state.capacity();
        let engine = format!(
            "engine: {capacity}, {} of address space reserved",
            ByteSize::b(capacity.reserved()).display().iec()
        );
        let control = format!(
            "control interface: host {} on lattice {} (wasmbus.ctl.{}.*) at {}",
            state.host_id(),
            state.lattice,
            state.lattice,
            mask::url(&state.ctl_url)
        );
        actors.chain(links).chain([engine, control]).collect()
    }

    /// Where the links of `contract` listen (HTTP servers, WebSocket servers), in link order.
    fn listening(&self, contract: &str) -> Vec<SocketAddr> {
        self.control
            .router
            .links()
            .all()
            .iter()
            .filter(|link| link.definition.contract_id == contract)
            .filter_map(|link| link.provider.listen_address())
            .collect()
    }

    /// Each actor's call alias (or public key) and whether it runs as a `module` or a
    /// `component`.
    pub fn actor_kinds(&self) -> Vec<(String, &'static str)> {
        self.control
            .router
            .actors()
            .map(|(_, pool)| (pool.identity().label().to_string(), pool.kind()))
            .collect()
    }

    /// The addresses the HTTP links are bound to.
    pub fn http_addrs(&self) -> Vec<SocketAddr> {
        self.listening(HTTPSERVER)
    }

    /// The addresses the WebSocket server links are bound to.
    pub fn ws_addrs(&self) -> Vec<SocketAddr> {
        self.listening(MESSAGING)
    }

    /// Where a person opens the chat: the HTTP server's page, told where the WebSocket server
    /// is when it is not on the page's own host name at port 8081 (the page's default).
    pub fn chat_page_url(&self) -> Option<String> {
        let http = *self.http_addrs().first()?;
        let page = format!("http://{}/", local_name(http));
        Some(match self.ws_addrs().first() {
            Some(ws) if ws.port() != 8081 => {
                format!(
                    "{page}?ws=ws://{}{}",
                    local_name(*ws),
                    websocket::server::UPGRADE_PATH
                )
            }
            _ => page,
        })
    }

    /// Where an operator opens the dashboard (`/metrics` is beside it).
    pub fn dashboard_url(&self) -> Option<String> {
        self.dashboard_addr
            .map(|address| format!("http://{}/", local_name(address)))
    }

    /// Stops taking requests (listeners close, NATS subscriptions drain), lets what is in
    /// flight finish, then stops each link's provider (NATS flushes the acks); within
    /// `SHUTDOWN_BUDGET` however stuck anything is.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let finish = async {
            for task in self.tasks {
                let _ = task.await;
            }
            self.tracker.close();
            self.tracker.wait().await;
        };
        if tokio::time::timeout(SHUTDOWN_BUDGET, finish).await.is_err() {
            tracing::warn!(
                "shutdown: work still in flight after {SHUTDOWN_BUDGET:?}; stopping anyway"
            );
        }
        self.control.stop_links().await;
        self.workers.stop();
    }
}

/// Starts everything the manifest describes, with `config`'s overrides.
pub async fn start(config: HostConfig) -> Result<RunningHost> {
    crate::telemetry::install();
    let app = manifest::load(&config.manifest)?;
    let cache_dir = config
        .compile_cache
        .clone()
        .unwrap_or_else(|| config.data_dir.join("compiled"));
    let mut trusted_issuers = app.trusted_issuers.clone();
    trusted_issuers.extend(config.trusted_issuers.iter().cloned());
    let pull_policy = PullPolicy {
        allowed_insecure: oci::allowed_insecure(
            &config.allowed_insecure,
            std::env::var(oci::ALLOWED_INSECURE_ENV).ok().as_deref(),
        ),
        data_dir: config.data_dir.clone(),
    };
    let verified = read_actors(&app.actors, &trusted_issuers, &pull_policy).await?;
    let shapes: Vec<ActorShape> = verified.iter().map(|actor| actor.shape).collect();
    let capacity = Capacity::plan(&shapes, config.limits())?;
    let runtime = Runtime::with_compile_cache(&cache_dir, capacity)?;
    let actors = compile_actors(&runtime, &cache_dir, config.compiler.as_deref(), verified)?;
    let public_keys: Vec<String> = actors
        .iter()
        .map(|actor| actor.identity.public_key.clone())
        .collect();
    let providers = links::providers(&crate::providers::builtin(), &app.actors)?;
    let workers = Arc::new(match config.workers {
        Some(count) => Workers::start(usize::from(count)),
        None => Workers::per_core(),
    }?);
    let events = EventBus::default();
    let router = Router::new(
        actors,
        events.clone(),
        workers.count(),
        runtime.capacity().limits.instances_per_actor,
    );
    let ctl_url = config
        .ctl_nats_url
        .clone()
        .or_else(|| config.nats_url.clone())
        .or_else(|| manifest_nats_url(&app.actors))
        .unwrap_or_else(|| DEFAULT_NATS_URL.to_string());
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let context = HostContext {
        router: router.clone(),
        workers: workers.clone(),
        tracker: tracker.clone(),
        shutdown: shutdown.clone(),
        queue_group: config.queue_group.clone(),
        data_dir: config.data_dir.clone(),
        lattice: Lattice {
            name: config.lattice.clone(),
            nats_url: ctl_url.clone(),
            auth: config.lattice_auth()?,
            trust: cluster::trust(
                config.cluster_seed.as_deref(),
                &config.cluster_issuers,
                &config.data_dir,
            )?,
        },
    };
    let identity = Identity {
        lattice: &config.lattice,
        app_name: &app.name,
        ctl_url: &ctl_url,
    };
    for (_, pool) in router.actors() {
        events.publish("actor_started", pool.started_event(None));
    }
    let control = Arc::new(HostState::new(
        identity,
        context,
        providers,
        events,
        runtime.clone(),
        trusted_issuers.clone(),
    ));
    let mut host = RunningHost {
        app_name: app.name.clone(),
        dashboard_addr: None,
        control,
        shutdown,
        tasks: Vec::new(),
        tracker,
        workers,
    };
    // A start that fails part-way stops what it already started (listeners, subscriptions).
    let started = async {
        links::put_all(
            &host.control,
            &config.overrides(),
            &app.actors,
            &public_keys,
        )
        .await?;
        let modules = ModuleSource {
            pull_policy,
            allow_file_load: config.allow_file_load,
        };
        start_operator_interfaces(&config, &mut host, &ctl_url, modules).await
    };
    if let Err(e) = started.await {
        host.shutdown().await;
        return Err(e);
    }
    Ok(host)
}

/// The control interface on NATS, and the dashboard with /metrics.
async fn start_operator_interfaces(
    config: &HostConfig,
    host: &mut RunningHost,
    ctl_url: &str,
    modules: ModuleSource,
) -> Result<()> {
    let control = crate::control::nats::serve(
        host.control.clone(),
        ctl_url,
        modules,
        host.shutdown.clone(),
    )
    .await?;
    host.tasks.push(control);
    let (url, lattice) = (ctl_url.to_string(), host.control.lattice.clone());
    tokio::spawn(async move { crate::control::open_nats::warn_if_open(&url, &lattice).await });
    if let DashboardAddr(Some(address)) = config.dashboard_addr {
        let (bound, task) = dashboard::serve(
            address,
            host.control.clone(),
            config.dashboard_token.clone(),
            config.dashboard_hosts.clone(),
            host.shutdown.clone(),
        )
        .await?;
        host.dashboard_addr = Some(bound);
        host.tasks.push(task);
    }
    Ok(())
}

/// The NATS server the manifest's first NATS messaging link names.
fn manifest_nats_url(decls: &[ActorDecl]) -> Option<String> {
    let nats = crate::providers::nats::Registration;
    decls
        .iter()
        .flat_map(|decl| &decl.links)
        .filter(|link| {
            link.contract == MESSAGING
                && crate::providers::registration::Registration::is_image(
                    &nats,
                    &link.provider_image,
                )
        })
        .find_map(|link| link.value("URI").or(link.value("URL")).map(String::from))
}

/// `localhost:PORT` for an address bound on every interface or on loopback, else the address.
fn local_name(address: SocketAddr) -> String {
    if address.ip().is_unspecified() || address.ip().is_loopback() {
        format!("localhost:{}", address.port())
    } else {
        address.to_string()
    }
}
