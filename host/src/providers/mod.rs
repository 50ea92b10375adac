//! Capability providers, built into the host and registered in `registry`: each answers its
//! contract's operations through the interface crate's generated receiver, so the wire encoding
//! is the one actors use.

/// Implements `MessageDispatch` for a provider through its contract's generated receiver, which
/// decodes the arguments, calls the provider's trait method and encodes the answer.
macro_rules! dispatch_via_receiver {
    ($provider:ty, $receiver:path) => {
        #[async_trait::async_trait]
        impl wasmbus_rpc::common::MessageDispatch for $provider {
            async fn dispatch(
                &self,
                ctx: &wasmbus_rpc::common::Context,
                message: wasmbus_rpc::common::Message<'_>,
            ) -> Result<Vec<u8>, wasmbus_rpc::error::RpcError> {
                <Self as $receiver>::dispatch(self, ctx, message).await
            }
        }
        impl $receiver for $provider {}
    };
}

pub mod builtins;
pub mod httpserver;
pub mod keyvalue;
pub mod messaging;
pub mod registry;
pub mod websocket;

/// Contract ids of the providers linked from a manifest.
pub const HTTPSERVER: &str = "wasmcloud:httpserver";
pub const MESSAGING: &str = "wasmcloud:messaging";
pub const KEYVALUE: &str = "wasmcloud:keyvalue";

/// Waits for a messaging request's reply as long as the actor asked (at least 1 ms); past
/// that, or when the reply can no longer come, the request times out.
async fn await_reply<T, E>(
    msg: &wasmcloud_interface_messaging::RequestMessage,
    reply: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, wasmbus_rpc::error::RpcError>
where
    E: Into<wasmbus_rpc::error::RpcError>,
{
    let timeout = std::time::Duration::from_millis(u64::from(msg.timeout_ms.max(1)));
    match tokio::time::timeout(timeout, reply).await {
        Ok(answer) => answer.map_err(Into::into),
        Err(_) => Err(wasmbus_rpc::error::RpcError::Timeout(format!(
            "no reply on {} within {timeout:?}",
            msg.subject
        ))),
    }
}
