//! History outlives a host, and several hosts on one NATS and one Redis are one chat.

use crate::support;

use serde_json::json;
use support::*;

async fn history_survives_a_restart(redis: Option<&Server>) {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let (host, base) = start(config(&nats, redis, data.path())).await;
    assert_eq!(
        post(
            &base,
            r#"{"user_name":"frank","body":"before the restart"}"#
        )
        .await
        .status(),
        201
    );
    host.shutdown().await;

    let (host, base) = start(config(&nats, redis, data.path())).await;
    let client = nats_client(&nats).await;
    assert_eq!(
        chat_in(
            &client,
            r#"{"user_name":"gina","body":"after the restart"}"#
        )
        .await,
        json!({"accepted": true})
    );
    let bodies: Vec<String> = all_messages(&base, 50)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["before the restart", "after the restart"]);
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_restart_on_redis() {
    let redis = Server::redis();
    history_survives_a_restart(Some(&redis)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_a_restart_in_the_embedded_store() {
    history_survives_a_restart(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_nats_and_redis_serve_one_chat() {
    let (nats, redis) = (Server::nats(), Server::redis());
    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (host_a, base_a) = start(config(&nats, Some(&redis), data_a.path())).await;
    let (host_b, base_b) = start(config(&nats, Some(&redis), data_b.path())).await;

    assert_eq!(
        post(&base_a, r#"{"user_name":"hal","body":"via host a"}"#)
            .await
            .status(),
        201
    );
    assert_eq!(
        post(&base_b, r#"{"user_name":"ivy","body":"via host b"}"#)
            .await
            .status(),
        201
    );
    // Both hosts share chat.in in one queue group: each request is handled (and stored) once.
    let client = nats_client(&nats).await;
    for n in 0..20 {
        let ack = chat_in(
            &client,
            &format!(r#"{{"user_name":"jo","body":"nats {n}"}}"#),
        )
        .await;
        assert_eq!(ack, json!({"accepted": true}));
    }

    let from_a = all_messages(&base_a, 100).await;
    let from_b = all_messages(&base_b, 100).await;
    assert_eq!(from_a, from_b);
    assert_eq!(from_a.len(), 22);
    for n in 0..20 {
        let body = format!("nats {n}");
        assert_eq!(
            from_a.iter().filter(|m| m["body"] == body.as_str()).count(),
            1,
            "{body}"
        );
    }
    host_a.shutdown().await;
    host_b.shutdown().await;
}
