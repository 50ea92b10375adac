//! `wasmcloud:messaging` over WebSocket, in server mode (browsers connect to us) or client mode
//! (we dial a WebSocket server). See `frame` for the protocol and `config` for the link values.

pub mod client;
pub mod config;
pub mod frame;
pub mod server;
mod session;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_messaging::{
    MessageSubscriber, Messaging, MessagingReceiver, PubMessage, ReplyMessage, RequestMessage,
    SubMessage,
};

pub use client::Client;
pub use config::{Config, Limits, Mode};
pub use frame::Frame;
pub use server::Server;

/// `MessageSubscriber` as a trait object (the generated trait has an associated function).
#[async_trait]
pub trait Deliver: Send + Sync {
    async fn deliver(&self, message: &SubMessage) -> RpcResult<()>;
}

#[async_trait]
impl<T: MessageSubscriber + Send + Sync> Deliver for T {
    async fn deliver(&self, message: &SubMessage) -> RpcResult<()> {
        self.handle_message(&Context::default(), message).await
    }
}

/// Where inbound messages go: the linked actor (or, in tests, anything that subscribes).
#[derive(Clone)]
pub struct Subscriber(pub Arc<dyn Deliver>);

impl Subscriber {
    /// Hands a message to the actor. The client is told only that it failed; the log says why.
    async fn deliver(&self, message: SubMessage) -> Result<(), String> {
        self.0
            .deliver(&message)
            .await
            .map_err(|e| {
                tracing::error!(subject = %message.subject, "actor failed to handle a WebSocket frame: {e}");
                "the chat could not take this message; try again".to_string()
            })
    }
}

/// Requests the actor made and the inboxes their replies come back on.
#[derive(Default)]
pub struct Inboxes(Mutex<HashMap<String, oneshot::Sender<Frame>>>);

impl Inboxes {
    fn open(&self) -> (String, oneshot::Receiver<Frame>) {
        let inbox = format!("_ws.inbox.{}", uuid::Uuid::new_v4().simple());
        let (sender, receiver) = oneshot::channel();
        self.0
            .lock()
            .expect("inboxes lock")
            .insert(inbox.clone(), sender);
        (inbox, receiver)
    }

    fn close(&self, inbox: &str) {
        self.0.lock().expect("inboxes lock").remove(inbox);
    }

    /// Completes the request a frame answers; any other frame is handed back.
    fn complete(&self, frame: Frame) -> Option<Frame> {
        let waiting = self.0.lock().expect("inboxes lock").remove(&frame.subject);
        match waiting {
            Some(sender) => {
                let _ = sender.send(frame);
                None
            }
            None => Some(frame),
        }
    }
}

/// Hands an inbound frame on: a reply to a request the actor made completes that request; any
/// other frame goes to the actor, its reply subject mapped by `reply_to`.
async fn take_frame(
    inboxes: &Inboxes,
    subscriber: &Subscriber,
    frame: Frame,
    reply_to: impl FnOnce(String) -> String,
) -> Result<(), String> {
    let Some(frame) = inboxes.complete(frame) else {
        return Ok(());
    };
    let message = SubMessage {
        subject: frame.subject,
        reply_to: frame.reply_to.map(reply_to),
        body: frame.body,
    };
    subscriber.deliver(message).await
}

/// The provider for one link, in either mode.
#[derive(Clone)]
pub enum WebSocketMessaging {
    Server(Arc<Server>),
    Client(Arc<Client>),
}

impl WebSocketMessaging {
    /// Starts the link's server or client; its tasks end on `shutdown` and join `tracker`.
    pub async fn start(
        config: Config,
        subscriber: Subscriber,
        shutdown: CancellationToken,
        tracker: &TaskTracker,
    ) -> anyhow::Result<WebSocketMessaging> {
        Ok(match config.mode.clone() {
            Mode::Server(address) => WebSocketMessaging::Server(
                Server::start(config, address, subscriber, shutdown, tracker).await?,
            ),
            Mode::Client(uri) => WebSocketMessaging::Client(Client::start(
                config, uri, subscriber, shutdown, tracker,
            )?),
        })
    }

    fn send(&self, subject: &str, body: &[u8], reply_to: Option<&str>) -> Result<(), String> {
        match self {
            WebSocketMessaging::Server(server) => server.publish(subject, body, reply_to).map(drop),
            WebSocketMessaging::Client(client) => client.publish(subject, body, reply_to),
        }
    }

    fn inboxes(&self) -> &Inboxes {
        match self {
            WebSocketMessaging::Server(server) => &server.inboxes,
            WebSocketMessaging::Client(client) => &client.inboxes,
        }
    }
}

#[async_trait]
impl Messaging for WebSocketMessaging {
    async fn publish(&self, _: &Context, msg: &PubMessage) -> RpcResult<()> {
        self.send(&msg.subject, &msg.body, msg.reply_to.as_deref())
            .map_err(RpcError::Other)
    }

    /// Sends the request (to every session in server mode) and waits for the first reply.
    async fn request(&self, _: &Context, msg: &RequestMessage) -> RpcResult<ReplyMessage> {
        let timeout = Duration::from_millis(u64::from(msg.timeout_ms.max(1)));
        let (inbox, reply) = self.inboxes().open();
        let answered = match self.send(&msg.subject, &msg.body, Some(&inbox)) {
            Ok(()) => tokio::time::timeout(timeout, reply).await,
            Err(e) => {
                self.inboxes().close(&inbox);
                return Err(RpcError::Other(e));
            }
        };
        self.inboxes().close(&inbox);
        match answered {
            Ok(Ok(frame)) => Ok(ReplyMessage {
                subject: frame.subject,
                reply_to: frame.reply_to,
                body: frame.body,
            }),
            _ => Err(RpcError::Timeout(format!(
                "no reply on {} within {timeout:?}",
                msg.subject
            ))),
        }
    }
}

dispatch_via_receiver!(WebSocketMessaging, MessagingReceiver);
