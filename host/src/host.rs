//! Starting and stopping a host: load the manifest's actors (verifying their claims), build the
//! router, then start a provider for each link and register it with the router.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmcloud_interface_messaging::MessageSubscriberSender;

use crate::claims;
use crate::control::events::EventBus;
use crate::control::{mask, Connection, ConnectionState, HostState, StateProbe, DEFAULT_LATTICE};
use crate::dashboard::{self, DashboardAddr};
use crate::manifest::{self, ActorDecl, ActorImage, LinkDecl};
use crate::providers::keyvalue::{EmbeddedKeyValue, Metered, RedisKeyValue};
use crate::providers::messaging::NatsMessaging;
use crate::providers::websocket::{self, Subscriber, WebSocketMessaging};
use crate::providers::{
    httpserver, messaging_implementation, MessagingImpl, HTTPSERVER, KEYVALUE, MESSAGING,
};
use crate::registry::{self, PullPolicy};
use crate::router::{ActorTransport, LinkKey, LoadedActor, ProviderHandle, Router};
use crate::wapc::Runtime;

pub const DEFAULT_HTTP_ADDR: &str = "0.0.0.0:8080";
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// Hosts in the same queue group share a subscription's messages (each goes to one host).
pub const DEFAULT_QUEUE_GROUP: &str = "mcchat";

/// How long a shutdown waits for work in flight; with the final flush it stays under 10 s.
const SHUTDOWN_BUDGET: std::time::Duration = std::time::Duration::from_secs(8);

pub const DEFAULT_MANIFEST: &str = "wadm.yaml";
pub const DEFAULT_DATA_DIR: &str = ".mcchat";

/// What to run and the overrides for the manifest's link values (also `mcchat up`'s options).
#[derive(Debug, Clone, clap::Args)]
pub struct HostConfig {
    /// The application to run.
    #[arg(long, default_value = DEFAULT_MANIFEST)]
    pub manifest: PathBuf,
    /// Listen here instead of the HTTP link's address.
    #[arg(long)]
    pub http_addr: Option<SocketAddr>,
    /// Connect to this NATS server instead of the messaging link's.
    #[arg(long)]
    pub nats_url: Option<String>,
    /// Keep key-value data in Redis at this URL, whatever the manifest says.
    #[arg(long, conflicts_with = "embedded_kv")]
    pub redis_url: Option<String>,
    /// Keep key-value data in the embedded store, even where the manifest links Redis.
    #[arg(long)]
    pub embedded_kv: bool,
    /// Where the embedded store keeps its file, pulled actors their cache (`oci/`) and compiled
    /// actors theirs (`compiled/`).
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// NATS queue group shared by every host that serves the same chat.
    #[arg(long, default_value = DEFAULT_QUEUE_GROUP)]
    pub queue_group: String,
    /// Listen here instead of the address of WebSocket server links.
    #[arg(long)]
    pub ws_addr: Option<SocketAddr>,
    /// Run only actors signed by this account key (repeatable; adds to the manifest's
    /// `mcchat/trusted-issuers` annotation). With none given anywhere, any valid signer is accepted.
    #[arg(long = "trusted-issuer", value_name = "KEY")]
    pub trusted_issuers: Vec<String>,
    /// Pull actor images from this registry (`HOST[:PORT]`) over plain HTTP (repeatable; adds
    /// to WASMCLOUD_OCI_ALLOWED_INSECURE). Every other registry needs HTTPS.
    #[arg(long = "allowed-insecure", value_name = "REGISTRY")]
    pub allowed_insecure: Vec<String>,
    /// The lattice whose control interface (`wasmbus.ctl.<lattice>.…`) this host answers.
    #[arg(long, default_value = DEFAULT_LATTICE)]
    pub lattice: String,
    /// The NATS server for the control interface and its events (default: the --nats-url, or
    /// the messaging link's server, or nats://127.0.0.1:4222).
    #[arg(long)]
    pub ctl_nats_url: Option<String>,
    /// Serve the dashboard and /metrics here; `off` serves neither.
    #[arg(long, default_value = dashboard::DEFAULT_ADDR)]
    pub dashboard_addr: DashboardAddr,
    /// Dashboard actions (scale, stop, start, replace, links) need `Authorization: Bearer
    /// TOKEN`. Without a token they are open to whoever reaches the dashboard's address.
    #[arg(long, env = "MCCHAT_DASHBOARD_TOKEN", hide_env_values = true)]
    pub dashboard_token: Option<String>,
}

impl HostConfig {
    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        HostConfig {
            manifest: manifest.into(),
            http_addr: None,
            nats_url: None,
            redis_url: None,
            embedded_kv: false,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            queue_group: DEFAULT_QUEUE_GROUP.into(),
            ws_addr: None,
            trusted_issuers: Vec::new(),
            allowed_insecure: Vec::new(),
            lattice: DEFAULT_LATTICE.into(),
            ctl_nats_url: None,
            dashboard_addr: DashboardAddr(None),
            dashboard_token: None,
        }
    }
}

/// A started host. Dropping it without `shutdown` leaves its tasks running.
pub struct RunningHost {
    pub app_name: String,
    /// One line per thing started, for people.
    pub started: Vec<String>,
    /// The addresses the HTTP links are bound to.
    pub http_addrs: Vec<SocketAddr>,
    /// The WebSocket messaging links, servers and clients.
    pub websockets: Vec<WebSocketMessaging>,
    /// Where the dashboard and /metrics are served, unless turned off.
    pub dashboard_addr: Option<SocketAddr>,
    /// What the control interface and the dashboard read and steer.
    pub control: Arc<HostState>,
    router: Arc<Router>,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    /// Work that finishes before a shutdown ends: WebSocket servers, sessions and clients, NATS
    /// subscriptions and their handlers, and HTTP actor calls.
    tracker: TaskTracker,
    messaging: Vec<NatsMessaging>,
}

impl RunningHost {
    /// Where a person opens the chat: the HTTP server's page, told where the WebSocket server
    /// is when it is not on the page's own host name at port 8081 (the page's default).
    pub fn chat_page_url(&self) -> Option<String> {
        let http = self.http_addrs.first()?;
        let page = format!("http://{}/", local_name(*http));
        let ws = self.websockets.iter().find_map(|ws| match ws {
            WebSocketMessaging::Server(server) => Some(server.address()),
            WebSocketMessaging::Client(_) => None,
        });
        Some(match ws {
            Some(ws) if ws.port() != 8081 => {
                format!(
                    "{page}?ws=ws://{}{}",
                    local_name(ws),
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
    /// flight finish, flushes NATS (the acks), then drops the providers; within
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
        for nats in &self.messaging {
            nats.flush().await;
        }
        self.router.unlink_all();
    }
}

/// Loads every actor the manifest names, from files or registries; any that fails
/// verification stops the start.
async fn load_actors(
    runtime: &Runtime,
    decls: &[ActorDecl],
    trusted_issuers: &[String],
    pull_policy: &PullPolicy,
) -> Result<Vec<LoadedActor>> {
    let mut actors = Vec::with_capacity(decls.len());
    for decl in decls {
        let wasm =
            match &decl.image {
                ActorImage::File(path) => std::fs::read(path).with_context(|| {
                    format!(
                        "reading actor {} from {} (build it with `cargo xtask build`)",
                        decl.name,
                        path.display()
                    )
                })?,
                ActorImage::Registry(reference) => registry::pull_actor(reference, pull_policy)
                    .await
                    .with_context(|| format!("loading actor {}", decl.name))?,
            };
        let identity = claims::verify(&wasm, trusted_issuers)
            .map_err(|e| anyhow!("refusing actor {} ({}): {e}", decl.name, decl.image))?;
        let module = runtime
            .compile(&wasm)
            .with_context(|| format!("loading actor {}", decl.name))?;
        let image_ref = match &decl.image {
            ActorImage::File(path) => format!(
                "file://{}",
                std::fs::canonicalize(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
            ),
            ActorImage::Registry(reference) => reference.clone(),
        };
        actors.push(LoadedActor {
            identity,
            module,
            image_ref,
        });
    }
    Ok(actors)
}

/// Starts everything the manifest describes, with `config`'s overrides.
pub async fn start(config: HostConfig) -> Result<RunningHost> {
    crate::telemetry::install();
    let app = manifest::load(&config.manifest)?;
    let runtime = Runtime::with_compile_cache(&config.data_dir.join("compiled"))?;
    let mut trusted_issuers = app.trusted_issuers.clone();
    trusted_issuers.extend(config.trusted_issuers.iter().cloned());
    let pull_policy = PullPolicy {
        allowed_insecure: registry::allowed_insecure(
            &config.allowed_insecure,
            std::env::var(registry::ALLOWED_INSECURE_ENV)
                .ok()
                .as_deref(),
        ),
        data_dir: config.data_dir.clone(),
    };
    let actors = load_actors(&runtime, &app.actors, &trusted_issuers, &pull_policy).await?;
    let public_keys: Vec<String> = actors
        .iter()
        .map(|actor| actor.identity.public_key.clone())
        .collect();
    let started = actors
        .iter()
        .map(|actor| {
            let id = &actor.identity;
            format!(
                "actor {} ({}) caps [{}]",
                id.name,
                id.label(),
                id.caps.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    let events = EventBus::default();
    let router = Router::new(actors, events.clone());
    let ctl_url = config
        .ctl_nats_url
        .clone()
        .or_else(|| config.nats_url.clone())
        .or_else(|| manifest_nats_url(&app.actors))
        .unwrap_or_else(|| DEFAULT_NATS_URL.to_string());
    let control = Arc::new(HostState::new(
        &config.lattice,
        &app.name,
        &[],
        &ctl_url,
        router.clone(),
        events,
        runtime.clone(),
        trusted_issuers.clone(),
    ));
    for (_, pool) in router.actors() {
        control
            .events
            .publish("actor_started", pool.started_event(None));
    }
    let mut host = RunningHost {
        app_name: app.name.clone(),
        started,
        http_addrs: Vec::new(),
        websockets: Vec::new(),
        dashboard_addr: None,
        control,
        router,
        shutdown: CancellationToken::new(),
        tasks: Vec::new(),
        tracker: TaskTracker::new(),
        messaging: Vec::new(),
    };
    // A start that fails part-way stops what it already started (listeners, subscriptions).
    let started = async {
        apply_links(&config, &mut host, &app.actors, public_keys).await?;
        start_operator_interfaces(&config, &mut host, &ctl_url, pull_policy).await
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
    pull_policy: PullPolicy,
) -> Result<()> {
    let control = crate::control::nats::serve(
        host.control.clone(),
        ctl_url,
        pull_policy,
        host.shutdown.clone(),
    )
    .await?;
    host.tasks.push(control);
    host.started.push(format!(
        "control interface: host {} on lattice {} (wasmbus.ctl.{}.*) at {}",
        host.control.host_id(),
        host.control.lattice,
        host.control.lattice,
        mask::url(ctl_url)
    ));
    if let DashboardAddr(Some(address)) = config.dashboard_addr {
        let (bound, task) = dashboard::serve(
            address,
            host.control.clone(),
            config.dashboard_token.clone(),
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
    decls
        .iter()
        .flat_map(|decl| &decl.links)
        .filter(|link| {
            link.contract == MESSAGING
                && messaging_implementation(&link.provider_image).ok() == Some(MessagingImpl::Nats)
        })
        .find_map(|link| link.value("URI").or(link.value("URL")).map(String::from))
}

/// Starts a provider for every link of every actor and registers it with the router.
async fn apply_links(
    config: &HostConfig,
    host: &mut RunningHost,
    decls: &[ActorDecl],
    public_keys: Vec<String>,
) -> Result<()> {
    let mut embedded: Option<EmbeddedKeyValue> = None;
    for (decl, public_key) in decls.iter().zip(public_keys) {
        for link in &decl.links {
            let identity = host
                .router
                .actor(&public_key)
                .expect("loaded above")
                .identity();
            if !identity.caps.contains(&link.contract) {
                tracing::warn!(
                    "{} is linked to {} but not signed for it: its calls will be denied",
                    identity.label(),
                    link.contract
                );
            }
            let provider = start_link(config, host, &mut embedded, &public_key, link)
                .await
                .with_context(|| format!("starting {} for {}", link.contract, decl.name))?;
            let key = LinkKey {
                actor: public_key.clone(),
                contract: link.contract.clone(),
                link_name: link.link_name.clone(),
            };
            host.router.link(key, provider.handle.clone());
            let provider_id = host.control.add_provider(
                &link.contract,
                &link.link_name,
                &provider
                    .image_ref
                    .unwrap_or_else(|| link.provider_image.clone()),
                provider.name,
                Connection {
                    target: mask::url(&provider.target),
                    state: provider.state,
                },
                provider.handle,
            );
            host.control
                .record_link(wasmcloud_control_interface::LinkDefinition {
                    actor_id: public_key.clone(),
                    provider_id,
                    link_name: link.link_name.clone(),
                    contract_id: link.contract.clone(),
                    values: link.values.clone().into_iter().collect(),
                });
        }
    }
    Ok(())
}

/// A provider started for a link, and what the inventory and dashboard say about it.
struct StartedProvider {
    handle: ProviderHandle,
    name: &'static str,
    /// What it is connected to or listens on.
    target: String,
    state: StateProbe,
    /// When it is not the manifest's image (an override picked another implementation).
    image_ref: Option<String>,
}

impl StartedProvider {
    fn new(handle: ProviderHandle, name: &'static str, target: String, state: StateProbe) -> Self {
        StartedProvider {
            handle,
            name,
            target,
            state,
            image_ref: None,
        }
    }
}

fn always(state: ConnectionState) -> StateProbe {
    Arc::new(move || state)
}

/// The image the inventory shows for the built-in embedded store.
const EMBEDDED_KV_IMAGE: &str = "mcchat:builtin/keyvalue-embedded";

async fn start_link(
    config: &HostConfig,
    host: &mut RunningHost,
    embedded: &mut Option<EmbeddedKeyValue>,
    actor: &str,
    link: &LinkDecl,
) -> Result<StartedProvider> {
    match link.contract.as_str() {
        HTTPSERVER => {
            let address: SocketAddr = match config.http_addr {
                Some(address) => address,
                None => link
                    .value("address")
                    .unwrap_or(DEFAULT_HTTP_ADDR)
                    .parse()
                    .context("the link's address")?,
            };
            let (bound, task) = httpserver::serve(
                address,
                &host.router,
                actor,
                host.shutdown.clone(),
                &host.tracker,
            )
            .await?;
            host.started.push(format!(
                "HTTP server on http://{bound} -> {}",
                label(host, actor)
            ));
            host.http_addrs.push(bound);
            host.tasks.push(task);
            Ok(StartedProvider::new(
                Arc::new(NoOperations(HTTPSERVER)),
                "HTTP server (built in)",
                format!("http://{bound}"),
                always(ConnectionState::Listening),
            ))
        }
        MESSAGING => match messaging_implementation(&link.provider_image)? {
            MessagingImpl::Nats => start_nats(config, host, actor, link).await,
            MessagingImpl::WebSocket => start_websocket(config, host, actor, link).await,
        },
        KEYVALUE => {
            let redis_url = config.redis_url.as_deref().or(if config.embedded_kv {
                None
            } else {
                link.value("URL")
            });
            if let Some(url) = redis_url {
                let redis = RedisKeyValue::connect(url)
                    .await
                    .with_context(|| format!("connecting to Redis at {url}"))?;
                host.started.push(format!(
                    "key-value on Redis {} -> {}",
                    mask::url(url),
                    label(host, actor)
                ));
                let redis = Metered::new("redis", redis);
                let state = redis.state_probe();
                let mut started = StartedProvider::new(
                    Arc::new(redis),
                    "Redis key-value (built in)",
                    url.into(),
                    state,
                );
                if !link.provider_image.contains("redis") {
                    started.image_ref = Some("mcchat:builtin/keyvalue-redis".into());
                }
                return Ok(started);
            }
            let store = match embedded {
                Some(store) => store.clone(),
                None => {
                    let path = config.data_dir.join("keyvalue.redb");
                    let store = EmbeddedKeyValue::open(&path).with_context(|| {
                        format!("opening the embedded store {}", path.display())
                    })?;
                    host.started.push(format!(
                        "key-value in the embedded store {}",
                        path.display()
                    ));
                    embedded.insert(store).clone()
                }
            };
            host.started
                .push(format!("key-value (embedded) -> {}", label(host, actor)));
            let path = config.data_dir.join("keyvalue.redb").display().to_string();
            let mut started = StartedProvider::new(
                Arc::new(Metered::new("embedded", store)),
                "embedded key-value (built in)",
                path,
                always(ConnectionState::Connected),
            );
            started.image_ref = Some(EMBEDDED_KV_IMAGE.into());
            Ok(started)
        }
        other => bail!("the local host has no provider for {other}"),
    }
}

async fn start_nats(
    config: &HostConfig,
    host: &mut RunningHost,
    actor: &str,
    link: &LinkDecl,
) -> Result<StartedProvider> {
    let url = config
        .nats_url
        .as_deref()
        .or(link.value("URI"))
        .or(link.value("URL"))
        .unwrap_or(DEFAULT_NATS_URL);
    let nats = NatsMessaging::connect(url).await?;
    let subjects: Vec<String> = link
        .value("SUBSCRIPTION")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    nats.subscribe(
        &subjects,
        &config.queue_group,
        &host.router,
        actor,
        host.shutdown.clone(),
        &host.tracker,
    )
    .await?;
    if !nats.wait_until_ready().await {
        tracing::warn!("NATS at {url} is not reachable yet; subscribing as soon as it is");
    }
    host.started.push(format!(
        "NATS {url}: subscribed to [{}] in queue group {} -> {}",
        subjects.join(", "),
        config.queue_group,
        label(host, actor)
    ));
    host.messaging.push(nats.clone());
    let probe = nats.clone();
    Ok(StartedProvider::new(
        Arc::new(nats),
        "NATS messaging (built in)",
        url.to_string(),
        Arc::new(move || probe.connection_state()),
    ))
}

async fn start_websocket(
    config: &HostConfig,
    host: &mut RunningHost,
    actor: &str,
    link: &LinkDecl,
) -> Result<StartedProvider> {
    let mut ws_config = websocket::Config::from_link(&link.values)?;
    if let (websocket::Mode::Server(address), Some(overridden)) =
        (&mut ws_config.mode, config.ws_addr)
    {
        *address = overridden;
    }
    let actor_transport = ActorTransport::new(&host.router, actor);
    let subscriber = Subscriber(Arc::new(MessageSubscriberSender::via(actor_transport)));
    let provider =
        WebSocketMessaging::start(ws_config, subscriber, host.shutdown.clone(), &host.tracker)
            .await?;
    let line = match &provider {
        WebSocketMessaging::Server(server) => format!(
            "WebSocket server on ws://{}{} -> {}",
            server.address(),
            websocket::server::UPGRADE_PATH,
            label(host, actor)
        ),
        WebSocketMessaging::Client(_) => format!(
            "WebSocket client of {} -> {}",
            link.value("URI").unwrap_or_default(),
            label(host, actor)
        ),
    };
    host.started.push(line);
    host.websockets.push(provider.clone());
    let (target, state): (String, StateProbe) = match &provider {
        WebSocketMessaging::Server(server) => (
            format!(
                "ws://{}{}",
                server.address(),
                websocket::server::UPGRADE_PATH
            ),
            always(ConnectionState::Listening),
        ),
        WebSocketMessaging::Client(client) => {
            let client = client.clone();
            (
                link.value("URI").unwrap_or_default().to_string(),
                Arc::new(move || {
                    if client.is_connected() {
                        ConnectionState::Connected
                    } else {
                        ConnectionState::Reconnecting
                    }
                }),
            )
        }
    };
    Ok(StartedProvider::new(
        Arc::new(provider),
        "WebSocket messaging (built in)",
        target,
        state,
    ))
}

/// `localhost:PORT` for an address bound on every interface or on loopback, else the address.
fn local_name(address: SocketAddr) -> String {
    if address.ip().is_unspecified() || address.ip().is_loopback() {
        format!("localhost:{}", address.port())
    } else {
        address.to_string()
    }
}

fn label(host: &RunningHost, actor: &str) -> String {
    host.router.actor(actor).map_or_else(
        || actor.to_string(),
        |pool| pool.identity().label().to_string(),
    )
}

/// A provider whose contract has no operations for actors to call (the HTTP server only calls in).
struct NoOperations(&'static str);

#[async_trait::async_trait]
impl wasmbus_rpc::common::MessageDispatch for NoOperations {
    async fn dispatch(
        &self,
        _: &wasmbus_rpc::common::Context,
        message: wasmbus_rpc::common::Message<'_>,
    ) -> Result<Vec<u8>, wasmbus_rpc::error::RpcError> {
        Err(wasmbus_rpc::error::RpcError::MethodNotHandled(format!(
            "{} has no operation {}",
            self.0, message.method
        )))
    }
}
