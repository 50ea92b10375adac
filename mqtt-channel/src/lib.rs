//! The `mqtt-channel` actor (call alias `mcchat/mqtt`): chat for IoT devices, over an MQTT
//! messaging provider that maps topics to subjects (`chat/in` is `chat.in`). A device publishes
//! `{"user_name","body"}` on `chat/in`; an MQTT 5 request gets `{"accepted","id"?,"reason"?}`
//! on its response topic. Messages from other channels go out on `rtchat/messages` as
//! `{"body","id","sourceChannel","sourceUser"}`, the JSON NATS subscribers get.
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
pub const CHANNEL_NAME: &str = "mqtt";

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
