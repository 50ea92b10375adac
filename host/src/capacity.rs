//! How much a host's engine reserves, from what it runs. wasmtime's pooling allocator maps a
//! slot for every linear memory, table and fiber stack the host may hold at once when the engine
//! is built, so the host sizes it from its actors (the memories and tables one instance of each
//! needs, read from its bytes) and the operator's limits (instances per actor, address space).
//!
//! Each memory slot is either the whole 4 GiB a 32-bit memory can address plus a guard, so that
//! Cranelift leaves out the bounds check on every load and store, or the 64 MiB an instance may
//! grow to, with every access checked. The first is chosen whenever the host's memories fit the
//! address-space limit that way.

use std::fmt;

use anyhow::{bail, Context, Result};
use bytesize::ByteSize;
use wasmparser::{
    ComponentAlias, ComponentExternalKind, ComponentInstance, ComponentOuterAliasKind,
    ComponentTypeRef, Encoding, Instance, Parser, Payload,
};

/// The most linear memory one actor instance may grow to.
pub const MAX_INSTANCE_MEMORY: usize = 64 << 20;
/// What a memory whose accesses need no bounds check reserves: all of 32-bit memory.
const UNCHECKED_RESERVATION: u64 = 1 << 32;
/// wasmtime's guard after (and before) each memory slot: loads and stores with a constant
/// offset below it need no check of the offset.
const GUARD: u64 = 32 << 20;
/// The default `--max-instances`: twice the 64 requests the benchmark keeps in flight, and as
/// many as each actor keeps idle beside them.
pub const DEFAULT_INSTANCES_PER_ACTOR: u16 = 128;
/// The default `--address-space`: 4 TiB, the 42 bits that wasmtime's own `serve` asks a
/// machine for before it uses its pooling allocator. Sixteen hosts then take at most half of
/// the 128 TiB a process may address on x86-64.
pub const DEFAULT_ADDRESS_SPACE: u64 = 4 << 40;
/// A component's core instances are counted, not reserved, by the pool: a composed actor makes
/// a few per component in it (its code, shims and fix-ups, and wasmtime's adapters between
/// them; up to 40 in mcchat's).
const CORE_INSTANCES_PER_COMPONENT: u32 = 64;

/// The operator's limits (`mcchat up --max-instances`, `--address-space`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most instances of one actor a host holds at once, busy and idle.
    pub instances_per_actor: u16,
    /// The most address space the actors' memories, tables and stacks may reserve.
    pub address_space: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            instances_per_actor: DEFAULT_INSTANCES_PER_ACTOR,
            address_space: DEFAULT_ADDRESS_SPACE,
        }
    }
}

impl Limits {
    /// `instances_per_actor` and `address_space` as given, or their defaults; the default
    /// address space is at most half a `ulimit -v` the process runs under.
    pub fn new(instances_per_actor: Option<u16>, address_space: Option<ByteSize>) -> Self {
        Limits {
            instances_per_actor: instances_per_actor.unwrap_or(DEFAULT_INSTANCES_PER_ACTOR),
            address_space: address_space.map_or_else(
                || DEFAULT_ADDRESS_SPACE.min(address_space_limit() / 2),
                |size| size.as_u64(),
            ),
        }
    }
}

/// The process's `RLIMIT_AS` (`ulimit -v`), or no limit.
fn address_space_limit() -> u64 {
    match rlimit::Resource::AS.get_soft() {
        Ok(limit) if limit != rlimit::INFINITY => limit,
        _ => u64::MAX,
    }
}

/// What one instance of an actor holds of the pool: its linear memories and tables (each
/// component composed into an actor has its own), read from the actor's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorShape {
    pub memories: u32,
    pub tables: u32,
    pub component: bool,
}

impl ActorShape {
    /// Counts the memories and tables an instance defines: a core module's own, or those of
    /// every core module a component instantiates, through every nested component it
    /// instantiates.
    pub fn of(wasm: &[u8]) -> Result<ActorShape> {
        let mut scopes: Vec<Scope> = Vec::new();
        for payload in Parser::new(0).parse_all(wasm) {
            match payload.context("reading the actor's sections")? {
                Payload::Version { encoding, .. } => scopes.push(Scope::new(encoding)),
                Payload::End(_) => {
                    let done = scopes.pop().context("a section ends that never began")?;
                    match scopes.last_mut() {
                        Some(parent) => parent.define(done.kind(), Some(done.total)),
                        None => {
                            return Ok(ActorShape {
                                memories: done.total.memories,
                                tables: done.total.tables,
                                component: done.component,
                            })
                        }
                    }
                }
                Payload::ComponentAliasSection(section) => {
                    for alias in section {
                        let aliased = match alias? {
                            ComponentAlias::InstanceExport { kind, .. } => {
                                Kind::of(kind).map(|kind| (kind, None))
                            }
                            ComponentAlias::Outer { kind, count, index } => {
                                outer(&scopes, kind, count, index)
                            }
                            ComponentAlias::CoreInstanceExport { .. } => None,
                        };
                        if let Some((kind, count)) = aliased {
                            scopes.last_mut().context("no scope")?.define(kind, count);
                        }
                    }
                }
                payload => match scopes.last_mut() {
                    Some(scope) => scope.read(payload)?,
                    None => bail!("not a WebAssembly module or component"),
                },
            }
        }
        bail!("the actor ends before its last section")
    }
}

/// The module or component an outer alias names, `count` scopes out.
fn outer(
    scopes: &[Scope],
    kind: ComponentOuterAliasKind,
    count: u32,
    index: u32,
) -> Option<(Kind, Option<Count>)> {
    let kind = match kind {
        ComponentOuterAliasKind::CoreModule => Kind::Module,
        ComponentOuterAliasKind::Component => Kind::Component,
        _ => return None,
    };
    let outer = scopes
        .len()
        .checked_sub(1 + count as usize)
        .map(|at| &scopes[at]);
    Some((kind, outer.and_then(|scope| scope.get(kind, index))))
}

fn known(count: Option<Count>, what: &str) -> Result<Count> {
    count.with_context(|| {
        format!("the actor instantiates an imported {what}, whose memories cannot be counted")
    })
}

/// Memories and tables: what one instantiation of a module or component defines.
#[derive(Debug, Clone, Copy, Default)]
struct Count {
    memories: u32,
    tables: u32,
}

impl std::ops::AddAssign for Count {
    fn add_assign(&mut self, other: Count) {
        self.memories += other.memories;
        self.tables += other.tables;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Module,
    Component,
}

impl Kind {
    fn of(kind: ComponentExternalKind) -> Option<Kind> {
        match kind {
            ComponentExternalKind::Module => Some(Kind::Module),
            ComponentExternalKind::Component => Some(Kind::Component),
            _ => None,
        }
    }
}

/// A module or component being read: what it defines or instantiates, and its index spaces of
/// modules and components (`None` for one that is imported, whose contents are unknown).
struct Scope {
    component: bool,
    total: Count,
    modules: Vec<Option<Count>>,
    components: Vec<Option<Count>>,
}

impl Scope {
    fn new(encoding: Encoding) -> Self {
        Scope {
            component: encoding == Encoding::Component,
            total: Count::default(),
            modules: Vec::new(),
            components: Vec::new(),
        }
    }

    fn kind(&self) -> Kind {
        if self.component {
            Kind::Component
        } else {
            Kind::Module
        }
    }

    fn get(&self, kind: Kind, index: u32) -> Option<Count> {
        let space = match kind {
            Kind::Module => &self.modules,
            Kind::Component => &self.components,
        };
        space.get(index as usize).copied().flatten()
    }

    /// Adds a module or component to its index space.
    fn define(&mut self, kind: Kind, count: Option<Count>) {
        match kind {
            Kind::Module => self.modules.push(count),
            Kind::Component => self.components.push(count),
        }
    }

    fn read(&mut self, payload: Payload<'_>) -> Result<()> {
        match payload {
            Payload::MemorySection(section) => self.total.memories += section.count(),
            Payload::TableSection(section) => self.total.tables += section.count(),
            Payload::InstanceSection(section) => {
                for instance in section {
                    if let Instance::Instantiate { module_index, .. } = instance? {
                        self.total += known(self.get(Kind::Module, module_index), "core module")?;
                    }
                }
            }
            Payload::ComponentInstanceSection(section) => {
                for instance in section {
                    if let ComponentInstance::Instantiate {
                        component_index, ..
                    } = instance?
                    {
                        self.total +=
                            known(self.get(Kind::Component, component_index), "component")?;
                    }
                }
            }
            Payload::ComponentImportSection(section) => {
                for import in section {
                    match import?.ty {
                        ComponentTypeRef::Module(_) => self.define(Kind::Module, None),
                        ComponentTypeRef::Component(_) => self.define(Kind::Component, None),
                        _ => {}
                    }
                }
            }
            // An exported module or component is a new index for the same item.
            Payload::ComponentExportSection(section) => {
                for export in section {
                    let export = export?;
                    if let Some(kind) = Kind::of(export.kind) {
                        self.define(kind, self.get(kind, export.index));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether memory accesses are bounds-checked, which decides what each memory reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoundsChecks {
    /// Each memory reserves 4 GiB: guard pages catch a stray access, and no load or store is
    /// checked.
    Elided,
    /// Each memory reserves the 64 MiB it may grow to, and every access is checked.
    Emitted,
}

impl BoundsChecks {
    /// What one memory reserves before its guard.
    pub fn memory_reservation(self) -> u64 {
        match self {
            BoundsChecks::Elided => UNCHECKED_RESERVATION,
            BoundsChecks::Emitted => MAX_INSTANCE_MEMORY as u64,
        }
    }

    /// What one memory slot takes of the address space, guard included.
    fn slot(self) -> u64 {
        self.memory_reservation() + GUARD
    }
}

/// What a host's engine preallocates: slots for every instance each actor may have at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capacity {
    pub limits: Limits,
    pub bounds_checks: BoundsChecks,
    pub actors: u32,
    pub instances: u32,
    pub component_instances: u32,
    pub core_instances: u32,
    pub memories: u32,
    pub tables: u32,
    /// The most memories and tables one instance of any actor holds.
    pub memories_per_instance: u32,
    pub tables_per_instance: u32,
}

/// What one fiber stack reserves: wasmtime's default 2 MiB async stack, plus its guard page.
const STACK: u64 = (2 << 20) + 4096;
/// What one table reserves: wasmtime's default 20,000 elements of 8 bytes.
const TABLE: u64 = 20_000 * 8;

impl Capacity {
    /// Slots for `limits.instances_per_actor` instances of each actor, with 4 GiB memories if
    /// they fit the address-space limit and checked 64 MiB ones if only those do.
    pub fn plan(actors: &[ActorShape], limits: Limits) -> Result<Capacity> {
        let per_actor = u32::from(limits.instances_per_actor);
        let sum = |count: fn(&ActorShape) -> u32| -> u32 {
            actors.iter().map(|actor| count(actor) * per_actor).sum()
        };
        let plan = |bounds_checks| Capacity {
            limits,
            bounds_checks,
            actors: actors.len() as u32,
            instances: sum(|_| 1),
            component_instances: sum(|actor| u32::from(actor.component)),
            core_instances: sum(|actor| {
                if actor.component {
                    CORE_INSTANCES_PER_COMPONENT
                } else {
                    1
                }
            }),
            memories: sum(|actor| actor.memories),
            tables: sum(|actor| actor.tables),
            memories_per_instance: actors.iter().map(|a| a.memories).max().unwrap_or(1).max(1),
            tables_per_instance: actors.iter().map(|a| a.tables).max().unwrap_or(1).max(1),
        };
        let unchecked = plan(BoundsChecks::Elided);
        if unchecked.reserved() <= limits.address_space {
            return Ok(unchecked);
        }
        let checked = plan(BoundsChecks::Emitted);
        if checked.reserved() <= limits.address_space {
            return Ok(checked);
        }
        bail!(
            "{} needs {} of address space, over the limit of {}: {}",
            checked,
            ByteSize::b(checked.reserved()).display().iec(),
            ByteSize::b(limits.address_space).display().iec(),
            LOWER_IT
        )
    }

    /// The address space the pool maps: every memory slot with the guard before the first,
    /// every table and every fiber stack.
    pub fn reserved(&self) -> u64 {
        u64::from(self.memories) * self.bounds_checks.slot()
            + GUARD
            + u64::from(self.tables) * TABLE
            + u64::from(self.instances) * STACK
    }

    /// The pooling allocator's settings for this capacity.
    pub fn pooling(&self) -> wasmtime::PoolingAllocationConfig {
        let mut pooling = wasmtime::PoolingAllocationConfig::new();
        pooling
            .total_memories(self.memories.max(1))
            .total_tables(self.tables.max(1))
            .total_core_instances(self.core_instances.max(1))
            .total_component_instances(self.component_instances.max(1))
            .total_stacks(self.instances.max(1))
            .max_memory_size(MAX_INSTANCE_MEMORY)
            .max_memories_per_component(self.memories_per_instance)
            .max_tables_per_component(self.tables_per_instance)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT);
        pooling
    }

    /// An error for an engine whose pool could not be mapped: one line, with what lowers it.
    pub fn unreservable(&self, error: &wasmtime::Error) -> anyhow::Error {
        let cause = error.chain().last().map(|cause| cause.to_string());
        anyhow::anyhow!(
            "{} could not reserve {} of address space ({}): {}",
            self,
            ByteSize::b(self.reserved()).display().iec(),
            cause.unwrap_or_default(),
            LOWER_IT
        )
    }
}

/// The settings that lower a host's reservation, as an error names them.
const LOWER_IT: &str = "lower --max-instances (MCCHAT_MAX_INSTANCES) or --address-space \
                        (MCCHAT_ADDRESS_SPACE)";

impl fmt::Display for Capacity {
    /// `a host of 6 actors × 128 instances (768 memories of 4 GiB, unchecked)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a host of {} actors × {} instances ({} memories of {}, {})",
            self.actors,
            self.limits.instances_per_actor,
            self.memories,
            ByteSize::b(self.bounds_checks.memory_reservation())
                .display()
                .iec(),
            match self.bounds_checks {
                BoundsChecks::Elided => "bounds checks elided",
                BoundsChecks::Emitted => "bounds-checked",
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODULE: ActorShape = ActorShape {
        memories: 1,
        tables: 1,
        component: false,
    };
    const COMPONENT: ActorShape = ActorShape {
        memories: 6,
        tables: 4,
        component: true,
    };

    #[test]
    fn six_modules_keep_four_gib_memories_within_the_default_limit() {
        let capacity = Capacity::plan(&[MODULE; 6], Limits::default()).unwrap();
        assert_eq!(capacity.bounds_checks, BoundsChecks::Elided);
        assert_eq!((capacity.instances, capacity.memories), (768, 768));
        assert!(capacity.reserved() <= DEFAULT_ADDRESS_SPACE);
    }

    #[test]
    fn components_that_do_not_fit_with_four_gib_memories_are_bounds_checked() {
        let capacity = Capacity::plan(&[COMPONENT; 6], Limits::default()).unwrap();
        assert_eq!(capacity.bounds_checks, BoundsChecks::Emitted);
        assert_eq!(capacity.memories, 6 * 128 * 6);
        assert_eq!(capacity.component_instances, 768);
        // Sixteen such hosts take a small part of the 128 TiB a process may address.
        assert!(
            16 * capacity.reserved() < 8 << 40,
            "{}",
            capacity.reserved()
        );
    }

    #[test]
    fn a_larger_address_space_keeps_four_gib_memories_for_components_too() {
        let limits = Limits {
            address_space: 32 << 40,
            ..Limits::default()
        };
        let capacity = Capacity::plan(&[COMPONENT; 6], limits).unwrap();
        assert_eq!(capacity.bounds_checks, BoundsChecks::Elided);
    }

    #[test]
    fn a_reservation_over_the_limit_is_refused_naming_the_settings() {
        let limits = Limits {
            address_space: 1 << 30,
            ..Limits::default()
        };
        let error = Capacity::plan(&[MODULE; 6], limits)
            .unwrap_err()
            .to_string();
        assert!(error.contains("MCCHAT_MAX_INSTANCES"), "{error}");
        assert!(error.contains("MCCHAT_ADDRESS_SPACE"), "{error}");
        assert!(!error.contains('\n'), "{error}");
    }

    #[test]
    fn a_module_defines_its_memories_and_tables() {
        let wasm = wat::parse_str("(module (memory 1) (table 1 funcref) (memory 1))").unwrap();
        assert_eq!(
            ActorShape::of(&wasm).unwrap(),
            ActorShape {
                memories: 2,
                tables: 1,
                component: false
            }
        );
    }

    #[test]
    fn a_component_counts_what_each_instantiation_defines() {
        // A module instantiated twice, and a nested component (itself instantiating a module
        // of its parent's, by outer alias) instantiated once.
        let wasm = wat::parse_str(
            r#"(component
                (core module $m (memory 1) (table 1 funcref))
                (core instance (instantiate $m))
                (core instance (instantiate $m))
                (component $c
                    (alias outer 1 $m (core module $outer))
                    (core module $own (memory 1))
                    (core instance (instantiate $outer))
                    (core instance (instantiate $own)))
                (instance (instantiate $c)))"#,
        )
        .unwrap();
        assert_eq!(
            ActorShape::of(&wasm).unwrap(),
            ActorShape {
                memories: 4,
                tables: 3,
                component: true
            }
        );
    }

    #[test]
    fn an_imported_module_instantiated_cannot_be_sized() {
        let wasm = wat::parse_str(
            r#"(component
                (import "m" (core module $m))
                (core instance (instantiate $m)))"#,
        )
        .unwrap();
        let error = ActorShape::of(&wasm).unwrap_err().to_string();
        assert!(error.contains("imported core module"), "{error}");
    }
}
