//! A pool of instances per actor: actors are stateless, so any idle instance serves a call and
//! calls run in parallel on separate instances. An instance that traps is dropped and replaced.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::claims::ActorIdentity;
use crate::wapc::{ActorInstance, ActorModule, CallError, HostCalls};

/// Idle instances kept per actor, enough for the HTTP server's in-flight limit, so a steady
/// load reuses instances instead of creating and dropping them; more are created on demand.
const MAX_IDLE: usize = 64;
/// Longest one call (with everything it calls) may take. Below the HTTP server's request
/// deadline, so a stuck actor is reported by the layer that knows which actor it was.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a call to an actor failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActorCallError {
    /// The call did not finish within `CALL_TIMEOUT`; its instance was dropped.
    #[error("{0}")]
    TimedOut(String),
    /// Anything else: the actor's own error, a trap, or no instance could be started.
    #[error("{0}")]
    Failed(String),
}

pub struct ActorPool {
    pub identity: Arc<ActorIdentity>,
    module: ActorModule,
    host: Weak<dyn HostCalls>,
    idle: Mutex<Vec<ActorInstance>>,
}

impl ActorPool {
    pub fn new(identity: ActorIdentity, module: ActorModule, host: Weak<dyn HostCalls>) -> Self {
        ActorPool {
            identity: Arc::new(identity),
            module,
            host,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Calls an operation on an idle (or new) instance. Errors are messages for the caller.
    pub async fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, ActorCallError> {
        let label = self.identity.label();
        let idle = self.idle.lock().expect("pool lock").pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => self
                .module
                .instantiate(self.identity.clone(), self.host.clone())
                .await
                .map_err(|e| {
                    ActorCallError::Failed(format!("could not start an instance of {label}: {e:#}"))
                })?,
        };
        match tokio::time::timeout(CALL_TIMEOUT, instance.call(operation, payload)).await {
            Ok(Ok(response)) => {
                self.release(instance);
                Ok(response)
            }
            Ok(Err(CallError::Guest(error))) => {
                self.release(instance);
                Err(ActorCallError::Failed(format!(
                    "{label} {operation}: {error}"
                )))
            }
            Ok(Err(CallError::Trap(trap))) => {
                tracing::error!(
                    actor = label,
                    operation,
                    "instance trapped and was replaced: {trap:#}"
                );
                Err(ActorCallError::Failed(format!(
                    "{label} {operation} failed: the actor trapped"
                )))
            }
            Err(_) => {
                tracing::error!(
                    actor = label,
                    operation,
                    "call timed out; the instance was dropped"
                );
                Err(ActorCallError::TimedOut(format!(
                    "{label} {operation} timed out after {CALL_TIMEOUT:?}"
                )))
            }
        }
    }

    fn release(&self, instance: ActorInstance) {
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < MAX_IDLE {
            idle.push(instance);
        }
    }
}
