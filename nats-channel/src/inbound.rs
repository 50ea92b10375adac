//! A chat message arriving from the broker: parsed, stored through the API, acknowledged.

use crate::rpc::{Context, RpcResult};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::bindings::chatlog::{CanonicalChatMessage, Chatlog};
use crate::CHANNEL_NAME;

/// What clients publish on `chat.in`.
#[derive(Debug, Deserialize)]
struct ChatIn {
    user_name: String,
    body: String,
    /// An idempotency key: a retry with the same one stores nothing new.
    #[serde(default)]
    client_id: Option<String>,
}

/// The answer on the reply subject.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub accepted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Ack {
    fn refused(reason: impl Into<String>) -> Self {
        Ack {
            accepted: false,
            reason: Some(reason.into()),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an Ack always serializes")
    }
}

/// Largest message taken on `chat.in`, as on the other channels (NATS itself takes 1 MB).
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// What a client is told when the message could not be stored for reasons of the chat's own.
pub const UNAVAILABLE: &str = "the chat log is unavailable; nothing was stored, try again";

/// Where the details of a failure go: the client gets a short reason, the operator the whole
/// error (in the actor, the host's log through `wasmcloud:builtin:logging`).
#[async_trait]
pub trait Report {
    async fn failure(&self, detail: String);
}

/// Where message ids come from (`wasmcloud:builtin:numbergen` in the actor).
#[async_trait]
pub trait Ids {
    async fn new_id(&self) -> RpcResult<String>;
}

/// Only a JSON object will do (serde would also take an array of the fields in order). An
/// object is read straight into the fields; anything else is read as a `Value`, for the error.
fn parse_chat_in(body: &[u8]) -> serde_json::Result<ChatIn> {
    if body.iter().copied().find(|b| !b.is_ascii_whitespace()) == Some(b'{') {
        return serde_json::from_slice(body);
    }
    match serde_json::from_slice(body)? {
        object @ serde_json::Value::Object(_) => serde_json::from_value(object),
        _ => Err(serde::de::Error::custom("not an object")),
    }
}

/// Handles one broker message. Every outcome is an `Ack`: bad input and failures downstream
/// are refusals with a reason, so a client is never left without an answer.
pub async fn accept(
    body: &[u8],
    ids: &(impl Ids + Sync),
    api: &(impl Chatlog + Sync),
    report: &(impl Report + Sync),
) -> Ack {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Ack::refused(format!(
            "the payload is {} bytes, over the limit of {MAX_PAYLOAD_BYTES}",
            body.len()
        ));
    }
    let incoming = match parse_chat_in(body) {
        Ok(incoming) => incoming,
        Err(e) => return Ack::refused(format!("expected JSON {{\"user_name\",\"body\"}}: {e}")),
    };
    let id = match ids.new_id().await {
        Ok(id) => id,
        Err(e) => {
            report
                .failure(format!("could not assign a message id: {e}"))
                .await;
            return Ack::refused(UNAVAILABLE);
        }
    };
    let msg = CanonicalChatMessage {
        id: id.clone(),
        channel_name: CHANNEL_NAME.to_string(),
        source_user: incoming.user_name,
        body: incoming.body,
        client_id: incoming.client_id,
        index: None,
    };
    match api.write_message(&Context::default(), &msg).await {
        Ok(response) => Ack {
            accepted: response.accepted,
            reason: response.reason,
        },
        Err(e) => {
            report
                .failure(format!("could not store message {id}: {e}"))
                .await;
            Ack::refused(UNAVAILABLE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keeps the failures reported, for the tests to read.
    #[derive(Default)]
    struct Reports(Mutex<Vec<String>>);

    #[async_trait]
    impl Report for Reports {
        async fn failure(&self, detail: String) {
            self.0.lock().unwrap().push(detail);
        }
    }
    use crate::bindings::chatlog::{
        MessagesList, MessagesPage, MessagesPageRequest, WriteMessageResponse,
    };
    use futures::executor::block_on;
    use std::sync::Mutex;
    use wasmbus_rpc::error::RpcError;

    struct FixedIds;

    #[async_trait]
    impl Ids for FixedIds {
        async fn new_id(&self) -> RpcResult<String> {
            Ok("0b1c7c8e-5a55-4b55-9a55-000000000042".into())
        }
    }

    /// Accepts non-empty bodies, like the real chat log; `down` makes every call fail.
    #[derive(Default)]
    struct Api {
        written: Mutex<Vec<CanonicalChatMessage>>,
        down: bool,
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
            if msg.body.trim().is_empty() {
                return Ok(WriteMessageResponse {
                    accepted: false,
                    reason: Some("body must not be empty".into()),
                    ..Default::default()
                });
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

    fn ack_json(ack: &Ack) -> serde_json::Value {
        serde_json::from_slice(&ack.to_json()).unwrap()
    }

    #[test]
    fn a_payload_over_64_kib_is_refused_unread() {
        let api = Api::default();
        let body = format!(
            r#"{{"user_name":"dave","body":"{}"}}"#,
            "a".repeat(MAX_PAYLOAD_BYTES)
        );
        let ack = block_on(accept(
            body.as_bytes(),
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(
            ack,
            Ack::refused(format!(
                "the payload is {} bytes, over the limit of 65536",
                body.len()
            ))
        );
        assert!(api.written.lock().unwrap().is_empty());
    }

    #[test]
    fn stores_a_well_formed_message_as_from_the_nats_channel() {
        let api = Api::default();
        let ack = block_on(accept(
            br#"{"user_name":"dave","body":"over the broker"}"#,
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert_eq!(ack_json(&ack), serde_json::json!({"accepted": true}));
        assert_eq!(
            *api.written.lock().unwrap(),
            [CanonicalChatMessage {
                id: "0b1c7c8e-5a55-4b55-9a55-000000000042".into(),
                channel_name: "nats".into(),
                source_user: "dave".into(),
                body: "over the broker".into(),
                client_id: None,
                index: None,
            }]
        );
    }

    #[test]
    fn malformed_json_is_refused_with_a_reason() {
        let api = Api::default();
        for body in [
            &b"not json"[..],
            br#"{"user_name":"dave"}"#,
            br#"{"user_name":1,"body":"x"}"#,
            b"\xff\xfe",
        ] {
            let ack = block_on(accept(body, &FixedIds, &api, &Reports::default()));
            assert!(!ack.accepted, "{body:?} was accepted");
            assert!(
                ack.reason.as_deref().unwrap().starts_with("expected JSON"),
                "{ack:?}"
            );
        }
        assert!(api.written.lock().unwrap().is_empty());
    }

    #[test]
    fn a_refusal_from_the_chat_log_is_passed_on() {
        let ack = block_on(accept(
            br#"{"user_name":"dave","body":"  "}"#,
            &FixedIds,
            &Api::default(),
            &Reports::default(),
        ));
        assert_eq!(
            ack_json(&ack),
            serde_json::json!({"accepted": false, "reason": "body must not be empty"})
        );
    }

    #[test]
    fn a_failed_store_is_a_refusal_not_silence() {
        let api = Api {
            down: true,
            ..Default::default()
        };
        let ack = block_on(accept(
            br#"{"user_name":"dave","body":"hi"}"#,
            &FixedIds,
            &api,
            &Reports::default(),
        ));
        assert!(!ack.accepted);
        assert_eq!(ack.reason.as_deref(), Some(UNAVAILABLE));
    }
}
