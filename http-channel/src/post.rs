//! `POST /messages`: `{"user_name","body"}` in, `201 {"id"}` out, or a 4xx with the reason.

use crate::http::HttpResponse;
use crate::rpc::{Context, RpcResult};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bindings::chatlog::{CanonicalChatMessage, Chatlog};
use crate::reply::{self, Report};
use crate::CHANNEL_NAME;

/// What a client is told when the message could not be stored for reasons of the chat's own.
pub const UNAVAILABLE: &str = "the chat log is unavailable; nothing was stored, try again";
/// What a client is told when the chat log did not answer in time: the write may have gone on.
pub const TIMED_OUT: &str = "the chat log did not answer in time; the message may have been \
     stored: retry with the same Idempotency-Key";

/// Largest request body read, in bytes; the field limits themselves are the chat log's.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
struct NewMessage {
    user_name: String,
    body: String,
}

#[derive(Debug, Serialize)]
struct Created {
    id: String,
}

/// Where message ids come from (`wasmcloud:builtin:numbergen` in the actor).
#[async_trait]
pub trait Ids {
    async fn new_id(&self) -> RpcResult<String>;
}

/// Only a JSON object will do (serde would also take an array of the fields in order). An
/// object is read straight into the fields; anything else is read as a `Value`, for the error.
fn parse_new_message(text: &str) -> serde_json::Result<NewMessage> {
    if text.bytes().find(|b| !b.is_ascii_whitespace()) == Some(b'{') {
        return serde_json::from_str(text);
    }
    match serde_json::from_str(text)? {
        object @ serde_json::Value::Object(_) => serde_json::from_value(object),
        _ => Err(serde::de::Error::custom("not an object")),
    }
}

/// Stores a message. With an `Idempotency-Key`, a retry stores nothing new and answers the
/// first id (409 while the first is still being stored).
pub async fn post_message(
    body: &[u8],
    idempotency_key: Option<&str>,
    ids: &(impl Ids + Sync),
    api: &(impl Chatlog + Sync),
    report: &(impl Report + Sync),
) -> HttpResponse {
    if body.len() > MAX_REQUEST_BYTES {
        return reply::error(
            413,
            format!("request body is larger than {MAX_REQUEST_BYTES} bytes"),
        );
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return reply::error(400, "request body is not UTF-8");
    };
    let new = match parse_new_message(text) {
        Ok(new) => new,
        Err(e) => {
            return reply::error(
                400,
                format!("expected JSON {{\"user_name\",\"body\"}}: {e}"),
            )
        }
    };
    let id = match ids.new_id().await {
        Ok(id) => id,
        Err(e) => {
            let detail = format!("could not assign a message id: {e}");
            return reply::failure(report, 503, UNAVAILABLE, detail).await;
        }
    };
    let msg = CanonicalChatMessage {
        id: id.clone(),
        channel_name: CHANNEL_NAME.to_string(),
        source_user: new.user_name,
        body: new.body,
        client_id: idempotency_key.map(String::from),
        index: None,
    };
    match api.write_message(&Context::default(), &msg).await {
        Ok(response) if response.accepted => reply::json(
            201,
            &Created {
                id: response.id.unwrap_or(id),
            },
        ),
        Ok(response) if response.in_progress => reply::error(
            409,
            response
                .reason
                .unwrap_or_else(|| "a request with this Idempotency-Key is in progress".into()),
        ),
        Ok(response) => reply::error(
            400,
            response.reason.unwrap_or_else(|| "message refused".into()),
        ),
        Err(e) if reply::timed_out(&e) => {
            let detail = format!("message {id} was not stored in time: {e}");
            reply::failure(report, 504, TIMED_OUT, detail).await
        }
        Err(e) => {
            let detail = format!("could not store message {id}: {e}");
            reply::failure(report, 503, UNAVAILABLE, detail).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::chatlog::{
        MessagesList, MessagesPage, MessagesPageRequest, WriteMessageResponse,
    };
    use futures::executor::block_on;
    use std::sync::Mutex;
    use wasmbus_rpc::error::RpcError;

    struct FixedIds;

    /// Keeps the failures reported, for the tests to read.
    #[derive(Default)]
    struct Reports(Mutex<Vec<String>>);

    #[async_trait]
    impl Report for Reports {
        async fn failure(&self, detail: String) {
            self.0.lock().unwrap().push(detail);
        }
    }

    #[async_trait]
    impl Ids for FixedIds {
        async fn new_id(&self) -> RpcResult<String> {
            Ok("5f0e1d2c-0000-4000-8000-0000000000aa".into())
        }
    }

    /// Refuses empty bodies like the real chat log; `down` makes every call fail.
    #[derive(Default)]
    struct Api {
        written: Mutex<Vec<CanonicalChatMessage>>,
        down: bool,
        /// Fails as a store that did not answer in time does, seen from here.
        stuck: bool,
    }

    #[async_trait]
    impl Chatlog for Api {
        async fn write_message(
            &self,
            _: &Context,
            msg: &CanonicalChatMessage,
        ) -> RpcResult<WriteMessageResponse> {
            if self.down {
                return Err(RpcError::HostError("mcchat/api is not running".into()));
            }
            if self.stuck {
                return Err(RpcError::HostError(
                    "actor: mcchat/chatlog WriteMessage: Host send error timeout: \
                     wasmcloud:keyvalue KeyValue.ListAdd: no answer within 1s"
                        .into(),
                ));
            }
            if msg.body.trim().is_empty() {
                return Ok(WriteMessageResponse {
                    accepted: false,
                    reason: Some("body must not be empty".into()),
                    ..Default::default()
                });
            }
            match msg.client_id.as_deref() {
                Some("seen") => {
                    return Ok(WriteMessageResponse {
                        accepted: true,
                        id: Some("first-id".into()),
                        ..Default::default()
                    })
                }
                Some("busy") => {
                    return Ok(WriteMessageResponse {
                        accepted: false,
                        reason: Some("still being stored".into()),
                        in_progress: true,
                        ..Default::default()
                    })
                }
                _ => {}
            }
            self.written.lock().unwrap().push(msg.clone());
            Ok(WriteMessageResponse {
                accepted: true,
                id: Some(msg.id.clone()),
                ..Default::default()
            })
        }
        async fn get_messages(&self, _: &Context) -> RpcResult<MessagesList> {
            unreachable!()
        }
        async fn get_messages_page(
            &self,
            _: &Context,
            _: &MessagesPageRequest,
        ) -> RpcResult<MessagesPage> {
            unreachable!()
        }
    }

    fn json_body(response: &HttpResponse) -> serde_json::Value {
        serde_json::from_slice(&response.body).unwrap()
    }

    #[test]
    fn stores_the_message_and_answers_201_with_its_id() {
        let api = Api::default();
        let response = block_on(post_message(
            br#"{"user_name":"frank","body":"hi over http"}"#,
            None,
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(response.status_code, 201);
        assert_eq!(response.header["Content-Type"], ["application/json"]);
        assert_eq!(
            json_body(&response),
            serde_json::json!({"id": "5f0e1d2c-0000-4000-8000-0000000000aa"})
        );
        let written = api.written.lock().unwrap();
        assert_eq!(written[0].channel_name, "http");
        assert_eq!(written[0].source_user, "frank");
        assert_eq!(written[0].body, "hi over http");
    }

    #[test]
    fn client_mistakes_are_400_with_a_reason() {
        let cases: [(&[u8], &str); 7] = [
            (b"{not json", "expected JSON"),
            (br#"{"user_name":"frank"}"#, "missing field `body`"),
            (br#"["frank","hi"]"#, "expected JSON"),
            (br#" ["frank","hi"]"#, "not an object"),
            (
                br#"{"user_name":"frank","body":"a","body":"b"}"#,
                "duplicate field `body`",
            ),
            (
                b"{\"user_name\":\"fr\xffank\",\"body\":\"hi\"}",
                "not UTF-8",
            ),
            (
                br#"{"user_name":"frank","body":""}"#,
                "body must not be empty",
            ),
        ];
        for (body, reason) in cases {
            let response = block_on(post_message(
                body,
                None,
                &FixedIds,
                &Api::default(),
                &Reports::default(),
            ));
            assert_eq!(response.status_code, 400, "{body:?}");
            let got = json_body(&response)["reason"].as_str().unwrap().to_string();
            assert!(got.contains(reason), "{body:?}: {got}");
        }
    }

    #[test]
    fn an_oversized_request_is_413() {
        let big = format!(
            r#"{{"user_name":"frank","body":"{}"}}"#,
            "x".repeat(MAX_REQUEST_BYTES)
        );
        let response = block_on(post_message(
            big.as_bytes(),
            None,
            &FixedIds,
            &Api::default(),
            &Reports::default(),
        ));
        assert_eq!(response.status_code, 413);
    }

    #[test]
    fn a_store_that_is_down_or_stuck_is_503_or_504_with_a_short_reason_and_the_details_reported() {
        let down = Api {
            down: true,
            ..Default::default()
        };
        let stuck = Api {
            stuck: true,
            ..Default::default()
        };
        for (api, status, reason, detail) in [
            (down, 503, UNAVAILABLE, "mcchat/api is not running"),
            (stuck, 504, TIMED_OUT, "no answer within 1s"),
        ] {
            let reports = Reports::default();
            let response = block_on(post_message(
                br#"{"user_name":"frank","body":"hi"}"#,
                None,
                &FixedIds,
                &api,
                &reports,
            ));
            assert_eq!(response.status_code, status);
            assert_eq!(json_body(&response)["reason"], reason);
            // The details go to the operator, not the client.
            let reported = reports.0.lock().unwrap();
            assert!(reported[0].contains(detail), "{reported:?}");
        }
    }

    #[test]
    fn an_idempotency_key_reaches_the_api_and_its_answers_map_to_201_and_409() {
        let api = Api::default();
        let body = br#"{"user_name":"frank","body":"once"}"#;
        let response = block_on(post_message(
            body,
            Some("new"),
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(response.status_code, 201);
        assert_eq!(
            api.written.lock().unwrap()[0].client_id.as_deref(),
            Some("new")
        );
        let response = block_on(post_message(
            body,
            Some("seen"),
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(response.status_code, 201);
        assert_eq!(json_body(&response), serde_json::json!({"id": "first-id"}));
        let response = block_on(post_message(
            body,
            Some("busy"),
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(response.status_code, 409);
        assert_eq!(json_body(&response)["reason"], "still being stored");
    }
}
