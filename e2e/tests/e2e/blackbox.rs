//! A black-box fuzz of a running host: 10,000 malformed (and some valid) HTTP requests and
//! `chat.in` payloads, from a seeded generator. No crash, no 5xx, every NATS request answered,
//! and nothing malformed stored.

use crate::support;

use std::sync::Arc;

use futures::StreamExt;
use serde_json::{json, Value};
use support::*;

const HTTP_REQUESTS: usize = 6_000;
const NATS_REQUESTS: usize = 4_000;
const CLIENTS: usize = 16;

/// A payload that is usually wrong: broken JSON, wrong types, missing or huge fields, control
/// characters, invalid UTF-8, or now and then a valid message.
fn payload(rng: &mut fastrand::Rng) -> Vec<u8> {
    let text = |rng: &mut fastrand::Rng, max: usize| -> String {
        let len = rng.usize(0..max);
        (0..len)
            .map(|_| match rng.u8(0..10) {
                0 => char::from(rng.u8(0..32)),
                1 => '"',
                2 => '\\',
                3 => rng.char('\u{80}'..'\u{10FFFF}'),
                _ => rng.alphanumeric(),
            })
            .collect()
    };
    let valid = json!({"user_name": "fuzz", "body": format!("valid {}", rng.u32(..))});
    match rng.u8(0..12) {
        0 => {
            let mut bytes = valid.to_string().into_bytes();
            bytes.truncate(rng.usize(0..bytes.len()));
            bytes
        }
        1 => (0..rng.usize(0..200)).map(|_| rng.u8(..)).collect(),
        2 => json!({"user_name": text(rng, 80), "body": text(rng, 40)})
            .to_string()
            .into_bytes(),
        3 => json!({"user_name": rng.i64(..), "body": [1, 2]})
            .to_string()
            .into_bytes(),
        4 => json!({"user_name": "fuzz"}).to_string().into_bytes(),
        5 => json!({"user_name": "fuzz", "body": "x".repeat(rng.usize(4000..5000))})
            .to_string()
            .into_bytes(),
        6 => json!(["fuzz", "body"]).to_string().into_bytes(),
        7 => json!({"user_name": " ", "body": "\t\n"})
            .to_string()
            .into_bytes(),
        8 => json!({"user_name": "fuzz", "body": "ok", "client_id": text(rng, 200)})
            .to_string()
            .into_bytes(),
        9 => {
            let mut bytes = b"{\"user_name\":\"f\xff\xfe\",\"body\":\"x\"}".to_vec();
            bytes.extend((0..rng.usize(0..10)).map(|_| rng.u8(128..)));
            bytes
        }
        10 => text(rng, 300).into_bytes(),
        _ => valid.to_string().into_bytes(),
    }
}

/// Is a stored message one the chat log may accept?
fn well_formed(message: &Value) -> bool {
    let field = |k: &str| message[k].as_str().unwrap_or_default();
    let (user, body) = (field("sourceUser"), field("body"));
    !user.trim().is_empty()
        && user.chars().count() <= 64
        && !user.chars().any(char::is_control)
        && !body.trim().is_empty()
        && body.chars().count() <= 4096
        && !field("id").is_empty()
        && ["http", "nats", "ws"].contains(&field("channelName"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_inputs_get_clear_answers_and_store_nothing_malformed() {
    let chat = TestChat::start(true).await;
    let base = Arc::new(chat.base.clone());
    let http = reqwest::Client::new();
    let methods = ["POST", "POST", "POST", "GET", "PUT", "DELETE", "PATCH"];
    let paths = [
        "/messages",
        "/messages",
        "/messages/",
        "/",
        "/nope",
        "/messages/1",
        "/%zz",
    ];

    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (http, base) = (http.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(client as u64);
            let mut statuses = Vec::new();
            for _ in 0..HTTP_REQUESTS / CLIENTS {
                let method = methods[rng.usize(..methods.len())];
                let query = match rng.u8(0..4) {
                    0 => format!("?limit={}", rng.i64(-5..800)),
                    1 => format!("?before={}&limit=x", rng.i64(..)),
                    2 => format!("?{}", rng.alphanumeric()),
                    _ => String::new(),
                };
                let url = format!("{base}{}{query}", paths[rng.usize(..paths.len())]);
                let mut request = http
                    .request(method.parse().unwrap(), url)
                    .body(payload(&mut rng));
                if rng.bool() {
                    request = request.header("Idempotency-Key", format!("k{}", rng.u8(..)));
                }
                let response = request
                    .send()
                    .await
                    .expect("the host answers every request");
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap();
                if status >= 400 {
                    let reason: Value = serde_json::from_slice(&body)
                        .unwrap_or_else(|_| panic!("{status} without a JSON body: {body:?}"));
                    assert!(reason["reason"].is_string(), "{status}: {reason}");
                }
                statuses.push(status);
            }
            statuses
        }));
    }
    let nats = nats_client(&chat.nats).await;
    for client in 0..CLIENTS {
        let nats = nats.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(1_000 + client as u64);
            let mut answered = Vec::new();
            for _ in 0..NATS_REQUESTS / CLIENTS {
                let reply = nats
                    .request("chat.in", payload(&mut rng).into())
                    .await
                    .expect("every chat.in request is answered");
                let ack: Value = serde_json::from_slice(&reply.payload).expect("acks are JSON");
                let accepted = ack["accepted"].as_bool().expect("acks say accepted");
                assert!(accepted || ack["reason"].is_string(), "{ack}");
                answered.push(if accepted { 200 } else { 400 });
            }
            answered
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.extend(task.await.unwrap());
    }
    assert_eq!(statuses.len(), HTTP_REQUESTS + NATS_REQUESTS);
    let server_errors: Vec<_> = statuses.iter().filter(|s| **s >= 500).collect();
    assert!(
        server_errors.is_empty(),
        "{} server errors",
        server_errors.len()
    );
    assert!(
        statuses.contains(&201) && statuses.contains(&400),
        "the inputs were all alike"
    );

    let stored = all_messages(&chat.base, 500).await;
    assert!(!stored.is_empty());
    let malformed: Vec<_> = stored.iter().filter(|m| !well_formed(m)).collect();
    assert!(
        malformed.is_empty(),
        "stored malformed messages: {:?}",
        &malformed[..malformed.len().min(3)]
    );
    // The host is still whole: a NATS subscriber sees a fresh post fanned out.
    let mut fanout = nats.subscribe("rtchat.messages").await.unwrap();
    subscribed(&nats).await;
    assert_eq!(
        post(&chat.base, r#"{"user_name":"after","body":"still here"}"#)
            .await
            .status(),
        201
    );
    let message = fanout.next().await.unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&message.payload).unwrap()["body"],
        "still here"
    );
    chat.stop().await;
}
