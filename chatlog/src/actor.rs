//! wasmbus glue: the Chatlog service backed by the linked `wasmcloud:keyvalue` provider.

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_keyvalue::{
    IncrementRequest, KeyValue, KeyValueSender, ListAddRequest, ListRangeRequest, SetAddRequest,
    SetDelRequest, SetRequest,
};
use wasmcloud_interface_logging::log;

use crate::bindings::{
    CanonicalChatMessage, Chatlog, ChatlogReceiver, MessagesList, MessagesPage,
    MessagesPageRequest, RoomsPage, RoomsPageRequest, WriteMessageResponse,
};
use crate::history::{self, MessageList};
use crate::idempotency::KeyStore;
use crate::rooms::{self, KnownRooms, Room, RoomSet, ROOMS_KEY};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, Chatlog)]
struct ChatlogActor {}

/// The rooms this instance has seen in the store's set.
static KNOWN_ROOMS: KnownRooms = KnownRooms::new();

/// A room's history list in the linked key-value store.
struct KeyValueList(Room);

/// The linked key-value store's keys, counters and the set of rooms.
struct KeyValueStore;

#[async_trait]
impl MessageList for KeyValueList {
    async fn append(&self, value: String) -> RpcResult<u32> {
        let req = ListAddRequest {
            list_name: self.0.messages_key.clone(),
            value,
        };
        KeyValueSender::new()
            .list_add(&Context::default(), &req)
            .await
    }

    async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>> {
        let req = ListRangeRequest {
            list_name: self.0.messages_key.clone(),
            start,
            stop,
        };
        KeyValueSender::new()
            .list_range(&Context::default(), &req)
            .await
    }

    async fn length_hint(&self) -> RpcResult<Option<u64>> {
        let found = KeyValueSender::new()
            .get(&Context::default(), &self.0.length_hint_key)
            .await?;
        // An unreadable hint is as good as none: the page falls back to the search.
        Ok(found.exists.then(|| found.value.parse().ok()).flatten())
    }

    async fn set_length_hint(&self, length: u64) -> RpcResult<()> {
        let req = SetRequest {
            key: self.0.length_hint_key.clone(),
            value: length.to_string(),
            expires: 0,
        };
        KeyValueSender::new().set(&Context::default(), &req).await
    }
}

#[async_trait]
impl KeyStore for KeyValueStore {
    async fn increment(&self, key: &str) -> RpcResult<i32> {
        let req = IncrementRequest {
            key: key.to_string(),
            value: 1,
        };
        KeyValueSender::new()
            .increment(&Context::default(), &req)
            .await
    }

    async fn get(&self, key: &str) -> RpcResult<Option<String>> {
        let found = KeyValueSender::new().get(&Context::default(), key).await?;
        Ok(found.exists.then_some(found.value))
    }

    async fn set(&self, key: &str, value: &str) -> RpcResult<()> {
        let req = SetRequest {
            key: key.to_string(),
            value: value.to_string(),
            expires: 0,
        };
        KeyValueSender::new().set(&Context::default(), &req).await
    }

    async fn del(&self, key: &str) -> RpcResult<()> {
        KeyValueSender::new()
            .del(&Context::default(), key)
            .await
            .map(drop)
    }
}

#[async_trait]
impl RoomSet for KeyValueStore {
    async fn add(&self, room: &str) -> RpcResult<bool> {
        let req = SetAddRequest {
            set_name: ROOMS_KEY.to_string(),
            value: room.to_string(),
        };
        let added = KeyValueSender::new()
            .set_add(&Context::default(), &req)
            .await?;
        Ok(added > 0)
    }

    async fn remove(&self, room: &str) -> RpcResult<()> {
        let req = SetDelRequest {
            set_name: ROOMS_KEY.to_string(),
            value: room.to_string(),
        };
        KeyValueSender::new()
            .set_del(&Context::default(), &req)
            .await
            .map(drop)
    }

    async fn members(&self) -> RpcResult<Vec<String>> {
        KeyValueSender::new()
            .set_query(&Context::default(), ROOMS_KEY)
            .await
    }
}

/// Logging must never fail a request, so its own errors are dropped.
async fn report_unreadable(entries: &[String]) {
    for entry in entries {
        let _ = log(
            "warn",
            format!("skipped an unreadable history entry: {entry}"),
        )
        .await;
    }
}

#[async_trait]
impl Chatlog for ChatlogActor {
    async fn write_message(
        &self,
        _ctx: &Context,
        msg: &CanonicalChatMessage,
    ) -> RpcResult<WriteMessageResponse> {
        let response = rooms::write(KeyValueList, &KeyValueStore, &KNOWN_ROOMS, msg).await?;
        if let Some(reason) = &response.reason {
            let _ = log("debug", format!("refused message {}: {reason}", msg.id)).await;
        }
        Ok(response)
    }

    async fn get_messages(&self, _ctx: &Context) -> RpcResult<MessagesList> {
        let decoded = history::all(&KeyValueList(Room::general())).await?;
        report_unreadable(&decoded.unreadable).await;
        Ok(decoded.messages)
    }

    async fn get_messages_page(
        &self,
        _ctx: &Context,
        req: &MessagesPageRequest,
    ) -> RpcResult<MessagesPage> {
        let (page, unreadable) = rooms::page(KeyValueList, req).await?;
        report_unreadable(&unreadable).await;
        Ok(page)
    }

    async fn list_rooms(&self, _ctx: &Context, req: &RoomsPageRequest) -> RpcResult<RoomsPage> {
        rooms::list(KeyValueList, &KeyValueStore, req).await
    }
}
