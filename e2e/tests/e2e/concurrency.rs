//! Many clients at once over HTTP and NATS: every accepted message is in the history exactly once.

use crate::support;

use std::collections::HashMap;

use futures::future::join_all;
use support::*;

const PER_CHANNEL: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_posts_are_each_stored_exactly_once() {
    let chat = TestChat::start(true).await;
    let (base, client) = (chat.base.clone(), nats_client(&chat.nats).await);
    let http = reqwest::Client::new();

    let http_posts = (0..PER_CHANNEL).map(|n| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let body = format!("http {n}");
            let response = http
                .post(format!("{base}/messages"))
                .body(format!(r#"{{"user_name":"load","body":"{body}"}}"#))
                .send()
                .await
                .unwrap();
            (body, response.status() == 201)
        }
    });
    let nats_posts = (0..PER_CHANNEL).map(|n| {
        let client = client.clone();
        async move {
            let body = format!("nats {n}");
            let ack = chat_in(
                &client,
                &format!(r#"{{"user_name":"load","body":"{body}"}}"#),
            )
            .await;
            (body, ack["accepted"] == true)
        }
    });
    let (http_results, nats_results) = tokio::join!(join_all(http_posts), join_all(nats_posts));

    let accepted: Vec<String> = http_results
        .into_iter()
        .chain(nats_results)
        .filter(|(_, ok)| *ok)
        .map(|(body, _)| body)
        .collect();
    assert_eq!(
        accepted.len(),
        2 * PER_CHANNEL,
        "every well-formed message is accepted"
    );

    let mut counts: HashMap<String, usize> = HashMap::new();
    for message in all_messages(&base, 500).await {
        *counts
            .entry(message["body"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for body in &accepted {
        assert_eq!(counts.get(body), Some(&1), "{body}");
    }
    assert_eq!(
        counts.len(),
        accepted.len(),
        "nothing but the accepted messages is stored"
    );
    chat.stop().await;
}

/// Bursts of NATS requests as large as the instances each actor keeps idle, on a host with two
/// workers: however the queue group splits a burst between the workers, each worker takes at
/// most its share at once, so the actors reuse their idle instances and never start more than
/// they keep. (When a worker could take more than its share, every burst started and dropped
/// instances, and that cost a third of a message.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_nats_requests_reuse_the_instances_kept_idle() {
    let (nats, redis, data) = (
        Server::nats(),
        Server::redis(),
        tempfile::tempdir().unwrap(),
    );
    let mut settings = config(&nats, Some(&redis), data.path());
    settings.workers = Some(2);
    settings.dashboard_addr = "127.0.0.1:0".parse().unwrap();
    let (host, _) = start(settings).await;
    let client = nats_client(&nats).await;

    for burst in 0..10 {
        let requests = (0..mcchat_host::pool::MAX_IDLE).map(|n| {
            let body = format!(r#"{{"user_name":"burst","body":"burst {burst} request {n}"}}"#);
            let client = client.clone();
            async move { chat_in(&client, &body).await["accepted"] == true }
        });
        let acks = join_all(requests).await;
        assert!(acks.into_iter().all(|accepted| accepted), "burst {burst}");
    }

    let state: serde_json::Value =
        reqwest::get(format!("{}api/state", host.dashboard_url().unwrap()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    for actor in state["actors"].as_array().unwrap() {
        let started = actor["instances_started"].as_u64().unwrap();
        assert!(
            started as usize <= mcchat_host::pool::MAX_IDLE,
            "{} started {started} instances for 10 bursts of {}",
            actor["name"],
            mcchat_host::pool::MAX_IDLE
        );
    }
    host.shutdown().await;
}
