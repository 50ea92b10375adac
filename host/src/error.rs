//! The host's one error type: why a call that went through the host (actor to actor, actor to
//! provider, provider to actor) failed, and its one conversion into the `RpcError` that wasmbus
//! carries. The wasmbus ABI hands an actor its host error as text, so the conversion decides the
//! kind (`timeout: …`) the actor and its callers see.

use wasmbus_rpc::error::RpcError;

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The caller's claims do not list the contract.
    #[error("{actor} is not signed for {contract}: call to {operation} denied")]
    Denied {
        actor: String,
        contract: String,
        operation: String,
    },
    /// The caller has no link to the contract under that link name.
    #[error("{actor} has no link to {contract} (link name {link_name})")]
    NoLink {
        actor: String,
        contract: String,
        link_name: String,
    },
    /// No actor runs as that call alias or key, or it is stopped on this host.
    #[error("{0}")]
    NoActor(String),
    /// No answer within the deadline (the actor's call timeout, or the provider's deadline).
    #[error("{0}")]
    TimedOut(String),
    /// The actor trapped; its instance was replaced.
    #[error("{0}")]
    Trapped(String),
    /// The actor answered with an error of its own.
    #[error("{0}")]
    Actor(String),
    /// The provider refused or failed the call, with its own error.
    #[error("{contract} {operation}: {error}")]
    Provider {
        contract: String,
        operation: String,
        error: RpcError,
    },
    /// The host is stopping, and takes no more calls.
    #[error("the host is shutting down")]
    ShuttingDown,
}

impl HostError {
    /// Whether the call may have gone on after the caller stopped waiting.
    pub fn is_timeout(&self) -> bool {
        match self {
            HostError::TimedOut(_) => true,
            HostError::Provider { error, .. } => {
                matches!(error, RpcError::Timeout(_) | RpcError::DeadlineExceeded(_))
            }
            _ => false,
        }
    }
}

impl From<HostError> for RpcError {
    fn from(error: HostError) -> RpcError {
        let text = error.to_string();
        match error {
            _ if error.is_timeout() => RpcError::Timeout(text),
            HostError::Actor(_) => RpcError::ActorHandler(text),
            HostError::Denied { .. } => RpcError::InvalidParameter(text),
            _ => RpcError::HostError(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_timeout_stays_a_timeout_in_the_text_an_actor_gets() {
        let timed_out = HostError::Provider {
            contract: "wasmcloud:keyvalue".into(),
            operation: "KeyValue.ListAdd".into(),
            error: RpcError::Timeout("no answer within 1s".into()),
        };
        let carried = RpcError::from(timed_out).to_string();
        assert!(carried.starts_with("timeout: "), "{carried}");
        assert!(carried.contains("KeyValue.ListAdd"), "{carried}");
        let refused = HostError::NoLink {
            actor: "mcchat/chatlog".into(),
            contract: "wasmcloud:keyvalue".into(),
            link_name: "default".into(),
        };
        assert!(matches!(RpcError::from(refused), RpcError::HostError(_)));
    }
}
