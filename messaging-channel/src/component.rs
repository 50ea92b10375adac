//! A messaging channel's logic as a WebAssembly component (world
//! `mcchat:actors/messaging-channel`): the module build's `channel` and `outbound`, with the
//! API, the broker and the log as plain WIT imports, and the subscriber and outbound contracts
//! as its exports. Nothing here speaks wasmbus: `cargo xtask build` composes it with its
//! adapters into `build/<channel>_channel_component_s.wasm`.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "messaging-channel",
    generate_all,
});

pub mod channel;
pub mod outbound;

/// The contracts' records under the names the logic uses.
pub mod bindings {
    pub mod api {
        pub use crate::mcchat::api::api::{Acknowledgement, ReceivedMessage};
    }
    pub mod outbound {
        pub use crate::exports::mcchat::outbound::outbound::OutboundMessage;
    }
}

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use crate::bindings::api::Acknowledgement;
use crate::bindings::outbound::OutboundMessage;
use crate::channel::{answer, api_unavailable, received, Answer};
use crate::exports::mcchat::outbound::outbound::Guest as Outbound;
use crate::exports::wasmcloud::messaging::message_subscriber::{Guest as Subscriber, SubMessage};
use crate::outbound::{fanout_payload, fanout_subject};
use crate::wasmcloud::logging::logging::{write_log, LogEntry};
use crate::wasmcloud::messaging::messaging::{publish as broker_publish, PubMessage};

fn publish(subject: &str, body: Vec<u8>) -> Result<(), String> {
    broker_publish(&PubMessage {
        subject: subject.to_string(),
        reply_to: None,
        body,
    })
}

/// The API's answer, or a refusal when the API did not answer (the details to the log).
fn accept(msg: &SubMessage) -> Acknowledgement {
    let received = received(&msg.subject, &msg.body, msg.reply_to.as_deref());
    crate::mcchat::api::api::accept_message(&received).unwrap_or_else(|e| {
        // Logging must never fail a request, so its own errors are dropped.
        let _ = write_log(&LogEntry {
            level: "error".into(),
            text: format!("mcchat/api did not take a message: {e}"),
        });
        api_unavailable()
    })
}

struct MessagingChannel;
export!(MessagingChannel);

impl Subscriber for MessagingChannel {
    fn handle_message(msg: SubMessage) -> Result<(), String> {
        let ack = accept(&msg);
        match answer(msg.reply_to.as_deref(), &ack) {
            Answer::Reply { to } => publish(to, ack.ack),
            Answer::Done => Ok(()),
            // The module build's `RpcError::InvalidParameter`, as text.
            Answer::Refusal(reason) => Err(format!("invalid parameter: {reason}")),
        }
    }
}

impl Outbound for MessagingChannel {
    fn publish_message(msg: OutboundMessage) -> Result<bool, String> {
        publish(&fanout_subject(&msg), fanout_payload(&msg))?;
        Ok(true)
    }
}
