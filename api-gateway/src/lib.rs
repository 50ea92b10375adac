//! The `api-gateway` actor (call alias `mcchat/api`): the one API every channel calls, and
//! where the chat's rules live. A channel hands it a message as received (`Api.AcceptMessage`);
//! it checks and parses it, asks `mcchat/accounts` who wrote it, gives it an id and the time
//! (`mcchat:clock`), stores it through `mcchat/chatlog`, relays it to every channel but its
//! source, and answers the ack for the channel to send. The account requests (sign-up,
//! sign-on, refresh, sign-off) come the same way, on their own subjects. It also serves the
//! Chatlog service (`Chatlog.WriteMessage` as the seed defines it, and the history).
//!
//! `intake`, `recent`, `requests`, `sealing`, `payload`, `answer`, `channels` and `relay` are
//! plain Rust that native tests drive; `actor` is the wasmbus glue (wasm32 only). The same
//! modules also build as a WebAssembly component, with `component.rs` as its root (the
//! `api-gateway-component` crate).

pub mod bindings {
    pub mod accounts {
        include!(concat!(env!("OUT_DIR"), "/accounts.rs"));
    }
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/api.rs"));
    }
    pub mod chatlog {
        include!(concat!(env!("OUT_DIR"), "/chatlog.rs"));
    }
    pub mod clock {
        include!(concat!(env!("OUT_DIR"), "/clock.rs"));
    }
    pub mod outbound {
        include!(concat!(env!("OUT_DIR"), "/outbound.rs"));
    }
}
/// The call context and errors the logic takes: wasmbus-rpc's in the module build.
pub mod rpc {
    pub use wasmbus_rpc::common::Context;
    pub use wasmbus_rpc::error::{RpcError, RpcResult};

    /// Whether a failed call went past its deadline somewhere on its way: the host names a
    /// timeout `timeout: …` in the error text an actor gets (the wasmbus ABI carries text),
    /// and each actor on the way passes that text on.
    pub fn timed_out(error: &RpcError) -> bool {
        matches!(error, RpcError::Timeout(_) | RpcError::DeadlineExceeded(_))
            || error.to_string().contains("timeout: ")
    }
}
pub mod answer;
pub mod channels;
pub mod intake;
pub mod payload;
pub mod recent;
pub mod relay;
pub mod requests;
pub mod rooms;
pub mod sealing;

#[cfg(target_arch = "wasm32")]
mod actor;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
