//! A pool of instances per actor: actors are stateless, so any idle instance serves a call and
//! calls run in parallel on separate instances. An instance that traps is dropped and replaced.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::claims::ActorIdentity;
use crate::wapc::{ActorInstance, ActorModule, CallError, HostCalls};

/// Idle instances kept per actor; more are created on demand under load.
const MAX_IDLE: usize = 32;
/// Longest one call (with everything it calls) may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

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
    pub async fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let label = self.identity.label();
        let idle = self.idle.lock().expect("pool lock").pop();
        let mut instance = match idle {
            Some(instance) => instance,
            None => self
                .module
                .instantiate(self.identity.clone(), self.host.clone())
                .await
                .map_err(|e| format!("could not start an instance of {label}: {e:#}"))?,
        };
        match tokio::time::timeout(CALL_TIMEOUT, instance.call(operation, payload)).await {
            Ok(Ok(response)) => {
                self.release(instance);
                Ok(response)
            }
            Ok(Err(CallError::Guest(error))) => {
                self.release(instance);
                Err(format!("{label} {operation}: {error}"))
            }
            Ok(Err(CallError::Trap(trap))) => {
                tracing::error!(
                    actor = label,
                    operation,
                    "instance trapped and was replaced: {trap:#}"
                );
                Err(format!("{label} {operation} failed: the actor trapped"))
            }
            Err(_) => {
                tracing::error!(
                    actor = label,
                    operation,
                    "call timed out; the instance was dropped"
                );
                Err(format!(
                    "{label} {operation} timed out after {CALL_TIMEOUT:?}"
                ))
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
