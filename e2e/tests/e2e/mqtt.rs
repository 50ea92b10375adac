//! IoT devices chat over MQTT: a real mosquitto per test, devices as rumqttc MQTT 5 clients and
//! mosquitto's own `mosquitto_pub` and `mosquitto_rr`, beside HTTP, NATS and WebSocket clients.

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::mqtt::{correlation, mosquitto_client, Device, TlsFiles};
use support::*;

/// A host of `wadm.yaml` whose MQTT link connects to `mosquitto`.
async fn chat_on(
    mosquitto: &Server,
    nats: &Server,
    redis: Option<&Server>,
    data: &std::path::Path,
) -> (mcchat_host::RunningHost, String) {
    let mut settings = config(nats, redis, data);
    settings.mqtt_url = Some(mosquitto.mqtt_url());
    start(settings).await
}

/// One test's chat on its own mosquitto and NATS, with the embedded store and the dashboard.
struct MqttChat {
    mosquitto: Server,
    nats: Server,
    _data: tempfile::TempDir,
    host: mcchat_host::RunningHost,
    base: String,
}

impl MqttChat {
    async fn start() -> MqttChat {
        let (mosquitto, nats) = (Server::mosquitto(), Server::nats());
        let data = tempfile::tempdir().unwrap();
        let mut settings = config(&nats, None, data.path());
        settings.mqtt_url = Some(mosquitto.mqtt_url());
        settings.dashboard_addr = "127.0.0.1:0".parse().unwrap();
        let (host, base) = start(settings).await;
        MqttChat {
            mosquitto,
            nats,
            _data: data,
            host,
            base,
        }
    }

    /// A connected device, subscribed to a response topic of its own (returned).
    async fn device(&self) -> (Device, String) {
        device_with_replies(&self.mosquitto).await
    }
}

async fn device_with_replies(mosquitto: &Server) -> (Device, String) {
    let id = device_id();
    let mut device = Device::connect(mosquitto, &id).await;
    let replies = format!("replies/{id}");
    device.subscribe(&replies).await;
    (device, replies)
}

fn device_id() -> String {
    format!("device-{}", uuid::Uuid::new_v4().simple())
}

/// The host's MQTT link is connected, as `/metrics` reports it.
async fn mqtt_link_connected(host: &mcchat_host::RunningHost) -> bool {
    let metrics = reqwest::get(format!("{}metrics", host.dashboard_url().unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    metrics
        .lines()
        .find(|line| {
            line.starts_with("mcchat_link_connected") && line.contains("actor=\"mcchat/mqtt\"")
        })
        .is_some_and(|line| line.ends_with(" 1"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_write_in_rooms_and_follow_every_room_with_a_wildcard() {
    let chat = MqttChat::start().await;
    let (mut device, replies) = chat.device().await;
    device.subscribe("rtchat/#").await;

    // A room's topic mirrors its subject, level by level, and is acked as chat/in is.
    let printed = mosquitto_client(
        "mosquitto_rr",
        &chat.mosquitto,
        &[
            "-t",
            "chat/in/greenhouse",
            "-e",
            &format!("replies/{}", device_id()),
            "-m",
            r#"{"user_name":"sensor-7","body":"21.5 C"}"#,
            "-W",
            "10",
        ],
    );
    let ack: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(ack["accepted"], true, "{printed}");
    let history = reqwest::get(format!("{}/rooms/greenhouse/messages", chat.base))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(history[0]["id"], ack["id"]);
    assert_eq!(history[0]["room"], "greenhouse");

    // Another room's live copies reach `rtchat/#` on their own topic; general's on today's.
    let nats = nats_client(&chat.nats).await;
    let body = r#"{"user_name":"ops","body":"vent open"}"#;
    nats.request("chat.in.greenhouse", body.into())
        .await
        .unwrap();
    let (topic, live) = device.next_json().await;
    assert_eq!(topic, "rtchat/greenhouse/messages");
    assert_eq!(
        (&live["body"], &live["room"]),
        (&json!("vent open"), &json!("greenhouse"))
    );
    post_stored(&chat.base, r#"{"user_name":"ops","body":"all clear"}"#).await;
    let (topic, live) = device.next_json().await;
    assert_eq!(topic, "rtchat/messages");
    assert_eq!(
        (&live["body"], &live["room"]),
        (&json!("all clear"), &json!("general"))
    );

    // A bad room is refused with the rule, on the device's response topic.
    device
        .request(
            "chat/in/Green",
            r#"{"user_name":"s","body":"x"}"#,
            &replies,
            b"c-1",
        )
        .await;
    let (topic, ack) = device.next_json().await;
    assert_eq!(topic, replies);
    assert_eq!(ack["accepted"], false);
    assert!(
        ack["reason"]
            .as_str()
            .unwrap()
            .starts_with("a room name is"),
        "{ack}"
    );
    chat.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_chat_with_http_nats_and_browsers_and_get_no_echo() {
    let chat = MqttChat::start().await;
    let MqttChat {
        mosquitto,
        nats,
        host,
        base,
        ..
    } = &chat;
    let mut device = Device::connect(mosquitto, &device_id()).await;
    device.subscribe("rtchat/messages").await;
    let nats_client = nats_client(nats).await;
    let mut nats_fanout = nats_client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&nats_client).await;
    let mut browser = WsSession::connect(&ws_url(host)).await;

    // HTTP → MQTT, on the real topic, in the NATS subscribers' JSON.
    post_stored(base, r#"{"user_name":"alice","body":"hello devices"}"#).await;
    let (topic, message) = device.next_json().await;
    assert_eq!(topic, "rtchat/messages");
    assert_eq!(message["body"], "hello devices");
    assert_eq!(message["sourceChannel"], "http");
    assert_eq!(message["sourceUser"], "alice");
    assert_eq!(message["index"], 0);
    assert_eq!(next_fanout(&mut nats_fanout).await["body"], "hello devices");
    assert_eq!(
        browser.next_on("rtchat.messages").await["body"]["body"],
        "hello devices"
    );

    // MQTT 5 → NATS and the browsers, acknowledged as mosquitto_rr shows it; no echo to MQTT.
    let printed = mosquitto_client(
        "mosquitto_rr",
        mosquitto,
        &[
            "-t",
            "chat/in",
            "-e",
            &format!("replies/{}", device_id()),
            "-m",
            r#"{"user_name":"sensor-7","body":"temperature is 21.5 C"}"#,
            "-W",
            "10",
        ],
    );
    let ack: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(ack["accepted"], true, "{printed}");
    let id = ack["id"].as_str().unwrap().to_string();
    let relayed = next_fanout(&mut nats_fanout).await;
    assert_eq!(
        (
            &relayed["id"],
            &relayed["sourceChannel"],
            &relayed["sourceUser"]
        ),
        (&json!(id), &json!("mqtt"), &json!("sensor-7"))
    );
    let live = browser.next_on("rtchat.messages").await;
    assert_eq!(live["body"]["body"], "temperature is 21.5 C");
    assert_eq!(live["body"]["sourceChannel"], "mqtt");

    // MQTT 3.1.1, with no reply: stored all the same.
    mosquitto_client(
        "mosquitto_pub",
        mosquitto,
        &[
            "-V",
            "mqttv311",
            "-q",
            "1",
            "-t",
            "chat/in",
            "-m",
            r#"{"user_name":"sensor-8","body":"door opened"}"#,
        ],
    );
    let relayed = next_fanout(&mut nats_fanout).await;
    assert_eq!(
        (&relayed["body"], &relayed["sourceChannel"]),
        (&json!("door opened"), &json!("mqtt"))
    );

    // The device heard neither of its own channel's messages: the next one it gets is this.
    post_stored(base, r#"{"user_name":"alice","body":"after the devices"}"#).await;
    assert_eq!(device.next_json().await.1["body"], "after the devices");

    let history = all_messages(base, 100).await;
    let shown: Vec<_> = history
        .iter()
        .map(|m| {
            (
                m["channelName"].as_str().unwrap(),
                m["body"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("http", "hello devices"),
            ("mqtt", "temperature is 21.5 C"),
            ("mqtt", "door opened"),
            ("http", "after the devices"),
        ]
    );
    assert_eq!(history[1]["id"], json!(id));
    assert_eq!(history[1]["sourceUser"], "sensor-7");
    chat.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtt5_requests_are_answered_with_their_correlation_data_and_bad_input_is_refused() {
    let chat = MqttChat::start().await;
    let (mosquitto, host, base) = (&chat.mosquitto, &chat.host, &chat.base);
    let (mut device, replies) = chat.device().await;

    device
        .request(
            "chat/in",
            r#"{"user_name":"sensor-1","body":"ok"}"#,
            &replies,
            b"c-1\x00\xff",
        )
        .await;
    let reply = device.next().await;
    assert_eq!(correlation(&reply).as_deref(), Some(&b"c-1\x00\xff"[..]));
    let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(ack["accepted"], true, "{ack}");
    assert!(ack["id"].is_string(), "{ack}");

    // Each refusal answers its own request, and stores nothing.
    for (body, correlation_data, reason) in [
        ("not json".to_string(), &b"c-2"[..], "expected JSON"),
        (
            r#"{"user_name":"sensor-1"}"#.to_string(),
            b"c-3",
            "expected JSON",
        ),
        (
            r#"{"user_name":"sensor-1","body":"   "}"#.to_string(),
            b"c-4",
            "must not be empty",
        ),
        (
            format!(
                r#"{{"user_name":"sensor-1","body":"{}"}}"#,
                "x".repeat(70 * 1024)
            ),
            b"c-5",
            "over the limit of 65536",
        ),
    ] {
        device
            .request("chat/in", body, &replies, correlation_data)
            .await;
        let reply = device.next().await;
        assert_eq!(correlation(&reply).as_deref(), Some(correlation_data));
        let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(ack["accepted"], false, "{ack}");
        assert!(
            ack["reason"].as_str().unwrap().contains(reason),
            "{reason} not in {ack}"
        );
    }

    // No reply to give: a topic outside the subscription, which the broker never delivers, and
    // bad JSON over MQTT 3.1.1, which is refused, logged and counted where an operator looks.
    device
        .publish(
            "chat/other",
            r#"{"user_name":"sensor-1","body":"wrong topic"}"#,
        )
        .await;
    let metrics_url = format!("{}metrics", host.dashboard_url().unwrap());
    let refused_so_far = || async {
        let metrics = reqwest::get(&metrics_url)
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        metrics
            .lines()
            .find(|line| {
                line.starts_with("mcchat_mqtt_messages_total")
                    && line.contains("outcome=\"refused\"")
            })
            .and_then(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let before = refused_so_far().await;
    assert!(before >= 1, "the oversized request was counted");
    mosquitto_client(
        "mosquitto_pub",
        mosquitto,
        &[
            "-V", "mqttv311", "-q", "1", "-t", "chat/in", "-m", "{broken",
        ],
    );
    until_async("the refusal without a reply is counted", || async {
        refused_so_far().await > before
    })
    .await;
    let history = all_messages(base, 100).await;
    let bodies: Vec<_> = history
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["ok"]);
    chat.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_qos1_redelivery_with_the_same_client_id_is_stored_once() {
    let chat = MqttChat::start().await;
    let base = &chat.base;
    let (mut device, replies) = chat.device().await;

    let body = r#"{"user_name":"sensor-2","body":"sent twice","client_id":"sensor-2-msg-41"}"#;
    let mut ids = Vec::new();
    for attempt in [&b"first"[..], b"again"] {
        device.request("chat/in", body, &replies, attempt).await;
        let reply = device.next().await;
        assert_eq!(correlation(&reply).as_deref(), Some(attempt));
        let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(ack["accepted"], true, "{ack}");
        ids.push(ack["id"].clone());
    }
    assert_eq!(
        ids[0], ids[1],
        "the retry is answered with the first write's id"
    );
    let history = all_messages(base, 100).await;
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0]["id"], ids[0]);
    chat.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_works_again_within_15_s_of_a_broker_restart() {
    let mut chat = MqttChat::start().await;
    let (host, base) = (&chat.host, chat.base.clone());
    assert!(mqtt_link_connected(host).await);

    chat.mosquitto.kill();
    until_async("/metrics shows the MQTT link reconnecting", || async {
        !mqtt_link_connected(host).await
    })
    .await;
    // Writes from the other channels never wait for MQTT.
    let started = std::time::Instant::now();
    post_stored(
        &base,
        r#"{"user_name":"alice","body":"while the broker is away"}"#,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    chat.mosquitto.restart_mosquitto();
    until_async_within("the MQTT link is back", Duration::from_secs(15), || async {
        mqtt_link_connected(host).await
    })
    .await;
    // Resubscribed: a device's message is stored, and a device hears the others.
    let (mut device, replies) = chat.device().await;
    device.subscribe("rtchat/messages").await;
    device
        .request(
            "chat/in",
            r#"{"user_name":"sensor-3","body":"back online"}"#,
            &replies,
            b"r",
        )
        .await;
    let ack: serde_json::Value = serde_json::from_slice(&device.next().await.payload).unwrap();
    assert_eq!(ack["accepted"], true, "{ack}");
    post_stored(&base, r#"{"user_name":"alice","body":"welcome back"}"#).await;
    assert_eq!(device.next_json().await.1["body"], "welcome back");
    let bodies: Vec<_> = all_messages(&base, 100)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        bodies,
        ["while the broker is away", "back online", "welcome back"]
    );
    chat.host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_on_one_broker_store_each_device_message_once() {
    let (mosquitto, nats, redis) = (Server::mosquitto(), Server::nats(), Server::redis());
    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (host_a, base) = chat_on(&mosquitto, &nats, Some(&redis), data_a.path()).await;
    let (host_b, _) = chat_on(&mosquitto, &nats, Some(&redis), data_b.path()).await;
    let (mut device, replies) = device_with_replies(&mosquitto).await;

    const MESSAGES: usize = 40;
    for n in 0..MESSAGES {
        let body = json!({"user_name": "sensor-4", "body": format!("reading {n}")}).to_string();
        device
            .request("chat/in", body, &replies, n.to_string().as_bytes())
            .await;
    }
    let mut answered = Vec::new();
    for _ in 0..MESSAGES {
        let reply = device.next().await;
        let ack: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
        assert_eq!(ack["accepted"], true, "{ack}");
        answered.push(String::from_utf8(correlation(&reply).unwrap()).unwrap());
    }
    answered.sort();
    let mut expected: Vec<_> = (0..MESSAGES).map(|n| n.to_string()).collect();
    expected.sort();
    assert_eq!(answered, expected, "each request answered once");
    let mut bodies: Vec<_> = all_messages(&base, 100)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    bodies.sort();
    let mut sent: Vec<_> = (0..MESSAGES).map(|n| format!("reading {n}")).collect();
    sent.sort();
    assert_eq!(bodies, sent, "each message stored exactly once");
    host_a.shutdown().await;
    host_b.shutdown().await;
}

/// A copy of wadm.yaml, written into `dir`, whose MQTT link has `values` besides its own.
fn manifest_with_mqtt_values(
    dir: &std::path::Path,
    values: &[(&str, String)],
) -> std::path::PathBuf {
    let subscription =
        "              SUBSCRIPTION: chat/in/#,chat/signup,chat/signon,chat/refresh,chat/signoff";
    let more: String = values
        .iter()
        .map(|(key, value)| format!("\n              {key}: {value}"))
        .collect();
    manifest_copy(dir, |text| {
        assert!(text.contains(subscription), "wadm.yaml's MQTT link moved");
        text.replace(subscription, &format!("{subscription}{more}"))
    })
}

/// A host of `wadm.yaml` whose MQTT link dials `mosquitto` over TLS, trusting `ca`.
async fn chat_over_tls(
    mosquitto: &Server,
    nats: &Server,
    ca: &std::path::Path,
    data: &std::path::Path,
) -> (mcchat_host::RunningHost, String) {
    let mut settings = config(nats, None, data);
    let ca = ca.display().to_string();
    settings.manifest = manifest_with_mqtt_values(data, &[("TLS_CA_FILE", ca)]);
    settings.mqtt_url = Some(format!("mqtts://127.0.0.1:{}", mosquitto.port));
    settings.dashboard_addr = "127.0.0.1:0".parse().unwrap();
    start(settings).await
}

/// `mqtts://`: the link trusts its broker through `TLS_CA_FILE` and a device chats over TLS; a
/// link that trusts another authority does not connect, and the rest of the chat goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_over_tls_is_trusted_through_tls_ca_file_and_no_other() {
    let (tls_dir, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let tls = TlsFiles::make(tls_dir.path());
    let mosquitto = Server::mosquitto_with(free_port(), &tls.mosquitto_lines());
    let nats = Server::nats();
    let (host, base) = chat_over_tls(&mosquitto, &nats, &tls.ca, data.path()).await;
    assert!(mqtt_link_connected(&host).await);

    let ca = tls.ca.display().to_string();
    let printed = mosquitto_client(
        "mosquitto_rr",
        &mosquitto,
        &[
            "--cafile",
            &ca,
            "-t",
            "chat/in",
            "-e",
            &format!("replies/{}", device_id()),
            "-m",
            r#"{"user_name":"sensor-9","body":"sent over TLS"}"#,
            "-W",
            "10",
        ],
    );
    let ack: serde_json::Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(ack["accepted"], true, "{printed}");
    let history = all_messages(&base, 10).await;
    assert_eq!(history.len(), 1);
    assert_eq!(
        (&history[0]["body"], &history[0]["channelName"]),
        (&json!("sent over TLS"), &json!("mqtt"))
    );
    host.shutdown().await;

    let (other_dir, other_data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let other_authority = TlsFiles::make(other_dir.path());
    let (host, base) =
        chat_over_tls(&mosquitto, &nats, &other_authority.ca, other_data.path()).await;
    assert!(!mqtt_link_connected(&host).await);
    post_stored(&base, r#"{"user_name":"alice","body":"the rest goes on"}"#).await;
    host.shutdown().await;
}

/// A retained message is the broker's old copy, sent again on each subscribe (mosquitto also
/// sends it to shared subscriptions): a host that starts later does not store it again. A
/// response topic the chat reads from gets no answer, so no ack becomes a message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retained_copies_and_response_topics_the_chat_reads_or_fans_out_to_store_nothing() {
    let chat = MqttChat::start().await;
    mosquitto_client(
        "mosquitto_pub",
        &chat.mosquitto,
        &[
            "-q",
            "1",
            "-r",
            "-t",
            "chat/in",
            "-m",
            r#"{"user_name":"sensor-1","body":"kept"}"#,
        ],
    );
    until_async("the live copy is stored", || async {
        all_messages(&chat.base, 10).await.len() == 1
    })
    .await;

    let data = tempfile::tempdir().unwrap();
    let mut settings = config(&chat.nats, None, data.path());
    settings.mqtt_url = Some(chat.mosquitto.mqtt_url());
    let (later, later_base) = start(settings).await;
    let (device, _) = chat.device().await;
    let mut listener = Device::connect(&chat.mosquitto, &device_id()).await;
    listener.subscribe("rtchat/messages").await;
    device
        .request(
            "chat/in",
            r#"{"user_name":"sensor-1","body":"loop"}"#,
            "chat/in",
            b"c",
        )
        .await;
    device
        .request(
            "chat/in",
            r#"{"user_name":"sensor-1","body":"to everyone"}"#,
            "rtchat/messages",
            b"d",
        )
        .await;
    // A message after both: once it is stored, anything the broker sent before it was handled.
    device
        .publish("chat/in", r#"{"user_name":"sensor-1","body":"after"}"#)
        .await;
    until_async(
        "the message after is stored by one of the hosts",
        || async {
            let first = all_messages(&chat.base, 10).await;
            let second = all_messages(&later_base, 10).await;
            first.iter().chain(&second).any(|m| m["body"] == "after")
        },
    )
    .await;
    let bodies = |page: Vec<serde_json::Value>| -> Vec<String> {
        page.iter()
            .map(|m| m["body"].as_str().unwrap().to_string())
            .collect()
    };
    let second = bodies(all_messages(&later_base, 10).await);
    assert!(
        !second.contains(&"kept".to_string()),
        "stored again: {second:?}"
    );
    let first = bodies(all_messages(&chat.base, 10).await);
    for stored in [&first, &second] {
        assert!(!stored.contains(&"loop".to_string()), "{stored:?}");
        assert!(!stored.contains(&"to everyone".to_string()), "{stored:?}");
        assert!(!stored.iter().any(|b| b.contains("accepted")), "{stored:?}");
    }
    // Devices get no copy of a device's message, so anything here would be an ack.
    if let Some(leaked) = listener.nothing_within(Duration::from_millis(200)).await {
        panic!(
            "an ack reached every device: {}",
            String::from_utf8_lossy(&leaked.payload)
        );
    }
    later.shutdown().await;
    chat.host.shutdown().await;
}
