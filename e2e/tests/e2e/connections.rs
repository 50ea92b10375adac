//! Connection hygiene: a thousand idle or trickling connections do not hold up a real client, and
//! a connection over a cap is told so.

use crate::support;

use std::time::{Duration, Instant};

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_trickling_connections_do_not_delay_a_real_post() {
    let chat = TestChat::start(false).await;
    let address = chat.host.http_addrs()[0];
    let mut quiet = Vec::new();
    for n in 0..1_000 {
        let mut tcp = TcpStream::connect(address).await.unwrap();
        let half = if n % 2 == 0 {
            // Half the headers, then nothing.
            "POST /messages HTTP/1.1\r\nHost: chat\r\n".to_string()
        } else {
            // All the headers and part of the body, then nothing.
            "POST /messages HTTP/1.1\r\nHost: chat\r\nContent-Length: 60\r\n\r\n{\"user_name\":\"slow\"".to_string()
        };
        tcp.write_all(half.as_bytes()).await.unwrap();
        quiet.push(tcp);
    }

    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    for n in 0..50 {
        let started = Instant::now();
        let response = client
            .post(format!("{}/messages", chat.base))
            .body(format!(r#"{{"user_name":"real","body":"post {n}"}}"#))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    assert!(
        p99 < Duration::from_millis(100),
        "p99 {p99:?} with 1,000 quiet connections open"
    );

    // A body that never finishes gets 408 with a reason once its time is up.
    let mut trickling = quiet.swap_remove(1);
    let mut answer = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        trickling.read_to_string(&mut answer),
    )
    .await
    .expect("an answer within the body timeout")
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("did not arrive"), "{answer}");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_a_cap_is_told_503_with_a_reason_not_reset() {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let manifest = manifest_copy(data.path(), |text| {
        text.replace(
            "address: 0.0.0.0:8080",
            "address: 0.0.0.0:8080\n              MAX_CONNECTIONS: \"2\"",
        )
        .replace(
            "URI: 0.0.0.0:8081",
            "URI: 0.0.0.0:8081\n              MAX_SESSIONS: \"1\"",
        )
    });
    let mut settings = config(&nats, None, data.path());
    settings.manifest = manifest;
    let (host, base) = start(settings).await;
    let address = host.http_addrs()[0];

    // Two connections hold the HTTP server's slots, the third is answered and closed.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut tcp = TcpStream::connect(address).await.unwrap();
        tcp.write_all(b"GET /messages HTTP/1.1\r\nHost: chat\r\n\r\n")
            .await
            .unwrap();
        let mut first = [0; 12];
        tcp.read_exact(&mut first).await.unwrap();
        assert_eq!(&first, b"HTTP/1.1 200");
        held.push(tcp);
    }
    let over = reqwest::Client::new()
        .post(format!("{base}/messages"))
        .body(r#"{"user_name":"late","body":"over the cap"}"#)
        .send()
        .await
        .expect("an answer, not a reset");
    assert_eq!(over.status(), 503);
    assert_eq!(over.headers()["retry-after"], "1");
    let reason: serde_json::Value = over.json().await.unwrap();
    assert_eq!(
        reason,
        serde_json::json!({"reason": "the server is at its cap of 2 connections; try again shortly"})
    );
    drop(held);
    until_async("a freed slot serves again", || async {
        reqwest::get(format!("{base}/messages"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await;

    // The WebSocket server: one session, and the next upgrade gets 503 with the reason.
    let url = ws_url(&host);
    let mut first = WsSession::connect(&url).await;
    let refused = tokio_tungstenite::connect_async(&url)
        .await
        .expect_err("no second session");
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 503);
            let body: serde_json::Value =
                serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
            assert_eq!(
                body["reason"],
                "the server is at its cap of 1 connections; try again shortly"
            );
        }
        other => panic!("not an HTTP refusal: {other}"),
    }
    assert_eq!(first.chat("una", "still here").await["accepted"], true);
    host.shutdown().await;
}
