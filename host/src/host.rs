//! Starting and stopping a host: load the manifest's actors (verifying their claims), build the
//! router, start a provider for each link (`links`), then the control interface and the
//! dashboard.

mod cluster;
mod links;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use bytesize::ByteSize;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::capacity::{ActorShape, Capacity, Limits};
use crate::claims;
use crate::control::fetch::ModuleSource;
use crate::control::{HostState, Identity, DEFAULT_LATTICE};
use crate::dashboard::{self, DashboardAddr};
use crate::events::EventBus;
use crate::manifest::{self, ActorDecl, ActorImage};
use crate::mask;
use crate::oci::{self, PullPolicy};
use crate::pool::LoadedActor;
use crate::precompile;
use crate::providers::registration::{HostContext, Lattice, Overrides};
use crate::providers::websocket;
use crate::providers::{HTTPSERVER, MESSAGING};
use crate::router::Router;
use crate::runtime::Runtime;
use crate::workers::Workers;
use mcchat_provider_kit::NatsAuth;

pub use crate::providers::nats::DEFAULT_NATS_URL;

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
    /// Connect to this NATS server instead of the messaging link's (`nats://USER:PASSWORD@…`
    /// for a server that wants credentials).
    #[arg(long, env = "MCCHAT_NATS_URL", hide_env_values = true)]
    pub nats_url: Option<String>,
    /// The nkey seed the NATS messaging link logs in with (its `CLIENT_SEED`), for a server
    /// that knows the chat's service user by its nkey (see "Trust zones").
    #[arg(long, env = "MCCHAT_NATS_SEED", hide_env_values = true)]
    pub nats_seed: Option<String>,
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
    /// Connect to this MQTT broker (`mqtt://[USER:PASSWORD@]HOST:PORT`, `mqtts://…`) instead
    /// of the MQTT link's.
    #[arg(long, env = "MCCHAT_MQTT_URL", hide_env_values = true)]
    pub mqtt_url: Option<String>,
    /// Run only actors signed by this account key (repeatable; adds to the manifest's
    /// `mcchat/trusted-issuers` annotation). With none given anywhere, any valid signer is accepted.
    #[arg(long = "trusted-issuer", value_name = "KEY")]
    pub trusted_issuers: Vec<String>,
    /// Let control commands (`wash update actor`) load a new module from a `file://` path.
    /// The manifest's own `file://` images load either way.
    #[arg(long, env = "WASMCLOUD_ALLOW_FILE_LOAD")]
    pub allow_file_load: bool,
    /// Pull actor images from this registry (`HOST[:PORT]`) over plain HTTP (repeatable; adds
    /// to WASMCLOUD_OCI_ALLOWED_INSECURE). Every other registry needs HTTPS.
    #[arg(long = "allowed-insecure", value_name = "REGISTRY")]
    pub allowed_insecure: Vec<String>,
    /// The lattice whose control interface (`wasmbus.ctl.<lattice>.…`) this host answers.
    #[arg(long, default_value = DEFAULT_LATTICE)]
    pub lattice: String,
    /// The lattice's NATS server: the control interface, its events and the WebSocket relay
    /// (default: the --nats-url, or the messaging link's server, or nats://127.0.0.1:4222).
    /// `nats://USER:PASSWORD@…` for the lattice's own user (see "Trust zones").
    #[arg(long, env = "MCCHAT_CTL_NATS_URL", hide_env_values = true)]
    pub ctl_nats_url: Option<String>,
    /// The lattice user's NATS credentials file (a user JWT and its seed, as `nsc` and
    /// `cargo xtask up` write them), for the control interface and the WebSocket relay.
    #[arg(long, env = "WASMCLOUD_CTL_CREDSFILE", conflicts_with = "ctl_jwt")]
    pub ctl_credsfile: Option<PathBuf>,
    /// The lattice user's JWT, with --ctl-seed (as a wasmCloud host takes them).
    #[arg(
        long,
        env = "WASMCLOUD_CTL_JWT",
        hide_env_values = true,
        requires = "ctl_seed"
    )]
    pub ctl_jwt: Option<String>,
    /// The seed that signs for --ctl-jwt.
    #[arg(
        long,
        env = "WASMCLOUD_CTL_SEED",
        hide_env_values = true,
        requires = "ctl_jwt"
    )]
    pub ctl_seed: Option<String>,
    /// The seed of the cluster key that signs what this host's providers send their instances
    /// on other hosts (default: one made and kept in DATA_DIR/cluster.nk). Hosts of one chat
    /// share it, or list each other's keys with --cluster-issuer.
    #[arg(long, env = "WASMCLOUD_CLUSTER_SEED", hide_env_values = true)]
    pub cluster_seed: Option<String>,
    /// Also believe what this cluster key signed (`C…`; repeatable, or comma-separated in
    /// WASMCLOUD_CLUSTER_ISSUERS).
    #[arg(
        long = "cluster-issuer",
        env = "WASMCLOUD_CLUSTER_ISSUERS",
        value_delimiter = ','
    )]
    pub cluster_issuers: Vec<String>,
    /// Serve the dashboard and /metrics here; `off` serves neither.
    #[arg(long, default_value = dashboard::DEFAULT_ADDR)]
    pub dashboard_addr: DashboardAddr,
    /// Dashboard actions (scale, stop, start, replace, links) need `Authorization: Bearer
    /// TOKEN`. Without a token they are open to whoever reaches the dashboard's address.
    #[arg(long, env = "MCCHAT_DASHBOARD_TOKEN", hide_env_values = true)]
    pub dashboard_token: Option<String>,
    /// Another name the dashboard answers to in `Host` (repeatable; a Prometheus that scrapes it
    /// by name). Its own addresses and `localhost` always are; any other name is refused, so a
    /// page whose name was rebound to this machine reads and steers nothing.
    #[arg(long = "dashboard-host", value_name = "NAME")]
    pub dashboard_hosts: Vec<String>,
    /// Threads serving HTTP requests and NATS messages, each with its own connections to
    /// Redis and NATS (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: Option<u16>,
    /// Keep compiled actors here instead of `DATA_DIR/compiled/`: hosts on one machine can
    /// share one, and each module is then compiled once for all of them.
    #[arg(long, value_name = "DIR")]
    pub compile_cache: Option<PathBuf>,
    /// The most instances of each actor this host holds at once, busy and idle (default 128).
    /// Its reservation of address space follows: see the README, "How much a host reserves".
    #[arg(long, env = "MCCHAT_MAX_INSTANCES", value_parser = clap::value_parser!(u16).range(2..))]
    pub max_instances: Option<u16>,
    /// The most address space the actors' memories may reserve (`4TiB`, `512GiB`; default
    /// 4 TiB, or half a `ulimit -v`). Where 4 GiB per memory fits in it, memory accesses are
    /// not bounds-checked.
    #[arg(long, env = "MCCHAT_ADDRESS_SPACE")]
    pub address_space: Option<ByteSize>,
    /// A program whose `compile-actors` subcommand compiles actors into the cache (the `mcchat`
    /// binary itself): the host then never maps the compiler. Without one, it compiles them.
    #[arg(skip)]
    pub compiler: Option<PathBuf>,
}

impl HostConfig {
    /// The lattice user's credentials, from --ctl-credsfile or --ctl-jwt and --ctl-seed.
    pub fn lattice_auth(&self) -> Result<Option<NatsAuth>> {
        match (&self.ctl_credsfile, &self.ctl_jwt, &self.ctl_seed) {
            (Some(path), _, _) => Ok(Some(NatsAuth::from_creds_file(path)?)),
            (None, Some(jwt), Some(seed)) => Ok(Some(NatsAuth::Jwt {
                jwt: jwt.clone(),
                seed: seed.clone(),
            })),
            _ => Ok(None),
        }
    }

    /// The limits the engine's reservation is planned within.
    pub fn limits(&self) -> Limits {
        Limits::new(self.max_instances, self.address_space)
    }

    /// What this configuration overrides in the manifest's link values.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            http_addr: self.http_addr,
            nats_url: self.nats_url.clone(),
            nats_seed: self.nats_seed.clone(),
            ws_addr: self.ws_addr,
            mqtt_url: self.mqtt_url.clone(),
            redis_url: self.redis_url.clone(),
            embedded_kv: self.embedded_kv,
        }
    }

    pub fn new(manifest: impl Into<PathBuf>) -> Self {
        HostConfig {
            manifest: manifest.into(),
            http_addr: None,
            nats_url: None,
            nats_seed: None,
            redis_url: None,
            embedded_kv: false,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            queue_group: DEFAULT_QUEUE_GROUP.into(),
            ws_addr: None,
            mqtt_url: None,
            trusted_issuers: Vec::new(),
            allow_file_load: false,
            allowed_insecure: Vec::new(),
            lattice: DEFAULT_LATTICE.into(),
            ctl_nats_url: None,
            ctl_credsfile: None,
            ctl_jwt: None,
            ctl_seed: None,
            cluster_seed: None,
            cluster_issuers: Vec::new(),
            dashboard_addr: DashboardAddr(None),
            dashboard_token: None,
            dashboard_hosts: Vec::new(),
            workers: None,
            compile_cache: None,
            max_instances: None,
            address_space: None,
            compiler: None,
        }
    }
}

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

/// An actor read and verified, not compiled yet.
struct VerifiedActor {
    identity: claims::ActorIdentity,
    wasm: Vec<u8>,
    shape: ActorShape,
    image_ref: String,
}

/// Reads every actor the manifest names, from files or registries; any that fails
/// verification stops the start.
async fn read_actors(
    decls: &[ActorDecl],
    trusted_issuers: &[String],
    pull_policy: &PullPolicy,
) -> Result<Vec<VerifiedActor>> {
    let mut verified = Vec::with_capacity(decls.len());
    for decl in decls {
        let wasm = match &decl.image {
            ActorImage::File(path) => std::fs::read(path).with_context(|| {
                format!(
                    "reading actor {} from {} (build it with `cargo xtask build`)",
                    decl.name,
                    path.display()
                )
            })?,
            ActorImage::Registry(reference) => oci::pull_actor(reference, pull_policy)
                .await
                .with_context(|| format!("loading actor {}", decl.name))?,
        };
        let identity = claims::verify(&wasm, trusted_issuers)
            .map_err(|e| anyhow!("refusing actor {} ({}): {e}", decl.name, decl.image))?;
        let shape =
            ActorShape::of(&wasm).with_context(|| format!("loading actor {}", decl.name))?;
        let image_ref = match &decl.image {
            ActorImage::File(path) => format!(
                "file://{}",
                std::fs::canonicalize(path)
                    .unwrap_or_else(|_| path.clone())
                    .display()
            ),
            ActorImage::Registry(reference) => reference.clone(),
        };
        verified.push(VerifiedActor {
            identity,
            wasm,
            shape,
            image_ref,
        });
    }
    Ok(verified)
}

/// Compiles the verified actors: in a child process into the cache first when `compiler` is
/// given, so the host loads them from there.
fn compile_actors(
    runtime: &Runtime,
    cache_dir: &Path,
    compiler: Option<&Path>,
    verified: Vec<VerifiedActor>,
) -> Result<Vec<LoadedActor>> {
    if let Some(compiler) = compiler {
        let modules: Vec<&[u8]> = verified.iter().map(|actor| &actor.wasm[..]).collect();
        let bounds_checks = runtime.capacity().bounds_checks;
        if let Err(e) = precompile::in_child(compiler, cache_dir, bounds_checks, &modules) {
            tracing::warn!("compiling the actors in this process instead: {e:#}");
        }
    }
    verified
        .into_iter()
        .map(|actor| {
            let module = runtime
                .compile(&actor.wasm)
                .with_context(|| format!("loading actor {}", actor.identity.name))?;
            Ok(LoadedActor {
                identity: actor.identity,
                module,
                shape: actor.shape,
                image_ref: actor.image_ref,
            })
        })
        .collect()
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
