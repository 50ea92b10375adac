//! Live chat end to end: browsers' WebSocket sessions, HTTP and NATS users on one host with its
//! own NATS and Redis. Every stored message reaches every WebSocket session (the sender's too)
//! and NATS, each with its id.

use crate::support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_message_is_acked_stored_and_reaches_every_session_and_nats() {
    let chat = TestChat::start(true).await;
    let client = nats_client(&chat.nats).await;
    let mut fanout = client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&client).await;
    let url = ws_url(&chat.host);
    let (mut fay, mut gus) = (
        WsSession::connect(&url).await,
        WsSession::connect(&url).await,
    );

    let since = now_ms();
    fay.send(json!({
        "subject": "chat.in",
        "body": {"user_name": "fay", "body": "hello from a browser"},
        "reply_to": "ack.1",
    }))
    .await;
    // The sender gets the ack and its own message, in either order.
    let (mut ack, mut own) = (None, None);
    while ack.is_none() || own.is_none() {
        let frame = fay.next_frame().await;
        match frame["subject"].as_str().unwrap() {
            "ack.1" => ack = Some(frame["body"].clone()),
            "rtchat.messages" => own = Some(frame["body"].clone()),
            other => panic!("unexpected frame on {other}: {frame}"),
        }
    }
    let ack = ack.unwrap();
    assert_eq!(ack["accepted"], true, "{ack}");
    let id = ack["id"]
        .as_str()
        .expect("the ack carries the id")
        .to_string();

    let expected = json!({"body": "hello from a browser", "id": id, "index": 0, "room": "general", "sourceChannel": "ws", "sourceUser": "fay"});
    let stored = all_messages(&chat.base, 50).await;
    assert_eq!(stored.len(), 1);
    let ts = stored[0]["ts"].clone();
    let own = own.unwrap();
    assert_eq!(own["ts"], ts, "every copy carries the stored time");
    assert_eq!(untimed(own, since), expected);
    assert_eq!(
        untimed(gus.next_on("rtchat.messages").await["body"].clone(), since),
        expected
    );
    assert_eq!(untimed(next_fanout(&mut fanout).await, since), expected);
    assert_eq!(
        untimed(stored[0].clone(), since),
        json!({"body": "hello from a browser", "channelName": "ws", "id": id, "index": 0, "room": "general", "sourceUser": "fay"})
    );

    // Refusals come back on the reply subject with the reason; nothing is stored.
    let ack = fay.chat("fay", "   ").await;
    assert_eq!(
        ack,
        json!({"accepted": false, "reason": "body must not be empty"})
    );
    let ack = fay.chat("", "hi").await;
    assert_eq!(ack["accepted"], false);
    fay.send(json!({"subject": "chat.in", "body": "not an object", "reply_to": "r"}))
        .await;
    let ack = fay.next_on("r").await;
    assert!(
        ack["body"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("expected JSON"),
        "{ack}"
    );
    assert_eq!(all_messages(&chat.base, 50).await.len(), 1);
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_nats_messages_reach_websocket_sessions() {
    let chat = TestChat::start(false).await;
    let client = nats_client(&chat.nats).await;
    let mut session = WsSession::connect(&ws_url(&chat.host)).await;

    let since = now_ms();
    let response = post(&chat.base, r#"{"user_name":"alice","body":"over http"}"#).await;
    assert_eq!(response.status(), 201);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"].clone();
    assert_eq!(
        untimed(
            session.next_on("rtchat.messages").await["body"].clone(),
            since
        ),
        json!({"body": "over http", "id": id, "index": 0, "room": "general", "sourceChannel": "http", "sourceUser": "alice"})
    );

    assert_eq!(
        chat_in(&client, r#"{"user_name":"bob","body":"over nats"}"#).await,
        json!({"accepted": true})
    );
    let frame = session.next_on("rtchat.messages").await;
    assert_eq!(frame["body"]["body"], "over nats");
    assert_eq!(frame["body"]["sourceChannel"], "nats");
    let stored = all_messages(&chat.base, 50).await;
    assert_eq!(frame["body"]["id"], stored[1]["id"]);
    chat.stop().await;
}

/// 1,000 sessions on one host each receive every one of 100 messages, in order. (The rate and
/// latency are measured by `cargo bench -p mcchat-host --bench ws_fanout`, not here.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_sessions_each_receive_every_message() {
    const SESSIONS: usize = 1_000;
    const MESSAGES: usize = 100;
    let chat = TestChat::start(false).await;
    let url = ws_url(&chat.host);
    let readers = broadcast_readers(&url, SESSIONS, MESSAGES).await;
    for n in 0..MESSAGES {
        let response = post(
            &chat.base,
            &json!({"user_name": "load", "body": format!("m{n}")}).to_string(),
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    let expected: Vec<String> = (0..MESSAGES).map(|n| format!("m{n}")).collect();
    for reader in readers {
        let bodies: Vec<String> = reader
            .await
            .unwrap()
            .into_iter()
            .map(|(body, _)| body["body"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(bodies, expected);
    }
    chat.stop().await;
}
