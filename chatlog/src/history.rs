//! The chat history: one append-only list of JSON messages, read whole or a page at a time.
//!
//! Positions are absolute (0 is the oldest message), so a cursor stays valid while new
//! messages arrive: paging backwards never skips or repeats a message.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::rpc::RpcResult;

use crate::bindings::{
    CanonicalChatMessage, MessagesList, MessagesPage, MessagesPageRequest, WriteMessageResponse,
};
use crate::validate::check_message;

/// The key of the list, shared with the original example's data.
pub const MESSAGES_KEY: &str = "chatlog:messages";
/// Where a recent length of the list is kept, so the newest page needs no length search.
pub const LENGTH_HINT_KEY: &str = "chatlog:messages:length-hint";
/// The most messages one page returns, whatever the caller asks for.
pub const MAX_PAGE_LIMIT: u32 = 1000;
/// The hint is written after every this many appends: it is at most about this far behind.
const HINT_EVERY: u32 = 16;
/// How far past the hint the newest page reads, so a hint a little behind still finds the end
/// in the same read.
const HINT_SLACK: u64 = 4 * HINT_EVERY as u64;

/// A message as the history stores it: JSON with the contract's field names. The format is the
/// history's own, whichever bindings (the module's or the component's) carried the message; a
/// write's `clientId` and a read's `index` are never stored. Written from borrowed text
/// (`Stored<&str>`), read into owned (`Stored<String>`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored<Text> {
    #[serde(default)]
    id: Text,
    #[serde(default)]
    source_user: Text,
    #[serde(default)]
    channel_name: Text,
    #[serde(default)]
    body: Text,
    /// When it was stored; messages from before the chat had a clock have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    /// Whether its author proved the name; absent for guests, and on older messages.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    verified: bool,
}

/// The list the history lives in, with Redis list semantics (`LRANGE` bounds are inclusive;
/// a range past the end is cut short), and a place for the length hint.
#[async_trait]
pub trait MessageList {
    /// Appends, returning the list's new length.
    async fn append(&self, value: String) -> RpcResult<u32>;
    async fn range(&self, start: i32, stop: i32) -> RpcResult<Vec<String>>;
    async fn length_hint(&self) -> RpcResult<Option<u64>>;
    async fn set_length_hint(&self, length: u64) -> RpcResult<()>;
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
    let stored = Stored {
        id: msg.id.as_str(),
        source_user: &msg.source_user,
        channel_name: &msg.channel_name,
        body: &msg.body,
        ts: msg.ts,
        verified: msg.verified,
    };
    let json = serde_json::to_string(&stored)
        .map_err(|e| crate::rpc::RpcError::Ser(format!("chat message: {e}")))?;
    let length = list.append(json).await?;
    // Every value written is a length the list really had, and lists only grow, so with any
    // number of writers racing the hint is a lower bound. A failed hint costs only speed.
    if length % HINT_EVERY == 0 {
        let _ = list.set_length_hint(u64::from(length)).await;
    }
    Ok(WriteMessageResponse {
        accepted: true,
        id: Some(msg.id.clone()),
        // The list held `length` entries once this one was in: it is the last of them.
        index: Some(u64::from(length).saturating_sub(1)),
        ..Default::default()
    })
}

/// Every stored message, oldest first, and the entries that could not be read.
pub async fn all(list: &impl MessageList) -> RpcResult<Decoded> {
    Ok(decode(0, list.range(0, -1).await?))
}

/// The newest `limit` messages before `before` (or the newest overall), oldest first.
pub async fn page(
    list: &impl MessageList,
    req: &MessagesPageRequest,
) -> RpcResult<(MessagesPage, Vec<String>)> {
    let limit = u64::from(req.limit.clamp(1, MAX_PAGE_LIMIT));
    let (start, entries) = match req.before {
        Some(before) => {
            let end = before.min(i32::MAX as u64);
            let start = end.saturating_sub(limit);
            let entries = if end == 0 {
                Vec::new()
            } else {
                // Both fit in i32: `end` was capped above and `start` is below it.
                list.range(start as i32, (end - 1) as i32).await?
            };
            if entries.is_empty() && end > 0 {
                // A cursor past the end: every message is before it, so the page is the newest.
                newest(list, limit).await?
            } else {
                (start, entries)
            }
        }
        None => newest(list, limit).await?,
    };
    let decoded = decode(start, entries);
    let page = MessagesPage {
        messages: decoded.messages,
        next_before: (start > 0).then_some(start),
        reason: None,
    };
    Ok((page, decoded.unreadable))
}

/// The newest `limit` entries and the position of the first: usually two calls, the hint and
/// one read from `limit` before it to `HINT_SLACK` past it. A read that ends short of its stop
/// found the end of the list, so the page is exact however many hosts write. A hint too far
/// behind (or ahead, after the list was cleared) falls back to the length search and is
/// repaired.
async fn newest(list: &impl MessageList, limit: u64) -> RpcResult<(u64, Vec<String>)> {
    let hint = list.length_hint().await?.unwrap_or(0).min(i32::MAX as u64);
    let window_start = hint.saturating_sub(limit);
    let window_stop = (hint + HINT_SLACK).min(i32::MAX as u64);
    let mut entries = list.range(window_start as i32, window_stop as i32).await?;
    let window_len = window_stop - window_start + 1;
    let found_end = (entries.len() as u64) < window_len && (!entries.is_empty() || hint == 0);
    if !found_end {
        return newest_by_search(list, limit).await;
    }
    let length = window_start + entries.len() as u64;
    let start = length.saturating_sub(limit);
    let skip = (start - window_start) as usize;
    Ok((start, entries.split_off(skip)))
}

/// The newest page when the hint was no help: the length by search, then one read; the hint
/// is rewritten so the next page is two calls again.
async fn newest_by_search(list: &impl MessageList, limit: u64) -> RpcResult<(u64, Vec<String>)> {
    let length = length(list).await?;
    let _ = list.set_length_hint(length).await;
    let start = length.saturating_sub(limit);
    let entries = if length == 0 {
        Vec::new()
    } else {
        list.range(start as i32, (length - 1) as i32).await?
    };
    Ok((start, entries))
}

/// Messages decoded from stored entries, and a description of each entry that was not JSON
/// of a chat message (kept out of the answer, reported to the log).
#[derive(Debug, Default)]
pub struct Decoded {
    pub messages: MessagesList,
    pub unreadable: Vec<String>,
}

/// Decodes entries read from position `start` on, each message with its position.
fn decode(start: u64, entries: Vec<String>) -> Decoded {
    let mut decoded = Decoded::default();
    for (index, entry) in (start..).zip(entries) {
        match serde_json::from_str::<Stored<String>>(&entry) {
            Ok(stored) => decoded.messages.push(CanonicalChatMessage {
                id: stored.id,
                source_user: stored.source_user,
                channel_name: stored.channel_name,
                body: stored.body,
                client_id: None,
                index: Some(index),
                ts: stored.ts,
                verified: stored.verified,
                room: None,
            }),
            Err(e) => decoded.unreadable.push(format!("{e}: {entry:.80}")),
        }
    }
    decoded
}

/// The list's length. The keyvalue contract has no length operation, so this finds the first
/// empty position with doubling then bisection: about 2·log2(n) single-item reads.
async fn length(list: &impl MessageList) -> RpcResult<u64> {
    let occupied = |i: u64| async move {
        Ok::<_, crate::rpc::RpcError>(!list.range(i as i32, i as i32).await?.is_empty())
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
            ..Default::default()
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
    fn the_time_a_message_was_stored_is_kept_and_older_messages_have_none() {
        let list = VecList::default();
        let timed = CanonicalChatMessage {
            ts: Some(1_796_000_000_123),
            ..message(1)
        };
        // An entry as the chat wrote it before it had a clock.
        let untimed = r#"{"id":"id-0","channelName":"http","sourceUser":"bob","body":"old"}"#;
        block_on(list.append(untimed.into())).unwrap();
        assert!(block_on(write(&list, &timed)).unwrap().accepted);
        let stored = list.items.lock().unwrap()[1].clone();
        assert!(stored.ends_with(r#","ts":1796000000123}"#), "{stored}");
        let decoded = block_on(all(&list)).unwrap();
        let times: Vec<_> = decoded.messages.iter().map(|m| m.ts).collect();
        assert_eq!(times, [None, Some(1_796_000_000_123)]);
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
    fn each_message_carries_its_position_written_and_read_but_never_stores_it() {
        let list = VecList::default();
        for n in 0..3 {
            let written = block_on(write(&list, &message(n))).unwrap();
            assert_eq!(written.index, Some(n as u64));
        }
        block_on(list.append("not json".into())).unwrap();
        assert_eq!(block_on(write(&list, &message(4))).unwrap().index, Some(4));
        assert!(list
            .items
            .lock()
            .unwrap()
            .iter()
            .all(|e| !e.contains("index")));
        let indexes = |messages: &MessagesList| -> Vec<Option<u64>> {
            messages.iter().map(|m| m.index).collect()
        };
        let decoded = block_on(all(&list)).unwrap();
        assert_eq!(
            indexes(&decoded.messages),
            [Some(0), Some(1), Some(2), Some(4)]
        );
        let request = MessagesPageRequest {
            limit: 2,
            before: Some(3),
            room: None,
        };
        let (older, _) = block_on(page(&list, &request)).unwrap();
        assert_eq!(indexes(&older.messages), [Some(1), Some(2)]);
        let newest = MessagesPageRequest {
            limit: 2,
            before: None,
            room: None,
        };
        let (newest, _) = block_on(page(&list, &newest)).unwrap();
        assert_eq!(indexes(&newest.messages), [Some(4)]);
    }

    #[test]
    fn first_page_is_the_newest_messages_oldest_first() {
        let list = list_with(10);
        let (page, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: 3,
                before: None,
                room: None,
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
            let (p, _) = block_on(page(
                &list,
                &MessagesPageRequest {
                    limit: 4,
                    before,
                    room: None,
                },
            ))
            .unwrap();
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
                room: None,
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
                room: None,
            },
        ))
        .unwrap();
        assert_eq!(bodies(&p.messages), ["message 2"]);
        let (p, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: u32::MAX,
                before: None,
                room: None,
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
                room: None,
            },
        ))
        .unwrap();
        assert_eq!(bodies(&p.messages), ["message 0", "message 1", "message 2"]);
        assert_eq!(p.next_before, None);
        // Far past the end, with older pages: the newest page and its link, not `[]`.
        let list = list_with(30);
        let (p, _) = block_on(page(
            &list,
            &MessagesPageRequest {
                limit: 10,
                before: Some(1_000_000),
                room: None,
            },
        ))
        .unwrap();
        assert_eq!(bodies(&p.messages)[0], "message 20");
        assert_eq!(p.next_before, Some(20));
    }

    fn newest_page(list: &VecList, limit: u32) -> MessagesPage {
        block_on(page(
            list,
            &MessagesPageRequest {
                limit,
                before: None,
                room: None,
            },
        ))
        .unwrap()
        .0
    }

    #[test]
    fn the_newest_page_takes_two_calls_whatever_the_history_length() {
        for count in [0usize, 1, 15, 16, 17, 100, 1000, 5000] {
            let list = list_with(count);
            list.reset_calls();
            let page = newest_page(&list, 100);
            let expected: Vec<String> = (count.saturating_sub(100)..count)
                .map(|n| format!("message {n}"))
                .collect();
            assert_eq!(bodies(&page.messages), expected, "{count} messages");
            let start = count.saturating_sub(100) as u64;
            assert_eq!(page.next_before, (start > 0).then_some(start));
            assert!(
                list.calls() <= 2,
                "{count} messages took {} calls",
                list.calls()
            );
        }
    }

    #[test]
    fn a_hint_far_behind_or_ahead_still_gives_the_exact_page_and_is_repaired() {
        let list = list_with(1000);
        for wrong in [Some(3), Some(5000), None] {
            *list.hint.lock().unwrap() = wrong;
            let page = newest_page(&list, 10);
            assert_eq!(page.messages.len(), 10, "hint {wrong:?}");
            assert_eq!(page.messages[9].body, "message 999", "hint {wrong:?}");
            assert_eq!(page.next_before, Some(990));
            list.reset_calls();
            assert_eq!(newest_page(&list, 10).next_before, Some(990));
            assert!(list.calls() <= 2, "not repaired after hint {wrong:?}");
        }
    }

    #[test]
    fn length_is_found_in_logarithmic_reads() {
        for count in [1usize, 2, 3, 7, 8, 9, 1000] {
            let list = list_with(count);
            list.reset_calls();
            assert_eq!(block_on(length(&list)).unwrap(), count as u64);
            let reads = list.calls();
            let bound = 2 * (usize::BITS - count.leading_zeros()) + 2;
            assert!(
                reads <= bound,
                "{count} items took {reads} reads (bound {bound})"
            );
        }
    }
}
