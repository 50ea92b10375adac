//! The lattice control interface with real NATS, read through `wasmcloud-control-interface`'s
//! own client (the one wash 0.24 uses): queries answered in its types with the right values,
//! CloudEvents on start, scale, stop, link changes and traps, and commands that change what runs.

use crate::support;

use std::collections::BTreeSet;
use std::time::Duration;

use async_nats_033 as nats033;
use futures::StreamExt;
use support::*;
use wasmcloud_control_interface::{Client as CtlClient, ClientBuilder, LinkDefinition};

const ALIASES: [&str; 7] = [
    "mcchat/accounts",
    "mcchat/api",
    "mcchat/chatlog",
    "mcchat/http",
    "mcchat/nats",
    "mcchat/ws",
    "mcchat/mqtt",
];

async fn ctl_client(nats: &Server) -> CtlClient {
    let connection = nats033::connect(nats.nats_url()).await.unwrap();
    ClientBuilder::new(connection)
        .lattice_prefix("default")
        .timeout(Duration::from_secs(5))
        .auction_timeout(Duration::from_secs(2))
        .build()
}

/// Subscribes to the lattice's events (CloudEvents) and returns (type, data) pairs as they come.
async fn event_feed(
    nats: &Server,
) -> tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)> {
    let connection = nats033::connect(nats.nats_url()).await.unwrap();
    let client = ClientBuilder::new(connection.clone())
        .lattice_prefix("default")
        .build();
    let mut events = client.events_receiver().await.unwrap();
    // The server has the subscription before anything that could publish starts.
    connection.flush().await.unwrap();
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let _client = client;
        while let Some(event) = events.recv().await {
            use cloudevents_07::AttributesReader;
            let data = match event.data() {
                Some(cloudevents_07::Data::Json(value)) => value.clone(),
                other => panic!("event data is not JSON: {other:?}"),
            };
            let ty = event
                .ty()
                .trim_start_matches("com.wasmcloud.lattice.")
                .to_string();
            if sender.send((ty, data)).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits for the next event of type `ty`, skipping others.
async fn next_event(
    feed: &mut tokio::sync::mpsc::UnboundedReceiver<(String, serde_json::Value)>,
    ty: &str,
) -> serde_json::Value {
    let wait = async {
        loop {
            let (got, data) = feed.recv().await.expect("the event feed is open");
            if got == ty {
                return data;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no {ty} event within 10 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_list_the_host_its_actors_claims_and_links_as_wash_reads_them() {
    let chat = TestChat::start(true).await;
    let ctl = ctl_client(&chat.nats).await;
    let host_id = chat.host.control.host_id();

    let hosts = ctl.get_hosts().await.unwrap();
    assert_eq!(hosts.len(), 1, "{hosts:?}");
    let host = &hosts[0];
    assert_eq!(host.id, host_id);
    assert!(
        host.id.starts_with('N') && host.id.len() == 56,
        "{}",
        host.id
    );
    assert_eq!(host.lattice_prefix.as_deref(), Some("default"));
    assert_eq!(host.version.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        host.ctl_host.as_deref(),
        Some(chat.nats.nats_url().as_str())
    );
    let labels = host.labels.as_ref().unwrap();
    assert_eq!(labels["hostcore.os"], std::env::consts::OS);

    let inventory = ctl.get_host_inventory(&host_id).await.unwrap();
    assert_eq!(inventory.host_id, host_id);
    let names: BTreeSet<_> = inventory
        .actors
        .iter()
        .map(|a| a.name.clone().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(
            [
                "accounts",
                "api-gateway",
                "chatlog",
                "http-channel",
                "nats-channel",
                "ws-channel",
                "mqtt-channel"
            ]
            .map(String::from)
        )
    );
    for actor in &inventory.actors {
        assert!(
            actor.id.starts_with('M') && actor.id.len() == 56,
            "{actor:?}"
        );
        assert!(
            actor.image_ref.as_deref().unwrap().starts_with("file:///"),
            "{actor:?}"
        );
        assert_eq!(actor.instances.len(), 1);
        assert_eq!(actor.instances[0].max_concurrent, u16::MAX, "unbounded");
        assert_eq!(actor.instances[0].revision, 1);
    }
    let providers: BTreeSet<_> = inventory
        .providers
        .iter()
        .map(|p| {
            (
                p.contract_id.as_str(),
                p.link_name.as_str(),
                p.name.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        providers,
        BTreeSet::from([
            (
                "wasmcloud:httpserver",
                "default",
                "HTTP server (built in)".to_string()
            ),
            (
                "wasmcloud:keyvalue",
                "default",
                "key-value: Redis or embedded (built in)".to_string()
            ),
            (
                "wasmcloud:messaging",
                "default",
                "NATS messaging (built in)".to_string()
            ),
            (
                "wasmcloud:messaging",
                "default",
                "WebSocket messaging (built in)".to_string()
            ),
            (
                "wasmcloud:messaging",
                "default",
                "MQTT messaging (built in)".to_string()
            ),
            ("mcchat:clock", "default", "clock (built in)".to_string()),
        ])
    );
    assert!(inventory.providers.iter().all(|p| p.id.starts_with('V')));

    // Claims: the subjects are the inventory's actor ids, with their aliases and capabilities.
    let claims = ctl.get_claims().await.unwrap();
    assert_eq!(claims.len(), ALIASES.len());
    let actor_ids: BTreeSet<_> = inventory.actors.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        claims
            .iter()
            .map(|c| c["sub"].clone())
            .collect::<BTreeSet<_>>(),
        actor_ids
    );
    let aliases: BTreeSet<_> = claims.iter().map(|c| c["call_alias"].as_str()).collect();
    assert_eq!(aliases, BTreeSet::from(ALIASES));
    let chatlog = claims
        .iter()
        .find(|c| c["call_alias"] == "mcchat/chatlog")
        .unwrap();
    assert_eq!(
        chatlog["caps"],
        "wasmcloud:builtin:logging,wasmcloud:keyvalue"
    );
    assert!(chatlog["iss"].starts_with('A'), "{chatlog:?}");

    // Links: the manifest's eight, with their values and the inventory's provider ids.
    let links = ctl.query_links().await.unwrap();
    assert_eq!(links.len(), 8, "{links:?}");
    let nats_link = links
        .iter()
        .find(|l| l.contract_id == "wasmcloud:messaging" && l.values.contains_key("SUBSCRIPTION"))
        .unwrap();
    assert_eq!(
        nats_link.values["SUBSCRIPTION"],
        "chat.in,chat.in.>,chat.signup,chat.signon,chat.refresh,chat.signoff"
    );
    assert!(actor_ids.contains(&nats_link.actor_id));
    let provider_ids: BTreeSet<_> = inventory.providers.iter().map(|p| p.id.clone()).collect();
    assert!(links.iter().all(|l| provider_ids.contains(&l.provider_id)));

    // A second host on the lattice: both answer the hosts query.
    let data = tempfile::tempdir().unwrap();
    let (second, _) = start(config(&chat.nats, chat.redis.as_ref(), data.path())).await;
    // The query gathers the answers that come within its timeout; on a busy machine a host's
    // may come later, so ask again until both are heard.
    let both = BTreeSet::from([host_id, second.control.host_id()]);
    until_async("both hosts answer the hosts query", || async {
        let hosts: BTreeSet<_> = ctl
            .get_hosts()
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        hosts == both
    })
    .await;
    second.shutdown().await;
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_scale_stop_and_relink_actors_and_events_report_each_change() {
    let (nats, redis, data) = (
        Server::nats(),
        Server::redis(),
        tempfile::tempdir().unwrap(),
    );
    let mut feed = event_feed(&nats).await;
    let (host, base) = start(config(&nats, Some(&redis), data.path())).await;
    let host_id = host.control.host_id();
    let ctl = ctl_client(&nats).await;

    // What a start announces.
    let started = next_event(&mut feed, "actor_started").await;
    assert!(ALIASES.contains(&started["claims"]["call_alias"].as_str().unwrap()));
    let provider = next_event(&mut feed, "provider_started").await;
    assert_eq!(provider["host_id"], host_id.as_str());
    next_event(&mut feed, "linkdef_set").await;
    let host_started = next_event(&mut feed, "host_started").await;
    assert_eq!(
        host_started["actors"].as_object().unwrap().len(),
        ALIASES.len()
    );

    let inventory = ctl.get_host_inventory(&host_id).await.unwrap();
    let actor_id = |name: &str| {
        inventory
            .actors
            .iter()
            .find(|a| a.name.as_deref() == Some(name))
            .unwrap()
            .id
            .clone()
    };

    // Scale: the instance limit changes, and the chat still works within it.
    let api = actor_id("api-gateway");
    let ack = ctl
        .scale_actor(&host_id, &api, Some(1), None)
        .await
        .unwrap();
    assert!(ack.accepted, "{ack:?}");
    let scaled = next_event(&mut feed, "actor_scaled").await;
    assert_eq!(scaled["max_instances"], 1);
    let inventory_now = ctl.get_host_inventory(&host_id).await.unwrap();
    let api_now = inventory_now.actors.iter().find(|a| a.id == api).unwrap();
    assert_eq!(api_now.instances[0].max_concurrent, 1);
    assert_eq!(
        post(&base, r#"{"user_name":"a","body":"one at a time"}"#)
            .await
            .status(),
        201
    );

    // Stop: the actor leaves the inventory and writes are refused with a reason; scaling it
    // back starts it again.
    let ack = ctl.stop_actor(&host_id, &api, None).await.unwrap();
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        next_event(&mut feed, "actor_stopped").await["public_key"],
        api.as_str()
    );
    let inventory_now = ctl.get_host_inventory(&host_id).await.unwrap();
    assert!(inventory_now.actors.iter().all(|a| a.id != api));
    let refused = post(&base, r#"{"user_name":"a","body":"nobody home"}"#).await;
    assert!(refused.status().is_server_error(), "{}", refused.status());
    assert!(refused.json::<serde_json::Value>().await.unwrap()["reason"].is_string());
    let ack = ctl.scale_actor(&host_id, &api, None, None).await.unwrap();
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        next_event(&mut feed, "actor_started").await["public_key"],
        api.as_str()
    );
    assert_eq!(
        post(&base, r#"{"user_name":"a","body":"back"}"#)
            .await
            .status(),
        201
    );

    // Link delete and put change routing: without its key-value link chatlog cannot store.
    let claims = ctl.get_claims().await.unwrap();
    let chatlog = claims
        .iter()
        .find(|c| c["call_alias"] == "mcchat/chatlog")
        .unwrap();
    let links = ctl.query_links().await.unwrap();
    let kv_link: LinkDefinition = links
        .into_iter()
        .find(|l| l.contract_id == "wasmcloud:keyvalue" && l.actor_id == chatlog["sub"])
        .unwrap();
    let ack = ctl
        .remove_link(&kv_link.actor_id, &kv_link.contract_id, &kv_link.link_name)
        .await
        .unwrap();
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        next_event(&mut feed, "linkdef_deleted").await["actor_id"],
        kv_link.actor_id.as_str()
    );
    assert_eq!(ctl.query_links().await.unwrap().len(), 7);
    let unlinked = post(&base, r#"{"user_name":"a","body":"no store"}"#).await;
    assert_eq!(unlinked.status(), 503);
    let ack = ctl
        .advertise_link(
            &kv_link.actor_id,
            &kv_link.provider_id,
            &kv_link.contract_id,
            &kv_link.link_name,
            kv_link.values.clone(),
        )
        .await
        .unwrap();
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        next_event(&mut feed, "linkdef_set").await["actor_id"],
        kv_link.actor_id.as_str()
    );
    assert_eq!(
        post(&base, r#"{"user_name":"a","body":"stored again"}"#)
            .await
            .status(),
        201
    );

    // A command for an actor this host does not run is refused with a reason.
    let ack = ctl
        .scale_actor(&host_id, "MNOTANACTOR", Some(2), None)
        .await
        .unwrap();
    assert!(
        !ack.accepted && ack.error.contains("not on this host"),
        "{ack:?}"
    );

    let bodies: Vec<String> = all_messages(&base, 50)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["one at a time", "back", "stored again"]);
    host.shutdown().await;
    assert!(next_event(&mut feed, "host_stopped").await["labels"].is_object());
}

/// A chat whose host loads modules from files for control commands (`--allow-file-load`).
async fn chat_allowing_file_loads() -> TestChat {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let mut settings = config(&nats, None, data.path());
    settings.allow_file_load = true;
    let (host, base) = start(settings).await;
    TestChat {
        nats,
        redis: None,
        data,
        host,
        base,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_replaces_the_module_and_a_trap_is_an_event() {
    let chat = chat_allowing_file_loads().await;
    let mut feed = event_feed(&chat.nats).await;
    let ctl = ctl_client(&chat.nats).await;
    let host_id = chat.host.control.host_id();
    let http = chat
        .host
        .control
        .router
        .actor("mcchat/http")
        .unwrap()
        .identity();
    let scratch = tempfile::tempdir().unwrap();
    let trapping = sign_as("http-channel", ALWAYS_TRAPS, scratch.path());

    let ack = ctl
        .update_actor(
            &host_id,
            &http.public_key,
            &format!("file://{}", trapping.display()),
            None,
        )
        .await
        .unwrap();
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        next_event(&mut feed, "actor_updated").await["public_key"],
        http.public_key.as_str()
    );
    let failed = post(&chat.base, r#"{"user_name":"a","body":"boom"}"#).await;
    assert_eq!(failed.status(), 500);
    let trapped = next_event(&mut feed, "actor_instance_trapped").await;
    assert_eq!(trapped["call_alias"], "mcchat/http");
    assert_eq!(trapped["operation"], "HttpServer.HandleRequest");

    // Back to the real module; then a module signed by another key is refused.
    let original = workspace_root().join("build/http_channel_s.wasm");
    let ack = ctl
        .update_actor(
            &host_id,
            &http.public_key,
            &format!("file://{}", original.display()),
            None,
        )
        .await
        .unwrap();
    assert!(ack.accepted, "{ack:?}");
    assert_eq!(
        post(&chat.base, r#"{"user_name":"a","body":"fine"}"#)
            .await
            .status(),
        201
    );
    let chatlog_module = workspace_root().join("build/chatlog_s.wasm");
    let ack = ctl
        .update_actor(
            &host_id,
            &http.public_key,
            &format!("file://{}", chatlog_module.display()),
            None,
        )
        .await
        .unwrap();
    assert!(
        !ack.accepted && ack.error.contains("keeps the actor's key"),
        "{ack:?}"
    );
    chat.stop().await;
}

/// What an update may load is bounded: no file without `--allow-file-load`, and with it no
/// device, no file over the limit and nothing but WebAssembly, each refused in words that say
/// neither what the file holds nor whether it exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_loads_no_file_unless_allowed_and_then_only_webassembly() {
    let chat = TestChat::start(false).await;
    let ctl = ctl_client(&chat.nats).await;
    let host_id = chat.host.control.host_id();
    let http = chat
        .host
        .control
        .router
        .actor("mcchat/http")
        .unwrap()
        .identity();
    let original = workspace_root().join("build/http_channel_s.wasm");
    let ack = ctl
        .update_actor(
            &host_id,
            &http.public_key,
            &format!("file://{}", original.display()),
            None,
        )
        .await
        .unwrap();
    assert!(!ack.accepted, "{ack:?}");
    assert!(ack.error.contains("--allow-file-load"), "{}", ack.error);
    chat.stop().await;

    let chat = chat_allowing_file_loads().await;
    let ctl = ctl_client(&chat.nats).await;
    let host_id = chat.host.control.host_id();
    let scratch = tempfile::tempdir().unwrap();
    let oversized = scratch.path().join("big.wasm");
    let mut big = b"\0asm".to_vec();
    big.resize(65 << 20, 0);
    std::fs::write(&oversized, big).unwrap();
    let mut refusals = Vec::new();
    for path in [
        "/dev/zero".into(),
        "/etc/passwd".into(),
        "/no/such/file".into(),
        scratch.path().display().to_string(),
        oversized.display().to_string(),
    ] {
        let ack = ctl
            .update_actor(&host_id, &http.public_key, &format!("file://{path}"), None)
            .await
            .unwrap();
        assert!(!ack.accepted, "{path}: {ack:?}");
        assert!(!ack.error.contains("root"), "{path}: {}", ack.error);
        refusals.push(ack.error.replace(&path, "PATH"));
    }
    assert!(
        refusals.iter().all(|refusal| *refusal == refusals[0]),
        "refusals differ by file: {refusals:#?}"
    );
    // The host is unharmed: its memory did not take a device's endless bytes.
    assert_eq!(
        post(&chat.base, r#"{"user_name":"a","body":"still here"}"#)
            .await
            .status(),
        201
    );
    chat.stop().await;
}

#[tokio::test]
async fn events_are_cloudevents_on_the_general_and_the_named_subject() {
    let nats = Server::nats();
    let client = nats_client(&nats).await;
    let mut named = client
        .subscribe("wasmbus.evt.default.host_started")
        .await
        .unwrap();
    subscribed(&client).await;
    let data = tempfile::tempdir().unwrap();
    let (host, _) = start(config(&nats, None, data.path())).await;
    let message = tokio::time::timeout(Duration::from_secs(10), named.next())
        .await
        .unwrap()
        .unwrap();
    let event: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
    assert_eq!(event["specversion"], "1.0");
    assert_eq!(event["type"], "com.wasmcloud.lattice.host_started");
    assert_eq!(event["source"], host.control.host_id().as_str());
    assert_eq!(event["datacontenttype"], "application/json");
    assert!(event["time"].as_str().unwrap().contains('T'));
    assert_eq!(event["data"]["version"], env!("CARGO_PKG_VERSION"));
    host.shutdown().await;
}
