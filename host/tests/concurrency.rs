//! Many clients at once over HTTP and NATS: every accepted message is in the history exactly once.

mod support;

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
