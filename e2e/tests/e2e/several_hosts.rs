//! Several mcchat hosts on one NATS and one Redis are one chat: a browser on any host sees every
//! message live, whichever host or channel it came through, exactly once; its acks come back to
//! it alone; a session gets exactly the rooms it subscribed to, whichever host it is on; a host
//! going away leaves the others chatting; and a live copy lost while the hosts cannot reach
//! each other is filled in by the page from the history.

use crate::support;

use std::time::Duration;

use serde_json::{json, Value};
use support::browser::Chromedriver;
use support::*;

use mcchat_host::RunningHost;

struct TwoHosts {
    nats: Server,
    _redis: Server,
    _data: (tempfile::TempDir, tempfile::TempDir),
    a: RunningHost,
    b: RunningHost,
    base_a: String,
    base_b: String,
}

impl TwoHosts {
    async fn start() -> TwoHosts {
        let (nats, redis) = (Server::nats(), Server::redis());
        let data = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (a, base_a) = start(config(&nats, Some(&redis), data.0.path())).await;
        let (b, base_b) = start(config(&nats, Some(&redis), data.1.path())).await;
        TwoHosts {
            nats,
            _redis: redis,
            _data: data,
            a,
            b,
            base_a,
            base_b,
        }
    }
}

/// A session and every frame it has read.
struct Watched {
    session: WsSession,
    frames: Vec<Value>,
}

impl Watched {
    async fn connect(host: &RunningHost) -> Watched {
        Watched {
            session: WsSession::connect(&ws_url(host)).await,
            frames: Vec::new(),
        }
    }

    /// Reads frames until one matches, keeping every frame read.
    async fn read_until(&mut self, what: impl Fn(&Value) -> bool) -> Value {
        loop {
            let frame = self.session.next_frame().await;
            self.frames.push(frame.clone());
            if what(&frame) {
                return frame;
            }
        }
    }

    /// Sends a chat frame and reads until its ack.
    async fn chat(&mut self, reply_to: &str, body: &str) -> Value {
        self.session
            .send(json!({"subject": "chat.in", "body": {"user_name": "wes", "body": body}, "reply_to": reply_to}))
            .await;
        self.read_until(|f| f["subject"] == reply_to).await["body"].take()
    }

    fn broadcast_bodies(&self) -> Vec<String> {
        self.frames
            .iter()
            .filter(|f| f["subject"] == "rtchat.messages")
            .map(|f| f["body"]["body"].as_str().unwrap().to_string())
            .collect()
    }

    fn acks(&self) -> Vec<String> {
        self.frames
            .iter()
            .filter_map(|f| f["subject"].as_str())
            .filter(|s| s.starts_with("ack."))
            .map(String::from)
            .collect()
    }
}

fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_on_every_host_gets_every_message_once_and_only_its_own_acks() {
    let hosts = TwoHosts::start().await;
    let mut sessions = vec![
        Watched::connect(&hosts.a).await,
        Watched::connect(&hosts.a).await,
        Watched::connect(&hosts.b).await,
        Watched::connect(&hosts.b).await,
    ];
    post_stored(&hosts.base_a, r#"{"user_name":"ann","body":"posted to a"}"#).await;
    post_stored(&hosts.base_b, r#"{"user_name":"ben","body":"posted to b"}"#).await;
    let nats = nats_client(&hosts.nats).await;
    let ack = chat_in(&nats, r#"{"user_name":"nia","body":"over nats"}"#).await;
    assert_eq!(ack["accepted"], true, "{ack}");
    let ack = sessions[0].chat("ack.a0", "from a session on a").await;
    assert_eq!(ack["accepted"], true, "{ack}");
    let ack = sessions[3].chat("ack.b1", "from a session on b").await;
    assert_eq!(ack["accepted"], true, "{ack}");
    post_stored(&hosts.base_b, r#"{"user_name":"ben","body":"the end"}"#).await;

    let expected = sorted(
        [
            "posted to a",
            "posted to b",
            "over nats",
            "from a session on a",
            "from a session on b",
            "the end",
        ]
        .map(String::from)
        .to_vec(),
    );
    for session in &mut sessions {
        session
            .read_until(|f| f["subject"] == "rtchat.messages" && f["body"]["body"] == "the end")
            .await;
    }
    for (n, session) in sessions.iter().enumerate() {
        assert_eq!(sorted(session.broadcast_bodies()), expected, "session {n}");
    }
    let acks: Vec<Vec<String>> = sessions.iter().map(Watched::acks).collect();
    assert_eq!(acks, [vec!["ack.a0"], vec![], vec![], vec!["ack.b1"]]);

    // Each live copy carries its place in the history, as GET /messages numbers it.
    let history = all_messages(&hosts.base_a, 10).await;
    for frame in sessions[2]
        .frames
        .iter()
        .filter(|f| f["subject"] == "rtchat.messages")
    {
        let stored = history
            .iter()
            .find(|m| m["id"] == frame["body"]["id"])
            .unwrap();
        assert_eq!(frame["body"]["index"], stored["index"], "{frame}");
    }

    // With host A gone, B's sessions chat on.
    hosts.a.shutdown().await;
    let [_, _, mut on_b, mut other_on_b] = <[Watched; 4]>::try_from(sessions).ok().unwrap();
    let ack = on_b.chat("ack.after", "a is gone").await;
    assert_eq!(ack["accepted"], true, "{ack}");
    other_on_b
        .read_until(|f| f["subject"] == "rtchat.messages" && f["body"]["body"] == "a is gone")
        .await;
    hosts.b.shutdown().await;
}

/// A session subscribed to `room`'s messages and to the fence room's.
async fn subscribed_to(host: &RunningHost, room: &str) -> WsSession {
    let mut session = WsSession::connect(&ws_url(host)).await;
    for pattern in [
        format!("rtchat.{room}.messages"),
        "rtchat.fence.messages".into(),
    ] {
        let ack = session.change("_subscribe", &pattern).await;
        assert_eq!(ack["accepted"], true, "{ack}");
    }
    session
}

/// Reads until the fences from both hosts have arrived (a message "fence" in the fence room and
/// in general, through each host): a host relays in order, so every copy that host sent
/// before its fence has arrived too. Returns the other messages' bodies, sorted.
async fn bodies_before_fences(session: &mut WsSession) -> Vec<String> {
    let (mut bodies, mut fences) = (Vec::new(), 0);
    while fences < 2 {
        let frame = session.next_frame().await;
        if !frame["subject"].as_str().unwrap().starts_with("rtchat.") {
            continue;
        }
        match frame["body"]["body"].as_str().unwrap() {
            "fence" => fences += 1,
            body => bodies.push(body.to_string()),
        }
    }
    sorted(bodies)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_on_two_hosts_get_exactly_their_rooms_messages_once() {
    let hosts = TwoHosts::start().await;
    let mut dev_on_a = subscribed_to(&hosts.a, "dev").await;
    let mut dev_on_b = subscribed_to(&hosts.b, "dev").await;
    let mut ops_on_b = subscribed_to(&hosts.b, "ops").await;
    let mut general_on_a = WsSession::connect(&ws_url(&hosts.a)).await;

    let mut writer_on_a = WsSession::connect(&ws_url(&hosts.a)).await;
    let frame = json!({"subject": "chat.in.dev", "body": {"user_name": "wes", "body": "dev from a"}, "reply_to": "ack.1"});
    writer_on_a.send(frame).await;
    let ack = writer_on_a.next_on("ack.1").await;
    assert_eq!(ack["body"]["accepted"], true, "{ack}");
    let nats = nats_client(&hosts.nats).await;
    let body = r#"{"user_name":"nia","body":"dev over nats"}"#;
    let ack = nats.request("chat.in.dev", body.into()).await.unwrap();
    assert_eq!(ack.payload.as_ref(), br#"{"accepted":true}"#);
    let body = json!({"user_name": "ben", "body": "ops to b"});
    assert_eq!(post_in(&hosts.base_b, "ops", body, None).await.0, 201);
    post_stored(
        &hosts.base_a,
        r#"{"user_name":"ann","body":"general to a"}"#,
    )
    .await;

    for base in [&hosts.base_a, &hosts.base_b] {
        for room in ["fence", "general"] {
            let body = json!({"user_name": "ann", "body": "fence"});
            assert_eq!(post_in(base, room, body, None).await.0, 201);
        }
    }
    let dev = ["dev from a", "dev over nats"].map(String::from).to_vec();
    assert_eq!(bodies_before_fences(&mut dev_on_a).await, dev);
    assert_eq!(bodies_before_fences(&mut dev_on_b).await, dev);
    assert_eq!(bodies_before_fences(&mut ops_on_b).await, ["ops to b"]);
    // A session that never subscribed has general alone.
    assert_eq!(
        bodies_before_fences(&mut general_on_a).await,
        ["general to a"]
    );
    hosts.a.shutdown().await;
    hosts.b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_fills_in_a_live_copy_lost_while_the_hosts_could_not_reach_each_other() {
    let mut hosts = TwoHosts::start().await;
    let driver = Chromedriver::start();
    let page = driver.page().await;
    page.open(&format!("{}/?ws={}", hosts.base_b, ws_url(&hosts.b)))
        .await;
    page.wait_until_live().await;
    let shown_bodies = || async {
        page.shown()
            .await
            .into_iter()
            .map(|(_, _, body)| body)
            .collect::<Vec<_>>()
    };

    post_stored(
        &hosts.base_a,
        r#"{"user_name":"ann","body":"before the cut"}"#,
    )
    .await;
    until_async("the page on b shows a message posted to a", || async {
        shown_bodies().await == ["before the cut"]
    })
    .await;

    // The hosts' NATS goes away while a message is posted to A: it is stored, A's own sessions
    // get it live, and its live copy for B's sessions is lost.
    let mut on_a = WsSession::connect(&ws_url(&hosts.a)).await;
    let port = hosts.nats.port;
    hosts.nats.kill();
    post_stored(
        &hosts.base_a,
        r#"{"user_name":"ann","body":"during the cut"}"#,
    )
    .await;
    let live_on_a = on_a.next_on("rtchat.messages").await;
    assert_eq!(live_on_a["body"]["body"], "during the cut");
    hosts.nats = Server::nats_on(port);

    // Once the hosts reach each other again, the next live message shows the gap, and the
    // page fills it from the history.
    let deadline = tokio::time::Instant::now() + 2 * WAIT;
    for attempt in 1.. {
        let body = format!("after the cut {attempt}");
        post_stored(
            &hosts.base_a,
            &json!({"user_name": "ann", "body": body}).to_string(),
        )
        .await;
        let arrived = tokio::time::timeout(Duration::from_secs(2), async {
            while !shown_bodies().await.contains(&body) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if arrived.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message posted to a after the cut reached the page on b"
        );
    }
    let shown = shown_bodies().await;
    assert_eq!(
        shown.iter().filter(|b| *b == "during the cut").count(),
        1,
        "{shown:?}"
    );
    let history: Vec<String> = all_messages(&hosts.base_b, 50)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown, history, "the page shows the history, in order");
    page.close().await;
    hosts.a.shutdown().await;
    hosts.b.shutdown().await;
}
