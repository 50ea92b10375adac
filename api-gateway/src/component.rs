//! The api-gateway actor's logic as a WebAssembly component (world `mcchat:actors/api-gateway`):
//! the module build's `intake`, `recent`, `requests`, `payload`, `answer`, `channels` and
//! `relay`, with the accounts, the chat log, the channels, ids and the log as plain WIT imports
//! and the api and chatlog contracts as its exports. Nothing here speaks wasmbus: `cargo xtask
//! build` composes it with its adapters into `build/api_gateway_component_s.wasm`.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "api-gateway",
    generate_all,
});

pub mod answer;
pub mod channels;
pub mod intake;
pub mod payload;
pub mod recent;
pub mod relay;
pub mod requests;
pub mod rooms;
pub mod sealing;

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

    /// Whether a failed call went past its deadline somewhere on its way: the host names a
    /// timeout `timeout: …` in the error text, and each actor on the way passes it on.
    pub fn timed_out(error: &RpcError) -> bool {
        error.0.contains("timeout: ")
    }
}

/// The contracts' records under the names the logic uses.
pub mod bindings {
    pub mod accounts {
        use async_trait::async_trait;

        pub use crate::mcchat::accounts::accounts::{
            AccountAnswer, Credentials, IdentifyRequest, SignOffRequest, TokenRequest,
        };
        use crate::rpc::{Context, RpcResult};

        /// The accounts as the intake calls them (weld-codegen's `Accounts` in the module
        /// build), served by the import.
        #[async_trait]
        pub trait Accounts {
            async fn sign_up(&self, ctx: &Context, req: &Credentials) -> RpcResult<AccountAnswer>;
            async fn sign_on(&self, ctx: &Context, req: &Credentials) -> RpcResult<AccountAnswer>;
            async fn refresh(&self, ctx: &Context, req: &TokenRequest) -> RpcResult<AccountAnswer>;
            async fn sign_off(
                &self,
                ctx: &Context,
                req: &SignOffRequest,
            ) -> RpcResult<AccountAnswer>;
            async fn identify(
                &self,
                ctx: &Context,
                req: &IdentifyRequest,
            ) -> RpcResult<AccountAnswer>;
        }

        pub struct AccountsImport;

        #[async_trait]
        impl Accounts for AccountsImport {
            async fn sign_up(&self, _: &Context, req: &Credentials) -> RpcResult<AccountAnswer> {
                Ok(crate::mcchat::accounts::accounts::sign_up(req)?)
            }
            async fn sign_on(&self, _: &Context, req: &Credentials) -> RpcResult<AccountAnswer> {
                Ok(crate::mcchat::accounts::accounts::sign_on(req)?)
            }
            async fn refresh(&self, _: &Context, req: &TokenRequest) -> RpcResult<AccountAnswer> {
                Ok(crate::mcchat::accounts::accounts::refresh(req)?)
            }
            async fn sign_off(
                &self,
                _: &Context,
                req: &SignOffRequest,
            ) -> RpcResult<AccountAnswer> {
                Ok(crate::mcchat::accounts::accounts::sign_off(req)?)
            }
            async fn identify(
                &self,
                _: &Context,
                req: &IdentifyRequest,
            ) -> RpcResult<AccountAnswer> {
                Ok(crate::mcchat::accounts::accounts::identify(req)?)
            }
        }
    }
    pub mod api {
        pub use crate::exports::mcchat::api::api::{Acknowledgement, ReceivedMessage};
    }
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

use crate::bindings::accounts::AccountsImport;
use crate::bindings::api::{Acknowledgement, ReceivedMessage};
use crate::bindings::chatlog::Chatlog;
use crate::bindings::outbound::OutboundMessage;
use crate::exports::mcchat::chatlog::chatlog as api;
use crate::intake::{Clock, Ids, Log, Services};
use crate::mcchat::chatlog::chatlog as store;
use crate::recent::RecentAnswers;
use crate::relay::Outbound;
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
    async fn publish(&self, alias: &'static str, msg: &OutboundMessage) -> RpcResult<bool> {
        Ok(crate::mcchat::outbound::relay::publish_message(alias, msg)?)
    }
}

struct NumberGen;

#[async_trait]
impl Ids for NumberGen {
    async fn new_id(&self) -> RpcResult<String> {
        Ok(crate::wasmcloud::numbergen::numbergen::generate_guid()?)
    }
}

/// The time the component imports (`mcchat:clock`).
struct ClockImport;

#[async_trait]
impl Clock for ClockImport {
    async fn now(&self) -> RpcResult<u64> {
        Ok(crate::mcchat::clock::clock::now()?)
    }
}

/// The host's log.
struct HostLog;

#[async_trait]
impl Log for HostLog {
    async fn write(&self, level: &str, text: String) {
        // Logging must never fail a request, so its own errors are dropped.
        let _ = write_log(&LogEntry {
            level: level.into(),
            text,
        });
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
        ts: m.ts,
        verified: m.verified,
        room: m.room,
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
        ts: m.ts,
        verified: m.verified,
        room: m.room,
    }
}

/// The accounts' answers this instance was recently given.
static RECENT: RecentAnswers = RecentAnswers::new();

/// What the intake and the chat log's writes call: all imports.
static SERVICES: Services<
    'static,
    NumberGen,
    ClockImport,
    AccountsImport,
    ChatlogImport,
    Channels,
    HostLog,
> = Services {
    ids: &NumberGen,
    clock: &ClockImport,
    accounts: &AccountsImport,
    chatlog: &ChatlogImport,
    channels: &Channels,
    log: &HostLog,
    recent: &RECENT,
};

struct ApiGateway;
export!(ApiGateway);

impl crate::exports::mcchat::api::api::Guest for ApiGateway {
    fn accept_message(received: ReceivedMessage) -> Result<Acknowledgement, String> {
        Ok(block_on(SERVICES.accept(&received)))
    }
}

impl api::Guest for ApiGateway {
    fn write_message(msg: api::CanonicalChatMessage) -> Result<api::WriteMessageResponse, String> {
        let msg = stored(msg);
        let response =
            block_on(SERVICES.write_unproven(&Context, msg)).map_err(|e| e.to_string())?;
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
        let page = store::get_messages_page(&store::MessagesPageRequest {
            limit: req.limit,
            before: req.before,
            room: req.room,
        })?;
        Ok(api::MessagesPage {
            messages: page.messages.into_iter().map(served).collect(),
            next_before: page.next_before,
            reason: page.reason,
        })
    }

    fn list_rooms(req: api::RoomsPageRequest) -> Result<api::RoomsPage, String> {
        let page = store::list_rooms(&store::RoomsPageRequest {
            limit: req.limit,
            after: req.after,
        })?;
        let summary = |r: store::RoomSummary| api::RoomSummary {
            name: r.name,
            message_count: r.message_count,
            last_ts: r.last_ts,
        };
        Ok(api::RoomsPage {
            rooms: page.rooms.into_iter().map(summary).collect(),
            next_after: page.next_after,
        })
    }
}
