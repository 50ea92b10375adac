//! The `http-channel` actor (call alias `mcchat/http`): chat over HTTP, and the chat page.
//! `GET /` serves the page (static HTML; it talks to the WebSocket channel for live messages).
//! `POST /messages` with `{"user_name","body"}` hands the body to the API, which stores it;
//! `GET /messages` pages through the history, newest page first, with a `Link: <…>;
//! rel="next"` header for older pages. `POST /accounts`, `POST /sessions`, `POST
//! /sessions/refresh` and `DELETE /sessions` are the account requests, which the API answers
//! too; a request's `Authorization: Bearer` token goes with it. `/rooms/<room>/messages` is a
//! room's history as `/messages` is the default room's, and `GET /rooms` lists the rooms.
//!
//! `routes`, `post` and `get` are plain Rust that native tests drive; `actor` is the wasmbus glue.
//! The same modules also build as a WebAssembly component, with `component.rs` as its root (the
//! `http-channel-component` crate).

pub mod bindings {
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/api.rs"));
    }
    pub mod chatlog {
        include!(concat!(env!("OUT_DIR"), "/chatlog.rs"));
    }
    pub mod outbound {
        include!(concat!(env!("OUT_DIR"), "/outbound.rs"));
    }
}
/// The call context and errors the logic takes: wasmbus-rpc's in the module build.
pub mod rpc {
    pub use wasmbus_rpc::common::Context;
    pub use wasmbus_rpc::error::{RpcError, RpcResult};
}
/// Requests and responses: the httpserver interface crate's in the module build.
pub mod http {
    pub use wasmcloud_interface_httpserver::{HeaderMap, HttpRequest, HttpResponse};
}
pub mod get;
pub mod post;
pub mod query;
pub mod reply;
pub mod rooms;
pub mod routes;

#[cfg(target_arch = "wasm32")]
mod actor;

/// The name this channel stamps on the messages it brings in.
pub const CHANNEL_NAME: &str = "http";

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
