//! Links as an operator steers them, through the control interface (as `wash link del|put`
//! does) and through the dashboard's API: a deleted link stops its provider serving the actor
//! both ways, and a link put again with other values serves with those.

use crate::support;

use std::time::Duration;

use async_nats_033 as nats033;
use mcchat_host::dashboard::DashboardAddr;
use mcchat_host::RunningHost;
use serde_json::json;
use support::*;
use wasmcloud_control_interface::{ClientBuilder, LinkDefinition};

/// The two ways an operator deletes and puts links.
enum Steer {
    Control(wasmcloud_control_interface::Client),
    Dashboard(String),
}

impl Steer {
    async fn control(nats: &Server) -> Steer {
        let connection = nats033::connect(nats.nats_url()).await.unwrap();
        Steer::Control(
            ClientBuilder::new(connection)
                .lattice_prefix("default")
                .timeout(Duration::from_secs(10))
                .build(),
        )
    }

    async fn delete(&self, link: &LinkDefinition) {
        match self {
            Steer::Control(ctl) => {
                let ack = ctl
                    .remove_link(&link.actor_id, &link.contract_id, &link.link_name)
                    .await
                    .unwrap();
                assert!(ack.accepted, "{ack:?}");
            }
            Steer::Dashboard(base) => {
                let request = json!({
                    "actor_id": link.actor_id,
                    "contract_id": link.contract_id,
                    "link_name": link.link_name,
                });
                let response = reqwest::Client::new()
                    .delete(format!("{base}/api/links"))
                    .json(&request)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
            }
        }
    }

    async fn put(&self, link: &LinkDefinition) {
        match self {
            Steer::Control(ctl) => {
                let ack = ctl
                    .advertise_link(
                        &link.actor_id,
                        &link.provider_id,
                        &link.contract_id,
                        &link.link_name,
                        link.values.clone(),
                    )
                    .await
                    .unwrap();
                assert!(ack.accepted, "{ack:?}");
            }
            Steer::Dashboard(base) => {
                let response = reqwest::Client::new()
                    .put(format!("{base}/api/links"))
                    .json(link)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
            }
        }
    }
}

fn link_of(host: &RunningHost, alias: &str, contract: &str) -> LinkDefinition {
    let actor = host
        .control
        .router
        .actor(alias)
        .unwrap()
        .identity()
        .public_key
        .clone();
    host.control
        .links()
        .into_iter()
        .find(|l| l.actor_id == actor && l.contract_id == contract)
        .unwrap_or_else(|| panic!("{alias} has a {contract} link"))
}

fn with_value(link: &LinkDefinition, key: &str, value: &str) -> LinkDefinition {
    let mut link = link.clone();
    link.values.retain(|k, _| !k.eq_ignore_ascii_case(key));
    link.values.insert(key.to_string(), value.to_string());
    link
}

async fn bodies(base: &str) -> Vec<String> {
    all_messages(base, 500)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

async fn delete_and_put_each_kind_of_link(steer_by_dashboard: bool) {
    let (nats, redis, other_redis, data) = (
        Server::nats(),
        Server::redis(),
        Server::redis(),
        tempfile::tempdir().unwrap(),
    );
    let mut config = config(&nats, Some(&redis), data.path());
    config.dashboard_addr = DashboardAddr(Some("127.0.0.1:0".parse().unwrap()));
    let (host, _) = start(config).await;
    let steer = if steer_by_dashboard {
        Steer::Dashboard(format!("http://{}", host.dashboard_addr.unwrap()))
    } else {
        Steer::control(&nats).await
    };
    let client = nats_client(&nats).await;

    // HTTP: the listener closes; put on another port, it serves there.
    let http = link_of(&host, "mcchat/http", "wasmcloud:httpserver");
    let old_http = host.http_addrs()[0];
    steer.delete(&http).await;
    assert!(tokio::net::TcpStream::connect(old_http).await.is_err());
    assert!(host.http_addrs().is_empty());
    let new_http = format!("127.0.0.1:{}", free_port());
    steer.put(&with_value(&http, "address", &new_http)).await;
    let base = base_url(new_http.parse().unwrap());
    post_stored(&base, r#"{"user_name":"op","body":"on the new port"}"#).await;
    assert_eq!(host.http_addrs(), [new_http.parse().unwrap()]);

    // NATS: the subscription is gone, so chat.in has no responder; put with another
    // subject, that subject is served and the old one still is not.
    let messaging = link_of(&host, "mcchat/nats", "wasmcloud:messaging");
    steer.delete(&messaging).await;
    let unserved = client.request("chat.in", r#"{"user_name":"op","body":"cut off"}"#.into());
    assert!(
        unserved.await.is_err(),
        "chat.in is answered after its link was deleted"
    );
    steer
        .put(&with_value(&messaging, "SUBSCRIPTION", "chat.elsewhere"))
        .await;
    client
        .publish(
            "chat.in",
            r#"{"user_name":"op","body":"old subject"}"#.into(),
        )
        .await
        .unwrap();
    let ack = tokio::time::timeout(
        WAIT,
        client.request(
            "chat.elsewhere",
            r#"{"user_name":"op","body":"new subject"}"#.into(),
        ),
    )
    .await
    .expect("an ack in time")
    .unwrap();
    let ack: serde_json::Value = serde_json::from_slice(&ack.payload).unwrap();
    assert_eq!(ack["accepted"], true, "{ack}");

    // WebSocket: sessions are closed with a reason and the listener closes; put on another
    // port, browsers chat there.
    let websocket = link_of(&host, "mcchat/ws", "wasmcloud:messaging");
    let old_ws = host.ws_addrs()[0];
    let mut session = WsSession::connect(&format!("ws://{old_ws}/ws")).await;
    steer.delete(&websocket).await;
    let reason = session.closed_with().await;
    assert!(reason.contains("deleted"), "{reason:?}");
    assert!(tokio::net::TcpStream::connect(old_ws).await.is_err());
    let new_ws = format!("127.0.0.1:{}", free_port());
    steer.put(&with_value(&websocket, "URI", &new_ws)).await;
    let mut session = WsSession::connect(&format!("ws://{new_ws}/ws")).await;
    let ack = session.chat("op", "over the new socket").await;
    assert_eq!(ack["accepted"], true, "{ack}");

    // Key-value: nothing is stored; put with another Redis, messages are stored there.
    let keyvalue = link_of(&host, "mcchat/chatlog", "wasmcloud:keyvalue");
    steer.delete(&keyvalue).await;
    let refused = post(&base, r#"{"user_name":"op","body":"no store"}"#).await;
    assert_eq!(refused.status(), 503);
    let unread = reqwest::get(format!("{base}/messages")).await.unwrap();
    assert_eq!(unread.status(), 503);
    steer
        .put(&with_value(&keyvalue, "URL", &other_redis.redis_url()))
        .await;
    post_stored(&base, r#"{"user_name":"op","body":"in the other store"}"#).await;
    assert_eq!(bodies(&base).await, ["in the other store"]);

    // The first store has what was sent before, and nothing sent while a link was cut.
    let mut first = redis.redis_connection().await;
    let stored: Vec<String> = redis::cmd("LRANGE")
        .arg("chatlog:messages")
        .arg(0)
        .arg(-1)
        .query_async(&mut first)
        .await
        .unwrap();
    let stored: Vec<String> = stored
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(m).unwrap()["body"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        stored,
        ["on the new port", "new subject", "over the new socket"]
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_control_interface_a_deleted_link_cuts_both_ways_and_a_put_takes_its_values() {
    delete_and_put_each_kind_of_link(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_dashboard_a_deleted_link_cuts_both_ways_and_a_put_takes_its_values() {
    delete_and_put_each_kind_of_link(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_with_bad_values_is_refused_and_the_link_keeps_serving() {
    let chat = TestChat::start(false).await;
    let steer = Steer::control(&chat.nats).await;
    let http = link_of(&chat.host, "mcchat/http", "wasmcloud:httpserver");
    let Steer::Control(ctl) = &steer else {
        unreachable!()
    };
    let ack = ctl
        .advertise_link(
            &http.actor_id,
            &http.provider_id,
            &http.contract_id,
            &http.link_name,
            with_value(&http, "address", "not an address").values,
        )
        .await
        .unwrap();
    assert!(!ack.accepted);
    assert!(ack.error.contains("address"), "{}", ack.error);
    post_stored(&chat.base, r#"{"user_name":"op","body":"still here"}"#).await;
    chat.stop().await;
}
