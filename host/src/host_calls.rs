//! What both kinds of actor share with the host: the host's side of an actor's call out
//! (`HostCalls`, reached through `call_host` from a module's `__host_call` and a component's
//! `send`), and why a call into a guest failed (`CallError`).

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Weak;

use async_trait::async_trait;
use wasmbus_rpc::error::RpcError;

use crate::claims::ActorIdentity;
use crate::error::HostError;

/// What the host does for an actor's `__host_call`: route it to another actor or a provider.
#[async_trait]
pub trait HostCalls: Send + Sync {
    async fn host_call(
        &self,
        caller: &ActorIdentity,
        binding: String,
        namespace: String,
        operation: String,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, HostError>;
}

/// Why a guest call did not return a response.
#[derive(Debug)]
pub enum CallError {
    /// The actor answered with an error; the instance is still sound.
    Guest(String),
    /// The instance trapped or broke the ABI; it must be discarded.
    Trap(anyhow::Error),
}

impl CallError {
    pub(crate) fn trap(error: wasmtime::Error) -> Self {
        CallError::Trap(error.into())
    }
}

/// An actor's call to the host (a module's `__host_call`, a component's `send`), routed by
/// `host`: the answer, with an error as the text both ABIs carry (the conversion names the kind,
/// `timeout: …`), and whether the call had to wait. Waiting is not running: after a wait the
/// caller gives its guest a fresh epoch tick, or nearly every write (which waits on Redis for
/// milliseconds) would yield on its return. A call answered at once keeps the deadline, so a
/// guest looping over such calls still yields, and its call timeout can still fire.
pub(crate) async fn call_host(
    host: &Weak<dyn HostCalls>,
    caller: &ActorIdentity,
    binding: String,
    namespace: String,
    operation: String,
    payload: Vec<u8>,
) -> (Result<Vec<u8>, String>, bool) {
    let (result, waited) = match host.upgrade() {
        Some(host) => {
            noting_waits(host.host_call(caller, binding, namespace, operation, payload)).await
        }
        None => (Err(HostError::ShuttingDown), false),
    };
    (result.map_err(|e| RpcError::from(e).to_string()), waited)
}

/// Runs `call` and says whether it ever had to wait (returned `Pending`).
async fn noting_waits<T>(call: impl Future<Output = T>) -> (T, bool) {
    let mut call = pin!(call);
    let mut waited = false;
    let output = poll_fn(|cx| {
        let poll = call.as_mut().poll(cx);
        waited |= poll.is_pending();
        poll
    })
    .await;
    (output, waited)
}
