//! Prometheus metrics (`GET /metrics` on the dashboard's address), recorded through the `metrics`
//! facade. One recorder per process, however many hosts it runs (the tests run several).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const ACTOR_CALLS: &str = "mcchat_actor_calls_total";
pub const ACTOR_CALL_SECONDS: &str = "mcchat_actor_call_duration_seconds";
pub const ACTOR_INSTANCES_STARTED: &str = "mcchat_actor_instances_started_total";
pub const HTTP_RESPONSES: &str = "mcchat_http_responses_total";
pub const NATS_PUBLISHED: &str = "mcchat_nats_published_total";
pub const NATS_DROPPED: &str = "mcchat_nats_publish_dropped_total";
pub const NATS_RECEIVED: &str = "mcchat_nats_received_total";
pub const KEYVALUE_CALLS: &str = "mcchat_keyvalue_calls_total";
pub const KEYVALUE_ERRORS: &str = "mcchat_keyvalue_errors_total";
/// Appends to the chat log (chatlog's `ListAdd`, one per message).
pub const MESSAGES_STORED: &str = "mcchat_messages_stored_total";
/// Messages delivered to a channel actor (`Outbound.PublishMessage`).
pub const MESSAGES_FANNED_OUT: &str = "mcchat_messages_fanned_out_total";

/// Latency buckets: a chat call takes from tens of microseconds to the 10 s call deadline.
const SECONDS_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How often recorded histogram samples are folded into their buckets. Until then each sample
/// is kept, so without this a host nobody scrapes would grow by every call it makes.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder (once) and returns what renders it.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .expect("the buckets are not empty")
            .build_recorder();
        let handle = recorder.handle();
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            })
            .expect("starting the metrics upkeep thread");
        // Another recorder already installed (by an embedding program) keeps the metrics.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
        }
        handle
    })
}

/// The metrics in the Prometheus text format.
pub fn render() -> String {
    install().render()
}

/// How an actor call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The actor answered with an error.
    Error,
    Trap,
    TimedOut,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Trap => "trap",
            Outcome::TimedOut => "timeout",
        }
    }
}

/// The actor operation that delivers a stored message to a channel (counted as fanned out).
const FAN_OUT_OPERATION: &str = "Outbound.PublishMessage";

/// The metric handles of one actor operation, made once (labels are hashed on creation only).
pub struct OperationMetrics {
    calls: [metrics::Counter; 4],
    seconds: metrics::Histogram,
    /// For the chat's fan-out operation: each call that succeeded is a delivery.
    delivered: Option<metrics::Counter>,
}

impl OperationMetrics {
    pub fn new(actor: &str, operation: &str) -> Self {
        let counter = |outcome: Outcome| metrics::counter!(ACTOR_CALLS, "actor" => actor.to_string(), "operation" => operation.to_string(), "outcome" => outcome.as_str());
        OperationMetrics {
            calls: [
                counter(Outcome::Ok),
                counter(Outcome::Error),
                counter(Outcome::Trap),
                counter(Outcome::TimedOut),
            ],
            seconds: metrics::histogram!(ACTOR_CALL_SECONDS, "actor" => actor.to_string(), "operation" => operation.to_string()),
            delivered: (operation == FAN_OUT_OPERATION)
                .then(|| metrics::counter!(MESSAGES_FANNED_OUT)),
        }
    }

    pub fn record(&self, outcome: Outcome, took: Duration) {
        self.calls[outcome as usize].increment(1);
        self.seconds.record(took.as_secs_f64());
        if let (Some(delivered), Outcome::Ok) = (&self.delivered, outcome) {
            delivered.increment(1);
        }
    }
}

/// Counts the instances one actor starts (made once per actor).
pub fn instances_started(actor: &str) -> metrics::Counter {
    metrics::counter!(ACTOR_INSTANCES_STARTED, "actor" => actor.to_string())
}

/// Counts HTTP responses by status; the handles are made once per status.
pub fn http_response(status: u16) {
    static BY_STATUS: OnceLock<RwLock<HashMap<u16, metrics::Counter>>> = OnceLock::new();
    let counter = cached(
        BY_STATUS.get_or_init(Default::default),
        &status,
        || metrics::counter!(HTTP_RESPONSES, "status" => status.to_string()),
    );
    counter.increment(1);
}

/// The handle cached under `key`, made by `make` the first time. The read guard is gone before
/// the write lock is taken (holding both deadlocks).
fn cached<K, Q, V>(handles: &RwLock<HashMap<K, V>>, key: &Q, make: impl FnOnce() -> V) -> V
where
    K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
    Q: ToOwned<Owned = K> + std::hash::Hash + Eq + ?Sized,
    V: Clone,
{
    let known = handles.read().expect("metrics lock").get(key).cloned();
    known.unwrap_or_else(|| {
        handles
            .write()
            .expect("metrics lock")
            .entry(key.to_owned())
            .or_insert_with(make)
            .clone()
    })
}

/// A counter without labels, looked up once: these are counted per message.
macro_rules! cached_counter {
    ($name:expr) => {{
        static COUNTER: OnceLock<metrics::Counter> = OnceLock::new();
        COUNTER.get_or_init(|| metrics::counter!($name))
    }};
}

pub fn nats_published() {
    cached_counter!(NATS_PUBLISHED).increment(1);
}

pub fn nats_dropped() {
    cached_counter!(NATS_DROPPED).increment(1);
}

/// Counts messages received on one subscription (made once per subscription).
pub fn nats_received(subscription: &str) -> metrics::Counter {
    metrics::counter!(NATS_RECEIVED, "subject" => subscription.to_string())
}

/// The key-value metrics of one backend, with handles made once per operation.
pub struct KeyValueMetrics {
    backend: &'static str,
    operations: RwLock<HashMap<String, (metrics::Counter, metrics::Counter)>>,
    stored: metrics::Counter,
}

impl KeyValueMetrics {
    pub fn new(backend: &'static str) -> Self {
        KeyValueMetrics {
            backend,
            operations: RwLock::default(),
            stored: metrics::counter!(MESSAGES_STORED),
        }
    }

    pub fn record(&self, operation: &str, ok: bool) {
        let count = |(calls, errors): &(metrics::Counter, metrics::Counter)| {
            calls.increment(1);
            if !ok {
                errors.increment(1);
            }
        };
        let backend = self.backend;
        let counters = cached(&self.operations, operation, || {
            (
                metrics::counter!(KEYVALUE_CALLS, "backend" => backend, "operation" => operation.to_string()),
                metrics::counter!(KEYVALUE_ERRORS, "backend" => backend, "operation" => operation.to_string()),
            )
        });
        count(&counters);
        if ok && operation == "ListAdd" {
            self.stored.increment(1);
        }
    }
}

/// Whether each link's provider is connected (or listening) now: 1, or 0 while it reconnects.
pub const LINK_CONNECTED: &str = "mcchat_link_connected";
