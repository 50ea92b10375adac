//! The `ws-channel` actor (call alias `mcchat/ws`): live chat for browsers, over a WebSocket
//! messaging provider. A browser sends `{"user_name","body"}` on `chat.in` and gets
//! `{"accepted","id"?,"reason"?}` on its reply subject; every stored message, the browser's own
//! included, goes out on `rtchat.messages` as `{"body","id","sourceChannel","sourceUser"}`.
//!
//! `inbound` and `outbound` are plain Rust that native tests drive; `actor` is the wasmbus glue.

pub mod bindings {
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
pub mod inbound;
pub mod outbound;

#[cfg(target_arch = "wasm32")]
mod actor;

/// The name this channel stamps on the messages it brings in.
pub const CHANNEL_NAME: &str = "ws";

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
