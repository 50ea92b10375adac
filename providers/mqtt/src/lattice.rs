//! The provider as a wasmCloud capability provider: what the `messaging-mqtt` binary runs. The
//! kit's `LatticeProvider` answers the lattice; each link gets its own connection, whose
//! messages reach the actor as signed invocations.

use std::sync::Arc;

use async_trait::async_trait;
use mcchat_provider_kit::lattice::{self, LinkContext, ToActor};

use crate::{Config, MqttMessaging, Runtimes};

/// The name the provider logs under.
pub const NAME: &str = "mcchat MQTT messaging";

/// Starts an `MqttMessaging` per link.
pub struct MqttLinks;

#[async_trait]
impl lattice::Links for MqttLinks {
    type Linked = MqttMessaging;
    const SERVICE: &'static str = "Messaging";

    async fn start(&self, link: LinkContext<'_>) -> anyhow::Result<MqttMessaging> {
        let config = Config::from_link(link.values)?;
        let subscriber = Arc::new(ToActor(link.link.clone()));
        MqttMessaging::start(
            config,
            subscriber,
            link.stop,
            link.tracker,
            &Runtimes::current(),
        )
    }
}

#[async_trait]
impl lattice::Linked for MqttMessaging {
    fn target(&self) -> String {
        MqttMessaging::target(self)
    }

    async fn stop(&self, _reason: &str) {
        MqttMessaging::stop(self).await
    }
}
