//! The nats-channel actor's logic as a WebAssembly component (world
//! `mcchat:actors/messaging-channel`): the module build's `inbound` and `outbound`, with the
//! API, the broker, ids and the log as plain WIT imports, and the subscriber and outbound
//! contracts as its exports. Nothing here speaks wasmbus: `cargo xtask build` composes it with
//! its adapters into `build/nats_channel_component_s.wasm`.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "messaging-channel",
    generate_all,
});

pub mod inbound;
pub mod outbound;

/// The name this channel stamps on the messages it brings in.
pub const CHANNEL_NAME: &str = "nats";

/// The call context and errors the logic takes. An import's error arrives as text.
pub mod rpc {
    use std::fmt;

    /// Nothing travels in a component's context: the WIT calls carry no wasmbus metadata.
    #[derive(Debug, Default)]
    pub struct Context;

    #[derive(Debug)]
    pub struct RpcError(pub String);

    impl fmt::Display for RpcError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }

    impl From<String> for RpcError {
        fn from(error: String) -> Self {
            RpcError(error)
        }
    }

    pub type RpcResult<T> = Result<T, RpcError>;
}

/// The contracts' records under the names the logic uses.
pub mod bindings {
    pub mod chatlog {
        use async_trait::async_trait;

        pub use crate::mcchat::chatlog::chatlog::{CanonicalChatMessage, WriteMessageResponse};
        use crate::rpc::{Context, RpcResult};

        /// The API as `inbound` calls it (weld-codegen's `Chatlog` in the module build).
        #[async_trait]
        pub trait Chatlog {
            async fn write_message(
                &self,
                ctx: &Context,
                msg: &CanonicalChatMessage,
            ) -> RpcResult<WriteMessageResponse>;
        }
    }
    pub mod outbound {
        pub use crate::exports::mcchat::outbound::outbound::OutboundMessage;
    }
}

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use async_trait::async_trait;
use futures::executor::block_on;

use crate::bindings::chatlog::{CanonicalChatMessage, Chatlog, WriteMessageResponse};
use crate::bindings::outbound::OutboundMessage;
use crate::exports::mcchat::outbound::outbound::Guest as Outbound;
use crate::exports::wasmcloud::messaging::message_subscriber::{Guest as Subscriber, SubMessage};
use crate::inbound::{accept, Ids, Report};
use crate::outbound::{fanout_payload, FANOUT_SUBJECT};
use crate::rpc::{Context, RpcResult};
use crate::wasmcloud::logging::logging::{write_log, LogEntry};
use crate::wasmcloud::messaging::messaging::{publish as broker_publish, PubMessage};

/// The API the component imports.
struct Api;

#[async_trait]
impl Chatlog for Api {
    async fn write_message(
        &self,
        _ctx: &Context,
        msg: &CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        Ok(crate::mcchat::chatlog::chatlog::write_message(msg)?)
    }
}

struct NumberGen;

#[async_trait]
impl Ids for NumberGen {
    async fn new_id(&self) -> RpcResult<String> {
        Ok(crate::wasmcloud::numbergen::numbergen::generate_guid()?)
    }
}

/// Failure details go to the host's log.
struct HostLog;

#[async_trait]
impl Report for HostLog {
    async fn failure(&self, detail: String) {
        log("error", detail);
    }
}

/// Logging must never fail a request, so its own errors are dropped.
fn log(level: &str, text: String) {
    let _ = write_log(&LogEntry {
        level: level.into(),
        text,
    });
}

fn publish(subject: &str, body: Vec<u8>) -> Result<(), String> {
    broker_publish(&PubMessage {
        subject: subject.to_string(),
        reply_to: None,
        body,
    })
}

struct NatsChannel;
export!(NatsChannel);

impl Subscriber for NatsChannel {
    fn handle_message(msg: SubMessage) -> Result<(), String> {
        let ack = block_on(accept(&msg.body, &NumberGen, &Api, &HostLog));
        match &msg.reply_to {
            Some(reply_to) => publish(reply_to, ack.to_json()),
            None => {
                if let Some(reason) = &ack.reason {
                    // Nobody to answer: the log is the only place the refusal can go.
                    log(
                        "debug",
                        format!(
                            "refused a message on {} without a reply subject: {reason}",
                            msg.subject
                        ),
                    );
                }
                Ok(())
            }
        }
    }
}

impl Outbound for NatsChannel {
    fn publish_message(msg: OutboundMessage) -> Result<bool, String> {
        publish(FANOUT_SUBJECT, fanout_payload(&msg))?;
        Ok(true)
    }
}
