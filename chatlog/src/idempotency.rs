//! Exactly-once writes under retry. A client may send an idempotency key (`clientId`); every
//! write with the same channel and key stores one message, and answers with its id.
//!
//! The first write claims the key with an atomic increment (one winner, however many hosts share
//! the store), appends the message, then records its id. A retry finds the id and stores
//! nothing; a retry that arrives while the first write is still running is told so
//! (`inProgress`) and retries. A first write that fails releases its claim.

use crate::rpc::RpcResult;
use async_trait::async_trait;

use crate::bindings::{CanonicalChatMessage, WriteMessageResponse};
use crate::history::{self, MessageList};
use crate::validate::check_message;

/// Longest idempotency key taken.
pub const MAX_CLIENT_ID_LEN: usize = 128;
const KEY_PREFIX: &str = "chatlog:idempotency";

/// The key-value operations a claim needs (Redis `INCR`, `GET`, `SET`, `DEL`).
#[async_trait]
pub trait KeyStore {
    async fn increment(&self, key: &str) -> RpcResult<i32>;
    async fn get(&self, key: &str) -> RpcResult<Option<String>>;
    async fn set(&self, key: &str, value: &str) -> RpcResult<()>;
    async fn del(&self, key: &str) -> RpcResult<()>;
}

fn refused(reason: String) -> WriteMessageResponse {
    WriteMessageResponse {
        accepted: false,
        reason: Some(reason),
        ..Default::default()
    }
}

fn stored(id: String) -> WriteMessageResponse {
    WriteMessageResponse {
        accepted: true,
        id: Some(id),
        ..Default::default()
    }
}

fn check_client_id(key: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().count() > MAX_CLIENT_ID_LEN {
        return Err(format!(
            "an idempotency key must be 1 to {MAX_CLIENT_ID_LEN} characters"
        ));
    }
    if key.chars().any(char::is_control) {
        return Err("an idempotency key must not contain control characters".into());
    }
    Ok(())
}

/// Stores `msg` once per idempotency key (or simply stores it when it has none).
pub async fn write_once(
    list: &(impl MessageList + Sync),
    store: &(impl KeyStore + Sync),
    msg: &CanonicalChatMessage,
) -> RpcResult<WriteMessageResponse> {
    let Some(key) = msg.client_id.as_deref() else {
        return history::write(list, msg).await;
    };
    if let Err(reason) = check_client_id(key).and_then(|()| check_message(msg)) {
        return Ok(refused(reason));
    }
    let claim = format!("{KEY_PREFIX}:{}:{key}", msg.channel_name);
    let id_key = format!("{claim}:id");
    if let Some(id) = store.get(&id_key).await? {
        return Ok(stored(id));
    }
    if store.increment(&claim).await? > 1 {
        return Ok(match store.get(&id_key).await? {
            Some(id) => stored(id),
            None => WriteMessageResponse {
                accepted: false,
                reason: Some(
                    "a message with this idempotency key is still being stored; retry shortly"
                        .into(),
                ),
                in_progress: true,
                ..Default::default()
            },
        });
    }
    let unkeyed = CanonicalChatMessage {
        client_id: None,
        ..msg.clone()
    };
    match history::write(list, &unkeyed).await {
        Ok(response) => {
            // Stored: the answer is yes even if the id cannot be recorded (then retries are told
            // to wait, and nothing is stored twice).
            let _ = store.set(&id_key, &msg.id).await;
            Ok(response)
        }
        Err(e) => {
            // Not stored: free the key for a retry. If this fails too, retries are told to wait.
            let _ = store.del(&claim).await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::all;
    use crate::memory::{MemoryStore, VecList};
    use futures::executor::block_on;

    fn keyed(id: &str, key: Option<&str>, body: &str) -> CanonicalChatMessage {
        CanonicalChatMessage {
            id: id.into(),
            channel_name: "http".into(),
            source_user: "rex".into(),
            body: body.into(),
            client_id: key.map(String::from),
            index: None,
        }
    }

    #[test]
    fn a_retry_with_the_same_key_stores_nothing_and_answers_the_first_id() {
        let (list, store) = (VecList::default(), MemoryStore::default());
        let first = block_on(write_once(
            &list,
            &store,
            &keyed("id-1", Some("k1"), "once"),
        ))
        .unwrap();
        assert_eq!((first.accepted, first.id.as_deref()), (true, Some("id-1")));
        let retry = block_on(write_once(
            &list,
            &store,
            &keyed("id-2", Some("k1"), "once"),
        ))
        .unwrap();
        assert_eq!((retry.accepted, retry.id.as_deref()), (true, Some("id-1")));
        let other = block_on(write_once(
            &list,
            &store,
            &keyed("id-3", Some("k2"), "twice"),
        ))
        .unwrap();
        assert_eq!(other.id.as_deref(), Some("id-3"));
        let messages = block_on(all(&list)).unwrap().messages;
        assert_eq!(messages.len(), 2);
        // The key is never stored with the message.
        assert!(list
            .items
            .lock()
            .unwrap()
            .iter()
            .all(|json| !json.contains("k1")));
    }

    #[test]
    fn a_retry_while_the_first_write_runs_is_told_to_retry() {
        let (list, store) = (VecList::default(), MemoryStore::default());
        // The first write has claimed the key but not finished.
        block_on(store.increment("chatlog:idempotency:http:k1")).unwrap();
        let retry = block_on(write_once(&list, &store, &keyed("id-2", Some("k1"), "x"))).unwrap();
        assert!(!retry.accepted);
        assert!(retry.in_progress);
        assert!(list.items.lock().unwrap().is_empty());
    }

    #[test]
    fn a_failed_write_frees_the_key_for_the_retry() {
        let (list, store) = (VecList::default(), MemoryStore::default());
        *list.down.lock().unwrap() = true;
        assert!(block_on(write_once(&list, &store, &keyed("id-1", Some("k1"), "x"))).is_err());
        *list.down.lock().unwrap() = false;
        let retry = block_on(write_once(&list, &store, &keyed("id-2", Some("k1"), "x"))).unwrap();
        assert_eq!((retry.accepted, retry.id.as_deref()), (true, Some("id-2")));
        assert_eq!(list.items.lock().unwrap().len(), 1);
    }

    #[test]
    fn bad_keys_and_bad_messages_claim_nothing() {
        let (list, store) = (VecList::default(), MemoryStore::default());
        let long = "k".repeat(MAX_CLIENT_ID_LEN + 1);
        for (key, body) in [
            ("", "x"),
            (long.as_str(), "x"),
            ("a\nb", "x"),
            ("good", " "),
        ] {
            let answer =
                block_on(write_once(&list, &store, &keyed("id", Some(key), body))).unwrap();
            assert!(
                !answer.accepted && !answer.in_progress,
                "{key:?}: {answer:?}"
            );
        }
        assert!(store.values.lock().unwrap().is_empty());
        assert!(list.items.lock().unwrap().is_empty());
    }

    #[test]
    fn without_a_key_every_write_is_stored() {
        let (list, store) = (VecList::default(), MemoryStore::default());
        for id in ["a", "b"] {
            let answer = block_on(write_once(&list, &store, &keyed(id, None, "same"))).unwrap();
            assert_eq!(answer.id.as_deref(), Some(id));
        }
        assert_eq!(list.items.lock().unwrap().len(), 2);
        assert!(store.values.lock().unwrap().is_empty());
    }
}
