//! The `api-gateway` actor (call alias `mcchat/api`): the one Chatlog API every channel calls.
//! It stores each message through `mcchat/chatlog` and relays it to every channel but its source.
//!
//! `relay` is plain Rust that native tests drive; `actor` is the wasmbus glue (wasm32 only). The
//! same `relay` also builds as a WebAssembly component, with `component.rs` as its root (the
//! `api-gateway-component` crate).

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
pub mod relay;

#[cfg(target_arch = "wasm32")]
mod actor;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
