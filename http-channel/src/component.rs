//! The http-channel actor's logic as a WebAssembly component (world
//! `mcchat:actors/http-channel`): the module build's `routes`, `post`, `get` and `reply`, with
//! the API and the log as plain WIT imports and the httpserver contract as its export.
//! Nothing here speaks wasmbus: `cargo xtask build` composes it with its adapters into
//! `build/http_channel_component_s.wasm`.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "http-channel",
    generate_all,
});

pub mod get;
pub mod post;
pub mod query;
pub mod reply;
pub mod rooms;
pub mod routes;

/// The name this channel stamps on the messages it brings in.
pub const CHANNEL_NAME: &str = "http";

/// The call context and errors the logic takes. An import's error arrives as text, and a
/// timeout is known by its text (`timeout: …`), as in the module build.
pub mod rpc {
    use std::fmt;

    /// Nothing travels in a component's context: the WIT calls carry no wasmbus metadata.
    #[derive(Debug, Default)]
    pub struct Context;

    #[derive(Debug)]
    // The logic matches wasmbus-rpc's timeout kinds; an import's error is never one of them.
    #[allow(dead_code)]
    pub enum RpcError {
        Timeout(String),
        DeadlineExceeded(String),
        Other(String),
    }

    impl fmt::Display for RpcError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RpcError::Timeout(e) => write!(f, "timeout: {e}"),
                RpcError::DeadlineExceeded(e) => write!(f, "deadline exceeded: {e}"),
                RpcError::Other(e) => f.write_str(e),
            }
        }
    }

    impl From<String> for RpcError {
        fn from(error: String) -> Self {
            RpcError::Other(error)
        }
    }

    pub type RpcResult<T> = Result<T, RpcError>;
}

/// Requests and responses as the logic handles them (the httpserver interface crate's shapes
/// in the module build); `component` converts them from and to the WIT records.
pub mod http {
    use std::collections::HashMap;

    pub type HeaderMap = HashMap<String, Vec<String>>;

    pub struct HttpRequest {
        pub method: String,
        pub path: String,
        pub query_string: String,
        pub header: HeaderMap,
        pub body: Vec<u8>,
    }

    pub struct HttpResponse {
        pub status_code: u16,
        pub header: HeaderMap,
        pub body: Vec<u8>,
    }
}

/// The contracts' records under the names the logic uses.
pub mod bindings {
    pub mod api {
        use async_trait::async_trait;

        pub use crate::mcchat::api::api::{Acknowledgement, ReceivedMessage};
        use crate::rpc::{Context, RpcResult};

        /// The API as `post` calls it (weld-codegen's `Api` in the module build).
        #[async_trait]
        pub trait Api {
            async fn accept_message(
                &self,
                ctx: &Context,
                msg: &ReceivedMessage,
            ) -> RpcResult<Acknowledgement>;
        }
    }
    pub mod chatlog {
        use async_trait::async_trait;

        pub use crate::mcchat::chatlog::chatlog::{
            CanonicalChatMessage, MessagesPage, MessagesPageRequest, RoomSummary, RoomsPage,
            RoomsPageRequest,
        };
        use crate::rpc::{Context, RpcResult};

        /// The history as `get` reads it (weld-codegen's `Chatlog` in the module build).
        #[async_trait]
        pub trait Chatlog {
            async fn get_messages_page(
                &self,
                ctx: &Context,
                req: &MessagesPageRequest,
            ) -> RpcResult<MessagesPage>;

            async fn list_rooms(
                &self,
                ctx: &Context,
                req: &RoomsPageRequest,
            ) -> RpcResult<RoomsPage>;
        }
    }
}

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use async_trait::async_trait;
use futures::executor::block_on;

use crate::bindings::api::{Acknowledgement, Api, ReceivedMessage};
use crate::bindings::chatlog::{
    Chatlog, MessagesPage, MessagesPageRequest, RoomsPage, RoomsPageRequest,
};
use crate::exports::wasmcloud::httpserver::httpserver as server;
use crate::get::get_messages;
use crate::http::{HttpRequest, HttpResponse};
use crate::post::{post, Posted};
use crate::reply::Report;
use crate::rooms::list_rooms;
use crate::routes::{route, Route};
use crate::rpc::{Context, RpcResult};
use crate::wasmcloud::logging::logging::{write_log, LogEntry};

/// The API the component imports.
struct ApiImport;

#[async_trait]
impl Api for ApiImport {
    async fn accept_message(
        &self,
        _ctx: &Context,
        msg: &ReceivedMessage,
    ) -> RpcResult<Acknowledgement> {
        Ok(crate::mcchat::api::api::accept_message(msg)?)
    }
}

#[async_trait]
impl Chatlog for ApiImport {
    async fn get_messages_page(
        &self,
        _ctx: &Context,
        req: &MessagesPageRequest,
    ) -> RpcResult<MessagesPage> {
        Ok(crate::mcchat::chatlog::chatlog::get_messages_page(req)?)
    }

    async fn list_rooms(&self, _ctx: &Context, req: &RoomsPageRequest) -> RpcResult<RoomsPage> {
        Ok(crate::mcchat::chatlog::chatlog::list_rooms(req)?)
    }
}

/// Failure details go to the host's log.
struct HostLog;

#[async_trait]
impl Report for HostLog {
    async fn failure(&self, detail: String) {
        // Logging must never fail a request, so its own errors are dropped.
        let _ = write_log(&LogEntry {
            level: "error".into(),
            text: detail,
        });
    }
}

/// A request header's first value, by case-insensitive name.
fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.header
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, values)| values.first())
        .map(String::as_str)
}

fn handle(req: HttpRequest) -> HttpResponse {
    // Every 5xx path reports its details to the log through `HostLog`.
    block_on(async {
        match route(&req) {
            Ok(Route::ChatPage) => crate::reply::chat_page(),
            Ok(Route::Api { subject, body }) => {
                let posted = Posted {
                    subject: &subject,
                    body: body.unwrap_or(&req.body),
                    idempotency_key: header(&req, "idempotency-key"),
                    authorization: header(&req, "authorization"),
                };
                post(posted, &ApiImport, &HostLog).await
            }
            Ok(Route::GetMessages { room }) => {
                get_messages(room.as_deref(), &req.query_string, &ApiImport, &HostLog).await
            }
            Ok(Route::ListRooms) => list_rooms(&req.query_string, &ApiImport, &HostLog).await,
            Err(response) => response,
        }
    })
}

struct HttpChannel;
export!(HttpChannel);

impl server::Guest for HttpChannel {
    fn handle_request(req: server::HttpRequest) -> Result<server::HttpResponse, String> {
        let response = handle(HttpRequest {
            method: req.method,
            path: req.path,
            query_string: req.query_string,
            header: req.header.into_iter().collect(),
            body: req.body,
        });
        Ok(server::HttpResponse {
            status_code: response.status_code,
            header: response.header.into_iter().collect(),
            body: response.body,
        })
    }
}
