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
//! Every frame is sealed with the lattice's cluster key, as wasmCloud signs invocations: an
//! instance delivers a frame only if one of the cluster issuers signed its NATS subject, its
//! headers and its body, within `FRESH` of now. A client that can publish on these subjects (an
//! open NATS) forges no broadcast and no ack.
//!
//! Live copies are at most once: a copy that cannot be sent (NATS away, the queue full) is
//! counted and logged, and a chat page fills the gap from the history when it sees the next
//! message's index jump.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::{HeaderMap, Subject};
use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt;
use mcchat_provider_kit::net::NATS_PUBLISH_DEADLINE;
use mcchat_provider_kit::ClusterTrust;
use mcchat_provider_kit::NatsAuth;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::peers::Peers;

/// Frames waiting to go to the other instances; past this, copies are dropped and counted.
const OUTGOING_QUEUE: usize = 4096;

const SUBJECT: &str = "Mcchat-Subject";
const REPLY_TO: &str = "Mcchat-Reply-To";
const ISSUER: &str = "Mcchat-Issuer";
const SIGNATURE: &str = "Mcchat-Signature";
/// When the frame was sealed, in milliseconds since the Unix epoch.
const SEALED_AT: &str = "Mcchat-Sealed-At";
/// How far a frame's seal may be from now: a recorded frame replays for this long at most.
const FRESH: Duration = Duration::from_secs(30);

/// Where the instances of one link meet, and the key their frames are sealed with.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The lattice's NATS server.
    pub nats_url: String,
    /// `mcchat.ws.<lattice>.<link name>.<actor>`.
    pub prefix: String,
    pub trust: ClusterTrust,
    /// The lattice user this instance is on that NATS (a wasmCloud host's RPC credentials, the
    /// mcchat host's --ctl-credsfile); otherwise the URL's own user and password, if any.
    pub nats_user: Option<NatsAuth>,
}

impl RelayConfig {
    pub fn new(
        nats_url: &str,
        lattice: &str,
        link_name: &str,
        actor: &str,
        trust: ClusterTrust,
    ) -> RelayConfig {
        RelayConfig {
            nats_url: nats_url.to_string(),
            prefix: format!(
                "mcchat.ws.{}.{}.{}",
                token(lattice),
                token(link_name),
                token(actor)
            ),
            trust,
            nats_user: None,
        }
    }
}

/// What a seal covers: each part length-prefixed, so no two frames sign the same bytes.
fn sealed_bytes(
    nats_subject: &str,
    subject: &str,
    reply_to: Option<&str>,
    sealed_at: &str,
    body: &[u8],
) -> Vec<u8> {
    let parts: [&[u8]; 5] = [
        nats_subject.as_bytes(),
        subject.as_bytes(),
        reply_to.unwrap_or_default().as_bytes(),
        sealed_at.as_bytes(),
        body,
    ];
    let mut bytes = Vec::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for part in parts {
        bytes.extend_from_slice(&(part.len() as u32).to_le_bytes());
        bytes.extend_from_slice(part);
    }
    bytes
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// Why a relayed frame was not delivered.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Unsealed {
    #[error("it has no {0} header")]
    Missing(&'static str),
    #[error("its seal is not from within {FRESH:?} of now")]
    Stale,
    #[error("{0}")]
    Untrusted(#[from] mcchat_provider_kit::cluster::Untrusted),
}

/// Checks a frame's seal: a believed issuer signed these exact parts, recently.
fn check_seal(
    trust: &ClusterTrust,
    nats_subject: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Relayed, Unsealed> {
    let header = |name: &'static str| {
        headers
            .get(name)
            .map(|v| v.as_str())
            .ok_or(Unsealed::Missing(name))
    };
    let (subject, issuer, signature, sealed_at) = (
        header(SUBJECT)?,
        header(ISSUER)?,
        header(SIGNATURE)?,
        header(SEALED_AT)?,
    );
    let reply_to = headers.get(REPLY_TO).map(|v| v.as_str());
    let age = sealed_at
        .parse::<u64>()
        .map_err(|_| Unsealed::Stale)?
        .abs_diff(now_ms());
    if age > FRESH.as_millis() as u64 {
        return Err(Unsealed::Stale);
    }
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| Unsealed::Untrusted(mcchat_provider_kit::cluster::Untrusted::Signature))?;
    let sealed = sealed_bytes(nats_subject, subject, reply_to, sealed_at, body);
    trust.verify(issuer, &sealed, &signature)?;
    Ok(Relayed {
        subject: subject.to_string(),
        body: body.to_vec(),
        reply_to: reply_to.map(String::from),
    })
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
#[derive(Debug)]
pub struct Relayed {
    pub subject: String,
    pub body: Vec<u8>,
    pub reply_to: Option<String>,
}

/// This instance's side of the relay.
pub struct Relay {
    client: async_nats::Client,
    prefix: String,
    trust: ClusterTrust,
    /// `<prefix>.all`, made once: every broadcast is sent to it.
    everyone: Subject,
    outgoing: mpsc::Sender<(Subject, HeaderMap, Bytes)>,
    dropped: AtomicU64,
    /// Frames refused for their seal, and when that was last logged (ms since the epoch).
    refused: AtomicU64,
    refusal_logged: AtomicU64,
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
        let (options, address) = mcchat_provider_kit::nats_auth::connect_options(
            &config.nats_url,
            config.nats_user.as_ref(),
        )?;
        let client = options
            .name(format!("mcchat WebSocket relay {instance}"))
            .no_echo()
            .retry_on_initial_connect()
            .connect(address)
            .await?;
        let (outgoing, queue) = mpsc::channel(OUTGOING_QUEUE);
        let relay = Arc::new(Relay {
            client: client.clone(),
            prefix: config.prefix.clone(),
            trust: config.trust.clone(),
            everyone: Subject::from(format!("{}.all", config.prefix)),
            outgoing,
            dropped: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            refusal_logged: AtomicU64::new(0),
            peers: Peers::default(),
        });
        let broadcasts = client.subscribe(relay.everyone.clone()).await?;
        let direct = client.subscribe(relay.instance_subject(instance)).await?;
        let presence_subject = format!("{}.presence", relay.prefix);
        let presence = client.subscribe(presence_subject.clone()).await?;
        // Relay from the first session on, when NATS is up; else once it is.
        mcchat_provider_kit::net::server_caught_up(&client).await;
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
        let sealed_at = now_ms().to_string();
        let signature = self.trust.sign(&sealed_bytes(
            &nats_subject,
            subject,
            reply_to,
            &sealed_at,
            body,
        ));
        let mut headers = HeaderMap::new();
        headers.insert(SUBJECT, subject);
        if let Some(reply_to) = reply_to {
            headers.insert(REPLY_TO, reply_to);
        }
        headers.insert(ISSUER, self.trust.issuer().as_str());
        headers.insert(
            SIGNATURE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(signature)
                .as_str(),
        );
        headers.insert(SEALED_AT, sealed_at.as_str());
        let copy = (nats_subject, headers, Bytes::copy_from_slice(body));
        if self.outgoing.try_send(copy).is_err() {
            self.lost("the relay's queue is full");
        }
    }

    /// A frame that is not a sealed relay frame: counted, and logged at most once a minute.
    fn refused(&self, nats_subject: &str, why: &Unsealed) {
        let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        let now = now_ms();
        let last = self.refusal_logged.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self
                .refusal_logged
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                refused,
                "a frame on {nats_subject} was not delivered: {why} (is someone else \
                 publishing on the relay's subjects?)"
            );
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
            let sealed = match &message.headers {
                Some(headers) => {
                    check_seal(&self.trust, &message.subject, headers, &message.payload)
                }
                None => Err(Unsealed::Missing(SUBJECT)),
            };
            match sealed {
                Ok(relayed) => deliver(relayed),
                Err(why) => self.refused(&message.subject, &why),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_of_one_link_meet_on_subjects_made_of_its_names() {
        let trust = ClusterTrust::generate();
        let config = RelayConfig::new("nats://x", "default", "default", "MABC", trust.clone());
        assert_eq!(config.prefix, "mcchat.ws.default.default.MABC");
        let odd = RelayConfig::new("nats://x", "a.b", "l*>", "M 1", trust);
        assert_eq!(odd.prefix, "mcchat.ws.a_b.l__.M_1");
    }

    /// The headers `send` puts on a frame.
    fn sealed(trust: &ClusterTrust, nats_subject: &str, body: &[u8], sealed_at: u64) -> HeaderMap {
        let sealed_at = sealed_at.to_string();
        let signature = trust.sign(&sealed_bytes(
            nats_subject,
            "rtchat.messages",
            None,
            &sealed_at,
            body,
        ));
        let mut headers = HeaderMap::new();
        headers.insert(SUBJECT, "rtchat.messages");
        headers.insert(ISSUER, trust.issuer().as_str());
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature);
        headers.insert(SIGNATURE, signature.as_str());
        headers.insert(SEALED_AT, sealed_at.as_str());
        headers
    }

    #[test]
    fn only_a_fresh_frame_sealed_by_an_issuer_for_its_subject_is_delivered() {
        let trust = ClusterTrust::generate();
        let headers = sealed(&trust, "p.all", b"hi", now_ms());
        let relayed = check_seal(&trust, "p.all", &headers, b"hi").unwrap();
        assert_eq!(
            (relayed.subject.as_str(), relayed.body.as_slice()),
            ("rtchat.messages", &b"hi"[..])
        );
        // Another body, another NATS subject (an ack redirected to another instance).
        assert!(check_seal(&trust, "p.all", &headers, b"ho").is_err());
        assert!(check_seal(&trust, "p.to.other", &headers, b"hi").is_err());
        // Another key, however well formed.
        let stranger = ClusterTrust::generate();
        let forged = sealed(&stranger, "p.all", b"hi", now_ms());
        assert!(matches!(
            check_seal(&trust, "p.all", &forged, b"hi"),
            Err(Unsealed::Untrusted(_))
        ));
        // Replayed later than `FRESH`.
        let old = sealed(&trust, "p.all", b"hi", now_ms() - 60_000);
        assert_eq!(
            check_seal(&trust, "p.all", &old, b"hi").unwrap_err(),
            Unsealed::Stale
        );
        // No seal at all: the forgery the issue reproduced.
        let mut bare = HeaderMap::new();
        bare.insert(SUBJECT, "rtchat.messages");
        assert_eq!(
            check_seal(&trust, "p.all", &bare, b"hi").unwrap_err(),
            Unsealed::Missing(ISSUER)
        );
    }
}
