//! `wasmcloud:keyvalue`: Redis when a URL is configured, otherwise an embedded persistent store.

mod embedded;
mod redis;

pub use self::embedded::EmbeddedKeyValue;
pub use self::redis::RedisKeyValue;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_trait::async_trait;
use wasmbus_rpc::common::{Context, Message, MessageDispatch};
use wasmbus_rpc::error::RpcError;

use super::registration::{
    self, link_value, set_link_value, About, LinkStart, LinkValues, Overrides,
};
use super::KEYVALUE;
use crate::provider::{ConnectionState, ProviderHandle, Started};

/// The `wasmcloud:keyvalue` provider: Redis at the link's `URL`, or, for a link without one,
/// the embedded store in the host's data directory (one store for every such link).
#[derive(Default)]
pub struct Registration {
    embedded: Mutex<Option<EmbeddedKeyValue>>,
}

impl Registration {
    /// The embedded store, opened by the first link that needs it.
    fn embedded(&self, path: &std::path::Path) -> anyhow::Result<EmbeddedKeyValue> {
        let mut embedded = self.embedded.lock().expect("embedded store lock");
        if let Some(store) = &*embedded {
            return Ok(store.clone());
        }
        let store = EmbeddedKeyValue::open(path)
            .with_context(|| format!("opening the embedded store {}", path.display()))?;
        Ok(embedded.insert(store).clone())
    }
}

#[async_trait]
impl registration::Registration for Registration {
    fn about(&self) -> About {
        About {
            contract: KEYVALUE,
            name: "key-value: Redis or embedded (built in)",
            image_names: &[],
        }
    }

    /// `--redis-url` names the Redis; `--embedded-kv` keeps data in the embedded store.
    fn apply_overrides(&self, overrides: &Overrides, values: &mut LinkValues) {
        if let Some(url) = &overrides.redis_url {
            set_link_value(values, "URL", url.clone());
        } else if overrides.embedded_kv {
            values.retain(|k, _| !k.eq_ignore_ascii_case("URL"));
        }
    }

    async fn start(&self, link: LinkStart<'_>) -> anyhow::Result<Box<dyn Started>> {
        if let Some(url) = link_value(link.values, "URL") {
            let redis = RedisKeyValue::connect(url, &link.host.workers)
                .await
                .with_context(|| format!("connecting to Redis at {url}"))?;
            let redis = Arc::new(Metered::new("redis", redis));
            return Ok(Box::new(Backend {
                handle: ProviderHandle::new(redis.clone()),
                last_call_ok: redis.last_call_ok.clone(),
                target: url.to_string(),
                describe: format!("key-value on Redis {}", crate::mask::url(url)),
            }));
        }
        let path = link.host.data_dir.join("keyvalue.redb");
        let store = Arc::new(Metered::new("embedded", self.embedded(&path)?));
        Ok(Box::new(Backend {
            handle: ProviderHandle::local_disk(store.clone()),
            last_call_ok: store.last_call_ok.clone(),
            target: path.display().to_string(),
            describe: format!("key-value in the embedded store {}", path.display()),
        }))
    }
}

/// A key-value backend serving one link.
struct Backend {
    handle: ProviderHandle,
    last_call_ok: Arc<AtomicBool>,
    target: String,
    describe: String,
}

#[async_trait]
impl Started for Backend {
    fn handle(&self) -> ProviderHandle {
        self.handle.clone()
    }

    fn target(&self) -> String {
        self.target.clone()
    }

    /// Judged by the last call: a backend whose last call failed is shown as reconnecting
    /// until one succeeds.
    fn state(&self) -> ConnectionState {
        if self.last_call_ok.load(Ordering::Relaxed) {
            ConnectionState::Connected
        } else {
            ConnectionState::Reconnecting
        }
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    /// Nothing calls in: once unlinked, the actor's calls are refused by the router.
    async fn stop(&self) {}
}

/// The one place a backend's error becomes the error an actor sees.
fn backend_error(backend: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::Other(format!("{backend}: {e}"))
}

/// A key-value backend with its calls counted (`/metrics`) and whether its last call succeeded.
pub struct Metered<P> {
    metrics: crate::telemetry::KeyValueMetrics,
    inner: P,
    last_call_ok: Arc<AtomicBool>,
}

impl<P> Metered<P> {
    pub fn new(backend: &'static str, inner: P) -> Self {
        Metered {
            metrics: crate::telemetry::KeyValueMetrics::new(backend),
            inner,
            last_call_ok: Arc::new(AtomicBool::new(true)),
        }
    }
}

#[async_trait::async_trait]
impl<P: MessageDispatch + Send + Sync> MessageDispatch for Metered<P> {
    async fn dispatch(&self, ctx: &Context, message: Message<'_>) -> Result<Vec<u8>, RpcError> {
        let method = message.method;
        let answer = self.inner.dispatch(ctx, message).await;
        // A missing key is an answer, not a fault; only errors count against the backend.
        let ok = answer.is_ok();
        self.last_call_ok.store(ok, Ordering::Relaxed);
        self.metrics.record(method, ok);
        answer
    }
}
