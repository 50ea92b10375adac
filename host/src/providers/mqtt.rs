//! The MQTT messaging provider (`mcchat-provider-mqtt`), registered with the host: each link
//! gets a connection to its broker, whose messages reach the actor through the router.

use std::sync::Arc;

use async_trait::async_trait;
use mcchat_provider_mqtt::{Config, MqttMessaging, Runtimes};
use wasmcloud_interface_messaging::MessageSubscriberSender;

use super::registration::{
    self, link_value, set_link_value, About, LinkStart, LinkValues, Overrides,
};
use super::MESSAGING;
use crate::mask;
use crate::provider::{ConnectionState, ProviderHandle, Started};
use crate::router::ActorTransport;

/// How long a start waits for the broker before going on without it (the connection goes on
/// dialling in the background).
const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// The `wasmcloud:messaging` provider over MQTT.
pub struct Registration;

#[async_trait]
impl registration::Registration for Registration {
    fn about(&self) -> About {
        About {
            contract: MESSAGING,
            name: "MQTT messaging (built in)",
            image_names: &["mqtt"],
        }
    }

    /// `--mqtt-url` moves every MQTT link to that broker.
    fn apply_overrides(&self, overrides: &Overrides, values: &mut LinkValues) {
        if let Some(url) = &overrides.mqtt_url {
            set_link_value(values, "URI", url.clone());
        }
    }

    fn check(&self, values: &LinkValues) -> anyhow::Result<()> {
        Config::from_link(values).map(drop)
    }

    async fn start(&self, link: LinkStart<'_>) -> anyhow::Result<Box<dyn Started>> {
        let mut values = link.values.clone();
        // Hosts of one chat share inbound messages in the host's queue group, as on NATS.
        if link_value(&values, "QUEUE_GROUP").is_none() {
            set_link_value(&mut values, "QUEUE_GROUP", link.host.queue_group.clone());
        }
        let config = Config::from_link(&values)?;
        let transport = ActorTransport::new(&link.host.router, link.actor);
        let subscriber = Arc::new(MessageSubscriberSender::via(transport));
        // A connection per worker, as for NATS: an actor's publish goes out on its own
        // worker's connection, never waking another thread.
        let runtimes = Runtimes {
            handles: link.host.workers.handles().to_vec(),
            current: || crate::workers::current().unwrap_or(0),
        };
        let provider =
            MqttMessaging::start(config, subscriber, link.stop, &link.host.tracker, &runtimes)?;
        if !provider.wait_until_connected(CONNECT_WAIT).await {
            tracing::warn!(
                "MQTT broker {} is not reachable yet; subscribing as soon as it is",
                mask::url(&provider.target())
            );
        }
        Ok(Box::new(Linked(provider)))
    }
}

/// The provider serving one link.
struct Linked(MqttMessaging);

#[async_trait]
impl Started for Linked {
    fn handle(&self) -> ProviderHandle {
        ProviderHandle::new(Arc::new(self.0.clone()))
    }

    fn target(&self) -> String {
        self.0.target()
    }

    fn state(&self) -> ConnectionState {
        if self.0.is_connected() {
            ConnectionState::Connected
        } else {
            ConnectionState::Reconnecting
        }
    }

    fn describe(&self) -> String {
        let config = self.0.config();
        format!(
            "MQTT {} as {}: subscribed to [{}]",
            mask::url(&config.uri),
            config.client_id,
            config.shared_subscriptions().join(", ")
        )
    }

    async fn stop(&self) {
        self.0.stop().await
    }
}
