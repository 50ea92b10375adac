//! WebSocket fan-out: 1,000 sessions on one host, 100 messages posted over HTTP one after
//! another; every session must receive every message. Prints the delivery rate and the
//! per-delivery latency (from the POST being sent to the frame being read).
//!
//! `cargo bench -p mcchat-host --bench ws_fanout` (release build; needs nats-server).

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::{broadcast_readers, post, ws_url, TestChat};

const SESSIONS: usize = 1_000;
const MESSAGES: usize = 100;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let chat = TestChat::start(false).await;
        let url = ws_url(&chat.host);
        let readers = broadcast_readers(&url, SESSIONS, MESSAGES).await;
        let started = Instant::now();
        let mut sent_at = Vec::with_capacity(MESSAGES);
        for n in 0..MESSAGES {
            sent_at.push(Instant::now());
            let body = serde_json::json!({"user_name": "bench", "body": n.to_string()});
            assert_eq!(post(&chat.base, &body.to_string()).await.status(), 201);
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
        println!(
            "ws_fanout: {SESSIONS} sessions x {MESSAGES} messages = {} deliveries in {:.2?}: \
             {:.0} deliveries/s; latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            latencies.len(),
            elapsed,
            latencies.len() as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.last().unwrap(),
        );
        chat.stop().await;
    });
}
