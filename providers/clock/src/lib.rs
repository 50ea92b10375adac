//! `mcchat:clock`: the time, as a capability (`interface/clock.smithy`). An actor cannot read a
//! clock, and only one signed for this contract and linked to this provider may ask it. The
//! mcchat host links it in-process; the `clock` binary serves it on a wasmCloud lattice.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use wasmbus_rpc::common::Context;
use wasmbus_rpc::error::{RpcError, RpcResult};

pub mod lattice;

/// The contract's generated bindings.
pub mod bindings {
    include!(concat!(env!("OUT_DIR"), "/clock.rs"));
}

pub use bindings::{Clock, ClockReceiver};

/// The contract's id, which an actor's claims must name.
pub const CONTRACT: &str = "mcchat:clock";

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    async fn now(&self, _ctx: &Context) -> RpcResult<u64> {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|e| RpcError::Other(format!("the system clock is set before 1970: {e}")))?;
        Ok(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

mcchat_provider_kit::dispatch_via_receiver!(SystemClock, ClockReceiver);

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use wasmbus_rpc::common::{Message, MessageDispatch};

    /// `method` called on the clock with no argument, as a host delivers it.
    fn call(method: &str) -> RpcResult<Vec<u8>> {
        let message = Message {
            method,
            arg: Vec::new().into(),
        };
        block_on(MessageDispatch::dispatch(
            &SystemClock,
            &Context::default(),
            message,
        ))
    }

    fn millis_since_epoch() -> u64 {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        since_epoch.as_millis() as u64
    }

    #[test]
    fn answers_now_as_utc_milliseconds_in_msgpack() {
        let before = millis_since_epoch();
        let now: u64 = wasmbus_rpc::common::deserialize(&call("Now").unwrap()).unwrap();
        let after = millis_since_epoch();
        assert!(
            (before..=after).contains(&now),
            "{before} <= {now} <= {after}"
        );
        assert_eq!(<SystemClock as Clock>::contract_id(), CONTRACT);
    }

    #[test]
    fn refuses_an_operation_it_does_not_have() {
        let error = call("SetTime").unwrap_err();
        assert!(error.to_string().contains("SetTime"), "{error}");
    }
}
