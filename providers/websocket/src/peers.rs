//! Which other instances of a link are alive, so that a lone instance (one mcchat host, one
//! wasmCloud host) relays nothing: every broadcast it sent over NATS would reach no one, and
//! cost each message a publish.
//!
//! On `mcchat.ws.<lattice>.<link name>.<actor>.presence`, each instance's payload is its id:
//! - a new instance asks once (a request): every live instance notes it *before* answering, so
//!   once its start returns, broadcasts reach its sessions; the first answer tells it it is
//!   not alone. With no one there, NATS answers "no responders" at once;
//! - every instance says it is there every `HEARTBEAT`, and forgets a peer not heard from for
//!   `EXPIRY`, so peers learn of each other again after a NATS outage.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

const HEARTBEAT: Duration = Duration::from_secs(10);
const EXPIRY: Duration = Duration::from_secs(35);
/// How long a start waits for another instance to answer; with none there, NATS says so at once.
const HELLO_WAIT: Duration = Duration::from_secs(1);

/// The other instances heard from, and when.
#[derive(Default)]
pub struct Peers(Mutex<HashMap<String, Instant>>);

impl Peers {
    /// Whether any other instance was heard from within `EXPIRY`.
    pub fn any(&self) -> bool {
        let mut peers = self.0.lock().expect("peers lock");
        peers.retain(|_, seen| seen.elapsed() < EXPIRY);
        !peers.is_empty()
    }

    fn heard(&self, instance: &[u8]) {
        let instance = String::from_utf8_lossy(instance).into_owned();
        self.0
            .lock()
            .expect("peers lock")
            .insert(instance, Instant::now());
    }

    /// Asks who is there, and notes the first to answer.
    pub async fn hello(&self, client: &async_nats::Client, subject: &str, instance: &str) {
        let asked = client.request(subject.to_string(), instance.to_string().into());
        if let Ok(Ok(answer)) = tokio::time::timeout(HELLO_WAIT, asked).await {
            self.heard(&answer.payload);
        }
    }

    /// Answers newcomers, notes everyone heard, and says it is there, until `stop`.
    pub async fn keep_up(
        &self,
        client: async_nats::Client,
        mut presence: async_nats::Subscriber,
        subject: String,
        instance: String,
        stop: CancellationToken,
    ) {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        loop {
            tokio::select! {
                message = presence.next() => {
                    let Some(message) = message else { break };
                    self.heard(&message.payload);
                    if let Some(reply) = message.reply {
                        let _ = client.publish(reply, instance.clone().into()).await;
                    }
                }
                _ = heartbeat.tick() => {
                    let _ = client.publish(subject.clone(), instance.clone().into()).await;
                }
                _ = stop.cancelled() => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_counts_until_it_has_not_been_heard_from_for_the_expiry() {
        let peers = Peers::default();
        assert!(!peers.any());
        peers.heard(b"a1");
        assert!(peers.any());
        peers
            .0
            .lock()
            .unwrap()
            .insert("a1".into(), Instant::now() - EXPIRY);
        assert!(!peers.any());
    }
}
