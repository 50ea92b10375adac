//! Rooms: each is a name with its own history, positions and idempotency keys. The default
//! room, `general`, keeps the original example's keys, so today's history is its history.
//!
//! Every other room is a member of one set (`chatlog:rooms`), which bounds how many there are.
//! An instance remembers the rooms it has seen in that set, so writing to a known room costs
//! nothing more than writing to `general`.

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::bindings::{
    CanonicalChatMessage, MessagesPage, MessagesPageRequest, RoomSummary, RoomsPage,
    RoomsPageRequest, WriteMessageResponse,
};
use crate::history::{self, MessageList, LENGTH_HINT_KEY, MESSAGES_KEY};
use crate::idempotency::{write_once, KeyStore};
use crate::rpc::RpcResult;

/// The room a message without one is in.
pub const DEFAULT_ROOM: &str = "general";
/// Longest room name.
pub const MAX_ROOM_NAME_LEN: usize = 64;
/// The most rooms besides `general`.
pub const MAX_ROOMS: usize = 10_000;
/// The most rooms one page of the list holds, whatever the caller asks for.
pub const MAX_ROOMS_PAGE: u32 = 100;
/// The set of every room besides `general`.
pub const ROOMS_KEY: &str = "chatlog:rooms";

/// A room with a valid name, and the keys its history lives under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// `None` for the default room.
    name: Option<String>,
    pub messages_key: String,
    pub length_hint_key: String,
    /// What its idempotency keys' claims and ids are kept under.
    pub idempotency_prefix: String,
}

impl Room {
    /// The default room, under the original example's keys.
    pub fn general() -> Room {
        Room {
            name: None,
            messages_key: MESSAGES_KEY.into(),
            length_hint_key: LENGTH_HINT_KEY.into(),
            idempotency_prefix: "chatlog:idempotency".into(),
        }
    }

    /// The room of that name (`None` or `general` is the default room), or why there is none.
    pub fn named(name: Option<&str>) -> Result<Room, String> {
        match name {
            None | Some(DEFAULT_ROOM) => Ok(Room::general()),
            Some(name) => {
                check_name(name)?;
                // A room's keys sit under `chatlog:rooms:<name>:`, where no name of the
                // original example's keys begins, and a name holds no `:`.
                let prefix = format!("{ROOMS_KEY}:{name}");
                Ok(Room {
                    name: Some(name.into()),
                    messages_key: format!("{prefix}:messages"),
                    length_hint_key: format!("{prefix}:messages:length-hint"),
                    idempotency_prefix: format!("{prefix}:idempotency"),
                })
            }
        }
    }

    /// Its name as the contract carries it: `None` for the default room.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// `[a-z0-9][a-z0-9-]{0,63}`.
fn check_name(name: &str) -> Result<(), String> {
    let starts_well = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let rest_well = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if starts_well && rest_well && name.len() <= MAX_ROOM_NAME_LEN {
        return Ok(());
    }
    let shown: String = name.chars().take(MAX_ROOM_NAME_LEN + 1).collect();
    Err(format!(
        "a room name is 1 to {MAX_ROOM_NAME_LEN} lowercase letters, digits and '-', \
         starting with a letter or digit, not {shown:?}"
    ))
}

/// The set of rooms in the store (Redis `SADD`, `SREM`, `SMEMBERS`).
#[async_trait]
pub trait RoomSet {
    /// True if the room was not in the set.
    async fn add(&self, room: &str) -> RpcResult<bool>;
    async fn remove(&self, room: &str) -> RpcResult<()>;
    async fn members(&self) -> RpcResult<Vec<String>>;
}

/// The rooms an instance has seen in the set. Rooms are never removed once they hold a message,
/// so what is known stays true.
#[derive(Default)]
pub struct KnownRooms(Mutex<BTreeSet<String>>);

impl KnownRooms {
    pub const fn new() -> Self {
        KnownRooms(Mutex::new(BTreeSet::new()))
    }

    fn contains(&self, room: &str) -> bool {
        self.lock().contains(room)
    }

    fn insert(&self, room: &str) {
        self.lock().insert(room.to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        // A panic while holding it leaves a set that is still true.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// How a room came to be in the set of rooms.
#[derive(Debug, PartialEq, Eq)]
enum Admitted {
    /// `general`, or a room this instance has seen in the set.
    Known,
    /// Added now.
    Added,
    /// Found in the set, where a writer refused at the bound may take it out again (below).
    Found,
}

/// Makes sure room `name` is in the set of rooms, unless that would make more than
/// `MAX_ROOMS`; `Err` holds the refusal for the client.
///
/// A room that holds a message stays in the set, even in a race for the last place: the
/// writer of a found room's first message puts it in again after writing, and a writer that
/// takes out the room it added looks at the room's list afterwards. Whichever comes last sees
/// the other's work, so the bound may be passed by a room in a race, but a room with messages
/// is never left out. (A room added by a writer under the bound is never taken out.)
async fn admit(
    rooms: &(impl RoomSet + Sync),
    known: &KnownRooms,
    name: Option<&str>,
    list: &(impl MessageList + Sync),
) -> RpcResult<Result<Admitted, String>> {
    let Some(name) = name.filter(|name| !known.contains(name)) else {
        return Ok(Ok(Admitted::Known));
    };
    if !rooms.add(name).await? {
        return Ok(Ok(Admitted::Found));
    }
    if rooms.members().await?.len() > MAX_ROOMS {
        rooms.remove(name).await?;
        if list.range(0, 0).await?.is_empty() {
            return Ok(Err(format!(
                "the chat has its most rooms ({MAX_ROOMS}); write in one that exists"
            )));
        }
        // Another writer stored a message here meanwhile: the room exists.
        rooms.add(name).await?;
    }
    known.insert(name);
    Ok(Ok(Admitted::Added))
}

fn refused(reason: String) -> WriteMessageResponse {
    WriteMessageResponse {
        accepted: false,
        reason: Some(reason),
        ..Default::default()
    }
}

/// Stores `msg` in its room's history (`list_of` gives the list a room lives in), once per
/// idempotency key. A bad room name or one room too many is a refusal with the reason.
pub async fn write<L: MessageList + Sync>(
    list_of: impl FnOnce(Room) -> L,
    store: &(impl KeyStore + RoomSet + Sync),
    known: &KnownRooms,
    msg: &CanonicalChatMessage,
) -> RpcResult<WriteMessageResponse> {
    let room = match Room::named(msg.room.as_deref()) {
        Ok(room) => room,
        Err(reason) => return Ok(refused(reason)),
    };
    let name = room.name().map(String::from);
    let prefix = room.idempotency_prefix.clone();
    let list = list_of(room);
    let admitted = match admit(store, known, name.as_deref(), &list).await? {
        Ok(admitted) => admitted,
        Err(reason) => return Ok(refused(reason)),
    };
    let response = write_once(&list, store, &prefix, msg).await?;
    if let (Admitted::Found, Some(name)) = (admitted, &name) {
        if response.accepted && response.index == Some(0) {
            // In again, in case a writer refused at the bound took it out after we found it.
            store.add(name).await?;
        }
        known.insert(name);
    }
    Ok(response)
}

/// One page of a room's history, each message saying its room, and the entries that could not
/// be read. A bad room name is answered with the reason and no messages.
pub async fn page<L: MessageList + Sync>(
    list_of: impl FnOnce(Room) -> L,
    req: &MessagesPageRequest,
) -> RpcResult<(MessagesPage, Vec<String>)> {
    let room = match Room::named(req.room.as_deref()) {
        Ok(room) => room,
        Err(reason) => {
            let page = MessagesPage {
                reason: Some(reason),
                ..Default::default()
            };
            return Ok((page, Vec::new()));
        }
    };
    let name = room.name().map(String::from);
    let (mut page, unreadable) = history::page(&list_of(room), req).await?;
    if let Some(name) = name {
        for msg in &mut page.messages {
            msg.room = Some(name.clone());
        }
    }
    Ok((page, unreadable))
}

/// Where a room stands in the list: `general` first whatever its name, then by name.
fn list_order(name: &str) -> (bool, &str) {
    (name != DEFAULT_ROOM, name)
}

/// A page of the rooms, `general` first and the others by name, each with its message count
/// and the time of its newest message: two store commands a room, as a page of its history.
pub async fn list<L: MessageList + Sync>(
    list_of: impl Fn(Room) -> L,
    rooms: &(impl RoomSet + Sync),
    req: &RoomsPageRequest,
) -> RpcResult<RoomsPage> {
    let mut names = rooms.members().await?;
    names.sort_unstable();
    let names = std::iter::once(DEFAULT_ROOM.to_string()).chain(names);
    let after = req.after.as_deref().map(list_order);
    let limit = req.limit.clamp(1, MAX_ROOMS_PAGE) as usize;
    let mut page: Vec<String> = names
        .filter(|name| after.is_none_or(|after| list_order(name) > after))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let mut summaries = Vec::with_capacity(page.len());
    for name in page {
        let Ok(room) = Room::named(Some(&name)) else {
            continue; // Only the chat log adds names, and only good ones.
        };
        let newest = MessagesPageRequest {
            limit: 1,
            ..Default::default()
        };
        let (newest, _) = history::page(&list_of(room), &newest).await?;
        let last = newest.messages.last();
        summaries.push(RoomSummary {
            message_count: last.and_then(|m| m.index).map_or(0, |index| index + 1),
            last_ts: last.and_then(|m| m.ts),
            name,
        });
    }
    Ok(RoomsPage {
        next_after: more
            .then(|| summaries.last().map(|r| r.name.clone()))
            .flatten(),
        rooms: summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{MemoryStore, RoomLists};
    use futures::executor::block_on;

    fn message(room: Option<&str>, body: &str) -> CanonicalChatMessage {
        CanonicalChatMessage {
            id: format!("id-{body}"),
            channel_name: "nats".into(),
            source_user: "bob".into(),
            body: body.into(),
            room: room.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn the_default_room_keeps_the_original_keys_and_others_get_their_own() {
        for name in [None, Some("general")] {
            let room = Room::named(name).unwrap();
            assert_eq!(room.name(), None);
            assert_eq!(room.messages_key, "chatlog:messages");
            assert_eq!(room.length_hint_key, "chatlog:messages:length-hint");
            assert_eq!(room.idempotency_prefix, "chatlog:idempotency");
        }
        let dev = Room::named(Some("dev-2")).unwrap();
        assert_eq!(dev.name(), Some("dev-2"));
        assert_eq!(dev.messages_key, "chatlog:rooms:dev-2:messages");
        assert_eq!(dev.idempotency_prefix, "chatlog:rooms:dev-2:idempotency");
    }

    #[test]
    fn bad_room_names_are_refused_with_the_rule() {
        let longest = "a".repeat(MAX_ROOM_NAME_LEN);
        assert!(Room::named(Some(&longest)).is_ok());
        assert!(Room::named(Some("0")).is_ok());
        let too_long = "a".repeat(MAX_ROOM_NAME_LEN + 1);
        for bad in [
            "", "-dev", "Dev", "dev.ops", "dev/ops", "dev:x", "dév", " dev", "*", ">", &too_long,
        ] {
            let reason = Room::named(Some(bad)).unwrap_err();
            assert!(
                reason.starts_with("a room name is 1 to 64"),
                "{bad}: {reason}"
            );
        }
    }

    #[test]
    fn each_room_has_its_own_history_positions_and_idempotency_keys() {
        let lists = RoomLists::default();
        let store = MemoryStore::default();
        let known = KnownRooms::new();
        let write = |msg: &CanonicalChatMessage| {
            block_on(write(|room| lists.list(&room), &store, &known, msg)).unwrap()
        };
        assert_eq!(write(&message(None, "g0")).index, Some(0));
        assert_eq!(write(&message(Some("dev"), "d0")).index, Some(0));
        assert_eq!(write(&message(Some("general"), "g1")).index, Some(1));
        let keyed = |room, body: &str| CanonicalChatMessage {
            client_id: Some("k1".into()),
            ..message(room, body)
        };
        assert_eq!(
            write(&keyed(Some("dev"), "d1")).id.as_deref(),
            Some("id-d1")
        );
        // The same key in another room is another message.
        assert_eq!(write(&keyed(None, "g2")).id.as_deref(), Some("id-g2"));
        assert_eq!(
            write(&keyed(Some("dev"), "d1 again")).id.as_deref(),
            Some("id-d1")
        );

        let page = |room: Option<&str>| {
            let req = MessagesPageRequest {
                limit: 10,
                room: room.map(String::from),
                ..Default::default()
            };
            block_on(page(|room| lists.list(&room), &req)).unwrap().0
        };
        let general = page(Some("general"));
        let bodies: Vec<_> = general.messages.iter().map(|m| m.body.as_str()).collect();
        assert_eq!(bodies, ["g0", "g1", "g2"]);
        assert!(general.messages.iter().all(|m| m.room.is_none()));
        let dev = page(Some("dev"));
        let bodies: Vec<_> = dev
            .messages
            .iter()
            .map(|m| (m.body.as_str(), m.index))
            .collect();
        assert_eq!(bodies, [("d0", Some(0)), ("d1", Some(1))]);
        assert!(dev
            .messages
            .iter()
            .all(|m| m.room.as_deref() == Some("dev")));
        assert!(page(Some("empty")).messages.is_empty());
        assert_eq!(store.rooms(), ["dev"]);
    }

    #[test]
    fn a_bad_room_is_refused_on_write_and_read_and_nothing_is_kept() {
        let lists = RoomLists::default();
        let store = MemoryStore::default();
        let known = KnownRooms::new();
        let response = block_on(write(
            |room| lists.list(&room),
            &store,
            &known,
            &message(Some("Dev"), "x"),
        ))
        .unwrap();
        assert!(!response.accepted);
        assert!(response.reason.unwrap().contains("a room name"));
        let req = MessagesPageRequest {
            limit: 10,
            room: Some("a b".into()),
            ..Default::default()
        };
        let (page, _) = block_on(page(|room| lists.list(&room), &req)).unwrap();
        assert!(page.messages.is_empty());
        assert!(page.reason.unwrap().contains("a room name"));
        assert!(store.rooms().is_empty());
        assert!(lists.is_empty());
    }

    #[test]
    fn rooms_are_bounded_and_a_known_room_is_not_asked_about_again() {
        let lists = RoomLists::default();
        let store = MemoryStore::default();
        let known = KnownRooms::new();
        for n in 0..MAX_ROOMS {
            store.add_room(&format!("r{n}"));
        }
        let write = |msg: &CanonicalChatMessage| {
            block_on(write(|room| lists.list(&room), &store, &known, msg)).unwrap()
        };
        let refused = write(&message(Some("one-more"), "x"));
        assert!(!refused.accepted);
        assert_eq!(
            refused.reason.as_deref(),
            Some("the chat has its most rooms (10000); write in one that exists")
        );
        assert!(!store.rooms().contains(&"one-more".to_string()));
        assert!(write(&message(Some("r7"), "x")).accepted);
        assert!(write(&message(None, "general is always there")).accepted);
        let asked = store.room_calls();
        assert!(write(&message(Some("r7"), "y")).accepted);
        assert_eq!(store.room_calls(), asked, "a known room costs no call");
    }

    /// A room's list during whose append a writer refused at the bound takes the room out.
    struct TakenOutWhileWriting<'a> {
        list: std::sync::Arc<crate::memory::VecList>,
        store: &'a MemoryStore,
        room: &'static str,
    }

    #[async_trait]
    impl MessageList for TakenOutWhileWriting<'_> {
        async fn append(&self, value: String) -> RpcResult<u32> {
            self.store.remove(self.room).await?;
            self.list.append(value).await
        }
        async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>> {
            self.list.range(start, stop).await
        }
        async fn length_hint(&self) -> RpcResult<Option<u64>> {
            self.list.length_hint().await
        }
        async fn set_length_hint(&self, length: u64) -> RpcResult<()> {
            self.list.set_length_hint(length).await
        }
    }

    #[test]
    fn a_room_written_in_during_a_race_at_the_bound_stays_in_the_set() {
        let lists = RoomLists::default();
        let store = MemoryStore::default();
        for n in 0..MAX_ROOMS {
            store.add_room(&format!("r{n}"));
        }
        // Host B finds the 10,001st room in the set, put there by host A, which is over the
        // bound and takes it out while B writes: B puts it back after writing.
        store.add_room("late");
        let (host_a, host_b) = (KnownRooms::new(), KnownRooms::new());
        let written = block_on(write(
            |room| TakenOutWhileWriting {
                list: lists.list(&room),
                store: &store,
                room: "late",
            },
            &store,
            &host_b,
            &message(Some("late"), "b wrote"),
        ))
        .unwrap();
        assert!(written.accepted);
        assert!(store.rooms().contains(&"late".to_string()));

        // The other order: the room is out when a writer over the bound adds it and takes it
        // out again. Its look at the list finds B's message: the room exists, so it goes back
        // in, and this write is stored too.
        block_on(store.remove("late")).unwrap();
        let a_wrote = block_on(write(
            |room| lists.list(&room),
            &store,
            &host_a,
            &message(Some("late"), "a wrote"),
        ))
        .unwrap();
        assert!(a_wrote.accepted, "{:?}", a_wrote.reason);
        assert!(store.rooms().contains(&"late".to_string()));
        // A room with nothing in it is still refused.
        let refused = block_on(write(
            |room| lists.list(&room),
            &store,
            &host_a,
            &message(Some("empty"), "x"),
        ))
        .unwrap();
        assert!(!refused.accepted);
    }

    #[test]
    fn the_list_has_general_first_then_every_room_by_name_with_counts_and_pages() {
        let lists = RoomLists::default();
        let store = MemoryStore::default();
        let known = KnownRooms::new();
        for (room, body) in [
            (Some("ops"), "o0"),
            (None, "g0"),
            (Some("dev"), "d0"),
            (Some("dev"), "d1"),
        ] {
            let msg = CanonicalChatMessage {
                ts: Some(1_796_000_000_000),
                ..message(room, body)
            };
            block_on(write(|room| lists.list(&room), &store, &known, &msg)).unwrap();
        }
        let page = |limit, after: Option<&str>| {
            let req = RoomsPageRequest {
                limit,
                after: after.map(String::from),
            };
            block_on(list(|room| lists.list(&room), &store, &req)).unwrap()
        };
        let all = page(10, None);
        let rows: Vec<_> = all
            .rooms
            .iter()
            .map(|r| (r.name.as_str(), r.message_count, r.last_ts))
            .collect();
        let ts = Some(1_796_000_000_000);
        assert_eq!(rows, [("general", 1, ts), ("dev", 2, ts), ("ops", 1, ts)]);
        assert_eq!(all.next_after, None);
        let first = page(2, None);
        assert_eq!(first.next_after.as_deref(), Some("dev"));
        let rest = page(2, first.next_after.as_deref());
        let names: Vec<_> = rest.rooms.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["ops"]);
        assert_eq!(rest.next_after, None);
        assert_eq!(page(2, Some("general")).rooms[0].name, "dev");
    }
}
