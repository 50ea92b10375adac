//! The wasmtime engine the actors share, and the two kinds of actor it runs: wasmbus core
//! modules (`wapc`) and WebAssembly components of the `wasmcloud:bus/actor` world
//! (`component`). The pool, the router and the claims checks see one `ActorModule` and one
//! `ActorInstance` whichever the kind.

use std::future::{poll_fn, Future};
use std::path::Path;
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

use crate::claims::ActorIdentity;
use crate::component::{ActorComponent, ComponentInstance};
use crate::error::HostError;
use crate::wapc::{WapcInstance, WapcModule};
use wasmbus_rpc::error::RpcError;

/// How often running guests are interrupted to yield to other tasks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// The most linear memory one actor instance may grow to.
pub(crate) const MAX_INSTANCE_MEMORY: usize = 64 << 20;
/// Instance slots the engine preallocates: well above what the host's bounded concurrency
/// holds at once (three instances deep for each of the 256 HTTP and 64 NATS requests in
/// flight, plus 64 idle per actor), leaving room for WebSocket sessions. Unused slots are
/// address space only.
const INSTANCE_SLOTS: u32 = 2_048;
/// Overrides `INSTANCE_SLOTS`. valgrind cannot reserve the address space of 2,048 slots (nor of
/// 32), so counting instructions with callgrind takes a handful: 8 work (BENCHMARKS.md). The
/// compiled code is the same.
const INSTANCE_SLOTS_VAR: &str = "MCCHAT_INSTANCE_SLOTS";
/// The most core instances (and tables) one component actor may hold: a composed actor has a
/// few per component in it (the code, its shims and fix-ups; up to 40 in mcchat's).
const COMPONENT_CORE_INSTANCES: u32 = 64;
/// The most linear memories one component actor may hold: one per component composed in it
/// (4 to 7 in mcchat's).
const COMPONENT_MEMORIES: u32 = 16;
/// Per instance slot, the linear memories and core instances the engine preallocates, so a host
/// whose actors are all components has room for about 1,100 of them at once (5.5 memories
/// each on average). 6,144 memories reserve about 24 TiB: four hosts in one process (the
/// tests run that many) stay inside the 128 TiB a process may address. (With
/// `MCCHAT_INSTANCE_SLOTS`, one of each per slot.)
const MEMORIES_PER_SLOT: u32 = 3;
const CORE_INSTANCES_PER_SLOT: u32 = 16;
/// Address space reserved per linear memory: all of a 32-bit memory's 4 GiB, so Cranelift
/// leaves out the bounds check on every load and store (the guard pages catch a stray access).
/// With a smaller reservation each access was checked, and a guest call cost 10-15% more.
/// Each memory slot reserves 4 GiB of the 128 TiB a process may address; none of it is memory
/// until an actor touches it.
const MEMORY_RESERVATION: u64 = 1 << 32;

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

/// The wasmtime engine all actors share, with async support and epoch interruption.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
}

impl Runtime {
    /// An engine that compiles each module afresh.
    pub fn new() -> anyhow::Result<Self> {
        Self::build(Config::new())
    }

    /// An engine that keeps compiled modules in `dir`, keyed by the module's bytes and the
    /// engine's settings, so a host starting again skips Cranelift.
    pub fn with_compile_cache(dir: &Path) -> anyhow::Result<Self> {
        let mut cache = CacheConfig::new();
        // wasmtime takes only absolute cache paths; the data dir is often relative.
        cache.with_directory(std::path::absolute(dir)?);
        let mut config = Config::new();
        config.cache(Some(Cache::new(cache)?));
        Self::build(config)
    }

    /// Instances come from wasmtime's pooling allocator: memories and fiber stacks are mapped
    /// once and reused, where the on-demand allocator maps and unmaps them (with TLB flushes
    /// on every core) for each new instance and every async call.
    fn build(mut config: Config) -> anyhow::Result<Self> {
        let (slots, per_slot) = match std::env::var(INSTANCE_SLOTS_VAR) {
            Ok(value) => (
                value
                    .parse()
                    .map_err(|e| anyhow::anyhow!("{INSTANCE_SLOTS_VAR}={value}: {e}"))?,
                (1, 1),
            ),
            Err(_) => (INSTANCE_SLOTS, (MEMORIES_PER_SLOT, CORE_INSTANCES_PER_SLOT)),
        };
        let (memories, core_instances) = (slots * per_slot.0, slots * per_slot.1);
        let mut pooling = PoolingAllocationConfig::new();
        pooling
            .total_core_instances(core_instances)
            .total_memories(memories)
            .total_tables(core_instances)
            .total_stacks(slots)
            .max_memory_size(MAX_INSTANCE_MEMORY)
            // A component actor is its logic and adapters composed: several core instances,
            // memories and tables in one component instance, all drawn from the totals above.
            .total_component_instances(slots)
            .max_core_instances_per_component(COMPONENT_CORE_INSTANCES)
            .max_memories_per_component(COMPONENT_MEMORIES)
            .max_tables_per_component(COMPONENT_CORE_INSTANCES);
        config
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pooling))
            .memory_reservation(MEMORY_RESERVATION)
            .memory_reservation_for_growth(0)
            .epoch_interruption(true);
        // `perf report` names the actors' functions when MCCHAT_PERF_MAP is set.
        if std::env::var_os("MCCHAT_PERF_MAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        // The ticker holds only a weak engine, so it ends once the runtime is gone.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(Runtime { engine })
    }

    /// Compiles an actor: a wasmbus core module, or a component of the `wasmcloud:bus/actor`
    /// world.
    pub fn compile(&self, wasm: &[u8]) -> anyhow::Result<ActorModule> {
        if wasmparser::Parser::is_component(wasm) {
            Ok(ActorModule::Component(ActorComponent::compile(
                &self.engine,
                wasm,
            )?))
        } else {
            Ok(ActorModule::Wapc(WapcModule::compile(&self.engine, wasm)?))
        }
    }
}

/// A compiled actor, ready to be instantiated many times.
pub enum ActorModule {
    Wapc(WapcModule),
    Component(ActorComponent),
}

impl ActorModule {
    pub async fn instantiate(
        &self,
        identity: Arc<ActorIdentity>,
        host: Weak<dyn HostCalls>,
    ) -> anyhow::Result<ActorInstance> {
        Ok(match self {
            ActorModule::Wapc(module) => {
                ActorInstance::Wapc(module.instantiate(identity, host).await?)
            }
            ActorModule::Component(component) => {
                ActorInstance::Component(component.instantiate(identity, host).await?)
            }
        })
    }

    /// `module` or `component`, as the dashboard and the logs name the kind.
    pub fn kind(&self) -> &'static str {
        match self {
            ActorModule::Wapc(_) => "module",
            ActorModule::Component(_) => "component",
        }
    }
}

/// One instance of an actor. Calls on it are sequential (`&mut self`).
pub enum ActorInstance {
    Wapc(WapcInstance),
    Component(ComponentInstance),
}

impl ActorInstance {
    /// Invokes an operation (such as `HttpServer.HandleRequest`) with a msgpack payload.
    pub async fn call(&mut self, operation: &str, payload: Vec<u8>) -> Result<Vec<u8>, CallError> {
        match self {
            ActorInstance::Wapc(instance) => instance.call(operation, payload).await,
            ActorInstance::Component(instance) => instance.call(operation, payload).await,
        }
    }
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
