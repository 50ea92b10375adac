//! MQTT requests against NATS requests, in one run on one host: CLIENTS clients each send a
//! chat message and wait for its ack, again and again, for ROUND_SECONDS; NATS (`chat.in`
//! request, ack on the reply subject) and MQTT 5 (`chat/in` with a response topic and
//! correlation data, ack on the response topic) take turns, ROUNDS rounds each. Every ack must
//! say accepted. Prints each round's rate and latency, and MQTT against NATS.
//!
//! `cargo bench -p mcchat-host --bench mqtt_requests` (release build; needs nats-server,
//! redis-server and mosquitto).

#[path = "../../e2e/tests/e2e/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::mqtt::{correlation, Device};
use support::{config, percentile, start, Server};

const CLIENTS: usize = 32;
const ROUND_SECONDS: u64 = 10;
const ROUNDS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    Nats,
    Mqtt,
}

struct Round {
    requests_per_second: f64,
    p50: Duration,
    p99: Duration,
}

fn chat_message(client: usize, n: usize) -> String {
    serde_json::json!({"user_name": format!("bench-{client}"), "body": format!("message {n}")})
        .to_string()
}

/// One client's requests until `until`: each one's latency.
async fn nats_client(nats_url: String, client: usize, until: Instant) -> Vec<Duration> {
    let nats = async_nats::connect(nats_url).await.unwrap();
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let sent = Instant::now();
        let reply = nats
            .request("chat.in", chat_message(client, latencies.len()).into())
            .await
            .unwrap();
        latencies.push(sent.elapsed());
        let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(ack["accepted"], true, "{ack}");
    }
    latencies
}

async fn mqtt_client(mosquitto: &Server, client: usize, until: Instant) -> Vec<Duration> {
    let id = format!("bench-{client}-{}", uuid::Uuid::new_v4().simple());
    let mut device = Device::connect(mosquitto, &id).await;
    let replies = format!("replies/{id}");
    device.subscribe(&replies).await;
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let n = latencies.len();
        let sent = Instant::now();
        device
            .request(
                "chat/in",
                chat_message(client, n),
                &replies,
                n.to_string().as_bytes(),
            )
            .await;
        let reply = device.next().await;
        latencies.push(sent.elapsed());
        assert_eq!(correlation(&reply), Some(n.to_string().into_bytes()));
        let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(ack["accepted"], true, "{ack}");
    }
    latencies
}

async fn round(transport: Transport, nats: &Server, mosquitto: &Server) -> Round {
    let until = Instant::now() + Duration::from_secs(ROUND_SECONDS);
    let started = Instant::now();
    let clients = (0..CLIENTS).map(|client| {
        let nats_url = nats.nats_url();
        async move {
            match transport {
                Transport::Nats => nats_client(nats_url, client, until).await,
                Transport::Mqtt => mqtt_client(mosquitto, client, until).await,
            }
        }
    });
    let mut latencies: Vec<Duration> = futures::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect();
    let elapsed = started.elapsed();
    latencies.sort();
    let measured = Round {
        requests_per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    };
    println!(
        "mqtt_requests, {transport:?}: {CLIENTS} clients, {} requests acked in {elapsed:.2?}: \
         {:.0} requests/s; latency p50 {:.2?}, p99 {:.2?}",
        latencies.len(),
        measured.requests_per_second,
        measured.p50,
        measured.p99,
    );
    measured
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (nats, redis, mosquitto) = (Server::nats(), Server::redis(), Server::mosquitto());
        let data = tempfile::tempdir().unwrap();
        let mut settings = config(&nats, Some(&redis), data.path());
        settings.mqtt_url = Some(mosquitto.mqtt_url());
        let (host, _) = start(settings).await;
        let (mut nats_rounds, mut mqtt_rounds) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            nats_rounds.push(round(Transport::Nats, &nats, &mosquitto).await);
            mqtt_rounds.push(round(Transport::Mqtt, &nats, &mosquitto).await);
        }
        let mean = |rounds: &[Round], f: fn(&Round) -> f64| {
            rounds.iter().map(f).sum::<f64>() / rounds.len() as f64
        };
        println!(
            "mqtt_requests: MQTT against NATS, mean of {ROUNDS} rounds each: {:.2}x the rate, \
             p99 {:.2}x",
            mean(&mqtt_rounds, |r| r.requests_per_second)
                / mean(&nats_rounds, |r| r.requests_per_second),
            mean(&mqtt_rounds, |r| r.p99.as_secs_f64())
                / mean(&nats_rounds, |r| r.p99.as_secs_f64()),
        );
        host.shutdown().await;
    });
}
