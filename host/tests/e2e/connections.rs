//! Connection hygiene: a thousand idle or trickling connections do not hold up a real client.

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
