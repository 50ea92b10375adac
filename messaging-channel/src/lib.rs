//! A messaging channel: chat over a messaging provider. One source, built as three actors
//! (`nats-channel`, `ws-channel`, `mqtt-channel`), each signed with its own alias and claims.
//!
//! Clients send `{"user_name","body"}` on the subscribed subject (`chat.in`); the channel hands
//! each message to the API as received (`Api.AcceptMessage`, where the chat's rules live) and
//! sends the ack it answers to the reply subject. Messages from other channels go out on
//! `rtchat.messages` as `{"body","sourceChannel","sourceUser",…}`.
//!
//! `outbound` is plain Rust that native tests drive; `actor` is the wasmbus glue.

pub mod bindings {
    pub mod api {
        include!(concat!(env!("OUT_DIR"), "/api.rs"));
    }
    pub mod outbound {
        include!(concat!(env!("OUT_DIR"), "/outbound.rs"));
    }
}
pub mod channel;
pub mod outbound;

#[cfg(target_arch = "wasm32")]
mod actor;

pub use channel::CHANNEL_NAME;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;
