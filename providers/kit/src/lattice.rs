//! A provider crate as a wasmCloud capability provider: what each provider binary runs. A v0.81
//! host launches it with its host data on stdin; wasmbus-rpc's provider side answers the
//! lattice (RPC on `wasmbus.rpc.<lattice>.<provider key>.<link name>`, checked and signed
//! invocations, link puts and deletes, health and shutdown), and hands each link to the
//! provider's `Links::start`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::{Context, Message, MessageDispatch};
use wasmbus_rpc::core::{HostData, LinkDefinition};

use crate::{ClusterTrust, NatsAuth};
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmbus_rpc::provider::{ProviderDispatch, ProviderHandler};
use wasmcloud_interface_messaging::{MessageSubscriber, MessageSubscriberSender, SubMessage};

use crate::deliver::Deliver;
use crate::LinkValues;

/// How long a shutdown waits for links to stop: the host kills the process 300 ms after it
/// asked it to stop.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(200);

/// Why the host data on stdin cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HostDataError {
    #[error("no host data on stdin (a wasmCloud host writes it as one line of base64 JSON)")]
    Missing,
    #[error("reading the host data from stdin: {0}")]
    Read(#[from] std::io::Error),
    #[error("the host data on stdin is not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
    #[error("the host data on stdin is not host data JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("the host data names no NATS server (lattice_rpc_url)")]
    NoNatsUrl,
}

/// Reads the host data a host writes on stdin: one line of base64-encoded JSON.
pub fn read_host_data(input: impl BufRead) -> Result<HostData, HostDataError> {
    let line = input.lines().next().ok_or(HostDataError::Missing)??;
    let line = line.trim();
    if line.is_empty() {
        return Err(HostDataError::Missing);
    }
    let json = base64::engine::general_purpose::STANDARD.decode(line)?;
    let host_data: HostData = serde_json::from_slice(&json)?;
    if host_data.lattice_rpc_url.trim().is_empty() {
        return Err(HostDataError::NoNatsUrl);
    }
    Ok(host_data)
}

/// What a provider binary's `main` is: reads the host data, then serves the lattice until the
/// host shuts it down. Bad host data is one line on stderr and a failed exit.
pub fn run<L: Links>(program: &str, name: &str, links: impl FnOnce(&HostData) -> L) -> ExitCode {
    let host_data = match read_host_data(std::io::stdin().lock()) {
        Ok(host_data) => host_data,
        Err(e) => {
            eprintln!("{program}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let provider = LatticeProvider::new(&host_data, links(&host_data));
    match wasmbus_rpc::provider::prelude::provider_start(provider, host_data, Some(name.into())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where one link's provider runs on a lattice.
pub struct LinkContext<'a> {
    pub link: &'a LinkDefinition,
    pub values: &'a LinkValues,
    /// The lattice's NATS, where a provider's instances on other hosts meet.
    pub nats_url: &'a str,
    /// The user the host reaches that NATS as, when it has credentials (`lattice_rpc_user_*`).
    pub nats_user: Option<&'a NatsAuth>,
    /// The cluster key (`invocation_seed`) and the issuers believed (`cluster_issuers`).
    pub trust: &'a ClusterTrust,
    /// The lattice's name (`lattice_rpc_prefix`).
    pub lattice: &'a str,
    /// Cancelled when the provider shuts down.
    pub stop: CancellationToken,
    /// Work a shutdown waits for.
    pub tracker: &'a TaskTracker,
}

/// What a provider crate gives the lattice: how to serve one link.
#[async_trait]
pub trait Links: Send + Sync + 'static {
    type Linked: Linked;
    /// The contract's service, as a host names an operation (`Messaging` in
    /// `Messaging.Publish`).
    const SERVICE: &'static str;
    /// Starts serving a link; a bad link value refuses it with the reason.
    async fn start(&self, link: LinkContext<'_>) -> anyhow::Result<Self::Linked>;
}

/// One link's provider.
#[async_trait]
pub trait Linked: MessageDispatch + Clone + Send + Sync + 'static {
    /// What it listens on or connects to, for the log.
    fn target(&self) -> String;
    /// Stops serving the link, telling its clients `reason` where it can.
    async fn stop(&self, reason: &str);
}

/// The reason a link's clients are given when the link is deleted.
pub const LINK_DELETED: &str = "the chat's link to this server was deleted";

/// Every link of this provider instance, each served by its own `L::Linked`.
pub struct LatticeProvider<L: Links>(Arc<Instance<L>>);

impl<L: Links> Clone for LatticeProvider<L> {
    fn clone(&self) -> Self {
        LatticeProvider(self.0.clone())
    }
}

struct Instance<L: Links> {
    links: L,
    by_actor: RwLock<HashMap<String, L::Linked>>,
    nats_url: String,
    nats_user: Option<NatsAuth>,
    trust: ClusterTrust,
    lattice: String,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl<L: Links> LatticeProvider<L> {
    pub fn new(host_data: &HostData, links: L) -> LatticeProvider<L> {
        let nats_user = (!host_data.lattice_rpc_user_jwt.is_empty()).then(|| NatsAuth::Jwt {
            jwt: host_data.lattice_rpc_user_jwt.clone(),
            seed: host_data.lattice_rpc_user_seed.clone(),
        });
        // A host that gives no cluster key: this instance's frames are its own alone.
        let trust = ClusterTrust::new(
            &host_data.invocation_seed,
            host_data.cluster_issuers.iter().cloned(),
        )
        .unwrap_or_else(|e| {
            tracing::warn!("no usable cluster key from the host ({e}); generating one");
            ClusterTrust::generate()
        });
        LatticeProvider(Arc::new(Instance {
            links,
            by_actor: RwLock::default(),
            nats_url: host_data.lattice_rpc_url.clone(),
            nats_user,
            trust,
            lattice: host_data.lattice_rpc_prefix.clone(),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }))
    }

    fn link(&self, actor: &str) -> Option<L::Linked> {
        let by_actor = self.0.by_actor.read().expect("links lock");
        by_actor.get(actor).cloned()
    }
}

/// Hands inbound messages to the linked actor as signed invocations over the lattice.
pub struct ToActor(pub LinkDefinition);

#[async_trait]
impl Deliver for ToActor {
    async fn deliver(&self, message: &SubMessage) -> RpcResult<()> {
        MessageSubscriberSender::for_actor(&self.0)
            .handle_message(&Context::default(), message)
            .await
    }
}

#[async_trait]
impl<L: Links> ProviderHandler for LatticeProvider<L> {
    /// Starts the link's provider. Bad values refuse the link, with the reason logged; the
    /// other links go on.
    async fn put_link(&self, link: &LinkDefinition) -> RpcResult<bool> {
        let values: LinkValues = link
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let instance = &self.0;
        let context = LinkContext {
            link,
            values: &values,
            nats_url: &instance.nats_url,
            nats_user: instance.nats_user.as_ref(),
            trust: &instance.trust,
            lattice: &instance.lattice,
            stop: instance.shutdown.child_token(),
            tracker: &instance.tracker,
        };
        let linked = instance.links.start(context).await.map_err(|e| {
            let reason = format!("link from {} refused: {e:#}", link.actor_id);
            tracing::error!("{reason}");
            RpcError::InvalidParameter(reason)
        })?;
        tracing::info!(actor = %link.actor_id, "linked: {}", linked.target());
        let replaced = instance
            .by_actor
            .write()
            .expect("links lock")
            .insert(link.actor_id.clone(), linked);
        if let Some(replaced) = replaced {
            replaced.stop("the chat's link was replaced").await;
        }
        Ok(true)
    }

    async fn delete_link(&self, actor: &str) {
        let removed = self.0.by_actor.write().expect("links lock").remove(actor);
        if let Some(linked) = removed {
            linked.stop(LINK_DELETED).await;
            tracing::info!(%actor, "unlinked: {}", linked.target());
        }
    }

    /// Stops every link, telling clients why, within the host's grace.
    async fn shutdown(&self) -> Result<(), Infallible> {
        let links: Vec<_> = self
            .0
            .by_actor
            .write()
            .expect("links lock")
            .drain()
            .map(|(_, linked)| linked)
            .collect();
        let stopping = futures::future::join_all(
            links
                .iter()
                .map(|linked| linked.stop("the provider is shutting down")),
        );
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, stopping).await;
        self.0.shutdown.cancel();
        self.0.tracker.close();
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.0.tracker.wait()).await;
        Ok(())
    }
}

/// An actor's call (`Messaging.Publish`, as a host names the operation) goes to the provider
/// serving that actor's link: linking is what lets an actor call a provider.
#[async_trait]
impl<L: Links> MessageDispatch for LatticeProvider<L> {
    async fn dispatch(&self, ctx: &Context, message: Message<'_>) -> RpcResult<Vec<u8>> {
        let (service, method) = message
            .method
            .rsplit_once('.')
            .unwrap_or((L::SERVICE, message.method));
        if service != L::SERVICE {
            return Err(RpcError::MethodNotHandled(format!(
                "{} is not an operation of {}",
                message.method,
                L::SERVICE
            )));
        }
        let actor = ctx.actor.as_deref().unwrap_or_default();
        let Some(linked) = self.link(actor) else {
            return Err(RpcError::InvalidParameter(format!(
                "actor {actor} has no link to this provider"
            )));
        };
        let message = Message {
            method,
            arg: message.arg,
        };
        linked.dispatch(ctx, message).await
    }
}

impl<L: Links> ProviderDispatch for LatticeProvider<L> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    #[test]
    fn host_data_is_one_line_of_base64_json_naming_the_nats_server() {
        let json = r#"{"lattice_rpc_url":"nats://127.0.0.1:4222","lattice_rpc_prefix":"default","env_values":{},"link_definitions":[],"cluster_issuers":[]}"#;
        let host_data = read_host_data(format!("{}\n", encoded(json)).as_bytes()).unwrap();
        assert_eq!(host_data.lattice_rpc_url, "nats://127.0.0.1:4222");

        let refused = |input: &str| read_host_data(input.as_bytes()).unwrap_err().to_string();
        assert!(refused("").contains("no host data"));
        assert!(refused("not base64!\n").contains("not base64"));
        assert!(refused(&encoded("{nope")).contains("not host data JSON"));
        let no_url = r#"{"env_values":{},"link_definitions":[],"cluster_issuers":[]}"#;
        assert!(refused(&encoded(no_url)).contains("no NATS server"));
    }
}
