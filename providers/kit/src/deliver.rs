//! Where a provider hands inbound messages: the linked actor (through the mcchat host's router,
//! or as a signed invocation over a lattice) or, in tests, anything that subscribes.

use async_trait::async_trait;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::RpcResult;
use wasmcloud_interface_messaging::{MessageSubscriber, SubMessage};

/// `MessageSubscriber` as a trait object (the generated trait has an associated function).
#[async_trait]
pub trait Deliver: Send + Sync {
    async fn deliver(&self, message: &SubMessage) -> RpcResult<()>;
}

#[async_trait]
impl<T: MessageSubscriber + Send + Sync> Deliver for T {
    async fn deliver(&self, message: &SubMessage) -> RpcResult<()> {
        self.handle_message(&Context::default(), message).await
    }
}
