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
