//! The providers this host can start, one registration each. A registration is picked by the
//! link's contract and the capability component's image, as a lattice host knows a provider by
//! the image it pulls. Its `start` serves one link: the provider it returns answers the linked
//! actor's calls, describes itself for the inventory, the dashboard and `/metrics`, and stops
//! when the link is deleted or the host stops.
//!
//! Adding a provider is one `Registration` in `providers::builtin`.

use std::net::SocketAddr;
use std::path::PathBuf;

use mcchat_provider_kit::{ClusterTrust, NatsAuth};
use std::sync::Arc;

use anyhow::bail;
use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::provider::Started;
use crate::router::Router;
use crate::workers::Workers;

pub use mcchat_provider_kit::{link_value, set_link_value, LinkValues};

/// What every provider of this host starts with.
#[derive(Clone)]
pub struct HostContext {
    pub router: Arc<Router>,
    pub workers: Arc<Workers>,
    /// Work a host shutdown waits for: sessions, subscription handlers, actor calls.
    pub tracker: TaskTracker,
    /// Cancelled when the host stops; each provider stops on a child of it.
    pub shutdown: CancellationToken,
    /// NATS queue group shared by every host that serves the same chat.
    pub queue_group: String,
    /// Where the embedded key-value store keeps its file.
    pub data_dir: PathBuf,
    /// The lattice this host is part of, where a provider's instances on other hosts meet.
    pub lattice: Lattice,
}

/// A lattice: its name (`wasmbus.ctl.<name>.…`), its NATS server, and the cluster key that
/// signs what this host's providers send their instances on other hosts.
#[derive(Debug, Clone)]
pub struct Lattice {
    pub name: String,
    pub nats_url: String,
    /// The lattice user this host is, when its NATS wants credentials.
    pub auth: Option<NatsAuth>,
    pub trust: ClusterTrust,
}

/// One link to start a provider for.
pub struct LinkStart<'a> {
    pub host: &'a HostContext,
    /// The linked actor's public key.
    pub actor: &'a str,
    pub link_name: &'a str,
    pub values: &'a LinkValues,
    /// Cancelled when the link is deleted or the host stops.
    pub stop: CancellationToken,
}

/// What the host's command line overrides in the manifest's link values.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub http_addr: Option<SocketAddr>,
    pub nats_url: Option<String>,
    /// The NATS messaging link's nkey seed (`CLIENT_SEED`).
    pub nats_seed: Option<String>,
    pub ws_addr: Option<SocketAddr>,
    pub mqtt_url: Option<String>,
    pub redis_url: Option<String>,
    pub embedded_kv: bool,
}

/// What a provider is, for picking it and for people.
pub struct About {
    /// The contract it serves (`wasmcloud:messaging`).
    pub contract: &'static str,
    /// What the inventory and the dashboard call it.
    pub name: &'static str,
    /// Words one of which its capability components' image names contain (`nats` for
    /// `nats_messaging` and `messaging-nats`); none: every image of the contract.
    pub image_names: &'static [&'static str],
}

/// A provider this host can start for links.
#[async_trait]
pub trait Registration: Send + Sync {
    fn about(&self) -> About;
    fn contract(&self) -> &'static str {
        self.about().contract
    }
    fn name(&self) -> &'static str {
        self.about().name
    }
    /// Whether the capability component `image` is this provider.
    fn is_image(&self, image: &str) -> bool {
        let name = image_name(image);
        let words = self.about().image_names;
        words.is_empty() || words.iter().any(|word| name.contains(word))
    }
    /// Writes the host's command-line overrides into a manifest link's values.
    fn apply_overrides(&self, _overrides: &Overrides, _values: &mut LinkValues) {}
    /// Refuses link values it cannot serve with, before a link put stops the link it replaces.
    fn check(&self, _values: &LinkValues) -> anyhow::Result<()> {
        Ok(())
    }
    /// Starts serving one link; a bad link value is refused with its reason.
    async fn start(&self, link: LinkStart<'_>) -> anyhow::Result<Box<dyn Started>>;
}

/// The registrations, looked up in order.
pub struct Registry(Vec<Arc<dyn Registration>>);

impl Registry {
    pub fn new(registrations: Vec<Arc<dyn Registration>>) -> Registry {
        Registry(registrations)
    }

    /// The provider that serves `contract` as the capability component `image`.
    pub fn find(&self, contract: &str, image: &str) -> anyhow::Result<Arc<dyn Registration>> {
        if let Some(found) = self
            .0
            .iter()
            .find(|r| r.contract() == contract && r.is_image(image))
        {
            return Ok(found.clone());
        }
        let known: Vec<&str> = self
            .0
            .iter()
            .filter(|r| r.contract() == contract)
            .map(|r| r.name())
            .collect();
        if known.is_empty() {
            bail!("the local host has no provider for {contract}");
        }
        bail!(
            "no built-in {contract} provider is image {image}: the local host has {}",
            known.join(" and ")
        )
    }
}

/// The repository name an image reference ends in, lower case, without registry, tag or
/// digest (`…/nats_messaging:0.17.2` → `nats_messaging`).
pub fn image_name(image: &str) -> String {
    let repository = image.split('@').next().unwrap_or(image);
    let name = repository.rsplit('/').next().unwrap_or(repository);
    name.split(':')
        .next()
        .unwrap_or(name)
        .trim_end_matches(".par.gz")
        .to_ascii_lowercase()
}
