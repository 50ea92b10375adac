//! `wasmcloud:messaging` over WebSocket, in server mode (browsers connect to us) or client mode
//! (we dial a WebSocket server). See `frame` for the protocol, `subscriptions` for the subject
//! patterns a session follows, `config` for the link values and `relay` for live delivery
//! across the instances of one link.
//!
//! One implementation, run two ways: the mcchat host links this crate and starts a
//! `WebSocketMessaging` per link; the `messaging-websocket` binary is the same provider as a
//! wasmCloud capability provider, which a lattice host launches.

pub mod client;
pub mod config;
pub mod frame;
pub mod interest;
pub mod lattice;
pub mod pattern;
mod peers;
pub mod relay;
pub mod server;
mod session;
pub mod subscriptions;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_messaging::{
    Messaging, MessagingReceiver, PubMessage, ReplyMessage, RequestMessage, SubMessage,
};

pub use client::Client;
pub use config::{Config, Limits, Mode};
pub use frame::Frame;
pub use pattern::Pattern;
pub use relay::RelayConfig;
pub use server::Server;

/// The reason sessions are closed with when their link is deleted, in the host and on a lattice.
pub use mcchat_provider_kit::lattice::LINK_DELETED;
pub use mcchat_provider_kit::Deliver;

/// Why a frame could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum WebSocketError {
    #[error("WebSocket session {0} has ended")]
    SessionEnded(server::SessionId),
    #[error("WebSocket session {0} is too slow")]
    SessionTooSlow(server::SessionId),
    #[error("not connected to {0} (reconnecting)")]
    NotConnected(String),
    #[error("{0} is not keeping up; reconnecting")]
    ServerTooSlow(String),
    #[error("the request's reply inbox closed")]
    InboxClosed,
}

/// The one place a WebSocket failure becomes the error an actor sees.
impl From<WebSocketError> for RpcError {
    fn from(error: WebSocketError) -> RpcError {
        RpcError::Other(error.to_string())
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
    /// Starts the link's server or client; it stops on `stop`, and its sessions join `tracker`.
    /// A server with a `relay` shares its broadcasts and replies with the link's other
    /// instances.
    pub async fn start(
        config: Config,
        subscriber: Subscriber,
        relay: Option<&RelayConfig>,
        stop: CancellationToken,
        tracker: &TaskTracker,
    ) -> anyhow::Result<WebSocketMessaging> {
        Ok(match config.mode.clone() {
            Mode::Server(address) => WebSocketMessaging::Server(
                Server::start(config, address, subscriber, relay, stop, tracker).await?,
            ),
            Mode::Client(uri) => {
                WebSocketMessaging::Client(Client::start(config, uri, subscriber, stop, tracker)?)
            }
        })
    }

    fn send(
        &self,
        subject: &str,
        body: &[u8],
        reply_to: Option<&str>,
    ) -> Result<(), WebSocketError> {
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

impl WebSocketMessaging {
    /// What it listens on or dials: `ws://ADDRESS/ws`, or the server's URL.
    pub fn target(&self) -> String {
        match self {
            WebSocketMessaging::Server(server) => {
                format!("ws://{}{}", server.address(), server::UPGRADE_PATH)
            }
            WebSocketMessaging::Client(client) => client.uri().to_string(),
        }
    }

    /// A server listens from its start; a client is connected or redialling.
    pub fn is_connected(&self) -> bool {
        match self {
            WebSocketMessaging::Server(_) => true,
            WebSocketMessaging::Client(client) => client.is_connected(),
        }
    }

    /// Where a server listens.
    pub fn listen_address(&self) -> Option<SocketAddr> {
        match self {
            WebSocketMessaging::Server(server) => Some(server.address()),
            WebSocketMessaging::Client(_) => None,
        }
    }

    /// A server closes every session with `reason`, then its listener; a client hangs up.
    pub async fn stop(&self, reason: &str) {
        match self {
            WebSocketMessaging::Server(server) => server.stop(reason).await,
            WebSocketMessaging::Client(client) => client.stop(),
        }
    }
}

#[async_trait]
impl Messaging for WebSocketMessaging {
    async fn publish(&self, _: &Context, msg: &PubMessage) -> RpcResult<()> {
        Ok(self.send(&msg.subject, &msg.body, msg.reply_to.as_deref())?)
    }

    /// Sends the request (to every session in server mode) and waits for the first reply.
    async fn request(&self, _: &Context, msg: &RequestMessage) -> RpcResult<ReplyMessage> {
        let (inbox, reply) = self.inboxes().open();
        if let Err(e) = self.send(&msg.subject, &msg.body, Some(&inbox)) {
            self.inboxes().close(&inbox);
            return Err(e.into());
        }
        let answered = mcchat_provider_kit::await_reply(msg, async {
            reply.await.map_err(|_| WebSocketError::InboxClosed)
        })
        .await;
        self.inboxes().close(&inbox);
        let frame = answered?;
        Ok(ReplyMessage {
            subject: frame.subject,
            reply_to: frame.reply_to,
            body: frame.body,
        })
    }
}

mcchat_provider_kit::dispatch_via_receiver!(WebSocketMessaging, MessagingReceiver);
