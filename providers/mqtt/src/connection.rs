//! One link's connection: dials the broker, subscribes on every connect (a clean session
//! forgets its subscriptions), redials with backoff while the broker is away, and hands each
//! inbound message to the actor. A QoS 1 message is acknowledged to the broker once the actor
//! has handled it, in the order received, so one that was never handled is sent again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bytes::Bytes;
use mcchat_provider_kit::LogThrottle;
use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmcloud_interface_messaging::SubMessage;

use crate::{counters, topic, Config, Deliver};

/// QoS 1 messages the broker may have in flight to us at once (MQTT 5 receive maximum).
pub const IN_FLIGHT: u16 = 256;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// At most one line a minute about messages the actor refused (every one is counted).
static ACTOR_REFUSALS: LazyLock<LogThrottle> =
    LazyLock::new(|| LogThrottle::per(Duration::from_secs(60)));

/// The largest packet the broker may send: the payload limit, and room for a topic and
/// properties, so a payload just over the limit still arrives to be refused with a reason.
pub fn max_packet_size(config: &Config) -> u32 {
    let limit = config.max_payload_bytes.saturating_add(16 * 1024);
    u32::try_from(limit).unwrap_or(u32::MAX)
}

pub struct Connection {
    pub events: EventLoop,
    pub client: AsyncClient,
    pub config: Arc<Config>,
    pub subscriber: Arc<dyn Deliver>,
    pub connected: Arc<AtomicBool>,
    pub stop: CancellationToken,
    pub tracker: TaskTracker,
}

/// A received message and when its handling is done, for the acknowledger.
type Handled = (Publish, oneshot::Receiver<()>);

pub async fn run(mut connection: Connection) {
    let (handled, to_acknowledge) = mpsc::channel::<Handled>(usize::from(IN_FLIGHT) * 4);
    connection.tracker.spawn(acknowledge_in_order(
        connection.client.clone(),
        to_acknowledge,
    ));
    let uri = connection.config.target();
    let mut backoff = FIRST_BACKOFF;
    let mut last_error = String::new();
    loop {
        let event = tokio::select! {
            event = connection.events.poll() => event,
            _ = connection.stop.cancelled() => break,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = FIRST_BACKOFF;
                last_error.clear();
                connection.subscribe();
                connection.connected.store(true, Ordering::Release);
                tracing::info!(
                    "MQTT {uri}: connected as {}",
                    connection.events.options.client_id()
                );
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                let refused: Vec<_> = ack
                    .return_codes
                    .iter()
                    .filter(|code| {
                        !matches!(
                            code,
                            rumqttc::v5::mqttbytes::v5::SubscribeReasonCode::Success(_)
                        )
                    })
                    .collect();
                if !refused.is_empty() {
                    tracing::error!("MQTT {uri}: the broker refused a subscription: {refused:?}");
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let done = connection.take(publish.clone());
                if handled.send((publish, done)).await.is_err() {
                    break;
                }
            }
            Ok(Event::Incoming(Packet::Disconnect(disconnect))) => {
                tracing::warn!("MQTT {uri}: the broker disconnected us: {disconnect:?}");
            }
            Ok(_) => {}
            Err(e) => {
                let was_connected = connection.connected.swap(false, Ordering::AcqRel);
                let error = describe(&e);
                if was_connected || error != last_error {
                    tracing::warn!("MQTT {uri}: {error}; reconnecting");
                }
                last_error = error;
                tokio::select! {
                    _ = tokio::time::sleep(mcchat_provider_kit::redial::jittered(backoff)) => {}
                    _ = connection.stop.cancelled() => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    connection.connected.store(false, Ordering::Release);
    connection.say_goodbye().await;
}

fn describe(error: &ConnectionError) -> String {
    match error {
        ConnectionError::ConnectionRefused(code) => {
            format!("the broker refused the connection ({code:?})")
        }
        other => other.to_string(),
    }
}

impl Connection {
    fn subscribe(&self) {
        for filter in self.config.shared_subscriptions() {
            if let Err(e) = self.client.try_subscribe(filter.clone(), self.config.qos) {
                tracing::error!(
                    "MQTT {}: could not subscribe to {filter}: {e}",
                    self.config.target()
                );
            }
        }
    }

    /// Checks a received message and hands it to the actor in a task of its own. A message
    /// that cannot be taken is refused: logged, counted, and answered when it asked for a
    /// reply. Returns when its handling is done.
    fn take(&self, publish: Publish) -> oneshot::Receiver<()> {
        let (done, handled) = oneshot::channel();
        if publish.retain {
            // The broker's stored copy, sent again on every subscribe: it was taken when it was
            // published (a live message reaches a subscriber with its retain flag cleared).
            counters::retained_skipped();
            tracing::debug!(
                "MQTT {}: skipped a retained message on {:?}",
                self.config.target(),
                String::from_utf8_lossy(&publish.topic)
            );
            let _ = done.send(());
            return handled;
        }
        let mut reply_to = publish.properties.as_ref().and_then(|p| {
            p.response_topic
                .as_deref()
                .map(|t| (t, p.correlation_data.clone()))
        });
        let checked = match reply_to {
            Some((response_topic, _)) if self.is_subscribed(response_topic) => {
                // An answer there would be read back as a message: refused, and not answered.
                reply_to = None;
                Err(format!(
                    "the response topic {response_topic} is one the chat reads messages from"
                ))
            }
            Some((response_topic, _)) if self.is_fanout(response_topic) => {
                // An answer there would reach every device: refused, and not answered.
                reply_to = None;
                Err(format!(
                    "the response topic {response_topic} is one the chat sends every message to"
                ))
            }
            _ => self.check(&publish),
        };
        let message = match checked {
            Ok(subject) => SubMessage {
                subject,
                reply_to: reply_to.map(|(t, correlation)| {
                    topic::reply_subject(t, correlation.as_deref().unwrap_or_default())
                }),
                body: publish.payload.to_vec(),
            },
            Err(reason) => {
                let topic = String::from_utf8_lossy(&publish.topic);
                counters::refused();
                // Counted on /metrics; at debug level, so a flood of bad input fills no log.
                tracing::debug!(
                    "MQTT {}: refused a message on {topic:?}: {reason}",
                    self.config.target()
                );
                if let Some((response_topic, correlation)) = reply_to {
                    self.refuse(response_topic, correlation, &reason);
                }
                let _ = done.send(());
                return handled;
            }
        };
        let subscriber = self.subscriber.clone();
        let uri = self.config.target();
        self.tracker.spawn(async move {
            match subscriber.deliver(&message).await {
                Ok(()) => counters::delivered(),
                Err(e) => {
                    counters::refused();
                    // A device can send refusals as fast as it likes: counted, logged sparingly.
                    if let Some(left_out) = ACTOR_REFUSALS.admit() {
                        tracing::warn!(subject = %message.subject, "MQTT {uri}: the actor did not take a message: {e} ({left_out} more since the last such line)");
                    }
                }
            }
            let _ = done.send(());
        });
        handled
    }

    fn is_subscribed(&self, topic: &str) -> bool {
        self.config
            .subscriptions
            .iter()
            .any(|filter| topic::matches(filter, topic))
    }

    fn is_fanout(&self, topic: &str) -> bool {
        self.config
            .fanout_topics
            .iter()
            .any(|filter| topic::matches(filter, topic))
    }

    /// The subject a received message is delivered on, or why it is refused.
    fn check(&self, publish: &Publish) -> Result<String, String> {
        let topic = std::str::from_utf8(&publish.topic)
            .map_err(|_| "its topic is not UTF-8".to_string())?;
        if !self.is_subscribed(topic) {
            return Err(format!(
                "topic {topic} is outside the subscription ({})",
                self.config.subscriptions.join(", ")
            ));
        }
        if publish.payload.len() > self.config.max_payload_bytes {
            return Err(format!(
                "the payload is {} bytes, over the limit of {}",
                publish.payload.len(),
                self.config.max_payload_bytes
            ));
        }
        topic::subject_of(topic).map_err(|e| e.to_string())
    }

    /// Answers a refused MQTT 5 request as the chat answers one: `{"accepted":false,"reason"}`.
    fn refuse(&self, response_topic: &str, correlation: Option<Bytes>, reason: &str) {
        let body = serde_json::json!({ "accepted": false, "reason": reason }).to_string();
        let properties = PublishProperties {
            correlation_data: correlation,
            ..Default::default()
        };
        let _ = self.client.try_publish_with_properties(
            response_topic,
            QoS::AtLeastOnce,
            false,
            body,
            properties,
        );
    }

    /// Tells the broker we are leaving, so a shared subscription's messages go to the others.
    async fn say_goodbye(&mut self) {
        if self.client.try_disconnect().is_err() {
            return;
        }
        let goodbye = async {
            loop {
                match self.events.poll().await {
                    Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), goodbye).await;
    }
}

/// Acknowledges QoS 1 messages once handled, in the order they arrived (as MQTT requires).
async fn acknowledge_in_order(client: AsyncClient, mut handled: mpsc::Receiver<Handled>) {
    while let Some((publish, done)) = handled.recv().await {
        let _ = done.await;
        if publish.qos != QoS::AtMostOnce && client.ack(&publish).await.is_err() {
            break;
        }
    }
}
