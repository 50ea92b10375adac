//! `wasmcloud:messaging` over MQTT (3.1.1 and 5 clients alike; the provider speaks MQTT 5):
//! plain MQTT clients publish and subscribe with the same JSON as on NATS, topics mapped to
//! subjects (`topic`), settings from link values (`config`), one connection per link that
//! reconnects and resubscribes on its own (`connection`).
//!
//! One implementation, run two ways: the mcchat host links this crate and starts an
//! `MqttMessaging` per link; the `messaging-mqtt` binary is the same provider as a wasmCloud
//! capability provider, which a lattice host launches.

pub mod config;
mod connection;
mod counters;
pub mod lattice;
mod tls;
pub mod topic;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5::PublishProperties;
use rumqttc::v5::{AsyncClient, MqttOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_messaging::{
    Messaging, MessagingReceiver, PubMessage, ReplyMessage, RequestMessage,
};

pub use config::Config;
pub use mcchat_provider_kit::Deliver;

/// Requests queued for the connection: past this, a publish is dropped rather than waited for,
/// so a slow broker never holds up the chat's writes.
const REQUEST_QUEUE: usize = 1024;
/// How long a stop waits for the connection to say goodbye to the broker.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// Why a message could not be published.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    #[error("not published on {topic}: not connected to {uri} (reconnecting)")]
    NotConnected { topic: String, uri: String },
    #[error("not published on {topic}: the connection to {uri} is not keeping up")]
    Busy { topic: String, uri: String },
    #[error(transparent)]
    Topic(#[from] topic::TopicError),
    #[error("request over MQTT is not supported: publish with a reply subject and subscribe to it instead")]
    RequestUnsupported,
}

/// The one place an MQTT failure becomes the error an actor sees.
impl From<MqttError> for RpcError {
    fn from(error: MqttError) -> RpcError {
        match error {
            MqttError::Topic(e) => RpcError::InvalidParameter(e.to_string()),
            MqttError::RequestUnsupported => RpcError::NotImplemented,
            other => RpcError::Other(other.to_string()),
        }
    }
}

/// Where a link's connections run: one per runtime, each publishing what is sent from its own
/// runtime's threads, so a publish never wakes another thread (in the mcchat host, one per
/// worker; standalone, the one runtime there is).
#[derive(Clone)]
pub struct Runtimes {
    pub handles: Vec<tokio::runtime::Handle>,
    /// Which of `handles` the calling thread runs on.
    pub current: fn() -> usize,
}

impl Runtimes {
    /// The runtime this is called on, alone.
    pub fn current() -> Runtimes {
        Runtimes {
            handles: vec![tokio::runtime::Handle::current()],
            current: || 0,
        }
    }
}

/// The provider serving one link: its connections to the broker.
#[derive(Clone)]
pub struct MqttMessaging(Arc<Link>);

struct Link {
    config: Arc<Config>,
    connections: Vec<Connected>,
    current: fn() -> usize,
    stop: CancellationToken,
    /// The connection loops, which a stop waits for.
    running: TaskTracker,
}

/// One connection: how to publish on it, and whether it is up.
struct Connected {
    client: AsyncClient,
    connected: Arc<AtomicBool>,
}

/// The client options every connection of a link shares but its id.
fn options(config: &Config, client_id: String) -> anyhow::Result<MqttOptions> {
    let mut options = MqttOptions::new(client_id, &config.host, config.port);
    options
        .set_keep_alive(config.keep_alive)
        .set_clean_start(true)
        .set_manual_acks(true)
        // The broker sends nothing larger (MQTT 5 drops it for us), and a little room
        // above the payload limit lets a too-large message be refused with a reason.
        .set_max_packet_size(Some(connection::max_packet_size(config)))
        .set_receive_maximum(Some(connection::IN_FLIGHT));
    // Small packets go out at once: with Nagle's algorithm a request's ack waited on the
    // broker's delayed ACK, about 40 ms each way (`mqtt_requests` bench).
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    if let Some((user, password)) = &config.credentials {
        options.set_credentials(user, password);
    }
    if config.tls {
        options.set_transport(tls::transport(config)?);
    }
    Ok(options)
}

impl MqttMessaging {
    /// Starts the link's connections in the background, one on each of `runtimes` (a broker
    /// that is not up yet is dialled until it is). Each subscribes in the link's shared
    /// subscription, so they share the inbound messages; those go to `subscriber`, their
    /// deliveries join `tracker`.
    pub fn start(
        config: Config,
        subscriber: Arc<dyn Deliver>,
        stop: CancellationToken,
        tracker: &TaskTracker,
        runtimes: &Runtimes,
    ) -> anyhow::Result<MqttMessaging> {
        let config = Arc::new(config);
        let running = TaskTracker::new();
        let several = runtimes.handles.len() > 1;
        let mut connections = Vec::new();
        for (n, runtime) in runtimes.handles.iter().enumerate() {
            // Every connection needs a client id of its own.
            let client_id = if several {
                format!("{}-{}", config.client_id, n + 1)
            } else {
                config.client_id.clone()
            };
            let (client, events) = AsyncClient::new(options(&config, client_id)?, REQUEST_QUEUE);
            let connected = Arc::<AtomicBool>::default();
            runtime.spawn(
                running.track_future(connection::run(connection::Connection {
                    events,
                    client: client.clone(),
                    config: config.clone(),
                    subscriber: subscriber.clone(),
                    connected: connected.clone(),
                    stop: stop.clone(),
                    tracker: tracker.clone(),
                })),
            );
            connections.push(Connected { client, connected });
        }
        running.close();
        Ok(MqttMessaging(Arc::new(Link {
            config,
            connections,
            current: runtimes.current,
            stop,
            running,
        })))
    }

    /// The broker's URI.
    pub fn target(&self) -> String {
        self.0.config.target()
    }

    pub fn config(&self) -> &Config {
        &self.0.config
    }

    /// Every connection is up, with its subscriptions asked for; else reconnecting.
    pub fn is_connected(&self) -> bool {
        let connections = &self.0.connections;
        connections
            .iter()
            .all(|c| c.connected.load(Ordering::Acquire))
    }

    /// The connection of the runtime this is called on.
    fn here(&self) -> &Connected {
        let connections = &self.0.connections;
        &connections[(self.0.current)() % connections.len()]
    }

    /// Waits until connected, at most `limit`.
    pub async fn wait_until_connected(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_connected() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Disconnects from the broker: nothing new reaches the actor through this link.
    pub async fn stop(&self) {
        self.0.stop.cancel();
        let _ = tokio::time::timeout(STOP_WAIT, self.0.running.wait()).await;
    }

    fn send(&self, msg: &PubMessage) -> Result<(), MqttError> {
        let (topic, correlation) = topic::destination(&msg.subject)?;
        let link = &self.0;
        let uri = || link.config.target();
        let here = self.here();
        if !here.connected.load(Ordering::Acquire) {
            counters::dropped();
            return Err(MqttError::NotConnected { topic, uri: uri() });
        }
        let properties = PublishProperties {
            correlation_data: correlation.map(Bytes::from),
            response_topic: msg.reply_to.as_deref().map(topic::topic_of).transpose()?,
            ..Default::default()
        };
        let body = Bytes::copy_from_slice(&msg.body);
        let queued = here.client.try_publish_with_properties(
            topic.clone(),
            link.config.qos,
            false,
            body,
            properties,
        );
        if queued.is_err() {
            counters::dropped();
            return Err(MqttError::Busy { topic, uri: uri() });
        }
        counters::published();
        Ok(())
    }
}

#[async_trait]
impl Messaging for MqttMessaging {
    /// Publishes at the link's QoS, never retained; a reply subject goes back to its request's
    /// response topic with its correlation data.
    async fn publish(&self, _: &Context, msg: &PubMessage) -> RpcResult<()> {
        Ok(self.send(msg)?)
    }

    async fn request(&self, _: &Context, _: &RequestMessage) -> RpcResult<ReplyMessage> {
        Err(MqttError::RequestUnsupported.into())
    }
}

mcchat_provider_kit::dispatch_via_receiver!(MqttMessaging, MessagingReceiver);
