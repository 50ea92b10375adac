//! Rooms end to end: `/rooms/<room>/messages` and `GET /rooms` over HTTP, `chat.in.<room>` and
//! `rtchat.<room>.messages` over NATS (with `rtchat.>` following every room), each room with its
//! own history, positions and idempotency keys in Redis, and `general` where today's chat was.

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

async fn get(base: &str, path: &str) -> (u16, Option<String>, Value) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    let link = response
        .headers()
        .get("link")
        .map(|link| link.to_str().unwrap().to_string());
    (status, link, response.json().await.unwrap())
}

fn field<'a>(messages: &'a Value, name: &str) -> Vec<&'a Value> {
    messages
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m[name])
        .collect()
}

/// A NATS request on `subject`, answered within 10 s.
async fn request_on(client: &async_nats::Client, subject: &str, body: Value) -> Value {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .expect("an answer on the reply subject")
    .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_room_has_its_own_history_positions_paging_and_idempotency_keys() {
    let chat = TestChat::start(true).await;
    let base = &chat.base;
    post_stored(base, r#"{"user_name":"ann","body":"in general"}"#).await;
    for n in 0..3 {
        let body = json!({"user_name": "ann", "body": format!("dev {n}")});
        assert_eq!(post_in(base, "dev", body, None).await.0, 201);
    }
    let body = json!({"user_name": "ann", "body": "general by its name"});
    assert_eq!(post_in(base, "general", body, None).await.0, 201);

    // A room's pages count in its own positions, and its Link names its path.
    let (status, link, newest) = get(base, "/rooms/dev/messages?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(field(&newest, "body"), ["dev 1", "dev 2"]);
    assert_eq!(field(&newest, "index"), [1, 2]);
    assert_eq!(field(&newest, "room"), ["dev", "dev"]);
    assert_eq!(
        link.as_deref(),
        Some("</rooms/dev/messages?limit=2&before=1>; rel=\"next\"")
    );
    let (_, link, oldest) = get(base, "/rooms/dev/messages?limit=2&before=1").await;
    assert_eq!(field(&oldest, "body"), ["dev 0"]);
    assert_eq!(link, None);

    // `/messages` and `/rooms/general/messages` are one room, today's.
    let (_, _, general) = get(base, "/messages").await;
    assert_eq!(
        field(&general, "body"),
        ["in general", "general by its name"]
    );
    assert_eq!(field(&general, "index"), [0, 1]);
    assert_eq!(field(&general, "room"), ["general", "general"]);
    assert_eq!(get(base, "/rooms/general/messages").await.2, general);
    assert_eq!(get(base, "/rooms/empty/messages").await.2, json!([]));

    // The same idempotency key in two rooms is two messages; a retry in one is that one.
    let keyed = |body: &str| json!({"user_name": "ann", "body": body});
    let (_, in_ops) = post_in(base, "ops", keyed("ops once"), Some("k-1")).await;
    let (_, in_general) = post_in(base, "general", keyed("general once"), Some("k-1")).await;
    assert_ne!(in_ops["id"], in_general["id"]);
    let (status, retried) = post_in(base, "ops", keyed("ops again"), Some("k-1")).await;
    assert_eq!((status, &retried["id"]), (201, &in_ops["id"]));
    assert_eq!(
        get(base, "/rooms/ops/messages")
            .await
            .2
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // In the store: today's key for general, one list per other room, and the set of rooms.
    let mut kv = chat.redis.as_ref().unwrap().redis_connection().await;
    let lengths: (u64, u64, u64) = redis::pipe()
        .llen("chatlog:messages")
        .llen("chatlog:rooms:dev:messages")
        .llen("chatlog:rooms:ops:messages")
        .query_async(&mut kv)
        .await
        .unwrap();
    assert_eq!(lengths, (3, 3, 1));
    let mut rooms: Vec<String> = redis::cmd("SMEMBERS")
        .arg("chatlog:rooms")
        .query_async(&mut kv)
        .await
        .unwrap();
    rooms.sort();
    assert_eq!(rooms, ["dev", "ops"]);

    // GET /rooms: general first, then by name, with counts and the newest message's time.
    let (status, link, listed) = get(base, "/rooms?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(field(&listed, "room"), ["general", "dev"]);
    assert_eq!(field(&listed, "messageCount"), [3, 3]);
    let newest_dev = get(base, "/rooms/dev/messages?limit=1").await.2;
    assert_eq!(listed[1]["lastTs"], newest_dev[0]["ts"]);
    assert_eq!(
        link.as_deref(),
        Some("</rooms?limit=2&after=dev>; rel=\"next\"")
    );
    let (_, link, rest) = get(base, "/rooms?limit=2&after=dev").await;
    assert_eq!(field(&rest, "room"), ["ops"]);
    assert_eq!(field(&rest, "messageCount"), [1]);
    assert_eq!(link, None);
    let (status, _, refused) = get(base, "/rooms?limit=0").await;
    assert_eq!(status, 400);
    assert!(refused["reason"]
        .as_str()
        .unwrap()
        .starts_with("limit must be"));
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_room_name_is_refused_with_the_rule_on_http_and_nats() {
    let chat = TestChat::start(false).await;
    let (base, client) = (&chat.base, nats_client(&chat.nats).await);
    let rule = "a room name is 1 to 64 lowercase letters, digits and '-'";
    let too_long = "a".repeat(65);
    for room in [
        "Dev",
        "-dev",
        "dev_ops",
        "d%C3%A9v",
        "a/b",
        too_long.as_str(),
    ] {
        let body = json!({"user_name": "ann", "body": "x"});
        let (status, answer) = post_in(base, room, body, None).await;
        assert_eq!(status, 400, "{room}: {answer}");
        assert!(
            answer["reason"].as_str().unwrap().starts_with(rule),
            "{answer}"
        );
        let (status, _, answer) = get(base, &format!("/rooms/{room}/messages")).await;
        assert_eq!(status, 400, "{room}: {answer}");
        assert!(
            answer["reason"].as_str().unwrap().starts_with(rule),
            "{answer}"
        );
    }
    for subject in ["chat.in.Dev", "chat.in.dev.ops", "chat.in.dev_ops"] {
        let ack = request_on(&client, subject, json!({"user_name": "ann", "body": "x"})).await;
        assert_eq!(ack["accepted"], false, "{subject}");
        assert!(ack["reason"].as_str().unwrap().starts_with(rule), "{ack}");
    }
    assert!(all_messages(base, 50).await.is_empty());
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_room_is_live_on_its_subject_and_a_wildcard_follows_every_room() {
    let chat = TestChat::start(false).await;
    let (base, client) = (&chat.base, nats_client(&chat.nats).await);
    let mut every_room = client.subscribe("rtchat.>").await.unwrap();
    let mut dev = client.subscribe("rtchat.dev.messages").await.unwrap();
    let mut general = client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&client).await;
    let mut browser = WsSession::connect(&ws_url(&chat.host)).await;

    // A write on a room's subject is acked as on chat.in, and is live on the room's subject.
    let ack = request_on(
        &client,
        "chat.in.dev",
        json!({"user_name": "bo", "body": "to dev"}),
    )
    .await;
    assert_eq!(ack, json!({"accepted": true}));
    let (status, _) = post_in(
        base,
        "dev",
        json!({"user_name": "cy", "body": "dev over http"}),
        None,
    )
    .await;
    assert_eq!(status, 201);
    let live = next_fanout(&mut dev).await;
    assert_eq!(
        (&live["body"], &live["room"]),
        (&json!("dev over http"), &json!("dev"))
    );
    let followed = next_fanout(&mut every_room).await;
    assert_eq!(
        (&followed["body"], &followed["room"]),
        (&json!("dev over http"), &json!("dev"))
    );

    // General is where it was, and says so.
    post_stored(base, r#"{"user_name":"cy","body":"to everyone"}"#).await;
    let live = next_fanout(&mut general).await;
    assert_eq!(
        (&live["body"], &live["room"]),
        (&json!("to everyone"), &json!("general"))
    );
    assert_eq!(next_fanout(&mut every_room).await["body"], "to everyone");

    // A browser that never subscribed has general alone: its first live copy is that one.
    let frame = browser.next_frame().await;
    assert_eq!(frame["subject"], "rtchat.messages");
    assert_eq!(frame["body"]["body"], "to everyone");
    assert_eq!(frame["body"]["room"], "general");

    // The NATS message's own room is stored, and not echoed to NATS.
    let (_, _, stored) = get(base, "/rooms/dev/messages").await;
    assert_eq!(field(&stored, "body"), ["to dev", "dev over http"]);
    assert_eq!(field(&stored, "channelName"), ["nats", "http"]);
    chat.stop().await;
}
