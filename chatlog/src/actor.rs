//! wasmbus glue: the Chatlog service backed by the linked `wasmcloud:keyvalue` provider.

use async_trait::async_trait;
use wasmbus_rpc::actor::prelude::*;
use wasmcloud_interface_keyvalue::{
    IncrementRequest, KeyValue, KeyValueSender, ListAddRequest, ListRangeRequest, SetRequest,
};
use wasmcloud_interface_logging::log;

use crate::bindings::{
    CanonicalChatMessage, Chatlog, ChatlogReceiver, MessagesList, MessagesPage,
    MessagesPageRequest, WriteMessageResponse,
};
use crate::history::{self, MessageList, LENGTH_HINT_KEY, MESSAGES_KEY};
use crate::idempotency::{write_once, KeyStore};

#[derive(Debug, Default, Actor, HealthResponder)]
#[services(Actor, Chatlog)]
struct ChatlogActor {}

/// The history list in the linked key-value store.
struct KeyValueList;

#[async_trait]
impl MessageList for KeyValueList {
    async fn append(&self, value: String) -> RpcResult<u32> {
        let req = ListAddRequest {
            list_name: MESSAGES_KEY.to_string(),
            value,
        };
        KeyValueSender::new()
            .list_add(&Context::default(), &req)
            .await
    }

    async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>> {
        let req = ListRangeRequest {
            list_name: MESSAGES_KEY.to_string(),
            start,
            stop,
        };
        KeyValueSender::new()
            .list_range(&Context::default(), &req)
            .await
    }

    async fn length_hint(&self) -> RpcResult<Option<u64>> {
        let found = KeyValueSender::new()
            .get(&Context::default(), LENGTH_HINT_KEY)
            .await?;
        // An unreadable hint is as good as none: the page falls back to the search.
        Ok(found.exists.then(|| found.value.parse().ok()).flatten())
    }

    async fn set_length_hint(&self, length: u64) -> RpcResult<()> {
        let req = SetRequest {
            key: LENGTH_HINT_KEY.to_string(),
            value: length.to_string(),
            expires: 0,
        };
        KeyValueSender::new().set(&Context::default(), &req).await
    }
}

#[async_trait]
impl KeyStore for KeyValueList {
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
        let response = write_once(&KeyValueList, &KeyValueList, msg).await?;
        if let Some(reason) = &response.reason {
            let _ = log("debug", format!("refused message {}: {reason}", msg.id)).await;
        }
        Ok(response)
    }

    async fn get_messages(&self, _ctx: &Context) -> RpcResult<MessagesList> {
        let decoded = history::all(&KeyValueList).await?;
        report_unreadable(&decoded.unreadable).await;
        Ok(decoded.messages)
    }

    async fn get_messages_page(
        &self,
        _ctx: &Context,
        req: &MessagesPageRequest,
    ) -> RpcResult<MessagesPage> {
        let (page, unreadable) = history::page(&KeyValueList, req).await?;
        report_unreadable(&unreadable).await;
        Ok(page)
    }
}
