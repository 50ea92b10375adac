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

use crate::router::{ActorTransport, Router};
use crate::workers::Workers;

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
    /// One connection per worker, made on it: a worker receives its share of a subscription's
    /// messages, and publishes what its actors send, on its own connection.
    clients: Arc<[async_nats::Client]>,
    workers: Arc<[Handle]>,
    pub counters: Arc<NatsCounters>,
}

fn err(e: impl std::fmt::Display) -> RpcError {
    RpcError::Nats(e.to_string())
}

impl NatsMessaging {
    /// Connects each of `workers` to `url` (in the background if the server is not up yet).
    pub async fn connect(url: &str, workers: &Workers) -> anyhow::Result<Self> {
        let counters = Arc::new(NatsCounters::default());
        // Each client's connection task runs on the worker the client is made on.
        let clients = workers
            .on_each(|index| {
                let connection = Connection {
                    server: url.to_string(),
                    number: index + 1,
                    of: workers.count(),
                    connected_before: Arc::new(AtomicBool::new(false)),
                };
                let events = counters.clone();
                async_nats::ConnectOptions::new()
                    .name("mcchat-host")
                    .retry_on_initial_connect()
                    .event_callback(move |event| {
                        let (counters, connection) = (events.clone(), connection.clone());
                        async move { log_event(&counters, &connection, event) }
                    })
                    .connect(url.to_string())
            })
            .await?
            .into_iter()
            .collect::<Result<Arc<[_]>, _>>()?;
        Ok(NatsMessaging {
            clients,
            workers: workers.handles().into(),
            counters,
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

    /// Subscribes to each subject in the queue group, once per worker, and delivers every
    /// message to `actor` on the worker that received it (or, when all of that worker's slots
    /// are taken, on another worker with one free), until `shutdown` is cancelled. Then
    /// each subscription drains: the server stops sending, and what it already sent to this
    /// host is still handled (the handlers join `tracker`).
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
            let slots = Arc::new(Slots::new(&self.workers));
            for (home, (client, worker)) in self.clients.iter().zip(self.workers.iter()).enumerate()
            {
                let subscription = client
                    .queue_subscribe(subject.clone(), queue_group.to_string())
                    .await?;
                tracker.spawn_on(
                    deliver(
                        subscription,
                        ActorTransport::new(router, actor),
                        slots.clone(),
                        home,
                        crate::telemetry::nats_received(subject),
                        shutdown.clone(),
                        tracker.clone(),
                    ),
                    worker,
                );
            }
        }
        Ok(())
    }

    /// Waits (up to a few seconds) until the server has the subscriptions, so that a host is
    /// ready for `chat.in` when its start returns. `false`: not connected yet; the client keeps
    /// trying in the background and subscribes once it connects.
    pub async fn wait_until_ready(&self) -> bool {
        matches!(
            tokio::time::timeout(READY_WAIT, self.flush_all()).await,
            Ok(answers) if answers.iter().all(Result::is_ok)
        )
    }

    /// Whether every connection is up now (each reconnects by itself when not).
    pub fn connection_state(&self) -> crate::control::ConnectionState {
        let connected = |client: &async_nats::Client| {
            client.connection_state() == async_nats::connection::State::Connected
        };
        if self.clients.iter().all(connected) {
            crate::control::ConnectionState::Connected
        } else {
            crate::control::ConnectionState::Reconnecting
        }
    }

    /// Sends everything published so far to the server.
    pub async fn flush(&self) {
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

fn log_event(counters: &NatsCounters, connection: &Connection, event: async_nats::Event) {
    use async_nats::Event;
    let server = format!(
        "{} (connection {} of {})",
        connection.server, connection.number, connection.of
    );
    match event {
        Event::Connected => {
            counters.connects.fetch_add(1, Ordering::Relaxed);
            if connection.connected_before.swap(true, Ordering::Relaxed) {
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
        let client = self.client();
        if client.connection_state() != async_nats::connection::State::Connected {
            return Err(self.dropped(&msg.subject, "NATS is not connected"));
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
            .client()
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
