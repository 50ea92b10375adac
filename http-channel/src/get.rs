//! `GET /messages[?limit=N&before=CURSOR]` (the default room) and
//! `GET /rooms/<room>/messages[?…]`: one page of a room's history, oldest first, and a
//! `Link: <PATH?limit=N&before=CURSOR>; rel="next"` header while older messages exist.

use serde::Serialize;

use crate::bindings::chatlog::{CanonicalChatMessage, Chatlog, MessagesPage, MessagesPageRequest};
use crate::http::HttpResponse;
use crate::query;
use crate::reply::{self, Report};
use crate::routes::MESSAGES_PATH;
use crate::rpc::Context;

/// Page size when the request names none.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page a request may ask for.
pub const MAX_LIMIT: u32 = 500;

/// A validated page request.
#[derive(Debug, PartialEq, Eq)]
pub struct PageQuery {
    pub limit: u32,
    pub before: Option<u64>,
}

/// Parses the query string; unknown parameters are ignored, bad values are the client's error.
pub fn parse_query(query_string: &str) -> Result<PageQuery, String> {
    let mut query = PageQuery {
        limit: DEFAULT_LIMIT,
        before: None,
    };
    for (key, value) in query::params(query_string) {
        match key.as_ref() {
            "limit" => query.limit = query::limit(&value, MAX_LIMIT)?,
            "before" => {
                let before = value.parse().map_err(|_| {
                    format!("before must be a cursor from a Link header, not {value:?}")
                })?;
                query.before = Some(before);
            }
            _ => {}
        }
    }
    Ok(query)
}

/// The room a message without one is in.
const DEFAULT_ROOM: &str = "general";

/// The `Link` header value that fetches the page before this one, of the room that was asked
/// for by its path (`None`: `/messages`).
pub fn next_link(room: Option<&str>, limit: u32, next_before: u64) -> String {
    let path = match room {
        Some(room) => format!("/rooms/{room}{MESSAGES_PATH}"),
        None => MESSAGES_PATH.to_string(),
    };
    format!("<{path}?limit={limit}&before={next_before}>; rel=\"next\"")
}

/// A message as `GET /messages` lists it:
/// `{"body","channelName","id","index","room","sourceUser","ts","verified"?}`
/// (and `clientId`, never set on a stored message), this channel's own format whichever bindings
/// (the module's or the component's) carried the page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryEntry<'a> {
    body: &'a str,
    channel_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    room: &'a str,
    source_user: &'a str,
    /// When it was stored (UTC milliseconds); absent on messages from before the chat had a clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    ts: Option<u64>,
    /// Present, and true, when its author proved the name with a token.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    verified: bool,
}

impl<'a> From<&'a CanonicalChatMessage> for HistoryEntry<'a> {
    fn from(msg: &'a CanonicalChatMessage) -> Self {
        HistoryEntry {
            body: &msg.body,
            channel_name: &msg.channel_name,
            client_id: msg.client_id.as_deref(),
            id: &msg.id,
            index: msg.index,
            room: msg.room.as_deref().unwrap_or(DEFAULT_ROOM),
            source_user: &msg.source_user,
            ts: msg.ts,
            verified: msg.verified,
        }
    }
}

pub async fn get_messages(
    room: Option<&str>,
    query_string: &str,
    api: &(impl Chatlog + Sync),
    report: &(impl Report + Sync),
) -> HttpResponse {
    let query = match parse_query(query_string) {
        Ok(query) => query,
        Err(reason) => return reply::error(400, reason),
    };
    let req = MessagesPageRequest {
        limit: query.limit,
        before: query.before,
        room: room.map(String::from),
    };
    match api.get_messages_page(&Context::default(), &req).await {
        Ok(MessagesPage {
            reason: Some(reason),
            ..
        }) => reply::error(400, reason),
        Ok(page) => {
            let entries: Vec<HistoryEntry> = page.messages.iter().map(HistoryEntry::from).collect();
            let response = reply::json(200, &entries);
            match page.next_before {
                Some(next) => {
                    reply::with_header(response, "Link", next_link(room, query.limit, next))
                }
                None => response,
            }
        }
        Err(e) if reply::timed_out(&e) => {
            let detail = format!("the history was not read in time: {e}");
            reply::failure(
                report,
                504,
                "the chat log did not answer in time; try again",
                detail,
            )
            .await
        }
        Err(e) => {
            let detail = format!("could not read the history: {e}");
            reply::failure(
                report,
                503,
                "the chat log is unavailable; try again",
                detail,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Failures are not expected here: any report fails the test.
    struct Quiet;

    #[async_trait::async_trait]
    impl Report for Quiet {
        async fn failure(&self, detail: String) {
            panic!("unexpected failure: {detail}");
        }
    }
    use crate::bindings::chatlog::{
        CanonicalChatMessage, MessagesList, MessagesPage, RoomsPage, RoomsPageRequest,
        WriteMessageResponse,
    };
    use async_trait::async_trait;
    use futures::executor::block_on;
    use wasmbus_rpc::error::RpcResult;

    /// A history of `count` messages, paged the way the chat log pages.
    struct History {
        count: u64,
    }

    #[async_trait]
    impl Chatlog for History {
        async fn list_rooms(&self, _: &Context, _: &RoomsPageRequest) -> RpcResult<RoomsPage> {
            unreachable!()
        }
        async fn write_message(
            &self,
            _: &Context,
            _: &CanonicalChatMessage,
        ) -> RpcResult<WriteMessageResponse> {
            unreachable!()
        }
        async fn get_messages(&self, _: &Context) -> RpcResult<MessagesList> {
            unreachable!()
        }
        async fn get_messages_page(
            &self,
            _: &Context,
            req: &MessagesPageRequest,
        ) -> RpcResult<MessagesPage> {
            if req.room.as_deref() == Some("Bad") {
                return Ok(MessagesPage {
                    reason: Some("a room name is …".into()),
                    ..Default::default()
                });
            }
            let end = req.before.unwrap_or(self.count).min(self.count);
            let start = end.saturating_sub(u64::from(req.limit));
            let messages = (start..end)
                .map(|n| CanonicalChatMessage {
                    id: format!("id-{n}"),
                    channel_name: "http".into(),
                    source_user: "gina".into(),
                    body: format!("message {n}"),
                    client_id: None,
                    index: Some(n),
                    // The oldest message is from before the chat had a clock.
                    ts: (n > 0).then_some(1_796_000_000_000 + n),
                    // Only the second was written with a token.
                    verified: n == 1,
                    room: req.room.clone(),
                })
                .collect();
            Ok(MessagesPage {
                messages,
                next_before: (start > 0).then_some(start),
                reason: None,
            })
        }
    }

    #[test]
    fn parses_limit_and_before_with_defaults() {
        assert_eq!(
            parse_query(""),
            Ok(PageQuery {
                limit: DEFAULT_LIMIT,
                before: None
            })
        );
        assert_eq!(
            parse_query("limit=10&before=40"),
            Ok(PageQuery {
                limit: 10,
                before: Some(40)
            })
        );
        assert_eq!(
            parse_query("?limit=500&utm=x"),
            Ok(PageQuery {
                limit: 500,
                before: None
            })
        );
    }

    #[test]
    fn bad_query_values_are_refused() {
        for query in [
            "limit=0",
            "limit=501",
            "limit=ten",
            "limit=-1",
            "before=abc",
            "before=-3",
        ] {
            assert!(parse_query(query).is_err(), "{query}");
        }
        let response = block_on(get_messages(None, "limit=0", &History { count: 1 }, &Quiet));
        assert_eq!(response.status_code, 400);
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert!(json["reason"]
            .as_str()
            .unwrap()
            .starts_with("limit must be"));
    }

    #[test]
    fn answers_the_documented_array_format() {
        let response = block_on(get_messages(None, "", &History { count: 2 }, &Quiet));
        assert_eq!(response.status_code, 200);
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"body": "message 0", "channelName": "http", "id": "id-0", "index": 0, "room": "general", "sourceUser": "gina"},
                {"body": "message 1", "channelName": "http", "id": "id-1", "index": 1, "room": "general", "sourceUser": "gina", "ts": 1_796_000_000_001u64, "verified": true}
            ])
        );
        assert!(!response.header.contains_key("Link"));
    }

    #[test]
    fn a_room_is_read_by_its_path_and_a_bad_name_is_the_clients_error() {
        let response = block_on(get_messages(
            Some("dev"),
            "limit=1",
            &History { count: 2 },
            &Quiet,
        ));
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json[0]["room"], "dev");
        assert_eq!(
            response.header["Link"],
            ["</rooms/dev/messages?limit=1&before=1>; rel=\"next\""]
        );
        let response = block_on(get_messages(Some("Bad"), "", &History { count: 2 }, &Quiet));
        assert_eq!(response.status_code, 400);
        let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(json["reason"], "a room name is …");
    }

    #[test]
    fn following_link_headers_reaches_every_message() {
        let history = History { count: 7 };
        let mut query = "limit=3".to_string();
        let mut pages = Vec::new();
        loop {
            let response = block_on(get_messages(None, &query, &history, &Quiet));
            let json: Vec<serde_json::Value> = serde_json::from_slice(&response.body).unwrap();
            pages.push(
                json.iter()
                    .map(|m| m["id"].as_str().unwrap().to_string())
                    .collect::<Vec<_>>(),
            );
            let Some(link) = response.header.get("Link") else {
                break;
            };
            let url = link[0].trim_start_matches('<').split('>').next().unwrap();
            assert!(link[0].ends_with("; rel=\"next\""));
            query = url.split_once('?').unwrap().1.to_string();
        }
        assert_eq!(
            pages,
            [
                vec!["id-4", "id-5", "id-6"],
                vec!["id-1", "id-2", "id-3"],
                vec!["id-0"]
            ]
        );
    }
}
