//! `wasmcloud:keyvalue`: Redis when a URL is configured, otherwise an embedded persistent store.

mod embedded;
mod redis;

pub use self::embedded::EmbeddedKeyValue;
pub use self::redis::RedisKeyValue;

use wasmbus_rpc::error::RpcError;

/// The one place a backend's error becomes the error an actor sees.
fn backend_error(backend: &str, e: impl std::fmt::Display) -> RpcError {
    RpcError::Other(format!("{backend}: {e}"))
}
