//! The host's built-in contracts, which the router answers itself with no link:
//! `wasmcloud:builtin:numbergen` and `wasmcloud:builtin:logging`.

use async_trait::async_trait;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};
use wasmcloud_interface_logging::{LogEntry, Logging, LoggingReceiver};
use wasmcloud_interface_numbergen::{NumberGen, NumberGenReceiver, RangeLimit};

pub const NUMBERGEN: &str = "wasmcloud:builtin:numbergen";
pub const LOGGING: &str = "wasmcloud:builtin:logging";

pub struct NumberGenProvider;

/// 32 random bits from the generator behind v4 UUIDs (`rand`'s thread-local CSPRNG, seeded by
/// the OS).
fn random_u32() -> u32 {
    uuid::Uuid::new_v4().as_u128() as u32
}

#[async_trait]
impl NumberGen for NumberGenProvider {
    async fn generate_guid(&self, _ctx: &Context) -> RpcResult<String> {
        Ok(uuid::Uuid::new_v4().to_string())
    }

    async fn random_in_range(&self, _ctx: &Context, range: &RangeLimit) -> RpcResult<u32> {
        if range.min > range.max {
            return Err(RpcError::InvalidParameter(format!(
                "min {} is above max {}",
                range.min, range.max
            )));
        }
        let span = u64::from(range.max - range.min) + 1;
        // A 64-bit draw keeps the modulo bias below one part in 2^32.
        let draw = (u64::from(random_u32()) << 32) | u64::from(random_u32());
        Ok(range.min + (draw % span) as u32)
    }

    async fn random_32(&self, _ctx: &Context) -> RpcResult<u32> {
        Ok(random_u32())
    }
}

mcchat_provider_kit::dispatch_via_receiver!(NumberGenProvider, NumberGenReceiver);

/// Writes actors' log lines to the host's log, tagged with the actor.
pub struct LoggingProvider;

#[async_trait]
impl Logging for LoggingProvider {
    async fn write_log(&self, ctx: &Context, entry: &LogEntry) -> RpcResult<()> {
        let actor = ctx.actor.as_deref().unwrap_or("unknown actor");
        match entry.level.as_str() {
            "error" => tracing::error!(target: "mcchat::actor", actor, "{}", entry.text),
            "warn" => tracing::warn!(target: "mcchat::actor", actor, "{}", entry.text),
            "debug" => tracing::debug!(target: "mcchat::actor", actor, "{}", entry.text),
            _ => tracing::info!(target: "mcchat::actor", actor, "{}", entry.text),
        }
        Ok(())
    }
}

mcchat_provider_kit::dispatch_via_receiver!(LoggingProvider, LoggingReceiver);
