//! What finding a broadcast's sessions costs: `Interest::followers` for a message in room r0,
//! with r0's 10 sessions alone, then beside 990 sessions in 99 other rooms, then beside 990
//! more on wildcards that do not match (`rtchat.*.typing`, `presence.>`). The sessions that did
//! not subscribe should cost nothing: the tree walks only the branches the subject leads to.
//!
//! `cargo bench -p mcchat-provider-websocket --bench interest`

use std::hint::black_box;
use std::time::{Duration, Instant};

use mcchat_provider_websocket::interest::Interest;
use mcchat_provider_websocket::Pattern;

const CALLS: u32 = 1_000_000;

fn subscribe(interest: &mut Interest<u64>, session: u64, pattern: &str) {
    interest.join(session, &[]);
    let pattern = Pattern::parse(pattern).unwrap();
    interest.subscribe(session, pattern, 1).unwrap();
}

/// Nanoseconds per `followers` call for a message in r0, the best of five runs.
fn per_call(interest: &Interest<u64>) -> Duration {
    (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..CALLS {
                black_box(interest.followers(black_box("rtchat.r0.messages")));
            }
            started.elapsed() / CALLS
        })
        .min()
        .unwrap()
}

fn main() {
    let mut interest = Interest::default();
    for session in 0..10 {
        subscribe(&mut interest, session, "rtchat.r0.messages");
    }
    let alone = per_call(&interest);
    assert_eq!(interest.followers("rtchat.r0.messages").len(), 10);
    for session in 10..1_000 {
        let room = session / 10;
        subscribe(&mut interest, session, &format!("rtchat.r{room}.messages"));
    }
    let beside_rooms = per_call(&interest);
    for session in 1_000..1_990 {
        let pattern = if session % 2 == 0 {
            "rtchat.*.typing"
        } else {
            "presence.>"
        };
        subscribe(&mut interest, session, pattern);
    }
    let beside_wildcards = per_call(&interest);
    assert_eq!(interest.followers("rtchat.r0.messages").len(), 10);
    println!("interest: 10 sessions in r0, alone: {alone:?} per broadcast");
    println!(
        "interest: beside 990 sessions in 99 other rooms: {beside_rooms:?} ({:.2}x)",
        beside_rooms.as_secs_f64() / alone.as_secs_f64()
    );
    println!(
        "interest: and beside 990 more on wildcards that do not match: {beside_wildcards:?} \
         ({:.2}x)",
        beside_wildcards.as_secs_f64() / alone.as_secs_f64()
    );
}
