//! The mcchat local host: runs the signed wasmbus actors named in a wadm manifest, with
//! built-in providers for HTTP, NATS messaging, key-value (Redis or embedded), numbergen and
//! logging. See `host::start` for the order things start in.

pub mod builtins;
pub mod capacity;
pub mod claims;
pub mod component;
pub mod control;
pub mod dashboard;
pub mod error;
pub mod events;
pub mod host;
pub mod host_calls;
pub mod links;
pub mod log_filter;
pub mod manifest;
pub mod mask;
pub mod nats_cli;
pub mod net;
pub mod oci;
pub mod pool;
pub mod precompile;
pub mod provider;
pub mod providers;
pub mod router;
pub mod runtime;
pub mod shutdown;
pub mod stats;
pub mod telemetry;
pub mod wapc;
pub mod workers;
pub mod yielding;

pub use host::{start, HostConfig, RunningHost};
