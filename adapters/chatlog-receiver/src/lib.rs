//! Receiver adapter for the chatlog contract: a wasmbus `Chatlog.*` operation, decoded from
//! msgpack as wasmbus-rpc encodes it, calls the logic component's chatlog export; its answer
//! goes back in msgpack. Other operations go on to the fallback.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "chatlog-receiver",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

#[path = "../../wire/chatlog.rs"]
mod wire;

/// The contract's WIT records, as `wire` converts them.
mod contract {
    pub use crate::mcchat::chatlog::chatlog::*;
}

use exports::wasmcloud::bus::guest::Guest;
use serde::{de::DeserializeOwned, Serialize};

struct Receiver;
export!(Receiver);

fn decode<T: DeserializeOwned>(operation: &str, payload: &[u8]) -> Result<T, String> {
    rmp_serde::from_slice(payload).map_err(|e| format!("decoding {operation}: {e}"))
}

fn encode(operation: &str, answer: &impl Serialize) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(answer).map_err(|e| format!("encoding {operation}'s answer: {e}"))
}

impl Guest for Receiver {
    fn receive(operation: String, payload: Vec<u8>) -> Result<Vec<u8>, String> {
        match operation.as_str() {
            "Chatlog.WriteMessage" => {
                let msg: wire::CanonicalChatMessage = decode(&operation, &payload)?;
                let written = contract::write_message(&msg.into())?;
                encode(&operation, &wire::WriteMessageResponse::from(written))
            }
            "Chatlog.GetMessages" => {
                let list: Vec<wire::CanonicalChatMessage> = contract::get_messages()?
                    .into_iter()
                    .map(Into::into)
                    .collect();
                encode(&operation, &list)
            }
            "Chatlog.GetMessagesPage" => {
                let req: wire::MessagesPageRequest = decode(&operation, &payload)?;
                let page = contract::get_messages_page(&req.into())?;
                encode(&operation, &wire::MessagesPage::from(page))
            }
            "Chatlog.ListRooms" => {
                let req: wire::RoomsPageRequest = decode(&operation, &payload)?;
                let page = contract::list_rooms(&req.into())?;
                encode(&operation, &wire::RoomsPage::from(page))
            }
            _ => wasmcloud::bus::fallback::receive(&operation, &payload),
        }
    }
}
