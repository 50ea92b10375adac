//! The chatlog actor's logic as a WebAssembly component (world `mcchat:actors/chatlog`): the
//! module build's `history`, `idempotency` and `validate` modules, with the key-value store and
//! the log as plain WIT imports and the chatlog contract as its export. Nothing here speaks
//! wasmbus: `cargo xtask build` composes this component with its adapters into
//! `build/chatlog_component_s.wasm`.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../../interface/wit",
    world: "chatlog",
    generate_all,
    // The logic builds its answers with `..Default::default()`.
    additional_derives: [Default],
});

pub mod history;
pub mod idempotency;
pub mod rooms;
pub mod validate;

/// The contract's records under the names the logic modules use.
pub mod bindings {
    pub use crate::exports::mcchat::chatlog::chatlog::{
        CanonicalChatMessage, MessagesList, MessagesPage, MessagesPageRequest, RoomSummary,
        RoomsPage, RoomsPageRequest, WriteMessageResponse,
    };
}

/// The errors the logic returns. An import's error arrives as text.
pub mod rpc {
    use std::fmt;

    #[derive(Debug)]
    pub enum RpcError {
        /// A message could not be encoded for the store.
        Ser(String),
        Other(String),
    }

    impl fmt::Display for RpcError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                RpcError::Ser(e) => write!(f, "serialize: {e}"),
                RpcError::Other(e) => f.write_str(e),
            }
        }
    }

    impl From<String> for RpcError {
        fn from(error: String) -> Self {
            RpcError::Other(error)
        }
    }

    pub type RpcResult<T> = Result<T, RpcError>;
}

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

use async_trait::async_trait;
use futures::executor::block_on;

use crate::bindings::{
    CanonicalChatMessage, MessagesList, MessagesPage, MessagesPageRequest, RoomsPage,
    RoomsPageRequest, WriteMessageResponse,
};
use crate::exports::mcchat::chatlog::chatlog::Guest;
use crate::history::MessageList;
use crate::idempotency::KeyStore;
use crate::rooms::{KnownRooms, Room, RoomSet, ROOMS_KEY};
use crate::rpc::RpcResult;
use crate::wasmcloud::keyvalue::keyvalue as kv;
use crate::wasmcloud::logging::logging::{write_log, LogEntry};

/// The rooms this instance has seen in the store's set.
static KNOWN_ROOMS: KnownRooms = KnownRooms::new();

/// A room's history list in the key-value store the component imports.
struct KeyValueList(Room);

/// The key-value store's keys, counters and the set of rooms.
struct KeyValueStore;

#[async_trait]
impl MessageList for KeyValueList {
    async fn append(&self, value: String) -> RpcResult<u32> {
        Ok(kv::list_add(&kv::ListAddRequest {
            list_name: self.0.messages_key.clone(),
            value,
        })?)
    }

    async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>> {
        Ok(kv::list_range(&kv::ListRangeRequest {
            list_name: self.0.messages_key.clone(),
            start,
            stop,
        })?)
    }

    async fn length_hint(&self) -> RpcResult<Option<u64>> {
        let found = kv::get(&self.0.length_hint_key)?;
        // An unreadable hint is as good as none: the page falls back to the search.
        Ok(found.exists.then(|| found.value.parse().ok()).flatten())
    }

    async fn set_length_hint(&self, length: u64) -> RpcResult<()> {
        Ok(kv::set(&kv::SetRequest {
            key: self.0.length_hint_key.clone(),
            value: length.to_string(),
            expires: 0,
        })?)
    }
}

#[async_trait]
impl KeyStore for KeyValueStore {
    async fn increment(&self, key: &str) -> RpcResult<i32> {
        Ok(kv::increment(&kv::IncrementRequest {
            key: key.to_string(),
            value: 1,
        })?)
    }

    async fn get(&self, key: &str) -> RpcResult<Option<String>> {
        let found = kv::get(key)?;
        Ok(found.exists.then_some(found.value))
    }

    async fn set(&self, key: &str, value: &str) -> RpcResult<()> {
        Ok(kv::set(&kv::SetRequest {
            key: key.to_string(),
            value: value.to_string(),
            expires: 0,
        })?)
    }

    async fn del(&self, key: &str) -> RpcResult<()> {
        Ok(kv::del(key).map(drop)?)
    }
}

fn room_member(room: &str) -> kv::SetMemberRequest {
    kv::SetMemberRequest {
        set_name: ROOMS_KEY.to_string(),
        value: room.to_string(),
    }
}

#[async_trait]
impl RoomSet for KeyValueStore {
    async fn add(&self, room: &str) -> RpcResult<bool> {
        Ok(kv::set_add(&room_member(room))? > 0)
    }

    async fn remove(&self, room: &str) -> RpcResult<()> {
        Ok(kv::set_del(&room_member(room)).map(drop)?)
    }

    async fn members(&self) -> RpcResult<Vec<String>> {
        Ok(kv::set_query(ROOMS_KEY)?)
    }
}

/// Logging must never fail a request, so its own errors are dropped.
fn log(level: &str, text: String) {
    let _ = write_log(&LogEntry {
        level: level.to_string(),
        text,
    });
}

fn report_unreadable(entries: &[String]) {
    for entry in entries {
        log(
            "warn",
            format!("skipped an unreadable history entry: {entry}"),
        );
    }
}

struct Chatlog;
export!(Chatlog);

impl Guest for Chatlog {
    fn write_message(msg: CanonicalChatMessage) -> Result<WriteMessageResponse, String> {
        let response = block_on(rooms::write(
            KeyValueList,
            &KeyValueStore,
            &KNOWN_ROOMS,
            &msg,
        ))
        .map_err(|e| e.to_string())?;
        if let Some(reason) = &response.reason {
            log("debug", format!("refused message {}: {reason}", msg.id));
        }
        Ok(response)
    }

    fn get_messages() -> Result<MessagesList, String> {
        let general = KeyValueList(Room::general());
        let decoded = block_on(history::all(&general)).map_err(|e| e.to_string())?;
        report_unreadable(&decoded.unreadable);
        Ok(decoded.messages)
    }

    fn get_messages_page(req: MessagesPageRequest) -> Result<MessagesPage, String> {
        let (page, unreadable) =
            block_on(rooms::page(KeyValueList, &req)).map_err(|e| e.to_string())?;
        report_unreadable(&unreadable);
        Ok(page)
    }

    fn list_rooms(req: RoomsPageRequest) -> Result<RoomsPage, String> {
        block_on(rooms::list(KeyValueList, &KeyValueStore, &req)).map_err(|e| e.to_string())
    }
}
