//! Exactly-once under retry: a client's idempotency key (HTTP `Idempotency-Key`, `client_id` on
//! NATS and WebSocket) makes a retry store nothing new and answer the first id, also when two
//! hosts share one Redis.

use crate::support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use support::*;

/// POSTs with an idempotency key until the answer is 201 (409 means "still being stored").
async fn post_until_stored(client: &reqwest::Client, base: &str, key: &str, body: &str) -> String {
    for _ in 0..100 {
        let response = client
            .post(format!("{base}/messages"))
            .header("Idempotency-Key", key)
            .body(json!({"user_name": "ida", "body": body}).to_string())
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            201 => {
                return response.json::<serde_json::Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
            409 => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
        }
    }
    panic!("never stored");
}

fn count_bodies(history: &[serde_json::Value], body: &str) -> usize {
    history.iter().filter(|m| m["body"] == body).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_retry_with_the_same_key_is_stored_once_and_answers_the_first_id() {
    let chat = TestChat::start(true).await;
    let nats = nats_client(&chat.nats).await;
    let mut fanout = nats.subscribe("rtchat.messages").await.unwrap();
    subscribed(&nats).await;
    let client = reqwest::Client::new();

    let first = post_until_stored(&client, &chat.base, "key-1", "exactly once").await;
    let retry = post_until_stored(&client, &chat.base, "key-1", "exactly once").await;
    assert_eq!(first, retry);

    // A first attempt whose answer the client never reads (as after a client-side timeout),
    // then retries: one message, and every retry answers its id.
    let body = json!({"user_name": "ida", "body": "after a timeout"}).to_string();
    let mut abandoned = tokio::net::TcpStream::connect(chat.host.http_addrs()[0])
        .await
        .unwrap();
    let request = format!(
        "POST /messages HTTP/1.1\r\nHost: chat\r\nIdempotency-Key: key-2\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut abandoned, request.as_bytes())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count_bodies(&all_messages(&chat.base, 100).await, "after a timeout") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the first attempt was never stored"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(abandoned);
    let ids: HashSet<String> = {
        let mut ids = HashSet::new();
        for _ in 0..3 {
            ids.insert(post_until_stored(&client, &chat.base, "key-2", "after a timeout").await);
        }
        ids
    };
    assert_eq!(ids.len(), 1, "retries answered different ids: {ids:?}");

    let history = all_messages(&chat.base, 100).await;
    assert_eq!(count_bodies(&history, "exactly once"), 1);
    assert_eq!(count_bodies(&history, "after a timeout"), 1);
    let stored_id = history
        .iter()
        .find(|m| m["body"] == "after a timeout")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(ids.contains(&stored_id));

    // Fanned out once each: the next fan-out after them is the marker.
    assert_eq!(next_fanout(&mut fanout).await["body"], "exactly once");
    assert_eq!(next_fanout(&mut fanout).await["body"], "after a timeout");
    assert_eq!(
        post(&chat.base, r#"{"user_name":"m","body":"marker"}"#)
            .await
            .status(),
        201
    );
    assert_eq!(next_fanout(&mut fanout).await["body"], "marker");

    // Without a key, the same request twice is two messages.
    for _ in 0..2 {
        assert_eq!(
            post(&chat.base, r#"{"user_name":"m","body":"twice"}"#)
                .await
                .status(),
            201
        );
    }
    assert_eq!(
        count_bodies(&all_messages(&chat.base, 100).await, "twice"),
        2
    );
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_and_websocket_retries_with_a_client_id_are_stored_once() {
    let chat = TestChat::start(false).await;
    let nats = nats_client(&chat.nats).await;
    let request = r#"{"user_name":"nia","body":"via nats","client_id":"n-1"}"#;
    for _ in 0..2 {
        assert_eq!(chat_in(&nats, request).await, json!({"accepted": true}));
    }

    let mut session = WsSession::connect(&ws_url(&chat.host)).await;
    let mut ids = HashSet::new();
    for n in 0..2 {
        let reply_to = format!("ack.{n}");
        session
            .send(json!({
                "subject": "chat.in",
                "body": {"user_name": "wes", "body": "via ws", "client_id": "w-1"},
                "reply_to": reply_to,
            }))
            .await;
        let ack = session.next_on(&reply_to).await;
        assert_eq!(ack["body"]["accepted"], true, "{ack}");
        ids.insert(ack["body"]["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 1);

    let history = all_messages(&chat.base, 100).await;
    assert_eq!(count_bodies(&history, "via nats"), 1);
    assert_eq!(count_bodies(&history, "via ws"), 1);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_redis_store_a_key_once() {
    let (nats, redis) = (Server::nats(), Server::redis());
    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (host_a, base_a) = start(config(&nats, Some(&redis), data_a.path())).await;
    let (host_b, base_b) = start(config(&nats, Some(&redis), data_b.path())).await;
    let client = reqwest::Client::new();

    // The same key sent to both hosts at once, twenty times over.
    for n in 0..20 {
        let key = format!("shared-{n}");
        let body = format!("raced {n}");
        let (a, b) = tokio::join!(
            post_until_stored(&client, &base_a, &key, &body),
            post_until_stored(&client, &base_b, &key, &body),
        );
        assert_eq!(a, b, "the two hosts answered different ids for {key}");
    }
    let history = all_messages(&base_a, 100).await;
    for n in 0..20 {
        assert_eq!(
            count_bodies(&history, &format!("raced {n}")),
            1,
            "raced {n}"
        );
    }
    host_a.shutdown().await;
    host_b.shutdown().await;
}
