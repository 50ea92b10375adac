//! Receiver adapter for `wasmcloud:messaging`'s subscriber side: a wasmbus
//! `MessageSubscriber.HandleMessage`, decoded from msgpack as wasmbus-rpc encodes it (the body
//! as msgpack binary), calls the logic component's message-subscriber export. Other operations
//! go on to the fallback.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "message-subscriber-receiver",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

use exports::wasmcloud::bus::guest::Guest;
use serde::Deserialize;
use wasmcloud::messaging::message_subscriber::handle_message;
use wasmcloud::messaging::message_subscriber::SubMessage;

struct Receiver;
export!(Receiver);

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivered {
    #[serde(default)]
    subject: String,
    #[serde(default)]
    reply_to: Option<String>,
    #[serde(default, with = "serde_bytes")]
    body: Vec<u8>,
}

impl Guest for Receiver {
    fn receive(operation: String, payload: Vec<u8>) -> Result<Vec<u8>, String> {
        if operation != "MessageSubscriber.HandleMessage" {
            return wasmcloud::bus::fallback::receive(&operation, &payload);
        }
        let msg: Delivered =
            rmp_serde::from_slice(&payload).map_err(|e| format!("decoding {operation}: {e}"))?;
        handle_message(&SubMessage {
            subject: msg.subject,
            reply_to: msg.reply_to,
            body: msg.body,
        })?;
        // The operation answers nothing: wasmbus-rpc sends an empty payload.
        Ok(Vec::new())
    }
}
