//! The `nats-channel` actor (call alias `mcchat/nats`): chat over a message broker.
//! Clients send `{"user_name","body"}` to the subscribed subject (`chat.in`) and get
//! `{"accepted":bool,"reason"?}` on the reply subject; messages from other channels go out on
//! `rtchat.messages` as `{"body","sourceChannel","sourceUser"}`.
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
pub const CHANNEL_NAME: &str = "nats";

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
