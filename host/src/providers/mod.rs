//! Capability providers, built into the host: each answers its contract's operations through
//! the interface crate's generated receiver, so the wire encoding is the one actors use.

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

/// Contract ids of the providers linked from a manifest.
pub const HTTPSERVER: &str = "wasmcloud:httpserver";
pub const MESSAGING: &str = "wasmcloud:messaging";
pub const KEYVALUE: &str = "wasmcloud:keyvalue";
