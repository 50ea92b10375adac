//! A host that cannot start says why, instead of running half a chat.

use crate::support;

use mcchat_host::capacity::{ActorShape, BoundsChecks, Capacity, Limits};
use mcchat_host::precompile;
use mcchat_host::runtime::Runtime;
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

/// Every compiled module under `dir` (not wasmtime's usage statistics, nor the files its atomic
/// writes of them go through, which a loading host makes and renames), with its modification
/// time.
fn modules_with_times(dir: &std::path::Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(".wip-") {
                continue;
            }
            let metadata = entry.metadata().unwrap();
            if metadata.is_dir() {
                folders.push(entry.path());
            } else if !name.starts_with('.') && !name.ends_with(".stats") {
                files.push((entry.path(), metadata.modified().unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_start_runs_the_actors_compiled_by_the_first() {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    // This host's own cache, in its data dir, not the one the other tests share.
    let mut own_cache = config(&nats, None, data.path());
    own_cache.compile_cache = None;
    let (host, _) = start(own_cache.clone()).await;
    host.shutdown().await;
    let compiled = data.path().join("compiled");
    // wasmtime writes its cache in the background.
    until("the seven compiled actors are cached", || {
        modules_with_times(&compiled).len() == 7
    })
    .await;
    let first = modules_with_times(&compiled);

    let (host, base) = start(own_cache).await;
    let response = post(&base, r#"{"user_name":"ada","body":"warm start"}"#).await;
    assert_eq!(response.status(), 201);
    host.shutdown().await;
    assert_eq!(
        modules_with_times(&compiled),
        first,
        "the cache was compiled again"
    );
}

/// The child compiles what the host's engine then loads without compiling, for either kind of
/// memory: it keys the cache on the same settings, though it reserves no instances.
#[test]
fn a_child_process_compiles_actors_into_the_cache_the_host_loads() {
    let chatlog = std::fs::read(workspace_root().join("build/chatlog_s.wasm")).unwrap();
    let shape = ActorShape::of(&chatlog).unwrap();
    for address_space in [u64::MAX, 1 << 30] {
        let cache = tempfile::tempdir().unwrap();
        let limits = Limits {
            instances_per_actor: 2,
            address_space,
        };
        let capacity = Capacity::plan(&[shape], limits).unwrap();
        let bounds_checks = capacity.bounds_checks;
        precompile::in_child(
            &support::mcchat_binary(),
            cache.path(),
            bounds_checks,
            &[&chatlog],
        )
        .unwrap();
        let compiled = modules_with_times(cache.path());
        assert_eq!(compiled.len(), 1, "the child cached nothing");
        Runtime::with_compile_cache(cache.path(), capacity)
            .unwrap()
            .compile(&chatlog)
            .unwrap();
        assert_eq!(
            modules_with_times(cache.path()),
            compiled,
            "the host compiled again ({bounds_checks:?})"
        );
    }
}

#[test]
fn a_module_the_child_cannot_compile_is_reported() {
    let cache = tempfile::tempdir().unwrap();
    // A real actor after the bad one: the child stops reading at the first, mid-stream.
    let chatlog = std::fs::read(workspace_root().join("build/chatlog_s.wasm")).unwrap();
    let error = precompile::in_child(
        &support::mcchat_binary(),
        cache.path(),
        BoundsChecks::Elided,
        &[b"not wasm", &chatlog],
    )
    .expect_err("garbage compiled");
    let error = format!("{error:#}");
    assert!(error.contains("compile-actors failed"), "{error}");
    assert!(modules_with_times(cache.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_whose_compiler_cannot_run_compiles_the_actors_itself() {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let mut config = config(&nats, None, data.path());
    // A cache of its own, empty, so the host really compiles.
    config.compile_cache = None;
    config.compiler = Some(data.path().join("no-such-compiler"));
    let (host, base) = start(config).await;
    let response = post(&base, r#"{"user_name":"ada","body":"compiled here"}"#).await;
    assert_eq!(response.status(), 201);
    host.shutdown().await;
}
