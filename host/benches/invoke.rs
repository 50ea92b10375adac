//! What one actor invocation costs the host, apart from what the actor does: the signed chatlog
//! module called directly through the waPC ABI (no router, pool, network or provider), with a
//! host that answers its key-value call at once. Results and the command: BENCHMARKS.md.
//!
//!     cargo xtask build && cargo bench -p mcchat-host --bench invoke

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use criterion::{criterion_group, criterion_main, Criterion};
use mcchat_host::claims::{self, ActorIdentity};
use mcchat_host::error::HostError;
use mcchat_host::runtime::{ActorInstance, HostCalls, Runtime};
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

fn chatlog_instance(rt: &tokio::runtime::Runtime, host: &Arc<dyn HostCalls>) -> ActorInstance {
    let path = xtask::build_dir().join("chatlog_s.wasm");
    let wasm = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask build` first)", path.display()));
    let identity = claims::verify(&wasm, &[]).expect("a signed actor");
    let module = Runtime::new().unwrap().compile(&wasm).unwrap();
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
    let mut instance = chatlog_instance(&rt, &host);

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
}

criterion_group!(benches, bench_invoke);
criterion_main!(benches);
