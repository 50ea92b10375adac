//! Rooms over WebSocket: a session subscribes to subject patterns (`_subscribe`,
//! `_unsubscribe`), receives the live copies of the rooms they match and nothing else, each
//! once, and writes in a room with a frame on its subject. A session that never subscribes
//! keeps today's `rtchat.messages`. Bad patterns and one subscription too many are refused with
//! a reason.

use crate::support;

use serde_json::{json, Value};
use support::*;

/// `(subject, body)` of every live copy among `frames`.
fn live_copies(frames: &[Value]) -> Vec<(String, String)> {
    frames
        .iter()
        .filter(|f| f["subject"].as_str().unwrap().starts_with("rtchat."))
        .map(|f| {
            let (subject, body) = (&f["subject"], &f["body"]["body"]);
            (
                subject.as_str().unwrap().into(),
                body.as_str().unwrap().into(),
            )
        })
        .collect()
}

fn copies(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(s, b)| (s.to_string(), b.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_gets_the_rooms_it_subscribed_to_each_copy_once_and_nothing_else() {
    let chat = TestChat::start(false).await;
    let (base, url) = (&chat.base, ws_url(&chat.host));
    let mut never_subscribed = WsSession::connect(&url).await;
    let mut dev = WsSession::connect(&url).await;
    let mut every_room = WsSession::connect(&url).await;
    let mut overlapping = WsSession::connect(&url).await;

    let ack = dev.change("_subscribe", "rtchat.dev.messages").await;
    assert_eq!(
        ack,
        json!({"accepted": true, "subscriptions": ["rtchat.dev.messages"]})
    );
    assert_eq!(
        every_room.change("_subscribe", "rtchat.>").await["accepted"],
        true
    );
    overlapping.change("_subscribe", "rtchat.*.messages").await;
    let ack = overlapping
        .change("_subscribe", "rtchat.ops.messages")
        .await;
    assert_eq!(
        ack["subscriptions"],
        json!(["rtchat.*.messages", "rtchat.ops.messages"])
    );

    // A frame on a room's subject writes in that room, acked as on chat.in.
    let frame = json!({"subject": "chat.in.dev", "body": {"user_name": "wes", "body": "from a session"}, "reply_to": "ack.1"});
    dev.send(frame).await;
    let mut frames = Vec::new();
    while frames
        .last()
        .is_none_or(|f: &Value| f["subject"] != "ack.1")
    {
        frames.push(dev.next_frame().await);
    }
    assert_eq!(
        frames.last().unwrap()["body"]["accepted"],
        true,
        "{frames:?}"
    );
    let body = json!({"user_name": "cy", "body": "ops over http"});
    assert_eq!(post_in(base, "ops", body, None).await.0, 201);
    post_stored(base, r#"{"user_name":"cy","body":"general over http"}"#).await;

    frames.extend(dev.frames_until_synced().await);
    assert_eq!(
        live_copies(&frames),
        copies(&[("rtchat.dev.messages", "from a session")])
    );
    let dev_copy = frames
        .iter()
        .find(|f| f["subject"] == "rtchat.dev.messages")
        .unwrap();
    assert_eq!(dev_copy["body"]["room"], "dev");
    assert_eq!(dev_copy["body"]["sourceChannel"], "ws");
    assert_eq!(
        live_copies(&every_room.frames_until_synced().await),
        copies(&[
            ("rtchat.dev.messages", "from a session"),
            ("rtchat.ops.messages", "ops over http"),
            ("rtchat.messages", "general over http"),
        ])
    );
    assert_eq!(
        live_copies(&overlapping.frames_until_synced().await),
        copies(&[
            ("rtchat.dev.messages", "from a session"),
            ("rtchat.ops.messages", "ops over http"),
        ])
    );
    assert_eq!(
        live_copies(&never_subscribed.frames_until_synced().await),
        copies(&[("rtchat.messages", "general over http")])
    );

    // Unsubscribed from the wildcard, the session keeps ops alone.
    let ack = overlapping
        .change("_unsubscribe", "rtchat.*.messages")
        .await;
    assert_eq!(
        ack,
        json!({"accepted": true, "subscriptions": ["rtchat.ops.messages"]})
    );
    let body = json!({"user_name": "cy", "body": "dev again"});
    assert_eq!(post_in(base, "dev", body, None).await.0, 201);
    let body = json!({"user_name": "cy", "body": "ops again"});
    assert_eq!(post_in(base, "ops", body, None).await.0, 201);
    assert_eq!(
        live_copies(&overlapping.frames_until_synced().await),
        copies(&[("rtchat.ops.messages", "ops again")])
    );

    // The history has each message once, in its room.
    assert_eq!(
        bodies_in(base, "dev").await,
        ["from a session", "dev again"]
    );
    chat.stop().await;
}

/// The bodies of a room's newest page, oldest first.
async fn bodies_in(base: &str, room: &str) -> Vec<String> {
    newest_in(base, room)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_patterns_and_one_subscription_too_many_are_refused_with_a_reason() {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let manifest = manifest_copy(data.path(), |text| {
        text.replace(
            "URI: 0.0.0.0:8081",
            "URI: 0.0.0.0:8081\n              MAX_SUBSCRIPTIONS: \"2\"",
        )
    });
    let mut settings = config(&nats, None, data.path());
    settings.manifest = manifest;
    let (host, base) = start(settings).await;
    let mut session = WsSession::connect(&ws_url(&host)).await;

    for (pattern, reason) in [
        ("rtchat..messages", "has an empty token"),
        ("rtchat.>.messages", "'>' before its end"),
        ("rtchat.dev*", "wildcard inside a token"),
        ("rtchat. dev", "no spaces"),
        ("", "1 to 256 characters"),
    ] {
        let answer = session.change("_subscribe", pattern).await;
        assert_eq!(answer["accepted"], false, "{pattern:?}: {answer}");
        let said = answer["reason"].as_str().unwrap();
        assert!(said.contains(reason), "{pattern:?}: {said}");
    }
    // A pattern must be a string; with no reply subject, the refusal is an error frame.
    session
        .send(json!({"subject": "_subscribe", "body": {"pattern": "rtchat.>"}}))
        .await;
    let error = session.next_on("error").await;
    assert!(
        error["body"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("a pattern is a JSON string"),
        "{error}"
    );

    // Refusals changed nothing: the session still follows the default room alone.
    post_stored(&base, r#"{"user_name":"cy","body":"still general"}"#).await;
    let body = json!({"user_name": "cy", "body": "not followed"});
    assert_eq!(post_in(&base, "dev", body, None).await.0, 201);
    assert_eq!(
        live_copies(&session.frames_until_synced().await),
        copies(&[("rtchat.messages", "still general")])
    );

    // Two patterns are the most; the same one again is no new subscription.
    session.change("_subscribe", "rtchat.a.messages").await;
    session.change("_subscribe", "rtchat.b.messages").await;
    let again = session.change("_subscribe", "rtchat.b.messages").await;
    assert_eq!(again["accepted"], true, "{again}");
    let over = session.change("_subscribe", "rtchat.c.messages").await;
    assert_eq!(
        over,
        json!({"accepted": false, "reason": "a session may hold at most 2 subscriptions; unsubscribe from one first"})
    );
    host.shutdown().await;
}
