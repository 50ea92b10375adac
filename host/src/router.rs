//! Routes every actor's host calls: to another actor by call alias (or public key), to a
//! built-in (numbergen, logging) or to the provider its link names, by contract and link name.
//! A call to a contract the caller's claims do not list is denied here, before anything runs.

use std::borrow::Cow;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use wasmbus_rpc::common::{Context, Message, SendOpts, Transport};
use wasmbus_rpc::error::RpcError;

use crate::builtins::{LoggingProvider, NumberGenProvider, LOGGING, NUMBERGEN};
use crate::claims::ActorIdentity;
use crate::error::HostError;
use crate::events::EventBus;
use crate::host_calls::HostCalls;
use crate::links::LinkTable;
use crate::pool::{ActorPool, Deadline, LoadedActor};
use crate::provider::{self, Dispatcher};

/// The link name wasmbus actors use unless they name another.
pub const DEFAULT_LINK: &str = "default";
/// An actor the router delivers to, by call alias or public key.
struct RoutedActor {
    public_key: String,
    call_alias: Option<String>,
    pool: Arc<ActorPool>,
}

pub struct Router {
    /// A host runs a handful of actors: a scan finds one without hashing the name on each of a
    /// message's host calls.
    actors: Vec<RoutedActor>,
    links: LinkTable,
    numbergen: Dispatcher,
    logging: Dispatcher,
}

impl Router {
    /// Builds the router and one instance pool per actor of at most `instances` instances, for
    /// a host with `workers` workers; the pools call back into the router.
    pub fn new(
        actors: Vec<LoadedActor>,
        events: EventBus,
        workers: usize,
        instances: u16,
    ) -> Arc<Router> {
        Arc::new_cyclic(|router: &Weak<Router>| {
            let host: Weak<dyn HostCalls> = router.clone();
            let mut routed: Vec<RoutedActor> = Vec::new();
            for actor in actors {
                // One pool per actor: a key listed twice keeps the last, as a map would.
                routed.retain(|known| known.public_key != actor.identity.public_key);
                routed.push(RoutedActor {
                    public_key: actor.identity.public_key.clone(),
                    call_alias: actor.identity.call_alias.clone(),
                    pool: Arc::new(ActorPool::new(
                        actor,
                        host.clone(),
                        events.clone(),
                        workers,
                        instances,
                    )),
                });
            }
            Router {
                actors: routed,
                links: LinkTable::default(),
                numbergen: Arc::new(NumberGenProvider),
                logging: Arc::new(LoggingProvider),
            }
        })
    }

    /// The actor a call alias or public key names.
    pub fn actor(&self, target: &str) -> Option<&Arc<ActorPool>> {
        self.actors
            .iter()
            .find(|actor| actor.call_alias.as_deref() == Some(target))
            .or_else(|| self.actors.iter().find(|actor| actor.public_key == target))
            .map(|actor| &actor.pool)
    }

    /// Every actor, by public key.
    pub fn actors(&self) -> impl Iterator<Item = (&String, &Arc<ActorPool>)> {
        self.actors
            .iter()
            .map(|actor| (&actor.public_key, &actor.pool))
    }

    /// The host's link table, which routes actors' calls to providers.
    pub fn links(&self) -> &LinkTable {
        &self.links
    }

    pub async fn call_actor(
        &self,
        target: &str,
        operation: &str,
        payload: impl Into<Vec<u8>>,
    ) -> Result<Vec<u8>, HostError> {
        let pool = self
            .actor(target)
            .ok_or_else(|| HostError::NoActor(format!("no actor is running as {target}")))?;
        pool.call(operation, payload.into(), Deadline::Own).await
    }

    async fn call_provider(
        &self,
        caller: &ActorIdentity,
        link_name: &str,
        contract: &str,
        operation: &str,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, HostError> {
        if !caller.caps.contains(contract) {
            return Err(HostError::Denied {
                actor: caller.label().to_string(),
                contract: contract.to_string(),
                operation: operation.to_string(),
            });
        }
        // Providers get the method without its service prefix, as wasmbus receivers expect.
        let method = operation
            .split_once('.')
            .map_or(operation, |(_, method)| method);
        let ctx = Context {
            actor: Some(caller.label().to_string()),
            span: None,
        };
        let message = Message {
            method,
            arg: Cow::Owned(payload),
        };
        // The built-ins answer at once, in this task: a timer for them would only cost.
        let builtin = match contract {
            NUMBERGEN => Some(&self.numbergen),
            LOGGING => Some(&self.logging),
            _ => None,
        };
        let failed = |error| HostError::Provider {
            contract: contract.to_string(),
            operation: operation.to_string(),
            error,
        };
        if let Some(builtin) = builtin {
            return builtin.dispatch(&ctx, message).await.map_err(failed);
        }
        let provider = self
            .links
            .provider(&caller.public_key, contract, link_name)
            .ok_or_else(|| HostError::NoLink {
                actor: caller.label().to_string(),
                contract: contract.to_string(),
                link_name: link_name.to_string(),
            })?;
        // A messaging request waits as long as the actor asked (the provider enforces it).
        let deadline = if contract == provider::MESSAGING && method == "Request" {
            Some(crate::pool::CALL_TIMEOUT)
        } else {
            provider.deadline
        };
        let call = provider.dispatcher.dispatch(&ctx, message);
        let Some(deadline) = deadline else {
            return call.await.map_err(failed);
        };
        match tokio::time::timeout(deadline, call).await {
            Ok(answer) => answer.map_err(failed),
            Err(_) => Err(HostError::TimedOut(format!(
                "{contract} {operation}: no answer within {deadline:?}"
            ))),
        }
    }
}

#[async_trait]
impl HostCalls for Router {
    async fn host_call(
        &self,
        caller: &ActorIdentity,
        binding: String,
        namespace: String,
        operation: String,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, HostError> {
        if let Some(pool) = self.actor(&namespace) {
            return pool.call(&operation, payload, Deadline::Callers).await;
        }
        let link_name = if binding.is_empty() {
            DEFAULT_LINK
        } else {
            &binding
        };
        self.call_provider(caller, link_name, &namespace, &operation, payload)
            .await
    }
}

/// A wasmbus `Transport` that delivers to an actor through the router, so providers can use the
/// interface crates' typed senders (`HttpServerSender`, `MessageSubscriberSender`).
#[derive(Clone)]
pub struct ActorTransport {
    router: Weak<Router>,
    target: String,
}

impl ActorTransport {
    pub fn new(router: &Arc<Router>, target: &str) -> Self {
        ActorTransport {
            router: Arc::downgrade(router),
            target: target.to_string(),
        }
    }
}

#[async_trait]
impl Transport for ActorTransport {
    async fn send(
        &self,
        _ctx: &Context,
        req: Message<'_>,
        _opts: Option<SendOpts>,
    ) -> Result<Vec<u8>, RpcError> {
        let router = self.router.upgrade().ok_or(HostError::ShuttingDown)?;
        Ok(router.call_actor(&self.target, req.method, req.arg).await?)
    }

    fn set_timeout(&self, _interval: std::time::Duration) {
        // The instance pool enforces its own call timeout.
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::Link;
    use crate::provider::{ConnectionState, ProviderHandle, Started, KEYVALUE};
    use std::time::Duration;
    use wasmbus_rpc::common::MessageDispatch;

    /// A provider that answers every call after the time it holds.
    struct AnswersAfter(Duration);

    #[async_trait]
    impl MessageDispatch for AnswersAfter {
        async fn dispatch(&self, _: &Context, _: Message<'_>) -> Result<Vec<u8>, RpcError> {
            tokio::time::sleep(self.0).await;
            Ok(b"stored".to_vec())
        }
    }

    /// A started provider that is only its handle.
    struct Serves(ProviderHandle);

    #[async_trait]
    impl Started for Serves {
        fn handle(&self) -> ProviderHandle {
            self.0.clone()
        }
        fn target(&self) -> String {
            "test".into()
        }
        fn state(&self) -> ConnectionState {
            ConnectionState::Connected
        }
        fn describe(&self) -> String {
            "test".into()
        }
        async fn stop(&self) {}
    }

    #[tokio::test(start_paused = true)]
    async fn a_store_on_local_disk_has_longer_than_a_server_to_answer() {
        let caller = ActorIdentity {
            public_key: "MCALLER".into(),
            caps: [KEYVALUE.to_string()].into(),
            ..Default::default()
        };
        let router = Router::new(Vec::new(), EventBus::default(), 1, 2);
        let link = |handle| {
            let definition = wasmcloud_control_interface::LinkDefinition {
                actor_id: caller.public_key.clone(),
                contract_id: KEYVALUE.into(),
                link_name: DEFAULT_LINK.into(),
                ..Default::default()
            };
            router
                .links()
                .insert(Link::new(definition, Box::new(Serves(handle))));
        };
        let list_add = || {
            router.host_call(
                &caller,
                String::new(),
                KEYVALUE.into(),
                "KeyValue.ListAdd".into(),
                Vec::new(),
            )
        };
        let slow_commit: Dispatcher = Arc::new(AnswersAfter(Duration::from_secs(3)));

        link(ProviderHandle::new(slow_commit.clone()));
        let refused = list_add().await.unwrap_err();
        assert!(refused.is_timeout(), "{refused}");
        assert!(
            refused.to_string().ends_with("no answer within 1s"),
            "{refused}"
        );

        link(ProviderHandle::local_disk(slow_commit));
        assert_eq!(list_add().await.unwrap(), b"stored");
    }
}
