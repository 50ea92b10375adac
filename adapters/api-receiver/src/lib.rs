//! Receiver adapter for the api contract: the wasmbus `Api.AcceptMessage` operation, decoded
//! from msgpack as wasmbus-rpc encodes it, calls the logic component's api export; its answer
//! goes back in msgpack. Other operations go on to the fallback.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "api-receiver",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

#[path = "../../wire/api.rs"]
mod wire;

/// The contract's WIT records, as `wire` converts them.
mod contract {
    pub use crate::mcchat::api::api::*;
}

use exports::wasmcloud::bus::guest::Guest;

struct Receiver;
export!(Receiver);

impl Guest for Receiver {
    fn receive(operation: String, payload: Vec<u8>) -> Result<Vec<u8>, String> {
        if operation != "Api.AcceptMessage" {
            return wasmcloud::bus::fallback::receive(&operation, &payload);
        }
        let msg: wire::ReceivedMessage =
            rmp_serde::from_slice(&payload).map_err(|e| format!("decoding {operation}: {e}"))?;
        let ack = contract::accept_message(&msg.into())?;
        rmp_serde::to_vec_named(&wire::Acknowledgement::from(ack))
            .map_err(|e| format!("encoding {operation}'s answer: {e}"))
    }
}
