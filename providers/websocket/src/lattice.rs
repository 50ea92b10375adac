//! The provider as a wasmCloud capability provider: what the `messaging-websocket` binary runs.
//! The kit's `LatticeProvider` answers the lattice; each link gets its own server or client,
//! whose broadcasts meet the link's instances on other hosts over the lattice's NATS.

use std::sync::Arc;

use async_trait::async_trait;
use mcchat_provider_kit::lattice::{self, LinkContext, ToActor};

use crate::{Config, RelayConfig, Subscriber, WebSocketMessaging};

/// The name the provider logs under.
pub const NAME: &str = "mcchat WebSocket messaging";

/// Starts a `WebSocketMessaging` per link.
pub struct WebSocketLinks;

#[async_trait]
impl lattice::Links for WebSocketLinks {
    type Linked = WebSocketMessaging;
    const SERVICE: &'static str = "Messaging";

    async fn start(&self, link: LinkContext<'_>) -> anyhow::Result<WebSocketMessaging> {
        let config = Config::from_link(link.values)?;
        let mut relay = RelayConfig::new(
            link.nats_url,
            link.lattice,
            &link.link.link_name,
            &link.link.actor_id,
            link.trust.clone(),
        );
        relay.nats_user = link.nats_user.cloned();
        let subscriber = Subscriber(Arc::new(ToActor(link.link.clone())));
        WebSocketMessaging::start(config, subscriber, Some(&relay), link.stop, link.tracker).await
    }
}

#[async_trait]
impl lattice::Linked for WebSocketMessaging {
    fn target(&self) -> String {
        WebSocketMessaging::target(self)
    }

    async fn stop(&self, reason: &str) {
        WebSocketMessaging::stop(self, reason).await
    }
}
