//! The host rides out a restart of Redis or NATS: calls fail cleanly during the outage, and the
//! providers reconnect on their own afterwards.

use crate::support;

use std::time::Duration;

use support::*;

const RECOVERY: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarts_are_survived() {
    let mut chat = TestChat::start(true).await;
    assert_eq!(
        post(&chat.base, r#"{"user_name":"lee","body":"before"}"#)
            .await
            .status(),
        201
    );

    let port = chat.redis.take().unwrap().port; // dropping it stops the server
    let during = post(&chat.base, r#"{"user_name":"lee","body":"during"}"#).await;
    // An outage is the server's trouble, reported as such: refused (503), or past the provider
    // deadline while the client reconnects (504).
    assert!(
        [503, 504].contains(&during.status().as_u16()),
        "{}",
        during.status()
    );

    chat.redis = Some(Server::redis_on(port));
    until_async_within("writes succeed after Redis came back", RECOVERY, || async {
        let after = post(&chat.base, r#"{"user_name":"lee","body":"after"}"#).await;
        after.status() == 201
    })
    .await;
    let bodies: Vec<String> = all_messages(&chat.base, 50)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    // The restarted Redis keeps nothing on disk, so only the message after the outage is there.
    assert_eq!(bodies, ["after"]);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_restarts_are_survived() {
    let chat = TestChat::start(false).await;
    let port = chat.nats.port;
    let TestChat {
        nats,
        data,
        host,
        base,
        redis,
    } = chat;
    drop(nats);
    let _nats = Server::nats_on(port);

    let client = async_nats::connect(format!("nats://127.0.0.1:{port}"))
        .await
        .unwrap();
    until_async_within(
        "the host resubscribes after NATS came back",
        RECOVERY,
        || async {
            let request = client.request(
                "chat.in",
                r#"{"user_name":"max","body":"after the restart"}"#.into(),
            );
            let Ok(Ok(reply)) = tokio::time::timeout(Duration::from_secs(2), request).await else {
                return false;
            };
            let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
            assert_eq!(ack["accepted"], true, "{ack}");
            true
        },
    )
    .await;
    assert_eq!(all_messages(&base, 50).await.len(), 1);
    host.shutdown().await;
    drop((data, redis));
}
