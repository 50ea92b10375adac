//! Rooms on one mcchat, in interleaved rounds:
//! - POST spread over many rooms against POST to one room: a message in a room the instance
//!   already knows must cost what one in `general` does;
//! - then, with those rooms holding messages, GET of the newest 100 of a room holding the
//!   history's length (1M) against the same of `general`: a room's page must cost what
//!   `general`'s does (at most 2 store commands).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{prefill, prefill_list, settled_counts, Compared, Running, Settings};

/// Rooms the spread load writes in (`r0` … `r999`).
const ROOMS: usize = 1000;
/// The room whose history is as long as `general`'s for the GET comparison.
const LONG_ROOM: &str = "long";

/// Runs the comparison on `system`, prints it, and answers whether nothing acked was lost.
pub async fn run(settings: &Settings, root: &std::path::Path, system: Running) -> bool {
    let room_copies = count_room_copies(&system.nats_url).await;
    let (rounds, connections) = (settings.rounds, settings.connections);
    let rooms_arg = [ROOMS.to_string()];
    let post = Compared::posts_against(settings, root, &system, "post_rooms.lua", &rooms_arg).await;

    let mut kv = system.key_value().await;
    let (stored_general, _) = settled_counts(&mut kv, &system.fanned_out).await;
    let stored_rooms = settled_room_count(&mut kv, &room_copies).await;
    let [one_room, spread] = &post.loads;
    let failed = one_room.failed + spread.failed;
    // wrk leaves at most a request per connection in flight when a run ends, stored unacked.
    let in_flight_allowed = connections as u64 * rounds;
    let lossless = |acked: u64, stored: u64| stored >= acked && stored - acked <= in_flight_allowed;
    let copies = room_copies.load(Ordering::Relaxed);
    let nothing_lost = failed == 0
        && lossless(one_room.ok, stored_general)
        && lossless(spread.ok, stored_rooms)
        && copies == stored_rooms
        && system.fanned_out.load(Ordering::Relaxed) == stored_general;

    println!("\nPOST spread over {ROOMS} rooms against POST to one room, one mcchat, {rounds} interleaved rounds");
    println!(
        "| path | {ROOMS} rooms | one room | throughput ratio | p99 ratio | ratio per round |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| `POST /rooms/r<n>/messages` against `POST /messages` | {} | {} | {:.2} | {:.2} | {} |",
        spread.summary(),
        one_room.summary(),
        spread.per_second() / one_room.per_second().max(f64::EPSILON),
        spread.percentile_ms(99.0) / one_room.percentile_ms(99.0).max(f64::EPSILON),
        post.per_round()
    );
    println!(
        "rooms run: acked {} in one room + {} in rooms, stored {stored_general} + {stored_rooms}, \
         live copies {} + {copies}, failed {failed}",
        one_room.ok,
        spread.ok,
        system.fanned_out.load(Ordering::Relaxed),
    );
    let pages_served = read_a_long_room(settings, root, &system, &mut kv).await;
    nothing_lost && pages_served
}

/// GET of the newest 100 of a room as long as `general`, beside the rooms the POSTs filled,
/// against the same of `general`; answers whether every request was served.
async fn read_a_long_room(
    settings: &Settings,
    root: &std::path::Path,
    system: &Running,
    kv: &mut redis::aio::MultiplexedConnection,
) -> bool {
    let history = settings.history;
    prefill(kv, history).await;
    let key = format!("chatlog:rooms:{LONG_ROOM}:messages");
    prefill_list(kv, &key, history).await;
    let _: usize = redis::cmd("SADD")
        .arg("chatlog:rooms")
        .arg(LONG_ROOM)
        .query_async(kv)
        .await
        .unwrap();
    let seconds = settings.round_seconds(settings.seconds.div_ceil(2));
    let room_page = [format!("/rooms/{LONG_ROOM}/messages?limit=100")];
    let loads = [("get.lua", &[][..]), ("get.lua", &room_page[..])];
    let get = Compared::scripts(settings, root, system, loads, seconds).await;
    let [general, room] = &get.loads;
    println!(
        "\nGET newest 100 of a room of {history} messages, beside {ROOMS} rooms holding messages, \
         against the same of general ({history} messages), one mcchat, {} interleaved rounds",
        settings.rounds
    );
    println!("| path | the room | general | throughput ratio | p99 ratio | ratio per round |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| `GET /rooms/{LONG_ROOM}/messages?limit=100` against `GET /messages?limit=100` | {} | {} | {:.2} | {:.2} | {} |",
        room.summary(),
        general.summary(),
        room.per_second() / general.per_second().max(f64::EPSILON),
        room.percentile_ms(99.0) / general.percentile_ms(99.0).max(f64::EPSILON),
        get.per_round()
    );
    general.failed == 0 && room.failed == 0
}

/// Counts the live copies of every room but `general` (`rtchat.<room>.messages`).
async fn count_room_copies(nats_url: &str) -> Arc<AtomicU64> {
    let client = async_nats::ConnectOptions::new()
        .subscription_capacity(1 << 22)
        .connect(nats_url)
        .await
        .unwrap();
    let mut copies = client.subscribe("rtchat.*.messages").await.unwrap();
    client.flush().await.unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        let _client = client;
        while copies.next().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    count
}

/// The messages stored in the rooms, once every one has been copied live (or ten seconds have
/// passed, and the counts tell what went missing).
async fn settled_room_count(kv: &mut redis::aio::MultiplexedConnection, copies: &AtomicU64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut lengths = redis::pipe();
        for room in 0..ROOMS {
            lengths.llen(format!("chatlog:rooms:r{room}:messages"));
        }
        let lengths: Vec<u64> = lengths.query_async(kv).await.unwrap();
        let stored = lengths.iter().sum();
        if copies.load(Ordering::Relaxed) >= stored || Instant::now() > deadline {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
