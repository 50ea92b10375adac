//! `wasmcloud:keyvalue`: Redis when a URL is configured, otherwise an embedded persistent store.

mod embedded;
mod redis;

pub use self::embedded::EmbeddedKeyValue;
pub use self::redis::RedisKeyValue;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wasmbus_rpc::common::{Context, Message, MessageDispatch};
use wasmbus_rpc::error::RpcError;

use crate::control::{ConnectionState, StateProbe};

/// The one place a backend's error becomes the error an actor sees.
fn backend_error(backend: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::Other(format!("{backend}: {e}"))
}

/// A key-value backend with its calls counted (`/metrics`) and its health judged by its last
/// call: a backend whose last call failed is shown as reconnecting until one succeeds.
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

    pub fn state_probe(&self) -> StateProbe {
        let last_call_ok = self.last_call_ok.clone();
        Arc::new(move || {
            if last_call_ok.load(Ordering::Relaxed) {
                ConnectionState::Connected
            } else {
                ConnectionState::Reconnecting
            }
        })
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
