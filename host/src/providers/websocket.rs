//! The WebSocket messaging provider (`mcchat-provider-websocket`), registered with the host:
//! each link gets a server or a client whose frames reach the actor through the router, and
//! whose broadcasts reach the sessions of every instance of the link on the lattice.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
pub use mcchat_provider_websocket::{
    server, Config, Limits, Mode, RelayConfig, Subscriber, WebSocketMessaging,
};
use wasmcloud_interface_messaging::MessageSubscriberSender;

use super::registration::{
    self, link_value, set_link_value, About, LinkStart, LinkValues, Overrides,
};
use super::MESSAGING;
use crate::mask;
use crate::provider::{ConnectionState, ProviderHandle, Started};
use crate::router::ActorTransport;

/// The `wasmcloud:messaging` provider over WebSocket: per link, a server browsers connect to,
/// or a client of a remote server.
pub struct Registration;

#[async_trait]
impl registration::Registration for Registration {
    fn about(&self) -> About {
        About {
            contract: MESSAGING,
            name: "WebSocket messaging (built in)",
            image_names: &["websocket"],
        }
    }

    /// `--ws-addr` moves a server; a client dials where its link says.
    fn apply_overrides(&self, overrides: &Overrides, values: &mut LinkValues) {
        let server = link_value(values, "MODE").is_none_or(|m| m.eq_ignore_ascii_case("server"));
        if let (Some(address), true) = (overrides.ws_addr, server) {
            set_link_value(values, "URI", address.to_string());
        }
    }

    fn check(&self, values: &LinkValues) -> anyhow::Result<()> {
        Config::from_link(values).map(drop)
    }

    async fn start(&self, link: LinkStart<'_>) -> anyhow::Result<Box<dyn Started>> {
        let config = Config::from_link(link.values)?;
        let host = link.host;
        let transport = ActorTransport::new(&host.router, link.actor);
        let subscriber = Subscriber(Arc::new(MessageSubscriberSender::via(transport)));
        let mut relay = RelayConfig::new(
            &host.lattice.nats_url,
            &host.lattice.name,
            link.link_name,
            link.actor,
            host.lattice.trust.clone(),
        );
        relay.nats_user = host.lattice.auth.clone();
        let provider =
            WebSocketMessaging::start(config, subscriber, Some(&relay), link.stop, &host.tracker)
                .await?;
        Ok(Box::new(Linked(provider)))
    }
}

/// The provider serving one link.
struct Linked(WebSocketMessaging);

#[async_trait]
impl Started for Linked {
    fn handle(&self) -> ProviderHandle {
        ProviderHandle::new(Arc::new(self.0.clone()))
    }

    fn target(&self) -> String {
        self.0.target()
    }

    fn state(&self) -> ConnectionState {
        match &self.0 {
            WebSocketMessaging::Server(_) => ConnectionState::Listening,
            WebSocketMessaging::Client(_) if self.0.is_connected() => ConnectionState::Connected,
            WebSocketMessaging::Client(_) => ConnectionState::Reconnecting,
        }
    }

    fn describe(&self) -> String {
        match &self.0 {
            WebSocketMessaging::Server(_) => format!("WebSocket server on {}", self.target()),
            WebSocketMessaging::Client(client) => {
                format!("WebSocket client of {}", mask::url(client.uri()))
            }
        }
    }

    fn listen_address(&self) -> Option<SocketAddr> {
        self.0.listen_address()
    }

    async fn stop(&self) {
        self.0.stop(mcchat_provider_websocket::LINK_DELETED).await
    }
}
