//! The provider as a wasmCloud capability provider: what the `messaging-websocket` binary runs.
//! A v0.81 host launches it with its host data on stdin; wasmbus-rpc's provider side answers
//! the lattice (RPC on `wasmbus.rpc.<lattice>.<provider key>.<link name>`, checked and signed
//! invocations, link puts and deletes, health and shutdown), and hands each link here.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::BufRead;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use mcchat_provider_kit::LinkValues;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::{Context, Message, MessageDispatch};
use wasmbus_rpc::core::{HostData, LinkDefinition};
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmbus_rpc::provider::{ProviderDispatch, ProviderHandler};
use wasmcloud_interface_messaging::{MessageSubscriber, MessageSubscriberSender, SubMessage};

use crate::{Config, Deliver, RelayConfig, Subscriber, WebSocketMessaging};

/// The name the provider logs under.
pub const NAME: &str = "mcchat WebSocket messaging";
/// How long a shutdown waits for sessions to close: the host kills the process 300 ms after it
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

/// Every link of this provider instance, each its own server or client.
#[derive(Clone)]
pub struct LatticeProvider(Arc<Links>);

struct Links {
    by_actor: RwLock<HashMap<String, WebSocketMessaging>>,
    /// The lattice's NATS, where this instance meets the link's other instances.
    nats_url: String,
    lattice: String,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl LatticeProvider {
    pub fn new(host_data: &HostData) -> LatticeProvider {
        LatticeProvider(Arc::new(Links {
            by_actor: RwLock::default(),
            nats_url: host_data.lattice_rpc_url.clone(),
            lattice: host_data.lattice_rpc_prefix.clone(),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        }))
    }

    fn link(&self, actor: &str) -> Option<WebSocketMessaging> {
        self.0
            .by_actor
            .read()
            .expect("links lock")
            .get(actor)
            .cloned()
    }
}

/// Hands inbound frames to the linked actor as signed invocations over the lattice.
struct ToActor(LinkDefinition);

#[async_trait]
impl Deliver for ToActor {
    async fn deliver(&self, message: &SubMessage) -> RpcResult<()> {
        MessageSubscriberSender::for_actor(&self.0)
            .handle_message(&Context::default(), message)
            .await
    }
}

#[async_trait]
impl ProviderHandler for LatticeProvider {
    /// Starts the link's server or client. Bad values refuse the link, with the reason logged;
    /// the other links go on.
    async fn put_link(&self, link: &LinkDefinition) -> RpcResult<bool> {
        let values: LinkValues = link
            .values
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let refuse = |e: anyhow::Error| {
            let reason = format!("link from {} refused: {e:#}", link.actor_id);
            tracing::error!("{reason}");
            RpcError::InvalidParameter(reason)
        };
        let config = Config::from_link(&values).map_err(refuse)?;
        let links = &self.0;
        let relay = RelayConfig::new(
            &links.nats_url,
            &links.lattice,
            &link.link_name,
            &link.actor_id,
        );
        let provider = WebSocketMessaging::start(
            config,
            Subscriber(Arc::new(ToActor(link.clone()))),
            Some(&relay),
            links.shutdown.child_token(),
            &links.tracker,
        )
        .await
        .map_err(refuse)?;
        tracing::info!(actor = %link.actor_id, "linked: {}", provider.target());
        let replaced = links
            .by_actor
            .write()
            .expect("links lock")
            .insert(link.actor_id.clone(), provider);
        if let Some(replaced) = replaced {
            replaced.stop("the chat's link was replaced").await;
        }
        Ok(true)
    }

    async fn delete_link(&self, actor: &str) {
        let removed = self.0.by_actor.write().expect("links lock").remove(actor);
        if let Some(provider) = removed {
            provider.stop(crate::LINK_DELETED).await;
            tracing::info!(%actor, "unlinked: {}", provider.target());
        }
    }

    /// Closes every session with a reason and stops listening, within the host's grace.
    async fn shutdown(&self) -> Result<(), Infallible> {
        let links: Vec<_> = self
            .0
            .by_actor
            .write()
            .expect("links lock")
            .drain()
            .map(|(_, provider)| provider)
            .collect();
        let stopping = futures::future::join_all(
            links
                .iter()
                .map(|provider| provider.stop("the provider is shutting down")),
        );
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, stopping).await;
        self.0.shutdown.cancel();
        self.0.tracker.close();
        let _ = tokio::time::timeout(SHUTDOWN_WAIT, self.0.tracker.wait()).await;
        Ok(())
    }
}

/// An actor's call (`Messaging.Publish`, as a host names the operation) goes to the provider
/// serving that actor's link.
#[async_trait]
impl MessageDispatch for LatticeProvider {
    async fn dispatch(&self, ctx: &Context, message: Message<'_>) -> RpcResult<Vec<u8>> {
        let (service, method) = message
            .method
            .rsplit_once('.')
            .unwrap_or(("Messaging", message.method));
        if service != "Messaging" {
            return Err(RpcError::MethodNotHandled(format!(
                "{} is not a wasmcloud:messaging operation",
                message.method
            )));
        }
        let actor = ctx.actor.as_deref().unwrap_or_default();
        let Some(provider) = self.link(actor) else {
            return Err(RpcError::InvalidParameter(format!(
                "actor {actor} has no link to this provider"
            )));
        };
        let message = Message {
            method,
            arg: message.arg,
        };
        provider.dispatch(ctx, message).await
    }
}

impl ProviderDispatch for LatticeProvider {}

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
