//! Server mode: browsers connect to `GET /ws`; each connection is a session with its own id.
//! Inbound frames go to the linked actor, but for the subscriptions a session changes (see
//! `subscriptions`). The actor's publishes go to every session with a pattern that matches the
//! subject, except a publish to a session's reply subject, which reaches that session alone.
//! With a relay, every instance of the link does the same for its own sessions (see `relay`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use mcchat_provider_kit::net::{self, TokenRefused};
use mcchat_provider_kit::{Admission, ConnectionCap};

use crate::frame::{self, Frame};
use crate::interest::Interest;
use crate::pattern::{BadPattern, Pattern};
use crate::relay::{Relay, RelayConfig, Relayed};
use crate::session::{self, Inbound, Outbox, Refused};
use crate::subscriptions::{self, Change};
use crate::{take_frame, Config, Inboxes, Subscriber, WebSocketError};

/// The path browsers upgrade on.
pub const UPGRADE_PATH: &str = "/ws";
/// Reply subjects handed to the actor:
/// `_ws.reply.<instance>.<session>.<the client's reply_to>`.
const REPLY_PREFIX: &str = "_ws.reply.";
/// How long a client has to finish the upgrade.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

pub type SessionId = u64;

/// The sessions connected, and the patterns each follows.
#[derive(Default)]
struct Sessions {
    outboxes: HashMap<SessionId, Outbox>,
    interest: Interest<SessionId>,
}

impl Sessions {
    fn join(&mut self, id: SessionId, outbox: Outbox, defaults: &[Pattern]) {
        self.outboxes.insert(id, outbox);
        self.interest.join(id, defaults);
    }

    fn leave(&mut self, id: SessionId) {
        self.outboxes.remove(&id);
        self.interest.leave(id);
    }
}

pub struct Server {
    sessions: RwLock<Sessions>,
    config: Config,
    subscriber: Subscriber,
    pub(crate) inboxes: Inboxes,
    address: SocketAddr,
    /// This instance's id, in its sessions' reply subjects.
    instance: String,
    /// The other instances of this link, if it has a relay.
    relay: Option<Arc<Relay>>,
    stop: CancellationToken,
    /// Ends, closing the listener, once `stop` is cancelled.
    accepting: Mutex<Option<JoinHandle<()>>>,
    /// Connections open at most, upgraded or not (`MAX_SESSIONS`).
    cap: ConnectionCap,
}

/// The HTTP answer to an upgrade that is refused: `status` and `{"reason"}`.
fn refusal(status: StatusCode, reason: &str) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(net::reason_body(reason)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        "application/json".parse().expect("a valid header"),
    );
    response
}

/// Where a publish goes.
#[derive(Debug, PartialEq, Eq)]
enum Destination<'a> {
    /// A reply to one session's frame, on the instance holding that session; the frame goes
    /// out with the client's own reply subject.
    Session {
        instance: &'a str,
        session: SessionId,
        reply_to: &'a str,
    },
    Everyone,
}

fn destination(subject: &str) -> Destination<'_> {
    subject
        .strip_prefix(REPLY_PREFIX)
        .and_then(session_destination)
        .unwrap_or(Destination::Everyone)
}

/// `<instance>.<session>.<reply_to>`.
fn session_destination(rest: &str) -> Option<Destination<'_>> {
    let (instance, rest) = rest.split_once('.')?;
    let (session, reply_to) = rest.split_once('.')?;
    Some(Destination::Session {
        instance,
        session: session.parse().ok()?,
        reply_to,
    })
}

fn reply_subject(instance: &str, session: SessionId, reply_to: &str) -> String {
    format!("{REPLY_PREFIX}{instance}.{session}.{reply_to}")
}

impl Server {
    /// Binds the listen address and accepts sessions until `stop`; with `relay`, also takes
    /// the other instances' frames for its sessions.
    pub async fn start(
        config: Config,
        address: SocketAddr,
        subscriber: Subscriber,
        relay: Option<&RelayConfig>,
        stop: CancellationToken,
        tracker: &TaskTracker,
    ) -> anyhow::Result<Arc<Server>> {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("binding WebSocket address {address}"))?;
        let instance = uuid::Uuid::new_v4().simple().to_string();
        let relay = match relay {
            None => None,
            Some(relay) => Some(Self::start_relay(relay, &instance, stop.clone(), tracker).await?),
        };
        let max_sessions = config.limits.max_sessions;
        let server = Arc::new(Server {
            sessions: RwLock::default(),
            config,
            subscriber,
            inboxes: Inboxes::default(),
            address: listener.local_addr()?,
            instance,
            relay: relay.as_ref().map(|(relay, _)| relay.clone()),
            stop: stop.clone(),
            accepting: Mutex::default(),
            cap: ConnectionCap::new(max_sessions),
        });
        if let Some((_, target)) = relay {
            let _ = target.set(Arc::downgrade(&server));
        }
        let (accepting, sessions) = (server.clone(), tracker.clone());
        let accept = net::accept_until(
            listener,
            stop.clone(),
            "WebSocket server",
            move |tcp, peer| {
                let (server, stop) = (accepting.clone(), stop.clone());
                let admission = server.cap.admit();
                if matches!(admission, Admission::Close) {
                    return; // a flood over the cap: the refusals in progress are enough
                }
                sessions.spawn(async move { server.serve(tcp, peer, admission, stop).await });
            },
        );
        *server.accepting.lock().expect("accepting lock") = Some(tokio::spawn(accept));
        Ok(server)
    }

    /// The relay, delivering to a server made after it (the server needs the relay's
    /// instance subjects to exist before its first session's reply can be routed).
    async fn start_relay(
        config: &RelayConfig,
        instance: &str,
        stop: CancellationToken,
        tracker: &TaskTracker,
    ) -> anyhow::Result<(Arc<Relay>, Arc<OnceLock<Weak<Server>>>)> {
        let target: Arc<OnceLock<Weak<Server>>> = Arc::default();
        let deliver = {
            let target = target.clone();
            move |relayed: Relayed| {
                if let Some(server) = target.get().and_then(Weak::upgrade) {
                    server.deliver_relayed(relayed);
                }
            }
        };
        let relay = Relay::start(config, instance, deliver, stop, tracker)
            .await
            .with_context(|| format!("connecting the WebSocket relay to {}", config.nats_url))?;
        Ok((relay, target))
    }

    /// Closes every session with `reason`, then the listener.
    pub async fn stop(&self, reason: &str) {
        for outbox in self
            .sessions
            .read()
            .expect("sessions lock")
            .outboxes
            .values()
        {
            outbox.close(CloseCode::Away, reason.to_string());
        }
        self.stop.cancel();
        let accepting = self.accepting.lock().expect("accepting lock").take();
        if let Some(accepting) = accepting {
            let _ = accepting.await;
        }
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Sessions connected now.
    pub fn session_count(&self) -> usize {
        self.sessions.read().expect("sessions lock").outboxes.len()
    }

    /// Checks the upgrade request: the path, then the token if one is configured.
    #[allow(clippy::result_large_err)] // the error is the HTTP answer tungstenite sends
    fn check_upgrade(&self, request: &Request) -> Result<(), ErrorResponse> {
        if request.uri().path() != UPGRADE_PATH {
            return Err(refusal(
                StatusCode::NOT_FOUND,
                "WebSocket sessions upgrade at /ws",
            ));
        }
        let Some(expected) = &self.config.auth_token else {
            return Ok(());
        };
        let authorization = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let query = request.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        });
        match net::check_token(authorization, query.as_deref(), expected) {
            Ok(()) => Ok(()),
            Err(TokenRefused::Wrong) => {
                Err(refusal(StatusCode::UNAUTHORIZED, "the token is not valid"))
            }
            Err(TokenRefused::Missing) => Err(refusal(
                StatusCode::UNAUTHORIZED,
                "a token is required: send Authorization: Bearer <token> or ?token=<token>",
            )),
        }
    }

    /// Serves a session, or over the cap answers the upgrade with 503 and a reason. The
    /// admission's permit is held until the connection closes.
    async fn serve(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        admission: Admission,
        shutdown: CancellationToken,
    ) {
        let full = matches!(admission, Admission::Refuse(_));
        let limits = self.config.limits;
        // Past the soft limit a frame gets an error frame; past this one the session is closed.
        let hard_limit = (limits.max_frame_bytes * 4).max(1 << 20);
        let ws_config = WebSocketConfig::default()
            .max_message_size(Some(hard_limit))
            .max_frame_size(Some(hard_limit));
        // The session is registered while the upgrade is accepted, before the client hears
        // back: once its upgrade succeeds, it receives every later broadcast.
        // Random, so no one can address a reply to sessions by counting (64 bits: a clash
        // among live sessions is as good as impossible, and `insert` below would replace).
        let id: SessionId = uuid::Uuid::new_v4().as_u64_pair().0;
        let (outbox, queue) = session::outbox(&limits);
        // tungstenite's callback type fixes the (large) error type.
        #[allow(clippy::result_large_err)]
        let check = |request: &Request, response: Response| {
            if full {
                return Err(refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &self.cap.full_reason(),
                ));
            }
            self.check_upgrade(request)?;
            self.sessions.write().expect("sessions lock").join(
                id,
                outbox.clone(),
                &self.config.default_subscriptions,
            );
            Ok(response)
        };
        let handshake =
            tokio_tungstenite::accept_hdr_async_with_config(tcp, check, Some(ws_config));
        let ws = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(ws)) => ws,
            failed => {
                self.sessions.write().expect("sessions lock").leave(id);
                match failed {
                    Ok(Err(e)) => tracing::debug!("WebSocket upgrade from {peer} refused: {e}"),
                    _ => tracing::debug!("WebSocket upgrade from {peer} timed out"),
                }
                return;
            }
        };
        tracing::debug!("WebSocket session {id} from {peer}");
        let inbound = SessionInbound {
            server: self.clone(),
            session: id,
        };
        session::run(ws, (outbox, queue), &inbound, limits, shutdown).await;
        self.sessions.write().expect("sessions lock").leave(id);
        tracing::debug!("WebSocket session {id} ended");
    }

    /// Sends a published message: to one session for its reply subject (through the relay
    /// when another instance holds it), else to every session of every instance. Returns how
    /// many of this instance's sessions it was queued for.
    pub fn publish(
        &self,
        subject: &str,
        body: &[u8],
        reply_to: Option<&str>,
    ) -> Result<usize, WebSocketError> {
        let relay = self.relay.as_deref();
        match (destination(subject), relay) {
            (Destination::Session { instance, .. }, Some(relay)) if instance != self.instance => {
                relay.send_to(instance, subject, body, reply_to);
                Ok(0)
            }
            (Destination::Everyone, Some(relay)) => {
                relay.broadcast(subject, body, reply_to);
                Ok(self.publish_here(subject, body, reply_to)?)
            }
            _ => self.publish_here(subject, body, reply_to),
        }
    }

    /// A frame another instance relayed: for this instance's sessions alone.
    fn deliver_relayed(&self, relayed: Relayed) {
        let delivered =
            self.publish_here(&relayed.subject, &relayed.body, relayed.reply_to.as_deref());
        if let Err(e) = delivered {
            tracing::debug!("a relayed frame found no session: {e}");
        }
    }

    fn publish_here(
        &self,
        subject: &str,
        body: &[u8],
        reply_to: Option<&str>,
    ) -> Result<usize, WebSocketError> {
        match destination(subject) {
            Destination::Session {
                instance,
                session: id,
                reply_to: client_reply_to,
            } if instance == self.instance => {
                let outbox = self
                    .sessions
                    .read()
                    .expect("sessions lock")
                    .outboxes
                    .get(&id)
                    .cloned();
                let Some(outbox) = outbox else {
                    return Err(WebSocketError::SessionEnded(id));
                };
                let text = frame::encode(client_reply_to, body, reply_to);
                match outbox.push(text.into()) {
                    Ok(()) => Ok(1),
                    Err(Refused::TooSlow) => Err(WebSocketError::SessionTooSlow(id)),
                    Err(Refused::Gone) => Err(WebSocketError::SessionEnded(id)),
                }
            }
            Destination::Session { session: id, .. } => Err(WebSocketError::SessionEnded(id)),
            Destination::Everyone => {
                let sessions = self.sessions.read().expect("sessions lock");
                if sessions.outboxes.is_empty() {
                    return Ok(0);
                }
                let followers = sessions.interest.followers(subject);
                // With no one following the subject there is no one to encode the frame for.
                if followers.is_empty() {
                    return Ok(0);
                }
                let text: tokio_tungstenite::tungstenite::Utf8Bytes =
                    frame::encode(subject, body, reply_to).into();
                // A slow session is closed by its own push; the others are not held up.
                Ok(followers
                    .iter()
                    .filter_map(|id| sessions.outboxes.get(id))
                    .filter(|outbox| outbox.push(text.clone()).is_ok())
                    .count())
            }
        }
    }
}

struct SessionInbound {
    server: Arc<Server>,
    session: SessionId,
}

#[async_trait::async_trait]
impl Inbound for SessionInbound {
    /// A subscription changes here; any other frame goes on, its reply subject leading back to
    /// this session.
    async fn frame(&self, frame: Frame) -> Result<(), String> {
        let server = &self.server;
        if let Some(change) = subscriptions::change(&frame) {
            return server.change_subscriptions(self.session, change, frame.reply_to.as_deref());
        }
        take_frame(&server.inboxes, &server.subscriber, frame, |reply_to| {
            reply_subject(&server.instance, self.session, &reply_to)
        })
        .await
    }
}

impl Server {
    /// Subscribes or unsubscribes a session, answering on its reply subject if it gave one; a
    /// refusal with no reply subject is the `Err` (an error frame).
    fn change_subscriptions(
        &self,
        session: SessionId,
        change: Result<Change, BadPattern>,
        reply_to: Option<&str>,
    ) -> Result<(), String> {
        let most = self.config.limits.max_subscriptions;
        let mut sessions = self.sessions.write().expect("sessions lock");
        let Sessions { outboxes, interest } = &mut *sessions;
        let changed = match change {
            Ok(Change::Subscribe(pattern)) => interest
                .subscribe(session, pattern, most)
                .map_err(|e| e.to_string()),
            Ok(Change::Unsubscribe(pattern)) => interest
                .unsubscribe(session, &pattern)
                .map_err(|e| e.to_string()),
            Err(bad) => Err(bad.to_string()),
        };
        let (Some(reply_to), Some(outbox)) = (reply_to, outboxes.get(&session)) else {
            return changed.map(drop);
        };
        let answer = match &changed {
            Ok(patterns) => subscriptions::accepted(reply_to, patterns),
            Err(reason) => subscriptions::refused(reply_to, reason),
        };
        // An answer that cannot be queued means the session is already closing.
        let _ = outbox.push(answer.into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_lead_back_to_their_instance_session_and_the_clients_subject() {
        let subject = reply_subject("a1b2", 42, "ack.7");
        assert_eq!(
            destination(&subject),
            Destination::Session {
                instance: "a1b2",
                session: 42,
                reply_to: "ack.7"
            }
        );
        assert_eq!(destination("rtchat.messages"), Destination::Everyone);
        assert_eq!(destination("_ws.reply.a1b2.nope.x"), Destination::Everyone);
        assert_eq!(destination("_ws.reply.42.ack"), Destination::Everyone);
    }
}
