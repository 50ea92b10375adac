//! Stopping the real `mcchat` process under load: SIGTERM drains and exits in time with every
//! acknowledged message stored once; `kill -9` with the embedded store loses nothing acked.

use crate::support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use support::*;

/// A running `mcchat up` process on `http_port`.
struct HostProcess {
    child: Child,
    base: String,
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_host(nats: &Server, store: &[&str], http_port: u16) -> HostProcess {
    start_host_with_mqtt(nats, store, http_port, &shared_mosquitto_url()).await
}

async fn start_host_with_mqtt(
    nats: &Server,
    store: &[&str],
    http_port: u16,
    mqtt_url: &str,
) -> HostProcess {
    let child = Command::new(support::mcchat_binary())
        .current_dir(workspace_root())
        .args(["up", "--manifest", "wadm.yaml", "--ws-addr", "127.0.0.1:0"])
        .args(["--dashboard-addr", "127.0.0.1:0"])
        .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
        .args(["--nats-url", &nats.nats_url()])
        .args(["--mqtt-url", mqtt_url])
        .args(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting mcchat");
    let base = format!("http://127.0.0.1:{http_port}");
    // The first start of a run compiles the actors.
    until_serving(&base, Duration::from_secs(30)).await;
    HostProcess { child, base }
}

/// What one writer saw: the bodies acknowledged, and the one whose answer never came (the
/// connection failed, or a deadline passed), which may or may not have been stored.
type Outcome = (Vec<String>, Option<String>);

/// Writers over HTTP and NATS until `stop` or until the host is gone.
fn start_load(
    base: &str,
    nats: &Server,
    stop: Arc<AtomicBool>,
    acks: Arc<AtomicUsize>,
) -> Vec<tokio::task::JoinHandle<Outcome>> {
    let mut tasks = Vec::new();
    for w in 0..4 {
        let (base, stop, acks) = (base.to_string(), stop.clone(), acks.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acked = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let body = format!("http {w}/{n}");
                let sent = client
                    .post(format!("{base}/messages"))
                    .body(json!({"user_name": "w", "body": body}).to_string())
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 201 => {
                        acks.fetch_add(1, Ordering::SeqCst);
                        acked.push(body)
                    }
                    // A deadline passed on the way (a loaded machine, while stopping): the
                    // message may yet be stored, as when the connection fails.
                    Ok(response) if response.status() == 504 => return (acked, Some(body)),
                    Ok(response) => {
                        let status = response.status();
                        let reason = response.text().await.unwrap_or_default();
                        assert_eq!(status, 503, "only 201, 503 or 504 while stopping: {reason}")
                    }
                    Err(_) => return (acked, Some(body)), // the host is gone mid-request
                }
            }
            (acked, None)
        }));
    }
    for w in 0..4 {
        let (url, stop, acks) = (nats.nats_url(), stop.clone(), acks.clone());
        tasks.push(tokio::spawn(async move {
            let client = async_nats::connect(url).await.unwrap();
            let mut acked = Vec::new();
            for n in 0.. {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let body = format!("nats {w}/{n}");
                let request = client.request(
                    "chat.in",
                    json!({"user_name": "w", "body": body}).to_string().into(),
                );
                match tokio::time::timeout(Duration::from_secs(2), request).await {
                    Ok(Ok(reply)) => {
                        let ack: serde_json::Value =
                            serde_json::from_slice(&reply.payload).unwrap();
                        if ack["accepted"] == true {
                            acks.fetch_add(1, Ordering::SeqCst);
                            acked.push(body);
                        }
                    }
                    _ => return (acked, Some(body)), // no answer: the host is gone
                }
            }
            (acked, None)
        }));
    }
    tasks
}

/// Waits until the load is well under way, so the signal comes in the middle of it.
async fn under_load(acks: &AtomicUsize) {
    until("the load has 100 acks", || {
        acks.load(Ordering::SeqCst) >= 100
    })
    .await;
}

/// The bodies acknowledged, and those whose client saw the connection fail.
async fn outcomes(tasks: Vec<tokio::task::JoinHandle<Outcome>>) -> (Vec<String>, Vec<String>) {
    let (mut acked, mut failed) = (Vec::new(), Vec::new());
    for task in tasks {
        let (ok, unanswered) = task.await.unwrap();
        acked.extend(ok);
        failed.extend(unanswered);
    }
    (acked, failed)
}

/// Every acknowledged body is stored, nothing is stored twice, and everything stored was
/// acknowledged or its client saw the connection fail.
fn assert_acked_stored_once(acked: &[String], failed: &[String], stored: &[String]) {
    let answered: HashSet<&String> = acked.iter().chain(failed).collect();
    let unexplained: Vec<_> = stored.iter().filter(|b| !answered.contains(b)).collect();
    assert!(
        unexplained.is_empty(),
        "stored without an ack or a failed connection: {unexplained:?}"
    );
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for body in stored {
        *counts.entry(body).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let missing: Vec<_> = acked
        .iter()
        .filter(|b| !counts.contains_key(b.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged messages are not stored: {:?}",
        missing.len(),
        missing.first()
    );
    assert!(
        acked.len() > 20,
        "only {} messages were acknowledged",
        acked.len()
    );
}

async fn stored_bodies(base: &str) -> Vec<String> {
    all_messages(base, 500)
        .await
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_load_exits_in_time_with_every_ack_stored_once() {
    let (nats, redis) = (Server::nats(), Server::redis());
    let port = free_port();
    let redis_args = ["--redis-url", &redis.redis_url()];
    let mut host = start_host(&nats, &redis_args, port).await;
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let load = start_load(&host.base, &nats, stop.clone(), acks.clone());
    under_load(&acks).await;

    signal(&host.child, "TERM");
    let exited = exited(&mut host.child, Duration::from_secs(10))
        .await
        .expect("mcchat did not exit within 10 s of SIGTERM");
    assert!(exited.success(), "{exited}");
    stop.store(true, Ordering::SeqCst);
    let (acked, failed) = outcomes(load).await;

    // A fresh host on the same Redis reads back what was stored.
    let reader = start_host(&nats, &redis_args, free_port()).await;
    assert_acked_stored_once(&acked, &failed, &stored_bodies(&reader.base).await);
}

/// A service manager may stop the host while it is still starting: here the HTTP server already
/// answers while the start waits for an MQTT broker that is not there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_starting_stops_gracefully() {
    let nats = Server::nats();
    let data = tempfile::tempdir().unwrap();
    let embedded = ["--embedded-kv", "--data-dir", data.path().to_str().unwrap()];
    let unreachable_broker = format!("mqtt://127.0.0.1:{}", free_port());
    let mut host = start_host_with_mqtt(&nats, &embedded, free_port(), &unreachable_broker).await;

    signal(&host.child, "TERM");
    let exited = exited(&mut host.child, Duration::from_secs(10))
        .await
        .expect("mcchat did not exit within 10 s of SIGTERM");
    assert!(exited.success(), "{exited}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_load_loses_nothing_acknowledged_in_the_embedded_store() {
    let nats = Server::nats();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().to_str().unwrap();
    let embedded = ["--embedded-kv", "--data-dir", data_dir];
    let port = free_port();
    let host = start_host(&nats, &embedded, port).await;
    let stop = Arc::new(AtomicBool::new(false));
    let acks = Arc::new(AtomicUsize::new(0));
    let load = start_load(&host.base, &nats, stop.clone(), acks.clone());
    under_load(&acks).await;

    signal(&host.child, "KILL");
    drop(host);
    stop.store(true, Ordering::SeqCst);
    let (acked, failed) = outcomes(load).await;

    assert!(Path::new(data_dir).join("keyvalue.redb").exists());
    let restarted = start_host(&nats, &embedded, free_port()).await;
    assert_acked_stored_once(&acked, &failed, &stored_bodies(&restarted.base).await);
}
