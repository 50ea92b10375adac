//! Exactly-once writes under retry. A client may send an idempotency key (`clientId`); every
//! write with the same channel and key stores one message, and answers with its id.
//!
//! The first write claims the key with an atomic increment (one winner, however many hosts share
//! the store), appends the message, then records its id. A retry finds the id and stores
//! nothing; a retry that arrives while the first write is still running is told so
//! (`inProgress`) and retries. A first write that fails releases its claim.
//!
//! Claims and ids live under separate prefixes (`<room's prefix>:claim:<channel>:<key>` and
//! `…:id:<channel>:<key>`; the default room's prefix is `chatlog:idempotency`), and a channel
//! name holds no `:`, so no key's claim or id is ever another key's: whatever its bytes, a key
//! cannot read or overwrite another's bookkeeping.

use crate::rpc::RpcResult;
use async_trait::async_trait;

use crate::bindings::{CanonicalChatMessage, WriteMessageResponse};
use crate::history::{self, MessageList};
use crate::validate::check_message;

/// Longest idempotency key taken.
pub const MAX_CLIENT_ID_LEN: usize = 128;

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
    // What a byte that is not UTF-8 becomes on the way here: two such keys would be one.
    if key.contains(char::REPLACEMENT_CHARACTER) {
        return Err("an idempotency key must be UTF-8 text".into());
    }
    Ok(())
}

/// Where a key's claim (`claim`) or stored id (`id`) is kept, under the room's `prefix`.
fn store_key(prefix: &str, kind: &str, channel: &str, key: &str) -> String {
    format!("{prefix}:{kind}:{channel}:{key}")
}

/// Stores `msg` once per idempotency key (or simply stores it when it has none); the keys'
/// bookkeeping is kept under `prefix`.
pub async fn write_once(
    list: &(impl MessageList + Sync),
    store: &(impl KeyStore + Sync),
    prefix: &str,
    msg: &CanonicalChatMessage,
) -> RpcResult<WriteMessageResponse> {
    let Some(key) = msg.client_id.as_deref() else {
        return history::write(list, msg).await;
    };
    if let Err(reason) = check_client_id(key).and_then(|()| check_message(msg)) {
        return Ok(refused(reason));
    }
    if msg.channel_name.contains(':') {
        return Ok(refused("channelName must not contain `:`".into()));
    }
    let claim = store_key(prefix, "claim", &msg.channel_name, key);
    let id_key = store_key(prefix, "id", &msg.channel_name, key);
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

    /// The default room's.
    const PREFIX: &str = "chatlog:idempotency";

    fn keyed(id: &str, key: Option<&str>, body: &str) -> CanonicalChatMessage {
        CanonicalChatMessage {
            id: id.into(),
            channel_name: "http".into(),
            source_user: "rex".into(),
            body: body.into(),
            client_id: key.map(String::from),
            ..Default::default()
        }
    }

    #[test]
    fn a_retry_with_the_same_key_stores_nothing_and_answers_the_first_id() {
        let (list, store) = (VecList::default(), MemoryStore::default());
        let first = block_on(write_once(
            &list,
            &store,
            PREFIX,
            &keyed("id-1", Some("k1"), "once"),
        ))
        .unwrap();
        assert_eq!((first.accepted, first.id.as_deref()), (true, Some("id-1")));
        let retry = block_on(write_once(
            &list,
            &store,
            PREFIX,
            &keyed("id-2", Some("k1"), "once"),
        ))
        .unwrap();
        assert_eq!((retry.accepted, retry.id.as_deref()), (true, Some("id-1")));
        let other = block_on(write_once(
            &list,
            &store,
            PREFIX,
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
        block_on(store.increment("chatlog:idempotency:claim:http:k1")).unwrap();
        let retry = block_on(write_once(
            &list,
            &store,
            PREFIX,
            &keyed("id-2", Some("k1"), "x"),
        ))
        .unwrap();
        assert!(!retry.accepted);
        assert!(retry.in_progress);
        assert!(list.items.lock().unwrap().is_empty());
    }

    #[test]
    fn a_failed_write_frees_the_key_for_the_retry() {
        let (list, store) = (VecList::default(), MemoryStore::default());
        *list.down.lock().unwrap() = true;
        assert!(block_on(write_once(
            &list,
            &store,
            PREFIX,
            &keyed("id-1", Some("k1"), "x")
        ))
        .is_err());
        *list.down.lock().unwrap() = false;
        let retry = block_on(write_once(
            &list,
            &store,
            PREFIX,
            &keyed("id-2", Some("k1"), "x"),
        ))
        .unwrap();
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
            ("a\u{fffd}b", "x"),
            ("good", " "),
        ] {
            let answer = block_on(write_once(
                &list,
                &store,
                PREFIX,
                &keyed("id", Some(key), body),
            ))
            .unwrap();
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
            let answer =
                block_on(write_once(&list, &store, PREFIX, &keyed(id, None, "same"))).unwrap();
            assert_eq!(answer.id.as_deref(), Some(id));
        }
        assert_eq!(list.items.lock().unwrap().len(), 2);
        assert!(store.values.lock().unwrap().is_empty());
    }

    /// One message per key, in the order given, each written twice (the retry).
    fn write_each_twice(keys: &[String]) -> (VecList, Vec<[WriteMessageResponse; 2]>) {
        let (list, store) = (VecList::default(), MemoryStore::default());
        let answers = keys
            .iter()
            .enumerate()
            .map(|(n, key)| {
                let msg = keyed(&format!("id-{n}"), Some(key), &format!("body {n}"));
                let write =
                    || block_on(write_once(&list, &store, PREFIX, &msg)).expect("no store error");
                [write(), write()]
            })
            .collect();
        (list, answers)
    }

    proptest::proptest! {
        /// Any two distinct keys, in either order: each stores its message once, or is refused;
        /// none is acknowledged without its message in the history. Keys are drawn to look
        /// like each other's bookkeeping (`K`, `K:id`, `claim:…`) as well as arbitrary text.
        #[test]
        fn two_distinct_keys_never_ack_a_message_that_is_not_stored(
            first in "(claim:|id:)?[a-z]{0,3}(:id|:claim|:)?|\\PC{0,8}",
            second in "(claim:|id:)?[a-z]{0,3}(:id|:claim|:)?|\\PC{0,8}",
        ) {
            proptest::prop_assume!(first != second);
            for keys in [[first.clone(), second.clone()], [second, first]] {
                let (list, answers) = write_each_twice(&keys);
                let stored = block_on(all(&list)).unwrap().messages;
                for (n, [answer, retry]) in answers.iter().enumerate() {
                    let id = format!("id-{n}");
                    let copies = stored.iter().filter(|m| m.id == id).count();
                    if answer.accepted {
                        proptest::prop_assert_eq!(answer.id.as_deref(), Some(id.as_str()));
                        proptest::prop_assert_eq!(retry.id.as_deref(), Some(id.as_str()));
                        proptest::prop_assert_eq!(copies, 1, "{:?}", keys);
                    } else {
                        proptest::prop_assert!(!retry.accepted);
                        proptest::prop_assert_eq!(copies, 0, "{:?}", keys);
                    }
                }
            }
        }
    }

    #[test]
    fn a_key_and_that_key_with_id_appended_are_two_keys() {
        for keys in [["v2:id", "v2"], ["v2", "v2:id"]] {
            let keys = keys.map(String::from);
            let (list, answers) = write_each_twice(&keys);
            assert_eq!(list.items.lock().unwrap().len(), 2, "{keys:?}");
            for (n, [answer, _]) in answers.iter().enumerate() {
                assert_eq!(answer.id.as_deref(), Some(format!("id-{n}").as_str()));
            }
        }
    }
}
