//! A host that cannot start says why, instead of running half a chat.

mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_the_start_with_a_clear_message() {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = config(&nats, None, data.path());
    config.embedded_kv = false;
    config.redis_url = Some(format!("redis://127.0.0.1:{closed_port}"));
    let error = match mcchat_host::start(config).await {
        Ok(_) => panic!("the host started without its store"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        error.contains("starting wasmcloud:keyvalue for chatlog"),
        "{error}"
    );
    assert!(
        error.contains(&format!(
            "connecting to Redis at redis://127.0.0.1:{closed_port}"
        )),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_manifest_or_actor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let nats = Server::nats();
    let mut config = config(&nats, None, dir.path());
    config.manifest = dir.path().join("nope.yaml");
    let error = format!(
        "{:#}",
        mcchat_host::start(config.clone())
            .await
            .err()
            .expect("no manifest, no start")
    );
    assert!(
        error.contains("reading manifest") && error.contains("nope.yaml"),
        "{error}"
    );

    let manifest = dir.path().join("wadm.yaml");
    std::fs::write(
        &manifest,
        std::fs::read_to_string(support::manifest()).unwrap(),
    )
    .unwrap();
    config.manifest = manifest;
    let error = format!(
        "{:#}",
        mcchat_host::start(config)
            .await
            .err()
            .expect("no actors, no start")
    );
    assert!(
        error.contains("reading actor chatlog") && error.contains("cargo xtask build"),
        "{error}"
    );
}
