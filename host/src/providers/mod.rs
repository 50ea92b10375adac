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
pub mod websocket;

/// Contract ids of the providers linked from a manifest.
pub const HTTPSERVER: &str = "wasmcloud:httpserver";
pub const MESSAGING: &str = "wasmcloud:messaging";
pub const KEYVALUE: &str = "wasmcloud:keyvalue";

/// The implementations of `wasmcloud:messaging` built into the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingImpl {
    Nats,
    WebSocket,
}

/// Which messaging provider a capability component's image is, as a lattice host would know it
/// from the image it pulls: by the repository's name (`…/nats_messaging:0.17.2`,
/// `…/messaging-websocket:0.1.0`), ignoring registry, tag and digest.
pub fn messaging_implementation(image: &str) -> anyhow::Result<MessagingImpl> {
    let repository = image.split(['@']).next().unwrap_or(image);
    let name = repository.rsplit('/').next().unwrap_or(repository);
    let name = name.split(':').next().unwrap_or(name).to_ascii_lowercase();
    if name.contains("websocket") {
        Ok(MessagingImpl::WebSocket)
    } else if name.contains("nats") {
        Ok(MessagingImpl::Nats)
    } else {
        anyhow::bail!(
            "no built-in {MESSAGING} provider is image {image}: the local host has NATS (an image \
             named like nats_messaging) and WebSocket (an image named like messaging-websocket)"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_messaging_implementation_from_the_image_name() {
        for (image, expected) in [
            (
                "wasmcloud.azurecr.io/nats_messaging:0.17.2",
                MessagingImpl::Nats,
            ),
            (
                "ghcr.io/wasmcloud/messaging-nats:canary",
                MessagingImpl::Nats,
            ),
            (
                "localhost:5000/mcchat/messaging-websocket:0.1.0",
                MessagingImpl::WebSocket,
            ),
            (
                "file:///opt/providers/messaging-websocket.par.gz",
                MessagingImpl::WebSocket,
            ),
            (
                "registry:5000/x/messaging-websocket@sha256:abc",
                MessagingImpl::WebSocket,
            ),
        ] {
            assert_eq!(
                messaging_implementation(image).unwrap(),
                expected,
                "{image}"
            );
        }
        let e = messaging_implementation("wasmcloud.azurecr.io/kafka:0.1").unwrap_err();
        assert!(e.to_string().contains("no built-in"), "{e}");
    }
}
