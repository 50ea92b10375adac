//! Faults injected by the tests themselves: NATS or Redis stops under load. A fault in one
//! dependency never stalls the others, and nothing acknowledged is lost.

use crate::support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// What a write answers while its store is down: refused (503), or past the provider
/// deadline (504).
const OUTAGE: [u16; 2] = [503, 504];

/// One POST: its status, its id when it was acknowledged, how long it took and when it was sent.
type Posted = (u16, Option<String>, Duration, Instant);

/// One POST, timed.
async fn timed_post(client: &reqwest::Client, base: &str, body: String) -> Posted {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/messages"))
        .body(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("an answer within 5 s");
    let status = response.status().as_u16();
    let json: serde_json::Value = response.json().await.expect("a JSON body");
    let id = (status == 201).then(|| json["id"].as_str().unwrap().to_string());
    if status != 201 {
        assert!(
            json["reason"].is_string(),
            "{status} without a reason: {json}"
        );
    }
    (status, id, started.elapsed(), started)
}

/// What a load has been answered so far.
#[derive(Default)]
struct Progress {
    acked: AtomicUsize,
    refused: AtomicUsize,
}

/// `writers` clients posting one after another until `duration` has passed.
async fn load(base: &str, writers: usize, duration: Duration) -> Vec<Posted> {
    load_counted(base, writers, duration, Arc::default()).await
}

/// `load`, counting its answers in `progress` as they come.
async fn load_counted(
    base: &str,
    writers: usize,
    duration: Duration,
    progress: Arc<Progress>,
) -> Vec<Posted> {
    let client = reqwest::Client::new();
    let until = Instant::now() + duration;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (client, base, progress) = (client.clone(), base.to_string(), progress.clone());
            tokio::spawn(async move {
                let mut results = Vec::new();
                let mut n = 0;
                while Instant::now() < until {
                    let body =
                        json!({"user_name": format!("writer{w}"), "body": format!("{w}/{n}")});
                    let posted = timed_post(&client, &base, body.to_string()).await;
                    let counter = match posted.0 {
                        201 => &progress.acked,
                        _ => &progress.refused,
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    results.push(posted);
                    n += 1;
                }
                results
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all
}

fn p99(results: &[Posted]) -> Duration {
    let mut latencies: Vec<Duration> = results.iter().map(|r| r.2).collect();
    latencies.sort();
    latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)]
}

/// Every acknowledged id is stored exactly once.
async fn assert_acked_stored_once(base: &str, acked: &HashSet<String>) {
    let stored = all_messages(base, 500).await;
    let ids: Vec<&str> = stored.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "a message is stored twice");
    let missing = acked
        .iter()
        .filter(|id| !unique.contains(id.as_str()))
        .count();
    assert_eq!(missing, 0, "{missing} acknowledged messages are not stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_on_while_nats_is_down_and_fan_out_resumes_when_it_is_back() {
    let mut chat = TestChat::start(true).await;
    chat.nats.kill();

    let results = load(&chat.base, 16, Duration::from_secs(20)).await;
    let refused: Vec<_> = results.iter().filter(|r| r.0 != 201).collect();
    assert!(
        refused.is_empty(),
        "{} of {} posts refused: {:?}",
        refused.len(),
        results.len(),
        refused.first()
    );
    assert!(results.len() > 100, "only {} posts in 20 s", results.len());
    assert!(
        p99(&results) < Duration::from_secs(1),
        "p99 {:?}",
        p99(&results)
    );
    let acked: HashSet<String> = results.into_iter().filter_map(|r| r.1).collect();
    assert_acked_stored_once(&chat.base, &acked).await;

    // NATS comes back: the same host fans out again, without a restart.
    chat.nats.restart_nats();
    let client = nats_client(&chat.nats).await;
    let mut fanout = client.subscribe("rtchat.messages").await.unwrap();
    subscribed(&client).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let http = reqwest::Client::new();
    'resumed: for n in 0.. {
        assert!(
            Instant::now() < deadline,
            "fan-out did not resume within 30 s"
        );
        let marker = format!("after the outage {n}");
        let (status, ..) = timed_post(
            &http,
            &chat.base,
            json!({"user_name": "m", "body": marker}).to_string(),
        )
        .await;
        assert_eq!(status, 201);
        while let Ok(Some(message)) = tokio::time::timeout(
            Duration::from_millis(500),
            futures::StreamExt::next(&mut fanout),
        )
        .await
        {
            let json: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
            if json["body"] == marker {
                break 'resumed;
            }
        }
    }
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_answers_quickly_with_a_reason_and_writes_resume_when_it_is_back() {
    let mut chat = TestChat::start(true).await;
    let http = reqwest::Client::new();
    let redis = chat.redis.as_mut().unwrap();

    // Down before the first write.
    redis.kill();
    for n in 0..3 {
        let (status, id, took, _) = timed_post(
            &http,
            &chat.base,
            json!({"user_name": "a", "body": format!("lost {n}")}).to_string(),
        )
        .await;
        // Refused at once (503), or by the provider deadline while the client reconnects (504).
        assert!(OUTAGE.contains(&status) && id.is_none(), "{status} {id:?}");
        assert!(took < Duration::from_millis(1500), "{status} took {took:?}");
    }
    // The client is told what failed, in a sentence; the details are in the host's log.
    let response = post(&chat.base, r#"{"user_name":"a","body":"lost"}"#).await;
    let status = response.status().as_u16();
    let answer: serde_json::Value = response.json().await.unwrap();
    let expected = match status {
        503 => "the chat log is unavailable; nothing was stored, try again",
        504 => "the chat log did not answer in time; the message may have been stored: retry with the same Idempotency-Key",
        other => panic!("{other} during the outage: {answer}"),
    };
    assert_eq!(answer, json!({ "reason": expected }));
    redis.restart_redis();
    wait_until_writes_succeed(&http, &chat.base).await;

    // Down in the middle of a load.
    let progress = Arc::new(Progress::default());
    let writing = {
        let (base, progress) = (chat.base.clone(), progress.clone());
        tokio::spawn(async move { load_counted(&base, 8, Duration::from_secs(6), progress).await })
    };
    until("the load is being stored", || {
        progress.acked.load(Ordering::SeqCst) >= 20
    })
    .await;
    chat.redis.as_mut().unwrap().kill();
    until("the load sees the outage", || {
        progress.refused.load(Ordering::SeqCst) >= 8
    })
    .await;
    chat.redis.as_mut().unwrap().restart_redis();
    let restarted = Instant::now();
    let results = writing.await.unwrap();
    let statuses: HashSet<u16> = results.iter().map(|r| r.0).collect();
    assert!(
        statuses.is_subset(&HashSet::from([201, 503, 504])),
        "{statuses:?}"
    );
    let slowest = results.iter().map(|r| r.2).max().unwrap();
    assert!(
        slowest < Duration::from_millis(1500),
        "a POST took {slowest:?}"
    );
    wait_until_writes_succeed(&http, &chat.base).await;
    // Redis kept nothing on disk: what was acknowledged after the restart is stored once.
    let acked_after: Vec<&str> = results
        .iter()
        .filter(|r| r.3 >= restarted)
        .filter_map(|r| r.1.as_deref())
        .collect();
    assert!(
        !acked_after.is_empty(),
        "nothing was acknowledged after the restart"
    );
    let stored = all_messages(&chat.base, 500).await;
    for id in acked_after {
        let copies = stored.iter().filter(|m| m["id"] == id).count();
        assert_eq!(copies, 1, "acknowledged {id} is stored {copies} times");
    }
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_hangs_answers_504_with_a_reason_within_the_provider_deadline() {
    let chat = TestChat::start(true).await;
    post_stored(&chat.base, r#"{"user_name":"a","body":"before"}"#).await;
    let redis = chat.redis.as_ref().unwrap();
    redis.pause();
    let (status, id, took, _) = timed_post(
        &reqwest::Client::new(),
        &chat.base,
        json!({"user_name": "a", "body": "into a hung store"}).to_string(),
    )
    .await;
    redis.resume();
    assert_eq!((status, id), (504, None));
    assert!(took < Duration::from_secs(3), "504 took {took:?}");
    let answer = post(&chat.base, r#"{"user_name":"a","body":"after"}"#).await;
    assert_eq!(answer.status(), 201);
    chat.stop().await;
}

async fn wait_until_writes_succeed(http: &reqwest::Client, base: &str) {
    until_async("writes resume", || async {
        let probe = json!({"user_name": "probe", "body": "back?"}).to_string();
        timed_post(http, base, probe).await.0 == 201
    })
    .await;
}
