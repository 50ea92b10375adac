//! Signed-on users against guests, on one mcchat: every message with a token (a Bearer on
//! POST, a `token` on `chat.in`) against the same loads as guests, in interleaved rounds; how
//! long a sign-on takes (argon2id is the cost); and what a burst of sign-ons does to the
//! latency of the chat beside it.

use std::time::{Duration, Instant};

use super::{nats_requests, settled_counts, Compared, Load, Running, Settings};

const PASSWORD: &str = "a bench password";
/// Signed-on users the loads write as; each may sign on 10 times a minute.
const USERS: usize = 8;
/// Sign-ons timed one after another (within the limit: a few per user).
const SIGN_ON_SAMPLES: usize = USERS * 4;
/// Clients signing on back to back during the burst, and chat clients beside them.
const BURST_CLIENTS: usize = 16;
const CHAT_CLIENTS: usize = 4;

/// Runs the signed-on comparison and the sign-on measurements on `system`, prints them, and
/// answers whether nothing acked was lost.
pub async fn run(settings: &Settings, root: &std::path::Path, system: Running) -> bool {
    let http = reqwest::Client::new();
    let mut users = Vec::new();
    for i in 0..USERS {
        let name = format!("signed{i}");
        let created = account_request(&http, &system.base, "/accounts", &name, PASSWORD).await;
        assert_eq!(created.0, 201, "signing up {name}");
        users.push((name.clone(), sign_on(&http, &system.base, &name).await));
    }
    let (rounds, connections) = (settings.rounds, settings.connections);
    let seconds = settings.round_seconds(settings.seconds);
    let wrk_args: Vec<String> = users.iter().map(|(n, t)| format!("{n}={t}")).collect();
    let post =
        Compared::posts_against(settings, root, &system, "post_signed_on.lua", &wrk_args).await;
    let nats = Compared::alternate(rounds, |i| {
        let signed_on = if i == 0 { &[][..] } else { &users[..] };
        nats_requests(&system.nats_url, connections, seconds, signed_on)
    })
    .await;

    let mut sign_ons = Load::default();
    let started = Instant::now();
    for i in 0..SIGN_ON_SAMPLES {
        let sent = Instant::now();
        sign_on(&http, &system.base, &users[i % USERS].0).await;
        sign_ons.record(sent.elapsed());
    }
    sign_ons.seconds = started.elapsed().as_secs_f64();

    let burst_seconds = seconds.max(2);
    let quiet = nats_requests(&system.nats_url, CHAT_CLIENTS, burst_seconds, &[]).await;
    let (beside_burst, burst) = tokio::join!(
        nats_requests(&system.nats_url, CHAT_CLIENTS, burst_seconds, &[]),
        sign_on_burst(&http, &system.base, burst_seconds),
    );

    let mut kv = system.key_value().await;
    let (stored_http, stored_nats) = settled_counts(&mut kv, &system.fanned_out).await;
    let acked_http = post.loads[0].ok + post.loads[1].ok;
    let acked_nats = nats.loads[0].ok + nats.loads[1].ok + quiet.ok + beside_burst.ok;
    let failed = post
        .loads
        .iter()
        .chain(&nats.loads)
        .map(|l| l.failed)
        .sum::<u64>()
        + quiet.failed
        + beside_burst.failed;
    let fanned_out = system.fanned_out.load(std::sync::atomic::Ordering::Relaxed);
    // wrk leaves at most a request per connection in flight when a run ends, stored unacked.
    let in_flight = stored_http.saturating_sub(acked_http);
    let lossless = failed == 0
        && stored_http >= acked_http
        && in_flight <= 2 * connections as u64 * rounds
        && stored_nats == acked_nats
        && fanned_out == stored_http;

    println!("\nSigned-on users against guests, one mcchat, {rounds} interleaved rounds");
    println!("| path | signed on (every message verified) | guests | throughput ratio | ratio per round |");
    println!("|---|---|---|---|---|");
    for (name, compared) in [
        ("`POST /messages`", &post),
        ("NATS request `chat.in`", &nats),
    ] {
        let [guests, signed_on] = &compared.loads;
        println!(
            "| {name} | {} | {} | {:.2} | {} |",
            signed_on.summary(),
            guests.summary(),
            signed_on.per_second() / guests.per_second().max(f64::EPSILON),
            compared.per_round()
        );
    }
    println!(
        "sign-on, one at a time ({SIGN_ON_SAMPLES} of them): p50 {:.1} ms, p99 {:.1} ms",
        sign_ons.percentile_ms(50.0),
        sign_ons.percentile_ms(99.0)
    );
    println!(
        "chat beside a burst of sign-ons ({CHAT_CLIENTS} NATS clients, {burst_seconds} s): {} quiet, {} during \
         {BURST_CLIENTS} clients signing on back to back ({})",
        quiet.summary(),
        beside_burst.summary(),
        burst.summary()
    );
    println!(
        "signed-on run: acked HTTP {acked_http} + NATS {acked_nats}, stored HTTP {stored_http} + NATS \
         {stored_nats}, fanned out {fanned_out}, failed {failed}"
    );
    lossless
}

/// `POST` of `{"user_name","password"}` to `path`: the status and the JSON answer.
async fn account_request(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    name: &str,
    password: &str,
) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"user_name": name, "password": password});
    let response = http
        .post(format!("{base}{path}"))
        .body(body.to_string())
        .send()
        .await
        .expect("the chat answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// A fresh token for `name`.
async fn sign_on(http: &reqwest::Client, base: &str, name: &str) -> String {
    let (status, answer) = account_request(http, base, "/sessions", name, PASSWORD).await;
    assert_eq!(status, 201, "signing on {name}: {answer}");
    answer["token"].as_str().expect("a token").to_string()
}

/// `BURST_CLIENTS` clients signing on back to back for `seconds` under names nobody holds (no
/// limit applies to them, and the chat verifies a dummy hash as slowly as a real one).
async fn sign_on_burst(http: &reqwest::Client, base: &str, seconds: u64) -> Load {
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let clients = (0..BURST_CLIENTS).map(|client| async move {
        let mut load = Load::default();
        while Instant::now() < until {
            let sent = Instant::now();
            let name = format!("nobody{client}");
            let (status, _) =
                account_request(http, base, "/sessions", &name, "wrong password").await;
            match status {
                401 => load.record(sent.elapsed()),
                _ => load.failed += 1,
            }
        }
        load
    });
    let mut burst = Load::default();
    for load in futures::future::join_all(clients).await {
        burst.merge(load);
    }
    burst.seconds = started.elapsed().as_secs_f64();
    burst
}
