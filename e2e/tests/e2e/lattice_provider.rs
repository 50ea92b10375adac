//! The providers' standalone binaries (WebSocket, MQTT and the clock), started as a wasmCloud 0.81 host
//! starts a provider: its host data on stdin, then health checks, link puts and deletes, RPC
//! both ways and shutdown, over a real NATS. The test plays the host's part with wasmbus-rpc's
//! own RPC client (signing as the host's cluster key), and the actor's with a subscription on
//! the actor's RPC subject. Also: the provider archives `cargo xtask build` packs from them.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use wasmbus_rpc::async_nats;
use wasmbus_rpc::common::{deserialize, serialize, Message};
use wasmbus_rpc::core::{
    HealthCheckRequest, HealthCheckResponse, Invocation, InvocationResponse, LinkDefinition,
    WasmCloudEntity,
};
use wasmbus_rpc::rpc_client::RpcClient;
use wasmbus_rpc::wascap::prelude::KeyPair;
use wasmcloud_interface_messaging::{PubMessage, SubMessage};

use crate::support::*;

const LATTICE: &str = "providertest";
const LINK_NAME: &str = "default";
const CONTRACT: &str = "wasmcloud:messaging";

fn provider_spec(binary: &str) -> &'static xtask::providers::ProviderSpec {
    xtask::providers::PROVIDERS
        .iter()
        .find(|spec| spec.binary == binary)
        .unwrap()
}

const WEBSOCKET: &str = "messaging-websocket";
const MQTT: &str = "messaging-mqtt";
const CLOCK: &str = "clock";

/// One lattice host's part: its keys, its NATS, and the provider process it launched.
struct LatticeHost {
    nats: Server,
    cluster: Arc<KeyPair>,
    host_id: String,
    provider_key: String,
    rpc: RpcClient,
    client: async_nats::Client,
}

impl LatticeHost {
    async fn start() -> LatticeHost {
        let nats = Server::nats();
        let cluster = Arc::new(KeyPair::new_cluster());
        let host_id = KeyPair::new_server().public_key();
        let client = async_nats::connect(nats.nats_url()).await.unwrap();
        let rpc = RpcClient::new(
            client.clone(),
            host_id.clone(),
            Some(Duration::from_secs(5)),
            cluster.clone(),
        );
        LatticeHost {
            nats,
            cluster,
            host_id,
            provider_key: KeyPair::new_service().public_key(),
            rpc,
            client,
        }
    }

    /// The host data a 0.81 host writes: base64 of the JSON, on one line.
    fn host_data(&self) -> String {
        let json = json!({
            "host_id": self.host_id,
            "lattice_rpc_prefix": LATTICE,
            "link_name": LINK_NAME,
            "lattice_rpc_user_jwt": "",
            "lattice_rpc_user_seed": "",
            "lattice_rpc_url": self.nats.nats_url(),
            "provider_key": self.provider_key,
            "invocation_seed": self.cluster.seed().unwrap(),
            "env_values": {},
            "instance_id": uuid::Uuid::new_v4().to_string(),
            "link_definitions": [],
            "cluster_issuers": [self.cluster.public_key()],
            "config_json": null,
            "default_rpc_timeout_ms": 2000,
            "structured_logging": false,
        });
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    }

    fn subject(&self, suffix: &str) -> String {
        format!(
            "wasmbus.rpc.{LATTICE}.{}.{LINK_NAME}.{suffix}",
            self.provider_key
        )
    }

    async fn healthy(&self) -> bool {
        let request = serialize(&HealthCheckRequest {}).unwrap();
        let asked = self.client.request(self.subject("health"), request.into());
        match tokio::time::timeout(Duration::from_millis(500), asked).await {
            Ok(Ok(reply)) => deserialize::<HealthCheckResponse>(&reply.payload)
                .map(|r| r.healthy)
                .unwrap_or(false),
            _ => false,
        }
    }

    fn link(&self, actor: &str, values: &[(&str, &str)]) -> LinkDefinition {
        let mut link = LinkDefinition::default();
        link.actor_id = actor.to_string();
        link.provider_id = self.provider_key.clone();
        link.link_name = LINK_NAME.to_string();
        link.contract_id = CONTRACT.to_string();
        link.values = values
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>();
        link
    }

    async fn put_link(&self, link: &LinkDefinition) {
        let subject = self.subject("linkdefs.put");
        let body = serialize(link).unwrap();
        self.client.publish(subject, body.into()).await.unwrap();
        self.client.flush().await.unwrap();
    }

    async fn delete_link(&self, link: &LinkDefinition) {
        let subject = self.subject("linkdefs.del");
        let body = serialize(link).unwrap();
        self.client.publish(subject, body.into()).await.unwrap();
        self.client.flush().await.unwrap();
    }

    /// `Messaging.Publish` from `actor`, signed by this host, as a host relays an actor's call.
    async fn publish_as(&self, actor: &str, subject: &str, body: serde_json::Value) {
        let message = PubMessage {
            subject: subject.to_string(),
            reply_to: None,
            body: body.to_string().into_bytes(),
        };
        let arg = serialize(&message).unwrap();
        self.call_as(actor, CONTRACT, "Messaging.Publish", arg)
            .await
            .expect("the provider takes the actor's publish");
    }

    /// `method` of `contract` called by `actor`, signed by this host, as a host relays an
    /// actor's call; the provider's answer.
    async fn call_as(
        &self,
        actor: &str,
        contract: &str,
        method: &str,
        arg: Vec<u8>,
    ) -> wasmbus_rpc::error::RpcResult<Vec<u8>> {
        let origin = WasmCloudEntity {
            public_key: actor.to_string(),
            link_name: String::new(),
            contract_id: String::new(),
        };
        let target = WasmCloudEntity {
            public_key: self.provider_key.clone(),
            link_name: LINK_NAME.to_string(),
            contract_id: contract.to_string(),
        };
        let message = Message {
            method,
            arg: arg.into(),
        };
        self.rpc.send(origin, target, LATTICE, message).await
    }
}

/// A provider process, killed when dropped: a failed test leaves none running.
struct Provider(Child);

impl std::ops::Deref for Provider {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Provider {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The provider binary, launched with `host_data` as its stdin line and stdin then closed, and
/// an environment as bare as a host leaves it.
fn launch(binary: &str, host_data: &str) -> Provider {
    let mut child = Command::new(provider_spec(binary).binary_path())
        .env_clear()
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the provider binary runs (cargo xtask test builds it)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(host_data.as_bytes()).unwrap();
    stdin.write_all(b"\n").unwrap();
    drop(stdin);
    Provider(child)
}

fn stderr_of(child: &mut Child) -> String {
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

async fn listening(port: u16) -> bool {
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
}

/// The next invocation on the actor's RPC subject, checked as a host checks it (signature,
/// hash, issuer), and answered.
async fn next_invocation(
    host: &LatticeHost,
    calls: &mut async_nats::Subscriber,
) -> (Invocation, SubMessage) {
    use futures::StreamExt;
    let call = tokio::time::timeout(WAIT, calls.next())
        .await
        .expect("an invocation within 10 s")
        .unwrap();
    answer(host, call).await
}

/// Checks an invocation as a host checks it (signature, hash, issuer), and answers it.
async fn answer(host: &LatticeHost, call: async_nats::Message) -> (Invocation, SubMessage) {
    let invocation: Invocation = deserialize(&call.payload).unwrap();
    let (invocation, claims) = host
        .rpc
        .validate_invocation(invocation)
        .await
        .expect("a valid, signed invocation");
    assert_eq!(claims.issuer, host.cluster.public_key());
    let message: SubMessage = deserialize(&invocation.msg).unwrap();
    let mut response = InvocationResponse::default();
    response.invocation_id = invocation.id.clone();
    host.rpc
        .publish_invocation_response(call.reply.unwrap().to_string(), response, LATTICE)
        .await
        .unwrap();
    (invocation, message)
}

#[tokio::test]
async fn the_provider_binary_serves_a_lattice_as_a_wasmcloud_host_starts_it() {
    let host = LatticeHost::start().await;
    let (mut provider, actor, mut calls) = host.launch_for_an_actor(WEBSOCKET).await;
    let port = free_port();
    let address = format!("127.0.0.1:{port}");
    let link = host.link(&actor, &[("MODE", "server"), ("URI", &address)]);
    host.put_link(&link).await;
    until_async("the link's server listens", || listening(port)).await;

    // A frame from a browser reaches the actor as a signed invocation.
    let mut session = WsSession::connect(&format!("ws://{address}/ws")).await;
    session
        .send(json!({"subject": "chat.in", "body": {"user_name": "ivy", "body": "hi"}, "reply_to": "ack.1"}))
        .await;
    let (invocation, message) = next_invocation(&host, &mut calls).await;
    assert_eq!(invocation.operation, "MessageSubscriber.HandleMessage");
    assert_eq!(invocation.origin.public_key, host.provider_key);
    assert_eq!(invocation.target.public_key, actor);
    assert_eq!(message.subject, "chat.in");
    let body: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
    assert_eq!(body, json!({"user_name": "ivy", "body": "hi"}));

    // The actor's reply reaches that session on its own subject, and a broadcast every session.
    let reply_to = message.reply_to.expect("the frame's reply subject");
    host.publish_as(&actor, &reply_to, json!({"accepted": true}))
        .await;
    let ack = session.next_frame().await;
    assert_eq!(ack, json!({"subject": "ack.1", "body": {"accepted": true}}));
    host.publish_as(&actor, "rtchat.messages", json!({"body": "to all"}))
        .await;
    assert_eq!(
        session.next_on("rtchat.messages").await["body"],
        json!({"body": "to all"})
    );

    // A link with bad values is refused with its reason; the good one goes on serving.
    let other = KeyPair::new_module().public_key();
    host.put_link(&host.link(&other, &[("MODE", "sideways")]))
        .await;
    host.publish_as(&actor, "rtchat.messages", json!({"body": "still here"}))
        .await;
    assert_eq!(
        session.next_on("rtchat.messages").await["body"],
        json!({"body": "still here"})
    );
    assert!(host.healthy().await);

    // Deleting the link closes its sessions with the reason and stops listening.
    host.delete_link(&link).await;
    let reason = session.closed_with().await;
    assert!(reason.contains("deleted"), "{reason}");
    until_async("the deleted link's port is closed", || async {
        !listening(port).await
    })
    .await;

    // Linked again, then shut down: sessions are closed with the reason, and the process ends
    // well inside the 300 ms a host waits before killing it.
    host.put_link(&link).await;
    until_async("the link's server listens again", || listening(port)).await;
    let mut session = WsSession::connect(&format!("ws://{address}/ws")).await;
    let asked = host.shut_down().await;
    let reason = session.closed_with().await;
    assert!(reason.contains("shutting down"), "{reason}");
    exits_within_the_hosts_grace(&mut provider, asked).await;
    let stderr = stderr_of(&mut provider);
    assert!(
        stderr.contains("sideways"),
        "the refusal is logged: {stderr}"
    );
}

impl LatticeHost {
    /// Launches `binary` once it answers health checks, with an actor's key and a subscription
    /// on that actor's RPC subject, where the provider's invocations arrive.
    async fn launch_for_an_actor(
        &self,
        binary: &str,
    ) -> (Provider, String, async_nats::Subscriber) {
        let provider = launch(binary, &self.host_data());
        until_async("the provider answers health checks", || self.healthy()).await;
        let actor = KeyPair::new_module().public_key();
        let calls = self
            .client
            .subscribe(format!("wasmbus.rpc.{LATTICE}.{actor}"))
            .await
            .unwrap();
        (provider, actor, calls)
    }

    /// Asks the provider to shut down, as a host does; returns when it was asked.
    async fn shut_down(&self) -> Instant {
        let asked = Instant::now();
        let shutdown = json!({ "host_id": self.host_id }).to_string();
        let ack = self
            .client
            .request(self.subject("shutdown"), shutdown.into())
            .await
            .expect("the provider acknowledges the shutdown");
        assert_eq!(&ack.payload[..], b"shutting down");
        asked
    }
}

/// The provider ends, successfully, inside the 300 ms a host waits before killing it.
async fn exits_within_the_hosts_grace(provider: &mut Child, asked: Instant) {
    let status = exited(provider, Duration::from_millis(300))
        .await
        .unwrap_or_else(|| {
            let _ = provider.kill();
            panic!("the provider was still running 300 ms after the shutdown request")
        });
    assert!(status.success(), "{status}");
    eprintln!(
        "the provider exited {:?} after the shutdown request",
        asked.elapsed()
    );
}

#[tokio::test]
async fn the_mqtt_provider_binary_serves_a_lattice_as_a_wasmcloud_host_starts_it() {
    use crate::support::mqtt::{correlation, Device};
    let (host, mosquitto) = (LatticeHost::start().await, Server::mosquitto());
    let (mut provider, actor, mut calls) = host.launch_for_an_actor(MQTT).await;
    let mut device = Device::connect(&mosquitto, "lattice-device").await;
    device.subscribe("rtchat/messages").await;
    device.subscribe("replies/lattice-device").await;
    let link = host.link(
        &actor,
        &[("URI", &mosquitto.mqtt_url()), ("SUBSCRIPTION", "chat/in")],
    );
    host.put_link(&link).await;

    // A device's MQTT 5 request reaches the actor as a signed invocation (once the link has
    // subscribed: until then the broker has no one to give it to).
    let request = json!({"user_name": "sensor-9", "body": "hi"}).to_string();
    let (invocation, message) = loop {
        device
            .request(
                "chat/in",
                request.clone(),
                "replies/lattice-device",
                b"corr-1",
            )
            .await;
        use futures::StreamExt;
        if let Ok(Some(call)) = tokio::time::timeout(Duration::from_millis(200), calls.next()).await
        {
            break answer(&host, call).await;
        }
    };
    assert_eq!(invocation.operation, "MessageSubscriber.HandleMessage");
    assert_eq!(invocation.target.public_key, actor);
    assert_eq!(message.subject, "chat.in");
    assert_eq!(message.body, request.as_bytes());

    // The actor's answer goes to the response topic with the correlation data; its fan-out to
    // rtchat/messages.
    let reply_to = message.reply_to.expect("the request's reply subject");
    host.publish_as(&actor, &reply_to, json!({"accepted": true}))
        .await;
    let reply = device.next().await;
    assert_eq!(reply.topic, "replies/lattice-device");
    assert_eq!(correlation(&reply).as_deref(), Some(&b"corr-1"[..]));
    assert_eq!(&reply.payload[..], br#"{"accepted":true}"#);
    host.publish_as(
        &actor,
        "rtchat.messages",
        json!({"body": "to every device"}),
    )
    .await;
    let (topic, fanout) = device.next_json().await;
    assert_eq!(
        (topic.as_str(), fanout),
        ("rtchat/messages", json!({"body": "to every device"}))
    );

    // A bad link is refused with its reason; shutdown ends the process in the host's grace.
    let other = KeyPair::new_module().public_key();
    host.put_link(&host.link(&other, &[("URI", "nats://not-mqtt")]))
        .await;
    assert!(host.healthy().await);
    let asked = host.shut_down().await;
    exits_within_the_hosts_grace(&mut provider, asked).await;
    let stderr = stderr_of(&mut provider);
    assert!(
        stderr.contains("mqtt://"),
        "the refusal is logged: {stderr}"
    );
}

#[tokio::test]
async fn the_clock_binary_tells_linked_actors_the_time_as_a_wasmcloud_host_starts_it() {
    let host = LatticeHost::start().await;
    let (mut provider, actor, _calls) = host.launch_for_an_actor(CLOCK).await;
    let now = || host.call_as(&actor, "mcchat:clock", "Clock.Now", Vec::new());

    // Unlinked, the actor is refused: linking is what lets it ask.
    let refused = now().await.unwrap_err().to_string();
    assert!(refused.contains("unlinked actor"), "{refused}");

    let mut link = host.link(&actor, &[]);
    link.contract_id = "mcchat:clock".into();
    host.put_link(&link).await;
    until_async("the link is put", || async { now().await.is_ok() }).await;
    let since = now_ms();
    let time: u64 = deserialize(&now().await.unwrap()).unwrap();
    assert!((since..=now_ms()).contains(&time), "{since} <= {time}");
    let wrong = host.call_as(&actor, "mcchat:clock", "Messaging.Publish", Vec::new());
    let wrong = wrong.await.unwrap_err().to_string();
    assert!(wrong.contains("not an operation of Clock"), "{wrong}");

    host.delete_link(&link).await;
    until_async("the unlinked actor is refused again", || async {
        now().await.is_err()
    })
    .await;
    let asked = host.shut_down().await;
    exits_within_the_hosts_grace(&mut provider, asked).await;
}

#[tokio::test]
async fn bad_host_data_stops_each_provider_with_one_clear_line() {
    let encode = |json: serde_json::Value| {
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    };
    for (host_data, expected) in [
        ("%%% not base64 %%%".to_string(), "not base64"),
        (
            base64::engine::general_purpose::STANDARD.encode("{not json"),
            "not host data JSON",
        ),
        (
            encode(json!({"env_values": {}, "link_definitions": [], "cluster_issuers": []})),
            "no NATS server",
        ),
        (String::new(), "no host data"),
    ] {
        for binary in [WEBSOCKET, MQTT, CLOCK] {
            let mut provider = launch(binary, &host_data);
            let status = exited(&mut provider, WAIT)
                .await
                .expect("the provider exits");
            assert!(!status.success(), "{binary}, {expected}: {status}");
            let stderr = stderr_of(&mut provider);
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(stderr.starts_with(binary), "{stderr}");
            assert!(stderr.contains(expected), "{binary}, {expected}: {stderr}");
        }
    }
}

#[test]
fn the_provider_archives_hold_their_binaries_signed_with_keys_that_stay() {
    for spec in xtask::providers::PROVIDERS {
        check_archive(spec);
    }
}

fn check_archive(spec: &xtask::providers::ProviderSpec) {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.par.gz"), dir.path().join("b.par.gz"));
    let packed = xtask::par::pack(spec, "0.1.0", &spec.binary_path(), &first).unwrap();
    let again = xtask::par::pack(spec, "0.1.0", &spec.binary_path(), &second).unwrap();
    assert_eq!(
        packed, again,
        "the same binary packs with the same key and revision"
    );
    assert!(packed.provider_key.starts_with('V'), "{packed:?}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let archive = runtime
        .block_on(provider_archive::ProviderArchive::try_load_file(&first))
        .unwrap();
    assert_eq!(archive.targets(), ["x86_64-linux"]);
    let binary = std::fs::read(spec.binary_path()).unwrap();
    assert_eq!(archive.target_bytes("x86_64-linux").unwrap(), binary);
    let claims = archive.claims().unwrap();
    assert_eq!(claims.subject, packed.provider_key);
    let metadata = claims.metadata.unwrap();
    assert_eq!(metadata.capid, spec.contract);
    assert_eq!(metadata.rev, Some(packed.revision));
    let hash = sha2_hex_upper(&binary);
    assert_eq!(metadata.target_hashes["x86_64-linux"], hash);
}

fn sha2_hex_upper(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}
