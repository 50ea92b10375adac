//! Sender adapter for api-gateway's relay: `publish-message` to a channel becomes a wasmbus
//! `send` of `Outbound.PublishMessage` to that channel actor's call alias, msgpack-encoded as
//! wasmbus-rpc encodes it.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "relay-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

#[path = "../../wire/outbound.rs"]
mod wire;

/// The contract's WIT records, as `wire` converts them.
mod contract {
    pub use crate::exports::mcchat::outbound::relay::OutboundMessage;
}

use exports::mcchat::outbound::relay::Guest;
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

struct Sender;
export!(Sender);

impl Guest for Sender {
    fn publish_message(channel: String, msg: contract::OutboundMessage) -> Result<bool, String> {
        const OPERATION: &str = "Outbound.PublishMessage";
        let payload = rmp_serde::to_vec_named(&wire::OutboundMessage::from(msg))
            .map_err(|e| format!("encoding {OPERATION}: {e}"))?;
        // An actor is addressed by its alias, with no link name.
        let target = Target {
            link_name: String::new(),
            namespace: channel,
        };
        let answer = send(&target, OPERATION, &payload)?;
        rmp_serde::from_slice(&answer).map_err(|e| format!("decoding {OPERATION}'s answer: {e}"))
    }
}
