//! A pool of instances per actor: actors are stateless, so any idle instance serves a call and
//! calls run in parallel on separate instances. An instance that traps is dropped and replaced.
//!
//! A pool holds at most the instances the engine reserved for its actor (`--max-instances`),
//! busy and idle: a call that finds none free waits for one within its deadline. Calls from
//! outside (a provider's) may hold only three quarters of them, so a call that an actor makes
//! back into an actor whose instances outside calls hold (api-gateway relaying a browser's
//! message to ws-channel, whose call is waiting for it) always finds one: an actor calling back
//! cannot wait on itself.
//!
//! The pool is also what the control interface scales, stops, starts and replaces: a limit on
//! concurrent instances (none by default), a stopped state that refuses calls, and a module
//! generation, so a replaced actor's in-flight calls finish on the old module.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::capacity::ActorShape;
use crate::claims::ActorIdentity;
use crate::error::HostError;
use crate::events::EventBus;
use crate::host_calls::{CallError, HostCalls};
use crate::runtime::{ActorInstance, ActorModule};
use crate::stats::CallStats;
use crate::telemetry::Outcome;

/// Idle instances kept per actor, so a steady load reuses instances instead of creating and
/// dropping them; more are created on demand. They are shared out equally among the workers,
/// and a NATS subscription takes as many messages at once on each worker as its share.
pub const MAX_IDLE: usize = 64;
/// Longest one call (with everything it calls) may take. Below the HTTP server's request
/// deadline, so a stuck actor is reported by the layer that knows which actor it was.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What bounds how long a call may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// A call from a provider (an HTTP request, a NATS or WebSocket message): `CALL_TIMEOUT`
    /// from its start.
    Own,
    /// A call one actor makes to another, inside its own call. The caller started earlier
    /// with the same timeout, so its deadline always comes first and drops this call (and
    /// its instance) with it: a timer of this call's own could never fire.
    Callers,
}

/// How many instances may run at once.
#[derive(Clone)]
enum Scale {
    Stopped,
    Unbounded,
    /// At most this many concurrent calls; the semaphore holds one permit per instance.
    Bounded(u16, Arc<Semaphore>),
}

/// An actor to run: its verified identity, its compiled module, what the engine reserved for
/// each instance and where it came from.
pub struct LoadedActor {
    pub identity: ActorIdentity,
    pub module: ActorModule,
    pub shape: ActorShape,
    pub image_ref: String,
}

/// The module calls run on; replaced as a whole.
struct Generation {
    number: u64,
    identity: Arc<ActorIdentity>,
    module: ActorModule,
}

impl ActorShape {
    /// Whether an instance of `self` fits the slots the engine reserved for `reserved`.
    fn fits(&self, reserved: &ActorShape) -> bool {
        self.memories <= reserved.memories
            && self.tables <= reserved.tables
            && (reserved.component || !self.component)
    }
}

/// An instance and the generation it belongs to, holding one of the pool's instance slots
/// while it exists.
struct Pooled {
    generation: u64,
    instance: ActorInstance,
    _slot: OwnedSemaphorePermit,
}

/// The engine's slots for one actor's instances, and how many of them calls from outside may
/// hold.
struct Slots {
    limit: u16,
    /// One permit per instance, busy or idle.
    instances: Arc<Semaphore>,
    /// One permit per call from outside in progress: three quarters of `limit`.
    outside: Arc<Semaphore>,
    /// Calls waiting for an instance: while there are any, a finished call gives its instance
    /// back to the engine, which wakes one of them, instead of keeping it idle.
    waiting: AtomicUsize,
}

impl Slots {
    fn new(limit: u16) -> Self {
        let limit = limit.max(2);
        let reserved_for_callbacks = (limit / 4).max(1);
        Slots {
            limit,
            instances: Arc::new(Semaphore::new(usize::from(limit))),
            outside: Arc::new(Semaphore::new(usize::from(limit - reserved_for_callbacks))),
            waiting: AtomicUsize::new(0),
        }
    }

    fn live(&self) -> usize {
        usize::from(self.limit) - self.instances.available_permits()
    }
}

pub struct ActorPool {
    current: RwLock<Arc<Generation>>,
    host: Weak<dyn HostCalls>,
    /// Idle instances, a stack per worker: a worker's calls reuse the instances whose memory
    /// its core last touched.
    idle: Box<[Mutex<Vec<Pooled>>]>,
    scale: RwLock<Scale>,
    /// What the engine reserved for each of this actor's instances.
    shape: ActorShape,
    slots: Slots,
    /// Instances ever started: a steady load that keeps starting them has too few kept idle.
    started: AtomicU64,
    started_metric: metrics::Counter,
    pub stats: CallStats,
    events: EventBus,
    /// Where the module came from (a file or an OCI reference), as inventories report it.
    image_ref: RwLock<String>,
    /// Changes each time the actor is started, as wasmCloud's instance ids do.
    instance_id: RwLock<String>,
}

/// What a running pool looks like from outside: for inventories and the dashboard.
#[derive(Debug, Clone)]
pub struct PoolStatus {
    pub identity: Arc<ActorIdentity>,
    pub image_ref: String,
    pub instance_id: String,
    /// `None`: no limit; `Some(0)`: stopped.
    pub max_instances: Option<u16>,
    pub live_instances: usize,
    /// The most instances the engine has room for (`--max-instances`).
    pub instance_limit: u16,
    pub instances_started: u64,
}

impl PoolStatus {
    pub fn is_running(&self) -> bool {
        self.max_instances != Some(0)
    }
}

/// How many of `keep` idle instances stack `index` of `stacks` holds: an equal share, the
/// first stack the remainder, so together they never hold more than `keep`.
pub(crate) fn stack_capacity(keep: usize, stacks: usize, index: usize) -> usize {
    let share = keep / stacks;
    if index == 0 {
        keep - share * (stacks - 1)
    } else {
        share
    }
}

impl ActorPool {
    /// A pool of at most `instances` instances, whose idle ones are kept in a stack per worker,
    /// for `workers` workers.
    pub fn new(
        actor: LoadedActor,
        host: Weak<dyn HostCalls>,
        events: EventBus,
        workers: usize,
        instances: u16,
    ) -> Self {
        let LoadedActor {
            identity,
            module,
            shape,
            image_ref,
        } = actor;
        ActorPool {
            stats: CallStats::new(identity.label()),
            started_metric: crate::telemetry::instances_started(identity.label()),
            current: RwLock::new(Arc::new(Generation {
                number: 0,
                identity: Arc::new(identity),
                module,
            })),
            host,
            idle: (0..workers.max(1))
                .map(|_| Mutex::new(Vec::new()))
                .collect(),
            scale: RwLock::new(Scale::Unbounded),
            shape,
            slots: Slots::new(instances),
            started: AtomicU64::new(0),
            events,
            image_ref: RwLock::new(image_ref),
            instance_id: RwLock::new(uuid::Uuid::new_v4().to_string()),
        }
    }

    /// The identity of the module new calls run on.
    pub fn identity(&self) -> Arc<ActorIdentity> {
        self.generation().identity.clone()
    }

    /// `module` or `component`: what new calls run on.
    pub fn kind(&self) -> &'static str {
        self.generation().module.kind()
    }

    fn generation(&self) -> Arc<Generation> {
        self.current.read().expect("generation lock").clone()
    }

    pub fn status(&self) -> PoolStatus {
        let max_instances = match &*self.scale.read().expect("scale lock") {
            Scale::Stopped => Some(0),
            Scale::Unbounded => None,
            Scale::Bounded(max, _) => Some(*max),
        };
        PoolStatus {
            identity: self.identity(),
            image_ref: self.image_ref.read().expect("image lock").clone(),
            instance_id: self.instance_id.read().expect("instance id lock").clone(),
            max_instances,
            live_instances: self.slots.live(),
            instance_limit: self.slots.limit,
            instances_started: self.started.load(Ordering::Relaxed),
        }
    }

    /// Sets the instance limit: `Some(0)` stops the actor, `None` lifts the limit. Calls in
    /// flight finish; new calls wait for a free instance (within their deadline).
    pub fn scale(&self, max_instances: Option<u16>) {
        let was_running = {
            let mut scale = self.scale.write().expect("scale lock");
            let was_running = !matches!(*scale, Scale::Stopped);
            *scale = match max_instances {
                Some(0) => Scale::Stopped,
                None => Scale::Unbounded,
                Some(max) => Scale::Bounded(max, Arc::new(Semaphore::new(usize::from(max)))),
            };
            was_running
        };
        if let Some(max) = max_instances {
            for (index, stack) in self.idle.iter().enumerate() {
                let capacity = stack_capacity(usize::from(max), self.idle.len(), index);
                stack.lock().expect("pool lock").truncate(capacity);
            }
        }
        let identity = self.identity();
        match (was_running, max_instances) {
            (true, Some(0)) => {
                self.events.publish(
                    "actor_stopped",
                    json!({ "public_key": identity.public_key, "instance_id": self.status().instance_id }),
                );
            }
            (false, max) if max != Some(0) => {
                *self.instance_id.write().expect("instance id lock") =
                    uuid::Uuid::new_v4().to_string();
                self.events
                    .publish("actor_started", self.started_event(max));
            }
            (_, max) => {
                self.events.publish(
                    "actor_scaled",
                    json!({ "public_key": identity.public_key, "max_instances": max }),
                );
            }
        }
    }

    /// The `actor_started` event's data, as wasmCloud hosts publish it.
    pub fn started_event(&self, max_instances: Option<u16>) -> serde_json::Value {
        let status = self.status();
        let identity = &status.identity;
        json!({
            "public_key": identity.public_key,
            "image_ref": status.image_ref,
            "api_version": "n/a",
            "instance_id": status.instance_id,
            "annotations": {},
            "max_instances": max_instances,
            "claims": {
                "call_alias": identity.call_alias,
                "caps": identity.caps,
                "issuer": identity.issuer,
                "tags": identity.tags,
                "name": identity.name,
                "version": identity.version,
                "revision": identity.revision,
            },
        })
    }

    /// Runs new calls on `module` (the same actor, re-signed or rebuilt); calls in flight finish
    /// on the module they started on, and its idle instances are dropped. It must fit the slots
    /// the engine reserved for this actor's instances.
    pub fn replace(
        &self,
        identity: ActorIdentity,
        module: ActorModule,
        shape: ActorShape,
        image_ref: String,
    ) -> Result<(), String> {
        if !shape.fits(&self.shape) {
            return Err(format!(
                "the new module needs {} memories and {} tables per instance{}, and this host \
                 reserved {} and {} for {}: restart the host to run it",
                shape.memories,
                shape.tables,
                if shape.component {
                    " as a component"
                } else {
                    ""
                },
                self.shape.memories,
                self.shape.tables,
                self.identity().label()
            ));
        }
        {
            let mut current = self.current.write().expect("generation lock");
            if identity.public_key != current.identity.public_key {
                return Err(format!(
                    "the new module is actor {}, not {}: a replacement keeps the actor's key",
                    identity.public_key, current.identity.public_key
                ));
            }
            *current = Arc::new(Generation {
                number: current.number + 1,
                identity: Arc::new(identity),
                module,
            });
        }
        for stack in &self.idle {
            stack.lock().expect("pool lock").clear();
        }
        *self.image_ref.write().expect("image lock") = image_ref.clone();
        let identity = self.identity();
        self.events.publish(
            "actor_updated",
            json!({
                "public_key": identity.public_key,
                "revision": identity.revision,
                "image_ref": image_ref,
                "instance_id": self.status().instance_id,
            }),
        );
        Ok(())
    }

    /// Calls an operation on an idle (or new) instance. Errors are messages for the caller.
    pub async fn call(
        &self,
        operation: &str,
        payload: Vec<u8>,
        deadline: Deadline,
    ) -> Result<Vec<u8>, HostError> {
        let started = Instant::now();
        let generation = self.generation();
        let label = generation.identity.label();
        let no_instance = || {
            self.stats
                .record(operation, Outcome::TimedOut, started.elapsed());
            Err(HostError::TimedOut(format!(
                "{label} {operation}: no instance free within {CALL_TIMEOUT:?}"
            )))
        };
        let scale = self.scale.read().expect("scale lock").clone();
        let _permit = match scale {
            Scale::Stopped => {
                return Err(HostError::NoActor(format!(
                    "{label} is stopped on this host"
                )))
            }
            Scale::Unbounded => None,
            Scale::Bounded(_, semaphore) => match acquire(&semaphore).await {
                Some(permit) => Some(permit),
                None => return no_instance(),
            },
        };
        let _outside = match deadline {
            Deadline::Own => match acquire(&self.slots.outside).await {
                Some(permit) => Some(permit),
                None => return no_instance(),
            },
            Deadline::Callers => None,
        };
        let pooled = match self.idle_instance(&generation) {
            Some(pooled) => pooled,
            // Boxed: the cold path's state would otherwise enlarge every call's future.
            None => match Box::pin(self.new_instance(&generation)).await {
                Some(Ok(pooled)) => pooled,
                Some(Err(e)) => {
                    self.stats
                        .record(operation, Outcome::Error, started.elapsed());
                    return Err(e);
                }
                None => return no_instance(),
            },
        };
        let (outcome, result) = self
            .call_on_instance(&generation, pooled, operation, payload, deadline)
            .await;
        self.stats.record(operation, outcome, started.elapsed());
        result
    }

    /// A new instance in a free slot, or in the first slot freed within `CALL_TIMEOUT` (or an
    /// idle instance released meanwhile).
    async fn new_instance(
        &self,
        generation: &Arc<Generation>,
    ) -> Option<Result<Pooled, HostError>> {
        let slot = match self.slots.instances.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                // Counted as waiting before looking again, so an instance released meanwhile
                // is either found here or handed back to the engine for this call.
                self.slots.waiting.fetch_add(1, Ordering::SeqCst);
                let _waiting = Waiting(&self.slots.waiting);
                if let Some(pooled) = self.idle_instance(generation) {
                    return Some(Ok(pooled));
                }
                acquire(&self.slots.instances).await?
            }
        };
        let label = generation.identity.label();
        Some(
            match generation
                .module
                .instantiate(generation.identity.clone(), self.host.clone())
                .await
            {
                Ok(instance) => {
                    self.started.fetch_add(1, Ordering::Relaxed);
                    self.started_metric.increment(1);
                    Ok(Pooled {
                        generation: generation.number,
                        instance,
                        _slot: slot,
                    })
                }
                Err(e) => Err(HostError::Trapped(format!(
                    "could not start an instance of {label}: {e:#}"
                ))),
            },
        )
    }

    /// An idle instance of `generation`: this worker's, or else any other worker's. Older
    /// generations' instances found on the way are dropped.
    fn idle_instance(&self, generation: &Generation) -> Option<Pooled> {
        let home = self.stack_index();
        let pop = |index: usize| {
            let mut stack = self.idle[index].lock().expect("pool lock");
            while let Some(pooled) = stack.pop() {
                if pooled.generation == generation.number {
                    return Some(pooled);
                }
            }
            None
        };
        pop(home).or_else(|| {
            (0..self.idle.len())
                .filter(|&index| index != home)
                .find_map(pop)
        })
    }

    async fn call_on_instance(
        &self,
        generation: &Arc<Generation>,
        mut pooled: Pooled,
        operation: &str,
        payload: Vec<u8>,
        deadline: Deadline,
    ) -> (Outcome, Result<Vec<u8>, HostError>) {
        let label = generation.identity.label();
        let call = pooled.instance.call(operation, payload);
        // A call inside another has no timer of its own: its caller's deadline comes first.
        let answer = match deadline {
            Deadline::Own => tokio::time::timeout(CALL_TIMEOUT, call).await.ok(),
            Deadline::Callers => Some(call.await),
        };
        match answer {
            Some(Ok(response)) => {
                self.release(pooled);
                (Outcome::Ok, Ok(response))
            }
            Some(Err(CallError::Guest(error))) => {
                self.release(pooled);
                (
                    Outcome::Error,
                    Err(HostError::Actor(format!("{label} {operation}: {error}"))),
                )
            }
            Some(Err(CallError::Trap(trap))) => {
                tracing::error!(
                    actor = label,
                    operation,
                    "instance trapped and was replaced: {trap:#}"
                );
                self.events.publish(
                    "actor_instance_trapped",
                    json!({
                        "public_key": generation.identity.public_key,
                        "call_alias": generation.identity.call_alias,
                        "operation": operation,
                        "error": format!("{trap:#}"),
                    }),
                );
                (
                    Outcome::Trap,
                    Err(HostError::Trapped(format!(
                        "{label} {operation} failed: the actor trapped"
                    ))),
                )
            }
            None => {
                tracing::error!(
                    actor = label,
                    operation,
                    "call timed out; the instance was dropped"
                );
                (
                    Outcome::TimedOut,
                    Err(HostError::TimedOut(format!(
                        "{label} {operation} timed out after {CALL_TIMEOUT:?}"
                    ))),
                )
            }
        }
    }

    /// This worker's idle stack (the first worker's on any other thread).
    fn stack_index(&self) -> usize {
        crate::workers::slot(self.idle.len())
    }

    /// Keeps an instance for the next call, unless the actor was replaced, stopped or scaled
    /// below what is idle, or a call is waiting for a slot (dropping it frees one).
    fn release(&self, pooled: Pooled) {
        let keep = match &*self.scale.read().expect("scale lock") {
            Scale::Stopped => 0,
            Scale::Unbounded => MAX_IDLE,
            Scale::Bounded(max, _) => usize::from(*max).min(MAX_IDLE),
        };
        if pooled.generation != self.current.read().expect("generation lock").number {
            return;
        }
        let index = self.stack_index();
        let mut idle = self.idle[index].lock().expect("pool lock");
        if self.slots.waiting.load(Ordering::SeqCst) == 0
            && idle.len() < stack_capacity(keep, self.idle.len(), index)
        {
            idle.push(pooled);
        }
    }
}

/// A permit of `semaphore`: at once if one is free, else the first freed within
/// `CALL_TIMEOUT`.
async fn acquire(semaphore: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    match semaphore.clone().try_acquire_owned() {
        Ok(permit) => Some(permit),
        Err(_) => tokio::time::timeout(CALL_TIMEOUT, semaphore.clone().acquire_owned())
            .await
            .ok()
            .map(|permit| permit.expect("the pool's semaphores are never closed")),
    }
}

/// Counts a call as waiting for an instance slot while it lives.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::stack_capacity;

    #[test]
    fn the_idle_stacks_together_hold_exactly_what_may_be_kept() {
        for (keep, stacks) in [(64, 2), (1, 2), (3, 2), (5, 4), (0, 3), (7, 1)] {
            let capacities: Vec<usize> = (0..stacks)
                .map(|index| stack_capacity(keep, stacks, index))
                .collect();
            assert_eq!(capacities.iter().sum::<usize>(), keep, "{capacities:?}");
            assert!(capacities[1..].iter().all(|&c| c == keep / stacks));
        }
    }
}
