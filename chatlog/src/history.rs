//! The chat history: one append-only list of JSON messages, read whole or a page at a time.
//!
//! Positions are absolute (0 is the oldest message), so a cursor stays valid while new
//! messages arrive: paging backwards never skips or repeats a message.

use async_trait::async_trait;
use wasmbus_rpc::error::RpcResult;

use crate::bindings::{
    CanonicalChatMessage, MessagesList, MessagesPage, MessagesPageRequest, WriteMessageResponse,
};
use crate::validate::check_message;

/// The key of the list, shared with the original example's data.
pub const MESSAGES_KEY: &str = "chatlog:messages";
/// The most messages one page returns, whatever the caller asks for.
pub const MAX_PAGE_LIMIT: u32 = 1000;

/// The list the history lives in, with Redis list semantics (`LRANGE` bounds are inclusive;
/// a range past the end is cut short).
#[async_trait]
pub trait MessageList {
    async fn append(&self, value: String) -> RpcResult<u32>;
    async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>>;
}

/// Validates and appends a message; a refusal travels in the response, not as an error.
pub async fn write(
    list: &impl MessageList,
    msg: &CanonicalChatMessage,
) -> RpcResult<WriteMessageResponse> {
    if let Err(reason) = check_message(msg) {
        return Ok(WriteMessageResponse {
            accepted: false,
            reason: Some(reason),
            ..Default::default()
        });
    }
    let json = serde_json::to_string(msg)
        .map_err(|e| wasmbus_rpc::error::RpcError::Ser(format!("chat message: {e}")))?;
    list.append(json).await?;
    Ok(WriteMessageResponse {
        accepted: true,
        id: Some(msg.id.clone()),
        ..Default::default()
    })
}

/// Every stored message, oldest first, and the entries that could not be read.
pub async fn all(list: &impl MessageList) -> RpcResult<Decoded> {
    Ok(decode(list.range(0, -1).await?))
}

/// The newest `limit` messages before `before` (or the newest overall), oldest first.
pub async fn page(
    list: &impl MessageList,
    req: &MessagesPageRequest,
) -> RpcResult<(MessagesPage, Vec<String>)> {
    let limit = u64::from(req.limit.clamp(1, MAX_PAGE_LIMIT));
    let end = match req.before {
        Some(before) => before.min(i32::MAX as u64),
        None => length(list).await?,
    };
    let start = end.saturating_sub(limit);
    let decoded = if end == 0 {
        Decoded::default()
    } else {
        // Both fit in i32: `end` was capped above and `start` is below it.
        decode(list.range(start as i32, (end - 1) as i32).await?)
    };
    let page = MessagesPage {
        messages: decoded.messages,
        next_before: (start > 0).then_some(start),
    };
    Ok((page, decoded.unreadable))
}

/// Messages decoded from stored entries, and a description of each entry that was not JSON
/// of a chat message (kept out of the answer, reported to the log).
#[derive(Debug, Default)]
pub struct Decoded {
    pub messages: MessagesList,
    pub unreadable: Vec<String>,
}

fn decode(entries: Vec<String>) -> Decoded {
    let mut decoded = Decoded::default();
    for entry in entries {
        match serde_json::from_str::<CanonicalChatMessage>(&entry) {
            Ok(msg) => decoded.messages.push(msg),
            Err(e) => decoded.unreadable.push(format!("{e}: {entry:.80}")),
        }
    }
    decoded
}

/// The list's length. The keyvalue contract has no length operation, so this finds the first
/// empty position with doubling then bisection: about 2·log2(n) single-item reads.
async fn length(list: &impl MessageList) -> RpcResult<u64> {
    let occupied = |i: u64| async move {
        Ok::<_, wasmbus_rpc::error::RpcError>(!list.range(i as i32, i as i32).await?.is_empty())
    };
    if !occupied(0).await? {
        return Ok(0);
    }
    let (mut filled, mut empty) = (0u64, 1u64);
    while empty <= i32::MAX as u64 && occupied(empty).await? {
        filled = empty;
        empty *= 2;
    }
    let mut empty = empty.min(i32::MAX as u64 + 1);
    while empty - filled > 1 {
        let mid = filled + (empty - filled) / 2;
        if occupied(mid).await? {
            filled = mid;
        } else {
            empty = mid;
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::VecList;
    use futures::executor::block_on;

    fn message(n: usize) -> CanonicalChatMessage {
        CanonicalChatMessage {
            id: format!("id-{n}"),
            channel_name: "nats".into(),
            source_user: "bob".into(),
            body: format!("message {n}"),
            client_id: None,
        }
    }

    fn list_with(count: usize) -> VecList {
        let list = VecList::default();
        for n in 0..count {
            assert!(block_on(write(&list, &message(n))).unwrap().accepted);
        }
        list
    }

    fn bodies(messages: &[CanonicalChatMessage]) -> Vec<String> {
        messages.iter().map(|m| m.body.clone()).collect()
    }

    #[test]
    fn stores_messages_as_the_original_json_under_the_original_key() {
        let list = list_with(1);
        let stored = list.items.lock().unwrap()[0].clone();
        let json: serde_json::Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": "id-0", "channelName": "nats", "sourceUser": "bob", "body": "message 0"})
        );
        assert_eq!(MESSAGES_KEY, "chatlog:messages");
    }

    #[test]
    fn refused_messages_are_not_stored() {
        let list = VecList::default();
        let mut blank = message(0);
        blank.body = " ".into();
        let response = block_on(write(&list, &blank)).unwrap();
        assert!(!response.accepted);
        assert_eq!(response.reason.as_deref(), Some("body must not be empty"));
        assert!(list.items.lock().unwrap().is_empty());
    }

    #[test]
    fn reads_everything_in_order() {
        let list = list_with(5);
        let decoded = block_on(all(&list)).unwrap();
        assert_eq!(
            bodies(&decoded.messages),
            (0..5).map(|n| format!("message {n}")).collect::<Vec<_>>()
        );
    }

    #[test]
    fn unreadable_entries_are_reported_not_returned() {
        let list = list_with(2);
        block_on(list.append("not json".into())).unwrap();
        let decoded = block_on(all(&list)).unwrap();
        assert_eq!(decoded.messages.len(), 2);
        assert_eq!(decoded.unreadable.len(), 1);
        assert!(decoded.unreadable[0].contains("not json"));
    }

    #[test]
    fn first_page_is_the_newest_messages_oldest_first() {
        let list = list_with(10);
        let (page, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: 3,
                before: None,
            },
        ))
        .unwrap();
        assert_eq!(
            bodies(&page.messages),
            ["message 7", "message 8", "message 9"]
        );
        assert_eq!(page.next_before, Some(7));
    }

    #[test]
    fn following_cursors_visits_every_message_once_even_while_new_ones_arrive() {
        let list = list_with(10);
        let mut seen = Vec::new();
        let mut before = None;
        loop {
            let (p, _) = block_on(page(&list, &MessagesPageRequest { limit: 4, before })).unwrap();
            // A message arriving mid-walk must not shift older pages.
            block_on(write(&list, &message(100 + seen.len()))).unwrap();
            seen.splice(0..0, bodies(&p.messages));
            match p.next_before {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        assert_eq!(
            seen,
            (0..10).map(|n| format!("message {n}")).collect::<Vec<_>>()
        );
    }

    #[test]
    fn empty_history_has_an_empty_last_page() {
        let list = VecList::default();
        let (p, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: 50,
                before: None,
            },
        ))
        .unwrap();
        assert!(p.messages.is_empty());
        assert_eq!(p.next_before, None);
    }

    #[test]
    fn page_limits_are_clamped() {
        let list = list_with(3);
        let (p, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: 0,
                before: None,
            },
        ))
        .unwrap();
        assert_eq!(bodies(&p.messages), ["message 2"]);
        let (p, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: u32::MAX,
                before: None,
            },
        ))
        .unwrap();
        assert_eq!(p.messages.len(), 3);
        assert_eq!(p.next_before, None);
    }

    #[test]
    fn a_cursor_past_the_end_reads_what_exists() {
        let list = list_with(3);
        let (p, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: 10,
                before: Some(5),
            },
        ))
        .unwrap();
        assert_eq!(bodies(&p.messages), ["message 0", "message 1", "message 2"]);
        assert_eq!(p.next_before, None);
    }

    #[test]
    fn length_is_found_in_logarithmic_reads() {
        for count in [1usize, 2, 3, 7, 8, 9, 1000] {
            let list = list_with(count);
            *list.reads.lock().unwrap() = 0;
            assert_eq!(block_on(length(&list)).unwrap(), count as u64);
            let reads = *list.reads.lock().unwrap();
            let bound = 2 * (usize::BITS - count.leading_zeros()) + 2;
            assert!(
                reads <= bound,
                "{count} items took {reads} reads (bound {bound})"
            );
        }
    }
}
