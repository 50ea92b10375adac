//! `wasmcloud:messaging` on NATS: subscriptions from the link deliver to the actor (in a queue
//! group, so several hosts share the inbound traffic), and the actor publishes through it.
//! The client connects in the background and reconnects on its own.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
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

#[derive(Clone)]
pub struct NatsMessaging {
    client: async_nats::Client,
}

fn err(e: impl std::fmt::Display) -> RpcError {
    RpcError::Nats(e.to_string())
}

impl NatsMessaging {
    /// Connects to `url` (in the background if the server is not up yet).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .name("mcchat-host")
            .retry_on_initial_connect()
            .connect(url)
            .await?;
        Ok(NatsMessaging { client })
    }

    /// Subscribes to each subject in the queue group and delivers every message to `actor`,
    /// until `shutdown` is cancelled; then the subscriptions drain.
    pub async fn subscribe(
        &self,
        subjects: &[String],
        queue_group: &str,
        router: &Arc<Router>,
        actor: &str,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        let mut tasks = Vec::new();
        for subject in subjects {
            let mut subscription = self
                .client
                .queue_subscribe(subject.clone(), queue_group.to_string())
                .await?;
            let transport = ActorTransport::new(router, actor);
            let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
            let shutdown = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let message = tokio::select! {
                        message = subscription.next() => message,
                        _ = shutdown.cancelled() => {
                            let _ = subscription.unsubscribe().await;
                            break;
                        }
                    };
                    let Some(message) = message else { break };
                    let Ok(permit) = in_flight.clone().acquire_owned().await else { break };
                    let sender = MessageSubscriberSender::via(transport.clone());
                    tokio::spawn(async move {
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
            }));
        }
        Ok(tasks)
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

    /// Sends everything published so far to the server.
    pub async fn flush(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.client.flush()).await;
    }
}

#[async_trait]
impl Messaging for NatsMessaging {
    async fn publish(&self, _: &Context, msg: &PubMessage) -> RpcResult<()> {
        let body = bytes::Bytes::from(msg.body.clone());
        match &msg.reply_to {
            Some(reply_to) => {
                self.client
                    .publish_with_reply(msg.subject.clone(), reply_to.clone(), body)
                    .await
            }
            None => self.client.publish(msg.subject.clone(), body).await,
        }
        .map_err(err)
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
