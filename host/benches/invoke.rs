//! What one actor invocation costs the host, apart from what the actor does: the signed chatlog
//! called directly (no router, pool, network or provider), with a host that answers its
//! key-value call at once; as a module through the waPC ABI, and as a component (its logic
//! composed with its adapters) through the component model; each with 4 GiB memories (no
//! bounds checks) and with the bounds-checked 64 MiB ones a host uses when those do not fit its
//! address space. Results and the command: BENCHMARKS.md.
//!
//!     cargo xtask build && cargo bench -p mcchat-host --bench invoke

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use mcchat_host::capacity::{ActorShape, BoundsChecks, Capacity, Limits};
use mcchat_host::claims::{self, ActorIdentity};
use mcchat_host::error::HostError;
use mcchat_host::host_calls::HostCalls;
use mcchat_host::runtime::{ActorInstance, Runtime};
use serde_json::json;

/// Answers `KeyValue.ListAdd` with a list length, as Redis would; refuses anything else.
struct InstantStore;

#[async_trait]
impl HostCalls for InstantStore {
    async fn host_call(
        &self,
        _caller: &ActorIdentity,
        _binding: String,
        _namespace: String,
        operation: String,
        _payload: Vec<u8>,
    ) -> Result<Vec<u8>, HostError> {
        match operation.as_str() {
            "KeyValue.ListAdd" => {
                Ok(wasmbus_rpc::common::serialize(&7u32).expect("a number serializes"))
            }
            other => Err(HostError::NoActor(format!("{other} is not answered here"))),
        }
    }
}

/// The signed chatlog in `file` (`chatlog_s.wasm`, `chatlog_component_s.wasm`), instantiated
/// on an engine whose memories are `bounds_checks`.
fn chatlog_instance(
    rt: &tokio::runtime::Runtime,
    host: &Arc<dyn HostCalls>,
    file: &str,
    bounds_checks: BoundsChecks,
) -> ActorInstance {
    let path = xtask::build_dir().join(file);
    let wasm = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build` first)", path.display()));
    let identity = claims::verify(&wasm, &[]).expect("a signed actor");
    let limits = Limits {
        instances_per_actor: 2,
        address_space: match bounds_checks {
            BoundsChecks::Elided => u64::MAX,
            BoundsChecks::Emitted => 1 << 30,
        },
    };
    let capacity = Capacity::plan(&[ActorShape::of(&wasm).unwrap()], limits).unwrap();
    assert_eq!(capacity.bounds_checks, bounds_checks);
    let module = Runtime::new(capacity).unwrap().compile(&wasm).unwrap();
    let weak: Weak<dyn HostCalls> = Arc::downgrade(host);
    rt.block_on(module.instantiate(Arc::new(identity), weak))
        .unwrap()
}

fn bench_invoke(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let host: Arc<dyn HostCalls> = Arc::new(InstantStore);
    let mut instance = chatlog_instance(&rt, &host, "chatlog_s.wasm", BoundsChecks::Elided);
    let mut component =
        chatlog_instance(&rt, &host, "chatlog_component_s.wasm", BoundsChecks::Elided);
    let mut checked = chatlog_instance(&rt, &host, "chatlog_s.wasm", BoundsChecks::Emitted);
    let mut checked_component = chatlog_instance(
        &rt,
        &host,
        "chatlog_component_s.wasm",
        BoundsChecks::Emitted,
    );

    // An empty msgpack map: `HealthCheckRequest {}`.
    let health = [0x80u8];
    c.bench_function("invoke/health_request", |b| {
        b.iter(|| {
            rt.block_on(instance.call("Actor.HealthRequest", health.to_vec()))
                .unwrap()
        })
    });

    let message = wasmbus_rpc::common::serialize(&json!({
        "id": "5f0e1d2c-0000-4000-8000-0000000000aa",
        "sourceUser": "bench",
        "channelName": "http",
        "body": "a benchmark message",
    }))
    .unwrap();
    c.bench_function("invoke/write_message_with_one_host_call", |b| {
        b.iter(|| {
            rt.block_on(instance.call("Chatlog.WriteMessage", message.clone()))
                .unwrap()
        })
    });
    // The same write, by the same logic, as a component: receiver, logic and key-value sender,
    // each a core instance of its own, with the canonical ABI between them.
    c.bench_function("invoke/component/write_message_with_one_host_call", |b| {
        b.iter(|| {
            rt.block_on(component.call("Chatlog.WriteMessage", message.clone()))
                .unwrap()
        })
    });
    // The same two writes with every memory access bounds-checked: what a host whose 4 GiB
    // memories do not fit its address space pays.
    c.bench_function(
        "invoke/bounds_checked/write_message_with_one_host_call",
        |b| {
            b.iter(|| {
                rt.block_on(checked.call("Chatlog.WriteMessage", message.clone()))
                    .unwrap()
            })
        },
    );
    c.bench_function(
        "invoke/bounds_checked/component/write_message_with_one_host_call",
        |b| {
            b.iter(|| {
                rt.block_on(checked_component.call("Chatlog.WriteMessage", message.clone()))
                    .unwrap()
            })
        },
    );
    // No handler: through the receiver to the host's fallback and back, an error.
    c.bench_function("invoke/component/unhandled_operation", |b| {
        b.iter(|| {
            rt.block_on(component.call("Actor.HealthRequest", health.to_vec()))
                .unwrap_err()
        })
    });
}

criterion_group!(benches, bench_invoke);
criterion_main!(benches);
