//! End-to-end latency of the chat's operations through a real host, with real NATS and Redis
//! servers started on free ports (as in the tests). Results and the command: BENCHMARKS.md.
//!
//!     cargo xtask build && cargo bench -p mcchat-host --bench chat

#[path = "../../e2e/tests/e2e/support/mod.rs"]
mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use support::{chat_in, nats_client, post, TestChat};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn bench_store(c: &mut Criterion, with_redis: bool) {
    let store = if with_redis { "redis" } else { "embedded" };
    let rt = runtime();
    let chat = rt.block_on(TestChat::start(with_redis));
    let client = rt.block_on(nats_client(&chat.nats));
    let base = chat.base.clone();

    c.bench_function(&format!("http_post/{store}"), |b| {
        b.to_async(&rt).iter(|| async {
            let response = post(
                &base,
                r#"{"user_name":"bench","body":"a benchmark message"}"#,
            )
            .await;
            assert_eq!(response.status(), 201);
        })
    });
    c.bench_function(&format!("nats_request/{store}"), |b| {
        b.to_async(&rt).iter(|| async {
            let ack = chat_in(
                &client,
                r#"{"user_name":"bench","body":"a benchmark message"}"#,
            )
            .await;
            assert_eq!(ack["accepted"], true);
        })
    });
    let http = reqwest::Client::new();
    c.bench_function(&format!("http_get_page_of_50/{store}"), |b| {
        b.to_async(&rt).iter(|| async {
            let response = http
                .get(format!("{base}/messages?limit=50"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap()
        })
    });
    rt.block_on(chat.stop());
}

fn chat(c: &mut Criterion) {
    bench_store(c, true);
    bench_store(c, false);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = chat
}
criterion_main!(benches);
