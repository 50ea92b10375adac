//! WebSocket fan-out: 1,000 sessions, 100 messages posted over HTTP one after another; every
//! session must receive every message. Measured twice in one run, each with its own NATS and
//! Redis: all sessions on one host, then half on each of two hosts (the messages posted to the
//! first, the second's sessions served through the relay over NATS). Prints each delivery rate
//! and per-delivery latency (from the POST being sent to the frame being read), then what
//! sealing a relayed frame with the cluster key costs against the two-host run's time per message.
//!
//! `cargo bench -p mcchat-host --bench ws_fanout` (release build; needs nats-server and
//! redis-server).

#[path = "../../e2e/tests/e2e/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{broadcast_readers, config, percentile, post, start, ws_url, Server};

const SESSIONS: usize = 1_000;
const MESSAGES: usize = 100;

struct Measured {
    deliveries_per_second: f64,
    per_message: Duration,
    p50: Duration,
    p99: Duration,
}

/// Starts `hosts` hosts on one NATS and one Redis, spreads the sessions evenly over them, and
/// posts every message to the first.
async fn measure(hosts: usize) -> Measured {
    let (nats, redis) = (Server::nats(), Server::redis());
    let data: Vec<_> = (0..hosts).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut running = Vec::new();
    for dir in &data {
        running.push(start(config(&nats, Some(&redis), dir.path())).await);
    }
    let mut readers = Vec::new();
    for (host, _) in &running {
        let url = ws_url(host);
        readers.extend(broadcast_readers(&url, SESSIONS / hosts, MESSAGES).await);
    }
    let base = &running[0].1;
    let started = Instant::now();
    let mut sent_at = Vec::with_capacity(MESSAGES);
    for n in 0..MESSAGES {
        sent_at.push(Instant::now());
        let body = serde_json::json!({"user_name": "bench", "body": n.to_string()});
        assert_eq!(post(base, &body.to_string()).await.status(), 201);
    }
    let mut latencies = Vec::with_capacity(SESSIONS * MESSAGES);
    let mut last = started;
    for reader in readers {
        for (body, arrived) in reader.await.unwrap() {
            let n: usize = body["body"].as_str().unwrap().parse().unwrap();
            latencies.push(arrived - sent_at[n]);
            last = last.max(arrived);
        }
    }
    let elapsed = last - started;
    latencies.sort();
    let measured = Measured {
        deliveries_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        per_message: elapsed / MESSAGES as u32,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    };
    println!(
        "ws_fanout, {hosts} host(s): {SESSIONS} sessions x {MESSAGES} messages = {} deliveries \
         in {elapsed:.2?}: {:.0} deliveries/s; latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        latencies.len(),
        measured.deliveries_per_second,
        measured.p50,
        measured.p99,
        latencies.last().unwrap(),
    );
    for (host, _) in running {
        host.shutdown().await;
    }
    measured
}

/// What one relayed broadcast costs in signatures: the sender signs it with the cluster key, a
/// receiving instance checks it (Ed25519 over a frame the size of a chat message).
fn seal_cost() -> Duration {
    const ROUNDS: u32 = 2_000;
    let trust = mcchat_provider_kit::ClusterTrust::generate();
    let frame = serde_json::json!({
        "body": "a chat message of about the usual length, say eighty characters or so, like this",
        "id": "0b1c7c8e-5a55-4b55-9a55-000000000042",
        "index": 12345,
        "sourceChannel": "http",
        "sourceUser": "bench",
    })
    .to_string();
    let started = Instant::now();
    for _ in 0..ROUNDS {
        let signature = trust.sign(frame.as_bytes());
        trust
            .verify(&trust.issuer(), frame.as_bytes(), &signature)
            .unwrap();
    }
    started.elapsed() / ROUNDS
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let one = measure(1).await;
        let two = measure(2).await;
        println!(
            "ws_fanout: two hosts against one: {:.2}x the delivery rate, p99 {:.2}x",
            two.deliveries_per_second / one.deliveries_per_second,
            two.p99.as_secs_f64() / one.p99.as_secs_f64(),
        );
        let seal = seal_cost();
        println!(
            "ws_fanout: sealing a relayed frame and checking it: {seal:.1?}, {:.2}% of the two-host \
             run's {:.2?} per message",
            100.0 * seal.as_secs_f64() / two.per_message.as_secs_f64(),
            two.per_message,
        );
    });
}
