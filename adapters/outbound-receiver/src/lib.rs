//! Receiver adapter for the outbound contract: a wasmbus `Outbound.PublishMessage`, decoded
//! from msgpack as wasmbus-rpc encodes it, calls the logic component's outbound export. Other
//! operations go on to the fallback.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "outbound-receiver",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

#[path = "../../wire/outbound.rs"]
mod wire;

/// The contract's WIT records, as `wire` converts them.
mod contract {
    pub use crate::mcchat::outbound::outbound::*;
}

use exports::wasmcloud::bus::guest::Guest;

struct Receiver;
export!(Receiver);

impl Guest for Receiver {
    fn receive(operation: String, payload: Vec<u8>) -> Result<Vec<u8>, String> {
        if operation != "Outbound.PublishMessage" {
            return wasmcloud::bus::fallback::receive(&operation, &payload);
        }
        let msg: wire::OutboundMessage =
            rmp_serde::from_slice(&payload).map_err(|e| format!("decoding {operation}: {e}"))?;
        let delivered = contract::publish_message(&msg.into())?;
        rmp_serde::to_vec_named(&delivered)
            .map_err(|e| format!("encoding {operation}'s answer: {e}"))
    }
}
