//! Sender adapter for `wasmcloud:messaging`: `publish` becomes a wasmbus `send` of
//! `Messaging.Publish` to the linked messaging provider, msgpack-encoded as wasmbus-rpc encodes
//! it (the body as msgpack binary).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "messaging-sender",
    // The interfaces the world's interfaces use (`wasmcloud:bus/types`) are generated too.
    generate_all,
});

use exports::wasmcloud::messaging::messaging::{Guest, PubMessage};
use serde::Serialize;
use wasmcloud::bus::host::send;
use wasmcloud::bus::types::Target;

struct Sender;
export!(Sender);

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Publish<'a> {
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<&'a str>,
    #[serde(with = "serde_bytes")]
    body: &'a [u8],
}

impl Guest for Sender {
    fn publish(msg: PubMessage) -> Result<(), String> {
        let payload = rmp_serde::to_vec_named(&Publish {
            subject: &msg.subject,
            reply_to: msg.reply_to.as_deref(),
            body: &msg.body,
        })
        .map_err(|e| format!("encoding Messaging.Publish: {e}"))?;
        let target = Target {
            link_name: "default".into(),
            namespace: "wasmcloud:messaging".into(),
        };
        send(&target, "Messaging.Publish", &payload).map(drop)
    }
}
