//! The api-gateway actor's logic as a WebAssembly component (world `mcchat:actors/api-gateway`):
//! the module build's `relay`, with the chat log, the channels and the log as plain WIT
//! imports and the chatlog contract as its export. Nothing here speaks wasmbus: `cargo xtask
//! build` composes it with its adapters into `build/api_gateway_component_s.wasm`.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "api-gateway",
    generate_all,
});

pub mod relay;

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

        /// The chat log as `relay` calls it (weld-codegen's `Chatlog` in the module build).
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
        pub use crate::mcchat::outbound::relay::OutboundMessage;
    }
}

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use async_trait::async_trait;
use futures::executor::block_on;

use crate::bindings::chatlog::Chatlog;
use crate::bindings::outbound::OutboundMessage;
use crate::exports::mcchat::chatlog::chatlog as api;
use crate::mcchat::chatlog::chatlog as store;
use crate::relay::{Channel, Outbound};
use crate::rpc::{Context, RpcResult};
use crate::wasmcloud::logging::logging::{write_log, LogEntry};

/// The chat log the component imports.
struct ChatlogImport;

#[async_trait]
impl Chatlog for ChatlogImport {
    async fn write_message(
        &self,
        _ctx: &Context,
        msg: &store::CanonicalChatMessage,
    ) -> RpcResult<store::WriteMessageResponse> {
        Ok(store::write_message(msg)?)
    }
}

/// The channels, through the relay the component imports.
struct Channels;

#[async_trait]
impl Outbound for Channels {
    async fn publish(&self, channel: Channel, msg: &OutboundMessage) -> RpcResult<bool> {
        Ok(crate::mcchat::outbound::relay::publish_message(
            channel.alias,
            msg,
        )?)
    }
}

// The record types this component exports are its own, apart from the same records it
// imports: moved across field by field.

fn stored(m: api::CanonicalChatMessage) -> store::CanonicalChatMessage {
    store::CanonicalChatMessage {
        id: m.id,
        source_user: m.source_user,
        channel_name: m.channel_name,
        body: m.body,
        client_id: m.client_id,
        index: m.index,
    }
}

fn served(m: store::CanonicalChatMessage) -> api::CanonicalChatMessage {
    api::CanonicalChatMessage {
        id: m.id,
        source_user: m.source_user,
        channel_name: m.channel_name,
        body: m.body,
        client_id: m.client_id,
        index: m.index,
    }
}

struct ApiGateway;
export!(ApiGateway);

impl api::Guest for ApiGateway {
    fn write_message(msg: api::CanonicalChatMessage) -> Result<api::WriteMessageResponse, String> {
        let msg = stored(msg);
        let (response, failures) = block_on(relay::write_and_relay(
            &Context,
            &ChatlogImport,
            &Channels,
            &msg,
        ))
        .map_err(|e| e.to_string())?;
        for failure in failures {
            // Logging must never fail a request, so its own errors are dropped.
            let _ = write_log(&LogEntry {
                level: "warn".into(),
                text: format!(
                    "message {} stored but not relayed to {}: {}",
                    msg.id, failure.channel.alias, failure.error
                ),
            });
        }
        Ok(api::WriteMessageResponse {
            accepted: response.accepted,
            reason: response.reason,
            id: response.id,
            in_progress: response.in_progress,
            index: response.index,
        })
    }

    fn get_messages() -> Result<Vec<api::CanonicalChatMessage>, String> {
        Ok(store::get_messages()?.into_iter().map(served).collect())
    }

    fn get_messages_page(req: api::MessagesPageRequest) -> Result<api::MessagesPage, String> {
        let page = store::get_messages_page(store::MessagesPageRequest {
            limit: req.limit,
            before: req.before,
        })?;
        Ok(api::MessagesPage {
            messages: page.messages.into_iter().map(served).collect(),
            next_before: page.next_before,
        })
    }
}
