//! Capability providers, built into the host, each with its `registration`: each answers its
//! contract's operations through the interface crate's generated receiver, so the wire encoding
//! is the one actors use. `nats` is NATS messaging; `websocket`, `mqtt` and `clock` link the
//! providers that also run standalone on a lattice.

use std::sync::Arc;

pub mod clock;
pub mod httpserver;
pub mod keyvalue;
pub mod mqtt;
pub mod nats;
pub mod registration;
pub mod websocket;

pub use crate::provider::{HTTPSERVER, KEYVALUE, MESSAGING};
pub use mcchat_provider_kit::await_reply;

/// The providers built into the host, looked up in this order.
pub fn builtin() -> registration::Registry {
    registration::Registry::new(vec![
        Arc::new(httpserver::Registration),
        Arc::new(websocket::Registration),
        Arc::new(mqtt::Registration),
        Arc::new(nats::Registration),
        Arc::new(keyvalue::Registration::default()),
        Arc::new(clock::Registration),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_provider_from_the_contract_and_the_image_name() {
        let registry = builtin();
        for (contract, image, expected) in [
            (
                MESSAGING,
                "wasmcloud.azurecr.io/nats_messaging:0.17.2",
                "NATS messaging (built in)",
            ),
            (
                MESSAGING,
                "ghcr.io/wasmcloud/messaging-nats:canary",
                "NATS messaging (built in)",
            ),
            (
                MESSAGING,
                "localhost:5000/mcchat/messaging-websocket:0.1.0",
                "WebSocket messaging (built in)",
            ),
            (
                MESSAGING,
                "file:///opt/providers/messaging-websocket.par.gz",
                "WebSocket messaging (built in)",
            ),
            (
                MESSAGING,
                "file://./build/messaging_websocket.par.gz",
                "WebSocket messaging (built in)",
            ),
            (
                MESSAGING,
                "registry:5000/x/messaging-websocket@sha256:abc",
                "WebSocket messaging (built in)",
            ),
            (
                MESSAGING,
                "file://./build/messaging_mqtt.par.gz",
                "MQTT messaging (built in)",
            ),
            (
                MESSAGING,
                "registry:5000/mcchat/messaging-mqtt@sha256:abc",
                "MQTT messaging (built in)",
            ),
            (
                HTTPSERVER,
                "wasmcloud.azurecr.io/httpserver:0.19.1",
                "HTTP server (built in)",
            ),
            (
                KEYVALUE,
                "wasmcloud.azurecr.io/kvredis:0.22.0",
                "key-value: Redis or embedded (built in)",
            ),
            (
                mcchat_provider_clock::CONTRACT,
                "file://./build/clock.par.gz",
                "clock (built in)",
            ),
        ] {
            let found = registry.find(contract, image).unwrap();
            assert_eq!(found.name(), expected, "{image}");
        }
        let e = registry
            .find(MESSAGING, "wasmcloud.azurecr.io/kafka:0.1")
            .err()
            .unwrap();
        assert!(e.to_string().contains("no built-in"), "{e}");
        let e = registry.find("wasmcloud:blobstore", "x").err().unwrap();
        assert!(e.to_string().contains("no provider for"), "{e}");
    }
}
