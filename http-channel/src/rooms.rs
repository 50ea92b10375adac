//! `GET /rooms[?limit=N&after=ROOM]`: the rooms, `general` first and the others by name, each
//! with its message count and the time of its newest message, and a
//! `Link: </rooms?limit=N&after=ROOM>; rel="next"` header while more rooms exist.

use serde::Serialize;

use crate::bindings::chatlog::{Chatlog, RoomSummary, RoomsPageRequest};
use crate::http::HttpResponse;
use crate::query;
use crate::reply::{self, Report};
use crate::rpc::Context;

/// The path of the list of rooms.
pub const ROOMS_PATH: &str = "/rooms";
/// Page size when the request names none, and the largest it may ask for.
const DEFAULT_LIMIT: u32 = 50;
const MAX_LIMIT: u32 = 100;

/// A room as `GET /rooms` lists it: `{"room","messageCount","lastTs"?}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listed<'a> {
    room: &'a str,
    message_count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_ts: Option<u64>,
}

impl<'a> From<&'a RoomSummary> for Listed<'a> {
    fn from(summary: &'a RoomSummary) -> Self {
        Listed {
            room: &summary.name,
            message_count: summary.message_count,
            last_ts: summary.last_ts,
        }
    }
}

/// The page a query asks for; bad values are the client's error. Unknown parameters are ignored.
fn parse_query(query_string: &str) -> Result<RoomsPageRequest, String> {
    let mut req = RoomsPageRequest {
        limit: DEFAULT_LIMIT,
        after: None,
    };
    for (key, value) in query::params(query_string) {
        match key.as_ref() {
            "limit" => req.limit = query::limit(&value, MAX_LIMIT)?,
            "after" => req.after = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok(req)
}

pub async fn list_rooms(
    query_string: &str,
    api: &(impl Chatlog + Sync),
    report: &(impl Report + Sync),
) -> HttpResponse {
    let req = match parse_query(query_string) {
        Ok(req) => req,
        Err(reason) => return reply::error(400, reason),
    };
    match api.list_rooms(&Context::default(), &req).await {
        Ok(page) => {
            let listed: Vec<Listed> = page.rooms.iter().map(Listed::from).collect();
            let response = reply::json(200, &listed);
            match page.next_after {
                // Room names are URL-safe as they are.
                Some(after) => reply::with_header(
                    response,
                    "Link",
                    format!(
                        "<{ROOMS_PATH}?limit={}&after={after}>; rel=\"next\"",
                        req.limit
                    ),
                ),
                None => response,
            }
        }
        Err(e) => {
            let detail = format!("could not list the rooms: {e}");
            let status = if reply::timed_out(&e) { 504 } else { 503 };
            reply::failure(
                report,
                status,
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

    #[test]
    fn parses_limit_and_after_and_refuses_bad_limits() {
        let req = parse_query("limit=2&after=dev").unwrap();
        assert_eq!((req.limit, req.after.as_deref()), (2, Some("dev")));
        assert_eq!(parse_query("").unwrap().limit, DEFAULT_LIMIT);
        for bad in ["limit=0", "limit=101", "limit=x"] {
            assert!(
                parse_query(bad).unwrap_err().starts_with("limit must be"),
                "{bad}"
            );
        }
    }
}
