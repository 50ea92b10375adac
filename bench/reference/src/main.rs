//! The benchmark's native reference (not part of mcchat): the same work as the chat's write
//! and read paths, with no actors. A write validates `{"user_name","body"}`, appends the stored
//! JSON to `chatlog:messages` with RPUSH, publishes `{"body","sourceChannel","sourceUser","id"}`
//! on `rtchat.messages` and at QoS 1 on the MQTT topic `rtchat/messages`, as mcchat relays to its
//! NATS and MQTT channels, and answers `201 {"id"}` (HTTP) or `{"accepted":true,"id"}` (NATS
//! `chat.in`). `GET /messages?limit=N` reads the newest N with one LRANGE.
//!
//! Usage: `native-reference HTTP_ADDR REDIS_URL NATS_URL MQTT_HOST:PORT`

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use futures::StreamExt;
use redis::AsyncCommands;
use serde::Deserialize;
use serde_json::{json, Value};

const MESSAGES_KEY: &str = "chatlog:messages";
const FANOUT_SUBJECT: &str = "rtchat.messages";
const FANOUT_TOPIC: &str = "rtchat/messages";
const MAX_USER_NAME_CHARS: usize = 64;
const MAX_BODY_CHARS: usize = 4096;

#[derive(Clone)]
struct Chat {
    redis: redis::aio::ConnectionManager,
    nats: async_nats::Client,
    mqtt: rumqttc::v5::AsyncClient,
}

#[derive(Deserialize)]
struct Incoming {
    user_name: String,
    body: String,
}

impl Chat {
    /// Validate, store, fan out; the id of the stored message, or why it was refused.
    async fn write(&self, payload: &[u8], channel: &str) -> Result<String, (StatusCode, String)> {
        let incoming: Incoming = serde_json::from_slice(payload)
            .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid message: {e}")))?;
        for (field, value, max) in [
            ("user_name", &incoming.user_name, MAX_USER_NAME_CHARS),
            ("body", &incoming.body, MAX_BODY_CHARS),
        ] {
            if value.trim().is_empty() || value.chars().count() > max {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!("{field} is blank or too long"),
                ));
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let stored = json!({"body": incoming.body, "channelName": channel, "id": id,
                            "sourceUser": incoming.user_name});
        let unavailable = |e: redis::RedisError| (StatusCode::SERVICE_UNAVAILABLE, e.to_string());
        let _: i64 = self
            .redis
            .clone()
            .rpush(MESSAGES_KEY, stored.to_string())
            .await
            .map_err(unavailable)?;
        // As in mcchat: NATS messages are not echoed back to NATS, and a lost real-time copy
        // never fails a stored write.
        let fanout = json!({"body": incoming.body, "sourceChannel": channel,
                            "sourceUser": incoming.user_name, "id": id})
        .to_string();
        if channel != "nats" {
            let _ = self
                .nats
                .publish(FANOUT_SUBJECT, fanout.clone().into())
                .await;
        }
        let _ = self
            .mqtt
            .publish(
                FANOUT_TOPIC,
                rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
                false,
                fanout,
            )
            .await;
        Ok(id)
    }
}

async fn post_message(
    State(chat): State<Chat>,
    body: axum::body::Bytes,
) -> (StatusCode, Json<Value>) {
    match chat.write(&body, "http").await {
        Ok(id) => (StatusCode::CREATED, Json(json!({ "id": id }))),
        Err((status, reason)) => (status, Json(json!({ "reason": reason }))),
    }
}

async fn get_messages(
    State(chat): State<Chat>,
    Query(query): Query<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    let limit: isize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let page: Result<Vec<String>, _> = chat.redis.clone().lrange(MESSAGES_KEY, -limit, -1).await;
    match page {
        Ok(page) => {
            let messages: Vec<Value> = page
                .iter()
                .filter_map(|m| serde_json::from_str(m).ok())
                .collect();
            (StatusCode::OK, Json(Value::Array(messages)))
        }
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"reason": e.to_string()})),
        ),
    }
}

/// `chat.in` requests, acknowledged on their reply subject.
async fn serve_nats(chat: Chat) -> anyhow::Result<()> {
    let mut requests = chat
        .nats
        .queue_subscribe("chat.in", "reference".into())
        .await?;
    while let Some(request) = requests.next().await {
        let chat = chat.clone();
        tokio::spawn(async move {
            let Some(reply) = request.reply else { return };
            let ack = match chat.write(&request.payload, "nats").await {
                Ok(id) => json!({"accepted": true, "id": id}),
                Err((_, reason)) => json!({"accepted": false, "reason": reason}),
            };
            let _ = chat.nats.publish(reply, ack.to_string().into()).await;
        });
    }
    Ok(())
}

/// An MQTT 5 client as mcchat's provider connects (TCP_NODELAY), its event loop in a task.
fn connect_mqtt(addr: &str) -> anyhow::Result<rumqttc::v5::AsyncClient> {
    let (host, port) = addr
        .rsplit_once(':')
        .ok_or_else(|| anyhow::anyhow!("MQTT_HOST:PORT expected, got {addr}"))?;
    let mut options = rumqttc::v5::MqttOptions::new("native-reference", host, port.parse()?);
    let mut network = rumqttc::NetworkOptions::new();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    let (client, mut events) = rumqttc::v5::AsyncClient::new(options, 1024);
    tokio::spawn(async move {
        loop {
            if events.poll().await.is_err() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    });
    Ok(client)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [http_addr, redis_url, nats_url, mqtt_addr] = args.as_slice() else {
        anyhow::bail!("usage: native-reference HTTP_ADDR REDIS_URL NATS_URL MQTT_HOST:PORT");
    };
    // The mcchat host's key-value provider's timeouts, not redis 1.x's half-second default.
    let timeouts = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)))
        .set_response_timeout(Some(std::time::Duration::from_secs(5)));
    let redis = redis::Client::open(redis_url.as_str())?
        .get_connection_manager_with_config(timeouts)
        .await?;
    let nats = async_nats::connect(nats_url.as_str()).await?;
    let mqtt = connect_mqtt(mqtt_addr)?;
    let chat = Chat { redis, nats, mqtt };
    tokio::spawn(serve_nats(chat.clone()));
    let app = Router::new()
        .route("/messages", post(post_message).get(get_messages))
        .with_state(chat);
    let listener = tokio::net::TcpListener::bind(http_addr.as_str()).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
