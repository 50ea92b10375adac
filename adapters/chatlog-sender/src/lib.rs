//! Sender adapter for the chatlog contract: each call becomes a wasmbus `send` to another actor
//! by call alias, msgpack-encoded with named fields as wasmbus-rpc encodes it. Channels reach the
//! API (`mcchat/api`); api-gateway's build (feature `to-chatlog`) reaches `mcchat/chatlog`.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "chatlog-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

#[path = "../../wire/chatlog.rs"]
mod wire;

use contract::{
    CanonicalChatMessage, Guest, MessagesList, MessagesPage, MessagesPageRequest, RoomsPage,
    RoomsPageRequest, WriteMessageResponse,
};
use serde::{de::DeserializeOwned, Serialize};
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

/// The call alias calls go to.
const TARGET_ALIAS: &str = if cfg!(feature = "to-chatlog") {
    "mcchat/chatlog"
} else {
    "mcchat/api"
};

/// The contract's WIT records, as `wire` converts them.
mod contract {
    pub use crate::exports::mcchat::chatlog::chatlog::*;
}

struct Sender;
export!(Sender);

fn call<R: DeserializeOwned>(operation: &str, arg: &impl Serialize) -> Result<R, String> {
    let payload = rmp_serde::to_vec_named(arg).map_err(|e| format!("encoding {operation}: {e}"))?;
    // An actor is addressed by its alias, with no link name.
    let target = Target {
        link_name: String::new(),
        namespace: TARGET_ALIAS.into(),
    };
    let answer = send(&target, operation, &payload)?;
    rmp_serde::from_slice(&answer).map_err(|e| format!("decoding {operation}'s answer: {e}"))
}

impl Guest for Sender {
    fn write_message(msg: CanonicalChatMessage) -> Result<WriteMessageResponse, String> {
        let written: wire::WriteMessageResponse = call(
            "Chatlog.WriteMessage",
            &wire::CanonicalChatMessage::from(msg),
        )?;
        Ok(written.into())
    }

    fn get_messages() -> Result<MessagesList, String> {
        // The operation takes no input: wasmbus-rpc sends an empty payload.
        let target = Target {
            link_name: String::new(),
            namespace: TARGET_ALIAS.into(),
        };
        let answer = send(&target, "Chatlog.GetMessages", &[])?;
        let list: Vec<wire::CanonicalChatMessage> = rmp_serde::from_slice(&answer)
            .map_err(|e| format!("decoding Chatlog.GetMessages's answer: {e}"))?;
        Ok(list.into_iter().map(Into::into).collect())
    }

    fn get_messages_page(req: MessagesPageRequest) -> Result<MessagesPage, String> {
        let page: wire::MessagesPage = call(
            "Chatlog.GetMessagesPage",
            &wire::MessagesPageRequest::from(req),
        )?;
        Ok(page.into())
    }

    fn list_rooms(req: RoomsPageRequest) -> Result<RoomsPage, String> {
        let page: wire::RoomsPage = call("Chatlog.ListRooms", &wire::RoomsPageRequest::from(req))?;
        Ok(page.into())
    }
}
