//! Actors and the provider archive through a real OCI registry (Debian's `docker-registry`):
//! pushed as `cargo xtask push` pushes them, then run by the host from the manifest that push
//! writes, pinned by digest.

use crate::support;

use std::path::{Path, PathBuf};

use mcchat_host::HostConfig;
use support::*;

/// A registry holding the six signed actors and the provider archives, and the manifest that
/// names them by digest.
struct PushedChat {
    registry: Server,
    storage: tempfile::TempDir,
    manifest: PathBuf,
    pushed: Vec<xtask::push::Pushed>,
}

async fn push_to_a_fresh_registry() -> PushedChat {
    let storage = tempfile::tempdir().unwrap();
    let registry = Server::registry(storage.path());
    let address = registry.registry_address();
    let pushed = tokio::task::spawn_blocking(move || {
        pack_providers_once();
        xtask::push::push_all(&address, env!("CARGO_PKG_VERSION"), true)
    })
    .await
    .unwrap()
    .expect("xtask push to the test registry");
    let manifest = storage.path().join("wadm.oci.yaml");
    std::fs::write(&manifest, xtask::push::oci_manifest(&pushed).unwrap()).unwrap();
    PushedChat {
        registry,
        storage,
        manifest,
        pushed,
    }
}

/// The provider archives in `build/`, packed as `cargo xtask build` packs them, once for all
/// the tests that push them.
fn pack_providers_once() {
    static PACKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    PACKED.get_or_init(|| {
        for provider in xtask::providers::PROVIDERS {
            let (binary, archive) = (provider.binary_path(), provider.archive_path());
            xtask::par::pack(provider, env!("CARGO_PKG_VERSION"), &binary, &archive)
                .expect("packing the provider archive");
        }
    });
}

fn config_for(chat: &PushedChat, nats: &Server, data_dir: &Path) -> HostConfig {
    let mut config = config(nats, None, data_dir);
    config.manifest = chat.manifest.clone();
    config.allowed_insecure = vec![chat.registry.registry_address()];
    config
}

async fn start_error(config: HostConfig) -> String {
    match mcchat_host::start(config).await {
        Ok(host) => {
            host.shutdown().await;
            panic!("the host started");
        }
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn the_chat_runs_from_actors_pulled_out_of_a_registry() {
    let chat = push_to_a_fresh_registry().await;
    let manifest = std::fs::read_to_string(&chat.manifest).unwrap();
    for pushed in &chat.pushed {
        assert!(
            manifest.contains(&format!("image: {}\n", pushed.pinned())),
            "{manifest}"
        );
        assert!(pushed.digest.starts_with("sha256:"), "{}", pushed.digest);
    }
    assert!(!manifest.contains("file://"), "{manifest}");

    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let (host, base) = start(config_for(&chat, &nats, data.path())).await;
    let client = nats_client(&nats).await;
    let mut fanout = client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&client).await;

    let response = post(&base, r#"{"user_name":"ada","body":"from the registry"}"#).await;
    assert_eq!(response.status(), 201);
    let relayed = next_fanout(&mut fanout).await;
    assert_eq!(relayed["body"], "from the registry");
    assert_eq!(relayed["sourceChannel"], "http");
    let ack = chat_in(&client, r#"{"user_name":"bob","body":"over nats"}"#).await;
    assert_eq!(ack["accepted"], true, "{ack}");
    let bodies: Vec<String> = all_messages(&base, 10)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["from the registry", "over nats"]);
    host.shutdown().await;

    // Pinned by digest, the actors now start from the cache, registry or not.
    let mut chat = chat;
    chat.registry.kill();
    let (host, base) = start(config_for(&chat, &nats, data.path())).await;
    assert_eq!(all_messages(&base, 10).await.len(), 2);
    host.shutdown().await;
}

#[tokio::test]
async fn a_blob_changed_in_the_registry_is_refused() {
    let chat = push_to_a_fresh_registry().await;
    let chatlog = &chat.pushed[0];
    assert_eq!(chatlog.name, "chatlog");
    let layer = layer_digest(&chat, "chatlog", &chatlog.digest).await;
    let blob = chat
        .storage
        .path()
        .join("data/docker/registry/v2/blobs/sha256")
        .join(&layer[7..9])
        .join(&layer[7..])
        .join("data");
    let mut module = std::fs::read(&blob).unwrap();
    let middle = module.len() / 2;
    module[middle] ^= 0xff;
    std::fs::write(&blob, module).unwrap();

    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let error = start_error(config_for(&chat, &nats, data.path())).await;
    assert!(error.contains(&chatlog.pinned()), "{error}");
    assert!(error.contains("does not match its digest"), "{error}");
}

#[tokio::test]
async fn a_stopped_registry_an_unknown_tag_and_plain_http_each_say_what_failed() {
    let mut chat = push_to_a_fresh_registry().await;
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let address = chat.registry.registry_address();

    // Plain HTTP is refused unless the registry is allowed.
    let mut https_only = config_for(&chat, &nats, data.path());
    https_only.allowed_insecure.clear();
    let error = start_error(https_only).await;
    assert!(error.contains(&chat.pushed[0].pinned()), "{error}");
    assert!(
        error.contains(&format!("--allowed-insecure {address}")),
        "{error}"
    );

    // A tag that was never pushed.
    let unknown = format!("{address}/mcchat/chatlog:9.9.9");
    let text = std::fs::read_to_string(&chat.manifest)
        .unwrap()
        .replace(&chat.pushed[0].pinned(), &unknown);
    std::fs::write(&chat.manifest, text).unwrap();
    let error = start_error(config_for(&chat, &nats, data.path())).await;
    assert!(error.contains(&unknown), "{error}");
    assert!(error.contains("is not in its registry"), "{error}");

    // Nothing listening: a fresh data dir has no cache to fall back on.
    chat.registry.kill();
    let fresh = tempfile::tempdir().unwrap();
    let error = start_error(config_for(&chat, &nats, fresh.path())).await;
    assert!(error.contains(&unknown), "{error}");
    assert!(
        error.contains(&format!("cannot reach the registry {address}")),
        "{error}"
    );
}

/// The manifest `manifest_digest` of `repository`, read from the registry's own API.
async fn oci_manifest(chat: &PushedChat, repository: &str, digest: &str) -> serde_json::Value {
    let url = format!(
        "http://{}/v2/mcchat/{repository}/manifests/{digest}",
        chat.registry.registry_address()
    );
    reqwest::Client::new()
        .get(url)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Checks an artifact's one layer and its config carry the media types wash gives them.
fn assert_media_types(manifest: &serde_json::Value, layer: &str, config: &str) {
    assert_eq!(manifest["layers"][0]["mediaType"], layer, "{manifest}");
    assert_eq!(manifest["config"]["mediaType"], config, "{manifest}");
}

/// The digest of the actor module's layer, checked to carry wash's media types.
async fn layer_digest(chat: &PushedChat, actor: &str, manifest_digest: &str) -> String {
    let manifest = oci_manifest(chat, actor, manifest_digest).await;
    assert_media_types(
        &manifest,
        "application/vnd.module.wasm.content.layer.v1+wasm",
        "application/vnd.wasmcloud.actor.archive.config",
    );
    manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_provider_archive_is_pushed_with_the_media_types_wash_gives_one() {
    let chat = push_to_a_fresh_registry().await;
    let archive = chat
        .pushed
        .iter()
        .find(|p| p.file_name == "messaging_websocket.par.gz")
        .expect("the WebSocket provider's archive was pushed");
    assert_eq!(archive.name, "messaging-websocket");
    let manifest = oci_manifest(&chat, archive.name, &archive.digest).await;
    assert_media_types(
        &manifest,
        "application/vnd.wasmcloud.provider.archive.layer.v1+par",
        "application/vnd.wasmcloud.provider.archive.config",
    );
    let packed = std::fs::read(xtask::providers::PROVIDERS[0].archive_path()).unwrap();
    assert_eq!(
        manifest["layers"][0]["size"],
        serde_json::json!(packed.len())
    );
}
