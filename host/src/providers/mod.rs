//! Capability providers, built into the host and registered in `registry`: each answers its
//! contract's operations through the interface crate's generated receiver, so the wire encoding
//! is the one actors use.

pub mod builtins;
pub mod httpserver;
pub mod keyvalue;
pub mod messaging;
pub mod mqtt;
pub mod registry;
pub mod websocket;

/// Contract ids of the providers linked from a manifest.
pub const HTTPSERVER: &str = "wasmcloud:httpserver";
pub const MESSAGING: &str = "wasmcloud:messaging";
pub const KEYVALUE: &str = "wasmcloud:keyvalue";

pub use mcchat_provider_kit::await_reply;
