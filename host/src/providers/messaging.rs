//! `wasmcloud:messaging` on NATS: subscriptions from the link deliver to the actor (in a queue
//! group, so several hosts share the inbound traffic), and the actor publishes through it.
//! The client connects in the background and reconnects on its own.
//!
//! A publish never waits long: while the server is unreachable it fails at once (the real-time
//! copy of a stored message is dropped, logged and counted), so a NATS outage never stalls the
//! writes whose fan-out goes through here.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_messaging::{
    MessageSubscriber, MessageSubscriberSender, Messaging, MessagingReceiver, PubMessage,
    ReplyMessage, RequestMessage, SubMessage,
};

use crate::router::{ActorTransport, Router};

/// Messages handled at once per subscription; more wait in the client's buffer.
const MAX_IN_FLIGHT: usize = 64;
/// How long a start waits for the server to confirm the subscriptions before going on without.
const READY_WAIT: Duration = Duration::from_secs(5);
/// Longest a publish may wait for room in the client's buffer.
const PUBLISH_DEADLINE: Duration = Duration::from_millis(100);

/// What the client went through, for operators: counted here, and each logged when it happens.
#[derive(Debug, Default)]
pub struct NatsCounters {
    pub published: AtomicU64,
    /// Publishes dropped because the server was unreachable or the buffer stayed full.
    pub dropped: AtomicU64,
    pub disconnects: AtomicU64,
    /// Connections made, the first one included.
    pub connects: AtomicU64,
    pub slow_consumer: AtomicU64,
}

#[derive(Clone)]
pub struct NatsMessaging {
    client: async_nats::Client,
    pub counters: Arc<NatsCounters>,
}

fn err(e: impl std::fmt::Display) -> RpcError {
    RpcError::Nats(e.to_string())
}

impl NatsMessaging {
    /// Connects to `url` (in the background if the server is not up yet).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let counters = Arc::new(NatsCounters::default());
        let events = counters.clone();
        let server = url.to_string();
        let client = async_nats::ConnectOptions::new()
            .name("mcchat-host")
            .retry_on_initial_connect()
            .event_callback(move |event| {
                let (counters, server) = (events.clone(), server.clone());
                async move { log_event(&counters, &server, event) }
            })
            .connect(url)
            .await?;
        Ok(NatsMessaging { client, counters })
    }

    /// Subscribes to each subject in the queue group and delivers every message to `actor`,
    /// until `shutdown` is cancelled. Then each subscription drains: the server stops sending,
    /// and what it already sent to this host is still handled (the handlers join `tracker`).
    pub async fn subscribe(
        &self,
        subjects: &[String],
        queue_group: &str,
        router: &Arc<Router>,
        actor: &str,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
    ) -> anyhow::Result<()> {
        for subject in subjects {
            let mut subscription = self
                .client
                .queue_subscribe(subject.clone(), queue_group.to_string())
                .await?;
            let transport = ActorTransport::new(router, actor);
            let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
            let received = crate::telemetry::nats_received(subject);
            let (shutdown, handlers) = (shutdown.clone(), tracker.clone());
            tracker.spawn(async move {
                let mut draining = false;
                loop {
                    let message = tokio::select! {
                        message = subscription.next() => message,
                        _ = shutdown.cancelled(), if !draining => {
                            draining = true;
                            if let Err(e) = subscription.drain().await {
                                tracing::warn!("could not drain the subscription: {e}");
                                break;
                            }
                            continue;
                        }
                    };
                    let Some(message) = message else { break };
                    received.increment(1);
                    let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                    let sender = MessageSubscriberSender::via(transport.clone());
                    handlers.spawn(async move {
                        let delivered = SubMessage {
                            subject: message.subject.to_string(),
                            reply_to: message.reply.map(|r| r.to_string()),
                            body: message.payload.to_vec(),
                        };
                        if let Err(e) = sender.handle_message(&Context::default(), &delivered).await {
                            tracing::error!(subject = %delivered.subject, "actor failed to handle a message: {e}");
                        }
                        drop(permit);
                    });
                }
            });
        }
        Ok(())
    }

    /// Waits (up to a few seconds) until the server has the subscriptions, so that a host is
    /// ready for `chat.in` when its start returns. `false`: not connected yet; the client keeps
    /// trying in the background and subscribes once it connects.
    pub async fn wait_until_ready(&self) -> bool {
        matches!(
            tokio::time::timeout(READY_WAIT, self.client.flush()).await,
            Ok(Ok(()))
        )
    }

    /// Whether the client is connected now (it reconnects by itself when not).
    pub fn connection_state(&self) -> crate::control::ConnectionState {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => crate::control::ConnectionState::Connected,
            _ => crate::control::ConnectionState::Reconnecting,
        }
    }

    /// Sends everything published so far to the server.
    pub async fn flush(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.client.flush()).await;
    }
}

fn log_event(counters: &NatsCounters, server: &str, event: async_nats::Event) {
    use async_nats::Event;
    match event {
        Event::Connected => {
            let n = counters.connects.fetch_add(1, Ordering::Relaxed);
            if n > 0 {
                tracing::info!("NATS {server}: reconnected; real-time copies flow again");
            }
        }
        Event::Disconnected => {
            counters.disconnects.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                "NATS {server}: disconnected; writes go on, their real-time copies on NATS are \
                 dropped until it is back"
            );
        }
        Event::SlowConsumer(sid) => {
            counters.slow_consumer.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("NATS {server}: slow consumer on subscription {sid}; messages were dropped by the client");
        }
        other => tracing::info!("NATS {server}: {other}"),
    }
}

impl NatsMessaging {
    fn dropped(&self, subject: &str, why: &str) -> RpcError {
        let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        crate::telemetry::nats_dropped();
        // One line per 100 drops: an outage must not flood the log.
        if n % 100 == 1 {
            tracing::warn!("NATS: dropped a publish on {subject} ({why}); {n} dropped so far");
        }
        RpcError::Nats(format!("not published on {subject}: {why}"))
    }
}

#[async_trait]
impl Messaging for NatsMessaging {
    /// Publishes at once, or fails fast: never waits for a server that is not there.
    async fn publish(&self, _: &Context, msg: &PubMessage) -> RpcResult<()> {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(self.dropped(&msg.subject, "NATS is not connected"));
        }
        let body = bytes::Bytes::from(msg.body.clone());
        let publish = async {
            match &msg.reply_to {
                Some(reply_to) => {
                    self.client
                        .publish_with_reply(msg.subject.clone(), reply_to.clone(), body)
                        .await
                }
                None => self.client.publish(msg.subject.clone(), body).await,
            }
        };
        match tokio::time::timeout(PUBLISH_DEADLINE, publish).await {
            Ok(Ok(())) => {
                self.counters.published.fetch_add(1, Ordering::Relaxed);
                crate::telemetry::nats_published();
                Ok(())
            }
            Ok(Err(e)) => Err(self.dropped(&msg.subject, &e.to_string())),
            Err(_) => Err(self.dropped(&msg.subject, "the client's buffer stayed full")),
        }
    }

    async fn request(&self, _: &Context, msg: &RequestMessage) -> RpcResult<ReplyMessage> {
        let timeout = Duration::from_millis(u64::from(msg.timeout_ms.max(1)));
        let request = self
            .client
            .request(msg.subject.clone(), bytes::Bytes::from(msg.body.clone()));
        let reply = tokio::time::timeout(timeout, request)
            .await
            .map_err(|_| {
                RpcError::Timeout(format!("no reply on {} within {timeout:?}", msg.subject))
            })?
            .map_err(err)?;
        Ok(ReplyMessage {
            subject: reply.subject.to_string(),
            reply_to: reply.reply.map(|r| r.to_string()),
            body: reply.payload.to_vec(),
        })
    }
}

dispatch_via_receiver!(NatsMessaging, MessagingReceiver);
