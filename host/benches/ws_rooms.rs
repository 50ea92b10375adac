//! WebSocket rooms: what subscriptions cost a broadcast. Three measurements on one release-built
//! host each (embedded store, its own NATS), in one run:
//!
//! 1. one room: 1,000 sessions that never subscribed, 100 messages in `general` (100,000
//!    deliveries);
//! 2. 100 rooms: the 1,000 sessions subscribed 10 to a room, 100 messages in each room (100,000
//!    deliveries, posted by 8 clients at once);
//! 3. sessions that did not subscribe: 10 sessions in one room, 1,000 messages there, once
//!    alone and once beside 990 sessions in 99 other rooms, in three interleaved rounds on one
//!    host. The 990 must receive nothing, and the room's time per message and p99 should not
//!    move.
//!
//! Latency is from a POST being sent to the frame being read. The clients share the host's 2
//! cores.
//!
//! `cargo bench -p mcchat-host --bench ws_rooms` (after `cargo xtask build`; needs nats-server).

#[path = "../../e2e/tests/e2e/support/mod.rs"]
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::{config, percentile, post_in, start, ws_url, Server, WsSession};

const SESSIONS: usize = 1_000;
const ROOMS: usize = 100;
const MESSAGES: usize = 100;
/// Messages in the one room of measurement 3.
const MESSAGES_IN_ONE_ROOM: usize = 1_000;
const POSTERS: usize = 8;

type Readers = Vec<tokio::task::JoinHandle<Vec<(Value, Instant)>>>;

struct Measured {
    deliveries: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.deliveries as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, what: &str, messages: usize) {
        println!(
            "ws_rooms, {what}: {messages} messages, {} deliveries in {:.2?}: {:.0} messages/s, \
             {:.0} deliveries/s; latency p50 {:.1?}, p99 {:.1?}",
            self.deliveries,
            self.elapsed,
            messages as f64 / self.elapsed.as_secs_f64(),
            self.rate(),
            self.p50,
            self.p99
        );
    }
}

fn room_name(n: usize) -> String {
    format!("r{n}")
}

fn room_subject(room: &str) -> String {
    match room {
        "general" => "rtchat.messages".into(),
        room => format!("rtchat.{room}.messages"),
    }
}

/// `count` sessions subscribed to `room` (`general`: left on the default), each reading
/// `messages` copies in a task of its own.
async fn readers(url: &str, room: &str, count: usize, messages: usize) -> Readers {
    let mut sessions = Vec::with_capacity(count);
    for _ in 0..count {
        let mut session = WsSession::connect(url).await;
        if room != "general" {
            let ack = session.change("_subscribe", &room_subject(room)).await;
            assert_eq!(ack["accepted"], true, "{ack}");
        }
        sessions.push(session);
    }
    let subject = room_subject(room);
    sessions
        .into_iter()
        .map(|s| s.collect_on(&subject, messages))
        .collect()
}

/// Posts message `k` (its body) to the room `room_of(k)` for every `k` in `0..total`, from
/// `POSTERS` clients at once; returns when each was sent.
async fn post_all(base: &str, total: usize, room_of: fn(usize) -> String) -> Vec<Instant> {
    let mut posters = Vec::new();
    for first in 0..POSTERS.min(total) {
        let base = base.to_string();
        posters.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for k in (first..total).step_by(POSTERS) {
                sent.push((k, Instant::now()));
                let body = json!({"user_name": "bench", "body": k.to_string()});
                assert_eq!(post_in(&base, &room_of(k), body, None).await.0, 201);
            }
            sent
        }));
    }
    let mut sent_at = vec![Instant::now(); total];
    for poster in posters {
        for (k, at) in poster.await.unwrap() {
            sent_at[k] = at;
        }
    }
    sent_at
}

async fn delivered(readers: Readers, started: Instant, sent_at: &[Instant]) -> Measured {
    let mut latencies = Vec::new();
    let mut last = started;
    for reader in readers {
        for (body, arrived) in reader.await.unwrap() {
            let k: usize = body["body"].as_str().unwrap().parse().unwrap();
            latencies.push(arrived - sent_at[k]);
            last = last.max(arrived);
        }
    }
    latencies.sort();
    Measured {
        deliveries: latencies.len(),
        elapsed: last - started,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    }
}

/// 1 and 2: the sessions spread over `rooms` rooms, `MESSAGES` messages in each.
async fn spread_over(rooms: usize) -> Measured {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let (host, base) = start(config(&nats, None, data.path())).await;
    let url = ws_url(&host);
    let mut all = Vec::new();
    for room in 0..rooms {
        let name = if rooms == 1 {
            "general".into()
        } else {
            room_name(room)
        };
        all.extend(readers(&url, &name, SESSIONS / rooms, MESSAGES).await);
    }
    let room_of: fn(usize) -> String = if rooms == 1 {
        |_| "general".into()
    } else {
        |k| room_name(k % ROOMS)
    };
    let started = Instant::now();
    let sent_at = post_all(&base, rooms * MESSAGES, room_of).await;
    let measured = delivered(all, started, &sent_at).await;
    host.shutdown().await;
    measured
}

/// 3: `SESSIONS / ROOMS` sessions in room r0, alone and beside the others in 99 rooms, in
/// interleaved rounds on one host (alone first): the rounds' measurements, alone and among.
async fn one_room_alone_and_among(rounds: usize) -> (Vec<Measured>, Vec<Measured>) {
    let (nats, data) = (Server::nats(), tempfile::tempdir().unwrap());
    let (host, base) = start(config(&nats, None, data.path())).await;
    let url = ws_url(&host);
    let per_room = SESSIONS / ROOMS;
    let (mut alone, mut among) = (Vec::new(), Vec::new());
    for round in 0..2 * rounds {
        let others = round % 2 == 1;
        let followers = readers(&url, &room_name(0), per_room, MESSAGES_IN_ONE_ROOM).await;
        let mut bystanders = Vec::new();
        if others {
            for room in 1..ROOMS {
                for _ in 0..per_room {
                    let mut session = WsSession::connect(&url).await;
                    session
                        .change("_subscribe", &room_subject(&room_name(room)))
                        .await;
                    bystanders.push(session);
                }
            }
        }
        let started = Instant::now();
        let sent_at = post_all(&base, MESSAGES_IN_ONE_ROOM, |_| room_name(0)).await;
        let measured = delivered(followers, started, &sent_at).await;
        // The others got nothing: every frame up to a sync is counted.
        let mut copies_to_others = HashMap::<usize, usize>::new();
        for (n, session) in bystanders.iter_mut().enumerate() {
            let frames = session.frames_until_synced().await;
            if !frames.is_empty() {
                copies_to_others.insert(n, frames.len());
            }
        }
        assert!(
            copies_to_others.is_empty(),
            "sessions in other rooms got frames: {copies_to_others:?}"
        );
        if others { &mut among } else { &mut alone }.push(measured);
    }
    host.shutdown().await;
    (alone, among)
}

fn total(rounds: &[Measured]) -> Measured {
    Measured {
        deliveries: rounds.iter().map(|m| m.deliveries).sum(),
        elapsed: rounds.iter().map(|m| m.elapsed).sum(),
        // The rounds' medians and 99th percentiles, at their worst.
        p50: rounds.iter().map(|m| m.p50).max().unwrap(),
        p99: rounds.iter().map(|m| m.p99).max().unwrap(),
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let one = spread_over(1).await;
        one.print("1,000 sessions in one room", MESSAGES);
        let spread = spread_over(ROOMS).await;
        spread.print("1,000 sessions over 100 rooms", ROOMS * MESSAGES);
        println!(
            "ws_rooms: 100 rooms against one: {:.2}x the delivery rate, p99 {:.2}x",
            spread.rate() / one.rate(),
            spread.p99.as_secs_f64() / one.p99.as_secs_f64()
        );
        const ROUNDS: usize = 3;
        let (alone, among) = one_room_alone_and_among(ROUNDS).await;
        let per_round: Vec<String> = alone
            .iter()
            .zip(&among)
            .map(|(a, b)| format!("{:.2}", b.elapsed.as_secs_f64() / a.elapsed.as_secs_f64()))
            .collect();
        let (alone, among) = (total(&alone), total(&among));
        let messages = ROUNDS * MESSAGES_IN_ONE_ROOM;
        alone.print("10 sessions in a room, alone, 3 rounds", messages);
        among.print(
            "10 sessions in a room beside 990 in 99 other rooms (which got nothing), 3 rounds",
            messages,
        );
        println!(
            "ws_rooms: the room beside 990 other sessions against alone: {:.2}x the time per \
             message (per round {}), worst p99 {:.2}x",
            among.elapsed.as_secs_f64() / alone.elapsed.as_secs_f64(),
            per_round.join(" "),
            among.p99.as_secs_f64() / alone.p99.as_secs_f64()
        );
    });
}
