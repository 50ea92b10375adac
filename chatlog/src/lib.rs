//! The `chatlog` actor (call alias `mcchat/chatlog`): keeps every channel's messages, in order,
//! as JSON under one key-value list per room, and serves them back whole or a page at a time.
//!
//! The logic (`validate`, `history`, `idempotency`, `rooms`) is plain Rust that native tests drive;
//! `actor` is the thin wasmbus glue, compiled only for wasm32. The same logic modules also build
//! as a WebAssembly component, with `component.rs` as its root (the `chatlog-component` crate).

pub mod bindings {
    include!(concat!(env!("OUT_DIR"), "/chatlog.rs"));
}
/// The errors the logic returns: wasmbus-rpc's in the module build.
pub mod rpc {
    pub use wasmbus_rpc::error::{RpcError, RpcResult};
}
pub mod history;
pub mod idempotency;
#[cfg(test)]
mod memory;
pub mod rooms;
pub mod validate;

#[cfg(target_arch = "wasm32")]
mod actor;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
