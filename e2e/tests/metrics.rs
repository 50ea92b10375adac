//! `GET /metrics` counts exactly the traffic this test sends. The only test in its binary: the
//! metrics recorder is one per process.

#[path = "e2e/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::*;

/// The value of one sample (`name{labels}` exactly as rendered), or 0 when it is absent.
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_traffic_sent() {
    let (nats, redis, data) = (
        Server::nats(),
        Server::redis(),
        tempfile::tempdir().unwrap(),
    );
    let mut settings = config(&nats, Some(&redis), data.path());
    settings.dashboard_addr = "127.0.0.1:0".parse().unwrap();
    let (host, base) = start(settings).await;
    let metrics_url = format!("{}metrics", host.dashboard_url().unwrap());

    for i in 0..3 {
        let body = format!(r#"{{"user_name":"m","body":"http {i}"}}"#);
        post_stored(&base, &body).await;
    }
    assert_eq!(post(&base, r#"{"user_name":""}"#).await.status(), 400);
    let client = nats_client(&nats).await;
    for i in 0..2 {
        let body = format!(r#"{{"user_name":"m","body":"nats {i}"}}"#);
        assert_eq!(chat_in(&client, &body).await["accepted"], true);
    }

    // Fan-out runs after the acknowledgement: wait for it (3 × nats+ws+mqtt, 2 × ws+mqtt).
    let deadline = Instant::now() + Duration::from_secs(10);
    let metrics = loop {
        let metrics = scrape(&metrics_url).await;
        if sample(&metrics, "mcchat_messages_fanned_out_total") >= 13.0 || Instant::now() > deadline
        {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        sample(&metrics, "mcchat_messages_fanned_out_total"),
        13.0,
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "mcchat_messages_stored_total"), 5.0);
    assert_eq!(
        sample(&metrics, r#"mcchat_http_responses_total{status="201"}"#),
        3.0
    );
    assert_eq!(
        sample(&metrics, r#"mcchat_http_responses_total{status="400"}"#),
        1.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"mcchat_keyvalue_calls_total{backend="redis",operation="ListAdd"}"#
        ),
        5.0
    );
    assert_eq!(
        sample(&metrics, r#"mcchat_nats_received_total{subject="chat.in"}"#),
        2.0
    );
    // Each HTTP message is published once on rtchat.messages, and each chat.in is acknowledged.
    assert_eq!(sample(&metrics, "mcchat_nats_published_total"), 5.0);
    assert_eq!(sample(&metrics, "mcchat_nats_publish_dropped_total"), 0.0);
    // And every message is published to the MQTT devices, whichever channel it came from.
    assert_eq!(
        sample(
            &metrics,
            r#"mcchat_mqtt_messages_total{direction="out",outcome="published"}"#
        ),
        5.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"mcchat_actor_calls_total{actor="mcchat/http",operation="HttpServer.HandleRequest",outcome="ok"}"#
        ),
        4.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"mcchat_actor_call_duration_seconds_count{actor="mcchat/chatlog",operation="Chatlog.WriteMessage"}"#
        ),
        5.0
    );
    assert!(
        metrics.contains("mcchat_actor_call_duration_seconds_bucket{"),
        "a histogram"
    );
    host.shutdown().await;
}
