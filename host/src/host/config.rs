//! What a host runs and the overrides for the manifest's link values: `mcchat up`'s options.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use bytesize::ByteSize;

use super::{DEFAULT_DATA_DIR, DEFAULT_MANIFEST, DEFAULT_QUEUE_GROUP};
use crate::capacity::Limits;
use crate::control::DEFAULT_LATTICE;
use crate::dashboard::{self, DashboardAddr};
use crate::providers::registration::Overrides;
use mcchat_provider_kit::NatsAuth;

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
