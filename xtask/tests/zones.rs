//! The trust zones as `cargo xtask up` sets them up, tried as an attacker on the chat's brokers
//! would: a client with no credential can chat and nothing more; wash's credentials reach the
//! lattice. Runs the release `mcchat` the workspace's tests are built beside.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::{Event, ServerError};
use base64::Engine as _;
use xtask::up::{free_port_from, Brokers, OwnBrokers};
use xtask::workspace_root;
use xtask::zones::Zones;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn mcchat_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from);
    let binary = target.join("release/mcchat");
    assert!(
        binary.exists(),
        "{} is built by `cargo xtask test`",
        binary.display()
    );
    binary
}

/// A running `mcchat up`, killed when dropped; what it wrote to stderr goes to `log`.
struct Host {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Host {
    async fn start(data_dir: &Path, env: &[(String, String)], args: &[&str]) -> Host {
        let http_port = free_port();
        let log = data_dir.join("host.log");
        let printed = data_dir.join("host.out");
        let child = Command::new(mcchat_binary())
            .current_dir(workspace_root())
            .args(["up", "--manifest", "wadm.yaml", "--embedded-kv"])
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
            .args([
                "--ws-addr",
                "127.0.0.1:0",
                "--dashboard-addr",
                "127.0.0.1:0",
            ])
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(std::fs::File::create(&printed).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let host = Host {
            child,
            base: format!("http://127.0.0.1:{http_port}"),
            log,
        };
        // Started as a person sees it: the last line the start prints, once the control
        // interface answers too (HTTP answers before that).
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = std::fs::read_to_string(&printed).unwrap_or_default();
            if out.contains("Ctrl-C to stop.") {
                return host;
            }
            assert!(
                Instant::now() < deadline,
                "mcchat did not start: {}",
                host.stderr()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn bodies(&self) -> Vec<String> {
        let page: Vec<serde_json::Value> =
            reqwest::get(format!("{}/messages?limit=100", self.base))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        page.iter()
            .map(|m| m["body"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

/// A client with no credential, and what the server told it it may not do.
async fn guest(
    url: &str,
) -> (
    async_nats::Client,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (refusals, refused) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let refusals = refusals.clone();
            async move {
                if let Event::ServerError(ServerError::Other(text)) = event {
                    let _ = refusals.send(text);
                }
            }
        })
        .connect(url)
        .await
        .unwrap();
    (client, refused)
}

/// A guest's request on `subject` (acked as stored), then a web client's POST to `path` (201);
/// answers the next live copy `live` receives.
async fn journey(
    chat: &async_nats::Client,
    base: &str,
    subject: &str,
    path: &str,
    live: &mut async_nats::Subscriber,
) -> async_nats::Message {
    let body = r#"{"user_name":"guest","body":"over nats"}"#;
    let ack = chat
        .request(subject.to_string(), body.into())
        .await
        .unwrap();
    assert_eq!(&ack.payload[..], br#"{"accepted":true}"#);
    let posted = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .body(r#"{"user_name":"web","body":"over http"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 201);
    tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(live))
        .await
        .unwrap()
        .unwrap()
}

/// The server's next refusal, which must name `what`.
async fn assert_refused(refused: &mut tokio::sync::mpsc::UnboundedReceiver<String>, what: &str) {
    let refusal = tokio::time::timeout(Duration::from_secs(5), refused.recv())
        .await
        .expect("the server refuses within 5 s")
        .unwrap();
    assert!(
        refusal.to_lowercase().contains("permissions violation") && refusal.contains(what),
        "{refusal:?} does not refuse {what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_can_chat_and_sign_on_and_nothing_more_and_wash_reaches_the_lattice() {
    let data = tempfile::tempdir().unwrap();
    let zones = Zones::prepare(data.path(), free_port(), free_port(), free_port()).unwrap();
    let own = OwnBrokers {
        chat_nats: true,
        lattice_nats: true,
        mqtt: true,
    };
    let brokers = Brokers::start(&zones, own).unwrap();
    let host = Host::start(data.path(), &brokers.host_env, &[]).await;

    // The README's journey, with no credential.
    let (chat, mut refused) = guest(&zones.chat_nats_url()).await;
    let mut live = chat.subscribe("rtchat.messages").await.unwrap();
    let copy = journey(&chat, &host.base, "chat.in", "/messages", &mut live).await;
    assert!(String::from_utf8_lossy(&copy.payload).contains("over http"));

    // Rooms: a guest writes in one, and follows every room's live copies.
    let mut every_room = chat.subscribe("rtchat.>").await.unwrap();
    let copy = journey(
        &chat,
        &host.base,
        "chat.in.dev",
        "/rooms/dev/messages",
        &mut every_room,
    )
    .await;
    assert_eq!(copy.subject.as_str(), "rtchat.dev.messages");
    assert!(String::from_utf8_lossy(&copy.payload).contains("over http"));
    let _rooms = chat.subscribe("chat.in.>").await.unwrap();
    assert_refused(&mut refused, "chat.in.>").await;

    // Nothing more: no taking chat.in, plain or in the host's queue group, no control
    // interface, no relay.
    let _plain = chat.subscribe("chat.in").await.unwrap();
    assert_refused(&mut refused, "chat.in").await;
    let _stolen = chat
        .queue_subscribe("chat.in", "mcchat".into())
        .await
        .unwrap();
    assert_refused(&mut refused, "mcchat").await;
    let _relay = chat.subscribe("mcchat.>").await.unwrap();
    assert_refused(&mut refused, "mcchat.>").await;
    chat.publish("wasmbus.ctl.default.ping.hosts", "".into())
        .await
        .unwrap();
    assert_refused(&mut refused, "wasmbus.ctl.default.ping.hosts").await;
    // Requests still reach the host's own subscriber, which stores each once.
    for n in 0..5 {
        let body = format!(r#"{{"user_name":"guest","body":"request {n}"}}"#);
        let ack = chat.request("chat.in", body.into()).await.unwrap();
        assert_eq!(&ack.payload[..], br#"{"accepted":true}"#);
    }

    // A guest signs up and on over NATS and over MQTT, as the README's journey does. Another
    // guest listening on every inbox sees the sign-on's reply, but the token in it is sealed
    // to the requester's key: only the requester can write with it.
    let (listener, mut listener_refused) = guest(&zones.chat_nats_url()).await;
    let mut inboxes = listener.subscribe("_INBOX.>").await.unwrap();
    listener.flush().await.unwrap();
    let password = "correct horse battery";
    let signed_up = chat
        .request(
            "chat.signup",
            format!(r#"{{"user_name":"gina","password":"{password}"}}"#).into(),
        )
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&signed_up.payload).contains(r#""accepted":true"#));
    let mine = nkeys::XKey::new();
    let ask = serde_json::json!({"user_name": "gina", "password": password, "reply_key": mine.public_key()});
    let reply = chat
        .request("chat.signon", ask.to_string().into())
        .await
        .unwrap();
    let reply: serde_json::Value = serde_json::from_slice(&reply.payload).unwrap();
    assert_eq!(reply["accepted"], true, "{reply}");
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(reply["sealed_token"].as_str().unwrap())
        .unwrap();
    let sealed_by = nkeys::XKey::from_public_key(reply["sealed_by"].as_str().unwrap()).unwrap();
    let token = String::from_utf8(mine.open(&sealed, &sealed_by).unwrap()).unwrap();
    let mut overheard = Vec::new();
    while let Ok(Some(message)) = tokio::time::timeout(
        Duration::from_secs(1),
        futures::StreamExt::next(&mut inboxes),
    )
    .await
    {
        overheard.push(String::from_utf8_lossy(&message.payload).into_owned());
    }
    assert!(
        overheard.iter().any(|m| m.contains("sealed_token")),
        "the listener saw the reply: {overheard:?}"
    );
    assert!(
        overheard
            .iter()
            .all(|m| !m.contains(&token) && !m.contains("mc1.")),
        "{overheard:?}"
    );
    let verified = serde_json::json!({"body": "signed on in the zone", "token": token});
    let ack = chat
        .request("chat.in", verified.to_string().into())
        .await
        .unwrap();
    assert_eq!(&ack.payload[..], br#"{"accepted":true}"#);
    // Nor can it take the sign-ons themselves, passwords and all.
    let _sign_ons = listener.subscribe("chat.signon").await.unwrap();
    assert_refused(&mut listener_refused, "chat.signon").await;
    let device = Command::new("mosquitto_rr")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &zones.mqtt_port.to_string(),
            "-W",
            "10",
        ])
        .args(["-t", "chat/signup", "-e", "replies/sensor-9"])
        .args([
            "-m",
            r#"{"user_name":"sensor-9","password":"a device password"}"#,
        ])
        .output()
        .unwrap();
    let answer = String::from_utf8_lossy(&device.stdout);
    assert!(answer.contains(r#""accepted":true"#), "{answer}");

    // The lattice's NATS takes no client without its credentials, and wash's creds reach it.
    let anonymous = async_nats::connect(zones.lattice_nats_url()).await;
    assert!(
        anonymous.is_err(),
        "the lattice took a client with no credential"
    );
    let wash = async_nats::ConnectOptions::with_credentials_file(zones.lattice_creds())
        .await
        .unwrap()
        .connect(zones.lattice_nats_url())
        .await
        .unwrap();
    let hosts = wash
        .request("wasmbus.ctl.default.ping.hosts", "".into())
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&hosts.payload).contains("\"id\""));

    // A rogue device subscribing to the host's shared subscription gets nothing; every device
    // message is stored.
    let mqtt_port = zones.mqtt_port.to_string();
    let mut rogue = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &mqtt_port, "-V", "mqttv5", "-d"])
        .args([
            "-t",
            "$share/mcchat/chat/in",
            "-t",
            "chat/in",
            "-t",
            "chat/in/#",
            "-W",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut rogue_out = std::io::BufReader::new(rogue.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("SUBACK") {
        line.clear();
        assert_ne!(
            std::io::BufRead::read_line(&mut rogue_out, &mut line).unwrap(),
            0
        );
    }
    for n in 0..10 {
        let status = Command::new("mosquitto_pub")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &mqtt_port,
                "-q",
                "1",
                "-t",
                "chat/in",
            ])
            .args([
                "-m",
                &format!(r#"{{"user_name":"device","body":"device {n}"}}"#),
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut rogue_out, &mut rest).unwrap();
    rogue.wait().unwrap();
    assert!(
        !rest.contains("device"),
        "the rogue subscriber received: {rest}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let bodies = host.bodies().await;
        let stored = (0..10)
            .filter(|n| bodies.contains(&format!("device {n}")))
            .count();
        let requests = (0..5)
            .filter(|n| bodies.contains(&format!("request {n}")))
            .count();
        if stored == 10 && requests == 5 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stored {stored} of 10 device messages, {requests} of 5 requests"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        !host.stderr().contains("takes clients with no credential"),
        "{}",
        host.stderr()
    );
    drop(brokers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_on_an_open_nats_warns_in_one_line() {
    let data = tempfile::tempdir().unwrap();
    let port = free_port_from(free_port()).unwrap();
    let mut open = Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("nats://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let mqtt = format!("mqtt://127.0.0.1:{}", free_port());
    let args = ["--nats-url", &url, "--mqtt-url", &mqtt];
    let host = Host::start(data.path(), &[], &args).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let warning = loop {
        let stderr = host.stderr();
        if let Some(line) = stderr
            .lines()
            .find(|l| l.contains("takes clients with no credential"))
        {
            break line.to_string();
        }
        assert!(Instant::now() < deadline, "no warning in: {stderr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(warning.contains("wasmbus.ctl.default"), "{warning}");
    assert!(warning.contains("Trust zones"), "{warning}");
    drop(host);
    let _ = open.kill();
    let _ = open.wait();
}
