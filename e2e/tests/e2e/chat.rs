//! The chat end to end, as users drive it: curl on /messages, NATS on chat.in and rtchat.messages.

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_posts_are_stored_and_fanned_out_to_nats() {
    let chat = TestChat::start(true).await;
    let (base, client) = (&chat.base, nats_client(&chat.nats).await);
    let mut fanout = client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&client).await;

    let since = now_ms();
    let response = post(base, r#"{"user_name":"alice","body":"hello over http"}"#).await;
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let live = next_fanout(&mut fanout).await;
    let history = reqwest::get(format!("{base}/messages"))
        .await
        .unwrap()
        .json::<Vec<serde_json::Value>>()
        .await
        .unwrap();
    assert_eq!(live["ts"], history[0]["ts"]);
    assert_eq!(
        untimed(live, since),
        json!({"body": "hello over http", "id": id, "index": 0, "room": "general", "sourceChannel": "http", "sourceUser": "alice"})
    );
    assert_eq!(
        untimed(history[0].clone(), since),
        json!({"body": "hello over http", "channelName": "http", "id": id, "index": 0, "room": "general", "sourceUser": "alice"})
    );
    assert_eq!(history.len(), 1);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_messages_are_acknowledged_stored_and_not_echoed_back() {
    let chat = TestChat::start(true).await;
    let (base, client) = (&chat.base, nats_client(&chat.nats).await);
    let mut fanout = client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&client).await;

    let ack = chat_in(&client, r#"{"user_name":"bob","body":"hello over nats"}"#).await;
    assert_eq!(ack, json!({"accepted": true}));
    let history = all_messages(base, 50).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["channelName"], "nats");
    assert_eq!(history[0]["sourceUser"], "bob");
    assert_eq!(history[0]["body"], "hello over nats");

    // The NATS message must not come back on rtchat.messages: the first fan-out seen is this later HTTP post.
    assert_eq!(
        post(base, r#"{"user_name":"carol","body":"marker"}"#)
            .await
            .status(),
        201
    );
    assert_eq!(next_fanout(&mut fanout).await["body"], "marker");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_reason_and_the_host_stays_up() {
    let chat = TestChat::start(false).await;
    let (base, client) = (&chat.base, nats_client(&chat.nats).await);

    for (body, reason) in [
        ("{not json", "expected JSON"),
        (r#"{"user_name":"dave"}"#, "missing field `body`"),
        (
            r#"{"user_name":"","body":"hi"}"#,
            "user_name must not be empty",
        ),
        (
            &format!(r#"{{"user_name":"dave","body":"{}"}}"#, "x".repeat(5000)),
            "body is longer than 4096 characters",
        ),
    ] {
        let response = post(base, body).await;
        assert_eq!(response.status(), 400, "{body:.40}");
        let json = response.json::<serde_json::Value>().await.unwrap();
        assert!(json["reason"].as_str().unwrap().contains(reason), "{json}");
    }
    let non_utf8 = reqwest::Client::new()
        .post(format!("{base}/messages"))
        .body(vec![b'{', 0xff, b'}'])
        .send()
        .await
        .unwrap();
    assert_eq!(non_utf8.status(), 400);
    assert_eq!(
        reqwest::get(format!("{base}/nowhere"))
            .await
            .unwrap()
            .status(),
        404
    );
    let put = reqwest::Client::new()
        .put(format!("{base}/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 405);
    assert_eq!(
        reqwest::get(format!("{base}/messages?limit=0"))
            .await
            .unwrap()
            .status(),
        400
    );

    // A body declared too large is refused at once, before it is sent (not after the 10 s a
    // body may take to arrive).
    let head = "POST /messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n";
    let answer = raw_exchange(base, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#"{"reason":"request body is larger than"#),
        "{answer}"
    );
    // What the HTTP parser refuses before there is a request gets its bare status (README).
    let many_headers: String = (0..120).map(|n| format!("X-{n}: y\r\n")).collect();
    for (request, status) in [
        ("\u{1}GET / HTTP/1.1\r\n\r\n".to_string(), "400"),
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)),
            "414",
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n"),
            "431",
        ),
    ] {
        let answer = raw_exchange(base, request.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
    }

    let ack = chat_in(&client, "not json at all").await;
    assert_eq!(ack["accepted"], false);
    assert!(
        ack["reason"].as_str().unwrap().starts_with("expected JSON"),
        "{ack}"
    );
    let ack = chat_in(&client, r#"{"user_name":"dave","body":"   "}"#).await;
    assert_eq!(
        ack,
        json!({"accepted": false, "reason": "body must not be empty"})
    );

    // Nothing bad was stored, and the host still serves.
    assert!(all_messages(base, 50).await.is_empty());
    assert_eq!(
        post(base, r#"{"user_name":"dave","body":"still here"}"#)
            .await
            .status(),
        201
    );
    assert_eq!(all_messages(base, 50).await.len(), 1);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pages_from_the_newest_with_link_headers() {
    let chat = TestChat::start(false).await;
    let base = &chat.base;
    for n in 0..7 {
        assert_eq!(
            post(
                base,
                &format!(r#"{{"user_name":"erin","body":"message {n}"}}"#)
            )
            .await
            .status(),
            201
        );
    }
    let first = reqwest::get(format!("{base}/messages?limit=3"))
        .await
        .unwrap();
    let link = first.headers()["link"].to_str().unwrap().to_string();
    assert_eq!(link, r#"</messages?limit=3&before=4>; rel="next""#);
    let page: Vec<serde_json::Value> = first.json().await.unwrap();
    let bodies: Vec<_> = page.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["message 4", "message 5", "message 6"]);

    let everything = all_messages(base, 3).await;
    let bodies: Vec<_> = everything
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        bodies,
        (0..7).map(|n| format!("message {n}")).collect::<Vec<_>>()
    );
    chat.stop().await;
}

#[tokio::test]
async fn the_newest_page_of_a_long_history_in_redis_is_exact_and_repairs_its_length_hint() {
    let chat = TestChat::start(true).await;
    let mut kv = chat.redis.as_ref().unwrap().redis_connection().await;
    // A history written by other hosts (or before hints existed): no hint at all.
    let mut rpush = redis::cmd("RPUSH");
    rpush.arg("chatlog:messages");
    for n in 0..5000 {
        rpush.arg(
            json!({"body": format!("old {n}"), "channelName": "nats", "id": format!("id-{n}"),
                   "sourceUser": "bob"})
            .to_string(),
        );
    }
    let _: u64 = rpush.query_async(&mut kv).await.unwrap();

    let newest = |limit: u32| {
        let base = chat.base.clone();
        async move {
            let response = reqwest::get(format!("{base}/messages?limit={limit}"))
                .await
                .unwrap();
            let link = response.headers()["link"].to_str().unwrap().to_string();
            let page: Vec<serde_json::Value> = response.json().await.unwrap();
            (page, link)
        }
    };
    let (page, link) = newest(100).await;
    assert_eq!(page.len(), 100);
    assert_eq!(page[0]["body"], "old 4900");
    // Stored before the chat had a clock: no time, and nothing else missing.
    assert!(page.iter().all(|m| m.get("ts").is_none()), "{page:?}");
    assert_eq!(page[99]["body"], "old 4999");
    assert_eq!(link, r#"</messages?limit=100&before=4900>; rel="next""#);
    let hint: Option<String> = redis::cmd("GET")
        .arg("chatlog:messages:length-hint")
        .query_async(&mut kv)
        .await
        .unwrap();
    assert_eq!(hint.as_deref(), Some("5000"));

    // New messages past the hint are found in the same read.
    for n in 0..3 {
        let body = format!(r#"{{"user_name":"erin","body":"new {n}"}}"#);
        post_stored(&chat.base, &body).await;
    }
    let (page, link) = newest(10).await;
    let bodies: Vec<_> = page.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(
        bodies,
        [
            "old 4993", "old 4994", "old 4995", "old 4996", "old 4997", "old 4998", "old 4999",
            "new 0", "new 1", "new 2"
        ]
    );
    assert_eq!(link, r#"</messages?limit=10&before=4993>; rel="next""#);
    chat.stop().await;
}

/// Writes `request` on a connection of its own and returns the first answer's bytes.
async fn raw_exchange(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    tcp.write_all(request).await.unwrap();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut answer))
        .await
        .expect("answered within 2 s")
        .unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}
