//! `wasmcloud:messaging` on NATS: subscriptions from the link deliver to the actor (in a queue
//! group, so several hosts share the inbound traffic), and the actor publishes through it.
//! The client connects in the background and reconnects on its own.
//!
//! A publish never waits long: while the server is unreachable it fails at once (the real-time
//! copy of a stored message is dropped, logged and counted), so a NATS outage never stalls the
//! writes whose fan-out goes through here.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_messaging::{
    MessageSubscriber, MessageSubscriberSender, Messaging, MessagingReceiver, PubMessage,
    ReplyMessage, RequestMessage, SubMessage,
};

use super::registration::{
    self, link_value, set_link_value, About, LinkStart, LinkValues, Overrides,
};
use super::MESSAGING;
use crate::net::NATS_PUBLISH_DEADLINE;
use crate::provider::{ConnectionState, ProviderHandle, Started};
use crate::router::ActorTransport;
use crate::workers::Workers;
use mcchat_provider_kit::NatsAuth;

/// The server a link connects to unless its `URI` (or `URL`) names another.
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
/// How long a link delete waits for its subscriptions to drain.
const DRAIN_WAIT: Duration = Duration::from_secs(5);

/// Why the NATS provider could not do what an actor asked.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("not published on {subject}: {why}")]
    Dropped { subject: String, why: String },
    #[error("request on {subject}: {error}")]
    Request {
        subject: String,
        error: async_nats::RequestError,
    },
}

/// The one place a NATS failure becomes the error an actor sees.
impl From<NatsError> for RpcError {
    fn from(error: NatsError) -> RpcError {
        RpcError::Nats(error.to_string())
    }
}

#[derive(Clone)]
pub struct NatsMessaging {
    /// One connection per worker, made on it: a worker receives its share of a subscription's
    /// messages, and publishes what its actors send, on its own connection.
    clients: Arc<[async_nats::Client]>,
    workers: Arc<[Handle]>,
    /// Publishes dropped so far, for a log line per hundred.
    dropped: Arc<AtomicU64>,
}

/// The `wasmcloud:messaging` provider on NATS: per link, a connection per worker and a queue
/// subscription to each subject in `SUBSCRIPTION`.
pub struct Registration;

#[async_trait]
impl registration::Registration for Registration {
    fn about(&self) -> About {
        About {
            contract: MESSAGING,
            name: "NATS messaging (built in)",
            image_names: &["nats"],
        }
    }

    fn apply_overrides(&self, overrides: &Overrides, values: &mut LinkValues) {
        if let Some(url) = &overrides.nats_url {
            values.retain(|k, _| !k.eq_ignore_ascii_case("URL"));
            set_link_value(values, "URI", url.clone());
        }
        if let Some(seed) = &overrides.nats_seed {
            values.retain(|k, _| !k.eq_ignore_ascii_case("CLIENT_JWT"));
            set_link_value(values, "CLIENT_SEED", seed.clone());
        }
    }

    async fn start(&self, link: LinkStart<'_>) -> anyhow::Result<Box<dyn Started>> {
        let url = link_value(link.values, "URI")
            .or(link_value(link.values, "URL"))
            .unwrap_or(DEFAULT_NATS_URL)
            .to_string();
        let subjects: Vec<String> = link_value(link.values, "SUBSCRIPTION")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        // As the wasmCloud NATS provider reads them: a JWT user, or an nkey user by its seed.
        let auth = match (
            link_value(link.values, "CLIENT_JWT"),
            link_value(link.values, "CLIENT_SEED"),
        ) {
            (Some(jwt), Some(seed)) => Some(NatsAuth::Jwt {
                jwt: jwt.to_string(),
                seed: seed.to_string(),
            }),
            (None, Some(seed)) => Some(NatsAuth::Nkey {
                seed: seed.to_string(),
            }),
            (Some(_), None) => anyhow::bail!("CLIENT_JWT is set without its CLIENT_SEED"),
            (None, None) => None,
        };
        let host = link.host;
        let nats = NatsMessaging::connect(&url, auth.as_ref(), &host.workers).await?;
        // From here on the URL is for people: without its password.
        let url = crate::mask::url(&url);
        let subscriptions = TaskTracker::new();
        nats.subscribe(&subjects, &link, &subscriptions).await?;
        if !nats.wait_until_ready().await {
            tracing::warn!("NATS at {url} is not reachable yet; subscribing as soon as it is");
        }
        Ok(Box::new(NatsLink {
            nats,
            url,
            subjects,
            queue_group: host.queue_group.clone(),
            stop: link.stop,
            subscriptions,
        }))
    }
}

/// The NATS provider serving one link.
struct NatsLink {
    nats: NatsMessaging,
    /// The server, with no password.
    url: String,
    subjects: Vec<String>,
    queue_group: String,
    stop: CancellationToken,
    /// The subscriptions' delivery loops.
    subscriptions: TaskTracker,
}

#[async_trait]
impl Started for NatsLink {
    fn handle(&self) -> ProviderHandle {
        ProviderHandle::new(Arc::new(self.nats.clone()))
    }

    fn target(&self) -> String {
        self.url.clone()
    }

    fn state(&self) -> ConnectionState {
        self.nats.connection_state()
    }

    fn describe(&self) -> String {
        format!(
            "NATS {}: subscribed to [{}] in queue group {}",
            self.url,
            self.subjects.join(", "),
            self.queue_group
        )
    }

    /// Drains the subscriptions (what the server already sent is still handled), then flushes
    /// what the actor published.
    async fn stop(&self) {
        self.stop.cancel();
        self.subscriptions.close();
        if tokio::time::timeout(DRAIN_WAIT, self.subscriptions.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "NATS {}: subscriptions still draining after {DRAIN_WAIT:?}",
                self.url
            );
        }
        self.nats.flush().await;
    }
}

impl NatsMessaging {
    /// Connects each of `workers` to `url` as `auth`, or as the user its URL names (in the
    /// background if the server is not up yet).
    async fn connect(
        url: &str,
        auth: Option<&NatsAuth>,
        workers: &Workers,
    ) -> anyhow::Result<Self> {
        let (options, address) = mcchat_provider_kit::nats_auth::connect_options(url, auth)?;
        let shown = crate::mask::url(url);
        // Each client's connection task runs on the worker the client is made on.
        let clients = workers
            .on_each(|index| {
                let connection = Connection {
                    server: shown.clone(),
                    number: index + 1,
                    of: workers.count(),
                    connected_before: Arc::new(AtomicBool::new(false)),
                };
                options
                    .clone()
                    .name("mcchat-host")
                    .retry_on_initial_connect()
                    .event_callback(move |event| {
                        let connection = connection.clone();
                        async move { log_event(&connection, event) }
                    })
                    .connect(address.clone())
            })
            .await?
            .into_iter()
            .collect::<Result<Arc<[_]>, _>>()?;
        Ok(NatsMessaging {
            clients,
            workers: workers.handles().into(),
            dropped: Arc::default(),
        })
    }

    /// Waits for each connection to send what it was given, in parallel.
    async fn flush_all(&self) -> Vec<Result<(), async_nats::client::FlushError>> {
        futures::future::join_all(self.clients.iter().map(|client| client.flush())).await
    }

    /// This worker's client (the first one's on any other thread).
    fn client(&self) -> &async_nats::Client {
        &self.clients[crate::workers::slot(self.clients.len())]
    }

    /// Subscribes to each subject in the link's queue group, once per worker, and delivers
    /// every message to the linked actor on the worker that received it (or, when all of that
    /// worker's slots are taken, on another worker with one free), until the link stops. Then
    /// each subscription drains: the server stops sending, and what it already sent to this
    /// host is still handled (the handlers join the host's tracker).
    async fn subscribe(
        &self,
        subjects: &[String],
        link: &LinkStart<'_>,
        loops: &TaskTracker,
    ) -> anyhow::Result<()> {
        let host = link.host;
        for subject in subjects {
            let slots = Arc::new(Slots::new(&self.workers));
            for (home, (client, worker)) in self.clients.iter().zip(self.workers.iter()).enumerate()
            {
                let subscription = client
                    .queue_subscribe(subject.clone(), host.queue_group.clone())
                    .await?;
                let delivery = deliver(
                    subscription,
                    ActorTransport::new(&host.router, link.actor),
                    slots.clone(),
                    home,
                    crate::telemetry::nats_received(subject),
                    link.stop.clone(),
                    host.tracker.clone(),
                );
                // A host shutdown waits for the drain too.
                let draining = host.tracker.token();
                loops.spawn_on(
                    async move {
                        delivery.await;
                        drop(draining);
                    },
                    worker,
                );
            }
        }
        Ok(())
    }

    /// Waits (up to a few seconds) until the server has the subscriptions, so that a host is
    /// ready for `chat.in` when its start returns. `false`: not connected yet; the client keeps
    /// trying in the background and subscribes once it connects.
    async fn wait_until_ready(&self) -> bool {
        let caught_up = futures::future::join_all(
            self.clients
                .iter()
                .map(mcchat_provider_kit::net::server_caught_up),
        )
        .await;
        caught_up.into_iter().all(|ready| ready)
    }

    /// Whether every connection is up now (each reconnects by itself when not).
    fn connection_state(&self) -> ConnectionState {
        let connected = |client: &async_nats::Client| {
            client.connection_state() == async_nats::connection::State::Connected
        };
        if self.clients.iter().all(connected) {
            ConnectionState::Connected
        } else {
            ConnectionState::Reconnecting
        }
    }

    /// Sends everything published so far to the server.
    async fn flush(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.flush_all()).await;
    }
}

/// The messages of one subject each worker may handle at once. A message holds an instance of
/// each actor on its path, and a worker's slots are its share of the instances each actor keeps
/// idle: with more, a steady load would start and drop instances (a third of a message's cost
/// when it happened). The queue group splits messages between the workers at random, so a
/// worker whose slots are all taken hands a message to one with a slot free.
struct Slots {
    free: Vec<Arc<Semaphore>>,
    workers: Arc<[Handle]>,
}

impl Slots {
    fn new(workers: &Arc<[Handle]>) -> Slots {
        let stack =
            |worker| crate::pool::stack_capacity(crate::pool::MAX_IDLE, workers.len(), worker);
        Slots {
            free: (0..workers.len())
                .map(|worker| Arc::new(Semaphore::new(stack(worker).max(1))))
                .collect(),
            workers: workers.clone(),
        }
    }

    /// A slot for a message that arrived on worker `home`: its own if one is free, else any
    /// other worker's that is, else the first to come free. `None` once closed.
    async fn take(&self, home: usize) -> Option<(OwnedSemaphorePermit, &Handle)> {
        let order = (home..self.free.len()).chain(0..home);
        for worker in order {
            if let Ok(permit) = self.free[worker].clone().try_acquire_owned() {
                return Some((permit, &self.workers[worker]));
            }
        }
        let waits = self
            .free
            .iter()
            .map(|free| Box::pin(free.clone().acquire_owned()));
        let (permit, worker, _) = futures::future::select_all(waits).await;
        Some((permit.ok()?, &self.workers[worker]))
    }
}

/// Hands a subscription's messages to the actor, each in a task of its own on this worker,
/// until the subscription ends; `shutdown` drains it first.
async fn deliver(
    mut subscription: async_nats::Subscriber,
    transport: ActorTransport,
    slots: Arc<Slots>,
    home: usize,
    received: metrics::Counter,
    shutdown: CancellationToken,
    handlers: TaskTracker,
) {
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
        let Some((permit, worker)) = slots.take(home).await else {
            break;
        };
        let sender = MessageSubscriberSender::via(transport.clone());
        handlers.spawn_on(async move {
            let delivered = SubMessage {
                subject: message.subject.to_string(),
                reply_to: message.reply.map(|r| r.to_string()),
                body: message.payload.to_vec(),
            };
            if let Err(e) = sender.handle_message(&Context::default(), &delivered).await {
                tracing::error!(subject = %delivered.subject, "actor failed to handle a message: {e}");
            }
            drop(permit);
        }, worker);
    }
}

/// One of a link's connections, as its events name it.
#[derive(Clone)]
struct Connection {
    server: String,
    number: usize,
    of: usize,
    connected_before: Arc<AtomicBool>,
}

fn log_event(connection: &Connection, event: async_nats::Event) {
    use async_nats::Event;
    let server = format!(
        "{} (connection {} of {})",
        connection.server, connection.number, connection.of
    );
    match event {
        Event::Connected => {
            if connection.connected_before.swap(true, Ordering::Relaxed) {
                tracing::info!("NATS {server}: reconnected; real-time copies flow again");
            }
        }
        Event::Disconnected => {
            tracing::warn!(
                "NATS {server}: disconnected; writes go on, their real-time copies on NATS are \
                 dropped until it is back"
            );
        }
        Event::SlowConsumer(sid) => {
            tracing::warn!("NATS {server}: slow consumer on subscription {sid}; messages were dropped by the client");
        }
        other => tracing::info!("NATS {server}: {other}"),
    }
}

impl NatsMessaging {
    fn dropped(&self, subject: &str, why: &str) -> NatsError {
        let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        crate::telemetry::nats_dropped();
        // One line per 100 drops: an outage must not flood the log.
        if n % 100 == 1 {
            tracing::warn!("NATS: dropped a publish on {subject} ({why}); {n} dropped so far");
        }
        NatsError::Dropped {
            subject: subject.to_string(),
            why: why.to_string(),
        }
    }
}

#[async_trait]
impl Messaging for NatsMessaging {
    /// Publishes at once, or fails fast: never waits for a server that is not there.
    async fn publish(&self, _: &Context, msg: &PubMessage) -> RpcResult<()> {
        let client = self.client();
        if client.connection_state() != async_nats::connection::State::Connected {
            return Err(self.dropped(&msg.subject, "NATS is not connected").into());
        }
        let body = bytes::Bytes::from(msg.body.clone());
        let publish = async {
            match &msg.reply_to {
                Some(reply_to) => {
                    client
                        .publish_with_reply(msg.subject.clone(), reply_to.clone(), body)
                        .await
                }
                None => client.publish(msg.subject.clone(), body).await,
            }
        };
        let dropped = match tokio::time::timeout(NATS_PUBLISH_DEADLINE, publish).await {
            Ok(Ok(())) => {
                crate::telemetry::nats_published();
                return Ok(());
            }
            Ok(Err(e)) => self.dropped(&msg.subject, &e.to_string()),
            Err(_) => self.dropped(&msg.subject, "the client's buffer stayed full"),
        };
        Err(dropped.into())
    }

    async fn request(&self, _: &Context, msg: &RequestMessage) -> RpcResult<ReplyMessage> {
        let request = self
            .client()
            .request(msg.subject.clone(), bytes::Bytes::from(msg.body.clone()));
        let reply = super::await_reply(msg, async {
            request.await.map_err(|error| NatsError::Request {
                subject: msg.subject.clone(),
                error,
            })
        })
        .await?;
        Ok(ReplyMessage {
            subject: reply.subject.to_string(),
            reply_to: reply.reply.map(|r| r.to_string()),
            body: reply.payload.to_vec(),
        })
    }
}

mcchat_provider_kit::dispatch_via_receiver!(NatsMessaging, MessagingReceiver);
