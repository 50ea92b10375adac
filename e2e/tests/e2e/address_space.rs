//! A host reserves address space for what it runs (each actor's memories, `--max-instances`
//! instances of each), not for a fixed worst case: sixteen hosts whose actors are all
//! components fit in one process, and a reservation that cannot be made is one clear line.

use std::process::Command;

use crate::support::*;

use mcchat_host::capacity::BoundsChecks;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_hosts_whose_actors_are_all_components_run_in_one_process() {
    let nats = Server::nats();
    let manifest = workspace_root().join("build/wadm.components.yaml");
    let mut chats = Vec::new();
    for _ in 0..16 {
        let data = tempfile::tempdir().unwrap();
        let mut config = config(&nats, None, data.path());
        config.manifest = manifest.clone();
        let (host, base) = start(config).await;
        chats.push((data, host, base));
    }
    for (n, (_, host, base)) in chats.iter().enumerate() {
        // The accounts actor has no component build yet: it runs as its module.
        assert!(host
            .actor_kinds()
            .iter()
            .all(|(label, kind)| *kind == "component" || label == "mcchat/accounts"));
        let capacity = host.control.capacity();
        // Six composed actors of 4 to 7 memories each do not fit 4 TiB with 4 GiB memories.
        assert_eq!(capacity.bounds_checks, BoundsChecks::Emitted, "{capacity}");
        assert!(
            capacity.reserved() < 1 << 40,
            "{capacity} reserves {} bytes",
            capacity.reserved()
        );
        post_stored(
            base,
            &format!(r#"{{"user_name":"host{n}","body":"hello"}}"#),
        )
        .await;
    }
    for (_, host, _) in chats {
        host.shutdown().await;
    }
}

#[test]
fn a_default_host_of_modules_keeps_four_gib_memories() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let nats = Server::nats();
    let mut config = config(&nats, None, dir.path());
    config.manifest = workspace_root().join("wadm.yaml");
    let (host, _) = runtime.block_on(start(config));
    let capacity = host.control.capacity().clone();
    runtime.block_on(host.shutdown());
    assert_eq!(capacity.bounds_checks, BoundsChecks::Elided, "{capacity}");
    assert_eq!((capacity.actors, capacity.instances), (7, 7 * 128));
    assert!(capacity.reserved() <= 4 << 40, "{capacity}");
}

/// `mcchat up` from the workspace with `args`, in a shell that first runs `limit` (a `ulimit`):
/// its exit status and what it wrote to stderr. It never gets as far as its servers.
fn mcchat_up(limit: &str, args: &[&str]) -> (std::process::ExitStatus, String) {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!("{limit}; exec \"$0\" \"$@\""))
        .arg(crate::support::mcchat_binary())
        .arg("up")
        .arg("--data-dir")
        .arg(data.path())
        .args(["--dashboard-addr", "off"])
        .args(args)
        .current_dir(workspace_root())
        .env("RUST_LOG", "warn")
        // What a user sees: no backtrace after the error.
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .output()
        .expect("running mcchat");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_reservation_over_the_limit_is_refused_in_one_line_naming_the_settings() {
    let (status, stderr) = mcchat_up("true", &["--address-space", "1GiB"]);
    assert!(!status.success(), "{stderr}");
    let line = stderr.trim();
    assert!(!line.contains('\n'), "more than one line: {stderr}");
    assert!(line.contains("over the limit of 1.0 GiB"), "{line}");
    assert!(
        line.contains("--max-instances (MCCHAT_MAX_INSTANCES)"),
        "{line}"
    );
    assert!(
        line.contains("--address-space (MCCHAT_ADDRESS_SPACE)"),
        "{line}"
    );
}

#[test]
fn a_reservation_the_system_refuses_is_one_line_naming_the_settings() {
    // 16 GiB of address space for the process, and a limit that lets the plan ask for 4 GiB
    // memories: the mapping fails, not the plan.
    let (status, stderr) = mcchat_up("ulimit -v 16777216", &["--address-space", "8TiB"]);
    assert!(!status.success(), "{stderr}");
    let line = stderr.trim();
    assert!(!line.contains('\n'), "more than one line: {stderr}");
    assert!(line.contains("could not reserve"), "{line}");
    assert!(line.contains("MCCHAT_MAX_INSTANCES"), "{line}");
}

#[test]
fn under_a_ulimit_the_default_limit_is_half_of_it() {
    // With `ulimit -v` at 16 GiB the default limit is 8 GiB: too little for 768 memories even
    // bounds-checked, which the plan says before anything is mapped.
    let (status, stderr) = mcchat_up("ulimit -v 16777216", &[]);
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("over the limit of 8.0 GiB"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_fewer_instances_chats_under_a_ulimit() {
    let nats = Server::nats();
    let data = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 16777216; exec \"$0\" \"$@\"")
        .arg(crate::support::mcchat_binary())
        .args(["up", "--max-instances", "8", "--embedded-kv"])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--compile-cache")
        .arg(shared_compile_cache())
        .args(["--dashboard-addr", "off", "--ws-addr", "127.0.0.1:0"])
        .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
        .args(["--nats-url", &nats.nats_url()])
        .args(["--mqtt-url", &shared_mosquitto_url()])
        .current_dir(workspace_root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting mcchat");
    let _host = KillOnDrop(child);
    let base = format!("http://127.0.0.1:{http_port}");
    until_async_within(
        "the host under a ulimit serves its history",
        std::time::Duration::from_secs(30),
        || async {
            reqwest::get(format!("{base}/messages"))
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    post_stored(&base, r#"{"user_name":"ada","body":"within 16 GiB"}"#).await;
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// With few instances per actor, browsers all sending at once are each acked, and every
/// session gets every message: each message's call into ws-channel holds an instance while
/// api-gateway relays it back into ws-channel, and those relays take the instances that calls
/// from outside may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_sending_at_once_to_a_host_of_four_instances_per_actor_are_all_served() {
    const SESSIONS: usize = 24;
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let mut settings = config(&nats, None, data.path());
    settings.max_instances = Some(4);
    let (host, base) = start(settings).await;
    let url = ws_url(&host);
    let sessions = futures::future::join_all((0..SESSIONS).map(|_| WsSession::connect(&url))).await;
    let served = sessions
        .into_iter()
        .enumerate()
        .map(|(n, mut session)| async move {
            session
                .send(serde_json::json!({
                    "subject": "chat.in",
                    "body": {"user_name": format!("b{n}"), "body": "at once"},
                    "reply_to": "ack",
                }))
                .await;
            let (mut ack, mut broadcasts) = (None, 0);
            while ack.is_none() || broadcasts < SESSIONS {
                let frame = session.next_frame().await;
                match frame["subject"].as_str() {
                    Some("ack") => ack = Some(frame["body"].clone()),
                    Some("rtchat.messages") => broadcasts += 1,
                    _ => panic!("unexpected frame {frame}"),
                }
            }
            ack.unwrap()
        });
    for ack in futures::future::join_all(served).await {
        assert_eq!(ack["accepted"], true, "{ack}");
    }
    assert_eq!(all_messages(&base, 50).await.len(), SESSIONS);
    for (_, pool) in host.control.router.actors() {
        let status = pool.status();
        assert!(status.live_instances <= 4, "{}", status.live_instances);
    }
    host.shutdown().await;
}
