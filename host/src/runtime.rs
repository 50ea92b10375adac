//! The wasmtime engine the actors share, and the two kinds of actor it runs: wasmbus core
//! modules (`wapc`) and WebAssembly components of the `wasmcloud:bus/actor` world
//! (`component`). The pool, the router and the claims checks see one `ActorModule` and one
//! `ActorInstance` whichever the kind.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::Duration;

use wasmtime::{Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy};

use crate::capacity::{BoundsChecks, Capacity};
use crate::claims::ActorIdentity;
use crate::component::{ActorComponent, ComponentInstance};
use crate::host_calls::{CallError, HostCalls};
use crate::wapc::{WapcInstance, WapcModule};

/// How often running guests are interrupted to yield to other tasks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The wasmtime engine all actors share, with async support and epoch interruption.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    capacity: Arc<Capacity>,
}

impl Runtime {
    /// An engine with room for `capacity`'s instances, compiling each module afresh.
    pub fn new(capacity: Capacity) -> anyhow::Result<Self> {
        Self::build(Config::new(), capacity)
    }

    /// An engine with room for `capacity`'s instances that keeps compiled modules in `dir`,
    /// keyed by the module's bytes and the engine's settings, so a host starting again skips
    /// Cranelift.
    pub fn with_compile_cache(dir: &Path, capacity: Capacity) -> anyhow::Result<Self> {
        Self::build(cached(dir)?, capacity)
    }

    /// Instances come from wasmtime's pooling allocator: memories and fiber stacks are mapped
    /// once and reused, where the on-demand allocator maps and unmaps them (with TLB flushes
    /// on every core) for each new instance and every async call. Its slots are `capacity`'s.
    fn build(mut config: Config, capacity: Capacity) -> anyhow::Result<Self> {
        configure(&mut config, capacity.bounds_checks);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(capacity.pooling()));
        let engine = Engine::new(&config).map_err(|e| capacity.unreservable(&e))?;
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
        Ok(Runtime {
            engine,
            capacity: Arc::new(capacity),
        })
    }

    /// What this engine has room for.
    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// Compiles an actor: a wasmbus core module, or a component of the `wasmcloud:bus/actor`
    /// world.
    pub fn compile(&self, wasm: &[u8]) -> anyhow::Result<ActorModule> {
        compile(&self.engine, wasm)
    }
}

/// The settings every engine shares, the compiler's included: compiled code depends on
/// whether memory accesses are bounds-checked, so the cache keys on it.
fn configure(config: &mut Config, bounds_checks: BoundsChecks) {
    config
        .memory_reservation(bounds_checks.memory_reservation())
        .memory_reservation_for_growth(0)
        .epoch_interruption(true);
    // `perf report` names the actors' functions when MCCHAT_PERF_MAP is set.
    if std::env::var_os("MCCHAT_PERF_MAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
}

fn cached(dir: &Path) -> anyhow::Result<Config> {
    let mut cache = CacheConfig::new();
    // wasmtime takes only absolute cache paths; the data dir is often relative.
    cache.with_directory(std::path::absolute(dir)?);
    let mut config = Config::new();
    config.cache(Some(Cache::new(cache)?));
    Ok(config)
}

fn compile(engine: &Engine, wasm: &[u8]) -> anyhow::Result<ActorModule> {
    if wasmparser::Parser::is_component(wasm) {
        Ok(ActorModule::Component(ActorComponent::compile(
            engine, wasm,
        )?))
    } else {
        Ok(ActorModule::Wapc(WapcModule::compile(engine, wasm)?))
    }
}

/// An engine that only compiles, into a cache a host's engine then loads from: it instantiates
/// nothing, so it reserves nothing (`mcchat compile-actors`).
pub struct Compiler {
    engine: Engine,
}

impl Compiler {
    /// Compiles for hosts whose memories are `bounds_checks`, into `dir`.
    pub fn with_cache(dir: &Path, bounds_checks: BoundsChecks) -> anyhow::Result<Self> {
        let mut config = cached(dir)?;
        configure(&mut config, bounds_checks);
        Ok(Compiler {
            engine: Engine::new(&config)?,
        })
    }

    pub fn compile(&self, wasm: &[u8]) -> anyhow::Result<()> {
        compile(&self.engine, wasm).map(drop)
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
