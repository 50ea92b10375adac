//! The `accounts` actor (call alias `mcchat/accounts`): who may write under a name. It keeps
//! accounts (a name and an argon2id hash of its password), issues signed, expiring tokens at
//! sign-on, revokes them at sign-off, and tells the API gateway who wrote each message: the
//! token's user, or a guest under a name nobody registered. Its claims are the least that
//! takes: the key-value store, random numbers, the clock and the log.
//!
//! `token`, `password`, `store`, `revocations`, `memory` and `service` are plain Rust that native tests drive; `actor`
//! is the wasmbus glue (wasm32 only).

pub mod bindings {
    include!(concat!(env!("OUT_DIR"), "/accounts.rs"));
    pub mod clock {
        include!(concat!(env!("OUT_DIR"), "/clock.rs"));
    }
}
/// The errors the logic returns: wasmbus-rpc's in the module build.
pub mod rpc {
    pub use wasmbus_rpc::error::{RpcError, RpcResult};

    /// Whether a failed call went past its deadline: the host names a timeout `timeout: …` in
    /// the error text an actor gets (the wasmbus ABI carries text).
    pub fn timed_out(error: &RpcError) -> bool {
        matches!(error, RpcError::Timeout(_) | RpcError::DeadlineExceeded(_))
            || error.to_string().contains("timeout: ")
    }
}
pub mod memory;
pub mod password;
pub mod revocations;
pub mod service;
pub mod store;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod actor;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
