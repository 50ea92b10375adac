//! Sender adapter for the api contract: `accept-message` becomes a wasmbus `send` of
//! `Api.AcceptMessage` to `mcchat/api`, msgpack-encoded as wasmbus-rpc encodes it.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "api-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

#[path = "../../wire/api.rs"]
mod wire;

/// The contract's WIT records, as `wire` converts them.
mod contract {
    pub use crate::exports::mcchat::api::api::*;
}

use contract::{Acknowledgement, Guest, ReceivedMessage};
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

struct Sender;
export!(Sender);

impl Guest for Sender {
    fn accept_message(msg: ReceivedMessage) -> Result<Acknowledgement, String> {
        const OPERATION: &str = "Api.AcceptMessage";
        let payload = rmp_serde::to_vec_named(&wire::ReceivedMessage::from(msg))
            .map_err(|e| format!("encoding {OPERATION}: {e}"))?;
        // An actor is addressed by its alias, with no link name.
        let target = Target {
            link_name: String::new(),
            namespace: "mcchat/api".into(),
        };
        let answer = send(&target, OPERATION, &payload)?;
        let ack: wire::Acknowledgement = rmp_serde::from_slice(&answer)
            .map_err(|e| format!("decoding {OPERATION}'s answer: {e}"))?;
        Ok(ack.into())
    }
}
