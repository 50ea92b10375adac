//! Live delivery across instances. Every instance of the provider that serves one actor's link
//! in one lattice (in each mcchat host, or standalone on each wasmCloud host) delivers every
//! broadcast to its own sessions, and a reply to a session reaches the instance holding it,
//! whichever instance the actor's publish landed on. The instances reach each other over the
//! lattice's NATS:
//!
//! - `mcchat.ws.<lattice>.<link name>.<actor>.all`: broadcasts, which every instance but the
//!   sender's delivers (the sender delivered them to its own sessions already, and its
//!   connection never gets its own messages back: `no_echo`);
//! - `mcchat.ws.<lattice>.<link name>.<actor>.to.<instance>`: frames for one instance's
//!   sessions.
//!
//! A lone instance relays no broadcast: `peers` tells whether any other is alive.
//!
//! Live copies are at most once: a copy that cannot be sent (NATS away, the queue full) is
//! counted and logged, and a chat page fills the gap from the history when it sees the next
//! message's index jump.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_nats::{HeaderMap, Subject};
use bytes::Bytes;
use futures::StreamExt;
use mcchat_provider_kit::net::{NATS_PUBLISH_DEADLINE, NATS_READY_WAIT};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::peers::Peers;

/// Frames waiting to go to the other instances; past this, copies are dropped and counted.
const OUTGOING_QUEUE: usize = 4096;

const SUBJECT: &str = "Mcchat-Subject";
const REPLY_TO: &str = "Mcchat-Reply-To";

/// Where the instances of one link meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayConfig {
    /// The lattice's NATS server.
    pub nats_url: String,
    /// `mcchat.ws.<lattice>.<link name>.<actor>`.
    pub prefix: String,
}

impl RelayConfig {
    pub fn new(nats_url: &str, lattice: &str, link_name: &str, actor: &str) -> RelayConfig {
        RelayConfig {
            nats_url: nats_url.to_string(),
            prefix: format!(
                "mcchat.ws.{}.{}.{}",
                token(lattice),
                token(link_name),
                token(actor)
            ),
        }
    }
}

/// A name as one NATS subject token.
fn token(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '.' | '*' | '>' | ' ' | '\t' | '\r' | '\n' => '_',
            c => c,
        })
        .collect()
}

/// A frame for sessions on this instance: the subject the actor published to, and its body.
pub struct Relayed {
    pub subject: String,
    pub body: Vec<u8>,
    pub reply_to: Option<String>,
}

/// This instance's side of the relay.
pub struct Relay {
    client: async_nats::Client,
    prefix: String,
    /// `<prefix>.all`, made once: every broadcast is sent to it.
    everyone: Subject,
    outgoing: mpsc::Sender<(Subject, HeaderMap, Bytes)>,
    dropped: AtomicU64,
    peers: Peers,
}

impl Relay {
    /// Connects to the lattice's NATS (in the background if it is not up yet) and starts
    /// sending; frames for this instance's sessions go to `deliver` until `stop`.
    pub async fn start(
        config: &RelayConfig,
        instance: &str,
        deliver: impl Fn(Relayed) + Send + 'static,
        stop: CancellationToken,
        tracker: &TaskTracker,
    ) -> anyhow::Result<Arc<Relay>> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("mcchat WebSocket relay {instance}"))
            .no_echo()
            .retry_on_initial_connect()
            .connect(config.nats_url.as_str())
            .await?;
        let (outgoing, queue) = mpsc::channel(OUTGOING_QUEUE);
        let relay = Arc::new(Relay {
            client: client.clone(),
            prefix: config.prefix.clone(),
            everyone: Subject::from(format!("{}.all", config.prefix)),
            outgoing,
            dropped: AtomicU64::new(0),
            peers: Peers::default(),
        });
        let broadcasts = client.subscribe(relay.everyone.clone()).await?;
        let direct = client.subscribe(relay.instance_subject(instance)).await?;
        let presence_subject = format!("{}.presence", relay.prefix);
        let presence = client.subscribe(presence_subject.clone()).await?;
        // Relay from the first session on, when NATS is up; else once it is.
        let _ = tokio::time::timeout(NATS_READY_WAIT, client.flush()).await;
        relay
            .peers
            .hello(&client, &presence_subject, instance)
            .await;
        let keeping_up = relay.clone();
        let (name, until) = (instance.to_string(), stop.clone());
        tracker.spawn(async move {
            let peers = &keeping_up.peers;
            peers
                .keep_up(client, presence, presence_subject, name, until)
                .await
        });
        tracker.spawn(relay.clone().send_until(queue, stop.clone()));
        tracker.spawn(relay.clone().receive_until(
            futures::stream::select(broadcasts, direct),
            deliver,
            stop,
        ));
        Ok(relay)
    }

    /// Sends a broadcast to every other instance's sessions, if there are other instances.
    pub fn broadcast(&self, subject: &str, body: &[u8], reply_to: Option<&str>) {
        if self.peers.any() {
            self.send(self.everyone.clone(), subject, body, reply_to);
        }
    }

    /// Sends a frame to the instance holding the session it is for.
    pub fn send_to(&self, instance: &str, subject: &str, body: &[u8], reply_to: Option<&str>) {
        self.send(self.instance_subject(instance), subject, body, reply_to);
    }

    fn instance_subject(&self, instance: &str) -> Subject {
        Subject::from(format!("{}.to.{}", self.prefix, token(instance)))
    }

    fn send(&self, nats_subject: Subject, subject: &str, body: &[u8], reply_to: Option<&str>) {
        let mut headers = HeaderMap::new();
        headers.insert(SUBJECT, subject);
        if let Some(reply_to) = reply_to {
            headers.insert(REPLY_TO, reply_to);
        }
        let copy = (nats_subject, headers, Bytes::copy_from_slice(body));
        if self.outgoing.try_send(copy).is_err() {
            self.lost("the relay's queue is full");
        }
    }

    fn lost(&self, why: &str) {
        let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            dropped,
            "a live copy for other instances was dropped: {why}"
        );
    }

    async fn send_until(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<(Subject, HeaderMap, Bytes)>,
        stop: CancellationToken,
    ) {
        loop {
            let (subject, headers, body) = tokio::select! {
                copy = queue.recv() => match copy { Some(copy) => copy, None => break },
                _ = stop.cancelled() => break,
            };
            let publish = self.client.publish_with_headers(subject, headers, body);
            match tokio::time::timeout(NATS_PUBLISH_DEADLINE, publish).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.lost(&e.to_string()),
                Err(_) => self.lost("NATS is not taking messages"),
            }
        }
        let _ = tokio::time::timeout(NATS_PUBLISH_DEADLINE, self.client.flush()).await;
    }

    async fn receive_until(
        self: Arc<Self>,
        mut messages: impl futures::Stream<Item = async_nats::Message> + Unpin,
        deliver: impl Fn(Relayed),
        stop: CancellationToken,
    ) {
        loop {
            let message = tokio::select! {
                message = messages.next() => match message { Some(m) => m, None => break },
                _ = stop.cancelled() => break,
            };
            let Some(headers) = message.headers else {
                continue;
            };
            let header = |name: &str| headers.get(name).map(|v| v.as_str().to_string());
            let Some(subject) = header(SUBJECT) else {
                continue;
            };
            deliver(Relayed {
                subject,
                body: message.payload.to_vec(),
                reply_to: header(REPLY_TO),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_of_one_link_meet_on_subjects_made_of_its_names() {
        let config = RelayConfig::new("nats://x", "default", "default", "MABC");
        assert_eq!(config.prefix, "mcchat.ws.default.default.MABC");
        let odd = RelayConfig::new("nats://x", "a.b", "l*>", "M 1");
        assert_eq!(odd.prefix, "mcchat.ws.a_b.l__.M_1");
    }
}
