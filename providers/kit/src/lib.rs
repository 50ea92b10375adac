//! What every mcchat capability provider shares, linked into the host or run standalone on a
//! wasmCloud lattice: link values, network plumbing, and request deadlines.

pub mod cluster;
pub mod connection_cap;
pub mod deliver;
pub mod lattice;
pub mod link_values;
pub mod nats_auth;
pub mod net;
pub mod redial;
pub mod throttle;

pub use cluster::ClusterTrust;
pub use connection_cap::{Admission, ConnectionCap};
pub use deliver::Deliver;
pub use link_values::{link_number, link_value, set_link_value, LinkValues};
pub use nats_auth::NatsAuth;
pub use throttle::LogThrottle;

/// Implements `MessageDispatch` for a provider through its contract's generated receiver, which
/// decodes the arguments, calls the provider's trait method and encodes the answer.
#[macro_export]
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

/// Waits for a messaging request's reply as long as the actor asked (at least 1 ms); past
/// that, or when the reply can no longer come, the request times out.
pub async fn await_reply<T, E>(
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
