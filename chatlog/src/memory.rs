//! In-process stand-ins for the key-value store, with Redis semantics, for native tests.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::rpc::{RpcError, RpcResult};
use async_trait::async_trait;

use crate::history::MessageList;
use crate::idempotency::KeyStore;
use crate::rooms::{Room, RoomSet};

/// A list with the same LRANGE semantics as Redis and a length hint; counts its reads.
#[derive(Default)]
pub struct VecList {
    pub items: Mutex<Vec<String>>,
    pub hint: Mutex<Option<u64>>,
    /// Range and hint reads since the last `reset_calls`.
    pub reads: Mutex<u32>,
    /// Every append fails while set (a store outage).
    pub down: Mutex<bool>,
}

#[async_trait]
impl MessageList for VecList {
    async fn append(&self, value: String) -> RpcResult<u32> {
        if *self.down.lock().unwrap() {
            return Err(RpcError::Other("the store is down".into()));
        }
        let mut items = self.items.lock().unwrap();
        items.push(value);
        Ok(items.len() as u32)
    }

    async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>> {
        *self.reads.lock().unwrap() += 1;
        let items = self.items.lock().unwrap();
        let len = items.len() as i64;
        let resolve = |i: i32| if i < 0 { len + i as i64 } else { i as i64 };
        let (start, stop) = (resolve(start).max(0), resolve(stop).min(len - 1));
        if start > stop {
            return Ok(Vec::new());
        }
        Ok(items[start as usize..=stop as usize].to_vec())
    }

    async fn length_hint(&self) -> RpcResult<Option<u64>> {
        *self.reads.lock().unwrap() += 1;
        Ok(*self.hint.lock().unwrap())
    }

    async fn set_length_hint(&self, length: u64) -> RpcResult<()> {
        *self.hint.lock().unwrap() = Some(length);
        Ok(())
    }
}

impl VecList {
    pub fn reset_calls(&self) {
        *self.reads.lock().unwrap() = 0;
    }

    pub fn calls(&self) -> u32 {
        *self.reads.lock().unwrap()
    }
}

/// One list per room, by the room's key.
#[derive(Default)]
pub struct RoomLists(Mutex<HashMap<String, Arc<VecList>>>);

impl RoomLists {
    pub fn list(&self, room: &Room) -> Arc<VecList> {
        let mut lists = self.0.lock().unwrap();
        lists.entry(room.messages_key.clone()).or_default().clone()
    }

    /// Whether no room holds a message.
    pub fn is_empty(&self) -> bool {
        let lists = self.0.lock().unwrap();
        lists
            .values()
            .all(|list| list.items.lock().unwrap().is_empty())
    }
}

#[async_trait]
impl MessageList for Arc<VecList> {
    async fn append(&self, value: String) -> RpcResult<u32> {
        self.as_ref().append(value).await
    }

    async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>> {
        self.as_ref().range(start, stop).await
    }

    async fn length_hint(&self) -> RpcResult<Option<u64>> {
        self.as_ref().length_hint().await
    }

    async fn set_length_hint(&self, length: u64) -> RpcResult<()> {
        self.as_ref().set_length_hint(length).await
    }
}

/// Keys and counters, like Redis `INCR`, `GET`, `SET` and `DEL`, and the set of rooms.
#[derive(Default)]
pub struct MemoryStore {
    pub values: Mutex<HashMap<String, String>>,
    rooms: Mutex<BTreeSet<String>>,
    /// Calls on the set of rooms.
    room_calls: Mutex<u32>,
}

impl MemoryStore {
    pub fn rooms(&self) -> Vec<String> {
        self.rooms.lock().unwrap().iter().cloned().collect()
    }

    /// Puts a room in the set, as another host would.
    pub fn add_room(&self, room: &str) {
        self.rooms.lock().unwrap().insert(room.into());
    }

    pub fn room_calls(&self) -> u32 {
        *self.room_calls.lock().unwrap()
    }

    fn count_room_call(&self) {
        *self.room_calls.lock().unwrap() += 1;
    }
}

#[async_trait]
impl RoomSet for MemoryStore {
    async fn add(&self, room: &str) -> RpcResult<bool> {
        self.count_room_call();
        Ok(self.rooms.lock().unwrap().insert(room.into()))
    }

    async fn remove(&self, room: &str) -> RpcResult<()> {
        self.count_room_call();
        self.rooms.lock().unwrap().remove(room);
        Ok(())
    }

    async fn members(&self) -> RpcResult<Vec<String>> {
        self.count_room_call();
        Ok(self.rooms())
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn increment(&self, key: &str) -> RpcResult<i32> {
        let mut values = self.values.lock().unwrap();
        let current = match values.get(key) {
            None => 0,
            Some(value) => value.parse::<i32>().map_err(|_| {
                RpcError::Other("ERR value is not an integer or out of range".into())
            })?,
        };
        let next = current + 1;
        values.insert(key.to_string(), next.to_string());
        Ok(next)
    }

    async fn get(&self, key: &str) -> RpcResult<Option<String>> {
        Ok(self.values.lock().unwrap().get(key).cloned())
    }

    async fn set(&self, key: &str, value: &str) -> RpcResult<()> {
        self.values
            .lock()
            .unwrap()
            .insert(key.to_string(), value.to_string());
        Ok(())
    }

    async fn del(&self, key: &str) -> RpcResult<()> {
        self.values.lock().unwrap().remove(key);
        Ok(())
    }
}
