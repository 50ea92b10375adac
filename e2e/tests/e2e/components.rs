//! Actors as WebAssembly components (`cargo xtask build` composes them into
//! `build/*_component_s.wasm`), run beside modules from one manifest and held to the same
//! claims (an unsigned one is refused in `claims.rs`, with the module). The chat's own tests
//! also run with every actor a component (`cargo xtask test`).

use crate::support;

use std::path::{Path, PathBuf};

use support::*;
use xtask::components::{ComponentSpec, Sender, QUIET_LOGGING};

/// A copy of wadm.yaml with `actors` running as their signed components.
fn manifest_with_components(dir: &Path, actors: &[&str]) -> PathBuf {
    manifest_copy(dir, |text| {
        actors.iter().fold(text, |text, actor| {
            text.replace(
                &format!("build/{actor}_s.wasm"),
                &format!("build/{actor}_component_s.wasm"),
            )
        })
    })
}

fn signed_chatlog_component() -> Vec<u8> {
    std::fs::read(workspace_root().join("build/chatlog_component_s.wasm"))
        .expect("run `cargo xtask build` first")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_manifest_runs_the_chat_log_as_a_component_beside_modules() {
    let (nats, redis, dir) = (
        Server::nats(),
        Server::redis(),
        tempfile::tempdir().unwrap(),
    );
    let mut config = config(&nats, Some(&redis), dir.path());
    config.manifest = manifest_with_components(dir.path(), &["chatlog"]);
    config.dashboard_addr = "127.0.0.1:0".parse().unwrap();
    let (host, base) = start(config).await;
    let kinds = host.actor_kinds();
    assert!(
        kinds.contains(&("mcchat/chatlog".into(), "component")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("mcchat/api".into(), "module")),
        "{kinds:?}"
    );
    // The dashboard says so too.
    let state: serde_json::Value =
        reqwest::get(format!("{}api/state", host.dashboard_url().unwrap()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let kind_of = |alias: &str| {
        state["actors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["call_alias"] == alias)
            .map(|a| a["kind"].clone())
    };
    assert_eq!(kind_of("mcchat/chatlog"), Some("component".into()));
    assert_eq!(kind_of("mcchat/http"), Some("module".into()));

    // HTTP (a module) through the API (a module) into the chat log (a component), fanned out
    // to NATS (a module); and a NATS request the same way.
    let client = nats_client(&nats).await;
    let mut fanout = client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&client).await;
    let since = now_ms();
    post_stored(
        &base,
        r#"{"user_name":"mia","body":"stored by a component"}"#,
    )
    .await;
    let relayed = next_fanout(&mut fanout).await;
    assert_eq!(relayed["body"], "stored by a component");
    assert_eq!(relayed["sourceChannel"], "http");
    let ack = chat_in(&client, r#"{"user_name":"noor","body":"from nats"}"#).await;
    assert_eq!(ack, serde_json::json!({"accepted": true}));
    let refused = chat_in(&client, r#"{"user_name":"","body":"no name"}"#).await;
    assert_eq!(refused["accepted"], false);
    assert_eq!(refused["reason"], "user_name must not be empty");

    // The history the component wrote is the modules' format, in Redis.
    let history = all_messages(&base, 10).await;
    let bodies: Vec<&str> = history
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["stored by a component", "from nats"]);
    assert_eq!(history[0]["channelName"], "http");
    assert_eq!(history[0]["index"], 0);
    let mut redis_conn = redis.redis_connection().await;
    let stored: Vec<String> = redis::cmd("LRANGE")
        .arg("chatlog:messages")
        .arg(0)
        .arg(-1)
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    let first: serde_json::Value = serde_json::from_str(&stored[0]).unwrap();
    assert_eq!(first["ts"], history[0]["ts"]);
    assert_eq!(
        untimed(first, since),
        serde_json::json!({"id": history[0]["id"], "sourceUser": "mia", "channelName": "http", "body": "stored by a component"})
    );
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_component_is_refused() {
    let (nats, dir) = (Server::nats(), tempfile::tempdir().unwrap());
    let signed = signed_chatlog_component();
    // One bit flipped, at two places in the composed component (each inside one of the
    // components it nests): the hash covers them all.
    for at in [signed.len() / 2, signed.len() / 10] {
        let mut component = signed.clone();
        component[at] ^= 0x01;
        let tampered = dir.path().join(format!("chatlog_tampered_{at}.wasm"));
        std::fs::write(&tampered, component).unwrap();
        let error = start_error(
            &nats,
            manifest_with_chatlog(dir.path(), &tampered),
            dir.path(),
        )
        .await;
        assert!(
            error.contains("refusing actor chatlog") && error.contains("tampered"),
            "{error}"
        );
    }
    // Untouched, the same file runs.
    let untouched = dir.path().join("chatlog_component_s.wasm");
    std::fs::write(&untouched, &signed).unwrap();
    let mut config = config(&nats, None, dir.path());
    config.manifest = manifest_with_chatlog(dir.path(), &untouched);
    let (host, base) = start(config).await;
    post_stored(&base, r#"{"user_name":"ok","body":"signed and whole"}"#).await;
    host.shutdown().await;
}

/// The chatlog's logic composed as `cargo xtask build` composes it, but with `logging` as its
/// logging adapter.
fn chatlog_with_logging(logging: Sender) -> ComponentSpec {
    const KEYVALUE: Sender = Sender {
        package: "keyvalue-sender",
        feature: None,
    };
    let standard = ComponentSpec::for_actor("chatlog").unwrap();
    let senders: &'static [Sender] = if logging.feature.is_some() {
        &[KEYVALUE, QUIET_LOGGING]
    } else {
        standard.senders
    };
    assert!(senders
        .iter()
        .any(|s| s.package == logging.package && s.feature == logging.feature));
    ComponentSpec {
        senders,
        ..*standard
    }
}

/// A child process that is stopped when the test ends, passed or failed.
struct KilledOnDrop(std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether a real `mcchat up` running `manifest` logs the chat log's refusal of a message, a
/// `debug` entry. A `warn` entry the chat log writes afterwards (an unreadable history entry,
/// put into Redis) marks where the refusal's line would have been: log lines come in order.
async fn logs_the_refusal(manifest: &Path, nats: &Server, redis: &Server, data: &Path) -> bool {
    use std::io::{BufRead, BufReader};

    let http_port = free_port();
    let mut host = KilledOnDrop(
        std::process::Command::new(support::mcchat_binary())
            .args(["up", "--manifest"])
            .arg(manifest)
            .args(["--ws-addr", "127.0.0.1:0", "--dashboard-addr", "off"])
            .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
            .args([
                "--nats-url",
                &nats.nats_url(),
                "--redis-url",
                &redis.redis_url(),
            ])
            .args(["--mqtt-url", &shared_mosquitto_url()])
            .arg("--data-dir")
            .arg(data)
            .arg("--compile-cache")
            .arg(shared_compile_cache())
            .env("RUST_LOG", "info,mcchat::actor=debug")
            // The log goes to stderr.
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting mcchat"),
    );
    let lines = BufReader::new(host.0.stderr.take().unwrap()).lines();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let base = format!("http://127.0.0.1:{http_port}");
    until_serving(&base, std::time::Duration::from_secs(30)).await;

    let refused = post(&base, r#"{"user_name":" ","body":"no name"}"#).await;
    assert_eq!(refused.status(), 400);
    let mut redis_conn = redis.redis_connection().await;
    let _: i64 = redis::cmd("RPUSH")
        .arg("chatlog:messages")
        .arg("not json at all")
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg("chatlog:messages:length-hint")
        .query_async(&mut redis_conn)
        .await
        .unwrap();
    assert_eq!(
        reqwest::get(format!("{base}/messages"))
            .await
            .unwrap()
            .status(),
        200
    );

    let mut refusal_logged = false;
    loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(10), receiver.recv())
            .await
            .expect("the warning about the unreadable entry is logged")
            .expect("mcchat is running");
        refusal_logged |= line.contains("refused message") && line.contains("user_name");
        if line.contains("skipped an unreadable history entry") {
            break;
        }
    }
    drop(host);
    refusal_logged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_logging_adapter_changes_what_is_logged_without_rebuilding_the_logic() {
    let dir = tempfile::tempdir().unwrap();
    let logic = xtask::components::core_module("chatlog-component", None);
    let logic_before = std::fs::read(&logic).expect("run `cargo xtask build` first");
    let mut refusals_logged = Vec::new();
    let standard = Sender {
        package: "logging-sender",
        feature: None,
    };
    for (name, logging) in [("standard", standard), ("quiet", QUIET_LOGGING)] {
        let (nats, redis) = (Server::nats(), Server::redis());
        let signed = dir.path().join(format!("chatlog_{name}_logging_s.wasm"));
        xtask::components::compose_and_sign(
            &chatlog_with_logging(logging),
            "test",
            &dir.path().join(format!("chatlog_{name}_logging.wasm")),
            &signed,
        )
        .unwrap();
        let manifest = manifest_with_chatlog(dir.path(), &signed);
        let data = dir.path().join(name);
        refusals_logged.push(logs_the_refusal(&manifest, &nats, &redis, &data).await);
    }
    // The standard adapter passes the debug entry on; the quiet build of it (`warnings-only`)
    // keeps only warnings, and the logic's code is the very same bytes in both.
    assert_eq!(refusals_logged, [true, false]);
    assert_eq!(std::fs::read(&logic).unwrap(), logic_before);
}
