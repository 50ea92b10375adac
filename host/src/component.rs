//! Actors built as WebAssembly components of the `wasmcloud:bus/actor` world
//! (`interface/wit/deps/bus`): the host calls the exported `receive` where it would call a
//! module's `__guest_call`, and answers the imported `send` as it answers `__host_call`. The
//! instances run in the same pools, with the same deadlines, epoch interruption and memory
//! limits as modules.

use std::sync::{Arc, Weak};

use wasmtime::component::{
    Component, ComponentExportIndex, ComponentType, InstancePre, Lift, Linker, Lower, TypedFunc,
};
use wasmtime::{AsContextMut, Engine, Store, StoreContextMut, StoreLimits, StoreLimitsBuilder};

use crate::capacity::MAX_INSTANCE_MEMORY;
use crate::claims::ActorIdentity;
use crate::host_calls::{call_host, CallError, HostCalls};
use crate::yielding::Turns;

/// What a component actor exports: the host's calls come in here.
pub const GUEST: &str = "wasmcloud:bus/guest@0.1.0";
const HOST: &str = "wasmcloud:bus/host@0.1.0";
const TYPES: &str = "wasmcloud:bus/types@0.1.0";
const FALLBACK: &str = "wasmcloud:bus/fallback@0.1.0";

/// `wasmcloud:bus/types.target`: a link name and contract id, or an actor's call alias.
#[derive(ComponentType, Lift, Lower)]
#[component(record)]
struct Target {
    #[component(name = "link-name")]
    link_name: String,
    namespace: String,
}

type Receive = TypedFunc<(String, Vec<u8>), (Result<Vec<u8>, String>,)>;

/// Per-instance state the host functions read.
struct ComponentState {
    identity: Arc<ActorIdentity>,
    host: Weak<dyn HostCalls>,
    limits: StoreLimits,
    turns: Turns,
}

/// A compiled component actor, ready to be instantiated many times.
pub struct ActorComponent {
    engine: Engine,
    pre: InstancePre<ComponentState>,
    receive: ComponentExportIndex,
}

impl ActorComponent {
    /// Compiles a component and checks that it exports the bus's `receive`.
    pub fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<Self> {
        let component = Component::new(engine, wasm)?;
        let receive = component
            .get_export_index(None, GUEST)
            .and_then(|guest| component.get_export_index(Some(&guest), "receive"))
            .ok_or_else(|| {
                anyhow::anyhow!("not a wasmbus component: it exports no {GUEST}#receive")
            })?;
        let mut linker = Linker::new(engine);
        linker.instance(TYPES)?;
        linker
            .instance(HOST)?
            .func_wrap_async("send", |store, (target, operation, payload)| {
                Box::new(send(store, target, operation, payload))
            })?;
        // The last receiver in the actor passes on what no contract of it handles.
        linker.instance(FALLBACK)?.func_wrap(
            "receive",
            |_, (operation, _payload): (String, Vec<u8>)| {
                Ok((Err::<Vec<u8>, String>(format!(
                    "the actor does not handle {operation}"
                )),))
            },
        )?;
        // Any other import is a call the host cannot answer: fail the call, not the load.
        linker.define_unknown_imports_as_traps(&component)?;
        let pre = linker.instantiate_pre(&component)?;
        Ok(ActorComponent {
            engine: engine.clone(),
            pre,
            receive,
        })
    }

    pub async fn instantiate(
        &self,
        identity: Arc<ActorIdentity>,
        host: Weak<dyn HostCalls>,
    ) -> anyhow::Result<ComponentInstance> {
        let state = ComponentState {
            identity,
            host,
            limits: StoreLimitsBuilder::new()
                .memory_size(MAX_INSTANCE_MEMORY)
                .build(),
            turns: Turns::default(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        store.epoch_deadline_callback(|mut store| Ok(store.data_mut().turns.at_tick()));
        let instance = self.pre.instantiate_async(&mut store).await?;
        let receive = instance.get_typed_func(&mut store, self.receive)?;
        Ok(ComponentInstance { store, receive })
    }
}

/// `wasmcloud:bus/host.send`: routed exactly as a module's `__host_call`.
async fn send(
    mut store: StoreContextMut<'_, ComponentState>,
    target: Target,
    operation: String,
    payload: Vec<u8>,
) -> wasmtime::Result<(Result<Vec<u8>, String>,)> {
    let (identity, host) = (store.data().identity.clone(), store.data().host.clone());
    store.data_mut().turns.waiting();
    let (result, waited) = call_host(
        &host,
        &identity,
        target.link_name,
        target.namespace,
        operation,
        payload,
    )
    .await;
    // As for modules: a guest that waited on the host starts a fresh tick.
    if waited {
        store.as_context_mut().set_epoch_deadline(1);
    }
    Ok((result,))
}

/// One instance of a component actor. Calls on it are sequential (`&mut self`).
pub struct ComponentInstance {
    store: Store<ComponentState>,
    receive: Receive,
}

impl ComponentInstance {
    pub async fn call(&mut self, operation: &str, payload: Vec<u8>) -> Result<Vec<u8>, CallError> {
        // The deadline counts from now, as for modules.
        self.store.set_epoch_deadline(1);
        self.store.data_mut().turns.reset();
        let (answer,) = self
            .receive
            .call_async(&mut self.store, (operation.to_string(), payload))
            .await
            .map_err(CallError::trap)?;
        self.store.data_mut().turns.reset();
        answer.map_err(CallError::Guest)
    }
}
