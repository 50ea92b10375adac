//! The attacks of the trust-zones issue, kept as tests: each was reproduced against a host
//! started as the README says, and each must now fail.

use crate::support;

use support::*;

/// A plain NATS client learns the relay's subjects and its instance id from the presence
/// heartbeat, then publishes a broadcast from "admin" that was never stored, and acks sprayed
/// over the session numbers a counter would have given. No browser gets any of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_relay_frame_reaches_no_browser() {
    let chat = TestChat::start(false).await;
    let client = nats_client(&chat.nats).await;
    let mut session = WsSession::connect(&ws_url(&chat.host)).await;
    let ws = chat
        .host
        .control
        .router
        .actor("mcchat/ws")
        .unwrap()
        .identity();
    let prefix = format!("mcchat.ws.default.default.{}", ws.public_key);
    let instance = tokio::time::timeout(
        WAIT,
        client.request(format!("{prefix}.presence"), "attacker".into()),
    )
    .await
    .expect("the instance answers who is there")
    .unwrap()
    .payload;
    let instance = String::from_utf8(instance.to_vec()).unwrap();

    let forged = |subject: &str| {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Mcchat-Subject", subject);
        headers
    };
    client
        .publish_with_headers(
            format!("{prefix}.all"),
            forged("rtchat.messages"),
            r#"{"body":"forged","sourceUser":"admin"}"#.into(),
        )
        .await
        .unwrap();
    // A made-up seal is no better than none.
    let mut sealed = forged("rtchat.messages");
    sealed.insert("Mcchat-Issuer", chat.host.control.issuer().as_str());
    sealed.insert("Mcchat-Signature", "AAAA");
    sealed.insert("Mcchat-Sealed-At", "0");
    client
        .publish_with_headers(
            format!("{prefix}.all"),
            sealed,
            r#"{"body":"forged and sealed","sourceUser":"admin"}"#.into(),
        )
        .await
        .unwrap();
    for session in 1..=50 {
        client
            .publish_with_headers(
                format!("{prefix}.to.{instance}"),
                forged(&format!("_ws.reply.{instance}.{session}.ack")),
                r#"{"accepted":true}"#.into(),
            )
            .await
            .unwrap();
    }
    client.flush().await.unwrap();

    // The first frame the browser sees is the next stored message.
    post_stored(&chat.base, r#"{"user_name":"ada","body":"real"}"#).await;
    let frame = session.next_frame().await;
    assert_eq!(frame["subject"], "rtchat.messages", "{frame}");
    assert_eq!(frame["body"]["body"], "real", "{frame}");
    chat.stop().await;
}

/// A raw NATS client publishes on `chat.in` with a line break inside a header value, which
/// panicked the connection task of async-nats 0.47–0.51: the host takes the message and goes
/// on acking `chat.in` and answering POST.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_break_in_a_header_value_does_not_cut_the_host_off_nats() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let chat = TestChat::start(false).await;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", chat.nats.port))
        .await
        .unwrap();
    let mut raw = BufReader::new(tcp);
    let mut greeting = String::new();
    raw.read_line(&mut greeting).await.unwrap();
    assert!(greeting.starts_with("INFO "), "{greeting}");
    let headers = "NATS/1.0\r\nX-Evil: a\rb\r\n\r\n";
    let payload = r#"{"user_name":"eve","body":"a header with a line break"}"#;
    let frames = format!(
        "CONNECT {{\"verbose\":false,\"headers\":true,\"protocol\":1}}\r\n\
         HPUB chat.in {} {}\r\n{headers}{payload}\r\nPING\r\n",
        headers.len(),
        headers.len() + payload.len()
    );
    raw.get_mut().write_all(frames.as_bytes()).await.unwrap();
    let mut pong = String::new();
    raw.read_line(&mut pong).await.unwrap();
    assert_eq!(pong, "PONG\r\n", "the server took the publish");

    until_async("the message is stored", || async {
        all_messages(&chat.base, 10)
            .await
            .iter()
            .any(|m| m["body"] == "a header with a line break")
    })
    .await;
    let client = nats_client(&chat.nats).await;
    assert_eq!(
        chat_in(&client, r#"{"user_name":"ada","body":"still here"}"#).await,
        serde_json::json!({"accepted": true})
    );
    post_stored(&chat.base, r#"{"user_name":"ada","body":"and over HTTP"}"#).await;
    chat.stop().await;
}
